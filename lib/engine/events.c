/* events.c - tracking events through the earning rules (their outcome recorded and replayed)
 * and reversing them. */
#include "engine/activity.h"
#include "engine/badges.h"
#include "engine/events.h"
#include "engine/idempotency.h"
#include "engine/leaderboards.h"
#include "engine/ledger.h"
#include "engine/outcome.h"
#include "engine/rewards.h"
#include "engine/rules.h"
#include "engine/tiers.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

static char *dump(json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(value);
	return text;
}

/* The caller's outcome: what the event did (the stored outcome's text as ly_outcome_text reads
 * it, an object), with the event's id and whether this call replayed it, as text in the
 * caller's memory: the id and the flag are spliced into that text, not written with it. */
static int caller_outcome(loyal_db *db, const char *stored, int64_t event, bool replayed,
			  bool dry_run, char **out)
{
	size_t length = strlen(stored);
	if (length < 2 || stored[0] != '{' || stored[length - 1] != '}')
		return ly_db_fail(db, LOYAL_ECORRUPT, "the outcome of event %lld is not an object",
				  (long long)event);
	char tail[64];
	int extra = snprintf(tail, sizeof tail, "%s\"event\":%lld,\"replayed\":%s%s}",
			     length > 2 ? "," : "", (long long)event, replayed ? "true" : "false",
			     dry_run ? ",\"dry_run\":true" : "");
	char *text = ly_mem_alloc(length + (size_t)extra);
	if (!text)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory writing the outcome of event %lld",
				  (long long)event);
	memcpy(text, stored, length - 1);
	memcpy(text + length - 1, tail, (size_t)extra + 1);
	*out = text;
	return LOYAL_OK;
}

/* Replays a recorded event: its stored outcome, marked as a replay. */
static int replay(tracking *t, const idem_row *seen, char **out_json)
{
	loyal_db *db = t->db;
	void *stored = NULL;
	size_t size = 0;
	char *text = NULL;
	int rc = ly_store_event_outcome(db->store, seen->member, seen->txn, &stored, &size);
	/* Read even when the caller does not want it: a damaged outcome is reported. */
	if (rc == LOYAL_OK)
		rc = ly_outcome_text(&db->error, stored, size, seen->txn, &text);
	if (rc == LOYAL_OK && out_json)
		rc = caller_outcome(db, text, seen->txn, true,
				    ly_event_flags(t->event) & LOYAL_DRY_RUN, out_json);
	ly_mem_free(text);
	ly_mem_free(stored);
	return rc;
}

static int undeclared_type(loyal_db *db, const char *type)
{
	return ly_db_fail(db, LOYAL_EINVAL,
			  "event.type '%s' is not one of the events the program declares", type);
}

