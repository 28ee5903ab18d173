/* connection.c - the PostgreSQL backend's connection: opening, the schema, statements and
 * their parameters and results, errors, transactions. */
#include "store/postgres/postgres.h"

#include <jansson.h>

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the schema: one migration per version, each run in one transaction ---- */

/* 0 -> 1: every table. Member-owned tables lead their keys with member_id. */
static const char *const migration_1[] = {
	"CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE program_versions(version bigserial PRIMARY KEY,"
	"  applied_at bigint NOT NULL, document text NOT NULL);"
	"CREATE TABLE currencies(id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);"
	"CREATE TABLE rules(name text PRIMARY KEY, version bigint NOT NULL,"
	"  definition text NOT NULL);"
	"CREATE SEQUENCE member_ids;"
	"CREATE TABLE members(id bigint PRIMARY KEY, external_id text NOT NULL,"
	"  joined_at bigint NOT NULL, status bigint NOT NULL DEFAULT 0,"
	"  last_active_at bigint NOT NULL, last_txn bigint NOT NULL DEFAULT 0,"
	"  last_hash bigint NOT NULL DEFAULT 0, timezone text NOT NULL DEFAULT '',"
	"  tier text NOT NULL DEFAULT '', tier_since bigint NOT NULL DEFAULT 0,"
	"  review_at bigint NOT NULL DEFAULT 0, grace_until bigint NOT NULL DEFAULT 0,"
	"  attrs text NOT NULL DEFAULT '{}');"
	"CREATE INDEX members_review ON members(review_at, id) WHERE tier <> '';"
	"CREATE INDEX members_idle ON members(last_active_at);"
	"CREATE TABLE member_keys(external_id text PRIMARY KEY, member_id bigint NOT NULL);"
	"CREATE TABLE balances(member_id bigint NOT NULL, currency bigint NOT NULL,"
	"  available bigint NOT NULL, pending bigint NOT NULL, held bigint NOT NULL,"
	"  earned bigint NOT NULL, spent bigint NOT NULL, expired bigint NOT NULL,"
	"  due_at bigint NOT NULL, PRIMARY KEY(member_id, currency));"
	"CREATE INDEX balances_due ON balances(due_at, member_id, currency);",
	/* Step 2: a transfer reserves two ids, the one a post takes and the one after it. */
	"CREATE SEQUENCE txn_ids INCREMENT BY 2;"
	"CREATE TABLE txns(member_id bigint NOT NULL, id bigint NOT NULL,"
	"  currency bigint NOT NULL, kind bigint NOT NULL, amount bigint NOT NULL,"
	"  at bigint NOT NULL, reverses bigint NOT NULL, requested bigint NOT NULL,"
	"  counterpart bigint NOT NULL, prev bigint NOT NULL, hash bigint NOT NULL,"
	"  event bigint NOT NULL, reason text NOT NULL, cause text,"
	"  PRIMARY KEY(member_id, id));"
	"CREATE INDEX txns_id ON txns(id);"
	"CREATE INDEX txns_at ON txns(at);"
	"CREATE INDEX txns_reversals ON txns(member_id, reverses) WHERE reverses <> 0;"
	"CREATE INDEX txns_event ON txns(event) WHERE event <> 0;"
	"CREATE TABLE entries(member_id bigint NOT NULL, txn bigint NOT NULL,"
	"  seq bigint NOT NULL, currency bigint NOT NULL, debit_account bigint NOT NULL,"
	"  credit_account bigint NOT NULL, amount bigint NOT NULL,"
	"  PRIMARY KEY(member_id, txn, seq));"
	"CREATE SEQUENCE lot_ids;"
	"CREATE TABLE lots(member_id bigint NOT NULL, id bigint NOT NULL,"
	"  currency bigint NOT NULL, txn bigint NOT NULL, amount bigint NOT NULL,"
	"  remaining bigint NOT NULL, earned_at bigint NOT NULL, expires_at bigint NOT NULL,"
	"  pending_until bigint NOT NULL, PRIMARY KEY(member_id, id));"
	"CREATE INDEX lots_open ON lots(member_id, currency, expires_at, id) WHERE remaining > 0;"
	"CREATE TABLE moves(member_id bigint NOT NULL, txn bigint NOT NULL, seq bigint NOT NULL,"
	"  lot bigint NOT NULL, amount bigint NOT NULL, kind bigint NOT NULL,"
	"  PRIMARY KEY(member_id, txn, seq));"
	"CREATE INDEX moves_lot ON moves(member_id, lot);",
	"CREATE TABLE holds(member_id bigint NOT NULL, txn bigint NOT NULL,"
	"  currency bigint NOT NULL, amount bigint NOT NULL, deadline bigint NOT NULL,"
	"  state bigint NOT NULL, captured bigint NOT NULL, settled_by bigint NOT NULL,"
	"  PRIMARY KEY(member_id, txn));"
	"CREATE INDEX holds_open ON holds(member_id, currency, deadline) WHERE state = 0;"
	"CREATE TABLE idem(member_id bigint NOT NULL, key_hash bigint NOT NULL, key text NOT NULL,"
	"  kind bigint NOT NULL, request text NOT NULL, rc bigint NOT NULL, txn bigint NOT NULL,"
	"  amount bigint NOT NULL, message text NOT NULL, PRIMARY KEY(member_id, key_hash, key));"
	/* A connection takes 64 event ids at a time (EVENT_ID_BLOCK). */
	"CREATE SEQUENCE event_ids INCREMENT BY 64;"
	"CREATE TABLE events(member_id bigint NOT NULL, id bigint NOT NULL, type text NOT NULL,"
	"  at bigint NOT NULL, key text NOT NULL, properties text NOT NULL, outcome text NOT NULL,"
	"  PRIMARY KEY(member_id, id));"
	/* What members did is written without reading their row: a row of a missing member
	 * fails the commit. */
	"CREATE TABLE activity(member_id bigint NOT NULL, type text NOT NULL, day bigint NOT NULL,"
	"  count bigint NOT NULL, PRIMARY KEY(member_id, type, day),"
	"  FOREIGN KEY(member_id) REFERENCES members(id) DEFERRABLE INITIALLY DEFERRED);"
	"CREATE INDEX activity_day ON activity(day);",
	"CREATE TABLE activity_sums(member_id bigint NOT NULL, type text NOT NULL,"
	"  day bigint NOT NULL, property text NOT NULL, value double precision NOT NULL,"
	"  whole boolean NOT NULL, PRIMARY KEY(member_id, type, day, property),"
	"  FOREIGN KEY(member_id) REFERENCES members(id) DEFERRABLE INITIALLY DEFERRED);"
	"CREATE TABLE rule_counters(member_id bigint NOT NULL, rule text NOT NULL,"
	"  currency bigint NOT NULL, day bigint NOT NULL, count bigint NOT NULL,"
	"  PRIMARY KEY(member_id, rule, currency, day),"
	"  FOREIGN KEY(member_id) REFERENCES members(id) DEFERRABLE INITIALLY DEFERRED);"
	"CREATE TABLE tier_history(member_id bigint NOT NULL, id bigserial,"
	"  from_tier text, to_tier text NOT NULL, at bigint NOT NULL, reason text NOT NULL,"
	"  PRIMARY KEY(member_id, id));"
	"CREATE TABLE segment_members(member_id bigint NOT NULL, segment text NOT NULL,"
	"  since bigint NOT NULL, PRIMARY KEY(member_id, segment));"
	"CREATE INDEX segment_members_segment ON segment_members(segment);"
	"CREATE SEQUENCE refresh_ids;"
	"CREATE TABLE segment_changes(member_id bigint NOT NULL, id bigserial,"
	"  refresh bigint NOT NULL, segment text NOT NULL, entered boolean NOT NULL,"
	"  at bigint NOT NULL, PRIMARY KEY(member_id, id));"
	"CREATE INDEX segment_changes_refresh ON segment_changes(refresh, id);"
	"CREATE TABLE badge_awards(member_id bigint NOT NULL, id bigserial, badge text NOT NULL,"
	"  level text NOT NULL, at bigint NOT NULL, cause text, PRIMARY KEY(member_id, id));"
	"CREATE INDEX badge_awards_last ON badge_awards(member_id, badge, level, at);",
	NULL,
};
/* 1 -> 2: rewards: redemptions (keyed by member; pending ones listed and swept by deadline)
 * and each reward's stock taken (a small program table: a reference table under Citus). */
