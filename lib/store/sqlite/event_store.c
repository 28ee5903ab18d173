/* event_store.c - the SQLite backend's rule versions and events (activity.c keeps what members
 * did per day). */
#include "store/sqlite/sqlite.h"
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rules ---- */

int ly_sqlite_rule_version(store *s, const char *name, int64_t *version, char **definition)
{
	STMT(ST_RULE_GET, "SELECT version, definition FROM rules WHERE name = ?1");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading a rule");
	*version = 0;
	if (definition)
		*definition = NULL;
	if (rc != LOYAL_OK || !found)
		return rc;
	*version = sqlite3_column_int64(stmt, 0);
	if (definition)
		rc = ly_sqlite_column_text(s, stmt, 1, definition);
	ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_rule_put(store *s, const char *name, int64_t version, const char *definition)
{
	STMT(ST_RULE_PUT, "INSERT INTO rules(name, version, definition) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(name) DO UPDATE SET version = ?2, definition = ?3");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, version);
	sqlite3_bind_text(stmt, 3, definition, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "saving a rule");
}

/* ---- events and activity ---- */

int ly_sqlite_event_insert(store *s, event_row *event)
{
	STMT(ST_EVENT_INSERT, "INSERT INTO events(member, type, at, key, properties, outcome, id,"
			      " request) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	sqlite3_bind_int64(stmt, 1, event->member);
	sqlite3_bind_text(stmt, 2, event->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, event->at);
	sqlite3_bind_text(stmt, 4, event->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, event->properties, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 6, event->outcome, (int)event->outcome_size, SQLITE_STATIC);
	if (event->id) /* reserved; otherwise SQLite picks */
		sqlite3_bind_int64(stmt, 7, event->id);
	if (event->request)
		sqlite3_bind_text(stmt, 8, event->request, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_done(s, stmt, "recording an event");
	if (rc == LOYAL_OK)
		event->id = ly_sqlite_last_rowid(s);
	return rc;
}

int ly_sqlite_event_reserve(store *s, int64_t *id)
{
	return ly_sqlite_next_id(s, ST_EVENT_NEXT_ID, "SELECT coalesce(max(id), 0) + 1 FROM events",
				 &sq(s)->next_event, id, "reserving an event id");
}

int ly_sqlite_event_postings(store *s, int64_t event, event_posting_vec *out)
{
	/* "event <> 0" lets SQLite use the partial index txns_event. */
	STMT(ST_EVENT_POSTINGS, "SELECT id, member, currency, amount FROM txns WHERE event = ?1"
				" AND event <> 0 ORDER BY id");
	sqlite3_bind_int64(stmt, 1, event);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		event_posting *posting = VEC_PUSH(out);
		if (!posting) {
			ly_sqlite_finish(stmt);
			return ly_sqlite_push_failed(s);
		}
		posting->txn = sqlite3_column_int64(stmt, 0);
		posting->member = sqlite3_column_int64(stmt, 1);
		posting->currency = sqlite3_column_int64(stmt, 2);
		posting->amount = sqlite3_column_int64(stmt, 3);
	}
	ly_sqlite_finish(stmt);
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "reading an event's postings");
}

int ly_sqlite_event_outcome(store *s, int64_t member, int64_t id, void **outcome, size_t *size)
{
	STMT(ST_EVENT_OUTCOME, "SELECT outcome FROM events WHERE id = ?1 AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading an event");
	*outcome = NULL;
	*size = 0;
	if (rc != LOYAL_OK)
		return rc;
	if (!found)
		return ly_fail(s->error, LOYAL_ECORRUPT, "event %lld is missing", (long long)id);
	rc = ly_sqlite_column_blob(s, stmt, 0, outcome, size);
	ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_event_span(store *s, int64_t before, int64_t *count, int64_t *last)
{
	STMT(ST_EVENT_SPAN, "SELECT (SELECT count(*) FROM events WHERE at < ?1),"
			    " (SELECT coalesce(max(id), 0) FROM events)");
	sqlite3_bind_int64(stmt, 1, before);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "counting the events");
	*count = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	*last = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 1) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}

static void read_scanned(sqlite3_stmt *stmt, void *out)
{
	*(event_scan_row *)out = (event_scan_row){
		.id = sqlite3_column_int64(stmt, 0),
		.at = sqlite3_column_int64(stmt, 1),
		.member = (const char *)sqlite3_column_text(stmt, 2),
		.type = (const char *)sqlite3_column_text(stmt, 3),
		.key = (const char *)sqlite3_column_text(stmt, 4),
		.properties = (const char *)sqlite3_column_text(stmt, 5)};
}

int ly_sqlite_event_page(store *s, int64_t after, int64_t last, int64_t before, int64_t limit,
			 store_row_fn visit, void *ctx)
{
	STMT(ST_EVENT_PAGE, "SELECT e.id, e.at, m.external_id, e.type, e.key, e.properties"
			    " FROM events e JOIN members m ON m.id = e.member"
			    " WHERE e.id > ?1 AND e.id <= ?2 AND e.at < ?3 ORDER BY e.id LIMIT ?4");
	sqlite3_bind_int64(stmt, 1, after);
	sqlite3_bind_int64(stmt, 2, last);
	sqlite3_bind_int64(stmt, 3, before);
	sqlite3_bind_int64(stmt, 4, limit);
	event_scan_row row;
	return ly_sqlite_visit_rows(s, stmt, read_scanned, &row, visit, ctx, "reading the events");
}
