/* program.c - the commands of the program and its operators: the database and the program
 * document, expressions, sweeps, the outbox, the report, and verification. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the database and the program ---- */

static void show_ready(cli *c, const json_t *out)
{
	(void)c;
	printf("ready: %s\n", get_str(out, "database"));
}

static int cmd_init(cli *c)
{
	c->out = json_pack("{s:s,s:b}", "database", c->path, "ready", 1);
	return 0;
}

static void show_applied(cli *c, const json_t *out)
{
	(void)c;
	printf("program version %lld applied\n", (long long)get_int(out, "version"));
}

static int cmd_program_apply(cli *c)
{
	int status = 0;
	char *text = read_text(c, c->args[0], &status);
	if (!text)
		return status;
	int64_t version = 0;
	int rc = loyal_program_apply(c->db, text, &version);
	free(text);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:I}", "version", (json_int_t)version);
	return 0;
}

/* The document as applied: indented for people, one line under --json, never rewritten. */
static int cmd_program_show(cli *c)
{
	char *json = NULL;
	int status = take_json(c, loyal_program_get(c->db, &json), &json);
	if (status)
		return status;
	char *text = json_dumps(c->out, c->json ? JSON_COMPACT : JSON_INDENT(2));
	printf("%s\n", text ? text : "");
	free(text);
	c->printed = true;
	return 0;
}

static void show_check(cli *c, const json_t *out)
{
	(void)c;
	printf("valid: a %s expression\n", get_str(out, "type"));
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(out, "measures"), i, m) {
		int64_t window = get_int(m, "window_ms");
		if (window)
			printf("  reads %s(%s, %lldd)\n", get_str(m, "function"), get_str(m, "name"),
			       (long long)(window / DAY_MS));
		else
			printf("  reads %s(%s)\n", get_str(m, "function"), get_str(m, "name"));
	}
}

static int cmd_check_expr(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_criteria_check(c->db, c->args[0], &json), &json);
}

static void show_eval(cli *c, const json_t *out)
{
	char text[512];
	show_value(c, NULL, json_object_get(out, "value"), text, sizeof text);
	printf("%s (%s)\n", json_is_null(json_object_get(out, "value")) ? "missing" : text,
	       get_str(out, "type"));
}

static int cmd_eval(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_criteria_eval(c->db, c->args[1], c->args[0],
						c->flag[F_PROPERTIES], &json),
			 &json);
}

static const flag_id eval_flags[] = {F_PROPERTIES, F_COUNT};

const command program_commands[] = {
	{"init", NULL, "", NULL, OPEN_CREATE, cmd_init, show_ready,
	 "create the database (or migrate an older file forward)",
	 "The only command that creates a file; every other one says when the file is missing.",
	 "loyal init\nloyal --db shop.db init\nloyal --db postgresql:///loyalty init"},
	{"program", "apply", "FILE", NULL, OPEN_WRITE, cmd_program_apply, show_applied,
	 "apply a program document (JSON): currencies, rules, tiers, badges, segments, rewards",
	 NULL, "loyal program apply program.json"},
	{"program", "show", "", NULL, OPEN_READ, cmd_program_show, NULL,
	 "print the current program document", NULL, "loyal program show"},
	{"check-expr", NULL, "EXPRESSION", NULL, OPEN_READ, cmd_check_expr, show_check,
	 "check a criteria expression against the program: its type and what it reads", NULL,
	 "loyal check-expr 'count(check_in, 30d) >= 20'"},
	{"eval", NULL, "MEMBER EXPRESSION", eval_flags, OPEN_READ, cmd_eval, show_eval,
	 "evaluate an expression for a member now (--properties: as if for that event)", NULL,
	 "loyal eval alice 'earned(points, 365d)'\n"
	 "loyal eval alice 'event.amount > 100' --properties '{\"amount\": 120}'"},
	{NULL, NULL, NULL, NULL, OPEN_NONE, NULL, NULL, NULL, NULL, NULL},
};

/* ---- sweeps ---- */

static int cmd_expire(cli *c)
{
	int64_t settled = 0;
	int rc = loyal_expire(c->db, 0, &settled);
	return count_answer(c, rc, "settled", settled,
			    "balances settled (expiries, pending points, holds)");
}

static int cmd_notices_sweep(cli *c)
{
	int64_t count = 0;
	int rc = loyal_notice_sweep(c->db, 0, &count);
	return count_answer(c, rc, "notices", count, "notices written to the outbox");
}

/* ---- the outbox ---- */

/* One happening as a line for people: position, time, kind, member, body. */
static void print_happening(cli *c, const json_t *h)
{
	char when[24];
	show_time(c, get_int(h, "at"), when, sizeof when);
	printf("%8lld  %s  %-18s %-16s", (long long)get_int(h, "position"), when,
	       get_str(h, "kind"), get_str(h, "member"));
	const char *key;
	json_t *value;
	json_object_foreach(json_object_get(h, "body"), key, value) {
		char text[256];
		show_value(c, key, value, text, sizeof text);
		printf(" %s=%s", key, text);
	}
	printf("\n");
}

static void show_happenings(cli *c, const json_t *out)
{
	size_t i;
	json_t *h;
	if (!json_array_size(out))
		printf("nothing new\n");
	json_array_foreach(out, i, h)
		print_happening(c, h);
}

