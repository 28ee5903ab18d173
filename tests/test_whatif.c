/* test_whatif.c - what-if replay (loyal_whatif): the live program as the candidate changes
 * nothing and reproduces what the events earned; a doubled rule doubles exactly that rule's
 * points, member by member; a candidate's refusals are counted; the live database is never
 * written; bad calls and a stopped replay leave no scratch file. */
#include "support.h"

#include <jansson.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define PROGRAM_FORMAT                                                                        \
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"        \
	"   {\"name\": \"xp\", \"spendable\": false}],"                                         \
	" \"rules\": [{\"name\": \"check-in\", \"event\": \"check_in\","                        \
	"     \"award\": {\"points\": \"%d\", \"xp\": \"5\"}},"                                  \
	"   {\"name\": \"post\", \"event\": \"post\", \"award\": {\"points\": \"25\", \"xp\": \"20\"}}]," \
	" \"tiers\": {\"levels\": [{\"name\": \"member\"},"                                     \
	"   {\"name\": \"regular\", \"entry\": \"earned(xp, 365d) >= 200\"}]},"                   \
	" \"badges\": [{\"name\": \"ten\", \"criterion\": \"count(check_in) >= 10\","           \
	"   \"award\": {\"points\": 50}}]}"

#define MEMBERS 6
#define DAYS 40
#define FROM_DAY 20

static char live_program[2048];

static void program_text(char *out, size_t size, int check_in)
{
	snprintf(out, size, PROGRAM_FORMAT, check_in);
}

/* Member i checks in on every day divisible by i + 1 and members 0-2 post every fifth day;
 * counts[i] receives member i's check-ins in the period, *posts the period's posts. */
static int64_t history(test_env *env, int64_t counts[MEMBERS], int64_t *posts)
{
	program_text(live_program, sizeof live_program, 10);
	test_apply(env, live_program);
	int64_t events = 0;
	*posts = 0;
	for (int day = 0; day < DAYS; day++)
		for (int i = 0; i < MEMBERS; i++) {
			const char *types[2] = {"check_in", "post"};
			bool does[2] = {day % (i + 1) == 0, i < 3 && day % 5 == 0};
			for (int k = 0; k < 2; k++) {
				if (!does[k])
					continue;
				char member[16], key[32];
				snprintf(member, sizeof member, "m%d", i);
				snprintf(key, sizeof key, "%s-%d", types[k], day);
				env->now = TEST_EPOCH_MS + day * DAY_MS + 3600000 * (i + 8 * k + 1);
				loyal_event event = LOYAL_EVENT_INIT;
				event.member = member;
				event.type = types[k];
				event.idempotency_key = key;
				assert_ok(env->db, loyal_track(env->db, &event, NULL));
				events++;
				if (day >= FROM_DAY) {
					counts[i] += k == 0;
					*posts += k == 1;
				}
			}
		}
	env->now = TEST_EPOCH_MS + DAYS * DAY_MS;
	assert_ok(env->db, loyal_expire(env->db, 0, NULL)); /* as a host's daily job would have */
	return events;
}

typedef struct seen {
	int differences;
	int stop_after_pages;
	int pages;
} seen;

static int count_difference(void *ctx, const char *text)
{
	json_t *row = json_loads(text, 0, NULL);
	assert_non_null(json_object_get(row, "member"));
	json_decref(row);
	((seen *)ctx)->differences++;
	return 0;
}

static int stop_early(void *ctx, int64_t done, int64_t total)
{
	seen *s = ctx;
	assert_true(done > 0 && done <= total);
	return ++s->pages == s->stop_after_pages;
}

static json_t *whatif(test_env *env, const char *candidate, seen *s)
{
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	w.program = candidate;
	w.from = TEST_EPOCH_MS + FROM_DAY * DAY_MS;
	w.scratch = env->dir;
	w.difference = count_difference;
	w.ctx = s;
	char *text = NULL;
	assert_ok(env->db, loyal_whatif(env->db, &w, &text));
	return test_json(text);
}

static json_t *rule(json_t *side, const char *name, const char *currency)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(side, "rules"), i, row)
		if (strcmp(test_json_text(row, "rule"), name) == 0 &&
		    strcmp(test_json_text(row, "currency"), currency) == 0)
			return row;
	fail_msg("no rule %s in %s", name, currency);
	return NULL;
}

