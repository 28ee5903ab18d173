/* test_members.c - member records: attributes, blocking, reading. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)
		CASE(test_members__attributes_merge_and_delete),
		CASE(test_members__bad_attributes_change_nothing),
		CASE(test_members__block_and_unblock),
		CASE(test_members__unknown_member_is_not_found),
#undef CASE
	};
	return cmocka_run_group_tests_name("members", tests, NULL, NULL);
}
