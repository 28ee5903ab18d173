// events.go - tracking events through the earning rules, and criteria.

package loyal

/*
#include <loyal.h>
*/
import "C"

import (
	"iter"
	"time"
)

// Event is what a member did. Properties are marshalled to a JSON object.
type Event struct {
	Member, Type, Key string
	At                time.Time
	Properties        map[string]any
	// DryRun: Track returns the outcome the event would have (Outcome.DryRun set) and
	// writes nothing (no member, counter or key): "what would this cart earn".
	DryRun bool
}

// Track records an event through the earning rules and returns the outcome (postings,
// skipped rules, and "replayed" when the key was seen before).
func (db *DB) Track(e Event) (Outcome, error) {
	var s cstrings
	defer s.free()
	var ce C.loyal_event
	ce.version = C.LOYAL_EVENT_VERSION
	ce.member, ce._type, ce.idempotency_key = s.add(e.Member), s.add(e.Type), s.add(e.Key)
	ce.at = millis(e.At)
	if e.DryRun {
		ce.flags = C.LOYAL_DRY_RUN
	}
	if e.Properties != nil {
		text, err := document(e.Properties)
		if err != nil {
			return Outcome{}, err
		}
		ce.properties = s.add(text)
	}
	var outcome Outcome
	err := db.jsonCall(&outcome, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_track(c, &ce, out)
	})
	return outcome, err
}

// EventReversal reverses Part/Whole of what an event awarded (0/0: all of it).
type EventReversal struct {
	Member, EventKey, Key, Reason string
	Part, Whole                   int64
	At                            time.Time
}

// ReverseEvent reverses an event's postings and returns the reversals made.
func (db *DB) ReverseEvent(r EventReversal) (ReversalOutcome, error) {
	var s cstrings
	defer s.free()
	var cr C.loyal_event_reversal
	cr.version = C.LOYAL_EVENT_REVERSAL_VERSION
	cr.member, cr.event_key = s.add(r.Member), s.add(r.EventKey)
	cr.idempotency_key, cr.reason = s.add(r.Key), s.add(r.Reason)
	cr.part, cr.whole, cr.at = C.int64_t(r.Part), C.int64_t(r.Whole), millis(r.At)
	var outcome ReversalOutcome
	err := db.jsonCall(&outcome, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_event_reverse(c, &cr, out)
	})
	return outcome, err
}

// Check compiles a criteria expression: {"type": ..., "measures": [...]}.
func (db *DB) Check(expression string) (CriteriaInfo, error) {
	var s cstrings
	defer s.free()
	cexpression := s.add(expression)
	var result CriteriaInfo
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_criteria_check(c, cexpression, out)
	})
	return result, err
}

// Evaluate returns the value of an expression for a member now (nil when missing), with
// event (may be nil) as the event: a bool, a string, an int64 for a whole number, a float64
// otherwise.
func (db *DB) Evaluate(expression, member string, event map[string]any) (any, error) {
	var s cstrings
	defer s.free()
	cexpression, cmember := s.add(expression), s.add(member)
	var cevent *C.char
	if event != nil {
		text, err := document(event)
		if err != nil {
			return nil, err
		}
		cevent = s.add(text)
	}
	var result struct {
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_criteria_eval(c, cexpression, cmember, cevent, out)
	})
	return result.Value, err
}

// Tier returns the member's tier, review dates, multiplier, perks and what the next tier needs.
func (db *DB) Tier(member string) (TierStatus, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var result TierStatus
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_tier_get(c, cmember, out)
	})
	return result, err
}

// TierHistory streams the member's tier changes, newest first.
func (db *DB) TierHistory(member string) iter.Seq2[TierHistoryEntry, error] {
	return rowsOf[TierHistoryEntry](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_tier_history(c, s.add(member), out)
	})
}

// AssignTier assigns the member a tier until until (zero: until released): no review drops them
// below it while it lasts.
func (db *DB) AssignTier(member, tier string, until time.Time, reason string) error {
	var s cstrings
	defer s.free()
	cmember, ctier, creason := s.add(member), s.add(tier), s.add(reason)
	return db.call(func(c *C.loyal_db) C.int {
		return C.loyal_tier_assign(c, cmember, ctier, millis(until), creason)
	})
}

// ReleaseTier ends the member's tier assignment: they hold the tier they qualify for now. It
// reports false when they had none.
func (db *DB) ReleaseTier(member, reason string) (bool, error) {
	var s cstrings
	defer s.free()
	cmember, creason := s.add(member), s.add(reason)
	var changed C.int
	err := db.call(func(c *C.loyal_db) C.int {
		return C.loyal_tier_release(c, cmember, creason, &changed)
	})
	return changed != 0, err
}

// TierSweep reviews every member due at at (Now: the clock's now); it returns the number of
// downgrades.
func (db *DB) TierSweep(at time.Time) (int64, error) {
	var changed C.int64_t
	err := db.call(func(c *C.loyal_db) C.int { return C.loyal_tier_sweep(c, millis(at), &changed) })
	return int64(changed), err
}

