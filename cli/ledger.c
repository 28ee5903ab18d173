/* ledger.c - the commands of points: events tracked and imported, credits, debits, holds,
 * reversals, transfers, and what a member's ledger shows (balance, statement, lots). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- events ---- */

static void show_postings(cli *c, const json_t *postings, const char *member)
{
	size_t i;
	json_t *p;
	json_array_foreach(postings, i, p) {
		char amount[64], until[48] = "";
		show_amount(get_int(p, "amount"), get_str(p, "currency"), amount, sizeof amount);
		if (json_is_integer(json_object_get(p, "pending_until"))) {
			char when[24];
			show_time(c, get_int(p, "pending_until"), when, sizeof when);
			snprintf(until, sizeof until, ", pending until %s", when);
		}
		const char *to = get_str(p, "member");
		printf("  +%-18s rule %s%s%s%s (transaction %lld)\n", amount, get_str(p, "rule"),
		       strcmp(to, member) ? " to " : "", strcmp(to, member) ? to : "", until,
		       (long long)get_int(p, "txn"));
	}
}

static void show_outcome(cli *c, const json_t *out)
{
	char when[24];
	show_time(c, get_int(out, "at"), when, sizeof when);
	const char *member = get_str(out, "member");
	printf("%s%s event %lld for %s at %s%s\n",
	       json_is_true(json_object_get(out, "dry_run")) ? "dry run, nothing written: " : "",
	       get_str(out, "type"), (long long)get_int(out, "event"), member, when,
	       json_is_true(json_object_get(out, "replayed")) ? " (recorded before under this key:"
								 " nothing changed)" : "");
	const json_t *postings = json_object_get(out, "postings");
	if (!json_array_size(postings))
		printf("  no points\n");
	show_postings(c, postings, member);
	size_t i;
	json_t *each;
	json_array_foreach(json_object_get(out, "skipped"), i, each)
		printf("  skipped rule %s: %s%s%s\n", get_str(each, "rule"), get_str(each, "reason"),
		       *get_str(each, "message") ? ": " : "", get_str(each, "message"));
	json_array_foreach(json_object_get(out, "tier_changes"), i, each)
		printf("  tier: %s -> %s\n",
		       json_is_string(json_object_get(each, "from")) ? get_str(each, "from") : "none",
		       json_is_string(json_object_get(each, "to")) ? get_str(each, "to") : "none");
	json_array_foreach(json_object_get(out, "badges"), i, each)
		printf("  badge: %s%s%s\n", get_str(each, "badge"),
		       json_is_string(json_object_get(each, "level")) ? " " : "",
		       get_str(each, "level"));
	json_array_foreach(json_object_get(out, "coupons"), i, each)
		printf("  coupon %s: code %s\n", get_str(each, "coupon"), get_str(each, "code"));
	json_array_foreach(json_object_get(out, "redemptions"), i, each)
		printf("  redeemed %s (redemption %lld)\n", get_str(each, "reward"),
		       (long long)get_int(each, "id"));
}

static int cmd_track(cli *c)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = c->args[0];
	event.type = c->args[1];
	event.idempotency_key = c->args[2];
	event.properties = c->count > 3 ? c->args[3] : NULL;
	event.flags = c->flag[F_DRY_RUN] ? LOYAL_DRY_RUN : 0;
	int status = flag_time(c, F_AT, 0, &event.at);
	char *json = NULL;
	return status ? status : take_json(c, loyal_track(c->db, &event, &json), &json);
}

/* One import line into event (strings borrowed from line, properties dumped into *properties,
 * the caller's); returns why it is rejected, or NULL. */
static const char *parse_event(cli *c, json_t *line, loyal_event *event, char **properties,
			       char *why, size_t size)
{
	if (!json_is_object(line))
		return "not a JSON object";
	json_t *member = json_object_get(line, "member"), *type = json_object_get(line, "type");
	json_t *key = json_object_get(line, "key"), *at = json_object_get(line, "at");
	json_t *props = json_object_get(line, "properties");
	if (!json_is_string(member) || !json_is_string(type) || !json_is_string(key))
		return "needs \"member\", \"type\" and \"key\" strings";
	event->at = 0;
	if (json_is_integer(at)) {
		event->at = json_integer_value(at);
	} else if (json_is_string(at)) {
		const char *problem = read_time(c, json_string_value(at), &event->at);
		if (problem) {
			snprintf(why, size, "\"at\": '%s' %s", json_string_value(at), problem);
			return why;
		}
	} else if (at && !json_is_null(at)) {
		return "\"at\" must be an ISO-8601 time or Unix milliseconds";
	}
	event->member = json_string_value(member);
	event->type = json_string_value(type);
	event->idempotency_key = json_string_value(key);
	*properties = props ? json_dumps(props, JSON_COMPACT) : NULL;
	event->properties = *properties;
	return NULL;
}

