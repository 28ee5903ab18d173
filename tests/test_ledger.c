/* test_ledger.c - credits, debits, lots, expiry, pending points, holds, reversals, transfers,
 * idempotency, reads and verification of the ledger. */
#include "support.h"

#include "engine/account.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, TEST_PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static int64_t credit(test_env *env, const char *member, const char *currency, int64_t amount,
		      const char *key)
{
	loyal_posting posting = test_posting(member, currency, amount, key);
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, &result));
	assert_int_equal(result.amount, amount);
	assert_int_equal(result.replayed, 0);
	return result.txn;
}

static int64_t credit_expiring(test_env *env, const char *member, int64_t amount,
			       int64_t expires_at, const char *key)
{
	loyal_posting posting = test_posting(member, "points", amount, key);
	posting.expires_at = expires_at;
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, &result));
	return result.txn;
}

static int64_t debit(test_env *env, const char *member, const char *currency, int64_t amount,
		     const char *key)
{
	loyal_posting posting = test_posting(member, currency, amount, key);
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_debit(env->db, &posting, &result));
	return result.txn;
}

static int64_t reverse(test_env *env, const char *member, const char *currency, int64_t txn,
		       int64_t amount, const char *key)
{
	loyal_posting posting = test_posting(member, currency, amount, key);
	posting.txn = txn;
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_reverse(env->db, &posting, &result));
	return result.amount;
}

static void test_ledger__a_dry_run_predicts_the_result_and_writes_nothing(void **state)
{
	test_env *env = *state;
	loyal_posting p = test_posting("alice", "points", 100, "c1");
	p.flags = LOYAL_DRY_RUN;
	loyal_result dry = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &p, &dry));
	assert_int_equal(dry.amount, 100);
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_get(env->db, "alice", &json));
	int64_t txn = credit(env, "alice", "points", 100, "c1"); /* not a replay: nothing kept */
	if (!test_on_postgres()) /* its sequences do not wind back: ids may differ there */
		assert_int_equal(dry.txn, txn);
	/* A refusal is predicted and not recorded: the same key later succeeds. */
	loyal_posting spend = test_posting("alice", "points", 150, "d1");
	spend.flags = LOYAL_DRY_RUN;
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &spend, NULL));
	assert_int_equal(loyal_errreplayed(env->db), 0);
	credit(env, "alice", "points", 100, "c2");
	spend.flags = 0;
	loyal_result real = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, &real));
	assert_false(real.replayed);
	/* A dry run of a used key replays its result. */
	spend.flags = LOYAL_DRY_RUN;
	loyal_result again = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, &again));
	assert_true(again.replayed);
	assert_int_equal(again.txn, real.txn);
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	assert_int_equal(test_statement_length(env, "alice"), 3);
	spend.flags = 0x4;
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_debit(env->db, &spend, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "posting.flags"));
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_ledger__a_posting_of_version_1_is_still_taken(void **state)
{
	test_env *env = *state;
	/* Version 1's struct ends before flags: init fills no more than that. */
	unsigned char room[sizeof(loyal_posting)];
	memset(room, 0xAB, sizeof room);
	loyal_posting *old = (loyal_posting *)(void *)room;
	assert_int_equal(loyal_posting_init(old, 1), LOYAL_OK);
	assert_int_equal(old->version, 1);
	assert_int_equal(room[offsetof(loyal_posting, flags)], 0xAB);
	old->member = "alice";
	old->currency = "points";
	old->amount = 5;
	old->idempotency_key = "v1";
	assert_ok(env->db, loyal_ledger_credit(env->db, old, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 5);
	assert_int_equal(loyal_posting_init(old, 3), LOYAL_EINVAL);
	loyal_posting fresh;
	assert_int_equal(loyal_posting_init(&fresh, LOYAL_POSTING_VERSION), LOYAL_OK);
	assert_int_equal(fresh.flags, 0);
}

/* The remaining points of each lot in the explanation, in its order, as "a,b,c". */
static void lot_remainders(test_env *env, const char *member, const char *currency, char *out,
			   size_t size)
{
	char *json = NULL;
	assert_ok(env->db, loyal_ledger_explain(env->db, member, currency, &json));
	out[0] = '\0';
	const char *cursor = json;
	while ((cursor = strstr(cursor, "\"remaining\":"))) {
		cursor += strlen("\"remaining\":");
		size_t used = strlen(out);
		snprintf(out + used, size - used, "%s%lld", used ? "," : "", strtoll(cursor, NULL, 10));
	}
	loyal_free(json);
}

static void assert_verified(test_env *env)
{
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_ledger__credit_then_debit_moves_balances(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 500, "k1");
	debit(env, "alice", "points", 120, "k2");
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, 380);
	assert_int_equal(balance.earned, 500);
	assert_int_equal(balance.spent, 120);
	assert_int_equal(balance.pending, 0);
	assert_int_equal(balance.next_expiry_at, TEST_EPOCH_MS + 365 * DAY_MS);
	assert_int_equal(balance.next_expiry_amount, 380);
	assert_int_equal(test_statement_length(env, "alice"), 2);
	assert_verified(env);
}

static void test_ledger__spend_consumes_soonest_expiring_lot_first(void **state)
{
	test_env *env = *state;
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 90 * DAY_MS, "late");
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 10 * DAY_MS, "soon");
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 10 * DAY_MS, "soon-younger");
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 30 * DAY_MS, "middle");
	debit(env, "alice", "points", 250, "spend");
	char remainders[128];
	/* Order: 10 days (older), 10 days (younger), 30 days, 90 days. */
	lot_remainders(env, "alice", "points", remainders, sizeof remainders);
	assert_string_equal(remainders, "0,0,50,100");
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.next_expiry_at, TEST_EPOCH_MS + 30 * DAY_MS);
	assert_int_equal(balance.next_expiry_amount, 50);
	assert_verified(env);
}

