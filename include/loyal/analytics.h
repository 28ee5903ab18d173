/* loyal/analytics.h - what a program manager asks: liability, flows and breakage, active
 * members, retention by cohort, tier and segment sizes. */
#ifndef LOYAL_ANALYTICS_H
#define LOYAL_ANALYTICS_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each report is computed with set-based queries over the stored data (no member is loaded
 * into memory), reads only, and returns JSON text in *out_json, the caller's (loyal_free).
 * Times are Unix ms; periods are "day", "week" (from Monday) or "month", in the program's time
 * zone. Errors for all: LOYAL_EINVAL (NULL argument, bad period, from >= to), LOYAL_EIO,
 * LOYAL_ENOMEM, LOYAL_EMISUSE.
 *
 * Each member's balance fits 64 bits (a write that would leave them is LOYAL_EOVERFLOW), but
 * what all members of a currency hold, or what it ever issued, may not: totals are summed
 * exactly in 128 bits, and a total beyond 64 bits is written as a JSON real (9.2233720368547758e18),
 * the nearest double, instead of an integer. */

/* Outstanding points per currency now:
 *   [{"currency": "points", "available": n, "pending": n, "held": n, "debt": n,
 *     "outstanding": n, "members": n}]
 * outstanding = available (not counting debts) + pending + held: what members could still
 * spend. */
LOYAL_API int loyal_report_liability(loyal_db *db, char **out_json);

/* Points issued, redeemed, expired and adjusted per currency over [from, to):
 *   [{"currency": "points", "issued": n, "redeemed": n, "expired": n, "adjusted": n,
 *     "reversed": n, "breakage": 0.12}]
 * breakage = expired / issued (null when nothing was issued). */
LOYAL_API int loyal_report_flows(loyal_db *db, int64_t from, int64_t to, char **out_json);

/* Members with at least one event, per period over [from, to):
 *   [{"period": ms (its first instant), "active": n}] */
LOYAL_API int loyal_report_active(loyal_db *db, const char *period, int64_t from, int64_t to,
				  char **out_json);

/* Retention by join cohort over [from, to): for members who joined in each period, how many
 * were active in each later period:
 *   [{"cohort": ms, "members": n, "active": [n0, n1, ...], "share": [1.0, 0.4, ...]}]
 * where active[k] counts the cohort's members active k periods after the one they joined in. */
LOYAL_API int loyal_report_retention(loyal_db *db, const char *period, int64_t from, int64_t to,
				     char **out_json);

/* How many members are in each tier now and in each segment as of the last refresh:
 *   {"tiers": {"bronze": n, ...}, "segments": {"silent": n, ...}} */
LOYAL_API int loyal_report_sizes(loyal_db *db, char **out_json);

/* Rewards and coupons over [from, to), each of the program's in its order:
 *   {"rewards": [{"reward": "hoodie", "redemptions": {"pending": n, "fulfilled": n,
 *      "cancelled": n, "expired": n}, "units": n, "members": n, "points": {"points": n},
 *      "stock_left": n}],
 *    "coupons": [{"coupon": "welcome-back", "issued": n, "used": n, "use_rate": 0.4,
 *      "pool_left": n}],
 *    "redemption_rate": {"points": 0.12}}
 * Redemptions are counted by when they were made (their state now; "expired" once recorded
 * so by loyal_expire); units and members count those pending or fulfilled (members: each
 * member who made one, once); points are those spent by fulfilled redemptions;
 * stock_left is now (null: no stock); a coupon's "used" counts its codes last used in the
 * period and use_rate used / issued (null: none issued), pool_left the codes of its pool not
 * issued (null: generated codes); redemption_rate gives, per currency, the points fulfilled
 * redemptions took over the points issued in the period (null: none issued). Errors:
 * LOYAL_EINVAL (NULL argument, from after to), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_report_rewards(loyal_db *db, int64_t from, int64_t to, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_ANALYTICS_H */
