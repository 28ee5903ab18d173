/* tiers.c - the tier ladder: upgrades, reviews with grace, re-evaluation, and the tier calls. */
#include "engine/cursor.h"
#include "engine/coupons.h"
#include "engine/ledger.h"
#include "engine/members.h"
#include "engine/outbox.h"
#include "engine/tiers.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

/* Whether tier i holds for the member: its retain condition (when asked and present) or its
 * entry condition (none: always). */
static int tier_holds(member_view *view, size_t i, bool retain, bool *out)
{
	const tier_def *tier = &view->db->program->ladder.tiers[i];
	const criteria *condition = retain && tier->retain ? tier->retain : tier->entry;
	*out = true;
	if (!condition)
		return LOYAL_OK;
	criteria_context context = ly_member_view_context(view);
	criteria_value value;
	int rc = ly_criteria_eval(&view->db->error, condition, &context, &value);
	*out = rc == LOYAL_OK && ly_criteria_truthy(&value);
	return rc;
}

/* The highest tier whose entry holds, from `floor` up; -1 when none does. */
static int highest_qualifying(member_view *view, int floor, int *out)
{
	*out = -1;
	for (int i = (int)view->db->program->ladder.count - 1; i >= floor; i--) {
		bool holds = false;
		int rc = tier_holds(view, (size_t)i, false, &holds);
		if (rc != LOYAL_OK)
			return rc;
		if (holds) {
			*out = i;
			return LOYAL_OK;
		}
	}
	return LOYAL_OK;
}

/* Announces a move (or an assignment or release that keeps the tier) in the outbox. */
static int announce_change(member_view *view, const char *from, const char *to, int to_index,
			   int64_t at, const char *reason)
{
	const char *direction = to_index > view->tier ? "up" : to_index < view->tier ? "down" : "same";
	return ly_outbox_add(view->db, view->member->id, "tier_changed", at,
			     json_pack("{s:o,s:s,s:s,s:s}", "from",
				       *from ? json_string(from) : json_null(), "to", to,
				       "direction", direction, "reason", reason));
}

/* Moves the member to tier `to`, recording why; a move up credits the tier's award. */
static int move_to(member_view *view, int to, int64_t at, const char *reason, json_t *changes)
{
	const struct program *program = view->db->program;
	const char *from = view->tier >= 0 ? program->ladder.tiers[view->tier].name : "";
	bool up = to > view->tier;
	tier_row row = {.member = view->member->id, .since = at,
			.review_at = ly_program_next_review(program, at)};
	snprintf(row.tier, sizeof row.tier, "%s", program->ladder.tiers[to].name);
	int rc = ly_store_tier_put(view->db->store, &row);
	if (rc == LOYAL_OK)
		rc = ly_store_tier_history_add(view->db->store, view->member->id, from, row.tier, at, reason);
	if (rc == LOYAL_OK)
		rc = announce_change(view, from, row.tier, to, at, reason);
	const tier_def *tier = &program->ladder.tiers[to];
	char key[96];
	snprintf(key, sizeof key, "tier:%s", row.tier);
	if (rc == LOYAL_OK && up)
		rc = ly_ledger_credit_award(view->db, &tier->award, view->member, view->external_id,
					    key, reason, at);
	/* The tier's coupon: one that cannot be issued (not eligible, an empty pool, a blocked
	 * member) is left out; the move stands. */
	coupon_code_row code = {0};
	if (rc == LOYAL_OK && up && tier->coupon >= 0) {
		rc = ly_coupons_issue_locked(view->db, view->member, view->external_id,
					     &program->coupons[tier->coupon], at, view, &code);
		if (rc == LOYAL_ENOTELIGIBLE || rc == LOYAL_ESOLDOUT || rc == LOYAL_EBLOCKED) {
			ly_error_clear(&view->db->error);
			rc = LOYAL_OK;
		}
	}
	json_t *change = rc == LOYAL_OK && changes
				 ? json_pack("{s:o,s:s,s:s}", "from",
					     *from ? json_string(from) : json_null(), "to", row.tier,
					     "reason", reason)
				 : NULL;
	if (change && code.code[0])
		rc = ly_json_put(&view->db->error, change, "coupon", json_string(code.code));
	if (rc == LOYAL_OK && changes)
		rc = ly_json_append(&view->db->error, changes, change);
	else
		json_decref(change);
	view->tier = to;
	snprintf(view->member->tier, sizeof view->member->tier, "%s", row.tier);
	json_decref(view->perks);
	view->perks = NULL;
	return rc;
}

