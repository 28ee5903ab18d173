/* test_rewards.c - the rewards catalog and redemptions: the catalog's checks, instant and
 * two-phase redemptions, every refusal (and that it changes nothing and stays), expiry,
 * listings, and several processes redeeming the last units. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\", \"spendable\": false}],"
	" \"rewards\": ["
	"  {\"name\": \"coffee\", \"title\": \"A coffee\", \"price\": {\"points\": 100},"
	"   \"limits\": [{\"per\": \"day\", \"count\": 1}], \"data\": {\"sku\": \"C-1\"}},"
	"  {\"name\": \"mug\", \"kind\": \"gift\", \"price\": {\"points\": 300}, \"stock\": 2,"
	"   \"fulfilment\": \"two_phase\", \"deadline_days\": 7},"
	"  {\"name\": \"teacher-pass\", \"price\": {\"points\": 50},"
	"   \"eligible\": \"member.role == \\\"teacher\\\"\"},"
	"  {\"name\": \"spring\", \"price\": {\"points\": 10},"
	"   \"active\": {\"from\": \"2026-03-01T00:00:00Z\"}}]}";

static int setup(void **state)
{
	int rc = test_setup(state);
	if (rc == 0)
		test_apply(*state, PROGRAM);
	return rc;
}

static void credit(test_env *env, const char *member, int64_t amount, const char *key)
{
	loyal_posting p = test_posting(member, "points", amount, key);
	assert_ok(env->db, loyal_ledger_credit(env->db, &p, NULL));
}

/* Redeems and returns the call's code; *out (may be NULL) receives the redemption. */
static int redeem(test_env *env, const char *member, const char *reward, int64_t quantity,
		  const char *key, json_t **out)
{
	loyal_redeem r = LOYAL_REDEEM_INIT;
	r.member = member;
	r.reward = reward;
	r.quantity = quantity;
	r.idempotency_key = key;
	char *text = NULL;
	int rc = loyal_reward_redeem(env->db, &r, &text);
	if (out)
		*out = text ? json_loads(text, 0, NULL) : NULL;
	if (rc != LOYAL_OK)
		assert_null(text);
	loyal_free(text);
	return rc;
}

static void test_rewards__the_catalog_is_checked_key_by_key(void **state)
{
	test_env *env = *state;
	static const struct {
		const char *reward, *names;
	} cases[] = {
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"colour\": 1}", "colour"},
		{"{\"name\": \"x\", \"price\": {\"gold\": 1}}", "rewards[0].price.gold"},
		{"{\"name\": \"x\", \"price\": {\"xp\": 1}}", "earn-only"},
		{"{\"name\": \"x\", \"price\": {}}", "rewards[0].price"},
		{"{\"name\": \"x\", \"price\": {\"points\": 0}}", "rewards[0].price.points"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"tier_prices\": {\"gold\": {\"points\": 1}}}",
		 "tier_prices.gold"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"kind\": \"car\"}", "rewards[0].kind"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"fulfilment\": \"later\"}",
		 "fulfilment"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"deadline_days\": 3}", "deadline_days"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"limits\": [{\"per\": \"hour\", \"count\": 1}]}",
		 "limits[0].per"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"limits\": [{\"per\": \"day\"}]}",
		 "count"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"stock\": -1}", "stock"},
		{"{\"name\": \"x\", \"price\": {\"points\": 1}, \"eligible\": \"member.role ==\"}",
		 "rewards[0].eligible"},
		{"{\"name\": \"X Y\", \"price\": {\"points\": 1}}", "rewards[0].name"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char document[600];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\", \"spendable\":"
			 " false}], \"rewards\": [%s]}",
			 cases[i].reward);
		int rc = loyal_program_apply(env->db, document, NULL);
		if (rc != LOYAL_EJSON || !strstr(loyal_errmsg(env->db), cases[i].names))
			print_error("case %zu: %s: %s\n", i, loyal_errstr(rc), loyal_errmsg(env->db));
		assert_int_equal(rc, LOYAL_EJSON);
		assert_non_null(strstr(loyal_errmsg(env->db), cases[i].names));
	}
	int rc = loyal_program_apply(env->db,
				     "{\"currencies\": [{\"name\": \"points\"}], \"rewards\": ["
				     "{\"name\": \"x\", \"price\": {\"points\": 1}},"
				     "{\"name\": \"x\", \"price\": {\"points\": 2}}]}",
				     NULL);
	assert_int_equal(rc, LOYAL_EJSON);
	assert_non_null(strstr(loyal_errmsg(env->db), "already rewards[0]"));
}

