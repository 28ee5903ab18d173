/* test_store.c - the storage interface's conformance suite: what every backend's operations
 * must do, through lib/store/store.h only (no SQL, no backend header). Each test runs on a
 * fresh store: a new database on the PostgreSQL test cluster (LOYAL_TEST_POSTGRES) or, without
 * it, a new SQLite file in a temporary folder. */
#include "support.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
	char dir[256];
	char location[320];
	ly_error error;
	store *s;
} fixture;

static int open_store(fixture *f, store **out)
{
	store_settings settings = {.flags = LOYAL_OPEN_CREATE, .busy_timeout_ms = 2000,
				   .postgres = ly_store_is_postgres(f->location)};
	int rc = ly_store_open(&f->error, f->location, &settings, out);
	if (rc != LOYAL_OK)
		print_error("opening the store at %s: %s\n", f->location, f->error.message);
	return rc;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/loyal-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_true(test_new_location(f->dir, "store.db", f->location, sizeof f->location));
	assert_int_equal(open_store(f, &f->s), LOYAL_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	assert_int_equal(ly_store_close(f->s), LOYAL_OK);
	test_drop_location(f->location);
	if (f->dir[0]) {
		char command[300];
		snprintf(command, sizeof command, "rm -rf '%s'", f->dir);
		assert_int_equal(system(command), 0);
	}
	free(f);
	return 0;
}

/* Asserts a store call's result, printing the sink's message when it differs. */
#define expect(f, expected, call)                                                             \
	do {                                                                                   \
		int rc_ = (call);                                                              \
		if (rc_ != (expected))                                                         \
			print_error("%s returned %s (%s), expected %s\n", #call, loyal_errstr(rc_), \
				    (f)->error.message, loyal_errstr(expected));              \
		assert_int_equal(rc_, (expected));                                             \
	} while (0)
#define ok(f, call) expect(f, LOYAL_OK, call)

/* A write of a missing member, the only one of its transaction: the write fails, or (on a
 * backend that sends writes without waiting for them) the commit does; either way the message
 * names the missing member and the transaction keeps nothing. */
static void expect_missing(fixture *f, int rc)
{
	if (rc == LOYAL_OK)
		rc = ly_store_commit(f->s);
	else
		ly_store_rollback(f->s);
	if (rc != LOYAL_ECORRUPT)
		print_error("a write of a missing member returned %s (%s)\n", loyal_errstr(rc),
			    f->error.message);
	assert_int_equal(rc, LOYAL_ECORRUPT);
	assert_non_null(strstr(f->error.message, "is missing"));
}

static int64_t new_member(fixture *f, const char *external, int64_t at)
{
	member_row m;
	ok(f, ly_store_member_insert(f->s, external, at, &m));
	assert_true(m.id > 0);
	return m.id;
}

/* Saves a balance with its member's row as stored (a missing member: a row with its id). */
static int put_balance(fixture *f, const balance_row *balance, bool due_changed,
		       const lot_row *lots, size_t count)
{
	member_row m = {.id = balance->member};
	bool found = false;
	int rc = ly_store_member_get(f->s, balance->member, &m, &found);
	return rc == LOYAL_OK ? ly_store_balance_put(f->s, &m, balance, due_changed, lots, count)
			      : rc;
}

/* Reads a balance with its member's row as stored (a missing member: a row with its id). */
static int get_balance(fixture *f, int64_t member, int64_t currency, balance_row *out)
{
	member_row m = {.id = member};
	bool found = false;
	int rc = ly_store_member_get(f->s, member, &m, &found);
	return rc == LOYAL_OK ? ly_store_balance_get(f->s, &m, currency, out) : rc;
}

/* ---- transactions ---- */

static void test_store__commit_keeps_and_rollback_undoes(void **state)
{
	fixture *f = *state;
	member_row m;
	bool found = true;
	ok(f, ly_store_begin(f->s));
	new_member(f, "undone", 1);
	ly_store_rollback(f->s);
	ok(f, ly_store_member_find(f->s, "undone", &m, &found));
	assert_false(found);

	ok(f, ly_store_begin(f->s));
	int64_t id = new_member(f, "kept", 1);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_member_find(f->s, "kept", &m, &found));
	assert_true(found);
	assert_int_equal(m.id, id);

	/* A savepoint undoes only what came after it. */
	ok(f, ly_store_begin(f->s));
	new_member(f, "outer", 1);
	ok(f, ly_store_savepoint(f->s));
	new_member(f, "inner", 1);
	ly_store_savepoint_rollback(f->s);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_member_find(f->s, "outer", &m, &found));
	assert_true(found);
	ok(f, ly_store_member_find(f->s, "inner", &m, &found));
	assert_false(found);
}

static void test_store__a_batch_is_one_transaction(void **state)
{
	fixture *f = *state;
	member_row m;
	bool found = true;
	assert_false(ly_store_in_batch(f->s));
	ok(f, ly_store_batch_begin(f->s));
	assert_true(ly_store_in_batch(f->s));
	/* Calls inside become savepoints: a failed one is undone alone. */
	ok(f, ly_store_begin(f->s));
	new_member(f, "first", 1);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_begin(f->s));
	new_member(f, "second", 1);
	ly_store_rollback(f->s);
	ok(f, ly_store_batch_commit(f->s));
	assert_false(ly_store_in_batch(f->s));
	ok(f, ly_store_member_find(f->s, "first", &m, &found));
	assert_true(found);
	ok(f, ly_store_member_find(f->s, "second", &m, &found));
	assert_false(found);

	/* A batch rolled back leaves nothing of its committed calls. */
	ok(f, ly_store_batch_begin(f->s));
	ok(f, ly_store_begin(f->s));
	new_member(f, "third", 1);
	ok(f, ly_store_commit(f->s));
	ly_store_batch_rollback(f->s);
	ok(f, ly_store_member_find(f->s, "third", &m, &found));
	assert_false(found);
}

static void test_store__a_call_whose_refusals_come_first_needs_no_savepoint(void **state)
{
	fixture *f = *state;
	member_row m;
	bool found = true;
	ok(f, ly_store_batch_begin(f->s));
	ok(f, ly_store_begin_refusals_first(f->s));
	new_member(f, "first", 1);
	ok(f, ly_store_commit(f->s));
	/* Refused before its first write: nothing to undo, the batch goes on. */
	ok(f, ly_store_begin_refusals_first(f->s));
	ly_store_rollback(f->s);
	ok(f, ly_store_begin_refusals_first(f->s));
	new_member(f, "second", 1);
	ok(f, ly_store_commit(f->s));
	/* Failed after writing: undone, alone (a backend that made it a savepoint) or with the
	 * whole batch, whose later calls and commit then fail with that failure. */
	ok(f, ly_store_begin_refusals_first(f->s));
	new_member(f, "failed", 1);
	ly_fail(&f->error, LOYAL_EIO, "a disk failure (test)");
	ly_store_rollback(f->s);
	int rc = ly_store_begin(f->s);
	if (rc == LOYAL_OK) {
		ly_store_rollback(f->s);
		ok(f, ly_store_batch_commit(f->s));
	} else {
		assert_int_equal(rc, LOYAL_ESTATE);
		assert_non_null(strstr(f->error.message, "a disk failure (test)"));
		assert_int_equal(ly_store_batch_commit(f->s), LOYAL_EIO);
		assert_false(ly_store_in_batch(f->s));
	}
	static const char *const names[] = {"first", "second", "failed"};
	for (size_t i = 0; i < 3; i++) {
		ok(f, ly_store_member_find(f->s, names[i], &m, &found));
		assert_int_equal(found, rc == LOYAL_OK && i < 2);
	}
	/* The store takes the next batch as usual. */
	ok(f, ly_store_batch_begin(f->s));
	ok(f, ly_store_begin_refusals_first(f->s));
	new_member(f, "next", 1);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_batch_commit(f->s));
	ok(f, ly_store_member_find(f->s, "next", &m, &found));
	assert_true(found);
}

