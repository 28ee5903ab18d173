/* test_file.c - the SQLite backend's file: identifying it, its modes, migrating older files,
 * refusing foreign, newer and damaged ones unchanged, checking it after a crash. */
#include "support.h"

#include "engine/handle.h"
#include "store/store.h"
#include "store/sqlite/sqlite.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define STAMP_LOYAL_VERSION_0 \
	"PRAGMA application_id = " STRINGIFY(STORE_APPLICATION_ID) "; PRAGMA user_version = 0;"

static void write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "wb");
	assert_non_null(file);
	fputs(text, file);
	fclose(file);
}

/* Asserts that opening `path` fails with `expected` and leaves its bytes as they were. */
static void assert_open_refused_unchanged(const char *path, int expected, const char *part)
{
	size_t before_size = 0, after_size = 0;
	unsigned char *before = test_read_file(path, &before_size);
	assert_non_null(before);
	test_assert_open_fails(path, NULL, expected, path);
	test_assert_open_fails(path, NULL, expected, part);
	unsigned char *after = test_read_file(path, &after_size);
	assert_non_null(after);
	assert_int_equal(before_size, after_size);
	assert_memory_equal(before, after, before_size);
	free(before);
	free(after);
}

static void test_file__open_creates_file_readable_by_owner_only(void **state)
{
	test_env *env = *state;
	assert_ok(env->db, loyal_program_apply(env->db, "{\"currencies\": [{\"name\": \"p\"}]}",
						NULL));
	const char *suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char path[340];
		snprintf(path, sizeof path, "%s%s", env->path, suffixes[i]);
		struct stat info;
		assert_int_equal(stat(path, &info), 0);
		assert_int_equal(info.st_mode & 0777, 0600);
	}
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_file__text_file_is_not_a_database_and_stays_unchanged(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "notes.txt", path);
	write_file(path, "These are not the points you are looking for.\n"
			 "A plain text file, long enough to fill SQLite's 100-byte header check, "
			 "and then some more words to be sure of it.\n");
	assert_open_refused_unchanged(path, LOYAL_ENOTADB, "not an SQLite file");
}

static void test_file__foreign_sqlite_file_is_refused_and_stays_unchanged(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "foreign.db", path);
	test_exec_file(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);"
			       "INSERT INTO customers(name) VALUES('Ada');");
	assert_open_refused_unchanged(path, LOYAL_ENOTADB, "another application");
}

static void test_file__newer_schema_is_refused_and_stays_unchanged(void **state)
{
	test_env *env = *state;
	assert_int_equal(loyal_close(env->db), LOYAL_OK);
	env->db = NULL;
	test_exec_file(env->path, "PRAGMA user_version = 999;");
	assert_open_refused_unchanged(env->path, LOYAL_EVERSION, "schema version 999");
}

static void test_file__empty_file_needs_create(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "empty.db", path);
	write_file(path, "");
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = 0;
	test_assert_open_fails(path, &opts, LOYAL_ENOTADB, "is empty");
	loyal_db *db = NULL;
	assert_rc(db, LOYAL_OK, loyal_open(path, NULL, &db));
	assert_ok(db, loyal_verify(db));
	assert_int_equal(loyal_close(db), LOYAL_OK);
}

static void test_file__version_0_file_is_migrated(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "v0.db", path);
	/* A loyal file stamped before any migration ran: the application id, schema version 0. */
	test_exec_file(path, STAMP_LOYAL_VERSION_0);
	loyal_db *db = NULL;
	assert_rc(db, LOYAL_OK, loyal_open(path, NULL, &db));
	int version = -1;
	assert_ok(db, ly_sqlite_schema_version(db->store, &version));
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_ok(db, loyal_verify(db));
	assert_int_equal(loyal_close(db), LOYAL_OK);
}

