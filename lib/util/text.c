/* text.c - checking the strings callers pass: present, bounded, valid UTF-8. */
#include "util/text.h"

#include <stdint.h>

#include <string.h>

bool ly_text_is_utf8(const void *bytes, size_t length)
{
	const unsigned char *text = bytes;
	size_t i = 0;
	while (i < length) {
		unsigned char lead = text[i];
		size_t extra;
		uint32_t point;
		if (lead < 0x80) {
			i++;
			continue;
		} else if ((lead & 0xE0) == 0xC0) {
			extra = 1;
			point = lead & 0x1F;
		} else if ((lead & 0xF0) == 0xE0) {
			extra = 2;
			point = lead & 0x0F;
		} else if ((lead & 0xF8) == 0xF0) {
			extra = 3;
			point = lead & 0x07;
		} else {
			return false;
		}
		if (extra >= length - i)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((text[i + k] & 0xC0) != 0x80)
				return false;
			point = (point << 6) | (text[i + k] & 0x3F);
		}
		/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
		static const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
		if (point < smallest[extra] || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF))
			return false;
		i += extra + 1;
	}
	return true;
}

int ly_text_check(ly_error *err, const char *value, const char *name, bool required,
	       size_t max_bytes)
{
	if (!value)
		return required ? ly_fail(err, LOYAL_EINVAL, "%s is NULL", name) : LOYAL_OK;
	size_t length = strnlen(value, max_bytes + 1);
	if (length == 0)
		return ly_fail(err, LOYAL_EINVAL, "%s is empty", name);
	if (length > max_bytes)
		return ly_fail(err, LOYAL_EINVAL, "%s is longer than %zu bytes", name, max_bytes);
	if (!ly_text_is_utf8(value, length))
		return ly_fail(err, LOYAL_EINVAL, "%s is not valid UTF-8", name);
	return LOYAL_OK;
}

bool ly_text_is_name(const char *text, size_t max_bytes, bool dots)
{
	size_t length = strlen(text);
	if (length == 0 || length > max_bytes)
		return false;
	for (const char *c = text; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '-' || (dots && *c == '.')))
			return false;
	return true;
}
