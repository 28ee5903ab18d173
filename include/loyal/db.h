/* loyal/db.h - opening and closing a loyal database, errors, and the integrity check. */
#ifndef LOYAL_DB_H
#define LOYAL_DB_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open loyal database: a SQLite file or a PostgreSQL database holding a program and its
 * members.
 *
 * Threading: a handle may be used by one thread at a time (calls on one handle must be
 * serialized by the caller); loyal_interrupt alone may be called from another thread while a
 * call runs. Separate handles, in one process or in several, may be used concurrently on the
 * same database: writes wait for each other (see busy_timeout_ms). */
typedef struct loyal_db loyal_db;

/* Returns the current time in Unix milliseconds (UTC). Must not call back into the library. */
typedef int64_t (*loyal_clock_fn)(void *clock_ctx);

/* Flags for loyal_open_options.flags. */
#define LOYAL_OPEN_CREATE 0x1u   /* create the file if missing; initialize an empty file */
#define LOYAL_OPEN_READONLY 0x2u /* never write; calls that would write fail with LOYAL_EREADONLY */

/* What a committed call survives, for loyal_open_options.durability. */
#define LOYAL_DURABILITY_PROCESS 0 /* a crash of the process (the default): each commit is in the
				    * WAL before the call returns, and the WAL is synced as it is
				    * copied back into the file (at wal_limit_bytes, and as the last
				    * handle closes); a power loss or OS crash loses at most the
				    * commits since then, the newest ones, each whole, and the file
				    * opens and verifies */
#define LOYAL_DURABILITY_POWER 1   /* a power loss too: the WAL is synced at every commit */
#define LOYAL_DURABILITY_SCRATCH 2 /* a crash of the process only: nothing is ever synced, and a
				    * power loss or OS crash may damage the file; for files thrown
				    * away after use (a forecast's, a what-if's copies) */

/* Which storage a location names, for loyal_open_options.backend. */
#define LOYAL_BACKEND_AUTO 0     /* a postgresql:// or postgres:// URI is PostgreSQL; any other
				  * location is a SQLite file's path (the default) */
#define LOYAL_BACKEND_SQLITE 1   /* the location is a SQLite file's path, whatever it looks like */
#define LOYAL_BACKEND_POSTGRES 2 /* the location is a libpq connection string: a URI or
				  * key=value pairs ("host=db dbname=loyalty sslmode=require") */

/* Version 2 added wal_limit_bytes and durability, version 3 backend; structs of earlier versions
 * are still accepted. */
#define LOYAL_OPEN_OPTIONS_VERSION 3

/* Options for loyal_open. Initialize with LOYAL_OPEN_OPTIONS_INIT or loyal_open_options_init(),
 * then set fields: later versions only append fields, and `version` says which ones exist. */
typedef struct loyal_open_options {
	unsigned int version;   /* LOYAL_OPEN_OPTIONS_VERSION */
	unsigned int flags;     /* LOYAL_OPEN_*; CREATE and READONLY together are invalid */
	int busy_timeout_ms;    /* how long a write waits for other writers; 0 means 5000 */
	loyal_clock_fn clock;   /* NULL: the system clock (CLOCK_REALTIME) */
	void *clock_ctx;        /* passed to clock; borrowed, must outlive the handle */
	/* Since version 2: */
	int64_t wal_limit_bytes; /* the WAL is copied back into the file once it holds this much,
				  * and cut back to it then; 0 means 64 MiB; at least 1 MiB */
	int durability;          /* LOYAL_DURABILITY_*; 0 means LOYAL_DURABILITY_PROCESS */
	/* Since version 3: */
	int backend; /* LOYAL_BACKEND_*; 0 means LOYAL_BACKEND_AUTO */
} loyal_open_options;

#define LOYAL_OPEN_OPTIONS_INIT                                                                  \
	{LOYAL_OPEN_OPTIONS_VERSION, LOYAL_OPEN_CREATE, 0, NULL, NULL, 0, LOYAL_DURABILITY_PROCESS, \
	 LOYAL_BACKEND_AUTO}

/* Fills *opts with the defaults of LOYAL_OPEN_OPTIONS_INIT for the given version (for bindings
 * that cannot use the macro). Returns LOYAL_OK, or LOYAL_EINVAL if opts is NULL or the version
 * is not one this library knows. Thread-safe. */
