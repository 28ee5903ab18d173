/* members.c - the commands of members: their card, lists, attributes and status, badges,
 * tiers, segments and leaderboards. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* ---- the member's card ---- */

static void show_tier_line(cli *c, const json_t *tier)
{
	char since[24], review[24], line[256];
	const json_t *name = json_object_get(tier, "tier");
	if (!json_is_string(name)) {
		card("tier", "none");
	} else {
		show_date(c, get_int(tier, "since"), since, sizeof since);
		show_date(c, get_int(tier, "next_review"), review, sizeof review);
		snprintf(line, sizeof line, "%s since %s (x%g), next review %s", json_string_value(name),
			 since, json_number_value(json_object_get(tier, "multiplier")), review);
		card("tier", line);
	}
	const json_t *grace = json_object_get(tier, "grace_until");
	if (json_is_integer(grace)) {
		show_date(c, json_integer_value(grace), review, sizeof review);
		snprintf(line, sizeof line, "in grace until %s", review);
		card("", line);
	}
	const json_t *assigned = json_object_get(tier, "assigned");
	if (json_is_object(assigned)) {
		const json_t *until = json_object_get(assigned, "until");
		if (json_is_integer(until))
			show_date(c, json_integer_value(until), review, sizeof review);
		snprintf(line, sizeof line, "assigned %s until %s: %s", get_str(assigned, "tier"),
			 json_is_integer(until) ? review : "released", get_str(assigned, "reason"));
		card("", line);
	}
	const json_t *next = json_object_get(tier, "next");
	if (json_is_object(next)) {
		char missing[40], current[40], target[40], by[24] = "";
		show_number(get_int(next, "missing"), missing, sizeof missing);
		show_number(get_int(next, "current"), current, sizeof current);
		show_number(get_int(next, "target"), target, sizeof target);
		if (json_is_integer(json_object_get(next, "by")))
			show_date(c, get_int(next, "by"), by, sizeof by);
		if (json_is_integer(json_object_get(next, "missing")))
			snprintf(line, sizeof line, "next: %s, %s more (%s of %s)%s%s",
				 get_str(next, "tier"), missing, current, target, *by ? " by " : "", by);
		else
			snprintf(line, sizeof line, "next: %s", get_str(next, "tier"));
		card("", line);
	}
}

static void show_badge_line(cli *c, const json_t *badges)
{
	size_t i;
	json_t *b;
	bool any = false;
	json_array_foreach(badges, i, b) {
		if (!json_is_null(json_object_get(b, "revoked")))
			continue;
		char when[24], line[256];
		show_date(c, get_int(b, "at"), when, sizeof when);
		snprintf(line, sizeof line, "%s%s%s (%s %s)", get_str(b, "badge"),
			 json_is_string(json_object_get(b, "level")) ? " " : "", get_str(b, "level"),
			 get_str(b, "how"), when);
		card(any ? "" : "badges", line);
		any = true;
	}
	if (!any)
		card("badges", "none");
}

static void show_member(cli *c, const json_t *out)
{
	const json_t *member = json_object_get(out, "member");
	char text[512];
	printf("%s (%s)\n", get_str(member, "id"), get_str(member, "status"));
	show_value(c, "joined_at", json_object_get(member, "joined_at"), text, sizeof text);
	card("joined", text);
	show_value(c, "last_active_at", json_object_get(member, "last_active_at"), text, sizeof text);
	card("last active", text);
	const char *key;
	json_t *value;
	size_t used = 0;
	text[0] = '\0';
	json_object_foreach(json_object_get(member, "attributes"), key, value) {
		char shown[160];
		show_value(c, NULL, value, shown, sizeof shown);
		used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0,
					 "%s%s=%s", used ? ", " : "", key, shown);
		if (used >= sizeof text)
			break;
	}
	card("attributes", used ? text : "none");
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(out, "balances"), i, b) {
		const char *currency = get_str(b, "currency");
		char available[48], pending[48], held[48];
		show_number(get_int(b, "available"), available, sizeof available);
		show_number(get_int(b, "pending"), pending, sizeof pending);
		show_number(get_int(b, "held"), held, sizeof held);
		snprintf(text, sizeof text, "%s available, %s pending, %s held", available, pending,
			 held);
		card(currency, text);
		size_t j, shown = 0;
		json_t *lot;
		used = 0;
		json_array_foreach(json_object_get(out, "expiring"), j, lot) {
			if (strcmp(get_str(lot, "currency"), currency) != 0 || shown == 3)
				continue;
			char amount[48], day[24];
			show_number(get_int(lot, "amount"), amount, sizeof amount);
			show_date(c, get_int(lot, "expires_at"), day, sizeof day);
			used += (size_t)snprintf(text + used, sizeof text - used, "%s%s on %s",
						 shown++ ? ", " : "expiring: ", amount, day);
		}
		if (shown)
			card("", text);
	}
	show_tier_line(c, json_object_get(out, "tier"));
	show_badge_line(c, json_object_get(out, "badges"));
	used = 0;
	json_array_foreach(json_object_get(out, "segments"), i, b)
		used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0,
					 "%s%s", i ? ", " : "", json_string_value(b));
	card("segments", used && used < sizeof text ? text : used ? "(many)" : "none");
}

