/* postgres.h - what the PostgreSQL backend's files share: the connection, its statements and
 * the helpers that bind parameters and read results.
 *
 * The backend keeps the same logical tables as the SQLite one in a schema of its own, `loyal`,
 * every member-owned table keyed by member_id first (the distribution column under Citus).
 * Writes serialize per member by a row lock on the member's row (SELECT ... FOR UPDATE), taken
 * when a write transaction finds or creates the member; reads run in READ COMMITTED, or in a
 * REPEATABLE READ snapshot between read_begin and read_end. */
#ifndef LOYAL_STORE_POSTGRES_H
#define LOYAL_STORE_POSTGRES_H

#include "store/store.h"

#include <libpq-fe.h>

#include <pthread.h>

/* How many event ids one reservation takes from the sequence (its INCREMENT). */
#define EVENT_ID_BLOCK 64
/* The schema version this library writes in the `loyal` schema. */
#define PG_SCHEMA_VERSION 6

/* The statements a connection has prepared, found by the address of their SQL text (each call
 * site's literal): a connection prepares each on first use. */
#define PG_STATEMENTS 256
typedef struct pg_statement {
	const char *sql;
	bool prepared;
} pg_statement;

/* A statement sent in the pipeline of a write transaction whose result is not read yet. */
typedef struct pg_pending {
	const char *doing;
	int prepares;    /* a statement's preparation: its slot; -1 for a statement */
	PGresult **keep; /* where its result goes (the caller's), or NULL: checked and dropped */
	bool expect_one; /* it must change (or return) exactly one row, else `missing` */
	char missing[128];
} pg_pending;
#define PG_PENDING 64

typedef struct pg_store {
	store base;
	PGconn *conn;
	/* What loyal_interrupt cancels the running query with, from another thread: made again
	 * whenever the connection is (the server's process and key change), under cancel_lock. */
	PGcancel *cancel;
	pthread_mutex_t cancel_lock;
	unsigned int flags; /* LOYAL_OPEN_* */
	char server[200];   /* "host:port/database", for messages (never the password) */
	bool batch;         /* a batch transaction is open: calls become savepoints */
	bool in_txn;        /* a transaction (write or read) is open on the connection */
	/* The connection failed (LOYAL_EIO), or its pipeline could not be left: libpq may still
	 * call it good (a server that ends a session says so before it closes the socket), but
	 * the next call outside a transaction opens it again. */
	bool lost;
	bool writing;
	bool reading;
	bool damaged;
	char damage[256];
	/* A statement of the open transaction failed: the server refuses the rest of it until a
	 * savepoint is rolled back to, and its commit would only roll it back. */
	bool txn_failed;
	int64_t claims;        /* idempotency claims handed out, each told apart by its number */
	/* The program version a write transaction read, kept until it ends or saves a program:
	 * a batch runs on the program it began with, as it does on SQLite, whose batch holds the
	 * only write lock. */
	bool program_version_known;
	int64_t program_version;
	/* Event ids: the sequence hands out blocks of EVENT_ID_BLOCK, this connection the ids of
	 * its block one by one (next_event 0: none left). */
	int64_t next_event, events_left;
	/* The members whose rows the open write transaction has locked, by a hash of their host
	 * id: locking a row again in a later savepoint would cost the server a new multixact
	 * each time (quadratic over a batch). Forgotten when the transaction ends or a savepoint
	 * is rolled back (which may release locks taken inside it). */
	struct pg_lock {
		uint64_t key; /* 0: a free place */
		int64_t member;
	} *locks;
	size_t lock_count, lock_capacity;
	int64_t reserved_next; /* transaction ids reserved by txn_reserve */
	int reserved_count;
	pg_statement statements[PG_STATEMENTS];
	/* Inside a write transaction the connection is in libpq's pipeline mode: statements whose
	 * results the engine does not need go out without waiting, and the next statement whose
	 * result it needs (or the commit) reads all of theirs, in one round trip. */
	bool pipeline;
	int pending_count;
	pg_pending pending[PG_PENDING];
	/* The open write transaction's happenings (a JSON array of [member, kind, at, body]),
	 * written with its commit (outbox.c), and how many there were at each open savepoint. */
	struct json_t *happenings;
#define PG_MARKS 16
	size_t marks[PG_MARKS];
	int mark_count;
} pg_store;

