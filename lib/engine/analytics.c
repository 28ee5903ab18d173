/* analytics.c - the reports: the store's rows as the JSON loyal/analytics.h describes. */
#define _DEFAULT_SOURCE /* timegm */
#include "engine/analytics.h"
#include "engine/document.h"
#include "engine/program.h"
#include "util/json.h"

#include <string.h>
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

/* Rewards and coupons: each of the program's, with what the store counted for it. */
typedef struct rewards_report {
	loyal_db *db;
	json_t *rewards, *coupons; /* objects by name, in the program's order */
	int64_t from, to;
} rewards_report;

static int reward_row_json(void *ctx, const void *data)
{
	rewards_report *r = ctx;
	const reward_report_row *row = data;
	ly_error *error = &r->db->error;
	bool coupon = row->kind >= REPORT_COUPONS_ISSUED && row->kind <= REPORT_POOL_LEFT;
	json_t *entry = json_object_get(coupon ? r->coupons : r->rewards, row->name);
	if (!entry) /* a reward or coupon the program no longer has */
		return LOYAL_OK;
	static const char *const states[] = {"pending", "fulfilled", "cancelled", "expired"};
	switch (row->kind) {
	case REPORT_REDEMPTIONS: {
		const char *state = row->state >= 0 && row->state < 4 ? states[row->state] : "unknown";
		json_t *counts = json_object_get(entry, "redemptions");
		int rc = ly_json_put(error, counts, state, json_integer((json_int_t)row->count));
		json_int_t units = json_integer_value(json_object_get(entry, "units"));
		if (rc == LOYAL_OK && row->state <= 1)
			rc = ly_json_put(error, entry, "units", json_integer(units + row->units));
		return rc;
	}
	case REPORT_REDEEMERS:
		return ly_json_put(error, entry, "members", json_integer((json_int_t)row->members));
	case REPORT_REDEEMED_POINTS:
		return ly_json_put(error, json_object_get(entry, "points"), row->currency,
				   json_integer((json_int_t)row->amount));
	case REPORT_COUPONS_ISSUED:
		return ly_json_put(error, entry, "issued", json_integer((json_int_t)row->count));
	case REPORT_COUPONS_USED:
		return ly_json_put(error, entry, "used", json_integer((json_int_t)row->count));
	default:
		return ly_json_put(error, entry, "pool_left", json_integer((json_int_t)row->count));
	}
}

/* a / b, or null when b is 0. */
static json_t *rate(json_int_t a, json_int_t b)
{
	return b ? json_real((double)a / (double)b) : json_null();
}

/* Per currency, the points fulfilled redemptions took over those issued in the period; per
 * coupon, its uses over its codes issued. */
static int redemption_rates(rewards_report *r, json_t *rates)
{
	loyal_db *db = r->db;
	json_t *flows = NULL;
	int rc = ly_analytics_flows(db, r->from, r->to, &flows);
	for (size_t c = 0; rc == LOYAL_OK && c < db->program->currency_count; c++) {
		const char *currency = db->program->currencies[c].name;
		json_int_t redeemed = 0, issued = 0;
		size_t i;
		json_t *flow;
		json_array_foreach(flows, i, flow)
			if (strcmp(json_string_value(json_object_get(flow, "currency")), currency) == 0)
				issued = json_integer_value(json_object_get(flow, "issued"));
		const char *name;
		json_t *reward;
		json_object_foreach(r->rewards, name, reward)
			redeemed += json_integer_value(
				json_object_get(json_object_get(reward, "points"), currency));
		rc = ly_json_put(&db->error, rates, currency, rate(redeemed, issued));
	}
	json_decref(flows);
	const char *name;
	json_t *coupon;
	json_object_foreach(r->coupons, name, coupon)
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, coupon, "use_rate",
					 rate(json_integer_value(json_object_get(coupon, "used")),
					      json_integer_value(json_object_get(coupon, "issued"))));
	return rc;
}

int ly_analytics_rewards(loyal_db *db, int64_t from, int64_t to, json_t **out)
{
	rewards_report r = {.db = db, .rewards = json_object(), .coupons = json_object(),
			    .from = from, .to = to};
	int rc = r.rewards && r.coupons ? LOYAL_OK
					: ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting rewards");
	const struct program *program = db->program;
	for (size_t i = 0; rc == LOYAL_OK && i < program->reward_count; i++)
		rc = ly_json_put(&db->error, r.rewards, program->rewards[i].name,
				 json_pack("{s:s,s:{s:i,s:i,s:i,s:i},s:i,s:i,s:{}}", "reward",
					   program->rewards[i].name, "redemptions", "pending", 0,
					   "fulfilled", 0, "cancelled", 0, "expired", 0, "units", 0,
					   "members", 0, "points"));
	for (size_t i = 0; rc == LOYAL_OK && i < program->coupon_count; i++)
		rc = ly_json_put(&db->error, r.coupons, program->coupons[i].name,
				 json_pack("{s:s,s:i,s:i,s:o}", "coupon", program->coupons[i].name,
					   "issued", 0, "used", 0, "pool_left",
					   program->coupons[i].pool ? json_integer(0) : json_null()));
	if (rc == LOYAL_OK)
		rc = ly_store_report_rewards(db->store, from, to, reward_row_json, &r);
	/* Stock left now, for the rewards that count it. */
	for (size_t i = 0; rc == LOYAL_OK && i < program->reward_count; i++) {
		const reward_def *reward = &program->rewards[i];
		int64_t taken = 0;
		if (reward->stock >= 0)
			rc = ly_store_stock_taken(db->store, reward->name, ly_db_now(db), &taken);
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, json_object_get(r.rewards, reward->name),
					 "stock_left",
					 reward->stock >= 0
						 ? json_integer((json_int_t)(reward->stock > taken
										     ? reward->stock - taken
										     : 0))
						 : json_null());
	}
	json_t *result = rc == LOYAL_OK ? json_pack("{s:[],s:[],s:{}}", "rewards", "coupons",
						    "redemption_rate")
					: NULL;
	if (rc == LOYAL_OK && !result)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reporting rewards");
	if (rc == LOYAL_OK)
		rc = redemption_rates(&r, json_object_get(result, "redemption_rate"));
	for (size_t i = 0; rc == LOYAL_OK && i < program->reward_count; i++)
		rc = ly_json_append(&db->error, json_object_get(result, "rewards"),
				    json_incref(json_object_get(r.rewards, program->rewards[i].name)));
	for (size_t i = 0; rc == LOYAL_OK && i < program->coupon_count; i++)
		rc = ly_json_append(&db->error, json_object_get(result, "coupons"),
				    json_incref(json_object_get(r.coupons, program->coupons[i].name)));
	json_decref(r.rewards);
	json_decref(r.coupons);
	return ly_json_hand_over(rc, result, out);
}
