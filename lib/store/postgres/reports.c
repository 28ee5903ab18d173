/* reports.c - the PostgreSQL backend's reports and the invariant checks of loyal_verify, as
 * set-based queries. */
#include "store/postgres/postgres.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

/* The first day of the period holding day number X, for each kind of period. */
#define DAY_START(x) "(" x ")"
#define WEEK_START(x) "(((" x ") + 3) / 7 * 7 - 3)"
#define MONTH_START(x) \
	"(date_trunc('month', date '1970-01-01' + (" x ")::integer)::date - date '1970-01-01')"

/* Hands each row of a report's result to read (which fills *row from it), then to visit. */
int ly_pg_visit_rows(store *s, PGresult *r, void (*read)(const PGresult *, int, void *),
		      void *row, store_row_fn visit, void *ctx)
{
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	for (int i = 0; i < PQntuples(r) && rc == LOYAL_OK; i++) {
		read(r, i, row);
		rc = visit(ctx, row);
	}
	PQclear(r);
	return rc;
}

static void read_liability(const PGresult *r, int i, void *out)
{
	*(liability_row *)out = (liability_row){.currency = ly_pg_get_int(r, i, 0),
						.available = ly_pg_get_total(r, i, 1),
						.pending = ly_pg_get_total(r, i, 2),
						.held = ly_pg_get_total(r, i, 3),
						.debt = ly_pg_get_total(r, i, 4),
						.outstanding = ly_pg_get_total(r, i, 5),
						.members = ly_pg_get_int(r, i, 6)};
}

int ly_pg_report_liability(store *s, store_row_fn visit, void *ctx)
{
	liability_row row;
	return ly_pg_visit_rows(s,
			  ly_pg_query(s, "SELECT currency, sum(greatest(available, 0)), sum(pending),"
					 " sum(held), sum(greatest(-available::numeric, 0)),"
					 " sum(greatest(available, 0)::numeric + pending + held),"
					 " count(*) FILTER (WHERE available > 0 OR pending > 0 OR"
					 " held > 0) FROM balances GROUP BY currency ORDER BY currency",
				      NULL, "reporting liability"),
			  read_liability, &row, visit, ctx);
}

static void read_flows(const PGresult *r, int i, void *out)
{
	*(flows_row *)out = (flows_row){.currency = ly_pg_get_int(r, i, 0),
					.issued = ly_pg_get_total(r, i, 1),
					.redeemed = ly_pg_get_total(r, i, 2),
					.expired = ly_pg_get_total(r, i, 3),
					.adjusted = ly_pg_get_total(r, i, 4),
					.reversed = ly_pg_get_total(r, i, 5),
					.breakage = ly_pg_get_double(r, i, 6),
					.has_breakage = !ly_pg_is_null(r, i, 6)};
}

int ly_pg_report_flows(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, from);
	ly_pg_int(&a, to);
	flows_row row;
	return ly_pg_visit_rows(
		s,
		ly_pg_query(s,
			    "SELECT e.currency,"
			    " sum(e.amount) FILTER (WHERE e.debit_account = -1),"
			    " sum(CASE WHEN e.credit_account = -2 THEN e.amount::numeric ELSE 0 END"
			    "   - CASE WHEN e.debit_account = -2 THEN e.amount::numeric ELSE 0 END),"
			    " sum(e.amount) FILTER (WHERE e.credit_account = -3),"
			    " sum(CASE WHEN e.debit_account = -4 THEN e.amount::numeric ELSE 0 END"
			    "   - CASE WHEN e.credit_account = -4 THEN e.amount::numeric ELSE 0 END),"
			    " sum(e.amount) FILTER (WHERE e.credit_account = -1),"
			    " coalesce(sum(e.amount) FILTER (WHERE e.credit_account = -3), 0)::float8 /"
			    "   nullif(coalesce(sum(e.amount) FILTER (WHERE e.debit_account = -1), 0),"
			    "   0)::float8"
			    " FROM entries e JOIN txns t ON t.member_id = e.member_id AND"
			    " t.id = e.txn WHERE t.at >= $1 AND t.at < $2"
			    " GROUP BY e.currency ORDER BY e.currency",
			    &a, "reporting flows"),
		read_flows, &row, visit, ctx);
}

#define ACTIVE_SQL(start)                                                                  \
	"SELECT " start("day") " AS period, count(DISTINCT member_id) FROM activity"        \
	" WHERE substr(type, 1, 1) <> '@' AND day BETWEEN $1 AND $2"                        \
	" GROUP BY period ORDER BY period"