static void test_file__version_1_file_is_migrated_keeping_its_data(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "v1.db", path);
	test_exec_file(path, STAMP_LOYAL_VERSION_0);
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = 0;
	/* Build a version-1 file (only the metadata table) the way an old library did. */
	loyal_db *db = NULL;
	test_exec_file(path, "CREATE TABLE meta(key TEXT PRIMARY KEY, value ANY) STRICT, "
			       "WITHOUT ROWID; INSERT INTO meta VALUES('created_by', 'loyal 0.0.1');"
			       "PRAGMA user_version = 1;");
	assert_rc(db, LOYAL_OK, loyal_open(path, &opts, &db));
	int version = 0;
	assert_ok(db, ly_sqlite_schema_version(db->store, &version));
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_ok(db, loyal_program_apply(db, "{\"currencies\": [{\"name\": \"points\"}]}", NULL));
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = "alice";
	posting.currency = "points";
	posting.amount = 5;
	posting.idempotency_key = "k";
	assert_ok(db, loyal_ledger_credit(db, &posting, NULL));
	assert_ok(db, loyal_verify(db));
	assert_int_equal(loyal_close(db), LOYAL_OK);
	sqlite3 *raw = NULL;
	sqlite3_stmt *stmt = NULL;
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "SELECT value FROM meta WHERE key = 'created_by'",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "loyal 0.0.1");
	sqlite3_finalize(stmt);
	sqlite3_close(raw);
}

static void test_file__readonly_open_of_an_old_schema_asks_for_migration(void **state)
{
	test_env *env = *state;
	char path[320];
	test_file(env, "old.db", path);
	test_exec_file(path, STAMP_LOYAL_VERSION_0);
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.flags = LOYAL_OPEN_READONLY;
	test_assert_open_fails(path, &opts, LOYAL_EVERSION, "must be migrated");
}

static void test_file__damaged_file_fails_verify(void **state)
{
	test_env *env = *state;
	/* Give the file a few pages of data, then overwrite its second page with noise. */
	assert_int_equal(loyal_close(env->db), LOYAL_OK);
	env->db = NULL;
	test_exec_file(env->path, "CREATE TABLE filler(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION "
				    "ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO filler "
				    "SELECT randomblob(100) FROM n; PRAGMA wal_checkpoint(TRUNCATE);");
	FILE *file = fopen(env->path, "r+b");
	assert_non_null(file);
	assert_int_equal(fseek(file, 4096 + 8, SEEK_SET), 0);
	for (int i = 0; i < 3000; i++)
		fputc((i * 7919) & 0xff, file);
	fclose(file);
	loyal_open_options opts;
	test_options(env, &opts);
	int rc = loyal_open(env->path, &opts, &env->db);
	if (rc == LOYAL_OK)
		rc = loyal_verify(env->db);
	assert_int_equal(rc, LOYAL_ECORRUPT);
	assert_non_null(strstr(loyal_errmsg(env->db), env->path));
}

/* Fills the env's file with a table of 2,000 rows, closed cleanly, and returns its page count. */
static int64_t fill_file(test_env *env)
{
	test_close_db(env);
	test_exec_file(env->path, "CREATE TABLE filler(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION "
				    "ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO filler "
				    "SELECT randomblob(100) FROM n; PRAGMA wal_checkpoint(TRUNCATE);");
	struct stat info;
	assert_int_equal(stat(env->path, &info), 0);
	return (int64_t)info.st_size / 4096;
}

/* Zeroes page `page` (1-based) of the env's file behind the library's back. */
static void zero_page(test_env *env, int64_t page)
{
	FILE *file = fopen(env->path, "r+b");
	assert_non_null(file);
	assert_int_equal(fseek(file, (long)((page - 1) * 4096), SEEK_SET), 0);
	for (int i = 0; i < 4096; i++)
		fputc(0, file);
	fclose(file);
}

/* A page zeroed in the middle of a file closed cleanly is found by verify (not by reads that do
 * not touch it); from then on the handle refuses every write, naming the damage. */
static void test_file__writes_stop_at_the_first_sign_of_damage(void **state)
{
	test_env *env = *state;
	zero_page(env, fill_file(env) / 2);
	test_reopen_db(env);
	/* Writes that do not touch the damaged page go through until something sees it. */
	assert_ok(env->db, loyal_program_apply(env->db, TEST_PROGRAM, NULL));
	loyal_posting credit = test_posting("alice", "points", 10, "before-verify");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_ok(env->db, loyal_ledger_balance(env->db, "alice", "points", 0,
						&(loyal_balance)LOYAL_BALANCE_INIT)); /* reads go on */
	credit.idempotency_key = "after-verify";
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_ledger_credit(env->db, &credit, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "is damaged, so it takes no more writes"));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_batch_begin(env->db));
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "visit";
	event.idempotency_key = "after-verify";
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_track(env->db, &event, NULL));
}

