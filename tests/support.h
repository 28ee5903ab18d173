/* support.h - what the C tests share: a fresh database in a temporary folder, a fake clock. */
#ifndef LOYAL_TEST_SUPPORT_H
#define LOYAL_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loyal.h"

/* 2026-01-01T00:00:00Z, where every fake clock starts. */
#define TEST_EPOCH_MS INT64_C(1767225600000)
#define DAY_MS INT64_C(86400000)

typedef struct test_env {
	char dir[256];
	char path[320]; /* dir/loyal.db */
	int64_t now;    /* the fake clock, in Unix milliseconds */
	loyal_db *db;
} test_env;

/* Whether the tests run on PostgreSQL: LOYAL_TEST_POSTGRES is the libpq URI or conninfo of a
 * test cluster's maintenance database (make test starts one), where each test gets a new
 * database; without it, each test gets a new SQLite file. */
bool test_on_postgres(void);
/* Skips the test when the tests run on PostgreSQL: the first line of a test about the SQLite
 * file (its format, its connection, rewriting it behind the library's back). */
void test_sqlite_only(void);
/* Makes a fresh, empty store location into out: a new database on the test cluster, or the
 * path of `name` in folder `dir`; false when the cluster refuses. test_drop_location deletes
 * a database it made (files are deleted with their folder). */
bool test_new_location(const char *dir, const char *name, char *out, size_t size);
void test_drop_location(const char *location);
/* cmocka setup/teardown: a temporary folder, a database opened in it (or on the test cluster)
 * with the fake clock. */
int test_setup(void **state);
int test_teardown(void **state);
/* test_setup, then a program of one currency, "points". */
int test_setup_points(void **state);

/* Closes the env's handle (before forking writers, so that they inherit none of its memory)
 * and opens it again. */
void test_close_db(test_env *env);
void test_reopen_db(test_env *env);
/* Runs `sql` on the file at path behind the library's back, as another application would
 * (plain SQLite, with the SQL functions the file's balances are read and written by). */
void test_exec_file(const char *path, const char *sql);
/* Closes the env's handle, changes the file with `sql` behind the library's back
 * (test_exec_file), and opens it again (which migrates a file made older). */
void test_rewrite_file(test_env *env, const char *sql);
/* What migration 17 changed, undone (for test_rewrite_file): a member's tier was a row of
 * member_tiers. */
#define UNDO_MIGRATION_17                                                                     \
	"CREATE TABLE member_tiers(member INTEGER PRIMARY KEY, tier TEXT NOT NULL,"           \
	"  since INTEGER NOT NULL, review_at INTEGER NOT NULL, grace_until INTEGER NOT NULL)" \
	"  STRICT;"                                                                           \
	"CREATE INDEX member_tiers_review ON member_tiers(review_at);"                        \
	"INSERT INTO member_tiers SELECT id, tier, tier_since, review_at, grace_until"        \
	"  FROM members WHERE tier <> '';"                                                    \
	"DROP INDEX members_review;"                                                          \
	"ALTER TABLE members DROP COLUMN tier; ALTER TABLE members DROP COLUMN tier_since;"   \
	"ALTER TABLE members DROP COLUMN review_at;"                                          \
	"ALTER TABLE members DROP COLUMN grace_until;"
/* What migration 22 changed, undone: an event's outcome was its JSON text (test_exec_file's
 * ly_outcome_json reads a record as the JSON the caller gets). */
#define UNDO_MIGRATION_22                                                                    \
	"CREATE TABLE events_22(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"            \
	"  type TEXT NOT NULL, at INTEGER NOT NULL, key TEXT NOT NULL,"                      \
	"  properties TEXT NOT NULL, outcome TEXT NOT NULL, request TEXT) STRICT;"           \
	"INSERT INTO events_22 SELECT id, member, type, at, key, properties,"                \
	"  ly_outcome_json(outcome, id), request FROM events;"                               \
	"DROP TABLE events; ALTER TABLE events_22 RENAME TO events;"
/* What migration 21 changed, undone: no outbox. */
#define UNDO_MIGRATION_21 \
	"DROP TABLE outbox; DROP TABLE outbox_consumers; DROP TABLE notices_sent;"
/* What migration 20 changed, undone: a badge's history knew only awards earned; no tier was
 * assigned; no rule had a budget; no leaderboard. */
#define UNDO_MIGRATION_20                                                                   \
	"DROP INDEX badge_awards_member; ALTER TABLE badge_awards DROP COLUMN kind;"        \
	"CREATE INDEX badge_awards_member ON badge_awards(member, badge, level, at);"       \
	"DROP TABLE tier_assignments; DROP TABLE rule_budgets; DROP TABLE board_scores;"
/* What migration 19 changed, undone: no rewards. */
#define UNDO_MIGRATION_19                                                    \
	"DROP TABLE redemptions; DROP TABLE reward_stock; DROP TABLE coupon_codes;" \
	"DROP TABLE coupon_reservations;"
