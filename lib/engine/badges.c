/* badges.c - badges: evaluating criteria (counting only inside a badge's window), awarding
 * levels (with cool-downs and points), a member's awards, progress, and the sweep. */
#include "engine/badges.h"
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
 * from its window's opening (a view's bound is the badge's only while its criteria run). */
static criteria_context badge_context(member_view *view, const badge_def *badge)
{
	view->counts_from = badge->active_from;
	criteria_context context = ly_member_view_context(view);
	context.streak_freezes = badge->freezes;
	return context;
}

static int holds(member_view *view, const badge_def *badge, const badge_level *level, bool *out)
{
	criteria_context context = badge_context(view, badge);
	criteria_value value;
	int rc = ly_criteria_eval(&view->db->error, level->criterion, &context, &value);
	view->counts_from = INT64_MIN;
	*out = rc == LOYAL_OK && ly_criteria_truthy(&value);
	return rc;
}

static int award(member_view *view, const badge_def *badge, const badge_level *level, int64_t at,
		 const char *cause)
{
	loyal_db *db = view->db;
	int rc = ly_store_badge_award_add(db->store, view->member->id, badge->name, level->name, at, cause);
	char reason[96];
	snprintf(reason, sizeof reason, "badge:%s", badge->name);
	for (size_t i = 0; i < level->award_count && rc == LOYAL_OK; i++) {
		const currency_def *currency = &db->program->currencies[level->awards[i].currency];
		loyal_posting posting = LOYAL_POSTING_INIT;
		posting.member = view->external_id;
		posting.currency = currency->name;
		posting.amount = level->amounts[i];
		posting.idempotency_key = reason;
		posting.reason = reason;
		posting.cause = cause;
		int64_t txn = 0, moved = 0;
		if (view->member->status != MEMBER_BLOCKED)
			rc = ly_ledger_run(db, OP_CREDIT, &posting, view->member, currency, at, 0,
					   &txn, &moved);
	}
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
			bool earned = false, before = false;
			int64_t last = 0;
			/* A level given once is not evaluated again: its criterion may read the
			 * member's whole history. */
			rc = ly_store_badge_last_award(view->db->store, view->member->id, badge->name,
						    level->name, &last, &before);
			if (rc == LOYAL_OK && before && !badge->repeatable)
				continue;
			if (rc == LOYAL_OK)
				rc = holds(view, badge, level, &earned);
			if (rc != LOYAL_OK || !earned)
				break; /* levels are ordered: a higher one needs the lower */
			if (before && at - last < badge->cooldown_ms)
				continue;
			rc = award(view, badge, level, at, cause);
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

int ly_badges_list(loyal_db *db, const member_row *row, json_t **out)
{
	int rc = LOYAL_OK;
	json_t *list = json_array();
	badge_award_row award_row = {0};
	bool found = true;
	while (rc == LOYAL_OK && found) {
		rc = ly_store_badge_award_next(db->store, row->id, award_row.id, &award_row, &found);
		if (rc == LOYAL_OK && found)
			rc = ly_json_append(&db->error, list, json_pack("{s:s,s:o,s:I}", "badge", award_row.badge, "level",
						*award_row.level ? json_string(award_row.level)
								 : json_null(),
						"at", (json_int_t)award_row.at));
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
	for (; rc == LOYAL_OK && next < badge->level_count; next++) {
		int64_t at = 0;
		bool before = false;
		rc = ly_store_badge_last_award(db->store, row->id, badge->name, badge->levels[next].name, &at,
					    &before);
		if (!before) {
			complete = false;
			break;
		}
	}
	json_t *result = NULL;
	if (rc == LOYAL_OK) {
		const badge_level *level = &badge->levels[complete ? badge->level_count - 1 : next];
		criteria_context context = badge_context(&view, badge);
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
