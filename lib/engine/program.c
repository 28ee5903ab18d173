/* program.c - applying, storing and caching the program document. */
#define _DEFAULT_SOURCE /* timegm */
#include "criteria/criteria.h"
#include "engine/program.h"
#include "engine/tiers.h"
#include "store/store.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROGRAM_BYTES (4 * 1024 * 1024)
#define MAX_CURRENCIES 64
#define MAX_RULES 256
#define MAX_NAME_LENGTH 64
#define DAY_MS INT64_C(86400000)

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
	for (size_t i = 0; i < program->event_type_count; i++)
		ly_mem_free(program->event_types[i]);
	ly_mem_free(program->event_types);
	ly_mem_free(program->currencies);
	ly_mem_free(program->rules);
	ly_mem_free(program);
}

static int json_error(loyal_db *db, const char *path, const char *problem)
{
	return ly_db_fail(db, LOYAL_EJSON, "program: %s: %s", path, problem);
}

/* Fails on any key of `object` not in the NULL-terminated list `allowed`. */
static int check_keys(loyal_db *db, json_t *object, const char *path, const char *const *allowed)
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

static bool valid_name(const char *name)
{
	size_t length = strlen(name);
	if (length == 0 || length > MAX_NAME_LENGTH)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return false;
	return true;
}

