package loyal_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	loyal "github.com/loyal-engine/loyal/bindings/go"
)

const program = `{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
	{"name": "xp", "spendable": false}],
 "rules": [{"name": "purchase", "event": "purchase", "condition": "event.amount > 0",
	"award": {"points": "floor(event.amount)", "xp": "1"}}]}`

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func open(t *testing.T) (*loyal.DB, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: epoch}
	db, err := loyal.Open(filepath.Join(t.TempDir(), "test.db"), &loyal.Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ApplyProgram(program); err != nil {
		t.Fatal(err)
	}
	return db, clock
}

// must returns value, or fails the running test (by panicking) when err is not nil.
func must[T any](value T, err error) T {
	if err != nil {
		panic(err)
	}
	return value
}

func TestLedgerRoundTrip(t *testing.T) {
	db, clock := open(t)
	first := must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 500,
		Key: "k1", Reason: "welcome"}))
	again := must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 500,
		Key: "k1", Reason: "welcome"}))
	if !again.Replayed || again.Txn != first.Txn {
		t.Fatalf("retry: %+v, first %+v", again, first)
	}
	must(db.Debit(loyal.Posting{Member: "alice", Currency: "points", Amount: 100, Key: "k2"}))
	must(db.Adjust(loyal.Posting{Member: "alice", Currency: "points", Amount: 5, Key: "k3",
		Reason: "goodwill"}))
	held := must(db.Hold(loyal.Posting{Member: "alice", Currency: "points", Amount: 50,
		Key: "k4", Deadline: clock.Now().Add(24 * time.Hour)}))
	must(db.Capture(loyal.Posting{Member: "alice", Currency: "points", Txn: held.Txn,
		Amount: 30, Key: "k5"}))
	other := must(db.Hold(loyal.Posting{Member: "alice", Currency: "points", Amount: 10,
		Key: "k6", Deadline: clock.Now().Add(24 * time.Hour)}))
	must(db.Release(loyal.Posting{Member: "alice", Currency: "points", Txn: other.Txn,
		Key: "k7"}))
	must(db.Transfer(loyal.Posting{Member: "alice", ToMember: "bob", Currency: "points",
		Amount: 25, Key: "k8"}))
	reversed := must(db.Reverse(loyal.Posting{Member: "alice", Currency: "points",
		Txn: first.Txn, Amount: 100, Key: "k9"}))
	if reversed.Amount != 100 {
		t.Fatalf("reversal moved %d", reversed.Amount)
	}
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 40, Key: "k10",
		Pending: 72 * time.Hour}))
	balance := must(db.Balance("alice", "points", loyal.Now))
	if balance.Available != 250 || balance.Pending != 40 || balance.Spent != 130 {
		t.Fatalf("balance %+v", balance)
	}
	if !balance.NextExpiryAt.Equal(epoch.Add(365 * 24 * time.Hour)) {
		t.Fatalf("next expiry %v", balance.NextExpiryAt)
	}
	expiring := must(db.Expiring("alice", "points", 5))
	if len(expiring) != 1 || expiring[0].Amount != 250 {
		t.Fatalf("expiring %+v", expiring)
	}
	var kinds []string
	for row, err := range db.Statement("alice", "", 0) {
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, row.Kind)
	}
	if len(kinds) < 9 || kinds[0] != "credit" || kinds[1] != "reversal" {
		t.Fatalf("statement %v", kinds)
	}
	transaction := must(db.Transaction(first.Txn))
	if transaction.Member != "alice" || transaction.Entries[0].To != "alice:available" {
		t.Fatalf("transaction %v", transaction)
	}
	must(db.Explain("alice", "points"))
	clock.Advance(400 * 24 * time.Hour)
	if settled := must(db.Expire(loyal.Now)); settled < 1 {
		t.Fatalf("settled %d", settled)
	}
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	if now := must(db.Clock()); !now.Equal(clock.Now()) {
		t.Fatalf("clock %v, expected %v", now, clock.Now())
	}
}

func TestQuickstartProgramRuns(t *testing.T) {
	cmd := exec.Command("go", "run", "./examples/quickstart", filepath.Join(t.TempDir(), "q.db"))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "alice has 42 points\n" {
		t.Fatalf("quickstart: %v: %s", err, out)
	}
}

func TestEventsMembersAndCriteria(t *testing.T) {
	db, _ := open(t)
	outcome := must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "order-1",
		Properties: map[string]any{"amount": 19.99}}))
	if postings := outcome.Postings; len(postings) != 2 || postings[0].Amount != 19 {
		t.Fatalf("outcome %v", outcome)
	}
	reversal := must(db.ReverseEvent(loyal.EventReversal{Member: "alice",
		EventKey: "order-1", Key: "return-1", Part: 1, Whole: 2}))
	if len(reversal.Reversals) != 1 {
		t.Fatalf("reversal %v", reversal)
	}
	if info := must(db.Check("count(purchase, 30d) >= 1")); info.Type != "boolean" || info.Measures[0].Window != 30*24*time.Hour {
		t.Fatal("check")
	}
	if value := must(db.Evaluate("event.x * 2", "alice", map[string]any{"x": 21})); value != int64(42) {
		t.Fatalf("evaluate gave %v", value)
	}
	if err := db.SetAttributes("alice", map[string]any{"role": "teacher"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Block("mallory"); err != nil {
		t.Fatal(err)
	}
	if must(db.Member("mallory")).Status != "blocked" {
		t.Fatal("block")
	}
	if err := db.Unblock("mallory"); err != nil {
		t.Fatal(err)
	}
	if must(db.Program()).Version != 1 {
		t.Fatal("program version")
	}
	err := db.Batch(func(tx *loyal.DB) error {
		_, err := tx.Credit(loyal.Posting{Member: "carol", Currency: "points", Amount: 1, Key: "b"})
		if err != nil {
			return err
		}
		return errors.New("abandon the batch")
	})
	if err == nil || err.Error() != "abandon the batch" {
		t.Fatalf("batch gave %v", err)
	}
	if _, err := db.Balance("carol", "points", loyal.Now); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("carol after rollback: %v", err)
	}
}

