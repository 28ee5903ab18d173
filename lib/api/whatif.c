/* whatif.c - what-if replay (loyal_whatif): the stored events tracked again on two scratch
 * databases, one through the live program and one through a candidate, through the public
 * calls a host would make, and the period reported side by side from the analytics calls and
 * the events' outcomes. The replay's rules are documented in loyal/whatif.h; change both
 * together. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "api/read.h"
#include "engine/handle.h"
#include "engine/program.h"
#include "store/store.h"
#include "util/json.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS INT64_C(86400000)
#define PAGE_EVENTS 500
#define BATCH_CALLS 1000
#define DEFAULT_LIMIT 10
#define MAX_LIMIT 1000
#define PATH_SIZE 4096
#define FOLDER_SIZE (PATH_SIZE - 64) /* room for a file name in it */

typedef struct side {
	const char *name; /* "live", "candidate" */
	loyal_db *db;
	char path[PATH_SIZE];
	json_t *rules;  /* {rule: {currency: [points, awards]}} */
	json_t *badges; /* {badge: n} */
	int64_t tier_moves, refused, calls;
	bool in_batch;
} side;

typedef struct difference {
	json_t *row;
	int64_t size; /* the sum of the currencies' differences, in absolute value */
} difference;

typedef struct replay {
	loyal_db *db;
	const loyal_whatif_request *w;
	int64_t now, day_end, to, limit;
	char folder[FOLDER_SIZE];
	char *live_program; /* the document, as applied */
	side sides[2];
	bool split; /* the candidate side runs the candidate */
	int64_t done, total, period_events, after;
	difference *biggest;
	size_t biggest_count;
	int64_t compared, differing;
} replay;

static int64_t clock_of_replay(void *ctx)
{
	return ((const replay *)ctx)->now;
}

/* A failure of a side's call, in the live handle's error. */
static int side_failed(replay *r, side *s, int rc)
{
	return ly_db_fail(r->db, rc, "what-if, replaying through the %s program: %s", s->name,
			  loyal_errmsg(s->db));
}

static int flush(replay *r, side *s)
{
	if (!s->in_batch)
		return LOYAL_OK;
	s->in_batch = false;
	s->calls = 0;
	int rc = loyal_batch_commit(s->db);
	return rc == LOYAL_OK ? rc : side_failed(r, s, rc);
}

static int flush_both(replay *r)
{
	int rc = flush(r, &r->sides[0]);
	return rc == LOYAL_OK ? flush(r, &r->sides[1]) : rc;
}

/* ---- the scratch databases ---- */

static int scratch_open(replay *r, side *s, const char *name, const char *program)
{
	snprintf(s->path, sizeof s->path, "%s/%s.db", r->folder, name);
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.clock = clock_of_replay;
	opts.clock_ctx = r;
	opts.backend = LOYAL_BACKEND_SQLITE;
	opts.durability = LOYAL_DURABILITY_SCRATCH; /* removed after the replay */
	int rc = loyal_open(s->path, &opts, &s->db);
	if (rc == LOYAL_OK)
		rc = loyal_program_apply(s->db, program, NULL);
	if (rc != LOYAL_OK) {
		rc = s->db ? side_failed(r, s, rc)
			   : ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory opening a scratch database");
	}
	return rc;
}

static void remove_file(const char *path, const char *suffix)
{
	char name[PATH_SIZE + 8];
	snprintf(name, sizeof name, "%s%s", path, suffix);
	unlink(name);
}

static void scratch_close(side *s)
{
	if (s->db) {
		if (s->in_batch)
			loyal_batch_rollback(s->db);
		loyal_close(s->db);
		s->db = NULL;
	}
	if (*s->path) {
		remove_file(s->path, "");
		remove_file(s->path, "-wal");
		remove_file(s->path, "-shm");
		*s->path = '\0';
	}
}

/* The candidate, checked as a change of the live program on an empty scratch database: a
 * document the replay would refuse at the split is refused before any event is replayed. */
static int check_candidate(replay *r)
{
	side check = {.name = "candidate"};
	int rc = scratch_open(r, &check, "check", r->live_program);
	if (rc == LOYAL_OK) {
		rc = loyal_program_apply(check.db, r->w->program, NULL);
		if (rc != LOYAL_OK)
			rc = ly_db_fail(r->db, rc, "the candidate program: %s", loyal_errmsg(check.db));
	}
	scratch_close(&check);
	return rc;
}