/* The JSON answer of a call, or NULL after failing (*status set). */
static json_t *answer_of(cli *c, int rc, char **json, int *status)
{
	if (rc != LOYAL_OK) {
		*status = fail(c, rc);
		return NULL;
	}
	json_t *value = parse_json(*json);
	loyal_free(*json);
	*json = NULL;
	if (!value)
		*status = complain(c, EXIT_INTERNAL, "the engine's answer is not JSON");
	return value;
}

static int cmd_member_show(cli *c)
{
	const char *id = c->args[0];
	char *json = NULL;
	int status = 0;
	json_t *member = answer_of(c, loyal_member_get(c->db, id, &json), &json, &status);
	json_t *tier = status ? NULL : answer_of(c, loyal_tier_get(c->db, id, &json), &json, &status);
	json_t *badges = status ? NULL
				: answer_of(c, loyal_badge_list(c->db, id, &json), &json, &status);
	json_t *segments = status ? NULL
				  : answer_of(c, loyal_segment_of(c->db, id, &json), &json, &status);
	json_t *program = status ? NULL
				 : answer_of(c, loyal_program_get(c->db, &json), &json, &status);
	json_t *balances = json_array(), *expiring = json_array();
	size_t i;
	json_t *currency;
	json_array_foreach(json_object_get(json_object_get(program, "program"), "currencies"), i,
			   currency) {
		const char *name = get_str(currency, "name");
		loyal_balance b = LOYAL_BALANCE_INIT;
		int rc = loyal_ledger_balance(c->db, id, name, 0, &b);
		if (rc != LOYAL_OK) {
			status = fail(c, rc);
			break;
		}
		json_array_append_new(balances, balance_json(id, name, &b));
		json_t *lots = answer_of(c, loyal_ledger_expiring(c->db, id, name, 5, &json), &json,
					 &status);
		if (!lots)
			break;
		size_t j;
		json_t *lot;
		json_array_foreach(lots, j, lot) {
			json_object_set_new(lot, "currency", json_string(name));
			json_array_append(expiring, lot);
		}
		json_decref(lots);
	}
	json_decref(program);
	c->out = json_pack("{s:o*,s:o,s:o,s:o*,s:o*,s:o*}", "member", member, "balances", balances,
			   "expiring", expiring, "tier", tier, "badges", badges, "segments",
			   segments);
	return status;
}

/* member as-of MEMBER TIME */
static int cmd_member_as_of(cli *c)
{
	int64_t at = 0;
	int status = parse_time(c, c->args[1], "TIME", &at);
	if (status)
		return status;
	char *json = NULL;
	c->out = answer_of(c, loyal_member_as_of(c->db, c->args[0], at, &json), &json, &status);
	return status;
}

