/* ledger_read.c - the public calls that read the ledger: balances, expiries, transactions,
 * statements, explanations. */
#include "api/read.h"
#include "engine/ledger.h"
#include "util/json.h"

/* The JSON value an engine call made, as the caller's text. */
static int emit(loyal_db *db, int rc, json_t *value, char **out_json)
{
	return rc == LOYAL_OK ? ly_json_emit(&db->error, value, out_json) : rc;
}

int loyal_ledger_balance(loyal_db *db, const char *member, const char *currency, int64_t at,
			 loyal_balance *out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	if (out->version != LOYAL_BALANCE_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "out->version is %u; this library knows %d",
				  out->version, LOYAL_BALANCE_VERSION);
	return ly_ledger_balance(db, member, currency, at, out);
}

int loyal_ledger_expiring(loyal_db *db, const char *member, const char *currency, int limit,
			  char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	if (rc != LOYAL_OK)
		return rc;
	if (limit < 1 || limit > 1000)
		return ly_db_fail(db, LOYAL_EINVAL, "limit is %d; it must be from 1 to 1000", limit);
	json_t *result = NULL;
	rc = ly_ledger_expiring(db, member, currency, limit, &result);
	return emit(db, rc, result, out_json);
}

int loyal_ledger_transaction(loyal_db *db, int64_t id, char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	json_t *result = NULL;
	if (rc == LOYAL_OK)
		rc = ly_ledger_transaction(db, id, &result);
	return emit(db, rc, result, out_json);
}

int loyal_ledger_statement(loyal_db *db, const char *member, const char *currency,
			   int64_t before_txn, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	if (before_txn < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "before_txn is negative");
	return ly_ledger_statement(db, member, currency, before_txn, out);
}

int loyal_ledger_explain(loyal_db *db, const char *member, const char *currency,
			 char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	json_t *result = NULL;
	if (rc == LOYAL_OK)
		rc = ly_ledger_explain(db, member, currency, &result);
	return emit(db, rc, result, out_json);
}