/* outbox read CONSUMER [--limit N] [--follow]: what happened after the consumer's acknowledged
 * position (acknowledging nothing); --follow polls each second and prints as it comes. */
static int cmd_outbox_read(cli *c)
{
	int64_t limit = 0;
	int status = flag_number(c, F_LIMIT, 1, INT64_MAX, 0, &limit);
	if (status)
		return status;
	bool follow = c->flag[F_FOLLOW] != NULL;
	int64_t shown = 0; /* a follower shows each happening once, though it acknowledges none */
	c->out = json_array();
	for (;;) {
		loyal_cursor *cursor = NULL;
		int rc = loyal_outbox_read(c->db, c->args[0], limit, &cursor);
		if (rc != LOYAL_OK)
			return fail(c, rc);
		const char *row = NULL;
		while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row) {
			json_t *h = parse_json(row);
			int64_t position = get_int(h, "position");
			if (position <= shown) {
				json_decref(h);
				continue;
			}
			shown = position;
			if (!follow)
				json_array_append_new(c->out, h);
			else if (c->json)
				print_json_line(stdout, h);
			else
				print_happening(c, h);
			if (follow)
				json_decref(h);
		}
		loyal_cursor_free(cursor);
		if (rc != LOYAL_OK)
			return fail(c, rc);
		if (!follow)
			return 0;
		c->printed = true;
		fflush(stdout);
		sleep(1);
	}
}

static void show_ack(cli *c, const json_t *out)
{
	(void)c;
	printf("%s acknowledged up to %lld\n", get_str(out, "consumer"),
	       (long long)get_int(out, "position"));
}

static int cmd_outbox_ack(cli *c)
{
	int64_t position = 0;
	int status = parse_number(c, c->args[1], "POSITION", 0, INT64_MAX, &position);
	if (status)
		return status;
	int rc = loyal_outbox_ack(c->db, c->args[0], position);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:s,s:I}", "consumer", c->args[0], "position", (json_int_t)position);
	return 0;
}

static void show_consumers(cli *c, const json_t *out)
{
	static const column columns[] = {
		{"CONSUMER", "consumer", COL_TEXT},
		{"POSITION", "position", COL_ID},
		{"BEHIND", "behind", COL_NUMBER},
		{"ACKNOWLEDGED", "acked_at", COL_TIME},
	};
	TABLE(c, json_object_get(out, "consumers"), columns, "no consumers yet");
	printf("newest position: %lld\n", (long long)get_int(out, "newest"));
}

static int cmd_outbox_consumers(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_outbox_consumers(c->db, &json), &json);
}

static void show_forgotten(cli *c, const json_t *out)
{
	printf(json_is_true(json_object_get(out, "forgotten")) ? "forgot %s\n"
							       : "no consumer %s: nothing changed\n",
	       c->args[0]);
	(void)out;
}

static int cmd_outbox_forget(cli *c)
{
	int found = 0;
	int rc = loyal_outbox_forget(c->db, c->args[0], &found);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:b}", "forgotten", found);
	return 0;
}

/* ---- the report ---- */

static void show_period(cli *c, int64_t ms, const char *period, char *out, size_t size)
{
	show_date(c, ms, out, size);
	if (strcmp(period, "month") == 0 && size > 7)
		out[7] = '\0';
}

static void show_retention(cli *c, const json_t *cohorts, const char *period)
{
	size_t widest = 0, i;
	json_t *cohort;
	json_array_foreach(cohorts, i, cohort) {
		size_t n = json_array_size(json_object_get(cohort, "share"));
		widest = n > widest ? n : widest;
	}
	printf("\nretention: of the members who joined in each %s (the cohort), the share active"
	       " 0, 1, 2... %ss later\n", period, period);
	if (!json_array_size(cohorts)) {
		printf("no member joined in that time\n");
		return;
	}
	printf("%-10s %8s", "COHORT", "MEMBERS");
	for (size_t k = 0; k < widest; k++) {
		char label[24];
		snprintf(label, sizeof label, "+%zu", k);
		printf("  %6s", label);
	}
	printf("\n");
	json_array_foreach(cohorts, i, cohort) {
		char label[16];
		show_period(c, get_int(cohort, "cohort"), period, label, sizeof label);
		printf("%-10s %8lld", label, (long long)get_int(cohort, "members"));
		size_t k;
		json_t *share;
		json_array_foreach(json_object_get(cohort, "share"), k, share)
			printf("  %5.0f%%", json_number_value(share) * 100);
		printf("\n");
	}
}

