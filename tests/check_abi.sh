#!/bin/sh
# check_abi.sh - the library exports exactly the symbols of its version script, and those are
# exactly the functions the public headers declare with LOYAL_API.
set -eu
library=$1 map=$2 headers=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$library" | awk '$2 ~ /^[TDBRVW]$/ { sub(/@.*/, "", $3); print $3 }' |
	sort -u > "$tmp/exported"
sed -n 's/^[[:space:]]*\(loyal_[a-z0-9_]*\);$/\1/p' "$map" | sort -u > "$tmp/map"
grep -rhoE 'LOYAL_API [^(]*\(' "$headers" | grep -oE 'loyal_[a-z0-9_]+\($' | tr -d '(' |
	sort -u > "$tmp/declared"

status=0
if ! diff -u "$tmp/map" "$tmp/exported" > "$tmp/diff"; then
	echo "check-abi: exported symbols differ from $map:"; cat "$tmp/diff"; status=1
fi
if ! diff -u "$tmp/map" "$tmp/declared" > "$tmp/diff"; then
	echo "check-abi: LOYAL_API declarations differ from $map:"; cat "$tmp/diff"; status=1
fi
[ $status -eq 0 ] && echo "check-abi: $(wc -l < "$tmp/exported") exported symbols, all loyal_*, matching $map and the headers"
exit $status