static const char *const migration_2[] = {
	"CREATE SEQUENCE redemption_ids;"
	"CREATE TABLE redemptions(member_id bigint NOT NULL, id bigint NOT NULL,"
	"  reward text NOT NULL, quantity bigint NOT NULL, state int NOT NULL, at bigint NOT NULL,"
	"  day bigint NOT NULL, deadline bigint NOT NULL, settled_at bigint NOT NULL DEFAULT 0,"
	"  stocked boolean NOT NULL, postings text NOT NULL, code bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(member_id, id));"
	"CREATE INDEX redemptions_limit ON redemptions(member_id, reward, day);"
	"CREATE INDEX redemptions_pending ON redemptions(id) WHERE state = 0;"
	"CREATE INDEX redemptions_deadline ON redemptions(deadline, id) WHERE state = 0;"
	"CREATE INDEX redemptions_stock ON redemptions(reward, deadline) WHERE state = 0 AND stocked;"
	"CREATE TABLE reward_stock(reward text PRIMARY KEY, taken bigint NOT NULL);"
	/* Coupons: every code, in a pool (member 0) or issued, found by the code itself; the uses
	 * set aside for checkouts (keyed by member). */
	"CREATE TABLE coupon_codes(id bigserial UNIQUE, code text PRIMARY KEY, coupon text NOT NULL,"
	"  member_id bigint NOT NULL DEFAULT 0, issued_at bigint NOT NULL DEFAULT 0,"
	"  valid_from bigint NOT NULL DEFAULT 0, valid_until bigint NOT NULL DEFAULT 0,"
	"  uses_left bigint NOT NULL DEFAULT 0, used_at bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX coupon_codes_pool ON coupon_codes(coupon, id) WHERE member_id = 0;"
	"CREATE INDEX coupon_codes_member ON coupon_codes(member_id, id) WHERE member_id <> 0;"
	"CREATE TABLE coupon_reservations(member_id bigint NOT NULL, id bigserial, code bigint NOT NULL,"
	"  state int NOT NULL, at bigint NOT NULL, PRIMARY KEY(member_id, id));",
	NULL,
};
/* 2 -> 3: an operator's tools: a badge's history tells earned, granted and revoked apart; a
 * member may hold a tier assigned until a date or until it is released; rules may have
 * budgets (what each used per period, across members); leaderboards keep scores. */
static const char *const migration_3[] = {
	"ALTER TABLE badge_awards ADD COLUMN kind bigint NOT NULL DEFAULT 0;"
	"DROP INDEX badge_awards_last;"
	"CREATE INDEX badge_awards_last ON badge_awards(member_id, badge, level, kind, at);"
	"CREATE TABLE tier_assignments(member_id bigint PRIMARY KEY, tier text NOT NULL,"
	"  until bigint NOT NULL, at bigint NOT NULL, reason text NOT NULL);"
	"CREATE TABLE board_scores(member_id bigint NOT NULL, board text NOT NULL,"
	"  period bigint NOT NULL, score double precision NOT NULL, at bigint NOT NULL,"
	"  PRIMARY KEY(member_id, board, period));"
	"CREATE INDEX board_scores_rank ON board_scores(board, period, score DESC, at, member_id);"
	"CREATE TABLE rule_budgets(rule text NOT NULL, currency bigint NOT NULL,"
	"  period bigint NOT NULL, used bigint NOT NULL, PRIMARY KEY(rule, currency, period));",
	NULL,
};

/* 3 -> 4: the outbox. Happenings (positions handed out in commit order by outbox_head, see
 * outbox.c), each consumer's acknowledged position, and the notices sent (each once). */
