/* test_db.c - opening and closing handles, their options, sharing a file; errors and versions. */
#include "support.h"

#include "engine/handle.h"
#include "store/store.h"
#include "store/sqlite/sqlite.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_db__reopen_keeps_the_database(void **state)
{
	test_env *env = *state;
	test_sqlite_only(); /* the file's schema version (tests/postgres has the server's) */
	assert_int_equal(loyal_close(env->db), LOYAL_OK);
	env->db = NULL;
	loyal_open_options opts;
	test_options(env, &opts);
	opts.flags = 0; /* no CREATE: the file must already be a loyal database */
	assert_ok(env->db, loyal_open(env->path, &opts, &env->db));
	int version = -1;
	assert_ok(env->db, ly_sqlite_schema_version(env->db->store, &version));
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_db__null_options_mean_defaults(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "defaults.db", path);
	loyal_db *db = NULL;
	assert_rc(db, LOYAL_OK, loyal_open(path, NULL, &db));
	int64_t now = 0;
	assert_ok(db, loyal_now(db, &now));
	assert_true(now > TEST_EPOCH_MS); /* the system clock, not the fake one */
	assert_int_equal(loyal_close(db), LOYAL_OK);
}

static void test_db__clock_comes_from_options(void **state)
{
	test_env *env = *state;
	int64_t now = 0;
	assert_ok(env->db, loyal_now(env->db, &now));
	assert_int_equal(now, TEST_EPOCH_MS);
	env->now += DAY_MS;
	assert_ok(env->db, loyal_now(env->db, &now));
	assert_int_equal(now, TEST_EPOCH_MS + DAY_MS);
}

static void test_db__missing_file_without_create_is_not_found(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "missing.db", path);
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = 0;
	test_assert_open_fails(path, &opts, LOYAL_ENOTFOUND, path);
	opts.flags = LOYAL_OPEN_READONLY;
	test_assert_open_fails(path, &opts, LOYAL_ENOTFOUND, "does not exist");
	struct stat info;
	assert_int_equal(stat(path, &info), -1);
}

static void test_db__readonly_open_reads_and_refuses_writes(void **state)
{
	test_env *env = *state;
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = LOYAL_OPEN_READONLY;
	loyal_db *reader = NULL;
	assert_rc(reader, LOYAL_OK, loyal_open(env->path, &opts, &reader));
	assert_ok(reader, loyal_verify(reader));
	assert_rc(reader, LOYAL_EREADONLY, ly_store_begin(reader->store));
	assert_non_null(strstr(loyal_errmsg(reader), "read-only"));
	assert_int_equal(loyal_close(reader), LOYAL_OK);
}

static void test_db__two_handles_share_one_file(void **state)
{
	test_env *env = *state;
	loyal_db *second = NULL;
	loyal_open_options opts;
	test_options(env, &opts);
	assert_rc(second, LOYAL_OK, loyal_open(env->path, &opts, &second));
	assert_ok(second, ly_store_begin(second->store));
	assert_ok(second, ly_store_commit(second->store));
	assert_ok(env->db, ly_store_begin(env->db->store));
	assert_ok(env->db, ly_store_commit(env->db->store));
	assert_ok(second, loyal_verify(second));
	assert_ok(env->db, loyal_verify(env->db));
	assert_int_equal(loyal_close(second), LOYAL_OK);
}

static void test_db__second_writer_waits_then_reports_busy(void **state)
{
	test_env *env = *state;
	test_sqlite_only(); /* one writer at a time is the file's (tests/postgres has the server's) */
	loyal_db *second = NULL;
	loyal_open_options opts;
	test_options(env, &opts);
	opts.busy_timeout_ms = 50;
	assert_rc(second, LOYAL_OK, loyal_open(env->path, &opts, &second));
	assert_ok(env->db, ly_store_begin(env->db->store));
	assert_rc(second, LOYAL_EBUSY, ly_store_begin(second->store));
	assert_non_null(strstr(loyal_errmsg(second), "write transaction"));
	ly_store_rollback(env->db->store);
	assert_ok(second, ly_store_begin(second->store));
	ly_store_rollback(second->store);
	assert_int_equal(loyal_close(second), LOYAL_OK);
}

