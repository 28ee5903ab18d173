/* bench.c - the benchmark: loyal's event ingestion against plain SQLite doing the minimum, read
 * latencies, and sweeps, on a synthetic community program. Prints one JSON object per measure
 * on stdout and a table on stderr. Usage: bench [--quick] [--members N] [--events N] [--dir D]
 * [--counts] [--statements] [--db URI]; --counts tracks the events (batched) and stops there, for
 * the counts that do not depend on a noisy machine: WAL pages and statements run here,
 * instructions under callgrind (make bench-counts); --statements also lists each statement run
 * and how often; --db postgresql://... runs the ingestion on that PostgreSQL database instead
 * (which it empties: the library's schema and its floor's), beside a libpq floor, on 1, 4 and
 * 16 connections. */
#include <loyal.h>

/* The engine's own connection, for SQLite's count of the pages it writes (built with -Ilib). */
#include "engine/handle.h"
#include "store/sqlite/sqlite.h"
#include "store/sqlite/tuning.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define DAY_MS INT64_C(86400000)
#define BATCH 1000

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 365}},"
	"  {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": ["
	"  {\"name\": \"check-in\", \"event\": \"check_in\", \"award\": {\"points\": \"5\"},"
	"   \"caps\": [{\"per\": \"day\", \"awards\": 1}]},"
	"  {\"name\": \"post\", \"event\": \"post\", \"award\": {\"xp\": \"10\"}},"
	"  {\"name\": \"purchase\", \"event\": \"purchase\", \"condition\": \"event.amount > 0\","
	"   \"award\": {\"points\": \"floor(event.amount) * tier.multiplier\","
	"              \"xp\": \"floor(event.amount)\"}},"
	"  {\"name\": \"referrer\", \"event\": \"invite_accepted\", \"recipient\": \"event.referrer\","
	"   \"award\": {\"points\": \"50\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"}, {\"name\": \"gold\","
	"   \"entry\": \"earned(xp, 365d) >= 2000\", \"multiplier\": 1.5}]},"
	" \"badges\": [{\"name\": \"writer\", \"criterion\": \"count(post) >= 20\"}],"
	" \"segments\": [{\"name\": \"engaged\", \"criterion\":"
	"   \"days_since(last_seen) < 30 and count(check_in, 30d) >= 3 and balance(points) > 20\"}]}";

static const char *const TYPES[] = {"check_in", "post", "comment", "purchase", "invite_accepted"};

typedef struct bench {
	int64_t members, events;
	char dir[256];
	int64_t now; /* the fake clock */
	uint64_t rng;
	int64_t event_at;
	unsigned char *known; /* [members]: 1 once the member is in the database */
	int64_t known_count;
} bench;

static int64_t clock_fn(void *ctx)
{
	return ((bench *)ctx)->now;
}

static uint64_t next_random(bench *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * UINT64_C(2685821657736338717);
}

/* A member with a long-tailed activity: low ids are far more active. */
static int64_t pick_member(bench *b)
{
	double u = (double)(next_random(b) >> 11) / 9007199254740992.0;
	int64_t m = (int64_t)((double)b->members * u * u * u);
	return m < b->members ? m : b->members - 1;
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Pages written to the WAL since the last call (SQLite's own count, which noise cannot move). */
static int64_t pages_written(sqlite3 *sql)
{
	int current = 0, highest = 0;
	sqlite3_db_status(sql, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highest, 1);
	return current;
}

/* The statements the connection ran since the last call (SQLite's own count of each prepared
 * statement's runs, reset as read); with `list`, each statement run and how often, to stderr. */
static int64_t statements_run(sqlite3 *sql, bool list)
{
	int64_t total = 0;
	for (sqlite3_stmt *stmt = sqlite3_next_stmt(sql, NULL); stmt;
	     stmt = sqlite3_next_stmt(sql, stmt)) {
		int runs = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 1);
		if (list && runs)
			fprintf(stderr, "%9d  %.100s\n", runs, sqlite3_sql(stmt));
		total += runs;
	}
	return total;
}

/* The human-readable table goes to stderr, the JSON lines to stdout. ratio is the time over
 * floor_sqlite's, ratio_idempotent over floor_idempotent's; 0 for none. pages: the WAL pages
 * written, -1 for none. */
static void report_measure(const char *name, const bench *b, int64_t ops, double elapsed,
			   double ratio, double ratio_idempotent, int64_t pages)
{
	fprintf(stderr, "%-24s %10lld ops %9.3f s %12.0f ops/s", name, (long long)ops, elapsed,
		elapsed > 0 ? (double)ops / elapsed : 0);
	if (ratio > 0)
		fprintf(stderr, "   %.2fx the floor", ratio);
	if (ratio_idempotent > 0)
		fprintf(stderr, ", %.2fx the idempotent floor", ratio_idempotent);
	if (pages >= 0)
		fprintf(stderr, ", %.2f WAL pages an op", (double)pages / (double)ops);
	fprintf(stderr, "\n");
	printf("{\"name\":\"%s\",\"members\":%lld,\"events\":%lld,\"ops\":%lld,\"seconds\":%.3f,"
	       "\"ops_per_s\":%.0f",
	       name, (long long)b->members, (long long)b->events, (long long)ops, elapsed,
	       elapsed > 0 ? (double)ops / elapsed : 0);
	if (ratio > 0)
		printf(",\"ratio\":%.2f", ratio);
	if (ratio_idempotent > 0)
		printf(",\"ratio_idempotent\":%.2f", ratio_idempotent);
	if (pages >= 0)
		printf(",\"wal_pages_per_op\":%.3f", (double)pages / (double)ops);
	printf("}\n");
	fflush(stdout);
}

static void report(const char *name, const bench *b, int64_t ops, double elapsed, double ratio)
{
	report_measure(name, b, ops, elapsed, ratio, 0, -1);
}

static void check(loyal_db *db, int rc, const char *what)
{
	if (rc != LOYAL_OK) {
		fprintf(stderr, "bench: %s: %s: %s\n", what, loyal_errstr(rc), loyal_errmsg(db));
		exit(1);
	}
}

/* One synthetic event for member m. */
/* A member for an event, counted once it exists (every event creates its member and the
 * member it names). */
static int64_t event_member(bench *b)
{
	int64_t m = pick_member(b);
	if (b->known && !b->known[m]) {
		b->known[m] = 1;
		b->known_count++;
	}
	return m;
}

static void make_event(bench *b, int64_t index, char *member, char *key, char *properties,
		       const char **type)
{
	int64_t m = event_member(b);
	snprintf(member, 32, "m%lld", (long long)m);
	snprintf(key, 32, "e%lld", (long long)index);
	uint64_t r = next_random(b) % 100;
	*type = r < 40 ? TYPES[0] : r < 60 ? TYPES[1] : r < 75 ? TYPES[2] : r < 95 ? TYPES[3] : TYPES[4];
	if (*type == TYPES[3])
		snprintf(properties, 64, "{\"amount\": %llu.%02llu}",
			 (unsigned long long)(next_random(b) % 200), (unsigned long long)(next_random(b) % 100));
	else if (*type == TYPES[4])
		snprintf(properties, 64, "{\"referrer\": \"m%lld\"}", (long long)event_member(b));
	else
		snprintf(properties, 64, "{}");
}

/* Tracks one event, the fake clock moving on by the benchmark's step first. */
static void track_event(bench *b, loyal_db *db, const char *member, const char *key,
			const char *properties, const char *type)
{
	b->now += 365 * DAY_MS / (b->events + 1);
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = member;
	event.type = type;
	event.idempotency_key = key;
	event.properties = properties;
	check(db, loyal_track(db, &event, NULL), "track");
}

/* Tracks count events, in batches or one commit each; *pages receives the WAL pages written. */
static double ingest(bench *b, loyal_db *db, int64_t count, int64_t first, bool batched,
		     int64_t *pages)
{
	pages_written(sq(db->store)->sql);
	char member[32], key[32], properties[64];
	const char *type;
	double start = seconds();
	for (int64_t i = 0; i < count; i++) {
		if (batched && i % BATCH == 0)
			check(db, loyal_batch_begin(db), "batch");
		make_event(b, first + i, member, key, properties, &type);
		track_event(b, db, member, key, properties, type);
		if (batched && (i % BATCH == BATCH - 1 || i == count - 1))
			check(db, loyal_batch_commit(db), "commit");
	}
	double elapsed = seconds() - start;
	*pages = pages_written(sq(db->store)->sql);
	return elapsed;
}

/* The floor's SQLite calls: any failure ends the run, so that a floor that did less than its
 * work is never reported. */
static void floor_check(sqlite3 *db, int rc)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "bench: floor: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
}

static void floor_step(sqlite3 *db, sqlite3_stmt *statement)
{
	floor_check(db, sqlite3_step(statement));
	sqlite3_reset(statement);
}

static sqlite3_stmt *floor_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *statement = NULL;
	floor_check(db, sqlite3_prepare_v2(db, sql, -1, &statement, NULL));
	return statement;
}

