/* grants.h - bulk grants inside the engine: the call of loyal/grants.h. */
#ifndef LOYAL_GRANTS_INTERNAL_H
#define LOYAL_GRANTS_INTERNAL_H

#include "engine/handle.h"

/* Runs the grant (checked here): its request recorded under its key, then its members served
 * a chunk per batch transaction; *out_json (may be NULL) receives the report. */
int ly_grants_run(loyal_db *db, const loyal_grant *grant, char **out_json);

#endif /* LOYAL_GRANTS_INTERNAL_H */