/* A rejected line, on stderr: for people, or as {"rejected": {"line", "message"}}. */
static void say_rejected(cli *c, bool tty, long number, const char *message)
{
	if (c->json) {
		json_t *line = json_pack("{s:{s:I,s:s}}", "rejected", "line", (json_int_t)number,
					 "message", message);
		print_json_line(stderr, line);
		json_decref(line);
	} else {
		fprintf(stderr, "%sline %ld: rejected: %s\n", tty ? "\r\033[K" : "", number,
			message);
	}
}

static bool is_failure_to_store(int rc)
{
	return rc == LOYAL_EIO || rc == LOYAL_ENOMEM || rc == LOYAL_EBUSY || rc == LOYAL_ECORRUPT ||
	       rc == LOYAL_EREADONLY || rc == LOYAL_EMISUSE;
}

/* Ends an import that failed to store: rolls back what its open batch held (a failed commit has
 * already ended it) and says the first error, with how many lines were committed before it. */
static int import_failed(cli *c, int rc, long committed, long number)
{
	int status = fail(c, rc);
	loyal_batch_rollback(c->db); /* LOYAL_ESTATE when the failed commit ended the batch */
	if (!c->json)
		fprintf(stderr, "loyal: lines 1-%ld were committed; lines %ld-%ld were not (import"
				" the file again: committed lines are replayed, not doubled)\n",
			committed, committed + 1, number);
	return status;
}

static void show_import(cli *c, const json_t *out)
{
	(void)c;
	printf("imported %lld, duplicates %lld, rejected %lld%s\n", (long long)get_int(out, "imported"),
	       (long long)get_int(out, "duplicates"), (long long)get_int(out, "rejected"),
	       json_is_true(json_object_get(out, "stopped"))
		       ? " (stopped: more rejected lines than --max-rejects)" : "");
}

/* Imports NDJSON events, committed in batches of 500; bad lines are said by number and
 * skipped. A failure to store stops the import: what was committed stays, and importing the
 * file again completes it (committed lines are replayed). */
