/* program.c - the program the engine runs: applying a document as a new version, storing,
 * loading and caching it, and what the engine asks of it (currencies, expiry times, reviews,
 * compiling its expressions). The document is parsed in document*.c. */
#define _DEFAULT_SOURCE /* timegm */
#include "criteria/criteria.h"
#include "engine/document.h"
#include "engine/program.h"
#include "engine/tiers.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static void rule_clear(rule_def *rule)
{
	ly_mem_free(rule->name);
	ly_mem_free(rule->event);
	ly_mem_free(rule->recipient);
	free(rule->definition); /* jansson's allocation */
	ly_criteria_free(rule->condition);
	for (size_t i = 0; i < rule->award_count; i++)
		ly_criteria_free(rule->awards[i].amount);
}

void ly_program_free(struct program *program)
{
	if (!program)
		return;
	for (size_t i = 0; i < program->ladder.count; i++) {
		ly_mem_free(program->ladder.tiers[i].name);
		free(program->ladder.tiers[i].perks); /* jansson's allocation */
		ly_mem_free(program->ladder.tiers[i].coupon_name);
		ly_criteria_free(program->ladder.tiers[i].entry);
		ly_criteria_free(program->ladder.tiers[i].retain);
	}
	for (size_t i = 0; i < program->currency_count; i++)
		ly_mem_free(program->currencies[i].name);
	for (size_t i = 0; i < program->rule_count; i++)
		rule_clear(&program->rules[i]);
	for (size_t i = 0; i < program->segment_count; i++) {
		ly_mem_free(program->segments[i].name);
		ly_criteria_free(program->segments[i].criterion);
	}
	ly_mem_free(program->segments);
	for (size_t i = 0; i < program->leaderboard_count; i++) {
		ly_mem_free(program->leaderboards[i].name);
		ly_mem_free(program->leaderboards[i].type);
		ly_mem_free(program->leaderboards[i].property);
		ly_criteria_free(program->leaderboards[i].scope);
	}
	ly_mem_free(program->leaderboards);
	for (size_t i = 0; i < program->badge_count; i++) {
		badge_def *badge = &program->badges[i];
		ly_mem_free(badge->name);
		for (size_t l = 0; l < badge->level_count; l++) {
			ly_mem_free(badge->levels[l].name);
			ly_criteria_free(badge->levels[l].criterion);
		}
		for (size_t t = 0; t < badge->type_count; t++)
			ly_mem_free(badge->types[t]);
		ly_mem_free(badge->types);
	}
	ly_mem_free(program->badges);
	for (size_t i = 0; i < program->reward_count; i++) {
		ly_mem_free(program->rewards[i].name);
		ly_mem_free(program->rewards[i].title);
		ly_criteria_free(program->rewards[i].eligible);
		free(program->rewards[i].data); /* jansson's allocation */
	}
	ly_mem_free(program->rewards);
	for (size_t i = 0; i < program->coupon_count; i++) {
		ly_mem_free(program->coupons[i].name);
		ly_mem_free(program->coupons[i].title);
		ly_criteria_free(program->coupons[i].eligible);
		free(program->coupons[i].value); /* jansson's allocation */
	}
	ly_mem_free(program->coupons);
	for (size_t i = 0; i < program->event_type_count; i++)
		ly_mem_free(program->event_types[i]);
	ly_mem_free(program->event_types);
	ly_mem_free(program->currencies);
	ly_mem_free(program->rules);
	ly_mem_free(program);
}

bool ly_program_parse_offset(const char *text, int64_t *offset_ms)
{
	*offset_ms = 0;
	if (strcmp(text, "UTC") == 0)
		return true;
	int hours, minutes;
	char sign, tail;
	if (strlen(text) == 6 && sscanf(text, "%c%2d:%2d%c", &sign, &hours, &minutes, &tail) == 3 &&
	    (sign == '+' || sign == '-') && hours >= 0 && hours <= 14 && minutes >= 0 &&
	    minutes < 60 && text[3] == ':') {
		*offset_ms = (sign == '-' ? -1 : 1) * ((int64_t)hours * 60 + minutes) * 60000;
		return true;
	}
	return false;
}

/* ---- compiling its expressions ---- */

static bool knows_currency(void *ctx, const char *name)
{
	const struct program *program = ctx;
	for (size_t i = 0; program && i < program->currency_count; i++)
		if (strcmp(program->currencies[i].name, name) == 0)
			return true;
	return false;
}

static bool knows_event(void *ctx, const char *type)
{
	return ly_program_knows_event(ctx, type);
}

int ly_program_compile_for(loyal_db *db, const struct program *program, const char *text,
			   struct criteria **out)
{
	criteria_names names = {.ctx = (void *)program, .knows_currency = knows_currency,
				.knows_event = knows_event};
	return ly_criteria_compile(&db->error, &names, text, out);
}

int ly_program_compile(loyal_db *db, const char *text, struct criteria **out)
{
	*out = NULL;
	int rc = ly_program_refresh(db); /* the names it may use are those of the current program */
	return rc == LOYAL_OK ? ly_program_compile_for(db, db->program, text, out) : rc;
}

