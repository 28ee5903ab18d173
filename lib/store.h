/* store.h - the storage interface: the only way the engine reaches the database file. */
#ifndef LOYAL_STORE_H
#define LOYAL_STORE_H

#include "internal.h"

/* The schema version this library writes; older files are migrated forward to it. */
#define STORE_SCHEMA_VERSION 1
/* Marks a SQLite file as a loyal database (PRAGMA application_id): "LOYL". */
#define STORE_APPLICATION_ID 0x4C4F594C

typedef struct store store;

/* Opens the file for db (flags are LOYAL_OPEN_*), checks it is a loyal database, migrates it and
 * sets db->store. Errors are recorded on db. */
int store_open(loyal_db *db, const char *path, unsigned int flags, int busy_timeout_ms);
/* Finalizes statements and closes the file; returns LOYAL_OK or LOYAL_EIO. Accepts NULL. */
int store_close(store *s);

/* Migrates the open database to `target_version` (at most STORE_SCHEMA_VERSION) in one
 * transaction. Used by open; exposed for tests that build files of older versions. */
int store_migrate(loyal_db *db, int target_version);
/* Reads the schema version of the open file into *out. */
int store_schema_version(loyal_db *db, int *out);

/* Write transactions: immediate, retried while another writer holds the file (up to the busy
 * timeout). Every write of the engine happens between store_begin and store_commit. */
int store_begin(loyal_db *db);
int store_commit(loyal_db *db);
/* Undoes the open transaction, if any; never fails from the caller's point of view. */
void store_rollback(loyal_db *db);

/* SQLite's structural check of the file (quick_check). */
int store_check_structure(loyal_db *db);

#endif /* LOYAL_STORE_H */