/* Reads a whole number in [minimum, maximum] from object[key]. */
static int read_count(loyal_db *db, json_t *object, const char *key, const char *path,
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

static int parse_expiry(loyal_db *db, json_t *expiry, const char *path, currency_def *currency)
{
	currency->expiry = EXPIRY_NEVER;
	if (!expiry || (json_is_string(expiry) && strcmp(json_string_value(expiry), "never") == 0))
		return LOYAL_OK;
	if (!json_is_object(expiry) || json_object_size(expiry) == 0)
		return json_error(db, path, "must be \"never\" or an object such as {\"after_days\": 365}");
	static const char *const keys[] = {"after_days", "after_months", "end_of", "periods",
					   "inactive_days", NULL};
	int rc = check_keys(db, expiry, path, keys);
	if (rc != LOYAL_OK)
		return rc;
	json_t *end_of = json_object_get(expiry, "end_of");
	size_t kinds = (json_object_get(expiry, "after_days") != NULL) +
		       (json_object_get(expiry, "after_months") != NULL) + (end_of != NULL) +
		       (json_object_get(expiry, "inactive_days") != NULL);
	if (kinds != 1)
		return json_error(db, path, "needs exactly one of after_days, after_months, end_of, "
					    "inactive_days");
	if (json_object_get(expiry, "periods") && !end_of)
		return json_error(db, path, "periods goes with end_of");
	if (json_object_get(expiry, "after_days")) {
		currency->expiry = EXPIRY_AFTER_DAYS;
		return read_count(db, expiry, "after_days", path, 1, 100000, &currency->expiry_count);
	}
	if (json_object_get(expiry, "after_months")) {
		currency->expiry = EXPIRY_AFTER_MONTHS;
		return read_count(db, expiry, "after_months", path, 1, 1200, &currency->expiry_count);
	}
	if (json_object_get(expiry, "inactive_days")) {
		currency->expiry = EXPIRY_INACTIVITY;
		return read_count(db, expiry, "inactive_days", path, 1, 100000,
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
		       ? read_count(db, expiry, "periods", path, 0, 1200, &currency->expiry_count)
		       : LOYAL_OK;
}

static int parse_currency(loyal_db *db, json_t *object, const char *path, currency_def *currency)
{
	if (!json_is_object(object))
		return json_error(db, path, "must be an object");
	static const char *const keys[] = {"name", "spendable", "expiry", "clawback", NULL};
	int rc = check_keys(db, object, path, keys);
	if (rc != LOYAL_OK)
		return rc;
	json_t *name = json_object_get(object, "name");
	if (!json_is_string(name) || !valid_name(json_string_value(name)))
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.name: must be 1-%d characters of a-z, 0-9, _ and -", path,
			       MAX_NAME_LENGTH);
	currency->name = ly_mem_strdup(json_string_value(name));
	if (!currency->name)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
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

static int parse_timezone(loyal_db *db, json_t *zone, int64_t *offset_ms)
{
	*offset_ms = 0;
	if (!zone || (json_is_string(zone) && ly_program_parse_offset(json_string_value(zone), offset_ms)))
		return LOYAL_OK;
	return json_error(db, "timezone", "must be \"UTC\" or an offset such as \"+08:00\"");
}

/* ---- rules ---- */

static bool valid_type(const char *name)
{
	size_t length = strlen(name);
	if (length == 0 || length > MAX_NAME_LENGTH)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '-' || *c == '.'))
			return false;
	return true;
}

static int copy_text(loyal_db *db, const char *text, char **out)
{
	*out = ly_mem_strdup(text);
	return *out ? LOYAL_OK : ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
}

/* Compiles an expression of a rule, prefixing its errors with the field's path. */
static int compile_field(loyal_db *db, const struct program *program, json_t *value,
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
static int parse_instant(loyal_db *db, json_t *value, const char *path, int64_t *out)
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
static int parse_window(loyal_db *db, json_t *active, const char *owner, int64_t *from,
			int64_t *until)
{
	*from = INT64_MIN;
	*until = INT64_MAX;
	if (!active)
		return LOYAL_OK;
	char at[128];
	snprintf(at, sizeof at, "%.100s.active", owner);
	static const char *const keys[] = {"from", "until", NULL};
	int rc = json_is_object(active) ? check_keys(db, active, at, keys)
					: json_error(db, at, "must be an object with from and/or until");
	if (rc == LOYAL_OK && json_object_get(active, "from"))
		rc = parse_instant(db, json_object_get(active, "from"), at, from);
	if (rc == LOYAL_OK && json_object_get(active, "until"))
		rc = parse_instant(db, json_object_get(active, "until"), at, until);
	if (rc == LOYAL_OK && *from >= *until)
		rc = json_error(db, at, "from must come before until");
	return rc;
}

static int parse_caps(loyal_db *db, json_t *caps, const char *path, rule_def *rule)
{
	if (!caps)
		return LOYAL_OK;
	if (!json_is_array(caps) || json_array_size(caps) > RULE_MAX_CAPS)
		return ly_db_fail(db, LOYAL_EJSON, "program: %s: must be an array of at most %d caps",
			       path, RULE_MAX_CAPS);
	size_t index;
	json_t *cap;
	json_array_foreach (caps, index, cap) {
		char at[128];
		snprintf(at, sizeof at, "%.100s[%zu]", path, index);
		static const char *const keys[] = {"per", "awards", "points", NULL};
		if (!json_is_object(cap))
			return json_error(db, at, "must be an object such as {\"per\": \"day\", \"awards\": 1}");
		int rc = check_keys(db, cap, at, keys);
		if (rc != LOYAL_OK)
			return rc;
		json_t *per = json_object_get(cap, "per");
		const char *period = json_is_string(per) ? json_string_value(per) : "";
		rule_cap *out = &rule->caps[rule->cap_count++];
		out->per = strcmp(period, "day") == 0     ? CAP_DAY
			   : strcmp(period, "week") == 0  ? CAP_WEEK
			   : strcmp(period, "month") == 0 ? CAP_MONTH
							  : CAP_EVER;
		if (out->per == CAP_EVER && strcmp(period, "ever") != 0)
			return ly_db_fail(db, LOYAL_EJSON,
				       "program: %s.per: must be \"day\", \"week\", \"month\" or \"ever\"",
				       at);
		bool awards = json_object_get(cap, "awards"), points = json_object_get(cap, "points");
		if (awards == points)
			return json_error(db, at, "needs exactly one of awards, points");
		rc = read_count(db, cap, awards ? "awards" : "points", at, 1, INT64_MAX,
				awards ? &out->awards : &out->points);
		if (rc != LOYAL_OK)
			return rc;
	}
	return LOYAL_OK;
}

/* One award of a rule: "currency": "expression", or "currency": {"amount": "expression",
 * "pending_days": N} (0: active at once) where it differs from the rule's default. */
static int parse_award(loyal_db *db, const struct program *program, const char *currency,
		       json_t *value, const char *at, int64_t default_pending_ms, rule_award *slot)
{
	for (slot->currency = 0; slot->currency < program->currency_count; slot->currency++)
		if (strcmp(program->currencies[slot->currency].name, currency) == 0)
			break;
	if (slot->currency == program->currency_count)
		return ly_db_fail(db, LOYAL_EJSON, "program: %s: no currency '%s'", at, currency);
	slot->pending_ms = default_pending_ms;
	if (!json_is_object(value))
		return compile_field(db, program, value, at, false, &slot->amount);
	static const char *const keys[] = {"amount", "pending_days", NULL};
	int rc = check_keys(db, value, at, keys);
	char amount_at[128];
	snprintf(amount_at, sizeof amount_at, "%.100s.amount", at);
	if (rc == LOYAL_OK && !json_object_get(value, "amount"))
		rc = json_error(db, at, "needs amount, an expression");
	int64_t days = 0;
	if (rc == LOYAL_OK && json_object_get(value, "pending_days")) {
		rc = read_count(db, value, "pending_days", at, 0, 3650, &days);
		slot->pending_ms = days * DAY_MS;
	}
	if (rc == LOYAL_OK)
		rc = compile_field(db, program, json_object_get(value, "amount"), amount_at, false,
				   &slot->amount);
	return rc;
}

static int parse_rule_fields(loyal_db *db, const struct program *program, json_t *object,
			     const char *path, rule_def *rule)
{
	char at[128];
	json_t *name = json_object_get(object, "name"), *event = json_object_get(object, "event");
	if (!json_is_string(name) || !valid_name(json_string_value(name)))
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.name: must be 1-%d characters of a-z, 0-9, _ and -", path,
			       MAX_NAME_LENGTH);
	if (!json_is_string(event) || !valid_type(json_string_value(event)))
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.event: must be an event type: 1-%d characters of a-z, "
			       "0-9, _, - and .",
			       path, MAX_NAME_LENGTH);
	if (!ly_program_knows_event(program, json_string_value(event)))
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.event: '%s' is not one of the events the "
						"program declares",
			       path, json_string_value(event));
	int rc = copy_text(db, json_string_value(name), &rule->name);
	if (rc == LOYAL_OK)
		rc = copy_text(db, json_string_value(event), &rule->event);
	json_t *condition = json_object_get(object, "condition");
	snprintf(at, sizeof at, "%.100s.condition", path);
	if (rc == LOYAL_OK && condition)
		rc = compile_field(db, program, condition, at, true, &rule->condition);
	/* The rule's pending_days is the default of its awards; an award may set its own. */
	int64_t days = 0;
	if (rc == LOYAL_OK && json_object_get(object, "pending_days"))
		rc = read_count(db, object, "pending_days", path, 1, 3650, &days);
	json_t *award = json_object_get(object, "award");
	snprintf(at, sizeof at, "%.100s.award", path);
	if (rc == LOYAL_OK && (!json_is_object(award) || json_object_size(award) == 0 ||
			       json_object_size(award) > RULE_MAX_AWARDS))
		rc = ly_db_fail(db, LOYAL_EJSON,
			     "program: %s: must map 1-%d currencies to amount expressions", at,
			     RULE_MAX_AWARDS);
	const char *currency;
	json_t *amount;
	json_object_foreach (award, currency, amount) {
		if (rc != LOYAL_OK)
			break;
		snprintf(at, sizeof at, "%.40s.award.%.64s", path, currency);
		rc = parse_award(db, program, currency, amount, at, days * DAY_MS,
				 &rule->awards[rule->award_count]);
		if (rc == LOYAL_OK)
			rule->award_count++;
	}
	json_t *recipient = json_object_get(object, "recipient");
	const char *who = json_is_string(recipient) ? json_string_value(recipient) : "member";
	if (rc == LOYAL_OK && recipient && strcmp(who, "member") != 0) {
		if (strncmp(who, "event.", 6) != 0 || !valid_type(who + 6) || strchr(who + 6, '.'))
			rc = ly_db_fail(db, LOYAL_EJSON,
				     "program: %s.recipient: must be \"member\" or \"event.<property>\"",
				     path);
		else
			rc = copy_text(db, who + 6, &rule->recipient);
	}
	snprintf(at, sizeof at, "%.100s.caps", path);
	if (rc == LOYAL_OK)
		rc = parse_caps(db, json_object_get(object, "caps"), at, rule);
	if (rc == LOYAL_OK)
		rc = parse_window(db, json_object_get(object, "active"), path, &rule->active_from,
				  &rule->active_until);
	json_t *first_time = json_object_get(object, "first_time");
	if (rc == LOYAL_OK && first_time && !json_is_boolean(first_time))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.first_time: must be true or false", path);
	rule->first_time = json_is_true(first_time);
	return rc;
}

