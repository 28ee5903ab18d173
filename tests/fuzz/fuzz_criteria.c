/* fuzz_criteria.c - libFuzzer target: any bytes as a criteria expression, compiled and, when it
 * compiles, evaluated against a member with some history. */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loyal_db *db;

/* One database for the whole run: a program and a member with a little history. */
static void open_once(void)
{
	if (db)
		return;
	db = fuzz_scratch_db("{\"currencies\": [{\"name\": \"points\"}], \"rules\": [{\"name\":"
			     " \"p\", \"event\": \"purchase\", \"award\": {\"points\":"
			     " \"floor(event.amount)\"}}]}");
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchase";
	event.idempotency_key = "seed";
	event.properties = "{\"amount\": 42.5, \"channel\": \"app\"}";
	if (loyal_track(db, &event, NULL) != LOYAL_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	open_once();
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	char *json = NULL;
	int rc = loyal_criteria_check(db, text, &json);
	loyal_free(json);
	if (rc == LOYAL_OK) {
		rc = loyal_criteria_eval(db, text, "alice", "{\"amount\": 7, \"channel\": \"web\"}",
					 &json);
		loyal_free(json);
	}
	/* Every failure must say what it is. */
	if (rc != LOYAL_OK && strcmp(loyal_errmsg(db), "ok") == 0)
		abort();
	free(text);
	return 0;
}
