/* json.h - helpers for the JSON the library returns. */
#ifndef LOYAL_JSON_H
#define LOYAL_JSON_H

#include "internal.h"

#include <jansson.h>

/* Dumps value (consuming the reference, which may be NULL after a failed build) into a
 * mem_alloc'd string for the caller; LOYAL_ENOMEM when either step fails. */
int json_emit(loyal_db *db, json_t *value, char **out);
/* A number, or null when it equals `none`. */
json_t *json_time_or_null(int64_t value, int64_t none);

#endif /* LOYAL_JSON_H */
