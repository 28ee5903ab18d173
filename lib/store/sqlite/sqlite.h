/* sqlite.h - what the SQLite backend's files share: the connection and its statements. */
#ifndef LOYAL_STORE_SQLITE_H
#define LOYAL_STORE_SQLITE_H

#include "store/store.h"
#include "util/varint.h"

#include <jansson.h>
#include <sqlite3.h>

/* The schema version this library writes; older files are migrated forward to it. */
#define STORE_SCHEMA_VERSION 23
/* Marks a SQLite file as a loyal database (PRAGMA application_id): "LOYL". */
#define STORE_APPLICATION_ID 0x4C4F594C

/* Every statement the backend runs; prepared once per handle, on first use, and reused. */
enum store_statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_CALL_SAVEPOINT,
	ST_CALL_RELEASE,
	ST_CALL_ROLLBACK,
	ST_OP_SAVEPOINT,
	ST_OP_RELEASE,
	ST_OP_ROLLBACK,
	ST_META_SET,
	ST_HOLDS_NEXT,
	ST_REPORT_ACTIVE_DAY,
	ST_REPORT_ACTIVE_MONTH,
	ST_REPORT_ACTIVE_WEEK,
	ST_REPORT_FLOWS,
	ST_REPORT_LIABILITY,
	ST_REPORT_RETENTION_DAY,
	ST_REPORT_RETENTION_MONTH,
	ST_REPORT_RETENTION_WEEK,
	ST_REPORT_SEGMENTS,
	ST_REPORT_TIERS,
	ST_BADGE_ADD,
	ST_BADGE_LAST,
	ST_BADGE_NEXT,
	ST_MEMBER_NEXT,
	ST_MEMBER_COUNT,
	ST_MEMBER_SEARCH,
	ST_BUDGET_TAKE,
	ST_BUDGET_ADD,
	ST_BOARD_ADD,
	ST_BOARD_PAGE,
	ST_BOARD_SCORE,
	ST_BOARD_RANK,
	ST_TIER_ASSIGNMENT_GET,
	ST_TIER_ASSIGNMENT_SET,
	ST_TIER_ASSIGNMENT_CLEAR,
	ST_SEGMENT_ADD,
	ST_SEGMENT_CHANGE,
	ST_SEGMENT_CHANGE_NEXT,
	ST_SEGMENT_IS,
	ST_SEGMENT_NEXT_REFRESH,
	ST_SEGMENT_REMOVE,
	ST_TIER_ALL,
	ST_TIER_DUE,
	ST_TIER_GET,
	ST_TIER_HISTORY,
	ST_TIER_HISTORY_ADD,
	ST_TIER_PUT,
	ST_ACTIVITY_GET,
	ST_ACTIVITY_PUT,
	ST_ACTIVITY_ARCHIVE_PUT,
	ST_ACTIVITY_ARCHIVE_READ,
	ST_ACTIVITY_ARCHIVE_NEWEST,
	ST_ACTIVITY_ARCHIVE_FIND,
	ST_EVENT_INSERT,
	ST_EVENT_OUTCOME,
	ST_EVENT_NEXT_ID,
	ST_EVENT_POSTINGS,
	ST_EVENT_SPAN,
	ST_EVENT_PAGE,
	ST_RULE_GET,
	ST_RULE_PUT,
	ST_MEMBER_GET,
	ST_READ_BEGIN,
	ST_ROLLBACK,
	ST_TXN_NEXT_ID,
	ST_BALANCE_GET,
	ST_BALANCE_PUT,
	ST_BALANCE_PUT_SAME_DUE,
	ST_BALANCE_PUT_LOTS,
	ST_BALANCE_PUT_LOTS_SAME_DUE,
	ST_CURRENCY_FIND,
	ST_CURRENCY_INSERT,
	ST_DUE_MEMBERS,
	ST_ENTRIES_OF_TXN,
	ST_ENTRY_INSERT,
	ST_HOLDS_DUE,
	ST_HOLD_GET,
	ST_HOLD_INSERT,
	ST_HOLD_UPDATE,
	ST_IDEM_GET,
	ST_IDEM_PUT,
	ST_IDEM_SLOT_PUT,
	ST_IDEM_COLLISION_GET,
	ST_IDEM_COLLISION_PUT,
	ST_IDEM_CLAIM,
	ST_IDEM_NEXT_ID,
	ST_IDEM_CLAIMED_PUT,
	ST_IDLE_MEMBERS,
	ST_MEMBER_LOTS,
	ST_LOT_GET,
	ST_LOT_INSERT,
	ST_LOT_ACTIVATE,
	ST_MEMBER_ATTRS_GET,
	ST_MEMBER_ATTRS_PUT,
	ST_MEMBER_EXTERNAL_ID,
	ST_MEMBER_FIND,
	ST_MEMBER_FIND_WRITING,
	ST_MEMBER_INSERT,
	ST_MEMBER_UPDATE,
	ST_MOVES_OF_TXN,
	ST_MOVE_INSERT,
	ST_PROGRAM_GET,
	ST_PROGRAM_PUT,
	ST_PROGRAM_VERSION,
	ST_REVERSED_TOTAL,
	ST_TXN_GET,
	ST_TXN_INSERT,
	ST_REDEMPTION_INSERT,
	ST_REDEMPTION_GET,
	ST_REDEMPTION_SETTLE,
	ST_REDEMPTION_COUNT,
	ST_REDEMPTION_BEFORE,
	ST_REDEMPTION_PENDING,
	ST_REDEMPTION_DUE,
	ST_STOCK_TAKE,
	ST_STOCK_RETURN,
	ST_STOCK_TAKEN,
	ST_COUPON_ADD,
	ST_COUPON_ISSUE,
	ST_COUPON_DRAW,
	ST_COUPON_GET,
	ST_COUPON_BY_ID,
	ST_COUPON_USE,
	ST_COUPON_BEFORE,
	ST_COUPON_POOL_LEFT,
	ST_COUPON_RESERVE,
	ST_COUPON_RESERVATION_GET,
	ST_COUPON_RESERVATION_SET,
	ST_REPORT_REWARDS,
	ST_OUTBOX_ADD,
	ST_OUTBOX_PAGE,
	ST_OUTBOX_LAST,
	ST_OUTBOX_CONSUMER_GET,
	ST_OUTBOX_CONSUMER_PUT,
	ST_OUTBOX_CONSUMER_DROP,
	ST_OUTBOX_CONSUMERS,
	ST_OUTBOX_TRIM,
	ST_NOTICE_MARK,
	ST_EXPIRING,
	ST_TIER_REVIEWS,
	ST__COUNT
};

