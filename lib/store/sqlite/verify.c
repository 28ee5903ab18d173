/* verify.c - the invariant checks of loyal_verify, as set-based queries over the file. */
#include "store/sqlite/sqlite.h"

#include <stdio.h>
#include <xxhash.h>

/* Runs a query that returns the first violation as (a, b, c, d) integers, or no row. */
static int first_violation(store *s, const char *sql, int64_t found[4], bool *violated)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sq(s)->sql, sql, -1, &stmt, NULL);
	*violated = false;
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*violated = true;
		for (int i = 0; i < 4 && i < sqlite3_column_count(stmt); i++)
			found[i] = sqlite3_column_int64(stmt, i);
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "verifying");
}

#define ENTRY_FLOWS                                                                        \
	"flows(currency, account, amount) AS (SELECT currency, credit_account, amount FROM " \
	"entries UNION ALL SELECT currency, debit_account, -amount FROM entries)"
#define MEMBER_ACCOUNTS                                                                       \
	"stored(currency, account, total) AS (SELECT currency, member * 4, available FROM "   \
	"balances UNION ALL SELECT currency, member * 4 + 1, pending FROM balances UNION ALL " \
	"SELECT currency, member * 4 + 2, held FROM balances)"

static const struct check {
	const char *sql;
	const char *message; /* printf with the four integers of the violating row */
} checks[] = {
	/* sum128: a currency's totals may leave 64 bits in a sound file (see open.c). */
	{"WITH " MEMBER_BALANCES ", " ENTRY_FLOWS ", " MEMBER_ACCOUNTS ", sums AS (SELECT currency, account,"
	 " sum128(amount) AS total FROM flows WHERE account >= 0 GROUP BY 1, 2)"
	 " SELECT coalesce(s.currency, t.currency), coalesce(s.account, t.account),"
	 " coalesce(s.total, 0), coalesce(t.total, 0) FROM sums s FULL JOIN stored t"
	 " ON s.currency = t.currency AND s.account = t.account"
	 " WHERE coalesce(s.total, 0) <> coalesce(t.total, 0) LIMIT 1",
	 "invariant 2: currency #%lld account #%lld: its entries sum to %lld, its balance says "
	 "%lld"},
	{"WITH " MEMBER_BALANCES ", " ENTRY_FLOWS ", " MEMBER_ACCOUNTS ", totals AS (SELECT currency, amount FROM flows"
	 " WHERE account < 0 UNION ALL SELECT currency, total FROM stored)"
	 " SELECT currency, sum128(amount), 0, 0 FROM totals GROUP BY 1"
	 " HAVING sum128(amount) <> 0 LIMIT 1",
	 "invariant 1: the accounts of currency #%lld sum to %lld, not zero%.0lld%.0lld"},
	/* Each check aggregates first and joins after, so that it stays one pass per table. */
	{"WITH " MEMBER_BALANCES ", " MEMBER_LOTS ", lotted AS (SELECT member, currency, sum(remaining)"
	 " FILTER (WHERE pending_until = 0) AS active FROM open_lots GROUP BY 1, 2)"
	 " SELECT b.member, b.currency, b.available, coalesce(l.active, 0) FROM"
	 " balances b LEFT JOIN lotted l USING (member, currency) WHERE coalesce(l.active, 0) <>"
	 " max(b.available, 0) LIMIT 1",
	 "invariant 2: member #%lld currency #%lld: available %lld but active lots hold %lld"},
	{"WITH " MEMBER_BALANCES ", " MEMBER_LOTS ", lotted AS (SELECT member, currency, sum(remaining)"
	 " FILTER (WHERE pending_until > 0) AS pending FROM open_lots GROUP BY 1, 2)"
	 " SELECT b.member, b.currency, b.pending, coalesce(l.pending, 0) FROM balances b"
	 " LEFT JOIN lotted l USING (member, currency) WHERE coalesce(l.pending, 0) <> b.pending"
	 " LIMIT 1",
	 "invariant 2: member #%lld currency #%lld: pending %lld but pending lots hold %lld"},
	{"WITH " MEMBER_BALANCES ", holding AS (SELECT member, currency, sum(amount - captured) AS held FROM holds"
	 " WHERE state = 0 GROUP BY 1, 2) SELECT b.member, b.currency, b.held,"
	 " coalesce(h.held, 0) FROM balances b LEFT JOIN holding h USING (member, currency)"
	 " WHERE coalesce(h.held, 0) <> b.held LIMIT 1",
	 "invariant 2: member #%lld currency #%lld: held %lld but open holds hold %lld"},
	/* What a member's row says a lot has left is what its moves add up to (0 once closed). */
	{"WITH " MEMBER_LOTS ", sides(lot, remaining, moved) AS (SELECT lot, remaining, 0 FROM"
	 " open_lots UNION ALL SELECT lot, 0, amount FROM moves) SELECT lot, sum(remaining),"
	 " sum(moved), 0 FROM sides GROUP BY lot HAVING sum(remaining) <> sum(moved) LIMIT 1",
	 "lot %lld has %lld points left, its moves add up to %lld%.0lld"},
	{"WITH " MEMBER_LOTS " SELECT o.lot, o.member, coalesce(l.member, 0), o.remaining FROM"
	 " open_lots o LEFT JOIN lots l ON l.id = o.lot WHERE l.id IS NULL OR l.member <> o.member"
	 " OR l.currency <> o.currency OR l.expires_at <> o.expires_at OR"
	 " l.pending_until <> o.pending_until OR o.remaining > l.amount LIMIT 1",
	 "lot %lld, open in member #%lld's row, is missing or not as that row says (its member is "
	 "#%lld; %lld points left)"},
	{"SELECT t.id, t.prev, t.member, coalesce(p.member, -1) FROM txns t LEFT JOIN txns p ON"
	 " p.id = t.prev WHERE t.prev >= t.id OR (t.prev <> 0 AND (p.id IS NULL OR"
	 " p.member <> t.member)) LIMIT 1",
	 "invariant 3: transaction %lld follows %lld, which is missing or not member #%lld's "
	 "(#%lld)"},
	{"SELECT member, prev, count(*), 0 FROM txns GROUP BY member, prev HAVING count(*) > 1"
	 " LIMIT 1",
	 "invariant 3: member #%lld has two transactions after %lld (%lld)%.0lld"},
	{"WITH followed AS (SELECT DISTINCT prev FROM txns WHERE prev <> 0)"
	 " SELECT m.id, m.last_txn, coalesce(t.member, -1), 0 FROM members m LEFT JOIN txns t ON"
	 " t.id = m.last_txn WHERE m.last_txn <> 0 AND (t.id IS NULL OR t.member <> m.id OR"
	 " m.last_txn IN followed) LIMIT 1",
	 "invariant 3: member #%lld's last transaction %lld is missing or not the last (%lld)"
	 "%.0lld"},
	{"SELECT i.member, i.txn, i.rc, i.kind FROM idem_records i LEFT JOIN txns t ON t.id = i.txn"
	 " AND i.kind = 0 LEFT JOIN events e ON e.id = i.txn AND i.kind = 1 WHERE"
	 " (i.kind = 0 AND i.rc = 0 AND (t.id IS NULL OR t.member <> i.member)) OR"
	 " (i.kind = 1 AND (e.id IS NULL OR e.member <> i.member)) OR (i.rc <> 0 AND"
	 " i.txn <> 0) LIMIT 1",
	 "invariant 5: member #%lld's idempotency record names transaction or event %lld "
	 "(outcome %lld, kind %lld) wrongly"},
	/* Every record is found by its key: through its slot, or filed apart as a collision. */
	{"SELECT r.id, r.member, coalesce(i.record, 0), 0 FROM idem_records r LEFT JOIN idem i"
	 " ON i.hash = ly_idem_slot(r.member, r.key_hash) WHERE coalesce(i.record, 0) <> r.id"
	 " AND NOT EXISTS (SELECT 1 FROM idem_collisions c WHERE c.member = r.member AND"
	 " c.key_hash = r.key_hash AND c.key = r.key AND c.record = r.id) LIMIT 1",
	 "invariant 5: idempotency record %lld of member #%lld cannot be found by its key (its "
	 "slot holds %lld)%.0lld"},
	{"SELECT i.hash, i.record, 0, 0 FROM idem i LEFT JOIN idem_records r ON r.id = i.record"
	 " AND i.record > 0 LEFT JOIN events e ON e.id = -i.record AND i.record < 0"
	 " WHERE r.id IS NULL AND e.id IS NULL LIMIT 1",
	 "invariant 5: idempotency slot %lld names record %lld, which is missing (a negative "
	 "record is an event)%.0lld%.0lld"},
	/* An event that recorded its key is found by it: through its slot, or filed apart. */
	{"SELECT e.id, e.member, 0, 0 FROM events e WHERE e.request IS NOT NULL AND"
	 " coalesce((SELECT i.record FROM idem i WHERE i.hash = ly_idem_slot(e.member,"
	 " ly_key_hash(e.key))), 0) <> -e.id AND NOT EXISTS (SELECT 1 FROM idem_collisions c"
	 " JOIN idem_records r ON r.id = c.record WHERE r.kind = 1 AND r.txn = e.id AND"
	 " r.member = e.member) LIMIT 1",
	 "invariant 5: event %lld of member #%lld cannot be found by its idempotency key"
	 "%.0lld%.0lld"},
	{"SELECT t.id, t.event, t.kind, 0 FROM txns t LEFT JOIN events e ON e.id = t.event"
	 " WHERE t.event <> 0 AND (e.id IS NULL OR t.kind <> 1) LIMIT 1",
	 "transaction %lld names event %lld, which is missing or made no credit (kind %lld)"
	 "%.0lld"},
	/* Activity: each row's days come after what it says it archived, which is the last
	 * day of its archive; each chunk holds days after the chunk before, up to its own. */
	{"SELECT m.id, coalesce(ly_activity_archived(m.activity), -1), coalesce((SELECT"
	 " max(last_day) FROM activity_archive a WHERE a.member = m.id), -1), coalesce((SELECT"
	 " min(j.value ->> 3) FROM json_each(ly_activity_json(m.activity)) j), -1) FROM members m"
	 " WHERE ly_activity_archived(m.activity) IS NOT (SELECT max(last_day) FROM"
	 " activity_archive a WHERE a.member = m.id) OR (SELECT min(j.value ->> 3) FROM"
	 " json_each(ly_activity_json(m.activity)) j) <= ly_activity_archived(m.activity) LIMIT 1",
	 "member #%lld's activity says it archived up to day %lld, its archive ends on day %lld, "
	 "its first day in the row is %lld"},
	{"WITH chunks AS (SELECT member, last_day, lag(last_day) OVER (PARTITION BY member ORDER BY"
	 " last_day) AS after, data FROM activity_archive) SELECT c.member, j.value ->> 3,"
	 " c.last_day, 0 FROM chunks c, json_each(ly_activity_json(c.data)) j WHERE"
	 " j.value ->> 3 > c.last_day OR j.value ->> 3 <= c.after LIMIT 1",
	 "member #%lld's archived day %lld is outside its chunk (up to day %lld)%.0lld"},
	/* A badge award is a member's, of a badge (and a level of it, when it has levels) that
	 * a version of the program defined. */
	{"WITH named(badge, level) AS (SELECT DISTINCT b.value ->> 'name', coalesce(l.value ->>"
	 " 'name', '') FROM program_versions p, json_each(p.document, '$.badges') b LEFT JOIN"
	 " json_each(b.value, '$.levels') l) SELECT a.id, a.member, a.kind, 0 FROM badge_awards a"
	 " LEFT JOIN members m ON m.id = a.member WHERE m.id IS NULL OR a.kind NOT IN (0, 1, 2)"
	 " OR NOT EXISTS (SELECT 1 FROM named n WHERE n.badge = a.badge AND n.level = a.level)"
	 " LIMIT 1",
	 "badge award %lld is not member #%lld's, or names a badge or level that no version of "
	 "the program defined (kind %lld)%.0lld"},
	/* Rewards: a stock counts the units of its redemptions that hold them; a redemption's
	 * key names the redemption. */
	{"SELECT s.taken, coalesce(sum(r.quantity), 0), 0, 0 FROM reward_stock s LEFT JOIN"
	 " redemptions r ON r.reward = s.reward AND r.stocked AND r.state IN (0, 1)"
	 " GROUP BY s.reward HAVING s.taken <> coalesce(sum(r.quantity), 0) LIMIT 1",
	 "a reward's stock counts %lld units taken, its redemptions %lld%.0lld%.0lld"},
	{"SELECT i.member, i.txn, 0, 0 FROM idem_records i LEFT JOIN redemptions r"
	 " ON r.id = i.txn AND r.member = i.member WHERE i.kind = 3 AND i.rc = 0"
	 " AND r.id IS NULL LIMIT 1",
	 "member #%lld's idempotency record names redemption %lld, which is missing"
	 "%.0lld%.0lld"},
};

