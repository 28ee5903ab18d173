/* notices.c - notices before the moment: points about to expire (once per threshold and group
 * of points expiring on one local day) and tiers at risk at their next review (once per
 * review), announced in the outbox by loyal_notice_sweep. */
#include "engine/cursor.h"
#include "engine/outbox.h"
#include "engine/program.h"
#include "engine/tiers.h"
#include "store/store.h"
#include "util/json.h"

#include <string.h>

#define DAY_MS INT64_C(86400000)
#define PAGE 256 /* groups (or members) a transaction handles, at member boundaries */
#define STOP 1   /* a visitor's "this page is full" */

enum { NOTICE_EXPIRING = 1, NOTICE_TIER_AT_RISK = 2 };

typedef struct group {
	int64_t member, currency, day, expires_at, amount;
	char *external; /* the member's host id (a listing's; NULL for the sweep) */
} group;

typedef struct page {
	loyal_db *db;
	group *items;
	size_t count, capacity;
	bool hosts; /* keep each group's host id */
} page;

static void page_clear(page *p)
{
	for (size_t i = 0; i < p->count; i++)
		ly_mem_free(p->items[i].external);
	p->count = 0;
}

static int64_t local_day(const loyal_db *db, int64_t at)
{
	int64_t local = at + db->program->utc_offset_ms;
	return local / DAY_MS - (local % DAY_MS < 0);
}

/* Gathers points expiring on one local day into a group; a page ends between members. */
static int collect_group(void *ctx, const void *row)
{
	page *p = ctx;
	const expiring_row *lot = row;
	int64_t day = local_day(p->db, lot->expires_at);
	group *last = p->count ? &p->items[p->count - 1] : NULL;
	if (last && last->member == lot->member && last->currency == lot->currency &&
	    last->day == day) {
		last->amount += lot->amount;
		return LOYAL_OK;
	}
	if (last && last->member != lot->member && p->count >= PAGE)
		return STOP;
	if (p->count == p->capacity) {
		size_t capacity = p->capacity ? p->capacity * 2 : PAGE;
		group *grown = ly_mem_realloc(p->items, capacity * sizeof *grown);
		if (!grown)
			return ly_db_fail(p->db, LOYAL_ENOMEM, "out of memory finding expiring points");
		p->items = grown;
		p->capacity = capacity;
	}
	char *external = p->hosts ? ly_mem_strdup(lot->external) : NULL;
	if (p->hosts && !external)
		return ly_db_fail(p->db, LOYAL_ENOMEM, "out of memory finding expiring points");
	p->items[p->count++] = (group){.member = lot->member, .currency = lot->currency,
				       .day = day, .expires_at = lot->expires_at,
				       .amount = lot->amount, .external = external};
	return LOYAL_OK;
}

/* One group's notice: the thresholds it has reached are marked; when any is new, the
 * tightest of the new ones is announced. */
static int announce_expiring(loyal_db *db, const group *g, int64_t at, int64_t *count)
{
	const struct program *program = db->program;
	int64_t days = 0;
	int rc = LOYAL_OK;
	for (size_t i = 0; i < program->expiring_day_count && rc == LOYAL_OK; i++) {
		bool added = false;
		if (g->expires_at - at > program->expiring_days[i] * DAY_MS)
			continue;
		rc = ly_store_notice_mark(db->store, g->member, NOTICE_EXPIRING, g->currency, g->day,
					  program->expiring_days[i], &added);
		days = added ? program->expiring_days[i] : days;
	}
	const currency_def *currency = ly_program_currency_by_id(db, g->currency);
	if (rc != LOYAL_OK || !days || !currency)
		return rc;
	(*count)++;
	return ly_outbox_add(db, g->member, "points_expiring", at,
			     json_pack("{s:s,s:I,s:I,s:I}", "currency", currency->name, "amount",
				       (json_int_t)g->amount, "expires_at",
				       (json_int_t)g->expires_at, "days", (json_int_t)days));
}

static int sweep_expiring(loyal_db *db, int64_t at, int64_t *count)
{
	const struct program *program = db->program;
	if (!program->expiring_day_count)
		return LOYAL_OK;
	page p = {.db = db};
	int64_t after = 0, until = at + program->expiring_days[0] * DAY_MS + 1;
	int rc = LOYAL_OK;
	do {
		page_clear(&p);
		rc = ly_store_expiring(db->store, 0, at, until, after, collect_group, &p);
		bool more = rc == STOP;
		rc = more ? LOYAL_OK : rc;
		bool begun = false;
		if (rc == LOYAL_OK && p.count) {
			rc = ly_store_begin(db->store);
			begun = rc == LOYAL_OK;
		}
		for (size_t i = 0; i < p.count && rc == LOYAL_OK; i++)
			rc = announce_expiring(db, &p.items[i], at, count);
		if (begun && rc == LOYAL_OK)
			rc = ly_store_commit(db->store);
		else if (begun)
			ly_store_rollback(db->store);
		after = p.count ? p.items[p.count - 1].member : after;
		if (!more)
			break;
	} while (rc == LOYAL_OK);
	ly_mem_free(p.items);
	return rc;
}

