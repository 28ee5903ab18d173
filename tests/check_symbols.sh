#!/bin/sh
# check_symbols.sh - every global symbol the static library defines carries a prefix of ours:
# loyal_ (the API) or ly_ (internal), so that nothing collides with a host's own symbols.
set -eu
library=$1
stray=$(nm -g --defined-only "$library" | awk 'NF == 3 { print $3 }' | grep -v '^loyal_' |
	grep -v '^ly_' | sort -u || true)
if [ -n "$stray" ]; then
	echo "check-symbols: $library defines global symbols without the loyal_ or ly_ prefix:"
	echo "$stray"
	exit 1
fi
echo "check-symbols: every global symbol of $library starts with loyal_ or ly_" \
	"($(nm -g --defined-only "$library" | awk 'NF == 3' | wc -l) symbols)"
