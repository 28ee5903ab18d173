/* store.h - the storage interface: the only way the engine reaches the database file. */
#ifndef LOYAL_STORE_H
#define LOYAL_STORE_H

#include "loyal.h"
#include "util/checked.h"
#include "util/error.h"
#include "util/mem.h"
#include "util/text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version this library writes; older files are migrated forward to it. */
#define STORE_SCHEMA_VERSION 11
/* Marks a SQLite file as a loyal database (PRAGMA application_id): "LOYL". */
#define STORE_APPLICATION_ID 0x4C4F594C

typedef struct store store;

/* How a store is opened: from loyal_open_options, defaults filled in. */
typedef struct store_settings {
	unsigned int flags; /* LOYAL_OPEN_* */
	int busy_timeout_ms;
	int64_t wal_limit_bytes;
	bool sync_every_commit; /* LOYAL_DURABILITY_POWER */
} store_settings;

/* Opens the file, checks it is a loyal database and migrates it. *out receives the store (also
 * on failure, then to be closed: NULL only without memory). Every failure of the store is
 * recorded in `error`, a sink the caller owns and keeps alive as long as the store. */
int ly_store_open(ly_error *error, const char *path, const store_settings *settings,
		  store **out);
/* Finalizes statements and closes the file; returns LOYAL_OK or LOYAL_EIO. Accepts NULL. */
int ly_store_close(store *s);

/* Migrates the open database to `target_version` (at most STORE_SCHEMA_VERSION) in one
 * transaction. Used by open; exposed for tests that build files of older versions. */
int ly_store_migrate(store *s, int target_version);
/* Reads the schema version of the open file into *out. */
int ly_store_schema_version(store *s, int *out);

/* Write transactions: immediate, retried while another writer holds the file (up to the busy
 * timeout). Every write of the engine happens between ly_store_begin and ly_store_commit. Inside a
 * batch (ly_store_batch_begin), begin/commit become a savepoint and its release. */
int ly_store_begin(store *s);
int ly_store_commit(store *s);
/* Undoes the open transaction (or savepoint); never fails from the caller's point of view. */
void ly_store_rollback(store *s);
/* A nested undo point inside the current transaction. */
int ly_store_savepoint(store *s);
int ly_store_savepoint_release(store *s);
void ly_store_savepoint_rollback(store *s);
/* Batches: one outer transaction around many calls. */
int ly_store_batch_begin(store *s);
int ly_store_batch_commit(store *s);
void ly_store_batch_rollback(store *s);
bool ly_store_in_batch(store *s);

/* A consistent snapshot for a call that only reads (a no-op inside an open transaction). */
int ly_store_read_begin(store *s);
void ly_store_read_end(store *s);

/* SQLite's structural check of the file (quick_check). */
int ly_store_check_structure(store *s);
/* Records the handle's last error as damage found in the file: from then on every write through
 * the handle fails with LOYAL_ECORRUPT naming it (reads go on). */
void ly_store_mark_damaged(store *s);
/* The invariants the stored rows must keep (DESIGN.md 1, 2, 3 but the hash chain, 5), checked
 * over the whole file. */
int ly_store_check_invariants(store *s);
/* Calls visit for each transaction, in id order, with the hash of the one before it in its
 * member's chain (0 for a member's first), in one read snapshot; stops at visit's first error. */
typedef int (*ly_txn_link_fn)(void *ctx, int64_t txn, int64_t prev_hash);
int ly_store_each_txn_link(store *s, ly_txn_link_fn visit, void *ctx);

/* ---- program ---- */

/* The stored program: its version (0 before the first apply) and document (NULL then). */
int ly_store_program_version(store *s, int64_t *out);
/* Reads the current program document (owned by the caller, ly_mem_free) and version. */
int ly_store_program_get(store *s, char **document, int64_t *version);
/* Saves a new program version; returns its number in *version. */
int ly_store_program_put(store *s, const char *document, int64_t at, int64_t *version);
/* Rules: the version that last changed a rule (0 if never stored) and, when definition is not
 * NULL, its stored definition (the caller's, ly_mem_free). */
int ly_store_rule_version(store *s, const char *name, int64_t *version, char **definition);
int ly_store_rule_put(store *s, const char *name, int64_t version, const char *definition);
/* Currencies: the id of `name`, assigned on first definition and never reused. */
int ly_store_currency_id(store *s, const char *name, bool create, int64_t *id);

