/* loyal/events.h - what members do: tracking events through the earning rules, reversing them,
 * and evaluating criteria for a member. */
#ifndef LOYAL_EVENTS_H
#define LOYAL_EVENTS_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version 2 added flags; a struct of version 1 (without it) is still taken. */
#define LOYAL_EVENT_VERSION 2

/* An event a member caused. Initialize with LOYAL_EVENT_INIT. Strings are copied. */
typedef struct loyal_event {
	unsigned int version;        /* LOYAL_EVENT_VERSION */
	const char *member;          /* the member (created on first use) */
	const char *type;            /* 1-64 characters of a-z, 0-9, _, - and . ("purchase") */
	const char *idempotency_key; /* 1-256 bytes; shares the member's key space with the ledger */
	int64_t at;                  /* Unix ms; 0: the handle's clock; at most a day ahead */
	const char *properties;      /* a JSON object (NULL: {}): at most 64 KiB, 64 keys, 16 deep */
	unsigned int flags;          /* LOYAL_DRY_RUN, or 0 */
} loyal_event;

#define LOYAL_EVENT_INIT {LOYAL_EVENT_VERSION, NULL, NULL, NULL, 0, NULL, 0}

/* Records an event and applies, in one transaction, every earning rule of the program for its
 * type: the event is kept (the audit trail), counted in the member's daily activity, and each
 * rule whose window, first-time flag and condition allow it awards its amounts (rounded down
 * to whole points) to its recipient, within its caps. A cap counts what its rule gave while
 * the rule had a cap of that kind (awards or points): one added to a running rule counts from
 * then on. A blocked recipient gets nothing. An award stays pending for its rule's
 * pending_days, or its own (loyal/program.h). Rules, tiers and badges see the member as they
 * were before this event: days_since(last_seen) is the idle time the event ends (a return
 * bonus), while counts include the event itself.
 *
 * A rule is skipped, the event and its other rules standing, where its condition or an award
 * cannot be evaluated for this event (a value out of range, a division by zero: "error", with
 * the rule's name and the evaluator's message), and where the recipient an event names
 * (recipient "event.referrer") is the member themself ("self-referral": no one is paid for
 * referring themselves).
 *
 * *out_json (may be NULL) receives the outcome, the caller's (loyal_free):
 *   {"event": id, "member": "...", "type": "...", "at": ms, "replayed": false,
 *    "postings": [{"rule": "...", "rule_version": n, "member": "...", "currency": "...",
 *                  "amount": n, "txn": id, "pending_until": ms or null}],
 *    "skipped": [{"rule": "...", "reason": "condition"|"window"|"when"|"first_time"|"cap"|
 *                 "budget"|"after_last"|
 *                 "blocked"|"no amount"|"no recipient"|"self-referral"|"error"|
 *                 "coupon: <why the code could not be issued>",
 *                 "message": "rule 'x': award of points: ..." (with "error" only)}],
 *    "tier_changes": [], "badges": [],
 *    "coupons": [{"rule": "...", "member": "...", "coupon": "...", "code": "..."}],
 *    "redemptions": [redemptions of automatic rewards (stamp cards), as loyal/rewards.h]}
 * ("coupons" and "redemptions" only when the event made some). The JSON is written only for
 * a caller who passes out_json: one who does not want it saves that work.
 * The same key with the same event returns the first outcome with "replayed": true and changes
 * nothing (LOYAL_ECORRUPT if the stored outcome is damaged); with another event it fails with
 * LOYAL_ECONFLICT.
 *
 * Errors: LOYAL_EINVAL (NULL or bad field: the message names it; a type that the program's
 * declared events do not list), LOYAL_EJSON
 * (properties not a JSON object, too large or too deep), LOYAL_ECONFLICT, LOYAL_EOVERFLOW,
 * LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. Nothing is recorded
 * on an error. */
LOYAL_API int loyal_track(loyal_db *db, const loyal_event *event, char **out_json);

#define LOYAL_EVENT_REVERSAL_VERSION 1

/* Reverses what an earlier event awarded, fully or in part (an order returned). */
typedef struct loyal_event_reversal {
	unsigned int version;        /* LOYAL_EVENT_REVERSAL_VERSION */
	const char *member;          /* the event's member */
	const char *event_key;       /* the idempotency key the event was tracked with */
	int64_t part, whole;         /* reverse part/whole of each award (0 and 0: all of it) */
	const char *idempotency_key; /* of this reversal */
	const char *reason;          /* NULL: "event reversal" */
	int64_t at;                  /* 0: the handle's clock */
} loyal_event_reversal;

#define LOYAL_EVENT_REVERSAL_INIT {LOYAL_EVENT_REVERSAL_VERSION, NULL, NULL, 0, 0, NULL, NULL, 0}

/* Reverses each posting the event made (rounded down to whole points), through the ledger's
 * reversal and its clawback policies. *out_json (may be NULL) receives
 *   {"event": id, "reversals": [{"txn": original, "reversal": id, "member": "...",
 *    "currency": "...", "amount": taken, "requested": n}], "replayed": false}
 * where a clawback policy (zero, pending_only) may take less than requested, even 0.
 * Errors: LOYAL_EINVAL (NULL or bad field, part > whole), LOYAL_ENOTFOUND (no such event of
 * this member), LOYAL_ESTATE (already fully reversed), LOYAL_ECONFLICT, LOYAL_EREADONLY,
 * LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_event_reverse(loyal_db *db, const loyal_event_reversal *reversal,
				  char **out_json);

/* Evaluates a criteria expression (see loyal/criteria.h) for a member now, with `event_json`
 * (NULL: none) as the event: for debugging a program. *out_json receives
 *   {"value": <the value, or null when missing>, "type": "..."}
 * Reads only. Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND (unknown member), LOYAL_ESYNTAX,
 * LOYAL_EJSON (event_json not an object), LOYAL_EOVERFLOW, LOYAL_ENOMEM, LOYAL_EIO,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_criteria_eval(loyal_db *db, const char *expression, const char *member,
				  const char *event_json, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_EVENTS_H */
