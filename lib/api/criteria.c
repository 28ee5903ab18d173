/* criteria.c - the public calls of the criteria language. */
#include "criteria/nodes.h"
#include "engine/program.h"
#include "util/json.h"

#include <string.h>

int loyal_criteria_check(loyal_db *db, const char *expression, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (out_json)
		*out_json = NULL;
	criteria *compiled = NULL;
	rc = ly_program_compile(db, expression, &compiled);
	if (rc != LOYAL_OK || !out_json) {
		ly_criteria_free(compiled);
		return rc;
	}
	static const char *const functions[] = {"count",   "sum",        "streak",     "earned",
						"balance", "days_since", "active_days"};
	json_t *measures = json_array();
	for (int i = 0; i < compiled->count && measures; i++) {
		const node *n = &compiled->nodes[i];
		if (n->kind != N_MEASURE)
			continue;
		json_t *item = json_pack("{s:s,s:s,s:I}", "function", functions[n->measure], "name",
					 n->name, "window_ms", (json_int_t)n->window);
		if (item && n->property && json_object_set_new(item, "property",
							       json_string(n->property))) {
			json_decref(item);
			item = NULL;
		}
		if (json_array_append_new(measures, item)) {
			json_decref(measures);
			measures = NULL;
			break;
		}
	}
	json_t *result = json_pack("{s:s,s:o?}", "type", ly_criteria_type_word(ly_criteria_result_type(compiled)),
				   "measures", measures);
	ly_criteria_free(compiled);
	return ly_json_emit(&db->error, result, out_json);
}