/* Plain SQLite doing the minimum for the same events: an event row, an entry row, a balance
 * upsert, with prepared statements, the same batching and loyal's cache and WAL settings.
 * idempotent adds the least that DESIGN's idempotency asks of any engine: a record of each
 * event's key, found again by a 64-bit hash of member and key (a rowid table keyed by the hash,
 * the smallest such index SQLite has), whose insert is also the look-up. batch: events per
 * transaction (1: a commit each). *pages receives the WAL pages written. */
static double floor_sqlite(bench *b, int64_t count, bool idempotent, int64_t batch,
			   int64_t *pages)
{
	char path[320];
	snprintf(path, sizeof path, "%s/floor.db", b->dir);
	unlink(path);
	sqlite3 *db = NULL;
	floor_check(db, sqlite3_open(path, &db));
	floor_check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
				     STORE_TUNING
				     "CREATE TABLE events(id INTEGER PRIMARY KEY, member TEXT, type TEXT,"
				     " at INTEGER, properties TEXT);"
				     "CREATE TABLE entries(id INTEGER PRIMARY KEY, member TEXT,"
				     " amount INTEGER);"
				     "CREATE TABLE balances(member TEXT PRIMARY KEY, amount INTEGER)"
				     " WITHOUT ROWID;"
				     "CREATE TABLE keys(hash INTEGER PRIMARY KEY, event INTEGER NOT NULL);",
				     NULL, NULL, NULL));
	sqlite3_stmt *event = floor_prepare(
		db, "INSERT INTO events(member, type, at, properties) VALUES(?,?,?,?)");
	sqlite3_stmt *entry = floor_prepare(db, "INSERT INTO entries(member, amount) VALUES(?, ?)");
	sqlite3_stmt *balance = floor_prepare(db, "INSERT INTO balances VALUES(?, ?) ON CONFLICT"
						  "(member) DO UPDATE SET amount = amount + excluded.amount");
	sqlite3_stmt *key_record = floor_prepare(db, "INSERT INTO keys(hash, event) VALUES(?, ?)");
	char member[32], key[32], properties[64];
	const char *type;
	double start = seconds();
	pages_written(db);
	for (int64_t i = 0; i < count; i++) {
		if (i % batch == 0)
			floor_check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
		make_event(b, i, member, key, properties, &type);
		sqlite3_bind_text(event, 1, member, -1, SQLITE_STATIC);
		sqlite3_bind_text(event, 2, type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(event, 3, i);
		sqlite3_bind_text(event, 4, properties, -1, SQLITE_STATIC);
		floor_step(db, event);
		if (idempotent) {
			char scoped[64]; /* member, NUL, key */
			size_t length = strlen(member) + 1;
			memcpy(scoped, member, length);
			memcpy(scoped + length, key, strlen(key));
			length += strlen(key);
			sqlite3_bind_int64(key_record, 1, (sqlite3_int64)XXH3_64bits(scoped, length));
			sqlite3_bind_int64(key_record, 2, sqlite3_last_insert_rowid(db));
			floor_step(db, key_record);
		}
		sqlite3_bind_text(entry, 1, member, -1, SQLITE_STATIC);
		sqlite3_bind_int64(entry, 2, 5);
		floor_step(db, entry);
		sqlite3_bind_text(balance, 1, member, -1, SQLITE_STATIC);
		sqlite3_bind_int64(balance, 2, 5);
		floor_step(db, balance);
		if (i % batch == batch - 1 || i == count - 1)
			floor_check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
	}
	double elapsed = seconds() - start;
	*pages = pages_written(db);
	sqlite3_finalize(event);
	sqlite3_finalize(entry);
	sqlite3_finalize(balance);
	sqlite3_finalize(key_record);
	sqlite3_close(db);
	return elapsed;
}

