/* test_members.c - member records: attributes, blocking, reading, and an operator's search by
 * attribute, tier, segment, activity and status, keyset-paged. */
#include "support.h"

#include <stdio.h>
#include <string.h>

static void test_members__attributes_merge_and_delete(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice",
						   "{\"role\": \"teacher\", \"age\": 41, \"vip\": true}"));
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice",
						   "{\"age\": 42, \"vip\": null, \"city\": \"Lyon\"}"));
	char *json = NULL;
	assert_ok(env->db, loyal_member_get(env->db, "alice", &json));
	assert_non_null(strstr(json, "\"attributes\":{\"age\":42,\"city\":\"Lyon\",\"role\":\"teacher\"}"));
	assert_non_null(strstr(json, "\"status\":\"active\""));
	char expected[64];
	snprintf(expected, sizeof expected, "\"joined_at\":%lld", (long long)TEST_EPOCH_MS);
	assert_non_null(strstr(json, expected));
	loyal_free(json);
}

static void test_members__bad_attributes_change_nothing(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice", "{\"role\": \"parent\"}"));
	const char *bad[] = {"[1]", "{\"nested\": {\"a\": 1}}", "{\"list\": [1]}", "{\"role\": ",
			     "{\"\": 1}", "{\"a\": 1, \"a\": 2}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_rc(env->db, LOYAL_EJSON, loyal_member_set_attrs(env->db, "alice", bad[i]));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_set_attrs(env->db, "alice", NULL));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_set_attrs(env->db, NULL, "{}"));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_set_attrs(env->db, "bad\xc0\xafid", "{}"));
	char *json = NULL;
	assert_ok(env->db, loyal_member_get(env->db, "alice", &json));
	assert_non_null(strstr(json, "\"attributes\":{\"role\":\"parent\"}"));
	loyal_free(json);
}

static void test_members__block_and_unblock(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_member_block(env->db, "mallory"));
	assert_ok(env->db, loyal_member_block(env->db, "mallory"));
	char *json = NULL;
	assert_ok(env->db, loyal_member_get(env->db, "mallory", &json));
	assert_non_null(strstr(json, "\"status\":\"blocked\""));
	loyal_free(json);
	assert_ok(env->db, loyal_member_unblock(env->db, "mallory"));
	assert_ok(env->db, loyal_member_get(env->db, "mallory", &json));
	assert_non_null(strstr(json, "\"status\":\"active\""));
	loyal_free(json);
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_unblock(env->db, "nobody"));
}

static void test_members__unknown_member_is_not_found(void **state)
{
	test_env *env = *state;
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_get(env->db, "ghost", &json));
	assert_non_null(strstr(loyal_errmsg(env->db), "ghost"));
	assert_null(json);
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_get(env->db, "ghost", NULL));
	assert_int_equal(loyal_member_get(NULL, "ghost", &json), LOYAL_EINVAL);
}

static const char *const SEARCH_PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"rules\": [{\"name\": \"buy\", \"event\": \"purchase\","
	"   \"award\": {\"points\": \"floor(event.amount)\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"},"
	"   {\"name\": \"gold\", \"entry\": \"earned(points, 365d) >= 100\"}]},"
	" \"segments\": [{\"name\": \"teachers\", \"criterion\": \"member.role == \\\"teacher\\\"\"}]}";

#define CROWD 300

/* m000..m299, one a second: a third teachers, grades 0-4, a few VIPs; every tenth bought
 * enough for gold, the one after it a little (the member tier); m003 is blocked. */
static int64_t make_crowd(test_env *env)
{
	test_apply(env, SEARCH_PROGRAM);
	int64_t start = env->now;
	for (int i = 0; i < CROWD; i++) {
		char id[16], attrs[96];
		snprintf(id, sizeof id, "m%03d", i);
		snprintf(attrs, sizeof attrs, "{\"role\": \"%s\", \"grade\": %d%s}",
			 i % 3 ? "student" : "teacher", i % 5, i % 50 ? "" : ", \"vip\": true");
		assert_ok(env->db, loyal_member_set_attrs(env->db, id, attrs));
		if (i % 10 <= 1) {
			loyal_event e = LOYAL_EVENT_INIT;
			e.member = id;
			e.type = "purchase";
			e.idempotency_key = "p1";
			e.properties = i % 10 ? "{\"amount\": 10}" : "{\"amount\": 150}";
			assert_ok(env->db, loyal_track(env->db, &e, NULL));
		}
		env->now += 1000;
	}
	assert_ok(env->db, loyal_member_block(env->db, "m003"));
	loyal_cursor *changes = NULL;
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, NULL, &changes));
	loyal_cursor_free(changes);
	return start;
}

/* Runs the query; returns how many rows came, each checked to be after the one before; the
 * last row's id goes to last (may be NULL). */
static int search(test_env *env, const loyal_member_query *q, char *last)
{
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_member_list(env->db, q, &cursor));
	const char *row = NULL;
	char previous[32] = "";
	int count = 0;
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		const char *id = strstr(row, "\"id\":\"");
		assert_non_null(id);
		char current[32];
		snprintf(current, sizeof current, "%.4s", id + 6);
		assert_true(strcmp(current, previous) > 0);
		memcpy(previous, current, sizeof current);
		count++;
	}
	loyal_cursor_free(cursor);
	if (last)
		strcpy(last, previous);
	return count;
}

