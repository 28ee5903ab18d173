// members.go - an operator's member search.

package loyal

/*
#include <loyal.h>
*/
import "C"

import (
	"encoding/json"
	"iter"
	"time"
)

// MemberQuery selects members: each set field narrows the search. Value (a string, number or
// bool) is compared with the member's Attribute; Segment is as of the last RefreshSegments;
// ActiveFrom and ActiveBefore bound the last activity; Status is "active" or "blocked"; After
// resumes after that member (the last row's "id").
type MemberQuery struct {
	Attribute    string
	Value        any
	Tier         string
	Segment      string
	ActiveFrom   time.Time
	ActiveBefore time.Time
	Status       string
	After        string
}

// Members streams the members the query keeps, in the order they joined, each row
// {"id", "status", "joined_at", "last_active_at", "tier"}. Errors (yielded): ErrInvalid,
// ErrNotFound (unknown tier, segment or After member), and the storage errors.
func (db *DB) Members(q MemberQuery) iter.Seq2[MemberSummary, error] {
	value := ""
	if q.Attribute != "" || q.Value != nil {
		text, err := json.Marshal(q.Value)
		if err != nil {
			return func(yield func(MemberSummary, error) bool) { yield(MemberSummary{}, err) }
		}
		value = string(text)
	}
	return rowsOf[MemberSummary](db, func(c *C.loyal_db, out **C.loyal_cursor) C.int {
		var s cstrings
		defer s.free()
		var cq C.loyal_member_query
		C.loyal_member_query_init(&cq, C.LOYAL_MEMBER_QUERY_VERSION)
		cq.attribute, cq.value, cq.tier = s.add(q.Attribute), s.add(value), s.add(q.Tier)
		cq.segment, cq.status, cq.after = s.add(q.Segment), s.add(q.Status), s.add(q.After)
		cq.active_from, cq.active_before = millis(q.ActiveFrom), millis(q.ActiveBefore)
		return C.loyal_member_list(c, &cq, out)
	})
}
