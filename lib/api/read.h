/* read.h - what the public calls that hand back JSON share, those that read one member most. */
#ifndef LOYAL_API_READ_H
#define LOYAL_API_READ_H

#include "engine/members.h"

#include <jansson.h>

/* Enters the handle for a call that hands back JSON text: LOYAL_EINVAL for a NULL out_json,
 * else *out_json cleared. */
int ly_api_enter_json(loyal_db *db, char **out_json);
/* ly_api_enter_json, then the member id checked, a read snapshot opened and the member found
 * (LOYAL_ENOTFOUND names it). On success the caller ends the snapshot with ly_store_read_end. */
int ly_api_member_read_begin(loyal_db *db, const char *member, char **out_json,
			     member_row *row);
/* Reads one member's data through `read` (given the member's row, the id and `name`, the
 * thing asked about) in one snapshot, and hands back its JSON value as text in *out_json. */
typedef int (*ly_member_reader)(loyal_db *db, member_row *row, const char *member,
				const char *name, json_t **out);
int ly_api_read_member(loyal_db *db, const char *member, const char *name, char **out_json,
		       ly_member_reader read);

/* What a forecast or a replay reports of a period, from the analytics calls on db: per
 * currency (*currencies) its "issued", "redeemed", "expired" and "breakage" over [from, to)
 * and its "liability" outstanding now; and the sizes of tiers and segments now (*sizes, as
 * loyal_report_sizes). Both are the caller's (json_decref); on an error, db's error says it. */
int ly_api_period_figures(loyal_db *db, int64_t from, int64_t to, json_t **currencies,
			  json_t **sizes);

#endif /* LOYAL_API_READ_H */
