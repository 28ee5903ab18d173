/* main.c - the command-line tool's front: flags in any position, the command looked up (with a
 * suggestion for a mistyped one), help, the database opened as the command needs, the answer
 * printed, and errors said for people or as JSON. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const flag cli_flags[F_COUNT] = {
	[F_DB] = {"db", "FILE|URI", "the database: a file (default ./loyal.db) or a postgresql:// URI"},
	[F_JSON] = {"json", NULL, "print the answer as one line of JSON (errors too, on stderr)"},
	[F_WAL_LIMIT_MB] = {"wal-limit-mb", "N", "copy the WAL back into the file once it holds N MiB (64)"},
	[F_DURABILITY] = {"durability", "process|power|scratch",
			  "what a commit survives: a crash of the process (default), a power loss, or"
			  " (scratch, for a file thrown away after) a crash of the process, never synced"},
	[F_HELP] = {"help", NULL, "explain the command"},
	[F_VERSION] = {"version", NULL, "print the version"},
	[F_AT] = {"at", "TIME", "when it happened (ISO 8601; default now)"},
	[F_FROM] = {"from", "DATE", "the first day (ISO 8601)"},
	[F_TO] = {"to", "DATE", "the end, not included (ISO 8601)"},
	[F_PERIOD] = {"period", "day|week|month", "the length of a period"},
	[F_LIMIT] = {"limit", "N", "at most N rows"},
	[F_CURRENCY] = {"currency", "CURRENCY", "only this currency"},
	[F_BEFORE] = {"before", "TXN", "only transactions older than TXN (the next page)"},
	[F_AFTER] = {"after", "MEMBER", "start after this member (the next page)"},
	[F_FOLLOW] = {"follow", NULL, "keep polling for more, each second"},
	[F_MAX_REJECTS] = {"max-rejects", "N", "stop after N rejected lines (default: never stop)"},
	[F_MEMBERS] = {"members", "FILE", "the members, one id per line ('-': standard input)"},
	[F_POINTS] = {"points", "AMOUNT", "credit AMOUNT points (of --currency)"},
	[F_COUPON] = {"coupon", "COUPON", "issue a code of COUPON"},
	[F_REASON] = {"reason", "TEXT", "why, as statements show it"},
	[F_CAUSE] = {"cause", "TEXT", "the order or event behind it"},
	[F_ATTRIBUTE] = {"attribute", "KEY=VALUE", "members whose attribute KEY is VALUE"},
	[F_TIER] = {"tier", "TIER", "members in this tier now"},
	[F_SEGMENT] = {"segment", "SEGMENT", "members in this segment (as last refreshed)"},
	[F_STATUS] = {"status", "active|blocked", "members with this status"},
	[F_ACTIVE_WITHIN] = {"active-within", "DAYS", "members active in the last DAYS days"},
	[F_IDLE_FOR] = {"idle-for", "DAYS", "members not active for DAYS days"},
	[F_DAYS] = {"days", "DAYS", "for DAYS days"},
	[F_PART] = {"part", "N/M", "reverse N/M of each award (default: all of it)"},
	[F_QUANTITY] = {"quantity", "N", "how many (default 1)"},
	[F_EXPIRES] = {"expires", "TIME", "an expiry instead of the currency's (ISO 8601)"},
	[F_PENDING_DAYS] = {"pending-days", "DAYS", "keep the points pending for DAYS days"},
	[F_NEIGHBOURS] = {"neighbours", "N", "N members above and below (default 2)"},
	[F_BADGE] = {"badge", "BADGE", "only this badge"},
	[F_LEVEL] = {"level", "LEVEL", "a level of the badge"},
	[F_PROPERTIES] = {"properties", "JSON", "the event's properties (a JSON object)"},
	[F_DRY_RUN] = {"dry-run", NULL, "say what the call would do, and write nothing"},
	[F_POPULATION] = {"population", "N", "how many members to simulate (default 1000)"},
	[F_SEED] = {"seed", "N", "the seed of the simulation's randomness (default 1)"},
	[F_PROFILE] = {"profile", "community|shop", "how the simulated members behave"},
	[F_INTO] = {"into", "FILE", "keep the simulated members in FILE, a new database"},
	[F_HTML] = {"html", "FILE", "also write the charts to FILE, a self-contained HTML page"},
};

static const flag_id global_flags[] = {F_DB, F_JSON, F_WAL_LIMIT_MB, F_DURABILITY, F_HELP,
				       F_VERSION};

/* Every command in help's order, from each file's table (NULL-ended). */
static const command *commands[200];

