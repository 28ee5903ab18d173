//go:build loyal_static

// link_static.go - with the build tag loyal_static, links libloyal.a into the program
// (loyal-static.pc), so that it runs without libloyal.so; SQLite, jansson, xxHash and libpq
// stay shared libraries of the system.

package loyal

// #cgo pkg-config: loyal-static
import "C"
