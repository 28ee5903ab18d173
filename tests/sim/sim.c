/* sim.c - the deterministic simulator: a seed drives a fake clock and a stream of random but
 * plausible operations (events of every type, some back-dated, spends (some back-dated),
 * holds, reversals, replays, program changes, sweeps, segment refreshes, reopening the file,
 * power losses in the middle of a call on a disk that keeps only what was synced (disk.h))
 * over many members, checked against a reference model of what each member must have earned,
 * spent, pending and held, and against loyal_verify. The model predicts every award from the
 * program's rules on its own: daily capped check-ins, a return bonus after ten idle days,
 * purchases whose points wait out a return window while their xp counts at once, referrals
 * (a member naming themself pays no one), a check-in streak badge and a check-in challenge
 * that counts only what happens inside its window; and redemptions of two rewards (an
 * instant one limited per day, a two-phase one with a stock and a weekly limit, fulfilled,
 * cancelled or left to expire), coupon codes issued and used (each use once, by its
 * member only, within its validity), and bulk grants of points to lists of members, some run
 * again (each member served once; blocked and unknown members refused, blocked ones for good),
 * an operator granting and revoking the streak badge, a post bonus with a daily budget
 * across all members, and a leaderboard of posts checked against the model's counts.
 *
 *   loyal-sim [--seed N] [--steps N] [--members N] [--dir DIR] [--trace]
 *   loyal-sim --db URI --restart COMMAND [...]
 *
 * With --db, the store is the PostgreSQL database at URI (a postgresql:// URI of a database
 * with no loyal store yet): an I/O fault drops a handle's connection (the server ends its
 * backend), and a power loss is the server's crash, which COMMAND makes (a shell command that
 * stops the server as a crash does and starts it again: tests/pg/cluster.sh crash DIR).
 *
 * It prints its seed first; the same seed replays the same run exactly. Exit status 0: every
 * check held; 1: a check failed (the step, the operation and what differed are printed). */
#include "disk.h"
#include "faults.h"
#include "loyal.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_MEMBERS 512
#define DAY_MS INT64_C(86400000)
#define HOUR_MS INT64_C(3600000)
#define EPOCH_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define PENDING_DAYS 14
#define MAX_HOLD_HOURS 72
#define HABITUAL_MEMBERS 4
#define STREAK_BADGE_POINTS 100
#define RETURN_IDLE_DAYS 10
#define RETURN_BONUS 25
#define BACKDATE_MS (2 * DAY_MS) /* how far back a back-dated purchase, post or debit goes */
/* The check-in challenge: 3 check-ins between program days 20 and 27. */
#define CHALLENGE_FROM_MS (EPOCH_MS + 20 * DAY_MS)
#define CHALLENGE_UNTIL_MS (EPOCH_MS + 27 * DAY_MS)
#define CHALLENGE_CHECK_INS 3

/* The program in two variants, which differ in what a post earns: applying one over the other
 * is the simulated program change. %s and %s: a post's points and xp. */
static const char program_format[] =
	"{\"timezone\": \"UTC\","
	" \"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
	"                  {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": ["
	"  {\"name\": \"welcome\", \"event\": \"signup\", \"first_time\": true,"
	"   \"award\": {\"points\": \"100\"}},"
	"  {\"name\": \"check-in\", \"event\": \"check_in\", \"award\": {\"points\": \"10\","
	"   \"xp\": \"5\"}, \"caps\": [{\"per\": \"day\", \"awards\": 1}]},"
	"  {\"name\": \"welcome-back\", \"event\": \"check_in\","
	"   \"condition\": \"days_since(last_seen) >= 10\", \"award\": {\"points\": \"25\"}},"
	"  {\"name\": \"post\", \"event\": \"post\", \"award\": {\"points\": \"%d\", \"xp\": \"%d\"}},"
	"  {\"name\": \"post-bonus\", \"event\": \"post\", \"award\": {\"points\": \"1\"},"
	"   \"budget\": {\"per\": \"day\", \"awards\": 5}},"
	"  {\"name\": \"purchase\", \"event\": \"purchase\", \"condition\": \"event.amount > 0\","
	"   \"award\": {\"points\": \"floor(event.amount)\","
	"    \"xp\": {\"amount\": \"floor(event.amount)\", \"pending_days\": 0}},"
	"   \"pending_days\": 14},"
	"  {\"name\": \"invitee\", \"event\": \"invite_accepted\", \"award\": {\"points\": \"50\"}},"
	"  {\"name\": \"referrer\", \"event\": \"invite_accepted\","
	"   \"recipient\": \"event.referrer\", \"award\": {\"points\": \"50\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"},"
	"   {\"name\": \"silver\", \"entry\": \"earned(xp, 365d) >= 300\","
	"    \"retain\": \"earned(xp, 365d) >= 200\"},"
	"   {\"name\": \"gold\", \"entry\": \"earned(xp, 365d) >= 1500\"}],"
	"  \"review\": {\"at\": \"calendar\", \"period\": \"month\"}, \"drop\": \"one_step\"},"
	" \"badges\": [{\"name\": \"week-streak\", \"criterion\": \"streak(check_in, day) >= 7\","
	"   \"award\": {\"points\": 100}},"
	"  {\"name\": \"challenge\", \"criterion\": \"count(check_in) >= 3\","
	"   \"active\": {\"from\": \"2026-01-21T00:00:00Z\", \"until\": \"2026-01-28T00:00:00Z\"}}],"
	" \"segments\": [{\"name\": \"buyers\", \"criterion\": \"count(purchase, 30d) >= 2\"},"
	"   {\"name\": \"regulars\", \"criterion\": \"active_days(check_in, 14d) >= 5\"},"
	"   {\"name\": \"silent\", \"criterion\": \"days_since(last_seen) >= 10\"}],"
	" \"rewards\": [{\"name\": \"coffee\", \"price\": {\"points\": 15},"
	"   \"limits\": [{\"per\": \"day\", \"count\": 1}]},"
	"  {\"name\": \"mug\", \"price\": {\"points\": 40}, \"stock\": 6,"
	"   \"limits\": [{\"per\": \"week\", \"count\": 2}], \"fulfilment\": \"two_phase\","
	"   \"deadline_days\": 3}],"
	" \"coupons\": [{\"name\": \"thanks\", \"uses\": 2, \"valid_days\": 5}],"
	" \"leaderboards\": [{\"name\": \"posters\", \"measure\": {\"count\": \"post\"}}]}";
/* The rewards: their prices, the mug's stock and deadline, and each one's limit per period. */
static const char *const reward_names[2] = {"coffee", "mug"};
static const int64_t reward_prices[2] = {15, 40}, reward_limits[2] = {1, 2};
#define MUG_STOCK 6
#define MUG_DEADLINE_MS (3 * DAY_MS)
#define COUPON_USES 2
#define COUPON_VALID_MS (5 * DAY_MS)
static const int post_points[2] = {2, 3}, post_xp[2] = {5, 8};
#define SEGMENTS 3
static const char *const segment_names[SEGMENTS] = {"buyers", "regulars", "silent"};

/* One posting an event made, as the model predicts it. */
typedef struct award {
	int member;
	bool xp; /* else points */
	int64_t amount;
} award;

typedef struct sim_event {
	char key[32];
	char type[24];
	char properties[64];
	int member;
	int64_t at;
	award awards[3];
	int award_count;
	bool reversed;
} sim_event;

typedef struct sim_hold {
	int member;
	int64_t txn, amount, at, deadline;
	bool settled;
	bool redemption; /* a two-phase redemption's: settled through it, not the ledger */
} sim_hold;

/* A coupon code as the model sees it. */
typedef struct sim_coupon {
	int member;
	char code[40];
	int64_t uses_left, valid_until;
} sim_coupon;

/* A redemption as the model sees it. A two-phase one holds its points in holds[hold]. */
typedef struct sim_redemption {
	int member, reward;
	int64_t id, quantity, amount, at;
	int hold; /* -1: instant */
	bool fulfilled, cancelled;
} sim_redemption;

typedef struct sim_member {
	char id[16];
	bool exists, blocked, badge, challenge;
	bool badge_revoked; /* the streak badge was revoked by an operator since its award */
	int64_t gold_until; /* an operator's assignment of gold lasts until then (0: none) */
	int64_t posts;      /* the posters leaderboard's score: every post tracked */
	int64_t xp, earned, spent, expired;
	int64_t last_check_in_day, streak;
	int64_t last_seen;         /* the engine's last activity: events and spending writes */
	int64_t challenge_check_ins; /* check-ins since the challenge opened */
	bool in_segment[SEGMENTS];
} sim_member;

typedef struct sim {
	loyal_db *db;    /* the handle the steps use */
	loyal_db *other; /* a second handle on the file, which steps turn to now and then */
	long switches;
	const char *db_name, *other_name; /* on PostgreSQL, each one's application_name */
	char path[1024]; /* the file, or --db's URI */
	/* On PostgreSQL (--db): a connection of the simulator's own that drops a handle's
	 * connection (op_io_fault), and the command that crashes the server and starts it again
	 * (op_crash). drop_next_call: track_event drops the connection right before its call;
	 * drop_at_row, when not negative: track_event arms the server to end the call's session
	 * at that many rows into its writes (arm_drop_in_call), which drop_armed says it did;
	 * crash_at_row likewise arms the server to crash there (crash_watch), which crashed_in_call
	 * says it did; dropped: the connection was dropped, and the call may fail with LOYAL_EIO. */
	PGconn *server;
	const char *restart;
	bool drop_next_call, drop_armed, crash_armed, crashed_in_call, dropped;
	long drop_at_row, crash_at_row;
	long drops, drops_in_call, server_crashes, crashes_in_call, reconnects;
	struct crash_watch *watch;
	/* op_alloc_fault: when not negative, track_event arms an allocation fault right before
	 * its call, which lets this many allocations through. */
	long alloc_next;
	long alloc_faults; /* calls an allocation fault failed, each retried */
	int64_t now;
	uint64_t rng;
	long step;
	const char *operation;
	bool trace;
	int variant;
	int member_count;
	sim_member members[MAX_MEMBERS];
	sim_event *events; /* in time order */
	int event_count, event_capacity;
	int deep_checked; /* event_count at the last loyal_verify and rebuild from history */
	sim_hold *holds; /* in time order */
	int hold_count, hold_capacity;
	sim_redemption *redemptions; /* in time order */
	int redemption_count, redemption_capacity;
	sim_coupon *coupons;
	int coupon_count, coupon_capacity;
	long coupon_uses;
	/* The post bonus's budget: awards made per program day (from day_base on). */
	int *budget_used;
	int64_t budget_days, day_base;
	long budget_refusals;
	/* The last bulk grant: its key, list and amount, and what each member got from it. */
	struct {
		char key[32];
		int members[6], count;
		int64_t amount;
		int state[MAX_MEMBERS]; /* GRANT_NONE... */
	} grant;
	long grants, grants_again;
	long assignments, releases;
	int64_t outbox_position; /* what the simulator's outbox consumer acknowledged */
	long happenings;
	long key_counter, badges;
	/* How often the cases the model predicts on their own came up, to show they did. */
	long returns, self_referrals, late_events, late_debits, challenges, dry_runs;
	long redeemed, sold_out, limited, redemptions_refunded;
	/* Crashes (power losses and kills), the events and batches in flight that were kept or
	 * lost, and unsynced bytes lost. */
	long power_losses, kills, in_flight_kept, in_flight_lost, batches_kept, batches_lost;
	long batches, batches_rolled_back; /* op_batch's */
	long io_faults; /* calls an I/O error failed (op_io_fault), each retried */
	int crash_events; /* event_count at the last crash */
	int64_t bytes_lost;
	long counts[32]; /* per operation: OP_COUNT fits */
} sim;

