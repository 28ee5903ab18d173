/* test_program.c - applying, versioning and reading the program document. */
#include "support.h"

#include <stdio.h>
#include <string.h>

static void assert_refused(test_env *env, const char *document, const char *message_part)
{
	int64_t version = -1;
	assert_rc(env->db, LOYAL_EJSON, loyal_program_apply(env->db, document, &version));
	if (!strstr(loyal_errmsg(env->db), message_part))
		print_error("message '%s' lacks '%s'\n", loyal_errmsg(env->db), message_part);
	assert_non_null(strstr(loyal_errmsg(env->db), message_part));
	assert_int_equal(version, -1);
}

static void test_program__starts_empty(void **state)
{
	test_env *env = *state;
	char *json = NULL;
	assert_ok(env->db, loyal_program_get(env->db, &json));
	assert_string_equal(json, "{\"program\":{},\"version\":0}");
	loyal_free(json);
}

static void test_program__apply_versions_and_round_trips(void **state)
{
	test_env *env = *state;
	int64_t version = 0;
	assert_ok(env->db, loyal_program_apply(env->db, TEST_PROGRAM, &version));
	assert_int_equal(version, 1);
	/* The same document again changes nothing. */
	assert_ok(env->db, loyal_program_apply(env->db, TEST_PROGRAM, &version));
	assert_int_equal(version, 1);
	char *json = NULL;
	assert_ok(env->db, loyal_program_get(env->db, &json));
	assert_non_null(strstr(json, "\"version\":1"));
	assert_non_null(strstr(json, "\"name\":\"coins\""));
	loyal_free(json);
	const char *changed = "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"coins\"},"
			      "{\"name\": \"xp\"}, {\"name\": \"miles\"}, {\"name\": \"stars\"}]}";
	assert_ok(env->db, loyal_program_apply(env->db, changed, &version));
	assert_int_equal(version, 2);
}

static void test_program__change_keeps_the_expiry_of_existing_lots(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_posting posting = test_posting("alice", "points", 10, "before");
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, NULL));
	test_apply(env, "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 7}},"
			"{\"name\": \"coins\"}, {\"name\": \"xp\"}, {\"name\": \"miles\"}]}");
	posting = test_posting("alice", "points", 5, "after");
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, NULL));
	char *json = NULL;
	assert_ok(env->db, loyal_ledger_expiring(env->db, "alice", "points", 10, &json));
	char expected[160];
	snprintf(expected, sizeof expected,
		 "[{\"amount\":5,\"expires_at\":%lld},{\"amount\":10,\"expires_at\":%lld}]",
		 (long long)(TEST_EPOCH_MS + 7 * DAY_MS), (long long)(TEST_EPOCH_MS + 365 * DAY_MS));
	assert_string_equal(json, expected);
	loyal_free(json);
}

static void test_program__a_second_handle_sees_a_new_currency(void **state)
{
	test_env *env = *state;
	loyal_db *other = NULL;
	loyal_open_options opts;
	test_options(env, &opts);
	assert_rc(other, LOYAL_OK, loyal_open(env->path, &opts, &other));
	test_apply(env, TEST_PROGRAM);
	loyal_posting posting = test_posting("alice", "xp", 3, "k");
	assert_ok(other, loyal_ledger_credit(other, &posting, NULL));
	assert_int_equal(loyal_close(other), LOYAL_OK);
}

static void test_program__bad_documents_are_refused_and_change_nothing(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	assert_refused(env, "{\"currencies\": [", "line 1, column");
	assert_refused(env, "[]", "must be a JSON object");
	assert_refused(env, "{\"currencys\": []}", "unknown key 'currencys'");
	assert_refused(env, "{\"currencies\": {}}", "currencies: must be an array");
	assert_refused(env, "{\"currencies\": [{\"name\": \"Points!\"}]}", "currencies[0].name");
	assert_refused(env, "{\"currencies\": [{\"name\": \"points\", \"colour\": 1}]}",
		       "currencies[0]: unknown key 'colour'");
	assert_refused(env, "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"points\"}]}",
		       "already defined");
	assert_refused(env,
		       "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 0}}]}",
		       "currencies[0].expiry.after_days");
	assert_refused(env,
		       "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"end_of\": \"week\"}}]}",
		       "currencies[0].expiry.end_of");
	assert_refused(env,
		       "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 3,"
		       " \"after_months\": 1}}]}",
		       "exactly one of");
	assert_refused(env, "{\"currencies\": [{\"name\": \"points\", \"clawback\": \"maybe\"}]}",
		       "currencies[0].clawback");
	assert_refused(env, "{\"currencies\": [{\"name\": \"points\", \"spendable\": 1}]}",
		       "spendable");
	assert_refused(env, "{\"timezone\": \"Mars/Olympus\", \"currencies\": []}", "timezone");
	assert_refused(env, "{\"currencies\": [{\"name\": \"points\"}]}",
		       "'coins' is missing");
	assert_refused(env, "{\"currencies\": [], \"currencies\": []}", "duplicate");
	assert_rc(env->db, LOYAL_EINVAL, loyal_program_apply(env->db, NULL, NULL));
	assert_int_equal(loyal_program_apply(NULL, TEST_PROGRAM, NULL), LOYAL_EINVAL);
	char *json = NULL;
	assert_ok(env->db, loyal_program_get(env->db, &json));
	assert_non_null(strstr(json, "\"version\":1"));
	loyal_free(json);
	assert_rc(env->db, LOYAL_EINVAL, loyal_program_get(env->db, NULL));
}

