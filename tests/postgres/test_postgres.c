/* test_postgres.c - what is the PostgreSQL backend's own: the schema on the server, errors that
 * name the server and never a password, a lost connection, writers of one member on several
 * connections, the same idempotency key submitted at once, verify over tampered rows, the server
 * stopped as by a crash while writers run. Every test skips without a test cluster
 * (LOYAL_TEST_POSTGRES; LOYAL_TEST_POSTGRES_DIR names its folder for tests/pg/cluster.sh). */
#include "support.h"
#include "store/postgres/postgres.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int setup(void **state)
{
	if (!test_on_postgres()) {
		*state = NULL;
		return 0;
	}
	return test_setup_points(state);
}

static int teardown(void **state)
{
	return *state ? test_teardown(state) : 0;
}

/* The env of a test that needs the cluster (skipped without it). */
static test_env *cluster_env(void **state)
{
	if (!*state)
		skip();
	return *state;
}

/* Runs SQL on a test database behind the library's back (in its schema). */
static void exec_on(const char *location, const char *sql)
{
	PGconn *conn = PQconnectdb(location);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PGresult *r = PQexec(conn, "SET search_path TO loyal");
	PQclear(r);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		print_error("%s: %s\n", sql, PQerrorMessage(conn));
	assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	PQfinish(conn);
}

static void credit(test_env *env, const char *member, int64_t amount, const char *key)
{
	loyal_posting p = test_posting(member, "points", amount, key);
	assert_ok(env->db, loyal_ledger_credit(env->db, &p, NULL));
}

static void test_postgres__an_empty_database_needs_create(void **state)
{
	test_env *env = cluster_env(state);
	char location[320];
	assert_true(test_new_location(env->dir, "unused", location, sizeof location));
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = 0;
	test_assert_open_fails(location, &opts, LOYAL_ENOTADB, "LOYAL_OPEN_CREATE");
	opts.flags = LOYAL_OPEN_READONLY;
	test_assert_open_fails(location, &opts, LOYAL_ENOTADB, "no loyal schema");
	/* Nothing was made: a foreign schema of that name is refused too. */
	exec_on(location, "CREATE SCHEMA loyal; CREATE TABLE loyal.t(x int)");
	opts.flags = LOYAL_OPEN_CREATE;
	test_assert_open_fails(location, &opts, LOYAL_ENOTADB, "not a loyal database");
	test_drop_location(location);
}

static void test_postgres__a_newer_schema_is_refused(void **state)
{
	test_env *env = cluster_env(state);
	test_close_db(env);
	exec_on(env->path, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	test_assert_open_fails(env->path, &opts, LOYAL_EVERSION, "schema version 99");
	char current[80];
	snprintf(current, sizeof current, "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
		 PG_SCHEMA_VERSION);
	exec_on(env->path, current);
	test_reopen_db(env);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A database of schema 1 (before rewards) is migrated forward when opened, its data kept. */
static void test_postgres__schema_1_is_migrated(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	test_close_db(env);
	/* Versions 6, 5, 4, 3 and 2 undone: outcomes as text, no index of the events in order, no
	 * outbox, no badge kinds or tier assignments, no rewards. */
	exec_on(env->path, "ALTER TABLE events ALTER COLUMN outcome TYPE text"
			   "  USING convert_from(outcome, 'UTF8');"
			   " DROP INDEX events_in_order;"
			   " DROP TABLE outbox; DROP TABLE outbox_head;"
			   " DROP TABLE outbox_consumers; DROP TABLE notices_sent;"
			   " DROP TABLE tier_assignments; DROP TABLE rule_budgets;"
			   " DROP TABLE board_scores;"
			   " DROP INDEX badge_awards_last; ALTER TABLE badge_awards DROP COLUMN kind;"
			   " CREATE INDEX badge_awards_last ON badge_awards(member_id, badge, level, at);"
			   " DROP TABLE redemptions; DROP TABLE reward_stock;"
			   " DROP SEQUENCE redemption_ids; DROP TABLE coupon_codes;"
			   " DROP TABLE coupon_reservations;"
			   " UPDATE meta SET value = '1' WHERE key = 'schema_version'");
	test_reopen_db(env);
	assert_int_equal(test_balance(env, "alice", "points").available, 10);
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}], \"rewards\": [{\"name\":"
			" \"pen\", \"price\": {\"points\": 4}, \"stock\": 3}]}");
	loyal_redeem pen = LOYAL_REDEEM_INIT;
	pen.member = "alice";
	pen.reward = "pen";
	pen.idempotency_key = "r1";
	assert_ok(env->db, loyal_reward_redeem(env->db, &pen, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 6);
	/* The outbox of the migrated schema announces the redemption. */
	loyal_cursor *cursor = NULL;
	const char *row = NULL;
	assert_ok(env->db, loyal_outbox_read(env->db, "mailer", 0, &cursor));
	assert_ok(env->db, loyal_cursor_next(cursor, &row));
	assert_non_null(row);
	assert_non_null(strstr(row, "\"kind\":\"reward_redeemed\""));
	loyal_cursor_free(cursor);
	assert_ok(env->db, loyal_verify(env->db));
	/* The migrated schema's events are read in order again: a replay finds alice's none. */
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	w.program = "{\"currencies\": [{\"name\": \"points\"}]}";
	char *report = NULL;
	assert_ok(env->db, loyal_whatif(env->db, &w, &report));
	assert_non_null(strstr(report, "\"events\":0"));
	loyal_free(report);
}

