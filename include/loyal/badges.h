/* loyal/badges.h - badges: achievements members collect when a criterion holds. */
#ifndef LOYAL_BADGES_H
#define LOYAL_BADGES_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Badges are part of the program document (loyal/program.h):
 *
 *   "badges": [
 *     {"name": "week-streak", "criterion": "streak(check_in, day) >= 7", "freezes": 1,
 *      "award": {"points": 100}},
 *     {"name": "writer", "levels": [
 *        {"name": "bronze", "criterion": "count(post) >= 10"},
 *        {"name": "silver", "criterion": "count(post) >= 50", "award": {"points": 500}}]},
 *     {"name": "regular", "criterion": "active_days(check_in, 7d) >= 5",
 *      "repeatable": true, "cooldown_days": 7, "active": {"from": ..., "until": ...}}]
 *
 * A badge (each level of it) is awarded once, or again after cooldown_days when repeatable,
 * while its active window allows. A badge with an active window counts only what happened
 * inside it: its criteria's counts, sums, streaks, active days and earned points start on the
 * member's local day on which the window opens (a check-in challenge from day 10 is not won on
 * day 10 with the check-ins of days 4-9); balance() and days_since() are read as they are.
 * "freezes" forgives that many missed days (or weeks) in the
 * streaks its criteria read. "award" credits constant points on award. loyal_track evaluates
 * the badges whose criteria read the event's type and lists awards under "badges" in its
 * outcome; loyal_badge_sweep evaluates every badge for every member (for time-based ones). */

/* Lists the member's badge awards, oldest first, as JSON text in *out_json (the caller's):
 *   [{"badge": "writer", "level": "bronze" or null, "at": ms}]
 * Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown member), LOYAL_EIO, LOYAL_ENOMEM,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_badge_list(loyal_db *db, const char *member, char **out_json);

/* Progress towards a badge's next level not yet awarded, as JSON text in *out_json:
 *   {"badge": "writer", "level": "silver" or null, "current": 7, "target": 10,
 *    "percent": 70, "complete": false}
 * (current/target/percent are null when the criterion is not of the form `measure >= N` or an
 * `and` of such, where the weakest part counts). Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown
 * member or badge), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_badge_progress(loyal_db *db, const char *member, const char *badge,
				   char **out_json);

/* Evaluates every badge for every member at `at` (0: the handle's clock), awarding what is due;
 * *out_awarded (may be NULL) counts the awards. Errors: LOYAL_EINVAL, LOYAL_EREADONLY,
 * LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EOVERFLOW, LOYAL_EMISUSE. */
LOYAL_API int loyal_badge_sweep(loyal_db *db, int64_t at, int64_t *out_awarded);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_BADGES_H */
