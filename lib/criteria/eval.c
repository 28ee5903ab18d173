/* eval.c - evaluating a compiled criteria expression. The language has no loops or
 * calls of its own, so an evaluation visits each node at most once: CRITERIA_MAX_NODES bounds
 * its time, and CRITERIA_MAX_NODES its recursion depth. */
#include "criteria/nodes.h"

#include <math.h>
#include <string.h>
#include <xxhash.h>

typedef struct evaluation {
	ly_error *err;
	const criteria *expression;
	const criteria_context *context;
} evaluation;

static const criteria_value null_value = {.kind = CV_NULL};

static int eval_node(evaluation *e, int index, criteria_value *out);

static int overflow(evaluation *e, const node *n)
{
	return ly_fail(e->err, LOYAL_EOVERFLOW, "line %d, column %d: the result is out of range",
		       n->line, n->column);
}

static bool is_number(const criteria_value *v)
{
	return v->kind == CV_INT || v->kind == CV_DECIMAL;
}

static double as_double(const criteria_value *v)
{
	return v->kind == CV_DECIMAL ? v->as.decimal : (double)v->as.integer;
}

static criteria_value make_int(int64_t value, int kind)
{
	criteria_value v = {.kind = kind};
	v.as.integer = value;
	return v;
}

static int make_decimal(evaluation *e, const node *n, double value, criteria_value *out)
{
	if (!isfinite(value))
		return overflow(e, n);
	out->kind = CV_DECIMAL;
	out->as.decimal = value;
	return LOYAL_OK;
}

/* Whole-number arithmetic that fails instead of wrapping. */
static int integer_op(evaluation *e, const node *n, int64_t a, int64_t b, int kind,
		      criteria_value *out)
{
	int64_t result = 0;
	bool wrapped = false;
	switch (n->kind) {
	case N_ADD: wrapped = __builtin_add_overflow(a, b, &result); break;
	case N_SUB: wrapped = __builtin_sub_overflow(a, b, &result); break;
	case N_MUL: wrapped = __builtin_mul_overflow(a, b, &result); break;
	default: /* N_MOD */
		if (b == 0)
			return ly_fail(e->err, LOYAL_EINVAL, "line %d, column %d: division by zero",
				       n->line, n->column);
		wrapped = a == INT64_MIN && b == -1;
		result = wrapped ? 0 : a % b;
		break;
	}
	if (wrapped)
		return overflow(e, n);
	*out = make_int(result, kind);
	return LOYAL_OK;
}

static int arithmetic(evaluation *e, const node *n, const criteria_value *a,
		      const criteria_value *b, criteria_value *out)
{
	*out = null_value;
	bool a_duration = a->kind == CV_DURATION, b_duration = b->kind == CV_DURATION;
	if (a_duration || b_duration) {
		if ((n->kind == N_ADD || n->kind == N_SUB) && a_duration && b_duration)
			return integer_op(e, n, a->as.integer, b->as.integer, CV_DURATION, out);
		const criteria_value *duration = a_duration ? a : b, *factor = a_duration ? b : a;
		if (!is_number(factor) || (n->kind != N_MUL && !(n->kind == N_DIV && a_duration)))
			return LOYAL_OK; /* the wrong types count as missing */
		if (n->kind == N_MUL && factor->kind == CV_INT)
			return integer_op(e, n, duration->as.integer, factor->as.integer,
					  CV_DURATION, out);
		double ms = n->kind == N_MUL ? (double)duration->as.integer * as_double(factor)
					     : (double)duration->as.integer / as_double(factor);
		if (!isfinite(ms) || fabs(ms) >= 9.2e18)
			return n->kind == N_DIV && as_double(factor) == 0.0
				       ? ly_fail(e->err, LOYAL_EINVAL,
						 "line %d, column %d: division by zero", n->line,
						 n->column)
				       : overflow(e, n);
		*out = make_int((int64_t)llround(ms), CV_DURATION);
		return LOYAL_OK;
	}
	if (!is_number(a) || !is_number(b))
		return LOYAL_OK;
	if (a->kind == CV_INT && b->kind == CV_INT && n->kind != N_DIV)
		return integer_op(e, n, a->as.integer, b->as.integer, CV_INT, out);
	double x = as_double(a), y = as_double(b);
	if ((n->kind == N_DIV || n->kind == N_MOD) && y == 0.0)
		return ly_fail(e->err, LOYAL_EINVAL, "line %d, column %d: division by zero", n->line,
			       n->column);
	double result = n->kind == N_ADD   ? x + y
			: n->kind == N_SUB ? x - y
			: n->kind == N_MUL ? x * y
			: n->kind == N_DIV ? x / y
					   : fmod(x, y);
	return make_decimal(e, n, result, out);
}

