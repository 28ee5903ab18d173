/* fuzz_cli.c - libFuzzer target: any bytes as the command line of the CLI (one argument per
 * line, at most 16), run in a folder of its own on a database with a program, members and
 * events. Any line up to every flag, value and command must end in an exit status of 0 to 3
 * with nothing leaked; the database must still verify. Lines naming a path with '/' are
 * skipped (files stay in the folder), and so are the commands that run long by design:
 * `simulate`, `whatif` and `--follow`. The CLI's output goes to /dev/null; set
 * LOYAL_FUZZ_OUTPUT=1 to see it when replaying an input. */
#include "fuzz_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int loyal_cli_main(int argc, char **argv); /* cli/main.c's main, renamed when built here */

#define MAX_ARGS 16

static const char *const PROGRAM =
	"{\"currencies\": [{\"name\": \"points\", \"expiry\": {\"after_days\": 30}},"
	"   {\"name\": \"xp\", \"spendable\": false}],"
	" \"rules\": [{\"name\": \"check-in\", \"event\": \"check_in\", \"award\": {\"points\": \"10\","
	"   \"xp\": \"5\"}}],"
	" \"tiers\": {\"levels\": [{\"name\": \"member\"},"
	"   {\"name\": \"regular\", \"entry\": \"earned(xp, 365d) >= 10\"}]},"
	" \"segments\": [{\"name\": \"active\", \"criterion\": \"days_since(last_seen) < 30\"}],"
	" \"rewards\": [{\"name\": \"mug\", \"title\": \"A mug\", \"price\": {\"points\": 15}}]}";

static int quiet = -1; /* /dev/null, or -1 to keep the CLI's output */
static char folder[] = "/tmp/loyal-fuzz-cli-XXXXXX";

/* At exit: the folder and all in it. */
static void remove_folder(void)
{
	DIR *dir = opendir(folder);
	struct dirent *entry;
	char path[320];
	while (dir && (entry = readdir(dir))) {
		snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(folder);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(folder))
		abort();
	atexit(remove_folder);
	char path[64];
	snprintf(path, sizeof path, "%s/loyal.db", folder);
	loyal_db *db = NULL;
	if (loyal_open(path, NULL, &db) != LOYAL_OK ||
	    loyal_program_apply(db, PROGRAM, NULL) != LOYAL_OK)
		abort();
	const char *members[] = {"alice", "bob"};
	for (int i = 0; i < 4; i++) {
		char key[16];
		snprintf(key, sizeof key, "e%d", i);
		loyal_event event = LOYAL_EVENT_INIT;
		event.member = members[i % 2];
		event.type = "check_in";
		event.idempotency_key = key;
		if (loyal_track(db, &event, NULL) != LOYAL_OK)
			abort();
	}
	loyal_close(db);
	int input = open("/dev/null", O_RDONLY);
	if (input < 0 || dup2(input, STDIN_FILENO) < 0) /* `import -` reads nothing */
		abort();
	close(input);
	const char *keep = getenv("LOYAL_FUZZ_OUTPUT");
	if (!keep || strcmp(keep, "1") != 0)
		quiet = open("/dev/null", O_WRONLY);
	return 0;
}

static bool allowed(const char *arg)
{
	return !strchr(arg, '/') && strcmp(arg, "simulate") != 0 && strcmp(arg, "whatif") != 0 &&
	       strncmp(arg, "--follow", 8) != 0;
}

/* Removes what a command line left in the folder, but the database. */
static void tidy(void)
{
	DIR *dir = opendir(".");
	if (!dir)
		abort();
	struct dirent *entry;
	while ((entry = readdir(dir)))
		if (strncmp(entry->d_name, "loyal.db", 8) != 0 && strcmp(entry->d_name, ".") != 0 &&
		    strcmp(entry->d_name, "..") != 0 && unlink(entry->d_name) != 0)
			rmdir(entry->d_name);
	closedir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	static char name[] = "loyal";
	char *argv[MAX_ARGS + 2] = {name};
	int argc = 1;
	bool run = true;
	for (char *line = text; line && argc <= MAX_ARGS; argc++) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		argv[argc] = line;
		run = run && allowed(line);
		line = end ? end + 1 : NULL;
	}
	argv[argc] = NULL;
	int status = 0, here = open(".", O_RDONLY | O_DIRECTORY);
	if (here < 0 || chdir(folder) != 0) /* the command line's files go there */
		abort();
	if (run) {
		int out = -1, err = -1;
		if (quiet >= 0) {
			fflush(stdout);
			fflush(stderr);
			out = dup(STDOUT_FILENO);
			err = dup(STDERR_FILENO);
			dup2(quiet, STDOUT_FILENO);
			dup2(quiet, STDERR_FILENO);
		}
		status = loyal_cli_main(argc, argv);
		if (quiet >= 0) {
			fflush(stdout);
			fflush(stderr);
			dup2(out, STDOUT_FILENO);
			dup2(err, STDERR_FILENO);
			close(out);
			close(err);
		}
		tidy();
	}
	free(text);
	if (status < 0 || status > 3) {
		fprintf(stderr, "fuzz_cli: exit status %d\n", status);
		abort();
	}
	loyal_db *db = NULL;
	if (loyal_open("loyal.db", NULL, &db) != LOYAL_OK || loyal_verify(db) != LOYAL_OK) {
		fprintf(stderr, "fuzz_cli: the database after the command: %s\n", loyal_errmsg(db));
		abort();
	}
	loyal_close(db);
	if (fchdir(here) != 0) /* libFuzzer's paths are relative to where it started */
		abort();
	close(here);
	return 0;
}
