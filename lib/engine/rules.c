/* rules.c - earning rules applied to a tracked event: windows (dates, weekdays and hours),
 * first-time bonuses, conditions, awards (evaluated before anything is posted), recipients
 * (referrals), caps and their counters, budgets across members, rules that stop the rest, and
 * the reasons a rule is skipped. */
#include "engine/coupons.h"
#include "engine/ledger.h"
#include "engine/rules.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

static int skip(tracking *t, const rule_def *rule, const char *reason)
{
	return ly_outcome_skip(&t->db->error, &t->outcome, rule->name, reason, NULL);
}

/* How many awards, and how many points of `currency` (NULL: none), the rule gave the recipient
 * within the cap's period (counted while it had a cap of that kind: has_cap). */
static int cap_usage(tracking *t, member_view *recipient, const rule_def *rule,
		     const rule_cap *cap, const currency_def *currency, int64_t *awards,
		     int64_t *points)
{
	int64_t first, last;
	ly_activity_period(cap->per, ly_member_view_day(recipient, t->at), &first, &last);
	int rc = ly_store_rule_counter_sum(t->db->store, recipient->member->id, rule->name, 0, first, last,
					awards);
	*points = 0;
	if (rc == LOYAL_OK && currency)
		rc = ly_store_rule_counter_sum(t->db->store, recipient->member->id, rule->name, currency->id,
					    first, last, points);
	return rc;
}

/* The amount of one award after the rule's point caps; 0 when a cap leaves no room. */
static int capped_amount(tracking *t, member_view *recipient, const rule_def *rule,
			 const currency_def *currency, int64_t amount, int64_t *out)
{
	*out = amount;
	for (size_t i = 0; i < rule->cap_count; i++) {
		if (!rule->caps[i].points)
			continue;
		int64_t awards = 0, points = 0;
		int rc = cap_usage(t, recipient, rule, &rule->caps[i], currency, &awards, &points);
		if (rc != LOYAL_OK)
			return rc;
		int64_t room = rule->caps[i].points - points;
		*out = room < *out ? (room > 0 ? room : 0) : *out;
	}
	return LOYAL_OK;
}

/* Whether the rule has a cap on awards (of_points false) or on points. Only such a cap reads
 * the rule's counters, so a rule keeps a counter of a kind only while it has a cap of that
 * kind: up to two writes per award fewer for the rules that have none. */
static bool has_cap(const rule_def *rule, bool of_points)
{
	for (size_t i = 0; i < rule->cap_count; i++)
		if (of_points ? rule->caps[i].points : rule->caps[i].awards)
			return true;
	return false;
}

static bool awards_capped(tracking *t, member_view *recipient, const rule_def *rule, int *rc)
{
	for (size_t i = 0; i < rule->cap_count && *rc == LOYAL_OK; i++) {
		if (!rule->caps[i].awards)
			continue;
		int64_t awards = 0, points = 0;
		*rc = cap_usage(t, recipient, rule, &rule->caps[i], NULL, &awards, &points);
		if (*rc == LOYAL_OK && awards >= rule->caps[i].awards)
			return true;
	}
	return false;
}

#define DAY_MS INT64_C(86400000)

/* Whether the event falls in the rule's weekdays and hours, in the member's local time. */
static bool in_when(const tracking *t, const rule_def *rule)
{
	if (rule->weekdays == 0x7f && rule->when_from == 0 && rule->when_until == 24 * 60)
		return true;
	int64_t day = ly_member_view_day(&t->view, t->at), local = t->at + t->view.utc_offset_ms;
	int weekday = (int)((day % 7 + 7 + 3) % 7); /* day 0, 1970-01-01, was a Thursday */
	int minute = (int)((local - day * DAY_MS) / 60000);
	bool in_hours = rule->when_from < rule->when_until
				? minute >= rule->when_from && minute < rule->when_until
				: minute >= rule->when_from || minute < rule->when_until;
	return (rule->weekdays >> weekday & 1) && in_hours;
}

/* The first day of the rule's budget period the event falls in, in the program's days. */
static int64_t budget_period(const tracking *t, const rule_def *rule)
{
	int64_t first, last;
	ly_activity_period(rule->budget.per, ly_program_day(t->db->program, t->at), &first, &last);
	return first;
}

/* A condition or award that cannot be evaluated for this event (a client's value out of range,
 * a division by zero) skips its rule, with the evaluator's message naming the rule and what
 * failed; the event and its other rules stand. Any other failure (storage, memory) fails the
 * call, its message naming the rule too. */
static int evaluation_failed(tracking *t, const rule_def *rule, const char *what, int rc)
{
	char message[sizeof t->db->error.message];
	snprintf(message, sizeof message, "rule '%s': %s: %.800s", rule->name, what,
		 t->db->error.message);
	if (rc != LOYAL_EOVERFLOW && rc != LOYAL_EINVAL)
		return ly_db_fail(t->db, rc, "%s", message);
	ly_error_clear(&t->db->error);
	return ly_outcome_skip(&t->db->error, &t->outcome, rule->name, "error", message);
}

