/* nodes.h - the compiled form shared by the criteria compiler and evaluator. */
#ifndef LOYAL_CRITERIA_NODES_H
#define LOYAL_CRITERIA_NODES_H

#include "criteria/criteria.h"

enum node_kind {
	N_INT, N_DECIMAL, N_DURATION, N_STRING, N_BOOL, N_LOOKUP, N_MEASURE, N_BUCKET,
	N_NEG, N_NOT, N_AND, N_OR, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
	N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_IN, N_NOT_IN, N_FLOOR, N_ROUND, N_MIN, N_MAX
};

/* A node of the tree, stored in one array: `left` is the first operand, `next` the following
 * sibling (-1: none). */
typedef struct node {
	uint8_t kind, type, measure;
	int line, column;
	int left, next;
	int64_t integer; /* N_INT, N_BOOL, N_DURATION (ms) */
	double decimal;
	const char *name;     /* N_STRING text; N_LOOKUP scope; N_MEASURE type or currency */
	const char *property; /* N_LOOKUP name; N_MEASURE sum's property */
	int64_t window;       /* N_MEASURE: window in ms; streak: 1 day or 7 */
} node;

struct criteria {
	node *nodes;
	int count, root;
	char **strings;
	size_t string_count, string_capacity;
};

#endif /* LOYAL_CRITERIA_NODES_H */
