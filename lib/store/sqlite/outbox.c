/* outbox.c - the SQLite backend's outbox: happenings appended in commit order (the file has
 * one writer, so a row's position is its commit order), the consumers' positions, the notices
 * sent, and the queries notices are found by. */
#include "store/sqlite/sqlite.h"

#include <string.h>

int ly_sqlite_outbox_add(store *s, int64_t member, const char *kind, int64_t at, const char *body)
{
	STMT(ST_OUTBOX_ADD, "INSERT INTO outbox(member, kind, at, body) VALUES(?1, ?2, ?3, ?4)");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, at);
	sqlite3_bind_text(stmt, 4, body, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "recording a happening");
}

static void read_happening(sqlite3_stmt *stmt, void *out)
{
	*(outbox_row *)out = (outbox_row){
		.position = sqlite3_column_int64(stmt, 0),
		.kind = (const char *)sqlite3_column_text(stmt, 1),
		.member = (const char *)sqlite3_column_text(stmt, 2),
		.at = sqlite3_column_int64(stmt, 3),
		.body = (const char *)sqlite3_column_text(stmt, 4)};
}

int ly_sqlite_outbox_page(store *s, int64_t after, int64_t limit, store_row_fn visit, void *ctx)
{
	STMT(ST_OUTBOX_PAGE, "SELECT o.position, o.kind, m.external_id, o.at, o.body FROM outbox o"
			     " JOIN members m ON m.id = o.member WHERE o.position > ?1"
			     " ORDER BY o.position LIMIT ?2");
	sqlite3_bind_int64(stmt, 1, after);
	sqlite3_bind_int64(stmt, 2, limit);
	outbox_row row;
	return ly_sqlite_visit_rows(s, stmt, read_happening, &row, visit, ctx, "reading the outbox");
}

int ly_sqlite_outbox_last(store *s, int64_t *out)
{
	STMT(ST_OUTBOX_LAST, "SELECT coalesce(max(position), 0) FROM outbox");
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading the outbox");
	*out = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_outbox_consumer_get(store *s, const char *name, int64_t *position, bool *found)
{
	STMT(ST_OUTBOX_CONSUMER_GET, "SELECT position FROM outbox_consumers WHERE name = ?1");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading an outbox consumer");
	*position = 0;
	if (rc == LOYAL_OK && *found) {
		*position = sqlite3_column_int64(stmt, 0);
		ly_sqlite_finish(stmt);
	}
	return rc;
}

int ly_sqlite_outbox_consumer_put(store *s, const char *name, int64_t position, int64_t at)
{
	STMT(ST_OUTBOX_CONSUMER_PUT, "INSERT OR REPLACE INTO outbox_consumers(name, position, at)"
				     " VALUES(?1, ?2, ?3)");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, position);
	sqlite3_bind_int64(stmt, 3, at);
	return ly_sqlite_step_done(s, stmt, "saving an outbox consumer");
}

int ly_sqlite_outbox_consumer_drop(store *s, const char *name, bool *found)
{
	STMT(ST_OUTBOX_CONSUMER_DROP, "DELETE FROM outbox_consumers WHERE name = ?1");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_done(s, stmt, "removing an outbox consumer");
	*found = rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) == 1;
	return rc;
}

static void read_consumer(sqlite3_stmt *stmt, void *out)
{
	*(outbox_consumer_row *)out = (outbox_consumer_row){
		.name = (const char *)sqlite3_column_text(stmt, 0),
		.position = sqlite3_column_int64(stmt, 1),
		.at = sqlite3_column_int64(stmt, 2)};
}

int ly_sqlite_outbox_consumers(store *s, store_row_fn visit, void *ctx)
{
	STMT(ST_OUTBOX_CONSUMERS, "SELECT name, position, at FROM outbox_consumers ORDER BY name");
	outbox_consumer_row row;
	return ly_sqlite_visit_rows(s, stmt, read_consumer, &row, visit, ctx, "listing outbox consumers");
}

