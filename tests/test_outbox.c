/* test_outbox.c - the outbox: each change announces itself once, in commit order, never for a
 * refused call or a rolled-back batch; consumers read after their own positions, read the same
 * rows again until they acknowledge, and trimming keeps what any of them has not read. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 10}},"
	"                  {\"name\": \"xp\", \"spendable\": false}],"
	" \"outbox\": {\"postings\": [\"points\"], \"retention_days\": 1},"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"}, {\"name\": \"gold\","
	"   \"entry\": \"earned(xp, 365d) >= 1000\"}]},"
	" \"badges\": [{\"name\": \"hero\", \"criterion\": \"count(rescue) >= 99\"}],"
	" \"segments\": [{\"name\": \"rich\", \"criterion\": \"balance(points) >= 50\"}],"
	" \"coupons\": [{\"name\": \"thanks\", \"uses\": 1, \"valid_days\": 5}],"
	" \"rewards\": [{\"name\": \"mug\", \"price\": {\"points\": 40},"
	"   \"fulfilment\": \"two_phase\", \"deadline_days\": 3}]}";

static int setup(void **state)
{
	int rc = test_setup(state);
	if (rc == 0)
		test_apply(*state, PROGRAM);
	return rc;
}

/* The kinds the consumer reads now (without acknowledging), as "kind member, kind member". */
static void read_kinds(test_env *env, const char *consumer, int64_t limit, char *out, size_t size,
		       int64_t *last)
{
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_outbox_read(env->db, consumer, limit, &cursor));
	const char *row;
	size_t used = 0;
	int64_t previous = 0;
	out[0] = '\0';
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		json_t *happening = test_json(strdup(row));
		int64_t position = test_json_int(happening, "position");
		assert_true(position > previous); /* in order, each once */
		previous = position;
		assert_true(json_is_object(json_object_get(happening, "body")));
		used += (size_t)snprintf(out + used, size - used, "%s%s %s", used ? ", " : "",
					 test_json_text(happening, "kind"),
					 test_json_text(happening, "member"));
		json_decref(happening);
	}
	loyal_cursor_free(cursor);
	if (last)
		*last = previous;
}

static void credit(test_env *env, const char *member, const char *currency, int64_t amount,
		   const char *key)
{
	loyal_posting posting = test_posting(member, currency, amount, key);
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, NULL));
}

static void expect_kinds(test_env *env, const char *consumer, const char *expected)
{
	char kinds[2048];
	int64_t last = 0;
	read_kinds(env, consumer, 0, kinds, sizeof kinds, &last);
	assert_string_equal(kinds, expected);
	assert_ok(env->db, loyal_outbox_ack(env->db, consumer, last));
}

static void every_kind_of_change_announces_itself_once(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 100, "c1");
	credit(env, "alice", "xp", 5, "x1"); /* xp's postings are not announced */
	expect_kinds(env, "mailer", "points_credited alice");

	/* A refused debit, and a batch rolled back, announce nothing. */
	loyal_posting debit = test_posting("alice", "points", 1000, "d1");
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &debit, NULL));
	assert_ok(env->db, loyal_batch_begin(env->db));
	credit(env, "bob", "points", 70, "c2");
	assert_ok(env->db, loyal_badge_grant(env->db, "bob", "hero", NULL, "saved a cat", NULL));
	assert_ok(env->db, loyal_batch_rollback(env->db));
	expect_kinds(env, "mailer", "");

	/* A batch that commits announces what its calls did, and not what a failing call in it
	 * undid. */
	assert_ok(env->db, loyal_batch_begin(env->db));
	credit(env, "bob", "points", 70, "c3");
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &debit, NULL));
	assert_ok(env->db, loyal_batch_commit(env->db));
	expect_kinds(env, "mailer", "points_credited bob");

	debit = test_posting("alice", "points", 30, "d2");
	assert_ok(env->db, loyal_ledger_debit(env->db, &debit, NULL));
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "hero", NULL, "saved a cat", NULL));
	assert_ok(env->db, loyal_badge_revoke(env->db, "alice", "hero", NULL, "it was a dog", NULL));
	assert_ok(env->db, loyal_tier_assign(env->db, "alice", "gold", 0, "founder"));
	assert_ok(env->db, loyal_coupon_issue(env->db, "bob", "thanks", "k1", NULL));
	expect_kinds(env, "mailer",
		     "points_spent alice, badge_earned alice, badge_revoked alice, "
		     "tier_changed alice, coupon_issued bob");

	int64_t refresh = 0;
	loyal_cursor *changes = NULL;
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, &refresh, &changes));
	loyal_cursor_free(changes);
	expect_kinds(env, "mailer", "segment_entered alice, segment_entered bob");

	loyal_redeem redeem = LOYAL_REDEEM_INIT;
	redeem.member = "bob";
	redeem.reward = "mug";
	redeem.idempotency_key = "r1";
	char *text = NULL;
	assert_ok(env->db, loyal_reward_redeem(env->db, &redeem, &text));
	json_t *redemption = test_json(text);
	int64_t id = test_json_int(redemption, "id");
	json_decref(redemption);
	assert_ok(env->db, loyal_redemption_fulfil(env->db, "bob", id, "f1", NULL));
	expect_kinds(env, "mailer",
		     "reward_redeemed bob, points_spent bob, reward_fulfilled bob");

	/* Expiry: ten days on, what is left of alice's and bob's points goes. */
	env->now += 11 * DAY_MS;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	char kinds[512];
	read_kinds(env, "mailer", 0, kinds, sizeof kinds, NULL);
	assert_non_null(strstr(kinds, "points_expired alice"));
	assert_non_null(strstr(kinds, "points_expired bob"));
}

