/* coupons.h - coupons: the calls of loyal/coupons.h, and issuing one inside another call's
 * transaction (a reward of kind coupon). */
#ifndef LOYAL_COUPONS_INTERNAL_H
#define LOYAL_COUPONS_INTERNAL_H

#include "engine/program.h"
#include "store/store.h"

int ly_coupons_import(loyal_db *db, const char *coupon, const char *codes, int64_t *out_added,
		      int64_t *out_duplicates);
int ly_coupons_issue(loyal_db *db, const char *member, const char *coupon, const char *key,
		     char **out_json);
int ly_coupons_check(loyal_db *db, const char *member, const char *code, int64_t at,
		     char **out_json);
int ly_coupons_reserve(loyal_db *db, const char *member, const char *code, const char *key,
		       char **out_json);
int ly_coupons_release(loyal_db *db, const char *member, int64_t reservation, const char *key,
		       char **out_json);
int ly_coupons_use(loyal_db *db, const char *member, const char *code, int64_t reservation,
		   const char *key, char **out_json);
int ly_coupons_list(loyal_db *db, const char *member, int64_t before, loyal_cursor **out);

/* Issues a code of `coupon` to *member (external: their host id) at `at`, inside the open
 * write transaction: refused for a blocked member (LOYAL_EBLOCKED), one the coupon's eligible
 * expression leaves out (LOYAL_ENOTELIGIBLE), an empty pool (LOYAL_ESOLDOUT); a refusal
 * writes nothing. The eligible expression reads `view` (an event's rules pass theirs: the
 * member as they were before it), or with NULL a view of its own. *out receives the code's
 * row. */
struct member_view;
int ly_coupons_issue_locked(loyal_db *db, member_row *member, const char *external,
			    const coupon_def *coupon, int64_t at, struct member_view *view,
			    coupon_code_row *out);

#endif /* LOYAL_COUPONS_INTERNAL_H */