/* ---- the replay ---- */

/* Adds a period event's outcome to the side's sums: postings by rule, tier changes, badges. */
static int count_outcome(replay *r, side *s, const char *text)
{
	json_t *outcome = json_loads(text, 0, NULL), *item;
	if (!outcome)
		return ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory reading a replayed outcome");
	size_t i;
	int rc = LOYAL_OK;
	json_array_foreach(json_object_get(outcome, "postings"), i, item) {
		const char *rule = json_string_value(json_object_get(item, "rule"));
		const char *currency = json_string_value(json_object_get(item, "currency"));
		if (!rule || !currency)
			continue;
		json_t *by_currency = json_object_get(s->rules, rule);
		if (!by_currency && json_object_set_new(s->rules, rule, json_object()) == 0)
			by_currency = json_object_get(s->rules, rule);
		json_t *sums = by_currency ? json_object_get(by_currency, currency) : NULL;
		if (by_currency && !sums &&
		    json_object_set_new(by_currency, currency, json_pack("[ii]", 0, 0)) == 0)
			sums = json_object_get(by_currency, currency);
		if (!sums) {
			rc = ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory summing rule '%s'", rule);
			break;
		}
		json_t *points = json_array_get(sums, 0), *awards = json_array_get(sums, 1);
		json_integer_set(points, json_integer_value(points) +
						 json_integer_value(json_object_get(item, "amount")));
		json_integer_set(awards, json_integer_value(awards) + 1);
	}
	s->tier_moves += (int64_t)json_array_size(json_object_get(outcome, "tier_changes"));
	json_array_foreach(json_object_get(outcome, "badges"), i, item) {
		const char *badge = json_string_value(json_object_get(item, "badge"));
		json_t *count = badge ? json_object_get(s->badges, badge) : NULL;
		if (!badge)
			continue;
		if (count)
			json_integer_set(count, json_integer_value(count) + 1);
		else if (rc == LOYAL_OK && json_object_set_new(s->badges, badge, json_integer(1)))
			rc = ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory counting badges");
	}
	json_decref(outcome);
	return rc;
}

/* Settles both sides at the replay's clock: expiries and tier reviews. */
static int settle(replay *r, bool in_period)
{
	int rc = flush_both(r);
	for (int i = 0; i < 2 && rc == LOYAL_OK; i++) {
		side *s = &r->sides[i];
		int64_t changed = 0;
		rc = loyal_expire(s->db, 0, NULL);
		if (rc == LOYAL_OK)
			rc = loyal_tier_sweep(s->db, 0, &changed);
		if (rc != LOYAL_OK)
			rc = side_failed(r, s, rc);
		else if (in_period)
			s->tier_moves += changed;
	}
	return rc;
}

/* Moves the clock to `at` (never back), settling at the end of each day passed. */
static int advance(replay *r, int64_t at)
{
	if (!r->day_end)
		r->day_end = (at / DAY_MS + 1) * DAY_MS;
	int rc = LOYAL_OK;
	while (rc == LOYAL_OK && r->day_end <= at) {
		r->now = r->day_end - 1 > r->now ? r->day_end - 1 : r->now;
		rc = settle(r, r->now >= r->w->from);
		r->day_end += DAY_MS;
	}
	if (at > r->now)
		r->now = at;
	return rc;
}

/* The candidate side changes to the candidate program. */
static int split(replay *r)
{
	side *s = &r->sides[1];
	int rc = flush(r, s);
	if (rc == LOYAL_OK && loyal_program_apply(s->db, r->w->program, NULL) != LOYAL_OK)
		rc = side_failed(r, s, loyal_errcode(s->db));
	r->split = rc == LOYAL_OK;
	return rc;
}

static int track(replay *r, side *s, const event_scan_row *row, bool in_period)
{
	loyal_event event = LOYAL_EVENT_INIT;
	event.member = row->member;
	event.type = row->type;
	event.idempotency_key = row->key;
	event.at = row->at;
	event.properties = row->properties;
	char *outcome = NULL;
	int rc = LOYAL_OK;
	if (!s->in_batch) {
		rc = loyal_batch_begin(s->db);
		s->in_batch = rc == LOYAL_OK;
	}
	if (rc == LOYAL_OK)
		rc = loyal_track(s->db, &event, in_period ? &outcome : NULL);
	if (rc == LOYAL_EINVAL) { /* refused by this side's program, the batch going on */
		s->refused += in_period;
		return LOYAL_OK;
	}
	if (rc != LOYAL_OK)
		return side_failed(r, s, rc);
	if (outcome)
		rc = count_outcome(r, s, outcome);
	loyal_free(outcome);
	if (rc == LOYAL_OK && ++s->calls >= BATCH_CALLS)
		rc = flush(r, s);
	return rc;
}

