"""Runs the CLI as a user would: the human output of each command (tables, cards, times in the
program's time zone, amounts with their currency), the --json shapes (snake_case keys, RFC 3339
times in UTC), errors for people and as JSON, the exit codes, help and suggestions, and the
flags in any position."""

import datetime
import json
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("LOYAL_CLI", os.path.join(ROOT, "build", "loyal"))
LIFECYCLE = os.path.join(ROOT, "examples", "lifecycle.json")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def run(db, *args, json_output=False, stdin=None):
    command = [CLI, "--db", str(db)] + (["--json"] if json_output else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, input=stdin)


def ok(db, *args, **kw):
    result = run(db, *args, **kw)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def answer(db, *args, **kw):
    """The --json answer of a command, parsed."""
    return json.loads(ok(db, *args, json_output=True, **kw))


def refused(db, *args, status=1, **kw):
    """A command that fails: its stderr, after checking the exit code."""
    result = run(db, *args, **kw)
    assert result.returncode == status, (args, result.stdout, result.stderr)
    return result.stderr


def program(tmp_path, **changes):
    """The lifecycle example in the +08:00 time zone, with changes."""
    document = json.load(open(LIFECYCLE))
    document["timezone"] = "+08:00"
    document.update(changes)
    path = tmp_path / "program.json"
    path.write_text(json.dumps(document))
    return str(path)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.db"
    ok(path, "init")
    ok(path, "program", "apply", program(tmp_path))
    return path


# ---- the database file ----

def test_a_command_on_a_missing_file_says_to_run_init_and_creates_nothing(tmp_path):
    path = tmp_path / "none.db"
    for args in (["balance", "alice", "points"], ["earn", "alice", "points", "5", "k"],
                 ["report"], ["verify"]):
        stderr = refused(path, *args)
        assert "no database at" in stderr and "run `loyal init`" in stderr
        assert not path.exists()
    assert ok(path, "init") == f"ready: {path}\n"
    assert path.exists()


def test_init_twice_is_harmless_and_a_foreign_file_is_refused(tmp_path, db):
    assert "ready" in ok(db, "init")
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database, just notes\n" * 100)
    stderr = refused(foreign, "verify")
    assert "not a loyal database" in stderr or "not a database" in stderr


# ---- human output ----

def test_times_are_shown_in_the_programs_time_zone(db):
    out = ok(db, "track", "alice", "check_in", "c1", "--at", "2026-12-01T10:00:00Z")
    assert out.splitlines()[0] == "check_in event 1 for alice at 2026-12-01 18:00"
    assert re.search(r"\+10 points\s+rule daily-check-in", out)
    # A time without a zone is read in the program's: 18:00 at +08:00 is 10:00 UTC.
    ok(db, "track", "alice", "check_in", "c2", "--at", "2026-12-02T18:00")
    events = answer(db, "statement", "alice")
    assert events[0]["at"] == "2026-12-02T10:00:00Z"
    card = ok(db, "member", "show", "alice")
    assert re.search(r"^joined\s+2026-12-01 18:00$", card, re.M)
    assert re.search(r"^last active\s+2026-12-02 18:00$", card, re.M)


def test_the_member_card(db):
    ok(db, "track", "alice", "purchase", "o1", '{"amount": 40}', "--at", "2026-11-01T09:00")
    ok(db, "earn", "alice", "points", "1250", "bonus")
    ok(db, "member", "set", "alice", '{"role": "teacher"}')
    card = ok(db, "member", "show", "alice")
    lines = card.splitlines()
    assert lines[0] == "alice (active)"
    assert re.search(r"^attributes\s+role=teacher$", card, re.M)
    # The purchase's points are no longer pending a month later.
    assert re.search(r"^points\s+1,290 available, 0 pending, 0 held$", card, re.M)
    assert re.search(r"^\s+expiring: 40 on 2027-12-01, 1,250 on 2028-01-01$", card, re.M)
    assert re.search(r"^xp\s+40 available, 0 pending, 0 held$", card, re.M)
    assert re.search(r"^tier\s+member since 2026-11-01", card, re.M)
    assert re.search(r"^badges\s+none$", card, re.M)
    shown = answer(db, "member", "show", "alice")
    assert sorted(shown) == ["badges", "balances", "expiring", "member", "segments", "tier"]
    assert [b["currency"] for b in shown["balances"]] == ["points", "xp"]
    assert shown["balances"][0]["available"] == 1290
    assert RFC3339.match(shown["member"]["joined_at"])


def test_a_member_as_of_a_past_time(db):
    ok(db, "earn", "alice", "points", "100", "e1", "--at", "2026-11-01T09:00")
    ok(db, "spend", "alice", "points", "30", "s1", "--at", "2026-11-10T09:00")
    card = ok(db, "member", "as-of", "alice", "2026-11-05")
    lines = card.splitlines()
    assert lines[0] == "alice as of 2026-11-05 00:00"
    assert re.search(r"^points\s+100 available, 0 pending, 0 held$", card, re.M)
    assert re.search(r"^\s+earned 100, spent 0, expired 0$", card, re.M)
    assert re.search(r"^\s+lots: 100 until 2027-12-01$", card, re.M)
    past = answer(db, "member", "as-of", "alice", "2026-11-20T00:00:00Z")
    assert sorted(past) == ["at", "badges", "balances", "member", "tier"]
    assert past["at"] == "2026-11-20T00:00:00Z"
    points = past["balances"][0]
    assert (points["currency"], points["available"], points["spent"]) == ("points", 70, 30)
    assert RFC3339.match(points["lots"][0]["expires_at"])
    assert "had not joined by 2026-09-30T16:00:00Z" in refused(db, "member", "as-of", "alice",
                                                               "2026-10-01")
    assert "is not an ISO-8601" in refused(db, "member", "as-of", "alice", "soon", status=2)


def test_simulate_forecasts_by_month_and_repeats_for_a_seed(tmp_path):
    args = ["simulate", LIFECYCLE, "--population", "300", "--days", "45", "--seed", "7"]
    report = answer(tmp_path / "unused.db", *args)
    assert not (tmp_path / "unused.db").exists()
    assert (report["profile"], report["members"], report["days"]) == ("community", 300, 45)
    assert [m["days"] for m in report["months"]] == [31, 14]
    assert RFC3339.match(report["months"][1]["month"])
    points = report["months"][0]["currencies"][0]
    assert points["currency"] == "points" and points["issued"] > 0
    assert answer(tmp_path / "unused.db", *args) == report
    assert answer(tmp_path / "unused.db", *args[:-1], "8") != report
    out = ok(tmp_path / "unused.db", *args)
    assert out.splitlines()[0] == "a community from 2026-01-01 to 2026-02-14: 300 members, " \
        f"{report['events']:,} events (seed 7)"
    assert re.search(r"^MONTH\s+MEMBERS\s+ACTIVE\s+EVENTS\s+TIERS$", out, re.M)
    assert re.search(r"^MONTH\s+ISSUED\s+REDEEMED\s+EXPIRED\s+BREAKAGE\s+LIABILITY$", out, re.M)
    kept = tmp_path / "forecast.db"
    ok(tmp_path / "unused.db", *args, "--into", str(kept))
    assert answer(kept, "member", "show", "m0000001")["member"]["id"] == "m0000001"
    assert "exists" in refused(tmp_path / "unused.db", *args, "--into", str(kept))
    assert "'mall' is not" in refused(tmp_path / "unused.db", *args, "--profile", "mall")


