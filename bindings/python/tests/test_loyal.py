"""Tests of the Python binding: every call round-trips, errors map to exceptions, the handle
is never used after close, and balances follow a model under random operations."""

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

import loyal

PROGRAM = {
    "currencies": [{"name": "points", "expiry": {"after_days": 365}},
                   {"name": "xp", "spendable": False}],
    "rules": [{"name": "purchase", "event": "purchase", "condition": "event.amount > 0",
               "award": {"points": "floor(event.amount)", "xp": "1"}}],
}
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self):
        self.now = EPOCH

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def db(tmp_path, clock):
    with loyal.Loyal(str(tmp_path / "test.db"), clock=clock) as handle:
        handle.apply_program(PROGRAM)
        yield handle


def test_readme_example_runs(tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "quickstart.py")
    out = subprocess.run([sys.executable, example, str(tmp_path / "shop.db")], check=True,
                         capture_output=True, text=True).stdout
    assert out == "alice has 32 points\n"


def test_ledger_round_trip(db, clock):
    first = db.credit("alice", "points", 500, "k1", reason="welcome", cause="signup")
    assert first == loyal.Result(first.txn, 500, False)
    assert db.credit("alice", "points", 500, "k1", reason="welcome", cause="signup").replayed
    db.debit("alice", "points", 100, "k2")
    db.adjust("alice", "points", 5, "k3", reason="goodwill")
    held = db.hold("alice", "points", 50, "k4", deadline=clock.now + dt.timedelta(days=1))
    db.capture("alice", "points", held.txn, "k5", amount=30)
    other = db.hold("alice", "points", 10, "k6", deadline=clock.now + dt.timedelta(days=1))
    db.release("alice", "points", other.txn, "k7")
    db.transfer("alice", "bob", "points", 25, "k8")
    assert db.reverse("alice", "points", first.txn, "k9", amount=100).amount == 100
    db.credit("alice", "points", 40, "k10", pending=dt.timedelta(days=3),
              expires_at=clock.now + dt.timedelta(days=10))
    balance = db.balance("alice", "points")
    assert (balance.available, balance.pending, balance.spent) == (250, 40, 130)
    assert balance.next_expiry_at == clock.now + dt.timedelta(days=365)
    assert db.balance("bob", "points").available == 25
    assert db.expiring("alice", "points") == [loyal.Expiring(clock.now + dt.timedelta(days=365),
                                                             250)]
    rows = list(db.statement("alice"))
    assert [row.kind for row in rows][:2] == ["credit", "reversal"]
    assert rows[1].reverses == first.txn and rows[1].at == clock.now
    assert len(list(db.statement("alice", currency="points", before=rows[0].txn))) == \
        len(rows) - 1
    entry = db.transaction(first.txn).entries[0]
    assert (entry.from_account, entry.to_account) == ("system:issued", "alice:available")
    explained = db.explain("alice", "points")
    assert explained.member == "alice" and explained.lots[0].earned_at == clock.now
    clock.now += dt.timedelta(days=400)
    assert db.expire() >= 1
    assert db.balance("alice", "points").expired == 290  # the 40 pending expired too
    db.verify()
    assert db.now() == clock.now


def test_members_program_events_and_criteria(db, clock):
    assert db.program().version == 1
    assert db.program().document["currencies"][0]["name"] == "points"
    db.set_attributes("alice", {"role": "teacher", "timezone": "+08:00"})
    db.block("mallory")
    assert db.member("mallory").status == "blocked"
    assert db.member("mallory").joined_at == clock.now
    db.unblock("mallory")
    assert db.member("alice").attributes["role"] == "teacher"
    outcome = db.track("alice", "purchase", "order-1", {"amount": 19.99})
    assert [(p.currency, p.amount) for p in outcome.postings] == [("points", 19), ("xp", 1)]
    assert outcome.at == clock.now and outcome.replayed is False
    assert outcome.tier_changes == [] and outcome.skipped == []
    assert db.track("alice", "purchase", "order-1", {"amount": 19.99}).replayed is True
    reversed_ = db.reverse_event("alice", "order-1", "return-1", part=1, whole=2)
    assert [r.amount for r in reversed_.reversals] == [9]  # half of 1 xp rounds to 0
    info = db.check("count(purchase, 30d) >= 1 and count(purchase) >= 1")
    assert info.type == "boolean"
    assert [m.window for m in info.measures] == [dt.timedelta(days=30), None]
    assert db.evaluate("count(purchase)", "alice") == 1
    assert db.evaluate("event.x * 2", "alice", {"x": 21}) == 42
    assert db.evaluate("event.missing", "alice") is None