/* Schema 5 stored an event's outcome as its JSON text: after the migration to records, such an
 * event replays the text it first gave, byte for byte, and an event tracked since replays too. */
static void test_postgres__schema_5_outcomes_replay_after_the_migration(void **state)
{
	test_env *env = cluster_env(state);
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}], \"rules\": [{\"name\": \"referrer\","
			" \"event\": \"invite_accepted\", \"recipient\": \"event.referrer\","
			" \"award\": {\"points\": \"100\"}}, {\"name\": \"check-in\", \"event\": \"check_in\","
			" \"award\": {\"points\": \"10\"}, \"caps\": [{\"per\": \"day\", \"awards\": 1}]}],"
			" \"tiers\": {\"levels\": [{\"name\": \"member\"}]}}");
	loyal_event invite = LOYAL_EVENT_INIT;
	invite.member = "bob";
	invite.type = "invite_accepted";
	invite.idempotency_key = "i1";
	invite.properties = "{\"referrer\": \"alice\"}";
	char *first = NULL, *again = NULL;
	assert_ok(env->db, loyal_track(env->db, &invite, &first));
	/* What schema 5 stored: the caller's object without the event's id and the replay flag. */
	char *tail = strstr(first, ",\"event\":");
	assert_non_null(tail);
	char stored[1024];
	snprintf(stored, sizeof stored, "%.*s}", (int)(tail - first), first);
	test_close_db(env);
	exec_on(env->path, "ALTER TABLE events ALTER COLUMN outcome TYPE text USING '';"
			   " UPDATE meta SET value = '5' WHERE key = 'schema_version'");
	PGconn *conn = PQconnectdb(env->path);
	const char *values[] = {stored};
	PGresult *r = PQexecParams(conn, "UPDATE loyal.events SET outcome = $1 WHERE key = 'i1'", 1,
				   NULL, values, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdTuples(r), "1");
	PQclear(r);
	PQfinish(conn);
	test_reopen_db(env);
	assert_ok(env->db, loyal_track(env->db, &invite, &again));
	char *flag = strstr(first, "\"replayed\":false");
	assert_non_null(flag);
	memmove(flag + strlen("\"replayed\":true"), flag + strlen("\"replayed\":false"),
		strlen(flag + strlen("\"replayed\":false")) + 1);
	memcpy(flag, "\"replayed\":true", strlen("\"replayed\":true"));
	assert_string_equal(again, first);
	loyal_free(first);
	loyal_free(again);
	/* An event tracked on the migrated schema is stored as a record, and replays. */
	loyal_event check_in = LOYAL_EVENT_INIT;
	check_in.member = "alice";
	check_in.type = "check_in";
	check_in.idempotency_key = "c1";
	assert_ok(env->db, loyal_track(env->db, &check_in, &first));
	assert_ok(env->db, loyal_track(env->db, &check_in, &again));
	assert_non_null(strstr(again, "\"replayed\":true"));
	assert_non_null(strstr(again, "\"txn\":"));
	loyal_free(first);
	loyal_free(again);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_postgres__no_password_in_messages(void **state)
{
	test_env *env = cluster_env(state);
	const char *host = strstr(env->path, "host=");
	assert_non_null(host);
	char location[400];
	snprintf(location, sizeof location,
		 "postgresql://nobody:sekret-pass-42@/no_such_database?%s", host);
	loyal_db *db = NULL;
	assert_int_equal(loyal_open(location, NULL, &db), LOYAL_EIO);
	assert_non_null(strstr(loyal_errmsg(db), "no_such_database"));
	assert_null(strstr(loyal_errmsg(db), "sekret-pass-42"));
	loyal_close(db);
}