def rendered(page, tmp_path):
    """The document headless Chromium (Debian's package, installed by make test-deps) builds
    from a page: it parses the page and lays it out as a browser shows it."""
    result = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", f"file://{page}"],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


def self_contained(page):
    text = open(page).read()
    for outside in ("<script", "src=", "href=", "url(", "http:", "https:"):
        assert outside not in text, outside
    return text


def test_simulate_and_report_write_pages_of_charts_that_a_browser_renders(db, tmp_path):
    page = tmp_path / "forecast.html"
    report = answer(tmp_path / "unused.db", "simulate", LIFECYCLE, "--population", "200",
                    "--days", "70", "--html", str(page))
    self_contained(page)
    dom = rendered(page, tmp_path)
    months = len(report["months"])
    assert months == 3
    lines = re.findall(r'<svg class="chart lines"', dom)
    # liability, breakage, issued/redeemed/expired per currency, members and active
    assert len(lines) == 3 + len(report["months"][0]["currencies"])
    for points in re.findall(r'<polyline[^>]* points="([^"]*)"', dom):
        assert len(points.split()) == months
    assert '<svg class="chart stacks"' in dom and "Tier distribution" in dom
    for day in range(2, 16):  # Monday 2 November to Sunday the 15th
        ok(db, "track", "alice", "check_in", f"a{day}", "--at", f"2026-11-{day:02d}T09:00")
    ok(db, "track", "bob", "check_in", "b1", "--at", "2026-11-09T09:00")
    page = tmp_path / "report.html"
    ok(db, "report", "--from", "2026-11-02", "--to", "2026-11-16", "--period", "week",
       "--html", str(page))
    dom = rendered(self_contained(page) and page, tmp_path)
    assert re.search(r'<polyline[^>]* points="\S+ \S+"', dom)  # two weeks of active members
    heat = dom[dom.index('<svg class="chart heat"'):]
    heat = heat[:heat.index("</svg>")]
    assert heat.count("<rect") == 3  # alice's cohort over two weeks, bob's over one
    assert "<title>100%</title>" in heat
    assert "cannot write" in refused(db, "report", "--html", str(tmp_path / "no" / "r.html"),
                                     status=3)


def test_whatif_replays_the_events_through_a_candidate_side_by_side(db, tmp_path):
    for day in range(1, 21):
        ok(db, "track", "alice", "check_in", f"a{day}", "--at", f"2026-11-{day:02d}T09:00")
        if day % 2:
            ok(db, "track", "bob", "check_in", f"b{day}", "--at", f"2026-11-{day:02d}T10:00")
    window = ["--from", "2026-11-11", "--to", "2026-11-21"]
    same = answer(db, "whatif", program(tmp_path), *window)
    assert same["live"] == same["candidate"]
    assert same["members"] == {"compared": 2, "differing": 0, "biggest": []}
    assert (same["events"], same["period_events"]) == (30, 15)
    assert same["from"] == "2026-11-10T16:00:00Z"  # midnight at +08:00
    document = json.load(open(program(tmp_path)))
    for rule in document["rules"]:
        if rule["name"] == "daily-check-in":
            rule["award"]["points"] = "20"
    doubled = tmp_path / "doubled.json"
    doubled.write_text(json.dumps(document))
    report = answer(db, "whatif", str(doubled), *window)
    rules = {(r["rule"], r["currency"]): r["points"] for r in report["candidate"]["rules"]}
    live = {(r["rule"], r["currency"]): r["points"] for r in report["live"]["rules"]}
    assert rules[("daily-check-in", "points")] == 2 * live[("daily-check-in", "points")] == 300
    assert rules[("daily-check-in", "xp")] == live[("daily-check-in", "xp")]
    biggest = report["members"]["biggest"]
    assert [(m["member"], m["currencies"][0]["difference"]) for m in biggest] == \
        [("alice", 100), ("bob", 50)]
    out = ok(db, "whatif", str(doubled), *window, "--html", str(tmp_path / "whatif.html"))
    assert out.startswith("what-if from 2026-11-11 to 2026-11-20: 30 events replayed, 15 of "
                          "them in the period\n")
    assert re.search(r"^daily-check-in: points\s+150\s+300\s+\+150$", out, re.M)
    assert re.search(r"^points issued\s+150\s+300\s+\+150$", out, re.M)
    assert "2 of 2 members differ; the biggest differences:" in out
    # alice's lifetime points: 20 check-ins and a week-streak badge's 100; half in the period
    assert re.search(r"^alice\s+points\s+300\s+400\s+\+100", out, re.M)
    self_contained(tmp_path / "whatif.html")
    dom = rendered(tmp_path / "whatif.html", tmp_path)
    assert dom.count('<svg class="chart bars"') == 5  # rules, points, xp, tiers, members
    bars = dom[dom.index("Points awarded per rule"):]
    assert "<title>150</title>" in bars and "<title>300</title>" in bars
    assert ok(db, "verify") == "verified: no problem found\n"
    assert "--from must be before --to" in refused(db, "whatif", str(doubled), "--from",
                                                   "2026-11-21", "--to", "2026-11-11", status=2)
    assert "cannot read" in refused(db, "whatif", LIFECYCLE + ".missing", status=3)
    bad = tmp_path / "bad.json"
    bad.write_text('{"currencies": [{"name": "points", "spendable": maybe}]}')
    assert "the candidate program: " in refused(db, "whatif", str(bad), *window)


def test_the_statement_is_a_table_that_pages(db):
    for i in range(5):
        ok(db, "earn", "alice", "points", str(10 * (i + 1)), f"e{i}", "--reason", f"bonus {i}",
           "--at", f"2026-11-0{i + 1}T12:00")
    out = ok(db, "statement", "alice", "--limit", "2")
    lines = out.splitlines()
    assert lines[0].split() == ["TXN", "WHEN", "KIND", "AMOUNT", "REASON", "CAUSE"]
    assert lines[1].split()[1:] == ["2026-11-05", "12:00", "credit", "50", "points", "bonus",
                                   "4", "-"]
    assert len(lines) == 4 and lines[3].startswith("(older: loyal statement alice --before ")
    before = lines[3].split("--before ")[1].rstrip(")")
    rows = answer(db, "statement", "alice", "--before", before, "--limit", "10")
    assert [r["amount"] for r in rows] == [30, 20, 10]
    assert set(rows[0]) == {"txn", "kind", "currency", "amount", "at", "reason", "cause",
                            "reverses", "counterpart"}
    assert answer(db, "statement", "alice", "--currency", "xp") == []
    assert "no transactions" in ok(db, "statement", "alice", "--currency", "xp")


