/* varint.c - zigzag LEB128 integers (varint.h). */
#include "util/varint.h"

size_t ly_varint_put(unsigned char *at, int64_t value, bool instant)
{
	uint64_t bits = (uint64_t)value << 1 ^ (uint64_t)(value >> 63);
	if (instant) /* never (INT64_MAX) is 0 */
		bits = value == INT64_MAX ? 0 : bits + 1;
	size_t n = 0;
	do {
		at[n++] = (unsigned char)((bits & 0x7f) | (bits > 0x7f ? 0x80 : 0));
		bits >>= 7;
	} while (bits);
	return n;
}
