/* ledger.h - the ledger's operations for the engine's own callers (rules, event reversals):
 * the same code as the public calls, inside the caller's transaction, without idempotency. */
#ifndef LOYAL_LEDGER_INTERNAL_H
#define LOYAL_LEDGER_INTERNAL_H

#include "engine/program.h"
#include "store/store.h"

enum ledger_op { OP_CREDIT, OP_DEBIT, OP_ADJUST, OP_TRANSFER, OP_HOLD, OP_CAPTURE, OP_RELEASE,
		 OP_REVERSE };

/* Runs `op` for posting (already checked) on *member (updated in memory: chain head, activity;
 * the caller saves it) in `currency` at `at`. *txn and *amount receive the outcome. */
int ly_ledger_run(loyal_db *db, enum ledger_op op, const loyal_posting *posting,
	       member_row *member, const currency_def *currency, int64_t at, int64_t *txn,
	       int64_t *amount);

#endif /* LOYAL_LEDGER_INTERNAL_H */
