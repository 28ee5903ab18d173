/* coupons.c - coupons: codes imported into a pool or generated, issued to members, checked,
 * set aside for a checkout and released, and used, each use once. */
#include "engine/coupons.h"
#include "engine/outbox.h"
#include "engine/activity.h"
#include "engine/calls.h"
#include "engine/cursor.h"
#include "engine/members.h"
#include "util/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Generated codes: no 0, 1, I or O, which people misread. 32 symbols: 5 bits each. */
static const char ALPHABET[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
#define GENERATE_TRIES 8
#define MIN_CODE 4
#define MAX_CODE 64

/* A caller's code in the stored form: trimmed, upper case, 4-64 of A-Z, 0-9 and '-'; false
 * when it is none. */
static bool normal_code(const char *text, char out[72])
{
	while (*text == ' ' || *text == '\t')
		text++;
	size_t n = 0;
	for (; *text && *text != ' ' && *text != '\t' && *text != '\r' && *text != '\n'; text++) {
		char c = (char)toupper((unsigned char)*text);
		if (n == MAX_CODE || !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		out[n++] = c;
	}
	while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
		text++;
	out[n] = '\0';
	return n >= MIN_CODE && !*text;
}

/* The code's state at `at`: "valid", "used_up", "expired" or "not_yet_valid". */
static const char *code_state(const coupon_code_row *row, int64_t at)
{
	return row->uses_left <= 0	   ? "used_up"
	       : at >= row->valid_until ? "expired"
	       : at < row->valid_from   ? "not_yet_valid"
					: "valid";
}

/* The code as the member sees it (loyal/coupons.h), into *out; the coupon's title and value
 * when the program still has it. */
static int code_json(loyal_db *db, const coupon_code_row *row, const char *member, int64_t at,
		     json_t **out)
{
	const coupon_def *coupon = NULL;
	for (size_t i = 0; db->program && i < db->program->coupon_count; i++)
		if (strcmp(db->program->coupons[i].name, row->coupon) == 0)
			coupon = &db->program->coupons[i];
	/* The value is a text or an object, kept as the program's own JSON. */
	json_t *value = coupon ? json_loads(coupon->value, JSON_DECODE_ANY, NULL) : NULL;
	int rc = coupon && !value ? ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading coupon '%s'",
					       row->coupon)
				  : LOYAL_OK;
	json_t *result = rc == LOYAL_OK
				 ? json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:o,s:I,s:s}", "id",
					     (json_int_t)row->id, "code", row->code, "coupon",
					     row->coupon, "title", coupon ? coupon->title : row->coupon,
					     "value", value ? value : json_null(), "member", member,
					     "issued_at", (json_int_t)row->issued_at, "valid_from",
					     (json_int_t)row->valid_from, "valid_until",
					     row->valid_until == INT64_MAX
						     ? json_null()
						     : json_integer((json_int_t)row->valid_until),
					     "uses_left", (json_int_t)row->uses_left, "state",
					     code_state(row, at))
				 : NULL;
	if (rc == LOYAL_OK && !result)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading coupon code '%s'", row->code);
	return ly_json_hand_over(rc, result, out);
}

/* ---- importing ---- */

int ly_coupons_import(loyal_db *db, const char *name, const char *codes, int64_t *out_added,
		      int64_t *out_duplicates)
{
	*out_added = *out_duplicates = 0;
	int rc = ly_store_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	const coupon_def *coupon = NULL;
	rc = ly_program_coupon(db, name, &coupon);
	if (rc == LOYAL_OK && !coupon->pool)
		rc = ly_db_fail(db, LOYAL_EINVAL,
				"coupon '%s' generates its codes: only a coupon with \"codes\": "
				"\"pool\" imports them",
				name);
	long line = 0;
	for (const char *at = codes; rc == LOYAL_OK && *at;) {
		const char *end = strchr(at, '\n');
		size_t length = end ? (size_t)(end - at) : strlen(at);
		line++;
		char text[MAX_CODE + 8], code[72];
		bool blank = strspn(at, " \t\r") >= length, valid = !blank && length < sizeof text;
		if (valid) {
			memcpy(text, at, length);
			text[length] = '\0';
			valid = normal_code(text, code);
		}
		if (!blank && !valid)
			rc = ly_db_fail(db, LOYAL_EINVAL,
					"codes, line %ld: a code is %d-%d characters of A-Z, 0-9 and -",
					line, MIN_CODE, MAX_CODE);
		bool added = false;
		if (rc == LOYAL_OK && !blank)
			rc = ly_store_coupon_code_add(db->store, coupon->name, code, &added);
		if (rc == LOYAL_OK && !blank)
			(*(added ? out_added : out_duplicates))++;
		at += length + (end ? 1 : 0);
	}
	if (rc == LOYAL_OK)
		rc = ly_store_commit(db->store);
	else
		ly_store_rollback(db->store);
	if (rc != LOYAL_OK)
		*out_added = *out_duplicates = 0;
	return rc;
}

