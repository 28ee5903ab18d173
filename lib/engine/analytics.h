/* analytics.h - the reports, built from the store's rows into the JSON loyal/analytics.h
 * describes. */
#ifndef LOYAL_ANALYTICS_INTERNAL_H
#define LOYAL_ANALYTICS_INTERNAL_H

#include "engine/handle.h"
#include "store/store.h"

struct json_t;

/* Each runs its report in the open read snapshot, with the program loaded (currencies named,
 * days in its time zone), into *out (a new reference; NULL on failure). Errors: the store's,
 * LOYAL_ENOMEM. Ranges are [from, to) in Unix milliseconds, already checked. */
int ly_analytics_liability(loyal_db *db, struct json_t **out);
int ly_analytics_flows(loyal_db *db, int64_t from, int64_t to, struct json_t **out);
int ly_analytics_active(loyal_db *db, enum store_period period, int64_t from, int64_t to,
			struct json_t **out);
int ly_analytics_retention(loyal_db *db, enum store_period period, int64_t from, int64_t to,
			   struct json_t **out);
int ly_analytics_sizes(loyal_db *db, struct json_t **out);
int ly_analytics_rewards(loyal_db *db, int64_t from, int64_t to, struct json_t **out);

#endif /* LOYAL_ANALYTICS_INTERNAL_H */
