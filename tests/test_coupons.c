/* test_coupons.c - coupons: the catalog's checks, generated codes and imported pools, issue,
 * check, reserve, release and use (each a distinct refusal that stays), rewards that issue a
 * coupon, and several processes drawing the last codes of a pool. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"coupons\": ["
	"  {\"name\": \"welcome\", \"title\": \"10% off\", \"value\": \"10% off\", \"uses\": 2,"
	"   \"valid_days\": 7, \"prefix\": \"HI-\", \"code_length\": 8},"
	"  {\"name\": \"partner\", \"value\": {\"amount\": 5, \"currency\": \"EUR\"},"
	"   \"codes\": \"pool\"},"
	"  {\"name\": \"summer\", \"valid\": {\"from\": \"2026-06-01T00:00:00Z\","
	"   \"until\": \"2026-09-01T00:00:00Z\"}},"
	"  {\"name\": \"teachers\", \"eligible\": \"member.role == \\\"teacher\\\"\"}],"
	" \"rewards\": [{\"name\": \"voucher\", \"kind\": \"coupon\", \"coupon\": \"partner\","
	"   \"price\": {\"points\": 100}}]}";

static int setup(void **state)
{
	int rc = test_setup(state);
	if (rc == 0)
		test_apply(*state, PROGRAM);
	return rc;
}

/* Issues and returns the code's JSON (asserting success). */
static json_t *issue(test_env *env, const char *member, const char *coupon, const char *key)
{
	char *text = NULL;
	assert_ok(env->db, loyal_coupon_issue(env->db, member, coupon, key, &text));
	return test_json(text);
}

static json_t *check(test_env *env, const char *member, const char *code)
{
	char *text = NULL;
	assert_ok(env->db, loyal_coupon_check(env->db, member, code, 0, &text));
	return test_json(text);
}

static void test_coupons__the_catalog_is_checked_key_by_key(void **state)
{
	test_env *env = *state;
	static const struct {
		const char *coupon, *names;
	} cases[] = {
		{"{\"name\": \"x\", \"colour\": 1}", "colour"},
		{"{\"name\": \"x\", \"valid_days\": 0}", "valid_days"},
		{"{\"name\": \"x\", \"valid_days\": 3, \"valid\": {\"until\": 5}}", "not both"},
		{"{\"name\": \"x\", \"valid\": {\"from\": 9, \"until\": 5}}", "coupons[0].valid"},
		{"{\"name\": \"x\", \"uses\": 0}", "uses"},
		{"{\"name\": \"x\", \"codes\": \"printed\"}", "coupons[0].codes"},
		{"{\"name\": \"x\", \"codes\": \"pool\", \"prefix\": \"A\"}", "generated codes only"},
		{"{\"name\": \"x\", \"prefix\": \"a b\"}", "coupons[0].prefix"},
		{"{\"name\": \"x\", \"code_length\": 3}", "code_length"},
		{"{\"name\": \"x\", \"value\": 5}", "coupons[0].value"},
		{"{\"name\": \"x\", \"eligible\": \"member.age >\"}", "coupons[0].eligible"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char document[600];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\"}], \"coupons\": [%s]}", cases[i].coupon);
		int rc = loyal_program_apply(env->db, document, NULL);
		if (rc != LOYAL_EJSON || !strstr(loyal_errmsg(env->db), cases[i].names))
			print_error("case %zu: %s: %s\n", i, loyal_errstr(rc), loyal_errmsg(env->db));
		assert_int_equal(rc, LOYAL_EJSON);
	}
	/* A coupon reward names a coupon of the program, and only a coupon reward does. */
	assert_int_equal(loyal_program_apply(env->db,
					     "{\"currencies\": [{\"name\": \"points\"}], \"rewards\": [{"
					     "\"name\": \"v\", \"kind\": \"coupon\", \"coupon\": \"nope\","
					     " \"price\": {\"points\": 1}}]}",
					     NULL),
			 LOYAL_EJSON);
	assert_non_null(strstr(loyal_errmsg(env->db), "rewards[0].coupon"));
	assert_int_equal(loyal_program_apply(env->db,
					     "{\"currencies\": [{\"name\": \"points\"}], \"rewards\": [{"
					     "\"name\": \"v\", \"kind\": \"coupon\","
					     " \"price\": {\"points\": 1}}]}",
					     NULL),
			 LOYAL_EJSON);
}

