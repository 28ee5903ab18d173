/* document_segments.c - reading the program's segments and leaderboards. */
#include "engine/document.h"

#include <stdio.h>
#include <string.h>

int ly_document_segments(loyal_db *db, json_t *segments, struct program *program)
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
		rc = json_is_object(object) ? ly_document_check_keys(db, object, path, keys)
					    : ly_document_error(db, path, "must be an object");
		if (rc == LOYAL_OK)
			rc = ly_document_name(db, object, path, &segment->name);
		snprintf(at, sizeof at, "%s.criterion", path);
		if (rc == LOYAL_OK)
			rc = ly_document_compile(db, program, json_object_get(object, "criterion"), at, true,
					   &segment->criterion);
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->segments[j].name, segment->name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
					     "program: %s.name: '%s' is already segments[%zu]", path,
					     segment->name, j);
	}
	return rc;
}

/* "measure": {"count": "post"} | {"sum": "purchase.amount"} | {"earned": "points"}. */
static int parse_measure(loyal_db *db, const struct program *program, json_t *measure,
			 const char *path, leaderboard_def *board)
{
	char at[64];
	snprintf(at, sizeof at, "%s.measure", path);
	const char *kinds[] = {"count", "sum", "earned"};
	json_t *value = NULL;
	int found = 0;
	for (int k = 0; k < 3 && json_is_object(measure); k++)
		if (json_object_get(measure, kinds[k])) {
			board->measure = (enum board_measure)k;
			value = json_object_get(measure, kinds[k]);
			found++;
		}
	const char *text = json_string_value(value);
	if (found != 1 || json_object_size(measure) != 1 || !text)
		return ly_document_error(db, at, "must be one of {\"count\": type}, {\"sum\":"
						 " \"type.property\"}, {\"earned\": currency}");
	if (board->measure == BOARD_EARNED) {
		for (board->currency = 0; board->currency < program->currency_count; board->currency++)
			if (strcmp(program->currencies[board->currency].name, text) == 0)
				return LOYAL_OK;
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.earned: no currency '%s'", at, text);
	}
	const char *dot = strchr(text, '.');
	size_t type_length = board->measure == BOARD_SUM && dot ? (size_t)(dot - text) : strlen(text);
	char type[72];
	snprintf(type, sizeof type, "%.*s", (int)(type_length < 71 ? type_length : 71), text);
	if ((board->measure == BOARD_SUM) != (dot != NULL) || !ly_document_valid_type(type) ||
	    (dot && !ly_document_valid_type(dot + 1)))
		return ly_db_fail(db, LOYAL_EJSON, "program: %s.%s: must be %s", at,
				  kinds[board->measure],
				  board->measure == BOARD_SUM ? "\"type.property\"" : "an event type");
	int rc = ly_document_copy_text(db, type, &board->type);
	if (rc == LOYAL_OK && dot)
		rc = ly_document_copy_text(db, dot + 1, &board->property);
	return rc;
}

int ly_document_leaderboards(loyal_db *db, json_t *boards, struct program *program)
{
	if (!boards)
		return LOYAL_OK;
	if (!json_is_array(boards) || json_array_size(boards) > LEADERBOARDS_MAX)
		return ly_db_fail(db, LOYAL_EJSON,
				  "program: leaderboards: must be an array of at most %d",
				  LEADERBOARDS_MAX);
	program->leaderboards = ly_mem_calloc(json_array_size(boards), sizeof *program->leaderboards);
	if (!program->leaderboards)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading the program");
	int rc = LOYAL_OK;
	for (size_t i = 0; i < json_array_size(boards) && rc == LOYAL_OK; i++) {
		char path[40], at[64];
		snprintf(path, sizeof path, "leaderboards[%zu]", i);
		json_t *object = json_array_get(boards, i);
		static const char *const keys[] = {"name", "measure", "period", "scope", NULL};
		leaderboard_def *board = &program->leaderboards[i];
		program->leaderboard_count = i + 1;
		rc = json_is_object(object) ? ly_document_check_keys(db, object, path, keys)
					    : ly_document_error(db, path, "must be an object");
		if (rc == LOYAL_OK)
			rc = ly_document_name(db, object, path, &board->name);
		if (rc == LOYAL_OK)
			rc = parse_measure(db, program, json_object_get(object, "measure"), path, board);
		static const struct {
			const char *name;
			enum cap_period per;
		} periods[] = {{"day", CAP_DAY}, {"week", CAP_WEEK}, {"month", CAP_MONTH},
			       {"all", CAP_EVER}};
		json_t *period = json_object_get(object, "period");
		bool known = !period; /* none: all time */
		board->per = CAP_EVER;
		for (size_t p = 0; p < sizeof periods / sizeof *periods; p++)
			if (json_is_string(period) &&
			    strcmp(json_string_value(period), periods[p].name) == 0) {
				board->per = periods[p].per;
				known = true;
			}
		if (rc == LOYAL_OK && !known)
			rc = ly_db_fail(db, LOYAL_EJSON,
					"program: %s.period: must be \"day\", \"week\", \"month\" or"
					" \"all\"",
					path);
		snprintf(at, sizeof at, "%s.scope", path);
		if (rc == LOYAL_OK && json_object_get(object, "scope"))
			rc = ly_document_compile(db, program, json_object_get(object, "scope"), at, true,
						 &board->scope);
		for (size_t j = 0; j < i && rc == LOYAL_OK; j++)
			if (strcmp(program->leaderboards[j].name, board->name) == 0)
				rc = ly_db_fail(db, LOYAL_EJSON,
						"program: %s.name: '%s' is already leaderboards[%zu]",
						path, board->name, j);
	}
	return rc;
}