static const char *const LADDER =
	"{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\", \"spendable\": false}],"
	" \"outbox\": {\"postings\": [\"points\"]},"
	" \"rules\": [{\"name\": \"post\", \"event\": \"post\", \"award\": {\"xp\": \"100\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"}, {\"name\": \"silver\","
	"   \"entry\": \"earned(xp, 30d) >= 100\", \"retain\": \"earned(xp, 7d) >= 100\"}],"
	"  \"review\": {\"at\": \"calendar\", \"period\": \"month\"}, \"grace_days\": 3},"
	" \"rewards\": [{\"name\": \"mug\", \"price\": {\"points\": 40},"
	"   \"fulfilment\": \"two_phase\", \"deadline_days\": 3}]}";

static int64_t redeem_mug(test_env *env, const char *key)
{
	loyal_redeem redeem = LOYAL_REDEEM_INIT;
	redeem.member = "bob";
	redeem.reward = "mug";
	redeem.idempotency_key = key;
	char *text = NULL;
	assert_ok(env->db, loyal_reward_redeem(env->db, &redeem, &text));
	json_t *redemption = test_json(text);
	int64_t id = test_json_int(redemption, "id");
	json_decref(redemption);
	return id;
}

static void moves_down_grace_cancellations_expiries_and_reversals_announce(void **state)
{
	test_env *env = *state;
	test_apply(env, LADDER);
	int64_t start = env->now; /* 2026-01-01 */
	loyal_event post = LOYAL_EVENT_INIT;
	post.member = "bob";
	post.type = "post";
	post.idempotency_key = "p1";
	assert_ok(env->db, loyal_track(env->db, &post, NULL));
	expect_kinds(env, "mailer", "tier_changed bob");

	loyal_posting earn = test_posting("bob", "points", 100, "c1");
	loyal_result credited = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &earn, &credited));
	loyal_posting reverse = test_posting("bob", "points", 10, "v1");
	reverse.txn = credited.txn;
	assert_ok(env->db, loyal_ledger_reverse(env->db, &reverse, NULL));
	expect_kinds(env, "mailer", "points_credited bob, points_reversed bob");

	/* Two-phase: held (no posting announced), then cancelled; another left to expire. */
	int64_t first = redeem_mug(env, "r1");
	assert_ok(env->db, loyal_redemption_cancel(env->db, "bob", first, "x1", NULL));
	redeem_mug(env, "r2");
	env->now += 4 * DAY_MS;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	expect_kinds(env, "mailer",
		     "reward_redeemed bob, reward_cancelled bob, reward_redeemed bob, "
		     "reward_expired bob");

	/* February's review: bob's last week earned no xp, so grace, then down. */
	int64_t changed = 0;
	env->now = start + 31 * DAY_MS + 3600000;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	expect_kinds(env, "mailer", "grace_started bob");
	env->now = start + 35 * DAY_MS;
	assert_ok(env->db, loyal_tier_sweep(env->db, 0, &changed));
	assert_int_equal(changed, 1);
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_outbox_read(env->db, "mailer", 0, &cursor));
	const char *row = NULL;
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(row);
	assert_non_null(strstr(row, "\"direction\":\"down\",\"from\":\"silver\""));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_null(row);
	loyal_cursor_free(cursor);
}