LOYAL_API int loyal_open_options_init(loyal_open_options *opts, unsigned int version);

/* Opens the loyal database at `path` (UTF-8; copied): a SQLite file, or a PostgreSQL database
 * (see options.backend). opts may be NULL for the defaults (LOYAL_OPEN_OPTIONS_INIT).
 *
 * On success *out receives a new handle, owned by the caller and released with loyal_close().
 * On failure *out still receives a handle (as sqlite3_open does) so that loyal_errcode() and
 * loyal_errmsg() can say what went wrong; every other call on it returns LOYAL_EMISUSE, and it
 * must be released with loyal_close(). *out is NULL only when memory for the handle itself could
 * not be allocated (LOYAL_ENOMEM) or out is NULL (LOYAL_EINVAL). A failed open writes nothing.
 *
 * A SQLite file: a missing file is created with mode 0600 when LOYAL_OPEN_CREATE is set. An
 * older schema is migrated forward in one transaction. The file is put in WAL mode. Each handle
 * caches up to 16 MiB of pages; the WAL beside the file (path "-wal") is copied back into it
 * once it holds wal_limit_bytes (64 MiB by default), inside the commit that crosses that size,
 * and is cut back to that size then: on a small volume, lower it. A disk that fills up fails
 * the write that needed the room (LOYAL_EIO, "database or disk is full") and leaves the file
 * valid: once space is freed, writes go on.
 *
 * Only a regular file is opened (a FIFO, a device or a directory is refused with LOYAL_EIO), and
 * never one that every user may write (LOYAL_EIO, naming its mode); an empty file initialized
 * here loses its permissions for others. Where a WAL was left beside the file (its last writer
 * died, or other handles have it open) the open first runs SQLite's quick_check (time grows
 * with the file): damage is LOYAL_ECORRUPT. With LOYAL_OPEN_READONLY a file on read-only media
 * (or in a directory that cannot be written) and closed cleanly is read as immutable; opening
 * such a file to write is LOYAL_EREADONLY. From the first damage a handle sees (SQLite's
 * corruption codes, a failed loyal_verify), every write through it fails with LOYAL_ECORRUPT
 * naming the damage; reads go on.
 *
 * A PostgreSQL database: the handle is one libpq connection, opened with `path` as its
 * connection string, so PGHOST, PGPASSWORD, ~/.pgpass, service files and the TLS settings fill
 * in what it leaves out. The library's tables live in the schema `loyal`, created with
 * LOYAL_OPEN_CREATE and migrated forward in one transaction under an advisory lock (several
 * servers may open at once). A write waits up to busy_timeout_ms for a member another
 * connection is writing (then LOYAL_EBUSY); a call returns once its commit is durable on the
 * server (durability and wal_limit_bytes do not apply). A connection lost during a call fails
 * it with LOYAL_EIO naming the server, the call's transaction committed whole or not at all;
 * the next call connects again. Messages name the server as host:port/database, never a
 * password.
 *
 * Errors: LOYAL_EINVAL (NULL or empty path, NULL out, bad options: unknown version, flags or
 * backend, negative timeout, a WAL limit under 1 MiB, unknown durability), LOYAL_EREADONLY (a
 * file or directory that cannot be written, opened without LOYAL_OPEN_READONLY), LOYAL_ECORRUPT
 * (damage found after a crash, or a schema version no library writes), LOYAL_ENOTFOUND (missing
 * file without LOYAL_OPEN_CREATE), LOYAL_ENOTADB (a file that is not a loyal database: text,
 * another application's SQLite database, or an empty file opened without LOYAL_OPEN_CREATE; a
 * PostgreSQL database without the library's schema opened without LOYAL_OPEN_CREATE, or whose
 * `loyal` schema is another application's), LOYAL_EVERSION (a schema newer than this library,
 * or an older one opened read-only), LOYAL_EIO (also: a server that cannot be reached or
 * refuses the login), LOYAL_EBUSY, LOYAL_ENOMEM. Each message names the file or the server.
 *
 * Thread-safe with respect to other handles. */
LOYAL_API int loyal_open(const char *path, const loyal_open_options *opts, loyal_db **out);

/* Closes the handle and releases everything it owns. Accepts NULL. Returns LOYAL_OK; a failure
 * to close the file cleanly (LOYAL_EIO) still releases the handle. */
LOYAL_API int loyal_close(loyal_db *db);

