/* rewards.c - redeeming the program's rewards: who, when, limits and stock checked before any
 * point moves; the points debited or held through the ledger; fulfilment, cancellation,
 * expiry, and the listings. */
#include "engine/rewards.h"
#include "engine/outbox.h"
#include "engine/activity.h"
#include "engine/calls.h"
#include "engine/coupons.h"
#include "engine/cursor.h"
#include "engine/idempotency.h"
#include "engine/ledger.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUANTITY 1000

static const char *const STATES[] = {"pending", "fulfilled", "cancelled", "expired"};
static const char *const PERIODS[] = {"day", "week", "month", "year", "ever"};

/* A pending redemption whose deadline has passed is expired, recorded so or not. */
static int state_at(const redemption_row *r, int64_t now)
{
	return r->state == REDEMPTION_PENDING && r->deadline <= now ? REDEMPTION_EXPIRED : r->state;
}

static json_t *time_or_null(int64_t at, bool set)
{
	return set ? json_integer((json_int_t)at) : json_null();
}

/* The redemption as its JSON (loyal/rewards.h), into *out (a new reference). */
static int redemption_json(loyal_db *db, const redemption_row *r, const char *member,
			   int64_t now, bool replayed, json_t **out)
{
	json_t *postings = NULL;
	int rc = ly_json_parse_stored(&db->error, r->postings, &postings,
				      "the postings of redemption %lld", (long long)r->id);
	int state = state_at(r, now);
	coupon_code_row code = {0};
	bool found = false;
	if (rc == LOYAL_OK && r->code)
		rc = ly_store_coupon_code_by_id(db->store, r->member, r->code, &code, &found);
	json_t *value = rc == LOYAL_OK
				? json_pack("{s:I,s:s,s:s,s:I,s:s,s:I,s:o,s:o,s:o,s:b}", "id",
					    (json_int_t)r->id, "member", member, "reward", r->reward,
					    "quantity", (json_int_t)r->quantity, "state", STATES[state],
					    "at", (json_int_t)r->at, "deadline",
					    time_or_null(r->deadline, state == REDEMPTION_PENDING),
					    "settled_at",
					    time_or_null(state == REDEMPTION_EXPIRED ? r->deadline
										       : r->settled_at,
							 state != REDEMPTION_PENDING),
					    "postings", postings, "replayed", replayed)
				: NULL;
	if (rc == LOYAL_OK && !value)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading redemption %lld",
				(long long)r->id);
	if (rc == LOYAL_OK && found) /* a coupon reward's code */
		rc = ly_json_put(&db->error, value, "coupon_code", json_string(code.code));
	return ly_json_hand_over(rc, value, out);
}

/* Writes the postings built under rc into the redemption's row (consuming them). */
static int keep_postings(loyal_db *db, int rc, json_t *postings, redemption_row *row)
{
	char *text = rc == LOYAL_OK ? json_dumps(postings, JSON_COMPACT) : NULL;
	if (rc == LOYAL_OK && (!text || strlen(text) >= sizeof row->postings))
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory recording a redemption");
	if (rc == LOYAL_OK)
		memcpy(row->postings, text, strlen(text) + 1);
	free(text); /* jansson's allocation */
	json_decref(postings);
	return rc;
}

/* ---- the checks before anything is written ---- */

static const reward_price *member_price(const reward_def *reward, int tier)
{
	return tier >= 0 && reward->tier_prices[tier].count ? &reward->tier_prices[tier]
							    : &reward->price;
}

/* When and who: the reward's active window and its eligible expression. *why names the
 * refusal for listings. */
static int check_who_when(member_view *view, const reward_def *reward, int64_t at,
			  const char **why)
{
	loyal_db *db = view->db;
	if (at < reward->active_from || at >= reward->active_until) {
		*why = "not_active";
		return ly_db_fail(db, LOYAL_ENOTELIGIBLE, "reward '%s' is not active at %lld",
				  reward->name, (long long)at);
	}
	if (!reward->eligible)
		return LOYAL_OK;
	criteria_context context = ly_member_view_context(view);
	criteria_value value;
	int rc = ly_criteria_eval(&db->error, reward->eligible, &context, &value);
	if (rc == LOYAL_OK && !ly_criteria_truthy(&value)) {
		*why = "not_eligible";
		rc = ly_db_fail(db, LOYAL_ENOTELIGIBLE, "member '%s' is not eligible for reward '%s'",
				view->external_id, reward->name);
	}
	return rc;
}

