/* loyal.c - the example command-line tool: runs and inspects a loyalty program from the shell,
 * on loyal's public API only (and jansson to read import files). */
#include <loyal.h>

#include <jansson.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit codes: what went wrong, for scripts. */
enum { EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

#define DAY_MS INT64_C(86400000)

typedef struct cli {
	loyal_db *db;
	bool json;
	char **args;
	int count;
} cli;

typedef int (*handler)(cli *c);

typedef struct command {
	const char *name, *sub; /* "program" "apply"; sub NULL for one-word commands */
	int min_args, max_args;
	bool writes;
	handler run;
	const char *arguments, *help;
} command;

/* ---- output ---- */

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

/* Prints (and frees) the JSON a call returned through *json. */
static int print_json(cli *c, int rc, char **json)
{
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf("%s\n", *json);
	loyal_free(*json);
	return 0;
}

/* Prints (and frees) the rows of the cursor a call returned through *out. */
static int print_rows(cli *c, int rc, loyal_cursor **out)
{
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	loyal_cursor *cursor = *out;
	const char *row = NULL;
	while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row)
		printf("%s\n", row);
	loyal_cursor_free(cursor);
	return rc == LOYAL_OK ? 0 : fail(c->db, rc);
}

static void format_date(int64_t ms, char *out, size_t size)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm date;
	gmtime_r(&seconds, &date);
	strftime(out, size, "%Y-%m-%d", &date);
}

/* A whole number from minimum to maximum, written plainly: digits with an optional '-', no
 * spaces, no '+', nothing after. Anything else is a usage error, never clamped or wrapped. */
static int parse_number(const char *text, const char *what, int64_t minimum, int64_t maximum,
			int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long value = (*text == '-' || (*text >= '0' && *text <= '9')) ? strtoll(text, &end, 10)
									 : 0;
	if (!end || end == text || *end) {
		fprintf(stderr, "loyal: %s must be a whole number, not '%s'\n", what, text);
		return EXIT_USAGE;
	}
	if (errno == ERANGE || value < minimum || value > maximum) {
		fprintf(stderr, "loyal: %s must be from %lld to %lld, not %s\n", what,
			(long long)minimum, (long long)maximum, text);
		return EXIT_USAGE;
	}
	*out = value;
	return 0;
}

/* Opens a file to read ("-": standard input), or says why it cannot: a directory opens but
 * cannot be read, so it is refused by name. */
static FILE *open_input(const char *path)
{
	if (strcmp(path, "-") == 0)
		return stdin;
	struct stat info;
	FILE *file = NULL;
	if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
		errno = EISDIR;
	else
		file = fopen(path, "rb");
	if (!file)
		fprintf(stderr, "loyal: cannot read '%s': %s\n", path, strerror(errno));
	return file;
}

/* The whole file as text, or NULL (said on stderr) when it cannot be read or holds a NUL. */
static char *read_file(const char *path)
{
	FILE *file = open_input(path);
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
	if (text && ferror(file)) {
		fprintf(stderr, "loyal: cannot read '%s': %s\n", path, strerror(errno));
		free(text);
		text = NULL;
	} else if (text && memchr(text, '\0', used)) {
		fprintf(stderr, "loyal: '%s' holds a NUL byte: it is not a text file\n", path);
		free(text);
		text = NULL;
	} else if (text) {
		text[used] = '\0';
	} else {
		fprintf(stderr, "loyal: out of memory reading '%s'\n", path);
	}
	if (file != stdin)
		fclose(file);
	return text;
}

/* ---- commands ---- */

static int cmd_init(cli *c)
{
	printf(c->json ? "{\"ready\":true}\n" : "ready\n");
	return 0;
}

static int cmd_program_apply(cli *c)
{
	char *text = read_file(c->args[0]);
	if (!text)
		return EXIT_DATA;
	int64_t version = 0;
	int rc = loyal_program_apply(c->db, text, &version);
	free(text);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"version\":%lld}\n" : "program version %lld\n", (long long)version);
	return 0;
}

static int cmd_program_show(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_program_get(c->db, &json), &json);
}

static int cmd_track(cli *c)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = c->args[0];
	event.type = c->args[1];
	event.idempotency_key = c->args[2];
	event.properties = c->count > 3 ? c->args[3] : NULL;
	char *json = NULL;
	return print_json(c, loyal_track(c->db, &event, &json), &json);
}

/* One ledger call from MEMBER CURRENCY NUMBER KEY [more]. */
static int post(cli *c, int (*call)(loyal_db *, const loyal_posting *, loyal_result *),
		bool number_is_txn)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = c->args[0];
	posting.currency = c->args[1];
	posting.idempotency_key = c->args[3];
	int64_t number = 0;
	int status = parse_number(c->args[2], number_is_txn ? "TXN" : "AMOUNT",
				  call == loyal_ledger_adjust ? INT64_MIN + 1 : 0, INT64_MAX, &number);
	if (status)
		return status;
	if (number_is_txn) {
		posting.txn = number;
		if (c->count > 4 &&
		    (status = parse_number(c->args[4], "AMOUNT", 0, INT64_MAX, &posting.amount)))
			return status;
	} else {
		posting.amount = number;
	}
	if (call == loyal_ledger_hold) {
		int64_t days = 7;
		if (c->count > 4 && (status = parse_number(c->args[4], "DAYS", 1, 3650, &days)))
			return status;
		int64_t now = 0;
		loyal_now(c->db, &now);
		posting.deadline = now + days * DAY_MS;
	}
	if (call == loyal_ledger_adjust)
		posting.reason = c->args[4];
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = call(c->db, &posting, &result);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	if (c->json)
		printf("{\"txn\":%lld,\"amount\":%lld,\"replayed\":%s}\n", (long long)result.txn,
		       (long long)result.amount, result.replayed ? "true" : "false");
	else
		printf("%s %lld %s for %s: transaction %lld%s\n", c->args[-1],
		       (long long)result.amount, posting.currency, posting.member,
		       (long long)result.txn, result.replayed ? " (replayed)" : "");
	return 0;
}

