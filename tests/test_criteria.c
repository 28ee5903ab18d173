/* test_criteria.c - the criteria language: values, operators, precedence, types, functions over
 * a hand-made history, missing values, limits and errors with their positions. */
#include "support.h"

#include "criteria/criteria.h"
#include "engine/program.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A member's history, made by hand: what each measure answers. */
static int fake_measure(void *ctx, const criteria_measure_request *request, criteria_value *out)
{
	(void)ctx;
	const struct {
		enum criteria_measure kind;
		const char *name;
		int64_t window;
		int kind_of_value;
		int64_t integer;
		double decimal;
	} answers[] = {
		{CM_COUNT, "post", 0, CV_INT, 12, 0},
		{CM_COUNT, "post", 30 * DAY_MS, CV_INT, 7, 0},
		{CM_SUM, "purchase", 0, CV_DECIMAL, 0, 250.5},
		{CM_STREAK, "check_in", 1, CV_INT, 7, 0},
		{CM_STREAK, "check_in", 7, CV_INT, 2, 0},
		{CM_EARNED, "points", 30 * DAY_MS, CV_INT, 1000, 0},
		{CM_BALANCE, "points", 0, CV_INT, 400, 0},
		{CM_DAYS_SINCE, "last_seen", 0, CV_INT, 31, 0},
		{CM_DAYS_SINCE, "joined", 0, CV_INT, 400, 0},
		{CM_ACTIVE_DAYS, "post", 7 * DAY_MS, CV_INT, 5, 0},
	};
	*out = (criteria_value){.kind = CV_NULL};
	for (size_t i = 0; i < sizeof answers / sizeof *answers; i++)
		if (answers[i].kind == request->kind && strcmp(answers[i].name, request->name) == 0 &&
		    answers[i].window == request->window_ms) {
			out->kind = answers[i].kind_of_value;
			if (out->kind == CV_INT)
				out->as.integer = answers[i].integer;
			else
				out->as.decimal = answers[i].decimal;
		}
	return LOYAL_OK;
}

static int fake_lookup(void *ctx, const char *scope, const char *name, criteria_value *out)
{
	(void)ctx;
	*out = (criteria_value){.kind = CV_NULL};
	if (strcmp(scope, "event") == 0 && strcmp(name, "amount") == 0) {
		out->kind = CV_DECIMAL;
		out->as.decimal = 19.99;
	} else if (strcmp(scope, "event") == 0 && strcmp(name, "channel") == 0) {
		out->kind = CV_STRING;
		out->as.string = "app";
	} else if (strcmp(scope, "event") == 0 && strcmp(name, "count_text") == 0) {
		out->kind = CV_STRING;
		out->as.string = "12";
	} else if (strcmp(scope, "member") == 0 && strcmp(name, "role") == 0) {
		out->kind = CV_STRING;
		out->as.string = "teacher";
	} else if (strcmp(scope, "member") == 0 && strcmp(name, "age") == 0) {
		out->kind = CV_DURATION;
		out->as.integer = 45 * DAY_MS;
	} else if (strcmp(scope, "tier") == 0 && strcmp(name, "") == 0) {
		out->kind = CV_STRING;
		out->as.string = "silver";
	} else if (strcmp(scope, "tier") == 0 && strcmp(name, "multiplier") == 0) {
		out->kind = CV_DECIMAL;
		out->as.decimal = 1.5;
	}
	return LOYAL_OK;
}

static const criteria_context fake_context = {.measure = fake_measure,
					      .lookup = fake_lookup,
					      .member_id = "alice"};

static int setup(void **state)
{
	if (test_setup(state) != 0)
		return -1;
	test_env *env = *state;
	return loyal_program_apply(env->db, TEST_PROGRAM, NULL) == LOYAL_OK ? 0 : -1;
}

static int evaluate(test_env *env, const char *text, criteria_value *out)
{
	criteria *compiled = NULL;
	int rc = ly_program_compile(env->db, text, &compiled);
	if (rc == LOYAL_OK)
		rc = ly_criteria_eval(&env->db->error, compiled, &fake_context, out);
	ly_criteria_free(compiled);
	return rc;
}

