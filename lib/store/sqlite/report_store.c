/* report_store.c - the SQLite backend's reports: set-based queries turned into JSON. */
#define _DEFAULT_SOURCE /* timegm */
#include "store/sqlite/sqlite.h"

#include <jansson.h>
#include <time.h>

#define DAY_MS INT64_C(86400000)

/* The first day of the period holding day number X, for each kind of period. */
#define DAY_START(x) "(" x ")"
#define WEEK_START(x) "(((" x ") + 3) / 7 * 7 - 3)"
#define MONTH_START(x) \
	"CAST(unixepoch(date((" x ") * 86400, 'unixepoch', 'start of month')) / 86400 AS INTEGER)"

/* The local day of an instant, and the first instant of a local day, at a UTC offset. */
static int64_t day_of(int64_t at, int64_t utc_offset_ms)
{
	int64_t local = at + utc_offset_ms;
	return local / DAY_MS - (local % DAY_MS < 0);
}

static json_int_t start_ms(int64_t day, int64_t utc_offset_ms)
{
	return (json_int_t)(day * DAY_MS - utc_offset_ms);
}

static json_t *empty_on_failure(json_t *value, int rc)
{
	if (rc == LOYAL_OK)
		return value;
	json_decref(value);
	return NULL;
}

/* Ends a report's row loop: its SQLite result, or LOYAL_ENOMEM when a row could not be kept. */
static int rows_done(store *s, sqlite3_stmt *stmt, int rc, bool lost, const char *doing)
{
	ly_sqlite_finish(stmt);
	return lost		 ? ly_fail(s->error, LOYAL_ENOMEM, "out of memory %s", doing)
	       : rc == SQLITE_DONE ? LOYAL_OK
				   : ly_sqlite_error(s, rc, doing);
}

int ly_sqlite_report_liability(store *s, json_t **out)
{
	STMT(ST_REPORT_LIABILITY,
	     "SELECT currency, sum128(max(available, 0)), sum128(pending), sum128(held),"
	     " sum128(max(-available, 0)), sum128(max(available, 0), pending, held),"
	     " count(*) FILTER (WHERE available > 0 OR pending > 0 OR held > 0)"
	     " FROM balances GROUP BY currency ORDER BY currency");
	json_t *rows = json_array();
	int rc;
	bool lost = false;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		lost |= json_array_append_new(
			rows, json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "currency",
					(json_int_t)sqlite3_column_int64(stmt, 0),
					"available", ly_sqlite_column_total(stmt, 1), "pending",
					ly_sqlite_column_total(stmt, 2), "held",
					ly_sqlite_column_total(stmt, 3), "debt",
					ly_sqlite_column_total(stmt, 4), "outstanding",
					ly_sqlite_column_total(stmt, 5), "members",
					(json_int_t)sqlite3_column_int64(stmt, 6))) != 0;
	rc = rows_done(s, stmt, rc, lost, "reporting liability");
	*out = empty_on_failure(rows, rc);
	return rc;
}

int ly_sqlite_report_flows(store *s, int64_t from, int64_t to, json_t **out)
{
	STMT(ST_REPORT_FLOWS,
	     "SELECT e.currency,"
	     " sum128(e.amount) FILTER (WHERE e.debit_account = -1),"
	     " sum128(iif(e.credit_account = -2, e.amount, 0), iif(e.debit_account = -2,"
	     "   -e.amount, 0)),"
	     " sum128(e.amount) FILTER (WHERE e.credit_account = -3),"
	     " sum128(iif(e.debit_account = -4, e.amount, 0), iif(e.credit_account = -4,"
	     "   -e.amount, 0)),"
	     " sum128(e.amount) FILTER (WHERE e.credit_account = -1),"
	     " total(e.amount) FILTER (WHERE e.credit_account = -3) /"
	     "   total(e.amount) FILTER (WHERE e.debit_account = -1)"
	     " FROM entries e JOIN txns t ON t.id = e.txn WHERE t.at >= ?1 AND t.at < ?2"
	     " GROUP BY e.currency ORDER BY e.currency");
	sqlite3_bind_int64(stmt, 1, from);
	sqlite3_bind_int64(stmt, 2, to);
	json_t *rows = json_array();
	int rc;
	bool lost = false;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		lost |= json_array_append_new(
			rows, json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "currency",
					(json_int_t)sqlite3_column_int64(stmt, 0), "issued",
					ly_sqlite_column_total(stmt, 1), "redeemed",
					ly_sqlite_column_total(stmt, 2), "expired",
					ly_sqlite_column_total(stmt, 3), "adjusted",
					ly_sqlite_column_total(stmt, 4), "reversed",
					ly_sqlite_column_total(stmt, 5), "breakage",
					sqlite3_column_type(stmt, 6) == SQLITE_NULL
						? json_null()
						: json_real(sqlite3_column_double(stmt, 6)))) != 0;
	rc = rows_done(s, stmt, rc, lost, "reporting flows");
	*out = empty_on_failure(rows, rc);
	return rc;
}