static void show_member_as_of(cli *c, const json_t *out)
{
	char when[24], text[512];
	show_time(c, get_int(out, "at"), when, sizeof when);
	printf("%s as of %s\n", get_str(out, "member"), when);
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(out, "balances"), i, b) {
		char parts[6][48];
		static const char *const keys[] = {"available", "pending", "held", "earned", "spent",
						   "expired"};
		for (int k = 0; k < 6; k++)
			show_number(get_int(b, keys[k]), parts[k], sizeof parts[k]);
		snprintf(text, sizeof text, "%s available, %s pending, %s held", parts[0], parts[1],
			 parts[2]);
		card(get_str(b, "currency"), text);
		snprintf(text, sizeof text, "earned %s, spent %s, expired %s", parts[3], parts[4],
			 parts[5]);
		card("", text);
		size_t j, used = 0;
		json_t *lot;
		json_array_foreach(json_object_get(b, "lots"), j, lot) {
			char amount[48], day[24];
			show_number(get_int(lot, "remaining"), amount, sizeof amount);
			const json_t *pending = json_object_get(lot, "pending_until");
			const json_t *expires = json_object_get(lot, "expires_at");
			if (json_is_integer(pending))
				show_date(c, json_integer_value(pending), day, sizeof day);
			else if (json_is_integer(expires))
				show_date(c, json_integer_value(expires), day, sizeof day);
			used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0,
						 "%s%s %s %s", j ? ", " : "lots: ", amount,
						 json_is_integer(pending)   ? "pending until"
						 : json_is_integer(expires) ? "until"
									    : "never expiring",
						 json_is_integer(pending) || json_is_integer(expires)
							 ? day
							 : "");
		}
		if (used)
			card("", used < sizeof text ? text : "lots: (many)");
	}
	if (!json_array_size(json_object_get(out, "balances")))
		card("balances", "none");
	const json_t *tier = json_object_get(out, "tier");
	if (json_is_object(tier)) {
		show_date(c, get_int(tier, "since"), when, sizeof when);
		snprintf(text, sizeof text, "%s since %s", get_str(tier, "tier"), when);
		card("tier", text);
	} else {
		card("tier", "none");
	}
	show_badge_line(c, json_object_get(out, "badges"));
}

static const column member_columns[] = {
	{"MEMBER", "id", COL_TEXT},	      {"STATUS", "status", COL_TEXT},
	{"TIER", "tier", COL_TEXT},	      {"JOINED", "joined_at", COL_DATE},
	{"LAST ACTIVE", "last_active_at", COL_TIME},
};

static void show_member_list(cli *c, const json_t *out)
{
	TABLE(c, out, member_columns, "no member matches");
	int64_t limit = 0;
	flag_number(c, F_LIMIT, 1, INT64_MAX, INT64_MAX, &limit);
	if (json_array_size(out) == (size_t)limit)
		printf("(more: the same command with --after %s)\n",
		       get_str(json_array_get(out, json_array_size(out) - 1), "id"));
}

/* member list [--attribute KEY=VALUE] [--tier T] [--segment S] [--active-within DAYS]
 * [--idle-for DAYS] [--status S] [--after MEMBER] [--limit N] */
static int cmd_member_list(cli *c)
{
	loyal_member_query q = LOYAL_MEMBER_QUERY_INIT;
	int64_t limit = 0, now = now_ms(c), within = 0, idle = 0;
	int status = flag_number(c, F_LIMIT, 1, INT64_MAX, INT64_MAX, &limit);
	if (!status)
		status = flag_number(c, F_ACTIVE_WITHIN, 1, 100000, 0, &within);
	if (!status)
		status = flag_number(c, F_IDLE_FOR, 1, 100000, 0, &idle);
	if (status)
		return status;
	q.active_from = within ? now - within * DAY_MS : 0;
	q.active_before = idle ? now - idle * DAY_MS : 0;
	q.tier = c->flag[F_TIER];
	q.segment = c->flag[F_SEGMENT];
	q.status = c->flag[F_STATUS];
	q.after = c->flag[F_AFTER];
	char *value = NULL;
	const char *attribute = c->flag[F_ATTRIBUTE];
	char key[128];
	if (attribute) {
		const char *equals = strchr(attribute, '=');
		if (!equals || equals == attribute || (size_t)(equals - attribute) >= sizeof key)
			return complain(c, EXIT_USAGE, "--attribute must be KEY=VALUE, not '%s'",
					attribute);
		snprintf(key, sizeof key, "%.*s", (int)(equals - attribute), attribute);
		/* A JSON scalar as given (3, true, "x"); anything else is text. */
		json_t *parsed = parse_json(equals + 1);
		bool scalar = parsed && !json_is_object(parsed) && !json_is_array(parsed) &&
			      !json_is_null(parsed);
		json_decref(parsed);
		json_t *text = json_string(equals + 1);
		value = scalar ? strdup(equals + 1) : json_dumps(text, JSON_ENCODE_ANY);
		json_decref(text);
		q.attribute = key;
		q.value = value;
	}
	loyal_cursor *cursor = NULL;
	int rc = loyal_member_list(c->db, &q, &cursor);
	free(value);
	return take_some_rows(c, rc, &cursor, limit);
}