static int cmd_earn(cli *c) { return post(c, loyal_ledger_credit, false); }
static int cmd_spend(cli *c) { return post(c, loyal_ledger_debit, false); }
static int cmd_adjust(cli *c) { return post(c, loyal_ledger_adjust, false); }
static int cmd_hold(cli *c) { return post(c, loyal_ledger_hold, false); }
static int cmd_capture(cli *c) { return post(c, loyal_ledger_capture, true); }
static int cmd_release(cli *c) { return post(c, loyal_ledger_release, true); }
static int cmd_reverse(cli *c) { return post(c, loyal_ledger_reverse, true); }

static int cmd_balance(cli *c)
{
	loyal_balance b = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(c->db, c->args[0], c->args[1], 0, &b);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	if (c->json) {
		printf("{\"available\":%lld,\"pending\":%lld,\"held\":%lld,\"earned\":%lld,"
		       "\"spent\":%lld,\"expired\":%lld,\"next_expiry_at\":%lld,"
		       "\"next_expiry_amount\":%lld}\n",
		       (long long)b.available, (long long)b.pending, (long long)b.held,
		       (long long)b.earned, (long long)b.spent, (long long)b.expired,
		       (long long)b.next_expiry_at, (long long)b.next_expiry_amount);
		return 0;
	}
	printf("%s %s: %lld available, %lld pending, %lld held (earned %lld, spent %lld, expired "
	       "%lld)\n",
	       c->args[0], c->args[1], (long long)b.available, (long long)b.pending,
	       (long long)b.held, (long long)b.earned, (long long)b.spent, (long long)b.expired);
	if (b.next_expiry_at) {
		char date[16];
		format_date(b.next_expiry_at, date, sizeof date);
		printf("  %lld %s expire on %s\n", (long long)b.next_expiry_amount, c->args[1], date);
	}
	return 0;
}

/* Prints a labelled JSON value, or fails. */
static int show_part(cli *c, const char *label, int rc, char **json)
{
	if (rc == LOYAL_ENOTFOUND)
		return 0;
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "\"%s\":%s" : "%s: %s\n", label, *json);
	loyal_free(*json);
	return 0;
}

static int cmd_member_show(cli *c)
{
	const char *id = c->args[0];
	char *json = NULL;
	int status = 0;
	if (c->json)
		printf("{");
	status = show_part(c, "member", loyal_member_get(c->db, id, &json), &json);
	char *program = NULL;
	int rc = status ? LOYAL_OK : loyal_program_get(c->db, &program);
	if (!status && rc != LOYAL_OK)
		status = fail(c->db, rc);
	/* One balance and expiry list per currency of the program. */
	for (const char *at = program; !status && at && (at = strstr(at, "\"name\":\""));) {
		at += 8;
		const char *end = strchr(at, '"');
		char currency[80];
		snprintf(currency, sizeof currency, "%.*s", (int)(end - at), at);
		loyal_balance b = LOYAL_BALANCE_INIT;
		if (strstr(program, "\"currencies\"") > at ||
		    loyal_ledger_balance(c->db, id, currency, 0, &b) != LOYAL_OK)
			continue;
		char label[96];
		snprintf(label, sizeof label, "balance %s", currency);
		char text[160];
		snprintf(text, sizeof text, "{\"available\":%lld,\"pending\":%lld,\"held\":%lld}",
			 (long long)b.available, (long long)b.pending, (long long)b.held);
		printf(c->json ? ",\"%s\":%s" : "%s: %s\n", label, text);
		snprintf(label, sizeof label, "expiring %s", currency);
		if (c->json)
			printf(",");
		status = show_part(c, label, loyal_ledger_expiring(c->db, id, currency, 5, &json),
				   &json);
	}
	loyal_free(program);
	if (!status && c->json)
		printf(",");
	if (!status)
		status = show_part(c, "tier", loyal_tier_get(c->db, id, &json), &json);
	if (!status && c->json)
		printf(",");
	if (!status)
		status = show_part(c, "badges", loyal_badge_list(c->db, id, &json), &json);
	if (!status && c->json)
		printf(",");
	if (!status)
		status = show_part(c, "segments", loyal_segment_of(c->db, id, &json), &json);
	if (c->json && !status)
		printf("}\n");
	return status;
}

/* badge grant|revoke MEMBER BADGE[:LEVEL] REASON */
static int recognize(cli *c, bool grant)
{
	char badge[300];
	snprintf(badge, sizeof badge, "%s", c->args[1]);
	char *level = strchr(badge, ':');
	if (level)
		*level++ = '\0';
	int changed = 0;
	int rc = (grant ? loyal_badge_grant : loyal_badge_revoke)(c->db, c->args[0], badge, level,
								   c->args[2], &changed);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"changed\":%s}\n" : "%s\n",
	       c->json ? (changed ? "true" : "false")
		       : changed ? (grant ? "granted" : "revoked")
				 : (grant ? "already held: nothing changed" : "not held: nothing changed"));
	return 0;
}

static int cmd_badge_grant(cli *c) { return recognize(c, true); }
static int cmd_badge_revoke(cli *c) { return recognize(c, false); }

/* tier assign MEMBER TIER REASON [DAYS] (no DAYS: until released); tier release MEMBER REASON */
static int cmd_tier_assign(cli *c)
{
	int64_t days = 0, until = 0;
	if (c->count == 4) {
		int bad = parse_number(c->args[3], "DAYS", 1, 36500, &days);
		if (bad)
			return bad;
		loyal_now(c->db, &until);
		until += days * DAY_MS;
	}
	int rc = loyal_tier_assign(c->db, c->args[0], c->args[1], until, c->args[2]);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	char *json = NULL;
	return print_json(c, loyal_tier_get(c->db, c->args[0], &json), &json);
}

static int cmd_tier_release(cli *c)
{
	int changed = 0;
	int rc = loyal_tier_release(c->db, c->args[0], c->args[1], &changed);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	if (!changed) {
		printf(c->json ? "{\"changed\":false}\n" : "no assignment: nothing changed\n");
		return 0;
	}
	char *json = NULL;
	return print_json(c, loyal_tier_get(c->db, c->args[0], &json), &json);
}

