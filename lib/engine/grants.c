/* grants.c - bulk grants: points or a coupon for every member of a segment or of a list, each
 * member served once under the grant's key, a few hundred members per transaction. */
#include "engine/grants.h"
#include "engine/coupons.h"
#include "engine/idempotency.h"
#include "engine/ledger.h"
#include "engine/segments.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)
/* Members served per write transaction. */
#define GRANT_CHUNK MEMBER_PAGE_SIZE

typedef struct grant_run {
	loyal_db *db;
	const loyal_grant *g;
	size_t segment; /* the segment's index, when the grant has one */
	int64_t hash;   /* of the key, as each member's record is filed */
	int64_t examined, total, granted, already, refused;
	json_t *why; /* refusals counted by reason */
} grant_run;

static int check_grant(loyal_db *db, const loyal_grant *g)
{
	if (g->version != LOYAL_GRANT_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "grant.version is %u; this library knows %d",
				  g->version, LOYAL_GRANT_VERSION);
	int rc = ly_text_check(&db->error, g->key, "grant.key", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, g->segment, "grant.segment", false, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, g->currency, "grant.currency", false, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, g->coupon, "grant.coupon", false, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, g->reason, "grant.reason", false, TEXT_MAX_BYTES);
	if (rc != LOYAL_OK)
		return rc;
	if (!g->segment == !g->members)
		return ly_db_fail(db, LOYAL_EINVAL, "grant.segment and grant.members: %s",
				  g->segment ? "set one, not both" : "neither is set");
	if (!g->members && g->member_count)
		return ly_db_fail(db, LOYAL_EINVAL, "grant.member_count is %zu without grant.members",
				  g->member_count);
	if (!g->currency == !g->coupon)
		return ly_db_fail(db, LOYAL_EINVAL, "grant.currency and grant.coupon: %s",
				  g->currency ? "set one, not both" : "neither is set");
	if (g->coupon && (g->amount || g->reason || g->at || g->expires_at))
		return ly_db_fail(db, LOYAL_EINVAL, "grant.%s does not apply to a coupon grant",
				  g->amount ? "amount" : g->reason ? "reason" : g->at ? "at" : "expires_at");
	if (g->coupon)
		return LOYAL_OK;
	if (g->amount <= 0)
		return ly_db_fail(db, LOYAL_EINVAL, "grant.amount is %lld; a grant of points needs a positive amount",
				  (long long)g->amount);
	int64_t at = 0;
	rc = ly_db_time(db, g->at, "grant.at", &at);
	if (rc != LOYAL_OK)
		return rc;
	if (g->expires_at && g->expires_at <= at)
		return ly_db_fail(db, LOYAL_EINVAL, "grant.expires_at must be after grant.at");
	return LOYAL_OK;
}

/* What the grant gives, as recorded under its key. */
static json_t *grant_request(const loyal_grant *g)
{
	return json_pack("{s:s?,s:s?,s:I,s:s?,s:s?,s:I,s:I}", "segment", g->segment, "currency",
			 g->currency, "amount", (json_int_t)g->amount, "coupon", g->coupon, "reason",
			 g->reason, "at", (json_int_t)g->at, "expires_at", (json_int_t)g->expires_at);
}

/* Records the grant's request under its key (member 0: the program's), in a transaction of
 * its own; a key recorded for another request is LOYAL_ECONFLICT. */
static int record_grant(grant_run *run)
{
	loyal_db *db = run->db;
	json_t *request = grant_request(run->g);
	char *text = request ? json_dumps(request, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(request);
	if (!text)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory recording grant '%s'", run->g->key);
	ly_idem idem;
	idem_row seen;
	bool found = false;
	int rc = ly_store_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = ly_idem_lookup(db, &idem, 0, "(the program)", run->g->key, text, IDEM_GRANT, 0,
				    &seen, &found);
		if (rc == LOYAL_ECONFLICT)
			rc = ly_db_fail(db, LOYAL_ECONFLICT,
					"grant '%s' was made with another request; use a new key",
					run->g->key);
		if (rc == LOYAL_OK && found)
			ly_idem_row_clear(&seen);
		else if (rc == LOYAL_OK)
			rc = ly_idem_record(db, &idem, LOYAL_OK, 0, 0, "ok");
		if (rc == LOYAL_OK)
			rc = ly_store_commit(db->store);
		else
			ly_store_rollback(db->store);
	}
	free(text); /* jansson's allocation */
	return rc;
}

static const char *why_of(int rc)
{
	switch (rc) {
	case LOYAL_EBLOCKED: return "blocked";
	case LOYAL_ENOTELIGIBLE: return "not_eligible";
	case LOYAL_ESOLDOUT: return "sold_out";
	case LOYAL_EOVERFLOW: return "overflow";
	case LOYAL_ECONFLICT: return "key_conflict";
	case LOYAL_ENOTFOUND: return "unknown_member";
	case LOYAL_EINVAL: return "invalid_member";
	default: return NULL; /* a failure of the store: the grant stops */
	}
}

/* Counts a refusal of member (rc, with the handle's message) and tells the caller. */
static int refuse(grant_run *run, const char *member, int rc)
{
	const char *why = why_of(rc);
	if (!why)
		return rc;
	loyal_db *db = run->db;
	char message[sizeof db->error.message];
	memcpy(message, db->error.message, sizeof message);
	run->refused++;
	json_int_t seen = json_integer_value(json_object_get(run->why, why));
	int put = ly_json_put(&db->error, run->why, why, json_integer(seen + 1));
	if (put != LOYAL_OK)
		return put;
	if (run->g->refused)
		run->g->refused(run->g->ctx, member, rc, why, message);
	ly_error_clear(&db->error);
	return LOYAL_OK;
}

