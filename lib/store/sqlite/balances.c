/* balances.c - a member's balances, kept in the member's row (members.balances): one record per
 * currency, in currency order, of eight variable-length integers (currency id, available,
 * pending, held, earned, spent, expired, due_at; zigzag LEB128, due_at INT64_MAX as 0 and
 * others shifted by one), ~16 bytes for a typical balance; and the SQL functions through which
 * statements read and change them. The row is written by every call that changes a balance
 * anyway, so balances cost no B-tree page of their own. */
#include "store/sqlite/sqlite.h"

#include <stdlib.h>
#include <string.h>

enum { FIELDS = 8, MAX_RECORD = BALANCE_RECORD_MAX };

typedef struct record {
	int64_t field[FIELDS]; /* currency, available, pending, held, earned, spent, expired, due */
} record;

static size_t encode(const record *r, unsigned char *out)
{
	size_t n = 0;
	for (int i = 0; i < FIELDS; i++)
		n += ly_varint_put(out + n, r->field[i], i == FIELDS - 1);
	return n;
}

/* Reads the record at *at; false when the bytes are not one. */
static bool decode(const unsigned char **at, const unsigned char *end, record *out)
{
	for (int i = 0; i < FIELDS; i++)
		if (!ly_varint_get(at, end, i == FIELDS - 1, &out->field[i]))
			return false;
	return true;
}

bool ly_sqlite_balances_valid(const void *blob, size_t size)
{
	if (!blob) /* SQLite gives an empty blob as NULL */
		return size == 0;
	const unsigned char *at = blob, *end = at + size;
	int64_t last = INT64_MIN;
	record r;
	while (at < end) {
		if (!decode(&at, end, &r) || r.field[0] <= last)
			return false; /* currencies in increasing order, each once */
		last = r.field[0];
	}
	return true;
}

/* Finds currency's record in a valid blob: true with *out filled and *offset, *length its
 * bytes; false with *offset where it would go. */
static bool find(const unsigned char *blob, size_t size, int64_t currency, record *out,
		 size_t *offset, size_t *length)
{
	const unsigned char *at = blob, *end = blob + size;
	while (at < end) {
		const unsigned char *start = at;
		decode(&at, end, out);
		*offset = (size_t)(start - blob);
		*length = (size_t)(at - start);
		if (out->field[0] >= currency)
			return out->field[0] == currency;
	}
	*offset = size;
	*length = 0;
	return false;
}

bool ly_sqlite_balances_get(const void *blob, size_t size, int64_t currency, balance_row *out)
{
	record r;
	size_t offset, length;
	if (!blob || !find(blob, size, currency, &r, &offset, &length))
		return false;
	int64_t *fields[] = {&out->available, &out->pending, &out->held, &out->earned,
			     &out->spent,     &out->expired, &out->due_at};
	for (int i = 0; i < FIELDS - 1; i++)
		*fields[i] = r.field[i + 1];
	return true;
}

/* The blob argument of a function: NULL with an error set when it is damaged. */
static const unsigned char *blob_argument(sqlite3_context *context, sqlite3_value *value,
					  size_t *size)
{
	const unsigned char *blob = sqlite3_value_blob(value);
	*size = (size_t)sqlite3_value_bytes(value);
	if (ly_sqlite_balances_valid(blob, *size))
		return blob ? blob : (const unsigned char *)"";
	sqlite3_result_error(context, "a member's balances are damaged", -1);
	sqlite3_result_error_code(context, SQLITE_CORRUPT);
	return NULL;
}

/* ly_balance(balances, currency, field): field 0 available ... 5 expired, 6 due_at of the
 * currency's record, or NULL when there is none. */
static void balance_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	size_t size, offset, length;
	const unsigned char *blob = blob_argument(context, argv[0], &size);
	int field = sqlite3_value_int(argv[2]);
	record r;
	if (!blob)
		return;
	if (find(blob, size, sqlite3_value_int64(argv[1]), &r, &offset, &length) && field >= 0 &&
	    field < FIELDS - 1)
		sqlite3_result_int64(context, r.field[field + 1]);
	else
		sqlite3_result_null(context);
}

