/* read.c - what the public calls that hand back JSON share: entering the handle, reading one
 * member in a snapshot, JSON out. */
#include "api/read.h"
#include "util/json.h"

int ly_api_enter_json(loyal_db *db, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	*out_json = NULL;
	return LOYAL_OK;
}

int ly_api_member_read_begin(loyal_db *db, const char *member, char **out_json,
			     member_row *row)
{
	int rc = ly_api_enter_json(db, out_json);
	if (rc == LOYAL_OK)
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

int ly_api_read_member(loyal_db *db, const char *member, const char *name, char **out_json,
		       ly_member_reader read)
{
	member_row row;
	int rc = ly_api_member_read_begin(db, member, out_json, &row);
	if (rc != LOYAL_OK)
		return rc;
	json_t *result = NULL;
	rc = read(db, &row, member, name, &result);
	ly_store_read_end(db->store);
	return rc == LOYAL_OK ? ly_json_emit(&db->error, result, out_json) : rc;
}