static void test_store__an_open_batch_is_invisible_to_another_store(void **state)
{
	fixture *f = *state;
	store *other = NULL;
	ly_error other_error = {0};
	store_settings settings = {.busy_timeout_ms = 50,
				   .postgres = ly_store_is_postgres(f->location)};
	ok(f, ly_store_open(&other_error, f->location, &settings, &other));
	member_row m;
	bool found = true;
	ok(f, ly_store_batch_begin(f->s));
	ok(f, ly_store_begin(f->s));
	new_member(f, "pending", 1);
	ok(f, ly_store_commit(f->s));
	assert_int_equal(ly_store_member_find(other, "pending", &m, &found), LOYAL_OK);
	assert_false(found);
	/* A second writer of the same member waits for the batch, then gives up with
	 * LOYAL_EBUSY: at its begin on a backend with one writer at a time, at the member on one
	 * that serializes writers per member. */
	int rc = ly_store_begin(other);
	if (rc == LOYAL_OK) {
		rc = ly_store_member_insert(other, "pending", 2, &m);
		ly_store_rollback(other);
	}
	assert_int_equal(rc, LOYAL_EBUSY);
	ok(f, ly_store_batch_commit(f->s));
	assert_int_equal(ly_store_member_find(other, "pending", &m, &found), LOYAL_OK);
	assert_true(found);

	/* A read snapshot does not see what is committed after its first read. */
	ok(f, ly_store_read_begin(other));
	assert_int_equal(ly_store_member_find(other, "pending", &m, &found), LOYAL_OK);
	ok(f, ly_store_begin(f->s));
	new_member(f, "later", 1);
	ok(f, ly_store_commit(f->s));
	assert_int_equal(ly_store_member_find(other, "later", &m, &found), LOYAL_OK);
	assert_false(found);
	ly_store_read_end(other);
	assert_int_equal(ly_store_member_find(other, "later", &m, &found), LOYAL_OK);
	assert_true(found);
	assert_int_equal(ly_store_close(other), LOYAL_OK);
}

/* Inserts an event with a reserved id in a transaction of its own; returns the id. */
static int64_t insert_event(fixture *f, store *s, int64_t member, const char *key)
{
	int64_t id = 0;
	ok(f, ly_store_begin(s));
	ok(f, ly_store_event_reserve(s, &id));
	event_row event = {.id = id, .member = member, .at = 1, .type = "checkin", .key = key,
			   .properties = "{}", .outcome = "{}", .outcome_size = 2};
	ok(f, ly_store_event_insert(s, &event));
	ok(f, ly_store_commit(s));
	return id;
}

static void test_store__what_another_store_wrote_is_seen_by_the_next_transaction(void **state)
{
	fixture *f = *state;
	store *other = NULL;
	store_settings settings = {.busy_timeout_ms = 1000,
				   .postgres = ly_store_is_postgres(f->location)};
	ok(f, ly_store_open(&f->error, f->location, &settings, &other));
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "kim", 1), version = 0;
	ok(f, ly_store_program_put(f->s, "{}", 1, &version));
	ok(f, ly_store_commit(f->s));
	/* Ids stay unique across stores (each insert would fail on an id taken), and grow
	 * within one. */
	int64_t first = insert_event(f, f->s, member, "a");
	int64_t second = insert_event(f, other, member, "b");
	int64_t third = insert_event(f, f->s, member, "c");
	assert_true(second != first && third != second && third > first);
	/* The same for the program version. */
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_program_version(f->s, &version));
	ok(f, ly_store_commit(f->s));
	assert_int_equal(version, 1);
	ok(f, ly_store_begin(other));
	ok(f, ly_store_program_put(other, "{\"name\":\"new\"}", 2, &version));
	ok(f, ly_store_commit(other));
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_program_version(f->s, &version));
	ly_store_rollback(f->s);
	assert_int_equal(version, 2);
	assert_int_equal(ly_store_close(other), LOYAL_OK);
}

/* ---- program ---- */

static void test_store__program_versions_and_currencies(void **state)
{
	fixture *f = *state;
	int64_t version = -1;
	char *document = NULL;
	ok(f, ly_store_program_version(f->s, &version));
	assert_int_equal(version, 0);
	ok(f, ly_store_program_get(f->s, &document, &version));
	assert_null(document);
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_program_put(f->s, "{\"name\":\"one\"}", 10, &version));
	assert_int_equal(version, 1);
	ok(f, ly_store_program_put(f->s, "{\"name\":\"two\"}", 20, &version));
	assert_int_equal(version, 2);
	int64_t points = 0, again = 0, coins = 0;
	ok(f, ly_store_currency_id(f->s, "points", true, &points));
	ok(f, ly_store_currency_id(f->s, "coins", true, &coins));
	ok(f, ly_store_currency_id(f->s, "points", false, &again));
	assert_int_equal(points, again);
	assert_int_not_equal(points, coins);
	expect(f, LOYAL_ENOTFOUND, ly_store_currency_id(f->s, "miles", false, &again));
	assert_non_null(strstr(f->error.message, "miles"));
	char *definition = NULL;
	ok(f, ly_store_rule_version(f->s, "checkin", &version, &definition));
	assert_int_equal(version, 0);
	assert_null(definition);
	ok(f, ly_store_rule_put(f->s, "checkin", 2, "{\"on\":\"checkin\"}"));
	ok(f, ly_store_rule_version(f->s, "checkin", &version, &definition));
	assert_int_equal(version, 2);
	assert_string_equal(definition, "{\"on\":\"checkin\"}");
	ly_mem_free(definition);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_program_get(f->s, &document, &version));
	assert_int_equal(version, 2);
	assert_string_equal(document, "{\"name\":\"two\"}");
	ly_mem_free(document);
}

/* ---- members ---- */

static void test_store__members_are_found_saved_and_paged(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t alice = new_member(f, "alice", 100);
	/* The host's id is unique: inserting it again fails, or (where another connection may
	 * have made the member since it was looked for) gives the member it names. */
	member_row m = {0};
	int again = ly_store_member_insert(f->s, "alice", 200, &m);
	assert_true(again != LOYAL_OK || (m.id == alice && m.joined_at == 100));
	bool found = false;
	ok(f, ly_store_member_get(f->s, alice, &m, &found));
	assert_true(found);
	assert_int_equal(m.joined_at, 100);
	m.status = MEMBER_BLOCKED;
	m.last_active_at = 300;
	m.last_txn = 7;
	m.last_hash = -5;
	ok(f, ly_store_member_update(f->s, &m));
	ok(f, ly_store_member_attrs_put(f->s, alice, "{\"role\":\"teacher\",\"timezone\":\"UTC\"}",
					"UTC"));
	ok(f, ly_store_commit(f->s));
	member_row nobody = m;
	nobody.id = alice + 1000;
	nobody.last_txn = 8;
	ok(f, ly_store_begin(f->s));
	expect_missing(f, ly_store_member_update(f->s, &nobody));

	ok(f, ly_store_member_find(f->s, "alice", &m, &found));
	assert_true(found);
	assert_int_equal(m.status, MEMBER_BLOCKED);
	assert_int_equal(m.last_active_at, 300);
	assert_int_equal(m.last_txn, 7);
	assert_int_equal(m.last_hash, -5);
	assert_string_equal(m.timezone, "UTC");
	char *text = NULL;
	ok(f, ly_store_member_attrs_get(f->s, alice, &text));
	assert_non_null(strstr(text, "teacher"));
	ly_mem_free(text);
	ok(f, ly_store_member_external_id(f->s, alice, &text));
	assert_string_equal(text, "alice");
	ly_mem_free(text);
	ok(f, ly_store_member_get(f->s, alice + 1000, &m, &found));
	assert_false(found);
	ok(f, ly_store_member_find(f->s, "nobody", &m, &found));
	assert_false(found);

	/* Pages: every member once, in id order, full pages until the last. */
	int total = 2 * MEMBER_PAGE_SIZE + 17;
	ok(f, ly_store_begin(f->s));
	for (int i = 1; i < total; i++) {
		char name[32];
		snprintf(name, sizeof name, "m%04d", i);
		new_member(f, name, i);
	}
	ok(f, ly_store_commit(f->s));
	member_page *page = calloc(1, sizeof *page);
	assert_non_null(page);
	int64_t after = 0;
	int seen = 0, pages = 0;
	do {
		ok(f, ly_store_member_page(f->s, after, page));
		for (size_t i = 0; i < page->count; i++) {
			assert_true(page->items[i].row.id > after);
			after = page->items[i].row.id;
			seen++;
		}
		pages++;
		assert_true(page->count == MEMBER_PAGE_SIZE || seen == total);
	} while (page->count > 0);
	assert_int_equal(seen, total);
	assert_int_equal(pages, 4); /* 256, 256, 17 and an empty one */
	ok(f, ly_store_member_page(f->s, 0, page));
	assert_string_equal(page->items[0].external, "alice");
	free(page);
}

