/* rules.h - applying the program's earning rules to one event. */
#ifndef LOYAL_RULES_H
#define LOYAL_RULES_H

#include "engine/activity.h"
#include "engine/members.h"
#include "engine/outcome.h"

#include <jansson.h>

/* An event being tracked, as its rules, tiers and badges see it. */
typedef struct tracking {
	loyal_db *db;
	const loyal_event *event;
	int64_t event_id; /* reserved for the event before its rules post */
	int64_t at;
	json_t *properties;
	member_row member;
	member_view view;
	event_outcome outcome; /* what the event did, for its record and its caller */
} tracking;

/* Applies one rule of the event's type: its window, weekdays and hours, first-time flag,
 * condition, awards (all evaluated before anything is posted), recipient, caps and budget. A
 * rule that does not apply is added to t->outcome's skipped rules with why ("window", "when", "condition",
 * "cap", "budget", "self-referral", "after_last" (*stop was set), "error" with the evaluator's
 * message, ...), each posting to its postings, each coupon code it issues to its coupons (a code
 * that cannot be issued: skipped with "coupon: <why>"). A rule with "last" that awarded sets
 * *stop. Errors: storage and memory failures, LOYAL_EOVERFLOW of a balance; never an
 * evaluation error (that skips the rule). */
int ly_rules_apply(tracking *t, const rule_def *rule, bool *stop);

#endif /* LOYAL_RULES_H */
