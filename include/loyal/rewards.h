/* loyal/rewards.h - the rewards catalog and redemptions: what a member can redeem, redeeming
 * points for a reward, fulfilling and cancelling a redemption, and listing redemptions. */
#ifndef LOYAL_REWARDS_H
#define LOYAL_REWARDS_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How rewards work, in short:
 *
 * - The program document lists them (`rewards`): a name, a price in one or more spendable
 *   currencies (and prices per tier), an optional stock shared by all members, per-member
 *   limits per day, week, month, year or ever, who may redeem (`eligible`, a criteria
 *   expression), when (`active`), and how it is fulfilled: "instant" (the points are debited
 *   at once) or "two_phase" (held until fulfilled; a redemption not fulfilled within
 *   deadline_days expires and its points return). An "automatic" reward (a stamp card) is
 *   redeemed by the member's tracked events as soon as they can take it (loyal/events.h: the
 *   outcome's "redemptions"). README's "Rewards" section has an example.
 * - A redemption's points are ledger transactions whose reason is "reward:<name>": debits, or
 *   holds then captures. Cancelling returns the points to the lots they came from, with their
 *   original expiry, and the units to the stock.
 * - Stock is never oversold and limits never exceeded, also with several processes (or app
 *   servers on one PostgreSQL database) redeeming at once: redeemers of one reward take turns
 *   on its stock, writers of one member on the member.
 * - A redemption is JSON: {"id", "member", "reward", "quantity", "state" ("pending",
 *   "fulfilled", "cancelled" or "expired"), "at", "deadline" (null unless pending),
 *   "settled_at" (null while pending), "postings": [{"currency", "amount", "txn"}],
 *   "replayed"} (times in Unix ms). A pending redemption past its deadline reads "expired".
 * - Writing calls take an idempotency key (scoped to the member) and are sticky, as ledger
 *   calls are (loyal/ledger.h): a refusal that depends on the state (LOYAL_EINSUFFICIENT,
 *   LOYAL_ESOLDOUT, LOYAL_ELIMIT, LOYAL_ENOTELIGIBLE, LOYAL_EBLOCKED, LOYAL_ESTATE) is
 *   recorded and returned again for a retry with the same key.
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

#define LOYAL_REDEEM_VERSION 1

/* What loyal_reward_redeem asks for. Initialize with LOYAL_REDEEM_INIT (or loyal_redeem_init).
 * Strings are copied; none is kept after the call. */
typedef struct loyal_redeem {
	unsigned int version;        /* LOYAL_REDEEM_VERSION */
	const char *member;          /* the member, by the host's id */
	const char *reward;          /* a reward of the program */
	int64_t quantity;            /* units, 1 to 1000; 0 means 1 */
	const char *idempotency_key; /* 1-256 bytes */
	int64_t at;                  /* when, Unix ms; 0: the handle's clock. At most 1 day ahead */
} loyal_redeem;

#define LOYAL_REDEEM_INIT {LOYAL_REDEEM_VERSION, NULL, NULL, 0, NULL, 0}

/* Fills *request with LOYAL_REDEEM_INIT for the given version. Returns LOYAL_OK, or
 * LOYAL_EINVAL for a NULL request or an unknown version. */
LOYAL_API int loyal_redeem_init(loyal_redeem *request, unsigned int version);