static const char *const migration_4[] = {
	"CREATE TABLE outbox(position bigint PRIMARY KEY, member_id bigint NOT NULL,"
	"  kind text NOT NULL, at bigint NOT NULL, body text NOT NULL);"
	"CREATE TABLE outbox_head(id int PRIMARY KEY, position bigint NOT NULL);"
	"INSERT INTO outbox_head VALUES(1, 0);"
	"CREATE TABLE outbox_consumers(name text PRIMARY KEY, position bigint NOT NULL,"
	"  at bigint NOT NULL);"
	"CREATE TABLE notices_sent(member_id bigint NOT NULL, kind int NOT NULL,"
	"  currency bigint NOT NULL, subject bigint NOT NULL, threshold bigint NOT NULL,"
	"  PRIMARY KEY(member_id, kind, currency, subject, threshold));",
	NULL,
};

/* 4 -> 5: the events in id order, for a replay that reads every one (loyal_whatif). */
static const char *const migration_5[] = {
	"CREATE INDEX events_in_order ON events(id);",
	NULL,
};

/* 5 -> 6: an event's outcome is a compact record (engine/outcome.h), bytes; the JSON text
 * stored before stays as it is, as bytes, and is read as before. */
static const char *const migration_6[] = {
	"ALTER TABLE events ALTER COLUMN outcome TYPE bytea USING convert_to(outcome, 'UTF8');",
	NULL,
};

static const char *const *const migrations[PG_SCHEMA_VERSION] = {
	migration_1, migration_2, migration_3, migration_4, migration_5, migration_6};

/* ---- parameters ---- */

static void add_value(pg_args *a, const char *value)
{
	if (a->count < PG_MAX_ARGS)
		a->values[a->count] = value;
	a->count++; /* past PG_MAX_ARGS: refused when run */
}

void ly_pg_int(pg_args *a, int64_t value)
{
	if (a->count < PG_MAX_ARGS) {
		snprintf(a->ints[a->count], sizeof a->ints[a->count], "%" PRId64, value);
		add_value(a, a->ints[a->count]);
	} else {
		add_value(a, NULL);
	}
}

void ly_pg_text(pg_args *a, const char *text)
{
	add_value(a, text);
}

void ly_pg_bool(pg_args *a, bool value)
{
	add_value(a, value ? "t" : "f");
}

void ly_pg_bytes(pg_args *a, const void *bytes, size_t size)
{
	if (a->count < PG_MAX_ARGS && size <= INT_MAX) {
		a->lengths[a->count] = (int)size;
		a->formats[a->count] = 1;
		a->binary = true;
	} else if (size > INT_MAX) {
		a->no_memory = true;
	}
	add_value(a, bytes ? bytes : "");
}

char *ly_pg_array(pg_args *a, const int64_t *values, size_t count, size_t stride)
{
	size_t size = count * 22 + 3;
	char *room = ly_mem_alloc(size);
	if (!room) {
		a->no_memory = true;
		add_value(a, NULL);
		return NULL;
	}
	size_t used = (size_t)snprintf(room, size, "{");
	for (size_t i = 0; i < count; i++) {
		const int64_t *value = (const int64_t *)(const void *)((const char *)values + i * stride);
		used += (size_t)snprintf(room + used, size - used, "%s%" PRId64, i ? "," : "", *value);
	}
	snprintf(room + used, size - used, "}");
	add_value(a, room);
	return room;
}

/* ---- errors ---- */

static bool sqlstate_is(const char *state, const char *prefix)
{
	return state && strncmp(state, prefix, strlen(prefix)) == 0;
}

int ly_pg_error(store *s, const PGresult *result, const char *doing)
{
	PGconn *conn = pq(s)->conn;
	const char *state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!detail || !*detail)
		detail = conn ? PQerrorMessage(conn) : "no connection";
	char trimmed[600];
	snprintf(trimmed, sizeof trimmed, "%s", detail);
	for (size_t n = strlen(trimmed); n && (trimmed[n - 1] == '\n' || trimmed[n - 1] == ' ');)
		trimmed[--n] = '\0';
	int code = LOYAL_EINTERNAL;
	/* The connection's own failure (no SQLSTATE: libpq's; 08: the connection's; 57P: the
	 * server ended the session): the next call outside a transaction opens it again. */
	if (!conn || PQstatus(conn) == CONNECTION_BAD || !state || !*state || sqlstate_is(state, "08") ||
	    sqlstate_is(state, "57P"))
		pq(s)->lost = true;
	if (ly_store_interrupted(s) && PQstatus(conn) == CONNECTION_OK &&
	    (sqlstate_is(state, "57014") || sqlstate_is(state, "55P03"))) {
		ly_fail(s->error, LOYAL_EINTERRUPTED, "interrupted (loyal_interrupt) while %s",
			doing);
		if (pq(s)->in_txn)
			pq(s)->txn_failed = true;
		return LOYAL_EINTERRUPTED;
	}
	/* A lost connection, a full disk or the server's system error. */
	if (pq(s)->lost || sqlstate_is(state, "53100") || sqlstate_is(state, "58"))
		code = LOYAL_EIO;
	else if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01") ||
		 sqlstate_is(state, "55P03") || sqlstate_is(state, "57014"))
		code = LOYAL_EBUSY;
	else if (sqlstate_is(state, "53200"))
		code = LOYAL_ENOMEM;
	else if (sqlstate_is(state, "25006"))
		code = LOYAL_EREADONLY;
	else if (sqlstate_is(state, "22003"))
		code = LOYAL_EOVERFLOW;
	else if (sqlstate_is(state, "23505"))
		code = LOYAL_ECONFLICT;
	else if (sqlstate_is(state, "23503")) { /* a deferred reference, checked on commit */
		const char *which = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
		ly_fail(s->error, LOYAL_ECORRUPT, "storage: %s: a member is missing: %s (server '%s')",
			doing, which ? which : trimmed, pq(s)->server);
		if (pq(s)->in_txn)
			pq(s)->txn_failed = true;
		return LOYAL_ECORRUPT;
	}
	else if (sqlstate_is(state, "42") || sqlstate_is(state, "XX001") ||
		 sqlstate_is(state, "XX002"))
		code = LOYAL_ECORRUPT; /* the library's own SQL fails only on tables not ours */
	if (code == LOYAL_EIO && (!state || !*state))
		ly_fail(s->error, code, "storage: %s: the connection to server '%s' failed: %s", doing,
			pq(s)->server, trimmed);
	else
		ly_fail(s->error, code, "storage: %s: %s (server '%s')", doing, trimmed,
			pq(s)->server);
	if (sqlstate_is(state, "XX00"))
		ly_pg_mark_damaged(s);
	if (pq(s)->in_txn)
		pq(s)->txn_failed = true;
	return code;
}

