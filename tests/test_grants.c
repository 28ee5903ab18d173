/* test_grants.c - bulk grants: points to a list, a coupon to a segment, every refusal counted
 * and named, a run again that doubles nobody, a changed request refused, bad input that changes
 * nothing, and a process killed in the middle of a grant whose run again completes it. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"segments\": [{\"name\": \"teachers\", \"criterion\": \"member.role == \\\"teacher\\\"\"}],"
	" \"coupons\": [{\"name\": \"thanks\", \"codes\": \"pool\"},"
	"  {\"name\": \"seniors\", \"eligible\": \"member.years >= 10\"}]}";

static int setup(void **state)
{
	int rc = test_setup(state);
	if (rc == 0)
		test_apply(*state, PROGRAM);
	return rc;
}

/* What the callbacks saw. */
typedef struct seen {
	int64_t done, total;
	int progress_calls;
	char refusals[512];
} seen;

static void on_progress(void *ctx, int64_t done, int64_t total)
{
	seen *s = ctx;
	assert_true(done > s->done && done <= total);
	s->done = done;
	s->total = total;
	s->progress_calls++;
}

static void on_refused(void *ctx, const char *member, int code, const char *why,
		       const char *message)
{
	seen *s = ctx;
	assert_true(code < 0);
	assert_true(message[0] != '\0');
	size_t used = strlen(s->refusals);
	snprintf(s->refusals + used, sizeof s->refusals - used, "%s:%s ", member, why);
}

static loyal_grant points_grant(const char *key, const char *const *members, size_t count,
				int64_t amount, seen *s)
{
	loyal_grant g = LOYAL_GRANT_INIT;
	g.key = key;
	g.members = members;
	g.member_count = count;
	g.currency = "points";
	g.amount = amount;
	g.reason = "sorry for the outage";
	g.progress = on_progress;
	g.refused = on_refused;
	g.ctx = s;
	return g;
}

static json_t *run(test_env *env, const loyal_grant *g)
{
	char *text = NULL;
	assert_ok(env->db, loyal_grant_run(env->db, g, &text));
	return test_json(text);
}

static int64_t why_count(json_t *report, const char *why)
{
	return json_integer_value(json_object_get(json_object_get(report, "why"), why));
}

static void member(test_env *env, const char *id, const char *attrs)
{
	assert_ok(env->db, loyal_member_set_attrs(env->db, id, attrs));
}