/* What migration 18 changed, undone: what members did per day was two tables of rows. */
#define UNDO_MIGRATION_18                                                                     \
	"CREATE TABLE activity(member INTEGER NOT NULL, type TEXT NOT NULL, day INTEGER NOT NULL," \
	"  count INTEGER NOT NULL, sums TEXT, PRIMARY KEY(member, type, day))"                 \
	"  STRICT, WITHOUT ROWID;"                                                            \
	"CREATE TABLE rule_counters(member INTEGER NOT NULL, rule TEXT NOT NULL,"             \
	"  currency INTEGER NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,"          \
	"  PRIMARY KEY(member, rule, currency, day)) STRICT, WITHOUT ROWID;"                  \
	"CREATE TEMP TABLE days AS SELECT m.id AS member, j.value AS v FROM members m,"       \
	"  json_each(ly_activity_json(m.activity)) j UNION ALL SELECT a.member, j.value FROM" \
	"  activity_archive a, json_each(ly_activity_json(a.data)) j;"                        \
	"INSERT INTO activity SELECT member, v ->> 1, v ->> 3, v ->> 4, iif(v ->> 5 = '{}',"  \
	"  NULL, v ->> 5) FROM days WHERE v ->> 0 = 0;"                                       \
	"INSERT INTO rule_counters SELECT member, v ->> 1, v ->> 2, v ->> 3, v ->> 4 FROM days" \
	"  WHERE v ->> 0 = 1;"                                                                \
	"DROP TABLE days; DROP TABLE activity_archive;"                                       \
	"ALTER TABLE members DROP COLUMN activity;"
/* Fills opts with defaults plus the env's fake clock. */
void test_options(test_env *env, loyal_open_options *opts);
/* Writes `path` inside the env's folder into out (size 320). */
void test_file(const test_env *env, const char *name, char *out);
/* The library's live allocations (tests/alloc_count.c, linked into the tests that wrap the
 * library's allocator). */
long test_live_allocations(void);
/* Runs a statement that returns one integer (a pragma) on the handle's own connection; returns
 * SQLite's result code. */
int test_pragma(loyal_db *db, const char *sql, int64_t *out);
/* Opens `path` expecting `expected`; checks the message names message_part and that the
 * handle refuses use (LOYAL_EMISUSE); closes it. */
void test_assert_open_fails(const char *path, const loyal_open_options *opts, int expected,
			    const char *message_part);
/* Reads a whole file; returns a malloc'd buffer and its size, or NULL. */
unsigned char *test_read_file(const char *path, size_t *size);

/* Asserts a call's result code, printing the handle's message when it differs. */
#define assert_rc(db, expected, call)                                                           \
	do {                                                                                     \
		int rc_ = (call);                                                                \
		if (rc_ != (expected))                                                           \
			print_error("%s returned %s (%s), expected %s\n", #call, loyal_errstr(rc_), \
				    loyal_errmsg(db), loyal_errstr(expected));                  \
		assert_int_equal(rc_, (expected));                                               \
	} while (0)

#define assert_ok(db, call) assert_rc(db, LOYAL_OK, call)

#endif /* LOYAL_TEST_SUPPORT_H */

/* ---- JSON the library hands back ---- */

struct json_t;
/* Parses text the library returned (asserting it is JSON) and frees it; a new reference. */
struct json_t *test_json(char *text);
/* object[key] as text (NULL when missing or not a string), or as an integer (0). */
const char *test_json_text(struct json_t *object, const char *key);
int64_t test_json_int(struct json_t *object, const char *key);

/* Runs `count` child processes at once, each opening `path` (a busy timeout of 30 s) and
 * making `tries` attempts (attempt(db, process, try)); an attempt may succeed or be refused
 * with `refusal`, anything else fails the test. Returns how many succeeded in all. */
int test_processes(const char *path, int count, int tries,
		   int (*attempt)(loyal_db *db, int process, int try), int refusal);

/* ---- ledger helpers ---- */

/* The program most ledger tests use: "points" (expire 365 days after earning, negative
 * clawback), "coins" (end of the month after the one earned, zero clawback), "xp" (earn-only,
 * never expires), "miles" (pending-only clawback). */
extern const char *const TEST_PROGRAM;

/* Applies a program document, asserting success. */
void test_apply(test_env *env, const char *program);
/* A posting for member/currency/amount under an idempotency key. */
loyal_posting test_posting(const char *member, const char *currency, int64_t amount,
			   const char *key);
/* Tracks a "purchase" event of {"amount": amount} under `key`, asserting success; returns its
 * outcome's JSON (the caller frees it with loyal_free). */
char *test_purchase(loyal_db *db, const char *member, int amount, const char *key);
/* The member's balance now (the fake clock), asserting success. */
loyal_balance test_balance(test_env *env, const char *member, const char *currency);
/* Counts the rows of a member's statement. */
int test_statement_length(test_env *env, const char *member);