static double timed_reads(bench *b, loyal_db *db, int64_t count, bool full_view)
{
	char member[32];
	double start = seconds();
	for (int64_t i = 0; i < count; i++) {
		snprintf(member, sizeof member, "m%lld", (long long)pick_member(b));
		loyal_balance balance = LOYAL_BALANCE_INIT;
		int rc = loyal_ledger_balance(db, member, "points", 0, &balance);
		if (rc != LOYAL_OK && rc != LOYAL_ENOTFOUND)
			check(db, rc, "balance");
		if (full_view && rc == LOYAL_OK) {
			char *tier = NULL, *badges = NULL;
			check(db, loyal_tier_get(db, member, &tier), "tier");
			check(db, loyal_badge_list(db, member, &badges), "badges");
			loyal_free(tier);
			loyal_free(badges);
		}
	}
	return seconds() - start;
}

/* Operators' tools over every member taking part: a bulk grant to all of them (a list), then
 * a leaderboard each of them scores on (one event each), read at its top and at members'
 * ranks. */
static void bench_operators(bench *b, loyal_db *db)
{
	int64_t count = b->known_count, n = 0;
	char (*ids)[24] = malloc((size_t)count * sizeof *ids);
	const char **members = malloc((size_t)count * sizeof *members);
	if (!ids || !members) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (int64_t m = 0; m < b->members && n < count; m++)
		if (b->known[m]) {
			snprintf(ids[n], sizeof ids[n], "m%lld", (long long)m);
			members[n] = ids[n];
			n++;
		}
	loyal_grant grant = LOYAL_GRANT_INIT;
	grant.key = "bench-grant";
	grant.members = members;
	grant.member_count = (size_t)n;
	grant.currency = "points";
	grant.amount = 5;
	double start = seconds();
	check(db, loyal_grant_run(db, &grant, NULL), "bulk grant");
	report("bulk_grant", b, n, seconds() - start, 0);

	/* The program with a leaderboard, then one scored event per member. */
	size_t length = strlen(PROGRAM);
	const char board[] = ", \"leaderboards\": [{\"name\": \"visitors\","
			     " \"measure\": {\"sum\": \"visit.minutes\"}}]}";
	char *document = malloc(length + sizeof board);
	if (!document) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	memcpy(document, PROGRAM, length - 1);
	memcpy(document + length - 1, board, sizeof board);
	check(db, loyal_program_apply(db, document, NULL), "program with a leaderboard");
	free(document);
	start = seconds();
	for (int64_t i = 0; i < n; i++) {
		char key[32], properties[48];
		snprintf(key, sizeof key, "visit-%lld", (long long)i);
		snprintf(properties, sizeof properties, "{\"minutes\": %llu}",
			 (unsigned long long)(next_random(b) % 100000));
		if (i % BATCH == 0)
			check(db, loyal_batch_begin(db), "batch");
		track_event(b, db, members[i], key, properties, "visit");
		if (i % BATCH == BATCH - 1 || i == n - 1)
			check(db, loyal_batch_commit(db), "commit");
	}
	report("scored_events", b, n, seconds() - start, 0);
	enum { READS = 200 };
	start = seconds();
	for (int i = 0; i < READS; i++) {
		char *json = NULL;
		check(db, loyal_leaderboard_top(db, "visitors", 0, 100, &json), "leaderboard top");
		loyal_free(json);
	}
	report("leaderboard_top100", b, READS, seconds() - start, 0);
	start = seconds();
	for (int i = 0; i < READS; i++) {
		char *json = NULL;
		check(db, loyal_leaderboard_rank(db, "visitors", members[next_random(b) % (uint64_t)n],
						 0, 2, &json),
		      "leaderboard rank");
		loyal_free(json);
	}
	report("leaderboard_rank", b, READS, seconds() - start, 0);

	/* One post per member (10 xp each), then the same with every posting announced in the
	 * outbox: what a happening per posting adds to an event. */
	const char announce[] = ", \"outbox\": {\"postings\": [\"points\", \"xp\"]}}";
	for (int announced = 0; announced < 2; announced++) {
		if (announced) {
			document = malloc(length + sizeof announce);
			if (!document) {
				fprintf(stderr, "bench: out of memory\n");
				exit(1);
			}
			memcpy(document, PROGRAM, length - 1);
			memcpy(document + length - 1, announce, sizeof announce);
			check(db, loyal_program_apply(db, document, NULL), "program with the outbox");
			free(document);
		}
		start = seconds();
		for (int64_t i = 0; i < n; i++) {
			char key[32];
			snprintf(key, sizeof key, "post-%d-%lld", announced, (long long)i);
			if (i % BATCH == 0)
				check(db, loyal_batch_begin(db), "batch");
			track_event(b, db, members[i], key, NULL, "post");
			if (i % BATCH == BATCH - 1 || i == n - 1)
				check(db, loyal_batch_commit(db), "commit");
		}
		report(announced ? "posts_announced" : "posts", b, n, seconds() - start, 0);
	}
	free(members);
	free(ids);
}

