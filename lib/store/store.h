/* store.h - the storage interface: the only way the engine reaches stored state.
 *
 * A backend (lib/store/<name>/) implements the operations of struct store_ops (at the end of
 * this file) over a store of its own whose head is struct store; ly_store_open picks the backend
 * from the location and the engine calls the ly_store_* functions below, each its backend's
 * op. Operations are semantic, member first where a member owns the data (the shard key of a
 * distributed backend). Rules every op keeps: failures return a LOYAL_E* code with a message in
 * the store's error sink (the caller's, kept alive as long as the store); rows handed in are
 * borrowed for the call; what an op hands out is the caller's, freed with ly_mem_free or the
 * row's own clear/free function; writes happen between begin and commit (or inside a batch); a
 * store is used by one thread at a time (the handle's lock). A write that returns nothing the
 * engine needs may be sent without waiting (PostgreSQL's pipeline): its failure (a missing
 * member's row included) is then returned by a later op of the transaction or by its commit,
 * which fails and keeps nothing of it. */
#ifndef LOYAL_STORE_H
#define LOYAL_STORE_H

#include "loyal.h"
#include "util/checked.h"
#include "util/error.h"
#include "util/mem.h"
#include "util/text.h"
#include "util/vec.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* How a store is opened: from loyal_open_options, defaults filled in. */
typedef struct store_settings {
	unsigned int flags; /* LOYAL_OPEN_* */
	int busy_timeout_ms;
	int64_t wal_limit_bytes;
	int durability;         /* LOYAL_DURABILITY_* */
	bool postgres;          /* the location is a libpq connection string, not a file */
} store_settings;

/* Whether a location names a PostgreSQL database (a postgresql:// or postgres:// URI, which
 * libpq reads: host, port, user, password, database and every libpq parameter, PGHOST and
 * the other environment variables and service files filling in what it leaves out); any other
 * location is a SQLite file's path. */
bool ly_store_is_postgres(const char *location);
/* Opens the store at `location` (a file, or a PostgreSQL database when settings->postgres),
 * checks it is a loyal database and migrates it. *out receives the store (also on failure,
 * then to be closed: NULL only without memory). Every failure of the store is
 * recorded in `error`, a sink the caller owns and keeps alive as long as the store. */
int ly_store_open(ly_error *error, const char *path, const store_settings *settings, store **out);
/* Finalizes statements and closes the file; returns LOYAL_OK or LOYAL_EIO. Accepts NULL. */
static inline int ly_store_close(store *s);

/* Write transactions: immediate, retried while another writer holds the file (up to the busy
 * timeout). Every write of the engine happens between ly_store_begin and ly_store_commit. Inside a
 * batch (ly_store_batch_begin), begin/commit become a savepoint and its release. */
static inline int ly_store_begin(store *s);
/* Begins a call whose refusals are all decided before its first write, so that inside a batch
 * it needs no savepoint (whose copies of the pages it changes cost much of a call): rolled
 * back having written nothing, it undoes nothing; rolled back after writing (a failure of
 * storage or memory), the store rolls the whole batch back, and refuses the batch's later
 * calls and its commit with that failure until it is rolled back. Outside a batch, as
 * ly_store_begin. */
static inline int ly_store_begin_refusals_first(store *s);
static inline int ly_store_commit(store *s);
/* Undoes the open transaction (or savepoint); never fails from the caller's point of view. */
static inline void ly_store_rollback(store *s);
/* A nested undo point inside the current transaction. */
static inline int ly_store_savepoint(store *s);
static inline int ly_store_savepoint_release(store *s);
static inline void ly_store_savepoint_rollback(store *s);
/* Batches: one outer transaction around many calls. */
static inline int ly_store_batch_begin(store *s);
static inline int ly_store_batch_commit(store *s);
static inline void ly_store_batch_rollback(store *s);
static inline bool ly_store_in_batch(store *s);
/* How many bytes of stored pages the store may keep in memory from now on (0: its default),
 * for a call that fills a new database (loyal_simulate) and reaches more pages than the
 * default keeps. A backend without a cache of its own (PostgreSQL: the server keeps it) does
 * nothing. bytes is the library's figure, never a caller's text. */
static inline int ly_store_cache_size(store *s, int64_t bytes);

/* A consistent snapshot for a call that only reads (a no-op inside an open transaction): every
 * read until ly_store_read_end sees the store as it was at the first of them. */
static inline int ly_store_read_begin(store *s);
static inline void ly_store_read_end(store *s);

/* The backend's structural check, for loyal_verify (SQLite: integrity_check). */
static inline int ly_store_check_structure(store *s);
/* Records the handle's last error as damage found in the file: from then on every write through
 * the handle fails with LOYAL_ECORRUPT naming it (reads go on). */
static inline void ly_store_mark_damaged(store *s);
/* The invariants the stored rows must keep (DESIGN.md 1, 2, 3 but the hash chain, 5), checked
 * over the whole file. */
static inline int ly_store_check_invariants(store *s);
/* Calls visit for each transaction, in id order, with the hash of the one before it in its
 * member's chain (0 for a member's first), in one read snapshot; stops at visit's first error. */
typedef int (*ly_txn_link_fn)(void *ctx, int64_t txn, int64_t prev_hash);
static inline int ly_store_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx);

/* ---- program ---- */

/* The stored program: its version (0 before the first apply) and document (NULL then). */
static inline int ly_store_program_version(store *s, int64_t *out);
/* Reads the current program document (owned by the caller, ly_mem_free) and version. */
static inline int ly_store_program_get(store *s, char **document, int64_t *version);
/* Saves a new program version; returns its number in *version. */
static inline int ly_store_program_put(store *s, const char *document, int64_t at,
				       int64_t *version);
/* Rules: the version that last changed a rule (0 if never stored) and, when definition is not
 * NULL, its stored definition (the caller's, ly_mem_free). */
static inline int ly_store_rule_version(store *s, const char *name, int64_t *version,
					char **definition);
static inline int ly_store_rule_put(store *s, const char *name, int64_t version,
				    const char *definition);
/* Currencies: the id of `name`, assigned on first definition and never reused. */
static inline int ly_store_currency_id(store *s, const char *name, bool create, int64_t *id);

/* ---- members ---- */

#define MEMBER_BALANCES_BYTES 200 /* ~10 currencies' balances */
typedef struct member_row {
	int64_t id;
	int64_t joined_at;
	int64_t status; /* MEMBER_ACTIVE / MEMBER_BLOCKED */
	int64_t last_active_at;
	int64_t last_txn;  /* head of the member's transaction chain, 0 when none */
	int64_t last_hash; /* chain hash of last_txn */
	char timezone[8];  /* the "timezone" attribute when it is short text, else "" */
	char tier[72];     /* the member's tier (tier_row.tier), read with the row */
	/* What the store last read or wrote of the fields that ly_store_member_update saves, so
	 * that an update changing none of them writes nothing. */
	struct {
		int64_t status, last_active_at, last_txn, last_hash;
	} stored;
	/* The member's balances as the store read or wrote them with the row, in the backend's
	 * own form (opaque here), so that ly_store_balance_get reads nothing more; not cached
	 * when they were not read or take more room than this. */
	struct {
		bool cached;
		uint16_t size;
		unsigned char bytes[MEMBER_BALANCES_BYTES];
	} balances;
} member_row;

enum { MEMBER_ACTIVE = 0, MEMBER_BLOCKED = 1 };

/* Finds a member by the host's id; *found says whether it exists. */
static inline int ly_store_member_find(store *s, const char *external_id, member_row *out,
				       bool *found);
static inline int ly_store_member_get(store *s, int64_t id, member_row *out, bool *found);
/* Creates the member (joined and last active at `at`). A host id that exists already fails,
 * or, on a backend where another connection may have created the member since it was looked
 * for, gives that member (locked for this write transaction like a find's). */
static inline int ly_store_member_insert(store *s, const char *external_id, int64_t at,
					 member_row *out);
/* Saves status, last_active_at, last_txn and last_hash, unless they are what the store last
 * read or wrote of the row (member->stored, which a save brings up to date). */
static inline int ly_store_member_update(store *s, member_row *member);
/* Attributes: a JSON object text; get returns an allocated copy. Put also saves the copy of
 * their "timezone" (NULL when it is not text) that member rows carry. */
static inline int ly_store_member_attrs_get(store *s, int64_t member, char **attrs_json);
static inline int ly_store_member_attrs_put(store *s, int64_t member, const char *attrs_json,
					    const char *timezone);
/* The host's id of a member (allocated copy). */
static inline int ly_store_member_external_id(store *s, int64_t member, char **external_id);

/* ---- balances: one row per member and currency ---- */

typedef struct balance_row {
	int64_t member, currency;
	int64_t available; /* negative only as a debt, when no active lot is left */
	int64_t pending, held;
	int64_t earned, spent, expired; /* lifetime totals */
	int64_t due_at; /* nothing falls due before this (a lower bound; 0: unknown) */
} balance_row;

/* Loads the member's balance in the currency, or a zeroed one when they have none in it (with
 * due_at INT64_MAX: an account never written has nothing to fall due); from what was read with
 * the member's row when it carries their balances. LOYAL_ECORRUPT when they are damaged. */
static inline int ly_store_balance_get(store *s, const member_row *member, int64_t currency,
				       balance_row *out);
struct lot_row; /* below */
/* Saves the member's balance in the currency (balance->member is member->id) with the fields
 * of the member's row that ly_store_member_update saves, and the state of `lots` (lot_count of
 * them, may be NULL when 0): the member's lots in that currency that were created (posted) or
 * changed since the balance was last saved, each once, in its latest state (remaining 0: it
 * has no points left); what ly_store_lots_open and ly_store_lot_get give is what was saved
 * here. due_changed false promises that the stored balance, if there is one, has this due_at
 * already. LOYAL_ECORRUPT when the member is missing or their saved lots are damaged. */
