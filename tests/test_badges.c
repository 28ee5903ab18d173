/* test_badges.c - badges: a check-in streak that breaks and restarts, freezes, levels,
 * repeatable badges with a cool-down, points on award, progress and the sweep; an operator's
 * grants and revocations, which criteria and sweeps do not undo. */
#include "support.h"

#include <jansson.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"badges\": ["
	"  {\"name\": \"week-streak\", \"criterion\": \"streak(check_in, day) >= 7\","
	"   \"award\": {\"points\": 100}},"
	"  {\"name\": \"forgiving-streak\", \"criterion\": \"streak(check_in, day) >= 4\","
	"   \"freezes\": 1},"
	"  {\"name\": \"writer\", \"levels\": ["
	"    {\"name\": \"bronze\", \"criterion\": \"count(post) >= 3\"},"
	"    {\"name\": \"silver\", \"criterion\": \"count(post) >= 5\", \"award\": {\"points\": 50}}]},"
	"  {\"name\": \"regular\", \"criterion\": \"count(post, 1d) >= 1\", \"repeatable\": true,"
	"   \"cooldown_days\": 3},"
	"  {\"name\": \"veteran\", \"criterion\": \"member.age >= 30d\"}]}";

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

/* Tracks an event; returns its "badges" list as text (the caller frees the outcome). */
static char *act(test_env *env, const char *type)
{
	static int counter;
	char key[32];
	snprintf(key, sizeof key, "%s-%d", type, ++counter);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = type;
	event.idempotency_key = key;
	char *outcome = NULL;
	assert_ok(env->db, loyal_track(env->db, &event, &outcome));
	return outcome;
}

static bool awarded(char *outcome, const char *badge)
{
	char needle[96];
	snprintf(needle, sizeof needle, "\"badge\":\"%s\"", badge);
	bool found = strstr(strstr(outcome, "\"badges\":"), needle) != NULL;
	loyal_free(outcome);
	return found;
}

/* A check-in challenge open from day 10 to day 17 counts only the check-ins inside it. */
static void test_badges__a_challenge_counts_only_what_happens_inside_its_window(void **state)
{
	test_env *env = *state;
	assert_ok(env->db,
		  loyal_program_apply(
			  env->db,
			  "{\"currencies\": [{\"name\": \"points\"}],"
			  " \"badges\": [{\"name\": \"challenge\","
			  "   \"criterion\": \"streak(check_in, day) >= 7 and count(check_in) >= 7\","
			  "   \"active\": {\"from\": \"2026-01-11T00:00:00Z\","
			  "              \"until\": \"2026-01-18T00:00:00Z\"}}]}",
			  NULL));
	int64_t start = env->now; /* day 0: 2026-01-01 */
	for (int day = 4; day <= 16; day++) {
		env->now = start + day * DAY_MS;
		bool won = awarded(act(env, "check_in"), "challenge");
		/* Days 10..16 are the challenge's seven; days 4-9 came before it opened. */
		assert_int_equal(won, day == 16);
	}
	char *progress = NULL;
	assert_ok(env->db, loyal_badge_progress(env->db, "alice", "challenge", &progress));
	assert_non_null(strstr(progress, "\"complete\":true"));
	loyal_free(progress);
}

static void test_badges__seven_day_streak_breaks_and_restarts(void **state)
{
	test_env *env = *state;
	for (int day = 0; day < 5; day++, env->now += DAY_MS)
		assert_false(awarded(act(env, "check_in"), "week-streak"));
	env->now += 2 * DAY_MS; /* two missed days: the streak breaks */
	for (int day = 0; day < 6; day++, env->now += DAY_MS)
		assert_false(awarded(act(env, "check_in"), "week-streak"));
	assert_true(awarded(act(env, "check_in"), "week-streak")); /* the 7th day in a row */
	assert_int_equal(test_balance(env, "alice", "points").available, 100);
	env->now += DAY_MS;
	assert_false(awarded(act(env, "check_in"), "week-streak")); /* once only */
	char *json = NULL;
	assert_ok(env->db, loyal_badge_list(env->db, "alice", &json));
	assert_non_null(strstr(json, "{\"at\":"));
	assert_non_null(strstr(json, "\"badge\":\"week-streak\",\"how\":\"earned\",\"level\":null"));
	loyal_free(json);
}

/* Streaks are read a page of days at a time: one longer than several pages counts whole, and
 * stops at its gap. */
static void test_badges__long_streak_counts_every_day_and_stops_at_its_gap(void **state)
{
	test_env *env = *state;
	for (int day = 0; day < 30; day++, env->now += DAY_MS)
		loyal_free(act(env, "check_in"));
	env->now += 3 * DAY_MS;
	for (int day = 0; day < 100; day++, env->now += DAY_MS)
		loyal_free(act(env, "check_in"));
	env->now -= DAY_MS; /* the last check-in's day */
	char *json = NULL;
	assert_ok(env->db,
		  loyal_criteria_eval(env->db, "streak(check_in, day)", "alice", NULL, &json));
	assert_string_equal(json, "{\"type\":\"whole number\",\"value\":100}");
	loyal_free(json);
}

