/* fuzz_event.c - libFuzzer target: any bytes as an event's properties, tracked through rules
 * that read them; each input is rolled back so the database stays small. */
#include "loyal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loyal_db *db;

static void open_once(void)
{
	if (db)
		return;
	char path[] = "/tmp/loyal-fuzz-event-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	unlink(path);
	if (loyal_open(path, NULL, &db) != LOYAL_OK ||
	    loyal_program_apply(
		    db,
		    "{\"currencies\": [{\"name\": \"points\"}], \"rules\": ["
		    "{\"name\": \"buy\", \"event\": \"purchase\", \"condition\":"
		    " \"event.amount > 0 and event.channel in ['app', 'web']\","
		    " \"award\": {\"points\": \"floor(event.amount * 1.5) + count(purchase, 30d)\"}},"
		    "{\"name\": \"ref\", \"event\": \"purchase\", \"recipient\": \"event.referrer\","
		    " \"award\": {\"points\": \"10\"}, \"caps\": [{\"per\": \"day\", \"awards\": 3}]}]}",
		    NULL) != LOYAL_OK)
		abort();
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	open_once();
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (loyal_batch_begin(db) != LOYAL_OK)
		abort();
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchase";
	event.idempotency_key = "fuzz";
	event.properties = text;
	char *json = NULL;
	int rc = loyal_track(db, &event, &json);
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