/* A member's activity blob being changed within a write transaction (activity.c). */
typedef struct activity_blob {
	unsigned char *data; /* sqlite3_malloc'd */
	size_t size, capacity;
	bool failed; /* out of memory while writing it */
} activity_blob;
#define ACTIVITY_CACHED 4
typedef struct activity_entry {
	int64_t member; /* 0: a free place */
	activity_blob blob;
	bool dirty;   /* changed since read or saved */
	bool checked; /* known whole (read blobs are checked in what each read reads) */
} activity_entry;

/* The SQLite backend's store: the interface's part first. */
typedef struct sqlite_store {
	store base;
	unsigned int flags; /* LOYAL_OPEN_* */
	sqlite3 *sql;
	char *path;
	int busy_timeout_ms;
	int64_t busy_since_us; /* when the lock being waited for was first found busy */
	bool batch;   /* a batch transaction is open: calls become savepoints */
	/* A call of the batch begun without a savepoint (ly_sqlite_begin_refusals_first), and the
	 * connection's count of changed rows when it began: a rollback that finds it moved rolls
	 * the batch back, recording why in batch_failure (its code; 0: the batch stands). */
	bool unguarded;
	int64_t changes_at_begin;
	int batch_failure;
	char batch_failure_message[300];
	bool reading; /* a read snapshot opened by ly_sqlite_read_begin */
	/* What a write transaction learned that holds as long as no other connection writes: the
	 * program version and the next event id. They are kept across this connection's own
	 * write transactions while the file's data version is the one its last commit left
	 * (SQLITE_FCNTL_DATA_VERSION changes on any other connection's commit), and forgotten on
	 * any rollback or when a program is saved. */
	bool writing; /* a write transaction (or batch) is open */
	bool caches_valid;
	unsigned int caches_version; /* the data version after this connection's last commit */
	bool program_version_known;
	int64_t program_version;
	/* Transaction ids reserved by ly_sqlite_txn_reserve: the next and how many are left. */
	int64_t reserved_next;
	int reserved_count;
	/* The next event id and idempotency record id this write transaction hands out (0: to be
	 * read from the file). */
	int64_t next_event, next_record;
	/* The first sign of damage seen (SQLite's corruption codes, a failed check): the file
	 * takes no more writes through this handle, so that damage is never built upon. */
	bool damaged;
	char damage[256];
	/* The activity blobs of the members a write transaction last used, most recent first. */
	activity_entry activity[ACTIVITY_CACHED];
	activity_blob activity_spare, activity_days; /* room their changes are written in */
	sqlite3_stmt *stmts[ST__COUNT];
} sqlite_store;

