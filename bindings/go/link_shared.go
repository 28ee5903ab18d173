//go:build !loyal_static

// link_shared.go - links the installed shared library, found through pkg-config (loyal.pc).

package loyal

// #cgo pkg-config: loyal
import "C"
