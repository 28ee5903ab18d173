/* test_events.c - tracking events through earning rules: amounts, caps, referrals, campaign
 * windows, first-time bonuses, pending points, reversals, bad input, and criteria over real
 * history. */
#include "support.h"

#include "engine/handle.h"


#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS INT64_C(3600000)

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 365}},"
	"  {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": ["
	"  {\"name\": \"purchase\", \"event\": \"purchase\", \"condition\": \"event.amount > 0\","
	"   \"award\": {\"points\": \"floor(event.amount) * tier.multiplier\","
	"              \"xp\": \"floor(event.amount)\"}},"
	"  {\"name\": \"double-weekend\", \"event\": \"purchase\","
	"   \"award\": {\"points\": \"floor(event.amount)\"},"
	"   \"active\": {\"from\": \"2026-01-03T00:00:00Z\", \"until\": \"2026-01-05T00:00:00Z\"}},"
	"  {\"name\": \"check-in\", \"event\": \"check_in\", \"award\": {\"points\": \"10\"},"
	"   \"caps\": [{\"per\": \"day\", \"awards\": 1}]},"
	"  {\"name\": \"invitee\", \"event\": \"invite_accepted\", \"award\": {\"points\": \"50\"}},"
	"  {\"name\": \"referrer\", \"event\": \"invite_accepted\", \"recipient\": \"event.referrer\","
	"   \"award\": {\"points\": \"100\"}, \"caps\": [{\"per\": \"month\", \"points\": 250}]},"
	"  {\"name\": \"welcome\", \"event\": \"signup\", \"first_time\": true,"
	"   \"award\": {\"points\": \"200\"}},"
	"  {\"name\": \"review\", \"event\": \"review\", \"pending_days\": 30,"
	"   \"award\": {\"points\": \"25\"}}]}";

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static loyal_event event_of(const char *member, const char *type, const char *key,
			    const char *properties)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = type;
	event.idempotency_key = key;
	event.properties = properties;
	return event;
}

/* Tracks an event with flags, asserting success; returns the outcome (the caller frees it). */
static char *track_flagged(test_env *env, const char *member, const char *type, const char *key,
			   const char *properties, unsigned int flags)
{
	loyal_event event = event_of(member, type, key, properties);
	event.flags = flags;
	char *outcome = NULL;
	assert_ok(env->db, loyal_track(env->db, &event, &outcome));
	assert_non_null(outcome);
	return outcome;
}

static char *track(test_env *env, const char *member, const char *type, const char *key,
		   const char *properties)
{
	return track_flagged(env, member, type, key, properties, 0);
}

static void assert_contains(const char *text, const char *part)
{
	if (!strstr(text, part))
		print_error("'%s' lacks '%s'\n", text, part);
	assert_non_null(strstr(text, part));
}

static int64_t available(test_env *env, const char *member, const char *currency)
{
	return test_balance(env, member, currency).available;
}

static void test_events__purchase_earns_floor_of_amount_times_multiplier(void **state)
{
	test_env *env = *state;
	char *outcome = track(env, "alice", "purchase", "order-1", "{\"amount\": 19.99}");
	assert_contains(outcome, "\"rule\":\"purchase\"");
	assert_contains(outcome, "\"amount\":19");
	assert_contains(outcome, "\"replayed\":false");
	assert_contains(outcome, "\"rule_version\":1");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 19);
	assert_int_equal(available(env, "alice", "xp"), 19);
	outcome = track(env, "alice", "purchase", "order-2", "{\"amount\": 0}");
	assert_contains(outcome, "{\"rule\":\"purchase\",\"reason\":\"condition\"}");
	loyal_free(outcome);
	assert_ok(env->db, loyal_verify(env->db));
}

static char *dry_track(test_env *env, const char *member, const char *type, const char *key,
		       const char *properties)
{
	return track_flagged(env, member, type, key, properties, LOYAL_DRY_RUN);
}

/* Asserts that a dry run's outcome (freed) is the real call's (freed) but for its mark. On
 * PostgreSQL, whose sequences a rollback does not wind back, the ids the real call took may
 * be later ones: they are left out there. */
static void assert_predicted(char *dry, char *real)
{
	json_t *predicted = test_json(dry), *actual = test_json(real);
	assert_true(json_is_true(json_object_get(predicted, "dry_run")));
	json_object_del(predicted, "dry_run");
	json_t *outcomes[] = {predicted, actual};
	for (size_t i = 0; test_on_postgres() && i < 2; i++) {
		json_object_del(outcomes[i], "event");
		size_t k;
		json_t *posting;
		json_array_foreach(json_object_get(outcomes[i], "postings"), k, posting)
			json_object_del(posting, "txn");
	}
	assert_true(json_equal(predicted, actual));
	json_decref(predicted);
	json_decref(actual);
}

static void test_events__a_dry_run_predicts_the_outcome_and_writes_nothing(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "bob", "purchase", "bob-1", "{\"amount\": 10}"));
	int statement = test_statement_length(env, "bob");
	/* A new member: the dry run creates no one, records no key, moves no counter. */
	char *dry = dry_track(env, "alice", "signup", "s1", NULL);
	assert_contains(dry, "\"dry_run\":true");
	assert_contains(dry, "\"rule\":\"welcome\"");
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_get(env->db, "alice", &json));
	assert_predicted(dry, track(env, "alice", "signup", "s1", NULL));
	/* first_time sees the real signup now: a dry run of a second one awards nothing. */
	dry = dry_track(env, "alice", "signup", "s2", NULL);
	assert_contains(dry, "\"reason\":\"first_time\"");
	loyal_free(dry);
	/* A capped rule: two dry runs both predict the award, the real call still gets it. */
	loyal_free(dry_track(env, "bob", "check_in", "c1", NULL));
	dry = dry_track(env, "bob", "check_in", "c1", NULL);
	assert_contains(dry, "\"rule\":\"check-in\",\"rule_version\":1");
	assert_predicted(dry, track(env, "bob", "check_in", "c1", NULL));
	/* A key already used: the dry run replays the recorded outcome. */
	dry = dry_track(env, "bob", "check_in", "c1", NULL);
	assert_contains(dry, "\"replayed\":true,\"dry_run\":true");
	loyal_free(dry);
	assert_int_equal(test_statement_length(env, "bob"), statement + 1);
	assert_int_equal(available(env, "alice", "points"), 200);
	assert_int_equal(available(env, "bob", "points"), 20);
	/* Refusals are the real call's: a conflict, an unknown flag. */
	loyal_event conflict = LOYAL_EVENT_INIT;
	conflict.member = "bob";
	conflict.type = "purchase";
	conflict.idempotency_key = "bob-1";
	conflict.properties = "{\"amount\": 11}";
	conflict.flags = LOYAL_DRY_RUN;
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_track(env->db, &conflict, NULL));
	conflict.flags = 0x8;
	assert_rc(env->db, LOYAL_EINVAL, loyal_track(env->db, &conflict, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "event.flags"));
	/* Inside a batch, a dry run undoes only itself. */
	assert_ok(env->db, loyal_batch_begin(env->db));
	loyal_free(track(env, "carol", "purchase", "k1", "{\"amount\": 5}"));
	loyal_free(dry_track(env, "carol", "purchase", "k2", "{\"amount\": 7}"));
	assert_ok(env->db, loyal_batch_commit(env->db));
	assert_int_equal(available(env, "carol", "points"), 5);
	assert_ok(env->db, loyal_verify(env->db));
}

/* Tracks an event without asserting; returns its code. */
static int try_track(test_env *env, const char *member, const char *type, const char *key,
		     const char *properties)
{
	loyal_event event = event_of(member, type, key, properties);
	return loyal_track(env->db, &event, NULL);
}

static void test_events__refused_events_in_a_batch_write_nothing_and_the_batch_goes_on(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "dave", "purchase", "d1", "{\"amount\": 5}"));
	assert_ok(env->db, loyal_member_block(env->db, "dave"));
	test_apply(env, "{\"events\": [\"purchase\", \"check_in\", \"signup\", \"invite_accepted\","
			" \"review\"], \"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\":"
			" 365}}, {\"name\": \"xp\", \"spendable\": false}], \"rules\": [{\"name\":"
			" \"purchase\", \"event\": \"purchase\", \"award\": {\"points\":"
			" \"floor(event.amount)\"}}]}");
	int statement = test_statement_length(env, "dave");
	assert_ok(env->db, loyal_batch_begin(env->db));
	loyal_free(track(env, "alice", "purchase", "a1", "{\"amount\": 10}"));
	/* A blocked member, an undeclared type (for a known and a new member), a reused key:
	 * each refused, writing nothing, the batch going on. */
	assert_rc(env->db, LOYAL_EBLOCKED, try_track(env, "dave", "purchase", "d2", "{\"amount\": 1}"));
	assert_rc(env->db, LOYAL_EINVAL, try_track(env, "alice", "post", "a2", NULL));
	assert_rc(env->db, LOYAL_EINVAL, try_track(env, "carol", "post", "c1", NULL));
	assert_rc(env->db, LOYAL_ECONFLICT, try_track(env, "alice", "purchase", "a1", "{\"amount\": 11}"));
	/* A retry of a recorded event replays, even for a member blocked since. */
	char *again = track(env, "dave", "purchase", "d1", "{\"amount\": 5}");
	assert_contains(again, "\"replayed\":true");
	loyal_free(again);
	loyal_free(track(env, "alice", "purchase", "a3", "{\"amount\": 20}"));
	assert_ok(env->db, loyal_batch_commit(env->db));
	char *json = NULL;
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_member_get(env->db, "carol", &json));
	assert_int_equal(available(env, "alice", "points"), 30);
	assert_int_equal(test_statement_length(env, "dave"), statement);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_events__an_event_of_version_1_is_still_taken(void **state)
{
	test_env *env = *state;
	struct { /* loyal_event as version 1 laid it out, without flags */
		unsigned int version;
		const char *member, *type, *idempotency_key;
		int64_t at;
		const char *properties;
	} old = {1, "alice", "purchase", "v1", 0, "{\"amount\": 3}"};
	char *outcome = NULL;
	assert_ok(env->db, loyal_track(env->db, (const loyal_event *)(void *)&old, &outcome));
	assert_null(strstr(outcome, "dry_run"));
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 3);
	old.version = 3;
	assert_rc(env->db, LOYAL_EINVAL, loyal_track(env->db, (const loyal_event *)(void *)&old, NULL));
}

