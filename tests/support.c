/* support.c - temporary databases and the fake clock for the C tests. */
#include "support.h"

#include "engine/handle.h"
#include "engine/outcome.h"
#include "store/sqlite/sqlite.h"

#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int64_t fake_clock(void *ctx)
{
	return ((test_env *)ctx)->now;
}

void test_options(test_env *env, loyal_open_options *opts)
{
	loyal_open_options defaults = LOYAL_OPEN_OPTIONS_INIT;
	*opts = defaults;
	opts->clock = fake_clock;
	opts->clock_ctx = env;
}

void test_file(const test_env *env, const char *name, char *out)
{
	snprintf(out, 320, "%s/%s", env->dir, name);
}

/* ---- the PostgreSQL cluster the tests may run on ---- */

bool test_on_postgres(void)
{
	const char *cluster = getenv("LOYAL_TEST_POSTGRES");
	return cluster && *cluster;
}

/* Runs one statement on the cluster's maintenance database; false (with the reason printed)
 * when it fails. */
static bool cluster_exec(const char *sql)
{
	PGconn *conn = PQconnectdb(getenv("LOYAL_TEST_POSTGRES"));
	PGresult *r = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, sql) : NULL;
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "test cluster: %s: %s\n", sql, PQerrorMessage(conn));
	PQclear(r);
	PQfinish(conn);
	return ok;
}

/* The value of a connection parameter of the cluster's conninfo, or "". */
static void cluster_param(const char *name, char *out, size_t size)
{
	PQconninfoOption *options = PQconninfoParse(getenv("LOYAL_TEST_POSTGRES"), NULL);
	*out = '\0';
	for (PQconninfoOption *o = options; o && o->keyword; o++)
		if (strcmp(o->keyword, name) == 0 && o->val)
			snprintf(out, size, "%s", o->val);
	PQconninfoFree(options);
}

void test_sqlite_only(void)
{
	if (test_on_postgres())
		skip();
}

bool test_new_location(const char *dir, const char *name, char *out, size_t size)
{
	if (!test_on_postgres()) {
		snprintf(out, size, "%s/%s", dir, name);
		return true;
	}
	static int made;
	char database[64], sql[128], host[200], user[64], port[16];
	snprintf(database, sizeof database, "loyal_t_%ld_%d", (long)getpid(), ++made);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0", database);
	cluster_param("host", host, sizeof host);
	cluster_param("user", user, sizeof user);
	cluster_param("port", port, sizeof port);
	snprintf(out, size, "postgresql:///%s?host=%s&user=%s%s%s", database, host, user,
		 *port ? "&port=" : "", port);
	return cluster_exec(sql);
}

void test_drop_location(const char *location)
{
	const char *name = strstr(location, ":///");
	if (!test_on_postgres() || !name || strncmp(location, "postgres", 8) != 0)
		return;
	char database[64], sql[128];
	snprintf(database, sizeof database, "%.*s", (int)strcspn(name + 4, "?"), name + 4);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", database);
	cluster_exec(sql);
}

int test_setup(void **state)
{
	test_env *env = calloc(1, sizeof *env);
	if (!env)
		return -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(env->dir, sizeof env->dir, "%s/loyal-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(env->dir)) {
		free(env);
		return -1;
	}
	if (!test_new_location(env->dir, "loyal.db", env->path, sizeof env->path)) {
		rmdir(env->dir);
		free(env);
		return -1;
	}
	env->now = TEST_EPOCH_MS;
	loyal_open_options opts;
	test_options(env, &opts);
	if (loyal_open(env->path, &opts, &env->db) != LOYAL_OK) {
		fprintf(stderr, "test_setup: %s\n", loyal_errmsg(env->db));
		loyal_close(env->db);
		free(env);
		return -1;
	}
	*state = env;
	return 0;
}

int test_setup_points(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, "{\"currencies\": [{\"name\": \"points\"}]}", NULL) ==
			       LOYAL_OK
		       ? 0
		       : -1;
}

