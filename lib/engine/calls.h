/* calls.h - the frame every keyed writing call of rewards and coupons runs in. */
#ifndef LOYAL_CALLS_H
#define LOYAL_CALLS_H

#include "engine/idempotency.h"

#include <jansson.h>

/* What a call does inside its write transaction, on the current program: looks its key up
 * with `request` (its canonical text) and replays, or does its work; *out receives the JSON it
 * hands back (a new reference). */
typedef int (*ly_call_fn)(void *ctx, const char *request, json_t **out);

/* Runs `locked` in a write transaction of its own, the request recorded as `request`
 * (consumed), committed with its outcome (a sticky refusal included); *out_json (may be NULL)
 * receives the JSON it hands back. */
int ly_call_run(loyal_db *db, json_t *request, ly_call_fn locked, void *ctx, char **out_json);
/* Runs `work` inside the call's savepoint: kept when it succeeds, undone when it refuses (the
 * refusal is then the outcome); either way recorded under idem, naming *id. */
int ly_call_recorded(loyal_db *db, ly_idem *idem, int (*work)(void *), void *ctx,
		     const int64_t *id);
/* Hands value to the caller as text when rc is LOYAL_OK and out_json is not NULL; releases it
 * otherwise. Returns rc (or the failure to write the text). */
int ly_call_emit(loyal_db *db, int rc, json_t *value, char **out_json);

#endif /* LOYAL_CALLS_H */
