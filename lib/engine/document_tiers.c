/* document_tiers.c - reading the program's tier ladder and its review policy. */
#include "engine/document.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_tier(loyal_db *db, struct program *program, json_t *object, const char *path,
		      size_t index, tier_def *tier)
{
	static const char *const keys[] = {"name",  "entry", "retain", "multiplier",
					   "perks", "award", "coupon", NULL};
	if (!json_is_object(object))
		return ly_document_error(db, path, "must be an object");
	int rc = ly_document_check_keys(db, object, path, keys);
	if (rc == LOYAL_OK)
		rc = ly_document_name(db, object, path, &tier->name);
	char at[160];
	json_t *entry = json_object_get(object, "entry");
	snprintf(at, sizeof at, "%.100s.entry", path);
	if (rc == LOYAL_OK && !entry && index > 0)
		rc = ly_document_error(db, at, "is needed for every tier above the first");
	if (rc == LOYAL_OK && entry)
		rc = ly_document_compile(db, program, entry, at, true, &tier->entry);
	json_t *retain = json_object_get(object, "retain");
	snprintf(at, sizeof at, "%.100s.retain", path);
	if (rc == LOYAL_OK && retain)
		rc = ly_document_compile(db, program, retain, at, true, &tier->retain);
	if (rc == LOYAL_OK)
		rc = ly_document_award(db, program, json_object_get(object, "award"), path,
				       &tier->award);
	/* The coupon is found once the program's coupons are read (ly_document_tier_coupons). */
	json_t *coupon = json_object_get(object, "coupon");
	tier->coupon = -1;
	if (rc == LOYAL_OK && coupon && !json_is_string(coupon))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.coupon: must name a coupon", path);
	if (rc == LOYAL_OK && coupon)
		rc = ly_document_copy_text(db, json_string_value(coupon), &tier->coupon_name);
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
	int rc = review ? ly_document_check_keys(db, review, "tiers.review", review_keys) : LOYAL_OK;
	if (rc == LOYAL_OK && review &&
	    (!at || (strcmp(at, "calendar") != 0 && strcmp(at, "anniversary") != 0) ||
	     !ladder->period_months))
		rc = ly_document_error(db, "tiers.review",
				"must be {\"at\": \"anniversary\"|\"calendar\", \"period\": "
				"\"month\"|\"quarter\"|\"year\"}");
	int64_t grace_days = 0;
	if (rc == LOYAL_OK && json_object_get(tiers, "grace_days"))
		rc = ly_document_count(db, tiers, "grace_days", "tiers", 0, 3650, &grace_days);
	ladder->grace_ms = grace_days * DAY_MS;
	const char *drop = json_string_value(json_object_get(tiers, "drop"));
	ladder->one_step = !drop || strcmp(drop, "one_step") == 0;
	if (rc == LOYAL_OK && drop && strcmp(drop, "one_step") != 0 &&
	    strcmp(drop, "to_qualifying") != 0)
		rc = ly_document_error(db, "tiers.drop", "must be \"one_step\" or \"to_qualifying\"");
	const char *change = json_string_value(json_object_get(tiers, "on_change"));
	ladder->reevaluate = change && strcmp(change, "reevaluate") == 0;
	if (rc == LOYAL_OK && change && strcmp(change, "reevaluate") != 0 &&
	    strcmp(change, "keep") != 0)
		rc = ly_document_error(db, "tiers.on_change", "must be \"reevaluate\" or \"keep\"");
	return rc;
}

int ly_document_tiers(loyal_db *db, json_t *tiers, struct program *program)
{
	if (!tiers)
		return LOYAL_OK;
	static const char *const keys[] = {"levels", "review", "grace_days", "drop", "on_change",
					   NULL};
	if (!json_is_object(tiers))
		return ly_document_error(db, "tiers", "must be an object with levels");
	int rc = ly_document_check_keys(db, tiers, "tiers", keys);
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

int ly_document_tier_coupons(loyal_db *db, struct program *program)
{
	for (size_t i = 0; i < program->ladder.count; i++) {
		tier_def *tier = &program->ladder.tiers[i];
		for (size_t c = 0; tier->coupon_name && c < program->coupon_count; c++)
			if (strcmp(program->coupons[c].name, tier->coupon_name) == 0)
				tier->coupon = (int)c;
		if (tier->coupon_name && tier->coupon < 0)
			return ly_db_fail(db, LOYAL_EJSON,
					  "program: tiers.levels[%zu].coupon: no coupon '%s' in the program",
					  i, tier->coupon_name);
	}
	return LOYAL_OK;
}
