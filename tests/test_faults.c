/* test_faults.c - fault injection: every call under test is run again and again with its Nth
 * allocation failing (through SQLite's allocator hooks, jansson's, and the library's own
 * allocations, wrapped at link time), and with its Nth file operation failing (reads, writes,
 * syncs, truncations, locks, shared memory, opens: through a test VFS), once or from then on.
 * Each run must return LOYAL_OK or a clean error, leak nothing, and leave a database that opens,
 * verifies, and after a retry of the call holds exactly what a run without faults holds.
 *
 * One exception: allocations inside jansson's parser and serializer (see json_fault_malloc).
 *
 * LOYAL_FAULT_STRIDE=n tries every nth fault point (1: all of them). By default about SAMPLES
 * points of each call and kind are tried, evenly spread from an offset that is printed;
 * LOYAL_SEED=offset replays it. */
#include "faults.h"
#include "support.h"

#include "engine/handle.h"

#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- a VFS over the default one that fails file operations on demand ---- */

typedef struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
} fault_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

#define REAL(file) (((fault_file *)(file))->real)

static int file_close(sqlite3_file *file)
{
	return REAL(file)->pMethods->xClose(REAL(file));
}

static int file_read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset)
{
	return fault_now(FAULT_IO) ? SQLITE_IOERR_READ
				   : REAL(file)->pMethods->xRead(REAL(file), data, amount, offset);
}

static int file_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
	return fault_now(FAULT_IO) ? SQLITE_IOERR_WRITE
				   : REAL(file)->pMethods->xWrite(REAL(file), data, amount, offset);
}

static int file_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	return fault_now(FAULT_IO) ? SQLITE_IOERR_TRUNCATE
				   : REAL(file)->pMethods->xTruncate(REAL(file), size);
}

/* A sync that succeeds does nothing: this test is about errors, not power loss (test_crash),
 * and thousands of real fsyncs would make it wait on the disk. */
static int file_sync(sqlite3_file *file, int flags)
{
	(void)file;
	(void)flags;
	return fault_now(FAULT_IO) ? SQLITE_IOERR_FSYNC : SQLITE_OK;
}

static int file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	return fault_now(FAULT_IO) ? SQLITE_IOERR_FSTAT
				   : REAL(file)->pMethods->xFileSize(REAL(file), size);
}

static int file_lock(sqlite3_file *file, int level)
{
	return fault_now(FAULT_IO) ? SQLITE_IOERR_LOCK
				   : REAL(file)->pMethods->xLock(REAL(file), level);
}

static int file_unlock(sqlite3_file *file, int level)
{
	return REAL(file)->pMethods->xUnlock(REAL(file), level);
}

static int file_check_reserved(sqlite3_file *file, int *out)
{
	return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}

static int file_control(sqlite3_file *file, int op, void *arg)
{
	return REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}

static int file_sector_size(sqlite3_file *file)
{
	return REAL(file)->pMethods->xSectorSize(REAL(file));
}

static int file_characteristics(sqlite3_file *file)
{
	return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}

static int file_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
	return fault_now(FAULT_IO) ? SQLITE_IOERR_SHMMAP
				   : REAL(file)->pMethods->xShmMap(REAL(file), page, size, extend, out);
}

/* An unlock is never failed, of the shared memory as of the file (file_unlock): SQLite does
 * not look at what it returns, so a failed one would leave a lock held that no system leaves. */
static int file_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	return !(flags & SQLITE_SHM_UNLOCK) && fault_now(FAULT_IO)
		       ? SQLITE_IOERR_SHMLOCK
		       : REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}

static void file_shm_barrier(sqlite3_file *file)
{
	REAL(file)->pMethods->xShmBarrier(REAL(file));
}

static int file_shm_unmap(sqlite3_file *file, int delete_flag)
{
	return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}

static int file_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
	return REAL(file)->pMethods->xFetch(REAL(file), offset, amount, out);
}

static int file_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
	return REAL(file)->pMethods->xUnfetch(REAL(file), offset, page);
}

static const sqlite3_io_methods fault_io = {
	3,		      file_close,	  file_read,	   file_write,
	file_truncate,	      file_sync,	  file_size,	   file_lock,
	file_unlock,	      file_check_reserved, file_control,    file_sector_size,
	file_characteristics, file_shm_map,	  file_shm_lock,   file_shm_barrier,
	file_shm_unmap,	      file_fetch,	  file_unfetch,
};

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		    int *out_flags)
{
	(void)vfs;
	fault_file *wrapper = (fault_file *)file;
	wrapper->real = (sqlite3_file *)(wrapper + 1);
	wrapper->base.pMethods = NULL;
	if (fault_now(FAULT_IO))
		return SQLITE_CANTOPEN;
	int rc = real_vfs->xOpen(real_vfs, name, wrapper->real, flags, out_flags);
	if (wrapper->real->pMethods)
		wrapper->base.pMethods = &fault_io;
	return rc;
}

