/* checked.c - 64-bit arithmetic that fails instead of wrapping. */
#include "util/checked.h"

int ly_add_checked(ly_error *err, int64_t *value, int64_t delta, const char *what)
{
	int64_t sum;
	if (__builtin_add_overflow(*value, delta, &sum))
		return ly_fail(err, LOYAL_EOVERFLOW, "%s would overflow: %lld + %lld", what,
			       (long long)*value, (long long)delta);
	*value = sum;
	return LOYAL_OK;
}