static void test_badges__freezes_forgive_a_missed_day(void **state)
{
	test_env *env = *state;
	loyal_free(act(env, "check_in"));
	env->now += DAY_MS;
	loyal_free(act(env, "check_in"));
	env->now += 2 * DAY_MS; /* one missed day, forgiven */
	loyal_free(act(env, "check_in"));
	env->now += DAY_MS;
	assert_true(awarded(act(env, "check_in"), "forgiving-streak"));
}

static void test_badges__levels_are_awarded_in_order(void **state)
{
	test_env *env = *state;
	assert_false(awarded(act(env, "post"), "writer"));
	char *json = NULL;
	assert_ok(env->db, loyal_badge_progress(env->db, "alice", "writer", &json));
	assert_string_equal(json, "{\"badge\":\"writer\",\"complete\":false,\"current\":1,"
				  "\"level\":\"bronze\",\"percent\":33,\"target\":3}");
	loyal_free(json);
	loyal_free(act(env, "post"));
	assert_true(awarded(act(env, "post"), "writer"));
	loyal_free(act(env, "post"));
	char *outcome = act(env, "post");
	assert_non_null(strstr(outcome, "{\"badge\":\"writer\",\"level\":\"silver\"}"));
	loyal_free(outcome);
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	assert_ok(env->db, loyal_badge_progress(env->db, "alice", "writer", &json));
	assert_non_null(strstr(json, "\"complete\":true"));
	loyal_free(json);
}

static void test_badges__repeatable_badge_waits_for_its_cool_down(void **state)
{
	test_env *env = *state;
	assert_true(awarded(act(env, "post"), "regular"));
	env->now += DAY_MS;
	assert_false(awarded(act(env, "post"), "regular"));
	env->now += 2 * DAY_MS;
	assert_true(awarded(act(env, "post"), "regular"));
}

static void test_badges__sweep_awards_time_based_badges(void **state)
{
	test_env *env = *state;
	loyal_free(act(env, "post"));
	int64_t count = -1;
	assert_ok(env->db, loyal_badge_sweep(env->db, 0, &count));
	assert_int_equal(count, 0);
	env->now += 30 * DAY_MS;
	assert_ok(env->db, loyal_badge_sweep(env->db, 0, &count));
	assert_int_equal(count, 1);
	assert_ok(env->db, loyal_badge_sweep(env->db, 0, &count));
	assert_int_equal(count, 0);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_badges__bad_badges_and_calls_are_refused(void **state)
{
	test_env *env = *state;
	const char *bad[] = {
		"[{\"name\": \"x\"}]",
		"[{\"name\": \"x\", \"criterion\": \"true\", \"levels\": []}]",
		"[{\"name\": \"x\", \"criterion\": \"true\", \"award\": {\"gold\": 1}}]",
		"[{\"name\": \"x\", \"criterion\": \"true\", \"award\": {\"points\": -1}}]",
		"[{\"name\": \"x\", \"criterion\": \"count(\"}]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char document[512];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\"}], \"badges\": %s}", bad[i]);
		assert_rc(env->db, LOYAL_EJSON, loyal_program_apply(env->db, document, NULL));
		assert_non_null(strstr(loyal_errmsg(env->db), "badges[0]"));
	}
	char *json = NULL;
	loyal_free(act(env, "post"));
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_badge_progress(env->db, "alice", "nope", &json));
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_badge_list(env->db, "nobody", &json));
	assert_rc(env->db, LOYAL_EINVAL, loyal_badge_sweep(env->db, -1, NULL));
}

static const char *const RECOGNITION =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"badges\": ["
	"  {\"name\": \"founder\", \"criterion\": \"count(post) >= 100000\"},"
	"  {\"name\": \"writer\", \"levels\": ["
	"    {\"name\": \"bronze\", \"criterion\": \"count(post) >= 3\"},"
	"    {\"name\": \"silver\", \"criterion\": \"count(post) >= 5\", \"award\": {\"points\": 50}}]},"
	"  {\"name\": \"helper\", \"criterion\": \"count(post, 1d) >= 1\","
	"   \"after_revoke\": \"earn_again\"}]}";

static json_t *badges_of(test_env *env, const char *member)
{
	char *text = NULL;
	assert_ok(env->db, loyal_badge_list(env->db, member, &text));
	return test_json(text);
}

