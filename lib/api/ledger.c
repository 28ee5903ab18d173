/* ledger.c - the public calls of the ledger that write: postings and the expiry sweep. */
#include "engine/ledger.h"
#include "engine/rewards.h"

#include <stddef.h>
#include <string.h>

int loyal_posting_init(loyal_posting *posting, unsigned int version)
{
	if (!posting || version < 1 || version > LOYAL_POSTING_VERSION)
		return LOYAL_EINVAL;
	loyal_posting defaults = LOYAL_POSTING_INIT;
	defaults.version = version;
	memcpy(posting, &defaults, version == 1 ? offsetof(loyal_posting, flags) : sizeof defaults);
	return LOYAL_OK;
}

/* Enters the handle, checks the arguments every posting call takes, and runs it. */
static int post(loyal_db *db, const loyal_posting *posting, enum ledger_op op, loyal_result *out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!posting)
		return ly_db_fail(db, LOYAL_EINVAL, "posting is NULL");
	if (out && out->version != LOYAL_RESULT_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "out->version is %u; this library knows %d",
				  out->version, LOYAL_RESULT_VERSION);
	return ly_ledger_call(db, posting, op, out);
}

int loyal_ledger_credit(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_CREDIT, out);
}

int loyal_ledger_debit(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_DEBIT, out);
}

int loyal_ledger_adjust(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_ADJUST, out);
}

int loyal_ledger_transfer(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_TRANSFER, out);
}

int loyal_ledger_hold(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_HOLD, out);
}

int loyal_ledger_capture(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_CAPTURE, out);
}

int loyal_ledger_release(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_RELEASE, out);
}

int loyal_ledger_reverse(loyal_db *db, const loyal_posting *posting, loyal_result *out)
{
	return post(db, posting, OP_REVERSE, out);
}

int loyal_expire(loyal_db *db, int64_t at, int64_t *out_settled)
{
	int rc = ly_db_enter(db);
	if (rc == LOYAL_OK)
		rc = ly_db_time(db, at, "at", &at);
	int64_t settled = 0, expired = 0;
	if (rc == LOYAL_OK)
		rc = ly_ledger_expire(db, at, &settled);
	if (rc == LOYAL_OK)
		rc = ly_rewards_sweep(db, at, &expired);
	if (out_settled)
		*out_settled = settled + expired;
	return rc;
}
