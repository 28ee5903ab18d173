/* document_rewards.c - reading the program's rewards catalog: prices (per tier too), stock,
 * per-member limits, who may redeem, when, and how a redemption is fulfilled. */
#include "engine/document.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {"points": 500, ...}: whole amounts of spendable currencies of the program. */
static int parse_price(loyal_db *db, const struct program *program, json_t *value,
		       const char *path, reward_price *out)
{
	if (!json_is_object(value) || json_object_size(value) == 0 ||
	    json_object_size(value) > REWARD_MAX_PRICES)
		return ly_db_fail(db, LOYAL_EJSON,
			       "program: %s: must be an object of 1-%d currencies and amounts, such as "
			       "{\"points\": 500}",
			       path, REWARD_MAX_PRICES);
	const char *name;
	json_t *amount;
	out->count = 0;
	json_object_foreach (value, name, amount) {
		char at[160];
		snprintf(at, sizeof at, "%.100s.%.50s", path, name);
		size_t currency = 0;
		while (currency < program->currency_count &&
		       strcmp(program->currencies[currency].name, name) != 0)
			currency++;
		if (currency == program->currency_count)
			return ly_document_error(db, at, "is not a currency of the program");
		if (!program->currencies[currency].spendable)
			return ly_document_error(db, at, "is an earn-only currency: it cannot be spent");
		if (!json_is_integer(amount) || json_integer_value(amount) < 1 ||
		    json_integer_value(amount) > INT64_C(1000000000000))
			return ly_document_error(db, at, "must be a whole number of points from 1 to 10^12");
		out->items[out->count].currency = currency;
		out->items[out->count].amount = json_integer_value(amount);
		out->count++;
	}
	return LOYAL_OK;
}

/* {"gold": {"points": 400}}: the price members of a tier pay instead. */
static int parse_tier_prices(loyal_db *db, const struct program *program, json_t *value,
			     const char *path, reward_def *reward)
{
	if (!value)
		return LOYAL_OK;
	if (!json_is_object(value))
		return ly_document_error(db, path, "must be an object of tiers and prices");
	const char *tier;
	json_t *price;
	json_object_foreach (value, tier, price) {
		char at[160];
		snprintf(at, sizeof at, "%.100s.%.50s", path, tier);
		int index = ly_program_tier_index(program, tier);
		if (index < 0)
			return ly_document_error(db, at, "is not a tier of the program");
		int rc = parse_price(db, program, price, at, &reward->tier_prices[index]);
		if (rc != LOYAL_OK)
			return rc;
	}
	return LOYAL_OK;
}

/* [{"per": "day", "count": 1}, ...]: at most count units per member per period. */
static int parse_limits(loyal_db *db, json_t *limits, const char *path, reward_def *reward)
{
	if (!limits)
		return LOYAL_OK;
	if (!json_is_array(limits) || json_array_size(limits) > REWARD_MAX_LIMITS)
		return ly_db_fail(db, LOYAL_EJSON, "program: %s: must be an array of at most %d limits",
			       path, REWARD_MAX_LIMITS);
	size_t index;
	json_t *limit;
	json_array_foreach (limits, index, limit) {
		char at[160];
		snprintf(at, sizeof at, "%.100s[%zu]", path, index);
		static const char *const keys[] = {"per", "count", NULL};
		if (!json_is_object(limit))
			return ly_document_error(db, at, "must be an object such as {\"per\": \"month\", \"count\": 1}");
		int rc = ly_document_check_keys(db, limit, at, keys);
		const char *per = json_string_value(json_object_get(limit, "per"));
		static const char *const periods[] = {"day", "week", "month", "year", "ever"};
		static const enum cap_period values[] = {CAP_DAY, CAP_WEEK, CAP_MONTH, CAP_YEAR,
							 CAP_EVER};
		size_t p = 0;
		while (per && p < 5 && strcmp(per, periods[p]) != 0)
			p++;
		if (rc == LOYAL_OK && (!per || p == 5))
			rc = ly_db_fail(db, LOYAL_EJSON,
				     "program: %s.per: must be \"day\", \"week\", \"month\", \"year\" or "
				     "\"ever\"",
				     at);
		if (rc == LOYAL_OK)
			rc = ly_document_count(db, limit, "count", at, 1, INT64_C(1000000000),
					       &reward->limits[index].count);
		if (rc != LOYAL_OK)
			return rc;
		reward->limits[index].per = values[p];
		reward->limit_count = index + 1;
	}
	return LOYAL_OK;
}

static int parse_fulfilment(loyal_db *db, json_t *object, const char *path, reward_def *reward)
{
	json_t *fulfilment = json_object_get(object, "fulfilment");
	const char *how = fulfilment ? json_string_value(fulfilment) : "instant";
	char at[160];
	snprintf(at, sizeof at, "%.100s.fulfilment", path);
	if (!how || (strcmp(how, "instant") != 0 && strcmp(how, "two_phase") != 0))
		return ly_document_error(db, at, "must be \"instant\" or \"two_phase\"");
	reward->two_phase = strcmp(how, "two_phase") == 0;
	json_t *days = json_object_get(object, "deadline_days");
	snprintf(at, sizeof at, "%.100s.deadline_days", path);
	if (days && !reward->two_phase)
		return ly_document_error(db, at, "applies to \"two_phase\" fulfilment only");
	int64_t deadline_days = 30;
	int rc = days ? ly_document_count(db, object, "deadline_days", path, 1, 3650, &deadline_days)
		      : LOYAL_OK;
	reward->deadline_ms = deadline_days * DAY_MS;
	return rc;
}