static uint64_t seed_of_run;

static void fail(sim *s, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fprintf(stderr, "sim: FAILED at step %ld (%s), program time %lld: ", s->step,
		s->operation, (long long)s->now);
	vfprintf(stderr, format, args);
	va_end(args);
	fprintf(stderr, "\nsim: replay with --seed %llu\n", (unsigned long long)seed_of_run);
	exit(1);
}

/* Checks a call's result code. */
static void expect_rc(sim *s, int rc, int expected, const char *call)
{
	if (rc != expected)
		fail(s, "%s returned %s (%s), expected %s", call, loyal_errstr(rc),
		     loyal_errmsg(s->db), loyal_errstr(expected));
}

static uint64_t next_random(sim *s)
{
	/* splitmix64: replayable from the seed. */
	uint64_t z = (s->rng += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static int64_t below(sim *s, int64_t bound)
{
	return bound > 0 ? (int64_t)(next_random(s) % (uint64_t)bound) : 0;
}

static int64_t sim_clock(void *ctx)
{
	return ((sim *)ctx)->now;
}

/* Whether a dry run's outcome (its mark taken out) is the real call's. On PostgreSQL, whose
 * sequences a rollback does not wind back, the real call's ids (the event's, each posting's
 * transaction) may be later ones than the dry run's: all else must be the same. */
static bool same_outcome(sim *s, const char *predicted, const char *outcome)
{
	if (!s->server)
		return strcmp(predicted, outcome) == 0;
	json_t *both[2] = {json_loads(predicted, 0, NULL), json_loads(outcome, 0, NULL)};
	for (int i = 0; i < 2; i++) {
		json_object_del(both[i], "event");
		size_t k;
		json_t *posting;
		json_array_foreach(json_object_get(both[i], "postings"), k, posting)
			json_object_del(posting, "txn");
	}
	bool same = both[0] && both[1] && json_equal(both[0], both[1]);
	json_decref(both[0]);
	json_decref(both[1]);
	return same;
}

/* Opens a handle; on PostgreSQL its connection is known to the server by `name`. */
static void open_handle(sim *s, loyal_db **db, const char *name)
{
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.clock = sim_clock;
	opts.clock_ctx = s;
	opts.durability = LOYAL_DURABILITY_POWER; /* what the simulated power losses check */
	char location[sizeof s->path + 64];
	if (s->server)
		snprintf(location, sizeof location, "%s%capplication_name=%s", s->path,
			 strchr(s->path, '?') ? '&' : '?', name);
	else
		snprintf(location, sizeof location, "%s", s->path);
	int rc = loyal_open(location, &opts, db);
	if (rc != LOYAL_OK) {
		fprintf(stderr, "sim: cannot open %s: %s\n", s->path, loyal_errmsg(*db));
		exit(1);
	}
}

/* The handle the steps use (s->db), and the other one on the same store. */
static void open_db(sim *s)
{
	s->db_name = "loyal-sim-a";
	s->other_name = "loyal-sim-b";
	open_handle(s, &s->db, s->db_name);
	open_handle(s, &s->other, s->other_name);
}

/* The steps go on on the other handle, which must see all that the first one wrote. */
static void switch_handle(sim *s)
{
	loyal_db *db = s->db;
	s->db = s->other;
	s->other = db;
	const char *name = s->db_name;
	s->db_name = s->other_name;
	s->other_name = name;
	s->switches++;
}

/* On PostgreSQL: the server ends the backend of the handle known as `name`, and it is gone
 * before this returns (pg_terminate_backend waits for it), so that the handle's next call finds
 * its connection dead. */
static void drop_connection(sim *s, const char *name)
{
	const char *values[1] = {name};
	PGresult *r = PQexecParams(s->server,
				   "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))"
				   " FROM pg_stat_activity WHERE application_name = $1",
				   1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "1") != 0)
		fail(s, "dropping the connection of %s: %s", name,
		     PQresultStatus(r) == PGRES_TUPLES_OK ? "not one backend ended"
							   : PQerrorMessage(s->server));
	PQclear(r);
	s->drops++;
}

/* On PostgreSQL, a session can end inside a call too: a trigger of the simulator's own, on
 * the tables a tracked event writes, counts each row written in a sequence (which no rollback
 * winds back) and, at the row the simulator armed, has the server end the session writing it
 * (pg_terminate_backend of its own backend), inside the call's transaction. */
static const char drop_in_call_setup[] =
	"CREATE SCHEMA sim_fault;"
	"CREATE SEQUENCE sim_fault.rows;"
	"CREATE TABLE sim_fault.armed(at bigint NOT NULL, crash boolean NOT NULL);"
	"INSERT INTO sim_fault.armed VALUES (0, false);"
	"CREATE FUNCTION sim_fault.row_written() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  IF nextval('sim_fault.rows') <> (SELECT at FROM sim_fault.armed) THEN RETURN NULL;"
	"  ELSIF (SELECT crash FROM sim_fault.armed) THEN PERFORM pg_advisory_xact_lock(7307, 1);"
	"  ELSE PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(10);"
	"  END IF; RETURN NULL; END $$;";
static const char *const drop_in_call_tables[] = {"members", "idem",     "events",  "activity",
						  "txns",    "entries",  "lots",    "balances",
						  "rule_counters"};

static PGresult *server_exec(sim *s, const char *sql, ExecStatusType expected)
{
	PGresult *r = PQexec(s->server, sql);
	if (PQresultStatus(r) != expected)
		fail(s, "the simulator's own statement %.60s...: %s", sql, PQerrorMessage(s->server));
	return r;
}

static void install_drop_in_call(sim *s)
{
	PQclear(server_exec(s, drop_in_call_setup, PGRES_COMMAND_OK));
	for (size_t i = 0; i < sizeof drop_in_call_tables / sizeof *drop_in_call_tables; i++) {
		char sql[200];
		snprintf(sql, sizeof sql,
			 "CREATE TRIGGER sim_fault AFTER INSERT OR UPDATE ON loyal.%s FOR EACH ROW"
			 " EXECUTE FUNCTION sim_fault.row_written()",
			 drop_in_call_tables[i]);
		PQclear(server_exec(s, sql, PGRES_COMMAND_OK));
	}
}

/* The rows written so far by every session, as the trigger counted them. */
static const char rows_written[] =
	"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sim_fault.rows)";

static void arm_drop_in_call(sim *s, long rows, bool crash)
{
	char sql[200];
	snprintf(sql, sizeof sql, "UPDATE sim_fault.armed SET at = %s + %ld, crash = %s",
		 rows_written, rows + 1, crash ? "true" : "false");
	PQclear(server_exec(s, sql, PGRES_COMMAND_OK));
	s->drop_armed = true;
}

/* A crash inside a call: the armed row's session waits for a lock of the simulator's
 * (7307, 1), and a thread of the simulator's that sees it waiting crashes the server and
 * starts it again (the restart command), while the call is inside its transaction. The call
 * then meets its connection lost. */
typedef struct crash_watch {
	pthread_t thread;
	const char *uri, *restart;
	atomic_bool stop;
	bool crashed;
	int status; /* the restart command's */
	char error[256];
} crash_watch;

static void *watch_for_waiter(void *arg)
{
	crash_watch *w = arg;
	PGconn *conn = PQconnectdb(w->uri);
	while (!atomic_load(&w->stop) && PQstatus(conn) == CONNECTION_OK) {
		PGresult *r = PQexec(conn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
					   " AND classid = 7307 AND objid = 1 AND NOT granted");
		bool waiting = PQresultStatus(r) == PGRES_TUPLES_OK &&
			       strcmp(PQgetvalue(r, 0, 0), "0") != 0;
		PQclear(r);
		if (waiting) {
			w->status = system(w->restart);
			w->crashed = true;
			break;
		}
		nanosleep(&(struct timespec){.tv_nsec = 500000}, NULL);
	}
	if (!w->crashed && PQstatus(conn) != CONNECTION_OK)
		snprintf(w->error, sizeof w->error, "%s", PQerrorMessage(conn));
	PQfinish(conn);
	return NULL;
}

static void arm_crash_in_call(sim *s, long rows)
{
	PQclear(server_exec(s, "SELECT pg_advisory_lock(7307, 1)", PGRES_TUPLES_OK));
	arm_drop_in_call(s, rows, true);
	crash_watch *w = s->watch = calloc(1, sizeof *w);
	if (!w)
		fail(s, "out of memory");
	w->uri = s->path;
	w->restart = s->restart;
	atomic_init(&w->stop, false);
	if (pthread_create(&w->thread, NULL, watch_for_waiter, w) != 0)
		fail(s, "cannot start the thread that crashes the server");
	s->crash_armed = true;
}

/* After the server's crash and restart (the restart command exited with `status`): counts it
 * and opens the simulator's own connection again. */
static void after_server_crash(sim *s, int status)
{
	if (status != 0)
		fail(s, "the server's crash and restart (%s) exited with %d", s->restart, status);
	s->server_crashes++;
	PQreset(s->server);
	if (PQstatus(s->server) != CONNECTION_OK)
		fail(s, "the simulator's own connection after the crash: %s",
		     PQerrorMessage(s->server));
}

/* Whether the crash armed inside the call came (the simulator's connection is opened again
 * after it); stops its thread and releases the lock it waited for. */
static bool crash_in_call_came(sim *s)
{
	crash_watch *w = s->watch;
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	bool crashed = w->crashed;
	int status = w->status;
	if (w->error[0])
		fail(s, "the thread that crashes the server lost its connection: %s", w->error);
	free(w);
	s->watch = NULL;
	s->crash_armed = false;
	if (crashed) {
		after_server_crash(s, status);
		s->crashes_in_call++;
		s->crashed_in_call = true;
	} else {
		PQclear(server_exec(s, "SELECT pg_advisory_unlock(7307, 1)", PGRES_TUPLES_OK));
	}
	return crashed;
}

/* Whether the armed row was written (its session ended, or the server crashed there);
 * disarms the trigger. */
static bool drop_in_call_fired(sim *s)
{
	/* After a crash the sequence may not hold the value the armed row took. */
	bool crashed = s->crash_armed && crash_in_call_came(s), fired = crashed;
	if (!crashed) {
		char sql[200];
		snprintf(sql, sizeof sql, "SELECT %s >= at FROM sim_fault.armed", rows_written);
		PGresult *r = server_exec(s, sql, PGRES_TUPLES_OK);
		fired = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
	}
	PQclear(server_exec(s, "UPDATE sim_fault.armed SET at = 0, crash = false",
			    PGRES_COMMAND_OK));
	s->drop_armed = false;
	return fired;
}

/* Whether the next call meets an injected fault: an allocation armed to fail (armed now when
 * op_alloc_fault asked for it), a write of the disk armed to fail, or on PostgreSQL the handle's
 * connection, which is dropped now or armed to be dropped inside the call when op_io_fault
 * asked for it. */
static bool fault_armed(sim *s)
{
	if (s->alloc_next >= 0) {
		fault_arm(FAULT_ALLOC, s->alloc_next, false);
		s->alloc_next = -1;
	}
	if (s->drop_next_call) {
		drop_connection(s, s->db_name);
		s->drop_next_call = false;
		s->dropped = true;
	}
	if (s->drop_at_row >= 0) {
		arm_drop_in_call(s, s->drop_at_row, false);
		s->drop_at_row = -1;
	}
	if (s->crash_at_row >= 0) {
		arm_crash_in_call(s, s->crash_at_row);
		s->crash_at_row = -1;
	}
	return faults.armed ||
	       (s->server ? s->dropped || s->drop_armed : disk_io_fault_armed());
}

/* The code a call that returned rc must have returned when the fault armed failed it:
 * LOYAL_ENOMEM for an allocation, LOYAL_EIO for the disk or the connection; LOYAL_OK when
 * the fault failed nothing (SQLite goes on after some failed allocations, as when its page
 * cache cannot grow: the call's own result is checked then). fault_clear forgets the fault. */
static int fault_hit(sim *s, int rc)
{
	if (s->drop_armed && drop_in_call_fired(s)) {
		s->drops_in_call += !s->crashed_in_call;
		s->dropped = true;
		if (rc == LOYAL_OK)
			fail(s, "a call whose session %s inside its transaction was acknowledged",
			     s->crashed_in_call ? "the server crashed" : "the server ended");
	}
	if (rc == LOYAL_OK)
		return LOYAL_OK;
	if (faults.armed && faults.fired)
		return rc == LOYAL_ENOMEM ? LOYAL_ENOMEM : LOYAL_OK;
	return (s->server ? s->dropped : disk_io_failed()) ? LOYAL_EIO : LOYAL_OK;
}

static void fault_clear(sim *s)
{
	fault_disarm();
	s->alloc_next = -1;
	if (s->drop_armed)
		drop_in_call_fired(s);
	s->dropped = s->drop_next_call = false;
	s->drop_at_row = s->crash_at_row = -1;
	if (!s->server)
		disk_fail_clear();
}

static void close_db(sim *s)
{
	expect_rc(s, loyal_close(s->db), LOYAL_OK, "loyal_close");
	expect_rc(s, loyal_close(s->other), LOYAL_OK, "loyal_close of the other handle");
	s->db = s->other = NULL;
}

static void apply_program(sim *s, int variant)
{
	char text[sizeof program_format + 16];
	snprintf(text, sizeof text, program_format, post_points[variant], post_xp[variant]);
	expect_rc(s, loyal_program_apply(s->db, text, NULL), LOYAL_OK, "loyal_program_apply");
	s->variant = variant;
}

static void next_key(sim *s, char *out, size_t size)
{
	snprintf(out, size, "k%ld", ++s->key_counter);
}

/* Grows an array of the model by one item; returns the new item, zeroed. */
static void *grow(void **items, int *count, int *capacity, size_t size)
{
	if (*count == *capacity) {
		*capacity = *capacity ? *capacity * 2 : 1024;
		void *bigger = realloc(*items, (size_t)*capacity * size);
		if (!bigger) {
			fprintf(stderr, "sim: out of memory\n");
			exit(1);
		}
		*items = bigger;
	}
	void *item = (char *)*items + (size_t)*count * size;
	memset(item, 0, size);
	return item;
}

/* What a member still has pending in points: purchases less than PENDING_DAYS old, less what
 * their reversals took (a purchase's xp counts at once). Events are recorded in the order they
 * were tracked, their times at most BACKDATE_MS out of order. */
static int64_t model_pending(const sim *s, int member)
{
	int64_t pending = 0;
	for (int i = s->event_count - 1; i >= 0; i--) {
		const sim_event *e = &s->events[i];
		if (s->now >= e->at + PENDING_DAYS * DAY_MS + BACKDATE_MS)
			break;
		if (s->now >= e->at + PENDING_DAYS * DAY_MS || e->member != member ||
		    strcmp(e->type, "purchase") != 0)
			continue;
		for (int k = 0; k < e->award_count; k++)
			if (!e->awards[k].xp)
				pending += e->awards[k].amount;
	}
	return pending;
}

/* A write by or to the member at `at` counts as their activity (the engine keeps the latest). */
static void seen(sim *s, int member, int64_t at)
{
	if (at > s->members[member].last_seen)
		s->members[member].last_seen = at;
}

static int64_t model_held(const sim *s, int member)
{
	int64_t held = 0;
	for (int i = s->hold_count - 1; i >= 0; i--) {
		const sim_hold *h = &s->holds[i];
		if (s->now >= h->at + MAX_HOLD_HOURS * HOUR_MS)
			break;
		if (h->member == member && !h->settled && s->now < h->deadline)
			held += h->amount;
	}
	return held;
}

static loyal_balance balance_of(sim *s, int member, const char *currency)
{
	loyal_balance balance = LOYAL_BALANCE_INIT;
	expect_rc(s, loyal_ledger_balance(s->db, s->members[member].id, currency, 0, &balance),
		  LOYAL_OK, "loyal_ledger_balance");
	return balance;
}

/* The engine's balances of one member agree with the model. */
static void check_member(sim *s, int member)
{
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	loyal_balance points = balance_of(s, member, "points");
	loyal_balance xp = balance_of(s, member, "xp");
	int64_t pending = model_pending(s, member), held = model_held(s, member);
	if (points.earned != m->earned || points.spent != m->spent || points.pending != pending ||
	    points.held != held)
		fail(s, "%s points: earned %lld spent %lld pending %lld held %lld; the model says "
			"%lld %lld %lld %lld",
		     m->id, (long long)points.earned, (long long)points.spent,
		     (long long)points.pending, (long long)points.held, (long long)m->earned,
		     (long long)m->spent, (long long)pending, (long long)held);
	if (points.available + points.pending + points.held !=
	    points.earned - points.spent - points.expired)
		fail(s, "%s points: available %lld + pending + held differs from earned - spent - "
			"expired (%lld)",
		     m->id, (long long)points.available, (long long)points.expired);
	if (points.expired < m->expired)
		fail(s, "%s points: expired went down from %lld to %lld", m->id,
		     (long long)m->expired, (long long)points.expired);
	m->expired = points.expired;
	if (xp.available != m->xp || xp.pending || xp.earned != m->xp || xp.held || xp.expired)
		fail(s, "%s xp: available %lld pending %lld earned %lld; the model says %lld, none "
			"pending",
		     m->id, (long long)xp.available, (long long)xp.pending, (long long)xp.earned,
		     (long long)m->xp);
}

static int pick_member(sim *s)
{
	/* Long-tailed: a few members do most things. */
	int64_t r = below(s, s->member_count);
	return (int)(r * below(s, s->member_count) / s->member_count);
}

/* A member not blocked (after a few tries, whoever came up): for a step whose event should
 * be tracked, such as the one in flight at a crash. */
static int pick_unblocked_member(sim *s)
{
	int member = pick_member(s);
	for (int tries = 0; tries < 8 && s->members[member].blocked; tries++)
		member = pick_member(s);
	return member;
}

static int64_t day_of(int64_t at)
{
	return at / DAY_MS;
}

/* The awards the model predicts for an event, added to its record. */
static void predict(sim *s, sim_event *e, int64_t amount, int referrer)
{
	sim_member *m = &s->members[e->member];
	e->award_count = 0;
#define AWARD(who, is_xp, points)                                                  \
	do {                                                                       \
		if ((points) > 0)                                                  \
			e->awards[e->award_count++] = (award){who, is_xp, points}; \
	} while (0)
	if (strcmp(e->type, "signup") == 0) {
		AWARD(e->member, false, 100);
	} else if (strcmp(e->type, "check_in") == 0) {
		int64_t day = day_of(e->at);
		if (day != m->last_check_in_day) {
			AWARD(e->member, false, 10);
			AWARD(e->member, true, 5);
		}
		/* Rules see the member before this event: the idle time it ends. */
		if (e->at - m->last_seen >= RETURN_IDLE_DAYS * DAY_MS) {
			AWARD(e->member, false, RETURN_BONUS);
			s->returns++;
		}
	} else if (strcmp(e->type, "post") == 0) {
		AWARD(e->member, false, post_points[s->variant]);
		AWARD(e->member, true, post_xp[s->variant]);
		/* The bonus: five awards a day across all members, by the post's own day. */
		int64_t day = day_of(e->at) - s->day_base;
		if (day >= s->budget_days) {
			int64_t days = day * 2 + 64;
			int *grown = realloc(s->budget_used, (size_t)days * sizeof *grown);
			if (!grown)
				fail(s, "out of memory");
			memset(grown + s->budget_days, 0, (size_t)(days - s->budget_days) * sizeof *grown);
			s->budget_used = grown;
			s->budget_days = days;
		}
		if (s->budget_used[day] < 5) {
			s->budget_used[day]++;
			AWARD(e->member, false, 1);
		} else {
			s->budget_refusals++;
		}
	} else if (strcmp(e->type, "purchase") == 0) {
		AWARD(e->member, false, amount / 100);
		AWARD(e->member, true, amount / 100);
	} else if (strcmp(e->type, "invite_accepted") == 0) {
		AWARD(e->member, false, 50);
		if (referrer != e->member && !s->members[referrer].blocked)
			AWARD(referrer, false, 50);
		s->self_referrals += referrer == e->member;
	}
#undef AWARD
}

/* Checks the outcome's postings against the prediction, and the badges (streak, challenge). */
static void check_outcome(sim *s, const sim_event *e, const char *outcome, bool expect_streak,
			  bool expect_challenge)
{
	json_error_t error;
	json_t *root = json_loads(outcome, 0, &error);
	if (!root)
		fail(s, "outcome is not JSON: %s", error.text);
	json_t *postings = json_object_get(root, "postings");
	if (json_array_size(postings) != (size_t)e->award_count)
		fail(s, "event %s (%s): %zu postings, the model predicts %d: %s", e->key, e->type,
		     json_array_size(postings), e->award_count, outcome);
	for (int k = 0; k < e->award_count; k++) {
		json_t *posting = json_array_get(postings, (size_t)k);
		const award *a = &e->awards[k];
		const char *currency = json_string_value(json_object_get(posting, "currency"));
		const char *member = json_string_value(json_object_get(posting, "member"));
		if (json_integer_value(json_object_get(posting, "amount")) != a->amount ||
		    !currency || strcmp(currency, a->xp ? "xp" : "points") != 0 || !member ||
		    strcmp(member, s->members[a->member].id) != 0)
			fail(s, "event %s: posting %d differs from the model's %lld %s to %s: %s",
			     e->key, k, (long long)a->amount, a->xp ? "xp" : "points",
			     s->members[a->member].id, outcome);
	}
	json_t *badges = json_object_get(root, "badges");
	const char *expected[2] = {NULL, NULL};
	size_t count = 0;
	if (expect_streak)
		expected[count++] = "week-streak";
	if (expect_challenge)
		expected[count++] = "challenge";
	bool same = json_array_size(badges) == count;
	for (size_t i = 0; same && i < count; i++) {
		const char *name = json_string_value(json_object_get(json_array_get(badges, i),
								     "badge"));
		same = name && strcmp(name, expected[i]) == 0;
	}
	if (!same)
		fail(s, "event %s: badges %s, the model expects %zu (%s%s%s)", e->key, outcome, count,
		     expect_streak ? "week-streak " : "", expect_challenge ? "challenge" : "",
		     count ? "" : "none");
	json_decref(root);
}

static void apply_awards(sim *s, const sim_event *e, int sign, int64_t part, int64_t whole)
{
	for (int k = 0; k < e->award_count; k++) {
		const award *a = &e->awards[k];
		int64_t amount = a->amount * part / whole;
		if (a->xp)
			s->members[a->member].xp += sign * amount;
		else
			s->members[a->member].earned += sign * amount;
	}
}

/* Tracks an event of `type` (NULL: one of a plausible mix) by `member`, checking its outcome
 * against the model's prediction. */
static void track_event(sim *s, int member, const char *type)
{
	static const char *const types[] = {"check_in", "check_in", "check_in", "post",
					    "post",     "purchase", "invite_accepted"};
	sim_member *m = &s->members[member];
	sim_event *e = grow((void **)&s->events, &s->event_count, &s->event_capacity, sizeof *e);
	e->member = member;
	e->at = s->now;
	int64_t amount = 0;
	int referrer = -1;
	if (!m->exists) {
		strcpy(e->type, "signup");
	} else {
		strcpy(e->type, type ? type : types[below(s, 7)]);
		/* Purchases and posts may arrive late (an offline till, a queue). */
		bool late = strcmp(e->type, "purchase") == 0 || strcmp(e->type, "post") == 0;
		if (late && below(s, 4) == 0) {
			e->at = s->now - below(s, BACKDATE_MS);
			s->late_events++;
		}
		if (strcmp(e->type, "purchase") == 0) {
			amount = 100 + below(s, 20000); /* cents */
			snprintf(e->properties, sizeof e->properties, "{\"amount\": %lld.%02lld}",
				 (long long)(amount / 100), (long long)(amount % 100));
		} else if (strcmp(e->type, "invite_accepted") == 0) {
			/* Now and then a client names the member as their own referrer. */
			referrer = below(s, 8) == 0 ? member
						    : (member + 1 + (int)below(s, s->member_count - 1)) %
							      s->member_count;
			if (!s->members[referrer].exists)
				return; /* a referrer is someone already in the program */
			strcpy(e->properties, "{\"referrer\": \"");
			strcat(e->properties, s->members[referrer].id);
			strcat(e->properties, "\"}");
		}
	}
	next_key(s, e->key, sizeof e->key);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = m->id;
	event.type = e->type;
	event.idempotency_key = e->key;
	event.at = e->at;
	event.properties = e->properties[0] ? e->properties : NULL;
	/* Now and then a dry run first: it must predict the real call exactly (same ids: on
	 * SQLite a rollback takes back the ids it used) and write nothing, which the model's
	 * checks of the real call then see. */
	char *predicted = NULL;
	int predicted_rc = LOYAL_OK;
	bool dry = !fault_armed(s) && below(s, 6) == 0;
	if (dry) {
		event.flags = LOYAL_DRY_RUN;
		predicted_rc = loyal_track(s->db, &event, &predicted);
		event.flags = 0;
		s->dry_runs++;
	}
	char *outcome = NULL;
	int rc = loyal_track(s->db, &event, &outcome);
	/* A fault that failed the call (op_io_fault, op_alloc_fault, a crashed server) changed
	 * nothing: the member and a referrer still match the model; the client's retry under the
	 * key tracks it anew (check_outcome refuses a replay). */
	int faulted = fault_hit(s, rc);
	fault_clear(s); /* nothing of the simulator's own meets the fault */
	if (faulted != LOYAL_OK) {
		expect_rc(s, rc, faulted, "loyal_track meeting an injected fault");
		s->io_faults += faulted == LOYAL_EIO;
		s->alloc_faults += faulted == LOYAL_ENOMEM;
		check_member(s, member);
		if (referrer >= 0)
			check_member(s, referrer);
		loyal_free(outcome);
		outcome = NULL;
		rc = loyal_track(s->db, &event, &outcome);
	}
	if (dry && predicted_rc != rc)
		fail(s, "a dry run of %s returned %s, the real call %s", e->key,
		     loyal_errstr(predicted_rc), loyal_errstr(rc));
	if (dry && rc == LOYAL_OK) {
		char *mark = strstr(predicted, ",\"dry_run\":true");
		if (mark)
			memmove(mark, mark + 15, strlen(mark + 15) + 1);
		if (!mark || !same_outcome(s, predicted, outcome))
			fail(s, "the dry run of %s predicted\n%s\nthe real call did\n%s", e->key,
			     predicted, outcome);
	}
	loyal_free(predicted);
	if (m->blocked) {
		expect_rc(s, rc, LOYAL_EBLOCKED, "loyal_track of a blocked member");
		return;
	}
	expect_rc(s, rc, LOYAL_OK, "loyal_track");
	if (!m->exists)
		m->last_seen = e->at; /* joined now */
	m->posts += strcmp(e->type, "post") == 0;
	predict(s, e, amount, referrer);
	bool badge = false, challenge = false;
	if (strcmp(e->type, "check_in") == 0) {
		int64_t day = day_of(e->at);
		if (day != m->last_check_in_day)
			m->streak = day == m->last_check_in_day + 1 ? m->streak + 1 : 1;
		m->last_check_in_day = day;
		badge = m->streak >= 7 && !m->badge;
		/* The challenge counts only what happens inside its window. */
		if (e->at >= CHALLENGE_FROM_MS)
			m->challenge_check_ins++;
		challenge = e->at >= CHALLENGE_FROM_MS && e->at < CHALLENGE_UNTIL_MS &&
			    m->challenge_check_ins >= CHALLENGE_CHECK_INS && !m->challenge;
	}
	check_outcome(s, e, outcome, badge, challenge);
	loyal_free(outcome);
	m->exists = true;
	if (badge) {
		m->badge = true;
		s->badges++;
		m->earned += STREAK_BADGE_POINTS;
	}
	if (challenge) {
		m->challenge = true;
		s->badges++;
		s->challenges++;
	}
	seen(s, member, e->at);
	for (int k = 0; k < e->award_count; k++)
		seen(s, e->awards[k].member, e->at); /* a referrer credited */
	apply_awards(s, e, 1, 1, 1);
	s->event_count++;
	check_member(s, member);
	if (referrer >= 0)
		check_member(s, referrer);
}

/* The call that tracked e, to make again. */
static loyal_event call_of(const sim *s, const sim_event *e)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = s->members[e->member].id;
	event.type = e->type;
	event.idempotency_key = e->key;
	event.at = e->at;
	event.properties = e->properties[0] ? e->properties : NULL;
	return event;
}

