/* history.c - a member as they stood at a past instant: balances and lots rebuilt from every
 * transaction dated by then (settled in memory as a balance read settles), the tier from the
 * tier history and the badges from the badge history. */
#include "engine/account.h"
#include "engine/badges.h"
#include "engine/history.h"
#include "util/json.h"
#include "util/vec.h"

#include <stdlib.h>

/* One lot move of the member's, at its transaction's effective instant. */
typedef struct past_move {
	int64_t lot, txn, currency, amount, kind, at;
} past_move;

/* An expiry the ledger dated at a lot's expiry, of points restored into the lot after that (a
 * refund of what was spent before the lot expired): it took effect at the restoration. */
typedef struct retimed {
	int64_t txn, at;
} retimed;

/* What the member's transactions dated by then add up to, all currencies together. */
typedef struct past {
	loyal_db *db;
	int64_t at;
	struct {
		balance_row *items;
		size_t count, capacity;
	} balances;
	struct {
		past_move *items;
		size_t count, capacity;
	} moves;
	struct {
		retimed *items; /* in transaction order */
		size_t count, capacity;
	} retimed;
	struct {
		hold_row *items;
		size_t count, capacity;
	} holds;
	struct {
		int64_t *items; /* the holds settled by then */
		size_t count, capacity;
	} settled;
	int64_t last_active_at; /* of the transactions that count as activity */
} past;

static void past_free(past *p)
{
	ly_mem_free(p->balances.items);
	ly_mem_free(p->moves.items);
	ly_mem_free(p->retimed.items);
	ly_mem_free(p->holds.items);
	ly_mem_free(p->settled.items);
}

static int out_of_memory(past *p)
{
	return ly_db_fail(p->db, LOYAL_ENOMEM, "out of memory rebuilding a member's past");
}

static balance_row *balance_of(past *p, int64_t member, int64_t currency)
{
	for (size_t i = 0; i < p->balances.count; i++)
		if (p->balances.items[i].currency == currency)
			return &p->balances.items[i];
	balance_row *row = VEC_PUSH(&p->balances);
	if (row)
		*row = (balance_row){.member = member, .currency = currency};
	return row;
}

/* Adds an entry's amount to the member's side of it: their accounts, and the lifetime totals of
 * what came from issuance or went to redemption or expiry (as the ledger's calls count them). */
static void apply_entry(balance_row *balance, int64_t member, const entry_row *entry, int sign)
{
	int64_t mine = sign > 0 ? entry->credit_account : entry->debit_account;
	int64_t other = sign > 0 ? entry->debit_account : entry->credit_account;
	int64_t amount = sign * entry->amount;
	if (mine < 0 || mine / 4 != member)
		return;
	switch (mine % 4) {
	case ACCOUNT_AVAILABLE: balance->available += amount; break;
	case ACCOUNT_PENDING: balance->pending += amount; break;
	case ACCOUNT_HELD: balance->held += amount; break;
	}
	if (other == SYSTEM_ISSUED)
		balance->earned += amount;
	else if (other == SYSTEM_REDEEMED)
		balance->spent -= amount;
	else if (other == SYSTEM_EXPIRED)
		balance->expired -= amount;
}

/* Whether a transaction of this kind counts as the member's activity (the ledger's calls that
 * touch it), for an inactivity policy. */
static bool is_activity(int64_t kind)
{
	return kind == TXN_CREDIT || kind == TXN_DEBIT || kind == TXN_HOLD || kind == TXN_CAPTURE ||
	       kind == TXN_TRANSFER_OUT;
}

static int compare_retimed(const void *a, const void *b)
{
	const retimed *x = a, *y = b;
	return (x->txn > y->txn) - (x->txn < y->txn);
}

/* When a transaction took effect: its date, or for a retimed expiry the restoration after. */
static int64_t effective_at(const past *p, const txn_row *txn)
{
	retimed key = {.txn = txn->id};
	const retimed *found = p->retimed.count ? bsearch(&key, p->retimed.items, p->retimed.count,
							  sizeof key, compare_retimed)
						: NULL;
	return found ? found->at : txn->at;
}

/* Adds what one transaction dated by then (at its effective instant) did to the balances, the
 * holds and the member's activity. */
