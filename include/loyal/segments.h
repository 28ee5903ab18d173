/* loyal/segments.h - segments: named criteria over members, who is in them, who came and went. */
#ifndef LOYAL_SEGMENTS_H
#define LOYAL_SEGMENTS_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Segments are part of the program document (loyal/program.h):
 *
 *   "segments": [{"name": "silent", "criterion": "days_since(last_seen) >= 30"},
 *                {"name": "spring-test", "criterion": "bucket(\"spring-test\") < 10"}]
 *
 * A member is in a segment when its criterion (see loyal/criteria.h) holds for them now. */

/* Lists the segments the member is in now, as JSON text in *out_json (the caller's,
 * loyal_free): ["active", "core"], in program order. Reads only. Errors: LOYAL_EINVAL,
 * LOYAL_ENOTFOUND (unknown member), LOYAL_EOVERFLOW, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_segment_of(loyal_db *db, const char *member, char **out_json);

/* Streams the members in `segment` now, in the order they joined the program, one row
 * {"member": "alice"} at a time: the cursor evaluates members as it goes, holding one at a
 * time (constant memory, no lock between rows). Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (no such
 * segment), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE; evaluation errors come from
 * loyal_cursor_next. */
LOYAL_API int loyal_segment_members(loyal_db *db, const char *segment, loyal_cursor **out);

/* Evaluates every member for every segment as of `at` (0: the handle's clock), records who is
 * in each, and streams what changed since the previous refresh through *out (may be NULL):
 *   {"segment": "silent", "member": "alice", "change": "entered" | "left"}
 * the trigger for welcome flows and win-back campaigns. Members are saved a few hundred per
 * transaction; *out_refresh (may be NULL) receives this refresh's number. Errors: LOYAL_EINVAL,
 * LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EOVERFLOW, LOYAL_EMISUSE. */
LOYAL_API int loyal_segment_refresh(loyal_db *db, int64_t at, int64_t *out_refresh,
				    loyal_cursor **out);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_SEGMENTS_H */