/* The member's limits: `quantity` more units must fit in each of them. */
static int check_limits(member_view *view, const reward_def *reward, int64_t at,
			int64_t quantity, const char **why)
{
	loyal_db *db = view->db;
	for (size_t i = 0; i < reward->limit_count; i++) {
		int64_t first, last, taken = 0;
		ly_activity_period(reward->limits[i].per, ly_member_view_day(view, at), &first, &last);
		int rc = ly_store_redemption_count(db->store, view->member->id, reward->name, first,
						   last, at, &taken);
		if (rc != LOYAL_OK)
			return rc;
		if (taken + quantity > reward->limits[i].count) {
			*why = "limit_reached";
			return ly_db_fail(db, LOYAL_ELIMIT,
					  "member '%s' has redeemed %lld of reward '%s' this %s; the "
					  "limit is %lld",
					  view->external_id, (long long)taken, reward->name,
					  PERIODS[reward->limits[i].per], (long long)reward->limits[i].count);
		}
	}
	return LOYAL_OK;
}

/* ---- redeeming ---- */

typedef struct redeeming {
	loyal_db *db;
	const loyal_redeem *request;
	const reward_def *reward;
	member_row *member; /* the call's own (own_member), or an event's */
	member_row own_member;
	int64_t at, quantity;
	redemption_row row;
} redeeming;

/* Moves the points: a debit or a hold per currency of the member's price, each recorded in
 * the redemption's postings. */
static int take_points(redeeming *r, const reward_price *price)
{
	loyal_db *db = r->db;
	json_t *postings = json_array();
	int rc = postings ? LOYAL_OK : ly_db_fail(db, LOYAL_ENOMEM, "out of memory redeeming");
	char reason[80];
	snprintf(reason, sizeof reason, "reward:%s", r->reward->name);
	for (size_t i = 0; i < price->count && rc == LOYAL_OK; i++) {
		const currency_def *currency = &db->program->currencies[price->items[i].currency];
		int64_t amount = 0;
		for (int64_t q = 0; q < r->quantity && rc == LOYAL_OK; q++)
			rc = ly_add_checked(&db->error, &amount, price->items[i].amount,
					    "the reward's price times the quantity");
		loyal_posting posting = LOYAL_POSTING_INIT;
		posting.member = r->request->member;
		posting.currency = currency->name;
		posting.amount = amount;
		posting.reason = reason;
		posting.at = r->at;
		posting.deadline = r->reward->two_phase ? r->at + r->reward->deadline_ms : 0;
		int64_t txn = 0, moved = 0;
		if (rc == LOYAL_OK)
			rc = ly_ledger_run(db, r->reward->two_phase ? OP_HOLD : OP_DEBIT, &posting,
					   r->member, currency, r->at, 0, &txn, &moved);
		if (rc == LOYAL_OK)
			rc = ly_json_append(&db->error, postings,
					  json_pack("{s:s,s:I,s:I}", "currency", currency->name,
						    "amount", (json_int_t)moved, "txn", (json_int_t)txn));
	}
	return keep_postings(db, rc, postings, &r->row);
}

/* Announces a redemption's step in the outbox. */
static int announce(loyal_db *db, const redemption_row *row, const char *kind)
{
	json_t *body = json_pack("{s:I,s:s,s:I}", "redemption", (json_int_t)row->id, "reward",
				 row->reward, "quantity", (json_int_t)row->quantity);
	if (body && strcmp(kind, "reward_redeemed") == 0 &&
	    json_object_set_new(body, "state",
				json_string(row->state == REDEMPTION_PENDING ? "pending"
									    : "fulfilled")) != 0) {
		json_decref(body);
		body = NULL;
	}
	return ly_outbox_add(db, row->member, kind, row->settled_at ? row->settled_at : row->at,
			     body);
}