static int cmd_import(cli *c)
{
	int status = 0;
	int64_t max_rejects = -1;
	if ((status = flag_number(c, F_MAX_REJECTS, 0, INT64_MAX, -1, &max_rejects)))
		return status;
	FILE *file = open_input(c, c->args[0], &status);
	if (!file)
		return status;
	bool tty = isatty(STDERR_FILENO) && !c->json;
	char *line = NULL, why[512];
	size_t capacity = 0;
	ssize_t length;
	long number = 0, committed = 0, imported = 0, duplicates = 0, rejected = 0;
	bool stopped = false;
	int rc = loyal_batch_begin(c->db);
	while (rc == LOYAL_OK && !stopped && (length = getline(&line, &capacity, file)) > 0) {
		number++;
		json_error_t error;
		bool has_nul = (size_t)length != strlen(line);
		json_t *line_json = has_nul ? NULL : json_loads(line, JSON_REJECT_DUPLICATES, &error);
		loyal_event event = LOYAL_EVENT_INIT;
		char *properties = NULL, *outcome = NULL;
		const char *problem = has_nul     ? "the line holds a NUL byte"
				      : line_json ? parse_event(c, line_json, &event, &properties,
								why, sizeof why)
						  : error.text;
		int result = problem ? LOYAL_EINVAL : loyal_track(c->db, &event, &outcome);
		if (result == LOYAL_OK && strstr(outcome, "\"replayed\":true"))
			duplicates++;
		else if (result == LOYAL_OK)
			imported++;
		else if (is_failure_to_store(result))
			rc = result;
		else {
			say_rejected(c, tty, number, problem ? problem : loyal_errmsg(c->db));
			rejected++;
			stopped = max_rejects >= 0 && rejected > max_rejects;
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
	free(line);
	if (file != stdin)
		fclose(file);
	if (rc == LOYAL_OK)
		rc = loyal_batch_commit(c->db);
	if (rc != LOYAL_OK)
		return import_failed(c, rc, committed, number);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (unreadable)
		return complain(c, EXIT_INTERNAL, "cannot read '%s' after line %ld", c->args[0],
				number);
	c->out = json_pack("{s:I,s:I,s:I,s:I,s:b}", "lines", (json_int_t)number, "imported",
			   (json_int_t)imported, "duplicates", (json_int_t)duplicates, "rejected",
			   (json_int_t)rejected, "stopped", stopped);
	/* The summary is the answer, yet a rejected line (past --max-rejects) is a failure. */
	if (rejected > (max_rejects < 0 ? 0 : max_rejects)) {
		print_answer(c);
		c->printed = true;
		return complain(c, EXIT_DATA, "%ld line%s rejected%s", rejected,
				rejected == 1 ? " was" : "s were",
				stopped ? ": the import stopped there (lines after it were not read)"
					: "");
	}
	return 0;
}

static void show_event_reversal(cli *c, const json_t *out)
{
	(void)c;
	size_t i;
	json_t *r;
	printf("event %lld reversed%s\n", (long long)get_int(out, "event"),
	       json_is_true(json_object_get(out, "replayed")) ? " (recorded before under this key)"
							       : "");
	json_array_foreach(json_object_get(out, "reversals"), i, r) {
		char amount[64];
		show_amount(get_int(r, "amount"), get_str(r, "currency"), amount, sizeof amount);
		printf("  -%s from %s (transaction %lld reverses %lld; %lld asked)\n", amount,
		       get_str(r, "member"), (long long)get_int(r, "reversal"),
		       (long long)get_int(r, "txn"), (long long)get_int(r, "requested"));
	}
}

/* event reverse MEMBER EVENT_KEY KEY [--part N/M] [--reason TEXT] */
static int cmd_event_reverse(cli *c)
{
	loyal_event_reversal r = LOYAL_EVENT_REVERSAL_INIT;
	r.member = c->args[0];
	r.event_key = c->args[1];
	r.idempotency_key = c->args[2];
	r.reason = c->flag[F_REASON];
	int status = flag_time(c, F_AT, 0, &r.at);
	const char *part = c->flag[F_PART];
	if (!status && part) {
		char numerator[32];
		const char *slash = strchr(part, '/');
		if (!slash || (size_t)(slash - part) >= sizeof numerator)
			return complain(c, EXIT_USAGE, "--part must be N/M (1/2: half), not '%s'", part);
		snprintf(numerator, sizeof numerator, "%.*s", (int)(slash - part), part);
		status = parse_number(c, numerator, "--part's N", 1, INT64_MAX, &r.part);
		if (!status)
			status = parse_number(c, slash + 1, "--part's M", 1, INT64_MAX, &r.whole);
	}
	char *json = NULL;
	return status ? status : take_json(c, loyal_event_reverse(c->db, &r, &json), &json);
}

/* ---- ledger calls ---- */

typedef int (*ledger_call)(loyal_db *, const loyal_posting *, loyal_result *);

static void show_result(cli *c, const json_t *out)
{
	char amount[64];
	show_amount(get_int(out, "amount"), get_str(out, "currency"), amount, sizeof amount);
	const char *to = get_str(out, "to");
	printf("%s%s %s %s %s%s%s: transaction %lld%s\n",
	       json_is_true(json_object_get(out, "dry_run")) ? "dry run, nothing written: " : "",
	       c->phrase, amount,
	       *to ? "from" : "for", get_str(out, "member"), *to ? " to " : "", to,
	       (long long)get_int(out, "txn"),
	       json_is_true(json_object_get(out, "replayed")) ? " (recorded before under this key:"
								 " nothing changed)" : "");
}

/* Runs one ledger call and makes its result the answer. */
static int post(cli *c, ledger_call call, loyal_posting *posting, const char *done)
{
	posting->reason = posting->reason ? posting->reason : c->flag[F_REASON];
	posting->cause = c->flag[F_CAUSE];
	posting->flags = c->flag[F_DRY_RUN] ? LOYAL_DRY_RUN : 0;
	int status = flag_time(c, F_AT, 0, &posting->at);
	if (status)
		return status;
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = call(c->db, posting, &result);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:I,s:s,s:s,s:I,s:b}", "txn", (json_int_t)result.txn, "member",
			   posting->member, "currency", posting->currency, "amount",
			   (json_int_t)result.amount, "replayed", result.replayed);
	c->phrase = done;
	if (posting->to_member)
		json_object_set_new(c->out, "to", json_string(posting->to_member));
	if (posting->flags & LOYAL_DRY_RUN)
		json_object_set_new(c->out, "dry_run", json_true());
	return 0;
}