void ly_pg_mark_damaged(store *s)
{
	if (!pq(s)->damaged) {
		pq(s)->damaged = true;
		snprintf(pq(s)->damage, sizeof pq(s)->damage, "%.200s", s->error->message);
	}
}

static int refuse_if_damaged(store *s)
{
	return pq(s)->damaged ? ly_fail(s->error, LOYAL_ECORRUPT,
					"the database on server '%s' is damaged, so it takes no more "
					"writes through this handle: %s",
					pq(s)->server, pq(s)->damage)
			      : LOYAL_OK;
}

/* ---- statements ---- */

static void forget_statements(store *s)
{
	for (size_t i = 0; i < PG_STATEMENTS; i++)
		pq(s)->statements[i].prepared = false;
}

/* The cancel object of the connection as it is now (after a connect or a reset). */
static void renew_cancel(store *s)
{
	PGcancel *fresh = PQgetCancel(pq(s)->conn);
	pthread_mutex_lock(&pq(s)->cancel_lock);
	PGcancel *old = pq(s)->cancel;
	pq(s)->cancel = fresh;
	pthread_mutex_unlock(&pq(s)->cancel_lock);
	PQfreeCancel(old);
}

void ly_pg_interrupt(store *s)
{
	char why[256];
	pthread_mutex_lock(&pq(s)->cancel_lock);
	if (pq(s)->cancel)
		PQcancel(pq(s)->cancel, why, sizeof why); /* a failure leaves the call to finish */
	pthread_mutex_unlock(&pq(s)->cancel_lock);
}

/* Outside a transaction, a connection found lost is opened again (its statements prepared
 * again on use); inside one, the transaction is lost with it. */
static int connected(store *s, const char *doing)
{
	PGconn *conn = pq(s)->conn;
	if (PQstatus(conn) == CONNECTION_OK && !pq(s)->lost)
		return LOYAL_OK;
	if (pq(s)->in_txn)
		return ly_pg_error(s, NULL, doing);
	pq(s)->lost = false;
	PQreset(conn);
	forget_statements(s);
	if (PQstatus(conn) != CONNECTION_OK)
		return ly_pg_error(s, NULL, doing);
	renew_cancel(s);
	PGresult *r = PQexec(conn, "SET search_path TO loyal");
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? LOYAL_OK : ly_pg_error(s, r, doing);
	PQclear(r);
	return rc;
}

/* The slot of a statement's SQL text: found by its address. */
static int statement_slot(store *s, const char *sql)
{
	size_t start = (size_t)(((uintptr_t)sql >> 3) % PG_STATEMENTS);
	for (size_t i = 0; i < PG_STATEMENTS; i++) {
		size_t at = (start + i) % PG_STATEMENTS;
		pg_statement *st = &pq(s)->statements[at];
		if (st->sql == sql || !st->sql) {
			st->sql = sql;
			return (int)at;
		}
	}
	return -1;
}

/* The number of rows a statement changed or returned. */
static int64_t rows_of(PGresult *r)
{
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return PQntuples(r);
	const char *n = PQcmdTuples(r);
	return n && *n ? strtoll(n, NULL, 10) : 0;
}

/* Sends a statement into the pipeline (the caller checked it is open); *keep (when not NULL)
 * receives its result once read. */
static int pipeline_push(store *s, const char *doing, int prepares, PGresult **keep,
			 const char *missing)
{
	pg_pending *p = &pq(s)->pending[pq(s)->pending_count++];
	*p = (pg_pending){.doing = doing, .prepares = prepares, .keep = keep,
			  .expect_one = missing != NULL};
	if (missing)
		snprintf(p->missing, sizeof p->missing, "%s", missing);
	return LOYAL_OK;
}

/* Reads the results of everything sent into the pipeline, in one round trip: the first
 * failure (a statement's, or a statement's unmet expectation) is recorded and returned; the
 * statements after a failed one were not run. */
static int pipeline_read(store *s)
{
	PGconn *conn = pq(s)->conn;
	int rc = LOYAL_OK;
	if (!pq(s)->pending_count)
		return LOYAL_OK;
	if (!PQpipelineSync(conn))
		rc = ly_pg_error(s, NULL, "sending statements");
	for (int i = 0; i < pq(s)->pending_count; i++) {
		pg_pending *p = &pq(s)->pending[i];
		PGresult *r = rc == LOYAL_OK || PQstatus(conn) == CONNECTION_OK ? PQgetResult(conn) : NULL;
		ExecStatusType status = PQresultStatus(r);
		bool ran = r && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK);
		if (!ran && p->prepares >= 0) /* not made: made again on the next use */
			pq(s)->statements[p->prepares].prepared = false;
		if (!ran && rc == LOYAL_OK && status != PGRES_PIPELINE_ABORTED)
			rc = ly_pg_error(s, r, p->doing);
		else if (ran && rc == LOYAL_OK && p->expect_one && rows_of(r) != 1) {
			rc = ly_fail(s->error, LOYAL_ECORRUPT, "%s", p->missing);
			pq(s)->txn_failed = true;
		}
		if (ran && p->keep && rc == LOYAL_OK)
			*p->keep = r;
		else
			PQclear(r);
		if (r) /* each statement's results end with NULL */
			while ((r = PQgetResult(conn)) != NULL)
				PQclear(r);
	}
	pq(s)->pending_count = 0;
	/* The sync's own result ends the round trip. */
	PGresult *sync = PQstatus(conn) == CONNECTION_OK ? PQgetResult(conn) : NULL;
	if (sync && PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == LOYAL_OK)
		rc = ly_pg_error(s, sync, "reading statements' results");
	PQclear(sync);
	if (rc != LOYAL_OK && PQstatus(conn) == CONNECTION_BAD)
		pq(s)->pipeline = false; /* the connection is gone, and its pipeline with it */
	return rc;
}