static int parse_rule(loyal_db *db, const struct program *program, json_t *object,
		      const char *path, rule_def *rule)
{
	if (!json_is_object(object))
		return json_error(db, path, "must be an object");
	static const char *const keys[] = {"name",     "event",        "condition", "award",
					   "recipient", "pending_days", "caps",      "active",
					   "first_time", NULL};
	int rc = check_keys(db, object, path, keys);
	if (rc == LOYAL_OK)
		rc = parse_rule_fields(db, program, object, path, rule);
	if (rc == LOYAL_OK) {
		rule->definition = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
		if (!rule->definition)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	}
	return rc;
}

/* ---- tiers ---- */

static int parse_tier(loyal_db *db, struct program *program, json_t *object, const char *path,
		      size_t index, tier_def *tier)
{
	static const char *const keys[] = {"name", "entry", "retain", "multiplier", "perks", NULL};
	if (!json_is_object(object))
		return json_error(db, path, "must be an object");
	int rc = check_keys(db, object, path, keys);
	json_t *name = json_object_get(object, "name");
	if (rc == LOYAL_OK && (!json_is_string(name) || !valid_name(json_string_value(name))))
		rc = ly_db_fail(db, LOYAL_EJSON,
			     "program: %s.name: must be 1-%d characters of a-z, 0-9, _ and -", path,
			     MAX_NAME_LENGTH);
	if (rc == LOYAL_OK)
		rc = copy_text(db, json_string_value(name), &tier->name);
	char at[160];
	json_t *entry = json_object_get(object, "entry");
	snprintf(at, sizeof at, "%.100s.entry", path);
	if (rc == LOYAL_OK && !entry && index > 0)
		rc = json_error(db, at, "is needed for every tier above the first");
	if (rc == LOYAL_OK && entry)
		rc = compile_field(db, program, entry, at, true, &tier->entry);
	json_t *retain = json_object_get(object, "retain");
	snprintf(at, sizeof at, "%.100s.retain", path);
	if (rc == LOYAL_OK && retain)
		rc = compile_field(db, program, retain, at, true, &tier->retain);
	json_t *multiplier = json_object_get(object, "multiplier");
	tier->multiplier = multiplier ? json_number_value(multiplier) : 1.0;
	if (rc == LOYAL_OK && multiplier &&
	    (!json_is_number(multiplier) || tier->multiplier < 0 || tier->multiplier > 1000))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.multiplier: must be a number from 0 to 1000",
			     path);
	json_t *perks = json_object_get(object, "perks");
	if (rc == LOYAL_OK && perks && !json_is_object(perks))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.perks: must be an object", path);
	if (rc == LOYAL_OK) {
		tier->perks = perks ? json_dumps(perks, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (!perks && (tier->perks = malloc(3))) /* freed with free(), as jansson's */
			memcpy(tier->perks, "{}", 3);
		if (!tier->perks)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	}
	return rc;
}