/* ---- members ---- */

typedef struct member_row {
	int64_t id;
	int64_t joined_at;
	int64_t status; /* MEMBER_ACTIVE / MEMBER_BLOCKED */
	int64_t last_active_at;
	int64_t last_txn;  /* head of the member's transaction chain, 0 when none */
	int64_t last_hash; /* chain hash of last_txn */
	char timezone[8];  /* the "timezone" attribute when it is short text, else "" */
} member_row;

enum { MEMBER_ACTIVE = 0, MEMBER_BLOCKED = 1 };

/* Finds a member by the host's id; *found says whether it exists. */
int ly_store_member_find(store *s, const char *external_id, member_row *out, bool *found);
int ly_store_member_get(store *s, int64_t id, member_row *out, bool *found);
int ly_store_member_insert(store *s, const char *external_id, int64_t at, member_row *out);
/* Saves status, last_active_at, last_txn and last_hash. */
int ly_store_member_update(store *s, const member_row *member);
/* Attributes: a JSON object text; get returns an allocated copy. Put also saves the copy of
 * their "timezone" (NULL when it is not text) that member rows carry. */
int ly_store_member_attrs_get(store *s, int64_t member, char **attrs_json);
int ly_store_member_attrs_put(store *s, int64_t member, const char *attrs_json,
			   const char *timezone);
/* The host's id of a member (allocated copy). */
int ly_store_member_external_id(store *s, int64_t member, char **external_id);

/* ---- balances: one row per member and currency ---- */

typedef struct balance_row {
	int64_t member, currency;
	int64_t available; /* negative only as a debt, when no active lot is left */
	int64_t pending, held;
	int64_t earned, spent, expired; /* lifetime totals */
	int64_t due_at; /* nothing falls due before this (a lower bound; 0: unknown) */
} balance_row;

/* Loads the row, or a zeroed one when the member has none in that currency (with due_at
 * INT64_MAX: an account never written has nothing to fall due). */
int ly_store_balance_get(store *s, int64_t member, int64_t currency, balance_row *out);
/* Inserts or updates the row; due_changed false promises that the row, if there is one, has
 * this due_at already. */
int ly_store_balance_put(store *s, const balance_row *balance, bool due_changed);

/* Grows a vector by one zeroed item; returns it, or NULL when memory runs out. */
/* items_field is the address of the vector's item pointer (any object pointer type). */
void *ly_vec_push(void *items_field, size_t *count, size_t *capacity, size_t item_size);
#define VEC_PUSH(vec) ly_vec_push(&(vec)->items, &(vec)->count, &(vec)->capacity, \
			       sizeof *(vec)->items)

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
int ly_store_next_expiry(store *s, int64_t member, int64_t currency, int64_t after,
		      int64_t *at, int64_t *amount, bool *found);
/* The soonest deadline of the member's open holds in the currency, or INT64_MAX. */
int ly_store_holds_next_deadline(store *s, int64_t member, int64_t currency, int64_t *out);
/* The member's lots with points left (pending or active) that expire by `through` (INT64_MAX:
 * all), soonest-expiring first, then oldest. */
int ly_store_lots_open(store *s, int64_t member, int64_t currency, int64_t through,
		    lot_vec *out);
int ly_store_lot_get(store *s, int64_t id, lot_row *out, bool *found);
int ly_store_lot_insert(store *s, lot_row *lot); /* sets lot->id */
int ly_store_lot_update(store *s, const lot_row *lot); /* remaining, pending_until */

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
int ly_store_move_insert(store *s, move_row *move);
/* The moves a transaction made, in order. */
int ly_store_moves_of_txn(store *s, int64_t txn, move_vec *out);

/* ---- transactions and entries ---- */

