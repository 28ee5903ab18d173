/* loyal/ledger.h - the points ledger: credits, debits, adjustments, transfers, holds, reversals,
 * balances, statements and explanations. */
#ifndef LOYAL_LEDGER_H
#define LOYAL_LEDGER_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the ledger works, in short:
 *
 * - Every change of a balance is a transaction of double-entry entries between accounts: each
 *   member has an available, a pending and a held account per currency; each currency has the
 *   system accounts issued, redeemed, expired, adjusted and transit. Transactions are never
 *   changed or deleted: a correction is a new transaction that names the one it reverses.
 * - Every credit creates a lot with its own expiry. Debits consume lots soonest-to-expire first
 *   (ties: oldest first). Pending points cannot be spent until their lot activates.
 * - Time passes lazily: before any write for a member and currency, and in what balance reads
 *   report, lots whose pending time has come are activated, holds past their deadline are
 *   released and expired lots are moved to the expired account. loyal_expire() does the same
 *   for every member at once. A write dated in the past (posting.at, an event's time) meets the
 *   account as it stands at the later of its own time and the clock: points that have expired
 *   by now cannot be spent by a back-dated debit, whether or not a sweep has run; the write's
 *   entries still carry its own time.
 * - Every call that writes takes an idempotency key, scoped to the member. The same key with the
 *   same request returns the first call's outcome and changes nothing (loyal_result.replayed);
 *   the same key with another request fails with LOYAL_ECONFLICT. Outcomes are sticky, failures
 *   included: a debit refused with LOYAL_EINSUFFICIENT stays refused under its key. Only
 *   outcomes that depend on the ledger's state are recorded (LOYAL_EINSUFFICIENT,
 *   LOYAL_EBLOCKED, LOYAL_ESTATE, LOYAL_EOVERFLOW); invalid input (LOYAL_EINVAL, an unknown
 *   currency, member or transaction: LOYAL_ENOTFOUND) changes nothing and records nothing.
 * - Each call is atomic: all of its effects are committed, or none.
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* Version 2 added flags; a struct of version 1 (without it) is still taken. */
#define LOYAL_POSTING_VERSION 2

/* What a ledger call asks for. Initialize with LOYAL_POSTING_INIT (or loyal_posting_init), then
 * set the fields the call reads; a field another call reads must stay zero/NULL, or the call
 * fails with LOYAL_EINVAL naming it. Strings are copied; none is kept after the call. */
typedef struct loyal_posting {
	unsigned int version;        /* LOYAL_POSTING_VERSION */
	const char *member;          /* the member, by the host's id (1-256 bytes of UTF-8) */
	const char *currency;        /* a currency of the program */
	int64_t amount;              /* points: > 0; adjust: signed, != 0; capture/reverse: 0 = all */
	const char *idempotency_key; /* 1-256 bytes; required by every call that writes */
	const char *reason;          /* why, for people (<= 256 bytes); NULL: the call's name */
	const char *cause;           /* the event, order... behind it (<= 256 bytes), or NULL */
	int64_t at;                  /* when, Unix ms; 0: the handle's clock. At most 1 day ahead */
	int64_t pending_ms;          /* credit: > 0 keeps the points pending this long */
	int64_t expires_at;          /* credit: an explicit expiry (> at) instead of the currency's */
	const char *to_member;       /* transfer: who receives */
	int64_t deadline;            /* hold: when the hold is released if not settled (> at) */
	int64_t txn;                 /* capture, release, reverse: the transaction acted upon */
	unsigned int flags;          /* LOYAL_DRY_RUN (the result is what the call would do), or 0 */
} loyal_posting;

#define LOYAL_POSTING_INIT {LOYAL_POSTING_VERSION, NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0, NULL, 0, 0, 0}

/* Fills *posting with LOYAL_POSTING_INIT for the given version (1 or 2: a version 1 struct, the
 * smaller, is filled as far as it goes). Returns LOYAL_OK, or LOYAL_EINVAL for a NULL posting
 * or an unknown version. */
LOYAL_API int loyal_posting_init(loyal_posting *posting, unsigned int version);

#define LOYAL_RESULT_VERSION 1

/* What a ledger call did. The caller sets version (LOYAL_RESULT_INIT); the call fills the rest,
 * also when it fails with a recorded (sticky) outcome. */
typedef struct loyal_result {
	unsigned int version; /* LOYAL_RESULT_VERSION */
	int64_t txn;          /* the transaction made, 0 when none */
	int64_t amount;       /* the points moved (a clawback capped by policy may move fewer) */
	int replayed;         /* 1 when this is the recorded outcome of an earlier call */
} loyal_result;