/* Every object of the document refuses keys it does not know, so that a typo is never
 * silently ignored. */
static void test_program__every_object_refuses_unknown_keys(void **state)
{
	test_env *env = *state;
	const char *const documents[][2] = {
		{"{\"currencies\": [{\"name\": \"p\"}], \"badges\": [{\"name\": \"b\","
		 " \"criterion\": \"true\", \"active\": {\"untill\": 5}}]}",
		 "badges[0].active: unknown key 'untill'"},
		{"{\"currencies\": [{\"name\": \"p\"}], \"badges\": [{\"name\": \"b\","
		 " \"levels\": [{\"name\": \"l\", \"criterion\": \"true\", \"awrd\": {}}]}]}",
		 "badges[0].levels[0]: unknown key 'awrd'"},
		{"{\"currencies\": [{\"name\": \"p\"}], \"badges\": [{\"name\": \"b\","
		 " \"criterion\": \"true\", \"active\": 7}]}",
		 "badges[0].active: must be an object"},
		{"{\"currencies\": [{\"name\": \"p\"}], \"rules\": [{\"name\": \"r\","
		 " \"event\": \"e\", \"award\": {\"p\": \"1\"}, \"active\": {\"untill\": 5}}]}",
		 "rules[0].active: unknown key 'untill'"},
	};
	for (size_t i = 0; i < sizeof documents / sizeof *documents; i++)
		assert_refused(env, documents[i][0], documents[i][1]);
	char *json = NULL;
	assert_ok(env->db, loyal_program_get(env->db, &json));
	assert_string_equal(json, "{\"program\":{},\"version\":0}");
	loyal_free(json);
}

/* A program may declare its event types: a misspelt one is then an error everywhere. */
static void test_program__declared_events_refuse_unknown_types(void **state)
{
	test_env *env = *state;
	assert_refused(env,
		       "{\"currencies\": [{\"name\": \"p\"}], \"events\": [\"purchase\"],"
		       " \"rules\": [{\"name\": \"r\", \"event\": \"purchse\", \"award\": {\"p\": \"1\"}}]}",
		       "rules[0].event: 'purchse' is not one of the events the program declares");
	assert_refused(env,
		       "{\"currencies\": [{\"name\": \"p\"}], \"events\": [\"purchase\"],"
		       " \"segments\": [{\"name\": \"s\", \"criterion\": \"count(purchse) > 1\"}]}",
		       "unknown event type 'purchse'");
	assert_refused(env, "{\"events\": [\"a\", \"a\"]}", "events[1]: 'a' is listed twice");
	assert_refused(env, "{\"events\": [\"A B\"]}", "events[0]: must be an event type");
	test_apply(env, "{\"currencies\": [{\"name\": \"p\"}], \"events\": [\"purchase\", \"visit\"],"
			" \"rules\": [{\"name\": \"r\", \"event\": \"purchase\", \"award\": {\"p\": \"1\"}}]}");
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchse";
	event.idempotency_key = "k";
	assert_rc(env->db, LOYAL_EINVAL, loyal_track(env->db, &event, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "event.type 'purchse' is not one of the events"));
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_get(env->db, "alice", &json));
	event.type = "visit"; /* declared, read by no rule: recorded */
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
	assert_rc(env->db, LOYAL_ESYNTAX, loyal_criteria_check(env->db, "count(vist) > 1", &json));
	assert_non_null(strstr(loyal_errmsg(env->db), "column 7: unknown event type 'vist'"));
	assert_ok(env->db, loyal_criteria_check(env->db, "count(visit) > 1 and days_since(last_seen) < 3", &json));
	loyal_free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)
		CASE(test_program__starts_empty),
		CASE(test_program__apply_versions_and_round_trips),
		CASE(test_program__change_keeps_the_expiry_of_existing_lots),
		CASE(test_program__a_second_handle_sees_a_new_currency),
		CASE(test_program__bad_documents_are_refused_and_change_nothing),
		CASE(test_program__every_object_refuses_unknown_keys),
		CASE(test_program__declared_events_refuse_unknown_types),
#undef CASE
	};
	return cmocka_run_group_tests_name("program", tests, NULL, NULL);
}