static void the_body_says_what_changed(void **state)
{
	test_env *env = *state;
	credit(env, "carol", "xp", 1, "x1"); /* xp's postings are not announced */
	assert_ok(env->db, loyal_tier_assign(env->db, "carol", "gold", 0, "founder"));
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_outbox_read(env->db, "crm", 0, &cursor));
	const char *row = NULL;
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(row);
	assert_non_null(strstr(row, "\"kind\":\"tier_changed\""));
	assert_non_null(strstr(row, "\"body\":{\"direction\":\"up\",\"from\":null,"
				    "\"reason\":\"assigned: founder\",\"to\":\"gold\"}"));
	loyal_cursor_free(cursor);
}

static void consumers_keep_their_own_positions(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 1, "c1");
	credit(env, "bob", "points", 2, "c2");
	char first[512], again[512], other[512];
	int64_t last = 0;
	/* Read, "crash" before acknowledging, read again: the same rows. */
	read_kinds(env, "mailer", 0, first, sizeof first, &last);
	read_kinds(env, "mailer", 0, again, sizeof again, NULL);
	assert_string_equal(first, "points_credited alice, points_credited bob");
	assert_string_equal(again, first);
	/* A limit gives the oldest first; acknowledging one moves this consumer only. */
	read_kinds(env, "mailer", 1, other, sizeof other, &last);
	assert_string_equal(other, "points_credited alice");
	assert_ok(env->db, loyal_outbox_ack(env->db, "mailer", last));
	read_kinds(env, "mailer", 0, other, sizeof other, NULL);
	assert_string_equal(other, "points_credited bob");
	read_kinds(env, "push", 0, other, sizeof other, NULL);
	assert_string_equal(other, first);
	/* An older acknowledgement does not move a consumer back. */
	assert_ok(env->db, loyal_outbox_ack(env->db, "mailer", 0));
	read_kinds(env, "mailer", 0, other, sizeof other, NULL);
	assert_string_equal(other, "points_credited bob");

	char *text = NULL;
	assert_ok(env->db, loyal_outbox_consumers(env->db, &text));
	json_t *list = test_json(text);
	json_t *consumers = json_object_get(list, "consumers");
	assert_int_equal(json_array_size(consumers), 2);
	assert_string_equal(test_json_text(json_array_get(consumers, 0), "consumer"), "mailer");
	assert_int_equal(test_json_int(json_array_get(consumers, 0), "behind"), 1);
	assert_int_equal(test_json_int(json_array_get(consumers, 1), "behind"), 2);
	json_decref(list);

	int found = 0;
	assert_ok(env->db, loyal_outbox_forget(env->db, "push", &found));
	assert_int_equal(found, 1);
	assert_ok(env->db, loyal_outbox_forget(env->db, "push", &found));
	assert_int_equal(found, 0);
}

/* The happenings a new consumer would read, counted. */
static int kept(test_env *env)
{
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_outbox_read(env->db, "counter", 0, &cursor));
	int count = 0;
	const char *row;
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		count++;
	loyal_cursor_free(cursor);
	int found = 0;
	assert_ok(env->db, loyal_outbox_forget(env->db, "counter", &found));
	return count;
}

static void trimming_keeps_what_a_consumer_has_not_acknowledged(void **state)
{
	test_env *env = *state;
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "c%d", i);
		credit(env, "alice", "points", 1, key);
	}
	char kinds[1024];
	int64_t last = 0;
	read_kinds(env, "mailer", 0, kinds, sizeof kinds, &last);
	read_kinds(env, "push", 2, kinds, sizeof kinds, NULL);
	assert_ok(env->db, loyal_outbox_ack(env->db, "push", 2));
	env->now += 2 * DAY_MS; /* past the retention of one day */
	/* mailer has all five; push has two: only those two go (the rest wait for push). */
	assert_ok(env->db, loyal_outbox_ack(env->db, "mailer", last));
	assert_int_equal(kept(env), 3);
	/* Both have all: every row but the newest goes (the newest keeps the positions rising). */
	assert_ok(env->db, loyal_outbox_ack(env->db, "push", last));
	assert_int_equal(kept(env), 1);
	credit(env, "alice", "points", 1, "c-next");
	read_kinds(env, "mailer", 0, kinds, sizeof kinds, &last);
	assert_string_equal(kinds, "points_credited alice");
	assert_true(last > 5);
}

