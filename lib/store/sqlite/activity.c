/* activity.c - what members did, per local day, kept in the member's row (members.activity)
 * instead of a table of its own: the counts and property sums of each event type (and of the
 * engine's '@' counters) and the counters of the rules' caps, one series of days per type or
 * rule. Every call that tracks an event writes the member's row anyway, so a day's counts cost
 * no B-tree page of their own. A row whose activity grows past HOT_LIMIT bytes moves its oldest
 * days to activity_archive, in chunks keyed by (member, last day), which reads of long windows
 * and back-dated events reach; the row says up to which day it moved them.
 *
 * The blob: a format byte (1); whether days were archived (0 or 1) and, when 1, the last
 * archived day; then series, each: kind (0 an activity type, 1 a rule's counter), name (length
 * and bytes), currency (a rule counter's; 0 for activity), how many days and how many bytes
 * they take (so that reads skip the other series), and the days in increasing order, each:
 * day (the first absolute, the others as the step from the one before), count, how many sums,
 * and the sums, each: property name, 0 and an integer or 1 and the 8 bytes of a double.
 * Integers are zigzag LEB128 (ly_varint_put). An archive chunk is a blob of the same
 * form. Names are UTF-8 without NUL, as the engine's text is.
 *
 * Within a write transaction the rows' blobs are read once and changed in memory (a few
 * members at a time); a changed blob is written with its member's row (ly_sqlite_member_update)
 * or before the next savepoint, release or commit, and forgotten on any rollback. */
#include "store/sqlite/sqlite.h"
#include "util/json.h"
#include "util/text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { FORMAT = 1, KIND_ACTIVITY = 0, KIND_RULE = 1 };
#define HOT_LIMIT 2048    /* a row's activity past this many bytes moves days to the archive */
#define HOT_TARGET 768    /* ... until what is left in the row is about this small */
#define CHUNK_TARGET 2048 /* and each chunk of the archive about this large */
#define MAX_NAME 65536 /* the longest name: an event's properties are at most 64 KiB */

/* ---- reading a blob ---- */

typedef struct text {
	const unsigned char *at;
	size_t length;
} text;

typedef struct cursor {
	const unsigned char *at, *end;
	bool failed; /* the bytes are not a blob of this form */
} cursor;

static int64_t get_int(cursor *c)
{
	int64_t value = 0;
	if (!c->failed && !ly_varint_get(&c->at, c->end, false, &value))
		c->failed = true;
	return c->failed ? 0 : value;
}

static text get_text(cursor *c)
{
	int64_t length = get_int(c);
	text t = {c->at, 0};
	if (c->failed || length <= 0 || length > MAX_NAME || length > c->end - c->at) {
		c->failed = true;
		return t;
	}
	/* names are the engine's text: UTF-8 without NUL (the ASCII start checked here) */
	size_t ascii = 0, n = (size_t)length;
	while (ascii < n && c->at[ascii] > 0 && c->at[ascii] < 0x80)
		ascii++;
	if (ascii < n && (memchr(c->at + ascii, 0, n - ascii) ||
			  !ly_text_is_utf8(c->at + ascii, n - ascii))) {
		c->failed = true;
		return t;
	}
	t.length = (size_t)length;
	c->at += length;
	return t;
}

static bool same_text(text t, const char *name, size_t length)
{
	return t.length == length && memcmp(t.at, name, length) == 0;
}

typedef struct sum {
	text name;
	bool whole;
	double value;
} sum_rec;

static sum_rec get_sum(cursor *c)
{
	sum_rec s = {.name = get_text(c)};
	int64_t tag = get_int(c);
	if (tag == 0) {
		s.whole = true;
		s.value = (double)get_int(c);
	} else if (tag == 1 && c->end - c->at >= 8) {
		uint64_t bits = 0;
		for (int i = 0; i < 8; i++)
			bits |= (uint64_t)c->at[i] << (8 * i);
		memcpy(&s.value, &bits, sizeof s.value);
		c->at += 8;
	} else {
		c->failed = true;
	}
	return s;
}

typedef struct day {
	int64_t day, count, sums;
	const unsigned char *start, *sums_at, *end; /* its bytes; where its sums start */
} day_rec;

/* The next day of a series; *prev is the day before (INT64_MIN before the first). */
static day_rec get_day(cursor *c, int64_t *prev)
{
	day_rec d = {.start = c->at};
	int64_t step = get_int(c);
	if (*prev == INT64_MIN) {
		d.day = step;
	} else if (step <= 0 || (*prev > 0 && step > INT64_MAX - *prev)) {
		c->failed = true;
	} else {
		d.day = *prev + step;
	}
	d.count = get_int(c);
	d.sums = get_int(c);
	d.sums_at = c->at;
	if (d.sums < 0 || d.sums > c->end - c->at)
		c->failed = true;
	for (int64_t i = 0; !c->failed && i < d.sums; i++)
		get_sum(c);
	d.end = c->at;
	*prev = d.day;
	return d;
}

typedef struct series {
	int64_t kind, currency, days;
	text name;
	const unsigned char *start, *days_at, *end; /* its bytes; where its days start */
} series_rec;

/* The next series' header, moving c past the series: its days are [days_at, end). */
static series_rec get_series(cursor *c)
{
	series_rec s = {.start = c->at};
	s.kind = get_int(c);
	s.name = get_text(c);
	s.currency = get_int(c);
	s.days = get_int(c);
	int64_t bytes = get_int(c);
	s.days_at = s.end = c->at;
	if ((s.kind != KIND_ACTIVITY && s.kind != KIND_RULE) || s.days <= 0 || bytes < s.days ||
	    bytes > c->end - c->at || (s.kind == KIND_ACTIVITY && s.currency != 0)) {
		c->failed = true;
		return s;
	}
	s.end = c->at += bytes;
	return s;
}

