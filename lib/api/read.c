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

/* Parses the text of a report call that returned rc (freeing the text) into *out. */
static int report_json(loyal_db *db, int rc, char **text, json_t **out)
{
	*out = rc == LOYAL_OK ? json_loads(*text, 0, NULL) : NULL;
	loyal_free(*text);
	*text = NULL;
	if (rc == LOYAL_OK && !*out)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading a report");
	return rc;
}

int ly_api_period_figures(loyal_db *db, int64_t from, int64_t to, json_t **currencies,
			  json_t **sizes)
{
	char *text = NULL;
	json_t *flows = NULL, *liability = NULL, *flow;
	*currencies = *sizes = NULL;
	int rc = report_json(db, loyal_report_flows(db, from, to, &text), &text, &flows);
	if (rc == LOYAL_OK)
		rc = report_json(db, loyal_report_liability(db, &text), &text, &liability);
	if (rc == LOYAL_OK)
		rc = report_json(db, loyal_report_sizes(db, &text), &text, sizes);
	if (rc == LOYAL_OK && !(*currencies = json_array()))
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory writing a report");
	size_t i;
	json_array_foreach(rc == LOYAL_OK ? flows : NULL, i, flow) {
		json_t *currency = json_object_get(flow, "currency"), *outstanding = NULL, *item;
		size_t k;
		json_array_foreach(liability, k, item)
			if (json_equal(json_object_get(item, "currency"), currency))
				outstanding = json_object_get(item, "outstanding");
		rc = ly_json_append(
			&db->error, *currencies,
			json_pack("{s:O,s:O,s:O,s:O,s:O,s:o}", "currency", currency, "issued",
				  json_object_get(flow, "issued"), "redeemed",
				  json_object_get(flow, "redeemed"), "expired",
				  json_object_get(flow, "expired"), "breakage",
				  json_object_get(flow, "breakage"), "liability",
				  outstanding ? json_incref(outstanding) : json_integer(0)));
		if (rc != LOYAL_OK)
			break;
	}
	json_decref(flows);
	json_decref(liability);
	if (rc != LOYAL_OK) {
		json_decref(*currencies);
		json_decref(*sizes);
		*currencies = *sizes = NULL;
	}
	return rc;
}