/* The test database's URI written as libpq key=value pairs. */
static void key_value_form(const char *uri, char *out, size_t size)
{
	char *error = NULL;
	PQconninfoOption *options = PQconninfoParse(uri, &error);
	assert_non_null(options);
	size_t used = 0;
	out[0] = '\0';
	for (PQconninfoOption *o = options; o->keyword; o++)
		if (o->val && *o->val)
			used += (size_t)snprintf(out + used, size - used, "%s%s='%s'", used ? " " : "",
						 o->keyword, o->val);
	assert_true(used < size);
	PQconninfoFree(options);
}

static void test_postgres__a_key_value_string_opens_with_the_postgres_backend(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	char conninfo[400];
	key_value_form(env->path, conninfo, sizeof conninfo);
	assert_non_null(strstr(conninfo, "dbname="));
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = 0;
	opts.backend = LOYAL_BACKEND_POSTGRES;
	loyal_db *db = NULL;
	assert_ok(db, loyal_open(conninfo, &opts, &db));
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_ok(db, loyal_ledger_balance(db, "alice", "points", 0, &balance));
	assert_int_equal(balance.available, 10);
	loyal_close(db);
	/* Left to pick, the same string is a file's name: there is none (no CREATE). */
	opts.backend = LOYAL_BACKEND_AUTO;
	assert_int_equal(loyal_open(conninfo, &opts, &db), LOYAL_ENOTFOUND);
	loyal_close(db);
	/* A URI named a SQLite file is one; the PostgreSQL database is not touched. */
	opts.backend = LOYAL_BACKEND_SQLITE;
	assert_int_equal(loyal_open(env->path, &opts, &db), LOYAL_ENOTFOUND);
	loyal_close(db);
	assert_int_equal(test_balance(env, "alice", "points").available, 10);
}

static void test_postgres__a_lost_connection_is_eio_then_reconnects(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	/* The server ends this handle's session (as a restart or a failover would). */
	exec_on(env->path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
			   " datname = current_database() AND pid <> pg_backend_pid()");
	loyal_balance balance = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(env->db, "alice", "points", 0, &balance);
	assert_int_equal(rc, LOYAL_EIO);
	assert_non_null(strstr(loyal_errmsg(env->db), "server"));
	/* The next call connects again; nothing was lost and nothing half-applied. */
	assert_int_equal(test_balance(env, "alice", "points").available, 10);
	credit(env, "alice", 5, "k2");
	credit(env, "alice", 5, "k2"); /* a retry */
	assert_int_equal(test_balance(env, "alice", "points").available, 15);
	assert_ok(env->db, loyal_verify(env->db));
}

