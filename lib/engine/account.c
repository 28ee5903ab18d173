/* account.c - a member's balance and lots in one currency: consuming, crediting, restoring and
 * settling lots, and posting the transactions that record it. */
#include "engine/account.h"
#include "engine/outbox.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DAY_MS INT64_C(86400000)

const char *ly_txn_kind_name(int64_t kind)
{
	static const char *const names[] = {"?", "credit", "debit", "adjust", "transfer_out",
					    "transfer_in", "hold", "capture", "release", "expire",
					    "activate", "reversal"};
	return kind > 0 && kind <= TXN_REVERSAL ? names[kind] : "unknown";
}

const char *ly_move_kind_name(int64_t kind)
{
	static const char *const names[] = {"create", "consume", "restore", "clawback",
					    "expire", "repay", "activate"};
	return kind >= 0 && kind <= MOVE_ACTIVATE ? names[kind] : "unknown";
}

int64_t ly_account_number(int64_t member, int kind)
{
	return member * 4 + kind;
}

int ly_account_load(loyal_db *db, member_row *member, const currency_def *currency, bool dry_run,
		 account *out)
{
	*out = (account){.db = db, .program = db->program, .currency = currency, .member = member,
			 .dry_run = dry_run};
	int rc = ly_store_balance_get(db->store, member, currency->id, &out->balance);
	out->saved_due_at = out->balance.due_at;
	if (rc != LOYAL_OK)
		ly_account_release(out);
	return rc;
}

static bool lot_before(const lot_row *a, const lot_row *b)
{
	return a->expires_at < b->expires_at || (a->expires_at == b->expires_at && a->id < b->id);
}

/* Inserts lot into lots in consumption order: where it is, or NULL without memory. */
static lot_row *insert_sorted(lot_vec *lots, const lot_row *lot)
{
	if (!VEC_PUSH(lots))
		return NULL;
	size_t at = lots->count - 1;
	while (at > 0 && lot_before(lot, &lots->items[at - 1])) {
		lots->items[at] = lots->items[at - 1];
		at--;
	}
	lots->items[at] = *lot;
	return &lots->items[at];
}

/* Puts lot into lots, replacing the one of its id; a lot without points left, or expiring
 * after `through`, is only taken out. False without memory. */
static bool put_lot(lot_vec *lots, const lot_row *lot, int64_t through)
{
	size_t at = 0;
	while (at < lots->count && lots->items[at].id != lot->id)
		at++;
	if (at < lots->count) {
		memmove(&lots->items[at], &lots->items[at + 1],
			(lots->count - at - 1) * sizeof *lots->items);
		lots->count--;
	}
	return lot->remaining <= 0 || lot->expires_at > through || insert_sorted(lots, lot);
}

/* Remembers a lot's latest state, to be saved with the balance. */
static int note_unsaved(account *acc, const lot_row *lot)
{
	for (size_t i = 0; i < acc->unsaved.count; i++)
		if (acc->unsaved.items[i].id == lot->id) {
			acc->unsaved.items[i] = *lot;
			return LOYAL_OK;
		}
	lot_row *slot = VEC_PUSH(&acc->unsaved);
	if (!slot)
		return ly_db_fail(acc->db, LOYAL_ENOMEM, "out of memory posting a transaction");
	*slot = *lot;
	return LOYAL_OK;
}

/* Replaces the in-memory lots with the open lots that expire by `through`: the file's, as the
 * lots posted or changed since the balance was saved left them. */
static int load_lots(account *acc, int64_t through)
{
	if (acc->lots_partial) /* the settled lots would be lost */
		return ly_db_fail(acc->db, LOYAL_EINTERNAL,
			       "the lots of a settled read were about to be loaded again");
	lot_vec loaded = {0};
	int rc = ly_store_lots_open(acc->db->store, acc->member->id, acc->currency->id, through, &loaded);
	for (size_t i = 0; i < acc->unsaved.count && rc == LOYAL_OK; i++)
		if (!put_lot(&loaded, &acc->unsaved.items[i], through))
			rc = ly_db_fail(acc->db, LOYAL_ENOMEM, "out of memory loading lots");
	if (rc != LOYAL_OK) {
		ly_lot_vec_free(&loaded);
		return rc;
	}
	ly_lot_vec_free(&acc->lots);
	acc->lots = loaded;
	return LOYAL_OK;
}