static void read_active(const PGresult *r, int i, void *out)
{
	*(active_row *)out = (active_row){.period = ly_pg_get_int(r, i, 0),
					  .active = ly_pg_get_int(r, i, 1)};
}

int ly_pg_report_active(store *s, enum store_period period, int64_t from_day, int64_t to_day,
			store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, from_day);
	ly_pg_int(&a, to_day);
	active_row row;
	const char *doing = "reporting activity";
	PGresult *r = period == PERIOD_DAY    ? ly_pg_query(s, ACTIVE_SQL(DAY_START), &a, doing)
		      : period == PERIOD_WEEK ? ly_pg_query(s, ACTIVE_SQL(WEEK_START), &a, doing)
					      : ly_pg_query(s, ACTIVE_SQL(MONTH_START), &a, doing);
	return ly_pg_visit_rows(s, r, read_active, &row, visit, ctx);
}

/* Cohort of each member joining in range, and the periods each was active in. */
#define RETENTION_SQL(start)                                                                  \
	"WITH cohorts AS (SELECT id, " start("((joined_at + $3) / 86400000)") " AS cohort"     \
	" FROM members WHERE joined_at >= $4 AND joined_at < $5), acts AS (SELECT DISTINCT"    \
	" member_id, " start("day") " AS period FROM activity WHERE substr(type, 1, 1) <> '@'" \
	" AND day BETWEEN $1 AND $2) SELECT c.cohort, (SELECT count(*) FROM cohorts k WHERE"   \
	" k.cohort = c.cohort), a.period, count(*) FROM cohorts c LEFT JOIN acts a ON"         \
	" a.member_id = c.id AND a.period >= c.cohort GROUP BY c.cohort, a.period"             \
	" ORDER BY c.cohort, a.period NULLS FIRST"

static void read_retention(const PGresult *r, int i, void *out)
{
	*(retention_row *)out = (retention_row){
		.cohort = ly_pg_get_int(r, i, 0),
		.members = ly_pg_get_int(r, i, 1),
		.period = ly_pg_is_null(r, i, 2) ? INT64_MIN : ly_pg_get_int(r, i, 2),
		.active = ly_pg_get_int(r, i, 3)};
}

int ly_pg_report_retention(store *s, enum store_period period, int64_t from_day,
			   int64_t to_day, int64_t joined_from, int64_t joined_to,
			   int64_t utc_offset_ms, store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, from_day);
	ly_pg_int(&a, to_day);
	ly_pg_int(&a, utc_offset_ms);
	ly_pg_int(&a, joined_from);
	ly_pg_int(&a, joined_to);
	retention_row row;
	const char *doing = "reporting retention";
	PGresult *r = period == PERIOD_DAY ? ly_pg_query(s, RETENTION_SQL(DAY_START), &a, doing)
		      : period == PERIOD_WEEK
			      ? ly_pg_query(s, RETENTION_SQL(WEEK_START), &a, doing)
			      : ly_pg_query(s, RETENTION_SQL(MONTH_START), &a, doing);
	return ly_pg_visit_rows(s, r, read_retention, &row, visit, ctx);
}

static void read_tier_size(const PGresult *r, int i, void *out)
{
	*(size_row *)out = (size_row){.kind = SIZE_TIER, .name = PQgetvalue(r, i, 0),
				      .members = ly_pg_get_int(r, i, 1)};
}

static void read_segment_size(const PGresult *r, int i, void *out)
{
	read_tier_size(r, i, out);
	((size_row *)out)->kind = SIZE_SEGMENT;
}

int ly_pg_report_sizes(store *s, store_row_fn visit, void *ctx)
{
	size_row row;
	int rc = ly_pg_visit_rows(s,
			    ly_pg_query(s, "SELECT tier, count(*) FROM members WHERE tier <> ''"
					   " GROUP BY tier ORDER BY tier COLLATE \"C\"",
					NULL, "reporting sizes"),
			    read_tier_size, &row, visit, ctx);
	if (rc == LOYAL_OK)
		rc = ly_pg_visit_rows(s,
				ly_pg_query(s, "SELECT segment, count(*) FROM segment_members"
					       " GROUP BY segment ORDER BY segment COLLATE \"C\"",
					    NULL, "reporting sizes"),
				read_segment_size, &row, visit, ctx);
	return rc;
}

