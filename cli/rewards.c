/* rewards.c - the commands of what members get: the rewards catalog, redemptions, coupon
 * codes, and grants to a segment or a list of members. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "200 points + 1 stamp" from a price object {"points": 200, "stamps": 1}. */
static void show_price(const json_t *price, char *out, size_t size)
{
	const char *currency;
	json_t *amount;
	size_t used = 0;
	out[0] = '\0';
	json_object_foreach((json_t *)price, currency, amount) {
		char text[64];
		show_amount(json_integer_value(amount), currency, text, sizeof text);
		used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s",
					 used ? " + " : "", text);
	}
	if (!used)
		snprintf(out, size, "free");
}

static void show_rewards(cli *c, const json_t *out)
{
	json_t *rows = json_deep_copy(out);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		char price[160], missing[160];
		show_price(json_object_get(row, "price"), price, sizeof price);
		json_object_set_new(row, "price_text", json_string(price));
		const char *why = get_str(row, "why");
		show_price(json_object_get(row, "missing"), missing, sizeof missing);
		char state[200];
		if (json_is_true(json_object_get(row, "available")))
			snprintf(state, sizeof state, "yes");
		else if (strcmp(why, "not_enough_points") == 0)
			snprintf(state, sizeof state, "needs %s more", missing);
		else
			snprintf(state, sizeof state, "no: %s", why);
		json_object_set_new(row, "state", json_string(state));
	}
	static const column columns[] = {
		{"REWARD", "reward", COL_TEXT},	  {"TITLE", "title", COL_TEXT},
		{"KIND", "kind", COL_TEXT},	  {"PRICE", "price_text", COL_TEXT},
		{"STOCK", "stock_left", COL_NUMBER}, {"REDEEMABLE", "state", COL_TEXT},
	};
	TABLE(c, rows, columns, "the program has no rewards");
	json_decref(rows);
}

static int cmd_rewards(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_reward_list(c->db, c->args[0], 0, &json), &json);
}

static void show_redemption(cli *c, const json_t *out)
{
	char text[160];
	printf("redemption %lld: %s x%lld for %s, %s%s\n", (long long)get_int(out, "id"),
	       get_str(out, "reward"), (long long)get_int(out, "quantity"), get_str(out, "member"),
	       get_str(out, "state"),
	       json_is_true(json_object_get(out, "replayed")) ? " (recorded before under this key)"
							       : "");
	show_value(c, "at", json_object_get(out, "at"), text, sizeof text);
	card("at", text);
	if (json_is_integer(json_object_get(out, "deadline"))) {
		show_value(c, "deadline", json_object_get(out, "deadline"), text, sizeof text);
		card("deadline", text);
	}
	if (json_is_integer(json_object_get(out, "settled_at"))) {
		show_value(c, "settled_at", json_object_get(out, "settled_at"), text, sizeof text);
		card("settled", text);
	}
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(out, "postings"), i, p) {
		char amount[64];
		show_amount(get_int(p, "amount"), get_str(p, "currency"), amount, sizeof amount);
		snprintf(text, sizeof text, "%s (transaction %lld)", amount,
			 (long long)get_int(p, "txn"));
		card(i ? "" : "points", text);
	}
	if (json_is_string(json_object_get(out, "coupon_code")))
		card("coupon code", get_str(out, "coupon_code"));
}

static int cmd_redeem(cli *c)
{
	loyal_redeem request = LOYAL_REDEEM_INIT;
	request.member = c->args[0];
	request.reward = c->args[1];
	request.idempotency_key = c->args[2];
	int status = flag_number(c, F_QUANTITY, 1, 1000, 1, &request.quantity);
	char *json = NULL;
	return status ? status : take_json(c, loyal_reward_redeem(c->db, &request, &json), &json);
}

static int redemption_id(cli *c, int64_t *out)
{
	return parse_number(c, c->args[1], "REDEMPTION", 1, INT64_MAX, out);
}

static int settle_redemption(cli *c, bool fulfil)
{
	int64_t id = 0;
	int status = redemption_id(c, &id);
	if (status)
		return status;
	char *json = NULL;
	int rc = fulfil ? loyal_redemption_fulfil(c->db, c->args[0], id, c->args[2], &json)
			: loyal_redemption_cancel(c->db, c->args[0], id, c->args[2], &json);
	return take_json(c, rc, &json);
}

static int cmd_redemption_fulfil(cli *c) { return settle_redemption(c, true); }
static int cmd_redemption_cancel(cli *c) { return settle_redemption(c, false); }

