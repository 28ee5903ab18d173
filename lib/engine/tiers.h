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

#endif /* LOYAL_TIERS_INTERNAL_H */