static void test_ledger__debit_beyond_balance_is_insufficient_and_sticky(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 40, "earn");
	loyal_posting spend = test_posting("alice", "points", 100, "spend");
	loyal_result result = LOYAL_RESULT_INIT;
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &spend, &result));
	assert_non_null(strstr(loyal_errmsg(env->db), "40 available"));
	assert_int_equal(loyal_errreplayed(env->db), 0); /* refused now */
	credit(env, "alice", "points", 100, "earn-more");
	assert_int_equal(loyal_errreplayed(env->db), 0);
	/* The retry under the same key keeps the first outcome. */
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &spend, &result));
	assert_int_equal(result.replayed, 1);
	assert_int_equal(loyal_errreplayed(env->db), 1); /* refused before, under this key */
	assert_non_null(strstr(loyal_errmsg(env->db), "40 available"));
	assert_int_equal(test_balance(env, "alice", "points").available, 140);
	assert_int_equal(loyal_errreplayed(env->db), 0);
	assert_int_equal(loyal_errreplayed(NULL), 0);
	assert_verified(env);
}

static void test_ledger__retry_with_same_key_changes_nothing(void **state)
{
	test_env *env = *state;
	int64_t first = credit(env, "alice", "points", 100, "order-1");
	loyal_posting again = test_posting("alice", "points", 100, "order-1");
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &again, &result));
	assert_int_equal(result.txn, first);
	assert_int_equal(result.amount, 100);
	assert_int_equal(result.replayed, 1);
	assert_int_equal(test_balance(env, "alice", "points").available, 100);
	assert_int_equal(test_statement_length(env, "alice"), 1);
	/* The same key for another member is another request. */
	credit(env, "bob", "points", 100, "order-1");
	assert_verified(env);
}

static void test_ledger__same_key_for_another_request_is_a_conflict(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 100, "order-1");
	loyal_posting changed = test_posting("alice", "points", 101, "order-1");
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_ledger_credit(env->db, &changed, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "order-1"));
	loyal_posting as_debit = test_posting("alice", "points", 100, "order-1");
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_ledger_debit(env->db, &as_debit, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 100);
	assert_verified(env);
}

static void test_ledger__calendar_end_expiry(void **state)
{
	test_env *env = *state;
	env->now = TEST_EPOCH_MS + 14 * DAY_MS; /* 2026-01-15 */
	credit(env, "alice", "coins", 70, "january");
	/* End of the month after the one earned in: 2026-03-01T00:00Z. */
	int64_t march_1 = TEST_EPOCH_MS + (31 + 28) * DAY_MS;
	loyal_balance balance = test_balance(env, "alice", "coins");
	assert_int_equal(balance.next_expiry_at, march_1);
	loyal_balance later = LOYAL_BALANCE_INIT;
	assert_ok(env->db, loyal_ledger_balance(env->db, "alice", "coins", march_1 - 1, &later));
	assert_int_equal(later.available, 70);
	assert_ok(env->db, loyal_ledger_balance(env->db, "alice", "coins", march_1, &later));
	assert_int_equal(later.available, 0);
	assert_int_equal(later.expired, 70);
	env->now = march_1;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 1);
	balance = test_balance(env, "alice", "coins");
	assert_int_equal(balance.available, 0);
	assert_int_equal(balance.expired, 70);
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 0);
	assert_verified(env);
}

/* SQL that sets a member's "points" balance: its available points, lifetime earned and due_at
 * to the SQL expressions given, the rest kept. */
#define POINTS "(SELECT id FROM currencies WHERE name = 'points')"
#define POINTS_FIELD(field) "ly_balance(balances, " POINTS ", " #field ")"
#define SET_POINTS(available, earned, due_at)                                              \
	"UPDATE members SET balances = ly_balance_set(balances, " POINTS ", " available ", "  \
	POINTS_FIELD(1) ", " POINTS_FIELD(2) ", " earned ", " POINTS_FIELD(4) ", "            \
	POINTS_FIELD(5) ", " due_at ")"

/* The sweep walks the accounts a chunk at a time: more than one chunk of them fall due here,
 * interleaved with accounts that do not, and one account's due bound is unknown (0, as in a
 * file from before bounds were kept). */
static void test_ledger__expiry_sweep_walks_every_due_account(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	assert_ok(env->db, loyal_batch_begin(env->db));
	for (int i = 0; i < 300; i++) {
		char member[32];
		snprintf(member, sizeof member, "member-%03d", i);
		credit_expiring(env, member, 10 + i, TEST_EPOCH_MS + (i % 2 ? 5 : 50) * DAY_MS, "k");
	}
	assert_ok(env->db, loyal_batch_commit(env->db));
	test_rewrite_file(env, SET_POINTS(POINTS_FIELD(0), POINTS_FIELD(3), "0")
			       ", due_at = 0 WHERE id = 1");
	env->now = TEST_EPOCH_MS + 10 * DAY_MS;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 150);
	for (int i = 0; i < 300; i++) {
		char member[32];
		snprintf(member, sizeof member, "member-%03d", i);
		loyal_balance balance = test_balance(env, member, "points");
		assert_int_equal(balance.available, i % 2 ? 0 : 10 + i);
		assert_int_equal(balance.expired, i % 2 ? 10 + i : 0);
	}
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 0);
	env->now = TEST_EPOCH_MS + 60 * DAY_MS;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 150);
	assert_verified(env);
}

/* A bound lowered after the balance row was first written (a nearer lot, a hold's deadline)
 * reaches the file, or the sweep would pass the account by. Balance reads settle in memory,
 * so the sweep's count is what tells. */
