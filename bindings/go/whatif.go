// whatif.go - what-if replay: what a candidate program would have done over the stored
// events, side by side with the live program.

package loyal

/*
#include <loyal.h>
#include <stdlib.h>
int goLoyalWhatIfProgress(uintptr_t handle, int64_t done, int64_t total);
int goLoyalWhatIfDifference(uintptr_t handle, char *json);
static int loyal_go_whatif_progress(void *ctx, int64_t done, int64_t total)
{
	return goLoyalWhatIfProgress((uintptr_t)ctx, done, total);
}
static int loyal_go_whatif_difference(void *ctx, const char *json)
{
	return goLoyalWhatIfDifference((uintptr_t)ctx, (char *)json);
}
static void loyal_go_whatif_callbacks(loyal_whatif_request *w, uintptr_t handle, int progress,
				      int difference)
{
	w->progress = progress ? loyal_go_whatif_progress : NULL;
	w->difference = difference ? loyal_go_whatif_difference : NULL;
	w->ctx = (void *)handle;
}
*/
import "C"

import (
	"runtime/cgo"
	"time"
)

// WhatIf is a replay to run: the stored events tracked again through Program (a candidate
// JSON document) and through the live program on scratch databases (in Scratch, "": the
// temporary folder; the DB is only read), the candidate taking over at From, and the period
// [From, To) reported (To zero: now) with the Limit members (0: 10) whose earnings or tier
// differ most. The C header loyal/whatif.h says what is replayed. Progress, if set, is called
// after each page of events; Difference, if set, for every member who differs; either
// returning false stops the replay (ErrInterrupted). They run on the calling goroutine, inside
// the call: they must not call the DB.
type WhatIf struct {
	Program    string
	From, To   time.Time
	Limit      int64
	Scratch    string
	Progress   func(done, total int64) bool
	Difference func(MemberDifference) bool
}

// WhatIfReport is what DB.WhatIf reports: the period, the events replayed (and those in the
// period), each side, and the members who differ.
type WhatIfReport struct {
	From         time.Time     `json:"from"`
	To           time.Time     `json:"to"`
	Events       int64         `json:"events"`
	PeriodEvents int64         `json:"period_events"`
	Live         WhatIfSide    `json:"live"`
	Candidate    WhatIfSide    `json:"candidate"`
	Members      WhatIfMembers `json:"members"`
}

// WhatIfSide is what one program made of the events in the period: awards per rule, each
// currency's flows and liability at the end, tier sizes at the end and the moves events and
// reviews made, badges awarded, segment sizes, and the events its program refused.
type WhatIfSide struct {
	Rules      []RuleAwards        `json:"rules"`
	Currencies []SimulatedCurrency `json:"currencies"`
	Tiers      map[string]int64    `json:"tiers"`
	TierMoves  int64               `json:"tier_moves"`
	Badges     map[string]int64    `json:"badges"`
	Segments   map[string]int64    `json:"segments"`
	Refused    int64               `json:"refused"`
}

// RuleAwards is what an earning rule awarded in a currency over the period.
type RuleAwards struct {
	Rule     string `json:"rule"`
	Currency string `json:"currency"`
	Points   int64  `json:"points"`
	Awards   int64  `json:"awards"`
}

// WhatIfMembers counts the members compared and those who differ, the biggest first.
type WhatIfMembers struct {
	Compared  int64              `json:"compared"`
	Differing int64              `json:"differing"`
	Biggest   []MemberDifference `json:"biggest"`
}

// MemberDifference is a member whose lifetime points earned (in the currencies that differ)
// or tier at the end differ between the sides.
type MemberDifference struct {
	Member     string               `json:"member"`
	Currencies []CurrencyDifference `json:"currencies"`
	Tier       TierDifference       `json:"tier"`
}

// CurrencyDifference is a member's points earned on each side, and Candidate - Live.
type CurrencyDifference struct {
	Currency   string `json:"currency"`
	Live       int64  `json:"live"`
	Candidate  int64  `json:"candidate"`
	Difference int64  `json:"difference"`
}

// TierDifference is a member's tier on each side (nil: none).
type TierDifference struct {
	Live      *string `json:"live"`
	Candidate *string `json:"candidate"`
}

//export goLoyalWhatIfProgress
func goLoyalWhatIfProgress(handle C.uintptr_t, done, total C.int64_t) C.int {
	if w := cgo.Handle(handle).Value().(*WhatIf); !w.Progress(int64(done), int64(total)) {
		return 1
	}
	return 0
}

//export goLoyalWhatIfDifference
func goLoyalWhatIfDifference(handle C.uintptr_t, text *C.char) C.int {
	var row MemberDifference
	w := cgo.Handle(handle).Value().(*WhatIf)
	if decode([]byte(C.GoString(text)), &row) != nil || !w.Difference(row) {
		return 1
	}
	return 0
}

// WhatIf runs the replay w. Errors: ErrInvalid (a bad field, From not before To, To after
// the clock), ErrState (no live program), ErrJSON (the candidate, its message starting "the
// candidate program: "), ErrInterrupted (a callback returned false), and the storage errors
// (ErrIO: the scratch folder cannot be written).
func (db *DB) WhatIf(w WhatIf) (WhatIfReport, error) {
	var strings cstrings
	defer strings.free()
	var cw C.loyal_whatif_request
	C.loyal_whatif_request_init(&cw, C.LOYAL_WHATIF_REQUEST_VERSION)
	cw.program = strings.add(w.Program)
	if w.Scratch != "" {
		cw.scratch = strings.add(w.Scratch)
	}
	cw.from, cw.to, cw.limit = millis(w.From), millis(w.To), C.int64_t(w.Limit)
	if w.Progress != nil || w.Difference != nil {
		handle := cgo.NewHandle(&w)
		defer handle.Delete()
		C.loyal_go_whatif_callbacks(&cw, C.uintptr_t(handle), boolInt(w.Progress != nil),
			boolInt(w.Difference != nil))
	}
	var report WhatIfReport
	err := db.jsonCall(&report, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_whatif(c, &cw, out)
	})
	return report, err
}