static void assert_integer(test_env *env, const char *text, int64_t expected)
{
	criteria_value value;
	assert_ok(env->db, evaluate(env, text, &value));
	if (value.kind != CV_INT || value.as.integer != expected)
		print_error("%s: kind %d value %lld, expected %lld\n", text, value.kind,
			    (long long)value.as.integer, (long long)expected);
	assert_int_equal(value.kind, CV_INT);
	assert_int_equal(value.as.integer, expected);
}

static void assert_decimal(test_env *env, const char *text, double expected)
{
	criteria_value value;
	assert_ok(env->db, evaluate(env, text, &value));
	assert_int_equal(value.kind, CV_DECIMAL);
	assert_true(fabs(value.as.decimal - expected) < 1e-9);
}

static void assert_duration(test_env *env, const char *text, int64_t expected_ms)
{
	criteria_value value;
	assert_ok(env->db, evaluate(env, text, &value));
	assert_int_equal(value.kind, CV_DURATION);
	assert_int_equal(value.as.integer, expected_ms);
}

static void assert_truth(test_env *env, const char *text, bool expected)
{
	criteria_value value;
	assert_ok(env->db, evaluate(env, text, &value));
	if (ly_criteria_truthy(&value) != expected)
		print_error("%s: expected %s\n", text, expected ? "true" : "false");
	assert_int_equal(ly_criteria_truthy(&value), expected);
}

/* Compiling fails with `code` and a message containing `message`. */
static void assert_error(test_env *env, const char *text, int code, const char *message)
{
	criteria_value value;
	assert_rc(env->db, code, evaluate(env, text, &value));
	if (!strstr(loyal_errmsg(env->db), message))
		print_error("%s: message '%s' lacks '%s'\n", text, loyal_errmsg(env->db), message);
	assert_non_null(strstr(loyal_errmsg(env->db), message));
}

static void test_criteria__arithmetic_and_precedence(void **state)
{
	test_env *env = *state;
	assert_integer(env, "1 + 2 * 3", 7);
	assert_integer(env, "(1 + 2) * 3", 9);
	assert_integer(env, "2 * 3 + 4 * 5 - 6", 20);
	assert_integer(env, "10 - 4 - 3", 3);
	assert_integer(env, "7 % 3", 1);
	assert_integer(env, "-3 + 5", 2);
	assert_integer(env, "--4", 4);
	assert_decimal(env, "7 / 2", 3.5);
	assert_decimal(env, "1.5 * 2", 3.0);
	assert_decimal(env, "0.1 + 0.2 - 0.3", 0.1 + 0.2 - 0.3);
	assert_duration(env, "45s + 15m", 945000);
	assert_duration(env, "1d * 2", 2 * DAY_MS);
	assert_duration(env, "3 * 2w", 42 * DAY_MS);
	assert_duration(env, "1d / 4", 6 * 3600000);
	assert_duration(env, "-12h", -12 * 3600000);
}

static void test_criteria__comparisons_logic_and_lists(void **state)
{
	test_env *env = *state;
	assert_truth(env, "30d > 12h", true);
	assert_truth(env, "2w == 14d", true);
	assert_truth(env, "1 < 1.5", true);
	assert_truth(env, "2 >= 2 and 2 <= 2 and 2 != 3", true);
	assert_truth(env, "\"abc\" < \"abd\"", true);
	assert_truth(env, "'x' == \"x\"", true);
	assert_truth(env, "true == true and true != false", true);
	assert_truth(env, "true and not false", true);
	assert_truth(env, "false or 1 < 2", true);
	assert_truth(env, "false or true and false", false); /* and binds tighter than or */
	assert_truth(env, "not 1 > 2 and true", true);      /* not binds looser than > */
	assert_truth(env, "not not true", true);
	assert_truth(env, "event.channel in [\"app\", \"web\"]", true);
	assert_truth(env, "3 in [1, 2]", false);
	assert_truth(env, "3 in [1, 2.0, 3.0]", true);
	assert_truth(env, "member.role not in [\"student\", \"parent\"]", true);
}