static inline int ly_store_balance_put(store *s, member_row *member, const balance_row *balance,
				       bool due_changed, const struct lot_row *lots,
				       size_t lot_count);

/* ---- lots ---- */

typedef struct lot_row {
	int64_t id, member, currency, txn;
	int64_t amount, remaining;
	int64_t earned_at, expires_at; /* expires_at: first instant it is expired; INT64_MAX never */
	int64_t pending_until;         /* 0 once active */
} lot_row;

typedef struct lot_vec {
	lot_row *items;
	size_t count, capacity;
} lot_vec;

void ly_lot_vec_free(lot_vec *lots);

/* The soonest expiry instant after `after` of the member's active points and how many expire
 * then; *found false when none expire. */
static inline int ly_store_next_expiry(store *s, int64_t member, int64_t currency, int64_t after,
				       int64_t *at, int64_t *amount, bool *found);
/* The soonest deadline of the member's open holds in the currency, or INT64_MAX. */
static inline int ly_store_holds_next_deadline(store *s, int64_t member, int64_t currency,
					       int64_t *out);
/* The member's lots with points left (pending or active) that expire by `through` (INT64_MAX:
 * all), soonest-expiring first, then oldest: each its id, member, currency, remaining,
 * expires_at and pending_until (txn, amount and earned_at, which never change, are 0 here;
 * ly_store_lot_get gives them). */
static inline int ly_store_lots_open(store *s, int64_t member, int64_t currency, int64_t through,
				     lot_vec *out);
/* The member's lot `id`, whole (remaining 0 once it has no points left); *found false when the
 * member has none of that id. */
static inline int ly_store_lot_get(store *s, int64_t member, int64_t id, lot_row *out,
				   bool *found);

/* A lot's history: each change of its remaining points and the transaction that made it. */
enum move_kind { MOVE_CREATE, MOVE_CONSUME, MOVE_RESTORE, MOVE_CLAWBACK, MOVE_EXPIRE,
		 MOVE_REPAY, MOVE_ACTIVATE };
typedef struct move_row {
	int64_t txn, seq, lot, amount, kind;
} move_row;
typedef struct move_vec {
	move_row *items;
	size_t count, capacity;
} move_vec;
void ly_move_vec_free(move_vec *moves);

/* ---- transactions and entries ---- */

typedef struct txn_row {
	int64_t id, member, currency, kind, amount, at;
	int64_t reverses;    /* the transaction this one reverses or settles (hold), or 0 */
	int64_t requested;   /* a reversal: the share of the original it accounts for */
	int64_t counterpart; /* a transfer: the other leg's transaction */
	int64_t prev, hash;  /* the member's chain */
	int64_t event;       /* the tracked event whose rule made it, or 0 (outside the hash) */
	char *reason, *cause; /* owned when loaded */
} txn_row;

/* Accounts: >= 0 is a member's account (member * 4 + MEMBER_ACCOUNT_*), < 0 a system account of
 * the entry's currency. */
enum { ACCOUNT_AVAILABLE = 0, ACCOUNT_PENDING = 1, ACCOUNT_HELD = 2 };
enum { SYSTEM_ISSUED = -1, SYSTEM_REDEEMED = -2, SYSTEM_EXPIRED = -3, SYSTEM_ADJUSTED = -4,
       SYSTEM_TRANSIT = -5 };

typedef struct entry_row {
	int64_t txn, seq, currency, debit_account, credit_account, amount;
} entry_row;
typedef struct entry_vec {
	entry_row *items;
	size_t count, capacity;
} entry_vec;
void ly_entry_vec_free(entry_vec *entries);

void ly_txn_row_clear(txn_row *txn);
/* Reads transaction `id` of `member` (0: whoever's; a read by id alone spans members): its row
 * into *txn (NULL: not wanted; ly_txn_row_clear after), its entries in order into *entries and
 * the lot moves it made in order into *moves (each NULL: not wanted; the vectors are appended
 * to). *found false when the member has no such transaction. */
static inline int ly_store_txn_read(store *s, int64_t member, int64_t id, txn_row *txn,
				    entry_vec *entries, move_vec *moves, bool *found);
/* Reserves `count` transaction ids for posts of this write transaction (a transfer's legs name
 * each other): *first and the ones after it are the ids the next `count` posts get. */
static inline int ly_store_txn_reserve(store *s, int count, int64_t *first);
/* The sum of `requested` over the reversals of the member's transaction txn. */
static inline int ly_store_reversed_total(store *s, int64_t member, int64_t txn, int64_t *out);

/* ---- holds ---- */

enum { HOLD_OPEN = 0, HOLD_CAPTURED = 1, HOLD_RELEASED = 2, HOLD_EXPIRED = 3 };
typedef struct hold_row {
	int64_t txn, member, currency, amount, deadline, state, captured, settled_by;
} hold_row;
/* The member's hold opened by transaction txn; *found false when the member has none. */
static inline int ly_store_hold_get(store *s, int64_t member, int64_t txn, hold_row *out,
				    bool *found);
/* Open holds of a member in a currency whose deadline is <= at, soonest first, as (txn,
 * deadline) pairs: *count is the number of integers. */
static inline int ly_store_holds_due(store *s, int64_t member, int64_t currency, int64_t at,
				     int64_t **due, size_t *count);

/* ---- posting: a transaction with everything it changes, written at once ---- */

enum hold_change { HOLD_UNCHANGED, HOLD_OPENS, HOLD_SETTLES };
typedef struct store_posting {
	txn_row *txn; /* its id is set by the post (a reserved one, when ids were reserved) */
	entry_row *entries; /* their txn and seq are set by the post */
	size_t entry_count;
	lot_row *new_lots; /* lots the transaction creates: their txn and id are set */
	size_t new_lot_count;
	move_row *moves; /* in order; lot < 0 names new_lots[-lot - 1] (replaced by its id) */
	size_t move_count;
	hold_row *hold; /* HOLD_OPENS: inserted (txn set); HOLD_SETTLES: saved (settled_by set) */
	enum hold_change hold_change;
} store_posting;
/* Writes the posting: the transaction (its id set), entries, new lots, moves and hold, in one
 * call; an activating move (MOVE_ACTIVATE) makes its lot's pending_until 0. How many points
 * the lots have left is saved with the balance (ly_store_balance_put). */
static inline int ly_store_post(store *s, const store_posting *posting);
/* For a backend's post, once the transaction's id and its new lots' ids are set: gives the
 * entries and the moves their transaction and sequence numbers and the moves that name a new
 * lot (lot < 0) its id; LOYAL_EINTERNAL when a move names a lot the posting lacks. */
int ly_store_posting_link(ly_error *error, const store_posting *posting);
/* For a backend's verify: records in `error` the violation a check found, as `where`: and the
 * check's message, a printf format of exactly four long long values (found's); returns
 * LOYAL_ECORRUPT. */
int ly_store_violation(ly_error *error, const char *where, const char *message,
		       const int64_t found[4]);

/* ---- idempotency ---- */

/* What an idempotency record answers for: a ledger call (txn names its transaction), a tracked
 * event (txn names the event), or an event reversal (its outcome is the message). */
enum { IDEM_LEDGER = 0, IDEM_EVENT = 1, IDEM_EVENT_REVERSAL = 2, IDEM_REDEMPTION = 3,
       IDEM_COUPON = 4, IDEM_GRANT = 5 };

typedef struct idem_row {
	int64_t member, key_hash, kind;
	const char *key, *request; /* borrowed when saving; owned (ly_mem_free) when loaded */
	int64_t rc, txn, amount;
	const char *message;
	int64_t claim; /* set by a claim of an unused key, handed back to the put that records it */
} idem_row;
/* The record of the member's key (key_hash: the engine's hash of it), into *out (its texts the
 * caller's: ly_idem_row_clear); *found false when the key is unused. A record is the key's only
 * when member and key both match: keys whose hashes collide are told apart. */
static inline int ly_store_idem_get(store *s, int64_t member, int64_t key_hash, const char *key,
				    idem_row *out, bool *found);
/* The look-up of a writing call: as ly_store_idem_get, and when the key is unused, claims it
 * for this write transaction (*found false, out->claim set), so that the ly_store_idem_put
 * recording its outcome is the key's only other write. `event` (0: none) names the event a
 * tracked event's key records: the event's row, inserted later in the transaction with that
 * id and its request, is then the record itself. A claim is undone with the transaction (or
 * the savepoint) that holds it; one the transaction keeps must be recorded before it
 * commits. */
static inline int ly_store_idem_claim(store *s, int64_t member, int64_t key_hash,
				      const char *key, int64_t event, idem_row *out, bool *found);
static inline int ly_store_idem_put(store *s, const idem_row *idem);
void ly_idem_row_clear(idem_row *idem);

/* A visitor of rows (events, a report's, a leaderboard's): LOYAL_OK goes on; any other code stops the
 * listing, which returns it. */
typedef int (*store_row_fn)(void *ctx, const void *row);

/* ---- events and activity ---- */

typedef struct event_row {
	int64_t id, member, at; /* id: set by the insert, or the one reserved for it */
	const char *type, *key, *properties; /* borrowed when saving */
	const void *outcome; /* its record (engine/outcome.h), outcome_size bytes, borrowed */
	size_t outcome_size;
	const char *request; /* the request its key was claimed for (ly_store_idem_claim) */
} event_row;
static inline int ly_store_event_insert(store *s, event_row *event); /* sets event->id */
/* The stored outcome of the member's event id, as stored (*size bytes: its record, or the JSON
 * text of an older file), the caller's (ly_mem_free); LOYAL_ECORRUPT when the member has no such
 * event (an idempotency record named it). */