/* A WAL left beside the file (a process that died) makes the next open check the file first. */
static void test_file__opening_after_a_crash_checks_the_file(void **state)
{
	test_env *env = *state;
	int64_t pages = fill_file(env);
	char wal[400];
	snprintf(wal, sizeof wal, "%s-wal", env->path);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) { /* writes one commit into the WAL, then dies without closing */
		loyal_db *db = NULL;
		loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
		if (loyal_open(env->path, &opts, &db) != LOYAL_OK ||
		    loyal_program_apply(db, TEST_PROGRAM, NULL) != LOYAL_OK)
			_exit(1);
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct stat info;
	assert_int_equal(stat(wal, &info), 0);
	assert_true(info.st_size > 0);
	zero_page(env, pages / 2);
	loyal_open_options opts;
	test_options(env, &opts);
	assert_int_equal(loyal_open(env->path, &opts, &env->db), LOYAL_ECORRUPT);
	assert_non_null(strstr(loyal_errmsg(env->db), "is damaged"));
}

/* Only regular files are opened: a FIFO would block open(2) forever, a device is no database. */
static void test_file__a_fifo_or_a_device_is_refused(void **state)
{
	test_env *env = *state;
	char fifo[320];
	test_file(env, "pipe.db", fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	test_assert_open_fails(fifo, NULL, LOYAL_EIO, "is a FIFO, not a database file");
	test_assert_open_fails("/dev/null", NULL, LOYAL_EIO, "is a character device");
	struct stat info;
	assert_int_equal(stat("/dev/null-wal", &info), -1); /* nothing left beside it */
}

/* A file every user may write is refused; an empty one another made is initialized private. */
static void test_file__file_modes_keep_the_points_private(void **state)
{
	test_env *env = *state;
	char path[320], wal[340];
	test_file(env, "open.db", path);
	FILE *file = fopen(path, "w");
	assert_non_null(file);
	fclose(file);
	assert_int_equal(chmod(path, 0666), 0);
	test_assert_open_fails(path, NULL, LOYAL_EIO, "may be written by every user (mode 0666)");
	assert_int_equal(chmod(path, 0644), 0);
	loyal_db *db = NULL;
	assert_ok(db, loyal_open(path, NULL, &db));
	assert_ok(db, loyal_program_apply(db, TEST_PROGRAM, NULL));
	struct stat info;
	assert_int_equal(stat(path, &info), 0);
	assert_int_equal(info.st_mode & 0777, 0640);
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_int_equal(stat(wal, &info), 0);
	assert_int_equal(info.st_mode & 0007, 0);
	loyal_close(db);
}

/* Found by fuzz_open: a negative schema version once indexed the migrations out of bounds. */
static void test_file__negative_schema_version_is_corrupt_and_stays_unchanged(void **state)
{
	test_env *env = *state;
	test_close_db(env);
	test_exec_file(env->path, "PRAGMA user_version = -252;");
	size_t size_before = 0, size_after = 0;
	unsigned char *before = test_read_file(env->path, &size_before);
	loyal_open_options opts;
	test_options(env, &opts);
	assert_int_equal(loyal_open(env->path, &opts, &env->db), LOYAL_ECORRUPT);
	assert_non_null(strstr(loyal_errmsg(env->db), "schema version -252"));
	unsigned char *after = test_read_file(env->path, &size_after);
	assert_int_equal(size_before, size_after);
	assert_memory_equal(before, after, size_before);
	free(before);
	free(after);
}

/* Found by fuzz_open: a file with our identity but not our tables is damaged, not a bug. */
static void test_file__file_without_our_tables_is_corrupt(void **state)
{
	test_env *env = *state;
	test_close_db(env);
	test_exec_file(env->path, "DROP TABLE txns; CREATE TABLE txns(id INTEGER PRIMARY KEY);");
	test_reopen_db(env);
	assert_int_equal(loyal_verify(env->db), LOYAL_ECORRUPT);
	assert_non_null(strstr(loyal_errmsg(env->db), "no such column"));
}

/* The balances blob: empty (SQLite hands it over as NULL) is whole; cut short, overlong or out
 * of currency order is not. */
static void test_file__balances_records_are_checked_whole(void **state)
{
	(void)state;
	assert_true(ly_sqlite_balances_valid(NULL, 0));
	const unsigned char one[] = {2, 0, 0, 0, 0, 0, 0, 0};    /* currency 1, no due */
	const unsigned char two[] = {4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char cut[] = {2, 0, 0, 0x80};
	assert_true(ly_sqlite_balances_valid(one, sizeof one));
	assert_false(ly_sqlite_balances_valid(two, sizeof two)); /* 2 before 1 */
	assert_false(ly_sqlite_balances_valid(cut, sizeof cut));
	balance_row row = {0};
	assert_true(ly_sqlite_balances_get(one, sizeof one, 1, &row));
	assert_true(row.due_at == INT64_MAX);
	assert_false(ly_sqlite_balances_get(one, sizeof one, 2, &row));
	assert_false(ly_sqlite_balances_get(NULL, 0, 1, &row));
}

/* A member's balances that are not whole records are damage: reads and writes say so, by
 * member, and verify finds them. */
static void test_file__damaged_balances_are_corrupt(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_posting credit = test_posting("alice", "points", 100, "earn");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	test_rewrite_file(env, "UPDATE members SET balances = X'ff' WHERE external_id = 'alice'");
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_rc(env->db, LOYAL_ECORRUPT,
		  loyal_ledger_balance(env->db, "alice", "points", 0, &balance));
	assert_non_null(strstr(loyal_errmsg(env->db), "balances are damaged"));
	credit.idempotency_key = "more";
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_ledger_credit(env->db, &credit, NULL));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
}

static void test_file__open_lots_records_are_checked_whole(void **state)
{
	(void)state;
	assert_true(ly_sqlite_lots_valid(NULL, 0));
	/* currency 1, lot 1, 5 left, never expires (0), active; then lot 2 of currency 1 */
	const unsigned char one[] = {2, 2, 10, 0, 0};
	const unsigned char two[] = {2, 2, 10, 0, 0, 2, 4, 10, 0, 0};
	const unsigned char disordered[] = {2, 4, 10, 0, 0, 2, 2, 10, 0, 0};
	const unsigned char empty_lot[] = {2, 2, 0, 0, 0};
	const unsigned char cut[] = {2, 2, 10, 0x80};
	assert_true(ly_sqlite_lots_valid(one, sizeof one));
	assert_true(ly_sqlite_lots_valid(two, sizeof two));
	assert_false(ly_sqlite_lots_valid(disordered, sizeof disordered));
	assert_false(ly_sqlite_lots_valid(empty_lot, sizeof empty_lot));
	assert_false(ly_sqlite_lots_valid(cut, sizeof cut));
	const unsigned char *at = two, *end = two + sizeof two;
	open_lot lot;
	assert_true(ly_sqlite_lot_next(&at, end, &lot));
	assert_int_equal(lot.id, 1);
	assert_int_equal(lot.remaining, 5);
	assert_true(lot.expires_at == INT64_MAX);
	assert_true(ly_sqlite_lot_next(&at, end, &lot));
	assert_int_equal(lot.id, 2);
	assert_false(ly_sqlite_lot_next(&at, end, &lot));
}

/* Runs a one-value query on a connection with the backend's SQL functions: its code, and its
 * text (or error message) copied into out. */
static int query_text(const char *sql, char *out, size_t size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(ly_sqlite_functions(db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	int rc = sqlite3_step(stmt);
	const char *text = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0)
					    : sqlite3_errmsg(db);
	snprintf(out, size, "%s", text ? text : "");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return rc;
}

/* ly_lots_apply replaces, adds and closes lots in one pass, keeping consumption order; stored
 * lots that are damaged and changes that are not a lot's state are refused. */
static void test_file__lot_changes_keep_the_open_lots_in_order(void **state)
{
	(void)state;
	char text[256];
	/* Stored: lots 1 (expiring at 1000) and 3 (3000). Changes: lot 1 closed (X'020200D10F00')
	 * and lot 2, expiring at 2000, added (X'02040AA11F00'). */
	assert_int_equal(query_text("SELECT ly_lots_json(ly_lots_apply((SELECT ly_lots_pack(column1,"
				    " column2, column3, column4, column5) FROM (VALUES (1, 1, 5, 1000,"
				    " 0), (1, 3, 5, 3000, 0))), X'020200D10F0002040AA11F00'))",
				    text, sizeof text),
			 SQLITE_ROW);
	assert_string_equal(text, "[[1,2,5,2000,0],[1,3,5,3000,0]]");
	assert_int_equal(query_text("SELECT ly_lots_apply(X'ff', X'')", text, sizeof text),
			 SQLITE_CORRUPT);
	assert_non_null(strstr(text, "open lots are damaged"));
	/* Currency 0 is no lot's. */
	assert_int_equal(query_text("SELECT ly_lots_apply(X'', X'000200D10F00')", text, sizeof text),
			 SQLITE_MISUSE);
	assert_non_null(strstr(text, "a lot change is not whole"));
	assert_int_equal(query_text("SELECT ly_lots_apply(X'', X'0202')", text, sizeof text),
			 SQLITE_MISUSE);
}

/* A member's open lots that are not whole records are damage: spending and verify say so. */
static void test_file__damaged_open_lots_are_corrupt(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_posting credit = test_posting("alice", "points", 100, "earn");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	test_rewrite_file(env, "UPDATE members SET lots = X'ff' WHERE external_id = 'alice'");
	loyal_posting debit = test_posting("alice", "points", 10, "spend");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_ledger_debit(env->db, &debit, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "open lots are damaged"));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
}

/* Verify holds the open lots in the member rows to the lots and their moves. */
static void test_file__verify_checks_the_open_lots_against_their_moves(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_posting credit = test_posting("alice", "points", 100, "earn");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	loyal_posting debit = test_posting("alice", "points", 30, "spend");
	assert_ok(env->db, loyal_ledger_debit(env->db, &debit, NULL));
	assert_ok(env->db, loyal_verify(env->db));
	/* The row says the lot expires later than the lot does. */
	test_rewrite_file(env, "UPDATE members SET lots = (SELECT ly_lots_pack(j.value ->> 0,"
			       " j.value ->> 1, j.value ->> 2, (j.value ->> 3) + 1, j.value ->> 4)"
			       " FROM json_each(ly_lots_json(lots)) j)");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "is missing or not as that row says"));
	/* One point more than the moves left, in the row: the balance disagrees first. */
	test_rewrite_file(env, "UPDATE members SET lots = (SELECT ly_lots_pack(j.value ->> 0,"
			       " j.value ->> 1, (j.value ->> 2) + 1, j.value ->> 3, j.value ->> 4)"
			       " FROM json_each(ly_lots_json(lots)) j)");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "active lots hold 71"));
	/* The row names a lot that does not exist, with what the real one has left. */
	test_rewrite_file(env, "UPDATE members SET lots = (SELECT ly_lots_pack(j.value ->> 0,"
			       " (j.value ->> 1) + 1000, (j.value ->> 2) - 1, j.value ->> 3,"
			       " j.value ->> 4) FROM json_each(ly_lots_json(lots)) j)");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "has 0 points left, its moves add up to 70"));
}

