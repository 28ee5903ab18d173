/* leaderboards.h - leaderboards inside the engine: scoring a tracked event, ranked reads. */
#ifndef LOYAL_LEADERBOARDS_INTERNAL_H
#define LOYAL_LEADERBOARDS_INTERNAL_H

#include "engine/rules.h"

/* Adds what the event (its type, properties and postings to its member) counts to each
 * leaderboard the member competes on (its scope, judged on the member as they were before the
 * event), inside the event's transaction. */
int ly_leaderboards_record(tracking *t);
/* The calls of loyal/leaderboards.h. */
int ly_leaderboards_top(loyal_db *db, const char *board, int64_t at, int64_t limit,
			char **out_json);
int ly_leaderboards_rank(loyal_db *db, const char *board, const char *member, int64_t at,
			 int64_t neighbours, char **out_json);

#endif /* LOYAL_LEADERBOARDS_INTERNAL_H */