static int parse_tier_policy(loyal_db *db, json_t *tiers, tier_ladder *ladder)
{
	json_t *review = json_object_get(tiers, "review");
	const char *at = json_is_object(review) ? json_string_value(json_object_get(review, "at"))
						: NULL;
	const char *period = json_string_value(json_object_get(review, "period"));
	ladder->calendar = at && strcmp(at, "calendar") == 0;
	ladder->period_months = !period || strcmp(period, "year") == 0 ? 12
				: strcmp(period, "quarter") == 0     ? 3
				: strcmp(period, "month") == 0       ? 1
								     : 0;
	static const char *const review_keys[] = {"at", "period", NULL};
	int rc = review ? check_keys(db, review, "tiers.review", review_keys) : LOYAL_OK;
	if (rc == LOYAL_OK && review &&
	    (!at || (strcmp(at, "calendar") != 0 && strcmp(at, "anniversary") != 0) ||
	     !ladder->period_months))
		rc = json_error(db, "tiers.review",
				"must be {\"at\": \"anniversary\"|\"calendar\", \"period\": "
				"\"month\"|\"quarter\"|\"year\"}");
	int64_t grace_days = 0;
	if (rc == LOYAL_OK && json_object_get(tiers, "grace_days"))
		rc = read_count(db, tiers, "grace_days", "tiers", 0, 3650, &grace_days);
	ladder->grace_ms = grace_days * DAY_MS;
	const char *drop = json_string_value(json_object_get(tiers, "drop"));
	ladder->one_step = !drop || strcmp(drop, "one_step") == 0;
	if (rc == LOYAL_OK && drop && strcmp(drop, "one_step") != 0 &&
	    strcmp(drop, "to_qualifying") != 0)
		rc = json_error(db, "tiers.drop", "must be \"one_step\" or \"to_qualifying\"");
	const char *change = json_string_value(json_object_get(tiers, "on_change"));
	ladder->reevaluate = change && strcmp(change, "reevaluate") == 0;
	if (rc == LOYAL_OK && change && strcmp(change, "reevaluate") != 0 &&
	    strcmp(change, "keep") != 0)
		rc = json_error(db, "tiers.on_change", "must be \"reevaluate\" or \"keep\"");
	return rc;
}