/* Returns the code of the last call on db (LOYAL_OK after a success), or LOYAL_EINVAL for NULL. */
LOYAL_API int loyal_errcode(loyal_db *db);

/* Returns 1 when the last call on db failed with a refusal recorded under its idempotency key
 * by an earlier call (a debit refused for want of points, a redemption past a limit, ...)
 * and given again, 0 when that call was refused now, succeeded, or db is NULL. Lets a caller
 * who retries tell "refused before" from "refused this time". */
LOYAL_API int loyal_errreplayed(loyal_db *db);

/* Stops the call running on db as soon as it can: a call waiting for another writer's lock
 * stops waiting, a statement stops at its next step (on PostgreSQL: the server cancels the
 * query). That call returns LOYAL_EINTERRUPTED and has written nothing; a call that commits in
 * parts (loyal_grant_run, loyal_segment_refresh, the sweeps, a batch's earlier commits) keeps
 * the parts committed before, as after a crash, and calling it again completes it. It stops
 * only a call in progress: a call that starts later runs as usual, so one that ended just
 * before is not affected, and an interrupt may also come too late to stop a call that was
 * about to return. For deadlines and cancellation (a request timed out, a Go context).
 *
 * Thread-safety: the one call that may be made from another thread while db is in use; db
 * must stay open until it returns (never call it during or after loyal_close). On PostgreSQL
 * it opens a short connection to the server to ask for the cancel. Returns LOYAL_OK, or
 * LOYAL_EINVAL for a NULL db. */
LOYAL_API int loyal_interrupt(loyal_db *db);

/* Returns the message of the last call on db: what failed and which argument, field, position,
 * id or file was at fault; "ok" after a success. Borrowed: valid until the next call on db. For a
 * NULL db returns a static message. Never NULL. */
LOYAL_API const char *loyal_errmsg(loyal_db *db);

/* Checks the database: on a file, SQLite's integrity check (its pages and records, and every
 * index against its table), then each invariant of the engine (every currency sums to zero,
 * balances equal their entries and their lots, idempotency records are consistent, badge
 * awards name a badge and level that a version of the program defined). Returns LOYAL_OK, or LOYAL_ECORRUPT with loyal_errmsg() naming the first violation
 * found. Reads only. Errors: LOYAL_EINVAL (NULL db), LOYAL_EMISUSE, LOYAL_ECORRUPT, LOYAL_EIO,
 * LOYAL_ENOMEM. Its cost grows with the size of the database. */
LOYAL_API int loyal_verify(loyal_db *db);

/* Reads the handle's clock: the current time in Unix milliseconds into *out_ms. Errors:
 * LOYAL_EINVAL (NULL argument), LOYAL_EMISUSE. */
LOYAL_API int loyal_now(loyal_db *db, int64_t *out_ms);

/* Batches: many writing calls in one database transaction, for imports and bursts of events
 * (far faster than one transaction per call). Between begin and commit every call stays atomic
 * on its own: a call refused (bad input, not enough points, a reused key, a blocked member...)
 * undoes only itself and the batch goes on. A call that fails in storage or memory (an I/O
 * error, a full disk, no memory, an interrupt) after it began writing may take the whole batch
 * with it (on SQLite, a tracked event does: its refusals all come before its first write, so
 * it runs without a savepoint of its own, which is much of an event's cost): the batch is then
 * rolled back, its later calls fail with LOYAL_ESTATE naming that failure, and its commit
 * returns the failure's code and ends it. Commit makes all the calls durable at once, rollback
 * undoes all of them. A commit that fails (a full disk) rolls the whole batch back and ends it:
 * the commit's error is the one to report, and a rollback after it fails with LOYAL_ESTATE.
 * The host wanting all-or-nothing rolls back on the first failure; a host that goes on after a
 * failure of storage checks the commit. A batch holds the file's write lock until it ends: keep
 * it short.
 * Errors: LOYAL_EINVAL (NULL db), LOYAL_ESTATE (begin inside a batch, commit or rollback
 * outside one), LOYAL_EREADONLY, LOYAL_EBUSY, LOYAL_EIO, LOYAL_EMISUSE. Closing the handle with
 * a batch open rolls it back. */
LOYAL_API int loyal_batch_begin(loyal_db *db);
LOYAL_API int loyal_batch_commit(loyal_db *db);
LOYAL_API int loyal_batch_rollback(loyal_db *db);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_DB_H */