def test_a_member_as_of_a_past_instant(db, clock):
    db.credit("alice", "points", 100, "k1")
    before = clock.now
    clock.now += dt.timedelta(days=2)
    db.debit("alice", "points", 40, "k2")
    past = db.member_as_of("alice", before)
    assert past.member == "alice" and past.at == before
    (points,) = past.balances
    assert (points.currency, points.available, points.spent) == ("points", 100, 0)
    assert [lot.remaining for lot in points.lots] == [100]
    assert points.lots[0].expires_at == EPOCH + dt.timedelta(days=365)
    assert past.tier is None and past.badges == []
    assert db.member_as_of("alice", clock.now).balances[0].available == 60
    with pytest.raises(loyal.InvalidArgument, match="after the clock"):
        db.member_as_of("alice", clock.now + dt.timedelta(hours=1))
    with pytest.raises(loyal.NotFound, match="had not joined"):
        db.member_as_of("alice", before - dt.timedelta(seconds=1))


def test_simulate_forecasts_by_month(tmp_path):
    program = dict(PROGRAM, events=["signup", "purchase", "visit"])
    program["rules"] = PROGRAM["rules"] + [
        {"name": "welcome", "event": "signup", "award": {"points": "100"}}]
    reports, days_seen = [], []
    for name in ("a.db", "b.db"):
        with loyal.Loyal(str(tmp_path / name)) as db:
            reports.append(db.simulate(program, members=100, days=40, seed=5, profile="shop",
                                       progress=lambda done, total: days_seen.append(done)))
            assert db.balance("m0000000", "points").earned >= 100
    first, second = reports
    assert first == second
    assert (first.profile, first.members, first.days, first.seed) == ("shop", 100, 40, 5)
    assert first.start == EPOCH and first.end == EPOCH + dt.timedelta(days=40)
    assert [m.days for m in first.months] == [31, 9]
    assert first.months[0].month == EPOCH
    points = first.months[0].currencies[0]
    assert points.currency == "points" and points.issued >= 100 * 50
    assert days_seen == list(range(1, 41)) * 2
    with loyal.Loyal(str(tmp_path / "c.db")) as db:
        with pytest.raises(loyal.Interrupted):
            db.simulate(program, members=10, days=30, progress=lambda done, total: done == 3)
        with pytest.raises(loyal.InvalidState, match="has a program already"):
            db.simulate(program, members=10, days=30)
    with loyal.Loyal(str(tmp_path / "d.db")) as db:
        with pytest.raises(loyal.InvalidArgument, match="'mall'"):
            db.simulate(program, members=10, days=30, profile="mall")
        with pytest.raises(ZeroDivisionError):
            db.simulate(program, members=10, days=30, progress=lambda done, total: 1 / 0)


def test_whatif_replays_through_a_candidate(db, clock, tmp_path):
    for day in range(20):
        clock.now = EPOCH + dt.timedelta(days=day, hours=9)
        db.track("alice", "purchase", f"a{day}", {"amount": 10})
        if day % 2:
            db.track("bob", "purchase", f"b{day}", {"amount": 30})
    clock.now = EPOCH + dt.timedelta(days=20)
    start = EPOCH + dt.timedelta(days=10)
    same = db.whatif(PROGRAM, start=start, scratch=tmp_path)
    assert same.live == same.candidate
    assert (same.start, same.end, same.events, same.period_events) == (start, clock.now, 30, 15)
    assert same.members == loyal.WhatIfMembers(2, 0, [])
    doubled = dict(PROGRAM, rules=[dict(PROGRAM["rules"][0], award={
        "points": "floor(event.amount) * 2", "xp": "1"})])
    seen, pages = [], []
    report = db.whatif(doubled, start=start, limit=1, scratch=tmp_path,
                       progress=lambda done, total: pages.append((done, total)),
                       difference=seen.append)
    live, candidate = report.live.rules[0], report.candidate.rules[0]
    assert (live.rule, live.currency, live.points, live.awards) == ("purchase", "points", 250, 15)
    assert candidate.points == 2 * live.points and candidate.awards == live.awards
    assert report.candidate.currencies[0].issued == 500
    assert pages == [(30, 30)]
    assert [row.member for row in seen] == ["alice", "bob"]
    (bob,) = report.members.biggest  # limit 1: the biggest, bob (5 purchases of 30)
    assert bob.member == "bob"
    assert bob.currencies == [loyal.CurrencyDifference("points", 300, 450, 150)]
    assert bob.tier == loyal.TierDifference(None, None)
    assert not list(tmp_path.glob("loyal-whatif-*"))
    with pytest.raises(loyal.Interrupted):
        db.whatif(doubled, start=start, difference=lambda row: True)
    with pytest.raises(ZeroDivisionError):
        db.whatif(doubled, start=start, progress=lambda done, total: 1 / 0)
    with pytest.raises(loyal.InvalidJSON, match="the candidate program: "):
        db.whatif("{", start=start)
    with pytest.raises(loyal.InvalidArgument, match="must be before whatif.to"):
        db.whatif(doubled, start=clock.now)


def test_batch_commits_or_rolls_back(db):
    with db.batch():
        db.credit("alice", "points", 10, "b1")
    with pytest.raises(RuntimeError):
        with db.batch():
            db.credit("carol", "points", 10, "b2")
            raise RuntimeError("abandon the batch")
    assert db.balance("alice", "points").available == 10
    with pytest.raises(loyal.NotFound):
        db.balance("carol", "points")


