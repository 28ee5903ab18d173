/* faults.c - the fault switch and the allocators it fails (faults.h). */
#include "faults.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdlib.h>

fault_switch faults;

bool fault_now(enum fault_kind kind)
{
	if (!faults.armed || faults.kind != kind)
		return false;
	faults.operations++;
	if (faults.fired)
		return faults.persistent;
	if (faults.countdown-- > 0)
		return false;
	faults.fired = true;
	return true;
}

void fault_arm(enum fault_kind kind, long countdown, bool persistent)
{
	faults.kind = kind;
	faults.countdown = countdown;
	faults.persistent = persistent;
	faults.fired = false;
	faults.operations = 0;
	faults.armed = true;
}

void fault_disarm(void)
{
	faults.armed = false;
}

/* The library's own allocations: the test links with -Wl,--wrap=malloc,... */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

void *__wrap_malloc(size_t size)
{
	return fault_now(FAULT_ALLOC) ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
	return fault_now(FAULT_ALLOC) ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	return fault_now(FAULT_ALLOC) ? NULL : __real_realloc(ptr, size);
}

/* jansson's allocations (freed with free() by the library, so plain malloc underneath), except
 * inside its parser and its serializer: jansson 2.14 goes on after a failed allocation there
 * with a character or a key missing from its result (akheron/jansson#362 for the lexer; the
 * serializer drops an object key the same way), so failing one there tests jansson, not
 * loyal. The library's calls to json_loads, json_loadb and json_dumps are wrapped to know
 * when. */
static bool in_json_text;

json_t *__real_json_loads(const char *input, size_t flags, json_error_t *error);
json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error);
json_t *__real_json_loadb(const char *buffer, size_t length, size_t flags, json_error_t *error);
json_t *__wrap_json_loadb(const char *buffer, size_t length, size_t flags, json_error_t *error);
char *__real_json_dumps(const json_t *json, size_t flags);
char *__wrap_json_dumps(const json_t *json, size_t flags);

json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error)
{
	in_json_text = true;
	json_t *value = __real_json_loads(input, flags, error);
	in_json_text = false;
	return value;
}

json_t *__wrap_json_loadb(const char *buffer, size_t length, size_t flags, json_error_t *error)
{
	in_json_text = true;
	json_t *value = __real_json_loadb(buffer, length, flags, error);
	in_json_text = false;
	return value;
}

char *__wrap_json_dumps(const json_t *json, size_t flags)
{
	in_json_text = true;
	char *text = __real_json_dumps(json, flags);
	in_json_text = false;
	return text;
}

static void *json_fault_malloc(size_t size)
{
	return !in_json_text && fault_now(FAULT_ALLOC) ? NULL : __real_malloc(size);
}

/* SQLite's allocations. */
static sqlite3_mem_methods sqlite_memory;

static void *sqlite_fault_malloc(int size)
{
	return fault_now(FAULT_ALLOC) ? NULL : sqlite_memory.xMalloc(size);
}

static void *sqlite_fault_realloc(void *ptr, int size)
{
	return fault_now(FAULT_ALLOC) ? NULL : sqlite_memory.xRealloc(ptr, size);
}

bool fault_install_allocators(void)
{
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_memory) != SQLITE_OK)
		return false;
	sqlite3_mem_methods faulty = sqlite_memory;
	faulty.xMalloc = sqlite_fault_malloc;
	faulty.xRealloc = sqlite_fault_realloc;
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &faulty) != SQLITE_OK)
		return false;
	json_set_alloc_funcs(json_fault_malloc, free);
	return sqlite3_initialize() == SQLITE_OK;
}
