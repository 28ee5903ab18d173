/* loyal/simulate.h - forecasts: a program run over a synthetic population under a fake clock,
 * reported month by month. */
#ifndef LOYAL_SIMULATE_H
#define LOYAL_SIMULATE_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The synthetic population (documented so that a forecast can be judged):
 *
 * - Members: `members` in all; half exist on day 0, the rest join at an even rate over the
 *   days. Each has an engagement p, the chance of being active on a given day, drawn once
 *   from a log-normal distribution (a long tail: most members are seldom active, a few almost
 *   daily): p = min(0.95, median * e^(1.2 z)), z standard normal, with median 0.05 for a
 *   community and 0.015 for a shop. Each day an active-so-far member stops for good with
 *   probability 1/500 (community) or 1/365 (shop): churn.
 * - Events, each at its own instant: "signup" when a member joins; on an active day,
 *   community: "check_in"; "post" with probability 0.3; 0 to 2 "comment"s (uniformly);
 *   shop: "visit"; "purchase" with probability 0.4, property "amount" log-normal with median
 *     40 and shape 0.8, in cents (two decimals).
 *   A program that declares its event types receives only the declared ones.
 * - Spending: on an active day, with probability 0.15, a member with at least 100 available in
 *   a spendable currency spends between half and all of it (a ledger debit, reason
 *   "simulated redemption").
 * - Time: events are tracked at their instants under a fake clock; at each day's end every
 *   member is settled (loyal_expire) and tier reviews run (loyal_tier_sweep).
 *
 * All randomness comes from `seed`: the same program, options and seed give the same numbers,
 * on any machine and either backend. */

#define LOYAL_SIMULATION_VERSION 1

typedef struct loyal_simulation {
	unsigned int version;  /* LOYAL_SIMULATION_VERSION */
	const char *program;   /* the program document (JSON text), applied first */
	int64_t members;       /* 1 to 10,000,000 */
	int64_t days;          /* 1 to 3,660 */
	uint64_t seed;         /* any value */
	const char *profile;   /* "community" or "shop"; NULL: "community" */
	int64_t start;         /* Unix ms of day 0's first instant; 0: 2026-01-01T00:00:00Z */
	/* Optional: called after each simulated day with the days done and their total; a
	 * nonzero return stops the simulation (LOYAL_EINTERRUPTED). */
	int (*progress)(void *ctx, int64_t done, int64_t total);
	void *ctx;
} loyal_simulation;

#define LOYAL_SIMULATION_INIT {LOYAL_SIMULATION_VERSION, NULL, 0, 0, 0, NULL, 0, NULL, NULL}

/* Fills *simulation with LOYAL_SIMULATION_INIT for the given version. Returns LOYAL_OK, or
 * LOYAL_EINVAL for a NULL pointer or an unknown version. */
LOYAL_API int loyal_simulation_init(loyal_simulation *simulation, unsigned int version);

/* Runs simulation->program over the synthetic population above, on `db`: a handle on a new,
 * empty database (no program, no member) that the simulation fills and leaves filled, so that
 * every read call (member cards, statements, reports) can look at the simulated members after.
 * The simulation drives the handle's clock for the duration of the call (the handle's own
 * clock is not read); afterwards the handle's clock is its own again. On a SQLite file the
 * handle's page cache grows for the call to about 2.5 KiB a simulated member (16 MiB to
 * 1 GiB: what a day of the population changes), and is back to its 16 MiB after. The report, as JSON text
 * in *out_json (the caller's, loyal_free):
 *   {"profile": "community", "members": N, "days": D, "seed": S, "start": ms, "end": ms,
 *    "events": n (tracked), "spends": n,
 *    "months": [{"month": ms (its first instant in the program's time zone), "days": n,
 *                "members": n (joined by its end), "active": n (with an event in it),
 *                "events": n,
 *                "currencies": [{"currency", "issued", "redeemed", "expired", "breakage"
 *                                (expired / issued, or null), "liability" (outstanding at
 *                                the month's end)}],
 *                "tiers": {"bronze": n, ...} (at the month's end)}]}
 * A month cut by the simulation's end has the days it got. Errors: LOYAL_EINVAL (NULL
 * argument, a bad version, members, days or profile), LOYAL_ESTATE (the database has a program
 * or members already), the errors of loyal_program_apply for the document (LOYAL_EJSON,
 * LOYAL_ESYNTAX naming the key or position), LOYAL_EINTERRUPTED (progress returned nonzero,
 * or loyal_interrupt), LOYAL_EREADONLY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. On an error the
 * database keeps what was simulated until then. Thread-safety: as for every call on a handle. */
LOYAL_API int loyal_simulate(loyal_db *db, const loyal_simulation *simulation, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_SIMULATE_H */