/* The same call again under its key: a replay that changes nothing. */
static void op_replay(sim *s)
{
	if (!s->event_count)
		return;
	const sim_event *e = &s->events[below(s, s->event_count)];
	loyal_event event = call_of(s, e);
	char *outcome = NULL;
	expect_rc(s, loyal_track(s->db, &event, &outcome), LOYAL_OK, "loyal_track (replay)");
	json_t *root = json_loads(outcome, 0, NULL);
	if (!root || !json_is_true(json_object_get(root, "replayed")))
		fail(s, "a retried event %s is not a replay: %s", e->key, outcome);
	json_decref(root);
	loyal_free(outcome);
	check_member(s, e->member);
}

static void op_reverse(sim *s)
{
	if (!s->event_count)
		return;
	sim_event *e = &s->events[below(s, s->event_count)];
	if (e->reversed || !e->award_count || s->members[e->member].blocked)
		return;
	bool half = below(s, 2);
	char key[32];
	next_key(s, key, sizeof key);
	loyal_event_reversal reversal = LOYAL_EVENT_REVERSAL_INIT;
	reversal.member = s->members[e->member].id;
	reversal.event_key = e->key;
	reversal.part = half ? 1 : 0;
	reversal.whole = half ? 2 : 0;
	reversal.idempotency_key = key;
	/* Half of each award, rounded down: when every half is 0, nothing is left to reverse. */
	bool moves = false;
	for (int k = 0; k < e->award_count; k++)
		moves |= (half ? e->awards[k].amount / 2 : e->awards[k].amount) > 0;
	char *outcome = NULL;
	expect_rc(s, loyal_event_reverse(s->db, &reversal, &outcome),
		  moves ? LOYAL_OK : LOYAL_ESTATE, "loyal_event_reverse");
	loyal_free(outcome);
	if (!moves)
		return;
	apply_awards(s, e, -1, 1, half ? 2 : 1);
	/* What is left of a halved award is what its pending lot still counts. */
	for (int k = 0; k < e->award_count; k++)
		e->awards[k].amount -= half ? e->awards[k].amount / 2 : e->awards[k].amount;
	e->reversed = true;
	for (int k = 0; k < e->award_count; k++)
		check_member(s, e->awards[k].member);
	check_member(s, e->member);
}