static inline int ly_store_event_outcome(store *s, int64_t member, int64_t id, void **outcome,
					 size_t *size);
/* Reserves the id of the event being tracked in this write transaction, so that its postings
 * can name it (txn_row.event) before it is inserted with that id: unique, and larger than every
 * id this store reserved before (and, with one writer at a time, than every stored event's;
 * the ids of writers on other connections may interleave). An id reserved and not used leaves
 * a gap. */
static inline int ly_store_event_reserve(store *s, int64_t *id);
/* What a tracked event's rules posted (the transactions naming it), in the order posted. */
typedef struct event_posting {
	int64_t txn, member, currency, amount;
} event_posting;
typedef struct event_posting_vec {
	event_posting *items;
	size_t count, capacity;
} event_posting_vec;
void ly_event_posting_vec_free(event_posting_vec *postings);
/* Appends the postings of event `event` to *out. */
static inline int ly_store_event_postings(store *s, int64_t event, event_posting_vec *out);

/* A stored event as a replay reads it; its texts are the store's, valid until the visitor
 * returns. */
typedef struct event_scan_row {
	int64_t id, at;
	const char *member, *type, *key, *properties; /* member: the host's id */
} event_scan_row;
/* How many events are dated before `before`, and the largest event id (0: no event). */
static inline int ly_store_event_span(store *s, int64_t before, int64_t *count, int64_t *last);
/* The events with after < id <= last dated before `before`, in id order (the order a single
 * writer tracked them in), at most `limit`, to the visitor (event_scan_row). */
static inline int ly_store_event_page(store *s, int64_t after, int64_t last, int64_t before,
				      int64_t limit, store_row_fn visit, void *ctx);

/* Activity: per member, type and local day, a count and the sum of each numeric property.
 * Types starting with '@' are the engine's own counters, without sums: "@earned:<currency>"
 * counts the points a member earned (event types cannot start with '@'). */
typedef struct activity_number {
	const char *name;
	double value;
	bool whole; /* an integer: the sum stays one while every number added is */
} activity_number;
/* Adds delta to the count of the (member, type, day) row, creating it, and each of `numbers`
 * (count of them; may be NULL when 0) to the sum of its property; LOYAL_EOVERFLOW when the
 * count would leave 64 bits. */
static inline int ly_store_activity_add(store *s, int64_t member, const char *type, int64_t day,
					int64_t delta, const activity_number *numbers,
					size_t count);
/* Sum of counts over days [from, to]; with `days`, the number of days with a row instead. */
static inline int ly_store_activity_count(store *s, int64_t member, const char *type, int64_t from,
					  int64_t to, int64_t *out);
static inline int ly_store_activity_day_count(store *s, int64_t member, const char *type,
					      int64_t from, int64_t to, int64_t *out);
/* Sum of one property over days [from, to]. */
static inline int ly_store_activity_sum(store *s, int64_t member, const char *type,
					const char *property, int64_t from, int64_t to,
					double *out);
/* The active days up to `to`, newest first, at most `limit` of them. */
static inline int ly_store_activity_days(store *s, int64_t member, const char *type, int64_t to,
					 size_t limit, int64_t **days, size_t *count);

/* A rule's counters per member and local day: its awards (currency 0) or the points of one
 * currency (its id) it gave. Add creates the row; LOYAL_EOVERFLOW when the count would leave
 * 64 bits. Sum adds the counts over days [from, to]. */
static inline int ly_store_rule_counter_add(store *s, int64_t member, const char *rule,
					    int64_t currency, int64_t day, int64_t delta);
static inline int ly_store_rule_counter_sum(store *s, int64_t member, const char *rule,
					    int64_t currency, int64_t from, int64_t to,
					    int64_t *out);
/* A rule's budget across all members: what it used in the period starting on day `period`
 * (its awards: currency 0; else the points of that currency). Take reads it for the write
 * transaction, holding it against other connections until the commit; add adds to it. */
static inline int ly_store_rule_budget_take(store *s, const char *rule, int64_t currency,
					    int64_t period, int64_t *used);
static inline int ly_store_rule_budget_add(store *s, const char *rule, int64_t currency,
					   int64_t period, int64_t delta);

/* ---- tiers ---- */

typedef struct tier_row {
	int64_t member;
	char tier[72]; /* "" when the member has no tier yet */
	int64_t since, review_at, grace_until;
} tier_row;
static inline int ly_store_tier_get(store *s, int64_t member, tier_row *out);
/* An operator's assignment of a tier to a member: a floor that reviews do not drop them below
 * until `until` (INT64_MAX: until it is released). At most one per member. */
typedef struct tier_assignment {
	int64_t member;
	char tier[72];
	int64_t until, at;
	char reason[TEXT_MAX_BYTES + 1];
} tier_assignment;
static inline int ly_store_tier_assignment_get(store *s, int64_t member, tier_assignment *out,
					       bool *found);
/* Records the member's assignment, replacing theirs; clear removes it. */
static inline int ly_store_tier_assignment_set(store *s, const tier_assignment *assignment);
static inline int ly_store_tier_assignment_clear(store *s, int64_t member);
static inline int ly_store_tier_put(store *s, const tier_row *tier);
static inline int ly_store_tier_history_add(store *s, int64_t member, const char *from,
					    const char *to, int64_t at, const char *reason);
/* Members whose review is due at `at` (or every member with a tier, when all). */
static inline int ly_store_tier_due(store *s, int64_t at, bool all, int64_t **members,
				    size_t *count);
/* One history row of the member with id < before (0: the newest), as JSON parts. */
typedef struct tier_change {
	int64_t id, at;
	char from[72], to[72], reason[32];
} tier_change;
static inline int ly_store_tier_history_before(store *s, int64_t member, int64_t before,
					       tier_change *out, bool *found);

/* ---- segments ---- */

/* A page of members in id order: those with id > after (0: from the first), at most
 * MEMBER_PAGE_SIZE; fewer only at the end. */
#define MEMBER_PAGE_SIZE 256
typedef struct member_page {
	size_t count;
	struct {
		member_row row;
		char external[TEXT_MAX_BYTES + 1];
	} items[MEMBER_PAGE_SIZE];
} member_page;
static inline int ly_store_member_page(store *s, int64_t after, member_page *out);
/* What an operator's member search asks: each condition set narrows it. */
enum { ATTRIBUTE_TEXT, ATTRIBUTE_NUMBER, ATTRIBUTE_TRUE, ATTRIBUTE_FALSE };
typedef struct member_filter {
	const char *attribute;  /* NULL: any; else the attribute must equal the value: */
	int value_type;         /* ATTRIBUTE_* */
	const char *value_text; /* ATTRIBUTE_TEXT */
	double value_number;    /* ATTRIBUTE_NUMBER */
	const char *value_json; /* the value as JSON text (any type) */
	const char *tier;       /* NULL: any */
	const char *segment;    /* NULL: any; else in it as of the last refresh */
	int64_t active_from, active_before; /* last_active_at in [from, before) */
	int64_t status;         /* -1: any; MEMBER_ACTIVE or MEMBER_BLOCKED */
} member_filter;
/* A page of the members the filter keeps, in id order: those with id > after. */
static inline int ly_store_member_search(store *s, const member_filter *filter, int64_t after,
					 member_page *out);
/* How many members the program has, into *out. */
static inline int ly_store_member_count(store *s, int64_t *out);
static inline int ly_store_segment_is_member(store *s, const char *segment, int64_t member,
					     bool *out);
static inline int ly_store_segment_set(store *s, const char *segment, int64_t member, bool in,
				       int64_t at);
static inline int ly_store_segment_change(store *s, int64_t refresh, const char *segment,
					  int64_t member, bool entered, int64_t at);
static inline int ly_store_segment_next_refresh(store *s, int64_t *out);
/* The change with the smallest id > after in a refresh: segment, member id, entered. */
static inline int ly_store_segment_change_next(store *s, int64_t refresh, int64_t after,
					       int64_t *id, char *segment, size_t size,
					       char *member, size_t member_size, bool *entered,
					       bool *found);

/* ---- badges ---- */

/* A row of a member's badge history: earned (by a criterion), granted by an operator, or a
 * revocation of what came before it (cause: the event key or sweep; an operator's reason). */
enum { BADGE_EARNED = 0, BADGE_GRANTED = 1, BADGE_REVOKED = 2 };
static inline int ly_store_badge_award_add(store *s, int64_t member, const char *badge,
					   const char *level, int kind, int64_t at,
					   const char *cause);
/* Where the member stands with a badge's level (NULL level: the badge without levels). */
typedef struct badge_state {
	bool awarded;        /* earned or granted at least once */
	int64_t awarded_at;  /* the last time */
	bool revoked;        /* a revocation came after the last award */
	int64_t revoked_at;  /* the last revocation, 0 when none */
} badge_state;
static inline int ly_store_badge_state(store *s, int64_t member, const char *badge,
				       const char *level, badge_state *out);
/* The member's award (earned or granted) with the smallest id > after, with the revocation
 * that first followed it (revoked_at 0: none). */
typedef struct badge_award_row {
	int64_t id, at, kind, revoked_at;
	char badge[72], level[72];
	char reason[TEXT_MAX_BYTES + 1], revoked_reason[TEXT_MAX_BYTES + 1];
} badge_award_row;
static inline int ly_store_badge_award_next(store *s, int64_t member, int64_t after,
					    badge_award_row *out, bool *found);

