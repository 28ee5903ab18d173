"""The program document's reference (docs/program.md) and JSON Schema (docs/program.schema.json)
against the engine: the schema is valid, the examples pass it and the engine applies them, the
schema names exactly the keys the engine's parser reads, the reference documents every key, and
documents broken in each part are refused by both."""

import copy
import glob
import json
import os
import re
import subprocess

import pytest
from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("LOYAL_CLI", os.path.join(ROOT, "build", "loyal"))
SCHEMA = json.load(open(os.path.join(ROOT, "docs", "program.schema.json")))
REFERENCE = open(os.path.join(ROOT, "docs", "program.md")).read()
VALIDATOR = Draft202012Validator(SCHEMA)


def documents():
    """The example programs, and every JSON block of the reference."""
    found = [(os.path.relpath(path, ROOT), json.load(open(path)))
             for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.json")))]
    for i, block in enumerate(re.findall(r"```json\n(.*?)```", REFERENCE, re.S)):
        found.append((f"docs/program.md block {i + 1}", json.loads(block)))
    return found


def apply(tmp_path, document):
    """Applies document with the CLI on a fresh database: (exit code, stderr)."""
    db = tmp_path / "schema.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{db}{suffix}"):
            os.unlink(f"{db}{suffix}")
    subprocess.run([CLI, "--db", str(db), "init"], check=True, capture_output=True)
    path = tmp_path / "program.json"
    path.write_text(json.dumps(document))
    result = subprocess.run([CLI, "--db", str(db), "program", "apply", str(path)],
                            capture_output=True, text=True)
    return result.returncode, result.stderr


def schema_keys(node=SCHEMA):
    """Every property name the schema defines, anywhere."""
    keys = set()
    if isinstance(node, dict):
        for name, value in node.get("properties", {}).items():
            keys.add(name)
            keys |= schema_keys(value)
        for key, value in node.items():
            if key != "properties":
                keys |= schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= schema_keys(value)
    return keys


def engine_keys():
    """The keys of every list of allowed keys in the engine's document parser."""
    keys = set()
    for path in glob.glob(os.path.join(ROOT, "lib", "engine", "document*.c")):
        source = open(path).read()
        for body in re.findall(r"static const char \*const \w+\[\] = \{([^}]*NULL)\};", source):
            keys |= set(re.findall(r'"([^"]+)"', body))
    return keys


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name,document", documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_examples_pass_the_schema_and_the_engine_applies_them(tmp_path, name, document):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in VALIDATOR.iter_errors(document)]
    assert errors == [], name
    code, stderr = apply(tmp_path, document)
    assert code == 0, (name, stderr)


def test_the_schema_names_exactly_the_keys_the_engine_reads():
    engine, schema = engine_keys(), schema_keys()
    assert len(engine) > 60
    # The engine also reads the keys of objects whose keys are data: a rule's award names a
    # currency or "coupon", a measure is one of three, which the schema spells out.
    assert engine - schema == set(), "keys the schema lacks"
    assert schema - engine <= {"coupon", "count", "sum", "earned"}, "keys the engine never reads"
    assert {"coupon", "count"} <= engine


def test_the_reference_documents_every_key():
    """Each key is in a code span of the reference: `key`, `review.at`, `{"sum": ...}`."""
    prose = re.sub(r"```.*?```", "", REFERENCE, flags=re.S)
    spans = re.findall(r"`([^`]+)`", prose)
    missing = sorted(key for key in schema_keys()
                     if not any(re.search(rf'(^|[."{{<]){key}($|["}}>.:])', span)
                                for span in spans))
    assert missing == []


BASE = json.load(open(os.path.join(ROOT, "examples", "lifecycle.json")))

# Documents broken in one place, and the key the engine's message names.
BROKEN = [
    (lambda d: d.update(rule=[]), "rule"),
    (lambda d: d.update(timezone="Europe/Paris"), "timezone"),
    (lambda d: d["currencies"][0].update(expires="never"), "expires"),
    (lambda d: d["currencies"][0].update(clawback="maybe"), "clawback"),
    (lambda d: d["currencies"][0].update(expiry={"after_days": 0}), "after_days"),
    (lambda d: d["currencies"][0].update(name="Points!"), "name"),
    (lambda d: d["rules"][2]["caps"][0].update(per="year"), "per"),
    (lambda d: d["rules"][2].update(award={}), "award"),
    (lambda d: d["rules"][2].update(pending_days=0), "pending_days"),
    (lambda d: d["rules"][2].update(when={"days": ["someday"]}), "when"),
    (lambda d: d["tiers"]["levels"][1].update(multiplier=2000), "multiplier"),
    (lambda d: d["tiers"].update(drop="all"), "drop"),
    (lambda d: d["tiers"].update(review={"at": "birthday"}), "review"),
    (lambda d: d["badges"][0].update(freezes=40), "freezes"),
    (lambda d: d["badges"][0].update(levels=[{"name": "x", "criterion": "count(post) > 1"}]),
     "badges[0]"),
    (lambda d: d["segments"][0].pop("criterion"), "criterion"),
    (lambda d: d["coupons"][0].update(code_length=5), "code_length"),
    (lambda d: d["coupons"][0].update(valid={"from": 0}), "valid"),
    (lambda d: d["rewards"][1].update(fulfilment="later"), "fulfilment"),
    (lambda d: d["rewards"][1].update(price={}), "price"),
    (lambda d: d["rewards"][1].update(limits=[{"per": "decade", "count": 1}]), "per"),
    (lambda d: d.update(leaderboards=[{"name": "b", "measure": {"count": "post"},
                                       "period": "year"}]), "period"),
    (lambda d: d.update(leaderboards=[{"name": "b", "measure": {"max": "post"},
                                       "period": "week"}]), "measure"),
    (lambda d: d.update(outbox={"retention_days": -1}), "retention_days"),
    (lambda d: d.update(notices={"expiring_days": []}), "expiring_days"),
]


@pytest.mark.parametrize("breaks,key", BROKEN, ids=[key for _, key in BROKEN])
def test_a_broken_document_is_refused_by_the_schema_and_the_engine(tmp_path, breaks, key):
    document = copy.deepcopy(BASE)
    breaks(document)
    assert list(VALIDATOR.iter_errors(document)), "the schema takes it"
    code, stderr = apply(tmp_path, document)
    assert code == 1, stderr
    assert key in stderr, stderr


def test_the_fuzzers_dictionary_names_every_key():
    """tests/fuzz/dict/fuzz_program.dict gives the fuzzer every key of the document."""
    entries = open(os.path.join(ROOT, "tests", "fuzz", "dict", "fuzz_program.dict")).read()
    missing = sorted(key for key in schema_keys() if f'"\\"{key}\\""' not in entries)
    assert missing == []