/* A credit on a second handle that waits for the first handle's writer, for the thread below. */
typedef struct waiting_credit {
	loyal_db *db;
	int rc;
	atomic_bool done;
} waiting_credit;

static void *credit_alice(void *arg)
{
	waiting_credit *w = arg;
	loyal_posting p = test_posting("alice", "points", 5, "waited");
	w->rc = loyal_ledger_credit(w->db, &p, NULL);
	atomic_store(&w->done, true);
	return NULL;
}

static void test_db__interrupt_stops_a_call_waiting_for_a_writer(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}]}");
	loyal_posting first = test_posting("alice", "points", 10, "first");
	assert_ok(env->db, loyal_ledger_credit(env->db, &first, NULL));
	loyal_db *second = NULL;
	loyal_open_options opts;
	test_options(env, &opts);
	opts.busy_timeout_ms = 600000; /* the wait ends by the interrupt, or the test hangs */
	assert_rc(second, LOYAL_OK, loyal_open(env->path, &opts, &second));
	assert_int_equal(loyal_interrupt(second), LOYAL_OK); /* no call runs: nothing to stop */
	loyal_balance b = LOYAL_BALANCE_INIT;
	assert_ok(second, loyal_ledger_balance(second, "alice", "points", 0, &b));
	assert_int_equal(b.available, 10);

	/* The first handle writes alice in a batch: the second one's credit waits for it. */
	assert_ok(env->db, loyal_batch_begin(env->db));
	loyal_posting held = test_posting("alice", "points", 1, "in-batch");
	assert_ok(env->db, loyal_ledger_credit(env->db, &held, NULL));
	waiting_credit w = {.db = second};
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, credit_alice, &w), 0);
	/* Interrupts until the call stops: one sent before the call began is for no call. */
	struct timespec pause = {0, 20 * 1000000L};
	while (!atomic_load(&w.done)) {
		nanosleep(&pause, NULL);
		assert_int_equal(loyal_interrupt(second), LOYAL_OK);
	}
	pthread_join(thread, NULL);
	assert_int_equal(w.rc, LOYAL_EINTERRUPTED);
	assert_non_null(strstr(loyal_errmsg(second), "interrupted"));
	assert_ok(env->db, loyal_batch_commit(env->db));

	/* The interrupted credit wrote nothing, not even its key: the retry is a first call. */
	loyal_posting retry = test_posting("alice", "points", 5, "waited");
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(second, loyal_ledger_credit(second, &retry, &result));
	assert_false(result.replayed);
	assert_ok(second, loyal_ledger_balance(second, "alice", "points", 0, &b));
	assert_int_equal(b.available, 16);
	assert_ok(second, loyal_verify(second));
	assert_int_equal(loyal_interrupt(NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_close(second), LOYAL_OK);
}

static void test_db__bad_open_arguments_are_rejected(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "args.db", path);
	assert_int_equal(loyal_open(path, NULL, NULL), LOYAL_EINVAL);
	test_assert_open_fails(NULL, NULL, LOYAL_EINVAL, "path is NULL");
	test_assert_open_fails("", NULL, LOYAL_EINVAL, "path is empty");
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.version = 99;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "options.version");
	opts.version = LOYAL_OPEN_OPTIONS_VERSION;
	opts.flags = 0x80;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "unknown bits");
	opts.flags = LOYAL_OPEN_CREATE | LOYAL_OPEN_READONLY;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "exclude each other");
	opts.flags = LOYAL_OPEN_CREATE;
	opts.busy_timeout_ms = -1;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "busy_timeout_ms");
	opts.busy_timeout_ms = 0;
	opts.wal_limit_bytes = 4096;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "wal_limit_bytes is 4096");
	opts.wal_limit_bytes = 0;
	opts.durability = 7;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "options.durability is 7");
	opts.durability = 0;
	opts.backend = 9;
	test_assert_open_fails(path, &opts, LOYAL_EINVAL, "options.backend is 9");
	test_assert_open_fails(env->dir, NULL, LOYAL_EIO, "is a directory");
	struct stat info;
	assert_int_equal(stat(path, &info), -1); /* no rejected open created the file */
}