#define LOYAL_RESULT_INIT {LOYAL_RESULT_VERSION, 0, 0, 0}

/* The errors every writing call below may return, beyond those it lists:
 * LOYAL_EINVAL (NULL db or posting, a bad field: the message names it), LOYAL_ENOTFOUND (unknown
 * currency), LOYAL_ECONFLICT (the key was used for another request), LOYAL_EREADONLY,
 * LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. `out` may be NULL. */

/* Credits `amount` points to the member (created on first use): a new lot, expiring by the
 * currency's policy or at `expires_at`, pending for `pending_ms` if set. A member in debt
 * repays it first. Reads member, currency, amount, idempotency_key, reason, cause, at,
 * pending_ms, expires_at. Errors: LOYAL_EBLOCKED, LOYAL_EOVERFLOW (a balance would overflow). */
LOYAL_API int loyal_ledger_credit(loyal_db *db, const loyal_posting *posting, loyal_result *out);

/* Debits (spends) `amount` available points, consuming lots soonest-to-expire first. Reads
 * member, currency, amount, idempotency_key, reason, cause, at. Errors: LOYAL_ENOTFOUND
 * (unknown member), LOYAL_EINSUFFICIENT, LOYAL_EBLOCKED, LOYAL_EINVAL (earn-only currency). */
LOYAL_API int loyal_ledger_debit(loyal_db *db, const loyal_posting *posting, loyal_result *out);

/* A manual correction by an operator: a positive amount is credited (from the adjusted account,
 * as a new lot), a negative one debited; reason is required. Allowed for blocked members and
 * earn-only currencies. Reads member, currency, amount, idempotency_key, reason, cause, at.
 * Errors: LOYAL_ENOTFOUND (debiting an unknown member), LOYAL_EINSUFFICIENT, LOYAL_EOVERFLOW. */
LOYAL_API int loyal_ledger_adjust(loyal_db *db, const loyal_posting *posting, loyal_result *out);

/* Gives `amount` available points of member to to_member (created on first use). The receiver
 * gets lots with the expiry of the lots given, so a gift never extends validity. Two
 * transactions are made, one per member, each naming the other; out->txn is the sender's.
 * Reads member, to_member, currency, amount, idempotency_key, reason, cause, at. Errors:
 * LOYAL_ENOTFOUND (unknown sender), LOYAL_EINSUFFICIENT, LOYAL_EBLOCKED (either member),
 * LOYAL_EINVAL (same member, earn-only currency), LOYAL_EOVERFLOW. */
LOYAL_API int loyal_ledger_transfer(loyal_db *db, const loyal_posting *posting,
				    loyal_result *out);

/* Reserves `amount` available points until `deadline`: they leave available for held, and
 * are then captured (spent) or released (returned to their lots). A hold not settled by its
 * deadline is released. out->txn names the hold. Reads member, currency, amount,
 * idempotency_key, reason, cause, at, deadline. Errors: LOYAL_ENOTFOUND (unknown member),
 * LOYAL_EINSUFFICIENT, LOYAL_EBLOCKED, LOYAL_EINVAL (earn-only currency). */
LOYAL_API int loyal_ledger_hold(loyal_db *db, const loyal_posting *posting, loyal_result *out);

/* Captures (spends) `amount` of the hold `txn` (0: all of it); the rest is released. Reads
 * member, currency, txn, amount, idempotency_key, reason, cause, at. Errors: LOYAL_ENOTFOUND
 * (no such hold of this member), LOYAL_ESTATE (already captured or released, or past its
 * deadline), LOYAL_EINVAL (amount above the hold). */
LOYAL_API int loyal_ledger_capture(loyal_db *db, const loyal_posting *posting, loyal_result *out);

/* Releases the hold `txn`: its points return to the lots they came from. Reads member,
 * currency, txn, idempotency_key, reason, cause, at. Errors: LOYAL_ENOTFOUND, LOYAL_ESTATE. */
LOYAL_API int loyal_ledger_release(loyal_db *db, const loyal_posting *posting, loyal_result *out);

/* Reverses `amount` points (0: all that is left) of the transaction `txn`: a credit or a
 * positive adjustment is clawed back from the lot it created, then by the currency's policy
 * (negative: from other lots, then as a debt; zero: from other lots down to zero; pending_only:
 * only what is still pending); a debit, a capture or a negative adjustment is refunded to the
 * lots it consumed, with their original expiry. out->amount says what moved: under the zero
 * and pending_only policies it may be less than asked, even 0 (the transaction is recorded all
 * the same, with what was asked, so that the points it settles cannot be taken twice). Partial
 * reversals add up to at most the original amount. Reads member, currency, txn, amount,
 * idempotency_key, reason, cause, at. Errors: LOYAL_ENOTFOUND (no such transaction of this
 * member), LOYAL_ESTATE (a kind that cannot be reversed, or an amount above what is left to
 * reverse), LOYAL_EOVERFLOW. */