/* A write is the first call to meet the ended session: the server's goodbye (57P01) can reach
 * its pipeline before libpq sees the socket close, leaving results it cannot read; the call
 * fails with nothing written, and the next one connects again, several times over. */
static void test_postgres__a_write_meeting_a_lost_connection_is_eio_then_reconnects(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	const char *dir = getenv("LOYAL_TEST_POSTGRES_DIR");
	for (int round = 0; round < 6; round++) {
		/* The session ends as the server ends it (pg_terminate_backend), or by the server's
		 * crash (stopped -m immediate) and restart, when the test has its cluster. */
		if (round % 2 == 0 || !dir || !*dir) {
			exec_on(env->path, "SELECT pg_terminate_backend(pid, 10000) FROM"
					   " pg_stat_activity WHERE datname = current_database() AND"
					   " pid <> pg_backend_pid()");
		} else {
			char command[400];
			snprintf(command, sizeof command, "tests/pg/cluster.sh crash '%s'", dir);
			assert_int_equal(system(command), 0);
		}
		char key[16];
		snprintf(key, sizeof key, "w%d", round);
		loyal_posting p = test_posting("bob", "points", 5, key);
		assert_rc(env->db, LOYAL_EIO, loyal_ledger_credit(env->db, &p, NULL));
		assert_non_null(strstr(loyal_errmsg(env->db), "server"));
		loyal_result result = LOYAL_RESULT_INIT;
		assert_ok(env->db, loyal_ledger_credit(env->db, &p, &result));
		assert_false(result.replayed); /* the failed call wrote nothing, not even its key */
		assert_int_equal(test_balance(env, "bob", "points").available, 5 * (round + 1));
	}
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_postgres__a_writer_of_a_member_waits_for_another(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	loyal_open_options opts;
	test_options(env, &opts);
	opts.busy_timeout_ms = 100;
	loyal_db *second = NULL;
	assert_rc(second, LOYAL_OK, loyal_open(env->path, &opts, &second));
	assert_ok(env->db, loyal_batch_begin(env->db));
	credit(env, "alice", 1, "k2");
	/* alice's row is locked until the batch ends; bob's is not. */
	loyal_posting p = test_posting("alice", "points", 1, "k3");
	assert_rc(second, LOYAL_EBUSY, loyal_ledger_credit(second, &p, NULL));
	p = test_posting("bob", "points", 1, "k3");
	assert_ok(second, loyal_ledger_credit(second, &p, NULL));
	assert_ok(env->db, loyal_batch_commit(env->db));
	p = test_posting("alice", "points", 1, "k3");
	assert_ok(second, loyal_ledger_credit(second, &p, NULL));
	assert_int_equal(test_balance(env, "alice", "points").available, 12);
	assert_int_equal(loyal_close(second), LOYAL_OK);
}

/* ---- the same key from two servers at once ---- */

#define RACERS 4
#define RACES 40

typedef struct racer {
	const char *location;
	int index;
	int64_t txns[RACES];
	int failures;
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	loyal_db *db = NULL;
	if (loyal_open(r->location, NULL, &db) != LOYAL_OK) {
		r->failures = RACES;
		loyal_close(db);
		return NULL;
	}
	for (int i = 0; i < RACES; i++) {
		char member[32], key[32];
		/* Each race on a member new to all of them: creating it is part of the race. */
		snprintf(member, sizeof member, "racer-member-%d", i);
		snprintf(key, sizeof key, "order-%d", i);
		loyal_posting p = test_posting(member, "points", 7, key);
		loyal_result out = LOYAL_RESULT_INIT;
		int rc = loyal_ledger_credit(db, &p, &out);
		if (rc != LOYAL_OK) {
			fprintf(stderr, "racer %d: %s: %s\n", r->index, loyal_errstr(rc), loyal_errmsg(db));
			r->failures++;
		}
		r->txns[i] = out.txn;
	}
	loyal_close(db);
	return NULL;
}

static void test_postgres__one_key_at_once_posts_once(void **state)
{
	test_env *env = cluster_env(state);
	pthread_t threads[RACERS];
	racer racers[RACERS];
	for (int i = 0; i < RACERS; i++) {
		racers[i] = (racer){.location = env->path, .index = i};
		assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	for (int i = 0; i < RACES; i++) {
		char member[32];
		snprintf(member, sizeof member, "racer-member-%d", i);
		assert_int_equal(test_balance(env, member, "points").available, 7);
		assert_int_equal(test_statement_length(env, member), 1);
		for (int k = 0; k < RACERS; k++) {
			assert_int_equal(racers[k].failures, 0);
			assert_int_equal(racers[k].txns[i], racers[0].txns[i]); /* the same outcome */
		}
	}
	assert_ok(env->db, loyal_verify(env->db));
}

/* ---- verify reads the server's rows ---- */

static void test_postgres__verify_finds_tampered_rows(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	credit(env, "bob", 20, "k2");
	assert_ok(env->db, loyal_verify(env->db));
	exec_on(env->path, "UPDATE balances SET available = available + 1 WHERE member_id ="
			   " (SELECT member_id FROM member_keys WHERE external_id = 'bob')");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "invariant 2"));
	/* A handle that found damage takes no more writes. */
	loyal_posting p = test_posting("alice", "points", 1, "k3");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_ledger_credit(env->db, &p, NULL));
}