/* A version-1 options struct (a caller built against the older header) opens with the
 * defaults of the fields it lacks; version 2 sets the WAL limit and the durability (each of
 * the three). */
static void test_db__open_takes_options_of_each_version(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "v1.db", path);
	struct {
		unsigned int version, flags;
		int busy_timeout_ms;
		loyal_clock_fn clock;
		void *clock_ctx;
	} v1 = {1, LOYAL_OPEN_CREATE, 0, NULL, NULL};
	loyal_db *db = NULL;
	assert_ok(db, loyal_open(path, (const loyal_open_options *)(const void *)&v1, &db));
	int64_t value = 0;
	assert_int_equal(test_pragma(db, "PRAGMA synchronous", &value), 0);
	assert_int_equal(value, 1); /* NORMAL */
	assert_int_equal(test_pragma(db, "PRAGMA journal_size_limit", &value), 0);
	assert_int_equal(value, INT64_C(64) * 1024 * 1024);
	loyal_close(db);
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.wal_limit_bytes = 2 * 1024 * 1024;
	opts.durability = LOYAL_DURABILITY_POWER;
	assert_ok(db, loyal_open(path, &opts, &db));
	assert_int_equal(test_pragma(db, "PRAGMA synchronous", &value), 0);
	assert_int_equal(value, 2); /* FULL */
	assert_int_equal(test_pragma(db, "PRAGMA journal_size_limit", &value), 0);
	assert_int_equal(value, 2 * 1024 * 1024);
	assert_int_equal(test_pragma(db, "PRAGMA wal_autocheckpoint", &value), 0);
	assert_int_equal(value, 512); /* 2 MiB of 4 KiB pages */
	loyal_close(db);
	/* A scratch file is never synced; what it commits is there when it opens again. */
	opts = (loyal_open_options)LOYAL_OPEN_OPTIONS_INIT;
	opts.durability = LOYAL_DURABILITY_SCRATCH;
	assert_ok(db, loyal_open(path, &opts, &db));
	assert_int_equal(test_pragma(db, "PRAGMA synchronous", &value), 0);
	assert_int_equal(value, 0); /* OFF */
	int64_t version = 0;
	assert_ok(db, loyal_program_apply(db, "{\"currencies\": [{\"name\": \"points\"}]}",
					  &version));
	loyal_close(db);
	assert_ok(db, loyal_open(path, NULL, &db));
	char *program = NULL;
	assert_ok(db, loyal_program_get(db, &program));
	assert_non_null(strstr(program, "\"points\""));
	loyal_free(program);
	loyal_close(db);
}

static void test_db__null_handle_is_rejected_everywhere(void **state)
{
	(void)state;
	int64_t now;
	assert_int_equal(loyal_verify(NULL), LOYAL_EINVAL);
	assert_int_equal(loyal_now(NULL, &now), LOYAL_EINVAL);
	assert_int_equal(loyal_errcode(NULL), LOYAL_EINVAL);
	assert_non_null(loyal_errmsg(NULL));
	assert_int_equal(loyal_close(NULL), LOYAL_OK);
	loyal_free(NULL);
}

static void test_db__null_outputs_are_rejected(void **state)
{
	test_env *env = *state;
	assert_rc(env->db, LOYAL_EINVAL, loyal_now(env->db, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "out_ms"));
	/* The next successful call clears the message. */
	assert_ok(env->db, loyal_verify(env->db));
	assert_string_equal(loyal_errmsg(env->db), "ok");
}