int ly_sqlite_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx)
{
	sqlite3_stmt *stmt = NULL;
	int rc = ly_sqlite_read_begin(s);
	if (rc != LOYAL_OK)
		return rc;
	int sqlite_rc = sqlite3_prepare_v2(sq(s)->sql,
					   "SELECT t.id, coalesce(p.hash, 0) FROM txns t LEFT JOIN"
					   " txns p ON p.id = t.prev ORDER BY t.id",
					   -1, &stmt, NULL);
	if (sqlite_rc != SQLITE_OK)
		rc = ly_sqlite_error(s, sqlite_rc, "verifying the chain");
	while (rc == LOYAL_OK && (sqlite_rc = sqlite3_step(stmt)) == SQLITE_ROW)
		rc = visit(ctx, sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1));
	if (rc == LOYAL_OK && sqlite_rc != SQLITE_DONE)
		rc = ly_sqlite_error(s, sqlite_rc, "verifying the chain");
	sqlite3_finalize(stmt);
	ly_sqlite_read_end(s);
	return rc;
}

static int check_key_hashes(store *s)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sq(s)->sql,
				    "SELECT member, key_hash, key FROM idem_records", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return ly_sqlite_error(s, rc, "verifying idempotency keys");
	int result = LOYAL_OK;
	while (result == LOYAL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *key = sqlite3_column_text(stmt, 2);
		size_t length = (size_t)sqlite3_column_bytes(stmt, 2);
		if (key && (int64_t)XXH3_64bits(key, length) != sqlite3_column_int64(stmt, 1))
			result = ly_fail(s->error, LOYAL_ECORRUPT,
					 "invariant 5: member #%lld's idempotency key '%s' is filed "
					 "under the wrong hash",
					 (long long)sqlite3_column_int64(stmt, 0), (const char *)key);
	}
	sqlite3_finalize(stmt);
	if (result == LOYAL_OK && rc != SQLITE_DONE)
		result = ly_sqlite_error(s, rc, "verifying idempotency keys");
	return result;
}

int ly_sqlite_check_invariants(store *s)
{
	int rc = ly_sqlite_read_begin(s);
	for (size_t i = 0; i < sizeof checks / sizeof *checks && rc == LOYAL_OK; i++) {
		int64_t found[4] = {0};
		bool violated = false;
		rc = first_violation(s, checks[i].sql, found, &violated);
		if (rc == LOYAL_OK && violated) {
			char where[340];
			snprintf(where, sizeof where, "file '%s'", sq(s)->path);
			rc = ly_store_violation(s->error, where, checks[i].message, found);
		}
	}
	if (rc == LOYAL_OK)
		rc = check_key_hashes(s);
	if (rc == LOYAL_ECORRUPT)
		ly_sqlite_mark_damaged(s);
	ly_sqlite_read_end(s);
	return rc;
}