func TestErrorsMatchSentinelsAndCarryTheMessage(t *testing.T) {
	db, _ := open(t)
	_, err := db.Credit(loyal.Posting{Member: "alice", Currency: "doubloons", Amount: 1, Key: "k"})
	if !errors.Is(err, loyal.ErrNotFound) || errors.Is(err, loyal.ErrConflict) {
		t.Fatalf("unknown currency gave %v", err)
	}
	var detail *loyal.Error
	if !errors.As(err, &detail) || detail.Code != -8 || detail.Name != "LOYAL_ENOTFOUND" ||
		detail.Message != "no currency named 'doubloons' in program version 1" {
		t.Fatalf("error detail %+v", detail)
	}
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 5, Key: "k"}))
	if _, err := db.Debit(loyal.Posting{Member: "alice", Currency: "points", Amount: 50,
		Key: "k2"}); !errors.Is(err, loyal.ErrInsufficient) || !errors.As(err, &detail) ||
		detail.Replayed {
		t.Fatalf("overspend gave %v", err)
	}
	_, err = db.Debit(loyal.Posting{Member: "alice", Currency: "points", Amount: 50, Key: "k2"})
	if !errors.As(err, &detail) || !detail.Replayed || detail.Code != -10 {
		t.Fatalf("the retried overspend gave %+v, not the recorded refusal", err)
	}
	if _, err := db.Check("1 +"); !errors.Is(err, loyal.ErrSyntax) {
		t.Fatalf("bad expression gave %v", err)
	}
	if _, err := db.ApplyProgram("{"); !errors.Is(err, loyal.ErrJSON) {
		t.Fatalf("bad program gave %v", err)
	}
	if _, err := loyal.Open(filepath.Join(t.TempDir(), "missing.db"),
		&loyal.Options{NoCreate: true}); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("missing file gave %v", err)
	}
}

func TestUseAfterCloseIsAnError(t *testing.T) {
	db, _ := open(t)
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 1, Key: "k"}))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Balance("alice", "points", loyal.Now); !errors.Is(err, loyal.ErrMisuse) {
		t.Fatalf("balance after close gave %v", err)
	}
	for _, err := range db.Statement("alice", "", 0) {
		if !errors.Is(err, loyal.ErrMisuse) {
			t.Fatalf("statement after close gave %v", err)
		}
	}
}

func TestConcurrentGoroutinesShareOneDB(t *testing.T) {
	db, _ := open(t)
	var wg sync.WaitGroup
	for worker := 0; worker < 8; worker++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				key := string(rune('a'+worker)) + "-" + time.Duration(i).String()
				if _, err := db.Credit(loyal.Posting{Member: "alice", Currency: "points",
					Amount: 1, Key: key}); err != nil {
					t.Error(err)
				}
			}
		}(worker)
	}
	wg.Wait()
	if balance := must(db.Balance("alice", "points", loyal.Now)); balance.Available != 200 {
		t.Fatalf("200 credits gave %d", balance.Available)
	}
}

func TestTiers(t *testing.T) {
	clock := &fakeClock{now: epoch}
	db, err := loyal.Open(filepath.Join(t.TempDir(), "tiers.db"), &loyal.Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must(db.ApplyProgram(`{"currencies": [{"name": "points"}, {"name": "xp"}],
	 "rules": [{"name": "p", "event": "purchase", "award": {"xp": "1"}}],
	 "tiers": {"levels": [{"name": "bronze"},
		{"name": "silver", "entry": "earned(xp, 365d) >= 2"}]}}`))
	must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "o1"}))
	outcome := must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "o2"}))
	if changes := outcome.TierChanges; len(changes) != 1 || changes[0].To != "silver" {
		t.Fatalf("tier changes %v", outcome)
	}
	if must(db.Tier("alice")).Tier != "silver" {
		t.Fatal("not silver")
	}
	var history []string
	for row, err := range db.TierHistory("alice") {
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, row.To)
	}
	if len(history) != 2 || history[0] != "silver" {
		t.Fatalf("history %v", history)
	}
	clock.Advance(800 * 24 * time.Hour)
	if dropped := must(db.TierSweep(loyal.Now)); dropped != 1 {
		t.Fatalf("dropped %d", dropped)
	}
	if err := db.AssignTier("alice", "silver", time.Time{}, "ambassador"); err != nil {
		t.Fatal(err)
	}
	if must(db.Tier("alice")).Tier != "silver" {
		t.Fatal("the assignment did not move alice to silver")
	}
	if released := must(db.ReleaseTier("alice", "stepped down")); !released {
		t.Fatal("nothing was released")
	}
	if err := db.AssignTier("alice", "platinum", time.Time{}, "r"); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("an unknown tier: %v, want ErrNotFound", err)
	}
}