static inline pg_store *pq(store *s)
{
	return (pg_store *)s;
}

/* A statement's parameters, in text form but for bytes (bytea, sent as they are); NULL is SQL
 * NULL. */
#define PG_MAX_ARGS 32
typedef struct pg_args {
	int count;
	bool no_memory; /* an argument could not be made: the statement refuses to run */
	bool binary;    /* some are bytes: lengths and formats say which */
	const char *values[PG_MAX_ARGS];
	int lengths[PG_MAX_ARGS], formats[PG_MAX_ARGS];
	char ints[PG_MAX_ARGS][32];
} pg_args;
void ly_pg_int(pg_args *a, int64_t value);
void ly_pg_text(pg_args *a, const char *text);
void ly_pg_bool(pg_args *a, bool value);
/* `size` bytes, borrowed until the statement is run or sent. */
void ly_pg_bytes(pg_args *a, const void *bytes, size_t size);
/* An array parameter ("{1,2,3}") of `count` integers, each `stride` bytes after the one
 * before (a field of an array of rows): the text is allocated, handed back to be freed with
 * ly_mem_free after the statement ran (NULL without memory, then the statement refuses). */
char *ly_pg_array(pg_args *a, const int64_t *values, size_t count, size_t stride);

/* Runs `sql` (a literal: prepared once per connection, found again by its address) with the
 * arguments; returns its result (PQclear it) or NULL with the failure recorded, `doing` naming
 * what the engine was doing. */
PGresult *ly_pg_query(store *s, const char *sql, const pg_args *a, const char *doing);
/* The same for a statement whose rows are not wanted: inside a write transaction it is sent
 * without waiting, its failure reported by the next statement that waits or by the commit
 * (which then fails: nothing is ever committed past a failed statement). */
int ly_pg_exec(store *s, const char *sql, const pg_args *a, const char *doing);
/* ly_pg_exec of a statement that must change (or return) exactly one row: otherwise the
 * failure is LOYAL_ECORRUPT with `missing` as its message. */
int ly_pg_exec_one(store *s, const char *sql, const pg_args *a, const char *doing,
		   const char *missing);
/* Runs `sql` unprepared, without parameters (transaction control, the schema); inside a write
 * transaction it is sent without waiting, as ly_pg_exec's statements are. */
int ly_pg_simple(store *s, const char *sql, const char *doing);
/* Records a failure of the connection or of a statement (result may be NULL). */
int ly_pg_error(store *s, const PGresult *result, const char *doing);

/* Reading results: an integer (0 for NULL), a double, whether NULL, an allocated copy of a
 * text (NULL for NULL; the caller's, ly_mem_free) and a copy into a buffer. */
int64_t ly_pg_get_int(const PGresult *r, int row, int column);
double ly_pg_get_double(const PGresult *r, int row, int column);
bool ly_pg_is_null(const PGresult *r, int row, int column);
int ly_pg_get_text(store *s, const PGresult *r, int row, int column, char **out);
/* An allocated copy of a bytea column (*size bytes, the caller's: ly_mem_free). */
int ly_pg_get_bytes(store *s, const PGresult *r, int row, int column, void **out, size_t *size);
void ly_pg_copy(const PGresult *r, int row, int column, char *out, size_t size);
/* A 128-bit total from a numeric column. */
store_total ly_pg_get_total(const PGresult *r, int row, int column);
/* Collects `columns` integers of every row into an allocated array (*count integers). */
int ly_pg_collect_ints(store *s, const PGresult *r, int columns, int64_t **out, size_t *count);

/* A member row from columns PG_MEMBER_COLUMNS at `first`. */
#define PG_MEMBER_COLUMNS \
	"id, joined_at, status, last_active_at, last_txn, last_hash, timezone, tier"
void ly_pg_member_row(const PGresult *r, int row, int first, member_row *out);

/* The member whose host id hashes to key, when the open write transaction locked them (0:
 * none); remembering one that it locked. */
int64_t ly_pg_locked(store *s, uint64_t key);
int ly_pg_lock_remember(store *s, uint64_t key, int64_t member);
void ly_pg_locks_forget(store *s);

/* Opening (store.c picks this backend for a postgresql:// or postgres:// URI, or a libpq
 * key=value string). */
