/* members.c - member records: reading them, their attributes, blocking and unblocking. */
#include "engine/members.h"
#include "engine/program.h"
#include "store/store.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ATTRIBUTES 256
#define MAX_ATTRIBUTE_KEY 64
#define MAX_ATTRIBUTE_BYTES (64 * 1024)

int ly_member_read_begin(loyal_db *db, const char *member, char **out_json, member_row *row)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	*out_json = NULL;
	rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_store_read_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	bool found = false;
	rc = ly_store_member_find(db->store, member, row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member);
	if (rc != LOYAL_OK)
		ly_store_read_end(db->store);
	return rc;
}

int loyal_member_get(loyal_db *db, const char *member, char **out_json)
{
	member_row row;
	int rc = ly_member_read_begin(db, member, out_json, &row);
	if (rc != LOYAL_OK)
		return rc;
	char *attrs = NULL;
	rc = ly_store_member_attrs_get(db->store, row.id, &attrs);
	ly_store_read_end(db->store);
	if (rc != LOYAL_OK)
		return rc;
	json_t *attributes = NULL;
	rc = ly_json_parse_stored(&db->error, attrs, &attributes, "the attributes of member '%s'", member);
	ly_mem_free(attrs);
	if (rc != LOYAL_OK)
		return rc;
	return ly_json_emit(&db->error,
			 json_pack("{s:s,s:s,s:I,s:I,s:o}", "id", member, "status",
				   row.status == MEMBER_BLOCKED ? "blocked" : "active", "joined_at",
				   (json_int_t)row.joined_at, "last_active_at",
				   (json_int_t)row.last_active_at, "attributes", attributes),
			 out_json);
}

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

int loyal_member_block(loyal_db *db, const char *member)
{
	int rc = ly_db_enter(db);
	int64_t status = MEMBER_BLOCKED;
	return rc == LOYAL_OK ? with_member(db, member, true, set_status, &status) : rc;
}

int loyal_member_unblock(loyal_db *db, const char *member)
{
	int rc = ly_db_enter(db);
	int64_t status = MEMBER_ACTIVE;
	return rc == LOYAL_OK ? with_member(db, member, false, set_status, &status) : rc;
}

/* Checks a change of attributes: an object of scalar values (or null) under short keys. */
static int check_attributes(loyal_db *db, json_t *changes)
{
	if (!json_is_object(changes))
		return ly_db_fail(db, LOYAL_EJSON, "attributes: must be a JSON object");
	const char *key;
	json_t *value;
	json_object_foreach (changes, key, value) {
		size_t length = strlen(key);
		if (length == 0 || length > MAX_ATTRIBUTE_KEY)
			return ly_db_fail(db, LOYAL_EJSON,
				       "attributes: key '%.64s' must be 1-%d bytes", key,
				       MAX_ATTRIBUTE_KEY);
		if (json_is_object(value) || json_is_array(value))
			return ly_db_fail(db, LOYAL_EJSON,
				       "attributes.%s: must be a string, a number, a boolean or null",
				       key);
	}
	return LOYAL_OK;
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

int loyal_member_set_attrs(loyal_db *db, const char *member, const char *attrs_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!attrs_json)
		return ly_db_fail(db, LOYAL_EINVAL, "attrs_json is NULL");
	size_t length = strnlen(attrs_json, MAX_ATTRIBUTE_BYTES + 1);
	if (length > MAX_ATTRIBUTE_BYTES)
		return ly_db_fail(db, LOYAL_EJSON, "attributes: at most %d bytes",
			       MAX_ATTRIBUTE_BYTES);
	json_t *changes = NULL;
	rc = ly_json_parse(&db->error, attrs_json, length, &changes, "attributes");
	if (rc != LOYAL_OK)
		return rc;
	rc = check_attributes(db, changes);
	if (rc == LOYAL_OK)
		rc = with_member(db, member, true, merge_attributes, changes);
	json_decref(changes);
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