/* Runs or sends the prepared statement `sql`: without a pipeline, waits and returns its result
 * in *out; in one, sends it (and its preparation when it needs one) and, when out is not NULL,
 * reads everything sent so far. */
static int run_statement(store *s, const char *sql, const pg_args *a, const char *doing,
			 PGresult **out, const char *missing)
{
	int count = a ? a->count : 0;
	if (out)
		*out = NULL;
	if (a && a->no_memory)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory %s", doing);
	if (count > PG_MAX_ARGS)
		return ly_fail(s->error, LOYAL_EINTERNAL, "storage: %s: too many parameters", doing);
	int rc = connected(s, doing);
	if (rc != LOYAL_OK)
		return rc;
	int slot = statement_slot(s, sql);
	if (slot < 0)
		return ly_fail(s->error, LOYAL_EINTERNAL, "storage: %s: too many statements", doing);
	char name[16];
	snprintf(name, sizeof name, "ly%d", slot);
	PGconn *conn = pq(s)->conn;
	pg_statement *st = &pq(s)->statements[slot];
	const char *const *values = a ? a->values : NULL;
	const int *lengths = a && a->binary ? a->lengths : NULL;
	const int *formats = a && a->binary ? a->formats : NULL;
	if (pq(s)->pipeline) {
		if (pq(s)->pending_count + 2 > PG_PENDING && (rc = pipeline_read(s)) != LOYAL_OK)
			return rc;
		if (!st->prepared) {
			if (!PQsendPrepare(conn, name, sql, count, NULL))
				return ly_pg_error(s, NULL, doing);
			st->prepared = true;
			pipeline_push(s, doing, slot, NULL, NULL);
		}
		if (!PQsendQueryPrepared(conn, name, count, values, lengths, formats, 0))
			return ly_pg_error(s, NULL, doing);
		pipeline_push(s, doing, -1, out, missing);
		return out ? pipeline_read(s) : LOYAL_OK;
	}
	if (!st->prepared) {
		PGresult *prepared = PQprepare(conn, name, sql, count, NULL);
		rc = PQresultStatus(prepared) == PGRES_COMMAND_OK ? LOYAL_OK
								   : ly_pg_error(s, prepared, doing);
		PQclear(prepared);
		if (rc != LOYAL_OK)
			return rc;
		st->prepared = true;
	}
	PGresult *r = PQexecPrepared(conn, name, count, values, lengths, formats, 0);
	ExecStatusType status = PQresultStatus(r);
	if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
		rc = ly_pg_error(s, r, doing);
	else if (missing && rows_of(r) != 1)
		rc = ly_fail(s->error, LOYAL_ECORRUPT, "%s", missing);
	if (rc == LOYAL_OK && out)
		*out = r;
	else
		PQclear(r);
	return rc;
}

PGresult *ly_pg_query(store *s, const char *sql, const pg_args *a, const char *doing)
{
	PGresult *r = NULL;
	int rc = run_statement(s, sql, a, doing, &r, NULL);
	if (rc != LOYAL_OK) {
		PQclear(r);
		return NULL;
	}
	return r;
}

int ly_pg_exec(store *s, const char *sql, const pg_args *a, const char *doing)
{
	return run_statement(s, sql, a, doing, NULL, NULL);
}

int ly_pg_exec_one(store *s, const char *sql, const pg_args *a, const char *doing,
		   const char *missing)
{
	return run_statement(s, sql, a, doing, NULL, missing);
}

/* Runs one statement without parameters, unprepared (transaction control, the schema): in a
 * pipeline, sent without waiting unless `wait`. */
static int run_simple(store *s, const char *sql, const char *doing, bool wait, PGresult **out)
{
	int rc = connected(s, doing);
	if (rc != LOYAL_OK)
		return rc;
	if (pq(s)->pipeline) {
		if (pq(s)->pending_count + 1 > PG_PENDING && (rc = pipeline_read(s)) != LOYAL_OK)
			return rc;
		if (!PQsendQueryParams(pq(s)->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
			return ly_pg_error(s, NULL, doing);
		pipeline_push(s, doing, -1, out, NULL);
		return wait ? pipeline_read(s) : LOYAL_OK;
	}
	PGresult *r = PQexec(pq(s)->conn, sql);
	ExecStatusType status = PQresultStatus(r);
	rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? LOYAL_OK
								     : ly_pg_error(s, r, doing);
	if (rc == LOYAL_OK && out)
		*out = r;
	else
		PQclear(r);
	return rc;
}

int ly_pg_simple(store *s, const char *sql, const char *doing)
{
	return run_simple(s, sql, doing, false, NULL);
}

/* ---- results ---- */

int64_t ly_pg_get_int(const PGresult *r, int row, int column)
{
	return PQgetisnull(r, row, column) ? 0 : strtoll(PQgetvalue(r, row, column), NULL, 10);
}

double ly_pg_get_double(const PGresult *r, int row, int column)
{
	return PQgetisnull(r, row, column) ? 0 : strtod(PQgetvalue(r, row, column), NULL);
}

bool ly_pg_is_null(const PGresult *r, int row, int column)
{
	return PQgetisnull(r, row, column);
}

int ly_pg_get_text(store *s, const PGresult *r, int row, int column, char **out)
{
	*out = NULL;
	if (PQgetisnull(r, row, column))
		return LOYAL_OK;
	*out = ly_mem_strdup(PQgetvalue(r, row, column));
	return *out ? LOYAL_OK : ly_fail(s->error, LOYAL_ENOMEM, "out of memory copying a text column");
}

int ly_pg_get_bytes(store *s, const PGresult *r, int row, int column, void **out, size_t *size)
{
	*out = NULL;
	*size = 0;
	size_t length = 0;
	unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, column),
					       &length);
	if (bytes && (*out = ly_mem_alloc(length)) != NULL) {
		memcpy(*out, bytes, length);
		*size = length;
	}
	PQfreemem(bytes);
	return *out ? LOYAL_OK : ly_fail(s->error, LOYAL_ENOMEM, "out of memory copying a bytea column");
}

