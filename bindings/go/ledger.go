// ledger.go - the points ledger: postings, balances, statements and explanations.

package loyal

/*
#include <loyal.h>

typedef int (*loyal_go_post_fn)(loyal_db *, const loyal_posting *, loyal_result *);
static int loyal_go_post(loyal_go_post_fn f, loyal_db *db, const loyal_posting *posting,
			 loyal_result *result)
{
	return f(db, posting, result);
}
*/
import "C"

import (
	"iter"
	"time"
)

// Posting is what a ledger call asks for; each call reads the fields its C counterpart
// documents (loyal/ledger.h) and needs the others left zero. Every writing call may also
// return ErrInvalid (the message names the field), ErrNotFound, ErrConflict, ErrBlocked,
// ErrReadOnly, ErrBusy and ErrIO.
type Posting struct {
	Member, Currency string
	Amount           int64  // > 0; Adjust: signed; Capture and Reverse: 0 means all
	Key              string // the idempotency key
	Reason, Cause    string
	At               time.Time     // zero: the clock's now
	Pending          time.Duration // Credit: keep the points pending this long
	ExpiresAt        time.Time     // Credit: an explicit expiry
	ToMember         string        // Transfer
	Deadline         time.Time     // Hold
	Txn              int64         // Capture, Release, Reverse
	// DryRun: the call returns the Result it would give (its refusals alike) and writes
	// nothing.
	DryRun bool
}

// Result is what a ledger call did.
type Result struct {
	Txn      int64
	Amount   int64
	Replayed bool
	DryRun   bool // what the call would do; nothing was written
}

func (db *DB) post(p Posting, f C.loyal_go_post_fn) (Result, error) {
	var s cstrings
	defer s.free()
	var cp C.loyal_posting
	C.loyal_posting_init(&cp, C.LOYAL_POSTING_VERSION)
	cp.member, cp.currency = s.add(p.Member), s.add(p.Currency)
	cp.idempotency_key, cp.reason, cp.cause = s.add(p.Key), s.add(p.Reason), s.add(p.Cause)
	cp.to_member = s.add(p.ToMember)
	cp.amount = C.int64_t(p.Amount)
	cp.at, cp.expires_at, cp.deadline = millis(p.At), millis(p.ExpiresAt), millis(p.Deadline)
	cp.pending_ms = C.int64_t(p.Pending.Milliseconds())
	cp.txn = C.int64_t(p.Txn)
	if p.DryRun {
		cp.flags = C.LOYAL_DRY_RUN
	}
	var result C.loyal_result
	result.version = C.LOYAL_RESULT_VERSION
	err := db.call(func(c *C.loyal_db) C.int { return C.loyal_go_post(f, c, &cp, &result) })
	return Result{int64(result.txn), int64(result.amount), result.replayed != 0, p.DryRun}, err
}

// Credit credits Amount points (a new lot, expiring by the currency's rule or at ExpiresAt;
// pending for Pending first if set), creating the member if new. The same Key with the same
// request returns the first Result with Replayed set. Errors: ErrInvalid, ErrNotFound
// (currency), ErrConflict (key reused), ErrBlocked, ErrOverflow, ErrReadOnly, ErrBusy.
func (db *DB) Credit(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_credit))
}

// Debit spends Amount available points, soonest-expiring first. ErrInsufficient is sticky
// under the key: a retry returns it again with Error.Replayed set.
func (db *DB) Debit(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_debit))
}

// Adjust is an operator's signed correction; Reason is required.
func (db *DB) Adjust(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_adjust))
}

// Transfer moves Amount available points from Member to ToMember (created if new), keeping
// their expiry.
func (db *DB) Transfer(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_transfer))
}

// Hold sets Amount available points aside until captured, released, or Deadline;
// Result.Txn names the hold.
func (db *DB) Hold(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_hold))
}

// Capture spends Amount (0: all) of the hold Txn; the rest is released. ErrState: settled
// or past its deadline.
func (db *DB) Capture(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_capture))
}

// Release releases the hold Txn: its points return to their lots.
func (db *DB) Release(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_release))
}