static int track_locked(tracking *t, const char *request, const char *properties,
			char **out_json)
{
	loyal_db *db = t->db;
	const loyal_event *e = t->event;
	int rc = ly_program_refresh(db);
	/* Every refusal comes before the first write (the member's row, the key's claim), so that
	 * a refused event writes nothing (inside a batch it needs no savepoint): a new member is
	 * created only for an event the program takes. */
	bool known = rc == LOYAL_OK && ly_program_knows_event(db->program, e->type);
	if (rc == LOYAL_OK)
		rc = ly_member_for(db, e->member, t->at, known, &t->member);
	if (rc == LOYAL_ENOTFOUND && !known)
		return undeclared_type(db, e->type);
	ly_idem idem;
	idem_row seen;
	bool found = false;
	bool blocked = rc == LOYAL_OK && t->member.status == MEMBER_BLOCKED;
	if (rc == LOYAL_OK && (blocked || !known)) {
		/* Refused unless a retry of a recorded event, which replays even if the member was
		 * blocked or the type undeclared since: the key is looked up, not claimed. */
		rc = ly_idem_find(db, t->member.id, e->member, e->idempotency_key, request, &seen,
				  &found);
		if (rc == LOYAL_OK && !found)
			rc = blocked ? ly_db_fail(db, LOYAL_EBLOCKED, "member '%s' is blocked", e->member)
				     : undeclared_type(db, e->type);
	} else if (rc == LOYAL_OK) {
		/* The event's id, for its key's record and the postings of its rules to name (a
		 * replay leaves it unused). */
		rc = ly_store_event_reserve(db->store, &t->event_id);
		if (rc == LOYAL_OK)
			rc = ly_idem_lookup(db, &idem, t->member.id, e->member, e->idempotency_key,
					    request, IDEM_EVENT, t->event_id, &seen, &found);
	}
	if (rc != LOYAL_OK)
		return rc;
	if (found) {
		rc = replay(t, &seen, out_json);
		ly_idem_row_clear(&seen);
		return rc;
	}
	/* Opened before the event counts as activity: its rules see the member's last_seen as it
	 * was (a return bonus reads the idle time this event ends). */
	ly_member_view_open(db, &t->member, e->member, t->properties, t->at, &t->view);
	if (t->at > t->member.last_active_at)
		t->member.last_active_at = t->at;
	rc = ly_activity_record_event(&t->view, e->type, t->at, t->properties);
	if (rc == LOYAL_OK)
		rc = ly_outcome_init(&db->error, &t->outcome);
	bool stop = false; /* a rule with "last" awarded: the later ones do not run */
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->rule_count; i++)
		if (strcmp(db->program->rules[i].event, e->type) == 0)
			rc = ly_rules_apply(t, &db->program->rules[i], &stop);
	if (rc == LOYAL_OK)
		rc = ly_tiers_upgrade(&t->view, t->at, t->outcome.tier_changes);
	if (rc == LOYAL_OK)
		rc = ly_badges_evaluate(&t->view, e->type, t->at, e->idempotency_key,
					 t->outcome.badges, NULL);
	if (rc == LOYAL_OK)
		rc = ly_rewards_automatic(db, &t->member, e->member, t->at, t->outcome.redemptions);
	if (rc == LOYAL_OK && db->program->leaderboard_count)
		rc = ly_leaderboards_record(t);
	ly_member_view_close(&t->view);
	if (rc == LOYAL_OK)
		rc = ly_store_member_update(db->store, &t->member);
	/* The record is stored; the caller's JSON is read back from it, so that a replay gives
	 * the same text, and is made only for a caller who wants it. */
	unsigned char *record = NULL;
	size_t record_size = 0;
	if (rc == LOYAL_OK)
		rc = ly_outcome_encode(&db->error, &t->outcome, t->at, e->member, e->type, &record,
				       &record_size);
	ly_outcome_clear(&t->outcome);
	event_row row = {.id = t->event_id, .member = t->member.id, .at = t->at, .type = e->type,
			 .key = e->idempotency_key, .properties = properties, .outcome = record,
			 .outcome_size = record_size, .request = request};
	if (rc == LOYAL_OK)
		rc = ly_store_event_insert(db->store, &row);
	if (rc == LOYAL_OK)
		rc = ly_idem_record(db, &idem, LOYAL_OK, row.id, 0, "ok");
	char *text = NULL;
	if (rc == LOYAL_OK && out_json)
		rc = ly_outcome_text(&db->error, record, record_size, row.id, &text);
	if (rc == LOYAL_OK && out_json)
		rc = caller_outcome(db, text, row.id, false, ly_event_flags(e) & LOYAL_DRY_RUN,
				    out_json);
	ly_mem_free(text);
	ly_mem_free(record);
	return rc;
}

/* Ends the write transaction a call opened: commits when rc is LOYAL_OK, else rolls back and
 * frees the text made for the caller. The caller's text is made before the commit, so that a
 * success is never reported as a failure for want of memory. */
static int finish_write(loyal_db *db, int rc, char **out_json)
{
	if (rc == LOYAL_OK)
		rc = ly_store_commit(db->store);
	else
		ly_store_rollback(db->store);
	if (rc != LOYAL_OK && out_json) {
		ly_mem_free(*out_json);
		*out_json = NULL;
	}
	return rc;
}

