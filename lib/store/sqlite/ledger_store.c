/* ledger_store.c - the SQLite backend's program, member, balance, lot, transaction, hold and
 * idempotency records. */
#include "store/sqlite/sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

/* ---- program ---- */

int ly_sqlite_program_version(store *s, int64_t *out)
{
	if (sq(s)->writing && sq(s)->program_version_known) {
		*out = sq(s)->program_version;
		return LOYAL_OK;
	}
	STMT(ST_PROGRAM_VERSION, "SELECT coalesce(max(version), 0) FROM program_versions");
	bool found;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading the program version");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_int64(stmt, 0);
	ly_sqlite_finish(stmt);
	sq(s)->program_version = *out;
	sq(s)->program_version_known = sq(s)->writing;
	return LOYAL_OK;
}

int ly_sqlite_program_get(store *s, char **document, int64_t *version)
{
	STMT(ST_PROGRAM_GET,
	     "SELECT version, document FROM program_versions ORDER BY version DESC LIMIT 1");
	bool found;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading the program");
	*document = NULL;
	*version = 0;
	if (rc != LOYAL_OK || !found)
		return rc;
	*version = sqlite3_column_int64(stmt, 0);
	rc = ly_sqlite_column_text(s, stmt, 1, document);
	ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_program_put(store *s, const char *document, int64_t at, int64_t *version)
{
	STMT(ST_PROGRAM_PUT, "INSERT INTO program_versions(applied_at, document) VALUES(?1, ?2)");
	sqlite3_bind_int64(stmt, 1, at);
	sqlite3_bind_text(stmt, 2, document, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_done(s, stmt, "saving the program");
	sq(s)->program_version_known = false;
	if (rc == LOYAL_OK)
		*version = ly_sqlite_last_rowid(s);
	return rc;
}

int ly_sqlite_currency_id(store *s, const char *name, bool create, int64_t *id)
{
	{
		STMT(ST_CURRENCY_FIND, "SELECT id FROM currencies WHERE name = ?1");
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
		bool found;
		int rc = ly_sqlite_step_one(s, stmt, &found, "finding a currency");
		if (rc != LOYAL_OK)
			return rc;
		if (found) {
			*id = sqlite3_column_int64(stmt, 0);
			ly_sqlite_finish(stmt);
			return LOYAL_OK;
		}
		if (!create)
			return ly_fail(s->error, LOYAL_ENOTFOUND, "no currency named '%s'", name);
	}
	STMT(ST_CURRENCY_INSERT, "INSERT INTO currencies(name) VALUES(?1)");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_done(s, stmt, "defining a currency");
	if (rc == LOYAL_OK)
		*id = ly_sqlite_last_rowid(s);
	return rc;
}

/* ---- members ---- */


int ly_sqlite_member_find(store *s, const char *external_id, member_row *out, bool *found)
{
	/* A write reads the member's activity with the row: the call that finds a member to
	 * write is about to count what they do. */
	bool writing = sq(s)->writing;
	sqlite3_stmt *stmt =
		writing ? ly_sqlite_stmt(s, ST_MEMBER_FIND_WRITING, "SELECT " MEMBER_COLUMNS
					 ", activity FROM members WHERE external_id = ?1")
			: ly_sqlite_stmt(s, ST_MEMBER_FIND, "SELECT " MEMBER_COLUMNS
					 " FROM members WHERE external_id = ?1");
	if (!stmt)
		return s->error->code;
	sqlite3_bind_text(stmt, 1, external_id, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_one(s, stmt, found, "finding a member");
	if (rc == LOYAL_OK && *found) {
		ly_sqlite_read_member_row(stmt, out);
		if (writing)
			rc = ly_sqlite_activity_read(s, out->id,
						     sqlite3_column_blob(stmt, MEMBER_COLUMN_COUNT),
						     (size_t)sqlite3_column_bytes(stmt,
										  MEMBER_COLUMN_COUNT));
		ly_sqlite_finish(stmt);
	}
	return rc;
}

int ly_sqlite_member_get(store *s, int64_t id, member_row *out, bool *found)
{
	STMT(ST_MEMBER_GET, "SELECT " MEMBER_COLUMNS " FROM members WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, id);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading a member");
	if (rc == LOYAL_OK && *found) {
		ly_sqlite_read_member_row(stmt, out);
		ly_sqlite_finish(stmt);
	}
	return rc;
}

int ly_sqlite_member_insert(store *s, const char *external_id, int64_t at, member_row *out)
{
	STMT(ST_MEMBER_INSERT, "INSERT INTO members(external_id, joined_at, last_active_at)"
			       " VALUES(?1, ?2, ?2)");
	sqlite3_bind_text(stmt, 1, external_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, at);
	int rc = ly_sqlite_step_done(s, stmt, "creating a member");
	if (rc == LOYAL_OK) {
		*out = (member_row){.id = ly_sqlite_last_rowid(s), .joined_at = at, .last_active_at = at};
		ly_sqlite_member_stored(out);
		ly_sqlite_member_balances(out, NULL, 0); /* none yet */
	}
	return rc;
}

/* What both writes of a member's row save of it: status, last activity and chain head
 * (?5 to ?8), and the activity it still has unsaved (?9; NULL keeps the stored one). */
#define MEMBER_STATE                                                                          \
	"status = ?5, last_active_at = ?6, last_txn = ?7, last_hash = ?8,"                     \
	" activity = coalesce(?9, activity)"

/* Binds MEMBER_STATE's parameters. */
static void bind_member_state(sqlite3_stmt *stmt, const member_row *member, const void *activity,
			      size_t size)
{
	sqlite3_bind_int64(stmt, 5, member->status);
	sqlite3_bind_int64(stmt, 6, member->last_active_at);
	sqlite3_bind_int64(stmt, 7, member->last_txn);
	sqlite3_bind_int64(stmt, 8, member->last_hash);
	if (activity)
		sqlite3_bind_blob64(stmt, 9, activity, size, SQLITE_STATIC);
}

/* After a write of the member's row (rc its outcome; `what` names it for a missing member):
 * the row is what the file has now. */
static int member_state_saved(store *s, int rc, member_row *member, const void *activity,
			      const char *what)
{
	if (rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) != 1)
		return ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld is missing: %s cannot be saved",
			       (long long)member->id, what);
	if (rc == LOYAL_OK) {
		ly_sqlite_member_stored(member);
		if (activity)
			ly_sqlite_activity_saved(s, member->id);
	}
	return rc;
}

int ly_sqlite_member_update(store *s, member_row *member)
{
	const void *activity = NULL;
	size_t size = 0;
	int rc = ly_sqlite_activity_unsaved(s, member->id, &activity, &size);
	if (rc != LOYAL_OK)
		return rc;
	if (!activity && member->status == member->stored.status &&
	    member->last_active_at == member->stored.last_active_at &&
	    member->last_txn == member->stored.last_txn &&
	    member->last_hash == member->stored.last_hash)
		return LOYAL_OK;
	STMT(ST_MEMBER_UPDATE, "UPDATE members SET " MEMBER_STATE " WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, member->id);
	bind_member_state(stmt, member, activity, size);
	rc = ly_sqlite_step_done(s, stmt, "updating a member");
	return member_state_saved(s, rc, member, activity, "their row");
}

int ly_sqlite_member_attrs_get(store *s, int64_t member, char **attrs_json)
{
	STMT(ST_MEMBER_ATTRS_GET, "SELECT attrs FROM members WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	bool found;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading member attributes");
	if (rc != LOYAL_OK)
		return rc;
	if (!found)
		return ly_fail(s->error, LOYAL_EINTERNAL, "member #%lld vanished", (long long)member);
	rc = ly_sqlite_column_text(s, stmt, 0, attrs_json);
	ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_member_attrs_put(store *s, int64_t member, const char *attrs_json,
			   const char *timezone)
{
	STMT(ST_MEMBER_ATTRS_PUT, "UPDATE members SET attrs = ?2, timezone = ?3 WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, attrs_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, timezone, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "saving member attributes");
}

int ly_sqlite_member_external_id(store *s, int64_t member, char **external_id)
{
	STMT(ST_MEMBER_EXTERNAL_ID, "SELECT external_id FROM members WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	bool found;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading a member id");
	if (rc != LOYAL_OK)
		return rc;
	if (!found)
		return ly_fail(s->error, LOYAL_EINTERNAL, "member #%lld vanished", (long long)member);
	rc = ly_sqlite_column_text(s, stmt, 0, external_id);
	ly_sqlite_finish(stmt);
	return rc;
}

/* ---- balances ---- */

/* A member's balances live in the member's row (balances.c); members.due_at is the soonest of
 * their due instants, for the sweep. */

/* The member's balances blob, checked: the copy their row carries, else read with `stmt`
 * (which the caller finishes; empty when the member has no row). */
static int member_balances(store *s, const member_row *member, sqlite3_stmt **stmt,
			   const unsigned char **blob, size_t *size)
{
	*stmt = NULL;
	*blob = member->balances.bytes;
	*size = member->balances.size;
	if (!member->balances.cached) {
		*stmt = ly_sqlite_stmt(s, ST_BALANCE_GET, "SELECT balances FROM members WHERE id = ?1");
		if (!*stmt)
			return s->error->code;
		sqlite3_bind_int64(*stmt, 1, member->id);
		bool found;
		int rc = ly_sqlite_step_one(s, *stmt, &found, "reading a balance");
		if (rc != LOYAL_OK)
			return rc;
		*size = found ? (size_t)sqlite3_column_bytes(*stmt, 0) : 0;
		*blob = found && *size ? sqlite3_column_blob(*stmt, 0) : (const unsigned char *)"";
	}
	return ly_sqlite_balances_valid(*blob, *size)
		       ? LOYAL_OK
		       : ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld's balances are damaged",
				 (long long)member->id);
}

int ly_sqlite_balance_get(store *s, const member_row *member, int64_t currency,
			  balance_row *out)
{
	/* Without a balance there are no lots and no holds: nothing can fall due. */
	*out = (balance_row){.member = member->id, .currency = currency, .due_at = INT64_MAX};
	sqlite3_stmt *stmt;
	const unsigned char *blob;
	size_t size;
	int rc = member_balances(s, member, &stmt, &blob, &size);
	if (rc == LOYAL_OK)
		ly_sqlite_balances_get(blob, size, currency, out);
	if (stmt)
		ly_sqlite_finish(stmt);
	return rc;
}

#define SET_DUE ", due_at = ?3"
#define SET_LOTS ", lots = ly_lots_apply(lots, ?4)"
#define SET_MEMBER ", " MEMBER_STATE

/* The member's balances with `balance` in them, computed from what their row has (out has room
 * for it and one more record): *size its bytes, *due the soonest due instant. */
static int balances_with(store *s, const member_row *member, const balance_row *balance,
			 unsigned char **out, size_t *size, int64_t *due)
{
	sqlite3_stmt *stmt;
	const unsigned char *blob;
	size_t stored;
	*out = NULL;
	int rc = member_balances(s, member, &stmt, &blob, &stored);
	if (rc == LOYAL_OK && !(*out = sqlite3_malloc64(stored + BALANCE_RECORD_MAX)))
		rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory saving a balance");
	if (rc == LOYAL_OK) {
		*size = ly_sqlite_balances_set(blob, stored, balance, *out);
		*due = ly_sqlite_balances_due(*out, *size);
	}
	if (stmt)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_balance_put(store *s, member_row *member, const balance_row *balance,
			  bool due_changed, const lot_row *lots, size_t lot_count)
{
	/* An update that leaves due_at out spares its index a delete and an insert. */
	static const struct {
		enum store_statement id;
		const char *sql;
	} puts[2][2] = {
		{{ST_BALANCE_PUT_SAME_DUE, "UPDATE members SET balances = ?2" SET_MEMBER " WHERE id = ?1"},
		 {ST_BALANCE_PUT, "UPDATE members SET balances = ?2" SET_DUE SET_MEMBER " WHERE id = ?1"}},
		{{ST_BALANCE_PUT_LOTS_SAME_DUE,
		  "UPDATE members SET balances = ?2" SET_LOTS SET_MEMBER " WHERE id = ?1"},
		 {ST_BALANCE_PUT_LOTS,
		  "UPDATE members SET balances = ?2" SET_DUE SET_LOTS SET_MEMBER " WHERE id = ?1"}},
	};
	unsigned char *balances = NULL, *changes = NULL;
	size_t size = 0, changes_size = 0, activity_size = 0;
	int64_t due = INT64_MAX;
	const void *activity = NULL; /* the member's, changed and not yet saved: saved here */
	int rc = ly_sqlite_activity_unsaved(s, member->id, &activity, &activity_size);
	if (rc == LOYAL_OK)
		rc = balances_with(s, member, balance, &balances, &size, &due);
	if (rc == LOYAL_OK && lot_count &&
	    !(changes = ly_sqlite_lot_changes(lots, lot_count, &changes_size)))
		rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory saving a balance");
	sqlite3_stmt *stmt = NULL;
	if (rc == LOYAL_OK && !(stmt = ly_sqlite_stmt(s, puts[lot_count > 0][due_changed].id,
						      puts[lot_count > 0][due_changed].sql)))
		rc = s->error->code;
	if (rc != LOYAL_OK) {
		sqlite3_free(balances);
		sqlite3_free(changes);
		return rc;
	}
	sqlite3_bind_int64(stmt, 1, member->id);
	sqlite3_bind_blob64(stmt, 2, balances, size, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, due);
	if (changes) /* the statement frees them, even when binding fails */
		sqlite3_bind_blob64(stmt, 4, changes, changes_size, sqlite3_free);
	bind_member_state(stmt, member, activity, activity_size);
	rc = member_state_saved(s, ly_sqlite_step_done(s, stmt, "saving a balance"), member,
				activity, "their balance");
	if (rc == LOYAL_OK)
		ly_sqlite_member_balances(member, balances, size);
	sqlite3_free(balances);
	return rc;
}

/* ---- lots ---- */

/* The open lots of a member, from their row (lots.c), read with stmt (its `column`, stepped
 * here) into a cursor; *found false when the member has no row. The statement stays on its row
 * until ly_sqlite_finish. */
static int open_lots(store *s, sqlite3_stmt *stmt, int column, lots_cursor *out, bool *found)
{
	int rc = ly_sqlite_step_one(s, stmt, found, "reading lots");
	*out = ly_sqlite_lots_cursor(NULL, 0);
	if (rc == LOYAL_OK && *found)
		*out = ly_sqlite_lots_cursor(sqlite3_column_blob(stmt, column),
					     (size_t)sqlite3_column_bytes(stmt, column));
	return rc;
}

/* The error of a read of the member's lots that met damage (LOYAL_OK when it met none). */
static int lots_read_end(store *s, const lots_cursor *c, int64_t member)
{
	return c->damaged ? ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld's open lots are damaged",
				    (long long)member)
			  : LOYAL_OK;
}

/* Reads the member's open lots into a cursor (empty when the member has no row); *stmt, when
 * set, is to be finished once they are read. */
static int member_lots(store *s, int64_t member, sqlite3_stmt **stmt, lots_cursor *out)
{
	*out = ly_sqlite_lots_cursor(NULL, 0);
	*stmt = ly_sqlite_stmt(s, ST_MEMBER_LOTS, "SELECT lots FROM members WHERE id = ?1");
	if (!*stmt)
		return s->error->code;
	sqlite3_bind_int64(*stmt, 1, member);
	bool found;
	return open_lots(s, *stmt, 0, out, &found);
}

int ly_sqlite_lots_open(store *s, int64_t member, int64_t currency, int64_t through,
			lot_vec *out)
{
	sqlite3_stmt *stmt;
	lots_cursor c;
	out->count = 0;
	int rc = member_lots(s, member, &stmt, &c);
	open_lot lot;
	/* In consumption order: this currency's lots come together, soonest expiring first. */
	while (rc == LOYAL_OK && ly_sqlite_lots_read(&c, &lot) && lot.currency <= currency &&
	       !(lot.currency == currency && lot.expires_at > through)) {
		if (lot.currency != currency)
			continue;
		lot_row *row = VEC_PUSH(out);
		if (!row)
			rc = ly_sqlite_push_failed(s);
		else
			*row = (lot_row){.id = lot.id, .member = member, .currency = currency,
					 .remaining = lot.remaining, .expires_at = lot.expires_at,
					 .pending_until = lot.pending_until};
	}
	if (stmt)
		ly_sqlite_finish(stmt);
	return rc == LOYAL_OK ? lots_read_end(s, &c, member) : rc;
}

int ly_sqlite_next_expiry(store *s, int64_t member, int64_t currency, int64_t after,
			  int64_t *at, int64_t *amount, bool *found)
{
	sqlite3_stmt *stmt;
	lots_cursor c;
	int rc = member_lots(s, member, &stmt, &c);
	*found = false;
	open_lot lot;
	/* Soonest first within the currency: done at the first lot past the soonest found. */
	while (rc == LOYAL_OK && ly_sqlite_lots_read(&c, &lot) && lot.currency <= currency &&
	       !(*found && (lot.currency > currency || lot.expires_at > *at))) {
		if (lot.currency != currency || lot.pending_until || lot.expires_at <= after ||
		    lot.expires_at == INT64_MAX)
			continue;
		if (!*found)
			*at = lot.expires_at;
		*amount = *found ? *amount + lot.remaining : lot.remaining;
		*found = true;
	}
	if (stmt)
		ly_sqlite_finish(stmt);
	return rc == LOYAL_OK ? lots_read_end(s, &c, member) : rc;
}

int ly_sqlite_holds_next_deadline(store *s, int64_t member, int64_t currency, int64_t *out)
{
	STMT(ST_HOLDS_NEXT, "SELECT coalesce(min(deadline), 9223372036854775807) FROM holds"
			    " WHERE member = ?1 AND currency = ?2 AND state = 0");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, currency);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "finding the next hold deadline");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_int64(stmt, 0);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_lot_get(store *s, int64_t member, int64_t id, lot_row *out, bool *found)
{
	STMT(ST_LOT_GET, "SELECT l.id, l.member, l.currency, l.txn, l.amount, l.earned_at,"
			 " l.expires_at, l.pending_until, m.lots FROM lots l JOIN members m ON"
			 " m.id = l.member WHERE l.id = ?1 AND l.member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	lots_cursor c;
	int rc = open_lots(s, stmt, 8, &c, found);
	if (rc != LOYAL_OK || !*found)
		return rc;
	*out = (lot_row){.id = sqlite3_column_int64(stmt, 0),
			 .member = sqlite3_column_int64(stmt, 1),
			 .currency = sqlite3_column_int64(stmt, 2),
			 .txn = sqlite3_column_int64(stmt, 3),
			 .amount = sqlite3_column_int64(stmt, 4),
			 .earned_at = sqlite3_column_int64(stmt, 5),
			 .expires_at = sqlite3_column_int64(stmt, 6),
			 .pending_until = sqlite3_column_int64(stmt, 7)};
	open_lot lot;
	while (!out->remaining && ly_sqlite_lots_read(&c, &lot))
		if (lot.id == id)
			out->remaining = lot.remaining;
	ly_sqlite_finish(stmt);
	return lots_read_end(s, &c, member);
}

static int lot_insert(store *s, lot_row *lot)
{
	STMT(ST_LOT_INSERT, "INSERT INTO lots(member, currency, txn, amount, earned_at,"
			    " expires_at, pending_until) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	sqlite3_bind_int64(stmt, 1, lot->member);
	sqlite3_bind_int64(stmt, 2, lot->currency);
	sqlite3_bind_int64(stmt, 3, lot->txn);
	sqlite3_bind_int64(stmt, 4, lot->amount);
	sqlite3_bind_int64(stmt, 5, lot->earned_at);
	sqlite3_bind_int64(stmt, 6, lot->expires_at);
	sqlite3_bind_int64(stmt, 7, lot->pending_until);
	int rc = ly_sqlite_step_done(s, stmt, "creating a lot");
	if (rc == LOYAL_OK)
		lot->id = ly_sqlite_last_rowid(s);
	return rc;
}

static int lot_activate(store *s, int64_t lot)
{
	STMT(ST_LOT_ACTIVATE, "UPDATE lots SET pending_until = 0 WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, lot);
	return ly_sqlite_step_done(s, stmt, "activating a lot");
}

static int move_insert(store *s, move_row *move)
{
	STMT(ST_MOVE_INSERT,
	     "INSERT INTO moves(txn, seq, lot, amount, kind) VALUES(?1, ?2, ?3, ?4, ?5)");
	sqlite3_bind_int64(stmt, 1, move->txn);
	sqlite3_bind_int64(stmt, 2, move->seq);
	sqlite3_bind_int64(stmt, 3, move->lot);
	sqlite3_bind_int64(stmt, 4, move->amount);
	sqlite3_bind_int64(stmt, 5, move->kind);
	return ly_sqlite_step_done(s, stmt, "recording a lot move");
}

static int moves_of_txn(store *s, int64_t txn, move_vec *out)
{
	STMT(ST_MOVES_OF_TXN,
	     "SELECT txn, seq, lot, amount, kind FROM moves WHERE txn = ?1 ORDER BY seq");
	sqlite3_bind_int64(stmt, 1, txn);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		move_row *move = VEC_PUSH(out);
		if (!move) {
			ly_sqlite_finish(stmt);
			return ly_sqlite_push_failed(s);
		}
		move->txn = sqlite3_column_int64(stmt, 0);
		move->seq = sqlite3_column_int64(stmt, 1);
		move->lot = sqlite3_column_int64(stmt, 2);
		move->amount = sqlite3_column_int64(stmt, 3);
		move->kind = sqlite3_column_int64(stmt, 4);
	}
	ly_sqlite_finish(stmt);
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "loading lot moves");
}

/* ---- transactions and entries ---- */

static int txn_insert(store *s, txn_row *txn)
{
	STMT(ST_TXN_INSERT,
	     "INSERT INTO txns(member, currency, kind, amount, at, reverses, requested,"
	     " counterpart, prev, hash, reason, cause, id, event)"
	     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
	sqlite3_bind_int64(stmt, 1, txn->member);
	sqlite3_bind_int64(stmt, 2, txn->currency);
	sqlite3_bind_int64(stmt, 3, txn->kind);
	sqlite3_bind_int64(stmt, 4, txn->amount);
	sqlite3_bind_int64(stmt, 5, txn->at);
	sqlite3_bind_int64(stmt, 6, txn->reverses);
	sqlite3_bind_int64(stmt, 7, txn->requested);
	sqlite3_bind_int64(stmt, 8, txn->counterpart);
	sqlite3_bind_int64(stmt, 9, txn->prev);
	sqlite3_bind_int64(stmt, 10, txn->hash);
	sqlite3_bind_text(stmt, 11, txn->reason, -1, SQLITE_STATIC);
	if (txn->cause)
		sqlite3_bind_text(stmt, 12, txn->cause, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 14, txn->event);
	if (sq(s)->reserved_count > 0) { /* the next reserved id; otherwise SQLite picks */
		sqlite3_bind_int64(stmt, 13, sq(s)->reserved_next++);
		sq(s)->reserved_count--;
	}
	int rc = ly_sqlite_step_done(s, stmt, "recording a transaction");
	if (rc == LOYAL_OK)
		txn->id = ly_sqlite_last_rowid(s);
	return rc;
}

static int txn_get(store *s, int64_t member, int64_t id, txn_row *out, bool *found)
{
	*out = (txn_row){0}; /* cleared even when the statement cannot be prepared */
	*found = false;
	STMT(ST_TXN_GET, "SELECT id, member, currency, kind, amount, at, reverses, requested,"
			 " counterpart, prev, hash, reason, cause, event FROM txns WHERE id = ?1"
			 " AND ?2 IN (0, member)");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading a transaction");
	if (rc != LOYAL_OK || !*found)
		return rc;
	out->id = sqlite3_column_int64(stmt, 0);
	out->member = sqlite3_column_int64(stmt, 1);
	out->currency = sqlite3_column_int64(stmt, 2);
	out->kind = sqlite3_column_int64(stmt, 3);
	out->amount = sqlite3_column_int64(stmt, 4);
	out->at = sqlite3_column_int64(stmt, 5);
	out->reverses = sqlite3_column_int64(stmt, 6);
	out->requested = sqlite3_column_int64(stmt, 7);
	out->counterpart = sqlite3_column_int64(stmt, 8);
	out->prev = sqlite3_column_int64(stmt, 9);
	out->hash = sqlite3_column_int64(stmt, 10);
	out->event = sqlite3_column_int64(stmt, 13);
	rc = ly_sqlite_column_text(s, stmt, 11, &out->reason);
	if (rc == LOYAL_OK)
		rc = ly_sqlite_column_text(s, stmt, 12, &out->cause);
	ly_sqlite_finish(stmt);
	if (rc != LOYAL_OK)
		ly_txn_row_clear(out);
	return rc;
}

static int entry_insert(store *s, entry_row *entry)
{
	STMT(ST_ENTRY_INSERT, "INSERT INTO entries(txn, seq, currency, debit_account,"
			      " credit_account, amount) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
	sqlite3_bind_int64(stmt, 1, entry->txn);
	sqlite3_bind_int64(stmt, 2, entry->seq);
	sqlite3_bind_int64(stmt, 3, entry->currency);
	sqlite3_bind_int64(stmt, 4, entry->debit_account);
	sqlite3_bind_int64(stmt, 5, entry->credit_account);
	sqlite3_bind_int64(stmt, 6, entry->amount);
	return ly_sqlite_step_done(s, stmt, "recording an entry");
}

static int entries_of_txn(store *s, int64_t txn, entry_vec *out)
{
	STMT(ST_ENTRIES_OF_TXN, "SELECT txn, seq, currency, debit_account, credit_account, amount"
				" FROM entries WHERE txn = ?1 ORDER BY seq");
	sqlite3_bind_int64(stmt, 1, txn);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		entry_row *entry = VEC_PUSH(out);
		if (!entry) {
			ly_sqlite_finish(stmt);
			return ly_sqlite_push_failed(s);
		}
		entry->txn = sqlite3_column_int64(stmt, 0);
		entry->seq = sqlite3_column_int64(stmt, 1);
		entry->currency = sqlite3_column_int64(stmt, 2);
		entry->debit_account = sqlite3_column_int64(stmt, 3);
		entry->credit_account = sqlite3_column_int64(stmt, 4);
		entry->amount = sqlite3_column_int64(stmt, 5);
	}
	ly_sqlite_finish(stmt);
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "loading entries");
}

int ly_sqlite_reversed_total(store *s, int64_t member, int64_t txn, int64_t *out)
{
	/* "reverses <> 0" lets SQLite use the partial index txns_reversals. */
	STMT(ST_REVERSED_TOTAL, "SELECT coalesce(sum(requested), 0) FROM txns WHERE reverses = ?1"
				" AND reverses <> 0 AND requested > 0 AND member = ?2");
	sqlite3_bind_int64(stmt, 1, txn);
	sqlite3_bind_int64(stmt, 2, member);
	bool found;
	int rc = ly_sqlite_step_one(s, stmt, &found, "summing reversals");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_int64(stmt, 0);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

/* ---- holds ---- */

static int hold_insert(store *s, const hold_row *hold)
{
	STMT(ST_HOLD_INSERT, "INSERT INTO holds(txn, member, currency, amount, deadline, state,"
			     " captured, settled_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	sqlite3_bind_int64(stmt, 1, hold->txn);
	sqlite3_bind_int64(stmt, 2, hold->member);
	sqlite3_bind_int64(stmt, 3, hold->currency);
	sqlite3_bind_int64(stmt, 4, hold->amount);
	sqlite3_bind_int64(stmt, 5, hold->deadline);
	sqlite3_bind_int64(stmt, 6, hold->state);
	sqlite3_bind_int64(stmt, 7, hold->captured);
	sqlite3_bind_int64(stmt, 8, hold->settled_by);
	return ly_sqlite_step_done(s, stmt, "recording a hold");
}

int ly_sqlite_hold_get(store *s, int64_t member, int64_t txn, hold_row *out, bool *found)
{
	STMT(ST_HOLD_GET, "SELECT txn, member, currency, amount, deadline, state, captured,"
			  " settled_by FROM holds WHERE txn = ?1 AND member = ?2");
	sqlite3_bind_int64(stmt, 1, txn);
	sqlite3_bind_int64(stmt, 2, member);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading a hold");
	if (rc != LOYAL_OK || !*found)
		return rc;
	out->txn = sqlite3_column_int64(stmt, 0);
	out->member = sqlite3_column_int64(stmt, 1);
	out->currency = sqlite3_column_int64(stmt, 2);
	out->amount = sqlite3_column_int64(stmt, 3);
	out->deadline = sqlite3_column_int64(stmt, 4);
	out->state = sqlite3_column_int64(stmt, 5);
	out->captured = sqlite3_column_int64(stmt, 6);
	out->settled_by = sqlite3_column_int64(stmt, 7);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

static int hold_update(store *s, const hold_row *hold)
{
	STMT(ST_HOLD_UPDATE,
	     "UPDATE holds SET state = ?2, captured = ?3, settled_by = ?4 WHERE txn = ?1");
	sqlite3_bind_int64(stmt, 1, hold->txn);
	sqlite3_bind_int64(stmt, 2, hold->state);
	sqlite3_bind_int64(stmt, 3, hold->captured);
	sqlite3_bind_int64(stmt, 4, hold->settled_by);
	return ly_sqlite_step_done(s, stmt, "settling a hold");
}


/* ---- posting ---- */

int ly_sqlite_txn_read(store *s, int64_t member, int64_t id, txn_row *txn, entry_vec *entries, move_vec *moves,
		       bool *found)
{
	if (txn)
		*txn = (txn_row){0};
	txn_row row;
	int rc = txn_get(s, member, id, &row, found);
	if (rc == LOYAL_OK && *found && entries)
		rc = entries_of_txn(s, id, entries);
	if (rc == LOYAL_OK && *found && moves)
		rc = moves_of_txn(s, id, moves);
	if (txn && rc == LOYAL_OK)
		*txn = row;
	else
		ly_txn_row_clear(&row);
	return rc;
}

int ly_sqlite_txn_reserve(store *s, int count, int64_t *first)
{
	/* Read each time: the posts take the ids in order, and SQLite picks the ones after. */
	int64_t next = 0;
	int rc = ly_sqlite_next_id(s, ST_TXN_NEXT_ID, "SELECT coalesce(max(id), 0) + 1 FROM txns",
				   &next, first, "reserving transaction ids");
	sq(s)->reserved_next = *first;
	sq(s)->reserved_count = rc == LOYAL_OK ? count : 0;
	return rc;
}

int ly_sqlite_post(store *s, const store_posting *p)
{
	txn_row *txn = p->txn;
	int rc = txn_insert(s, txn);
	for (size_t i = 0; i < p->new_lot_count && rc == LOYAL_OK; i++) {
		p->new_lots[i].txn = txn->id;
		rc = lot_insert(s, &p->new_lots[i]);
	}
	if (rc == LOYAL_OK)
		rc = ly_store_posting_link(s->error, p);
	for (size_t i = 0; i < p->entry_count && rc == LOYAL_OK; i++)
		rc = entry_insert(s, &p->entries[i]);
	for (size_t i = 0; i < p->move_count && rc == LOYAL_OK; i++) {
		move_row *move = &p->moves[i];
		rc = move_insert(s, move);
		if (rc == LOYAL_OK && move->kind == MOVE_ACTIVATE)
			rc = lot_activate(s, move->lot);
	}
	if (rc == LOYAL_OK && p->hold_change == HOLD_OPENS) {
		p->hold->txn = txn->id;
		rc = hold_insert(s, p->hold);
	} else if (rc == LOYAL_OK && p->hold_change == HOLD_SETTLES) {
		p->hold->settled_by = txn->id;
		rc = hold_update(s, p->hold);
	}
	return rc;
}

int ly_sqlite_holds_due(store *s, int64_t member, int64_t currency, int64_t at, int64_t **txns,
		    size_t *count)
{
	STMT(ST_HOLDS_DUE, "SELECT txn, deadline FROM holds WHERE member = ?1 AND currency = ?2"
			   " AND state = 0 AND deadline <= ?3 ORDER BY deadline, txn");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, currency);
	sqlite3_bind_int64(stmt, 3, at);
	return ly_sqlite_collect_ints(s, stmt, 2, txns, count, "finding overdue holds");
}

/* ---- idempotency ---- */

/* Keys live in three tables: idem_records, appended in call order, holds each record whole;
 * idem, a slim table keyed by a 64-bit hash of member and key (its insert lands on one
 * random-order page of small rows), points to the record: a positive id of idem_records, or
 * minus the id of a tracked event, whose row holds its key and request; a key whose hash
 * another key took first (a true collision) is found through idem_collisions instead, read
 * only then. */

/* Binds a record's fields (?1-?9) and inserts it. */
static int put_record(store *s, sqlite3_stmt *stmt, const idem_row *idem)
{
	sqlite3_bind_int64(stmt, 1, idem->member);
	sqlite3_bind_int64(stmt, 2, idem->key_hash);
	sqlite3_bind_text(stmt, 3, idem->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, idem->request, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, idem->rc);
	sqlite3_bind_int64(stmt, 6, idem->txn);
	sqlite3_bind_int64(stmt, 7, idem->amount);
	sqlite3_bind_text(stmt, 8, idem->message ? idem->message : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 9, idem->kind);
	return ly_sqlite_step_done(s, stmt, "recording an idempotency key");
}

int64_t ly_sqlite_idem_slot(int64_t member, int64_t key_hash)
{
	const int64_t pair[2] = {member, key_hash};
	return (int64_t)XXH3_64bits(pair, sizeof pair);
}

#define RECORD_COLUMNS "r.request, r.rc, r.txn, r.amount, r.message, r.kind, r.member, r.key_hash, r.key"
/* The same for a slot i, whose record is in idem_records r or is event e. */
#define SLOT_COLUMNS                                                                          \
	"coalesce(r.request, e.request), coalesce(r.rc, 0), coalesce(r.txn, e.id),"          \
	" coalesce(r.amount, 0), coalesce(r.message, 'ok'), coalesce(r.kind, 1),"             \
	" coalesce(r.member, e.member), coalesce(r.key_hash, ?2), coalesce(r.key, e.key)"

/* Reads the record a statement finds (*row: whether it found one) into *out when it is the
 * key's (*found). */
static int read_record(store *s, sqlite3_stmt *stmt, int64_t member, int64_t key_hash,
		       const char *key, idem_row *out, bool *row, bool *found)
{
	*found = false;
	int rc = ly_sqlite_step_one(s, stmt, row, "looking up an idempotency key");
	if (rc != LOYAL_OK || !*row)
		return rc;
	const char *stored_key = (const char *)sqlite3_column_text(stmt, 8);
	*found = sqlite3_column_int64(stmt, 6) == member && sqlite3_column_int64(stmt, 7) == key_hash &&
		 stored_key && strcmp(stored_key, key) == 0;
	char *request = NULL, *message = NULL;
	if (*found) {
		out->rc = sqlite3_column_int64(stmt, 1);
		out->txn = sqlite3_column_int64(stmt, 2);
		out->amount = sqlite3_column_int64(stmt, 3);
		out->kind = sqlite3_column_int64(stmt, 5);
		rc = ly_sqlite_column_text(s, stmt, 0, &request);
		if (rc == LOYAL_OK)
			rc = ly_sqlite_column_text(s, stmt, 4, &message);
	}
	ly_sqlite_finish(stmt);
	out->request = request;
	out->message = message;
	if (rc != LOYAL_OK)
		ly_idem_row_clear(out);
	return rc;
}

int ly_sqlite_idem_get(store *s, int64_t member, int64_t key_hash, const char *key,
		       idem_row *out, bool *found)
{
	*out = (idem_row){.member = member, .key_hash = key_hash};
	*found = false;
	/* An event's key hash is not stored: its member and key decide (?2 stands in). */
	STMT(ST_IDEM_GET, "SELECT " SLOT_COLUMNS " FROM idem i LEFT JOIN idem_records r"
			  " ON r.id = i.record AND i.record > 0 LEFT JOIN events e"
			  " ON e.id = -i.record AND i.record < 0 WHERE i.hash = ?1");
	sqlite3_bind_int64(stmt, 1, ly_sqlite_idem_slot(member, key_hash));
	sqlite3_bind_int64(stmt, 2, key_hash);
	bool taken = false;
	int rc = read_record(s, stmt, member, key_hash, key, out, &taken, found);
	/* A free slot: no key has that hash, so none collides either. */
	if (rc != LOYAL_OK || *found || !taken)
		return rc;
	sqlite3_stmt *other = ly_sqlite_stmt(s, ST_IDEM_COLLISION_GET,
					     "SELECT " RECORD_COLUMNS " FROM idem_collisions c"
					     " JOIN idem_records r ON r.id = c.record WHERE"
					     " c.member = ?1 AND c.key_hash = ?2 AND c.key = ?3");
	if (!other)
		return s->error->code;
	sqlite3_bind_int64(other, 1, member);
	sqlite3_bind_int64(other, 2, key_hash);
	sqlite3_bind_text(other, 3, key, -1, SQLITE_STATIC);
	return read_record(s, other, member, key_hash, key, out, &taken, found);
}

int ly_sqlite_idem_claim(store *s, int64_t member, int64_t key_hash, const char *key,
			 int64_t event, idem_row *out, bool *found)
{
	/* The slot's insert is the look-up: taken, the key (or one colliding with it) is there. */
	*out = (idem_row){.member = member, .key_hash = key_hash};
	*found = false;
	int64_t record = -event;
	int rc = event ? LOYAL_OK
		       : ly_sqlite_next_id(s, ST_IDEM_NEXT_ID,
					   "SELECT coalesce(max(id), 0) + 1 FROM idem_records",
					   &sq(s)->next_record, &record, "claiming an idempotency key");
	STMT(ST_IDEM_CLAIM, "INSERT INTO idem(hash, record) VALUES(?1, ?2) ON CONFLICT DO NOTHING");
	sqlite3_bind_int64(stmt, 1, ly_sqlite_idem_slot(member, key_hash));
	sqlite3_bind_int64(stmt, 2, record);
	if (rc == LOYAL_OK)
		rc = ly_sqlite_step_done(s, stmt, "claiming an idempotency key");
	if (rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) == 1) {
		out->claim = record;
		return LOYAL_OK;
	}
	return rc == LOYAL_OK ? ly_sqlite_idem_get(s, member, key_hash, key, out, found) : rc;
}

int ly_sqlite_idem_put(store *s, const idem_row *idem)
{
	if (idem->claim < 0) /* the claim's event row is the record */
		return LOYAL_OK;
	if (idem->claim) { /* its slot names the record already */
		STMT(ST_IDEM_CLAIMED_PUT,
		     "INSERT INTO idem_records(member, key_hash, key, request, rc, txn, amount,"
		     " message, kind, id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
		sqlite3_bind_int64(stmt, 10, idem->claim);
		return put_record(s, stmt, idem);
	}
	STMT(ST_IDEM_PUT, "INSERT INTO idem_records(member, key_hash, key, request, rc, txn,"
			  " amount, message, kind) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	int rc = put_record(s, stmt, idem);
	int64_t record = ly_sqlite_last_rowid(s);
	sqlite3_stmt *slot = rc == LOYAL_OK ? ly_sqlite_stmt(s, ST_IDEM_SLOT_PUT,
							     "INSERT INTO idem(hash, record) VALUES(?1, ?2)"
							     " ON CONFLICT DO NOTHING")
					    : NULL;
	if (rc == LOYAL_OK && !slot)
		return s->error->code;
	if (rc != LOYAL_OK)
		return rc;
	sqlite3_bind_int64(slot, 1, ly_sqlite_idem_slot(idem->member, idem->key_hash));
	sqlite3_bind_int64(slot, 2, record);
	rc = ly_sqlite_step_done(s, slot, "recording an idempotency key");
	if (rc != LOYAL_OK || sqlite3_changes(sq(s)->sql) == 1)
		return rc;
	/* Another key has this hash: this one is filed apart. */
	sqlite3_stmt *apart = ly_sqlite_stmt(s, ST_IDEM_COLLISION_PUT,
					     "INSERT INTO idem_collisions(member, key_hash, key,"
					     " record) VALUES(?1, ?2, ?3, ?4)");
	if (!apart)
		return s->error->code;
	sqlite3_bind_int64(apart, 1, idem->member);
	sqlite3_bind_int64(apart, 2, idem->key_hash);
	sqlite3_bind_text(apart, 3, idem->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(apart, 4, record);
	return ly_sqlite_step_done(s, apart, "recording an idempotency key");
}

/* ---- sweeps ---- */

int ly_sqlite_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
		       int64_t **triples, size_t *count)
{
	/* Members in the order of their soonest due instant (the key the sweep pages by), each
	 * with the currencies of theirs that are due. */
	STMT(ST_DUE_MEMBERS,
	     "SELECT m.due_at, m.id, c.id FROM members m INDEXED BY members_due, currencies c"
	     " WHERE m.due_at <= ?1 AND m.due_at >= ?2 AND (m.due_at, m.id) >= (?2, ?3)"
	     " AND ly_balance(m.balances, c.id, 6) <= ?1"
	     " AND ((m.due_at, m.id) > (?2, ?3) OR c.id > ?4)"
	     " ORDER BY m.due_at, m.id, c.id LIMIT ?5");
	sqlite3_bind_int64(stmt, 1, at);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(stmt, 2 + i, after[i]);
	sqlite3_bind_int64(stmt, 5, (int64_t)limit);
	return ly_sqlite_collect_ints(s, stmt, 3, triples, count, "finding what is due");
}

int ly_sqlite_idle_members(store *s, int64_t currency, int64_t cutoff, int64_t **members,
		       size_t *count)
{
	STMT(ST_IDLE_MEMBERS,
	     "SELECT id FROM members WHERE last_active_at < ?2 AND ly_balance(balances, ?1, 0) > 0"
	     " ORDER BY id");
	sqlite3_bind_int64(stmt, 1, currency);
	sqlite3_bind_int64(stmt, 2, cutoff);
	return ly_sqlite_collect_ints(s, stmt, 1, members, count, "finding idle members");
}
