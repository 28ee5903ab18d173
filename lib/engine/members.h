/* members.h - member records inside the engine. */
#ifndef LOYAL_MEMBERS_INTERNAL_H
#define LOYAL_MEMBERS_INTERNAL_H

#include "engine/handle.h"
#include "store/store.h"

/* Finds the member with the host's id `id` inside the open transaction; creates it (joined at
 * `at`) when missing and `create`, else LOYAL_ENOTFOUND names it. */
int ly_member_for(loyal_db *db, const char *id, int64_t at, bool create, member_row *out);

/* Attributes take at most this many bytes as JSON, in a change and in all. */
#define MAX_ATTRIBUTE_BYTES (64 * 1024)

/* Sets the member's status (MEMBER_ACTIVE, MEMBER_BLOCKED) in a write transaction of its own,
 * creating the member first when missing and `create`, else LOYAL_ENOTFOUND. */
int ly_member_set_status(loyal_db *db, const char *member, bool create, int status);
/* Merges checked attribute changes (a JSON object; null removes a key) into the member's, in a
 * write transaction of its own, creating the member when missing. LOYAL_EJSON when the result
 * would hold more than 256 attributes or MAX_ATTRIBUTE_BYTES. */
struct json_t;
int ly_member_merge_attrs(loyal_db *db, const char *member, struct json_t *changes);

/* A cursor over the members an operator's query keeps (checked here), a page at a time. */
int ly_members_search(loyal_db *db, const loyal_member_query *query, loyal_cursor **out);

#endif /* LOYAL_MEMBERS_INTERNAL_H */