// Reverse reverses Amount (0: all that is left) of the transaction Txn; Result.Amount says
// what moved.
func (db *DB) Reverse(p Posting) (Result, error) {
	return db.post(p, C.loyal_go_post_fn(C.loyal_ledger_reverse))
}

// Balance is a member's balance in one currency.
type Balance struct {
	Available, Pending, Held, Earned, Spent, Expired int64
	NextExpiryAt                                     time.Time // zero: nothing expires
	NextExpiryAmount                                 int64
}

func fromMillis(ms C.int64_t) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// Now, passed where a time is asked, means the handle's clock.
var Now time.Time

// Balance reads a balance as of at (Now: the handle's clock).
func (db *DB) Balance(member, currency string, at time.Time) (Balance, error) {
	var s cstrings
	defer s.free()
	cmember, ccurrency := s.add(member), s.add(currency)
	var out C.loyal_balance
	out.version = C.LOYAL_BALANCE_VERSION
	err := db.call(func(c *C.loyal_db) C.int {
		return C.loyal_ledger_balance(c, cmember, ccurrency, millis(at), &out)
	})
	return Balance{int64(out.available), int64(out.pending), int64(out.held), int64(out.earned),
		int64(out.spent), int64(out.expired), fromMillis(out.next_expiry_at),
		int64(out.next_expiry_amount)}, err
}

// Expiry is an amount that expires at a moment.
type Expiry struct {
	At     time.Time `json:"expires_at"`
	Amount int64     `json:"amount"`
}

// Expiring lists when the member's points expire, soonest first (at most limit items).
func (db *DB) Expiring(member, currency string, limit int) ([]Expiry, error) {
	var s cstrings
	defer s.free()
	cmember, ccurrency := s.add(member), s.add(currency)
	var expiries []Expiry
	err := db.jsonCall(&expiries, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_ledger_expiring(c, cmember, ccurrency, C.int(limit), out)
	})
	return expiries, err
}

// Statement streams the member's transactions, newest first; currency "" means all, before
// (a transaction id already seen) pages on. Stopping the loop early releases the cursor.
func (db *DB) Statement(member, currency string, before int64) iter.Seq2[StatementLine, error] {
	return rowsOf[StatementLine](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_ledger_statement(c, s.add(member), s.add(currency), C.int64_t(before),
			out)
	})
}

// rowsOf streams the rows of the cursor that open makes, each read into a T.
func rowsOf[T any](db *DB, open func(*C.loyal_db, **C.loyal_cursor) C.int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		var cursor *C.loyal_cursor
		if err := db.call(func(c *C.loyal_db) C.int { return open(c, &cursor) }); err != nil {
			yield(zero, err)
			return
		}
		defer C.loyal_cursor_free(cursor)
		for {
			var row *C.char
			err := db.call(func(*C.loyal_db) C.int { return C.loyal_cursor_next(cursor, &row) })
			if err != nil {
				yield(zero, err)
				return
			}
			if row == nil {
				return
			}
			var value T
			if err := decode([]byte(C.GoString(row)), &value); err != nil {
				yield(zero, err)
				return
			}
			if !yield(value, nil) {
				return
			}
		}
	}
}

// Transaction returns one transaction with its entries and lot moves.
func (db *DB) Transaction(txn int64) (Transaction, error) {
	var result Transaction
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_ledger_transaction(c, C.int64_t(txn), out)
	})
	return result, err
}

// Explain returns the lots behind a balance and what consumed each.
func (db *DB) Explain(member, currency string) (Explanation, error) {
	var s cstrings
	defer s.free()
	cmember, ccurrency := s.add(member), s.add(currency)
	var result Explanation
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_ledger_explain(c, cmember, ccurrency, out)
	})
	return result, err
}

// Expire settles every member as of at (zero: now); it returns how many balances changed.
func (db *DB) Expire(at time.Time) (int64, error) {
	var settled C.int64_t
	err := db.call(func(c *C.loyal_db) C.int { return C.loyal_expire(c, millis(at), &settled) })
	return int64(settled), err
}