/* A badge award that no version of the program defined (a badge, or a level of it) is damage,
 * as a flipped bit in its row would leave it. */
static const char *const BADGE_PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}], \"badges\": [{\"name\": \"founder\","
	" \"criterion\": \"count(post) >= 100\"}, {\"name\": \"writer\", \"levels\": ["
	" {\"name\": \"bronze\", \"criterion\": \"count(post) >= 3\"},"
	" {\"name\": \"silver\", \"criterion\": \"count(post) >= 5\"}]}]}";

static void test_file__verify_finds_a_badge_award_the_program_never_defined(void **state)
{
	test_env *env = *state;
	test_apply(env, BADGE_PROGRAM);
	loyal_posting credit = test_posting("alice", "points", 5, "earn");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "founder", NULL, "first", NULL));
	assert_ok(env->db, loyal_badge_grant(env->db, "alice", "writer", "bronze", "posts", NULL));
	assert_ok(env->db, loyal_verify(env->db));
	static const char *const damage[] = {
		"UPDATE badge_awards SET badge = 'foundes' WHERE badge = 'founder'",
		"UPDATE badge_awards SET level = 'bronze' WHERE badge = 'founder'",
		"UPDATE badge_awards SET level = 'gold' WHERE badge = 'writer'",
		"UPDATE badge_awards SET level = '' WHERE badge = 'writer'",
		"UPDATE badge_awards SET member = member + 100",
		"UPDATE badge_awards SET kind = 7",
	};
	for (size_t i = 0; i < sizeof damage / sizeof *damage; i++) {
		/* Damage, check, and the file as it was. */
		test_close_db(env);
		char sql[200];
		snprintf(sql, sizeof sql, "CREATE TABLE kept AS SELECT * FROM badge_awards; %s",
			 damage[i]);
		test_exec_file(env->path, sql);
		test_reopen_db(env);
		assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
		assert_non_null(strstr(loyal_errmsg(env->db), "no version of the program defined"));
		test_rewrite_file(env, "DELETE FROM badge_awards; INSERT INTO badge_awards SELECT *"
				       " FROM kept; DROP TABLE kept");
		assert_ok(env->db, loyal_verify(env->db));
	}
}