bool ly_program_knows_event(const struct program *program, const char *type)
{
	if (!program || !program->events_declared)
		return true;
	for (size_t i = 0; i < program->event_type_count; i++)
		if (strcmp(program->event_types[i], type) == 0)
			return true;
	return false;
}

int ly_program_tier_index(const struct program *program, const char *name)
{
	for (size_t i = 0; program && name && i < program->ladder.count; i++)
		if (strcmp(program->ladder.tiers[i].name, name) == 0)
			return (int)i;
	return -1;
}

int64_t ly_program_next_review(const struct program *program, int64_t since)
{
	currency_def period = {.expiry = program->ladder.calendar ? EXPIRY_END_OF
								  : EXPIRY_AFTER_MONTHS,
			       .expiry_count = program->ladder.calendar ? 0
									: program->ladder.period_months,
			       .period_months = program->ladder.period_months};
	return ly_program_expiry(program, &period, since);
}

/* Loads the stored program (or an empty one) into a new struct. */
static int load_program(loyal_db *db, struct program **out)
{
	char *text = NULL;
	int64_t version = 0;
	int rc = ly_store_program_get(db->store, &text, &version);
	if (rc != LOYAL_OK)
		return rc;
	json_t *document = NULL;
	rc = text ? ly_json_parse_stored(&db->error, text, &document, "the stored program version %lld",
				     (long long)version)
	     : (document = json_object()) ? LOYAL_OK
					  : ly_db_fail(db, LOYAL_ENOMEM, "out of memory loading the program");
	ly_mem_free(text);
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_document_parse(db, document, out);
	json_decref(document);
	if (rc == LOYAL_EJSON) {
		char detail[sizeof db->error.message]; /* ly_db_fail writes where the detail is */
		snprintf(detail, sizeof detail, "%s", db->error.message);
		return ly_db_fail(db, LOYAL_ECORRUPT, "the stored program version %lld is invalid: %s",
			       (long long)version, detail);
	}
	if (rc != LOYAL_OK)
		return rc;
	(*out)->version = version;
	for (size_t i = 0; i < (*out)->currency_count && rc == LOYAL_OK; i++)
		rc = ly_store_currency_id(db->store, (*out)->currencies[i].name, false,
				       &(*out)->currencies[i].id);
	for (size_t i = 0; i < (*out)->rule_count && rc == LOYAL_OK; i++)
		rc = ly_store_rule_version(db->store, (*out)->rules[i].name, &(*out)->rules[i].version, NULL);
	if (rc != LOYAL_OK) {
		ly_program_free(*out);
		*out = NULL;
	}
	return rc;
}

int ly_program_refresh(loyal_db *db)
{
	int64_t version = 0;
	int rc = ly_store_program_version(db->store, &version);
	if (rc != LOYAL_OK || (db->program && db->program->version == version))
		return rc;
	struct program *fresh = NULL;
	rc = load_program(db, &fresh);
	if (rc != LOYAL_OK)
		return rc;
	ly_program_free(db->program);
	db->program = fresh;
	return LOYAL_OK;
}

static const currency_def *find_currency(const struct program *program, const char *name)
{
	for (size_t i = 0; program && i < program->currency_count; i++)
		if (strcmp(program->currencies[i].name, name) == 0)
			return &program->currencies[i];
	return NULL;
}

int ly_program_currency(loyal_db *db, const char *name, const currency_def **out)
{
	*out = find_currency(db->program, name);
	if (*out)
		return LOYAL_OK;
	int rc = ly_program_refresh(db);
	if (rc != LOYAL_OK)
		return rc;
	*out = find_currency(db->program, name);
	return *out ? LOYAL_OK
		    : ly_db_fail(db, LOYAL_ENOTFOUND, "no currency named '%s' in program version %lld",
			      name, (long long)(db->program ? db->program->version : 0));
}

static const reward_def *find_reward(const struct program *program, const char *name)
{
	for (size_t i = 0; program && i < program->reward_count; i++)
		if (strcmp(program->rewards[i].name, name) == 0)
			return &program->rewards[i];
	return NULL;
}

int ly_program_reward(loyal_db *db, const char *name, const reward_def **out)
{
	int rc = ly_program_refresh(db);
	*out = rc == LOYAL_OK ? find_reward(db->program, name) : NULL;
	if (rc == LOYAL_OK && !*out)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no reward named '%s' in program version %lld",
				name, (long long)(db->program ? db->program->version : 0));
	return rc;
}

int ly_program_coupon(loyal_db *db, const char *name, const coupon_def **out)
{
	int rc = ly_program_refresh(db);
	*out = NULL;
	for (size_t i = 0; rc == LOYAL_OK && db->program && i < db->program->coupon_count; i++)
		if (strcmp(db->program->coupons[i].name, name) == 0)
			*out = &db->program->coupons[i];
	if (rc == LOYAL_OK && !*out)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no coupon named '%s' in program version %lld",
				name, (long long)(db->program ? db->program->version : 0));
	return rc;
}

