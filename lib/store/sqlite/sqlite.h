/* sqlite.h - what the SQLite backend's files share: the connection and its statements. */
#ifndef LOYAL_STORE_SQLITE_H
#define LOYAL_STORE_SQLITE_H

#include "store/store.h"

#include <jansson.h>
#include <sqlite3.h>

/* Every statement the backend runs; prepared once per handle, on first use, and reused. */
enum store_statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_CALL_SAVEPOINT,
	ST_CALL_RELEASE,
	ST_CALL_ROLLBACK,
	ST_OP_SAVEPOINT,
	ST_OP_RELEASE,
	ST_OP_ROLLBACK,
	ST_META_SET,
	ST_NEXT_EXPIRY,
	ST_HOLDS_NEXT,
	ST_REPORT_ACTIVE_DAY,
	ST_REPORT_ACTIVE_MONTH,
	ST_REPORT_ACTIVE_WEEK,
	ST_REPORT_FLOWS,
	ST_REPORT_LIABILITY,
	ST_REPORT_RETENTION_DAY,
	ST_REPORT_RETENTION_MONTH,
	ST_REPORT_RETENTION_WEEK,
	ST_REPORT_SEGMENTS,
	ST_REPORT_TIERS,
	ST_BADGE_ADD,
	ST_BADGE_LAST,
	ST_BADGE_NEXT,
	ST_MEMBER_NEXT,
	ST_MEMBER_SCAN,
	ST_SEGMENT_ADD,
	ST_SEGMENT_CHANGE,
	ST_SEGMENT_CHANGE_NEXT,
	ST_SEGMENT_IS,
	ST_SEGMENT_NEXT_REFRESH,
	ST_SEGMENT_REMOVE,
	ST_TIER_DUE,
	ST_TIER_GET,
	ST_TIER_HISTORY,
	ST_TIER_HISTORY_ADD,
	ST_TIER_PUT,
	ST_ACTIVITY_ADD,
	ST_ACTIVITY_COUNT,
	ST_ACTIVITY_DAY_COUNT,
	ST_ACTIVITY_DAYS,
	ST_ACTIVITY_GET,
	ST_ACTIVITY_PUT,
	ST_ACTIVITY_SUM,
	ST_RULE_COUNTER_ADD,
	ST_RULE_COUNTER_SUM,
	ST_EVENT_INSERT,
	ST_EVENT_OUTCOME,
	ST_RULE_GET,
	ST_RULE_PUT,
	ST_MEMBER_GET,
	ST_READ_BEGIN,
	ST_READ_END,
	ST_TXN_NEXT_ID,
	ST_BALANCE_GET,
	ST_BALANCE_PUT,
	ST_BALANCE_PUT_SAME_DUE,
	ST_CURRENCY_FIND,
	ST_CURRENCY_INSERT,
	ST_DUE_MEMBERS,
	ST_ENTRIES_OF_TXN,
	ST_ENTRY_INSERT,
	ST_HOLDS_DUE,
	ST_HOLD_GET,
	ST_HOLD_INSERT,
	ST_HOLD_UPDATE,
	ST_IDEM_GET,
	ST_IDEM_PUT,
	ST_IDLE_MEMBERS,
	ST_LOTS_OPEN,
	ST_LOT_GET,
	ST_LOT_INSERT,
	ST_LOT_UPDATE,
	ST_MEMBER_ATTRS_GET,
	ST_MEMBER_ATTRS_PUT,
	ST_MEMBER_EXTERNAL_ID,
	ST_MEMBER_FIND,
	ST_MEMBER_INSERT,
	ST_MEMBER_UPDATE,
	ST_MOVES_OF_TXN,
	ST_MOVE_INSERT,
	ST_PROGRAM_GET,
	ST_PROGRAM_PUT,
	ST_PROGRAM_VERSION,
	ST_REVERSED_TOTAL,
	ST_TXN_GET,
	ST_TXN_INSERT,
	ST__COUNT
};

struct store {
	ly_error *error;    /* the sink every failure is recorded in (the handle's) */
	unsigned int flags; /* LOYAL_OPEN_* */
	sqlite3 *sql;
	char *path;
	int busy_timeout_ms;
	int64_t busy_since_us; /* when the lock being waited for was first found busy */
	bool batch;   /* a batch transaction is open: calls become savepoints */
	bool reading; /* a read snapshot opened by ly_store_read_begin */
	/* Inside a batch no other connection can write, so the program version read once holds
	 * until the batch ends, one of its calls is undone or a program is saved. */
	bool program_version_known;
	int64_t program_version;
	/* The open member scan (ST_MEMBER_SCAN): whether it is open, and the last id it gave. */
	bool member_scan_open;
	int64_t member_scan_last;
	/* The first sign of damage seen (SQLite's corruption codes, a failed check): the file
	 * takes no more writes through this handle, so that damage is never built upon. */
	bool damaged;
	char damage[256];
	sqlite3_stmt *stmts[ST__COUNT];
};

/* Returns statement `id`, prepared from `sql` on first use and cached in the handle, or NULL with
 * the error recorded in the store's sink. Each id is used with one SQL text only. */
sqlite3_stmt *ly_store_stmt(store *s, enum store_statement id, const char *sql);
/* Steps a statement that returns no rows (or ignores them), then resets it. */
int ly_store_step_done(store *s, sqlite3_stmt *stmt, const char *doing);
/* Declares `stmt`, the cached statement `id`, returning the handle's error if it cannot be
 * prepared. */
#define STMT(id, sql)                                 \
	sqlite3_stmt *stmt = ly_store_stmt(s, id, sql); \
	if (!stmt)                                    \
		return s->error->code

#define MEMBER_COLUMNS "id, joined_at, status, last_active_at, last_txn, last_hash, timezone"

/* Row helpers (rows.c). */
int ly_store_step_one(store *s, sqlite3_stmt *stmt, bool *found, const char *doing);
void ly_store_finish(sqlite3_stmt *stmt);
int ly_store_column_text(store *s, sqlite3_stmt *stmt, int column, char **out);
int64_t ly_store_last_rowid(store *s);
int ly_store_push_failed(store *s);
int ly_store_collect_ints(store *s, sqlite3_stmt *stmt, int columns, int64_t **out,
		       size_t *count, const char *doing);
void ly_store_copy_column(sqlite3_stmt *stmt, int column, char *out, size_t size);
void ly_store_read_member_row(sqlite3_stmt *stmt, member_row *out);

/* A total from sum128() (see open.c) as JSON: an integer, or a real where it leaves 64 bits;
 * NULL without memory. */
json_t *ly_store_column_total(sqlite3_stmt *stmt, int column);

/* Records a SQLite failure in the store's sink as the matching LOYAL_E* code; returns that code. */
int ly_store_sqlite_error(store *s, int sqlite_rc, const char *doing);

#endif /* LOYAL_STORE_SQLITE_H */