/* A cursor over a series' days. */
static cursor days_of(const series_rec *s)
{
	return (cursor){s->days_at, s->end, false};
}

/* The header: *archived the last archived day, INT64_MIN when none. */
static cursor open_blob(const void *blob, size_t size, int64_t *archived)
{
	const unsigned char *at = blob ? blob : (const unsigned char *)"";
	cursor c = {at, at + (blob ? size : 0), false};
	*archived = INT64_MIN;
	if (size == 0) /* a member with no activity yet */
		return c;
	if (!blob || *c.at++ != FORMAT) {
		c.failed = true;
		return c;
	}
	int64_t has = get_int(&c);
	if (has == 1)
		*archived = get_int(&c);
	else if (has != 0)
		c.failed = true;
	return c;
}

static bool same_head(const series_rec *a, const series_rec *b)
{
	return a->kind == b->kind && a->currency == b->currency &&
	       same_text(a->name, (const char *)b->name.at, b->name.length);
}

#define SEEN_HEADS 64 /* the series heads a check keeps: past them it reads the heads again */

bool ly_sqlite_activity_valid(const void *blob, size_t size)
{
	int64_t archived;
	cursor c = open_blob(blob, size, &archived);
	series_rec seen[SEEN_HEADS];
	size_t count = 0;
	while (!c.failed && c.at < c.end) {
		series_rec s = get_series(&c);
		cursor d = days_of(&s);
		int64_t prev = INT64_MIN;
		for (int64_t i = 0; !c.failed && !d.failed && i < s.days; i++)
			get_day(&d, &prev);
		c.failed |= d.failed || d.at != s.end;
		/* each series once: against the heads kept, and in a blob of many series, against
		 * the heads past them, read again (a series' length skips its days) */
		size_t kept = count < SEEN_HEADS ? count : SEEN_HEADS;
		for (size_t i = 0; !c.failed && i < kept; i++)
			c.failed = same_head(&seen[i], &s);
		if (count < SEEN_HEADS) {
			seen[count] = s;
		} else {
			cursor later = {seen[SEEN_HEADS - 1].end, s.start, false};
			while (!c.failed && later.at < s.start) {
				series_rec e = get_series(&later);
				c.failed = same_head(&e, &s);
			}
		}
		count++;
	}
	return !c.failed;
}

/* ---- writing a blob ---- */

typedef activity_blob buffer;

static unsigned char *room(buffer *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (b->size + n > b->capacity) {
		size_t capacity = b->capacity ? b->capacity : 256;
		while (capacity < b->size + n)
			capacity *= 2;
		unsigned char *grown = sqlite3_realloc64(b->data, capacity);
		if (!grown) {
			b->failed = true;
			return NULL;
		}
		b->data = grown;
		b->capacity = capacity;
	}
	return b->data + b->size;
}

static void put_int(buffer *b, int64_t value)
{
	unsigned char *at = room(b, 10);
	if (at)
		b->size += ly_varint_put(at, value, false);
}

static void put_bytes(buffer *b, const void *bytes, size_t n)
{
	unsigned char *at = room(b, n);
	if (at && n) {
		memcpy(at, bytes, n);
		b->size += n;
	}
}

static void put_text(buffer *b, const char *name, size_t length)
{
	put_int(b, (int64_t)length);
	put_bytes(b, name, length);
}

static void put_sum(buffer *b, const char *name, size_t length, bool whole, double value)
{
	put_text(b, name, length);
	put_int(b, !whole);
	if (whole) {
		put_int(b, (int64_t)value);
		return;
	}
	uint64_t bits;
	memcpy(&bits, &value, sizeof bits);
	unsigned char bytes[8];
	for (int i = 0; i < 8; i++)
		bytes[i] = (unsigned char)(bits >> (8 * i));
	put_bytes(b, bytes, 8);
}

static void put_header(buffer *b, int64_t archived)
{
	unsigned char format = FORMAT;
	put_bytes(b, &format, 1);
	put_int(b, archived != INT64_MIN);
	if (archived != INT64_MIN)
		put_int(b, archived);
}

/* A series: its header, then its days as written into `days` (count of them). */
static void put_series(buffer *b, int64_t kind, const char *name, size_t length,
		       int64_t currency, int64_t count, const buffer *days)
{
	put_int(b, kind);
	put_text(b, name, length);
	put_int(b, currency);
	put_int(b, count);
	put_int(b, (int64_t)days->size);
	put_bytes(b, days->data, days->size);
	b->failed |= days->failed;
}

/* A day's head: *prev the day written before it (INT64_MIN before a series' first). */
static void put_day_head(buffer *b, int64_t *prev, int64_t d, int64_t count, int64_t sums)
{
	put_int(b, *prev == INT64_MIN ? d : d - *prev);
	put_int(b, count);
	put_int(b, sums);
	*prev = d;
}

/* ---- one change: a count (and sums) added to a series' day ---- */

typedef struct change {
	int64_t kind, currency, day, delta;
	const char *name;
	size_t name_length;
	const activity_number *numbers;
	size_t count;
} change;

static bool would_overflow(int64_t count, int64_t delta)
{
	return delta > 0 ? count > INT64_MAX - delta : count < INT64_MIN - delta;
}

