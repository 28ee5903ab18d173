/* loyal.c - the example command-line tool: runs a loyalty program from the shell, on the
 * public API only. */
#include <loyal.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exit codes: what went wrong, for scripts. */
enum { EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static const char usage_text[] =
	"usage: loyal [--db FILE] COMMAND [ARGS]\n"
	"\n"
	"Runs a loyalty program stored in one SQLite file (default: ./loyal.db).\n"
	"\n"
	"commands:\n"
	"  init                               create the database (or migrate an older one)\n"
	"  program apply FILE                 apply a JSON program (currencies...)\n"
	"  program show                       print the current program\n"
	"  track MEMBER TYPE KEY [JSON]       record an event; the rules award points\n"
	"  earn MEMBER CURRENCY AMOUNT KEY    credit points (KEY: the idempotency key)\n"
	"  spend MEMBER CURRENCY AMOUNT KEY   debit points\n"
	"  reverse MEMBER CURRENCY TXN KEY    reverse a transaction (all that is left of it)\n"
	"  balance MEMBER CURRENCY            show a balance and the next expiry\n"
	"  statement MEMBER                   list a member's transactions, newest first\n"
	"  explain MEMBER CURRENCY            show the lots behind a balance\n"
	"  eval MEMBER EXPRESSION             evaluate a criteria expression for a member\n"
	"  tier MEMBER                        show a member's tier and what the next one needs\n"
	"  badges MEMBER                      list a member's badges\n"
	"  segments MEMBER                    list the segments a member is in\n"
	"  segment NAME                       list the members of a segment\n"
	"  refresh                            refresh segments and print who entered and left\n"
	"  sweep                              run the expiry, tier and badge sweeps\n"
	"  check-expr EXPRESSION              check a criteria expression\n"
	"  expire                             settle every member: expiries, holds, pending\n"
	"  verify                             check the file and every invariant\n"
	"  version                            print the library version\n"
	"\n"
	"exit codes: 0 ok, 1 data error, 2 usage error, 3 internal or I/O error\n";

static int usage(const char *problem)
{
	if (problem)
		fprintf(stderr, "loyal: %s (see loyal --help)\n", problem);
	else
		fputs(usage_text, stdout);
	return problem ? EXIT_USAGE : 0;
}

/* Maps a library result to an exit code, printing the handle's message. */
static int fail(loyal_db *db, int rc)
{
	fprintf(stderr, "loyal: %s: %s\n", loyal_errstr(rc), loyal_errmsg(db));
	switch (rc) {
	case LOYAL_ENOMEM:
	case LOYAL_EIO:
	case LOYAL_EBUSY:
	case LOYAL_EINTERNAL:
	case LOYAL_EMISUSE:
		return EXIT_INTERNAL;
	default:
		return EXIT_DATA;
	}
}

static int parse_amount(const char *text, int64_t *out)
{
	char *end = NULL;
	long long value = strtoll(text, &end, 10);
	if (!*text || *end)
		return usage("AMOUNT must be a whole number");
	*out = value;
	return 0;
}

static char *read_file(const char *path)
{
	FILE *file = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!file)
		return NULL;
	size_t used = 0, capacity = 4096;
	char *text = malloc(capacity);
	while (text) {
		used += fread(text + used, 1, capacity - used - 1, file);
		if (used < capacity - 1)
			break;
		char *grown = realloc(text, capacity * 2);
		if (!grown) {
			free(text);
			text = NULL;
			break;
		}
		text = grown;
		capacity *= 2;
	}
	if (text)
		text[used] = '\0';
	if (file != stdin)
		fclose(file);
	return text;
}

static void print_date(int64_t ms)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm date;
	char text[32];
	gmtime_r(&seconds, &date);
	strftime(text, sizeof text, "%Y-%m-%d %H:%M", &date);
	fputs(text, stdout);
}