/* leaderboard top NAME [N]; leaderboard rank NAME MEMBER [NEIGHBOURS] */
static int cmd_leaderboard_top(cli *c)
{
	int64_t limit = 10;
	int bad = c->count == 2 ? parse_number(c->args[1], "N", 1, 1000, &limit) : 0;
	if (bad)
		return bad;
	char *json = NULL;
	return print_json(c, loyal_leaderboard_top(c->db, c->args[0], 0, (int)limit, &json), &json);
}

static int cmd_leaderboard_rank(cli *c)
{
	int64_t neighbours = 2;
	int bad = c->count == 3 ? parse_number(c->args[2], "NEIGHBOURS", 0, 50, &neighbours) : 0;
	if (bad)
		return bad;
	char *json = NULL;
	return print_json(c, loyal_leaderboard_rank(c->db, c->args[0], c->args[1], 0,
						    (int)neighbours, &json),
			  &json);
}

/* One happening as a line for people: position, time (UTC), kind, member, body. */
static void print_happening(const char *row)
{
	json_t *h = json_loads(row, 0, NULL);
	char when[32] = "";
	time_t seconds = (time_t)(json_integer_value(json_object_get(h, "at")) / 1000);
	struct tm date;
	gmtime_r(&seconds, &date);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &date);
	char *body = json_dumps(json_object_get(h, "body"), JSON_COMPACT);
	printf("%8lld  %s  %-16s %-16s %s\n",
	       (long long)json_integer_value(json_object_get(h, "position")), when,
	       json_string_value(json_object_get(h, "kind")),
	       json_string_value(json_object_get(h, "member")), body ? body : "");
	free(body);
	json_decref(h);
}

/* outbox read CONSUMER [--limit N] [--follow]: the happenings after what the consumer
 * acknowledged (acknowledging nothing); --follow polls each second for more. */
static int cmd_outbox_read(cli *c)
{
	int64_t limit = 0;
	bool follow = false;
	for (int i = 1; i < c->count; i++) {
		int bad = 0;
		if (strcmp(c->args[i], "--follow") == 0)
			follow = true;
		else if (strcmp(c->args[i], "--limit") == 0 && i + 1 < c->count)
			bad = parse_number(c->args[++i], "N", 1, INT64_MAX, &limit);
		else {
			fprintf(stderr, "loyal: outbox read: unexpected '%s'\n", c->args[i]);
			return EXIT_USAGE;
		}
		if (bad)
			return bad;
	}
	int64_t shown = 0; /* a follower shows each happening once, though it acknowledges none */
	for (;;) {
		loyal_cursor *cursor = NULL;
		int rc = loyal_outbox_read(c->db, c->args[0], limit, &cursor);
		if (rc != LOYAL_OK)
			return fail(c->db, rc);
		const char *row = NULL;
		while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row) {
			json_t *h = json_loads(row, 0, NULL);
			int64_t position = json_integer_value(json_object_get(h, "position"));
			json_decref(h);
			if (position <= shown)
				continue;
			shown = position;
			if (c->json)
				printf("%s\n", row);
			else
				print_happening(row);
		}
		loyal_cursor_free(cursor);
		if (rc != LOYAL_OK)
			return fail(c->db, rc);
		fflush(stdout);
		if (!follow)
			return 0;
		sleep(1);
	}
}

static int cmd_outbox_ack(cli *c)
{
	int64_t position = 0;
	int bad = parse_number(c->args[1], "POSITION", 0, INT64_MAX, &position);
	if (bad)
		return bad;
	int rc = loyal_outbox_ack(c->db, c->args[0], position);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"acknowledged\":%lld}\n" : "acknowledged up to %lld\n",
	       (long long)position);
	return 0;
}

static int cmd_outbox_consumers(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_outbox_consumers(c->db, &json), &json);
}

static int cmd_member_set(cli *c)
{
	int rc = loyal_member_set_attrs(c->db, c->args[0], c->args[1]);
	return rc == LOYAL_OK ? 0 : fail(c->db, rc);
}

/* member list [--attribute KEY VALUE] [--tier T] [--segment S] [--active-within DAYS]
 * [--idle-for DAYS] [--status active|blocked] [--after MEMBER] [--limit N] */
static int cmd_member_list(cli *c)
{
	loyal_member_query q = LOYAL_MEMBER_QUERY_INIT;
	char value[300];
	int64_t limit = INT64_MAX, now = 0, days = 0;
	loyal_now(c->db, &now);
	for (int i = 0; i < c->count; i++) {
		const char *flag = c->args[i];
		bool more = i + 1 < c->count;
		int bad = 0;
		if (strcmp(flag, "--attribute") == 0 && i + 2 < c->count) {
			q.attribute = c->args[++i];
			const char *text = c->args[++i];
			/* A JSON scalar as given (3, true, "x"), anything else as text. */
			json_t *parsed = json_loads(text, JSON_DECODE_ANY, NULL);
			bool scalar = parsed && !json_is_object(parsed) && !json_is_array(parsed) &&
				      !json_is_null(parsed);
			json_decref(parsed);
			if (scalar) {
				q.value = text;
			} else {
				json_t *string = json_string(text);
				char *quoted = string ? json_dumps(string, JSON_ENCODE_ANY) : NULL;
				snprintf(value, sizeof value, "%s", quoted ? quoted : "");
				free(quoted);
				json_decref(string);
				q.value = value;
			}
		} else if (strcmp(flag, "--tier") == 0 && more) {
			q.tier = c->args[++i];
		} else if (strcmp(flag, "--segment") == 0 && more) {
			q.segment = c->args[++i];
		} else if (strcmp(flag, "--status") == 0 && more) {
			q.status = c->args[++i];
		} else if (strcmp(flag, "--after") == 0 && more) {
			q.after = c->args[++i];
		} else if (strcmp(flag, "--active-within") == 0 && more) {
			bad = parse_number(c->args[++i], "DAYS", 1, 100000, &days);
			q.active_from = now - days * DAY_MS;
		} else if (strcmp(flag, "--idle-for") == 0 && more) {
			bad = parse_number(c->args[++i], "DAYS", 1, 100000, &days);
			q.active_before = now - days * DAY_MS;
		} else if (strcmp(flag, "--limit") == 0 && more) {
			bad = parse_number(c->args[++i], "N", 1, INT64_MAX, &limit);
		} else {
			fprintf(stderr, "loyal: member list: unexpected '%s'\n", flag);
			return EXIT_USAGE;
		}
		if (bad)
			return bad;
	}
	loyal_cursor *cursor = NULL;
	int rc = loyal_member_list(c->db, &q, &cursor);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	const char *row = NULL;
	for (int64_t n = 0; n < limit && (rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row; n++)
		printf("%s\n", row);
	loyal_cursor_free(cursor);
	return rc == LOYAL_OK ? 0 : fail(c->db, rc);
}

static int cmd_statement(cli *c)
{
	loyal_cursor *cursor = NULL;
	return print_rows(c, loyal_ledger_statement(c->db, c->args[0], NULL, 0, &cursor), &cursor);
}

static int cmd_rewards(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_reward_list(c->db, c->args[0], 0, &json), &json);
}