static void show_report(cli *c, const json_t *out)
{
	char from[16], to[16];
	const char *period = get_str(out, "periods");
	show_date(c, get_int(out, "from"), from, sizeof from);
	show_date(c, get_int(out, "to") - 1, to, sizeof to);
	printf("report from %s to %s, by %s\n\nliability now:\n", from, to, period);
	static const column liability[] = {
		{"CURRENCY", "currency", COL_TEXT},  {"AVAILABLE", "available", COL_NUMBER},
		{"PENDING", "pending", COL_NUMBER},  {"HELD", "held", COL_NUMBER},
		{"DEBT", "debt", COL_NUMBER},	     {"OUTSTANDING", "outstanding", COL_NUMBER},
		{"MEMBERS", "members", COL_NUMBER},
	};
	TABLE(c, json_object_get(out, "liability"), liability, "no currencies");
	printf("\npoints in the period:\n");
	static const column flows[] = {
		{"CURRENCY", "currency", COL_TEXT},   {"ISSUED", "issued", COL_NUMBER},
		{"REDEEMED", "redeemed", COL_NUMBER}, {"EXPIRED", "expired", COL_NUMBER},
		{"ADJUSTED", "adjusted", COL_NUMBER}, {"REVERSED", "reversed", COL_NUMBER},
		{"BREAKAGE", "breakage", COL_PERCENT},
	};
	TABLE(c, json_object_get(out, "flows"), flows, "no currencies");
	printf("\nactive members by %s:\n", period);
	size_t i;
	json_t *row;
	int64_t most = 1;
	json_array_foreach(json_object_get(out, "active"), i, row)
		most = get_int(row, "active") > most ? get_int(row, "active") : most;
	json_array_foreach(json_object_get(out, "active"), i, row) {
		char label[16];
		show_period(c, get_int(row, "period"), period, label, sizeof label);
		int bars = (int)(get_int(row, "active") * 40 / most);
		printf("%-10s %8lld  %.*s\n", label, (long long)get_int(row, "active"), bars,
		       "########################################");
	}
	const json_t *sizes = json_object_get(out, "sizes");
	static const char *const groups[] = {"tiers", "segments"};
	for (size_t g = 0; g < 2; g++) {
		printf("\n%s%s:", groups[g], g ? " (as last refreshed)" : " now");
		const char *name, *separator = " ";
		json_t *count;
		json_object_foreach(json_object_get(sizes, groups[g]), name, count) {
			printf("%s%s %lld", separator, name, (long long)json_integer_value(count));
			separator = ", ";
		}
		printf("%s\n", *separator == ' ' ? " none" : "");
	}
	const json_t *rewards = json_object_get(out, "rewards");
	json_t *rows = json_deep_copy(json_object_get(rewards, "rewards"));
	json_array_foreach(rows, i, row) {
		const json_t *states = json_object_get(row, "redemptions");
		const char *state;
		json_t *n;
		json_object_foreach((json_t *)states, state, n)
			json_object_set(row, state, n);
	}
	printf("\nrewards in the period:\n");
	static const column reward_columns[] = {
		{"REWARD", "reward", COL_TEXT},	      {"PENDING", "pending", COL_NUMBER},
		{"FULFILLED", "fulfilled", COL_NUMBER}, {"CANCELLED", "cancelled", COL_NUMBER},
		{"EXPIRED", "expired", COL_NUMBER},   {"UNITS", "units", COL_NUMBER},
		{"MEMBERS", "members", COL_NUMBER},   {"STOCK LEFT", "stock_left", COL_NUMBER},
	};
	TABLE(c, rows, reward_columns, "no rewards");
	json_decref(rows);
	printf("\ncoupons in the period:\n");
	static const column coupon_columns[] = {
		{"COUPON", "coupon", COL_TEXT},	    {"ISSUED", "issued", COL_NUMBER},
		{"USED", "used", COL_NUMBER},	    {"USE RATE", "use_rate", COL_PERCENT},
		{"POOL LEFT", "pool_left", COL_NUMBER},
	};
	TABLE(c, json_object_get(rewards, "coupons"), coupon_columns, "no coupons");
	show_retention(c, json_object_get(out, "retention"), period);
}

static void report_charts(cli *c, FILE *out);

/* report [--from DATE] [--to DATE] [--period day|week|month] [--html FILE] */
static int cmd_report(cli *c)
{
	int64_t to = 0, from = 0;
	int status = flag_time(c, F_TO, now_ms(c) + 1, &to);
	if (!status)
		status = flag_time(c, F_FROM, to - 365 * DAY_MS, &from);
	if (status)
		return status;
	const char *period = c->flag[F_PERIOD] ? c->flag[F_PERIOD] : "month";
	if (strcmp(period, "day") && strcmp(period, "week") && strcmp(period, "month"))
		return complain(c, EXIT_USAGE, "--period must be day, week or month, not '%s'",
				period);
	if (from >= to)
		return complain(c, EXIT_USAGE, "--from must be before --to");
	char *liability = NULL, *flows = NULL, *active = NULL, *retention = NULL, *sizes = NULL,
	     *rewards = NULL;
	int rc = loyal_report_liability(c->db, &liability);
	if (rc == LOYAL_OK)
		rc = loyal_report_flows(c->db, from, to, &flows);
	if (rc == LOYAL_OK)
		rc = loyal_report_active(c->db, period, from, to, &active);
	if (rc == LOYAL_OK)
		rc = loyal_report_retention(c->db, period, from, to, &retention);
	if (rc == LOYAL_OK)
		rc = loyal_report_sizes(c->db, &sizes);
	if (rc == LOYAL_OK)
		rc = loyal_report_rewards(c->db, from, to, &rewards);
	if (rc == LOYAL_OK)
		c->out = json_pack("{s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "from", (json_int_t)from,
				   "to", (json_int_t)to, "periods", period, "liability",
				   parse_json(liability), "flows", parse_json(flows), "active",
				   parse_json(active), "retention", parse_json(retention), "sizes",
				   parse_json(sizes), "rewards", parse_json(rewards));
	loyal_free(liability);
	loyal_free(flows);
	loyal_free(active);
	loyal_free(retention);
	loyal_free(sizes);
	loyal_free(rewards);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	return c->flag[F_HTML] ? html_page(c, c->flag[F_HTML], "Report of the program", report_charts)
			       : 0;
}