static void read_reward_row(const PGresult *r, int i, void *out)
{
	reward_report_row *row = out;
	row->kind = (int)ly_pg_get_int(r, i, 0);
	ly_pg_copy(r, i, 1, row->name, sizeof row->name);
	ly_pg_copy(r, i, 2, row->currency, sizeof row->currency);
	row->state = (int)ly_pg_get_int(r, i, 3);
	row->count = ly_pg_get_int(r, i, 4);
	row->units = ly_pg_get_int(r, i, 5);
	row->members = ly_pg_get_int(r, i, 6);
	row->amount = ly_pg_get_int(r, i, 7);
}

int ly_pg_report_rewards(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, from);
	ly_pg_int(&a, to);
	reward_report_row row;
	return ly_pg_visit_rows(
		s,
		ly_pg_query(s, "SELECT 0, reward, '', state, count(*), sum(quantity), 0, 0"
			       " FROM redemptions WHERE at >= $1 AND at < $2 GROUP BY reward, state"
			       " UNION ALL SELECT 5, reward, '', 0, 0, 0, count(DISTINCT member_id), 0"
			       " FROM redemptions WHERE at >= $1 AND at < $2 AND state IN (0, 1)"
			       " GROUP BY reward"
			       " UNION ALL SELECT 1, r.reward, p ->> 'currency', 1, 0, 0, 0,"
			       " sum((p ->> 'amount')::bigint) FROM redemptions r,"
			       " jsonb_array_elements(r.postings::jsonb) p WHERE r.at >= $1 AND"
			       " r.at < $2 AND r.state = 1 GROUP BY 2, 3"
			       " UNION ALL SELECT 2, coupon, '', 0, count(*), 0, 0, 0 FROM coupon_codes"
			       " WHERE member_id <> 0 AND issued_at >= $1 AND issued_at < $2"
			       " GROUP BY coupon"
			       " UNION ALL SELECT 3, coupon, '', 0, count(*), 0, 0, 0 FROM coupon_codes"
			       " WHERE used_at <> 0 AND used_at >= $1 AND used_at < $2 GROUP BY coupon"
			       " UNION ALL SELECT 4, coupon, '', 0, count(*), 0, 0, 0 FROM coupon_codes"
			       " WHERE member_id = 0 GROUP BY coupon",
			    &a, "reporting rewards"),
		read_reward_row, &row, visit, ctx);
}

/* ---- verify ---- */

#define ENTRY_FLOWS                                                                          \
	"flows(currency, account, amount) AS (SELECT currency, credit_account, amount::numeric" \
	" FROM entries UNION ALL SELECT currency, debit_account, -amount::numeric FROM entries)"
#define MEMBER_ACCOUNTS                                                                      \
	"stored(currency, account, total) AS (SELECT currency, member_id * 4, available::numeric" \
	" FROM balances UNION ALL SELECT currency, member_id * 4 + 1, pending FROM balances"      \
	" UNION ALL SELECT currency, member_id * 4 + 2, held FROM balances)"