static void test_members__search_by_attribute_tier_segment_and_activity(void **state)
{
	test_env *env = *state;
	int64_t start = make_crowd(env);
	loyal_member_query q = LOYAL_MEMBER_QUERY_INIT;
	assert_int_equal(search(env, &q, NULL), CROWD);
	q.attribute = "role";
	q.value = "\"teacher\"";
	char last[32];
	assert_int_equal(search(env, &q, last), 100); /* more than a page */
	assert_string_equal(last, "m297");
	q.after = "m150"; /* keyset: go on after a member */
	assert_int_equal(search(env, &q, NULL), 49);
	q.after = NULL;
	q.attribute = "grade";
	q.value = "3.0"; /* numbers compare as numbers */
	assert_int_equal(search(env, &q, NULL), 60);
	q.attribute = "vip";
	q.value = "true";
	assert_int_equal(search(env, &q, NULL), 6);
	q.value = "false";
	assert_int_equal(search(env, &q, NULL), 0);
	q.attribute = q.value = NULL;
	q.tier = "gold";
	assert_int_equal(search(env, &q, NULL), 30);
	q.tier = "member";
	assert_int_equal(search(env, &q, NULL), 30);
	q.tier = NULL;
	q.segment = "teachers";
	assert_int_equal(search(env, &q, NULL), 100);
	q.status = "active";
	assert_int_equal(search(env, &q, NULL), 99);
	q.status = "blocked";
	assert_int_equal(search(env, &q, last), 1);
	assert_string_equal(last, "m003");
	q.segment = q.status = NULL;
	/* Last active in the window of members 100 to 199 (joined one a second). */
	q.active_from = start + 100 * 1000;
	q.active_before = start + 200 * 1000;
	assert_int_equal(search(env, &q, NULL), 100);
	q.tier = "gold";
	q.attribute = "role";
	q.value = "\"teacher\""; /* m120, m150, m180 */
	assert_int_equal(search(env, &q, NULL), 3);
	/* A row. */
	loyal_member_query one = LOYAL_MEMBER_QUERY_INIT;
	one.tier = "gold";
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_member_list(env->db, &one, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	char expected[160];
	snprintf(expected, sizeof expected,
		 "{\"id\":\"m000\",\"joined_at\":%lld,\"last_active_at\":%lld,\"status\":\"active\","
		 "\"tier\":\"gold\"}",
		 (long long)start, (long long)start);
	assert_string_equal(row, expected);
	loyal_cursor_free(cursor);
}

static void test_members__bad_searches_are_refused(void **state)
{
	test_env *env = *state;
	make_crowd(env);
	loyal_cursor *cursor = NULL;
	loyal_member_query q = LOYAL_MEMBER_QUERY_INIT;
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_list(env->db, NULL, &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_list(env->db, &q, NULL));
	assert_int_equal(loyal_member_query_init(NULL, LOYAL_MEMBER_QUERY_VERSION), LOYAL_EINVAL);
	assert_int_equal(loyal_member_query_init(&q, 99), LOYAL_EINVAL);
	static const struct {
		int field, rc;
		const char *names;
	} cases[] = {
		{0, LOYAL_EINVAL, "query.version"},   {1, LOYAL_EINVAL, "without query.value"},
		{2, LOYAL_EINVAL, "without query.attribute"}, {3, LOYAL_EINVAL, "query.value"},
		{4, LOYAL_EINVAL, "query.value"},     {5, LOYAL_EINVAL, "query.value"},
		{6, LOYAL_EINVAL, "query.status"},    {7, LOYAL_EINVAL, "active_before"},
		{8, LOYAL_ENOTFOUND, "no tier named 'platinum'"},
		{9, LOYAL_ENOTFOUND, "no segment named 'nope'"},
		{10, LOYAL_ENOTFOUND, "no member 'ghost'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		loyal_member_query_init(&q, LOYAL_MEMBER_QUERY_VERSION);
		switch (cases[i].field) {
		case 0: q.version = 5; break;
		case 1: q.attribute = "role"; break;
		case 2: q.value = "1"; break;
		case 3: q.attribute = "role"; q.value = "[1]"; break;
		case 4: q.attribute = "role"; q.value = "{\"a\""; break;
		case 5: q.attribute = "role"; q.value = "null"; break;
		case 6: q.status = "gone"; break;
		case 7: q.active_from = 10; q.active_before = 10; break;
		case 8: q.tier = "platinum"; break;
		case 9: q.segment = "nope"; break;
		case 10: q.after = "ghost"; break;
		}
		cursor = NULL;
		int rc = loyal_member_list(env->db, &q, &cursor);
		if (rc != cases[i].rc || !strstr(loyal_errmsg(env->db), cases[i].names))
			print_error("case %zu: %s: %s\n", i, loyal_errstr(rc), loyal_errmsg(env->db));
		assert_int_equal(rc, cases[i].rc);
		assert_null(cursor);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)
		CASE(test_members__attributes_merge_and_delete),
		CASE(test_members__bad_attributes_change_nothing),
		CASE(test_members__block_and_unblock),
		CASE(test_members__unknown_member_is_not_found),
		CASE(test_members__search_by_attribute_tier_segment_and_activity),
		CASE(test_members__bad_searches_are_refused),
#undef CASE
	};
	return cmocka_run_group_tests_name("members", tests, NULL, NULL);
}