int ly_account_ensure_lots(account *acc)
{
	if (acc->lots_loaded)
		return LOYAL_OK;
	/* Lots this call created are in the file already: the load brings them too. */
	int rc = load_lots(acc, INT64_MAX);
	acc->lots_loaded = rc == LOYAL_OK;
	return rc;
}

/* When something next falls due: the soonest open lot's activation or expiry, the soonest open
 * hold's deadline, or the inactivity deadline. Exact when the lots are loaded. */
static int compute_due(account *acc, int64_t *out)
{
	int64_t due = INT64_MAX, holds = INT64_MAX;
	for (size_t i = 0; i < acc->lots.count; i++) {
		const lot_row *lot = &acc->lots.items[i];
		int64_t when = lot->pending_until ? lot->pending_until : lot->expires_at;
		if (lot->remaining > 0 && when < due)
			due = when;
	}
	int rc = ly_store_holds_next_deadline(acc->db->store, acc->member->id, acc->currency->id, &holds);
	due = holds < due ? holds : due;
	if (acc->currency->expiry == EXPIRY_INACTIVITY &&
	    (acc->balance.available > 0 || acc->balance.pending > 0)) {
		int64_t idle = acc->member->last_active_at + acc->currency->expiry_count * DAY_MS;
		due = idle < due ? idle : due;
	}
	*out = due;
	return rc;
}

/* Lowers the due bound for something new that falls due at `when`. */
static void due_no_later_than(account *acc, int64_t when)
{
	if (when < acc->balance.due_at)
		acc->balance.due_at = when;
}

void ly_account_release(account *acc)
{
	ly_lot_vec_free(&acc->lots);
	ly_lot_vec_free(&acc->unsaved);
}

int ly_account_save(account *acc)
{
	if (acc->dry_run)
		return LOYAL_OK;
	int rc = LOYAL_OK;
	if (acc->lots_loaded)
		rc = compute_due(acc, &acc->balance.due_at);
	else if (acc->currency->expiry == EXPIRY_INACTIVITY)
		due_no_later_than(acc, acc->member->last_active_at +
					       acc->currency->expiry_count * DAY_MS);
	if (rc == LOYAL_OK)
		rc = ly_store_balance_put(acc->db->store, acc->member, &acc->balance,
					  acc->balance.due_at != acc->saved_due_at, acc->unsaved.items,
					  acc->unsaved.count);
	if (rc == LOYAL_OK) {
		acc->saved_due_at = acc->balance.due_at;
		acc->unsaved.count = 0;
	}
	return rc;
}

/* Inserts a lot into the account's vector, keeping consumption order; a lot not loaded yet
 * only lowers the due bound (loading will bring it). */
static lot_row *insert_lot(account *acc, const lot_row *lot)
{
	if (!acc->lots_loaded) {
		due_no_later_than(acc, lot->pending_until ? lot->pending_until : lot->expires_at);
		return (lot_row *)lot;
	}
	lot_row *at = insert_sorted(&acc->lots, lot);
	if (!at)
		ly_db_fail(acc->db, LOYAL_ENOMEM, "out of memory loading lots");
	return at;
}

lot_row *ly_account_lot(account *acc, int64_t id)
{
	if (ly_account_ensure_lots(acc) != LOYAL_OK)
		return NULL;
	for (size_t i = 0; i < acc->lots.count; i++)
		if (acc->lots.items[i].id == id)
			return &acc->lots.items[i];
	lot_row lot;
	bool found = false;
	if (ly_store_lot_get(acc->db->store, acc->member->id, id, &lot, &found) != LOYAL_OK)
		return NULL;
	if (!found || lot.member != acc->member->id || lot.currency != acc->currency->id) {
		ly_db_fail(acc->db, LOYAL_ECORRUPT, "lot %lld is missing or not the member's",
			(long long)id);
		return NULL;
	}
	return insert_lot(acc, &lot);
}

int64_t ly_account_lot_total(const account *acc)
{
	int64_t total = 0;
	for (size_t i = 0; i < acc->lots.count; i++)
		if (!acc->lots.items[i].pending_until)
			total += acc->lots.items[i].remaining;
	return total;
}

/* ---- drafts ---- */

void ly_draft_start(draft *d, account *acc, int kind, int64_t at, const char *reason,
		 const char *cause)
{
	*d = (draft){.acc = acc};
	d->row = (txn_row){.member = acc->member->id, .currency = acc->currency->id, .kind = kind,
			   .at = at, .reason = (char *)reason, .cause = (char *)cause};
}

