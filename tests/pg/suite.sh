#!/bin/sh
# suite.sh CLI TEST... - the C tests on the cluster of tests/pg/with_cluster.sh, each test in a
# database of its own, counting those that ran and those skipped (about the SQLite file); then
# the CLI's answers on PostgreSQL compared with its answers on a file (tests/pg/cli.sh).
set -eu
cli=$1
shift
out=$LOYAL_TEST_POSTGRES_DIR/out
ran=0 skipped=0
for t in "$@"; do
	echo "== $t (PostgreSQL)"
	rc=0
	LOYAL_RANDOM_OPS=5000 "$t" > "$out" 2>&1 || rc=$?
	cat "$out"
	[ $rc = 0 ] || exit 1
	ran=$((ran + $(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | head -n 1)))
	skipped=$((skipped + $(grep '^\[  SKIPPED \] test' "$out" | sort -u | wc -l)))
done
echo "check-postgres: $ran tests passed on PostgreSQL; $skipped skipped (about the SQLite file)"
psql -q "$LOYAL_TEST_POSTGRES" -c "CREATE DATABASE cli"
mkdir "$LOYAL_TEST_POSTGRES_DIR/cli"
"$(dirname "$0")/cli.sh" "$cli" "$LOYAL_TEST_POSTGRES_DIR/cli" \
	"postgresql:///cli?${LOYAL_TEST_POSTGRES#*\?}"
