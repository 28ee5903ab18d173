/* events.c - the PostgreSQL backend's events, what members did per day and the rules'
 * counters. */
#include "store/postgres/postgres.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ly_pg_event_reserve(store *s, int64_t *id)
{
	/* Ids are unique, and larger than every id this connection reserved before; other
	 * connections' blocks interleave with its own. */
	if (!pq(s)->events_left) {
		PGresult *r = ly_pg_query(s, "SELECT nextval('event_ids')", NULL,
					  "reserving an event id");
		if (!r)
			return s->error->code;
		pq(s)->next_event = ly_pg_get_int(r, 0, 0);
		pq(s)->events_left = EVENT_ID_BLOCK;
		PQclear(r);
	}
	*id = pq(s)->next_event++;
	pq(s)->events_left--;
	return LOYAL_OK;
}

int ly_pg_event_insert(store *s, event_row *event)
{
	pg_args a = {0};
	ly_pg_int(&a, event->member);
	ly_pg_text(&a, event->type);
	ly_pg_int(&a, event->at);
	ly_pg_text(&a, event->key);
	ly_pg_text(&a, event->properties);
	ly_pg_bytes(&a, event->outcome, event->outcome_size);
	int rc = event->id ? LOYAL_OK : ly_pg_event_reserve(s, &event->id);
	if (rc != LOYAL_OK)
		return rc;
	ly_pg_int(&a, event->id); /* known: sent without waiting */
	return ly_pg_exec(s, "INSERT INTO events(member_id, type, at, key, properties, outcome, id)"
			     " VALUES($1, $2, $3, $4, $5, $6, $7)",
			  &a, "recording an event");
}

int ly_pg_event_outcome(store *s, int64_t member, int64_t id, void **outcome, size_t *size)
{
	*outcome = NULL;
	*size = 0;
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_int(&a, id);
	PGresult *r = ly_pg_query(s, "SELECT outcome FROM events WHERE member_id = $1 AND id = $2",
				  &a, "reading an event");
	if (!r)
		return s->error->code;
	int rc = PQntuples(r) == 1 ? ly_pg_get_bytes(s, r, 0, 0, outcome, size)
				   : ly_fail(s->error, LOYAL_ECORRUPT, "event %lld is missing",
					     (long long)id);
	PQclear(r);
	return rc;
}

int ly_pg_event_span(store *s, int64_t before, int64_t *count, int64_t *last)
{
	pg_args a = {0};
	ly_pg_int(&a, before);
	PGresult *r = ly_pg_query(s, "SELECT (SELECT count(*) FROM events WHERE at < $1),"
				     " (SELECT coalesce(max(id), 0) FROM events)",
				  &a, "counting the events");
	if (!r)
		return s->error->code;
	*count = ly_pg_get_int(r, 0, 0);
	*last = ly_pg_get_int(r, 0, 1);
	PQclear(r);
	return LOYAL_OK;
}

static void read_scanned(const PGresult *r, int i, void *out)
{
	*(event_scan_row *)out = (event_scan_row){.id = ly_pg_get_int(r, i, 0),
						  .at = ly_pg_get_int(r, i, 1),
						  .member = PQgetvalue(r, i, 2),
						  .type = PQgetvalue(r, i, 3),
						  .key = PQgetvalue(r, i, 4),
						  .properties = PQgetvalue(r, i, 5)};
}

/* In id order through the index events_in_order. */
int ly_pg_event_page(store *s, int64_t after, int64_t last, int64_t before, int64_t limit,
		     store_row_fn visit, void *ctx)
{
	pg_args a = {0};
	ly_pg_int(&a, after);
	ly_pg_int(&a, last);
	ly_pg_int(&a, before);
	ly_pg_int(&a, limit);
	event_scan_row row;
	return ly_pg_visit_rows(
		s,
		ly_pg_query(s, "SELECT e.id, e.at, m.external_id, e.type, e.key, e.properties"
			       " FROM events e JOIN members m ON m.id = e.member_id"
			       " WHERE e.id > $1 AND e.id <= $2 AND e.at < $3 ORDER BY e.id LIMIT $4",
			    &a, "reading the events"),
		read_scanned, &row, visit, ctx);
}

