/* segments.h - segments inside the engine: membership, listings, refreshes. */
#ifndef LOYAL_SEGMENTS_INTERNAL_H
#define LOYAL_SEGMENTS_INTERNAL_H

#include "engine/activity.h"

/* The names of the segments the member is in now, as a JSON list (*out, a new reference),
 * inside the caller's snapshot. */
int ly_segments_of(loyal_db *db, member_row *row, const char *member, json_t **out);
/* The index of the program's segment `name` (LOYAL_ENOTFOUND names a segment it lacks). */
int ly_segments_find(loyal_db *db, const char *name, size_t *out);
/* Whether *member (external: their host id) is in segment `index` at `at`. */
int ly_segments_contains(loyal_db *db, size_t index, member_row *member, const char *external,
			 int64_t at, bool *out);
/* A cursor over the members of a segment now, evaluated as it goes (LOYAL_ENOTFOUND names a
 * segment the program lacks). */
int ly_segments_members(loyal_db *db, const char *segment, loyal_cursor **out);
/* Re-evaluates every member for every segment at `at`, a chunk per transaction, recording who
 * entered and left; *out_refresh (may be NULL) receives the refresh's number and *out (may be
 * NULL) a cursor over its changes. */
int ly_segments_refresh(loyal_db *db, int64_t at, int64_t *out_refresh, loyal_cursor **out);

#endif /* LOYAL_SEGMENTS_INTERNAL_H */
