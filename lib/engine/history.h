/* history.h - a member as they stood at a past instant (loyal_member_as_of). */
#ifndef LOYAL_HISTORY_H
#define LOYAL_HISTORY_H

#include "engine/handle.h"
#include "store/store.h"

#include <jansson.h>

/* The member of `member` (their host id: member_id) as of `at`, as the JSON object
 * loyal_member_as_of returns (*out, a new reference), read inside the caller's snapshot.
 * LOYAL_ENOTFOUND when they had not joined by then. */
int ly_member_as_of(loyal_db *db, member_row *member, const char *member_id, int64_t at,
		    json_t **out);

#endif /* LOYAL_HISTORY_H */