static void test_coupons__generated_codes_are_issued_checked_and_used(void **state)
{
	test_env *env = *state;
	json_t *code = issue(env, "alice", "welcome", "w1");
	const char *text = test_json_text(code, "code");
	assert_int_equal(strlen(text), 3 + 8);
	assert_memory_equal(text, "HI-", 3);
	assert_int_equal(strspn(text + 3, "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"), 8);
	assert_string_equal(test_json_text(code, "value"), "10% off");
	assert_int_equal(test_json_int(code, "valid_until"), env->now + 7 * DAY_MS);
	assert_int_equal(test_json_int(code, "uses_left"), 2);
	/* A retry gives the same code; another key, another code. */
	json_t *again = issue(env, "alice", "welcome", "w1");
	assert_string_equal(test_json_text(again, "code"), text);
	assert_true(json_is_true(json_object_get(again, "replayed")));
	json_t *other = issue(env, "alice", "welcome", "w2");
	assert_string_not_equal(test_json_text(other, "code"), text);
	/* Matched case-insensitively, with blanks around. */
	char lower[80];
	snprintf(lower, sizeof lower, "  %s ", text);
	for (char *c = lower; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	json_t *checked = check(env, "alice", lower);
	assert_true(json_is_true(json_object_get(checked, "valid")));
	char *out = NULL;
	assert_ok(env->db, loyal_coupon_use(env->db, "alice", lower, 0, "u1", &out));
	json_t *used = test_json(out);
	assert_int_equal(test_json_int(used, "uses_left"), 1);
	assert_ok(env->db, loyal_coupon_use(env->db, "alice", text, 0, "u2", NULL));
	assert_int_equal(loyal_coupon_use(env->db, "alice", text, 0, "u3", NULL), LOYAL_ELIMIT);
	assert_non_null(strstr(loyal_errmsg(env->db), "no use left"));
	assert_ok(env->db, loyal_coupon_use(env->db, "alice", text, 0, "u1", NULL)); /* a replay */
	json_t *spent = check(env, "alice", text);
	assert_string_equal(test_json_text(spent, "why"), "used_up");
	/* Another member's code, an unknown one, an expired one. */
	json_t *theirs = check(env, "bob", text);
	assert_string_equal(test_json_text(theirs, "why"), "not_this_members");
	json_t *unknown = check(env, "alice", "NOPE-1234");
	assert_string_equal(test_json_text(unknown, "why"), "unknown");
	assert_int_equal(loyal_coupon_use(env->db, "alice", "NOPE-1234", 0, "u4", NULL),
			 LOYAL_ENOTFOUND);
	assert_ok(env->db, loyal_member_set_attrs(env->db, "bob", "{}"));
	assert_int_equal(loyal_coupon_use(env->db, "bob", text, 0, "b1", NULL), LOYAL_ENOTELIGIBLE);
	env->now += 8 * DAY_MS;
	json_t *late = check(env, "alice", test_json_text(other, "code"));
	assert_string_equal(test_json_text(late, "why"), "expired");
	assert_int_equal(loyal_coupon_use(env->db, "alice", test_json_text(other, "code"), 0, "u5", NULL),
			 LOYAL_ESTATE);
	/* The member's codes, newest first. */
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	int rows = 0;
	assert_ok(env->db, loyal_coupon_list(env->db, "alice", 0, &cursor));
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		rows++;
	loyal_cursor_free(cursor);
	assert_int_equal(rows, 2);
	json_t *all[] = {code, again, other, checked, used, spent, theirs, unknown, late};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		json_decref(all[i]);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_coupons__a_pool_is_imported_and_runs_dry(void **state)
{
	test_env *env = *state;
	int64_t added = 0, duplicates = 0;
	assert_int_equal(loyal_coupon_import(env->db, "partner", "AAAA-1111\nbad code!\n", &added,
					     &duplicates),
			 LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "line 2"));
	assert_ok(env->db, loyal_coupon_import(env->db, "partner",
					       "aaaa-1111\n\nBBBB-2222\r\nAAAA-1111\n", &added,
					       &duplicates));
	assert_int_equal(added, 2);
	assert_int_equal(duplicates, 1);
	assert_int_equal(loyal_coupon_import(env->db, "welcome", "CCCC-3333", &added, &duplicates),
			 LOYAL_EINVAL);
	assert_int_equal(loyal_coupon_import(env->db, "partner", "CCCC-3333", NULL, &duplicates),
			 LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "out_added"));
	assert_int_equal(loyal_coupon_import(env->db, "partner", "CCCC-3333", &added, NULL),
			 LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "out_duplicates"));
	assert_int_equal(loyal_coupon_import(env->db, "partner", NULL, &added, &duplicates),
			 LOYAL_EINVAL);
	assert_int_equal(loyal_coupon_import(env->db, NULL, "CCCC-3333", &added, &duplicates),
			 LOYAL_EINVAL);
	assert_int_equal(loyal_coupon_import(env->db, "nope", "CCCC-3333", &added, &duplicates),
			 LOYAL_ENOTFOUND);
	json_t *first = issue(env, "alice", "partner", "p1");
	assert_string_equal(test_json_text(first, "code"), "AAAA-1111");
	assert_int_equal(test_json_int(json_object_get(first, "value"), "amount"), 5);
	json_t *second = issue(env, "bob", "partner", "p1");
	assert_string_equal(test_json_text(second, "code"), "BBBB-2222");
	assert_int_equal(loyal_coupon_issue(env->db, "carol", "partner", "p1", NULL), LOYAL_ESOLDOUT);
	assert_non_null(strstr(loyal_errmsg(env->db), "no code left"));
	/* Sticky: importing more codes does not change carol's answer under that key. */
	assert_ok(env->db, loyal_coupon_import(env->db, "partner", "DDDD-4444", &added, &duplicates));
	assert_int_equal(loyal_coupon_issue(env->db, "carol", "partner", "p1", NULL), LOYAL_ESOLDOUT);
	json_t *third = issue(env, "carol", "partner", "p2");
	assert_string_equal(test_json_text(third, "code"), "DDDD-4444");
	json_decref(first);
	json_decref(second);
	json_decref(third);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_coupons__reservations_set_a_use_aside(void **state)
{
	test_env *env = *state;
	json_t *code = issue(env, "alice", "welcome", "w1");
	const char *text = test_json_text(code, "code");
	char *out = NULL;
	assert_ok(env->db, loyal_coupon_reserve(env->db, "alice", text, "checkout-1", &out));
	json_t *held = test_json(out);
	int64_t reservation = test_json_int(held, "reservation");
	assert_true(reservation > 0);
	assert_int_equal(test_json_int(held, "uses_left"), 1);
	assert_ok(env->db, loyal_coupon_reserve(env->db, "alice", text, "checkout-2", &out));
	json_t *second = test_json(out);
	assert_int_equal(loyal_coupon_reserve(env->db, "alice", text, "checkout-3", NULL), LOYAL_ELIMIT);
	/* The first checkout is abandoned: its use comes back. */
	assert_ok(env->db, loyal_coupon_release(env->db, "alice", reservation, "release-1", &out));
	json_t *released = test_json(out);
	assert_int_equal(test_json_int(released, "uses_left"), 1);
	assert_int_equal(loyal_coupon_release(env->db, "alice", reservation, "release-2", NULL),
			 LOYAL_ESTATE);
	/* The second goes through with the use it reserved. */
	int64_t kept = test_json_int(second, "reservation");
	assert_ok(env->db, loyal_coupon_use(env->db, "alice", text, kept, "paid-2", &out));
	json_t *used = test_json(out);
	assert_int_equal(test_json_int(used, "uses_left"), 1);
	assert_int_equal(loyal_coupon_use(env->db, "alice", text, kept, "paid-3", NULL), LOYAL_ESTATE);
	assert_int_equal(loyal_coupon_release(env->db, "alice", kept, "release-3", NULL), LOYAL_ESTATE);
	assert_int_equal(loyal_coupon_release(env->db, "alice", 999, "release-4", NULL),
			 LOYAL_ENOTFOUND);
	assert_int_equal(loyal_coupon_release(env->db, "alice", 0, "release-5", NULL), LOYAL_EINVAL);
	json_t *all[] = {code, held, second, released, used};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		json_decref(all[i]);
}