/* MEMBER CURRENCY AMOUNT KEY: the posting of earn, spend, hold, adjust. */
static int posting_of(cli *c, loyal_posting *posting, int64_t minimum)
{
	posting->member = c->args[0];
	posting->currency = c->args[1];
	posting->idempotency_key = c->args[3];
	return parse_number(c, c->args[2], "AMOUNT", minimum, INT64_MAX, &posting->amount);
}

static int cmd_earn(cli *c)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	int64_t pending_days = 0;
	int status = posting_of(c, &posting, 1);
	if (!status)
		status = flag_number(c, F_PENDING_DAYS, 1, 3650, 0, &pending_days);
	if (!status)
		status = flag_time(c, F_EXPIRES, 0, &posting.expires_at);
	posting.pending_ms = pending_days * DAY_MS;
	return status ? status : post(c, loyal_ledger_credit, &posting, "earned");
}

static int cmd_spend(cli *c)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	int status = posting_of(c, &posting, 1);
	return status ? status : post(c, loyal_ledger_debit, &posting, "spent");
}

static int cmd_adjust(cli *c)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	int status = posting_of(c, &posting, INT64_MIN + 1);
	posting.reason = c->args[4];
	return status ? status : post(c, loyal_ledger_adjust, &posting, "adjusted");
}

static int cmd_hold(cli *c)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	int64_t days = 7, at = 0;
	int status = posting_of(c, &posting, 1);
	if (!status)
		status = flag_number(c, F_DAYS, 1, 3650, 7, &days);
	if (!status)
		status = flag_time(c, F_AT, now_ms(c), &at);
	posting.deadline = at + days * DAY_MS;
	return status ? status : post(c, loyal_ledger_hold, &posting, "held");
}

/* MEMBER CURRENCY TXN KEY [AMOUNT]: capture, release, reverse. */
static int settle(cli *c, ledger_call call, const char *what, const char *done)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = c->args[0];
	posting.currency = c->args[1];
	posting.idempotency_key = c->args[3];
	int status = parse_number(c, c->args[2], what, 1, INT64_MAX, &posting.txn);
	if (!status && c->count > 4)
		status = parse_number(c, c->args[4], "AMOUNT", 1, INT64_MAX, &posting.amount);
	return status ? status : post(c, call, &posting, done);
}

static int cmd_capture(cli *c) { return settle(c, loyal_ledger_capture, "HOLD", "captured"); }
static int cmd_release(cli *c) { return settle(c, loyal_ledger_release, "HOLD", "released"); }
static int cmd_reverse(cli *c) { return settle(c, loyal_ledger_reverse, "TXN", "reversed"); }

/* transfer MEMBER TO CURRENCY AMOUNT KEY */
static int cmd_transfer(cli *c)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = c->args[0];
	posting.to_member = c->args[1];
	posting.currency = c->args[2];
	posting.idempotency_key = c->args[4];
	int status = parse_number(c, c->args[3], "AMOUNT", 1, INT64_MAX, &posting.amount);
	return status ? status : post(c, loyal_ledger_transfer, &posting, "transferred");
}

/* ---- what the ledger shows ---- */

