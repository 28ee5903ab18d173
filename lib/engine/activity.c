/* activity.c - per-day roll-ups of what members do, and the measures criteria read from them. */
#define _DEFAULT_SOURCE /* timegm */
#include "engine/account.h"
#include "engine/activity.h"
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_MS INT64_C(86400000)
/* How far back a streak looks, and how many active days it reads first. */
#define MAX_STREAK_DAYS 3660
#define STREAK_PAGE_DAYS 16

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t ly_member_utc_offset(const loyal_db *db, const member_row *member)
{
	int64_t own;
	if (member->timezone[0] && ly_program_parse_offset(member->timezone, &own))
		return own;
	return db->program ? db->program->utc_offset_ms : 0;
}

void ly_member_view_open(loyal_db *db, member_row *member, const char *external_id, json_t *event,
		      int64_t now, member_view *out)
{
	const struct program *program = db->program;
	*out = (member_view){.db = db, .member = member, .external_id = external_id,
			    .event = event, .now = now, .counts_from = INT64_MIN,
			    .last_seen = member->last_active_at,
			    .tier = program && program->ladder.count
					    ? ly_program_tier_index(program, member->tier)
					    : -1,
			    .utc_offset_ms = ly_member_utc_offset(db, member)};
}

/* The member's attributes, read on first use: most criteria never look at them. */
static int view_attributes(member_view *view, json_t **out)
{
	if (!view->attributes) {
		char *text = NULL;
		int rc = ly_store_member_attrs_get(view->db->store, view->member->id, &text);
		if (rc == LOYAL_OK)
			rc = ly_json_parse_stored(&view->db->error, text, &view->attributes,
					      "the attributes of member #%lld",
					      (long long)view->member->id);
		ly_mem_free(text);
		if (rc != LOYAL_OK)
			return rc;
	}
	*out = view->attributes;
	return LOYAL_OK;
}

void ly_member_view_close(member_view *view)
{
	json_decref(view->attributes);
	json_decref(view->perks);
	view->attributes = view->perks = NULL;
}

int64_t ly_member_view_day(const member_view *view, int64_t at)
{
	return floor_div(at + view->utc_offset_ms, DAY_MS);
}

int64_t ly_program_day(const struct program *program, int64_t at)
{
	return floor_div(at + program->utc_offset_ms, DAY_MS);
}

void ly_activity_period(enum cap_period per, int64_t day, int64_t *first, int64_t *last)
{
	switch (per) {
	case CAP_DAY:
		*first = *last = day;
		return;
	case CAP_WEEK: /* weeks start on Monday; day 0 (1970-01-01) was a Thursday */
		*first = floor_div(day + 3, 7) * 7 - 3;
		*last = *first + 6;
		return;
	case CAP_MONTH: {
		time_t seconds = (time_t)(day * 86400);
		struct tm date;
		gmtime_r(&seconds, &date);
		date.tm_mday = 1;
		*first = (int64_t)timegm(&date) / 86400;
		date.tm_mon += 1;
		*last = (int64_t)timegm(&date) / 86400 - 1;
		return;
	}
	case CAP_YEAR: {
		time_t seconds = (time_t)(day * 86400);
		struct tm date;
		gmtime_r(&seconds, &date);
		date.tm_mday = 1;
		date.tm_mon = 0;
		*first = (int64_t)timegm(&date) / 86400;
		date.tm_year += 1;
		*last = (int64_t)timegm(&date) / 86400 - 1;
		return;
	}
	default:
		*first = INT64_MIN / 2;
		*last = INT64_MAX / 2;
		return;
	}
}

/* Adds to the (member, type, day) row: count, and the numbers of `numbers` (may be NULL) to its
 * sums. */
static int add_to_day(loyal_db *db, int64_t member, const char *type, int64_t day,
		      int64_t count, json_t *numbers)
{
	size_t n = 0;
	const char *key;
	json_t *value;
	json_object_foreach (numbers, key, value)
		n += json_is_number(value);
	if (n == 0) /* most rows */
		return ly_store_activity_add(db->store, member, type, day, count, NULL, 0);
	activity_number *sums = ly_mem_calloc(n, sizeof *sums);
	if (!sums)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory counting activity");
	size_t i = 0;
	json_object_foreach (numbers, key, value)
		if (json_is_number(value))
			sums[i++] = (activity_number){.name = key, .value = json_number_value(value),
						      .whole = json_is_integer(value)};
	int rc = ly_store_activity_add(db->store, member, type, day, count, sums, n);
	ly_mem_free(sums);
	return rc;
}

