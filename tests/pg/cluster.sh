#!/bin/sh
# cluster.sh - a throwaway PostgreSQL cluster for the tests, on a Unix socket in a folder.
#   tests/pg/cluster.sh start DIR   initdb (when DIR has none) and start; prints the conninfo
#   tests/pg/cluster.sh stop DIR    stop it (fast) and delete DIR
#   tests/pg/cluster.sh crash DIR   stop it as a crash would (immediate: no checkpoint, no
#                                   goodbye to clients) and start it again
# Run as root, the server runs as the unprivileged `postgres` user (PostgreSQL refuses root).
set -eu
command=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
	echo "cluster.sh: no PostgreSQL server in /usr/lib/postgresql (install postgresql)" >&2
	exit 1
fi
as_owner() {
	if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
# The server on a Unix socket in DIR only; fsync off (a test cluster: a killed server loses
# nothing the kernel has, which is what the crash test needs; a lost machine is not tested).
start_server() {
	as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-k '$dir' -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=200\" start" >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
}
user=$(if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi)
case $command in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "'$bin/initdb' -D '$dir/data' -U '$user' -A trust -E UTF8 --no-sync" >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	start_server
	echo "host=$dir user=$user dbname=postgres"
	;;
crash)
	as_owner "'$bin/pg_ctl' -D '$dir/data' -m immediate -w stop" >/dev/null
	start_server
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: cluster.sh start|stop DIR" >&2
	exit 2
	;;
esac