def test_balance_card_and_shape(db):
    ok(db, "earn", "alice", "points", "1234567", "e1")
    ok(db, "hold", "alice", "points", "7", "h1", "--days", "2")
    out = ok(db, "balance", "alice", "points")
    assert out.splitlines()[0] == "alice, points"
    assert re.search(r"^available\s+1,234,560 points$", out, re.M)
    assert re.search(r"^held\s+7 points$", out, re.M)
    # What expires is what is available: the held points leave with the hold.
    assert re.search(r"^next expiry\s+1,234,560 points on \d{4}-\d\d-\d\d$", out, re.M)
    shape = answer(db, "balance", "alice", "points")
    assert set(shape) == {"member", "currency", "available", "pending", "held", "earned",
                          "spent", "expired", "next_expiry_at", "next_expiry_amount"}
    assert RFC3339.match(shape["next_expiry_at"])
    assert "no member 'bob'" in refused(db, "balance", "bob", "points")


def test_ledger_calls_say_what_they_did(db):
    assert ok(db, "earn", "alice", "points", "100", "e1") == \
        "earned 100 points for alice: transaction 1\n"
    assert ok(db, "earn", "alice", "points", "100", "e1") == \
        "earned 100 points for alice: transaction 1 (recorded before under this key:" \
        " nothing changed)\n"
    assert ok(db, "spend", "alice", "points", "10", "s1").startswith("spent 10 points for alice")
    hold = answer(db, "hold", "alice", "points", "20", "h1")
    assert set(hold) == {"txn", "member", "currency", "amount", "replayed"}
    assert ok(db, "capture", "alice", "points", str(hold["txn"]), "cap1", "5").startswith(
        "captured 5 points")
    other = answer(db, "hold", "alice", "points", "5", "h2")
    ok(db, "release", "alice", "points", str(other["txn"]), "rel1")
    earned = answer(db, "earn", "alice", "points", "7", "e2")
    assert answer(db, "reverse", "alice", "points", str(earned["txn"]), "rev1")["amount"] == 7
    assert ok(db, "adjust", "alice", "points", "-3", "adj1", "typo").startswith(
        "adjusted -3 points")
    ok(db, "earn", "bob", "points", "1", "b1")
    assert ok(db, "transfer", "alice", "bob", "points", "30", "t1") == \
        f"transferred 30 points from alice to bob: transaction {earned['txn'] + 4}\n"
    assert answer(db, "balance", "bob", "points")["available"] == 31
    shown = ok(db, "transaction", str(earned["txn"]))
    assert shown.startswith(f"transaction {earned['txn']}\n")
    assert "entries:" in shown and "system:issued" in shown
    detail = answer(db, "transaction", str(earned["txn"]))
    assert detail["member"] == "alice" and detail["entries"] and RFC3339.match(detail["at"])


def test_event_reversal_by_the_events_key(db):
    ok(db, "track", "alice", "purchase", "o1", '{"amount": 100}')
    half = answer(db, "event", "reverse", "alice", "o1", "return-1", "--part", "1/2")
    assert [(r["currency"], r["amount"]) for r in half["reversals"]] == [("points", 50),
                                                                          ("xp", 50)]
    out = ok(db, "event", "reverse", "alice", "o1", "return-2")
    assert out.startswith("event 1 reversed") and "-50 points from alice" in out
    assert "has nothing left to reverse" in refused(db, "event", "reverse", "alice", "o1",
                                                    "return-3")
    assert "--part must be N/M" in refused(db, "event", "reverse", "alice", "o1", "r4",
                                           "--part", "half", status=2)
    assert "no event" in refused(db, "event", "reverse", "alice", "nope", "r5")


def test_dry_runs_say_what_a_call_would_do_and_write_nothing(db):
    out = ok(db, "track", "alice", "purchase", "cart-1", '{"amount": 59}', "--dry-run")
    assert out.startswith("dry run, nothing written: purchase event 1 for alice")
    assert re.search(r"\+59 points\s+rule purchase", out)
    assert "no member 'alice'" in refused(db, "member", "show", "alice")
    when = ["--at", "2026-12-01T10:00Z"]
    predicted = answer(db, "track", "alice", "purchase", "cart-1", '{"amount": 59}',
                       "--dry-run", *when)
    assert predicted["dry_run"] is True
    real = answer(db, "track", "alice", "purchase", "cart-1", '{"amount": 59}', *when)
    assert "dry_run" not in real
    del predicted["dry_run"]
    assert predicted == real
    assert "has 0 available points" in refused(db, "spend", "alice", "points", "10", "s1",
                                               "--dry-run")  # the purchase's are pending
    assert answer(db, "earn", "alice", "points", "50", "e1", "--dry-run")["dry_run"] is True
    ok(db, "earn", "alice", "points", "50", "e1")
    assert ok(db, "spend", "alice", "points", "10", "s1", "--dry-run").startswith(
        "dry run, nothing written: spent 10 points for alice")
    assert answer(db, "balance", "alice", "points")["available"] == 50
    assert [r["reason"] for r in answer(db, "statement", "alice")] == [
        "credit", "rule:purchase", "rule:purchase"]


def test_track_shows_skipped_rules_tiers_and_badges(db):
    out = ok(db, "track", "alice", "post", "p1")
    assert "post event 1 for alice" in out
    assert "tier: none -> member" in out
    out = ok(db, "track", "alice", "check_in", "c1")
    out = ok(db, "track", "alice", "check_in", "c2")
    assert "skipped rule daily-check-in: cap" in out  # once a day
    outcome = answer(db, "track", "alice", "check_in", "c2")
    assert outcome["replayed"] is True and RFC3339.match(outcome["at"])


def test_member_list_filters_pages_and_blocks(db):
    for member, role in (("alice", "teacher"), ("bob", "student"), ("carol", "teacher")):
        ok(db, "earn", member, "points", "5", "e-" + member)
        ok(db, "member", "set", member, json.dumps({"role": role, "grade": 3}))
    table = ok(db, "member", "list").splitlines()
    assert table[0].split() == ["MEMBER", "STATUS", "TIER", "JOINED", "LAST", "ACTIVE"]
    assert [line.split()[0] for line in table[1:]] == ["alice", "bob", "carol"]
    rows = answer(db, "member", "list")
    assert set(rows[0]) == {"id", "status", "joined_at", "last_active_at", "tier"}
    ids = lambda *args: [r["id"] for r in answer(db, "member", "list", *args)]
    assert ids("--attribute", "role=teacher") == ["alice", "carol"]
    assert ids("--attribute=grade=3") == ["alice", "bob", "carol"]
    assert ids("--attribute", "role=teacher", "--after", "alice") == ["carol"]
    assert ids("--limit", "1") == ["alice"]
    assert "(more: the same command with --after alice)" in ok(db, "member", "list",
                                                                "--limit", "1")
    assert ids("--idle-for", "1") == []
    assert len(ids("--active-within", "1")) == 3
    blocked = ok(db, "member", "block", "bob").splitlines()
    assert blocked[0] == "bob (blocked)"
    assert sorted(blocked[1:]) == ["grade            3", "role             student"]
    assert ids("--status", "blocked") == ["bob"]
    assert "blocked" in refused(db, "earn", "bob", "points", "5", "e2")
    assert answer(db, "member", "unblock", "bob")["status"] == "active"
    assert "no tier named 'platinum'" in refused(db, "member", "list", "--tier", "platinum")
    assert "KEY=VALUE" in refused(db, "member", "list", "--attribute", "role", status=2)
    assert "JSON object" in refused(db, "member", "set", "alice", "[1]")