/* ---- issuing ---- */

/* A new random code: the coupon's prefix, then code_length symbols of ALPHABET. */
static int generate_code(loyal_db *db, const coupon_def *coupon, char out[72])
{
	unsigned char random[32];
	size_t length = (size_t)coupon->code_length;
	if (getrandom(random, length, 0) != (ssize_t)length)
		return ly_db_fail(db, LOYAL_EIO, "cannot read random bytes for a coupon code");
	size_t n = (size_t)snprintf(out, 72, "%s", coupon->prefix);
	for (size_t i = 0; i < length; i++)
		out[n++] = ALPHABET[random[i] % 32];
	out[n] = '\0';
	return LOYAL_OK;
}

int ly_coupons_issue_locked(loyal_db *db, member_row *member, const char *external,
			    const coupon_def *coupon, int64_t at, member_view *view,
			    coupon_code_row *out)
{
	if (member->status == MEMBER_BLOCKED)
		return ly_db_fail(db, LOYAL_EBLOCKED, "member '%s' is blocked", external);
	int rc = LOYAL_OK;
	if (coupon->eligible) {
		member_view own;
		if (!view)
			ly_member_view_open(db, member, external, NULL, at, &own);
		criteria_context context = ly_member_view_context(view ? view : &own);
		criteria_value value;
		rc = ly_criteria_eval(&db->error, coupon->eligible, &context, &value);
		if (rc == LOYAL_OK && !ly_criteria_truthy(&value))
			rc = ly_db_fail(db, LOYAL_ENOTELIGIBLE,
					"member '%s' may not receive coupon '%s'", external,
					coupon->name);
		if (!view)
			ly_member_view_close(&own);
	}
	*out = (coupon_code_row){.member = member->id, .issued_at = at, .uses_left = coupon->uses,
				 .valid_from = coupon->valid_ms ? at : coupon->valid_from,
				 .valid_until = coupon->valid_ms ? at + coupon->valid_ms
								 : coupon->valid_until};
	snprintf(out->coupon, sizeof out->coupon, "%s", coupon->name);
	bool done = false;
	if (rc == LOYAL_OK && coupon->pool) {
		rc = ly_store_coupon_pool_draw(db->store, out, &done);
		if (rc == LOYAL_OK && !done)
			rc = ly_db_fail(db, LOYAL_ESOLDOUT, "coupon '%s' has no code left in its pool",
					coupon->name);
	}
	/* A generated code that happens to exist already is drawn again. */
	for (int i = 0; rc == LOYAL_OK && !done && i < GENERATE_TRIES; i++) {
		rc = generate_code(db, coupon, out->code);
		if (rc == LOYAL_OK)
			rc = ly_store_coupon_code_issue(db->store, out, &done);
	}
	if (rc == LOYAL_OK && !done)
		rc = ly_db_fail(db, LOYAL_ESOLDOUT,
				"coupon '%s' found no free code in %d tries: lengthen its code_length",
				coupon->name, GENERATE_TRIES);
	if (rc == LOYAL_OK)
		rc = ly_outbox_add(db, member->id, "coupon_issued", at,
				   json_pack("{s:s,s:s,s:o}", "coupon", coupon->name, "code",
					     out->code,
					     "valid_until", ly_json_time_or_null(out->valid_until,
										 INT64_MAX)));
	return rc;
}

/* A keyed coupon call: whose, which code or coupon, and what it made. */
typedef struct coupon_call {
	loyal_db *db;
	const char *member, *key;
	const char *coupon_name; /* issue */
	char code[72];           /* reserve, use */
	int64_t reservation;     /* use (0: none), release */
	int op;
	int64_t at;
	member_row row;
	coupon_code_row code_row;
	int64_t recorded; /* what the key's record names: the code's id, or the reservation's */
} coupon_call;

enum { OP_ISSUE, OP_RESERVE, OP_RELEASE, OP_USE };
static const char *const OP_NAMES[] = {"issue", "reserve", "release", "use"};

