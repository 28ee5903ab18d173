/* loyal/outbox.h - the outbox: a durable, ordered feed of what happened to members, for the
 * host's mailers, CRM syncs and push services. */
#ifndef LOYAL_OUTBOX_H
#define LOYAL_OUTBOX_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every change a member would want to hear about is written to the outbox in the transaction
 * that makes it: nothing is announced that did not happen (a refused call, a rolled-back
 * batch), and nothing that happened goes unannounced. Each happening is
 *
 *   {"position": 41, "kind": "tier_changed", "member": "alice", "at": ms, "body": {...}}
 *
 * positions rise in commit order and are never reused. Kinds and their bodies:
 *   badge_earned     {"badge", "level" (or null), "how": "earned"|"granted", "reason"}
 *   badge_revoked    {"badge", "level", "reason"}
 *   tier_changed     {"from" (or null), "to", "direction": "up"|"down"|"same", "reason"}
 *   grace_started    {"tier", "grace_until"}
 *   points_expired   {"currency", "amount", "txn"}
 *   segment_entered  {"segment"}, segment_left {"segment"} (from loyal_segments_refresh)
 *   reward_redeemed  {"redemption", "reward", "quantity", "state"}
 *   reward_fulfilled, reward_cancelled, reward_expired  {"redemption", "reward"}
 *   coupon_issued    {"coupon", "code", "valid_until"}
 *   points_credited, points_spent, points_reversed  {"currency", "amount", "txn", "kind",
 *                    "reason"}: only for the currencies the program lists in
 *                    "outbox": {"postings": ["points"]} (busy programs may want none).
 *   points_expiring, tier_at_risk: notices, below.
 *
 * Consumers: a name (1-256 bytes) per reader. Each keeps the position it acknowledged; a read
 * gives the happenings after it, and reading again before acknowledging gives the same rows
 * (at-least-once delivery: the position is the key to deduplicate by). A consumer is recorded
 * by its first read or acknowledgement. Happenings that every consumer acknowledged and that
 * are older than "outbox": {"retention_days": N} (7 unless said) are removed by
 * acknowledgements; with no consumer recorded, nothing is removed.
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* Notices before the moment, configured in the program:
 *
 *   "notices": {"expiring_days": [30, 7], "tier_at_risk_days": 14}
 *
 * points_expiring {"currency", "amount", "expires_at", "days"}: a member's active points of a
 *   currency that expire on one local day, within each of expiring_days (1-4 thresholds,
 *   largest first) of the sweep: announced once per threshold (a sweep that finds several
 *   reached at once announces the tightest); "days" is that threshold.
 * tier_at_risk {"tier", "review_at"}: the member's review is within tier_at_risk_days and the
 *   tier's retain condition (else entry) does not hold now (the lowest tier, and a tier an
 *   assignment holds, are never at risk); once per review.
 * A member going silent is a segment entry (segment_entered) of a segment that says so.
 *
 * loyal_notice_sweep writes them as of `at` (0: the handle's clock), a page of members per
 * transaction; running it again announces nothing twice. *out_count (may be NULL) counts the
 * notices written. Errors: LOYAL_EINVAL (NULL db, at negative or more than a day ahead),
 * LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_notice_sweep(loyal_db *db, int64_t at, int64_t *out_count);

/* Streams who has active points expiring in [from, to) (Unix ms): one row per member,
 * currency (`currency`, or NULL: every one) and day of expiry, in the order members joined:
 *   {"member", "currency", "amount", "expires_at" (the soonest instant that day)}
 * `after` (NULL: from the first) resumes after a member a page ended with. The cursor is the
 * caller's. Errors: LOYAL_EINVAL (to not after from, a negative from, NULL out),
 * LOYAL_ENOTFOUND (unknown currency or `after` member), LOYAL_EIO, LOYAL_ENOMEM,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_points_expiring(loyal_db *db, const char *currency, int64_t from,
				    int64_t to, const char *after, loyal_cursor **out);

/* Streams the members whose tier review falls in [from, to), in the order they joined:
 *   {"member", "tier", "review_at", "grace_until" (null unless in grace)}
 * `after` resumes as for loyal_points_expiring. Errors: as loyal_points_expiring's. */
LOYAL_API int loyal_tier_reviews(loyal_db *db, int64_t from, int64_t to, const char *after,
				 loyal_cursor **out);

/* Streams the happenings after the consumer's acknowledged position, oldest first, at most
 * `limit` (0: all there are), in constant memory. The cursor is the caller's
 * (loyal_cursor_free). Errors: LOYAL_EINVAL (NULL or bad argument), LOYAL_EIO, LOYAL_EBUSY,
 * LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_outbox_read(loyal_db *db, const char *consumer, int64_t limit,
				loyal_cursor **out);

/* Acknowledges every happening up to `position` for the consumer; an older position than
 * the one acknowledged changes nothing. Errors: LOYAL_EINVAL (NULL or bad argument, a
 * position past the newest happening), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_outbox_ack(loyal_db *db, const char *consumer, int64_t position);

/* Forgets a consumer (it no longer holds happenings back from removal); *out_found (may be
 * NULL) says whether it was recorded. Errors: as loyal_outbox_ack's. */
LOYAL_API int loyal_outbox_forget(loyal_db *db, const char *consumer, int *out_found);

/* The consumers as JSON text in *out_json (the caller's, loyal_free):
 *   {"newest": position, "consumers": [{"consumer", "position", "behind", "acked_at"}]}
 * Errors: LOYAL_EINVAL, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_outbox_consumers(loyal_db *db, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_OUTBOX_H */