# ---- badges, tiers, segments, leaderboards ----

def test_badges_are_listed_granted_and_revoked(db):
    ok(db, "earn", "alice", "points", "5", "e1")
    assert ok(db, "badge", "grant", "alice", "writer", "editor's pick", "--level", "silver") == \
        "granted\n"
    assert ok(db, "badge", "grant", "alice", "writer", "again", "--level", "silver") == \
        "already held: nothing changed\n"
    assert answer(db, "badge", "revoke", "alice", "writer", "spam", "--level", "silver") == \
        {"changed": True}
    table = ok(db, "badge", "list", "alice").splitlines()
    assert table[0].split() == ["BADGE", "LEVEL", "HOW", "AT", "REASON", "REVOKED"]
    assert table[1].startswith("writer  silver  granted")
    badges = answer(db, "badge", "list", "alice")
    assert badges[0]["revoked"]["reason"] == "spam" and RFC3339.match(badges[0]["revoked"]["at"])
    progress = answer(db, "badge", "progress", "alice", "writer")
    assert progress["target"] == 10
    assert ok(db, "badge", "progress", "alice", "writer") == "writer bronze: 0 of 10 (0%)\n"
    assert "has levels" in refused(db, "badge", "grant", "alice", "writer", "no level")
    assert "no badge named 'nope'" in refused(db, "badge", "grant", "alice", "nope", "r")
    assert answer(db, "badges", "sweep") == {"awarded": 0}


def test_tiers_are_shown_assigned_released_and_reviewed(db):
    ok(db, "earn", "alice", "points", "5", "e1")
    shown = answer(db, "tier", "assign", "alice", "champion", "founding member", "--days", "365")
    assert shown["tier"] == "champion" and shown["assigned"]["reason"] == "founding member"
    assert RFC3339.match(shown["assigned"]["until"])
    card = ok(db, "tier", "show", "alice")
    assert card.startswith("alice\ntier             champion since ")
    assert "assigned champion until" in card
    released = answer(db, "tier", "release", "alice", "stepped down")
    assert released["assigned"] is None and released["released"] is True
    assert answer(db, "tier", "release", "alice", "again")["released"] is False
    history = ok(db, "tier", "history", "alice").splitlines()
    assert history[0].split() == ["AT", "FROM", "TO", "REASON"]
    assert "released: stepped down" in history[1]
    assert [h["to"] for h in answer(db, "tier", "history", "alice")] == ["member", "champion"]
    reviews = answer(db, "tiers", "reviews", "--to", "2099-01-01")
    assert [r["member"] for r in reviews] == ["alice"] and RFC3339.match(reviews[0]["review_at"])
    assert "no tier named 'platinum'" in refused(db, "tier", "assign", "alice", "platinum", "r")
    assert "--days must be a whole number" in refused(db, "tier", "assign", "alice", "champion",
                                                      "r", "--days", "soon", status=2)
    assert answer(db, "tiers", "sweep") == {"changed": 0}


def test_segments_refresh_and_list(db):
    ok(db, "earn", "alice", "points", "5", "e1")
    out = ok(db, "segments", "refresh")
    assert re.search(r"^new\s+entered\s+alice$", out, re.M)
    assert re.search(r"^refresh 1: \d+ changes$", out, re.M)
    assert answer(db, "segments", "refresh") == {"refresh": 2, "changes": []}
    assert ok(db, "segment", "list", "new") == "MEMBER\nalice\n"
    assert answer(db, "segment", "list", "new") == [{"member": "alice"}]
    assert "no segment named" in refused(db, "segment", "list", "nope")


def test_leaderboards_rank_members(db, tmp_path):
    path = program(tmp_path, leaderboards=[{"name": "posters", "measure": {"count": "post"},
                                           "period": "week"}])
    ok(db, "program", "apply", path)
    for member, posts in (("alice", 3), ("bob", 1), ("carol", 2)):
        for i in range(posts):
            ok(db, "track", member, "post", f"{member}-{i}")
    board = answer(db, "leaderboard", "top", "posters")
    assert [(r["member"], r["score"]) for r in board["rows"]] == [("alice", 3), ("carol", 2),
                                                                   ("bob", 1)]
    assert RFC3339.match(board["period_start"])
    table = ok(db, "leaderboard", "top", "posters", "--limit", "2").splitlines()
    assert table[0].startswith("posters (from ")
    assert table[1].split() == ["RANK", "MEMBER", "SCORE"]
    assert table[2].split() == ["1", "alice", "3"] and len(table) == 4
    rank = answer(db, "leaderboard", "rank", "posters", "bob", "--neighbours", "1")
    assert rank["rank"] == 3 and [r["member"] for r in rank["rows"]] == ["carol", "bob"]
    assert ": bob is number 3" in ok(db, "leaderboard", "rank", "posters", "bob")
    assert "no leaderboard named 'nope'" in refused(db, "leaderboard", "top", "nope")
    assert "--limit must be from 1 to 1000" in refused(db, "leaderboard", "top", "posters",
                                                       "--limit", "0", status=2)


# ---- rewards, coupons, grants ----

def test_rewards_redeem_fulfil_and_cancel(db, tmp_path):
    ok(db, "earn", "alice", "points", "2000", "e1")
    table = ok(db, "rewards", "alice").splitlines()
    assert table[0].split()[:2] == ["REWARD", "TITLE"]
    assert re.search(r"^coffee-voucher .*200 points .*no: out_of_stock$", "\n".join(table), re.M)
    codes = tmp_path / "codes.txt"
    codes.write_text("CAFE-0001\n")
    assert ok(db, "coupon", "import", "partner-coffee", str(codes)) == \
        "added 1 codes, 0 duplicates left out\n"
    listed = answer(db, "rewards", "alice")
    assert [r["reward"] for r in listed if r["available"]] == ["coffee-voucher", "hoodie"]
    voucher = answer(db, "redeem", "alice", "coffee-voucher", "r1")
    assert voucher["state"] == "fulfilled" and voucher["coupon_code"] == "CAFE-0001"
    assert RFC3339.match(voucher["at"])
    assert "limit" in refused(db, "redeem", "alice", "coffee-voucher", "r2")
    again = run(db, "redeem", "alice", "coffee-voucher", "r2", json_output=True)
    error = json.loads(again.stderr)["error"]
    assert error["code"] == "LOYAL_ELIMIT" and error["replayed"] is True and error["exit"] == 1
    assert refused(db, "redeem", "alice", "study-pack", "r3")
    out = ok(db, "redeem", "alice", "hoodie", "r4")
    assert out.startswith("redemption 2: hoodie x1 for alice, pending")
    assert re.search(r"^points\s+1,500 points \(transaction \d+\)$", out, re.M)
    pending = ok(db, "redemption", "pending").splitlines()
    assert pending[0].split() == ["ID", "MEMBER", "REWARD", "QTY", "STATE", "AT", "DEADLINE"]
    assert pending[1].split()[:5] == ["2", "alice", "hoodie", "1", "pending"]
    assert answer(db, "redemption", "fulfil", "alice", "2", "f1")["state"] == "fulfilled"
    assert answer(db, "redemption", "cancel", "alice", "1", "c1")["state"] == "cancelled"
    assert answer(db, "redemption", "show", "alice", "1")["state"] == "cancelled"
    assert len(answer(db, "redemption", "list", "alice")) == 2
    assert answer(db, "balance", "alice", "points")["available"] == 500
    assert "REDEMPTION" in refused(db, "redemption", "fulfil", "alice", "0", "f2", status=2)
    assert "--quantity must be from 1 to 1000" in refused(db, "redeem", "alice", "hoodie", "r5",
                                                          "--quantity", "0", status=2)


