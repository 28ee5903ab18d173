/* mem.c - the library's allocator: every allocation it owns passes here (so that tests can
 * fail or count them by wrapping these functions at link time). It keeps no state. */
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

void *ly_mem_alloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *ly_mem_calloc(size_t count, size_t size)
{
	return calloc(count ? count : 1, size ? size : 1);
}

void *ly_mem_realloc(void *ptr, size_t size)
{
	return realloc(ptr, size ? size : 1);
}

char *ly_mem_strdup(const char *text)
{
	size_t length = strlen(text) + 1;
	char *copy = malloc(length);
	if (copy)
		memcpy(copy, text, length);
	return copy;
}

void ly_mem_free(void *ptr)
{
	free(ptr);
}