void ly_pg_copy(const PGresult *r, int row, int column, char *out, size_t size)
{
	snprintf(out, size, "%s", PQgetisnull(r, row, column) ? "" : PQgetvalue(r, row, column));
}

store_total ly_pg_get_total(const PGresult *r, int row, int column)
{
	const char *text = PQgetisnull(r, row, column) ? "0" : PQgetvalue(r, row, column);
	bool negative = *text == '-';
	store_total total = 0;
	for (const char *c = text + negative; *c >= '0' && *c <= '9'; c++)
		total = total * 10 + (*c - '0');
	return negative ? -total : total;
}

int ly_pg_collect_ints(store *s, const PGresult *r, int columns, int64_t **out, size_t *count)
{
	int rows = PQntuples(r);
	*count = 0;
	*out = NULL;
	if (!rows)
		return LOYAL_OK;
	*out = ly_mem_alloc((size_t)rows * (size_t)columns * sizeof **out);
	if (!*out)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory loading rows");
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < columns; c++)
			(*out)[(*count)++] = ly_pg_get_int(r, i, c);
	return LOYAL_OK;
}

void ly_pg_member_row(const PGresult *r, int row, int first, member_row *out)
{
	*out = (member_row){.id = ly_pg_get_int(r, row, first),
			    .joined_at = ly_pg_get_int(r, row, first + 1),
			    .status = ly_pg_get_int(r, row, first + 2),
			    .last_active_at = ly_pg_get_int(r, row, first + 3),
			    .last_txn = ly_pg_get_int(r, row, first + 4),
			    .last_hash = ly_pg_get_int(r, row, first + 5)};
	ly_pg_copy(r, row, first + 6, out->timezone, sizeof out->timezone);
	ly_pg_copy(r, row, first + 7, out->tier, sizeof out->tier);
	out->stored.status = out->status;
	out->stored.last_active_at = out->last_active_at;
	out->stored.last_txn = out->last_txn;
	out->stored.last_hash = out->last_hash;
}

/* ---- the members a write transaction locked ---- */

int64_t ly_pg_locked(store *s, uint64_t key)
{
	size_t capacity = pq(s)->lock_capacity;
	for (size_t i = key % (capacity ? capacity : 1), n = 0; n < capacity; n++, i = (i + 1) % capacity) {
		if (pq(s)->locks[i].key == key)
			return pq(s)->locks[i].member;
		if (!pq(s)->locks[i].key)
			break;
	}
	return 0;
}

static void lock_put(struct pg_lock *locks, size_t capacity, uint64_t key, int64_t member)
{
	size_t i = key % capacity;
	while (locks[i].key && locks[i].key != key)
		i = (i + 1) % capacity;
	locks[i] = (struct pg_lock){key, member};
}

int ly_pg_lock_remember(store *s, uint64_t key, int64_t member)
{
	pg_store *p = pq(s);
	if (2 * (p->lock_count + 1) > p->lock_capacity) { /* kept at most half full */
		size_t capacity = p->lock_capacity ? 2 * p->lock_capacity : 64;
		struct pg_lock *grown = ly_mem_calloc(capacity, sizeof *grown);
		if (!grown)
			return ly_fail(s->error, LOYAL_ENOMEM, "out of memory locking a member");
		for (size_t i = 0; i < p->lock_capacity; i++)
			if (p->locks[i].key)
				lock_put(grown, capacity, p->locks[i].key, p->locks[i].member);
		ly_mem_free(p->locks);
		p->locks = grown;
		p->lock_capacity = capacity;
	}
	if (!ly_pg_locked(s, key))
		p->lock_count++;
	lock_put(p->locks, p->lock_capacity, key, member);
	return LOYAL_OK;
}

void ly_pg_locks_forget(store *s)
{
	if (pq(s)->lock_count)
		memset(pq(s)->locks, 0, pq(s)->lock_capacity * sizeof *pq(s)->locks);
	pq(s)->lock_count = 0;
}

/* ---- opening ---- */

/* Creates or migrates the schema in one transaction, under an advisory lock that app servers
 * starting at once take in turn. */
static int prepare_schema(store *s, bool create, bool read_only)
{
	int rc = ly_pg_simple(s, read_only ? "BEGIN READ ONLY" : "BEGIN", "opening the database");
	if (rc != LOYAL_OK)
		return rc;
	if (!read_only)
		rc = ly_pg_simple(s, "SELECT pg_advisory_xact_lock(7731051238113)",
				  "waiting for another server migrating the database");
	PGresult *r = NULL;
	if (rc == LOYAL_OK)
		r = ly_pg_query(s, "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'loyal'),"
				   " to_regclass('loyal.meta') IS NOT NULL",
				NULL, "reading the schema");
	if (!r && rc == LOYAL_OK)
		rc = s->error->code;
	bool schema = r && ly_pg_get_int(r, 0, 0) > 0;
	bool meta = r && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	int64_t version = 0;
	if (rc == LOYAL_OK && schema && !meta)
		rc = ly_fail(s->error, LOYAL_ENOTADB,
			     "database on server '%s' has a schema 'loyal' that is not a loyal "
			     "database's",
			     pq(s)->server);
	if (rc == LOYAL_OK && !schema && !create)
		rc = ly_fail(s->error, LOYAL_ENOTADB,
			     "database on server '%s' has no loyal schema (open with "
			     "LOYAL_OPEN_CREATE to initialize it)",
			     pq(s)->server);
	if (rc == LOYAL_OK && !schema && read_only)
		rc = ly_fail(s->error, LOYAL_EREADONLY, "database on server '%s' is empty",
			     pq(s)->server);
	if (rc == LOYAL_OK && !schema)
		rc = ly_pg_simple(s, "CREATE SCHEMA loyal", "creating the schema");
	if (rc == LOYAL_OK && schema) {
		r = ly_pg_query(s, "SELECT value FROM loyal.meta WHERE key = 'schema_version'", NULL,
				"reading the schema version");
		if (!r)
			rc = s->error->code;
		else if (PQntuples(r) != 1)
			rc = ly_fail(s->error, LOYAL_ENOTADB,
				     "database on server '%s' has no loyal schema version",
				     pq(s)->server);
		else
			version = ly_pg_get_int(r, 0, 0);
		PQclear(r);
	}
	if (rc == LOYAL_OK && version > PG_SCHEMA_VERSION)
		rc = ly_fail(s->error, LOYAL_EVERSION,
			     "database on server '%s' has schema version %" PRId64
			     ", newer than this library's %d",
			     pq(s)->server, version, PG_SCHEMA_VERSION);
	if (rc == LOYAL_OK && version < PG_SCHEMA_VERSION && read_only)
		rc = ly_fail(s->error, LOYAL_EVERSION,
			     "database on server '%s' has schema version %" PRId64
			     " and must be migrated to %d: open it once without LOYAL_OPEN_READONLY",
			     pq(s)->server, version, PG_SCHEMA_VERSION);
	for (int64_t v = version; rc == LOYAL_OK && v < PG_SCHEMA_VERSION; v++)
		for (const char *const *part = migrations[v]; rc == LOYAL_OK && *part; part++)
			rc = ly_pg_simple(s, *part, "migrating the schema");
	if (rc == LOYAL_OK && version < PG_SCHEMA_VERSION) {
		pg_args a = {0};
		ly_pg_int(&a, PG_SCHEMA_VERSION);
		rc = ly_pg_exec(s, "INSERT INTO meta VALUES('schema_version', $1)"
				   " ON CONFLICT(key) DO UPDATE SET value = $1",
				&a, "recording the schema version");
	}
	if (rc == LOYAL_OK)
		rc = ly_pg_simple(s, "COMMIT", "committing the schema");
	else
		PQclear(PQexec(pq(s)->conn, "ROLLBACK"));
	return rc;
}