static void test_ledger__expiry_sweep_sees_a_lowered_due_bound(void **state)
{
	test_env *env = *state;
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 300 * DAY_MS, "late");
	credit_expiring(env, "alice", 40, TEST_EPOCH_MS + 5 * DAY_MS, "soon");
	credit_expiring(env, "bob", 100, TEST_EPOCH_MS + 300 * DAY_MS, "late");
	loyal_posting hold = test_posting("bob", "points", 30, "hold");
	hold.deadline = TEST_EPOCH_MS + 2 * DAY_MS;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, NULL));
	env->now = TEST_EPOCH_MS + 10 * DAY_MS;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 2);
	assert_int_equal(test_balance(env, "alice", "points").expired, 40);
	assert_int_equal(test_balance(env, "bob", "points").held, 0);
	assert_int_equal(test_balance(env, "bob", "points").available, 100);
	assert_verified(env);
}

static void test_ledger__other_expiry_policies(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"timezone\": \"+08:00\", \"currencies\": ["
			"{\"name\": \"points\", \"expiry\": {\"after_days\": 365}},"
			"{\"name\": \"coins\", \"expiry\": {\"end_of\": \"month\", \"periods\": 1}},"
			"{\"name\": \"xp\", \"spendable\": false},"
			"{\"name\": \"miles\", \"clawback\": \"pending_only\"},"
			"{\"name\": \"stars\", \"expiry\": {\"after_months\": 1}},"
			"{\"name\": \"gems\", \"expiry\": {\"end_of\": \"quarter\"}},"
			"{\"name\": \"seals\", \"expiry\": {\"end_of\": \"year\", \"periods\": 2}}]}");
	/* 2026-01-30T20:00Z is already 2026-01-31 04:00 at +08:00. */
	env->now = TEST_EPOCH_MS + 29 * DAY_MS + 20 * 3600000;
	credit(env, "alice", "stars", 1, "s");
	credit(env, "alice", "gems", 1, "g");
	credit(env, "alice", "seals", 1, "y");
	int64_t hour = 3600000;
	/* One month after Jan 31 04:00 (local) is Feb 28 04:00 local, Feb 27 20:00Z. */
	assert_int_equal(test_balance(env, "alice", "stars").next_expiry_at,
			 TEST_EPOCH_MS + (31 + 26) * DAY_MS + 20 * hour);
	/* The end of Q1 in local time: 2026-04-01T00:00+08:00. */
	assert_int_equal(test_balance(env, "alice", "gems").next_expiry_at,
			 TEST_EPOCH_MS + (31 + 28 + 31) * DAY_MS - 8 * hour);
	/* Two years after 2026 ends: 2029-01-01T00:00+08:00. */
	assert_int_equal(test_balance(env, "alice", "seals").next_expiry_at,
			 TEST_EPOCH_MS + (365 + 365 + 366) * DAY_MS - 8 * hour);
	assert_int_equal(test_balance(env, "alice", "xp").next_expiry_at, 0);
}

static void test_ledger__inactivity_expires_the_whole_balance(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 365}},"
			"{\"name\": \"coins\", \"expiry\": {\"end_of\": \"month\", \"periods\": 1},"
			" \"clawback\": \"zero\"}, {\"name\": \"xp\", \"spendable\": false},"
			"{\"name\": \"miles\", \"clawback\": \"pending_only\"},"
			"{\"name\": \"karma\", \"expiry\": {\"inactive_days\": 30}}]}");
	credit(env, "alice", "karma", 10, "a");
	env->now += 20 * DAY_MS;
	credit(env, "alice", "karma", 5, "b"); /* activity: the clock restarts */
	env->now += 29 * DAY_MS;
	assert_int_equal(test_balance(env, "alice", "karma").available, 15);
	assert_int_equal(test_balance(env, "alice", "karma").next_expiry_at,
			 TEST_EPOCH_MS + 50 * DAY_MS);
	env->now += DAY_MS;
	assert_int_equal(test_balance(env, "alice", "karma").available, 0);
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_int_equal(settled, 1);
	loyal_balance balance = test_balance(env, "alice", "karma");
	assert_int_equal(balance.expired, 15);
	assert_verified(env);
}

static void test_ledger__pending_points_activate_when_due(void **state)
{
	test_env *env = *state;
	loyal_posting posting = test_posting("alice", "points", 300, "order-9");
	posting.pending_ms = 30 * DAY_MS;
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, NULL));
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.pending, 300);
	assert_int_equal(balance.available, 0);
	assert_rc(env->db, LOYAL_EINSUFFICIENT,
		  loyal_ledger_debit(env->db, &(loyal_posting){.version = LOYAL_POSTING_VERSION,
							       .member = "alice",
							       .currency = "points",
							       .amount = 1,
							       .idempotency_key = "early"},
				     NULL));
	env->now += 30 * DAY_MS;
	balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.pending, 0);
	assert_int_equal(balance.available, 300);
	debit(env, "alice", "points", 300, "late");
	assert_int_equal(test_balance(env, "alice", "points").available, 0);
	assert_verified(env);
}

static void test_ledger__reversal_voids_pending_points(void **state)
{
	test_env *env = *state;
	loyal_posting posting = test_posting("alice", "points", 300, "order-9");
	posting.pending_ms = 30 * DAY_MS;
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &posting, &result));
	env->now += 10 * DAY_MS;
	assert_int_equal(reverse(env, "alice", "points", result.txn, 0, "return-9"), 300);
	env->now += 30 * DAY_MS;
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.pending, 0);
	assert_int_equal(balance.available, 0);
	assert_int_equal(balance.earned, 0);
	assert_verified(env);
}