static void op_spend(sim *s, bool hold)
{
	int member = pick_member(s);
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	loyal_balance before = balance_of(s, member, "points");
	int64_t amount = 1 + below(s, 150);
	char key[32];
	next_key(s, key, sizeof key);
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = m->id;
	posting.currency = "points";
	posting.amount = amount;
	posting.idempotency_key = key;
	if (hold)
		posting.deadline = s->now + HOUR_MS * (1 + below(s, MAX_HOLD_HOURS));
	/* A late debit (a redemption recorded offline) meets the account as it stands now, so
	 * the balance read now says whether it can go through. */
	else if (below(s, 4) == 0) {
		posting.at = s->now - below(s, BACKDATE_MS);
		s->late_debits++;
	}
	loyal_result result = LOYAL_RESULT_INIT;
	int rc = hold ? loyal_ledger_hold(s->db, &posting, &result)
		      : loyal_ledger_debit(s->db, &posting, &result);
	int expected = m->blocked		   ? LOYAL_EBLOCKED
		       : before.available < amount ? LOYAL_EINSUFFICIENT
						   : LOYAL_OK;
	expect_rc(s, rc, expected, hold ? "loyal_ledger_hold" : "loyal_ledger_debit");
	if (rc == LOYAL_OK && hold) {
		sim_hold *h = grow((void **)&s->holds, &s->hold_count, &s->hold_capacity, sizeof *h);
		*h = (sim_hold){member, result.txn, amount, s->now, posting.deadline, false, false};
		s->hold_count++;
	} else if (rc == LOYAL_OK)
		m->spent += amount;
	if (rc == LOYAL_OK)
		seen(s, member, posting.at ? posting.at : s->now);
	check_member(s, member);
}

static void op_settle_hold(sim *s)
{
	if (!s->hold_count)
		return;
	sim_hold *h = &s->holds[below(s, s->hold_count)];
	sim_member *m = &s->members[h->member];
	if (h->settled || h->redemption || m->blocked)
		return;
	bool capture = below(s, 2);
	char key[32];
	next_key(s, key, sizeof key);
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = m->id;
	posting.currency = "points";
	posting.txn = h->txn;
	posting.idempotency_key = key;
	int rc = capture ? loyal_ledger_capture(s->db, &posting, NULL)
			 : loyal_ledger_release(s->db, &posting, NULL);
	bool open = s->now < h->deadline;
	expect_rc(s, rc, open ? LOYAL_OK : LOYAL_ESTATE,
		  capture ? "loyal_ledger_capture" : "loyal_ledger_release");
	h->settled = true;
	if (open && capture) {
		m->spent += h->amount;
		seen(s, h->member, s->now);
	}
	check_member(s, h->member);
}

/* ---- redemptions ---- */

/* Whether a redemption still takes its units and counts towards its limits: fulfilled, or
 * pending before its deadline. */
static bool redemption_counts(const sim *s, const sim_redemption *r)
{
	if (r->cancelled)
		return false;
	return r->fulfilled || r->hold < 0 || s->now < s->holds[r->hold].deadline;
}

/* Units of a reward the member redeemed on days [first, last] (all members: member -1). */
static int64_t units(const sim *s, int member, int reward, int64_t first, int64_t last)
{
	int64_t total = 0;
	for (int i = 0; i < s->redemption_count; i++) {
		const sim_redemption *r = &s->redemptions[i];
		int64_t day = day_of(r->at);
		if (r->reward == reward && (member < 0 || r->member == member) && day >= first &&
		    day <= last && redemption_counts(s, r))
			total += r->quantity;
	}
	return total;
}

