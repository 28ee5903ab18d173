/* outcome.c - a tracked event's outcome, stored as a compact record and read back as JSON
 * (outcome.h). Writing JSON was a quarter of what tracking an event cost; the record is written
 * without it, and the text is made only for a caller who asks for it. */
#include "engine/outcome.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/text.h"
#include "util/varint.h"
#include "util/vec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { FORMAT = 1 };

/* The rarer parts, in the order the caller's object lists them. */
static const char *const REST_KEYS[] = {"tier_changes", "badges", "coupons", "redemptions"};
enum { REST_COUNT = sizeof REST_KEYS / sizeof *REST_KEYS };

static json_t **rest_arrays(event_outcome *o, size_t i)
{
	json_t **arrays[REST_COUNT] = {&o->tier_changes, &o->badges, &o->coupons, &o->redemptions};
	return arrays[i];
}

int ly_outcome_init(ly_error *err, event_outcome *o)
{
	*o = (event_outcome){0};
	bool made = true;
	for (size_t i = 0; i < REST_COUNT; i++)
		made = (*rest_arrays(o, i) = json_array()) != NULL && made;
	return made ? LOYAL_OK : ly_fail(err, LOYAL_ENOMEM, "out of memory recording an event");
}

void ly_outcome_clear(event_outcome *o)
{
	for (size_t i = 0; i < o->skipped.count; i++) {
		ly_mem_free(o->skipped.items[i].reason);
		ly_mem_free(o->skipped.items[i].message);
	}
	ly_mem_free(o->skipped.items);
	ly_mem_free(o->postings.items);
	for (size_t i = 0; i < REST_COUNT; i++)
		json_decref(*rest_arrays(o, i));
	*o = (event_outcome){0};
}

int ly_outcome_post(ly_error *err, event_outcome *o, const outcome_posting *posting)
{
	outcome_posting *slot = VEC_PUSH(&o->postings);
	if (!slot)
		return ly_fail(err, LOYAL_ENOMEM, "out of memory recording an event's postings");
	*slot = *posting;
	return LOYAL_OK;
}

int ly_outcome_skip(ly_error *err, event_outcome *o, const char *rule, const char *reason,
		    const char *message)
{
	char *reason_copy = ly_mem_strdup(reason);
	char *message_copy = message ? ly_mem_strdup(message) : NULL;
	outcome_skip *slot = reason_copy && (!message || message_copy) ? VEC_PUSH(&o->skipped) : NULL;
	if (!slot) {
		ly_mem_free(reason_copy);
		ly_mem_free(message_copy);
		return ly_fail(err, LOYAL_ENOMEM, "out of memory recording a skipped rule");
	}
	*slot = (outcome_skip){.rule = rule, .reason = reason_copy, .message = message_copy};
	return LOYAL_OK;
}

/* ---- writing the record ---- */

static unsigned char *put_int(unsigned char *at, int64_t value, bool instant)
{
	return at + ly_varint_put(at, value, instant);
}

static unsigned char *put_text(unsigned char *at, const char *text)
{
	size_t length = text ? strlen(text) : 0;
	at = put_int(at, (int64_t)length, false);
	if (length)
		memcpy(at, text, length);
	return at + length;
}

/* What put_text may write. */
static size_t text_room(const char *text)
{
	return VARINT_MAX + (text ? strlen(text) : 0);
}

/* The text of the rarer parts that are not empty, or NULL when all are (jansson's: free). */
static int rest_text(ly_error *err, const event_outcome *o, char **out)
{
	*out = NULL;
	json_t *rest = NULL;
	for (size_t i = 0; i < REST_COUNT; i++) {
		json_t *array = *rest_arrays((event_outcome *)o, i);
		if (!json_array_size(array))
			continue;
		if ((!rest && !(rest = json_object())) || json_object_set(rest, REST_KEYS[i], array)) {
			json_decref(rest);
			return ly_fail(err, LOYAL_ENOMEM, "out of memory recording an event");
		}
	}
	if (!rest)
		return LOYAL_OK;
	*out = json_dumps(rest, JSON_COMPACT);
	json_decref(rest);
	return *out ? LOYAL_OK : ly_fail(err, LOYAL_ENOMEM, "out of memory recording an event");
}

