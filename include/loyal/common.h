/* loyal/common.h - version, export macro, error codes and memory release shared by every module. */
#ifndef LOYAL_COMMON_H
#define LOYAL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* LOYAL_API marks the exported functions; everything else in the library is hidden. */
#if defined(LOYAL_BUILDING) && defined(__GNUC__)
#define LOYAL_API __attribute__((visibility("default")))
#else
#define LOYAL_API
#endif

/* The library version. The Makefile reads these lines: they are the one source of truth. A
 * change of LOYAL_VERSION_MAJOR is an ABI break and moves the SONAME (libloyal.so.MAJOR). */
#define LOYAL_VERSION_MAJOR 0
#define LOYAL_VERSION_MINOR 1
#define LOYAL_VERSION_PATCH 0
#define LOYAL_VERSION_STRING "0.1.0"
#define LOYAL_VERSION_NUMBER \
	(LOYAL_VERSION_MAJOR * 1000000 + LOYAL_VERSION_MINOR * 1000 + LOYAL_VERSION_PATCH)

/* Returns the version string of the linked library ("0.1.0"), a static string. Compare it with
 * LOYAL_VERSION_STRING to detect a header/library mismatch. Thread-safe. */
LOYAL_API const char *loyal_version(void);

/* Returns LOYAL_VERSION_NUMBER of the linked library. Thread-safe. */
LOYAL_API int loyal_version_number(void);

/* Result codes. Every fallible call returns LOYAL_OK or one of these negative codes. Values are
 * explicit and only ever appended: a code never changes its number or meaning. */
enum loyal_error {
	LOYAL_OK = 0,
	LOYAL_EINVAL = -1,       /* an argument is NULL, empty, out of range or malformed */
	LOYAL_ENOMEM = -2,       /* memory could not be allocated */
	LOYAL_EIO = -3,          /* the database file could not be read or written */
	LOYAL_ENOTADB = -4,      /* the file is not a loyal database (text, foreign SQLite, empty) */
	LOYAL_EVERSION = -5,     /* the file's schema is newer than this library, or needs migration */
	LOYAL_EREADONLY = -6,    /* a write was attempted on a handle opened read-only */
	LOYAL_EBUSY = -7,        /* another writer held the file for longer than the busy timeout */
	LOYAL_ENOTFOUND = -8,    /* the named file, member, currency, transaction... does not exist */
	LOYAL_ECONFLICT = -9,    /* an idempotency key was reused for a different request */
	LOYAL_EINSUFFICIENT = -10, /* not enough available points */
	LOYAL_EOVERFLOW = -11,   /* an amount or a sum would leave the int64 range */
	LOYAL_EBLOCKED = -12,    /* the member is blocked and can neither earn nor spend */
	LOYAL_EJSON = -13,       /* a JSON document is malformed or has a wrong field */
	LOYAL_ESYNTAX = -14,     /* a criteria expression has a syntax or type error */
	LOYAL_ECORRUPT = -15,    /* the database is damaged or breaks an invariant */
	LOYAL_ESTATE = -16,      /* the object is not in a state that allows the call */
	LOYAL_EMISUSE = -17,     /* the handle cannot be used: its open failed */
	LOYAL_EINTERNAL = -18,   /* an unexpected internal failure (a bug: please report it) */
	LOYAL_ESOLDOUT = -19,    /* a reward has no stock left for the quantity asked */
	LOYAL_ELIMIT = -20,      /* a member reached a reward's limit for the period */
	LOYAL_ENOTELIGIBLE = -21, /* the member may not redeem the reward (who or when) */
	LOYAL_EINTERRUPTED = -22  /* loyal_interrupt stopped the call, which wrote nothing */
};

/* A flag of loyal_event.flags and loyal_posting.flags (their version 2): a dry run. The call
 * checks and computes exactly what it would (its refusals included), returns that outcome, and
 * writes nothing: no member created, no point, counter, key or happening recorded. A dry run
 * of a key already used returns the recorded outcome, as a retry does. */
#define LOYAL_DRY_RUN 0x1u

/* What any call on a handle may return besides the errors its own comment lists, so that those
 * lists name only what is particular to the call:
 *
 *   LOYAL_EINVAL    a NULL handle (without a message: there is no handle to hold one)
 *   LOYAL_EMISUSE   a handle whose open failed
 *   LOYAL_ENOMEM    memory ran out
 *   LOYAL_EIO       the file could not be read or written (a full disk among them)
 *   LOYAL_EBUSY     another writer held the file past the busy timeout (a call that writes)
 *   LOYAL_EREADONLY the handle was opened read-only (a call that writes)
 *   LOYAL_ECORRUPT  the file is damaged; from the first damage a handle sees, its writes fail
 *
 * Every failure leaves the handle's loyal_errmsg naming the problem and changes nothing. */

/* Returns the static name of a result code ("LOYAL_EINVAL"), or "LOYAL_EUNKNOWN" for a value
 * that is not a code. Never NULL. Thread-safe. */
LOYAL_API const char *loyal_errstr(int code);

/* Releases memory the library allocated and handed to the caller (JSON text, strings). Accepts
 * NULL. Thread-safe. */
LOYAL_API void loyal_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* LOYAL_COMMON_H */