static void test_events__same_event_twice_changes_nothing(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "alice", "purchase", "order-1", "{\"amount\": 50}"));
	char *again = track(env, "alice", "purchase", "order-1", "{\"amount\": 50}");
	assert_contains(again, "\"replayed\":true");
	assert_contains(again, "\"amount\":50");
	loyal_free(again);
	assert_int_equal(available(env, "alice", "points"), 50);
	loyal_event changed = LOYAL_EVENT_INIT;
	changed.member = "alice";
	changed.type = "purchase";
	changed.idempotency_key = "order-1";
	changed.properties = "{\"amount\": 60}";
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_track(env->db, &changed, NULL));
	assert_int_equal(available(env, "alice", "points"), 50);
}

static void test_events__daily_check_in_is_capped_at_one_award(void **state)
{
	test_env *env = *state;
	env->now = TEST_EPOCH_MS + 9 * HOUR_MS;
	loyal_free(track(env, "alice", "check_in", "c1", NULL));
	env->now += HOUR_MS;
	char *outcome = track(env, "alice", "check_in", "c2", NULL);
	assert_contains(outcome, "{\"rule\":\"check-in\",\"reason\":\"cap\"}");
	loyal_free(outcome);
	env->now += DAY_MS;
	loyal_free(track(env, "alice", "check_in", "c3", NULL));
	assert_int_equal(available(env, "alice", "points"), 20);
}

/* A rule counts its awards and points only while it has a cap of that kind: a cap added to a
 * running rule counts what the rule gives from then on. */
static void test_events__a_cap_added_later_counts_from_then_on(void **state)
{
	test_env *env = *state;
	env->now = TEST_EPOCH_MS + 9 * HOUR_MS;
	loyal_free(track(env, "alice", "invite_accepted", "i1", NULL));
	loyal_free(track(env, "alice", "invite_accepted", "i2", NULL));
	assert_int_equal(available(env, "alice", "points"), 100);
	const char *uncapped = "\"award\": {\"points\": \"50\"}}";
	const char *at = strstr(PROGRAM, uncapped);
	assert_non_null(at);
	char capped[2048];
	snprintf(capped, sizeof capped, "%.*s\"award\": {\"points\": \"50\"},"
		 " \"caps\": [{\"per\": \"day\", \"awards\": 1}]}%s",
		 (int)(at - PROGRAM), PROGRAM, at + strlen(uncapped));
	assert_ok(env->db, loyal_program_apply(env->db, capped, NULL));
	env->now += HOUR_MS;
	loyal_free(track(env, "alice", "invite_accepted", "i3", NULL));
	assert_int_equal(available(env, "alice", "points"), 150);
	char *outcome = track(env, "alice", "invite_accepted", "i4", NULL);
	assert_contains(outcome, "{\"rule\":\"invitee\",\"reason\":\"cap\"}");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 150);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_events__days_follow_the_member_time_zone(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_member_set_attrs(env->db, "mei", "{\"timezone\": \"+08:00\"}"));
	/* 15:30Z and 16:30Z are the same UTC day but two days in +08:00. */
	env->now = TEST_EPOCH_MS + 15 * HOUR_MS + 30 * 60000;
	loyal_free(track(env, "mei", "check_in", "c1", NULL));
	loyal_free(track(env, "alice", "check_in", "c1", NULL));
	env->now += HOUR_MS;
	loyal_free(track(env, "mei", "check_in", "c2", NULL));
	loyal_free(track(env, "alice", "check_in", "c2", NULL));
	assert_int_equal(available(env, "mei", "points"), 20);
	assert_int_equal(available(env, "alice", "points"), 10);
}

/* What migration 11 changed, undone: older files kept a rule's counters as activity types. */
/* What migration 16 changed, undone: a lot's row kept how many points it had left, found
 * through an index of open lots. */
#define UNDO_MIGRATION_16                                                                  \
	"ALTER TABLE lots ADD COLUMN remaining INTEGER NOT NULL DEFAULT 0;"                \
	"UPDATE lots SET remaining = o.remaining FROM (SELECT j.value ->> 1 AS lot,"       \
	"  j.value ->> 2 AS remaining FROM members m, json_each(ly_lots_json(m.lots)) j)"  \
	"  AS o WHERE lots.id = o.lot;"                                                    \
	"CREATE INDEX lots_open ON lots(member, currency, expires_at, id)"                 \
	"  WHERE remaining > 0;"                                                           \
	"ALTER TABLE members DROP COLUMN lots;"

/* What migration 15 changed, undone: a tracked event's idempotency record was a row of its
 * own. */
#define UNDO_MIGRATION_15                                                                  \
	"INSERT INTO idem_records(member, key_hash, key, request, rc, txn, amount, message," \
	"  kind) SELECT e.member, ly_key_hash(e.key), e.key, e.request, 0, e.id, 0, 'ok', 1" \
	"  FROM events e WHERE e.request IS NOT NULL;"                                     \
	"UPDATE idem SET record = (SELECT r.id FROM idem_records r WHERE r.kind = 1 AND"   \
	"  r.txn = -idem.record) WHERE record < 0;"                                        \
	"ALTER TABLE events DROP COLUMN request;"

/* What migration 14 changed, undone: idempotency records were one table keyed by member and
 * key. */
#define UNDO_MIGRATION_14                                                                  \
	"CREATE TABLE idempotency(member INTEGER NOT NULL, key_hash INTEGER NOT NULL,"     \
	"  key TEXT NOT NULL, request TEXT NOT NULL, rc INTEGER NOT NULL,"                 \
	"  txn INTEGER NOT NULL, amount INTEGER NOT NULL, message TEXT NOT NULL,"          \
	"  kind INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(member, key_hash, key)) STRICT,"   \
	"  WITHOUT ROWID;"                                                                 \
	"INSERT INTO idempotency(member, key_hash, key, request, rc, txn, amount, message," \
	"  kind) SELECT member, key_hash, key, request, rc, txn, amount, message, kind"    \
	"  FROM idem_records;"                                                             \
	"DROP TABLE idem; DROP TABLE idem_collisions; DROP TABLE idem_records;"

/* What migration 13 changed, undone: balances had a table of their own. */
#define UNDO_MIGRATION_13                                                                  \
	"CREATE TABLE balances(member INTEGER NOT NULL, currency INTEGER NOT NULL,"        \
	"  available INTEGER NOT NULL, pending INTEGER NOT NULL, held INTEGER NOT NULL,"   \
	"  earned INTEGER NOT NULL, spent INTEGER NOT NULL, expired INTEGER NOT NULL,"     \
	"  due_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(member, currency)) STRICT,"      \
	"  WITHOUT ROWID;"                                                                 \
	"INSERT INTO balances SELECT m.id, c.id, ly_balance(m.balances, c.id, 0),"        \
	"  ly_balance(m.balances, c.id, 1), ly_balance(m.balances, c.id, 2),"              \
	"  ly_balance(m.balances, c.id, 3), ly_balance(m.balances, c.id, 4),"              \
	"  ly_balance(m.balances, c.id, 5), ly_balance(m.balances, c.id, 6)"               \
	"  FROM members m, currencies c WHERE ly_balance(m.balances, c.id, 0) IS NOT NULL;" \
	"CREATE INDEX balances_due ON balances(due_at);"                                   \
	"DROP INDEX members_due;"                                                          \
	"ALTER TABLE members DROP COLUMN due_at;"                                          \
	"ALTER TABLE members DROP COLUMN balances;"

/* What migration 12 changed, undone: transactions did not name the event of their rule. */
#define UNDO_MIGRATION_12 "DROP INDEX txns_event; ALTER TABLE txns DROP COLUMN event;"