static void install_fault_hooks(void)
{
	assert_true(fault_install_allocators());
	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	fault_vfs = *real_vfs;
	fault_vfs.zName = "loyal-faults";
	fault_vfs.szOsFile = (int)sizeof(fault_file) + real_vfs->szOsFile;
	fault_vfs.xOpen = vfs_open;
	fault_vfs.pNext = NULL;
	assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

/* ---- the calls under test ---- */

#define SAMPLES 20 /* fault points tried per call and kind, unless LOYAL_FAULT_STRIDE says */
#define START (TEST_EPOCH_MS + 35 * DAY_MS) /* lots of the template are due by then */

/* %d: what a check-in earns (the program change under test raises it). */
static const char program_format[] =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
	"                 {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": ["
	"  {\"name\": \"welcome\", \"event\": \"signup\", \"first_time\": true,"
	"   \"award\": {\"points\": \"100\"}},"
	"  {\"name\": \"check-in\", \"event\": \"check_in\", \"award\": {\"points\": \"%d\","
	"   \"xp\": \"5\"}, \"caps\": [{\"per\": \"day\", \"awards\": 1}]},"
	"  {\"name\": \"purchase\", \"event\": \"purchase\", \"condition\": \"event.amount > 0\","
	"   \"award\": {\"points\": \"floor(event.amount) * tier.multiplier\","
	"    \"xp\": \"floor(event.amount)\"}, \"pending_days\": 14}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"},"
	"   {\"name\": \"silver\", \"entry\": \"earned(xp, 365d) >= 100\", \"multiplier\": 1.5}],"
	"  \"review\": {\"at\": \"anniversary\"}},"
	" \"badges\": [{\"name\": \"regular\", \"criterion\": \"count(check_in) >= 3\","
	"   \"award\": {\"points\": 25}}],"
	" \"segments\": [{\"name\": \"buyers\", \"criterion\": \"count(purchase, 60d) >= 1\"},"
	"   {\"name\": \"silent\", \"criterion\": \"days_since(last_seen) >= 20\"}],"
	" \"rewards\": [{\"name\": \"mug\", \"price\": {\"points\": 10}, \"stock\": 5,"
	"   \"limits\": [{\"per\": \"week\", \"count\": 3}], \"fulfilment\": \"two_phase\"}],"
	" \"coupons\": [{\"name\": \"welcome\", \"uses\": 2},"
	"   {\"name\": \"partner\", \"codes\": \"pool\"}],"
	" \"leaderboards\": [{\"name\": \"regulars\", \"measure\": {\"count\": \"check_in\"}}]}";

static int track(loyal_db *db, const char *member, const char *type, const char *key,
		 const char *properties, char **out)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = type;
	event.idempotency_key = key;
	event.properties = properties;
	return loyal_track(db, &event, out);
}

/* Each call writes a text that tells what it did (compared with a run without faults) and
 * says, for keyed writes, whether it was a replay. */
typedef struct outcome {
	char text[4096];
	int replayed; /* -1: not a keyed write */
} outcome;

