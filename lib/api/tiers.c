/* tiers.c - the public calls of tiers: a member's tier, its history, the review sweep, and an
 * operator's assignments. */
#include "api/read.h"
#include "engine/tiers.h"

int loyal_tier_sweep(loyal_db *db, int64_t at, int64_t *out_changed)
{
	int rc = ly_db_enter(db);
	if (rc == LOYAL_OK)
		rc = ly_db_time(db, at, "at", &at);
	return rc == LOYAL_OK ? ly_tiers_sweep(db, at, out_changed) : rc;
}

static int describe(loyal_db *db, member_row *row, const char *member, const char *unused,
		    json_t **out)
{
	(void)unused;
	return ly_tiers_describe(db, row, member, out);
}

int loyal_tier_get(loyal_db *db, const char *member, char **out_json)
{
	return ly_api_read_member(db, member, NULL, out_json, describe);
}

int loyal_tier_history(loyal_db *db, const char *member, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	return rc == LOYAL_OK ? ly_tiers_history(db, member, out) : rc;
}

int loyal_tier_assign(loyal_db *db, const char *member, const char *tier, int64_t until,
		      const char *reason)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_tiers_assign(db, member, tier, until, reason) : rc;
}

int loyal_tier_release(loyal_db *db, const char *member, const char *reason, int *out_changed)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_tiers_release(db, member, reason, out_changed) : rc;
}
