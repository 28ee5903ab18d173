/* document.c - reading the program document: the checks every part shares (known keys, names,
 * counts, instants, windows, expressions), currencies, event types, the time zone, and the
 * whole document. */
#define _DEFAULT_SOURCE /* timegm */
#include "criteria/criteria.h"
#include "engine/document.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ly_document_error(loyal_db *db, const char *path, const char *problem)
{
	return ly_db_fail(db, LOYAL_EJSON, "program: %s: %s", path, problem);
}

/* Fails on any key of `object` not in the NULL-terminated list `allowed`. */
int ly_document_check_keys(loyal_db *db, json_t *object, const char *path, const char *const *allowed)
{
	const char *key;
	json_t *value;
	json_object_foreach (object, key, value) {
		bool known = false;
		for (const char *const *name = allowed; *name && !known; name++)
			known = strcmp(*name, key) == 0;
		if (!known)
			return ly_db_fail(db, LOYAL_EJSON, "program: %s: unknown key '%s'", path, key);
	}
	return LOYAL_OK;
}

bool ly_document_valid_name(const char *name)
{
	return ly_text_is_name(name, MAX_NAME_LENGTH, false);
}

/* Reads a whole number in [minimum, maximum] from object[key]. */
int ly_document_count(loyal_db *db, json_t *object, const char *key, const char *path,
		      int64_t minimum, int64_t maximum, int64_t *out)
{
	json_t *value = json_object_get(object, key);
	json_int_t number = json_is_integer(value) ? json_integer_value(value) : minimum - 1;
	if (number < minimum || number > maximum)
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.%s: must be a whole number from %lld to %lld",
			       path, key, (long long)minimum, (long long)maximum);
	*out = number;
	return LOYAL_OK;
}

bool ly_document_valid_type(const char *name)
{
	return ly_text_is_name(name, MAX_NAME_LENGTH, true);
}

int ly_document_copy_text(loyal_db *db, const char *text, char **out)
{
	*out = ly_mem_strdup(text);
	return *out ? LOYAL_OK : ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
}

int ly_document_name(loyal_db *db, json_t *object, const char *path, char **out)
{
	json_t *name = json_object_get(object, "name");
	if (!json_is_string(name) || !ly_document_valid_name(json_string_value(name)))
		return ly_db_fail(db, LOYAL_EJSON,
				  "program: %s.name: must be 1-%d characters of a-z, 0-9, _ and -",
				  path, MAX_NAME_LENGTH);
	return ly_document_copy_text(db, json_string_value(name), out);
}

/* Compiles an expression of a rule, prefixing its errors with the field's path. */
int ly_document_compile(loyal_db *db, const struct program *program, json_t *value,
			 const char *path, bool boolean, struct criteria **out)
{
	if (!json_is_string(value))
		return ly_db_fail(db, LOYAL_EJSON, "program: %s: must be an expression string", path);
	int rc = ly_program_compile_for(db, program, json_string_value(value), out);
	if (rc == LOYAL_ESYNTAX) {
		char detail[sizeof db->error.message];
		snprintf(detail, sizeof detail, "%s", db->error.message);
		return ly_db_fail(db, LOYAL_EJSON, "program: %s: %s", path, detail);
	}
	if (rc != LOYAL_OK)
		return rc;
	enum criteria_type type = ly_criteria_result_type(*out);
	bool fits = type == CT_ANY || (boolean ? type == CT_BOOL
					       : type == CT_INT || type == CT_DECIMAL ||
							 type == CT_NUMBER);
	if (fits)
		return LOYAL_OK;
	ly_criteria_free(*out);
	*out = NULL;
	return ly_db_fail(db, LOYAL_EJSON, "program: %s: must give %s, not %s", path,
		       boolean ? "a boolean" : "a number", ly_criteria_type_name(type));
}