/* -1, 0, 1, or 2 when the values cannot be compared (missing, or of other kinds). */
static int compare(const criteria_value *a, const criteria_value *b)
{
	if (is_number(a) && is_number(b)) {
		if (a->kind == CV_INT && b->kind == CV_INT)
			return (a->as.integer > b->as.integer) - (a->as.integer < b->as.integer);
		double x = as_double(a), y = as_double(b);
		return (x > y) - (x < y);
	}
	if (a->kind != b->kind || a->kind == CV_NULL)
		return 2;
	switch (a->kind) {
	case CV_STRING: {
		int order = strcmp(a->as.string, b->as.string);
		return (order > 0) - (order < 0);
	}
	case CV_BOOL: return (a->as.boolean > b->as.boolean) - (a->as.boolean < b->as.boolean);
	default: return (a->as.integer > b->as.integer) - (a->as.integer < b->as.integer);
	}
}

static criteria_value make_bool(bool value)
{
	criteria_value v = {.kind = CV_BOOL};
	v.as.boolean = value;
	return v;
}

bool ly_criteria_truthy(const criteria_value *value)
{
	return value->kind == CV_BOOL && value->as.boolean;
}

static int rounding(evaluation *e, const node *n, const criteria_value *v, criteria_value *out)
{
	if (v->kind == CV_INT || !is_number(v)) {
		*out = v->kind == CV_INT ? *v : null_value;
		return LOYAL_OK;
	}
	double rounded = n->kind == N_FLOOR ? floor(v->as.decimal) : round(v->as.decimal);
	if (!(rounded > -9.2e18 && rounded < 9.2e18))
		return overflow(e, n);
	*out = make_int((int64_t)rounded, CV_INT);
	return LOYAL_OK;
}

static int eval_children(evaluation *e, const node *n, criteria_value *a, criteria_value *b)
{
	int rc = eval_node(e, n->left, a);
	return rc == LOYAL_OK ? eval_node(e, e->expression->nodes[n->left].next, b) : rc;
}

static int eval_call(evaluation *e, const node *n, criteria_value *out)
{
	const criteria_context *context = e->context;
	if (n->kind == N_MEASURE) {
		criteria_measure_request request = {.kind = (enum criteria_measure)n->measure,
						    .name = n->name,
						    .property = n->property,
						    .window_ms = n->window,
						    .freezes = context->streak_freezes};
		*out = null_value;
		return context->measure ? context->measure(context->ctx, &request, out) : LOYAL_OK;
	}
	if (n->kind == N_BUCKET) {
		const char *member = context->member_id ? context->member_id : "";
		XXH3_state_t *state = XXH3_createState();
		if (!state)
			return ly_fail(e->err, LOYAL_ENOMEM, "out of memory computing a bucket");
		XXH3_64bits_reset(state);
		XXH3_64bits_update(state, n->name, strlen(n->name) + 1);
		XXH3_64bits_update(state, member, strlen(member));
		uint64_t hash = XXH3_64bits_digest(state);
		XXH3_freeState(state);
		*out = make_int((int64_t)(hash % 100), CV_INT);
		return LOYAL_OK;
	}
	/* min and max: the smallest or largest number; missing if any argument is. */
	*out = null_value;
	for (int arg = n->left; arg >= 0; arg = e->expression->nodes[arg].next) {
		criteria_value v;
		int rc = eval_node(e, arg, &v);
		if (rc != LOYAL_OK)
			return rc;
		if (!is_number(&v)) {
			*out = null_value;
			return LOYAL_OK;
		}
		int order = out->kind == CV_NULL ? 0 : compare(&v, out);
		if (out->kind == CV_NULL || (n->kind == N_MIN ? order < 0 : order > 0))
			*out = v;
	}
	return LOYAL_OK;
}