static int cmd_redeem(cli *c)
{
	loyal_redeem request = LOYAL_REDEEM_INIT;
	request.member = c->args[0];
	request.reward = c->args[1];
	request.idempotency_key = c->args[2];
	int status = c->count > 3 ? parse_number(c->args[3], "QUANTITY", 1, 1000, &request.quantity)
				  : 0;
	char *json = NULL;
	return status ? status : print_json(c, loyal_reward_redeem(c->db, &request, &json), &json);
}

/* A redemption's id from the command line. */
static int redemption_id(cli *c, int64_t *out)
{
	return parse_number(c->args[1], "REDEMPTION", 1, INT64_MAX, out);
}

static int settle_redemption(cli *c, bool fulfil)
{
	int64_t id = 0;
	int status = redemption_id(c, &id);
	if (status)
		return status;
	char *json = NULL;
	int rc = fulfil ? loyal_redemption_fulfil(c->db, c->args[0], id, c->args[2], &json)
			: loyal_redemption_cancel(c->db, c->args[0], id, c->args[2], &json);
	return print_json(c, rc, &json);
}

static int cmd_redemption_fulfil(cli *c) { return settle_redemption(c, true); }
static int cmd_redemption_cancel(cli *c) { return settle_redemption(c, false); }

static int cmd_redemption_show(cli *c)
{
	int64_t id = 0;
	int status = redemption_id(c, &id);
	char *json = NULL;
	return status ? status
		      : print_json(c, loyal_redemption_get(c->db, c->args[0], id, &json), &json);
}

static int cmd_redemption_list(cli *c)
{
	loyal_cursor *cursor = NULL;
	return print_rows(c, loyal_redemption_list(c->db, c->args[0], 0, &cursor), &cursor);
}

static int cmd_redemption_pending(cli *c)
{
	loyal_cursor *cursor = NULL;
	return print_rows(c, loyal_redemption_pending(c->db, 0, &cursor), &cursor);
}

static int cmd_coupon_import(cli *c)
{
	char *codes = read_file(c->args[1]);
	if (!codes)
		return EXIT_DATA;
	int64_t added = 0, duplicates = 0;
	int rc = loyal_coupon_import(c->db, c->args[0], codes, &added, &duplicates);
	free(codes);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"added\":%lld,\"duplicates\":%lld}\n" : "added %lld, duplicates %lld\n",
	       (long long)added, (long long)duplicates);
	return 0;
}

static int cmd_coupon_give(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_coupon_issue(c->db, c->args[0], c->args[1], c->args[2], &json),
			  &json);
}

static int cmd_coupon_check(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_coupon_check(c->db, c->args[0], c->args[1], 0, &json), &json);
}

static int cmd_coupon_reserve(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_coupon_reserve(c->db, c->args[0], c->args[1], c->args[2], &json),
			  &json);
}

static int cmd_coupon_release(cli *c)
{
	int64_t reservation = 0;
	int status = parse_number(c->args[1], "RESERVATION", 1, INT64_MAX, &reservation);
	char *json = NULL;
	return status ? status
		      : print_json(c, loyal_coupon_release(c->db, c->args[0], reservation,
							   c->args[2], &json),
				   &json);
}

static int cmd_coupon_use(cli *c)
{
	int64_t reservation = 0;
	int status = c->count > 3
			     ? parse_number(c->args[3], "RESERVATION", 1, INT64_MAX, &reservation)
			     : 0;
	char *json = NULL;
	return status ? status
		      : print_json(c, loyal_coupon_use(c->db, c->args[0], c->args[1], reservation,
						       c->args[2], &json),
				   &json);
}

static int cmd_coupon_list(cli *c)
{
	loyal_cursor *cursor = NULL;
	return print_rows(c, loyal_coupon_list(c->db, c->args[0], 0, &cursor), &cursor);
}

/* The members of a --members file: its non-blank lines, trimmed, pointing into text. */
static const char **split_members(char *text, size_t *count)
{
	size_t lines = 1;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	const char **members = malloc(lines * sizeof *members);
	*count = 0;
	for (char *line = text; members && line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		size_t length = strlen(line);
		while (length && (line[length - 1] == '\r' || line[length - 1] == ' ' ||
				  line[length - 1] == '\t'))
			line[--length] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line)
			members[(*count)++] = line;
		line = end ? end + 1 : NULL;
	}
	return members;
}

static void grant_progress(void *ctx, int64_t done, int64_t total)
{
	(void)ctx;
	int width = 30, filled = total ? (int)(done * width / total) : width;
	fprintf(stderr, "\r[%.*s%*s] %lld/%lld members", filled,
		"##############################", width - filled, "", (long long)done,
		(long long)total);
}

static void grant_refused(void *ctx, const char *member, int code, const char *why,
			  const char *message)
{
	(void)code;
	fprintf(stderr, "%srefused '%s': %s: %s\n", *(bool *)ctx ? "\r\033[K" : "", member, why,
		message);
}