int ly_tiers_upgrade(member_view *view, int64_t at, json_t *changes)
{
	if (!view->db->program->ladder.count)
		return LOYAL_OK;
	int best = -1;
	int rc = highest_qualifying(view, view->tier + 1, &best);
	if (rc != LOYAL_OK || best <= view->tier)
		return rc;
	return move_to(view, best, at, "entry", changes);
}

/* The tier an operator's assignment keeps the member in at `at` (-1: none, or it has ended,
 * in which case it is cleared); *until receives its end. */
static int assigned_floor(member_view *view, int64_t at, int *floor, int64_t *until)
{
	tier_assignment assignment;
	bool found = false;
	*floor = -1;
	*until = INT64_MAX;
	int rc = ly_store_tier_assignment_get(view->db->store, view->member->id, &assignment, &found);
	if (rc != LOYAL_OK || !found)
		return rc;
	if (assignment.until <= at)
		return ly_store_tier_assignment_clear(view->db->store, view->member->id);
	*floor = ly_program_tier_index(view->db->program, assignment.tier);
	*until = assignment.until;
	return LOYAL_OK;
}

/* A review: keep the tier, start a grace period, or drop (never below a tier an operator
 * assigned, while the assignment lasts). *dropped tells which. */
static int review(member_view *view, int64_t at, bool *dropped)
{
	const struct program *program = view->db->program;
	tier_row row;
	int rc = ly_store_tier_get(view->db->store, view->member->id, &row);
	*dropped = false;
	if (rc != LOYAL_OK || view->tier < 0 || row.review_at > at)
		return rc;
	int floor = -1;
	int64_t until = INT64_MAX;
	rc = assigned_floor(view, at, &floor, &until);
	bool holds = false;
	if (rc == LOYAL_OK)
		rc = tier_holds(view, (size_t)view->tier, true, &holds);
	if (rc != LOYAL_OK)
		return rc;
	if (holds || view->tier == 0 || view->tier <= floor) {
		row.grace_until = 0;
		while (row.review_at <= at)
			row.review_at = ly_program_next_review(program, row.review_at);
		if (view->tier <= floor && until < row.review_at)
			row.review_at = until; /* reviewed again when the assignment ends */
		return ly_store_tier_put(view->db->store, &row);
	}
	if (program->ladder.grace_ms && !row.grace_until) {
		row.grace_until = row.review_at + program->ladder.grace_ms;
		row.review_at = row.grace_until;
		rc = ly_store_tier_put(view->db->store, &row);
		return rc == LOYAL_OK
			       ? ly_outbox_add(view->db, view->member->id, "grace_started", at,
					       json_pack("{s:s,s:I}", "tier",
							 program->ladder.tiers[view->tier].name,
							 "grace_until", (json_int_t)row.grace_until))
			       : rc;
	}
	int to = view->tier - 1;
	if (!program->ladder.one_step) {
		rc = highest_qualifying(view, 0, &to);
		to = to < 0 ? 0 : to;
	}
	to = to < floor ? floor : to;
	*dropped = true;
	return rc == LOYAL_OK ? move_to(view, to, at, "review", NULL) : rc;
}

/* Opens a view of member `id` at `at` and runs `step` on it. */
static int with_view(loyal_db *db, int64_t id, int64_t at,
		     int (*step)(member_view *, int64_t, bool *), bool *changed)
{
	member_row member;
	bool found = false;
	char *external = NULL;
	int rc = ly_store_member_get(db->store, id, &member, &found);
	if (rc == LOYAL_OK && found)
		rc = ly_store_member_external_id(db->store, id, &external);
	if (rc != LOYAL_OK || !found)
		return rc;
	member_view view;
	ly_member_view_open(db, &member, external, NULL, at, &view);
	rc = step(&view, at, changed);
	ly_member_view_close(&view);
	if (rc == LOYAL_OK) /* a move up may have credited the tier's award */
		rc = ly_store_member_update(db->store, &member);
	ly_mem_free(external);
	return rc;
}

