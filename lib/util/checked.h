/* checked.h - 64-bit arithmetic that fails instead of wrapping. */
#ifndef LOYAL_CHECKED_H
#define LOYAL_CHECKED_H

#include "util/error.h"

#include <stdint.h>

/* Adds delta to *value; LOYAL_EOVERFLOW in err (naming what) instead of wrapping, *value then
 * unchanged. */
int ly_add_checked(ly_error *err, int64_t *value, int64_t delta, const char *what);

#endif /* LOYAL_CHECKED_H */
