/* event_store.c - the SQLite backend's rule versions, events and daily activity roll-ups. */
#include "store/sqlite/sqlite.h"
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rules ---- */

int ly_sqlite_rule_version(store *s, const char *name, int64_t *version, char **definition)
{
	STMT(ST_RULE_GET, "SELECT version, definition FROM rules WHERE name = ?1");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading a rule");
	*version = 0;
	if (definition)
		*definition = NULL;
	if (rc != LOYAL_OK || !found)
		return rc;
	*version = sqlite3_column_int64(stmt, 0);
	if (definition)
		rc = ly_sqlite_column_text(s, stmt, 1, definition);
	ly_sqlite_finish(stmt);
	return rc;
}

int ly_sqlite_rule_put(store *s, const char *name, int64_t version, const char *definition)
{
	STMT(ST_RULE_PUT, "INSERT INTO rules(name, version, definition) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(name) DO UPDATE SET version = ?2, definition = ?3");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, version);
	sqlite3_bind_text(stmt, 3, definition, -1, SQLITE_STATIC);
	return ly_sqlite_step_done(s, stmt, "saving a rule");
}

/* ---- events and activity ---- */

int ly_sqlite_event_insert(store *s, event_row *event)
{
	STMT(ST_EVENT_INSERT, "INSERT INTO events(member, type, at, key, properties, outcome, id,"
			      " request) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	sqlite3_bind_int64(stmt, 1, event->member);
	sqlite3_bind_text(stmt, 2, event->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, event->at);
	sqlite3_bind_text(stmt, 4, event->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, event->properties, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, event->outcome, -1, SQLITE_STATIC);
	if (event->id) /* reserved; otherwise SQLite picks */
		sqlite3_bind_int64(stmt, 7, event->id);
	if (event->request)
		sqlite3_bind_text(stmt, 8, event->request, -1, SQLITE_STATIC);
	int rc = ly_sqlite_step_done(s, stmt, "recording an event");
	if (rc == LOYAL_OK)
		event->id = ly_sqlite_last_rowid(s);
	return rc;
}

int ly_sqlite_event_reserve(store *s, int64_t *id)
{
	return ly_sqlite_next_id(s, ST_EVENT_NEXT_ID, "SELECT coalesce(max(id), 0) + 1 FROM events",
				 &sq(s)->next_event, id, "reserving an event id");
}

int ly_sqlite_event_postings(store *s, int64_t event, event_posting_vec *out)
{
	/* "event <> 0" lets SQLite use the partial index txns_event. */
	STMT(ST_EVENT_POSTINGS, "SELECT id, member, currency, amount FROM txns WHERE event = ?1"
				" AND event <> 0 ORDER BY id");
	sqlite3_bind_int64(stmt, 1, event);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		event_posting *posting = VEC_PUSH(out);
		if (!posting) {
			ly_sqlite_finish(stmt);
			return ly_sqlite_push_failed(s);
		}
		posting->txn = sqlite3_column_int64(stmt, 0);
		posting->member = sqlite3_column_int64(stmt, 1);
		posting->currency = sqlite3_column_int64(stmt, 2);
		posting->amount = sqlite3_column_int64(stmt, 3);
	}
	ly_sqlite_finish(stmt);
	return rc == SQLITE_DONE ? LOYAL_OK : ly_sqlite_error(s, rc, "reading an event's postings");
}

int ly_sqlite_event_outcome(store *s, int64_t member, int64_t id, char **outcome)
{
	STMT(ST_EVENT_OUTCOME, "SELECT outcome FROM events WHERE id = ?1 AND member = ?2");
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, member);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading an event");
	*outcome = NULL;
	if (rc != LOYAL_OK)
		return rc;
	if (!found)
		return ly_fail(s->error, LOYAL_ECORRUPT, "event %lld is missing", (long long)id);
	rc = ly_sqlite_column_text(s, stmt, 0, outcome);
	ly_sqlite_finish(stmt);
	return rc;
}

/* This event's numbers as a JSON object: an integer stays one. NULL without memory. */
static json_t *numbers_object(const activity_number *numbers, size_t count)
{
	json_t *object = json_object();
	for (size_t i = 0; object && i < count; i++)
		if (json_object_set_new(object, numbers[i].name,
					numbers[i].whole ? json_integer((json_int_t)numbers[i].value)
							 : json_real(numbers[i].value))) {
			json_decref(object);
			object = NULL;
		}
	return object;
}

