/* ledger.c - the PostgreSQL backend's program, member, balance, lot, transaction, hold and
 * idempotency records. */
#include "store/postgres/postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- program ---- */

int ly_pg_program_version(store *s, int64_t *out)
{
	if (pq(s)->writing && pq(s)->program_version_known) {
		*out = pq(s)->program_version;
		return LOYAL_OK;
	}
	PGresult *r = ly_pg_query(s, "SELECT coalesce(max(version), 0) FROM program_versions", NULL,
				  "reading the program version");
	if (!r)
		return s->error->code;
	*out = pq(s)->program_version = ly_pg_get_int(r, 0, 0);
	pq(s)->program_version_known = pq(s)->writing;
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_program_get(store *s, char **document, int64_t *version)
{
	*document = NULL;
	*version = 0;
	PGresult *r = ly_pg_query(s, "SELECT version, document FROM program_versions"
				     " ORDER BY version DESC LIMIT 1",
				  NULL, "reading the program");
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	if (PQntuples(r) == 1) {
		*version = ly_pg_get_int(r, 0, 0);
		rc = ly_pg_get_text(s, r, 0, 1, document);
	}
	PQclear(r);
	return rc;
}

int ly_pg_program_put(store *s, const char *document, int64_t at, int64_t *version)
{
	pg_args a = {0};
	ly_pg_int(&a, at);
	ly_pg_text(&a, document);
	pq(s)->program_version_known = false;
	PGresult *r = ly_pg_query(s, "INSERT INTO program_versions(applied_at, document)"
				     " VALUES($1, $2) RETURNING version",
				  &a, "saving the program");
	if (!r)
		return s->error->code;
	*version = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_rule_version(store *s, const char *name, int64_t *version, char **definition)
{
	*version = 0;
	if (definition)
		*definition = NULL;
	pg_args a = {0};
	ly_pg_text(&a, name);
	PGresult *r = ly_pg_query(s, "SELECT version, definition FROM rules WHERE name = $1", &a,
				  "reading a rule");
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	if (PQntuples(r) == 1) {
		*version = ly_pg_get_int(r, 0, 0);
		if (definition)
			rc = ly_pg_get_text(s, r, 0, 1, definition);
	}
	PQclear(r);
	return rc;
}

int ly_pg_rule_put(store *s, const char *name, int64_t version, const char *definition)
{
	pg_args a = {0};
	ly_pg_text(&a, name);
	ly_pg_int(&a, version);
	ly_pg_text(&a, definition);
	return ly_pg_exec(s, "INSERT INTO rules(name, version, definition) VALUES($1, $2, $3)"
			     " ON CONFLICT(name) DO UPDATE SET version = $2, definition = $3",
			  &a, "saving a rule");
}

int ly_pg_currency_id(store *s, const char *name, bool create, int64_t *id)
{
	pg_args a = {0};
	ly_pg_text(&a, name);
	/* Two servers defining one currency at once: the second finds the first's. */
	PGresult *r = create ? ly_pg_query(s, "WITH made AS (INSERT INTO currencies(name) VALUES($1)"
					      " ON CONFLICT(name) DO NOTHING RETURNING id)"
					      " SELECT id FROM made UNION ALL"
					      " SELECT id FROM currencies WHERE name = $1",
					   &a, "defining a currency")
			     : ly_pg_query(s, "SELECT id FROM currencies WHERE name = $1", &a,
					   "finding a currency");
	if (!r)
		return s->error->code;
	int rc = PQntuples(r) >= 1 ? LOYAL_OK
				   : ly_fail(s->error, create ? LOYAL_EBUSY : LOYAL_ENOTFOUND,
					     create ? "currency '%s' is being defined by another "
						      "connection: try again"
						    : "no currency named '%s'",
					     name);
	if (rc == LOYAL_OK)
		*id = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return rc;
}

/* ---- members ---- */

/* Reads the member a statement found (PG_MEMBER_COLUMNS first). */
static int found_member(store *s, PGresult *r, member_row *out, bool *found)
{
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found)
		ly_pg_member_row(r, 0, 0, out);
	PQclear(r);
	return LOYAL_OK;
}

/* The key a member's lock is remembered by (never 0). */
static uint64_t lock_key(const char *external_id)
{
	return XXH3_64bits(external_id, strlen(external_id)) | 1;
}

int ly_pg_member_find(store *s, const char *external_id, member_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_text(&a, external_id);
	uint64_t key = lock_key(external_id);
	int64_t locked = pq(s)->writing ? ly_pg_locked(s, key) : 0;
	/* A write locks the member's row: writes of one member run one after the other. A
	 * member this transaction locked already is read without locking again. */
	if (locked) {
		int rc = found_member(s, ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS " FROM members"
						      " WHERE id = (SELECT member_id FROM"
						      " member_keys WHERE external_id = $1)",
						   &a, "finding a member"),
				      out, found);
		if (rc != LOYAL_OK || (*found && out->id == locked))
			return rc;
	}
	PGresult *r = pq(s)->writing
			      ? ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS " FROM members WHERE id ="
					       " (SELECT member_id FROM member_keys WHERE"
					       " external_id = $1) FOR UPDATE",
					    &a, "finding a member")
			      : ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS " FROM members WHERE id ="
					       " (SELECT member_id FROM member_keys WHERE"
					       " external_id = $1)",
					    &a, "finding a member");
	int rc = found_member(s, r, out, found);
	if (rc == LOYAL_OK && *found && pq(s)->writing)
		rc = ly_pg_lock_remember(s, key, out->id);
	return rc;
}