int ly_pg_open(ly_error *error, const char *conninfo, const store_settings *settings,
	       store **out)
{
	pg_store *p = ly_mem_calloc(1, sizeof *p);
	store *s = p ? &p->base : NULL;
	*out = s;
	if (!s)
		return ly_fail(error, LOYAL_ENOMEM, "out of memory opening a PostgreSQL database");
	s->ops = &ly_pg_ops;
	s->error = error;
	p->flags = settings->flags;
	pthread_mutex_init(&p->cancel_lock, NULL);
	p->conn = PQconnectdb(conninfo);
	if (!p->conn)
		return ly_fail(error, LOYAL_ENOMEM, "out of memory connecting to PostgreSQL");
	const char *host = PQhost(p->conn), *port = PQport(p->conn), *db = PQdb(p->conn);
	snprintf(p->server, sizeof p->server, "%s:%s/%s", host && *host ? host : "localhost",
		 port && *port ? port : "5432", db ? db : "?");
	if (PQstatus(p->conn) != CONNECTION_OK)
		return ly_pg_error(s, NULL, "connecting");
	renew_cancel(s);
	bool read_only = settings->flags & LOYAL_OPEN_READONLY;
	char setup[200];
	snprintf(setup, sizeof setup,
		 "SET search_path TO loyal; SET lock_timeout = %d; SET synchronous_commit = on%s",
		 settings->busy_timeout_ms > 0 ? settings->busy_timeout_ms : 1, read_only ? "; SET default_transaction_read_only = on" : "");
	int rc = ly_pg_simple(s, setup, "configuring the connection");
	if (rc == LOYAL_OK)
		rc = prepare_schema(s, settings->flags & LOYAL_OPEN_CREATE, read_only);
	return rc;
}

int ly_pg_close(store *s)
{
	if (!s)
		return LOYAL_OK;
	PQfinish(pq(s)->conn);
	PQfreeCancel(pq(s)->cancel);
	pthread_mutex_destroy(&pq(s)->cancel_lock);
	ly_mem_free(pq(s)->locks);
	json_decref(pq(s)->happenings);
	ly_mem_free(pq(s));
	return LOYAL_OK;
}

/* ---- transactions ---- */

static void rollback_transaction(store *s);

/* Ends pipeline mode once every result is read (those not read yet are dropped). */
static void leave_pipeline(store *s)
{
	if (!pq(s)->pipeline)
		return;
	int code = s->error->code;
	char message[sizeof s->error->message];
	memcpy(message, s->error->message, sizeof message);
	pipeline_read(s);
	s->error->code = code;
	memcpy(s->error->message, message, sizeof message);
	/* A connection whose pipeline holds results that could not be read (a server that ended
	 * the session mid-round-trip) is opened again by the next call. */
	if (PQstatus(pq(s)->conn) == CONNECTION_OK && !PQexitPipelineMode(pq(s)->conn))
		pq(s)->lost = true;
	pq(s)->pipeline = false;
	pq(s)->pending_count = 0;
}

static int begin_transaction(store *s, const char *sql, const char *doing)
{
	int rc = ly_pg_simple(s, sql, doing);
	if (rc == LOYAL_OK)
		pq(s)->in_txn = true;
	return rc;
}

static int begin_write(store *s)
{
	if (pq(s)->flags & LOYAL_OPEN_READONLY)
		return ly_fail(s->error, LOYAL_EREADONLY, "the database was opened read-only");
	int rc = refuse_if_damaged(s);
	if (rc == LOYAL_OK)
		rc = connected(s, "starting a write transaction");
	if (rc == LOYAL_OK && !PQenterPipelineMode(pq(s)->conn))
		rc = ly_pg_error(s, NULL, "starting a write transaction");
	pq(s)->pipeline = rc == LOYAL_OK;
	/* BEGIN goes out with the transaction's first statement that waits. */
	if (rc == LOYAL_OK)
		rc = begin_transaction(s, "BEGIN", "starting a write transaction");
	if (rc != LOYAL_OK)
		leave_pipeline(s);
	pq(s)->writing = rc == LOYAL_OK;
	return rc;
}

static void end_transaction(store *s)
{
	pq(s)->in_txn = pq(s)->writing = pq(s)->txn_failed = false;
	pq(s)->program_version_known = false;
	ly_pg_locks_forget(s);
	ly_pg_outbox_forget(s);
	pq(s)->reserved_count = 0;
}