static void list_commands(void)
{
	const command *const tables[] = {program_commands, ledger_commands, member_commands,
					 reward_commands, operator_commands};
	size_t n = 0;
	for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
		for (const command *cmd = tables[t]; cmd->name && n + 1 < 200; cmd++)
			commands[n++] = cmd;
	commands[n] = NULL;
}

static bool is_global(flag_id id)
{
	return id <= F_VERSION;
}

/* ---- errors ---- */

static void say_error(cli *c, int status, const char *code, const char *message, bool replayed)
{
	if (c->json) {
		json_t *error = json_pack("{s:{s:s,s:s,s:i,s:b}}", "error", "code", code, "message",
					  message, "exit", status, "replayed", replayed);
		print_json_line(stderr, error);
		json_decref(error);
	} else {
		fprintf(stderr, "loyal: %s%s\n", message, replayed ? " (the recorded refusal of an"
						    " earlier call under this key)" : "");
	}
}

int fail(cli *c, int rc)
{
	int status = EXIT_DATA;
	switch (rc) {
	case LOYAL_ENOMEM:
	case LOYAL_EIO:
	case LOYAL_EBUSY:
	case LOYAL_EINTERNAL:
	case LOYAL_EMISUSE:
		status = EXIT_INTERNAL;
		break;
	default:
		break;
	}
	say_error(c, status, loyal_errstr(rc), c->db ? loyal_errmsg(c->db) : "no handle",
		  c->db && loyal_errreplayed(c->db));
	return status;
}

int complain(cli *c, int status, const char *format, ...)
{
	char message[1024];
	va_list args;
	va_start(args, format);
	vsnprintf(message, sizeof message, format, args);
	va_end(args);
	say_error(c, status, status == EXIT_USAGE ? "usage" : status == EXIT_INTERNAL ? "io" : "data",
		  message, false);
	return status;
}

/* ---- help ---- */

static void command_words(const command *cmd, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s", cmd->name, cmd->sub ? " " : "", cmd->sub ? cmd->sub : "");
}

static void usage_line(const command *cmd, FILE *out)
{
	char words[64];
	command_words(cmd, words, sizeof words);
	fprintf(out, "usage: loyal %s%s%s", words, *cmd->arguments ? " " : "", cmd->arguments);
	for (const flag_id *f = cmd->flags; f && *f != F_COUNT; f++)
		fprintf(out, " [--%s%s%s]", cli_flags[*f].name, cli_flags[*f].value ? " " : "",
			cli_flags[*f].value ? cli_flags[*f].value : "");
	fprintf(out, "\n");
}

static void print_flag(flag_id id, FILE *out)
{
	char text[64];
	snprintf(text, sizeof text, "--%s%s%s", cli_flags[id].name, cli_flags[id].value ? " " : "",
		 cli_flags[id].value ? cli_flags[id].value : "");
	fprintf(out, "  %-30s %s\n", text, cli_flags[id].help);
}

