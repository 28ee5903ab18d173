/* loyal/criteria.h - the criteria expression language: checking an expression. */
#ifndef LOYAL_CRITERIA_H
#define LOYAL_CRITERIA_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One small, safe language serves every condition and amount of a program. An expression has:
 *
 *   values     42, 12.5, "text" or 'text', true, false, durations 45s 15m 12h 30d 2w
 *   operators  or, and, not, == != < <= > >=, + - * / %, x in [a, b], x not in [a, b]
 *              (precedence from lowest: or, and, not, comparison/in, + -, * / %, unary -)
 *   names      event.<property>, member.<attribute>, member.age (a duration), tier,
 *              tier.multiplier, and the local time in the member's time zone of the moment
 *              evaluated (an event's time; a sweep's or a read's): local.hour (0-23),
 *              local.minute, local.weekday ("mon".."sun"), local.day (1-31), local.month
 *   functions  count(type[, window]), sum(type.property[, window]), streak(type, day|week),
 *              active_days(type[, window]) (days with at least one such event),
 *              earned(...) counts points credited in the window, pending ones included and
 *              reversals taken off,
 *              earned(currency[, window]), balance(currency), days_since(last_seen|joined|type),
 *              bucket("salt") (0-99, stable per member and salt), floor(x), round(x),
 *              min(a, b, ...), max(a, b, ...)
 *
 * Windows count whole days in the member's time zone, today included: count(post, 7d) is today
 * and the six days before; a window is at most 36500d (100 years). Whole numbers are 64-bit and overflow is an error, never a wrap; `/` gives a decimal. A value
 * of the wrong kind at run time (an event property that is a string where a number is
 * expected) counts as missing: comparisons with it are false. Limits: 4096 bytes, 512 parts,
 * nesting 32 deep; an expression has no loops, so it always finishes.
 */

/* Compiles `expression` (UTF-8, copied) without defining anything: for editors and admin UIs.
 * On success *out_json (may be NULL) receives, the caller's (loyal_free):
 *   {"type": "boolean", "measures": [{"function": "count", "name": "post", "window_ms": n}]}
 * with the static type ("boolean", "whole number", "decimal number", "number", "string",
 * "duration" or "any value") and what it reads from a member's history. Currencies named by
 * earned() and balance() must exist in the program, and where the program declares its event
 * types ("events", loyal/program.h) the types that count(), sum(), streak(), active_days() and
 * days_since() name must be among them.
 * Errors: LOYAL_EINVAL (NULL db or expression), LOYAL_ESYNTAX (a syntax or type error: the
 * message says "line L, column C: expected ..., found ..."), LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_criteria_check(loyal_db *db, const char *expression, char **out_json);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_CRITERIA_H */