/* Everything a redemption decides and writes, inside the call's savepoint. */
static int redeem_checked(redeeming *r)
{
	loyal_db *db = r->db;
	const reward_def *reward = r->reward;
	if (r->member->status == MEMBER_BLOCKED)
		return ly_db_fail(db, LOYAL_EBLOCKED, "member '%s' is blocked", r->request->member);
	member_view view;
	ly_member_view_open(db, r->member, r->request->member, NULL, r->at, &view);
	const char *why = NULL;
	int rc = check_who_when(&view, reward, r->at, &why);
	if (rc == LOYAL_OK)
		rc = check_limits(&view, reward, r->at, r->quantity, &why);
	const reward_price *price = member_price(reward, view.tier);
	r->row.day = ly_member_view_day(&view, r->at);
	ly_member_view_close(&view);
	/* Stock is counted as of the clock (or a later `at`): units of redemptions expired by
	 * then are free, recorded so or not. */
	int64_t now = ly_db_now(db) > r->at ? ly_db_now(db) : r->at, used = 0;
	bool taken = true;
	r->row.stocked = reward->stock >= 0;
	if (rc == LOYAL_OK && r->row.stocked)
		rc = ly_store_stock_take(db->store, reward->name, r->quantity, reward->stock, now,
					 &taken);
	if (rc == LOYAL_OK && !taken &&
	    (rc = ly_store_stock_taken(db->store, reward->name, now, &used)) == LOYAL_OK)
		rc = ly_db_fail(db, LOYAL_ESOLDOUT, "reward '%s' has %lld left of %lld; %lld asked",
				reward->name, (long long)(reward->stock > used ? reward->stock - used : 0),
				(long long)reward->stock, (long long)r->quantity);
	if (rc == LOYAL_OK)
		rc = take_points(r, price);
	coupon_code_row code = {0};
	if (rc == LOYAL_OK && reward->coupon >= 0)
		rc = ly_coupons_issue_locked(db, r->member, r->request->member,
					     &db->program->coupons[reward->coupon], r->at, NULL, &code);
	r->row.code = code.id;
	/* An event's member row is saved by the event. */
	if (rc == LOYAL_OK && r->member == &r->own_member)
		rc = ly_store_member_update(db->store, r->member);
	r->row.member = r->member->id;
	r->row.quantity = r->quantity;
	r->row.at = r->at;
	r->row.state = reward->two_phase ? REDEMPTION_PENDING : REDEMPTION_FULFILLED;
	r->row.deadline = reward->two_phase ? r->at + reward->deadline_ms : INT64_MAX;
	r->row.settled_at = reward->two_phase ? 0 : r->at;
	snprintf(r->row.reward, sizeof r->row.reward, "%s", reward->name);
	if (rc == LOYAL_OK)
		rc = ly_store_redemption_insert(db->store, &r->row);
	if (rc == LOYAL_OK)
		rc = announce(db, &r->row, "reward_redeemed");
	return rc;
}

#define AUTOMATIC_MAX 10

int ly_rewards_automatic(loyal_db *db, member_row *member, const char *external, int64_t at,
			 json_t *made)
{
	const struct program *program = db->program;
	for (size_t i = 0; i < program->reward_count; i++) {
		if (!program->rewards[i].automatic)
			continue;
		loyal_redeem request = LOYAL_REDEEM_INIT;
		request.member = external;
		request.reward = program->rewards[i].name;
		/* As many as the member can take now, each one a redemption of its own; the first
		 * refusal (points short, a limit, the stock) ends it, undone. */
		for (int n = 0; n < AUTOMATIC_MAX; n++) {
			redeeming r = {.db = db, .request = &request, .reward = &program->rewards[i],
				       .member = member, .at = at, .quantity = 1};
			int rc = ly_store_savepoint(db->store);
			if (rc != LOYAL_OK)
				return rc;
			int outcome = redeem_checked(&r);
			if (ly_ledger_sticky(outcome)) {
				ly_store_savepoint_rollback(db->store);
				break;
			}
			if (outcome != LOYAL_OK)
				return outcome;
			json_t *value = NULL;
			rc = ly_store_savepoint_release(db->store);
			if (rc == LOYAL_OK)
				rc = redemption_json(db, &r.row, external, at, false, &value);
			if (rc == LOYAL_OK) {
				json_object_del(value, "replayed");
				rc = ly_json_append(&db->error, made, value);
			}
			if (rc != LOYAL_OK)
				return rc;
		}
	}
	ly_error_clear(&db->error);
	return LOYAL_OK;
}