int ly_activity_record_event(member_view *view, const char *type, int64_t at, json_t *properties)
{
	return add_to_day(view->db, view->member->id, type, ly_member_view_day(view, at), 1,
			  properties);
}

int ly_activity_add_earned(loyal_db *db, member_row *member, const currency_def *currency,
			int64_t at, int64_t amount)
{
	char type[96];
	snprintf(type, sizeof type, "@earned:%s", currency->name);
	return ly_store_activity_add(db->store, member->id, type,
				     floor_div(at + ly_member_utc_offset(db, member), DAY_MS), amount,
				     NULL, 0);
}

/* ---- what criteria read ---- */

static criteria_value integer_value(int64_t value)
{
	criteria_value v = {.kind = CV_INT};
	v.as.integer = value;
	return v;
}

/* The first day measures may count: none before the view's counts_from. */
static int64_t first_counted_day(const member_view *view)
{
	return view->counts_from == INT64_MIN ? INT64_MIN / 2
					      : ly_member_view_day(view, view->counts_from);
}

/* The first day of a window that ends today (windows count whole local days, today included). */
static int64_t window_start(const member_view *view, int64_t window_ms)
{
	int64_t today = ly_member_view_day(view, view->now);
	int64_t first = first_counted_day(view);
	if (window_ms <= 0)
		return first;
	int64_t days = (window_ms + DAY_MS - 1) / DAY_MS;
	return today - days + 1 > first ? today - days + 1 : first;
}

static int streak(member_view *view, const char *type, int64_t unit_days, int freezes,
		  criteria_value *out)
{
	int64_t today = ly_member_view_day(view, view->now), first = first_counted_day(view);
	/* Units are days, or Monday-based weeks; the streak may still be alive from the previous
	 * unit when the current one has no activity yet. */
	int64_t expected = floor_div(today + (unit_days == 7 ? 3 : 0), unit_days);
	int64_t length = 0, to = today;
	size_t read = 0, page = STREAK_PAGE_DAYS;
	bool ended = false;
	int rc = LOYAL_OK;
	/* Active days are read newest first, a page at a time (pages grow), until the streak
	 * ends: a streak costs what it is long, not what the member's history is. */
	while (rc == LOYAL_OK && !ended && read < MAX_STREAK_DAYS) {
		size_t want = page < MAX_STREAK_DAYS - read ? page : MAX_STREAK_DAYS - read;
		int64_t *days = NULL;
		size_t count = 0;
		rc = ly_store_activity_days(view->db->store, view->member->id, type, to, want, &days, &count);
		for (size_t i = 0; rc == LOYAL_OK && i < count && !ended; i++) {
			if (days[i] < first) { /* before the window: as if nothing happened */
				ended = true;
				break;
			}
			int64_t unit = floor_div(days[i] + (unit_days == 7 ? 3 : 0), unit_days);
			if (length == 0 && unit == expected - 1)
				expected--;
			if (unit > expected)
				continue;
			/* A missed unit is forgiven while freezes last (badges may allow some). */
			int64_t missed = expected - unit;
			if (missed > 0 && (length == 0 || missed > freezes)) {
				ended = true;
				break;
			}
			freezes -= (int)missed;
			length++;
			expected = unit - 1;
		}
		ended |= count < want; /* no older days */
		if (count)
			to = days[count - 1] - 1;
		read += count;
		page *= 4;
		ly_mem_free(days);
	}
	*out = integer_value(length);
	return rc;
}

