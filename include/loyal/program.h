/* loyal/program.h - defining the loyalty program: currencies, earning rules, tiers, badges and
 * segments as one versioned JSON document. */
#ifndef LOYAL_PROGRAM_H
#define LOYAL_PROGRAM_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Applies a program document, atomically, as a new version. The document is a JSON object:
 *
 *   {"timezone": "UTC",
 *    "currencies": [
 *      {"name": "points", "spendable": true, "clawback": "negative",
 *       "expiry": {"after_days": 365}},
 *      {"name": "xp", "spendable": false}]}
 *
 * currencies[].name       1-64 characters of [a-z0-9_-]; unique.
 * currencies[].spendable  default true; false for earn-only currencies (e.g. growth value):
 *                         they cannot be debited, held or transferred.
 * currencies[].expiry     absent or "never"; {"after_days": N}; {"after_months": N};
 *                         {"end_of": "month"|"quarter"|"year", "periods": N} (the end of the
 *                         period N periods after the one the points were earned in, N >= 0);
 *                         {"inactive_days": N} (the whole balance expires N days after the
 *                         member's last activity). N is a positive integer (periods may be 0).
 * currencies[].clawback   what a reversal does when the points it takes back were spent:
 *                         "negative" (default: the balance goes negative, a debt that later
 *                         earnings repay), "zero" (take what is there, stop at zero), or
 *                         "pending_only" (take back only points still pending).
 * timezone                "UTC" (the default) or a fixed offset "+HH:MM" / "-HH:MM": where
 *                         calendar periods begin and end.
 *
 * events                  optional: the event types the program reads ["purchase", ...]. Once
 *                         declared, a rule, an expression or a tracked event naming another
 *                         type is an error (LOYAL_EJSON, LOYAL_ESYNTAX, LOYAL_EINVAL) instead
 *                         of silently matching nothing.
 *
 * Earning rules (applied by loyal_track, loyal/events.h):
 *
 *   "rules": [{"name": "purchase", "event": "purchase", "condition": "event.amount > 0",
 *              "award": {"points": "floor(event.amount) * tier.multiplier",
 *                        "xp": {"amount": "floor(event.amount)", "pending_days": 0}},
 *              "pending_days": 30, "caps": [{"per": "day", "points": 500}],
 *              "recipient": "member", "active": {"from": ..., "until": ...},
 *              "first_time": false}]
 *
 * rules[].name            1-64 characters of [a-z0-9_-]; unique.
 * rules[].event           the event type it reads.
 * rules[].condition       optional: a boolean criteria expression (loyal/criteria.h).
 * rules[].award           1-8 currencies, each an amount expression (rounded down to whole
 *                         points), or {"amount": expression, "pending_days": N}.
 * rules[].pending_days    1-3650: awards stay pending this long (a return window) unless an
 *                         award sets its own pending_days (0: active at once).
 * rules[].caps            up to 8 of {"per": "day"|"week"|"month"|"ever", "awards": N} or
 *                         {"per": ..., "points": N} (per currency), per recipient.
 * rules[].recipient       "member" (default) or "event.<property>", the member an event names
 *                         (a referrer: both sides of a referral rewarded by two rules).
 * rules[].active          optional window {"from": t, "until": t}: Unix ms or
 *                         "YYYY-MM-DDTHH:MM:SSZ".
 * rules[].first_time      true: only on the member's first event of the type.
 * rules[].when            optional: {"days": ["sat", "sun"], "from": "18:00", "until": "22:00"},
 *                         local weekdays (mon..sun) and times of day (until before from:
 *                         across midnight) in the member's time zone: "double points on
 *                         weekends".
 * rules[].budget          optional: {"per": "day"|"week"|"month"|"ever", "awards": N} or
 *                         {"per": ..., "points": N} (per currency) across all members, in the
 *                         program's days: an award that would pass it is not made (the rule is
 *                         skipped with "budget"), also with many connections at once.
 * rules[].last            true: once it awards, the event's later rules do not run (they are
 *                         skipped with "after_last"). Rules run in the document's order.
 *
 * Tiers, badges, segments and leaderboards are described in loyal/tiers.h, loyal/badges.h,
 * loyal/segments.h and loyal/leaderboards.h.
 *
 * Unknown keys are errors, so that a typo is never silently ignored. A currency, once defined,
 * cannot be removed; changing its definition applies to what happens from then on and never
 * rewrites history (lots keep the expiry they were given). Applying a document equal to the
 * current one changes nothing and returns the current version.
 *
 * json is copied. *out_version (may be NULL) receives the version now current.
 * Errors: LOYAL_EINVAL (NULL db or json), LOYAL_EJSON (malformed JSON or a wrong field: the
 * message names the line/column or the field path, e.g. "currencies[1].expiry.after_days"),
 * LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_program_apply(loyal_db *db, const char *json, int64_t *out_version);

/* Returns the current program as JSON text in *out_json: {"version": N, "program": {...}} with
 * the document as applied (version 0 and an empty program before the first apply). The text is
 * the caller's, released with loyal_free(). Errors: LOYAL_EINVAL, LOYAL_ENOMEM, LOYAL_EIO,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_program_get(loyal_db *db, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_PROGRAM_H */