static void test_rewards__an_instant_redemption_debits_and_replays(void **state)
{
	test_env *env = *state;
	credit(env, "alice", 250, "k1");
	json_t *first = NULL, *again = NULL;
	assert_ok(env->db, redeem(env, "alice", "coffee", 1, "r1", &first));
	assert_string_equal(test_json_text(first, "state"), "fulfilled");
	assert_string_equal(test_json_text(first, "reward"), "coffee");
	assert_false(json_is_true(json_object_get(first, "replayed")));
	json_t *posting = json_array_get(json_object_get(first, "postings"), 0);
	assert_string_equal(test_json_text(posting, "currency"), "points");
	assert_int_equal(test_json_int(posting, "amount"), 100);
	assert_int_equal(test_balance(env, "alice", "points").available, 150);
	/* The ledger names the reward. */
	char *txn = NULL;
	assert_ok(env->db, loyal_ledger_transaction(env->db, test_json_int(posting, "txn"), &txn));
	assert_non_null(strstr(txn, "reward:coffee"));
	loyal_free(txn);
	/* A retry replays: the same redemption, nothing debited twice. */
	assert_ok(env->db, redeem(env, "alice", "coffee", 1, "r1", &again));
	assert_true(json_is_true(json_object_get(again, "replayed")));
	assert_int_equal(test_json_int(again, "id"), test_json_int(first, "id"));
	assert_int_equal(test_balance(env, "alice", "points").available, 150);
	/* The same key for another request is a conflict. */
	assert_int_equal(redeem(env, "alice", "mug", 1, "r1", NULL), LOYAL_ECONFLICT);
	char *text = NULL;
	assert_ok(env->db, loyal_redemption_get(env->db, "alice", test_json_int(first, "id"), &text));
	json_t *got = test_json(text);
	assert_string_equal(test_json_text(got, "state"), "fulfilled");
	json_decref(got);
	json_decref(first);
	json_decref(again);
	assert_ok(env->db, loyal_verify(env->db));
}

/* Each refusal: its own code, a message naming the reward or member, nothing changed, and the
 * same refusal for a retry under its key even once the cause has gone. */