static void op_redeem(sim *s)
{
	int member = pick_member(s);
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	int reward = (int)below(s, 2);
	int64_t quantity = reward ? 1 + below(s, 2) : 1, amount = quantity * reward_prices[reward];
	int64_t day = day_of(s->now), first = reward ? (day + 3) / 7 * 7 - 3 : day;
	loyal_balance before = balance_of(s, member, "points");
	int expected = m->blocked ? LOYAL_EBLOCKED
		       : units(s, member, reward, first, first + (reward ? 6 : 0)) + quantity >
				 reward_limits[reward]
			       ? LOYAL_ELIMIT
		       : reward && units(s, -1, 1, INT64_MIN / 2, INT64_MAX / 2) + quantity > MUG_STOCK
			       ? LOYAL_ESOLDOUT
		       : before.available < amount ? LOYAL_EINSUFFICIENT
						   : LOYAL_OK;
	/* What the member is told is left agrees with the model (expired units are free). */
	char *listed = NULL;
	expect_rc(s, loyal_reward_list(s->db, m->id, 0, &listed), LOYAL_OK, "loyal_reward_list");
	json_t *list = json_loads(listed, 0, NULL);
	int64_t left = json_integer_value(json_object_get(json_array_get(list, 1), "stock_left"));
	if (left != MUG_STOCK - units(s, -1, 1, INT64_MIN / 2, INT64_MAX / 2))
		fail(s, "%lld mugs are said to be left; the model says %lld", (long long)left,
		     (long long)(MUG_STOCK - units(s, -1, 1, INT64_MIN / 2, INT64_MAX / 2)));
	json_decref(list);
	loyal_free(listed);
	char key[32];
	next_key(s, key, sizeof key);
	loyal_redeem request = LOYAL_REDEEM_INIT;
	request.member = m->id;
	request.reward = reward_names[reward];
	request.quantity = quantity;
	request.idempotency_key = key;
	char *text = NULL;
	int rc = loyal_reward_redeem(s->db, &request, &text);
	expect_rc(s, rc, expected, "loyal_reward_redeem");
	s->sold_out += rc == LOYAL_ESOLDOUT;
	s->limited += rc == LOYAL_ELIMIT;
	s->redeemed += rc == LOYAL_OK;
	if (rc == LOYAL_OK) {
		json_t *made = json_loads(text, 0, NULL);
		json_t *posting = json_array_get(json_object_get(made, "postings"), 0);
		int64_t txn = json_integer_value(json_object_get(posting, "txn"));
		sim_redemption *r = grow((void **)&s->redemptions, &s->redemption_count,
					 &s->redemption_capacity, sizeof *r);
		*r = (sim_redemption){member, reward, json_integer_value(json_object_get(made, "id")),
				      quantity, amount, s->now, -1, false, false};
		if (json_integer_value(json_object_get(posting, "amount")) != amount)
			fail(s, "redemption %lld took %lld points, not %lld", (long long)r->id,
			     (long long)json_integer_value(json_object_get(posting, "amount")),
			     (long long)amount);
		if (reward) {
			sim_hold *h = grow((void **)&s->holds, &s->hold_count, &s->hold_capacity,
					   sizeof *h);
			*h = (sim_hold){member, txn, amount, s->now, s->now + MUG_DEADLINE_MS, false, true};
			r->hold = s->hold_count++;
		} else {
			m->spent += amount;
		}
		s->redemption_count++;
		seen(s, member, s->now);
		json_decref(made);
	}
	loyal_free(text);
	check_member(s, member);
}

/* Fulfils or cancels a redemption: refused once cancelled or expired (and fulfilling twice). */
static void op_settle_redemption(sim *s)
{
	if (!s->redemption_count)
		return;
	sim_redemption *r = &s->redemptions[below(s, s->redemption_count)];
	sim_member *m = &s->members[r->member];
	bool fulfil = below(s, 2);
	bool expired = !r->fulfilled && r->hold >= 0 && s->now >= s->holds[r->hold].deadline;
	bool refused = r->cancelled || expired || (fulfil && (r->fulfilled || r->hold < 0));
	char key[32];
	next_key(s, key, sizeof key);
	int rc = fulfil ? loyal_redemption_fulfil(s->db, m->id, r->id, key, NULL)
			: loyal_redemption_cancel(s->db, m->id, r->id, key, NULL);
	/* A blocked member spends nothing: their pending redemption can only be cancelled. */
	bool blocked = !refused && fulfil && m->blocked;
	expect_rc(s, rc, refused ? LOYAL_ESTATE : blocked ? LOYAL_EBLOCKED : LOYAL_OK,
		  fulfil ? "loyal_redemption_fulfil" : "loyal_redemption_cancel");
	if (refused || blocked) {
		check_member(s, r->member);
		return;
	}
	if (fulfil) {
		r->fulfilled = true;
		s->holds[r->hold].settled = true;
		m->spent += r->amount;
		seen(s, r->member, s->now);
	} else if (r->fulfilled || r->hold < 0) {
		m->spent -= r->amount; /* refunded */
		s->redemptions_refunded++;
		r->cancelled = true;
	} else {
		s->holds[r->hold].settled = true; /* released */
		r->cancelled = true;
	}
	check_member(s, r->member);
}

/* ---- coupons ---- */

static void op_issue_coupon(sim *s)
{
	int member = pick_member(s);
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	char key[32], *text = NULL;
	next_key(s, key, sizeof key);
	int rc = loyal_coupon_issue(s->db, m->id, "thanks", key, &text);
	expect_rc(s, rc, m->blocked ? LOYAL_EBLOCKED : LOYAL_OK, "loyal_coupon_issue");
	if (rc == LOYAL_OK) {
		json_t *code = json_loads(text, 0, NULL);
		sim_coupon *c = grow((void **)&s->coupons, &s->coupon_count, &s->coupon_capacity,
				     sizeof *c);
		*c = (sim_coupon){member, "", COUPON_USES, s->now + COUPON_VALID_MS};
		snprintf(c->code, sizeof c->code, "%s", json_string_value(json_object_get(code, "code")));
		if (json_integer_value(json_object_get(code, "valid_until")) != c->valid_until)
			fail(s, "coupon %s is valid until %lld, not %lld", c->code,
			     (long long)json_integer_value(json_object_get(code, "valid_until")),
			     (long long)c->valid_until);
		for (int i = 0; i < s->coupon_count; i++)
			if (strcmp(s->coupons[i].code, c->code) == 0)
				fail(s, "coupon code %s was issued twice", c->code);
		s->coupon_count++;
		json_decref(code);
	}
	loyal_free(text);
}

/* Uses a code, by its member or by another: the model says which refusal comes. */
static void op_use_coupon(sim *s)
{
	if (!s->coupon_count)
		return;
	/* Mostly one of the latest codes (older ones have expired), sometimes any. */
	int latest = s->coupon_count < 8 ? s->coupon_count : 8;
	sim_coupon *c = &s->coupons[below(s, 4) ? s->coupon_count - 1 - below(s, latest)
						: below(s, s->coupon_count)];
	int user = below(s, 8) ? c->member : pick_member(s);
	if (!s->members[user].exists)
		return;
	char key[32], *text = NULL;
	next_key(s, key, sizeof key);
	int rc = loyal_coupon_use(s->db, s->members[user].id, c->code, 0, key, &text);
	int expected = user != c->member	    ? LOYAL_ENOTELIGIBLE
		       : c->uses_left == 0	    ? LOYAL_ELIMIT
		       : s->now >= c->valid_until ? LOYAL_ESTATE
						  : LOYAL_OK;
	expect_rc(s, rc, expected, "loyal_coupon_use");
	if (rc == LOYAL_OK) {
		c->uses_left--;
		s->coupon_uses++;
	}
	/* What a checkout is told agrees. */
	char *checked = NULL;
	expect_rc(s, loyal_coupon_check(s->db, s->members[c->member].id, c->code, 0, &checked),
		  LOYAL_OK, "loyal_coupon_check");
	json_t *answer = json_loads(checked, 0, NULL);
	bool valid = json_is_true(json_object_get(answer, "valid"));
	if (valid != (c->uses_left > 0 && s->now < c->valid_until))
		fail(s, "coupon %s is said %s valid", c->code, valid ? "to be" : "not to be");
	json_decref(answer);
	loyal_free(checked);
	loyal_free(text);
}

/* ---- an operator's recognition ---- */

/* The happenings of some kinds, as the simulator's outbox consumer reads them. */
typedef struct happened {
	long badges_granted, badges_revoked, tier_changes, segments_entered, segments_left;
} happened;

/* Reads what the outbox has after the consumer's position (each after the one before),
 * acknowledges it, and counts the kinds the operations below predict. */
static happened drain_outbox(sim *s)
{
	happened h = {0};
	loyal_cursor *cursor = NULL;
	expect_rc(s, loyal_outbox_read(s->db, "sim", 0, &cursor), LOYAL_OK, "loyal_outbox_read");
	const char *row = NULL;
	int rc;
	while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row) {
		json_t *happening = json_loads(row, 0, NULL);
		int64_t position = json_integer_value(json_object_get(happening, "position"));
		const char *kind = json_string_value(json_object_get(happening, "kind"));
		const char *how = json_string_value(
			json_object_get(json_object_get(happening, "body"), "how"));
		if (position <= s->outbox_position || !kind)
			fail(s, "the outbox gave %s after position %lld", row,
			     (long long)s->outbox_position);
		s->outbox_position = position;
		s->happenings++;
		h.badges_granted += strcmp(kind, "badge_earned") == 0 && how &&
				    strcmp(how, "granted") == 0;
		h.badges_revoked += strcmp(kind, "badge_revoked") == 0;
		h.tier_changes += strcmp(kind, "tier_changed") == 0;
		h.segments_entered += strcmp(kind, "segment_entered") == 0;
		h.segments_left += strcmp(kind, "segment_left") == 0;
		json_decref(happening);
	}
	expect_rc(s, rc, LOYAL_OK, "loyal_cursor_next (outbox)");
	loyal_cursor_free(cursor);
	if (s->outbox_position)
		expect_rc(s, loyal_outbox_ack(s->db, "sim", s->outbox_position), LOYAL_OK,
			  "loyal_outbox_ack");
	return h;
}

/* Grants or revokes the streak badge: granted, it credits its points (not to a blocked
 * member); revoked, it is not earned again by check-ins ("after_revoke" is "never"). */
static void op_recognize(sim *s)
{
	int member = pick_member(s);
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	bool grant = below(s, 2), held = m->badge && !m->badge_revoked;
	int changed = -1;
	drain_outbox(s);
	int rc = (grant ? loyal_badge_grant : loyal_badge_revoke)(s->db, m->id, "week-streak", NULL,
								   "the operator's call", &changed);
	expect_rc(s, rc, LOYAL_OK, grant ? "loyal_badge_grant" : "loyal_badge_revoke");
	if (changed != (grant != held))
		fail(s, "%s of %s's streak badge changed %d; the model says %d",
		     grant ? "a grant" : "a revocation", m->id, changed, grant != held);
	happened h = drain_outbox(s);
	if (h.badges_granted != (grant && !held) || h.badges_revoked != (!grant && held))
		fail(s, "the outbox announced %ld grants and %ld revocations of %s's badge; the "
			"model says %d and %d",
		     h.badges_granted, h.badges_revoked, m->id, grant && !held, !grant && held);
	if (grant && !held) {
		m->badge_revoked = false;
		m->badge = true;
		if (!m->blocked) {
			m->earned += STREAK_BADGE_POINTS;
			seen(s, member, s->now);
		}
	} else if (!grant && held) {
		m->badge_revoked = true;
	}
	check_member(s, member);
}

/* The member's tier agrees with the model's assignment: gold, assigned, while it lasts (no
 * review drops them below it); once it has ended, not assigned. */
static void check_assignment(sim *s, int member)
{
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	char *text = NULL;
	expect_rc(s, loyal_tier_get(s->db, m->id, &text), LOYAL_OK, "loyal_tier_get");
	json_t *tier = json_loads(text, 0, NULL), *assigned = json_object_get(tier, "assigned");
	bool live = m->gold_until > s->now;
	const char *name = json_string_value(json_object_get(tier, "tier"));
	if (live != json_is_object(assigned) || (live && (!name || strcmp(name, "gold") != 0)))
		fail(s, "%s's tier is %s; the model says %s", m->id, text,
		     live ? "gold, assigned" : "not assigned");
	json_decref(tier);
	loyal_free(text);
}