static int add_txn(past *p, const member_row *member, const txn_row *txn, int64_t at,
		   const entry_vec *entries)
{
	balance_row *balance = balance_of(p, member->id, txn->currency);
	if (!balance)
		return out_of_memory(p);
	for (size_t i = 0; i < entries->count; i++) {
		apply_entry(balance, member->id, &entries->items[i], 1);
		apply_entry(balance, member->id, &entries->items[i], -1);
	}
	if (is_activity(txn->kind) && at > p->last_active_at)
		p->last_active_at = at;
	if (txn->kind == TXN_HOLD) {
		hold_row *hold = VEC_PUSH(&p->holds);
		if (!hold)
			return out_of_memory(p);
		*hold = (hold_row){.txn = txn->id, .member = member->id, .currency = txn->currency,
				   .amount = txn->amount};
	} else if ((txn->kind == TXN_CAPTURE || txn->kind == TXN_RELEASE) && txn->reverses) {
		int64_t *settled = VEC_PUSH(&p->settled);
		if (!settled)
			return out_of_memory(p);
		*settled = txn->reverses;
	}
	return LOYAL_OK;
}

/* Walks the member's whole chain of transactions, newest first: the moves of every one (with
 * `entries` NULL), or else what those dated by then did. */
static int read_chain(past *p, const member_row *member, bool entries_pass)
{
	int rc = LOYAL_OK;
	for (int64_t id = member->last_txn; id && rc == LOYAL_OK;) {
		txn_row txn = {0};
		entry_vec entries = {0};
		move_vec moves = {0};
		bool found = false;
		rc = ly_store_txn_read(p->db->store, member->id, id, &txn,
				       entries_pass ? &entries : NULL, entries_pass ? NULL : &moves,
				       &found);
		if (rc == LOYAL_OK && !found)
			rc = ly_db_fail(p->db, LOYAL_ECORRUPT,
					"transaction %lld of the member's chain is missing",
					(long long)id);
		for (size_t i = 0; rc == LOYAL_OK && i < moves.count; i++) {
			past_move *move = VEC_PUSH(&p->moves);
			if (!move)
				rc = out_of_memory(p);
			else
				*move = (past_move){.lot = moves.items[i].lot, .txn = txn.id,
						    .currency = txn.currency,
						    .amount = moves.items[i].amount,
						    .kind = moves.items[i].kind, .at = txn.at};
		}
		int64_t at = entries_pass ? effective_at(p, &txn) : 0;
		if (rc == LOYAL_OK && entries_pass && at <= p->at)
			rc = add_txn(p, member, &txn, at, &entries);
		id = txn.prev;
		ly_entry_vec_free(&entries);
		ly_move_vec_free(&moves);
		ly_txn_row_clear(&txn);
	}
	return rc;
}

static int compare_moves(const void *a, const void *b)
{
	const past_move *x = a, *y = b; /* by lot, then in the order they were made */
	if (x->lot != y->lot)
		return x->lot < y->lot ? -1 : 1;
	return (x->txn > y->txn) - (x->txn < y->txn);
}

/* Finds the expiries that took effect after the ledger dates them (points restored into a lot
 * after its expiry), and moves every move to its transaction's effective instant. The moves
 * must be sorted (compare_moves). */
static int retime_expiries(past *p)
{
	for (size_t i = 0; i < p->moves.count;) {
		int64_t lot = p->moves.items[i].lot, restored_at = INT64_MIN;
		for (; i < p->moves.count && p->moves.items[i].lot == lot; i++) {
			const past_move *move = &p->moves.items[i];
			if (move->kind == MOVE_RESTORE && move->at > restored_at)
				restored_at = move->at;
			else if (move->kind == MOVE_EXPIRE && move->at < restored_at) {
				retimed *slot = VEC_PUSH(&p->retimed);
				if (!slot)
					return out_of_memory(p);
				*slot = (retimed){.txn = move->txn, .at = restored_at};
			}
		}
	}
	if (p->retimed.count > 1)
		qsort(p->retimed.items, p->retimed.count, sizeof *p->retimed.items, compare_retimed);
	size_t kept = 0; /* one per transaction (it may expire several lots): the latest */
	for (size_t i = 0; i < p->retimed.count; i++) {
		if (kept && p->retimed.items[kept - 1].txn == p->retimed.items[i].txn) {
			if (p->retimed.items[i].at > p->retimed.items[kept - 1].at)
				p->retimed.items[kept - 1].at = p->retimed.items[i].at;
		} else {
			p->retimed.items[kept++] = p->retimed.items[i];
		}
	}
	p->retimed.count = kept;
	for (size_t i = 0; i < p->moves.count; i++) {
		txn_row txn = {.id = p->moves.items[i].txn, .at = p->moves.items[i].at};
		p->moves.items[i].at = effective_at(p, &txn);
	}
	return LOYAL_OK;
}

