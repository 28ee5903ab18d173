/* output.c - answers: the engine's JSON taken as the answer, printed as one line of JSON with
 * RFC 3339 times, or for people as cards and aligned tables in the program's time zone. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *parse_json(const char *text)
{
	return json_loads(text, JSON_DECODE_ANY, NULL);
}

int take_json(cli *c, int rc, char **json)
{
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = parse_json(*json);
	loyal_free(*json);
	*json = NULL;
	return c->out ? 0 : complain(c, EXIT_INTERNAL, "the engine's answer is not JSON");
}

int take_rows(cli *c, int rc, loyal_cursor **cursor)
{
	return take_some_rows(c, rc, cursor, INT64_MAX);
}

int take_some_rows(cli *c, int rc, loyal_cursor **cursor, int64_t limit)
{
	if (rc != LOYAL_OK)
		return fail(c, rc);
	json_t *rows = json_array();
	const char *row = NULL;
	for (int64_t n = 0; n < limit && (rc = loyal_cursor_next(*cursor, &row)) == LOYAL_OK && row;
	     n++)
		json_array_append_new(rows, parse_json(row));
	loyal_cursor_free(*cursor);
	*cursor = NULL;
	if (rc != LOYAL_OK) {
		json_decref(rows);
		return fail(c, rc);
	}
	c->out = rows;
	return 0;
}

/* The keys of times: "at", "*_at", "*_until", and these. Everything else that is a number is a
 * count, an amount or an id. */
static const char *const time_keys[] = {"until",	 "since", "next_review", "period",
					"cohort",	 "deadline", "valid_from", "by",
					"period_start", "from",	 "to", "month",
					"start", "end"};

bool is_time_key(const char *key)
{
	size_t length = strlen(key);
	if (strcmp(key, "at") == 0 || (length > 3 && strcmp(key + length - 3, "_at") == 0) ||
	    (length > 6 && strcmp(key + length - 6, "_until") == 0))
		return true;
	for (size_t i = 0; i < sizeof time_keys / sizeof *time_keys; i++)
		if (strcmp(key, time_keys[i]) == 0)
			return true;
	return false;
}

/* "2026-12-01T10:00:00Z", with milliseconds when there are some. */
static void rfc3339(int64_t ms, char *out, size_t size)
{
	int64_t seconds = ms / 1000, rest = ms % 1000;
	if (rest < 0) {
		rest += 1000;
		seconds--;
	}
	time_t t = (time_t)seconds;
	struct tm parts;
	gmtime_r(&t, &parts);
	size_t used = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &parts);
	snprintf(out + used, size - used, rest ? ".%03dZ" : "Z", (int)rest);
}

/* A copy of value with every time (an integer under a time key) as an RFC 3339 string. */
static json_t *with_times(const json_t *value, const char *key)
{
	if (key && is_time_key(key) && json_is_integer(value)) {
		char text[40];
		rfc3339(json_integer_value(value), text, sizeof text);
		return json_string(text);
	}
	if (json_is_object(value)) {
		json_t *copy = json_object();
		const char *name;
		json_t *each;
		json_object_foreach((json_t *)value, name, each)
			json_object_set_new(copy, name, with_times(each, name));
		return copy;
	}
	if (json_is_array(value)) {
		json_t *copy = json_array();
		size_t i;
		json_t *each;
		json_array_foreach(value, i, each)
			json_array_append_new(copy, with_times(each, key));
		return copy;
	}
	return json_deep_copy(value);
}

void print_json_line(FILE *out, const json_t *value)
{
	json_t *shown = with_times(value, NULL);
	char *text = json_dumps(shown, JSON_COMPACT | JSON_ENCODE_ANY);
	fprintf(out, "%s\n", text ? text : "null");
	free(text);
	json_decref(shown);
}

void print_answer(cli *c)
{
	if (c->printed || !c->out)
		return;
	if (c->json) {
		print_json_line(stdout, c->out);
	} else if (c->cmd->show) {
		c->cmd->show(c, c->out);
	} else {
		char *text = json_dumps(c->out, JSON_INDENT(2) | JSON_ENCODE_ANY);
		if (text)
			printf("%s\n", text);
		free(text);
	}
	fflush(stdout);
}

void show_time(cli *c, int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)((ms + zone_offset(c)) / 1000);
	struct tm parts;
	gmtime_r(&t, &parts);
	strftime(out, size, "%Y-%m-%d %H:%M", &parts);
}

void show_date(cli *c, int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)((ms + zone_offset(c)) / 1000);
	struct tm parts;
	gmtime_r(&t, &parts);
	strftime(out, size, "%Y-%m-%d", &parts);
}