/* What-if: every stored event replayed through the live program and a candidate (the same
 * program here: the cost does not depend on it), beside the ingestion of the same events. */
static void bench_whatif(bench *b, loyal_db *db, double ingest_time)
{
	loyal_whatif_request w = LOYAL_WHATIF_REQUEST_INIT;
	w.program = PROGRAM;
	w.scratch = b->dir;
	char *json = NULL;
	double start = seconds();
	check(db, loyal_whatif(db, &w, &json), "what-if");
	double elapsed = seconds() - start;
	loyal_free(json);
	fprintf(stderr, "%-24s %10lld ops %9.3f s %12.0f ops/s   %.2fx ingest_batched\n",
		"whatif_replay", (long long)b->events, elapsed, (double)b->events / elapsed,
		elapsed / ingest_time);
	printf("{\"name\":\"whatif_replay\",\"members\":%lld,\"events\":%lld,\"ops\":%lld,"
	       "\"seconds\":%.3f,\"ops_per_s\":%.0f,\"ratio_ingest\":%.2f}\n",
	       (long long)b->members, (long long)b->events, (long long)b->events, elapsed,
	       (double)b->events / elapsed, elapsed / ingest_time);
	fflush(stdout);
}

/* A forecast of the benchmark's program: a tenth of its members for a year, counted in
 * member-days simulated. */
