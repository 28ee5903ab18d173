"""Runs the example CLI as a user would: every subcommand's happy path and usage error, an
import with bad lines, --json output that parses, and the exit codes."""

import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "loyal")
PROGRAM = os.path.join(ROOT, "examples", "lifecycle.json")


def run(db, *args, json_output=False, stdin=None):
    command = [CLI, "--db", str(db)] + (["--json"] if json_output else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, input=stdin)


def ok(db, *args, **kw):
    result = run(db, *args, **kw)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.db"
    ok(path, "init")
    ok(path, "program", "apply", PROGRAM)
    return path


def test_every_subcommand_works(db, tmp_path):
    ok(db, "program", "show")
    assert "postings" in ok(db, "track", "alice", "purchase", "o1", '{"amount": 40}')
    ok(db, "track", "alice", "check_in", "c1")
    ok(db, "earn", "alice", "points", "100", "e1")
    ok(db, "spend", "alice", "points", "10", "s1")
    hold = json.loads(ok(db, "hold", "alice", "points", "20", "h1", "3", json_output=True))
    ok(db, "capture", "alice", "points", str(hold["txn"]), "cap1", "5")
    other = json.loads(ok(db, "hold", "alice", "points", "5", "h2", json_output=True))
    ok(db, "release", "alice", "points", str(other["txn"]), "rel1")
    earned = json.loads(ok(db, "earn", "alice", "points", "7", "e2", json_output=True))
    ok(db, "reverse", "alice", "points", str(earned["txn"]), "rev1")
    ok(db, "adjust", "alice", "points", "-3", "adj1", "typo in a receipt")
    assert "available" in ok(db, "balance", "alice", "points")
    assert "tier" in ok(db, "member", "show", "alice")
    assert "kind" in ok(db, "statement", "alice")
    assert "lots" in ok(db, "explain", "alice", "points")
    ok(db, "expire")
    ok(db, "tiers", "sweep")
    ok(db, "segments", "refresh")
    ok(db, "segment", "list", "new")
    assert "retention" in ok(db, "report")
    assert "verified" in ok(db, "verify")
    assert json.loads(ok(db, "check-expr", "count(post) >= 10"))["type"] == "boolean"
    assert json.loads(ok(db, "eval", "alice", "count(purchase)"))["value"] == 1


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["earn", "alice"], ["program"], ["program", "apply"],
    ["track", "alice", "purchase"], ["segment", "list"], ["--db"], ["--bogus", "init"],
    ["earn", "alice", "points", "ten", "k"],
])
def test_usage_errors_exit_2(db, args):
    result = subprocess.run([CLI, "--db", str(db)] + args if args[:1] != ["--db"] else [CLI] + args,
                            capture_output=True, text=True)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert result.stderr


# Every subcommand, with one argument too many: a usage error naming its arguments.
SUBCOMMANDS = [
    (["init"], 0), (["program", "apply"], 1), (["program", "show"], 0), (["track"], 4),
    (["import"], 1), (["member", "show"], 1), (["statement"], 1), (["explain"], 2),
    (["balance"], 2), (["earn"], 4), (["spend"], 4), (["hold"], 5), (["capture"], 5),
    (["release"], 4), (["reverse"], 5), (["adjust"], 5), (["tiers", "sweep"], 0),
    (["expire"], 0), (["segments", "refresh"], 0), (["segment", "list"], 1), (["report"], 0),
    (["verify"], 0), (["check-expr"], 1), (["eval"], 2), (["rewards"], 1), (["redeem"], 4),
    (["redemption", "fulfil"], 3), (["redemption", "cancel"], 3), (["redemption", "show"], 2),
    (["redemption", "list"], 1), (["redemption", "pending"], 0), (["coupon", "import"], 2),
    (["coupon", "give"], 3), (["coupon", "check"], 2), (["coupon", "reserve"], 3),
    (["coupon", "release"], 3), (["coupon", "use"], 4), (["coupon", "list"], 1),
    (["grant"], 8), (["member", "list"], 16), (["member", "set"], 2),
    (["badge", "grant"], 3), (["badge", "revoke"], 3), (["tier", "assign"], 4),
    (["tier", "release"], 2), (["leaderboard", "top"], 2), (["leaderboard", "rank"], 3),
]


