/* document_coupons.c - reading the program's coupons: what each is worth to the host, how long
 * a code is valid, how many uses it has, who may receive it, and where its codes come from. */
#include "engine/document.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_USES 1000

static int parse_validity(loyal_db *db, json_t *object, const char *path, coupon_def *coupon)
{
	json_t *days = json_object_get(object, "valid_days"), *window = json_object_get(object, "valid");
	char at[160];
	snprintf(at, sizeof at, "%.100s", path);
	if (days && window)
		return ly_document_error(db, at, "takes valid_days or valid, not both");
	coupon->valid_from = INT64_MIN;
	coupon->valid_until = INT64_MAX;
	if (window) {
		static const char *const keys[] = {"from", "until", NULL};
		snprintf(at, sizeof at, "%.100s.valid", path);
		int rc = json_is_object(window) ? ly_document_check_keys(db, window, at, keys)
						: ly_document_error(db, at, "must be {\"from\", \"until\"}");
		if (rc == LOYAL_OK && json_object_get(window, "from"))
			rc = ly_document_instant(db, json_object_get(window, "from"), at,
						 &coupon->valid_from);
		if (rc == LOYAL_OK && json_object_get(window, "until"))
			rc = ly_document_instant(db, json_object_get(window, "until"), at,
						 &coupon->valid_until);
		if (rc == LOYAL_OK && coupon->valid_from >= coupon->valid_until)
			rc = ly_document_error(db, at, "from must come before until");
		return rc;
	}
	int64_t valid_days = 30;
	int rc = days ? ly_document_count(db, object, "valid_days", path, 1, 3650, &valid_days)
		      : LOYAL_OK;
	coupon->valid_ms = valid_days * DAY_MS;
	return rc;
}

/* Where codes come from: "generated" (the default: code_length characters after a prefix)
 * or "pool" (imported with loyal_coupon_import). */
static int parse_codes(loyal_db *db, json_t *object, const char *path, coupon_def *coupon)
{
	json_t *codes = json_object_get(object, "codes");
	const char *source = codes ? json_string_value(codes) : "generated";
	char at[160];
	snprintf(at, sizeof at, "%.100s.codes", path);
	if (!source || (strcmp(source, "generated") != 0 && strcmp(source, "pool") != 0))
		return ly_document_error(db, at, "must be \"generated\" or \"pool\"");
	coupon->pool = strcmp(source, "pool") == 0;
	json_t *length = json_object_get(object, "code_length"), *prefix = json_object_get(object, "prefix");
	snprintf(at, sizeof at, "%.100s.%s", path, length ? "code_length" : "prefix");
	if (coupon->pool && (length || prefix))
		return ly_document_error(db, at, "applies to generated codes only");
	int64_t characters = 10;
	int rc = length ? ly_document_count(db, object, "code_length", path, 6, 32, &characters)
			: LOYAL_OK;
	coupon->code_length = (int)characters;
	const char *text = prefix ? json_string_value(prefix) : "";
	bool valid = text && strlen(text) < sizeof coupon->prefix;
	for (const char *c = text; valid && *c; c++)
		valid = (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-';
	snprintf(at, sizeof at, "%.100s.prefix", path);
	if (rc == LOYAL_OK && !valid)
		rc = ly_document_error(db, at, "must be at most 16 characters of A-Z, 0-9 and -");
	if (rc == LOYAL_OK)
		snprintf(coupon->prefix, sizeof coupon->prefix, "%s", text);
	return rc;
}

static int parse_coupon(loyal_db *db, struct program *program, json_t *object, const char *path,
			coupon_def *coupon)
{
	static const char *const keys[] = {"name",     "title", "value",  "valid_days",
					   "valid",    "uses",  "eligible", "codes",
					   "code_length", "prefix", NULL};
	if (!json_is_object(object))
		return ly_document_error(db, path, "must be an object");
	int rc = ly_document_check_keys(db, object, path, keys);
	if (rc == LOYAL_OK)
		rc = ly_document_name(db, object, path, &coupon->name);
	json_t *title = json_object_get(object, "title");
	char at[160];
	snprintf(at, sizeof at, "%.100s.title", path);
	if (rc == LOYAL_OK && title &&
	    (!json_is_string(title) || json_string_length(title) == 0 || json_string_length(title) > 256))
		rc = ly_document_error(db, at, "must be a text of 1-256 bytes");
	if (rc == LOYAL_OK)
		rc = ly_document_copy_text(db, title ? json_string_value(title) : coupon->name,
					   &coupon->title);
	json_t *value = json_object_get(object, "value");
	snprintf(at, sizeof at, "%.100s.value", path);
	if (rc == LOYAL_OK && value && !json_is_string(value) && !json_is_object(value))
		rc = ly_document_error(db, at, "must be a text (\"10% off\") or an object (the host's)");
	if (rc == LOYAL_OK) {
		coupon->value = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
				      : NULL;
		if (!value && (coupon->value = malloc(5))) /* freed with free(), as jansson's */
			memcpy(coupon->value, "null", 5);
		if (!coupon->value)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	}
	if (rc == LOYAL_OK)
		rc = parse_validity(db, object, path, coupon);
	coupon->uses = 1;
	if (rc == LOYAL_OK && json_object_get(object, "uses"))
		rc = ly_document_count(db, object, "uses", path, 1, MAX_USES, &coupon->uses);
	json_t *eligible = json_object_get(object, "eligible");
	snprintf(at, sizeof at, "%.100s.eligible", path);
	if (rc == LOYAL_OK && eligible)
		rc = ly_document_compile(db, program, eligible, at, true, &coupon->eligible);
	return rc == LOYAL_OK ? parse_codes(db, object, path, coupon) : rc;
}

int ly_document_coupons(loyal_db *db, json_t *coupons, struct program *program)
{
	if (!coupons)
		return LOYAL_OK;
	if (!json_is_array(coupons) || json_array_size(coupons) > COUPONS_MAX)
		return ly_db_fail(db, LOYAL_EJSON, "program: coupons: must be an array of at most %d",
				  COUPONS_MAX);
	program->coupons = ly_mem_calloc(json_array_size(coupons) + 1, sizeof *program->coupons);
	if (!program->coupons)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(coupons) && rc == LOYAL_OK; i++) {
		char path[40];
		snprintf(path, sizeof path, "coupons[%zu]", i);
		program->coupon_count = i + 1;
		rc = parse_coupon(db, program, json_array_get(coupons, i), path, &program->coupons[i]);
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->coupons[j].name, program->coupons[i].name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
						"program: %s.name: '%s' is already coupons[%zu]", path,
						program->coupons[i].name, j);
	}
	return rc;
}
