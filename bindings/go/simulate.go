// simulate.go - forecasts: a program run over a synthetic population under a fake clock, by
// month.

package loyal

/*
#include <loyal.h>
#include <stdlib.h>
int goLoyalSimulationProgress(uintptr_t handle, int64_t done, int64_t total);
static int loyal_go_simulation_progress(void *ctx, int64_t done, int64_t total)
{
	return goLoyalSimulationProgress((uintptr_t)ctx, done, total);
}
static void loyal_go_simulation_callback(loyal_simulation *s, uintptr_t handle)
{
	s->progress = loyal_go_simulation_progress;
	s->ctx = (void *)handle;
}
*/
import "C"

import (
	"runtime/cgo"
	"time"
)

// Simulation is what to simulate: Program (a JSON document) over Members synthetic members for
// Days days from Start (the zero Time: 2026-01-01T00:00:00Z), their behaviour drawn from Seed
// after Profile ("community" or "shop"; "": "community"). The model is documented in the C
// header loyal/simulate.h. Progress, if set, is called after each simulated day with the days
// done and their total; returning false stops the simulation (ErrInterrupted). It runs on the
// calling goroutine, inside the call: it must not call the DB.
type Simulation struct {
	Program  string
	Members  int64
	Days     int64
	Seed     uint64
	Profile  string
	Start    time.Time
	Progress func(done, total int64) bool
}

// SimulationReport is what Simulate reports: the run's settings, its totals and each month.
type SimulationReport struct {
	Profile string           `json:"profile"`
	Members int64            `json:"members"`
	Days    int64            `json:"days"`
	Seed    int64            `json:"seed"`
	Start   time.Time        `json:"start"`
	End     time.Time        `json:"end"`
	Events  int64            `json:"events"`
	Spends  int64            `json:"spends"`
	Months  []SimulatedMonth `json:"months"`
}

// SimulatedMonth is a month of a simulation (Days of it simulated): members joined by its end,
// members active in it, events, each currency's flows, and the tier sizes at its end.
type SimulatedMonth struct {
	Month      time.Time           `json:"month"`
	Days       int64               `json:"days"`
	Members    int64               `json:"members"`
	Active     int64               `json:"active"`
	Events     int64               `json:"events"`
	Currencies []SimulatedCurrency `json:"currencies"`
	Tiers      map[string]int64    `json:"tiers"`
}

// SimulatedCurrency is a currency's month: points issued, redeemed and expired, breakage
// (expired / issued; nil when nothing was issued) and the liability at the month's end.
type SimulatedCurrency struct {
	Currency  string   `json:"currency"`
	Issued    int64    `json:"issued"`
	Redeemed  int64    `json:"redeemed"`
	Expired   int64    `json:"expired"`
	Breakage  *float64 `json:"breakage"`
	Liability int64    `json:"liability"`
}

//export goLoyalSimulationProgress
func goLoyalSimulationProgress(handle C.uintptr_t, done, total C.int64_t) C.int {
	if s := cgo.Handle(handle).Value().(*Simulation); !s.Progress(int64(done), int64(total)) {
		return 1
	}
	return 0
}

// Simulate runs s on db, which must be a new, empty database: it keeps the simulated members,
// for any read after. The same Seed gives the same report. Errors: ErrInvalid (a bad field),
// ErrState (a database with a program or members), ErrJSON and ErrSyntax (the program),
// ErrInterrupted (Progress returned false), and the storage errors.
func (db *DB) Simulate(s Simulation) (SimulationReport, error) {
	var strings cstrings
	defer strings.free()
	var cs C.loyal_simulation
	C.loyal_simulation_init(&cs, C.LOYAL_SIMULATION_VERSION)
	cs.program = strings.add(s.Program)
	if s.Profile != "" {
		cs.profile = strings.add(s.Profile)
	}
	cs.members, cs.days, cs.seed = C.int64_t(s.Members), C.int64_t(s.Days), C.uint64_t(s.Seed)
	cs.start = millis(s.Start)
	if s.Progress != nil {
		handle := cgo.NewHandle(&s)
		defer handle.Delete()
		C.loyal_go_simulation_callback(&cs, C.uintptr_t(handle))
	}
	var report SimulationReport
	err := db.jsonCall(&report, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_simulate(c, &cs, out)
	})
	return report, err
}