/* Whether the day's sums (d->sums of them at d->sums_at) have one named `name`. */
static bool has_sum(const day_rec *d, const char *name)
{
	cursor sums = {d->sums_at, d->end, false};
	for (int64_t i = 0; i < d->sums; i++)
		if (same_text(get_sum(&sums).name, name, strlen(name)))
			return true;
	return false;
}

/* Writes day d (of the changed series) with the change added. */
static void put_changed_day(buffer *b, int64_t *prev, const day_rec *d, const change *ch)
{
	int64_t added = 0;
	for (size_t j = 0; j < ch->count; j++)
		added += !has_sum(d, ch->numbers[j].name);
	put_day_head(b, prev, d->day, d->count + ch->delta, d->sums + added);
	cursor sums = {d->sums_at, d->end, false};
	for (int64_t i = 0; i < d->sums; i++) {
		sum_rec s = get_sum(&sums);
		for (size_t j = 0; j < ch->count; j++)
			if (same_text(s.name, ch->numbers[j].name, strlen(ch->numbers[j].name))) {
				s.value += ch->numbers[j].value;
				s.whole = s.whole && ch->numbers[j].whole && fabs(s.value) < 9e18;
			}
		put_sum(b, (const char *)s.name.at, s.name.length, s.whole, s.value);
	}
	for (size_t j = 0; j < ch->count; j++)
		if (!has_sum(d, ch->numbers[j].name))
			put_sum(b, ch->numbers[j].name, strlen(ch->numbers[j].name),
				ch->numbers[j].whole && fabs(ch->numbers[j].value) < 9e18,
				ch->numbers[j].value);
}

static void put_new_day(buffer *b, int64_t *prev, const change *ch)
{
	day_rec fresh = {.day = ch->day, .count = 0, .sums = 0};
	put_changed_day(b, prev, &fresh, ch);
}

/* Copies day r (read after day `before`) to b, after day *written: as it is when it follows
 * the same day there, else with its step from *written. */
static void put_day(buffer *b, int64_t *written, int64_t before, const day_rec *r)
{
	if (*written == before) {
		put_bytes(b, r->start, (size_t)(r->end - r->start));
		*written = r->day;
	} else {
		put_day_head(b, written, r->day, r->count, r->sums);
		put_bytes(b, r->sums_at, (size_t)(r->end - r->sums_at));
	}
}

/* The blob with the change made, into out (emptied first); days is scratch room.
 * LOYAL_EOVERFLOW when the day's count would leave 64 bits; the blob must be valid. */
static int apply(const void *blob, size_t size, const change *ch, buffer *out, buffer *days,
		 bool *overflow)
{
	int64_t archived;
	cursor c = open_blob(blob, size, &archived);
	out->size = 0;
	*overflow = false;
	put_header(out, archived);
	bool found = false;
	while (c.at < c.end) {
		series_rec s = get_series(&c);
		if (s.kind != ch->kind || s.currency != ch->currency ||
		    !same_text(s.name, ch->name, ch->name_length)) {
			put_bytes(out, s.start, (size_t)(s.end - s.start));
			continue;
		}
		found = true;
		cursor d = days_of(&s);
		int64_t read = INT64_MIN, written = INT64_MIN, count = s.days;
		bool done = false;
		days->size = 0;
		for (int64_t i = 0; i < s.days; i++) {
			int64_t before = read;
			day_rec r = get_day(&d, &read);
			if (!done && ch->day < r.day) {
				put_new_day(days, &written, ch);
				done = true;
				count++;
			}
			if (r.day != ch->day) {
				put_day(days, &written, before, &r);
			} else if (would_overflow(r.count, ch->delta)) {
				*overflow = true;
				return LOYAL_EOVERFLOW;
			} else {
				put_changed_day(days, &written, &r, ch);
				done = true;
			}
		}
		if (!done) {
			put_new_day(days, &written, ch);
			count++;
		}
		put_series(out, s.kind, (const char *)s.name.at, s.name.length, s.currency, count,
			   days);
	}
	if (!found) {
		int64_t prev = INT64_MIN;
		days->size = 0;
		put_new_day(days, &prev, ch);
		put_series(out, ch->kind, ch->name, ch->name_length, ch->currency, 1, days);
	}
	return out->failed ? LOYAL_ENOMEM : LOYAL_OK;
}

/* The days of blob in (after, to], as a new blob whose header says `archived`; days is
 * scratch room. */
static void filter(const void *blob, size_t size, int64_t after, int64_t to, int64_t archived,
		   buffer *out, buffer *days)
{
	int64_t ignored;
	cursor c = open_blob(blob, size, &ignored);
	out->size = 0;
	put_header(out, archived);
	while (c.at < c.end) {
		series_rec s = get_series(&c);
		cursor d = days_of(&s);
		int64_t read = INT64_MIN, written = INT64_MIN, kept = 0;
		days->size = 0;
		for (int64_t i = 0; i < s.days; i++) {
			int64_t before = read;
			day_rec r = get_day(&d, &read);
			if (r.day > after && r.day <= to) {
				put_day(days, &written, before, &r);
				kept++;
			}
		}
		if (kept)
			put_series(out, s.kind, (const char *)s.name.at, s.name.length, s.currency,
				   kept, days);
	}
}

/* ---- reading what a series holds ---- */

