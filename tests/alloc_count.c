/* alloc_count.c - counts the library's live allocations for the tests that need to see them
 * (no leak after a fault, constant memory while streaming), by wrapping its allocator at link
 * time (-Wl,--wrap=ly_mem_alloc,...: see the Makefile), so that the library keeps no count. */
#include "support.h"

#include <stdatomic.h>
#include <stddef.h>

void *__real_ly_mem_alloc(size_t size);
void *__real_ly_mem_calloc(size_t count, size_t size);
void *__real_ly_mem_realloc(void *ptr, size_t size);
char *__real_ly_mem_strdup(const char *text);
void __real_ly_mem_free(void *ptr);
void *__wrap_ly_mem_alloc(size_t size);
void *__wrap_ly_mem_calloc(size_t count, size_t size);
void *__wrap_ly_mem_realloc(void *ptr, size_t size);
char *__wrap_ly_mem_strdup(const char *text);
void __wrap_ly_mem_free(void *ptr);

static atomic_long live;

long test_live_allocations(void)
{
	return atomic_load(&live);
}

static void *counted(void *ptr)
{
	if (ptr)
		atomic_fetch_add(&live, 1);
	return ptr;
}

void *__wrap_ly_mem_alloc(size_t size)
{
	return counted(__real_ly_mem_alloc(size));
}

void *__wrap_ly_mem_calloc(size_t count, size_t size)
{
	return counted(__real_ly_mem_calloc(count, size));
}

void *__wrap_ly_mem_realloc(void *ptr, size_t size)
{
	void *grown = __real_ly_mem_realloc(ptr, size);
	return ptr ? grown : counted(grown);
}

char *__wrap_ly_mem_strdup(const char *text)
{
	return counted(__real_ly_mem_strdup(text));
}

void __wrap_ly_mem_free(void *ptr)
{
	if (ptr)
		atomic_fetch_sub(&live, 1);
	__real_ly_mem_free(ptr);
}
