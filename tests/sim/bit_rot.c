/* bit_rot.c - what a flipped bit in a file does: `loyal-bit-rot FILE [FLIPS [SEED]]` copies a
 * loyal file (closed cleanly: no WAL beside it) FLIPS times (100 by default), flips one bit at
 * a place the seed picks in each copy, and opens it. Each copy must be refused (loyal_open
 * or loyal_verify fails cleanly), or show every member (their card, badges and statement of
 * each currency's postings) and the program exactly as the file did; a copy that verifies and
 * shows something else is damage that went unseen, printed with where the bit was. Prints how
 * many copies went each way; exits with 1 when damage went unseen, 2 on a usage or setup
 * error. The copies go to FILE.rot (deleted after). */
#include "loyal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW_MS INT64_C(1796000000000) /* one fixed clock: cards and expiries read the same */

typedef struct text {
	char *data;
	size_t length, capacity;
} text;

static void die(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fprintf(stderr, "bit-rot: ");
	vfprintf(stderr, format, args);
	fprintf(stderr, "\n");
	va_end(args);
	exit(2);
}

static void append(text *t, const char *part)
{
	size_t n = strlen(part);
	if (t->length + n + 2 > t->capacity) {
		t->capacity = 2 * (t->length + n + 2);
		t->data = realloc(t->data, t->capacity);
		if (!t->data)
			die("out of memory");
	}
	memcpy(t->data + t->length, part, n);
	t->length += n;
	t->data[t->length++] = '\n';
	t->data[t->length] = '\0';
}

/* A call's answer, or its error, as a line. */
static void answer(text *t, loyal_db *db, int rc, char *json)
{
	char line[96];
	snprintf(line, sizeof line, "rc %d", rc);
	append(t, line);
	append(t, rc == LOYAL_OK && json ? json : loyal_errmsg(db));
	loyal_free(json);
}

static void rows(text *t, loyal_db *db, int rc, loyal_cursor *cursor)
{
	const char *row = NULL;
	while (rc == LOYAL_OK && (rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row)
		append(t, row);
	answer(t, db, rc, NULL);
	loyal_cursor_free(cursor);
}

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return NOW_MS;
}

typedef struct members {
	char **ids;
	size_t count;
} members;

/* What the file shows: the program, then each member's card, badges and statements. */
static void show(loyal_db *db, const members *m, text *t)
{
	char *json = NULL;
	int rc = loyal_program_get(db, &json);
	answer(t, db, rc, json);
	static const char *const currencies[] = {"points", "xp", "coins"};
	for (size_t i = 0; i < m->count; i++) {
		append(t, m->ids[i]);
		json = NULL;
		rc = loyal_member_get(db, m->ids[i], &json);
		answer(t, db, rc, json);
		json = NULL;
		rc = loyal_badge_list(db, m->ids[i], &json);
		answer(t, db, rc, json);
		for (size_t c = 0; c < sizeof currencies / sizeof *currencies; c++) {
			loyal_cursor *cursor = NULL;
			rc = loyal_ledger_statement(db, m->ids[i], currencies[c], 0, &cursor);
			rows(t, db, rc, cursor);
		}
	}
}

static loyal_db *open_file(const char *path, int *rc)
{
	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	opts.clock = fixed_clock;
	opts.durability = LOYAL_DURABILITY_SCRATCH;
	loyal_db *db = NULL;
	*rc = loyal_open(path, &opts, &db);
	if (*rc != LOYAL_OK) {
		loyal_close(db);
		return NULL;
	}
	return db;
}

static void list_members(loyal_db *db, members *m)
{
	loyal_member_query query;
	loyal_member_query_init(&query, LOYAL_MEMBER_QUERY_VERSION);
	loyal_cursor *cursor = NULL;
	if (loyal_member_list(db, &query, &cursor) != LOYAL_OK)
		die("listing the members: %s", loyal_errmsg(db));
	const char *row = NULL;
	int rc;
	while ((rc = loyal_cursor_next(cursor, &row)) == LOYAL_OK && row) {
		const char *id = strstr(row, "\"id\":\"");
		const char *end = id ? strchr(id + 6, '"') : NULL;
		if (!end)
			die("a member row without an id: %s", row);
		m->ids = realloc(m->ids, (m->count + 1) * sizeof *m->ids);
		if (!m->ids)
			die("out of memory");
		m->ids[m->count++] = strndup(id + 6, (size_t)(end - id - 6));
	}
	if (rc != LOYAL_OK)
		die("listing the members: %s", loyal_errmsg(db));
	loyal_cursor_free(cursor);
}