void ly_sqlite_add_sums(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *stored = (const char *)sqlite3_value_text(argv[0]);
	const char *added_text = (const char *)sqlite3_value_text(argv[1]);
	json_t *sums = stored ? json_loads(stored, 0, NULL) : json_object();
	json_t *added = added_text ? json_loads(added_text, 0, NULL) : NULL;
	if (!json_is_object(sums) || !json_is_object(added)) {
		sqlite3_result_error(context, "activity sums are not a JSON object", -1);
		sqlite3_result_error_code(context, stored && !json_is_object(sums) ? SQLITE_CORRUPT
										  : SQLITE_NOMEM);
		json_decref(sums);
		json_decref(added);
		return;
	}
	const char *key;
	json_t *value;
	bool failed = false;
	json_object_foreach (added, key, value) {
		json_t *current = json_object_get(sums, key);
		double total = (current ? json_number_value(current) : 0) + json_number_value(value);
		bool whole = json_is_integer(value) && (!current || json_is_integer(current)) &&
			     fabs(total) < 9e18;
		failed |= json_object_set_new(sums, key, whole ? json_integer((json_int_t)total)
							      : json_real(total)) != 0;
	}
	char *text = failed ? NULL : json_dumps(sums, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(sums);
	json_decref(added);
	if (text)
		sqlite3_result_text(context, text, -1, free);
	else
		sqlite3_result_error_nomem(context);
}

/* Binds delta at `at` and the bounds of a count it may be added to at at + 1 and at + 2, runs the
 * upsert (whose update happens only while the sum fits) and says which count would overflow:
 * no row changed means it would not fit. */
static int add_guarded(store *s, sqlite3_stmt *stmt, int at, int64_t delta, const char *doing,
		       const char *what, const char *name)
{
	sqlite3_bind_int64(stmt, at, delta);
	sqlite3_bind_int64(stmt, at + 1, delta < 0 ? INT64_MIN - delta : INT64_MIN);
	sqlite3_bind_int64(stmt, at + 2, delta > 0 ? INT64_MAX - delta : INT64_MAX);
	int rc = ly_sqlite_step_done(s, stmt, doing);
	if (rc == LOYAL_OK && sqlite3_changes(sq(s)->sql) == 0)
		rc = ly_fail(s->error, LOYAL_EOVERFLOW, "%s '%s' would overflow", what, name);
	return rc;
}

int ly_sqlite_activity_add(store *s, int64_t member, const char *type, int64_t day,
			   int64_t delta, const activity_number *numbers, size_t count)
{
	if (count > 0) { /* the sums are one JSON object per row, added to by ly_add_sums() */
		json_t *object = numbers_object(numbers, count);
		char *added = object ? json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(object);
		if (!added)
			return ly_fail(s->error, LOYAL_ENOMEM, "out of memory counting activity");
		sqlite3_stmt *stmt = ly_sqlite_stmt(
			s, ST_ACTIVITY_ADD_SUMS,
			"INSERT INTO activity(member, type, day, count, sums) VALUES(?1, ?2, ?3, ?4, ?7)"
			" ON CONFLICT(member, type, day) DO UPDATE SET count = count + ?4,"
			" sums = ly_add_sums(sums, ?7) WHERE count BETWEEN ?5 AND ?6");
		int rc = stmt ? LOYAL_OK : s->error->code;
		if (stmt) {
			sqlite3_bind_int64(stmt, 1, member);
			sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
			sqlite3_bind_int64(stmt, 3, day);
			sqlite3_bind_text(stmt, 7, added, -1, SQLITE_STATIC);
			rc = add_guarded(s, stmt, 4, delta, "saving activity", "the activity count",
					 type);
		}
		free(added);
		return rc;
	}
	STMT(ST_ACTIVITY_ADD, "INSERT INTO activity(member, type, day, count) VALUES(?1, ?2, ?3, ?4)"
			      " ON CONFLICT(member, type, day) DO UPDATE SET count = count + ?4"
			      " WHERE count BETWEEN ?5 AND ?6");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, day);
	return add_guarded(s, stmt, 4, delta, "saving activity", "the activity count", type);
}