static void bench_simulate(bench *b)
{
	char path[320];
	snprintf(path, sizeof path, "%s/simulate.db", b->dir);
	unlink(path);
	loyal_db *db = NULL;
	check(db, loyal_open(path, NULL, &db), "open for a simulation");
	loyal_simulation s = LOYAL_SIMULATION_INIT;
	s.program = PROGRAM;
	s.members = b->members / 10 > 0 ? b->members / 10 : 1;
	s.days = 365;
	s.seed = 1;
	char *json = NULL;
	double start = seconds();
	check(db, loyal_simulate(db, &s, &json), "simulate");
	report("simulate_member_days", b, s.members * s.days, seconds() - start, 0);
	loyal_free(json);
	loyal_close(db);
	unlink(path);
}

/* ---- PostgreSQL: the same workload beside a libpq floor, on 1, 4 and 16 connections ---- */

/* The floor's libpq calls: any failure ends the run. */
static PGresult *pg_floor_check(PGconn *conn, PGresult *r)
{
	ExecStatusType status = PQresultStatus(r);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench: PostgreSQL floor: %s", PQerrorMessage(conn));
		exit(1);
	}
	return r;
}

static void pg_floor_run(PGconn *conn, const char *sql)
{
	PQclear(pg_floor_check(conn, PQexec(conn, sql)));
}

/* What one connection of a run does: events for its own share of the members (member m
 * belongs to connection m % connections, so that batches of different connections never wait
 * for each other's rows), batched. */
typedef struct pg_worker {
	bench b; /* its own copy: its random stream and clock */
	const char *uri;
	int index, connections;
	int64_t events;
	bool floor;
} pg_worker;

/* The member of the worker's share nearest to member m. */
static int64_t pg_own(const pg_worker *w, int64_t m)
{
	int64_t own = m - m % w->connections + w->index;
	return own < w->b.members ? own : own - w->connections;
}

/* The next event of the worker's share: its member and the member it names are its own. */
static void pg_event(pg_worker *w, int64_t i, char *member, char *key, char *properties,
		     const char **type)
{
	make_event(&w->b, i, member, key, properties, type);
	snprintf(member, 32, "m%lld", (long long)pg_own(w, strtoll(member + 1, NULL, 10)));
	if (*type == TYPES[4])
		snprintf(properties, 64, "{\"referrer\": \"m%lld\"}",
			 (long long)pg_own(w, strtoll(strstr(properties, "\"m") + 2, NULL, 10)));
	snprintf(key, 32, "c%d-e%lld", w->index, (long long)i);
}

/* The floor: an event row, an entry row, a balance upsert and a key record, four prepared
 * statements through libpq, one round trip each, BATCH events a transaction. */
