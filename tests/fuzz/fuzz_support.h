/* fuzz_support.h - what the libFuzzer targets share: a scratch database for the whole run, and
 * the input as a NUL-terminated string. */
#ifndef LOYAL_FUZZ_SUPPORT_H
#define LOYAL_FUZZ_SUPPORT_H

#include "loyal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Opens a new database in /tmp (its file unlinked at once: it lives as long as the handle) with
 * `program` applied unless NULL; aborts on failure, which is a bug of the target. */
static inline loyal_db *fuzz_scratch_db(const char *program)
{
	char path[] = "/tmp/loyal-fuzz-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	unlink(path);
	loyal_db *db = NULL;
	if (loyal_open(path, NULL, &db) != LOYAL_OK ||
	    (program && loyal_program_apply(db, program, NULL) != LOYAL_OK))
		abort();
	unlink(path);
	return db;
}

/* The input as a string (malloc'd, the caller frees it), or NULL when memory is short. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif /* LOYAL_FUZZ_SUPPORT_H */
