// callbacks.go - the callbacks through which Go functions serve the C library: a clock, and a
// grant's progress and refusals.

package loyal

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"time"
)

//export goLoyalClock
func goLoyalClock(handle C.uintptr_t) C.int64_t {
	clock := cgo.Handle(handle).Value().(func() time.Time)
	return C.int64_t(clock().UnixMilli())
}

//export goLoyalGrantProgress
func goLoyalGrantProgress(handle C.uintptr_t, done, total C.int64_t) {
	if g := cgo.Handle(handle).Value().(*Grant); g.Progress != nil {
		g.Progress(int64(done), int64(total))
	}
}

//export goLoyalGrantRefused
func goLoyalGrantRefused(handle C.uintptr_t, member *C.char, code C.int, why, message *C.char) {
	if g := cgo.Handle(handle).Value().(*Grant); g.Refused != nil {
		g.Refused(C.GoString(member), C.GoString(why), C.GoString(message))
	}
}
