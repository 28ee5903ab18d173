/* ledger.h - the ledger's operations: a whole call (its own transaction, its idempotency key),
 * the same operations for the engine's own callers (rules, event reversals) inside their
 * transaction, and the expiry sweep. */
#ifndef LOYAL_LEDGER_INTERNAL_H
#define LOYAL_LEDGER_INTERNAL_H

#include "engine/program.h"
#include "store/store.h"

enum ledger_op { OP_CREDIT, OP_DEBIT, OP_ADJUST, OP_TRANSFER, OP_HOLD, OP_CAPTURE, OP_RELEASE,
		 OP_REVERSE };

/* Runs `op` for posting (already checked) on *member (updated in memory: chain head, activity;
 * the caller saves it) in `currency` at `at`. A credit's transaction names `event`, the tracked
 * event whose rule made it (0: none). *txn and *amount receive the outcome. */
int ly_ledger_run(loyal_db *db, enum ledger_op op, const loyal_posting *posting,
		  member_row *member, const currency_def *currency, int64_t at, int64_t event,
		  int64_t *txn, int64_t *amount);

/* Credits a constant award to *member (external: their host id; updated in memory, the caller
 * saves it) at `at`, each posting under key and reason (a blocked member gets nothing). */
int ly_ledger_credit_award(loyal_db *db, const constant_award *award, member_row *member,
			   const char *external, const char *reason, const char *cause,
			   int64_t at);

/* One ledger call (loyal_ledger_credit and the others): checks the posting's fields for `op`,
 * then in a write transaction of its own finds (or creates) the member, replays or records
 * the outcome under the idempotency key, and runs the operation. out (may be NULL, else of
 * LOYAL_RESULT_VERSION) receives the outcome, also of a sticky refusal. */
int ly_ledger_call(loyal_db *db, const loyal_posting *posting, enum ledger_op op,
		   loyal_result *out);
/* Whether a refusal depends on the state (insufficient points, a blocked member, a sold-out
 * reward...): such an outcome is recorded under the call's key and replayed. */
bool ly_ledger_sticky(int rc);
/* Ends a writing call's transaction by its outcome rc: commits a success or a sticky refusal
 * (keeping its code and message, unless the commit fails), rolls anything else back. Returns
 * the call's result. */
int ly_ledger_end_call(loyal_db *db, int rc);

/* Ends a sweep chunk's transaction: commits and adds `done` to *settled, or rolls back (rc
 * not LOYAL_OK). Returns the chunk's result. */
int ly_ledger_end_chunk(loyal_db *db, int rc, int64_t done, int64_t *settled);

/* Settles every account with something due at `at` (expiries, activations, hold deadlines),
 * and the whole balances of members idle past an inactivity policy, a chunk per transaction. */
int ly_ledger_expire(loyal_db *db, int64_t at, int64_t *out_settled);

/* The reading calls (ledger_read.c), each in a snapshot of its own, with the member and
 * currency checked and found (LOYAL_ENOTFOUND names them): the balance as of `at` (0: now),
 * settled in memory; the next `limit` expiries, the transaction `id`, the lots behind a balance
 * as the JSON values loyal/ledger.h describes (*out, a new reference); a statement cursor over
 * the member's transactions before `before_txn` (0: from the newest). */
struct json_t;
int ly_ledger_balance(loyal_db *db, const char *member, const char *currency, int64_t at,
		      loyal_balance *out);
int ly_ledger_expiring(loyal_db *db, const char *member, const char *currency, int limit,
		       struct json_t **out);
int ly_ledger_transaction(loyal_db *db, int64_t id, struct json_t **out);
int ly_ledger_statement(loyal_db *db, const char *member, const char *currency,
			int64_t before_txn, loyal_cursor **out);
int ly_ledger_explain(loyal_db *db, const char *member, const char *currency,
		      struct json_t **out);

#endif /* LOYAL_LEDGER_INTERNAL_H */
