/* ledger.c - the ledger's writing calls: checking postings, idempotency, and each operation. */
#include "engine/account.h"
#include "engine/activity.h"
#include "engine/idempotency.h"
#include "engine/ledger.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)
/* How far ahead of the clock a posting may be dated. */

static const char *const op_names[] = {"credit", "debit",   "adjust",  "transfer",
				       "hold",   "capture", "release", "reverse"};

/* The optional fields each operation reads; any other must be left zero. */
enum { F_PENDING = 1, F_EXPIRES = 2, F_TO = 4, F_DEADLINE = 8, F_TXN = 16, F_AMOUNT = 32 };
static const unsigned op_fields[] = {
	[OP_CREDIT] = F_AMOUNT | F_PENDING | F_EXPIRES,
	[OP_DEBIT] = F_AMOUNT,
	[OP_ADJUST] = F_AMOUNT,
	[OP_TRANSFER] = F_AMOUNT | F_TO,
	[OP_HOLD] = F_AMOUNT | F_DEADLINE,
	[OP_CAPTURE] = F_AMOUNT | F_TXN,
	[OP_RELEASE] = F_TXN,
	[OP_REVERSE] = F_AMOUNT | F_TXN,
};

/* One writing call in progress. */
typedef struct call {
	loyal_db *db;
	const loyal_posting *posting;
	enum ledger_op op;
	int64_t at;
	int64_t event; /* a credit for a tracked event's rule: the event */
	const currency_def *currency;
	member_row member;
	int64_t txn, amount; /* the outcome */
	bool replayed;
} call;

static int check_posting(call *c)
{
	loyal_db *db = c->db;
	const loyal_posting *p = c->posting;
	unsigned fields = op_fields[c->op];
	const char *name = op_names[c->op];
	if (p->version < 1 || p->version > LOYAL_POSTING_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.version is %u; this library knows 1-%d",
			       p->version, LOYAL_POSTING_VERSION);
	if (ly_posting_flags(p) & ~LOYAL_DRY_RUN)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.flags has unknown bits (0x%x)",
				  ly_posting_flags(p));
	int rc = ly_text_check(&db->error, p->member, "posting.member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, p->currency, "posting.currency", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, p->idempotency_key, "posting.idempotency_key", true,
				TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, p->reason, "posting.reason", c->op == OP_ADJUST, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, p->cause, "posting.cause", false, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, p->to_member, "posting.to_member", fields & F_TO,
				TEXT_MAX_BYTES);
	if (rc != LOYAL_OK)
		return rc;
	const struct {
		unsigned field;
		bool set;
		const char *label;
	} extras[] = {{F_PENDING, p->pending_ms != 0, "pending_ms"},
		      {F_EXPIRES, p->expires_at != 0, "expires_at"},
		      {F_TO, p->to_member != NULL, "to_member"},
		      {F_DEADLINE, p->deadline != 0, "deadline"},
		      {F_TXN, p->txn != 0, "txn"}};
	for (size_t i = 0; i < sizeof extras / sizeof *extras; i++)
		if (extras[i].set && !(fields & extras[i].field))
			return ly_db_fail(db, LOYAL_EINVAL, "posting.%s does not apply to a %s",
				       extras[i].label, name);
	int rc_at = ly_db_time(db, p->at, "posting.at", &c->at);
	if (rc_at != LOYAL_OK)
		return rc_at;
	bool amount_zero_means_all = c->op == OP_CAPTURE || c->op == OP_REVERSE;
	if (!(fields & F_AMOUNT) && p->amount != 0)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.amount does not apply to a %s", name);
	if ((fields & F_AMOUNT) &&
	    (c->op == OP_ADJUST ? p->amount == 0
				: (p->amount < 0 || (p->amount == 0 && !amount_zero_means_all))))
		return ly_db_fail(db, LOYAL_EINVAL, "posting.amount is %lld; a %s needs %s",
			       (long long)p->amount, name,
			       c->op == OP_ADJUST ? "a non-zero amount" : "a positive amount");
	if (c->op == OP_ADJUST && p->amount == INT64_MIN)
		return ly_db_fail(db, LOYAL_EOVERFLOW, "posting.amount is out of range");
	if (p->pending_ms < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.pending_ms is negative");
	if (p->pending_ms > INT64_MAX - c->at)
		return ly_db_fail(db, LOYAL_EOVERFLOW, "posting.pending_ms is out of range");
	if (p->expires_at && p->expires_at <= c->at)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.expires_at must be after posting.at");
	if ((fields & F_DEADLINE) && p->deadline <= c->at)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.deadline must be after posting.at");
	if ((fields & F_TXN) && p->txn <= 0)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.txn must name a transaction (> 0)");
	if ((fields & F_TO) && strcmp(p->to_member, p->member) == 0)
		return ly_db_fail(db, LOYAL_EINVAL, "posting.to_member is the sender '%s'", p->member);
	return LOYAL_OK;
}

