#!/bin/sh
# check_counts.sh BENCH CEILINGS - the counts of the event path that a noisy machine cannot move,
# over a fixed workload (the benchmark's program and events, 1,000 members, 4,000 events in
# batches of 1,000): WAL pages written and SQL statements run per tracked event (SQLite's own
# counts) and instructions per tracked event (callgrind, inside loyal_track). Fails when any
# passes its ceiling in
# CEILINGS, so that a change that costs more on the hot path is seen; lower the ceilings when a
# change makes the path cheaper.
set -eu
bench=$1 ceilings=$2
members=1000 events=4000
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$bench" --counts --members $members --events $events --dir "$dir/pages" > "$dir/counts" 2>/dev/null
pages=$(sed -n 's/.*"wal_pages_per_op":\([0-9.]*\).*/\1/p' "$dir/counts")
statements=$(sed -n 's/.*"statements_per_event", "value": \([0-9.]*\).*/\1/p' "$dir/counts")
valgrind --tool=callgrind --toggle-collect=loyal_track --callgrind-out-file="$dir/callgrind" \
	"$bench" --counts --members $members --events $events --dir "$dir/instructions" \
	> /dev/null 2> "$dir/log"
total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$dir/log")
if [ -z "$pages" ] || [ -z "$statements" ] || [ -z "$total" ]; then
	echo "bench-counts: the workload did not run:"; cat "$dir/log"; exit 1
fi
instructions=$((total / events))
max_pages=$(awk '$1 == "wal_pages_per_event" { print $2 }' "$ceilings")
max_instructions=$(awk '$1 == "instructions_per_event" { print $2 }' "$ceilings")
max_statements=$(awk '$1 == "statements_per_event" { print $2 }' "$ceilings")
echo "bench-counts: $pages WAL pages, $statements statements and $instructions instructions" \
	"per tracked event (ceilings $max_pages, $max_statements and $max_instructions;" \
	"$members members, $events events)"
status=0
if ! awk -v got="$pages" -v most="$max_pages" 'BEGIN { exit !(got <= most) }'; then
	echo "bench-counts: $pages WAL pages per event is over the ceiling of $max_pages"; status=1
fi
if ! awk -v got="$statements" -v most="$max_statements" 'BEGIN { exit !(got <= most) }'; then
	echo "bench-counts: $statements statements per event is over the ceiling of" \
		"$max_statements"; status=1
fi
if [ "$instructions" -gt "$max_instructions" ]; then
	echo "bench-counts: $instructions instructions per event is over the ceiling of" \
		"$max_instructions"; status=1
fi
exit $status