static void test_ledger__hold_then_capture(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 500, "earn");
	loyal_posting hold = test_posting("alice", "points", 200, "hold");
	hold.deadline = env->now + DAY_MS;
	loyal_result held = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, &held));
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, 300);
	assert_int_equal(balance.held, 200);
	loyal_posting capture = test_posting("alice", "points", 150, "capture");
	capture.txn = held.txn;
	assert_ok(env->db, loyal_ledger_capture(env->db, &capture, NULL));
	balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.held, 0);
	assert_int_equal(balance.available, 350); /* the 50 not captured came back */
	assert_int_equal(balance.spent, 150);
	capture.idempotency_key = "capture-again";
	assert_rc(env->db, LOYAL_ESTATE, loyal_ledger_capture(env->db, &capture, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "captured"));
	assert_verified(env);
}

static void test_ledger__hold_then_release_restores_lots(void **state)
{
	test_env *env = *state;
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 10 * DAY_MS, "soon");
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 50 * DAY_MS, "late");
	loyal_posting hold = test_posting("alice", "points", 150, "hold");
	hold.deadline = env->now + DAY_MS;
	loyal_result held = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, &held));
	char remainders[64];
	lot_remainders(env, "alice", "points", remainders, sizeof remainders);
	assert_string_equal(remainders, "0,50");
	loyal_posting release = test_posting("alice", "points", 0, "release");
	release.txn = held.txn;
	assert_ok(env->db, loyal_ledger_release(env->db, &release, NULL));
	lot_remainders(env, "alice", "points", remainders, sizeof remainders);
	assert_string_equal(remainders, "100,100");
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, 200);
	assert_int_equal(balance.held, 0);
	assert_verified(env);
}

static void test_ledger__hold_past_its_deadline_is_released(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 100, "earn");
	loyal_posting hold = test_posting("alice", "points", 60, "hold");
	hold.deadline = env->now + 3600000;
	loyal_result held = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, &held));
	env->now += 2 * 3600000;
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.held, 0);
	assert_int_equal(balance.available, 100);
	loyal_posting capture = test_posting("alice", "points", 0, "capture-late");
	capture.txn = held.txn;
	assert_rc(env->db, LOYAL_ESTATE, loyal_ledger_capture(env->db, &capture, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "deadline"));
	assert_int_equal(test_balance(env, "alice", "points").available, 100);
	assert_verified(env);
}

static void test_ledger__partial_and_full_reversal_with_negative_policy(void **state)
{
	test_env *env = *state;
	int64_t order = credit(env, "alice", "points", 100, "order");
	debit(env, "alice", "points", 80, "spend");
	/* 20 are left; returning half the order takes back 50: the balance goes to -30. */
	assert_int_equal(reverse(env, "alice", "points", order, 50, "return-half"), 50);
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, -30);
	assert_int_equal(balance.earned, 50);
	assert_int_equal(reverse(env, "alice", "points", order, 0, "return-rest"), 50);
	assert_int_equal(test_balance(env, "alice", "points").available, -80);
	loyal_posting again = test_posting("alice", "points", 0, "return-more");
	again.txn = order;
	assert_rc(env->db, LOYAL_ESTATE, loyal_ledger_reverse(env->db, &again, NULL));
	/* Later earnings repay the debt first. */
	credit(env, "alice", "points", 100, "next-order");
	balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, 20);
	char remainders[64];
	lot_remainders(env, "alice", "points", remainders, sizeof remainders);
	assert_string_equal(remainders, "0,20");
	assert_verified(env);
}

static void test_ledger__reversal_with_zero_policy_stops_at_zero(void **state)
{
	test_env *env = *state;
	int64_t order = credit(env, "alice", "coins", 100, "order");
	credit(env, "alice", "coins", 10, "bonus");
	debit(env, "alice", "coins", 95, "spend");
	/* 15 are left: the lot of the order has 5 (the older lots go first... both expire at
	 * the same instant, so the order's lot, older, was spent first). */
	assert_int_equal(reverse(env, "alice", "coins", order, 0, "return"), 15);
	loyal_balance balance = test_balance(env, "alice", "coins");
	assert_int_equal(balance.available, 0);
	/* Earned drops by what was taken back (15), not by what was asked (100): the books add
	 * up, earned - spent - expired = available. */
	assert_int_equal(balance.earned, 110 - 15);
	assert_int_equal(balance.earned - balance.spent - balance.expired, balance.available);
	assert_verified(env);
}

static void test_ledger__pending_only_policy_leaves_active_points(void **state)
{
	test_env *env = *state;
	int64_t active = credit(env, "alice", "miles", 100, "flight");
	assert_int_equal(reverse(env, "alice", "miles", active, 0, "refund"), 0);
	assert_int_equal(test_balance(env, "alice", "miles").available, 100);
	assert_int_equal(test_balance(env, "alice", "miles").earned, 100); /* nothing was taken */
	loyal_posting pending = test_posting("alice", "miles", 40, "flight-2");
	pending.pending_ms = DAY_MS;
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &pending, &result));
	assert_int_equal(reverse(env, "alice", "miles", result.txn, 0, "refund-2"), 40);
	loyal_balance balance = test_balance(env, "alice", "miles");
	assert_int_equal(balance.pending, 0);
	assert_int_equal(balance.available, 100);
	assert_verified(env);
}

static void test_ledger__refund_of_a_debit_returns_points_to_their_lots(void **state)
{
	test_env *env = *state;
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 10 * DAY_MS, "soon");
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 50 * DAY_MS, "late");
	int64_t spend = debit(env, "alice", "points", 150, "spend");
	assert_int_equal(reverse(env, "alice", "points", spend, 30, "refund-1"), 30);
	char remainders[64];
	lot_remainders(env, "alice", "points", remainders, sizeof remainders);
	assert_string_equal(remainders, "0,80");
	assert_int_equal(reverse(env, "alice", "points", spend, 0, "refund-2"), 120);
	lot_remainders(env, "alice", "points", remainders, sizeof remainders);
	assert_string_equal(remainders, "100,100");
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, 200);
	assert_int_equal(balance.spent, 0);
	assert_verified(env);
}