static void show_verified(cli *c, const json_t *out)
{
	(void)c;
	(void)out;
	printf("verified: no problem found\n");
}

static int cmd_verify(cli *c)
{
	int rc = loyal_verify(c->db);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:b}", "verified", 1);
	return 0;
}

/* The number under `key` in each of rows (a missing or null one as 0). */
static json_t *column_of(const json_t *rows, const char *key)
{
	json_t *values = json_array(), *row;
	size_t i;
	json_array_foreach(rows, i, row) {
		json_t *value = json_object_get(row, key);
		json_array_append_new(values, json_is_number(value) ? json_copy(value) : json_integer(0));
	}
	return values;
}

/* The currencies of each month (a simulation's): currency i's rows, one per month. */
static json_t *currency_rows(const json_t *months, size_t i)
{
	json_t *rows = json_array(), *month;
	size_t k;
	json_array_foreach(months, k, month)
		json_array_append(rows, json_array_get(json_object_get(month, "currencies"), i));
	return rows;
}

/* A chart of one number of every currency per month. */
static void currency_chart(cli *c, FILE *out, const char *heading, const json_t *times,
			   const json_t *months, const char *key, bool percent)
{
	json_t *names = json_array(), *series = json_array(), *currency;
	size_t i;
	json_array_foreach(json_object_get(json_array_get(months, 0), "currencies"), i, currency) {
		json_t *rows = currency_rows(months, i);
		json_array_append(names, json_object_get(currency, "currency"));
		json_array_append_new(series, column_of(rows, key));
		json_decref(rows);
	}
	html_lines(c, out, heading, times, names, series, percent);
	json_decref(names);
	json_decref(series);
}

static void simulation_charts(cli *c, FILE *out)
{
	const json_t *months = json_object_get(c->out, "months");
	json_t *times = column_of(months, "month"), *currency, *month;
	currency_chart(c, out, "Liability at each month's end", times, months, "liability", false);
	currency_chart(c, out, "Breakage (expired / issued) by month", times, months, "breakage",
		       true);
	size_t i;
	json_array_foreach(json_object_get(json_array_get(months, 0), "currencies"), i, currency) {
		json_t *rows = currency_rows(months, i);
		json_t *names = json_pack("[sss]", "issued", "redeemed", "expired");
		json_t *series = json_pack("[ooo]", column_of(rows, "issued"),
					   column_of(rows, "redeemed"), column_of(rows, "expired"));
		char heading[128];
		snprintf(heading, sizeof heading, "%s issued, redeemed and expired by month",
			 json_string_value(json_object_get(currency, "currency")));
		html_lines(c, out, heading, times, names, series, false);
		json_decref(rows);
		json_decref(names);
		json_decref(series);
	}
	json_t *names = json_pack("[ss]", "members", "active");
	json_t *series = json_pack("[oo]", column_of(months, "members"), column_of(months, "active"));
	html_lines(c, out, "Members and active members by month", times, names, series, false);
	json_decref(names);
	json_decref(series);
	/* The tiers, in the order they first appear, and their sizes per month. */
	json_t *tiers = json_object(), *sizes = json_array();
	json_array_foreach(months, i, month) {
		const char *tier;
		json_t *count;
		json_object_foreach(json_object_get(month, "tiers"), tier, count)
			if (!json_object_get(tiers, tier))
				json_object_set_new(tiers, tier, json_integer(0));
		json_array_append(sizes, json_object_get(month, "tiers"));
	}
	names = json_array();
	series = json_array();
	const char *tier;
	json_t *unused;
	json_object_foreach(tiers, tier, unused) {
		json_array_append_new(names, json_string(tier));
		json_array_append_new(series, column_of(sizes, tier));
	}
	if (json_array_size(names))
		html_stacks(c, out, "Tier distribution at each month's end", times, names, series);
	json_decref(tiers);
	json_decref(sizes);
	json_decref(names);
	json_decref(series);
	json_decref(times);
}

static void report_charts(cli *c, FILE *out)
{
	const json_t *active = json_object_get(c->out, "active");
	json_t *times = column_of(active, "period");
	json_t *names = json_pack("[s]", "active members");
	json_t *series = json_pack("[o]", column_of(active, "active"));
	html_lines(c, out, "Active members by period", times, names, series, false);
	html_heat(c, out, "Retention by join cohort (share active k periods after joining)",
		  json_object_get(c->out, "retention"));
	json_decref(times);
	json_decref(names);
	json_decref(series);
}

/* simulate PROGRAM.json [--population N] [--days D] [--seed S] [--profile P] [--from DATE]
 * [--into FILE]: on FILE (which must be new) or on a temporary database removed after. */