/* Serves one member (row, found by their host id `member`): the credit or the code, under the
 * grant's key. */
static int serve(grant_run *run, const member_row *row, const char *member)
{
	loyal_db *db = run->db;
	const loyal_grant *g = run->g;
	idem_row seen;
	bool served_before = false;
	int rc = ly_store_idem_get(db->store, row->id, run->hash, g->key, &seen, &served_before);
	if (rc != LOYAL_OK)
		return rc;
	if (served_before)
		ly_idem_row_clear(&seen);
	if (g->coupon) {
		rc = ly_coupons_issue(db, member, g->coupon, g->key, NULL);
	} else {
		loyal_posting p = LOYAL_POSTING_INIT;
		p.member = member;
		p.currency = g->currency;
		p.amount = g->amount;
		p.idempotency_key = g->key;
		p.reason = g->reason ? g->reason : "grant";
		p.cause = "grant";
		p.at = g->at;
		p.expires_at = g->expires_at;
		rc = ly_ledger_call(db, &p, OP_CREDIT, NULL);
	}
	if (rc != LOYAL_OK)
		return refuse(run, member, rc);
	if (served_before)
		run->already++;
	else
		run->granted++;
	return LOYAL_OK;
}

/* Serves a listed host id: refused when it is malformed or unknown. */
static int serve_listed(grant_run *run, const char *member)
{
	loyal_db *db = run->db;
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc != LOYAL_OK)
		return refuse(run, member ? member : "", rc);
	member_row row;
	bool found = false;
	rc = ly_store_member_find(db->store, member, &row, &found);
	if (rc == LOYAL_OK && !found)
		return refuse(run, member, ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member));
	return rc == LOYAL_OK ? serve(run, &row, member) : rc;
}

/* Serves the next chunk of members (in the open batch): the list's from *next on, or the
 * program's after member id *next that are in the segment. *more is false at the end. */
static int serve_chunk(grant_run *run, member_page *page, int64_t *next, bool *more)
{
	loyal_db *db = run->db;
	const loyal_grant *g = run->g;
	int rc = ly_program_refresh(db);
	if (rc != LOYAL_OK)
		return rc;
	if (g->members) {
		size_t i = (size_t)*next, end = i + GRANT_CHUNK < g->member_count ? i + GRANT_CHUNK
										 : g->member_count;
		for (; rc == LOYAL_OK && i < end; i++, run->examined++)
			rc = serve_listed(run, g->members[i]);
		*next = (int64_t)i;
		*more = i < g->member_count;
		return rc;
	}
	rc = ly_store_member_page(db->store, *next, page);
	*more = rc == LOYAL_OK && page->count == MEMBER_PAGE_SIZE;
	for (size_t i = 0; rc == LOYAL_OK && i < page->count; i++, run->examined++) {
		bool in = false;
		*next = page->items[i].row.id;
		rc = ly_segments_contains(db, run->segment, &page->items[i].row,
					  page->items[i].external, ly_db_now(db), &in);
		if (rc == LOYAL_OK && in)
			rc = serve(run, &page->items[i].row, page->items[i].external);
	}
	return rc;
}

static int run_grant(grant_run *run, member_page *page)
{
	loyal_db *db = run->db;
	const loyal_grant *g = run->g;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK && ly_store_in_batch(db->store))
		rc = ly_db_fail(db, LOYAL_ESTATE,
				"a grant commits as it goes and cannot run inside a batch");
	if (rc == LOYAL_OK && g->segment)
		rc = ly_segments_find(db, g->segment, &run->segment);
	const currency_def *currency = NULL;
	const coupon_def *coupon = NULL;
	if (rc == LOYAL_OK)
		rc = g->coupon ? ly_program_coupon(db, g->coupon, &coupon)
			       : ly_program_currency(db, g->currency, &currency);
	if (rc == LOYAL_OK)
		rc = record_grant(run);
	run->total = (int64_t)g->member_count; /* a segment's: every member is looked at */
	if (rc == LOYAL_OK && g->segment)
		rc = ly_store_member_count(db->store, &run->total);
	int64_t next = 0;
	bool more = true;
	while (rc == LOYAL_OK && more) {
		rc = ly_store_batch_begin(db->store);
		if (rc != LOYAL_OK)
			break;
		rc = serve_chunk(run, page, &next, &more);
		if (rc == LOYAL_OK)
			rc = ly_store_batch_commit(db->store);
		else
			ly_store_batch_rollback(db->store);
		if (rc == LOYAL_OK && g->progress)
			g->progress(g->ctx, run->examined, run->total > run->examined ? run->total
										  : run->examined);
	}
	return rc;
}

int ly_grants_run(loyal_db *db, const loyal_grant *grant, char **out_json)
{
	if (out_json)
		*out_json = NULL;
	int rc = check_grant(db, grant);
	if (rc != LOYAL_OK)
		return rc;
	grant_run run = {.db = db, .g = grant, .hash = ly_idem_hash(grant->key), .why = json_object()};
	member_page *page = grant->segment ? ly_mem_calloc(1, sizeof *page) : NULL;
	if (!run.why || (grant->segment && !page))
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory running grant '%s'", grant->key);
	if (rc == LOYAL_OK)
		rc = run_grant(&run, page);
	ly_mem_free(page);
	json_t *report = NULL;
	if (rc == LOYAL_OK && out_json) {
		report = json_pack("{s:s,s:I,s:I,s:I,s:I,s:O}", "grant", grant->key, "examined",
				   (json_int_t)run.examined, "granted", (json_int_t)run.granted,
				   "already_granted", (json_int_t)run.already, "refused",
				   (json_int_t)run.refused, "why", run.why);
		rc = ly_json_emit(&db->error, report, out_json);
	}
	json_decref(run.why);
	return rc;
}