void ly_draft_hold(draft *d, const hold_row *hold, enum hold_change change)
{
	d->hold = *hold;
	d->hold_change = change;
}

void ly_draft_release(draft *d)
{
	ly_move_vec_free(&d->moves);
	ly_lot_vec_free(&d->new_lots);
}

int ly_draft_entry(draft *d, int64_t debit, int64_t credit, int64_t amount)
{
	if (amount == 0)
		return LOYAL_OK;
	for (size_t i = 0; i < d->entry_count; i++) {
		entry_row *entry = &d->entries[i];
		if (entry->debit_account == debit && entry->credit_account == credit)
			return ly_add_checked(&d->acc->db->error, &entry->amount, amount, "an entry");
	}
	if (d->entry_count == DRAFT_MAX_ENTRIES)
		return ly_db_fail(d->acc->db, LOYAL_EINTERNAL, "too many entries in one transaction");
	d->entries[d->entry_count++] = (entry_row){.currency = d->acc->currency->id,
						   .debit_account = debit,
						   .credit_account = credit,
						   .amount = amount};
	return LOYAL_OK;
}

int ly_draft_move(draft *d, int64_t lot, int64_t amount, int kind)
{
	move_row *move = VEC_PUSH(&d->moves);
	if (!move)
		return ly_db_fail(d->acc->db, LOYAL_ENOMEM, "out of memory recording lot moves");
	*move = (move_row){.lot = lot, .amount = amount, .kind = kind};
	return LOYAL_OK;
}

lot_row *ly_draft_new_lot(draft *d, int64_t amount, int64_t earned_at, int64_t expires_at,
		       int64_t pending_until)
{
	lot_row *lot = VEC_PUSH(&d->new_lots);
	if (!lot || ly_draft_move(d, -(int64_t)d->new_lots.count, amount, MOVE_CREATE) != LOYAL_OK) {
		if (lot)
			d->new_lots.count--;
		ly_db_fail(d->acc->db, LOYAL_ENOMEM, "out of memory creating a lot");
		return NULL;
	}
	*lot = (lot_row){.member = d->acc->member->id, .currency = d->acc->currency->id,
			 .amount = amount, .remaining = amount, .earned_at = earned_at,
			 .expires_at = expires_at, .pending_until = pending_until};
	return lot;
}

static void put_u64(unsigned char **cursor, uint64_t value)
{
	for (int i = 0; i < 8; i++)
		*(*cursor)++ = (unsigned char)(value >> (8 * i));
}

static void put_text(unsigned char **cursor, const char *text)
{
	size_t length = text ? strlen(text) : 0;
	put_u64(cursor, text ? length : UINT64_MAX);
	memcpy(*cursor, text ? text : "", length);
	*cursor += length;
}

/* One link of verify's walk of the hash chains. */
static int check_link(void *ctx, int64_t id, int64_t prev_hash)
{
	loyal_db *db = ctx;
	txn_row txn = {0};
	entry_vec entries = {0};
	bool found = false;
	int rc = ly_store_txn_read(db->store, 0, id, &txn, &entries, NULL, &found);
	if (rc == LOYAL_OK &&
	    (entries.count > DRAFT_MAX_ENTRIES ||
	     ly_txn_chain_hash(prev_hash, &txn, entries.items, entries.count) != txn.hash))
		rc = ly_db_fail(db, LOYAL_ECORRUPT,
				"invariant 3: transaction %lld does not match its hash: it was changed "
				"after it was written",
				(long long)id);
	ly_txn_row_clear(&txn);
	ly_entry_vec_free(&entries);
	return rc;
}

int ly_account_check_chains(loyal_db *db)
{
	int rc = ly_store_each_txn_link(db->store, check_link, db);
	if (rc == LOYAL_ECORRUPT)
		ly_store_mark_damaged(db->store);
	return rc;
}

