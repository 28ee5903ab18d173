/* test_history.c - a member as they stood at a past instant (loyal_member_as_of): tiers and
 * badges against snapshots taken during a run, pending points and holds then, back-dated
 * writes, and bad calls. (test_ledger_random checks balances against snapshots of a long run.) */
#include "support.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
	"  {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": [{\"name\": \"purchase\", \"event\": \"purchase\","
	"   \"award\": {\"points\": \"floor(event.amount)\", \"xp\": \"floor(event.amount)\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"bronze\"},"
	"   {\"name\": \"silver\", \"entry\": \"earned(xp, 365d) >= 100\"}],"
	"   \"review\": {\"at\": \"anniversary\"}},"
	" \"badges\": [{\"name\": \"regular\", \"criterion\": \"count(visit, 30d) >= 3\"},"
	"   {\"name\": \"writer\", \"criterion\": \"count(post) >= 1\"}]}";

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static void track(test_env *env, const char *member, const char *type, int amount)
{
	static int counter;
	char key[32], properties[48];
	snprintf(key, sizeof key, "%s-%d", type, ++counter);
	snprintf(properties, sizeof properties, "{\"amount\": %d}", amount);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = type;
	event.idempotency_key = key;
	event.properties = properties;
	char *outcome = NULL;
	assert_ok(env->db, loyal_track(env->db, &event, &outcome));
	loyal_free(outcome);
}

static json_t *as_of(test_env *env, const char *member, int64_t at)
{
	char *text = NULL;
	assert_ok(env->db, loyal_member_as_of(env->db, member, at, &text));
	return test_json(text);
}

/* What the member looks like now through the present-tense reads: their tier's name (or
 * null) and the badges they hold, as text to compare. */
typedef struct snapshot {
	int64_t at;
	char tier[32];
	char badges[256];
} snapshot;

static void held_badges(json_t *list, char *out, size_t size)
{
	size_t i;
	json_t *award;
	out[0] = '\0';
	json_array_foreach (list, i, award)
		if (json_is_null(json_object_get(award, "revoked"))) {
			strncat(out, test_json_text(award, "badge"), size - strlen(out) - 2);
			strncat(out, " ", size - strlen(out) - 1);
		}
}

static snapshot take(test_env *env, const char *member)
{
	snapshot shot = {.at = env->now};
	char *text = NULL;
	assert_ok(env->db, loyal_tier_get(env->db, member, &text));
	json_t *tier = test_json(text);
	const char *name = test_json_text(tier, "tier");
	snprintf(shot.tier, sizeof shot.tier, "%s", name ? name : "null");
	json_decref(tier);
	assert_ok(env->db, loyal_badge_list(env->db, member, &text));
	json_t *badges = test_json(text);
	held_badges(badges, shot.badges, sizeof shot.badges);
	json_decref(badges);
	env->now += 1000; /* what comes next is after the snapshot */
	return shot;
}

static void assert_matches(test_env *env, const char *member, const snapshot *shot)
{
	json_t *past = as_of(env, member, shot->at);
	json_t *tier = json_object_get(past, "tier");
	assert_string_equal(json_is_null(tier) ? "null" : test_json_text(tier, "tier"), shot->tier);
	char badges[256];
	held_badges(json_object_get(past, "badges"), badges, sizeof badges);
	assert_string_equal(badges, shot->badges);
	assert_int_equal(test_json_int(past, "at"), shot->at);
	json_decref(past);
}

static void test_history__tiers_and_badges_as_they_stood(void **state)
{
	test_env *env = *state;
	snapshot shots[6];
	int count = 0;
	track(env, "alice", "purchase", 50); /* bronze, 50 xp */
	shots[count++] = take(env, "alice");
	env->now += DAY_MS;
	track(env, "alice", "visit", 0);
	track(env, "alice", "visit", 0);
	track(env, "alice", "post", 0); /* writer */
	shots[count++] = take(env, "alice");
	env->now += DAY_MS;
	track(env, "alice", "visit", 0); /* regular */
	track(env, "alice", "purchase", 60); /* 110 xp: silver */
	shots[count++] = take(env, "alice");
	env->now += 5 * DAY_MS;
	int changed = 0;
	assert_ok(env->db, loyal_badge_revoke(env->db, "alice", "writer", NULL, "spam", &changed));
	assert_int_equal(changed, 1);
	shots[count++] = take(env, "alice");
	env->now += 400 * DAY_MS; /* past the anniversary: the review drops her */
	int64_t moved = 0;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &moved));
	assert_int_equal(moved, 1);
	shots[count++] = take(env, "alice");
	assert_string_equal(shots[0].tier, "bronze");
	assert_string_equal(shots[2].tier, "silver");
	assert_string_equal(shots[2].badges, "writer regular ");
	assert_string_equal(shots[3].badges, "regular ");
	assert_string_equal(shots[4].tier, "bronze");
	for (int i = 0; i < count; i++)
		assert_matches(env, "alice", &shots[i]);
	/* Between two snapshots, the state of the earlier one. */
	snapshot between = shots[1];
	between.at = shots[2].at - 1;
	assert_matches(env, "alice", &between);
}

