/* loyal/coupons.h - coupons: codes imported into a pool or generated, issued to members,
 * checked, reserved for a checkout and released, and used, each use once. */
#ifndef LOYAL_COUPONS_H
#define LOYAL_COUPONS_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How coupons work, in short:
 *
 * - The program document lists them (`coupons`): a name and title, a value for the host ("10%
 *   off", or an object such as {"amount": 5, "currency": "EUR"}), how long a code is valid
 *   (valid_days after it is issued, 30 by default, or a fixed "valid": {"from", "until"}),
 *   uses per code (1 by default), who may receive one (`eligible`, a criteria expression), and
 *   where its codes come from: "codes": "generated" (the default: `code_length` characters,
 *   10 by default, of 23456789ABCDEFGHJKLMNPQRSTUVWXYZ, with no 0, 1, I or O, after an
 *   optional `prefix`) or "pool" (imported with loyal_coupon_import).
 * - Codes are unique, kept in upper case and matched case-insensitively (surrounding blanks
 *   ignored); a code is 4 to 64 characters of A-Z, 0-9 and '-'.
 * - A code is JSON: {"id", "code", "coupon", "title", "value", "member", "issued_at",
 *   "valid_from", "valid_until" (null: no end), "uses_left", "state" ("valid", "used_up",
 *   "expired", "not_yet_valid")}, with "reservation" and "replayed" from the writing calls.
 * - Writing calls take an idempotency key, scoped to the member, and are sticky like ledger
 *   calls (loyal/ledger.h): a refusal that depends on the state is recorded and returned again
 *   for a retry with the same key. A reward of "kind": "coupon" issues one too
 *   (loyal/rewards.h).
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* Imports codes into the pool of `coupon` (one of "codes": "pool"): `codes` is text with one
 * code per line (blank lines are skipped). A code already known (in any pool, or issued) is
 * counted in *out_duplicates and left alone; the others are added, counted in *out_added. All
 * or nothing: a malformed line (its number is named) imports none. Errors: LOYAL_EINVAL (NULL
 * argument, a malformed code, a coupon that generates its codes), LOYAL_ENOTFOUND (unknown
 * coupon), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_coupon_import(loyal_db *db, const char *coupon, const char *codes,
				  int64_t *out_added, int64_t *out_duplicates);

/* Issues a code of `coupon` to the member (created on first use): drawn from its pool (oldest
 * imported first) or generated. *out_json (may be NULL) receives the code, the caller's
 * (loyal_free). Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown coupon), LOYAL_ENOTELIGIBLE
 * (its eligible expression is false for the member), LOYAL_ESOLDOUT (its pool is empty: never
 * a code issued twice), LOYAL_EBLOCKED, LOYAL_ECONFLICT, LOYAL_EREADONLY, LOYAL_EBUSY,
 * LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_coupon_issue(loyal_db *db, const char *member, const char *coupon,
				 const char *idempotency_key, char **out_json);

/* Whether `code` can be used by the member at `at` (0: now), for a checkout to show: *out_json
 * receives the code's JSON with "valid" (true or false) and "why" (null, "used_up", "expired",
 * "not_yet_valid"), or for a code that is not theirs only {"code", "valid": false, "why":
 * "unknown" or "not_this_members"}. The caller's (loyal_free). Reads only. Errors:
 * LOYAL_EINVAL (NULL argument, a malformed code, negative at), LOYAL_EIO, LOYAL_ENOMEM,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_coupon_check(loyal_db *db, const char *member, const char *code, int64_t at,
				 char **out_json);

/* Sets one use of the member's code aside for a checkout: *out_json receives the code with its
 * "reservation" id, to pass to loyal_coupon_use (the order went through) or
 * loyal_coupon_release (it did not). Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown member or
 * code), LOYAL_ENOTELIGIBLE (the code is another member's), LOYAL_ELIMIT (no use left),
 * LOYAL_ESTATE (expired, or not valid yet), LOYAL_ECONFLICT, LOYAL_EREADONLY, LOYAL_EBUSY,
 * LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_coupon_reserve(loyal_db *db, const char *member, const char *code,
				   const char *idempotency_key, char **out_json);

/* Gives a reservation's use back to its code. Errors: LOYAL_EINVAL (reservation 0),
 * LOYAL_ENOTFOUND (no such reservation of the member), LOYAL_ESTATE (used or released
 * already), and as loyal_coupon_reserve's. */
LOYAL_API int loyal_coupon_release(loyal_db *db, const char *member, int64_t reservation,
				   const char *idempotency_key, char **out_json);

/* Uses the member's code once: the use a reservation set aside (reservation, from
 * loyal_coupon_reserve), or with reservation 0 one of its uses left. *out_json (may be NULL)
 * receives the code, the caller's (loyal_free). Errors: as loyal_coupon_reserve's, and
 * LOYAL_ESTATE for a reservation used or released already. */
LOYAL_API int loyal_coupon_use(loyal_db *db, const char *member, const char *code,
			       int64_t reservation, const char *idempotency_key, char **out_json);

/* A cursor over the member's codes, newest first, from those with id < before (0: the
 * newest); each row a code. *out is the caller's (loyal_cursor_free). Errors: LOYAL_EINVAL,
 * LOYAL_ENOTFOUND (unknown member), LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_coupon_list(loyal_db *db, const char *member, int64_t before,
				loyal_cursor **out);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_COUPONS_H */
