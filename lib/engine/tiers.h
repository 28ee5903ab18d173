/* tiers.h - moving members along the tier ladder: upgrades on events, reviews, re-evaluation. */
#ifndef LOYAL_TIERS_INTERNAL_H
#define LOYAL_TIERS_INTERNAL_H

#include "engine/activity.h"

/* After an event's rules: moves the member up to the highest tier whose entry holds, appending
 * {"from", "to"} to changes. Updates view->tier. */
int ly_tiers_upgrade(member_view *view, int64_t at, json_t *changes);
/* Re-evaluates every member with a tier against the current ladder (a changed ladder with
 * "on_change": "reevaluate"), inside the caller's transaction. */
int ly_tiers_reevaluate_all(loyal_db *db, int64_t at);

/* An operator assigns a tier until `until` (0: until released), or releases the assignment
 * (*out_changed, may be NULL: whether there was one), each in a write transaction of its own. */
int ly_tiers_assign(loyal_db *db, const char *member, const char *tier, int64_t until,
		    const char *reason);
int ly_tiers_release(loyal_db *db, const char *member, const char *reason, int *out_changed);
/* Reviews every member whose tier review is due at `at`, one transaction each. */
int ly_tiers_sweep(loyal_db *db, int64_t at, int64_t *out_changed);
/* Whether the member (the store's id) is at risk at `at`: a tier above the lowest whose retain
 * condition does not hold, no assignment keeping them in it. Inside a write transaction. */
int ly_tiers_at_risk(loyal_db *db, int64_t member, int64_t at, bool *out);
/* The member's tier, review dates, multiplier, perks and what the next tier needs, as the JSON
 * loyal_tier_get returns (*out, a new reference), inside the caller's snapshot. */
int ly_tiers_describe(loyal_db *db, member_row *row, const char *member, json_t **out);
/* A cursor over the member's tier changes, newest first (LOYAL_ENOTFOUND for no such member). */
int ly_tiers_history(loyal_db *db, const char *member, loyal_cursor **out);

#endif /* LOYAL_TIERS_INTERNAL_H */
