/* test_tiers.c - the tier ladder: upgrades on events, reviews with retain conditions and grace,
 * multipliers in rules, what is missing for the next tier, history, ladder changes, and tiers
 * an operator assigns until a date or until released. */
#include "support.h"

#include <stdio.h>
#include <string.h>

#define PROGRAM_WITH(tiers)                                                                   \
	"{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\", \"spendable\": false}],"  \
	" \"rules\": [{\"name\": \"purchase\", \"event\": \"purchase\","                          \
	"   \"award\": {\"points\": \"floor(event.amount) * tier.multiplier\","                     \
	"              \"xp\": \"floor(event.amount)\"}}],"                                         \
	" \"tiers\": " tiers "}"

static const char *const PROGRAM = PROGRAM_WITH(
	"{\"levels\": [{\"name\": \"bronze\"},"
	"  {\"name\": \"silver\", \"entry\": \"earned(xp, 365d) >= 100\","
	"   \"retain\": \"earned(xp, 365d) >= 80\", \"multiplier\": 2,"
	"   \"perks\": {\"lounge\": true}},"
	"  {\"name\": \"gold\", \"entry\": \"earned(xp, 365d) >= 300\", \"multiplier\": 3}],"
	" \"review\": {\"at\": \"anniversary\"}, \"grace_days\": 30, \"drop\": \"one_step\"}");

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static char *purchase(test_env *env, const char *member, int amount)
{
	static int counter;
	char key[32];
	snprintf(key, sizeof key, "order-%d", ++counter);
	return test_purchase(env->db, member, amount, key);
}

static void assert_contains(const char *text, const char *part)
{
	if (!strstr(text, part))
		print_error("'%s' lacks '%s'\n", text, part);
	assert_non_null(strstr(text, part));
}

static void assert_tier(test_env *env, const char *member, const char *part)
{
	char *json = NULL;
	assert_ok(env->db, loyal_tier_get(env->db, member, &json));
	assert_contains(json, part);
	loyal_free(json);
}

static void test_tiers__upgrade_on_the_event_that_crosses_the_threshold(void **state)
{
	test_env *env = *state;
	char *outcome = purchase(env, "alice", 60);
	assert_contains(outcome, "\"tier_changes\":[{\"from\":null,\"to\":\"bronze\",\"reason\":\"entry\"}]");
	loyal_free(outcome);
	outcome = purchase(env, "alice", 50); /* 110 xp: silver, after this event's award */
	assert_contains(outcome, "\"currency\":\"points\",\"amount\":50");
	assert_contains(outcome, "{\"from\":\"bronze\",\"to\":\"silver\",\"reason\":\"entry\"}");
	loyal_free(outcome);
	outcome = purchase(env, "alice", 10); /* at silver's multiplier */
	assert_contains(outcome, "\"currency\":\"points\",\"amount\":20");
	assert_contains(outcome, "\"tier_changes\":[]");
	loyal_free(outcome);
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	assert_tier(env, "alice", "\"perks\":{\"lounge\":true}");
	assert_tier(env, "alice", "\"multiplier\":2.0");
	/* 120 of gold's 300 xp: 180 missing. */
	assert_tier(env, "alice", "\"next\":{\"by\":");
	assert_tier(env, "alice", "\"current\":120,\"missing\":180,\"target\":300,\"tier\":\"gold\"");
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_eval(env->db, "tier == \"silver\" and tier.lounge", "alice",
					       NULL, &json));
	assert_string_equal(json, "{\"type\":\"boolean\",\"value\":true}");
	loyal_free(json);
}

static void test_tiers__downgrade_at_the_anniversary_after_grace(void **state)
{
	test_env *env = *state;
	loyal_free(purchase(env, "alice", 150));
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	int64_t anniversary = TEST_EPOCH_MS + 365 * DAY_MS;
	assert_tier(env, "alice", "\"next_review\":1798761600000"); /* 2027-01-01 */
	env->now = anniversary + DAY_MS; /* a year on, nothing earned since */
	int64_t changed = -1;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 0);
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	assert_tier(env, "alice", "\"grace_until\":1801353600000"); /* 30 days after */
	env->now = anniversary + 29 * DAY_MS; /* still within the grace */
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 0);
	env->now = anniversary + 30 * DAY_MS; /* the grace is over */
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 1);
	assert_tier(env, "alice", "\"tier\":\"bronze\"");
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_tier_history(env->db, "alice", &cursor));
	const char *row = NULL;
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_contains(row, "\"from\":\"silver\",\"reason\":\"review\",\"to\":\"bronze\"");
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_contains(row, "\"from\":null,\"reason\":\"entry\",\"to\":\"silver\"");
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_null(row);
	loyal_cursor_free(cursor);
}