static const char *const NOTICES =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 10}},"
	"                  {\"name\": \"xp\", \"spendable\": false}],"
	" \"notices\": {\"expiring_days\": [7, 2], \"tier_at_risk_days\": 5},"
	" \"rules\": [{\"name\": \"post\", \"event\": \"post\", \"award\": {\"xp\": \"100\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"}, {\"name\": \"silver\","
	"   \"entry\": \"earned(xp, 30d) >= 100\", \"retain\": \"earned(xp, 7d) >= 100\"}],"
	"  \"review\": {\"at\": \"calendar\", \"period\": \"month\"}}}";

/* The notices the consumer reads now, as "kind member days" (days of points_expiring). */
static void read_notices(test_env *env, char *out, size_t size)
{
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_outbox_read(env->db, "mailer", 0, &cursor));
	const char *row;
	size_t used = 0;
	int64_t last = 0;
	out[0] = '\0';
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		json_t *h = test_json(strdup(row));
		last = test_json_int(h, "position");
		const char *kind = test_json_text(h, "kind");
		if (strcmp(kind, "points_expiring") == 0 || strcmp(kind, "tier_at_risk") == 0)
			used += (size_t)snprintf(out + used, size - used, "%s%s %s %lld",
						 used ? ", " : "", kind, test_json_text(h, "member"),
						 (long long)test_json_int(json_object_get(h, "body"),
									  "days"));
		json_decref(h);
	}
	loyal_cursor_free(cursor);
	if (last)
		assert_ok(env->db, loyal_outbox_ack(env->db, "mailer", last));
}

static int64_t notice_sweep(test_env *env)
{
	int64_t count = -1;
	assert_ok(env->db, loyal_notice_sweep(env->db, 0, &count));
	return count;
}

static void notices_are_announced_once_per_threshold(void **state)
{
	test_env *env = *state;
	test_apply(env, NOTICES);
	int64_t start = env->now; /* 2026-01-01 */
	credit(env, "alice", "points", 50, "a1");           /* expires on the 11th */
	loyal_posting dave = test_posting("dave", "points", 5, "d1");
	dave.expires_at = start + 10 * DAY_MS + DAY_MS / 2; /* the 11th at noon */
	assert_ok(env->db, loyal_ledger_credit(env->db, &dave, NULL));
	loyal_event post = LOYAL_EVENT_INIT;
	post.member = "bob";
	post.type = "post";
	post.idempotency_key = "p1";
	assert_ok(env->db, loyal_track(env->db, &post, NULL)); /* silver, reviewed on Feb 1 */
	env->now = start + 2 * DAY_MS;
	credit(env, "carol", "points", 20, "c1"); /* expires on the 13th */
	char notices[512];
	assert_int_equal(notice_sweep(env), 0);
	read_notices(env, notices, sizeof notices);
	assert_string_equal(notices, "");

	env->now = start + 3 * DAY_MS + 3600000; /* the 4th: alice's points are 7 days off */
	assert_int_equal(notice_sweep(env), 1);
	assert_int_equal(notice_sweep(env), 0); /* nothing twice */
	read_notices(env, notices, sizeof notices);
	assert_string_equal(notices, "points_expiring alice 7");

	/* The 10th (members in the order they joined): alice reaches 2 days, carol 7; dave reaches
	 * both at once: told once, of the
	 * tighter. */
	env->now = start + 9 * DAY_MS + 3600000;
	assert_int_equal(notice_sweep(env), 3);
	assert_int_equal(notice_sweep(env), 0);
	read_notices(env, notices, sizeof notices);
	assert_string_equal(notices,
			    "points_expiring alice 2, points_expiring dave 2, points_expiring carol 7");

	/* The 27th: bob's review is 5 days off and his last 7 days earned no xp. */
	env->now = start + 26 * DAY_MS + 3600000;
	assert_int_equal(notice_sweep(env), 1);
	assert_int_equal(notice_sweep(env), 0);
	read_notices(env, notices, sizeof notices);
	assert_string_equal(notices, "tier_at_risk bob 0");

	assert_rc(env->db, LOYAL_EINVAL, loyal_notice_sweep(env->db, -1, NULL));
	assert_rc(env->db, LOYAL_EJSON,
		  loyal_program_apply(env->db,
				      "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\"}],"
				      " \"notices\": {\"expiring_days\": [2, 7]}}",
				      NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "notices.expiring_days[1]"));
}

/* A listing's rows as "member amount" (or "member tier") lines, at most `limit` (0: all). */
static void listing(test_env *env, loyal_cursor *cursor, int limit, char *out, size_t size)
{
	const char *row;
	size_t used = 0;
	out[0] = '\0';
	for (int n = 0; (!limit || n < limit) && loyal_cursor_next(cursor, &row) == LOYAL_OK && row;
	     n++) {
		json_t *item = test_json(strdup(row));
		const char *tier = test_json_text(item, "tier");
		if (tier)
			used += (size_t)snprintf(out + used, size - used, "%s%s %s", used ? ", " : "",
						 test_json_text(item, "member"), tier);
		else
			used += (size_t)snprintf(out + used, size - used, "%s%s %lld", used ? ", " : "",
						 test_json_text(item, "member"),
						 (long long)test_json_int(item, "amount"));
		json_decref(item);
	}
	assert_int_equal(loyal_errcode(env->db), LOYAL_OK);
	loyal_cursor_free(cursor);
}