static int parse_reward(loyal_db *db, struct program *program, json_t *object, const char *path,
			reward_def *reward)
{
	static const char *const keys[] = {"name",  "title",    "kind",        "coupon", "price",
					   "tier_prices", "stock", "limits", "eligible",
					   "active", "fulfilment", "deadline_days", "data",
					   "automatic", NULL};
	if (!json_is_object(object))
		return ly_document_error(db, path, "must be an object");
	int rc = ly_document_check_keys(db, object, path, keys);
	if (rc == LOYAL_OK)
		rc = ly_document_name(db, object, path, &reward->name);
	char at[160];
	json_t *title = json_object_get(object, "title");
	snprintf(at, sizeof at, "%.100s.title", path);
	if (rc == LOYAL_OK && title &&
	    (!json_is_string(title) || json_string_length(title) == 0 || json_string_length(title) > 256))
		rc = ly_document_error(db, at, "must be a text of 1-256 bytes");
	if (rc == LOYAL_OK)
		rc = ly_document_copy_text(db, title ? json_string_value(title) : reward->name,
					   &reward->title);
	json_t *kind = json_object_get(object, "kind");
	static const char *const kinds[] = {"perk", "gift", "voucher", "coupon"};
	reward->kind = kind ? NULL : kinds[0];
	for (size_t k = 0; kind && k < 4; k++)
		if (json_is_string(kind) && strcmp(json_string_value(kind), kinds[k]) == 0)
			reward->kind = kinds[k];
	snprintf(at, sizeof at, "%.100s.kind", path);
	if (rc == LOYAL_OK && !reward->kind)
		rc = ly_document_error(db, at, "must be \"perk\", \"gift\", \"voucher\" or \"coupon\"");
	/* A coupon reward names the coupon it issues (coupons are read before rewards). */
	json_t *coupon = json_object_get(object, "coupon");
	bool coupon_kind = reward->kind == kinds[3];
	reward->coupon = -1;
	for (size_t c = 0; coupon && c < program->coupon_count; c++)
		if (json_is_string(coupon) && strcmp(program->coupons[c].name, json_string_value(coupon)) == 0)
			reward->coupon = (int)c;
	snprintf(at, sizeof at, "%.100s.coupon", path);
	if (rc == LOYAL_OK && coupon_kind != (coupon != NULL))
		rc = ly_document_error(db, at, coupon_kind ? "is needed by a reward of kind \"coupon\""
							   : "applies to a reward of kind \"coupon\" only");
	if (rc == LOYAL_OK && coupon && reward->coupon < 0)
		rc = ly_document_error(db, at, "is not a coupon of the program");
	snprintf(at, sizeof at, "%.100s.price", path);
	if (rc == LOYAL_OK)
		rc = parse_price(db, program, json_object_get(object, "price"), at, &reward->price);
	snprintf(at, sizeof at, "%.100s.tier_prices", path);
	if (rc == LOYAL_OK)
		rc = parse_tier_prices(db, program, json_object_get(object, "tier_prices"), at, reward);
	reward->stock = -1;
	if (rc == LOYAL_OK && json_object_get(object, "stock"))
		rc = ly_document_count(db, object, "stock", path, 0, INT64_C(1000000000000),
				       &reward->stock);
	snprintf(at, sizeof at, "%.100s.limits", path);
	if (rc == LOYAL_OK)
		rc = parse_limits(db, json_object_get(object, "limits"), at, reward);
	json_t *eligible = json_object_get(object, "eligible");
	snprintf(at, sizeof at, "%.100s.eligible", path);
	if (rc == LOYAL_OK && eligible)
		rc = ly_document_compile(db, program, eligible, at, true, &reward->eligible);
	if (rc == LOYAL_OK)
		rc = ly_document_window(db, json_object_get(object, "active"), path,
					&reward->active_from, &reward->active_until);
	if (rc == LOYAL_OK)
		rc = parse_fulfilment(db, object, path, reward);
	json_t *automatic = json_object_get(object, "automatic");
	snprintf(at, sizeof at, "%.100s.automatic", path);
	if (rc == LOYAL_OK && automatic && !json_is_boolean(automatic))
		rc = ly_document_error(db, at, "must be true or false");
	reward->automatic = json_is_true(automatic);
	json_t *data = json_object_get(object, "data");
	snprintf(at, sizeof at, "%.100s.data", path);
	if (rc == LOYAL_OK && data && !json_is_object(data))
		rc = ly_document_error(db, at, "must be an object (the host's data)");
	if (rc == LOYAL_OK) {
		reward->data = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (!data && (reward->data = malloc(3))) /* freed with free(), as jansson's */
			memcpy(reward->data, "{}", 3);
		if (!reward->data)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	}
	return rc;
}

int ly_document_rewards(loyal_db *db, json_t *rewards, struct program *program)
{
	if (!rewards)
		return LOYAL_OK;
	if (!json_is_array(rewards) || json_array_size(rewards) > REWARDS_MAX)
		return ly_db_fail(db, LOYAL_EJSON, "program: rewards: must be an array of at most %d",
			       REWARDS_MAX);
	program->rewards = ly_mem_calloc(json_array_size(rewards) + 1, sizeof *program->rewards);
	if (!program->rewards)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(rewards) && rc == LOYAL_OK; i++) {
		char path[40];
		snprintf(path, sizeof path, "rewards[%zu]", i);
		program->reward_count = i + 1;
		rc = parse_reward(db, program, json_array_get(rewards, i), path, &program->rewards[i]);
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->rewards[j].name, program->rewards[i].name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already rewards[%zu]", path,
					     program->rewards[i].name, j);
	}
	return rc;
}