static int reevaluate(member_view *view, int64_t at, bool *changed)
{
	int best = -1, floor = -1;
	int64_t until = 0;
	int rc = assigned_floor(view, at, &floor, &until);
	if (rc == LOYAL_OK)
		rc = highest_qualifying(view, 0, &best);
	best = best < floor ? floor : best;
	bool keeps = false;
	if (rc == LOYAL_OK && view->tier > best)
		rc = tier_holds(view, (size_t)view->tier, true, &keeps);
	*changed = rc == LOYAL_OK && !keeps && best >= 0 && best != view->tier;
	return *changed ? move_to(view, best, at, "ladder changed", NULL) : rc;
}

int ly_tiers_reevaluate_all(loyal_db *db, int64_t at)
{
	int64_t *members = NULL;
	size_t count = 0;
	int rc = ly_store_tier_due(db->store, at, true, &members, &count);
	for (size_t i = 0; i < count && rc == LOYAL_OK; i++) {
		bool changed = false;
		rc = with_view(db, members[i], at, reevaluate, &changed);
	}
	ly_mem_free(members);
	return rc;
}

int ly_tiers_sweep(loyal_db *db, int64_t at, int64_t *out_changed)
{
	int64_t *members = NULL;
	size_t count = 0;
	int64_t changed = 0;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_store_tier_due(db->store, at, false, &members, &count);
	for (size_t i = 0; i < count && rc == LOYAL_OK; i++) {
		bool dropped = false;
		rc = ly_store_begin(db->store);
		if (rc == LOYAL_OK)
			rc = with_view(db, members[i], at, review, &dropped);
		if (rc == LOYAL_OK)
			rc = ly_store_commit(db->store);
		else
			ly_store_rollback(db->store);
		changed += rc == LOYAL_OK && dropped;
	}
	ly_mem_free(members);
	if (out_changed)
		*out_changed = changed;
	return rc;
}

/* At risk: the member holds a tier above the lowest whose retain condition does not hold now,
 * and no assignment keeps them in it. */
static int at_risk(member_view *view, int64_t at, bool *out)
{
	*out = false;
	if (view->tier <= 0)
		return LOYAL_OK;
	int floor = -1;
	int64_t until = INT64_MAX;
	bool holds = true;
	int rc = assigned_floor(view, at, &floor, &until);
	if (rc == LOYAL_OK && view->tier > floor)
		rc = tier_holds(view, (size_t)view->tier, true, &holds);
	*out = rc == LOYAL_OK && !holds;
	return rc;
}

int ly_tiers_at_risk(loyal_db *db, int64_t member, int64_t at, bool *out)
{
	*out = false;
	return with_view(db, member, at, at_risk, out);
}

/* ---- an operator's assignments ---- */

/* Records a tier change an operator made (or confirmed: from may equal to) in the history. */
static int record(member_view *view, int to, int64_t at, const char *what, const char *reason)
{
	const struct program *program = view->db->program;
	char text[TEXT_MAX_BYTES + 16];
	snprintf(text, sizeof text, "%s: %s", what, reason);
	if (to != view->tier)
		return move_to(view, to, at, text, NULL);
	const char *name = program->ladder.tiers[to].name;
	int rc = ly_store_tier_history_add(view->db->store, view->member->id, name, name, at, text);
	return rc == LOYAL_OK ? announce_change(view, name, name, to, at, text) : rc;
}

typedef struct assignment_call {
	const char *tier, *reason;
	int64_t until;
	int changed;
} assignment_call;