#define UNDO_MIGRATION_11                                                                  \
	"INSERT INTO activity(member, type, day, count)"                                   \
	"  SELECT k.member, '@rule:' || k.rule || coalesce(':' || c.name, ''), k.day, k.count" \
	"  FROM rule_counters k LEFT JOIN currencies c ON c.id = k.currency;"            \
	"DROP TABLE rule_counters;"

/* What migration 10 changed, undone: older files had these indexes of lots. */
#define UNDO_MIGRATION_10                                                                  \
	"DROP INDEX balances_due;"                                                         \
	"CREATE INDEX lots_expiring ON lots(expires_at) WHERE remaining > 0;"              \
	"CREATE INDEX lots_pending ON lots(pending_until) WHERE pending_until > 0;"

static void test_events__time_zone_of_a_version_7_file_is_kept_by_the_migration(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	assert_ok(env->db, loyal_member_set_attrs(env->db, "mei", "{\"timezone\": \"+08:00\"}"));
	/* Version 7 kept the time zone only inside the attributes. */
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_rewrite_file(env, UNDO_MIGRATION_18 UNDO_MIGRATION_17 UNDO_MIGRATION_16
			       UNDO_MIGRATION_15 UNDO_MIGRATION_14 UNDO_MIGRATION_13
			       UNDO_MIGRATION_12 UNDO_MIGRATION_11 UNDO_MIGRATION_10
			       "ALTER TABLE members DROP COLUMN timezone;"
			       "PRAGMA user_version = 7;");
	env->now = TEST_EPOCH_MS + 15 * HOUR_MS + 30 * 60000;
	loyal_free(track(env, "mei", "check_in", "c1", NULL));
	env->now += HOUR_MS;
	loyal_free(track(env, "mei", "check_in", "c2", NULL)); /* the next day in +08:00 */
	assert_int_equal(available(env, "mei", "points"), 20);
	assert_ok(env->db, loyal_verify(env->db));
}

/* An event tracked before transactions named their event is reversed after the migration, from
 * the ledger: the stored outcome is not read (here it is emptied). */
static void test_events__events_of_a_version_11_file_are_reversed_from_the_ledger(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	loyal_free(track(env, "bob", "invite_accepted", "invite-bob", "{\"referrer\": \"alice\"}"));
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_rewrite_file(env, UNDO_MIGRATION_18 UNDO_MIGRATION_17 UNDO_MIGRATION_16
			       UNDO_MIGRATION_15 UNDO_MIGRATION_14 UNDO_MIGRATION_13
			       UNDO_MIGRATION_12 "PRAGMA user_version = 11;");
	/* Its event's key came along: a retry replays. */
	loyal_event retry = LOYAL_EVENT_INIT;
	retry.member = "bob";
	retry.type = "invite_accepted";
	retry.idempotency_key = "invite-bob";
	retry.properties = "{\"referrer\": \"alice\"}";
	char *replayed = NULL;
	assert_ok(env->db, loyal_track(env->db, &retry, &replayed));
	assert_contains(replayed, "\"replayed\":true");
	loyal_free(replayed);
	test_rewrite_file(env, "UPDATE events SET outcome = CAST('{}' AS BLOB);");
	loyal_event_reversal reversal = LOYAL_EVENT_REVERSAL_INIT;
	reversal.member = "bob";
	reversal.event_key = "invite-bob";
	reversal.idempotency_key = "undo-invite-bob";
	char *outcome = NULL;
	assert_ok(env->db, loyal_event_reverse(env->db, &reversal, &outcome));
	assert_contains(outcome, "\"member\":\"alice\"");
	assert_contains(outcome, "\"member\":\"bob\"");
	loyal_free(outcome);
	assert_int_equal(available(env, "bob", "points"), 0);
	assert_int_equal(available(env, "alice", "points"), 0);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A version 12 file's balances (pending, held, a debt, two currencies, several members) read
 * the same after the migration moves them into the member rows, and still fall due. */
static void test_events__balances_of_a_version_12_file_are_kept_by_the_migration(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	const char *members[] = {"ana", "ben", "cy"};
	int64_t earned[3];
	for (int i = 0; i < 3; i++) {
		loyal_posting p = test_posting(members[i], "points", 100 + i, "earn");
		p.expires_at = env->now + (i + 1) * DAY_MS;
		loyal_result result = LOYAL_RESULT_INIT;
		assert_ok(env->db, loyal_ledger_credit(env->db, &p, &result));
		earned[i] = result.txn;
		p = test_posting(members[i], "coins", 7, "pending");
		p.pending_ms = 2 * DAY_MS;
		assert_ok(env->db, loyal_ledger_credit(env->db, &p, NULL));
	}
	loyal_posting hold = test_posting("ana", "points", 30, "hold");
	hold.deadline = env->now + 10 * DAY_MS;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, NULL));
	loyal_posting spend = test_posting("ben", "points", 101, "spend");
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, NULL));
	loyal_posting reverse = test_posting("ben", "points", 0, "undo");
	reverse.txn = earned[1];
	assert_ok(env->db, loyal_ledger_reverse(env->db, &reverse, NULL)); /* a debt */
	loyal_balance before[3][2];
	for (int i = 0; i < 3; i++) {
		before[i][0] = test_balance(env, members[i], "points");
		before[i][1] = test_balance(env, members[i], "coins");
	}
	assert_true(before[1][0].available < 0);
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_rewrite_file(env, UNDO_MIGRATION_18 UNDO_MIGRATION_17 UNDO_MIGRATION_16
			       UNDO_MIGRATION_15 UNDO_MIGRATION_14 UNDO_MIGRATION_13
			       "PRAGMA user_version = 12;");
	/* Its idempotency keys came along: a retry replays, a reuse for another request is
	 * refused. */
	loyal_posting again = test_posting("ana", "points", 100, "earn");
	again.expires_at = env->now + DAY_MS;
	loyal_result replay = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &again, &replay));
	assert_int_equal(replay.replayed, 1);
	assert_int_equal(replay.txn, earned[0]);
	again.amount = 5;
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_ledger_credit(env->db, &again, NULL));
	for (int i = 0; i < 3; i++) {
		loyal_balance points = test_balance(env, members[i], "points");
		loyal_balance coins = test_balance(env, members[i], "coins");
		assert_memory_equal(&points, &before[i][0], sizeof points);
		assert_memory_equal(&coins, &before[i][1], sizeof coins);
	}
	assert_ok(env->db, loyal_verify(env->db));
	/* Their due instants came along: the sweep expires and activates what falls due. */
	env->now += 3 * DAY_MS;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	assert_true(settled >= 4); /* ana's and cy's points expired, everyone's coins active */
	assert_int_equal(test_balance(env, "cy", "points").expired, 102);
	assert_int_equal(test_balance(env, "ana", "coins").available, 7);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A version 15 file's lots (some spent in part or whole, one pending, one that never expires,
 * two currencies) keep what they have left when the migration moves it into the member rows:
 * spending takes the soonest-expiring first, the pending lot activates, the sweep expires what
 * falls due, a refund restores the lot it came from. */
static void test_events__lots_of_a_version_15_file_are_kept_by_the_migration(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	const int64_t expiries[] = {3 * DAY_MS, DAY_MS, 0, 2 * DAY_MS};
	for (int i = 0; i < 4; i++) {
		char key[24];
		snprintf(key, sizeof key, "earn-%d", i);
		loyal_posting p = test_posting("ana", "points", 10 * (i + 1), key);
		p.expires_at = expiries[i] ? env->now + expiries[i] : 0;
		assert_ok(env->db, loyal_ledger_credit(env->db, &p, NULL));
	}
	loyal_posting pending = test_posting("ana", "coins", 7, "pending");
	pending.pending_ms = DAY_MS;
	assert_ok(env->db, loyal_ledger_credit(env->db, &pending, NULL));
	/* 25 of 100: the 1-day lot (20) whole, 5 of the 2-day lot (40). */
	loyal_posting spend = test_posting("ana", "points", 25, "spend");
	loyal_result spent = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, &spent));
	loyal_balance points = test_balance(env, "ana", "points");
	loyal_balance coins = test_balance(env, "ana", "coins");
	int64_t open_lots = 0;
	assert_int_equal(test_pragma(env->db, "SELECT count(*) FROM json_each((SELECT"
					      " ly_lots_json(lots) FROM members))", &open_lots),
			 SQLITE_OK);
	assert_int_equal(open_lots, 4);
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_rewrite_file(env, UNDO_MIGRATION_18 UNDO_MIGRATION_17 UNDO_MIGRATION_16
			       "PRAGMA user_version = 15;");
	loyal_balance migrated = test_balance(env, "ana", "points");
	assert_memory_equal(&migrated, &points, sizeof points);
	migrated = test_balance(env, "ana", "coins");
	assert_memory_equal(&migrated, &coins, sizeof coins);
	assert_ok(env->db, loyal_verify(env->db));
	/* 40 more: the rest of the 2-day lot (35), then 5 of the 3-day lot (10). */
	spend = test_posting("ana", "points", 40, "spend-more");
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, NULL));
	/* A refund of the first spend restores the lots it took from. */
	loyal_posting refund = test_posting("ana", "points", 0, "refund");
	refund.txn = spent.txn;
	assert_ok(env->db, loyal_ledger_reverse(env->db, &refund, NULL));
	assert_ok(env->db, loyal_verify(env->db));
	/* After 2.5 days: the restored 1-day (20) and 2-day (5) lots have expired; 5 of the 3-day
	 * lot and the 30 that never expire are left; the coins are active. */
	env->now += 5 * DAY_MS / 2;
	int64_t settled = 0;
	assert_ok(env->db, loyal_expire(env->db, 0, &settled));
	points = test_balance(env, "ana", "points");
	assert_int_equal(points.expired, 25);
	assert_int_equal(points.available, 35);
	assert_int_equal(test_balance(env, "ana", "coins").available, 7);
	assert_ok(env->db, loyal_verify(env->db));
}

