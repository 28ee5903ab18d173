/* handle.h - what the library's files share: the handle, error reporting and allocation. */
#ifndef LOYAL_INTERNAL_H
#define LOYAL_INTERNAL_H

#include "loyal.h"
#include "util/checked.h"
#include "util/error.h"
#include "util/mem.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdbool.h>

struct store;
struct program;

struct loyal_db {
	struct store *store;
	struct program *program; /* the cached program, see program.c */
	loyal_cursor *cursors;   /* the open cursors, detached on close */
	loyal_clock_fn clock;
	void *clock_ctx;
	unsigned int flags;
	bool open_failed;
	ly_error error; /* the last call's outcome: loyal_errcode, loyal_errmsg */
};

/* Records `code` and a printf-style message as the handle's last error; returns `code`. */
int ly_db_fail(loyal_db *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Starts a public call: checks the handle and clears the last error. */
int ly_db_enter(loyal_db *db);
/* The flags of an event or posting: 0 for a struct of version 1, which has none. */
static inline unsigned int ly_event_flags(const loyal_event *event)
{
	return event->version >= 2 ? event->flags : 0;
}
static inline unsigned int ly_posting_flags(const loyal_posting *posting)
{
	return posting->version >= 2 ? posting->flags : 0;
}
/* Ends a dry run's write transaction: undoes all the call did, keeping its code and message
 * (rc, returned). */
int ly_db_end_dry_run(loyal_db *db, int rc);
/* Returns the handle's current time in Unix milliseconds. */
int64_t ly_db_now(loyal_db *db);
/* A time a caller gives in `field`: `at`, or the clock's now for 0, into *out; LOYAL_EINVAL
 * (naming the field, and the time in ISO 8601) when negative or more than a day ahead of the
 * clock. */
int ly_db_time(loyal_db *db, int64_t at, const char *field, int64_t *out);
/* Writes Unix ms `ms` as ISO 8601 in UTC ("2026-03-01T09:30:00Z"), for messages. */
#define LY_ISO_TIME_SIZE 32
void ly_iso_time(int64_t ms, char out[LY_ISO_TIME_SIZE]);

#endif /* LOYAL_INTERNAL_H */