int ly_sqlite_outbox_trim(store *s, int64_t before, int64_t limit, int64_t *removed)
{
	/* The newest row stays: a new row's position follows the largest one in the table. */
	STMT(ST_OUTBOX_TRIM, "DELETE FROM outbox WHERE position IN (SELECT position FROM outbox"
			     " WHERE position <= (SELECT min(position) FROM outbox_consumers)"
			     " AND position < (SELECT max(position) FROM outbox) AND at < ?1"
			     " ORDER BY position LIMIT ?2)");
	sqlite3_bind_int64(stmt, 1, before);
	sqlite3_bind_int64(stmt, 2, limit);
	int rc = ly_sqlite_step_done(s, stmt, "trimming the outbox");
	*removed = rc == LOYAL_OK ? sqlite3_changes(sq(s)->sql) : 0;
	return rc;
}

int ly_sqlite_notice_mark(store *s, int64_t member, int kind, int64_t currency, int64_t subject,
			  int64_t threshold, bool *added)
{
	STMT(ST_NOTICE_MARK, "INSERT OR IGNORE INTO notices_sent(member, kind, currency, subject,"
			     " threshold) VALUES(?1, ?2, ?3, ?4, ?5)");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int(stmt, 2, kind);
	sqlite3_bind_int64(stmt, 3, currency);
	sqlite3_bind_int64(stmt, 4, subject);
	sqlite3_bind_int64(stmt, 5, threshold);
	int rc = ly_sqlite_step_done(s, stmt, "recording a notice");
	*added = rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) == 1;
	return rc;
}

int ly_sqlite_expiring(store *s, int64_t currency, int64_t from, int64_t to, int64_t after,
		       store_row_fn visit, void *ctx)
{
	/* The open lots are in the member's row, ordered by currency, expiry and id. */
	STMT(ST_EXPIRING, "SELECT id, external_id, lots FROM members WHERE id > ?1"
			  " AND lots IS NOT NULL ORDER BY id");
	sqlite3_bind_int64(stmt, 1, after);
	int rc, visited = LOYAL_OK;
	while (visited == LOYAL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		expiring_row row = {.member = sqlite3_column_int64(stmt, 0),
				    .external = (const char *)sqlite3_column_text(stmt, 1)};
		lots_cursor lots = ly_sqlite_lots_cursor(sqlite3_column_blob(stmt, 2),
							 (size_t)sqlite3_column_bytes(stmt, 2));
		open_lot lot;
		while (visited == LOYAL_OK && ly_sqlite_lots_read(&lots, &lot)) {
			if ((currency && lot.currency != currency) || lot.pending_until ||
			    lot.expires_at < from || lot.expires_at >= to)
				continue;
			if (row.amount && (lot.currency != row.currency ||
					   lot.expires_at != row.expires_at)) {
				visited = visit(ctx, &row);
				row.amount = 0;
			}
			row.currency = lot.currency;
			row.expires_at = lot.expires_at;
			row.amount += lot.remaining;
		}
		if (lots.damaged && visited == LOYAL_OK)
			visited = ly_fail(s->error, LOYAL_ECORRUPT,
					  "member #%lld: the open lots are damaged", (long long)row.member);
		if (row.amount && visited == LOYAL_OK)
			visited = visit(ctx, &row);
	}
	ly_sqlite_finish(stmt);
	if (visited != LOYAL_OK)
		return visited;
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "finding points that expire");
}

static void read_review(sqlite3_stmt *stmt, void *out)
{
	*(review_row *)out = (review_row){.member = sqlite3_column_int64(stmt, 0),
					  .external = (const char *)sqlite3_column_text(stmt, 1),
					  .tier = (const char *)sqlite3_column_text(stmt, 2),
					  .review_at = sqlite3_column_int64(stmt, 3),
					  .grace_until = sqlite3_column_int64(stmt, 4)};
}

int ly_sqlite_tier_reviews(store *s, int64_t from, int64_t to, int64_t after, store_row_fn visit,
			   void *ctx)
{
	STMT(ST_TIER_REVIEWS, "SELECT id, external_id, tier, review_at, grace_until FROM members"
			      " INDEXED BY members_review WHERE tier <> '' AND review_at >= ?1"
			      " AND review_at < ?2 AND id > ?3 ORDER BY id");
	sqlite3_bind_int64(stmt, 1, from);
	sqlite3_bind_int64(stmt, 2, to);
	sqlite3_bind_int64(stmt, 3, after);
	review_row row;
	return ly_sqlite_visit_rows(s, stmt, read_review, &row, visit, ctx, "finding tier reviews");
}
