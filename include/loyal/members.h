/* loyal/members.h - members: the host's ids, attributes, and blocking. */
#ifndef LOYAL_MEMBERS_H
#define LOYAL_MEMBERS_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Members are named by the host's own id: a UTF-8 string of 1 to 256 bytes, copied. A member is
 * created on first use: by a credit, an attribute change, or a block. */

/* Returns the member as JSON text in *out_json, the caller's (loyal_free):
 *   {"id": "alice", "status": "active", "joined_at": ms, "last_active_at": ms,
 *    "attributes": {...}}
 * Errors: LOYAL_EINVAL (NULL argument, bad id), LOYAL_ENOTFOUND (no such member), LOYAL_ENOMEM,
 * LOYAL_EIO, LOYAL_EMISUSE. */
LOYAL_API int loyal_member_get(loyal_db *db, const char *member, char **out_json);

/* Merges a JSON object of attributes into the member's: each key (1-64 bytes) maps to a string,
 * a number or a boolean, or to null to remove it. Creates the member if needed. Idempotent by
 * nature: the same call twice leaves the same attributes. Errors: LOYAL_EINVAL (NULL argument,
 * bad id), LOYAL_EJSON (not an object, a nested value, a bad key: the message names it),
 * LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_member_set_attrs(loyal_db *db, const char *member, const char *attrs_json);

/* Blocks a member (creating it if needed): a blocked member can neither earn nor spend; their
 * calls fail with LOYAL_EBLOCKED, while expiry and the release of overdue holds go on. Unblock
 * makes them active again. Both are idempotent by nature. Errors: LOYAL_EINVAL, LOYAL_ENOTFOUND
 * (unblock of an unknown member), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_ENOMEM,
 * LOYAL_EMISUSE. */
LOYAL_API int loyal_member_block(loyal_db *db, const char *member);
LOYAL_API int loyal_member_unblock(loyal_db *db, const char *member);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_MEMBERS_H */