static int parse_tiers(loyal_db *db, json_t *tiers, struct program *program)
{
	if (!tiers)
		return LOYAL_OK;
	static const char *const keys[] = {"levels", "review", "grace_days", "drop", "on_change",
					   NULL};
	if (!json_is_object(tiers))
		return json_error(db, "tiers", "must be an object with levels");
	int rc = check_keys(db, tiers, "tiers", keys);
	json_t *levels = json_object_get(tiers, "levels");
	if (rc == LOYAL_OK && (!json_is_array(levels) || json_array_size(levels) == 0 ||
			       json_array_size(levels) > TIERS_MAX))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: tiers.levels: must list 1-%d tiers, lowest first",
			     TIERS_MAX);
	tier_ladder *ladder = &program->ladder;
	for (size_t i = 0; rc == LOYAL_OK && i < json_array_size(levels); i++) {
		char path[40];
		snprintf(path, sizeof path, "tiers.levels[%zu]", i);
		rc = parse_tier(db, program, json_array_get(levels, i), path, i, &ladder->tiers[i]);
		ladder->count = i + 1;
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(ladder->tiers[j].name, ladder->tiers[i].name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already tiers.levels[%zu]", path,
					     ladder->tiers[i].name, j);
	}
	return rc == LOYAL_OK ? parse_tier_policy(db, tiers, ladder) : rc;
}

/* ---- segments ---- */