int64_t ly_txn_chain_hash(int64_t prev_hash, const txn_row *txn, const entry_row *entries,
		       size_t entry_count)
{
	/* Texts are at most 256 bytes each (checked on input); entries at most DRAFT_MAX. */
	unsigned char buffer[8 * 12 + 2 * (8 + 1024) + DRAFT_MAX_ENTRIES * 32];
	unsigned char *cursor = buffer;
	const int64_t fields[] = {prev_hash,     txn->member,    txn->currency,
				  txn->kind,     txn->amount,    txn->at,
				  txn->reverses, txn->requested, txn->counterpart,
				  txn->prev};
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		put_u64(&cursor, (uint64_t)fields[i]);
	put_text(&cursor, txn->reason);
	put_text(&cursor, txn->cause);
	for (size_t i = 0; i < entry_count && i < DRAFT_MAX_ENTRIES; i++) {
		put_u64(&cursor, (uint64_t)entries[i].currency);
		put_u64(&cursor, (uint64_t)entries[i].debit_account);
		put_u64(&cursor, (uint64_t)entries[i].credit_account);
		put_u64(&cursor, (uint64_t)entries[i].amount);
	}
	return (int64_t)XXH3_64bits(buffer, (size_t)(cursor - buffer));
}

/* Notes the existing lots d's moves changed, as they are now, to be saved with the balance. */
static int note_changed_lots(draft *d)
{
	int rc = LOYAL_OK;
	for (size_t i = 0; i < d->moves.count && rc == LOYAL_OK; i++) {
		int64_t id = d->moves.items[i].lot;
		if (id < 0) /* a new lot: noted once the posting gives it its id */
			continue;
		const lot_row *lot = ly_account_lot(d->acc, id);
		rc = lot ? note_unsaved(d->acc, lot) : d->acc->db->error.code;
	}
	return rc;
}

/* Announces an expiry always, and the credits, debits and reversals of a currency whose
 * postings the program announces. */
static int announce_posting(account *acc, const txn_row *txn)
{
	const char *kind = NULL;
	int64_t amount = txn->amount;
	switch (txn->kind) {
	case TXN_EXPIRE:
		kind = "points_expired";
		break;
	case TXN_CREDIT:
	case TXN_TRANSFER_IN:
		kind = "points_credited";
		break;
	case TXN_DEBIT:
	case TXN_CAPTURE:
	case TXN_TRANSFER_OUT:
		kind = "points_spent";
		break;
	case TXN_ADJUST:
		kind = amount < 0 ? "points_spent" : "points_credited";
		amount = amount < 0 ? -amount : amount;
		break;
	case TXN_REVERSAL:
		kind = "points_reversed";
		break;
	default:
		return LOYAL_OK;
	}
	if (txn->kind != TXN_EXPIRE && !acc->currency->announce_postings)
		return LOYAL_OK;
	json_t *body = txn->kind == TXN_EXPIRE
			       ? json_pack("{s:s,s:I,s:I}", "currency", acc->currency->name, "amount",
					   (json_int_t)amount, "txn", (json_int_t)txn->id)
			       : json_pack("{s:s,s:I,s:I,s:s,s:s?}", "currency", acc->currency->name,
					   "amount", (json_int_t)amount, "txn", (json_int_t)txn->id,
					   "kind", ly_txn_kind_name(txn->kind), "reason",
					   txn->reason);
	return ly_outbox_add(acc->db, acc->member->id, kind, txn->at, body);
}

int ly_draft_post(draft *d)
{
	account *acc = d->acc;
	loyal_db *db = acc->db;
	d->row.prev = acc->member->last_txn;
	d->row.hash = ly_txn_chain_hash(acc->member->last_hash, &d->row, d->entries, d->entry_count);
	if (acc->dry_run) {
		for (size_t i = 0; i < d->new_lots.count; i++)
			if (!insert_lot(acc, &d->new_lots.items[i]))
				return db->error.code;
		return LOYAL_OK;
	}
	store_posting posting = {.txn = &d->row,
				 .entries = d->entries,
				 .entry_count = d->entry_count,
				 .new_lots = d->new_lots.items,
				 .new_lot_count = d->new_lots.count,
				 .moves = d->moves.items,
				 .move_count = d->moves.count,
				 .hold = &d->hold,
				 .hold_change = d->hold_change};
	int rc = note_changed_lots(d);
	if (rc == LOYAL_OK)
		rc = ly_store_post(db->store, &posting);
	for (size_t i = 0; i < d->new_lots.count && rc == LOYAL_OK; i++) {
		rc = note_unsaved(acc, &d->new_lots.items[i]);
		if (rc == LOYAL_OK && !insert_lot(acc, &d->new_lots.items[i]))
			rc = db->error.code;
	}
	if (rc == LOYAL_OK)
		rc = announce_posting(acc, &d->row);
	if (rc == LOYAL_OK) {
		acc->member->last_txn = d->row.id;
		acc->member->last_hash = d->row.hash;
	}
	return rc;
}