/* Evaluates a criteria expression for a member; returns its JSON (the caller frees it). */
static char *evaluate(test_env *env, const char *member, const char *expression)
{
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_eval(env->db, expression, member, NULL, &json));
	return json;
}

/* A version 17 file kept activity and the rules' counters as rows: after the migration the
 * windows, sums, streaks and earnings read the same, the caps still count what was given, and
 * the activity report is unchanged. */
static void test_events__activity_of_a_version_17_file_is_kept_by_the_migration(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	char key[32];
	for (int day = 0; day < 12; day++) {
		snprintf(key, sizeof key, "c%d", day);
		if (day != 4)
			loyal_free(track(env, "ana", "check_in", key, NULL));
		snprintf(key, sizeof key, "p%d", day);
		loyal_free(track(env, "ana", "purchase", key, day % 2 ? "{\"amount\": 2.5}"
									: "{\"amount\": 10}"));
		env->now += DAY_MS;
	}
	env->now -= DAY_MS;
	loyal_free(track(env, "bob", "invite_accepted", "i1", "{\"referrer\": \"ana\"}"));
	loyal_free(track(env, "cy", "invite_accepted", "i2", "{\"referrer\": \"ana\"}"));
	static const char *const expressions[] = {
		"count(check_in, 30d)", "active_days(check_in, 5d)", "sum(purchase.amount)",
		"streak(check_in, day)", "days_since(check_in)",      "earned(points, 30d)",
		"earned(xp)"};
	enum { COUNT = sizeof expressions / sizeof *expressions };
	char *before[COUNT];
	for (size_t i = 0; i < COUNT; i++)
		before[i] = evaluate(env, "ana", expressions[i]);
	char *report = NULL;
	assert_ok(env->db, loyal_report_active(env->db, "day", TEST_EPOCH_MS,
					       env->now + DAY_MS, &report));
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_rewrite_file(env, UNDO_MIGRATION_18 "PRAGMA user_version = 17;");
	for (size_t i = 0; i < COUNT; i++) {
		char *after = evaluate(env, "ana", expressions[i]);
		assert_string_equal(after, before[i]);
		loyal_free(after);
		loyal_free(before[i]);
	}
	char *migrated = NULL;
	assert_ok(env->db, loyal_report_active(env->db, "day", TEST_EPOCH_MS,
					       env->now + DAY_MS, &migrated));
	assert_string_equal(migrated, report);
	/* The referrer's monthly cap of 250 had given 200: the next award is cut to 50. */
	char *outcome = track(env, "dee", "invite_accepted", "i3", "{\"referrer\": \"ana\"}");
	assert_contains(outcome, "\"amount\":50");
	loyal_free(outcome);
	/* Today's check-in was capped before, and still is. */
	outcome = track(env, "ana", "check_in", "again", NULL);
	assert_contains(outcome, "\"reason\":\"cap\"");
	loyal_free(outcome);
	assert_ok(env->db, loyal_verify(env->db));
	loyal_free(report);
	loyal_free(migrated);
}

/* A posting whose currency the program does not define (currencies are never removed) is
 * damage: its event's reversal says so and changes nothing. */
static void test_events__reversal_of_a_posting_in_an_unknown_currency_is_corrupt(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	loyal_free(track(env, "bob", "invite_accepted", "invite-bob", "{\"referrer\": \"alice\"}"));
	test_rewrite_file(env, "UPDATE txns SET currency = 99 WHERE event <> 0");
	loyal_event_reversal reversal = LOYAL_EVENT_REVERSAL_INIT;
	reversal.member = "bob";
	reversal.event_key = "invite-bob";
	reversal.idempotency_key = "undo";
	char *outcome = NULL;
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_event_reverse(env->db, &reversal, &outcome));
	assert_null(outcome);
	assert_non_null(strstr(loyal_errmsg(env->db), "names currency #99"));
	assert_int_equal(available(env, "bob", "points"), 50);
}

static void test_events__referral_rewards_both_members(void **state)
{
	test_env *env = *state;
	char *outcome = track(env, "bob", "invite_accepted", "invite-bob",
			      "{\"referrer\": \"alice\"}");
	assert_contains(outcome, "\"member\":\"alice\"");
	assert_contains(outcome, "\"member\":\"bob\"");
	loyal_free(outcome);
	assert_int_equal(available(env, "bob", "points"), 50);
	assert_int_equal(available(env, "alice", "points"), 100);
	/* The referrer's monthly cap of 250 points: the third award is cut to 50. */
	loyal_free(track(env, "carol", "invite_accepted", "i2", "{\"referrer\": \"alice\"}"));
	loyal_free(track(env, "dave", "invite_accepted", "i3", "{\"referrer\": \"alice\"}"));
	outcome = track(env, "erin", "invite_accepted", "i4", "{\"referrer\": \"alice\"}");
	assert_contains(outcome, "{\"rule\":\"referrer\",\"reason\":\"no amount\"}");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 250);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_events__points_caps_of_a_version_8_file_are_kept_by_the_migration(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	loyal_free(track(env, "bob", "invite_accepted", "i1", "{\"referrer\": \"alice\"}"));
	loyal_free(track(env, "carol", "invite_accepted", "i2", "{\"referrer\": \"alice\"}"));
	/* Version 8 kept a rule's points as sums in the rule's own row (of its awards). */
	test_close_db(env);
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
					  UNDO_MIGRATION_19);
	test_exec_file(env->path, UNDO_MIGRATION_18 UNDO_MIGRATION_17 UNDO_MIGRATION_16);
	test_rewrite_file(
		env, UNDO_MIGRATION_15
		     UNDO_MIGRATION_14 UNDO_MIGRATION_13 UNDO_MIGRATION_12 UNDO_MIGRATION_11
		     "INSERT INTO activity(member, type, day, count, sums)"
		     "  SELECT member, '@rule:referrer', day, 1, json_object('points', count)"
		     "  FROM activity WHERE type = '@rule:referrer:points'"
		     "  ON CONFLICT(member, type, day) DO UPDATE SET sums = excluded.sums;"
		     "DELETE FROM activity WHERE type = '@rule:referrer:points';"
		     UNDO_MIGRATION_10 "PRAGMA user_version = 8;");
	char *outcome = track(env, "dave", "invite_accepted", "i3", "{\"referrer\": \"alice\"}");
	assert_contains(outcome, "\"amount\":50");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 250);
	assert_ok(env->db, loyal_verify(env->db));
}

/* Names of 64 characters (the longest allowed) that differ only in their last character. */
#define LONG_NAME_63 "a-rule-or-currency-name-as-long-as-the-program-document-allows-"
static void test_events__caps_of_long_names_count_each_currency_apart(void **state)
{
	test_env *env = *state;
	assert_ok(env->db,
		  loyal_program_apply(
			  env->db,
			  "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\"},"
			  "  {\"name\": \"" LONG_NAME_63 "x\"},"
			  "  {\"name\": \"" LONG_NAME_63 "y\"}],"
			  " \"rules\": [{\"name\": \"" LONG_NAME_63 "r\", \"event\": \"post\","
			  "  \"award\": {\"" LONG_NAME_63 "x\": \"10\", \"" LONG_NAME_63 "y\": \"10\"},"
			  "  \"caps\": [{\"per\": \"day\", \"points\": 15}]}]}",
			  NULL));
	loyal_free(track(env, "alice", "post", "p1", NULL));
	assert_int_equal(available(env, "alice", LONG_NAME_63 "x"), 10);
	assert_int_equal(available(env, "alice", LONG_NAME_63 "y"), 10);
	loyal_free(track(env, "alice", "post", "p2", NULL)); /* 5 left of each currency's 15 */
	assert_int_equal(available(env, "alice", LONG_NAME_63 "x"), 15);
	assert_int_equal(available(env, "alice", LONG_NAME_63 "y"), 15);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A member naming themselves as referrer gets what the event earns them, and no referral. */
static void test_events__no_one_is_rewarded_for_referring_themselves(void **state)
{
	test_env *env = *state;
	char *outcome = track(env, "mallory", "invite_accepted", "self",
			      "{\"referrer\": \"mallory\"}");
	assert_contains(outcome, "{\"rule\":\"referrer\",\"reason\":\"self-referral\"}");
	assert_contains(outcome, "\"rule\":\"invitee\"");
	loyal_free(outcome);
	assert_int_equal(available(env, "mallory", "points"), 50); /* the invitee's 50 alone */
	assert_ok(env->db, loyal_verify(env->db));
}

/* Rules see the member as they were before the event: a return bonus after 30 idle days. */
static void test_events__a_return_bonus_reads_the_idle_time_the_event_ends(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\"}],"
			" \"rules\": [{\"name\": \"welcome-back\", \"event\": \"visit\","
			"  \"condition\": \"days_since(last_seen) >= 30\","
			"  \"award\": {\"points\": \"100\"}}]}");
	char *outcome = track(env, "alice", "visit", "v1", NULL); /* new: not idle */
	assert_contains(outcome, "{\"rule\":\"welcome-back\",\"reason\":\"condition\"}");
	loyal_free(outcome);
	env->now += 31 * DAY_MS;
	loyal_free(track(env, "alice", "visit", "v2", NULL));
	assert_int_equal(available(env, "alice", "points"), 100);
	loyal_free(track(env, "alice", "visit", "v3", NULL)); /* no longer idle */
	assert_int_equal(available(env, "alice", "points"), 100);
}

