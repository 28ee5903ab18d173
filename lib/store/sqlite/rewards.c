/* rewards.c - the SQLite backend's redemptions and reward stock. */
#include "store/sqlite/sqlite.h"

#include <string.h>

#define REDEMPTION_COLUMNS \
	"id, member, reward, quantity, state, at, day, deadline, settled_at, postings, stocked, code"
/* The units of pending stocked redemptions of reward ?1 past their deadline at ?2: free. */
#define DUE_UNITS                                                                       \
	"(SELECT coalesce(sum(quantity), 0) FROM redemptions INDEXED BY redemptions_stock" \
	" WHERE reward = ?1 AND state = 0 AND stocked AND deadline <= ?2)"

static void read_redemption(sqlite3_stmt *stmt, redemption_row *out)
{
	out->id = sqlite3_column_int64(stmt, 0);
	out->member = sqlite3_column_int64(stmt, 1);
	ly_sqlite_copy_column(stmt, 2, out->reward, sizeof out->reward);
	out->quantity = sqlite3_column_int64(stmt, 3);
	out->state = sqlite3_column_int(stmt, 4);
	out->at = sqlite3_column_int64(stmt, 5);
	out->day = sqlite3_column_int64(stmt, 6);
	out->deadline = sqlite3_column_int64(stmt, 7);
	out->settled_at = sqlite3_column_int64(stmt, 8);
	ly_sqlite_copy_column(stmt, 9, out->postings, sizeof out->postings);
	out->stocked = sqlite3_column_int(stmt, 10) != 0;
	out->code = sqlite3_column_int64(stmt, 11);
	out->external[0] = '\0';
}