static void test_criteria__functions_and_names(void **state)
{
	test_env *env = *state;
	assert_integer(env, "floor(event.amount)", 19);
	assert_integer(env, "round(2.5)", 3);
	assert_integer(env, "round(-2.5)", -3);
	assert_integer(env, "floor(-0.5)", -1);
	assert_integer(env, "floor(7)", 7);
	assert_decimal(env, "min(3, 1.5, 2)", 1.5);
	assert_integer(env, "max(3, 1, 2)", 3);
	assert_integer(env, "floor(event.amount * tier.multiplier)", 29);
	assert_truth(env, "member.age >= 30d", true);
	assert_truth(env, "member.role == \"teacher\"", true);
	assert_truth(env, "tier == \"silver\"", true);
}

static void test_criteria__measures_read_the_history(void **state)
{
	test_env *env = *state;
	assert_truth(env, "count(post) >= 10", true);
	assert_integer(env, "count(post, 30d)", 7);
	assert_integer(env, "count(\"post\", 30d)", 7);
	assert_decimal(env, "sum(purchase.amount)", 250.5);
	assert_truth(env, "streak(check_in, day) >= 7", true);
	assert_integer(env, "streak(check_in, week)", 2);
	assert_truth(env, "earned(points, 30d) >= 1000", true);
	assert_integer(env, "balance(points)", 400);
	assert_truth(env, "days_since(last_seen) > 30 and days_since(joined) > 365", true);
	assert_integer(env, "active_days(post, 1w)", 5);
	/* Never happened: missing, so every comparison is false. */
	assert_truth(env, "days_since(comment) > 3", false);
	assert_truth(env, "days_since(comment) <= 3", false);
	assert_truth(env, "count(post) >= 10 and streak(check_in, day) >= 7 or balance(points) > 9000",
		     true);
}

static void test_criteria__missing_and_mistyped_values(void **state)
{
	test_env *env = *state;
	assert_truth(env, "event.missing > 3", false);
	assert_truth(env, "event.missing == event.missing", false);
	assert_truth(env, "not (event.missing > 3)", true);
	assert_truth(env, "event.count_text > 3", false); /* a string where a number was meant */
	assert_truth(env, "event.missing in [1, 2]", false);
	criteria_value value;
	assert_ok(env->db, evaluate(env, "event.missing + 1", &value));
	assert_int_equal(value.kind, CV_NULL);
	assert_ok(env->db, evaluate(env, "floor(event.channel)", &value));
	assert_int_equal(value.kind, CV_NULL);
	assert_ok(env->db, evaluate(env, "max(1, event.missing)", &value));
	assert_int_equal(value.kind, CV_NULL);
}

static void test_criteria__bucket_is_stable_and_uniform(void **state)
{
	test_env *env = *state;
	criteria *compiled = NULL;
	assert_ok(env->db, ly_program_compile(env->db, "bucket(\"spring-test\")", &compiled));
	criteria_context context = fake_context;
	int counts[100] = {0};
	char member[32];
	for (int i = 0; i < 100000; i++) {
		snprintf(member, sizeof member, "member-%d", i);
		context.member_id = member;
		criteria_value value, again;
		assert_ok(env->db, ly_criteria_eval(&env->db->error, compiled, &context, &value));
		assert_ok(env->db, ly_criteria_eval(&env->db->error, compiled, &context, &again));
		assert_int_equal(value.as.integer, again.as.integer);
		assert_in_range(value.as.integer, 0, 99);
		counts[value.as.integer]++;
	}
	for (int bucket = 0; bucket < 100; bucket++)
		assert_in_range(counts[bucket], 850, 1150); /* 1000 expected; about 5 sigma */
	ly_criteria_free(compiled);
	/* Another salt splits the same members differently. */
	criteria_value first, second;
	assert_ok(env->db, evaluate(env, "bucket(\"a\") * 100 + bucket(\"b\")", &first));
	assert_ok(env->db, evaluate(env, "bucket(\"a\") * 100 + bucket(\"a\")", &second));
	assert_int_not_equal(first.as.integer, second.as.integer);
}