static int cmd_grant(cli *c)
{
	loyal_grant g = LOYAL_GRANT_INIT;
	const char *members_file = NULL;
	g.key = c->args[0];
	int i = 1;
	if (strcmp(c->args[i], "--members") == 0 && i + 1 < c->count)
		members_file = c->args[++i];
	else
		g.segment = c->args[i];
	i++;
	for (; i < c->count; i++) {
		if (strcmp(c->args[i], "--points") == 0 && i + 2 < c->count && !g.currency) {
			g.currency = c->args[++i];
			int bad = parse_number(c->args[++i], "AMOUNT", 1, INT64_MAX, &g.amount);
			if (bad)
				return bad;
		} else if (strcmp(c->args[i], "--coupon") == 0 && i + 1 < c->count && !g.coupon) {
			g.coupon = c->args[++i];
		} else if (strcmp(c->args[i], "--reason") == 0 && i + 1 < c->count && !g.reason) {
			g.reason = c->args[++i];
		} else {
			fprintf(stderr, "loyal: grant: unexpected '%s' (give --points CURRENCY AMOUNT"
					" or --coupon COUPON, and optionally --reason TEXT)\n",
				c->args[i]);
			return EXIT_USAGE;
		}
	}
	if (!g.currency == !g.coupon) {
		fprintf(stderr, "loyal: grant: give either --points CURRENCY AMOUNT or --coupon COUPON\n");
		return EXIT_USAGE;
	}
	char *text = NULL;
	const char **members = NULL;
	if (members_file) {
		text = read_file(members_file);
		if (!text)
			return EXIT_DATA;
		members = split_members(text, &g.member_count);
		if (!members) {
			free(text);
			fprintf(stderr, "loyal: out of memory reading '%s'\n", members_file);
			return EXIT_INTERNAL;
		}
		g.members = members;
	}
	bool tty = isatty(STDERR_FILENO) && !c->json;
	g.progress = tty ? grant_progress : NULL;
	g.refused = grant_refused;
	g.ctx = &tty;
	char *report = NULL;
	int rc = loyal_grant_run(c->db, &g, &report);
	if (tty)
		fprintf(stderr, "\r\033[K");
	free(members);
	free(text);
	if (rc != LOYAL_OK || c->json)
		return print_json(c, rc, &report);
	json_t *r = json_loads(report, 0, NULL);
	loyal_free(report);
	printf("granted %lld, already granted %lld, refused %lld",
	       (long long)json_integer_value(json_object_get(r, "granted")),
	       (long long)json_integer_value(json_object_get(r, "already_granted")),
	       (long long)json_integer_value(json_object_get(r, "refused")));
	const char *why;
	json_t *count;
	const char *separator = " (";
	json_object_foreach(json_object_get(r, "why"), why, count) {
		printf("%s%s %lld", separator, why, (long long)json_integer_value(count));
		separator = ", ";
	}
	printf("%s of %lld members examined\n", *separator == ',' ? ")" : "",
	       (long long)json_integer_value(json_object_get(r, "examined")));
	json_decref(r);
	return 0;
}

static int cmd_explain(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_ledger_explain(c->db, c->args[0], c->args[1], &json), &json);
}

static int cmd_expire(cli *c)
{
	int64_t settled = 0;
	int rc = loyal_expire(c->db, 0, &settled);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"settled\":%lld}\n" : "%lld balances settled\n", (long long)settled);
	return 0;
}

static int cmd_notices_sweep(cli *c)
{
	int64_t count = 0;
	int rc = loyal_notice_sweep(c->db, 0, &count);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"notices\":%lld}\n" : "%lld notices written to the outbox\n",
	       (long long)count);
	return 0;
}

static int cmd_tiers_sweep(cli *c)
{
	int64_t changed = 0;
	int rc = loyal_tier_sweep(c->db, 0, &changed);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"downgraded\":%lld}\n" : "%lld members downgraded\n",
	       (long long)changed);
	return 0;
}

static int cmd_segments_refresh(cli *c)
{
	loyal_cursor *cursor = NULL;
	return print_rows(c, loyal_segment_refresh(c->db, 0, NULL, &cursor), &cursor);
}

static int cmd_segment_list(cli *c)
{
	loyal_cursor *cursor = NULL;
	return print_rows(c, loyal_segment_members(c->db, c->args[0], &cursor), &cursor);
}

static int cmd_verify(cli *c)
{
	int rc = loyal_verify(c->db);
	if (rc != LOYAL_OK)
		return fail(c->db, rc);
	printf(c->json ? "{\"verified\":true}\n" : "verified: no problem found\n");
	return 0;
}

static int cmd_check_expr(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_criteria_check(c->db, c->args[0], &json), &json);
}

static int cmd_eval(cli *c)
{
	char *json = NULL;
	return print_json(c, loyal_criteria_eval(c->db, c->args[1], c->args[0], NULL, &json),
			  &json);
}

/* Prints the retention table with a bar of '#' per share, for people. */
static void print_retention(const char *json)
{
	printf("retention by weekly cohort (share of the cohort active k weeks later):\n");
	for (const char *at = json; (at = strstr(at, "\"share\":["));) {
		at += 9;
		printf("  cohort:");
		while (*at && *at != ']') {
			double share = strtod(at, (char **)&at);
			int bars = (int)(share * 10 + 0.5);
			printf(" %3.0f%% %-10.*s", share * 100, bars, "##########");
			if (*at == ',')
				at++;
		}
		printf("\n");
	}
}