static int64_t lot_total(json_t *balance, bool pending)
{
	int64_t total = 0;
	size_t i;
	json_t *lot;
	json_array_foreach (json_object_get(balance, "lots"), i, lot)
		if (json_is_null(json_object_get(lot, "pending_until")) != pending)
			total += test_json_int(lot, "remaining");
	return total;
}

static json_t *currency_of(json_t *past, const char *currency)
{
	size_t i;
	json_t *balance;
	json_array_foreach (json_object_get(past, "balances"), i, balance)
		if (strcmp(test_json_text(balance, "currency"), currency) == 0)
			return balance;
	return NULL;
}

/* Pending points were pending then, a hold held, and what expired or activated since had not;
 * what fell due by then is settled as a balance read settles it. */
static void test_history__pending_points_holds_and_expiry_as_they_were(void **state)
{
	test_env *env = *state;
	int64_t start = env->now;
	loyal_posting credit = test_posting("bob", "points", 100, "credit");
	credit.pending_ms = 10 * DAY_MS;
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	env->now += 11 * DAY_MS; /* active since day 10, expiring on day 30 */
	loyal_posting hold = test_posting("bob", "points", 40, "hold");
	hold.deadline = env->now + 5 * DAY_MS;
	loyal_result held = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, &held));
	int64_t holding = env->now;
	env->now += DAY_MS;
	loyal_posting capture = test_posting("bob", "points", 25, "capture");
	capture.txn = held.txn;
	assert_ok(env->db, loyal_ledger_capture(env->db, &capture, NULL));
	env->now = start + 40 * DAY_MS; /* the rest expired on day 30 */
	assert_ok(env->db, loyal_expire(env->db, 0, NULL));
	loyal_balance now = test_balance(env, "bob", "points");
	assert_int_equal(now.expired, 75);

	json_t *past = as_of(env, "bob", start + 5 * DAY_MS);
	json_t *points = currency_of(past, "points");
	assert_int_equal(test_json_int(points, "pending"), 100);
	assert_int_equal(test_json_int(points, "available"), 0);
	assert_int_equal(lot_total(points, true), 100);
	json_decref(past);

	past = as_of(env, "bob", holding);
	points = currency_of(past, "points");
	assert_int_equal(test_json_int(points, "pending"), 0); /* activated on day 10, lazily */
	assert_int_equal(test_json_int(points, "available"), 60);
	assert_int_equal(test_json_int(points, "held"), 40);
	assert_int_equal(test_json_int(points, "spent"), 0);
	json_decref(past);

	past = as_of(env, "bob", start + 29 * DAY_MS);
	points = currency_of(past, "points");
	assert_int_equal(test_json_int(points, "available"), 75);
	assert_int_equal(test_json_int(points, "held"), 0);
	assert_int_equal(test_json_int(points, "spent"), 25);
	assert_int_equal(test_json_int(points, "expired"), 0);
	assert_int_equal(lot_total(points, false), 75);
	json_decref(past);

	past = as_of(env, "bob", start + 30 * DAY_MS);
	points = currency_of(past, "points");
	assert_int_equal(test_json_int(points, "available"), 0);
	assert_int_equal(test_json_int(points, "expired"), 75);
	assert_int_equal(json_array_size(json_object_get(points, "lots")), 0);
	json_decref(past);
}