/* An instant: Unix milliseconds, or "YYYY-MM-DDTHH:MM:SSZ". */
int ly_document_instant(loyal_db *db, json_t *value, const char *path, int64_t *out)
{
	if (json_is_integer(value) && json_integer_value(value) >= 0) {
		*out = json_integer_value(value);
		return LOYAL_OK;
	}
	struct tm date = {0};
	char zone = 0, tail = 0;
	const char *text = json_is_string(value) ? json_string_value(value) : "";
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%c%c", &date.tm_year, &date.tm_mon, &date.tm_mday,
		   &date.tm_hour, &date.tm_min, &date.tm_sec, &zone, &tail) == 7 && zone == 'Z' &&
	    date.tm_mon >= 1 && date.tm_mon <= 12 && date.tm_mday >= 1 && date.tm_mday <= 31 &&
	    date.tm_hour < 24 && date.tm_min < 60 && date.tm_sec < 61 && date.tm_year >= 1970) {
		date.tm_year -= 1900;
		date.tm_mon -= 1;
		*out = (int64_t)timegm(&date) * 1000;
		return LOYAL_OK;
	}
	return ly_db_fail(db, LOYAL_EJSON,
		       "program: %s: must be Unix milliseconds or \"YYYY-MM-DDTHH:MM:SSZ\"", path);
}

/* An optional active window {"from": t, "until": t} of a rule or badge at `owner`.active; open
 * ends are INT64_MIN and INT64_MAX. */
int ly_document_window(loyal_db *db, json_t *active, const char *owner, int64_t *from,
			int64_t *until)
{
	*from = INT64_MIN;
	*until = INT64_MAX;
	if (!active)
		return LOYAL_OK;
	char at[128];
	snprintf(at, sizeof at, "%.100s.active", owner);
	static const char *const keys[] = {"from", "until", NULL};
	int rc = json_is_object(active) ? ly_document_check_keys(db, active, at, keys)
					: ly_document_error(db, at, "must be an object with from and/or until");
	if (rc == LOYAL_OK && json_object_get(active, "from"))
		rc = ly_document_instant(db, json_object_get(active, "from"), at, from);
	if (rc == LOYAL_OK && json_object_get(active, "until"))
		rc = ly_document_instant(db, json_object_get(active, "until"), at, until);
	if (rc == LOYAL_OK && *from >= *until)
		rc = ly_document_error(db, at, "from must come before until");
	return rc;
}

static int parse_expiry(loyal_db *db, json_t *expiry, const char *path, currency_def *currency)
{
	currency->expiry = EXPIRY_NEVER;
	if (!expiry || (json_is_string(expiry) && strcmp(json_string_value(expiry), "never") == 0))
		return LOYAL_OK;
	if (!json_is_object(expiry) || json_object_size(expiry) == 0)
		return ly_document_error(db, path, "must be \"never\" or an object such as {\"after_days\": 365}");
	static const char *const keys[] = {"after_days", "after_months", "end_of", "periods",
					   "inactive_days", NULL};
	int rc = ly_document_check_keys(db, expiry, path, keys);
	if (rc != LOYAL_OK)
		return rc;
	json_t *end_of = json_object_get(expiry, "end_of");
	size_t kinds = (json_object_get(expiry, "after_days") != NULL) +
		       (json_object_get(expiry, "after_months") != NULL) + (end_of != NULL) +
		       (json_object_get(expiry, "inactive_days") != NULL);
	if (kinds != 1)
		return ly_document_error(db, path, "needs exactly one of after_days, after_months, end_of, "
					    "inactive_days");
	if (json_object_get(expiry, "periods") && !end_of)
		return ly_document_error(db, path, "periods goes with end_of");
	if (json_object_get(expiry, "after_days")) {
		currency->expiry = EXPIRY_AFTER_DAYS;
		return ly_document_count(db, expiry, "after_days", path, 1, 100000, &currency->expiry_count);
	}
	if (json_object_get(expiry, "after_months")) {
		currency->expiry = EXPIRY_AFTER_MONTHS;
		return ly_document_count(db, expiry, "after_months", path, 1, 1200, &currency->expiry_count);
	}
	if (json_object_get(expiry, "inactive_days")) {
		currency->expiry = EXPIRY_INACTIVITY;
		return ly_document_count(db, expiry, "inactive_days", path, 1, 100000,
				  &currency->expiry_count);
	}
	const char *period = json_is_string(end_of) ? json_string_value(end_of) : "";
	currency->expiry = EXPIRY_END_OF;
	currency->period_months = strcmp(period, "month") == 0     ? 1
				  : strcmp(period, "quarter") == 0 ? 3
				  : strcmp(period, "year") == 0    ? 12
								   : 0;
	if (!currency->period_months)
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.end_of: must be \"month\", \"quarter\" or \"year\"", path);
	currency->expiry_count = 0;
	return json_object_get(expiry, "periods")
		       ? ly_document_count(db, expiry, "periods", path, 0, 1200, &currency->expiry_count)
		       : LOYAL_OK;
}

