/* members.c - member records: finding or creating them, their status and attributes. */
#include "engine/members.h"
#include "engine/program.h"
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