/* Assigns a member gold (until a date or until released), or releases their assignment. */
static void op_tier(sim *s)
{
	int member = pick_member(s);
	sim_member *m = &s->members[member];
	if (!m->exists) {
		expect_rc(s, loyal_tier_assign(s->db, m->id, "gold", 0, "unknown"), LOYAL_ENOTFOUND,
			  "loyal_tier_assign of an unknown member");
		return;
	}
	drain_outbox(s);
	long announced = 1; /* an assignment is announced even when the tier stays */
	if (below(s, 3)) {
		int64_t until = below(s, 3) ? s->now + 1 + below(s, 20 * DAY_MS) : 0;
		expect_rc(s, loyal_tier_assign(s->db, m->id, "gold", until, "the gold card"),
			  LOYAL_OK, "loyal_tier_assign");
		m->gold_until = until ? until : INT64_MAX;
		s->assignments++;
	} else {
		int changed = -1;
		expect_rc(s, loyal_tier_release(s->db, m->id, "card returned", &changed), LOYAL_OK,
			  "loyal_tier_release");
		if (changed != (m->gold_until > s->now))
			fail(s, "releasing %s's assignment changed %d; the model says %d", m->id,
			     changed, m->gold_until > s->now);
		s->releases += changed;
		announced = changed;
		m->gold_until = 0;
	}
	happened h = drain_outbox(s);
	if (h.tier_changes != announced)
		fail(s, "the outbox announced %ld tier changes of %s; the model says %ld",
		     h.tier_changes, m->id, announced);
	check_assignment(s, member);
}

/* ---- bulk grants ---- */

enum { GRANT_NONE, GRANT_SERVED, GRANT_BLOCKED, GRANT_UNKNOWN };

/* Runs a new grant of points to a few members (some listed twice, some unknown), or the last
 * one again: the model says who is served, who was served before, and who is refused. */
static void op_grant(sim *s)
{
	bool again = s->grant.count && below(s, 3) == 0;
	if (!again) {
		next_key(s, s->grant.key, sizeof s->grant.key);
		s->grant.count = 1 + (int)below(s, 6);
		for (int i = 0; i < s->grant.count; i++)
			s->grant.members[i] = below(s, 5) ? pick_member(s) : (int)below(s, s->member_count);
		s->grant.amount = 1 + below(s, 50);
		memset(s->grant.state, 0, sizeof s->grant.state);
	}
	s->grants_again += again;
	s->grants++;
	const char *ids[6];
	int64_t granted = 0, already = 0, blocked = 0, unknown = 0;
	for (int i = 0; i < s->grant.count; i++) {
		int member = s->grant.members[i];
		sim_member *m = &s->members[member];
		int *state = &s->grant.state[member];
		ids[i] = m->id;
		if (*state == GRANT_SERVED) {
			already++;
		} else if (*state == GRANT_BLOCKED) { /* sticky, even once unblocked */
			blocked++;
		} else if (!m->exists) {
			*state = GRANT_UNKNOWN;
			unknown++;
		} else if (m->blocked) {
			*state = GRANT_BLOCKED;
			blocked++;
		} else {
			*state = GRANT_SERVED;
			m->earned += s->grant.amount;
			seen(s, member, s->now);
			granted++;
		}
	}
	loyal_grant g = LOYAL_GRANT_INIT;
	g.key = s->grant.key;
	g.members = ids;
	g.member_count = (size_t)s->grant.count;
	g.currency = "points";
	g.amount = s->grant.amount;
	char *text = NULL;
	expect_rc(s, loyal_grant_run(s->db, &g, &text), LOYAL_OK, "loyal_grant_run");
	json_t *report = json_loads(text, 0, NULL), *why = json_object_get(report, "why");
	int64_t got[4] = {json_integer_value(json_object_get(report, "granted")),
			  json_integer_value(json_object_get(report, "already_granted")),
			  json_integer_value(json_object_get(why, "blocked")),
			  json_integer_value(json_object_get(why, "unknown_member"))};
	if (got[0] != granted || got[1] != already || got[2] != blocked || got[3] != unknown)
		fail(s, "grant %s%s: %s; the model says granted %lld, already %lld, blocked %lld,"
			" unknown %lld",
		     s->grant.key, again ? " (again)" : "", text, (long long)granted,
		     (long long)already, (long long)blocked, (long long)unknown);
	json_decref(report);
	loyal_free(text);
	for (int i = 0; i < s->grant.count; i++)
		check_member(s, s->grant.members[i]);
}

static void op_block(sim *s)
{
	int member = pick_member(s);
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	int rc = m->blocked ? loyal_member_unblock(s->db, m->id) : loyal_member_block(s->db, m->id);
	expect_rc(s, rc, LOYAL_OK, "loyal_member_block/unblock");
	m->blocked = !m->blocked;
}

static void op_sweeps(sim *s)
{
	int64_t count = 0;
	switch (below(s, 3)) {
	case 0:
		expect_rc(s, loyal_expire(s->db, 0, &count), LOYAL_OK, "loyal_expire");
		break;
	case 1:
		expect_rc(s, loyal_tier_sweep(s->db, 0, &count), LOYAL_OK, "loyal_tier_sweep");
		break;
	default:
		/* Streak badges are awarded by the check-in that completes them. */
		expect_rc(s, loyal_badge_sweep(s->db, 0, &count), LOYAL_OK, "loyal_badge_sweep");
		if (count != 0)
			fail(s, "the badge sweep awarded %lld badges no check-in had earned",
			     (long long)count);
	}
	for (int i = 0; i < s->member_count; i++) {
		check_member(s, i);
		check_assignment(s, i);
	}
}

/* A refresh's changes, applied to the model's memberships, give what each segment lists. */
static void op_segments(sim *s)
{
	loyal_cursor *changes = NULL;
	drain_outbox(s);
	expect_rc(s, loyal_segment_refresh(s->db, 0, NULL, &changes), LOYAL_OK,
		  "loyal_segment_refresh");
	happened announced = drain_outbox(s);
	long entered_count = 0, left_count = 0;
	const char *row = NULL;
	int rc;
	while ((rc = loyal_cursor_next(changes, &row)) == LOYAL_OK && row) {
		json_t *change = json_loads(row, 0, NULL);
		const char *segment = json_string_value(json_object_get(change, "segment"));
		const char *member = json_string_value(json_object_get(change, "member"));
		const char *what = json_string_value(json_object_get(change, "change"));
		int at = -1, seg = -1;
		for (int i = 0; member && i < s->member_count; i++)
			if (strcmp(s->members[i].id, member) == 0)
				at = i;
		for (int i = 0; segment && i < SEGMENTS; i++)
			if (strcmp(segment_names[i], segment) == 0)
				seg = i;
		if (at < 0 || seg < 0 || !what)
			fail(s, "a refresh change names no known member or segment: %s", row);
		bool entered = strcmp(what, "entered") == 0;
		if (s->members[at].in_segment[seg] == entered)
			fail(s, "a refresh says %s %s a segment it was %s: %s", member, what,
			     entered ? "already in" : "not in", row);
		s->members[at].in_segment[seg] = entered;
		entered_count += entered;
		left_count += !entered;
		json_decref(change);
	}
	expect_rc(s, rc, LOYAL_OK, "loyal_cursor_next (refresh)");
	loyal_cursor_free(changes);
	if (announced.segments_entered != entered_count || announced.segments_left != left_count)
		fail(s, "the outbox announced %ld segment entries and %ld exits; the refresh made %ld"
			" and %ld",
		     announced.segments_entered, announced.segments_left, entered_count, left_count);
	for (int seg = 0; seg < SEGMENTS; seg++) {
		bool listed[MAX_MEMBERS] = {false};
		loyal_cursor *members = NULL;
		expect_rc(s, loyal_segment_members(s->db, segment_names[seg], &members), LOYAL_OK,
			  "loyal_segment_members");
		while ((rc = loyal_cursor_next(members, &row)) == LOYAL_OK && row) {
			json_t *item = json_loads(row, 0, NULL);
			const char *member = json_string_value(json_object_get(item, "member"));
			for (int i = 0; member && i < s->member_count; i++)
				if (strcmp(s->members[i].id, member) == 0)
					listed[i] = true;
			json_decref(item);
		}
		expect_rc(s, rc, LOYAL_OK, "loyal_cursor_next (segment)");
		loyal_cursor_free(members);
		for (int i = 0; i < s->member_count; i++)
			if (listed[i] != s->members[i].in_segment[seg])
				fail(s, "segment %s %s %s, but its refreshes say otherwise",
				     segment_names[seg], listed[i] ? "lists" : "omits",
				     s->members[i].id);
	}
}

/* The handle in use closed and opened again, while the other stays open. */
static void op_reopen(sim *s)
{
	expect_rc(s, loyal_close(s->db), LOYAL_OK, "loyal_close");
	s->db = NULL;
	open_handle(s, &s->db, s->db_name);
	for (int i = 0; i < s->member_count; i++)
		check_member(s, i);
}

static void op_verify(sim *s, bool final);

/* Tracks the events from `first` on again, under their keys; returns how many were replays. */
static int track_again(sim *s, int first, const char *what)
{
	int replayed = 0;
	for (int i = first; i < s->event_count; i++) {
		loyal_event event = call_of(s, &s->events[i]);
		char *outcome = NULL;
		expect_rc(s, loyal_track(s->db, &event, &outcome), LOYAL_OK, what);
		replayed += strstr(outcome, "\"replayed\":true") != NULL;
		loyal_free(outcome);
	}
	return replayed;
}

/* Retries, under their keys (what a client does after a crash), the events from `first` on,
 * which were in flight at a crash: one event, or a batch's. Each is replayed (it was kept) or
 * tracked again; a batch is kept whole or lost whole. */
static void retry_in_flight(sim *s, int first)
{
	int kept = track_again(s, first, "loyal_track of an event in flight at the crash");
	int count = s->event_count - first;
	if (kept != 0 && kept != count)
		fail(s, "of the %d events of a batch in flight at the crash, %d were kept", count,
		     kept);
	if (count > 1) {
		s->batches_kept += kept == count;
		s->batches_lost += kept == 0;
	} else if (count == 1) {
		s->in_flight_kept += kept;
		s->in_flight_lost += !kept;
	}
}

/* Begins a batch and tracks a few events in it, each as track_event checks it (a blocked
 * member's are refused, and the batch goes on). */
static void begin_batch(sim *s)
{
	expect_rc(s, loyal_batch_begin(s->db), LOYAL_OK, "loyal_batch_begin");
	for (int n = 2 + (int)below(s, 7); n > 0; n--)
		track_event(s, pick_member(s), NULL);
}

/* A batch of events, committed; or, one time in four, rolled back and its events tracked again
 * one by one (each must be new: the rollback took it back). */
static void op_batch(sim *s)
{
	int first = s->event_count;
	begin_batch(s);
	if (below(s, 4)) {
		expect_rc(s, loyal_batch_commit(s->db), LOYAL_OK, "loyal_batch_commit");
		s->batches++;
		return;
	}
	expect_rc(s, loyal_batch_rollback(s->db), LOYAL_OK, "loyal_batch_rollback");
	s->batches_rolled_back++;
	int replayed = track_again(s, first, "loyal_track of an event its batch rolled back");
	if (replayed)
		fail(s, "%d events of a batch rolled back are replays when tracked again", replayed);
	for (int i = 0; i < s->member_count; i++)
		check_member(s, i);
}

