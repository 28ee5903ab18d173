/* rewards.c - the public calls of rewards and redemptions. */
#include "engine/rewards.h"

int loyal_redeem_init(loyal_redeem *request, unsigned int version)
{
	if (!request || version != LOYAL_REDEEM_VERSION)
		return LOYAL_EINVAL;
	loyal_redeem defaults = LOYAL_REDEEM_INIT;
	*request = defaults;
	return LOYAL_OK;
}

int loyal_reward_list(loyal_db *db, const char *member, int64_t at, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	return ly_rewards_list(db, member, at, out_json);
}

int loyal_reward_redeem(loyal_db *db, const loyal_redeem *request, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!request)
		return ly_db_fail(db, LOYAL_EINVAL, "request is NULL");
	return ly_rewards_redeem(db, request, out_json);
}

int loyal_redemption_fulfil(loyal_db *db, const char *member, int64_t redemption,
			    const char *idempotency_key, char **out_json)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK
		       ? ly_rewards_settle(db, member, redemption, idempotency_key, true, out_json)
		       : rc;
}

int loyal_redemption_cancel(loyal_db *db, const char *member, int64_t redemption,
			    const char *idempotency_key, char **out_json)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK
		       ? ly_rewards_settle(db, member, redemption, idempotency_key, false, out_json)
		       : rc;
}

int loyal_redemption_get(loyal_db *db, const char *member, int64_t redemption, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	return ly_rewards_get(db, member, redemption, out_json);
}

int loyal_redemption_list(loyal_db *db, const char *member, int64_t before, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	return ly_rewards_of(db, member, before, out);
}

int loyal_redemption_pending(loyal_db *db, int64_t after, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	return ly_rewards_pending(db, after, out);
}