int ly_pg_member_get(store *s, int64_t id, member_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, id);
	/* A write by id (a sweep's) locks the row as a find does, remembered apart from finds. */
	uint64_t key = XXH3_64bits_withSeed(&id, sizeof id, 1) | 1;
	bool lock = pq(s)->writing && ly_pg_locked(s, key) != id;
	PGresult *r = lock ? ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS " FROM members WHERE id = $1"
					    " FOR UPDATE",
					 &a, "reading a member")
			   : ly_pg_query(s, "SELECT " PG_MEMBER_COLUMNS " FROM members WHERE id = $1",
					 &a, "reading a member");
	int rc = found_member(s, r, out, found);
	if (rc == LOYAL_OK && *found && lock)
		rc = ly_pg_lock_remember(s, key, id);
	return rc;
}

int ly_pg_member_insert(store *s, const char *external_id, int64_t at, member_row *out)
{
	pg_args a = {0};
	ly_pg_text(&a, external_id);
	ly_pg_int(&a, at);
	/* Another connection creating the same member at once makes this insert wait for it and
	 * then do nothing: the member it made is found and locked instead. */
	PGresult *r = ly_pg_query(s, "WITH k AS (INSERT INTO member_keys(external_id, member_id)"
				     " VALUES($1, nextval('member_ids')) ON CONFLICT DO NOTHING"
				     " RETURNING member_id) INSERT INTO members(id, external_id,"
				     " joined_at, last_active_at) SELECT member_id, $1, $2, $2 FROM k"
				     " RETURNING " PG_MEMBER_COLUMNS,
				  &a, "creating a member");
	bool found = false;
	int rc = found_member(s, r, out, &found);
	if (rc == LOYAL_OK && found) /* no other transaction sees the row before this commits */
		rc = ly_pg_lock_remember(s, lock_key(external_id), out->id);
	if (rc == LOYAL_OK && !found) {
		rc = ly_pg_member_find(s, external_id, out, &found);
		if (rc == LOYAL_OK && !found)
			rc = ly_fail(s->error, LOYAL_ECORRUPT,
				     "member '%s' has an id but no row", external_id);
	}
	return rc;
}

/* What a write of a missing member's row says, for the statement that must find it. */
static void missing_member(char *out, size_t size, const member_row *member, const char *what)
{
	snprintf(out, size, "member #%lld is missing: %s cannot be saved", (long long)member->id,
		 what);
}

/* After a write of the member's row: it is what the database has now. */
static void member_saved(member_row *member)
{
	member->stored.status = member->status;
	member->stored.last_active_at = member->last_active_at;
	member->stored.last_txn = member->last_txn;
	member->stored.last_hash = member->last_hash;
}

static void member_state_args(pg_args *a, const member_row *member)
{
	ly_pg_int(a, member->status);
	ly_pg_int(a, member->last_active_at);
	ly_pg_int(a, member->last_txn);
	ly_pg_int(a, member->last_hash);
}

int ly_pg_member_update(store *s, member_row *member)
{
	if (member->status == member->stored.status &&
	    member->last_active_at == member->stored.last_active_at &&
	    member->last_txn == member->stored.last_txn &&
	    member->last_hash == member->stored.last_hash)
		return LOYAL_OK;
	pg_args a = {0};
	ly_pg_int(&a, member->id);
	member_state_args(&a, member);
	char missing[128];
	missing_member(missing, sizeof missing, member, "their row");
	int rc = ly_pg_exec_one(s, "UPDATE members SET status = $2, last_active_at = $3,"
				   " last_txn = $4, last_hash = $5 WHERE id = $1",
				&a, "updating a member", missing);
	if (rc == LOYAL_OK)
		member_saved(member);
	return rc;
}