static void command_help(const command *cmd, FILE *out)
{
	usage_line(cmd, out);
	fprintf(out, "\n%c%s.\n", cmd->help[0] - ('a' <= cmd->help[0] && cmd->help[0] <= 'z' ? 32 : 0),
		cmd->help + 1);
	if (cmd->details)
		fprintf(out, "%s\n", cmd->details);
	if (cmd->flags && *cmd->flags != F_COUNT) {
		fprintf(out, "\nflags:\n");
		for (const flag_id *f = cmd->flags; *f != F_COUNT; f++)
			print_flag(*f, out);
	}
	fprintf(out, "\nexamples:\n");
	for (const char *line = cmd->examples; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t length = end ? (size_t)(end - line) : strlen(line);
		fprintf(out, "  %.*s\n", (int)length, line);
		line = end ? end + 1 : line + length;
	}
	fprintf(out, "\nglobal flags (anywhere on the line): --db FILE|URI, --json, --wal-limit-mb N,"
		     " --durability process|power\n");
}

static void overview(FILE *out)
{
	fprintf(out, "usage: loyal [--db FILE|URI] [--json] COMMAND [ARGS] [FLAGS]\n\ncommands:\n");
	for (const command *const *each = commands; *each; each++) {
		const command *cmd = *each;
		char words[160], name[64];
		command_words(cmd, name, sizeof name);
		snprintf(words, sizeof words, "%s %s", name, cmd->arguments);
		fprintf(out, "  %-40s %s\n", words, cmd->help);
	}
	fprintf(out, "\nglobal flags, anywhere on the line:\n");
	for (size_t i = 0; i < sizeof global_flags / sizeof *global_flags; i++)
		print_flag(global_flags[i], out);
	fprintf(out, "\n`loyal help COMMAND` explains a command, with examples.\n"
		     "Times are ISO 8601 (2026-12-01, 2026-12-01T18:30, 2026-12-01T18:30:00+08:00):\n"
		     "shown and read in the program's time zone unless they name one; --json prints\n"
		     "them as RFC 3339 in UTC. Errors under --json are one JSON line on stderr:\n"
		     "{\"error\": {\"code\", \"message\", \"exit\", \"replayed\"}}.\n"
		     "Exit codes: 0 ok, 1 refused (bad data, unknown member, not enough points...),\n"
		     "2 usage error, 3 I/O or internal error (a full disk, a lost server, a file\n"
		     "that cannot be read).\n");
}

/* ---- looking up ---- */

/* The edit distance of two short words, a swap of neighbours counting as one (for "did you
 * mean"). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 64;
	size_t d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
			best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* The closest of candidates to word, when close enough to be a typo, else NULL. */
static const char *closest(const char *word, const char *const *candidates, size_t count)
{
	const char *best = NULL;
	size_t best_distance = strlen(word) <= 4 ? 2 : 3; /* more than this is not a typo */
	for (size_t i = 0; i < count; i++) {
		size_t d = distance(word, candidates[i]);
		if (d < best_distance) {
			best = candidates[i];
			best_distance = d;
		}
	}
	return best;
}

static int unknown_command(cli *c, char **words, int count)
{
	const char *names[128], *subs[64];
	size_t n = 0, s = 0;
	bool name_known = false;
	for (const command *const *each = commands; *each && n < 128; each++) {
		const command *cmd = *each;
		if (!n || strcmp(names[n - 1], cmd->name) != 0)
			names[n++] = cmd->name;
		if (strcmp(cmd->name, words[0]) == 0 && cmd->sub && s < 64) {
			name_known = true;
			subs[s++] = cmd->sub;
		}
	}
	char list[512] = "";
	for (size_t i = 0; i < s; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
			 subs[i]);
	if (name_known && count < 2)
		return complain(c, EXIT_USAGE, "'%s' needs one of: %s", words[0], list);
	if (name_known) {
		const char *guess = closest(words[1], subs, s);
		return guess ? complain(c, EXIT_USAGE, "no command '%s %s': did you mean '%s %s'?",
					words[0], words[1], words[0], guess)
			     : complain(c, EXIT_USAGE, "no command '%s %s' (%s takes: %s)", words[0],
					words[1], words[0], list);
	}
	const char *guess = closest(words[0], names, n);
	return guess ? complain(c, EXIT_USAGE, "no command '%s': did you mean '%s'?"
				" (`loyal help` lists them)", words[0], guess)
		     : complain(c, EXIT_USAGE, "no command '%s' (`loyal help` lists them)", words[0]);
}