/* Pending set per awarded currency: points wait out the return window, xp counts at once. */
static void test_events__pending_days_apply_per_awarded_currency(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\","
			"  \"spendable\": false}],"
			" \"rules\": [{\"name\": \"order\", \"event\": \"purchase\","
			"  \"pending_days\": 30, \"award\": {\"points\": \"floor(event.amount)\","
			"  \"xp\": {\"amount\": \"floor(event.amount)\", \"pending_days\": 0}}}]}");
	char *outcome = track(env, "alice", "purchase", "o1", "{\"amount\": 40}");
	assert_contains(outcome, "\"member\":\"alice\",\"currency\":\"xp\",\"amount\":40,");
	assert_contains(strstr(outcome, "\"currency\":\"xp\""), ",\"pending_until\":null}");
	loyal_free(outcome);
	loyal_balance points = test_balance(env, "alice", "points");
	loyal_balance xp = test_balance(env, "alice", "xp");
	assert_int_equal(points.pending, 40);
	assert_int_equal(points.available, 0);
	assert_int_equal(xp.available, 40);
	assert_int_equal(xp.pending, 0);
	/* An award's object is checked like the rest of the document. */
	assert_rc(env->db, LOYAL_EJSON,
		  loyal_program_apply(env->db,
				      "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\","
				      "  \"spendable\": false}], \"rules\": [{\"name\": \"order\","
				      "  \"event\": \"purchase\", \"award\": {\"xp\": {\"amount\": \"1\","
				      "  \"pending_dayz\": 3}}}]}",
				      NULL));
	assert_contains(loyal_errmsg(env->db), "pending_dayz");
}

/* A reversal the clawback policy lets take nothing says so: taken 0 of what was requested. */
static void test_events__a_reversal_says_what_it_took_of_what_it_requested(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\", \"clawback\": \"zero\"},"
			"  {\"name\": \"xp\"}],"
			" \"rules\": [{\"name\": \"order\", \"event\": \"purchase\","
			"  \"award\": {\"points\": \"floor(event.amount)\"}}]}");
	loyal_free(track(env, "alice", "purchase", "o1", "{\"amount\": 100}"));
	loyal_posting spend = test_posting("alice", "points", 100, "spend");
	assert_ok(env->db, loyal_ledger_debit(env->db, &spend, NULL));
	loyal_event_reversal reversal = LOYAL_EVENT_REVERSAL_INIT;
	reversal.member = "alice";
	reversal.event_key = "o1";
	reversal.idempotency_key = "return-o1";
	char *outcome = NULL;
	assert_ok(env->db, loyal_event_reverse(env->db, &reversal, &outcome));
	assert_contains(outcome, "\"amount\":0,");
	assert_contains(outcome, "\"requested\":100");
	loyal_free(outcome);
	loyal_balance balance = test_balance(env, "alice", "points");
	assert_int_equal(balance.earned, 100); /* nothing was taken back */
	assert_int_equal(balance.available, 0);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A client's value that cannot be evaluated skips its rule, not the event. */
static void test_events__a_rule_that_cannot_be_evaluated_is_skipped_with_why(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\"}],"
			" \"rules\": [{\"name\": \"amount\", \"event\": \"purchase\","
			"  \"award\": {\"points\": \"floor(event.amount)\"}},"
			"  {\"name\": \"ratio\", \"event\": \"purchase\","
			"   \"condition\": \"event.n >= 0\", \"award\": {\"points\": \"100 / event.n\"}},"
			"  {\"name\": \"visit\", \"event\": \"purchase\", \"award\": {\"xp\": \"1\"}}]}");
	char *outcome = track(env, "alice", "purchase", "huge", "{\"amount\": 1e308, \"n\": 0}");
	assert_contains(outcome, "\"rule\":\"amount\",\"reason\":\"error\"");
	assert_contains(outcome, "rule 'amount': award of points: ");
	assert_contains(outcome, "rule 'ratio': award of points: line 1, column 5: division by zero");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "xp"), 1); /* the event and its other rule stand */
	assert_int_equal(available(env, "alice", "points"), 0);
	assert_string_equal(loyal_errmsg(env->db), "ok");
	outcome = track(env, "alice", "purchase", "tiny", "{\"amount\": 1, \"n\": 1e-300}");
	assert_contains(outcome, "rule 'ratio': award of points: the amount 1e+302 is out of range");
	loyal_free(outcome);
	outcome = track(env, "alice", "purchase", "fine", "{\"amount\": 7, \"n\": 2}");
	assert_int_equal(available(env, "alice", "points"), 1 + 7 + 50);
	loyal_free(outcome);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_events__campaign_window_doubles_points(void **state)
{
	test_env *env = *state;
	env->now = TEST_EPOCH_MS + DAY_MS; /* Friday 2026-01-02: before the weekend */
	char *outcome = track(env, "alice", "purchase", "friday", "{\"amount\": 10}");
	assert_contains(outcome, "{\"rule\":\"double-weekend\",\"reason\":\"window\"}");
	loyal_free(outcome);
	env->now = TEST_EPOCH_MS + 2 * DAY_MS + 12 * HOUR_MS; /* Saturday */
	loyal_free(track(env, "alice", "purchase", "saturday", "{\"amount\": 10}"));
	env->now = TEST_EPOCH_MS + 4 * DAY_MS; /* Monday: over */
	loyal_free(track(env, "alice", "purchase", "monday", "{\"amount\": 10}"));
	assert_int_equal(available(env, "alice", "points"), 40);
}

static void test_events__welcome_bonus_is_given_once(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "alice", "signup", "s1", NULL));
	char *outcome = track(env, "alice", "signup", "s2", NULL);
	assert_contains(outcome, "{\"rule\":\"welcome\",\"reason\":\"first_time\"}");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 200);
}

static void test_events__rule_can_award_pending_points(void **state)
{
	test_env *env = *state;
	char *outcome = track(env, "alice", "review", "r1", NULL);
	char expected[64];
	snprintf(expected, sizeof expected, "\"pending_until\":%lld",
		 (long long)(env->now + 30 * DAY_MS));
	assert_contains(outcome, expected);
	loyal_free(outcome);
	assert_int_equal(test_balance(env, "alice", "points").pending, 25);
	env->now += 30 * DAY_MS;
	assert_int_equal(available(env, "alice", "points"), 25);
}