/* ---- postings ---- */

static void test_store__a_posting_is_written_whole_and_read_back(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "bob", 1), currency = 0;
	ok(f, ly_store_currency_id(f->s, "points", true, &currency));
	/* A credit: two entries, a new lot, and the move that creates it. */
	txn_row credit = {.member = member, .currency = currency, .kind = 1, .amount = 100,
			  .at = 1000, .hash = 42, .reason = (char *)"welcome", .cause = (char *)"event:1"};
	entry_row entries[2] = {{.currency = currency, .debit_account = SYSTEM_ISSUED,
				 .credit_account = member * 4, .amount = 60},
				{.currency = currency, .debit_account = SYSTEM_ISSUED,
				 .credit_account = member * 4 + 1, .amount = 40}};
	lot_row lot = {.member = member, .currency = currency, .amount = 100, .remaining = 100,
		       .earned_at = 1000, .expires_at = 5000};
	move_row moves[1] = {{.lot = -1, .amount = 100, .kind = MOVE_CREATE}};
	store_posting posting = {.txn = &credit, .entries = entries, .entry_count = 2,
				 .new_lots = &lot, .new_lot_count = 1, .moves = moves,
				 .move_count = 1};
	ok(f, ly_store_post(f->s, &posting));
	assert_true(credit.id > 0);
	assert_true(lot.id > 0);
	assert_int_equal(lot.txn, credit.id);
	assert_int_equal(moves[0].lot, lot.id);
	balance_row balance;
	ok(f, get_balance(f, member, currency, &balance));
	balance.available = 60;
	balance.pending = 40;
	ok(f, put_balance(f, &balance, false, &lot, 1));

	/* A hold that consumes part of the lot: the hold opened; the lot's state is saved with the
	 * balance. */
	lot.remaining = 70;
	txn_row hold_txn = {.member = member, .currency = currency, .kind = 6, .amount = 30,
			    .at = 2000, .prev = credit.id, .reason = (char *)"hold"};
	entry_row hold_entry = {.currency = currency, .debit_account = member * 4,
				.credit_account = member * 4 + 2, .amount = 30};
	move_row consume = {.lot = lot.id, .amount = -30, .kind = MOVE_CONSUME};
	hold_row hold = {.member = member, .currency = currency, .amount = 30, .deadline = 9000,
			 .state = HOLD_OPEN};
	posting = (store_posting){.txn = &hold_txn, .entries = &hold_entry, .entry_count = 1,
				  .moves = &consume, .move_count = 1, .hold = &hold,
				  .hold_change = HOLD_OPENS};
	ok(f, ly_store_post(f->s, &posting));
	assert_true(hold_txn.id > credit.id);
	assert_int_equal(hold.txn, hold_txn.id);
	balance.available = 30;
	balance.held = 30;
	ok(f, put_balance(f, &balance, false, &lot, 1));
	ok(f, ly_store_commit(f->s));

	txn_row read = {0};
	entry_vec read_entries = {0};
	move_vec read_moves = {0};
	bool found = false;
	ok(f, ly_store_txn_read(f->s, member, credit.id, &read, &read_entries, &read_moves,
					&found));
	assert_true(found);
	assert_int_equal(read.member, member);
	assert_int_equal(read.amount, 100);
	assert_int_equal(read.hash, 42);
	assert_string_equal(read.reason, "welcome");
	assert_string_equal(read.cause, "event:1");
	assert_int_equal(read_entries.count, 2);
	assert_int_equal(read_entries.items[1].amount, 40);
	assert_int_equal(read_entries.items[1].seq, 1);
	assert_int_equal(read_moves.count, 1);
	assert_int_equal(read_moves.items[0].lot, lot.id);
	ly_txn_row_clear(&read);
	ly_entry_vec_free(&read_entries);
	ly_move_vec_free(&read_moves);
	ok(f, ly_store_txn_read(f->s, 0, hold_txn.id + 100, &read, NULL, NULL, &found));
	assert_false(found);
	/* Member-owned reads take the member first: another member's id is not found. */
	ok(f, ly_store_txn_read(f->s, member + 1, credit.id, &read, NULL, NULL, &found));
	assert_false(found);
	ok(f, ly_store_txn_read(f->s, 0, credit.id, NULL, NULL, NULL, &found));
	assert_true(found);
	lot_row other_lot;
	ok(f, ly_store_lot_get(f->s, member + 1, lot.id, &other_lot, &found));
	assert_false(found);
	hold_row other_hold;
	ok(f, ly_store_hold_get(f->s, member + 1, hold_txn.id, &other_hold, &found));
	assert_false(found);

	lot_row stored;
	ok(f, ly_store_lot_get(f->s, member, lot.id, &stored, &found));
	assert_true(found);
	assert_int_equal(stored.remaining, 70);
	assert_int_equal(stored.amount, 100);
	assert_int_equal(stored.txn, credit.id);
	assert_int_equal(stored.earned_at, 1000);
	assert_int_equal(stored.expires_at, 5000);
	hold_row open;
	ok(f, ly_store_hold_get(f->s, member, hold_txn.id, &open, &found));
	assert_true(found);
	assert_int_equal(open.state, HOLD_OPEN);
	int64_t deadline = 0;
	ok(f, ly_store_holds_next_deadline(f->s, member, currency, &deadline));
	assert_int_equal(deadline, 9000);
	int64_t *due = NULL;
	size_t count = 0;
	ok(f, ly_store_holds_due(f->s, member, currency, 8999, &due, &count));
	assert_int_equal(count, 0);
	ly_mem_free(due);
	ok(f, ly_store_holds_due(f->s, member, currency, 9000, &due, &count));
	assert_int_equal(count, 2); /* (txn, deadline) */
	assert_int_equal(due[0], hold_txn.id);
	ly_mem_free(due);

	/* Settling the hold saves it with the transaction that settled it. */
	ok(f, ly_store_begin(f->s));
	txn_row release = {.member = member, .currency = currency, .kind = 8, .amount = 30,
			   .at = 3000, .reverses = hold_txn.id, .reason = (char *)"release"};
	open.state = HOLD_RELEASED;
	posting = (store_posting){.txn = &release, .hold = &open, .hold_change = HOLD_SETTLES};
	ok(f, ly_store_post(f->s, &posting));
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_hold_get(f->s, member, hold_txn.id, &open, &found));
	assert_int_equal(open.state, HOLD_RELEASED);
	assert_int_equal(open.settled_by, release.id);
	ok(f, ly_store_holds_next_deadline(f->s, member, currency, &deadline));
	assert_int_equal(deadline, INT64_MAX);

	/* Open lots come soonest-expiring first. */
	lot_vec lots = {0};
	ok(f, ly_store_lots_open(f->s, member, currency, INT64_MAX, &lots));
	assert_int_equal(lots.count, 1);
	assert_int_equal(lots.items[0].id, lot.id);
	ly_lot_vec_free(&lots);
	ok(f, ly_store_lots_open(f->s, member, currency, 4999, &lots));
	assert_int_equal(lots.count, 0);
	ly_lot_vec_free(&lots);
}