typedef struct query {
	int64_t kind, currency, from, to;
	const char *name, *property; /* property: the sum to add up, NULL for counts */
	size_t name_length;
	int64_t count, days; /* the counts added up, and the days with a positive count */
	double total;        /* the property's sum */
	int64_t *found;      /* with `limit`: the days <= to, newest first */
	size_t found_count, found_capacity, limit;
	bool failed;         /* out of memory */
	bool damaged;        /* the bytes read were not a blob of this form */
} query;

/* Adds what blob's series of q holds in [q->from, q->to] to q, checking what it reads: the
 * series' heads up to q's, and q's days (q->damaged when they are not whole). */
static void visit(const void *blob, size_t size, query *q)
{
	int64_t archived;
	cursor c = open_blob(blob, size, &archived);
	while (!c.failed && c.at < c.end) {
		series_rec s = get_series(&c);
		if (c.failed || s.kind != q->kind || s.currency != q->currency ||
		    !same_text(s.name, q->name, q->name_length))
			continue;
		cursor days = days_of(&s);
		int64_t prev = INT64_MIN;
		size_t first = q->found_count;
		for (int64_t i = 0; !days.failed && i < s.days; i++) {
			day_rec d = get_day(&days, &prev);
			if (days.failed || d.day < q->from || d.day > q->to)
				continue;
			q->count += d.count; /* counts are checked on adding: their sum fits too */
			q->days += d.count > 0;
			cursor sums = {d.sums_at, d.end, false};
			for (int64_t j = 0; q->property && j < d.sums; j++) {
				sum_rec v = get_sum(&sums);
				if (same_text(v.name, q->property, strlen(q->property)))
					q->total += v.value;
			}
			if (q->limit && q->found_count == q->found_capacity) {
				size_t capacity = q->found_capacity ? 2 * q->found_capacity : 16;
				int64_t *grown = sqlite3_realloc64(q->found, capacity * sizeof *grown);
				if (!grown) {
					q->failed = true;
					return;
				}
				q->found = grown;
				q->found_capacity = capacity;
			}
			if (q->limit)
				q->found[q->found_count++] = d.day;
		}
		c.failed = days.failed || days.at != s.end;
		/* newest first */
		for (size_t i = first, j = q->found_count; i + 1 < j; i++, j--) {
			int64_t t = q->found[i];
			q->found[i] = q->found[j - 1];
			q->found[j - 1] = t;
		}
		break;
	}
	q->damaged |= c.failed;
}

/* ---- the rows' blobs within a write transaction ---- */

typedef activity_entry entry;

/* Empties a place, keeping its memory for the next member. */
static void forget_entry(entry *e)
{
	e->member = 0;
	e->dirty = e->checked = false;
	e->blob.size = 0;
	e->blob.failed = false;
}

void ly_sqlite_activity_forget(store *s)
{
	for (size_t i = 0; i < ACTIVITY_CACHED; i++)
		forget_entry(&sq(s)->activity[i]);
}

void ly_sqlite_activity_free(store *s)
{
	for (size_t i = 0; i < ACTIVITY_CACHED; i++)
		sqlite3_free(sq(s)->activity[i].blob.data);
	sqlite3_free(sq(s)->activity_spare.data);
	sqlite3_free(sq(s)->activity_days.data);
}

/* Puts member's blob (size bytes) into e, an empty place. It is checked as read: whole before
 * its first change (add), in what a read reads (visit). */
static int keep(store *s, int64_t member, const void *blob, size_t size, entry *e)
{
	e->member = member;
	e->checked = size == 0;
	if (size)
		put_bytes(&e->blob, blob, size);
	return e->blob.failed ? ly_fail(s->error, LOYAL_ENOMEM, "out of memory reading activity")
			      : LOYAL_OK;
}

/* Reads member's blob into e (an empty place). */
static int load(store *s, int64_t member, entry *e)
{
	STMT(ST_ACTIVITY_GET, "SELECT activity FROM members WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, member);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading activity");
	if (rc != LOYAL_OK)
		return rc;
	rc = found ? keep(s, member, sqlite3_column_blob(stmt, 0),
			  (size_t)sqlite3_column_bytes(stmt, 0), e)
		   : keep(s, member, NULL, 0, e);
	if (found)
		ly_sqlite_finish(stmt);
	return rc;
}

static int save(store *s, entry *e);

/* Makes the last place (empty, saved first if it holds changes) the first. */
static int free_first(store *s)
{
	entry *cache = sq(s)->activity, last = cache[ACTIVITY_CACHED - 1];
	int rc = last.dirty ? save(s, &cache[ACTIVITY_CACHED - 1]) : LOYAL_OK;
	if (rc != LOYAL_OK)
		return rc;
	last = cache[ACTIVITY_CACHED - 1];
	forget_entry(&last);
	memmove(cache + 1, cache, (ACTIVITY_CACHED - 1) * sizeof *cache);
	cache[0] = last;
	return LOYAL_OK;
}

int ly_sqlite_activity_read(store *s, int64_t member, const void *blob, size_t size)
{
	entry *cache = sq(s)->activity;
	for (size_t i = 0; i < ACTIVITY_CACHED; i++)
		if (cache[i].member == member)
			return LOYAL_OK; /* kept already, perhaps changed */
	if (!sq(s)->writing || cache[ACTIVITY_CACHED - 1].dirty)
		return LOYAL_OK;
	int rc = free_first(s);
	if (rc == LOYAL_OK && (rc = keep(s, member, blob, size, &cache[0])) != LOYAL_OK)
		forget_entry(&cache[0]);
	return rc;
}

/* The member's blob: kept for the write transaction, or (outside one) read afresh into the
 * first place, which is all a read uses. */