func TestSegments(t *testing.T) {
	db, clock := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points"}, {"name": "xp"}],
	 "segments": [{"name": "silent", "criterion": "days_since(last_seen) >= 30"}]}`))
	must(db.Track(loyal.Event{Member: "alice", Type: "post", Key: "p1"}))
	if names := must(db.SegmentsOf("alice")); len(names) != 0 {
		t.Fatalf("segments %v", names)
	}
	clock.Advance(31 * 24 * time.Hour)
	changes := must(db.RefreshSegments(loyal.Now)) // the refresh is done when it returns
	if len(changes) != 1 || changes[0] != (loyal.SegmentChange{Segment: "silent",
		Member: "alice", Change: "entered"}) {
		t.Fatalf("changes %v", changes)
	}
	if again := must(db.RefreshSegments(loyal.Now)); len(again) != 0 {
		t.Fatalf("a second refresh found changes %v", again)
	}
	for row, err := range db.SegmentMembers("silent") {
		if err != nil || row != "alice" {
			t.Fatalf("member %v %v", row, err)
		}
	}
}

func TestBadges(t *testing.T) {
	db, clock := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points"}, {"name": "xp"}],
	 "badges": [{"name": "poster", "criterion": "count(post) >= 2"},
		{"name": "veteran", "criterion": "member.age >= 10d"}]}`))
	must(db.Track(loyal.Event{Member: "alice", Type: "post", Key: "p1"}))
	if progress := must(db.BadgeProgress("alice", "poster")); progress.Percent != 50 {
		t.Fatalf("progress %v", progress)
	}
	outcome := must(db.Track(loyal.Event{Member: "alice", Type: "post", Key: "p2"}))
	if badges := outcome.Badges; len(badges) != 1 {
		t.Fatalf("outcome %v", outcome)
	}
	clock.Advance(10 * 24 * time.Hour)
	if awarded := must(db.BadgeSweep(loyal.Now)); awarded != 1 {
		t.Fatalf("sweep awarded %d", awarded)
	}
	if list := must(db.Badges("alice")); len(list) != 2 {
		t.Fatalf("badges %v", list)
	}
}

func TestReports(t *testing.T) {
	db, clock := open(t)
	must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "o1",
		Properties: map[string]any{"amount": 30}}))
	day := 24 * time.Hour
	if rows := must(db.ReportLiability()); rows[0].Outstanding != 30 {
		t.Fatalf("liability %v", rows)
	}
	if rows := must(db.ReportFlows(clock.Now(), clock.Now().Add(day))); rows[0].Issued != 30 {
		t.Fatalf("flows %v", rows)
	}
	if rows := must(db.ReportActive("day", clock.Now(), clock.Now().Add(day))); len(rows) != 1 {
		t.Fatalf("active %v", rows)
	}
	if rows := must(db.ReportRetention("week", clock.Now(), clock.Now().Add(7*day))); len(rows) != 1 {
		t.Fatalf("retention %v", rows)
	}
	must(db.ReportSizes())
	if _, err := db.ReportActive("year", clock.Now(), clock.Now().Add(day)); !errors.Is(err, loyal.ErrInvalid) {
		t.Fatalf("bad period gave %v", err)
	}
}

// A batch owns the handle: another goroutine's call waits for it and is not rolled back with it.
func TestBatchOwnsTheHandleSoAnotherGoroutinesCallIsNotRolledBackWithIt(t *testing.T) {
	db, _ := open(t)
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		<-started
		_, err := db.Credit(loyal.Posting{Member: "bob", Currency: "points", Amount: 10,
			Key: "single-bob"})
		done <- err
	}()
	err := db.Batch(func(tx *loyal.DB) error {
		close(started)
		time.Sleep(300 * time.Millisecond) // the other goroutine calls meanwhile
		if _, err := tx.Credit(loyal.Posting{Member: "carol", Currency: "points", Amount: 10,
			Key: "batch-carol"}); err != nil {
			return err
		}
		return errors.New("abandon the batch")
	})
	if err == nil || err.Error() != "abandon the batch" {
		t.Fatalf("batch gave %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the other goroutine's credit: %v", err)
	}
	if b := must(db.Balance("bob", "points", loyal.Now)); b.Available != 10 {
		t.Fatalf("bob has %d, want 10 (committed after the batch)", b.Available)
	}
	if _, err := db.Balance("carol", "points", loyal.Now); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("carol after rollback: %v", err)
	}
}