int ly_pg_open(ly_error *error, const char *conninfo, const store_settings *settings,
	       store **out);
extern const store_ops ly_pg_ops;

/* The operations, as store.h describes them. */
int ly_pg_close(store *s);
void ly_pg_interrupt(store *s);
int ly_pg_begin(store *s);
int ly_pg_cache_size(store *s, int64_t bytes);
int ly_pg_commit(store *s);
void ly_pg_rollback(store *s);
int ly_pg_savepoint(store *s);
int ly_pg_savepoint_release(store *s);
void ly_pg_savepoint_rollback(store *s);
int ly_pg_batch_begin(store *s);
int ly_pg_batch_commit(store *s);
void ly_pg_batch_rollback(store *s);
bool ly_pg_in_batch(store *s);
int ly_pg_read_begin(store *s);
void ly_pg_read_end(store *s);
int ly_pg_check_structure(store *s);
/* The outbox's happenings of the open transaction: a savepoint marks how many there are,
 * its release forgets the mark, its undo drops those after it; the commit flushes them (the
 * statement goes out with the COMMIT), its end forgets them. */
void ly_pg_outbox_mark(store *s);
void ly_pg_outbox_unmark(store *s, bool undo);
int ly_pg_outbox_flush(store *s);
void ly_pg_outbox_forget(store *s);
/* Hands each row of a result (NULL: the failure is recorded) to read, which fills *row, and
 * then to visit; clears it. Returns the visitor's first refusal. */
int ly_pg_visit_rows(store *s, PGresult *r, void (*read)(const PGresult *, int, void *),
		     void *row, store_row_fn visit, void *ctx);
int ly_pg_outbox_add(store *s, int64_t member, const char *kind, int64_t at, const char *body);
int ly_pg_outbox_page(store *s, int64_t after, int64_t limit, store_row_fn visit, void *ctx);
int ly_pg_outbox_last(store *s, int64_t *out);
int ly_pg_outbox_consumer_get(store *s, const char *name, int64_t *position, bool *found);
int ly_pg_outbox_consumer_put(store *s, const char *name, int64_t position, int64_t at);
int ly_pg_outbox_consumer_drop(store *s, const char *name, bool *found);
int ly_pg_outbox_consumers(store *s, store_row_fn visit, void *ctx);
int ly_pg_outbox_trim(store *s, int64_t before, int64_t limit, int64_t *removed);
int ly_pg_notice_mark(store *s, int64_t member, int kind, int64_t currency, int64_t subject,
		      int64_t threshold, bool *added);
int ly_pg_expiring(store *s, int64_t currency, int64_t from, int64_t to, int64_t after,
		   store_row_fn visit, void *ctx);
int ly_pg_tier_reviews(store *s, int64_t from, int64_t to, int64_t after, store_row_fn visit,
		       void *ctx);
void ly_pg_mark_damaged(store *s);
int ly_pg_check_invariants(store *s);
int ly_pg_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx);
int ly_pg_program_version(store *s, int64_t *out);
int ly_pg_program_get(store *s, char **document, int64_t *version);
int ly_pg_program_put(store *s, const char *document, int64_t at, int64_t *version);
int ly_pg_rule_version(store *s, const char *name, int64_t *version, char **definition);
int ly_pg_rule_put(store *s, const char *name, int64_t version, const char *definition);
int ly_pg_currency_id(store *s, const char *name, bool create, int64_t *id);
int ly_pg_member_find(store *s, const char *external_id, member_row *out, bool *found);
int ly_pg_member_get(store *s, int64_t id, member_row *out, bool *found);
int ly_pg_member_insert(store *s, const char *external_id, int64_t at, member_row *out);
int ly_pg_member_update(store *s, member_row *member);
int ly_pg_member_attrs_get(store *s, int64_t member, char **attrs_json);
int ly_pg_member_attrs_put(store *s, int64_t member, const char *attrs_json,
			   const char *timezone);
int ly_pg_member_external_id(store *s, int64_t member, char **external_id);
int ly_pg_balance_get(store *s, const member_row *member, int64_t currency, balance_row *out);
int ly_pg_balance_put(store *s, member_row *member, const balance_row *balance,
		      bool due_changed, const lot_row *lots, size_t lot_count);
