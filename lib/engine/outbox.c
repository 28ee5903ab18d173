/* outbox.c - the outbox: happenings written with the changes they report, read by named
 * consumers after their acknowledged position, trimmed once every consumer has them. */
#include "engine/cursor.h"
#include "engine/outbox.h"
#include "engine/program.h"
#include "store/store.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#define OUTBOX_PAGE 256
#define TRIM_LIMIT 10000 /* rows an acknowledgement trims at most */

int ly_outbox_add(loyal_db *db, int64_t member, const char *kind, int64_t at, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory announcing a happening");
	int rc = ly_store_outbox_add(db->store, member, kind, at, text);
	free(text); /* jansson's allocation */
	return rc;
}

static int check_consumer(loyal_db *db, const char *consumer)
{
	return ly_text_check(&db->error, consumer, "consumer", true, TEXT_MAX_BYTES);
}

/* The consumer's position; one never seen is recorded at 0 (it reads from the oldest kept). */
static int consumer_position(loyal_db *db, const char *consumer, int64_t *position)
{
	bool found = false;
	int rc = ly_store_outbox_consumer_get(db->store, consumer, position, &found);
	if (rc != LOYAL_OK || found)
		return rc;
	rc = ly_store_begin(db->store);
	if (rc == LOYAL_OK)
		rc = ly_store_outbox_consumer_get(db->store, consumer, position, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_store_outbox_consumer_put(db->store, consumer, 0, ly_db_now(db));
	if (rc == LOYAL_OK)
		return ly_store_commit(db->store);
	ly_store_rollback(db->store);
	return rc;
}

typedef struct outbox_cursor {
	loyal_cursor base;
	int64_t after, left; /* left: rows still to give; -1: no limit */
	char *rows[OUTBOX_PAGE];
	size_t count, next;
	bool last_page;
} outbox_cursor;

static int collect_happening(void *ctx, const void *row)
{
	outbox_cursor *cursor = ctx;
	const outbox_row *happening = row;
	ly_error *error = &cursor->base.db->error;
	json_t *body = NULL;
	int rc = ly_json_parse_stored(error, happening->body, &body, "happening %lld",
				      (long long)happening->position);
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_json_emit(error,
			  json_pack("{s:I,s:s,s:s,s:I,s:o}", "position",
				    (json_int_t)happening->position, "kind", happening->kind,
				    "member", happening->member, "at", (json_int_t)happening->at,
				    "body", body),
			  &cursor->rows[cursor->count]);
	if (rc == LOYAL_OK) {
		cursor->count++;
		cursor->after = happening->position;
	}
	return rc;
}

static void drop_page(outbox_cursor *cursor)
{
	for (size_t i = cursor->next; i < cursor->count; i++)
		ly_mem_free(cursor->rows[i]);
	cursor->count = cursor->next = 0;
}

static void outbox_release(loyal_cursor *base)
{
	drop_page((outbox_cursor *)base);
}

static int outbox_step(loyal_cursor *base, char **row)
{
	outbox_cursor *cursor = (outbox_cursor *)base;
	*row = NULL;
	if (cursor->next == cursor->count && !cursor->last_page && cursor->left != 0) {
		drop_page(cursor);
		int64_t want = cursor->left < 0 || cursor->left > OUTBOX_PAGE ? OUTBOX_PAGE
									      : cursor->left;
		int rc = ly_store_outbox_page(base->db->store, cursor->after, want,
					      collect_happening, cursor);
		if (rc != LOYAL_OK) {
			drop_page(cursor);
			return rc;
		}
		cursor->last_page = (int64_t)cursor->count < want;
	}
	if (cursor->next == cursor->count)
		return LOYAL_OK;
	*row = cursor->rows[cursor->next++];
	if (cursor->left > 0)
		cursor->left--;
	return LOYAL_OK;
}

int ly_outbox_read(loyal_db *db, const char *consumer, int64_t limit, loyal_cursor **out)
{
	int rc = check_consumer(db, consumer);
	if (rc == LOYAL_OK && limit < 0)
		rc = ly_db_fail(db, LOYAL_EINVAL, "limit (%lld) must be 0 (no limit) or more",
				(long long)limit);
	int64_t position = 0;
	if (rc == LOYAL_OK)
		rc = consumer_position(db, consumer, &position);
	if (rc != LOYAL_OK)
		return rc;
	outbox_cursor *cursor = (outbox_cursor *)ly_cursor_new(db, sizeof *cursor, outbox_step);
	if (!cursor)
		return db->error.code;
	cursor->base.release = outbox_release;
	cursor->after = position;
	cursor->left = limit ? limit : -1;
	*out = &cursor->base;
	return LOYAL_OK;
}

int ly_outbox_ack(loyal_db *db, const char *consumer, int64_t position)
{
	int rc = check_consumer(db, consumer);
	if (rc == LOYAL_OK && position < 0)
		rc = ly_db_fail(db, LOYAL_EINVAL, "position (%lld) must not be negative",
				(long long)position);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_store_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	int64_t last = 0, current = 0, removed = 0, now = ly_db_now(db);
	bool found = false;
	rc = ly_store_outbox_last(db->store, &last);
	if (rc == LOYAL_OK && position > last)
		rc = ly_db_fail(db, LOYAL_EINVAL,
				"position %lld is past the newest happening (%lld): consumer '%s' "
				"cannot have read it",
				(long long)position, (long long)last, consumer);
	if (rc == LOYAL_OK)
		rc = ly_store_outbox_consumer_get(db->store, consumer, &current, &found);
	/* An acknowledgement never moves a consumer back: a late duplicate changes nothing. */
	if (rc == LOYAL_OK && (!found || position > current))
		rc = ly_store_outbox_consumer_put(db->store, consumer, position, now);
	if (rc == LOYAL_OK)
		rc = ly_store_outbox_trim(db->store, now - db->program->outbox_retention_ms,
					  TRIM_LIMIT, &removed);
	if (rc == LOYAL_OK)
		return ly_store_commit(db->store);
	ly_store_rollback(db->store);
	return rc;
}

int ly_outbox_forget(loyal_db *db, const char *consumer, int *out_found)
{
	if (out_found)
		*out_found = 0;
	int rc = check_consumer(db, consumer);
	if (rc == LOYAL_OK)
		rc = ly_store_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	bool found = false;
	rc = ly_store_outbox_consumer_drop(db->store, consumer, &found);
	if (rc == LOYAL_OK)
		rc = ly_store_commit(db->store);
	else
		ly_store_rollback(db->store);
	if (rc == LOYAL_OK && out_found)
		*out_found = found;
	return rc;
}

typedef struct consumers_list {
	ly_error *error;
	json_t *rows;
	int64_t last;
} consumers_list;

static int list_consumer(void *ctx, const void *row)
{
	consumers_list *list = ctx;
	const outbox_consumer_row *consumer = row;
	return ly_json_append(list->error, list->rows,
			      json_pack("{s:s,s:I,s:I,s:I}", "consumer", consumer->name, "position",
					(json_int_t)consumer->position, "behind",
					(json_int_t)(list->last - consumer->position), "acked_at",
					(json_int_t)consumer->at));
}

int ly_outbox_consumers(loyal_db *db, char **out_json)
{
	consumers_list list = {.error = &db->error, .rows = json_array()};
	if (!list.rows)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory listing outbox consumers");
	int rc = ly_store_read_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = ly_store_outbox_last(db->store, &list.last);
		if (rc == LOYAL_OK)
			rc = ly_store_outbox_consumers(db->store, list_consumer, &list);
		ly_store_read_end(db->store);
	}
	if (rc != LOYAL_OK) {
		json_decref(list.rows);
		return rc;
	}
	return ly_json_emit(&db->error,
			    json_pack("{s:I,s:o}", "newest", (json_int_t)list.last, "consumers",
				      list.rows),
			    out_json);
}