static int parse_currency(loyal_db *db, json_t *object, const char *path, currency_def *currency)
{
	if (!json_is_object(object))
		return ly_document_error(db, path, "must be an object");
	static const char *const keys[] = {"name", "spendable", "expiry", "clawback", NULL};
	int rc = ly_document_check_keys(db, object, path, keys);
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_document_name(db, object, path, &currency->name);
	if (rc != LOYAL_OK)
		return rc;
	if (strcmp(currency->name, "coupon") == 0) /* a rule's award "coupon" names a coupon */
		return ly_document_error(db, path, "name 'coupon' is kept for the coupons rules award");
	json_t *spendable = json_object_get(object, "spendable");
	if (spendable && !json_is_boolean(spendable))
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.spendable: must be true or false", path);
	currency->spendable = !spendable || json_is_true(spendable);
	json_t *clawback = json_object_get(object, "clawback");
	const char *policy = clawback ? (json_is_string(clawback) ? json_string_value(clawback) : "")
				      : "negative";
	if (strcmp(policy, "negative") == 0)
		currency->clawback = CLAWBACK_NEGATIVE;
	else if (strcmp(policy, "zero") == 0)
		currency->clawback = CLAWBACK_ZERO;
	else if (strcmp(policy, "pending_only") == 0)
		currency->clawback = CLAWBACK_PENDING_ONLY;
	else
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.clawback: must be \"negative\", \"zero\" or \"pending_only\"",
			       path);
	char expiry_path[96];
	snprintf(expiry_path, sizeof expiry_path, "%s.expiry", path);
	return parse_expiry(db, json_object_get(object, "expiry"), expiry_path, currency);
}

static int parse_timezone(loyal_db *db, json_t *zone, int64_t *offset_ms)
{
	*offset_ms = 0;
	if (!zone || (json_is_string(zone) && ly_program_parse_offset(json_string_value(zone), offset_ms)))
		return LOYAL_OK;
	return ly_document_error(db, "timezone", "must be \"UTC\" or an offset such as \"+08:00\"");
}

/* "events": the event types the program reads, so that a misspelt one (in a rule, an
 * expression or a tracked event) is an error rather than silently nothing. */
static int parse_events(loyal_db *db, json_t *events, struct program *program)
{
	if (!events)
		return LOYAL_OK;
	if (!json_is_array(events) || json_array_size(events) > MAX_RULES)
		return ly_db_fail(db, LOYAL_EJSON, "program: events: must be an array of at most %d "
						"event types", MAX_RULES);
	program->events_declared = true;
	program->event_types = ly_mem_calloc(json_array_size(events) + 1, sizeof(char *));
	if (!program->event_types)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(events) && rc == LOYAL_OK; i++) {
		json_t *type = json_array_get(events, i);
		if (!json_is_string(type) || !ly_document_valid_type(json_string_value(type)))
			return ly_db_fail(db, LOYAL_EJSON,
				       "program: events[%zu]: must be an event type: 1-%d characters "
				       "of a-z, 0-9, _, - and .",
				       i, MAX_NAME_LENGTH);
		if (ly_program_knows_event(program, json_string_value(type)))
			return ly_db_fail(db, LOYAL_EJSON, "program: events[%zu]: '%s' is listed twice",
				       i, json_string_value(type));
		rc = ly_document_copy_text(db, json_string_value(type),
			       &program->event_types[program->event_type_count]);
		if (rc == LOYAL_OK)
			program->event_type_count++;
	}
	return rc;
}