/* The backend's view of a store this backend opened. */
static inline sqlite_store *sq(store *s)
{
	return (sqlite_store *)s;
}

/* The operations of the interface (backend.c), each as store.h describes its ly_store_*
 * call. */
extern const store_ops ly_sqlite_ops;
int ly_sqlite_close(store *s);
void ly_sqlite_interrupt(store *s);
int ly_sqlite_begin_refusals_first(store *s);
int ly_sqlite_begin(store *s);
int ly_sqlite_commit(store *s);
void ly_sqlite_rollback(store *s);
int ly_sqlite_savepoint(store *s);
int ly_sqlite_savepoint_release(store *s);
void ly_sqlite_savepoint_rollback(store *s);
int ly_sqlite_batch_begin(store *s);
int ly_sqlite_cache_size(store *s, int64_t bytes);
int ly_sqlite_batch_commit(store *s);
void ly_sqlite_batch_rollback(store *s);
bool ly_sqlite_in_batch(store *s);
int ly_sqlite_read_begin(store *s);
void ly_sqlite_read_end(store *s);
int ly_sqlite_check_structure(store *s);
void ly_sqlite_mark_damaged(store *s);
int ly_sqlite_check_invariants(store *s);
int ly_sqlite_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx);
int ly_sqlite_program_version(store *s, int64_t *out);
int ly_sqlite_program_get(store *s, char **document, int64_t *version);
int ly_sqlite_program_put(store *s, const char *document, int64_t at, int64_t *version);
int ly_sqlite_rule_version(store *s, const char *name, int64_t *version, char **definition);
int ly_sqlite_rule_put(store *s, const char *name, int64_t version, const char *definition);
int ly_sqlite_currency_id(store *s, const char *name, bool create, int64_t *id);
int ly_sqlite_member_find(store *s, const char *external_id, member_row *out, bool *found);
int ly_sqlite_member_get(store *s, int64_t id, member_row *out, bool *found);
int ly_sqlite_member_insert(store *s, const char *external_id, int64_t at, member_row *out);
int ly_sqlite_member_update(store *s, member_row *member);
int ly_sqlite_member_attrs_get(store *s, int64_t member, char **attrs_json);
int ly_sqlite_member_attrs_put(store *s, int64_t member, const char *attrs_json,
			       const char *timezone);
int ly_sqlite_member_external_id(store *s, int64_t member, char **external_id);
int ly_sqlite_balance_get(store *s, const member_row *member, int64_t currency,
			  balance_row *out);
int ly_sqlite_balance_put(store *s, member_row *member, const balance_row *balance,
			  bool due_changed, const lot_row *lots, size_t lot_count);
int ly_sqlite_next_expiry(store *s, int64_t member, int64_t currency, int64_t after, int64_t *at,
			  int64_t *amount, bool *found);
int ly_sqlite_holds_next_deadline(store *s, int64_t member, int64_t currency, int64_t *out);
int ly_sqlite_lots_open(store *s, int64_t member, int64_t currency, int64_t through, lot_vec *out);
int ly_sqlite_lot_get(store *s, int64_t member, int64_t id, lot_row *out, bool *found);
int ly_sqlite_txn_read(store *s, int64_t member, int64_t id, txn_row *txn, entry_vec *entries, move_vec *moves,
		       bool *found);