static void test_coupons__windows_and_eligibility(void **state)
{
	test_env *env = *state;
	json_t *summer = issue(env, "alice", "summer", "s1");
	const char *text = test_json_text(summer, "code");
	json_t *early = check(env, "alice", text);
	assert_string_equal(test_json_text(early, "why"), "not_yet_valid");
	assert_int_equal(loyal_coupon_use(env->db, "alice", text, 0, "u1", NULL), LOYAL_ESTATE);
	assert_non_null(strstr(loyal_errmsg(env->db), "valid from"));
	assert_int_equal(loyal_coupon_issue(env->db, "alice", "teachers", "t1", NULL),
			 LOYAL_ENOTELIGIBLE);
	assert_int_equal(loyal_errreplayed(env->db), 0);
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice", "{\"role\": \"teacher\"}"));
	/* The refusal stays with its key, and says it is a replay. */
	assert_int_equal(loyal_coupon_issue(env->db, "alice", "teachers", "t1", NULL),
			 LOYAL_ENOTELIGIBLE);
	assert_int_equal(loyal_errreplayed(env->db), 1);
	json_t *teacher = issue(env, "alice", "teachers", "t2");
	assert_ok(env->db, loyal_member_block(env->db, "alice"));
	assert_int_equal(loyal_coupon_issue(env->db, "alice", "welcome", "w1", NULL), LOYAL_EBLOCKED);
	assert_int_equal(loyal_coupon_issue(env->db, "alice", "nope", "n1", NULL), LOYAL_ENOTFOUND);
	assert_int_equal(loyal_coupon_issue(env->db, NULL, "welcome", "n1", NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_coupon_use(env->db, "alice", "ab", 0, "n1", NULL), LOYAL_EINVAL);
	char *out = NULL;
	assert_int_equal(loyal_coupon_check(env->db, "alice", NULL, 0, &out), LOYAL_EINVAL);
	json_decref(summer);
	json_decref(early);
	json_decref(teacher);
}