static void who_has_points_expiring_and_reviews_due(void **state)
{
	test_env *env = *state;
	test_apply(env, NOTICES);
	int64_t start = env->now;
	credit(env, "alice", "points", 50, "a1"); /* expires on the 11th */
	credit(env, "bob", "points", 7, "b1");
	loyal_event post = LOYAL_EVENT_INIT;
	post.member = "bob";
	post.type = "post";
	post.idempotency_key = "p1";
	assert_ok(env->db, loyal_track(env->db, &post, NULL)); /* silver, reviewed on Feb 1 */
	env->now = start + 5 * DAY_MS;
	credit(env, "carol", "points", 20, "c1"); /* expires on the 16th */
	char text[256];
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_points_expiring(env->db, "points", start, start + 11 * DAY_MS,
						 NULL, &cursor));
	listing(env, cursor, 0, text, sizeof text);
	assert_string_equal(text, "alice 50, bob 7");
	/* Keyset pages: after the member a page ended with. */
	assert_ok(env->db, loyal_points_expiring(env->db, NULL, start, start + 30 * DAY_MS,
						 "alice", &cursor));
	listing(env, cursor, 1, text, sizeof text);
	assert_string_equal(text, "bob 7");
	assert_ok(env->db, loyal_points_expiring(env->db, NULL, start, start + 30 * DAY_MS, "bob",
						 &cursor));
	listing(env, cursor, 0, text, sizeof text);
	assert_string_equal(text, "carol 20");
	assert_ok(env->db, loyal_tier_reviews(env->db, start, start + 40 * DAY_MS, NULL, &cursor));
	listing(env, cursor, 0, text, sizeof text);
	assert_string_equal(text, "bob silver");
	assert_ok(env->db, loyal_tier_reviews(env->db, start, start + 20 * DAY_MS, NULL, &cursor));
	listing(env, cursor, 0, text, sizeof text);
	assert_string_equal(text, "");

	cursor = NULL;
	assert_rc(env->db, LOYAL_EINVAL, loyal_points_expiring(env->db, NULL, 10, 10, NULL, &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_tier_reviews(env->db, -1, 10, NULL, &cursor));
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_points_expiring(env->db, "pints", 0, 10, NULL, &cursor));
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_tier_reviews(env->db, 0, 10, "nobody", &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_tier_reviews(env->db, 0, 10, NULL, NULL));
	assert_null(cursor);
}

static void bad_calls_change_nothing(void **state)
{
	test_env *env = *state;
	loyal_cursor *cursor = NULL;
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_read(env->db, NULL, 0, &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_read(env->db, "", 0, &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_read(env->db, "mailer", -1, &cursor));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_read(env->db, "mailer", 0, NULL));
	assert_null(cursor);
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_ack(env->db, "mailer", 1));
	assert_non_null(strstr(loyal_errmsg(env->db), "past the newest happening"));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_ack(env->db, "mailer", -1));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_ack(env->db, NULL, 0));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_consumers(env->db, NULL));
	assert_rc(env->db, LOYAL_EINVAL, loyal_outbox_forget(env->db, NULL, NULL));
	char *text = NULL;
	assert_ok(env->db, loyal_outbox_consumers(env->db, &text));
	json_t *list = test_json(text);
	assert_int_equal(json_array_size(json_object_get(list, "consumers")), 0);
	json_decref(list);
	/* A program naming an unknown currency for postings is refused. */
	assert_rc(env->db, LOYAL_EJSON,
		  loyal_program_apply(env->db,
				      "{\"currencies\": [{\"name\": \"points\"}],"
				      " \"outbox\": {\"postings\": [\"pints\"]}}",
				      NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "outbox.postings[0]"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_kind_of_change_announces_itself_once, setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(the_body_says_what_changed, setup, test_teardown),
		cmocka_unit_test_setup_teardown(
			moves_down_grace_cancellations_expiries_and_reversals_announce, test_setup,
			test_teardown),
		cmocka_unit_test_setup_teardown(consumers_keep_their_own_positions, setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(trimming_keeps_what_a_consumer_has_not_acknowledged,
						setup, test_teardown),
		cmocka_unit_test_setup_teardown(notices_are_announced_once_per_threshold, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(who_has_points_expiring_and_reviews_due, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(bad_calls_change_nothing, setup, test_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
