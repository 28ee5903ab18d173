// grants.go - bulk grants: points or a coupon for every member of a segment or of a list, each
// once under the grant's key.

package loyal

/*
#include <loyal.h>
#include <stdlib.h>
void goLoyalGrantProgress(uintptr_t handle, int64_t done, int64_t total);
void goLoyalGrantRefused(uintptr_t handle, char *member, int code, char *why, char *message);
static void loyal_go_grant_progress(void *ctx, int64_t done, int64_t total)
{
	goLoyalGrantProgress((uintptr_t)ctx, done, total);
}
static void loyal_go_grant_refused(void *ctx, const char *member, int code, const char *why,
				   const char *message)
{
	goLoyalGrantRefused((uintptr_t)ctx, (char *)member, code, (char *)why, (char *)message);
}
static void loyal_go_grant_callbacks(loyal_grant *g, uintptr_t handle, int progress, int refused)
{
	g->progress = progress ? loyal_go_grant_progress : NULL;
	g->refused = refused ? loyal_go_grant_refused : NULL;
	g->ctx = (void *)handle;
}
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// Grant is what a bulk grant gives and to whom: Amount points of Currency, or a code of Coupon,
// to the members of Segment now, or to the host ids in Members (unknown ones are refused, never
// created). Key is the grant's and each member's idempotency key: running the same grant again
// serves only the members not served yet. Reason, At and ExpiresAt apply to points.
type Grant struct {
	Key       string
	Segment   string
	Members   []string // used when not nil
	Currency  string
	Amount    int64
	Coupon    string
	Reason    string
	At        time.Time
	ExpiresAt time.Time
	// Progress, if set, is called after each committed transaction with the members looked at
	// so far and their total; Refused for each member refused, with why ("blocked",
	// "not_eligible", "sold_out", "unknown_member"...) and the message. Both run on the calling
	// goroutine, inside the call: they must not call the DB.
	Progress func(done, total int64)
	Refused  func(member, why, message string)
}

// GrantReport is what a grant did: members examined, granted by this run, granted by an
// earlier run, refused, and the refused counted by why.
type GrantReport struct {
	Grant          string           `json:"grant"`
	Examined       int64            `json:"examined"`
	Granted        int64            `json:"granted"`
	AlreadyGranted int64            `json:"already_granted"`
	Refused        int64            `json:"refused"`
	Why            map[string]int64 `json:"why"`
}

// Grant runs a bulk grant. Errors: ErrInvalid (a bad field), ErrNotFound (unknown segment,
// currency or coupon), ErrConflict (the key was used for another grant), ErrState (inside a
// batch), and the storage errors; a failure of the store stops the grant, which a run again
// completes.
func (db *DB) Grant(g Grant) (GrantReport, error) {
	var s cstrings
	defer s.free()
	var cg C.loyal_grant
	C.loyal_grant_init(&cg, C.LOYAL_GRANT_VERSION)
	cg.key, cg.segment, cg.currency = s.add(g.Key), s.add(g.Segment), s.add(g.Currency)
	cg.coupon, cg.reason = s.add(g.Coupon), s.add(g.Reason)
	cg.amount, cg.at, cg.expires_at = C.int64_t(g.Amount), millis(g.At), millis(g.ExpiresAt)
	if g.Members != nil {
		// A C array of C strings: cgo passes no Go memory holding Go pointers.
		size := C.size_t(len(g.Members)+1) * C.size_t(unsafe.Sizeof((*C.char)(nil)))
		array := unsafe.Slice((**C.char)(C.malloc(size)), len(g.Members)+1)
		defer C.free(unsafe.Pointer(&array[0]))
		array[len(g.Members)] = nil
		for i, member := range g.Members {
			array[i] = C.CString(member)
			s = append(s, array[i])
		}
		cg.members, cg.member_count = &array[0], C.size_t(len(g.Members))
	}
	handle := cgo.NewHandle(&g)
	defer handle.Delete()
	C.loyal_go_grant_callbacks(&cg, C.uintptr_t(handle), boolInt(g.Progress != nil),
		boolInt(g.Refused != nil))
	var report GrantReport
	err := db.jsonCall(&report, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_grant_run(c, &cg, out)
	})
	return report, err
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
