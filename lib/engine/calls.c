/* calls.c - the frame every keyed writing call of rewards and coupons runs in: its request
 * recorded, a write transaction of its own, the outcome (a sticky refusal included) kept under
 * its idempotency key. */
#include "engine/calls.h"
#include "engine/ledger.h"
#include "util/json.h"

#include <stdlib.h>

/* A request's canonical text, for its key's record (NULL without memory); consumes request. */
static char *request_text(json_t *request)
{
	char *text = request ? json_dumps(request, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(request);
	return text;
}

int ly_call_run(loyal_db *db, json_t *request, ly_call_fn locked, void *ctx, char **out_json)
{
	char *text = request_text(request);
	if (!text)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory recording the request");
	json_t *outcome = NULL;
	char *caller = NULL;
	int rc = ly_store_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = ly_program_refresh(db);
		if (rc == LOYAL_OK)
			rc = locked(ctx, text, &outcome);
		/* The caller's text is written before the commit: once the call is committed,
		 * nothing of it can fail any more. */
		rc = ly_call_emit(db, rc, outcome, out_json ? &caller : NULL);
		rc = ly_ledger_end_call(db, rc);
	}
	free(text); /* jansson's allocation */
	if (rc == LOYAL_OK && out_json)
		*out_json = caller;
	else
		ly_mem_free(caller);
	return rc;
}

int ly_call_recorded(loyal_db *db, ly_idem *idem, int (*work)(void *), void *ctx,
		     const int64_t *id)
{
	int rc = ly_store_savepoint(db->store);
	if (rc != LOYAL_OK)
		return rc;
	int outcome = work(ctx);
	if (outcome == LOYAL_OK)
		rc = ly_store_savepoint_release(db->store);
	else if (ly_ledger_sticky(outcome))
		ly_store_savepoint_rollback(db->store);
	else
		return outcome;
	if (rc == LOYAL_OK)
		rc = ly_idem_record(db, idem, outcome, outcome == LOYAL_OK ? *id : 0, 0,
				    outcome == LOYAL_OK ? "ok" : db->error.message);
	return rc == LOYAL_OK ? outcome : rc;
}

int ly_call_emit(loyal_db *db, int rc, json_t *value, char **out_json)
{
	if (rc == LOYAL_OK && out_json)
		return ly_json_emit(&db->error, value, out_json);
	json_decref(value);
	return rc;
}