typedef struct review_page {
	review_row rows[PAGE];
	size_t count;
} review_page;

static int collect_review(void *ctx, const void *row)
{
	review_page *p = ctx;
	if (p->count == PAGE)
		return STOP;
	p->rows[p->count] = *(const review_row *)row;
	p->rows[p->count].external = p->rows[p->count].tier = NULL; /* the store's texts */
	p->count++;
	return LOYAL_OK;
}

static int sweep_tiers(loyal_db *db, int64_t at, int64_t *count)
{
	int64_t days = db->program->tier_at_risk_days;
	if (!days || !db->program->ladder.count)
		return LOYAL_OK;
	review_page *p = ly_mem_alloc(sizeof *p);
	if (!p)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory finding tier reviews");
	int64_t after = 0;
	int rc;
	bool more;
	do {
		p->count = 0;
		rc = ly_store_tier_reviews(db->store, at, at + days * DAY_MS + 1, after, collect_review,
					   p);
		more = rc == STOP;
		rc = more ? LOYAL_OK : rc;
		for (size_t i = 0; i < p->count && rc == LOYAL_OK; i++) {
			const review_row *review = &p->rows[i];
			bool risk = false, added = false;
			rc = ly_store_begin(db->store);
			if (rc != LOYAL_OK)
				break;
			rc = ly_tiers_at_risk(db, review->member, at, &risk);
			if (rc == LOYAL_OK && risk)
				rc = ly_store_notice_mark(db->store, review->member, NOTICE_TIER_AT_RISK,
							  0, review->review_at, days, &added);
			tier_row tier = {0};
			if (rc == LOYAL_OK && added)
				rc = ly_store_tier_get(db->store, review->member, &tier);
			if (rc == LOYAL_OK && added) {
				(*count)++;
				rc = ly_outbox_add(db, review->member, "tier_at_risk", at,
						   json_pack("{s:s,s:I}", "tier", tier.tier, "review_at",
							     (json_int_t)review->review_at));
			}
			if (rc == LOYAL_OK)
				rc = ly_store_commit(db->store);
			else
				ly_store_rollback(db->store);
		}
		after = p->count ? p->rows[p->count - 1].member : after;
	} while (rc == LOYAL_OK && more);
	ly_mem_free(p);
	return rc;
}

int ly_notices_sweep(loyal_db *db, int64_t at, int64_t *out_count)
{
	int64_t count = 0;
	int rc = ly_db_time(db, at, "at", &at);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = sweep_expiring(db, at, &count);
	if (rc == LOYAL_OK)
		rc = sweep_tiers(db, at, &count);
	if (out_count)
		*out_count = count;
	return rc;
}

/* ---- listings: points expiring, tier reviews ---- */

typedef struct expiring_cursor {
	loyal_cursor base;
	page page;
	size_t next;
	int64_t currency, from, to, after;
	bool last_page;
} expiring_cursor;

static void expiring_release(loyal_cursor *base)
{
	expiring_cursor *cursor = (expiring_cursor *)base;
	page_clear(&cursor->page);
	ly_mem_free(cursor->page.items);
}

static int expiring_step(loyal_cursor *base, char **row)
{
	expiring_cursor *cursor = (expiring_cursor *)base;
	*row = NULL;
	if (cursor->next == cursor->page.count && !cursor->last_page) {
		page_clear(&cursor->page);
		cursor->next = 0;
		int rc = ly_store_expiring(base->db->store, cursor->currency, cursor->from,
					   cursor->to, cursor->after, collect_group, &cursor->page);
		cursor->last_page = rc != STOP;
		if (rc != LOYAL_OK && rc != STOP)
			return rc;
		if (cursor->page.count)
			cursor->after = cursor->page.items[cursor->page.count - 1].member;
	}
	if (cursor->next == cursor->page.count)
		return LOYAL_OK;
	const group *g = &cursor->page.items[cursor->next++];
	const currency_def *currency = ly_program_currency_by_id(base->db, g->currency);
	return ly_json_emit(&base->db->error,
			    json_pack("{s:s,s:s,s:I,s:I}", "member", g->external, "currency",
				      currency ? currency->name : "?", "amount", (json_int_t)g->amount,
				      "expires_at", (json_int_t)g->expires_at),
			    row);
}

