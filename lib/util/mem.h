/* mem.h - the library's allocator: every allocation it owns goes through these, so that tests
 * can inject failures and count them by wrapping them at link time (see mem.c). */
#ifndef LOYAL_MEM_H
#define LOYAL_MEM_H

#include <stddef.h>

void *ly_mem_alloc(size_t size);
void *ly_mem_calloc(size_t count, size_t size);
void *ly_mem_realloc(void *ptr, size_t size);
char *ly_mem_strdup(const char *text);
void ly_mem_free(void *ptr);

#endif /* LOYAL_MEM_H */