static void keep_json(outcome *out, char *json)
{
	bool armed = faults.armed; /* the test's own parsing is not under test */
	faults.armed = false;
	if (json) {
		json_t *parsed = json_loads(json, 0, NULL);
		out->replayed = parsed ? json_is_true(json_object_get(parsed, "replayed")) : -1;
		json_object_del(parsed, "replayed");
		char *plain = parsed ? json_dumps(parsed, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		snprintf(out->text, sizeof out->text, "%s", plain ? plain : json);
		free(plain);
		json_decref(parsed);
	}
	loyal_free(json);
	faults.armed = armed;
}

static void keep_result(outcome *out, const loyal_result *result)
{
	snprintf(out->text, sizeof out->text, "txn %lld amount %lld", (long long)result->txn,
		 (long long)result->amount);
	out->replayed = result->replayed;
}

static int drain(loyal_cursor *cursor, int rc, outcome *out)
{
	const char *row = NULL;
	size_t used = 0;
	while (rc == LOYAL_OK && (rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row)
		used += (size_t)snprintf(out->text + used, sizeof out->text - used, "%s\n", row),
			used = used < sizeof out->text ? used : sizeof out->text - 1;
	loyal_cursor_free(cursor);
	return rc;
}

static void program_document(int check_in_points, char *out, size_t size)
{
	snprintf(out, size, program_format, check_in_points);
}

static int call_program(loyal_db *db, outcome *out)
{
	char document[sizeof program_format + 16];
	program_document(20, document, sizeof document);
	int64_t version = 0;
	int rc = loyal_program_apply(db, document, &version);
	snprintf(out->text, sizeof out->text, "version %lld", (long long)version);
	return rc;
}

static int call_purchase(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = track(db, "alice", "purchase", "order-9", "{\"amount\": 120.5}", &json);
	keep_json(out, json);
	return rc;
}

/* Two events in a batch: a failure in the first (which has no savepoint of its own) takes
 * the batch with it, whatever it had written; the second is refused then, and the batch is
 * rolled back. */
static int call_batch_track(loyal_db *db, outcome *out)
{
	int rc = loyal_batch_begin(db);
	char *json = NULL;
	if (rc == LOYAL_OK)
		rc = track(db, "alice", "purchase", "order-b1", "{\"amount\": 40}", &json);
	if (rc == LOYAL_OK)
		rc = track(db, "bob", "check_in", "check-in-b2", NULL, NULL);
	if (rc == LOYAL_OK)
		rc = loyal_batch_commit(db);
	else
		loyal_batch_rollback(db);
	keep_json(out, json);
	return rc;
}

/* A dry run writes nothing, failed or not: its retry is never a replay. */
static int call_dry_purchase(loyal_db *db, outcome *out)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = "alice";
	event.type = "purchase";
	event.idempotency_key = "order-dry";
	event.properties = "{\"amount\": 80}";
	event.flags = LOYAL_DRY_RUN;
	char *json = NULL;
	int rc = loyal_track(db, &event, &json);
	keep_json(out, json);
	out->replayed = -1;
	return rc;
}

static int call_check_in_badge(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = track(db, "alice", "check_in", "check-in-3", NULL, &json);
	keep_json(out, json);
	return rc;
}

static int call_new_member(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = track(db, "carol", "signup", "signup", "{\"source\": \"ad\"}", &json);
	keep_json(out, json);
	return rc;
}

static int ledger_call(loyal_db *db, outcome *out, int (*call)(loyal_db *, const loyal_posting *,
							       loyal_result *),
		       int64_t amount, const char *key, int64_t txn)
{
	loyal_posting posting = test_posting("alice", "points", amount, key);
	posting.txn = txn;
	if (call == loyal_ledger_hold)
		posting.deadline = START + DAY_MS;
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = call(db, &posting, &result);
	keep_result(out, &result);
	return rc;
}

static int call_debit(loyal_db *db, outcome *out)
{
	return ledger_call(db, out, loyal_ledger_debit, 7, "spend-1", 0);
}

static int call_hold(loyal_db *db, outcome *out)
{
	return ledger_call(db, out, loyal_ledger_hold, 9, "hold-2", 0);
}

static int64_t template_hold; /* the open hold of the template */

static int call_capture(loyal_db *db, outcome *out)
{
	return ledger_call(db, out, loyal_ledger_capture, 0, "capture-1", template_hold);
}

static int call_reverse_event(loyal_db *db, outcome *out)
{
	loyal_event_reversal reversal = LOYAL_EVENT_REVERSAL_INIT;
	reversal.member = "alice";
	reversal.event_key = "order-1";
	reversal.part = 1;
	reversal.whole = 3;
	reversal.idempotency_key = "return-1";
	char *json = NULL;
	int rc = loyal_event_reverse(db, &reversal, &json);
	keep_json(out, json);
	return rc;
}

static int64_t template_redemption; /* the pending redemption of the template */

static int call_redeem(loyal_db *db, outcome *out)
{
	loyal_redeem request = LOYAL_REDEEM_INIT;
	request.member = "alice";
	request.reward = "mug";
	request.idempotency_key = "redeem-2";
	char *json = NULL;
	int rc = loyal_reward_redeem(db, &request, &json);
	keep_json(out, json);
	return rc;
}

static int call_cancel_redemption(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = loyal_redemption_cancel(db, "alice", template_redemption, "cancel-1", &json);
	keep_json(out, json);
	return rc;
}

static int call_coupon_issue(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = loyal_coupon_issue(db, "alice", "partner", "coupon-2", &json);
	keep_json(out, json);
	return rc;
}

static int call_coupon_use(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = loyal_coupon_use(db, "alice", "POOL-0001", 0, "use-1", &json);
	keep_json(out, json);
	return rc;
}

static int call_reward_list(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = loyal_reward_list(db, "alice", 0, &json);
	if (json) /* a read: no replay to tell */
		snprintf(out->text, sizeof out->text, "%s", json);
	loyal_free(json);
	return rc;
}

static int call_grant(loyal_db *db, outcome *out)
{
	static const char *const members[] = {"alice", "bob", "carol"};
	loyal_grant grant = LOYAL_GRANT_INIT;
	grant.key = "grant-1";
	grant.members = members;
	grant.member_count = 3;
	grant.currency = "points";
	grant.amount = 15;
	(void)out; /* a retry after a partial grant reports those served before as already granted */
	return loyal_grant_run(db, &grant, NULL);
}

static int call_member_search(loyal_db *db, outcome *out)
{
	loyal_member_query query = LOYAL_MEMBER_QUERY_INIT;
	query.status = "active";
	loyal_cursor *cursor = NULL;
	int rc = loyal_member_list(db, &query, &cursor);
	return drain(cursor, rc, out);
}

static int call_badge_grant(loyal_db *db, outcome *out)
{
	int changed = 0;
	int rc = loyal_badge_grant(db, "bob", "regular", NULL, "a helping hand", &changed);
	snprintf(out->text, sizeof out->text, "changed %d", changed);
	return rc;
}

static int call_tier_assign(loyal_db *db, outcome *out)
{
	(void)out; /* the state is what counts: the fingerprint reads alice's tier */
	return loyal_tier_assign(db, "alice", "silver", 0, "invited");
}

static int call_leaderboard(loyal_db *db, outcome *out)
{
	char *top = NULL, *rank = NULL;
	int rc = loyal_leaderboard_top(db, "regulars", 0, 10, &top);
	if (rc == LOYAL_OK)
		rc = loyal_leaderboard_rank(db, "regulars", "alice", 0, 1, &rank);
	if (rc == LOYAL_OK) /* reads: no replay to tell */
		snprintf(out->text, sizeof out->text, "%s\n%s", top, rank);
	loyal_free(top);
	loyal_free(rank);
	return rc;
}

static int call_expire(loyal_db *db, outcome *out)
{
	int64_t settled = 0;
	int rc = loyal_expire(db, 0, &settled);
	(void)out; /* a retry after a partial sweep settles fewer: the state is what counts */
	return rc;
}

static int call_tier_sweep(loyal_db *db, outcome *out)
{
	int64_t changed = 0;
	(void)out;
	return loyal_tier_sweep(db, 0, &changed);
}

static int call_segment_refresh(loyal_db *db, outcome *out)
{
	loyal_cursor *changes = NULL;
	int rc = loyal_segment_refresh(db, 0, NULL, &changes);
	/* A refresh saves in parts: after a failed one, the retry reports only the rest. */
	outcome ignored;
	(void)out;
	return drain(changes, rc, &ignored);
}

static int call_reads(loyal_db *db, outcome *out)
{
	loyal_balance balance = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(db, "alice", "points", 0, &balance);
	size_t used = (size_t)snprintf(out->text, sizeof out->text, "%lld %lld %lld %lld\n",
				       (long long)balance.available, (long long)balance.pending,
				       (long long)balance.held, (long long)balance.expired);
	char *json = NULL;
	if (rc == LOYAL_OK)
		rc = loyal_member_get(db, "alice", &json);
	if (json)
		used += (size_t)snprintf(out->text + used, sizeof out->text - used, "%s\n", json);
	loyal_free(json);
	json = NULL;
	if (rc == LOYAL_OK)
		rc = loyal_report_liability(db, &json);
	if (json)
		snprintf(out->text + used, sizeof out->text - used, "%s\n", json);
	loyal_free(json);
	return rc;
}

static int call_member_as_of(loyal_db *db, outcome *out)
{
	char *json = NULL;
	int rc = loyal_member_as_of(db, "alice", 0, &json);
	if (json)
		snprintf(out->text, sizeof out->text, "%s\n", json);
	loyal_free(json);
	return rc;
}

/* The live program replayed against itself: two scratch databases filled and reported, then
 * removed; the live database is only read. */
static int call_whatif(loyal_db *db, outcome *out)
{
	char *text = NULL;
	int rc = loyal_program_get(db, &text);
	json_t *got = rc == LOYAL_OK ? json_loads(text, 0, NULL) : NULL;
	loyal_free(text);
	char *program = got ? json_dumps(json_object_get(got, "program"), JSON_COMPACT) : NULL;
	json_decref(got);
	if (rc == LOYAL_OK && !program)
		return LOYAL_ENOMEM; /* jansson's own allocation failed, outside the library */
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	w.program = program;
	char *json = NULL;
	if (rc == LOYAL_OK)
		rc = loyal_whatif(db, &w, &json);
	if (json)
		snprintf(out->text, sizeof out->text, "%s\n", json);
	loyal_free(json);
	free(program);
	return rc;
}

static int call_statement(loyal_db *db, outcome *out)
{
	loyal_cursor *cursor = NULL;
	int rc = loyal_ledger_statement(db, "alice", NULL, 0, &cursor);
	return drain(cursor, rc, out);
}

static int call_segment_members(loyal_db *db, outcome *out)
{
	loyal_cursor *cursor = NULL;
	int rc = loyal_segment_members(db, "buyers", &cursor);
	return drain(cursor, rc, out);
}

/* Reads the outbox as a consumer, then acknowledges everything: a retry reads the same rows. */
static int call_outbox(loyal_db *db, outcome *out)
{
	loyal_cursor *cursor = NULL;
	int rc = loyal_outbox_read(db, "mailer", 0, &cursor);
	rc = drain(cursor, rc, out);
	char *json = NULL;
	if (rc == LOYAL_OK)
		rc = loyal_outbox_consumers(db, &json);
	/* Read without jansson, whose allocations the faults would fail too. */
	const char *field = json ? strstr(json, "\"newest\":") : NULL;
	int64_t newest = field ? strtoll(field + strlen("\"newest\":"), NULL, 10) : 0;
	loyal_free(json);
	if (rc == LOYAL_OK && !newest)
		return LOYAL_EINTERNAL; /* the setup's events announce badges and tiers */
	return rc == LOYAL_OK ? loyal_outbox_ack(db, "mailer", newest) : rc;
}

/* Opening: the handle is made by the call under test (a failed open still gives one). */
static int open_handle(test_env *env)
{
	loyal_close(env->db);
	env->db = NULL;
	loyal_open_options opts;
	test_options(env, &opts);
	return loyal_open(env->path, &opts, &env->db);
}

typedef struct scenario {
	const char *name;
	int (*call)(loyal_db *db, outcome *out);
	int (*open)(test_env *env); /* instead of call: a scenario that opens the file */
	bool fresh;                 /* open: a missing file, created and migrated */
} scenario;

static const scenario scenarios[] = {
	{"open a new file", NULL, open_handle, true},
	{"open an existing file", NULL, open_handle, false},
	{"program apply", call_program, NULL, false},
	{"track purchase", call_purchase, NULL, false},
	{"track purchase as a dry run", call_dry_purchase, NULL, false},
	{"track two events in a batch", call_batch_track, NULL, false},
	{"track check-in earning a badge", call_check_in_badge, NULL, false},
	{"track a new member's signup", call_new_member, NULL, false},
	{"debit", call_debit, NULL, false},
	{"hold", call_hold, NULL, false},
	{"capture", call_capture, NULL, false},
	{"event reversal", call_reverse_event, NULL, false},
	{"redeem a reward", call_redeem, NULL, false},
	{"cancel a redemption", call_cancel_redemption, NULL, false},
	{"rewards a member can redeem", call_reward_list, NULL, false},
	{"issue a coupon from a pool", call_coupon_issue, NULL, false},
	{"use a coupon", call_coupon_use, NULL, false},
	{"bulk grant to a list", call_grant, NULL, false},
	{"badge grant", call_badge_grant, NULL, false},
	{"tier assignment", call_tier_assign, NULL, false},
	{"expiry sweep", call_expire, NULL, false},
	{"tier sweep", call_tier_sweep, NULL, false},
	{"segment refresh", call_segment_refresh, NULL, false},
	{"balance, member and liability reads", call_reads, NULL, false},
	{"statement", call_statement, NULL, false},
	{"member as of now, rebuilt from history", call_member_as_of, NULL, false},
	{"what-if of the live program, replayed", call_whatif, NULL, false},
	{"member search", call_member_search, NULL, false},
	{"leaderboard top and rank", call_leaderboard, NULL, false},
	{"outbox read and acknowledge", call_outbox, NULL, false},
	{"segment members", call_segment_members, NULL, false},
};
#define SCENARIOS (sizeof scenarios / sizeof *scenarios)

/* ---- the harness ---- */

typedef struct harness {
	test_env *env;
	char template_path[320];
	char fingerprint[SCENARIOS][8192];
	outcome expected[SCENARIOS];
	long operations[SCENARIOS][2]; /* allocations and file operations of a clean run */
	long stride, offset;           /* stride 0: sample SAMPLES points of each call */
	long points, failures_seen;
} harness;

static void copy_file(const char *from, const char *to)
{
	size_t size = 0;
	unsigned char *data = test_read_file(from, &size);
	assert_non_null(data);
	FILE *file = fopen(to, "wb");
	assert_non_null(file);
	assert_int_equal(fwrite(data, 1, size, file), size);
	assert_int_equal(fclose(file), 0);
	free(data);
}

static void remove_database(const char *path)
{
	char file[340];
	const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (int i = 0; i < 4; i++) {
		snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
		unlink(file);
	}
}

/* The template: a program, members with history, an open hold; closed (checkpointed). */
static void make_template(harness *h)
{
	test_env *env = h->env;
	char document[sizeof program_format + 16];
	program_document(10, document, sizeof document);
	test_apply(env, document);
	assert_ok(env->db, track(env->db, "alice", "signup", "signup", NULL, NULL));
	assert_ok(env->db, track(env->db, "alice", "purchase", "order-1", "{\"amount\": 60}", NULL));
	for (int day = 0; day < 2; day++) {
		char key[32];
		snprintf(key, sizeof key, "check-in-%d", day + 1);
		assert_ok(env->db, track(env->db, "alice", "check_in", key, NULL, NULL));
		env->now += DAY_MS;
	}
	env->now = TEST_EPOCH_MS + 20 * DAY_MS;
	assert_ok(env->db, track(env->db, "alice", "purchase", "order-2", "{\"amount\": 200}",
				 NULL));
	assert_ok(env->db, track(env->db, "bob", "signup", "signup", NULL, NULL));
	loyal_posting hold = test_posting("alice", "points", 20, "hold-1");
	hold.deadline = START + 2 * DAY_MS;
	loyal_result result = LOYAL_RESULT_INIT;
	assert_ok(env->db, loyal_ledger_hold(env->db, &hold, &result));
	template_hold = result.txn;
	loyal_redeem mug = LOYAL_REDEEM_INIT;
	mug.member = "alice";
	mug.reward = "mug";
	mug.idempotency_key = "redeem-1";
	char *made = NULL;
	assert_ok(env->db, loyal_reward_redeem(env->db, &mug, &made));
	json_t *redemption = json_loads(made, 0, NULL);
	template_redemption = json_integer_value(json_object_get(redemption, "id"));
	json_decref(redemption);
	loyal_free(made);
	int64_t added = 0, duplicates = 0;
	assert_ok(env->db, loyal_coupon_import(env->db, "partner", "POOL-0001\nPOOL-0002\n", &added,
					       &duplicates));
	assert_ok(env->db, loyal_coupon_issue(env->db, "alice", "partner", "coupon-1", NULL));
	loyal_cursor *changes = NULL;
	assert_ok(env->db, loyal_segment_refresh(env->db, 0, NULL, &changes));
	loyal_cursor_free(changes);
	test_close_db(env);
	test_file(env, "template.db", h->template_path);
	copy_file(env->path, h->template_path);
	remove_database(env->path);
	env->now = START;
}

/* What the database holds, as text: balances, tiers, members, liability, verification. */
static void fingerprint(loyal_db *db, char *out, size_t size)
{
	size_t used = 0;
	const char *members[] = {"alice", "bob", "carol"};
	const char *currencies[] = {"points", "xp"};
	for (int m = 0; m < 3; m++)
		for (int c = 0; c < 2; c++) {
			loyal_balance b = LOYAL_BALANCE_INIT;
			int rc = loyal_ledger_balance(db, members[m], currencies[c], 0, &b);
			used += (size_t)snprintf(
				out + used, size - used, "%s %s: %s %lld %lld %lld %lld %lld %lld\n",
				members[m], currencies[c], loyal_errstr(rc), (long long)b.available,
				(long long)b.pending, (long long)b.held, (long long)b.earned,
				(long long)b.spent, (long long)b.expired);
		}
	char *json = NULL;
	int rc = loyal_tier_get(db, "alice", &json);
	used += (size_t)snprintf(out + used, size - used, "tier %s %s\n", loyal_errstr(rc),
				 json ? json : "");
	loyal_free(json);
	json = NULL;
	rc = loyal_program_get(db, &json);
	used += (size_t)snprintf(out + used, size - used, "program %s %.200s\n", loyal_errstr(rc),
				 json ? json : "");
	loyal_free(json);
	json = NULL;
	rc = loyal_badge_list(db, "alice", &json);
	used += (size_t)snprintf(out + used, size - used, "badges %s %s\n", loyal_errstr(rc),
				 json ? json : "");
	loyal_free(json);
	snprintf(out + used, size - used, "verify %s\n", loyal_errstr(loyal_verify(db)));
}

/* Prepares the file for scenario i and opens it, unless the scenario opens it itself. */
static void open_copy(harness *h, size_t i)
{
	remove_database(h->env->path);
	if (!scenarios[i].fresh)
		copy_file(h->template_path, h->env->path);
	h->env->db = NULL;
	if (!scenarios[i].open)
		test_reopen_db(h->env);
}

static int run_scenario(test_env *env, size_t i, outcome *out)
{
	return scenarios[i].open ? scenarios[i].open(env) : scenarios[i].call(env->db, out);
}

/* Whether another connection can begin writing the file at once: a call that failed left no
 * transaction open on its handle to hold the write lock (and show its writes to the next read). */
static bool writer_can_begin(const char *path)
{
	sqlite3 *other = NULL;
	bool began = sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
		     sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(other); /* which rolls back what it began */
	return began || access(path, F_OK) != 0; /* a failed open of a new file made none */
}

/* After the faulted call: the handle is closed, the file reopened, the call retried without
 * faults; the state must be the one a clean run leaves. */
static void check_after(harness *h, size_t i, int rc, const outcome *faulted, const char *kind,
			long point)
{
	test_env *env = h->env;
	if (rc != LOYAL_OK && rc != LOYAL_ENOMEM && rc != LOYAL_EIO && rc != LOYAL_EBUSY) {
		print_error("%s, %s fault %ld: returned %s (%s)\n", scenarios[i].name, kind, point,
			    loyal_errstr(rc), loyal_errmsg(env->db));
		fail();
	}
	if (rc != LOYAL_OK && !*loyal_errmsg(env->db)) {
		print_error("%s, %s fault %ld: %s without a message\n", scenarios[i].name, kind,
			    point, loyal_errstr(rc));
		fail();
	}
	if (rc == LOYAL_OK && faulted->text[0] &&
	    strcmp(faulted->text, h->expected[i].text) != 0) {
		print_error("%s, %s fault %ld: succeeded with\n%s\ninstead of\n%s\n",
			    scenarios[i].name, kind, point, faulted->text, h->expected[i].text);
		fail();
	}
	char message[512];
	snprintf(message, sizeof message, "%s", loyal_errmsg(env->db));
	if (!writer_can_begin(env->path)) {
		print_error("%s, %s fault %ld (returned %s: %s): the handle still holds the write "
			    "lock (a transaction left open)\n",
			    scenarios[i].name, kind, point, loyal_errstr(rc), message);
		fail();
	}
	loyal_close(env->db); /* a failed open's handle too */
	env->db = NULL;
	if (test_live_allocations() != 0) { /* every allocation of the library was released */
		print_error("%s, %s fault %ld (returned %s: %s): %ld allocations leaked\n",
			    scenarios[i].name, kind, point, loyal_errstr(rc), message, test_live_allocations());
		fail();
	}
	test_reopen_db(env);
	outcome retry = {.replayed = -1};
	assert_ok(env->db, run_scenario(env, i, &retry));
	/* A failed keyed write was not recorded (an allocation failure is seen before the commit;
	 * a failed sync may come after it, so for I/O either is right); a successful one was. */
	if (retry.replayed >= 0 && (rc == LOYAL_OK || faults.kind == FAULT_ALLOC) &&
	    retry.replayed != (rc == LOYAL_OK)) {
		print_error("%s, %s fault %ld: returned %s, and its retry %s a replay\n",
			    scenarios[i].name, kind, point, loyal_errstr(rc),
			    retry.replayed ? "is" : "is not");
		fail();
	}
	char state[8192];
	fingerprint(env->db, state, sizeof state);
	if (strcmp(state, h->fingerprint[i]) != 0) {
		print_error("%s, %s fault %ld (returned %s): the state is\n%s\ninstead of\n%s\n",
			    scenarios[i].name, kind, point, loyal_errstr(rc), state,
			    h->fingerprint[i]);
		fail();
	}
	test_close_db(env);
	remove_database(env->path);
}

static void run_faults(harness *h, enum fault_kind kind, bool persistent)
{
	const char *name = kind == FAULT_ALLOC ? (persistent ? "allocation (from then on)"
							     : "allocation")
					       : (persistent ? "I/O (from then on)" : "I/O");
	for (size_t i = 0; i < SCENARIOS; i++) {
		long tried = 0;
		long stride = h->stride ? h->stride : h->operations[i][kind] / SAMPLES + 1;
		for (long point = h->offset % stride;; point += stride) {
			open_copy(h, i);
			outcome faulted = {.replayed = -1};
			fault_arm(kind, point, persistent);
			int rc = run_scenario(h->env, i, &faulted);
			bool fired = faults.fired;
			fault_disarm();
			if (!fired) {
				/* Past the call's last operation: nothing failed. */
				assert_ok(h->env->db, rc);
				test_close_db(h->env);
				remove_database(h->env->path);
				break;
			}
			tried++;
			h->failures_seen += rc != LOYAL_OK;
			check_after(h, i, rc, &faulted, name, point);
		}
		h->points += tried;
		print_message("%-40s %-26s %4ld fault points\n", scenarios[i].name, name, tried);
	}
}

static harness the_harness;

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	harness *h = &the_harness;
	h->env = *state;
	make_template(h);
	const char *stride = getenv("LOYAL_FAULT_STRIDE");
	const char *seed = getenv("LOYAL_SEED");
	h->stride = stride ? atol(stride) : 0;
	if (h->stride < 0)
		h->stride = 0;
	h->offset = seed ? atol(seed) : (long)time(NULL) % 1000;
	if (h->stride)
		print_message("faults: every %ld point(s) (replay with LOYAL_SEED=%ld "
			      "LOYAL_FAULT_STRIDE=%ld)\n",
			      h->stride, h->offset, h->stride);
	else
		print_message("faults: about %d points of each call, spread evenly (replay with "
			      "LOYAL_SEED=%ld; LOYAL_FAULT_STRIDE=1 tries every point)\n",
			      SAMPLES, h->offset);
	/* What each call returns and leaves behind without faults, retry included. */
	for (size_t i = 0; i < SCENARIOS; i++) {
		for (int kind = FAULT_ALLOC; kind <= FAULT_IO; kind++) {
			open_copy(h, i);
			outcome counted;
			fault_arm((enum fault_kind)kind, LONG_MAX, false);
			int rc = run_scenario(h->env, i, &counted);
			fault_disarm();
			h->operations[i][kind] = faults.operations;
			test_close_db(h->env);
			if (rc != LOYAL_OK)
				return -1;
		}
		open_copy(h, i);
		h->expected[i].replayed = -1;
		if (run_scenario(h->env, i, &h->expected[i]) != LOYAL_OK) {
			print_error("%s fails without faults: %s\n", scenarios[i].name,
				    loyal_errmsg(h->env->db));
			return -1;
		}
		test_close_db(h->env);
		test_reopen_db(h->env);
		outcome retry;
		if (run_scenario(h->env, i, &retry) != LOYAL_OK)
			return -1;
		fingerprint(h->env->db, h->fingerprint[i], sizeof h->fingerprint[i]);
		test_close_db(h->env);
		remove_database(h->env->path);
	}
	return 0;
}