static int parse_segments(loyal_db *db, json_t *segments, struct program *program)
{
	if (!segments)
		return LOYAL_OK;
	if (!json_is_array(segments) || json_array_size(segments) > SEGMENTS_MAX)
		return ly_db_fail(db, LOYAL_EJSON, "program: segments: must be an array of at most %d",
			       SEGMENTS_MAX);
	program->segments = ly_mem_calloc(json_array_size(segments), sizeof *program->segments);
	if (!program->segments)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(segments) && rc == LOYAL_OK; i++) {
		char path[40], at[64];
		snprintf(path, sizeof path, "segments[%zu]", i);
		json_t *object = json_array_get(segments, i);
		static const char *const keys[] = {"name", "criterion", NULL};
		segment_def *segment = &program->segments[i];
		program->segment_count = i + 1;
		rc = json_is_object(object) ? check_keys(db, object, path, keys)
					    : json_error(db, path, "must be an object");
		json_t *name = json_object_get(object, "name");
		if (rc == LOYAL_OK && (!json_is_string(name) || !valid_name(json_string_value(name))))
			rc = ly_db_fail(db, LOYAL_EJSON,
				     "program: %s.name: must be 1-%d characters of a-z, 0-9, _ and -",
				     path, MAX_NAME_LENGTH);
		if (rc == LOYAL_OK)
			rc = copy_text(db, json_string_value(name), &segment->name);
		snprintf(at, sizeof at, "%s.criterion", path);
		if (rc == LOYAL_OK)
			rc = compile_field(db, program, json_object_get(object, "criterion"), at, true,
					   &segment->criterion);
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->segments[j].name, segment->name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already segments[%zu]", path,
					     segment->name, j);
	}
	return rc;
}

/* ---- badges ---- */

/* Collects the event types a criterion reads into the badge's list (no repeats). */
static void add_type(const criteria_measure_request *request, void *ctx)
{
	badge_def *badge = ctx;
	if (request->kind == CM_EARNED || request->kind == CM_BALANCE ||
	    (request->kind == CM_DAYS_SINCE && (strcmp(request->name, "last_seen") == 0 ||
						 strcmp(request->name, "joined") == 0)))
		return;
	for (size_t i = 0; i < badge->type_count; i++)
		if (strcmp(badge->types[i], request->name) == 0)
			return;
	char **grown = ly_mem_realloc(badge->types, (badge->type_count + 1) * sizeof *grown);
	char *copy = grown ? ly_mem_strdup(request->name) : NULL;
	if (grown)
		badge->types = grown;
	if (copy)
		badge->types[badge->type_count++] = copy;
}

static int parse_badge_level(loyal_db *db, struct program *program, json_t *object,
			     const char *path, bool named, badge_def *badge)
{
	badge_level *level = &badge->levels[badge->level_count++];
	char at[160];
	json_t *name = json_object_get(object, "name");
	int rc = LOYAL_OK;
	if (named && (!json_is_string(name) || !valid_name(json_string_value(name))))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.name: must be 1-%d characters of a-z, 0-9,"
					      " _ and -", path, MAX_NAME_LENGTH);
	if (rc == LOYAL_OK && named)
		rc = copy_text(db, json_string_value(name), &level->name);
	snprintf(at, sizeof at, "%.100s.criterion", path);
	if (rc == LOYAL_OK)
		rc = compile_field(db, program, json_object_get(object, "criterion"), at, true,
				   &level->criterion);
	if (rc == LOYAL_OK)
		ly_criteria_each_measure(level->criterion, add_type, badge);
	json_t *award = json_object_get(object, "award");
	const char *currency;
	json_t *amount;
	if (rc == LOYAL_OK && award && (!json_is_object(award) ||
					 json_object_size(award) > RULE_MAX_AWARDS))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.award: must map currencies to points", path);
	json_object_foreach (award, currency, amount) {
		if (rc != LOYAL_OK)
			break;
		size_t index = 0;
		while (index < program->currency_count &&
		       strcmp(program->currencies[index].name, currency) != 0)
			index++;
		if (index == program->currency_count)
			rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.award: no currency '%s'", path,
				     currency);
		else if (!json_is_integer(amount) || json_integer_value(amount) <= 0)
			rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.award.%s: must be a positive whole"
						      " number", path, currency);
		else {
			level->awards[level->award_count].currency = index;
			level->amounts[level->award_count++] = json_integer_value(amount);
		}
	}
	return rc;
}

