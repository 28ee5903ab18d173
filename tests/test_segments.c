/* test_segments.c - segments: who is in them now, listing them, and refreshes that report who
 * entered and who left. */
#include "support.h"

#include "engine/handle.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"rules\": [{\"name\": \"post\", \"event\": \"post\", \"award\": {\"points\": \"5\"}}],"
	" \"segments\": ["
	"  {\"name\": \"new\", \"criterion\": \"member.age < 14d\"},"
	"  {\"name\": \"active\", \"criterion\": \"days_since(last_seen) < 30\"},"
	"  {\"name\": \"silent\", \"criterion\": \"days_since(last_seen) >= 30\"},"
	"  {\"name\": \"teachers\", \"criterion\": \"member.role == 'teacher'\"},"
	"  {\"name\": \"spring-test\", \"criterion\": \"bucket('spring-test') < 50\"}]}";

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static void post(test_env *env, const char *member, const char *key)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = "post";
	event.idempotency_key = key;
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
}

/* All rows of a cursor, joined with '|'. */
static void drain(test_env *env, loyal_cursor *cursor, char *out, size_t size)
{
	const char *row = NULL;
	out[0] = '\0';
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		size_t used = strlen(out);
		snprintf(out + used, size - used, "%s%s", used ? "|" : "", row);
	}
	(void)env;
	loyal_cursor_free(cursor);
}

static void test_segments__member_goes_silent_and_comes_back(void **state)
{
	test_env *env = *state;
	post(env, "alice", "p1");
	char *json = NULL;
	assert_ok(env->db, loyal_segment_of(env->db, "alice", &json));
	assert_true(strncmp(json, "[\"new\",\"active\"", 15) == 0);
	loyal_free(json);
	loyal_cursor *changes = NULL;
	char rows[1024];
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, NULL, &changes));
	drain(env, changes, rows, sizeof rows);
	assert_non_null(strstr(rows, "{\"change\":\"entered\",\"member\":\"alice\",\"segment\":\"active\"}"));
	/* 30 idle days later she is silent; the refresh says she left active and entered silent. */
	env->now += 30 * DAY_MS;
	int64_t refresh = 0;
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, &refresh, &changes));
	assert_int_equal(refresh, 2);
	drain(env, changes, rows, sizeof rows);
	assert_non_null(strstr(rows, "{\"change\":\"left\",\"member\":\"alice\",\"segment\":\"active\"}"));
	assert_non_null(strstr(rows, "{\"change\":\"entered\",\"member\":\"alice\",\"segment\":\"silent\"}"));
	assert_non_null(strstr(rows, "{\"change\":\"left\",\"member\":\"alice\",\"segment\":\"new\"}"));
	/* Her next event brings her back. */
	post(env, "alice", "p2");
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, NULL, &changes));
	drain(env, changes, rows, sizeof rows);
	assert_non_null(strstr(rows, "{\"change\":\"left\",\"member\":\"alice\",\"segment\":\"silent\"}"));
	assert_non_null(strstr(rows, "{\"change\":\"entered\",\"member\":\"alice\",\"segment\":\"active\"}"));
	/* Nothing changed since: an empty refresh. */
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, NULL, &changes));
	drain(env, changes, rows, sizeof rows);
	assert_string_equal(rows, "");
}

static void test_segments__listing_streams_the_members_now(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_member_set_attrs(env->db, "ann", "{\"role\": \"teacher\"}"));
	assert_ok(env->db, loyal_member_set_attrs(env->db, "ben", "{\"role\": \"student\"}"));
	assert_ok(env->db, loyal_member_set_attrs(env->db, "cat", "{\"role\": \"teacher\"}"));
	loyal_cursor *cursor = NULL;
	char rows[256];
	assert_ok(env->db, loyal_segment_members(env->db, "teachers", &cursor));
	drain(env, cursor, rows, sizeof rows);
	assert_string_equal(rows, "{\"member\":\"ann\"}|{\"member\":\"cat\"}");
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_segment_members(env->db, "pirates", &cursor));
	assert_non_null(strstr(loyal_errmsg(env->db), "pirates"));
}

static void test_segments__buckets_split_members_stably(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_batch_begin(env->db));
	for (int i = 0; i < 2000; i++) {
		char member[32];
		snprintf(member, sizeof member, "member-%d", i);
		assert_ok(env->db, loyal_member_set_attrs(env->db, member, "{}"));
	}
	assert_ok(env->db, loyal_batch_commit(env->db));
	loyal_cursor *cursor = NULL;
	int first = 0, second = 0;
	const char *row = NULL;
	assert_ok(env->db, loyal_segment_members(env->db, "spring-test", &cursor));
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		first++;
	loyal_cursor_free(cursor);
	assert_ok(env->db, loyal_segment_members(env->db, "spring-test", &cursor));
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		second++;
	loyal_cursor_free(cursor);
	assert_int_equal(first, second);
	assert_in_range(first, 850, 1150); /* half of 2000, give or take 3 sigma and more */
}

