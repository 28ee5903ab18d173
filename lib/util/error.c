/* error.c - recording failures in an error sink. */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int ly_failv(ly_error *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	err->replayed = false;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	return code;
}

int ly_fail(ly_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ly_failv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void ly_error_clear(ly_error *err)
{
	err->code = LOYAL_OK;
	err->replayed = false;
	strcpy(err->message, "ok");
}