int ly_events_track(loyal_db *db, const loyal_event *event, int64_t at, json_t *properties,
		    char **out_json)
{
	tracking t = {.db = db, .event = event, .at = at, .properties = properties};
	/* The request as recorded with the key: ["track", type, at, properties], the properties
	 * with sorted keys so that the same object always reads the same. The type needs no
	 * escaping (loyal_track allows none of JSON's special characters). An empty object, most
	 * events' properties, is written without jansson's work (the same "{}"). */
	char *dumped = json_object_size(properties) ? dump(json_incref(properties)) : NULL;
	const char *text = json_object_size(properties) ? dumped : "{}";
	char *request = NULL;
	size_t request_size = text ? strlen(text) + strlen(event->type) + 48 : 0;
	if (text && (request = ly_mem_alloc(request_size)) != NULL)
		snprintf(request, request_size, "[\"track\",\"%s\",%lld,%s]", event->type,
			 (long long)event->at, text);
	/* An event's refusals come before its first write (track_locked), so a batch's savepoint
	 * is not needed, but by a dry run, which undoes what it wrote. */
	bool dry = ly_event_flags(event) & LOYAL_DRY_RUN;
	int rc = !request ? ly_db_fail(db, LOYAL_ENOMEM, "out of memory recording an event")
		 : dry	  ? ly_store_begin(db->store)
			  : ly_store_begin_refusals_first(db->store);
	if (rc == LOYAL_OK && dry)
		rc = ly_db_end_dry_run(db, track_locked(&t, request, text, out_json));
	else if (rc == LOYAL_OK)
		rc = finish_write(db, track_locked(&t, request, text, out_json), out_json);
	free(dumped);
	ly_mem_free(request);
	return rc;
}

/* ---- reversing an event ---- */

/* Reverses the share r asks for of transaction txn (amount points credited to member_id in
 * currency); appends to reversals. */
static int reverse_share(loyal_db *db, const loyal_event_reversal *r, int64_t at, int64_t txn,
			 int64_t amount, const char *member_id, const currency_def *currency,
			 json_t *reversals)
{
	int64_t share = 0; /* 0: all that is left */
	if (r->whole) {
		__extension__ typedef __int128 wide; /* amount * part may exceed 64 bits */
		share = (int64_t)((wide)amount * r->part / r->whole);
		if (share == 0)
			return LOYAL_OK;
	}
	member_row member;
	int rc = ly_member_for(db, member_id, at, false, &member);
	int64_t requested = share, done = 0;
	if (rc == LOYAL_OK && !share)
		rc = ly_store_reversed_total(db->store, member.id, txn, &done);
	if (!share)
		requested = amount - done;
	loyal_posting p = LOYAL_POSTING_INIT;
	p.member = member_id;
	p.currency = currency->name;
	p.amount = share;
	p.txn = txn;
	p.idempotency_key = r->idempotency_key;
	p.reason = r->reason ? r->reason : "event reversal";
	p.cause = r->event_key;
	int64_t reversal = 0, moved = 0;
	if (rc == LOYAL_OK)
		rc = ly_ledger_run(db, OP_REVERSE, &p, &member, currency, at, 0, &reversal, &moved);
	if (rc == LOYAL_ESTATE) /* this posting has nothing left to reverse */
		return LOYAL_OK;
	if (rc == LOYAL_OK)
		rc = ly_store_member_update(db->store, &member);
	if (rc == LOYAL_OK)
		rc = ly_json_append(&db->error, reversals,
				 json_pack("{s:I,s:I,s:s,s:s,s:I,s:I}", "txn", (json_int_t)txn,
					   "reversal", (json_int_t)reversal, "member", member_id,
					   "currency", currency->name, "amount", (json_int_t)moved,
					   "requested", (json_int_t)requested));
	return rc;
}