def test_a_batch_owns_the_handle_so_another_threads_call_is_not_rolled_back_with_it(db):
    import threading
    import time
    started, results = threading.Event(), {}

    def batch_that_fails():
        try:
            with db.batch():
                started.set()
                time.sleep(0.3)  # the other thread calls meanwhile
                db.credit("carol", "points", 10, "batch-carol")
                raise RuntimeError("abandon the batch")
        except RuntimeError:
            results["batch"] = "rolled back"

    def single_call():
        started.wait()
        results["bob"] = db.credit("bob", "points", 10, "single-bob")

    threads = [threading.Thread(target=batch_that_fails), threading.Thread(target=single_call)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["batch"] == "rolled back"
    assert not results["bob"].replayed
    assert db.balance("bob", "points").available == 10  # committed on its own, after the batch
    with pytest.raises(loyal.NotFound):
        db.balance("carol", "points")


def test_a_batch_whose_begin_fails_leaves_the_handle_usable(db):
    with db.batch():
        with pytest.raises(loyal.InvalidState):
            with db.batch():
                pass
        db.credit("alice", "points", 1, "nested")
    assert db.balance("alice", "points").available == 1


def test_errors_map_to_exceptions_with_the_c_message(db):
    with pytest.raises(loyal.NotFound) as caught:
        db.credit("alice", "doubloons", 10, "k")
    assert caught.value.code == -8 and caught.value.name == "LOYAL_ENOTFOUND"
    assert "doubloons" in caught.value.message
    db.credit("alice", "points", 5, "k")
    with pytest.raises(loyal.InsufficientPoints, match="5 available"):
        db.debit("alice", "points", 50, "k2")
    with pytest.raises(loyal.Conflict):
        db.credit("alice", "points", 6, "k")
    with pytest.raises(loyal.InvalidArgument, match="^amount"):
        db.credit("alice", "points", -1, "k3")
    with pytest.raises(loyal.CriteriaSyntaxError, match="line 1, column 4"):
        db.check("1 +")
    with pytest.raises(loyal.InvalidJSON):
        db.apply_program("{")
    with pytest.raises(loyal.InvalidState):
        db.reverse("alice", "points", 1, "k4")
        db.reverse("alice", "points", 1, "k5")
    assert issubclass(loyal.Blocked, loyal.Error)


def test_open_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some words that fill the header " * 3)
    with pytest.raises(loyal.NotADatabase, match="notes.txt"):
        loyal.Loyal(str(text))
    with pytest.raises(loyal.NotFound):
        loyal.Loyal(str(tmp_path / "missing.db"), create=False)


def test_use_after_close_raises_instead_of_crashing(tmp_path):
    db = loyal.Loyal(str(tmp_path / "x.db"))
    db.apply_program(PROGRAM)
    db.credit("alice", "points", 1, "k")
    rows = db.statement("alice")
    db.close()
    db.close()
    with pytest.raises(loyal.Misuse, match="closed"):
        db.balance("alice", "points")
    with pytest.raises(loyal.Misuse):
        next(rows)


def test_clock_exceptions_are_raised_after_the_call(tmp_path):
    state = {"fail": False}

    def clock():
        if state["fail"]:
            raise ZeroDivisionError("the clock broke")
        return EPOCH

    with loyal.Loyal(str(tmp_path / "c.db"), clock=clock) as db:
        db.apply_program(PROGRAM)
        state["fail"] = True
        with pytest.raises(ZeroDivisionError, match="clock broke"):
            db.now()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["credit", "debit", "hold", "release"]),
                          st.sampled_from(["alice", "bob"]), st.integers(1, 300)),
                max_size=40))
def test_balances_follow_a_model(tmp_path_factory, operations):
    path = tmp_path_factory.mktemp("model") / "model.db"
    model = {"alice": [0, 0], "bob": [0, 0]}  # available, held
    holds = []
    with loyal.Loyal(str(path), clock=lambda: EPOCH) as db:
        db.apply_program(PROGRAM)
        for index, (kind, member, amount) in enumerate(operations):
            key = f"op-{index}"
            if kind == "credit":
                db.credit(member, "points", amount, key)
                model[member][0] += amount
            elif kind in ("debit", "hold"):
                if model[member][0] < amount:
                    with pytest.raises((loyal.InsufficientPoints, loyal.NotFound)):
                        if kind == "debit":
                            db.debit(member, "points", amount, key)
                        else:
                            db.hold(member, "points", amount, key,
                                    deadline=EPOCH + dt.timedelta(days=1))
                    continue
                if kind == "debit":
                    db.debit(member, "points", amount, key)
                else:
                    held = db.hold(member, "points", amount, key,
                                   deadline=EPOCH + dt.timedelta(days=1))
                    holds.append((member, held.txn, amount))
                    model[member][1] += amount
                model[member][0] -= amount
            elif holds:
                member, txn, amount = holds.pop()
                db.release(member, "points", txn, key)
                model[member][0] += amount
                model[member][1] -= amount
        for member, (available, held) in model.items():
            try:
                balance = db.balance(member, "points")
            except loyal.NotFound:
                assert available == held == 0
                continue
            assert (balance.available, balance.held) == (available, held)
        db.verify()


