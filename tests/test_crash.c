/* test_crash.c - a writer process killed with SIGKILL at random moments: every call it saw
 * committed is there, nothing half-done is, and every invariant holds. LOYAL_CRASH_ITERATIONS
 * sets how many kills (30 by default); the seed is printed and LOYAL_SEED replays it. */
#include "support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The writer: credits, holds and spends without end, reporting each committed credit. */
static void writer(const char *path, int iteration, int report)
{
	loyal_db *db = NULL;
	if (loyal_open(path, NULL, &db) != LOYAL_OK)
		_exit(1);
	for (long i = 0;; i++) {
		char key[48];
		snprintf(key, sizeof key, "it%d-%ld", iteration, i);
		loyal_posting credit = test_posting("alice", "points", 3, key);
		if (loyal_ledger_credit(db, &credit, NULL) != LOYAL_OK)
			_exit(2);
		char done = 1;
		if (write(report, &done, 1) != 1)
			_exit(3);
		snprintf(key, sizeof key, "it%d-%ld-spend", iteration, i);
		loyal_posting spend = test_posting("alice", "points", 2, key);
		if (loyal_ledger_debit(db, &spend, NULL) != LOYAL_OK)
			_exit(4);
		if (write(report, &done, 1) != 1)
			_exit(3);
	}
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
	/* Every call a writer saw committed is there: retried under its key, it is a replay. */
	for (int iteration = 0; iteration < iterations; iteration++)
		for (long k = 0; k < seen_by[iteration]; k++) {
			char key[48];
			snprintf(key, sizeof key, k % 2 ? "it%d-%ld-spend" : "it%d-%ld", iteration, k / 2);
			loyal_posting posting = test_posting("alice", "points", k % 2 ? 2 : 3, key);
			loyal_result result = LOYAL_RESULT_INIT;
			assert_ok(env->db, k % 2 ? loyal_ledger_debit(env->db, &posting, &result)
						 : loyal_ledger_credit(env->db, &posting, &result));
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