/* Reads one text column of the member's row. */
static int member_text(store *s, const char *sql, int64_t member, char **out, const char *doing)
{
	*out = NULL;
	pg_args a = {0};
	ly_pg_int(&a, member);
	PGresult *r = ly_pg_query(s, sql, &a, doing);
	if (!r)
		return s->error->code;
	int rc = PQntuples(r) == 1 ? ly_pg_get_text(s, r, 0, 0, out)
				   : ly_fail(s->error, LOYAL_EINTERNAL, "member #%lld vanished",
					     (long long)member);
	PQclear(r);
	return rc;
}

int ly_pg_member_attrs_get(store *s, int64_t member, char **attrs_json)
{
	return member_text(s, "SELECT attrs FROM members WHERE id = $1", member, attrs_json,
			   "reading member attributes");
}

int ly_pg_member_external_id(store *s, int64_t member, char **external_id)
{
	return member_text(s, "SELECT external_id FROM members WHERE id = $1", member, external_id,
			   "reading a member id");
}

int ly_pg_member_attrs_put(store *s, int64_t member, const char *attrs_json,
			   const char *timezone)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, attrs_json);
	ly_pg_text(&a, timezone ? timezone : "");
	return ly_pg_exec(s, "UPDATE members SET attrs = $2, timezone = $3 WHERE id = $1", &a,
			  "saving member attributes");
}

/* ---- balances ---- */

