"""The Python binding on a PostgreSQL database: opened by URI or by key=value string, shared by
several handles, and errors that name the server. Skipped without a test cluster
(LOYAL_TEST_POSTGRES: the URI of its maintenance database, as tests/pg/with_cluster.sh sets)."""

import os
import subprocess
import threading
import urllib.parse
import uuid

import pytest

import loyal

from test_loyal import PROGRAM

SERVER = os.environ.get("LOYAL_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(not SERVER, reason="no PostgreSQL test cluster")


def psql(sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", SERVER, "-c", sql], check=True)


def with_database(name, user=""):
    """The cluster's URI naming another database (and user: password), same socket."""
    query = SERVER.split("?", 1)[1]
    return f"postgresql://{user}/{name}?{query}"


@pytest.fixture
def uri():
    """A new database's URI; the database is dropped after the test."""
    name = "loyal_py_" + uuid.uuid4().hex[:12]
    psql(f"CREATE DATABASE {name}")
    yield with_database(name)
    psql(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_uri_opens_like_a_file(uri):
    with loyal.Loyal(uri) as db:
        db.apply_program(PROGRAM)
        outcome = db.track("alice", "purchase", "order-1", {"amount": 42.5})
        assert [(p.currency, p.amount) for p in outcome.postings] == [("points", 42), ("xp", 1)]
        assert db.track("alice", "purchase", "order-1", {"amount": 42.5}).replayed
    with loyal.Loyal(uri, create=False) as again:
        assert again.balance("alice", "points").available == 42
        assert again.balance("alice", "xp").available == 1
        again.verify()


def test_a_key_value_string_needs_postgres(uri, tmp_path):
    with loyal.Loyal(uri) as db:
        db.apply_program(PROGRAM)
        db.credit("alice", "points", 7, "k1")
    parts = urllib.parse.urlsplit(uri)
    query = dict(urllib.parse.parse_qsl(parts.query))
    conninfo = f"host={query['host']} user={query['user']} dbname={parts.path[1:]}"
    with loyal.Loyal(conninfo, create=False, postgres=True) as db:
        assert db.balance("alice", "points").available == 7
    with pytest.raises(loyal.NotFound):  # without postgres=True it is a file's name
        loyal.Loyal(conninfo, create=False)


def test_two_handles_submitting_one_key_post_once(uri):
    with loyal.Loyal(uri) as db:
        db.apply_program(PROGRAM)
    results, errors = [], []

    def submit():
        try:
            with loyal.Loyal(uri) as db:
                results.append(db.credit("bob", "points", 100, "same-key"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({result.txn for result in results}) == 1
    assert sorted(result.replayed for result in results) == [False, True, True, True]
    with loyal.Loyal(uri) as db:
        assert db.balance("bob", "points").available == 100
        db.verify()


def test_an_unreachable_server_names_it_and_never_the_password(uri):
    wrong = with_database("no_such_database", "nobody:sekret-7@")
    with pytest.raises(loyal.StorageError) as caught:
        loyal.Loyal(wrong)
    assert "no_such_database" in str(caught.value)
    assert "sekret-7" not in str(caught.value)