/* "outbox": {"postings": [currency...], "retention_days": N}: whose postings are announced,
 * and how long acknowledged happenings are kept (7 days unless said). */
static int parse_outbox(loyal_db *db, json_t *outbox, struct program *program)
{
	program->outbox_retention_ms = 7 * DAY_MS;
	if (!outbox)
		return LOYAL_OK;
	if (!json_is_object(outbox))
		return ly_document_error(db, "outbox", "must be an object");
	static const char *const keys[] = {"postings", "retention_days", NULL};
	int rc = ly_document_check_keys(db, outbox, "outbox", keys);
	int64_t days = 7;
	if (rc == LOYAL_OK && json_object_get(outbox, "retention_days"))
		rc = ly_document_count(db, outbox, "retention_days", "outbox", 0, 36500, &days);
	program->outbox_retention_ms = days * DAY_MS;
	json_t *postings = json_object_get(outbox, "postings");
	if (rc == LOYAL_OK && postings && !json_is_array(postings))
		return ly_document_error(db, "outbox.postings", "must be an array of currencies");
	size_t i;
	json_t *name;
	json_array_foreach (postings, i, name) {
		size_t c = 0;
		while (c < program->currency_count &&
		       !(json_is_string(name) &&
			 strcmp(program->currencies[c].name, json_string_value(name)) == 0))
			c++;
		if (c == program->currency_count)
			return ly_db_fail(db, LOYAL_EJSON,
					  "program: outbox.postings[%zu]: must name a currency of the "
					  "program",
					  i);
		program->currencies[c].announce_postings = true;
	}
	return rc;
}

/* "notices": {"expiring_days": [30, 7], "tier_at_risk_days": 14}. */
static int parse_notices(loyal_db *db, json_t *notices, struct program *program)
{
	if (!notices)
		return LOYAL_OK;
	if (!json_is_object(notices))
		return ly_document_error(db, "notices", "must be an object");
	static const char *const keys[] = {"expiring_days", "tier_at_risk_days", NULL};
	int rc = ly_document_check_keys(db, notices, "notices", keys);
	if (rc == LOYAL_OK && json_object_get(notices, "tier_at_risk_days"))
		rc = ly_document_count(db, notices, "tier_at_risk_days", "notices", 1, 366,
				       &program->tier_at_risk_days);
	json_t *days = json_object_get(notices, "expiring_days");
	if (rc != LOYAL_OK || !days)
		return rc;
	if (!json_is_array(days) || !json_array_size(days) ||
	    json_array_size(days) > NOTICE_THRESHOLDS)
		return ly_db_fail(db, LOYAL_EJSON,
				  "program: notices.expiring_days: must be an array of 1 to %d "
				  "numbers of days, largest first",
				  NOTICE_THRESHOLDS);
	for (size_t i = 0; i < json_array_size(days); i++) {
		json_t *day = json_array_get(days, i);
		json_int_t n = json_is_integer(day) ? json_integer_value(day) : 0;
		if (n < 1 || n > 366 || (i && n >= program->expiring_days[i - 1]))
			return ly_db_fail(db, LOYAL_EJSON,
					  "program: notices.expiring_days[%zu]: must be a whole number "
					  "of days from 1 to 366, smaller than the one before",
					  i);
		program->expiring_days[program->expiring_day_count++] = n;
	}
	return LOYAL_OK;
}