static void test_rewards__every_refusal_changes_nothing_and_stays(void **state)
{
	test_env *env = *state;
	credit(env, "alice", 1000, "k1");
	credit(env, "bob", 1000, "k1");
	credit(env, "carol", 1000, "k1");
	assert_int_equal(redeem(env, "alice", "teacher-pass", 1, "t1", NULL), LOYAL_ENOTELIGIBLE);
	assert_non_null(strstr(loyal_errmsg(env->db), "teacher-pass"));
	assert_ok(env->db, loyal_member_set_attrs(env->db, "alice", "{\"role\": \"teacher\"}"));
	assert_int_equal(redeem(env, "alice", "teacher-pass", 1, "t1", NULL), LOYAL_ENOTELIGIBLE);
	assert_ok(env->db, redeem(env, "alice", "teacher-pass", 1, "t2", NULL));

	assert_int_equal(redeem(env, "alice", "spring", 1, "s1", NULL), LOYAL_ENOTELIGIBLE);
	assert_non_null(strstr(loyal_errmsg(env->db), "not active"));

	assert_ok(env->db, redeem(env, "alice", "coffee", 1, "c1", NULL));
	assert_int_equal(redeem(env, "alice", "coffee", 1, "c2", NULL), LOYAL_ELIMIT);
	assert_non_null(strstr(loyal_errmsg(env->db), "the limit is 1"));
	assert_int_equal(loyal_errreplayed(env->db), 0);
	env->now += DAY_MS; /* a new day: the limit allows one more */
	assert_ok(env->db, redeem(env, "alice", "coffee", 1, "c3", NULL));
	assert_int_equal(redeem(env, "alice", "coffee", 1, "c2", NULL), LOYAL_ELIMIT); /* sticky */
	assert_int_equal(loyal_errreplayed(env->db), 1);

	assert_int_equal(redeem(env, "alice", "mug", 3, "m1", NULL), LOYAL_ESOLDOUT);
	assert_non_null(strstr(loyal_errmsg(env->db), "reward 'mug' has 2 left"));
	assert_ok(env->db, redeem(env, "alice", "mug", 2, "m2", NULL));
	assert_int_equal(redeem(env, "bob", "mug", 1, "m1", NULL), LOYAL_ESOLDOUT);

	assert_int_equal(redeem(env, "dave", "coffee", 1, "d1", NULL), LOYAL_ENOTFOUND);
	assert_int_equal(redeem(env, "bob", "tea", 1, "d1", NULL), LOYAL_ENOTFOUND);
	assert_non_null(strstr(loyal_errmsg(env->db), "tea"));
	loyal_posting spend = test_posting("carol", "points", 950, "spend");
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, NULL));
	assert_int_equal(redeem(env, "carol", "coffee", 1, "c1", NULL), LOYAL_EINSUFFICIENT);
	credit(env, "carol", 500, "k2");
	assert_int_equal(redeem(env, "carol", "coffee", 1, "c1", NULL), LOYAL_EINSUFFICIENT);
	assert_ok(env->db, loyal_member_block(env->db, "bob"));
	assert_int_equal(redeem(env, "bob", "coffee", 1, "b1", NULL), LOYAL_EBLOCKED);

	/* What the refusals left: alice paid 50 + 100 + 100 + 2 x 300 held; bob and carol
	 * nothing. */
	loyal_balance alice = test_balance(env, "alice", "points");
	assert_int_equal(alice.available, 1000 - 250 - 600);
	assert_int_equal(alice.held, 600);
	assert_int_equal(test_balance(env, "bob", "points").available, 1000);
	assert_int_equal(test_balance(env, "carol", "points").available, 550);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_rewards__a_tier_pays_its_own_price(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"},"
			" {\"name\": \"xp\", \"spendable\": false}],"
			" \"rules\": [{\"name\": \"buy\", \"event\": \"purchase\","
			"  \"award\": {\"points\": \"event.amount\"}}],"
			" \"tiers\": {\"levels\": [{\"name\": \"base\"}, {\"name\": \"gold\","
			"  \"entry\": \"earned(points, 365d) >= 1000\"}]},"
			" \"rewards\": [{\"name\": \"lounge\", \"price\": {\"points\": 500},"
			"  \"tier_prices\": {\"gold\": {\"points\": 400}}}]}");
	const char *members[] = {"goldie", "basil"};
	const char *amounts[] = {"{\"amount\": 1000}", "{\"amount\": 999}"};
	for (int i = 0; i < 2; i++) {
		loyal_event event = LOYAL_EVENT_INIT;
		event.member = members[i];
		event.type = "purchase";
		event.idempotency_key = "p1";
		event.properties = amounts[i];
		char *outcome = NULL;
		assert_ok(env->db, loyal_track(env->db, &event, &outcome));
		loyal_free(outcome);
	}
	char *text = NULL;
	assert_ok(env->db, loyal_reward_list(env->db, "goldie", 0, &text));
	json_t *list = test_json(text);
	assert_int_equal(test_json_int(json_object_get(json_array_get(list, 0), "price"), "points"), 400);
	json_decref(list);
	assert_ok(env->db, redeem(env, "goldie", "lounge", 2, "l1", NULL));
	assert_int_equal(test_balance(env, "goldie", "points").available, 1000 - 800);
	assert_ok(env->db, redeem(env, "basil", "lounge", 1, "l1", NULL));
	assert_int_equal(test_balance(env, "basil", "points").available, 999 - 500);
}

