/* badges.c - badges: evaluating criteria (counting only inside a badge's window), awarding
 * levels (with cool-downs and points), a member's awards, progress, and the sweep. */
#include "engine/badges.h"
#include "engine/outbox.h"
#include "engine/ledger.h"
#include "engine/members.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

static bool reads_type(const badge_def *badge, const char *type)
{
	if (!type)
		return true;
	for (size_t i = 0; i < badge->type_count; i++)
		if (strcmp(badge->types[i], type) == 0)
			return true;
	return false;
}

/* The context a badge's criteria read the member through: its streak freezes, and counting only
 * from `from` (its window's opening, or a revocation; a view's bound is the badge's only while
 * its criteria run). */
static criteria_context badge_context(member_view *view, const badge_def *badge, int64_t from)
{
	view->counts_from = from > badge->active_from ? from : badge->active_from;
	criteria_context context = ly_member_view_context(view);
	context.streak_freezes = badge->freezes;
	return context;
}

/* Where a revoked level's criteria start counting: the local day after the revocation (a day
 * later, in the program's fixed-offset days), so that nothing from before it earns it again. */
static int64_t since_revocation(const badge_state *state)
{
	return state->revoked ? state->revoked_at + DAY_MS : INT64_MIN;
}

static int holds(member_view *view, const badge_def *badge, const badge_level *level,
		 int64_t from, bool *out)
{
	criteria_context context = badge_context(view, badge, from);
	criteria_value value;
	int rc = ly_criteria_eval(&view->db->error, level->criterion, &context, &value);
	view->counts_from = INT64_MIN;
	*out = rc == LOYAL_OK && ly_criteria_truthy(&value);
	return rc;
}

static int award(member_view *view, const badge_def *badge, const badge_level *level, int kind,
		 int64_t at, const char *cause)
{
	loyal_db *db = view->db;
	int rc = ly_store_badge_award_add(db->store, view->member->id, badge->name, level->name,
					  kind, at, cause);
	if (rc == LOYAL_OK)
		rc = ly_outbox_add(db, view->member->id, "badge_earned", at,
				   json_pack("{s:s,s:o,s:s,s:o}", "badge", badge->name, "level",
					     level->name ? json_string(level->name) : json_null(),
					     "how", kind == BADGE_GRANTED ? "granted" : "earned",
					     "reason",
					     kind == BADGE_GRANTED ? json_string(cause) : json_null()));
	char reason[96];
	snprintf(reason, sizeof reason, "badge:%s", badge->name);
	if (rc == LOYAL_OK)
		rc = ly_ledger_credit_award(db, &level->award, view->member, view->external_id,
					    reason, cause, at);
	return rc;
}

int ly_badges_evaluate(member_view *view, const char *type, int64_t at, const char *cause,
		    json_t *awarded, int64_t *count)
{
	const struct program *program = view->db->program;
	int rc = LOYAL_OK;
	for (size_t b = 0; b < program->badge_count && rc == LOYAL_OK; b++) {
		const badge_def *badge = &program->badges[b];
		if (!reads_type(badge, type) || at < badge->active_from || at >= badge->active_until)
			continue;
		for (size_t l = 0; l < badge->level_count && rc == LOYAL_OK; l++) {
			const badge_level *level = &badge->levels[l];
			bool earned = false;
			badge_state state;
			/* A level given once is not evaluated again: its criterion may read the
			 * member's whole history. A revoked one is earned again only where the
			 * program says so, by what happened since the revocation. */
			rc = ly_store_badge_state(view->db->store, view->member->id, badge->name,
						  level->name, &state);
			if (rc == LOYAL_OK && state.revoked && !badge->earn_again)
				break; /* levels are ordered: a higher one needs the lower */
			if (rc == LOYAL_OK && state.awarded && !state.revoked && !badge->repeatable)
				continue;
			if (rc == LOYAL_OK)
				rc = holds(view, badge, level, since_revocation(&state), &earned);
			if (rc != LOYAL_OK || !earned)
				break;
			if (state.awarded && !state.revoked && at - state.awarded_at < badge->cooldown_ms)
				continue;
			rc = award(view, badge, level, BADGE_EARNED, at, cause);
			if (rc == LOYAL_OK && awarded)
				rc = ly_json_append(&view->db->error, awarded,
						 json_pack("{s:s,s:o}", "badge", badge->name,
								"level", level->name
										 ? json_string(level->name)
										 : json_null()));
			if (count)
				(*count)++;
		}
	}
	return rc;
}