static int replay_event(void *ctx, const void *data)
{
	replay *r = ctx;
	const event_scan_row *row = data;
	r->after = row->id;
	bool in_period = row->at >= r->w->from;
	int rc = advance(r, row->at);
	if (rc == LOYAL_OK && in_period && !r->split)
		rc = split(r);
	for (int i = 0; i < 2 && rc == LOYAL_OK; i++)
		rc = track(r, &r->sides[i], row, in_period);
	r->done++;
	r->period_events += in_period;
	return rc;
}

static int replay_events(replay *r)
{
	int64_t last = 0;
	int rc = ly_store_read_begin(r->db->store);
	if (rc == LOYAL_OK) {
		rc = ly_store_event_span(r->db->store, r->to, &r->total, &last);
		ly_store_read_end(r->db->store);
	}
	const loyal_whatif_request *w = r->w;
	for (bool more = true; rc == LOYAL_OK && more;) {
		int64_t done = r->done;
		rc = ly_store_read_begin(r->db->store);
		if (rc == LOYAL_OK) {
			rc = ly_store_event_page(r->db->store, r->after, last, r->to, PAGE_EVENTS,
						 replay_event, r);
			ly_store_read_end(r->db->store);
		}
		more = r->done - done == PAGE_EVENTS; /* a short page is the last */
		if (rc == LOYAL_OK && ly_store_interrupted(r->db->store))
			rc = ly_db_fail(r->db, LOYAL_EINTERRUPTED, "the what-if was interrupted after "
					"%lld of %lld events", (long long)r->done, (long long)r->total);
		if (rc == LOYAL_OK && w->progress && w->progress(w->ctx, r->done, r->total))
			rc = ly_db_fail(r->db, LOYAL_EINTERRUPTED, "the what-if was stopped by its "
					"progress callback after %lld of %lld events",
					(long long)r->done, (long long)r->total);
	}
	if (rc == LOYAL_OK && !r->split)
		rc = split(r);
	if (rc == LOYAL_OK)
		rc = advance(r, r->to);
	if (rc == LOYAL_OK)
		rc = settle(r, true);
	for (int i = 0; i < 2 && rc == LOYAL_OK; i++)
		if (loyal_segment_refresh(r->sides[i].db, 0, NULL, NULL) != LOYAL_OK)
			rc = side_failed(r, &r->sides[i], loyal_errcode(r->sides[i].db));
	return rc;
}

/* ---- the report ---- */

/* The side's rules as a sorted array; NULL when memory ran out (never a row short). */
static json_t *rule_rows(const side *s)
{
	json_t *rows = json_array(), *by_currency, *sums;
	const char *rule, *currency;
	const char **names = ly_mem_calloc(json_object_size(s->rules) + 1, sizeof *names);
	size_t count = 0;
	json_object_foreach(s->rules, rule, by_currency)
		if (names)
			names[count++] = rule;
	for (size_t i = 1; i < count; i++) /* insertion sort: a program has few rules */
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			const char *t = names[k];
			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	bool whole = names && rows;
	for (size_t i = 0; i < count && whole; i++) {
		by_currency = json_object_get(s->rules, names[i]);
		json_object_foreach(by_currency, currency, sums)
			if (whole && json_array_append_new(
					     rows, json_pack("{s:s,s:s,s:O,s:O}", "rule", names[i],
							     "currency", currency, "points",
							     json_array_get(sums, 0), "awards",
							     json_array_get(sums, 1))) != 0)
				whole = false;
	}
	if (!whole) {
		json_decref(rows);
		rows = NULL;
	}
	ly_mem_free(names);
	return rows;
}

static int side_report(replay *r, side *s, json_t **out)
{
	json_t *currencies = NULL, *sizes = NULL;
	int rc = ly_api_period_figures(s->db, r->w->from, r->to, &currencies, &sizes);
	if (rc != LOYAL_OK)
		return side_failed(r, s, rc);
	*out = json_pack("{s:o,s:O,s:O,s:I,s:O,s:O,s:I}", "rules", rule_rows(s), "currencies",
			 currencies, "tiers", json_object_get(sizes, "tiers"), "tier_moves",
			 (json_int_t)s->tier_moves, "badges", s->badges, "segments",
			 json_object_get(sizes, "segments"), "refused", (json_int_t)s->refused);
	json_decref(currencies);
	json_decref(sizes);
	return *out ? LOYAL_OK
		    : ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory writing the what-if's report");
}

