/* simulate.c - forecasts (loyal_simulate): a program run over a seeded synthetic population on
 * an empty database under a fake clock, through the public calls a host would make, with a
 * report per month from the analytics calls (active members are counted here: the report of
 * active members scans every member's history, each month). The population model is documented in
 * loyal/simulate.h; change both together. */
#define _DEFAULT_SOURCE /* timegm */
#include "api/read.h"
#include "engine/handle.h"
#include "engine/program.h"
#include "store/store.h"
#include "util/json.h"
#include "util/mem.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_MS INT64_C(86400000)
#define DEFAULT_START INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define MAX_MEMBERS INT64_C(10000000)
#define MAX_DAYS 3660
#define SPEND_MINIMUM 100
/* A day's writes are one batch, and the page cache while a simulation fills its database is
 * about what a day of the population changes: a day's pages are written once, at its end,
 * rather than at each batch's commit and as the cache overflows. A year of 100,000 members
 * (examples/lifecycle.json, the CLI's scratch file): 175 s a batch a day with the 16 MiB cache
 * (47 s of it in the kernel, 49 MB RSS); 147 s with the cache grown (22 s in the kernel,
 * 293 MB RSS). */
#define CACHE_PER_MEMBER INT64_C(2560)
#define CACHE_LEAST (INT64_C(16) << 20)
#define CACHE_MOST (INT64_C(1) << 30)

typedef struct population {
	const char *name;
	double median_engagement; /* the median member's chance of an active day */
	double churn;             /* an active member's chance of stopping, per day */
	const char *daily;        /* the event of every active day */
} population;

static const population profiles[] = {
	{"community", 0.05, 1.0 / 500, "check_in"},
	{"shop", 0.015, 1.0 / 365, "visit"},
};

typedef struct run {
	loyal_db *db;
	const loyal_simulation *options;
	const population *profile;
	uint64_t rng;
	int64_t now; /* the fake clock */
	float *engagement;
	unsigned char *stopped;
	int32_t *active_in; /* the last month (1 onwards) each member had an event in */
	int32_t month;      /* the month being simulated, 1 onwards */
	int64_t month_active;
	int64_t joined; /* members 0 .. joined-1 have joined */
	int64_t events, spends, month_events;
	bool in_batch;
	bool sends[4]; /* which of signup, the daily event, post/purchase, comment are declared */
} run;

/* ---- randomness: splitmix64, and the distributions of the model ---- */