static void show_balance(cli *c, const json_t *out)
{
	const char *currency = get_str(out, "currency");
	char text[64];
	printf("%s, %s\n", get_str(out, "member"), currency);
	static const char *const parts[] = {"available", "pending", "held", "earned", "spent",
					    "expired"};
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		show_amount(get_int(out, parts[i]), currency, text, sizeof text);
		card(parts[i], text);
	}
	if (json_is_integer(json_object_get(out, "next_expiry_at"))) {
		char when[24], amount[64], line[128];
		show_date(c, get_int(out, "next_expiry_at"), when, sizeof when);
		show_amount(get_int(out, "next_expiry_amount"), currency, amount, sizeof amount);
		snprintf(line, sizeof line, "%s on %s", amount, when);
		card("next expiry", line);
	}
}

json_t *balance_json(const char *member, const char *currency, const loyal_balance *b)
{
	json_t *out = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "member", member, "currency",
				currency, "available", (json_int_t)b->available, "pending",
				(json_int_t)b->pending, "held", (json_int_t)b->held, "earned",
				(json_int_t)b->earned, "spent", (json_int_t)b->spent, "expired",
				(json_int_t)b->expired);
	json_object_set_new(out, "next_expiry_at",
			    b->next_expiry_at ? json_integer(b->next_expiry_at) : json_null());
	json_object_set_new(out, "next_expiry_amount", json_integer(b->next_expiry_amount));
	return out;
}

static int cmd_balance(cli *c)
{
	loyal_balance b = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(c->db, c->args[0], c->args[1], 0, &b);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = balance_json(c->args[0], c->args[1], &b);
	return 0;
}

static const column statement_columns[] = {
	{"TXN", "txn", COL_ID},	  {"WHEN", "at", COL_TIME},	{"KIND", "kind", COL_TEXT},
	{"AMOUNT", "amount", COL_AMOUNT}, {"REASON", "reason", COL_TEXT}, {"CAUSE", "cause", COL_TEXT},
};

static void show_statement(cli *c, const json_t *out)
{
	TABLE(c, out, statement_columns, "no transactions");
	int64_t limit = 0;
	flag_number(c, F_LIMIT, 1, INT64_MAX, 20, &limit);
	if (json_array_size(out) == (size_t)limit)
		printf("(older: loyal statement %s --before %lld%s%s)\n", c->args[0],
		       (long long)get_int(json_array_get(out, json_array_size(out) - 1), "txn"),
		       c->flag[F_CURRENCY] ? " --currency " : "",
		       c->flag[F_CURRENCY] ? c->flag[F_CURRENCY] : "");
}

/* statement MEMBER [--currency C] [--limit N (20)] [--before TXN] */
static int cmd_statement(cli *c)
{
	int64_t limit = 0, before = 0;
	int status = flag_number(c, F_LIMIT, 1, INT64_MAX, 20, &limit);
	if (!status)
		status = flag_number(c, F_BEFORE, 1, INT64_MAX, 0, &before);
	if (status)
		return status;
	loyal_cursor *cursor = NULL;
	int rc = loyal_ledger_statement(c->db, c->args[0], c->flag[F_CURRENCY], before, &cursor);
	return take_some_rows(c, rc, &cursor, limit);
}

static void show_transaction(cli *c, const json_t *out)
{
	char text[160];
	printf("transaction %lld\n", (long long)get_int(out, "txn"));
	static const char *const keys[] = {"member", "kind", "amount", "at", "reason", "cause",
					   "reverses", "counterpart"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		if (strcmp(keys[i], "amount") == 0)
			show_amount(get_int(out, "amount"), get_str(out, "currency"), text,
				    sizeof text);
		else
			show_value(c, keys[i], json_object_get(out, keys[i]), text, sizeof text);
		card(keys[i], text);
	}
	static const column entries[] = {
		{"FROM", "from", COL_TEXT}, {"TO", "to", COL_TEXT}, {"AMOUNT", "amount", COL_NUMBER}};
	printf("\nentries:\n");
	TABLE(c, json_object_get(out, "entries"), entries, "none");
	static const column moves[] = {
		{"LOT", "lot", COL_ID}, {"KIND", "kind", COL_TEXT}, {"AMOUNT", "amount", COL_NUMBER}};
	printf("\nlot moves:\n");
	TABLE(c, json_object_get(out, "moves"), moves, "none");
}

static int cmd_transaction(cli *c)
{
	int64_t txn = 0;
	int status = parse_number(c, c->args[0], "TXN", 1, INT64_MAX, &txn);
	char *json = NULL;
	return status ? status : take_json(c, loyal_ledger_transaction(c->db, txn, &json), &json);
}