/* ---- lot operations ---- */

int ly_account_consume(draft *d, int64_t amount, int kind, int64_t skip_lot, int64_t *taken)
{
	account *acc = d->acc;
	*taken = 0;
	int loaded = ly_account_ensure_lots(acc);
	if (loaded != LOYAL_OK)
		return loaded;
	for (size_t i = 0; i < acc->lots.count && *taken < amount; i++) {
		lot_row *lot = &acc->lots.items[i];
		if (lot->pending_until || lot->remaining <= 0 || lot->id == skip_lot)
			continue;
		int64_t part = amount - *taken < lot->remaining ? amount - *taken : lot->remaining;
		lot->remaining -= part;
		*taken += part;
		int rc = ly_draft_move(d, lot->id, -part, kind);
		if (rc != LOYAL_OK)
			return rc;
	}
	return LOYAL_OK;
}

int ly_account_credit_lot(draft *d, int64_t amount, int64_t earned_at, int64_t expires_at)
{
	account *acc = d->acc;
	lot_row *lot = ly_draft_new_lot(d, amount, earned_at, expires_at, 0);
	if (!lot)
		return acc->db->error.code;
	int64_t debt = acc->balance.available < 0 ? -acc->balance.available : 0;
	int64_t repay = debt < amount ? debt : amount;
	if (repay) {
		lot->remaining -= repay;
		int rc = ly_draft_move(d, -(int64_t)d->new_lots.count, -repay, MOVE_REPAY);
		if (rc != LOYAL_OK)
			return rc;
	}
	return ly_add_checked(&acc->db->error, &acc->balance.available, amount, "the available balance");
}

int ly_account_restore(draft *d, int64_t source, int64_t skip, int64_t amount)
{
	account *acc = d->acc;
	move_vec consumed = {0};
	bool found = false;
	int rc = ly_store_txn_read(acc->db->store, acc->member->id, source, NULL, NULL, &consumed,
				   &found);
	for (size_t i = consumed.count; i-- > 0 && amount > 0 && rc == LOYAL_OK;) {
		move_row *move = &consumed.items[i];
		if (move->kind != MOVE_CONSUME)
			continue;
		int64_t piece = -move->amount;
		int64_t skipped = skip < piece ? skip : piece;
		skip -= skipped;
		piece -= skipped;
		int64_t part = piece < amount ? piece : amount;
		if (part <= 0)
			continue;
		lot_row *lot = ly_account_lot(acc, move->lot);
		if (!lot) {
			rc = acc->db->error.code;
			break;
		}
		lot->remaining += part;
		amount -= part;
		rc = ly_draft_move(d, lot->id, part, MOVE_RESTORE);
	}
	ly_move_vec_free(&consumed);
	if (rc == LOYAL_OK && amount > 0)
		rc = ly_db_fail(acc->db, LOYAL_ECORRUPT,
			     "transaction %lld consumed fewer points than are being restored",
			     (long long)source);
	return rc;
}

int ly_account_repay_debt(draft *d)
{
	account *acc = d->acc;
	int rc = ly_account_ensure_lots(acc);
	if (rc != LOYAL_OK)
		return rc;
	int64_t should_hold = acc->balance.available > 0 ? acc->balance.available : 0;
	int64_t excess = ly_account_lot_total(acc) - should_hold;
	int64_t taken = 0;
	return excess > 0 ? ly_account_consume(d, excess, MOVE_REPAY, 0, &taken) : rc;
}

/* ---- settling ---- */

static int64_t member_account(const account *acc, int kind)
{
	return ly_account_number(acc->member->id, kind);
}

static int activate_due(account *acc, int64_t at, bool *changed)
{
	if (acc->balance.pending <= 0)
		return LOYAL_OK; /* no lot is pending (invariant 2) */
	draft d;
	ly_draft_start(&d, acc, TXN_ACTIVATE, at, "activation", NULL);
	int64_t total = 0;
	int rc = LOYAL_OK;
	for (size_t i = 0; i < acc->lots.count && rc == LOYAL_OK; i++) {
		lot_row *lot = &acc->lots.items[i];
		if (!lot->pending_until || lot->pending_until > at || lot->remaining <= 0)
			continue;
		lot->pending_until = 0;
		total += lot->remaining;
		rc = ly_draft_move(&d, lot->id, 0, MOVE_ACTIVATE);
	}
	if (rc == LOYAL_OK && total) {
		acc->balance.pending -= total;
		d.row.amount = total;
		rc = ly_add_checked(&acc->db->error, &acc->balance.available, total, "the available balance");
		if (rc == LOYAL_OK)
			rc = ly_account_repay_debt(&d);
		if (rc == LOYAL_OK)
			rc = ly_draft_entry(&d, member_account(acc, ACCOUNT_PENDING),
					 member_account(acc, ACCOUNT_AVAILABLE), total);
		if (rc == LOYAL_OK)
			rc = ly_draft_post(&d);
		*changed = true;
	}
	ly_draft_release(&d);
	return rc;
}

