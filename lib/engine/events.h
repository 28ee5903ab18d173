/* events.h - tracking and reversing events inside the engine. */
#ifndef LOYAL_EVENTS_INTERNAL_H
#define LOYAL_EVENTS_INTERNAL_H

#include "engine/handle.h"

#include <jansson.h>

/* Tracks a checked event at `at` with its parsed properties (borrowed) in a write transaction of
 * its own: replays a recorded key, else records the event and applies the rules, tiers and
 * badges; *out_json (may be NULL) receives the outcome text (loyal/events.h). */
int ly_events_track(loyal_db *db, const loyal_event *event, int64_t at, json_t *properties,
		    char **out_json);
/* Reverses a checked reversal at `at` in a write transaction of its own (loyal_event_reverse). */
int ly_events_reverse(loyal_db *db, const loyal_event_reversal *reversal, int64_t at,
		      char **out_json);

#endif /* LOYAL_EVENTS_INTERNAL_H */