/* The code `code` of this member, as of the call: refusals name it. */
static int find_own_code(coupon_call *c)
{
	bool found = false;
	int rc = ly_store_coupon_code_get(c->db->store, c->code, &c->code_row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(c->db, LOYAL_ENOTFOUND, "no coupon code '%s'", c->code);
	if (rc == LOYAL_OK && c->code_row.member != c->row.id)
		rc = ly_db_fail(c->db, LOYAL_ENOTELIGIBLE, "coupon code '%s' is not member '%s''s",
				c->code, c->member);
	return rc;
}

/* A use can be taken from the code now: it is valid and has one left. */
static int check_usable(coupon_call *c)
{
	const char *state = code_state(&c->code_row, c->at);
	if (strcmp(state, "used_up") == 0)
		return ly_db_fail(c->db, LOYAL_ELIMIT, "coupon code '%s' has no use left", c->code);
	if (strcmp(state, "expired") == 0)
		return ly_db_fail(c->db, LOYAL_ESTATE, "coupon code '%s' expired at %lld", c->code,
				  (long long)c->code_row.valid_until);
	if (strcmp(state, "not_yet_valid") == 0)
		return ly_db_fail(c->db, LOYAL_ESTATE, "coupon code '%s' is valid from %lld", c->code,
				  (long long)c->code_row.valid_from);
	return LOYAL_OK;
}

/* The reservation `c->reservation` of this member, still held; its code in c->code_row. */
static int find_reservation(coupon_call *c)
{
	int64_t code_id = 0;
	int state = 0;
	bool found = false;
	int rc = ly_store_coupon_reservation_get(c->db->store, c->row.id, c->reservation, &code_id,
						 &state, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(c->db, LOYAL_ENOTFOUND, "member '%s' has no coupon reservation %lld",
				c->member, (long long)c->reservation);
	if (rc == LOYAL_OK && state != COUPON_HELD)
		rc = ly_db_fail(c->db, LOYAL_ESTATE, "coupon reservation %lld was %s already",
				(long long)c->reservation, state == COUPON_USED ? "used" : "released");
	if (rc == LOYAL_OK)
		rc = ly_store_coupon_code_by_id(c->db->store, c->row.id, code_id, &c->code_row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(c->db, LOYAL_ECORRUPT, "coupon reservation %lld names a missing code",
				(long long)c->reservation);
	return rc;
}

static int coupon_work(void *ctx)
{
	coupon_call *c = ctx;
	loyal_db *db = c->db;
	int rc = LOYAL_OK;
	switch (c->op) {
	case OP_ISSUE: {
		const coupon_def *coupon = NULL;
		rc = ly_program_coupon(db, c->coupon_name, &coupon);
		if (rc == LOYAL_OK)
			rc = ly_coupons_issue_locked(db, &c->row, c->member, coupon, c->at, NULL,
						     &c->code_row);
		c->recorded = c->code_row.id;
		return rc;
	}
	case OP_RESERVE: /* one use set aside: taken from the code now, given back on release */
	case OP_USE:
		if (c->op == OP_USE && c->reservation) {
			rc = find_reservation(c);
			if (rc == LOYAL_OK && c->code_row.valid_until <= c->at)
				rc = ly_db_fail(db, LOYAL_ESTATE, "coupon code '%s' expired at %lld",
						c->code_row.code, (long long)c->code_row.valid_until);
			if (rc == LOYAL_OK && strcmp(c->code_row.code, c->code) != 0)
				rc = ly_db_fail(db, LOYAL_EINVAL,
						"coupon reservation %lld is for another code",
						(long long)c->reservation);
			if (rc == LOYAL_OK)
				rc = ly_store_coupon_reservation_set(db->store, c->row.id,
								     c->reservation, COUPON_USED, c->at);
			if (rc == LOYAL_OK)
				rc = ly_store_coupon_code_use(db->store, c->code_row.id,
							      c->code_row.uses_left, c->at);
			c->code_row.used_at = c->at;
			c->recorded = c->reservation;
			return rc;
		}
		rc = find_own_code(c);
		if (rc == LOYAL_OK)
			rc = check_usable(c);
		c->code_row.uses_left--;
		if (rc == LOYAL_OK)
			rc = ly_store_coupon_code_use(db->store, c->code_row.id, c->code_row.uses_left,
						      c->op == OP_USE ? c->at : c->code_row.used_at);
		if (rc == LOYAL_OK && c->op == OP_RESERVE)
			rc = ly_store_coupon_reservation_add(db->store, c->row.id, c->code_row.id,
							     c->at, &c->reservation);
		c->recorded = c->op == OP_RESERVE ? c->reservation : c->code_row.id;
		return rc;
	default: /* OP_RELEASE */
		rc = find_reservation(c);
		c->code_row.uses_left++;
		if (rc == LOYAL_OK)
			rc = ly_store_coupon_reservation_set(db->store, c->row.id, c->reservation,
							     COUPON_RELEASED, c->at);
		if (rc == LOYAL_OK)
			rc = ly_store_coupon_code_use(db->store, c->code_row.id, c->code_row.uses_left,
						      c->code_row.used_at);
		c->recorded = c->reservation;
		return rc;
	}
}

/* What the call hands back: the code, and the reservation it made or settled. */
static int call_json(coupon_call *c, json_t **out)
{
	int rc = code_json(c->db, &c->code_row, c->member, c->at, out);
	if (rc == LOYAL_OK && c->op != OP_ISSUE && c->reservation)
		rc = ly_json_put(&c->db->error, *out, "reservation",
				 json_integer((json_int_t)c->reservation));
	if (rc == LOYAL_OK)
		rc = ly_json_put(&c->db->error, *out, "replayed", json_false());
	return rc;
}

/* Replays the outcome recorded under the key: the code as it stands (and the reservation),
 * or the refusal. */
static int replay(coupon_call *c, const idem_row *seen, json_t **out)
{
	if (seen->rc != LOYAL_OK)
		return ly_idem_refuse_again(c->db, seen);
	bool found = false;
	int rc = LOYAL_OK;
	if (c->op == OP_ISSUE || (c->op == OP_USE && !c->reservation)) {
		rc = ly_store_coupon_code_by_id(c->db->store, c->row.id, seen->txn, &c->code_row,
						&found);
	} else {
		int64_t code_id = 0;
		int state = 0;
		c->reservation = seen->txn;
		rc = ly_store_coupon_reservation_get(c->db->store, c->row.id, seen->txn, &code_id,
						     &state, &found);
		if (rc == LOYAL_OK && found)
			rc = ly_store_coupon_code_by_id(c->db->store, c->row.id, code_id,
							&c->code_row, &found);
	}
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(c->db, LOYAL_ECORRUPT, "what member '%s''s key '%s' recorded is missing",
				c->member, c->key);
	if (rc == LOYAL_OK)
		rc = call_json(c, out);
	if (rc == LOYAL_OK)
		rc = ly_json_put(&c->db->error, *out, "replayed", json_true());
	return rc;
}

static int coupon_locked(void *ctx, const char *request, json_t **out)
{
	coupon_call *c = ctx;
	loyal_db *db = c->db;
	int rc = ly_member_for(db, c->member, c->at, c->op == OP_ISSUE, &c->row);
	ly_idem idem;
	idem_row seen;
	bool found = false;
	if (rc == LOYAL_OK)
		rc = ly_idem_lookup(db, &idem, c->row.id, c->member, c->key, request, IDEM_COUPON, 0,
				    &seen, &found);
	if (rc != LOYAL_OK)
		return rc;
	if (found) {
		rc = replay(c, &seen, out);
		ly_idem_row_clear(&seen);
		return rc;
	}
	/* Unknown codes and reservations are not the member's doing: nothing is recorded. */
	if (c->op != OP_ISSUE && c->op != OP_RELEASE && !(c->op == OP_USE && c->reservation)) {
		coupon_code_row row;
		rc = ly_store_coupon_code_get(db->store, c->code, &row, &found);
		if (rc == LOYAL_OK && !found)
			return ly_db_fail(db, LOYAL_ENOTFOUND, "no coupon code '%s'", c->code);
	}
	if (rc == LOYAL_OK)
		rc = ly_call_recorded(db, &idem, coupon_work, c, &c->recorded);
	return rc == LOYAL_OK ? call_json(c, out) : rc;
}

static int coupon_call_run(loyal_db *db, int op, const char *member, const char *subject,
		    int64_t reservation, const char *key, char **out_json)
{
	if (out_json)
		*out_json = NULL;
	coupon_call c = {.db = db, .member = member, .key = key, .op = op,
			 .reservation = reservation, .at = ly_db_now(db)};
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, key, "idempotency_key", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK && op == OP_ISSUE)
		rc = ly_text_check(&db->error, subject, "coupon", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK && (op == OP_RESERVE || op == OP_USE) &&
	    (!subject || !normal_code(subject, c.code)))
		rc = ly_db_fail(db, LOYAL_EINVAL, "code %s: a code is %d-%d characters of A-Z, 0-9 and -",
				subject ? "is malformed" : "is NULL", MIN_CODE, MAX_CODE);
	if (rc == LOYAL_OK && reservation < 0)
		rc = ly_db_fail(db, LOYAL_EINVAL, "reservation is negative (%lld)",
				(long long)reservation);
	if (rc == LOYAL_OK && op == OP_RELEASE && !reservation)
		rc = ly_db_fail(db, LOYAL_EINVAL, "reservation is 0: release names the reservation");
	if (rc != LOYAL_OK)
		return rc;
	c.coupon_name = subject;
	return ly_call_run(db,
			   json_pack("{s:s,s:s,s:I}", "op", OP_NAMES[op], "subject",
				     op == OP_RELEASE ? "" : (op == OP_ISSUE ? subject : c.code),
				     "reservation", (json_int_t)reservation),
			   coupon_locked, &c, out_json);
}

int ly_coupons_issue(loyal_db *db, const char *member, const char *coupon, const char *key,
		     char **out_json)
{
	return coupon_call_run(db, OP_ISSUE, member, coupon, 0, key, out_json);
}

int ly_coupons_reserve(loyal_db *db, const char *member, const char *code, const char *key,
		       char **out_json)
{
	return coupon_call_run(db, OP_RESERVE, member, code, 0, key, out_json);
}

int ly_coupons_release(loyal_db *db, const char *member, int64_t reservation, const char *key,
		       char **out_json)
{
	return coupon_call_run(db, OP_RELEASE, member, NULL, reservation, key, out_json);
}

int ly_coupons_use(loyal_db *db, const char *member, const char *code, int64_t reservation,
		   const char *key, char **out_json)
{
	return coupon_call_run(db, OP_USE, member, code, reservation, key, out_json);
}

/* ---- reading ---- */

int ly_coupons_check(loyal_db *db, const char *member, const char *code, int64_t at,
		     char **out_json)
{
	*out_json = NULL;
	char normal[72];
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK && (!code || !normal_code(code, normal)))
		rc = ly_db_fail(db, LOYAL_EINVAL, "code %s: a code is %d-%d characters of A-Z, 0-9 and -",
				code ? "is malformed" : "is NULL", MIN_CODE, MAX_CODE);
	if (rc == LOYAL_OK && at < 0)
		rc = ly_db_fail(db, LOYAL_EINVAL, "at is negative (%lld)", (long long)at);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc != LOYAL_OK)
		return rc;
	at = at ? at : ly_db_now(db);
	member_row row;
	coupon_code_row found_code;
	bool member_found = false, code_found = false;
	rc = ly_store_member_find(db->store, member, &row, &member_found);
	if (rc == LOYAL_OK)
		rc = ly_store_coupon_code_get(db->store, normal, &found_code, &code_found);
	if (rc != LOYAL_OK)
		return rc;
	const char *why = !code_found			       ? "unknown"
			  : !member_found || found_code.member != row.id ? "not_this_members"
									 : NULL;
	json_t *result = NULL;
	if (!why) {
		rc = code_json(db, &found_code, member, at, &result);
		const char *state = result ? json_string_value(json_object_get(result, "state")) : "";
		bool valid = strcmp(state, "valid") == 0;
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, result, "valid", json_boolean(valid));
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, result, "why",
					 valid ? json_null() : json_string(state));
	} else {
		result = json_pack("{s:s,s:b,s:s}", "code", normal, "valid", 0, "why", why);
		if (!result)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory checking a coupon code");
	}
	return ly_call_emit(db, rc, result, out_json);
}

