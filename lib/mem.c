/* mem.c - the library's allocator: every allocation it owns passes here, and is counted. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Live allocations: what tests read to show that streaming calls run in constant memory. */
static atomic_long live_allocations;

long mem_live(void)
{
	return atomic_load(&live_allocations);
}

void *mem_alloc(size_t size)
{
	void *ptr = malloc(size ? size : 1);
	if (ptr)
		atomic_fetch_add(&live_allocations, 1);
	return ptr;
}

void *mem_calloc(size_t count, size_t size)
{
	void *ptr = calloc(count ? count : 1, size ? size : 1);
	if (ptr)
		atomic_fetch_add(&live_allocations, 1);
	return ptr;
}

void *mem_realloc(void *ptr, size_t size)
{
	void *grown = realloc(ptr, size ? size : 1);
	if (grown && !ptr)
		atomic_fetch_add(&live_allocations, 1);
	return grown;
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
	if (ptr)
		atomic_fetch_sub(&live_allocations, 1);
	free(ptr);
}