// SegmentsOf lists the segments the member is in now.
func (db *DB) SegmentsOf(member string) ([]string, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var names []string
	err := db.jsonCall(&names, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_segment_of(c, cmember, out)
	})
	return names, err
}

// SegmentMembers streams the ids of a segment's members now.
func (db *DB) SegmentMembers(segment string) iter.Seq2[string, error] {
	rows := rowsOf[struct {
		Member string `json:"member"`
	}](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		return C.loyal_segment_members(c, s.add(segment), out)
	})
	return func(yield func(string, error) bool) {
		for row, err := range rows {
			if !yield(row.Member, err) {
				return
			}
		}
	}
}

// RefreshSegments re-evaluates every segment at at (Now: the clock's now), before it
// returns, and returns who entered and left since the previous refresh.
func (db *DB) RefreshSegments(at time.Time) ([]SegmentChange, error) {
	var changes []SegmentChange
	for change, err := range rowsOf[SegmentChange](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		return C.loyal_segment_refresh(c, millis(at), nil, out)
	}) {
		if err != nil {
			return changes, err
		}
		changes = append(changes, change)
	}
	return changes, nil
}

// Badges lists the member's badge awards, oldest first.
func (db *DB) Badges(member string) ([]BadgeAward, error) {
	var s cstrings
	defer s.free()
	cmember := s.add(member)
	var list []BadgeAward
	err := db.jsonCall(&list, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_badge_list(c, cmember, out)
	})
	return list, err
}

// GrantBadge grants the member a badge (level "" for a badge without levels) with a reason;
// it reports false when the member holds it already.
func (db *DB) GrantBadge(member, badge, level, reason string) (bool, error) {
	return db.recognize(member, badge, level, reason, true)
}

// RevokeBadge revokes the member's badge (a level of it) with a reason, kept in the history;
// it reports false when the member does not hold it.
func (db *DB) RevokeBadge(member, badge, level, reason string) (bool, error) {
	return db.recognize(member, badge, level, reason, false)
}

func (db *DB) recognize(member, badge, level, reason string, grant bool) (bool, error) {
	var s cstrings
	defer s.free()
	cmember, cbadge, clevel, creason := s.add(member), s.add(badge), s.add(level), s.add(reason)
	var changed C.int
	err := db.call(func(c *C.loyal_db) C.int {
		if grant {
			return C.loyal_badge_grant(c, cmember, cbadge, clevel, creason, &changed)
		}
		return C.loyal_badge_revoke(c, cmember, cbadge, clevel, creason, &changed)
	})
	return changed != 0, err
}

// BadgeProgress reports progress towards the badge's next level.
func (db *DB) BadgeProgress(member, badge string) (BadgeProgress, error) {
	var s cstrings
	defer s.free()
	cmember, cbadge := s.add(member), s.add(badge)
	var result BadgeProgress
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_badge_progress(c, cmember, cbadge, out)
	})
	return result, err
}

// BadgeSweep evaluates every badge for every member at at; it returns the number of awards.
func (db *DB) BadgeSweep(at time.Time) (int64, error) {
	var awarded C.int64_t
	err := db.call(func(c *C.loyal_db) C.int { return C.loyal_badge_sweep(c, millis(at), &awarded) })
	return int64(awarded), err
}

// ReportLiability returns the outstanding points per currency.
func (db *DB) ReportLiability() ([]Liability, error) {
	var rows []Liability
	err := db.jsonCall(&rows, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_report_liability(c, out)
	})
	return rows, err
}

// ReportFlows returns issued, redeemed, expired, adjusted, reversed and breakage per currency
// over [from, to).
func (db *DB) ReportFlows(from, to time.Time) ([]Flows, error) {
	var rows []Flows
	err := db.jsonCall(&rows, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_report_flows(c, millis(from), millis(to), out)
	})
	return rows, err
}

// ReportRewards returns redemptions per reward and codes per coupon over [from, to).
func (db *DB) ReportRewards(from, to time.Time) (RewardsReport, error) {
	var result RewardsReport
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_report_rewards(c, millis(from), millis(to), out)
	})
	return result, err
}

// ReportActive returns active members per period ("day", "week" or "month") over [from, to).
func (db *DB) ReportActive(period string, from, to time.Time) ([]ActivePeriod, error) {
	var s cstrings
	defer s.free()
	cperiod := s.add(period)
	var rows []ActivePeriod
	err := db.jsonCall(&rows, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_report_active(c, cperiod, millis(from), millis(to), out)
	})
	return rows, err
}

// ReportRetention returns retention by join cohort over [from, to).
func (db *DB) ReportRetention(period string, from, to time.Time) ([]RetentionCohort, error) {
	var s cstrings
	defer s.free()
	cperiod := s.add(period)
	var rows []RetentionCohort
	err := db.jsonCall(&rows, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_report_retention(c, cperiod, millis(from), millis(to), out)
	})
	return rows, err
}

// ReportSizes returns members per tier and per segment.
func (db *DB) ReportSizes() (Sizes, error) {
	var result Sizes
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_report_sizes(c, out)
	})
	return result, err
}
