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
    (["verify"], 0), (["check-expr"], 1), (["eval"], 2),
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