/* What the live database reports, to see that a what-if leaves it as it was. */
static char *live_state(test_env *env)
{
	char *flows = NULL, *liability = NULL, *program = NULL;
	assert_ok(env->db, loyal_report_flows(env->db, 0, env->now, &flows));
	assert_ok(env->db, loyal_report_liability(env->db, &liability));
	assert_ok(env->db, loyal_program_get(env->db, &program));
	size_t size = strlen(flows) + strlen(liability) + strlen(program) + 1;
	char *all = test_malloc(size);
	snprintf(all, size, "%s%s%s", flows, liability, program);
	loyal_free(flows);
	loyal_free(liability);
	loyal_free(program);
	return all;
}

/* No scratch folder is left in the test's folder. */
static void assert_no_scratch(test_env *env)
{
	DIR *dir = opendir(env->dir);
	assert_non_null(dir);
	struct dirent *entry;
	while ((entry = readdir(dir)))
		assert_null(strstr(entry->d_name, "loyal-whatif-"));
	closedir(dir);
}

static void test_whatif__the_live_program_as_candidate_changes_nothing(void **state)
{
	test_env *env = *state;
	int64_t counts[MEMBERS] = {0}, posts = 0;
	int64_t events = history(env, counts, &posts);
	char *before = live_state(env);
	seen s = {0};
	json_t *report = whatif(env, live_program, &s);
	assert_int_equal(test_json_int(report, "events"), events);
	json_t *live = json_object_get(report, "live"), *candidate = json_object_get(report, "candidate");
	assert_true(json_equal(live, candidate));
	json_t *members = json_object_get(report, "members");
	assert_int_equal(test_json_int(members, "compared"), MEMBERS);
	assert_int_equal(test_json_int(members, "differing"), 0);
	assert_int_equal(json_array_size(json_object_get(members, "biggest")), 0);
	assert_int_equal(s.differences, 0);
	int64_t check_ins = 0;
	for (int i = 0; i < MEMBERS; i++)
		check_ins += counts[i];
	assert_int_equal(test_json_int(report, "period_events"), check_ins + posts);
	assert_int_equal(test_json_int(rule(live, "check-in", "points"), "points"), 10 * check_ins);
	assert_int_equal(test_json_int(rule(live, "check-in", "points"), "awards"), check_ins);
	assert_int_equal(test_json_int(rule(live, "post", "xp"), "points"), 20 * posts);
	/* The history is all events: the replay through the live program is what happened. */
	char *text = NULL;
	assert_ok(env->db, loyal_report_flows(env->db, TEST_EPOCH_MS + FROM_DAY * DAY_MS, env->now,
					      &text));
	json_t *flows = test_json(text);
	json_t *replayed = json_object_get(live, "currencies");
	for (size_t i = 0; i < json_array_size(flows); i++) {
		json_t *actual = json_array_get(flows, i), *row = json_array_get(replayed, i);
		assert_string_equal(test_json_text(row, "currency"), test_json_text(actual, "currency"));
		assert_int_equal(test_json_int(row, "issued"), test_json_int(actual, "issued"));
		assert_int_equal(test_json_int(row, "expired"), test_json_int(actual, "expired"));
	}
	json_decref(flows);
	assert_ok(env->db, loyal_report_liability(env->db, &text));
	json_t *liability = test_json(text);
	assert_int_equal(test_json_int(json_array_get(replayed, 0), "liability"),
			 test_json_int(json_array_get(liability, 0), "outstanding"));
	json_decref(liability);
	json_t *tiers = json_object_get(live, "tiers");
	assert_true(json_integer_value(json_object_get(tiers, "regular")) > 0);
	assert_true(test_json_int(live, "tier_moves") > 0);
	assert_true(json_integer_value(json_object_get(json_object_get(live, "badges"), "ten")) > 0);
	json_decref(report);
	char *after = live_state(env);
	assert_string_equal(before, after);
	test_free(before);
	test_free(after);
	assert_ok(env->db, loyal_verify(env->db));
	assert_no_scratch(env);
}