static void show_member_row(cli *c, const json_t *out)
{
	char text[512];
	printf("%s (%s)\n", get_str(out, "id"), get_str(out, "status"));
	const char *key;
	json_t *value;
	json_object_foreach(json_object_get(out, "attributes"), key, value) {
		show_value(c, NULL, value, text, sizeof text);
		card(key, text);
	}
}

static int cmd_member_set(cli *c)
{
	int rc = loyal_member_set_attrs(c->db, c->args[0], c->args[1]);
	char *json = NULL;
	return rc != LOYAL_OK ? fail(c, rc)
			      : take_json(c, loyal_member_get(c->db, c->args[0], &json), &json);
}

static int set_status(cli *c, int (*call)(loyal_db *, const char *))
{
	int rc = call(c->db, c->args[0]);
	char *json = NULL;
	return rc != LOYAL_OK ? fail(c, rc)
			      : take_json(c, loyal_member_get(c->db, c->args[0], &json), &json);
}

static int cmd_member_block(cli *c) { return set_status(c, loyal_member_block); }
static int cmd_member_unblock(cli *c) { return set_status(c, loyal_member_unblock); }

/* ---- badges ---- */

static const column badge_columns[] = {
	{"BADGE", "badge", COL_TEXT}, {"LEVEL", "level", COL_TEXT}, {"HOW", "how", COL_TEXT},
	{"AT", "at", COL_TIME},	      {"REASON", "reason", COL_TEXT}, {"REVOKED", "revoked_at", COL_TIME},
};

static void show_badges(cli *c, const json_t *out)
{
	json_t *rows = json_deep_copy(out);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		const json_t *revoked = json_object_get(row, "revoked");
		if (json_is_object(revoked))
			json_object_set(row, "revoked_at", json_object_get(revoked, "at"));
	}
	TABLE(c, rows, badge_columns, "no badges");
	json_decref(rows);
}

static int cmd_badge_list(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_badge_list(c->db, c->args[0], &json), &json);
}

static void show_progress(cli *c, const json_t *out)
{
	(void)c;
	const json_t *level = json_object_get(out, "level");
	printf("%s%s%s: ", get_str(out, "badge"), json_is_string(level) ? " " : "",
	       json_is_string(level) ? json_string_value(level) : "");
	if (json_is_true(json_object_get(out, "complete")))
		printf("complete\n");
	else if (json_is_integer(json_object_get(out, "target")))
		printf("%lld of %lld (%lld%%)\n", (long long)get_int(out, "current"),
		       (long long)get_int(out, "target"), (long long)get_int(out, "percent"));
	else
		printf("not yet (its criterion has no measure to count)\n");
}

static int cmd_badge_progress(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_badge_progress(c->db, c->args[0], c->args[1], &json), &json);
}

static void show_changed(cli *c, const json_t *out)
{
	bool grant = strcmp(c->cmd->sub, "grant") == 0;
	printf("%s\n", json_is_true(json_object_get(out, "changed"))
			       ? (grant ? "granted" : "revoked")
			       : (grant ? "already held: nothing changed" : "not held: nothing changed"));
}

/* badge grant|revoke MEMBER BADGE REASON [--level LEVEL] */
static int recognize(cli *c, bool grant)
{
	int changed = 0;
	int rc = (grant ? loyal_badge_grant : loyal_badge_revoke)(c->db, c->args[0], c->args[1],
								   c->flag[F_LEVEL], c->args[2],
								   &changed);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:b}", "changed", changed);
	return 0;
}

static int cmd_badge_grant(cli *c) { return recognize(c, true); }
static int cmd_badge_revoke(cli *c) { return recognize(c, false); }


