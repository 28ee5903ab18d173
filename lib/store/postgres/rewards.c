/* rewards.c - the PostgreSQL backend's redemptions and reward stock. */
#include "store/postgres/postgres.h"

#include <string.h>

#define REDEMPTION_COLUMNS \
	"id, member_id, reward, quantity, state, at, day, deadline, settled_at, postings, stocked," \
	" code"

/* Reads the one redemption a query may return (and, in column 12, its member's host id). */
static int read_redemption(store *s, PGresult *r, redemption_row *out, bool *found)
{
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		out->id = ly_pg_get_int(r, 0, 0);
		out->member = ly_pg_get_int(r, 0, 1);
		ly_pg_copy(r, 0, 2, out->reward, sizeof out->reward);
		out->quantity = ly_pg_get_int(r, 0, 3);
		out->state = (int)ly_pg_get_int(r, 0, 4);
		out->at = ly_pg_get_int(r, 0, 5);
		out->day = ly_pg_get_int(r, 0, 6);
		out->deadline = ly_pg_get_int(r, 0, 7);
		out->settled_at = ly_pg_get_int(r, 0, 8);
		ly_pg_copy(r, 0, 9, out->postings, sizeof out->postings);
		out->stocked = strcmp(PQgetvalue(r, 0, 10), "t") == 0;
		out->code = ly_pg_get_int(r, 0, 11);
		out->external[0] = '\0';
		if (PQnfields(r) > 12)
			ly_pg_copy(r, 0, 12, out->external, sizeof out->external);
	}
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_redemption_insert(store *s, redemption_row *row)
{
	pg_args a = {0};
	ly_pg_int(&a, row->member);
	ly_pg_text(&a, row->reward);
	ly_pg_int(&a, row->quantity);
	ly_pg_int(&a, row->state);
	ly_pg_int(&a, row->at);
	ly_pg_int(&a, row->day);
	ly_pg_int(&a, row->deadline);
	ly_pg_int(&a, row->settled_at);
	ly_pg_text(&a, row->postings);
	ly_pg_bool(&a, row->stocked);
	ly_pg_int(&a, row->code);
	PGresult *r = ly_pg_query(s, "INSERT INTO redemptions(member_id, id, reward, quantity, state,"
				     " at, day, deadline, settled_at, postings, stocked, code) VALUES($1,"
				     " nextval('redemption_ids'), $2, $3, $4, $5, $6, $7, $8, $9, $10,"
				     " $11)"
				     " RETURNING id",
				  &a, "recording a redemption");
	if (!r)
		return s->error->code;
	row->id = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_redemption_get(store *s, int64_t member, int64_t id, redemption_row *out,
			 bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, id);
	return read_redemption(s,
			       ly_pg_query(s, "SELECT " REDEMPTION_COLUMNS " FROM redemptions"
					      " WHERE member_id = $1 AND id = $2",
					   &a, "reading a redemption"),
			       out, found);
}

int ly_pg_redemption_settle(store *s, int64_t member, int64_t id, int state, int64_t at,
			    const char *postings)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, id);
	ly_pg_int(&a, state);
	ly_pg_int(&a, at);
	ly_pg_text(&a, postings);
	return ly_pg_exec_one(s, "UPDATE redemptions SET state = $3, settled_at = $4,"
				 " postings = $5 WHERE member_id = $1 AND id = $2",
			      &a, "settling a redemption", "the redemption is missing");
}

int ly_pg_redemption_count(store *s, int64_t member, const char *reward, int64_t from_day,
			   int64_t to_day, int64_t now, int64_t *out)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, reward);
	ly_pg_int(&a, from_day);
	ly_pg_int(&a, to_day);
	ly_pg_int(&a, now);
	PGresult *r = ly_pg_query(s, "SELECT coalesce(sum(quantity), 0) FROM redemptions"
				     " WHERE member_id = $1 AND reward = $2 AND day BETWEEN $3 AND $4"
				     " AND (state = 1 OR (state = 0 AND deadline > $5))",
				  &a, "counting redemptions");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_redemption_before(store *s, int64_t member, int64_t before, redemption_row *out,
			    bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, before ? before : INT64_MAX);
	return read_redemption(s,
			       ly_pg_query(s, "SELECT " REDEMPTION_COLUMNS " FROM redemptions"
					      " WHERE member_id = $1 AND id < $2"
					      " ORDER BY id DESC LIMIT 1",
					   &a, "listing redemptions"),
			       out, found);
}

