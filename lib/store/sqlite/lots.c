/* lots.c - a member's open lots, kept in the member's row (members.lots): one record per lot
 * with points left, ordered by currency, expiry instant and id, of five variable-length
 * integers (currency id, lot id, remaining, expires_at as an instant, pending_until), about 15
 * bytes a lot; and the SQL functions through which statements change and read them. The lots
 * table keeps each lot's unchanging facts (amount, transaction, when earned) and its moves
 * keep its history; the row, written by every call that changes a balance anyway, spares the
 * lots an index of their own. */
#include "store/sqlite/sqlite.h"

#include <stdlib.h>
#include <string.h>

enum { LOT_FIELDS = 5, MAX_LOT = LOT_FIELDS * 10 };

static size_t encode(const open_lot *lot, unsigned char *out)
{
	size_t n = ly_varint_put(out, lot->currency, false);
	n += ly_varint_put(out + n, lot->id, false);
	n += ly_varint_put(out + n, lot->remaining, false);
	n += ly_varint_put(out + n, lot->expires_at, true);
	return n + ly_varint_put(out + n, lot->pending_until, false);
}

bool ly_sqlite_lot_next(const unsigned char **at, const unsigned char *end, open_lot *out)
{
	return *at < end && ly_varint_get(at, end, false, &out->currency) &&
	       ly_varint_get(at, end, false, &out->id) &&
	       ly_varint_get(at, end, false, &out->remaining) &&
	       ly_varint_get(at, end, true, &out->expires_at) &&
	       ly_varint_get(at, end, false, &out->pending_until);
}

/* Consumption order within a member: currency, then soonest expiry, then oldest. */
static int compare(const open_lot *a, const open_lot *b)
{
	if (a->currency != b->currency)
		return a->currency < b->currency ? -1 : 1;
	if (a->expires_at != b->expires_at)
		return a->expires_at < b->expires_at ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static int compare_items(const void *a, const void *b)
{
	return compare(a, b);
}

/* Reads the record at *at into *lot, checking it is one and follows *last (the record before
 * it, whose id is 0 for none), which it becomes. */
static bool next_checked(const unsigned char **at, const unsigned char *end, open_lot *lot,
			 open_lot *last)
{
	if (!ly_sqlite_lot_next(at, end, lot) || lot->currency <= 0 || lot->id <= 0 ||
	    lot->remaining <= 0 || lot->pending_until < 0 || (last->id && compare(last, lot) >= 0))
		return false;
	*last = *lot;
	return true;
}

lots_cursor ly_sqlite_lots_cursor(const void *blob, size_t size)
{
	const unsigned char *at = blob ? blob : (const unsigned char *)"";
	/* SQLite gives an empty blob as NULL */
	return (lots_cursor){.at = at, .end = at + (blob ? size : 0), .damaged = !blob && size};
}

bool ly_sqlite_lots_read(lots_cursor *c, open_lot *out)
{
	if (c->damaged || c->at >= c->end)
		return false;
	c->damaged = !next_checked(&c->at, c->end, out, &c->last);
	return !c->damaged;
}

bool ly_sqlite_lots_valid(const void *blob, size_t size)
{
	lots_cursor c = ly_sqlite_lots_cursor(blob, size);
	open_lot lot;
	while (ly_sqlite_lots_read(&c, &lot))
		;
	return !c.damaged;
}

unsigned char *ly_sqlite_lot_changes(const lot_row *lots, size_t count, size_t *size)
{
	unsigned char *out = sqlite3_malloc64(count ? count * MAX_LOT : 1);
	*size = 0;
	for (size_t i = 0; out && i < count; i++) {
		open_lot lot = {lots[i].currency, lots[i].id, lots[i].remaining, lots[i].expires_at,
				lots[i].pending_until};
		*size += encode(&lot, out + *size);
	}
	return out;
}

/* Encodes lots (sorted) as the function's result. */
static void result_lots(sqlite3_context *context, const open_lot *lots, size_t count)
{
	unsigned char *bytes = sqlite3_malloc64(count ? count * MAX_LOT : 1);
	if (!bytes) {
		sqlite3_result_error_nomem(context);
		return;
	}
	size_t size = 0;
	for (size_t i = 0; i < count; i++)
		size += encode(&lots[i], bytes + size);
	sqlite3_result_blob64(context, bytes, size, sqlite3_free);
}

/* Sets the function's error for damaged lots. */
static void damaged(sqlite3_context *context)
{
	sqlite3_result_error(context, "a member's open lots are damaged", -1);
	sqlite3_result_error_code(context, SQLITE_CORRUPT);
}

/* ly_lots_apply(lots, changes): the lots with each change applied in turn (a change replaces
 * the lot of its id, or adds it, or with remaining 0 takes it out). One pass over the stored
 * records, which are checked as they are copied: a credit costs a copy of the member's lots,
 * not a sort. */
static void apply_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	/* SQLite gives an empty blob as NULL. */
	const unsigned char *blob = sqlite3_value_blob(argv[0]);
	size_t size = blob ? (size_t)sqlite3_value_bytes(argv[0]) : 0;
	const unsigned char *changes = sqlite3_value_blob(argv[1]);
	size_t change_size = changes ? (size_t)sqlite3_value_bytes(argv[1]) : 0;
	blob = blob ? blob : (const unsigned char *)"";
	changes = changes ? changes : (const unsigned char *)"";
	/* The changes, the last of each id kept, in consumption order. */
	open_lot *put = sqlite3_malloc64((change_size / LOT_FIELDS + 1) * sizeof *put);
	unsigned char *out = put ? sqlite3_malloc64(size + (change_size / LOT_FIELDS + 1) * MAX_LOT)
				 : NULL;
	if (!out) {
		sqlite3_free(put);
		sqlite3_result_error_nomem(context);
		return;
	}
	size_t count = 0;
	const unsigned char *at = changes, *end = changes + change_size;
	open_lot change;
	bool whole = true;
	while (whole && at < end) {
		whole = ly_sqlite_lot_next(&at, end, &change) && change.currency > 0 && change.id > 0 &&
			change.remaining >= 0 && change.pending_until >= 0;
		size_t i = 0;
		while (whole && i < count && put[i].id != change.id)
			i++;
		if (whole) {
			put[i] = change;
			count += i == count;
		}
	}
	if (!whole) {
		sqlite3_free(put);
		sqlite3_free(out);
		sqlite3_result_error(context, "a lot change is not whole", -1);
		sqlite3_result_error_code(context, SQLITE_MISUSE);
		return;
	}
	qsort(put, count, sizeof *put, compare_items);
	size_t written = 0, next = 0;
	open_lot lot, last = {0};
	at = blob;
	end = blob + size;
	while (at < end) {
		const unsigned char *start = at;
		if (!next_checked(&at, end, &lot, &last)) {
			sqlite3_free(put);
			sqlite3_free(out);
			damaged(context);
			return;
		}
		for (; next < count && compare(&put[next], &lot) <= 0; next++)
			if (put[next].remaining > 0)
				written += encode(&put[next], out + written);
		bool changed = false;
		for (size_t i = 0; i < count && !changed; i++)
			changed = put[i].id == lot.id;
		if (!changed) {
			memcpy(out + written, start, (size_t)(at - start));
			written += (size_t)(at - start);
		}
	}
	for (; next < count; next++)
		if (put[next].remaining > 0)
			written += encode(&put[next], out + written);
	sqlite3_free(put);
	sqlite3_result_blob64(context, out, written, sqlite3_free);
}

