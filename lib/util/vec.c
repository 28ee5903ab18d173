/* vec.c - growable vectors. */
#include "util/vec.h"
#include "util/mem.h"

#include <stdint.h>
#include <string.h>

void *ly_vec_push(void *items_field, size_t *count, size_t *capacity, size_t item_size)
{
	char *items;
	memcpy(&items, items_field, sizeof items);
	if (*count == *capacity) {
		size_t grown = *capacity ? *capacity * 2 : 8;
		if (grown > SIZE_MAX / item_size)
			return NULL;
		char *larger = ly_mem_realloc(items, grown * item_size);
		if (!larger)
			return NULL;
		items = larger;
		memcpy(items_field, &items, sizeof items);
		*capacity = grown;
	}
	char *slot = items + *count * item_size;
	memset(slot, 0, item_size);
	(*count)++;
	return slot;
}
