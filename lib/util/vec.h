/* vec.h - growable vectors: a struct with `items`, `count` and `capacity`. */
#ifndef LOYAL_UTIL_VEC_H
#define LOYAL_UTIL_VEC_H

#include <stddef.h>

/* Grows a vector by one zeroed item; returns it, or NULL when memory runs out (the vector is
 * then unchanged). items_field is the address of the vector's item pointer (any object pointer
 * type); the items are ly_mem_* memory. Not thread-safe for one vector. */
void *ly_vec_push(void *items_field, size_t *count, size_t *capacity, size_t item_size);
#define VEC_PUSH(vec) ly_vec_push(&(vec)->items, &(vec)->count, &(vec)->capacity, \
			       sizeof *(vec)->items)

#endif /* LOYAL_UTIL_VEC_H */