/* The request as stored with its idempotency key: every field the operation reads. */
static char *request_text(const call *c)
{
	const loyal_posting *p = c->posting;
	json_t *request = json_pack("[s,s,s,I,s?,s?,I,I,I,s?,I,I]", op_names[c->op], p->member,
				    p->currency, (json_int_t)p->amount, p->reason, p->cause,
				    (json_int_t)p->at, (json_int_t)p->pending_ms,
				    (json_int_t)p->expires_at, p->to_member,
				    (json_int_t)p->deadline, (json_int_t)p->txn);
	char *text = request ? json_dumps(request, JSON_COMPACT) : NULL;
	json_decref(request);
	return text;
}

bool ly_ledger_sticky(int rc)
{
	return rc == LOYAL_EINSUFFICIENT || rc == LOYAL_EBLOCKED || rc == LOYAL_ESTATE ||
	       rc == LOYAL_EOVERFLOW || rc == LOYAL_ESOLDOUT || rc == LOYAL_ELIMIT ||
	       rc == LOYAL_ENOTELIGIBLE;
}

int ly_ledger_end_call(loyal_db *db, int rc)
{
	if (rc != LOYAL_OK && !ly_ledger_sticky(rc)) {
		ly_store_rollback(db->store);
		return rc;
	}
	/* The outcome is recorded: commit it, keeping its code and message. */
	char message[sizeof db->error.message];
	memcpy(message, db->error.message, sizeof message);
	int committed = ly_store_commit(db->store);
	if (committed != LOYAL_OK)
		return committed;
	memcpy(db->error.message, message, sizeof message);
	db->error.code = rc;
	return rc;
}

static int blocked(call *c, const member_row *member, const char *id)
{
	return member->status == MEMBER_BLOCKED
		       ? ly_db_fail(c->db, LOYAL_EBLOCKED, "member '%s' is blocked", id)
		       : LOYAL_OK;
}

static int spendable(call *c)
{
	return c->currency->spendable
		       ? LOYAL_OK
		       : ly_db_fail(c->db, LOYAL_EINVAL, "currency '%s' is earn-only: it cannot be %s",
				 c->currency->name,
				 c->op == OP_TRANSFER ? "transferred"
				 : c->op == OP_HOLD   ? "held"
						      : "debited");
}

static void touch(member_row *member, int64_t at)
{
	if (at > member->last_active_at)
		member->last_active_at = at;
}

static int64_t member_account(const account *acc, int kind)
{
	return ly_account_number(acc->member->id, kind);
}

static const char *reason_or(const call *c, const char *fallback)
{
	return c->posting->reason ? c->posting->reason : fallback;
}

/* Loads the account and brings it to the later of the call's time and the clock: what has
 * fallen due by now (expiries, activations, hold deadlines) has fallen due for a back-dated
 * write too, so that its outcome never depends on whether a sweep ran. On failure nothing is
 * left to release. */
static int open_account(call *c, member_row *member, account *acc)
{
	int rc = ly_account_load(c->db, member, c->currency, false, acc);
	if (rc != LOYAL_OK)
		return rc;
	int64_t now = ly_db_now(c->db);
	rc = ly_account_settle(acc, c->at > now ? c->at : now, NULL);
	if (rc != LOYAL_OK)
		ly_account_release(acc);
	return rc;
}

static int insufficient(call *c, const account *acc, int64_t needed)
{
	return ly_db_fail(c->db, LOYAL_EINSUFFICIENT,
		       "member '%s' has %lld available %s; %lld needed", c->posting->member,
		       (long long)acc->balance.available, c->currency->name, (long long)needed);
}

/* Posts d and saves the account; the call's outcome is d's transaction. */
static int finish(call *c, account *acc, draft *d, int64_t amount)
{
	int rc = ly_draft_post(d);
	if (rc == LOYAL_OK)
		rc = ly_account_save(acc);
	c->txn = d->row.id;
	c->amount = amount;
	return rc;
}

/* ---- operations ---- */

