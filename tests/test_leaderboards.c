/* test_leaderboards.c - leaderboards: counts, sums and points earned per period, a scope that
 * says who competes, ties ranked by who got there first, past periods, a member's rank with
 * their neighbours, and bad boards and calls. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS INT64_C(3600000)

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"rules\": [{\"name\": \"buy\", \"event\": \"purchase\","
	"   \"award\": {\"points\": \"floor(event.amount)\"}}],"
	" \"leaderboards\": ["
	"  {\"name\": \"students\", \"measure\": {\"count\": \"post\"}, \"period\": \"week\","
	"   \"scope\": \"member.role == \\\"student\\\"\"},"
	"  {\"name\": \"spenders\", \"measure\": {\"sum\": \"purchase.amount\"}, \"period\": \"month\"},"
	"  {\"name\": \"earners\", \"measure\": {\"earned\": \"points\"}}]}";

static int setup(void **state)
{
	int rc = test_setup(state);
	if (rc == 0)
		test_apply(*state, PROGRAM);
	return rc;
}

static void act(test_env *env, const char *member, const char *type, const char *properties)
{
	static int counter;
	char key[32];
	snprintf(key, sizeof key, "k%d", ++counter);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = type;
	event.idempotency_key = key;
	event.properties = properties;
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
}

static json_t *top(test_env *env, const char *board, int64_t at, int limit)
{
	char *text = NULL;
	assert_ok(env->db, loyal_leaderboard_top(env->db, board, at, limit, &text));
	return test_json(text);
}

/* The rows' members and scores as text: "alice:3 bob:2". */
static void rows_text(json_t *result, char *out, size_t size)
{
	size_t used = 0, i;
	json_t *row;
	out[0] = '\0';
	json_array_foreach (json_object_get(result, "rows"), i, row) {
		assert_int_equal(test_json_int(row, "rank"), (int64_t)i + 1 +
			(int64_t)(json_integer_value(json_object_get(json_array_get(
				json_object_get(result, "rows"), 0), "rank")) - 1));
		used += (size_t)snprintf(out + used, size - used, "%s%s:%g", used ? " " : "",
					 test_json_text(row, "member"),
					 json_number_value(json_object_get(row, "score")));
	}
}

static void assert_top(test_env *env, const char *board, int64_t at, int limit,
		       const char *expected)
{
	json_t *result = top(env, board, at, limit);
	char text[256];
	rows_text(result, text, sizeof text);
	assert_string_equal(text, expected);
	json_decref(result);
}

static void test_leaderboards__counts_sums_and_points_per_period(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice", "{\"role\": \"student\"}"));
	assert_ok(env->db, loyal_member_set_attrs(env->db, "bob", "{\"role\": \"student\"}"));
	assert_ok(env->db, loyal_member_set_attrs(env->db, "tess", "{\"role\": \"teacher\"}"));
	/* Thursday 2026-01-01: bob posts twice, alice once, then alice once more (a tie of two:
	 * bob reached it first); tess is out of scope. */
	act(env, "bob", "post", NULL);
	act(env, "bob", "post", NULL);
	env->now += HOUR_MS;
	act(env, "alice", "post", NULL);
	act(env, "alice", "post", NULL);
	act(env, "tess", "post", NULL);
	assert_top(env, "students", 0, 10, "bob:2 alice:2");
	act(env, "alice", "post", NULL);
	assert_top(env, "students", 0, 10, "alice:3 bob:2");
	assert_top(env, "students", 0, 1, "alice:3");
	/* A week on (Monday 2026-01-05 starts a new week): a new board; last week's stays. */
	int64_t last_week = env->now;
	env->now = TEST_EPOCH_MS + 4 * DAY_MS + HOUR_MS;
	act(env, "bob", "post", NULL);
	assert_top(env, "students", 0, 10, "bob:1");
	assert_top(env, "students", last_week, 10, "alice:3 bob:2");
	json_t *result = top(env, "students", 0, 10);
	assert_int_equal(test_json_int(result, "period_start"), TEST_EPOCH_MS + 4 * DAY_MS);
	json_decref(result);
	/* Sums of a property, and points earned, all time. */
	act(env, "tess", "purchase", "{\"amount\": 12.5}");
	act(env, "bob", "purchase", "{\"amount\": 30}");
	act(env, "tess", "purchase", "{\"amount\": 20}");
	assert_top(env, "spenders", 0, 10, "tess:32.5 bob:30");
	assert_top(env, "earners", 0, 10, "tess:32 bob:30");
	result = top(env, "earners", 0, 10);
	assert_true(json_is_null(json_object_get(result, "period_start")));
	json_decref(result);
}

