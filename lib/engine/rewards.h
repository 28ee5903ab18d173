/* rewards.h - redemptions of the program's rewards: the calls of loyal/rewards.h, checked and
 * run inside write transactions of their own, and the sweep of expired redemptions. */
#ifndef LOYAL_REWARDS_INTERNAL_H
#define LOYAL_REWARDS_INTERNAL_H

#include "engine/handle.h"
#include "store/store.h"

int ly_rewards_list(loyal_db *db, const char *member, int64_t at, char **out_json);
int ly_rewards_redeem(loyal_db *db, const loyal_redeem *request, char **out_json);
/* Fulfils (fulfil true) or cancels the member's redemption. */
int ly_rewards_settle(loyal_db *db, const char *member, int64_t redemption, const char *key,
		      bool fulfil, char **out_json);
int ly_rewards_get(loyal_db *db, const char *member, int64_t redemption, char **out_json);
int ly_rewards_of(loyal_db *db, const char *member, int64_t before, loyal_cursor **out);
int ly_rewards_pending(loyal_db *db, int64_t after, loyal_cursor **out);
/* Redeems, inside a tracked event's transaction, the program's automatic rewards that the
 * event's member (*member, the event's row: not saved here) can now take, each as often as
 * they can (up to 10 of each); appends each redemption to `made`. A refusal is no failure:
 * it ends that reward's turn, undone. */
struct json_t;
int ly_rewards_automatic(loyal_db *db, member_row *member, const char *external, int64_t at,
			 struct json_t *made);
/* Records as expired every pending redemption whose deadline is at or before `at` (its holds
 * are released by the ledger), returning its units to the stock; *out_count counts them. */
int ly_rewards_sweep(loyal_db *db, int64_t at, int64_t *out_count);

#endif /* LOYAL_REWARDS_INTERNAL_H */
