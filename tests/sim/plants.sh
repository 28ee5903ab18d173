#!/bin/sh
# plants.sh [SEEDS] - the simulator finds planted bugs from its seed alone. Each patch in
# tests/sim/plants/ plants one bug in a copy of the tracked files; the simulator is built
# there and run on seeds 1, 2, ... (at most SEEDS, default 20; SIM_STEPS steps each) until
# one fails. Prints the seed, the step and the check that found each bug; fails if one stays
# unfound. (The simulator without a patch passes in `make test`.)
set -eu
seeds=${1:-20}
steps=${SIM_STEPS:-4000}
root=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/loyal-plants-XXXXXX")
trap 'rm -rf "$work"' EXIT
found_all=0
for patch in tests/sim/plants/*.patch; do
	name=$(basename "$patch" .patch)
	copy="$work/$name"
	mkdir -p "$copy"
	git ls-files -z | (cd "$root" && xargs -0 tar -cf -) | tar -xf - -C "$copy"
	patch -s -d "$copy" -p1 < "$patch"
	make -s -C "$copy" -j2 build/loyal-sim > "$work/$name.build" 2>&1 ||
		{ cat "$work/$name.build"; echo "plants.sh: $name does not build" >&2; exit 1; }
	seed=1 found=
	while [ "$seed" -le "$seeds" ]; do
		if ! "$copy/build/loyal-sim" --seed "$seed" --steps "$steps" > "$work/$name.out" \
			2> "$work/$name.err"; then
			found=$(grep -o 'FAILED at step [0-9]* ([^)]*)' "$work/$name.err" | head -1)
			break
		fi
		seed=$((seed + 1))
	done
	if [ -n "$found" ]; then
		echo "plants.sh: $name: found on seed $seed, $found"
		sed -n 's/^sim: FAILED[^:]*: /    /p' "$work/$name.err" | head -1
	else
		echo "plants.sh: $name: NOT found in $seeds seeds of $steps steps" >&2
		found_all=1
	fi
	rm -rf "$copy"
done
exit $found_all
