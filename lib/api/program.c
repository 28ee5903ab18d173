/* program.c - the public calls of the program: applying a document and reading it. */
#include "api/read.h"
#include "engine/program.h"
#include "store/store.h"
#include "util/json.h"

#include <string.h>

#define MAX_PROGRAM_BYTES (4 * 1024 * 1024)

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
		rc = ly_program_apply_document(db, document, out_version);
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
	int rc = ly_api_enter_json(db, out_json);
	if (rc != LOYAL_OK)
		return rc;
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