static int cmd_badges_sweep(cli *c)
{
	int64_t awarded = 0;
	int rc = loyal_badge_sweep(c->db, 0, &awarded);
	return count_answer(c, rc, "awarded", awarded, "badges awarded");
}

/* ---- tiers ---- */

static void show_tier(cli *c, const json_t *out)
{
	printf("%s\n", get_str(out, "member"));
	show_tier_line(c, out);
}

static int cmd_tier_show(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_tier_get(c->db, c->args[0], &json), &json);
}

static const column history_columns[] = {
	{"AT", "at", COL_TIME}, {"FROM", "from", COL_TEXT}, {"TO", "to", COL_TEXT},
	{"REASON", "reason", COL_TEXT}};

static void show_tier_history(cli *c, const json_t *out)
{
	TABLE(c, out, history_columns, "no tier changes");
}

static int cmd_tier_history(cli *c)
{
	loyal_cursor *cursor = NULL;
	return take_rows(c, loyal_tier_history(c->db, c->args[0], &cursor), &cursor);
}

/* tier assign MEMBER TIER REASON [--days DAYS] (no --days: until released) */
static int cmd_tier_assign(cli *c)
{
	int64_t days = 0;
	int status = flag_number(c, F_DAYS, 1, 36500, 0, &days);
	if (status)
		return status;
	int64_t until = days ? now_ms(c) + days * DAY_MS : 0;
	int rc = loyal_tier_assign(c->db, c->args[0], c->args[1], until, c->args[2]);
	char *json = NULL;
	return rc != LOYAL_OK ? fail(c, rc)
			      : take_json(c, loyal_tier_get(c->db, c->args[0], &json), &json);
}

static int cmd_tier_release(cli *c)
{
	int changed = 0;
	int rc = loyal_tier_release(c->db, c->args[0], c->args[1], &changed);
	char *json = NULL;
	if (rc == LOYAL_OK)
		rc = loyal_tier_get(c->db, c->args[0], &json);
	int status = take_json(c, rc, &json);
	if (!status)
		json_object_set_new(c->out, "released", json_boolean(changed));
	return status;
}

static int cmd_tiers_sweep(cli *c)
{
	int64_t changed = 0;
	int rc = loyal_tier_sweep(c->db, 0, &changed);
	return count_answer(c, rc, "changed", changed, "members changed tier");
}

static const column review_columns[] = {
	{"MEMBER", "member", COL_TEXT},
	{"TIER", "tier", COL_TEXT},
	{"REVIEW", "review_at", COL_TIME},
	{"GRACE UNTIL", "grace_until", COL_DATE},
};

static void show_reviews(cli *c, const json_t *out)
{
	TABLE(c, out, review_columns, "no review falls in that time");
}

/* tiers reviews [--from DATE (now)] [--to DATE (30 days on)] [--after M] [--limit N] */
static int cmd_tiers_reviews(cli *c)
{
	int64_t from = 0, to = 0, limit = 0;
	int status = window_flags(c, &from, &to, &limit);
	if (status)
		return status;
	loyal_cursor *cursor = NULL;
	int rc = loyal_tier_reviews(c->db, from, to, c->flag[F_AFTER], &cursor);
	return take_some_rows(c, rc, &cursor, limit);
}

/* ---- segments ---- */

static void show_ids(cli *c, const json_t *out)
{
	static const column columns[] = {{"MEMBER", "member", COL_TEXT}};
	TABLE(c, out, columns, "no members");
}

static int cmd_segment_list(cli *c)
{
	loyal_cursor *cursor = NULL;
	return take_rows(c, loyal_segment_members(c->db, c->args[0], &cursor), &cursor);
}

static const column change_columns[] = {
	{"SEGMENT", "segment", COL_TEXT}, {"CHANGE", "change", COL_TEXT}, {"MEMBER", "member", COL_TEXT}};

static void show_changes(cli *c, const json_t *out)
{
	TABLE(c, json_object_get(out, "changes"), change_columns, "no member entered or left");
	printf("refresh %lld: %zu changes\n", (long long)get_int(out, "refresh"),
	       json_array_size(json_object_get(out, "changes")));
}