/* A member's entry lost from the index of members' ids hides them from every call (quick_check
 * does not see it): verify holds each index to its table. */
static void test_file__verify_finds_an_index_that_lost_a_member(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_posting credit = test_posting("alice", "points", 5, "earn");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	credit = test_posting("bob", "points", 7, "earn");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	test_close_db(env);
	sqlite3 *raw = NULL;
	sqlite3_stmt *stmt = NULL;
	assert_int_equal(sqlite3_open(env->path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "SELECT rootpage, (SELECT page_size FROM"
						 " pragma_page_size) FROM sqlite_schema WHERE"
						 " tbl_name = 'members' AND type = 'index' AND"
						 " sql IS NULL",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int64_t root = sqlite3_column_int64(stmt, 0), page_size = sqlite3_column_int64(stmt, 1);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_close(raw), SQLITE_OK); /* the WAL copied back: the file is whole */
	/* bob's entry in the index now reads "boc": a key that names no row. */
	FILE *file = fopen(env->path, "r+b");
	assert_non_null(file);
	unsigned char page[65536];
	assert_int_equal(fseek(file, (long)((root - 1) * page_size), SEEK_SET), 0);
	assert_int_equal(fread(page, 1, (size_t)page_size, file), (size_t)page_size);
	int64_t at = 0;
	while (at + 3 <= page_size && memcmp(page + at, "bob", 3) != 0)
		at++;
	assert_true(at + 3 <= page_size);
	page[at + 2] = 'c';
	assert_int_equal(fseek(file, (long)((root - 1) * page_size), SEEK_SET), 0);
	assert_int_equal(fwrite(page, 1, (size_t)page_size, file), (size_t)page_size);
	assert_int_equal(fclose(file), 0);
	test_reopen_db(env);
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_rc(env->db, LOYAL_ENOTFOUND,
		  loyal_ledger_balance(env->db, "bob", "points", 0, &balance));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "is damaged"));
	assert_non_null(strstr(loyal_errmsg(env->db), env->path));
}

