/* store_sqlite.h - what the SQLite backend's files share: the connection and its statements. */
#ifndef LOYAL_STORE_SQLITE_H
#define LOYAL_STORE_SQLITE_H

#include "store.h"

#include <sqlite3.h>

/* Every statement the backend runs; prepared once per handle, on first use, and reused. */
enum store_statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_META_SET,
	ST__COUNT
};

struct store {
	sqlite3 *sql;
	char *path;
	int busy_timeout_ms;
	sqlite3_stmt *stmts[ST__COUNT];
};

/* Returns the prepared statement `id`, or NULL with the error recorded on db. */
sqlite3_stmt *store_stmt(loyal_db *db, enum store_statement id);
/* Steps a statement that returns no rows (or ignores them), then resets it. */
int store_step_done(loyal_db *db, sqlite3_stmt *stmt, const char *doing);
/* Records a SQLite failure on db as the matching LOYAL_E* code; returns that code. */
int store_sqlite_error(loyal_db *db, int sqlite_rc, const char *doing);

#endif /* LOYAL_STORE_SQLITE_H */