// A panic inside a batch rolls it back and leaves the handle (and other handles) usable.
func TestPanicInsideBatchRollsBackAndLeavesTheHandleUsable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "panic.db")
	db, err := loyal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must(db.ApplyProgram(program))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		db.Batch(func(tx *loyal.DB) error {
			must(tx.Credit(loyal.Posting{Member: "carol", Currency: "points", Amount: 1, Key: "p"}))
			panic("boom")
		})
	}()
	if _, err := db.Balance("carol", "points", loyal.Now); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("carol after the panic: %v", err)
	}
	var view *loyal.DB
	if err := db.Batch(func(tx *loyal.DB) error {
		view = tx
		_, err := tx.Credit(loyal.Posting{Member: "carol", Currency: "points", Amount: 2, Key: "q"})
		return err
	}); err != nil {
		t.Fatalf("a batch after the panic: %v", err)
	}
	if _, err := view.Balance("carol", "points", loyal.Now); !errors.Is(err, loyal.ErrMisuse) {
		t.Fatalf("the ended batch's view gave %v", err)
	}
	other, err := loyal.Open(path, &loyal.Options{BusyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Credit(loyal.Posting{Member: "dave", Currency: "points", Amount: 1,
		Key: "d"}); err != nil {
		t.Fatalf("another handle after the panic: %v", err)
	}
}

func TestRewards(t *testing.T) {
	db, _ := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}],
	 "rewards": [{"name": "coffee", "price": {"points": 100}, "limits": [{"per": "day", "count": 1}]},
		{"name": "mug", "price": {"points": 300}, "stock": 1, "fulfilment": "two_phase"}]}`))
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 1000, Key: "k1"}))
	coffee := must(db.Redeem(loyal.Redeem{Member: "alice", Reward: "coffee", Key: "r1"}))
	if coffee.State != "fulfilled" || coffee.SettledAt.IsZero() {
		t.Fatalf("coffee: %v", coffee)
	}
	if _, err := db.Redeem(loyal.Redeem{Member: "alice", Reward: "coffee", Key: "r2"}); !errors.Is(err, loyal.ErrLimit) {
		t.Fatalf("a second coffee today: %v, want ErrLimit", err)
	}
	mug := must(db.Redeem(loyal.Redeem{Member: "alice", Reward: "mug", Key: "r3"}))
	must(db.Credit(loyal.Posting{Member: "bob", Currency: "points", Amount: 1000, Key: "k1"}))
	if _, err := db.Redeem(loyal.Redeem{Member: "bob", Reward: "mug", Key: "r1"}); !errors.Is(err, loyal.ErrSoldOut) {
		t.Fatalf("the last mug twice: %v, want ErrSoldOut", err)
	}
	id := mug.ID
	pending := 0
	for row, err := range db.PendingRedemptions(0) {
		if err != nil {
			t.Fatal(err)
		}
		if row.Member != "alice" {
			t.Fatalf("pending: %v", row)
		}
		pending++
	}
	if pending != 1 {
		t.Fatalf("%d pending, want 1", pending)
	}
	if got := must(db.Fulfil("alice", id, "f1")); got.State != "fulfilled" {
		t.Fatalf("fulfilled: %v", got)
	}
	if got := must(db.CancelRedemption("alice", id, "c1")); got.State != "cancelled" {
		t.Fatalf("cancelled: %v", got)
	}
	if balance := must(db.Balance("alice", "points", time.Time{})); balance.Available != 900 {
		t.Fatalf("alice has %d, want 900", balance.Available)
	}
	report := must(db.ReportRewards(epoch.Add(-time.Hour), epoch.Add(time.Hour)))
	if rewards := report.Rewards; len(rewards) != 2 {
		t.Fatalf("report: %v", report)
	}
	listed := must(db.Rewards("bob", time.Time{}))
	if len(listed) != 2 || listed[1].Available != true {
		t.Fatalf("bob's rewards: %v", listed)
	}
	if got := must(db.Redemption("alice", id)); got.Reward != "mug" {
		t.Fatalf("redemption: %v", got)
	}
	count := 0
	for _, err := range db.Redemptions("alice", 0) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 2 {
		t.Fatalf("alice has %d redemptions, want 2", count)
	}
}

func TestCoupons(t *testing.T) {
	db, _ := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}],
	 "coupons": [{"name": "welcome", "uses": 2}, {"name": "partner", "codes": "pool"}]}`))
	added, duplicates, err := db.ImportCouponCodes("partner", []string{"aaaa-1111", "AAAA-1111"})
	if err != nil || added != 1 || duplicates != 1 {
		t.Fatalf("import: %d added, %d duplicates, %v", added, duplicates, err)
	}
	if got := must(db.IssueCoupon("alice", "partner", "p1")); got.Code != "AAAA-1111" {
		t.Fatalf("issued %v", got)
	}
	if _, err := db.IssueCoupon("bob", "partner", "p1"); !errors.Is(err, loyal.ErrSoldOut) {
		t.Fatalf("an empty pool: %v, want ErrSoldOut", err)
	}
	code := must(db.IssueCoupon("alice", "welcome", "w1")).Code
	if got := must(db.CheckCoupon("alice", strings.ToLower(code), time.Time{})); !got.Valid || got.Issued == nil {
		t.Fatalf("check: %v", got)
	}
	held := must(db.ReserveCoupon("alice", code, "checkout-1"))
	reservation := held.Reservation
	must(db.ReleaseCoupon("alice", reservation, "release-1"))
	must(db.UseCoupon("alice", code, 0, "u1"))
	must(db.UseCoupon("alice", code, 0, "u2"))
	if _, err := db.UseCoupon("alice", code, 0, "u3"); !errors.Is(err, loyal.ErrLimit) {
		t.Fatalf("a third use of two: %v, want ErrLimit", err)
	}
	count := 0
	for _, err := range db.Coupons("alice", 0) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 2 {
		t.Fatalf("alice has %d codes, want 2", count)
	}
}

