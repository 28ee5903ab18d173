/* test_analytics.c - the reports: liability, flows and breakage, active members, retention by
 * cohort, tier and segment sizes. */
#include "support.h"

#include <stdio.h>
#include <string.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 10}}],"
	" \"rules\": [{\"name\": \"visit\", \"event\": \"visit\", \"award\": {\"points\": \"10\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"basic\"}, {\"name\": \"plus\","
	"   \"entry\": \"earned(points, 365d) >= 30\"}]},"
	" \"segments\": [{\"name\": \"visitors\", \"criterion\": \"count(visit) >= 1\"}]}";

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static void visit(test_env *env, const char *member)
{
	static int counter;
	char key[32];
	snprintf(key, sizeof key, "v%d", ++counter);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = "visit";
	event.idempotency_key = key;
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
}

/* Checks a report call's result; json is read after the call (its address is passed). */
static void assert_report(test_env *env, int rc, char **out, const char *expected)
{
	assert_ok(env->db, rc);
	char *json = *out;
	if (strcmp(json, expected) != 0)
		print_error("got %s\n", json);
	assert_string_equal(json, expected);
	loyal_free(json);
}

static void test_analytics__liability_and_flows(void **state)
{
	test_env *env = *state;
	visit(env, "alice");
	visit(env, "bob");
	loyal_posting spend = test_posting("alice", "points", 4, "spend");
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, NULL));
	char *json = NULL;
	assert_report(env, loyal_report_liability(env->db, &json), &json,
		      "[{\"available\":16,\"currency\":\"points\",\"debt\":0,\"held\":0,"
		      "\"members\":2,\"outstanding\":16,\"pending\":0}]");
	env->now += 11 * DAY_MS;
	assert_ok(env->db, loyal_expire(env->db, 0, NULL));
	assert_report(env, loyal_report_flows(env->db, TEST_EPOCH_MS, env->now + 1, &json), &json,
		      "[{\"adjusted\":0,\"breakage\":0.80000000000000004,\"currency\":\"points\","
		      "\"expired\":16,\"issued\":20,\"redeemed\":4,\"reversed\":0}]");
	assert_report(env, loyal_report_flows(env->db, TEST_EPOCH_MS, TEST_EPOCH_MS + DAY_MS,
					      &json),
		      &json,
		      "[{\"adjusted\":0,\"breakage\":0.0,\"currency\":\"points\",\"expired\":0,"
		      "\"issued\":20,\"redeemed\":4,\"reversed\":0}]");
	assert_rc(env->db, LOYAL_EINVAL, loyal_report_flows(env->db, 10, 5, &json));
}

/* What all members hold together may leave 64 bits while every balance fits: the file stays
 * sound, verify passes, and the reports give the totals (as reals past 64 bits). */
static void test_analytics__totals_beyond_64_bits_verify_and_report(void **state)
{
	test_env *env = *state;
	loyal_posting big = test_posting("m", "points", INT64_MAX - 5, "big");
	assert_ok(env->db, loyal_ledger_credit(env->db, &big, NULL));
	visit(env, "n"); /* earns 10: the currency now holds INT64_MAX + 5 */
	assert_ok(env->db, loyal_verify(env->db));
	char *json = NULL;
	assert_report(env, loyal_report_liability(env->db, &json), &json,
		      "[{\"available\":9.2233720368547758e18,\"currency\":\"points\",\"debt\":0,"
		      "\"held\":0,\"members\":2,\"outstanding\":9.2233720368547758e18,"
		      "\"pending\":0}]");
	assert_report(env, loyal_report_flows(env->db, TEST_EPOCH_MS, env->now + 1, &json), &json,
		      "[{\"adjusted\":0,\"breakage\":0.0,\"currency\":\"points\",\"expired\":0,"
		      "\"issued\":9.2233720368547758e18,\"redeemed\":0,\"reversed\":0}]");
	/* A member's own balance still cannot leave 64 bits. */
	loyal_posting more = test_posting("m", "points", 6, "more");
	assert_rc(env->db, LOYAL_EOVERFLOW, loyal_ledger_credit(env->db, &more, NULL));
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_analytics__active_members_and_retention(void **state)
{
	test_env *env = *state;
	/* Day 0: alice and bob join and visit; day 1: alice; day 2: carol joins; alice again. */
	visit(env, "alice");
	visit(env, "bob");
	env->now += DAY_MS;
	visit(env, "alice");
	env->now += DAY_MS;
	visit(env, "carol");
	visit(env, "alice");
	char *json = NULL;
	int64_t day = DAY_MS;
	assert_report(env,
		      loyal_report_active(env->db, "day", TEST_EPOCH_MS, TEST_EPOCH_MS + 3 * day,
					  &json),
		      &json,
		      "[{\"active\":2,\"period\":1767225600000},{\"active\":1,\"period\":1767312000000},"
		      "{\"active\":2,\"period\":1767398400000}]");
	assert_report(env,
		      loyal_report_active(env->db, "month", TEST_EPOCH_MS, TEST_EPOCH_MS + 3 * day,
					  &json),
		      &json, "[{\"active\":3,\"period\":1767225600000}]");
	assert_report(env,
		      loyal_report_retention(env->db, "day", TEST_EPOCH_MS,
					     TEST_EPOCH_MS + 3 * day, &json),
		      &json,
		      "[{\"active\":[2,1,1],\"cohort\":1767225600000,\"members\":2,"
		      "\"share\":[1.0,0.5,0.5]},{\"active\":[1],\"cohort\":1767398400000,"
		      "\"members\":1,\"share\":[1.0]}]");
	assert_rc(env->db, LOYAL_EINVAL, loyal_report_active(env->db, "year", 0, 1, &json));
	assert_rc(env->db, LOYAL_EINVAL, loyal_report_retention(env->db, NULL, 0, 1, &json));
}

static void test_analytics__tier_and_segment_sizes(void **state)
{
	test_env *env = *state;
	visit(env, "alice");
	visit(env, "alice");
	visit(env, "alice");
	visit(env, "bob");
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, NULL, NULL));
	char *json = NULL;
	assert_report(env, loyal_report_sizes(env->db, &json), &json,
		      "{\"segments\":{\"visitors\":2},\"tiers\":{\"basic\":1,\"plus\":1}}");
	assert_rc(env->db, LOYAL_EINVAL, loyal_report_sizes(env->db, NULL));
	assert_int_equal(loyal_report_liability(NULL, &json), LOYAL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_analytics__liability_and_flows),
		CASE(test_analytics__totals_beyond_64_bits_verify_and_report),
		CASE(test_analytics__active_members_and_retention),
		CASE(test_analytics__tier_and_segment_sizes),
#undef CASE
	};
	return cmocka_run_group_tests_name("analytics", tests, NULL, NULL);
}