static void test_postgres__verify_finds_a_broken_chain(void **state)
{
	test_env *env = cluster_env(state);
	credit(env, "alice", 10, "k1");
	credit(env, "alice", 10, "k2");
	exec_on(env->path, "UPDATE txns SET amount = amount + 1 WHERE id = (SELECT max(id) FROM txns)");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
}

/* A badge award of a level no version of the program defined is damage. */
static void test_postgres__verify_finds_a_badge_award_the_program_never_defined(void **state)
{
	test_env *env = cluster_env(state);
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}], \"badges\": [{\"name\":"
			" \"writer\", \"levels\": [{\"name\": \"bronze\", \"criterion\":"
			" \"count(post) >= 3\"}]}]}");
	credit(env, "alice", 10, "k1");
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "writer", "bronze", "posts", NULL));
	assert_ok(env->db, loyal_verify(env->db));
	exec_on(env->path, "UPDATE badge_awards SET level = 'gold'");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "no version of the program defined"));
}

/* ---- the server crashes while writers run ---- */

#define CRASH_WRITERS 4
#define CRASH_AFTER 40 /* pairs each writer acknowledges once it has seen the crash */
#define CRASH_GIVE_UP_S 120 /* a writer that never sees the crash in this long fails */

static void pause_ms(int ms)
{
	struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&pause, NULL);
}

/* One pair of credits, 1 point each under its own key, to the shared member and to the
 * writer's own, retried until each is acknowledged (a lost connection is LOYAL_EIO; the retry
 * is safe under its key). *seen turns true when a call failed so. */
static bool crash_pair(loyal_db *db, int writer, int pair, bool *seen)
{
	for (int half = 0; half < 2; half++) {
		char member[32], key[48];
		snprintf(member, sizeof member, half ? "own-%d" : "shared", writer);
		snprintf(key, sizeof key, "w%d-%d-%d", writer, pair, half);
		loyal_posting p = test_posting(member, "points", 1, key);
		int rc, tries = 0;
		while ((rc = loyal_ledger_credit(db, &p, NULL)) != LOYAL_OK) {
			if ((rc != LOYAL_EIO && rc != LOYAL_EBUSY) || ++tries > 600) {
				fprintf(stderr, "writer %d: %s: %s\n", writer, loyal_errstr(rc),
					loyal_errmsg(db));
				return false;
			}
			*seen = true;
			pause_ms(50);
		}
	}
	return true;
}

/* Writes pairs until it has seen the crash and acknowledged CRASH_AFTER pairs since: it tells
 * the parent on `ready` once its first pair is acknowledged, and at the end the number of pairs
 * acknowledged on `done`. Exits 0, or 1 on a failure or when no crash came. */
