/* test_concurrency.c - several processes, and several threads with their own handles, write
 * one file at once: no update is lost, no busy error reaches the caller, every invariant holds. */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITERS 8
#define CREDITS 400

static double seconds(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Credits CREDITS points, one at a time, to a shared member and to the writer's own; any error
 * (a busy one above all: writers must not starve) fails the writer. */
static int write_points(const char *path, int writer)
{
	loyal_db *db = NULL;
	if (loyal_open(path, NULL, &db) != LOYAL_OK) {
		loyal_close(db);
		return 1;
	}
	int failures = 0;
	double longest = 0;
	for (int i = 0; i < CREDITS; i++) {
		double started = seconds();
		char key[48], own[32];
		snprintf(key, sizeof key, "w%d-%d", writer, i);
		snprintf(own, sizeof own, "writer-%d", writer);
		loyal_posting shared = test_posting("shared", "points", 1, key);
		loyal_posting mine = test_posting(own, "points", 1, key);
		int rc = loyal_ledger_credit(db, &shared, NULL);
		if (rc == LOYAL_OK)
			rc = loyal_ledger_credit(db, &mine, NULL);
		if (rc != LOYAL_OK) {
			fprintf(stderr, "writer %d: %s: %s\n", writer, loyal_errstr(rc), loyal_errmsg(db));
			failures++;
		}
		double took = seconds() - started;
		longest = took > longest ? took : longest;
	}
	printf("writer %d: %d calls, the longest took %.3f s\n", writer, 2 * CREDITS, longest);
	fflush(stdout);
	loyal_close(db);
	return failures != 0;
}

static void assert_totals(test_env *env)
{
	assert_int_equal(test_balance(env, "shared", "points").available, WRITERS * CREDITS);
	for (int writer = 0; writer < WRITERS; writer++) {
		char own[32];
		snprintf(own, sizeof own, "writer-%d", writer);
		assert_int_equal(test_balance(env, own, "points").available, CREDITS);
	}
	assert_ok(env->db, loyal_verify(env->db));
}

static void test_concurrency__processes_lose_no_update(void **state)
{
	test_env *env = *state;
	pid_t children[WRITERS];
	test_close_db(env);
	for (int writer = 0; writer < WRITERS; writer++) {
		children[writer] = fork();
		assert_true(children[writer] >= 0);
		if (children[writer] == 0)
			_exit(write_points(env->path, writer));
	}
	for (int writer = 0; writer < WRITERS; writer++) {
		int status = 0;
		assert_int_equal(waitpid(children[writer], &status, 0), children[writer]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	test_reopen_db(env);
	assert_totals(env);
}

typedef struct worker {
	const char *path;
	int writer, result;
} worker;

static void *run_worker(void *arg)
{
	worker *w = arg;
	w->result = write_points(w->path, w->writer);
	return NULL;
}

static void test_concurrency__threads_with_their_own_handles_lose_no_update(void **state)
{
	test_env *env = *state;
	pthread_t threads[WRITERS];
	worker workers[WRITERS];
	for (int writer = 0; writer < WRITERS; writer++) {
		workers[writer] = (worker){.path = env->path, .writer = writer};
		assert_int_equal(pthread_create(&threads[writer], NULL, run_worker, &workers[writer]), 0);
	}
	for (int writer = 0; writer < WRITERS; writer++) {
		assert_int_equal(pthread_join(threads[writer], NULL), 0);
		assert_int_equal(workers[writer].result, 0);
	}
	assert_totals(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrency__processes_lose_no_update,
						test_setup_points, test_teardown),
		cmocka_unit_test_setup_teardown(
			test_concurrency__threads_with_their_own_handles_lose_no_update, test_setup_points,
			test_teardown),
	};
	return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