int ly_pg_redemption_pending_after(store *s, int64_t after, redemption_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, after);
	return read_redemption(
		s,
		ly_pg_query(s, "SELECT r.id, r.member_id, reward, quantity, state, at, day,"
			       " deadline, settled_at, postings, stocked, code, k.external_id"
			       " FROM redemptions r"
			       " JOIN member_keys k ON k.member_id = r.member_id"
			       " WHERE r.state = 0 AND r.id > $1 ORDER BY r.id LIMIT 1",
			    &a, "listing pending redemptions"),
		out, found);
}

int ly_pg_redemption_due(store *s, int64_t at, redemption_row *out, bool *found)
{
	pg_args a = {0};
	ly_pg_int(&a, at);
	return read_redemption(s,
			       ly_pg_query(s, "SELECT " REDEMPTION_COLUMNS " FROM redemptions"
					      " WHERE state = 0 AND deadline <= $1"
					      " ORDER BY deadline, id LIMIT 1",
					   &a, "finding expired redemptions"),
			       out, found);
}

/* The units of pending stocked redemptions of reward $1 past their deadline at $2: free. */
#define DUE_UNITS                                                                  \
	"(SELECT coalesce(sum(quantity), 0) FROM redemptions WHERE reward = $1 AND"   \
	" state = 0 AND stocked AND deadline <= $2)"

int ly_pg_stock_take(store *s, const char *reward, int64_t quantity, int64_t stock, int64_t now,
		     bool *taken)
{
	*taken = false;
	if (quantity > stock)
		return LOYAL_OK;
	pg_args a = {0};
	ly_pg_text(&a, reward);
	/* The reward's row locked first (made if missing), so that the units counted next, in a
	 * statement of their own, see every sweep or redeemer that held it before. */
	int rc = ly_pg_exec(s, "INSERT INTO reward_stock VALUES($1, 0) ON CONFLICT DO NOTHING", &a,
			    "taking stock");
	PGresult *r = rc == LOYAL_OK ? ly_pg_query(s, "SELECT 1 FROM reward_stock WHERE reward = $1"
						      " FOR UPDATE",
						   &a, "taking stock")
				     : NULL;
	if (!r)
		return s->error->code;
	PQclear(r);
	ly_pg_int(&a, now);
	ly_pg_int(&a, quantity);
	ly_pg_int(&a, stock);
	r = ly_pg_query(s, "UPDATE reward_stock SET taken = taken + $3 WHERE reward = $1 AND"
			   " greatest(taken - " DUE_UNITS ", 0) + $3 <= $4 RETURNING taken",
			&a, "taking stock");
	if (!r)
		return s->error->code;
	*taken = PQntuples(r) == 1;
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_stock_return(store *s, const char *reward, int64_t quantity)
{
	pg_args a = {0};
	ly_pg_text(&a, reward);
	ly_pg_int(&a, quantity);
	return ly_pg_exec(s, "UPDATE reward_stock SET taken = greatest(taken - $2, 0)"
			     " WHERE reward = $1",
			  &a, "returning stock");
}

int ly_pg_stock_taken(store *s, const char *reward, int64_t now, int64_t *out)
{
	pg_args a = {0};
	ly_pg_text(&a, reward);
	ly_pg_int(&a, now);
	PGresult *r = ly_pg_query(s, "SELECT greatest(taken - " DUE_UNITS ", 0) FROM reward_stock"
				     " WHERE reward = $1",
				  &a, "reading stock");
	if (!r)
		return s->error->code;
	*out = PQntuples(r) == 1 ? ly_pg_get_int(r, 0, 0) : 0;
	PQclear(r);
	return LOYAL_OK;
}
