/* report_store.c - the SQLite backend's reports: set-based queries, their rows visited. */
#include "store/sqlite/sqlite.h"

/* The first day of the period holding day number X, for each kind of period. */
#define DAY_START(x) "(" x ")"
#define WEEK_START(x) "(((" x ") + 3) / 7 * 7 - 3)"
#define MONTH_START(x) \
	"CAST(unixepoch(date((" x ") * 86400, 'unixepoch', 'start of month')) / 86400 AS INTEGER)"

/* Steps a report's statement, handing each row to read (which fills *row from it) and then to
 * visit; finishes the statement. Returns the visitor's first refusal or SQLite's failure. */
int ly_sqlite_visit_rows(store *s, sqlite3_stmt *stmt, void (*read)(sqlite3_stmt *, void *),
		      void *row, store_row_fn visit, void *ctx, const char *doing)
{
	int rc, visited = LOYAL_OK;
	while (visited == LOYAL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		read(stmt, row);
		visited = visit(ctx, row);
	}
	ly_sqlite_finish(stmt);
	if (visited != LOYAL_OK)
		return visited;
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, doing);
}

static void read_liability(sqlite3_stmt *stmt, void *out)
{
	*(liability_row *)out = (liability_row){
		.currency = sqlite3_column_int64(stmt, 0),
		.available = ly_sqlite_column_total(stmt, 1),
		.pending = ly_sqlite_column_total(stmt, 2),
		.held = ly_sqlite_column_total(stmt, 3),
		.debt = ly_sqlite_column_total(stmt, 4),
		.outstanding = ly_sqlite_column_total(stmt, 5),
		.members = sqlite3_column_int64(stmt, 6)};
}

int ly_sqlite_report_liability(store *s, store_row_fn visit, void *ctx)
{
	STMT(ST_REPORT_LIABILITY,
	     "WITH " MEMBER_BALANCES
	     " SELECT currency, sum128(max(available, 0)), sum128(pending), sum128(held),"
	     " sum128(max(-available, 0)), sum128(max(available, 0), pending, held),"
	     " count(*) FILTER (WHERE available > 0 OR pending > 0 OR held > 0)"
	     " FROM balances GROUP BY currency ORDER BY currency");
	liability_row row;
	return ly_sqlite_visit_rows(s, stmt, read_liability, &row, visit, ctx, "reporting liability");
}

static void read_flows(sqlite3_stmt *stmt, void *out)
{
	*(flows_row *)out = (flows_row){
		.currency = sqlite3_column_int64(stmt, 0),
		.issued = ly_sqlite_column_total(stmt, 1),
		.redeemed = ly_sqlite_column_total(stmt, 2),
		.expired = ly_sqlite_column_total(stmt, 3),
		.adjusted = ly_sqlite_column_total(stmt, 4),
		.reversed = ly_sqlite_column_total(stmt, 5),
		.breakage = sqlite3_column_double(stmt, 6),
		.has_breakage = sqlite3_column_type(stmt, 6) != SQLITE_NULL};
}

int ly_sqlite_report_flows(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx)
{
	STMT(ST_REPORT_FLOWS,
	     "SELECT e.currency,"
	     " sum128(e.amount) FILTER (WHERE e.debit_account = -1),"
	     " sum128(iif(e.credit_account = -2, e.amount, 0), iif(e.debit_account = -2,"
	     "   -e.amount, 0)),"
	     " sum128(e.amount) FILTER (WHERE e.credit_account = -3),"
	     " sum128(iif(e.debit_account = -4, e.amount, 0), iif(e.credit_account = -4,"
	     "   -e.amount, 0)),"
	     " sum128(e.amount) FILTER (WHERE e.credit_account = -1),"
	     " total(e.amount) FILTER (WHERE e.credit_account = -3) /"
	     "   total(e.amount) FILTER (WHERE e.debit_account = -1)"
	     " FROM entries e JOIN txns t ON t.id = e.txn WHERE t.at >= ?1 AND t.at < ?2"
	     " GROUP BY e.currency ORDER BY e.currency");
	sqlite3_bind_int64(stmt, 1, from);
	sqlite3_bind_int64(stmt, 2, to);
	flows_row row;
	return ly_sqlite_visit_rows(s, stmt, read_flows, &row, visit, ctx, "reporting flows");
}