int ly_pg_balance_get(store *s, const member_row *member, int64_t currency, balance_row *out)
{
	*out = (balance_row){.member = member->id, .currency = currency, .due_at = INT64_MAX};
	pg_args a = {0};
	ly_pg_int(&a, member->id);
	ly_pg_int(&a, currency);
	PGresult *r = ly_pg_query(s, "SELECT available, pending, held, earned, spent, expired,"
				     " due_at FROM balances WHERE member_id = $1 AND currency = $2",
				  &a, "reading a balance");
	if (!r)
		return s->error->code;
	if (PQntuples(r) == 1) {
		out->available = ly_pg_get_int(r, 0, 0);
		out->pending = ly_pg_get_int(r, 0, 1);
		out->held = ly_pg_get_int(r, 0, 2);
		out->earned = ly_pg_get_int(r, 0, 3);
		out->spent = ly_pg_get_int(r, 0, 4);
		out->expired = ly_pg_get_int(r, 0, 5);
		out->due_at = ly_pg_get_int(r, 0, 6);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_balance_put(store *s, member_row *member, const balance_row *balance,
		      bool due_changed, const lot_row *lots, size_t lot_count)
{
	(void)due_changed; /* the balance's row is written whole */
	pg_args a = {0};
	ly_pg_int(&a, member->id);
	ly_pg_int(&a, balance->currency);
	ly_pg_int(&a, balance->available);
	ly_pg_int(&a, balance->pending);
	ly_pg_int(&a, balance->held);
	ly_pg_int(&a, balance->earned);
	ly_pg_int(&a, balance->spent);
	ly_pg_int(&a, balance->expired);
	ly_pg_int(&a, balance->due_at);
	member_state_args(&a, member);
	static const lot_row none;
	const lot_row *changed_lots = lot_count ? lots : &none;
	char *ids = ly_pg_array(&a, &changed_lots->id, lot_count, sizeof *lots);
	char *left = ly_pg_array(&a, &changed_lots->remaining, lot_count, sizeof *lots);
	char *pending = ly_pg_array(&a, &changed_lots->pending_until, lot_count, sizeof *lots);
	/* The member's row, the balance and the lots' points left, in one statement that
	 * writes nothing when the member is missing. */
	char missing[128];
	missing_member(missing, sizeof missing, member, "their balance");
	int rc = ly_pg_exec_one(
		s,
		"WITH m AS (UPDATE members SET status = $10, last_active_at = $11, last_txn = $12,"
		" last_hash = $13 WHERE id = $1 RETURNING id),"
		" b AS (INSERT INTO balances(member_id, currency, available, pending, held,"
		" earned, spent, expired, due_at) SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM m"
		" ON CONFLICT(member_id, currency) DO UPDATE SET available = $3, pending = $4,"
		" held = $5, earned = $6, spent = $7, expired = $8, due_at = $9),"
		" l AS (UPDATE lots SET remaining = v.remaining, pending_until = v.pending FROM m,"
		" unnest($14::bigint[], $15::bigint[], $16::bigint[]) AS v(id, remaining, pending)"
		" WHERE lots.member_id = m.id AND lots.id = v.id)"
		" SELECT 1 FROM m",
		&a, "saving a balance", missing);
	ly_mem_free(ids);
	ly_mem_free(left);
	ly_mem_free(pending);
	if (rc == LOYAL_OK)
		member_saved(member);
	return rc;
}

/* ---- lots ---- */

int ly_pg_lots_open(store *s, int64_t member, int64_t currency, int64_t through, lot_vec *out)
{
	out->count = 0;
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, through);
	PGresult *r = ly_pg_query(s, "SELECT id, remaining, expires_at, pending_until FROM lots"
				     " WHERE member_id = $1 AND currency = $2 AND remaining > 0"
				     " AND expires_at <= $3 ORDER BY expires_at, id",
				  &a, "reading lots");
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	for (int i = 0; i < PQntuples(r) && rc == LOYAL_OK; i++) {
		lot_row *lot = VEC_PUSH(out);
		if (!lot)
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory loading rows");
		else
			*lot = (lot_row){.id = ly_pg_get_int(r, i, 0), .member = member,
					 .currency = currency, .remaining = ly_pg_get_int(r, i, 1),
					 .expires_at = ly_pg_get_int(r, i, 2),
					 .pending_until = ly_pg_get_int(r, i, 3)};
	}
	PQclear(r);
	return rc;
}

int ly_pg_next_expiry(store *s, int64_t member, int64_t currency, int64_t after, int64_t *at,
		      int64_t *amount, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, after);
	PGresult *r = ly_pg_query(s, "SELECT expires_at, sum(remaining) FROM lots WHERE"
				     " member_id = $1 AND currency = $2 AND remaining > 0 AND"
				     " pending_until = 0 AND expires_at > $3 AND"
				     " expires_at < 9223372036854775807 GROUP BY expires_at"
				     " ORDER BY expires_at LIMIT 1",
				  &a, "reading lots");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		*at = ly_pg_get_int(r, 0, 0);
		*amount = ly_pg_get_int(r, 0, 1);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_holds_next_deadline(store *s, int64_t member, int64_t currency, int64_t *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, currency);
	PGresult *r = ly_pg_query(s, "SELECT coalesce(min(deadline), 9223372036854775807) FROM"
				     " holds WHERE member_id = $1 AND currency = $2 AND state = 0",
				  &a, "finding the next hold deadline");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_lot_get(store *s, int64_t member, int64_t id, lot_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, id);
	PGresult *r = ly_pg_query(s, "SELECT id, member_id, currency, txn, amount, remaining,"
				     " earned_at, expires_at, pending_until FROM lots"
				     " WHERE member_id = $1 AND id = $2",
				  &a, "reading a lot");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found)
		*out = (lot_row){.id = ly_pg_get_int(r, 0, 0), .member = ly_pg_get_int(r, 0, 1),
				 .currency = ly_pg_get_int(r, 0, 2), .txn = ly_pg_get_int(r, 0, 3),
				 .amount = ly_pg_get_int(r, 0, 4),
				 .remaining = ly_pg_get_int(r, 0, 5),
				 .earned_at = ly_pg_get_int(r, 0, 6),
				 .expires_at = ly_pg_get_int(r, 0, 7),
				 .pending_until = ly_pg_get_int(r, 0, 8)};
	PQclear(r);
	return LOYAL_OK;
}

/* ---- transactions, entries, moves ---- */

