/* fuzz_rows.c - libFuzzer target: any bytes as the blobs a member's row keeps (balances, open
 * lots, activity) and as a change of open lots. The SQL functions that read and change them
 * must refuse damage (as SQLITE_CORRUPT), never crash; activity read whole packs whole again;
 * what ly_lots_apply makes of whole lots is whole again, holds every change that has points
 * left and none that has not, and reads back through ly_lots_json. Input: one byte giving
 * where the stored blob ends, then the bytes. */
#include "store/sqlite/sqlite.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *connection(void)
{
	static sqlite3 *sql;
	if (!sql && (sqlite3_open(":memory:", &sql) != SQLITE_OK || ly_sqlite_functions(sql) != SQLITE_OK))
		abort();
	return sql;
}

/* Runs one statement over the two blobs: the result's code (SQLITE_ROW with the first column
 * copied into *out, sqlite3_free'd by the caller, when wanted). */
static int run(const char *text, const uint8_t *a, size_t a_size, const uint8_t *b,
	       size_t b_size, unsigned char **out, size_t *out_size)
{
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(connection(), text, -1, &stmt, NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_blob64(stmt, 1, a, a_size, SQLITE_STATIC);
	sqlite3_bind_blob64(stmt, 2, b, b_size, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && out) {
		*out_size = (size_t)sqlite3_column_bytes(stmt, 0);
		*out = sqlite3_malloc64(*out_size + 1);
		if (!*out)
			abort();
		if (*out_size)
			memcpy(*out, sqlite3_column_blob(stmt, 0), *out_size);
		(*out)[*out_size] = 0;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_CORRUPT && rc != SQLITE_MISUSE)
		abort();
	sqlite3_finalize(stmt);
	return rc;
}

/* Whether the lot of this id is in a whole blob, and how many points it has left there. */
static bool holds(const unsigned char *blob, size_t size, int64_t id, int64_t *remaining)
{
	const unsigned char *at = blob, *end = blob + size;
	open_lot lot;
	while (size && ly_sqlite_lot_next(&at, end, &lot))
		if (lot.id == id) {
			*remaining = lot.remaining;
			return true;
		}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t split = data[0] < size - 1 ? data[0] : size - 1;
	const uint8_t *stored = data + 1, *changes = data + 1 + split;
	size_t stored_size = split, change_size = size - 1 - split;
	bool whole = ly_sqlite_lots_valid(stored_size ? stored : NULL, stored_size);

	/* The same bytes as balances: read and set, or refused. */
	run("SELECT ly_balance_set(?1, 1, 2, 3, 4, 5, 6, 7, 8), ly_balance(?1, 1, 0)", stored,
	    stored_size, NULL, 0, NULL, NULL);
	/* As activity: read whole exactly when it is whole; what is read packs again into a
	 * whole blob. */
	bool active = ly_sqlite_activity_valid(stored_size ? stored : NULL, stored_size);
	unsigned char *rows = NULL;
	size_t rows_size = 0;
	if ((run("SELECT ly_activity_json(?1), ly_activity_archived(?1)", stored, stored_size, NULL,
		 0, &rows, &rows_size) == SQLITE_ROW) != active)
		abort();
	unsigned char *packed = NULL;
	size_t packed_size = 0;
	if (active && run("SELECT ly_activity_pack(j.value ->> 0, j.value ->> 1, j.value ->> 2,"
			  " j.value ->> 3, j.value ->> 4, j.value ->> 5)"
			  " FROM json_each(CAST(?1 AS TEXT)) j",
			  rows, rows_size, NULL, 0, &packed, &packed_size) == SQLITE_ROW &&
	    !ly_sqlite_activity_valid(packed, packed_size))
		abort();
	sqlite3_free(packed);
	sqlite3_free(rows);

	unsigned char *json = NULL;
	size_t json_size = 0;
	int rc = run("SELECT ly_lots_json(?1)", stored, stored_size, NULL, 0, &json, &json_size);
	if ((rc == SQLITE_ROW) != whole)
		abort();
	sqlite3_free(json);

	unsigned char *applied = NULL;
	size_t applied_size = 0;
	rc = run("SELECT ly_lots_apply(?1, ?2)", stored, stored_size, changes, change_size, &applied,
		 &applied_size);
	if (!whole && rc == SQLITE_ROW)
		abort(); /* damage went through */
	if (rc == SQLITE_ROW) {
		if (!ly_sqlite_lots_valid(applied_size ? applied : NULL, applied_size))
			abort();
		/* The last change of each id decides: there with its points, or gone. */
		const unsigned char *at = changes, *end = changes + change_size;
		open_lot change;
		while (change_size && ly_sqlite_lot_next(&at, end, &change)) {
			const unsigned char *later = at;
			open_lot next;
			bool superseded = false;
			while (!superseded && ly_sqlite_lot_next(&later, end, &next))
				superseded = next.id == change.id;
			int64_t remaining = 0;
			bool there = holds(applied, applied_size, change.id, &remaining);
			if (!superseded && (there != (change.remaining > 0) ||
					    (there && remaining != change.remaining)))
				abort();
		}
		if (run("SELECT json_array_length(ly_lots_json(?1))", applied, applied_size, NULL, 0,
			NULL, NULL) != SQLITE_ROW)
			abort();
	}
	sqlite3_free(applied);
	return 0;
}
