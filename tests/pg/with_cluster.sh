#!/bin/sh
# with_cluster.sh COMMAND [ARG...] - runs COMMAND beside a throwaway PostgreSQL cluster of its
# own (tests/pg/cluster.sh in a temporary folder, stopped and deleted after), with
# LOYAL_TEST_POSTGRES set to the URI of its maintenance database and LOYAL_TEST_POSTGRES_DIR to
# its folder. Exits with COMMAND's status.
set -eu
here=$(dirname "$0")
dir=$(mktemp -d /tmp/loyal-pg-XXXXXX)
trap '"$here/cluster.sh" stop "$dir"' EXIT
"$here/cluster.sh" start "$dir" >/dev/null
user=$(if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi)
export LOYAL_TEST_POSTGRES="postgresql:///postgres?host=$dir&user=$user"
export LOYAL_TEST_POSTGRES_DIR="$dir"
"$@"
