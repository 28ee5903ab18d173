/* test_power_loss.c - power losses on a disk that keeps only what was synced (tests/sim/disk.h),
 * in the two durabilities that promise something about them. A writer makes credits, debits
 * and transfers among a few members on one file; the power is cut at a write or sync chosen by
 * the seed, inside a call; the handle is closed as a dying process leaves it, each sector
 * written since the last sync reaches the file or not, and the file is opened again. Then:
 *
 * - LOYAL_DURABILITY_POWER: every call acknowledged before the cut is there.
 * - LOYAL_DURABILITY_PROCESS: what is there is every call up to some point, in the order they
 *   were acknowledged, and at least every call acknowledged before the last sync (the WAL is
 *   synced when it is copied back into the file, as it crosses wal_limit_bytes); what is lost
 *   is the newest calls, whole.
 * - Both: the call in flight is there whole or not at all, the file opens and verifies, each
 *   member's balance is what the calls there add up to, a kept call's key replays it and a lost
 *   call's key makes it anew.
 *
 * A third test crashes a migration (a power loss or a kill at each of its writes in turn): the
 * file is left as it was or migrated whole.
 *
 * LOYAL_POWER_LOSSES sets how many power losses of each durability (20 by default); the seed is
 * printed and LOYAL_SEED replays it. */
#include "../sim/disk.h"
#include "store/sqlite/sqlite.h"
#include "support.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MEMBERS 6
#define LOSSES_PER_FILE 4 /* a new file after so many: opening one stays cheap */
#define WAL_LIMIT (INT64_C(1) << 20)

/* A call acknowledged (or in flight at the cut): what it moved, and its transaction. */
typedef struct call_made {
	int member, to; /* to: a transfer's receiver, else -1 */
	int64_t amount; /* signed: a debit's is negative */
	int64_t txn;
	char key[32];
} call_made;

typedef struct run {
	test_env *env;
	int durability;
	uint64_t rng;
	loyal_db *db;
	char path[320];
	call_made *calls; /* in the order acknowledged: what the file must hold, less what is lost */
	long count, capacity;
	long durable;  /* calls[0..durable) were acknowledged before the last sync */
	long serial;   /* for keys */
	long losses, calls_made, lost, most_lost, in_flight_kept, in_flight_lost, syncs_seen;
	int64_t bytes_lost;
} run;

static const char *const member_names[MEMBERS] = {"ann", "bob", "cy", "di", "ed", "flo"};

static uint64_t next_random(run *r)
{
	uint64_t z = (r->rng += UINT64_C(0x9E3779B97F4A7C15)); /* splitmix64 */
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static long below(run *r, long bound)
{
	return (long)(next_random(r) % (uint64_t)bound);
}

/* What the calls in calls[0..count) leave each member. */
static void balances_of(const call_made *calls, long count, int64_t out[MEMBERS])
{
	memset(out, 0, MEMBERS * sizeof *out);
	for (long i = 0; i < count; i++) {
		out[calls[i].member] += calls[i].amount;
		if (calls[i].to >= 0)
			out[calls[i].to] -= calls[i].amount;
	}
}

static void open_file(run *r)
{
	loyal_open_options opts;
	test_options(r->env, &opts);
	opts.durability = r->durability;
	opts.wal_limit_bytes = WAL_LIMIT;
	assert_ok(r->db, loyal_open(r->path, &opts, &r->db));
}

/* Starts the file of the next LOSSES_PER_FILE losses. */
static void new_file(run *r)
{
	snprintf(r->path, sizeof r->path, "%s/power-%d-%ld.db", r->env->dir, r->durability,
		 r->losses);
	open_file(r);
	assert_ok(r->db, loyal_program_apply(r->db, TEST_PROGRAM, NULL));
	/* The last handle's close syncs: the program is there whatever a power loss takes. */
	loyal_close(r->db);
	open_file(r);
	r->count = r->durable = 0;
}

static void remove_file(run *r)
{
	loyal_close(r->db);
	r->db = NULL;
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char path[340];
		snprintf(path, sizeof path, "%s%s", r->path, suffixes[i]);
		unlink(path);
	}
}