/* Posts a credit of `amount` that creates one lot, saving the lot with the balance. */
static lot_row post_lot(fixture *f, int64_t member, int64_t currency, int64_t amount,
			int64_t expires_at, int64_t pending_until)
{
	txn_row txn = {.member = member, .currency = currency, .kind = 1, .amount = amount,
		       .at = 1, .reason = (char *)"credit"};
	lot_row lot = {.member = member, .currency = currency, .amount = amount,
		       .remaining = amount, .earned_at = 1, .expires_at = expires_at,
		       .pending_until = pending_until};
	move_row move = {.lot = -1, .amount = amount, .kind = MOVE_CREATE};
	store_posting posting = {.txn = &txn, .new_lots = &lot, .new_lot_count = 1,
				 .moves = &move, .move_count = 1};
	ok(f, ly_store_post(f->s, &posting));
	balance_row balance;
	ok(f, get_balance(f, member, currency, &balance));
	ok(f, put_balance(f, &balance, false, &lot, 1));
	return lot;
}

static void test_store__open_lots_are_what_was_saved_with_the_balance(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "erin", 1), points = 0, stars = 0;
	ok(f, ly_store_currency_id(f->s, "points", true, &points));
	ok(f, ly_store_currency_id(f->s, "stars", true, &stars));
	lot_row late = post_lot(f, member, points, 80, 9000, 0);
	lot_row never = post_lot(f, member, points, 5, INT64_MAX, 0);
	lot_row soon = post_lot(f, member, points, 10, 3000, 2000);
	lot_row star = post_lot(f, member, stars, 7, 1000, 0);

	/* Consumption order: soonest expiry first, never last; one currency at a time. */
	lot_vec lots = {0};
	ok(f, ly_store_lots_open(f->s, member, points, INT64_MAX, &lots));
	assert_int_equal(lots.count, 3);
	assert_int_equal(lots.items[0].id, soon.id);
	assert_int_equal(lots.items[0].remaining, 10);
	assert_int_equal(lots.items[0].pending_until, 2000);
	assert_int_equal(lots.items[1].id, late.id);
	assert_int_equal(lots.items[2].id, never.id);
	assert_int_equal(lots.items[2].expires_at, INT64_MAX);
	ok(f, ly_store_lots_open(f->s, member, stars, INT64_MAX, &lots));
	assert_int_equal(lots.count, 1);
	assert_int_equal(lots.items[0].id, star.id);
	int64_t at = 0, amount = 0;
	bool found = false;
	/* Pending points do not expire as such: the next expiry is the late lot's. */
	ok(f, ly_store_next_expiry(f->s, member, points, 0, &at, &amount, &found));
	assert_true(found);
	assert_int_equal(at, 9000);
	assert_int_equal(amount, 80);

	/* Activating the pending lot; spending all of the late one: saved with the balance, the
	 * late lot is closed and the soon one active. */
	txn_row activate = {.member = member, .currency = points, .kind = 10, .at = 2000,
			    .reason = (char *)"activate"};
	move_row moves[2] = {{.lot = soon.id, .kind = MOVE_ACTIVATE},
			     {.lot = late.id, .amount = -80, .kind = MOVE_CONSUME}};
	store_posting posting = {.txn = &activate, .moves = moves, .move_count = 2};
	ok(f, ly_store_post(f->s, &posting));
	/* Until the balance is saved, the lots are as they were. */
	ok(f, ly_store_lots_open(f->s, member, points, INT64_MAX, &lots));
	assert_int_equal(lots.count, 3);
	soon.pending_until = 0;
	late.remaining = 0;
	lot_row changed[2] = {soon, late};
	balance_row balance;
	ok(f, get_balance(f, member, points, &balance));
	ok(f, put_balance(f, &balance, false, changed, 2));
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_lots_open(f->s, member, points, 8999, &lots));
	assert_int_equal(lots.count, 1);
	assert_int_equal(lots.items[0].id, soon.id);
	assert_int_equal(lots.items[0].pending_until, 0);
	ok(f, ly_store_next_expiry(f->s, member, points, 0, &at, &amount, &found));
	assert_int_equal(at, 3000);
	assert_int_equal(amount, 10);
	ok(f, ly_store_next_expiry(f->s, member, points, 3000, &at, &amount, &found));
	assert_false(found); /* the late lot is closed; the never lot never expires */
	ly_lot_vec_free(&lots);
	lot_row read;
	ok(f, ly_store_lot_get(f->s, member, late.id, &read, &found));
	assert_true(found);
	assert_int_equal(read.remaining, 0);
	assert_int_equal(read.amount, 80);
	ok(f, ly_store_lot_get(f->s, member, soon.id, &read, &found));
	assert_int_equal(read.pending_until, 0);
	assert_int_equal(read.remaining, 10);
}

static void test_store__reserved_ids_go_to_the_next_posts(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "carol", 1), currency = 0, first = 0;
	ok(f, ly_store_currency_id(f->s, "points", true, &currency));
	ok(f, ly_store_txn_reserve(f->s, 2, &first));
	txn_row out = {.member = member, .currency = currency, .kind = 4, .amount = 5, .at = 1,
		       .counterpart = first + 1, .reason = (char *)"gift"};
	txn_row in = {.member = member, .currency = currency, .kind = 5, .amount = 5, .at = 1,
		      .counterpart = first, .reason = (char *)"gift"};
	store_posting posting = {.txn = &out};
	ok(f, ly_store_post(f->s, &posting));
	posting.txn = &in;
	ok(f, ly_store_post(f->s, &posting));
	assert_int_equal(out.id, first);
	assert_int_equal(in.id, first + 1);
	/* A reservation undone with its transaction is forgotten. */
	ly_store_rollback(f->s);
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_txn_reserve(f->s, 1, &first));
	ly_store_rollback(f->s);
	ok(f, ly_store_begin(f->s));
	member = new_member(f, "carol", 1);
	txn_row later = {.member = member, .currency = currency, .kind = 1, .amount = 1, .at = 1,
			 .reason = (char *)"credit"};
	posting.txn = &later;
	ok(f, ly_store_post(f->s, &posting));
	ok(f, ly_store_commit(f->s));
	int64_t reversed = -1;
	ok(f, ly_store_reversed_total(f->s, member, later.id, &reversed));
	assert_int_equal(reversed, 0);
}

static void test_store__balances_default_to_nothing_due(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "dana", 1), currency = 0;
	ok(f, ly_store_currency_id(f->s, "points", true, &currency));
	balance_row b;
	ok(f, get_balance(f, member, currency, &b));
	assert_int_equal(b.available, 0);
	assert_int_equal(b.due_at, INT64_MAX);
	b.available = 70;
	b.earned = 100;
	b.spent = 30;
	b.due_at = 5000;
	/* The member's row is saved with the balance; updating it after writes what changed
	 * since. */
	member_row m;
	bool found = false;
	ok(f, ly_store_member_get(f->s, member, &m, &found));
	m.last_txn = 9;
	m.last_hash = 99;
	m.last_active_at = 40;
	ok(f, ly_store_balance_put(f->s, &m, &b, true, NULL, 0));
	ok(f, ly_store_member_update(f->s, &m));
	/* The row carries the balances saved through it: read through it, or (when it does not
	 * carry them) from the file, the same. */
	int64_t coins = 0;
	ok(f, ly_store_currency_id(f->s, "coins", true, &coins));
	balance_row c = {.member = member, .currency = coins, .available = 5, .due_at = 7000};
	ok(f, ly_store_balance_put(f->s, &m, &c, false, NULL, 0));
	balance_row seen;
	ok(f, ly_store_balance_get(f->s, &m, currency, &seen));
	assert_int_equal(seen.available, 70);
	member_row bare = m;
	bare.balances.cached = false;
	bare.balances.size = 0;
	ok(f, ly_store_balance_get(f->s, &bare, coins, &seen));
	assert_int_equal(seen.available, 5);
	assert_int_equal(seen.due_at, 7000);
	ok(f, ly_store_balance_get(f->s, &bare, currency, &seen));
	assert_int_equal(seen.spent, 30);
	m.status = MEMBER_BLOCKED;
	ok(f, ly_store_member_update(f->s, &m));
	ok(f, ly_store_commit(f->s));
	balance_row nobody = b;
	nobody.member = member + 1000;
	ok(f, ly_store_begin(f->s));
	expect_missing(f, put_balance(f, &nobody, true, NULL, 0));
	balance_row again;
	ok(f, get_balance(f, member, currency, &again));
	assert_int_equal(again.available, 70);
	assert_int_equal(again.spent, 30);
	assert_int_equal(again.due_at, 5000);
	member_row read;
	ok(f, ly_store_member_get(f->s, member, &read, &found));
	assert_int_equal(read.last_txn, 9);
	assert_int_equal(read.last_hash, 99);
	assert_int_equal(read.last_active_at, 40);
	assert_int_equal(read.status, MEMBER_BLOCKED);
	/* Sweeps find it by its due instant, paged by (due_at, member, currency). */
	int64_t *triples = NULL;
	size_t count = 0;
	const int64_t start[3] = {INT64_MIN, 0, 0};
	ok(f, ly_store_due_accounts(f->s, 4999, start, 10, &triples, &count));
	assert_int_equal(count, 0);
	ly_mem_free(triples);
	ok(f, ly_store_due_accounts(f->s, 5000, start, 10, &triples, &count));
	assert_int_equal(count, 3);
	assert_int_equal(triples[1], member);
	const int64_t past[3] = {triples[0], triples[1], triples[2]};
	ly_mem_free(triples);
	ok(f, ly_store_due_accounts(f->s, 5000, past, 10, &triples, &count));
	assert_int_equal(count, 0);
	ly_mem_free(triples);
}