/* A hold past its deadline by then was released by then, though no call had released it. */
static void test_history__an_overdue_hold_is_released_in_the_past_too(void **state)
{
	test_env *env = *state;
	loyal_posting credit = test_posting("carol", "points", 50, "credit");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	loyal_posting hold = test_posting("carol", "points", 30, "hold");
	hold.deadline = env->now + DAY_MS;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, NULL));
	int64_t after = env->now + 2 * DAY_MS;
	env->now += 3 * DAY_MS;
	json_t *past = as_of(env, "carol", after);
	json_t *points = currency_of(past, "points");
	assert_int_equal(test_json_int(points, "available"), 50);
	assert_int_equal(test_json_int(points, "held"), 0);
	json_decref(past);
}

/* A write dated in the past counts from its own date; a currency appears with the member's
 * first transaction in it. */
static void test_history__a_back_dated_write_counts_from_its_date(void **state)
{
	test_env *env = *state;
	int64_t start = env->now;
	track(env, "dave", "visit", 0); /* joins */
	env->now += 10 * DAY_MS;
	loyal_posting late = test_posting("dave", "points", 30, "late");
	late.at = start + 2 * DAY_MS;
	assert_ok(env->db, loyal_ledger_credit(env->db, &late, NULL));
	json_t *past = as_of(env, "dave", start + DAY_MS);
	assert_int_equal(json_array_size(json_object_get(past, "balances")), 0);
	assert_string_equal(test_json_text(json_object_get(past, "tier"), "tier"), "bronze");
	json_decref(past);
	past = as_of(env, "dave", start + 3 * DAY_MS);
	assert_int_equal(test_json_int(currency_of(past, "points"), "available"), 30);
	assert_null(currency_of(past, "xp"));
	json_decref(past);
}

static void test_history__bad_calls_are_refused(void **state)
{
	test_env *env = *state;
	track(env, "erin", "visit", 0);
	int64_t joined = env->now;
	env->now += DAY_MS;
	char *text = NULL;
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_as_of(NULL, "erin", joined, &text));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_as_of(env->db, NULL, joined, &text));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_as_of(env->db, "erin", joined, NULL));
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_as_of(env->db, "erin", -1, &text));
	assert_null(text);
	assert_rc(env->db, LOYAL_EINVAL, loyal_member_as_of(env->db, "erin", env->now + 1, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "after the clock"));
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_as_of(env->db, "nobody", joined, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "no member 'nobody'"));
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_as_of(env->db, "erin", joined - 1, &text));
	assert_non_null(strstr(loyal_errmsg(env->db), "had not joined by 2025-12-31T23:59:59Z"));
	assert_null(text);
	json_t *past = as_of(env, "erin", 0); /* now */
	assert_int_equal(test_json_int(past, "at"), env->now);
	assert_string_equal(test_json_text(past, "member"), "erin");
	json_decref(past);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history__tiers_and_badges_as_they_stood, setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(
			test_history__pending_points_holds_and_expiry_as_they_were, setup,
			test_teardown),
		cmocka_unit_test_setup_teardown(test_history__an_overdue_hold_is_released_in_the_past_too,
						setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_history__a_back_dated_write_counts_from_its_date,
						setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_history__bad_calls_are_refused, setup,
						test_teardown),
	};
	return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