/* Buy ten coffees, get one free: a stamp per coffee, and at ten stamps a coupon for a free one,
 * redeemed by the event itself. */
static void test_rewards__a_stamp_card_redeems_itself(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"},"
			" {\"name\": \"xp\", \"spendable\": false}, {\"name\": \"stamps\"}],"
			" \"rules\": [{\"name\": \"stamp\", \"event\": \"coffee\","
			"   \"award\": {\"stamps\": \"event.cups\"}}],"
			" \"coupons\": [{\"name\": \"free-coffee\", \"prefix\": \"FREE-\"}],"
			" \"rewards\": [{\"name\": \"tenth\", \"kind\": \"coupon\","
			"   \"coupon\": \"free-coffee\", \"price\": {\"stamps\": 10},"
			"   \"automatic\": true, \"limits\": [{\"per\": \"day\", \"count\": 2}]}]}");
	int cups[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 35};
	json_t *last = NULL;
	for (int i = 0; i < 11; i++) {
		char key[16], properties[32];
		snprintf(key, sizeof key, "c%d", i);
		snprintf(properties, sizeof properties, "{\"cups\": %d}", cups[i]);
		loyal_event event = LOYAL_EVENT_INIT;
		event.member = "alice";
		event.type = "coffee";
		event.idempotency_key = key;
		event.properties = properties;
		char *out = NULL;
		assert_ok(env->db, loyal_track(env->db, &event, &out));
		json_t *outcome = test_json(out);
		size_t made = json_array_size(json_object_get(outcome, "redemptions"));
		/* The tenth stamp redeems one; 35 more redeem one again (a limit of 2 a day). */
		assert_int_equal(made, i == 9 || i == 10 ? 1 : 0);
		json_decref(last);
		last = outcome;
		if (i == 9) {
			json_t *r = json_array_get(json_object_get(outcome, "redemptions"), 0);
			assert_string_equal(test_json_text(r, "reward"), "tenth");
			assert_memory_equal(test_json_text(r, "coupon_code"), "FREE-", 5);
			assert_int_equal(test_balance(env, "alice", "stamps").available, 0);
		}
	}
	json_decref(last);
	assert_int_equal(test_balance(env, "alice", "stamps").available, 25);
	env->now += DAY_MS; /* a new day: the next stamp lets two more go, inside a batch */
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "coffee";
	event.idempotency_key = "c-next";
	event.properties = "{\"cups\": 0}";
	char *out = NULL;
	assert_ok(env->db, loyal_batch_begin(env->db));
	assert_ok(env->db, loyal_track(env->db, &event, &out));
	assert_ok(env->db, loyal_batch_commit(env->db));
	json_t *outcome = test_json(out);
	assert_int_equal(json_array_size(json_object_get(outcome, "redemptions")), 2);
	json_decref(outcome);
	assert_int_equal(test_balance(env, "alice", "stamps").available, 5);
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	int codes = 0;
	assert_ok(env->db, loyal_coupon_list(env->db, "alice", 0, &cursor));
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		codes++;
	loyal_cursor_free(cursor);
	assert_int_equal(codes, 4);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_rewards__bad_requests_are_refused(void **state)
{
	test_env *env = *state;
	credit(env, "alice", 500, "k1");
	assert_int_equal(loyal_reward_redeem(env->db, NULL, NULL), LOYAL_EINVAL);
	assert_int_equal(redeem(env, NULL, "coffee", 1, "k", NULL), LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "request.member"));
	assert_int_equal(redeem(env, "alice", NULL, 1, "k", NULL), LOYAL_EINVAL);
	assert_int_equal(redeem(env, "alice", "coffee", 1, NULL, NULL), LOYAL_EINVAL);
	assert_int_equal(redeem(env, "alice", "coffee", -1, "k", NULL), LOYAL_EINVAL);
	assert_int_equal(redeem(env, "alice", "coffee", 1001, "k", NULL), LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "request.quantity"));
	loyal_redeem r = LOYAL_REDEEM_INIT;
	r.version = 9;
	assert_int_equal(loyal_reward_redeem(env->db, &r, NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_redeem_init(NULL, LOYAL_REDEEM_VERSION), LOYAL_EINVAL);
	assert_int_equal(loyal_redemption_fulfil(env->db, "alice", 0, "k", NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_redemption_cancel(env->db, "alice", 99, "k", NULL), LOYAL_ENOTFOUND);
	assert_non_null(strstr(loyal_errmsg(env->db), "no redemption 99"));
	assert_int_equal(loyal_redemption_cancel(env->db, NULL, 1, "k", NULL), LOYAL_EINVAL);
	char *text = NULL;
	assert_int_equal(loyal_reward_list(env->db, "nobody", 0, &text), LOYAL_ENOTFOUND);
	assert_int_equal(loyal_reward_list(env->db, "alice", 0, NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_reward_list(env->db, "alice", -1, &text), LOYAL_EINVAL);
	assert_non_null(strstr(loyal_errmsg(env->db), "at is negative"));
	assert_null(text);
	assert_int_equal(loyal_redemption_get(env->db, "alice", 1, &text), LOYAL_ENOTFOUND);
	loyal_cursor *cursor = NULL;
	assert_int_equal(loyal_redemption_list(env->db, "alice", -1, &cursor), LOYAL_EINVAL);
	assert_int_equal(loyal_redemption_pending(env->db, 0, NULL), LOYAL_EINVAL);
	assert_int_equal(test_balance(env, "alice", "points").available, 500);
}

static void test_rewards__two_phase_holds_until_fulfilled_or_cancelled(void **state)
{
	test_env *env = *state;
	credit(env, "alice", 1000, "k1");
	json_t *made = NULL;
	assert_ok(env->db, redeem(env, "alice", "mug", 1, "m1", &made));
	int64_t id = test_json_int(made, "id");
	assert_string_equal(test_json_text(made, "state"), "pending");
	assert_int_equal(test_json_int(made, "deadline"), env->now + 7 * DAY_MS);
	loyal_balance held = test_balance(env, "alice", "points");
	assert_int_equal(held.available, 700);
	assert_int_equal(held.held, 300);
	char *text = NULL;
	assert_ok(env->db, loyal_redemption_fulfil(env->db, "alice", id, "f1", &text));
	json_t *fulfilled = test_json(text);
	assert_string_equal(test_json_text(fulfilled, "state"), "fulfilled");
	loyal_balance spent = test_balance(env, "alice", "points");
	assert_int_equal(spent.held, 0);
	assert_int_equal(spent.spent, 300);
	assert_int_equal(loyal_redemption_fulfil(env->db, "alice", id, "f2", NULL), LOYAL_ESTATE);
	assert_non_null(strstr(loyal_errmsg(env->db), "is fulfilled"));
	/* Cancelled once fulfilled: the points come back, and the unit to the stock. */
	assert_ok(env->db, loyal_redemption_cancel(env->db, "alice", id, "c1", &text));
	json_t *cancelled = test_json(text);
	assert_string_equal(test_json_text(cancelled, "state"), "cancelled");
	assert_int_equal(test_balance(env, "alice", "points").available, 1000);
	assert_int_equal(loyal_redemption_cancel(env->db, "alice", id, "c2", NULL), LOYAL_ESTATE);
	assert_ok(env->db, loyal_redemption_cancel(env->db, "alice", id, "c1", NULL)); /* replay */
	json_t *both = NULL;
	assert_ok(env->db, redeem(env, "alice", "mug", 2, "m2", &both)); /* both units again */
	assert_ok(env->db, loyal_reward_list(env->db, "alice", 0, &text));
	json_t *list = test_json(text);
	json_t *mug = json_array_get(list, 1);
	assert_string_equal(test_json_text(mug, "why"), "out_of_stock");
	assert_int_equal(test_json_int(mug, "stock_left"), 0);
	/* A pending one cancelled: the hold is released, the units are back. */
	assert_ok(env->db, loyal_redemption_cancel(env->db, "alice", test_json_int(both, "id"), "c3", NULL));
	loyal_balance back = test_balance(env, "alice", "points");
	assert_int_equal(back.available, 1000);
	assert_int_equal(back.held, 0);
	assert_ok(env->db, redeem(env, "alice", "mug", 2, "m3", NULL));
	json_decref(both);
	json_decref(made);
	json_decref(fulfilled);
	json_decref(cancelled);
	json_decref(list);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_rewards__an_unfulfilled_redemption_expires(void **state)
{
	test_env *env = *state;
	credit(env, "alice", 1000, "k1");
	json_t *made = NULL;
	assert_ok(env->db, redeem(env, "alice", "mug", 2, "m1", &made));
	int64_t id = test_json_int(made, "id");
	env->now += 8 * DAY_MS;
	char *text = NULL;
	assert_ok(env->db, loyal_redemption_get(env->db, "alice", id, &text));
	json_t *got = test_json(text);
	assert_string_equal(test_json_text(got, "state"), "expired");
	assert_int_equal(test_balance(env, "alice", "points").available, 1000);
	/* Not in the pending listing any more. */
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_redemption_pending(env->db, 0, &cursor));
	assert_int_equal(loyal_cursor_next(cursor, &row), LOYAL_OK);
	assert_null(row);
	loyal_cursor_free(cursor);
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_true(settled >= 1);
	assert_int_equal(loyal_redemption_fulfil(env->db, "alice", id, "f1", NULL), LOYAL_ESTATE);
	assert_non_null(strstr(loyal_errmsg(env->db), "expired"));
	assert_int_equal(redeem(env, "nobody", "mug", 1, "x", NULL), LOYAL_ENOTFOUND);
	assert_ok(env->db, redeem(env, "alice", "mug", 2, "m2", NULL)); /* the stock came back */
	json_decref(made);
	json_decref(got);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_rewards__listings_page_by_id(void **state)
{
	test_env *env = *state;
	credit(env, "alice", 1000, "k1");
	credit(env, "bob", 1000, "k1");
	json_t *a = NULL, *b = NULL, *c = NULL;
	assert_ok(env->db, redeem(env, "alice", "mug", 1, "m1", &a));
	assert_ok(env->db, redeem(env, "bob", "mug", 1, "m1", &b));
	assert_ok(env->db, redeem(env, "alice", "coffee", 1, "c1", &c));
	/* Alice's, newest first; then from before the first row seen. */
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_redemption_list(env->db, "alice", 0, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"reward\":\"coffee\""));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"reward\":\"mug\""));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_null(row);
	loyal_cursor_free(cursor);
	assert_ok(env->db, loyal_redemption_list(env->db, "alice", test_json_int(c, "id"), &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"reward\":\"mug\""));
	loyal_cursor_free(cursor);
	/* Awaiting fulfilment, oldest first, naming the member; the instant one is not. */
	assert_ok(env->db, loyal_redemption_pending(env->db, 0, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"member\":\"alice\""));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"member\":\"bob\""));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_null(row);
	loyal_cursor_free(cursor);
	/* What alice can take now, and why not. */
	char *text = NULL;
	assert_ok(env->db, loyal_reward_list(env->db, "alice", 0, &text));
	json_t *list = test_json(text);
	assert_int_equal(json_array_size(list), 4);
	json_t *coffee = json_array_get(list, 0);
	assert_string_equal(test_json_text(coffee, "why"), "limit_reached");
	assert_string_equal(test_json_text(json_object_get(coffee, "data"), "sku"), "C-1");
	assert_string_equal(test_json_text(json_array_get(list, 2), "why"), "not_eligible");
	assert_string_equal(test_json_text(json_array_get(list, 3), "why"), "not_active");
	json_decref(list);
	assert_ok(env->db, loyal_reward_list(env->db, "bob", 0, &text));
	list = test_json(text);
	assert_true(json_is_true(json_object_get(json_array_get(list, 0), "available")));
	json_decref(list);
	assert_ok(env->db, loyal_member_block(env->db, "bob"));
	assert_ok(env->db, loyal_reward_list(env->db, "bob", 0, &text));
	list = test_json(text);
	assert_string_equal(test_json_text(json_array_get(list, 0), "why"), "blocked");
	json_decref(list);
	assert_ok(env->db, loyal_member_unblock(env->db, "bob"));
	loyal_posting spend = test_posting("bob", "points", 650, "spend");
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, NULL));
	assert_ok(env->db, loyal_reward_list(env->db, "bob", 0, &text));
	list = test_json(text);
	coffee = json_array_get(list, 0);
	assert_string_equal(test_json_text(coffee, "why"), "not_enough_points");
	assert_int_equal(test_json_int(json_object_get(coffee, "missing"), "points"), 50);
	json_decref(list);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void test_rewards__verify_finds_a_stock_that_disagrees(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	credit(env, "alice", 1000, "k1");
	assert_ok(env->db, redeem(env, "alice", "mug", 1, "m1", NULL));
	assert_ok(env->db, loyal_verify(env->db));
	test_close_db(env);
	test_exec_file(env->path, "UPDATE reward_stock SET taken = 0");
	test_reopen_db(env);
	assert_int_equal(loyal_verify(env->db), LOYAL_ECORRUPT);
	assert_non_null(strstr(loyal_errmsg(env->db), "stock counts 0 units taken, its redemptions 1"));
}