/* A crash while an event, or a batch of them (one time in three), is tracked: the power is
 * lost, or (`kill`) the process is killed, at a chosen write or sync of the file (inside the
 * call's transaction, its commit, a checkpoint after it; right after the call when it made
 * fewer). The handles are closed as a dying process leaves them (nothing they write from the
 * cut on reaches the file). On a power loss, of what was not synced each sector is kept or
 * lost; on a kill, everything written before the cut is kept. With the WAL synced at every
 * commit, every call acknowledged before the cut is there; what was in flight is there or not
 * (a batch whole), and retry_in_flight tracks it again. Then every member matches the model. */
static void server_crash(sim *s);

static void op_crash(sim *s, bool kill)
{
	/* Opening the file after a crash checks it whole (quick_check), which costs what the file
	 * holds: a crash comes once the events have grown by a twentieth since the last, so that
	 * a step's cost stays flat; until then the step is a plain event. On PostgreSQL a crash is
	 * the server's (server_crash): a killed client is the server ending its session, which
	 * op_io_fault does. */
	if (s->event_count < s->crash_events + 50 + s->event_count / 20 || (kill && s->server)) {
		track_event(s, pick_member(s), NULL);
		return;
	}
	s->crash_events = s->event_count;
	if (s->server) {
		server_crash(s);
		return;
	}
	int first = s->event_count;
	if (below(s, 3) == 0) {
		begin_batch(s);
		disk_arm(below(s, 100)); /* at one of the commit's writes or syncs, or after */
		expect_rc(s, loyal_batch_commit(s->db), LOYAL_OK, "loyal_batch_commit");
	} else {
		disk_arm(below(s, 40));
		track_event(s, pick_unblocked_member(s), NULL);
	}
	disk_cut_now();
	loyal_close(s->db); /* what they write is lost: the process is dead */
	loyal_close(s->other);
	s->db = s->other = NULL;
	if (kill) {
		disk_kill();
		s->kills++;
	} else {
		s->bytes_lost += disk_power_loss(next_random(s));
		s->power_losses++;
	}
	open_db(s);
	retry_in_flight(s, first);
	for (int i = 0; i < s->member_count; i++)
		check_member(s, i);
	/* The whole file is verified as op_verify does it, when the events have grown by a
	 * quarter since (each crash doing it would make a step's cost grow with the run). */
	op_verify(s, false);
}

/* An I/O error: one of the next few writes, truncations or syncs of the file or its WAL
 * fails, inside an event's call (its transaction, its commit, a checkpoint after it) or, when
 * the call needs fewer, not at all. On PostgreSQL the handle's session ends: before the call,
 * or at one of the first rows it writes (or not at all, when it writes fewer). track_event
 * checks what a failed call left and retries it. */
static void op_io_fault(sim *s)
{
	if (s->server && below(s, 2)) /* on PostgreSQL: the handle's connection is dropped */
		s->drop_next_call = true;
	else if (s->server) /* or its session ended inside the call */
		s->drop_at_row = below(s, 12);
	else
		disk_fail_io(below(s, 12));
	track_event(s, pick_member(s), NULL);
	fault_clear(s);
}

/* An allocation fails: one of the first few hundred of an event's call (the library's own,
 * SQLite's, jansson's: tests/faults.h), or none when the call makes fewer. track_event checks
 * that the call failed with LOYAL_ENOMEM and changed nothing, and retries it. */
static void op_alloc_fault(sim *s)
{
	s->alloc_next = below(s, 300);
	track_event(s, pick_member(s), NULL);
	fault_clear(s);
}

/* A read on the handle in use, whose connection the server may have lost: it fails with
 * LOYAL_EIO (or the handle found out and connected again), and the next reads connect again
 * and find the member as the model has them. */
static void read_after_crash(sim *s, int member)
{
	loyal_balance b = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(s->db, s->members[member].id, "points", 0, &b);
	s->reconnects += rc == LOYAL_EIO;
	if (rc != LOYAL_OK && rc != LOYAL_ENOTFOUND && rc != LOYAL_EIO)
		fail(s, "a read after the server's crash returned %s (%s)", loyal_errstr(rc),
		     loyal_errmsg(s->db));
	check_member(s, member);
}

/* On PostgreSQL, a power loss is the server's: it is stopped as a crash stops it (-m
 * immediate: no checkpoint, no goodbye to the clients) and started again. The handles outlive
 * it, as a client's would: this step's event meets the dead connection (LOYAL_EIO, nothing
 * changed) and its retry under its key tracks it once; each handle's first read after fails or
 * finds the connection gone, and the next ones connect again. Every acknowledged call is
 * there: every member matches the model, and verify passes. */
static void server_crash(sim *s)
{
	/* Half the time inside an event's call, at one of the first rows it writes; between
	 * calls when it writes fewer. */
	s->crashed_in_call = false;
	if (below(s, 2)) {
		s->crash_at_row = below(s, 12);
		track_event(s, pick_unblocked_member(s), NULL);
		fault_clear(s);
	}
	if (!s->crashed_in_call) {
		after_server_crash(s, system(s->restart));
		s->dropped = true; /* by the crash */
		track_event(s, pick_member(s), NULL);
		fault_clear(s);
	}
	read_after_crash(s, (int)below(s, s->member_count)); /* when no event was tracked */
	switch_handle(s);
	read_after_crash(s, (int)below(s, s->member_count));
	switch_handle(s);
	for (int i = 0; i < s->member_count; i++)
		check_member(s, i);
	op_verify(s, false);
}

/* The posters leaderboard against the model's counts: each of the top ten has the score the
 * model counted, in order; a random member's rank lies among those with their score. */
static void check_leaderboard(sim *s)
{
	char *text = NULL;
	expect_rc(s, loyal_leaderboard_top(s->db, "posters", 0, 10, &text), LOYAL_OK,
		  "loyal_leaderboard_top");
	json_t *board = json_loads(text, 0, NULL), *rows = json_object_get(board, "rows");
	int64_t previous = INT64_MAX;
	size_t i;
	json_t *row;
	json_array_foreach (rows, i, row) {
		const char *id = json_string_value(json_object_get(row, "member"));
		int64_t score = json_integer_value(json_object_get(row, "score"));
		int member = id ? atoi(id + 1) : -1;
		if (member < 0 || member >= s->member_count || s->members[member].posts != score ||
		    score > previous)
			fail(s, "the posters leaderboard has %s at %lld; the model counts %lld", id,
			     (long long)score, member >= 0 && member < s->member_count
						       ? (long long)s->members[member].posts
						       : -1LL);
		previous = score;
	}
	int64_t above = 0, equal = 0, scored = 0;
	for (int m = 0; m < s->member_count; m++)
		scored += s->members[m].posts > 0;
	if ((int64_t)json_array_size(rows) != (scored < 10 ? scored : 10))
		fail(s, "the posters leaderboard lists %zu members; the model counts %lld posters",
		     json_array_size(rows), (long long)scored);
	json_decref(board);
	loyal_free(text);
	int member = pick_member(s);
	if (!s->members[member].posts)
		return;
	for (int m = 0; m < s->member_count; m++) {
		above += s->members[m].posts > s->members[member].posts;
		equal += s->members[m].posts == s->members[member].posts;
	}
	expect_rc(s, loyal_leaderboard_rank(s->db, "posters", s->members[member].id, 0, 0, &text),
		  LOYAL_OK, "loyal_leaderboard_rank");
	board = json_loads(text, 0, NULL);
	int64_t rank = json_integer_value(json_object_get(board, "rank"));
	if (rank <= above || rank > above + equal)
		fail(s, "%s ranks %lld on the posters leaderboard; the model says %lld to %lld",
		     s->members[member].id, (long long)rank, (long long)above + 1,
		     (long long)(above + equal));
	json_decref(board);
	loyal_free(text);
}

/* The member rebuilt as of now from their history (loyal_member_as_of) is the member the
 * present-tense reads give: balances, tier and the badges held. */
static void check_as_of_now(sim *s, int member)
{
	sim_member *m = &s->members[member];
	if (!m->exists)
		return;
	char *text = NULL;
	expect_rc(s, loyal_member_as_of(s->db, m->id, 0, &text), LOYAL_OK, "loyal_member_as_of");
	json_t *past = json_loads(text, 0, NULL);
	loyal_free(text);
	static const char *const currencies[] = {"points", "xp"};
	for (int c = 0; c < 2; c++) {
		loyal_balance now = balance_of(s, member, currencies[c]);
		json_t *found = NULL, *item;
		size_t i;
		json_array_foreach (json_object_get(past, "balances"), i, item)
			if (strcmp(json_string_value(json_object_get(item, "currency")),
				   currencies[c]) == 0)
				found = item;
		const int64_t want[6] = {now.available, now.pending, now.held,
					 now.earned,    now.spent,   now.expired};
		static const char *const keys[6] = {"available", "pending", "held",
						    "earned",    "spent",   "expired"};
		for (int k = 0; k < 6; k++)
			if (json_integer_value(json_object_get(found, keys[k])) != want[k])
				fail(s, "%s %s as of now: %s %lld; the balance says %lld", m->id,
				     currencies[c], keys[k],
				     (long long)json_integer_value(json_object_get(found, keys[k])),
				     (long long)want[k]);
	}
	expect_rc(s, loyal_tier_get(s->db, m->id, &text), LOYAL_OK, "loyal_tier_get");
	json_t *tier = json_loads(text, 0, NULL);
	loyal_free(text);
	const char *tier_now = json_string_value(json_object_get(tier, "tier"));
	const char *tier_then = json_string_value(json_object_get(json_object_get(past, "tier"), "tier"));
	if ((tier_now == NULL) != (tier_then == NULL) ||
	    (tier_now && strcmp(tier_now, tier_then) != 0))
		fail(s, "%s as of now is in tier %s; loyal_tier_get says %s", m->id,
		     tier_then ? tier_then : "none", tier_now ? tier_now : "none");
	expect_rc(s, loyal_badge_list(s->db, m->id, &text), LOYAL_OK, "loyal_badge_list");
	json_t *badges = json_loads(text, 0, NULL), *row;
	loyal_free(text);
	size_t i, held = 0;
	json_array_foreach (badges, i, row)
		held += json_is_null(json_object_get(row, "revoked"));
	if (held != json_array_size(json_object_get(past, "badges")))
		fail(s, "%s as of now holds %zu badges; loyal_badge_list says %zu", m->id,
		     json_array_size(json_object_get(past, "badges")), held);
	json_decref(badges);
	json_decref(tier);
	json_decref(past);
}

/* A what-if with the live program as the candidate replays every stored event dated before
 * now, and finds no difference between its two sides. */
static void check_whatif(sim *s)
{
	char *text = NULL;
	expect_rc(s, loyal_program_get(s->db, &text), LOYAL_OK, "loyal_program_get");
	json_t *got = json_loads(text, 0, NULL);
	loyal_free(text);
	char *program = json_dumps(json_object_get(got, "program"), JSON_COMPACT);
	json_decref(got);
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	w.program = program;
	w.from = s->now - 7 * DAY_MS > 0 ? s->now - 7 * DAY_MS : 0;
	expect_rc(s, loyal_whatif(s->db, &w, &text), LOYAL_OK, "loyal_whatif");
	free(program);
	json_t *report = json_loads(text, 0, NULL);
	loyal_free(text);
	int64_t before_now = 0;
	for (int i = 0; i < s->event_count; i++)
		before_now += s->events[i].at < s->now;
	int64_t replayed = json_integer_value(json_object_get(report, "events"));
	if (replayed != before_now)
		fail(s, "the what-if replayed %lld events; %lld were tracked before now",
		     (long long)replayed, (long long)before_now);
	if (!json_equal(json_object_get(report, "live"), json_object_get(report, "candidate")))
		fail(s, "a what-if of the live program against itself found a difference");
	json_t *members = json_object_get(report, "members");
	if (json_integer_value(json_object_get(members, "differing")))
		fail(s, "a what-if of the live program against itself found %lld members differing",
		     (long long)json_integer_value(json_object_get(members, "differing")));
	json_decref(report);
}