static void *pg_floor_worker(void *arg)
{
	pg_worker *w = arg;
	PGconn *conn = PQconnectdb(w->uri);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	pg_floor_run(conn, "SET search_path TO loyal_floor");
	PQclear(pg_floor_check(conn, PQprepare(conn, "event", "INSERT INTO events(member, type, at,"
						" properties) VALUES($1, $2, $3, $4) RETURNING id",
						4, NULL)));
	PQclear(pg_floor_check(conn, PQprepare(conn, "key", "INSERT INTO keys(member, hash, event)"
						" VALUES($1, $2, $3)", 3, NULL)));
	PQclear(pg_floor_check(conn, PQprepare(conn, "entry", "INSERT INTO entries(member, amount)"
						" VALUES($1, 5)", 1, NULL)));
	PQclear(pg_floor_check(conn, PQprepare(conn, "balance", "INSERT INTO balances VALUES($1, 5)"
						" ON CONFLICT(member) DO UPDATE SET"
						" amount = balances.amount + 5", 1, NULL)));
	char member[32], key[32], properties[64], at[24], hash[24];
	const char *type;
	for (int64_t i = 0; i < w->events; i++) {
		if (i % BATCH == 0)
			pg_floor_run(conn, "BEGIN");
		pg_event(w, i, member, key, properties, &type);
		snprintf(at, sizeof at, "%lld", (long long)i);
		const char *event[] = {member, type, at, properties};
		PGresult *r = pg_floor_check(conn, PQexecPrepared(conn, "event", 4, event, NULL, NULL, 0));
		snprintf(hash, sizeof hash, "%lld", (long long)XXH3_64bits(key, strlen(key)));
		const char *record[] = {member, hash, PQgetvalue(r, 0, 0)};
		PQclear(pg_floor_check(conn, PQexecPrepared(conn, "key", 3, record, NULL, NULL, 0)));
		PQclear(r);
		const char *one[] = {member};
		PQclear(pg_floor_check(conn, PQexecPrepared(conn, "entry", 1, one, NULL, NULL, 0)));
		PQclear(pg_floor_check(conn, PQexecPrepared(conn, "balance", 1, one, NULL, NULL, 0)));
		if (i % BATCH == BATCH - 1 || i == w->events - 1)
			pg_floor_run(conn, "COMMIT");
	}
	PQfinish(conn);
	return NULL;
}

/* loyal: the same events tracked through the engine, one handle a connection. */
static void *pg_loyal_worker(void *arg)
{
	pg_worker *w = arg;
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.clock = clock_fn;
	opts.clock_ctx = &w->b;
	opts.busy_timeout_ms = 60000;
	loyal_db *db = NULL;
	check(db, loyal_open(w->uri, &opts, &db), "open");
	char member[32], key[32], properties[64];
	const char *type;
	for (int64_t i = 0; i < w->events; i++) {
		if (i % BATCH == 0)
			check(db, loyal_batch_begin(db), "batch");
		pg_event(w, i, member, key, properties, &type);
		track_event(&w->b, db, member, key, properties, type);
		if (i % BATCH == BATCH - 1 || i == w->events - 1)
			check(db, loyal_batch_commit(db), "commit");
	}
	loyal_close(db);
	return NULL;
}

static void pg_quiet(void *ctx, const char *message)
{
	(void)ctx;
	(void)message; /* the notices of dropping what a run left */
}

/* Empties the benchmark's database: the library's schema and the floor's. */
static void pg_reset(const char *uri, bool floor)
{
	PGconn *conn = PQconnectdb(uri);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "bench: %s", PQerrorMessage(conn));
		exit(1);
	}
	PQsetNoticeProcessor(conn, pg_quiet, NULL);
	pg_floor_run(conn, "DROP SCHEMA IF EXISTS loyal CASCADE;"
			   " DROP SCHEMA IF EXISTS loyal_floor CASCADE");
	if (floor)
		pg_floor_run(conn, "CREATE SCHEMA loyal_floor; SET search_path TO loyal_floor;"
				   " CREATE TABLE events(id bigserial PRIMARY KEY, member text,"
				   " type text, at bigint, properties text);"
				   " CREATE TABLE keys(member text, hash bigint, event bigint NOT NULL,"
				   " PRIMARY KEY(member, hash));"
				   " CREATE TABLE entries(id bigserial PRIMARY KEY, member text,"
				   " amount bigint);"
				   " CREATE TABLE balances(member text PRIMARY KEY, amount bigint)");
	PQfinish(conn);
}