static int hot(store *s, int64_t member, entry **out)
{
	entry *cache = sq(s)->activity;
	if (!sq(s)->writing)
		ly_sqlite_activity_forget(s);
	for (size_t i = 0; i < ACTIVITY_CACHED; i++)
		if (cache[i].member == member) {
			*out = &cache[i];
			return LOYAL_OK;
		}
	int rc = free_first(s);
	if (rc != LOYAL_OK)
		return rc;
	rc = load(s, member, &cache[0]);
	if (rc != LOYAL_OK)
		forget_entry(&cache[0]);
	*out = &cache[0];
	return rc;
}

/* ---- the archive ---- */

typedef struct span {
	int64_t day;
	size_t bytes;
} span;

static int by_day(const void *a, const void *b)
{
	int64_t x = ((const span *)a)->day, y = ((const span *)b)->day;
	return (x > y) - (x < y);
}

/* How many bytes each day takes in blob, merged per day in day order. */
static int day_sizes(store *s, const void *blob, size_t size, span **out, size_t *count)
{
	int64_t archived;
	cursor c = open_blob(blob, size, &archived);
	span *spans = NULL;
	size_t n = 0;
	while (c.at < c.end) {
		series_rec one = get_series(&c);
		cursor days = days_of(&one);
		int64_t prev = INT64_MIN;
		for (int64_t i = 0; i < one.days; i++) {
			day_rec d = get_day(&days, &prev);
			span *grown = sqlite3_realloc64(spans, (n + 1) * sizeof *grown);
			if (!grown) {
				sqlite3_free(spans);
				return ly_fail(s->error, LOYAL_ENOMEM, "out of memory archiving activity");
			}
			spans = grown;
			spans[n++] = (span){d.day, (size_t)(d.end - d.start)};
		}
	}
	if (n)
		qsort(spans, n, sizeof *spans, by_day);
	size_t merged = 0;
	for (size_t i = 0; i < n; i++) {
		if (merged && spans[merged - 1].day == spans[i].day)
			spans[merged - 1].bytes += spans[i].bytes;
		else
			spans[merged++] = spans[i];
	}
	*out = spans;
	*count = merged;
	return LOYAL_OK;
}

static int archive_put(store *s, int64_t member, int64_t last_day, const buffer *chunk)
{
	STMT(ST_ACTIVITY_ARCHIVE_PUT, "INSERT INTO activity_archive(member, last_day, data)"
				      " VALUES(?1, ?2, ?3) ON CONFLICT(member, last_day) DO UPDATE"
				      " SET data = ?3");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, last_day);
	sqlite3_bind_blob64(stmt, 3, chunk->data, chunk->size, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "archiving activity");
}

/* Moves the oldest days of a blob grown past HOT_LIMIT into archive chunks. */
static int roll(store *s, entry *e)
{
	if (e->blob.size <= HOT_LIMIT)
		return LOYAL_OK;
	span *spans = NULL;
	size_t count = 0;
	int rc = day_sizes(s, e->blob.data, e->blob.size, &spans, &count);
	int64_t archived;
	open_blob(e->blob.data, e->blob.size, &archived);
	size_t left = e->blob.size, chunk_bytes = 0;
	int64_t chunk_after = archived;
	buffer chunk = {0}, kept = {0}, days = {0};
	/* Oldest days first, a chunk at a time, until what is left is small; the newest day
	 * always stays. */
	for (size_t i = 0; rc == LOYAL_OK && i + 1 < count && left > HOT_TARGET; i++) {
		left -= spans[i].bytes;
		chunk_bytes += spans[i].bytes;
		if (chunk_bytes < CHUNK_TARGET && left > HOT_TARGET && i + 2 < count)
			continue;
		filter(e->blob.data, e->blob.size, chunk_after, spans[i].day, INT64_MIN, &chunk,
		       &days);
		rc = chunk.failed || days.failed
			     ? ly_fail(s->error, LOYAL_ENOMEM, "out of memory archiving activity")
			     : archive_put(s, e->member, spans[i].day, &chunk);
		chunk_after = spans[i].day;
		chunk_bytes = 0;
	}
	if (rc == LOYAL_OK && chunk_after != archived) {
		filter(e->blob.data, e->blob.size, chunk_after, INT64_MAX, chunk_after, &kept, &days);
		if (kept.failed || days.failed) {
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory archiving activity");
		} else {
			sqlite3_free(e->blob.data);
			e->blob = kept;
			kept = (buffer){0};
		}
	}
	sqlite3_free(kept.data);
	sqlite3_free(chunk.data);
	sqlite3_free(days.data);
	sqlite3_free(spans);
	return rc;
}

/* Runs q over the archive chunks that may hold days of [q->from, q->to] (newest first when
 * q collects days). */
static int visit_archive(store *s, int64_t member, query *q)
{
	sqlite3_stmt *stmt =
		q->limit ? ly_sqlite_stmt(s, ST_ACTIVITY_ARCHIVE_NEWEST,
					  "SELECT data, last_day FROM activity_archive WHERE"
					  " member = ?1 AND last_day >= ?2 ORDER BY last_day DESC")
			 : ly_sqlite_stmt(s, ST_ACTIVITY_ARCHIVE_READ,
					  "SELECT data, last_day FROM activity_archive WHERE"
					  " member = ?1 AND last_day >= ?2 ORDER BY last_day");
	if (!stmt)
		return s->error->code;
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, q->from);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		visit(sqlite3_column_blob(stmt, 0), (size_t)sqlite3_column_bytes(stmt, 0), q);
		if (q->damaged) {
			ly_sqlite_finish(stmt);
			return ly_fail(s->error, LOYAL_ECORRUPT,
				       "member #%lld's archived activity is damaged",
				       (long long)member);
		}
		if (q->failed || (q->limit && q->found_count >= q->limit) ||
		    (!q->limit && sqlite3_column_int64(stmt, 1) >= q->to))
			break;
	}
	ly_sqlite_finish(stmt);
	if (q->failed)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory reading activity");
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? LOYAL_OK
						     : ly_sqlite_error(s, rc, "reading activity");
}