func TestGrantsServeEachMemberOnce(t *testing.T) {
	db, _ := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}],
	 "segments": [{"name": "everyone", "criterion": "true"}],
	 "coupons": [{"name": "thanks"}]}`))
	for _, member := range []string{"alice", "bob", "carol"} {
		if err := db.SetAttributes(member, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Block("carol"); err != nil {
		t.Fatal(err)
	}
	var progress [][2]int64
	var refused []string
	grant := loyal.Grant{Key: "outage-1", Members: []string{"alice", "bob", "carol", "ghost"},
		Currency: "points", Amount: 25, Reason: "sorry",
		Progress: func(done, total int64) { progress = append(progress, [2]int64{done, total}) },
		Refused:  func(member, why, message string) { refused = append(refused, member+":"+why) }}
	report := must(db.Grant(grant))
	if report.Granted != 2 || report.Refused != 2 || report.Why["blocked"] != 1 ||
		report.Why["unknown_member"] != 1 {
		t.Fatalf("report %+v", report)
	}
	if len(progress) != 1 || progress[0] != [2]int64{4, 4} ||
		strings.Join(refused, " ") != "carol:blocked ghost:unknown_member" {
		t.Fatalf("progress %v, refused %v", progress, refused)
	}
	grant.Members, grant.Progress, grant.Refused = []string{"alice", "bob"}, nil, nil
	if again := must(db.Grant(grant)); again.Granted != 0 || again.AlreadyGranted != 2 {
		t.Fatalf("a run again: %+v", again)
	}
	if b := must(db.Balance("bob", "points", loyal.Now)); b.Available != 25 {
		t.Fatalf("bob has %d", b.Available)
	}
	grant.Amount = 30
	if _, err := db.Grant(grant); !errors.Is(err, loyal.ErrConflict) {
		t.Fatalf("another amount under the key: %v, want ErrConflict", err)
	}
	if r := must(db.Grant(loyal.Grant{Key: "hello", Segment: "everyone", Coupon: "thanks"})); r.Granted != 2 {
		t.Fatalf("a coupon to a segment: %+v", r)
	}
	if _, err := db.Grant(loyal.Grant{Key: "x", Segment: "everyone"}); !errors.Is(err, loyal.ErrInvalid) {
		t.Fatalf("nothing to give: %v, want ErrInvalid", err)
	}
}

func TestMembersAreSearched(t *testing.T) {
	db, _ := open(t)
	for member, role := range map[string]string{"alice": "teacher", "bob": "student", "carol": "teacher"} {
		if err := db.SetAttributes(member, map[string]any{"role": role}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(q loyal.MemberQuery) []string {
		var got []string
		for row, err := range db.Members(q) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, row.ID)
		}
		return got
	}
	if got := ids(loyal.MemberQuery{Attribute: "role", Value: "teacher"}); len(got) != 2 ||
		got[0] == got[1] {
		t.Fatalf("teachers: %v", got)
	}
	if got := ids(loyal.MemberQuery{}); len(got) != 3 {
		t.Fatalf("everyone: %v", got)
	}
	refused := false
	for _, err := range db.Members(loyal.MemberQuery{Tier: "platinum"}) {
		refused = errors.Is(err, loyal.ErrNotFound)
	}
	if !refused {
		t.Fatal("an unknown tier was not refused with ErrNotFound")
	}
}

func TestBadgesAreGrantedAndRevoked(t *testing.T) {
	db, _ := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}],
	 "badges": [{"name": "founder", "criterion": "count(purchase) >= 1000"}]}`))
	if err := db.SetAttributes("alice", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if changed := must(db.GrantBadge("alice", "founder", "", "built the forum")); !changed {
		t.Fatal("the grant changed nothing")
	}
	if changed := must(db.GrantBadge("alice", "founder", "", "again")); changed {
		t.Fatal("a second grant changed something")
	}
	if changed := must(db.RevokeBadge("alice", "founder", "", "left")); !changed {
		t.Fatal("the revocation changed nothing")
	}
	awards := must(db.Badges("alice"))
	if len(awards) != 1 || awards[0].How != "granted" || awards[0].Revoked == nil {
		t.Fatalf("awards %v", awards)
	}
	if _, err := db.GrantBadge("alice", "nope", "", "r"); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("an unknown badge: %v, want ErrNotFound", err)
	}
}

func TestOutbox(t *testing.T) {
	db, _ := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}], "outbox": {"postings": ["points"]}}`))
	for i, member := range []string{"alice", "bob"} {
		must(db.Credit(loyal.Posting{Member: member, Currency: "points", Amount: 10, Key: fmt.Sprint("c", i)}))
	}
	read := func() (members []string, last int64) {
		for row, err := range db.Outbox("mailer", 0) {
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, row.Member)
			last = row.Position
		}
		return members, last
	}
	members, _ := read()
	if fmt.Sprint(members) != "[alice bob]" {
		t.Fatalf("happenings of %v", members)
	}
	for row := range db.Outbox("mailer", 1) {
		if err := db.OutboxAck("mailer", row.Position); err != nil {
			t.Fatal(err)
		}
	}
	if members, _ = read(); fmt.Sprint(members) != "[bob]" {
		t.Fatalf("after the ack: %v", members)
	}
	if err := db.OutboxAck("mailer", 99); !errors.Is(err, loyal.ErrInvalid) {
		t.Fatalf("an ack past the newest: %v, want ErrInvalid", err)
	}
	if found := must(db.OutboxForget("mailer")); !found {
		t.Fatal("the consumer was not recorded")
	}
	if n := must(db.NoticeSweep(time.Time{})); n != 0 {
		t.Fatalf("%d notices from a program that asks for none", n)
	}
	var expiring []string
	for row, err := range db.PointsExpiring("points", time.UnixMilli(1), time.UnixMilli(1<<62), "alice") {
		if err != nil {
			t.Fatal(err)
		}
		expiring = append(expiring, fmt.Sprint(row.Member, " ", row.Amount))
	}
	if fmt.Sprint(expiring) != "[bob 10]" {
		t.Fatalf("points expiring after alice: %v", expiring)
	}
	for _, err := range db.TierReviews(time.UnixMilli(1), time.UnixMilli(0), "") {
		if !errors.Is(err, loyal.ErrInvalid) {
			t.Fatalf("reviews in an empty window: %v, want ErrInvalid", err)
		}
	}
}

func TestLeaderboards(t *testing.T) {
	db, _ := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}],
	 "leaderboards": [{"name": "posters", "measure": {"count": "post"}, "period": "week"}]}`))
	for member, posts := range map[string]int{"alice": 3, "bob": 1} {
		for i := 0; i < posts; i++ {
			must(db.Track(loyal.Event{Member: member, Type: "post", Key: fmt.Sprint(member, i)}))
		}
	}
	board := must(db.Leaderboard("posters", time.Time{}, 10))
	rows := board.Rows
	if len(rows) != 2 || rows[0].Member != "alice" {
		t.Fatalf("board %v", board)
	}
	rank := must(db.LeaderboardRank("posters", "bob", time.Time{}, 1))
	if rank.Rank != 2 {
		t.Fatalf("rank %v", rank)
	}
	if _, err := db.Leaderboard("nope", time.Time{}, 10); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("an unknown leaderboard: %v, want ErrNotFound", err)
	}
}