static const struct check {
	const char *sql;
	const char *message; /* printf with the four integers of the violating row */
} checks[] = {
	{"WITH " ENTRY_FLOWS ", " MEMBER_ACCOUNTS ", sums AS (SELECT currency, account,"
	 " sum(amount) AS total FROM flows WHERE account >= 0 GROUP BY 1, 2)"
	 " SELECT coalesce(s.currency, t.currency), coalesce(s.account, t.account),"
	 " coalesce(s.total, 0), coalesce(t.total, 0) FROM sums s FULL JOIN stored t"
	 " ON s.currency = t.currency AND s.account = t.account"
	 " WHERE coalesce(s.total, 0) <> coalesce(t.total, 0) LIMIT 1",
	 "invariant 2: currency #%lld account #%lld: its entries sum to %lld, its balance says "
	 "%lld"},
	{"WITH " ENTRY_FLOWS ", " MEMBER_ACCOUNTS ", totals AS (SELECT currency, amount FROM flows"
	 " WHERE account < 0 UNION ALL SELECT currency, total FROM stored)"
	 " SELECT currency, sum(amount), 0, 0 FROM totals GROUP BY 1 HAVING sum(amount) <> 0"
	 " LIMIT 1",
	 "invariant 1: the accounts of currency #%lld sum to %lld, not zero%.0lld%.0lld"},
	{"WITH lotted AS (SELECT member_id, currency, sum(remaining) FILTER (WHERE"
	 " pending_until = 0) AS active FROM lots WHERE remaining > 0 GROUP BY 1, 2)"
	 " SELECT b.member_id, b.currency, b.available, coalesce(l.active, 0) FROM balances b"
	 " LEFT JOIN lotted l USING (member_id, currency) WHERE coalesce(l.active, 0) <>"
	 " greatest(b.available, 0) LIMIT 1",
	 "invariant 2: member #%lld currency #%lld: available %lld but active lots hold %lld"},
	{"WITH lotted AS (SELECT member_id, currency, sum(remaining) FILTER (WHERE"
	 " pending_until > 0) AS pending FROM lots WHERE remaining > 0 GROUP BY 1, 2)"
	 " SELECT b.member_id, b.currency, b.pending, coalesce(l.pending, 0) FROM balances b"
	 " LEFT JOIN lotted l USING (member_id, currency) WHERE coalesce(l.pending, 0) <>"
	 " b.pending LIMIT 1",
	 "invariant 2: member #%lld currency #%lld: pending %lld but pending lots hold %lld"},
	{"WITH holding AS (SELECT member_id, currency, sum(amount - captured) AS held FROM holds"
	 " WHERE state = 0 GROUP BY 1, 2) SELECT b.member_id, b.currency, b.held,"
	 " coalesce(h.held, 0) FROM balances b LEFT JOIN holding h USING (member_id, currency)"
	 " WHERE coalesce(h.held, 0) <> b.held LIMIT 1",
	 "invariant 2: member #%lld currency #%lld: held %lld but open holds hold %lld"},
	{"WITH sides(member_id, lot, remaining, moved) AS (SELECT member_id, id, remaining, 0"
	 " FROM lots UNION ALL SELECT member_id, lot, 0, amount FROM moves) SELECT lot,"
	 " sum(remaining), sum(moved), 0 FROM sides GROUP BY member_id, lot HAVING"
	 " sum(remaining) <> sum(moved) LIMIT 1",
	 "lot %lld has %lld points left, its moves add up to %lld%.0lld"},
	{"SELECT id, member_id, amount, remaining FROM lots WHERE remaining < 0 OR"
	 " remaining > amount LIMIT 1",
	 "lot %lld of member #%lld has %lld points and %lld left"},
	/* Joined by member too, so that the join stays on one shard under Citus. */
	{"SELECT t.id, t.prev, t.member_id, 0 FROM txns t LEFT JOIN txns p ON"
	 " p.member_id = t.member_id AND p.id = t.prev WHERE t.prev >= t.id OR (t.prev <> 0 AND"
	 " p.id IS NULL) LIMIT 1",
	 "invariant 3: transaction %lld follows %lld, which is not one of member #%lld's"
	 "%.0lld"},
	{"SELECT member_id, prev, count(*), 0 FROM txns GROUP BY member_id, prev"
	 " HAVING count(*) > 1 LIMIT 1",
	 "invariant 3: member #%lld has two transactions after %lld (%lld)%.0lld"},
	{"SELECT m.id, m.last_txn, coalesce(t.member_id, -1), 0 FROM members m LEFT JOIN txns t"
	 " ON t.member_id = m.id AND t.id = m.last_txn WHERE m.last_txn <> 0 AND (t.id IS NULL"
	 " OR EXISTS (SELECT 1 FROM txns f WHERE f.member_id = m.id AND f.prev = m.last_txn))"
	 " LIMIT 1",
	 "invariant 3: member #%lld's last transaction %lld is missing or not the last (%lld)"
	 "%.0lld"},
	{"SELECT i.member_id, i.txn, i.rc, i.kind FROM idem i LEFT JOIN txns t ON t.id = i.txn"
	 " AND i.kind = 0 LEFT JOIN events e ON e.member_id = i.member_id AND e.id = i.txn AND"
	 " i.kind = 1 WHERE (i.kind = 0 AND i.rc = 0 AND (t.id IS NULL OR"
	 " t.member_id <> i.member_id)) OR (i.kind = 1 AND e.id IS NULL) OR (i.rc <> 0 AND"
	 " i.txn <> 0) LIMIT 1",
	 "invariant 5: member #%lld's idempotency record names transaction or event %lld "
	 "(outcome %lld, kind %lld) wrongly"},
	{"SELECT t.id, t.event, t.kind, 0 FROM txns t LEFT JOIN events e ON e.id = t.event"
	 " WHERE t.event <> 0 AND (e.id IS NULL OR t.kind <> 1) LIMIT 1",
	 "transaction %lld names event %lld, which is missing or made no credit (kind %lld)"
	 "%.0lld"},
	/* A badge award is a member's, of a badge (and a level of it, when it has levels) that
	 * a version of the program defined. */
	{"WITH named(badge, level) AS (SELECT DISTINCT b.value ->> 'name', coalesce(l.value ->>"
	 " 'name', '') FROM program_versions p CROSS JOIN LATERAL jsonb_array_elements("
	 "coalesce(p.document::jsonb -> 'badges', '[]')) b LEFT JOIN LATERAL"
	 " jsonb_array_elements(coalesce(b.value -> 'levels', '[]')) l ON true)"
	 " SELECT a.id, a.member_id, a.kind, 0 FROM badge_awards a LEFT JOIN members m"
	 " ON m.id = a.member_id WHERE m.id IS NULL OR a.kind NOT IN (0, 1, 2) OR NOT EXISTS"
	 " (SELECT 1 FROM named n WHERE n.badge = a.badge AND n.level = a.level) LIMIT 1",
	 "badge award %lld is not member #%lld's, or names a badge or level that no version of "
	 "the program defined (kind %lld)%.0lld"},
	/* Rewards: a stock counts the units of its redemptions that hold them; a redemption's
	 * key names the redemption. */
	{"SELECT s.taken, coalesce(sum(r.quantity), 0), 0, 0 FROM reward_stock s LEFT JOIN"
	 " redemptions r ON r.reward = s.reward AND r.stocked AND r.state IN (0, 1)"
	 " GROUP BY s.reward, s.taken HAVING s.taken <> coalesce(sum(r.quantity), 0) LIMIT 1",
	 "a reward's stock counts %lld units taken, its redemptions %lld%.0lld%.0lld"},
	{"SELECT i.member_id, i.txn, 0, 0 FROM idem i LEFT JOIN redemptions r"
	 " ON r.member_id = i.member_id AND r.id = i.txn WHERE i.kind = 3 AND i.rc = 0"
	 " AND r.id IS NULL LIMIT 1",
	 "member #%lld's idempotency record names redemption %lld, which is missing"
	 "%.0lld%.0lld"},
};

