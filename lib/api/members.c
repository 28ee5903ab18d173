/* members.c - the public calls of members: reading one, setting attributes, blocking and
 * unblocking. */
#include "api/read.h"
#include "engine/history.h"
#include "engine/members.h"
#include "engine/program.h"
#include "util/json.h"

#include <string.h>

#define MAX_ATTRIBUTE_KEY 64

int loyal_member_get(loyal_db *db, const char *member, char **out_json)
{
	member_row row;
	int rc = ly_api_member_read_begin(db, member, out_json, &row);
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

int loyal_member_as_of(loyal_db *db, const char *member, int64_t at, char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	int64_t now = rc == LOYAL_OK ? ly_db_now(db) : 0;
	if (rc == LOYAL_OK && at > now) {
		char when[LY_ISO_TIME_SIZE], clock[LY_ISO_TIME_SIZE];
		ly_iso_time(at, when);
		ly_iso_time(now, clock);
		rc = ly_db_fail(db, LOYAL_EINVAL,
				"at (%s) is after the clock (%s): a member's history ends now; "
				"loyal_ledger_balance previews what falls due later",
				when, clock);
	}
	if (rc == LOYAL_OK)
		rc = ly_db_time(db, at, "at", &at);
	member_row row;
	if (rc == LOYAL_OK)
		rc = ly_api_member_read_begin(db, member, out_json, &row);
	if (rc != LOYAL_OK)
		return rc;
	json_t *result = NULL;
	rc = ly_member_as_of(db, &row, member, at, &result);
	ly_store_read_end(db->store);
	return rc == LOYAL_OK ? ly_json_emit(&db->error, result, out_json) : rc;
}

int loyal_member_block(loyal_db *db, const char *member)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_member_set_status(db, member, true, MEMBER_BLOCKED) : rc;
}

int loyal_member_unblock(loyal_db *db, const char *member)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_member_set_status(db, member, false, MEMBER_ACTIVE) : rc;
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
		rc = ly_member_merge_attrs(db, member, changes);
	json_decref(changes);
	return rc;
}

int loyal_member_query_init(loyal_member_query *query, unsigned int version)
{
	if (!query || version != LOYAL_MEMBER_QUERY_VERSION)
		return LOYAL_EINVAL;
	loyal_member_query defaults = LOYAL_MEMBER_QUERY_INIT;
	*query = defaults;
	return LOYAL_OK;
}

int loyal_member_list(loyal_db *db, const loyal_member_query *query, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!query || !out)
		return ly_db_fail(db, LOYAL_EINVAL, "%s is NULL", !query ? "query" : "out");
	*out = NULL;
	return ly_members_search(db, query, out);
}
