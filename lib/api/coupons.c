/* coupons.c - the public calls of coupons. */
#include "engine/coupons.h"

int loyal_coupon_import(loyal_db *db, const char *coupon, const char *codes, int64_t *out_added,
			int64_t *out_duplicates)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!coupon || !codes || !out_added || !out_duplicates)
		return ly_db_fail(db, LOYAL_EINVAL, "%s is NULL",
				  !coupon ? "coupon" : !codes ? "codes" : !out_added ? "out_added"
									: "out_duplicates");
	return ly_coupons_import(db, coupon, codes, out_added, out_duplicates);
}

int loyal_coupon_issue(loyal_db *db, const char *member, const char *coupon,
		       const char *idempotency_key, char **out_json)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_coupons_issue(db, member, coupon, idempotency_key, out_json) : rc;
}

int loyal_coupon_check(loyal_db *db, const char *member, const char *code, int64_t at,
		       char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	return ly_coupons_check(db, member, code, at, out_json);
}

int loyal_coupon_reserve(loyal_db *db, const char *member, const char *code,
			 const char *idempotency_key, char **out_json)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_coupons_reserve(db, member, code, idempotency_key, out_json) : rc;
}

int loyal_coupon_release(loyal_db *db, const char *member, int64_t reservation,
			 const char *idempotency_key, char **out_json)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK ? ly_coupons_release(db, member, reservation, idempotency_key, out_json)
			      : rc;
}

int loyal_coupon_use(loyal_db *db, const char *member, const char *code, int64_t reservation,
		     const char *idempotency_key, char **out_json)
{
	int rc = ly_db_enter(db);
	return rc == LOYAL_OK
		       ? ly_coupons_use(db, member, code, reservation, idempotency_key, out_json)
		       : rc;
}

int loyal_coupon_list(loyal_db *db, const char *member, int64_t before, loyal_cursor **out)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out)
		return ly_db_fail(db, LOYAL_EINVAL, "out is NULL");
	return ly_coupons_list(db, member, before, out);
}
