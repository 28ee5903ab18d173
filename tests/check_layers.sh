#!/bin/sh
# check_layers.sh OBJDIR - the folders of lib/ are the library's layers, and its includes and
# calls only run down: api -> engine -> {criteria, store} -> util. A layer may use itself and
# the layers below it; criteria and store never use each other; nothing runs back up, so there
# is no circle; only api defines the public loyal_* functions. A storage backend
# (lib/store/<name>/) is reached only through the interface in lib/store: nothing outside the
# backend includes its headers or calls it, except lib/store/store.c, which opens it. Includes are read from the sources (each names its layer: "util/json.h"); calls
# from the objects in OBJDIR (what each one leaves undefined, and which layer defines it).
set -eu
objects=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

allowed() { # the layers layer $1 may use
	case $1 in
	util) echo "util" ;;
	criteria) echo "criteria util" ;;
	store) echo "store util" ;;
	engine) echo "engine criteria store util" ;;
	api) echo "api engine criteria store util" ;;
	*) echo "" ;;
	esac
}
layer_of() { # lib/engine/ledger.c, OBJDIR/engine/ledger.o -> engine
	echo "$1" | sed -e "s|^$objects/||" -e 's|^lib/||' -e 's|/.*||'
}

backend_of() { # lib/store/sqlite/open.c, store/sqlite/sqlite.h, OBJDIR/store/sqlite/x.o -> store/sqlite
	echo "$1" | sed -e "s|^$objects/||" -e 's|^lib/||' | sed -n 's|^\(store/[^/]*\)/.*|\1|p'
}

status=0
for file in $(find lib -name '*.[ch]' | sort); do
	layer=$(layer_of "$file")
	if [ -z "$(allowed "$layer")" ]; then
		echo "check-layers: $file is in no layer (lib/util, criteria, store, engine, api)"
		status=1
		continue
	fi
	for included in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file"); do
		backend=$(backend_of "$included")
		if [ -n "$backend" ] && [ "$(backend_of "$file")" != "$backend" ] &&
			[ "$file" != lib/store/store.c ]; then
			echo "check-layers: $file includes \"$included\" past the storage interface"
			status=1
		fi
		case $included in
		loyal.h | loyal/*) continue ;; # the public headers
		*/*) used=${included%%/*} ;;
		*) echo "check-layers: $file includes \"$included\" without its layer"; status=1
			continue ;;
		esac
		if ! allowed "$layer" | tr ' ' '\n' | grep -qx "$used"; then
			echo "check-layers: $file ($layer) includes \"$included\" ($used)"
			status=1
		fi
	done
done

# The objects of today's sources (a stale object of a removed file is not the library's).
for source in $(find lib -name '*.c' | sort); do
	object=$objects/${source#lib/}
	echo "${object%.c}.o"
done > "$tmp/objects"
# Which layer defines each internal symbol, then what each object calls.
for object in $(cat "$tmp/objects"); do
	layer=$(layer_of "$object")
	nm --defined-only "$object" | awk -v layer="$layer" '$2 ~ /^[TDBR]$/ && $3 ~ /^ly_/ { print $3, layer }'
done | sort -u > "$tmp/defined"
for object in $(cat "$tmp/objects"); do
	backend=$(backend_of "$object")
	[ -n "$backend" ] && nm --defined-only "$object" |
		awk -v b="$backend" '$2 ~ /^[TDBR]$/ && $3 ~ /^ly_/ { print $3, b }'
done | sort -u > "$tmp/backends"
for object in $(cat "$tmp/objects"); do
	layer=$(layer_of "$object")
	if [ "$layer" != api ]; then
		for symbol in $(nm --defined-only "$object" | awk '$2 == "T" && $3 ~ /^loyal_/ { print $3 }'); do
			echo "check-layers: $object ($layer) defines $symbol: only lib/api defines loyal_*"
			status=1
		done
	fi
	for symbol in $(nm -u "$object" | awk '$2 ~ /^ly_/ { print $2 }'); do
		used=$(awk -v s="$symbol" '$1 == s { print $2 }' "$tmp/defined")
		if [ -z "$used" ]; then
			echo "check-layers: $object calls $symbol, which no object defines"
			status=1
		elif ! allowed "$layer" | tr ' ' '\n' | grep -qx "$used"; then
			echo "check-layers: $object ($layer) calls $symbol ($used)"
			status=1
		fi
		backend=$(awk -v s="$symbol" '$1 == s { print $2 }' "$tmp/backends")
		if [ -n "$backend" ] && [ "$(backend_of "$object")" != "$backend" ] &&
			[ "$object" != "$objects/store/store.o" ]; then
			echo "check-layers: $object calls $symbol of $backend past the storage interface"
			status=1
		fi
	done
done
[ $status -eq 0 ] && echo "check-layers: includes and calls follow api -> engine -> {criteria, store} -> util;" \
	"only api defines loyal_*; backends are reached through lib/store"
exit $status
