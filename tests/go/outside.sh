#!/bin/sh
# tests/go/outside.sh PREFIX - the Go binding used as a Go user uses it: a module of its own
# outside this tree (the quickstart), requiring the binding through a replace directive, built
# against libloyal installed under PREFIX (make install PREFIX=...), once linking the shared
# library and once (build tag loyal_static) the static one; each binary runs.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/bindings/go/examples/quickstart/main.go" "$work/"
cat > "$work/go.mod" <<MOD
module example.com/shop

go 1.23

require github.com/loyal-engine/loyal/bindings/go v0.0.0

replace github.com/loyal-engine/loyal/bindings/go => $root/bindings/go
MOD
cd "$work"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# Go's build cache does not key a cgo package on what pkg-config says: a package built against
# another prefix would be reused, with that prefix's path to libloyal.a. CGO_LDFLAGS is part
# of the key; naming the prefix in it makes each prefix a build of its own.
export CGO_LDFLAGS="-L$prefix/lib"
go build -o shop-shared .
go build -tags loyal_static -o shop-static .
expected="alice has 42 points"
test "$(LD_LIBRARY_PATH="$prefix/lib" ./shop-shared shared.db)" = "$expected"
if ldd shop-static | grep -q libloyal; then
	echo "outside.sh: the loyal_static build still needs libloyal.so:"; ldd shop-static; exit 1
fi
test "$(env -u LD_LIBRARY_PATH ./shop-static static.db)" = "$expected"
echo "outside.sh: a module outside the tree builds and runs, linking libloyal shared and static"