/* The member's blob (hot) and the last day it says was archived (INT64_MIN: none). */
static int hot_archived(store *s, int64_t member, entry **e, int64_t *archived)
{
	int rc = hot(s, member, e);
	if (rc == LOYAL_OK)
		open_blob((*e)->blob.data, (*e)->blob.size, archived);
	return rc;
}

/* Runs q over the member's activity: their row's, then the archive's when q reaches it. */
static int run_query(store *s, int64_t member, query *q)
{
	entry *e;
	int64_t archived;
	int rc = hot_archived(s, member, &e, &archived);
	if (rc != LOYAL_OK)
		return rc;
	visit(e->blob.data, e->blob.size, q);
	if (q->damaged)
		return ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld's activity is damaged",
			       (long long)member);
	if (q->failed)
		return ly_fail(s->error, LOYAL_ENOMEM, "out of memory reading activity");
	if (archived != INT64_MIN && q->from <= archived &&
	    (!q->limit || q->found_count < q->limit))
		rc = visit_archive(s, member, q);
	return rc;
}

/* ---- saving ---- */

/* The chunk of the archive holding `day` (the first whose last day is on or after it). */
static int archived_change(store *s, int64_t member, const change *ch)
{
	STMT(ST_ACTIVITY_ARCHIVE_FIND, "SELECT data, last_day FROM activity_archive WHERE"
				       " member = ?1 AND last_day >= ?2 ORDER BY last_day LIMIT 1");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_int64(stmt, 2, ch->day);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading archived activity");
	if (rc != LOYAL_OK)
		return rc;
	if (!found)
		return ly_fail(s->error, LOYAL_ECORRUPT,
			       "member #%lld's archived activity is missing", (long long)member);
	const void *blob = sqlite3_column_blob(stmt, 0);
	size_t size = (size_t)sqlite3_column_bytes(stmt, 0);
	int64_t last_day = sqlite3_column_int64(stmt, 1);
	buffer out = {0}, days = {0};
	bool overflow = false;
	if (!ly_sqlite_activity_valid(blob, size))
		rc = ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld's archived activity is damaged",
			     (long long)member);
	else
		rc = apply(blob, size, ch, &out, &days, &overflow);
	ly_sqlite_finish(stmt);
	if (rc == LOYAL_OK)
		rc = archive_put(s, member, last_day, &out);
	else if (!overflow && rc == LOYAL_ENOMEM)
		rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory counting activity");
	sqlite3_free(out.data);
	sqlite3_free(days.data);
	return rc;
}

static int add(store *s, int64_t member, const change *ch, const char *what)
{
	entry *e;
	int64_t archived;
	int rc = hot_archived(s, member, &e, &archived);
	if (rc == LOYAL_OK && !e->checked) { /* a change copies what it does not read */
		if (!ly_sqlite_activity_valid(e->blob.data, e->blob.size))
			return ly_fail(s->error, LOYAL_ECORRUPT, "member #%lld's activity is damaged",
				       (long long)member);
		e->checked = true;
	}
	if (rc != LOYAL_OK)
		return rc;
	bool overflow = false;
	if (archived != INT64_MIN && ch->day <= archived) {
		rc = archived_change(s, member, ch);
		overflow = rc == LOYAL_EOVERFLOW;
	} else {
		/* Written into the spare room, which then trades places with the blob. */
		buffer *out = &sq(s)->activity_spare, *days = &sq(s)->activity_days;
		out->failed = days->failed = false;
		rc = apply(e->blob.data, e->blob.size, ch, out, days, &overflow);
		if (rc == LOYAL_OK) {
			buffer old = e->blob;
			e->blob = *out;
			*out = old;
			e->dirty = true;
		}
		if (rc == LOYAL_ENOMEM)
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory counting activity");
	}
	if (overflow)
		rc = ly_fail(s->error, LOYAL_EOVERFLOW, "%s '%s' would overflow", what, ch->name);
	return rc;
}

static int save(store *s, entry *e)
{
	int rc = roll(s, e);
	if (rc != LOYAL_OK)
		return rc;
	STMT(ST_ACTIVITY_PUT, "UPDATE members SET activity = ?2 WHERE id = ?1");
	sqlite3_bind_int64(stmt, 1, e->member);
	sqlite3_bind_blob64(stmt, 2, e->blob.data ? (const void *)e->blob.data : "", e->blob.size,
			    SQLITE_STATIC);
	rc = ly_sqlite_step_done(s, stmt, "saving activity");
	if (rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) != 1)
		rc = ly_fail(s->error, LOYAL_ECORRUPT,
			     "member #%lld is missing: their activity cannot be saved",
			     (long long)e->member);
	if (rc == LOYAL_OK)
		e->dirty = false;
	return rc;
}

int ly_sqlite_activity_flush(store *s)
{
	int rc = LOYAL_OK;
	for (size_t i = 0; rc == LOYAL_OK && i < ACTIVITY_CACHED; i++)
		if (sq(s)->activity[i].dirty)
			rc = save(s, &sq(s)->activity[i]);
	return rc;
}