int test_teardown(void **state)
{
	test_env *env = *state;
	loyal_close(env->db);
	test_drop_location(env->path);
	DIR *dir = opendir(env->dir);
	if (dir) {
		struct dirent *entry;
		char path[600];
		while ((entry = readdir(dir))) {
			if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof path, "%s/%s", env->dir, entry->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	rmdir(env->dir);
	free(env);
	return 0;
}

unsigned char *test_read_file(const char *path, size_t *size)
{
	FILE *file = fopen(path, "rb");
	if (!file)
		return NULL;
	unsigned char *data = NULL;
	size_t used = 0, capacity = 0;
	for (;;) {
		if (used == capacity) {
			capacity = capacity ? capacity * 2 : 4096;
			unsigned char *grown = realloc(data, capacity);
			if (!grown) {
				free(data);
				fclose(file);
				return NULL;
			}
			data = grown;
		}
		size_t got = fread(data + used, 1, capacity - used, file);
		used += got;
		if (got == 0)
			break;
	}
	fclose(file);
	*size = used;
	return data;
}

const char *const TEST_PROGRAM =
	"{\"currencies\": ["
	"{\"name\": \"points\", \"expiry\": {\"after_days\": 365}},"
	"{\"name\": \"coins\", \"expiry\": {\"end_of\": \"month\", \"periods\": 1},"
	" \"clawback\": \"zero\"},"
	"{\"name\": \"xp\", \"spendable\": false},"
	"{\"name\": \"miles\", \"clawback\": \"pending_only\"}]}";

void test_apply(test_env *env, const char *program)
{
	int64_t version = 0;
	assert_ok(env->db, loyal_program_apply(env->db, program, &version));
	assert_true(version > 0);
}

char *test_purchase(loyal_db *db, const char *member, int amount, const char *key)
{
	char properties[48];
	snprintf(properties, sizeof properties, "{\"amount\": %d}", amount);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = "purchase";
	event.idempotency_key = key;
	event.properties = properties;
	char *outcome = NULL;
	assert_ok(db, loyal_track(db, &event, &outcome));
	return outcome;
}

loyal_posting test_posting(const char *member, const char *currency, int64_t amount,
			   const char *key)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = member;
	posting.currency = currency;
	posting.amount = amount;
	posting.idempotency_key = key;
	return posting;
}

loyal_balance test_balance(test_env *env, const char *member, const char *currency)
{
	loyal_balance balance = LOYAL_BALANCE_INIT;
	assert_ok(env->db, loyal_ledger_balance(env->db, member, currency, 0, &balance));
	return balance;
}

int test_statement_length(test_env *env, const char *member)
{
	loyal_cursor *cursor = NULL;
	assert_ok(env->db, loyal_ledger_statement(env->db, member, NULL, 0, &cursor));
	int rows = 0;
	const char *row = NULL;
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row)
		rows++;
	loyal_cursor_free(cursor);
	return rows;
}

void test_close_db(test_env *env)
{
	if (env->db) /* closed already when a rewrite comes in parts */
		assert_int_equal(loyal_close(env->db), LOYAL_OK);
	env->db = NULL;
}

void test_reopen_db(test_env *env)
{
	loyal_open_options opts;
	test_options(env, &opts);
	int rc = loyal_open(env->path, &opts, &env->db);
	if (rc != LOYAL_OK)
		print_error("opening %s: %s\n", env->path, loyal_errmsg(env->db));
	assert_int_equal(rc, LOYAL_OK);
}

/* ly_outcome_json(outcome, event): a stored outcome as its JSON text, for the tests that undo
 * migration 22. */