int ly_pg_event_postings(store *s, int64_t event, event_posting_vec *out)
{
	pg_args a = {0};
	ly_pg_int(&a, event);
	PGresult *r = ly_pg_query(s, "SELECT id, member_id, currency, amount FROM txns WHERE"
				     " event = $1 AND event <> 0 ORDER BY id",
				  &a, "reading an event's postings");
	if (!r)
		return s->error->code;
	int rc = LOYAL_OK;
	for (int i = 0; i < PQntuples(r) && rc == LOYAL_OK; i++) {
		event_posting *p = VEC_PUSH(out);
		if (!p)
			rc = ly_fail(s->error, LOYAL_ENOMEM, "out of memory loading rows");
		else
			*p = (event_posting){.txn = ly_pg_get_int(r, i, 0),
					     .member = ly_pg_get_int(r, i, 1),
					     .currency = ly_pg_get_int(r, i, 2),
					     .amount = ly_pg_get_int(r, i, 3)};
	}
	PQclear(r);
	return rc;
}

/* ---- activity ---- */

/* The longest type, rule or property name (an event's properties are at most 64 KiB). */
#define MAX_NAME 65536

static int check_name(store *s, const char *name, const char *what)
{
	return *name && strlen(name) <= MAX_NAME
		       ? LOYAL_OK
		       : ly_fail(s->error, LOYAL_EINVAL, "%s '%.64s' is empty or too long", what,
				 name);
}

/* Adds to a count with a statement whose update is skipped (no row returned) when the sum
 * would leave 64 bits: then LOYAL_EOVERFLOW, the transaction still usable. */
static int add_count(store *s, const char *sql, pg_args *a, const char *what, const char *name)
{
	PGresult *r = ly_pg_query(s, sql, a, "adding activity");
	if (!r)
		return s->error->code;
	int rc = PQntuples(r) == 1 ? LOYAL_OK
				   : ly_fail(s->error, LOYAL_EOVERFLOW, "%s '%s' would overflow",
					     what, name);
	PQclear(r);
	return rc;
}

/* The guard of add_count's update: the sum stays within 64 bits. */
#define FITS(count, delta) \
	" WHERE " count "::numeric + " delta " BETWEEN -9223372036854775808 AND 9223372036854775807"

/* The three array parameters of the numbers' sums: their names (each quoted, '"' and '\'
 * escaped), values and whether each is whole; the text is allocated into *room (NULL without
 * memory, then the statement refuses). */
static void sums_args(pg_args *a, const activity_number *numbers, size_t count, char **room)
{
	size_t size = 16;
	for (size_t i = 0; i < count; i++)
		size += 2 * strlen(numbers[i].name) + 40;
	char *out = *room = ly_mem_alloc(size);
	if (!out) {
		a->no_memory = true;
		return;
	}
	char *names = out, *at = out;
	*at++ = '{';
	for (size_t i = 0; i < count; i++) {
		if (i)
			*at++ = ',';
		*at++ = '"';
		for (const char *c = numbers[i].name; *c; c++) {
			if (*c == '"' || *c == '\\')
				*at++ = '\\';
			*at++ = *c;
		}
		*at++ = '"';
	}
	*at++ = '}';
	*at++ = '\0';
	char *values = at;
	at += snprintf(at, size - (size_t)(at - out), "{");
	for (size_t i = 0; i < count; i++)
		at += snprintf(at, size - (size_t)(at - out), "%s%.17g", i ? "," : "",
			       numbers[i].value);
	at += snprintf(at, size - (size_t)(at - out), "}") + 1;
	char *wholes = at;
	at += snprintf(at, size - (size_t)(at - out), "{");
	for (size_t i = 0; i < count; i++)
		at += snprintf(at, size - (size_t)(at - out), "%s%s", i ? "," : "",
			       numbers[i].whole && fabs(numbers[i].value) < 9e18 ? "t" : "f");
	snprintf(at, size - (size_t)(at - out), "}");
	ly_pg_text(a, names);
	ly_pg_text(a, values);
	ly_pg_text(a, wholes);
}

int ly_pg_activity_add(store *s, int64_t member, const char *type, int64_t day, int64_t delta,
		       const activity_number *numbers, size_t count)
{
	int rc = check_name(s, type, "activity type");
	for (size_t i = 0; i < count && rc == LOYAL_OK; i++)
		rc = check_name(s, numbers[i].name, "property name");
	if (rc != LOYAL_OK)
		return rc;
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, type);
	ly_pg_int(&a, day);
	ly_pg_int(&a, delta);
	char *room = NULL;
	sums_args(&a, numbers, count, &room);
	/* The day's count and its sums in one statement; the sums change only when the count
	 * does (not past 64 bits). */
	rc = add_count(s, "WITH c AS (INSERT INTO activity(member_id, type, day, count)"
			  " VALUES($1, $2, $3, $4) ON CONFLICT(member_id, type, day) DO UPDATE SET"
			  " count = activity.count + $4" FITS("activity.count", "$4") " RETURNING 1),"
			  " v AS (INSERT INTO activity_sums(member_id, type, day, property, value,"
			  " whole) SELECT $1, $2, $3, v.p, v.v, v.w FROM c, unnest($5::text[],"
			  " $6::float8[], $7::boolean[]) AS v(p, v, w) ON CONFLICT(member_id, type,"
			  " day, property) DO UPDATE SET value = activity_sums.value + excluded.value,"
			  " whole = activity_sums.whole AND excluded.whole AND"
			  " abs(activity_sums.value + excluded.value) < 9e18)"
			  " SELECT 1 FROM c",
		       &a, "the activity count", type);
	ly_mem_free(room);
	return rc;
}

