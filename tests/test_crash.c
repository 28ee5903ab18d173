/* test_crash.c - a writer process killed with SIGKILL at random moments: every call it saw
 * committed is there (credits, debits and redemptions), nothing half-done is, every
 * invariant holds (a reward's stock counts its redemptions), and the outbox announces each
 * committed change once and nothing else. LOYAL_CRASH_ITERATIONS
 * sets how many kills (30 by default); the seed is printed and LOYAL_SEED replays it. */
#include "support.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The writer's three calls, the ith of a run, and their keys. */
static int call(loyal_db *db, int iteration, long i, loyal_result *result)
{
	char key[48];
	snprintf(key, sizeof key, "it%d-%ld", iteration, i);
	if (i % 3 == 2) { /* a redemption, stock and all */
		loyal_redeem request = LOYAL_REDEEM_INIT;
		request.member = "alice";
		request.reward = "sticker";
		request.idempotency_key = key;
		char *json = NULL;
		int rc = loyal_reward_redeem(db, &request, &json);
		result->replayed = json && strstr(json, "\"replayed\":true") != NULL;
		loyal_free(json);
		return rc;
	}
	loyal_posting posting = test_posting("alice", "points", i % 3 ? 2 : 3, key);
	return i % 3 ? loyal_ledger_debit(db, &posting, result)
		     : loyal_ledger_credit(db, &posting, result);
}

/* The writer: credits, spends and redemptions without end, reporting each committed call. */
static void writer(const char *path, int iteration, int report)
{
	loyal_db *db = NULL;
	if (loyal_open(path, NULL, &db) != LOYAL_OK)
		_exit(1);
	for (long i = 0;; i++) {
		loyal_result result = LOYAL_RESULT_INIT;
		if (call(db, iteration, i, &result) != LOYAL_OK)
			_exit(2);
		char done = 1;
		if (write(report, &done, 1) != 1)
			_exit(3);
	}
}

/* Each credit and debit of the ledger has its one happening, and each redemption its own;
 * no happening names a transaction the ledger lacks. */
static void check_outbox(test_env *env)
{
	json_t *txns = json_object(); /* txn id -> kind, from the statement */
	long redemptions = 0, announced_redemptions = 0, postings = 0;
	loyal_cursor *cursor = NULL;
	const char *row;
	assert_ok(env->db, loyal_ledger_statement(env->db, "alice", "points", 0, &cursor));
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		json_t *txn = test_json(strdup(row));
		const char *kind = test_json_text(txn, "kind");
		if (strcmp(kind, "credit") == 0 || strcmp(kind, "debit") == 0) {
			char id[32];
			snprintf(id, sizeof id, "%lld", (long long)test_json_int(txn, "txn"));
			json_object_set_new(txns, id, json_string(kind));
			postings++;
			redemptions += strcmp(test_json_text(txn, "reason"), "reward:sticker") == 0;
		}
		json_decref(txn);
	}
	loyal_cursor_free(cursor);
	assert_ok(env->db, loyal_outbox_read(env->db, "checker", 0, &cursor));
	int64_t previous = 0;
	while (loyal_cursor_next(cursor, &row) == LOYAL_OK && row) {
		json_t *happening = test_json(strdup(row));
		const char *kind = test_json_text(happening, "kind");
		assert_true(test_json_int(happening, "position") > previous);
		previous = test_json_int(happening, "position");
		if (strcmp(kind, "reward_redeemed") == 0) {
			announced_redemptions++;
		} else {
			char id[32];
			snprintf(id, sizeof id, "%lld",
				 (long long)test_json_int(json_object_get(happening, "body"), "txn"));
			const char *posted = json_string_value(json_object_get(txns, id));
			if (!posted)
				fail_msg("happening %lld (%s) names transaction %s, which the ledger lacks",
					 (long long)previous, kind, id);
			assert_string_equal(kind, strcmp(posted, "credit") == 0 ? "points_credited"
									      : "points_spent");
			json_object_del(txns, id); /* each once */
		}
		json_decref(happening);
	}
	loyal_cursor_free(cursor);
	assert_int_equal(json_object_size(txns), 0);
	assert_int_equal(announced_redemptions, redemptions);
	print_message("%ld postings and %ld redemptions, each announced once\n", postings,
		      redemptions);
	json_decref(txns);
}

static void test_crash__killed_writer_keeps_every_committed_call(void **state)
{
	test_env *env = *state;
	const char *iterations_text = getenv("LOYAL_CRASH_ITERATIONS");
	const char *seed_text = getenv("LOYAL_SEED");
	int iterations = iterations_text ? atoi(iterations_text) : 30;
	unsigned seed = seed_text ? (unsigned)strtoul(seed_text, NULL, 10) : (unsigned)time(NULL);
	printf("test_crash: seed %u (replay with LOYAL_SEED=%u), %d kills\n", seed, seed, iterations);
	fflush(stdout);
	srand(seed);
	long reported = 0;
	long *seen_by = calloc((size_t)iterations, sizeof *seen_by);
	assert_non_null(seen_by);
	/* The points program, with a reward to redeem. */
	char program[4096];
	size_t length = strlen(TEST_PROGRAM);
	assert_true(length < sizeof program - 200 && TEST_PROGRAM[length - 1] == '}');
	snprintf(program, sizeof program, "%.*s, \"rewards\": [{\"name\": \"sticker\","
		 " \"price\": {\"points\": 1}, \"stock\": 1000000}],"
		 " \"outbox\": {\"postings\": [\"points\"]}}",
		 (int)length - 1, TEST_PROGRAM);
	test_apply(env, program);
	test_close_db(env);
	for (int iteration = 0; iteration < iterations; iteration++) {
		int pipe_ends[2];
		assert_int_equal(pipe(pipe_ends), 0);
		pid_t child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			close(pipe_ends[0]);
			writer(env->path, iteration, pipe_ends[1]);
		}
		close(pipe_ends[1]);
		/* Wait for the first commit (slow under valgrind), then kill at a random moment. */
		char done;
		long seen = read(pipe_ends[0], &done, 1) == 1;
		struct timespec pause = {0, (long)(1000 + rand() % 20000) * 1000L};
		nanosleep(&pause, NULL);
		kill(child, SIGKILL);
		int status = 0;
		waitpid(child, &status, 0);
		assert_true(WIFSIGNALED(status)); /* killed while writing, not failed */
		while (read(pipe_ends[0], &done, 1) == 1)
			seen++;
		close(pipe_ends[0]);
		seen_by[iteration] = seen;
		reported += seen;
	}
	test_reopen_db(env);
	check_outbox(env);
	/* Every call a writer saw committed is there: retried under its key, it is a replay. */
	for (int iteration = 0; iteration < iterations; iteration++)
		for (long k = 0; k < seen_by[iteration]; k++) {
			loyal_result result = LOYAL_RESULT_INIT;
			assert_ok(env->db, call(env->db, iteration, k, &result));
			assert_int_equal(result.replayed, 1);
		}
	free(seen_by);
	print_message("%ld calls reported committed, each found again; %d kills\n", reported,
		      iterations);
	assert_ok(env->db, loyal_verify(env->db));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash__killed_writer_keeps_every_committed_call,
						test_setup_points, test_teardown),
	};
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
