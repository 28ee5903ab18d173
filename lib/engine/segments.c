/* segments.c - segments: membership now, streamed listings, and refreshes that record who
 * entered and who left. */
#include "engine/activity.h"
#include "engine/outbox.h"
#include "engine/cursor.h"
#include "engine/members.h"
#include "engine/segments.h"
#include "util/json.h"

#include <string.h>

#define DAY_MS INT64_C(86400000)

/* Whether the member of view is in segment i now. */
static int in_segment(member_view *view, size_t i, bool *out)
{
	criteria_context context = ly_member_view_context(view);
	criteria_value value;
	int rc = ly_criteria_eval(&view->db->error, view->db->program->segments[i].criterion, &context,
			       &value);
	*out = rc == LOYAL_OK && ly_criteria_truthy(&value);
	return rc;
}

int ly_segments_find(loyal_db *db, const char *name, size_t *out)
{
	for (size_t i = 0; db->program && i < db->program->segment_count; i++)
		if (strcmp(db->program->segments[i].name, name) == 0) {
			*out = i;
			return LOYAL_OK;
		}
	return ly_db_fail(db, LOYAL_ENOTFOUND, "no segment named '%s'", name);
}

int ly_segments_contains(loyal_db *db, size_t index, member_row *member, const char *external,
			 int64_t at, bool *out)
{
	member_view view;
	ly_member_view_open(db, member, external, NULL, at, &view);
	int rc = in_segment(&view, index, out);
	ly_member_view_close(&view);
	return rc;
}

int ly_segments_of(loyal_db *db, member_row *row, const char *member, json_t **out)
{
	member_view view = {0};
	json_t *names = json_array();
	int rc = ly_program_refresh(db);
	ly_member_view_open(db, row, member, NULL, ly_db_now(db), &view);
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->segment_count; i++) {
		bool in = false;
		rc = in_segment(&view, i, &in);
		if (rc == LOYAL_OK && in)
			rc = ly_json_append(&db->error, names, json_string(db->program->segments[i].name));
	}
	ly_member_view_close(&view);
	return ly_json_hand_over(rc, names, out);
}

/* ---- listing a segment ---- */

typedef struct segment_cursor {
	loyal_cursor base;
	char segment[72];
	int64_t after; /* the last member id looked at */
	member_page page; /* the members after the ones looked at, from page.next on */
	size_t next;
	bool stale; /* the page was read in an earlier step: its rows are re-read */
} segment_cursor;

static int segment_step(loyal_cursor *base, char **row)
{
	segment_cursor *cursor = (segment_cursor *)base;
	loyal_db *db = base->db;
	*row = NULL;
	size_t index = 0;
	/* One snapshot for the members this step looks at, rather than one per statement. */
	int rc = ly_store_read_begin(db->store);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_segments_find(db, cursor->segment, &index);
	while (rc == LOYAL_OK) {
		if (cursor->next == cursor->page.count) {
			rc = ly_store_member_page(db->store, cursor->after, &cursor->page);
			cursor->next = 0;
			cursor->stale = false;
			if (rc != LOYAL_OK || cursor->page.count == 0)
				break;
		}
		member_row member = cursor->page.items[cursor->next].row;
		const char *external = cursor->page.items[cursor->next].external;
		cursor->next++;
		cursor->after = member.id;
		bool found = true, in = false;
		if (cursor->stale) /* the member as this snapshot has it (gone: skipped) */
			rc = ly_store_member_get(db->store, member.id, &member, &found);
		if (rc != LOYAL_OK || !found)
			continue;
		rc = ly_segments_contains(db, index, &member, external, ly_db_now(db), &in);
		if (rc == LOYAL_OK && in) {
			rc = ly_json_emit(&db->error, json_pack("{s:s}", "member", external), row);
			break;
		}
	}
	cursor->stale = true;
	ly_store_read_end(db->store);
	return rc;
}