static void test_badges__operators_grant_and_revoke_with_a_reason(void **state)
{
	test_env *env = *state;
	test_apply(env, RECOGNITION);
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice", "{}"));
	int changed = -1;
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "founder", NULL, "built the forum",
					     &changed));
	assert_int_equal(changed, 1);
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "founder", NULL, "again", &changed));
	assert_int_equal(changed, 0); /* held already */
	json_t *list = badges_of(env, "alice");
	assert_int_equal(json_array_size(list), 1);
	json_t *first = json_array_get(list, 0);
	assert_string_equal(test_json_text(first, "how"), "granted");
	assert_string_equal(test_json_text(first, "reason"), "built the forum");
	assert_true(json_is_null(json_object_get(first, "revoked")));
	json_decref(list);
	env->now += DAY_MS;
	assert_ok(env->db, loyal_badge_revoke(env->db, "alice", "founder", NULL, "left the team",
					      &changed));
	assert_int_equal(changed, 1);
	assert_ok(env->db, loyal_badge_revoke(env->db, "alice", "founder", NULL, "x", &changed));
	assert_int_equal(changed, 0); /* nothing held */
	list = badges_of(env, "alice");
	json_t *revoked = json_object_get(json_array_get(list, 0), "revoked");
	assert_int_equal(test_json_int(revoked, "at"), env->now);
	assert_string_equal(test_json_text(revoked, "reason"), "left the team");
	json_decref(list);
	/* Granted again: a second award; the first stays in the history, revoked. */
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "founder", NULL, "came back", NULL));
	list = badges_of(env, "alice");
	assert_int_equal(json_array_size(list), 2);
	assert_false(json_is_null(json_object_get(json_array_get(list, 0), "revoked")));
	assert_true(json_is_null(json_object_get(json_array_get(list, 1), "revoked")));
	json_decref(list);
	/* A level with an award credits it. */
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "writer", "silver", "editor's pick",
					     &changed));
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	/* Refusals change nothing. */
	static const struct {
		const char *member, *badge, *level, *reason;
		int rc;
		const char *names;
	} bad[] = {
		{"alice", "founder", NULL, NULL, LOYAL_EINVAL, "reason"},
		{"alice", "founder", NULL, "", LOYAL_EINVAL, "reason"},
		{NULL, "founder", NULL, "r", LOYAL_EINVAL, "member"},
		{"alice", NULL, NULL, "r", LOYAL_EINVAL, "badge"},
		{"alice", "nope", NULL, "r", LOYAL_ENOTFOUND, "no badge named 'nope'"},
		{"alice", "writer", "gold", "r", LOYAL_ENOTFOUND, "badge 'writer' has no level 'gold'"},
		{"alice", "writer", NULL, "r", LOYAL_EINVAL, "has levels"},
		{"alice", "founder", "bronze", "r", LOYAL_EINVAL, "has no levels"},
		{"ghost", "founder", NULL, "r", LOYAL_ENOTFOUND, "no member 'ghost'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		for (int grant = 0; grant < 2; grant++) {
			int rc = (grant ? loyal_badge_grant : loyal_badge_revoke)(
				env->db, bad[i].member, bad[i].badge, bad[i].level, bad[i].reason, NULL);
			if (rc != bad[i].rc || !strstr(loyal_errmsg(env->db), bad[i].names))
				print_error("case %zu: %s: %s\n", i, loyal_errstr(rc),
					    loyal_errmsg(env->db));
			assert_int_equal(rc, bad[i].rc);
		}
	list = badges_of(env, "alice");
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_badges__a_revoked_badge_is_earned_again_only_where_the_program_says(void **state)
{
	test_env *env = *state;
	test_apply(env, RECOGNITION);
	for (int i = 0; i < 3; i++)
		loyal_free(act(env, "post"));
	json_t *list = badges_of(env, "alice"); /* bronze and helper, earned */
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_ok(env->db, loyal_badge_revoke(env->db, "alice", "writer", "bronze", "spam", NULL));
	assert_ok(env->db, loyal_badge_revoke(env->db, "alice", "helper", NULL, "spam", NULL));
	/* More posts: bronze ("never" again) nor silver (it needs bronze) come back, and helper
	 * counts only from the day after its revocation. */
	for (int i = 0; i < 3; i++)
		assert_false(awarded(act(env, "post"), "writer"));
	assert_false(awarded(act(env, "post"), "helper"));
	int64_t swept = -1;
	assert_ok(env->db, loyal_badge_sweep(env->db, 0, &swept));
	assert_int_equal(swept, 0);
	env->now += DAY_MS;
	assert_true(awarded(act(env, "post"), "helper"));
	list = badges_of(env, "alice");
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	/* An operator may grant the revoked level back. */
	int changed = 0;
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "writer", "bronze", "appeal", &changed));
	assert_int_equal(changed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_badges__a_challenge_counts_only_what_happens_inside_its_window),
		CASE(test_badges__seven_day_streak_breaks_and_restarts),
		CASE(test_badges__long_streak_counts_every_day_and_stops_at_its_gap),
		CASE(test_badges__freezes_forgive_a_missed_day),
		CASE(test_badges__levels_are_awarded_in_order),
		CASE(test_badges__repeatable_badge_waits_for_its_cool_down),
		CASE(test_badges__sweep_awards_time_based_badges),
		CASE(test_badges__bad_badges_and_calls_are_refused),
		CASE(test_badges__operators_grant_and_revoke_with_a_reason),
		CASE(test_badges__a_revoked_badge_is_earned_again_only_where_the_program_says),
#undef CASE
	};
	return cmocka_run_group_tests_name("badges", tests, NULL, NULL);
}