def test_tiers(tmp_path, clock):
    program = dict(PROGRAM, tiers={"levels": [{"name": "bronze"},
                                              {"name": "silver", "entry": "earned(xp, 365d) >= 2",
                                               "multiplier": 2}]})
    with loyal.Loyal(str(tmp_path / "t.db"), clock=clock) as db:
        db.apply_program(program)
        db.track("alice", "purchase", "o1", {"amount": 10})
        outcome = db.track("alice", "purchase", "o2", {"amount": 10})
        assert outcome.tier_changes == [loyal.TierChange("bronze", "silver", "entry")]
        status = db.tier("alice")
        assert (status.tier, status.since, status.multiplier) == ("silver", clock.now, 2.0)
        assert status.next_review == clock.now + dt.timedelta(days=365)
        assert [row.to_tier for row in db.tier_history("alice")] == ["silver", "bronze"]
        clock.now += dt.timedelta(days=800)
        assert db.tier_sweep() == 1
        assert db.tier("alice").tier == "bronze"
        upcoming = db.tier("alice").next
        assert (upcoming.tier, upcoming.current, upcoming.target, upcoming.missing) == \
            ("silver", 0, 2, 2)
        db.assign_tier("alice", "silver", "ambassador", until=clock.now + dt.timedelta(days=90))
        assert db.tier("alice").assigned == loyal.TierAssignment(
            "silver", clock.now + dt.timedelta(days=90), "ambassador")
        assert db.tier("alice").tier == "silver"
        assert db.release_tier("alice", "stepped down") is True
        assert db.release_tier("alice", "again") is False
        assert db.tier("alice").tier == "bronze"
        with pytest.raises(loyal.NotFound):
            db.assign_tier("alice", "platinum", "r")


def test_segments(tmp_path, clock):
    program = dict(PROGRAM, segments=[{"name": "silent", "criterion": "days_since(last_seen) >= 30"},
                                      {"name": "buyers", "criterion": "count(purchase) >= 1"}])
    with loyal.Loyal(str(tmp_path / "s.db"), clock=clock) as db:
        db.apply_program(program)
        db.track("alice", "purchase", "o1", {"amount": 3})
        assert db.segments_of("alice") == ["buyers"]
        assert list(db.segment_members("buyers")) == ["alice"]
        assert db.refresh_segments() == [loyal.SegmentChange("buyers", "alice", "entered")]
        clock.now += dt.timedelta(days=30)
        assert db.refresh_segments() == [loyal.SegmentChange("silent", "alice", "entered")]


def test_badges(tmp_path, clock):
    program = dict(PROGRAM, badges=[{"name": "buyer", "criterion": "count(purchase) >= 2",
                                     "award": {"points": 7}},
                                    {"name": "veteran", "criterion": "member.age >= 10d"}])
    with loyal.Loyal(str(tmp_path / "b.db"), clock=clock) as db:
        db.apply_program(program)
        db.track("alice", "purchase", "o1", {"amount": 3})
        assert db.badge_progress("alice", "buyer").percent == 50
        assert db.track("alice", "purchase", "o2", {"amount": 3}).badges == [
            loyal.BadgeChange("buyer", None)]
        assert db.balance("alice", "points").available == 13
        clock.now += dt.timedelta(days=10)
        assert db.badge_sweep() == 1
        awards = db.badges("alice")
        assert [(b.badge, b.how, b.at) for b in awards] == [
            ("buyer", "earned", EPOCH), ("veteran", "earned", clock.now)]


def test_reports(db, clock):
    db.track("alice", "purchase", "o1", {"amount": 30})
    assert db.report_liability()[0].outstanding == 30
    flows = db.report_flows(clock.now, clock.now + dt.timedelta(days=1))
    assert flows[0].issued == 30 and flows[0].breakage == 0.0
    assert db.report_active("day", clock.now, clock.now + dt.timedelta(days=1)) == [
        loyal.ActivePeriod(clock.now, 1)]
    [cohort] = db.report_retention("week", clock.now, clock.now + dt.timedelta(days=7))
    assert cohort.members == 1 and cohort.cohort <= clock.now
    assert db.report_sizes() == loyal.Sizes(tiers={}, segments={})
    with pytest.raises(loyal.InvalidArgument):
        db.report_active("year", clock.now, clock.now + dt.timedelta(days=1))


REWARDS = dict(PROGRAM, rewards=[
    {"name": "coffee", "price": {"points": 100}, "limits": [{"per": "day", "count": 1}]},
    {"name": "mug", "kind": "gift", "price": {"points": 300}, "stock": 1,
     "fulfilment": "two_phase", "deadline_days": 7},
])