/* The command named by the first words, or NULL; *used: how many words name it. */
static const command *find_command(char **words, int count, int *used)
{
	for (const command *const *each = commands; *each && count > 0; each++) {
		const command *cmd = *each;
		if (strcmp(cmd->name, words[0]) != 0)
			continue;
		if (!cmd->sub) {
			*used = 1;
			return cmd;
		}
		if (count > 1 && strcmp(cmd->sub, words[1]) == 0) {
			*used = 2;
			return cmd;
		}
	}
	return NULL;
}

static flag_id find_flag(const char *name, size_t length)
{
	for (int id = 0; id < F_COUNT; id++)
		if (strlen(cli_flags[id].name) == length && strncmp(cli_flags[id].name, name, length) == 0)
			return (flag_id)id;
	return F_COUNT;
}

static bool takes(const command *cmd, flag_id id)
{
	if (is_global(id))
		return true;
	for (const flag_id *f = cmd->flags; f && *f != F_COUNT; f++)
		if (*f == id)
			return true;
	return false;
}

static int flag_not_taken(cli *c, const char *given)
{
	const char *names[F_COUNT];
	size_t n = 0;
	for (const flag_id *f = c->cmd->flags; f && *f != F_COUNT; f++)
		names[n++] = cli_flags[*f].name;
	char words[64];
	command_words(c->cmd, words, sizeof words);
	const char *guess = closest(given, names, n);
	if (guess)
		return complain(c, EXIT_USAGE, "'%s' takes no --%s: did you mean --%s?", words, given,
				guess);
	return complain(c, EXIT_USAGE, "'%s' takes no --%s (`loyal help %s`)", words, given, words);
}

/* Sorts argv into flags and positional words; returns 0 or a usage error's status. */
static int parse_line(cli *c, int argc, char **argv, char **words, int *count,
		      const char **unknown)
{
	bool only_words = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (only_words || arg[0] != '-' || arg[1] == '\0' || (arg[1] >= '0' && arg[1] <= '9')) {
			words[(*count)++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_words = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0) {
			c->flag[F_HELP] = "";
			continue;
		}
		const char *name = arg + (arg[1] == '-' ? 2 : 1);
		const char *equals = strchr(name, '=');
		size_t length = equals ? (size_t)(equals - name) : strlen(name);
		flag_id id = arg[1] == '-' ? find_flag(name, length) : F_COUNT;
		if (id == F_COUNT) {
			if (!*unknown)
				*unknown = arg;
			continue;
		}
		const char *value = "";
		if (cli_flags[id].value) {
			if (equals)
				value = equals + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return complain(c, EXIT_USAGE, "--%s needs %s", cli_flags[id].name,
						cli_flags[id].value);
		} else if (equals) {
			return complain(c, EXIT_USAGE, "--%s takes no value", cli_flags[id].name);
		}
		if (c->flag[id])
			return complain(c, EXIT_USAGE, "--%s is given twice", cli_flags[id].name);
		c->flag[id] = value;
	}
	return 0;
}

/* The arguments a command takes: its words, [optional] ones counted apart. */
static void argument_counts(const command *cmd, int *least, int *most)
{
	*least = *most = 0;
	for (const char *p = cmd->arguments; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		(*most)++;
		*least += *p != '[';
		while (*p && *p != ' ')
			p++;
	}
}

static int check_arguments(cli *c)
{
	int least, most;
	argument_counts(c->cmd, &least, &most);
	if (c->count >= least && c->count <= most)
		return 0;
	char words[64];
	command_words(c->cmd, words, sizeof words);
	int status = complain(c, EXIT_USAGE, "'%s' takes %s: %s (`loyal help %s`)", words,
			      c->count < least ? "more arguments" : "fewer arguments",
			      *c->cmd->arguments ? c->cmd->arguments : "none", words);
	if (!c->json)
		usage_line(c->cmd, stderr);
	return status;
}