/* ---- leaderboards ---- */

/* Adds delta to the member's score on `board` for the period starting on day `period` (0: all
 * time), reached at `at` (ties rank who reached the score first higher). */
static inline int ly_store_board_add(store *s, const char *board, int64_t period, int64_t member,
				     double delta, int64_t at);
/* A row of a board, ranked: score descending, then who reached it first, then join order. */
typedef struct board_row {
	int64_t rank;
	char member[TEXT_MAX_BYTES + 1];
	double score;
} board_row;
/* The rows ranked offset+1 to offset+limit, to the visitor (board_row). */
static inline int ly_store_board_page(store *s, const char *board, int64_t period,
				      int64_t offset, int64_t limit, store_row_fn visit,
				      void *ctx);
/* The member's rank and score on the board (*found false: no score). */
static inline int ly_store_board_rank(store *s, const char *board, int64_t period,
				      int64_t member, int64_t *rank, double *score, bool *found);

/* ---- reports: set-based queries whose rows go to a visitor, one at a time ---- */

/* A report's exact total: sums of 64-bit amounts may leave 64 bits (invariant 1 holds in 128). */
__extension__ typedef __int128 store_total;
enum store_period { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };

/* Per currency (by id): points members hold, owe and have outstanding, and how many hold any. */
typedef struct liability_row {
	int64_t currency, members;
	store_total available, pending, held, debt, outstanding;
} liability_row;
/* Per currency: the flows between member and system accounts of the transactions in [from, to),
 * and breakage (expired over issued; has_breakage false when nothing was issued). */
typedef struct flows_row {
	int64_t currency;
	store_total issued, redeemed, expired, adjusted, reversed;
	double breakage;
	bool has_breakage;
} flows_row;
/* Active members (with any event) per period, by the local day each period starts. */
typedef struct active_row {
	int64_t period, active;
} active_row;
/* Per cohort (members who joined in one period, by the day it starts) and each later period in
 * which some of them were active: period INT64_MIN for a cohort none of whose members was. */
typedef struct retention_row {
	int64_t cohort, members, period, active;
} retention_row;
/* Members per tier or segment. */
enum size_kind { SIZE_TIER, SIZE_SEGMENT };
typedef struct size_row {
	enum size_kind kind;
	const char *name; /* valid during the visit */
	int64_t members;
} size_row;

/* Each runs one report, calling visit with a row of its type (liability_row, ...) in order:
 * currencies by id, periods and cohorts by day. Days are local: day number d starts at
 * d * 86400000 - utc_offset_ms. Active and retention count activity of local days
 * [from_day, to_day]; retention's cohorts are the members who joined in [joined_from,
 * joined_to). */
static inline int ly_store_report_liability(store *s, store_row_fn visit, void *ctx);
static inline int ly_store_report_flows(store *s, int64_t from, int64_t to, store_row_fn visit,
					void *ctx);
static inline int ly_store_report_active(store *s, enum store_period period, int64_t from_day,
					 int64_t to_day, store_row_fn visit, void *ctx);
static inline int ly_store_report_retention(store *s, enum store_period period, int64_t from_day,
					    int64_t to_day, int64_t joined_from, int64_t joined_to,
					    int64_t utc_offset_ms, store_row_fn visit, void *ctx);
static inline int ly_store_report_sizes(store *s, store_row_fn visit, void *ctx);
/* Rewards and coupons over [from, to): a reward_report_row per (reward, state) of the
 * redemptions made then (count, units), per reward of the members who made those pending or
 * fulfilled (members), per (reward, currency) of the points of those fulfilled (amount), per
 * coupon of the codes issued then (count) and of those last used then (count), and per coupon
 * of the codes left in its pool (count). */
enum { REPORT_REDEMPTIONS, REPORT_REDEEMED_POINTS, REPORT_COUPONS_ISSUED, REPORT_COUPONS_USED,
       REPORT_POOL_LEFT, REPORT_REDEEMERS };
typedef struct reward_report_row {
	int kind; /* REPORT_* */
	char name[72], currency[72];
	int state;
	int64_t count, units, members, amount;
} reward_report_row;
static inline int ly_store_report_rewards(store *s, int64_t from, int64_t to, store_row_fn visit,
					  void *ctx);

/* ---- sweeps ---- */

/* Collects up to `limit` accounts whose balance row says something may be due at `at`
 * (due_at <= at), after the key `after` = {due_at, member, currency} in that order, as triples
 * due_at, member, currency, due_at, ... in *triples. */
static inline int ly_store_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
					int64_t **triples, size_t *count);
/* Collects the members holding points of `currency` whose last activity is before `cutoff`. */
static inline int ly_store_idle_members(store *s, int64_t currency, int64_t cutoff,
					int64_t **members, size_t *count);

/* ---- rewards: redemptions and stock ---- */

/* A redemption's state. A pending one past its deadline reads as expired (its holds are
 * released by then) until a sweep records it so. */
enum { REDEMPTION_PENDING = 0, REDEMPTION_FULFILLED = 1, REDEMPTION_CANCELLED = 2,
       REDEMPTION_EXPIRED = 3 };
#define REDEMPTION_POSTINGS_SIZE 640
typedef struct redemption_row {
	int64_t id, member, quantity;
	int64_t at, day;    /* when it was made, and the member's local day then (for limits) */
	int64_t deadline;   /* pending until then; INT64_MAX when settled at once */
	int64_t settled_at; /* when fulfilled, cancelled or expired; 0 while pending */
	int state;
	bool stocked; /* its units came from the reward's stock (given back when it ends) */
	char reward[72];
	/* Its transactions, JSON: [{"currency": "points", "amount": 400, "txn": 12}, ...]. */
	char postings[REDEMPTION_POSTINGS_SIZE];
	int64_t code; /* a coupon reward's: the id of the code it issued; 0: none */
	char external[TEXT_MAX_BYTES + 1]; /* the member's host id (read by the listings only) */
} redemption_row;
/* Inserts a redemption; row->id receives its id (unique across members). */
static inline int ly_store_redemption_insert(store *s, redemption_row *row);
static inline int ly_store_redemption_get(store *s, int64_t member, int64_t id,
					  redemption_row *out, bool *found);
/* Records a redemption's new state, when, and its transactions then. */
static inline int ly_store_redemption_settle(store *s, int64_t member, int64_t id, int state,
					     int64_t at, const char *postings);
/* The quantity of `reward` the member redeemed on local days [from_day, to_day], counting
 * those fulfilled and those pending at `now` (not cancelled, not expired). */
static inline int ly_store_redemption_count(store *s, int64_t member, const char *reward,
					    int64_t from_day, int64_t to_day, int64_t now,
					    int64_t *out);
/* The member's newest redemption with id < before (0: the newest), with the member's id. */
static inline int ly_store_redemption_before(store *s, int64_t member, int64_t before,
					     redemption_row *out, bool *found);
/* The oldest pending redemption of any member with id > after, and its member's host id. */
static inline int ly_store_redemption_pending_after(store *s, int64_t after,
						    redemption_row *out, bool *found);
/* A pending redemption whose deadline is at or before `at` (the soonest), for the sweep. */
static inline int ly_store_redemption_due(store *s, int64_t at, redemption_row *out,
					  bool *found);
/* The stock: units taken by the reward's stocked redemptions that are fulfilled or pending,
 * less those of pending ones past their deadline at `now` (expired, but not recorded so yet:
 * their units are free). */
/* Takes `quantity` units of the reward's stock of `stock` units in all: *taken is false (and
 * nothing changes) when fewer are left at `now`. Serializes redeemers of one reward (and its
 * sweeps) until commit. */
static inline int ly_store_stock_take(store *s, const char *reward, int64_t quantity,
				      int64_t stock, int64_t now, bool *taken);
/* Gives units back (a stocked redemption cancelled, or recorded as expired). */
static inline int ly_store_stock_return(store *s, const char *reward, int64_t quantity);
/* The units of the reward taken at `now`. */
static inline int ly_store_stock_taken(store *s, const char *reward, int64_t now,
				       int64_t *out);

/* ---- coupons: codes, issued or in a pool, and reservations of their uses ---- */

typedef struct coupon_code_row {
	int64_t id;
	int64_t member; /* 0: in the pool, not issued yet */
	char code[72], coupon[72];
	int64_t issued_at, valid_from, valid_until; /* [valid_from, valid_until) */
	int64_t uses_left, used_at;                  /* used_at: the last use, 0: none */
} coupon_code_row;
/* Adds an unissued code to a coupon's pool; *added is false when the code exists already. */
static inline int ly_store_coupon_code_add(store *s, const char *coupon, const char *code,
					   bool *added);
/* Records a code issued at once (a generated one): row->id receives its id; *added is false
 * (and nothing changes) when the code exists already. */
static inline int ly_store_coupon_code_issue(store *s, coupon_code_row *row, bool *added);
/* Issues the oldest code of row->coupon's pool to row->member with row's times and uses;
 * *found is false when the pool is empty. Fills row->id and row->code. */
static inline int ly_store_coupon_pool_draw(store *s, coupon_code_row *row, bool *found);
/* A code (already in upper case), issued or not. */
static inline int ly_store_coupon_code_get(store *s, const char *code, coupon_code_row *out,
					   bool *found);
static inline int ly_store_coupon_code_by_id(store *s, int64_t member, int64_t id,
					     coupon_code_row *out, bool *found);
/* Sets a code's uses left and when it was last used. */
static inline int ly_store_coupon_code_use(store *s, int64_t id, int64_t uses_left,
					   int64_t used_at);
