/* loyal/whatif.h - what-if replay: what a candidate program would have done over the stored
 * history, side by side with the live program. */
#ifndef LOYAL_WHATIF_H
#define LOYAL_WHATIF_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a replay runs (documented so that its answer can be judged):
 *
 * - Two scratch databases (SQLite files in a folder of their own, removed after the call) are
 *   filled from the stored events: one through the live program (the "live" side), one through
 *   the candidate (the "candidate" side). The live database is only read, a page of a few
 *   hundred events at a time, each page in a snapshot of its own: writers on it are never
 *   blocked, and events tracked during the replay are not replayed.
 * - Every stored event dated before `to` is tracked again, in the order it was tracked (event
 *   id), at its own time, under a clock that follows the events (never going back). Both sides
 *   run the live program until the first event dated at or after `from`; there the candidate
 *   side changes to the candidate program, as loyal_program_apply would have changed it then.
 *   Events before `from` build the state (balances, counters, tiers) both sides start from.
 * - At the end of each day (UTC) the replay reaches, and at `to`, both sides settle every
 *   member (loyal_expire) and review tiers (loyal_tier_sweep); segments are refreshed at `to`.
 * - Only events are replayed: ledger calls made directly (credits, debits, holds, transfers,
 *   adjustments, reversals), redemptions, coupons, grants, member attributes, blocks and tier
 *   assignments are not, on either side. The two sides differ only by their program, and the
 *   live side is what the live program makes of the events alone.
 * - An event a side's program refuses (an undeclared type) is counted as "refused" there.
 *
 * Memory stays bounded (a page of events, the per-rule sums, `limit` members), whatever the
 * history's size; the scratch files hold two copies of what the replayed events wrote, in a
 * folder loyal-whatif-XXXXXX removed when the call returns (a process killed during the call
 * leaves it behind: it holds nothing the live database needs). */

#define LOYAL_WHATIF_REQUEST_VERSION 1

typedef struct loyal_whatif_request {
	unsigned int version; /* LOYAL_WHATIF_REQUEST_VERSION */
	const char *program;  /* the candidate program document (JSON text) */
	int64_t from, to;     /* the period [from, to) reported, Unix ms; to 0: the handle's clock */
	const char *scratch;  /* the folder for the scratch files; NULL: $TMPDIR, else /tmp */
	int64_t limit;        /* the biggest member differences listed: 0 means 10; at most 1,000 */
	/* Optional: called after each page of replayed events with the events done and their
	 * total; a nonzero return stops the replay (LOYAL_EINTERRUPTED). */
	int (*progress)(void *ctx, int64_t done, int64_t total);
	/* Optional: called for every member whose outcome differs, with the row as JSON text
	 * (valid during the call, as under "biggest" below), in the order members joined; a
	 * nonzero return stops the replay (LOYAL_EINTERRUPTED). */
	int (*difference)(void *ctx, const char *json);
	void *ctx;
} loyal_whatif_request;

#define LOYAL_WHATIF_REQUEST_INIT \
	{LOYAL_WHATIF_REQUEST_VERSION, NULL, 0, 0, NULL, 0, NULL, NULL, NULL}

/* Fills *whatif with LOYAL_WHATIF_REQUEST_INIT for the given version. Returns LOYAL_OK, or
 * LOYAL_EINVAL for a NULL pointer or an unknown version. */
LOYAL_API int loyal_whatif_request_init(loyal_whatif_request *whatif, unsigned int version);

/* Replays the stored events through the live program and through whatif->program as described
 * above, and reports the period side by side, as JSON text in *out_json (the caller's,
 * loyal_free):
 *   {"from": ms, "to": ms, "events": n (replayed: dated before to), "period_events": n,
 *    "live": SIDE, "candidate": SIDE,
 *    "members": {"compared": n, "differing": n, "biggest": [DIFFERENCE, ...]}}
 * where SIDE is what that program did in the period:
 *   {"rules": [{"rule": "...", "currency": "...", "points": n, "awards": n}] (by rule, then
 *              currency: what each earning rule awarded),
 *    "currencies": [{"currency", "issued", "redeemed", "expired", "breakage" (expired /
 *                    issued, or null), "liability" (outstanding at `to`)}],
 *    "tiers": {"gold": n, ...} (at `to`), "tier_moves": n (made by events and reviews),
 *    "badges": {"streak": n, ...} (awarded), "segments": {"silent": n, ...} (at `to`),
 *    "refused": n (events of the period the program refused)}
 * and a DIFFERENCE, for a member whose points earned (lifetime, so the period's difference)
 * or tier differ between the sides, biggest total difference first:
 *   {"member": "...", "currencies": [{"currency", "live", "candidate", "difference"}] (the
 *    currencies that differ), "tier": {"live": "..." or null, "candidate": ...}}
 * Errors: LOYAL_EINVAL (NULL argument, a bad version, from negative or not before to, to
 * after the clock, limit out of range), LOYAL_ESTATE (the database has no program), the errors
 * of loyal_program_apply for the candidate (LOYAL_EJSON naming the field, prefixed "the
 * candidate program: "), LOYAL_EINTERRUPTED (a callback returned nonzero, or loyal_interrupt),
 * LOYAL_EIO (the scratch folder cannot be written, or reading the events failed), LOYAL_ENOMEM,
 * LOYAL_EMISUSE. The live database is never written, on success or error. Thread-safety: as for
 * every call on a handle. */
LOYAL_API int loyal_whatif(loyal_db *db, const loyal_whatif_request *whatif, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_WHATIF_H */