typedef struct coupon_cursor {
	loyal_cursor base;
	int64_t member, before;
	char name[TEXT_MAX_BYTES + 1];
} coupon_cursor;

static int coupon_step(loyal_cursor *base, char **row)
{
	coupon_cursor *cursor = (coupon_cursor *)base;
	loyal_db *db = base->db;
	*row = NULL;
	coupon_code_row code;
	bool found = false;
	int rc = ly_store_coupon_code_before(db->store, cursor->member, cursor->before, &code,
					     &found);
	if (rc != LOYAL_OK || !found)
		return rc;
	cursor->before = code.id;
	json_t *value = NULL;
	rc = code_json(db, &code, cursor->name, ly_db_now(db), &value);
	return ly_call_emit(db, rc, value, row);
}

int ly_coupons_list(loyal_db *db, const char *member, int64_t before, loyal_cursor **out)
{
	*out = NULL;
	if (before < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "before is negative (%lld)", (long long)before);
	member_row row;
	bool found = false;
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_store_member_find(db->store, member, &row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member);
	if (rc != LOYAL_OK)
		return rc;
	coupon_cursor *cursor = (coupon_cursor *)ly_cursor_new(db, sizeof *cursor, coupon_step);
	if (!cursor)
		return db->error.code;
	cursor->member = row.id;
	cursor->before = before;
	snprintf(cursor->name, sizeof cursor->name, "%s", member);
	*out = &cursor->base;
	return LOYAL_OK;
}