static void test_criteria__errors_name_their_position(void **state)
{
	test_env *env = *state;
	assert_error(env, "1 +", LOYAL_ESYNTAX,
		     "line 1, column 4: expected a value, found the end of the expression");
	assert_error(env, "count(post", LOYAL_ESYNTAX, "line 1, column 11: expected ')'");
	assert_error(env, "1 + \"a\"", LOYAL_ESYNTAX,
		     "line 1, column 3: '+' cannot combine a whole number and a string");
	assert_error(env, "cnt(post) > 1", LOYAL_ESYNTAX, "unknown function 'cnt'");
	assert_error(env, "x > 1", LOYAL_ESYNTAX, "line 1, column 1: unknown name 'x'");
	assert_error(env, "true and 3", LOYAL_ESYNTAX,
		     "line 1, column 10: expected a boolean, found a whole number");
	assert_error(env, "count(post) >= 10\n  and foo", LOYAL_ESYNTAX,
		     "line 2, column 7: unknown name 'foo'");
	assert_error(env, "1 = 2", LOYAL_ESYNTAX, "unexpected '=' (compare with ==)");
	assert_error(env, "\"open", LOYAL_ESYNTAX, "string is not closed");
	assert_error(env, "30x", LOYAL_ESYNTAX, "unexpected 'x' after a number");
	assert_error(env, "99999999999999999999", LOYAL_ESYNTAX, "out of range");
	assert_error(env, "1 < 2 < 3", LOYAL_ESYNTAX, "column 7: expected an operator or the end");
	assert_error(env, "earned(doubloons, 7d) > 1", LOYAL_ESYNTAX, "unknown currency 'doubloons'");
	assert_error(env, "streak(check_in, month)", LOYAL_ESYNTAX, "expected day or week");
	assert_error(env, "count(post, 7) > 1", LOYAL_ESYNTAX, "expected a window such as 30d");
	assert_error(env, "1 in []", LOYAL_ESYNTAX, "the list is empty");
	assert_error(env, "1 in [\"a\"]", LOYAL_ESYNTAX, "list item is a string");
	assert_error(env, "min(1)", LOYAL_ESYNTAX, "min takes 2 to 16 arguments");
	assert_error(env, "max(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)", LOYAL_ESYNTAX,
		     "max takes 2 to 16 arguments");
	assert_error(env, "count(purchase, 106751991167d) > 0", LOYAL_ESYNTAX,
		     "a window may be at most 36500d (100 years)");
	assert_error(env, "earned(points, 9223372036854775s) > 0", LOYAL_ESYNTAX,
		     "column 16: a window may be at most 36500d");
	assert_error(env, "active_days(purchase, 36501d) > 0", LOYAL_ESYNTAX, "at most 36500d");
	assert_error(env, "true < false", LOYAL_ESYNTAX, "'<' cannot combine");
	assert_error(env, "1d + 1", LOYAL_ESYNTAX, "'+' cannot combine a duration and a whole");
	assert_error(env, "", LOYAL_ESYNTAX, "the expression is empty");
	assert_error(env, "1 $ 2", LOYAL_ESYNTAX, "line 1, column 3: unexpected '$'");
}

static void test_criteria__run_time_errors(void **state)
{
	test_env *env = *state;
	assert_error(env, "9223372036854775807 + 1", LOYAL_EOVERFLOW, "line 1, column 21");
	assert_error(env, "-9223372036854775807 - 2", LOYAL_EOVERFLOW, "out of range");
	assert_error(env, "4611686018427387904 * 2", LOYAL_EOVERFLOW, "out of range");
	assert_error(env, "floor(1e300 * 1e300)", LOYAL_ESYNTAX, "unexpected 'e'");
	assert_error(env, "floor(99999999999999999.0 * 1000.0)", LOYAL_EOVERFLOW, "out of range");
	assert_error(env, "1 / 0", LOYAL_EINVAL, "division by zero");
	assert_error(env, "5 % 0", LOYAL_EINVAL, "division by zero");
	assert_error(env, "1d / 0", LOYAL_EINVAL, "division by zero");
}