static int cmd_report(cli *c)
{
	int64_t now = 0;
	loyal_now(c->db, &now);
	int64_t from = now - 365 * DAY_MS, to = now + 1;
	char *liability = NULL, *flows = NULL, *active = NULL, *retention = NULL, *sizes = NULL,
	     *rewards = NULL;
	int rc = loyal_report_liability(c->db, &liability);
	if (rc == LOYAL_OK)
		rc = loyal_report_flows(c->db, from, to, &flows);
	if (rc == LOYAL_OK)
		rc = loyal_report_active(c->db, "month", from, to, &active);
	if (rc == LOYAL_OK)
		rc = loyal_report_retention(c->db, "week", now - 56 * DAY_MS, to, &retention);
	if (rc == LOYAL_OK)
		rc = loyal_report_sizes(c->db, &sizes);
	if (rc == LOYAL_OK)
		rc = loyal_report_rewards(c->db, from, to, &rewards);
	if (rc == LOYAL_OK && c->json)
		printf("{\"liability\":%s,\"flows\":%s,\"active_by_month\":%s,\"retention\":%s,"
		       "\"sizes\":%s,\"rewards\":%s}\n",
		       liability, flows, active, retention, sizes, rewards);
	else if (rc == LOYAL_OK) {
		printf("outstanding liability: %s\nlast year's flows: %s\nactive members by month:"
		       " %s\ntier and segment sizes: %s\nlast year's rewards and coupons: %s\n",
		       liability, flows, active, sizes, rewards);
		print_retention(retention);
	}
	loyal_free(liability);
	loyal_free(flows);
	loyal_free(active);
	loyal_free(retention);
	loyal_free(sizes);
	loyal_free(rewards);
	return rc == LOYAL_OK ? 0 : fail(c->db, rc);
}

/* Reads one import line into event (strings borrowed from line_json, properties dumped into
 * *properties, the caller's); returns the reason it is rejected, or NULL. */
static const char *parse_line(json_t *line_json, loyal_event *event, char **properties)
{
	if (!json_is_object(line_json))
		return "not a JSON object";
	json_t *member = json_object_get(line_json, "member"), *type = json_object_get(line_json, "type");
	json_t *key = json_object_get(line_json, "key"), *at = json_object_get(line_json, "at");
	json_t *props = json_object_get(line_json, "properties");
	if (!json_is_string(member) || !json_is_string(type) || !json_is_string(key))
		return "needs \"member\", \"type\" and \"key\" strings";
	if (at && !json_is_integer(at))
		return "\"at\" must be Unix milliseconds";
	event->member = json_string_value(member);
	event->type = json_string_value(type);
	event->idempotency_key = json_string_value(key);
	event->at = at ? json_integer_value(at) : 0;
	*properties = props ? json_dumps(props, JSON_COMPACT) : NULL;
	event->properties = *properties;
	return NULL;
}

/* Ends an import that failed: rolls back what its open batch held (a failed commit has already
 * ended the batch and rolled it back) and reports the first error, not the rollback's, with how
 * many lines were committed before it. */
static int import_failed(cli *c, int rc, long committed, long number)
{
	char message[1024];
	snprintf(message, sizeof message, "%s", loyal_errmsg(c->db));
	loyal_batch_rollback(c->db); /* LOYAL_ESTATE when the failed commit ended the batch */
	fprintf(stderr, "loyal: %s: %s\n", loyal_errstr(rc), message);
	fprintf(stderr, "loyal: lines 1-%ld were committed; lines %ld-%ld were not (import the file "
			"again: committed lines are replayed, not doubled)\n",
		committed, committed + 1, number);
	return rc == LOYAL_EIO || rc == LOYAL_ENOMEM || rc == LOYAL_EBUSY ? EXIT_INTERNAL
									  : EXIT_DATA;
}

/* Imports NDJSON events, one per line: {"member", "type", "key", "at" (ms, optional),
 * "properties"}. Bad lines are reported by number and skipped; the others are committed in
 * batches of 500. A failure to store (a full disk, an I/O error) stops the import: what was
 * committed stays, and a second run of the same file completes it. */
static int cmd_import(cli *c)
{
	FILE *file = open_input(c->args[0]);
	if (!file)
		return EXIT_DATA;
	bool tty = isatty(STDERR_FILENO) && !c->json;
	char *line = NULL;
	size_t capacity = 0;
	ssize_t length;
	long number = 0, committed = 0, imported = 0, duplicates = 0, rejected = 0;
	int rc = loyal_batch_begin(c->db);
	while (rc == LOYAL_OK && (length = getline(&line, &capacity, file)) > 0) {
		number++;
		json_error_t error;
		json_t *line_json = (size_t)length == strlen(line)
					    ? json_loads(line, JSON_REJECT_DUPLICATES, &error)
					    : NULL;
		loyal_event event = LOYAL_EVENT_INIT;
		char *properties = NULL, *outcome = NULL;
		const char *problem = line_json ? parse_line(line_json, &event, &properties)
				      : (size_t)length != strlen(line) ? "the line holds a NUL byte"
									 : error.text;
		int result = problem ? LOYAL_EINVAL : loyal_track(c->db, &event, &outcome);
		if (result == LOYAL_OK && strstr(outcome, "\"replayed\":true"))
			duplicates++;
		else if (result == LOYAL_OK)
			imported++;
		else if (result == LOYAL_EIO || result == LOYAL_ENOMEM || result == LOYAL_EBUSY ||
			 result == LOYAL_ECORRUPT || result == LOYAL_EREADONLY)
			rc = result;
		else {
			fprintf(stderr, "line %ld: rejected: %s\n", number,
				problem ? problem : loyal_errmsg(c->db));
			rejected++;
		}
		free(properties);
		loyal_free(outcome);
		json_decref(line_json);
		if (rc == LOYAL_OK && number % 500 == 0) {
			rc = loyal_batch_commit(c->db);
			if (rc == LOYAL_OK) {
				committed = number;
				rc = loyal_batch_begin(c->db);
			}
			if (tty)
				fprintf(stderr, "\r%ld lines...", number);
		}
	}
	bool unreadable = ferror(file);
	int read_errno = errno;
	free(line);
	if (file != stdin)
		fclose(file);
	if (rc == LOYAL_OK)
		rc = loyal_batch_commit(c->db);
	if (rc != LOYAL_OK)
		return import_failed(c, rc, committed, number);
	if (tty)
		fprintf(stderr, "\r");
	if (unreadable) {
		fprintf(stderr, "loyal: cannot read '%s' after line %ld: %s\n", c->args[0], number,
			strerror(read_errno));
		return EXIT_INTERNAL;
	}
	printf(c->json ? "{\"imported\":%ld,\"duplicates\":%ld,\"rejected\":%ld}\n"
		       : "imported %ld, duplicates %ld, rejected %ld\n",
	       imported, duplicates, rejected);
	return 0;
}