/* Runs `connections` workers of one kind over `events` events in all; returns the seconds. */
static double pg_run(bench *b, const char *uri, int connections, int64_t events, bool floor)
{
	pg_reset(uri, floor);
	if (!floor) {
		loyal_db *db = NULL;
		loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
		check(db, loyal_open(uri, &opts, &db), "open");
		check(db, loyal_program_apply(db, PROGRAM, NULL), "program");
		loyal_close(db);
	}
	pg_worker workers[16];
	pthread_t threads[16];
	for (int i = 0; i < connections; i++) {
		workers[i] = (pg_worker){.b = *b, .uri = uri, .index = i, .connections = connections,
					 .events = events / connections, .floor = floor};
		workers[i].b.rng = 42 + (uint64_t)i;
		workers[i].b.known = NULL;
	}
	double start = seconds();
	for (int i = 0; i < connections; i++)
		if (pthread_create(&threads[i], NULL, floor ? pg_floor_worker : pg_loyal_worker,
				   &workers[i]) != 0) {
			fprintf(stderr, "bench: cannot start a thread\n");
			exit(1);
		}
	for (int i = 0; i < connections; i++)
		pthread_join(threads[i], NULL);
	return seconds() - start;
}

static int bench_postgres(bench *b, const char *uri)
{
	static const int connections[] = {1, 4, 16};
	for (size_t i = 0; i < sizeof connections / sizeof *connections; i++) {
		int n = connections[i];
		int64_t events = b->events / n * n;
		char name[48];
		double floor_time = pg_run(b, uri, n, events, true);
		snprintf(name, sizeof name, "pg_floor_idempotent_%d", n);
		report(name, b, events, floor_time, 0);
		double loyal_time = pg_run(b, uri, n, events, false);
		snprintf(name, sizeof name, "pg_ingest_batched_%d", n);
		report_measure(name, b, events, loyal_time, 0, loyal_time / floor_time, -1);
	}
	pg_reset(uri, false);
	return 0;
}