static int do_credit(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	int rc = blocked(c, &c->member, p->member);
	if (rc != LOYAL_OK)
		return rc;
	int64_t expires_at = p->expires_at ? p->expires_at
					   : ly_program_expiry(acc->program, c->currency, c->at);
	ly_draft_start(d, acc, TXN_CREDIT, c->at, reason_or(c, "credit"), p->cause);
	d->row.event = c->event;
	d->row.amount = p->amount;
	rc = ly_add_checked(&c->db->error, &acc->balance.earned, p->amount, "lifetime earned points");
	if (rc == LOYAL_OK && p->pending_ms) {
		if (!ly_draft_new_lot(d, p->amount, c->at, expires_at, c->at + p->pending_ms))
			return c->db->error.code;
		rc = ly_add_checked(&c->db->error, &acc->balance.pending, p->amount, "the pending balance");
		if (rc == LOYAL_OK)
			rc = ly_draft_entry(d, SYSTEM_ISSUED, member_account(acc, ACCOUNT_PENDING),
					 p->amount);
	} else if (rc == LOYAL_OK) {
		rc = ly_account_credit_lot(d, p->amount, c->at, expires_at);
		if (rc == LOYAL_OK)
			rc = ly_draft_entry(d, SYSTEM_ISSUED, member_account(acc, ACCOUNT_AVAILABLE),
					 p->amount);
	}
	touch(&c->member, c->at);
	if (rc == LOYAL_OK)
		rc = ly_activity_add_earned(c->db, &c->member, c->currency, c->at, p->amount);
	return rc == LOYAL_OK ? finish(c, acc, d, p->amount) : rc;
}

/* Takes `amount` available points into d's moves; fails when there are not enough. */
static int take_available(call *c, account *acc, draft *d, int64_t amount)
{
	if (acc->balance.available < amount)
		return insufficient(c, acc, amount);
	int64_t taken = 0;
	int rc = ly_account_consume(d, amount, MOVE_CONSUME, 0, &taken);
	if (rc == LOYAL_OK && taken != amount)
		return ly_db_fail(c->db, LOYAL_ECORRUPT,
			       "member '%s': the lots hold %lld %s, the balance says %lld",
			       c->posting->member, (long long)taken, c->currency->name,
			       (long long)acc->balance.available);
	acc->balance.available -= amount;
	return rc;
}

static int do_debit(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	int rc = blocked(c, &c->member, p->member);
	if (rc == LOYAL_OK)
		rc = spendable(c);
	if (rc != LOYAL_OK)
		return rc;
	ly_draft_start(d, acc, TXN_DEBIT, c->at, reason_or(c, "debit"), p->cause);
	d->row.amount = p->amount;
	rc = take_available(c, acc, d, p->amount);
	if (rc == LOYAL_OK)
		rc = ly_add_checked(&c->db->error, &acc->balance.spent, p->amount, "lifetime spent points");
	if (rc == LOYAL_OK)
		rc = ly_draft_entry(d, member_account(acc, ACCOUNT_AVAILABLE), SYSTEM_REDEEMED,
				 p->amount);
	touch(&c->member, c->at);
	return rc == LOYAL_OK ? finish(c, acc, d, p->amount) : rc;
}

static int do_adjust(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	ly_draft_start(d, acc, TXN_ADJUST, c->at, p->reason, p->cause);
	d->row.amount = p->amount;
	int rc;
	if (p->amount > 0) {
		rc = ly_account_credit_lot(d, p->amount, c->at,
					ly_program_expiry(acc->program, c->currency, c->at));
		if (rc == LOYAL_OK)
			rc = ly_draft_entry(d, SYSTEM_ADJUSTED, member_account(acc, ACCOUNT_AVAILABLE),
					 p->amount);
	} else {
		rc = take_available(c, acc, d, -p->amount);
		if (rc == LOYAL_OK)
			rc = ly_draft_entry(d, member_account(acc, ACCOUNT_AVAILABLE), SYSTEM_ADJUSTED,
					 -p->amount);
	}
	return rc == LOYAL_OK ? finish(c, acc, d, p->amount) : rc;
}

static int do_hold(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	int rc = blocked(c, &c->member, p->member);
	if (rc == LOYAL_OK)
		rc = spendable(c);
	if (rc != LOYAL_OK)
		return rc;
	ly_draft_start(d, acc, TXN_HOLD, c->at, reason_or(c, "hold"), p->cause);
	d->row.amount = p->amount;
	rc = take_available(c, acc, d, p->amount);
	if (rc == LOYAL_OK)
		rc = ly_add_checked(&c->db->error, &acc->balance.held, p->amount, "the held balance");
	if (rc == LOYAL_OK)
		rc = ly_draft_entry(d, member_account(acc, ACCOUNT_AVAILABLE),
				 member_account(acc, ACCOUNT_HELD), p->amount);
	touch(&c->member, c->at);
	/* The hold is posted before the balance is saved: its due bound counts the deadline. */
	hold_row hold = {.member = c->member.id, .currency = c->currency->id,
			 .amount = p->amount, .deadline = p->deadline, .state = HOLD_OPEN};
	ly_draft_hold(d, &hold, HOLD_OPENS);
	return rc == LOYAL_OK ? finish(c, acc, d, p->amount) : rc;
}