int ly_pg_next_expiry(store *s, int64_t member, int64_t currency, int64_t after, int64_t *at,
		      int64_t *amount, bool *found);
int ly_pg_holds_next_deadline(store *s, int64_t member, int64_t currency, int64_t *out);
int ly_pg_lots_open(store *s, int64_t member, int64_t currency, int64_t through, lot_vec *out);
int ly_pg_lot_get(store *s, int64_t member, int64_t id, lot_row *out, bool *found);
int ly_pg_txn_read(store *s, int64_t member, int64_t id, txn_row *txn, entry_vec *entries,
		   move_vec *moves, bool *found);
int ly_pg_txn_reserve(store *s, int count, int64_t *first);
int ly_pg_reversed_total(store *s, int64_t member, int64_t txn, int64_t *out);
int ly_pg_hold_get(store *s, int64_t member, int64_t txn, hold_row *out, bool *found);
int ly_pg_post(store *s, const store_posting *posting);
int ly_pg_holds_due(store *s, int64_t member, int64_t currency, int64_t at, int64_t **due,
		    size_t *count);
int ly_pg_idem_get(store *s, int64_t member, int64_t key_hash, const char *key, idem_row *out,
		   bool *found);
int ly_pg_idem_claim(store *s, int64_t member, int64_t key_hash, const char *key, int64_t event,
		     idem_row *out, bool *found);
int ly_pg_idem_put(store *s, const idem_row *idem);
int ly_pg_event_insert(store *s, event_row *event);
int ly_pg_event_outcome(store *s, int64_t member, int64_t id, void **outcome, size_t *size);
int ly_pg_event_span(store *s, int64_t before, int64_t *count, int64_t *last);
int ly_pg_event_page(store *s, int64_t after, int64_t last, int64_t before, int64_t limit,
                     store_row_fn visit, void *ctx);
int ly_pg_event_reserve(store *s, int64_t *id);
int ly_pg_event_postings(store *s, int64_t event, event_posting_vec *out);
int ly_pg_redemption_insert(store *s, redemption_row *row);
int ly_pg_redemption_get(store *s, int64_t member, int64_t id, redemption_row *out,
			 bool *found);
int ly_pg_redemption_settle(store *s, int64_t member, int64_t id, int state, int64_t at,
			const char *postings);
int ly_pg_redemption_count(store *s, int64_t member, const char *reward, int64_t from_day,
			   int64_t to_day, int64_t now, int64_t *out);
int ly_pg_redemption_before(store *s, int64_t member, int64_t before, redemption_row *out,
			    bool *found);
int ly_pg_redemption_pending_after(store *s, int64_t after, redemption_row *out, bool *found);
int ly_pg_redemption_due(store *s, int64_t at, redemption_row *out, bool *found);
int ly_pg_stock_take(store *s, const char *reward, int64_t quantity, int64_t stock,
		     int64_t now, bool *taken);
int ly_pg_stock_return(store *s, const char *reward, int64_t quantity);
int ly_pg_stock_taken(store *s, const char *reward, int64_t now, int64_t *out);
int ly_pg_coupon_code_add(store *s, const char *coupon, const char *code, bool *added);
int ly_pg_coupon_code_issue(store *s, coupon_code_row *row, bool *added);
int ly_pg_coupon_pool_draw(store *s, coupon_code_row *row, bool *found);
int ly_pg_coupon_code_get(store *s, const char *code, coupon_code_row *out, bool *found);
int ly_pg_coupon_code_by_id(store *s, int64_t member, int64_t id, coupon_code_row *out,
			  bool *found);
int ly_pg_coupon_code_use(store *s, int64_t id, int64_t uses_left, int64_t used_at);
int ly_pg_coupon_code_before(store *s, int64_t member, int64_t before, coupon_code_row *out,
			   bool *found);
int ly_pg_coupon_pool_left(store *s, const char *coupon, int64_t *out);
int ly_pg_coupon_reservation_add(store *s, int64_t member, int64_t code_id, int64_t at,
			       int64_t *id);
int ly_pg_coupon_reservation_get(store *s, int64_t member, int64_t id, int64_t *code_id,
			       int *state, bool *found);
