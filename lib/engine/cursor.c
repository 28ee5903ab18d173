/* cursor.c - cursors: stepping, releasing, and outliving their handle safely. */
#include "engine/cursor.h"

loyal_cursor *ly_cursor_new(loyal_db *db, size_t size, cursor_step_fn step)
{
	loyal_cursor *cursor = ly_mem_calloc(1, size);
	if (!cursor) {
		ly_db_fail(db, LOYAL_ENOMEM, "out of memory making a cursor");
		return NULL;
	}
	cursor->db = db;
	cursor->step = step;
	cursor->next_open = db->cursors;
	if (db->cursors)
		db->cursors->prev_open = cursor;
	db->cursors = cursor;
	return cursor;
}

void ly_cursor_detach_all(loyal_db *db)
{
	for (loyal_cursor *cursor = db->cursors; cursor; cursor = cursor->next_open)
		cursor->db = NULL;
	db->cursors = NULL;
}
