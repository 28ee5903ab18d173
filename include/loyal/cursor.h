/* loyal/cursor.h - cursors: how every listing streams its rows in constant memory. */
#ifndef LOYAL_CURSOR_H
#define LOYAL_CURSOR_H

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A position in a listing (a statement, a segment's members...). Made by the call that lists,
 * owned by the caller, released with loyal_cursor_free(). A cursor belongs to its handle: use it
 * from the thread that uses the handle. Closing the handle first is allowed: the cursor then
 * returns LOYAL_EMISUSE from loyal_cursor_next and must still be freed. */
typedef struct loyal_cursor loyal_cursor;

/* Moves to the next row. On LOYAL_OK, *out_json is the row as a JSON object, or NULL when the
 * listing is exhausted; the text is borrowed, valid until the next call on the cursor or its
 * release. Errors: LOYAL_EINVAL (NULL argument), LOYAL_EMISUSE (the handle was closed), and the
 * storage errors of the listing call (LOYAL_EIO, LOYAL_ENOMEM...); the handle's loyal_errmsg()
 * says more. */
LOYAL_API int loyal_cursor_next(loyal_cursor *cursor, const char **out_json);

/* Releases the cursor. Accepts NULL. */
LOYAL_API void loyal_cursor_free(loyal_cursor *cursor);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_CURSOR_H */