static void show_explain(cli *c, const json_t *out)
{
	const char *currency = get_str(out, "currency");
	char text[64];
	printf("%s, %s\n", get_str(out, "member"), currency);
	static const char *const parts[] = {"available", "pending", "held", "debt"};
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		show_amount(get_int(out, parts[i]), currency, text, sizeof text);
		card(parts[i], text);
	}
	static const column lots[] = {
		{"LOT", "lot", COL_ID},	      {"EARNED", "earned_at", COL_TIME},
		{"AMOUNT", "amount", COL_NUMBER},     {"LEFT", "remaining", COL_NUMBER},
		{"EXPIRES", "expires_at", COL_DATE},  {"PENDING UNTIL", "pending_until", COL_DATE},
		{"TXN", "txn", COL_ID},
	};
	printf("\nlots, soonest expiry first:\n");
	TABLE(c, json_object_get(out, "lots"), lots, "none");
}

static int cmd_explain(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_ledger_explain(c->db, c->args[0], c->args[1], &json), &json);
}

static const column expiring_columns[] = {
	{"MEMBER", "member", COL_TEXT},
	{"AMOUNT", "amount", COL_AMOUNT},
	{"EXPIRES", "expires_at", COL_TIME},
};

static void show_expiring(cli *c, const json_t *out)
{
	TABLE(c, out, expiring_columns, "no points expire in that time");
}

/* expiring [--currency C] [--from DATE (now)] [--to DATE (30 days on)] [--after M] [--limit N] */
static int cmd_expiring(cli *c)
{
	int64_t from = 0, to = 0, limit = 0;
	int status = window_flags(c, &from, &to, &limit);
	if (status)
		return status;
	loyal_cursor *cursor = NULL;
	int rc = loyal_points_expiring(c->db, c->flag[F_CURRENCY], from, to, c->flag[F_AFTER],
				       &cursor);
	return take_some_rows(c, rc, &cursor, limit);
}


static const flag_id track_flags[] = {F_AT, F_DRY_RUN, F_COUNT};
static const flag_id import_flags[] = {F_MAX_REJECTS, F_COUNT};
static const flag_id earn_flags[] = {F_REASON,  F_CAUSE,	 F_AT,	F_EXPIRES,
				     F_PENDING_DAYS, F_DRY_RUN, F_COUNT};
static const flag_id post_flags[] = {F_REASON, F_CAUSE, F_AT, F_DRY_RUN, F_COUNT};
static const flag_id hold_flags[] = {F_DAYS, F_REASON, F_CAUSE, F_AT, F_DRY_RUN, F_COUNT};
static const flag_id reversal_flags[] = {F_PART, F_REASON, F_AT, F_COUNT};
static const flag_id statement_flags[] = {F_CURRENCY, F_LIMIT, F_BEFORE, F_COUNT};
static const flag_id expiring_flags[] = {F_CURRENCY, F_FROM, F_TO, F_AFTER, F_LIMIT, F_COUNT};