int ly_badges_list(loyal_db *db, const member_row *row, int64_t as_of, json_t **out)
{
	int rc = LOYAL_OK;
	json_t *list = json_array();
	badge_award_row award_row = {0};
	bool found = true;
	while (rc == LOYAL_OK && found) {
		rc = ly_store_badge_award_next(db->store, row->id, award_row.id, &award_row, &found);
		if (rc != LOYAL_OK || !found)
			break;
		if (award_row.at > as_of || (award_row.revoked_at && award_row.revoked_at <= as_of &&
					     as_of != INT64_MAX))
			continue; /* not yet awarded, or no longer held, at as_of */
		bool revoked = award_row.revoked_at && award_row.revoked_at <= as_of;
		rc = ly_json_append(
			&db->error, list,
			json_pack("{s:s,s:o,s:I,s:s,s:o,s:o}", "badge", award_row.badge, "level",
				  *award_row.level ? json_string(award_row.level) : json_null(), "at",
				  (json_int_t)award_row.at, "how",
				  award_row.kind == BADGE_GRANTED ? "granted" : "earned", "reason",
				  award_row.kind == BADGE_GRANTED ? json_string(award_row.reason)
								  : json_null(),
				  "revoked",
				  revoked ? json_pack("{s:I,s:s}", "at", (json_int_t)award_row.revoked_at,
						      "reason", award_row.revoked_reason)
					  : json_null()));
	}
	return ly_json_hand_over(rc, list, out);
}

int ly_badges_progress(loyal_db *db, member_row *row, const char *member,
		       const char *badge_name, json_t **out)
{
	const badge_def *badge = NULL;
	int rc = ly_program_refresh(db);
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->badge_count && !badge; i++)
		if (strcmp(db->program->badges[i].name, badge_name) == 0)
			badge = &db->program->badges[i];
	if (rc == LOYAL_OK && !badge)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no badge named '%s'", badge_name);
	member_view view;
	ly_member_view_open(db, row, member, NULL, ly_db_now(db), &view);
	/* The first level not awarded yet, or the last one when all are. */
	size_t next = 0;
	bool complete = true;
	int64_t from = INT64_MIN;
	for (; rc == LOYAL_OK && next < badge->level_count; next++) {
		badge_state state;
		rc = ly_store_badge_state(db->store, row->id, badge->name, badge->levels[next].name,
					  &state);
		if (rc == LOYAL_OK && (!state.awarded || state.revoked)) {
			complete = false;
			from = since_revocation(&state);
			break;
		}
	}
	json_t *result = NULL;
	if (rc == LOYAL_OK) {
		const badge_level *level = &badge->levels[complete ? badge->level_count - 1 : next];
		criteria_context context = badge_context(&view, badge, from);
		criteria_progress progress;
		rc = ly_criteria_progress_of(&db->error, level->criterion, &context, &progress);
		int64_t shown = progress.current < progress.target ? progress.current
								   : progress.target;
		result = json_pack("{s:s,s:o,s:o,s:o,s:o,s:b}", "badge", badge->name, "level",
				   level->name ? json_string(level->name) : json_null(), "current",
				   progress.found ? json_integer(progress.current) : json_null(),
				   "target", progress.found ? json_integer(progress.target) : json_null(),
				   "percent",
				   progress.found ? json_integer(shown * 100 / progress.target)
						  : json_null(),
				   "complete", complete);
	}
	ly_member_view_close(&view);
	return ly_json_hand_over(rc, result, out);
}