static unsigned char *read_whole(const char *path, long *size)
{
	FILE *f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (*size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		die("cannot read %s", path);
	unsigned char *bytes = malloc((size_t)*size);
	if (!bytes || fread(bytes, 1, (size_t)*size, f) != (size_t)*size)
		die("cannot read %s", path);
	fclose(f);
	return bytes;
}

static void write_whole(const char *path, const unsigned char *bytes, long size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(bytes, 1, (size_t)size, f) != (size_t)size || fclose(f) != 0)
		die("cannot write %s", path);
}

static void remove_copy(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char name[1100];
		snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
		remove(name);
	}
}

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15)); /* splitmix64 */
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* The first line where two texts differ. */
static void print_difference(const char *was, const char *is)
{
	size_t at = 0;
	while (was[at] && was[at] == is[at])
		at++;
	while (at > 0 && was[at - 1] != '\n')
		at--;
	printf("  was: %.240s\n  now: %.240s\n", was + at, is + at);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4)
		die("usage: loyal-bit-rot FILE [FLIPS [SEED]]");
	const char *path = argv[1];
	long flips = argc > 2 ? atol(argv[2]) : 100;
	uint64_t rng = argc > 3 ? strtoull(argv[3], NULL, 10) : (uint64_t)time(NULL);
	printf("bit-rot: %ld flips in copies of %s, seed %llu\n", flips, path,
	       (unsigned long long)rng);
	char copy[1100];
	snprintf(copy, sizeof copy, "%s.rot", path);
	long size = 0;
	unsigned char *bytes = read_whole(path, &size);
	int rc;
	remove_copy(copy);
	write_whole(copy, bytes, size);
	loyal_db *db = open_file(copy, &rc);
	if (!db || loyal_verify(db) != LOYAL_OK)
		die("%s does not open and verify as it is (rc %d)", path, rc);
	members m = {0};
	list_members(db, &m);
	text baseline = {0};
	show(db, &m, &baseline);
	loyal_close(db);

	long refused_open = 0, refused_verify = 0, unchanged = 0, unseen = 0;
	for (long i = 0; i < flips; i++) {
		long offset = (long)(next_random(&rng) % (uint64_t)size);
		int bit = (int)(next_random(&rng) % 8);
		bytes[offset] ^= (unsigned char)(1 << bit);
		remove_copy(copy);
		write_whole(copy, bytes, size);
		bytes[offset] ^= (unsigned char)(1 << bit);
		db = open_file(copy, &rc);
		if (!db) {
			refused_open++;
			continue;
		}
		if (loyal_verify(db) != LOYAL_OK) {
			refused_verify++;
			loyal_close(db);
			continue;
		}
		text now = {0};
		show(db, &m, &now);
		loyal_close(db);
		if (strcmp(now.data, baseline.data) == 0) {
			unchanged++;
		} else {
			unseen++;
			printf("bit-rot: UNSEEN: bit %d of byte %ld (page %ld, offset %ld)\n", bit,
			       offset, offset / 4096 + 1, offset % 4096);
			print_difference(baseline.data, now.data);
		}
		free(now.data);
	}
	remove_copy(copy);
	printf("bit-rot: %ld flips over %zu members: %ld refused by loyal_open, %ld by loyal_verify,"
	       " %ld changed nothing shown, %ld damage unseen\n",
	       flips, m.count, refused_open, refused_verify, unchanged, unseen);
	for (size_t i = 0; i < m.count; i++)
		free(m.ids[i]);
	free(m.ids);
	free(baseline.data);
	free(bytes);
	return unseen ? 1 : 0;
}
