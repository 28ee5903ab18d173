/* document_rules.c - reading the program's earning rules: conditions, awards, pending, caps,
 * budgets, recipients, windows (dates, weekdays and hours), and stopping after a rule. */
#include "engine/document.h"

#include <stdio.h>
#include <string.h>

/* A limit per period: {"per": "day"|"week"|"month"|"ever", "awards": N | "points": N}. */
static int parse_limit(loyal_db *db, json_t *cap, const char *at, rule_cap *out)
{
	static const char *const keys[] = {"per", "awards", "points", NULL};
	if (!json_is_object(cap))
		return ly_document_error(db, at, "must be an object such as {\"per\": \"day\", \"awards\": 1}");
	int rc = ly_document_check_keys(db, cap, at, keys);
	if (rc != LOYAL_OK)
		return rc;
	json_t *per = json_object_get(cap, "per");
	const char *period = json_is_string(per) ? json_string_value(per) : "";
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
		return ly_document_error(db, at, "needs exactly one of awards, points");
	return ly_document_count(db, cap, awards ? "awards" : "points", at, 1, INT64_MAX,
				 awards ? &out->awards : &out->points);
}

/* "when": {"days": ["sat", "sun"], "from": "18:00", "until": "22:00"}: local weekdays and
 * times of day (until before from: across midnight; both optional). */
static int parse_when(loyal_db *db, json_t *when, const char *path, rule_def *rule)
{
	rule->weekdays = 0x7f;
	rule->when_from = 0;
	rule->when_until = 24 * 60;
	if (!when)
		return LOYAL_OK;
	char at[128];
	snprintf(at, sizeof at, "%.100s.when", path);
	static const char *const keys[] = {"days", "from", "until", NULL};
	if (!json_is_object(when))
		return ly_document_error(db, at, "must be an object such as {\"days\": [\"sat\", \"sun\"]}");
	int rc = ly_document_check_keys(db, when, at, keys);
	json_t *days = json_object_get(when, "days");
	static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	if (rc == LOYAL_OK && days) {
		if (!json_is_array(days) || !json_array_size(days))
			return ly_document_error(db, at, "days: must list weekdays such as \"mon\"");
		rule->weekdays = 0;
		size_t i;
		json_t *day;
		json_array_foreach (days, i, day) {
			unsigned bit = 0;
			for (int d = 0; d < 7; d++)
				if (json_is_string(day) && strcmp(json_string_value(day), names[d]) == 0)
					bit = 1u << d;
			if (!bit)
				return ly_db_fail(db, LOYAL_EJSON,
						  "program: %s.days[%zu]: must be one of mon, tue, wed, thu,"
						  " fri, sat, sun",
						  at, i);
			rule->weekdays |= bit;
		}
	}
	const char *edges[] = {"from", "until"};
	int *minutes[] = {&rule->when_from, &rule->when_until};
	for (int e = 0; rc == LOYAL_OK && e < 2; e++) {
		json_t *edge = json_object_get(when, edges[e]);
		if (!edge)
			continue;
		unsigned hours = 99, mins = 99;
		char tail = 0;
		const char *text = json_string_value(edge);
		if (!text || sscanf(text, "%2u:%2u%c", &hours, &mins, &tail) != 2 || strlen(text) != 5 ||
		    mins > 59 || hours * 60 + mins > 24 * 60)
			return ly_db_fail(db, LOYAL_EJSON,
					  "program: %s.%s: must be a local time \"HH:MM\" (00:00-24:00)",
					  at, edges[e]);
		*minutes[e] = (int)(hours * 60 + mins);
	}
	if (rc == LOYAL_OK && rule->when_from == rule->when_until)
		return ly_document_error(db, at, "from and until must differ");
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
		int rc = parse_limit(db, cap, at, &rule->caps[rule->cap_count++]);
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
		return ly_document_compile(db, program, value, at, false, &slot->amount);
	static const char *const keys[] = {"amount", "pending_days", NULL};
	int rc = ly_document_check_keys(db, value, at, keys);
	char amount_at[128];
	snprintf(amount_at, sizeof amount_at, "%.100s.amount", at);
	if (rc == LOYAL_OK && !json_object_get(value, "amount"))
		rc = ly_document_error(db, at, "needs amount, an expression");
	int64_t days = 0;
	if (rc == LOYAL_OK && json_object_get(value, "pending_days")) {
		rc = ly_document_count(db, value, "pending_days", at, 0, 3650, &days);
		slot->pending_ms = days * DAY_MS;
	}
	if (rc == LOYAL_OK)
		rc = ly_document_compile(db, program, json_object_get(value, "amount"), amount_at, false,
				   &slot->amount);
	return rc;
}

