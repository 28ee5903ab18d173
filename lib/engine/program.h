/* program.h - the program the engine runs: parsed once per version and cached in the handle. */
#ifndef LOYAL_PROGRAM_INTERNAL_H
#define LOYAL_PROGRAM_INTERNAL_H

#include "engine/handle.h"

enum expiry_kind { EXPIRY_NEVER, EXPIRY_AFTER_DAYS, EXPIRY_AFTER_MONTHS, EXPIRY_END_OF,
		   EXPIRY_INACTIVITY };
enum clawback_kind { CLAWBACK_NEGATIVE, CLAWBACK_ZERO, CLAWBACK_PENDING_ONLY };

typedef struct currency_def {
	int64_t id;
	char *name;
	bool spendable;
	enum expiry_kind expiry;
	int64_t expiry_count;  /* days, months or periods */
	int period_months;     /* EXPIRY_END_OF: 1, 3 or 12 */
	enum clawback_kind clawback;
	bool announce_postings; /* its credits and debits go to the outbox ("outbox.postings") */
} currency_def;

struct criteria;

enum cap_period { CAP_DAY, CAP_WEEK, CAP_MONTH, CAP_YEAR, CAP_EVER };

/* At most `awards` awards, or at most `points` points of each currency, per period. */
typedef struct rule_cap {
	enum cap_period per;
	int64_t awards, points; /* 0: no limit of that kind */
} rule_cap;

typedef struct rule_award {
	size_t currency; /* index into program.currencies */
	struct criteria *amount;
	int64_t pending_ms; /* how long the award stays pending; 0: active at once */
} rule_award;

#define RULE_MAX_AWARDS 8
#define RULE_MAX_CAPS 8

/* An earning rule: when an event of `event` type meets `condition`, award amounts. */
/* Constant points credited when something is reached (a badge level, a tier): per currency. */
typedef struct constant_award {
	size_t currencies[RULE_MAX_AWARDS]; /* indexes into program.currencies */
	int64_t amounts[RULE_MAX_AWARDS];
	size_t count;
} constant_award;

typedef struct rule_def {
	char *name, *event;
	struct criteria *condition; /* NULL: always */
	rule_award awards[RULE_MAX_AWARDS];
	size_t award_count;
	int coupon;      /* the coupon it issues too (award "coupon"); -1: none */
	char *recipient; /* NULL: the event's member; else the event property naming them */
	rule_cap caps[RULE_MAX_CAPS];
	size_t cap_count;
	int64_t active_from, active_until; /* INT64_MIN / INT64_MAX: open */
	unsigned weekdays;                 /* "when": local weekdays it runs on (bit 0: Monday) */
	int when_from, when_until;         /* "when": local minutes of the day [from, until) */
	bool has_budget;
	rule_cap budget;                   /* across all members, in the program's days */
	bool last;                         /* once it awards, the event's later rules do not run */
	bool first_time;                   /* only on the member's first event of the type */
	int64_t version;                   /* the program version that last changed it */
	char *definition;                  /* canonical JSON, to tell when it changed */
} rule_def;

#define TIERS_MAX 16

typedef struct tier_def {
	char *name;
	struct criteria *entry;  /* NULL: always (the base tier) */
	struct criteria *retain; /* NULL: the entry condition */
	double multiplier;
	char *perks; /* a JSON object text */
	constant_award award; /* credited on each move up into the tier */
	char *coupon_name;    /* a coupon of the program issued on each move up; NULL: none */
	int coupon;           /* its index, once the program's coupons are read; -1: none */
} tier_def;

/* The tier ladder, lowest first, and when and how far members move down it. */
typedef struct tier_ladder {
	tier_def tiers[TIERS_MAX];
	size_t count;
	bool calendar;     /* reviews at calendar boundaries; false: at the tier's anniversary */
	int period_months; /* the review period: 1, 3 or 12 */
	int64_t grace_ms;  /* a failed review takes effect this long after */
	bool one_step;     /* a downgrade drops one tier; false: to the tier that qualifies */
	bool reevaluate;   /* a changed ladder re-evaluates everyone at once */
} tier_ladder;

#define BADGE_MAX_LEVELS 8

typedef struct badge_level {
	char *name; /* NULL for a badge without levels */
	struct criteria *criterion;
	constant_award award;
} badge_level;

typedef struct badge_def {
	char *name;
	badge_level levels[BADGE_MAX_LEVELS];
	size_t level_count;
	bool repeatable;
	bool earn_again; /* after a revocation, earned again by what happens from then on */
	int64_t cooldown_ms;
	int freezes;                       /* missed days (weeks) a streak criterion forgives */
	int64_t active_from, active_until; /* INT64_MIN / INT64_MAX: open */
	char **types;                      /* the event types its criteria read */
	size_t type_count;
} badge_def;

typedef struct segment_def {
	char *name;
	struct criteria *criterion;
} segment_def;

/* A leaderboard: what it measures per member and period, and who competes. */
enum board_measure { BOARD_COUNT, BOARD_SUM, BOARD_EARNED };
#define LEADERBOARDS_MAX 64
typedef struct leaderboard_def {
	char *name;
	enum board_measure measure;
	char *type, *property;  /* count and sum: the event type (and sum: its property) */
	size_t currency;        /* earned: the currency (index into program.currencies) */
	enum cap_period per;    /* CAP_DAY, CAP_WEEK, CAP_MONTH or CAP_EVER (all time) */
	struct criteria *scope; /* who competes; NULL: every member */
} leaderboard_def;

#define SEGMENTS_MAX 256

#define REWARD_MAX_PRICES 4
#define REWARD_MAX_LIMITS 5
#define REWARDS_MAX 1024