static void test_ledger__capture_can_be_refunded(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 100, "earn");
	loyal_posting hold = test_posting("alice", "points", 80, "hold");
	hold.deadline = env->now + DAY_MS;
	loyal_result held = LOYAL_RESULT_INIT, captured = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, &held));
	loyal_posting capture = test_posting("alice", "points", 60, "capture");
	capture.txn = held.txn;
	assert_ok(env->db, loyal_ledger_capture(env->db, &capture, &captured));
	assert_int_equal(reverse(env, "alice", "points", captured.txn, 0, "refund"), 60);
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.available, 100);
	assert_int_equal(balance.spent, 0);
	assert_verified(env);
}

static void test_ledger__gift_moves_points_with_their_expiry(void **state)
{
	test_env *env = *state;
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + 10 * DAY_MS, "soon");
	credit(env, "alice", "points", 100, "later");
	loyal_posting gift = test_posting("alice", "points", 150, "gift");
	gift.to_member = "bob";
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_transfer(env->db, &gift, &result));
	assert_int_equal(test_balance(env, "alice", "points").available, 50);
	loyal_balance bob = test_balance(env, "bob", "points");
	assert_int_equal(bob.available, 150);
	assert_int_equal(bob.next_expiry_at, TEST_EPOCH_MS + 10 * DAY_MS);
	assert_int_equal(bob.next_expiry_amount, 100);
	char *json = NULL;
	assert_ok(env->db, loyal_ledger_transaction(env->db, result.txn, &json));
	char expected[64];
	snprintf(expected, sizeof expected, "\"counterpart\":%lld", (long long)result.txn + 1);
	assert_non_null(strstr(json, expected));
	loyal_free(json);
	gift.idempotency_key = "self";
	gift.to_member = "alice";
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_transfer(env->db, &gift, NULL));
	gift.idempotency_key = "xp";
	gift.to_member = "bob";
	gift.currency = "xp";
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_transfer(env->db, &gift, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "earn-only"));
	assert_verified(env);
}

static void test_ledger__adjustments_need_a_reason(void **state)
{
	test_env *env = *state;
	loyal_posting adjust = test_posting("alice", "points", 25, "goodwill");
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_adjust(env->db, &adjust, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "posting.reason"));
	adjust.reason = "goodwill after a support ticket";
	assert_ok(env->db, loyal_ledger_adjust(env->db, &adjust, NULL));
	adjust.amount = -10;
	adjust.idempotency_key = "correction";
	assert_ok(env->db, loyal_ledger_adjust(env->db, &adjust, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 15);
	adjust.amount = -100;
	adjust.idempotency_key = "too-much";
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_adjust(env->db, &adjust, NULL));
	assert_verified(env);
}

static void test_ledger__earn_only_currency_cannot_be_spent(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "xp", 50, "xp");
	loyal_posting spend = test_posting("alice", "xp", 10, "spend-xp");
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_debit(env->db, &spend, NULL));
	spend.deadline = env->now + DAY_MS;
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_hold(env->db, &spend, NULL));
	assert_int_equal(test_balance(env, "alice", "xp").available, 50);
}

static void test_ledger__overflowing_balance_is_refused(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", INT64_MAX, "huge");
	loyal_posting more = test_posting("alice", "points", 1, "one-more");
	assert_rc(env->db, LOYAL_EOVERFLOW, loyal_ledger_credit(env->db, &more, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, INT64_MAX);
	loyal_posting adjust = test_posting("alice", "points", INT64_MIN, "min");
	adjust.reason = "test";
	assert_rc(env->db, LOYAL_EOVERFLOW, loyal_ledger_adjust(env->db, &adjust, NULL));
	assert_verified(env);
}

static void test_ledger__blocked_member_neither_earns_nor_spends(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 100, "earn");
	assert_ok(env->db, loyal_member_block(env->db, "alice"));
	loyal_posting earn = test_posting("alice", "points", 10, "earn-blocked");
	assert_rc(env->db, LOYAL_EBLOCKED, loyal_ledger_credit(env->db, &earn, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "alice"));
	loyal_posting spend = test_posting("alice", "points", 10, "spend-blocked");
	assert_rc(env->db, LOYAL_EBLOCKED, loyal_ledger_debit(env->db, &spend, NULL));
	loyal_posting gift = test_posting("bob", "points", 0, "unused");
	(void)gift;
	assert_ok(env->db, loyal_member_unblock(env->db, "alice"));
	/* The refusals stay refused under their keys; a new key works. */
	assert_rc(env->db, LOYAL_EBLOCKED, loyal_ledger_credit(env->db, &earn, NULL));
	credit(env, "alice", "points", 10, "earn-again");
	assert_int_equal(test_balance(env, "alice", "points").available, 110);
	assert_verified(env);
}

static void test_ledger__unknown_currency_and_member_are_not_found(void **state)
{
	test_env *env = *state;
	loyal_posting posting = test_posting("alice", "doubloons", 10, "k");
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_ledger_credit(env->db, &posting, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "doubloons"));
	posting.currency = "points";
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_ledger_debit(env->db, &posting, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "alice"));
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_ledger_balance(env->db, "alice", "points", 0, &balance));
	/* Nothing was recorded: the same key may now be used. */
	credit(env, "alice", "points", 10, "k");
}

