/* recognition.c - the SQLite backend's tiers, segments and badge awards: how a program
 * recognises members. */
#include "store/sqlite/sqlite.h"

#include <stdio.h>
#include <string.h>

/* ---- tiers ---- */


int ly_sqlite_tier_get(store *s, int64_t member, tier_row *out)
{
	STMT(ST_TIER_GET, "SELECT tier, tier_since, review_at, grace_until FROM members"
			  " WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading a tier");
	*out = (tier_row){.member = member};
	if (rc != LOYAL_OK || !found)
		return rc;
	ly_sqlite_copy_column(stmt, 0, out->tier, sizeof out->tier);
	out->since = sqlite3_column_int64(stmt, 1);
	out->review_at = sqlite3_column_int64(stmt, 2);
	out->grace_until = sqlite3_column_int64(stmt, 3);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_tier_put(store *s, const tier_row *tier)
{
	STMT(ST_TIER_PUT, "UPDATE members SET tier = ?2, tier_since = ?3, review_at = ?4,"
			  " grace_until = ?5 WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, tier->member);
	sqlite3_bind_text(stmt, 2, tier->tier, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, tier->since);
	sqlite3_bind_int64(stmt, 4, tier->review_at);
	sqlite3_bind_int64(stmt, 5, tier->grace_until);
	int rc = ly_sqlite_step_done(s, stmt, "saving a tier");
	if (rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) != 1)
		rc = ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld is missing: its tier cannot be saved",
			     (long long)tier->member);
	return rc;
}

