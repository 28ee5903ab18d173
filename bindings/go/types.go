// types.go - the results of the engine's calls. Times are time.Time in UTC (the zero time
// where the engine has none: no expiry, no deadline), durations time.Duration, amounts int64.

package loyal

import "time"

// Program is the current program: its version and its document as applied.
type Program struct {
	Version  int64          `json:"version"`
	Document map[string]any `json:"program"`
}

// Member is a member with their attributes. LastActiveAt is zero before any activity.
type Member struct {
	ID           string         `json:"id"`
	Status       string         `json:"status"`
	JoinedAt     time.Time      `json:"joined_at"`
	LastActiveAt time.Time      `json:"last_active_at"`
	Attributes   map[string]any `json:"attributes"`
}

// MemberAsOf is a member as they stood at a past instant (DB.MemberAsOf): balances with the
// lots that had points left then, the tier then (nil: none yet), and the badges held then.
type MemberAsOf struct {
	Member   string        `json:"member"`
	At       time.Time     `json:"at"`
	Balances []PastBalance `json:"balances"`
	Tier     *PastTier     `json:"tier"`
	Badges   []BadgeAward  `json:"badges"`
}

// PastBalance is a member's points in one currency at a past instant.
type PastBalance struct {
	Currency  string    `json:"currency"`
	Available int64     `json:"available"`
	Pending   int64     `json:"pending"`
	Held      int64     `json:"held"`
	Earned    int64     `json:"earned"`
	Spent     int64     `json:"spent"`
	Expired   int64     `json:"expired"`
	Lots      []PastLot `json:"lots"`
}

// PastLot is a lot as it stood at a past instant (a zero ExpiresAt: never; a zero
// PendingUntil: active).
type PastLot struct {
	Lot          int64     `json:"lot"`
	Txn          int64     `json:"txn"`
	Amount       int64     `json:"amount"`
	Remaining    int64     `json:"remaining"`
	EarnedAt     time.Time `json:"earned_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	PendingUntil time.Time `json:"pending_until"`
}

// PastTier is the tier a member held at a past instant, and since when.
type PastTier struct {
	Tier  string    `json:"tier"`
	Since time.Time `json:"since"`
}

// MemberSummary is a member as Members lists them, with their tier ("" for none).
type MemberSummary struct {
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	JoinedAt     time.Time `json:"joined_at"`
	LastActiveAt time.Time `json:"last_active_at"`
	Tier         string    `json:"tier"`
}

// StatementLine is one transaction of a member's statement. Counterpart is the other leg of a
// transfer (a transaction), Reverses the transaction a reversal undoes (0: none).
type StatementLine struct {
	Txn         int64     `json:"txn"`
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	Currency    string    `json:"currency"`
	Amount      int64     `json:"amount"`
	Reason      string    `json:"reason"`
	Cause       string    `json:"cause"`
	Counterpart int64     `json:"counterpart"`
	Reverses    int64     `json:"reverses"`
}

// Entry is one double-entry leg, between accounts such as "system:issued" and
// "alice:available".
type Entry struct {
	Amount int64  `json:"amount"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// LotMove is what a transaction did to a lot ("create", "consume", "restore", ...).
type LotMove struct {
	Amount int64  `json:"amount"`
	Kind   string `json:"kind"`
	Lot    int64  `json:"lot"`
}

// Transaction is one transaction with its entries and the lots it moved. Requested is the
// amount asked for when policy moved less (0: as asked).
type Transaction struct {
	Txn         int64     `json:"txn"`
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	Member      string    `json:"member"`
	Currency    string    `json:"currency"`
	Amount      int64     `json:"amount"`
	Reason      string    `json:"reason"`
	Cause       string    `json:"cause"`
	Counterpart int64     `json:"counterpart"`
	Requested   int64     `json:"requested"`
	Reverses    int64     `json:"reverses"`
	Entries     []Entry   `json:"entries"`
	Moves       []LotMove `json:"moves"`
}

// LotEvent is one step in a lot's history.
type LotEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Amount int64     `json:"amount"`
	Txn    int64     `json:"txn"`
}