static void test_ledger__bad_postings_change_nothing(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 100, "earn");
	struct {
		loyal_posting posting;
		const char *message;
	} cases[] = {
		{test_posting(NULL, "points", 10, "a"), "posting.member is NULL"},
		{test_posting("", "points", 10, "a"), "posting.member is empty"},
		{test_posting("\xff\xfe", "points", 10, "a"), "not valid UTF-8"},
		{test_posting("alice", NULL, 10, "a"), "posting.currency"},
		{test_posting("alice", "points", 10, NULL), "idempotency_key is NULL"},
		{test_posting("alice", "points", 0, "a"), "positive amount"},
		{test_posting("alice", "points", -5, "a"), "positive amount"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_rc(env->db, LOYAL_EINVAL,
			  loyal_ledger_credit(env->db, &cases[i].posting, NULL));
		if (!strstr(loyal_errmsg(env->db), cases[i].message))
			print_error("case %zu: '%s'\n", i, loyal_errmsg(env->db));
		assert_non_null(strstr(loyal_errmsg(env->db), cases[i].message));
	}
	loyal_posting posting = test_posting("alice", "points", 10, "b");
	posting.version = 7;
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, &posting, NULL));
	posting.version = LOYAL_POSTING_VERSION;
	posting.deadline = env->now + DAY_MS;
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, &posting, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "deadline does not apply to a credit"));
	posting.deadline = 0;
	posting.at = TEST_EPOCH_MS + 2 * DAY_MS; /* the env's clock stands at TEST_EPOCH_MS */
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, &posting, NULL));
	assert_string_equal(loyal_errmsg(env->db),
			    "posting.at (1767398400000, 2026-01-03T00:00:00Z) is in the future; it "
			    "may be at most a day ahead of the clock (2026-01-01T00:00:00Z)");
	posting.at = 0;
	posting.expires_at = env->now - 1;
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, &posting, NULL));
	posting.expires_at = 0;
	char long_key[300];
	memset(long_key, 'k', sizeof long_key - 1);
	long_key[sizeof long_key - 1] = '\0';
	posting.idempotency_key = long_key;
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, &posting, NULL));
	posting.idempotency_key = "b";
	loyal_result stale = {.version = 99};
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, &posting, &stale));
	assert_int_equal(loyal_ledger_credit(NULL, &posting, NULL), LOYAL_EINVAL);
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_credit(env->db, NULL, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 100);
	assert_int_equal(test_statement_length(env, "alice"), 1);
	assert_verified(env);
}

static void test_ledger__statement_pages_newest_first(void **state)
{
	test_env *env = *state;
	int64_t first = credit(env, "alice", "points", 1, "a");
	credit(env, "alice", "xp", 2, "b");
	int64_t third = credit(env, "alice", "points", 3, "c");
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_ledger_statement(env->db, "alice", "points", 0, &cursor));
	const char *row = NULL;
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"amount\":3"));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"amount\":1"));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_null(row);
	loyal_cursor_free(cursor);
	/* Paging: the rows after a row already seen. */
	assert_ok(env->db, loyal_ledger_statement(env->db, "alice", NULL, third, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(strstr(row, "\"currency\":\"xp\""));
	loyal_cursor_free(cursor);
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_ledger_statement(env->db, "bob", NULL, 0, &cursor));
	credit(env, "bob", "points", 1, "a");
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_ledger_statement(env->db, "bob", NULL, first, &cursor));
	assert_null(cursor);
}

static void test_ledger__cursor_outlives_its_handle_safely(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 1, "a");
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_ledger_statement(env->db, "alice", NULL, 0, &cursor));
	assert_int_equal(loyal_close(env->db), LOYAL_OK);
	env->db = NULL;
	const char *row = "unchanged";
	assert_int_equal(loyal_cursor_next(cursor, &row), LOYAL_EMISUSE);
	assert_null(row);
	loyal_cursor_free(cursor);
	loyal_cursor_free(NULL);
}

static void test_ledger__transaction_and_explain_tell_the_story(void **state)
{
	test_env *env = *state;
	int64_t earn = credit(env, "alice", "points", 100, "earn");
	int64_t spend = debit(env, "alice", "points", 30, "spend");
	char *json = NULL;
	assert_ok(env->db, loyal_ledger_transaction(env->db, spend, &json));
	assert_non_null(strstr(json, "\"from\":\"alice:available\""));
	assert_non_null(strstr(json, "\"to\":\"system:redeemed\""));
	assert_non_null(strstr(json, "\"kind\":\"consume\""));
	loyal_free(json);
	assert_ok(env->db, loyal_ledger_explain(env->db, "alice", "points", &json));
	char expected[96];
	snprintf(expected, sizeof expected, "{\"amount\":-30,\"at\":%lld,\"kind\":\"consume\",\"txn\":%lld}",
		 (long long)env->now, (long long)spend);
	assert_non_null(strstr(json, expected));
	snprintf(expected, sizeof expected, "\"txn\":%lld", (long long)earn);
	assert_non_null(strstr(json, expected));
	loyal_free(json);
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_ledger_transaction(env->db, 999, &json));
	assert_null(json);
}

static void test_ledger__expiring_lists_soonest_first(void **state)
{
	test_env *env = *state;
	credit_expiring(env, "alice", 10, TEST_EPOCH_MS + 5 * DAY_MS, "a");
	credit_expiring(env, "alice", 20, TEST_EPOCH_MS + 5 * DAY_MS, "b");
	credit_expiring(env, "alice", 30, TEST_EPOCH_MS + 9 * DAY_MS, "c");
	char *json = NULL;
	assert_ok(env->db, loyal_ledger_expiring(env->db, "alice", "points", 10, &json));
	char expected[128];
	snprintf(expected, sizeof expected,
		 "[{\"amount\":30,\"expires_at\":%lld},{\"amount\":30,\"expires_at\":%lld}]",
		 (long long)(TEST_EPOCH_MS + 5 * DAY_MS), (long long)(TEST_EPOCH_MS + 9 * DAY_MS));
	assert_string_equal(json, expected);
	loyal_free(json);
	assert_rc(env->db, LOYAL_EINVAL, loyal_ledger_expiring(env->db, "alice", "points", 0, &json));
}

