/* text.h - checking the strings callers pass. */
#ifndef LOYAL_TEXT_H
#define LOYAL_TEXT_H

#include "util/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Member ids, keys and other names: at most this many bytes. */
#define TEXT_MAX_BYTES 256

/* Checks a caller's string: NULL (allowed unless required), empty, longer than max_bytes, not
 * UTF-8; LOYAL_EINVAL in err names it as `name`. */
int ly_text_check(ly_error *err, const char *value, const char *name, bool required,
		  size_t max_bytes);

/* Whether `length` bytes are UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
bool ly_text_is_utf8(const void *bytes, size_t length);

/* Whether text is a name of the program: 1 to max_bytes characters of a-z, 0-9, '_' and '-'
 * (and '.' with dots: event types). */
bool ly_text_is_name(const char *text, size_t max_bytes, bool dots);

#endif /* LOYAL_TEXT_H */
