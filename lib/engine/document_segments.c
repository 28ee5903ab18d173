/* document_segments.c - reading the program's segments. */
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