static void assert_read_at(test_env *env, int64_t at, int64_t available, int64_t expired,
			   int64_t next_expiry_at, int64_t next_expiry_amount)
{
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_ok(env->db, loyal_ledger_balance(env->db, "alice", "points", at, &balance));
	assert_int_equal(balance.available, available);
	assert_int_equal(balance.expired, expired);
	assert_int_equal(balance.next_expiry_at, next_expiry_at);
	assert_int_equal(balance.next_expiry_amount, next_expiry_amount);
}

static void test_ledger__reads_past_expiry_dates_settle_in_memory(void **state)
{
	test_env *env = *state;
	int64_t day5 = TEST_EPOCH_MS + 5 * DAY_MS, day9 = TEST_EPOCH_MS + 9 * DAY_MS,
		day12 = TEST_EPOCH_MS + 12 * DAY_MS;
	credit_expiring(env, "alice", 10, day5, "a");
	credit_expiring(env, "alice", 20, day9, "b");
	credit_expiring(env, "alice", 30, day12, "c");
	assert_read_at(env, day9, 30, 30, day12, 30);
	assert_read_at(env, day5, 50, 10, day9, 20);
	assert_read_at(env, day12, 0, 60, 0, 0);
	/* Reads write nothing: earlier, every lot is still there. */
	assert_read_at(env, day5 - 1, 60, 0, day5, 10);
	env->now = day9;
	char *json = NULL;
	assert_ok(env->db, loyal_ledger_expiring(env->db, "alice", "points", 10, &json));
	char expected[64];
	snprintf(expected, sizeof expected, "[{\"amount\":30,\"expires_at\":%lld}]",
		 (long long)day12);
	assert_string_equal(json, expected);
	loyal_free(json);
	assert_verified(env);
}

/* A read that settled from only the lots due cannot then load every lot: that would bring back
 * the lots it expired in memory. */
static void test_ledger__a_partly_loaded_account_refuses_to_load_every_lot(void **state)
{
	test_env *env = *state;
	loyal_db *db = env->db;
	credit_expiring(env, "alice", 10, TEST_EPOCH_MS + 5 * DAY_MS, "a");
	credit_expiring(env, "alice", 20, TEST_EPOCH_MS + 9 * DAY_MS, "b");
	member_row member;
	bool found = false;
	const currency_def *points = NULL;
	assert_ok(db, ly_store_read_begin(db->store));
	assert_ok(db, ly_store_member_find(db->store, "alice", &member, &found));
	assert_true(found);
	assert_ok(db, ly_program_currency(db, "points", &points));
	account acc;
	assert_ok(db, ly_account_load(db, &member, points, true, &acc));
	assert_ok(db, ly_account_settle(&acc, TEST_EPOCH_MS + 5 * DAY_MS, NULL));
	assert_true(acc.lots_partial);
	assert_int_equal(acc.lots.count, 1);
	assert_int_equal(acc.balance.available, 20);
	assert_rc(db, LOYAL_EINTERNAL, ly_account_ensure_lots(&acc));
	assert_non_null(strstr(loyal_errmsg(db), "loaded again"));
	assert_int_equal(acc.balance.available, 20);
	ly_account_release(&acc);
	ly_store_read_end(db->store);
}

/* A back-dated debit meets the account as it stands now, swept or not: both agree. */
static void backdated_debit_after_expiry(test_env *env, bool sweep_first)
{
	credit_expiring(env, "alice", 100, TEST_EPOCH_MS + DAY_MS, "earn"); /* at T0 */
	env->now = TEST_EPOCH_MS + 3 * DAY_MS;
	if (sweep_first)
		assert_ok(env->db, loyal_expire(env->db, 0, NULL));
	loyal_posting spend = test_posting("alice", "points", 50, "late-spend");
	spend.at = TEST_EPOCH_MS + DAY_MS / 2; /* while the points were still there */
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &spend, NULL));
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.spent, 0);
	assert_int_equal(balance.expired, 100);
	assert_int_equal(balance.available, 0);
	assert_verified(env);
}

static void test_ledger__a_backdated_debit_after_a_sweep_is_refused(void **state)
{
	backdated_debit_after_expiry(*state, true);
}

static void test_ledger__a_backdated_debit_without_a_sweep_is_refused_the_same(void **state)
{
	backdated_debit_after_expiry(*state, false);
}

static void test_ledger__batch_commits_or_rolls_back_together(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_batch_begin(env->db));
	assert_rc(env->db, LOYAL_ESTATE, loyal_batch_begin(env->db));
	credit(env, "alice", "points", 10, "a");
	credit(env, "bob", "points", 20, "b");
	loyal_posting refused = test_posting("alice", "points", 1000, "c");
	assert_rc(env->db, LOYAL_EINSUFFICIENT, loyal_ledger_debit(env->db, &refused, NULL));
	assert_ok(env->db, loyal_batch_commit(env->db));
	assert_int_equal(test_balance(env, "bob", "points").available, 20);
	assert_ok(env->db, loyal_batch_begin(env->db));
	credit(env, "carol", "points", 30, "c");
	assert_ok(env->db, loyal_batch_rollback(env->db));
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_ledger_balance(env->db, "carol", "points", 0, &balance));
	assert_rc(env->db, LOYAL_ESTATE, loyal_batch_commit(env->db));
	assert_rc(env->db, LOYAL_ESTATE, loyal_batch_rollback(env->db));
	assert_verified(env);
}

