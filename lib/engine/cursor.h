/* cursor.h - the shared machinery of cursors: each listing supplies a step function. */
#ifndef LOYAL_CURSOR_INTERNAL_H
#define LOYAL_CURSOR_INTERNAL_H

#include "engine/handle.h"

/* Produces the next row as allocated JSON text (ly_mem_alloc'd) in *row, or NULL at the end. */
typedef int (*cursor_step_fn)(loyal_cursor *cursor, char **row);

struct loyal_cursor {
	loyal_db *db; /* NULL once the handle is closed */
	loyal_cursor *prev_open, *next_open;
	cursor_step_fn step;
	void (*release)(loyal_cursor *cursor); /* frees what the listing holds, or NULL */
	char *row;
	bool done;
};

/* Allocates a cursor of `size` bytes (a struct that starts with loyal_cursor) and links it to
 * the handle, or returns NULL with LOYAL_ENOMEM recorded. */
loyal_cursor *ly_cursor_new(loyal_db *db, size_t size, cursor_step_fn step);
/* Called by loyal_close: every cursor of the handle forgets it. */
void ly_cursor_detach_all(loyal_db *db);

#endif /* LOYAL_CURSOR_INTERNAL_H */