static int teardown(void **state)
{
	test_env *env = *state;
	unlink(the_harness.template_path);
	test_reopen_db(env); /* test_teardown closes it */
	return test_teardown(state);
}

static void test_faults__allocation_failure_at_every_point(void **state)
{
	(void)state;
	run_faults(&the_harness, FAULT_ALLOC, false);
}

static void test_faults__allocations_failing_from_a_point_on(void **state)
{
	(void)state;
	run_faults(&the_harness, FAULT_ALLOC, true);
}

static void test_faults__io_error_at_every_point(void **state)
{
	(void)state;
	run_faults(&the_harness, FAULT_IO, false);
}

static void test_faults__io_failing_from_a_point_on(void **state)
{
	(void)state;
	run_faults(&the_harness, FAULT_IO, true);
	print_message("faults: %ld fault points, %ld of them made the call fail cleanly\n",
		      the_harness.points, the_harness.failures_seen);
}

int main(void)
{
	install_fault_hooks();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_faults__allocation_failure_at_every_point),
		cmocka_unit_test(test_faults__allocations_failing_from_a_point_on),
		cmocka_unit_test(test_faults__io_error_at_every_point),
		cmocka_unit_test(test_faults__io_failing_from_a_point_on),
	};
	return cmocka_run_group_tests_name("faults", tests, setup, teardown);
}