// Lot is points earned together and expiring together.
type Lot struct {
	Lot          int64      `json:"lot"`
	Txn          int64      `json:"txn"`
	Amount       int64      `json:"amount"`
	Remaining    int64      `json:"remaining"`
	EarnedAt     time.Time  `json:"earned_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	PendingUntil time.Time  `json:"pending_until"`
	History      []LotEvent `json:"history"`
}

// Explanation says why a balance is what it is: its totals and each open lot.
type Explanation struct {
	Member    string `json:"member"`
	Currency  string `json:"currency"`
	Available int64  `json:"available"`
	Pending   int64  `json:"pending"`
	Held      int64  `json:"held"`
	Debt      int64  `json:"debt"`
	Lots      []Lot  `json:"lots"`
}

// EventPosting is points a rule awarded for an event; PendingUntil is set while pending.
type EventPosting struct {
	Rule         string    `json:"rule"`
	RuleVersion  int64     `json:"rule_version"`
	Member       string    `json:"member"`
	Currency     string    `json:"currency"`
	Amount       int64     `json:"amount"`
	Txn          int64     `json:"txn"`
	PendingUntil time.Time `json:"pending_until"`
}

// SkippedRule is a rule that matched the event's type and awarded nothing, and why.
type SkippedRule struct {
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// TierChange is a move between tiers (From "": the member's first tier).
type TierChange struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// BadgeChange is a badge (level) an event earned.
type BadgeChange struct {
	Badge string `json:"badge"`
	Level string `json:"level"`
}

// EventCoupon is a coupon code a rule issued for an event.
type EventCoupon struct {
	Rule   string `json:"rule"`
	Member string `json:"member"`
	Coupon string `json:"coupon"`
	Code   string `json:"code"`
}

// Outcome is what tracking an event did. Replayed: the key had been tracked before, and this
// is the first outcome. DryRun: what the event would do; nothing was written.
type Outcome struct {
	Event       int64          `json:"event"`
	Member      string         `json:"member"`
	Type        string         `json:"type"`
	At          time.Time      `json:"at"`
	Postings    []EventPosting `json:"postings"`
	Skipped     []SkippedRule  `json:"skipped"`
	TierChanges []TierChange   `json:"tier_changes"`
	Badges      []BadgeChange  `json:"badges"`
	Coupons     []EventCoupon  `json:"coupons"`
	Redemptions []Redemption   `json:"redemptions"`
	Replayed    bool           `json:"replayed"`
	DryRun      bool           `json:"dry_run"`
}

// Reversal is points taken back from one of an event's postings.
type Reversal struct {
	Member    string `json:"member"`
	Currency  string `json:"currency"`
	Txn       int64  `json:"txn"`
	Reversal  int64  `json:"reversal"`
	Amount    int64  `json:"amount"`
	Requested int64  `json:"requested"`
}

// ReversalOutcome is what reversing an event did.
type ReversalOutcome struct {
	Event     int64      `json:"event"`
	Reversals []Reversal `json:"reversals"`
	Replayed  bool       `json:"replayed"`
}

// Measure is a measure an expression reads: count(purchase, 30d) is Function "count", Name
// "purchase", Window 30 days (0: all time).
type Measure struct {
	Function string        `json:"function"`
	Name     string        `json:"name"`
	Window   time.Duration `json:"window_ms"`
}

// CriteriaInfo is a compiled expression's type and the measures it reads.
type CriteriaInfo struct {
	Type     string    `json:"type"`
	Measures []Measure `json:"measures"`
}

// TierAssignment is an operator's assignment (Until zero: until released).
type TierAssignment struct {
	Tier   string    `json:"tier"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// NextTier is the next tier up and, when its entry is a measure, how far the member is.
type NextTier struct {
	Tier    string    `json:"tier"`
	Current int64     `json:"current"`
	Target  int64     `json:"target"`
	Missing int64     `json:"missing"`
	By      time.Time `json:"by"`
}

// TierStatus is a member's tier ("" for none) and what goes with it. Assigned and Next are
// nil when there is none.
type TierStatus struct {
	Member     string          `json:"member"`
	Tier       string          `json:"tier"`
	Since      time.Time       `json:"since"`
	NextReview time.Time       `json:"next_review"`
	GraceUntil time.Time       `json:"grace_until"`
	Multiplier float64         `json:"multiplier"`
	Perks      map[string]any  `json:"perks"`
	Assigned   *TierAssignment `json:"assigned"`
	Next       *NextTier       `json:"next"`
}

// TierHistoryEntry is a tier change and when it happened.
type TierHistoryEntry struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

// TierReview is a member whose tier review is due.
type TierReview struct {
	Member     string    `json:"member"`
	Tier       string    `json:"tier"`
	ReviewAt   time.Time `json:"review_at"`
	GraceUntil time.Time `json:"grace_until"`
}

// Revocation is when and why a badge was revoked.
type Revocation struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// BadgeAward is a badge (level) a member holds or held: How is "earned" or "granted";
// Revoked is nil unless revoked.
type BadgeAward struct {
	Badge   string      `json:"badge"`
	Level   string      `json:"level"`
	At      time.Time   `json:"at"`
	How     string      `json:"how"`
	Reason  string      `json:"reason"`
	Revoked *Revocation `json:"revoked"`
}

// BadgeProgress is progress towards a badge's next level.
type BadgeProgress struct {
	Badge    string  `json:"badge"`
	Level    string  `json:"level"`
	Current  float64 `json:"current"`
	Target   float64 `json:"target"`
	Percent  float64 `json:"percent"`
	Complete bool    `json:"complete"`
}

// SegmentChange is a member who "entered" or "left" a segment.
type SegmentChange struct {
	Segment string `json:"segment"`
	Member  string `json:"member"`
	Change  string `json:"change"`
}

// LeaderboardRow is one member's rank and score.
type LeaderboardRow struct {
	Rank   int64   `json:"rank"`
	Member string  `json:"member"`
	Score  float64 `json:"score"`
}

// Leaderboard is the top of a leaderboard's period (PeriodStart zero: all time).
type Leaderboard struct {
	Leaderboard string           `json:"leaderboard"`
	PeriodStart time.Time        `json:"period_start"`
	Rows        []LeaderboardRow `json:"rows"`
}

// LeaderboardRank is a member's rank (0: no score yet) with their neighbours.
type LeaderboardRank struct {
	Leaderboard string           `json:"leaderboard"`
	Member      string           `json:"member"`
	PeriodStart time.Time        `json:"period_start"`
	Rank        int64            `json:"rank"`
	Score       float64          `json:"score"`
	Rows        []LeaderboardRow `json:"rows"`
}

// Happening is one row of the outbox. Body is the kind's own; its times ("at", and keys
// ending in "_at" or "_until") are time.Time, its whole numbers int64.
type Happening struct {
	Position int64          `json:"position"`
	Kind     string         `json:"kind"`
	Member   string         `json:"member"`
	At       time.Time      `json:"at"`
	Body     map[string]any `json:"body"`
}

// OutboxConsumer is a consumer's position and lag.
type OutboxConsumer struct {
	Consumer string    `json:"consumer"`
	Position int64     `json:"position"`
	Behind   int64     `json:"behind"`
	AckedAt  time.Time `json:"acked_at"`
}

// OutboxConsumers is the newest position and every consumer.
type OutboxConsumers struct {
	Newest    int64            `json:"newest"`
	Consumers []OutboxConsumer `json:"consumers"`
}

// PointsExpiring is a member's points of one currency expiring on one day.
type PointsExpiring struct {
	Member    string    `json:"member"`
	Currency  string    `json:"currency"`
	Amount    int64     `json:"amount"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Liability is the outstanding points of one currency.
type Liability struct {
	Currency    string `json:"currency"`
	Available   int64  `json:"available"`
	Pending     int64  `json:"pending"`
	Held        int64  `json:"held"`
	Debt        int64  `json:"debt"`
	Outstanding int64  `json:"outstanding"`
	Members     int64  `json:"members"`
}

// Flows are the points of one currency issued, redeemed, expired, adjusted and reversed over
// a period, and breakage (the share of issued points that expired).
type Flows struct {
	Currency string  `json:"currency"`
	Issued   int64   `json:"issued"`
	Redeemed int64   `json:"redeemed"`
	Expired  int64   `json:"expired"`
	Adjusted int64   `json:"adjusted"`
	Reversed int64   `json:"reversed"`
	Breakage float64 `json:"breakage"`
}

// ActivePeriod is the members active in the period starting at Period.
type ActivePeriod struct {
	Period time.Time `json:"period"`
	Active int64     `json:"active"`
}

// RetentionCohort is the members who joined in the period starting at Cohort and how many
// of them (and which share) were active in each period since.
type RetentionCohort struct {
	Cohort  time.Time `json:"cohort"`
	Members int64     `json:"members"`
	Active  []int64   `json:"active"`
	Share   []float64 `json:"share"`
}

// Sizes are the members per tier and per segment (as of the last refresh).
type Sizes struct {
	Tiers    map[string]int64 `json:"tiers"`
	Segments map[string]int64 `json:"segments"`
}

// RewardOffer is a reward as a member sees it: their price, whether one unit can be redeemed
// now and, if not, Why ("blocked", "not_active", "not_eligible", "out_of_stock",
// "limit_reached", "not_enough_points" with the points Missing). StockLeft is nil without a
// stock limit.
type RewardOffer struct {
	Reward    string           `json:"reward"`
	Title     string           `json:"title"`
	Kind      string           `json:"kind"`
	Price     map[string]int64 `json:"price"`
	StockLeft *int64           `json:"stock_left"`
	TwoPhase  bool             `json:"two_phase"`
	Data      map[string]any   `json:"data"`
	Available bool             `json:"available"`
	Why       string           `json:"why"`
	Missing   map[string]int64 `json:"missing"`
}

// RedemptionPosting is the points of one currency a redemption took: the transaction (a hold
// for a two-phase reward), and its capture and refund where there were (0: none).
type RedemptionPosting struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
	Txn      int64  `json:"txn"`
	Capture  int64  `json:"capture"`
	Refund   int64  `json:"refund"`
}

// Redemption is a redemption: "pending" (two-phase, until Deadline), "fulfilled",
// "cancelled" or "expired".
type Redemption struct {
	ID        int64               `json:"id"`
	Member    string              `json:"member"`
	Reward    string              `json:"reward"`
	Quantity  int64               `json:"quantity"`
	State     string              `json:"state"`
	At        time.Time           `json:"at"`
	Deadline  time.Time           `json:"deadline"`
	SettledAt time.Time           `json:"settled_at"`
	Postings  []RedemptionPosting `json:"postings"`
	Replayed  bool                `json:"replayed"`
}

// RewardReport is one reward's redemptions over a period.
type RewardReport struct {
	Reward      string           `json:"reward"`
	Units       int64            `json:"units"`
	Members     int64            `json:"members"`
	Points      map[string]int64 `json:"points"`
	Redemptions map[string]int64 `json:"redemptions"`
	StockLeft   *int64           `json:"stock_left"`
}

// CouponReport is one coupon's codes over a period (PoolLeft nil: generated codes; UseRate
// nil: none issued).
type CouponReport struct {
	Coupon   string   `json:"coupon"`
	Issued   int64    `json:"issued"`
	Used     int64    `json:"used"`
	PoolLeft *int64   `json:"pool_left"`
	UseRate  *float64 `json:"use_rate"`
}

// RewardsReport is redemptions per reward and codes per coupon over a period.
type RewardsReport struct {
	Rewards        []RewardReport     `json:"rewards"`
	Coupons        []CouponReport     `json:"coupons"`
	RedemptionRate map[string]float64 `json:"redemption_rate"`
}

// Coupon is a code issued to a member: "valid", "used" or "expired", its uses left (nil:
// unlimited) and validity (ValidUntil zero: no end). Replayed and Reservation are set by the
// writing calls.
type Coupon struct {
	ID          int64     `json:"id"`
	Code        string    `json:"code"`
	Coupon      string    `json:"coupon"`
	Member      string    `json:"member"`
	Title       string    `json:"title"`
	Value       any       `json:"value"`
	State       string    `json:"state"`
	UsesLeft    *int64    `json:"uses_left"`
	IssuedAt    time.Time `json:"issued_at"`
	ValidFrom   time.Time `json:"valid_from"`
	ValidUntil  time.Time `json:"valid_until"`
	Replayed    bool      `json:"replayed"`
	Reservation int64     `json:"reservation"`
}

// CouponCheck says whether the member can use a code now and, if not, Why
// ("not_this_members", "used_up", "expired", "not_yet_valid", ...). Issued is the code as
// issued to this member, nil for another member's code.
type CouponCheck struct {
	Code   string
	Valid  bool
	Why    string
	Issued *Coupon
}