/* The member's newest code with id < before (0: the newest). */
static inline int ly_store_coupon_code_before(store *s, int64_t member, int64_t before,
					      coupon_code_row *out, bool *found);
/* How many codes of the coupon's pool are not issued yet. */
static inline int ly_store_coupon_pool_left(store *s, const char *coupon, int64_t *out);
/* Reservations: one use of a code set aside for a checkout (state 0 held, 1 used,
 * 2 released). */
enum { COUPON_HELD = 0, COUPON_USED = 1, COUPON_RELEASED = 2 };
static inline int ly_store_coupon_reservation_add(store *s, int64_t member, int64_t code_id,
						  int64_t at, int64_t *id);
static inline int ly_store_coupon_reservation_get(store *s, int64_t member, int64_t id,
						  int64_t *code_id, int *state, bool *found);
static inline int ly_store_coupon_reservation_set(store *s, int64_t member, int64_t id,
						  int state, int64_t at);

/* ---- the outbox: happenings in commit order, their readers, and the notices sent ---- */

/* A happening: its position (in commit order, never reused), kind, member (their host id),
 * time and body (a JSON object text). A visitor's texts are the store's, valid until it
 * returns. */
typedef struct outbox_row {
	int64_t position, at;
	const char *kind, *member, *body;
} outbox_row;
/* Adds a happening of member `member` to the open write transaction: it is written with it
 * (and gone if it rolls back), positioned after every happening committed before it. */
static inline int ly_store_outbox_add(store *s, int64_t member, const char *kind, int64_t at,
				      const char *body);
/* The happenings with position > after, oldest first, at most `limit`, to the visitor
 * (outbox_row). */
static inline int ly_store_outbox_page(store *s, int64_t after, int64_t limit,
				       store_row_fn visit, void *ctx);
/* The newest position written (0: none yet). */
static inline int ly_store_outbox_last(store *s, int64_t *out);
/* A consumer: the position it acknowledged and when; *found false for a name never seen. */
typedef struct outbox_consumer_row {
	const char *name;
	int64_t position, at;
} outbox_consumer_row;
static inline int ly_store_outbox_consumer_get(store *s, const char *name, int64_t *position,
					       bool *found);
static inline int ly_store_outbox_consumer_put(store *s, const char *name, int64_t position,
					       int64_t at);
static inline int ly_store_outbox_consumer_drop(store *s, const char *name, bool *found);
/* The consumers by name, to the visitor (outbox_consumer_row). */
static inline int ly_store_outbox_consumers(store *s, store_row_fn visit, void *ctx);
/* Removes up to `limit` happenings that every consumer acknowledged (none when there is no
 * consumer) and that happened before `before`, never the newest; *removed counts them. */
static inline int ly_store_outbox_trim(store *s, int64_t before, int64_t limit,
				       int64_t *removed);
/* Records that a notice (kind, currency, subject, threshold: what the notice is about) went
 * to the member; *added is false when it had gone before. */
static inline int ly_store_notice_mark(store *s, int64_t member, int kind, int64_t currency,
				       int64_t subject, int64_t threshold, bool *added);
/* Active points (not pending) of `currency` (0: any) expiring in [from, to), of members with
 * id > after: per member, currency and expiry instant, in that order, to the visitor. */
typedef struct expiring_row {
	int64_t member;
	const char *external;
	int64_t currency, expires_at, amount;
} expiring_row;
static inline int ly_store_expiring(store *s, int64_t currency, int64_t from, int64_t to,
				    int64_t after, store_row_fn visit, void *ctx);
/* Members with a tier whose review falls in [from, to), with id > after, in id order. */
typedef struct review_row {
	int64_t member;
	const char *external, *tier;
	int64_t review_at, grace_until;
} review_row;
static inline int ly_store_tier_reviews(store *s, int64_t from, int64_t to, int64_t after,
					store_row_fn visit, void *ctx);

/* ---- the backend interface ---- */

/* A backend: what each ly_store_* call above does, for one kind of storage. Ops are only ever
 * appended; `version` says how many a backend has (STORE_OPS_VERSION when it has them all). */