static const command commands[] = {
	{"init", NULL, 0, 0, true, cmd_init, "", "create the database file (or migrate an old one)"},
	{"program", "apply", 1, 1, true, cmd_program_apply, "FILE", "apply a JSON program"},
	{"program", "show", 0, 0, false, cmd_program_show, "", "print the current program"},
	{"track", NULL, 3, 4, true, cmd_track, "MEMBER TYPE KEY [JSON]",
	 "record an event through the earning rules"},
	{"import", NULL, 1, 1, true, cmd_import, "FILE|-",
	 "import NDJSON events ({\"member\", \"type\", \"key\", \"at\", \"properties\"})"},
	{"member", "set", 2, 2, true, cmd_member_set, "MEMBER JSON",
	 "merge attributes into a member's ({\"role\": \"teacher\"}; null removes one)"},
	{"member", "list", 0, 16, false, cmd_member_list,
	 "[--attribute KEY VALUE] [--tier T] [--segment S] [--active-within DAYS] [--idle-for DAYS]"
	 " [--status active|blocked] [--after MEMBER] [--limit N]",
	 "members by attribute, tier, segment (as last refreshed), activity, status; in join order"},
	{"member", "show", 1, 1, false, cmd_member_show, "MEMBER",
	 "balances, next expiries, tier, badges and segments of a member"},
	{"statement", NULL, 1, 1, false, cmd_statement, "MEMBER", "a member's transactions"},
	{"explain", NULL, 2, 2, false, cmd_explain, "MEMBER CURRENCY", "the lots behind a balance"},
	{"balance", NULL, 2, 2, false, cmd_balance, "MEMBER CURRENCY", "a balance"},
	{"earn", NULL, 4, 4, true, cmd_earn, "MEMBER CURRENCY AMOUNT KEY", "credit points"},
	{"spend", NULL, 4, 4, true, cmd_spend, "MEMBER CURRENCY AMOUNT KEY", "debit points"},
	{"hold", NULL, 4, 5, true, cmd_hold, "MEMBER CURRENCY AMOUNT KEY [DAYS]",
	 "reserve points for DAYS (default 7)"},
	{"capture", NULL, 4, 5, true, cmd_capture, "MEMBER CURRENCY HOLD KEY [AMOUNT]",
	 "spend a hold (default: all of it)"},
	{"release", NULL, 4, 4, true, cmd_release, "MEMBER CURRENCY HOLD KEY", "release a hold"},
	{"reverse", NULL, 4, 5, true, cmd_reverse, "MEMBER CURRENCY TXN KEY [AMOUNT]",
	 "reverse a transaction (default: all that is left)"},
	{"adjust", NULL, 5, 5, true, cmd_adjust, "MEMBER CURRENCY AMOUNT KEY REASON",
	 "a manual correction (AMOUNT may be negative)"},
	{"rewards", NULL, 1, 1, false, cmd_rewards, "MEMBER",
	 "what the member can redeem now, at their price, and why not"},
	{"redeem", NULL, 3, 4, true, cmd_redeem, "MEMBER REWARD KEY [QUANTITY]",
	 "redeem points for a reward"},
	{"redemption", "fulfil", 3, 3, true, cmd_redemption_fulfil, "MEMBER ID KEY",
	 "fulfil a pending (two-phase) redemption: its points are spent"},
	{"redemption", "cancel", 3, 3, true, cmd_redemption_cancel, "MEMBER ID KEY",
	 "cancel a redemption: points and stock come back"},
	{"redemption", "show", 2, 2, false, cmd_redemption_show, "MEMBER ID", "a redemption"},
	{"redemption", "list", 1, 1, false, cmd_redemption_list, "MEMBER",
	 "a member's redemptions, newest first"},
	{"redemption", "pending", 0, 0, false, cmd_redemption_pending, "",
	 "redemptions awaiting fulfilment, oldest first"},
	{"coupon", "import", 2, 2, true, cmd_coupon_import, "COUPON FILE|-",
	 "add codes (one per line) to a coupon's pool"},
	{"coupon", "give", 3, 3, true, cmd_coupon_give, "MEMBER COUPON KEY",
	 "give a member a code of a coupon"},
	{"coupon", "check", 2, 2, false, cmd_coupon_check, "MEMBER CODE",
	 "whether the member can use a code now, and why not"},
	{"coupon", "reserve", 3, 3, true, cmd_coupon_reserve, "MEMBER CODE KEY",
	 "set one use of a code aside for a checkout"},
	{"coupon", "release", 3, 3, true, cmd_coupon_release, "MEMBER RESERVATION KEY",
	 "give a reservation's use back"},
	{"coupon", "use", 3, 4, true, cmd_coupon_use, "MEMBER CODE KEY [RESERVATION]",
	 "use a code once"},
	{"coupon", "list", 1, 1, false, cmd_coupon_list, "MEMBER", "a member's codes, newest first"},
	{"grant", NULL, 4, 8, true, cmd_grant,
	 "KEY SEGMENT|--members FILE --points CURRENCY AMOUNT|--coupon COUPON [--reason TEXT]",
	 "give points or a coupon to a segment or listed members, once each under KEY"},
	{"badge", "grant", 3, 3, true, cmd_badge_grant, "MEMBER BADGE[:LEVEL] REASON",
	 "grant a badge (or a level of it), an honorary title no criterion gives"},
	{"badge", "revoke", 3, 3, true, cmd_badge_revoke, "MEMBER BADGE[:LEVEL] REASON",
	 "revoke a badge; the award stays in the history, marked revoked"},
	{"tier", "assign", 3, 4, true, cmd_tier_assign, "MEMBER TIER REASON [DAYS]",
	 "hold a member in a tier for DAYS, or until released (an invitation-only card)"},
	{"tier", "release", 2, 2, true, cmd_tier_release, "MEMBER REASON",
	 "end an assignment: the member holds the tier they qualify for"},
	{"leaderboard", "top", 1, 2, false, cmd_leaderboard_top, "NAME [N]",
	 "the top N (10) of a leaderboard's current period"},
	{"leaderboard", "rank", 2, 3, false, cmd_leaderboard_rank, "NAME MEMBER [NEIGHBOURS]",
	 "a member's rank, with NEIGHBOURS (2) above and below"},
	{"outbox", "read", 1, 4, true, cmd_outbox_read, "CONSUMER [--limit N] [--follow]",
	 "what happened after the consumer's acknowledged position (--follow: keep polling)"},
	{"outbox", "ack", 2, 2, true, cmd_outbox_ack, "CONSUMER POSITION",
	 "acknowledge every happening up to POSITION for the consumer"},
	{"outbox", "consumers", 0, 0, false, cmd_outbox_consumers, "",
	 "the consumers, their positions and how far behind they are"},
	{"notices", "sweep", 0, 0, true, cmd_notices_sweep, "",
	 "announce points about to expire and tiers at risk (each once) in the outbox"},
	{"tiers", "sweep", 0, 0, true, cmd_tiers_sweep, "", "review the tiers that are due"},
	{"expire", NULL, 0, 0, true, cmd_expire, "", "settle expiries, pending points and holds"},
	{"segments", "refresh", 0, 0, true, cmd_segments_refresh, "",
	 "refresh segments; print who entered and left"},
	{"segment", "list", 1, 1, false, cmd_segment_list, "NAME", "the members of a segment"},
	{"report", NULL, 0, 0, false, cmd_report, "",
	 "liability, flows, active members, retention, sizes, rewards and coupons"},
	{"verify", NULL, 0, 0, false, cmd_verify, "", "check the file and every invariant"},
	{"check-expr", NULL, 1, 1, false, cmd_check_expr, "EXPRESSION", "check an expression"},
	{"eval", NULL, 2, 2, false, cmd_eval, "MEMBER EXPRESSION",
	 "evaluate an expression for a member"},
	{NULL, NULL, 0, 0, false, NULL, NULL, NULL},
};

