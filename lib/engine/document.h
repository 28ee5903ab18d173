/* document.h - reading the program document into a struct program (engine/program.h): one file
 * per part, and the checks they share. Every failure is LOYAL_EJSON (or LOYAL_ENOMEM) with a
 * message "program: <path>: <what is wrong>", the path naming the field. */
#ifndef LOYAL_DOCUMENT_H
#define LOYAL_DOCUMENT_H

#include "engine/program.h"

#include <jansson.h>

#define MAX_CURRENCIES 64
#define MAX_RULES 256 /* rules, badges, declared event types */
#define MAX_NAME_LENGTH 64
#ifndef DAY_MS
#define DAY_MS INT64_C(86400000)
#endif

/* Parses and checks a whole document into *out (the caller's, ly_program_free). */
int ly_document_parse(loyal_db *db, json_t *document, struct program **out);
/* The parts, each into `program` (which holds the parts read before it: currencies, events). */
int ly_document_rules(loyal_db *db, json_t *rules, struct program *program);
int ly_document_tiers(loyal_db *db, json_t *tiers, struct program *program);
int ly_document_badges(loyal_db *db, json_t *badges, struct program *program);
int ly_document_segments(loyal_db *db, json_t *segments, struct program *program);
/* Finds the coupon each tier names, once the program's coupons are read. */
int ly_document_tier_coupons(loyal_db *db, struct program *program);
int ly_document_leaderboards(loyal_db *db, json_t *boards, struct program *program);
int ly_document_rewards(loyal_db *db, json_t *rewards, struct program *program);
int ly_document_coupons(loyal_db *db, json_t *coupons, struct program *program);

/* The checks they share. `path` names the field for messages. */
int ly_document_error(loyal_db *db, const char *path, const char *problem);
/* Every key of object is one of `allowed` (NULL-terminated): a typo is never ignored. */
int ly_document_check_keys(loyal_db *db, json_t *object, const char *path,
			   const char *const *allowed);
/* 1-64 characters of a-z, 0-9, _ and -; an event type also allows '.'. */
bool ly_document_valid_name(const char *name);
bool ly_document_valid_type(const char *name);
/* object[key], a whole number from minimum to maximum. */
/* An optional "award": {"points": 100, ...} at path: constant positive points per currency. */
int ly_document_award(loyal_db *db, const struct program *program, json_t *award,
		      const char *path, constant_award *out);
int ly_document_count(loyal_db *db, json_t *object, const char *key, const char *path,
		      int64_t minimum, int64_t maximum, int64_t *out);
int ly_document_copy_text(loyal_db *db, const char *text, char **out);
/* object.name, a valid name (ly_document_valid_name), copied into *out. */
int ly_document_name(loyal_db *db, json_t *object, const char *path, char **out);
/* An expression string compiled against `program`: boolean (a condition) or a number. */
int ly_document_compile(loyal_db *db, const struct program *program, json_t *value,
			const char *path, bool boolean, struct criteria **out);
/* Unix ms or "YYYY-MM-DDTHH:MM:SSZ". */
int ly_document_instant(loyal_db *db, json_t *value, const char *path, int64_t *out);
/* An optional {"from": t, "until": t} at owner.active; open ends are INT64_MIN / INT64_MAX. */
int ly_document_window(loyal_db *db, json_t *active, const char *owner, int64_t *from,
		       int64_t *until);

#endif /* LOYAL_DOCUMENT_H */