def test_coupons_import_give_check_reserve_and_use(db, tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("cafe-0001\nCAFE-0002\n")
    assert answer(db, "coupon", "import", "partner-coffee", str(codes)) == {"added": 2,
                                                                            "duplicates": 0}
    issued = answer(db, "coupon", "give", "alice", "partner-coffee", "c1")
    assert issued["code"] == "CAFE-0001" and RFC3339.match(issued["issued_at"])
    out = ok(db, "coupon", "check", "alice", "cafe-0001")
    assert out.startswith("CAFE-0001: valid\n") and re.search(r"^uses left\s+1$", out, re.M)
    assert ok(db, "coupon", "check", "bob", "CAFE-0009") == "CAFE-0009: not valid, unknown\n"
    held = answer(db, "coupon", "reserve", "alice", "CAFE-0001", "checkout-1")
    ok(db, "coupon", "release", "alice", str(held["reservation"]), "release-1")
    assert answer(db, "coupon", "use", "alice", "CAFE-0001", "u1")["uses_left"] == 0
    assert refused(db, "coupon", "use", "alice", "CAFE-0001", "u2")
    assert answer(db, "coupon", "give", "alice", "welcome-10", "w1")["code"].startswith("HELLO-")
    assert refused(db, "coupon", "give", "alice", "welcome-back", "w2")  # alice is not silent
    table = ok(db, "coupon", "list", "alice").splitlines()
    assert table[0].split()[:3] == ["CODE", "COUPON", "STATE"] and len(table) == 3


def test_grant_points_to_a_list_and_a_coupon_to_a_segment(db, tmp_path):
    ok(db, "earn", "alice", "points", "5", "e1")
    ok(db, "earn", "bob", "points", "5", "e2")
    members = tmp_path / "members.txt"
    members.write_text("alice\n bob \n\nghost\n")
    result = run(db, "grant", "outage", "--members", str(members), "--points", "20",
                 "--currency", "points", "--reason", "sorry for the outage")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("granted 2, already granted 0, refused 1 (unknown_member 1)"
                             " of 3 members examined\n")
    assert "refused 'ghost': unknown_member: no member 'ghost'" in result.stderr
    again = run(db, "grant", "outage", "--members", str(members), "--points", "20",
                "--currency", "points", "--reason", "sorry for the outage", json_output=True)
    assert json.loads(again.stderr) == {"refused": {"member": "ghost", "why": "unknown_member",
                                                    "message": "no member 'ghost'"}}
    again = json.loads(again.stdout)
    assert again["granted"] == 0 and again["already_granted"] == 2
    assert answer(db, "balance", "bob", "points")["available"] == 25
    assert refused(db, "grant", "outage", "--members", str(members), "--points", "30",
                   "--currency", "points")
    report = answer(db, "grant", "hello", "new", "--coupon", "welcome-10")
    assert report["granted"] == 2 and report["examined"] == 2
    for args in (["g", "new"], ["g", "new", "--points", "5"],
                 ["g", "new", "--coupon", "welcome-10", "--points", "1", "--currency", "points"],
                 ["g", "new", "--points", "0", "--currency", "points"], ["g", "new", "--colour"],
                 ["g", "--coupon", "welcome-10"]):
        refused(db, "grant", *args, status=2)
    assert "no segment named 'nobody'" in refused(db, "grant", "g", "nobody", "--points", "1",
                                                  "--currency", "points")


# ---- the outbox, sweeps, report, expressions ----

def test_the_outbox_is_read_acknowledged_and_forgotten(db, tmp_path):
    ok(db, "program", "apply", program(tmp_path, outbox={"postings": ["points"]}))
    ok(db, "earn", "alice", "points", "100", "e1", "--at", "2026-12-01T08:00Z")
    ok(db, "spend", "alice", "points", "30", "s1")
    lines = ok(db, "outbox", "read", "mailer").splitlines()
    assert len(lines) == 2
    assert re.match(r"^\s+1  2026-12-01 16:00  points_credited\s+alice\s+.*amount=100", lines[0])
    rows = answer(db, "outbox", "read", "mailer")
    assert [r["kind"] for r in rows] == ["points_credited", "points_spent"]
    assert rows[0]["body"]["amount"] == 100 and rows[0]["at"] == "2026-12-01T08:00:00Z"
    assert ok(db, "outbox", "ack", "mailer", str(rows[0]["position"])) == \
        "mailer acknowledged up to 1\n"
    assert [r["kind"] for r in answer(db, "outbox", "read", "mailer")] == ["points_spent"]
    consumers = answer(db, "outbox", "consumers")
    assert consumers["consumers"][0]["behind"] == 1
    assert RFC3339.match(consumers["consumers"][0]["acked_at"])
    assert ok(db, "outbox", "consumers").splitlines()[0].split() == ["CONSUMER", "POSITION",
                                                                    "BEHIND", "ACKNOWLEDGED"]
    assert "past the newest happening" in refused(db, "outbox", "ack", "mailer", "999")
    assert answer(db, "notices", "sweep") == {"notices": 0}
    assert refused(db, "outbox", "read", "mailer", "--limit", "0", status=2)
    assert ok(db, "outbox", "forget", "mailer") == "forgot mailer\n"
    assert answer(db, "outbox", "forget", "mailer") == {"forgotten": False}


def test_the_outbox_follower_prints_json_lines(db, tmp_path):
    ok(db, "program", "apply", program(tmp_path, outbox={"postings": ["points"]}))
    ok(db, "earn", "alice", "points", "100", "e1")
    follower = subprocess.Popen([CLI, "--db", str(db), "outbox", "read", "mailer", "--follow",
                                 "--json"], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(follower.stdout.readline())
        ok(db, "spend", "alice", "points", "30", "s1")
        second = json.loads(follower.stdout.readline())
    finally:
        follower.kill()
        follower.wait()
    assert [first["kind"], second["kind"]] == ["points_credited", "points_spent"]


def test_sweeps_say_what_they_did(db):
    assert ok(db, "expire") == "0 balances settled (expiries, pending points, holds)\n"
    assert answer(db, "expire") == {"settled": 0}
    assert ok(db, "tiers", "sweep") == "0 members changed tier\n"
    assert ok(db, "verify") == "verified: no problem found\n"
    assert answer(db, "verify") == {"verified": True}


def test_the_report_has_periods_and_a_labelled_retention_chart(db):
    for day in range(1, 29):
        ok(db, "track", "alice", "check_in", f"a{day}", "--at", f"2026-11-{day:02d}T09:00")
    for day in range(8, 15):
        ok(db, "track", "bob", "check_in", f"b{day}", "--at", f"2026-11-{day:02d}T09:00")
    window = ["--from", "2026-10-26", "--to", "2026-11-30", "--period", "week"]
    out = ok(db, "report", *window)
    assert out.startswith("report from 2026-10-26 to 2026-11-29, by week\n")
    assert "liability now:" in out and "points in the period:" in out
    assert re.search(r"^points\s+550\s+0\s+0\s+0\s+0\s+0\.0%$", out, re.M)
    assert re.search(r"^2026-11-09\s+2  #{40}$", out, re.M)  # active members by week
    assert re.search(r"^tiers now: member 2$", out, re.M)
    chart = out[out.index("retention:"):].splitlines()
    assert chart[1].split() == ["COHORT", "MEMBERS", "+0", "+1", "+2", "+3", "+4"]
    # alice joined on Sunday 1 November, in the week of 26 October; bob on the 8th.
    assert chart[2].split() == ["2026-10-26", "1"] + ["100%"] * 5
    assert chart[3].split() == ["2026-11-02", "1", "100%", "100%"]
    report = answer(db, "report", *window)
    assert set(report) == {"from", "to", "periods", "liability", "flows", "active", "retention",
                           "sizes", "rewards"}
    assert report["from"] == "2026-10-25T16:00:00Z"  # midnight at +08:00
    assert [c["cohort"] for c in report["retention"]] == ["2026-10-25T16:00:00Z",
                                                          "2026-11-01T16:00:00Z"]
    assert [a["active"] for a in report["active"]] == [1, 2, 2, 1, 1]
    assert "--period must be day, week or month" in refused(db, "report", "--period", "year",
                                                            status=2)
    assert "--from must be before --to" in refused(db, "report", "--from", "2026-12-01",
                                                   "--to", "2026-11-01", status=2)
    assert "not a day of the calendar" in refused(db, "report", "--from", "2026-02-30",
                                                  status=2)


def test_expressions_are_checked_and_evaluated(db):
    ok(db, "track", "alice", "purchase", "o1", '{"amount": 40}')
    assert ok(db, "check-expr", "count(post, 30d) >= 10") == \
        "valid: a boolean expression\n  reads count(post, 30d)\n"
    assert "line 1, column 4" in refused(db, "check-expr", "1 +")
    assert ok(db, "eval", "alice", "count(purchase)") == "1 (whole number)\n"
    assert answer(db, "eval", "alice", "event.amount * 2", "--properties",
                  '{"amount": 21}')["value"] == 42


def test_expiring_lists_members_with_points_about_to_expire(db):
    ok(db, "earn", "alice", "points", "100", "e1", "--expires", "2027-01-10")
    ok(db, "earn", "bob", "points", "50", "e2", "--expires", "2027-03-01")
    rows = answer(db, "expiring", "--from", "2027-01-01", "--to", "2027-02-01")
    assert [(r["member"], r["amount"]) for r in rows] == [("alice", 100)]
    out = ok(db, "expiring", "--from", "2027-01-01", "--to", "2027-02-01").splitlines()
    assert out[0].split() == ["MEMBER", "AMOUNT", "EXPIRES"]
    assert out[1].split() == ["alice", "100", "points", "2027-01-10", "00:00"]


# ---- import ----

def test_import_reports_bad_lines_imports_the_rest_and_exits_1(db, tmp_path):
    lines = [
        json.dumps({"member": "bob", "type": "purchase", "key": "p1",
                    "properties": {"amount": 12.5}}),
        "not json at all",
        json.dumps({"member": "bob", "type": "purchase"}),
        json.dumps({"member": "bob", "type": "Bad Type!", "key": "p2"}),
        json.dumps({"member": "bob", "type": "check_in", "key": "c1",
                    "at": "2026-11-01T09:00:00+08:00"}),
        json.dumps({"member": "bob", "type": "check_in", "key": "c2", "at": 1767225600000}),
        json.dumps({"member": "bob", "type": "check_in", "key": "c3", "at": "yesterday"}),
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = run(db, "import", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stdout == "imported 3, duplicates 0, rejected 4\n"
    for number in (2, 3, 4):
        assert f"line {number}: rejected" in result.stderr
    assert "line 7: rejected: \"at\": 'yesterday' is not an ISO-8601" in result.stderr
    assert "4 lines were rejected" in result.stderr
    at = {r["at"] for r in answer(db, "statement", "bob") if r["cause"] in ("c1", "c2")}
    assert at == {"2026-01-01T00:00:00Z", "2026-11-01T01:00:00Z"}
    again = run(db, "import", "-", "--max-rejects", "4", json_output=True,
                stdin=path.read_text())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"lines": 7, "imported": 0, "duplicates": 3,
                                        "rejected": 4, "stopped": False}
    quiet = run(db, "import", str(path), json_output=True)
    messages = [json.loads(line) for line in quiet.stderr.splitlines()]
    assert [m["rejected"]["line"] for m in messages[:-1]] == [2, 3, 4, 7]
    assert messages[-1]["error"]["exit"] == 1 and quiet.returncode == 1
    stopped = run(db, "import", str(path), "--max-rejects", "1")
    assert stopped.returncode == 1
    assert "stopped" in stopped.stdout and "the import stopped there" in stopped.stderr


def test_directories_and_nul_bytes_are_refused_by_name(db, tmp_path):
    stderr = refused(db, "import", str(tmp_path), status=3)
    assert "Is a directory" in stderr
    stderr = refused(db, "program", "apply", str(tmp_path), status=3)
    assert "Is a directory" in stderr and "JSON" not in stderr
    assert "No such file" in refused(db, "program", "apply", str(tmp_path / "x.json"), status=3)
    path = tmp_path / "nul.ndjson"
    path.write_bytes(b'{"member": "bob", "type": "check_in", "key": "v1"}\n'
                     b'{"member": "bob", "type": "check_in", "key": "v2\x00x"}\n')
    result = run(db, "import", str(path))
    assert "line 2: rejected: the line holds a NUL byte" in result.stderr
    assert result.stdout == "imported 1, duplicates 0, rejected 1\n"


# ---- the command line ----

def test_flags_go_anywhere_and_take_equals(db):
    a = ok(db, "earn", "alice", "points", "5", "e1", "--reason", "r")
    b = subprocess.run([CLI, "earn", "--json", "alice", f"--db={db}", "points", "--reason=r",
                        "5", "e1"], capture_output=True, text=True)
    assert b.returncode == 0, b.stderr
    assert json.loads(b.stdout)["replayed"] is True and "earned 5 points" in a
    c = subprocess.run([CLI, "--json", "balance", "alice", "points", "--db", str(db)],
                       capture_output=True, text=True)
    assert json.loads(c.stdout)["available"] == 5
    assert ok(db, "adjust", "alice", "points", "-2", "a1", "--", "--odd reason").startswith(
        "adjusted -2 points")
    assert ok(db, "earn", "alice", "points", "1", "p1", "--durability", "power").startswith(
        "earned 1 points")


@pytest.mark.parametrize("args,message", [
    ([], "usage: loyal"),
    (["frobnicate"], "no command 'frobnicate'"),
    (["blance", "alice", "points"], "did you mean 'balance'?"),
    (["statment", "alice"], "did you mean 'statement'?"),
    (["member", "shwo", "alice"], "did you mean 'member show'?"),
    (["member"], "'member' needs one of: show, list"),
    (["earn", "alice"], "'earn' takes more arguments: MEMBER CURRENCY AMOUNT KEY"),
    (["balance", "a", "b", "c"], "'balance' takes fewer arguments"),
    (["statement", "alice", "--limt", "3"], "takes no --limt: did you mean --limit?"),
    (["statement", "alice", "--follow"], "'statement' takes no --follow"),
    (["statement", "alice", "--limit"], "--limit needs N"),
    (["statement", "alice", "--limit", "1", "--limit", "2"], "--limit is given twice"),
    (["verify", "--json=yes"], "--json takes no value"),
    (["earn", "alice", "points", "ten", "k"], "AMOUNT must be a whole number, not 'ten'"),
    (["earn", "alice", "points", "9223372036854775808", "k"], "AMOUNT must be from 1 to"),
    (["earn", "alice", "points", " 5", "k"], "AMOUNT must be a whole number, not ' 5'"),
    (["earn", "alice", "points", "+5", "k"], "AMOUNT must be a whole number"),
    (["earn", "alice", "points", "-5", "k"], "AMOUNT must be from 1 to"),
    (["hold", "alice", "points", "5", "k", "--days", "0"], "--days must be from 1 to 3650"),
    (["capture", "alice", "points", "99999999999999999999", "k"], "HOLD must be from"),
    (["track", "alice", "check_in", "k", "--at", "1 Dec"], "--at: '1 Dec' is not an ISO-8601"),
    (["track", "alice", "check_in", "k", "--at", "2026-12-01T25:00"], "is not an ISO-8601"),
    (["--wal-limit-mb", "0", "verify"], "--wal-limit-mb must be from 1"),
    (["--durability", "maybe", "verify"], "--durability must be 'process', 'power' or 'scratch'"),
])
def test_usage_errors_exit_2_and_change_nothing(db, args, message):
    result = subprocess.run([CLI, "--db", str(db)] + args, capture_output=True, text=True)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert result.stdout == ""
    assert answer(db, "member", "list") == []  # nothing written


def test_usage_errors_under_json_are_json(db):
    bare = subprocess.run([CLI, "--json"], capture_output=True, text=True)
    assert bare.returncode == 2 and json.loads(bare.stderr)["error"]["code"] == "usage"
    result = run(db, "blance", "alice", "points", json_output=True)
    assert result.returncode == 2
    error = json.loads(result.stderr)["error"]
    assert error == {"code": "usage", "message": error["message"], "exit": 2,
                     "replayed": False}
    assert "did you mean 'balance'?" in error["message"]


def test_data_errors_exit_1_for_people_and_as_json(db):
    stderr = refused(db, "spend", "alice", "points", "10", "k")
    assert stderr == "loyal: no member 'alice'\n"
    result = run(db, "spend", "alice", "points", "10", "k", json_output=True)
    assert json.loads(result.stderr) == {"error": {"code": "LOYAL_ENOTFOUND",
                                                   "message": "no member 'alice'", "exit": 1,
                                                   "replayed": False}}
    ok(db, "earn", "alice", "points", "5", "e1")
    assert "has 5 available points; 10 needed" in refused(db, "spend", "alice", "points", "10",
                                                          "s1")
    assert "recorded refusal" in refused(db, "spend", "alice", "points", "10", "s1")


def test_help_version_and_examples(db):
    overview = subprocess.run([CLI, "help"], capture_output=True, text=True)
    assert overview.returncode == 0 and "commands:" in overview.stdout
    assert "Exit codes: 0 ok, 1 refused" in overview.stdout
    for words in (["statement"], ["member", "list"], ["grant"], ["report"], ["import"]):
        shown = subprocess.run([CLI, "help", *words], capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith("usage: loyal " + " ".join(words))
        assert "\nexamples:\n  loyal " + " ".join(words) in shown.stdout
        assert shown.stdout == subprocess.run([CLI, *words, "--help"], capture_output=True,
                                              text=True).stdout
    bad = subprocess.run([CLI, "help", "statment"], capture_output=True, text=True)
    assert bad.returncode == 2 and "did you mean 'statement'?" in bad.stderr
    version = subprocess.run([CLI, "--version"], capture_output=True, text=True).stdout
    assert re.match(r"^loyal \d+\.\d+\.\d+\n$", version)
    assert json.loads(subprocess.run([CLI, "--version", "--json"], capture_output=True,
                                     text=True).stdout)["version"] == version.split()[1]


def test_every_command_has_help_with_an_example():
    overview = subprocess.run([CLI, "help"], capture_output=True, text=True).stdout
    commands = overview.split("commands:\n")[1].split("\n\n")[0].splitlines()
    assert len(commands) > 50
    for line in commands:
        words = [w for w in line.split()[:2] if re.match(r"^[a-z][a-z-]*$", w)]
        shown = subprocess.run([CLI, "help", *words], capture_output=True, text=True)
        assert shown.returncode == 0, (words, shown.stderr)
        assert "\nexamples:\n  loyal " in shown.stdout, words


def test_times_in_every_json_answer_are_rfc3339(db, tmp_path):
    """Every key that the Python binding reads as a datetime is an RFC 3339 string (or null)
    wherever the CLI prints it."""
    from loyal import types  # the binding `make check-python` installed in the venv
    import dataclasses
    import typing
    time_keys, other_keys = set(), set()
    for cls in vars(types).values():
        if dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls, vars(types))
            for field in dataclasses.fields(cls):
                key = field.metadata.get("key", field.name)
                if types._dt.datetime in (hints[field.name], *typing.get_args(hints[field.name])):
                    time_keys.add(key)
                else:
                    other_keys.add(key)
    # "from" is a time in a what-if's answer and a tier in a tier change: there, a string that
    # is no time is the other meaning (a number still fails).
    ambiguous = time_keys & other_keys
    assert {"at", "joined_at", "cohort", "period", "until", "since", "by"} <= time_keys
    ok(db, "program", "apply", program(tmp_path, outbox={"postings": ["points"]}))
    ok(db, "track", "alice", "purchase", "o1", '{"amount": 400}')
    ok(db, "earn", "alice", "points", "2000", "e1")
    ok(db, "tier", "assign", "alice", "champion", "r", "--days", "30")
    answers = [answer(db, *args) for args in (
        ["member", "show", "alice"], ["statement", "alice"], ["explain", "alice", "points"],
        ["balance", "alice", "points"], ["tier", "show", "alice"], ["tier", "history", "alice"],
        ["badge", "list", "alice"], ["outbox", "read", "x"], ["report"], ["rewards", "alice"],
        ["redeem", "alice", "hoodie", "r1"], ["redemption", "list", "alice"],
        ["coupon", "give", "alice", "welcome-10", "w1"], ["coupon", "list", "alice"],
        ["tiers", "reviews", "--to", "2099-01-01"], ["expiring", "--to", "2099-01-01"],
        ["member", "as-of", "alice", answer(db, "member", "show", "alice")["member"][
            "last_active_at"]],
        ["simulate", LIFECYCLE, "--population", "20", "--days", "35"],
        ["whatif", LIFECYCLE, "--from", "2026-01-01"])]
    seen = set()

    def walk(value):
        if isinstance(value, dict):
            for key, each in value.items():
                if key in ambiguous and isinstance(each, str) and not RFC3339.match(each):
                    pass
                elif key in time_keys and not isinstance(each, (dict, list)):
                    assert each is None or (isinstance(each, str) and RFC3339.match(each)), \
                        (key, each)
                    seen.add(key)
                walk(each)
        elif isinstance(value, list):
            for each in value:
                walk(each)
    walk(answers)
    assert {"at", "joined_at", "expires_at", "since", "next_review", "until", "cohort",
            "period", "issued_at", "valid_from", "review_at"} <= seen


# ---- full disk, read-only volume ----

@pytest.fixture
def small_volume(tmp_path):
    """A 16 MiB tmpfs of its own (as root), to fill up or to make read-only."""
    mount = tmp_path / "volume"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root: " + mounted.stderr.strip())
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_keeps_the_first_error_and_the_file_valid(small_volume, tmp_path):
    events = tmp_path / "events.ndjson"
    events.write_text(subprocess.run(
        ["python3", os.path.join(ROOT, "examples", "generate_events.py"), "150"],
        check=True, capture_output=True, text=True).stdout)
    # About 3 MB left: less than the import writes (some 5 MB of file and up to 1 MB of WAL).
    filler = small_volume / "filler"
    volume = os.statvfs(small_volume)
    filler.write_bytes(b"\0" * (volume.f_bavail * volume.f_frsize - 3_000_000))
    db = small_volume / "loyal.db"
    ok(db, "init")
    ok(db, "program", "apply", LIFECYCLE)
    full = run(db, "--wal-limit-mb", "1", "import", str(events))
    assert full.returncode == 3, full.stderr
    assert "database or disk is full" in full.stderr
    assert "no batch is open" not in full.stderr
    committed = int(full.stderr.split("lines 1-")[1].split(" ")[0])
    assert committed > 0
    filler.unlink()  # space freed: the file is sound and takes writes again
    assert "verified" in ok(db, "verify")
    done = run(db, "--wal-limit-mb", "1", "import", str(events), json_output=True)
    summary = json.loads(done.stdout)
    assert summary["duplicates"] == committed and summary["imported"] > 0
    assert "verified" in ok(db, "verify")


def test_a_read_only_volume_can_still_be_read(small_volume):
    db = small_volume / "loyal.db"
    ok(db, "init")
    ok(db, "program", "apply", LIFECYCLE)
    ok(db, "earn", "alice", "points", "100", "e1")
    subprocess.run(["mount", "-o", "remount,ro", str(small_volume)], check=True)
    assert "verified" in ok(db, "verify")
    assert re.search(r"^available\s+100 points$", ok(db, "balance", "alice", "points"), re.M)
    assert "alice" in ok(db, "member", "show", "alice")
    result = run(db, "earn", "alice", "points", "1", "e2", json_output=True)
    assert result.returncode == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "LOYAL_EREADONLY" and "Read-only file system" in error["message"]


def test_no_command_prints_raw_json_or_epoch_milliseconds_for_people(db, tmp_path):
    """Every command's human output, in one scenario: no JSON dump, no Unix milliseconds."""
    ok(db, "program", "apply", program(tmp_path, outbox={"postings": ["points"]},
                                       leaderboards=[{"name": "posters", "period": "week",
                                                      "measure": {"count": "post"}}]))
    codes = tmp_path / "codes.txt"
    codes.write_text("CAFE-0001\nCAFE-0002\n")
    members = tmp_path / "members.txt"
    members.write_text("alice\nbob\n")
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps({"member": "carol", "type": "post", "key": "p9"}) + "\n")
    ok(db, "earn", "alice", "points", "100", "e-first")
    held = [str(answer(db, "hold", "alice", "points", "5", f"h{i}")["txn"]) for i in (1, 2)]
    earned = str(answer(db, "earn", "alice", "points", "9", "e0")["txn"])
    steps = [
        ["track", "alice", "purchase", "o1", '{"amount": 300}'], ["track", "alice", "post", "p1"],
        ["import", str(events)], ["earn", "alice", "points", "2000", "e1"],
        ["earn", "bob", "points", "50", "e2"], ["spend", "alice", "points", "10", "s1"],
        ["hold", "alice", "points", "20", "h3"], ["capture", "alice", "points", held[0], "c1"],
        ["release", "alice", "points", held[1], "r1"], ["reverse", "alice", "points", earned, "v1"],
        ["adjust", "alice", "points", "-1", "a1", "x"],
        ["transfer", "alice", "bob", "points", "5", "t1"],
        ["event", "reverse", "alice", "o1", "er1", "--part", "1/3"],
        ["balance", "alice", "points"], ["statement", "alice"], ["transaction", earned],
        ["explain", "alice", "points"], ["expiring", "--to", "2099-01-01"],
        ["member", "show", "alice"], ["member", "list"], ["member", "set", "bob", '{"k": 1}'],
        ["member", "block", "bob"], ["member", "unblock", "bob"], ["badge", "list", "alice"],
        ["badge", "progress", "alice", "writer"], ["badge", "grant", "alice", "writer", "r",
                                                   "--level", "bronze"],
        ["badge", "revoke", "alice", "writer", "r", "--level", "bronze"], ["badges", "sweep"],
        ["tier", "show", "alice"], ["tier", "history", "alice"],
        ["tier", "assign", "alice", "champion", "r", "--days", "9"], ["tier", "release", "alice", "r"],
        ["tiers", "sweep"], ["tiers", "reviews", "--to", "2099-01-01"],
        ["segments", "refresh"], ["segment", "list", "active"],
        ["leaderboard", "top", "posters"], ["leaderboard", "rank", "posters", "alice"],
        ["coupon", "import", "partner-coffee", str(codes)], ["rewards", "alice"],
        ["redeem", "alice", "coffee-voucher", "rd1"], ["redeem", "alice", "hoodie", "rd2"],
        ["redemption", "show", "alice", "2"], ["redemption", "list", "alice"],
        ["redemption", "pending"], ["redemption", "fulfil", "alice", "2", "f1"],
        ["redemption", "cancel", "alice", "1", "x1"],
        ["coupon", "give", "alice", "welcome-10", "g1"], ["coupon", "list", "alice"],
        ["coupon", "check", "alice", "CAFE-0002"], ["coupon", "give", "bob", "partner-coffee",
                                                     "g2"],
        ["coupon", "reserve", "bob", "CAFE-0002", "cr1"], ["coupon", "release", "bob", "1", "cl1"],
        ["coupon", "use", "bob", "CAFE-0002", "cu1"],
        ["grant", "gr1", "--members", str(members), "--points", "5", "--currency", "points"],
        ["outbox", "read", "mailer", "--limit", "5"], ["outbox", "ack", "mailer", "1"],
        ["outbox", "consumers"], ["outbox", "forget", "mailer"], ["notices", "sweep"],
        ["expire"], ["report"], ["verify"], ["check-expr", "count(post) > 1"],
        ["eval", "alice", "count(post)"], ["init"],
    ]
    epoch_ms = re.compile(r"(?<![\d,])1[5-9]\d{11}(?!\d)")
    for args in steps:
        out = ok(db, *args)
        assert out.strip(), args
        assert not out.lstrip().startswith(("{", "[")), (args, out)
        assert not epoch_ms.search(out), (args, out)
