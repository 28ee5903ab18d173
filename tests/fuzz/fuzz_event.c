/* fuzz_event.c - libFuzzer target: any bytes as an event's properties, tracked through rules
 * that read them, after a dry run that must predict it; each input is rolled back so the
 * database stays small. */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loyal_db *db;

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}], \"rules\": ["
	"{\"name\": \"buy\", \"event\": \"purchase\", \"condition\":"
	" \"event.amount > 0 and event.channel in ['app', 'web']\","
	" \"award\": {\"points\": \"floor(event.amount * 1.5) + count(purchase, 30d)\"}},"
	"{\"name\": \"ref\", \"event\": \"purchase\", \"recipient\": \"event.referrer\","
	" \"award\": {\"points\": \"10\"}, \"caps\": [{\"per\": \"day\", \"awards\": 3}]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db)
		db = fuzz_scratch_db(PROGRAM);
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	if (loyal_batch_begin(db) != LOYAL_OK)
		abort();
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchase";
	event.idempotency_key = "fuzz";
	event.properties = text;
	if (loyal_now(db, &event.at) != LOYAL_OK) /* one instant for both calls */
		abort();
	/* A dry run first: it must predict the real call exactly (the same code, the same
	 * outcome but for its mark) and write nothing. */
	event.flags = LOYAL_DRY_RUN;
	char *predicted = NULL;
	int predicted_rc = loyal_track(db, &event, &predicted);
	event.flags = 0;
	char *json = NULL;
	int rc = loyal_track(db, &event, &json);
	if (rc != predicted_rc)
		abort();
	if (rc == LOYAL_OK) {
		char *mark = strstr(predicted, ",\"dry_run\":true");
		if (!mark)
			abort();
		memmove(mark, mark + 15, strlen(mark + 15) + 1);
		if (strcmp(predicted, json) != 0)
			abort();
	}
	loyal_free(predicted);
	loyal_free(json);
	if (rc != LOYAL_OK && strcmp(loyal_errmsg(db), "ok") == 0)
		abort();
	if (rc == LOYAL_OK && loyal_verify(db) != LOYAL_OK)
		abort(); /* an accepted event must keep every invariant */
	if (loyal_batch_rollback(db) != LOYAL_OK)
		abort();
	free(text);
	return 0;
}