int ly_segments_members(loyal_db *db, const char *segment, loyal_cursor **out)
{
	size_t index;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_segments_find(db, segment, &index);
	if (rc != LOYAL_OK)
		return rc;
	segment_cursor *cursor = (segment_cursor *)ly_cursor_new(db, sizeof *cursor, segment_step);
	if (!cursor)
		return db->error.code;
	snprintf(cursor->segment, sizeof cursor->segment, "%s", segment);
	*out = &cursor->base;
	return LOYAL_OK;
}

/* ---- refreshing ---- */

/* Re-evaluates one member for every segment, recording changes under `refresh`. */
static int refresh_member(loyal_db *db, member_row *member, const char *external, int64_t at,
			  int64_t refresh)
{
	member_view view;
	ly_member_view_open(db, member, external, NULL, at, &view);
	int rc = LOYAL_OK;
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->segment_count; i++) {
		const char *name = db->program->segments[i].name;
		bool in = false, was = false;
		rc = in_segment(&view, i, &in);
		if (rc == LOYAL_OK)
			rc = ly_store_segment_is_member(db->store, name, member->id, &was);
		if (rc == LOYAL_OK && in != was)
			rc = ly_store_segment_set(db->store, name, member->id, in, at);
		if (rc == LOYAL_OK && in != was)
			rc = ly_store_segment_change(db->store, refresh, name, member->id, in, at);
		if (rc == LOYAL_OK && in != was)
			rc = ly_outbox_add(db, member->id, in ? "segment_entered" : "segment_left", at,
					   json_pack("{s:s}", "segment", name));
	}
	ly_member_view_close(&view);
	return rc;
}

typedef struct changes_cursor {
	loyal_cursor base;
	int64_t refresh, after;
} changes_cursor;

static int changes_step(loyal_cursor *base, char **row)
{
	changes_cursor *cursor = (changes_cursor *)base;
	char segment[72], member[TEXT_MAX_BYTES + 1];
	bool entered = false, found = false;
	*row = NULL;
	int rc = ly_store_segment_change_next(base->db->store, cursor->refresh, cursor->after, &cursor->after,
					   segment, sizeof segment, member, sizeof member, &entered,
					   &found);
	if (rc != LOYAL_OK || !found)
		return rc;
	return ly_json_emit(&base->db->error,
			 json_pack("{s:s,s:s,s:s}", "segment", segment, "member", member, "change",
				   entered ? "entered" : "left"),
			 row);
}

int ly_segments_refresh(loyal_db *db, int64_t at, int64_t *out_refresh, loyal_cursor **out)
{
	int64_t refresh = 0, after = 0;
	bool more = true;
	member_page *page = ly_mem_calloc(1, sizeof *page);
	int rc = page ? ly_program_refresh(db)
		      : ly_db_fail(db, LOYAL_ENOMEM, "out of memory refreshing segments");
	if (rc == LOYAL_OK)
		rc = ly_store_segment_next_refresh(db->store, &refresh);
	/* One transaction per page of members. */
	while (rc == LOYAL_OK && more) {
		rc = ly_store_begin(db->store);
		if (rc == LOYAL_OK)
			rc = ly_store_member_page(db->store, after, page);
		more = rc == LOYAL_OK && page->count > 0;
		for (size_t i = 0; rc == LOYAL_OK && i < page->count; i++) {
			after = page->items[i].row.id;
			rc = refresh_member(db, &page->items[i].row, page->items[i].external, at,
					    refresh);
		}
		if (rc == LOYAL_OK)
			rc = ly_store_commit(db->store);
		else
			ly_store_rollback(db->store);
	}
	ly_mem_free(page);
	if (rc != LOYAL_OK)
		return rc;
	if (out_refresh)
		*out_refresh = refresh;
	if (!out)
		return LOYAL_OK;
	changes_cursor *cursor = (changes_cursor *)ly_cursor_new(db, sizeof *cursor, changes_step);
	if (!cursor)
		return db->error.code;
	cursor->refresh = refresh;
	*out = &cursor->base;
	return LOYAL_OK;
}