static void test_leaderboards__a_members_rank_with_neighbours(void **state)
{
	test_env *env = *state;
	for (int i = 0; i < 30; i++) {
		char member[16], properties[32];
		snprintf(member, sizeof member, "m%02d", i);
		snprintf(properties, sizeof properties, "{\"amount\": %d}", 100 - i);
		act(env, member, "purchase", properties);
	}
	char *text = NULL;
	assert_ok(env->db, loyal_leaderboard_rank(env->db, "spenders", "m10", 0, 2, &text));
	json_t *result = test_json(text);
	assert_int_equal(test_json_int(result, "rank"), 11);
	assert_int_equal(test_json_int(result, "score"), 90);
	char rows[256];
	rows_text(result, rows, sizeof rows);
	assert_string_equal(rows, "m08:92 m09:91 m10:90 m11:89 m12:88");
	assert_int_equal(test_json_int(json_array_get(json_object_get(result, "rows"), 0), "rank"), 9);
	json_decref(result);
	/* At the top, fewer above; a member without a score has no rank. */
	assert_ok(env->db, loyal_leaderboard_rank(env->db, "spenders", "m00", 0, 1, &text));
	result = test_json(text);
	rows_text(result, rows, sizeof rows);
	assert_string_equal(rows, "m00:100 m01:99");
	json_decref(result);
	assert_ok(env->db, loyal_member_set_attrs(env->db, "newbie", "{}"));
	assert_ok(env->db, loyal_leaderboard_rank(env->db, "spenders", "newbie", 0, 3, &text));
	result = test_json(text);
	assert_true(json_is_null(json_object_get(result, "rank")));
	assert_int_equal(json_array_size(json_object_get(result, "rows")), 0);
	json_decref(result);
}

static void test_leaderboards__bad_boards_and_calls_are_refused(void **state)
{
	test_env *env = *state;
	static const struct {
		const char *board, *names;
	} bad[] = {
		{"{\"name\": \"x\", \"measure\": {\"count\": \"post\"}, \"period\": \"year\"}",
		 "leaderboards[0].period"},
		{"{\"name\": \"x\", \"measure\": {\"earned\": \"gold\"}}", "no currency 'gold'"},
		{"{\"name\": \"x\", \"measure\": {\"sum\": \"purchase\"}}", "leaderboards[0].measure.sum"},
		{"{\"name\": \"x\", \"measure\": {\"count\": \"post\", \"sum\": \"a.b\"}}",
		 "leaderboards[0].measure"},
		{"{\"name\": \"x\"}", "leaderboards[0].measure"},
		{"{\"name\": \"x\", \"measure\": {\"count\": \"post\"}, \"scope\": \"member.age >\"}",
		 "leaderboards[0].scope"},
		{"{\"name\": \"x\", \"measure\": {\"count\": \"post\"}, \"colour\": 1}", "colour"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char document[400];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\"}], \"leaderboards\": [%s]}",
			 bad[i].board);
		int rc = loyal_program_apply(env->db, document, NULL);
		if (rc == LOYAL_OK || !strstr(loyal_errmsg(env->db), bad[i].names))
			print_error("case %zu: %s: %s\n", i, loyal_errstr(rc), loyal_errmsg(env->db));
		assert_true(rc == LOYAL_EJSON || rc == LOYAL_ESYNTAX);
	}
	char *text = NULL;
	assert_int_equal(loyal_leaderboard_top(env->db, "nope", 0, 10, &text), LOYAL_ENOTFOUND);
	assert_non_null(strstr(loyal_errmsg(env->db), "no leaderboard named 'nope'"));
	assert_int_equal(loyal_leaderboard_top(env->db, "earners", 0, 0, &text), LOYAL_EINVAL);
	assert_int_equal(loyal_leaderboard_top(env->db, "earners", 0, 1001, &text), LOYAL_EINVAL);
	assert_int_equal(loyal_leaderboard_top(env->db, "earners", -1, 10, &text), LOYAL_EINVAL);
	assert_int_equal(loyal_leaderboard_top(env->db, NULL, 0, 10, &text), LOYAL_EINVAL);
	assert_int_equal(loyal_leaderboard_top(env->db, "earners", 0, 10, NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_leaderboard_rank(env->db, "earners", "ghost", 0, 1, &text),
			 LOYAL_ENOTFOUND);
	assert_int_equal(loyal_leaderboard_rank(env->db, "earners", "ghost", 0, 51, &text),
			 LOYAL_EINVAL);
	assert_null(text);
}

int main(void)
{
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
	const struct CMUnitTest tests[] = {
		CASE(test_leaderboards__counts_sums_and_points_per_period),
		CASE(test_leaderboards__a_members_rank_with_neighbours),
		CASE(test_leaderboards__bad_boards_and_calls_are_refused),
	};
#undef CASE
	return cmocka_run_group_tests(tests, NULL, NULL);
}
