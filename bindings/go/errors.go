// errors.go - the library's result codes as Go errors.

package loyal

/*
#include <loyal.h>
*/
import "C"

// Error is a failure of the library: its code, the code's name, and the message that names
// the argument, field, position, id or file at fault. Compare with errors.Is against the
// Err* values, which match on the code. Replayed is true when the call was refused by an
// earlier call under the same idempotency key and this is that recorded refusal again (a
// retried debit, redemption or coupon issue), false when it was refused now.
type Error struct {
	Code     int
	Name     string
	Message  string
	Replayed bool
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	sentinel, ok := target.(*Error)
	return ok && sentinel.Code == e.Code && sentinel.Message == ""
}

func sentinel(code C.int) *Error {
	return &Error{Code: int(code), Name: C.GoString(C.loyal_errstr(code))}
}

// The sentinels, one per result code.
var (
	ErrInvalid      = sentinel(C.LOYAL_EINVAL)
	ErrNoMemory     = sentinel(C.LOYAL_ENOMEM)
	ErrIO           = sentinel(C.LOYAL_EIO)
	ErrNotADatabase = sentinel(C.LOYAL_ENOTADB)
	ErrVersion      = sentinel(C.LOYAL_EVERSION)
	ErrReadOnly     = sentinel(C.LOYAL_EREADONLY)
	ErrBusy         = sentinel(C.LOYAL_EBUSY)
	ErrNotFound     = sentinel(C.LOYAL_ENOTFOUND)
	ErrConflict     = sentinel(C.LOYAL_ECONFLICT)
	ErrInsufficient = sentinel(C.LOYAL_EINSUFFICIENT)
	ErrOverflow     = sentinel(C.LOYAL_EOVERFLOW)
	ErrBlocked      = sentinel(C.LOYAL_EBLOCKED)
	ErrJSON         = sentinel(C.LOYAL_EJSON)
	ErrSyntax       = sentinel(C.LOYAL_ESYNTAX)
	ErrCorrupt      = sentinel(C.LOYAL_ECORRUPT)
	ErrState        = sentinel(C.LOYAL_ESTATE)
	ErrMisuse       = sentinel(C.LOYAL_EMISUSE)
	ErrInternal     = sentinel(C.LOYAL_EINTERNAL)
	ErrSoldOut      = sentinel(C.LOYAL_ESOLDOUT)
	ErrLimit        = sentinel(C.LOYAL_ELIMIT)
	ErrNotEligible  = sentinel(C.LOYAL_ENOTELIGIBLE)
	ErrInterrupted  = sentinel(C.LOYAL_EINTERRUPTED)
)

func newError(code C.int, message string) error {
	return &Error{Code: int(code), Name: C.GoString(C.loyal_errstr(code)), Message: message}
}