/* Reverses one posting of the event (a transaction its rule made). */
static int reverse_posting(loyal_db *db, const loyal_event_reversal *r, int64_t at,
			   const event_posting *posting, json_t *reversals)
{
	char *member_id = NULL;
	const currency_def *currency = NULL;
	int rc = ly_store_member_external_id(db->store, posting->member, &member_id);
	/* Currencies are never removed from a program: one it lacks is damage. */
	if (rc == LOYAL_OK && !(currency = ly_program_currency_by_id(db, posting->currency)))
		rc = ly_db_fail(db, LOYAL_ECORRUPT,
				"transaction %lld names currency #%lld, which the program lacks",
				(long long)posting->txn, (long long)posting->currency);
	if (rc == LOYAL_OK)
		rc = reverse_share(db, r, at, posting->txn, posting->amount, member_id, currency,
				   reversals);
	ly_mem_free(member_id);
	return rc;
}

static int reverse_locked(loyal_db *db, const loyal_event_reversal *r, int64_t at,
			  const char *request, json_t **outcome)
{
	member_row member;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = ly_member_for(db, r->member, at, false, &member);
	ly_idem idem;
	idem_row mine, event;
	bool found = false, tracked = false;
	if (rc == LOYAL_OK)
		rc = ly_idem_lookup(db, &idem, member.id, r->member, r->idempotency_key, request,
				    IDEM_EVENT_REVERSAL, 0, &mine, &found);
	if (rc != LOYAL_OK)
		return rc;
	if (found) {
		*outcome = NULL;
		rc = ly_json_parse_stored(&db->error, mine.message, outcome,
					  "the outcome of event reversal '%s'", r->idempotency_key);
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, *outcome, "replayed", json_true());
		ly_idem_row_clear(&mine);
		return rc;
	}
	rc = ly_store_idem_get(db->store, member.id, ly_idem_hash(r->event_key), r->event_key,
			       &event, &tracked);
	if (rc == LOYAL_OK && (!tracked || event.kind != IDEM_EVENT))
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "member '%s' has no event tracked with key '%s'",
			     r->member, r->event_key);
	/* What the event's rules posted, from the ledger. */
	event_posting_vec postings = {0};
	if (rc == LOYAL_OK)
		rc = ly_store_event_postings(db->store, event.txn, &postings);
	json_t *reversals = json_array();
	for (size_t i = 0; i < postings.count && rc == LOYAL_OK; i++)
		rc = reverse_posting(db, r, at, &postings.items[i], reversals);
	size_t posted = postings.count;
	ly_event_posting_vec_free(&postings);
	if (rc == LOYAL_OK && posted && json_array_size(reversals) == 0)
		rc = ly_db_fail(db, LOYAL_ESTATE, "event '%s' has nothing left to reverse",
			     r->event_key);
	json_t *result = json_pack("{s:I,s:O}", "event", (json_int_t)(tracked ? event.txn : 0),
				   "reversals", reversals);
	char *message = rc == LOYAL_OK ? dump(json_incref(result)) : NULL;
	if (rc == LOYAL_OK)
		rc = message ? ly_idem_record(db, &idem, LOYAL_OK, 0, 0, message)
			     : ly_db_fail(db, LOYAL_ENOMEM, "out of memory reversing an event");
	free(message);
	json_decref(reversals);
	if (tracked)
		ly_idem_row_clear(&event);
	if (rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "replayed", json_false());
	if (rc == LOYAL_OK) {
		*outcome = result;
	} else {
		json_decref(result);
	}
	return rc;
}

int ly_events_reverse(loyal_db *db, const loyal_event_reversal *reversal, int64_t at,
		      char **out_json)
{
	char *request = dump(json_pack("[s,s,I,I,s?,I]", "reverse_event", reversal->event_key,
				       (json_int_t)reversal->part, (json_int_t)reversal->whole,
				       reversal->reason, (json_int_t)reversal->at));
	if (!request)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory reversing an event");
	json_t *outcome = NULL;
	int rc = ly_store_begin(db->store);
	if (rc == LOYAL_OK) {
		rc = reverse_locked(db, reversal, at, request, &outcome);
		if (rc == LOYAL_OK && out_json)
			rc = ly_json_emit(&db->error, json_incref(outcome), out_json);
		rc = finish_write(db, rc, out_json);
	}
	json_decref(outcome);
	free(request);
	return rc;
}