int ly_badges_sweep(loyal_db *db, int64_t at, int64_t *out_awarded)
{
	int64_t after = 0, awarded = 0;
	bool more = true;
	member_page *page = ly_mem_calloc(1, sizeof *page);
	int rc = page ? ly_program_refresh(db)
		      : ly_db_fail(db, LOYAL_ENOMEM, "out of memory sweeping badges");
	/* One transaction per page of members. */
	while (rc == LOYAL_OK && more) {
		rc = ly_store_begin(db->store);
		if (rc == LOYAL_OK)
			rc = ly_store_member_page(db->store, after, page);
		more = rc == LOYAL_OK && page->count > 0;
		int64_t chunk = 0;
		for (size_t i = 0; rc == LOYAL_OK && i < page->count; i++) {
			member_row *member = &page->items[i].row;
			after = member->id;
			member_view view;
			ly_member_view_open(db, member, page->items[i].external, NULL, at, &view);
			rc = ly_badges_evaluate(&view, NULL, at, NULL, NULL, &chunk);
			ly_member_view_close(&view);
			if (rc == LOYAL_OK)
				rc = ly_store_member_update(db->store, member);
		}
		if (rc == LOYAL_OK)
			rc = ly_store_commit(db->store);
		else
			ly_store_rollback(db->store);
		if (rc == LOYAL_OK)
			awarded += chunk;
	}
	ly_mem_free(page);
	if (out_awarded)
		*out_awarded = awarded;
	return rc;
}

/* ---- an operator's recognition ---- */

/* The level of badge `name` that `level` names (NULL: a badge without levels). */
static int find_level(loyal_db *db, const char *name, const char *level, const badge_def **badge,
		      const badge_level **out)
{
	*badge = NULL;
	for (size_t i = 0; i < db->program->badge_count && !*badge; i++)
		if (strcmp(db->program->badges[i].name, name) == 0)
			*badge = &db->program->badges[i];
	if (!*badge)
		return ly_db_fail(db, LOYAL_ENOTFOUND, "no badge named '%s'", name);
	const badge_def *b = *badge;
	bool named = b->levels[0].name != NULL;
	if (!level && named)
		return ly_db_fail(db, LOYAL_EINVAL, "badge '%s' has levels: name one (the first is '%s')",
				  name, b->levels[0].name);
	if (level && !named)
		return ly_db_fail(db, LOYAL_EINVAL, "badge '%s' has no levels: level must be NULL",
				  name);
	for (size_t i = 0; i < b->level_count; i++)
		if (!level || strcmp(b->levels[i].name, level) == 0) {
			*out = &b->levels[i];
			return LOYAL_OK;
		}
	return ly_db_fail(db, LOYAL_ENOTFOUND, "badge '%s' has no level '%s'", name, level);
}

int ly_badges_recognize(loyal_db *db, const char *member, const char *badge_name,
			const char *level_name, const char *reason, bool grant, int *out_changed)
{
	if (out_changed)
		*out_changed = 0;
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, badge_name, "badge", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, level_name, "level", false, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, reason, "reason", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_store_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	const badge_def *badge = NULL;
	const badge_level *level = NULL;
	member_row row;
	badge_state state = {0};
	int64_t now = ly_db_now(db);
	rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = find_level(db, badge_name, level_name, &badge, &level);
	if (rc == LOYAL_OK)
		rc = ly_member_for(db, member, now, false, &row);
	if (rc == LOYAL_OK)
		rc = ly_store_badge_state(db->store, row.id, badge->name, level->name, &state);
	bool held = state.awarded && !state.revoked;
	if (rc == LOYAL_OK && grant && !held) {
		member_view view;
		ly_member_view_open(db, &row, member, NULL, now, &view);
		rc = award(&view, badge, level, BADGE_GRANTED, now, reason);
		ly_member_view_close(&view);
		if (rc == LOYAL_OK)
			rc = ly_store_member_update(db->store, &row);
	} else if (rc == LOYAL_OK && !grant && held) {
		rc = ly_store_badge_award_add(db->store, row.id, badge->name, level->name,
					      BADGE_REVOKED, now, reason);
		if (rc == LOYAL_OK)
			rc = ly_outbox_add(db, row.id, "badge_revoked", now,
					   json_pack("{s:s,s:o,s:s}", "badge", badge->name, "level",
						     level->name ? json_string(level->name)
								 : json_null(),
						     "reason", reason));
	}
	if (rc == LOYAL_OK)
		rc = ly_store_commit(db->store);
	else
		ly_store_rollback(db->store);
	if (rc == LOYAL_OK && out_changed)
		*out_changed = grant != held;
	return rc;
}
