/* activity.h - what members did, rolled up per day, and the member view that criteria read. */
#ifndef LOYAL_ACTIVITY_H
#define LOYAL_ACTIVITY_H

#include "criteria/criteria.h"
#include "engine/program.h"
#include "store/store.h"

#include <jansson.h>

/* A member as criteria see them at one moment: attributes, the event at hand, their days. */
typedef struct member_view {
	loyal_db *db;
	member_row *member;
	const char *external_id;
	json_t *attributes;    /* owned; read on first use */
	json_t *event;         /* borrowed; NULL outside an event */
	int64_t now;
	/* Measures count nothing before the local day of this instant: a badge's window opening
	 * (a challenge counts only what happened inside it). INT64_MIN: no bound. */
	int64_t counts_from;
	/* The member's last activity as of the view's opening: an event's rules, tiers and badges
	 * see the member as they were before it (days_since(last_seen) is the idle time it ends). */
	int64_t last_seen;
	int64_t utc_offset_ms; /* the member's "timezone" attribute, or the program's */
	int tier;              /* index in the program's ladder, -1: none (member->tier's) */
	json_t *perks;         /* the tier's perks, parsed on first use */
} member_view;

/* Sets up a view of member (borrowed, as are external_id and event) at `now`; it reads nothing:
 * the tier comes with the member row, attributes when first asked for. Close it with
 * ly_member_view_close. */
void ly_member_view_open(loyal_db *db, member_row *member, const char *external_id, json_t *event,
		      int64_t now, member_view *out);
void ly_member_view_close(member_view *view);
/* The UTC offset of the member's days: their "timezone" attribute, or the program's. */
int64_t ly_member_utc_offset(const loyal_db *db, const member_row *member);
/* The criteria context that reads this view. */
criteria_context ly_member_view_context(member_view *view);
/* The member's local day number (days since 1970-01-01 in their time zone) of an instant. */
int64_t ly_member_view_day(const member_view *view, int64_t at);
/* The day number of an instant in the program's time zone (where program-wide periods run). */
int64_t ly_program_day(const struct program *program, int64_t at);

/* Counts one event of `type` on its local day, adding its numeric properties to the sums. */
int ly_activity_record_event(member_view *view, const char *type, int64_t at, json_t *properties);
/* Points earned in a currency, by day, for earned(currency, window). */
int ly_activity_add_earned(loyal_db *db, member_row *member, const currency_def *currency,
			int64_t at, int64_t amount);
/* Days [first, last] of a cap period around `day` (local). */
void ly_activity_period(enum cap_period per, int64_t day, int64_t *first, int64_t *last);

#endif /* LOYAL_ACTIVITY_H */