static void test_events__returned_order_reverses_its_points(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "alice", "purchase", "order-7", "{\"amount\": 200}"));
	loyal_event_reversal reversal = LOYAL_EVENT_REVERSAL_INIT;
	reversal.member = "alice";
	reversal.event_key = "order-7";
	reversal.part = 30;
	reversal.whole = 100;
	reversal.idempotency_key = "return-7a";
	char *outcome = NULL;
	assert_ok(env->db, loyal_event_reverse(env->db, &reversal, &outcome));
	assert_contains(outcome, "\"amount\":60");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 140);
	assert_int_equal(available(env, "alice", "xp"), 140);
	/* Retried: the same outcome, nothing more taken. */
	assert_ok(env->db, loyal_event_reverse(env->db, &reversal, &outcome));
	assert_contains(outcome, "\"replayed\":true");
	loyal_free(outcome);
	reversal.part = reversal.whole = 0;
	reversal.idempotency_key = "return-7b";
	assert_ok(env->db, loyal_event_reverse(env->db, &reversal, NULL));
	assert_int_equal(available(env, "alice", "points"), 0);
	reversal.idempotency_key = "return-7c";
	assert_rc(env->db, LOYAL_ESTATE, loyal_event_reverse(env->db, &reversal, NULL));
	reversal.event_key = "no-such-order";
	reversal.idempotency_key = "return-x";
	assert_rc(env->db, LOYAL_ENOTFOUND, loyal_event_reverse(env->db, &reversal, NULL));
	reversal.part = 5;
	reversal.whole = 4;
	assert_rc(env->db, LOYAL_EINVAL, loyal_event_reverse(env->db, &reversal, NULL));
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_events__malformed_input_is_refused_and_changes_nothing(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "alice", "purchase", "order-1", "{\"amount\": 10}"));
	assert_ok(env->db, loyal_member_block(env->db, "blocked-bob"));
	char *huge = malloc(70 * 1024);
	assert_non_null(huge);
	memset(huge, ' ', 70 * 1024 - 1);
	huge[0] = '{';
	huge[70 * 1024 - 3] = '}';
	huge[70 * 1024 - 1] = '\0';
	char deep[256] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "{\"a\":");
	strcat(deep, "1");
	for (int i = 0; i < 20; i++)
		strcat(deep, "}");
	const struct {
		const char *member, *type, *properties;
		int64_t at;
		int code;
		const char *message;
	} cases[] = {
		{"alice", "purchase", "{\"amount\": ", 0, LOYAL_EJSON, "event.properties: line 1"},
		{"alice", "purchase", "[1, 2]", 0, LOYAL_EJSON, "must be a JSON object"},
		{"alice", "purchase", huge, 0, LOYAL_EJSON, "larger than 65536 bytes"},
		{"alice", "purchase", deep, 0, LOYAL_EJSON, "nested more than 16 deep"},
		{"blocked-bob", "purchase", "{}", 0, LOYAL_EBLOCKED, "is blocked"},
		{"alice", "purchase", "{}", TEST_EPOCH_MS + 400 * DAY_MS, LOYAL_EINVAL, "in the future"},
		{"alice", "Purchase!", "{}", 0, LOYAL_EINVAL, "event.type"},
		{NULL, "purchase", "{}", 0, LOYAL_EINVAL, "event.member is NULL"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		loyal_event event = LOYAL_EVENT_INIT;
		event.member = cases[i].member;
		event.type = cases[i].type;
		event.idempotency_key = "bad";
		event.properties = cases[i].properties;
		event.at = cases[i].at;
		char *outcome = (char *)"untouched";
		assert_rc(env->db, cases[i].code, loyal_track(env->db, &event, &outcome));
		assert_null(outcome);
		assert_contains(loyal_errmsg(env->db), cases[i].message);
	}
	assert_rc(env->db, LOYAL_EINVAL, loyal_track(env->db, NULL, NULL));
	free(huge);
	/* Nothing was recorded: the key is still free, the counts unchanged. */
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_eval(env->db, "count(purchase)", "alice", NULL, &json));
	assert_string_equal(json, "{\"type\":\"whole number\",\"value\":1}");
	loyal_free(json);
	loyal_free(track(env, "alice", "purchase", "bad", "{\"amount\": 5}"));
	assert_int_equal(available(env, "alice", "points"), 15);
}

/* loyal_verify finds a transaction naming an event that does not exist. */
static void test_events__verify_finds_a_posting_of_a_missing_event(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	loyal_free(track(env, "alice", "check_in", "c1", NULL));
	assert_ok(env->db, loyal_verify(env->db));
	test_rewrite_file(env, "UPDATE txns SET event = 99 WHERE event = 1;");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "names event 99"));
}

/* A retry hands back the recorded outcome only when it is a whole JSON object. */
static void test_events__replay_of_a_damaged_outcome_is_corrupt(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	static const char *const members[] = {"alice", "bob", "cy", "dee", "eve", "finn", "gus"};
	enum { COUNT = sizeof members / sizeof *members };
	for (size_t i = 0; i < COUNT; i++)
		loyal_free(track(env, members[i], "check_in", "c1", NULL));
	/* Older files' JSON that is not an object, records cut short, too long, of an unknown
	 * format, empty, and with a string that is not UTF-8. */
	test_rewrite_file(env, "UPDATE events SET outcome = CAST('{\"postings\": [' AS BLOB) WHERE id = 1;"
			       "UPDATE events SET outcome = CAST('[]' AS BLOB) WHERE id = 2;"
			       "UPDATE events SET outcome = substr(outcome, 1, length(outcome) - 2)"
			       "  WHERE id = 3;"
			       "UPDATE events SET outcome = CAST(outcome || x'00' AS BLOB) WHERE id = 4;"
			       "UPDATE events SET outcome = CAST(x'07' || substr(outcome, 2) AS BLOB)"
			       "  WHERE id = 5;"
			       "UPDATE events SET outcome = x'' WHERE id = 6;"
			       "UPDATE events SET outcome = CAST(replace(outcome, 'gus', x'67ff73') AS BLOB)"
			       "  WHERE id = 7;");
	static const char *const messages[COUNT] = {"line 1", "unknown format", "damaged",
						     "bytes past its end", "unknown format",
						     "it is empty", "its member"};
	for (size_t i = 0; i < COUNT; i++) {
		loyal_event event = event_of(members[i], "check_in", "c1", NULL);
		char *outcome = NULL;
		assert_rc(env->db, LOYAL_ECORRUPT, loyal_track(env->db, &event, &outcome));
		assert_null(outcome);
		assert_contains(loyal_errmsg(env->db), messages[i]);
		/* Without the outcome wanted, the damage is reported all the same. */
		assert_rc(env->db, LOYAL_ECORRUPT, loyal_track(env->db, &event, NULL));
	}
}

/* A version 22 file stored each event's outcome as JSON text. After the migration, every
 * event (postings to its member and to another, pending points, rules skipped for a cap and
 * for an evaluation error, a tier change, a badge, a coupon, a redemption) replays the text it
 * first gave, byte for byte; events tracked since are stored as records and replay as well. */
static void test_events__outcomes_of_a_version_22_file_replay_the_same(void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"},"
			" {\"name\": \"xp\", \"spendable\": false}, {\"name\": \"stamps\"}],"
			" \"rules\": [{\"name\": \"buy\", \"event\": \"purchase\","
			"   \"award\": {\"points\": \"floor(event.amount)\", \"xp\": \"floor(event.amount)\"}},"
			"  {\"name\": \"share\", \"event\": \"purchase\","
			"   \"award\": {\"points\": \"event.amount / event.friends\"}},"
			"  {\"name\": \"check-in\", \"event\": \"check_in\", \"award\": {\"points\": \"10\"},"
			"   \"caps\": [{\"per\": \"day\", \"awards\": 1}]},"
			"  {\"name\": \"referrer\", \"event\": \"invite_accepted\","
			"   \"recipient\": \"event.referrer\", \"award\": {\"points\": \"100\"}},"
			"  {\"name\": \"review\", \"event\": \"review\", \"pending_days\": 30,"
			"   \"award\": {\"points\": \"25\"}},"
			"  {\"name\": \"hello\", \"event\": \"signup\", \"award\": {\"coupon\": \"welcome\"}},"
			"  {\"name\": \"stamp\", \"event\": \"coffee\", \"award\": {\"stamps\": \"event.cups\"}}],"
			" \"tiers\": {\"levels\": [{\"name\": \"member\"}, {\"name\": \"gold\","
			"   \"entry\": \"earned(xp, 365d) >= 10\"}]},"
			" \"badges\": [{\"name\": \"critic\", \"criterion\": \"count(review) >= 1\"}],"
			" \"coupons\": [{\"name\": \"welcome\", \"prefix\": \"HI-\"},"
			"  {\"name\": \"free-coffee\", \"prefix\": \"FREE-\"}],"
			" \"rewards\": [{\"name\": \"tenth\", \"kind\": \"coupon\","
			"   \"coupon\": \"free-coffee\", \"price\": {\"stamps\": 10}, \"automatic\": true}]}");
	struct {
		const char *member, *type, *key, *properties, *shows;
	} events[] = {
		{"alice", "signup", "s1", NULL, "\"coupons\":[{"},
		{"alice", "purchase", "p1", "{\"amount\": 20, \"friends\": 0}", "\"reason\":\"error\""},
		{"alice", "check_in", "c1", NULL, "\"tier_changes\":[]"},
		{"alice", "check_in", "c2", NULL, "\"reason\":\"cap\""},
		{"bob", "invite_accepted", "i1", "{\"referrer\": \"alice\"}", "\"member\":\"alice\""},
		{"alice", "review", "r1", NULL, "\"badges\":[{"},
		{"alice", "coffee", "k1", "{\"cups\": 10}", "\"redemptions\":[{"},
	};
	enum { COUNT = sizeof events / sizeof *events };
	char *first[COUNT + 1];
	for (size_t i = 0; i < COUNT; i++) {
		first[i] = track(env, events[i].member, events[i].type, events[i].key,
				 events[i].properties);
		assert_contains(first[i], events[i].shows);
	}
	assert_contains(first[1], "\"to\":\"gold\"");
	assert_contains(first[5], "\"pending_until\":");
	test_rewrite_file(env, UNDO_MIGRATION_22 "PRAGMA user_version = 22;");
	first[COUNT] = track(env, "bob", "review", "r2", NULL);
	for (size_t i = 0; i <= COUNT; i++) {
		bool old = i < COUNT;
		char *again = track(env, old ? events[i].member : "bob", old ? events[i].type : "review",
				    old ? events[i].key : "r2", old ? events[i].properties : NULL);
		char *replayed = strstr(first[i], "\"replayed\":false");
		assert_non_null(replayed);
		memcpy(replayed, "\"replayed\":true,", strlen("\"replayed\":true,"));
		memmove(replayed + strlen("\"replayed\":true"), replayed + strlen("\"replayed\":true,"),
			strlen(replayed + strlen("\"replayed\":true,")) + 1);
		assert_string_equal(again, first[i]);
		loyal_free(again);
		loyal_free(first[i]);
	}
	assert_ok(env->db, loyal_verify(env->db));
}

