/* fuzz_program.c - libFuzzer target: any bytes as a program document; whatever is accepted
 * must leave a database that verifies, and a refusal must change nothing. */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loyal_db *db;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db)
		db = fuzz_scratch_db(NULL);
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	if (loyal_batch_begin(db) != LOYAL_OK)
		abort();
	char *before = NULL, *after = NULL;
	if (loyal_program_get(db, &before) != LOYAL_OK)
		abort();
	int rc = loyal_program_apply(db, text, NULL);
	if (rc != LOYAL_OK && strcmp(loyal_errmsg(db), "ok") == 0)
		abort();
	if (loyal_program_get(db, &after) != LOYAL_OK)
		abort();
	if (rc != LOYAL_OK && strcmp(before, after) != 0)
		abort(); /* a refused document changed the program */
	if (rc == LOYAL_OK && loyal_verify(db) != LOYAL_OK)
		abort();
	loyal_free(before);
	loyal_free(after);
	if (loyal_batch_rollback(db) != LOYAL_OK)
		abort();
	free(text);
	return 0;
}