static int cmd_redemption_show(cli *c)
{
	int64_t id = 0;
	int status = redemption_id(c, &id);
	char *json = NULL;
	return status ? status
		      : take_json(c, loyal_redemption_get(c->db, c->args[0], id, &json), &json);
}

static const column redemption_columns[] = {
	{"ID", "id", COL_ID},	  {"MEMBER", "member", COL_TEXT},
	{"REWARD", "reward", COL_TEXT},	  {"QTY", "quantity", COL_NUMBER},
	{"STATE", "state", COL_TEXT},	  {"AT", "at", COL_TIME},
	{"DEADLINE", "deadline", COL_TIME},
};

static void show_redemptions(cli *c, const json_t *out)
{
	TABLE(c, out, redemption_columns, "no redemptions");
}

static int cmd_redemption_list(cli *c)
{
	loyal_cursor *cursor = NULL;
	return take_rows(c, loyal_redemption_list(c->db, c->args[0], 0, &cursor), &cursor);
}

static int cmd_redemption_pending(cli *c)
{
	loyal_cursor *cursor = NULL;
	return take_rows(c, loyal_redemption_pending(c->db, 0, &cursor), &cursor);
}

/* ---- coupons ---- */

static void show_import_codes(cli *c, const json_t *out)
{
	(void)c;
	printf("added %lld codes, %lld duplicates left out\n", (long long)get_int(out, "added"),
	       (long long)get_int(out, "duplicates"));
}

static int cmd_coupon_import(cli *c)
{
	int status = 0;
	char *codes = read_text(c, c->args[1], &status);
	if (!codes)
		return status;
	int64_t added = 0, duplicates = 0;
	int rc = loyal_coupon_import(c->db, c->args[0], codes, &added, &duplicates);
	free(codes);
	if (rc != LOYAL_OK)
		return fail(c, rc);
	c->out = json_pack("{s:I,s:I}", "added", (json_int_t)added, "duplicates",
			   (json_int_t)duplicates);
	return 0;
}

static void show_code(cli *c, const json_t *out)
{
	char text[160];
	const json_t *valid = json_object_get(out, "valid");
	printf("%s", get_str(out, "code"));
	if (json_is_boolean(valid))
		printf(": %s%s%s", json_is_true(valid) ? "valid" : "not valid",
		       json_is_string(json_object_get(out, "why")) ? ", " : "", get_str(out, "why"));
	else
		printf(" (%s)", get_str(out, "state"));
	printf("%s\n", json_is_true(json_object_get(out, "replayed"))
			       ? " (recorded before under this key)" : "");
	if (!json_object_get(out, "coupon"))
		return;
	card("coupon", get_str(out, "coupon"));
	card("title", get_str(out, "title"));
	card("member", get_str(out, "member"));
	show_value(c, "uses_left", json_object_get(out, "uses_left"), text, sizeof text);
	card("uses left", text);
	show_value(c, "valid_from", json_object_get(out, "valid_from"), text, sizeof text);
	card("valid from", text);
	show_value(c, "valid_until", json_object_get(out, "valid_until"), text, sizeof text);
	card("valid until", text);
	if (json_is_integer(json_object_get(out, "reservation"))) {
		show_value(c, "reservation", json_object_get(out, "reservation"), text, sizeof text);
		card("reservation", text);
	}
}

static int cmd_coupon_give(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_coupon_issue(c->db, c->args[0], c->args[1], c->args[2], &json),
			 &json);
}

static int cmd_coupon_check(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_coupon_check(c->db, c->args[0], c->args[1], 0, &json), &json);
}

static int cmd_coupon_reserve(cli *c)
{
	char *json = NULL;
	return take_json(c, loyal_coupon_reserve(c->db, c->args[0], c->args[1], c->args[2], &json),
			 &json);
}

static int cmd_coupon_release(cli *c)
{
	int64_t reservation = 0;
	int status = parse_number(c, c->args[1], "RESERVATION", 1, INT64_MAX, &reservation);
	char *json = NULL;
	return status ? status
		      : take_json(c, loyal_coupon_release(c->db, c->args[0], reservation,
							  c->args[2], &json),
				  &json);
}

static int cmd_coupon_use(cli *c)
{
	int64_t reservation = 0;
	int status = c->count > 3
			     ? parse_number(c, c->args[3], "RESERVATION", 1, INT64_MAX, &reservation)
			     : 0;
	char *json = NULL;
	return status ? status
		      : take_json(c, loyal_coupon_use(c->db, c->args[0], c->args[1], reservation,
						      c->args[2], &json),
				  &json);
}

static const column code_columns[] = {
	{"CODE", "code", COL_TEXT},	       {"COUPON", "coupon", COL_TEXT},
	{"STATE", "state", COL_TEXT},	       {"USES LEFT", "uses_left", COL_NUMBER},
	{"ISSUED", "issued_at", COL_TIME},     {"VALID UNTIL", "valid_until", COL_DATE},
};