static void test_ledger__program_changed_inside_a_batch_holds_until_the_batch_ends(void **state)
{
	test_env *env = *state;
	/* TEST_PROGRAM and one more currency. */
	char with_gems[1024];
	snprintf(with_gems, sizeof with_gems, "%.*s, {\"name\": \"gems\"}]}",
		 (int)(strlen(TEST_PROGRAM) - 2), TEST_PROGRAM);
	loyal_posting gems = test_posting("alice", "gems", 5, "g1");
	assert_ok(env->db, loyal_batch_begin(env->db));
	credit(env, "alice", "points", 10, "a");
	test_apply(env, with_gems);
	assert_ok(env->db, loyal_ledger_credit(env->db, &gems, NULL));
	assert_ok(env->db, loyal_batch_rollback(env->db));
	/* The next batch sees the program as the rollback left it: no gems. */
	assert_ok(env->db, loyal_batch_begin(env->db));
	credit(env, "alice", "points", 10, "b");
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_ledger_credit(env->db, &gems, NULL));
	test_apply(env, with_gems);
	assert_ok(env->db, loyal_ledger_credit(env->db, &gems, NULL));
	assert_ok(env->db, loyal_batch_commit(env->db));
	assert_int_equal(test_balance(env, "alice", "gems").available, 5);
	assert_verified(env);
}

static void test_ledger__readonly_handle_refuses_writes(void **state)
{
	test_env *env = *state;
	credit(env, "alice", "points", 10, "a");
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = LOYAL_OPEN_READONLY;
	loyal_db *reader = NULL;
	assert_rc(reader, LOYAL_OK, loyal_open(env->path, &opts, &reader));
	loyal_posting posting = test_posting("alice", "points", 10, "b");
	assert_rc(reader, LOYAL_EREADONLY, loyal_ledger_credit(reader, &posting, NULL));
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_ok(reader, loyal_ledger_balance(reader, "alice", "points", 0, &balance));
	assert_int_equal(balance.available, 10);
	assert_int_equal(loyal_close(reader), LOYAL_OK);
}

/* Changes the file behind the library's back, as a bug or an attacker would. */
static void tamper(test_env *env, const char *sql)
{
	test_exec_file(env->path, sql);
}

static void test_ledger__verify_finds_a_changed_balance(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	credit(env, "alice", "points", 100, "a");
	tamper(env, SET_POINTS(POINTS_FIELD(0) " + 1", POINTS_FIELD(3), POINTS_FIELD(6)));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "invariant"));
}

static void test_ledger__verify_finds_a_rewritten_transaction(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	credit(env, "alice", "points", 100, "a");
	debit(env, "alice", "points", 10, "b");
	tamper(env, "UPDATE txns SET reason = 'nothing to see' WHERE kind = 2");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "hash"));
}

static void test_ledger__verify_finds_a_deleted_transaction(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	credit(env, "alice", "points", 100, "a");
	credit(env, "alice", "points", 100, "b");
	credit(env, "alice", "points", 100, "c");
	tamper(env, "DELETE FROM entries WHERE txn = 2; DELETE FROM txns WHERE id = 2;"
		    SET_POINTS("200", "200", POINTS_FIELD(6)));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_ledger__credit_then_debit_moves_balances),
		CASE(test_ledger__spend_consumes_soonest_expiring_lot_first),
		CASE(test_ledger__debit_beyond_balance_is_insufficient_and_sticky),
		CASE(test_ledger__retry_with_same_key_changes_nothing),
		CASE(test_ledger__same_key_for_another_request_is_a_conflict),
		CASE(test_ledger__calendar_end_expiry),
		CASE(test_ledger__expiry_sweep_walks_every_due_account),
		CASE(test_ledger__expiry_sweep_sees_a_lowered_due_bound),
		CASE(test_ledger__other_expiry_policies),
		CASE(test_ledger__inactivity_expires_the_whole_balance),
		CASE(test_ledger__pending_points_activate_when_due),
		CASE(test_ledger__reversal_voids_pending_points),
		CASE(test_ledger__hold_then_capture),
		CASE(test_ledger__hold_then_release_restores_lots),
		CASE(test_ledger__hold_past_its_deadline_is_released),
		CASE(test_ledger__partial_and_full_reversal_with_negative_policy),
		CASE(test_ledger__reversal_with_zero_policy_stops_at_zero),
		CASE(test_ledger__pending_only_policy_leaves_active_points),
		CASE(test_ledger__refund_of_a_debit_returns_points_to_their_lots),
		CASE(test_ledger__capture_can_be_refunded),
		CASE(test_ledger__gift_moves_points_with_their_expiry),
		CASE(test_ledger__adjustments_need_a_reason),
		CASE(test_ledger__earn_only_currency_cannot_be_spent),
		CASE(test_ledger__overflowing_balance_is_refused),
		CASE(test_ledger__blocked_member_neither_earns_nor_spends),
		CASE(test_ledger__unknown_currency_and_member_are_not_found),
		CASE(test_ledger__bad_postings_change_nothing),
		CASE(test_ledger__statement_pages_newest_first),
		CASE(test_ledger__cursor_outlives_its_handle_safely),
		CASE(test_ledger__transaction_and_explain_tell_the_story),
		CASE(test_ledger__expiring_lists_soonest_first),
		CASE(test_ledger__reads_past_expiry_dates_settle_in_memory),
		CASE(test_ledger__a_partly_loaded_account_refuses_to_load_every_lot),
		CASE(test_ledger__a_backdated_debit_after_a_sweep_is_refused),
		CASE(test_ledger__a_backdated_debit_without_a_sweep_is_refused_the_same),
		CASE(test_ledger__batch_commits_or_rolls_back_together),
		CASE(test_ledger__program_changed_inside_a_batch_holds_until_the_batch_ends),
		CASE(test_ledger__readonly_handle_refuses_writes),
		CASE(test_ledger__verify_finds_a_changed_balance),
		CASE(test_ledger__verify_finds_a_rewritten_transaction),
		CASE(test_ledger__verify_finds_a_deleted_transaction),
		CASE(test_ledger__a_dry_run_predicts_the_result_and_writes_nothing),
		CASE(test_ledger__a_posting_of_version_1_is_still_taken),
#undef CASE
	};
	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