static int cmd_simulate(cli *c)
{
	loyal_simulation s = LOYAL_SIMULATION_INIT;
	int64_t seed = 1;
	int status = flag_number(c, F_POPULATION, 1, 10000000, 1000, &s.members);
	if (!status)
		status = flag_number(c, F_DAYS, 1, 3660, 365, &s.days);
	if (!status)
		status = flag_number(c, F_SEED, 0, INT64_MAX, 1, &seed);
	if (!status)
		status = flag_time(c, F_FROM, 0, &s.start);
	if (status)
		return status;
	s.seed = (uint64_t)seed;
	s.profile = c->flag[F_PROFILE];
	char *program = read_text(c, c->args[0], &status);
	if (!program)
		return status;
	s.program = program;
	char folder[] = "/tmp/loyal-simulate-XXXXXX", path[64] = "";
	const char *into = c->flag[F_INTO];
	struct stat info;
	if (into && stat(into, &info) == 0)
		status = complain(c, EXIT_DATA, "--into '%s' exists: the simulation needs a new "
				  "database", into);
	else if (!into && !mkdtemp(folder))
		status = complain(c, EXIT_INTERNAL, "cannot make a temporary folder: %s",
				  strerror(errno));
	if (!into)
		snprintf(path, sizeof path, "%s/simulation.db", folder);
	int rc = LOYAL_OK;
	/* The temporary file is removed after: nothing of it needs syncing. */
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.durability = into ? LOYAL_DURABILITY_PROCESS : LOYAL_DURABILITY_SCRATCH;
	if (!status)
		rc = loyal_open(into ? into : path, &opts, &c->db);
	char *report = NULL;
	if (!status && rc == LOYAL_OK)
		rc = loyal_simulate(c->db, &s, &report);
	if (!status && rc != LOYAL_OK)
		status = fail(c, rc);
	if (!status)
		c->out = parse_json(report);
	if (!status && c->flag[F_HTML])
		status = html_page(c, c->flag[F_HTML], "Forecast of the program", simulation_charts);
	loyal_free(report);
	free(program);
	if (!into && *path) {
		loyal_close(c->db);
		c->db = NULL;
		static const char *const suffixes[] = {"", "-wal", "-shm"};
		for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
			char file[96];
			snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
			unlink(file);
		}
		rmdir(folder);
	}
	return status;
}

/* ---- whatif ---- */

static int whatif_progress(void *ctx, int64_t done, int64_t total)
{
	(void)ctx;
	int width = 30, filled = total ? (int)(done * width / total) : width;
	fprintf(stderr, "\r[%.*s%*s] %lld/%lld events", filled, "##############################",
		width - filled, "", (long long)done, (long long)total);
	return 0;
}

static void whatif_charts(cli *c, FILE *out);

/* whatif PROGRAM.json [--from DATE] [--to DATE] [--limit N] [--html FILE] */
static int cmd_whatif(cli *c)
{
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	int status = flag_time(c, F_TO, 0, &w.to);
	if (!status)
		status = flag_time(c, F_FROM, (w.to ? w.to : now_ms(c)) - 30 * DAY_MS, &w.from);
	if (!status)
		status = flag_number(c, F_LIMIT, 1, 1000, 10, &w.limit);
	if (status)
		return status;
	if (w.from >= (w.to ? w.to : now_ms(c)))
		return complain(c, EXIT_USAGE, "--from must be before --to");
	char *program = read_text(c, c->args[0], &status);
	if (!program)
		return status;
	w.program = program;
	bool tty = isatty(STDERR_FILENO) && !c->json;
	w.progress = tty ? whatif_progress : NULL;
	char *report = NULL;
	int rc = loyal_whatif(c->db, &w, &report);
	if (tty)
		fprintf(stderr, "\r\033[K");
	free(program);
	status = take_json(c, rc, &report);
	if (!status && c->flag[F_HTML])
		status = html_page(c, c->flag[F_HTML], "What-if of a program", whatif_charts);
	return status;
}

/* A figure's text: a number with separators, a share as a percentage, "-" for null. */
static void figure_text(const json_t *value, bool percent, bool sign, char *out, size_t size)
{
	if (json_is_null(value) || !value) {
		snprintf(out, size, "-");
	} else if (percent) {
		snprintf(out, size, sign ? "%+.1f%%" : "%.1f%%", json_number_value(value) * 100);
	} else {
		char number[40];
		int64_t n = json_integer_value(value);
		show_number(n, number, sizeof number);
		snprintf(out, size, "%s%s", sign && n > 0 ? "+" : "", number);
	}
}

/* Adds a row comparing one figure of the two sides (missing counts as 0). */
static void figure(json_t *rows, const char *name, const json_t *live, const json_t *candidate,
		   bool percent)
{
	json_t *zero = json_integer(0);
	live = live ? live : zero;
	candidate = candidate ? candidate : zero;
	char a[48], b[48], d[48] = "-";
	figure_text(live, percent, false, a, sizeof a);
	figure_text(candidate, percent, false, b, sizeof b);
	if (json_is_number(live) && json_is_number(candidate)) {
		json_t *difference =
			percent ? json_real(json_number_value(candidate) - json_number_value(live))
				: json_integer(json_integer_value(candidate) - json_integer_value(live));
		figure_text(difference, percent, true, d, sizeof d);
		json_decref(difference);
	}
	json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s}", "figure", name, "live", a,
					      "candidate", b, "difference", d));
	json_decref(zero);
}

/* The rule rows of both sides, by "rule currency". */
static json_t *rules_by_name(const json_t *out)
{
	json_t *all = json_object(), *row;
	static const char *const sides[] = {"live", "candidate"};
	for (int s = 0; s < 2; s++) {
		size_t i;
		json_array_foreach(json_object_get(json_object_get(out, sides[s]), "rules"), i, row) {
			char name[300];
			snprintf(name, sizeof name, "%s: %s", get_str(row, "rule"),
				 get_str(row, "currency"));
			if (!json_object_get(all, name))
				json_object_set_new(all, name, json_object());
			json_object_set(json_object_get(all, name), sides[s],
					json_object_get(row, "points"));
		}
	}
	return all;
}

