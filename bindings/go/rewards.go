// rewards.go - the rewards catalog and redemptions.

package loyal

/*
#include <loyal.h>
*/
import "C"

import (
	"iter"
	"time"
)

// Rewards lists every reward of the program as the member sees it at at (zero: now): their
// price, "available", and "why" not ("not_active", "not_eligible", "out_of_stock",
// "limit_reached", "not_enough_points" with "missing" points).
func (db *DB) Rewards(member string, at time.Time) ([]RewardOffer, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var result []RewardOffer
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_reward_list(c, cmember, millis(at), out)
	})
	return result, err
}

// Redeem asks for Quantity units (0: one) of Reward for Member, under Key.
type Redeem struct {
	Member, Reward, Key string
	Quantity            int64
	At                  time.Time
}

// Redeem redeems a reward and returns the redemption ("fulfilled", or "pending" for a
// two-phase reward). Refusals (ErrNotEligible, ErrLimit, ErrSoldOut, ErrInsufficient,
// ErrBlocked) stay under the key.
func (db *DB) Redeem(r Redeem) (Redemption, error) {
	var s cstrings
	defer s.free()
	var cr C.loyal_redeem
	cr.version = C.LOYAL_REDEEM_VERSION
	cr.member, cr.reward, cr.idempotency_key = s.add(r.Member), s.add(r.Reward), s.add(r.Key)
	cr.quantity, cr.at = C.int64_t(r.Quantity), millis(r.At)
	var result Redemption
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_reward_redeem(c, &cr, out)
	})
	return result, err
}

func (db *DB) settle(member string, redemption int64, key string, fulfil bool) (Redemption, error) {
	var s cstrings
	defer s.free()
	cmember, ckey := s.add(member), s.add(key)
	var result Redemption
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		if fulfil {
			return C.loyal_redemption_fulfil(c, cmember, C.int64_t(redemption), ckey, out)
		}
		return C.loyal_redemption_cancel(c, cmember, C.int64_t(redemption), ckey, out)
	})
	return result, err
}

// Fulfil spends a pending redemption's held points (ErrState when it is not pending).
func (db *DB) Fulfil(member string, redemption int64, key string) (Redemption, error) {
	return db.settle(member, redemption, key, true)
}

// CancelRedemption returns a redemption's points (with their expiry) and its units.
func (db *DB) CancelRedemption(member string, redemption int64, key string) (Redemption, error) {
	return db.settle(member, redemption, key, false)
}

// Redemption returns one of the member's redemptions.
func (db *DB) Redemption(member string, redemption int64) (Redemption, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var result Redemption
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_redemption_get(c, cmember, C.int64_t(redemption), out)
	})
	return result, err
}

// Redemptions streams the member's redemptions, newest first, before an id (0: all).
func (db *DB) Redemptions(member string, before int64) iter.Seq2[Redemption, error] {
	return rowsOf[Redemption](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_redemption_list(c, s.add(member), C.int64_t(before), out)
	})
}

// PendingRedemptions streams the redemptions awaiting fulfilment, oldest first, after an id.
func (db *DB) PendingRedemptions(after int64) iter.Seq2[Redemption, error] {
	return rowsOf[Redemption](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		return C.loyal_redemption_pending(c, C.int64_t(after), out)
	})
}