/* Finds the hold a capture or release names, open and the member's. */
static int open_hold(call *c, hold_row *hold)
{
	bool found = false;
	int rc = ly_store_hold_get(c->db->store, c->member.id, c->posting->txn, hold, &found);
	if (rc != LOYAL_OK)
		return rc;
	if (!found || hold->member != c->member.id || hold->currency != c->currency->id)
		return ly_db_fail(c->db, LOYAL_ENOTFOUND, "member '%s' has no hold %lld in '%s'",
			       c->posting->member, (long long)c->posting->txn, c->currency->name);
	static const char *const states[] = {"open", "captured", "released",
					     "released at its deadline"};
	if (hold->state != HOLD_OPEN)
		return ly_db_fail(c->db, LOYAL_ESTATE, "hold %lld was already %s", (long long)hold->txn,
			       states[hold->state]);
	return LOYAL_OK;
}

static int do_capture(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	hold_row hold;
	int rc = blocked(c, &c->member, p->member);
	if (rc == LOYAL_OK)
		rc = open_hold(c, &hold);
	if (rc != LOYAL_OK)
		return rc;
	int64_t amount = p->amount ? p->amount : hold.amount;
	if (amount > hold.amount)
		return ly_db_fail(c->db, LOYAL_EINVAL, "posting.amount %lld is more than hold %lld's %lld",
			       (long long)amount, (long long)hold.txn, (long long)hold.amount);
	ly_draft_start(d, acc, TXN_CAPTURE, c->at, reason_or(c, "capture"), p->cause);
	d->row.amount = amount;
	hold.captured = amount;
	rc = ly_account_release_hold(acc, &hold, HOLD_CAPTURED, d);
	if (rc == LOYAL_OK)
		rc = ly_account_repay_debt(d);
	d->row.amount = amount; /* the release above recorded the remainder */
	if (rc == LOYAL_OK)
		rc = ly_draft_entry(d, member_account(acc, ACCOUNT_HELD), SYSTEM_REDEEMED, amount);
	acc->balance.held -= amount;
	if (rc == LOYAL_OK)
		rc = ly_add_checked(&c->db->error, &acc->balance.spent, amount, "lifetime spent points");
	touch(&c->member, c->at);
	ly_draft_hold(d, &hold, HOLD_SETTLES);
	return rc == LOYAL_OK ? finish(c, acc, d, amount) : rc;
}

static int do_release(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	hold_row hold;
	int rc = open_hold(c, &hold);
	if (rc != LOYAL_OK)
		return rc;
	ly_draft_start(d, acc, TXN_RELEASE, c->at, reason_or(c, "release"), p->cause);
	rc = ly_account_release_hold(acc, &hold, HOLD_RELEASED, d);
	if (rc == LOYAL_OK)
		rc = ly_account_repay_debt(d);
	ly_draft_hold(d, &hold, HOLD_SETTLES);
	return rc == LOYAL_OK ? finish(c, acc, d, hold.amount) : rc;
}

/* Takes back `amount` of a credit (or positive adjustment) from the lot it created, then by
 * the currency's clawback policy. *moved receives what was taken. */
