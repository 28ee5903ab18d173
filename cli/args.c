/* args.c - the command line's values: whole numbers, ISO-8601 times in the program's zone,
 * the program's clock and zone, and input files. */
#define _DEFAULT_SOURCE /* timegm */
#define _XOPEN_SOURCE 700 /* strptime */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int parse_number(cli *c, const char *text, const char *what, int64_t minimum, int64_t maximum,
		 int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long value = (*text == '-' || (*text >= '0' && *text <= '9')) ? strtoll(text, &end, 10)
									 : 0;
	if (!end || end == text || *end)
		return complain(c, EXIT_USAGE, "%s must be a whole number, not '%s'", what, text);
	if (errno == ERANGE || value < minimum || value > maximum)
		return complain(c, EXIT_USAGE, "%s must be from %lld to %lld, not %s", what,
				(long long)minimum, (long long)maximum, text);
	*out = value;
	return 0;
}

int flag_number(cli *c, flag_id id, int64_t minimum, int64_t maximum, int64_t fallback,
		int64_t *out)
{
	*out = fallback;
	if (!c->flag[id])
		return 0;
	char what[48];
	snprintf(what, sizeof what, "--%s", cli_flags[id].name);
	return parse_number(c, c->flag[id], what, minimum, maximum, out);
}

int64_t now_ms(cli *c)
{
	int64_t now = 0;
	if (c->db)
		loyal_now(c->db, &now);
	return now;
}

/* "+08:00", "-0530", "Z": an offset in ms; returns the characters read, 0 when none is there. */
static size_t parse_offset(const char *text, int64_t *offset_ms)
{
	if (*text == 'Z' || *text == 'z') {
		*offset_ms = 0;
		return 1;
	}
	if (*text != '+' && *text != '-')
		return 0;
	int hours = 0, minutes = 0, used = 0;
	if (sscanf(text + 1, "%2d:%2d%n", &hours, &minutes, &used) != 2 &&
	    sscanf(text + 1, "%2d%2d%n", &hours, &minutes, &used) != 2)
		return 0;
	if (hours > 18 || minutes > 59)
		return 0;
	int64_t offset = (hours * 60 + minutes) * INT64_C(60000);
	*offset_ms = *text == '-' ? -offset : offset;
	return (size_t)used + 1;
}

int64_t zone_offset(cli *c)
{
	if (c->zone_known || !c->db)
		return c->utc_offset_ms;
	c->zone_known = true;
	char *text = NULL;
	if (loyal_program_get(c->db, &text) != LOYAL_OK)
		return 0;
	json_t *program = parse_json(text);
	loyal_free(text);
	const char *zone =
		json_string_value(json_object_get(json_object_get(program, "program"), "timezone"));
	if (zone && strcmp(zone, "UTC") != 0)
		parse_offset(zone, &c->utc_offset_ms);
	json_decref(program);
	return c->utc_offset_ms;
}

const char *read_time(cli *c, const char *text, int64_t *out_ms)
{
	struct tm parts = {0};
	const char *rest = strptime(text, "%Y-%m-%d", &parts);
	int64_t fraction_ms = 0, offset_ms = 0;
	bool zoned = false;
	if (rest && (*rest == 'T' || *rest == 't' || *rest == ' ')) {
		rest = strptime(rest + 1, "%H:%M", &parts);
		if (rest && *rest == ':')
			rest = strptime(rest + 1, "%S", &parts);
		if (rest && *rest == '.') {
			int digits = 0;
			for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
				if (digits < 3)
					fraction_ms = fraction_ms * 10 + (*rest - '0');
			for (; digits < 3; digits++)
				fraction_ms *= 10;
		}
	}
	if (rest && *rest) {
		size_t used = parse_offset(rest, &offset_ms);
		zoned = used > 0;
		rest = used && !rest[used] ? rest + used : NULL;
	}
	if (!rest || parts.tm_mday < 1)
		return "is not an ISO-8601 date or time (2026-12-01, 2026-12-01T18:30,"
		       " 2026-12-01T18:30:00Z, 2026-12-01T18:30:00+08:00)";
	/* strptime takes a 31st of any month, which timegm would roll over: it is checked. */
	struct tm normal = parts;
	time_t seconds = timegm(&normal);
	if (normal.tm_mday != parts.tm_mday || normal.tm_mon != parts.tm_mon)
		return "is not a day of the calendar";
	if (!zoned)
		offset_ms = zone_offset(c);
	*out_ms = (int64_t)seconds * 1000 + fraction_ms - offset_ms;
	return NULL;
}

int parse_time(cli *c, const char *text, const char *what, int64_t *out_ms)
{
	const char *problem = read_time(c, text, out_ms);
	return problem ? complain(c, EXIT_USAGE, "%s: '%s' %s", what, text, problem) : 0;
}

int flag_time(cli *c, flag_id id, int64_t fallback, int64_t *out_ms)
{
	*out_ms = fallback;
	if (!c->flag[id])
		return 0;
	char what[48];
	snprintf(what, sizeof what, "--%s", cli_flags[id].name);
	return parse_time(c, c->flag[id], what, out_ms);
}

FILE *open_input(cli *c, const char *path, int *status)
{
	if (strcmp(path, "-") == 0)
		return stdin;
	struct stat info;
	FILE *file = NULL;
	if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
		errno = EISDIR;
	else
		file = fopen(path, "rb");
	if (!file)
		*status = complain(c, EXIT_INTERNAL, "cannot read '%s': %s", path, strerror(errno));
	return file;
}

char *read_text(cli *c, const char *path, int *status)
{
	FILE *file = open_input(c, path, status);
	if (!file)
		return NULL;
	size_t used = 0, capacity = 4096;
	char *text = malloc(capacity);
	while (text) {
		used += fread(text + used, 1, capacity - used - 1, file);
		if (used < capacity - 1)
			break;
		char *grown = realloc(text, capacity * 2);
		if (!grown) {
			free(text);
			text = NULL;
			break;
		}
		text = grown;
		capacity *= 2;
	}
	int read_errno = errno;
	if (text && ferror(file)) {
		*status = complain(c, EXIT_INTERNAL, "cannot read '%s': %s", path,
				   strerror(read_errno));
		free(text);
		text = NULL;
	} else if (text && memchr(text, '\0', used)) {
		*status = complain(c, EXIT_DATA, "'%s' holds a NUL byte: it is not a text file",
				   path);
		free(text);
		text = NULL;
	} else if (text) {
		text[used] = '\0';
	} else {
		*status = complain(c, EXIT_INTERNAL, "out of memory reading '%s'", path);
	}
	if (file != stdin)
		fclose(file);
	return text;
}

int window_flags(cli *c, int64_t *from, int64_t *to, int64_t *limit)
{
	int status = flag_time(c, F_FROM, now_ms(c), from);
	if (!status)
		status = flag_time(c, F_TO, *from + 30 * DAY_MS, to);
	if (!status)
		status = flag_number(c, F_LIMIT, 1, INT64_MAX, INT64_MAX, limit);
	return status;
}
