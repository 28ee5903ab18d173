/* analytics.c - the reports: the store's rows as the JSON loyal/analytics.h describes. */
#define _DEFAULT_SOURCE /* timegm */
#include "engine/analytics.h"
#include "engine/document.h"
#include "engine/program.h"
#include "util/json.h"

#include <time.h>

/* A report's total as JSON: an integer, or a real where it leaves 64 bits. */
static json_t *total_json(store_total total)
{
	return total >= INT64_MIN && total <= INT64_MAX ? json_integer((json_int_t)total)
							 : json_real((double)total);
}

static const char *currency_name(loyal_db *db, int64_t id)
{
	const currency_def *currency = ly_program_currency_by_id(db, id);
	return currency ? currency->name : "?";
}

/* What the visitors share: the handle and the array or object they fill. */
typedef struct report {
	loyal_db *db;
	json_t *rows;
	enum store_period period;
	json_t *cohort; /* retention: the cohort being filled */
	int64_t cohort_day;
} report;

static int liability_row_json(void *ctx, const void *row)
{
	report *r = ctx;
	const liability_row *l = row;
	return ly_json_append(
		&r->db->error, r->rows,
		json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I}", "currency", currency_name(r->db, l->currency),
			  "available", total_json(l->available), "pending", total_json(l->pending),
			  "held", total_json(l->held), "debt", total_json(l->debt), "outstanding",
			  total_json(l->outstanding), "members", (json_int_t)l->members));
}

static int flows_row_json(void *ctx, const void *row)
{
	report *r = ctx;
	const flows_row *f = row;
	return ly_json_append(
		&r->db->error, r->rows,
		json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "currency", currency_name(r->db, f->currency),
			  "issued", total_json(f->issued), "redeemed", total_json(f->redeemed),
			  "expired", total_json(f->expired), "adjusted", total_json(f->adjusted),
			  "reversed", total_json(f->reversed), "breakage",
			  f->has_breakage ? json_real(f->breakage) : json_null()));
}

int ly_analytics_liability(loyal_db *db, json_t **out)
{
	report r = {.db = db, .rows = json_array()};
	int rc = r.rows ? ly_store_report_liability(db->store, liability_row_json, &r)
			: ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting liability");
	return ly_json_hand_over(rc, r.rows, out);
}

int ly_analytics_flows(loyal_db *db, int64_t from, int64_t to, json_t **out)
{
	report r = {.db = db, .rows = json_array()};
	int rc = r.rows ? ly_store_report_flows(db->store, from, to, flows_row_json, &r)
			: ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting flows");
	return ly_json_hand_over(rc, r.rows, out);
}

/* The local day of an instant in the program's time zone, and the first instant of a day. */
static int64_t local_day(const loyal_db *db, int64_t at)
{
	int64_t local = at + db->program->utc_offset_ms;
	return local / DAY_MS - (local % DAY_MS < 0);
}

static json_int_t day_start(const loyal_db *db, int64_t day)
{
	return (json_int_t)(day * DAY_MS - db->program->utc_offset_ms);
}

static int active_row_json(void *ctx, const void *row)
{
	report *r = ctx;
	const active_row *a = row;
	return ly_json_append(&r->db->error, r->rows,
			      json_pack("{s:I,s:I}", "period", day_start(r->db, a->period),
					"active", (json_int_t)a->active));
}

int ly_analytics_active(loyal_db *db, enum store_period period, int64_t from, int64_t to,
			json_t **out)
{
	report r = {.db = db, .rows = json_array()};
	int rc = r.rows ? ly_store_report_active(db->store, period, local_day(db, from),
						 local_day(db, to - 1), active_row_json, &r)
			: ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting activity");
	return ly_json_hand_over(rc, r.rows, out);
}

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

static int retention_row_json(void *ctx, const void *row)
{
	report *r = ctx;
	const retention_row *c = row;
	ly_error *error = &r->db->error;
	if (!r->cohort || c->cohort != r->cohort_day) {
		json_t *cohort = json_pack("{s:I,s:I,s:[],s:[]}", "cohort",
					   day_start(r->db, c->cohort), "members",
					   (json_int_t)c->members, "active", "share");
		int rc = ly_json_append(error, r->rows, cohort);
		r->cohort = rc == LOYAL_OK ? cohort : NULL; /* borrowed from the array */
		r->cohort_day = c->cohort;
		if (rc != LOYAL_OK)
			return rc;
	}
	if (c->period == INT64_MIN)
		return LOYAL_OK;
	int64_t k = periods_between(r->period, c->cohort, c->period);
	json_t *counts = json_object_get(r->cohort, "active");
	json_t *shares = json_object_get(r->cohort, "share");
	int rc = LOYAL_OK;
	while (rc == LOYAL_OK && (int64_t)json_array_size(counts) <= k) {
		rc = ly_json_append(error, counts, json_integer(0));
		if (rc == LOYAL_OK)
			rc = ly_json_append(error, shares, json_real(0));
	}
	if (rc == LOYAL_OK && (json_array_set_new(counts, (size_t)k, json_integer(c->active)) ||
			       json_array_set_new(shares, (size_t)k,
						  json_real(c->members ? (double)c->active / c->members
								       : 0))))
		rc = ly_fail(error, LOYAL_ENOMEM, "out of memory reporting retention");
	return rc;
}

int ly_analytics_retention(loyal_db *db, enum store_period period, int64_t from, int64_t to,
			   json_t **out)
{
	report r = {.db = db, .rows = json_array(), .period = period};
	int rc = r.rows ? ly_store_report_retention(db->store, period, local_day(db, from),
						    local_day(db, to - 1), from, to,
						    db->program->utc_offset_ms, retention_row_json,
						    &r)
			: ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting retention");
	return ly_json_hand_over(rc, r.rows, out);
}

static int size_row_json(void *ctx, const void *row)
{
	report *r = ctx;
	const size_row *z = row;
	json_t *group = json_object_get(r->rows, z->kind == SIZE_TIER ? "tiers" : "segments");
	return ly_json_put(&r->db->error, group, z->name, json_integer((json_int_t)z->members));
}

int ly_analytics_sizes(loyal_db *db, json_t **out)
{
	report r = {.db = db, .rows = json_pack("{s:{},s:{}}", "tiers", "segments")};
	int rc = r.rows ? ly_store_report_sizes(db->store, size_row_json, &r)
			: ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting sizes");
	return ly_json_hand_over(rc, r.rows, out);
}