def test_rewards_redeem_fulfil_cancel(db, clock):
    db.apply_program(REWARDS)
    db.credit("alice", "points", 1000, "k1")
    coffee = db.redeem("alice", "coffee", "r1")
    assert coffee.state == "fulfilled" and coffee.postings[0].amount == 100
    assert coffee.settled_at == clock.now and coffee.deadline is None
    assert db.redeem("alice", "coffee", "r1").replayed is True
    with pytest.raises(loyal.LimitReached) as refused:
        db.redeem("alice", "coffee", "r2")
    assert refused.value.replayed is False
    with pytest.raises(loyal.LimitReached) as refused:
        db.redeem("alice", "coffee", "r2")
    assert refused.value.replayed is True  # the same key: the refusal recorded before
    mug = db.redeem("alice", "mug", "r3")
    assert mug.state == "pending" and mug.deadline == clock.now + dt.timedelta(days=7)
    db.credit("bob", "points", 1000, "k1")
    with pytest.raises(loyal.SoldOut):
        db.redeem("bob", "mug", "r1")
    assert [r.reward for r in db.pending_redemptions()] == ["mug"]
    assert db.fulfil("alice", mug.id, "f1").state == "fulfilled"
    with pytest.raises(loyal.InvalidState):
        db.fulfil("alice", mug.id, "f2")
    cancelled = db.cancel_redemption("alice", mug.id, "c1")
    assert cancelled.state == "cancelled" and cancelled.postings[0].refund is not None
    assert db.balance("alice", "points").available == 900
    assert [r.reward for r in db.redemptions("alice")] == ["mug", "coffee"]
    assert db.redemption("alice", coffee.id).reward == "coffee"
    report = db.report_rewards(clock.now - dt.timedelta(days=1), clock.now + dt.timedelta(1))
    assert report.rewards[0].units == 1 and report.rewards[1].stock_left == 1
    listed = {r.reward: r for r in db.rewards("bob")}
    assert listed["mug"].available and listed["coffee"].available
    with pytest.raises(loyal.NotFound):
        db.redeem("alice", "tea", "r4")
    db.verify()


def test_coupons_issue_reserve_and_use(db):
    db.apply_program(dict(PROGRAM, coupons=[
        {"name": "welcome", "value": "10% off", "uses": 2},
        {"name": "partner", "codes": "pool", "value": {"amount": 5}}]))
    assert db.import_coupon_codes("partner", ["aaaa-1111", "BBBB-2222", "AAAA-1111"]) == (2, 1)
    with pytest.raises(loyal.InvalidArgument):
        db.import_coupon_codes("partner", "ok-code\nnot a code")
    assert db.issue_coupon("alice", "partner", "p1").code == "AAAA-1111"
    issued = db.issue_coupon("alice", "welcome", "w1")
    code = issued.code
    assert issued.issued_at == issued.valid_from and issued.replayed is False
    checked = db.check_coupon("alice", code.lower())
    assert checked.valid is True and checked.issued.valid_until > checked.issued.valid_from
    theirs = db.check_coupon("bob", code)
    assert (theirs.valid, theirs.why, theirs.issued) == (False, "not_this_members", None)
    held = db.reserve_coupon("alice", code, "checkout-1")
    db.release_coupon("alice", held.reservation, "release-1")
    assert db.use_coupon("alice", code, "u1").uses_left == 1
    db.use_coupon("alice", code, "u2")
    with pytest.raises(loyal.LimitReached):
        db.use_coupon("alice", code, "u3")
    assert [c.coupon for c in db.coupons("alice")] == ["welcome", "partner"]
    db.issue_coupon("bob", "partner", "p1")
    with pytest.raises(loyal.SoldOut):
        db.issue_coupon("carol", "partner", "p1")


def test_grants_serve_each_member_once(db):
    db.apply_program(dict(PROGRAM, segments=[{"name": "everyone", "criterion": "true"}],
                          coupons=[{"name": "thanks", "value": "a coffee"}]))
    for member in ("alice", "bob", "carol"):
        db.set_attributes(member, {})
    db.block("carol")
    seen, refusals = [], []
    report = db.grant("outage-1", members=["alice", "bob", "carol", "ghost"],
                      currency="points", amount=25, reason="sorry",
                      progress=lambda done, total: seen.append((done, total)),
                      refused=lambda member, why, message: refusals.append((member, why)))
    assert (report.granted, report.refused) == (2, 2)
    assert report.why == {"blocked": 1, "unknown_member": 1}
    assert seen == [(4, 4)]
    assert refusals == [("carol", "blocked"), ("ghost", "unknown_member")]
    again = db.grant("outage-1", members=["alice", "bob"], currency="points", amount=25,
                     reason="sorry")
    assert (again.granted, again.already_granted) == (0, 2)
    assert db.balance("bob", "points").available == 25
    with pytest.raises(loyal.Conflict):
        db.grant("outage-1", members=["alice"], currency="points", amount=30, reason="sorry")
    assert db.grant("hello", segment="everyone", coupon="thanks").granted == 2
    assert [c.coupon for c in db.coupons("alice")] == ["thanks"]
    with pytest.raises(loyal.InvalidArgument):
        db.grant("bad", segment="everyone", members=["alice"], coupon="thanks")

    def fail(done, total):
        raise KeyError("stop")
    with pytest.raises(KeyError):
        db.grant("raises", members=["alice"], currency="points", amount=1, progress=fail)