static void test_tiers__retain_condition_holds_a_member(void **state)
{
	test_env *env = *state;
	loyal_free(purchase(env, "alice", 100));
	env->now = TEST_EPOCH_MS + 200 * DAY_MS;
	loyal_free(purchase(env, "alice", 85)); /* 85 in the last year at the review: retains */
	env->now = TEST_EPOCH_MS + 366 * DAY_MS;
	int64_t changed = -1;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 0);
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	assert_tier(env, "alice", "\"grace_until\":null");
	assert_tier(env, "alice", "\"next_review\":1830297600000"); /* the next anniversary */
}

static void test_tiers__ladder_change_can_reevaluate_everyone(void **state)
{
	test_env *env = *state;
	loyal_free(purchase(env, "alice", 120));
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	/* Silver now needs 200: with "keep" alice stays silver until her review... */
	assert_ok(env->db, loyal_program_apply(
				   env->db,
				   PROGRAM_WITH("{\"levels\": [{\"name\": \"bronze\"}, {\"name\":"
						" \"silver\", \"entry\": \"earned(xp, 365d) >= 200\"}],"
						" \"on_change\": \"keep\"}"),
				   NULL));
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	/* ...with "reevaluate" at once. */
	assert_ok(env->db, loyal_program_apply(
				   env->db,
				   PROGRAM_WITH("{\"levels\": [{\"name\": \"bronze\"}, {\"name\":"
						" \"silver\", \"entry\": \"earned(xp, 365d) >= 201\"}],"
						" \"on_change\": \"reevaluate\"}"),
				   NULL));
	assert_tier(env, "alice", "\"tier\":\"bronze\"");
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_tier_history(env->db, "alice", &cursor));
	const char *row = NULL;
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_contains(row, "\"reason\":\"ladder changed\"");
	loyal_cursor_free(cursor);
}

/* A gold member who earns nothing: one step drops to silver; to_qualifying drops to bronze. */
static void drop_policy(test_env *env, const char *drop, const char *expected)
{
	char ladder[512];
	snprintf(ladder, sizeof ladder,
		 "{\"levels\": [{\"name\": \"bronze\"}, {\"name\": \"silver\", \"entry\":"
		 " \"earned(xp, 365d) >= 100\"}, {\"name\": \"gold\", \"entry\":"
		 " \"earned(xp, 365d) >= 300\"}], \"review\": {\"at\": \"calendar\", \"period\":"
		 " \"quarter\"}, \"drop\": \"%s\"}",
		 drop);
	char document[1024];
	snprintf(document, sizeof document,
		 "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\"}], \"rules\":"
		 " [{\"name\": \"purchase\", \"event\": \"purchase\", \"award\": {\"xp\":"
		 " \"floor(event.amount)\"}}], \"tiers\": %s}",
		 ladder);
	assert_ok(env->db, loyal_program_apply(env->db, document, NULL));
	loyal_free(purchase(env, drop, 400));
	assert_tier(env, drop, "\"tier\":\"gold\"");
	/* Calendar quarters: the first review is at the start of Q2 2026. */
	assert_tier(env, drop, "\"next_review\":1775001600000");
	env->now = TEST_EPOCH_MS + 400 * DAY_MS;
	int64_t changed = 0;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 1);
	char expected_tier[64];
	snprintf(expected_tier, sizeof expected_tier, "\"tier\":\"%s\"", expected);
	assert_tier(env, drop, expected_tier);
}

static void test_tiers__downgrade_drops_one_step_or_to_the_qualifying_tier(void **state)
{
	test_env *env = *state;
	drop_policy(env, "one_step", "silver");
	env->now = TEST_EPOCH_MS;
	drop_policy(env, "to_qualifying", "bronze");
}

/* A version 16 file kept tiers in a table of their own: after the migration each member has
 * the tier, grace and review they had, the sweep finds the reviews due, and a member's
 * multiplier is their tier's. */