/* A key whose slot another key holds (a true collision of their 64-bit hashes, made here by
 * filing the other key's record in its slot) is recorded apart, replayed from there, and its
 * file verifies. */
static void test_file__a_key_whose_hash_collides_is_kept_apart(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_posting first = test_posting("alice", "points", 10, "first");
	assert_ok(env->db, loyal_ledger_credit(env->db, &first, NULL));
	char sql[256];
	snprintf(sql, sizeof sql,
		 "INSERT INTO idem(hash, record) VALUES(ly_idem_slot(1, %lld), 1)",
		 (long long)XXH3_64bits("second", strlen("second")));
	test_rewrite_file(env, sql);
	loyal_posting second = test_posting("alice", "points", 20, "second");
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &second, &result));
	assert_int_equal(result.replayed, 0);
	int64_t apart = 0;
	assert_int_equal(test_pragma(env->db, "SELECT count(*) FROM idem_collisions", &apart),
			 SQLITE_OK);
	assert_int_equal(apart, 1);
	int64_t txn = result.txn;
	result = (loyal_result)LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &second, &result));
	assert_int_equal(result.replayed, 1);
	assert_int_equal(result.txn, txn);
	second.amount = 21;
	assert_rc(env->db, LOYAL_ECONFLICT, loyal_ledger_credit(env->db, &second, NULL));
	result = (loyal_result)LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_credit(env->db, &first, &result));
	assert_int_equal(result.replayed, 1);
	assert_int_equal(test_balance(env, "alice", "points").available, 30);
	assert_ok(env->db, loyal_verify(env->db));
	/* The same for an event's key, whose record is then a row of idem_records. */
	snprintf(sql, sizeof sql,
		 "INSERT INTO idem(hash, record) VALUES(ly_idem_slot(1, %lld), 1)",
		 (long long)XXH3_64bits("checked", strlen("checked")));
	test_rewrite_file(env, sql);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "check_in";
	event.idempotency_key = "checked";
	char *outcome = NULL;
	assert_ok(env->db, loyal_track(env->db, &event, &outcome));
	assert_non_null(strstr(outcome, "\"replayed\":false"));
	loyal_free(outcome);
	assert_ok(env->db, loyal_track(env->db, &event, &outcome));
	assert_non_null(strstr(outcome, "\"replayed\":true"));
	loyal_free(outcome);
	assert_int_equal(test_pragma(env->db, "SELECT count(*) FROM idem_collisions", &apart),
			 SQLITE_OK);
	assert_int_equal(apart, 2);
	assert_ok(env->db, loyal_verify(env->db));
	/* A record found neither through its slot nor apart is damage. */
	test_rewrite_file(env, "DELETE FROM idem_collisions");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "cannot be found by its key"));
}