#define STORE_OPS_VERSION 6
typedef struct store_ops {
	int version;
	int (*close)(store *s);
	int (*begin)(store *s);
	int (*commit)(store *s);
	void (*rollback)(store *s);
	int (*savepoint)(store *s);
	int (*savepoint_release)(store *s);
	void (*savepoint_rollback)(store *s);
	int (*batch_begin)(store *s);
	int (*batch_commit)(store *s);
	void (*batch_rollback)(store *s);
	bool (*in_batch)(store *s);
	int (*read_begin)(store *s);
	void (*read_end)(store *s);
	int (*check_structure)(store *s);
	void (*mark_damaged)(store *s);
	int (*check_invariants)(store *s);
	int (*each_txn_link)(store *s, ly_txn_link_fn visit, void *ctx);
	int (*program_version)(store *s, int64_t *out);
	int (*program_get)(store *s, char **document, int64_t *version);
	int (*program_put)(store *s, const char *document, int64_t at, int64_t *version);
	int (*rule_version)(store *s, const char *name, int64_t *version, char **definition);
	int (*rule_put)(store *s, const char *name, int64_t version, const char *definition);
	int (*currency_id)(store *s, const char *name, bool create, int64_t *id);
	int (*member_find)(store *s, const char *external_id, member_row *out, bool *found);
	int (*member_get)(store *s, int64_t id, member_row *out, bool *found);
	int (*member_insert)(store *s, const char *external_id, int64_t at, member_row *out);
	int (*member_update)(store *s, member_row *member);
	int (*member_attrs_get)(store *s, int64_t member, char **attrs_json);
	int (*member_attrs_put)(store *s, int64_t member, const char *attrs_json,
				const char *timezone);
	int (*member_external_id)(store *s, int64_t member, char **external_id);
	int (*balance_get)(store *s, const member_row *member, int64_t currency, balance_row *out);
	int (*balance_put)(store *s, member_row *member, const balance_row *balance,
			   bool due_changed, const struct lot_row *lots, size_t lot_count);
	int (*next_expiry)(store *s, int64_t member, int64_t currency, int64_t after, int64_t *at,
			   int64_t *amount, bool *found);
	int (*holds_next_deadline)(store *s, int64_t member, int64_t currency, int64_t *out);
	int (*lots_open)(store *s, int64_t member, int64_t currency, int64_t through, lot_vec *out);
	int (*lot_get)(store *s, int64_t member, int64_t id, lot_row *out, bool *found);
	int (*txn_read)(store *s, int64_t member, int64_t id, txn_row *txn, entry_vec *entries,
			move_vec *moves, bool *found);
	int (*txn_reserve)(store *s, int count, int64_t *first);
	int (*reversed_total)(store *s, int64_t member, int64_t txn, int64_t *out);
	int (*hold_get)(store *s, int64_t member, int64_t txn, hold_row *out, bool *found);
	int (*post)(store *s, const store_posting *posting);
	int (*holds_due)(store *s, int64_t member, int64_t currency, int64_t at, int64_t **due,
			 size_t *count);
	int (*idem_get)(store *s, int64_t member, int64_t key_hash, const char *key, idem_row *out,
			bool *found);
	int (*idem_put)(store *s, const idem_row *idem);
	int (*event_insert)(store *s, event_row *event);
	int (*event_outcome)(store *s, int64_t member, int64_t id, void **outcome, size_t *size);
	int (*event_span)(store *s, int64_t before, int64_t *count, int64_t *last);
	int (*event_page)(store *s, int64_t after, int64_t last, int64_t before, int64_t limit,
			  store_row_fn visit, void *ctx);
	int (*activity_add)(store *s, int64_t member, const char *type, int64_t day, int64_t delta,
			    const activity_number *numbers, size_t count);
	int (*activity_count)(store *s, int64_t member, const char *type, int64_t from, int64_t to,
			      int64_t *out);
	int (*activity_day_count)(store *s, int64_t member, const char *type, int64_t from,
				  int64_t to, int64_t *out);
	int (*activity_sum)(store *s, int64_t member, const char *type, const char *property,
			    int64_t from, int64_t to, double *out);
	int (*activity_days)(store *s, int64_t member, const char *type, int64_t to, size_t limit,
			     int64_t **days, size_t *count);
	int (*rule_counter_add)(store *s, int64_t member, const char *rule, int64_t currency,
				int64_t day, int64_t delta);
	int (*rule_counter_sum)(store *s, int64_t member, const char *rule, int64_t currency,
				int64_t from, int64_t to, int64_t *out);
	int (*rule_budget_take)(store *s, const char *rule, int64_t currency, int64_t period,
				int64_t *used);
	int (*board_add)(store *s, const char *board, int64_t period, int64_t member,
			 double delta, int64_t at);
	int (*board_page)(store *s, const char *board, int64_t period, int64_t offset,
			  int64_t limit, store_row_fn visit, void *ctx);
	int (*board_rank)(store *s, const char *board, int64_t period, int64_t member,
			  int64_t *rank, double *score, bool *found);
	int (*rule_budget_add)(store *s, const char *rule, int64_t currency, int64_t period,
			       int64_t delta);
	int (*tier_get)(store *s, int64_t member, tier_row *out);
	int (*tier_assignment_get)(store *s, int64_t member, tier_assignment *out, bool *found);
	int (*tier_assignment_set)(store *s, const tier_assignment *assignment);
	int (*tier_assignment_clear)(store *s, int64_t member);
	int (*tier_put)(store *s, const tier_row *tier);
	int (*tier_history_add)(store *s, int64_t member, const char *from, const char *to,
				int64_t at, const char *reason);
	int (*tier_due)(store *s, int64_t at, bool all, int64_t **members, size_t *count);
	int (*tier_history_before)(store *s, int64_t member, int64_t before, tier_change *out,
				   bool *found);
	int (*member_page)(store *s, int64_t after, member_page *out);
	int (*member_count)(store *s, int64_t *out);
	int (*member_search)(store *s, const member_filter *filter, int64_t after,
			     member_page *out);
	int (*segment_is_member)(store *s, const char *segment, int64_t member, bool *out);
	int (*segment_set)(store *s, const char *segment, int64_t member, bool in, int64_t at);
	int (*segment_change)(store *s, int64_t refresh, const char *segment, int64_t member,
			      bool entered, int64_t at);
	int (*segment_next_refresh)(store *s, int64_t *out);
	int (*segment_change_next)(store *s, int64_t refresh, int64_t after, int64_t *id,
				   char *segment, size_t size, char *member, size_t member_size,
				   bool *entered, bool *found);
	int (*badge_award_add)(store *s, int64_t member, const char *badge, const char *level,
			       int kind, int64_t at, const char *cause);
	int (*badge_state)(store *s, int64_t member, const char *badge, const char *level,
			   badge_state *out);
	int (*badge_award_next)(store *s, int64_t member, int64_t after, badge_award_row *out,
				bool *found);
	int (*due_accounts)(store *s, int64_t at, const int64_t after[3], size_t limit,
			    int64_t **triples, size_t *count);
	int (*idle_members)(store *s, int64_t currency, int64_t cutoff, int64_t **members,
			    size_t *count);
	int (*report_liability)(store *s, store_row_fn visit, void *ctx);
	int (*report_flows)(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx);
	int (*report_active)(store *s, enum store_period period, int64_t from_day, int64_t to_day,
			     store_row_fn visit, void *ctx);
	int (*report_retention)(store *s, enum store_period period, int64_t from_day, int64_t to_day,
				int64_t joined_from, int64_t joined_to, int64_t utc_offset_ms,
				store_row_fn visit, void *ctx);
	int (*report_sizes)(store *s, store_row_fn visit, void *ctx);
	int (*event_reserve)(store *s, int64_t *id);
	int (*idem_claim)(store *s, int64_t member, int64_t key_hash, const char *key, int64_t event,
			  idem_row *out, bool *found);
	int (*event_postings)(store *s, int64_t event, event_posting_vec *out);
	int (*redemption_insert)(store *s, redemption_row *row);
	int (*redemption_get)(store *s, int64_t member, int64_t id, redemption_row *out,
			      bool *found);
	int (*redemption_settle)(store *s, int64_t member, int64_t id, int state, int64_t at,
				 const char *postings);
	int (*redemption_count)(store *s, int64_t member, const char *reward, int64_t from_day,
				int64_t to_day, int64_t now, int64_t *out);
	int (*redemption_before)(store *s, int64_t member, int64_t before, redemption_row *out,
				 bool *found);
	int (*redemption_pending_after)(store *s, int64_t after, redemption_row *out,
					bool *found);
	int (*redemption_due)(store *s, int64_t at, redemption_row *out, bool *found);
	int (*stock_take)(store *s, const char *reward, int64_t quantity, int64_t stock,
			  int64_t now, bool *taken);
	int (*stock_return)(store *s, const char *reward, int64_t quantity);
	int (*stock_taken)(store *s, const char *reward, int64_t now, int64_t *out);
	int (*coupon_code_add)(store *s, const char *coupon, const char *code, bool *added);
	int (*coupon_code_issue)(store *s, coupon_code_row *row, bool *added);
	int (*coupon_pool_draw)(store *s, coupon_code_row *row, bool *found);
	int (*coupon_code_get)(store *s, const char *code, coupon_code_row *out, bool *found);
	int (*coupon_code_by_id)(store *s, int64_t member, int64_t id, coupon_code_row *out,
				 bool *found);
	int (*coupon_code_use)(store *s, int64_t id, int64_t uses_left, int64_t used_at);
	int (*coupon_code_before)(store *s, int64_t member, int64_t before, coupon_code_row *out,
				  bool *found);
	int (*coupon_pool_left)(store *s, const char *coupon, int64_t *out);
	int (*coupon_reservation_add)(store *s, int64_t member, int64_t code_id, int64_t at,
				      int64_t *id);
	int (*coupon_reservation_get)(store *s, int64_t member, int64_t id, int64_t *code_id,
				      int *state, bool *found);
	int (*coupon_reservation_set)(store *s, int64_t member, int64_t id, int state, int64_t at);
	int (*report_rewards)(store *s, int64_t from, int64_t to, store_row_fn visit, void *ctx);
	int (*outbox_add)(store *s, int64_t member, const char *kind, int64_t at, const char *body);
	int (*outbox_page)(store *s, int64_t after, int64_t limit, store_row_fn visit, void *ctx);
	int (*outbox_last)(store *s, int64_t *out);
	int (*outbox_consumer_get)(store *s, const char *name, int64_t *position, bool *found);
	int (*outbox_consumer_put)(store *s, const char *name, int64_t position, int64_t at);
	int (*outbox_consumer_drop)(store *s, const char *name, bool *found);
	int (*outbox_consumers)(store *s, store_row_fn visit, void *ctx);
	int (*outbox_trim)(store *s, int64_t before, int64_t limit, int64_t *removed);
	int (*notice_mark)(store *s, int64_t member, int kind, int64_t currency, int64_t subject,
			   int64_t threshold, bool *added);
	int (*expiring)(store *s, int64_t currency, int64_t from, int64_t to, int64_t after,
			store_row_fn visit, void *ctx);
	int (*tier_reviews)(store *s, int64_t from, int64_t to, int64_t after, store_row_fn visit,
			    void *ctx);
	/* Called from another thread while an op may be running: makes it stop soon (a lock
	 * wait ends, a statement is cancelled); s->interrupted is already set. */
	void (*interrupt)(store *s);
	int (*begin_refusals_first)(store *s);
	int (*cache_size)(store *s, int64_t bytes);
} store_ops;

/* What every backend's store begins with. */
struct store {
	const store_ops *ops;
	ly_error *error;         /* the sink every failure is recorded in (the owner's) */
	atomic_bool interrupted; /* loyal_interrupt was called during this call */
};

/* loyal_interrupt: sets the flag the backend's waits read, and has it stop a running op. */
static inline void ly_store_interrupt(store *s)
{
	atomic_store(&s->interrupted, true);
	s->ops->interrupt(s);
}
/* Whether the running call was interrupted; its failures are then LOYAL_EINTERRUPTED. */
static inline bool ly_store_interrupted(store *s)
{
	return atomic_load(&s->interrupted);
}
/* The failure of a call interrupted between two of its transactions. */
static inline int ly_store_interrupted_error(store *s)
{
	return ly_fail(s->error, LOYAL_EINTERRUPTED, "interrupted (loyal_interrupt)");
}
/* A call starts: an interrupt before it was for an earlier call. */
static inline void ly_store_interrupt_clear(store *s)
{
	atomic_store(&s->interrupted, false);
}