/* ---- the members that differ ---- */

/* A member's lifetime earnings in a currency and tier on a side: 0 and null where the side
 * has no such member (its program refused all their events) or currency. */
static int member_on(replay *r, side *s, const char *member, const char *currency,
		     int64_t *earned)
{
	loyal_balance balance = LOYAL_BALANCE_INIT;
	int rc = loyal_ledger_balance(s->db, member, currency, 0, &balance);
	*earned = rc == LOYAL_OK ? balance.earned : 0;
	return rc == LOYAL_OK || rc == LOYAL_ENOTFOUND ? LOYAL_OK : side_failed(r, s, rc);
}

static int tier_on(replay *r, side *s, const char *member, json_t **tier)
{
	char *text = NULL;
	int rc = loyal_tier_get(s->db, member, &text);
	json_t *card = rc == LOYAL_OK ? json_loads(text, 0, NULL) : NULL;
	loyal_free(text);
	*tier = json_null();
	if (card && json_is_string(json_object_get(card, "tier")))
		*tier = json_incref(json_object_get(card, "tier"));
	json_decref(card);
	return rc == LOYAL_OK || rc == LOYAL_ENOTFOUND ? LOYAL_OK : side_failed(r, s, rc);
}

/* Keeps row among the `limit` biggest (taking its reference), dropping the smallest. */
static void keep_biggest(replay *r, json_t *row, int64_t size)
{
	if (r->biggest_count < (size_t)r->limit) {
		r->biggest[r->biggest_count++] = (difference){json_incref(row), size};
		return;
	}
	size_t smallest = 0;
	for (size_t i = 1; i < r->biggest_count; i++)
		if (r->biggest[i].size <= r->biggest[smallest].size)
			smallest = i; /* the latest of equals goes first: earlier members stay */
	if (size > r->biggest[smallest].size) {
		json_decref(r->biggest[smallest].row);
		r->biggest[smallest] = (difference){json_incref(row), size};
	}
}

static int compare_member(replay *r, const char *member)
{
	const struct program *program = r->sides[1].db->program; /* currencies stay: a superset */
	json_t *currencies = json_array(), *live_tier = NULL, *candidate_tier = NULL;
	int64_t size = 0;
	int rc = currencies ? LOYAL_OK : ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory");
	for (size_t i = 0; program && i < program->currency_count && rc == LOYAL_OK; i++) {
		const char *currency = program->currencies[i].name;
		int64_t live = 0, candidate = 0;
		rc = member_on(r, &r->sides[0], member, currency, &live);
		if (rc == LOYAL_OK)
			rc = member_on(r, &r->sides[1], member, currency, &candidate);
		if (rc == LOYAL_OK && live != candidate) {
			if (json_array_append_new(
				    currencies,
				    json_pack("{s:s,s:I,s:I,s:I}", "currency", currency, "live",
					      (json_int_t)live, "candidate", (json_int_t)candidate,
					      "difference", (json_int_t)(candidate - live))) != 0)
				rc = ly_db_fail(r->db, LOYAL_ENOMEM,
						"out of memory comparing member '%s'", member);
			size += candidate > live ? candidate - live : live - candidate;
		}
	}
	if (rc == LOYAL_OK)
		rc = tier_on(r, &r->sides[0], member, &live_tier);
	if (rc == LOYAL_OK)
		rc = tier_on(r, &r->sides[1], member, &candidate_tier);
	r->compared++;
	json_t *row = NULL;
	if (rc == LOYAL_OK && (json_array_size(currencies) || !json_equal(live_tier, candidate_tier))) {
		r->differing++;
		row = json_pack("{s:s,s:O,s:{s:O,s:O}}", "member", member, "currencies", currencies,
				"tier", "live", live_tier, "candidate", candidate_tier);
		char *text = row ? json_dumps(row, JSON_COMPACT) : NULL;
		if (!text)
			rc = ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory listing member '%s'",
					member);
		else if (r->w->difference && r->w->difference(r->w->ctx, text))
			rc = ly_db_fail(r->db, LOYAL_EINTERRUPTED, "the what-if was stopped by its "
					"difference callback at member '%s'", member);
		free(text);
		if (rc == LOYAL_OK)
			keep_biggest(r, row, size);
	}
	json_decref(row);
	json_decref(currencies);
	json_decref(live_tier);
	json_decref(candidate_tier);
	return rc;
}