int ly_sqlite_txn_reserve(store *s, int count, int64_t *first);
int ly_sqlite_reversed_total(store *s, int64_t member, int64_t txn, int64_t *out);
int ly_sqlite_hold_get(store *s, int64_t member, int64_t txn, hold_row *out, bool *found);
int ly_sqlite_post(store *s, const store_posting *posting);
int ly_sqlite_event_reserve(store *s, int64_t *id);
int ly_sqlite_idem_claim(store *s, int64_t member, int64_t key_hash, const char *key,
			 int64_t event, idem_row *out, bool *found);
int ly_sqlite_report_liability(store *s, store_row_fn visit, void *ctx);
int ly_sqlite_report_flows(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx);
int ly_sqlite_report_active(store *s, enum store_period period, int64_t from_day, int64_t to_day,
			    store_row_fn visit, void *ctx);
int ly_sqlite_report_retention(store *s, enum store_period period, int64_t from_day,
			       int64_t to_day, int64_t joined_from, int64_t joined_to,
			       int64_t utc_offset_ms, store_row_fn visit, void *ctx);
int ly_sqlite_report_sizes(store *s, store_row_fn visit, void *ctx);
int ly_sqlite_event_postings(store *s, int64_t event, event_posting_vec *out);
int ly_sqlite_redemption_insert(store *s, redemption_row *row);
int ly_sqlite_redemption_get(store *s, int64_t member, int64_t id, redemption_row *out,
			     bool *found);
int ly_sqlite_redemption_settle(store *s, int64_t member, int64_t id, int state, int64_t at,
			const char *postings);
int ly_sqlite_redemption_count(store *s, int64_t member, const char *reward, int64_t from_day,
			       int64_t to_day, int64_t now, int64_t *out);
int ly_sqlite_redemption_before(store *s, int64_t member, int64_t before, redemption_row *out,
				bool *found);
int ly_sqlite_redemption_pending_after(store *s, int64_t after, redemption_row *out,
				       bool *found);
int ly_sqlite_redemption_due(store *s, int64_t at, redemption_row *out, bool *found);
int ly_sqlite_stock_take(store *s, const char *reward, int64_t quantity, int64_t stock,
			 int64_t now, bool *taken);
int ly_sqlite_stock_return(store *s, const char *reward, int64_t quantity);
int ly_sqlite_stock_taken(store *s, const char *reward, int64_t now, int64_t *out);
int ly_sqlite_coupon_code_add(store *s, const char *coupon, const char *code, bool *added);
int ly_sqlite_coupon_code_issue(store *s, coupon_code_row *row, bool *added);
int ly_sqlite_coupon_pool_draw(store *s, coupon_code_row *row, bool *found);
int ly_sqlite_coupon_code_get(store *s, const char *code, coupon_code_row *out, bool *found);
int ly_sqlite_coupon_code_by_id(store *s, int64_t member, int64_t id, coupon_code_row *out,
			  bool *found);
int ly_sqlite_coupon_code_use(store *s, int64_t id, int64_t uses_left, int64_t used_at);
int ly_sqlite_coupon_code_before(store *s, int64_t member, int64_t before, coupon_code_row *out,
			   bool *found);
int ly_sqlite_coupon_pool_left(store *s, const char *coupon, int64_t *out);
int ly_sqlite_coupon_reservation_add(store *s, int64_t member, int64_t code_id, int64_t at,
			       int64_t *id);
int ly_sqlite_coupon_reservation_get(store *s, int64_t member, int64_t id, int64_t *code_id,
			       int *state, bool *found);
int ly_sqlite_coupon_reservation_set(store *s, int64_t member, int64_t id, int state, int64_t at);
int ly_sqlite_report_rewards(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx);
int ly_sqlite_holds_due(store *s, int64_t member, int64_t currency, int64_t at, int64_t **due,
			size_t *count);
int ly_sqlite_idem_get(store *s, int64_t member, int64_t key_hash, const char *key, idem_row *out,
		       bool *found);
