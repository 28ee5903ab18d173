/* json.h - helpers for the JSON the library returns. */
#ifndef LOYAL_JSON_H
#define LOYAL_JSON_H

#include "util/error.h"

#include <jansson.h>
#include <stdint.h>

/* Dumps value (consuming the reference, which may be NULL after a failed build) into a
 * ly_mem_alloc'd string for the caller; LOYAL_ENOMEM when either step fails. */
int ly_json_emit(ly_error *err, json_t *value, char **out);
/* Parses `length` bytes of a caller's JSON text into *out (a new reference), refusing
 * duplicate keys. Errors: LOYAL_ENOMEM when memory runs short, LOYAL_EJSON with "<what>: line L,
 * column C: <what is wrong>", `what` formatted as by printf. */
int ly_json_parse(ly_error *err, const char *text, size_t length, json_t **out, const char *what, ...)
	__attribute__((format(printf, 5, 6)));
/* The same for JSON text the library stored itself: LOYAL_ECORRUPT when it is not JSON. */
int ly_json_parse_stored(ly_error *err, const char *text, json_t **out, const char *what, ...)
	__attribute__((format(printf, 4, 5)));
/* The same for `length` bytes of stored text, not NUL-terminated. */
int ly_json_parse_stored_bytes(ly_error *err, const char *text, size_t length, json_t **out,
			       const char *what, ...) __attribute__((format(printf, 5, 6)));
/* Appends value to array, or sets object[key] to value, consuming value (which may be NULL after
 * a failed build). jansson's own calls fail quietly; these return LOYAL_ENOMEM through err when
 * anything failed, so that no result and nothing stored ever lacks an item. */
int ly_json_append(ly_error *err, json_t *array, json_t *value);
int ly_json_put(ly_error *err, json_t *object, const char *key, json_t *value);
/* Hands a value built under rc to the caller: *out = value when rc is LOYAL_OK, else releases
 * value and sets *out to NULL; returns rc. */
int ly_json_hand_over(int rc, json_t *value, json_t **out);
/* A number, or null when it equals `none`. */
json_t *ly_json_time_or_null(int64_t value, int64_t none);

#endif /* LOYAL_JSON_H */