/* The names under key (an object) of either side, in order of appearance. */
static json_t *names_of(const json_t *out, const char *key)
{
	json_t *names = json_object(), *value;
	const char *name;
	json_object_foreach(json_object_get(json_object_get(out, "live"), key), name, value)
		json_object_set_new(names, name, json_null());
	json_object_foreach(json_object_get(json_object_get(out, "candidate"), key), name, value)
		json_object_set_new(names, name, json_null());
	return names;
}

static json_t *whatif_figures(const json_t *out)
{
	const json_t *live = json_object_get(out, "live"), *candidate = json_object_get(out, "candidate");
	json_t *rows = json_array(), *rules = rules_by_name(out), *sides, *currency, *unused;
	const char *name;
	json_object_foreach(rules, name, sides)
		figure(rows, name, json_object_get(sides, "live"), json_object_get(sides, "candidate"),
		       false);
	json_decref(rules);
	size_t i;
	json_array_foreach(json_object_get(candidate, "currencies"), i, currency) {
		const char *currency_name = get_str(currency, "currency");
		json_t *was = NULL, *row;
		size_t k;
		json_array_foreach(json_object_get(live, "currencies"), k, row)
			if (strcmp(get_str(row, "currency"), currency_name) == 0)
				was = row;
		static const char *const keys[] = {"issued", "redeemed", "expired", "breakage",
						   "liability"};
		for (int j = 0; j < 5; j++) {
			char label[160];
			snprintf(label, sizeof label, "%s %s", currency_name, keys[j]);
			figure(rows, label, json_object_get(was, keys[j]),
			       json_object_get(currency, keys[j]), j == 3);
		}
	}
	static const char *const groups[][2] = {{"tiers", "tier"}, {"badges", "badge"},
						{"segments", "segment"}};
	for (int g = 0; g < 3; g++) {
		json_t *names = names_of(out, groups[g][0]);
		json_object_foreach(names, name, unused) {
			char label[160];
			snprintf(label, sizeof label, "%s %s", groups[g][1], name);
			figure(rows, label, json_object_get(json_object_get(live, groups[g][0]), name),
			       json_object_get(json_object_get(candidate, groups[g][0]), name), false);
		}
		json_decref(names);
	}
	figure(rows, "tier moves", json_object_get(live, "tier_moves"),
	       json_object_get(candidate, "tier_moves"), false);
	figure(rows, "events refused", json_object_get(live, "refused"),
	       json_object_get(candidate, "refused"), false);
	return rows;
}

static void show_whatif(cli *c, const json_t *out)
{
	char from[24], to[24], events[40], period[40];
	show_date(c, get_int(out, "from"), from, sizeof from);
	show_date(c, get_int(out, "to") - 1, to, sizeof to);
	show_number(get_int(out, "events"), events, sizeof events);
	show_number(get_int(out, "period_events"), period, sizeof period);
	printf("what-if from %s to %s: %s events replayed, %s of them in the period\n\n", from, to,
	       events, period);
	static const column figure_columns[] = {
		{"FIGURE", "figure", COL_TEXT},	      {"LIVE", "live", COL_TEXT},
		{"CANDIDATE", "candidate", COL_TEXT}, {"DIFFERENCE", "difference", COL_TEXT},
	};
	json_t *rows = whatif_figures(out);
	TABLE(c, rows, figure_columns, "nothing to compare");
	json_decref(rows);
	const json_t *members = json_object_get(out, "members");
	char differing[40], compared[40];
	show_number(get_int(members, "differing"), differing, sizeof differing);
	show_number(get_int(members, "compared"), compared, sizeof compared);
	printf("\n%s of %s members differ", differing, compared);
	if (!get_int(members, "differing")) {
		printf("\n");
		return;
	}
	printf("; the biggest differences:\n");
	static const column member_columns[] = {
		{"MEMBER", "member", COL_TEXT},	      {"CURRENCY", "currency", COL_TEXT},
		{"LIVE", "live", COL_NUMBER},	      {"CANDIDATE", "candidate", COL_NUMBER},
		{"DIFFERENCE", "difference", COL_TEXT}, {"TIER", "tier", COL_TEXT},
	};
	rows = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(members, "biggest"), i, row) {
		json_t *tier = json_object_get(row, "tier"), *points;
		const char *was = json_string_value(json_object_get(tier, "live"));
		const char *now = json_string_value(json_object_get(tier, "candidate"));
		char tiers[160];
		snprintf(tiers, sizeof tiers, "%s -> %s", was ? was : "-", now ? now : "-");
		bool same = json_equal(json_object_get(tier, "live"), json_object_get(tier, "candidate"));
		json_t *currencies = json_object_get(row, "currencies");
		size_t k;
		json_array_foreach(currencies, k, points) {
			char d[48];
			figure_text(json_object_get(points, "difference"), false, true, d, sizeof d);
			json_array_append_new(
				rows, json_pack("{s:s,s:O,s:O,s:O,s:s,s:s}", "member",
						k ? "" : get_str(row, "member"), "currency",
						json_object_get(points, "currency"), "live",
						json_object_get(points, "live"), "candidate",
						json_object_get(points, "candidate"), "difference", d,
						"tier", k || same ? "" : tiers));
		}
		if (!json_array_size(currencies))
			json_array_append_new(rows, json_pack("{s:s,s:s,s:n,s:n,s:s,s:s}", "member",
							      get_str(row, "member"), "currency", "-",
							      "live", "candidate", "difference", "-",
							      "tier", tiers));
	}
	TABLE(c, rows, member_columns, "no member");
	json_decref(rows);
}

