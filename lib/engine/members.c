/* members.c - member records: finding or creating them, their status and attributes, and an
 * operator's search. */
#include "engine/cursor.h"
#include "engine/members.h"
#include "engine/program.h"
#include "engine/segments.h"
#include "store/store.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ATTRIBUTES 256

/* Runs `change` on the member inside a write transaction, creating the member if asked. */
static int with_member(loyal_db *db, const char *member, bool create,
		       int (*change)(loyal_db *, member_row *, void *), void *ctx)
{
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_store_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	member_row row;
	bool found = false;
	rc = ly_store_member_find(db->store, member, &row, &found);
	if (rc == LOYAL_OK && !found)
		rc = create ? ly_store_member_insert(db->store, member, ly_db_now(db), &row)
			    : ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member);
	if (rc == LOYAL_OK)
		rc = change(db, &row, ctx);
	if (rc == LOYAL_OK)
		return ly_store_commit(db->store);
	ly_store_rollback(db->store);
	return rc;
}

static int set_status(loyal_db *db, member_row *row, void *status)
{
	row->status = *(int64_t *)status;
	return ly_store_member_update(db->store, row);
}

static int merge_attributes(loyal_db *db, member_row *row, void *changes)
{
	char *stored = NULL;
	int rc = ly_store_member_attrs_get(db->store, row->id, &stored);
	if (rc != LOYAL_OK)
		return rc;
	json_t *attributes = NULL;
	rc = ly_json_parse_stored(&db->error, stored, &attributes, "the attributes of member #%lld",
			      (long long)row->id);
	ly_mem_free(stored);
	if (rc != LOYAL_OK)
		return rc;
	const char *key;
	json_t *value;
	json_object_foreach ((json_t *)changes, key, value) {
		if (json_is_null(value))
			json_object_del(attributes, key);
		else if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, attributes, key, json_incref(value));
	}
	char *text = NULL;
	if (rc != LOYAL_OK)
		;
	else if (json_object_size(attributes) > MAX_ATTRIBUTES)
		rc = ly_db_fail(db, LOYAL_EJSON, "attributes: a member may have at most %d",
			     MAX_ATTRIBUTES);
	else
		rc = ly_json_emit(&db->error, json_incref(attributes), &text);
	if (rc == LOYAL_OK && strlen(text) > MAX_ATTRIBUTE_BYTES)
		rc = ly_db_fail(db, LOYAL_EJSON, "attributes: at most %d bytes in all",
			     MAX_ATTRIBUTE_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_store_member_attrs_put(db->store, row->id, text,
					    json_string_value(json_object_get(attributes, "timezone")));
	ly_mem_free(text);
	json_decref(attributes);
	return rc;
}


int ly_member_for(loyal_db *db, const char *id, int64_t at, bool create, member_row *out)
{
	bool found = false;
	int rc = ly_store_member_find(db->store, id, out, &found);
	if (rc == LOYAL_OK && !found)
		rc = create ? ly_store_member_insert(db->store, id, at, out)
			    : ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", id);
	return rc;
}

int ly_member_set_status(loyal_db *db, const char *member, bool create, int status)
{
	int64_t value = status;
	return with_member(db, member, create, set_status, &value);
}

int ly_member_merge_attrs(loyal_db *db, const char *member, json_t *changes)
{
	return with_member(db, member, true, merge_attributes, changes);
}

/* ---- searching ---- */

typedef struct search_cursor {
	loyal_cursor base;
	member_filter filter;
	char attribute[72], text[TEXT_MAX_BYTES + 1], json[TEXT_MAX_BYTES + 8];
	char tier[72], segment[72];
	int64_t after;      /* the last member id looked at */
	member_page page;   /* the members after the ones returned, from page.next on */
	size_t next;
	bool end;           /* the last page read was the last */
} search_cursor;

static int search_step(loyal_cursor *base, char **row)
{
	search_cursor *cursor = (search_cursor *)base;
	loyal_db *db = base->db;
	*row = NULL;
	int rc = LOYAL_OK;
	if (cursor->next == cursor->page.count) {
		if (cursor->end)
			return LOYAL_OK;
		rc = ly_store_read_begin(db->store);
		if (rc == LOYAL_OK)
			rc = ly_store_member_search(db->store, &cursor->filter, cursor->after,
						    &cursor->page);
		ly_store_read_end(db->store);
		cursor->next = 0;
		cursor->end = rc != LOYAL_OK || cursor->page.count < MEMBER_PAGE_SIZE;
		if (rc != LOYAL_OK || cursor->page.count == 0) {
			cursor->page.count = 0;
			return rc;
		}
	}
	const member_row *member = &cursor->page.items[cursor->next].row;
	const char *external = cursor->page.items[cursor->next].external;
	cursor->next++;
	cursor->after = member->id;
	return ly_json_emit(&db->error,
			    json_pack("{s:s,s:s,s:I,s:I,s:s?}", "id", external, "status",
				      member->status == MEMBER_BLOCKED ? "blocked" : "active",
				      "joined_at", (json_int_t)member->joined_at, "last_active_at",
				      (json_int_t)member->last_active_at, "tier",
				      member->tier[0] ? member->tier : NULL),
			    row);
}

