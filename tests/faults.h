/* faults.h - the fault switch of the fault-injection test (tests/test_faults.c) and the
 * simulator (tests/sim/sim.c): armed for one kind of operation, it lets `countdown` of them
 * through, fails the next and, when persistent, every later one.
 *
 * faults.c fails allocations through it: the program's own (malloc, calloc and realloc, wrapped
 * at link time: FAULT_LDFLAGS in the Makefile), SQLite's (its allocator hooks) and jansson's,
 * except inside jansson's parser and serializer (faults.c says why). An I/O fault is for the
 * program's VFS to ask about with fault_now(FAULT_IO). Not thread-safe: the thread that arms
 * the switch runs the operations. */
#ifndef LOYAL_TESTS_FAULTS_H
#define LOYAL_TESTS_FAULTS_H

#include <stdbool.h>

enum fault_kind { FAULT_ALLOC, FAULT_IO };

typedef struct fault_switch {
	bool armed;
	enum fault_kind kind;
	long countdown;  /* operations of `kind` to let through before failing */
	bool persistent; /* after the first failure, fail every later one too */
	bool fired;
	long operations; /* counted while armed */
} fault_switch;

extern fault_switch faults;

/* Whether the operation of `kind` about to run fails (counted when the switch is armed). */
bool fault_now(enum fault_kind kind);
void fault_arm(enum fault_kind kind, long countdown, bool persistent);
void fault_disarm(void);

/* Puts the allocation faults into SQLite's and jansson's allocators; call it before SQLite
 * initializes (it initializes it). Returns false when SQLite refuses the hooks. */
bool fault_install_allocators(void);

#endif