static int measure(void *ctx, const criteria_measure_request *request, criteria_value *out)
{
	member_view *view = ctx;
	loyal_db *db = view->db;
	int64_t today = ly_member_view_day(view, view->now);
	int64_t from = window_start(view, request->window_ms);
	*out = (criteria_value){.kind = CV_NULL};
	switch (request->kind) {
	case CM_COUNT: {
		int64_t count = 0;
		int rc = ly_store_activity_count(db->store, view->member->id, request->name, from, today,
					      &count);
		*out = integer_value(count);
		return rc;
	}
	case CM_ACTIVE_DAYS: {
		int64_t days = 0;
		int rc = ly_store_activity_day_count(db->store, view->member->id, request->name, from, today,
						  &days);
		*out = integer_value(days);
		return rc;
	}
	case CM_SUM: {
		double total = 0;
		int rc = ly_store_activity_sum(db->store, view->member->id, request->name,
					       request->property, from, today, &total);
		if (total == floor(total) && fabs(total) < 9e18) {
			*out = integer_value((int64_t)total);
		} else {
			out->kind = CV_DECIMAL;
			out->as.decimal = total;
		}
		return rc;
	}
	case CM_STREAK:
		return streak(view, request->name, request->window_ms, request->freezes, out);
	case CM_EARNED: {
		char type[96];
		snprintf(type, sizeof type, "@earned:%s", request->name);
		int64_t total = 0;
		int rc = ly_store_activity_count(db->store, view->member->id, type, from, today, &total);
		*out = integer_value(total);
		return rc;
	}
	case CM_BALANCE: {
		const currency_def *currency = NULL;
		int rc = ly_program_currency(db, request->name, &currency);
		account acc;
		if (rc == LOYAL_OK)
			rc = ly_account_load(db, view->member, currency, true, &acc);
		if (rc != LOYAL_OK)
			return rc;
		rc = ly_account_settle(&acc, view->now, NULL);
		*out = integer_value(acc.balance.available);
		ly_account_release(&acc);
		return rc;
	}
	default: { /* CM_DAYS_SINCE */
		if (strcmp(request->name, "last_seen") == 0 || strcmp(request->name, "joined") == 0) {
			int64_t since = strcmp(request->name, "joined") == 0 ? view->member->joined_at
									     : view->last_seen;
			*out = integer_value(floor_div(view->now - since, DAY_MS));
			return LOYAL_OK;
		}
		int64_t *days = NULL;
		size_t count = 0;
		int rc = ly_store_activity_days(db->store, view->member->id, request->name, today, 1, &days,
					     &count);
		if (rc == LOYAL_OK && count)
			*out = integer_value(today - days[0]);
		ly_mem_free(days);
		return rc;
	}
	}
}

static void from_json(json_t *value, criteria_value *out)
{
	*out = (criteria_value){.kind = CV_NULL};
	if (json_is_string(value)) {
		out->kind = CV_STRING;
		out->as.string = json_string_value(value);
	} else if (json_is_integer(value)) {
		out->kind = CV_INT;
		out->as.integer = json_integer_value(value);
	} else if (json_is_real(value)) {
		out->kind = CV_DECIMAL;
		out->as.decimal = json_real_value(value);
	} else if (json_is_boolean(value)) {
		out->kind = CV_BOOL;
		out->as.boolean = json_is_true(value);
	}
}

static int lookup(void *ctx, const char *scope, const char *name, criteria_value *out)
{
	member_view *view = ctx;
	*out = (criteria_value){.kind = CV_NULL};
	int rc;
	if (strcmp(scope, "event") == 0) {
		from_json(json_object_get(view->event, name), out);
	} else if (strcmp(scope, "local") == 0) {
		/* The moment (an event's time) in the member's time zone. */
		int64_t day = ly_member_view_day(view, view->now);
		int64_t ms = view->now + view->utc_offset_ms - day * DAY_MS;
		time_t seconds = (time_t)(day * 86400);
		struct tm date;
		gmtime_r(&seconds, &date);
		static const char *const weekdays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
		if (strcmp(name, "weekday") == 0) {
			out->kind = CV_STRING;
			out->as.string = weekdays[date.tm_wday];
		} else {
			*out = integer_value(strcmp(name, "hour") == 0     ? ms / 3600000
					     : strcmp(name, "minute") == 0 ? ms / 60000 % 60
					     : strcmp(name, "day") == 0    ? date.tm_mday
									   : date.tm_mon + 1);
		}
	} else if (strcmp(scope, "member") == 0 && strcmp(name, "age") == 0) {
		out->kind = CV_DURATION;
		out->as.integer = view->now - view->member->joined_at;
	} else if (strcmp(scope, "member") == 0) {
		json_t *attributes = NULL;
		rc = view_attributes(view, &attributes);
		if (rc != LOYAL_OK)
			return rc;
		from_json(json_object_get(attributes, name), out);
	} else if (view->tier < 0) {
		/* No tier (yet): the base rate, and no name or perks. */
		if (strcmp(name, "multiplier") == 0)
			*out = integer_value(1);
	} else {
		const tier_def *tier = &view->db->program->ladder.tiers[view->tier];
		if (!*name) {
			out->kind = CV_STRING;
			out->as.string = tier->name;
		} else if (strcmp(name, "multiplier") == 0) {
			out->kind = CV_DECIMAL;
			out->as.decimal = tier->multiplier;
		} else {
			rc = view->perks ? LOYAL_OK
					 : ly_json_parse_stored(&view->db->error, tier->perks, &view->perks,
							    "the perks of tier '%s'", tier->name);
			if (rc != LOYAL_OK)
				return rc;
			from_json(json_object_get(view->perks, name), out);
		}
	}
	return LOYAL_OK;
}

criteria_context ly_member_view_context(member_view *view)
{
	return (criteria_context){.ctx = view, .now = view->now, .measure = measure,
				  .lookup = lookup, .member_id = view->external_id};
}