#define ACTIVE_SQL(start)                                                                    \
	"SELECT " start("day") " AS period, count(DISTINCT member) FROM activity WHERE"      \
	" substr(type, 1, 1) <> '@' AND day BETWEEN ?1 AND ?2 GROUP BY period ORDER BY period"

int ly_sqlite_report_active(store *s, enum store_period period, int64_t from, int64_t to,
			   int64_t utc_offset_ms, json_t **out)
{
	sqlite3_stmt *stmt =
		period == PERIOD_DAY    ? ly_sqlite_stmt(s, ST_REPORT_ACTIVE_DAY, ACTIVE_SQL(DAY_START))
		: period == PERIOD_WEEK ? ly_sqlite_stmt(s, ST_REPORT_ACTIVE_WEEK, ACTIVE_SQL(WEEK_START))
					: ly_sqlite_stmt(s, ST_REPORT_ACTIVE_MONTH,
						     ACTIVE_SQL(MONTH_START));
	if (!stmt)
		return s->error->code;
	sqlite3_bind_int64(stmt, 1, day_of(from, utc_offset_ms));
	sqlite3_bind_int64(stmt, 2, day_of(to - 1, utc_offset_ms));
	json_t *rows = json_array();
	int rc;
	bool lost = false;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		lost |= json_array_append_new(
				rows, json_pack("{s:I,s:I}", "period",
						start_ms(sqlite3_column_int64(stmt, 0), utc_offset_ms), "active",
						(json_int_t)sqlite3_column_int64(stmt, 1))) != 0;
	rc = rows_done(s, stmt, rc, lost, "reporting activity");
	*out = empty_on_failure(rows, rc);
	return rc;
}

/* Cohort of each member joining in range, and the periods each was active in. */
#define RETENTION_SQL(start)                                                                  \
	"WITH cohorts AS (SELECT id, " start("((joined_at + ?3) / 86400000)") " AS cohort FROM"  \
	" members WHERE joined_at >= ?4 AND joined_at < ?5), acts AS (SELECT DISTINCT member, " \
	start("day") " AS period FROM activity WHERE substr(type, 1, 1) <> '@' AND day BETWEEN" \
	" ?1 AND ?2) SELECT c.cohort, (SELECT count(*) FROM cohorts k WHERE k.cohort ="         \
	" c.cohort), a.period, count(*) FROM cohorts c LEFT JOIN acts a ON a.member = c.id AND"  \
	" a.period >= c.cohort GROUP BY c.cohort, a.period ORDER BY c.cohort, a.period"

/* How many periods after `cohort` (a day number) `period` is. */
static int64_t periods_between(enum store_period kind, int64_t cohort, int64_t period)
{
	if (kind == PERIOD_DAY)
		return period - cohort;
	if (kind == PERIOD_WEEK)
		return (period - cohort) / 7;
	time_t a = (time_t)(cohort * 86400), b = (time_t)(period * 86400);
	struct tm x, y;
	gmtime_r(&a, &x);
	gmtime_r(&b, &y);
	return (int64_t)(y.tm_year - x.tm_year) * 12 + (y.tm_mon - x.tm_mon);
}