/* The lots of `currency` made by then, each with what it held then, in consumption order (lots
 * emptied by then included, so that a hold released later finds the lots it took from). */
static int build_lots(past *p, const member_row *member, int64_t currency, lot_vec *out)
{
	int rc = LOYAL_OK;
	for (size_t i = 0; i < p->moves.count && rc == LOYAL_OK;) {
		size_t end = i;
		bool created = false;
		int64_t remaining = 0, activated_at = 0;
		for (; end < p->moves.count && p->moves.items[end].lot == p->moves.items[i].lot; end++) {
			const past_move *move = &p->moves.items[end];
			if (move->kind == MOVE_ACTIVATE)
				activated_at = move->at;
			if (move->at <= p->at) {
				created |= move->kind == MOVE_CREATE;
				remaining += move->amount;
			}
		}
		if (!created || p->moves.items[i].currency != currency) {
			i = end;
			continue;
		}
		lot_row lot;
		bool found = false;
		rc = ly_store_lot_get(p->db->store, member->id, p->moves.items[i].lot, &lot, &found);
		if (rc == LOYAL_OK && !found)
			rc = ly_db_fail(p->db, LOYAL_ECORRUPT, "lot %lld of the member is missing",
					(long long)p->moves.items[i].lot);
		if (rc != LOYAL_OK)
			break;
		lot.remaining = remaining;
		/* A lot active today was pending until its activation, when that came after. */
		if (!lot.pending_until && activated_at > p->at)
			lot.pending_until = activated_at;
		else if (activated_at && activated_at <= p->at)
			lot.pending_until = 0;
		lot_row *slot = VEC_PUSH(out);
		if (!slot)
			rc = out_of_memory(p);
		else
			*slot = lot;
		i = end;
	}
	return rc;
}

static int compare_lots(const void *a, const void *b)
{
	const lot_row *x = a, *y = b;
	if (x->expires_at != y->expires_at)
		return x->expires_at < y->expires_at ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* The holds of `currency` open then (made by then, not settled by then), deadlines read. */
static int open_holds(past *p, int64_t currency, hold_row **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	size_t capacity = 0;
	for (size_t i = 0; i < p->holds.count; i++) {
		const hold_row *made = &p->holds.items[i];
		bool settled = made->currency != currency;
		for (size_t k = 0; k < p->settled.count && !settled; k++)
			settled = p->settled.items[k] == made->txn;
		if (settled)
			continue;
		hold_row stored;
		bool found = false;
		int rc = ly_store_hold_get(p->db->store, made->member, made->txn, &stored, &found);
		if (rc == LOYAL_OK && !found)
			rc = ly_db_fail(p->db, LOYAL_ECORRUPT, "hold %lld of the member is missing",
					(long long)made->txn);
		if (rc != LOYAL_OK)
			return rc;
		hold_row *slot = ly_vec_push(out, count, &capacity, sizeof **out);
		if (!slot)
			return out_of_memory(p);
		*slot = *made;
		slot->deadline = stored.deadline;
		slot->state = HOLD_OPEN;
	}
	return LOYAL_OK;
}

static json_t *lot_json(const lot_row *lot)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "lot", (json_int_t)lot->id, "txn",
			 (json_int_t)lot->txn, "amount", (json_int_t)lot->amount, "remaining",
			 (json_int_t)lot->remaining, "earned_at", (json_int_t)lot->earned_at,
			 "expires_at", ly_json_time_or_null(lot->expires_at, INT64_MAX),
			 "pending_until", ly_json_time_or_null(lot->pending_until, 0));
}

