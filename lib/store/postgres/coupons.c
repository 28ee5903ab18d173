/* coupons.c - the PostgreSQL backend's coupon codes and their reservations. */
#include "store/postgres/postgres.h"

#include <string.h>

#define CODE_COLUMNS \
	"id, member_id, code, coupon, issued_at, valid_from, valid_until, uses_left, used_at"

static int read_code(store *s, PGresult *r, coupon_code_row *out, bool *found)
{
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		out->id = ly_pg_get_int(r, 0, 0);
		out->member = ly_pg_get_int(r, 0, 1);
		ly_pg_copy(r, 0, 2, out->code, sizeof out->code);
		ly_pg_copy(r, 0, 3, out->coupon, sizeof out->coupon);
		out->issued_at = ly_pg_get_int(r, 0, 4);
		out->valid_from = ly_pg_get_int(r, 0, 5);
		out->valid_until = ly_pg_get_int(r, 0, 6);
		out->uses_left = ly_pg_get_int(r, 0, 7);
		out->used_at = ly_pg_get_int(r, 0, 8);
	}
	PQclear(r);
	return LOYAL_OK;
}

/* Runs an insert that returns its row's id unless the code existed already. */
static int insert_code(store *s, const char *sql, const pg_args *a, int64_t *id, bool *added)
{
	PGresult *r = ly_pg_query(s, sql, a, "adding a coupon code");
	if (!r)
		return s->error->code;
	*added = PQntuples(r) == 1;
	if (*added && id)
		*id = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_coupon_code_add(store *s, const char *coupon, const char *code, bool *added)
{
	pg_args a = {0};
	ly_pg_text(&a, code);
	ly_pg_text(&a, coupon);
	return insert_code(s, "INSERT INTO coupon_codes(code, coupon) VALUES($1, $2)"
			      " ON CONFLICT(code) DO NOTHING RETURNING id",
			   &a, NULL, added);
}

/* An issued code's owner, times and uses, as parameters $1 to $5. */
static void issue_args(pg_args *a, const coupon_code_row *row)
{
	ly_pg_int(a, row->member);
	ly_pg_int(a, row->issued_at);
	ly_pg_int(a, row->valid_from);
	ly_pg_int(a, row->valid_until);
	ly_pg_int(a, row->uses_left);
}

int ly_pg_coupon_code_issue(store *s, coupon_code_row *row, bool *added)
{
	pg_args a = {0};
	issue_args(&a, row);
	ly_pg_text(&a, row->code);
	ly_pg_text(&a, row->coupon);
	return insert_code(s, "INSERT INTO coupon_codes(member_id, issued_at, valid_from, valid_until,"
			      " uses_left, code, coupon) VALUES($1, $2, $3, $4, $5, $6, $7)"
			      " ON CONFLICT(code) DO NOTHING RETURNING id",
			   &a, &row->id, added);
}

int ly_pg_coupon_pool_draw(store *s, coupon_code_row *row, bool *found)
{
	pg_args a = {0};
	issue_args(&a, row);
	ly_pg_text(&a, row->coupon);
	/* SKIP LOCKED: issuers on other connections each take a code of their own, never the
	 * same one, without waiting for each other. */
	PGresult *r = ly_pg_query(s, "UPDATE coupon_codes SET member_id = $1, issued_at = $2,"
				     " valid_from = $3, valid_until = $4, uses_left = $5 WHERE"
				     " code = (SELECT code FROM coupon_codes WHERE coupon = $6 AND"
				     " member_id = 0 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
				     " RETURNING id, code",
				  &a, "drawing a coupon code");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		row->id = ly_pg_get_int(r, 0, 0);
		ly_pg_copy(r, 0, 1, row->code, sizeof row->code);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_coupon_code_get(store *s, const char *code, coupon_code_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_text(&a, code);
	return read_code(s,
			 ly_pg_query(s, "SELECT " CODE_COLUMNS " FROM coupon_codes WHERE code = $1",
				     &a, "reading a coupon code"),
			 out, found);
}

int ly_pg_coupon_code_by_id(store *s, int64_t member, int64_t id, coupon_code_row *out,
			    bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, id);
	ly_pg_int(&a, member);
	return read_code(s,
			 ly_pg_query(s, "SELECT " CODE_COLUMNS " FROM coupon_codes WHERE id = $1"
					" AND member_id = $2",
				     &a, "reading a coupon code"),
			 out, found);
}

int ly_pg_coupon_code_use(store *s, int64_t id, int64_t uses_left, int64_t used_at)
{
	pg_args a = {0};
	ly_pg_int(&a, id);
	ly_pg_int(&a, uses_left);
	ly_pg_int(&a, used_at);
	return ly_pg_exec_one(s, "UPDATE coupon_codes SET uses_left = $2, used_at = $3 WHERE id = $1",
			      &a, "using a coupon code", "the coupon code is missing");
}

int ly_pg_coupon_code_before(store *s, int64_t member, int64_t before, coupon_code_row *out,
			     bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, before ? before : INT64_MAX);
	return read_code(s,
			 ly_pg_query(s, "SELECT " CODE_COLUMNS " FROM coupon_codes WHERE"
					" member_id = $1 AND member_id <> 0 AND id < $2"
					" ORDER BY id DESC LIMIT 1",
				     &a, "listing coupons"),
			 out, found);
}

int ly_pg_coupon_pool_left(store *s, const char *coupon, int64_t *out)
{
	pg_args a = {0};
	ly_pg_text(&a, coupon);
	PGresult *r = ly_pg_query(s, "SELECT count(*) FROM coupon_codes WHERE coupon = $1 AND"
				     " member_id = 0",
				  &a, "counting coupon codes");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_coupon_reservation_add(store *s, int64_t member, int64_t code_id, int64_t at,
				 int64_t *id)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, code_id);
	ly_pg_int(&a, at);
	PGresult *r = ly_pg_query(s, "INSERT INTO coupon_reservations(member_id, code, state, at)"
				     " VALUES($1, $2, 0, $3) RETURNING id",
				  &a, "reserving a coupon");
	if (!r)
		return s->error->code;
	*id = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_coupon_reservation_get(store *s, int64_t member, int64_t id, int64_t *code_id,
				 int *state, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, id);
	PGresult *r = ly_pg_query(s, "SELECT code, state FROM coupon_reservations WHERE"
				     " member_id = $1 AND id = $2",
				  &a, "reading a coupon reservation");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		*code_id = ly_pg_get_int(r, 0, 0);
		*state = (int)ly_pg_get_int(r, 0, 1);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_coupon_reservation_set(store *s, int64_t member, int64_t id, int state, int64_t at)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, id);
	ly_pg_int(&a, state);
	ly_pg_int(&a, at);
	return ly_pg_exec_one(s, "UPDATE coupon_reservations SET state = $3, at = $4 WHERE"
				 " member_id = $1 AND id = $2",
			      &a, "settling a coupon reservation", "the coupon reservation is missing");
}
