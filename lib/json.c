/* json.c - handing JSON results to callers. */
#include "json.h"

#include <stdlib.h>

int json_emit(loyal_db *db, json_t *value, char **out)
{
	*out = NULL;
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(value);
	if (!text)
		return db_fail(db, LOYAL_ENOMEM, "out of memory writing JSON");
	*out = mem_strdup(text);
	free(text); /* jansson's allocation */
	return *out ? LOYAL_OK : db_fail(db, LOYAL_ENOMEM, "out of memory writing JSON");
}

json_t *json_time_or_null(int64_t value, int64_t none)
{
	return value == none ? json_null() : json_integer(value);
}
