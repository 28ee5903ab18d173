/* outcome.h - a tracked event's outcome: gathered while its rules, tiers and badges run, stored
 * with the event as a compact record, and read back as the JSON object its caller gets, the
 * same text on every read.
 *
 * The record (format 1): the byte 0x01; the event's time; its member and type; each posting
 * (rule, rule version, recipient: empty for the event's member, currency, amount, transaction,
 * and until when it is pending, never for not at all); each rule skipped (rule, reason, message:
 * empty for none); and the rarer parts (tier changes, badges, coupons, redemptions) as the text
 * of one JSON object holding those that are not empty, or nothing. Integers are varint.h's,
 * strings a length and their bytes. Outcomes stored before the format are JSON text (they begin
 * with '{') and are read as they are. */
#ifndef LOYAL_OUTCOME_H
#define LOYAL_OUTCOME_H

#include "util/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A credit a rule made. The strings are borrowed: the program's, the event's or its
 * properties', alive for the call. */
typedef struct outcome_posting {
	const char *rule, *member, *currency;
	int64_t rule_version, amount, txn;
	int64_t pending_until; /* INT64_MAX: available at once (null to the caller) */
} outcome_posting;

/* A rule that did not apply, and why (both copies, the outcome's). */
typedef struct outcome_skip {
	const char *rule;
	char *reason, *message; /* message: NULL for none */
} outcome_skip;

typedef struct outcome {
	struct {
		outcome_posting *items;
		size_t count, capacity;
	} postings;
	struct {
		outcome_skip *items;
		size_t count, capacity;
	} skipped;
	/* Arrays the tiers, badges, coupons and rewards append to (ly_outcome_init makes them). */
	json_t *tier_changes, *badges, *coupons, *redemptions;
} event_outcome;

/* Makes an empty outcome; LOYAL_ENOMEM through err. ly_outcome_clear frees it, made or not. */
int ly_outcome_init(ly_error *err, event_outcome *o);
void ly_outcome_clear(event_outcome *o);

/* Adds a posting (its strings borrowed) or a skipped rule (reason and message, NULL for none,
 * copied); LOYAL_ENOMEM through err. */
int ly_outcome_post(ly_error *err, event_outcome *o, const outcome_posting *posting);
int ly_outcome_skip(ly_error *err, event_outcome *o, const char *rule, const char *reason,
		    const char *message);

/* The record of event `member`/`type` at `at` with this outcome, in *out (*size bytes, the
 * caller's: ly_mem_free). LOYAL_ENOMEM through err. */
int ly_outcome_encode(ly_error *err, const event_outcome *o, int64_t at, const char *member,
		      const char *type, unsigned char **out, size_t *size);

/* The JSON object text of a stored outcome (the record, or the JSON of an older file) of event
 * `event` (named in messages), in *text (the caller's: ly_mem_free). LOYAL_ECORRUPT when the
 * bytes are neither, LOYAL_ENOMEM. Reads the same bytes as the same text every time. */
int ly_outcome_text(ly_error *err, const void *stored, size_t size, int64_t event, char **text);

#endif /* LOYAL_OUTCOME_H */