static void show_codes(cli *c, const json_t *out)
{
	TABLE(c, out, code_columns, "no codes");
}

static int cmd_coupon_list(cli *c)
{
	loyal_cursor *cursor = NULL;
	return take_rows(c, loyal_coupon_list(c->db, c->args[0], 0, &cursor), &cursor);
}

/* ---- grants ---- */

/* The members of a --members file: its non-blank lines, trimmed, pointing into text. */
static const char **split_members(char *text, size_t *count)
{
	size_t lines = 1;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	const char **members = malloc(lines * sizeof *members);
	*count = 0;
	for (char *line = text; members && line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		size_t length = strlen(line);
		while (length && strchr("\r \t", line[length - 1]))
			line[--length] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line)
			members[(*count)++] = line;
		line = end ? end + 1 : NULL;
	}
	return members;
}

static void grant_progress(void *ctx, int64_t done, int64_t total)
{
	(void)ctx;
	int width = 30, filled = total ? (int)(done * width / total) : width;
	fprintf(stderr, "\r[%.*s%*s] %lld/%lld members", filled,
		"##############################", width - filled, "", (long long)done,
		(long long)total);
}

typedef struct grant_context {
	bool tty, json;
} grant_context;

static void grant_refused(void *ctx, const char *member, int code, const char *why,
			  const char *message)
{
	(void)code;
	const grant_context *g = ctx;
	if (g->json) {
		json_t *line = json_pack("{s:{s:s,s:s,s:s}}", "refused", "member", member, "why", why,
					 "message", message);
		print_json_line(stderr, line);
		json_decref(line);
	} else {
		fprintf(stderr, "%srefused '%s': %s: %s\n", g->tty ? "\r\033[K" : "", member, why,
			message);
	}
}

static void show_grant(cli *c, const json_t *out)
{
	(void)c;
	printf("granted %lld, already granted %lld, refused %lld",
	       (long long)get_int(out, "granted"), (long long)get_int(out, "already_granted"),
	       (long long)get_int(out, "refused"));
	const char *why;
	json_t *count;
	const char *separator = " (";
	json_object_foreach(json_object_get(out, "why"), why, count) {
		printf("%s%s %lld", separator, why, (long long)json_integer_value(count));
		separator = ", ";
	}
	printf("%s of %lld members examined\n", *separator == ',' ? ")" : "",
	       (long long)get_int(out, "examined"));
}

/* grant KEY [SEGMENT] [--members FILE] (--points N --currency C | --coupon C) [--reason T] */
static int cmd_grant(cli *c)
{
	loyal_grant g = LOYAL_GRANT_INIT;
	g.key = c->args[0];
	g.segment = c->count > 1 ? c->args[1] : NULL;
	g.coupon = c->flag[F_COUPON];
	g.reason = c->flag[F_REASON];
	const char *members_file = c->flag[F_MEMBERS];
	if (!g.segment == !members_file)
		return complain(c, EXIT_USAGE, "grant: give either a SEGMENT or --members FILE");
	if (!c->flag[F_POINTS] == !g.coupon)
		return complain(c, EXIT_USAGE, "grant: give either --points AMOUNT --currency"
					       " CURRENCY or --coupon COUPON");
	if (c->flag[F_POINTS] && !c->flag[F_CURRENCY])
		return complain(c, EXIT_USAGE, "grant: --points needs --currency CURRENCY");
	if (!c->flag[F_POINTS] && c->flag[F_CURRENCY])
		return complain(c, EXIT_USAGE, "grant: --currency goes with --points AMOUNT");
	g.currency = c->flag[F_CURRENCY];
	int status = flag_number(c, F_POINTS, 1, INT64_MAX, 0, &g.amount);
	if (!status)
		status = flag_time(c, F_AT, 0, &g.at);
	if (!status)
		status = flag_time(c, F_EXPIRES, 0, &g.expires_at);
	if (status)
		return status;
	char *text = NULL;
	const char **members = NULL;
	if (members_file) {
		if (!(text = read_text(c, members_file, &status)))
			return status;
		if (!(members = split_members(text, &g.member_count))) {
			free(text);
			return complain(c, EXIT_INTERNAL, "out of memory reading '%s'", members_file);
		}
		g.members = members;
	}
	grant_context context = {.tty = isatty(STDERR_FILENO) && !c->json, .json = c->json};
	g.progress = context.tty ? grant_progress : NULL;
	g.refused = grant_refused;
	g.ctx = &context;
	char *report = NULL;
	int rc = loyal_grant_run(c->db, &g, &report);
	if (context.tty)
		fprintf(stderr, "\r\033[K");
	free(members);
	free(text);
	return take_json(c, rc, &report);
}

