/* loyal/tiers.h - tiers: the ladder members climb by what they earn, and fall from at reviews. */
#ifndef LOYAL_TIERS_H
#define LOYAL_TIERS_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ladder is part of the program document (loyal/program.h), under "tiers":
 *
 *   "tiers": {"levels": [{"name": "bronze"},
 *                        {"name": "silver", "entry": "earned(xp, 365d) >= 1000",
 *                         "retain": "earned(xp, 365d) >= 800", "multiplier": 1.25,
 *                         "perks": {"priority_support": true}, "award": {"points": 500}}],
 *             "review": {"at": "anniversary"} | {"at": "calendar", "period": "year"},
 *             "grace_days": 30, "drop": "one_step" | "to_qualifying",
 *             "on_change": "keep" | "reevaluate"}
 *
 * Levels are listed lowest first; every level but the first needs an entry condition. A member
 * moves up as soon as a higher entry condition holds (checked by loyal_track after the rules,
 * so the event that crosses the line is the last at the old multiplier); the outcome lists the
 * change under "tier_changes". Reviews happen at the tier's anniversary (or at calendar
 * boundaries): a member whose retain condition (or entry, without one) no longer holds keeps the
 * tier for grace_days more, then drops one step or to the highest tier that qualifies. Rules and
 * criteria read `tier` (the name), `tier.multiplier` and `tier.<perk>`. A changed ladder with
 * "on_change": "reevaluate" re-evaluates every member when it is applied; with "keep" members
 * keep their tier until their next review. A tier's "award" (constant points per currency) is
 * credited at each move up into it (an upgrade, an assignment, a re-evaluation), unless the
 * member is blocked; the posting's reason is "tier:<name>". A tier's "coupon" (a coupon of the
 * program) issues the member a code at each move up into it (left out, the move standing,
 * when the coupon's eligible expression refuses or its pool is empty); an event's
 * "tier_changes" name the code ("coupon", only when one was issued).
 *
 * Operators assign a tier (an invitation-only gold card) until a date or until further notice
 * (loyal_tier_assign): the member moves up to it at once if below, and no review drops them
 * below it while it lasts (they may still rise above it, and fall back to it); when it ends,
 * they are reviewed. Releasing it (loyal_tier_release) puts the member in the tier they
 * qualify for now. Both are recorded in the tier history, with reasons "assigned: ..." and
 * "released: ..." (from and to may be the same tier).
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* Returns the member's tier as JSON text in *out_json (the caller's, loyal_free):
 *   {"member": "...", "tier": "silver" or null, "since": ms, "next_review": ms,
 *    "grace_until": ms or null, "multiplier": 1.25, "perks": {...},
 *    "assigned": {"tier": "gold", "until": ms or null (until released), "reason"} or null,
 *    "next": {"tier": "gold", "current": 750, "target": 1000, "missing": 250,
 *             "by": ms} or null}
 * "next" says what is missing for the tier above, where its entry condition has the form
 * `measure >= N` (or an `and` of such: its weakest part). Reads only. Errors: LOYAL_EINVAL,
 * LOYAL_ENOTFOUND (unknown member), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_tier_get(loyal_db *db, const char *member, char **out_json);

/* Streams the member's tier changes, newest first:
 *   {"from": "bronze" or null, "to": "silver", "at": ms, "reason": "entry"|"review"|
 *    "ladder changed"|"assigned: <why>"|"released: <why>"}
 * Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_tier_history(loyal_db *db, const char *member, loyal_cursor **out);

/* Reviews every member whose review is due at `at` (0: the handle's clock): keeps, starts a
 * grace period, or downgrades them, each in its own transaction. *out_changed (may be NULL)
 * counts the downgrades. Errors: LOYAL_EINVAL (NULL db, at in the future), LOYAL_EREADONLY,
 * LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_tier_sweep(loyal_db *db, int64_t at, int64_t *out_changed);

/* Assigns the member `tier` until `until` (Unix ms, in the future; 0: until released), with a
 * reason (1-256 bytes), replacing an assignment they had. Errors: LOYAL_EINVAL (NULL or bad
 * argument, until not in the future), LOYAL_ENOTFOUND (unknown member or tier, a program
 * without tiers), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_tier_assign(loyal_db *db, const char *member, const char *tier,
				int64_t until, const char *reason);

/* Releases the member's assignment, with a reason: they hold the tier they qualify for now.
 * *out_changed (may be NULL) is 0 when they had none (nothing changes). Errors: as
 * loyal_tier_assign's. */
LOYAL_API int loyal_tier_release(loyal_db *db, const char *member, const char *reason,
				 int *out_changed);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_TIERS_H */
