/* embed.c - the smallest program that embeds loyal: open a database, check it, close it. */
#include <loyal.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "embed.db";
	loyal_db *db = NULL;
	int rc = loyal_open(path, NULL, &db);
	if (rc == LOYAL_OK)
		rc = loyal_verify(db);
	if (rc != LOYAL_OK) {
		fprintf(stderr, "embed: %s: %s\n", loyal_errstr(rc), loyal_errmsg(db));
		loyal_close(db);
		return 1;
	}
	printf("loyal %s: %s is a valid loyal database\n", loyal_version(), path);
	return loyal_close(db) == LOYAL_OK ? 0 : 1;
}