int ly_pg_coupon_reservation_set(store *s, int64_t member, int64_t id, int state, int64_t at);
int ly_pg_report_rewards(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx);
int ly_pg_activity_add(store *s, int64_t member, const char *type, int64_t day, int64_t delta,
		       const activity_number *numbers, size_t count);
int ly_pg_activity_count(store *s, int64_t member, const char *type, int64_t from, int64_t to,
			 int64_t *out);
int ly_pg_activity_day_count(store *s, int64_t member, const char *type, int64_t from,
			     int64_t to, int64_t *out);
int ly_pg_activity_sum(store *s, int64_t member, const char *type, const char *property,
		       int64_t from, int64_t to, double *out);
int ly_pg_activity_days(store *s, int64_t member, const char *type, int64_t to, size_t limit,
			int64_t **days, size_t *count);
int ly_pg_rule_counter_add(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t day, int64_t delta);
int ly_pg_rule_counter_sum(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t from, int64_t to, int64_t *out);
int ly_pg_tier_get(store *s, int64_t member, tier_row *out);
int ly_pg_tier_assignment_get(store *s, int64_t member, tier_assignment *out, bool *found);
int ly_pg_tier_assignment_set(store *s, const tier_assignment *assignment);
int ly_pg_tier_assignment_clear(store *s, int64_t member);
int ly_pg_tier_put(store *s, const tier_row *tier);
int ly_pg_tier_history_add(store *s, int64_t member, const char *from, const char *to,
			   int64_t at, const char *reason);
int ly_pg_tier_due(store *s, int64_t at, bool all, int64_t **members, size_t *count);
int ly_pg_tier_history_before(store *s, int64_t member, int64_t before, tier_change *out,
			      bool *found);
int ly_pg_member_page(store *s, int64_t after, member_page *out);
int ly_pg_member_count(store *s, int64_t *out);
int ly_pg_board_add(store *s, const char *board, int64_t period, int64_t member, double delta,
		  int64_t at);
int ly_pg_board_page(store *s, const char *board, int64_t period, int64_t offset, int64_t limit,
		   store_row_fn visit, void *ctx);
int ly_pg_board_rank(store *s, const char *board, int64_t period, int64_t member, int64_t *rank,
		   double *score, bool *found);
int ly_pg_rule_budget_take(store *s, const char *rule, int64_t currency, int64_t period,
			   int64_t *used);
int ly_pg_rule_budget_add(store *s, const char *rule, int64_t currency, int64_t period,
			  int64_t delta);
int ly_pg_member_search(store *s, const member_filter *filter, int64_t after,
			member_page *out);
int ly_pg_segment_is_member(store *s, const char *segment, int64_t member, bool *out);
int ly_pg_segment_set(store *s, const char *segment, int64_t member, bool in, int64_t at);
int ly_pg_segment_change(store *s, int64_t refresh, const char *segment, int64_t member,
			 bool entered, int64_t at);
int ly_pg_segment_next_refresh(store *s, int64_t *out);
int ly_pg_segment_change_next(store *s, int64_t refresh, int64_t after, int64_t *id,
			      char *segment, size_t size, char *member, size_t member_size,
			      bool *entered, bool *found);
int ly_pg_badge_award_add(store *s, int64_t member, const char *badge, const char *level,
			  int kind, int64_t at, const char *cause);
int ly_pg_badge_state(store *s, int64_t member, const char *badge, const char *level,
		      badge_state *out);
int ly_pg_badge_award_next(store *s, int64_t member, int64_t after, badge_award_row *out,
			   bool *found);
int ly_pg_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
		       int64_t **triples, size_t *count);
int ly_pg_idle_members(store *s, int64_t currency, int64_t cutoff, int64_t **members,
		       size_t *count);
int ly_pg_report_liability(store *s, store_row_fn visit, void *ctx);
int ly_pg_report_flows(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx);
int ly_pg_report_active(store *s, enum store_period period, int64_t from_day, int64_t to_day,
			store_row_fn visit, void *ctx);
int ly_pg_report_retention(store *s, enum store_period period, int64_t from_day,
			   int64_t to_day, int64_t joined_from, int64_t joined_to,
			   int64_t utc_offset_ms, store_row_fn visit, void *ctx);
int ly_pg_report_sizes(store *s, store_row_fn visit, void *ctx);

#endif /* LOYAL_STORE_POSTGRES_H */
