/* account.h - one member's state in one currency, loaded for a call: balance, open lots, and the
 * transactions that change them. */
#ifndef LOYAL_ACCOUNT_H
#define LOYAL_ACCOUNT_H

#include "engine/program.h"
#include "store/store.h"

/* Transaction kinds, as stored; names in ly_txn_kind_name. Appended only. */
enum txn_kind {
	TXN_CREDIT = 1,
	TXN_DEBIT = 2,
	TXN_ADJUST = 3, /* amount is signed */
	TXN_TRANSFER_OUT = 4,
	TXN_TRANSFER_IN = 5,
	TXN_HOLD = 6,
	TXN_CAPTURE = 7,
	TXN_RELEASE = 8,
	TXN_EXPIRE = 9,
	TXN_ACTIVATE = 10,
	TXN_REVERSAL = 11
};
const char *ly_txn_kind_name(int64_t kind);
const char *ly_move_kind_name(int64_t kind);

typedef struct account {
	loyal_db *db;
	const struct program *program;
	const currency_def *currency;
	member_row *member;
	balance_row balance;
	int64_t saved_due_at; /* balance.due_at as the file has it */
	lot_vec lots;     /* open lots, and lots touched since loading; (expires_at, id) order */
	lot_vec unsaved;  /* lots posted or changed since the balance was saved: each once, in its
			   * latest state, saved with the balance (ly_account_save) */
	bool lots_loaded; /* lots are loaded on first need: a credit or a read needs none */
	bool lots_partial; /* a dry run settled with only the lots expiring by then (and none of
			    * the rest changed): lots_loaded stays false, and loading is refused */
	bool dry_run;     /* compute only, write nothing: what balance reads use */
	/* A reconstruction of the past (loyal_member_as_of): the holds open then, which settling
	 * reads instead of the file's (whose states are today's); the lots are all in memory. */
	const hold_row *past_holds;
	size_t past_hold_count;
	bool past;
} account;

/* Loads the member's balance in the currency (its lots come when first needed). */
int ly_account_load(loyal_db *db, member_row *member, const currency_def *currency, bool dry_run,
		 account *out);
void ly_account_release(account *acc);
/* Writes the balance and the state of the lots posted or changed since it was last written,
 * with the fields of the member row (chain head, activity) as they are now. The row stays its
 * owner's to save once per call (ly_store_member_update), which then writes nothing unless a
 * field changed after. */
int ly_account_save(account *acc);
/* Brings the account to `at`: activates due pending lots, releases overdue holds, expires lots
 * past their expiry or an inactivity policy. *changed (may be NULL) tells if anything did. A
 * dry run may load only the lots it settles (lots_partial): a caller that needs every lot
 * loads them first (ly_account_ensure_lots). */
int ly_account_settle(account *acc, int64_t at, bool *changed);
/* Loads the account's open lots if they are not yet. */
int ly_account_ensure_lots(account *acc);
/* The in-memory lot with this id, loaded from the file if needed; NULL with the error set. */
lot_row *ly_account_lot(account *acc, int64_t id);
/* Available points held in active lots (pending excluded). */
int64_t ly_account_lot_total(const account *acc);

/* Account numbers of the entries (see store.h). */
int64_t ly_account_number(int64_t member, int kind);

#define DRAFT_MAX_ENTRIES 4

/* A transaction being built: entries and lot moves gathered in memory, then posted at once. */
typedef struct draft {
	account *acc;
	txn_row row;
	entry_row entries[DRAFT_MAX_ENTRIES];
	size_t entry_count;
	move_vec moves;   /* lot < 0 names new_lots[-lot - 1] */
	lot_vec new_lots; /* lots this transaction creates */
	hold_row hold;    /* the hold it opens or settles (hold_change) */
	enum hold_change hold_change;
} draft;

void ly_draft_start(draft *d, account *acc, int kind, int64_t at, const char *reason,
		 const char *cause);
void ly_draft_release(draft *d);
/* Adds an entry moving amount from `debit` to `credit` (account numbers); amount > 0. */
int ly_draft_entry(draft *d, int64_t debit, int64_t credit, int64_t amount);
/* Records a change of a lot's remaining points (already applied to the lot in memory). */
int ly_draft_move(draft *d, int64_t lot, int64_t amount, int kind);
/* Adds a lot this transaction creates; returns it (its id is set when posted). */
lot_row *ly_draft_new_lot(draft *d, int64_t amount, int64_t earned_at, int64_t expires_at,
		       int64_t pending_until);
/* Makes d open `hold` (HOLD_OPENS: its txn becomes d's) or settle it (HOLD_SETTLES: saved with
 * settled_by d's transaction) when posted. */
void ly_draft_hold(draft *d, const hold_row *hold, enum hold_change change);
/* Writes the transaction, its entries, moves, new lots, touched lots and hold in one post;
 * links it into the member's chain. Does nothing to the file in a dry run. */
int ly_draft_post(draft *d);

/* Consumes up to `amount` from the account's active lots, soonest-expiring first, recording
 * moves of `kind` on d; returns how much was taken in *taken. `skip_lot` (0: none) is left
 * alone. */
int ly_account_consume(draft *d, int64_t amount, int kind, int64_t skip_lot, int64_t *taken);
/* Credits a new active lot of `amount` to the account, repaying a debt first. */
int ly_account_credit_lot(draft *d, int64_t amount, int64_t earned_at, int64_t expires_at);
/* Gives back, into the lots they came from, `amount` points of those consumed by the moves
 * of txn `source`, counting back from its last consumption after skipping `skip` points. */
int ly_account_restore(draft *d, int64_t source, int64_t skip, int64_t amount);
/* After lots were restored to an account in debt: the restored points repay the debt, so that
 * active lots hold exactly the available balance (or nothing while it is negative). */
int ly_account_repay_debt(draft *d);
/* Releases the uncaptured part of a hold into its lots, with the entries on d; sets state. The
 * caller repays a debt after (ly_account_repay_debt). */
int ly_account_release_hold(account *acc, hold_row *hold, int state, draft *d);

/* The hash that chains a member's transactions: prev_hash, the row's fields, its entries. */
/* Recomputes every transaction's link in its member's hash chain (loyal_verify):
 * LOYAL_ECORRUPT names the first that was changed after it was written. */
int ly_account_check_chains(loyal_db *db);
int64_t ly_txn_chain_hash(int64_t prev_hash, const txn_row *txn, const entry_row *entries,
		       size_t entry_count);

#endif /* LOYAL_ACCOUNT_H */
