/* ledger_read.c - reading the ledger: balances, expiries, statements, transactions and
 * explanations. */
#include "engine/account.h"
#include "engine/cursor.h"
#include "engine/ledger.h"
#include "util/json.h"

#include <string.h>

#define DAY_MS INT64_C(86400000)

/* Checks a read's member and currency, opens a snapshot, and finds both. The caller ends the
 * snapshot with ly_store_read_end on every path once this succeeded. */
static int open_read(loyal_db *db, const char *member_id, const char *currency_name,
		     member_row *member, const currency_def **currency)
{
	int rc = ly_text_check(&db->error, member_id, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK && (currency_name || currency))
		rc = ly_text_check(&db->error, currency_name, "currency", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_store_read_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	if (currency_name)
		rc = ly_program_currency(db, currency_name, currency);
	bool found = false;
	if (rc == LOYAL_OK)
		rc = ly_store_member_find(db->store, member_id, member, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member_id);
	if (rc != LOYAL_OK)
		ly_store_read_end(db->store);
	return rc;
}

/* The account as of `at`, settled in memory only; with all_lots, every open lot is loaded. */
static int load_view(loyal_db *db, member_row *member, const currency_def *currency, int64_t at,
		     bool all_lots, account *acc)
{
	int rc = ly_account_load(db, member, currency, true, acc);
	if (rc == LOYAL_OK && all_lots)
		rc = ly_account_ensure_lots(acc);
	if (rc == LOYAL_OK)
		rc = ly_account_settle(acc, at, NULL);
	return rc;
}

/* Calls visit(expires_at, amount) for each expiry instant of the view's available points,
 * soonest first, until it returns false. The lots must be loaded. */
static void each_expiry(const account *acc, bool (*visit)(int64_t, int64_t, void *), void *ctx)
{
	if (acc->currency->expiry == EXPIRY_INACTIVITY) {
		if (acc->balance.available > 0)
			visit(acc->member->last_active_at + acc->currency->expiry_count * DAY_MS,
			      acc->balance.available, ctx);
		return;
	}
	for (size_t i = 0; i < acc->lots.count;) {
		const lot_row *lot = &acc->lots.items[i];
		int64_t when = lot->expires_at, amount = 0;
		for (; i < acc->lots.count && acc->lots.items[i].expires_at == when; i++)
			if (!acc->lots.items[i].pending_until)
				amount += acc->lots.items[i].remaining;
		if (when == INT64_MAX)
			return;
		if (amount > 0 && !visit(when, amount, ctx))
			return;
	}
}

static bool first_expiry(int64_t when, int64_t amount, void *ctx)
{
	loyal_balance *out = ctx;
	out->next_expiry_at = when;
	out->next_expiry_amount = amount;
	return false;
}

static int read_time(loyal_db *db, int64_t at, int64_t *out)
{
	if (at < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "at is negative");
	*out = at ? at : ly_db_now(db);
	return LOYAL_OK;
}

int ly_ledger_balance(loyal_db *db, const char *member, const char *currency, int64_t at,
		      loyal_balance *out)
{
	int rc = read_time(db, at, &at);
	member_row row;
	const currency_def *def = NULL;
	if (rc == LOYAL_OK)
		rc = open_read(db, member, currency, &row, &def);
	if (rc != LOYAL_OK)
		return rc;
	account acc;
	rc = load_view(db, &row, def, at, false, &acc);
	if (rc == LOYAL_OK) {
		*out = (loyal_balance){.version = LOYAL_BALANCE_VERSION,
				       .available = acc.balance.available,
				       .pending = acc.balance.pending,
				       .held = acc.balance.held,
				       .earned = acc.balance.earned,
				       .spent = acc.balance.spent,
				       .expired = acc.balance.expired};
		if (acc.currency->expiry == EXPIRY_INACTIVITY || acc.lots_loaded) {
			each_expiry(&acc, first_expiry, out);
		} else {
			bool found = false;
			/* Lots that expire after `at` are as the file has them. */
			rc = ly_store_next_expiry(db->store, row.id, def->id, at, &out->next_expiry_at,
					       &out->next_expiry_amount, &found);
		}
	}
	ly_account_release(&acc);
	ly_store_read_end(db->store);
	return rc;
}

typedef struct expiry_list {
	json_t *items;
	int limit;
	bool failed; /* out of memory */
} expiry_list;

static bool list_expiry(int64_t when, int64_t amount, void *ctx)
{
	expiry_list *list = ctx;
	list->failed |= json_array_append_new(list->items,
					      json_pack("{s:I,s:I}", "expires_at", (json_int_t)when,
							"amount", (json_int_t)amount)) != 0;
	return !list->failed && (int)json_array_size(list->items) < list->limit;
}

int ly_ledger_expiring(loyal_db *db, const char *member, const char *currency, int limit,
		       json_t **out)
{
	member_row row;
	const currency_def *def = NULL;
	int rc = open_read(db, member, currency, &row, &def);
	if (rc != LOYAL_OK)
		return rc;
	account acc;
	rc = load_view(db, &row, def, ly_db_now(db), true, &acc);
	expiry_list list = {.items = json_array(), .limit = limit};
	if (rc == LOYAL_OK && list.items)
		each_expiry(&acc, list_expiry, &list);
	if (rc == LOYAL_OK && list.failed)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory listing expiries");
	ly_account_release(&acc);
	ly_store_read_end(db->store);
	return ly_json_hand_over(rc, list.items, out);
}

/* ---- transactions as JSON ---- */

static json_t *txn_json(loyal_db *db, const txn_row *txn)
{
	const currency_def *currency = ly_program_currency_by_id(db, txn->currency);
	return json_pack("{s:I,s:s,s:s,s:I,s:I,s:s,s:s?,s:o,s:o}", "txn", (json_int_t)txn->id,
			 "kind", ly_txn_kind_name(txn->kind), "currency",
			 currency ? currency->name : "?", "amount", (json_int_t)txn->amount, "at",
			 (json_int_t)txn->at, "reason", txn->reason, "cause", txn->cause,
			 "reverses", ly_json_time_or_null(txn->reverses, 0), "counterpart",
			 ly_json_time_or_null(txn->counterpart, 0));
}

static json_t *account_name(int64_t number, const char *member)
{
	static const char *const member_kinds[] = {"available", "pending", "held"};
	static const char *const system_kinds[] = {"issued", "redeemed", "expired", "adjusted",
						   "transit"};
	if (number >= 0)
		return json_sprintf("%s:%s", member, member_kinds[number % 4 < 3 ? number % 4 : 0]);
	return json_sprintf("system:%s", -number <= 5 ? system_kinds[-number - 1] : "unknown");
}

/* Reads transaction id of member (0: whoever's) into *txn, with its entries and moves when
 * those are not NULL. */
static int load_txn(loyal_db *db, int64_t member, int64_t id, txn_row *txn, entry_vec *entries,
		    move_vec *moves)
{
	bool found = false;
	int rc = ly_store_txn_read(db->store, member, id, txn, entries, moves, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no transaction %lld", (long long)id);
	return rc;
}

int ly_ledger_transaction(loyal_db *db, int64_t id, json_t **out)
{
	int rc = ly_store_read_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	txn_row txn = {0};
	entry_vec entries = {0};
	move_vec moves = {0};
	char *member = NULL;
	rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = load_txn(db, 0, id, &txn, &entries, &moves);
	if (rc == LOYAL_OK)
		rc = ly_store_member_external_id(db->store, txn.member, &member);
	json_t *result = rc == LOYAL_OK ? txn_json(db, &txn) : NULL;
	json_t *entry_list = json_array(), *move_list = json_array();
	for (size_t i = 0; result && rc == LOYAL_OK && i < entries.count; i++)
		rc = ly_json_append(&db->error, entry_list,
			json_pack("{s:o,s:o,s:I}", "from",
				  account_name(entries.items[i].debit_account, member), "to",
				  account_name(entries.items[i].credit_account, member), "amount",
				  (json_int_t)entries.items[i].amount));
	for (size_t i = 0; result && rc == LOYAL_OK && i < moves.count; i++)
		rc = ly_json_append(&db->error, move_list,
				 json_pack("{s:I,s:I,s:s}", "lot", (json_int_t)moves.items[i].lot,
					   "amount", (json_int_t)moves.items[i].amount, "kind",
					   ly_move_kind_name(moves.items[i].kind)));
	if (result && rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "member", json_string(member));
	if (result && rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "requested", ly_json_time_or_null(txn.requested, 0));
	if (result && rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "entries", json_incref(entry_list));
	if (result && rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "moves", json_incref(move_list));
	json_decref(entry_list);
	json_decref(move_list);
	ly_store_read_end(db->store);
	ly_txn_row_clear(&txn);
	ly_entry_vec_free(&entries);
	ly_move_vec_free(&moves);
	ly_mem_free(member);
	return ly_json_hand_over(rc, result, out);
}

/* ---- statements ---- */

typedef struct statement_cursor {
	loyal_cursor base;
	int64_t member, currency; /* currency 0: all */
	int64_t next;             /* the next transaction to read, 0 at the end */
} statement_cursor;

static int statement_step(loyal_cursor *base, char **row)
{
	statement_cursor *cursor = (statement_cursor *)base;
	loyal_db *db = base->db;
	*row = NULL;
	while (cursor->next) {
		txn_row txn = {0};
		int rc = load_txn(db, cursor->member, cursor->next, &txn, NULL, NULL);
		if (rc != LOYAL_OK)
			return rc;
		cursor->next = txn.prev;
		bool wanted = !cursor->currency || txn.currency == cursor->currency;
		if (wanted && !ly_program_currency_by_id(db, txn.currency))
			rc = ly_program_refresh(db);
		json_t *value = wanted && rc == LOYAL_OK ? txn_json(db, &txn) : NULL;
		ly_txn_row_clear(&txn);
		if (rc != LOYAL_OK)
			return rc;
		if (wanted)
			return ly_json_emit(&db->error, value, row);
	}
	return LOYAL_OK;
}

int ly_ledger_statement(loyal_db *db, const char *member, const char *currency,
			int64_t before_txn, loyal_cursor **out)
{
	member_row row;
	const currency_def *def = NULL;
	int rc = currency ? open_read(db, member, currency, &row, &def)
		      : open_read(db, member, NULL, &row, NULL);
	if (rc != LOYAL_OK)
		return rc;
	int64_t start = row.last_txn;
	if (before_txn) {
		txn_row txn = {0};
		rc = load_txn(db, 0, before_txn, &txn, NULL, NULL);
		if (rc == LOYAL_OK && txn.member != row.id)
			rc = ly_db_fail(db, LOYAL_ENOTFOUND, "transaction %lld is not member '%s''s",
				     (long long)before_txn, member);
		start = txn.prev;
		ly_txn_row_clear(&txn);
	}
	ly_store_read_end(db->store);
	if (rc != LOYAL_OK)
		return rc;
	statement_cursor *cursor =
		(statement_cursor *)ly_cursor_new(db, sizeof *cursor, statement_step);
	if (!cursor)
		return db->error.code;
	cursor->member = row.id;
	cursor->currency = def ? def->id : 0;
	cursor->next = start;
	*out = &cursor->base;
	return LOYAL_OK;
}

/* ---- explanations ---- */

/* Builds the lots of the member in the currency from the moves of their transactions, oldest
 * first; lots is an object keyed by lot id. */
static int explain_lots(loyal_db *db, const member_row *member, int64_t currency, json_t *lots)
{
	int64_t *chain = NULL;
	size_t count = 0, capacity = 0;
	int rc = LOYAL_OK;
	for (int64_t id = member->last_txn; id && rc == LOYAL_OK;) {
		txn_row txn = {0};
		rc = load_txn(db, member->id, id, &txn, NULL, NULL);
		if (rc != LOYAL_OK)
			break;
		if (txn.currency == currency) {
			int64_t *slot = ly_vec_push(&chain, &count, &capacity, sizeof *chain);
			if (slot)
				*slot = txn.id;
			else
				rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory explaining a balance");
		}
		id = txn.prev;
		ly_txn_row_clear(&txn);
	}
	for (size_t i = count; i-- > 0 && rc == LOYAL_OK;) {
		txn_row txn = {0};
		move_vec moves = {0};
		rc = load_txn(db, member->id, chain[i], &txn, NULL, &moves);
		for (size_t k = 0; k < moves.count && rc == LOYAL_OK; k++) {
			const move_row *move = &moves.items[k];
			char key[24];
			snprintf(key, sizeof key, "%lld", (long long)move->lot);
			json_t *lot = json_object_get(lots, key);
			if (!lot) {
				lot_row row;
				bool found = false;
				rc = ly_store_lot_get(db->store, member->id, move->lot, &row, &found);
				if (rc != LOYAL_OK || !found)
					break;
				lot = json_pack("{s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:[]}", "lot",
						(json_int_t)row.id, "txn", (json_int_t)row.txn,
						"amount", (json_int_t)row.amount, "remaining",
						(json_int_t)row.remaining, "earned_at",
						(json_int_t)row.earned_at, "expires_at",
						ly_json_time_or_null(row.expires_at, INT64_MAX),
						"pending_until", ly_json_time_or_null(row.pending_until, 0),
						"history");
				if (json_object_set_new(lots, key, lot) != 0)
					rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory explaining");
			}
			if (rc == LOYAL_OK)
				rc = ly_json_append(&db->error, json_object_get(lot, "history"),
						 json_pack("{s:I,s:s,s:I,s:I}", "txn", (json_int_t)txn.id,
							"kind", ly_move_kind_name(move->kind), "amount",
							(json_int_t)move->amount, "at",
							(json_int_t)txn.at));
		}
		ly_move_vec_free(&moves);
		ly_txn_row_clear(&txn);
	}
	ly_mem_free(chain);
	return rc;
}

static int compare_lots(const void *a, const void *b)
{
	json_t *left = *(json_t *const *)a, *right = *(json_t *const *)b;
	json_t *left_expiry = json_object_get(left, "expires_at");
	json_t *right_expiry = json_object_get(right, "expires_at");
	json_int_t x = json_is_null(left_expiry) ? INT64_MAX : json_integer_value(left_expiry);
	json_int_t y = json_is_null(right_expiry) ? INT64_MAX : json_integer_value(right_expiry);
	if (x == y) {
		x = json_integer_value(json_object_get(left, "lot"));
		y = json_integer_value(json_object_get(right, "lot"));
	}
	return (x > y) - (x < y);
}

int ly_ledger_explain(loyal_db *db, const char *member, const char *currency, json_t **out)
{
	member_row row;
	const currency_def *def = NULL;
	int rc = open_read(db, member, currency, &row, &def);
	if (rc != LOYAL_OK)
		return rc;
	balance_row balance;
	json_t *by_id = json_object();
	rc = ly_store_balance_get(db->store, &row, def->id, &balance);
	if (rc == LOYAL_OK)
		rc = by_id ? explain_lots(db, &row, def->id, by_id)
			   : ly_db_fail(db, LOYAL_ENOMEM, "out of memory explaining");
	ly_store_read_end(db->store);
	size_t count = json_object_size(by_id), i = 0;
	json_t **sorted = rc == LOYAL_OK ? ly_mem_calloc(count, sizeof *sorted) : NULL;
	if (rc == LOYAL_OK && !sorted)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory explaining");
	const char *key;
	json_t *lot;
	json_object_foreach (by_id, key, lot)
		if (sorted)
			sorted[i++] = lot;
	json_t *result = NULL;
	if (rc == LOYAL_OK) {
		qsort(sorted, count, sizeof *sorted, compare_lots);
		json_t *lots = json_array();
		for (i = 0; lots && i < count; i++)
			if (json_array_append(lots, sorted[i])) {
				json_decref(lots);
				lots = NULL;
			}
		result = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:o}", "member", member, "currency",
				   currency, "available", (json_int_t)balance.available, "pending",
				   (json_int_t)balance.pending, "held", (json_int_t)balance.held,
				   "debt",
				   (json_int_t)(balance.available < 0 ? -balance.available : 0),
				   "lots", lots);
	}
	ly_mem_free(sorted);
	json_decref(by_id);
	return ly_json_hand_over(rc, result, out);
}