static void print_usage(FILE *out)
{
	fprintf(out, "usage: loyal [--db FILE|URI] [--json] [--wal-limit-mb N] COMMAND [ARGS]\n"
		     "  FILE defaults to ./loyal.db; the WAL beside it is copied back into it once\n"
		     "  it holds N MiB (default 64: lower it on a small volume); a postgresql://\n"
		     "  URI opens that PostgreSQL database instead\n"
		     "\ncommands:\n");
	for (const command *cmd = commands; cmd->name; cmd++) {
		char words[96];
		snprintf(words, sizeof words, "%s%s%s %s", cmd->name, cmd->sub ? " " : "",
			 cmd->sub ? cmd->sub : "", cmd->arguments);
		fprintf(out, "  %-44s %s\n", words, cmd->help);
	}
	fprintf(out, "\n`loyal COMMAND --help` explains one command.\n"
		     "exit codes: 0 ok, 1 data error, 2 usage error, 3 internal or I/O error\n");
}

static int usage_error(const char *problem)
{
	fprintf(stderr, "loyal: %s\n", problem);
	print_usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *path = "loyal.db";
	bool json = false;
	int64_t wal_limit_mb = 0;
	int arg = 1;
	for (; arg < argc && argv[arg][0] == '-'; arg++) {
		if (strcmp(argv[arg], "--help") == 0 || strcmp(argv[arg], "-h") == 0) {
			print_usage(stdout);
			return 0;
		} else if (strcmp(argv[arg], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[arg], "--db") == 0 && arg + 1 < argc) {
			path = argv[++arg];
		} else if (strcmp(argv[arg], "--wal-limit-mb") == 0 && arg + 1 < argc) {
			int status = parse_number(argv[++arg], "--wal-limit-mb", 1, 1 << 20,
						  &wal_limit_mb);
			if (status)
				return status;
		} else {
			return usage_error(strcmp(argv[arg], "--db") == 0 ? "--db needs a file name or a postgresql:// URI"
					   : strcmp(argv[arg], "--wal-limit-mb") == 0
						   ? "--wal-limit-mb needs a number of MiB"
						   : "unknown option");
		}
	}
	if (arg >= argc)
		return usage_error("no command given");
	if (strcmp(argv[arg], "version") == 0) {
		printf("loyal %s\n", loyal_version());
		return 0;
	}
	const command *cmd = NULL;
	for (const command *each = commands; each->name && !cmd; each++)
		if (strcmp(each->name, argv[arg]) == 0 &&
		    (!each->sub || (arg + 1 < argc && strcmp(each->sub, argv[arg + 1]) == 0)))
			cmd = each;
	if (!cmd)
		return usage_error("unknown command");
	arg += cmd->sub ? 2 : 1;
	if (arg < argc && strcmp(argv[arg], "--help") == 0) {
		printf("usage: loyal [--db FILE|URI] [--json] %s%s%s %s\n  %s\n", cmd->name,
		       cmd->sub ? " " : "", cmd->sub ? cmd->sub : "", cmd->arguments, cmd->help);
		return 0;
	}
	int count = argc - arg;
	if (count < cmd->min_args || count > cmd->max_args) {
		fprintf(stderr, "loyal: usage: loyal %s%s%s %s\n", cmd->name, cmd->sub ? " " : "",
			cmd->sub ? cmd->sub : "", cmd->arguments);
		return EXIT_USAGE;
	}
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	if (!cmd->writes)
		opts.flags = LOYAL_OPEN_READONLY;
	opts.wal_limit_bytes = wal_limit_mb * 1024 * 1024;
	cli c = {.json = json, .args = argv + arg, .count = count};
	int rc = loyal_open(path, &opts, &c.db);
	int status = rc == LOYAL_OK ? cmd->run(&c) : fail(c.db, rc);
	loyal_close(c.db);
	return status;
}
