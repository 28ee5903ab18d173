/* cursors.c - the public calls of cursors: stepping and releasing, safely after their
 * handle closed. */
#include "engine/cursor.h"

int loyal_cursor_next(loyal_cursor *cursor, const char **out_json)
{
	if (!cursor || !out_json)
		return LOYAL_EINVAL;
	*out_json = NULL;
	if (!cursor->db)
		return LOYAL_EMISUSE;
	int rc = ly_db_enter(cursor->db);
	if (rc != LOYAL_OK)
		return rc;
	ly_mem_free(cursor->row);
	cursor->row = NULL;
	if (cursor->done)
		return LOYAL_OK;
	rc = cursor->step(cursor, &cursor->row);
	cursor->done = rc != LOYAL_OK || !cursor->row;
	*out_json = cursor->row;
	return rc;
}

void loyal_cursor_free(loyal_cursor *cursor)
{
	if (!cursor)
		return;
	if (cursor->db) {
		if (cursor->prev_open)
			cursor->prev_open->next_open = cursor->next_open;
		else
			cursor->db->cursors = cursor->next_open;
		if (cursor->next_open)
			cursor->next_open->prev_open = cursor->prev_open;
	}
	if (cursor->release)
		cursor->release(cursor);
	ly_mem_free(cursor->row);
	ly_mem_free(cursor);
}