/* Found by the simulator: a retry must replay, whatever happened to the member since. */
static void test_events__retry_after_block_replays(void **state)
{
	test_env *env = *state;
	loyal_free(track(env, "alice", "purchase", "order-1", "{\"amount\": 10}"));
	assert_ok(env->db, loyal_member_block(env->db, "alice"));
	char *outcome = track(env, "alice", "purchase", "order-1", "{\"amount\": 10}");
	assert_non_null(strstr(outcome, "\"replayed\":true"));
	loyal_free(outcome);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchase";
	event.idempotency_key = "order-2";
	assert_rc(env->db, LOYAL_EBLOCKED, loyal_track(env->db, &event, NULL));
	assert_int_equal(available(env, "alice", "points"), 10);
}

static void test_events__criteria_read_real_history(void **state)
{
	test_env *env = *state;
	for (int day = 0; day < 3; day++) {
		char key[16], properties[64];
		snprintf(key, sizeof key, "p%d", day);
		snprintf(properties, sizeof properties, "{\"amount\": %d.5}", 10 * (day + 1));
		loyal_free(track(env, "alice", "purchase", key, properties));
		snprintf(key, sizeof key, "c%d", day);
		loyal_free(track(env, "alice", "check_in", key, NULL));
		env->now += DAY_MS;
	}
	const struct {
		const char *expression, *expected;
	} cases[] = {
		{"count(purchase)", "{\"type\":\"whole number\",\"value\":3}"},
		{"count(purchase, 1d)", "{\"type\":\"whole number\",\"value\":0}"},
		{"count(purchase, 2d)", "{\"type\":\"whole number\",\"value\":1}"},
		{"count(purchase, 36500d)", "{\"type\":\"whole number\",\"value\":3}"},
		{"earned(points, 36500d)", "{\"type\":\"whole number\",\"value\":120}"},
		{"sum(purchase.amount)", "{\"type\":\"number\",\"value\":61.5}"},
		{"streak(check_in, day)", "{\"type\":\"whole number\",\"value\":3}"},
		{"active_days(check_in)", "{\"type\":\"whole number\",\"value\":3}"},
		{"active_days(check_in, 2d)", "{\"type\":\"whole number\",\"value\":1}"},
		{"days_since(purchase)", "{\"type\":\"whole number\",\"value\":1}"},
		{"days_since(joined)", "{\"type\":\"whole number\",\"value\":3}"},
		/* 10 + 20 + 30 for purchases (the last doubled on the weekend), 3 x 10 check-ins */
		{"earned(points, 30d)", "{\"type\":\"whole number\",\"value\":120}"},
		{"earned(points, 1d)", "{\"type\":\"whole number\",\"value\":0}"},
		{"balance(points)", "{\"type\":\"whole number\",\"value\":120}"},
		{"event.amount * 2", "{\"type\":\"any value\",\"value\":3.0}"},
		{"member.age >= 3d", "{\"type\":\"boolean\",\"value\":true}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *json = NULL;
		assert_ok(env->db, loyal_criteria_eval(env->db, cases[i].expression, "alice",
						       "{\"amount\": 1.5}", &json));
		if (strcmp(json, cases[i].expected) != 0)
			print_error("%s: %s\n", cases[i].expression, json);
		assert_string_equal(json, cases[i].expected);
		loyal_free(json);
	}
	/* Two days without a check-in break the streak. */
	env->now += 2 * DAY_MS;
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_eval(env->db, "streak(check_in, day)", "alice", NULL, &json));
	assert_string_equal(json, "{\"type\":\"whole number\",\"value\":0}");
	loyal_free(json);
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_criteria_eval(env->db, "count(post)", "nobody", NULL, &json));
	assert_rc(env->db, LOYAL_ESYNTAX, loyal_criteria_eval(env->db, "count(", "alice", NULL, &json));
}

static void test_events__rules_carry_their_version(void **state)
{
	test_env *env = *state;
	char *changed = malloc(strlen(PROGRAM) + 16);
	assert_non_null(changed);
	strcpy(changed, PROGRAM);
	char *spot = strstr(changed, "\"award\": {\"points\": \"10\"}");
	assert_non_null(spot);
	memcpy(spot, "\"award\": {\"points\": \"20\"}", strlen("\"award\": {\"points\": \"20\"}"));
	int64_t version = 0;
	assert_ok(env->db, loyal_program_apply(env->db, changed, &version));
	assert_int_equal(version, 2);
	free(changed);
	char *outcome = track(env, "alice", "check_in", "c1", NULL);
	assert_contains(outcome, "\"amount\":20");
	assert_contains(outcome, "\"rule_version\":2");
	loyal_free(outcome);
	outcome = track(env, "alice", "signup", "s1", NULL);
	assert_contains(outcome, "\"rule_version\":1"); /* unchanged since version 1 */
	loyal_free(outcome);
}

static void test_events__bad_rules_are_refused_with_their_path(void **state)
{
	test_env *env = *state;
	const struct {
		const char *rules, *message;
	} cases[] = {
		{"[{\"name\": \"r\", \"event\": \"e\", \"condition\": \"count(\", \"award\": {\"points\": \"1\"}}]",
		 "rules[0].condition: line 1, column 7"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"award\": {\"gold\": \"1\"}}]",
		 "rules[0].award.gold: no currency 'gold'"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"award\": {\"points\": \"true\"}}]",
		 "must give a number"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"condition\": \"1 + 1\", \"award\": {\"points\": \"1\"}}]",
		 "must give a boolean"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"recipient\": \"boss\", \"award\": {\"points\": \"1\"}}]",
		 "rules[0].recipient"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"award\": {\"points\": \"1\"}, \"caps\": [{\"per\": \"year\", \"awards\": 1}]}]",
		 "rules[0].caps[0].per"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"award\": {\"points\": \"1\"}, \"active\": {\"from\": \"tomorrow\"}}]",
		 "rules[0].active"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"award\": {}}]", "rules[0].award"},
		{"[{\"name\": \"r\", \"event\": \"e\", \"award\": {\"points\": \"1\"}},"
		 " {\"name\": \"r\", \"event\": \"f\", \"award\": {\"points\": \"1\"}}]",
		 "already defined by rules[0]"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char document[1024];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 365}},"
			 " {\"name\": \"xp\", \"spendable\": false}], \"rules\": %s}",
			 cases[i].rules);
		assert_rc(env->db, LOYAL_EJSON, loyal_program_apply(env->db, document, NULL));
		assert_contains(loyal_errmsg(env->db), cases[i].message);
	}
}

static const char *const CAMPAIGNS =
	"{\"currencies\": [{\"name\": \"points\"}, {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": ["
	"  {\"name\": \"big-order\", \"event\": \"purchase\", \"condition\": \"event.amount >= 100\","
	"   \"award\": {\"points\": \"50\"}, \"last\": true},"
	"  {\"name\": \"weekend\", \"event\": \"purchase\", \"award\": {\"points\": \"2\"},"
	"   \"when\": {\"days\": [\"sat\", \"sun\"]}},"
	"  {\"name\": \"night-owl\", \"event\": \"purchase\", \"award\": {\"points\": \"3\"},"
	"   \"when\": {\"from\": \"22:00\", \"until\": \"02:00\"}},"
	"  {\"name\": \"base\", \"event\": \"purchase\", \"award\": {\"points\": \"1\"}},"
	"  {\"name\": \"happy-hour\", \"event\": \"purchase\", \"award\": {\"points\": \"100\"},"
	"   \"condition\": \"local.weekday in [\\\"sat\\\", \\\"sun\\\"] and local.hour >= 18"
	" and local.month == 1 and local.day == 3 and local.minute < 30\"},"
	"  {\"name\": \"launch\", \"event\": \"check_in\", \"award\": {\"points\": \"10\"},"
	"   \"budget\": {\"per\": \"day\", \"awards\": 2}},"
	"  {\"name\": \"fund\", \"event\": \"post\", \"award\": {\"points\": \"event.points\"},"
	"   \"budget\": {\"per\": \"month\", \"points\": 100}}]}";

static void test_events__campaign_rules_by_weekday_hour_and_order(void **state)
{
	test_env *env = *state;
	test_apply(env, CAMPAIGNS);
	/* Thursday 2026-01-01, 12:00 UTC: only base. */
	env->now = TEST_EPOCH_MS + 12 * HOUR_MS;
	char *outcome = track(env, "alice", "purchase", "o1", "{\"amount\": 10}");
	assert_contains(outcome, "{\"rule\":\"weekend\",\"reason\":\"when\"}");
	assert_contains(outcome, "{\"rule\":\"night-owl\",\"reason\":\"when\"}");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 1);
	/* 23:30 and, across midnight, Friday 01:00: the night rule too. */
	env->now = TEST_EPOCH_MS + 23 * HOUR_MS + 30 * 60000;
	loyal_free(track(env, "alice", "purchase", "o2", "{\"amount\": 10}"));
	env->now = TEST_EPOCH_MS + 25 * HOUR_MS;
	loyal_free(track(env, "alice", "purchase", "o3", "{\"amount\": 10}"));
	assert_int_equal(available(env, "alice", "points"), 1 + 4 + 4);
	/* Saturday noon: the weekend rule. */
	env->now = TEST_EPOCH_MS + 2 * DAY_MS + 12 * HOUR_MS;
	loyal_free(track(env, "alice", "purchase", "o4", "{\"amount\": 10}"));
	assert_int_equal(available(env, "alice", "points"), 9 + 3);
	/* Saturday 18:10: the happy hour reads the event's local time. */
	env->now = TEST_EPOCH_MS + 2 * DAY_MS + 18 * HOUR_MS + 10 * 60000;
	loyal_free(track(env, "alice", "purchase", "o4b", "{\"amount\": 10}"));
	assert_int_equal(available(env, "alice", "points"), 12 + 3 + 100);
	env->now = TEST_EPOCH_MS + 2 * DAY_MS + 12 * HOUR_MS;
	/* A big order: the rule marked last awards, the ones after it do not run. */
	outcome = track(env, "alice", "purchase", "o5", "{\"amount\": 150}");
	assert_contains(outcome, "{\"rule\":\"weekend\",\"reason\":\"after_last\"}");
	assert_contains(outcome, "{\"rule\":\"base\",\"reason\":\"after_last\"}");
	loyal_free(outcome);
	assert_int_equal(available(env, "alice", "points"), 115 + 50);
	/* In the member's own time zone: Saturday 01:00 in UTC+3 is Friday 22:00 UTC. */
	assert_ok(env->db, loyal_member_set_attrs(env->db, "bob", "{\"timezone\": \"+03:00\"}"));
	env->now = TEST_EPOCH_MS + DAY_MS + 22 * HOUR_MS;
	loyal_free(track(env, "bob", "purchase", "b1", "{\"amount\": 10}"));
	assert_int_equal(available(env, "bob", "points"), 1 + 2 + 3);
}

