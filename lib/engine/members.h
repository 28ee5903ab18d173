/* members.h - member records inside the engine. */
#ifndef LOYAL_MEMBERS_INTERNAL_H
#define LOYAL_MEMBERS_INTERNAL_H

#include "engine/handle.h"
#include "store/store.h"

/* Finds the member with the host's id `id` inside the open transaction; creates it (joined at
 * `at`) when missing and `create`, else LOYAL_ENOTFOUND names it. */
int ly_member_for(loyal_db *db, const char *id, int64_t at, bool create, member_row *out);

#endif /* LOYAL_MEMBERS_INTERNAL_H */