/* Every member of side `i` (the other side's members too with `only`: those it lacks). */
static int compare_side(replay *r, int i, bool only)
{
	loyal_member_query query = LOYAL_MEMBER_QUERY_INIT;
	loyal_cursor *cursor = NULL;
	side *s = &r->sides[i], *other = &r->sides[1 - i];
	int rc = loyal_member_list(s->db, &query, &cursor);
	if (rc != LOYAL_OK)
		return side_failed(r, s, rc);
	while (rc == LOYAL_OK) {
		const char *text = NULL;
		int next = loyal_cursor_next(cursor, &text);
		if (next != LOYAL_OK)
			rc = side_failed(r, s, next);
		if (next != LOYAL_OK || !text)
			break;
		json_t *row = json_loads(text, 0, NULL);
		const char *member = json_string_value(json_object_get(row, "id"));
		if (!member) {
			rc = ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory listing members");
		} else if (only) {
			char *card = NULL;
			int found = loyal_member_get(other->db, member, &card);
			loyal_free(card);
			if (found == LOYAL_ENOTFOUND)
				rc = compare_member(r, member);
			else if (found != LOYAL_OK)
				rc = side_failed(r, other, found);
		} else {
			rc = compare_member(r, member);
		}
		json_decref(row);
	}
	loyal_cursor_free(cursor);
	return rc;
}

static int biggest_first(const void *a, const void *b)
{
	const difference *x = a, *y = b;
	return (x->size < y->size) - (x->size > y->size);
}

static int compare_members(replay *r, json_t **out)
{
	r->biggest = ly_mem_calloc((size_t)r->limit, sizeof *r->biggest);
	int rc = r->biggest ? LOYAL_OK : ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory");
	if (rc == LOYAL_OK)
		rc = compare_side(r, 0, false);
	if (rc == LOYAL_OK)
		rc = compare_side(r, 1, true);
	json_t *rows = json_array();
	if (r->biggest_count)
		qsort(r->biggest, r->biggest_count, sizeof *r->biggest, biggest_first);
	for (size_t i = 0; i < r->biggest_count && rc == LOYAL_OK; i++)
		if (json_array_append(rows, r->biggest[i].row) != 0)
			rc = ly_db_fail(r->db, LOYAL_ENOMEM,
					"out of memory writing the what-if's report");
	*out = rc == LOYAL_OK ? json_pack("{s:I,s:I,s:o}", "compared", (json_int_t)r->compared,
					  "differing", (json_int_t)r->differing, "biggest", rows)
			      : NULL;
	if (rc != LOYAL_OK)
		json_decref(rows);
	else if (!*out)
		rc = ly_db_fail(r->db, LOYAL_ENOMEM, "out of memory writing the what-if's report");
	return rc;
}

/* ---- the call ---- */

static int check_options(replay *r)
{
	const loyal_whatif_request *w = r->w;
	loyal_db *db = r->db;
	if (w->version != LOYAL_WHATIF_REQUEST_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "whatif.version %u is not one this library "
				  "knows (%d)", w->version, LOYAL_WHATIF_REQUEST_VERSION);
	if (!w->program)
		return ly_db_fail(db, LOYAL_EINVAL, "whatif.program is NULL: give the candidate "
				  "program document");
	int64_t now = ly_db_now(db);
	r->to = w->to ? w->to : now;
	if (w->to > now)
		return ly_db_fail(db, LOYAL_EINVAL, "whatif.to is after the clock: what has not "
				  "happened cannot be replayed");
	if (w->from < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "whatif.from (%lld) is negative",
				  (long long)w->from);
	if (w->from >= r->to) {
		char from[LY_ISO_TIME_SIZE], to[LY_ISO_TIME_SIZE];
		ly_iso_time(w->from, from);
		ly_iso_time(r->to, to);
		return ly_db_fail(db, LOYAL_EINVAL, "whatif.from (%s) must be before whatif.to (%s)",
				  from, to);
	}
	if (w->limit < 0 || w->limit > MAX_LIMIT)
		return ly_db_fail(db, LOYAL_EINVAL, "whatif.limit (%lld) must be 0 to %d",
				  (long long)w->limit, MAX_LIMIT);
	r->limit = w->limit ? w->limit : DEFAULT_LIMIT;
	const char *tmp = w->scratch ? w->scratch : getenv("TMPDIR");
	tmp = tmp && *tmp ? tmp : "/tmp";
	if ((size_t)snprintf(r->folder, sizeof r->folder, "%s/loyal-whatif-XXXXXX", tmp) >=
	    sizeof r->folder)
		return ly_db_fail(db, LOYAL_EINVAL, "the scratch folder's path is too long (%zu "
				  "bytes)", strlen(tmp));
	return LOYAL_OK;
}

