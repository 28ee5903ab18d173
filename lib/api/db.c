/* db.c - the public calls of the handle: open and close, versions, errors, verify, batches. */
#include "engine/account.h"
#include "engine/cursor.h"
#include "engine/program.h"
#include "store/store.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DEFAULT_WAL_LIMIT_BYTES (INT64_C(64) * 1024 * 1024)

const char *loyal_version(void)
{
	return LOYAL_VERSION_STRING;
}

int loyal_version_number(void)
{
	return LOYAL_VERSION_NUMBER;
}

const char *loyal_errstr(int code)
{
	switch (code) {
	case LOYAL_OK: return "LOYAL_OK";
	case LOYAL_EINVAL: return "LOYAL_EINVAL";
	case LOYAL_ENOMEM: return "LOYAL_ENOMEM";
	case LOYAL_EIO: return "LOYAL_EIO";
	case LOYAL_ENOTADB: return "LOYAL_ENOTADB";
	case LOYAL_EVERSION: return "LOYAL_EVERSION";
	case LOYAL_EREADONLY: return "LOYAL_EREADONLY";
	case LOYAL_EBUSY: return "LOYAL_EBUSY";
	case LOYAL_ENOTFOUND: return "LOYAL_ENOTFOUND";
	case LOYAL_ECONFLICT: return "LOYAL_ECONFLICT";
	case LOYAL_EINSUFFICIENT: return "LOYAL_EINSUFFICIENT";
	case LOYAL_EOVERFLOW: return "LOYAL_EOVERFLOW";
	case LOYAL_EBLOCKED: return "LOYAL_EBLOCKED";
	case LOYAL_EJSON: return "LOYAL_EJSON";
	case LOYAL_ESYNTAX: return "LOYAL_ESYNTAX";
	case LOYAL_ECORRUPT: return "LOYAL_ECORRUPT";
	case LOYAL_ESTATE: return "LOYAL_ESTATE";
	case LOYAL_EMISUSE: return "LOYAL_EMISUSE";
	case LOYAL_ESOLDOUT: return "LOYAL_ESOLDOUT";
	case LOYAL_ELIMIT: return "LOYAL_ELIMIT";
	case LOYAL_ENOTELIGIBLE: return "LOYAL_ENOTELIGIBLE";
	case LOYAL_EINTERRUPTED: return "LOYAL_EINTERRUPTED";
	case LOYAL_EINTERNAL: return "LOYAL_EINTERNAL";
	default: return "LOYAL_EUNKNOWN";
	}
}

void loyal_free(void *ptr)
{
	ly_mem_free(ptr);
}