#define ACTIVE_SQL(start)                                                                    \
	"WITH " MEMBER_ACTIVITY " SELECT " start("day") " AS period, count(DISTINCT member)"  \
	" FROM activity WHERE substr(type, 1, 1) <> '@' AND day BETWEEN ?1 AND ?2"            \
	" GROUP BY period ORDER BY period"

static void read_active(sqlite3_stmt *stmt, void *out)
{
	*(active_row *)out = (active_row){.period = sqlite3_column_int64(stmt, 0),
					  .active = sqlite3_column_int64(stmt, 1)};
}

int ly_sqlite_report_active(store *s, enum store_period period, int64_t from_day, int64_t to_day,
			    store_row_fn visit, void *ctx)
{
	sqlite3_stmt *stmt =
		period == PERIOD_DAY    ? ly_sqlite_stmt(s, ST_REPORT_ACTIVE_DAY, ACTIVE_SQL(DAY_START))
		: period == PERIOD_WEEK ? ly_sqlite_stmt(s, ST_REPORT_ACTIVE_WEEK, ACTIVE_SQL(WEEK_START))
					: ly_sqlite_stmt(s, ST_REPORT_ACTIVE_MONTH,
						     ACTIVE_SQL(MONTH_START));
	if (!stmt)
		return s->error->code;
	sqlite3_bind_int64(stmt, 1, from_day);
	sqlite3_bind_int64(stmt, 2, to_day);
	active_row row;
	return ly_sqlite_visit_rows(s, stmt, read_active, &row, visit, ctx, "reporting activity");
}

/* Cohort of each member joining in range, and the periods each was active in. */
#define RETENTION_SQL(start)                                                                  \
	"WITH " MEMBER_ACTIVITY ", cohorts AS (SELECT id, "                                    \
	start("((joined_at + ?3) / 86400000)") " AS cohort FROM members WHERE joined_at >= ?4"  \
	" AND joined_at < ?5), acts AS (SELECT DISTINCT member, " start("day") " AS period"    \
	" FROM activity WHERE substr(type, 1, 1) <> '@' AND day BETWEEN ?1 AND ?2)"           \
	" SELECT c.cohort, (SELECT count(*) FROM cohorts k WHERE k.cohort = c.cohort),"        \
	" a.period, count(*) FROM cohorts c LEFT JOIN acts a ON a.member = c.id AND"           \
	" a.period >= c.cohort GROUP BY c.cohort, a.period ORDER BY c.cohort, a.period"

static void read_retention(sqlite3_stmt *stmt, void *out)
{
	*(retention_row *)out = (retention_row){
		.cohort = sqlite3_column_int64(stmt, 0),
		.members = sqlite3_column_int64(stmt, 1),
		.period = sqlite3_column_type(stmt, 2) == SQLITE_NULL ? INT64_MIN
								     : sqlite3_column_int64(stmt, 2),
		.active = sqlite3_column_int64(stmt, 3)};
}