static uint64_t next(run *r)
{
	uint64_t z = (r->rng += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double uniform(run *r) /* [0, 1) */
{
	return (double)(next(r) >> 11) * 0x1.0p-53;
}

static double normal(run *r) /* Box-Muller */
{
	double u = 1.0 - uniform(r), v = uniform(r);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int64_t clock_of_run(void *ctx)
{
	return ((const run *)ctx)->now;
}

/* ---- the calls ---- */

static void member_id(int64_t index, char out[24])
{
	snprintf(out, 24, "m%07lld", (long long)index);
}

/* Ends the open batch (if any) so that what follows sees it committed. */
static int flush(run *r)
{
	if (!r->in_batch)
		return LOYAL_OK;
	r->in_batch = false;
	return loyal_batch_commit(r->db);
}

static int open_batch(run *r)
{
	if (r->in_batch)
		return LOYAL_OK;
	int rc = loyal_batch_begin(r->db);
	r->in_batch = rc == LOYAL_OK;
	return rc;
}

static int track(run *r, int64_t member, const char *type, const char *properties)
{
	char id[24], key[48];
	member_id(member, id);
	snprintf(key, sizeof key, "sim-%lld", (long long)r->events);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = id;
	event.type = type;
	event.idempotency_key = key;
	event.properties = properties;
	int rc = open_batch(r); /* the outcome is not read: it is not made */
	if (rc == LOYAL_OK)
		rc = loyal_track(r->db, &event, NULL);
	r->events++;
	r->month_events++;
	if (r->active_in[member] != r->month) {
		r->active_in[member] = r->month;
		r->month_active++;
	}
	return rc;
}

/* A member who has enough spends between half and all of it, in each spendable currency. */
static int spend(run *r, int64_t member)
{
	char id[24], key[48];
	member_id(member, id);
	const struct program *program = r->db->program;
	for (size_t i = 0; i < program->currency_count; i++) {
		const currency_def *currency = &program->currencies[i];
		double share = 0.5 + 0.5 * uniform(r);
		if (!currency->spendable)
			continue;
		loyal_balance balance = LOYAL_BALANCE_INIT;
		int rc = loyal_ledger_balance(r->db, id, currency->name, 0, &balance);
		if (rc != LOYAL_OK)
			return rc;
		if (balance.available < SPEND_MINIMUM)
			continue;
		snprintf(key, sizeof key, "sim-spend-%lld", (long long)r->spends);
		loyal_posting posting = LOYAL_POSTING_INIT;
		posting.member = id;
		posting.currency = currency->name;
		posting.amount = (int64_t)((double)balance.available * share);
		posting.idempotency_key = key;
		posting.reason = "simulated redemption";
		rc = open_batch(r);
		if (rc == LOYAL_OK)
			rc = loyal_ledger_debit(r->db, &posting, NULL);
		r->spends++;
		if (rc != LOYAL_OK)
			return rc;
	}
	return LOYAL_OK;
}

/* One member's active day, its events spread over `slot` ms from `at`. */
static int active_day(run *r, int64_t member, int64_t at, int64_t slot)
{
	bool community = r->profile == &profiles[0];
	int64_t step = slot / 5 > 0 ? slot / 5 : 1;
	r->now = at;
	int rc = r->sends[1] ? track(r, member, r->profile->daily, NULL) : LOYAL_OK;
	if (rc == LOYAL_OK && r->sends[2] && uniform(r) < (community ? 0.3 : 0.4)) {
		char properties[64] = "";
		if (!community)
			snprintf(properties, sizeof properties, "{\"amount\": %.2f}",
				 40.0 * exp(0.8 * normal(r)));
		r->now = at + step;
		rc = track(r, member, community ? "post" : "purchase", community ? NULL : properties);
	}
	int comments = community && r->sends[3] ? (int)(uniform(r) * 3) : 0;
	for (int k = 0; k < comments && rc == LOYAL_OK; k++) {
		r->now = at + (2 + k) * step;
		rc = track(r, member, "comment", NULL);
	}
	if (rc == LOYAL_OK && uniform(r) < 0.15) {
		r->now = at + 4 * step;
		rc = spend(r, member);
	}
	return rc;
}

/* ---- the report ---- */

/* The first instant of the month after the one `at` falls in, in the program's time zone. */
static int64_t next_month(int64_t at, int64_t offset_ms)
{
	time_t seconds = (time_t)((at + offset_ms) / 1000);
	struct tm parts;
	gmtime_r(&seconds, &parts);
	parts.tm_mday = 1;
	parts.tm_hour = parts.tm_min = parts.tm_sec = 0;
	parts.tm_mon++;
	return (int64_t)timegm(&parts) * 1000 - offset_ms;
}

/* The month [from, to) as the report lists it, the clock at its end. */
static int month_report(run *r, int64_t from, int64_t to, int64_t days, json_t *months)
{
	json_t *currencies = NULL, *sizes = NULL, *month = NULL;
	int rc = ly_api_period_figures(r->db, from, to, &currencies, &sizes);
	if (rc == LOYAL_OK)
		month = json_pack("{s:I,s:I,s:I,s:I,s:I,s:O,s:O}", "month", (json_int_t)from, "days",
				  (json_int_t)days, "members", (json_int_t)r->joined, "active",
				  (json_int_t)r->month_active, "events", (json_int_t)r->month_events,
				  "currencies", currencies, "tiers", json_object_get(sizes, "tiers"));
	if (rc == LOYAL_OK && (!month || json_array_append_new(months, month) != 0))
		rc = ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory writing a simulation's report");
	json_decref(currencies);
	json_decref(sizes);
	r->month_events = r->month_active = 0;
	r->month++;
	return rc;
}

/* ---- the run ---- */

static int check_options(loyal_db *db, const loyal_simulation *s, const population **out)
{
	if (s->version != LOYAL_SIMULATION_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation.version %u is not one this library "
				  "knows (%d)", s->version, LOYAL_SIMULATION_VERSION);
	if (!s->program)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation.program is NULL: give the program "
				  "document to simulate");
	if (s->members < 1 || s->members > MAX_MEMBERS)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation.members (%lld) must be 1 to %lld",
				  (long long)s->members, (long long)MAX_MEMBERS);
	if (s->days < 1 || s->days > MAX_DAYS)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation.days (%lld) must be 1 to %d",
				  (long long)s->days, MAX_DAYS);
	if (s->start < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation.start (%lld) is negative",
				  (long long)s->start);
	*out = NULL;
	for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++)
		if (!s->profile || strcmp(s->profile, profiles[i].name) == 0)
			*out = *out ? *out : &profiles[i];
	if (!*out)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation.profile '%.64s' is not \"community\" "
				  "or \"shop\"", s->profile);
	return LOYAL_OK;
}

