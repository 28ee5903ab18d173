/* json.c - handing JSON results to callers. */
#include "util/json.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ly_json_emit(ly_error *err, json_t *value, char **out)
{
	*out = NULL;
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(value);
	if (!text)
		return ly_fail(err, LOYAL_ENOMEM, "out of memory writing JSON");
	*out = ly_mem_strdup(text);
	free(text); /* jansson's allocation */
	return *out ? LOYAL_OK : ly_fail(err, LOYAL_ENOMEM, "out of memory writing JSON");
}

__attribute__((format(printf, 6, 0))) static int parse(ly_error *err, const char *text,
							size_t length, int syntax_code,
							json_t **out, const char *what,
							va_list args)
{
	json_error_t error;
	*out = json_loadb(text, length, JSON_REJECT_DUPLICATES, &error);
	/* jansson reports a failed allocation inside a string as a syntax error, so a failure is
	 * parsed again: text fails twice only when it is malformed or memory is short, and only
	 * in the first case can a copy of it still be made. */
	if (!*out)
		*out = json_loadb(text, length, JSON_REJECT_DUPLICATES, &error);
	if (*out)
		return LOYAL_OK;
	json_t *copy = json_stringn_nocheck(text, length);
	bool out_of_memory = !copy;
	json_decref(copy);
	char name[200];
	vsnprintf(name, sizeof name, what, args);
	return out_of_memory ? ly_fail(err, LOYAL_ENOMEM, "out of memory reading %s", name)
			     : ly_fail(err, syntax_code, "%s: line %d, column %d: %s", name,
				       error.line, error.column, error.text);
}

int ly_json_parse(ly_error *err, const char *text, size_t length, json_t **out, const char *what, ...)
{
	va_list args;
	va_start(args, what);
	int rc = parse(err, text, length, LOYAL_EJSON, out, what, args);
	va_end(args);
	return rc;
}

int ly_json_parse_stored(ly_error *err, const char *text, json_t **out, const char *what, ...)
{
	va_list args;
	va_start(args, what);
	int rc = parse(err, text, strlen(text), LOYAL_ECORRUPT, out, what, args);
	va_end(args);
	return rc;
}

int ly_json_parse_stored_bytes(ly_error *err, const char *text, size_t length, json_t **out,
			       const char *what, ...)
{
	va_list args;
	va_start(args, what);
	int rc = parse(err, text, length, LOYAL_ECORRUPT, out, what, args);
	va_end(args);
	return rc;
}

int ly_json_append(ly_error *err, json_t *array, json_t *value)
{
	return json_array_append_new(array, value) == 0
		       ? LOYAL_OK
		       : ly_fail(err, LOYAL_ENOMEM, "out of memory building a JSON list");
}

int ly_json_put(ly_error *err, json_t *object, const char *key, json_t *value)
{
	return json_object_set_new(object, key, value) == 0
		       ? LOYAL_OK
		       : ly_fail(err, LOYAL_ENOMEM, "out of memory building a JSON object");
}

json_t *ly_json_time_or_null(int64_t value, int64_t none)
{
	return value == none ? json_null() : json_integer(value);
}

int ly_json_hand_over(int rc, json_t *value, json_t **out)
{
	if (rc != LOYAL_OK) {
		json_decref(value);
		value = NULL;
	}
	*out = value;
	return rc;
}
