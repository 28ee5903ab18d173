/* leaderboards.c - the public calls of leaderboards. */
#include "engine/leaderboards.h"

int loyal_leaderboard_top(loyal_db *db, const char *leaderboard, int64_t at, int limit,
			  char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	return ly_leaderboards_top(db, leaderboard, at, limit, out_json);
}

int loyal_leaderboard_rank(loyal_db *db, const char *leaderboard, const char *member,
			   int64_t at, int neighbours, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	return ly_leaderboards_rank(db, leaderboard, member, at, neighbours, out_json);
}