/* What the member can redeem at `at` (0: now): *out_json receives a JSON array with one object
 * per reward of the program, in the program's order: {"reward", "title", "kind", "price"
 * (the member's: their tier's price if it has one, as {"currency": amount}), "stock_left"
 * (null: no limit), "two_phase", "data" (the host's), "available" (true when a redemption of
 * one unit would succeed now), "why" (null when available, else "blocked", "not_active",
 * "not_eligible", "out_of_stock" (no stock left, or a coupon reward's pool is empty),
 * "limit_reached" or "not_enough_points"), "missing" (points short per
 * currency, {} unless not_enough_points)}. The first reason found is given, in that order.
 * The text is the caller's (loyal_free). Errors: LOYAL_EINVAL (NULL argument), LOYAL_ENOTFOUND
 * (unknown member), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_reward_list(loyal_db *db, const char *member, int64_t at, char **out_json);

/* Redeems `quantity` units of a reward for the member: checks when and who (the reward's
 * active window and eligible expression), the member's limits, then takes the units from the
 * stock and the price times quantity from each of the price's currencies (debited, or held
 * until the deadline for a two-phase reward), and records the redemption. *out_json (may be
 * NULL) receives the redemption (state "fulfilled" for an instant reward, "pending" for a
 * two-phase one), the caller's (loyal_free), also for a replay. Errors: LOYAL_EINVAL (NULL
 * db or request, a bad field: the message names it), LOYAL_ENOTFOUND (unknown reward or
 * member), LOYAL_ENOTELIGIBLE (outside the reward's active window, or its eligible
 * expression is false for the member), LOYAL_ELIMIT (the quantity would pass one of the
 * member's limits), LOYAL_ESOLDOUT (fewer units left in stock), LOYAL_EINSUFFICIENT (not
 * enough available points in a currency of the price), LOYAL_EBLOCKED, LOYAL_EOVERFLOW,
 * LOYAL_ECONFLICT (the key was used for another request), LOYAL_EREADONLY, LOYAL_EBUSY,
 * LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. A refusal changes nothing but the key's record. */
LOYAL_API int loyal_reward_redeem(loyal_db *db, const loyal_redeem *request, char **out_json);

/* Fulfils the member's pending redemption `redemption`: its held points are captured (spent).
 * *out_json (may be NULL) receives the redemption, the caller's (loyal_free). Errors:
 * LOYAL_EINVAL (NULL argument, bad key), LOYAL_ENOTFOUND (unknown member, or no such
 * redemption of this member), LOYAL_ESTATE (not pending: fulfilled, cancelled, or expired,
 * its deadline passed), LOYAL_EBLOCKED (the member was blocked since: cancel it instead),
 * LOYAL_ECONFLICT, LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO,
 * LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_redemption_fulfil(loyal_db *db, const char *member, int64_t redemption,
				      const char *idempotency_key, char **out_json);

/* Cancels the member's redemption `redemption`, pending or fulfilled: held points are
 * released, spent ones refunded (each to its lot, with its original expiry), and the units
 * go back to the stock. *out_json (may be NULL) receives the redemption, the caller's
 * (loyal_free). Errors: as loyal_redemption_fulfil's (LOYAL_ESTATE: already cancelled, or
 * expired). */
LOYAL_API int loyal_redemption_cancel(loyal_db *db, const char *member, int64_t redemption,
				      const char *idempotency_key, char **out_json);

/* The member's redemption `redemption` as JSON in *out_json, the caller's (loyal_free).
 * Errors: LOYAL_EINVAL (NULL argument), LOYAL_ENOTFOUND (unknown member or redemption),
 * LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_redemption_get(loyal_db *db, const char *member, int64_t redemption,
				   char **out_json);

/* A cursor over the member's redemptions, newest first, from those with id < before (0: from
 * the newest): each row a redemption. Keyset-paged: a later page starts before the last id
 * seen. *out is the caller's (loyal_cursor_free). Errors: LOYAL_EINVAL (NULL argument,
 * negative before), LOYAL_ENOTFOUND (unknown member), LOYAL_EIO, LOYAL_ENOMEM,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_redemption_list(loyal_db *db, const char *member, int64_t before,
				    loyal_cursor **out);

/* A cursor over the redemptions awaiting fulfilment, of every member, oldest first, from
 * those with id > after (0: from the oldest): each row a redemption (those past their
 * deadline are left out). *out is the caller's (loyal_cursor_free). Errors: LOYAL_EINVAL
 * (NULL argument, negative after), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_redemption_pending(loyal_db *db, int64_t after, loyal_cursor **out);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_REWARDS_H */
