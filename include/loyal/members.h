/* loyal/members.h - members: the host's ids, attributes, blocking, and searching them. */
#ifndef LOYAL_MEMBERS_H
#define LOYAL_MEMBERS_H

#include "cursor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Members are named by the host's own id: a UTF-8 string of 1 to 256 bytes, copied. A member is
 * created on first use: by a credit, an attribute change, or a block.
 *
 * Thread-safety: as for every call on a handle (see loyal_db). */

/* Returns the member as JSON text in *out_json, the caller's (loyal_free):
 *   {"id": "alice", "status": "active", "joined_at": ms, "last_active_at": ms,
 *    "attributes": {...}}
 * Errors: LOYAL_EINVAL (NULL argument, bad id), LOYAL_ENOTFOUND (no such member), LOYAL_ENOMEM,
 * LOYAL_EIO, LOYAL_EMISUSE. */
LOYAL_API int loyal_member_get(loyal_db *db, const char *member, char **out_json);

/* Returns the member as they stood at the past instant `at` (Unix ms; 0: now), as JSON text in
 * *out_json, the caller's (loyal_free):
 *   {"member": "alice", "at": ms,
 *    "balances": [{"currency": "points", "available", "pending", "held", "earned", "spent",
 *                  "expired", "lots": [{"lot", "txn", "amount", "remaining", "earned_at",
 *                                       "expires_at" (null: never), "pending_until" (null:
 *                                       active)}]}],
 *    "tier": {"tier": "silver", "since": ms} or null,
 *    "badges": [...]}
 * It is rebuilt from history, not previewed from today: a balance adds up every transaction of
 * the member dated at or before `at` (back-dated ones by their own date), then settles in memory
 * what had fallen due by `at` as loyal_ledger_balance does (pending points activated, lots
 * expired, overdue holds released); "lots" are those with points left then, soonest-expiring
 * first; a currency appears once the member has a transaction in it. The tier is where the
 * last change of the tier history dated by then (in the order the changes were made) put the
 * member; "badges" lists, as loyal_badge_list does, the
 * awards made by then and not revoked by then. For a currency that expires after inactivity,
 * the member's last activity then is exact when they have not been active since; otherwise it
 * is their last transaction of their own (credit, debit, hold, capture, transfer) by then, which
 * does not see tracked events that earned nothing. Reads only, in one snapshot; the cost grows
 * with the member's number of transactions. Errors: LOYAL_EINVAL (NULL argument, bad id, `at`
 * negative or after the handle's clock), LOYAL_ENOTFOUND (no such member, or one who had not
 * joined by `at`), LOYAL_ECORRUPT, LOYAL_EIO, LOYAL_ENOMEM, LOYAL_EMISUSE. */
LOYAL_API int loyal_member_as_of(loyal_db *db, const char *member, int64_t at, char **out_json);

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

#define LOYAL_MEMBER_QUERY_VERSION 1

/* An operator's search: the members every set condition holds for. Initialize with
 * LOYAL_MEMBER_QUERY_INIT (or loyal_member_query_init); strings are read during the call. */
typedef struct loyal_member_query {
	unsigned int version;      /* LOYAL_MEMBER_QUERY_VERSION */
	const char *attribute;     /* with value: members whose attribute equals it */
	const char *value;         /* a JSON scalar: "\"teacher\"", "3" (equals 3.0), "true" */
	const char *tier;          /* members in this tier of the program now */
	const char *segment;       /* members in this segment as of the last loyal_segment_refresh */
	int64_t active_from;       /* last active at or after this instant (Unix ms; 0: no bound) */
	int64_t active_before;     /* last active before this instant (0: no bound) */
	const char *status;        /* "active" or "blocked"; NULL: either */
	const char *after;         /* resume after this member (a row's "id"); NULL: from the first */
} loyal_member_query;

#define LOYAL_MEMBER_QUERY_INIT {LOYAL_MEMBER_QUERY_VERSION, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL}

/* Fills *query with LOYAL_MEMBER_QUERY_INIT for the given version. Returns LOYAL_OK, or
 * LOYAL_EINVAL for a NULL query or an unknown version. */
LOYAL_API int loyal_member_query_init(loyal_member_query *query, unsigned int version);

/* Lists the members the query keeps, in the order they joined, through a cursor (*out, the
 * caller's: loyal_cursor_free) whose rows are
 *   {"id": "alice", "status": "active", "joined_at": ms, "last_active_at": ms,
 *    "tier": "gold" or null}
 * Pages of a few hundred members are read in one snapshot each, in constant memory; to go on
 * later, pass the last row's id as query.after (keyset paging: no offset is skipped over).
 * Errors: LOYAL_EINVAL (NULL argument, attribute without value or the reverse, a value that is
 * not a JSON string, number or boolean, an unknown status, active_before not after
 * active_from), LOYAL_ENOTFOUND (unknown tier, segment or after member), LOYAL_EIO,
 * LOYAL_ENOMEM, LOYAL_EMISUSE; reading errors come from loyal_cursor_next. */
LOYAL_API int loyal_member_list(loyal_db *db, const loyal_member_query *query,
				loyal_cursor **out);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_MEMBERS_H */