int ly_sqlite_report_retention(store *s, enum store_period period, int64_t from_day,
			       int64_t to_day, int64_t joined_from, int64_t joined_to,
			       int64_t utc_offset_ms, store_row_fn visit, void *ctx)
{
	sqlite3_stmt *stmt =
		period == PERIOD_DAY ? ly_sqlite_stmt(s, ST_REPORT_RETENTION_DAY,
						  RETENTION_SQL(DAY_START))
		: period == PERIOD_WEEK ? ly_sqlite_stmt(s, ST_REPORT_RETENTION_WEEK,
						     RETENTION_SQL(WEEK_START))
					: ly_sqlite_stmt(s, ST_REPORT_RETENTION_MONTH,
						     RETENTION_SQL(MONTH_START));
	if (!stmt)
		return s->error->code;
	sqlite3_bind_int64(stmt, 1, from_day);
	sqlite3_bind_int64(stmt, 2, to_day);
	sqlite3_bind_int64(stmt, 3, utc_offset_ms);
	sqlite3_bind_int64(stmt, 4, joined_from);
	sqlite3_bind_int64(stmt, 5, joined_to);
	retention_row row;
	return ly_sqlite_visit_rows(s, stmt, read_retention, &row, visit, ctx, "reporting retention");
}

static void read_tier_size(sqlite3_stmt *stmt, void *out)
{
	*(size_row *)out = (size_row){.kind = SIZE_TIER,
				      .name = (const char *)sqlite3_column_text(stmt, 0),
				      .members = sqlite3_column_int64(stmt, 1)};
}

static void read_segment_size(sqlite3_stmt *stmt, void *out)
{
	read_tier_size(stmt, out);
	((size_row *)out)->kind = SIZE_SEGMENT;
}

int ly_sqlite_report_sizes(store *s, store_row_fn visit, void *ctx)
{
	size_row row;
	sqlite3_stmt *stmt = ly_sqlite_stmt(s, ST_REPORT_TIERS, "SELECT tier, count(*) FROM members"
								" WHERE tier <> '' GROUP BY tier");
	int rc = stmt ? ly_sqlite_visit_rows(s, stmt, read_tier_size, &row, visit, ctx, "reporting sizes")
		      : s->error->code;
	if (rc == LOYAL_OK)
		stmt = ly_sqlite_stmt(s, ST_REPORT_SEGMENTS,
				      "SELECT segment, count(*) FROM segment_members GROUP BY segment");
	if (rc == LOYAL_OK)
		rc = stmt ? ly_sqlite_visit_rows(s, stmt, read_segment_size, &row, visit, ctx,
				       "reporting sizes")
			  : s->error->code;
	return rc;
}

static void read_reward_row(sqlite3_stmt *stmt, void *out)
{
	reward_report_row *row = out;
	row->kind = sqlite3_column_int(stmt, 0);
	ly_sqlite_copy_column(stmt, 1, row->name, sizeof row->name);
	ly_sqlite_copy_column(stmt, 2, row->currency, sizeof row->currency);
	row->state = sqlite3_column_int(stmt, 3);
	row->count = sqlite3_column_int64(stmt, 4);
	row->units = sqlite3_column_int64(stmt, 5);
	row->members = sqlite3_column_int64(stmt, 6);
	row->amount = sqlite3_column_int64(stmt, 7);
}

int ly_sqlite_report_rewards(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx)
{
	STMT(ST_REPORT_REWARDS,
	     "SELECT 0, reward, '', state, count(*), sum(quantity), 0, 0"
	     " FROM redemptions WHERE at >= ?1 AND at < ?2 GROUP BY reward, state"
	     " UNION ALL SELECT 5, reward, '', 0, 0, 0, count(DISTINCT member), 0"
	     " FROM redemptions WHERE at >= ?1 AND at < ?2 AND state IN (0, 1) GROUP BY reward"
	     " UNION ALL SELECT 1, r.reward, p.value ->> 'currency', 1, 0, 0, 0,"
	     " sum(p.value ->> 'amount') FROM redemptions r, json_each(r.postings) p"
	     " WHERE r.at >= ?1 AND r.at < ?2 AND r.state = 1 GROUP BY 2, 3"
	     " UNION ALL SELECT 2, coupon, '', 0, count(*), 0, 0, 0 FROM coupon_codes"
	     " WHERE member <> 0 AND issued_at >= ?1 AND issued_at < ?2 GROUP BY coupon"
	     " UNION ALL SELECT 3, coupon, '', 0, count(*), 0, 0, 0 FROM coupon_codes"
	     " WHERE used_at <> 0 AND used_at >= ?1 AND used_at < ?2 GROUP BY coupon"
	     " UNION ALL SELECT 4, coupon, '', 0, count(*), 0, 0, 0 FROM coupon_codes"
	     " WHERE member = 0 GROUP BY coupon");
	sqlite3_bind_int64(stmt, 1, from);
	sqlite3_bind_int64(stmt, 2, to);
	reward_report_row row;
	return ly_sqlite_visit_rows(s, stmt, read_reward_row, &row, visit, ctx, "reporting rewards");
}