@pytest.mark.parametrize("words,most", SUBCOMMANDS)
def test_each_subcommand_has_a_usage_error(db, words, most):
    result = run(db, *words, *(["x"] * (most + 1)))
    assert result.returncode == 2, (words, result.stderr)
    assert "usage: loyal " + " ".join(words) in result.stderr


def test_data_errors_exit_1_and_help_exits_0(db):
    result = run(db, "spend", "alice", "points", "10", "k")
    assert result.returncode == 1 and "LOYAL_ENOTFOUND" in result.stderr
    result = run(db, "check-expr", "1 +")
    assert result.returncode == 1 and "line 1, column 4" in result.stderr
    assert "usage: loyal" in ok(db, "earn", "--help")
    assert "commands:" in subprocess.run([CLI, "--help"], capture_output=True, text=True).stdout


def test_import_reports_bad_lines_and_imports_the_rest(db, tmp_path):
    lines = [
        json.dumps({"member": "bob", "type": "purchase", "key": "p1",
                    "properties": {"amount": 12.5}}),
        "not json at all",
        json.dumps({"member": "bob", "type": "purchase"}),
        json.dumps({"member": "bob", "type": "Bad Type!", "key": "p2"}),
        json.dumps({"member": "bob", "type": "check_in", "key": "c1", "at": 1767225600000}),
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = run(db, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2, duplicates 0, rejected 3"
    assert "line 2: rejected" in result.stderr
    assert "line 3: rejected" in result.stderr and "line 4: rejected" in result.stderr
    again = json.loads(ok(db, "import", "-", json_output=True, stdin=path.read_text()))
    assert again == {"imported": 0, "duplicates": 2, "rejected": 3}


def test_json_output_parses(db):
    ok(db, "earn", "alice", "points", "100", "e1")
    for args in (["balance", "alice", "points"], ["member", "show", "alice"], ["report"],
                 ["expire"], ["verify"], ["tiers", "sweep"], ["program", "show"]):
        json.loads(ok(db, *args, json_output=True))


@pytest.mark.parametrize("args,message", [
    (["earn", "alice", "points", "9223372036854775808", "k"], "AMOUNT must be from 0 to"),
    (["earn", "alice", "points", " 5", "k"], "AMOUNT must be a whole number, not ' 5'"),
    (["earn", "alice", "points", "+5", "k"], "AMOUNT must be a whole number"),
    (["earn", "alice", "points", "5x", "k"], "AMOUNT must be a whole number"),
    (["earn", "alice", "points", "-5", "k"], "AMOUNT must be from 0 to"),
    (["hold", "alice", "points", "5", "k", "213503982335"], "DAYS must be from 1 to 3650"),
    (["hold", "alice", "points", "5", "k", "0"], "DAYS must be from 1 to 3650"),
    (["capture", "alice", "points", "99999999999999999999", "k"], "TXN must be from"),
    (["--wal-limit-mb", "0", "verify"], "--wal-limit-mb must be from 1"),
])
def test_numbers_are_parsed_strictly(db, args, message):
    result = run(db, *args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert message in result.stderr
    assert "LOYAL_ENOTFOUND" in run(db, "balance", "alice", "points").stderr  # nothing written


def test_directories_and_nul_bytes_are_refused_by_name(db, tmp_path):
    result = run(db, "import", str(tmp_path))
    assert result.returncode == 1 and "Is a directory" in result.stderr
    result = run(db, "program", "apply", str(tmp_path))
    assert result.returncode == 1 and "Is a directory" in result.stderr
    assert "JSON" not in result.stderr
    path = tmp_path / "nul.ndjson"
    path.write_bytes(b'{"member": "bob", "type": "visit", "key": "v1"}\n'
                     b'{"member": "bob", "type": "visit", "key": "v2\x00x"}\n')
    result = run(db, "import", str(path))
    assert "line 2: rejected: the line holds a NUL byte" in result.stderr
    assert result.stdout.strip() == "imported 1, duplicates 0, rejected 1"


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
    filler = small_volume / "filler"
    filler.write_bytes(b"\0" * 10_000_000)
    db = small_volume / "loyal.db"
    ok(db, "init")
    ok(db, "program", "apply", PROGRAM)
    full = run(db, "--wal-limit-mb", "1", "import", str(events))
    assert full.returncode == 3, full.stderr
    assert "database or disk is full" in full.stderr
    assert "no batch is open" not in full.stderr
    committed = int(full.stderr.split("lines 1-")[1].split(" ")[0])
    assert committed > 0
    filler.unlink()  # space freed: the file is sound and takes writes again
    assert "verified" in ok(db, "verify")
    done = json.loads(ok(db, "--wal-limit-mb", "1", "import", str(events), json_output=True))
    assert done["duplicates"] == committed and done["imported"] > 0
    assert "verified" in ok(db, "verify")


def test_a_read_only_volume_can_still_be_read(small_volume):
    db = small_volume / "loyal.db"
    ok(db, "init")
    ok(db, "program", "apply", PROGRAM)
    ok(db, "earn", "alice", "points", "100", "e1")
    subprocess.run(["mount", "-o", "remount,ro", str(small_volume)], check=True)
    assert "verified" in ok(db, "verify")
    assert "100 available" in ok(db, "balance", "alice", "points")
    assert "alice" in ok(db, "member", "show", "alice")
    refused = run(db, "earn", "alice", "points", "1", "e2")
    assert refused.returncode == 1 and "Read-only file system" in refused.stderr
    assert "LOYAL_EREADONLY" in refused.stderr


def test_rewards_redeem_fulfil_and_cancel(db, tmp_path):
    ok(db, "earn", "alice", "points", "2000", "e1")
    assert not json.loads(ok(db, "rewards", "alice"))[0]["available"]  # no coupon codes yet
    codes = tmp_path / "codes.txt"
    codes.write_text("CAFE-0001\n")
    ok(db, "coupon", "import", "partner-coffee", str(codes))
    listed = json.loads(ok(db, "rewards", "alice"))
    assert [r["reward"] for r in listed if r["available"]] == ["coffee-voucher", "hoodie"]
    voucher = json.loads(ok(db, "redeem", "alice", "coffee-voucher", "r1"))
    assert voucher["state"] == "fulfilled" and voucher["coupon_code"] == "CAFE-0001"
    result = run(db, "redeem", "alice", "coffee-voucher", "r2")
    assert result.returncode == 1 and "LOYAL_ELIMIT" in result.stderr
    result = run(db, "redeem", "alice", "study-pack", "r3")
    assert result.returncode == 1 and "LOYAL_ENOTELIGIBLE" in result.stderr
    hoodie = json.loads(ok(db, "redeem", "alice", "hoodie", "r4"))
    assert hoodie["state"] == "pending"
    assert '"reward":"hoodie"' in ok(db, "redemption", "pending")
    assert json.loads(ok(db, "redemption", "fulfil", "alice", str(hoodie["id"]), "f1"))[
        "state"] == "fulfilled"
    assert json.loads(ok(db, "redemption", "cancel", "alice", str(voucher["id"]), "c1"))[
        "state"] == "cancelled"
    assert json.loads(ok(db, "redemption", "show", "alice", str(voucher["id"])))[
        "state"] == "cancelled"
    assert len(ok(db, "redemption", "list", "alice").splitlines()) == 2
    assert json.loads(ok(db, "balance", "alice", "points", json_output=True))["available"] == 500
    result = run(db, "redemption", "fulfil", "alice", "0", "f2")
    assert result.returncode == 2 and "REDEMPTION" in result.stderr


def test_coupons_import_issue_check_and_use(db, tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("cafe-0001\nCAFE-0002\n")
    assert json.loads(ok(db, "coupon", "import", "partner-coffee", str(codes),
                         json_output=True)) == {"added": 2, "duplicates": 0}
    issued = json.loads(ok(db, "coupon", "give", "alice", "partner-coffee", "c1"))
    assert issued["code"] == "CAFE-0001"
    assert json.loads(ok(db, "coupon", "check", "alice", "cafe-0001"))["valid"] is True
    held = json.loads(ok(db, "coupon", "reserve", "alice", "CAFE-0001", "checkout-1"))
    ok(db, "coupon", "release", "alice", str(held["reservation"]), "release-1")
    assert json.loads(ok(db, "coupon", "use", "alice", "CAFE-0001", "u1"))["uses_left"] == 0
    result = run(db, "coupon", "use", "alice", "CAFE-0001", "u2")
    assert result.returncode == 1 and "LOYAL_ELIMIT" in result.stderr
    welcome = json.loads(ok(db, "coupon", "give", "alice", "welcome-10", "w1"))
    assert welcome["code"].startswith("HELLO-")
    result = run(db, "coupon", "give", "alice", "welcome-back", "w2")  # alice is not silent
    assert result.returncode == 1 and "LOYAL_ENOTELIGIBLE" in result.stderr
    assert len(ok(db, "coupon", "list", "alice").splitlines()) == 2


def test_grant_points_to_a_list_and_a_coupon_to_a_segment(db, tmp_path):
    ok(db, "earn", "alice", "points", "5", "e1")
    ok(db, "earn", "bob", "points", "5", "e2")
    members = tmp_path / "members.txt"
    members.write_text("alice\n bob \n\nghost\n")
    result = run(db, "grant", "outage", "--members", str(members), "--points", "points", "20",
                 "--reason", "sorry for the outage")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("granted 2, already granted 0, refused 1 (unknown_member 1)"
                             " of 3 members examined\n")
    assert "refused 'ghost': unknown_member: no member 'ghost'" in result.stderr
    again = json.loads(ok(db, "grant", "outage", "--members", str(members), "--points",
                          "points", "20", "--reason", "sorry for the outage", json_output=True))
    assert again["granted"] == 0 and again["already_granted"] == 2
    assert "25 available" in ok(db, "balance", "bob", "points")
    result = run(db, "grant", "outage", "--members", str(members), "--points", "points", "30")
    assert result.returncode == 1 and "LOYAL_ECONFLICT" in result.stderr
    report = json.loads(ok(db, "grant", "hello", "new", "--coupon", "welcome-10",
                           json_output=True))
    assert report["granted"] == 2 and report["examined"] == 2
    assert len(ok(db, "coupon", "list", "bob").splitlines()) == 1
    for args in (["g", "new"], ["g", "new", "--points", "points"],
                 ["g", "new", "--coupon", "welcome-10", "--points", "points", "1"],
                 ["g", "new", "--points", "points", "0"], ["g", "new", "--colour", "red"]):
        result = run(db, "grant", *args)
        assert result.returncode == 2, (args, result.stderr)
    result = run(db, "grant", "g", "nobody", "--points", "points", "1")
    assert result.returncode == 1 and "no segment named 'nobody'" in result.stderr


def test_member_list_filters_and_pages(db):
    for member, role in (("alice", "teacher"), ("bob", "student"), ("carol", "teacher")):
        ok(db, "earn", member, "points", "5", "e-" + member)
        ok(db, "member", "set", member, json.dumps({"role": role, "grade": 3}))
    rows = [json.loads(line) for line in ok(db, "member", "list").splitlines()]
    assert [r["id"] for r in rows] == ["alice", "bob", "carol"]
    assert rows[0]["status"] == "active" and "joined_at" in rows[0]
    ids = lambda *args: [json.loads(line)["id"] for line in ok(db, "member", "list", *args).splitlines()]
    assert ids("--attribute", "role", "teacher") == ["alice", "carol"]
    assert ids("--attribute", "grade", "3") == ["alice", "bob", "carol"]
    assert ids("--attribute", "role", "teacher", "--after", "alice") == ["carol"]
    assert ids("--limit", "1") == ["alice"]
    assert ids("--idle-for", "1") == []
    assert len(ids("--active-within", "1")) == 3
    assert ids("--status", "blocked") == []
    result = run(db, "member", "list", "--tier", "platinum")
    assert result.returncode == 1 and "no tier named 'platinum'" in result.stderr
    assert run(db, "member", "list", "--colour").returncode == 2
    result = run(db, "member", "set", "alice", "[1]")
    assert result.returncode == 1 and "LOYAL_EJSON" in result.stderr


def test_badges_are_granted_and_revoked(db):
    ok(db, "earn", "alice", "points", "5", "e1")
    assert ok(db, "badge", "grant", "alice", "writer:silver", "editor's pick") == "granted\n"
    assert ok(db, "badge", "grant", "alice", "writer:silver", "again") == \
        "already held: nothing changed\n"
    assert json.loads(ok(db, "badge", "revoke", "alice", "writer:silver", "spam",
                         json_output=True)) == {"changed": True}
    shown = json.loads(ok(db, "member", "show", "alice", json_output=True))
    assert shown["badges"][0]["revoked"]["reason"] == "spam"
    result = run(db, "badge", "grant", "alice", "writer", "no level")
    assert result.returncode == 1 and "has levels" in result.stderr
    result = run(db, "badge", "grant", "alice", "nope", "r")
    assert result.returncode == 1 and "no badge named 'nope'" in result.stderr


def test_tiers_are_assigned_and_released(db):
    ok(db, "earn", "alice", "points", "5", "e1")
    shown = json.loads(ok(db, "tier", "assign", "alice", "champion", "founding member", "365"))
    assert shown["tier"] == "champion" and shown["assigned"]["reason"] == "founding member"
    released = json.loads(ok(db, "tier", "release", "alice", "stepped down"))
    assert released["assigned"] is None
    assert ok(db, "tier", "release", "alice", "again") == "no assignment: nothing changed\n"
    result = run(db, "tier", "assign", "alice", "platinum", "r")
    assert result.returncode == 1 and "no tier named 'platinum'" in result.stderr
    assert run(db, "tier", "assign", "alice", "champion", "r", "soon").returncode == 2


def test_leaderboards_rank_members(db, tmp_path):
    program = json.load(open(PROGRAM))
    program["leaderboards"] = [{"name": "posters", "measure": {"count": "post"},
                                "period": "week"}]
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program))
    ok(db, "program", "apply", str(path))
    for member, posts in (("alice", 3), ("bob", 1), ("carol", 2)):
        for i in range(posts):
            ok(db, "track", member, "post", f"{member}-{i}")
    board = json.loads(ok(db, "leaderboard", "top", "posters"))
    assert [(r["member"], r["score"]) for r in board["rows"]] == [("alice", 3), ("carol", 2),
                                                                   ("bob", 1)]
    assert len(json.loads(ok(db, "leaderboard", "top", "posters", "1"))["rows"]) == 1
    rank = json.loads(ok(db, "leaderboard", "rank", "posters", "bob", "1"))
    assert rank["rank"] == 3 and [r["member"] for r in rank["rows"]] == ["carol", "bob"]
    result = run(db, "leaderboard", "top", "nope")
    assert result.returncode == 1 and "no leaderboard named 'nope'" in result.stderr
    assert run(db, "leaderboard", "top", "posters", "0").returncode == 2


def test_the_outbox_is_read_and_acknowledged(db, tmp_path):
    program = json.load(open(PROGRAM))
    program["outbox"] = {"postings": ["points"]}
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program))
    ok(db, "program", "apply", str(path))
    ok(db, "earn", "alice", "points", "100", "e1")
    ok(db, "spend", "alice", "points", "30", "s1")
    lines = ok(db, "outbox", "read", "mailer").splitlines()
    assert len(lines) == 2
    assert "points_credited" in lines[0] and "alice" in lines[0] and "points_spent" in lines[1]
    rows = [json.loads(line) for line in
            ok(db, "outbox", "read", "mailer", json_output=True).splitlines()]
    assert [r["kind"] for r in rows] == ["points_credited", "points_spent"]
    assert rows[0]["body"]["amount"] == 100
    ok(db, "outbox", "ack", "mailer", str(rows[0]["position"]))
    again = ok(db, "outbox", "read", "mailer", json_output=True).splitlines()
    assert [json.loads(line)["kind"] for line in again] == ["points_spent"]
    consumers = json.loads(ok(db, "outbox", "consumers"))
    assert consumers["consumers"][0]["behind"] == 1
    result = run(db, "outbox", "ack", "mailer", "999")
    assert result.returncode == 1 and "past the newest happening" in result.stderr
    assert json.loads(ok(db, "notices", "sweep", json_output=True)) == {"notices": 0}
    assert run(db, "outbox", "read", "mailer", "--limit", "0").returncode == 2
    assert run(db, "outbox", "read").returncode == 2
