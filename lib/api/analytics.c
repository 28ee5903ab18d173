/* analytics.c - the reports: argument checks, a read snapshot, JSON text out; the engine builds
 * them (engine/analytics.c) from the store's rows. */
#include "api/read.h"
#include "engine/analytics.h"
#include "engine/program.h"
#include "store/store.h"
#include "util/json.h"

#include <string.h>

static int start_report(loyal_db *db, char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	return rc == LOYAL_OK ? ly_program_refresh(db) : rc;
}

static int parse_period(loyal_db *db, const char *period, enum store_period *out)
{
	if (period && strcmp(period, "day") == 0)
		*out = PERIOD_DAY;
	else if (period && strcmp(period, "week") == 0)
		*out = PERIOD_WEEK;
	else if (period && strcmp(period, "month") == 0)
		*out = PERIOD_MONTH;
	else
		return ly_db_fail(db, LOYAL_EINVAL, "period must be \"day\", \"week\" or \"month\"");
	return LOYAL_OK;
}

static int check_range(loyal_db *db, int64_t from, int64_t to)
{
	return from < 0 || from >= to
		       ? ly_db_fail(db, LOYAL_EINVAL, "from (%lld) must be >= 0 and before to (%lld)",
				 (long long)from, (long long)to)
		       : LOYAL_OK;
}

/* Runs a report query (in a read snapshot) into a JSON value and hands it over. */
static int run_report(loyal_db *db, int (*query)(loyal_db *, void *, json_t **), void *args,
		      char **out_json)
{
	json_t *result = NULL;
	int rc = ly_store_read_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = query(db, args, &result);
		ly_store_read_end(db->store);
	}
	if (rc != LOYAL_OK) {
		json_decref(result);
		return rc;
	}
	return ly_json_emit(&db->error, result, out_json);
}

static int liability(loyal_db *db, void *unused, json_t **out)
{
	(void)unused;
	return ly_analytics_liability(db, out);
}

int loyal_report_liability(loyal_db *db, char **out_json)
{
	int rc = start_report(db, out_json);
	return rc == LOYAL_OK ? run_report(db, liability, NULL, out_json) : rc;
}

typedef struct range {
	int64_t from, to;
	enum store_period period;
} range;

static int flows(loyal_db *db, void *args, json_t **out)
{
	const range *r = args;
	return ly_analytics_flows(db, r->from, r->to, out);
}

/* A report over [from, to), checked. */
static int ranged_report(loyal_db *db, int64_t from, int64_t to,
			 int (*query)(loyal_db *, void *, json_t **), char **out_json)
{
	int rc = start_report(db, out_json);
	if (rc == LOYAL_OK)
		rc = check_range(db, from, to);
	range r = {from, to, PERIOD_DAY};
	return rc == LOYAL_OK ? run_report(db, query, &r, out_json) : rc;
}

int loyal_report_flows(loyal_db *db, int64_t from, int64_t to, char **out_json)
{
	return ranged_report(db, from, to, flows, out_json);
}

static int rewards(loyal_db *db, void *args, json_t **out)
{
	const range *r = args;
	return ly_analytics_rewards(db, r->from, r->to, out);
}

int loyal_report_rewards(loyal_db *db, int64_t from, int64_t to, char **out_json)
{
	return ranged_report(db, from, to, rewards, out_json);
}

static int active(loyal_db *db, void *args, json_t **out)
{
	const range *r = args;
	return ly_analytics_active(db, r->period, r->from, r->to, out);
}

static int retention(loyal_db *db, void *args, json_t **out)
{
	const range *r = args;
	return ly_analytics_retention(db, r->period, r->from, r->to, out);
}

/* The reports over periods of a range: the same checks, another query. */
static int periodic_report(loyal_db *db, const char *period, int64_t from, int64_t to,
			   int (*query)(loyal_db *, void *, json_t **), char **out_json)
{
	range r = {from, to, PERIOD_DAY};
	int rc = start_report(db, out_json);
	if (rc == LOYAL_OK)
		rc = parse_period(db, period, &r.period);
	if (rc == LOYAL_OK)
		rc = check_range(db, from, to);
	return rc == LOYAL_OK ? run_report(db, query, &r, out_json) : rc;
}

int loyal_report_active(loyal_db *db, const char *period, int64_t from, int64_t to,
			char **out_json)
{
	return periodic_report(db, period, from, to, active, out_json);
}

int loyal_report_retention(loyal_db *db, const char *period, int64_t from, int64_t to,
			   char **out_json)
{
	return periodic_report(db, period, from, to, retention, out_json);
}

static int sizes(loyal_db *db, void *unused, json_t **out)
{
	(void)unused;
	return ly_analytics_sizes(db, out);
}

int loyal_report_sizes(loyal_db *db, char **out_json)
{
	int rc = start_report(db, out_json);
	return rc == LOYAL_OK ? run_report(db, sizes, NULL, out_json) : rc;
}