static int commit_transaction(store *s)
{
	/* A transaction one of whose statements failed is rolled back, not committed. */
	if (pq(s)->txn_failed) {
		rollback_transaction(s);
		return ly_fail(s->error, LOYAL_EINTERNAL,
			       "storage: committing: a statement of the transaction failed, so "
			       "nothing of it was written (server '%s')",
			       pq(s)->server);
	}
	PGresult *r = NULL;
	int rc = ly_pg_outbox_flush(s);
	if (rc == LOYAL_OK)
		rc = run_simple(s, "COMMIT", "committing", true, &r);
	if (rc == LOYAL_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = ly_fail(s->error, LOYAL_EINTERNAL,
			     "storage: committing: the server rolled the transaction back (%s)",
			     PQcmdStatus(r));
	PQclear(r);
	leave_pipeline(s);
	bool lost = PQstatus(pq(s)->conn) == CONNECTION_BAD;
	if (rc != LOYAL_OK && !lost)
		PQclear(PQexec(pq(s)->conn, "ROLLBACK"));
	end_transaction(s);
	if (rc != LOYAL_OK && lost)
		return ly_fail(s->error, LOYAL_EIO,
			       "storage: committing: the connection to server '%s' was lost: the "
			       "commit may or may not have happened (a retry with the same "
			       "idempotency key is safe)",
			       pq(s)->server);
	return rc;
}

static void rollback_transaction(store *s)
{
	leave_pipeline(s);
	if (pq(s)->in_txn && PQstatus(pq(s)->conn) == CONNECTION_OK)
		PQclear(PQexec(pq(s)->conn, "ROLLBACK"));
	end_transaction(s);
}

/* Undoes and closes a savepoint (`undo` then `release`), keeping the handle's error: the one
 * that caused the undo. What was sent before is read first: a failure there is the one being
 * undone, or (before the savepoint) one the undo cannot mend, which fails the commit. */
static void undo_savepoint(store *s, const char *undo, const char *release)
{
	pq(s)->reserved_count = 0;
	ly_pg_locks_forget(s);
	int code = s->error->code;
	char message[sizeof s->error->message];
	memcpy(message, s->error->message, sizeof message);
	if (pq(s)->pipeline)
		pipeline_read(s);
	if (PQstatus(pq(s)->conn) == CONNECTION_OK &&
	    run_simple(s, undo, "undoing a savepoint", true, NULL) == LOYAL_OK) {
		pq(s)->txn_failed = false; /* the transaction is usable again */
		run_simple(s, release, "releasing a savepoint", false, NULL);
	}
	s->error->code = code;
	memcpy(s->error->message, message, sizeof message);
}

int ly_pg_cache_size(store *s, int64_t bytes)
{
	(void)s; /* the server keeps the pages: nothing to size here */
	(void)bytes;
	return LOYAL_OK;
}

int ly_pg_begin(store *s)
{
	int rc = refuse_if_damaged(s);
	if (rc != LOYAL_OK)
		return rc;
	if (pq(s)->batch) {
		ly_pg_outbox_mark(s);
		return ly_pg_simple(s, "SAVEPOINT call", "opening a savepoint");
	}
	return begin_write(s);
}

int ly_pg_commit(store *s)
{
	if (pq(s)->batch) {
		ly_pg_outbox_unmark(s, false);
		return ly_pg_simple(s, "RELEASE call", "releasing a savepoint");
	}
	return commit_transaction(s);
}

void ly_pg_rollback(store *s)
{
	if (pq(s)->batch) {
		ly_pg_outbox_unmark(s, true);
		undo_savepoint(s, "ROLLBACK TO call", "RELEASE call");
	} else
		rollback_transaction(s);
}

int ly_pg_savepoint(store *s)
{
	ly_pg_outbox_mark(s);
	return ly_pg_simple(s, "SAVEPOINT op", "opening a savepoint");
}

int ly_pg_savepoint_release(store *s)
{
	ly_pg_outbox_unmark(s, false);
	return ly_pg_simple(s, "RELEASE op", "releasing a savepoint");
}

void ly_pg_savepoint_rollback(store *s)
{
	ly_pg_outbox_unmark(s, true);
	undo_savepoint(s, "ROLLBACK TO op", "RELEASE op");
}

int ly_pg_batch_begin(store *s)
{
	if (pq(s)->batch)
		return ly_fail(s->error, LOYAL_ESTATE, "a batch is already open on this handle");
	int rc = begin_write(s);
	pq(s)->batch = rc == LOYAL_OK;
	return rc;
}

int ly_pg_batch_commit(store *s)
{
	if (!pq(s)->batch)
		return ly_fail(s->error, LOYAL_ESTATE, "no batch is open on this handle");
	pq(s)->batch = false;
	return commit_transaction(s);
}

void ly_pg_batch_rollback(store *s)
{
	pq(s)->batch = false;
	rollback_transaction(s);
}

bool ly_pg_in_batch(store *s)
{
	return pq(s)->batch;
}

int ly_pg_read_begin(store *s)
{
	if (pq(s)->in_txn)
		return LOYAL_OK;
	int rc = begin_transaction(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
				   "starting a read");
	pq(s)->reading = rc == LOYAL_OK;
	return rc;
}

void ly_pg_read_end(store *s)
{
	if (!pq(s)->reading)
		return;
	pq(s)->reading = false;
	rollback_transaction(s); /* keeps the handle's error */
}

int ly_pg_check_structure(store *s)
{
	/* The server keeps its own storage whole; what is checked here is that the schema is
	 * this library's, at its version. */
	PGresult *r = ly_pg_query(s, "SELECT value FROM meta WHERE key = 'schema_version'", NULL,
				  "checking the schema");
	if (!r)
		return s->error->code;
	int rc = PQntuples(r) == 1 && ly_pg_get_int(r, 0, 0) == PG_SCHEMA_VERSION
			 ? LOYAL_OK
			 : ly_fail(s->error, LOYAL_ECORRUPT,
				   "database on server '%s' lost its schema version", pq(s)->server);
	PQclear(r);
	return rc;
}