int ly_outcome_encode(ly_error *err, const event_outcome *o, int64_t at, const char *member,
		      const char *type, unsigned char **out, size_t *size)
{
	*out = NULL;
	*size = 0;
	char *rest = NULL;
	int rc = rest_text(err, o, &rest);
	if (rc != LOYAL_OK)
		return rc;
	size_t room = 1 + 3 * VARINT_MAX + text_room(member) + text_room(type) + text_room(rest);
	for (size_t i = 0; i < o->postings.count; i++) {
		const outcome_posting *p = &o->postings.items[i];
		room += 4 * VARINT_MAX + text_room(p->rule) + text_room(p->member) +
			text_room(p->currency);
	}
	for (size_t i = 0; i < o->skipped.count; i++) {
		const outcome_skip *s = &o->skipped.items[i];
		room += text_room(s->rule) + text_room(s->reason) + text_room(s->message);
	}
	unsigned char *record = ly_mem_alloc(room);
	if (!record) {
		free(rest);
		return ly_fail(err, LOYAL_ENOMEM, "out of memory recording an event");
	}
	unsigned char *w = record;
	*w++ = FORMAT;
	w = put_int(w, at, false);
	w = put_text(w, member);
	w = put_text(w, type);
	w = put_int(w, (int64_t)o->postings.count, false);
	for (size_t i = 0; i < o->postings.count; i++) {
		const outcome_posting *p = &o->postings.items[i];
		w = put_text(w, p->rule);
		w = put_int(w, p->rule_version, false);
		w = put_text(w, strcmp(p->member, member) == 0 ? NULL : p->member);
		w = put_text(w, p->currency);
		w = put_int(w, p->amount, false);
		w = put_int(w, p->txn, false);
		w = put_int(w, p->pending_until, true); /* never: one byte */
	}
	w = put_int(w, (int64_t)o->skipped.count, false);
	for (size_t i = 0; i < o->skipped.count; i++) {
		const outcome_skip *s = &o->skipped.items[i];
		w = put_text(w, s->rule);
		w = put_text(w, s->reason);
		w = put_text(w, s->message);
	}
	w = put_text(w, rest);
	free(rest);
	*out = record;
	*size = (size_t)(w - record);
	return LOYAL_OK;
}

/* ---- reading it back ---- */

typedef struct reader {
	const unsigned char *at, *end;
	const char *damage; /* what is wrong, once something is */
} reader;

typedef struct span {
	const char *text;
	size_t length;
} span;

static int64_t get_int(reader *r, bool instant, const char *what)
{
	int64_t value = 0;
	if (!r->damage && !ly_varint_get(&r->at, r->end, instant, &value))
		r->damage = what;
	return value;
}

/* A count of records, each at least one byte of what is left. */
static size_t get_count(reader *r, const char *what)
{
	int64_t count = get_int(r, false, what);
	if (!r->damage && (count < 0 || count > r->end - r->at))
		r->damage = what;
	return r->damage ? 0 : (size_t)count;
}

/* A string: UTF-8 without NUL; `required` ones are not empty. */
static span get_text(reader *r, bool required, const char *what)
{
	int64_t length = get_int(r, false, what);
	if (r->damage)
		return (span){"", 0};
	if (length < 0 || length > r->end - r->at || (required && length == 0) ||
	    memchr(r->at, 0, (size_t)length) || !ly_text_is_utf8(r->at, (size_t)length)) {
		r->damage = what;
		return (span){"", 0};
	}
	span s = {(const char *)r->at, (size_t)length};
	r->at += length;
	return s;
}

/* The postings, as the caller's objects, appended to `postings`; false without memory. */
static bool read_postings(reader *r, span member, json_t *postings)
{
	size_t count = get_count(r, "its count of postings");
	for (size_t i = 0; i < count && !r->damage; i++) {
		span rule = get_text(r, true, "a posting's rule");
		int64_t version = get_int(r, false, "a posting's rule version");
		span to = get_text(r, false, "a posting's member");
		span currency = get_text(r, true, "a posting's currency");
		int64_t amount = get_int(r, false, "a posting's amount");
		int64_t txn = get_int(r, false, "a posting's transaction");
		int64_t pending = get_int(r, true, "a posting's pending time");
		if (r->damage)
			break;
		if (!to.length)
			to = member;
		json_t *posting = json_pack(
			"{s:s%,s:I,s:s%,s:s%,s:I,s:I,s:o}", "rule", rule.text, rule.length,
			"rule_version", (json_int_t)version, "member", to.text, to.length, "currency",
			currency.text, currency.length, "amount", (json_int_t)amount, "txn",
			(json_int_t)txn, "pending_until",
			pending == INT64_MAX ? json_null() : json_integer(pending));
		if (json_array_append_new(postings, posting))
			return false;
	}
	return true;
}

static bool read_skipped(reader *r, json_t *skipped)
{
	size_t count = get_count(r, "its count of skipped rules");
	for (size_t i = 0; i < count && !r->damage; i++) {
		span rule = get_text(r, true, "a skipped rule's name");
		span reason = get_text(r, true, "a skipped rule's reason");
		span message = get_text(r, false, "a skipped rule's message");
		if (r->damage)
			break;
		json_t *skip = message.length
				       ? json_pack("{s:s%,s:s%,s:s%}", "rule", rule.text, rule.length,
						   "reason", reason.text, reason.length, "message",
						   message.text, message.length)
				       : json_pack("{s:s%,s:s%}", "rule", rule.text, rule.length,
						   "reason", reason.text, reason.length);
		if (json_array_append_new(skipped, skip))
			return false;
	}
	return true;
}