static int cmd_segments_refresh(cli *c)
{
	loyal_cursor *cursor = NULL;
	int64_t refresh = 0;
	int status = take_rows(c, loyal_segment_refresh(c->db, 0, &refresh, &cursor), &cursor);
	if (!status)
		c->out = json_pack("{s:I,s:o}", "refresh", (json_int_t)refresh, "changes", c->out);
	return status;
}

/* ---- leaderboards ---- */

static const column board_columns[] = {
	{"RANK", "rank", COL_ID}, {"MEMBER", "member", COL_TEXT}, {"SCORE", "score", COL_NUMBER}};

static void show_board(cli *c, const json_t *out)
{
	char start[24] = "all time";
	if (json_is_integer(json_object_get(out, "period_start"))) {
		char day[16];
		show_date(c, get_int(out, "period_start"), day, sizeof day);
		snprintf(start, sizeof start, "from %s", day);
	}
	printf("%s (%s)", get_str(out, "leaderboard"), start);
	if (json_object_get(out, "member"))
		printf(": %s is %s%lld", get_str(out, "member"),
		       json_is_integer(json_object_get(out, "rank")) ? "number " : "not ranked",
		       json_is_integer(json_object_get(out, "rank")) ? (long long)get_int(out, "rank")
								     : 0LL);
	printf("\n");
	TABLE(c, json_object_get(out, "rows"), board_columns, "no scores yet");
}

static int cmd_leaderboard_top(cli *c)
{
	int64_t limit = 0;
	int status = flag_number(c, F_LIMIT, 1, 1000, 10, &limit);
	char *json = NULL;
	return status ? status
		      : take_json(c, loyal_leaderboard_top(c->db, c->args[0], 0, (int)limit, &json),
				  &json);
}

static int cmd_leaderboard_rank(cli *c)
{
	int64_t neighbours = 0;
	int status = flag_number(c, F_NEIGHBOURS, 0, 50, 2, &neighbours);
	char *json = NULL;
	return status ? status
		      : take_json(c, loyal_leaderboard_rank(c->db, c->args[0], c->args[1], 0,
							    (int)neighbours, &json),
				  &json);
}

static const flag_id list_flags[] = {F_ATTRIBUTE, F_TIER,  F_SEGMENT, F_ACTIVE_WITHIN,
				     F_IDLE_FOR,  F_STATUS, F_AFTER,  F_LIMIT, F_COUNT};
static const flag_id level_flags[] = {F_LEVEL, F_COUNT};
static const flag_id days_flags[] = {F_DAYS, F_COUNT};
static const flag_id review_flags[] = {F_FROM, F_TO, F_AFTER, F_LIMIT, F_COUNT};
static const flag_id limit_flags[] = {F_LIMIT, F_COUNT};
static const flag_id neighbour_flags[] = {F_NEIGHBOURS, F_COUNT};