/* Steps a statement that returns at most one redemption (and, in column 12, a host id). */
static int step_redemption(store *s, sqlite3_stmt *stmt, redemption_row *out, bool *found,
			   const char *doing)
{
	int rc = ly_sqlite_step_one(s, stmt, found, doing);
	if (rc != LOYAL_OK || !*found)
		return rc;
	read_redemption(stmt, out);
	if (sqlite3_column_count(stmt) > 12)
		ly_sqlite_copy_column(stmt, 12, out->external, sizeof out->external);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_redemption_insert(store *s, redemption_row *row)
{
	STMT(ST_REDEMPTION_INSERT, "INSERT INTO redemptions(member, reward, quantity, state, at,"
				   " day, deadline, settled_at, postings, stocked, code)"
				   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
	sqlite3_bind_int64(stmt, 1, row->member);
	sqlite3_bind_text(stmt, 2, row->reward, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, row->quantity);
	sqlite3_bind_int(stmt, 4, row->state);
	sqlite3_bind_int64(stmt, 5, row->at);
	sqlite3_bind_int64(stmt, 6, row->day);
	sqlite3_bind_int64(stmt, 7, row->deadline);
	sqlite3_bind_int64(stmt, 8, row->settled_at);
	sqlite3_bind_text(stmt, 9, row->postings, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 10, row->stocked);
	sqlite3_bind_int64(stmt, 11, row->code);
	int rc = ly_sqlite_step_done(s, stmt, "recording a redemption");
	if (rc == LOYAL_OK)
		row->id = sqlite3_last_insert_rowid(sq(s)->sql);
	return rc;
}

int ly_sqlite_redemption_get(store *s, int64_t member, int64_t id, redemption_row *out,
			     bool *found)
{
	STMT(ST_REDEMPTION_GET, "SELECT " REDEMPTION_COLUMNS " FROM redemptions WHERE id = ?1"
				" AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	return step_redemption(s, stmt, out, found, "reading a redemption");
}

int ly_sqlite_redemption_settle(store *s, int64_t member, int64_t id, int state, int64_t at,
				const char *postings)
{
	STMT(ST_REDEMPTION_SETTLE, "UPDATE redemptions SET state = ?3, settled_at = ?4,"
				   " postings = ?5 WHERE id = ?1 AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	sqlite3_bind_int(stmt, 3, state);
	sqlite3_bind_int64(stmt, 4, at);
	sqlite3_bind_text(stmt, 5, postings, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "settling a redemption");
}

int ly_sqlite_redemption_count(store *s, int64_t member, const char *reward, int64_t from_day,
			       int64_t to_day, int64_t now, int64_t *out)
{
	STMT(ST_REDEMPTION_COUNT, "SELECT coalesce(sum(quantity), 0) FROM redemptions"
				  " WHERE member = ?1 AND reward = ?2 AND day BETWEEN ?3 AND ?4"
				  " AND (state = 1 OR (state = 0 AND deadline > ?5))");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, reward, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, from_day);
	sqlite3_bind_int64(stmt, 4, to_day);
	sqlite3_bind_int64(stmt, 5, now);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "counting redemptions");
	*out = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_redemption_before(store *s, int64_t member, int64_t before, redemption_row *out,
				bool *found)
{
	STMT(ST_REDEMPTION_BEFORE, "SELECT " REDEMPTION_COLUMNS " FROM redemptions INDEXED BY"
				   " redemptions_member WHERE member = ?1 AND id < ?2"
				   " ORDER BY id DESC LIMIT 1");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, before ? before : INT64_MAX);
	return step_redemption(s, stmt, out, found, "listing redemptions");
}

int ly_sqlite_redemption_pending_after(store *s, int64_t after, redemption_row *out,
				       bool *found)
{
	STMT(ST_REDEMPTION_PENDING, "SELECT r.id, r.member, reward, quantity, state, at, day,"
				    " deadline, settled_at, postings, stocked, code, m.external_id"
				    " FROM redemptions AS r INDEXED BY redemptions_pending"
				    " JOIN members AS m ON m.id = r.member"
				    " WHERE r.state = 0 AND r.id > ?1 ORDER BY r.id LIMIT 1");
	sqlite3_bind_int64(stmt, 1, after);
	return step_redemption(s, stmt, out, found, "listing pending redemptions");
}

int ly_sqlite_redemption_due(store *s, int64_t at, redemption_row *out, bool *found)
{
	STMT(ST_REDEMPTION_DUE, "SELECT " REDEMPTION_COLUMNS " FROM redemptions INDEXED BY"
				" redemptions_deadline WHERE state = 0 AND deadline <= ?1"
				" ORDER BY deadline, id LIMIT 1");
	sqlite3_bind_int64(stmt, 1, at);
	return step_redemption(s, stmt, out, found, "finding expired redemptions");
}

int ly_sqlite_stock_take(store *s, const char *reward, int64_t quantity, int64_t stock,
			 int64_t now, bool *taken)
{
	*taken = false;
	if (quantity > stock)
		return LOYAL_OK;
	STMT(ST_STOCK_TAKE, "INSERT INTO reward_stock(reward, taken) VALUES(?1, ?3)"
			    " ON CONFLICT(reward) DO UPDATE SET taken = taken + ?3"
			    " WHERE max(taken - " DUE_UNITS ", 0) + ?3 <= ?4 RETURNING taken");
	sqlite3_bind_text(stmt, 1, reward, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, quantity);
	sqlite3_bind_int64(stmt, 4, stock);
	int rc = ly_sqlite_step_one(s, stmt, taken, "taking stock");
	if (rc == LOYAL_OK && *taken)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_stock_return(store *s, const char *reward, int64_t quantity)
{
	STMT(ST_STOCK_RETURN, "UPDATE reward_stock SET taken = max(taken - ?2, 0) WHERE reward = ?1");
	sqlite3_bind_text(stmt, 1, reward, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, quantity);
	return ly_sqlite_step_done(s, stmt, "returning stock");
}

int ly_sqlite_stock_taken(store *s, const char *reward, int64_t now, int64_t *out)
{
	STMT(ST_STOCK_TAKEN, "SELECT max(taken - " DUE_UNITS ", 0) FROM reward_stock"
			     " WHERE reward = ?1");
	sqlite3_bind_text(stmt, 1, reward, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading stock");
	*out = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}