/* Replays the outcome recorded under the call's key: the redemption, or the refusal. */
static int replay(loyal_db *db, int64_t member, const char *member_name, const idem_row *seen,
		  json_t **out)
{
	if (seen->rc != LOYAL_OK)
		return ly_idem_refuse_again(db, seen);
	redemption_row row;
	bool found = false;
	int rc = ly_store_redemption_get(db->store, member, seen->txn, &row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ECORRUPT, "redemption %lld of member '%s' is missing",
				(long long)seen->txn, member_name);
	return rc == LOYAL_OK ? redemption_json(db, &row, member_name, ly_db_now(db), true, out) : rc;
}

static int redeem_work(void *ctx)
{
	return redeem_checked(ctx);
}

static int redeem_locked(void *ctx, const char *request, json_t **out)
{
	redeeming *r = ctx;
	loyal_db *db = r->db;
	int rc = ly_program_reward(db, r->request->reward, &r->reward);
	bool found = false;
	if (rc == LOYAL_OK)
		rc = ly_store_member_find(db->store, r->request->member, r->member, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", r->request->member);
	ly_idem idem;
	idem_row seen;
	if (rc == LOYAL_OK)
		rc = ly_idem_lookup(db, &idem, r->member->id, r->request->member,
				    r->request->idempotency_key, request, IDEM_REDEMPTION, 0, &seen,
				    &found);
	if (rc != LOYAL_OK)
		return rc;
	if (found) {
		rc = replay(db, r->member->id, r->request->member, &seen, out);
		ly_idem_row_clear(&seen);
		return rc;
	}
	rc = ly_call_recorded(db, &idem, redeem_work, r, &r->row.id);
	if (rc == LOYAL_OK)
		rc = redemption_json(db, &r->row, r->request->member, r->at, false, out);
	return rc;
}

int ly_rewards_redeem(loyal_db *db, const loyal_redeem *request, char **out_json)
{
	if (out_json)
		*out_json = NULL;
	if (request->version != LOYAL_REDEEM_VERSION)
		return ly_db_fail(db, LOYAL_EINVAL, "request->version is %u; this library knows %d",
				  request->version, LOYAL_REDEEM_VERSION);
	int rc = ly_text_check(&db->error, request->member, "request.member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, request->reward, "request.reward", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, request->idempotency_key, "request.idempotency_key",
				   true, TEXT_MAX_BYTES);
	if (rc != LOYAL_OK)
		return rc;
	if (request->quantity < 0 || request->quantity > MAX_QUANTITY)
		return ly_db_fail(db, LOYAL_EINVAL, "request.quantity is %lld; it must be 1 to %d",
				  (long long)request->quantity, MAX_QUANTITY);
	const reward_def *reward = NULL;
	if (request->quantity > 1 && ly_program_reward(db, request->reward, &reward) == LOYAL_OK &&
	    reward->coupon >= 0)
		return ly_db_fail(db, LOYAL_EINVAL,
				  "request.quantity is %lld; reward '%s' issues a coupon: one at a time",
				  (long long)request->quantity, reward->name);
	int64_t at = 0;
	int rc_at = ly_db_time(db, request->at, "request.at", &at);
	if (rc_at != LOYAL_OK)
		return rc_at;
	redeeming r = {.db = db, .request = request, .at = at,
		       .quantity = request->quantity ? request->quantity : 1};
	r.member = &r.own_member;
	return ly_call_run(db,
			json_pack("{s:s,s:s,s:I,s:I}", "op", "redeem", "reward", request->reward,
				  "quantity", (json_int_t)r.quantity, "at", (json_int_t)request->at),
			redeem_locked, &r, out_json);
}

/* ---- fulfilling, cancelling, expiring ---- */

typedef struct settling {
	loyal_db *db;
	const char *member_name, *key;
	member_row member;
	redemption_row row;
	bool fulfil;
	int64_t now;
} settling;

/* Gives the redemption's units back to its reward's stock (when they came from it). */
static int return_stock(loyal_db *db, const redemption_row *row)
{
	return row->stocked ? ly_store_stock_return(db->store, row->reward, row->quantity)
			    : LOYAL_OK;
}

/* Records a pending redemption past its deadline as expired (the ledger releases its holds). */
static int record_expiry(loyal_db *db, redemption_row *row)
{
	int rc = ly_store_redemption_settle(db->store, row->member, row->id, REDEMPTION_EXPIRED,
					    row->deadline, row->postings);
	if (rc == LOYAL_OK)
		rc = return_stock(db, row);
	if (rc == LOYAL_OK)
		rc = announce(db, row, "reward_expired");
	if (rc == LOYAL_OK) {
		row->state = REDEMPTION_EXPIRED;
		row->settled_at = row->deadline;
	}
	return rc;
}

/* Captures (fulfil), releases (cancel while pending) or refunds (cancel once fulfilled) each
 * of the redemption's postings, noting the transaction that did it. */
static int settle_points(settling *s, int op, const char *field, const char *source)
{
	loyal_db *db = s->db;
	json_t *postings = NULL;
	int rc = ly_json_parse_stored(&db->error, s->row.postings, &postings,
				      "the postings of redemption %lld", (long long)s->row.id);
	char reason[80];
	snprintf(reason, sizeof reason, "reward:%s", s->row.reward);
	size_t i;
	json_t *item;
	json_array_foreach (postings, i, item) {
		if (rc != LOYAL_OK)
			break;
		const char *name = json_string_value(json_object_get(item, "currency"));
		json_t *from = json_object_get(item, source);
		if (!json_is_integer(from))
			from = json_object_get(item, "txn");
		const currency_def *currency = NULL;
		rc = name && json_is_integer(from)
			     ? ly_program_currency(db, name, &currency)
			     : ly_db_fail(db, LOYAL_ECORRUPT, "redemption %lld has a malformed posting",
					  (long long)s->row.id);
		loyal_posting posting = LOYAL_POSTING_INIT;
		posting.member = s->member_name;
		posting.currency = name;
		posting.reason = reason;
		posting.at = s->now;
		posting.txn = json_integer_value(from);
		int64_t txn = 0, moved = 0;
		if (rc == LOYAL_OK)
			rc = ly_ledger_run(db, (enum ledger_op)op, &posting, &s->member, currency, s->now,
					   0, &txn, &moved);
		if (rc == LOYAL_OK)
			rc = ly_json_put(&db->error, item, field, json_integer((json_int_t)txn));
	}
	return keep_postings(db, rc, postings, &s->row);
}

/* A cancelled coupon reward takes its code back: refused once the code was used. */
static int void_code(settling *s)
{
	coupon_code_row code;
	bool found = false;
	int rc = ly_store_coupon_code_by_id(s->db->store, s->member.id, s->row.code, &code, &found);
	if (rc == LOYAL_OK && found && code.used_at)
		rc = ly_db_fail(s->db, LOYAL_ESTATE,
				"redemption %lld's coupon code '%s' was used: it cannot be cancelled",
				(long long)s->row.id, code.code);
	if (rc == LOYAL_OK && found)
		rc = ly_store_coupon_code_use(s->db->store, code.id, 0, code.used_at);
	return rc;
}

static int settle_work(void *ctx)
{
	settling *s = ctx;
	loyal_db *db = s->db;
	int state = s->row.state;
	if (state == REDEMPTION_CANCELLED || state == REDEMPTION_EXPIRED ||
	    (s->fulfil && state == REDEMPTION_FULFILLED))
		return ly_db_fail(db, LOYAL_ESTATE, "redemption %lld of member '%s' is %s",
				  (long long)s->row.id, s->member_name, STATES[state]);
	int rc;
	if (s->fulfil)
		rc = settle_points(s, OP_CAPTURE, "capture", "txn");
	else if (state == REDEMPTION_PENDING)
		rc = settle_points(s, OP_RELEASE, "refund", "txn");
	else /* fulfilled: what was spent comes back (a two-phase one's capture) */
		rc = settle_points(s, OP_REVERSE, "refund", "capture");
	int to = s->fulfil ? REDEMPTION_FULFILLED : REDEMPTION_CANCELLED;
	if (rc == LOYAL_OK && !s->fulfil && s->row.code)
		rc = void_code(s);
	if (rc == LOYAL_OK)
		rc = ly_store_member_update(db->store, &s->member);
	if (rc == LOYAL_OK)
		rc = ly_store_redemption_settle(db->store, s->member.id, s->row.id, to, s->now,
						s->row.postings);
	if (rc == LOYAL_OK && !s->fulfil)
		rc = return_stock(db, &s->row);
	if (rc == LOYAL_OK)
		rc = announce(db, &s->row, s->fulfil ? "reward_fulfilled" : "reward_cancelled");
	if (rc == LOYAL_OK) {
		s->row.state = to;
		s->row.settled_at = s->now;
	}
	return rc;
}

static int settle_locked(void *ctx, const char *request, json_t **out)
{
	settling *s = ctx;
	loyal_db *db = s->db;
	const char *key = s->key;
	bool found = false;
	int rc = ly_store_member_find(db->store, s->member_name, &s->member, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", s->member_name);
	ly_idem idem;
	idem_row seen;
	if (rc == LOYAL_OK)
		rc = ly_idem_lookup(db, &idem, s->member.id, s->member_name, key, request,
				    IDEM_REDEMPTION, 0, &seen, &found);
	if (rc != LOYAL_OK)
		return rc;
	if (found) {
		rc = replay(db, s->member.id, s->member_name, &seen, out);
		ly_idem_row_clear(&seen);
		return rc;
	}
	int64_t id = s->row.id;
	rc = ly_store_redemption_get(db->store, s->member.id, id, &s->row, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "member '%s' has no redemption %lld",
				s->member_name, (long long)id);
	/* Expired by now but not recorded so yet: recorded first, whatever the call does. */
	if (rc == LOYAL_OK && state_at(&s->row, s->now) == REDEMPTION_EXPIRED &&
	    s->row.state == REDEMPTION_PENDING)
		rc = record_expiry(db, &s->row);
	if (rc == LOYAL_OK)
		rc = ly_call_recorded(db, &idem, settle_work, s, &s->row.id);
	if (rc == LOYAL_OK)
		rc = redemption_json(db, &s->row, s->member_name, s->now, false, out);
	return rc;
}

int ly_rewards_settle(loyal_db *db, const char *member, int64_t redemption, const char *key,
		      bool fulfil, char **out_json)
{
	if (out_json)
		*out_json = NULL;
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_text_check(&db->error, key, "idempotency_key", true, TEXT_MAX_BYTES);
	if (rc != LOYAL_OK)
		return rc;
	if (redemption <= 0)
		return ly_db_fail(db, LOYAL_EINVAL, "redemption is %lld; ids are positive",
				  (long long)redemption);
	settling s = {.db = db, .member_name = member, .key = key, .row = {.id = redemption},
		      .fulfil = fulfil, .now = ly_db_now(db)};
	return ly_call_run(db,
			json_pack("{s:s,s:I}", "op", fulfil ? "fulfil" : "cancel", "redemption",
				  (json_int_t)redemption),
			settle_locked, &s, out_json);
}

#define SWEEP_CHUNK 64

int ly_rewards_sweep(loyal_db *db, int64_t at, int64_t *out_count)
{
	*out_count = 0;
	bool more = true;
	int rc = LOYAL_OK;
	while (rc == LOYAL_OK && more) {
		rc = ly_store_begin(db->store);
		if (rc != LOYAL_OK)
			return rc;
		int64_t done = 0;
		for (int i = 0; i < SWEEP_CHUNK && rc == LOYAL_OK && more; i++) {
			redemption_row row;
			rc = ly_store_redemption_due(db->store, at, &row, &more);
			/* The member's lock first (a cancel of theirs may be under way), then the
			 * redemption as it stands under it. */
			member_row member;
			bool found = false;
			if (rc == LOYAL_OK && more)
				rc = ly_store_member_get(db->store, row.member, &member, &found);
			if (rc == LOYAL_OK && more)
				rc = ly_store_redemption_get(db->store, row.member, row.id, &row, &found);
			if (rc == LOYAL_OK && more && found && state_at(&row, at) == REDEMPTION_EXPIRED &&
			    row.state == REDEMPTION_PENDING) {
				rc = record_expiry(db, &row);
				done++;
			}
		}
		rc = ly_ledger_end_chunk(db, rc, done, out_count);
	}
	return rc;
}

/* ---- reading ---- */

static int find_member(loyal_db *db, const char *member, member_row *out)
{
	bool found = false;
	int rc = ly_text_check(&db->error, member, "member", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_store_member_find(db->store, member, out, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "no member '%s'", member);
	return rc;
}

int ly_rewards_get(loyal_db *db, const char *member, int64_t redemption, char **out_json)
{
	*out_json = NULL;
	member_row row;
	int rc = find_member(db, member, &row);
	redemption_row r;
	bool found = false;
	if (rc == LOYAL_OK)
		rc = ly_store_redemption_get(db->store, row.id, redemption, &r, &found);
	if (rc == LOYAL_OK && !found)
		rc = ly_db_fail(db, LOYAL_ENOTFOUND, "member '%s' has no redemption %lld", member,
				(long long)redemption);
	json_t *value = NULL;
	if (rc == LOYAL_OK)
		rc = redemption_json(db, &r, member, ly_db_now(db), false, &value);
	return ly_call_emit(db, rc, value, out_json);
}

typedef struct redemption_cursor {
	loyal_cursor base;
	int64_t member, position; /* the member's (0: the pending listing); the last id read */
	char name[TEXT_MAX_BYTES + 1];
} redemption_cursor;

static int redemption_step(loyal_cursor *base, char **row)
{
	redemption_cursor *cursor = (redemption_cursor *)base;
	loyal_db *db = base->db;
	*row = NULL;
	int64_t now = ly_db_now(db);
	redemption_row r;
	bool found = true;
	int rc = LOYAL_OK;
	do { /* the pending listing skips those past their deadline */
		rc = cursor->member ? ly_store_redemption_before(db->store, cursor->member,
								  cursor->position, &r, &found)
				    : ly_store_redemption_pending_after(db->store, cursor->position,
									&r, &found);
		if (rc == LOYAL_OK && found)
			cursor->position = r.id;
	} while (rc == LOYAL_OK && found && !cursor->member && state_at(&r, now) != REDEMPTION_PENDING);
	if (rc != LOYAL_OK || !found)
		return rc;
	json_t *value = NULL;
	rc = redemption_json(db, &r, cursor->member ? cursor->name : r.external, now, false, &value);
	return ly_call_emit(db, rc, value, row);
}

static int open_cursor(loyal_db *db, int64_t member, const char *name, int64_t position,
		       loyal_cursor **out)
{
	redemption_cursor *cursor =
		(redemption_cursor *)ly_cursor_new(db, sizeof *cursor, redemption_step);
	if (!cursor)
		return db->error.code;
	cursor->member = member;
	cursor->position = position;
	snprintf(cursor->name, sizeof cursor->name, "%s", name ? name : "");
	*out = &cursor->base;
	return LOYAL_OK;
}

int ly_rewards_of(loyal_db *db, const char *member, int64_t before, loyal_cursor **out)
{
	*out = NULL;
	if (before < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "before is negative (%lld)", (long long)before);
	member_row row;
	int rc = find_member(db, member, &row);
	return rc == LOYAL_OK ? open_cursor(db, row.id, member, before, out) : rc;
}

int ly_rewards_pending(loyal_db *db, int64_t after, loyal_cursor **out)
{
	*out = NULL;
	if (after < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "after is negative (%lld)", (long long)after);
	return open_cursor(db, 0, NULL, after, out);
}

/* One reward as the member sees it at `at` (loyal_reward_list). */
static int list_one(member_view *view, const reward_def *reward, int64_t at, json_t *list)
{
	loyal_db *db = view->db;
	const char *why = view->member->status == MEMBER_BLOCKED ? "blocked" : NULL;
	int64_t used = 0;
	int rc = why ? LOYAL_OK : check_who_when(view, reward, at, &why);
	if (rc == LOYAL_ENOTELIGIBLE)
		rc = LOYAL_OK;
	if (rc == LOYAL_OK && !why) {
		rc = check_limits(view, reward, at, 1, &why);
		rc = rc == LOYAL_ELIMIT ? LOYAL_OK : rc;
	}
	if (rc == LOYAL_OK && reward->stock >= 0)
		rc = ly_store_stock_taken(db->store, reward->name, at, &used);
	int64_t stock_left = reward->stock > used ? reward->stock - used : 0;
	if (rc == LOYAL_OK && !why && reward->stock >= 0 && stock_left < 1)
		why = "out_of_stock";
	/* A coupon reward whose pool is empty has nothing to give either. */
	int64_t codes_left = 1;
	if (rc == LOYAL_OK && !why && reward->coupon >= 0 && db->program->coupons[reward->coupon].pool)
		rc = ly_store_coupon_pool_left(db->store, db->program->coupons[reward->coupon].name,
					       &codes_left);
	if (rc == LOYAL_OK && !why && codes_left < 1)
		why = "out_of_stock";
	const reward_price *price = member_price(reward, view->tier);
	json_t *prices = json_object(), *missing = json_object();
	for (size_t i = 0; i < price->count && rc == LOYAL_OK; i++) {
		const char *currency = db->program->currencies[price->items[i].currency].name;
		loyal_balance balance = LOYAL_BALANCE_INIT;
		rc = ly_json_put(&db->error, prices, currency,
				 json_integer((json_int_t)price->items[i].amount));
		if (rc == LOYAL_OK)
			rc = ly_ledger_balance(db, view->external_id, currency, at, &balance);
		if (rc == LOYAL_OK && balance.available < price->items[i].amount)
			rc = ly_json_put(&db->error, missing, currency,
					 json_integer((json_int_t)(price->items[i].amount -
								   balance.available)));
	}
	if (rc == LOYAL_OK && !why && json_object_size(missing))
		why = "not_enough_points";
	json_t *data = NULL;
	if (rc == LOYAL_OK)
		rc = ly_json_parse_stored(&db->error, reward->data, &data, "reward '%s''s data",
					  reward->name);
	if (rc != LOYAL_OK) {
		json_decref(prices);
		json_decref(missing);
		return rc;
	}
	if (!why || strcmp(why, "not_enough_points") != 0)
		json_object_clear(missing);
	return ly_json_append(
		&db->error, list,
		json_pack("{s:s,s:s,s:s,s:o,s:o,s:b,s:o,s:b,s:o,s:o}", "reward", reward->name,
			  "title", reward->title, "kind", reward->kind, "price", prices,
			  "stock_left",
			  reward->stock >= 0 ? json_integer((json_int_t)stock_left) : json_null(),
			  "two_phase", reward->two_phase, "data", data, "available", why == NULL,
			  "why", why ? json_string(why) : json_null(), "missing", missing));
}

int ly_rewards_list(loyal_db *db, const char *member, int64_t at, char **out_json)
{
	*out_json = NULL;
	if (at < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "at is negative (%lld)", (long long)at);
	at = at ? at : ly_db_now(db);
	member_row row;
	int rc = ly_program_refresh(db);
	if (rc == LOYAL_OK)
		rc = find_member(db, member, &row);
	if (rc != LOYAL_OK)
		return rc;
	json_t *list = json_array();
	if (!list)
		return ly_db_fail(db, LOYAL_ENOMEM, "out of memory listing rewards");
	member_view view;
	ly_member_view_open(db, &row, member, NULL, at, &view);
	for (size_t i = 0; i < db->program->reward_count && rc == LOYAL_OK; i++)
		rc = list_one(&view, &db->program->rewards[i], at, list);
	ly_member_view_close(&view);
	return ly_call_emit(db, rc, list, out_json);
}
