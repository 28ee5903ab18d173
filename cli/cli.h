/* cli.h - what the command-line tool's files share: the run's state, its flags, its commands,
 * and the helpers that parse arguments and print answers for people or as JSON. */
#ifndef LOYAL_CLI_H
#define LOYAL_CLI_H

#include <loyal.h>

#include <jansson.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: what went wrong, for scripts. */
enum { EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

#define DAY_MS INT64_C(86400000)

/* Every flag any command takes, by one name, so that one flag means one thing everywhere. */
typedef enum flag_id {
	F_DB, F_JSON, F_WAL_LIMIT_MB, F_DURABILITY, F_HELP, F_VERSION, /* global */
	F_AT, F_FROM, F_TO, F_PERIOD, F_LIMIT, F_CURRENCY, F_BEFORE, F_AFTER, F_FOLLOW,
	F_MAX_REJECTS, F_MEMBERS, F_POINTS, F_COUPON, F_REASON, F_CAUSE, F_ATTRIBUTE, F_TIER,
	F_SEGMENT, F_STATUS, F_ACTIVE_WITHIN, F_IDLE_FOR, F_DAYS, F_PART, F_QUANTITY, F_EXPIRES,
	F_PENDING_DAYS, F_NEIGHBOURS, F_BADGE, F_LEVEL, F_PROPERTIES, F_DRY_RUN, F_POPULATION,
	F_SEED, F_PROFILE, F_INTO, F_HTML,
	F_COUNT
} flag_id;

typedef struct flag {
	const char *name;  /* without the leading "--" */
	const char *value; /* what it takes ("N"), or NULL for a switch */
	const char *help;
} flag;

extern const flag cli_flags[F_COUNT];

/* What a command needs opened: nothing, the database to read, to write, or to create. */
typedef enum open_mode { OPEN_NONE, OPEN_READ, OPEN_WRITE, OPEN_CREATE } open_mode;

typedef struct cli cli;

typedef struct command {
	const char *name, *sub; /* "program" "apply"; sub NULL for one-word commands */
	const char *arguments;  /* "MEMBER CURRENCY [AMOUNT]": [words] are optional */
	const flag_id *flags;   /* the command's own flags, ended by F_COUNT (NULL: none) */
	open_mode access;
	int (*run)(cli *c);     /* LOYAL_OK with c->out set, or an error said through fail() */
	void (*show)(cli *c, const json_t *out); /* c->out for people (NULL: indented JSON) */
	const char *help;
	const char *details;    /* more to say in `loyal help COMMAND`, or NULL */
	const char *examples;   /* one command line per line */
} command;

struct cli {
	loyal_db *db;
	const command *cmd;
	const char *path;          /* the database: a file or a postgresql:// URI */
	bool json;
	char **args;               /* the positional arguments after the command's words */
	int count;
	const char *flag[F_COUNT]; /* each flag's value as given ("" for a switch), or NULL */
	json_t *out;               /* the answer, printed by main (for people or as JSON) */
	bool printed;              /* the command printed its answer itself (streams) */
	const char *phrase;        /* what the command did, for people ("earned", "badges awarded") */
	int64_t utc_offset_ms;     /* the program's time zone, for times shown to people */
	bool zone_known;
};

/* The commands, in the order help lists them: each file's table ends with a NULL name. */
extern const command program_commands[], ledger_commands[], member_commands[],
	reward_commands[], operator_commands[];

/* ---- errors (main.c) ---- */

/* Says the engine's error (rc, with the handle's message) on stderr, as JSON under --json, and
 * returns the exit code it maps to. */
int fail(cli *c, int rc);

/* Says a problem of the command line or of a file on stderr (as JSON under --json) and returns
 * status (EXIT_USAGE, EXIT_DATA or EXIT_INTERNAL). */
int complain(cli *c, int status, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* ---- arguments (args.c) ---- */

/* A whole number from minimum to maximum, written plainly (digits with an optional '-'). */
int parse_number(cli *c, const char *text, const char *what, int64_t minimum, int64_t maximum,
		 int64_t *out);

/* A flag's whole number, or fallback when the flag is absent; status as parse_number. */
int flag_number(cli *c, flag_id id, int64_t minimum, int64_t maximum, int64_t fallback,
		int64_t *out);

/* An ISO-8601 date or time ("2026-12-01", "2026-12-01T18:30", "...:00Z", "...+08:00"), in
 * the program's time zone when it names none; a date alone is its first instant. */
int parse_time(cli *c, const char *text, const char *what, int64_t *out_ms);

/* parse_time's reading: NULL, or what is wrong with text (said after it). */
const char *read_time(cli *c, const char *text, int64_t *out_ms);

/* A flag's time, or fallback when the flag is absent. */
int flag_time(cli *c, flag_id id, int64_t fallback, int64_t *out_ms);

/* The window of a list that looks ahead: --from (default now), --to (default 30 days after
 * --from) and --limit (default none). */
int window_flags(cli *c, int64_t *from, int64_t *to, int64_t *limit);

/* The handle's clock, in Unix ms. */
int64_t now_ms(cli *c);

/* The program's UTC offset in ms ("timezone"; 0 when there is no program or no handle). */
int64_t zone_offset(cli *c);

/* The whole file as text ("-": standard input), or NULL after saying why (*status: the exit
 * code). The caller frees it. */
char *read_text(cli *c, const char *path, int *status);

/* Opens a file to read ("-": standard input) or says why not (NULL, *status set). */
FILE *open_input(cli *c, const char *path, int *status);

/* ---- answers (output.c) ---- */

/* Takes a JSON text the engine returned (and frees it) as the answer; fails on a bad one. */
int take_json(cli *c, int rc, char **json);

/* Takes every row of a cursor (and frees it) as an array answer. */
int take_rows(cli *c, int rc, loyal_cursor **cursor);

/* Parses a JSON text into a new value, or NULL. */
json_t *parse_json(const char *text);

/* Prints c->out: as one line of JSON (times as RFC 3339 UTC strings) or for people. */
void print_answer(cli *c);

/* Prints one value as JSON on a line of out (times as RFC 3339), for streams such as
 * `outbox read --follow` and for messages on stderr. */
void print_json_line(FILE *out, const json_t *value);

/* Whether an object's key holds a time (Unix ms in the engine's JSON). */
bool is_time_key(const char *key);

/* Text for people: a time in the program's time zone ("2026-12-01 18:30"), a date, a number
 * with thousands separators, an amount with its currency. Each writes into out. */
void show_time(cli *c, int64_t ms, char *out, size_t size);
void show_date(cli *c, int64_t ms, char *out, size_t size);
void show_number(int64_t value, char *out, size_t size);
void show_amount(int64_t value, const char *currency, char *out, size_t size);

/* A value of the answer as text for people: times by key, numbers as they are, strings, "-"
 * for null. */
void show_value(cli *c, const char *key, const json_t *value, char *out, size_t size);

/* Prints a card: one "label  value" line per row; a NULL value skips the row. */
void card(const char *label, const char *value);

/* A table column: its heading, the row key it shows, and how. */
/* COL_ID: a number as it is (an id); COL_NUMBER: with thousands separators. */
typedef enum column_kind {
	COL_TEXT, COL_ID, COL_NUMBER, COL_PERCENT, COL_AMOUNT, COL_TIME, COL_DATE
} column_kind;
typedef struct column {
	const char *heading, *key;
	column_kind kind;
} column;

/* Prints an array of objects as an aligned table (numbers right-aligned; amounts with the row's
 * "currency"), or `empty` when it has no row. */
void table(cli *c, const json_t *rows, const column *columns, size_t count, const char *empty);

#define TABLE(c, rows, columns, empty) \
	table(c, rows, columns, sizeof(columns) / sizeof *(columns), empty)

/* Pages of charts (html.c): writes a self-contained page titled `title` to `path`, its body
 * what `charts` writes with the calls below; returns 0, or the exit status after saying why
 * the page could not be written. The charts take the instants of their x axis (ms) and, per
 * series, a name and an array of numbers. */
int html_page(cli *c, const char *path, const char *title, void (*charts)(cli *c, FILE *out));
void html_lines(cli *c, FILE *out, const char *heading, const json_t *times, const json_t *names,
		const json_t *series, bool percent);
void html_stacks(cli *c, FILE *out, const char *heading, const json_t *times, const json_t *names,
		 const json_t *series);
/* Bars side by side for each label (a text), one per series. */
void html_bars(FILE *out, const char *heading, const json_t *labels, const json_t *names,
	       const json_t *series);
/* Retention cohorts ({"cohort": ms, "share": [...]}) as a heat map. */
void html_heat(cli *c, FILE *out, const char *heading, const json_t *cohorts);

/* A balance as an answer's object (next_expiry_at null when nothing expires). */
json_t *balance_json(const char *member, const char *currency, const loyal_balance *b);

/* Takes at most limit rows of a cursor (and frees it) as an array answer. */
int take_some_rows(cli *c, int rc, loyal_cursor **cursor, int64_t limit);

/* An answer of one count, {"<key>": n}, shown to people as "n <phrase>". */
int count_answer(cli *c, int rc, const char *key, int64_t n, const char *phrase);
void show_count(cli *c, const json_t *out);

/* Small helpers over the answer's objects. */
int64_t get_int(const json_t *object, const char *key);
const char *get_str(const json_t *object, const char *key); /* "" when absent */

#endif