/* A day's activity sums that are not a JSON object are damage: adding to them is refused. */
static void test_file__damaged_activity_is_corrupt(void **state)
{
	test_env *env = *state;
	test_apply(env, TEST_PROGRAM);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchase";
	event.idempotency_key = "p1";
	event.properties = "{\"amount\": 5}";
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
	event.type = "check_in";
	event.idempotency_key = "c1";
	event.properties = NULL;
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
	/* The last day (a check-in's) cut short: a read of the purchases, which it does not
	 * reach, reads them; a read of the check-ins, the next event and verify say so; nothing
	 * is recorded. */
	test_rewrite_file(env, "UPDATE members SET activity = substr(activity, 1, length(activity)"
			       " - 1) WHERE external_id = 'alice'");
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_eval(env->db, "count(purchase)", "alice", NULL, &json));
	assert_string_equal(json, "{\"type\":\"whole number\",\"value\":1}");
	loyal_free(json);
	assert_rc(env->db, LOYAL_ECORRUPT,
		  loyal_criteria_eval(env->db, "count(check_in)", "alice", NULL, &json));
	assert_non_null(strstr(loyal_errmsg(env->db), "activity is damaged"));
	event.type = "purchase";
	event.idempotency_key = "p2";
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_track(env->db, &event, NULL));
	assert_non_null(strstr(loyal_errmsg(env->db), "activity is damaged"));
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "activity"));
	int64_t events = 0;
	assert_int_equal(test_pragma(env->db, "SELECT count(*) FROM events", &events), SQLITE_OK);
	assert_int_equal(events, 2);
}

/* The test program applied, and alice's check-in "c1" tracked; the event, to track again. */
static loyal_event alice_checks_in(test_env *env)
{
	test_apply(env, TEST_PROGRAM);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "check_in";
	event.idempotency_key = "c1";
	assert_ok(env->db, loyal_track(env->db, &event, NULL));
	return event;
}

/* Sets alice's activity to `series` series of one day each ("a", then "t001" onwards), with
 * the last listed a second time at the end when `twice`. */
static void set_activity_series(test_env *env, int series, bool twice)
{
	char again[128] = "X''", sql[1024];
	if (twice)
		snprintf(again, sizeof again, "substr((SELECT ly_activity_pack(0, 't%03d', 0, 100, 1,"
			 " NULL)), 3)", series - 1);
	snprintf(sql, sizeof sql,
		 "UPDATE members SET activity = CAST((WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		 " SELECT i + 1 FROM n WHERE i < %d) SELECT ly_activity_pack(0, name, 0, 100, 1, NULL)"
		 " FROM (SELECT 'a' AS name UNION ALL SELECT printf('t%%03d', i) FROM n)) || %s AS"
		 " BLOB) WHERE external_id = 'alice'",
		 series - 1, again);
	test_rewrite_file(env, sql);
}

/* A series listed twice in a member's activity is damage, among a few series and among more
 * than the check keeps the heads of. */
static void test_file__activity_series_listed_twice_is_corrupt(void **state)
{
	test_env *env = *state;
	loyal_event event = alice_checks_in(env);
	static const int sizes[] = {3, 64, 65, 100};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		char key[16];
		snprintf(key, sizeof key, "ok%zu", i);
		event.idempotency_key = key;
		set_activity_series(env, sizes[i], false);
		assert_ok(env->db, loyal_track(env->db, &event, NULL));
		assert_ok(env->db, loyal_verify(env->db));
		snprintf(key, sizeof key, "twice%zu", i);
		set_activity_series(env, sizes[i], true);
		assert_rc(env->db, LOYAL_ECORRUPT, loyal_track(env->db, &event, NULL));
		assert_non_null(strstr(loyal_errmsg(env->db), "activity is damaged"));
		assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	}
}

/* A member's long history moves from their row to the archive; the windows read it whole, and
 * verify finds an archive chunk damaged or out of step with the row. */
