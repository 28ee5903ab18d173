/* outbox.c - the PostgreSQL backend's outbox. Many connections write at once, and a position
 * taken while a transaction runs would not follow commit order (a reader could pass a position
 * whose transaction commits later). So a transaction's happenings wait in memory and go out
 * with its commit, in one statement that takes their positions from the one-row outbox_head:
 * its row lock, held to the commit, hands out positions in commit order, and is taken last, so
 * that it is held for the commit alone. */
#include "store/postgres/postgres.h"

#include <jansson.h>
#include <string.h>

int ly_pg_outbox_add(store *s, int64_t member, const char *kind, int64_t at, const char *body)
{
	pg_store *p = pq(s);
	if (!p->happenings)
		p->happenings = json_array();
	json_t *happening = json_pack("[I,s,I,s]", (json_int_t)member, kind, (json_int_t)at, body);
	if (!p->happenings || json_array_append_new(p->happenings, happening) != 0)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory recording a happening");
	return LOYAL_OK;
}

void ly_pg_outbox_mark(store *s)
{
	pg_store *p = pq(s);
	if (p->mark_count < PG_MARKS)
		p->marks[p->mark_count] = json_array_size(p->happenings);
	p->mark_count++;
}

void ly_pg_outbox_unmark(store *s, bool undo)
{
	pg_store *p = pq(s);
	if (!p->mark_count)
		return;
	p->mark_count--;
	if (undo && p->mark_count < PG_MARKS)
		while (json_array_size(p->happenings) > p->marks[p->mark_count])
			json_array_remove(p->happenings, json_array_size(p->happenings) - 1);
}

int ly_pg_outbox_flush(store *s)
{
	pg_store *p = pq(s);
	size_t count = json_array_size(p->happenings);
	if (!count)
		return LOYAL_OK;
	char *rows = json_dumps(p->happenings, JSON_COMPACT);
	if (!rows)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory writing happenings");
	pg_args a = {0};
	ly_pg_text(&a, rows);
	ly_pg_int(&a, (int64_t)count);
	int rc = ly_pg_exec(s, "WITH h AS (UPDATE outbox_head SET position = position + $2::bigint"
			       " RETURNING position - $2::bigint AS base)"
			       " INSERT INTO outbox(position, member_id, kind, at, body)"
			       " SELECT h.base + e.ord, (e.v->>0)::bigint, e.v->>1, (e.v->>2)::bigint,"
			       " e.v->>3 FROM h, jsonb_array_elements($1::jsonb) WITH ORDINALITY"
			       " AS e(v, ord)",
			    &a, "writing happenings");
	free(rows);
	return rc;
}

void ly_pg_outbox_forget(store *s)
{
	json_array_clear(pq(s)->happenings);
	pq(s)->mark_count = 0;
}

static void read_happening(const PGresult *r, int i, void *out)
{
	*(outbox_row *)out = (outbox_row){.position = ly_pg_get_int(r, i, 0),
					  .kind = PQgetvalue(r, i, 1),
					  .member = PQgetvalue(r, i, 2),
					  .at = ly_pg_get_int(r, i, 3),
					  .body = PQgetvalue(r, i, 4)};
}

int ly_pg_outbox_page(store *s, int64_t after, int64_t limit, store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, after);
	ly_pg_int(&a, limit);
	outbox_row row;
	return ly_pg_visit_rows(s,
			    ly_pg_query(s, "SELECT o.position, o.kind, m.external_id, o.at, o.body"
					   " FROM outbox o JOIN members m ON m.id = o.member_id"
					   " WHERE o.position > $1 ORDER BY o.position LIMIT $2",
					&a, "reading the outbox"),
			    read_happening, &row, visit, ctx);
}