static int txn_get(store *s, int64_t member, int64_t id, txn_row *out, bool *found)
{
	*out = (txn_row){0};
	pg_args a = {0};
	ly_pg_int(&a, id);
	ly_pg_int(&a, member);
	PGresult *r = member ? ly_pg_query(s, "SELECT id, member_id, currency, kind, amount, at,"
					      " reverses, requested, counterpart, prev, hash, reason,"
					      " cause, event FROM txns WHERE member_id = $2 AND"
					      " id = $1",
					   &a, "reading a transaction")
			     : ly_pg_query(s, "SELECT id, member_id, currency, kind, amount, at,"
					      " reverses, requested, counterpart, prev, hash, reason,"
					      " cause, event FROM txns WHERE id = $1 AND $2 = 0",
					   &a, "reading a transaction");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	int rc = LOYAL_OK;
	if (*found) {
		out->id = ly_pg_get_int(r, 0, 0);
		out->member = ly_pg_get_int(r, 0, 1);
		out->currency = ly_pg_get_int(r, 0, 2);
		out->kind = ly_pg_get_int(r, 0, 3);
		out->amount = ly_pg_get_int(r, 0, 4);
		out->at = ly_pg_get_int(r, 0, 5);
		out->reverses = ly_pg_get_int(r, 0, 6);
		out->requested = ly_pg_get_int(r, 0, 7);
		out->counterpart = ly_pg_get_int(r, 0, 8);
		out->prev = ly_pg_get_int(r, 0, 9);
		out->hash = ly_pg_get_int(r, 0, 10);
		out->event = ly_pg_get_int(r, 0, 13);
		rc = ly_pg_get_text(s, r, 0, 11, &out->reason);
		if (rc == LOYAL_OK)
			rc = ly_pg_get_text(s, r, 0, 12, &out->cause);
	}
	PQclear(r);
	if (rc != LOYAL_OK)
		ly_txn_row_clear(out);
	return rc;
}

static int entries_of_txn(store *s, int64_t member, int64_t txn, entry_vec *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, txn);
	PGresult *r = ly_pg_query(s, "SELECT txn, seq, currency, debit_account, credit_account,"
				     " amount FROM entries WHERE member_id = $1 AND txn = $2"
				     " ORDER BY seq",
				  &a, "loading entries");
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	for (int i = 0; i < PQntuples(r) && rc == LOYAL_OK; i++) {
		entry_row *e = VEC_PUSH(out);
		if (!e)
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory loading rows");
		else
			*e = (entry_row){.txn = ly_pg_get_int(r, i, 0), .seq = ly_pg_get_int(r, i, 1),
					 .currency = ly_pg_get_int(r, i, 2),
					 .debit_account = ly_pg_get_int(r, i, 3),
					 .credit_account = ly_pg_get_int(r, i, 4),
					 .amount = ly_pg_get_int(r, i, 5)};
	}
	PQclear(r);
	return rc;
}

static int moves_of_txn(store *s, int64_t member, int64_t txn, move_vec *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, txn);
	PGresult *r = ly_pg_query(s, "SELECT txn, seq, lot, amount, kind FROM moves"
				     " WHERE member_id = $1 AND txn = $2 ORDER BY seq",
				  &a, "loading lot moves");
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	for (int i = 0; i < PQntuples(r) && rc == LOYAL_OK; i++) {
		move_row *m = VEC_PUSH(out);
		if (!m)
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory loading rows");
		else
			*m = (move_row){.txn = ly_pg_get_int(r, i, 0), .seq = ly_pg_get_int(r, i, 1),
					.lot = ly_pg_get_int(r, i, 2), .amount = ly_pg_get_int(r, i, 3),
					.kind = ly_pg_get_int(r, i, 4)};
	}
	PQclear(r);
	return rc;
}

int ly_pg_txn_read(store *s, int64_t member, int64_t id, txn_row *txn, entry_vec *entries,
		   move_vec *moves, bool *found)
{
	if (txn)
		*txn = (txn_row){0};
	txn_row row;
	int rc = txn_get(s, member, id, &row, found);
	if (rc == LOYAL_OK && *found && entries)
		rc = entries_of_txn(s, row.member, id, entries);
	if (rc == LOYAL_OK && *found && moves)
		rc = moves_of_txn(s, row.member, id, moves);
	if (txn && rc == LOYAL_OK)
		*txn = row;
	else
		ly_txn_row_clear(&row);
	return rc;
}

int ly_pg_txn_reserve(store *s, int count, int64_t *first)
{
	/* The sequence steps by 2: an id it hands out and the one after it are this call's. */
	if (count < 1 || count > 2)
		return ly_fail(s->error, LOYAL_EINTERNAL,
			       "storage: %d transaction ids cannot be reserved at once (1 or 2)",
			       count);
	PGresult *r = ly_pg_query(s, "SELECT nextval('txn_ids')", NULL,
				  "reserving transaction ids");
	if (!r)
		return s->error->code;
	*first = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	pq(s)->reserved_next = *first;
	pq(s)->reserved_count = count;
	return LOYAL_OK;
}

int ly_pg_reversed_total(store *s, int64_t member, int64_t txn, int64_t *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, txn);
	PGresult *r = ly_pg_query(s, "SELECT coalesce(sum(requested), 0) FROM txns WHERE"
				     " member_id = $1 AND reverses = $2 AND reverses <> 0 AND"
				     " requested > 0",
				  &a, "summing reversals");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

