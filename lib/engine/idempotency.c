/* idempotency.c - looking up and recording the outcomes of writing calls under their keys. */
#include "engine/idempotency.h"

#include <string.h>
#include <xxhash.h>

int64_t ly_idem_hash(const char *key)
{
	return (int64_t)XXH3_64bits(key, strlen(key));
}

/* A record found for the key: this very request's, or LOYAL_ECONFLICT. */
static int same_request(loyal_db *db, int rc, const char *key, const char *member_name,
			const char *request, idem_row *seen, bool *found)
{
	if (rc != LOYAL_OK || !*found || strcmp(seen->request, request) == 0)
		return rc;
	rc = ly_db_fail(db, LOYAL_ECONFLICT,
			"idempotency key '%s' of member '%s' was used for another request: %s", key,
			member_name, seen->request);
	ly_idem_row_clear(seen);
	*found = false;
	return rc;
}

int ly_idem_lookup(loyal_db *db, ly_idem *idem, int64_t member, const char *member_name,
		   const char *key, const char *request, int kind, int64_t event, idem_row *seen,
		   bool *found)
{
	*idem = (ly_idem){.member = member, .key = key, .request = request,
			  .hash = ly_idem_hash(key), .kind = kind};
	int rc = ly_store_idem_claim(db->store, member, idem->hash, key, event, seen, found);
	idem->claim = seen->claim;
	return same_request(db, rc, key, member_name, request, seen, found);
}

int ly_idem_find(loyal_db *db, int64_t member, const char *member_name, const char *key,
		 const char *request, idem_row *seen, bool *found)
{
	int rc = ly_store_idem_get(db->store, member, ly_idem_hash(key), key, seen, found);
	return same_request(db, rc, key, member_name, request, seen, found);
}

int ly_idem_refuse_again(loyal_db *db, const idem_row *seen)
{
	int rc = ly_db_fail(db, (int)seen->rc, "%s", seen->message);
	db->error.replayed = true;
	return rc;
}

int ly_idem_record(loyal_db *db, const ly_idem *idem, int rc, int64_t txn, int64_t amount,
		   const char *message)
{
	idem_row record = {.member = idem->member, .key_hash = idem->hash, .key = idem->key,
			   .request = idem->request, .rc = rc, .txn = txn, .amount = amount,
			   .message = message, .kind = idem->kind, .claim = idem->claim};
	return ly_store_idem_put(db->store, &record);
}