const command ledger_commands[] = {
	{"track", NULL, "MEMBER TYPE KEY [PROPERTIES]", track_flags, OPEN_WRITE, cmd_track,
	 show_outcome, "record an event through the earning rules",
	 "PROPERTIES is a JSON object. KEY makes the call idempotent: the same KEY again replays"
	 " the first outcome.",
	 "loyal track alice purchase order-1001 '{\"amount\": 129.90}'\n"
	 "loyal track alice check_in checkin-2026-12-01 --at 2026-12-01T08:30\n"
	 "loyal track alice purchase cart-77 '{\"amount\": 59}' --dry-run   # what it would earn"},
	{"import", NULL, "FILE|-", import_flags, OPEN_WRITE, cmd_import, show_import,
	 "import events, one JSON object per line",
	 "Each line: {\"member\", \"type\", \"key\", \"at\" (ISO 8601 or Unix ms; default now),"
	 " \"properties\"}.\nLines are committed 500 at a time; a rejected line is said by"
	 " number on stderr and skipped.\nThe exit code is 1 when a line was rejected (beyond"
	 " --max-rejects). Importing a file again\nreplays the lines already imported: nothing"
	 " is counted twice.",
	 "loyal import events.ndjson\nloyal import - --max-rejects 10 < events.ndjson"},
	{"event", "reverse", "MEMBER EVENT_KEY KEY", reversal_flags, OPEN_WRITE, cmd_event_reverse,
	 show_event_reversal, "reverse the points an event earned (a returned order)",
	 "EVENT_KEY is the key the event was tracked with; KEY is this reversal's.",
	 "loyal event reverse alice order-1001 return-1001\n"
	 "loyal event reverse alice order-1001 partial-return-1001 --part 1/2"},
	{"earn", NULL, "MEMBER CURRENCY AMOUNT KEY", earn_flags, OPEN_WRITE, cmd_earn, show_result,
	 "credit points", NULL,
	 "loyal earn alice points 100 welcome-alice\n"
	 "loyal earn alice points 50 survey-7 --reason 'survey answered' --pending-days 14"},
	{"spend", NULL, "MEMBER CURRENCY AMOUNT KEY", post_flags, OPEN_WRITE, cmd_spend,
	 show_result, "debit points, soonest-expiring first", NULL,
	 "loyal spend alice points 40 coffee-2026-12-01"},
	{"hold", NULL, "MEMBER CURRENCY AMOUNT KEY", hold_flags, OPEN_WRITE, cmd_hold, show_result,
	 "reserve points for --days (7): capture or release the hold later", NULL,
	 "loyal hold alice points 200 cart-77 --days 2"},
	{"capture", NULL, "MEMBER CURRENCY HOLD KEY [AMOUNT]", post_flags, OPEN_WRITE, cmd_capture,
	 show_result, "spend a hold (default: all of it; the rest is released)", NULL,
	 "loyal capture alice points 812 cart-77-paid"},
	{"release", NULL, "MEMBER CURRENCY HOLD KEY", post_flags, OPEN_WRITE, cmd_release,
	 show_result, "release a hold", NULL, "loyal release alice points 812 cart-77-dropped"},
	{"reverse", NULL, "MEMBER CURRENCY TXN KEY [AMOUNT]", post_flags, OPEN_WRITE, cmd_reverse,
	 show_result, "reverse a transaction (default: all that is left of it)", NULL,
	 "loyal reverse alice points 812 refund-812"},
	{"adjust", NULL, "MEMBER CURRENCY AMOUNT KEY REASON", post_flags, OPEN_WRITE, cmd_adjust,
	 show_result, "a manual correction (AMOUNT may be negative)", NULL,
	 "loyal adjust alice points -30 fix-receipt-9 'receipt typed twice'"},
	{"transfer", NULL, "MEMBER TO CURRENCY AMOUNT KEY", post_flags, OPEN_WRITE, cmd_transfer,
	 show_result, "move points from one member to another (a gift, a family pool)", NULL,
	 "loyal transfer alice bob points 100 gift-alice-bob-1"},
	{"balance", NULL, "MEMBER CURRENCY", NULL, OPEN_READ, cmd_balance, show_balance,
	 "a balance: available, pending, held, and the next expiry", NULL,
	 "loyal balance alice points"},
	{"statement", NULL, "MEMBER", statement_flags, OPEN_READ, cmd_statement, show_statement,
	 "a member's transactions, newest first (20 a page)", NULL,
	 "loyal statement alice\nloyal statement alice --currency points --limit 50\n"
	 "loyal statement alice --before 812"},
	{"transaction", NULL, "TXN", NULL, OPEN_READ, cmd_transaction, show_transaction,
	 "one transaction: its entries and the lots it moved", NULL, "loyal transaction 812"},
	{"explain", NULL, "MEMBER CURRENCY", NULL, OPEN_READ, cmd_explain, show_explain,
	 "the lots behind a balance, soonest expiry first", NULL, "loyal explain alice points"},
	{"expiring", NULL, "", expiring_flags, OPEN_READ, cmd_expiring, show_expiring,
	 "who has points expiring from --from (now) to --to (30 days later)", NULL,
	 "loyal expiring --currency points\nloyal expiring --from 2027-01-01 --to 2027-02-01"},
	{NULL, NULL, NULL, NULL, OPEN_NONE, NULL, NULL, NULL, NULL, NULL},
};
