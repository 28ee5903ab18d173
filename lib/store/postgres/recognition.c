/* recognition.c - the PostgreSQL backend's tiers, segments and badge awards. */
#include "store/postgres/postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tiers ---- */

int ly_pg_tier_get(store *s, int64_t member, tier_row *out)
{
	*out = (tier_row){.member = member};
	pg_args a = {0};
	ly_pg_int(&a, member);
	PGresult *r = ly_pg_query(s, "SELECT tier, tier_since, review_at, grace_until FROM members"
				     " WHERE id = $1",
				  &a, "reading a tier");
	if (!r)
		return s->error->code;
	if (PQntuples(r) == 1) {
		ly_pg_copy(r, 0, 0, out->tier, sizeof out->tier);
		out->since = ly_pg_get_int(r, 0, 1);
		out->review_at = ly_pg_get_int(r, 0, 2);
		out->grace_until = ly_pg_get_int(r, 0, 3);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_tier_put(store *s, const tier_row *tier)
{
	pg_args a = {0};
	ly_pg_int(&a, tier->member);
	ly_pg_text(&a, tier->tier);
	ly_pg_int(&a, tier->since);
	ly_pg_int(&a, tier->review_at);
	ly_pg_int(&a, tier->grace_until);
	char missing[128];
	snprintf(missing, sizeof missing, "member #%lld is missing: its tier cannot be saved",
		 (long long)tier->member);
	return ly_pg_exec_one(s, "UPDATE members SET tier = $2, tier_since = $3, review_at = $4,"
				 " grace_until = $5 WHERE id = $1",
			      &a, "saving a tier", missing);
}

int ly_pg_tier_assignment_get(store *s, int64_t member, tier_assignment *out, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	PGresult *r = ly_pg_query(s, "SELECT tier, until, at, reason FROM tier_assignments"
				     " WHERE member_id = $1",
				  &a, "reading a tier assignment");
	if (!r)
		return s->error->code;
	*out = (tier_assignment){.member = member};
	*found = PQntuples(r) == 1;
	if (*found) {
		ly_pg_copy(r, 0, 0, out->tier, sizeof out->tier);
		out->until = ly_pg_get_int(r, 0, 1);
		out->at = ly_pg_get_int(r, 0, 2);
		ly_pg_copy(r, 0, 3, out->reason, sizeof out->reason);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_tier_assignment_set(store *s, const tier_assignment *assignment)
{
	pg_args a = {0};
	ly_pg_int(&a, assignment->member);
	ly_pg_text(&a, assignment->tier);
	ly_pg_int(&a, assignment->until);
	ly_pg_int(&a, assignment->at);
	ly_pg_text(&a, assignment->reason);
	return ly_pg_exec(s, "INSERT INTO tier_assignments(member_id, tier, until, at, reason)"
			     " VALUES($1, $2, $3, $4, $5) ON CONFLICT (member_id) DO UPDATE SET"
			     " tier = $2, until = $3, at = $4, reason = $5",
			  &a, "saving a tier assignment");
}

int ly_pg_tier_assignment_clear(store *s, int64_t member)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	return ly_pg_exec(s, "DELETE FROM tier_assignments WHERE member_id = $1", &a,
			  "releasing a tier assignment");
}

int ly_pg_tier_history_add(store *s, int64_t member, const char *from, const char *to,
			   int64_t at, const char *reason)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, from && *from ? from : NULL);
	ly_pg_text(&a, to);
	ly_pg_int(&a, at);
	ly_pg_text(&a, reason);
	return ly_pg_exec(s, "INSERT INTO tier_history(member_id, from_tier, to_tier, at, reason)"
			     " VALUES($1, $2, $3, $4, $5)",
			  &a, "recording a tier change");
}

int ly_pg_tier_due(store *s, int64_t at, bool all, int64_t **members, size_t *count)
{
	pg_args a = {0};
	ly_pg_int(&a, at);
	PGresult *r = all ? ly_pg_query(s, "SELECT id FROM members WHERE tier <> '' ORDER BY id",
					NULL, "finding tier reviews")
			  : ly_pg_query(s, "SELECT id FROM members WHERE tier <> '' AND"
					   " review_at <= $1 ORDER BY id",
					&a, "finding tier reviews");
	if (!r)
		return s->error->code;
	int rc = ly_pg_collect_ints(s, r, 1, members, count);
	PQclear(r);
	return rc;
}

int ly_pg_tier_history_before(store *s, int64_t member, int64_t before, tier_change *out,
			      bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, before ? before : INT64_MAX);
	PGresult *r = ly_pg_query(s, "SELECT id, at, coalesce(from_tier, ''), to_tier, reason FROM"
				     " tier_history WHERE member_id = $1 AND id < $2"
				     " ORDER BY id DESC LIMIT 1",
				  &a, "reading tier history");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		out->id = ly_pg_get_int(r, 0, 0);
		out->at = ly_pg_get_int(r, 0, 1);
		ly_pg_copy(r, 0, 2, out->from, sizeof out->from);
		ly_pg_copy(r, 0, 3, out->to, sizeof out->to);
		ly_pg_copy(r, 0, 4, out->reason, sizeof out->reason);
	}
	PQclear(r);
	return LOYAL_OK;
}

