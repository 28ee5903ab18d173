// Package loyal embeds loyal, a loyalty engine (a double-entry points ledger, earning rules
// over member events, tiers, badges, segments, rewards, coupons, an outbox), through its C
// library. State lives in one SQLite file or in a PostgreSQL database.
//
// Results are Go structs: times are time.Time in UTC (the zero time where there is none, such
// as no expiry), durations time.Duration, amounts int64. Streams (Statement, Members,
// Outbox, ...) are iter.Seq2 values over a cursor that reads one row at a time; stopping the
// loop early releases it. Errors are *Error values that match the Err* sentinels with
// errors.Is.
//
// A DB is safe for concurrent use by many goroutines: each call takes the handle's mutex, so
// calls on one DB run one at a time (open several DBs on one database for parallel writers).
// A Batch holds the mutex from its start to its end: calls from other goroutines wait for it.
// Inputs are copied by the library. DB.WithContext binds calls to a context: a call waiting
// for another writer (up to Options.BusyTimeout) or running a long statement stops when the
// context is done.
package loyal

/*
#include <stdint.h>
#include <stdlib.h>
#include <loyal.h>

#if LOYAL_VERSION_MAJOR != 0
#error "this package needs libloyal 0.x"
#endif

int64_t goLoyalClock(uintptr_t handle);
static int64_t loyal_go_clock(void *ctx) { return goLoyalClock((uintptr_t)ctx); }
static void loyal_go_set_clock(loyal_open_options *options, uintptr_t handle)
{
	options->clock = loyal_go_clock;
	options->clock_ctx = (void *)handle;
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Version is the linked library's version, such as "0.1.0".
func Version() string { return C.GoString(C.loyal_version()) }

// Options for Open. The zero value creates the file if missing and uses the system clock.
type Options struct {
	NoCreate    bool
	ReadOnly    bool
	BusyTimeout time.Duration    // how long a write waits for other writers; 0: 5 s
	Clock       func() time.Time // nil: the system clock
	// Postgres: path is a libpq connection string (a URI or key=value pairs such as
	// "host=db dbname=loyalty"). Without it a postgresql:// or postgres:// URI is PostgreSQL
	// and anything else a SQLite file's path.
	Postgres bool
}

// DB is an open loyal database, or (inside Batch) the view of one that the batch's function
// calls through.
type DB struct {
	h *handle
	// batch is set on the view Batch passes to its function: that goroutine already holds
	// h.mu, so its calls do not take it again. Cleared when the batch ends.
	batch bool
	// ctx, set on a view made by WithContext, bounds each call (nil: none).
	ctx context.Context
}

// WithContext returns a view of db whose calls are bound to ctx, sharing db's handle: a call
// made when ctx is done returns ctx.Err() and does nothing; a call running when ctx ends
// (waiting for another writer's lock, on another DB or process, or running a long statement)
// is interrupted and returns an error that matches both ctx.Err() and ErrInterrupted with
// errors.Is, having written nothing (a call that commits in parts, such as Grant or
// RefreshSegments, keeps the parts committed before; calling it again completes it). A call
// that had completed when ctx ended returns its result. Waiting for db's own mutex (a call or
// a Batch in another goroutine) is not bounded by ctx. A Batch on the view runs its calls
// under ctx too.
func (db *DB) WithContext(ctx context.Context) *DB {
	if ctx == nil {
		panic("loyal: WithContext: nil context")
	}
	view := *db
	view.ctx = ctx
	return &view
}

// handle is the C handle and what guards it, shared by a DB and its batch views.
type handle struct {
	mu    sync.Mutex
	c     *C.loyal_db
	clock cgo.Handle
}

// Open opens (or creates) the database at path: a SQLite file, or a PostgreSQL database by
// its postgresql:// URI (see Options.Postgres).
func Open(path string, opts *Options) (*DB, error) {
	if opts == nil {
		opts = &Options{}
	}
	var options C.loyal_open_options
	C.loyal_open_options_init(&options, C.LOYAL_OPEN_OPTIONS_VERSION)
	options.flags = 0
	if opts.ReadOnly {
		options.flags |= C.LOYAL_OPEN_READONLY
	} else if !opts.NoCreate {
		options.flags |= C.LOYAL_OPEN_CREATE
	}
	options.busy_timeout_ms = C.int(opts.BusyTimeout.Milliseconds())
	if opts.Postgres {
		options.backend = C.LOYAL_BACKEND_POSTGRES
	}
	h := &handle{}
	if opts.Clock != nil {
		h.clock = cgo.NewHandle(opts.Clock)
		C.loyal_go_set_clock(&options, C.uintptr_t(h.clock))
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	rc := C.loyal_open(cpath, &options, &h.c)
	if rc != C.LOYAL_OK {
		var message string
		if h.c != nil {
			message = C.GoString(C.loyal_errmsg(h.c))
		}
		C.loyal_close(h.c)
		if h.clock != 0 {
			h.clock.Delete()
		}
		return nil, newError(rc, message)
	}
	db := &DB{h: h}
	runtime.SetFinalizer(db, func(db *DB) { db.Close() }) // a leak net; call Close
	return db, nil
}

// Close closes the database; later calls return ErrMisuse. Closing twice is fine. It waits for
// a batch open in another goroutine to end; inside a batch's function it returns ErrMisuse.
func (db *DB) Close() error {
	if db.batch && db.h == nil {
		return errBatchEnded
	}
	if db.batch {
		return errCloseInBatch
	}
	h := db.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c == nil {
		return nil
	}
	rc := C.loyal_close(h.c)
	h.c = nil
	if h.clock != 0 {
		h.clock.Delete()
		h.clock = 0
	}
	if rc != C.LOYAL_OK {
		return newError(rc, "closing the database")
	}
	return nil
}

func misuse(message string) *Error {
	return &Error{Code: int(C.LOYAL_EMISUSE), Name: "LOYAL_EMISUSE", Message: message}
}

var (
	errClosed       = misuse("the database is closed")
	errBatchEnded   = misuse("the batch has ended: make calls on the DB, not on the batch's view")
	errCloseInBatch = misuse("a batch is open: end it before closing the database")
)

// call runs f with the handle under the mutex (already held by a batch's own view) and maps
// its result code.
func (db *DB) call(f func(*C.loyal_db) C.int) error {
	h := db.h
	if h == nil {
		return errBatchEnded
	}
	if !db.batch {
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	if db.ctx == nil || db.ctx.Done() == nil {
		return h.run(f)
	}
	return h.runWithin(db.ctx, f)
}

// runWithin runs f under ctx: a goroutine interrupts the handle if ctx ends while f runs, and
// is waited for before returning, so that it never interrupts a later call or a closed handle.
func (h *handle) runWithin(ctx context.Context, f func(*C.loyal_db) C.int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.c == nil {
		return errClosed
	}
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			C.loyal_interrupt(h.c)
		case <-stop:
		}
	}()
	err := h.run(f)
	close(stop)
	<-watched
	if errors.Is(err, ErrInterrupted) && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// run calls f on the open handle and maps its result code; the caller holds h.mu.
func (h *handle) run(f func(*C.loyal_db) C.int) error {
	if h.c == nil {
		return errClosed
	}
	rc := f(h.c)
	runtime.KeepAlive(h)
	if rc != C.LOYAL_OK {
		return &Error{Code: int(rc), Name: C.GoString(C.loyal_errstr(rc)),
			Message: C.GoString(C.loyal_errmsg(h.c)), Replayed: C.loyal_errreplayed(h.c) != 0}
	}
	return nil
}

// jsonCall runs f, which returns JSON text through **out, and decodes it into result.
func (db *DB) jsonCall(result any, f func(*C.loyal_db, **C.char) C.int) error {
	var out *C.char
	err := db.call(func(c *C.loyal_db) C.int { return f(c, &out) })
	if err != nil {
		return err
	}
	defer C.loyal_free(unsafe.Pointer(out))
	return decode([]byte(C.GoString(out)), result)
}

// cstrings allocates C copies of strings ("" becomes NULL) and frees them all at once.
type cstrings []*C.char

func (s *cstrings) add(text string) *C.char {
	if text == "" {
		return nil
	}
	p := C.CString(text)
	*s = append(*s, p)
	return p
}

func (s cstrings) free() {
	for _, p := range s {
		C.free(unsafe.Pointer(p))
	}
}

func millis(t time.Time) C.int64_t {
	if t.IsZero() {
		return 0
	}
	return C.int64_t(t.UnixMilli())
}

func document(value any) (string, error) {
	switch v := value.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	encoded, err := json.Marshal(value)
	return string(encoded), err
}

// Clock reads the handle's clock (the system's, or Options.Clock).
func (db *DB) Clock() (time.Time, error) {
	var now C.int64_t
	err := db.call(func(c *C.loyal_db) C.int { return C.loyal_now(c, &now) })
	return time.UnixMilli(int64(now)).UTC(), err
}

// Verify checks the file and every invariant; a violation is ErrCorrupt naming it.
func (db *DB) Verify() error {
	return db.call(func(c *C.loyal_db) C.int { return C.loyal_verify(c) })
}

// Batch runs fn inside one database transaction: committed if fn returns nil, rolled back if
// it returns an error or panics. fn makes its calls on tx, a view of db valid until fn returns
// (later calls on it return ErrMisuse). The batch owns the handle for its whole extent: calls
// on db from other goroutines wait until it ends, so none runs inside (or is rolled back with)
// this batch; a call on db itself from inside fn would wait forever, so use tx.
//
// A refused call inside (ErrInsufficient, ErrConflict...) undoes only itself; one that fails in
// storage (ErrIO, ErrNoMemory, ErrInterrupted) may roll the whole batch back, and the calls
// after it then return ErrState.
//
// Batch returns fn's error, or the commit's (a failed commit rolls the whole batch back). Where
// the rollback fails too, the error joins both (errors.Is matches either). A panic in fn is
// re-raised after the rollback, leaving db usable.
func (db *DB) Batch(fn func(tx *DB) error) (err error) {
	if db.batch {
		return misuse("a batch is already open on this handle")
	}
	h := db.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.run(func(c *C.loyal_db) C.int { return C.loyal_batch_begin(c) }); err != nil {
		return err
	}
	tx := &DB{h: h, batch: true, ctx: db.ctx}
	committed := false
	defer func() {
		tx.h = nil // later calls on the view fail as misuse
		runtime.KeepAlive(db)
		if committed {
			return
		}
		rollback := h.run(func(c *C.loyal_db) C.int { return C.loyal_batch_rollback(c) })
		if rollback != nil {
			err = errors.Join(err, rollback)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	committed = true // a failed commit has already rolled back and ended the batch
	return h.run(func(c *C.loyal_db) C.int { return C.loyal_batch_commit(c) })
}

// ---- the program and members ----

// ApplyProgram applies a program document (a string, []byte, or a value marshalled to JSON)
// and returns the version now current.
func (db *DB) ApplyProgram(program any) (int64, error) {
	text, err := document(program)
	if err != nil {
		return 0, err
	}
	var s cstrings
	defer s.free()
	ctext := s.add(text)
	var version C.int64_t
	err = db.call(func(c *C.loyal_db) C.int { return C.loyal_program_apply(c, ctext, &version) })
	return int64(version), err
}

// Program returns {"version": n, "program": {...}}.
func (db *DB) Program() (Program, error) {
	var result Program
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_program_get(c, out)
	})
	return result, err
}

// Member returns the member's record.
func (db *DB) Member(member string) (Member, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var result Member
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_member_get(c, cmember, out)
	})
	return result, err
}

// MemberAsOf returns the member as they stood at the past instant at, rebuilt from the ledger
// and the tier and badge histories: every transaction dated by then, with what had fallen due
// by then settled as a balance read settles it (the zero Time: now). ErrInvalid for a time
// after the clock, ErrNotFound for an unknown member or one who had not joined by then.
func (db *DB) MemberAsOf(member string, at time.Time) (MemberAsOf, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var result MemberAsOf
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_member_as_of(c, cmember, millis(at), out)
	})
	return result, err
}

// SetAttributes merges attributes into the member's (a nil value removes the key).
func (db *DB) SetAttributes(member string, attributes map[string]any) error {
	text, err := document(attributes)
	if err != nil {
		return err
	}
	var s cstrings
	defer s.free()
	cmember, ctext := s.add(member), s.add(text)
	return db.call(func(c *C.loyal_db) C.int { return C.loyal_member_set_attrs(c, cmember, ctext) })
}

// Block stops a member from earning and spending; Unblock lets them again.
func (db *DB) Block(member string) error {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	return db.call(func(c *C.loyal_db) C.int { return C.loyal_member_block(c, cmember) })
}

// Unblock lets a blocked member earn and spend again.
func (db *DB) Unblock(member string) error {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	return db.call(func(c *C.loyal_db) C.int { return C.loyal_member_unblock(c, cmember) })
}