/* Evaluates an award's amount in the event member's view: whole points (a fraction rounds
 * down), 0 for none; LOYAL_EOVERFLOW where it does not fit 64 bits. */
static int award_amount(tracking *t, const rule_award *award, int64_t *out)
{
	criteria_context context = ly_member_view_context(&t->view);
	criteria_value value;
	int rc = ly_criteria_eval(&t->db->error, award->amount, &context, &value);
	*out = 0;
	if (rc != LOYAL_OK)
		return rc;
	if (value.kind == CV_INT)
		*out = value.as.integer;
	else if (value.kind == CV_DECIMAL && value.as.decimal >= 9.2e18)
		return ly_db_fail(t->db, LOYAL_EOVERFLOW, "the amount %g is out of range",
			       value.as.decimal);
	else if (value.kind == CV_DECIMAL && value.as.decimal >= 1)
		*out = (int64_t)value.as.decimal;
	return LOYAL_OK;
}

static int post_award(tracking *t, const rule_def *rule, member_row *recipient,
		      const char *recipient_id, member_view *recipient_view, size_t index,
		      int64_t amount, bool *first_award, bool *over_budget)
{
	const rule_award *award = &rule->awards[index];
	const currency_def *currency = &t->db->program->currencies[award->currency];
	int rc = capped_amount(t, recipient_view, rule, currency, amount, &amount);
	if (rc != LOYAL_OK || amount <= 0)
		return rc;
	/* A points budget takes whole awards only: one that would pass it is not made. */
	if (rule->has_budget && rule->budget.points) {
		int64_t used = 0, period = budget_period(t, rule);
		rc = ly_store_rule_budget_take(t->db->store, rule->name, currency->id, period, &used);
		if (rc == LOYAL_OK && amount > rule->budget.points - used) {
			*over_budget = true;
			return LOYAL_OK;
		}
		if (rc == LOYAL_OK)
			rc = ly_store_rule_budget_add(t->db->store, rule->name, currency->id, period,
						      amount);
		if (rc != LOYAL_OK)
			return rc;
	}
	char reason[96];
	snprintf(reason, sizeof reason, "rule:%s", rule->name);
	loyal_posting posting = LOYAL_POSTING_INIT;
	posting.member = recipient_id;
	posting.currency = currency->name;
	posting.amount = amount;
	posting.idempotency_key = t->event->idempotency_key;
	posting.reason = reason;
	posting.cause = t->event->idempotency_key;
	posting.pending_ms = award->pending_ms;
	int64_t txn = 0, moved = 0;
	/* The caps' counters first, so that the credit's save of the recipient's row carries
	 * them (a failed credit fails the event, undoing them). */
	int64_t day = ly_member_view_day(recipient_view, t->at);
	if (*first_award && has_cap(rule, false)) {
		rc = ly_store_rule_counter_add(t->db->store, recipient->id, rule->name, 0, day, 1);
		*first_award = false;
	}
	if (rc == LOYAL_OK && has_cap(rule, true))
		rc = ly_store_rule_counter_add(t->db->store, recipient->id, rule->name, currency->id, day,
					    amount);
	if (rc == LOYAL_OK)
		rc = ly_ledger_run(t->db, OP_CREDIT, &posting, recipient, currency, t->at, t->event_id,
				   &txn, &moved);
	if (rc == LOYAL_OK)
		rc = ly_outcome_post(&t->db->error, &t->outcome,
				     &(outcome_posting){.rule = rule->name,
							.rule_version = rule->version,
							.member = recipient_id,
							.currency = currency->name,
							.amount = amount,
							.txn = txn,
							.pending_until = award->pending_ms
										 ? t->at + award->pending_ms
										 : INT64_MAX});
	return rc;
}

/* Issues the rule's coupon to the recipient; a refusal (not eligible, an empty pool) skips it
 * with why, the rest of the event standing (a refusal writes nothing). */
static int issue_coupon(tracking *t, const rule_def *rule, member_row *recipient,
			const char *recipient_id, member_view *view, bool *issued)
{
	const coupon_def *coupon = &t->db->program->coupons[rule->coupon];
	coupon_code_row code;
	*issued = false;
	int rc = ly_coupons_issue_locked(t->db, recipient, recipient_id, coupon, t->at, view, &code);
	if (rc == LOYAL_ENOTELIGIBLE || rc == LOYAL_ESOLDOUT || rc == LOYAL_EBLOCKED) {
		char reason[sizeof t->db->error.message + 16];
		snprintf(reason, sizeof reason, "coupon: %s", t->db->error.message);
		return skip(t, rule, reason);
	}
	*issued = rc == LOYAL_OK;
	if (rc == LOYAL_OK)
		rc = ly_json_append(&t->db->error, t->outcome.coupons,
				    json_pack("{s:s,s:s,s:s,s:s}", "rule", rule->name, "member",
					      recipient_id, "coupon", coupon->name, "code", code.code));
	return rc;
}

