// outbox.go - the outbox: what happened to members, in commit order, for named consumers.

package loyal

/*
#include <loyal.h>
*/
import "C"

import (
	"iter"
	"time"
)

// Outbox streams the happenings after the consumer's acknowledged position, oldest first (at
// most limit; 0: all). Reading again before OutboxAck yields the same rows.
func (db *DB) Outbox(consumer string, limit int64) iter.Seq2[Happening, error] {
	rows := rowsOf[Happening](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_outbox_read(c, s.add(consumer), C.int64_t(limit), out)
	})
	return func(yield func(Happening, error) bool) {
		for happening, err := range rows {
			for key, value := range happening.Body {
				if ms, whole := value.(int64); whole && isTimeKey(key) {
					happening.Body[key] = fromMilliseconds(ms)
				}
			}
			if !yield(happening, err) {
				return
			}
		}
	}
}

// OutboxAck acknowledges every happening up to position for the consumer; an older position
// changes nothing, one past the newest happening is ErrInvalid.
func (db *DB) OutboxAck(consumer string, position int64) error {
	var s cstrings
	defer s.free()
	cconsumer := s.add(consumer)
	return db.call(func(c *C.loyal_db) C.int {
		return C.loyal_outbox_ack(c, cconsumer, C.int64_t(position))
	})
}

// OutboxForget forgets a consumer; it reports whether the consumer was recorded.
func (db *DB) OutboxForget(consumer string) (bool, error) {
	var s cstrings
	defer s.free()
	cconsumer := s.add(consumer)
	var found C.int
	err := db.call(func(c *C.loyal_db) C.int {
		return C.loyal_outbox_forget(c, cconsumer, &found)
	})
	return found != 0, err
}

// NoticeSweep announces points about to expire and tiers at risk as of at (zero: now), each
// once, and reports how many notices it wrote.
func (db *DB) NoticeSweep(at time.Time) (int64, error) {
	var count C.int64_t
	err := db.call(func(c *C.loyal_db) C.int {
		return C.loyal_notice_sweep(c, millis(at), &count)
	})
	return int64(count), err
}

// PointsExpiring streams who has active points expiring in [from, to): {"member", "currency",
// "amount", "expires_at"} per member, currency (empty: every one) and day, in the order members
// joined; after (empty: from the first) resumes after a member.
func (db *DB) PointsExpiring(currency string, from, to time.Time, after string) iter.Seq2[PointsExpiring, error] {
	return rowsOf[PointsExpiring](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_points_expiring(c, s.add(currency), millis(from), millis(to),
			s.add(after), out)
	})
}

// TierReviews streams the members whose tier review falls in [from, to): {"member", "tier",
// "review_at", "grace_until"}; after resumes as for PointsExpiring.
func (db *DB) TierReviews(from, to time.Time, after string) iter.Seq2[TierReview, error] {
	return rowsOf[TierReview](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_tier_reviews(c, millis(from), millis(to), s.add(after), out)
	})
}

// OutboxConsumers returns the newest position and each consumer's position and lag.
func (db *DB) OutboxConsumers() (OutboxConsumers, error) {
	var result OutboxConsumers
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_outbox_consumers(c, out)
	})
	return result, err
}