/* One currency's balance then, settled by then in memory, as JSON. */
static int balance_json(past *p, member_row *member, const balance_row *balance, json_t **out)
{
	const currency_def *currency = ly_program_currency_by_id(p->db, balance->currency);
	if (!currency)
		return ly_db_fail(p->db, LOYAL_ECORRUPT, "the ledger names currency %lld, which "
				  "the program lacks", (long long)balance->currency);
	account acc = {.db = p->db, .program = p->db->program, .currency = currency,
		       .member = member, .balance = *balance, .lots_loaded = true,
		       .dry_run = true, .past = true};
	acc.balance.due_at = 0; /* settle whatever fell due */
	hold_row *holds = NULL;
	int rc = build_lots(p, member, currency->id, &acc.lots);
	if (rc == LOYAL_OK)
		rc = open_holds(p, currency->id, &holds, &acc.past_hold_count);
	acc.past_holds = holds;
	if (rc == LOYAL_OK) {
		if (acc.lots.count > 1)
			qsort(acc.lots.items, acc.lots.count, sizeof *acc.lots.items, compare_lots);
		rc = ly_account_settle(&acc, p->at, NULL);
	}
	json_t *lots = rc == LOYAL_OK ? json_array() : NULL;
	for (size_t i = 0; lots && rc == LOYAL_OK && i < acc.lots.count; i++)
		if (acc.lots.items[i].remaining > 0)
			rc = ly_json_append(&p->db->error, lots, lot_json(&acc.lots.items[i]));
	json_t *result = NULL;
	if (rc == LOYAL_OK && lots)
		result = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:O}", "currency", currency->name,
				   "available", (json_int_t)acc.balance.available, "pending",
				   (json_int_t)acc.balance.pending, "held",
				   (json_int_t)acc.balance.held, "earned",
				   (json_int_t)acc.balance.earned, "spent",
				   (json_int_t)acc.balance.spent, "expired",
				   (json_int_t)acc.balance.expired, "lots", lots);
	if (rc == LOYAL_OK && !result)
		rc = out_of_memory(p);
	json_decref(lots);
	ly_mem_free(holds);
	ly_account_release(&acc);
	return ly_json_hand_over(rc, result, out);
}

/* The tier the member held then: the latest change made by then (in the order the changes were
 * made, which a back-dated event's does not reorder), or null. */
static int tier_json(loyal_db *db, const member_row *member, int64_t at, json_t **out)
{
	tier_change change = {0};
	bool found = true;
	int rc = LOYAL_OK;
	do
		rc = ly_store_tier_history_before(db->store, member->id, change.id, &change, &found);
	while (rc == LOYAL_OK && found && change.at > at);
	json_t *result = found ? json_pack("{s:s,s:I}", "tier", change.to, "since",
					   (json_int_t)change.at)
			       : json_null();
	return ly_json_hand_over(rc, result, out);
}

int ly_member_as_of(loyal_db *db, member_row *member, const char *member_id, int64_t at,
		    json_t **out)
{
	if (member->joined_at > at) {
		char when[LY_ISO_TIME_SIZE];
		ly_iso_time(at, when);
		return ly_db_fail(db, LOYAL_ENOTFOUND, "member '%s' had not joined by %s", member_id,
				  when);
	}
	past p = {.db = db, .at = at, .last_active_at = member->joined_at};
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = read_chain(&p, member, false);
	if (rc == LOYAL_OK) {
		if (p.moves.count > 1)
			qsort(p.moves.items, p.moves.count, sizeof *p.moves.items, compare_moves);
		rc = retime_expiries(&p);
	}
	if (rc == LOYAL_OK)
		rc = read_chain(&p, member, true);
	/* The member as they were then: an inactivity policy counts their activity by then, exact
	 * when they were not active since, else read from their own transactions. */
	member_row then = *member;
	then.last_active_at = member->last_active_at <= at ? member->last_active_at
							   : p.last_active_at;
	json_t *balances = json_array(), *tier = NULL, *badges = NULL;
	if (rc == LOYAL_OK && !balances)
		rc = out_of_memory(&p);
	for (size_t i = 0; rc == LOYAL_OK && i < p.balances.count; i++) {
		json_t *balance = NULL;
		rc = balance_json(&p, &then, &p.balances.items[i], &balance);
		if (rc == LOYAL_OK)
			rc = ly_json_append(&db->error, balances, balance);
	}
	if (rc == LOYAL_OK)
		rc = tier_json(db, member, at, &tier);
	if (rc == LOYAL_OK)
		rc = ly_badges_list(db, member, at, &badges);
	json_t *result = NULL;
	if (rc == LOYAL_OK) {
		result = json_pack("{s:s,s:I,s:O,s:O,s:O}", "member", member_id, "at", (json_int_t)at,
				   "balances", balances, "tier", tier, "badges", badges);
		if (!result)
			rc = out_of_memory(&p);
	}
	json_decref(balances);
	json_decref(tier);
	json_decref(badges);
	past_free(&p);
	return ly_json_hand_over(rc, result, out);
}