/* The member's hold opened by `txn`: the file's, or in a reconstruction of the past the one
 * open then. */
static int find_hold(const account *acc, int64_t txn, hold_row *out, bool *found)
{
	if (!acc->past)
		return ly_store_hold_get(acc->db->store, acc->member->id, txn, out, found);
	*found = false;
	for (size_t i = 0; i < acc->past_hold_count && !*found; i++)
		if (acc->past_holds[i].txn == txn) {
			*out = acc->past_holds[i];
			*found = true;
		}
	return LOYAL_OK;
}

static int compare_due(const void *a, const void *b)
{
	const int64_t *x = a, *y = b; /* by deadline, then by transaction */
	if (x[1] != y[1])
		return x[1] < y[1] ? -1 : 1;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The open holds of the account whose deadline is <= at, soonest first, as (txn, deadline)
 * pairs (*count integers): the file's, or in a reconstruction of the past those open then. */
static int holds_due(const account *acc, int64_t at, int64_t **due, size_t *count)
{
	if (!acc->past)
		return ly_store_holds_due(acc->db->store, acc->member->id, acc->currency->id, at, due,
					  count);
	*due = NULL;
	*count = 0;
	if (!acc->past_hold_count)
		return LOYAL_OK;
	*due = ly_mem_calloc(acc->past_hold_count, 2 * sizeof **due);
	if (!*due)
		return ly_db_fail(acc->db, LOYAL_ENOMEM, "out of memory settling holds");
	for (size_t i = 0; i < acc->past_hold_count; i++)
		if (acc->past_holds[i].deadline <= at) {
			(*due)[(*count)++] = acc->past_holds[i].txn;
			(*due)[(*count)++] = acc->past_holds[i].deadline;
		}
	if (*count > 2)
		qsort(*due, *count / 2, 2 * sizeof **due, compare_due);
	return LOYAL_OK;
}

/* Releases the holds of due[*next...] whose deadline is <= at; due holds (txn, deadline) pairs
 * in deadline order. */
static int release_overdue_holds(account *acc, int64_t at, const int64_t *due, size_t count,
				 size_t *next, bool *changed)
{
	int rc = LOYAL_OK;
	for (; *next < count && due[2 * *next + 1] <= at && rc == LOYAL_OK; (*next)++) {
		hold_row hold;
		bool found = false;
		rc = find_hold(acc, due[2 * *next], &hold, &found);
		if (rc != LOYAL_OK || !found)
			break;
		draft d;
		ly_draft_start(&d, acc, TXN_RELEASE, at, "deadline", NULL);
		rc = ly_account_release_hold(d.acc, &hold, HOLD_EXPIRED, &d);
		/* One repayment after all the releases, so that their order does not matter. */
		bool last = *next + 1 == count || due[2 * (*next + 1) + 1] > at;
		if (rc == LOYAL_OK && last)
			rc = ly_account_repay_debt(&d);
		ly_draft_hold(&d, &hold, HOLD_SETTLES);
		if (rc == LOYAL_OK)
			rc = ly_draft_post(&d);
		ly_draft_release(&d);
		*changed = true;
	}
	return rc;
}

int ly_account_release_hold(account *acc, hold_row *hold, int state, draft *d)
{
	int64_t released = hold->amount - hold->captured;
	d->row.reverses = hold->txn;
	d->row.amount = released;
	int rc = ly_account_restore(d, hold->txn, 0, released);
	if (rc == LOYAL_OK)
		rc = ly_draft_entry(d, member_account(acc, ACCOUNT_HELD),
				 member_account(acc, ACCOUNT_AVAILABLE), released);
	if (rc == LOYAL_OK) {
		acc->balance.held -= released;
		acc->balance.available += released;
		hold->state = state;
	}
	return rc;
}

static int expire_lots(account *acc, int64_t at, bool whole_balance, bool *changed)
{
	draft d;
	ly_draft_start(&d, acc, TXN_EXPIRE, at, whole_balance ? "inactivity" : "expiry", NULL);
	int64_t total = 0;
	int rc = LOYAL_OK;
	for (size_t i = 0; i < acc->lots.count && rc == LOYAL_OK; i++) {
		lot_row *lot = &acc->lots.items[i];
		if (!whole_balance && lot->expires_at > at)
			break; /* the lots are in expiry order */
		if (lot->pending_until || lot->remaining <= 0)
			continue;
		total += lot->remaining;
		rc = ly_draft_move(&d, lot->id, -lot->remaining, MOVE_EXPIRE);
		lot->remaining = 0;
	}
	if (rc == LOYAL_OK && total) {
		acc->balance.available -= total;
		acc->balance.expired += total;
		d.row.amount = total;
		rc = ly_draft_entry(&d, member_account(acc, ACCOUNT_AVAILABLE), SYSTEM_EXPIRED, total);
		if (rc == LOYAL_OK)
			rc = ly_draft_post(&d);
		*changed = true;
	}
	ly_draft_release(&d);
	return rc;
}

/* The next instant <= at when something is due, or INT64_MAX. */
static int64_t next_due(const account *acc, const int64_t *holds, size_t hold_count,
			size_t next_hold)
{
	int64_t when = next_hold < hold_count ? holds[2 * next_hold + 1] : INT64_MAX;
	for (size_t i = 0; i < acc->lots.count; i++) {
		const lot_row *lot = &acc->lots.items[i];
		if (lot->remaining <= 0)
			continue;
		int64_t due = lot->pending_until ? lot->pending_until : lot->expires_at;
		when = due < when ? due : when;
		/* The lots are in expiry order, so the first active one expires soonest; with no
		 * points pending (invariant 2), no later lot falls due before it. */
		if (!lot->pending_until && acc->balance.pending <= 0)
			break;
	}
	if (acc->currency->expiry == EXPIRY_INACTIVITY && ly_account_lot_total(acc) > 0) {
		int64_t idle = acc->member->last_active_at + acc->currency->expiry_count * DAY_MS;
		when = idle < when ? idle : when;
	}
	return when;
}

/* Settling replays what fell due in time order, each at its own instant, so that the outcome
 * never depends on when (or how often) an account is settled. */
int ly_account_settle(account *acc, int64_t at, bool *changed)
{
	if (changed)
		*changed = false;
	if (at < acc->balance.due_at)
		return LOYAL_OK; /* nothing falls due yet: no need to look at the lots */
	int64_t *holds = NULL;
	size_t hold_count = 0, next_hold = 0;
	int rc = holds_due(acc, at, &holds, &hold_count);
	hold_count /= 2;
	/* A dry run that only expires lots, each on its own date (nothing pending, no hold to
	 * release, no inactivity policy), changes no lot expiring after `at`: it loads the lots
	 * expiring by then, and the rest stay as the file has them. A read of an account not
	 * swept for a while then loads the lots fallen due, not all its open ones. */
	bool expiry_only = acc->dry_run && !acc->lots_loaded && acc->balance.pending <= 0 &&
			   hold_count == 0 && acc->currency->expiry != EXPIRY_INACTIVITY;
	if (rc == LOYAL_OK && expiry_only) {
		rc = load_lots(acc, at);
		acc->lots_partial = rc == LOYAL_OK;
	} else if (rc == LOYAL_OK) {
		rc = ly_account_ensure_lots(acc);
	}
	bool any = false;
	while (rc == LOYAL_OK) {
		int64_t when = next_due(acc, holds, hold_count, next_hold);
		if (when > at)
			break;
		rc = release_overdue_holds(acc, when, holds, hold_count, &next_hold, &any);
		if (rc == LOYAL_OK)
			rc = activate_due(acc, when, &any);
		if (rc == LOYAL_OK && acc->currency->expiry == EXPIRY_INACTIVITY &&
		    acc->member->last_active_at + acc->currency->expiry_count * DAY_MS <= when)
			rc = expire_lots(acc, when, true, &any);
		if (rc == LOYAL_OK)
			rc = expire_lots(acc, when, false, &any);
	}
	ly_mem_free(holds);
	if (changed)
		*changed = any;
	return rc;
}
