/* open.c - the SQLite backend: opening the file, identity and migrations, transactions, the
 * statement cache. */
#include "store/sqlite/sqlite.h"
#include "store/sqlite/tuning.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* Each entry brings the schema from version i to i + 1. Applied in order, in one transaction. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	/* 0 -> 1: the metadata table. */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value ANY) STRICT, WITHOUT ROWID;",

	/* 1 -> 2: the program, members and the ledger. Append-only logs (txns, entries, moves)
	 * are clustered by transaction id so that writing them appends; a member's transactions
	 * are chained through txns.prev instead of an index that would grow with history. */
	"CREATE TABLE program_versions(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL,"
	"  document TEXT NOT NULL) STRICT;"
	"CREATE TABLE currencies(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE) STRICT;"
	"CREATE TABLE members(id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE,"
	"  joined_at INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
	"  attrs TEXT NOT NULL DEFAULT '{}', last_active_at INTEGER NOT NULL,"
	"  last_txn INTEGER NOT NULL DEFAULT 0, last_hash INTEGER NOT NULL DEFAULT 0) STRICT;"
	"CREATE TABLE balances(member INTEGER NOT NULL, currency INTEGER NOT NULL,"
	"  available INTEGER NOT NULL, pending INTEGER NOT NULL, held INTEGER NOT NULL,"
	"  earned INTEGER NOT NULL, spent INTEGER NOT NULL, expired INTEGER NOT NULL,"
	"  PRIMARY KEY(member, currency)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE txns(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  currency INTEGER NOT NULL, kind INTEGER NOT NULL, amount INTEGER NOT NULL,"
	"  at INTEGER NOT NULL, reverses INTEGER NOT NULL, requested INTEGER NOT NULL,"
	"  counterpart INTEGER NOT NULL, prev INTEGER NOT NULL, hash INTEGER NOT NULL,"
	"  reason TEXT NOT NULL, cause TEXT) STRICT;"
	"CREATE INDEX txns_reversals ON txns(reverses) WHERE reverses <> 0;"
	"CREATE TABLE entries(txn INTEGER NOT NULL, seq INTEGER NOT NULL,"
	"  currency INTEGER NOT NULL, debit_account INTEGER NOT NULL,"
	"  credit_account INTEGER NOT NULL, amount INTEGER NOT NULL,"
	"  PRIMARY KEY(txn, seq)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE lots(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  currency INTEGER NOT NULL, txn INTEGER NOT NULL, amount INTEGER NOT NULL,"
	"  remaining INTEGER NOT NULL, earned_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	"  pending_until INTEGER NOT NULL) STRICT;"
	"CREATE INDEX lots_open ON lots(member, currency, expires_at, id) WHERE remaining > 0;"
	"CREATE INDEX lots_expiring ON lots(expires_at) WHERE remaining > 0;"
	"CREATE INDEX lots_pending ON lots(pending_until) WHERE pending_until > 0;"
	"CREATE TABLE moves(txn INTEGER NOT NULL, seq INTEGER NOT NULL, lot INTEGER NOT NULL,"
	"  amount INTEGER NOT NULL, kind INTEGER NOT NULL,"
	"  PRIMARY KEY(txn, seq)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE holds(txn INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  currency INTEGER NOT NULL, amount INTEGER NOT NULL, deadline INTEGER NOT NULL,"
	"  state INTEGER NOT NULL, captured INTEGER NOT NULL, settled_by INTEGER NOT NULL) STRICT;"
	"CREATE INDEX holds_open ON holds(member, currency, deadline) WHERE state = 0;"
	"CREATE INDEX holds_due ON holds(deadline) WHERE state = 0;"
	"CREATE TABLE idempotency(member INTEGER NOT NULL, key_hash INTEGER NOT NULL,"
	"  key TEXT NOT NULL, request TEXT NOT NULL, rc INTEGER NOT NULL, txn INTEGER NOT NULL,"
	"  amount INTEGER NOT NULL, message TEXT NOT NULL,"
	"  PRIMARY KEY(member, key_hash, key)) STRICT, WITHOUT ROWID;",

	/* 2 -> 3: events (the raw audit trail), activity roll-ups per member, type and day, and
	 * the versions of earning rules. */
	"CREATE TABLE rules(name TEXT PRIMARY KEY, version INTEGER NOT NULL,"
	"  definition TEXT NOT NULL) STRICT, WITHOUT ROWID;"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, member INTEGER NOT NULL, type TEXT NOT NULL,"
	"  at INTEGER NOT NULL, key TEXT NOT NULL, properties TEXT NOT NULL,"
	"  outcome TEXT NOT NULL) STRICT;"
	"CREATE TABLE activity(member INTEGER NOT NULL, type TEXT NOT NULL, day INTEGER NOT NULL,"
	"  count INTEGER NOT NULL, sums TEXT, PRIMARY KEY(member, type, day))"
	"  STRICT, WITHOUT ROWID;"
	"ALTER TABLE idempotency ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;",

	/* 3 -> 4: tiers: each member's current tier and review date, and their history. */
	"CREATE TABLE member_tiers(member INTEGER PRIMARY KEY, tier TEXT NOT NULL,"
	"  since INTEGER NOT NULL, review_at INTEGER NOT NULL, grace_until INTEGER NOT NULL)"
	"  STRICT;"
	"CREATE INDEX member_tiers_review ON member_tiers(review_at);"
	"CREATE TABLE tier_history(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  from_tier TEXT, to_tier TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL)"
	"  STRICT;"
	"CREATE INDEX tier_history_member ON tier_history(member, id);",

	/* 4 -> 5: segments: who is in each since the last refresh, and what each refresh changed. */
	"CREATE TABLE segment_members(segment TEXT NOT NULL, member INTEGER NOT NULL,"
	"  since INTEGER NOT NULL, PRIMARY KEY(segment, member)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE segment_changes(id INTEGER PRIMARY KEY, refresh INTEGER NOT NULL,"
	"  segment TEXT NOT NULL, member INTEGER NOT NULL, entered INTEGER NOT NULL,"
	"  at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX segment_changes_refresh ON segment_changes(refresh, id);",

	/* 5 -> 6: badge awards, append-only. */
	"CREATE TABLE badge_awards(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  badge TEXT NOT NULL, level TEXT NOT NULL, at INTEGER NOT NULL, cause TEXT) STRICT;"
	"CREATE INDEX badge_awards_member ON badge_awards(member, badge, level, at);",

	/* 6 -> 7: when something next falls due in an account, so that reads and writes load
	 * its lots only when they need them. 0 means "not known yet". */
	"ALTER TABLE balances ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0;",

	/* 7 -> 8: a copy of a member's "timezone" attribute (when it is text) beside the row's other
	 * columns, so that their local days are known without reading all their attributes. */
	"ALTER TABLE members ADD COLUMN timezone TEXT;"
	"UPDATE members SET timezone = json_extract(attrs, '$.timezone')"
	"  WHERE json_type(attrs, '$.timezone') = 'text';",

	/* 8 -> 9: the points a rule gave, per currency, become counters of their own
	 * ("@rule:<rule>:<currency>") instead of sums in the rule's row, so that counting an award
	 * takes one statement and no JSON. */
	"INSERT INTO activity(member, type, day, count)"
	"  SELECT a.member, a.type || ':' || j.key, a.day, j.value FROM activity a, json_each(a.sums) j"
	"  WHERE a.type LIKE '@rule:%' AND a.sums IS NOT NULL AND j.type = 'integer';"
	"UPDATE activity SET sums = NULL WHERE type LIKE '@rule:%';",

	/* 9 -> 10: the expiry sweep finds what is due through the balances' due bound instead of
	 * two indexes of lots that every credit and spend had to keep. */
	"DROP INDEX lots_expiring;"
	"DROP INDEX lots_pending;"
	"CREATE INDEX balances_due ON balances(due_at);",

	/* 10 -> 11: a rule's counters get typed keys (rule, currency id; 0 counts awards) instead of
	 * "@rule:<rule>[:<currency>]" strings, which a fixed buffer cut short so that two long
	 * names could share one counter. A counter whose string was cut short matches no rule and
	 * currency and is dropped: its cap starts counting again. */
	"CREATE TABLE rule_counters(member INTEGER NOT NULL, rule TEXT NOT NULL,"
	"  currency INTEGER NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  PRIMARY KEY(member, rule, currency, day)) STRICT, WITHOUT ROWID;"
	"INSERT INTO rule_counters(member, rule, currency, day, count)"
	"  SELECT a.member, r.name, 0, a.day, a.count FROM activity a JOIN rules r"
	"  ON a.type = '@rule:' || r.name;"
	"INSERT INTO rule_counters(member, rule, currency, day, count)"
	"  SELECT a.member, r.name, c.id, a.day, a.count FROM activity a, rules r, currencies c"
	"  WHERE a.type = '@rule:' || r.name || ':' || c.name"
	"  ON CONFLICT DO NOTHING;"
	"DELETE FROM activity WHERE type LIKE '@rule:%';",

	/* 11 -> 12: a transaction names the tracked event whose rule made it, so that reversing an
	 * event reads what it awarded from the ledger; linked from the postings its outcome lists.
	 * The index receives event ids in increasing order: it grows at its right edge. */
	"ALTER TABLE txns ADD COLUMN event INTEGER NOT NULL DEFAULT 0;"
	"UPDATE txns SET event = m.event FROM (SELECT e.id AS event,"
	"  json_extract(p.value, '$.txn') AS txn FROM events e, json_each(e.outcome, '$.postings') p)"
	"  AS m WHERE txns.id = m.txn;"
	"CREATE INDEX txns_event ON txns(event) WHERE event <> 0;",

	/* 12 -> 13: a member's balances move into the member's row, which every call that changes
	 * them writes anyway: one random-order row per member instead of two (and an index of
	 * due instants per member rather than per balance). */
	"ALTER TABLE members ADD COLUMN balances BLOB NOT NULL DEFAULT X'';"
	"ALTER TABLE members ADD COLUMN due_at INTEGER NOT NULL DEFAULT 9223372036854775807;"
	"UPDATE members SET balances = b.balances, due_at = b.due_at FROM (SELECT member,"
	"  ly_balances_pack(currency, available, pending, held, earned, spent, expired, due_at)"
	"  AS balances, min(due_at) AS due_at FROM balances GROUP BY member) AS b"
	"  WHERE members.id = b.member;"
	"DROP TABLE balances;"
	"CREATE INDEX members_due ON members(due_at);",

	/* 13 -> 14: idempotency records are appended whole to idem_records and found through idem,
	 * a slim table keyed by a 64-bit hash of member and key, instead of one wide table of
	 * keys in random order; the rare key whose hash another took goes to idem_collisions. */
	"CREATE TABLE idem_records(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  key_hash INTEGER NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,"
	"  rc INTEGER NOT NULL, txn INTEGER NOT NULL, amount INTEGER NOT NULL,"
	"  message TEXT NOT NULL, kind INTEGER NOT NULL) STRICT;"
	"CREATE TABLE idem(hash INTEGER PRIMARY KEY, record INTEGER NOT NULL) STRICT;"
	"CREATE TABLE idem_collisions(member INTEGER NOT NULL, key_hash INTEGER NOT NULL,"
	"  key TEXT NOT NULL, record INTEGER NOT NULL, PRIMARY KEY(member, key_hash, key))"
	"  STRICT, WITHOUT ROWID;"
	"INSERT INTO idem_records(member, key_hash, key, request, rc, txn, amount, message, kind)"
	"  SELECT member, key_hash, key, request, rc, txn, amount, message, kind FROM idempotency;"
	"INSERT INTO idem(hash, record) SELECT ly_idem_slot(member, key_hash), id FROM idem_records"
	"  ORDER BY id ON CONFLICT DO NOTHING;"
	"INSERT INTO idem_collisions(member, key_hash, key, record) SELECT r.member, r.key_hash,"
	"  r.key, r.id FROM idem_records r JOIN idem i ON i.hash = ly_idem_slot(r.member,"
	"  r.key_hash) WHERE i.record <> r.id;"
	"DROP TABLE idempotency;",

	/* 14 -> 15: a tracked event's row is its own idempotency record (its slot names minus its
	 * id): the event keeps the request its key was claimed for. */
	"ALTER TABLE events ADD COLUMN request TEXT;",

	/* 15 -> 16: how many points each open lot has left moves into its member's row
	 * (members.lots, in consumption order), which every call that changes a balance writes
	 * anyway: the lots lose their index of open lots, and a lot's row, once written, changes
	 * only when the lot activates. */
	"ALTER TABLE members ADD COLUMN lots BLOB NOT NULL DEFAULT X'';"
	"UPDATE members SET lots = o.lots FROM (SELECT member, ly_lots_pack(currency, id,"
	"  remaining, expires_at, pending_until) AS lots FROM lots WHERE remaining > 0"
	"  GROUP BY member) AS o WHERE members.id = o.member;"
	"DROP INDEX lots_open;"
	"ALTER TABLE lots DROP COLUMN remaining;",

	/* 16 -> 17: the member's tier and its review dates move into the member's row, which
	 * every tracked event reads anyway: the tier is read with the member, and a change of
	 * tier writes that row instead of a row of its own. */
	"ALTER TABLE members ADD COLUMN tier TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE members ADD COLUMN tier_since INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE members ADD COLUMN review_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE members ADD COLUMN grace_until INTEGER NOT NULL DEFAULT 0;"
	"UPDATE members SET tier = t.tier, tier_since = t.since, review_at = t.review_at,"
	"  grace_until = t.grace_until FROM member_tiers t WHERE members.id = t.member;"
	"DROP TABLE member_tiers;"
	"CREATE INDEX members_review ON members(review_at, tier) WHERE tier <> '';",

	/* 17 -> 18: what members did per day (activity and the rules' counters) moves into the
	 * member's row (members.activity, activity.c), which every tracked event writes anyway;
	 * a row's oldest days move to activity_archive once they take too much room. */
	"ALTER TABLE members ADD COLUMN activity BLOB NOT NULL DEFAULT X'';"
	"CREATE TABLE activity_archive(member INTEGER NOT NULL, last_day INTEGER NOT NULL,"
	"  data BLOB NOT NULL, PRIMARY KEY(member, last_day)) STRICT, WITHOUT ROWID;"
	"UPDATE members SET activity = a.blob FROM (SELECT member, ly_activity_pack(kind, name,"
	"  currency, day, count, sums) AS blob FROM (SELECT member, 0 AS kind, type AS name,"
	"  0 AS currency, day, count, sums FROM activity UNION ALL SELECT member, 1, rule,"
	"  currency, day, count, NULL FROM rule_counters) GROUP BY member) AS a"
	"  WHERE members.id = a.member;"
	"DROP TABLE activity;"
	"DROP TABLE rule_counters;",

	/* 18 -> 19: the member's row rebuilt with its small columns first and its blobs last
	 * (balances, attributes, open lots, activity), so that reading a member, their tier or
	 * a page of members never walks past a long blob (SQLite reads a row's columns in order,
	 * from overflow pages once the row outgrows its page). */
	"CREATE TABLE members_new(id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE,"
	"  joined_at INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
	"  last_active_at INTEGER NOT NULL, last_txn INTEGER NOT NULL DEFAULT 0,"
	"  last_hash INTEGER NOT NULL DEFAULT 0, timezone TEXT, tier TEXT NOT NULL DEFAULT '',"
	"  tier_since INTEGER NOT NULL DEFAULT 0, review_at INTEGER NOT NULL DEFAULT 0,"
	"  grace_until INTEGER NOT NULL DEFAULT 0,"
	"  due_at INTEGER NOT NULL DEFAULT 9223372036854775807,"
	"  balances BLOB NOT NULL DEFAULT X'', attrs TEXT NOT NULL DEFAULT '{}',"
	"  lots BLOB NOT NULL DEFAULT X'', activity BLOB NOT NULL DEFAULT X'') STRICT;"
	"INSERT INTO members_new(id, external_id, joined_at, status, last_active_at, last_txn,"
	"  last_hash, timezone, tier, tier_since, review_at, grace_until, due_at, balances, attrs,"
	"  lots, activity) SELECT id, external_id, joined_at, status, last_active_at, last_txn,"
	"  last_hash, timezone, tier, tier_since, review_at, grace_until, due_at, balances, attrs,"
	"  lots, activity FROM members ORDER BY id;"
	"DROP TABLE members;"
	"ALTER TABLE members_new RENAME TO members;"
	"CREATE INDEX members_due ON members(due_at);"
	"CREATE INDEX members_review ON members(review_at, tier) WHERE tier <> '';",

	/* 19 -> 20: rewards: redemptions (a member's are listed by id and counted by reward and
	 * day for limits; pending ones are listed and swept by deadline) and each reward's stock
	 * taken. */
	"CREATE TABLE redemptions(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  reward TEXT NOT NULL, quantity INTEGER NOT NULL, state INTEGER NOT NULL,"
	"  at INTEGER NOT NULL, day INTEGER NOT NULL, deadline INTEGER NOT NULL,"
	"  settled_at INTEGER NOT NULL DEFAULT 0, stocked INTEGER NOT NULL, postings TEXT NOT NULL,"
	"  code INTEGER NOT NULL DEFAULT 0) STRICT;"
	"CREATE INDEX redemptions_member ON redemptions(member, id);"
	"CREATE INDEX redemptions_limit ON redemptions(member, reward, day);"
	"CREATE INDEX redemptions_pending ON redemptions(id) WHERE state = 0;"
	"CREATE INDEX redemptions_deadline ON redemptions(deadline, id) WHERE state = 0;"
	"CREATE INDEX redemptions_stock ON redemptions(reward, deadline) WHERE state = 0 AND stocked;"
	"CREATE TABLE reward_stock(reward TEXT PRIMARY KEY, taken INTEGER NOT NULL) STRICT,"
	"  WITHOUT ROWID;"
	/* Coupons: every code, in a pool (member 0) or issued; the uses set aside for checkouts. */
	"CREATE TABLE coupon_codes(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,"
	"  coupon TEXT NOT NULL, member INTEGER NOT NULL DEFAULT 0,"
	"  issued_at INTEGER NOT NULL DEFAULT 0, valid_from INTEGER NOT NULL DEFAULT 0,"
	"  valid_until INTEGER NOT NULL DEFAULT 0, uses_left INTEGER NOT NULL DEFAULT 0,"
	"  used_at INTEGER NOT NULL DEFAULT 0) STRICT;"
	"CREATE INDEX coupon_codes_pool ON coupon_codes(coupon, id) WHERE member = 0;"
	"CREATE INDEX coupon_codes_member ON coupon_codes(member, id) WHERE member <> 0;"
	"CREATE TABLE coupon_reservations(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  code INTEGER NOT NULL, state INTEGER NOT NULL, at INTEGER NOT NULL) STRICT;",

	/* 20 -> 21: an operator's tools. A badge's history tells earned, granted and revoked
	 * apart (where a member stands with a badge is read from the index alone); a member may
	 * hold a tier assigned until a date or until it is released; rules may have budgets;
	 * leaderboards keep scores. */
	"ALTER TABLE badge_awards ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
	"DROP INDEX badge_awards_member;"
	"CREATE INDEX badge_awards_member ON badge_awards(member, badge, level, kind, at);"
	"CREATE TABLE tier_assignments(member INTEGER PRIMARY KEY, tier TEXT NOT NULL,"
	"  until INTEGER NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL) STRICT;"
	/* Leaderboards: each member's score per board and period, read ranked. */
	"CREATE TABLE board_scores(board TEXT NOT NULL, period INTEGER NOT NULL,"
	"  member INTEGER NOT NULL, score REAL NOT NULL, at INTEGER NOT NULL,"
	"  PRIMARY KEY(board, period, member)) STRICT, WITHOUT ROWID;"
	"CREATE INDEX board_scores_rank ON board_scores(board, period, score DESC, at, member);"
	/* What a rule's budget (across all members) used per period. */
	"CREATE TABLE rule_budgets(rule TEXT NOT NULL, currency INTEGER NOT NULL,"
	"  period INTEGER NOT NULL, used INTEGER NOT NULL, PRIMARY KEY(rule, currency, period))"
	"  STRICT, WITHOUT ROWID;",

	/* 21 -> 22: the outbox. Happenings in commit order (the rowid), each consumer's
	 * acknowledged position, and the notices sent (each once). */
	"CREATE TABLE outbox(position INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL) STRICT;"
	"CREATE TABLE outbox_consumers(name TEXT PRIMARY KEY, position INTEGER NOT NULL,"
	"  at INTEGER NOT NULL) STRICT, WITHOUT ROWID;"
	"CREATE TABLE notices_sent(member INTEGER NOT NULL, kind INTEGER NOT NULL,"
	"  currency INTEGER NOT NULL, subject INTEGER NOT NULL, threshold INTEGER NOT NULL,"
	"  PRIMARY KEY(member, kind, currency, subject, threshold)) STRICT, WITHOUT ROWID;",

	/* 22 -> 23: an event's outcome is a compact record (engine/outcome.h), a blob; the JSON
	 * text older files stored stays as it is, as bytes, and is read as before. */
	"CREATE TABLE events_23(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
	"  type TEXT NOT NULL, at INTEGER NOT NULL, key TEXT NOT NULL, properties TEXT NOT NULL,"
	"  outcome BLOB NOT NULL, request TEXT) STRICT;"
	"INSERT INTO events_23 SELECT id, member, type, at, key, properties,"
	"  CAST(outcome AS BLOB), request FROM events;"
	"DROP TABLE events;"
	"ALTER TABLE events_23 RENAME TO events;",
};