int ly_sqlite_tier_assignment_get(store *s, int64_t member, tier_assignment *out, bool *found)
{
	STMT(ST_TIER_ASSIGNMENT_GET, "SELECT tier, until, at, reason FROM tier_assignments"
				     " WHERE member = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading a tier assignment");
	*out = (tier_assignment){.member = member};
	if (rc != LOYAL_OK || !*found)
		return rc;
	ly_sqlite_copy_column(stmt, 0, out->tier, sizeof out->tier);
	out->until = sqlite3_column_int64(stmt, 1);
	out->at = sqlite3_column_int64(stmt, 2);
	ly_sqlite_copy_column(stmt, 3, out->reason, sizeof out->reason);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_tier_assignment_set(store *s, const tier_assignment *a)
{
	STMT(ST_TIER_ASSIGNMENT_SET, "INSERT OR REPLACE INTO tier_assignments(member, tier, until,"
				     " at, reason) VALUES(?1, ?2, ?3, ?4, ?5)");
	sqlite3_bind_int64(stmt, 1, a->member);
	sqlite3_bind_text(stmt, 2, a->tier, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, a->until);
	sqlite3_bind_int64(stmt, 4, a->at);
	sqlite3_bind_text(stmt, 5, a->reason, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "saving a tier assignment");
}

int ly_sqlite_tier_assignment_clear(store *s, int64_t member)
{
	STMT(ST_TIER_ASSIGNMENT_CLEAR, "DELETE FROM tier_assignments WHERE member = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	return ly_sqlite_step_done(s, stmt, "releasing a tier assignment");
}

int ly_sqlite_tier_history_add(store *s, int64_t member, const char *from, const char *to,
			   int64_t at, const char *reason)
{
	STMT(ST_TIER_HISTORY_ADD, "INSERT INTO tier_history(member, from_tier, to_tier, at, reason)"
				  " VALUES(?1, ?2, ?3, ?4, ?5)");
	sqlite3_bind_int64(stmt, 1, member);
	if (from && *from)
		sqlite3_bind_text(stmt, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, at);
	sqlite3_bind_text(stmt, 5, reason, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "recording a tier change");
}

int ly_sqlite_tier_due(store *s, int64_t at, bool all, int64_t **members, size_t *count)
{
	/* Both read the index of review dates (members with a tier), not every member's row. */
	sqlite3_stmt *stmt =
		all ? ly_sqlite_stmt(s, ST_TIER_ALL, "SELECT id FROM members INDEXED BY"
						     " members_review WHERE tier <> '' ORDER BY id")
		    : ly_sqlite_stmt(s, ST_TIER_DUE, "SELECT id FROM members INDEXED BY"
						     " members_review WHERE tier <> '' AND"
						     " review_at <= ?1 ORDER BY id");
	if (!stmt)
		return s->error->code;
	if (!all)
		sqlite3_bind_int64(stmt, 1, at);
	return ly_sqlite_collect_ints(s, stmt, 1, members, count, "finding tier reviews");
}

int ly_sqlite_tier_history_before(store *s, int64_t member, int64_t before, tier_change *out,
			      bool *found)
{
	STMT(ST_TIER_HISTORY, "SELECT id, at, coalesce(from_tier, ''), to_tier, reason FROM"
			      " tier_history WHERE member = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, before ? before : INT64_MAX);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading tier history");
	if (rc != LOYAL_OK || !*found)
		return rc;
	out->id = sqlite3_column_int64(stmt, 0);
	out->at = sqlite3_column_int64(stmt, 1);
	ly_sqlite_copy_column(stmt, 2, out->from, sizeof out->from);
	ly_sqlite_copy_column(stmt, 3, out->to, sizeof out->to);
	ly_sqlite_copy_column(stmt, 4, out->reason, sizeof out->reason);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

/* ---- segments ---- */

/* Reads the page of members a statement selects (their columns, then external_id). */
static int read_member_page(store *s, sqlite3_stmt *stmt, member_page *out)
{
	out->count = 0;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		ly_sqlite_read_member_row(stmt, &out->items[out->count].row);
		ly_sqlite_copy_column(stmt, MEMBER_COLUMN_COUNT, out->items[out->count].external,
				      sizeof out->items[out->count].external);
		out->count++;
	}
	ly_sqlite_finish(stmt);
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "listing members");
}

int ly_sqlite_member_page(store *s, int64_t after, member_page *out)
{
	STMT(ST_MEMBER_NEXT, "SELECT " MEMBER_COLUMNS ", external_id FROM members WHERE id > ?1"
			     " ORDER BY id LIMIT ?2");
	sqlite3_bind_int64(stmt, 1, after);
	sqlite3_bind_int(stmt, 2, MEMBER_PAGE_SIZE);
	return read_member_page(s, stmt, out);
}

int ly_sqlite_member_search(store *s, const member_filter *f, int64_t after, member_page *out)
{
	STMT(ST_MEMBER_SEARCH,
	     "SELECT " MEMBER_COLUMNS ", external_id FROM members m WHERE id > ?1"
	     " AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(m.attrs) j WHERE j.key = ?2 AND"
	     " CASE ?3 WHEN 0 THEN j.type = 'text' AND j.atom = ?4"
	     " WHEN 1 THEN j.type IN ('integer', 'real') AND j.atom = ?5"
	     " WHEN 2 THEN j.type = 'true' ELSE j.type = 'false' END))"
	     " AND (?6 IS NULL OR m.tier = ?6)"
	     " AND (?7 IS NULL OR EXISTS (SELECT 1 FROM segment_members g WHERE g.segment = ?7"
	     " AND g.member = m.id))"
	     " AND m.last_active_at >= ?8 AND m.last_active_at < ?9 AND (?10 < 0 OR m.status = ?10)"
	     " ORDER BY id LIMIT ?11");
	sqlite3_bind_int64(stmt, 1, after);
	sqlite3_bind_text(stmt, 2, f->attribute, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, f->value_type);
	sqlite3_bind_text(stmt, 4, f->value_text, -1, SQLITE_STATIC);
	sqlite3_bind_double(stmt, 5, f->value_number);
	sqlite3_bind_text(stmt, 6, f->tier, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, f->segment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 8, f->active_from);
	sqlite3_bind_int64(stmt, 9, f->active_before);
	sqlite3_bind_int64(stmt, 10, f->status);
	sqlite3_bind_int(stmt, 11, MEMBER_PAGE_SIZE);
	return read_member_page(s, stmt, out);
}

/* The write transaction holds the file's lock: a read is the budget's for the transaction. */
int ly_sqlite_rule_budget_take(store *s, const char *rule, int64_t currency, int64_t period,
			       int64_t *used)
{
	STMT(ST_BUDGET_TAKE, "SELECT used FROM rule_budgets WHERE rule = ?1 AND currency = ?2"
			     " AND period = ?3");
	sqlite3_bind_text(stmt, 1, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, currency);
	sqlite3_bind_int64(stmt, 3, period);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading a rule's budget");
	*used = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_rule_budget_add(store *s, const char *rule, int64_t currency, int64_t period,
			      int64_t delta)
{
	STMT(ST_BUDGET_ADD, "INSERT INTO rule_budgets(rule, currency, period, used)"
			    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET used = used + ?4");
	sqlite3_bind_text(stmt, 1, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, currency);
	sqlite3_bind_int64(stmt, 3, period);
	sqlite3_bind_int64(stmt, 4, delta);
	return ly_sqlite_step_done(s, stmt, "spending a rule's budget");
}

int ly_sqlite_member_count(store *s, int64_t *out)
{
	STMT(ST_MEMBER_COUNT, "SELECT count(*) FROM members");
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "counting members");
	*out = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_segment_is_member(store *s, const char *segment, int64_t member, bool *out)
{
	STMT(ST_SEGMENT_IS, "SELECT 1 FROM segment_members WHERE segment = ?1 AND member = ?2");
	sqlite3_bind_text(stmt, 1, segment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, member);
	int rc = ly_sqlite_step_one(s, stmt, out, "reading a segment");
	if (rc == LOYAL_OK && *out)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_segment_set(store *s, const char *segment, int64_t member, bool in, int64_t at)
{
	sqlite3_stmt *stmt =
		in ? ly_sqlite_stmt(s, ST_SEGMENT_ADD,
				"INSERT INTO segment_members(segment, member, since) VALUES(?1, ?2, ?3)")
		   : ly_sqlite_stmt(s, ST_SEGMENT_REMOVE,
				"DELETE FROM segment_members WHERE segment = ?1 AND member = ?2");
	if (!stmt)
		return s->error->code;
	sqlite3_bind_text(stmt, 1, segment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, member);
	if (in)
		sqlite3_bind_int64(stmt, 3, at);
	return ly_sqlite_step_done(s, stmt, "saving a segment");
}

int ly_sqlite_segment_change(store *s, int64_t refresh, const char *segment, int64_t member,
			 bool entered, int64_t at)
{
	STMT(ST_SEGMENT_CHANGE, "INSERT INTO segment_changes(refresh, segment, member, entered, at)"
				" VALUES(?1, ?2, ?3, ?4, ?5)");
	sqlite3_bind_int64(stmt, 1, refresh);
	sqlite3_bind_text(stmt, 2, segment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, member);
	sqlite3_bind_int(stmt, 4, entered);
	sqlite3_bind_int64(stmt, 5, at);
	return ly_sqlite_step_done(s, stmt, "recording a segment change");
}

int ly_sqlite_segment_next_refresh(store *s, int64_t *out)
{
	STMT(ST_SEGMENT_NEXT_REFRESH, "SELECT coalesce(max(refresh), 0) + 1 FROM segment_changes");
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "numbering a refresh");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_int64(stmt, 0);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_segment_change_next(store *s, int64_t refresh, int64_t after, int64_t *id,
			      char *segment, size_t size, char *member, size_t member_size,
			      bool *entered, bool *found)
{
	STMT(ST_SEGMENT_CHANGE_NEXT,
	     "SELECT c.id, c.segment, m.external_id, c.entered FROM segment_changes c JOIN members m"
	     " ON m.id = c.member WHERE c.refresh = ?1 AND c.id > ?2 ORDER BY c.id LIMIT 1");
	sqlite3_bind_int64(stmt, 1, refresh);
	sqlite3_bind_int64(stmt, 2, after);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading segment changes");
	if (rc != LOYAL_OK || !*found)
		return rc;
	*id = sqlite3_column_int64(stmt, 0);
	ly_sqlite_copy_column(stmt, 1, segment, size);
	ly_sqlite_copy_column(stmt, 2, member, member_size);
	*entered = sqlite3_column_int(stmt, 3) != 0;
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

/* ---- badges ---- */

int ly_sqlite_badge_award_add(store *s, int64_t member, const char *badge, const char *level,
			      int kind, int64_t at, const char *cause)
{
	STMT(ST_BADGE_ADD, "INSERT INTO badge_awards(member, badge, level, kind, at, cause)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, badge, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, level ? level : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, kind);
	sqlite3_bind_int64(stmt, 5, at);
	if (cause)
		sqlite3_bind_text(stmt, 6, cause, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "recording a badge");
}

int ly_sqlite_badge_state(store *s, int64_t member, const char *badge, const char *level,
			  badge_state *out)
{
	STMT(ST_BADGE_LAST,
	     "SELECT max(iif(kind <> 2, id, NULL)), max(iif(kind <> 2, at, NULL)),"
	     " coalesce(max(iif(kind = 2, id, NULL)), 0), coalesce(max(iif(kind = 2, at, NULL)), 0)"
	     " FROM badge_awards WHERE member = ?1 AND badge = ?2 AND level = ?3");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, badge, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, level ? level : "", -1, SQLITE_STATIC);
	bool row = false;
	int rc = ly_sqlite_step_one(s, stmt, &row, "reading badges");
	*out = (badge_state){0};
	if (rc != LOYAL_OK || !row)
		return rc;
	out->awarded = sqlite3_column_type(stmt, 0) != SQLITE_NULL;
	out->awarded_at = sqlite3_column_int64(stmt, 1);
	out->revoked = sqlite3_column_int64(stmt, 2) > sqlite3_column_int64(stmt, 0);
	out->revoked_at = sqlite3_column_int64(stmt, 3);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_badge_award_next(store *s, int64_t member, int64_t after, badge_award_row *out,
			       bool *found)
{
	STMT(ST_BADGE_NEXT,
	     "SELECT a.id, a.at, a.badge, a.level, a.kind, coalesce(a.cause, ''),"
	     " coalesce(r.at, 0), coalesce(r.cause, '') FROM badge_awards a"
	     " LEFT JOIN badge_awards r ON r.id = (SELECT min(x.id) FROM badge_awards x"
	     " WHERE x.member = a.member AND x.badge = a.badge AND x.level = a.level"
	     " AND x.kind = 2 AND x.id > a.id)"
	     " WHERE a.member = ?1 AND a.id > ?2 AND a.kind <> 2 ORDER BY a.id LIMIT 1");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, after);
	int rc = ly_sqlite_step_one(s, stmt, found, "listing badges");
	if (rc != LOYAL_OK || !*found)
		return rc;
	out->id = sqlite3_column_int64(stmt, 0);
	out->at = sqlite3_column_int64(stmt, 1);
	ly_sqlite_copy_column(stmt, 2, out->badge, sizeof out->badge);
	ly_sqlite_copy_column(stmt, 3, out->level, sizeof out->level);
	out->kind = sqlite3_column_int64(stmt, 4);
	ly_sqlite_copy_column(stmt, 5, out->reason, sizeof out->reason);
	out->revoked_at = sqlite3_column_int64(stmt, 6);
	ly_sqlite_copy_column(stmt, 7, out->revoked_reason, sizeof out->revoked_reason);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