/* The database must be new: no program applied, no member. */
static int check_empty(loyal_db *db)
{
	char *text = NULL;
	int64_t version = 0, members = 0;
	int rc = ly_store_read_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = ly_store_program_get(db->store, &text, &version);
		ly_mem_free(text);
		if (rc == LOYAL_OK)
			rc = ly_store_member_count(db->store, &members);
		ly_store_read_end(db->store);
	}
	if (rc == LOYAL_OK && version)
		return ly_db_fail(db, LOYAL_ESTATE, "the database has a program already: a simulation "
				  "runs on a new, empty database (its results stay there)");
	if (rc == LOYAL_OK && members)
		rc = ly_db_fail(db, LOYAL_ESTATE, "the database has %lld members already: a "
				"simulation runs on a new, empty database", (long long)members);
	return rc;
}

static bool declared(const struct program *program, const char *type)
{
	if (!program->events_declared)
		return true;
	for (size_t i = 0; i < program->event_type_count; i++)
		if (strcmp(program->event_types[i], type) == 0)
			return true;
	return false;
}

/* The day a member joins: the first half on day 0, the rest evenly over the days. */
static int64_t join_day(const run *r, int64_t member)
{
	int64_t first = r->options->members / 2, rest = r->options->members - first;
	return member < first ? 0 : (member - first) * r->options->days / (rest ? rest : 1);
}

static int simulate_days(run *r, json_t *months)
{
	const loyal_simulation *s = r->options;
	int64_t start = s->start ? s->start : DEFAULT_START;
	int64_t offset = r->db->program->utc_offset_ms;
	int64_t month_from = start, month_to = next_month(start, offset), month_days = 0;
	int rc = LOYAL_OK;
	for (int64_t day = 0; day < s->days && rc == LOYAL_OK; day++) {
		int64_t day_start = start + day * DAY_MS;
		int64_t slot = DAY_MS / (s->members + 1);
		for (int64_t m = 0; m < s->members && rc == LOYAL_OK; m++) {
			int64_t at = day_start + m * slot;
			if (m >= r->joined) {
				if (join_day(r, m) > day)
					break;
				r->joined = m + 1;
				r->engagement[m] = (float)fmin(0.95, r->profile->median_engagement *
								      exp(1.2 * normal(r)));
				r->now = at;
				rc = r->sends[0] ? track(r, m, "signup", NULL) : LOYAL_OK;
				continue;
			}
			if (r->stopped[m])
				continue;
			if (uniform(r) < r->engagement[m])
				rc = active_day(r, m, at, slot);
			if (uniform(r) < r->profile->churn)
				r->stopped[m] = 1;
		}
		if (rc == LOYAL_OK)
			rc = flush(r);
		r->now = day_start + DAY_MS - 1;
		if (rc == LOYAL_OK)
			rc = loyal_expire(r->db, 0, NULL);
		if (rc == LOYAL_OK)
			rc = loyal_tier_sweep(r->db, 0, NULL);
		month_days++;
		bool last = day + 1 == s->days;
		if (rc == LOYAL_OK && (day_start + DAY_MS >= month_to || last)) {
			rc = month_report(r, month_from, last ? day_start + DAY_MS : month_to, month_days,
					  months);
			month_from = month_to;
			month_to = next_month(month_to, offset);
			month_days = 0;
		}
		if (rc == LOYAL_OK && s->progress && s->progress(s->ctx, day + 1, s->days))
			rc = ly_db_fail(r->db, LOYAL_EINTERRUPTED, "the simulation was stopped by its "
					"progress callback after day %lld of %lld",
					(long long)day + 1, (long long)s->days);
	}
	return rc;
}

