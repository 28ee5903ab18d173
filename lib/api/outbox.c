/* outbox.c - the public calls of the outbox. */
#include "engine/outbox.h"

int loyal_outbox_read(loyal_db *db, const char *consumer, int64_t limit, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	return ly_outbox_read(db, consumer, limit, out);
}

int loyal_outbox_ack(loyal_db *db, const char *consumer, int64_t position)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_outbox_ack(db, consumer, position) : rc;
}

int loyal_outbox_forget(loyal_db *db, const char *consumer, int *out_found)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_outbox_forget(db, consumer, out_found) : rc;
}

int loyal_outbox_consumers(loyal_db *db, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	*out_json = NULL;
	return ly_outbox_consumers(db, out_json);
}

int loyal_notice_sweep(loyal_db *db, int64_t at, int64_t *out_count)
{
	if (out_count)
		*out_count = 0;
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_notices_sweep(db, at, out_count) : rc;
}

int loyal_points_expiring(loyal_db *db, const char *currency, int64_t from, int64_t to,
			  const char *after, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	return ly_notices_expiring(db, currency, from, to, after, out);
}

int loyal_tier_reviews(loyal_db *db, int64_t from, int64_t to, const char *after,
		       loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	*out = NULL;
	return ly_notices_reviews(db, from, to, after, out);
}