static int show_balance(loyal_db *db, const char *member, const char *currency)
{
	loyal_balance balance = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(db, member, currency, 0, &balance);
	if (rc != LOYAL_OK)
		return fail(db, rc);
	printf("%s %s: %lld available, %lld pending, %lld held (earned %lld, spent %lld, "
	       "expired %lld)\n",
	       member, currency, (long long)balance.available, (long long)balance.pending,
	       (long long)balance.held, (long long)balance.earned, (long long)balance.spent,
	       (long long)balance.expired);
	if (balance.next_expiry_at) {
		printf("  %lld %s expire on ", (long long)balance.next_expiry_amount, currency);
		print_date(balance.next_expiry_at);
		printf(" UTC\n");
	}
	return 0;
}

static int print_rows(loyal_db *db, loyal_cursor *cursor)
{
	const char *row = NULL;
	int rc;
	while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row)
		printf("%s\n", row);
	loyal_cursor_free(cursor);
	return rc == LOYAL_OK ? 0 : fail(db, rc);
}

/* Prints (and frees) the JSON a call returned through *json. */
static int print_json(loyal_db *db, int rc, char **json)
{
	if (rc != LOYAL_OK)
		return fail(db, rc);
	printf("%s\n", *json);
	loyal_free(*json);
	return 0;
}

static int post(loyal_db *db, const char *command, char **args)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = args[0];
	posting.currency = args[1];
	posting.idempotency_key = args[3];
	int64_t number = 0;
	if (parse_amount(args[2], &number) != 0)
		return EXIT_USAGE;
	loyal_result result = LOYAL_RESULT_INIT;
	int rc;
	if (strcmp(command, "reverse") == 0) {
		posting.txn = number;
		rc = loyal_ledger_reverse(db, &posting, &result);
	} else {
		posting.amount = number;
		rc = strcmp(command, "earn") == 0 ? loyal_ledger_credit(db, &posting, &result)
						  : loyal_ledger_debit(db, &posting, &result);
	}
	if (rc != LOYAL_OK)
		return fail(db, rc);
	printf("%s %lld %s for %s: transaction %lld%s\n", command, (long long)result.amount,
	       args[1], args[0], (long long)result.txn, result.replayed ? " (replayed)" : "");
	return 0;
}

/* The commands, with how many arguments each takes and whether it writes. */
static const struct command {
	const char *name;
	int args;
	bool writes;
} commands[] = {
	{"init", 0, true},     {"program", -1, true}, {"earn", 4, true},
	{"spend", 4, true},    {"reverse", 4, true},  {"balance", 2, false},
	{"statement", 1, false}, {"explain", 2, false}, {"expire", 0, true},
	{"verify", 0, false},  {"track", -1, true},    {"eval", 2, false},
	{"check-expr", 1, false}, {"tier", 1, false},  {"badges", 1, false},
	{"segments", 1, false},   {"segment", 1, false}, {"refresh", 0, true},
	{"sweep", 0, true},
};