static void test_events__budgets_are_never_passed(void **state)
{
	test_env *env = *state;
	test_apply(env, CAMPAIGNS);
	/* Two awards a day across all members. */
	const char *members[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		char *outcome = track(env, members[i], "check_in", "c1", NULL);
		if (i == 2)
			assert_contains(outcome, "{\"rule\":\"launch\",\"reason\":\"budget\"}");
		loyal_free(outcome);
	}
	assert_int_equal(available(env, "b", "points"), 10);
	assert_int_equal(available(env, "c", "points"), 0);
	env->now += DAY_MS; /* a new day, a new budget */
	loyal_free(track(env, "c", "check_in", "c2", NULL));
	assert_int_equal(available(env, "c", "points"), 10);
	/* 100 points a month: 40 + 40, then 40 would pass it; 20 reaches it exactly. */
	loyal_free(track(env, "a", "post", "p1", "{\"points\": 40}"));
	loyal_free(track(env, "b", "post", "p2", "{\"points\": 40}"));
	char *outcome = track(env, "c", "post", "p3", "{\"points\": 40}");
	assert_contains(outcome, "{\"rule\":\"fund\",\"reason\":\"budget\"}");
	loyal_free(outcome);
	loyal_free(track(env, "c", "post", "p4", "{\"points\": 20}"));
	assert_int_equal(available(env, "c", "points"), 10 + 20);
	outcome = track(env, "c", "post", "p5", "{\"points\": 1}");
	assert_contains(outcome, "{\"rule\":\"fund\",\"reason\":\"budget\"}");
	loyal_free(outcome);
	/* A replay does not spend it again. */
	loyal_free(track(env, "a", "post", "p1", "{\"points\": 40}"));
	assert_int_equal(available(env, "a", "points"), 10 + 40);
	/* Bad campaigns are refused with their path. */
	static const struct {
		const char *rule, *names;
	} bad[] = {
		{"\"when\": {\"days\": [\"funday\"]}", "rules[0].when.days[0]"},
		{"\"when\": {\"days\": []}", "rules[0].when"},
		{"\"when\": {\"from\": \"25:00\"}", "rules[0].when.from"},
		{"\"when\": {\"from\": \"9:00\"}", "rules[0].when.from"},
		{"\"when\": {\"from\": \"10:00\", \"until\": \"10:00\"}", "must differ"},
		{"\"when\": {\"hours\": 3}", "hours"},
		{"\"budget\": {\"awards\": 3}", "rules[0].budget.per"},
		{"\"budget\": {\"per\": \"day\"}", "exactly one"},
		{"\"last\": 1", "rules[0].last"},
		{"\"condition\": \"local.year == 2026\"", "unknown part of the local time 'year'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char document[400];
		snprintf(document, sizeof document,
			 "{\"currencies\": [{\"name\": \"points\"}], \"rules\": [{\"name\": \"r\","
			 " \"event\": \"purchase\", \"award\": {\"points\": \"1\"}, %s}]}",
			 bad[i].rule);
		int rc = loyal_program_apply(env->db, document, NULL);
		if (rc != LOYAL_EJSON || !strstr(loyal_errmsg(env->db), bad[i].names))
			print_error("case %zu: %s: %s\n", i, loyal_errstr(rc), loyal_errmsg(env->db));
		assert_int_equal(rc, LOYAL_EJSON);
	}
}

/* Several processes check in members at once: the day's budget of awards is never passed. */
static int check_in_once(loyal_db *db, int process, int try)
{
	char member[32];
	snprintf(member, sizeof member, "p%d-%d", process, try);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = "check_in";
	event.idempotency_key = "c";
	return loyal_track(db, &event, NULL);
}

static void test_events__processes_never_pass_a_budget(void **state)
{
	test_env *env = *state;
	test_apply(env, CAMPAIGNS);
	test_close_db(env);
	assert_int_equal(test_processes(env->path, 4, 6, check_in_once, LOYAL_OK), 24);
	test_reopen_db(env);
	int64_t total = 0;
	for (int p = 0; p < 4; p++)
		for (int i = 0; i < 6; i++) {
			char member[32];
			snprintf(member, sizeof member, "p%d-%d", p, i);
			total += available(env, member, "points");
		}
	/* The day of the processes (their own clock): two awards of ten in all. */
	assert_int_equal(total, 20);
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_events__purchase_earns_floor_of_amount_times_multiplier),
		CASE(test_events__campaign_rules_by_weekday_hour_and_order),
		CASE(test_events__budgets_are_never_passed),
		CASE(test_events__processes_never_pass_a_budget),
		CASE(test_events__same_event_twice_changes_nothing),
		CASE(test_events__daily_check_in_is_capped_at_one_award),
		CASE(test_events__a_cap_added_later_counts_from_then_on),
		CASE(test_events__days_follow_the_member_time_zone),
	CASE(test_events__time_zone_of_a_version_7_file_is_kept_by_the_migration),
		CASE(test_events__referral_rewards_both_members),
		CASE(test_events__reversal_of_a_posting_in_an_unknown_currency_is_corrupt),
		CASE(test_events__lots_of_a_version_15_file_are_kept_by_the_migration),
		CASE(test_events__activity_of_a_version_17_file_is_kept_by_the_migration),
		CASE(test_events__balances_of_a_version_12_file_are_kept_by_the_migration),
		CASE(test_events__events_of_a_version_11_file_are_reversed_from_the_ledger),
	CASE(test_events__caps_of_long_names_count_each_currency_apart),
	CASE(test_events__points_caps_of_a_version_8_file_are_kept_by_the_migration),
		CASE(test_events__no_one_is_rewarded_for_referring_themselves),
	CASE(test_events__a_return_bonus_reads_the_idle_time_the_event_ends),
	CASE(test_events__pending_days_apply_per_awarded_currency),
	CASE(test_events__a_rule_that_cannot_be_evaluated_is_skipped_with_why),
	CASE(test_events__a_reversal_says_what_it_took_of_what_it_requested),
		CASE(test_events__campaign_window_doubles_points),
		CASE(test_events__welcome_bonus_is_given_once),
		CASE(test_events__rule_can_award_pending_points),
		CASE(test_events__returned_order_reverses_its_points),
		CASE(test_events__malformed_input_is_refused_and_changes_nothing),
		CASE(test_events__retry_after_block_replays),
		CASE(test_events__replay_of_a_damaged_outcome_is_corrupt),
		CASE(test_events__outcomes_of_a_version_22_file_replay_the_same),
		CASE(test_events__verify_finds_a_posting_of_a_missing_event),
		CASE(test_events__criteria_read_real_history),
		CASE(test_events__rules_carry_their_version),
		CASE(test_events__bad_rules_are_refused_with_their_path),
		CASE(test_events__a_dry_run_predicts_the_outcome_and_writes_nothing),
		CASE(test_events__an_event_of_version_1_is_still_taken),
		CASE(test_events__refused_events_in_a_batch_write_nothing_and_the_batch_goes_on),
#undef CASE
	};
	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
