/* read.c - the public calls that read one member: a snapshot, the member, JSON out. */
#include "api/read.h"
#include "util/json.h"

int ly_api_read_member(loyal_db *db, const char *member, const char *name, char **out_json,
		       ly_member_reader read)
{
	member_row row;
	int rc = ly_member_read_begin(db, member, out_json, &row);
	if (rc != LOYAL_OK)
		return rc;
	json_t *result = NULL;
	rc = read(db, &row, member, name, &result);
	ly_store_read_end(db->store);
	return rc == LOYAL_OK ? ly_json_emit(&db->error, result, out_json) : rc;
}