static inline int ly_store_close(store *s)
{
	return s ? s->ops->close(s) : LOYAL_OK;
}
static inline int ly_store_begin(store *s)
{
	return ly_store_interrupted(s) ? ly_store_interrupted_error(s) : s->ops->begin(s);
}
static inline int ly_store_begin_refusals_first(store *s)
{
	return ly_store_interrupted(s) ? ly_store_interrupted_error(s)
				       : s->ops->begin_refusals_first(s);
}
static inline int ly_store_cache_size(store *s, int64_t bytes)
{
	return s->ops->cache_size(s, bytes);
}
static inline int ly_store_commit(store *s)
{
	return s->ops->commit(s);
}
static inline void ly_store_rollback(store *s)
{
	s->ops->rollback(s);
}
static inline int ly_store_savepoint(store *s)
{
	return ly_store_interrupted(s) ? ly_store_interrupted_error(s) : s->ops->savepoint(s);
}
static inline int ly_store_savepoint_release(store *s)
{
	return s->ops->savepoint_release(s);
}
static inline void ly_store_savepoint_rollback(store *s)
{
	s->ops->savepoint_rollback(s);
}
static inline int ly_store_batch_begin(store *s)
{
	return ly_store_interrupted(s) ? ly_store_interrupted_error(s) : s->ops->batch_begin(s);
}
static inline int ly_store_batch_commit(store *s)
{
	return s->ops->batch_commit(s);
}
static inline void ly_store_batch_rollback(store *s)
{
	s->ops->batch_rollback(s);
}
static inline bool ly_store_in_batch(store *s)
{
	return s->ops->in_batch(s);
}
static inline int ly_store_read_begin(store *s)
{
	return ly_store_interrupted(s) ? ly_store_interrupted_error(s) : s->ops->read_begin(s);
}
static inline void ly_store_read_end(store *s)
{
	s->ops->read_end(s);
}
static inline int ly_store_check_structure(store *s)
{
	return s->ops->check_structure(s);
}
static inline void ly_store_mark_damaged(store *s)
{
	s->ops->mark_damaged(s);
}
static inline int ly_store_check_invariants(store *s)
{
	return s->ops->check_invariants(s);
}
static inline int ly_store_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx)
{
	return s->ops->each_txn_link(s, visit, ctx);
}
static inline int ly_store_program_version(store *s, int64_t *out)
{
	return s->ops->program_version(s, out);
}
static inline int ly_store_program_get(store *s, char **document, int64_t *version)
{
	return s->ops->program_get(s, document, version);
}
static inline int ly_store_program_put(store *s, const char *document, int64_t at, int64_t *version)
{
	return s->ops->program_put(s, document, at, version);
}
static inline int ly_store_rule_version(store *s, const char *name, int64_t *version,
					char **definition)
{
	return s->ops->rule_version(s, name, version, definition);
}
static inline int ly_store_rule_put(store *s, const char *name, int64_t version,
				    const char *definition)
{
	return s->ops->rule_put(s, name, version, definition);
}
static inline int ly_store_currency_id(store *s, const char *name, bool create, int64_t *id)
{
	return s->ops->currency_id(s, name, create, id);
}
static inline int ly_store_member_find(store *s, const char *external_id, member_row *out,
				       bool *found)
{
	return s->ops->member_find(s, external_id, out, found);
}
static inline int ly_store_member_get(store *s, int64_t id, member_row *out, bool *found)
{
	return s->ops->member_get(s, id, out, found);
}
static inline int ly_store_member_insert(store *s, const char *external_id, int64_t at,
					 member_row *out)
{
	return s->ops->member_insert(s, external_id, at, out);
}
static inline int ly_store_member_update(store *s, member_row *member)
{
	return s->ops->member_update(s, member);
}
static inline int ly_store_member_attrs_get(store *s, int64_t member, char **attrs_json)
{
	return s->ops->member_attrs_get(s, member, attrs_json);
}
static inline int ly_store_member_attrs_put(store *s, int64_t member, const char *attrs_json,
					    const char *timezone)
{
	return s->ops->member_attrs_put(s, member, attrs_json, timezone);
}
static inline int ly_store_member_external_id(store *s, int64_t member, char **external_id)
{
	return s->ops->member_external_id(s, member, external_id);
}
static inline int ly_store_balance_get(store *s, const member_row *member, int64_t currency,
				       balance_row *out)
{
	return s->ops->balance_get(s, member, currency, out);
}
static inline int ly_store_balance_put(store *s, member_row *member, const balance_row *balance,
				       bool due_changed, const struct lot_row *lots,
				       size_t lot_count)
{
	return s->ops->balance_put(s, member, balance, due_changed, lots, lot_count);
}
static inline int ly_store_next_expiry(store *s, int64_t member, int64_t currency, int64_t after,
				       int64_t *at, int64_t *amount, bool *found)
{
	return s->ops->next_expiry(s, member, currency, after, at, amount, found);
}
static inline int ly_store_holds_next_deadline(store *s, int64_t member, int64_t currency,
					       int64_t *out)
{
	return s->ops->holds_next_deadline(s, member, currency, out);
}
static inline int ly_store_lots_open(store *s, int64_t member, int64_t currency, int64_t through,
				     lot_vec *out)
{
	return s->ops->lots_open(s, member, currency, through, out);
}
static inline int ly_store_lot_get(store *s, int64_t member, int64_t id, lot_row *out, bool *found)
{
	return s->ops->lot_get(s, member, id, out, found);
}
static inline int ly_store_txn_read(store *s, int64_t member, int64_t id, txn_row *txn,
				    entry_vec *entries, move_vec *moves, bool *found)
{
	return s->ops->txn_read(s, member, id, txn, entries, moves, found);
}
static inline int ly_store_txn_reserve(store *s, int count, int64_t *first)
{
	return s->ops->txn_reserve(s, count, first);
}
static inline int ly_store_reversed_total(store *s, int64_t member, int64_t txn, int64_t *out)
{
	return s->ops->reversed_total(s, member, txn, out);
}
static inline int ly_store_post(store *s, const store_posting *posting)
{
	return s->ops->post(s, posting);
}
static inline int ly_store_hold_get(store *s, int64_t member, int64_t txn, hold_row *out,
				    bool *found)
{
	return s->ops->hold_get(s, member, txn, out, found);
}
static inline int ly_store_holds_due(store *s, int64_t member, int64_t currency, int64_t at,
				     int64_t **due, size_t *count)
{
	return s->ops->holds_due(s, member, currency, at, due, count);
}
static inline int ly_store_idem_get(store *s, int64_t member, int64_t key_hash, const char *key,
				    idem_row *out, bool *found)
{
	return s->ops->idem_get(s, member, key_hash, key, out, found);
}
static inline int ly_store_idem_put(store *s, const idem_row *idem)
{
	return s->ops->idem_put(s, idem);
}
static inline int ly_store_event_insert(store *s, event_row *event)
{
	return s->ops->event_insert(s, event);
}
static inline int ly_store_event_outcome(store *s, int64_t member, int64_t id, void **outcome,
					 size_t *size)
{
	return s->ops->event_outcome(s, member, id, outcome, size);
}
static inline int ly_store_event_span(store *s, int64_t before, int64_t *count, int64_t *last)
{
	return s->ops->event_span(s, before, count, last);
}
static inline int ly_store_event_page(store *s, int64_t after, int64_t last, int64_t before,
				      int64_t limit, store_row_fn visit, void *ctx)
{
	return s->ops->event_page(s, after, last, before, limit, visit, ctx);
}
static inline int ly_store_activity_add(store *s, int64_t member, const char *type, int64_t day,
					int64_t delta, const activity_number *numbers, size_t count)
{
	return s->ops->activity_add(s, member, type, day, delta, numbers, count);
}
static inline int ly_store_activity_count(store *s, int64_t member, const char *type, int64_t from,
					  int64_t to, int64_t *out)
{
	return s->ops->activity_count(s, member, type, from, to, out);
}
static inline int ly_store_activity_day_count(store *s, int64_t member, const char *type,
					      int64_t from, int64_t to, int64_t *out)
{
	return s->ops->activity_day_count(s, member, type, from, to, out);
}
static inline int ly_store_activity_sum(store *s, int64_t member, const char *type,
					const char *property, int64_t from, int64_t to, double *out)
{
	return s->ops->activity_sum(s, member, type, property, from, to, out);
}
static inline int ly_store_activity_days(store *s, int64_t member, const char *type, int64_t to,
					 size_t limit, int64_t **days, size_t *count)
{
	return s->ops->activity_days(s, member, type, to, limit, days, count);
}
static inline int ly_store_rule_counter_add(store *s, int64_t member, const char *rule,
					    int64_t currency, int64_t day, int64_t delta)
{
	return s->ops->rule_counter_add(s, member, rule, currency, day, delta);
}
static inline int ly_store_rule_counter_sum(store *s, int64_t member, const char *rule,
					    int64_t currency, int64_t from, int64_t to,
					    int64_t *out)
{
	return s->ops->rule_counter_sum(s, member, rule, currency, from, to, out);
}
static inline int ly_store_board_add(store *s, const char *board, int64_t period, int64_t member,
				     double delta, int64_t at)
{
	return s->ops->board_add(s, board, period, member, delta, at);
}
static inline int ly_store_board_page(store *s, const char *board, int64_t period,
				      int64_t offset, int64_t limit, store_row_fn visit,
				      void *ctx)
{
	return s->ops->board_page(s, board, period, offset, limit, visit, ctx);
}
static inline int ly_store_board_rank(store *s, const char *board, int64_t period,
				      int64_t member, int64_t *rank, double *score, bool *found)
{
	return s->ops->board_rank(s, board, period, member, rank, score, found);
}
static inline int ly_store_rule_budget_take(store *s, const char *rule, int64_t currency,
					    int64_t period, int64_t *used)
{
	return s->ops->rule_budget_take(s, rule, currency, period, used);
}
static inline int ly_store_rule_budget_add(store *s, const char *rule, int64_t currency,
					   int64_t period, int64_t delta)
{
	return s->ops->rule_budget_add(s, rule, currency, period, delta);
}
static inline int ly_store_tier_get(store *s, int64_t member, tier_row *out)
{
	return s->ops->tier_get(s, member, out);
}
static inline int ly_store_tier_assignment_get(store *s, int64_t member, tier_assignment *out,
					       bool *found)
{
	return s->ops->tier_assignment_get(s, member, out, found);
}
static inline int ly_store_tier_assignment_set(store *s, const tier_assignment *assignment)
{
	return s->ops->tier_assignment_set(s, assignment);
}
static inline int ly_store_tier_assignment_clear(store *s, int64_t member)
{
	return s->ops->tier_assignment_clear(s, member);
}
static inline int ly_store_tier_put(store *s, const tier_row *tier)
{
	return s->ops->tier_put(s, tier);
}
static inline int ly_store_tier_history_add(store *s, int64_t member, const char *from,
					    const char *to, int64_t at, const char *reason)
{
	return s->ops->tier_history_add(s, member, from, to, at, reason);
}
static inline int ly_store_tier_due(store *s, int64_t at, bool all, int64_t **members,
				    size_t *count)
{
	return s->ops->tier_due(s, at, all, members, count);
}
static inline int ly_store_tier_history_before(store *s, int64_t member, int64_t before,
					       tier_change *out, bool *found)
{
	return s->ops->tier_history_before(s, member, before, out, found);
}
static inline int ly_store_member_page(store *s, int64_t after, member_page *out)
{
	return s->ops->member_page(s, after, out);
}
static inline int ly_store_member_count(store *s, int64_t *out)
{
	return s->ops->member_count(s, out);
}
static inline int ly_store_member_search(store *s, const member_filter *filter, int64_t after,
					 member_page *out)
{
	return s->ops->member_search(s, filter, after, out);
}
static inline int ly_store_segment_is_member(store *s, const char *segment, int64_t member,
					     bool *out)
{
	return s->ops->segment_is_member(s, segment, member, out);
}
static inline int ly_store_segment_set(store *s, const char *segment, int64_t member, bool in,
				       int64_t at)
{
	return s->ops->segment_set(s, segment, member, in, at);
}
static inline int ly_store_segment_change(store *s, int64_t refresh, const char *segment,
					  int64_t member, bool entered, int64_t at)
{
	return s->ops->segment_change(s, refresh, segment, member, entered, at);
}
static inline int ly_store_segment_next_refresh(store *s, int64_t *out)
{
	return s->ops->segment_next_refresh(s, out);
}
static inline int ly_store_segment_change_next(store *s, int64_t refresh, int64_t after,
					       int64_t *id, char *segment, size_t size,
					       char *member, size_t member_size, bool *entered,
					       bool *found)
{
	return s->ops->segment_change_next(s, refresh, after, id, segment, size, member,
					   member_size, entered, found);
}
static inline int ly_store_badge_award_add(store *s, int64_t member, const char *badge,
					   const char *level, int kind, int64_t at,
					   const char *cause)
{
	return s->ops->badge_award_add(s, member, badge, level, kind, at, cause);
}
static inline int ly_store_badge_state(store *s, int64_t member, const char *badge,
				       const char *level, badge_state *out)
{
	return s->ops->badge_state(s, member, badge, level, out);
}
static inline int ly_store_badge_award_next(store *s, int64_t member, int64_t after,
					    badge_award_row *out, bool *found)
{
	return s->ops->badge_award_next(s, member, after, out, found);
}
static inline int ly_store_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
					int64_t **triples, size_t *count)
{
	return s->ops->due_accounts(s, at, after, limit, triples, count);
}
static inline int ly_store_idle_members(store *s, int64_t currency, int64_t cutoff,
					int64_t **members, size_t *count)
{
	return s->ops->idle_members(s, currency, cutoff, members, count);
}
static inline int ly_store_report_liability(store *s, store_row_fn visit, void *ctx)
{
	return s->ops->report_liability(s, visit, ctx);
}
static inline int ly_store_report_flows(store *s, int64_t from, int64_t to, store_row_fn visit,
					void *ctx)
{
	return s->ops->report_flows(s, from, to, visit, ctx);
}
static inline int ly_store_report_active(store *s, enum store_period period, int64_t from_day,
					 int64_t to_day, store_row_fn visit, void *ctx)
{
	return s->ops->report_active(s, period, from_day, to_day, visit, ctx);
}
static inline int ly_store_report_retention(store *s, enum store_period period, int64_t from_day,
					    int64_t to_day, int64_t joined_from, int64_t joined_to,
					    int64_t utc_offset_ms, store_row_fn visit, void *ctx)
{
	return s->ops->report_retention(s, period, from_day, to_day, joined_from, joined_to,
					utc_offset_ms, visit, ctx);
}
static inline int ly_store_report_sizes(store *s, store_row_fn visit, void *ctx)
{
	return s->ops->report_sizes(s, visit, ctx);
}
static inline int ly_store_idem_claim(store *s, int64_t member, int64_t key_hash,
				      const char *key, int64_t event, idem_row *out, bool *found)
{
	return s->ops->idem_claim(s, member, key_hash, key, event, out, found);
}
static inline int ly_store_event_reserve(store *s, int64_t *id)
{
	return s->ops->event_reserve(s, id);
}
static inline int ly_store_event_postings(store *s, int64_t event, event_posting_vec *out)
{
	return s->ops->event_postings(s, event, out);
}

