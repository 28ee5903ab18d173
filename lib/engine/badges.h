/* badges.h - awarding badges from inside a call (loyal_track). */
#ifndef LOYAL_BADGES_INTERNAL_H
#define LOYAL_BADGES_INTERNAL_H

#include "engine/activity.h"

/* Evaluates the badges whose criteria read `type` (NULL: every badge) for the member of view,
 * awarding what is due at `at`; appends {"badge", "level"} to awarded (may be NULL). */
int ly_badges_evaluate(member_view *view, const char *type, int64_t at, const char *cause,
		    json_t *awarded, int64_t *count);

/* A member's awards, oldest first, as the JSON list loyal_badge_list returns (*out, a new
 * reference), read inside the caller's snapshot. as_of INT64_MAX: every award, revoked ones
 * included; an earlier instant: the awards the member held then (made by then and not revoked
 * by then). */
int ly_badges_list(loyal_db *db, const member_row *row, int64_t as_of, json_t **out);
/* Progress towards the badge's next level not yet awarded, as loyal_badge_progress returns it;
 * LOYAL_ENOTFOUND for a badge the program lacks. Inside the caller's snapshot. */
int ly_badges_progress(loyal_db *db, member_row *row, const char *member,
		       const char *badge_name, json_t **out);
/* Evaluates every badge for every member at `at`, a chunk of members per transaction. */
int ly_badges_sweep(loyal_db *db, int64_t at, int64_t *out_awarded);

/* An operator grants (grant) or revokes a badge's level for a member, with a reason, in a
 * write transaction of its own; *out_changed (may be NULL) says whether anything changed. */
int ly_badges_recognize(loyal_db *db, const char *member, const char *badge, const char *level,
			const char *reason, bool grant, int *out_changed);

#endif /* LOYAL_BADGES_INTERNAL_H */