/* What a reward costs: an amount of each of up to REWARD_MAX_PRICES currencies. */
typedef struct reward_price {
	struct {
		size_t currency; /* index into program.currencies */
		int64_t amount;
	} items[REWARD_MAX_PRICES];
	size_t count;
} reward_price;

/* A reward members redeem points for. */
typedef struct reward_def {
	char *name, *title;
	const char *kind; /* "perk", "gift", "voucher" or "coupon" */
	int coupon;       /* kind "coupon": the index of the coupon it issues; -1 otherwise */
	reward_price price;
	reward_price tier_prices[TIERS_MAX]; /* by tier index; count 0: the price */
	int64_t stock;                       /* units for all members; -1: no limit */
	struct {
		enum cap_period per;
		int64_t count;
	} limits[REWARD_MAX_LIMITS]; /* per member: at most count units per period */
	size_t limit_count;
	struct criteria *eligible;         /* NULL: every member */
	int64_t active_from, active_until; /* INT64_MIN / INT64_MAX: open */
	bool two_phase;     /* hold the points until fulfilled; false: debit them at once */
	bool automatic;     /* redeemed by a tracked event once the member can (stamp cards) */
	int64_t deadline_ms; /* two_phase: released (expired) this long after the redemption */
	char *data;          /* host data, a JSON object text (jansson's allocation) */
} reward_def;

#define COUPONS_MAX 256

/* A coupon members receive: codes generated at issue or drawn from an imported pool. */
typedef struct coupon_def {
	char *name, *title;
	char *value;                      /* the host's: what it is worth (JSON text, jansson's) */
	int64_t valid_ms;                 /* valid this long after issue; 0: the fixed window */
	int64_t valid_from, valid_until;  /* the fixed window (INT64_MIN / INT64_MAX: open) */
	int64_t uses;                     /* uses per code */
	struct criteria *eligible;        /* who may receive it; NULL: every member */
	bool pool;                        /* codes come from an imported pool; false: generated */
	int code_length;                  /* generated: characters after the prefix */
	char prefix[17];                  /* generated: what every code starts with */
} coupon_def;

struct program {
	int64_t version;
	tier_ladder ladder;
	segment_def *segments;
	size_t segment_count;
	leaderboard_def *leaderboards;
	size_t leaderboard_count;
	badge_def *badges;
	size_t badge_count;
	int64_t utc_offset_ms; /* where calendar periods and days begin, unless the member's */
	currency_def *currencies;
	size_t currency_count;
	rule_def *rules;
	size_t rule_count;
	reward_def *rewards;
	size_t reward_count;
	coupon_def *coupons;
	size_t coupon_count;
	/* The event types the document declares ("events"); with none declared, any type. */
	char **event_types;
	size_t event_type_count;
	bool events_declared;
	int64_t outbox_retention_ms; /* acknowledged happenings are kept this long */
	/* Notices ("notices"): points expiring within each of these days (largest first), and a
	 * tier whose review is within tier_at_risk_days (0: none) and whose retain fails. */
#define NOTICE_THRESHOLDS 4
	int64_t expiring_days[NOTICE_THRESHOLDS];
	size_t expiring_day_count;
	int64_t tier_at_risk_days;
};

/* Compiles a criteria expression that may name what `program` defines (its currencies, and
 * its declared event types): while a new program is applied, its own names. */
struct criteria;
int ly_program_compile_for(loyal_db *db, const struct program *program, const char *text,
			   struct criteria **out);
/* The same against the handle's current program (refreshed first). */
int ly_program_compile(loyal_db *db, const char *text, struct criteria **out);

/* Reloads the cached program when the stored version differs from it. */
int ly_program_refresh(loyal_db *db);
/* Finds a currency by name, refreshing the cache once on a miss; LOYAL_ENOTFOUND names it. */
int ly_program_currency(loyal_db *db, const char *name, const currency_def **out);
/* The index of the tier named `name`, or -1. */
int ly_program_tier_index(const struct program *program, const char *name);
/* When a tier reached (or last reviewed) at `since` is next reviewed. */
int64_t ly_program_next_review(const struct program *program, int64_t since);

/* Parses a "+HH:MM" / "-HH:MM" / "UTC" offset; false when it is not one. */
bool ly_program_parse_offset(const char *text, int64_t *offset_ms);

/* Whether events of `type` are part of the program: declared, or any type when it declares
 * none. */
bool ly_program_knows_event(const struct program *program, const char *type);

/* The reward named `name` in the handle's program (refreshed on a miss), or LOYAL_ENOTFOUND
 * naming it. */
int ly_program_reward(loyal_db *db, const char *name, const reward_def **out);

/* The coupon named `name` in the handle's program (refreshed on a miss), or LOYAL_ENOTFOUND. */
int ly_program_coupon(loyal_db *db, const char *name, const coupon_def **out);

/* Finds a currency by id in the cache, or NULL. */
const currency_def *ly_program_currency_by_id(loyal_db *db, int64_t id);
void ly_program_free(struct program *program);

/* When points of `currency` earned at `earned_at` expire (INT64_MAX: never, or only through
 * inactivity). */
int64_t ly_program_expiry(const struct program *program, const currency_def *currency,
		       int64_t earned_at);

/* Applies a parsed program document inside the open write transaction (loyal_program_apply):
 * checks it whole, refuses the removal of a currency, and stores it as a new version unless it
 * equals the current one; *out_version (may be NULL) receives the version now current. */
struct json_t;
int ly_program_apply_document(loyal_db *db, struct json_t *document, int64_t *out_version);

#endif /* LOYAL_PROGRAM_INTERNAL_H */
