/* badges.c - the public calls of badges: a member's awards, progress, the sweep, and an
 * operator's grants and revocations. */
#include "api/read.h"
#include "engine/badges.h"

static int list(loyal_db *db, member_row *row, const char *member, const char *badge,
		json_t **out)
{
	(void)member;
	(void)badge;
	return ly_badges_list(db, row, INT64_MAX, out);
}

int loyal_badge_list(loyal_db *db, const char *member, char **out_json)
{
	return ly_api_read_member(db, member, NULL, out_json, list);
}

int loyal_badge_progress(loyal_db *db, const char *member, const char *badge_name,
			 char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, badge_name, "badge", true, 64);
	return rc == LOYAL_OK ? ly_api_read_member(db, member, badge_name, out_json, ly_badges_progress)
			      : rc;
}

int loyal_badge_sweep(loyal_db *db, int64_t at, int64_t *out_awarded)
{
	int rc = ly_db_enter(db);
	if (rc == LOYAL_OK)
		rc = ly_db_time(db, at, "at", &at);
	return rc == LOYAL_OK ? ly_badges_sweep(db, at, out_awarded) : rc;
}

int loyal_badge_grant(loyal_db *db, const char *member, const char *badge, const char *level,
		      const char *reason, int *out_changed)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK
		       ? ly_badges_recognize(db, member, badge, level, reason, true, out_changed)
		       : rc;
}

int loyal_badge_revoke(loyal_db *db, const char *member, const char *badge, const char *level,
		       const char *reason, int *out_changed)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK
		       ? ly_badges_recognize(db, member, badge, level, reason, false, out_changed)
		       : rc;
}