int ly_sqlite_error(store *s, int sqlite_rc, const char *doing)
{
	const char *detail = s && sq(s)->sql ? sqlite3_errmsg(sq(s)->sql) : sqlite3_errstr(sqlite_rc);
	int code;
	if (ly_store_interrupted(s) && ((sqlite_rc & 0xff) == SQLITE_INTERRUPT ||
					(sqlite_rc & 0xff) == SQLITE_BUSY)) {
		ly_fail(s->error, LOYAL_EINTERRUPTED, "interrupted (loyal_interrupt) while %s",
			doing);
		return LOYAL_EINTERRUPTED;
	}
	switch (sqlite_rc & 0xff) {
	case SQLITE_NOMEM:
		code = LOYAL_ENOMEM;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = LOYAL_EBUSY;
		break;
	case SQLITE_READONLY:
		code = LOYAL_EREADONLY;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_ERROR: /* the library's own SQL fails only where the file's tables are not ours */
		code = LOYAL_ECORRUPT;
		break;
	case SQLITE_NOTADB:
		code = LOYAL_ENOTADB;
		break;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_PROTOCOL:
		code = LOYAL_EIO;
		break;
	default:
		code = LOYAL_EINTERNAL;
		break;
	}
	ly_fail(s->error, code, "storage: %s: %s (file '%s')", doing, detail, s && sq(s)->path ? sq(s)->path : "?");
	if (code == LOYAL_ECORRUPT && (sqlite_rc & 0xff) == SQLITE_CORRUPT)
		ly_sqlite_mark_damaged(s);
	return code;
}