/* Two codes in the partner pool, 300 points for alice, and her request for the voucher. */
static loyal_redeem voucher_for_alice(test_env *env)
{
	int64_t added = 0, duplicates = 0;
	assert_ok(env->db, loyal_coupon_import(env->db, "partner", "AAAA-1111\nBBBB-2222", &added,
					       &duplicates));
	loyal_posting credit = test_posting("alice", "points", 300, "k1");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	loyal_redeem r = LOYAL_REDEEM_INIT;
	r.member = "alice";
	r.reward = "voucher";
	r.idempotency_key = "r1";
	return r;
}

static void test_coupons__a_reward_issues_a_coupon(void **state)
{
	test_env *env = *state;
	loyal_redeem r = voucher_for_alice(env);
	char *out = NULL;
	assert_ok(env->db, loyal_reward_redeem(env->db, &r, &out));
	json_t *made = test_json(out);
	assert_string_equal(test_json_text(made, "coupon_code"), "AAAA-1111");
	json_t *checked = check(env, "alice", "AAAA-1111");
	assert_true(json_is_true(json_object_get(checked, "valid")));
	/* Cancelled: points back, code void. */
	assert_ok(env->db, loyal_redemption_cancel(env->db, "alice", test_json_int(made, "id"), "c1", NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 300);
	json_t *voided = check(env, "alice", "AAAA-1111");
	assert_string_equal(test_json_text(voided, "why"), "used_up");
	/* Once its code was used, a coupon reward cannot be cancelled. */
	r.idempotency_key = "r2";
	assert_ok(env->db, loyal_reward_redeem(env->db, &r, &out));
	json_t *second = test_json(out);
	assert_ok(env->db, loyal_coupon_use(env->db, "alice", "BBBB-2222", 0, "u1", NULL));
	assert_int_equal(loyal_redemption_cancel(env->db, "alice", test_json_int(second, "id"), "c2", NULL),
			 LOYAL_ESTATE);
	/* The pool is dry: the redemption is refused and takes no point. */
	r.idempotency_key = "r3";
	assert_int_equal(loyal_reward_redeem(env->db, &r, NULL), LOYAL_ESOLDOUT);
	assert_int_equal(test_balance(env, "alice", "points").available, 200);
	r.quantity = 2;
	r.idempotency_key = "r4";
	assert_int_equal(loyal_reward_redeem(env->db, &r, NULL), LOYAL_EINVAL);
	json_t *all[] = {made, checked, voided, second};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		json_decref(all[i]);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_coupons__a_rule_awards_a_coupon(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}],"
			" \"coupons\": [{\"name\": \"welcome\", \"prefix\": \"HI-\"},"
			"  {\"name\": \"partner\", \"codes\": \"pool\"}],"
			" \"rules\": [{\"name\": \"hello\", \"event\": \"signup\","
			"   \"award\": {\"points\": \"50\", \"coupon\": \"welcome\"}},"
			"  {\"name\": \"gift\", \"event\": \"signup\","
			"   \"award\": {\"coupon\": \"partner\"}}]}");
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "signup";
	event.idempotency_key = "s1";
	char *out = NULL;
	assert_ok(env->db, loyal_track(env->db, &event, &out));
	json_t *outcome = test_json(out);
	json_t *coupons = json_object_get(outcome, "coupons");
	assert_int_equal(json_array_size(coupons), 1);
	const char *code = test_json_text(json_array_get(coupons, 0), "code");
	assert_memory_equal(code, "HI-", 3);
	/* The pool's coupon had no code: that award is skipped, the event stands. */
	json_t *skipped = json_array_get(json_object_get(outcome, "skipped"), 0);
	assert_string_equal(test_json_text(skipped, "rule"), "gift");
	assert_non_null(strstr(test_json_text(skipped, "reason"), "coupon: "));
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	json_t *checked = check(env, "alice", code);
	assert_true(json_is_true(json_object_get(checked, "valid")));
	/* A retry replays the same code. */
	assert_ok(env->db, loyal_track(env->db, &event, &out));
	json_t *again = test_json(out);
	assert_string_equal(test_json_text(json_array_get(json_object_get(again, "coupons"), 0),
					   "code"),
			    code);
	json_decref(outcome);
	json_decref(checked);
	json_decref(again);
	assert_int_equal(loyal_program_apply(env->db,
					     "{\"currencies\": [{\"name\": \"points\"}], \"rules\": [{"
					     "\"name\": \"r\", \"event\": \"e\", \"award\": {\"coupon\":"
					     " \"nope\"}}]}",
					     NULL),
			 LOYAL_EJSON);
	assert_int_equal(loyal_program_apply(env->db,
					     "{\"currencies\": [{\"name\": \"points\"},"
					     " {\"name\": \"coupon\"}]}",
					     NULL),
			 LOYAL_EJSON);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_coupons__the_report_counts_redemptions_and_codes(void **state)
{
	test_env *env = *state;
	loyal_redeem r = voucher_for_alice(env);
	assert_ok(env->db, loyal_reward_redeem(env->db, &r, NULL));
	assert_ok(env->db, loyal_coupon_use(env->db, "alice", "AAAA-1111", 0, "u1", NULL));
	r.idempotency_key = "r2"; /* a second voucher: alice is still one member */
	assert_ok(env->db, loyal_reward_redeem(env->db, &r, NULL));
	json_t *welcome = issue(env, "bob", "welcome", "w1");
	char *out = NULL;
	assert_ok(env->db, loyal_report_rewards(env->db, env->now - DAY_MS, env->now + 1, &out));
	json_t *report = test_json(out);
	json_t *voucher = json_array_get(json_object_get(report, "rewards"), 0);
	assert_string_equal(test_json_text(voucher, "reward"), "voucher");
	assert_int_equal(test_json_int(json_object_get(voucher, "redemptions"), "fulfilled"), 2);
	assert_int_equal(test_json_int(voucher, "units"), 2);
	assert_int_equal(test_json_int(voucher, "members"), 1);
	assert_int_equal(test_json_int(json_object_get(voucher, "points"), "points"), 200);
	assert_true(json_is_null(json_object_get(voucher, "stock_left")));
	json_t *coupons = json_object_get(report, "coupons");
	assert_int_equal(json_array_size(coupons), 4);
	json_t *first = json_array_get(coupons, 0), *partner = json_array_get(coupons, 1);
	assert_string_equal(test_json_text(first, "coupon"), "welcome");
	assert_int_equal(test_json_int(first, "issued"), 1);
	assert_true(json_is_null(json_object_get(first, "pool_left")));
	assert_int_equal(test_json_int(partner, "issued"), 2);
	assert_int_equal(test_json_int(partner, "used"), 1);
	assert_int_equal(test_json_int(partner, "pool_left"), 0);
	assert_float_equal(json_real_value(json_object_get(partner, "use_rate")), 0.5, 1e-9);
	assert_float_equal(json_real_value(json_object_get(first, "use_rate")), 0.0, 1e-9);
	/* 200 of the 300 points issued went to rewards. */
	json_t *rates = json_object_get(report, "redemption_rate");
	assert_float_equal(json_real_value(json_object_get(rates, "points")), 2.0 / 3.0, 1e-9);
	json_decref(report);
	/* Before it all: nothing counted. */
	assert_ok(env->db, loyal_report_rewards(env->db, 0, env->now - DAY_MS, &out));
	report = test_json(out);
	voucher = json_array_get(json_object_get(report, "rewards"), 0);
	assert_int_equal(test_json_int(voucher, "units"), 0);
	assert_true(json_is_null(json_object_get(json_object_get(report, "redemption_rate"), "points")));
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(report, "coupons"), 0),
						 "use_rate")));
	json_decref(report);
	json_decref(welcome);
	assert_int_equal(loyal_report_rewards(env->db, 10, 5, &out), LOYAL_EINVAL);
}

