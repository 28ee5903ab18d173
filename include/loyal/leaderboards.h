/* loyal/leaderboards.h - leaderboards: members ranked by what they did in a period. */
#ifndef LOYAL_LEADERBOARDS_H
#define LOYAL_LEADERBOARDS_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Leaderboards are part of the program document (loyal/program.h):
 *
 *   "leaderboards": [
 *     {"name": "top-contributors", "measure": {"count": "post"}, "period": "week",
 *      "scope": "member.role == \"student\""},
 *     {"name": "big-spenders", "measure": {"sum": "purchase.amount"}, "period": "month"},
 *     {"name": "earners", "measure": {"earned": "points"}, "period": "all"}]
 *
 * measure: {"count": type} counts the member's events of a type, {"sum": "type.property"}
 * adds a numeric property of them, {"earned": currency} adds the points of that currency the
 * event's rules credited the member. period: "day", "week" (from Monday), "month" or "all"
 * (all time), in the program's time zone. scope (optional): a criteria expression (loyal/
 * criteria.h) a member must meet, as they were before the event, for the event to count.
 * Scores are kept as events are tracked, from the leaderboard's first definition on (earlier
 * events are not counted; an event reversal does not take its count back).
 *
 * Ranking: the higher score first; between equal scores, who reached it first; then who
 * joined first. Ranks are 1, 2, 3... without gaps (no two members share one).
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* The top `limit` (1-1000) of the board's period at `at` (0: now; an earlier instant: that
 * period, e.g. last week's): *out_json receives
 *   {"leaderboard": "...", "period_start": ms or null (all time),
 *    "rows": [{"rank": 1, "member": "alice", "score": 42}]}
 * the caller's (loyal_free). A read of an index, in time independent of how many compete.
 * Errors: LOYAL_EINVAL (NULL argument, limit out of range, negative at), LOYAL_ENOTFOUND (no
 * such leaderboard), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_leaderboard_top(loyal_db *db, const char *leaderboard, int64_t at,
				    int limit, char **out_json);

/* The member's rank on the board's period at `at` (0: now) with `neighbours` (0-50) rows above
 * and below: *out_json receives {"leaderboard", "period_start", "member", "rank" (null: no
 * score yet), "score", "rows": [...]}, the caller's (loyal_free). It counts those ranked above
 * the member in the board's index: its time grows with the rank. Errors: LOYAL_EINVAL,
 * LOYAL_ENOTFOUND (no such leaderboard or member), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_leaderboard_rank(loyal_db *db, const char *leaderboard, const char *member,
				     int64_t at, int neighbours, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_LEADERBOARDS_H */
