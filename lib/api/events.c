/* events.c - the public calls of events: checking an event or a reversal (its fields, its
 * properties) and tracking or reversing it; evaluating an expression for a member. */
#include "api/read.h"
#include "engine/activity.h"
#include "engine/events.h"
#include "engine/members.h"
#include "util/json.h"

#include <string.h>

#define DAY_MS INT64_C(86400000)
#define MAX_PROPERTIES_BYTES (64 * 1024)
#define MAX_PROPERTIES 64
#define MAX_PROPERTY_DEPTH 16

static int json_depth(json_t *value)
{
	int deepest = 0;
	if (json_is_object(value)) {
		const char *key;
		json_t *item;
		json_object_foreach (value, key, item) {
			int depth = json_depth(item);
			deepest = depth > deepest ? depth : deepest;
		}
		return deepest + 1;
	}
	if (json_is_array(value)) {
		size_t index;
		json_t *item;
		json_array_foreach (value, index, item) {
			int depth = json_depth(item);
			deepest = depth > deepest ? depth : deepest;
		}
		return deepest + 1;
	}
	return 0;
}

/* Parses an event's properties: a JSON object within the limits. */
static int parse_properties(loyal_db *db, const char *text, const char *field, json_t **out)
{
	*out = NULL;
	if (!text) {
		*out = json_object();
		return *out ? LOYAL_OK : ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading %s", field);
	}
	size_t length = strnlen(text, MAX_PROPERTIES_BYTES + 1);
	if (length > MAX_PROPERTIES_BYTES)
		return ly_db_fail(db, LOYAL_EJSON, "%s: larger than %d bytes", field,
			       MAX_PROPERTIES_BYTES);
	json_t *value = NULL;
	int rc = ly_json_parse(&db->error, text, length, &value, "%s", field);
	if (rc != LOYAL_OK)
		return rc;
	if (!json_is_object(value))
		rc = ly_db_fail(db, LOYAL_EJSON, "%s: must be a JSON object", field);
	else if (json_object_size(value) > MAX_PROPERTIES)
		rc = ly_db_fail(db, LOYAL_EJSON, "%s: more than %d keys", field, MAX_PROPERTIES);
	else if (json_depth(value) > MAX_PROPERTY_DEPTH)
		rc = ly_db_fail(db, LOYAL_EJSON, "%s: nested more than %d deep", field,
			     MAX_PROPERTY_DEPTH);
	if (rc != LOYAL_OK) {
		json_decref(value);
		return rc;
	}
	*out = value;
	return LOYAL_OK;
}

static int check_event(loyal_db *db, const loyal_event *event, int64_t *at)
{
	if (!event)
		return ly_db_fail(db, LOYAL_EINVAL, "event is NULL");
	if (event->version < 1 || event->version > LOYAL_EVENT_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "event.version is %u; this library knows 1-%d",
			       event->version, LOYAL_EVENT_VERSION);
	if (ly_event_flags(event) & ~LOYAL_DRY_RUN)
		return ly_db_fail(db, LOYAL_EINVAL, "event.flags has unknown bits (0x%x)",
				  ly_event_flags(event));
	int rc = ly_text_check(&db->error, event->member, "event.member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, event->idempotency_key, "event.idempotency_key", true,
				TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, event->type, "event.type", true, 64);
	if (rc == LOYAL_OK && !ly_text_is_name(event->type, 64, true))
		rc = ly_db_fail(db, LOYAL_EINVAL,
			     "event.type '%s' must be 1-64 characters of a-z, 0-9, _, - and .",
			     event->type);
	return rc == LOYAL_OK ? ly_db_time(db, event->at, "event.at", at) : rc;
}

int loyal_track(loyal_db *db, const loyal_event *event, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (out_json)
		*out_json = NULL;
	int64_t at = 0;
	json_t *properties = NULL;
	rc = check_event(db, event, &at);
	if (rc == LOYAL_OK)
		rc = parse_properties(db, event->properties, "event.properties", &properties);
	if (rc == LOYAL_OK)
		rc = ly_events_track(db, event, at, properties, out_json);
	json_decref(properties);
	return rc;
}

/* ---- reversing an event ---- */

static int check_reversal(loyal_db *db, const loyal_event_reversal *r, int64_t *at)
{
	if (!r)
		return ly_db_fail(db, LOYAL_EINVAL, "reversal is NULL");
	if (r->version != LOYAL_EVENT_REVERSAL_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "reversal.version is %u; this library knows %d",
			       r->version, LOYAL_EVENT_REVERSAL_VERSION);
	int rc = ly_text_check(&db->error, r->member, "reversal.member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, r->event_key, "reversal.event_key", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, r->idempotency_key, "reversal.idempotency_key", true,
				TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, r->reason, "reversal.reason", false, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK && !(r->part == 0 && r->whole == 0) &&
	    !(r->part > 0 && r->whole > 0 && r->part <= r->whole))
		rc = ly_db_fail(db, LOYAL_EINVAL,
			     "reversal.part/whole is %lld/%lld; it must be 0/0 (all) or a share "
			     "0 < part <= whole",
			     (long long)r->part, (long long)r->whole);
	return rc == LOYAL_OK ? ly_db_time(db, r->at, "reversal.at", at) : rc;
}

int loyal_event_reverse(loyal_db *db, const loyal_event_reversal *reversal, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (out_json)
		*out_json = NULL;
	int64_t at = 0;
	rc = check_reversal(db, reversal, &at);
	return rc == LOYAL_OK ? ly_events_reverse(db, reversal, at, out_json) : rc;
}

/* ---- evaluating criteria for a member ---- */

static json_t *value_json(const criteria_value *value)
{
	switch (value->kind) {
	case CV_BOOL: return json_boolean(value->as.boolean);
	case CV_INT:
	case CV_DURATION: return json_integer(value->as.integer);
	case CV_DECIMAL: return json_real(value->as.decimal);
	case CV_STRING: return json_string(value->as.string);
	default: return json_null();
	}
}

int loyal_criteria_eval(loyal_db *db, const char *expression, const char *member,
			const char *event_json, char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	json_t *event = NULL;
	if (rc == LOYAL_OK && event_json)
		rc = parse_properties(db, event_json, "event_json", &event);
	criteria *compiled = NULL;
	if (rc == LOYAL_OK)
		rc = ly_program_compile(db, expression, &compiled);
	if (rc == LOYAL_OK)
		rc = ly_store_read_begin(db->store);
	if (rc != LOYAL_OK) {
		ly_criteria_free(compiled);
		json_decref(event);
		return rc;
	}
	member_row row;
	member_view view = {0};
	criteria_value value = {.kind = CV_NULL};
	rc = ly_member_for(db, member, 0, false, &row);
	if (rc == LOYAL_OK) {
		ly_member_view_open(db, &row, member, event, ly_db_now(db), &view);
		criteria_context context = ly_member_view_context(&view);
		rc = ly_criteria_eval(&db->error, compiled, &context, &value);
	}
	json_t *result = rc == LOYAL_OK ? json_pack("{s:o,s:s}", "value", value_json(&value), "type",
						    ly_criteria_type_word(ly_criteria_result_type(compiled)))
					: NULL;
	ly_member_view_close(&view);
	ly_store_read_end(db->store);
	ly_criteria_free(compiled);
	json_decref(event);
	return rc == LOYAL_OK ? ly_json_emit(&db->error, result, out_json) : rc;
}