/* ly_lots_json(lots): [[currency, id, remaining, expires_at, pending_until], ...]. */
static void json_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	const unsigned char *blob = sqlite3_value_blob(argv[0]);
	size_t size = (size_t)sqlite3_value_bytes(argv[0]);
	if (!ly_sqlite_lots_valid(blob, size)) {
		damaged(context);
		return;
	}
	const unsigned char *at = blob ? blob : (const unsigned char *)"", *end = at + size;
	sqlite3_str *text = sqlite3_str_new(NULL);
	sqlite3_str_appendchar(text, 1, '[');
	open_lot lot;
	for (bool first = true; ly_sqlite_lot_next(&at, end, &lot); first = false)
		sqlite3_str_appendf(text, "%s[%lld,%lld,%lld,%lld,%lld]", first ? "" : ",",
				    (long long)lot.currency, (long long)lot.id,
				    (long long)lot.remaining, (long long)lot.expires_at,
				    (long long)lot.pending_until);
	sqlite3_str_appendchar(text, 1, ']');
	int rc = sqlite3_str_errcode(text);
	char *json = sqlite3_str_finish(text);
	if (rc != SQLITE_OK || !json) {
		sqlite3_free(json);
		sqlite3_result_error_nomem(context);
		return;
	}
	sqlite3_result_text(context, json, -1, sqlite3_free);
}

/* ly_lots_pack(currency, id, remaining, expires_at, pending_until), an aggregate: the blob of
 * the group's lots with points left (given in any order). */
static void pack_step(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_int64(argv[2]) <= 0)
		return;
	open_lot *lot = ly_sqlite_aggregate_push(context, sizeof *lot);
	if (lot)
		*lot = (open_lot){sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1]),
				  sqlite3_value_int64(argv[2]), sqlite3_value_int64(argv[3]),
				  sqlite3_value_int64(argv[4])};
}

static void pack_final(sqlite3_context *context)
{
	aggregate_rows *p = sqlite3_aggregate_context(context, 0);
	if (p && p->failed) {
		sqlite3_result_error_nomem(context);
	} else if (p) {
		qsort(p->items, p->count, sizeof(open_lot), compare_items);
		result_lots(context, p->items, p->count);
	} else {
		sqlite3_result_zeroblob(context, 0);
	}
	if (p)
		sqlite3_free(p->items);
}

int ly_sqlite_lot_functions(sqlite3 *sql)
{
	static const sql_function functions[] = {
		{"ly_lots_apply", 2, apply_function, NULL, NULL},
		{"ly_lots_json", 1, json_function, NULL, NULL},
		{"ly_lots_pack", 5, NULL, pack_step, pack_final},
	};
	return ly_sqlite_add_functions(sql, functions, sizeof functions / sizeof *functions);
}