static int crash_writer(const char *location, int writer, int ready, int done)
{
	loyal_db *db = NULL;
	if (loyal_open(location, NULL, &db) != LOYAL_OK)
		return 1;
	time_t give_up = time(NULL) + CRASH_GIVE_UP_S;
	bool seen = false;
	int pairs = 0, after = 0;
	while (!seen || after < CRASH_AFTER) {
		if (!crash_pair(db, writer, pairs, &seen) || (!seen && time(NULL) > give_up)) {
			loyal_close(db);
			return 1;
		}
		if (++pairs == 1 && write(ready, "r", 1) != 1)
			return 1;
		after += seen;
	}
	loyal_close(db);
	int report[2] = {writer, pairs};
	return write(done, report, sizeof report) == (ssize_t)sizeof report ? 0 : 1;
}

static void test_postgres__a_crashed_server_keeps_every_acknowledged_call(void **state)
{
	test_env *env = cluster_env(state);
	const char *dir = getenv("LOYAL_TEST_POSTGRES_DIR");
	if (!dir || !*dir)
		skip();
	test_close_db(env);
	int ready[2], done[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	pid_t children[CRASH_WRITERS];
	for (int w = 0; w < CRASH_WRITERS; w++) {
		children[w] = fork();
		assert_true(children[w] >= 0);
		if (children[w] == 0)
			_exit(crash_writer(env->path, w, ready[1], done[1]));
	}
	close(ready[1]);
	close(done[1]);
	/* The crash comes once every writer is writing; none stops before it has seen it. */
	for (int w = 0; w < CRASH_WRITERS; w++) {
		char byte;
		assert_int_equal(read(ready[0], &byte, 1), 1);
	}
	char command[400];
	snprintf(command, sizeof command, "tests/pg/cluster.sh crash '%s'", dir);
	assert_int_equal(system(command), 0);
	int pairs[CRASH_WRITERS] = {0}, total = 0;
	for (int w = 0; w < CRASH_WRITERS; w++) {
		int status = 0;
		assert_int_equal(waitpid(children[w], &status, 0), children[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Each writer's count as {writer, pairs}, in the order they finished (a write this small
	 * to a pipe is whole). */
	for (int w = 0; w < CRASH_WRITERS; w++) {
		int report[2];
		assert_int_equal(read(done[0], report, sizeof report), sizeof report);
		assert_in_range(report[0], 0, CRASH_WRITERS - 1);
		pairs[report[0]] = report[1];
		total += report[1];
	}
	close(ready[0]);
	close(done[0]);
	/* Every credit is there once: acknowledged ones were kept, retried ones not doubled, and
	 * none is half there (verify). */
	test_reopen_db(env);
	assert_int_equal(test_balance(env, "shared", "points").available, total);
	assert_int_equal(test_statement_length(env, "shared"), total);
	for (int w = 0; w < CRASH_WRITERS; w++) {
		char own[32];
		snprintf(own, sizeof own, "own-%d", w);
		assert_int_equal(test_balance(env, own, "points").available, pairs[w]);
	}
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_postgres__an_empty_database_needs_create, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_postgres__a_newer_schema_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_postgres__schema_1_is_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_postgres__schema_5_outcomes_replay_after_the_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postgres__no_password_in_messages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_postgres__a_key_value_string_opens_with_the_postgres_backend, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_postgres__a_lost_connection_is_eio_then_reconnects,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_postgres__a_write_meeting_a_lost_connection_is_eio_then_reconnects, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_postgres__a_writer_of_a_member_waits_for_another,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_postgres__one_key_at_once_posts_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_postgres__verify_finds_tampered_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_postgres__verify_finds_a_badge_award_the_program_never_defined, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_postgres__verify_finds_a_broken_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_postgres__a_crashed_server_keeps_every_acknowledged_call, setup, teardown),
	};
	return cmocka_run_group_tests_name("postgres", tests, NULL, NULL);
}