/* ---- idempotency and events ---- */

static void test_store__a_claim_is_the_look_up_of_an_unused_key(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "nia", 1);
	idem_row got;
	bool found = true;
	ok(f, ly_store_idem_claim(f->s, member, 7, "k1", 0, &got, &found));
	assert_false(found);
	assert_true(got.claim != 0);
	idem_row other;
	ok(f, ly_store_idem_claim(f->s, member, 8, "k2", 0, &other, &found));
	assert_false(found);
	assert_true(other.claim != got.claim);
	idem_row put = {.member = member, .key_hash = 7, .kind = IDEM_LEDGER, .key = "k1",
			.request = "credit 1", .txn = 1, .amount = 1, .claim = got.claim};
	ok(f, ly_store_idem_put(f->s, &put));
	put = (idem_row){.member = member, .key_hash = 8, .kind = IDEM_LEDGER, .key = "k2",
			 .request = "credit 2", .txn = 2, .amount = 2, .claim = other.claim};
	ok(f, ly_store_idem_put(f->s, &put));
	ok(f, ly_store_commit(f->s));
	/* Claimed again, the key answers with its record and claims nothing. */
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_idem_claim(f->s, member, 8, "k2", 0, &got, &found));
	assert_true(found);
	assert_int_equal(got.claim, 0);
	assert_string_equal(got.request, "credit 2");
	ly_idem_row_clear(&got);
	/* A claim undone with its transaction leaves the key unused. */
	ok(f, ly_store_idem_claim(f->s, member, 9, "k3", 0, &got, &found));
	assert_false(found);
	ly_store_rollback(f->s);
	ok(f, ly_store_idem_get(f->s, member, 9, "k3", &got, &found));
	assert_false(found);
	ly_idem_row_clear(&got);
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_idem_claim(f->s, member, 9, "k3", 0, &got, &found));
	assert_false(found);
	ly_store_rollback(f->s);

	/* A tracked event's key: the event's row, with the request, is the record. */
	ok(f, ly_store_begin(f->s));
	int64_t event = 0;
	ok(f, ly_store_event_reserve(f->s, &event));
	ok(f, ly_store_idem_claim(f->s, member, 10, "e1", event, &got, &found));
	assert_false(found);
	event_row row = {.id = event, .member = member, .at = 5, .type = "checkin", .key = "e1",
			 .properties = "{}", .outcome = "{}", .outcome_size = 2,
			 .request = "track e1"};
	ok(f, ly_store_event_insert(f->s, &row));
	put = (idem_row){.member = member, .key_hash = 10, .kind = IDEM_EVENT, .key = "e1",
			 .request = "track e1", .txn = event, .claim = got.claim};
	ok(f, ly_store_idem_put(f->s, &put));
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_idem_get(f->s, member, 10, "e1", &got, &found));
	assert_true(found);
	assert_int_equal(got.kind, IDEM_EVENT);
	assert_int_equal(got.txn, event);
	assert_int_equal(got.rc, LOYAL_OK);
	assert_string_equal(got.request, "track e1");
	ly_idem_row_clear(&got);
	ok(f, ly_store_idem_get(f->s, member, 10, "e2", &got, &found));
	assert_false(found);
	ly_idem_row_clear(&got);
}

static void test_store__idempotency_records_answer_their_own_key(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "erin", 1);
	idem_row put = {.member = member, .key_hash = 99, .kind = IDEM_LEDGER, .key = "k1",
			.request = "credit 5", .rc = LOYAL_OK, .txn = 3, .amount = 5};
	ok(f, ly_store_idem_put(f->s, &put));
	ok(f, ly_store_commit(f->s));
	idem_row got;
	bool found = false;
	ok(f, ly_store_idem_get(f->s, member, 99, "k1", &got, &found));
	assert_true(found);
	assert_string_equal(got.request, "credit 5");
	assert_int_equal(got.txn, 3);
	assert_int_equal(got.amount, 5);
	ly_idem_row_clear(&got);
	/* The same hash under another key is not a hit: a hash is never taken for the key. */
	ok(f, ly_store_idem_get(f->s, member, 99, "k2", &got, &found));
	assert_false(found);
	ly_idem_row_clear(&got);
	ok(f, ly_store_idem_get(f->s, member + 1, 99, "k1", &got, &found));
	assert_false(found);
	ly_idem_row_clear(&got);
}

static void test_store__events_keep_their_outcome(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "finn", 1);
	/* An outcome is bytes, kept as they are: a NUL among them too. */
	static const unsigned char record[] = {1, 0, 0xff, 7};
	event_row event = {.member = member, .at = 10, .type = "checkin", .key = "e1",
			   .properties = "{}", .outcome = record, .outcome_size = sizeof record};
	ok(f, ly_store_event_insert(f->s, &event));
	ok(f, ly_store_commit(f->s));
	assert_true(event.id > 0);
	void *outcome = NULL;
	size_t size = 0;
	ok(f, ly_store_event_outcome(f->s, member, event.id, &outcome, &size));
	assert_int_equal(size, sizeof record);
	assert_memory_equal(outcome, record, sizeof record);
	ly_mem_free(outcome);
	expect(f, LOYAL_ECORRUPT,
	       ly_store_event_outcome(f->s, member, event.id + 1, &outcome, &size));
	expect(f, LOYAL_ECORRUPT,
	       ly_store_event_outcome(f->s, member + 1, event.id, &outcome, &size));

	/* An event's id is reserved before its rules post; its postings name it. */
	ok(f, ly_store_begin(f->s));
	int64_t reserved = 0, next = 0, currency = 0;
	ok(f, ly_store_event_reserve(f->s, &reserved));
	assert_int_equal(reserved, event.id + 1);
	ok(f, ly_store_event_reserve(f->s, &next));
	assert_int_equal(next, reserved + 1);
	ok(f, ly_store_currency_id(f->s, "points", true, &currency));
	txn_row credit = {.member = member, .currency = currency, .kind = 1, .amount = 7, .at = 11,
			  .event = reserved, .reason = (char *)"rule:checkin"};
	store_posting posting = {.txn = &credit};
	ok(f, ly_store_post(f->s, &posting));
	event_row second = {.id = reserved, .member = member, .at = 11, .type = "checkin",
			    .key = "e2", .properties = "{}", .outcome = "{}", .outcome_size = 2};
	ok(f, ly_store_event_insert(f->s, &second));
	assert_int_equal(second.id, reserved);
	ok(f, ly_store_commit(f->s));
	event_posting_vec postings = {0};
	ok(f, ly_store_event_postings(f->s, reserved, &postings));
	assert_int_equal(postings.count, 1);
	assert_int_equal(postings.items[0].txn, credit.id);
	assert_int_equal(postings.items[0].member, member);
	assert_int_equal(postings.items[0].amount, 7);
	ly_event_posting_vec_free(&postings);
	ok(f, ly_store_event_postings(f->s, event.id, &postings));
	assert_int_equal(postings.count, 0);
	ly_event_posting_vec_free(&postings);
	/* Ids only grow: a later transaction reserves after every stored event. */
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_event_reserve(f->s, &next));
	assert_true(next > reserved);
	ly_store_rollback(f->s);
}