static inline int ly_store_redemption_insert(store *s, redemption_row *row)
{
	return s->ops->redemption_insert(s, row);
}
static inline int ly_store_redemption_get(store *s, int64_t member, int64_t id,
					  redemption_row *out, bool *found)
{
	return s->ops->redemption_get(s, member, id, out, found);
}
static inline int ly_store_redemption_settle(store *s, int64_t member, int64_t id, int state,
					     int64_t at, const char *postings)
{
	return s->ops->redemption_settle(s, member, id, state, at, postings);
}
static inline int ly_store_redemption_count(store *s, int64_t member, const char *reward,
					    int64_t from_day, int64_t to_day, int64_t now,
					    int64_t *out)
{
	return s->ops->redemption_count(s, member, reward, from_day, to_day, now, out);
}
static inline int ly_store_redemption_before(store *s, int64_t member, int64_t before,
					     redemption_row *out, bool *found)
{
	return s->ops->redemption_before(s, member, before, out, found);
}
static inline int ly_store_redemption_pending_after(store *s, int64_t after,
						    redemption_row *out, bool *found)
{
	return s->ops->redemption_pending_after(s, after, out, found);
}
static inline int ly_store_redemption_due(store *s, int64_t at, redemption_row *out,
					  bool *found)
{
	return s->ops->redemption_due(s, at, out, found);
}
static inline int ly_store_stock_take(store *s, const char *reward, int64_t quantity,
				      int64_t stock, int64_t now, bool *taken)
{
	return s->ops->stock_take(s, reward, quantity, stock, now, taken);
}
static inline int ly_store_stock_return(store *s, const char *reward, int64_t quantity)
{
	return s->ops->stock_return(s, reward, quantity);
}
static inline int ly_store_stock_taken(store *s, const char *reward, int64_t now,
				       int64_t *out)
{
	return s->ops->stock_taken(s, reward, now, out);
}

static inline int ly_store_coupon_code_add(store *s, const char *coupon, const char *code,
					   bool *added)
{
	return s->ops->coupon_code_add(s, coupon, code, added);
}
static inline int ly_store_coupon_code_issue(store *s, coupon_code_row *row, bool *added)
{
	return s->ops->coupon_code_issue(s, row, added);
}
static inline int ly_store_coupon_pool_draw(store *s, coupon_code_row *row, bool *found)
{
	return s->ops->coupon_pool_draw(s, row, found);
}
static inline int ly_store_coupon_code_get(store *s, const char *code, coupon_code_row *out,
					   bool *found)
{
	return s->ops->coupon_code_get(s, code, out, found);
}
static inline int ly_store_coupon_code_by_id(store *s, int64_t member, int64_t id,
					     coupon_code_row *out, bool *found)
{
	return s->ops->coupon_code_by_id(s, member, id, out, found);
}
static inline int ly_store_coupon_code_use(store *s, int64_t id, int64_t uses_left,
					   int64_t used_at)
{
	return s->ops->coupon_code_use(s, id, uses_left, used_at);
}
static inline int ly_store_coupon_code_before(store *s, int64_t member, int64_t before,
					      coupon_code_row *out, bool *found)
{
	return s->ops->coupon_code_before(s, member, before, out, found);
}
static inline int ly_store_coupon_pool_left(store *s, const char *coupon, int64_t *out)
{
	return s->ops->coupon_pool_left(s, coupon, out);
}
static inline int ly_store_coupon_reservation_add(store *s, int64_t member, int64_t code_id,
						  int64_t at, int64_t *id)
{
	return s->ops->coupon_reservation_add(s, member, code_id, at, id);
}
static inline int ly_store_coupon_reservation_get(store *s, int64_t member, int64_t id,
						  int64_t *code_id, int *state, bool *found)
{
	return s->ops->coupon_reservation_get(s, member, id, code_id, state, found);
}
static inline int ly_store_coupon_reservation_set(store *s, int64_t member, int64_t id,
						  int state, int64_t at)
{
	return s->ops->coupon_reservation_set(s, member, id, state, at);
}

static inline int ly_store_report_rewards(store *s, int64_t from, int64_t to, store_row_fn visit,
					  void *ctx)
{
	return s->ops->report_rewards(s, from, to, visit, ctx);
}

static inline int ly_store_outbox_add(store *s, int64_t member, const char *kind, int64_t at,
				      const char *body)
{
	return s->ops->outbox_add(s, member, kind, at, body);
}
static inline int ly_store_outbox_page(store *s, int64_t after, int64_t limit,
				       store_row_fn visit, void *ctx)
{
	return s->ops->outbox_page(s, after, limit, visit, ctx);
}
static inline int ly_store_outbox_last(store *s, int64_t *out)
{
	return s->ops->outbox_last(s, out);
}
static inline int ly_store_outbox_consumer_get(store *s, const char *name, int64_t *position,
					       bool *found)
{
	return s->ops->outbox_consumer_get(s, name, position, found);
}
static inline int ly_store_outbox_consumer_put(store *s, const char *name, int64_t position,
					       int64_t at)
{
	return s->ops->outbox_consumer_put(s, name, position, at);
}
static inline int ly_store_outbox_consumer_drop(store *s, const char *name, bool *found)
{
	return s->ops->outbox_consumer_drop(s, name, found);
}
static inline int ly_store_outbox_consumers(store *s, store_row_fn visit, void *ctx)
{
	return s->ops->outbox_consumers(s, visit, ctx);
}
static inline int ly_store_outbox_trim(store *s, int64_t before, int64_t limit,
				       int64_t *removed)
{
	return s->ops->outbox_trim(s, before, limit, removed);
}
static inline int ly_store_notice_mark(store *s, int64_t member, int kind, int64_t currency,
				       int64_t subject, int64_t threshold, bool *added)
{
	return s->ops->notice_mark(s, member, kind, currency, subject, threshold, added);
}
static inline int ly_store_expiring(store *s, int64_t currency, int64_t from, int64_t to,
				    int64_t after, store_row_fn visit, void *ctx)
{
	return s->ops->expiring(s, currency, from, to, after, visit, ctx);
}
static inline int ly_store_tier_reviews(store *s, int64_t from, int64_t to, int64_t after,
					store_row_fn visit, void *ctx)
{
	return s->ops->tier_reviews(s, from, to, after, visit, ctx);
}

#endif /* LOYAL_STORE_H */
