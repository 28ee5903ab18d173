// leaderboards.go - leaderboards: members ranked by what they did in a period.

package loyal

/*
#include <loyal.h>
*/
import "C"

import "time"

// Leaderboard returns the top limit (1-1000) of a leaderboard's period at at (zero: now):
// {"leaderboard", "period_start", "rows": [{"rank", "member", "score"}]}. ErrNotFound names
// an unknown leaderboard.
func (db *DB) Leaderboard(name string, at time.Time, limit int) (Leaderboard, error) {
	var s cstrings
	defer s.free()
	cname := s.add(name)
	var result Leaderboard
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_leaderboard_top(c, cname, millis(at), C.int(limit), out)
	})
	return result, err
}

// LeaderboardRank returns the member's rank and score ("rank" nil: no score yet) with
// neighbours (0-50) rows above and below.
func (db *DB) LeaderboardRank(name, member string, at time.Time, neighbours int) (LeaderboardRank, error) {
	var s cstrings
	defer s.free()
	cname, cmember := s.add(name), s.add(member)
	var result LeaderboardRank
	err := db.jsonCall(&result, func(c *C.loyal_db, out **C.char) C.int {
		return C.loyal_leaderboard_rank(c, cname, cmember, millis(at), C.int(neighbours), out)
	})
	return result, err
}