/* ---- holds ---- */

int ly_pg_hold_get(store *s, int64_t member, int64_t txn, hold_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, txn);
	PGresult *r = ly_pg_query(s, "SELECT txn, member_id, currency, amount, deadline, state,"
				     " captured, settled_by FROM holds WHERE member_id = $1 AND"
				     " txn = $2",
				  &a, "reading a hold");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found)
		*out = (hold_row){.txn = ly_pg_get_int(r, 0, 0), .member = ly_pg_get_int(r, 0, 1),
				  .currency = ly_pg_get_int(r, 0, 2), .amount = ly_pg_get_int(r, 0, 3),
				  .deadline = ly_pg_get_int(r, 0, 4), .state = ly_pg_get_int(r, 0, 5),
				  .captured = ly_pg_get_int(r, 0, 6),
				  .settled_by = ly_pg_get_int(r, 0, 7)};
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_holds_due(store *s, int64_t member, int64_t currency, int64_t at, int64_t **due,
		    size_t *count)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, at);
	PGresult *r = ly_pg_query(s, "SELECT txn, deadline FROM holds WHERE member_id = $1 AND"
				     " currency = $2 AND state = 0 AND deadline <= $3"
				     " ORDER BY deadline, txn",
				  &a, "finding overdue holds");
	if (!r)
		return s->error->code;
	int rc = ly_pg_collect_ints(s, r, 2, due, count);
	PQclear(r);
	return rc;
}

/* ---- posting ---- */

/* Reads a result's integer array ("{1,2}") into out[0..count), each `stride` bytes after the
 * one before; false when it holds another number of them. */
static bool read_ids(const char *text, int64_t *out, size_t count, size_t stride)
{
	size_t n = 0;
	for (const char *c = text && *text == '{' ? text + 1 : ""; *c && *c != '}'; n++) {
		char *end = NULL;
		int64_t value = strtoll(c, &end, 10);
		if (end == c || n >= count)
			return false;
		*(int64_t *)(void *)((char *)out + n * stride) = value;
		c = *end == ',' ? end + 1 : end;
	}
	return n == count;
}

/* The transaction, its entries, its new lots and its lot moves, in one statement: the lots'
 * ids come from their sequence inside it, and a move naming a new lot (lot < 0, its place
 * among them) gets that lot's id there. */
static const char POST_SQL[] =
	"WITH t AS (INSERT INTO txns(member_id, currency, kind, amount, at, reverses, requested,"
	" counterpart, prev, hash, reason, cause, event, id) VALUES($1, $2, $3, $4, $5, $6, $7,"
	" $8, $9, $10, $11, $12, $13, coalesce($14, nextval('txn_ids'))) RETURNING id),"
	" e AS (INSERT INTO entries(member_id, txn, seq, currency, debit_account, credit_account,"
	" amount) SELECT $1, t.id, v.n - 1, v.c, v.d, v.k, v.a FROM t, unnest($15::bigint[],"
	" $16::bigint[], $17::bigint[], $18::bigint[]) WITH ORDINALITY AS v(c, d, k, a, n)),"
	" nl AS MATERIALIZED (SELECT v.*, nextval('lot_ids') AS id FROM unnest($19::bigint[],"
	" $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[])"
	" WITH ORDINALITY AS v(c, a, r, e, x, p, n)),"
	" l AS (INSERT INTO lots(member_id, id, currency, txn, amount, remaining, earned_at,"
	" expires_at, pending_until) SELECT $1, nl.id, nl.c, t.id, nl.a, nl.r, nl.e, nl.x, nl.p"
	" FROM nl, t),"
	" mv AS (SELECT v.n, coalesce(nl.id, v.l) AS lot, v.a, v.k FROM unnest($25::bigint[],"
	" $26::bigint[], $27::bigint[]) WITH ORDINALITY AS v(l, a, k, n) LEFT JOIN nl"
	" ON v.l < 0 AND nl.n = -v.l),"
	" m AS (INSERT INTO moves(member_id, txn, seq, lot, amount, kind) SELECT $1, t.id,"
	" mv.n - 1, mv.lot, mv.a, mv.k FROM mv, t),"
	" act AS (UPDATE lots SET pending_until = 0 FROM mv WHERE lots.member_id = $1 AND"
	" lots.id = mv.lot AND mv.k = 6)"
	" SELECT t.id, (SELECT array_agg(id ORDER BY n) FROM nl) FROM t";

