/* idempotency.h - the one protocol every writing call follows with its idempotency key. A key is
 * filed per member under an XXH3 hash of itself; a look-up compares the stored key and the
 * stored request too, so that a hash collision can never merge two requests; the first
 * outcome is recorded in the call's own transaction and is sticky, refusals included. */
#ifndef LOYAL_IDEMPOTENCY_H
#define LOYAL_IDEMPOTENCY_H

#include "engine/handle.h"
#include "store/store.h"

/* One call's key: whose, which, for what request (the request's canonical text). */
typedef struct ly_idem {
	int64_t member;
	const char *key, *request; /* borrowed */
	int64_t hash;
	int kind; /* IDEM_LEDGER, IDEM_EVENT, IDEM_EVENT_REVERSAL */
	int64_t claim; /* the store's claim of the unused key, for the record */
} ly_idem;

/* The hash a key is filed under. */
int64_t ly_idem_hash(const char *key);
/* Sets up idem and looks its key up, inside the call's write transaction. With the key unused,
 * *found is false and the key is claimed for the call (ly_idem_record must follow before the
 * transaction commits; for a tracked event, `event` is the id reserved for it, whose row,
 * inserted with the request, is its record; else 0). Used for this very
 * request, *found is true and *seen holds the first call's record, to replay (the caller
 * clears it with ly_idem_row_clear). Used for another request: LOYAL_ECONFLICT naming the key,
 * `member_name` and the first request. */
int ly_idem_lookup(loyal_db *db, ly_idem *idem, int64_t member, const char *member_name,
		   const char *key, const char *request, int kind, int64_t event, idem_row *seen,
		   bool *found);
/* As ly_idem_lookup, but claims nothing (reads only): for a call about to be refused unless
 * it is a retry, whose refusal must come before any write. */
int ly_idem_find(loyal_db *db, int64_t member, const char *member_name, const char *key,
		 const char *request, idem_row *seen, bool *found);
/* Fails with the refusal recorded in `seen` (its code and message), marked as replayed. */
int ly_idem_refuse_again(loyal_db *db, const idem_row *seen);
/* Records the call's outcome under its key: rc (LOYAL_OK, or a refusal that stays sticky), the
 * transaction or event, the points moved, and the message (an event reversal's outcome). */
int ly_idem_record(loyal_db *db, const ly_idem *idem, int rc, int64_t txn, int64_t amount,
		   const char *message);

#endif /* LOYAL_IDEMPOTENCY_H */