#define PAGE 1000

int ly_pg_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx)
{
	int rc = ly_pg_read_begin(s);
	int64_t after = 0;
	for (bool more = true; rc == LOYAL_OK && more;) {
		pg_args a = {0};
		ly_pg_int(&a, after);
		ly_pg_int(&a, PAGE);
		PGresult *r = ly_pg_query(s, "SELECT t.id, coalesce(p.hash, 0) FROM txns t LEFT JOIN"
					     " txns p ON p.member_id = t.member_id AND p.id = t.prev"
					     " WHERE t.id > $1 ORDER BY t.id LIMIT $2",
					  &a, "verifying the chain");
		if (!r) {
			rc = s->error->code;
			break;
		}
		int rows = PQntuples(r);
		for (int i = 0; i < rows && rc == LOYAL_OK; i++)
			rc = visit(ctx, after = ly_pg_get_int(r, i, 0), ly_pg_get_int(r, i, 1));
		more = rows == PAGE;
		PQclear(r);
	}
	ly_pg_read_end(s);
	return rc;
}

/* Every key is filed under its own hash. */
static int check_key_hashes(store *s)
{
	int64_t member = -1, hash = INT64_MIN;
	char key[TEXT_MAX_BYTES + 1] = "";
	for (bool more = true; more;) {
		pg_args a = {0};
		ly_pg_int(&a, member);
		ly_pg_int(&a, hash);
		ly_pg_text(&a, key);
		ly_pg_int(&a, PAGE);
		PGresult *r = ly_pg_query(s, "SELECT member_id, key_hash, key FROM idem WHERE"
					     " (member_id, key_hash, key) > ($1, $2, $3)"
					     " ORDER BY member_id, key_hash, key LIMIT $4",
					  &a, "verifying idempotency keys");
		if (!r)
			return s->error->code;
		int rows = PQntuples(r);
		for (int i = 0; i < rows; i++) {
			const char *k = PQgetvalue(r, i, 2);
			member = ly_pg_get_int(r, i, 0);
			hash = ly_pg_get_int(r, i, 1);
			snprintf(key, sizeof key, "%s", k);
			if ((int64_t)XXH3_64bits(k, strlen(k)) != hash) {
				int rc = ly_fail(s->error, LOYAL_ECORRUPT,
						 "invariant 5: member #%lld's idempotency key '%s' is "
						 "filed under the wrong hash",
						 (long long)member, k);
				PQclear(r);
				return rc;
			}
		}
		more = rows == PAGE;
		PQclear(r);
	}
	return LOYAL_OK;
}

