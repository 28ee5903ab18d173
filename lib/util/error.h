/* error.h - where a failure is recorded: a code and a message naming the problem in the
 * caller's terms. Each handle owns one; the layers below the API write into it. */
#ifndef LOYAL_ERROR_H
#define LOYAL_ERROR_H

#include "loyal/common.h"

#include <stdbool.h>

#include <stdarg.h>

#define LY_ERROR_MESSAGE_SIZE 1024

typedef struct ly_error {
	int code; /* LOYAL_OK or a LOYAL_E* code */
	char message[LY_ERROR_MESSAGE_SIZE];
	bool replayed; /* the failure is a refusal recorded under the call's key, given again */
} ly_error;

/* Records `code` and a printf-style message in err (not a replay); returns `code`. */
int ly_fail(ly_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The va_list form of ly_fail. */
int ly_failv(ly_error *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Clears err to LOYAL_OK and "ok". */
void ly_error_clear(ly_error *err);

#endif /* LOYAL_ERROR_H */