static int assign(member_view *view, int64_t at, void *ctx)
{
	assignment_call *call = ctx;
	int to = ly_program_tier_index(view->db->program, call->tier);
	tier_assignment assignment = {.member = view->member->id, .until = call->until, .at = at};
	snprintf(assignment.tier, sizeof assignment.tier, "%s", call->tier);
	snprintf(assignment.reason, sizeof assignment.reason, "%s", call->reason);
	int rc = ly_store_tier_assignment_set(view->db->store, &assignment);
	if (rc == LOYAL_OK)
		rc = record(view, to > view->tier ? to : view->tier, at, "assigned", call->reason);
	tier_row row;
	if (rc == LOYAL_OK)
		rc = ly_store_tier_get(view->db->store, view->member->id, &row);
	if (rc == LOYAL_OK && call->until < row.review_at) {
		row.review_at = call->until; /* reviewed when the assignment ends */
		rc = ly_store_tier_put(view->db->store, &row);
	}
	return rc;
}

static int release(member_view *view, int64_t at, void *ctx)
{
	assignment_call *call = ctx;
	tier_assignment assignment;
	bool found = false;
	int rc = ly_store_tier_assignment_get(view->db->store, view->member->id, &assignment, &found);
	if (rc != LOYAL_OK || !found)
		return rc;
	rc = ly_store_tier_assignment_clear(view->db->store, view->member->id);
	if (rc != LOYAL_OK || assignment.until <= at)
		return rc; /* one that had ended already: nothing to release */
	/* Released: the member holds the tier they qualify for now. */
	int best = -1;
	rc = highest_qualifying(view, 0, &best);
	if (rc == LOYAL_OK)
		rc = record(view, best < 0 ? 0 : best, at, "released", call->reason);
	call->changed = 1;
	return rc;
}

/* Runs an assignment step on the member in a write transaction of its own. */
static int with_member_view(loyal_db *db, const char *member,
			    int (*step)(member_view *, int64_t, void *), void *ctx)
{
	int rc = ly_store_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	int64_t now = ly_db_now(db);
	member_row row;
	rc = ly_program_refresh(db);
	if (rc == LOYAL_OK && !db->program->ladder.count)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "the program has no tiers");
	if (rc == LOYAL_OK)
		rc = ly_member_for(db, member, now, false, &row);
	if (rc == LOYAL_OK) {
		member_view view;
		ly_member_view_open(db, &row, member, NULL, now, &view);
		rc = step(&view, now, ctx);
		ly_member_view_close(&view);
		if (rc == LOYAL_OK)
			rc = ly_store_member_update(db->store, &row);
	}
	if (rc == LOYAL_OK)
		return ly_store_commit(db->store);
	ly_store_rollback(db->store);
	return rc;
}

int ly_tiers_assign(loyal_db *db, const char *member, const char *tier, int64_t until,
		    const char *reason)
{
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, tier, "tier", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, reason, "reason", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK && until && until <= ly_db_now(db))
		rc = ly_db_fail(db, LOYAL_EINVAL, "until (%lld) is not in the future", (long long)until);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc == LOYAL_OK && ly_program_tier_index(db->program, tier) < 0)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no tier named '%s'", tier);
	assignment_call call = {.tier = tier, .reason = reason, .until = until ? until : INT64_MAX};
	return rc == LOYAL_OK ? with_member_view(db, member, assign, &call) : rc;
}

int ly_tiers_release(loyal_db *db, const char *member, const char *reason, int *out_changed)
{
	if (out_changed)
		*out_changed = 0;
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, reason, "reason", true, TEXT_MAX_BYTES);
	assignment_call call = {.reason = reason};
	if (rc == LOYAL_OK)
		rc = with_member_view(db, member, release, &call);
	if (rc == LOYAL_OK && out_changed)
		*out_changed = call.changed;
	return rc;
}

/* ---- reading ---- */