int loyal_simulation_init(loyal_simulation *simulation, unsigned int version)
{
	if (!simulation || version != LOYAL_SIMULATION_VERSION)
		return LOYAL_EINVAL;
	*simulation = (loyal_simulation)LOYAL_SIMULATION_INIT;
	return LOYAL_OK;
}

int loyal_simulate(loyal_db *db, const loyal_simulation *simulation, char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	if (rc != LOYAL_OK)
		return rc;
	if (!simulation)
		return ly_db_fail(db, LOYAL_EINVAL, "simulation is NULL");
	const population *profile = NULL;
	rc = check_options(db, simulation, &profile);
	if (rc == LOYAL_OK)
		rc = check_empty(db);
	if (rc != LOYAL_OK)
		return rc;
	run r = {.db = db, .options = simulation, .profile = profile, .rng = simulation->seed,
		 .now = simulation->start ? simulation->start : DEFAULT_START};
	loyal_clock_fn clock = db->clock;
	void *clock_ctx = db->clock_ctx;
	db->clock = clock_of_run;
	db->clock_ctx = &r;
	r.engagement = ly_mem_calloc((size_t)simulation->members, sizeof *r.engagement);
	r.stopped = ly_mem_calloc((size_t)simulation->members, sizeof *r.stopped);
	r.active_in = ly_mem_calloc((size_t)simulation->members, sizeof *r.active_in);
	r.month = 1;
	json_t *months = json_array();
	if (!r.engagement || !r.stopped || !r.active_in || !months)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory for %lld simulated members",
				(long long)simulation->members);
	if (rc == LOYAL_OK)
		rc = loyal_program_apply(db, simulation->program, NULL);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	int64_t cache = simulation->members * CACHE_PER_MEMBER;
	if (rc == LOYAL_OK)
		rc = ly_store_cache_size(db->store, cache < CACHE_LEAST  ? CACHE_LEAST
						    : cache > CACHE_MOST ? CACHE_MOST
									 : cache);
	if (rc == LOYAL_OK) {
		const char *types[4] = {"signup", profile->daily,
					profile == &profiles[0] ? "post" : "purchase", "comment"};
		for (int i = 0; i < 4; i++)
			r.sends[i] = declared(db->program, types[i]);
		rc = simulate_days(&r, months);
	}
	if (r.in_batch) { /* a failed call's batch: keep its code and message */
		ly_error kept = db->error;
		loyal_batch_rollback(db);
		db->error = kept;
	}
	ly_error kept = db->error; /* a failure's message outlives the cache's reset */
	int reset = ly_store_cache_size(db->store, 0);
	if (rc == LOYAL_OK)
		rc = reset;
	else
		db->error = kept;
	db->clock = clock;
	db->clock_ctx = clock_ctx;
	ly_mem_free(r.engagement);
	ly_mem_free(r.stopped);
	ly_mem_free(r.active_in);
	if (rc == LOYAL_OK)
		rc = ly_json_emit(&db->error,
				  json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O}", "profile",
					    profile->name, "members", (json_int_t)simulation->members,
					    "days", (json_int_t)simulation->days, "seed",
					    (json_int_t)simulation->seed, "start",
					    (json_int_t)(simulation->start ? simulation->start
									   : DEFAULT_START),
					    "end", (json_int_t)r.now + 1, "events", (json_int_t)r.events,
					    "spends", (json_int_t)r.spends, "months", months),
				  out_json);
	json_decref(months);
	return rc;
}