typedef struct scanned {
	int64_t ids[8], ats[8];
	char members[8][16], keys[8][16];
	int count;
} scanned;

static int scan_event(void *ctx, const void *data)
{
	scanned *seen = ctx;
	const event_scan_row *row = data;
	assert_true(seen->count < 8);
	seen->ids[seen->count] = row->id;
	seen->ats[seen->count] = row->at;
	snprintf(seen->members[seen->count], 16, "%s", row->member);
	snprintf(seen->keys[seen->count], 16, "%s", row->key);
	assert_string_equal(row->type, "visit");
	assert_string_equal(row->properties, "{\"n\":1}");
	seen->count++;
	return seen->count == 8 ? LOYAL_EINTERRUPTED : LOYAL_OK;
}

static void test_store__events_are_paged_in_id_order_before_a_time(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t members[2] = {new_member(f, "ann", 1), new_member(f, "bo", 1)};
	int64_t ats[6] = {50, 10, 40, 70, 20, 30}; /* the fourth is after the bound below */
	int64_t ids[6];
	for (int i = 0; i < 6; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		event_row event = {.member = members[i % 2], .at = ats[i], .type = "visit",
				   .key = key, .properties = "{\"n\":1}", .outcome = "{}", .outcome_size = 2};
		ok(f, ly_store_event_insert(f->s, &event));
		ids[i] = event.id;
	}
	ok(f, ly_store_commit(f->s));
	int64_t count = 0, last = 0;
	ok(f, ly_store_read_begin(f->s));
	ok(f, ly_store_event_span(f->s, 60, &count, &last));
	assert_int_equal(count, 5);
	assert_int_equal(last, ids[5]);
	scanned seen = {0};
	ok(f, ly_store_event_page(f->s, 0, last, 60, 3, scan_event, &seen));
	assert_int_equal(seen.count, 3); /* in id order, not in time order */
	assert_int_equal(seen.ids[0], ids[0]);
	assert_int_equal(seen.ids[2], ids[2]);
	assert_int_equal(seen.ats[1], 10);
	assert_string_equal(seen.members[1], "bo");
	assert_string_equal(seen.keys[2], "k2");
	ok(f, ly_store_event_page(f->s, seen.ids[2], last, 60, 3, scan_event, &seen));
	assert_int_equal(seen.count, 5); /* the one dated 70 is left out */
	assert_int_equal(seen.ids[3], ids[4]);
	assert_int_equal(seen.ids[4], ids[5]);
	/* `last` bounds the page; a visitor's code stops it and is returned. */
	seen.count = 0;
	ok(f, ly_store_event_page(f->s, 0, ids[1], 60, 10, scan_event, &seen));
	assert_int_equal(seen.count, 2);
	seen.count = 7;
	expect(f, LOYAL_EINTERRUPTED, ly_store_event_page(f->s, 0, last, 60, 10, scan_event, &seen));
	assert_int_equal(seen.count, 8);
	ly_store_read_end(f->s);
}

/* ---- activity ---- */

static void test_store__activity_counts_sums_and_days(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "gina", 1);
	const activity_number first[] = {{"amount", 12, true}, {"weight", 0.5, false}};
	const activity_number second[] = {{"amount", 30, true}};
	ok(f, ly_store_activity_add(f->s, member, "purchase", 10, 1, first, 2));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 10, 1, second, 1));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 12, 1, second, 1));
	ok(f, ly_store_activity_add(f->s, member, "checkin", 11, 1, NULL, 0));
	ok(f, ly_store_commit(f->s));
	int64_t n = 0;
	ok(f, ly_store_activity_count(f->s, member, "purchase", 10, 12, &n));
	assert_int_equal(n, 3);
	ok(f, ly_store_activity_count(f->s, member, "purchase", 11, 12, &n));
	assert_int_equal(n, 1);
	ok(f, ly_store_activity_day_count(f->s, member, "purchase", 0, 100, &n));
	assert_int_equal(n, 2);
	double sum = 0;
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "amount", 0, 100, &sum));
	assert_true(sum == 72);
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "weight", 0, 100, &sum));
	assert_true(sum == 0.5);
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "missing", 0, 100, &sum));
	assert_true(sum == 0);
	/* Any property name: a quote is no JSON path's. */
	ok(f, ly_store_begin(f->s));
	const activity_number quoted[] = {{"a\"b", 4, true}};
	ok(f, ly_store_activity_add(f->s, member, "purchase", 12, 0, quoted, 1));
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "a\"b", 0, 100, &sum));
	assert_true(sum == 4);
	int64_t *days = NULL;
	size_t count = 0;
	ok(f, ly_store_activity_days(f->s, member, "purchase", 100, 10, &days, &count));
	assert_int_equal(count, 2);
	assert_int_equal(days[0], 12); /* newest first */
	assert_int_equal(days[1], 10);
	ly_mem_free(days);
}

/* Years of one member's activity, far more than one row keeps, read the same over any window,
 * also for days added late; what a rolled back savepoint or transaction added is not kept. */
static void test_store__long_activity_reads_the_same_over_any_window(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "ivy", 1);
	for (int64_t day = 1; day <= 600; day++) {
		if (day % 50 == 1 && day > 1)
			ok(f, ly_store_begin(f->s));
		const activity_number amount[] = {{"amount", (double)day, true}};
		ok(f, ly_store_activity_add(f->s, member, "purchase", day, 1, amount, 1));
		if (day % 3 == 0)
			ok(f, ly_store_activity_add(f->s, member, "checkin", day, 1, NULL, 0));
		ok(f, ly_store_rule_counter_add(f->s, member, "daily", 0, day, 2));
		if (day % 50 == 0)
			ok(f, ly_store_commit(f->s));
	}
	int64_t n = 0;
	double total = 0;
	ok(f, ly_store_activity_count(f->s, member, "purchase", 1, 600, &n));
	assert_int_equal(n, 600);
	ok(f, ly_store_activity_count(f->s, member, "purchase", 100, 199, &n));
	assert_int_equal(n, 100);
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "amount", 1, 600, &total));
	assert_true(total == 180300);
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "amount", 10, 20, &total));
	assert_true(total == 165);
	ok(f, ly_store_activity_day_count(f->s, member, "checkin", 1, 600, &n));
	assert_int_equal(n, 200);
	ok(f, ly_store_rule_counter_sum(f->s, member, "daily", 0, 1, 600, &n));
	assert_int_equal(n, 1200);
	int64_t *days = NULL;
	size_t count = 0;
	ok(f, ly_store_activity_days(f->s, member, "checkin", 301, 4, &days, &count));
	assert_int_equal(count, 4);
	assert_int_equal(days[0], 300);
	assert_int_equal(days[3], 291);
	ly_mem_free(days);
	ok(f, ly_store_activity_days(f->s, member, "checkin", 600, 300, &days, &count));
	assert_int_equal(count, 200); /* all of them, newest first */
	assert_int_equal(days[0], 600);
	assert_int_equal(days[199], 3);
	ly_mem_free(days);

	/* A late day, long past, is added where that day is kept; its count may not overflow. */
	ok(f, ly_store_begin(f->s));
	const activity_number late[] = {{"amount", 1000, true}};
	ok(f, ly_store_activity_add(f->s, member, "purchase", 5, 1, late, 1));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 0, 1, late, 1));
	expect(f, LOYAL_EOVERFLOW,
	       ly_store_activity_add(f->s, member, "purchase", 6, INT64_MAX, NULL, 0));
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_activity_count(f->s, member, "purchase", 5, 6, &n));
	assert_int_equal(n, 3);
	ok(f, ly_store_activity_sum(f->s, member, "purchase", "amount", 0, 5, &total));
	assert_true(total == 15 + 2000);

	/* Undone: a savepoint's, then a transaction's. */
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 601, 1, NULL, 0));
	ok(f, ly_store_savepoint(f->s));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 602, 1, NULL, 0));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 7, 1, NULL, 0));
	ly_store_savepoint_rollback(f->s);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_activity_add(f->s, member, "purchase", 603, 1, NULL, 0));
	ly_store_rollback(f->s);
	ok(f, ly_store_activity_count(f->s, member, "purchase", 601, 603, &n));
	assert_int_equal(n, 1);
	ok(f, ly_store_activity_count(f->s, member, "purchase", 7, 7, &n));
	assert_int_equal(n, 1);
	/* A missing member's activity cannot be saved: the commit fails and keeps nothing. */
	ok(f, ly_store_begin(f->s));
	ok(f, ly_store_activity_add(f->s, member + 1000, "purchase", 1, 1, NULL, 0));
	expect(f, LOYAL_ECORRUPT, ly_store_commit(f->s));
	assert_non_null(strstr(f->error.message, "is missing"));
	ok(f, ly_store_activity_count(f->s, member + 1000, "purchase", 1, 1, &n));
	assert_int_equal(n, 0);
	ok(f, ly_store_check_invariants(f->s));
}