/* The checks: the leaderboard and every member's tier assignment each time; loyal_verify and
 * members rebuilt from their history (whose cost grows with the history) once the events have
 * grown by a quarter since they last ran, so that a step's cost stays flat however long the
 * run (the final check runs them all: `final`). */
static void op_verify(sim *s, bool final)
{
	if (final || s->event_count >= s->deep_checked + s->deep_checked / 4 + 100) {
		expect_rc(s, loyal_verify(s->db), LOYAL_OK, "loyal_verify");
		for (int i = 0; i < 3; i++)
			check_as_of_now(s, pick_member(s));
		s->deep_checked = s->event_count;
	}
	check_leaderboard(s);
	for (int i = 0; i < s->member_count; i++)
		check_assignment(s, i);
}

/* Moves program time on; at each new day, the program's habitual members check in (most
 * days: their streaks earn badges, and a missed day breaks them). */
static void advance_clock(sim *s)
{
	int64_t r = below(s, 100), day = day_of(s->now);
	if (r < 85)
		s->now += below(s, HOUR_MS / 2);
	else if (r < 99)
		s->now += below(s, 6 * HOUR_MS);
	else
		s->now += below(s, 3 * DAY_MS);
	s->operation = "habitual check-in";
	for (int member = 0; day != day_of(s->now) && member < HABITUAL_MEMBERS; member++)
		if (below(s, 100) < 85)
			track_event(s, member, "check_in");
}

enum { OP_TRACK, OP_REPLAY, OP_REVERSE, OP_SPEND, OP_HOLD, OP_SETTLE, OP_REDEEM,
       OP_SETTLE_REDEMPTION, OP_ISSUE_COUPON, OP_USE_COUPON, OP_GRANT, OP_RECOGNIZE, OP_TIER, OP_BLOCK,
       OP_SWEEP,
       OP_SEGMENTS,
       OP_PROGRAM, OP_REOPEN, OP_POWER_LOSS, OP_KILL, OP_IO_FAULT, OP_ALLOC_FAULT, OP_BATCH,
       OP_VERIFY, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"track", "replay", "reverse", "spend", "hold", "settle hold", "redeem",
	"settle redemption", "issue coupon", "use coupon", "grant", "badge grant/revoke",
	"tier assign/release", "block/unblock", "sweep",
	"segment refresh", "program change", "reopen", "power loss", "kill", "I/O fault",
	"allocation fault", "batch", "verify"};
/* Out of 1000 steps. */
static const int op_weights[OP_COUNT] = {385, 40, 40, 80, 50, 50, 60, 50, 20, 60,
					 10, 10, 10, 15, 30, 20, 10, 5, 5, 5, 10, 10, 20, 5};

static void run_step(sim *s)
{
	if (below(s, 10) == 0)
		switch_handle(s);
	int64_t r = below(s, 1000);
	int op = 0;
	while (r >= op_weights[op])
		r -= op_weights[op++];
	s->operation = op_names[op];
	s->counts[op]++;
	if (s->trace)
		fprintf(stderr, "step %ld at %lld: %s\n", s->step, (long long)s->now, op_names[op]);
	switch (op) {
	case OP_TRACK: track_event(s, pick_member(s), NULL); break;
	case OP_REPLAY: op_replay(s); break;
	case OP_REVERSE: op_reverse(s); break;
	case OP_SPEND: op_spend(s, false); break;
	case OP_HOLD: op_spend(s, true); break;
	case OP_SETTLE: op_settle_hold(s); break;
	case OP_REDEEM: op_redeem(s); break;
	case OP_SETTLE_REDEMPTION: op_settle_redemption(s); break;
	case OP_ISSUE_COUPON: op_issue_coupon(s); break;
	case OP_USE_COUPON: op_use_coupon(s); break;
	case OP_GRANT: op_grant(s); break;
	case OP_RECOGNIZE: op_recognize(s); break;
	case OP_TIER: op_tier(s); break;
	case OP_BLOCK: op_block(s); break;
	case OP_SWEEP: op_sweeps(s); break;
	case OP_SEGMENTS: op_segments(s); break;
	case OP_PROGRAM: apply_program(s, !s->variant); break;
	case OP_REOPEN: op_reopen(s); break;
	case OP_POWER_LOSS: op_crash(s, false); break;
	case OP_KILL: op_crash(s, true); break;
	case OP_BATCH: op_batch(s); break;
	case OP_IO_FAULT: op_io_fault(s); break;
	case OP_ALLOC_FAULT: op_alloc_fault(s); break;
	default: op_verify(s, false); break;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: loyal-sim [--seed N] [--steps N] [--members N] [--dir DIR] "
			"[--db URI --restart COMMAND] [--trace]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static sim s;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	long steps = 10000;
	const char *dir = NULL, *uri = NULL;
	s.member_count = 40;
	for (int i = 1; i < argc; i++) {
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--trace") == 0)
			s.trace = true;
		else if (!value)
			usage();
		else if (strcmp(argv[i], "--seed") == 0 && *value)
			seed = strtoull(value, NULL, 10), i++;
		else if (strcmp(argv[i], "--steps") == 0)
			steps = atol(value), i++;
		else if (strcmp(argv[i], "--members") == 0)
			s.member_count = atoi(value), i++;
		else if (strcmp(argv[i], "--dir") == 0)
			dir = value, i++;
		else if (strcmp(argv[i], "--db") == 0)
			uri = value, i++;
		else if (strcmp(argv[i], "--restart") == 0)
			s.restart = value, i++;
		else
			usage();
	}
	if (steps < 1 || s.member_count < 2 || s.member_count > MAX_MEMBERS || !uri != !s.restart ||
	    (uri && (strlen(uri) >= sizeof s.path || strncmp(uri, "postgres", 8) != 0)))
		usage();
	seed_of_run = seed;
	printf("sim: seed %llu, %ld steps, %d members (replay: loyal-sim --seed %llu --steps %ld "
	       "--members %d)\n",
	       (unsigned long long)seed, steps, s.member_count, (unsigned long long)seed, steps,
	       s.member_count);
	fflush(stdout);
	char folder[256] = "";
	const char *tmp = getenv("TMPDIR");
	if (!fault_install_allocators()) { /* before SQLite initializes */
		fprintf(stderr, "sim: SQLite refused the allocators of the allocation faults\n");
		return 1;
	}
	s.alloc_next = -1;
	s.drop_at_row = s.crash_at_row = -1;
	if (uri) {
		snprintf(s.path, sizeof s.path, "%s", uri);
		s.server = PQconnectdb(uri);
		PGresult *r = PQexec(s.server, "SELECT count(*) FROM pg_namespace WHERE nspname = 'loyal'");
		if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "0") != 0) {
			fprintf(stderr, "sim: the database of --db must hold no loyal store yet%s%s\n",
				PQresultStatus(r) == PGRES_TUPLES_OK ? "" : ": ",
				PQresultStatus(r) == PGRES_TUPLES_OK ? "" : PQerrorMessage(s.server));
			return 1;
		}
		PQclear(r);
	} else {
		snprintf(folder, sizeof folder, "%s/loyal-sim-XXXXXX",
			 dir ? dir : tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(folder)) {
			perror("sim: mkdtemp");
			return 1;
		}
		snprintf(s.path, sizeof s.path, "%s/sim.db", folder);
		disk_install(s.path); /* the file and its WAL live on a disk that can lose power */
	}
	s.rng = seed;
	s.now = EPOCH_MS;
	s.day_base = day_of(EPOCH_MS) - 8; /* posts are back-dated by at most two days */
	s.operation = "open";
	for (int i = 0; i < s.member_count; i++) {
		snprintf(s.members[i].id, sizeof s.members[i].id, "m%03d", i);
		s.members[i].last_check_in_day = -2;
	}
	open_db(&s);
	if (s.server)
		install_drop_in_call(&s);
	apply_program(&s, 0);
	time_t started = time(NULL);
	for (s.step = 1; s.step <= steps; s.step++) {
		run_step(&s);
		advance_clock(&s);
		if (s.step % 10000 == 0)
			fprintf(stderr, "sim: step %ld, %d events, %lld s\n", s.step, s.event_count,
				(long long)(time(NULL) - started));
	}
	s.operation = "final verify";
	op_verify(&s, true);
	s.operation = "what-if of the live program";
	check_whatif(&s);
	for (int i = 0; i < s.member_count; i++)
		check_member(&s, i);
	close_db(&s);
	printf("sim: %ld steps over %lld days of program time, %d events, %d holds, %ld badges; "
	       "operations:",
	       steps, (long long)((s.now - EPOCH_MS) / DAY_MS), s.event_count, s.hold_count,
	       s.badges);
	for (int op = 0; op < OP_COUNT; op++)
		printf("%s %s %ld", op ? "," : "", op_names[op], s.counts[op]);
	printf("\nsim: %ld dry runs, each predicting its event exactly", s.dry_runs);
	printf("\nsim: %ld return bonuses, %ld self-referrals, %ld challenges won, %ld late events, "
	       "%ld late debits",
	       s.returns, s.self_referrals, s.challenges, s.late_events, s.late_debits);
	printf("\nsim: %ld redemptions (%ld refunded), %ld refused as sold out, %ld over a limit;"
	       " %d coupon codes, %ld uses; %ld grants (%ld run again); %ld post bonuses over budget;"
	       " %ld gold assignments, %ld released; %ld happenings read",
	       s.redeemed, s.redemptions_refunded, s.sold_out, s.limited, s.coupon_count,
	       s.coupon_uses, s.grants, s.grants_again, s.budget_refusals, s.assignments,
	       s.releases, s.happenings);
	if (s.server)
		printf("\nsim: on PostgreSQL: %ld server crashes (stopped -m immediate, started again;"
		       " %ld of them inside a call), %ld connections dropped before a call and %ld"
		       " inside one, %ld reads finding the connection lost",
		       s.server_crashes, s.crashes_in_call, s.drops, s.drops_in_call, s.reconnects);
	else
		printf("\nsim: %ld power losses and %ld kills (the event in flight kept %ld times, lost"
		       " and tracked again %ld times; the batch in flight kept whole %ld times, lost"
		       " whole %ld times), %lld unsynced bytes lost",
		       s.power_losses, s.kills, s.in_flight_kept, s.in_flight_lost, s.batches_kept,
		       s.batches_lost, (long long)s.bytes_lost);
	printf("\nsim: %ld batches committed, %ld rolled back and their events tracked again",
	       s.batches, s.batches_rolled_back);
	printf("\nsim: %ld I/O faults (%ld events tracked with one armed; %ld syncs failed), each"
	       " failing its call with nothing changed, the retry tracking it once",
	       s.io_faults, s.counts[OP_IO_FAULT], s.server ? 0 : disk_failed_syncs());
	printf("\nsim: %ld allocation faults (%ld events tracked with one armed), each failing its"
	       " call with LOYAL_ENOMEM and nothing changed, the retry tracking it once",
	       s.alloc_faults, s.counts[OP_ALLOC_FAULT]);
	printf("\nsim: two handles on the store, the steps turning from one to the other %ld times",
	       s.switches);
	printf("\nsim: every check held\n");
	const char *suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; !s.server && i < 3; i++) {
		char file[sizeof s.path + 8];
		snprintf(file, sizeof file, "%s%s", s.path, suffixes[i]);
		unlink(file);
	}
	if (!s.server)
		rmdir(folder);
	PQfinish(s.server);
	free(s.events);
	free(s.holds);
	free(s.redemptions);
	free(s.coupons);
	free(s.budget_used);
	if (!s.server)
		disk_free();
	return 0;
}
