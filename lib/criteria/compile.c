/* compile.c - the criteria language's compiler: tokens, grammar and static types. */
#include "criteria/criteria.h"
#include "util/mem.h"
#include "util/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criteria/nodes.h"

/* ---- tokens ---- */

enum token_kind {
	T_END, T_INT, T_DECIMAL, T_DURATION, T_STRING, T_IDENT, T_LPAREN, T_RPAREN, T_LBRACKET,
	T_RBRACKET, T_COMMA, T_DOT, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_EQ, T_NE, T_LT,
	T_LE, T_GT, T_GE
};

typedef struct token {
	enum token_kind kind;
	int line, column;
	const char *start;
	size_t length;
	int64_t integer; /* T_INT, T_DURATION (ms) */
	double decimal;
} token;

typedef struct parser {
	ly_error *err;
	const char *text, *at;
	int line, column;
	token current;
	criteria *out;
	const criteria_names *names; /* the currencies and event types measures may name */
	int depth;
} parser;

static int syntax_error(parser *p, int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int syntax_error(parser *p, int line, int column, const char *fmt, ...)
{
	char detail[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	return ly_fail(p->err, LOYAL_ESYNTAX, "line %d, column %d: %s", line, column, detail);
}

static void advance_char(parser *p)
{
	if (*p->at == '\n') {
		p->line++;
		p->column = 1;
	} else {
		p->column++;
	}
	p->at++;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int lex_number(parser *p, token *t)
{
	const char *start = p->at;
	while (isdigit((unsigned char)*p->at))
		advance_char(p);
	bool decimal = *p->at == '.' && isdigit((unsigned char)p->at[1]);
	if (decimal) {
		advance_char(p);
		while (isdigit((unsigned char)*p->at))
			advance_char(p);
	}
	char buffer[64];
	size_t length = (size_t)(p->at - start);
	if (length >= sizeof buffer)
		return syntax_error(p, t->line, t->column, "number is too long");
	memcpy(buffer, start, length);
	buffer[length] = '\0';
	if (decimal) {
		t->kind = T_DECIMAL;
		t->decimal = strtod(buffer, NULL);
		return LOYAL_OK;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long value = strtoull(buffer, &end, 10);
	if (errno || value > INT64_MAX)
		return syntax_error(p, t->line, t->column, "number %s is out of range", buffer);
	t->kind = T_INT;
	t->integer = (int64_t)value;
	/* A unit right after a whole number makes a duration: 30d, 12h, 2w, 15m, 45s. */
	static const struct {
		char unit;
		int64_t ms;
	} units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000},
		     {'w', 604800000}};
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (*p->at == units[i].unit && !ident_char(p->at[1])) {
			advance_char(p);
			if (t->integer > INT64_MAX / units[i].ms)
				return syntax_error(p, t->line, t->column, "duration is out of range");
			t->kind = T_DURATION;
			t->integer *= units[i].ms;
			break;
		}
	if (ident_char(*p->at))
		return syntax_error(p, p->line, p->column,
				    "unexpected '%c' after a number (durations end in s, m, h, d or w)",
				    *p->at);
	return LOYAL_OK;
}

static int next_token(parser *p)
{
	while (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r')
		advance_char(p);
	token *t = &p->current;
	*t = (token){.line = p->line, .column = p->column, .start = p->at};
	char c = *p->at;
	if (!c) {
		t->kind = T_END;
		return LOYAL_OK;
	}
	if (isdigit((unsigned char)c)) {
		int rc = lex_number(p, t);
		t->length = (size_t)(p->at - t->start);
		return rc;
	}
	if (isalpha((unsigned char)c) || c == '_') {
		while (ident_char(*p->at))
			advance_char(p);
		t->kind = T_IDENT;
		t->length = (size_t)(p->at - t->start);
		return LOYAL_OK;
	}
	if (c == '"' || c == '\'') {
		advance_char(p);
		while (*p->at && *p->at != c && *p->at != '\n')
			advance_char(p);
		if (*p->at != c)
			return syntax_error(p, t->line, t->column, "string is not closed");
		advance_char(p);
		t->kind = T_STRING;
		t->start++;
		t->length = (size_t)(p->at - t->start - 1);
		return LOYAL_OK;
	}
	static const struct {
		const char *text;
		enum token_kind kind;
	} symbols[] = {{"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE}, {"<", T_LT},
		       {">", T_GT},  {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACKET},
		       {"]", T_RBRACKET}, {",", T_COMMA}, {".", T_DOT}, {"+", T_PLUS},
		       {"-", T_MINUS}, {"*", T_STAR}, {"/", T_SLASH}, {"%", T_PERCENT}};
	for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
		size_t length = strlen(symbols[i].text);
		if (strncmp(p->at, symbols[i].text, length) == 0) {
			for (size_t k = 0; k < length; k++)
				advance_char(p);
			t->kind = symbols[i].kind;
			t->length = length;
			return LOYAL_OK;
		}
	}
	if (c == '=')
		return syntax_error(p, t->line, t->column, "unexpected '=' (compare with ==)");
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return syntax_error(p, t->line, t->column, "unexpected '%c'", c);
	return syntax_error(p, t->line, t->column, "unexpected byte 0x%02x",
			    (unsigned)(unsigned char)c);
}

static bool is_word(const token *t, const char *word)
{
	return t->kind == T_IDENT && t->length == strlen(word) &&
	       strncmp(t->start, word, t->length) == 0;
}

static bool is_keyword(const token *t)
{
	static const char *const keywords[] = {"and", "or", "not", "in", "true", "false"};
	for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
		if (is_word(t, keywords[i]))
			return true;
	return false;
}

/* Describes the current token for "found ..." in messages. */
static const char *describe(const token *t, char *buffer, size_t size)
{
	if (t->kind == T_END)
		return "the end of the expression";
	snprintf(buffer, size, "'%.*s'", (int)(t->length < 40 ? t->length : 40), t->start);
	return buffer;
}

static int expect(parser *p, enum token_kind kind, const char *what)
{
	if (p->current.kind != kind) {
		char found[64];
		return syntax_error(p, p->current.line, p->current.column, "expected %s, found %s",
				    what, describe(&p->current, found, sizeof found));
	}
	return next_token(p);
}

/* ---- nodes ---- */

static int new_node(parser *p, enum node_kind kind, const token *at, int *out)
{
	criteria *c = p->out;
	*out = -1;
	if (c->count == CRITERIA_MAX_NODES)
		return syntax_error(p, at->line, at->column, "expression has more than %d parts",
				    CRITERIA_MAX_NODES);
	c->nodes[c->count] = (node){.kind = kind, .line = at->line, .column = at->column,
				    .left = -1, .next = -1};
	*out = c->count++;
	return LOYAL_OK;
}

static node *at_node(parser *p, int index)
{
	return &p->out->nodes[index];
}

/* Copies a token's text (or `text` when given) into the expression's string storage. */
static const char *keep_string(parser *p, const char *text, size_t length)
{
	char *copy = ly_mem_alloc(length + 1);
	if (!copy) {
		ly_fail(p->err, LOYAL_ENOMEM, "out of memory compiling an expression");
		return NULL;
	}
	memcpy(copy, text, length);
	copy[length] = '\0';
	criteria *c = p->out;
	if (c->string_count == c->string_capacity) {
		size_t grown = c->string_capacity ? c->string_capacity * 2 : 8;
		char **larger = ly_mem_realloc(c->strings, grown * sizeof *larger);
		if (!larger) {
			ly_mem_free(copy);
			ly_fail(p->err, LOYAL_ENOMEM, "out of memory compiling an expression");
			return NULL;
		}
		c->strings = larger;
		c->string_capacity = grown;
	}
	c->strings[c->string_count++] = copy;
	return copy;
}

const char *ly_criteria_type_name(enum criteria_type type)
{
	static const char *const names[] = {"a boolean", "a whole number", "a decimal number",
					    "a number", "a string", "a duration", "any value"};
	return names[type];
}

const char *ly_criteria_type_word(enum criteria_type type)
{
	static const char *const words[] = {"boolean", "whole number", "decimal number", "number",
					    "string",  "duration",     "any value"};
	return words[type];
}

static bool numeric(enum criteria_type type)
{
	return type == CT_INT || type == CT_DECIMAL || type == CT_NUMBER || type == CT_ANY;
}

/* Requires a node of one of the families allowed by `accepts`. */
static int require_type(parser *p, int index, bool (*accepts)(enum criteria_type),
			const char *what)
{
	node *n = at_node(p, index);
	if (accepts((enum criteria_type)n->type))
		return LOYAL_OK;
	return syntax_error(p, n->line, n->column, "expected %s, found %s", what,
			    ly_criteria_type_name((enum criteria_type)n->type));
}

static bool boolean_type(enum criteria_type type)
{
	return type == CT_BOOL || type == CT_ANY;
}

/* The family a comparison or an `in` compares within. */
static int family(enum criteria_type type)
{
	return numeric(type) && type != CT_ANY ? CT_NUMBER : (int)type;
}

static bool comparable(enum criteria_type a, enum criteria_type b)
{
	return a == CT_ANY || b == CT_ANY || family(a) == family(b);
}

/* ---- grammar ---- */

static int parse_expression(parser *p, int *out);

static int descend(parser *p)
{
	if (++p->depth > CRITERIA_MAX_DEPTH)
		return syntax_error(p, p->current.line, p->current.column,
				    "expression is nested more than %d deep", CRITERIA_MAX_DEPTH);
	return LOYAL_OK;
}

/* A name of an event type or currency: an identifier or a string. */
static int parse_name(parser *p, const char *what, const char **out)
{
	token t = p->current;
	if ((t.kind != T_IDENT || is_keyword(&t)) && t.kind != T_STRING) {
		char found[64];
		return syntax_error(p, t.line, t.column, "expected %s, found %s", what,
				    describe(&t, found, sizeof found));
	}
	if (t.length == 0 || t.length > TEXT_MAX_BYTES)
		return syntax_error(p, t.line, t.column, "%s must be 1-%d characters", what,
				    TEXT_MAX_BYTES);
	*out = keep_string(p, t.start, t.length);
	return *out ? next_token(p) : p->err->code;
}

/* An optional ", <duration>" window. */
static int parse_window(parser *p, int64_t *window)
{
	*window = 0;
	if (p->current.kind != T_COMMA)
		return LOYAL_OK;
	int rc = next_token(p);
	if (rc != LOYAL_OK)
		return rc;
	if (p->current.kind != T_DURATION || p->current.integer <= 0)
		return syntax_error(p, p->current.line, p->current.column,
				    "expected a window such as 30d");
	/* Windows count local days back from an instant: bounded, so that the arithmetic on
	 * them can never leave 64 bits. */
	if (p->current.integer > CRITERIA_MAX_WINDOW_MS)
		return syntax_error(p, p->current.line, p->current.column,
				    "a window may be at most %lldd (100 years)",
				    (long long)(CRITERIA_MAX_WINDOW_MS / 86400000));
	*window = p->current.integer;
	return next_token(p);
}

static int parse_measure(parser *p, const token *name, enum criteria_measure kind, int *out)
{
	int rc = new_node(p, N_MEASURE, name, out);
	node measure = {0};
	measure.measure = kind;
	token named = p->current; /* the event type or currency, for the position of errors */
	if (rc == LOYAL_OK)
		rc = parse_name(p, kind == CM_EARNED || kind == CM_BALANCE ? "a currency"
								   : "an event type",
				&measure.name);
	if (rc == LOYAL_OK && kind == CM_SUM) {
		rc = expect(p, T_DOT, "'.' and a property, as in sum(purchase.amount)");
		if (rc == LOYAL_OK)
			rc = parse_name(p, "a property", &measure.property);
	}
	if (rc == LOYAL_OK && kind == CM_STREAK) {
		rc = expect(p, T_COMMA, "',' and day or week");
		token unit = p->current;
		if (rc == LOYAL_OK && !is_word(&unit, "day") && !is_word(&unit, "week"))
			rc = syntax_error(p, unit.line, unit.column, "expected day or week");
		measure.window = is_word(&unit, "day") ? 1 : 7;
		if (rc == LOYAL_OK)
			rc = next_token(p);
	} else if (rc == LOYAL_OK && kind != CM_BALANCE && kind != CM_DAYS_SINCE) {
		rc = parse_window(p, &measure.window);
	}
	if (rc == LOYAL_OK && kind != CM_EARNED && kind != CM_BALANCE &&
	    !(kind == CM_DAYS_SINCE && (strcmp(measure.name, "last_seen") == 0 ||
					strcmp(measure.name, "joined") == 0)) &&
	    !p->names->knows_event(p->names->ctx, measure.name))
		rc = syntax_error(p, named.line, named.column,
				  "unknown event type '%s': the program declares its events",
				  measure.name);
	if (rc == LOYAL_OK && (kind == CM_EARNED || kind == CM_BALANCE)) {
		if (!p->names->knows_currency(p->names->ctx, measure.name))
			rc = syntax_error(p, named.line, named.column, "unknown currency '%s'",
					  measure.name);
	}
	if (rc != LOYAL_OK)
		return rc;
	node *n = at_node(p, *out);
	n->measure = measure.measure;
	n->name = measure.name;
	n->property = measure.property;
	n->window = measure.window;
	n->type = kind == CM_SUM ? CT_NUMBER : CT_INT;
	return expect(p, T_RPAREN, "')'");
}

/* Parses comma-separated arguments into a sibling list under node `parent`. */
static int parse_arguments(parser *p, int parent, int minimum, int maximum, const token *name)
{
	int count = 0, last = -1;
	while (p->current.kind != T_RPAREN) {
		if (count > 0) {
			int rc = expect(p, T_COMMA, "',' or ')'");
			if (rc != LOYAL_OK)
				return rc;
		}
		int argument;
		int rc = parse_expression(p, &argument);
		if (rc != LOYAL_OK)
			return rc;
		if (last < 0)
			at_node(p, parent)->left = argument;
		else
			at_node(p, last)->next = argument;
		last = argument;
		count++;
	}
	if (count < minimum || count > maximum)
		return maximum > minimum
			       ? syntax_error(p, name->line, name->column,
					      "%.*s takes %d to %d arguments", (int)name->length,
					      name->start, minimum, maximum)
			       : syntax_error(p, name->line, name->column,
					      "%.*s takes %d argument%s", (int)name->length,
					      name->start, minimum, minimum == 1 ? "" : "s");
	return next_token(p);
}

static int parse_call(parser *p, const token *name, int *out)
{
	static const struct {
		const char *name;
		enum criteria_measure measure;
	} measures[] = {{"count", CM_COUNT},   {"sum", CM_SUM},         {"streak", CM_STREAK},
			{"earned", CM_EARNED}, {"balance", CM_BALANCE}, {"days_since", CM_DAYS_SINCE},
			{"active_days", CM_ACTIVE_DAYS}};
	for (size_t i = 0; i < sizeof measures / sizeof *measures; i++)
		if (is_word(name, measures[i].name))
			return parse_measure(p, name, measures[i].measure, out);
	if (is_word(name, "bucket")) {
		int rc = new_node(p, N_BUCKET, name, out);
		if (rc != LOYAL_OK)
			return rc;
		at_node(p, *out)->type = CT_INT;
		if (p->current.kind != T_STRING)
			return syntax_error(p, p->current.line, p->current.column,
					    "expected a salt string, as in bucket(\"spring-test\")");
		rc = parse_name(p, "a salt", &at_node(p, *out)->name);
		return rc == LOYAL_OK ? expect(p, T_RPAREN, "')'") : rc;
	}
	static const struct {
		const char *name;
		enum node_kind kind;
		int minimum, maximum;
	} functions[] = {{"floor", N_FLOOR, 1, 1}, {"round", N_ROUND, 1, 1},
			 {"min", N_MIN, 2, 16},    {"max", N_MAX, 2, 16}};
	for (size_t i = 0; i < sizeof functions / sizeof *functions; i++) {
		if (!is_word(name, functions[i].name))
			continue;
		int rc = new_node(p, functions[i].kind, name, out);
		if (rc == LOYAL_OK)
			rc = parse_arguments(p, *out, functions[i].minimum, functions[i].maximum,
					     name);
		if (rc != LOYAL_OK)
			return rc;
		node *n = at_node(p, *out);
		enum criteria_type type = CT_INT;
		for (int arg = n->left; arg >= 0; arg = at_node(p, arg)->next) {
			rc = require_type(p, arg, numeric, "a number");
			if (rc != LOYAL_OK)
				return rc;
			enum criteria_type t = (enum criteria_type)at_node(p, arg)->type;
			if (t != CT_INT)
				type = t == CT_DECIMAL && type == CT_INT ? CT_DECIMAL : CT_NUMBER;
		}
		n = at_node(p, *out);
		n->type = n->kind == N_FLOOR || n->kind == N_ROUND ? CT_INT : type;
		return LOYAL_OK;
	}
	return syntax_error(p, name->line, name->column,
			    "unknown function '%.*s' (functions: count, sum, streak, active_days, earned, "
			    "balance, days_since, bucket, floor, round, min, max)",
			    (int)name->length, name->start);
}

/* The parts of the local time `local.` names, and their types. */
static const char *const LOCAL_NAMES[] = {"hour", "minute", "weekday", "day", "month"};

/* member.<attr>, member.age, event.<prop>, tier, tier.<name>, local.<part>. */
static int parse_path(parser *p, const token *first, int *out)
{
	bool member = is_word(first, "member"), event = is_word(first, "event");
	bool tier = is_word(first, "tier"), local = is_word(first, "local");
	if (!member && !event && !tier && !local)
		return syntax_error(p, first->line, first->column,
				    "unknown name '%.*s' (names start with event., member., local."
				    " or tier)",
				    (int)first->length, first->start);
	int rc = new_node(p, N_LOOKUP, first, out);
	if (rc != LOYAL_OK)
		return rc;
	const char *scope = member ? "member" : event ? "event" : local ? "local" : "tier";
	const char *name = "";
	token at = p->current;
	if (p->current.kind == T_DOT || !tier) {
		rc = expect(p, T_DOT, member ? "'.' and an attribute" : "'.' and a property");
		at = p->current;
		if (rc == LOYAL_OK)
			rc = parse_name(p, "a name", &name);
		if (rc != LOYAL_OK)
			return rc;
	}
	bool known_local = false;
	for (size_t i = 0; local && i < sizeof LOCAL_NAMES / sizeof *LOCAL_NAMES; i++)
		known_local |= strcmp(name, LOCAL_NAMES[i]) == 0;
	if (local && !known_local)
		return syntax_error(p, at.line, at.column,
				    "unknown part of the local time '%s' (local.hour, local.minute,"
				    " local.weekday, local.day, local.month)",
				    name);
	node *n = at_node(p, *out);
	n->name = scope;
	n->property = name;
	n->type = member && strcmp(name, "age") == 0 ? CT_DURATION
		  : tier && !*name                   ? CT_STRING
		  : tier && strcmp(name, "multiplier") == 0 ? CT_NUMBER
		  : local && strcmp(name, "weekday") == 0   ? CT_STRING
		  : local                                   ? CT_INT
							    : CT_ANY;
	return LOYAL_OK;
}

static int parse_primary(parser *p, int *out)
{
	token t = p->current;
	int rc;
	switch (t.kind) {
	case T_INT:
	case T_DECIMAL:
	case T_DURATION:
	case T_STRING:
		rc = new_node(p, t.kind == T_INT        ? N_INT
				 : t.kind == T_DECIMAL  ? N_DECIMAL
				 : t.kind == T_DURATION ? N_DURATION
							: N_STRING,
			      &t, out);
		if (rc != LOYAL_OK)
			return rc;
		at_node(p, *out)->integer = t.integer;
		at_node(p, *out)->decimal = t.decimal;
		at_node(p, *out)->type = t.kind == T_INT        ? CT_INT
					 : t.kind == T_DECIMAL  ? CT_DECIMAL
					 : t.kind == T_DURATION ? CT_DURATION
								: CT_STRING;
		if (t.kind == T_STRING &&
		    !(at_node(p, *out)->name = keep_string(p, t.start, t.length)))
			return p->err->code;
		return next_token(p);
	case T_LPAREN:
		rc = next_token(p);
		if (rc == LOYAL_OK)
			rc = parse_expression(p, out);
		return rc == LOYAL_OK ? expect(p, T_RPAREN, "')'") : rc;
	case T_IDENT:
		if (is_word(&t, "true") || is_word(&t, "false")) {
			rc = new_node(p, N_BOOL, &t, out);
			if (rc != LOYAL_OK)
				return rc;
			at_node(p, *out)->integer = is_word(&t, "true");
			at_node(p, *out)->type = CT_BOOL;
			return next_token(p);
		}
		if (is_keyword(&t))
			break;
		rc = next_token(p);
		if (rc != LOYAL_OK)
			return rc;
		if (p->current.kind == T_LPAREN) {
			rc = next_token(p);
			return rc == LOYAL_OK ? parse_call(p, &t, out) : rc;
		}
		return parse_path(p, &t, out);
	default:
		break;
	}
	char found[64];
	return syntax_error(p, t.line, t.column, "expected a value, found %s",
			    describe(&t, found, sizeof found));
}

/* Makes node `kind` over `left` and `right` with the static type the operator gives. */
static int binary(parser *p, enum node_kind kind, const token *op, int left, int right, int *out)
{
	int rc = new_node(p, kind, op, out);
	if (rc != LOYAL_OK)
		return rc;
	at_node(p, *out)->left = left;
	at_node(p, left)->next = right;
	enum criteria_type a = (enum criteria_type)at_node(p, left)->type;
	enum criteria_type b = (enum criteria_type)at_node(p, right)->type;
	enum criteria_type type = CT_ANY;
	bool ok = true;
	switch (kind) {
	case N_AND:
	case N_OR:
		rc = require_type(p, left, boolean_type, "a boolean");
		if (rc == LOYAL_OK)
			rc = require_type(p, right, boolean_type, "a boolean");
		type = CT_BOOL;
		break;
	case N_ADD:
	case N_SUB:
		if (a == CT_DURATION || b == CT_DURATION)
			ok = (a == CT_DURATION || a == CT_ANY) && (b == CT_DURATION || b == CT_ANY),
			type = CT_DURATION;
		else if (numeric(a) && numeric(b))
			type = a == CT_ANY || b == CT_ANY ? CT_ANY
			       : a == CT_INT && b == CT_INT ? CT_INT
			       : a == CT_DECIMAL || b == CT_DECIMAL ? CT_DECIMAL
								    : CT_NUMBER;
		else
			ok = false;
		break;
	case N_MUL:
	case N_DIV:
	case N_MOD:
		if (kind != N_MOD && a == CT_DURATION && numeric(b))
			type = CT_DURATION;
		else if (kind == N_MUL && numeric(a) && b == CT_DURATION)
			type = CT_DURATION;
		else if (numeric(a) && numeric(b))
			type = a == CT_ANY || b == CT_ANY ? CT_ANY
			       : a == CT_INT && b == CT_INT && kind != N_DIV ? CT_INT
			       : kind == N_MOD ? CT_NUMBER
					       : (a == CT_DECIMAL || b == CT_DECIMAL ? CT_DECIMAL
										     : CT_NUMBER);
		else
			ok = false;
		break;
	default: /* comparisons */
		ok = comparable(a, b) &&
		     (kind == N_EQ || kind == N_NE || (a != CT_BOOL && b != CT_BOOL));
		type = CT_BOOL;
		break;
	}
	if (rc == LOYAL_OK && !ok)
		rc = syntax_error(p, op->line, op->column, "'%.*s' cannot combine %s and %s",
				  (int)op->length, op->start, ly_criteria_type_name(a),
				  ly_criteria_type_name(b));
	at_node(p, *out)->type = type;
	return rc;
}

/* A prefix operator (- or not) over what `operand` parses; the node's operand is set. */
static int parse_prefix(parser *p, enum node_kind kind, int (*operand)(parser *, int *),
			int *out)
{
	token t = p->current;
	int rc = descend(p);
	int inner = -1;
	if (rc == LOYAL_OK)
		rc = next_token(p);
	if (rc == LOYAL_OK)
		rc = operand(p, &inner);
	p->depth--;
	if (rc == LOYAL_OK)
		rc = new_node(p, kind, &t, out);
	if (rc == LOYAL_OK)
		at_node(p, *out)->left = inner;
	return rc;
}

static int parse_unary(parser *p, int *out)
{
	if (p->current.kind != T_MINUS)
		return parse_primary(p, out);
	int rc = parse_prefix(p, N_NEG, parse_unary, out);
	if (rc != LOYAL_OK)
		return rc;
	node *n = at_node(p, *out);
	enum criteria_type type = (enum criteria_type)at_node(p, n->left)->type;
	if (!numeric(type) && type != CT_DURATION)
		return syntax_error(p, n->line, n->column, "'-' needs a number, found %s",
				    ly_criteria_type_name(type));
	n->type = type;
	return LOYAL_OK;
}

/* A left-associative level of binary operators. */
static int parse_level(parser *p, int (*operand)(parser *, int *),
		       const enum token_kind *tokens, const enum node_kind *kinds, size_t count,
		       int *out)
{
	int rc = operand(p, out);
	for (;;) {
		if (rc != LOYAL_OK)
			return rc;
		size_t i = 0;
		while (i < count && p->current.kind != tokens[i])
			i++;
		if (i == count)
			return LOYAL_OK;
		token op = p->current;
		int right;
		rc = next_token(p);
		if (rc == LOYAL_OK)
			rc = operand(p, &right);
		if (rc == LOYAL_OK)
			rc = binary(p, kinds[i], &op, *out, right, out);
	}
}

static int parse_term(parser *p, int *out)
{
	static const enum token_kind tokens[] = {T_STAR, T_SLASH, T_PERCENT};
	static const enum node_kind kinds[] = {N_MUL, N_DIV, N_MOD};
	return parse_level(p, parse_unary, tokens, kinds, 3, out);
}

static int parse_sum(parser *p, int *out)
{
	static const enum token_kind tokens[] = {T_PLUS, T_MINUS};
	static const enum node_kind kinds[] = {N_ADD, N_SUB};
	return parse_level(p, parse_term, tokens, kinds, 2, out);
}

/* `x in [a, b]` and `x not in [a, b]`. */
static int parse_in(parser *p, const token *op, bool negated, int left, int *out)
{
	int rc = new_node(p, negated ? N_NOT_IN : N_IN, op, out);
	if (rc == LOYAL_OK)
		rc = expect(p, T_LBRACKET, "'[' and a list");
	if (rc != LOYAL_OK)
		return rc;
	at_node(p, *out)->left = left;
	at_node(p, *out)->type = CT_BOOL;
	int last = left, count = 0;
	while (p->current.kind != T_RBRACKET) {
		if (count > 0 && (rc = expect(p, T_COMMA, "',' or ']'")) != LOYAL_OK)
			return rc;
		int item;
		rc = parse_sum(p, &item);
		if (rc != LOYAL_OK)
			return rc;
		enum criteria_type a = (enum criteria_type)at_node(p, left)->type;
		enum criteria_type b = (enum criteria_type)at_node(p, item)->type;
		if (!comparable(a, b))
			return syntax_error(p, at_node(p, item)->line, at_node(p, item)->column,
					    "list item is %s, the value is %s", ly_criteria_type_name(b),
					    ly_criteria_type_name(a));
		at_node(p, last)->next = item;
		last = item;
		count++;
	}
	if (count == 0)
		return syntax_error(p, p->current.line, p->current.column, "the list is empty");
	return next_token(p);
}

static int parse_comparison(parser *p, int *out)
{
	int rc = parse_sum(p, out);
	if (rc != LOYAL_OK)
		return rc;
	static const enum token_kind tokens[] = {T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE};
	static const enum node_kind kinds[] = {N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE};
	token op = p->current;
	for (size_t i = 0; i < 6; i++)
		if (op.kind == tokens[i]) {
			int right;
			rc = next_token(p);
			if (rc == LOYAL_OK)
				rc = parse_sum(p, &right);
			return rc == LOYAL_OK ? binary(p, kinds[i], &op, *out, right, out) : rc;
		}
	if (is_word(&op, "in"))
		return (rc = next_token(p)) == LOYAL_OK ? parse_in(p, &op, false, *out, out) : rc;
	if (is_word(&op, "not")) {
		rc = next_token(p);
		if (rc == LOYAL_OK && !is_word(&p->current, "in"))
			return syntax_error(p, op.line, op.column, "expected 'not in'");
		return rc == LOYAL_OK && (rc = next_token(p)) == LOYAL_OK
			       ? parse_in(p, &op, true, *out, out)
			       : rc;
	}
	return LOYAL_OK;
}

static int parse_not(parser *p, int *out)
{
	if (!is_word(&p->current, "not"))
		return parse_comparison(p, out);
	int rc = parse_prefix(p, N_NOT, parse_not, out);
	if (rc == LOYAL_OK)
		rc = require_type(p, at_node(p, *out)->left, boolean_type, "a boolean after 'not'");
	if (rc == LOYAL_OK)
		at_node(p, *out)->type = CT_BOOL;
	return rc;
}

/* `and` and `or` are keywords, not symbols, so they get their own small loop. */
static int parse_logic(parser *p, int (*operand)(parser *, int *), const char *word,
		       enum node_kind kind, int *out)
{
	int rc = operand(p, out);
	while (rc == LOYAL_OK && is_word(&p->current, word)) {
		token op = p->current;
		int right;
		rc = next_token(p);
		if (rc == LOYAL_OK)
			rc = operand(p, &right);
		if (rc == LOYAL_OK)
			rc = binary(p, kind, &op, *out, right, out);
	}
	return rc;
}

static int parse_and(parser *p, int *out)
{
	return parse_logic(p, parse_not, "and", N_AND, out);
}

static int parse_expression(parser *p, int *out)
{
	int rc = descend(p);
	if (rc == LOYAL_OK)
		rc = parse_logic(p, parse_and, "or", N_OR, out);
	p->depth--;
	return rc;
}

void ly_criteria_free(criteria *expression)
{
	if (!expression)
		return;
	for (size_t i = 0; i < expression->string_count; i++)
		ly_mem_free(expression->strings[i]);
	ly_mem_free(expression->strings);
	ly_mem_free(expression->nodes);
	ly_mem_free(expression);
}

int ly_criteria_compile(ly_error *err, const criteria_names *names, const char *text,
			criteria **out)
{
	*out = NULL;
	if (!text)
		return ly_fail(err, LOYAL_EINVAL, "expression is NULL");
	size_t length = strnlen(text, CRITERIA_MAX_LENGTH + 1);
	if (length > CRITERIA_MAX_LENGTH)
		return ly_fail(err, LOYAL_ESYNTAX, "expression is longer than %d bytes",
			       CRITERIA_MAX_LENGTH);
	criteria *c = ly_mem_calloc(1, sizeof *c);
	if (c)
		c->nodes = ly_mem_calloc(CRITERIA_MAX_NODES, sizeof *c->nodes);
	if (!c || !c->nodes) {
		ly_criteria_free(c);
		return ly_fail(err, LOYAL_ENOMEM, "out of memory compiling an expression");
	}
	parser p = {.err = err, .text = text, .at = text, .line = 1, .column = 1, .out = c,
		    .names = names};
	int rc = next_token(&p);
	if (rc == LOYAL_OK && p.current.kind == T_END)
		rc = syntax_error(&p, 1, 1, "the expression is empty");
	if (rc == LOYAL_OK)
		rc = parse_expression(&p, &c->root);
	if (rc == LOYAL_OK && p.current.kind != T_END) {
		char found[64];
		rc = syntax_error(&p, p.current.line, p.current.column,
				  "expected an operator or the end, found %s",
				  describe(&p.current, found, sizeof found));
	}
	if (rc != LOYAL_OK) {
		ly_criteria_free(c);
		return rc;
	}
	*out = c;
	return LOYAL_OK;
}

enum criteria_type ly_criteria_result_type(const criteria *expression)
{
	return (enum criteria_type)expression->nodes[expression->root].type;
}