int ly_sqlite_idem_put(store *s, const idem_row *idem);
int ly_sqlite_event_insert(store *s, event_row *event);
int ly_sqlite_event_outcome(store *s, int64_t member, int64_t id, void **outcome, size_t *size);
int ly_sqlite_event_span(store *s, int64_t before, int64_t *count, int64_t *last);
int ly_sqlite_event_page(store *s, int64_t after, int64_t last, int64_t before, int64_t limit,
                         store_row_fn visit, void *ctx);
int ly_sqlite_activity_add(store *s, int64_t member, const char *type, int64_t day, int64_t delta,
			   const activity_number *numbers, size_t count);
int ly_sqlite_activity_count(store *s, int64_t member, const char *type, int64_t from, int64_t to,
			     int64_t *out);
int ly_sqlite_activity_day_count(store *s, int64_t member, const char *type, int64_t from,
				 int64_t to, int64_t *out);
int ly_sqlite_activity_sum(store *s, int64_t member, const char *type, const char *property,
			   int64_t from, int64_t to, double *out);
int ly_sqlite_activity_days(store *s, int64_t member, const char *type, int64_t to, size_t limit,
			    int64_t **days, size_t *count);
int ly_sqlite_rule_counter_add(store *s, int64_t member, const char *rule, int64_t currency,
			       int64_t day, int64_t delta);
int ly_sqlite_rule_counter_sum(store *s, int64_t member, const char *rule, int64_t currency,
			       int64_t from, int64_t to, int64_t *out);
int ly_sqlite_tier_get(store *s, int64_t member, tier_row *out);
int ly_sqlite_tier_assignment_get(store *s, int64_t member, tier_assignment *out, bool *found);
int ly_sqlite_tier_assignment_set(store *s, const tier_assignment *assignment);
int ly_sqlite_tier_assignment_clear(store *s, int64_t member);
int ly_sqlite_tier_put(store *s, const tier_row *tier);
int ly_sqlite_tier_history_add(store *s, int64_t member, const char *from, const char *to,
			       int64_t at, const char *reason);
int ly_sqlite_tier_due(store *s, int64_t at, bool all, int64_t **members, size_t *count);
int ly_sqlite_tier_history_before(store *s, int64_t member, int64_t before, tier_change *out,
				  bool *found);
int ly_sqlite_member_page(store *s, int64_t after, member_page *out);
int ly_sqlite_member_count(store *s, int64_t *out);
int ly_sqlite_board_add(store *s, const char *board, int64_t period, int64_t member, double delta,
		  int64_t at);
int ly_sqlite_board_page(store *s, const char *board, int64_t period, int64_t offset, int64_t limit,
		   store_row_fn visit, void *ctx);
int ly_sqlite_board_rank(store *s, const char *board, int64_t period, int64_t member, int64_t *rank,
		   double *score, bool *found);
int ly_sqlite_rule_budget_take(store *s, const char *rule, int64_t currency, int64_t period,
			       int64_t *used);
int ly_sqlite_rule_budget_add(store *s, const char *rule, int64_t currency, int64_t period,
			      int64_t delta);
int ly_sqlite_member_search(store *s, const member_filter *filter, int64_t after,
			    member_page *out);
int ly_sqlite_segment_is_member(store *s, const char *segment, int64_t member, bool *out);
int ly_sqlite_segment_set(store *s, const char *segment, int64_t member, bool in, int64_t at);
int ly_sqlite_segment_change(store *s, int64_t refresh, const char *segment, int64_t member,
			     bool entered, int64_t at);
int ly_sqlite_segment_next_refresh(store *s, int64_t *out);
int ly_sqlite_segment_change_next(store *s, int64_t refresh, int64_t after, int64_t *id,
				  char *segment, size_t size, char *member, size_t member_size,
				  bool *entered, bool *found);
int ly_sqlite_badge_award_add(store *s, int64_t member, const char *badge, const char *level,
			      int kind, int64_t at, const char *cause);
int ly_sqlite_badge_state(store *s, int64_t member, const char *badge, const char *level,
			  badge_state *out);
int ly_sqlite_badge_award_next(store *s, int64_t member, int64_t after, badge_award_row *out,
			       bool *found);
int ly_sqlite_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
			   int64_t **triples, size_t *count);
