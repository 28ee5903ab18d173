/* test_simulate.c - forecasts (loyal_simulate): a small case computed by hand, the same numbers
 * for the same seed, other numbers for another, the simulated members kept for reads, the
 * handle's clock given back, its page cache grown for the call only, and bad calls refused. */
#include "support.h"

#include <jansson.h>
#include <sqlite3.h>

#include <string.h>

/* Only signups are sent (the program declares no other type); each earns 200 xp, which
 * expires 10 days later: every number of the report follows from the joining schedule. */
static const char *const SIGNUP_ONLY =
	"{\"events\": [\"signup\"],"
	" \"currencies\": [{\"name\": \"xp\", \"spendable\": false,"
	"   \"expiry\": {\"after_days\": 10}}],"
	" \"rules\": [{\"name\": \"welcome\", \"event\": \"signup\", \"award\": {\"xp\": \"200\"}}]}";

static const char *const COMMUNITY =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
	"   {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": [{\"name\": \"check-in\", \"event\": \"check_in\","
	"     \"award\": {\"points\": \"10\", \"xp\": \"5\"}},"
	"   {\"name\": \"post\", \"event\": \"post\", \"award\": {\"points\": \"25\", \"xp\": \"20\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"},"
	"   {\"name\": \"regular\", \"entry\": \"earned(xp, 365d) >= 300\"}]}}";

static json_t *simulate(test_env *env, const char *program, int64_t members, int64_t days,
			uint64_t seed)
{
	loyal_simulation s = LOYAL_SIMULATION_INIT;
	s.program = program;
	s.members = members;
	s.days = days;
	s.seed = seed;
	char *text = NULL;
	assert_ok(env->db, loyal_simulate(env->db, &s, &text));
	return test_json(text);
}

static void test_simulate__a_small_case_computed_by_hand(void **state)
{
	test_env *env = *state;
	json_t *report = simulate(env, SIGNUP_ONLY, 10, 30, 1);
	/* Members 0-4 join on day 0, 5-9 on days 0, 6, 12, 18 and 24: ten signups. */
	assert_int_equal(test_json_int(report, "events"), 10);
	assert_int_equal(test_json_int(report, "spends"), 0);
	assert_int_equal(test_json_int(report, "start"), INT64_C(1767225600000));
	assert_int_equal(test_json_int(report, "end"), INT64_C(1767225600000) + 30 * DAY_MS);
	json_t *months = json_object_get(report, "months");
	assert_int_equal(json_array_size(months), 1); /* 30 days of January */
	json_t *january = json_array_get(months, 0);
	assert_int_equal(test_json_int(january, "days"), 30);
	assert_int_equal(test_json_int(january, "members"), 10);
	assert_int_equal(test_json_int(january, "active"), 10);
	assert_int_equal(test_json_int(january, "events"), 10);
	json_t *xp = json_array_get(json_object_get(january, "currencies"), 0);
	assert_string_equal(test_json_text(xp, "currency"), "xp");
	assert_int_equal(test_json_int(xp, "issued"), 2000);
	/* All but the one who joined on day 24 saw their xp expire 10 days later, by day 28. */
	assert_int_equal(test_json_int(xp, "expired"), 1800);
	assert_int_equal(test_json_int(xp, "liability"), 200);
	assert_true(json_real_value(json_object_get(xp, "breakage")) == 0.9);
	json_decref(report);
	/* The members stay for the reads of any other call. */
	loyal_balance balance = test_balance(env, "m0000009", "xp");
	assert_int_equal(balance.earned, 200);
}

static void test_simulate__the_same_seed_gives_the_same_numbers(void **state)
{
	test_env *env = *state;
	json_t *first = simulate(env, COMMUNITY, 200, 70, 42);
	assert_true(test_json_int(first, "events") > 1000);
	assert_true(test_json_int(first, "spends") > 0);
	json_t *months = json_object_get(first, "months");
	assert_int_equal(json_array_size(months), 3); /* January, February, 11 days of March */
	assert_int_equal(test_json_int(json_array_get(months, 2), "days"), 11);
	json_t *tiers = json_object_get(json_array_get(months, 2), "tiers");
	assert_true(json_integer_value(json_object_get(tiers, "regular")) > 0);
	char other[320], again[320];
	test_file(env, "again.db", again);
	test_file(env, "other.db", other);
	const char *paths[2] = {again, other};
	char *texts[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		loyal_open_options opts;
		test_options(env, &opts);
		loyal_db *db = NULL;
		assert_int_equal(loyal_open(paths[i], &opts, &db), LOYAL_OK);
		loyal_simulation s = LOYAL_SIMULATION_INIT;
		s.program = COMMUNITY;
		s.members = 200;
		s.days = 70;
		s.seed = i == 0 ? 42 : 43;
		assert_ok(db, loyal_simulate(db, &s, &texts[i]));
		assert_ok(db, loyal_verify(db));
		loyal_close(db);
	}
	char *text = json_dumps(first, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *again_report = test_json(texts[0]), *other_report = test_json(texts[1]);
	char *again_text = json_dumps(again_report, JSON_COMPACT | JSON_SORT_KEYS);
	char *other_text = json_dumps(other_report, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(again_text, text);
	assert_true(strcmp(other_text, text) != 0);
	free(text);
	free(again_text);
	free(other_text);
	json_decref(again_report);
	json_decref(other_report);
	json_decref(first);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A simulation of SIGNUP_ONLY, with a progress callback. */
static loyal_simulation signup_only(int64_t members, int64_t days,
				    int (*progress)(void *, int64_t, int64_t), void *ctx)
{
	loyal_simulation s = LOYAL_SIMULATION_INIT;
	s.program = SIGNUP_ONLY;
	s.members = members;
	s.days = days;
	s.progress = progress;
	s.ctx = ctx;
	return s;
}

static int stop_on_day_two(void *ctx, int64_t done, int64_t total)
{
	(void)ctx;
	assert_int_equal(total, 30);
	return done == 2;
}

static void test_simulate__progress_may_stop_it(void **state)
{
	test_env *env = *state;
	loyal_simulation s = signup_only(10, 30, stop_on_day_two, NULL);
	char *text = NULL;
	assert_rc(env->db, LOYAL_EINTERRUPTED, loyal_simulate(env->db, &s, &text));
	assert_null(text);
	assert_non_null(strstr(loyal_errmsg(env->db), "after day 2 of 30"));
	/* The handle's own clock is back: a write now is dated by it. */
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "after";
	event.type = "signup";
	event.idempotency_key = "after";
	assert_ok(env->db, loyal_track(env->db, &event, &text));
	json_t *outcome = test_json(text);
	assert_int_equal(test_json_int(outcome, "at"), env->now);
	json_decref(outcome);
}

/* PRAGMA cache_size on db (KiB as a negative number), read from the simulation's progress. */
static int64_t cache_seen;
static int note_cache(void *ctx, int64_t done, int64_t total)
{
	(void)done;
	(void)total;
	assert_int_equal(test_pragma(ctx, "PRAGMA cache_size", &cache_seen), SQLITE_OK);
	return 0;
}

/* A simulation of many members gets a page cache to its size (2.5 KiB a member) for the call
 * only: the handle's 16 MiB is back after. */
static void test_simulate__the_page_cache_grows_with_the_population_for_the_call(void **state)
{
	test_sqlite_only(); /* the file's page cache (the server keeps PostgreSQL's) */
	test_env *env = *state;
	loyal_simulation s = signup_only(10000, 1, note_cache, env->db);
	char *text = NULL;
	assert_ok(env->db, loyal_simulate(env->db, &s, &text));
	free(text);
	assert_int_equal(cache_seen, -25000);
	int64_t after = 0;
	assert_int_equal(test_pragma(env->db, "PRAGMA cache_size", &after), SQLITE_OK);
	assert_int_equal(after, -16384);
}

static void test_simulate__bad_calls_change_nothing(void **state)
{
	test_env *env = *state;
	loyal_simulation s = LOYAL_SIMULATION_INIT;
	s.program = SIGNUP_ONLY;
	s.members = 10;
	s.days = 30;
	char *text = NULL;
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(NULL, &s, &text));
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, NULL, &text));
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, &s, NULL));
	loyal_simulation bad = s;
	bad.version = 99;
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "simulation.version 99"));
	bad = s;
	bad.members = 0;
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "simulation.members (0) must be 1 to"));
	bad = s;
	bad.days = 4000;
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "simulation.days (4000)"));
	bad = s;
	bad.profile = "mall";
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "'mall' is not \"community\" or \"shop\""));
	bad = s;
	bad.program = NULL;
	assert_rc(env->db, LOYAL_EINVAL, loyal_simulate(env->db, &bad, &text));
	bad = s;
	bad.program = "{\"currencies\": [{\"name\": \"xp\", \"spendable\": maybe}]}";
	assert_rc(env->db, LOYAL_EJSON, loyal_simulate(env->db, &bad, &text));
	assert_null(text);
	char *program = NULL;
	assert_ok(env->db, loyal_program_get(env->db, &program));
	json_t *none = test_json(program);
	assert_int_equal(test_json_int(none, "version"), 0); /* nothing was applied */
	json_decref(none);
	json_t *report = simulate(env, SIGNUP_ONLY, 10, 30, 1);
	json_decref(report);
	/* Once filled, the database takes no second simulation. */
	assert_rc(env->db, LOYAL_ESTATE, loyal_simulate(env->db, &s, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "has a program already"));
	loyal_simulation init;
	assert_int_equal(loyal_simulation_init(&init, LOYAL_SIMULATION_VERSION), LOYAL_OK);
	assert_int_equal(init.version, LOYAL_SIMULATION_VERSION);
	assert_int_equal(loyal_simulation_init(&init, 7), LOYAL_EINVAL);
	assert_int_equal(loyal_simulation_init(NULL, LOYAL_SIMULATION_VERSION), LOYAL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simulate__a_small_case_computed_by_hand,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_simulate__the_same_seed_gives_the_same_numbers,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_simulate__progress_may_stop_it, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(
			test_simulate__the_page_cache_grows_with_the_population_for_the_call,
			test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_simulate__bad_calls_change_nothing, test_setup,
						test_teardown),
	};
	return cmocka_run_group_tests_name("simulate", tests, NULL, NULL);
}