static int post_rows(store *s, const store_posting *p)
{
	static const entry_row no_entry;
	static const lot_row no_lot;
	static const move_row no_move;
	txn_row *txn = p->txn;
	for (size_t i = 0; i < p->move_count; i++) { /* a new lot activated at once */
		const move_row *move = &p->moves[i];
		size_t index = move->lot < 0 ? (size_t)(-move->lot - 1) : SIZE_MAX;
		if (move->kind == MOVE_ACTIVATE && index < p->new_lot_count)
			p->new_lots[index].pending_until = 0;
	}
	pg_args a = {0};
	ly_pg_int(&a, txn->member);
	ly_pg_int(&a, txn->currency);
	ly_pg_int(&a, txn->kind);
	ly_pg_int(&a, txn->amount);
	ly_pg_int(&a, txn->at);
	ly_pg_int(&a, txn->reverses);
	ly_pg_int(&a, txn->requested);
	ly_pg_int(&a, txn->counterpart);
	ly_pg_int(&a, txn->prev);
	ly_pg_int(&a, txn->hash);
	ly_pg_text(&a, txn->reason);
	ly_pg_text(&a, txn->cause);
	ly_pg_int(&a, txn->event);
	if (pq(s)->reserved_count > 0) { /* the next reserved id; otherwise the sequence's */
		ly_pg_int(&a, pq(s)->reserved_next++);
		pq(s)->reserved_count--;
	} else {
		ly_pg_text(&a, NULL);
	}
	const entry_row *e = p->entry_count ? p->entries : &no_entry;
	const lot_row *l = p->new_lot_count ? p->new_lots : &no_lot;
	const move_row *m = p->move_count ? p->moves : &no_move;
	char *arrays[13] = {
		ly_pg_array(&a, &e->currency, p->entry_count, sizeof *e),
		ly_pg_array(&a, &e->debit_account, p->entry_count, sizeof *e),
		ly_pg_array(&a, &e->credit_account, p->entry_count, sizeof *e),
		ly_pg_array(&a, &e->amount, p->entry_count, sizeof *e),
		ly_pg_array(&a, &l->currency, p->new_lot_count, sizeof *l),
		ly_pg_array(&a, &l->amount, p->new_lot_count, sizeof *l),
		ly_pg_array(&a, &l->remaining, p->new_lot_count, sizeof *l),
		ly_pg_array(&a, &l->earned_at, p->new_lot_count, sizeof *l),
		ly_pg_array(&a, &l->expires_at, p->new_lot_count, sizeof *l),
		ly_pg_array(&a, &l->pending_until, p->new_lot_count, sizeof *l),
		ly_pg_array(&a, &m->lot, p->move_count, sizeof *m),
		ly_pg_array(&a, &m->amount, p->move_count, sizeof *m),
		ly_pg_array(&a, &m->kind, p->move_count, sizeof *m),
	};
	PGresult *r = ly_pg_query(s, POST_SQL, &a, "recording a transaction");
	for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
		ly_mem_free(arrays[i]);
	if (!r)
		return s->error->code;
	txn->id = ly_pg_get_int(r, 0, 0);
	bool read = !p->new_lot_count ||
		    read_ids(PQgetvalue(r, 0, 1), &p->new_lots->id, p->new_lot_count, sizeof *l);
	PQclear(r);
	for (size_t i = 0; i < p->new_lot_count; i++)
		p->new_lots[i].txn = txn->id;
	return read ? LOYAL_OK
		    : ly_fail(s->error, LOYAL_EINTERNAL,
			      "storage: recording a transaction: the server gave its lots no ids");
}

static int hold_write(store *s, const store_posting *p)
{
	const hold_row *h = p->hold;
	pg_args a = {0};
	ly_pg_int(&a, h->member);
	ly_pg_int(&a, h->txn);
	ly_pg_int(&a, h->state);
	ly_pg_int(&a, h->captured);
	ly_pg_int(&a, h->settled_by);
	if (p->hold_change == HOLD_SETTLES)
		return ly_pg_exec(s, "UPDATE holds SET state = $3, captured = $4, settled_by = $5"
				     " WHERE member_id = $1 AND txn = $2",
				  &a, "settling a hold");
	ly_pg_int(&a, h->currency);
	ly_pg_int(&a, h->amount);
	ly_pg_int(&a, h->deadline);
	return ly_pg_exec(s, "INSERT INTO holds(member_id, txn, state, captured, settled_by,"
			     " currency, amount, deadline) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
			  &a, "recording a hold");
}

