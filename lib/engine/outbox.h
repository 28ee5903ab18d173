/* outbox.h - the outbox inside the engine: what each change announces, and the calls of
 * loyal/outbox.h. */
#ifndef LOYAL_OUTBOX_INTERNAL_H
#define LOYAL_OUTBOX_INTERNAL_H

#include "engine/handle.h"

#include <jansson.h>

/* Announces a happening of member `member` (the store's id) in the open write transaction:
 * written with the change it reports, or not at all. Consumes body (a JSON object; NULL after
 * a failed build fails with LOYAL_ENOMEM). */
int ly_outbox_add(loyal_db *db, int64_t member, const char *kind, int64_t at, json_t *body);

int ly_outbox_read(loyal_db *db, const char *consumer, int64_t limit, loyal_cursor **out);
int ly_outbox_ack(loyal_db *db, const char *consumer, int64_t position);
int ly_outbox_forget(loyal_db *db, const char *consumer, int *out_found);
int ly_outbox_consumers(loyal_db *db, char **out_json);
/* loyal_notice_sweep (notices.c). */
int ly_notices_sweep(loyal_db *db, int64_t at, int64_t *out_count);
/* loyal_points_expiring and loyal_tier_reviews (notices.c). */
int ly_notices_expiring(loyal_db *db, const char *currency, int64_t from, int64_t to,
			const char *after, loyal_cursor **out);
int ly_notices_reviews(loyal_db *db, int64_t from, int64_t to, const char *after,
		       loyal_cursor **out);

#endif /* LOYAL_OUTBOX_INTERNAL_H */