static int live_program(replay *r)
{
	int64_t version = 0;
	int rc = ly_store_read_begin(r->db->store);
	if (rc == LOYAL_OK) {
		rc = ly_store_program_get(r->db->store, &r->live_program, &version);
		ly_store_read_end(r->db->store);
	}
	if (rc == LOYAL_OK && !version)
		rc = ly_db_fail(r->db, LOYAL_ESTATE, "the database has no program: a what-if "
				"compares a candidate with the live program");
	return rc;
}

int loyal_whatif_request_init(loyal_whatif_request *whatif, unsigned int version)
{
	if (!whatif || version != LOYAL_WHATIF_REQUEST_VERSION)
		return LOYAL_EINVAL;
	*whatif = (loyal_whatif_request)LOYAL_WHATIF_REQUEST_INIT;
	return LOYAL_OK;
}

int loyal_whatif(loyal_db *db, const loyal_whatif_request *whatif, char **out_json)
{
	int rc = ly_api_enter_json(db, out_json);
	if (rc != LOYAL_OK)
		return rc;
	if (!whatif)
		return ly_db_fail(db, LOYAL_EINVAL, "whatif is NULL");
	replay r = {.db = db, .w = whatif};
	r.sides[0].name = "live";
	r.sides[1].name = "candidate";
	rc = check_options(&r);
	if (rc == LOYAL_OK)
		rc = live_program(&r);
	bool made = false;
	if (rc == LOYAL_OK) {
		made = mkdtemp(r.folder) != NULL;
		if (!made)
			rc = ly_db_fail(db, LOYAL_EIO, "cannot make a scratch folder in '%.*s': %s",
					(int)(strlen(r.folder) - 20), r.folder, strerror(errno));
	}
	for (int i = 0; i < 2; i++) {
		r.sides[i].rules = json_object();
		r.sides[i].badges = json_object();
		if (rc == LOYAL_OK && (!r.sides[i].rules || !r.sides[i].badges))
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory for the what-if");
	}
	if (rc == LOYAL_OK)
		rc = check_candidate(&r);
	for (int i = 0; i < 2 && rc == LOYAL_OK; i++)
		rc = scratch_open(&r, &r.sides[i], r.sides[i].name, r.live_program);
	if (rc == LOYAL_OK)
		rc = replay_events(&r);
	json_t *live = NULL, *candidate = NULL, *members = NULL;
	if (rc == LOYAL_OK)
		rc = side_report(&r, &r.sides[0], &live);
	if (rc == LOYAL_OK)
		rc = side_report(&r, &r.sides[1], &candidate);
	if (rc == LOYAL_OK && ly_program_refresh(r.sides[1].db) != LOYAL_OK)
		rc = side_failed(&r, &r.sides[1], loyal_errcode(r.sides[1].db));
	if (rc == LOYAL_OK)
		rc = compare_members(&r, &members);
	if (rc == LOYAL_OK)
		rc = ly_json_emit(&db->error,
				  json_pack("{s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "from",
					    (json_int_t)whatif->from, "to", (json_int_t)r.to,
					    "events", (json_int_t)r.done, "period_events",
					    (json_int_t)r.period_events, "live", live, "candidate",
					    candidate, "members", members),
				  out_json);
	else {
		json_decref(live);
		json_decref(candidate);
		json_decref(members);
	}
	for (int i = 0; i < 2; i++) {
		scratch_close(&r.sides[i]);
		json_decref(r.sides[i].rules);
		json_decref(r.sides[i].badges);
	}
	for (size_t i = 0; i < r.biggest_count; i++)
		json_decref(r.biggest[i].row);
	ly_mem_free(r.biggest);
	ly_mem_free(r.live_program);
	if (made)
		rmdir(r.folder);
	return rc;
}