def test_members_are_searched(db):
    db.apply_program(dict(PROGRAM, segments=[{"name": "teachers",
                                               "criterion": 'member.role == "teacher"'}]))
    for member, role in (("alice", "teacher"), ("bob", "student"), ("carol", "teacher")):
        db.set_attributes(member, {"role": role, "grade": 3})
    db.block("carol")
    db.refresh_segments()
    assert [m.id for m in db.members()] == ["alice", "bob", "carol"]
    assert [m.id for m in db.members(attribute="role", value="teacher")] == ["alice", "carol"]
    assert [m.id for m in db.members(attribute="grade", value=3.0)] == ["alice", "bob", "carol"]
    assert [m.id for m in db.members(segment="teachers", status="active")] == ["alice"]
    assert [m.id for m in db.members(after="alice")] == ["bob", "carol"]
    with pytest.raises(loyal.NotFound):
        db.members(tier="platinum")
    with pytest.raises(loyal.InvalidArgument):
        db.members(attribute="role")


def test_badges_are_granted_and_revoked(db):
    db.apply_program(dict(PROGRAM, badges=[{"name": "founder", "criterion": "count(purchase) >= 1000"}]))
    db.set_attributes("alice", {})
    assert db.grant_badge("alice", "founder", "built the forum") is True
    assert db.grant_badge("alice", "founder", "again") is False
    assert db.revoke_badge("alice", "founder", "left") is True
    [award] = db.badges("alice")
    assert award.how == "granted" and award.revoked.reason == "left"
    with pytest.raises(loyal.NotFound):
        db.grant_badge("alice", "nope", "r")
    with pytest.raises(loyal.InvalidArgument):
        db.grant_badge("alice", "founder", "r", level="gold")


def test_the_outbox_feeds_consumers(db):
    db.apply_program(dict(PROGRAM, outbox={"postings": ["points"]}))
    db.credit("alice", "points", 100, "c1")
    db.credit("bob", "points", 5, "c2")
    rows = list(db.outbox("mailer"))
    assert [(r.kind, r.member) for r in rows] == [("points_credited", "alice"),
                                                  ("points_credited", "bob")]
    assert rows[0].body["amount"] == 100 and rows[0].at == EPOCH
    assert list(db.outbox("mailer")) == rows  # not acknowledged: the same rows again
    db.outbox_ack("mailer", rows[0].position)
    assert [r.member for r in db.outbox("mailer")] == ["bob"]
    assert db.outbox_consumers().consumers[0].behind == 1
    with pytest.raises(loyal.InvalidArgument):
        db.outbox_ack("mailer", 999)
    assert db.outbox_forget("mailer") and not db.outbox_forget("mailer")
    assert db.notice_sweep() == 0  # the program asks for no notices
    year = EPOCH + dt.timedelta(days=366)
    soon = [(r.member, r.amount, r.expires_at) for r in db.points_expiring(EPOCH, year)]
    assert soon == [("alice", 100, EPOCH + dt.timedelta(days=365)),
                    ("bob", 5, EPOCH + dt.timedelta(days=365))]
    assert [r.member for r in db.points_expiring(EPOCH, year, after="alice")] == ["bob"]
    assert list(db.tier_reviews(EPOCH, year)) == []


def test_leaderboards(db):
    db.apply_program(dict(PROGRAM, leaderboards=[{"name": "spenders",
                                                  "measure": {"sum": "purchase.amount"}}]))
    for member, amount in (("alice", 10), ("bob", 30), ("carol", 20)):
        db.track(member, "purchase", "o-" + member, {"amount": amount})
    board = db.leaderboard("spenders", limit=2)
    assert [(r.member, r.score) for r in board.rows] == [("bob", 30), ("carol", 20)]
    rank = db.leaderboard_rank("spenders", "alice", neighbours=1)
    assert rank.rank == 3 and [r.member for r in rank.rows] == ["carol", "alice"]
    with pytest.raises(loyal.NotFound):
        db.leaderboard("nope")


def test_exceptions_are_also_the_builtins_they_mean(db):
    with pytest.raises(ValueError):
        db.credit("alice", "points", -1, "k")
    with pytest.raises(LookupError):
        db.balance("nobody", "points")
    with pytest.raises(ValueError):
        db.check("1 +")
    assert issubclass(loyal.Busy, TimeoutError) and issubclass(loyal.StorageError, OSError)
    assert issubclass(loyal.ReadOnly, PermissionError) and issubclass(loyal.Overflow,
                                                                     OverflowError)
    assert issubclass(loyal.InsufficientPoints, loyal.Refused)