const command member_commands[] = {
	{"member", "show", "MEMBER", NULL, OPEN_READ, cmd_member_show, show_member,
	 "a member's card: balances, next expiries, tier, badges, segments", NULL,
	 "loyal member show alice"},
	{"member", "list", "", list_flags, OPEN_READ, cmd_member_list, show_member_list,
	 "members by attribute, tier, segment, activity or status, in join order",
	 "VALUE of --attribute is a JSON scalar (3, true) or else text. Segments are as last"
	 " refreshed.",
	 "loyal member list --attribute role=teacher\nloyal member list --segment silent --limit 100\n"
	 "loyal member list --idle-for 30 --status active"},
	{"member", "as-of", "MEMBER TIME", NULL, OPEN_READ, cmd_member_as_of, show_member_as_of,
	 "a member as they stood at a past time: balances and lots, tier, badges",
	 "Rebuilt from the ledger and the tier and badge histories: every transaction dated by TIME"
	 " (ISO 8601), with what had fallen due by then settled (pending points activated, lots"
	 " expired, overdue holds released).",
	 "loyal member as-of alice 2026-03-01\nloyal member as-of alice 2026-03-01T18:30:00Z"},
	{"member", "set", "MEMBER ATTRIBUTES", NULL, OPEN_WRITE, cmd_member_set, show_member_row,
	 "merge attributes into a member's (a JSON object; null removes a key)", NULL,
	 "loyal member set alice '{\"role\": \"teacher\", \"city\": \"Taipei\"}'\n"
	 "loyal member set alice '{\"city\": null}'"},
	{"member", "block", "MEMBER", NULL, OPEN_WRITE, cmd_member_block, show_member_row,
	 "block a member: they can neither earn nor spend", NULL, "loyal member block mallory"},
	{"member", "unblock", "MEMBER", NULL, OPEN_WRITE, cmd_member_unblock, show_member_row,
	 "unblock a member", NULL, "loyal member unblock mallory"},
	{"badge", "list", "MEMBER", NULL, OPEN_READ, cmd_badge_list, show_badges,
	 "a member's badges, oldest first, revoked ones too", NULL, "loyal badge list alice"},
	{"badge", "progress", "MEMBER BADGE", NULL, OPEN_READ, cmd_badge_progress, show_progress,
	 "how far a member is from a badge's next level", NULL, "loyal badge progress alice writer"},
	{"badge", "grant", "MEMBER BADGE REASON", level_flags, OPEN_WRITE, cmd_badge_grant,
	 show_changed, "grant a badge (or --level of it), an honour no criterion gives", NULL,
	 "loyal badge grant alice founder 'first hundred members'\n"
	 "loyal badge grant alice writer 'moderator pick' --level gold"},
	{"badge", "revoke", "MEMBER BADGE REASON", level_flags, OPEN_WRITE, cmd_badge_revoke,
	 show_changed, "revoke a badge; the award stays in the history, marked revoked", NULL,
	 "loyal badge revoke alice founder 'granted by mistake'"},
	{"badges", "sweep", "", NULL, OPEN_WRITE, cmd_badges_sweep, show_count,
	 "award every badge that is due now (time-based criteria)", NULL, "loyal badges sweep"},
	{"tier", "show", "MEMBER", NULL, OPEN_READ, cmd_tier_show, show_tier,
	 "a member's tier, next review, and what the next tier needs", NULL, "loyal tier show alice"},
	{"tier", "history", "MEMBER", NULL, OPEN_READ, cmd_tier_history, show_tier_history,
	 "a member's tier changes, newest first", NULL, "loyal tier history alice"},
	{"tier", "assign", "MEMBER TIER REASON", days_flags, OPEN_WRITE, cmd_tier_assign, show_tier,
	 "hold a member in a tier for --days, or until released (an invitation-only card)", NULL,
	 "loyal tier assign alice gold 'partner staff'\n"
	 "loyal tier assign alice gold 'status match' --days 90"},
	{"tier", "release", "MEMBER REASON", NULL, OPEN_WRITE, cmd_tier_release, show_tier,
	 "end an assignment: the member holds the tier they qualify for", NULL,
	 "loyal tier release alice 'left the partner'"},
	{"tiers", "sweep", "", NULL, OPEN_WRITE, cmd_tiers_sweep, show_count,
	 "review the tiers that are due", NULL, "loyal tiers sweep"},
	{"tiers", "reviews", "", review_flags, OPEN_READ, cmd_tiers_reviews, show_reviews,
	 "whose tier review falls from --from (now) to --to (30 days later)", NULL,
	 "loyal tiers reviews\nloyal tiers reviews --from 2027-01-01 --to 2027-04-01"},
	{"segment", "list", "SEGMENT", NULL, OPEN_READ, cmd_segment_list, show_ids,
	 "the members of a segment, as last refreshed", NULL, "loyal segment list silent"},
	{"segments", "refresh", "", NULL, OPEN_WRITE, cmd_segments_refresh, show_changes,
	 "evaluate every segment now; show who entered and left", NULL, "loyal segments refresh"},
	{"leaderboard", "top", "LEADERBOARD", limit_flags, OPEN_READ, cmd_leaderboard_top,
	 show_board, "the top --limit (10) of a leaderboard's current period", NULL,
	 "loyal leaderboard top weekly-posts --limit 20"},
	{"leaderboard", "rank", "LEADERBOARD MEMBER", neighbour_flags, OPEN_READ,
	 cmd_leaderboard_rank, show_board, "a member's rank, with --neighbours (2) above and below",
	 NULL, "loyal leaderboard rank weekly-posts alice"},
	{NULL, NULL, NULL, NULL, OPEN_NONE, NULL, NULL, NULL, NULL, NULL},
};