/* The rarer parts' object (a new reference; an empty one when there are none). */
static int read_rest(ly_error *err, reader *r, int64_t event, json_t **out)
{
	*out = NULL;
	span text = get_text(r, false, "its tier changes, badges, coupons and redemptions");
	if (r->damage)
		return LOYAL_OK;
	if (!text.length)
		return (*out = json_object()) ? LOYAL_OK
					       : ly_fail(err, LOYAL_ENOMEM, "out of memory reading an event");
	int rc = ly_json_parse_stored_bytes(err, text.text, text.length, out,
					    "the outcome of event %lld", (long long)event);
	if (rc != LOYAL_OK)
		return rc;
	const char *key;
	json_t *value;
	json_object_foreach (*out, key, value) {
		bool known = false;
		for (size_t i = 0; i < REST_COUNT; i++)
			known = known || strcmp(key, REST_KEYS[i]) == 0;
		if (!known || !json_array_size(value)) /* only those not empty are kept */
			r->damage = "its tier changes, badges, coupons and redemptions";
	}
	if (!json_is_object(*out))
		r->damage = "its tier changes, badges, coupons and redemptions";
	return LOYAL_OK;
}

/* The record's JSON object: what track_locked built before the record existed, key for key. */
static int read_record(ly_error *err, const unsigned char *bytes, size_t size, int64_t event,
		       json_t **out)
{
	reader r = {bytes + 1, bytes + size, NULL};
	int64_t at = get_int(&r, false, "its time");
	span member = get_text(&r, true, "its member");
	span type = get_text(&r, true, "its type");
	json_t *postings = json_array(), *skipped = json_array(), *rest = NULL;
	bool memory = postings && skipped && read_postings(&r, member, postings) &&
		      read_skipped(&r, skipped);
	int rc = memory ? read_rest(err, &r, event, &rest)
			: ly_fail(err, LOYAL_ENOMEM, "out of memory reading event %lld",
				  (long long)event);
	if (rc == LOYAL_OK && !r.damage && r.at != r.end)
		r.damage = "bytes past its end";
	if (rc == LOYAL_OK && r.damage)
		rc = ly_fail(err, LOYAL_ECORRUPT, "the outcome of event %lld is damaged: %s",
			     (long long)event, r.damage);
	json_t *result = NULL;
	if (rc == LOYAL_OK) {
		json_t *tiers = json_object_get(rest, "tier_changes"), *badges = json_object_get(rest, "badges");
		result = json_pack("{s:s%,s:s%,s:I,s:O,s:O,s:o,s:o}", "member", member.text,
				   member.length, "type", type.text, type.length, "at",
				   (json_int_t)at, "postings", postings, "skipped", skipped,
				   "tier_changes", tiers ? json_incref(tiers) : json_array(),
				   "badges", badges ? json_incref(badges) : json_array());
		/* Coupons and redemptions are listed only when the event made some. */
		for (size_t i = 2; result && i < REST_COUNT; i++) {
			json_t *part = json_object_get(rest, REST_KEYS[i]);
			if (part && json_object_set(result, REST_KEYS[i], part)) {
				json_decref(result);
				result = NULL;
			}
		}
		if (!result)
			rc = ly_fail(err, LOYAL_ENOMEM, "out of memory reading event %lld",
				     (long long)event);
	}
	json_decref(postings);
	json_decref(skipped);
	json_decref(rest);
	*out = result;
	return rc;
}

int ly_outcome_text(ly_error *err, const void *stored, size_t size, int64_t event, char **text)
{
	*text = NULL;
	const unsigned char *bytes = stored;
	json_t *object = NULL;
	int rc;
	if (size && bytes[0] == FORMAT) {
		rc = read_record(err, bytes, size, event, &object);
	} else if (size && bytes[0] == '{') { /* JSON, as files stored it before the record */
		rc = ly_json_parse_stored_bytes(err, stored, size, &object,
						"the outcome of event %lld", (long long)event);
		if (rc == LOYAL_OK) { /* an object (it begins with '{'), handed back as stored */
			json_decref(object);
			char *copy = ly_mem_alloc(size + 1);
			if (!copy)
				return ly_fail(err, LOYAL_ENOMEM, "out of memory reading event %lld",
					       (long long)event);
			memcpy(copy, stored, size);
			copy[size] = '\0';
			*text = copy;
			return LOYAL_OK;
		}
	} else {
		rc = ly_fail(err, LOYAL_ECORRUPT, "the outcome of event %lld is damaged: %s",
			     (long long)event, size ? "an unknown format" : "it is empty");
	}
	if (rc == LOYAL_OK) {
		char *dumped = json_dumps(object, JSON_COMPACT);
		*text = dumped ? ly_mem_strdup(dumped) : NULL;
		free(dumped);
		if (!*text)
			rc = ly_fail(err, LOYAL_ENOMEM, "out of memory reading event %lld",
				     (long long)event);
	}
	json_decref(object);
	return rc;
}