/* Runs a query of one integer over a member's activity. */
static int one_int(store *s, const char *sql, pg_args *a, int64_t *out, const char *doing)
{
	PGresult *r = ly_pg_query(s, sql, a, doing);
	if (!r)
		return s->error->code;
	*out = ly_pg_get_int(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

static void range_args(pg_args *a, int64_t member, const char *type, int64_t from, int64_t to)
{
	ly_pg_int(a, member);
	ly_pg_text(a, type);
	ly_pg_int(a, from);
	ly_pg_int(a, to);
}

int ly_pg_activity_count(store *s, int64_t member, const char *type, int64_t from, int64_t to,
			 int64_t *out)
{
	pg_args a = {0};
	range_args(&a, member, type, from, to);
	return one_int(s, "SELECT coalesce(sum(count), 0) FROM activity WHERE member_id = $1 AND"
			  " type = $2 AND day BETWEEN $3 AND $4",
		       &a, out, "reading activity");
}

int ly_pg_activity_day_count(store *s, int64_t member, const char *type, int64_t from,
			     int64_t to, int64_t *out)
{
	pg_args a = {0};
	range_args(&a, member, type, from, to);
	return one_int(s, "SELECT count(*) FROM activity WHERE member_id = $1 AND type = $2 AND"
			  " day BETWEEN $3 AND $4 AND count > 0",
		       &a, out, "reading activity");
}

int ly_pg_activity_sum(store *s, int64_t member, const char *type, const char *property,
		       int64_t from, int64_t to, double *out)
{
	pg_args a = {0};
	range_args(&a, member, type, from, to);
	ly_pg_text(&a, property);
	PGresult *r = ly_pg_query(s, "SELECT coalesce(sum(value), 0) FROM activity_sums WHERE"
				     " member_id = $1 AND type = $2 AND day BETWEEN $3 AND $4 AND"
				     " property = $5",
				  &a, "reading activity");
	if (!r)
		return s->error->code;
	*out = ly_pg_get_double(r, 0, 0);
	PQclear(r);
	return LOYAL_OK;
}

int ly_pg_activity_days(store *s, int64_t member, const char *type, int64_t to, size_t limit,
			int64_t **days, size_t *count)
{
	*days = NULL;
	*count = 0;
	if (!limit)
		return LOYAL_OK;
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, type);
	ly_pg_int(&a, to);
	ly_pg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	PGresult *r = ly_pg_query(s, "SELECT day FROM activity WHERE member_id = $1 AND type = $2"
				     " AND day <= $3 ORDER BY day DESC LIMIT $4",
				  &a, "reading active days");
	if (!r)
		return s->error->code;
	int rc = ly_pg_collect_ints(s, r, 1, days, count);
	PQclear(r);
	return rc;
}

int ly_pg_rule_counter_add(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t day, int64_t delta)
{
	int rc = check_name(s, rule, "rule name");
	if (rc != LOYAL_OK)
		return rc;
	pg_args a = {0};
	ly_pg_int(&a, member);
	ly_pg_text(&a, rule);
	ly_pg_int(&a, currency);
	ly_pg_int(&a, day);
	ly_pg_int(&a, delta);
	return add_count(s, "INSERT INTO rule_counters(member_id, rule, currency, day, count)"
			    " VALUES($1, $2, $3, $4, $5) ON CONFLICT(member_id, rule, currency, day)"
			    " DO UPDATE SET count = rule_counters.count + $5"
			    FITS("rule_counters.count", "$5") " RETURNING 1",
			 &a, "the counter of rule", rule);
}

int ly_pg_rule_counter_sum(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t from, int64_t to, int64_t *out)
{
	pg_args a = {0};
	range_args(&a, member, rule, from, to);
	ly_pg_int(&a, currency);
	return one_int(s, "SELECT coalesce(sum(count), 0) FROM rule_counters WHERE member_id = $1"
			  " AND rule = $2 AND day BETWEEN $3 AND $4 AND currency = $5",
		       &a, out, "reading a rule's counter");
}
