// coupons.go - coupons: codes imported or generated, issued, checked, reserved and used.

package loyal

/*
#include <loyal.h>
*/
import "C"

import (
	"iter"
	"strings"
	"time"
)

// ImportCouponCodes adds codes to the pool of a coupon whose codes come from a pool; it returns
// how many were added and how many were known already. All or nothing.
func (db *DB) ImportCouponCodes(coupon string, codes []string) (added, duplicates int64, err error) {
	var s cstrings
	defer s.free()
	ccoupon, ccodes := s.add(coupon), s.add(strings.Join(codes, "\n"))
	var cadded, cduplicates C.int64_t
	err = db.call(func(c *C.loyal_db) C.int {
		return C.loyal_coupon_import(c, ccoupon, ccodes, &cadded, &cduplicates)
	})
	return int64(cadded), int64(cduplicates), err
}

// couponCall runs one of the coupon calls that hand back a code.
func (db *DB) couponCall(f func(c *C.loyal_db, s *cstrings, out **C.char) C.int) (Coupon, error) {
	var s cstrings
	defer s.free()
	var result Coupon
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int { return f(c, &s, out) })
	return result, err
}

// IssueCoupon issues a code of the coupon to the member (ErrSoldOut: its pool is empty).
func (db *DB) IssueCoupon(member, coupon, key string) (Coupon, error) {
	return db.couponCall(func(c *C.loyal_db, s *cstrings, out **C.char) C.int {
		return C.loyal_coupon_issue(c, s.add(member), s.add(coupon), s.add(key), out)
	})
}

// CheckCoupon says whether the member can use the code at at (zero: now), and if not why.
func (db *DB) CheckCoupon(member, code string, at time.Time) (CouponCheck, error) {
	var wire struct {
		Coupon
		Valid bool   `json:"valid"`
		Why   string `json:"why"`
	}
	var s cstrings
	defer s.free()
	cmember, ccode := s.add(member), s.add(code)
	err := db.jsonCall(&wire, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_coupon_check(c, cmember, ccode, millis(at), out)
	})
	check := CouponCheck{Code: code, Valid: wire.Valid, Why: wire.Why}
	if wire.Code != "" {
		check.Code = wire.Code
	}
	if wire.ID != 0 {
		issued := wire.Coupon
		check.Issued = &issued
	}
	return check, err
}

// ReserveCoupon sets one use of the code aside for a checkout ("reservation" names it).
func (db *DB) ReserveCoupon(member, code, key string) (Coupon, error) {
	return db.couponCall(func(c *C.loyal_db, s *cstrings, out **C.char) C.int {
		return C.loyal_coupon_reserve(c, s.add(member), s.add(code), s.add(key), out)
	})
}

// ReleaseCoupon gives a reservation's use back to its code.
func (db *DB) ReleaseCoupon(member string, reservation int64, key string) (Coupon, error) {
	return db.couponCall(func(c *C.loyal_db, s *cstrings, out **C.char) C.int {
		return C.loyal_coupon_release(c, s.add(member), C.int64_t(reservation), s.add(key), out)
	})
}

// UseCoupon uses the code once: the use a reservation set aside, or (0) one left.
func (db *DB) UseCoupon(member, code string, reservation int64, key string) (Coupon, error) {
	return db.couponCall(func(c *C.loyal_db, s *cstrings, out **C.char) C.int {
		return C.loyal_coupon_use(c, s.add(member), s.add(code), C.int64_t(reservation),
			s.add(key), out)
	})
}

// Coupons streams the member's codes, newest first, before an id (0: all).
func (db *DB) Coupons(member string, before int64) iter.Seq2[Coupon, error] {
	return rowsOf[Coupon](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_coupon_list(c, s.add(member), C.int64_t(before), out)
	})
}
