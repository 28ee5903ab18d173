#!/bin/sh
# plants.sh [SEEDS] - the simulator finds planted bugs from its seed alone. Each patch in
# tests/sim/plants/ plants one bug in a copy of the tracked files; the simulator is built
# there and run on seeds 1, 2, ... (at most SEEDS, default 20; SIM_STEPS steps each) until
# one fails. A patch of the SQLite backend (lib/store/sqlite) runs on a file, one of the
# PostgreSQL backend on a throwaway cluster (tests/pg/with_cluster.sh, one for each seed), one
# of the engine on both. Prints the seed, the step and the check that found each bug; fails if
# one stays unfound. (The simulator without a patch passes in `make test`.)
set -eu
seeds=${1:-20}
steps=${SIM_STEPS:-4000}
root=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/loyal-plants-XXXXXX")
trap 'rm -rf "$work"' EXIT
found_all=0
# Runs the planted simulator of $copy on seed $1, on backend $2 (sqlite or postgres).
run_sim() {
	if [ "$2" = postgres ]; then
		"$root/tests/pg/with_cluster.sh" sh -c '"$0" --seed "$1" --steps "$2" \
			--db "$LOYAL_TEST_POSTGRES" --restart "$3 crash $LOYAL_TEST_POSTGRES_DIR"' \
			"$copy/build/loyal-sim" "$1" "$steps" "$root/tests/pg/cluster.sh"
	else
		"$copy/build/loyal-sim" --seed "$1" --steps "$steps"
	fi
}
for patch in tests/sim/plants/*.patch; do
	name=$(basename "$patch" .patch)
	if grep -q '^+++ b/lib/store/sqlite/' "$patch"; then
		backends=sqlite
	elif grep -q '^+++ b/lib/store/postgres/' "$patch"; then
		backends=postgres
	else
		backends="sqlite postgres"
	fi
	copy="$work/$name"
	mkdir -p "$copy"
	git ls-files -z | (cd "$root" && xargs -0 tar -cf -) | tar -xf - -C "$copy"
	patch -s -d "$copy" -p1 < "$patch"
	make -s -C "$copy" -j2 build/loyal-sim > "$work/$name.build" 2>&1 ||
		{ cat "$work/$name.build"; echo "plants.sh: $name does not build" >&2; exit 1; }
	for backend in $backends; do
		seed=1 found=
		while [ "$seed" -le "$seeds" ]; do
			if ! run_sim "$seed" "$backend" > "$work/$name.out" 2> "$work/$name.err"; then
				found=$(grep -o 'FAILED at step [0-9]* ([^)]*)' "$work/$name.err" | head -1)
				break
			fi
			seed=$((seed + 1))
		done
		if [ -n "$found" ]; then
			echo "plants.sh: $name ($backend): found on seed $seed, $found"
			sed -n 's/^sim: FAILED[^:]*: /    /p' "$work/$name.err" | head -1
		else
			echo "plants.sh: $name ($backend): NOT found in $seeds seeds of $steps steps" >&2
			found_all=1
		fi
	done
	rm -rf "$copy"
done
exit $found_all
