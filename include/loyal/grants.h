/* loyal/grants.h - bulk grants: points or a coupon for every member of a segment or of a list,
 * under one key, resumable after a crash without giving anybody twice. */
#ifndef LOYAL_GRANTS_H
#define LOYAL_GRANTS_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a grant works, in short:
 *
 * - A grant gives each of its members one thing: a credit of `amount` points of `currency`
 *   (a new lot, as loyal_ledger_credit makes) or a code of `coupon` (as loyal_coupon_issue
 *   does). Its members are those of `segment` now (evaluated member by member as the grant
 *   goes, in the order they joined), or the host ids in `members`; a listed id the program
 *   does not know is refused ("unknown_member"), never created.
 * - The grant's key is each member's idempotency key for what they get: running the same grant
 *   again (after a crash, a lost connection, a killed process) gives those it had not reached
 *   yet and nobody twice; those already served are counted as "already_granted". The grant's
 *   request (what it gives, its reason, time and expiry, and its segment) is recorded under its
 *   key: the same key with another request fails with LOYAL_ECONFLICT and changes nothing. A
 *   list may change between runs: each member is still served once.
 * - Members are served a few hundred per write transaction; a failure of the store (LOYAL_EIO,
 *   LOYAL_EBUSY, LOYAL_ENOMEM...) stops the grant, undoing only the members of the transaction
 *   in progress: run it again to finish. It cannot run inside a batch (loyal_batch_begin).
 * - A member who cannot receive is refused and the grant goes on: "blocked", "not_eligible"
 *   (the coupon's eligible expression), "sold_out" (the coupon's pool is empty), "overflow" (a
 *   balance would leave the int64 range), "key_conflict" (the member's key was used for
 *   another call), "unknown_member", "invalid_member" (not a valid host id). Like every
 *   write's, these refusals (but the last three) are recorded under the key and stay: a run
 *   again refuses them again. Use a new key for a new attempt.
 * - Memory is bounded: one transaction's members at a time, whatever the grant's size.
 *
 * Thread-safety: as for every call on a handle (see loyal_db); the callbacks run on the
 * calling thread, inside the call, and must not call the library on the same handle. */

#define LOYAL_GRANT_VERSION 1

/* What a grant gives and to whom. Initialize with LOYAL_GRANT_INIT (or loyal_grant_init). Strings
 * are read during the call only. */
typedef struct loyal_grant {
	unsigned int version;       /* LOYAL_GRANT_VERSION */
	const char *key;            /* 1-256 bytes: the grant's, and each member's idempotency key */
	const char *segment;        /* to the members of this segment now; or NULL and: */
	const char *const *members; /* to these host ids (member_count of them) */
	size_t member_count;
	const char *currency;       /* credit `amount` (> 0) points of this currency; or NULL and: */
	int64_t amount;
	const char *coupon;         /* issue a code of this coupon */
	const char *reason;         /* credits: the reason on statements (<= 256 bytes); NULL: "grant" */
	int64_t at;                 /* credits: when, Unix ms, at most a day ahead; 0: the clock */
	int64_t expires_at;         /* credits: an explicit expiry (> at) instead of the currency's */
	/* Optional: called after each committed transaction, with the members looked at so far
	 * (segment: members of the program examined; list: ids) and their total. */
	void (*progress)(void *ctx, int64_t done, int64_t total);
	/* Optional: called for each member refused, with the error code and its message; the
	 * strings are valid during the callback only. */
	void (*refused)(void *ctx, const char *member, int code, const char *why,
			const char *message);
	void *ctx; /* passed to the callbacks */
} loyal_grant;

#define LOYAL_GRANT_INIT {LOYAL_GRANT_VERSION, NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, 0, 0, NULL, NULL, NULL}

/* Fills *grant with LOYAL_GRANT_INIT for the given version. Returns LOYAL_OK, or LOYAL_EINVAL
 * for a NULL grant or an unknown version. */
LOYAL_API int loyal_grant_init(loyal_grant *grant, unsigned int version);

/* Runs the grant. *out_json (may be NULL) receives its report, the caller's (loyal_free):
 *   {"grant": key, "examined": n, "granted": n, "already_granted": n, "refused": n,
 *    "why": {"blocked": n, ...}}
 * where examined counts the members looked at (a segment's: all the program's; a list's: its
 * ids), granted those served by this run, already_granted those an earlier run served, and
 * why the refused by reason (only reasons that occurred). Errors: LOYAL_EINVAL (NULL db or
 * grant, a bad field: the message names it, as "grant.amount"), LOYAL_ENOTFOUND (unknown
 * segment, currency or coupon), LOYAL_ECONFLICT (the key was used for another grant), LOYAL_ESTATE
 * (inside a batch), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_grant_run(loyal_db *db, const loyal_grant *grant, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_GRANTS_H */
