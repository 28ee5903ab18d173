// clock.go - the callback through which a Go clock serves the C library.
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
