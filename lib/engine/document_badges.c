/* document_badges.c - reading the program's badges and their levels. */
#include "criteria/criteria.h"
#include "engine/document.h"

#include <stdio.h>
#include <string.h>

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
	int rc = named ? ly_document_name(db, object, path, &level->name) : LOYAL_OK;
	snprintf(at, sizeof at, "%.100s.criterion", path);
	if (rc == LOYAL_OK)
		rc = ly_document_compile(db, program, json_object_get(object, "criterion"), at, true,
				   &level->criterion);
	if (rc == LOYAL_OK)
		ly_criteria_each_measure(level->criterion, add_type, badge);
	if (rc == LOYAL_OK)
		rc = ly_document_award(db, program, json_object_get(object, "award"), path,
				       &level->award);
	return rc;
}

static int parse_badge(loyal_db *db, struct program *program, json_t *object, const char *path,
		       badge_def *badge)
{
	static const char *const keys[] = {"name",      "criterion", "levels", "award",
					   "repeatable", "cooldown_days", "freezes", "active",
					   "after_revoke", NULL};
	int rc = json_is_object(object) ? ly_document_check_keys(db, object, path, keys)
					: ly_document_error(db, path, "must be an object");
	if (rc == LOYAL_OK)
		rc = ly_document_name(db, object, path, &badge->name);
	json_t *levels = json_object_get(object, "levels");
	bool plain = json_object_get(object, "criterion") != NULL;
	if (rc == LOYAL_OK && plain == (levels != NULL))
		rc = ly_document_error(db, path, "needs a criterion or levels, not both");
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
		rc = json_is_object(level) ? ly_document_check_keys(db, level, at, level_keys)
					   : ly_document_error(db, at, "must be an object");
		if (rc == LOYAL_OK)
			rc = parse_badge_level(db, program, level, at, true, badge);
	}
	int64_t cooldown = 0, freezes = 0;
	if (rc == LOYAL_OK && json_object_get(object, "cooldown_days"))
		rc = ly_document_count(db, object, "cooldown_days", path, 0, 3650, &cooldown);
	if (rc == LOYAL_OK && json_object_get(object, "freezes"))
		rc = ly_document_count(db, object, "freezes", path, 0, 31, &freezes);
	badge->cooldown_ms = cooldown * DAY_MS;
	badge->freezes = (int)freezes;
	json_t *repeatable = json_object_get(object, "repeatable");
	if (rc == LOYAL_OK && repeatable && !json_is_boolean(repeatable))
		rc = ly_db_fail(db, LOYAL_EJSON, "program: %s.repeatable: must be true or false", path);
	badge->repeatable = json_is_true(repeatable);
	json_t *after_revoke = json_object_get(object, "after_revoke");
	const char *revoke_text = json_string_value(after_revoke);
	if (rc == LOYAL_OK && after_revoke &&
	    (!revoke_text || (strcmp(revoke_text, "never") && strcmp(revoke_text, "earn_again"))))
		rc = ly_db_fail(db, LOYAL_EJSON,
				"program: %s.after_revoke: must be \"never\" or \"earn_again\"", path);
	badge->earn_again = revoke_text && strcmp(revoke_text, "earn_again") == 0;
	if (rc == LOYAL_OK)
		rc = ly_document_window(db, json_object_get(object, "active"), path, &badge->active_from,
				  &badge->active_until);
	return rc;
}

int ly_document_badges(loyal_db *db, json_t *badges, struct program *program)
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