static void test_grants__points_to_a_list_once_each(void **state)
{
	test_env *env = *state;
	member(env, "alice", "{}");
	member(env, "bob", "{}");
	member(env, "carol", "{}");
	assert_ok(env->db, loyal_member_block(env->db, "carol"));
	static const char *const list[] = {"alice", "bob", "carol", "ghost", "", "alice"};
	seen s = {0};
	loyal_grant g = points_grant("outage-1", list, 6, 50, &s);
	json_t *report = run(env, &g);
	assert_string_equal(test_json_text(report, "grant"), "outage-1");
	assert_int_equal(test_json_int(report, "examined"), 6);
	assert_int_equal(test_json_int(report, "granted"), 2);
	assert_int_equal(test_json_int(report, "already_granted"), 1); /* alice, listed twice */
	assert_int_equal(test_json_int(report, "refused"), 3);
	assert_int_equal(why_count(report, "blocked"), 1);
	assert_int_equal(why_count(report, "unknown_member"), 1);
	assert_int_equal(why_count(report, "invalid_member"), 1);
	assert_string_equal(s.refusals, "carol:blocked ghost:unknown_member :invalid_member ");
	assert_int_equal(s.done, 6);
	assert_int_equal(s.total, 6);
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	assert_int_equal(test_balance(env, "bob", "points").available, 50);
	/* No member was made for the unknown id; the reason is on the statement. */
	char *text = NULL;
	assert_int_equal(loyal_member_get(env->db, "ghost", &text), LOYAL_ENOTFOUND);
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_ledger_statement(env->db, "bob", "points", 0, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "sorry for the outage"));
	loyal_cursor_free(cursor);
	json_decref(report);

	/* Run again, with carol unblocked: nobody is given twice, and carol's refusal stays. */
	assert_ok(env->db, loyal_member_unblock(env->db, "carol"));
	memset(&s, 0, sizeof s);
	report = run(env, &g);
	assert_int_equal(test_json_int(report, "granted"), 0);
	assert_int_equal(test_json_int(report, "already_granted"), 3);
	assert_int_equal(why_count(report, "blocked"), 1);
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	assert_int_equal(test_balance(env, "carol", "points").available, 0);
	json_decref(report);
	/* A longer list under the same key serves only the new ids. */
	member(env, "dave", "{}");
	static const char *const longer[] = {"alice", "bob", "dave"};
	memset(&s, 0, sizeof s);
	g = points_grant("outage-1", longer, 3, 50, &s);
	report = run(env, &g);
	assert_int_equal(test_json_int(report, "granted"), 1);
	assert_int_equal(test_json_int(report, "already_granted"), 2);
	assert_int_equal(test_balance(env, "dave", "points").available, 50);
	json_decref(report);
	/* The same key for another amount is refused before anybody is given anything. */
	memset(&s, 0, sizeof s);
	g = points_grant("outage-1", longer, 3, 60, &s);
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_grant_run(env->db, &g, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "grant 'outage-1'"));
	assert_int_equal(test_balance(env, "dave", "points").available, 50);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_grants__a_coupon_to_a_segment(void **state)
{
	test_env *env = *state;
	/* 300 students and teachers: more than a transaction's worth of members. */
	for (int i = 0; i < 300; i++) {
		char id[32], attrs[64];
		snprintf(id, sizeof id, "m%03d", i);
		snprintf(attrs, sizeof attrs, "{\"role\": \"%s\", \"years\": %d}",
			 i % 100 == 7 ? "teacher" : "student", i == 7 ? 1 : 12);
		member(env, id, attrs);
	}
	assert_ok(env->db, loyal_member_block(env->db, "m107"));
	int64_t added = 0, duplicates = 0;
	assert_ok(env->db, loyal_coupon_import(env->db, "thanks", "THANKS-1\nTHANKS-2\n", &added,
					       &duplicates));
	seen s = {0};
	loyal_grant g = LOYAL_GRANT_INIT;
	g.key = "teachers-day";
	g.segment = "teachers";
	g.coupon = "thanks";
	g.progress = on_progress;
	g.refused = on_refused;
	g.ctx = &s;
	json_t *report = run(env, &g);
	/* m007 and m207 get the two codes; m107 is blocked. */
	assert_int_equal(test_json_int(report, "examined"), 300);
	assert_int_equal(test_json_int(report, "granted"), 2);
	assert_int_equal(why_count(report, "blocked"), 1);
	assert_string_equal(s.refusals, "m107:blocked ");
	assert_int_equal(s.progress_calls, 2);
	assert_int_equal(s.total, 300);
	json_decref(report);
	/* A third teacher finds the pool empty. */
	member(env, "m299", "{\"role\": \"teacher\", \"years\": 12}");
	memset(&s, 0, sizeof s);
	report = run(env, &g);
	assert_int_equal(test_json_int(report, "granted"), 0);
	assert_int_equal(test_json_int(report, "already_granted"), 2);
	assert_int_equal(why_count(report, "sold_out"), 1);
	json_decref(report);
	/* A coupon's eligible expression is checked member by member. */
	g.key = "seniors-1";
	g.coupon = "seniors";
	memset(&s, 0, sizeof s);
	report = run(env, &g);
	assert_int_equal(test_json_int(report, "granted"), 2); /* m207 (years 12), m299 */
	assert_int_equal(why_count(report, "not_eligible"), 1); /* m007: 1 year */
	assert_int_equal(why_count(report, "blocked"), 1);
	json_decref(report);
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_coupon_list(env->db, "m207", 0, &cursor));
	int codes = 0;
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		codes++;
	loyal_cursor_free(cursor);
	assert_int_equal(codes, 2);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_grants__bad_input_changes_nothing(void **state)
{
	test_env *env = *state;
	member(env, "alice", "{}");
	static const char *const list[] = {"alice"};
	seen s = {0};
	assert_int_equal(loyal_grant_run(NULL, NULL, NULL), LOYAL_EINVAL);
	assert_rc(env->db, LOYAL_EINVAL, loyal_grant_run(env->db, NULL, NULL));
	assert_int_equal(loyal_grant_init(NULL, LOYAL_GRANT_VERSION), LOYAL_EINVAL);
	loyal_grant g;
	assert_int_equal(loyal_grant_init(&g, 99), LOYAL_EINVAL);
	static const struct {
		int field, rc;
		const char *names;
	} cases[] = {
		{0, LOYAL_EINVAL, "grant.version"},    {1, LOYAL_EINVAL, "grant.key"},
		{2, LOYAL_EINVAL, "not both"},         {3, LOYAL_EINVAL, "neither"},
		{4, LOYAL_EINVAL, "grant.currency and grant.coupon"},
		{5, LOYAL_EINVAL, "grant.amount"},     {6, LOYAL_EINVAL, "grant.at"},
		{7, LOYAL_EINVAL, "grant.expires_at"}, {8, LOYAL_EINVAL, "grant.reason"},
		{9, LOYAL_ENOTFOUND, "nope"},          {10, LOYAL_ENOTFOUND, "nope"},
		{11, LOYAL_ENOTFOUND, "nope"},         {12, LOYAL_EINVAL, "grant.member_count"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		g = points_grant("bad", list, 1, 5, &s);
		switch (cases[i].field) {
		case 0: g.version = 7; break;
		case 1: g.key = ""; break;
		case 2: g.segment = "teachers"; break;
		case 3: g.members = NULL; g.member_count = 0; break;
		case 4: g.coupon = "thanks"; break;
		case 5: g.amount = 0; break;
		case 6: g.at = env->now + 2 * DAY_MS; break;
		case 7: g.expires_at = env->now - 1; break;
		case 8: g.currency = NULL; g.amount = 0; g.coupon = "thanks"; break; /* reason set */
		case 9: g.members = NULL; g.member_count = 0; g.segment = "nope"; break;
		case 10: g.currency = "nope"; break;
		case 11: g.currency = NULL; g.amount = 0; g.reason = NULL; g.coupon = "nope"; break;
		case 12: g.members = NULL; g.segment = "teachers"; break;
		}
		int rc = loyal_grant_run(env->db, &g, NULL);
		if (rc != cases[i].rc || !strstr(loyal_errmsg(env->db), cases[i].names))
			print_error("case %zu: %s: %s\n", i, loyal_errstr(rc), loyal_errmsg(env->db));
		assert_int_equal(rc, cases[i].rc);
	}
	/* Inside a batch: refused, the batch still open and usable. */
	g = points_grant("bad", list, 1, 5, &s);
	assert_ok(env->db, loyal_batch_begin(env->db));
	assert_rc(env->db, LOYAL_ESTATE, loyal_grant_run(env->db, &g, NULL));
	assert_ok(env->db, loyal_batch_rollback(env->db));
	assert_int_equal(test_balance(env, "alice", "points").available, 0);
	assert_int_equal(test_statement_length(env, "alice"), 0);
	/* None of them recorded the key: the good grant under it goes through. */
	json_t *report = run(env, &g);
	assert_int_equal(test_json_int(report, "granted"), 1);
	json_decref(report);
	assert_ok(env->db, loyal_verify(env->db));
}

/* ---- a grant killed in the middle, then run again ---- */

#define CROWD 700

static const char *crowd[CROWD];

static void die_on_progress(void *ctx, int64_t done, int64_t total)
{
	(void)ctx;
	(void)total;
	if (done >= 512) /* two transactions committed */
		_exit(3);
}

static void die_on_refusal(void *ctx, const char *member, int code, const char *why,
			   const char *message)
{
	(void)ctx, (void)member, (void)code, (void)why, (void)message;
	_exit(4); /* inside a transaction, its members not committed */
}

/* In a child: opens the store and runs the grant with the given callbacks, which kill it. */
static void run_and_die(test_env *env, void (*progress)(void *, int64_t, int64_t),
			void (*refused)(void *, const char *, int, const char *, const char *),
			int expected)
{
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		loyal_open_options opts;
		test_options(env, &opts);
		loyal_db *db = NULL;
		if (loyal_open(env->path, &opts, &db) != LOYAL_OK)
			_exit(1);
		loyal_grant g = points_grant("crowd", crowd, CROWD, 7, NULL);
		g.progress = progress;
		g.refused = refused;
		loyal_grant_run(db, &g, NULL);
		_exit(2); /* the callbacks should have ended it */
	}
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), expected);
}