/* Makes call `c` (a credit, debit or transfer chosen here from what the members hold). */
static void make_call(run *r, call_made *c, const int64_t balances[MEMBERS])
{
	c->member = (int)below(r, MEMBERS);
	c->to = -1;
	snprintf(c->key, sizeof c->key, "call-%ld", r->serial++);
	long kind = balances[c->member] >= 10 ? below(r, 3) : 0;
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = member_names[c->member];
	posting.currency = "points";
	posting.idempotency_key = c->key;
	loyal_result result = LOYAL_RESULT_INIT;
	if (kind == 0) {
		c->amount = posting.amount = 1 + below(r, 50);
		assert_ok(r->db, loyal_ledger_credit(r->db, &posting, &result));
	} else if (kind == 1) {
		posting.amount = 1 + below(r, balances[c->member]);
		c->amount = -posting.amount;
		assert_ok(r->db, loyal_ledger_debit(r->db, &posting, &result));
	} else {
		c->to = (c->member + 1 + (int)below(r, MEMBERS - 1)) % MEMBERS;
		posting.to_member = member_names[c->to];
		posting.amount = 1 + below(r, balances[c->member]);
		c->amount = -posting.amount;
		assert_ok(r->db, loyal_ledger_transfer(r->db, &posting, &result));
	}
	assert_int_equal(result.replayed, 0);
	c->txn = result.txn;
}

static bool present(run *r, const call_made *c)
{
	char *json = NULL;
	int rc = loyal_ledger_transaction(r->db, c->txn, &json);
	loyal_free(json);
	if (rc != LOYAL_OK && rc != LOYAL_ENOTFOUND)
		fail_msg("reading transaction %lld: %s", (long long)c->txn, loyal_errmsg(r->db));
	return rc == LOYAL_OK;
}

static void expect_balances(run *r)
{
	int64_t expected[MEMBERS];
	balances_of(r->calls, r->count, expected);
	for (int m = 0; m < MEMBERS; m++) {
		loyal_balance balance = LOYAL_BALANCE_INIT;
		int rc = loyal_ledger_balance(r->db, member_names[m], "points", 0, &balance);
		if (rc == LOYAL_ENOTFOUND && expected[m] == 0)
			continue; /* never credited, or its credits lost */
		assert_ok(r->db, rc);
		if (balance.available != expected[m])
			fail_msg("%s holds %lld points after power loss %ld; the calls kept add up to %lld",
				 member_names[m], (long long)balance.available, r->losses,
				 (long long)expected[m]);
	}
}

/* Retries a call under its key: a kept one replays, a lost one is made anew. */
static void retry(run *r, call_made *c, bool kept)
{
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = member_names[c->member];
	posting.currency = "points";
	posting.idempotency_key = c->key;
	posting.amount = c->amount < 0 ? -c->amount : c->amount;
	if (c->to >= 0)
		posting.to_member = member_names[c->to];
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(r->db, c->to >= 0	 ? loyal_ledger_transfer(r->db, &posting, &result)
			 : c->amount > 0 ? loyal_ledger_credit(r->db, &posting, &result)
					 : loyal_ledger_debit(r->db, &posting, &result));
	assert_int_equal(result.replayed, kept);
	if (kept)
		assert_int_equal(result.txn, c->txn);
	c->txn = result.txn;
}

static void append(run *r, const call_made *c)
{
	if (r->count == r->capacity) {
		r->capacity = r->capacity ? 2 * r->capacity : 256;
		r->calls = realloc(r->calls, (size_t)r->capacity * sizeof *r->calls);
		assert_non_null(r->calls);
	}
	r->calls[r->count++] = *c;
}

/* Calls until the power is cut, the power loss, and the checks of what the file kept. */
static void lose_power(run *r)
{
	int64_t balances[MEMBERS];
	balances_of(r->calls, r->count, balances);
	disk_arm(below(r, 4000));
	call_made in_flight;
	for (;;) {
		long syncs = disk_syncs();
		make_call(r, &in_flight, balances);
		r->calls_made++;
		if (disk_is_cut())
			break;
		if (disk_syncs() > syncs) { /* the sync may have come before this call's commit */
			r->durable = r->count;
			r->syncs_seen++;
		}
		append(r, &in_flight);
		balances_of(r->calls, r->count, balances);
	}
	loyal_close(r->db); /* as the dying process leaves it: nothing more reaches the file */
	r->bytes_lost += disk_power_loss(next_random(r));
	r->losses++;
	open_file(r);
	assert_ok(r->db, loyal_verify(r->db));

	long kept = 0;
	while (kept < r->count && present(r, &r->calls[kept]))
		kept++;
	for (long i = kept; i < r->count; i++)
		if (present(r, &r->calls[i]))
			fail_msg("power loss %ld kept call %ld (%s) but lost call %ld (%s) before it",
				 r->losses, i, r->calls[i].key, kept, r->calls[kept].key);
	bool flight_kept = present(r, &in_flight);
	if (flight_kept && kept < r->count)
		fail_msg("power loss %ld kept the call in flight (%s) but lost call %ld (%s)",
			 r->losses, in_flight.key, kept, r->calls[kept].key);
	if (r->durability == LOYAL_DURABILITY_POWER && kept < r->count)
		fail_msg("power loss %ld in full durability lost call %ld (%s) of %ld acknowledged",
			 r->losses, kept, r->calls[kept].key, r->count);
	if (kept < r->durable)
		fail_msg("power loss %ld lost call %ld (%s), acknowledged before the last sync",
			 r->losses, kept, r->calls[kept].key);
	long lost = r->count - kept;
	r->lost += lost;
	if (lost > r->most_lost)
		r->most_lost = lost;
	r->in_flight_kept += flight_kept;
	r->in_flight_lost += !flight_kept;

	call_made *first_lost = kept < r->count ? &r->calls[kept] : flight_kept ? NULL : &in_flight;
	call_made again = first_lost ? *first_lost : in_flight;
	r->count = kept;
	if (flight_kept)
		append(r, &in_flight);
	r->durable = r->count; /* what a power loss kept is on the file */
	expect_balances(r);
	if (r->count > 0) /* the newest call kept replays under its key */
		retry(r, &r->calls[r->count - 1], true);
	if (first_lost) { /* and the oldest lost one is made again */
		retry(r, &again, false);
		append(r, &again);
	}
	expect_balances(r);
}