/* Opens the database as the command needs: only `init` creates a file; a command on a file that
 * is not there says so rather than creating it. */
static int open_database(cli *c)
{
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = c->cmd->access == OPEN_CREATE ? LOYAL_OPEN_CREATE
		     : c->cmd->access == OPEN_READ ? LOYAL_OPEN_READONLY
						   : 0;
	int64_t megabytes = 0;
	int status = flag_number(c, F_WAL_LIMIT_MB, 1, 1 << 20, 0, &megabytes);
	if (status)
		return status;
	opts.wal_limit_bytes = megabytes * 1024 * 1024;
	const char *durability = c->flag[F_DURABILITY];
	if (durability && strcmp(durability, "power") == 0)
		opts.durability = LOYAL_DURABILITY_POWER;
	else if (durability && strcmp(durability, "scratch") == 0)
		opts.durability = LOYAL_DURABILITY_SCRATCH;
	else if (durability && strcmp(durability, "process") != 0)
		return complain(c, EXIT_USAGE, "--durability must be 'process', 'power' or "
				"'scratch', not '%s'", durability);
	bool uri = strncmp(c->path, "postgresql://", 13) == 0 ||
		   strncmp(c->path, "postgres://", 11) == 0;
	struct stat info;
	if (!uri && c->cmd->access != OPEN_CREATE && stat(c->path, &info) != 0 && errno == ENOENT)
		return complain(c, EXIT_DATA, "no database at '%s': run `loyal init` to create it%s",
				c->path, c->flag[F_DB] ? "" : " (or give --db FILE)");
	int rc = loyal_open(c->path, &opts, &c->db);
	return rc == LOYAL_OK ? 0 : fail(c, rc);
}

int main(int argc, char **argv)
{
	cli c = {.path = "loyal.db"};
	list_commands();
	char **words = calloc((size_t)argc + 1, sizeof *words);
	int count = 0;
	const char *unknown = NULL;
	if (!words)
		return EXIT_INTERNAL;
	int status = parse_line(&c, argc, argv, words, &count, &unknown);
	c.json = c.flag[F_JSON] != NULL;
	if (c.flag[F_DB])
		c.path = c.flag[F_DB];
	int used = 0;
	bool asks_help = count && strcmp(words[0], "help") == 0;
	const command *cmd = asks_help ? find_command(words + 1, count - 1, &used)
				       : find_command(words, count, &used);
	if (status) {
	} else if (c.flag[F_VERSION] || (count == 1 && strcmp(words[0], "version") == 0)) {
		printf(c.json ? "{\"version\":\"%s\"}\n" : "loyal %s\n", loyal_version());
	} else if (asks_help && count > 1 && !cmd) {
		status = unknown_command(&c, words + 1, count - 1);
	} else if (asks_help || (!count && c.flag[F_HELP])) {
		if (cmd)
			command_help(cmd, stdout);
		else
			overview(stdout);
	} else if (!count && c.json) {
		status = complain(&c, EXIT_USAGE, "no command given (`loyal help` lists them)");
	} else if (!count) {
		overview(stderr);
		status = EXIT_USAGE;
	} else if (!cmd) {
		status = unknown_command(&c, words, count);
	} else if (c.flag[F_HELP]) {
		command_help(cmd, stdout);
	} else {
		c.cmd = cmd;
		c.args = words + used;
		c.count = count - used;
		if (unknown)
			status = flag_not_taken(&c, unknown + 2 - (unknown[1] != '-'));
		for (int id = 0; !status && id < F_COUNT; id++)
			if (c.flag[id] && !takes(cmd, (flag_id)id))
				status = flag_not_taken(&c, cli_flags[id].name);
		if (!status)
			status = check_arguments(&c);
		if (!status && cmd->access != OPEN_NONE)
			status = open_database(&c);
		if (!status)
			status = cmd->run(&c);
		if (!status)
			print_answer(&c);
	}
	json_decref(c.out);
	loyal_close(c.db);
	free(words);
	return status;
}