int ly_rules_apply(tracking *t, const rule_def *rule, bool *stop)
{
	if (*stop)
		return skip(t, rule, "after_last");
	if (t->at < rule->active_from || t->at >= rule->active_until)
		return skip(t, rule, "window");
	if (!in_when(t, rule))
		return skip(t, rule, "when");
	int rc = LOYAL_OK;
	if (rule->first_time) {
		int64_t seen = 0;
		rc = ly_store_activity_count(t->db->store, t->member.id, t->event->type, INT64_MIN / 2,
					  INT64_MAX / 2, &seen);
		if (rc != LOYAL_OK)
			return rc;
		if (seen > 1)
			return skip(t, rule, "first_time");
	}
	if (rule->condition) {
		criteria_context context = ly_member_view_context(&t->view);
		criteria_value value;
		rc = ly_criteria_eval(&t->db->error, rule->condition, &context, &value);
		if (rc != LOYAL_OK)
			return evaluation_failed(t, rule, "condition", rc);
		if (!ly_criteria_truthy(&value))
			return skip(t, rule, "condition");
	}
	/* Every amount is known before anything is posted: an award that cannot be evaluated
	 * skips the whole rule. */
	int64_t amounts[RULE_MAX_AWARDS];
	for (size_t i = 0; i < rule->award_count; i++) {
		rc = award_amount(t, &rule->awards[i], &amounts[i]);
		if (rc != LOYAL_OK) {
			char what[96];
			snprintf(what, sizeof what, "award of %s",
				 t->db->program->currencies[rule->awards[i].currency].name);
			return evaluation_failed(t, rule, what, rc);
		}
	}
	member_row other;
	member_row *recipient = &t->member;
	const char *recipient_id = t->event->member;
	if (rule->recipient) {
		json_t *named = json_object_get(t->properties, rule->recipient);
		if (!json_is_string(named) || !*json_string_value(named))
			return skip(t, rule, "no recipient");
		recipient_id = json_string_value(named);
		/* No one is paid for referring themselves; what the event earns them stands. */
		if (strcmp(recipient_id, t->event->member) == 0)
			return skip(t, rule, "self-referral");
		rc = ly_text_check(&t->db->error, recipient_id, "the recipient", true, TEXT_MAX_BYTES);
		if (rc == LOYAL_OK)
			rc = ly_member_for(t->db, recipient_id, t->at, true, &other);
		if (rc != LOYAL_OK)
			return rc;
		recipient = &other;
	}
	if (recipient->status == MEMBER_BLOCKED)
		return skip(t, rule, "blocked");
	/* The event's member is seen through the view the event already has. */
	member_view other_view, *recipient_view = &t->view;
	if (recipient != &t->member) {
		recipient_view = &other_view;
		ly_member_view_open(t->db, recipient, recipient_id, t->properties, t->at,
				 &other_view);
	}
	bool capped = rc == LOYAL_OK && awards_capped(t, recipient_view, rule, &rc);
	/* An awards budget: spent, the rule is skipped for everyone until its next period. */
	bool over_budget = false;
	int64_t budget_used = 0;
	if (rc == LOYAL_OK && !capped && rule->has_budget && rule->budget.awards) {
		rc = ly_store_rule_budget_take(t->db->store, rule->name, 0, budget_period(t, rule),
					       &budget_used);
		over_budget = budget_used >= rule->budget.awards;
	}
	size_t before = t->outcome.postings.count;
	bool first_award = true;
	for (size_t i = 0; i < rule->award_count && rc == LOYAL_OK && !capped && !over_budget; i++)
		if (amounts[i] > 0)
			rc = post_award(t, rule, recipient, recipient_id, recipient_view, i,
					amounts[i], &first_award, &over_budget);
	bool issued = false;
	if (rc == LOYAL_OK && !capped && !over_budget && rule->coupon >= 0)
		rc = issue_coupon(t, rule, recipient, recipient_id, recipient_view, &issued);
	bool awarded = t->outcome.postings.count > before || issued;
	if (rc == LOYAL_OK && awarded && rule->has_budget && rule->budget.awards)
		rc = ly_store_rule_budget_add(t->db->store, rule->name, 0, budget_period(t, rule), 1);
	*stop = awarded && rule->last;
	/* A coupon alone is an award too, for the rule's cap on awards. */
	if (rc == LOYAL_OK && issued && first_award && has_cap(rule, false))
		rc = ly_store_rule_counter_add(t->db->store, recipient->id, rule->name, 0,
					       ly_member_view_day(recipient_view, t->at), 1);
	if (recipient_view == &other_view) {
		ly_member_view_close(&other_view);
		if (rc == LOYAL_OK)
			rc = ly_store_member_update(t->db->store, &other);
	}
	if (rc == LOYAL_OK && !awarded && (capped || over_budget || rule->coupon < 0))
		rc = skip(t, rule, capped ? "cap" : over_budget ? "budget" : "no amount");
	return rc;
}