static void test_criteria__limits_stop_hostile_expressions(void **state)
{
	test_env *env = *state;
	char *text = malloc(8192);
	assert_non_null(text);
	memset(text, '1', 5000);
	text[5000] = '\0';
	assert_error(env, text, LOYAL_ESYNTAX, "longer than 4096 bytes");
	/* 40 parentheses deep. */
	size_t used = 0;
	for (int i = 0; i < 40; i++)
		text[used++] = '(';
	text[used++] = '1';
	for (int i = 0; i < 40; i++)
		text[used++] = ')';
	text[used] = '\0';
	assert_error(env, text, LOYAL_ESYNTAX, "nested more than 32 deep");
	used = 0;
	for (int i = 0; i < 40; i++)
		used += (size_t)sprintf(text + used, "not ");
	sprintf(text + used, "true");
	assert_error(env, text, LOYAL_ESYNTAX, "nested more than 32 deep");
	/* 600 terms: more parts than an expression may have. */
	used = 0;
	for (int i = 0; i < 600; i++)
		used += (size_t)sprintf(text + used, i ? "+1" : "1");
	assert_error(env, text, LOYAL_ESYNTAX, "more than 512 parts");
	/* The same limit reached inside a function call (found by fuzzing: bucket wrote its type
	 * into a node it had failed to make). */
	used = (size_t)sprintf(text, "-1"); /* with 255 "+1": exactly 512 parts before bucket */
	for (int i = 0; i < 255; i++)
		used += (size_t)sprintf(text + used, "+1");
	sprintf(text + used, "+bucket(\"x\")");
	assert_error(env, text, LOYAL_ESYNTAX, "more than 512 parts");
	free(text);
}

static void test_criteria__check_reports_type_and_measures(void **state)
{
	test_env *env = *state;
	char *json = NULL;
	assert_ok(env->db, loyal_criteria_check(env->db, "count(post, 30d) >= 10 and "
							 "sum(purchase.amount) > 100", &json));
	assert_non_null(strstr(json, "\"type\":\"boolean\""));
	assert_non_null(strstr(json, "{\"function\":\"count\",\"name\":\"post\",\"window_ms\":2592000000}"));
	assert_non_null(strstr(json, "\"property\":\"amount\""));
	loyal_free(json);
	assert_ok(env->db, loyal_criteria_check(env->db, "floor(event.amount) * 2", &json));
	assert_non_null(strstr(json, "\"type\":\"whole number\""));
	loyal_free(json);
	assert_ok(env->db, loyal_criteria_check(env->db, "1 + 1", NULL));
	assert_rc(env->db, LOYAL_ESYNTAX, loyal_criteria_check(env->db, "1 +", &json));
	assert_null(json);
	assert_rc(env->db, LOYAL_EINVAL, loyal_criteria_check(env->db, NULL, &json));
	assert_int_equal(loyal_criteria_check(NULL, "1", &json), LOYAL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, test_teardown)
		CASE(test_criteria__arithmetic_and_precedence),
		CASE(test_criteria__comparisons_logic_and_lists),
		CASE(test_criteria__functions_and_names),
		CASE(test_criteria__measures_read_the_history),
		CASE(test_criteria__missing_and_mistyped_values),
		CASE(test_criteria__bucket_is_stable_and_uniform),
		CASE(test_criteria__errors_name_their_position),
		CASE(test_criteria__run_time_errors),
		CASE(test_criteria__limits_stop_hostile_expressions),
		CASE(test_criteria__check_reports_type_and_measures),
#undef CASE
	};
	return cmocka_run_group_tests_name("criteria", tests, NULL, NULL);
}
