/* notices.c - notices before the moment: points about to expire (once per threshold and group
 * of points expiring on one local day) and tiers at risk at their next review (once per
 * review), announced in the outbox by loyal_notice_sweep. */
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
} group;

typedef struct page {
	loyal_db *db;
	group *items;
	size_t count, capacity;
} page;

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
	p->items[p->count++] = (group){.member = lot->member, .currency = lot->currency,
				       .day = day, .expires_at = lot->expires_at,
				       .amount = lot->amount};
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
		p.count = 0;
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
	int rc = ly_db_sweep_time(db, at, &at);
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