static int eval_node(evaluation *e, int index, criteria_value *out)
{
	const node *n = &e->expression->nodes[index];
	criteria_value a, b;
	int rc = LOYAL_OK;
	*out = null_value;
	switch ((enum node_kind)n->kind) {
	case N_INT: *out = make_int(n->integer, CV_INT); return LOYAL_OK;
	case N_DURATION: *out = make_int(n->integer, CV_DURATION); return LOYAL_OK;
	case N_DECIMAL: return make_decimal(e, n, n->decimal, out);
	case N_BOOL: *out = make_bool(n->integer != 0); return LOYAL_OK;
	case N_STRING:
		out->kind = CV_STRING;
		out->as.string = n->name;
		return LOYAL_OK;
	case N_LOOKUP:
		return e->context->lookup ? e->context->lookup(e->context->ctx, n->name, n->property,
								 out)
					  : LOYAL_OK;
	case N_MEASURE:
	case N_BUCKET:
	case N_MIN:
	case N_MAX: return eval_call(e, n, out);
	case N_NEG:
		rc = eval_node(e, n->left, &a);
		if (rc != LOYAL_OK || (!is_number(&a) && a.kind != CV_DURATION))
			return rc;
		if (a.kind == CV_DECIMAL)
			return make_decimal(e, n, -a.as.decimal, out);
		if (a.as.integer == INT64_MIN)
			return overflow(e, n);
		*out = make_int(-a.as.integer, a.kind);
		return LOYAL_OK;
	case N_NOT:
		rc = eval_node(e, n->left, &a);
		*out = make_bool(!ly_criteria_truthy(&a));
		return rc;
	case N_AND:
	case N_OR:
		rc = eval_node(e, n->left, &a);
		if (rc != LOYAL_OK)
			return rc;
		if (ly_criteria_truthy(&a) == (n->kind == N_OR)) {
			*out = make_bool(n->kind == N_OR);
			return LOYAL_OK;
		}
		rc = eval_node(e, e->expression->nodes[n->left].next, &b);
		*out = make_bool(ly_criteria_truthy(&b));
		return rc;
	case N_ADD:
	case N_SUB:
	case N_MUL:
	case N_DIV:
	case N_MOD:
		rc = eval_children(e, n, &a, &b);
		return rc == LOYAL_OK ? arithmetic(e, n, &a, &b, out) : rc;
	case N_FLOOR:
	case N_ROUND:
		rc = eval_node(e, n->left, &a);
		return rc == LOYAL_OK ? rounding(e, n, &a, out) : rc;
	case N_IN:
	case N_NOT_IN: {
		rc = eval_node(e, n->left, &a);
		bool found = false;
		for (int item = e->expression->nodes[n->left].next; item >= 0 && !found && rc == LOYAL_OK;
		     item = e->expression->nodes[item].next) {
			rc = eval_node(e, item, &b);
			found = compare(&a, &b) == 0;
		}
		*out = make_bool(a.kind != CV_NULL && found == (n->kind == N_IN));
		return rc;
	}
	default: {
		rc = eval_children(e, n, &a, &b);
		int order = compare(&a, &b);
		bool result = order != 2 && (n->kind == N_EQ   ? order == 0
					     : n->kind == N_NE ? order != 0
					     : n->kind == N_LT ? order < 0
					     : n->kind == N_LE ? order <= 0
					     : n->kind == N_GT ? order > 0
							       : order >= 0);
		*out = make_bool(result);
		return rc;
	}
	}
}

int ly_criteria_eval(ly_error *err, const criteria *expression, const criteria_context *context,
		  criteria_value *out)
{
	evaluation e = {.err = err, .expression = expression, .context = context};
	return eval_node(&e, expression->root, out);
}

void ly_criteria_each_measure(const criteria *expression,
			   void (*visit)(const criteria_measure_request *request, void *ctx),
			   void *ctx)
{
	for (int i = 0; i < expression->count; i++) {
		const node *n = &expression->nodes[i];
		if (n->kind != N_MEASURE)
			continue;
		criteria_measure_request request = {.kind = (enum criteria_measure)n->measure,
						    .name = n->name,
						    .property = n->property,
						    .window_ms = n->window};
		visit(&request, ctx);
	}
}

/* Finds the weakest `measure >= N` part under node index (through `and`). */
static int progress_at(evaluation *e, int index, criteria_progress *out)
{
	const node *n = &e->expression->nodes[index];
	if (n->kind == N_AND) {
		criteria_progress left = {0}, right = {0};
		int rc = progress_at(e, n->left, &left);
		if (rc == LOYAL_OK)
			rc = progress_at(e, e->expression->nodes[n->left].next, &right);
		/* The weakest part is the one with the smallest share of its target done. */
		if (left.found && right.found)
			*out = (double)left.current / (double)left.target <=
					       (double)right.current / (double)right.target
				       ? left
				       : right;
		else
			*out = left.found ? left : right;
		return rc;
	}
	if (n->kind != N_GE && n->kind != N_GT)
		return LOYAL_OK;
	const node *measure = &e->expression->nodes[n->left];
	const node *target = &e->expression->nodes[measure->next];
	if (measure->kind != N_MEASURE || target->kind != N_INT || target->integer <= 0)
		return LOYAL_OK;
	criteria_value value;
	int rc = eval_node(e, n->left, &value);
	if (rc != LOYAL_OK || value.kind != CV_INT)
		return rc;
	*out = (criteria_progress){.found = true, .current = value.as.integer,
				   .target = target->integer + (n->kind == N_GT),
				   .line = measure->line, .column = measure->column};
	return LOYAL_OK;
}

int ly_criteria_progress_of(ly_error *err, const criteria *expression,
			 const criteria_context *context, criteria_progress *out)
{
	evaluation e = {.err = err, .expression = expression, .context = context};
	*out = (criteria_progress){0};
	return progress_at(&e, expression->root, out);
}