size_t ly_sqlite_balances_set(const unsigned char *blob, size_t size, const balance_row *balance,
			      unsigned char *out)
{
	record r;
	size_t offset = 0, length = 0;
	find(blob, size, balance->currency, &r, &offset, &length);
	if (offset < size && r.field[0] != balance->currency)
		length = 0; /* inserted before the record found */
	r = (record){{balance->currency, balance->available, balance->pending, balance->held,
		      balance->earned, balance->spent, balance->expired, balance->due_at}};
	memcpy(out, blob, offset);
	size_t n = encode(&r, out + offset);
	memcpy(out + offset + n, blob + offset + length, size - offset - length);
	return size - length + n;
}

int64_t ly_sqlite_balances_due(const unsigned char *blob, size_t size)
{
	int64_t due = INT64_MAX;
	const unsigned char *at = blob, *end = blob + size;
	record r;
	while (at < end && decode(&at, end, &r))
		due = r.field[FIELDS - 1] < due ? r.field[FIELDS - 1] : due;
	return due;
}

/* ly_balance_set(balances, currency, available, pending, held, earned, spent, expired, due_at):
 * the blob with that currency's record replaced, or inserted in order. */
static void balance_set_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	size_t size;
	const unsigned char *blob = blob_argument(context, argv[0], &size);
	if (!blob)
		return;
	balance_row b = {.currency = sqlite3_value_int64(argv[1]),
			 .available = sqlite3_value_int64(argv[2]),
			 .pending = sqlite3_value_int64(argv[3]),
			 .held = sqlite3_value_int64(argv[4]),
			 .earned = sqlite3_value_int64(argv[5]),
			 .spent = sqlite3_value_int64(argv[6]),
			 .expired = sqlite3_value_int64(argv[7]),
			 .due_at = sqlite3_value_int64(argv[8])};
	unsigned char *out = sqlite3_malloc64(size + BALANCE_RECORD_MAX);
	if (!out) {
		sqlite3_result_error_nomem(context);
		return;
	}
	size_t grown = ly_sqlite_balances_set(blob, size, &b, out);
	sqlite3_result_blob64(context, out, grown, sqlite3_free);
}

/* ly_balances_pack(currency, available, ..., due_at), an aggregate: the blob of the group's
 * records (given in any order, each currency once). */
static void pack_step(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	record *r = ly_sqlite_aggregate_push(context, sizeof *r);
	for (int i = 0; r && i < FIELDS; i++)
		r->field[i] = sqlite3_value_int64(argv[i]);
}

static int by_currency(const void *a, const void *b)
{
	int64_t x = ((const record *)a)->field[0], y = ((const record *)b)->field[0];
	return (x > y) - (x < y);
}

static void pack_final(sqlite3_context *context)
{
	aggregate_rows *p = sqlite3_aggregate_context(context, 0);
	record *records = p ? p->items : NULL;
	unsigned char *bytes = p && p->count ? sqlite3_malloc64(p->count * MAX_RECORD) : NULL;
	if (p && p->count && !bytes)
		sqlite3_result_error_nomem(context);
	else if (!bytes)
		sqlite3_result_zeroblob(context, 0);
	if (bytes) {
		qsort(records, p->count, sizeof *records, by_currency);
		size_t size = 0;
		for (size_t i = 0; i < p->count; i++)
			size += encode(&records[i], bytes + size);
		sqlite3_result_blob64(context, bytes, size, sqlite3_free);
	}
	if (p)
		sqlite3_free(p->items);
}

int ly_sqlite_balance_functions(sqlite3 *sql)
{
	static const sql_function functions[] = {
		{"ly_balance", 3, balance_function, NULL, NULL},
		{"ly_balance_set", 9, balance_set_function, NULL, NULL},
		{"ly_balances_pack", 8, NULL, pack_step, pack_final},
	};
	return ly_sqlite_add_functions(sql, functions, sizeof functions / sizeof *functions);
}
