/* segments.c - the public calls of segments: a member's, a segment's members, refreshes. */
#include "api/read.h"
#include "engine/segments.h"

static int segments_of(loyal_db *db, member_row *row, const char *member, const char *unused,
		       json_t **out)
{
	(void)unused;
	return ly_segments_of(db, row, member, out);
}

int loyal_segment_of(loyal_db *db, const char *member, char **out_json)
{
	return ly_api_read_member(db, member, NULL, out_json, segments_of);
}

int loyal_segment_members(loyal_db *db, const char *segment, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	rc = ly_text_check(&db->error, segment, "segment", true, 64);
	return rc == LOYAL_OK ? ly_segments_members(db, segment, out) : rc;
}

int loyal_segment_refresh(loyal_db *db, int64_t at, int64_t *out_refresh, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (out)
		*out = NULL;
	rc = ly_db_time(db, at, "at", &at);
	return rc == LOYAL_OK ? ly_segments_refresh(db, at, out_refresh, out) : rc;
}