static void test_whatif__a_doubled_rule_doubles_that_rules_points(void **state)
{
	test_env *env = *state;
	int64_t counts[MEMBERS] = {0}, posts = 0;
	history(env, counts, &posts);
	char doubled[2048];
	program_text(doubled, sizeof doubled, 20);
	seen s = {0};
	json_t *report = whatif(env, doubled, &s);
	json_t *live = json_object_get(report, "live"), *candidate = json_object_get(report, "candidate");
	json_t *was = rule(live, "check-in", "points"), *now = rule(candidate, "check-in", "points");
	assert_true(test_json_int(was, "points") > 0);
	assert_int_equal(test_json_int(now, "points"), 2 * test_json_int(was, "points"));
	assert_int_equal(test_json_int(now, "awards"), test_json_int(was, "awards"));
	assert_true(json_equal(rule(live, "check-in", "xp"), rule(candidate, "check-in", "xp")));
	assert_true(json_equal(rule(live, "post", "points"), rule(candidate, "post", "points")));
	assert_true(json_equal(json_object_get(live, "tiers"), json_object_get(candidate, "tiers")));
	/* Each member who checked in during the period earned 10 more points per check-in. */
	json_t *members = json_object_get(report, "members");
	int differing = 0;
	for (int i = 0; i < MEMBERS; i++)
		differing += counts[i] > 0;
	assert_int_equal(test_json_int(members, "differing"), differing);
	assert_int_equal(s.differences, differing);
	json_t *biggest = json_object_get(members, "biggest"), *row;
	assert_int_equal(json_array_size(biggest), differing);
	size_t k;
	int64_t previous = INT64_MAX;
	json_array_foreach(biggest, k, row) {
		int member = atoi(test_json_text(row, "member") + 1);
		json_t *points = json_array_get(json_object_get(row, "currencies"), 0);
		assert_int_equal(json_array_size(json_object_get(row, "currencies")), 1);
		assert_string_equal(test_json_text(points, "currency"), "points");
		assert_int_equal(test_json_int(points, "difference"), 10 * counts[member]);
		assert_int_equal(test_json_int(points, "candidate") - test_json_int(points, "live"),
				 10 * counts[member]);
		assert_true(test_json_int(points, "difference") <= previous);
		previous = test_json_int(points, "difference");
	}
	json_decref(report);
	assert_no_scratch(env);
}

static void test_whatif__a_candidate_that_refuses_events_counts_them(void **state)
{
	test_env *env = *state;
	int64_t counts[MEMBERS] = {0}, posts = 0;
	history(env, counts, &posts);
	/* The live program without posts. */
	const char *narrower =
		"{\"events\": [\"check_in\"],"
		" \"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
		"   {\"name\": \"xp\", \"spendable\": false}],"
		" \"rules\": [{\"name\": \"check-in\", \"event\": \"check_in\","
		"     \"award\": {\"points\": \"10\", \"xp\": \"5\"}}],"
		" \"tiers\": {\"levels\": [{\"name\": \"member\"},"
		"   {\"name\": \"regular\", \"entry\": \"earned(xp, 365d) >= 200\"}]},"
		" \"badges\": [{\"name\": \"ten\", \"criterion\": \"count(check_in) >= 10\","
		"   \"award\": {\"points\": 50}}]}";
	seen s = {0};
	json_t *report = whatif(env, narrower, &s);
	json_t *live = json_object_get(report, "live"), *candidate = json_object_get(report, "candidate");
	assert_int_equal(test_json_int(live, "refused"), 0);
	assert_int_equal(test_json_int(candidate, "refused"), posts);
	assert_int_equal(json_array_size(json_object_get(candidate, "rules")), 2); /* check-in */
	assert_int_equal(test_json_int(rule(live, "post", "points"), "points"), 25 * posts);
	/* Members 0-2 posted in the period: their points and xp differ. */
	assert_int_equal(test_json_int(json_object_get(report, "members"), "differing"), 3);
	json_decref(report);
}