/* Reads query.value (a JSON scalar) into the filter's fields. */
static int filter_value(loyal_db *db, search_cursor *cursor, const char *value)
{
	member_filter *f = &cursor->filter;
	json_t *parsed = json_loads(value, JSON_DECODE_ANY, NULL);
	int rc = LOYAL_OK;
	if (json_is_string(parsed) && json_string_length(parsed) > TEXT_MAX_BYTES) {
		rc = ly_db_fail(db, LOYAL_EINVAL, "query.value is longer than %d bytes",
				TEXT_MAX_BYTES);
	} else if (json_is_string(parsed)) {
		f->value_type = ATTRIBUTE_TEXT;
		snprintf(cursor->text, sizeof cursor->text, "%s", json_string_value(parsed));
		f->value_text = cursor->text;
	} else if (json_is_number(parsed)) {
		f->value_type = ATTRIBUTE_NUMBER;
		f->value_number = json_number_value(parsed);
	} else if (json_is_boolean(parsed)) {
		f->value_type = json_is_true(parsed) ? ATTRIBUTE_TRUE : ATTRIBUTE_FALSE;
	} else {
		rc = ly_db_fail(db, LOYAL_EINVAL,
				"query.value must be a JSON string, number or boolean, not '%.64s'",
				value);
	}
	char *normal = rc == LOYAL_OK ? json_dumps(parsed, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	if (rc == LOYAL_OK && (!normal || strlen(normal) >= sizeof cursor->json))
		rc = ly_db_fail(db, normal ? LOYAL_EINVAL : LOYAL_ENOMEM, "query.value is %s",
				normal ? "too long" : "out of memory");
	if (rc == LOYAL_OK) {
		memcpy(cursor->json, normal, strlen(normal) + 1);
		f->value_json = cursor->json;
	}
	free(normal); /* jansson's allocation */
	json_decref(parsed);
	return rc;
}

/* Checks the query and fills the cursor's filter and starting point. */
static int prepare_search(loyal_db *db, const loyal_member_query *q, search_cursor *cursor)
{
	member_filter *f = &cursor->filter;
	if (q->version != LOYAL_MEMBER_QUERY_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "query.version is %u; this library knows %d",
				  q->version, LOYAL_MEMBER_QUERY_VERSION);
	if (!q->attribute != !q->value)
		return ly_db_fail(db, LOYAL_EINVAL, "query.%s is set without query.%s",
				  q->attribute ? "attribute" : "value", q->attribute ? "value" : "attribute");
	int rc = ly_text_check(&db->error, q->attribute, "query.attribute", false, 64);
	if (rc == LOYAL_OK && q->value)
		rc = filter_value(db, cursor, q->value);
	if (rc != LOYAL_OK)
		return rc;
	if (q->attribute) {
		snprintf(cursor->attribute, sizeof cursor->attribute, "%s", q->attribute);
		f->attribute = cursor->attribute;
	}
	f->status = -1;
	if (q->status && strcmp(q->status, "active") == 0)
		f->status = MEMBER_ACTIVE;
	else if (q->status && strcmp(q->status, "blocked") == 0)
		f->status = MEMBER_BLOCKED;
	else if (q->status)
		return ly_db_fail(db, LOYAL_EINVAL,
				  "query.status is '%.64s'; it is \"active\", \"blocked\" or NULL",
				  q->status);
	if (q->active_from < 0 || q->active_before < 0 ||
	    (q->active_before && q->active_before <= q->active_from))
		return ly_db_fail(db, LOYAL_EINVAL,
				  "query.active_from and query.active_before: %s",
				  q->active_from < 0 || q->active_before < 0
					  ? "negative"
					  : "active_before must be after active_from");
	f->active_from = q->active_from ? q->active_from : INT64_MIN;
	f->active_before = q->active_before ? q->active_before : INT64_MAX;
	rc = ly_program_refresh(db);
	if (rc == LOYAL_OK && q->tier) {
		if (ly_program_tier_index(db->program, q->tier) < 0)
			return ly_db_fail(db, LOYAL_ENOTFOUND, "no tier named '%.64s'", q->tier);
		snprintf(cursor->tier, sizeof cursor->tier, "%s", q->tier);
		f->tier = cursor->tier;
	}
	size_t index = 0;
	if (rc == LOYAL_OK && q->segment)
		rc = ly_segments_find(db, q->segment, &index);
	if (rc == LOYAL_OK && q->segment) {
		snprintf(cursor->segment, sizeof cursor->segment, "%s", q->segment);
		f->segment = cursor->segment;
	}
	if (rc == LOYAL_OK && q->after) {
		member_row row;
		bool found = false;
		rc = ly_text_check(&db->error, q->after, "query.after", true, TEXT_MAX_BYTES);
		if (rc == LOYAL_OK)
			rc = ly_store_member_find(db->store, q->after, &row, &found);
		if (rc == LOYAL_OK && !found)
			rc = ly_db_fail(db, LOYAL_ENOTFOUND, "query.after: no member '%s'", q->after);
		if (rc == LOYAL_OK)
			cursor->after = row.id;
	}
	return rc;
}

int ly_members_search(loyal_db *db, const loyal_member_query *query, loyal_cursor **out)
{
	search_cursor *cursor = (search_cursor *)ly_cursor_new(db, sizeof *cursor, search_step);
	if (!cursor)
		return db->error.code;
	int rc = prepare_search(db, query, cursor);
	if (rc != LOYAL_OK) {
		loyal_cursor_free(&cursor->base);
		return rc;
	}
	*out = &cursor->base;
	return LOYAL_OK;
}
