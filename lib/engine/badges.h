/* badges.h - awarding badges from inside a call (loyal_track). */
#ifndef LOYAL_BADGES_INTERNAL_H
#define LOYAL_BADGES_INTERNAL_H

#include "engine/activity.h"

/* Evaluates the badges whose criteria read `type` (NULL: every badge) for the member of view,
 * awarding what is due at `at`; appends {"badge", "level"} to awarded (may be NULL). */
int ly_badges_evaluate(member_view *view, const char *type, int64_t at, const char *cause,
		    json_t *awarded, int64_t *count);

#endif /* LOYAL_BADGES_INTERNAL_H */