def test_messages_speak_python(db, tmp_path):
    with pytest.raises(loyal.NotFound) as caught:
        loyal.Loyal(tmp_path / "missing.db", create=False)
    assert str(caught.value) == caught.value.message
    assert "LOYAL_" not in str(caught.value) and "create=True" in str(caught.value)
    with pytest.raises(loyal.InvalidArgument) as caught:
        db.credit("alice", "points", 5, "")
    assert str(caught.value).startswith("key ") and "posting" not in str(caught.value)
    assert repr(caught.value).startswith("InvalidArgument(")


def test_a_replayed_refusal_is_told_from_a_fresh_one(db):
    db.credit("alice", "points", 5, "earn")
    with pytest.raises(loyal.InsufficientPoints) as fresh:
        db.debit("alice", "points", 50, "spend")
    db.credit("alice", "points", 100, "earn-more")
    with pytest.raises(loyal.InsufficientPoints) as again:
        db.debit("alice", "points", 50, "spend")
    assert (fresh.value.replayed, again.value.replayed) == (False, True)
    assert db.debit("alice", "points", 50, "spend-2").replayed is False


def test_times_must_be_aware_datetimes(db):
    with pytest.raises(ValueError, match="naive"):
        db.credit("alice", "points", 5, "k", at=dt.datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="at must be a datetime"):
        db.credit("alice", "points", 5, "k", at=1767225600000)
    with pytest.raises(TypeError, match="pending must be a timedelta"):
        db.credit("alice", "points", 5, "k", pending=3)
    paris = dt.timezone(dt.timedelta(hours=1))
    result = db.credit("alice", "points", 5, "k", at=dt.datetime(2026, 1, 1, 1, tzinfo=paris))
    assert db.transaction(result.txn).at == EPOCH  # 01:00 in Paris is midnight UTC
    with pytest.raises(TypeError):
        db.credit("alice", "points", "5", "k2")
    with pytest.raises(TypeError):
        db.credit("alice", "points", 5, "k2", reasn="typo")  # no **kwargs to swallow it


def test_properties_take_decimals_datetimes_and_dates(db):
    import decimal
    db.apply_program(dict(PROGRAM, rules=[
        {"name": "purchase", "event": "purchase", "award": {"points": "floor(event.amount)"}},
        {"name": "birthday", "event": "purchase", "condition": 'event.day == "2026-01-01"',
         "award": {"points": "100"}}]))
    outcome = db.track("alice", "purchase", "o1", {
        "amount": decimal.Decimal("42.50"), "day": dt.date(2026, 1, 1),
        "paid_at": dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.timezone.utc)})
    assert sorted((p.rule, p.amount) for p in outcome.postings) == [("birthday", 100),
                                                                    ("purchase", 42)]
    assert db.evaluate("event.t", "alice", {"t": dt.datetime(2026, 1, 1, 9, 30,
                                                              tzinfo=dt.timezone.utc)}) \
        == "2026-01-01T09:30:00.000Z"
    with pytest.raises(ValueError, match="naive"):
        db.track("alice", "purchase", "o2", {"paid_at": dt.datetime(2026, 1, 1)})
    with pytest.raises(TypeError, match="set is not a JSON value"):
        db.track("alice", "purchase", "o3", {"tags": {"a"}})


def test_paths_may_be_pathlike(tmp_path):
    with loyal.Loyal(tmp_path / "p.db") as db:
        db.apply_program(PROGRAM)
    assert (tmp_path / "p.db").exists()


def test_the_version_is_the_engines_and_the_packages():
    import pathlib
    import re
    pyproject = (pathlib.Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M)[1] == loyal.__version__
    assert loyal.__version__ == loyal.version()


def test_every_public_method_and_type_is_documented():
    import inspect
    for name, member in inspect.getmembers(loyal.Loyal):
        if not name.startswith("_"):
            assert member.__doc__, f"Loyal.{name} has no docstring"
    for name in loyal.types.__all__ + loyal.errors.__all__:
        assert name in loyal.__all__ and getattr(loyal, name).__doc__, name


RICH = dict(
    PROGRAM,
    tiers={"levels": [{"name": "bronze"},
                      {"name": "silver", "entry": "earned(xp, 365d) >= 2", "multiplier": 2}]},
    segments=[{"name": "buyers", "criterion": "count(purchase) >= 1"}],
    badges=[{"name": "buyer", "criterion": "count(purchase) >= 2", "award": {"points": 7}},
            {"name": "founder", "criterion": "count(purchase) >= 1000"}],
    rewards=[{"name": "coffee", "price": {"points": 10}}],
    coupons=[{"name": "welcome", "value": "10% off", "uses": 2}],
    leaderboards=[{"name": "spenders", "measure": {"sum": "purchase.amount"}}],
    outbox={"postings": ["points"]},
    notices={"expiring_days": [366, 7]})


