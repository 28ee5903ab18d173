/* loyal.c - the example command-line tool: runs a loyalty program from the shell, on the
 * public API only. */
#include <loyal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes: what went wrong, for scripts. */
enum { EXIT_USAGE = 2, EXIT_DATA = 1, EXIT_INTERNAL = 3 };

static const char usage_text[] =
	"usage: loyal [--db FILE] COMMAND [ARGS]\n"
	"\n"
	"Runs a loyalty program stored in one SQLite file (default: ./loyal.db).\n"
	"\n"
	"commands:\n"
	"  init      create the database file (or migrate an older one)\n"
	"  verify    check the file and every invariant of the engine\n"
	"  version   print the library version\n"
	"\n"
	"exit codes: 0 ok, 1 data error, 2 usage error, 3 internal or I/O error\n";

static int usage(const char *problem)
{
	if (problem)
		fprintf(stderr, "loyal: %s\n", problem);
	fputs(usage_text, problem ? stderr : stdout);
	return problem ? EXIT_USAGE : 0;
}

/* Maps a library result to an exit code, printing the handle's message. */
static int fail(loyal_db *db, int rc)
{
	fprintf(stderr, "loyal: %s: %s\n", loyal_errstr(rc), loyal_errmsg(db));
	switch (rc) {
	case LOYAL_EINVAL:
	case LOYAL_ENOTFOUND:
	case LOYAL_ECONFLICT:
	case LOYAL_EINSUFFICIENT:
	case LOYAL_EOVERFLOW:
	case LOYAL_EBLOCKED:
	case LOYAL_EJSON:
	case LOYAL_ESYNTAX:
	case LOYAL_ENOTADB:
	case LOYAL_EVERSION:
	case LOYAL_ECORRUPT:
	case LOYAL_ESTATE:
		return EXIT_DATA;
	default:
		return EXIT_INTERNAL;
	}
}

int main(int argc, char **argv)
{
	const char *path = "loyal.db";
	int arg = 1;
	while (arg < argc && argv[arg][0] == '-') {
		if (strcmp(argv[arg], "--help") == 0 || strcmp(argv[arg], "-h") == 0)
			return usage(NULL);
		if (strcmp(argv[arg], "--db") != 0)
			return usage("unknown option");
		if (arg + 1 >= argc)
			return usage("--db needs a file name");
		path = argv[arg + 1];
		arg += 2;
	}
	if (arg >= argc)
		return usage("no command given");
	const char *command = argv[arg];
	if (strcmp(command, "version") == 0) {
		printf("loyal %s\n", loyal_version());
		return 0;
	}
	if (strcmp(command, "init") != 0 && strcmp(command, "verify") != 0)
		return usage("unknown command");
	if (arg + 1 != argc)
		return usage("too many arguments");

	loyal_open_options opts = LOYAL_OPEN_OPTIONS_INIT;
	if (strcmp(command, "verify") == 0)
		opts.flags = LOYAL_OPEN_READONLY;
	loyal_db *db = NULL;
	int rc = loyal_open(path, &opts, &db);
	if (rc == LOYAL_OK && strcmp(command, "verify") == 0)
		rc = loyal_verify(db);
	int status = rc == LOYAL_OK ? 0 : fail(db, rc);
	if (status == 0)
		printf("%s: %s\n", path, strcmp(command, "init") == 0 ? "ready" : "verified, no problem found");
	loyal_close(db);
	return status;
}