int ly_sqlite_idle_members(store *s, int64_t currency, int64_t cutoff, int64_t **members,
			   size_t *count);
/* Steps a statement, handing each row to read (which fills *row from it) and then to visit;
 * finishes the statement. Returns the visitor's first refusal or SQLite's failure. */
int ly_sqlite_visit_rows(store *s, sqlite3_stmt *stmt, void (*read)(sqlite3_stmt *, void *),
			 void *row, store_row_fn visit, void *ctx, const char *doing);
int ly_sqlite_outbox_add(store *s, int64_t member, const char *kind, int64_t at, const char *body);
int ly_sqlite_outbox_page(store *s, int64_t after, int64_t limit, store_row_fn visit, void *ctx);
int ly_sqlite_outbox_last(store *s, int64_t *out);
int ly_sqlite_outbox_consumer_get(store *s, const char *name, int64_t *position, bool *found);
int ly_sqlite_outbox_consumer_put(store *s, const char *name, int64_t position, int64_t at);
int ly_sqlite_outbox_consumer_drop(store *s, const char *name, bool *found);
int ly_sqlite_outbox_consumers(store *s, store_row_fn visit, void *ctx);
int ly_sqlite_outbox_trim(store *s, int64_t before, int64_t limit, int64_t *removed);
int ly_sqlite_notice_mark(store *s, int64_t member, int kind, int64_t currency, int64_t subject,
			  int64_t threshold, bool *added);
int ly_sqlite_expiring(store *s, int64_t currency, int64_t from, int64_t to, int64_t after,
		       store_row_fn visit, void *ctx);
int ly_sqlite_tier_reviews(store *s, int64_t from, int64_t to, int64_t after, store_row_fn visit,
			   void *ctx);

/* Opening (store.c picks this backend for a file path), and for tests of the file format:
 * migrating to `target_version` (at most STORE_SCHEMA_VERSION) in one transaction, reading
 * the file's schema version. */
int ly_sqlite_open(ly_error *error, const char *path, const store_settings *settings, store **out);
int ly_sqlite_migrate(store *s, int target_version);
int ly_sqlite_schema_version(store *s, int *out);

/* Returns statement `id`, prepared from `sql` on first use and cached in the handle, or NULL with
 * the error recorded in the store's sink. Each id is used with one SQL text only. */
sqlite3_stmt *ly_sqlite_stmt(store *s, enum store_statement id, const char *sql);
/* Steps a statement that returns no rows (or ignores them), then resets it. */
int ly_sqlite_step_done(store *s, sqlite3_stmt *stmt, const char *doing);
/* Declares `stmt`, the cached statement `id`, returning the handle's error if it cannot be
 * prepared. */
#define STMT(id, sql)                                 \
	sqlite3_stmt *stmt = ly_sqlite_stmt(s, id, sql); \
	if (!stmt)                                    \
		return s->error->code

/* The members' balances as the rows of a table, for set-based queries (WITH ... ): one per
 * member and currency (balances.c). */
#define MEMBER_BALANCES                                                                      \
	"balances(member, currency, available, pending, held, earned, spent, expired, due_at) AS" \
	" (SELECT m.id, c.id, ly_balance(m.balances, c.id, 0), ly_balance(m.balances, c.id, 1),"  \
	" ly_balance(m.balances, c.id, 2), ly_balance(m.balances, c.id, 3),"                     \
	" ly_balance(m.balances, c.id, 4), ly_balance(m.balances, c.id, 5),"                     \
	" ly_balance(m.balances, c.id, 6) FROM members m, currencies c"                          \
	" WHERE ly_balance(m.balances, c.id, 0) IS NOT NULL)"

/* A member's open lots, kept in the member's row (members.lots, lots.c): one record per lot
 * with points left, ordered by currency, expiry, id. */
typedef struct open_lot {
	int64_t currency, id, remaining, expires_at, pending_until;
} open_lot;
/* Whether a blob is whole and ordered, and the record at *at (before end) into *out, moving
 * *at past it (false at the end or on damage). */
bool ly_sqlite_lots_valid(const void *blob, size_t size);
/* Reads a blob's lots one at a time, each checked as it comes (whole, after the one before in
 * consumption order), so that a read that stops early pays only for what it read: read is
 * false at the end, or on damage (damaged then set). */