static void test_tiers__tiers_of_a_version_16_file_are_kept_by_the_migration(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	loyal_free(purchase(env, "alice", 150)); /* silver */
	loyal_free(purchase(env, "gus", 320));   /* gold */
	loyal_free(purchase(env, "carl", 5));    /* bronze */
	int64_t anniversary = TEST_EPOCH_MS + 365 * DAY_MS;
	env->now = anniversary + DAY_MS; /* alice and gus earned nothing since: grace */
	int64_t changed = -1;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 0);
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_rewrite_file(env, UNDO_MIGRATION_18 UNDO_MIGRATION_17 "PRAGMA user_version = 16;");
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	assert_tier(env, "alice", "\"grace_until\":1801353600000");
	assert_tier(env, "gus", "\"tier\":\"gold\"");
	assert_tier(env, "carl", "\"tier\":\"bronze\"");
	assert_tier(env, "carl", "\"grace_until\":null");
	assert_ok(env->db, loyal_verify(env->db));
	char *outcome = purchase(env, "gus", 10); /* gold's multiplier: 3 */
	assert_contains(outcome, "\"currency\":\"points\",\"amount\":30");
	loyal_free(outcome);
	/* The grace ends for alice; gus's purchase did not lift him back over gold's 300. */
	env->now = anniversary + 30 * DAY_MS;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 2);
	assert_tier(env, "alice", "\"tier\":\"bronze\"");
	assert_tier(env, "gus", "\"tier\":\"silver\"");
	assert_tier(env, "carl", "\"tier\":\"bronze\"");
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_tiers__bad_ladders_and_calls_are_refused(void **state)
{
	test_env *env = *state;
	const struct {
		const char *tiers, *message;
	} cases[] = {
		{"{\"levels\": []}", "tiers.levels"},
		{"{\"levels\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}", "tiers.levels[1].entry: is needed"},
		{"{\"levels\": [{\"name\": \"a\"}, {\"name\": \"a\", \"entry\": \"true\"}]}", "already"},
		{"{\"levels\": [{\"name\": \"a\", \"entry\": \"count(\"}]}", "tiers.levels[0].entry: line 1"},
		{"{\"levels\": [{\"name\": \"a\"}], \"review\": {\"at\": \"birthday\"}}", "tiers.review"},
		{"{\"levels\": [{\"name\": \"a\"}], \"drop\": \"all\"}", "tiers.drop"},
		{"{\"levels\": [{\"name\": \"a\", \"multiplier\": -1}]}", "multiplier"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char document[1024];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\"}], \"tiers\": %s}",
			 cases[i].tiers);
		assert_rc(env->db, LOYAL_EJSON, loyal_program_apply(env->db, document, NULL));
		assert_contains(loyal_errmsg(env->db), cases[i].message);
	}
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_tier_get(env->db, "nobody", &json));
	loyal_cursor *cursor = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_tier_history(env->db, "nobody", &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_tier_sweep(env->db, -1, NULL));
	assert_rc(env->db, LOYAL_EINVAL, loyal_tier_get(env->db, "alice", NULL));
}

