/* leaderboards.c - leaderboards: each member's score per period, added to by tracked events, read
 * ranked (score, then who reached it first, then join order). */
#include "engine/leaderboards.h"
#include "engine/members.h"
#include "util/json.h"

#include <math.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

/* The first program day of the board's period that `at` falls in; 0 for all time. */
static int64_t board_period(const struct program *program, const leaderboard_def *board,
			    int64_t at)
{
	if (board->per == CAP_EVER)
		return 0;
	int64_t first, last;
	ly_activity_period(board->per, ly_program_day(program, at), &first, &last);
	return first;
}

/* What the event adds to the board's measure for its member. */
static double event_delta(const tracking *t, const leaderboard_def *board)
{
	if (board->measure == BOARD_EARNED) {
		const char *currency = t->db->program->currencies[board->currency].name;
		double sum = 0;
		for (size_t i = 0; i < t->outcome.postings.count; i++) {
			const outcome_posting *posting = &t->outcome.postings.items[i];
			if (strcmp(posting->member, t->event->member) == 0 &&
			    strcmp(posting->currency, currency) == 0)
				sum += (double)posting->amount;
		}
		return sum;
	}
	if (strcmp(board->type, t->event->type) != 0)
		return 0;
	if (board->measure == BOARD_COUNT)
		return 1;
	json_t *value = json_object_get(t->properties, board->property);
	return json_is_number(value) ? json_number_value(value) : 0;
}

int ly_leaderboards_record(tracking *t)
{
	const struct program *program = t->db->program;
	int rc = LOYAL_OK;
	for (size_t i = 0; i < program->leaderboard_count && rc == LOYAL_OK; i++) {
		const leaderboard_def *board = &program->leaderboards[i];
		double delta = event_delta(t, board);
		if (delta == 0 || !isfinite(delta))
			continue;
		if (board->scope) {
			criteria_context context = ly_member_view_context(&t->view);
			criteria_value value;
			rc = ly_criteria_eval(&t->db->error, board->scope, &context, &value);
			if (rc != LOYAL_OK || !ly_criteria_truthy(&value)) {
				rc = LOYAL_OK; /* out of scope, or not judgeable: not competing */
				ly_error_clear(&t->db->error);
				continue;
			}
		}
		rc = ly_store_board_add(t->db->store, board->name, board_period(program, board, t->at),
					t->member.id, delta, t->at);
	}
	return rc;
}

/* ---- reading ---- */

static int find_board(loyal_db *db, const char *name, const leaderboard_def **out)
{
	int rc = ly_text_check(&db->error, name, "leaderboard", true, TEXT_MAX_BYTES);
	if (rc == LOYAL_OK)
		rc = ly_program_refresh(db);
	for (size_t i = 0; rc == LOYAL_OK && i < db->program->leaderboard_count; i++)
		if (strcmp(db->program->leaderboards[i].name, name) == 0) {
			*out = &db->program->leaderboards[i];
			return LOYAL_OK;
		}
	return rc == LOYAL_OK ? ly_db_fail(db, LOYAL_ENOTFOUND, "no leaderboard named '%s'", name)
			      : rc;
}

static json_t *score_json(double score)
{
	return score == floor(score) && fabs(score) < 9e15 ? json_integer((json_int_t)score)
							    : json_real(score);
}

static int append_row(void *ctx, const void *data)
{
	const board_row *row = data;
	json_t *rows = ctx;
	return json_array_append_new(rows, json_pack("{s:I,s:s,s:o}", "rank", (json_int_t)row->rank,
						     "member", row->member, "score",
						     score_json(row->score)))
		       ? LOYAL_ENOMEM
		       : LOYAL_OK;
}

/* The answer's frame: the board, its period's first instant (null: all time), and rows. */
static json_t *frame(loyal_db *db, const leaderboard_def *board, int64_t period)
{
	return json_pack("{s:s,s:o,s:[]}", "leaderboard", board->name, "period_start",
			 board->per == CAP_EVER
				 ? json_null()
				 : json_integer((json_int_t)(period * DAY_MS - db->program->utc_offset_ms)),
			 "rows");
}

static int check_at(loyal_db *db, int64_t *at)
{
	if (*at < 0)
		return ly_db_fail(db, LOYAL_EINVAL, "at is negative (%lld)", (long long)*at);
	*at = *at ? *at : ly_db_now(db);
	return LOYAL_OK;
}

int ly_leaderboards_top(loyal_db *db, const char *name, int64_t at, int64_t limit,
			char **out_json)
{
	*out_json = NULL;
	const leaderboard_def *board = NULL;
	int rc = check_at(db, &at);
	if (rc == LOYAL_OK && (limit < 1 || limit > 1000))
		rc = ly_db_fail(db, LOYAL_EINVAL, "limit is %lld; it is 1 to 1000", (long long)limit);
	if (rc == LOYAL_OK)
		rc = find_board(db, name, &board);
	if (rc != LOYAL_OK)
		return rc;
	int64_t period = board_period(db->program, board, at);
	json_t *result = frame(db, board, period);
	rc = result ? ly_store_board_page(db->store, board->name, period, 0, limit, append_row,
					  json_object_get(result, "rows"))
		    : LOYAL_ENOMEM;
	if (rc == LOYAL_ENOMEM && !db->error.code)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading leaderboard '%s'", name);
	if (rc != LOYAL_OK) {
		json_decref(result);
		return rc;
	}
	return ly_json_emit(&db->error, result, out_json);
}

int ly_leaderboards_rank(loyal_db *db, const char *name, const char *member, int64_t at,
			 int64_t neighbours, char **out_json)
{
	*out_json = NULL;
	const leaderboard_def *board = NULL;
	int rc = check_at(db, &at);
	if (rc == LOYAL_OK && (neighbours < 0 || neighbours > 50))
		rc = ly_db_fail(db, LOYAL_EINVAL, "neighbours is %lld; it is 0 to 50",
				(long long)neighbours);
	if (rc == LOYAL_OK)
		rc = find_board(db, name, &board);
	member_row row;
	if (rc == LOYAL_OK)
		rc = ly_store_read_begin(db->store);
	if (rc != LOYAL_OK)
		return rc;
	rc = ly_member_for(db, member, at, false, &row);
	int64_t period = board_period(db->program, board, at), rank = 0;
	double score = 0;
	bool found = false;
	if (rc == LOYAL_OK)
		rc = ly_store_board_rank(db->store, board->name, period, row.id, &rank, &score, &found);
	json_t *result = rc == LOYAL_OK ? frame(db, board, period) : NULL;
	if (rc == LOYAL_OK && !result)
		rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading leaderboard '%s'", name);
	if (rc == LOYAL_OK && found) {
		int64_t first = rank - neighbours > 1 ? rank - neighbours : 1;
		rc = ly_store_board_page(db->store, board->name, period, first - 1,
					 rank + neighbours - first + 1, append_row,
					 json_object_get(result, "rows"));
		if (rc == LOYAL_ENOMEM && !db->error.code)
			rc = ly_db_fail(db, LOYAL_ENOMEM, "out of memory reading leaderboard '%s'",
					name);
	}
	ly_store_read_end(db->store);
	if (rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "member", json_string(member));
	if (rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "rank", found ? json_integer(rank) : json_null());
	if (rc == LOYAL_OK)
		rc = ly_json_put(&db->error, result, "score", found ? score_json(score) : json_null());
	if (rc != LOYAL_OK) {
		json_decref(result);
		return rc;
	}
	return ly_json_emit(&db->error, result, out_json);
}