static void test_grants__a_killed_grant_completes_when_run_again(void **state)
{
	test_env *env = *state;
	static char ids[CROWD][16];
	assert_ok(env->db, loyal_batch_begin(env->db));
	for (int i = 0; i < CROWD; i++) {
		snprintf(ids[i], sizeof ids[i], "c%03d", i);
		crowd[i] = ids[i];
		member(env, ids[i], "{}");
	}
	assert_ok(env->db, loyal_batch_commit(env->db));
	/* The first run dies after two transactions, the second in the middle of the third. */
	test_close_db(env);
	run_and_die(env, die_on_progress, NULL, 3);
	test_reopen_db(env);
	assert_ok(env->db, loyal_member_block(env->db, "c600"));
	test_close_db(env);
	run_and_die(env, NULL, die_on_refusal, 4);
	test_reopen_db(env);
	assert_int_equal(test_balance(env, "c511", "points").available, 7);
	assert_int_equal(test_balance(env, "c512", "points").available, 0);
	seen s = {0};
	loyal_grant g = points_grant("crowd", crowd, CROWD, 7, &s);
	json_t *report = run(env, &g);
	assert_int_equal(test_json_int(report, "already_granted"), 512);
	assert_int_equal(test_json_int(report, "granted"), CROWD - 512 - 1);
	assert_int_equal(why_count(report, "blocked"), 1);
	json_decref(report);
	for (int i = 0; i < CROWD; i++)
		assert_int_equal(test_balance(env, ids[i], "points").available, i == 600 ? 0 : 7);
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
	const struct CMUnitTest tests[] = {
		CASE(test_grants__points_to_a_list_once_each),
		CASE(test_grants__a_coupon_to_a_segment),
		CASE(test_grants__bad_input_changes_nothing),
		CASE(test_grants__a_killed_grant_completes_when_run_again),
	};
#undef CASE
	return cmocka_run_group_tests(tests, NULL, NULL);
}