typedef struct lots_cursor {
	const unsigned char *at, *end;
	open_lot last;
	bool damaged;
} lots_cursor;
lots_cursor ly_sqlite_lots_cursor(const void *blob, size_t size);
bool ly_sqlite_lots_read(lots_cursor *c, open_lot *out);
bool ly_sqlite_lot_next(const unsigned char **at, const unsigned char *end, open_lot *out);
/* The lots' changes as the argument of ly_lots_apply: sqlite3_malloc'd, *size bytes; NULL
 * without memory. */
unsigned char *ly_sqlite_lot_changes(const lot_row *lots, size_t count, size_t *size);
/* The SQL functions: ly_lots_apply(lots, changes), each change replacing, adding or (remaining
 * 0) closing its lot; ly_lots_json(lots), a JSON array of [currency, id, remaining,
 * expires_at, pending_until]; the aggregate ly_lots_pack(currency, id, remaining, expires_at,
 * pending_until). */
int ly_sqlite_lot_functions(sqlite3 *sql);

/* The members' open lots as the rows of a table, for set-based queries (WITH ...). */
#define MEMBER_LOTS                                                                       \
	"open_lots(member, currency, lot, remaining, expires_at, pending_until) AS"        \
	" (SELECT m.id, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3,"        \
	" j.value ->> 4 FROM members m, json_each(ly_lots_json(m.lots)) j WHERE m.lots <> X'')"

/* Members' balances (balances.c): whether a blob is whole, and a currency's record of it into
 * *out (false when it has none); the SQL functions statements use: ly_balance(balances,
 * currency, field), ly_balance_set(balances, currency, available, pending, held, earned, spent,
 * expired, due_at) (tests rewrite files with it), the aggregate ly_balances_pack(currency,
 * ...). */
bool ly_sqlite_balances_valid(const void *blob, size_t size);
bool ly_sqlite_balances_get(const void *blob, size_t size, int64_t currency, balance_row *out);
/* The most bytes one currency's record takes. */
#define BALANCE_RECORD_MAX 80
/* Writes to `out` (room for size + BALANCE_RECORD_MAX bytes, apart from blob) the valid blob
 * with balance->currency's record replaced by balance, or inserted in order; returns its size. */
size_t ly_sqlite_balances_set(const unsigned char *blob, size_t size, const balance_row *balance,
			      unsigned char *out);
/* The soonest due_at of a valid blob's records, or INT64_MAX. */
int64_t ly_sqlite_balances_due(const unsigned char *blob, size_t size);
int ly_sqlite_balance_functions(sqlite3 *sql);

/* The slot of an idempotency key in table idem: a 64-bit hash of member and key hash
 * (ledger_store.c); ly_idem_slot(member, key_hash) in SQL. */
int64_t ly_sqlite_idem_slot(int64_t member, int64_t key_hash);

#define MEMBER_COLUMNS                                                                        \
	"id, joined_at, status, last_active_at, last_txn, last_hash, timezone, tier, balances"
#define MEMBER_COLUMN_COUNT 9

/* Row helpers (rows.c). */
int ly_sqlite_step_one(store *s, sqlite3_stmt *stmt, bool *found, const char *doing);
void ly_sqlite_finish(sqlite3_stmt *stmt);
int ly_sqlite_column_text(store *s, sqlite3_stmt *stmt, int column, char **out);
/* A copy of a blob column (*size bytes, the caller's: ly_mem_free). */
int ly_sqlite_column_blob(store *s, sqlite3_stmt *stmt, int column, void **out, size_t *size);
int64_t ly_sqlite_last_rowid(store *s);
int ly_sqlite_push_failed(store *s);
/* Hands out the next id of a write transaction from *next (a cache the caller keeps: 0 reads
 * the largest id stored, with `sql`, statement `id`), and moves *next on. */
int ly_sqlite_next_id(store *s, enum store_statement id, const char *sql, int64_t *next,
		      int64_t *out, const char *doing);
int ly_sqlite_collect_ints(store *s, sqlite3_stmt *stmt, int columns, int64_t **out, size_t *count,
			   const char *doing);