int ly_pg_check_invariants(store *s)
{
	int rc = ly_pg_read_begin(s);
	for (size_t i = 0; i < sizeof checks / sizeof *checks && rc == LOYAL_OK; i++) {
		PGresult *r = ly_pg_query(s, checks[i].sql, NULL, "verifying");
		if (!r) {
			rc = s->error->code;
			break;
		}
		if (PQntuples(r) > 0) {
			int64_t found[4] = {0};
			for (int c = 0; c < 4 && c < PQnfields(r); c++)
				found[c] = ly_pg_get_int(r, 0, c);
			char where[240];
			snprintf(where, sizeof where, "database on server '%s'", pq(s)->server);
			rc = ly_store_violation(s->error, where, checks[i].message, found);
		}
		PQclear(r);
	}
	if (rc == LOYAL_OK)
		rc = check_key_hashes(s);
	if (rc == LOYAL_ECORRUPT)
		ly_pg_mark_damaged(s);
	ly_pg_read_end(s);
	return rc;
}

/* ---- leaderboards ---- */

int ly_pg_board_add(store *s, const char *board, int64_t period, int64_t member, double delta,
		    int64_t at)
{
	pg_args a = {0};
	char score[40];
	snprintf(score, sizeof score, "%.17g", delta);
	ly_pg_text(&a, board);
	ly_pg_int(&a, period);
	ly_pg_int(&a, member);
	ly_pg_text(&a, score);
	ly_pg_int(&a, at);
	return ly_pg_exec(s, "INSERT INTO board_scores(member_id, board, period, score, at)"
			     " VALUES($3, $1, $2, $4, $5) ON CONFLICT (member_id, board, period)"
			     " DO UPDATE SET score = board_scores.score + $4, at = $5",
			  &a, "scoring a leaderboard");
}

static void read_board_row(const PGresult *r, int i, void *out)
{
	board_row *row = out;
	row->rank++;
	ly_pg_copy(r, i, 0, row->member, sizeof row->member);
	row->score = ly_pg_get_double(r, i, 1);
}

int ly_pg_board_page(store *s, const char *board, int64_t period, int64_t offset, int64_t limit,
		     store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_text(&a, board);
	ly_pg_int(&a, period);
	ly_pg_int(&a, limit);
	ly_pg_int(&a, offset);
	board_row row = {.rank = offset};
	return ly_pg_visit_rows(s,
			  ly_pg_query(s, "SELECT m.external_id, b.score FROM (SELECT member_id, score,"
					 " at FROM board_scores WHERE board = $1 AND period = $2"
					 " ORDER BY score DESC, at, member_id LIMIT $3 OFFSET $4) b"
					 " JOIN members m ON m.id = b.member_id"
					 " ORDER BY b.score DESC, b.at, b.member_id",
				      &a, "reading a leaderboard"),
			  read_board_row, &row, visit, ctx);
}

int ly_pg_board_rank(store *s, const char *board, int64_t period, int64_t member, int64_t *rank,
		     double *score, bool *found)
{
	pg_args a = {0};
	ly_pg_text(&a, board);
	ly_pg_int(&a, period);
	ly_pg_int(&a, member);
	PGresult *r = ly_pg_query(
		s,
		"SELECT b.score, (SELECT count(*) FROM board_scores o WHERE o.board = $1"
		" AND o.period = $2 AND o.score > b.score) + (SELECT count(*) FROM board_scores o"
		" WHERE o.board = $1 AND o.period = $2 AND o.score = b.score AND (o.at < b.at OR"
		" (o.at = b.at AND o.member_id < b.member_id))) + 1"
		" FROM board_scores b WHERE b.board = $1 AND b.period = $2 AND b.member_id = $3",
		&a, "ranking on a leaderboard");
	if (!r)
		return s->error->code;
	*found = PQntuples(r) == 1;
	if (*found) {
		*score = ly_pg_get_double(r, 0, 0);
		*rank = ly_pg_get_int(r, 0, 1);
	}
	PQclear(r);
	return LOYAL_OK;
}