static int claw_back(call *c, account *acc, draft *d, const txn_row *target, int64_t amount,
		     int64_t *moved)
{
	int64_t source = target->kind == TXN_CREDIT ? SYSTEM_ISSUED : SYSTEM_ADJUSTED;
	move_vec created = {0};
	bool found = false;
	int rc = ly_store_txn_read(c->db->store, c->member.id, target->id, NULL, NULL, &created,
				   &found);
	int64_t lot_id = 0;
	for (size_t i = 0; i < created.count && !lot_id; i++)
		if (created.items[i].kind == MOVE_CREATE)
			lot_id = created.items[i].lot;
	ly_move_vec_free(&created);
	lot_row *lot = rc == LOYAL_OK && lot_id ? ly_account_lot(acc, lot_id) : NULL;
	if (!lot)
		return rc != LOYAL_OK ? rc
		       : lot_id       ? c->db->error.code
				      : ly_db_fail(c->db, LOYAL_ECORRUPT,
						"transaction %lld created no lot", (long long)target->id);
	*moved = 0;
	if (lot->pending_until) {
		int64_t take = amount < lot->remaining ? amount : lot->remaining;
		lot->remaining -= take;
		acc->balance.pending -= take;
		*moved = take;
		rc = ly_draft_move(d, lot->id, -take, MOVE_CLAWBACK);
		return rc == LOYAL_OK
			       ? ly_draft_entry(d, member_account(acc, ACCOUNT_PENDING), source, take)
			       : rc;
	}
	if (acc->currency->clawback == CLAWBACK_PENDING_ONLY)
		return LOYAL_OK;
	int64_t take = amount < lot->remaining ? amount : lot->remaining;
	lot->remaining -= take;
	rc = ly_draft_move(d, lot->id, -take, MOVE_CLAWBACK);
	int64_t from_others = 0;
	if (rc == LOYAL_OK && amount > take)
		rc = ly_account_consume(d, amount - take, MOVE_CLAWBACK, lot->id, &from_others);
	int64_t debt = acc->currency->clawback == CLAWBACK_NEGATIVE ? amount - take - from_others
								     : 0;
	*moved = take + from_others + debt;
	acc->balance.available -= *moved;
	return rc == LOYAL_OK
		       ? ly_draft_entry(d, member_account(acc, ACCOUNT_AVAILABLE), source, *moved)
		       : rc;
}

static int do_reverse(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	txn_row target = {0};
	bool found = false;
	entry_vec entries = {0};
	int rc = ly_store_txn_read(c->db->store, c->member.id, p->txn, &target, &entries, NULL,
				   &found);
	if (rc != LOYAL_OK) {
		ly_entry_vec_free(&entries);
		return rc;
	}
	int64_t kind = target.kind, settles = target.reverses, earned_at = target.at;
	int64_t original = target.amount < 0 ? -target.amount : target.amount;
	bool mine = found && target.member == c->member.id && target.currency == c->currency->id;
	/* An adjustment's sign is its first entry's direction. */
	bool positive_adjust = kind == TXN_ADJUST && entries.count &&
			       entries.items[0].debit_account == SYSTEM_ADJUSTED;
	ly_entry_vec_free(&entries);
	ly_txn_row_clear(&target);
	target.id = p->txn;
	target.kind = kind;
	if (!mine)
		return ly_db_fail(c->db, LOYAL_ENOTFOUND, "member '%s' has no transaction %lld in '%s'",
			       p->member, (long long)p->txn, c->currency->name);
	if (kind != TXN_CREDIT && kind != TXN_DEBIT && kind != TXN_CAPTURE && kind != TXN_ADJUST)
		return ly_db_fail(c->db, LOYAL_ESTATE, "transaction %lld is a %s; it cannot be reversed",
			       (long long)p->txn, ly_txn_kind_name(kind));
	int64_t done = 0;
	rc = ly_store_reversed_total(c->db->store, c->member.id, p->txn, &done);
	if (rc != LOYAL_OK)
		return rc;
	int64_t left = original - done;
	int64_t amount = p->amount ? p->amount : left;
	if (left == 0 || amount > left)
		return ly_db_fail(c->db, LOYAL_ESTATE,
			       "transaction %lld has %lld of %lld points left to reverse",
			       (long long)p->txn, (long long)left, (long long)original);
	ly_draft_start(d, acc, TXN_REVERSAL, c->at, reason_or(c, "reversal"), p->cause);
	d->row.reverses = p->txn;
	d->row.requested = amount;
	int64_t moved = 0;
	if (kind == TXN_CREDIT || positive_adjust) {
		rc = claw_back(c, acc, d, &target, amount, &moved);
		/* Earned counts what stays earned: a clawback stopped by the currency's policy
		 * (zero, pending_only) leaves earned what it did not take. */
		if (rc == LOYAL_OK && kind == TXN_CREDIT) {
			acc->balance.earned -= moved;
			rc = ly_activity_add_earned(c->db, &c->member, c->currency, earned_at, -moved);
		}
	} else {
		/* A refund: the points return to the lots the original consumed. */
		int64_t source = p->txn, skip = done;
		if (kind == TXN_CAPTURE) {
			/* A capture spent the first points its hold consumed. */
			hold_row hold = {0};
			rc = ly_store_hold_get(c->db->store, c->member.id, settles, &hold, &found);
			source = hold.txn;
			skip = hold.amount - hold.captured + done;
		}
		if (rc == LOYAL_OK)
			rc = ly_account_restore(d, source, skip, amount);
		moved = amount;
		if (rc == LOYAL_OK)
			rc = ly_add_checked(&c->db->error, &acc->balance.available, amount,
					 "the available balance");
		if (rc == LOYAL_OK)
			rc = ly_account_repay_debt(d);
		if (rc == LOYAL_OK)
			rc = ly_draft_entry(d, kind == TXN_ADJUST ? SYSTEM_ADJUSTED : SYSTEM_REDEEMED,
					 member_account(acc, ACCOUNT_AVAILABLE), amount);
		if (kind != TXN_ADJUST)
			acc->balance.spent -= amount;
	}
	d->row.amount = moved;
	return rc == LOYAL_OK ? finish(c, acc, d, moved) : rc;
}

