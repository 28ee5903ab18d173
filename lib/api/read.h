/* read.h - what the public calls that read one member share. */
#ifndef LOYAL_API_READ_H
#define LOYAL_API_READ_H

#include "engine/members.h"

#include <jansson.h>

/* Reads one member's data through `read` (given the member's row, the id and `name`, the
 * thing asked about) in one snapshot, and hands back its JSON value as text in *out_json. */
typedef int (*ly_member_reader)(loyal_db *db, member_row *row, const char *member,
				const char *name, json_t **out);
int ly_api_read_member(loyal_db *db, const char *member, const char *name, char **out_json,
		       ly_member_reader read);

#endif /* LOYAL_API_READ_H */