static void test_db__options_init_fills_defaults(void **state)
{
	(void)state;
	loyal_open_options opts;
	memset(&opts, 0xff, sizeof opts);
	assert_int_equal(loyal_open_options_init(&opts, LOYAL_OPEN_OPTIONS_VERSION), LOYAL_OK);
	assert_int_equal(opts.version, LOYAL_OPEN_OPTIONS_VERSION);
	assert_int_equal(opts.flags, LOYAL_OPEN_CREATE);
	assert_int_equal(opts.busy_timeout_ms, 0);
	assert_null(opts.clock);
	assert_int_equal(opts.wal_limit_bytes, 0);
	assert_int_equal(opts.durability, LOYAL_DURABILITY_PROCESS);
	assert_int_equal(opts.backend, LOYAL_BACKEND_AUTO);
	/* A caller built against version 2 has no backend: it stays as it was. */
	memset(&opts, 0xff, sizeof opts);
	assert_int_equal(loyal_open_options_init(&opts, 2), LOYAL_OK);
	assert_int_equal(opts.durability, LOYAL_DURABILITY_PROCESS);
	assert_int_equal(opts.backend, -1);
	/* A caller built against version 1 has a shorter struct: only its fields are written. */
	memset(&opts, 0xff, sizeof opts);
	assert_int_equal(loyal_open_options_init(&opts, 1), LOYAL_OK);
	assert_int_equal(opts.version, 1);
	assert_int_equal(opts.flags, LOYAL_OPEN_CREATE);
	assert_int_equal(opts.durability, -1); /* untouched */
	assert_int_equal(loyal_open_options_init(&opts, LOYAL_OPEN_OPTIONS_VERSION + 1),
			 LOYAL_EINVAL);
	assert_int_equal(loyal_open_options_init(NULL, LOYAL_OPEN_OPTIONS_VERSION), LOYAL_EINVAL);
}

static void test_db__versions_match_the_header(void **state)
{
	(void)state;
	assert_string_equal(loyal_version(), LOYAL_VERSION_STRING);
	assert_int_equal(loyal_version_number(), LOYAL_VERSION_NUMBER);
}

static void test_db__every_code_has_a_name(void **state)
{
	(void)state;
	assert_string_equal(loyal_errstr(LOYAL_OK), "LOYAL_OK");
	for (int code = LOYAL_EINVAL; code >= LOYAL_EINTERRUPTED; code--) {
		const char *name = loyal_errstr(code);
		assert_true(strncmp(name, "LOYAL_E", 7) == 0);
		assert_string_not_equal(name, "LOYAL_EUNKNOWN");
		for (int other = LOYAL_EINVAL; other > code; other--)
			assert_string_not_equal(name, loyal_errstr(other));
	}
	assert_string_equal(loyal_errstr(LOYAL_EINTERRUPTED - 1), "LOYAL_EUNKNOWN");
	assert_string_equal(loyal_errstr(1), "LOYAL_EUNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)
		CASE(test_db__reopen_keeps_the_database),
		CASE(test_db__null_options_mean_defaults),
		CASE(test_db__clock_comes_from_options),
		CASE(test_db__missing_file_without_create_is_not_found),
		CASE(test_db__readonly_open_reads_and_refuses_writes),
		CASE(test_db__two_handles_share_one_file),
		CASE(test_db__second_writer_waits_then_reports_busy),
		CASE(test_db__interrupt_stops_a_call_waiting_for_a_writer),
		CASE(test_db__bad_open_arguments_are_rejected),
		CASE(test_db__open_takes_options_of_each_version),
		CASE(test_db__null_handle_is_rejected_everywhere),
		CASE(test_db__null_outputs_are_rejected),
		CASE(test_db__options_init_fills_defaults),
		CASE(test_db__versions_match_the_header),
		CASE(test_db__every_code_has_a_name),
#undef CASE
	};
	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