int ly_pg_post(store *s, const store_posting *p)
{
	txn_row *txn = p->txn;
	int rc = post_rows(s, p);
	if (rc == LOYAL_OK)
		rc = ly_store_posting_link(s->error, p);
	if (rc == LOYAL_OK && p->hold_change == HOLD_OPENS)
		p->hold->txn = txn->id;
	else if (rc == LOYAL_OK && p->hold_change == HOLD_SETTLES)
		p->hold->settled_by = txn->id;
	if (rc == LOYAL_OK && p->hold_change != HOLD_UNCHANGED)
		rc = hold_write(s, p);
	return rc;
}

/* ---- idempotency ---- */

int ly_pg_idem_get(store *s, int64_t member, int64_t key_hash, const char *key, idem_row *out,
		   bool *found)
{
	*out = (idem_row){.member = member, .key_hash = key_hash};
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, key_hash);
	ly_pg_text(&a, key);
	PGresult *r = ly_pg_query(s, "SELECT request, rc, txn, amount, message, kind FROM idem"
				     " WHERE member_id = $1 AND key_hash = $2 AND key = $3",
				  &a, "looking up an idempotency key");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	char *request = NULL, *message = NULL;
	int rc = LOYAL_OK;
	if (*found) {
		out->rc = ly_pg_get_int(r, 0, 1);
		out->txn = ly_pg_get_int(r, 0, 2);
		out->amount = ly_pg_get_int(r, 0, 3);
		out->kind = ly_pg_get_int(r, 0, 5);
		rc = ly_pg_get_text(s, r, 0, 0, &request);
		if (rc == LOYAL_OK)
			rc = ly_pg_get_text(s, r, 0, 4, &message);
	}
	PQclear(r);
	out->request = request;
	out->message = message;
	if (rc != LOYAL_OK) {
		ly_idem_row_clear(out);
		*found = false;
	}
	return rc;
}

int ly_pg_idem_claim(store *s, int64_t member, int64_t key_hash, const char *key, int64_t event,
		     idem_row *out, bool *found)
{
	/* The member's row is locked by this write transaction: no other connection records a
	 * key of theirs before it commits, so an unused key stays this transaction's. */
	(void)event;
	int rc = ly_pg_idem_get(s, member, key_hash, key, out, found);
	if (rc == LOYAL_OK && !*found)
		out->claim = ++pq(s)->claims;
	return rc;
}

int ly_pg_idem_put(store *s, const idem_row *idem)
{
	pg_args a = {0};
	ly_pg_int(&a, idem->member);
	ly_pg_int(&a, idem->key_hash);
	ly_pg_text(&a, idem->key);
	ly_pg_text(&a, idem->request);
	ly_pg_int(&a, idem->rc);
	ly_pg_int(&a, idem->txn);
	ly_pg_int(&a, idem->amount);
	ly_pg_text(&a, idem->message ? idem->message : "");
	ly_pg_int(&a, idem->kind);
	return ly_pg_exec(s, "INSERT INTO idem(member_id, key_hash, key, request, rc, txn, amount,"
			     " message, kind) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			  &a, "recording an idempotency key");
}

/* ---- sweeps ---- */

int ly_pg_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
		       int64_t **triples, size_t *count)
{
	pg_args a = {0};
	ly_pg_int(&a, at);
	for (int i = 0; i < 3; i++)
		ly_pg_int(&a, after[i]);
	ly_pg_int(&a, (int64_t)limit);
	PGresult *r = ly_pg_query(s, "SELECT due_at, member_id, currency FROM balances WHERE"
				     " due_at <= $1 AND (due_at, member_id, currency) > ($2, $3, $4)"
				     " ORDER BY due_at, member_id, currency LIMIT $5",
				  &a, "finding what is due");
	if (!r)
		return s->error->code;
	int rc = ly_pg_collect_ints(s, r, 3, triples, count);
	PQclear(r);
	return rc;
}

int ly_pg_idle_members(store *s, int64_t currency, int64_t cutoff, int64_t **members,
		       size_t *count)
{
	pg_args a = {0};
	ly_pg_int(&a, currency);
	ly_pg_int(&a, cutoff);
	PGresult *r = ly_pg_query(s, "SELECT m.id FROM members m JOIN balances b ON"
				     " b.member_id = m.id AND b.currency = $1 WHERE"
				     " m.last_active_at < $2 AND b.available > 0 ORDER BY m.id",
				  &a, "finding idle members");
	if (!r)
		return s->error->code;
	int rc = ly_pg_collect_ints(s, r, 1, members, count);
	PQclear(r);
	return rc;
}