static void test_store__counts_refuse_to_overflow_and_stay(void **state)
{
	fixture *f = *state;
	int64_t count = 0;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "hana", 1);
	ok(f, ly_store_activity_add(f->s, member, "@earned:points", 7, INT64_MAX - 1, NULL, 0));
	ok(f, ly_store_activity_add(f->s, member, "@earned:points", 7, 1, NULL, 0));
	expect(f, LOYAL_EOVERFLOW,
	       ly_store_activity_add(f->s, member, "@earned:points", 7, 1, NULL, 0));
	ok(f, ly_store_activity_count(f->s, member, "@earned:points", 7, 7, &count));
	assert_true(count == INT64_MAX);
	ok(f, ly_store_activity_add(f->s, member, "@earned:xp", 7, INT64_MIN + 1, NULL, 0));
	ok(f, ly_store_activity_add(f->s, member, "@earned:xp", 7, -1, NULL, 0));
	expect(f, LOYAL_EOVERFLOW, ly_store_activity_add(f->s, member, "@earned:xp", 7, -1, NULL, 0));
	ok(f, ly_store_activity_count(f->s, member, "@earned:xp", 7, 7, &count));
	assert_true(count == INT64_MIN);
	/* A rule's counters are typed by rule and currency. */
	ok(f, ly_store_rule_counter_add(f->s, member, "daily", 0, 7, 2));
	ok(f, ly_store_rule_counter_add(f->s, member, "daily", 1, 7, 50));
	ok(f, ly_store_rule_counter_add(f->s, member, "daily", 0, 8, 1));
	ok(f, ly_store_rule_counter_sum(f->s, member, "daily", 0, 7, 8, &count));
	assert_int_equal(count, 3);
	ok(f, ly_store_rule_counter_sum(f->s, member, "daily", 1, 0, 100, &count));
	assert_int_equal(count, 50);
	ok(f, ly_store_rule_counter_add(f->s, member, "capped", 0, 7, INT64_MAX));
	expect(f, LOYAL_EOVERFLOW, ly_store_rule_counter_add(f->s, member, "capped", 0, 7, 1));
	ly_store_rollback(f->s);
}

/* ---- tiers, segments, badges ---- */

static void test_store__tiers_and_their_history(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "ivan", 1);
	tier_row tier;
	ok(f, ly_store_tier_get(f->s, member, &tier));
	assert_string_equal(tier.tier, "");
	tier = (tier_row){.member = member, .since = 10, .review_at = 500};
	snprintf(tier.tier, sizeof tier.tier, "silver");
	ok(f, ly_store_tier_put(f->s, &tier));
	ok(f, ly_store_tier_history_add(f->s, member, NULL, "silver", 10, "qualified"));
	ok(f, ly_store_tier_history_add(f->s, member, "silver", "gold", 20, "qualified"));
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_tier_get(f->s, member, &tier));
	assert_string_equal(tier.tier, "silver");
	assert_int_equal(tier.since, 10);
	assert_int_equal(tier.review_at, 500);
	/* The member's row carries the tier. */
	member_row row;
	bool found = false;
	ok(f, ly_store_member_get(f->s, member, &row, &found));
	assert_string_equal(row.tier, "silver");
	int64_t plain = 0;
	ok(f, ly_store_begin(f->s));
	plain = new_member(f, "jan", 1);
	ok(f, ly_store_commit(f->s));
	ok(f, ly_store_member_find(f->s, "jan", &row, &found));
	assert_string_equal(row.tier, "");
	tier_change change;
	ok(f, ly_store_tier_history_before(f->s, member, 0, &change, &found));
	assert_true(found);
	assert_string_equal(change.to, "gold");
	ok(f, ly_store_tier_history_before(f->s, member, change.id, &change, &found));
	assert_true(found);
	assert_string_equal(change.from, "");
	assert_string_equal(change.to, "silver");
	ok(f, ly_store_tier_history_before(f->s, member, change.id, &change, &found));
	assert_false(found);
	int64_t *due = NULL;
	size_t count = 0;
	ok(f, ly_store_tier_due(f->s, 499, false, &due, &count));
	assert_int_equal(count, 0);
	ly_mem_free(due);
	ok(f, ly_store_tier_due(f->s, 500, false, &due, &count));
	assert_int_equal(count, 1);
	assert_int_equal(due[0], member);
	ly_mem_free(due);
	/* All: every member with a tier, not those without. */
	ok(f, ly_store_tier_due(f->s, 0, true, &due, &count));
	assert_int_equal(count, 1);
	assert_int_equal(due[0], member);
	assert_int_not_equal(due[0], plain);
	ly_mem_free(due);
	/* A tier for a member that is missing is damage, not a silent no-op. */
	ok(f, ly_store_begin(f->s));
	tier.member = plain + 1000;
	expect_missing(f, ly_store_tier_put(f->s, &tier));
}