static void power_losses(test_env *env, int durability, int losses, uint64_t seed)
{
	run r = {.env = env, .durability = durability, .rng = seed};
	test_close_db(env);
	disk_install(env->dir);
	for (int i = 0; i < losses; i++) {
		if (i % LOSSES_PER_FILE == 0) {
			if (r.db)
				remove_file(&r);
			new_file(&r);
		}
		lose_power(&r);
	}
	remove_file(&r);
	print_message("%s durability: %ld power losses in %ld calls (%ld syncs seen); %ld calls "
		      "acknowledged and lost (at most %ld at once), the call in flight kept %ld "
		      "times and lost %ld; %lld unsynced bytes lost\n",
		      durability == LOYAL_DURABILITY_POWER ? "full" : "crash-safe", r.losses,
		      r.calls_made, r.syncs_seen, r.lost, r.most_lost, r.in_flight_kept,
		      r.in_flight_lost, (long long)r.bytes_lost);
	assert_true(r.in_flight_kept + r.in_flight_lost == losses);
	if (durability == LOYAL_DURABILITY_PROCESS && losses >= 10) {
		/* Not synced at each commit, yet synced as the WAL is copied back. */
		assert_true(r.lost > 0);
		assert_true(r.syncs_seen > 0);
	}
	free(r.calls);
	disk_free();
}

/* The seed (LOYAL_SEED, else the time), printed for a replay. */
static uint64_t seed(void)
{
	const char *seed_text = getenv("LOYAL_SEED");
	uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : (uint64_t)time(NULL);
	printf("test_power_loss: seed %llu (replay with LOYAL_SEED=%llu)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	return seed;
}

/* How many power losses of each durability (LOYAL_POWER_LOSSES, 20 by default). */
static int losses_wanted(void)
{
	const char *losses_text = getenv("LOYAL_POWER_LOSSES");
	return losses_text ? atoi(losses_text) : 20;
}

static void test_power_loss__full_durability_keeps_every_acknowledged_call(void **state)
{
	test_sqlite_only();
	power_losses(*state, LOYAL_DURABILITY_POWER, losses_wanted(), seed());
}

static void test_power_loss__crash_safe_durability_loses_only_the_newest_calls(void **state)
{
	test_sqlite_only();
	power_losses(*state, LOYAL_DURABILITY_PROCESS, losses_wanted(), seed() ^ 1);
}

/* A crash inside a migration: a file of schema 16 (made by undoing the later migrations of a
 * file that holds credits, a transfer and tracked events) is opened, which migrates it in one
 * transaction, and the power is cut or the process killed at its k-th write or sync, for k
 * from 0 in steps the seed picks until a migration runs to its end. After each crash the file
 * is schema 16 or the current one, never between; it opens (migrating what is left to
 * migrate), verifies, holds each member's balance, and the events' keys replay them. */
static const char *const MIGRATION_PROGRAM =
	"{\"currencies\": [{\"name\": \"points\"}],"
	" \"rules\": [{\"name\": \"buy\", \"event\": \"purchase\","
	"   \"award\": {\"points\": \"floor(event.amount)\"}}]}";

static void track_purchase(loyal_db *db, const char *member, int amount, const char *key,
			   bool replayed)
{
	char *outcome = test_purchase(db, member, amount, key);
	if (replayed != (strstr(outcome, "\"replayed\":true") != NULL))
		fail_msg("event %s was %s after the crash: %s", key,
			 replayed ? "tracked anew" : "replayed", outcome);
	loyal_free(outcome);
}

/* The file's schema version, read without loyal (which would migrate it). */
static int64_t schema_version_of(const char *path)
{
	sqlite3 *raw = NULL;
	sqlite3_stmt *stmt = NULL;
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int64_t version = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_close(raw), SQLITE_OK);
	return version;
}

