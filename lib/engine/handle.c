/* handle.c - what every call does with the handle: entering it, recording its error, reading
 * its clock. */
#include "engine/handle.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int ly_db_fail(loyal_db *db, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ly_failv(&db->error, code, fmt, ap);
	va_end(ap);
	return code;
}

int ly_db_enter(loyal_db *db)
{
	if (!db)
		return LOYAL_EINVAL;
	if (db->open_failed)
		return ly_db_fail(db, LOYAL_EMISUSE,
			       "the handle's open failed; only loyal_errmsg and loyal_close may use it");
	ly_error_clear(&db->error);
	if (db->store)
		ly_store_interrupt_clear(db->store);
	return LOYAL_OK;
}

int ly_db_end_dry_run(loyal_db *db, int rc)
{
	ly_error kept = db->error;
	ly_store_rollback(db->store);
	db->error = kept;
	return rc;
}

int64_t ly_db_now(loyal_db *db)
{
	return db->clock(db->clock_ctx);
}

void ly_iso_time(int64_t ms, char out[LY_ISO_TIME_SIZE])
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm parts;
	if (!gmtime_r(&seconds, &parts) ||
	    !strftime(out, LY_ISO_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &parts))
		snprintf(out, LY_ISO_TIME_SIZE, "%lld ms", (long long)ms);
}

int ly_db_time(loyal_db *db, int64_t at, const char *field, int64_t *out)
{
	int64_t now = ly_db_now(db);
	if (at >= 0 && at <= now + INT64_C(86400000)) {
		*out = at ? at : now;
		return LOYAL_OK;
	}
	if (at < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "%s (%lld) is negative", field, (long long)at);
	char when[LY_ISO_TIME_SIZE], clock[LY_ISO_TIME_SIZE];
	ly_iso_time(at, when);
	ly_iso_time(now, clock);
	return ly_db_fail(db, LOYAL_EINVAL,
			  "%s (%lld, %s) is in the future; it may be at most a day ahead of the "
			  "clock (%s)",
			  field, (long long)at, when, clock);
}

/* How much of loyal_open_options each version has: a caller built against an older header
 * passes a shorter struct, whose missing fields are the defaults. */
