/* grants.c - the public calls of bulk grants. */
#include "engine/grants.h"

int loyal_grant_init(loyal_grant *grant, unsigned int version)
{
	if (!grant || version != LOYAL_GRANT_VERSION)
		return LOYAL_EINVAL;
	loyal_grant defaults = LOYAL_GRANT_INIT;
	*grant = defaults;
	return LOYAL_OK;
}

int loyal_grant_run(loyal_db *db, const loyal_grant *grant, char **out_json)
{
	int rc = ly_db_enter(db);
	if (rc != LOYAL_OK)
		return rc;
	if (!grant)
		return ly_db_fail(db, LOYAL_EINVAL, "grant is NULL");
	return ly_grants_run(db, grant, out_json);
}