/* The store's id of the member a listing resumes after (NULL: from the first). */
static int after_member(loyal_db *db, const char *after, int64_t *out)
{
	*out = 0;
	if (!after)
		return LOYAL_OK;
	member_row row;
	bool found = false;
	int rc = ly_store_member_find(db->store, after, &row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s' (after)", after);
	*out = row.id;
	return rc;
}

static int check_window(loyal_db *db, int64_t from, int64_t to)
{
	return from < 0 || to <= from
		       ? ly_db_fail(db, LOYAL_EINVAL,
				    "from (%lld) and to (%lld): to must come after from, both not "
				    "negative",
				    (long long)from, (long long)to)
		       : LOYAL_OK;
}

int ly_notices_expiring(loyal_db *db, const char *currency, int64_t from, int64_t to,
			const char *after, loyal_cursor **out)
{
	const currency_def *def = NULL;
	int rc = check_window(db, from, to);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc == LOYAL_OK && currency)
		rc = ly_program_currency(db, currency, &def);
	int64_t after_id = 0;
	if (rc == LOYAL_OK)
		rc = after_member(db, after, &after_id);
	if (rc != LOYAL_OK)
		return rc;
	expiring_cursor *cursor =
		(expiring_cursor *)ly_cursor_new(db, sizeof *cursor, expiring_step);
	if (!cursor)
		return db->error.code;
	cursor->base.release = expiring_release;
	cursor->page = (page){.db = db, .hosts = true};
	cursor->currency = def ? def->id : 0;
	cursor->from = from;
	cursor->to = to;
	cursor->after = after_id;
	*out = &cursor->base;
	return LOYAL_OK;
}

typedef struct reviews_cursor {
	loyal_cursor base;
	int64_t from, to, after;
	char **rows;
	size_t count, next, capacity;
	bool last_page;
} reviews_cursor;

static void reviews_clear(reviews_cursor *cursor)
{
	for (size_t i = cursor->next; i < cursor->count; i++)
		ly_mem_free(cursor->rows[i]);
	cursor->count = cursor->next = 0;
}

static void reviews_release(loyal_cursor *base)
{
	reviews_cursor *cursor = (reviews_cursor *)base;
	reviews_clear(cursor);
	ly_mem_free(cursor->rows);
}

static int collect_review_row(void *ctx, const void *row)
{
	reviews_cursor *cursor = ctx;
	const review_row *review = row;
	if (cursor->count == PAGE)
		return STOP;
	int rc = ly_json_emit(&cursor->base.db->error,
			      json_pack("{s:s,s:s,s:I,s:o}", "member", review->external, "tier",
					review->tier, "review_at", (json_int_t)review->review_at,
					"grace_until", ly_json_time_or_null(review->grace_until, 0)),
			      &cursor->rows[cursor->count]);
	if (rc == LOYAL_OK) {
		cursor->count++;
		cursor->after = review->member;
	}
	return rc;
}

static int reviews_step(loyal_cursor *base, char **row)
{
	reviews_cursor *cursor = (reviews_cursor *)base;
	*row = NULL;
	if (cursor->next == cursor->count && !cursor->last_page) {
		reviews_clear(cursor);
		int rc = ly_store_tier_reviews(base->db->store, cursor->from, cursor->to,
					       cursor->after, collect_review_row, cursor);
		cursor->last_page = rc != STOP;
		if (rc != LOYAL_OK && rc != STOP)
			return rc;
	}
	if (cursor->next == cursor->count)
		return LOYAL_OK;
	*row = cursor->rows[cursor->next];
	cursor->rows[cursor->next++] = NULL;
	return LOYAL_OK;
}

int ly_notices_reviews(loyal_db *db, int64_t from, int64_t to, const char *after,
		       loyal_cursor **out)
{
	int64_t after_id = 0;
	int rc = check_window(db, from, to);
	if (rc == LOYAL_OK)
		rc = after_member(db, after, &after_id);
	if (rc != LOYAL_OK)
		return rc;
	reviews_cursor *cursor = (reviews_cursor *)ly_cursor_new(db, sizeof *cursor, reviews_step);
	char **rows = cursor ? ly_mem_calloc(PAGE, sizeof *rows) : NULL;
	if (!rows) {
		if (cursor)
			loyal_cursor_free(&cursor->base);
		return cursor ? ly_db_fail(db, LOYAL_ENOMEM, "out of memory listing tier reviews")
			      : db->error.code;
	}
	cursor->base.release = reviews_release;
	cursor->rows = rows;
	cursor->from = from;
	cursor->to = to;
	cursor->after = after_id;
	*out = &cursor->base;
	return LOYAL_OK;
}