static json_t *next_tier(member_view *view, int64_t by, int *rc)
{
	const tier_ladder *ladder = &view->db->program->ladder;
	size_t next = (size_t)(view->tier + 1);
	if (next >= ladder->count || !ladder->tiers[next].entry)
		return json_null();
	criteria_context context = ly_member_view_context(view);
	criteria_progress progress;
	*rc = ly_criteria_progress_of(&view->db->error, ladder->tiers[next].entry, &context, &progress);
	if (*rc != LOYAL_OK || !progress.found)
		return json_pack("{s:s}", "tier", ladder->tiers[next].name);
	int64_t missing = progress.target - progress.current;
	return json_pack("{s:s,s:I,s:I,s:I,s:o}", "tier", ladder->tiers[next].name, "current",
			 (json_int_t)progress.current, "target", (json_int_t)progress.target,
			 "missing", (json_int_t)(missing > 0 ? missing : 0), "by",
			 by ? json_integer(by) : json_null());
}

int ly_tiers_describe(loyal_db *db, member_row *row, const char *member, json_t **out)
{
	tier_row tier = {0};
	tier_assignment assignment;
	bool assigned = false;
	member_view view = {0};
	json_t *result = NULL;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_store_tier_get(db->store, row->id, &tier);
	if (rc == LOYAL_OK)
		rc = ly_store_tier_assignment_get(db->store, row->id, &assignment, &assigned);
	assigned = assigned && assignment.until > ly_db_now(db);
	ly_member_view_open(db, row, member, NULL, ly_db_now(db), &view);
	if (rc == LOYAL_OK) { /* the tier row is read already */
		view.tier = ly_program_tier_index(db->program, tier.tier);
		const tier_def *def = view.tier >= 0 ? &db->program->ladder.tiers[view.tier] : NULL;
		json_t *perks = NULL;
		rc = def ? ly_json_parse_stored(&db->error, def->perks, &perks, "the perks of tier '%s'",
					    def->name)
			 : LOYAL_OK;
		if (!def)
			perks = json_object();
		result = json_pack("{s:s,s:o,s:o,s:o,s:o,s:f,s:o}", "member", member, "tier",
				   def ? json_string(def->name) : json_null(), "since",
				   def ? json_integer(tier.since) : json_null(), "next_review",
				   def ? json_integer(tier.review_at) : json_null(), "grace_until",
				   tier.grace_until ? json_integer(tier.grace_until) : json_null(),
				   "multiplier", def ? def->multiplier : 1.0, "perks", perks);
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, result, "assigned",
					 assigned ? json_pack("{s:s,s:o,s:s}", "tier", assignment.tier,
							      "until",
							      assignment.until == INT64_MAX
								      ? json_null()
								      : json_integer(assignment.until),
							      "reason", assignment.reason)
						  : json_null());
		json_t *next = rc == LOYAL_OK ? next_tier(&view, def ? tier.review_at : 0, &rc) : NULL;
		if (json_object_set_new(result, "next", next) && rc == LOYAL_OK)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading a tier");
	}
	ly_member_view_close(&view);
	return ly_json_hand_over(rc, result, out);
}

typedef struct history_cursor {
	loyal_cursor base;
	int64_t member, before;
} history_cursor;

static int history_step(loyal_cursor *base, char **row)
{
	history_cursor *cursor = (history_cursor *)base;
	tier_change change;
	bool found = false;
	*row = NULL;
	int rc = ly_store_tier_history_before(base->db->store, cursor->member, cursor->before, &change,
					   &found);
	if (rc != LOYAL_OK || !found)
		return rc;
	cursor->before = change.id;
	return ly_json_emit(&base->db->error,
			 json_pack("{s:o,s:s,s:I,s:s}", "from",
				   *change.from ? json_string(change.from) : json_null(), "to",
				   change.to, "at", (json_int_t)change.at, "reason", change.reason),
			 row);
}

int ly_tiers_history(loyal_db *db, const char *member, loyal_cursor **out)
{
	member_row row;
	bool found = false;
	int rc = ly_store_member_find(db->store, member, &row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member);
	if (rc != LOYAL_OK)
		return rc;
	history_cursor *cursor = (history_cursor *)ly_cursor_new(db, sizeof *cursor, history_step);
	if (!cursor)
		return db->error.code;
	cursor->member = row.id;
	*out = &cursor->base;
	return LOYAL_OK;
}