int ly_sqlite_activity_unsaved(store *s, int64_t member, const void **blob, size_t *size)
{
	*blob = NULL;
	*size = 0;
	for (size_t i = 0; i < ACTIVITY_CACHED; i++) {
		entry *e = &sq(s)->activity[i];
		if (e->member == member && e->dirty) {
			int rc = roll(s, e);
			if (rc == LOYAL_OK) {
				*blob = e->blob.data ? (const void *)e->blob.data : "";
				*size = e->blob.size;
			}
			return rc;
		}
	}
	return LOYAL_OK;
}

void ly_sqlite_activity_saved(store *s, int64_t member)
{
	for (size_t i = 0; i < ACTIVITY_CACHED; i++)
		if (sq(s)->activity[i].member == member)
			sq(s)->activity[i].dirty = false;
}

/* ---- the store's operations ---- */

int ly_sqlite_activity_add(store *s, int64_t member, const char *type, int64_t day,
			   int64_t delta, const activity_number *numbers, size_t count)
{
	change ch = {.kind = KIND_ACTIVITY, .day = day, .delta = delta, .name = type,
		     .name_length = strlen(type), .numbers = numbers, .count = count};
	for (size_t i = 0; i < count; i++)
		if (!*numbers[i].name || strlen(numbers[i].name) > MAX_NAME)
			return ly_fail(s->error, LOYAL_EINVAL,
				       "property name '%.64s' is empty or too long", numbers[i].name);
	if (!*type || ch.name_length > MAX_NAME)
		return ly_fail(s->error, LOYAL_EINVAL, "activity type '%.64s' is empty or too long",
			       type);
	return add(s, member, &ch, "the activity count");
}

int ly_sqlite_rule_counter_add(store *s, int64_t member, const char *rule, int64_t currency,
			      int64_t day, int64_t delta)
{
	change ch = {.kind = KIND_RULE, .currency = currency, .day = day, .delta = delta,
		     .name = rule, .name_length = strlen(rule)};
	if (!*rule || ch.name_length > MAX_NAME)
		return ly_fail(s->error, LOYAL_EINVAL, "rule name '%.64s' is empty or too long", rule);
	return add(s, member, &ch, "the counter of rule");
}

static query activity_query(const char *type, int64_t from, int64_t to)
{
	return (query){.kind = KIND_ACTIVITY, .from = from, .to = to, .name = type,
		       .name_length = strlen(type)};
}

int ly_sqlite_rule_counter_sum(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t from, int64_t to, int64_t *out)
{
	query q = {.kind = KIND_RULE, .currency = currency, .from = from, .to = to, .name = rule,
		   .name_length = strlen(rule)};
	int rc = run_query(s, member, &q);
	*out = q.count;
	return rc;
}

int ly_sqlite_activity_count(store *s, int64_t member, const char *type, int64_t from,
			 int64_t to, int64_t *out)
{
	query q = activity_query(type, from, to);
	int rc = run_query(s, member, &q);
	*out = q.count;
	return rc;
}

int ly_sqlite_activity_day_count(store *s, int64_t member, const char *type, int64_t from,
			     int64_t to, int64_t *out)
{
	query q = activity_query(type, from, to);
	int rc = run_query(s, member, &q);
	*out = q.days;
	return rc;
}

int ly_sqlite_activity_sum(store *s, int64_t member, const char *type, const char *property,
			   int64_t from, int64_t to, double *out)
{
	query q = activity_query(type, from, to);
	q.property = property;
	int rc = run_query(s, member, &q);
	*out = q.total;
	return rc;
}

int ly_sqlite_activity_days(store *s, int64_t member, const char *type, int64_t to,
			size_t limit, int64_t **days, size_t *count)
{
	query q = activity_query(type, INT64_MIN, to);
	q.limit = limit;
	*days = NULL;
	*count = 0;
	int rc = limit ? run_query(s, member, &q) : LOYAL_OK;
	size_t n = q.found_count < limit ? q.found_count : limit;
	if (rc == LOYAL_OK && n) {
		*days = ly_mem_alloc(n * sizeof **days);
		if (!*days)
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory reading active days");
		else
			memcpy(*days, q.found, n * sizeof **days);
	}
	*count = rc == LOYAL_OK ? n : 0;
	sqlite3_free(q.found);
	return rc;
}

/* ---- SQL functions: reports, migrations and checks read and make blobs through them ---- */

/* ly_activity_json(blob): a JSON array of [kind, name, currency, day, count, {sums}], one per
 * day of each series; damage is SQLITE_CORRUPT. */