void show_number(int64_t value, char *out, size_t size)
{
	char digits[32];
	snprintf(digits, sizeof digits, "%lld", (long long)value);
	const char *start = digits + (digits[0] == '-');
	size_t count = strlen(start), used = 0;
	if (digits[0] == '-' && used + 1 < size)
		out[used++] = '-';
	for (size_t i = 0; i < count && used + 2 < size; i++) {
		if (i && (count - i) % 3 == 0)
			out[used++] = ',';
		out[used++] = start[i];
	}
	out[used] = '\0';
}

void show_amount(int64_t value, const char *currency, char *out, size_t size)
{
	char number[40];
	show_number(value, number, sizeof number);
	snprintf(out, size, "%s %s", number, currency);
}

void show_value(cli *c, const char *key, const json_t *value, char *out, size_t size)
{
	if (!value || json_is_null(value)) {
		snprintf(out, size, "-");
	} else if (json_is_integer(value) && key && is_time_key(key)) {
		show_time(c, json_integer_value(value), out, size);
	} else if (json_is_integer(value)) {
		snprintf(out, size, "%lld", (long long)json_integer_value(value));
	} else if (json_is_real(value)) {
		snprintf(out, size, "%g", json_real_value(value));
	} else if (json_is_string(value)) {
		snprintf(out, size, "%s", json_string_value(value));
	} else if (json_is_boolean(value)) {
		snprintf(out, size, json_is_true(value) ? "yes" : "no");
	} else {
		char *text = json_dumps(value, JSON_COMPACT);
		snprintf(out, size, "%s", text ? text : "");
		free(text);
	}
}

void card(const char *label, const char *value)
{
	if (value)
		printf("%-16s %s\n", label, value);
}

int count_answer(cli *c, int rc, const char *key, int64_t n, const char *phrase)
{
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:I}", key, (json_int_t)n);
	c->phrase = phrase;
	return 0;
}

void show_count(cli *c, const json_t *out)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)out, key, value)
		printf("%lld %s\n", (long long)json_integer_value(value), c->phrase);
}

int64_t get_int(const json_t *object, const char *key)
{
	return json_integer_value(json_object_get(object, key));
}

const char *get_str(const json_t *object, const char *key)
{
	const char *text = json_string_value(json_object_get(object, key));
	return text ? text : "";
}

#define CELL 160

static void cell_text(cli *c, const json_t *row, const column *col, char *out)
{
	const json_t *value = json_object_get(row, col->key);
	if (col->kind == COL_AMOUNT && json_is_integer(value))
		show_amount(json_integer_value(value), get_str(row, "currency"), out, CELL);
	else if (col->kind == COL_TIME && json_is_integer(value))
		show_time(c, json_integer_value(value), out, CELL);
	else if (col->kind == COL_DATE && json_is_integer(value))
		show_date(c, json_integer_value(value), out, CELL);
	else if (col->kind == COL_NUMBER && json_is_integer(value))
		show_number(json_integer_value(value), out, CELL);
	else if (col->kind == COL_PERCENT && json_is_number(value))
		snprintf(out, CELL, "%.1f%%", json_number_value(value) * 100);
	else
		show_value(c, col->key, value, out, CELL);
}

void table(cli *c, const json_t *rows, const column *columns, size_t count, const char *empty)
{
	size_t n = json_array_size(rows);
	if (!n) {
		printf("%s\n", empty);
		return;
	}
	size_t width[16] = {0};
	char text[CELL];
	for (size_t k = 0; k < count && k < 16; k++)
		width[k] = strlen(columns[k].heading);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < count && k < 16; k++) {
			cell_text(c, json_array_get(rows, i), &columns[k], text);
			size_t length = strlen(text);
			width[k] = length > width[k] ? length : width[k];
		}
	for (size_t i = 0; i <= n; i++) {
		const json_t *row = i ? json_array_get(rows, i - 1) : NULL;
		for (size_t k = 0; k < count && k < 16; k++) {
			if (row)
				cell_text(c, row, &columns[k], text);
			else
				snprintf(text, sizeof text, "%s", columns[k].heading);
			bool right = columns[k].kind != COL_TEXT && columns[k].kind != COL_TIME &&
				     columns[k].kind != COL_DATE;
			bool last = k + 1 == count;
			if (right)
				printf("%*s", (int)width[k], text);
			else
				printf("%-*s", last ? 0 : (int)width[k], text);
			printf(last ? "\n" : "  ");
		}
	}
}