def test_every_result_type_reads_the_engines_answers(db, clock):
    """Each call's answer read strictly (conftest): no key of the engine is left unread."""
    db.apply_program(RICH)
    db.track("alice", "purchase", "o1", {"amount": 20})
    db.track("alice", "purchase", "o2", {"amount": 20})
    credit = db.credit("bob", "points", 100, "k1")
    db.hold("bob", "points", 10, "h1", deadline=clock.now + dt.timedelta(days=1))
    assert db.transaction(credit.txn).moves == [loyal.LotMove(100, "create", credit.txn)]
    lots = db.explain("alice", "points").lots
    assert [lot.history[0].kind for lot in lots] == ["create"] * 3
    assert lots[0].expires_at == clock.now + dt.timedelta(days=365)
    assert db.leaderboard_rank("spenders", "alice").score == 40
    assert db.notice_sweep() == 2
    happenings = list(db.outbox("m"))
    expiring = [h for h in happenings if h.kind == "points_expiring"]
    assert expiring[0].body["expires_at"] == clock.now + dt.timedelta(days=365)
    assert db.outbox_consumers().newest == happenings[-1].position
    db.assign_tier("bob", "silver", "ambassador", until=clock.now + dt.timedelta(days=30))
    reviews = {r.member: r for r in db.tier_reviews(EPOCH, EPOCH + dt.timedelta(days=400))}
    assert reviews["bob"].review_at == clock.now + dt.timedelta(days=30)
    db.grant_badge("bob", "founder", "built it")
    db.revoke_badge("bob", "founder", "left")
    [award] = db.badges("bob")
    assert award.revoked == loyal.Revocation(clock.now, "left")
    assert db.badge_progress("bob", "buyer").target == 2
    assert db.report_liability()[0].held == 10
    offers = db.rewards("alice")
    assert offers[0].price == {"points": 10} and offers[0].missing == {}
    db.redeem("alice", "coffee", "r1")
    report = db.report_rewards(EPOCH, EPOCH + dt.timedelta(days=1))
    assert report.coupons[0].coupon == "welcome"
    assert report.rewards[0].redemptions["fulfilled"] == 1
    issued = db.issue_coupon("alice", "welcome", "w1")
    reserved = db.reserve_coupon("alice", issued.code, "res1")
    assert reserved.reservation is not None and reserved.uses_left == 1
    assert db.grant("g1", members=["alice", "ghost"], currency="points",
                    amount=5).why == {"unknown_member": 1}
    reversal = db.reverse_event("alice", "o1", "rev1")
    assert {(r.currency, r.amount) for r in reversal.reversals} == {("points", 20), ("xp", 1)}
    assert [m.tier for m in db.members()] == ["silver", "silver"]


def test_interrupt_stops_a_call_waiting_for_another_writer(tmp_path):
    path = str(tmp_path / "interrupt.db")
    first = loyal.Loyal(path)
    second = loyal.Loyal(path, busy_timeout=dt.timedelta(minutes=10))
    try:
        first.apply_program(PROGRAM)
        first.credit("alice", "points", 10, "first")
        second.interrupt()  # no call runs: nothing to stop, nothing kept for later
        assert second.balance("alice", "points").available == 10
        outcome = {}

        def credit():
            try:
                second.credit("alice", "points", 5, "waited")
                outcome["error"] = None
            except loyal.Error as error:
                outcome["error"] = error

        with first.batch():
            first.credit("alice", "points", 1, "in-batch")
            waiter = threading.Thread(target=credit)
            waiter.start()
            while waiter.is_alive():  # an interrupt before the call began is for no call
                time.sleep(0.02)
                second.interrupt()
            waiter.join()
        assert isinstance(outcome["error"], loyal.Interrupted)
        assert isinstance(outcome["error"], InterruptedError)
        assert second.credit("alice", "points", 5, "waited").replayed is False
        assert second.balance("alice", "points").available == 16
    finally:
        second.close()
        first.close()
    second.interrupt()  # closed: does nothing


def test_dry_runs_predict_and_write_nothing(db, clock):
    predicted = db.track("alice", "purchase", "o1", {"amount": 30}, dry_run=True)
    assert predicted.dry_run is True and [p.amount for p in predicted.postings] == [30, 1]
    with pytest.raises(loyal.NotFound):
        db.member("alice")
    real = db.track("alice", "purchase", "o1", {"amount": 30})
    assert real.dry_run is False and real == dataclasses.replace(predicted, dry_run=False)
    result = db.debit("alice", "points", 10, "d1", dry_run=True)
    assert result.dry_run and result.amount == 10 and not result.replayed
    assert db.balance("alice", "points").available == 30
    with pytest.raises(loyal.InsufficientPoints) as refused:
        db.debit("alice", "points", 100, "d2", dry_run=True)
    assert refused.value.replayed is False
    db.credit("alice", "points", 100, "c1")
    assert db.debit("alice", "points", 100, "d2").replayed is False  # nothing was recorded
    with pytest.raises(TypeError):
        db.credit("alice", "points", 1, "c2", dry_run="yes")