/* ---- segments ---- */

/* Reads the page of members a query selected (their columns, then external_id). */
static int read_member_page(store *s, PGresult *r, member_page *out)
{
	out->count = 0;
	if (!r)
		return s->error->code;
	for (int i = 0; i < PQntuples(r) && i < MEMBER_PAGE_SIZE; i++) {
		ly_pg_member_row(r, i, 0, &out->items[i].row);
		ly_pg_copy(r, i, 8, out->items[i].external, sizeof out->items[i].external);
		out->count++;
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_member_page(store *s, int64_t after, member_page *out)
{
	pg_args a = {0};
	ly_pg_int(&a, after);
	ly_pg_int(&a, MEMBER_PAGE_SIZE);
	return read_member_page(s,
				ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS ", external_id FROM members"
					       " WHERE id > $1 ORDER BY id LIMIT $2",
					    &a, "listing members"),
				out);
}

int ly_pg_member_search(store *s, const member_filter *f, int64_t after, member_page *out)
{
	pg_args a = {0};
	ly_pg_int(&a, after);
	ly_pg_text(&a, f->attribute);
	ly_pg_text(&a, f->value_json);
	ly_pg_text(&a, f->tier);
	ly_pg_text(&a, f->segment);
	ly_pg_int(&a, f->active_from);
	ly_pg_int(&a, f->active_before);
	ly_pg_int(&a, f->status);
	ly_pg_int(&a, MEMBER_PAGE_SIZE);
	return read_member_page(
		s,
		ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS ", external_id FROM members m"
			       " WHERE id > $1 AND ($2::text IS NULL OR"
			       " (m.attrs::jsonb -> $2::text) = $3::jsonb)"
			       " AND ($4::text IS NULL OR m.tier = $4)"
			       " AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM segment_members g"
			       " WHERE g.member_id = m.id AND g.segment = $5))"
			       " AND m.last_active_at >= $6 AND m.last_active_at < $7"
			       " AND ($8 < 0 OR m.status = $8) ORDER BY id LIMIT $9",
			    &a, "searching members"),
		out);
}

/* The row is locked for the transaction (created first when missing), so that connections
 * spending one budget take turns: it is never overspent. */
int ly_pg_rule_budget_take(store *s, const char *rule, int64_t currency, int64_t period,
			   int64_t *used)
{
	pg_args a = {0};
	ly_pg_text(&a, rule);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, period);
	PGresult *r = ly_pg_query(s, "INSERT INTO rule_budgets(rule, currency, period, used)"
				     " VALUES($1, $2, $3, 0) ON CONFLICT (rule, currency, period)"
				     " DO UPDATE SET used = rule_budgets.used RETURNING used",
				  &a, "reading a rule's budget");
	if (!r)
		return s->error->code;
	*used = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_rule_budget_add(store *s, const char *rule, int64_t currency, int64_t period,
			  int64_t delta)
{
	pg_args a = {0};
	ly_pg_text(&a, rule);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, period);
	ly_pg_int(&a, delta);
	return ly_pg_exec(s, "UPDATE rule_budgets SET used = used + $4 WHERE rule = $1 AND"
			     " currency = $2 AND period = $3",
			  &a, "spending a rule's budget");
}

int ly_pg_member_count(store *s, int64_t *out)
{
	pg_args a = {0};
	PGresult *r = ly_pg_query(s, "SELECT count(*) FROM members", &a, "counting members");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_segment_is_member(store *s, const char *segment, int64_t member, bool *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, segment);
	PGresult *r = ly_pg_query(s, "SELECT 1 FROM segment_members WHERE member_id = $1 AND"
				     " segment = $2",
				  &a, "reading a segment");
	if (!r)
		return s->error->code;
	*out = PQntuples(r) == 1;
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_segment_set(store *s, const char *segment, int64_t member, bool in, int64_t at)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, segment);
	if (!in)
		return ly_pg_exec(s, "DELETE FROM segment_members WHERE member_id = $1 AND"
				     " segment = $2",
				  &a, "saving a segment");
	ly_pg_int(&a, at);
	return ly_pg_exec(s, "INSERT INTO segment_members(member_id, segment, since)"
			     " VALUES($1, $2, $3)",
			  &a, "saving a segment");
}

