// Package loyal embeds the loyal loyalty engine (a points ledger, earning rules and criteria
// over one SQLite file) through its C library.
//
// A DB is safe for concurrent use by many goroutines: each call takes the handle's mutex, so
// calls on one DB run one at a time (open several DBs on one file for parallel writers).
// Inputs are copied by the library; results are Go values.
package loyal

/*
#cgo pkg-config: loyal
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
	"encoding/json"
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
}

// DB is an open loyal database.
type DB struct {
	mu    sync.Mutex
	c     *C.loyal_db
	clock cgo.Handle
}

// Open opens (or creates) the database at path.
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
	db := &DB{}
	if opts.Clock != nil {
		db.clock = cgo.NewHandle(opts.Clock)
		C.loyal_go_set_clock(&options, C.uintptr_t(db.clock))
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	rc := C.loyal_open(cpath, &options, &db.c)
	if rc != C.LOYAL_OK {
		var message string
		if db.c != nil {
			message = C.GoString(C.loyal_errmsg(db.c))
		}
		C.loyal_close(db.c)
		if db.clock != 0 {
			db.clock.Delete()
		}
		return nil, newError(rc, message)
	}
	runtime.SetFinalizer(db, func(db *DB) { db.Close() }) // a leak net; call Close
	return db, nil
}

// Close closes the database; later calls return ErrMisuse. Closing twice is fine.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.c == nil {
		return nil
	}
	rc := C.loyal_close(db.c)
	db.c = nil
	if db.clock != 0 {
		db.clock.Delete()
		db.clock = 0
	}
	if rc != C.LOYAL_OK {
		return newError(rc, "closing the database")
	}
	return nil
}

var errClosed = &Error{Code: int(C.LOYAL_EMISUSE), Name: "LOYAL_EMISUSE",
	Message: "the database is closed"}

// call runs f with the handle under the mutex and maps its result code.
func (db *DB) call(f func(*C.loyal_db) C.int) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.c == nil {
		return errClosed
	}
	rc := f(db.c)
	runtime.KeepAlive(db)
	if rc != C.LOYAL_OK {
		return newError(rc, C.GoString(C.loyal_errmsg(db.c)))
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
	return json.Unmarshal([]byte(C.GoString(out)), result)
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
// it returns an error (which Batch returns). fn must make its calls on db itself.
func (db *DB) Batch(fn func() error) error {
	if err := db.call(func(c *C.loyal_db) C.int { return C.loyal_batch_begin(c) }); err != nil {
		return err
	}
	if err := fn(); err != nil {
		db.call(func(c *C.loyal_db) C.int { return C.loyal_batch_rollback(c) })
		return err
	}
	return db.call(func(c *C.loyal_db) C.int { return C.loyal_batch_commit(c) })
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
func (db *DB) Program() (map[string]any, error) {
	var result map[string]any
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_program_get(c, out)
	})
	return result, err
}

// Member returns the member's record.
func (db *DB) Member(member string) (map[string]any, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var result map[string]any
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_member_get(c, cmember, out)
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

func (db *DB) Unblock(member string) error {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	return db.call(func(c *C.loyal_db) C.int { return C.loyal_member_unblock(c, cmember) })
}
