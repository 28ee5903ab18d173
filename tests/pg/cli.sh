#!/bin/sh
# cli.sh CLI DIR URI - the command-line tool on a PostgreSQL database gives what it gives on a
# SQLite file: the demo's sequence (a program, 150 members' events imported twice, a purchase,
# a spend, sweeps, a refresh) run on both, then their balances, segments and a what-if of the
# program against itself compared, and both verified. DIR holds the file and the outputs.
set -eu
cli=$1
dir=$2
uri=$3
python3 examples/generate_events.py 150 > "$dir/events.ndjson"
run() { # run DB: the sequence on one database
	db=$1
	"$cli" --db "$db" init >/dev/null
	"$cli" --db "$db" program apply examples/lifecycle.json >/dev/null
	"$cli" --db "$db" import "$dir/events.ndjson" --max-rejects 2 >/dev/null 2>&1
	"$cli" --db "$db" import "$dir/events.ndjson" --max-rejects 2 >/dev/null 2>&1 # a retry: changes nothing
	"$cli" --db "$db" track member-0001 purchase cli-order '{"amount": 129.90}' >/dev/null
	"$cli" --db "$db" spend member-0001 points 10 cli-coffee >/dev/null
	"$cli" --db "$db" expire >/dev/null
	"$cli" --db "$db" tiers sweep >/dev/null
	"$cli" --db "$db" segments refresh >/dev/null
	for m in member-0001 member-0002 member-0010 member-0050 member-0149; do
		for c in points xp; do
			printf '%s %s ' "$m" "$c"
			"$cli" --db "$db" balance "$m" "$c"
		done
	done
	for s in new active core silent churned; do
		echo "segment $s"
		"$cli" --db "$db" segment list "$s"
	done
	"$cli" --db "$db" whatif examples/lifecycle.json --from "$(date -u -d '60 days ago' +%F)" \
		--to "$(date -u -d yesterday +%F)"
	"$cli" --db "$db" verify
}
run "$dir/cli.db" > "$dir/sqlite.out"
run "$uri" > "$dir/postgres.out"
if ! cmp -s "$dir/sqlite.out" "$dir/postgres.out"; then
	echo "cli.sh: the CLI on PostgreSQL differs from the CLI on SQLite:" >&2
	diff "$dir/sqlite.out" "$dir/postgres.out" >&2 || true
	exit 1
fi
echo "cli.sh: the CLI gives the same $(wc -l < "$dir/sqlite.out") lines on PostgreSQL as on SQLite"