static void test_whatif__bad_calls_and_a_stopped_replay_change_nothing(void **state)
{
	test_env *env = *state;
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	w.program = "{}";
	w.scratch = env->dir;
	char *text = NULL;
	assert_rc(env->db, LOYAL_ESTATE, loyal_whatif(env->db, &w, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "has no program"));
	int64_t counts[MEMBERS] = {0}, posts = 0;
	history(env, counts, &posts);
	char *before = live_state(env);
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(NULL, &w, &text));
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, NULL, &text));
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &w, NULL));
	loyal_whatif_request bad = w;
	bad.version = 9;
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "whatif.version 9"));
	bad = w;
	bad.program = NULL;
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &bad, &text));
	bad = w;
	bad.from = env->now;
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "must be before whatif.to (2026-02-10T00:00:00Z)"));
	bad.from = -1;
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "whatif.from (-1) is negative"));
	bad = w;
	bad.to = env->now + DAY_MS;
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "whatif.to is after the clock"));
	bad = w;
	bad.limit = 1001;
	assert_rc(env->db, LOYAL_EINVAL, loyal_whatif(env->db, &bad, &text));
	bad = w;
	bad.program = "{\"currencies\": [{\"name\": \"points\", \"spendable\": maybe}]}";
	assert_rc(env->db, LOYAL_EJSON, loyal_whatif(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "the candidate program: "));
	bad = w;
	bad.program = "{\"currencies\": [{\"name\": \"xp\", \"spendable\": false}]}";
	assert_int_not_equal(loyal_whatif(env->db, &bad, &text), LOYAL_OK); /* drops points */
	assert_non_null(strstr(loyal_errmsg(env->db), "the candidate program: "));
	bad = w;
	char missing[400];
	snprintf(missing, sizeof missing, "%s/no/such/folder", env->dir);
	bad.scratch = missing;
	assert_rc(env->db, LOYAL_EIO, loyal_whatif(env->db, &bad, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "cannot make a scratch folder"));
	/* Stopped by its progress callback after the first page of events. */
	seen s = {.stop_after_pages = 1};
	bad = w;
	bad.program = live_program;
	bad.progress = stop_early;
	bad.ctx = &s;
	assert_rc(env->db, LOYAL_EINTERRUPTED, loyal_whatif(env->db, &bad, &text));
	assert_null(text);
	assert_int_equal(s.pages, 1);
	assert_no_scratch(env);
	char *after = live_state(env);
	assert_string_equal(before, after);
	test_free(before);
	test_free(after);
	loyal_whatif_request init;
	assert_int_equal(loyal_whatif_request_init(&init, LOYAL_WHATIF_REQUEST_VERSION), LOYAL_OK);
	assert_int_equal(init.version, LOYAL_WHATIF_REQUEST_VERSION);
	assert_int_equal(loyal_whatif_request_init(&init, 7), LOYAL_EINVAL);
	assert_int_equal(loyal_whatif_request_init(NULL, 1), LOYAL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whatif__the_live_program_as_candidate_changes_nothing,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_whatif__a_doubled_rule_doubles_that_rules_points,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_whatif__a_candidate_that_refuses_events_counts_them,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_whatif__bad_calls_and_a_stopped_replay_change_nothing,
						test_setup, test_teardown),
	};
	return cmocka_run_group_tests_name("whatif", tests, NULL, NULL);
}