/* ---- leaderboards ---- */

int ly_sqlite_board_add(store *s, const char *board, int64_t period, int64_t member, double delta,
			int64_t at)
{
	STMT(ST_BOARD_ADD, "INSERT INTO board_scores(board, period, member, score, at)"
			   " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET"
			   " score = score + ?4, at = ?5");
	sqlite3_bind_text(stmt, 1, board, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, period);
	sqlite3_bind_int64(stmt, 3, member);
	sqlite3_bind_double(stmt, 4, delta);
	sqlite3_bind_int64(stmt, 5, at);
	return ly_sqlite_step_done(s, stmt, "scoring a leaderboard");
}

static void read_board_row(sqlite3_stmt *stmt, void *out)
{
	board_row *row = out;
	row->rank++;
	ly_sqlite_copy_column(stmt, 0, row->member, sizeof row->member);
	row->score = sqlite3_column_double(stmt, 1);
}

int ly_sqlite_board_page(store *s, const char *board, int64_t period, int64_t offset,
			 int64_t limit, store_row_fn visit, void *ctx)
{
	/* The offset is walked in the rank index alone; only the page's rows meet members. */
	STMT(ST_BOARD_PAGE, "SELECT m.external_id, b.score FROM (SELECT member, score, at FROM"
			    " board_scores WHERE board = ?1 AND period = ?2 ORDER BY score DESC, at,"
			    " member LIMIT ?3 OFFSET ?4) b JOIN members m ON m.id = b.member"
			    " ORDER BY b.score DESC, b.at, b.member");
	sqlite3_bind_text(stmt, 1, board, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, period);
	sqlite3_bind_int64(stmt, 3, limit);
	sqlite3_bind_int64(stmt, 4, offset);
	board_row row = {.rank = offset};
	return ly_sqlite_visit_rows(s, stmt, read_board_row, &row, visit, ctx, "reading a leaderboard");
}

int ly_sqlite_board_rank(store *s, const char *board, int64_t period, int64_t member,
			 int64_t *rank, double *score, bool *found)
{
	/* Those above: a range of the rank index (higher scores), then among equal scores those
	 * who reached it first; two counts that each walk one range, not the whole board. */
	STMT(ST_BOARD_RANK,
	     "SELECT b.score, (SELECT count(*) FROM board_scores o WHERE o.board = ?1"
	     " AND o.period = ?2 AND o.score > b.score) + (SELECT count(*) FROM board_scores o"
	     " WHERE o.board = ?1 AND o.period = ?2 AND o.score = b.score AND (o.at < b.at OR"
	     " (o.at = b.at AND o.member < b.member))) + 1"
	     " FROM board_scores b WHERE b.board = ?1 AND b.period = ?2 AND b.member = ?3");
	sqlite3_bind_text(stmt, 1, board, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, period);
	sqlite3_bind_int64(stmt, 3, member);
	int rc = ly_sqlite_step_one(s, stmt, found, "ranking on a leaderboard");
	if (rc != LOYAL_OK || !*found)
		return rc;
	*score = sqlite3_column_double(stmt, 0);
	*rank = sqlite3_column_int64(stmt, 1);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}