static void test_store__segments_and_badges(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "jo", 1);
	int64_t refresh = 0;
	ok(f, ly_store_segment_next_refresh(f->s, &refresh));
	assert_int_equal(refresh, 1);
	ok(f, ly_store_segment_set(f->s, "core", member, true, 5));
	ok(f, ly_store_segment_change(f->s, refresh, "core", member, true, 5));
	ok(f, ly_store_segment_change(f->s, refresh, "silent", member, false, 5));
	ok(f, ly_store_badge_award_add(f->s, member, "streak", "bronze", BADGE_EARNED, 7, "event:1"));
	ok(f, ly_store_badge_award_add(f->s, member, "streak", "silver", BADGE_GRANTED, 9, "kind"));
	ok(f, ly_store_badge_award_add(f->s, member, "streak", "bronze", BADGE_REVOKED, 11, "spam"));
	ok(f, ly_store_commit(f->s));
	bool in = false;
	ok(f, ly_store_segment_is_member(f->s, "core", member, &in));
	assert_true(in);
	ok(f, ly_store_segment_is_member(f->s, "silent", member, &in));
	assert_false(in);
	ok(f, ly_store_segment_next_refresh(f->s, &refresh));
	assert_int_equal(refresh, 2);
	int64_t id = 0;
	char segment[72], external[TEXT_MAX_BYTES + 1];
	bool entered = false, found = false;
	ok(f, ly_store_segment_change_next(f->s, 1, 0, &id, segment, sizeof segment, external,
					   sizeof external, &entered, &found));
	assert_true(found);
	assert_string_equal(segment, "core");
	assert_string_equal(external, "jo");
	assert_true(entered);
	ok(f, ly_store_segment_change_next(f->s, 1, id, &id, segment, sizeof segment, external,
					   sizeof external, &entered, &found));
	assert_true(found);
	assert_false(entered);
	ok(f, ly_store_segment_change_next(f->s, 1, id, &id, segment, sizeof segment, external,
					   sizeof external, &entered, &found));
	assert_false(found);

	badge_state badge;
	ok(f, ly_store_badge_state(f->s, member, "streak", "silver", &badge));
	assert_true(badge.awarded && !badge.revoked);
	assert_int_equal(badge.awarded_at, 9);
	ok(f, ly_store_badge_state(f->s, member, "streak", "bronze", &badge));
	assert_true(badge.awarded && badge.revoked);
	assert_int_equal(badge.awarded_at, 7);
	assert_int_equal(badge.revoked_at, 11);
	ok(f, ly_store_badge_state(f->s, member, "streak", "gold", &badge));
	assert_false(badge.awarded || badge.revoked);
	/* The awards, each with the revocation that followed it; revocations are no awards. */
	badge_award_row award;
	ok(f, ly_store_badge_award_next(f->s, member, 0, &award, &found));
	assert_true(found);
	assert_string_equal(award.level, "bronze");
	assert_int_equal(award.kind, BADGE_EARNED);
	assert_int_equal(award.revoked_at, 11);
	assert_string_equal(award.revoked_reason, "spam");
	ok(f, ly_store_badge_award_next(f->s, member, award.id, &award, &found));
	assert_string_equal(award.level, "silver");
	assert_int_equal(award.kind, BADGE_GRANTED);
	assert_string_equal(award.reason, "kind");
	assert_int_equal(award.revoked_at, 0);
	ok(f, ly_store_badge_award_next(f->s, member, award.id, &award, &found));
	assert_false(found);
}

/* ---- reports ---- */

/* Keeps the rows a report visits (up to 8), copying the names of size rows. */
typedef struct collected {
	size_t count;
	union {
		liability_row liability;
		active_row active;
		retention_row retention;
		size_row size;
	} rows[8];
	char names[8][32];
	size_t row_size;
} collected;

static int collect(void *ctx, const void *row)
{
	collected *c = ctx;
	if (c->count == 8)
		return LOYAL_ESTATE; /* stops the report */
	memcpy(&c->rows[c->count], row, c->row_size);
	if (c->row_size == sizeof(size_row)) {
		snprintf(c->names[c->count], sizeof c->names[0], "%s", c->rows[c->count].size.name);
		c->rows[c->count].size.name = c->names[c->count];
	}
	c->count++;
	return LOYAL_OK;
}

static void test_store__reports_hand_their_rows_to_a_visitor(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_begin(f->s));
	int64_t member = new_member(f, "lena", 0), currency = 0;
	ok(f, ly_store_currency_id(f->s, "points", true, &currency));
	balance_row b;
	ok(f, get_balance(f, member, currency, &b));
	b.available = INT64_MAX;
	b.held = 5;
	ok(f, put_balance(f, &b, true, NULL, 0));
	int64_t other = new_member(f, "mo", 0);
	ok(f, get_balance(f, other, currency, &b));
	b.available = INT64_MAX;
	ok(f, put_balance(f, &b, true, NULL, 0));
	ok(f, ly_store_activity_add(f->s, member, "checkin", 3, 1, NULL, 0));
	ok(f, ly_store_activity_add(f->s, other, "checkin", 4, 1, NULL, 0));
	ok(f, ly_store_activity_add(f->s, other, "@earned:points", 4, 9, NULL, 0));
	tier_row tier = {.member = member};
	snprintf(tier.tier, sizeof tier.tier, "gold");
	ok(f, ly_store_tier_put(f->s, &tier));
	ok(f, ly_store_commit(f->s));

	collected c = {.row_size = sizeof(liability_row)};
	ok(f, ly_store_report_liability(f->s, collect, &c));
	assert_int_equal(c.count, 1);
	assert_int_equal(c.rows[0].liability.currency, currency);
	assert_int_equal(c.rows[0].liability.members, 2);
	/* Totals are exact beyond 64 bits. */
	assert_true(c.rows[0].liability.available == (store_total)INT64_MAX * 2);
	assert_true(c.rows[0].liability.outstanding == (store_total)INT64_MAX * 2 + 5);

	c = (collected){.row_size = sizeof(active_row)};
	ok(f, ly_store_report_active(f->s, PERIOD_DAY, 0, 10, collect, &c));
	assert_int_equal(c.count, 2); /* days 3 and 4; the engine's own counters are not activity */
	assert_int_equal(c.rows[0].active.period, 3);
	assert_int_equal(c.rows[1].active.active, 1);

	c = (collected){.row_size = sizeof(retention_row)};
	ok(f, ly_store_report_retention(f->s, PERIOD_DAY, 0, 10, 0, 1, 0, collect, &c));
	assert_int_equal(c.count, 2); /* one cohort (day 0) of 2, active on days 3 and 4 */
	assert_int_equal(c.rows[0].retention.cohort, 0);
	assert_int_equal(c.rows[0].retention.members, 2);
	assert_int_equal(c.rows[0].retention.period, 3);

	c = (collected){.row_size = sizeof(size_row)};
	ok(f, ly_store_report_sizes(f->s, collect, &c));
	assert_int_equal(c.count, 1);
	assert_int_equal(c.rows[0].size.kind, SIZE_TIER);
	assert_string_equal(c.rows[0].size.name, "gold");

	/* A visitor's refusal stops the report and is its result. */
	c = (collected){.count = 8, .row_size = sizeof(active_row)};
	assert_int_equal(ly_store_report_active(f->s, PERIOD_DAY, 0, 10, collect, &c), LOYAL_ESTATE);
}

/* ---- checks ---- */

static void test_store__a_fresh_store_passes_its_checks(void **state)
{
	fixture *f = *state;
	ok(f, ly_store_check_structure(f->s));
	ok(f, ly_store_check_invariants(f->s));
	/* Damage recorded: writes are refused naming it, reads go on. */
	ly_fail(&f->error, LOYAL_ECORRUPT, "test damage");
	ly_store_mark_damaged(f->s);
	expect(f, LOYAL_ECORRUPT, ly_store_begin(f->s));
	assert_non_null(strstr(f->error.message, "test damage"));
	int64_t version = -1;
	ok(f, ly_store_program_version(f->s, &version));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_store__commit_keeps_and_rollback_undoes),
		T(test_store__a_batch_is_one_transaction),
		T(test_store__a_call_whose_refusals_come_first_needs_no_savepoint),
		T(test_store__an_open_batch_is_invisible_to_another_store),
		T(test_store__what_another_store_wrote_is_seen_by_the_next_transaction),
		T(test_store__program_versions_and_currencies),
		T(test_store__members_are_found_saved_and_paged),
		T(test_store__a_posting_is_written_whole_and_read_back),
		T(test_store__open_lots_are_what_was_saved_with_the_balance),
		T(test_store__reserved_ids_go_to_the_next_posts),
		T(test_store__balances_default_to_nothing_due),
		T(test_store__idempotency_records_answer_their_own_key),
		T(test_store__a_claim_is_the_look_up_of_an_unused_key),
		T(test_store__events_keep_their_outcome),
		T(test_store__events_are_paged_in_id_order_before_a_time),
		T(test_store__activity_counts_sums_and_days),
		T(test_store__long_activity_reads_the_same_over_any_window),
		T(test_store__counts_refuse_to_overflow_and_stay),
		T(test_store__tiers_and_their_history),
		T(test_store__segments_and_badges),
		T(test_store__reports_hand_their_rows_to_a_visitor),
		T(test_store__a_fresh_store_passes_its_checks),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