/* The lifecycle and RFM segments shipped in examples/lifecycle.json, on a little story. */
static void test_segments__example_lifecycle_program(void **state)
{
	test_env *env = *state;
	size_t size = 0;
	unsigned char *document = test_read_file("examples/lifecycle.json", &size);
	assert_non_null(document);
	char *text = calloc(1, size + 1);
	assert_non_null(text);
	memcpy(text, document, size);
	free(document);
	assert_ok(env->db, loyal_program_apply(env->db, text, NULL));
	free(text);
	loyal_event event = LOYAL_EVENT_INIT;
	char key[32];
	/* A buyer: six purchases over six weeks, the last ten days ago; then quiet for 35 days. */
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof key, "order-%d", i);
		event.member = "buyer";
		event.type = "purchase";
		event.idempotency_key = key;
		event.properties = "{\"amount\": 120}";
		assert_ok(env->db, loyal_track(env->db, &event, NULL));
		env->now += 7 * DAY_MS;
	}
	env->now += 3 * DAY_MS;
	char *json = NULL;
	assert_ok(env->db, loyal_segment_of(env->db, "buyer", &json));
	assert_string_equal(json, "[\"active\",\"rfm-champions\",\"rfm-loyal\"]");
	loyal_free(json);
	env->now += 25 * DAY_MS;
	assert_ok(env->db, loyal_segment_of(env->db, "buyer", &json));
	assert_string_equal(json, "[\"silent\",\"rfm-loyal\"]");
	loyal_free(json);
	env->now += 200 * DAY_MS;
	assert_ok(env->db, loyal_segment_of(env->db, "buyer", &json));
	assert_string_equal(json, "[\"churned\",\"rfm-at-risk\",\"rfm-lost\"]");
	loyal_free(json);
}

/* Listing a segment over 100,000 members holds one member at a time: the library's live
 * allocations are the same after the first thousand rows and at the end, and SQLite stays
 * within its page cache (16 MiB). */
static void test_segments__listing_100000_members_uses_constant_memory(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_batch_begin(env->db));
	for (int i = 0; i < 100000; i++) {
		char member[32];
		snprintf(member, sizeof member, "member-%06d", i);
		assert_ok(env->db, loyal_member_set_attrs(env->db, member,
							   i % 2 ? "{\"role\": \"teacher\"}" : "{}"));
	}
	assert_ok(env->db, loyal_batch_commit(env->db));
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_segment_members(env->db, "teachers", &cursor));
	const char *row = NULL;
	long rows = 0, live_early = 0, live_late = 0;
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		if (++rows == 1000)
			live_early = test_live_allocations();
		if (rows == 49000)
			live_late = test_live_allocations();
	}
	print_message("listed %ld members; live allocations %ld after 1000 rows, %ld after 49000;"
		      " SQLite memory %lld bytes\n",
		      rows, live_early, live_late, (long long)sqlite3_memory_used());
	assert_int_equal(rows, 50000);
	assert_int_equal(live_early, live_late);
	assert_true(sqlite3_memory_used() < 20 * 1024 * 1024);
	loyal_cursor_free(cursor);
}

static void test_segments__bad_segments_and_calls_are_refused(void **state)
{
	test_env *env = *state;
	assert_rc(env->db, LOYAL_EJSON,
		  loyal_program_apply(env->db,
				      "{\"currencies\": [{\"name\": \"points\"}], \"segments\":"
				      " [{\"name\": \"x\", \"criterion\": \"1 + 1\"}]}",
				      NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "segments[0].criterion: must give a boolean"));
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_segment_of(env->db, "nobody", &json));
	assert_rc(env->db, LOYAL_EINVAL, loyal_segment_refresh(env->db, -5, NULL, NULL));
	assert_rc(env->db, LOYAL_EINVAL, loyal_segment_members(env->db, "new", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_segments__member_goes_silent_and_comes_back),
		CASE(test_segments__listing_streams_the_members_now),
		CASE(test_segments__buckets_split_members_stably),
		CASE(test_segments__example_lifecycle_program),
		CASE(test_segments__listing_100000_members_uses_constant_memory),
		CASE(test_segments__bad_segments_and_calls_are_refused),
#undef CASE
	};
	return cmocka_run_group_tests_name("segments", tests, NULL, NULL);
}
