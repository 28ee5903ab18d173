/* fuzz_outcome.c - libFuzzer target: any bytes as an event's stored outcome (a record, or an
 * older file's JSON). Reading them must give a JSON object or refuse them as damage
 * (LOYAL_ECORRUPT), never crash; and a record that reads, rebuilt from what it read and written
 * again, reads as the same text: what the engine writes and what it reads agree. */
#include "engine/outcome.h"
#include "util/mem.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *text_of(json_t *object, const char *key)
{
	const char *text = json_string_value(json_object_get(object, key));
	if (!text)
		abort(); /* the reader gave an object without it */
	return text;
}

static int64_t int_of(json_t *object, const char *key, int64_t null)
{
	json_t *value = json_object_get(object, key);
	if (json_is_null(value))
		return null;
	if (!json_is_integer(value))
		abort();
	return json_integer_value(value);
}

/* The outcome the object shows, written again as a record. */
static void write_again(json_t *object, unsigned char **record, size_t *record_size)
{
	ly_error err = {0};
	event_outcome o;
	if (ly_outcome_init(&err, &o) != LOYAL_OK)
		abort();
	size_t i;
	json_t *item;
	json_array_foreach (json_object_get(object, "postings"), i, item) {
		outcome_posting p = {.rule = text_of(item, "rule"),
				     .member = text_of(item, "member"),
				     .currency = text_of(item, "currency"),
				     .rule_version = int_of(item, "rule_version", 0),
				     .amount = int_of(item, "amount", 0),
				     .txn = int_of(item, "txn", 0),
				     .pending_until = int_of(item, "pending_until", INT64_MAX)};
		if (ly_outcome_post(&err, &o, &p) != LOYAL_OK)
			abort();
	}
	json_array_foreach (json_object_get(object, "skipped"), i, item) {
		json_t *message = json_object_get(item, "message");
		if (ly_outcome_skip(&err, &o, text_of(item, "rule"), text_of(item, "reason"),
				    message ? json_string_value(message) : NULL) != LOYAL_OK)
			abort();
	}
	json_t **parts[] = {&o.tier_changes, &o.badges, &o.coupons, &o.redemptions};
	const char *names[] = {"tier_changes", "badges", "coupons", "redemptions"};
	for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) {
		json_t *part = json_object_get(object, names[k]);
		if (part) {
			json_decref(*parts[k]);
			*parts[k] = json_incref(part);
		}
	}
	if (ly_outcome_encode(&err, &o, int_of(object, "at", 0), text_of(object, "member"),
			      text_of(object, "type"), record, record_size) != LOYAL_OK)
		abort();
	ly_outcome_clear(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ly_error err = {0};
	char *text = NULL;
	int rc = ly_outcome_text(&err, data, size, 1, &text);
	if (rc != LOYAL_OK) {
		if (rc != LOYAL_ECORRUPT || text)
			abort();
		return 0;
	}
	json_t *object = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(object))
		abort();
	if (data[0] == 1) { /* a record */
		unsigned char *record = NULL;
		size_t record_size = 0;
		write_again(object, &record, &record_size);
		char *again = NULL;
		if (ly_outcome_text(&err, record, record_size, 1, &again) != LOYAL_OK ||
		    strcmp(again, text) != 0)
			abort();
		ly_mem_free(again);
		ly_mem_free(record);
	}
	json_decref(object);
	ly_mem_free(text);
	return 0;
}
