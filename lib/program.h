/* program.h - the program the engine runs: parsed once per version and cached in the handle. */
#ifndef LOYAL_PROGRAM_INTERNAL_H
#define LOYAL_PROGRAM_INTERNAL_H

#include "internal.h"

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
} currency_def;

struct program {
	int64_t version;
	int64_t utc_offset_ms; /* where calendar periods begin */
	currency_def *currencies;
	size_t currency_count;
};

/* Reloads the cached program when the stored version differs from it. */
int program_refresh(loyal_db *db);
/* Finds a currency by name, refreshing the cache once on a miss; LOYAL_ENOTFOUND names it. */
int program_currency(loyal_db *db, const char *name, const currency_def **out);
/* Finds a currency by id in the cache, or NULL. */
const currency_def *program_currency_by_id(loyal_db *db, int64_t id);
void program_free(struct program *program);

/* When points of `currency` earned at `earned_at` expire (INT64_MAX: never, or only through
 * inactivity). */
int64_t program_expiry(const struct program *program, const currency_def *currency,
		       int64_t earned_at);

#endif /* LOYAL_PROGRAM_INTERNAL_H */