/* Parses and checks a whole document into *out (owned by the caller). */
int ly_document_parse(loyal_db *db, json_t *document, struct program **out)
{
	*out = NULL;
	if (!json_is_object(document))
		return ly_document_error(db, "(document)", "must be a JSON object");
	static const char *const keys[] = {"currencies", "events",   "rules",   "tiers", "segments",
					   "badges",     "timezone", "rewards", "coupons", "leaderboards",
					   "outbox",     "notices", NULL};
	int rc = ly_document_check_keys(db, document, "(document)", keys);
	if (rc != LOYAL_OK)
		return rc;
	json_t *currencies = json_object_get(document, "currencies");
	if (currencies && !json_is_array(currencies))
		return ly_document_error(db, "currencies", "must be an array");
	size_t count = json_array_size(currencies);
	if (count > MAX_CURRENCIES)
		return ly_db_fail(db, LOYAL_EJSON, "program: currencies: at most %d are allowed",
			       MAX_CURRENCIES);
	struct program *program = ly_mem_calloc(1, sizeof *program);
	if (program)
		program->currencies = ly_mem_calloc(count, sizeof *program->currencies);
	if (!program || !program->currencies) {
		ly_program_free(program);
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	}
	rc = parse_timezone(db, json_object_get(document, "timezone"), &program->utc_offset_ms);
	for (size_t i = 0; i < count && rc == LOYAL_OK; i++) {
		char path[32];
		snprintf(path, sizeof path, "currencies[%zu]", i);
		rc = parse_currency(db, json_array_get(currencies, i), path,
				    &program->currencies[i]);
		program->currency_count = i + 1;
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->currencies[j].name, program->currencies[i].name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already defined by "
					     "currencies[%zu]",
					     path, program->currencies[i].name, j);
	}
	if (rc == LOYAL_OK)
		rc = parse_outbox(db, json_object_get(document, "outbox"), program);
	if (rc == LOYAL_OK)
		rc = parse_notices(db, json_object_get(document, "notices"), program);
	if (rc == LOYAL_OK)
		rc = parse_events(db, json_object_get(document, "events"), program);
	if (rc == LOYAL_OK)
		rc = ly_document_tiers(db, json_object_get(document, "tiers"), program);
	/* Coupons before the rules and rewards that issue them. */
	if (rc == LOYAL_OK)
		rc = ly_document_coupons(db, json_object_get(document, "coupons"), program);
	if (rc == LOYAL_OK)
		rc = ly_document_tier_coupons(db, program);
	if (rc == LOYAL_OK)
		rc = ly_document_rules(db, json_object_get(document, "rules"), program);
	if (rc == LOYAL_OK)
		rc = ly_document_segments(db, json_object_get(document, "segments"), program);
	if (rc == LOYAL_OK)
		rc = ly_document_leaderboards(db, json_object_get(document, "leaderboards"), program);
	if (rc == LOYAL_OK)
		rc = ly_document_badges(db, json_object_get(document, "badges"), program);
	if (rc == LOYAL_OK)
		rc = ly_document_rewards(db, json_object_get(document, "rewards"), program);
	if (rc != LOYAL_OK) {
		ly_program_free(program);
		return rc;
	}
	*out = program;
	return LOYAL_OK;
}

int ly_document_award(loyal_db *db, const struct program *program, json_t *award,
		      const char *path, constant_award *out)
{
	out->count = 0;
	if (!award)
		return LOYAL_OK;
	if (!json_is_object(award) || json_object_size(award) > RULE_MAX_AWARDS)
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.award: must map currencies to points",
				  path);
	const char *currency;
	json_t *amount;
	json_object_foreach (award, currency, amount) {
		size_t index = 0;
		while (index < program->currency_count &&
		       strcmp(program->currencies[index].name, currency) != 0)
			index++;
		if (index == program->currency_count)
			return ly_db_fail(db, LOYAL_EJSON, "program: %s.award: no currency '%s'", path,
					  currency);
		if (!json_is_integer(amount) || json_integer_value(amount) <= 0)
			return ly_db_fail(db, LOYAL_EJSON,
					  "program: %s.award.%s: must be a positive whole number", path,
					  currency);
		out->currencies[out->count] = index;
		out->amounts[out->count++] = json_integer_value(amount);
	}
	return LOYAL_OK;
}