static int parse_badge(loyal_db *db, struct program *program, json_t *object, const char *path,
		       badge_def *badge)
{
	static const char *const keys[] = {"name",      "criterion", "levels", "award",
					   "repeatable", "cooldown_days", "freezes", "active",
					   NULL};
	int rc = json_is_object(object) ? check_keys(db, object, path, keys)
					: json_error(db, path, "must be an object");
	json_t *name = json_object_get(object, "name");
	if (rc == LOYAL_OK && (!json_is_string(name) || !valid_name(json_string_value(name))))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.name: must be 1-%d characters of a-z, 0-9,"
					      " _ and -", path, MAX_NAME_LENGTH);
	if (rc == LOYAL_OK)
		rc = copy_text(db, json_string_value(name), &badge->name);
	json_t *levels = json_object_get(object, "levels");
	bool plain = json_object_get(object, "criterion") != NULL;
	if (rc == LOYAL_OK && plain == (levels != NULL))
		rc = json_error(db, path, "needs a criterion or levels, not both");
	if (rc == LOYAL_OK && levels && (!json_is_array(levels) || !json_array_size(levels) ||
					 json_array_size(levels) > BADGE_MAX_LEVELS))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.levels: must list 1-%d levels", path,
			     BADGE_MAX_LEVELS);
	if (rc == LOYAL_OK && plain)
		rc = parse_badge_level(db, program, object, path, false, badge);
	for (size_t i = 0; rc == LOYAL_OK && levels && i < json_array_size(levels); i++) {
		char at[96];
		snprintf(at, sizeof at, "%.60s.levels[%zu]", path, i);
		json_t *level = json_array_get(levels, i);
		static const char *const level_keys[] = {"name", "criterion", "award", NULL};
		rc = json_is_object(level) ? check_keys(db, level, at, level_keys)
					   : json_error(db, at, "must be an object");
		if (rc == LOYAL_OK)
			rc = parse_badge_level(db, program, level, at, true, badge);
	}
	int64_t cooldown = 0, freezes = 0;
	if (rc == LOYAL_OK && json_object_get(object, "cooldown_days"))
		rc = read_count(db, object, "cooldown_days", path, 0, 3650, &cooldown);
	if (rc == LOYAL_OK && json_object_get(object, "freezes"))
		rc = read_count(db, object, "freezes", path, 0, 31, &freezes);
	badge->cooldown_ms = cooldown * DAY_MS;
	badge->freezes = (int)freezes;
	json_t *repeatable = json_object_get(object, "repeatable");
	if (rc == LOYAL_OK && repeatable && !json_is_boolean(repeatable))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.repeatable: must be true or false", path);
	badge->repeatable = json_is_true(repeatable);
	if (rc == LOYAL_OK)
		rc = parse_window(db, json_object_get(object, "active"), path, &badge->active_from,
				  &badge->active_until);
	return rc;
}

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
		if (!json_is_string(type) || !valid_type(json_string_value(type)))
			return ly_db_fail(db, LOYAL_EJSON,
				       "program: events[%zu]: must be an event type: 1-%d characters "
				       "of a-z, 0-9, _, - and .",
				       i, MAX_NAME_LENGTH);
		if (ly_program_knows_event(program, json_string_value(type)))
			return ly_db_fail(db, LOYAL_EJSON, "program: events[%zu]: '%s' is listed twice",
				       i, json_string_value(type));
		rc = copy_text(db, json_string_value(type),
			       &program->event_types[program->event_type_count]);
		if (rc == LOYAL_OK)
			program->event_type_count++;
	}
	return rc;
}

static int parse_badges(loyal_db *db, json_t *badges, struct program *program)
{
	if (!badges)
		return LOYAL_OK;
	if (!json_is_array(badges) || json_array_size(badges) > MAX_RULES)
		return ly_db_fail(db, LOYAL_EJSON, "program: badges: must be an array of at most %d",
			       MAX_RULES);
	program->badges = ly_mem_calloc(json_array_size(badges), sizeof *program->badges);
	if (!program->badges)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(badges) && rc == LOYAL_OK; i++) {
		char path[32];
		snprintf(path, sizeof path, "badges[%zu]", i);
		program->badge_count = i + 1;
		rc = parse_badge(db, program, json_array_get(badges, i), path, &program->badges[i]);
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->badges[j].name, program->badges[i].name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already badges[%zu]", path,
					     program->badges[i].name, j);
	}
	return rc;
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