static void json_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	const void *blob = sqlite3_value_blob(argv[0]);
	size_t size = (size_t)sqlite3_value_bytes(argv[0]);
	if (!ly_sqlite_activity_valid(blob, size)) {
		sqlite3_result_error(context, "a member's activity is damaged", -1);
		sqlite3_result_error_code(context, SQLITE_CORRUPT);
		return;
	}
	json_t *rows = json_array();
	int64_t archived;
	cursor c = open_blob(blob, size, &archived);
	bool failed = !rows;
	while (!failed && c.at < c.end) {
		series_rec s = get_series(&c);
		cursor days = days_of(&s);
		int64_t prev = INT64_MIN;
		for (int64_t i = 0; !failed && i < s.days; i++) {
			day_rec d = get_day(&days, &prev);
			json_t *sums = json_object();
			cursor at = {d.sums_at, d.end, false};
			for (int64_t j = 0; sums && j < d.sums; j++) {
				sum_rec v = get_sum(&at);
				/* a sum past a double's range reads as null */
				json_t *value = v.whole		   ? json_integer((json_int_t)v.value)
						: isfinite(v.value) ? json_real(v.value)
								    : json_null();
				failed |= json_object_setn_new(sums, (const char *)v.name.at,
							       v.name.length, value) != 0;
			}
			failed |= !sums ||
				  json_array_append_new(rows, json_pack("[I,s%,I,I,I,o]", (json_int_t)s.kind,
									(const char *)s.name.at,
									s.name.length,
									(json_int_t)s.currency,
									(json_int_t)d.day,
									(json_int_t)d.count, sums)) != 0;
		}
	}
	char *textual = failed ? NULL : json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	if (textual)
		sqlite3_result_text(context, textual, -1, free);
	else
		sqlite3_result_error_nomem(context);
}

/* ly_activity_pack(kind, name, currency, day, count, sums), an aggregate: the blob of the
 * group's days (each (kind, name, currency, day) once; sums a JSON object text or NULL). */
typedef struct packed_day {
	int64_t kind, currency, day, count;
	char *name, *sums;
} packed_day;

static void pack_step(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *name = (const char *)sqlite3_value_text(argv[1]);
	const char *sums = (const char *)sqlite3_value_text(argv[5]);
	packed_day *d = ly_sqlite_aggregate_push(context, sizeof *d);
	if (!d)
		return;
	*d = (packed_day){.kind = sqlite3_value_int64(argv[0]),
			  .currency = sqlite3_value_int64(argv[2]),
			  .day = sqlite3_value_int64(argv[3]),
			  .count = sqlite3_value_int64(argv[4]),
			  .name = sqlite3_mprintf("%s", name ? name : ""),
			  .sums = sums ? sqlite3_mprintf("%s", sums) : NULL};
	if (!d->name || (sums && !d->sums)) {
		((aggregate_rows *)sqlite3_aggregate_context(context, 0))->failed = true;
		sqlite3_result_error_nomem(context);
	}
}

static bool same_series(const packed_day *x, const packed_day *y)
{
	return x->kind == y->kind && x->currency == y->currency && strcmp(x->name, y->name) == 0;
}

static int packed_order(const void *a, const void *b)
{
	const packed_day *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int names = strcmp(x->name, y->name);
	if (names)
		return names;
	if (x->currency != y->currency)
		return x->currency < y->currency ? -1 : 1;
	return (x->day > y->day) - (x->day < y->day);
}

static void pack_final(sqlite3_context *context)
{
	aggregate_rows *p = sqlite3_aggregate_context(context, 0);
	packed_day *all = p ? p->items : NULL;
	buffer out = {0}, days = {0};
	bool bad = false;
	if (p && !p->failed && p->count) {
		qsort(all, p->count, sizeof *all, packed_order);
		put_header(&out, INT64_MIN);
		for (size_t i = 0; i < p->count && !bad;) {
			size_t j = i;
			int64_t prev = INT64_MIN;
			days.size = 0;
			for (; j < p->count && same_series(&all[i], &all[j]) && !bad; j++) {
				json_t *sums = all[j].sums ? json_loads(all[j].sums, 0, NULL)
							       : json_object();
				bad = !json_is_object(sums) || (j > i && all[j].day == prev);
				put_day_head(&days, &prev, all[j].day, all[j].count,
					     (int64_t)json_object_size(sums));
				const char *key;
				json_t *value;
				json_object_foreach (sums, key, value)
					put_sum(&days, key, strlen(key), json_is_integer(value),
						json_number_value(value));
				json_decref(sums);
			}
			put_series(&out, all[i].kind, all[i].name, strlen(all[i].name),
				   all[i].currency, (int64_t)(j - i), &days);
			i = j;
		}
	}
	if (p && (p->failed || out.failed))
		sqlite3_result_error_nomem(context);
	else if (bad)
		sqlite3_result_error(context, "activity to pack is not one day per series", -1);
	else
		sqlite3_result_blob64(context, out.data ? (void *)out.data : "", out.size,
				      SQLITE_TRANSIENT);
	sqlite3_free(out.data);
	sqlite3_free(days.data);
	for (size_t i = 0; p && i < p->count; i++) {
		sqlite3_free(all[i].name);
		sqlite3_free(all[i].sums);
	}
	if (p)
		sqlite3_free(all);
}

/* ly_activity_archived(blob): the last day the blob says was archived, or NULL. */
static void archived_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	const void *blob = sqlite3_value_blob(argv[0]);
	size_t size = (size_t)sqlite3_value_bytes(argv[0]);
	int64_t archived;
	cursor c = open_blob(blob, size, &archived);
	if (c.failed) {
		sqlite3_result_error(context, "a member's activity is damaged", -1);
		sqlite3_result_error_code(context, SQLITE_CORRUPT);
	} else if (archived == INT64_MIN) {
		sqlite3_result_null(context);
	} else {
		sqlite3_result_int64(context, archived);
	}
}

int ly_sqlite_activity_functions(sqlite3 *sql)
{
	static const sql_function functions[] = {
		{"ly_activity_json", 1, json_function, NULL, NULL},
		{"ly_activity_pack", 6, NULL, pack_step, pack_final},
		{"ly_activity_archived", 1, archived_function, NULL, NULL},
	};
	return ly_sqlite_add_functions(sql, functions, sizeof functions / sizeof *functions);
}