int ly_pg_outbox_last(store *s, int64_t *out)
{
	PGresult *r = ly_pg_query(s, "SELECT position FROM outbox_head", NULL, "reading the outbox");
	if (!r)
		return s->error->code;
	*out = PQntuples(r) == 1 ? ly_pg_get_int(r, 0, 0) : 0;
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_outbox_consumer_get(store *s, const char *name, int64_t *position, bool *found)
{
	pg_args a = {0};
	ly_pg_text(&a, name);
	PGresult *r = ly_pg_query(s, "SELECT position FROM outbox_consumers WHERE name = $1", &a,
				  "reading an outbox consumer");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	*position = *found ? ly_pg_get_int(r, 0, 0) : 0;
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_outbox_consumer_put(store *s, const char *name, int64_t position, int64_t at)
{
	pg_args a = {0};
	ly_pg_text(&a, name);
	ly_pg_int(&a, position);
	ly_pg_int(&a, at);
	return ly_pg_exec(s, "INSERT INTO outbox_consumers(name, position, at) VALUES($1, $2, $3)"
			     " ON CONFLICT (name) DO UPDATE SET position = $2, at = $3",
			  &a, "saving an outbox consumer");
}

int ly_pg_outbox_consumer_drop(store *s, const char *name, bool *found)
{
	pg_args a = {0};
	ly_pg_text(&a, name);
	PGresult *r = ly_pg_query(s, "DELETE FROM outbox_consumers WHERE name = $1 RETURNING name",
				  &a, "removing an outbox consumer");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	PQclear(r);
	return LOYAL_OK;
}

static void read_consumer(const PGresult *r, int i, void *out)
{
	*(outbox_consumer_row *)out = (outbox_consumer_row){.name = PQgetvalue(r, i, 0),
							    .position = ly_pg_get_int(r, i, 1),
							    .at = ly_pg_get_int(r, i, 2)};
}

int ly_pg_outbox_consumers(store *s, store_row_fn visit, void *ctx)
{
	outbox_consumer_row row;
	return ly_pg_visit_rows(s,
			    ly_pg_query(s, "SELECT name, position, at FROM outbox_consumers"
					   " ORDER BY name",
					NULL, "listing outbox consumers"),
			    read_consumer, &row, visit, ctx);
}

int ly_pg_outbox_trim(store *s, int64_t before, int64_t limit, int64_t *removed)
{
	pg_args a = {0};
	ly_pg_int(&a, before);
	ly_pg_int(&a, limit);
	PGresult *r = ly_pg_query(s, "WITH d AS (DELETE FROM outbox WHERE position IN (SELECT"
				     " position FROM outbox WHERE position <= (SELECT min(position)"
				     " FROM outbox_consumers) AND position < (SELECT position FROM"
				     " outbox_head) AND at < $1 ORDER BY position LIMIT $2)"
				     " RETURNING 1) SELECT count(*) FROM d",
				  &a, "trimming the outbox");
	if (!r)
		return s->error->code;
	*removed = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_notice_mark(store *s, int64_t member, int kind, int64_t currency, int64_t subject,
		      int64_t threshold, bool *added)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, kind);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, subject);
	ly_pg_int(&a, threshold);
	PGresult *r = ly_pg_query(s, "INSERT INTO notices_sent(member_id, kind, currency, subject,"
				     " threshold) VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
				     " RETURNING 1",
				  &a, "recording a notice");
	if (!r)
		return s->error->code;
	*added = PQntuples(r) == 1;
	PQclear(r);
	return LOYAL_OK;
}

static void read_expiring(const PGresult *r, int i, void *out)
{
	*(expiring_row *)out = (expiring_row){.member = ly_pg_get_int(r, i, 0),
					      .external = PQgetvalue(r, i, 1),
					      .currency = ly_pg_get_int(r, i, 2),
					      .expires_at = ly_pg_get_int(r, i, 3),
					      .amount = ly_pg_get_int(r, i, 4)};
}

enum { EXPIRING_PAGE = 1000 };

/* Remembers where a page ended, then visits. */
typedef struct expiring_page {
	store_row_fn visit;
	void *ctx;
	int64_t member, currency, expires_at;
	int rows;
} expiring_page;

static int visit_expiring(void *ctx, const void *row)
{
	expiring_page *page = ctx;
	const expiring_row *lot = row;
	page->member = lot->member;
	page->currency = lot->currency;
	page->expires_at = lot->expires_at;
	page->rows++;
	return page->visit(page->ctx, row);
}

int ly_pg_expiring(store *s, int64_t currency, int64_t from, int64_t to, int64_t after,
		   store_row_fn visit, void *ctx)
{
	expiring_page page = {.visit = visit, .ctx = ctx, .member = after, .currency = INT64_MAX,
			      .expires_at = INT64_MAX};
	int rc = LOYAL_OK;
	do {
		pg_args a = {0};
		ly_pg_int(&a, currency);
		ly_pg_int(&a, from);
		ly_pg_int(&a, to);
		ly_pg_int(&a, page.member);
		ly_pg_int(&a, page.currency);
		ly_pg_int(&a, page.expires_at);
		ly_pg_int(&a, EXPIRING_PAGE);
		page.rows = 0;
		expiring_row row;
		rc = ly_pg_visit_rows(
			s,
			ly_pg_query(s, "SELECT l.member_id, m.external_id, l.currency, l.expires_at,"
				       " sum(l.remaining)::bigint FROM lots l JOIN members m"
				       " ON m.id = l.member_id WHERE l.remaining > 0"
				       " AND l.pending_until = 0 AND l.expires_at >= $2"
				       " AND l.expires_at < $3 AND ($1 = 0 OR l.currency = $1)"
				       " AND (l.member_id, l.currency, l.expires_at) > ($4, $5, $6)"
				       " GROUP BY l.member_id, m.external_id, l.currency, l.expires_at"
				       " ORDER BY 1, 3, 4 LIMIT $7",
				    &a, "finding points that expire"),
			read_expiring, &row, visit_expiring, &page);
	} while (rc == LOYAL_OK && page.rows == EXPIRING_PAGE);
	return rc;
}

static void read_review(const PGresult *r, int i, void *out)
{
	*(review_row *)out = (review_row){.member = ly_pg_get_int(r, i, 0),
					  .external = PQgetvalue(r, i, 1),
					  .tier = PQgetvalue(r, i, 2),
					  .review_at = ly_pg_get_int(r, i, 3),
					  .grace_until = ly_pg_get_int(r, i, 4)};
}

int ly_pg_tier_reviews(store *s, int64_t from, int64_t to, int64_t after, store_row_fn visit,
		       void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, from);
	ly_pg_int(&a, to);
	ly_pg_int(&a, after);
	review_row row;
	return ly_pg_visit_rows(s,
			    ly_pg_query(s, "SELECT id, external_id, tier, review_at, grace_until"
					   " FROM members WHERE tier <> '' AND review_at >= $1"
					   " AND review_at < $2 AND id > $3 ORDER BY id",
					&a, "finding tier reviews"),
			    read_review, &row, visit, ctx);
}