// Every result type read from a program with every capability, strictly (export_test.go): a
// key of the engine that no field takes fails the test.
func TestTypedResults(t *testing.T) {
	db, clock := open(t)
	must(db.ApplyProgram(`{"currencies": [{"name": "points", "expiry": {"after_days": 365}},
		{"name": "xp", "spendable": false}],
	 "rules": [{"name": "purchase", "event": "purchase", "award": {"points": "floor(event.amount)", "xp": "1"}}],
	 "tiers": {"levels": [{"name": "bronze"}, {"name": "silver", "entry": "earned(xp, 365d) >= 2", "multiplier": 2}]},
	 "segments": [{"name": "buyers", "criterion": "count(purchase) >= 1"}],
	 "badges": [{"name": "buyer", "criterion": "count(purchase) >= 2", "award": {"points": 7}},
		{"name": "founder", "criterion": "count(purchase) >= 1000"}],
	 "rewards": [{"name": "coffee", "price": {"points": 10}}],
	 "coupons": [{"name": "welcome", "value": "10% off", "uses": 2}],
	 "leaderboards": [{"name": "spenders", "measure": {"sum": "purchase.amount"}}],
	 "outbox": {"postings": ["points"]}, "notices": {"expiring_days": [366, 7]}}`))
	year := clock.Now().Add(365 * 24 * time.Hour)
	must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "o1",
		Properties: map[string]any{"amount": 20}}))
	outcome := must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "o2",
		Properties: map[string]any{"amount": 20}}))
	if !outcome.At.Equal(epoch) || outcome.TierChanges[0].To != "silver" ||
		outcome.Badges[0].Badge != "buyer" {
		t.Fatalf("outcome %+v", outcome)
	}
	credit := must(db.Credit(loyal.Posting{Member: "bob", Currency: "points", Amount: 100, Key: "k1"}))
	if moves := must(db.Transaction(credit.Txn)).Moves; len(moves) != 1 || moves[0].Kind != "create" {
		t.Fatalf("moves %+v", moves)
	}
	if lots := must(db.Explain("alice", "points")).Lots; len(lots) != 3 || !lots[0].ExpiresAt.Equal(year) {
		t.Fatalf("lots %+v", lots)
	}
	status := must(db.Tier("alice"))
	if status.Tier != "silver" || status.Multiplier != 2 || !status.NextReview.Equal(year) ||
		status.Assigned != nil {
		t.Fatalf("tier %+v", status)
	}
	if rank := must(db.LeaderboardRank("spenders", "alice", loyal.Now, 2)); rank.Score != 40 {
		t.Fatalf("rank %+v", rank)
	}
	must(db.NoticeSweep(loyal.Now))
	found := false
	for happening, err := range db.Outbox("typed", 0) {
		if err != nil {
			t.Fatal(err)
		}
		if happening.Kind == "points_expiring" && happening.Member == "alice" {
			expires, ok := happening.Body["expires_at"].(time.Time)
			found = ok && expires.Equal(year) && happening.Body["amount"] == int64(47)
		}
	}
	if !found {
		t.Fatal("no points_expiring happening with a time.Time expiry")
	}
	if consumers := must(db.OutboxConsumers()); consumers.Consumers[0].Consumer != "typed" {
		t.Fatalf("consumers %+v", consumers)
	}
	must(0, db.AssignTier("bob", "silver", clock.Now().Add(30*24*time.Hour), "ambassador"))
	for review, err := range db.TierReviews(epoch, year.Add(24*time.Hour), "") {
		if err != nil || review.ReviewAt.IsZero() {
			t.Fatalf("review %+v %v", review, err)
		}
	}
	must(db.GrantBadge("bob", "founder", "", "built it"))
	must(db.RevokeBadge("bob", "founder", "", "left"))
	if awards := must(db.Badges("bob")); awards[0].Revoked == nil || awards[0].Revoked.Reason != "left" {
		t.Fatalf("awards %+v", awards)
	}
	if progress := must(db.BadgeProgress("bob", "buyer")); progress.Target != 2 {
		t.Fatalf("progress %+v", progress)
	}
	offers := must(db.Rewards("alice", loyal.Now))
	if offers[0].Price["points"] != 10 || offers[0].StockLeft != nil {
		t.Fatalf("offers %+v", offers)
	}
	must(db.Redeem(loyal.Redeem{Member: "alice", Reward: "coffee", Key: "r1"}))
	report := must(db.ReportRewards(epoch, epoch.Add(24*time.Hour)))
	if report.Rewards[0].Redemptions["fulfilled"] != 1 || report.Coupons[0].UseRate != nil {
		t.Fatalf("report %+v", report)
	}
	issued := must(db.IssueCoupon("alice", "welcome", "w1"))
	if issued.UsesLeft == nil || *issued.UsesLeft != 2 || issued.ValidUntil.IsZero() {
		t.Fatalf("coupon %+v", issued)
	}
	if theirs := must(db.CheckCoupon("bob", issued.Code, loyal.Now)); theirs.Valid || theirs.Issued != nil {
		t.Fatalf("check %+v", theirs)
	}
	for _, period := range must(db.ReportActive("day", epoch, epoch.Add(24*time.Hour))) {
		if !period.Period.Equal(epoch) || period.Active != 1 { // bob was credited, never active
			t.Fatalf("active %+v", period)
		}
	}
	if cohorts := must(db.ReportRetention("week", epoch, epoch.Add(14*24*time.Hour))); cohorts[0].Members != 2 {
		t.Fatalf("cohorts %+v", cohorts)
	}
	if sizes := must(db.ReportSizes()); sizes.Tiers["silver"] != 2 {
		t.Fatalf("sizes %+v", sizes)
	}
	reversal := must(db.ReverseEvent(loyal.EventReversal{Member: "alice", EventKey: "o1", Key: "rev1"}))
	if len(reversal.Reversals) != 2 || reversal.Replayed {
		t.Fatalf("reversal %+v", reversal)
	}
	for member, err := range db.Members(loyal.MemberQuery{}) {
		if err != nil || member.Tier != "silver" || !member.JoinedAt.Equal(epoch) {
			t.Fatalf("member %+v %v", member, err)
		}
	}
}

func TestWithContextInterruptsAWaitingCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctx.db")
	first := must(loyal.Open(path, nil))
	defer first.Close()
	must(first.ApplyProgram(program))
	second := must(loyal.Open(path, &loyal.Options{BusyTimeout: 10 * time.Minute}))
	defer second.Close()
	credit := loyal.Posting{Member: "alice", Currency: "points", Amount: 5, Key: "waited"}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := second.WithContext(cancelled).Credit(credit); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call on a done context: %v", err)
	}

	// The first DB holds the write lock in a batch; the second's credit waits for it until
	// its deadline interrupts it, long before the busy timeout.
	locked, release := make(chan struct{}), make(chan struct{})
	batchDone := make(chan error)
	go func() {
		batchDone <- first.Batch(func(tx *loyal.DB) error {
			if _, err := tx.Credit(loyal.Posting{Member: "alice", Currency: "points",
				Amount: 1, Key: "in-batch"}); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	ctx, stop := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer stop()
	_, err := second.WithContext(ctx).Credit(credit)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, loyal.ErrInterrupted) {
		t.Fatalf("the waiting credit: %v", err)
	}
	close(release)
	if err := <-batchDone; err != nil {
		t.Fatal(err)
	}
	// Nothing was written, not even the key: the retry is a first call.
	result := must(second.WithContext(context.Background()).Credit(credit))
	if result.Replayed {
		t.Fatalf("the retry was replayed: %+v", result)
	}
	if b := must(second.Balance("alice", "points", time.Time{})); b.Available != 6 {
		t.Fatalf("balance %+v", b)
	}
}

func TestDryRunsPredictAndWriteNothing(t *testing.T) {
	db, _ := open(t)
	event := loyal.Event{Member: "alice", Type: "purchase", Key: "o1",
		Properties: map[string]any{"amount": 30}, DryRun: true}
	predicted := must(db.Track(event))
	if !predicted.DryRun || len(predicted.Postings) != 2 || predicted.Postings[0].Amount != 30 {
		t.Fatalf("predicted %+v", predicted)
	}
	if _, err := db.Member("alice"); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("the dry run created the member: %v", err)
	}
	event.DryRun = false
	real := must(db.Track(event))
	predicted.DryRun = false
	if fmt.Sprint(real) != fmt.Sprint(predicted) {
		t.Fatalf("real %+v, predicted %+v", real, predicted)
	}
	debit := loyal.Posting{Member: "alice", Currency: "points", Amount: 100, Key: "d1",
		DryRun: true}
	if _, err := db.Debit(debit); !errors.Is(err, loyal.ErrInsufficient) {
		t.Fatalf("dry debit: %v", err)
	}
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 100, Key: "c1"}))
	debit.DryRun = false
	if result := must(db.Debit(debit)); result.Replayed || result.DryRun {
		t.Fatalf("the refused dry run was recorded: %+v", result)
	}
}

func TestMemberAsOfAPastInstant(t *testing.T) {
	db, clock := open(t)
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 100, Key: "c1"}))
	before := clock.Now()
	clock.Advance(48 * time.Hour)
	must(db.Debit(loyal.Posting{Member: "alice", Currency: "points", Amount: 40, Key: "d1"}))
	past := must(db.MemberAsOf("alice", before))
	if past.Member != "alice" || !past.At.Equal(before) || len(past.Balances) != 1 ||
		past.Tier != nil || len(past.Badges) != 0 {
		t.Fatalf("as of then: %+v", past)
	}
	points := past.Balances[0]
	if points.Currency != "points" || points.Available != 100 || points.Spent != 0 ||
		len(points.Lots) != 1 || points.Lots[0].Remaining != 100 ||
		!points.Lots[0].ExpiresAt.Equal(epoch.Add(365*24*time.Hour)) {
		t.Fatalf("points then: %+v", points)
	}
	if now := must(db.MemberAsOf("alice", clock.Now())); now.Balances[0].Available != 60 {
		t.Fatalf("points now: %+v", now.Balances[0])
	}
	if _, err := db.MemberAsOf("alice", clock.Now().Add(time.Hour)); !errors.Is(err, loyal.ErrInvalid) ||
		!strings.Contains(err.Error(), "after the clock") {
		t.Fatalf("a future instant: %v", err)
	}
	if _, err := db.MemberAsOf("alice", before.Add(-time.Second)); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("before joining: %v", err)
	}
}

