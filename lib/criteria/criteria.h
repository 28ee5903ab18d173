/* criteria.h - the criteria expression language: compiled once, evaluated without SQL. */
#ifndef LOYAL_CRITERIA_INTERNAL_H
#define LOYAL_CRITERIA_INTERNAL_H

#include "util/error.h"

#include <stdbool.h>
#include <stdint.h>

/* Limits that keep a hostile expression from hanging or exhausting memory. */
#define CRITERIA_MAX_LENGTH 4096
#define CRITERIA_MAX_DEPTH 32
#define CRITERIA_MAX_NODES 512 /* also bounds evaluation: each node runs at most once */
/* The longest window a measure may read: 36,500 days. */
#define CRITERIA_MAX_WINDOW_MS (INT64_C(36500) * 86400000)

/* Static types, as the checker knows them. ANY is decided at run time (event properties and
 * member attributes). */
enum criteria_type { CT_BOOL, CT_INT, CT_DECIMAL, CT_NUMBER, CT_STRING, CT_DURATION, CT_ANY };

/* What an expression computes from a member's history: each call of count, sum, streak,
 * earned, balance, days_since, active_days. */
enum criteria_measure { CM_COUNT, CM_SUM, CM_STREAK, CM_EARNED, CM_BALANCE, CM_DAYS_SINCE,
			CM_ACTIVE_DAYS };

typedef struct criteria criteria;

/* The names an expression may use, asked while it compiles (the language knows no program):
 * the currencies earned() and balance() name, the event types the other measures name. */
typedef struct criteria_names {
	void *ctx;
	bool (*knows_currency)(void *ctx, const char *name);
	bool (*knows_event)(void *ctx, const char *type);
} criteria_names;

/* Compiles `text`; on a syntax or type error returns LOYAL_ESYNTAX in err with a message that
 * gives the line, the column and what was expected (an unknown name among them). *out is owned
 * by the caller (ly_criteria_free). */
int ly_criteria_compile(ly_error *err, const criteria_names *names, const char *text,
			criteria **out);
void ly_criteria_free(criteria *expression);
/* The static type of the whole expression. */
enum criteria_type ly_criteria_result_type(const criteria *expression);
/* "a whole number", for messages; and "whole number", for results. */
const char *ly_criteria_type_name(enum criteria_type type);
const char *ly_criteria_type_word(enum criteria_type type);

/* A run-time value. Strings are borrowed from the expression or the context. */
typedef struct criteria_value {
	enum { CV_NULL, CV_BOOL, CV_INT, CV_DECIMAL, CV_STRING, CV_DURATION } kind;
	union {
		bool boolean;
		int64_t integer; /* CV_INT, CV_DURATION (ms) */
		double decimal;
		const char *string;
	} as;
} criteria_value;

/* One measure request: kind, the event type or currency it names, the property (sum), and the
 * window in ms (0: all time; streak: 1 for days, 7 for weeks). */
typedef struct criteria_measure_request {
	enum criteria_measure kind;
	const char *name;
	const char *property;
	int64_t window_ms;
	int freezes; /* streak: missed units forgiven */
} criteria_measure_request;

/* Calls visit for each measure the expression reads (for knowing which event types a
 * criterion depends on). */
void ly_criteria_each_measure(const criteria *expression,
			   void (*visit)(const criteria_measure_request *request, void *ctx),
			   void *ctx);

/* Everything an evaluation may read. Callbacks return LOYAL_OK and a value (CV_NULL when there
 * is none, e.g. days_since something that never happened). */
typedef struct criteria_context {
	void *ctx;
	int64_t now;
	int (*measure)(void *ctx, const criteria_measure_request *request, criteria_value *out);
	/* member.<name> (and member.age as CV_DURATION), event.<name>, tier / tier.multiplier */
	int (*lookup)(void *ctx, const char *scope, const char *name, criteria_value *out);
	const char *member_id; /* for bucket(salt) */
	int streak_freezes;    /* missed days (or weeks) a streak may skip: badges allow some */
} criteria_context;

/* Evaluates. Values of the wrong kind at run time (an event property that is a string where a
 * number is compared) count as missing: comparisons with them are false, arithmetic gives
 * missing. An overflow returns LOYAL_EOVERFLOW and a division by zero LOYAL_EINVAL, each with
 * the line and column. */
int ly_criteria_eval(ly_error *err, const criteria *expression, const criteria_context *context,
		     criteria_value *out);
/* Progress towards a criterion of the form `measure >= N` (or > N), or the weakest such part
 * of an `and`: the measure's value now, the target, and the part's source position. */
typedef struct criteria_progress {
	bool found;
	int64_t current, target;
	int line, column;
} criteria_progress;
int ly_criteria_progress_of(ly_error *err, const criteria *expression,
			    const criteria_context *context, criteria_progress *out);

/* True for CV_BOOL true; false for everything else (null included). */
bool ly_criteria_truthy(const criteria_value *value);

#endif /* LOYAL_CRITERIA_INTERNAL_H */