static int run(loyal_db *db, const char *name, char **args, int count)
{
	char *json = NULL;
	if (strcmp(name, "init") == 0) {
		printf("ready\n");
		return 0;
	}
	if (strcmp(name, "program") == 0) {
		if (count == 2 && strcmp(args[0], "apply") == 0) {
			char *text = read_file(args[1]);
			if (!text) {
				fprintf(stderr, "loyal: cannot read '%s'\n", args[1]);
				return EXIT_DATA;
			}
			int64_t version = 0;
			int rc = loyal_program_apply(db, text, &version);
			free(text);
			if (rc != LOYAL_OK)
				return fail(db, rc);
			printf("program version %lld\n", (long long)version);
			return 0;
		}
		if (count == 1 && strcmp(args[0], "show") == 0)
			return print_json(db, loyal_program_get(db, &json), &json);
		return usage("program takes 'apply FILE' or 'show'");
	}
	if (strcmp(name, "earn") == 0 || strcmp(name, "spend") == 0 || strcmp(name, "reverse") == 0)
		return post(db, name, args);
	if (strcmp(name, "balance") == 0)
		return show_balance(db, args[0], args[1]);
	if (strcmp(name, "statement") == 0) {
		loyal_cursor *cursor = NULL;
		int rc = loyal_ledger_statement(db, args[0], NULL, 0, &cursor);
		return rc == LOYAL_OK ? print_rows(db, cursor) : fail(db, rc);
	}
	if (strcmp(name, "track") == 0) {
		if (count != 3 && count != 4)
			return usage("track takes MEMBER TYPE KEY [JSON]");
		loyal_event event = LOYAL_EVENT_INIT;
		event.member = args[0];
		event.type = args[1];
		event.idempotency_key = args[2];
		event.properties = count == 4 ? args[3] : NULL;
		return print_json(db, loyal_track(db, &event, &json), &json);
	}
	if (strcmp(name, "eval") == 0)
		return print_json(db, loyal_criteria_eval(db, args[1], args[0], NULL, &json), &json);
	if (strcmp(name, "check-expr") == 0)
		return print_json(db, loyal_criteria_check(db, args[0], &json), &json);
	if (strcmp(name, "tier") == 0)
		return print_json(db, loyal_tier_get(db, args[0], &json), &json);
	if (strcmp(name, "badges") == 0)
		return print_json(db, loyal_badge_list(db, args[0], &json), &json);
	if (strcmp(name, "segments") == 0)
		return print_json(db, loyal_segment_of(db, args[0], &json), &json);
	if (strcmp(name, "segment") == 0 || strcmp(name, "refresh") == 0) {
		loyal_cursor *cursor = NULL;
		int rc = strcmp(name, "segment") == 0 ? loyal_segment_members(db, args[0], &cursor)
						      : loyal_segment_refresh(db, 0, NULL, &cursor);
		return rc == LOYAL_OK ? print_rows(db, cursor) : fail(db, rc);
	}
	if (strcmp(name, "sweep") == 0) {
		int64_t expired = 0, downgraded = 0, awarded = 0;
		int rc = loyal_expire(db, 0, &expired);
		if (rc == LOYAL_OK)
			rc = loyal_tier_sweep(db, 0, &downgraded);
		if (rc == LOYAL_OK)
			rc = loyal_badge_sweep(db, 0, &awarded);
		if (rc != LOYAL_OK)
			return fail(db, rc);
		printf("%lld balances settled, %lld tiers lowered, %lld badges awarded\n",
		       (long long)expired, (long long)downgraded, (long long)awarded);
		return 0;
	}
	if (strcmp(name, "explain") == 0)
		return print_json(db, loyal_ledger_explain(db, args[0], args[1], &json), &json);
	if (strcmp(name, "expire") == 0) {
		int64_t settled = 0;
		int rc = loyal_expire(db, 0, &settled);
		if (rc != LOYAL_OK)
			return fail(db, rc);
		printf("%lld balances settled\n", (long long)settled);
		return 0;
	}
	int rc = loyal_verify(db);
	if (rc != LOYAL_OK)
		return fail(db, rc);
	printf("verified: no problem found\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = "loyal.db";
	int arg = 1;
	while (arg < argc && argv[arg][0] == '-') {
		if (strcmp(argv[arg], "--help") == 0 || strcmp(argv[arg], "-h") == 0)
			return usage(NULL);
		if (strcmp(argv[arg], "--db") != 0)
			return usage("unknown option");
		if (arg + 1 >= argc)
			return usage("--db needs a file name");
		path = argv[arg + 1];
		arg += 2;
	}
	if (arg >= argc)
		return usage("no command given");
	const char *name = argv[arg++];
	if (strcmp(name, "version") == 0) {
		printf("loyal %s\n", loyal_version());
		return 0;
	}
	const struct command *command = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (strcmp(commands[i].name, name) == 0)
			command = &commands[i];
	if (!command)
		return usage("unknown command");
	if (command->args >= 0 && argc - arg != command->args)
		return usage("wrong number of arguments");

	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	if (!command->writes)
		opts.flags = LOYAL_OPEN_READONLY;
	loyal_db *db = NULL;
	int rc = loyal_open(path, &opts, &db);
	int status = rc == LOYAL_OK ? run(db, name, argv + arg, argc - arg) : fail(db, rc);
	loyal_close(db);
	return status;
}