/* Several processes draw from a pool with fewer codes than they ask for: each code goes to
 * one member only, and every code is issued. */
#define ISSUERS 6
#define TRIES 4
#define CODES 10

static int issue_one(loyal_db *db, int process, int try)
{
	char member[32];
	snprintf(member, sizeof member, "m%d-%d", process, try);
	return loyal_coupon_issue(db, member, "partner", "k", NULL);
}

static void test_coupons__processes_never_issue_a_code_twice(void **state)
{
	test_env *env = *state;
	char codes[CODES * 16] = "";
	for (int i = 0; i < CODES; i++)
		snprintf(codes + strlen(codes), sizeof codes - strlen(codes), "CODE-%04d\n", i);
	int64_t added = 0, duplicates = 0;
	assert_ok(env->db, loyal_coupon_import(env->db, "partner", codes, &added, &duplicates));
	test_close_db(env);
	int won = test_processes(env->path, ISSUERS, TRIES, issue_one, LOYAL_ESOLDOUT);
	assert_int_equal(won, CODES);
	test_reopen_db(env);
	/* Each code belongs to exactly one member. */
	int owners[CODES] = {0};
	for (int p = 0; p < ISSUERS; p++)
		for (int i = 0; i < TRIES; i++) {
			char member[32];
			snprintf(member, sizeof member, "m%d-%d", p, i);
			loyal_cursor *cursor = NULL;
			const char *row = NULL;
			assert_ok(env->db, loyal_coupon_list(env->db, member, 0, &cursor));
			while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
				const char *at = strstr(row, "\"code\":\"CODE-");
				assert_non_null(at);
				owners[atoi(at + 13)]++;
			}
			loyal_cursor_free(cursor);
		}
	for (int i = 0; i < CODES; i++)
		assert_int_equal(owners[i], 1);
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
	const struct CMUnitTest tests[] = {
		CASE(test_coupons__the_catalog_is_checked_key_by_key),
		CASE(test_coupons__generated_codes_are_issued_checked_and_used),
		CASE(test_coupons__a_pool_is_imported_and_runs_dry),
		CASE(test_coupons__reservations_set_a_use_aside),
		CASE(test_coupons__windows_and_eligibility),
		CASE(test_coupons__a_reward_issues_a_coupon),
		CASE(test_coupons__a_rule_awards_a_coupon),
		CASE(test_coupons__the_report_counts_redemptions_and_codes),
		CASE(test_coupons__processes_never_issue_a_code_twice),
	};
#undef CASE
	return cmocka_run_group_tests(tests, NULL, NULL);
}