static void outcome_json(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	ly_error error = {0};
	char *text = NULL;
	int rc = ly_outcome_text(&error, sqlite3_value_blob(argv[0]),
				 (size_t)sqlite3_value_bytes(argv[0]), sqlite3_value_int64(argv[1]),
				 &text);
	if (rc == LOYAL_OK)
		sqlite3_result_text(context, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_error(context, error.message, -1);
	ly_mem_free(text);
}

void test_exec_file(const char *path, const char *sql)
{
	if (strncmp(path, "postgres", 8) == 0)
		fail_msg("test_exec_file on PostgreSQL: the test must begin with test_sqlite_only()");
	sqlite3 *raw = NULL;
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(ly_sqlite_functions(raw), SQLITE_OK);
	assert_int_equal(sqlite3_create_function(raw, "ly_outcome_json", 2, SQLITE_UTF8, NULL,
						 outcome_json, NULL, NULL),
			 SQLITE_OK);
	char *error = NULL;
	int rc = sqlite3_exec(raw, sql, NULL, NULL, &error);
	if (rc != SQLITE_OK)
		print_error("sqlite: %s\n", error);
	sqlite3_free(error);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(raw), SQLITE_OK);
}

void test_rewrite_file(test_env *env, const char *sql)
{
	test_close_db(env);
	test_exec_file(env->path, sql);
	test_reopen_db(env);
}

int test_pragma(loyal_db *db, const char *sql, int64_t *out)
{
	if (db->store->ops != &ly_sqlite_ops)
		fail_msg("test_pragma on PostgreSQL: the test must begin with test_sqlite_only()");
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sq(db->store)->sql, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* Opens `path` expecting `expected`; checks the message names the file; closes the handle. */
void test_assert_open_fails(const char *path, const loyal_open_options *opts, int expected,
			    const char *message_part)
{
	loyal_db *db = NULL;
	assert_rc(db, expected, loyal_open(path, opts, &db));
	assert_non_null(db);
	assert_int_equal(loyal_errcode(db), expected);
	if (!strstr(loyal_errmsg(db), message_part))
		print_error("message '%s' lacks '%s'\n", loyal_errmsg(db), message_part);
	assert_non_null(strstr(loyal_errmsg(db), message_part));
	assert_int_equal(loyal_verify(db), LOYAL_EMISUSE);
	assert_int_equal(loyal_close(db), LOYAL_OK);
}

json_t *test_json(char *text)
{
	assert_non_null(text);
	json_t *value = json_loads(text, 0, NULL);
	loyal_free(text);
	assert_non_null(value);
	return value;
}

const char *test_json_text(json_t *object, const char *key)
{
	return json_string_value(json_object_get(object, key));
}

int64_t test_json_int(json_t *object, const char *key)
{
	return json_integer_value(json_object_get(object, key));
}

/* One child of test_processes: its successes as its exit status, 255 when something failed. */
static int process_attempts(const char *path, int process, int tries,
			    int (*attempt)(loyal_db *db, int process, int try), int refusal)
{
	loyal_db *db = NULL;
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.busy_timeout_ms = 30000;
	if (loyal_open(path, &opts, &db) != LOYAL_OK) {
		loyal_close(db);
		return 255;
	}
	int won = 0;
	for (int i = 0; i < tries && won < 255; i++) {
		int rc = attempt(db, process, i);
		if (rc == LOYAL_OK)
			won++;
		else if (rc != refusal) {
			fprintf(stderr, "process %d: %s: %s\n", process, loyal_errstr(rc), loyal_errmsg(db));
			won = 255;
		}
	}
	loyal_close(db);
	return won;
}

int test_processes(const char *path, int count, int tries,
		   int (*attempt)(loyal_db *db, int process, int try), int refusal)
{
	pid_t children[64];
	assert_true(count <= 64 && tries < 255);
	for (int p = 0; p < count; p++) {
		children[p] = fork();
		assert_true(children[p] >= 0);
		if (children[p] == 0)
			_exit(process_attempts(path, p, tries, attempt, refusal));
	}
	int sum = 0;
	for (int p = 0; p < count; p++) {
		int status = 0;
		assert_int_equal(waitpid(children[p], &status, 0), children[p]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= tries);
		sum += WEXITSTATUS(status);
	}
	return sum;
}
