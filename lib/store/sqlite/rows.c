/* rows.c - the SQLite backend's helpers for stepping statements and reading rows. */
#include "store/sqlite/sqlite.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Steps a statement expected to return at most one row; *found tells whether it did. On error
 * the statement is reset and the error recorded. The caller resets after reading the row. */
int ly_sqlite_step_one(store *s, sqlite3_stmt *stmt, bool *found, const char *doing)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*found = true;
		return LOYAL_OK;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	*found = false;
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, doing);
}

void ly_sqlite_finish(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Copies a text column; *out is NULL for SQL NULL. */
int ly_sqlite_column_text(store *s, sqlite3_stmt *stmt, int column, char **out)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	*out = NULL;
	if (!text)
		return sqlite3_column_type(stmt, column) == SQLITE_NULL
			       ? LOYAL_OK
			       : ly_fail(s->error, LOYAL_ENOMEM, "out of memory reading a text column");
	*out = ly_mem_strdup((const char *)text);
	return *out ? LOYAL_OK : ly_fail(s->error, LOYAL_ENOMEM, "out of memory copying a text column");
}

int ly_sqlite_column_blob(store *s, sqlite3_stmt *stmt, int column, void **out, size_t *size)
{
	const void *bytes = sqlite3_column_blob(stmt, column);
	int length = sqlite3_column_bytes(stmt, column);
	*out = NULL;
	*size = 0;
	if (!bytes && length) /* SQLite gives an empty blob as NULL */
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory reading a blob column");
	if (!(*out = ly_mem_alloc((size_t)length)))
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory copying a blob column");
	if (length)
		memcpy(*out, bytes, (size_t)length);
	*size = (size_t)length;
	return LOYAL_OK;
}

int64_t ly_sqlite_last_rowid(store *s)
{
	return sqlite3_last_insert_rowid(sq(s)->sql);
}

int ly_sqlite_next_id(store *s, enum store_statement id, const char *sql, int64_t *next,
		      int64_t *out, const char *doing)
{
	/* No other connection inserts while this one holds the write lock: the ids after the
	 * largest are this transaction's to hand out. */
	if (!*next) {
		STMT(id, sql);
		bool found;
		int rc = ly_sqlite_step_one(s, stmt, &found, doing);
		if (rc != LOYAL_OK)
			return rc;
		*next = sqlite3_column_int64(stmt, 0);
		ly_sqlite_finish(stmt);
	}
	*out = (*next)++;
	return LOYAL_OK;
}

int ly_sqlite_push_failed(store *s)
{
	return ly_fail(s->error, LOYAL_ENOMEM, "out of memory loading rows");
}

/* Collects the first integer column of every row into a growing array. */
int ly_sqlite_collect_ints(store *s, sqlite3_stmt *stmt, int columns, int64_t **out,
			size_t *count, const char *doing)
{
	size_t capacity = 0;
	*out = NULL;
	*count = 0;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int column = 0; column < columns; column++) {
			int64_t *slot = ly_vec_push(out, count, &capacity, sizeof **out);
			if (!slot) {
				ly_sqlite_finish(stmt);
				ly_mem_free(*out);
				*out = NULL;
				return ly_sqlite_push_failed(s);
			}
			*slot = sqlite3_column_int64(stmt, column);
		}
	}
	ly_sqlite_finish(stmt);
	if (rc == SQLITE_DONE)
		return LOYAL_OK;
	ly_mem_free(*out);
	*out = NULL;
	return ly_sqlite_error(s, rc, doing);
}

void ly_sqlite_copy_column(sqlite3_stmt *stmt, int column, char *out, size_t size)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	size_t length = text ? (size_t)sqlite3_column_bytes(stmt, column) : 0;
	length = length < size ? length : size - 1;
	if (length)
		memcpy(out, text, length);
	out[length] = '\0';
}

void ly_sqlite_read_member_row(sqlite3_stmt *stmt, member_row *out)
{
	out->id = sqlite3_column_int64(stmt, 0);
	out->joined_at = sqlite3_column_int64(stmt, 1);
	out->status = sqlite3_column_int64(stmt, 2);
	out->last_active_at = sqlite3_column_int64(stmt, 3);
	out->last_txn = sqlite3_column_int64(stmt, 4);
	out->last_hash = sqlite3_column_int64(stmt, 5);
	out->timezone[0] = '\0';
	if (sqlite3_column_type(stmt, 6) == SQLITE_TEXT &&
	    (size_t)sqlite3_column_bytes(stmt, 6) < sizeof out->timezone)
		ly_sqlite_copy_column(stmt, 6, out->timezone, sizeof out->timezone);
	ly_sqlite_copy_column(stmt, 7, out->tier, sizeof out->tier);
	ly_sqlite_member_stored(out);
	ly_sqlite_member_balances(out, sqlite3_column_blob(stmt, 8),
				  (size_t)sqlite3_column_bytes(stmt, 8));
}

void ly_sqlite_member_balances(member_row *member, const void *blob, size_t size)
{
	member->balances.cached = size <= sizeof member->balances.bytes;
	member->balances.size = member->balances.cached ? (uint16_t)size : 0;
	if (member->balances.cached && size)
		memcpy(member->balances.bytes, blob, size);
}

void ly_sqlite_member_stored(member_row *member)
{
	member->stored.status = member->status;
	member->stored.last_active_at = member->last_active_at;
	member->stored.last_txn = member->last_txn;
	member->stored.last_hash = member->last_hash;
}

store_total ly_sqlite_column_total(sqlite3_stmt *stmt, int column)
{
	if (sqlite3_column_type(stmt, column) != SQLITE_TEXT)
		return sqlite3_column_int64(stmt, column);
	const char *digits = (const char *)sqlite3_column_text(stmt, column);
	bool negative = digits && *digits == '-';
	store_total total = 0;
	for (const char *at = digits + negative; digits && *at >= '0' && *at <= '9'; at++)
		total = total * 10 + (negative ? -(*at - '0') : *at - '0');
	return total;
}

int ly_sqlite_add_functions(sqlite3 *sql, const sql_function *functions, size_t count)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, rc = SQLITE_OK;
	for (size_t i = 0; rc == SQLITE_OK && i < count; i++)
		rc = sqlite3_create_function_v2(sql, functions[i].name, functions[i].args, flags,
						NULL, functions[i].call, functions[i].step,
						functions[i].final, NULL);
	return rc;
}

void *ly_sqlite_aggregate_push(sqlite3_context *context, size_t size)
{
	aggregate_rows *rows = sqlite3_aggregate_context(context, sizeof *rows);
	unsigned char *grown = rows && !rows->failed
				       ? sqlite3_realloc64(rows->items, (rows->count + 1) * size)
				       : NULL;
	if (!grown) {
		if (rows)
			rows->failed = true;
		sqlite3_result_error_nomem(context);
		return NULL;
	}
	rows->items = grown;
	memset(grown + rows->count * size, 0, size);
	return grown + rows->count++ * size;
}
