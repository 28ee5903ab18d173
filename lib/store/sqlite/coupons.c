/* coupons.c - the SQLite backend's coupon codes and their reservations. */
#include "store/sqlite/sqlite.h"

#define CODE_COLUMNS "id, member, code, coupon, issued_at, valid_from, valid_until, uses_left, used_at"

static int step_code(store *s, sqlite3_stmt *stmt, coupon_code_row *out, bool *found,
		     const char *doing)
{
	int rc = ly_sqlite_step_one(s, stmt, found, doing);
	if (rc != LOYAL_OK || !*found)
		return rc;
	out->id = sqlite3_column_int64(stmt, 0);
	out->member = sqlite3_column_int64(stmt, 1);
	ly_sqlite_copy_column(stmt, 2, out->code, sizeof out->code);
	ly_sqlite_copy_column(stmt, 3, out->coupon, sizeof out->coupon);
	out->issued_at = sqlite3_column_int64(stmt, 4);
	out->valid_from = sqlite3_column_int64(stmt, 5);
	out->valid_until = sqlite3_column_int64(stmt, 6);
	out->uses_left = sqlite3_column_int64(stmt, 7);
	out->used_at = sqlite3_column_int64(stmt, 8);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_coupon_code_add(store *s, const char *coupon, const char *code, bool *added)
{
	STMT(ST_COUPON_ADD, "INSERT INTO coupon_codes(code, coupon) VALUES(?1, ?2)"
			    " ON CONFLICT(code) DO NOTHING");
	sqlite3_bind_text(stmt, 1, code, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, coupon, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_done(s, stmt, "adding a coupon code");
	*added = rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) == 1;
	return rc;
}

int ly_sqlite_coupon_code_issue(store *s, coupon_code_row *row, bool *added)
{
	STMT(ST_COUPON_ISSUE, "INSERT INTO coupon_codes(code, coupon, member, issued_at, valid_from,"
			      " valid_until, uses_left) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
			      " ON CONFLICT(code) DO NOTHING");
	sqlite3_bind_text(stmt, 1, row->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, row->coupon, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, row->member);
	sqlite3_bind_int64(stmt, 4, row->issued_at);
	sqlite3_bind_int64(stmt, 5, row->valid_from);
	sqlite3_bind_int64(stmt, 6, row->valid_until);
	sqlite3_bind_int64(stmt, 7, row->uses_left);
	int rc = ly_sqlite_step_done(s, stmt, "issuing a coupon code");
	*added = rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) == 1;
	if (*added)
		row->id = sqlite3_last_insert_rowid(sq(s)->sql);
	return rc;
}

int ly_sqlite_coupon_pool_draw(store *s, coupon_code_row *row, bool *found)
{
	STMT(ST_COUPON_DRAW, "UPDATE coupon_codes SET member = ?2, issued_at = ?3, valid_from = ?4,"
			     " valid_until = ?5, uses_left = ?6 WHERE id = (SELECT id FROM"
			     " coupon_codes INDEXED BY coupon_codes_pool WHERE coupon = ?1 AND"
			     " member = 0 ORDER BY id LIMIT 1) RETURNING id, code");
	sqlite3_bind_text(stmt, 1, row->coupon, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, row->member);
	sqlite3_bind_int64(stmt, 3, row->issued_at);
	sqlite3_bind_int64(stmt, 4, row->valid_from);
	sqlite3_bind_int64(stmt, 5, row->valid_until);
	sqlite3_bind_int64(stmt, 6, row->uses_left);
	int rc = ly_sqlite_step_one(s, stmt, found, "drawing a coupon code");
	if (rc != LOYAL_OK || !*found)
		return rc;
	row->id = sqlite3_column_int64(stmt, 0);
	ly_sqlite_copy_column(stmt, 1, row->code, sizeof row->code);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_coupon_code_get(store *s, const char *code, coupon_code_row *out, bool *found)
{
	STMT(ST_COUPON_GET, "SELECT " CODE_COLUMNS " FROM coupon_codes WHERE code = ?1");
	sqlite3_bind_text(stmt, 1, code, -1, SQLITE_STATIC);
	return step_code(s, stmt, out, found, "reading a coupon code");
}

int ly_sqlite_coupon_code_by_id(store *s, int64_t member, int64_t id, coupon_code_row *out,
				bool *found)
{
	STMT(ST_COUPON_BY_ID, "SELECT " CODE_COLUMNS " FROM coupon_codes WHERE id = ?1"
			      " AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	return step_code(s, stmt, out, found, "reading a coupon code");
}

int ly_sqlite_coupon_code_use(store *s, int64_t id, int64_t uses_left, int64_t used_at)
{
	STMT(ST_COUPON_USE, "UPDATE coupon_codes SET uses_left = ?2, used_at = ?3 WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, uses_left);
	sqlite3_bind_int64(stmt, 3, used_at);
	return ly_sqlite_step_done(s, stmt, "using a coupon code");
}

int ly_sqlite_coupon_code_before(store *s, int64_t member, int64_t before, coupon_code_row *out,
				 bool *found)
{
	STMT(ST_COUPON_BEFORE, "SELECT " CODE_COLUMNS " FROM coupon_codes INDEXED BY"
			       " coupon_codes_member WHERE member = ?1 AND member <> 0 AND id < ?2"
			       " ORDER BY id DESC LIMIT 1");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, before ? before : INT64_MAX);
	return step_code(s, stmt, out, found, "listing coupons");
}

int ly_sqlite_coupon_pool_left(store *s, const char *coupon, int64_t *out)
{
	STMT(ST_COUPON_POOL_LEFT, "SELECT count(*) FROM coupon_codes INDEXED BY coupon_codes_pool"
				  " WHERE coupon = ?1 AND member = 0");
	sqlite3_bind_text(stmt, 1, coupon, -1, SQLITE_STATIC);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "counting coupon codes");
	*out = rc == LOYAL_OK && found ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == LOYAL_OK && found)
		ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_coupon_reservation_add(store *s, int64_t member, int64_t code_id, int64_t at,
				     int64_t *id)
{
	STMT(ST_COUPON_RESERVE, "INSERT INTO coupon_reservations(member, code, state, at)"
				" VALUES(?1, ?2, 0, ?3)");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, code_id);
	sqlite3_bind_int64(stmt, 3, at);
	int rc = ly_sqlite_step_done(s, stmt, "reserving a coupon");
	*id = rc == LOYAL_OK ? sqlite3_last_insert_rowid(sq(s)->sql) : 0;
	return rc;
}

int ly_sqlite_coupon_reservation_get(store *s, int64_t member, int64_t id, int64_t *code_id,
				     int *state, bool *found)
{
	STMT(ST_COUPON_RESERVATION_GET, "SELECT code, state FROM coupon_reservations WHERE id = ?1"
					" AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	int rc = ly_sqlite_step_one(s, stmt, found, "reading a coupon reservation");
	if (rc != LOYAL_OK || !*found)
		return rc;
	*code_id = sqlite3_column_int64(stmt, 0);
	*state = sqlite3_column_int(stmt, 1);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_coupon_reservation_set(store *s, int64_t member, int64_t id, int state, int64_t at)
{
	STMT(ST_COUPON_RESERVATION_SET, "UPDATE coupon_reservations SET state = ?3, at = ?4"
					" WHERE id = ?1 AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	sqlite3_bind_int(stmt, 3, state);
	sqlite3_bind_int64(stmt, 4, at);
	return ly_sqlite_step_done(s, stmt, "settling a coupon reservation");
}