static int do_transfer(call *c, account *acc, draft *d)
{
	const loyal_posting *p = c->posting;
	loyal_db *db = c->db;
	int rc = blocked(c, &c->member, p->member);
	if (rc == LOYAL_OK)
		rc = spendable(c);
	if (rc != LOYAL_OK)
		return rc;
	member_row receiver;
	bool found = false;
	rc = ly_store_member_find(db->store, p->to_member, &receiver, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_store_member_insert(db->store, p->to_member, c->at, &receiver);
	if (rc == LOYAL_OK)
		rc = blocked(c, &receiver, p->to_member);
	if (rc != LOYAL_OK)
		return rc;
	account to;
	rc = open_account(c, &receiver, &to);
	if (rc != LOYAL_OK)
		return rc;
	draft in;
	ly_draft_start(d, acc, TXN_TRANSFER_OUT, c->at, reason_or(c, "gift"), p->cause);
	ly_draft_start(&in, &to, TXN_TRANSFER_IN, c->at, reason_or(c, "gift"), p->cause);
	d->row.amount = in.row.amount = p->amount;
	int64_t out_id = 0;
	rc = take_available(c, acc, d, p->amount);
	/* The receiver's lots keep the expiry of the lots given. */
	for (size_t i = 0; i < d->moves.count && rc == LOYAL_OK; i++) {
		lot_row *given = ly_account_lot(acc, d->moves.items[i].lot);
		rc = given ? ly_account_credit_lot(&in, -d->moves.items[i].amount, c->at,
						given->expires_at)
			   : db->error.code;
	}
	if (rc == LOYAL_OK)
		rc = ly_draft_entry(d, member_account(acc, ACCOUNT_AVAILABLE), SYSTEM_TRANSIT,
				 p->amount);
	if (rc == LOYAL_OK)
		rc = ly_draft_entry(&in, SYSTEM_TRANSIT, member_account(&to, ACCOUNT_AVAILABLE),
				 p->amount);
	/* The legs name each other: their ids are reserved before either is posted. */
	if (rc == LOYAL_OK)
		rc = ly_store_txn_reserve(db->store, 2, &out_id);
	d->row.counterpart = out_id + 1;
	in.row.counterpart = out_id;
	touch(&c->member, c->at);
	if (rc == LOYAL_OK)
		rc = finish(c, acc, d, p->amount);
	if (rc == LOYAL_OK)
		rc = ly_draft_post(&in);
	if (rc == LOYAL_OK && (d->row.id != out_id || in.row.id != out_id + 1))
		rc = ly_db_fail(db, LOYAL_EINTERNAL, "transfer transactions did not get their ids");
	if (rc == LOYAL_OK)
		rc = ly_account_save(&to);
	if (rc == LOYAL_OK)
		rc = ly_store_member_update(db->store, &receiver);
	ly_draft_release(&in);
	ly_account_release(&to);
	return rc;
}

/* ---- the shared path of every writing call ---- */

static int run_operation(call *c)
{
	account acc;
	int rc = open_account(c, &c->member, &acc);
	if (rc != LOYAL_OK)
		return rc;
	draft d = {0};
	switch (c->op) {
	case OP_CREDIT: rc = do_credit(c, &acc, &d); break;
	case OP_DEBIT: rc = do_debit(c, &acc, &d); break;
	case OP_ADJUST: rc = do_adjust(c, &acc, &d); break;
	case OP_TRANSFER: rc = do_transfer(c, &acc, &d); break;
	case OP_HOLD: rc = do_hold(c, &acc, &d); break;
	case OP_CAPTURE: rc = do_capture(c, &acc, &d); break;
	case OP_RELEASE: rc = do_release(c, &acc, &d); break;
	case OP_REVERSE: rc = do_reverse(c, &acc, &d); break;
	}
	ly_draft_release(&d);
	ly_account_release(&acc);
	return rc;
}

int ly_ledger_run(loyal_db *db, enum ledger_op op, const loyal_posting *posting,
		  member_row *member, const currency_def *currency, int64_t at, int64_t event,
		  int64_t *txn, int64_t *amount)
{
	call c = {.db = db, .posting = posting, .op = op, .at = at, .event = event,
		  .currency = currency, .member = *member};
	int rc = run_operation(&c);
	if (rc == LOYAL_OK) {
		*member = c.member;
		*txn = c.txn;
		*amount = c.amount;
	}
	return rc;
}

int ly_ledger_credit_award(loyal_db *db, const constant_award *award, member_row *member,
			   const char *external, const char *reason, const char *cause,
			   int64_t at)
{
	int rc = LOYAL_OK;
	for (size_t i = 0; i < award->count && rc == LOYAL_OK && member->status != MEMBER_BLOCKED;
	     i++) {
		const currency_def *currency = &db->program->currencies[award->currencies[i]];
		loyal_posting posting = LOYAL_POSTING_INIT;
		posting.member = external;
		posting.currency = currency->name;
		posting.amount = award->amounts[i];
		posting.idempotency_key = reason;
		posting.reason = reason;
		posting.cause = cause;
		int64_t txn = 0, moved = 0;
		rc = ly_ledger_run(db, OP_CREDIT, &posting, member, currency, at, 0, &txn, &moved);
	}
	return rc;
}

/* Inside the write transaction: the member, the idempotency record, the operation. */
static int run_locked(call *c, const char *request)
{
	loyal_db *db = c->db;
	const loyal_posting *p = c->posting;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_program_currency(db, p->currency, &c->currency);
	bool found = false;
	if (rc == LOYAL_OK)
		rc = ly_store_member_find(db->store, p->member, &c->member, &found);
	if (rc != LOYAL_OK)
		return rc;
	bool creates = c->op == OP_CREDIT || (c->op == OP_ADJUST && p->amount > 0);
	if (!found && !creates)
		return ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", p->member);
	if (!found && (rc = ly_store_member_insert(db->store, p->member, c->at, &c->member)) != LOYAL_OK)
		return rc;

	ly_idem idem;
	idem_row seen;
	rc = ly_idem_lookup(db, &idem, c->member.id, p->member, p->idempotency_key, request,
			    IDEM_LEDGER, 0, &seen, &found);
	if (rc != LOYAL_OK)
		return rc;
	if (found) { /* the first outcome, refusals included */
		c->replayed = true;
		c->txn = seen.txn;
		c->amount = seen.amount;
		rc = seen.rc == LOYAL_OK ? LOYAL_OK : ly_idem_refuse_again(db, &seen);
		ly_idem_row_clear(&seen);
		return rc;
	}

	rc = ly_store_savepoint(db->store);
	if (rc != LOYAL_OK)
		return rc;
	int outcome = run_operation(c);
	if (outcome == LOYAL_OK)
		outcome = ly_store_member_update(db->store, &c->member);
	if (outcome == LOYAL_OK) {
		rc = ly_store_savepoint_release(db->store);
	} else if (ly_ledger_sticky(outcome)) {
		ly_store_savepoint_rollback(db->store);
		c->txn = c->amount = 0;
		rc = LOYAL_OK;
	} else {
		return outcome;
	}
	if (rc == LOYAL_OK)
		rc = ly_idem_record(db, &idem, outcome, c->txn, c->amount,
				    outcome == LOYAL_OK ? "ok" : db->error.message);
	return rc == LOYAL_OK ? outcome : rc;
}

int ly_ledger_call(loyal_db *db, const loyal_posting *posting, enum ledger_op op,
		   loyal_result *out)
{
	call c = {.db = db, .posting = posting, .op = op};
	int rc = check_posting(&c);
	if (rc != LOYAL_OK)
		return rc;
	char *request = request_text(&c);
	if (!request)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory recording the request");
	rc = ly_store_begin(db->store);
	if (rc == LOYAL_OK && (ly_posting_flags(posting) & LOYAL_DRY_RUN))
		rc = ly_db_end_dry_run(db, run_locked(&c, request));
	else if (rc == LOYAL_OK)
		rc = ly_ledger_end_call(db, run_locked(&c, request));
	free(request); /* jansson's allocation */
	if (out && (rc == LOYAL_OK || ly_ledger_sticky(rc))) {
		out->txn = c.txn;
		out->amount = c.amount;
		out->replayed = c.replayed;
	}
	return rc;
}

/* ---- the expiry sweep ---- */

/* Settles one member's account in one currency; *settled counts it if anything changed. */
static int settle_one(loyal_db *db, int64_t member_id, int64_t currency_id, int64_t at,
		      int64_t *settled)
{
	const currency_def *currency = ly_program_currency_by_id(db, currency_id);
	member_row member;
	bool found = false;
	int rc = currency ? ly_store_member_get(db->store, member_id, &member, &found) : LOYAL_OK;
	if (rc != LOYAL_OK || !found)
		return rc;
	account acc;
	rc = ly_account_load(db, &member, currency, false, &acc);
	bool changed = false;
	if (rc == LOYAL_OK)
		rc = ly_account_settle(&acc, at, &changed);
	/* An account with nothing to settle is saved too when its due bound was stale, so that
	 * the next sweep does not look at it again. */
	bool stale = acc.balance.due_at <= at;
	if (rc == LOYAL_OK && (changed || stale))
		rc = ly_account_save(&acc);
	if (rc == LOYAL_OK && changed) {
		rc = ly_store_member_update(db->store, &member);
		(*settled)++;
	}
	ly_account_release(&acc);
	return rc;
}

/* Settles (member, currency) pairs, a few members per write transaction. */
#define SWEEP_CHUNK 64

int ly_ledger_end_chunk(loyal_db *db, int rc, int64_t done, int64_t *settled)
{
	if (rc == LOYAL_OK)
		rc = ly_store_commit(db->store);
	else
		ly_store_rollback(db->store);
	if (rc == LOYAL_OK)
		*settled += done;
	return rc;
}

static int settle_pairs(loyal_db *db, const int64_t *pairs, size_t count, int64_t at,
			int64_t *settled)
{
	int rc = LOYAL_OK;
	for (size_t start = 0; start < count && rc == LOYAL_OK; start += SWEEP_CHUNK) {
		rc = ly_store_begin(db->store);
		if (rc == LOYAL_OK)
			rc = ly_program_refresh(db);
		int64_t done = 0;
		for (size_t i = start; i < count && i < start + SWEEP_CHUNK && rc == LOYAL_OK; i++)
			rc = settle_one(db, pairs[2 * i], pairs[2 * i + 1], at, &done);
		rc = ly_ledger_end_chunk(db, rc, done, settled);
	}
	return rc;
}

/* Settles the accounts whose due bound has come, a chunk per write transaction, walking them
 * by (due_at, member, currency): settled accounts move past `at` and out of the walk. */
static int settle_due(loyal_db *db, int64_t at, int64_t *settled)
{
	int64_t after[3] = {INT64_MIN, 0, 0};
	bool more = true;
	int rc = LOYAL_OK;
	while (rc == LOYAL_OK && more) {
		int64_t *due = NULL;
		size_t count = 0;
		int64_t done = 0;
		rc = ly_store_begin(db->store);
		if (rc != LOYAL_OK)
			break;
		rc = ly_program_refresh(db);
		if (rc == LOYAL_OK)
			rc = ly_store_due_accounts(db->store, at, after, SWEEP_CHUNK, &due, &count);
		count /= 3;
		for (size_t i = 0; i < count && rc == LOYAL_OK; i++)
			rc = settle_one(db, due[3 * i + 1], due[3 * i + 2], at, &done);
		if (rc == LOYAL_OK && count) {
			memcpy(after, &due[3 * (count - 1)], sizeof after);
			more = count == SWEEP_CHUNK;
		} else {
			more = false;
		}
		ly_mem_free(due);
		rc = ly_ledger_end_chunk(db, rc, done, settled);
	}
	return rc;
}

int ly_ledger_expire(loyal_db *db, int64_t at, int64_t *out_settled)
{
	int64_t settled = 0;
	size_t count = 0;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = settle_due(db, at, &settled);
	for (size_t i = 0; rc == LOYAL_OK && db->program && i < db->program->currency_count; i++) {
		const currency_def *currency = &db->program->currencies[i];
		if (currency->expiry != EXPIRY_INACTIVITY)
			continue;
		int64_t *members = NULL;
		rc = ly_store_idle_members(db->store, currency->id, at - currency->expiry_count * DAY_MS + 1,
					&members, &count);
		int64_t *idle_pairs = rc == LOYAL_OK ? ly_mem_calloc(2 * count, sizeof *idle_pairs) : NULL;
		if (rc == LOYAL_OK && !idle_pairs)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory listing idle members");
		for (size_t k = 0; rc == LOYAL_OK && k < count; k++) {
			idle_pairs[2 * k] = members[k];
			idle_pairs[2 * k + 1] = currency->id;
		}
		if (rc == LOYAL_OK)
			rc = settle_pairs(db, idle_pairs, count, at, &settled);
		ly_mem_free(idle_pairs);
		ly_mem_free(members);
	}
	if (out_settled)
		*out_settled = settled;
	return rc;
}