const currency_def *ly_program_currency_by_id(loyal_db *db, int64_t id)
{
	for (size_t i = 0; db->program && i < db->program->currency_count; i++)
		if (db->program->currencies[i].id == id)
			return &db->program->currencies[i];
	return NULL;
}

/* ---- expiry times ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Unix milliseconds of the first instant of month `month` (0-based, may exceed 11) of `year`. */
static int64_t month_start_ms(int64_t year, int64_t month)
{
	struct tm date = {.tm_year = (int)(year + floor_div(month, 12) - 1900),
			  .tm_mon = (int)(month - floor_div(month, 12) * 12),
			  .tm_mday = 1};
	return (int64_t)timegm(&date) * 1000;
}

int64_t ly_program_expiry(const struct program *program, const currency_def *currency,
		       int64_t earned_at)
{
	int64_t local = earned_at + program->utc_offset_ms;
	switch (currency->expiry) {
	case EXPIRY_AFTER_DAYS:
		return earned_at > INT64_MAX - currency->expiry_count * DAY_MS
			       ? INT64_MAX
			       : earned_at + currency->expiry_count * DAY_MS;
	case EXPIRY_AFTER_MONTHS:
	case EXPIRY_END_OF: {
		time_t seconds = (time_t)floor_div(local, 1000);
		struct tm date;
		if (!gmtime_r(&seconds, &date))
			return INT64_MAX;
		int64_t year = date.tm_year + 1900;
		if (currency->expiry == EXPIRY_END_OF) {
			int64_t period_start = date.tm_mon / currency->period_months *
					       currency->period_months;
			int64_t boundary = period_start +
					   (currency->expiry_count + 1) * currency->period_months;
			return month_start_ms(year, boundary) - program->utc_offset_ms;
		}
		/* The same day of the month N months later, or that month's last day. */
		int64_t month = date.tm_mon + currency->expiry_count;
		int64_t days_in_month = (month_start_ms(year, month + 1) -
					 month_start_ms(year, month)) / DAY_MS;
		int64_t day = date.tm_mday < days_in_month ? date.tm_mday : days_in_month;
		int64_t time_of_day = local - floor_div(local, DAY_MS) * DAY_MS;
		return month_start_ms(year, month) + (day - 1) * DAY_MS + time_of_day -
		       program->utc_offset_ms;
	}
	default:
		return INT64_MAX;
	}
}


/* Currencies named by the stored program must stay: their points exist. */
static int check_nothing_removed(loyal_db *db, const struct program *next)
{
	for (size_t i = 0; db->program && i < db->program->currency_count; i++) {
		const char *name = db->program->currencies[i].name;
		if (!find_currency(next, name))
			return ly_db_fail(db, LOYAL_EJSON,
				       "program: currencies: '%s' is missing; a currency cannot be "
				       "removed once defined",
				       name);
	}
	return LOYAL_OK;
}

int ly_program_apply_document(loyal_db *db, json_t *document, int64_t *out_version)
{
	int rc = ly_program_refresh(db);
	if (rc != LOYAL_OK)
		return rc;
	struct program *next = NULL;
	rc = ly_document_parse(db, document, &next);
	if (rc == LOYAL_OK)
		rc = check_nothing_removed(db, next);
	char *canonical = NULL;
	if (rc == LOYAL_OK) {
		canonical = json_dumps(document, JSON_COMPACT | JSON_SORT_KEYS);
		if (!canonical)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory saving the program");
	}
	char *current = NULL;
	int64_t version = 0;
	if (rc == LOYAL_OK)
		rc = ly_store_program_get(db->store, &current, &version);
	if (rc == LOYAL_OK && !(current && strcmp(current, canonical) == 0)) {
		for (size_t i = 0; i < next->currency_count && rc == LOYAL_OK; i++)
			rc = ly_store_currency_id(db->store, next->currencies[i].name, true,
					       &next->currencies[i].id);
		if (rc == LOYAL_OK)
			rc = ly_store_program_put(db->store, canonical, ly_db_now(db), &version);
		for (size_t i = 0; i < next->rule_count && rc == LOYAL_OK; i++) {
			char *stored = NULL;
			int64_t rule_version = 0;
			rc = ly_store_rule_version(db->store, next->rules[i].name, &rule_version, &stored);
			if (rc == LOYAL_OK && !(stored && strcmp(stored, next->rules[i].definition) == 0))
				rc = ly_store_rule_put(db->store, next->rules[i].name, version,
						    next->rules[i].definition);
			ly_mem_free(stored);
		}
		/* A ladder applied with "on_change": "reevaluate" moves everyone now. */
		if (rc == LOYAL_OK && next->ladder.reevaluate) {
			ly_program_free(db->program);
			db->program = NULL;
			rc = ly_program_refresh(db);
			if (rc == LOYAL_OK)
				rc = ly_tiers_reevaluate_all(db, ly_db_now(db));
		}
	}
	ly_mem_free(current);
	free(canonical); /* jansson's allocation */
	ly_program_free(next);
	if (rc == LOYAL_OK && out_version)
		*out_version = version;
	return rc;
}