/* A chart of bars, live and candidate side by side for each label. */
typedef struct side_bars {
	json_t *labels, *live, *candidate;
} side_bars;

static side_bars bars_new(void)
{
	return (side_bars){json_array(), json_array(), json_array()};
}

/* Adds a label's two numbers (a missing one as 0). */
static void bars_add(side_bars *b, const char *label, json_t *live, json_t *candidate)
{
	json_array_append_new(b->labels, json_string(label));
	json_array_append_new(b->live, live ? json_incref(live) : json_integer(0));
	json_array_append_new(b->candidate, candidate ? json_incref(candidate) : json_integer(0));
}

/* Draws the chart (when it has a label) and frees it. */
static void bars_draw(FILE *out, const char *heading, side_bars *b)
{
	json_t *names = json_pack("[ss]", "live", "candidate");
	json_t *series = json_pack("[OO]", b->live, b->candidate);
	if (json_array_size(b->labels))
		html_bars(out, heading, b->labels, names, series);
	json_decref(names);
	json_decref(series);
	json_decref(b->labels);
	json_decref(b->live);
	json_decref(b->candidate);
}

static void whatif_charts(cli *c, FILE *out)
{
	const json_t *answer = c->out;
	const json_t *live = json_object_get(answer, "live");
	const json_t *candidate = json_object_get(answer, "candidate");
	json_t *rules = rules_by_name(answer), *sides, *unused, *currency, *row;
	const char *name;
	side_bars b = bars_new();
	json_object_foreach(rules, name, sides)
		bars_add(&b, name, json_object_get(sides, "live"), json_object_get(sides, "candidate"));
	bars_draw(out, "Points awarded per rule in the period", &b);
	json_decref(rules);
	static const char *const keys[] = {"issued", "redeemed", "expired", "liability"};
	size_t i;
	json_array_foreach(json_object_get(candidate, "currencies"), i, currency) {
		json_t *was = json_array_get(json_object_get(live, "currencies"), i);
		b = bars_new();
		for (int k = 0; k < 4; k++)
			bars_add(&b, k == 3 ? "liability at the end" : keys[k],
				 json_object_get(was, keys[k]), json_object_get(currency, keys[k]));
		char heading[160];
		snprintf(heading, sizeof heading, "%s in the period", get_str(currency, "currency"));
		bars_draw(out, heading, &b);
	}
	json_t *tiers = names_of(answer, "tiers");
	b = bars_new();
	json_object_foreach(tiers, name, unused)
		bars_add(&b, name, json_object_get(json_object_get(live, "tiers"), name),
			 json_object_get(json_object_get(candidate, "tiers"), name));
	bars_draw(out, "Tier distribution at the end", &b);
	json_decref(tiers);
	/* The biggest differences, in their first currency. */
	b = bars_new();
	json_array_foreach(json_object_get(json_object_get(answer, "members"), "biggest"), i, row) {
		json_t *points = json_array_get(json_object_get(row, "currencies"), 0);
		char label[300];
		snprintf(label, sizeof label, "%s (%s)", get_str(row, "member"),
			 points ? get_str(points, "currency") : "tier");
		if (points)
			bars_add(&b, label, json_object_get(points, "live"),
				 json_object_get(points, "candidate"));
	}
	bars_draw(out, "Members with the biggest differences (points earned)", &b);
}

static void show_simulation(cli *c, const json_t *out)
{
	char from[24], to[24];
	show_date(c, get_int(out, "start"), from, sizeof from);
	show_date(c, get_int(out, "end") - 1, to, sizeof to);
	printf("a %s from %s to %s: ", get_str(out, "profile"), from, to);
	char members[40], events[40];
	show_number(get_int(out, "members"), members, sizeof members);
	show_number(get_int(out, "events"), events, sizeof events);
	printf("%s members, %s events (seed %lld)\n", members, events,
	       (long long)get_int(out, "seed"));
	static const column month_columns[] = {
		{"MONTH", "month", COL_DATE},	    {"MEMBERS", "members", COL_NUMBER},
		{"ACTIVE", "active", COL_NUMBER},   {"EVENTS", "events", COL_NUMBER},
		{"TIERS", "tiers", COL_TEXT},
	};
	static const column money_columns[] = {
		{"MONTH", "month", COL_DATE},	      {"ISSUED", "issued", COL_NUMBER},
		{"REDEEMED", "redeemed", COL_NUMBER}, {"EXPIRED", "expired", COL_NUMBER},
		{"BREAKAGE", "breakage", COL_PERCENT}, {"LIABILITY", "liability", COL_NUMBER},
	};
	json_t *rows = json_array(), *month;
	size_t i;
	json_array_foreach(json_object_get(out, "months"), i, month) {
		json_t *row = json_deep_copy(month);
		char tiers[256] = "";
		size_t used = 0;
		const char *name;
		json_t *count;
		json_object_foreach(json_object_get(month, "tiers"), name, count)
			used += (size_t)snprintf(tiers + used, used < sizeof tiers ? sizeof tiers - used : 0,
						 "%s%s %lld", used ? ", " : "", name,
						 (long long)json_integer_value(count));
		json_object_set_new(row, "tiers", json_string(used ? tiers : "-"));
		json_array_append_new(rows, row);
	}
	TABLE(c, rows, month_columns, "no month");
	json_decref(rows);
	json_t *first = json_array_get(json_object_get(out, "months"), 0), *currency;
	json_array_foreach(json_object_get(first, "currencies"), i, currency) {
		const char *name = get_str(currency, "currency");
		printf("\n%s:\n", name);
		rows = json_array();
		size_t k;
		json_array_foreach(json_object_get(out, "months"), k, month) {
			size_t j;
			json_t *item;
			json_array_foreach(json_object_get(month, "currencies"), j, item)
				if (strcmp(get_str(item, "currency"), name) == 0) {
					json_t *row = json_deep_copy(item);
					json_object_set(row, "month", json_object_get(month, "month"));
					json_array_append_new(rows, row);
				}
		}
		TABLE(c, rows, money_columns, "nothing issued");
		json_decref(rows);
	}
}

