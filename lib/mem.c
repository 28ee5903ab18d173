/* mem.c - the library's allocator: every allocation it owns passes here. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *mem_alloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *mem_calloc(size_t count, size_t size)
{
	return calloc(count ? count : 1, size ? size : 1);
}

void *mem_realloc(void *ptr, size_t size)
{
	return realloc(ptr, size ? size : 1);
}

char *mem_strdup(const char *text)
{
	size_t length = strlen(text) + 1;
	char *copy = mem_alloc(length);
	if (copy)
		memcpy(copy, text, length);
	return copy;
}

void mem_free(void *ptr)
{
	free(ptr);
}