int main(int argc, char **argv)
{
	bench b = {.members = 100000, .events = 1000000, .rng = 42};
	bool counts_only = false, list_statements = false;
	const char *postgres = NULL;
	snprintf(b.dir, sizeof b.dir, "build/bench");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			b.members = 5000;
			b.events = 50000;
		} else if (strcmp(argv[i], "--members") == 0 && i + 1 < argc) {
			b.members = strtoll(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
			b.events = strtoll(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			snprintf(b.dir, sizeof b.dir, "%s", argv[++i]);
		} else if (strcmp(argv[i], "--counts") == 0) {
			counts_only = true;
		} else if (strcmp(argv[i], "--statements") == 0) {
			counts_only = list_statements = true;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			postgres = argv[++i];
		} else {
			fprintf(stderr, "usage: bench [--quick] [--members N] [--events N] [--dir DIR] "
					"[--counts] [--statements] [--db postgresql://...]\n");
			return 2;
		}
	}
	b.known = calloc((size_t)b.members, 1);
	if (!b.known) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	b.now = (int64_t)time(NULL) * 1000 - 366 * DAY_MS;
	if (postgres) {
		int status = bench_postgres(&b, postgres);
		free(b.known);
		return status;
	}
	mkdir(b.dir, 0755);
	char path[320];
	snprintf(path, sizeof path, "%s/bench.db", b.dir);
	unlink(path);
	b.now = (int64_t)time(NULL) * 1000 - 366 * DAY_MS;
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.clock = clock_fn;
	opts.clock_ctx = &b;
	loyal_db *db = NULL;
	check(db, loyal_open(path, &opts, &db), "open");
	check(db, loyal_program_apply(db, PROGRAM, NULL), "program");

	int64_t pages = 0;
	if (counts_only) {
		statements_run(sq(db->store)->sql, false);
		double elapsed = ingest(&b, db, b.events, 0, true, &pages);
		report_measure("ingest_batched", &b, b.events, elapsed, 0, 0, pages);
		int64_t statements = statements_run(sq(db->store)->sql, list_statements);
		printf("{\"measure\": \"statements_per_event\", \"value\": %.3f}\n",
		       (double)statements / (double)b.events);
		fprintf(stderr, "statements run per tracked event: %.3f\n",
			(double)statements / (double)b.events);
		loyal_close(db);
		free(b.known);
		return 0;
	}
	double floor_time = floor_sqlite(&b, b.events, false, BATCH, &pages);
	report_measure("floor_sqlite", &b, b.events, floor_time, 0, 0, pages);
	b.rng = 42;
	double floor_idempotent = floor_sqlite(&b, b.events, true, BATCH, &pages);
	report_measure("floor_idempotent", &b, b.events, floor_idempotent,
		       floor_idempotent / floor_time, 0, pages);
	b.rng = 42;
	double batched = ingest(&b, db, b.events, 0, true, &pages);
	report_measure("ingest_batched", &b, b.events, batched, batched / floor_time,
		       batched / floor_idempotent, pages);
	bench_whatif(&b, db, batched);
	/* One commit per event: loyal beside the idempotent floor doing the same, in one run. */
	int64_t single = b.events / 50 > 0 ? b.events / 50 : 1;
	uint64_t rng = b.rng;
	double floor_single = floor_sqlite(&b, single, true, 1, &pages);
	report_measure("floor_idempotent_single", &b, single, floor_single, 0, 0, pages);
	b.rng = rng;
	double single_time = ingest(&b, db, single, b.events, false, &pages);
	report_measure("ingest_single", &b, single, single_time, 0, single_time / floor_single,
		       pages);
	/* The same on a handle that survives power loss (an fsync per commit), fewer events. */
	loyal_open_options power = opts;
	power.durability = LOYAL_DURABILITY_POWER;
	loyal_db *synced = NULL;
	check(synced, loyal_open(path, &power, &synced), "open for power-loss durability");
	int64_t synced_events = single / 4 > 0 ? single / 4 : 1;
	double synced_time = ingest(&b, synced, synced_events, b.events + single, false, &pages);
	report_measure("ingest_single_power", &b, synced_events, synced_time, 0, 0, pages);
	loyal_close(synced);
	/* Reads first meet accounts with points fallen due since the last sweep (a whole year of
	 * them here), which a read settles in memory; after a sweep, as a host running
	 * loyal_expire daily would have, they do not. */
	report("balance_read", &b, 100000, timed_reads(&b, db, 100000, false), 0);
	report("member_view", &b, 20000, timed_reads(&b, db, 20000, true), 0);
	double start = seconds();
	check(db, loyal_expire(db, 0, NULL), "expire");
	report("expire_due", &b, b.known_count, seconds() - start, 0);
	report("balance_read_swept", &b, 100000, timed_reads(&b, db, 100000, false), 0);
	report("member_view_swept", &b, 20000, timed_reads(&b, db, 20000, true), 0);

	start = seconds();
	loyal_cursor *cursor = NULL;
	check(db, loyal_segment_members(db, "engaged", &cursor), "segment");
	const char *row = NULL;
	int64_t in_segment = 0;
	int rc;
	while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row)
		in_segment++;
	check(db, rc, "segment rows");
	loyal_cursor_free(cursor);
	/* Every member in the database is evaluated, not only those of the option. */
	report("segment_scan", &b, b.known_count, seconds() - start, 0);

	bench_operators(&b, db);
	bench_simulate(&b);

	b.now += 400 * DAY_MS;
	start = seconds();
	check(db, loyal_tier_sweep(db, 0, NULL), "tier sweep");
	report("tier_sweep", &b, b.known_count, seconds() - start, 0);
	start = seconds();
	check(db, loyal_expire(db, 0, NULL), "expire");
	report("expire_sweep", &b, b.known_count, seconds() - start, 0);
	loyal_close(db);

	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	struct stat file;
	stat(path, &file);
	fprintf(stderr, "peak RSS %ld KB, %lld bytes of file per member, %lld per event\n",
		usage.ru_maxrss, (long long)(file.st_size / b.known_count),
		(long long)(file.st_size / b.events));
	fprintf(stderr, "%lld of the %lld members took part\n", (long long)b.known_count,
		(long long)b.members);
	printf("{\"name\":\"resources\",\"peak_rss_kb\":%ld,\"db_bytes\":%lld,"
	       "\"bytes_per_member\":%lld,\"bytes_per_event\":%lld,\"in_segment\":%lld,"
	       "\"members_taking_part\":%lld}\n",
	       usage.ru_maxrss, (long long)file.st_size, (long long)(file.st_size / b.known_count),
	       (long long)(file.st_size / b.events), (long long)in_segment,
	       (long long)b.known_count);
	free(b.known);
	return 0;
}