void ly_sqlite_mark_damaged(store *s)
{
	if (s && !sq(s)->damaged) {
		sq(s)->damaged = true;
		snprintf(sq(s)->damage, sizeof sq(s)->damage, "%.200s", s->error->message);
	}
}

/* Refuses a write once damage was seen: the handle's error names the file and the damage. */
static int refuse_if_damaged(store *s)
{
	return sq(s)->damaged ? ly_fail(s->error, LOYAL_ECORRUPT,
				    "file '%s' is damaged, so it takes no more writes (restore it "
				    "from a backup): %s",
				    sq(s)->path, sq(s)->damage)
			  : LOYAL_OK;
}

sqlite3_stmt *ly_sqlite_stmt(store *s, enum store_statement id, const char *sql)
{
	if (!sq(s)->stmts[id]) {
		int rc = sqlite3_prepare_v3(sq(s)->sql, sql, -1, SQLITE_PREPARE_PERSISTENT,
					    &sq(s)->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			ly_sqlite_error(s, rc, "preparing a statement");
			return NULL;
		}
	}
	return sq(s)->stmts[id];
}

int ly_sqlite_step_done(store *s, sqlite3_stmt *stmt, const char *doing)
{
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return ly_sqlite_error(s, rc, doing);
	return LOYAL_OK;
}

