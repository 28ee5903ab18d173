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
 * outcome; loyal_badge_sweep evaluates every badge for every member (for time-based ones).
 *
 * Operators also grant a badge (a level of it) that no criterion describes, an honorary title,
 * and revoke one, each with a reason (loyal_badge_grant, loyal_badge_revoke). A revocation is
 * recorded after the award, which stays in the history. A revoked badge is not earned again by
 * its criterion, unless the badge says "after_revoke": "earn_again": then its criteria count
 * only what happens from the local day after the revocation on (the level is earned anew).
 * Points a level awarded are not taken back by a revocation (use the ledger's reversal).
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* Lists the member's badge awards, oldest first, as JSON text in *out_json (the caller's):
 *   [{"badge": "writer", "level": "bronze" or null, "at": ms, "how": "earned" | "granted",
 *     "reason": the operator's (granted) or null, "revoked": null or {"at": ms, "reason"}}]
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

/* Grants the member a badge's level (level: NULL for a badge without levels, else one of its
 * levels' names) with a reason (1-256 bytes), now: recorded as "granted", with the level's
 * award credited unless the member is blocked. Granting what the member holds changes nothing.
 * *out_changed (may be NULL) is 1 when granted, 0 when already held. Errors: LOYAL_EINVAL (NULL
 * or bad argument, a level for a badge without levels or none for one with levels),
 * LOYAL_ENOTFOUND (unknown member, badge or level), LOYAL_EOVERFLOW, LOYAL_EREADONLY,
 * LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_badge_grant(loyal_db *db, const char *member, const char *badge,
				const char *level, const char *reason, int *out_changed);

/* Revokes the member's badge level (as loyal_badge_grant names it) with a reason: a revocation
 * recorded after the award, which stays in the history. Revoking what the member does not
 * hold changes nothing (*out_changed 0). Errors: as loyal_badge_grant's. */
LOYAL_API int loyal_badge_revoke(loyal_db *db, const char *member, const char *badge,
				 const char *level, const char *reason, int *out_changed);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_BADGES_H */