/* Several processes redeem a reward of which few units are left: exactly that many succeed,
 * the others are told it is sold out; the books balance. */
#define REDEEMERS 6
#define TRIES 4
#define UNITS 5

static int redeem_one(loyal_db *db, int process, int try)
{
	char member[32];
	snprintf(member, sizeof member, "m%d-%d", process, try);
	loyal_redeem r = LOYAL_REDEEM_INIT;
	r.member = member;
	r.reward = "scarce";
	r.idempotency_key = "r";
	return loyal_reward_redeem(db, &r, NULL);
}

static void test_rewards__processes_never_oversell(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"},"
			" {\"name\": \"xp\", \"spendable\": false}], \"rewards\": [{\"name\":"
			" \"scarce\", \"price\": {\"points\": 10}, \"stock\": 5}]}");
	for (int p = 0; p < REDEEMERS; p++)
		for (int i = 0; i < TRIES; i++) {
			char member[32];
			snprintf(member, sizeof member, "m%d-%d", p, i);
			credit(env, member, 10, "k");
		}
	test_close_db(env);
	int won = test_processes(env->path, REDEEMERS, TRIES, redeem_one, LOYAL_ESOLDOUT);
	assert_int_equal(won, UNITS);
	test_reopen_db(env);
	int64_t spent = 0;
	for (int p = 0; p < REDEEMERS; p++)
		for (int i = 0; i < TRIES; i++) {
			char member[32];
			snprintf(member, sizeof member, "m%d-%d", p, i);
			spent += test_balance(env, member, "points").spent;
		}
	assert_int_equal(spent, UNITS * 10);
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
	const struct CMUnitTest tests[] = {
		CASE(test_rewards__the_catalog_is_checked_key_by_key),
		CASE(test_rewards__an_instant_redemption_debits_and_replays),
		CASE(test_rewards__every_refusal_changes_nothing_and_stays),
		CASE(test_rewards__a_tier_pays_its_own_price),
		CASE(test_rewards__a_stamp_card_redeems_itself),
		CASE(test_rewards__bad_requests_are_refused),
		CASE(test_rewards__two_phase_holds_until_fulfilled_or_cancelled),
		CASE(test_rewards__an_unfulfilled_redemption_expires),
		CASE(test_rewards__listings_page_by_id),
		CASE(test_rewards__verify_finds_a_stock_that_disagrees),
		CASE(test_rewards__processes_never_oversell),
	};
#undef CASE
	return cmocka_run_group_tests(tests, NULL, NULL);
}