LOYAL_API int loyal_ledger_reverse(loyal_db *db, const loyal_posting *posting, loyal_result *out);

#define LOYAL_BALANCE_VERSION 1

/* A member's balance in one currency, as of a moment. */
typedef struct loyal_balance {
	unsigned int version;       /* set by the caller: LOYAL_BALANCE_VERSION */
	int64_t available;          /* spendable now; negative: a debt later earnings repay */
	int64_t pending;            /* credited, not yet spendable */
	int64_t held;               /* reserved by open holds */
	int64_t earned;             /* lifetime credits, net of what reversals took back */
	int64_t spent;              /* lifetime debits and captures, net of refunds */
	int64_t expired;            /* lifetime expiries */
	int64_t next_expiry_at;     /* when the soonest available points expire; 0: none */
	int64_t next_expiry_amount; /* how many expire then */
} loyal_balance;

#define LOYAL_BALANCE_INIT {LOYAL_BALANCE_VERSION, 0, 0, 0, 0, 0, 0, 0, 0}

/* Reads the member's balance in `currency` as of `at` (0: the handle's clock): the recorded
 * balance, counting what would be activated, released or expired by then (a later `at` previews
 * expiries; an earlier one does not undo recorded transactions). Reads only. Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown member or currency), LOYAL_EIO,
 * LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_ledger_balance(loyal_db *db, const char *member, const char *currency,
				   int64_t at, loyal_balance *out);

/* Lists when the member's points expire, soonest first, as JSON text in *out_json (the
 * caller's, loyal_free): [{"expires_at": ms, "amount": n}, ...], one item per expiry instant,
 * at most `limit` items (1-1000); pending points are not included. Reads only. Errors:
 * LOYAL_EINVAL, LOYAL_ENOTFOUND, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_ledger_expiring(loyal_db *db, const char *member, const char *currency,
				    int limit, char **out_json);

/* Streams the member's transactions, newest first, one JSON object per row:
 *   {"txn": id, "kind": "credit", "currency": "points", "amount": n, "at": ms,
 *    "reason": "...", "cause": "..." or null, "reverses": id or null,
 *    "counterpart": id or null}
 * `currency` (NULL: all) filters; `before_txn` (0: from the newest) starts after a row already
 * seen, for paging. The cursor holds no lock and reads one row at a time. *out is the caller's
 * (loyal_cursor_free). Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown member or currency, or
 * before_txn not the member's), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_ledger_statement(loyal_db *db, const char *member, const char *currency,
				     int64_t before_txn, loyal_cursor **out);

/* Returns one transaction as JSON text in *out_json (the caller's, loyal_free): the statement
 * row plus "member", its "entries" ([{"from": account, "to": account, "amount": n}], accounts
 * named "member:available", "system:issued"...) and the lot "moves" it made ([{"lot": id,
 * "amount": n, "kind": "consume"}]). Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND, LOYAL_EIO,
 * LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_ledger_transaction(loyal_db *db, int64_t txn, char **out_json);

/* Explains the member's balance in `currency` as JSON text in *out_json (the caller's):
 *   {"member", "currency", "available", "pending", "held", "debt",
 *    "lots": [{"lot": id, "txn": id, "amount", "remaining", "earned_at", "expires_at" (null:
 *              never), "pending_until" (null: active),
 *              "history": [{"txn": id, "kind": "consume", "amount": -n, "at": ms}, ...]}]}
 * with every lot the member ever had in the currency, soonest-expiring first: which make up
 * the balance, and which debits, holds, expiries and reversals consumed each. The stored
 * state, without the lazy settlement balance reads apply. Errors: LOYAL_EINVAL,
 * LOYAL_ENOTFOUND, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_ledger_explain(loyal_db *db, const char *member, const char *currency,
				   char **out_json);

/* Settles every member as of `at` (0: the handle's clock): activates due pending lots, releases
 * overdue holds, expires lots past their expiry and balances idle past an inactivity policy,
 * and records pending redemptions past their deadline as expired, their units back in stock
 * (loyal/rewards.h). Each member's settlement is atomic; a failure stops the sweep, keeping
 * what was done (run it again to continue). *out_settled (may be NULL) receives how many
 * member balances changed plus how many redemptions expired.
 * Errors: LOYAL_EINVAL (NULL db, at in the future), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO,
 * LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_expire(loyal_db *db, int64_t at, int64_t *out_settled);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_LEDGER_H */