typedef struct txn_row {
	int64_t id, member, currency, kind, amount, at;
	int64_t reverses;    /* the transaction this one reverses or settles (hold), or 0 */
	int64_t requested;   /* a reversal: the share of the original it accounts for */
	int64_t counterpart; /* a transfer: the other leg's transaction */
	int64_t prev, hash;  /* the member's chain */
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

int ly_store_txn_insert(store *s, txn_row *txn); /* sets txn->id */
/* The id the next inserted transaction will get (inside a write transaction). */
int ly_store_txn_next_id(store *s, int64_t *out);
int ly_store_txn_get(store *s, int64_t id, txn_row *out, bool *found);
void ly_txn_row_clear(txn_row *txn);
int ly_store_entry_insert(store *s, entry_row *entry);
int ly_store_entries_of_txn(store *s, int64_t txn, entry_vec *out);
/* The sum of `requested` over the reversals of txn. */
int ly_store_reversed_total(store *s, int64_t txn, int64_t *out);

/* ---- holds ---- */

enum { HOLD_OPEN = 0, HOLD_CAPTURED = 1, HOLD_RELEASED = 2, HOLD_EXPIRED = 3 };
typedef struct hold_row {
	int64_t txn, member, currency, amount, deadline, state, captured, settled_by;
} hold_row;
int ly_store_hold_insert(store *s, const hold_row *hold);
int ly_store_hold_get(store *s, int64_t txn, hold_row *out, bool *found);
int ly_store_hold_update(store *s, const hold_row *hold);
/* Open holds of a member in a currency whose deadline is <= at, soonest first, as (txn,
 * deadline) pairs: *count is the number of integers. */
int ly_store_holds_due(store *s, int64_t member, int64_t currency, int64_t at, int64_t **due,
		    size_t *count);

/* ---- idempotency ---- */

/* What an idempotency record answers for: a ledger call (txn names its transaction), a tracked
 * event (txn names the event), or an event reversal (its outcome is the message). */
enum { IDEM_LEDGER = 0, IDEM_EVENT = 1, IDEM_EVENT_REVERSAL = 2 };

typedef struct idem_row {
	int64_t member, key_hash, kind;
	const char *key, *request; /* borrowed when saving; owned (ly_mem_free) when loaded */
	int64_t rc, txn, amount;
	const char *message;
} idem_row;
int ly_store_idem_get(store *s, int64_t member, int64_t key_hash, const char *key,
		   idem_row *out, bool *found);
int ly_store_idem_put(store *s, const idem_row *idem);
void ly_idem_row_clear(idem_row *idem);

/* ---- events and activity ---- */

typedef struct event_row {
	int64_t id, member, at;
	const char *type, *key, *properties, *outcome; /* borrowed when saving */
} event_row;
int ly_store_event_insert(store *s, event_row *event); /* sets event->id */
/* The stored outcome (JSON) of event id, the caller's (ly_mem_free). */
int ly_store_event_outcome(store *s, int64_t id, char **outcome);

/* Activity: per member, type and local day, a count and the sums of numeric properties (a JSON
 * object text, or NULL). Types starting with '@' are the engine's own counters, without sums:
 * "@earned:<currency>" counts the points a member earned (event types cannot start with '@'). */
int ly_store_activity_get(store *s, int64_t member, const char *type, int64_t day,
		       int64_t *count, char **sums);
int ly_store_activity_put(store *s, int64_t member, const char *type, int64_t day,
		       int64_t count, const char *sums);
/* Adds delta to the count of the (member, type, day) row, creating it; LOYAL_EOVERFLOW when the
 * count would leave 64 bits. */
int ly_store_activity_add(store *s, int64_t member, const char *type, int64_t day,
		       int64_t delta);
/* Sum of counts over days [from, to]; with `days`, the number of days with a row instead. */
int ly_store_activity_count(store *s, int64_t member, const char *type, int64_t from,
			 int64_t to, int64_t *out);
int ly_store_activity_day_count(store *s, int64_t member, const char *type, int64_t from,
			     int64_t to, int64_t *out);
/* Sum of one property (a JSON path such as $."amount") over days [from, to]. */
int ly_store_activity_sum(store *s, int64_t member, const char *type, const char *path,
		       int64_t from, int64_t to, double *out);
/* The active days up to `to`, newest first, at most `limit` of them. */
int ly_store_activity_days(store *s, int64_t member, const char *type, int64_t to,
			size_t limit, int64_t **days, size_t *count);

/* A rule's counters per member and local day: its awards (currency 0) or the points of one
 * currency (its id) it gave. Add creates the row; LOYAL_EOVERFLOW when the count would leave
 * 64 bits. Sum adds the counts over days [from, to]. */
int ly_store_rule_counter_add(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t day, int64_t delta);
int ly_store_rule_counter_sum(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t from, int64_t to, int64_t *out);

/* ---- tiers ---- */

typedef struct tier_row {
	int64_t member;
	char tier[72]; /* "" when the member has no tier yet */
	int64_t since, review_at, grace_until;
} tier_row;
int ly_store_tier_get(store *s, int64_t member, tier_row *out);
int ly_store_tier_put(store *s, const tier_row *tier);
int ly_store_tier_history_add(store *s, int64_t member, const char *from, const char *to,
			   int64_t at, const char *reason);
/* Members whose review is due at `at` (or every member with a tier, when all). */
int ly_store_tier_due(store *s, int64_t at, bool all, int64_t **members, size_t *count);
/* One history row of the member with id < before (0: the newest), as JSON parts. */
typedef struct tier_change {
	int64_t id, at;
	char from[72], to[72], reason[32];
} tier_change;
int ly_store_tier_history_before(store *s, int64_t member, int64_t before, tier_change *out,
			      bool *found);

/* ---- segments ---- */

/* The next member after id `after` (0: the first), in id order; *found false at the end. The
 * external id is copied into external (size bytes). */
int ly_store_member_next(store *s, int64_t after, member_row *out, char *external, size_t size,
		      bool *found);
/* The same for long scans inside one read snapshot: the statement stays open between calls and
 * goes on from where it stopped (when `after` is the last member it returned) without seeking
 * again. Stop it with ly_store_member_scan_stop before the snapshot ends. */
int ly_store_member_scan(store *s, int64_t after, member_row *out, char *external, size_t size,
		      bool *found);
void ly_store_member_scan_stop(store *s);
int ly_store_segment_is_member(store *s, const char *segment, int64_t member, bool *out);
int ly_store_segment_set(store *s, const char *segment, int64_t member, bool in, int64_t at);
int ly_store_segment_change(store *s, int64_t refresh, const char *segment, int64_t member,
			 bool entered, int64_t at);
int ly_store_segment_next_refresh(store *s, int64_t *out);
/* The change with the smallest id > after in a refresh: segment, member id, entered. */
int ly_store_segment_change_next(store *s, int64_t refresh, int64_t after, int64_t *id,
			      char *segment, size_t size, char *member, size_t member_size,
			      bool *entered, bool *found);

/* ---- badges ---- */

int ly_store_badge_award_add(store *s, int64_t member, const char *badge, const char *level,
			  int64_t at, const char *cause);
/* When the member last got the badge's level (NULL level: the badge without levels). */
int ly_store_badge_last_award(store *s, int64_t member, const char *badge, const char *level,
			   int64_t *at, bool *found);
/* The member's award with the smallest id > after. */
typedef struct badge_award_row {
	int64_t id, at;
	char badge[72], level[72];
} badge_award_row;
int ly_store_badge_award_next(store *s, int64_t member, int64_t after, badge_award_row *out,
			   bool *found);

/* ---- reports (built as JSON by the backend: they are set-based queries) ---- */

/* Liability and flows give each currency by its id ("currency": n); periods and cohorts are
 * local days at utc_offset_ms (the program's time zone). */
struct json_t;
enum store_period { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };
int ly_store_report_liability(store *s, struct json_t **out);
int ly_store_report_flows(store *s, int64_t from, int64_t to, struct json_t **out);
int ly_store_report_active(store *s, enum store_period period, int64_t from, int64_t to,
			   int64_t utc_offset_ms, struct json_t **out);
int ly_store_report_retention(store *s, enum store_period period, int64_t from, int64_t to,
			      int64_t utc_offset_ms, struct json_t **out);
int ly_store_report_sizes(store *s, struct json_t **out);

/* ---- sweeps ---- */

/* Collects up to `limit` accounts whose balance row says something may be due at `at`
 * (due_at <= at), after the key `after` = {due_at, member, currency} in that order, as triples
 * due_at, member, currency, due_at, ... in *triples. */
int ly_store_due_accounts(store *s, int64_t at, const int64_t after[3], size_t limit,
		       int64_t **triples, size_t *count);
/* Collects the members holding points of `currency` whose last activity is before `cutoff`. */
int ly_store_idle_members(store *s, int64_t currency, int64_t cutoff, int64_t **members,
		       size_t *count);

#endif /* LOYAL_STORE_H */