static void rollback_transaction(store *s);
static int end_leftover_transaction(store *s);
static int check_file(store *s, const char *pragma);
static int begin_immediate(store *s);
static int commit_transaction(store *s);

/* Runs a statement that returns one integer (a pragma, a count). */
static int query_int(store *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sq(s)->sql, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(stmt, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int exec(store *s, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(sq(s)->sql, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? LOYAL_OK : ly_sqlite_error(s, rc, doing);
}

/* What the file is, read without writing anything. */
enum identity { IDENTITY_LOYAL, IDENTITY_EMPTY, IDENTITY_FOREIGN };

static int read_identity(store *s, enum identity *identity, int64_t *version)
{
	int64_t application_id = 0, object_count = 0;
	int rc = query_int(s, "PRAGMA application_id", &application_id);
	if (rc == SQLITE_OK)
		rc = query_int(s, "PRAGMA user_version", version);
	if (rc == SQLITE_OK)
		rc = query_int(s, "SELECT count(*) FROM sqlite_schema", &object_count);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return ly_fail(s->error, LOYAL_ENOTADB,
			       "file '%s' is not a loyal database: it is not an SQLite file",
			       sq(s)->path);
	if (rc != SQLITE_OK)
		return ly_sqlite_error(s, rc, "reading the file header");
	if (application_id == STORE_APPLICATION_ID && *version < 0) /* found by fuzz_open */
		return ly_fail(s->error, LOYAL_ECORRUPT,
			       "file '%s' has schema version %lld, which no loyal library writes",
			       sq(s)->path, (long long)*version);
	if (application_id == STORE_APPLICATION_ID)
		*identity = IDENTITY_LOYAL;
	else if (application_id == 0 && *version == 0 && object_count == 0)
		*identity = IDENTITY_EMPTY;
	else {
		*identity = IDENTITY_FOREIGN;
		return ly_fail(s->error, LOYAL_ENOTADB,
			       "file '%s' is not a loyal database: it is the SQLite database of another "
			       "application (application_id %lld, %lld schema objects)",
			       sq(s)->path, (long long)application_id, (long long)object_count);
	}
	return LOYAL_OK;
}

/* Applies the migrations from the file's version to target inside the open transaction. */
static int migrate_in_transaction(store *s, int target_version)
{
	enum identity identity;
	int64_t version = 0;
	int rc = read_identity(s, &identity, &version);
	if (rc != LOYAL_OK)
		return rc;
	if (version > STORE_SCHEMA_VERSION)
		return ly_fail(s->error, LOYAL_EVERSION,
			       "file '%s' has schema version %lld, newer than this library's %d",
			       sq(s)->path, (long long)version, STORE_SCHEMA_VERSION);
	if (version >= target_version)
		return LOYAL_OK;
	for (int64_t step = version; step < target_version; step++) {
		rc = exec(s, migrations[step], "migrating the schema");
		if (rc != LOYAL_OK)
			return rc;
	}
	char pragmas[96];
	snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		 STORE_APPLICATION_ID, target_version);
	rc = exec(s, pragmas, "stamping the schema version");
	if (rc != LOYAL_OK || version != 0)
		return rc;
	sqlite3_stmt *stmt = ly_sqlite_stmt(s, ST_META_SET,
				       "INSERT INTO meta(key, value) VALUES(?1, ?2)"
				       " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
	if (!stmt)
		return s->error->code;
	sqlite3_bind_text(stmt, 1, "created_by", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, "loyal " LOYAL_VERSION_STRING, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "recording the creator");
}

int ly_sqlite_migrate(store *s, int target_version)
{
	if (target_version < 0 || target_version > STORE_SCHEMA_VERSION)
		return ly_fail(s->error, LOYAL_EINVAL, "no schema version %d", target_version);
	int rc = begin_immediate(s);
	if (rc != LOYAL_OK)
		return rc;
	rc = migrate_in_transaction(s, target_version);
	if (rc == LOYAL_OK)
		return commit_transaction(s);
	rollback_transaction(s);
	return rc;
}

int ly_sqlite_schema_version(store *s, int *out)
{
	int64_t version = 0;
	int rc = query_int(s, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK)
		return ly_sqlite_error(s, rc, "reading the schema version");
	*out = (int)version;
	return LOYAL_OK;
}

/* Whether the directory holding `path` can be written (errno says why not). */
static bool directory_writable(const char *path)
{
	char *copy = ly_mem_strdup(path); /* dirname() may change its argument */
	if (!copy)
		return true; /* let the open itself say what fails */
	bool writable = access(dirname(copy), W_OK) == 0;
	int saved = errno;
	ly_mem_free(copy);
	errno = saved;
	return writable;
}

/* What a path holds that is not a regular file, for messages. */
static const char *file_kind(mode_t mode)
{
	return S_ISDIR(mode)    ? "a directory"
	       : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISCHR(mode)  ? "a character device"
	       : S_ISBLK(mode)  ? "a block device"
	       : S_ISSOCK(mode) ? "a socket"
				: "not a regular file";
}

/* What is at `path` before SQLite opens it. Only a regular file is opened (a FIFO would block
 * open(2) forever, a device is no database), and never one that every user may write. A missing
 * file is created with mode 0600, so that SQLite (which copies the database file's mode to its
 * -wal and -shm files) never makes the points of members readable by others. *mode receives the
 * file's mode; *unclean whether a WAL was left beside it (a crash, or other handles open). */
static int prepare_file(store *s, const char *path, unsigned int flags, mode_t *mode,
			bool *unclean)
{
	struct stat info;
	*mode = 0600;
	*unclean = false;
	if (stat(path, &info) == 0) {
		if (!S_ISREG(info.st_mode))
			return ly_fail(s->error, LOYAL_EIO, "file '%s' is %s, not a database file", path,
				       file_kind(info.st_mode));
		if ((info.st_mode & S_IWOTH) && !(flags & LOYAL_OPEN_READONLY))
			return ly_fail(s->error, LOYAL_EIO,
				       "file '%s' may be written by every user (mode %04o), so anyone "
				       "could change the points in it: run 'chmod o-w' on it first",
				       path, (unsigned int)(info.st_mode & 07777));
		*mode = info.st_mode & 07777;
		/* Writing needs the file and, for the WAL, its directory. */
		if (!(flags & LOYAL_OPEN_READONLY) && (access(path, W_OK) != 0 ||
						       !directory_writable(path)))
			return ly_fail(s->error, LOYAL_EREADONLY,
				       "file '%s' cannot be written (%s): open it with "
				       "LOYAL_OPEN_READONLY to read it",
				       path, strerror(errno));
		char wal[TEXT_MAX_BYTES * 4 + 8];
		struct stat wal_info;
		if (strlen(path) < sizeof wal - 4) {
			snprintf(wal, sizeof wal, "%s-wal", path);
			*unclean = stat(wal, &wal_info) == 0 && wal_info.st_size > 0;
		}
		return LOYAL_OK;
	}
	if (errno != ENOENT)
		return ly_fail(s->error, LOYAL_EIO, "file '%s' cannot be read: %s", path, strerror(errno));
	if (!(flags & LOYAL_OPEN_CREATE))
		return ly_fail(s->error, LOYAL_ENOTFOUND,
			       "file '%s' does not exist (open with LOYAL_OPEN_CREATE to create it)",
			       path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return ly_fail(s->error, errno == EROFS || errno == EACCES ? LOYAL_EREADONLY : LOYAL_EIO,
			       "file '%s' cannot be created: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return LOYAL_OK;
}

__extension__ typedef __int128 wide;

/* sum128(x, ...): the exact sum of every integer argument over the group, as an integer where it
 * fits 64 bits and as decimal text where it does not. Totals over a whole currency (what all
 * members hold, what was ever issued) may leave 64 bits in a sound file, where SQLite's sum()
 * fails with "integer overflow"; 2^63 rows of 64-bit values cannot leave 128 bits. */
static void sum128_step(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	/* SQLite aligns the context to 8 bytes; a 128-bit integer wants 16, hence the copies. */
	void *state = sqlite3_aggregate_context(context, sizeof(wide));
	if (!state) {
		sqlite3_result_error_nomem(context);
		return;
	}
	wide total;
	memcpy(&total, state, sizeof total);
	for (int i = 0; i < argc; i++) {
		int type = sqlite3_value_type(argv[i]);
		if (type == SQLITE_INTEGER)
			total += sqlite3_value_int64(argv[i]);
		else if (type != SQLITE_NULL)
			sqlite3_result_error(context, "sum128() of a value that is not an integer", -1);
	}
	memcpy(state, &total, sizeof total);
}

static void sum128_final(sqlite3_context *context)
{
	void *state = sqlite3_aggregate_context(context, 0);
	wide value = 0;
	if (state)
		memcpy(&value, state, sizeof value);
	if (value >= INT64_MIN && value <= INT64_MAX) {
		sqlite3_result_int64(context, (int64_t)value);
		return;
	}
	char digits[48], *at = digits + sizeof digits;
	*--at = '\0';
	bool negative = value < 0;
	do {
		int digit = (int)(value % 10);
		*--at = (char)('0' + (digit < 0 ? -digit : digit));
		value /= 10;
	} while (value != 0);
	if (negative)
		*--at = '-';
	sqlite3_result_text(context, at, -1, SQLITE_TRANSIENT);
}

static int64_t monotonic_us(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* Waits for a lock another connection holds: sleeps of 1, 2, 4 and 8 ms, then of 10 ms, each
 * stretched by up to as much again at random, until busy_timeout_ms has passed since the first.
 * SQLite's own handler sleeps up to 100 ms a try once a caller has waited a while, so that under
 * steady load a writer that had waited long kept losing the lock to newcomers polling every
 * millisecond: with eight writers some waited out the whole 5 s. Capping the sleep keeps every
 * waiter in the race (the longest wait, eight processes writing 48,000 calls: 2.5 s before,
 * 0.8 s after, the same throughput); polling more often than that cost a third of it, in the
 * page caches that each change of writer empties. The jitter (from the clock's low bits) keeps
 * waiters from retrying in step. */
static int wait_for_lock(void *ctx, int attempts)
{
	store *s = ctx;
	int64_t now = monotonic_us();
	if (attempts == 0)
		sq(s)->busy_since_us = now;
	if (now - sq(s)->busy_since_us >= (int64_t)sq(s)->busy_timeout_ms * 1000 ||
	    ly_store_interrupted(s))
		return 0;
	long step_us = attempts < 4 ? 1000L << attempts : 10000;
	long pause_us = step_us + (long)((uint64_t)now * 2654435761u % (uint64_t)step_us);
	struct timespec pause = {0, pause_us * 1000L};
	nanosleep(&pause, NULL);
	return 1;
}

/* ly_key_hash(key): the hash the engine files a key under (XXH3 of its text), for verify. */
static void key_hash_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	const void *key = sqlite3_value_text(argv[0]);
	size_t length = (size_t)sqlite3_value_bytes(argv[0]);
	if (key)
		sqlite3_result_int64(context, (int64_t)XXH3_64bits(key, length));
	else
		sqlite3_result_null(context);
}

/* ly_idem_slot(member, key_hash): ly_sqlite_idem_slot, for the migration and verify. */
static void idem_slot_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int64(context, ly_sqlite_idem_slot(sqlite3_value_int64(argv[0]),
							  sqlite3_value_int64(argv[1])));
}

int ly_sqlite_functions(sqlite3 *sql)
{
	int direct = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
	int rc = sqlite3_create_function_v2(sql, "sum128", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
					    NULL, NULL, sum128_step, sum128_final, NULL);
	if (rc == SQLITE_OK)
		rc = ly_sqlite_balance_functions(sql);
	if (rc == SQLITE_OK)
		rc = ly_sqlite_lot_functions(sql);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(sql, "ly_idem_slot", 2, direct, NULL,
						idem_slot_function, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(sql, "ly_key_hash", 1, direct, NULL,
						key_hash_function, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = ly_sqlite_activity_functions(sql);
	return rc;
}

static int configure(store *s, int busy_timeout_ms)
{
	sqlite3 *sql = sq(s)->sql;
	int rc = ly_sqlite_functions(sql);
	if (rc != SQLITE_OK)
		return ly_sqlite_error(s, rc, "configuring the connection");
	sqlite3_extended_result_codes(sql, 1);
	(void)busy_timeout_ms; /* kept in the store, read by wait_for_lock */
	sqlite3_busy_handler(sql, wait_for_lock, s);
	sqlite3_db_config(sql, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(sql, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(sql, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	/* These pragmas do not read the file, so they are safe before its identity is known. */
	return exec(s, "PRAGMA temp_store = MEMORY;", "configuring the connection");
}

/* Switches the file to WAL, synchronous as `durability` (LOYAL_DURABILITY_*) asks: NORMAL for
 * PROCESS (a committed call survives a crash of the process; a power loss may drop the last
 * commits but never corrupts the file), FULL for POWER (the WAL is synced at each commit,
 * which survives a power loss), OFF for SCRATCH (never synced: a power loss may damage the
 * file). */
static int enable_wal(store *s, int durability)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sq(s)->sql, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
	bool is_wal = false;
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(stmt, 0);
		is_wal = mode && strcmp((const char *)mode, "wal") == 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK)
		return ly_sqlite_error(s, rc, "switching to WAL mode");
	if (!is_wal)
		return ly_fail(s->error, LOYAL_EIO, "file '%s' could not be switched to WAL mode",
			       sq(s)->path);
	return exec(s, durability == LOYAL_DURABILITY_POWER     ? "PRAGMA synchronous = FULL"
		       : durability == LOYAL_DURABILITY_SCRATCH ? "PRAGMA synchronous = OFF"
								: "PRAGMA synchronous = NORMAL",
		    "setting synchronous mode");
}

/* The page cache, and the size at which the WAL is copied back into the file and cut back. */
static int size_memory_and_wal(store *s, int64_t wal_limit_bytes)
{
	int rc = exec(s, STORE_TUNING_CACHE, "sizing the page cache");
	int64_t page_size = 4096;
	if (rc == LOYAL_OK && query_int(s, "PRAGMA page_size", &page_size) != SQLITE_OK)
		page_size = 4096;
	int pages = (int)(wal_limit_bytes / (page_size > 0 ? page_size : 4096));
	if (rc == LOYAL_OK && sqlite3_wal_autocheckpoint(sq(s)->sql, pages) != SQLITE_OK)
		rc = ly_fail(s->error, LOYAL_EINTERNAL, "setting the WAL's checkpoint size");
	/* journal_size_limit takes no bound parameter: the text carries a number this library
	 * checked (loyal_open) and printed, never caller text. */
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA journal_size_limit = %lld",
		 (long long)wal_limit_bytes);
	return rc == LOYAL_OK ? exec(s, pragma, "limiting the WAL's size") : rc;
}

int ly_sqlite_cache_size(store *s, int64_t bytes)
{
	if (bytes <= 0)
		return exec(s, STORE_TUNING_CACHE, "sizing the page cache");
	/* a number this library chose, printed: the pragma takes no bound parameter */
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%lld", (long long)(bytes / 1024));
	return exec(s, pragma, "sizing the page cache");
}

/* A file: URI for path, every byte outside the unreserved characters escaped as %XX. */
static char *file_uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t length = strlen(path);
	char *uri = ly_mem_alloc(5 + 3 * length + strlen(query) + 1), *at = uri;
	if (!uri)
		return NULL;
	at += sprintf(at, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			     (*c >= '0' && *c <= '9') || strchr("/-._~", *c);
		if (plain) {
			*at++ = (char)*c;
		} else {
			*at++ = '%';
			*at++ = hex[*c >> 4];
			*at++ = hex[*c & 15];
		}
	}
	strcpy(at, query);
	return uri;
}

/* Finalizes the cached statements and closes the connection (it cannot close while one is
 * prepared); returns SQLite's code. */
static int disconnect(store *s)
{
	for (int i = 0; i < ST__COUNT; i++) {
		sqlite3_finalize(sq(s)->stmts[i]);
		sq(s)->stmts[i] = NULL;
	}
	int rc = sqlite3_close(sq(s)->sql);
	sq(s)->sql = NULL;
	return rc;
}

/* Opens the SQLite connection (read-only, or as an immutable file) and reads what the file is. */
static int connect(store *s, const char *path, bool read_only, bool immutable,
		   int busy_timeout_ms, enum identity *identity, int64_t *version)
{
	int open_flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
			 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
			 (immutable ? SQLITE_OPEN_URI : 0);
	char *uri = immutable ? file_uri(path, "?immutable=1") : NULL;
	if (immutable && !uri)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory opening '%s'", path);
	int sqlite_rc = sqlite3_open_v2(immutable ? uri : path, &sq(s)->sql, open_flags, NULL);
	ly_mem_free(uri);
	if (sqlite_rc != SQLITE_OK)
		return ly_sqlite_error(s, sqlite_rc, "opening the file");
	int rc = configure(s, busy_timeout_ms);
	/* The rollback is prepared now: ending a failed call's transaction then needs no memory
	 * that may have run out. */
	if (rc == LOYAL_OK && !ly_sqlite_stmt(s, ST_ROLLBACK, "ROLLBACK"))
		rc = s->error->code;
	return rc == LOYAL_OK ? read_identity(s, identity, version) : rc;
}

int ly_sqlite_open(ly_error *error, const char *path, const store_settings *settings,
		  store **out)
{
	unsigned int flags = settings->flags;
	int busy_timeout_ms = settings->busy_timeout_ms;
	sqlite_store *q = ly_mem_calloc(1, sizeof *q);
	store *s = q ? &q->base : NULL;
	*out = s;
	if (!s)
		return ly_fail(error, LOYAL_ENOMEM, "out of memory opening '%s'", path);
	s->ops = &ly_sqlite_ops;
	s->error = error;
	sq(s)->flags = flags;
	sq(s)->busy_timeout_ms = busy_timeout_ms;
	sq(s)->path = ly_mem_strdup(path);
	if (!sq(s)->path)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory opening '%s'", path);
	bool read_only = flags & LOYAL_OPEN_READONLY, unclean = false;
	mode_t mode = 0;
	int rc = prepare_file(s, path, flags, &mode, &unclean);
	if (rc != LOYAL_OK)
		return rc;
	enum identity identity;
	int64_t version = 0;
	rc = connect(s, path, read_only, false, busy_timeout_ms, &identity, &version);
	/* On read-only media SQLite cannot make the shared-memory file a WAL reader needs; a file
	 * closed cleanly (no WAL beside it) is then read as immutable: nothing can change it. */
	if (rc != LOYAL_OK && read_only && !unclean &&
	    (sqlite3_extended_errcode(sq(s)->sql) & 0xff) == SQLITE_CANTOPEN) {
		disconnect(s);
		rc = connect(s, path, true, true, busy_timeout_ms, &identity, &version);
	}
	if (rc != LOYAL_OK)
		return rc;
	if (identity == IDENTITY_EMPTY && !(flags & LOYAL_OPEN_CREATE))
		return ly_fail(s->error, LOYAL_ENOTADB,
			       "file '%s' is empty, not a loyal database (open with "
			       "LOYAL_OPEN_CREATE to initialize it)",
			       path);
	/* An empty file made by someone else becomes a database readable by its owner and group
	 * only (before the WAL and shared-memory files copy its mode). */
	if (identity == IDENTITY_EMPTY && (mode & S_IRWXO) && chmod(path, mode & 0770) != 0)
		return ly_fail(s->error, LOYAL_EIO, "file '%s' cannot be made private (mode %04o): %s",
			       path, (unsigned int)mode, strerror(errno));
	/* A WAL left beside the file: a crash may have left damage, looked for before any use. */
	if (unclean && identity == IDENTITY_LOYAL &&
	    (rc = check_file(s, "PRAGMA quick_check")) != LOYAL_OK)
		return rc;
	if (version > STORE_SCHEMA_VERSION)
		return ly_fail(s->error, LOYAL_EVERSION,
			       "file '%s' has schema version %lld, newer than this library's %d",
			       path, (long long)version, STORE_SCHEMA_VERSION);
	if (read_only)
		return version < STORE_SCHEMA_VERSION
			       ? ly_fail(s->error, LOYAL_EVERSION,
					 "file '%s' has schema version %lld and must be migrated to "
					 "%d: open it once without LOYAL_OPEN_READONLY",
					 path, (long long)version, STORE_SCHEMA_VERSION)
			       : LOYAL_OK;
	rc = enable_wal(s, settings->durability);
	if (rc == LOYAL_OK)
		rc = size_memory_and_wal(s, settings->wal_limit_bytes);
	if (rc != LOYAL_OK)
		return rc;
	return version < STORE_SCHEMA_VERSION ? ly_sqlite_migrate(s, STORE_SCHEMA_VERSION) : LOYAL_OK;
}

void ly_sqlite_interrupt(store *s)
{
	sqlite3_interrupt(sq(s)->sql); /* thread-safe while the connection is open */
}

int ly_sqlite_close(store *s)
{
	if (!s)
		return LOYAL_OK;
	ly_sqlite_activity_free(s);
	int rc = disconnect(s);
	ly_mem_free(sq(s)->path);
	ly_mem_free(sq(s));
	return rc == SQLITE_OK ? LOYAL_OK : LOYAL_EIO;
}

static void sleep_ms(int ms)
{
	struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&pause, NULL);
}

static int64_t monotonic_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Runs one of the cached statements that take no parameters and return no rows. */
static int run_cached(store *s, enum store_statement id, const char *sql, const char *doing)
{
	sqlite3_stmt *stmt = ly_sqlite_stmt(s, id, sql);
	return stmt ? ly_sqlite_step_done(s, stmt, doing) : s->error->code;
}

/* BEGIN IMMEDIATE, retried: the busy handler waits inside each attempt; the loop also covers the
 * cases where SQLite returns BUSY at once (a WAL being recovered by another process). */
/* The file's data version: it changes whenever another connection commits (and at times
 * when none did: then the caches are only read again). */
static unsigned int data_version(store *s)
{
	unsigned int version = 0;
	sqlite3_file_control(sq(s)->sql, "main", SQLITE_FCNTL_DATA_VERSION, &version);
	return version;
}

static void forget_caches(store *s)
{
	ly_sqlite_activity_forget(s);
	sq(s)->caches_valid = false;
	sq(s)->next_event = 0;
	sq(s)->next_record = 0;
	sq(s)->program_version_known = false;
}

static int begin_immediate(store *s)
{
	if (sq(s)->flags & LOYAL_OPEN_READONLY)
		return ly_fail(s->error, LOYAL_EREADONLY, "the database was opened read-only");
	int refused = refuse_if_damaged(s);
	if (refused == LOYAL_OK)
		refused = end_leftover_transaction(s);
	if (refused != LOYAL_OK)
		return refused;
	sqlite3_stmt *stmt = ly_sqlite_stmt(s, ST_BEGIN, "BEGIN IMMEDIATE");
	if (!stmt)
		return s->error->code;
	int64_t deadline = monotonic_ms() + sq(s)->busy_timeout_ms;
	for (;;) {
		int rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE) {
			/* The caches hold while no other connection wrote since this one's commit. */
			sq(s)->writing = true;
			if (!sq(s)->caches_valid || data_version(s) != sq(s)->caches_version)
				forget_caches(s);
			return LOYAL_OK;
		}
		if ((rc & 0xff) != SQLITE_BUSY || monotonic_ms() >= deadline ||
		    ly_store_interrupted(s))
			return ly_sqlite_error(s, rc, "waiting to start a write transaction");
		sleep_ms(1);
	}
}

static int commit_transaction(store *s)
{
	sq(s)->reserved_count = 0;
	int rc = ly_sqlite_activity_flush(s);
	if (rc == LOYAL_OK)
		rc = run_cached(s, ST_COMMIT, "COMMIT", "committing");
	if (rc != LOYAL_OK) {
		rollback_transaction(s);
		return rc;
	}
	sq(s)->writing = false;
	ly_sqlite_activity_forget(s); /* other connections may write the rows now */
	sq(s)->caches_version = data_version(s);
	sq(s)->caches_valid = true;
	return LOYAL_OK;
}

/* Ends the transaction open on the connection: through the ROLLBACK prepared as the
 * connection opened (prepared again when SQLite dropped it), else through exec, a few times
 * over, as either can fail when memory runs out. A transaction left open would hold the write
 * lock while the handle idles and show a failed call's writes to its next read. Returns
 * whether none is open now. */
static bool end_open_transaction(store *s)
{
	sqlite3_stmt **rollback = &sq(s)->stmts[ST_ROLLBACK];
	for (int attempt = 0; attempt < 3 && !sqlite3_get_autocommit(sq(s)->sql); attempt++) {
		if (!*rollback)
			sqlite3_prepare_v3(sq(s)->sql, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT,
					   rollback, NULL);
		if (*rollback) {
			sqlite3_step(*rollback);
			sqlite3_reset(*rollback);
		}
		if (!sqlite3_get_autocommit(sq(s)->sql))
			sqlite3_exec(sq(s)->sql, "ROLLBACK", NULL, NULL, NULL);
	}
	return sqlite3_get_autocommit(sq(s)->sql);
}

static void rollback_transaction(store *s)
{
	sq(s)->reserved_count = 0;
	sq(s)->writing = false;
	forget_caches(s);
	end_open_transaction(s);
}

/* A transaction that a failed call could not end (memory ran out at each try) is ended before
 * the next call's begins; until it can be, calls fail with LOYAL_ENOMEM. */
static int end_leftover_transaction(store *s)
{
	if (sqlite3_get_autocommit(sq(s)->sql) || sq(s)->writing || sq(s)->reading ||
	    sq(s)->batch)
		return LOYAL_OK;
	forget_caches(s);
	return end_open_transaction(s)
		       ? LOYAL_OK
		       : ly_fail(s->error, LOYAL_ENOMEM,
				 "out of memory: the transaction of a call that failed could not be "
				 "rolled back yet (file '%s'); retry when memory is free",
				 sq(s)->path);
}

/* Runs a savepoint's statement once the activity changed in memory is saved: a savepoint
 * begun covers it, one released or undone keeps it or not with the rest. */
static int run_flushed(store *s, enum store_statement id, const char *sql, const char *doing)
{
	int rc = ly_sqlite_activity_flush(s);
	return rc == LOYAL_OK ? run_cached(s, id, sql, doing) : rc;
}

/* A call refused before it begins: the handle saw damage, or the batch was rolled back when a
 * call of it failed after writing. */
static int refuse_call(store *s)
{
	int refused = refuse_if_damaged(s);
	if (refused != LOYAL_OK || !sq(s)->batch || !sq(s)->batch_failure)
		return refused;
	return ly_fail(s->error, LOYAL_ESTATE,
		       "the batch was rolled back when a call of it failed after writing (%s): end "
		       "it with loyal_batch_rollback and begin again",
		       sq(s)->batch_failure_message);
}

int ly_sqlite_begin(store *s)
{
	int refused = refuse_call(s);
	if (refused != LOYAL_OK)
		return refused;
	if (sq(s)->batch)
		return run_flushed(s, ST_CALL_SAVEPOINT, "SAVEPOINT call", "opening a savepoint");
	return begin_immediate(s);
}

int ly_sqlite_begin_refusals_first(store *s)
{
	if (!sq(s)->batch)
		return ly_sqlite_begin(s);
	int rc = refuse_call(s);
	if (rc == LOYAL_OK)
		rc = ly_sqlite_activity_flush(s);
	if (rc != LOYAL_OK)
		return rc;
	sq(s)->unguarded = true;
	sq(s)->changes_at_begin = sqlite3_total_changes64(sq(s)->sql);
	return LOYAL_OK;
}

/* An unguarded call that failed after writing: nothing but the batch's own rollback undoes
 * it, so the whole batch goes, and the failure is kept to refuse the batch's later calls. */
static void fail_batch(store *s)
{
	sq(s)->batch_failure = s->error->code != LOYAL_OK ? s->error->code : LOYAL_EINTERNAL;
	snprintf(sq(s)->batch_failure_message, sizeof sq(s)->batch_failure_message, "%s: %.250s",
		 loyal_errstr(sq(s)->batch_failure), s->error->message);
	rollback_transaction(s); /* which leaves the handle's error as it is */
}

int ly_sqlite_commit(store *s)
{
	if (sq(s)->batch && sq(s)->unguarded) {
		sq(s)->unguarded = false;
		int rc = ly_sqlite_activity_flush(s);
		if (rc != LOYAL_OK)
			fail_batch(s);
		return rc;
	}
	if (sq(s)->batch)
		return run_flushed(s, ST_CALL_RELEASE, "RELEASE call", "releasing a savepoint");
	return commit_transaction(s);
}

/* Undoes and closes a savepoint, keeping the handle's error: the one that caused the undo. */
/* What a call kept in memory that its undoing takes back: reserved ids, the activity it read
 * or counted. */
static void forget_call(store *s)
{
	sq(s)->reserved_count = 0;
	sq(s)->next_event = 0;
	ly_sqlite_activity_forget(s);
}

static void undo_savepoint(store *s, enum store_statement undo, const char *undo_sql,
			   enum store_statement release, const char *release_sql)
{
	forget_call(s);
	int save_code = s->error->code;
	char save_message[sizeof s->error->message];
	memcpy(save_message, s->error->message, sizeof save_message);
	if (run_cached(s, undo, undo_sql, "undoing a savepoint") == LOYAL_OK)
		run_cached(s, release, release_sql, "releasing a savepoint");
	s->error->code = save_code;
	memcpy(s->error->message, save_message, sizeof save_message);
}

void ly_sqlite_rollback(store *s)
{
	sq(s)->program_version_known = false;
	if (sq(s)->batch && sq(s)->unguarded) {
		sq(s)->unguarded = false;
		forget_call(s);
		if (sqlite3_total_changes64(sq(s)->sql) != sq(s)->changes_at_begin)
			fail_batch(s);
		return;
	}
	if (sq(s)->batch)
		undo_savepoint(s, ST_CALL_ROLLBACK, "ROLLBACK TO call", ST_CALL_RELEASE,
			       "RELEASE call");
	else
		rollback_transaction(s);
}

int ly_sqlite_savepoint(store *s)
{
	return run_flushed(s, ST_OP_SAVEPOINT, "SAVEPOINT op", "opening a savepoint");
}

int ly_sqlite_savepoint_release(store *s)
{
	return run_flushed(s, ST_OP_RELEASE, "RELEASE op", "releasing a savepoint");
}

void ly_sqlite_savepoint_rollback(store *s)
{
	undo_savepoint(s, ST_OP_ROLLBACK, "ROLLBACK TO op", ST_OP_RELEASE, "RELEASE op");
}

int ly_sqlite_batch_begin(store *s)
{
	if (sq(s)->batch)
		return ly_fail(s->error, LOYAL_ESTATE, "a batch is already open on this handle");
	int rc = begin_immediate(s);
	if (rc == LOYAL_OK) {
		sq(s)->batch = true;
		sq(s)->batch_failure = 0;
	}
	return rc;
}

int ly_sqlite_batch_commit(store *s)
{
	if (!sq(s)->batch)
		return ly_fail(s->error, LOYAL_ESTATE, "no batch is open on this handle");
	sq(s)->batch = false;
	if (sq(s)->batch_failure) { /* already rolled back: the batch ends with its failure */
		int code = sq(s)->batch_failure;
		sq(s)->batch_failure = 0;
		return ly_fail(s->error, code,
			       "the batch was rolled back when a call of it failed after writing (%s)",
			       sq(s)->batch_failure_message);
	}
	return commit_transaction(s);
}

void ly_sqlite_batch_rollback(store *s)
{
	sq(s)->batch = false;
	sq(s)->batch_failure = 0;
	rollback_transaction(s);
}

int ly_sqlite_read_begin(store *s)
{
	int leftover = end_leftover_transaction(s);
	if (leftover != LOYAL_OK)
		return leftover;
	if (!sqlite3_get_autocommit(sq(s)->sql))
		return LOYAL_OK;
	int rc = run_cached(s, ST_READ_BEGIN, "BEGIN DEFERRED", "starting a read");
	sq(s)->reading = rc == LOYAL_OK;
	return rc;
}

/* Ends a read, leaving the handle's error as it was: reads end on their error paths too. */
void ly_sqlite_read_end(store *s)
{
	if (!sq(s)->reading)
		return;
	sq(s)->reading = false;
	rollback_transaction(s);
}

bool ly_sqlite_in_batch(store *s)
{
	return sq(s)->batch;
}

/* Runs SQLite's check `pragma` (quick_check: the pages and records; integrity_check also
 * holds every index to its table) and says what it found damaged. */
static int check_file(store *s, const char *pragma)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sq(s)->sql, pragma, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return ly_sqlite_error(s, rc, "checking the file");
	rc = sqlite3_step(stmt);
	int result = LOYAL_OK;
	if (rc == SQLITE_ROW) {
		const char *verdict = (const char *)sqlite3_column_text(stmt, 0);
		if (!verdict || strcmp(verdict, "ok") != 0) {
			result = ly_fail(s->error, LOYAL_ECORRUPT, "file '%s' is damaged: %s",
					 sq(s)->path, verdict ? verdict : "(no detail)");
			ly_sqlite_mark_damaged(s);
		}
	} else {
		result = ly_sqlite_error(s, rc, "checking the file");
	}
	sqlite3_finalize(stmt);
	return result;
}

/* loyal_verify's: an index that lost or gained an entry would hide a member, a key or an
 * event from the lookups through it, which quick_check does not see. */
int ly_sqlite_check_structure(store *s)
{
	return check_file(s, "PRAGMA integrity_check");
}