static void write_whole(const char *path, const void *bytes, size_t size)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
}

static void test_power_loss__a_crash_inside_a_migration_leaves_the_old_file_or_the_new(
	void **state)
{
	test_sqlite_only();
	test_env *env = *state;
	run r = {.rng = seed()};
	static const char *const names[] = {"ann", "bob", "cy"};
	static const int64_t balances[] = {40, 17, 3};
	test_apply(env, MIGRATION_PROGRAM);
	track_purchase(env->db, "ann", 30, "order-1", false);
	track_purchase(env->db, "bob", 12, "order-2", false);
	loyal_posting credit = test_posting("cy", "points", 8, "credit-1");
	assert_ok(env->db, loyal_ledger_credit(env->db, &credit, NULL));
	loyal_posting transfer = test_posting("cy", "points", 5, "transfer-1");
	transfer.to_member = "bob";
	assert_ok(env->db, loyal_ledger_transfer(env->db, &transfer, NULL));
	track_purchase(env->db, "ann", 10, "order-3", false);
	test_close_db(env);
	test_exec_file(env->path, UNDO_MIGRATION_22 UNDO_MIGRATION_21 UNDO_MIGRATION_20
			   UNDO_MIGRATION_19 UNDO_MIGRATION_18 UNDO_MIGRATION_17
			   "PRAGMA user_version = 16;");
	FILE *f = fopen(env->path, "rb");
	assert_non_null(f);
	static unsigned char old[1 << 20];
	size_t size = fread(old, 1, sizeof old, f);
	assert_true(size > 0 && size < sizeof old);
	fclose(f);

	char path[340];
	snprintf(path, sizeof path, "%s/migrating.db", env->dir);
	disk_install(path);
	long step = 1 + below(&r, 3), crashes = 0, kept_old = 0, kept_new = 0;
	for (long k = 0;; k += step) {
		write_whole(path, old, size);
		loyal_open_options opts;
		test_options(env, &opts);
		opts.durability = LOYAL_DURABILITY_POWER;
		disk_arm(k);
		loyal_db *db = NULL;
		assert_ok(db, loyal_open(path, &opts, &db));
		loyal_close(db); /* after a cut: as the dying process leaves it */
		if (!disk_is_cut()) {
			disk_arm(-1);
			assert_int_equal(schema_version_of(path), STORE_SCHEMA_VERSION);
			break;
		}
		bool killed = below(&r, 2);
		if (killed)
			disk_kill();
		else
			disk_power_loss(next_random(&r));
		crashes++;
		int64_t version = schema_version_of(path);
		if (version != 16 && version != STORE_SCHEMA_VERSION)
			fail_msg("a %s at write %ld of the migration left schema %lld",
				 killed ? "kill" : "power loss", k, (long long)version);
		kept_old += version == 16;
		kept_new += version == STORE_SCHEMA_VERSION;
		assert_ok(db, loyal_open(path, &opts, &db));
		assert_ok(db, loyal_verify(db));
		for (int m = 0; m < 3; m++) {
			loyal_balance balance = LOYAL_BALANCE_INIT;
			assert_ok(db, loyal_ledger_balance(db, names[m], "points", 0, &balance));
			if (balance.available != balances[m])
				fail_msg("%s holds %lld points after a crash at write %ld of the migration, "
					 "not %lld",
					 names[m], (long long)balance.available, k, (long long)balances[m]);
		}
		track_purchase(db, "ann", 30, "order-1", true);
		track_purchase(db, "ann", 5, "order-4", false);
		assert_int_equal(loyal_close(db), LOYAL_OK);
		static const char *const suffixes[] = {"-wal", "-shm"};
		for (int i = 0; i < 2; i++) {
			char side[360];
			snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
			unlink(side);
		}
	}
	print_message("%ld crashes inside the migration (every %ld writes): %ld left schema 16, "
		      "%ld the current one\n",
		      crashes, step, kept_old, kept_new);
	assert_true(kept_old > 0 && kept_new > 0);
	disk_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_power_loss__full_durability_keeps_every_acknowledged_call, test_setup,
			test_teardown),
		cmocka_unit_test_setup_teardown(
			test_power_loss__crash_safe_durability_loses_only_the_newest_calls,
			test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(
			test_power_loss__a_crash_inside_a_migration_leaves_the_old_file_or_the_new,
			test_setup, test_teardown),
	};
	return cmocka_run_group_tests_name("power_loss", tests, NULL, NULL);
}