static void test_file__long_activity_is_archived_and_checked(void **state)
{
	test_env *env = *state;
	test_apply(env, "{\"currencies\": [{\"name\": \"points\"}], \"events\": [\"visit\"]}");
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "visit";
	event.properties = "{\"minutes\": 3}";
	char key[32];
	for (int day = 0; day < 300; day++) {
		snprintf(key, sizeof key, "v%d", day);
		event.idempotency_key = key;
		assert_ok(env->db, loyal_track(env->db, &event, NULL));
		env->now += DAY_MS;
	}
	int64_t chunks = 0;
	assert_int_equal(test_pragma(env->db, "SELECT count(*) FROM activity_archive", &chunks),
			 SQLITE_OK);
	assert_true(chunks > 0);
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_eval(env->db, "count(visit, 3650d) == 300 and"
						       " sum(visit.minutes, 3650d) == 900 and"
						       " count(visit, 10d) == 9",
					       "alice", NULL, &json));
	assert_string_equal(json, "{\"type\":\"boolean\",\"value\":true}");
	loyal_free(json);
	assert_ok(env->db, loyal_verify(env->db));
	/* The row says it archived more than the archive has. */
	test_rewrite_file(env, "UPDATE activity_archive SET last_day = last_day - 1000 WHERE"
			       " last_day = (SELECT max(last_day) FROM activity_archive)");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "archived up to day"));
	/* A chunk cut short. */
	test_rewrite_file(env, "UPDATE activity_archive SET data = X'0102' WHERE"
			       " last_day = (SELECT min(last_day) FROM activity_archive)");
	assert_rc(env->db, LOYAL_ECORRUPT,
		  loyal_criteria_eval(env->db, "count(visit, 3650d) > 0", "alice", NULL, &json));
	assert_non_null(strstr(loyal_errmsg(env->db), "activity is damaged"));
}

/* A tracked event is its key's record: its slot names it, and verify finds an event whose
 * slot is lost, or a slot whose event is. */
static void test_file__an_event_is_found_by_its_key(void **state)
{
	test_env *env = *state;
	alice_checks_in(env);
	int64_t slots = 0;
	assert_int_equal(test_pragma(env->db, "SELECT count(*) FROM idem WHERE record = -1", &slots),
			 SQLITE_OK);
	assert_int_equal(slots, 1);
	assert_ok(env->db, loyal_verify(env->db));
	test_rewrite_file(env, "UPDATE idem SET record = -99 WHERE record = -1");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "names record -99"));
	test_rewrite_file(env, "DELETE FROM idem WHERE record = -99");
	assert_rc(env->db, LOYAL_ECORRUPT, loyal_verify(env->db));
	assert_non_null(strstr(loyal_errmsg(env->db), "cannot be found by its idempotency key"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, test_setup, test_teardown)
		CASE(test_file__open_creates_file_readable_by_owner_only),
		CASE(test_file__text_file_is_not_a_database_and_stays_unchanged),
		CASE(test_file__foreign_sqlite_file_is_refused_and_stays_unchanged),
		CASE(test_file__newer_schema_is_refused_and_stays_unchanged),
		CASE(test_file__empty_file_needs_create),
		CASE(test_file__version_0_file_is_migrated),
		CASE(test_file__version_1_file_is_migrated_keeping_its_data),
		CASE(test_file__readonly_open_of_an_old_schema_asks_for_migration),
		CASE(test_file__damaged_file_fails_verify),
		CASE(test_file__writes_stop_at_the_first_sign_of_damage),
		CASE(test_file__opening_after_a_crash_checks_the_file),
		CASE(test_file__a_fifo_or_a_device_is_refused),
		CASE(test_file__file_modes_keep_the_points_private),
		CASE(test_file__file_without_our_tables_is_corrupt),
		CASE(test_file__balances_records_are_checked_whole),
		CASE(test_file__damaged_balances_are_corrupt),
		CASE(test_file__open_lots_records_are_checked_whole),
		CASE(test_file__lot_changes_keep_the_open_lots_in_order),
		CASE(test_file__damaged_open_lots_are_corrupt),
		CASE(test_file__verify_checks_the_open_lots_against_their_moves),
		CASE(test_file__verify_finds_a_badge_award_the_program_never_defined),
		CASE(test_file__verify_finds_an_index_that_lost_a_member),
		CASE(test_file__a_key_whose_hash_collides_is_kept_apart),
		CASE(test_file__an_event_is_found_by_its_key),
		CASE(test_file__damaged_activity_is_corrupt),
		CASE(test_file__activity_series_listed_twice_is_corrupt),
		CASE(test_file__long_activity_is_archived_and_checked),
		CASE(test_file__negative_schema_version_is_corrupt_and_stays_unchanged),
#undef CASE
	};
	return cmocka_run_group_tests_name("sqlite file", tests, NULL, NULL);
}