int ly_sqlite_report_retention(store *s, enum store_period period, int64_t from, int64_t to,
			      int64_t utc_offset_ms, json_t **out)
{
	sqlite3_stmt *stmt =
		period == PERIOD_DAY ? ly_sqlite_stmt(s, ST_REPORT_RETENTION_DAY,
						  RETENTION_SQL(DAY_START))
		: period == PERIOD_WEEK ? ly_sqlite_stmt(s, ST_REPORT_RETENTION_WEEK,
						     RETENTION_SQL(WEEK_START))
					: ly_sqlite_stmt(s, ST_REPORT_RETENTION_MONTH,
						     RETENTION_SQL(MONTH_START));
	if (!stmt)
		return s->error->code;
	sqlite3_bind_int64(stmt, 1, day_of(from, utc_offset_ms));
	sqlite3_bind_int64(stmt, 2, day_of(to - 1, utc_offset_ms));
	sqlite3_bind_int64(stmt, 3, utc_offset_ms);
	sqlite3_bind_int64(stmt, 4, from);
	sqlite3_bind_int64(stmt, 5, to);
	json_t *rows = json_array(), *current = NULL;
	int64_t cohort = INT64_MIN, size = 0;
	int rc;
	bool lost = false;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite3_column_int64(stmt, 0) != cohort || !current) {
			cohort = sqlite3_column_int64(stmt, 0);
			size = sqlite3_column_int64(stmt, 1);
			current = json_pack("{s:I,s:I,s:[],s:[]}", "cohort", start_ms(cohort, utc_offset_ms),
					    "members", (json_int_t)size, "active", "share");
			if (json_array_append_new(rows, current) != 0) { /* current is gone */
				lost = true;
				break;
			}
		}
		if (sqlite3_column_type(stmt, 2) == SQLITE_NULL || !current)
			continue;
		int64_t k = periods_between(period, cohort, sqlite3_column_int64(stmt, 2));
		json_t *counts = json_object_get(current, "active");
		json_t *shares = json_object_get(current, "share");
		while (!lost && (int64_t)json_array_size(counts) <= k)
			lost |= json_array_append_new(counts, json_integer(0)) != 0 ||
				json_array_append_new(shares, json_real(0)) != 0;
		int64_t active = sqlite3_column_int64(stmt, 3);
		lost = json_array_set_new(counts, (size_t)k, json_integer(active)) != 0 ||
			json_array_set_new(shares, (size_t)k,
					   json_real(size ? (double)active / size : 0)) != 0;
		if (lost)
			break;
	}
	rc = rows_done(s, stmt, rc, lost, "reporting retention");
	*out = empty_on_failure(rows, rc);
	return rc;
}

/* Counts per name from a (name, count) query into an object. */
static int counts_into(store *s, sqlite3_stmt *stmt, json_t *object)
{
	if (!stmt)
		return s->error->code;
	int rc;
	bool lost = false;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		lost |= json_object_set_new(object, (const char *)sqlite3_column_text(stmt, 0),
					    json_integer(sqlite3_column_int64(stmt, 1))) != 0;
	return rows_done(s, stmt, rc, lost, "reporting sizes");
}

int ly_sqlite_report_sizes(store *s, json_t **out)
{
	json_t *tiers = json_object(), *segments = json_object();
	int rc = counts_into(s,
			     ly_sqlite_stmt(s, ST_REPORT_TIERS,
					"SELECT tier, count(*) FROM member_tiers GROUP BY tier"),
			     tiers);
	if (rc == LOYAL_OK)
		rc = counts_into(s,
				 ly_sqlite_stmt(s, ST_REPORT_SEGMENTS,
					    "SELECT segment, count(*) FROM segment_members"
					    " GROUP BY segment"),
				 segments);
	*out = empty_on_failure(json_pack("{s:o,s:o}", "tiers", tiers, "segments", segments), rc);
	return rc;
}