static int parse_rule_fields(loyal_db *db, const struct program *program, json_t *object,
			     const char *path, rule_def *rule)
{
	char at[128];
	json_t *name = json_object_get(object, "name"), *event = json_object_get(object, "event");
	if (!json_is_string(name) || !ly_document_valid_name(json_string_value(name)))
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.name: must be 1-%d characters of a-z, 0-9, _ and -", path,
			       MAX_NAME_LENGTH);
	if (!json_is_string(event) || !ly_document_valid_type(json_string_value(event)))
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s.event: must be an event type: 1-%d characters of a-z, "
			       "0-9, _, - and .",
			       path, MAX_NAME_LENGTH);
	if (!ly_program_knows_event(program, json_string_value(event)))
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.event: '%s' is not one of the events the "
						"program declares",
			       path, json_string_value(event));
	int rc = ly_document_copy_text(db, json_string_value(name), &rule->name);
	if (rc == LOYAL_OK)
		rc = ly_document_copy_text(db, json_string_value(event), &rule->event);
	json_t *condition = json_object_get(object, "condition");
	snprintf(at, sizeof at, "%.100s.condition", path);
	if (rc == LOYAL_OK && condition)
		rc = ly_document_compile(db, program, condition, at, true, &rule->condition);
	/* The rule's pending_days is the default of its awards; an award may set its own. */
	int64_t days = 0;
	if (rc == LOYAL_OK && json_object_get(object, "pending_days"))
		rc = ly_document_count(db, object, "pending_days", path, 1, 3650, &days);
	json_t *award = json_object_get(object, "award");
	snprintf(at, sizeof at, "%.100s.award", path);
	if (rc == LOYAL_OK && (!json_is_object(award) || json_object_size(award) == 0 ||
			       json_object_size(award) > RULE_MAX_AWARDS))
		rc = ly_db_fail(db, LOYAL_EJSON,
			     "program: %s: must map 1-%d currencies to amount expressions", at,
			     RULE_MAX_AWARDS);
	const char *currency;
	json_t *amount;
	rule->coupon = -1;
	json_object_foreach (award, currency, amount) {
		if (rc != LOYAL_OK)
			break;
		snprintf(at, sizeof at, "%.40s.award.%.64s", path, currency);
		if (strcmp(currency, "coupon") == 0) { /* a code of a coupon of the program */
			for (size_t c = 0; json_is_string(amount) && c < program->coupon_count; c++)
				if (strcmp(program->coupons[c].name, json_string_value(amount)) == 0)
					rule->coupon = (int)c;
			if (rule->coupon < 0)
				rc = ly_document_error(db, at, "must name a coupon of the program");
			continue;
		}
		rc = parse_award(db, program, currency, amount, at, days * DAY_MS,
				 &rule->awards[rule->award_count]);
		if (rc == LOYAL_OK)
			rule->award_count++;
	}
	json_t *recipient = json_object_get(object, "recipient");
	const char *who = json_is_string(recipient) ? json_string_value(recipient) : "member";
	if (rc == LOYAL_OK && recipient && strcmp(who, "member") != 0) {
		if (strncmp(who, "event.", 6) != 0 || !ly_document_valid_type(who + 6) || strchr(who + 6, '.'))
			rc = ly_db_fail(db, LOYAL_EJSON,
				     "program: %s.recipient: must be \"member\" or \"event.<property>\"",
				     path);
		else
			rc = ly_document_copy_text(db, who + 6, &rule->recipient);
	}
	snprintf(at, sizeof at, "%.100s.caps", path);
	if (rc == LOYAL_OK)
		rc = parse_caps(db, json_object_get(object, "caps"), at, rule);
	if (rc == LOYAL_OK)
		rc = ly_document_window(db, json_object_get(object, "active"), path, &rule->active_from,
				  &rule->active_until);
	if (rc == LOYAL_OK)
		rc = parse_when(db, json_object_get(object, "when"), path, rule);
	json_t *budget = json_object_get(object, "budget");
	snprintf(at, sizeof at, "%.100s.budget", path);
	if (rc == LOYAL_OK && budget)
		rc = parse_limit(db, budget, at, &rule->budget);
	rule->has_budget = budget != NULL;
	const char *flags[] = {"first_time", "last"};
	bool *values[] = {&rule->first_time, &rule->last};
	for (int f = 0; f < 2; f++) {
		json_t *flag = json_object_get(object, flags[f]);
		if (rc == LOYAL_OK && flag && !json_is_boolean(flag))
			rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.%s: must be true or false", path,
					flags[f]);
		*values[f] = json_is_true(flag);
	}
	return rc;
}

static int parse_rule(loyal_db *db, const struct program *program, json_t *object,
		      const char *path, rule_def *rule)
{
	if (!json_is_object(object))
		return ly_document_error(db, path, "must be an object");
	static const char *const keys[] = {"name",     "event",        "condition", "award",
					   "recipient", "pending_days", "caps",      "active",
					   "first_time", "when", "budget", "last", NULL};
	int rc = ly_document_check_keys(db, object, path, keys);
	if (rc == LOYAL_OK)
		rc = parse_rule_fields(db, program, object, path, rule);
	if (rc == LOYAL_OK) {
		rule->definition = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
		if (!rule->definition)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	}
	return rc;
}

int ly_document_rules(loyal_db *db, json_t *rules, struct program *program)
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