int ly_sqlite_rule_counter_add(store *s, int64_t member, const char *rule, int64_t currency,
			      int64_t day, int64_t delta)
{
	STMT(ST_RULE_COUNTER_ADD,
	     "INSERT INTO rule_counters(member, rule, currency, day, count)"
	     " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(member, rule, currency, day)"
	     " DO UPDATE SET count = count + ?5 WHERE count BETWEEN ?6 AND ?7");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, currency);
	sqlite3_bind_int64(stmt, 4, day);
	return add_guarded(s, stmt, 5, delta, "saving a rule's counter", "the counter of rule", rule);
}

int ly_sqlite_rule_counter_sum(store *s, int64_t member, const char *rule, int64_t currency,
			   int64_t from, int64_t to, int64_t *out)
{
	STMT(ST_RULE_COUNTER_SUM,
	     "SELECT coalesce(sum(count), 0) FROM rule_counters WHERE member = ?1 AND rule = ?2"
	     " AND currency = ?3 AND day BETWEEN ?4 AND ?5");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, currency);
	sqlite3_bind_int64(stmt, 4, from);
	sqlite3_bind_int64(stmt, 5, to);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "reading a rule's counter");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_int64(stmt, 0);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

/* Runs one of the (member, type, from, to) -> integer activity queries. */
static int activity_integer(store *s, sqlite3_stmt *stmt, int64_t member, const char *type,
			   int64_t from, int64_t to, int64_t *out)
{
	if (!stmt)
		return s->error->code;
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, from);
	sqlite3_bind_int64(stmt, 4, to);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "counting activity");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_int64(stmt, 0);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_activity_count(store *s, int64_t member, const char *type, int64_t from,
			 int64_t to, int64_t *out)
{
	return activity_integer(s,
			       ly_sqlite_stmt(s, ST_ACTIVITY_COUNT,
					  "SELECT coalesce(sum(count), 0) FROM activity WHERE"
					  " member = ?1 AND type = ?2 AND day BETWEEN ?3 AND ?4"),
			       member, type, from, to, out);
}

int ly_sqlite_activity_day_count(store *s, int64_t member, const char *type, int64_t from,
			     int64_t to, int64_t *out)
{
	return activity_integer(s,
			       ly_sqlite_stmt(s, ST_ACTIVITY_DAY_COUNT,
					  "SELECT count(*) FROM activity WHERE member = ?1 AND"
					  " type = ?2 AND day BETWEEN ?3 AND ?4 AND count > 0"),
			       member, type, from, to, out);
}

int ly_sqlite_activity_sum(store *s, int64_t member, const char *type, const char *property,
			   int64_t from, int64_t to, double *out)
{
	char path[TEXT_MAX_BYTES + 8]; /* a JSON path naming the property as a quoted key */
	if (strlen(property) > TEXT_MAX_BYTES || strpbrk(property, "\"\\"))
		return ly_fail(s->error, LOYAL_EINVAL,
			       "property name '%s' is too long or has a quote or backslash",
			       property);
	snprintf(path, sizeof path, "$.\"%s\"", property);
	STMT(ST_ACTIVITY_SUM, "SELECT coalesce(sum(json_extract(sums, ?3)), 0) FROM activity"
			      " WHERE member = ?1 AND type = ?2 AND day BETWEEN ?4 AND ?5");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, from);
	sqlite3_bind_int64(stmt, 5, to);
	bool found = false;
	int rc = ly_sqlite_step_one(s, stmt, &found, "summing activity");
	if (rc != LOYAL_OK)
		return rc;
	*out = sqlite3_column_double(stmt, 0);
	ly_sqlite_finish(stmt);
	return LOYAL_OK;
}

int ly_sqlite_activity_days(store *s, int64_t member, const char *type, int64_t to,
			size_t limit, int64_t **days, size_t *count)
{
	STMT(ST_ACTIVITY_DAYS, "SELECT day FROM activity WHERE member = ?1 AND type = ?2 AND"
			       " day <= ?3 ORDER BY day DESC LIMIT ?4");
	sqlite3_bind_int64(stmt, 1, member);
	sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, to);
	sqlite3_bind_int64(stmt, 4, (int64_t)limit);
	return ly_sqlite_collect_ints(s, stmt, 1, days, count, "reading active days");
}

