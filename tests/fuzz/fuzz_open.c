/* fuzz_open.c - libFuzzer target: any bytes as a database file; opening must fail cleanly or
 * give a handle that verifies (or reports the damage), never crash. */
#include "loyal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/loyal-fuzz-open-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = 0; /* never create: the bytes are the file */
	loyal_db *db = NULL;
	int rc = loyal_open(path, &opts, &db);
	if (rc == LOYAL_OK) {
		rc = loyal_verify(db);
		if (rc != LOYAL_OK && rc != LOYAL_ECORRUPT && rc != LOYAL_EIO && rc != LOYAL_ENOTADB)
			abort();
		loyal_balance balance = LOYAL_BALANCE_INIT;
		loyal_ledger_balance(db, "alice", "points", 0, &balance);
	} else if (strcmp(loyal_errmsg(db), "ok") == 0) {
		abort();
	}
	loyal_close(db);
	char sidecar[64];
	snprintf(sidecar, sizeof sidecar, "%s-wal", path);
	unlink(sidecar);
	snprintf(sidecar, sizeof sidecar, "%s-shm", path);
	unlink(sidecar);
	unlink(path);
	return 0;
}