static int64_t system_clock(void *unused)
{
	(void)unused;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static size_t options_size(unsigned int version)
{
	return version == 1   ? offsetof(loyal_open_options, wal_limit_bytes)
	       : version == 2 ? offsetof(loyal_open_options, backend)
	       : version == 3 ? sizeof(loyal_open_options)
			      : 0;
}

int loyal_open_options_init(loyal_open_options *opts, unsigned int version)
{
	if (!opts || !options_size(version))
		return LOYAL_EINVAL;
	loyal_open_options defaults = LOYAL_OPEN_OPTIONS_INIT;
	defaults.version = version;
	memcpy(opts, &defaults, options_size(version));
	return LOYAL_OK;
}

/* Copies the caller's options, of whichever version, over the defaults. */
static int check_options(loyal_db *db, const char *path, const loyal_open_options *given,
			 loyal_open_options *opts)
{
	if (!path || !*path)
		return ly_db_fail(db, LOYAL_EINVAL, "path is %s", path ? "empty" : "NULL");
	if (!options_size(given->version))
		return ly_db_fail(db, LOYAL_EINVAL, "options.version is %u; this library knows 1 to %d",
			       given->version, LOYAL_OPEN_OPTIONS_VERSION);
	memcpy(opts, given, options_size(given->version));
	if (opts->flags & ~(LOYAL_OPEN_CREATE | LOYAL_OPEN_READONLY))
		return ly_db_fail(db, LOYAL_EINVAL, "options.flags has unknown bits 0x%x",
			       opts->flags & ~(LOYAL_OPEN_CREATE | LOYAL_OPEN_READONLY));
	if ((opts->flags & LOYAL_OPEN_CREATE) && (opts->flags & LOYAL_OPEN_READONLY))
		return ly_db_fail(db, LOYAL_EINVAL,
			       "options.flags: LOYAL_OPEN_CREATE and LOYAL_OPEN_READONLY exclude each "
			       "other");
	if (opts->busy_timeout_ms < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "options.busy_timeout_ms is negative (%d)",
			       opts->busy_timeout_ms);
	if (opts->wal_limit_bytes != 0 && opts->wal_limit_bytes < 1024 * 1024)
		return ly_db_fail(db, LOYAL_EINVAL,
			       "options.wal_limit_bytes is %lld; it must be 0 (64 MiB) or at least "
			       "1 MiB",
			       (long long)opts->wal_limit_bytes);
	if (opts->durability != LOYAL_DURABILITY_PROCESS &&
	    opts->durability != LOYAL_DURABILITY_POWER && opts->durability != LOYAL_DURABILITY_SCRATCH)
		return ly_db_fail(db, LOYAL_EINVAL,
			       "options.durability is %d; it must be LOYAL_DURABILITY_PROCESS (0), "
			       "LOYAL_DURABILITY_POWER (1) or LOYAL_DURABILITY_SCRATCH (2)",
			       opts->durability);
	if (opts->backend != LOYAL_BACKEND_AUTO && opts->backend != LOYAL_BACKEND_SQLITE &&
	    opts->backend != LOYAL_BACKEND_POSTGRES)
		return ly_db_fail(db, LOYAL_EINVAL,
			       "options.backend is %d; it must be LOYAL_BACKEND_AUTO (0), "
			       "LOYAL_BACKEND_SQLITE (1) or LOYAL_BACKEND_POSTGRES (2)",
			       opts->backend);
	return LOYAL_OK;
}

int loyal_open(const char *path, const loyal_open_options *given, loyal_db **out)
{
	if (!out)
		return LOYAL_EINVAL;
	loyal_db *db = ly_mem_calloc(1, sizeof *db);
	*out = db;
	if (!db)
		return LOYAL_ENOMEM;
	loyal_open_options defaults = LOYAL_OPEN_OPTIONS_INIT, options = defaults;
	int rc = check_options(db, path, given ? given : &defaults, &options);
	if (rc == LOYAL_OK) {
		db->flags = options.flags;
		db->clock = options.clock ? options.clock : system_clock;
		db->clock_ctx = options.clock_ctx;
		store_settings settings = {
			.flags = options.flags,
			.busy_timeout_ms = options.busy_timeout_ms ? options.busy_timeout_ms
								   : DEFAULT_BUSY_TIMEOUT_MS,
			.wal_limit_bytes = options.wal_limit_bytes ? options.wal_limit_bytes
								   : DEFAULT_WAL_LIMIT_BYTES,
			.durability = options.durability,
			.postgres = options.backend == LOYAL_BACKEND_POSTGRES ||
				    (options.backend == LOYAL_BACKEND_AUTO &&
				     ly_store_is_postgres(path))};
		rc = ly_store_open(&db->error, path, &settings, &db->store);
		if (rc == LOYAL_OK)
			rc = ly_program_refresh(db);
	}
	if (rc != LOYAL_OK) {
		db->open_failed = true;
		ly_program_free(db->program);
		db->program = NULL;
		ly_store_close(db->store);
		db->store = NULL;
		return rc;
	}
	ly_error_clear(&db->error);
	return LOYAL_OK;
}

int loyal_close(loyal_db *db)
{
	if (!db)
		return LOYAL_OK;
	ly_cursor_detach_all(db);
	if (db->store && ly_store_in_batch(db->store))
		ly_store_batch_rollback(db->store);
	ly_program_free(db->program);
	int rc = ly_store_close(db->store);
	ly_mem_free(db);
	return rc;
}

int loyal_errcode(loyal_db *db)
{
	return db ? db->error.code : LOYAL_EINVAL;
}

int loyal_interrupt(loyal_db *db)
{
	if (!db)
		return LOYAL_EINVAL;
	if (db->store)
		ly_store_interrupt(db->store);
	return LOYAL_OK;
}

int loyal_errreplayed(loyal_db *db)
{
	return db && db->error.code != LOYAL_OK && db->error.replayed;
}

const char *loyal_errmsg(loyal_db *db)
{
	return db ? db->error.message : "db is NULL";
}

int loyal_now(loyal_db *db, int64_t *out_ms)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_ms)
		return ly_db_fail(db, LOYAL_EINVAL, "out_ms is NULL");
	*out_ms = ly_db_now(db);
	return LOYAL_OK;
}

int loyal_verify(loyal_db *db)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_store_check_structure(db->store);
	if (rc == LOYAL_OK)
		rc = ly_store_check_invariants(db->store);
	return rc == LOYAL_OK ? ly_account_check_chains(db) : rc;
}

int loyal_batch_begin(loyal_db *db)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_store_batch_begin(db->store) : rc;
}

int loyal_batch_commit(loyal_db *db)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_store_batch_commit(db->store) : rc;
}

int loyal_batch_rollback(loyal_db *db)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!ly_store_in_batch(db->store))
		return ly_db_fail(db, LOYAL_ESTATE, "no batch is open on this handle");
	ly_store_batch_rollback(db->store);
	/* The cached program may hold what the batch applied. */
	ly_program_free(db->program);
	db->program = NULL;
	return ly_program_refresh(db);
}