/* The newest row of the member's tier history. */
static void assert_last_change(test_env *env, const char *member, const char *part)
{
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_tier_history(env->db, member, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(row);
	assert_contains(row, part);
	loyal_cursor_free(cursor);
}

static void test_tiers__an_assigned_tier_holds_until_released(void **state)
{
	test_env *env = *state;
	loyal_free(purchase(env, "bob", 10)); /* bronze */
	assert_ok(env->db, loyal_tier_assign(env->db, "bob", "gold", 0, "annual gold card"));
	assert_tier(env, "bob", "\"tier\":\"gold\"");
	assert_tier(env, "bob", "\"assigned\":{\"reason\":\"annual gold card\",\"tier\":\"gold\","
				"\"until\":null}");
	assert_last_change(env, "bob", "\"from\":\"bronze\",\"reason\":\"assigned: annual gold card\","
				       "\"to\":\"gold\"");
	/* Reviews a year and two years on, nothing earned: gold stays, without a grace. */
	int64_t changed = -1;
	for (int year = 1; year <= 2; year++) {
		env->now = TEST_EPOCH_MS + year * 366 * DAY_MS;
		assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
		assert_int_equal(changed, 0);
		assert_tier(env, "bob", "\"grace_until\":null");
		assert_tier(env, "bob", "\"tier\":\"gold\"");
	}
	int released = -1;
	assert_ok(env->db, loyal_tier_release(env->db, "bob", "card not renewed", &released));
	assert_int_equal(released, 1);
	assert_tier(env, "bob", "\"tier\":\"bronze\"");
	assert_tier(env, "bob", "\"assigned\":null");
	assert_last_change(env, "bob", "\"from\":\"gold\",\"reason\":\"released: card not renewed\","
				       "\"to\":\"bronze\"");
	assert_ok(env->db, loyal_tier_release(env->db, "bob", "again", &released));
	assert_int_equal(released, 0);
}

static void test_tiers__an_assignment_until_a_date_ends_in_a_review(void **state)
{
	test_env *env = *state;
	loyal_free(purchase(env, "carol", 10));
	int64_t until = env->now + 60 * DAY_MS;
	assert_ok(env->db, loyal_tier_assign(env->db, "carol", "gold", until, "trial"));
	assert_tier(env, "carol", "\"next_review\":");
	int64_t changed = -1;
	env->now = until - DAY_MS;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_tier(env, "carol", "\"tier\":\"gold\"");
	/* Ended: reviewed as anyone (gold's entry does not hold: a grace, then one step down). */
	env->now = until + DAY_MS;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 0);
	assert_tier(env, "carol", "\"assigned\":null");
	assert_tier(env, "carol", "\"tier\":\"gold\"");
	env->now = until + 31 * DAY_MS;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 1);
	assert_tier(env, "carol", "\"tier\":\"silver\"");
	/* A member above the assigned tier keeps theirs, and falls no lower than it. */
	loyal_free(purchase(env, "dave", 350));
	assert_ok(env->db, loyal_tier_assign(env->db, "dave", "silver", 0, "ambassador"));
	assert_tier(env, "dave", "\"tier\":\"gold\"");
	assert_last_change(env, "dave", "\"from\":\"gold\",\"reason\":\"assigned: ambassador\","
					"\"to\":\"gold\"");
	for (int year = 1; year <= 3; year++) {
		env->now += 400 * DAY_MS;
		assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	}
	assert_tier(env, "dave", "\"tier\":\"silver\"");
	/* An assignment that has ended before its review is not released again. */
	loyal_free(purchase(env, "erin", 10));
	assert_ok(env->db, loyal_tier_assign(env->db, "erin", "gold", env->now + DAY_MS, "a day"));
	env->now += 2 * DAY_MS;
	int released = -1;
	assert_ok(env->db, loyal_tier_release(env->db, "erin", "late", &released));
	assert_int_equal(released, 0);
	assert_tier(env, "erin", "\"assigned\":null");
	/* Refusals change nothing. */
	assert_int_equal(loyal_tier_assign(env->db, "dave", "platinum", 0, "r"), LOYAL_ENOTFOUND);
	assert_int_equal(loyal_tier_assign(env->db, "dave", "gold", -5, "r"), LOYAL_EINVAL);
	assert_int_equal(loyal_tier_assign(env->db, "ghost", "gold", 0, "r"), LOYAL_ENOTFOUND);
	assert_int_equal(loyal_tier_assign(env->db, "dave", "gold", env->now - 1, "r"), LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "not in the future"));
	assert_int_equal(loyal_tier_assign(env->db, "dave", "gold", 0, NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_tier_assign(env->db, "dave", "gold", 0, ""), LOYAL_EINVAL);
	assert_int_equal(loyal_tier_release(env->db, "dave", NULL, NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_tier_release(env->db, "ghost", "r", NULL), LOYAL_ENOTFOUND);
	assert_tier(env, "dave", "\"tier\":\"silver\"");
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\","
			" \"spendable\": false}]}");
	assert_int_equal(loyal_tier_assign(env->db, "dave", "gold", 0, "r"), LOYAL_ENOTFOUND);
	assert_non_null(strstr(loyal_errmsg(env->db), "no tier"));
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_tiers__moving_up_credits_the_tiers_award(void **state)
{
	test_env *env = *state;
	test_apply(env, PROGRAM_WITH(
		"{\"levels\": [{\"name\": \"bronze\"},"
		"  {\"name\": \"silver\", \"entry\": \"earned(xp, 365d) >= 100\","
		"   \"award\": {\"points\": 500}},"
		"  {\"name\": \"gold\", \"entry\": \"earned(xp, 365d) >= 300\", \"award\": {\"points\": 1000,"
		"   \"xp\": 7}}],"
		" \"review\": {\"at\": \"anniversary\"}, \"drop\": \"one_step\"}"));
	loyal_free(purchase(env, "alice", 150)); /* bronze, then silver: 150 + 500 */
	assert_int_equal(test_balance(env, "alice", "points").available, 150 + 500);
	loyal_free(purchase(env, "alice", 10)); /* still silver: no second award */
	assert_int_equal(test_balance(env, "alice", "points").available, 660);
	/* An assignment that moves her up credits gold's; a release that drops her, nothing. */
	assert_ok(env->db, loyal_tier_assign(env->db, "alice", "gold", 0, "ambassador"));
	assert_int_equal(test_balance(env, "alice", "points").available, 1660);
	assert_int_equal(test_balance(env, "alice", "xp").available, 160 + 7);
	assert_ok(env->db, loyal_tier_release(env->db, "alice", "term over", NULL));
	assert_tier(env, "alice", "\"tier\":\"silver\"");
	assert_int_equal(test_balance(env, "alice", "points").available, 1660);
	/* A blocked member moves up without the award. */
	loyal_free(purchase(env, "bob", 10));
	assert_ok(env->db, loyal_member_block(env->db, "bob"));
	assert_ok(env->db, loyal_tier_assign(env->db, "bob", "silver", 0, "staff"));
	assert_int_equal(test_balance(env, "bob", "points").available, 10);
	assert_int_equal(loyal_program_apply(env->db, PROGRAM_WITH(
				     "{\"levels\": [{\"name\": \"bronze\", \"award\": {\"coins\": 5}}]}"),
				     NULL),
			 LOYAL_EJSON);
	assert_non_null(strstr(loyal_errmsg(env->db), "no currency 'coins'"));
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_tiers__moving_up_issues_the_tiers_coupon(void **state)
{
	test_env *env = *state;
	test_apply(env,
		   "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\", \"spendable\": false}],"
		   " \"rules\": [{\"name\": \"purchase\", \"event\": \"purchase\","
		   "   \"award\": {\"xp\": \"floor(event.amount)\"}}],"
		   " \"coupons\": [{\"name\": \"gold-welcome\", \"codes\": \"pool\"}],"
		   " \"tiers\": {\"levels\": [{\"name\": \"bronze\"},"
		   "   {\"name\": \"gold\", \"entry\": \"earned(xp, 365d) >= 100\","
		   "    \"coupon\": \"gold-welcome\"}]}}");
	int64_t added = 0, duplicates = 0;
	assert_ok(env->db, loyal_coupon_import(env->db, "gold-welcome", "GOLD-0001", &added,
					       &duplicates));
	char *outcome = purchase(env, "alice", 150);
	assert_contains(outcome, "{\"from\":null,\"to\":\"gold\",\"reason\":\"entry\","
				 "\"coupon\":\"GOLD-0001\"}");
	loyal_free(outcome);
	/* The pool is empty for the next one: the move stands, without a code. */
	outcome = purchase(env, "bob", 150);
	assert_contains(outcome, "{\"from\":null,\"to\":\"gold\",\"reason\":\"entry\"}");
	loyal_free(outcome);
	assert_tier(env, "bob", "\"tier\":\"gold\"");
	assert_int_equal(loyal_program_apply(env->db,
					     "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\","
					     " \"spendable\": false}], \"tiers\": {\"levels\": [{\"name\":"
					     " \"bronze\", \"coupon\": \"nope\"}]}}",
					     NULL),
			 LOYAL_EJSON);
	assert_non_null(strstr(loyal_errmsg(env->db), "no coupon 'nope'"));
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_tiers__upgrade_on_the_event_that_crosses_the_threshold),
		CASE(test_tiers__downgrade_at_the_anniversary_after_grace),
		CASE(test_tiers__retain_condition_holds_a_member),
		CASE(test_tiers__ladder_change_can_reevaluate_everyone),
		CASE(test_tiers__downgrade_drops_one_step_or_to_the_qualifying_tier),
		CASE(test_tiers__tiers_of_a_version_16_file_are_kept_by_the_migration),
		CASE(test_tiers__bad_ladders_and_calls_are_refused),
		CASE(test_tiers__an_assigned_tier_holds_until_released),
		CASE(test_tiers__an_assignment_until_a_date_ends_in_a_review),
		CASE(test_tiers__moving_up_credits_the_tiers_award),
		CASE(test_tiers__moving_up_issues_the_tiers_coupon),
#undef CASE
	};
	return cmocka_run_group_tests_name("tiers", tests, NULL, NULL);
}