int ly_pg_segment_change(store *s, int64_t refresh, const char *segment, int64_t member,
			 bool entered, int64_t at)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, refresh);
	ly_pg_text(&a, segment);
	ly_pg_bool(&a, entered);
	ly_pg_int(&a, at);
	return ly_pg_exec(s, "INSERT INTO segment_changes(member_id, refresh, segment, entered, at)"
			     " VALUES($1, $2, $3, $4, $5)",
			  &a, "recording a segment change");
}

int ly_pg_segment_next_refresh(store *s, int64_t *out)
{
	PGresult *r = ly_pg_query(s, "SELECT nextval('refresh_ids')", NULL, "numbering a refresh");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_segment_change_next(store *s, int64_t refresh, int64_t after, int64_t *id,
			      char *segment, size_t size, char *member, size_t member_size,
			      bool *entered, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, refresh);
	ly_pg_int(&a, after);
	PGresult *r = ly_pg_query(s, "SELECT c.id, c.segment, m.external_id, c.entered FROM"
				     " segment_changes c JOIN members m ON m.id = c.member_id WHERE"
				     " c.refresh = $1 AND c.id > $2 ORDER BY c.id LIMIT 1",
				  &a, "reading segment changes");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		*id = ly_pg_get_int(r, 0, 0);
		ly_pg_copy(r, 0, 1, segment, size);
		ly_pg_copy(r, 0, 2, member, member_size);
		*entered = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	}
	PQclear(r);
	return LOYAL_OK;
}

/* ---- badges ---- */

int ly_pg_badge_award_add(store *s, int64_t member, const char *badge, const char *level,
			  int kind, int64_t at, const char *cause)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, badge);
	ly_pg_text(&a, level ? level : "");
	ly_pg_int(&a, kind);
	ly_pg_int(&a, at);
	ly_pg_text(&a, cause);
	return ly_pg_exec(s, "INSERT INTO badge_awards(member_id, badge, level, kind, at, cause)"
			     " VALUES($1, $2, $3, $4, $5, $6)",
			  &a, "recording a badge");
}

int ly_pg_badge_state(store *s, int64_t member, const char *badge, const char *level,
		      badge_state *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, badge);
	ly_pg_text(&a, level ? level : "");
	PGresult *r = ly_pg_query(
		s,
		"SELECT max(id) FILTER (WHERE kind <> 2), max(at) FILTER (WHERE kind <> 2),"
		" coalesce(max(id) FILTER (WHERE kind = 2), 0),"
		" coalesce(max(at) FILTER (WHERE kind = 2), 0)"
		" FROM badge_awards WHERE member_id = $1 AND badge = $2 AND level = $3",
		&a, "reading badges");
	if (!r)
		return s->error->code;
	*out = (badge_state){0};
	if (PQntuples(r) == 1) {
		out->awarded = !ly_pg_is_null(r, 0, 0);
		out->awarded_at = ly_pg_get_int(r, 0, 1);
		out->revoked = ly_pg_get_int(r, 0, 2) > ly_pg_get_int(r, 0, 0);
		out->revoked_at = ly_pg_get_int(r, 0, 3);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_badge_award_next(store *s, int64_t member, int64_t after, badge_award_row *out,
			   bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, after);
	PGresult *r = ly_pg_query(
		s,
		"SELECT a.id, a.at, a.badge, a.level, a.kind, coalesce(a.cause, ''),"
		" coalesce(r.at, 0), coalesce(r.cause, '') FROM badge_awards a"
		" LEFT JOIN badge_awards r ON r.member_id = a.member_id AND r.id ="
		" (SELECT min(x.id) FROM badge_awards x WHERE x.member_id = a.member_id"
		" AND x.badge = a.badge AND x.level = a.level AND x.kind = 2 AND x.id > a.id)"
		" WHERE a.member_id = $1 AND a.id > $2 AND a.kind <> 2 ORDER BY a.id LIMIT 1",
		&a, "listing badges");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		out->id = ly_pg_get_int(r, 0, 0);
		out->at = ly_pg_get_int(r, 0, 1);
		ly_pg_copy(r, 0, 2, out->badge, sizeof out->badge);
		ly_pg_copy(r, 0, 3, out->level, sizeof out->level);
		out->kind = ly_pg_get_int(r, 0, 4);
		ly_pg_copy(r, 0, 5, out->reason, sizeof out->reason);
		out->revoked_at = ly_pg_get_int(r, 0, 6);
		ly_pg_copy(r, 0, 7, out->revoked_reason, sizeof out->revoked_reason);
	}
	PQclear(r);
	return LOYAL_OK;
}
