/* segments.c - segments: membership now, streamed listings, and refreshes that record who
 * entered and who left. */
#include "activity.h"
#include "cursor.h"
#include "json.h"

#include <string.h>

#define DAY_MS INT64_C(86400000)
#define REFRESH_CHUNK 256

/* Whether the member of view is in segment i now. */
static int in_segment(member_view *view, size_t i, bool *out)
{
	criteria_context context = member_view_context(view);
	criteria_value value;
	int rc = criteria_eval(view->db, view->db->program->segments[i].criterion, &context,
			       &value);
	*out = rc == LOYAL_OK && criteria_truthy(&value);
	return rc;
}

static int find_segment(loyal_db *db, const char *name, size_t *out)
{
	for (size_t i = 0; db->program && i < db->program->segment_count; i++)
		if (strcmp(db->program->segments[i].name, name) == 0) {
			*out = i;
			return LOYAL_OK;
		}
	return db_fail(db, LOYAL_ENOTFOUND, "no segment named '%s'", name);
}

int loyal_segment_of(loyal_db *db, const char *member, char **out_json)
{
	member_row row;
	int rc = store_read_member(db, member, out_json, &row);
	if (rc != LOYAL_OK)
		return rc;
	member_view view = {0};
	json_t *names = json_array();
	rc = program_refresh(db);
	member_view_open(db, &row, member, NULL, db_now(db), &view);
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->segment_count; i++) {
		bool in = false;
		rc = in_segment(&view, i, &in);
		if (rc == LOYAL_OK && in)
			rc = json_append(db, names, json_string(db->program->segments[i].name));
	}
	member_view_close(&view);
	store_read_end(db);
	if (rc != LOYAL_OK) {
		json_decref(names);
		return rc;
	}
	return json_emit(db, names, out_json);
}

/* ---- listing a segment ---- */

typedef struct segment_cursor {
	loyal_cursor base;
	char segment[72];
	int64_t after; /* the last member id looked at */
} segment_cursor;

static int segment_step(loyal_cursor *base, char **row)
{
	segment_cursor *cursor = (segment_cursor *)base;
	loyal_db *db = base->db;
	*row = NULL;
	size_t index = 0;
	/* One snapshot for the members this step looks at, rather than one per statement. */
	int rc = store_read_begin(db);
	if (rc == LOYAL_OK)
		rc = program_refresh(db);
	if (rc == LOYAL_OK)
		rc = find_segment(db, cursor->segment, &index);
	while (rc == LOYAL_OK) {
		member_row member;
		char external[TEXT_MAX_BYTES + 1];
		bool found = false, in = false;
		rc = store_member_scan(db, cursor->after, &member, external, sizeof external, &found);
		if (rc != LOYAL_OK || !found)
			break;
		cursor->after = member.id;
		member_view view;
		member_view_open(db, &member, external, NULL, db_now(db), &view);
		rc = in_segment(&view, index, &in);
		member_view_close(&view);
		if (rc == LOYAL_OK && in) {
			rc = json_emit(db, json_pack("{s:s}", "member", external), row);
			break;
		}
	}
	store_member_scan_stop(db);
	store_read_end(db);
	return rc;
}

int loyal_segment_members(loyal_db *db, const char *segment, loyal_cursor **out)
{
	int rc = db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	size_t index;
	rc = text_check(db, segment, "segment", true, 64);
	if (rc == LOYAL_OK)
		rc = program_refresh(db);
	if (rc == LOYAL_OK)
		rc = find_segment(db, segment, &index);
	if (rc != LOYAL_OK)
		return rc;
	segment_cursor *cursor = (segment_cursor *)cursor_new(db, sizeof *cursor, segment_step);
	if (!cursor)
		return db->errcode;
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
	member_view_open(db, member, external, NULL, at, &view);
	int rc = LOYAL_OK;
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->segment_count; i++) {
		const char *name = db->program->segments[i].name;
		bool in = false, was = false;
		rc = in_segment(&view, i, &in);
		if (rc == LOYAL_OK)
			rc = store_segment_is_member(db, name, member->id, &was);
		if (rc == LOYAL_OK && in != was)
			rc = store_segment_set(db, name, member->id, in, at);
		if (rc == LOYAL_OK && in != was)
			rc = store_segment_change(db, refresh, name, member->id, in, at);
	}
	member_view_close(&view);
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
	int rc = store_segment_change_next(base->db, cursor->refresh, cursor->after, &cursor->after,
					   segment, sizeof segment, member, sizeof member, &entered,
					   &found);
	if (rc != LOYAL_OK || !found)
		return rc;
	return json_emit(base->db,
			 json_pack("{s:s,s:s,s:s}", "segment", segment, "member", member, "change",
				   entered ? "entered" : "left"),
			 row);
}

int loyal_segment_refresh(loyal_db *db, int64_t at, int64_t *out_refresh, loyal_cursor **out)
{
	int rc = db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (out)
		*out = NULL;
	if ((rc = db_sweep_time(db, at, &at)) != LOYAL_OK)
		return rc;
	int64_t refresh = 0, after = 0;
	bool more = true;
	rc = program_refresh(db);
	if (rc == LOYAL_OK)
		rc = store_segment_next_refresh(db, &refresh);
	while (rc == LOYAL_OK && more) {
		rc = store_begin(db);
		for (int done = 0; rc == LOYAL_OK && more && done < REFRESH_CHUNK; done++) {
			member_row member;
			char external[TEXT_MAX_BYTES + 1];
			rc = store_member_next(db, after, &member, external, sizeof external, &more);
			if (rc == LOYAL_OK && more) {
				after = member.id;
				rc = refresh_member(db, &member, external, at, refresh);
			}
		}
		if (rc == LOYAL_OK)
			rc = store_commit(db);
		else
			store_rollback(db);
	}
	if (rc != LOYAL_OK)
		return rc;
	if (out_refresh)
		*out_refresh = refresh;
	if (!out)
		return LOYAL_OK;
	changes_cursor *cursor = (changes_cursor *)cursor_new(db, sizeof *cursor, changes_step);
	if (!cursor)
		return db->errcode;
	cursor->refresh = refresh;
	*out = &cursor->base;
	return LOYAL_OK;
}