static const flag_id read_flags[] = {F_LIMIT, F_FOLLOW, F_COUNT};
static const flag_id simulate_flags[] = {F_POPULATION, F_DAYS, F_SEED, F_PROFILE, F_FROM,
					 F_INTO, F_HTML, F_COUNT};
static const flag_id report_flags[] = {F_FROM, F_TO, F_PERIOD, F_HTML, F_COUNT};
static const flag_id whatif_flags[] = {F_FROM, F_TO, F_LIMIT, F_HTML, F_COUNT};

const command operator_commands[] = {
	{"expire", NULL, "", NULL, OPEN_WRITE, cmd_expire, show_count,
	 "settle what is due: expiries, pending points that mature, holds past their deadline",
	 NULL, "loyal expire"},
	{"notices", "sweep", "", NULL, OPEN_WRITE, cmd_notices_sweep, show_count,
	 "announce points about to expire and tiers at risk (each once) in the outbox", NULL,
	 "loyal notices sweep"},
	{"outbox", "read", "CONSUMER", read_flags, OPEN_WRITE, cmd_outbox_read, show_happenings,
	 "what happened after the consumer's acknowledged position (acknowledges nothing)",
	 "With --follow, each happening is printed as it comes (under --json: one JSON object a"
	 " line).",
	 "loyal outbox read mailer --limit 100\nloyal outbox read mailer --follow --json"},
	{"outbox", "ack", "CONSUMER POSITION", NULL, OPEN_WRITE, cmd_outbox_ack, show_ack,
	 "acknowledge every happening up to POSITION for the consumer", NULL,
	 "loyal outbox ack mailer 1200"},
	{"outbox", "consumers", "", NULL, OPEN_READ, cmd_outbox_consumers, show_consumers,
	 "the consumers, their positions and how far behind they are", NULL,
	 "loyal outbox consumers"},
	{"outbox", "forget", "CONSUMER", NULL, OPEN_WRITE, cmd_outbox_forget, show_forgotten,
	 "forget a consumer, so that it no longer keeps happenings from being pruned", NULL,
	 "loyal outbox forget old-mailer"},
	{"report", NULL, "", report_flags, OPEN_READ, cmd_report, show_report,
	 "liability, points issued and spent, active members, tiers and segments, rewards,"
	 " coupons and retention by cohort",
	 "Defaults: --to now, --from a year before, --period month.",
	 "loyal report\nloyal report --from 2026-01-01 --to 2026-07-01 --period week\n"
	 "loyal report --html report.html"},
	{"simulate", NULL, "PROGRAM", simulate_flags, OPEN_NONE, cmd_simulate, show_simulation,
	 "forecast a program: run it over a synthetic population under a fake clock, by month",
	 "Members join (half on day one), are active on a share of days drawn from a long-tailed"
	 " distribution, churn, earn by the program's rules and spend what they have; each month"
	 " reports members, active members, events, points issued, redeemed and expired, breakage,"
	 " liability and tier sizes. The same seed gives the same numbers. The simulated members"
	 " are kept in --into FILE when given. Defaults: --population 1000, --days 365, --seed 1,"
	 " --profile community, --from 2026-01-01.",
	 "loyal simulate program.json --population 100000 --days 365\n"
	 "loyal simulate program.json --profile shop --seed 7 --into forecast.db\n"
	 "loyal simulate program.json --html forecast.html"},
	{"whatif", NULL, "PROGRAM", whatif_flags, OPEN_READ, cmd_whatif, show_whatif,
	 "what a changed program would have done: the stored events replayed through it and"
	 " through the live program, side by side",
	 "Both replays run on scratch copies (the database is only read): every event before --to"
	 " is tracked again in its order, the candidate taking over from --from. Direct ledger"
	 " calls, redemptions and member settings are not replayed. Defaults: --to now, --from"
	 " 30 days before, --limit 10 members.",
	 "loyal whatif candidate.json --from 2026-10-01 --to 2026-11-01\n"
	 "loyal whatif candidate.json --html whatif.html"},
	{"verify", NULL, "", NULL, OPEN_READ, cmd_verify, show_verified,
	 "check the database and every invariant of the ledger", NULL, "loyal verify"},
	{NULL, NULL, NULL, NULL, OPEN_NONE, NULL, NULL, NULL, NULL, NULL},
};