void ly_sqlite_copy_column(sqlite3_stmt *stmt, int column, char *out, size_t size);
void ly_sqlite_read_member_row(sqlite3_stmt *stmt, member_row *out);
/* Notes the member's saved fields as what the file has (member_row.stored). */
void ly_sqlite_member_stored(member_row *member);
/* Keeps a copy of the member's balances blob with the row, when it fits (member_row.balances). */
void ly_sqlite_member_balances(member_row *member, const void *blob, size_t size);

/* A total from sum128() (see open.c): an integer, or decimal digits where it leaves 64 bits. */
store_total ly_sqlite_column_total(sqlite3_stmt *stmt, int column);

/* SQL functions of the backend's own (deterministic, for its statements only): a scalar has
 * `call`, an aggregate `step` and `final`. Adds `count` of them to a connection; SQLite's
 * result code. */
typedef struct sql_function {
	const char *name;
	int args;
	void (*call)(sqlite3_context *, int, sqlite3_value **);
	void (*step)(sqlite3_context *, int, sqlite3_value **);
	void (*final)(sqlite3_context *);
} sql_function;
int ly_sqlite_add_functions(sqlite3 *sql, const sql_function *functions, size_t count);

/* The rows an aggregate function collects in its context (ly_balances_pack and the other
 * packs): push gives room for one more of `size` bytes, zeroed (NULL, with the function's
 * error set, without memory); the final call reads them with sqlite3_aggregate_context(context,
 * 0), NULL when there were none, and frees items. */
typedef struct aggregate_rows {
	void *items;
	size_t count;
	bool failed;
} aggregate_rows;
void *ly_sqlite_aggregate_push(sqlite3_context *context, size_t size);

/* Adds the backend's SQL functions to a connection (sum128, ly_balance and the others of
 * balances.c, lots.c and activity.c, ly_idem_slot); returns SQLite's result code. */
int ly_sqlite_functions(sqlite3 *sql);

/* Members' activity (activity.c), kept in their rows and the archive: whether a blob is whole;
 * its SQL functions, ly_activity_json(blob), a JSON array of [kind (0 activity, 1 a rule's
 * counter), name, currency, day, count, {sums}] per day, and the aggregate
 * ly_activity_pack(kind, name, currency, day, count, sums); the blobs a write transaction
 * changed in memory: saved (flush), forgotten (on rollback, commit, close), the member's still
 * unsaved one for their row's update (*blob NULL when none; ready to write, rolled into the
 * archive if too large) and marking it saved once written. */
bool ly_sqlite_activity_valid(const void *blob, size_t size);
int ly_sqlite_activity_functions(sqlite3 *sql);
int ly_sqlite_activity_flush(store *s);
void ly_sqlite_activity_forget(store *s);
void ly_sqlite_activity_free(store *s); /* its memory too, on closing */
int ly_sqlite_activity_unsaved(store *s, int64_t member, const void **blob, size_t *size);
void ly_sqlite_activity_saved(store *s, int64_t member);
/* Keeps the member's blob, read with their row in a write transaction, for what the
 * transaction counts next (nothing when it keeps theirs already, or would first have to save
 * another's). */
int ly_sqlite_activity_read(store *s, int64_t member, const void *blob, size_t size);

/* The members' activity as the rows of a table, for set-based queries (WITH ...): each day of
 * each activity type, in their rows and the archive. */
#define MEMBER_ACTIVITY                                                                       \
	"activity(member, type, day) AS (SELECT m.id, j.value ->> 1, j.value ->> 3 FROM"      \
	" members m, json_each(ly_activity_json(m.activity)) j WHERE m.activity <> X''"       \
	" AND j.value ->> 0 = 0 UNION ALL SELECT a.member, j.value ->> 1, j.value ->> 3 FROM"  \
	" activity_archive a, json_each(ly_activity_json(a.data)) j WHERE j.value ->> 0 = 0)"

/* Records a SQLite failure in the store's sink as the matching LOYAL_E* code; returns that code. */
int ly_sqlite_error(store *s, int sqlite_rc, const char *doing);

#endif /* LOYAL_STORE_SQLITE_H */