static const flag_id redeem_flags[] = {F_QUANTITY, F_COUNT};
static const flag_id grant_flags[] = {F_MEMBERS, F_POINTS, F_CURRENCY, F_COUPON,
				      F_REASON,	 F_AT,	   F_EXPIRES,  F_COUNT};

const command reward_commands[] = {
	{"rewards", NULL, "MEMBER", NULL, OPEN_READ, cmd_rewards, show_rewards,
	 "what a member can redeem now, at their price, and why not", NULL, "loyal rewards alice"},
	{"redeem", NULL, "MEMBER REWARD KEY", redeem_flags, OPEN_WRITE, cmd_redeem, show_redemption,
	 "redeem points for a reward", NULL,
	 "loyal redeem alice coffee-voucher redeem-77\nloyal redeem alice sticker redeem-78 --quantity 3"},
	{"redemption", "fulfil", "MEMBER REDEMPTION KEY", NULL, OPEN_WRITE, cmd_redemption_fulfil,
	 show_redemption, "fulfil a pending (two-phase) redemption: its points are spent", NULL,
	 "loyal redemption fulfil alice 12 shipped-12"},
	{"redemption", "cancel", "MEMBER REDEMPTION KEY", NULL, OPEN_WRITE, cmd_redemption_cancel,
	 show_redemption, "cancel a redemption: points and stock come back", NULL,
	 "loyal redemption cancel alice 12 cancel-12"},
	{"redemption", "show", "MEMBER REDEMPTION", NULL, OPEN_READ, cmd_redemption_show,
	 show_redemption, "one redemption", NULL, "loyal redemption show alice 12"},
	{"redemption", "list", "MEMBER", NULL, OPEN_READ, cmd_redemption_list, show_redemptions,
	 "a member's redemptions, newest first", NULL, "loyal redemption list alice"},
	{"redemption", "pending", "", NULL, OPEN_READ, cmd_redemption_pending, show_redemptions,
	 "redemptions awaiting fulfilment, oldest first", NULL, "loyal redemption pending"},
	{"coupon", "import", "COUPON FILE|-", NULL, OPEN_WRITE, cmd_coupon_import, show_import_codes,
	 "add codes (one per line) to a coupon's pool", NULL,
	 "loyal coupon import partner-coffee codes.txt"},
	{"coupon", "give", "MEMBER COUPON KEY", NULL, OPEN_WRITE, cmd_coupon_give, show_code,
	 "give a member a code of a coupon", NULL, "loyal coupon give alice welcome-back wb-alice"},
	{"coupon", "check", "MEMBER CODE", NULL, OPEN_READ, cmd_coupon_check, show_code,
	 "whether the member can use a code now, and why not", NULL,
	 "loyal coupon check alice CAFE-0001"},
	{"coupon", "reserve", "MEMBER CODE KEY", NULL, OPEN_WRITE, cmd_coupon_reserve, show_code,
	 "set one use of a code aside for a checkout", NULL,
	 "loyal coupon reserve alice CAFE-0001 checkout-9"},
	{"coupon", "release", "MEMBER RESERVATION KEY", NULL, OPEN_WRITE, cmd_coupon_release,
	 show_code, "give a reservation's use back", NULL,
	 "loyal coupon release alice 3 checkout-9-dropped"},
	{"coupon", "use", "MEMBER CODE KEY [RESERVATION]", NULL, OPEN_WRITE, cmd_coupon_use,
	 show_code, "use a code once (the use a RESERVATION set aside)", NULL,
	 "loyal coupon use alice CAFE-0001 order-1002\nloyal coupon use alice CAFE-0001 order-1003 3"},
	{"coupon", "list", "MEMBER", NULL, OPEN_READ, cmd_coupon_list, show_codes,
	 "a member's codes, newest first", NULL, "loyal coupon list alice"},
	{"grant", NULL, "KEY [SEGMENT]", grant_flags, OPEN_WRITE, cmd_grant, show_grant,
	 "give points or a coupon to a segment or to listed members, once each under KEY",
	 "Run it again with the same KEY: members already granted are counted, not paid twice.",
	 "loyal grant winback-2026-12 silent --coupon welcome-back\n"
	 "loyal grant apology-42 --members affected.txt --points 200 --currency points"
	 " --reason 'outage on 1 Dec'"},
	{NULL, NULL, NULL, NULL, OPEN_NONE, NULL, NULL, NULL, NULL, NULL},
};
