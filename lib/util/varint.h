/* varint.h - the integers of the engine's compact records (a member row's blobs, a stored
 * event outcome): zigzag LEB128, so that small values of either sign take one byte. With
 * `instant`, never (INT64_MAX) is 0 and every other value is shifted by one. */
#ifndef LOYAL_VARINT_H
#define LOYAL_VARINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes ly_varint_put writes. */
#define VARINT_MAX 10

/* Writes value at `at` (at least VARINT_MAX bytes there); returns how many bytes it took. */
size_t ly_varint_put(unsigned char *at, int64_t value, bool instant);

/* The value of a varint's bits, undoing the zigzag (and with `instant`, the shift). */
static inline int64_t ly_varint_value(uint64_t bits, bool instant)
{
	if (instant && bits == 0)
		return INT64_MAX;
	bits -= instant;
	return (int64_t)(bits >> 1) ^ -(int64_t)(bits & 1);
}

/* Reads the integer at *at (before end) into *out, moving *at past it; false when the bytes
 * are cut short or too long. */
static inline bool ly_varint_get(const unsigned char **at, const unsigned char *end, bool instant,
				 int64_t *out)
{
	if (*at < end && !(**at & 0x80)) { /* one byte: most of the values stored */
		*out = ly_varint_value(*(*at)++, instant);
		return true;
	}
	uint64_t bits = 0;
	for (int shift = 0; *at < end && shift < 64; shift += 7) {
		unsigned char byte = *(*at)++;
		bits |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*out = ly_varint_value(bits, instant);
			return true;
		}
	}
	return false; /* cut short or too long */
}

#endif /* LOYAL_VARINT_H */