func TestSimulateForecastsByMonth(t *testing.T) {
	const simulated = `{"events": ["signup", "visit", "purchase"],
	 "currencies": [{"name": "points", "expiry": {"after_days": 30}}],
	 "rules": [{"name": "welcome", "event": "signup", "award": {"points": "100"}},
	  {"name": "purchase", "event": "purchase", "award": {"points": "floor(event.amount)"}}]}`
	var reports []loyal.SimulationReport
	days := 0
	for i := 0; i < 2; i++ {
		db, err := loyal.Open(filepath.Join(t.TempDir(), "sim.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, must(db.Simulate(loyal.Simulation{Program: simulated,
			Members: 100, Days: 40, Seed: 9, Profile: "shop",
			Progress: func(done, total int64) bool { days++; return true }})))
		if b := must(db.Balance("m0000000", "points", time.Time{})); b.Earned < 100 {
			t.Fatalf("the simulated member was not kept: %+v", b)
		}
		db.Close()
	}
	first := reports[0]
	if !reflect.DeepEqual(first, reports[1]) {
		t.Fatalf("the same seed gave\n%+v\nand\n%+v", first, reports[1])
	}
	if days != 80 || first.Profile != "shop" || len(first.Months) != 2 ||
		first.Months[1].Days != 9 || !first.Months[0].Month.Equal(epoch) ||
		first.Months[0].Currencies[0].Issued < 100*50 {
		t.Fatalf("report %+v after %d days", first, days)
	}
	db, _ := open(t)
	if _, err := db.Simulate(loyal.Simulation{Program: simulated, Members: 10, Days: 5}); !errors.Is(err, loyal.ErrState) {
		t.Fatalf("a database with a program: %v", err)
	}
	fresh, err := loyal.Open(filepath.Join(t.TempDir(), "stop.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	_, err = fresh.Simulate(loyal.Simulation{Program: simulated, Members: 10, Days: 30,
		Progress: func(done, total int64) bool { return done < 3 }})
	if !errors.Is(err, loyal.ErrInterrupted) {
		t.Fatalf("stopped by progress: %v", err)
	}
}

func TestWhatIfReplaysThroughACandidate(t *testing.T) {
	db, clock := open(t)
	for day := 0; day < 20; day++ {
		clock.now = epoch.Add(time.Duration(day)*24*time.Hour + 9*time.Hour)
		must(db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: fmt.Sprint("a", day),
			Properties: map[string]any{"amount": 10}}))
		if day%2 == 1 {
			must(db.Track(loyal.Event{Member: "bob", Type: "purchase", Key: fmt.Sprint("b", day),
				Properties: map[string]any{"amount": 30}}))
		}
	}
	clock.now = epoch.Add(20 * 24 * time.Hour)
	from := epoch.Add(10 * 24 * time.Hour)
	same := must(db.WhatIf(loyal.WhatIf{Program: program, From: from, Scratch: t.TempDir()}))
	if !reflect.DeepEqual(same.Live, same.Candidate) || same.Members.Differing != 0 ||
		same.Events != 30 || same.PeriodEvents != 15 || !same.From.Equal(from) ||
		!same.To.Equal(clock.now) {
		t.Fatalf("the live program as candidate: %+v", same)
	}
	doubled := strings.Replace(program, `"floor(event.amount)"`, `"floor(event.amount) * 2"`, 1)
	var seen []string
	pages := 0
	report := must(db.WhatIf(loyal.WhatIf{Program: doubled, From: from, Limit: 1,
		Progress:   func(done, total int64) bool { pages++; return done == total },
		Difference: func(row loyal.MemberDifference) bool { seen = append(seen, row.Member); return true }}))
	live, candidate := report.Live.Rules[0], report.Candidate.Rules[0]
	if live.Rule != "purchase" || live.Currency != "points" || live.Points != 250 ||
		candidate.Points != 2*live.Points || candidate.Awards != live.Awards || pages != 1 {
		t.Fatalf("rules: %+v and %+v after %d pages", live, candidate, pages)
	}
	if !reflect.DeepEqual(seen, []string{"alice", "bob"}) || len(report.Members.Biggest) != 1 {
		t.Fatalf("differences: %v, %+v", seen, report.Members)
	}
	bob := report.Members.Biggest[0]
	if bob.Member != "bob" || !reflect.DeepEqual(bob.Currencies,
		[]loyal.CurrencyDifference{{Currency: "points", Live: 300, Candidate: 450, Difference: 150}}) ||
		bob.Tier.Live != nil || bob.Tier.Candidate != nil {
		t.Fatalf("bob: %+v", bob)
	}
	_, err := db.WhatIf(loyal.WhatIf{Program: doubled, From: from,
		Difference: func(loyal.MemberDifference) bool { return false }})
	if !errors.Is(err, loyal.ErrInterrupted) {
		t.Fatalf("stopped by a difference: %v", err)
	}
	if _, err := db.WhatIf(loyal.WhatIf{Program: "{", From: from}); !errors.Is(err, loyal.ErrJSON) ||
		!strings.Contains(err.Error(), "the candidate program: ") {
		t.Fatalf("a malformed candidate: %v", err)
	}
	if _, err := db.WhatIf(loyal.WhatIf{Program: program, From: clock.now}); !errors.Is(err, loyal.ErrInvalid) {
		t.Fatalf("an empty period: %v", err)
	}
}