static int parse_rules(loyal_db *db, json_t *rules, struct program *program)
{
	if (!rules)
		return LOYAL_OK;
	if (!json_is_array(rules) || json_array_size(rules) > MAX_RULES)
		return ly_db_fail(db, LOYAL_EJSON, "program: rules: must be an array of at most %d",
			       MAX_RULES);
	program->rules = ly_mem_calloc(json_array_size(rules), sizeof *program->rules);
	if (!program->rules)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(rules) && rc == LOYAL_OK; i++) {
		char path[32];
		snprintf(path, sizeof path, "rules[%zu]", i);
		rc = parse_rule(db, program, json_array_get(rules, i), path, &program->rules[i]);
		program->rule_count = i + 1;
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->rules[j].name, program->rules[i].name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already defined by rules[%zu]",
					     path, program->rules[i].name, j);
	}
	return rc;
}

/* Parses and checks a whole document into *out (owned by the caller). */
static int parse_program(loyal_db *db, json_t *document, struct program **out)
{
	*out = NULL;
	if (!json_is_object(document))
		return json_error(db, "(document)", "must be a JSON object");
	static const char *const keys[] = {"currencies", "events", "rules",    "tiers",
					   "segments",   "badges", "timezone", NULL};
	int rc = check_keys(db, document, "(document)", keys);
	if (rc != LOYAL_OK)
		return rc;
	json_t *currencies = json_object_get(document, "currencies");
	if (currencies && !json_is_array(currencies))
		return json_error(db, "currencies", "must be an array");
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
		rc = parse_events(db, json_object_get(document, "events"), program);
	if (rc == LOYAL_OK)
		rc = parse_tiers(db, json_object_get(document, "tiers"), program);
	if (rc == LOYAL_OK)
		rc = parse_rules(db, json_object_get(document, "rules"), program);
	if (rc == LOYAL_OK)
		rc = parse_segments(db, json_object_get(document, "segments"), program);
	if (rc == LOYAL_OK)
		rc = parse_badges(db, json_object_get(document, "badges"), program);
	if (rc != LOYAL_OK) {
		ly_program_free(program);
		return rc;
	}
	*out = program;
	return LOYAL_OK;
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
	rc = parse_program(db, document, out);
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

/* ---- public calls ---- */

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

static int apply_locked(loyal_db *db, json_t *document, int64_t *out_version)
{
	int rc = ly_program_refresh(db);
	if (rc != LOYAL_OK)
		return rc;
	struct program *next = NULL;
	rc = parse_program(db, document, &next);
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

int loyal_program_apply(loyal_db *db, const char *json, int64_t *out_version)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!json)
		return ly_db_fail(db, LOYAL_EINVAL, "json is NULL");
	size_t length = strlen(json);
	if (length > MAX_PROGRAM_BYTES)
		return ly_db_fail(db, LOYAL_EJSON, "program: the document is %zu bytes; at most %d",
			       length, MAX_PROGRAM_BYTES);
	json_t *document = NULL;
	rc = ly_json_parse(&db->error, json, length, &document, "program");
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_store_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = apply_locked(db, document, out_version);
		if (rc == LOYAL_OK)
			rc = ly_store_commit(db->store);
		else
			ly_store_rollback(db->store);
	}
	json_decref(document);
	/* The cache follows the file: the next call loads what is now committed (or still there),
	 * so that a committed change is never reported as failed for want of memory to load it. */
	ly_program_free(db->program);
	db->program = NULL;
	return rc;
}

int loyal_program_get(loyal_db *db, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!out_json)
		return ly_db_fail(db, LOYAL_EINVAL, "out_json is NULL");
	*out_json = NULL;
	char *text = NULL;
	int64_t version = 0;
	rc = ly_store_program_get(db->store, &text, &version);
	if (rc != LOYAL_OK)
		return rc;
	json_t *document = NULL;
	rc = text ? ly_json_parse_stored(&db->error, text, &document, "the stored program version %lld",
				     (long long)version)
		  : LOYAL_OK;
	ly_mem_free(text);
	if (rc != LOYAL_OK)
		return rc;
	if (!document)
		document = json_object();
	return ly_json_emit(&db->error, json_pack("{s:I,s:o}", "version", (json_int_t)version, "program",
				       document),
			 out_json);
}
