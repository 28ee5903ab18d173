"""loyal: an embeddable loyalty engine (points ledger, earning rules, tiers, badges, rewards,
coupons), from Python.

    import loyal
    with loyal.Loyal("shop.db") as db:
        db.apply_program({"currencies": [{"name": "points"}]})
        db.credit("alice", "points", 100, "welcome-alice")
        print(db.balance("alice", "points").available)

Results are the frozen dataclasses of loyal.types; every time is an aware datetime (UTC) and
every duration a timedelta. Times passed in must be aware datetimes (a naive one is refused
rather than guessed at). Errors are loyal.Error subclasses that also subclass the built-in
they mean (loyal.errors).

A Loyal object wraps one engine handle; calls on it from several threads take turns. For
throughput, open one per thread or per process; never use one across fork() (see README).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import os
import threading
from typing import (Any, Callable, Iterable, Iterator, List, Mapping, Optional,
                    Tuple, TypeVar, Union)

from ._loyal import ffi, lib
from . import errors, types
from .errors import *  # noqa: F401,F403 (the exceptions are part of the package's names)
from .errors import error_for, Misuse
from .types import *  # noqa: F401,F403 (so are the result types)
from .types import from_json

__all__ = ["Loyal", "version", "__version__"] + errors.__all__ + types.__all__

T = TypeVar("T")
Path = Union[str, "os.PathLike[str]"]


def version() -> str:
    """The engine's version, such as "0.1.0" (the package's own version: it is built in)."""
    return ffi.string(lib.loyal_version()).decode()


__version__ = version()


# ---- arguments ----

def _ms(name: str, value: Optional[_dt.datetime]) -> int:
    """An aware datetime as Unix milliseconds; None is 0 (the call's default: now)."""
    if value is None:
        return 0
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime: give it a time zone "
                         "(datetime.timezone.utc, or zoneinfo.ZoneInfo(...))")
    return (value - types.EPOCH) // _dt.timedelta(milliseconds=1)


def _duration_ms(name: str, value: Optional[_dt.timedelta]) -> int:
    if value is None:
        return 0
    if not isinstance(value, _dt.timedelta):
        raise TypeError(f"{name} must be a timedelta, not {type(value).__name__}")
    return value // _dt.timedelta(milliseconds=1)


def _int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _bool(name: str, value: bool) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def _bytes(name: str, value: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value.encode()


def _c_text(name: str, value: Optional[str]):
    """A C string (kept alive by the caller while the call runs), or NULL for None."""
    return ffi.NULL if value is None else ffi.new("char[]", _bytes(name, value))


def _json_value(value: Any) -> Any:
    """What json cannot write itself: Decimal as a number, datetime as ISO 8601 text in UTC
    (a naive one refused), date as ISO 8601 text."""
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number a property can hold")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, _dt.datetime):
        _ms("a datetime property", value)
        return value.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds") \
            .replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value (give str, int, float, bool, "
                    "None, Decimal, datetime, date, or a list or dict of those)")


def _document(name: str, value: Union[str, Mapping[str, Any]]) -> bytes:
    """A JSON document: text as given, a mapping written with _json_value's conversions."""
    if isinstance(value, str):
        return value.encode()
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict or JSON text, not {type(value).__name__}")
    return json.dumps(value, default=_json_value, allow_nan=False).encode()


# ---- callbacks ----

@ffi.def_extern()
def _loyal_python_clock(ctx):
    owner = ffi.from_handle(ctx)
    try:
        return _ms("the clock's time", owner._clock())
    except BaseException as error:  # kept, and raised after the C call returns
        owner._callback_error = error
        return 0


class _Callbacks:
    """What a long call's C callbacks call back into: the caller's functions (progress, and
    `each`: a grant's refusal, a what-if's member difference), and the first error they
    raised (kept, and raised once the call returns)."""

    def __init__(self, owner: "Loyal", progress, each):
        self.owner, self.progress, self.each = owner, progress, each

    def call(self, function, *args):
        if self.owner._callback_error is None:
            try:
                function(*args)
            except BaseException as error:
                self.owner._callback_error = error


@ffi.def_extern()
def _loyal_python_grant_progress(ctx, done, total):
    callbacks = ffi.from_handle(ctx)
    callbacks.call(callbacks.progress, done, total)


@ffi.def_extern()
def _loyal_python_grant_refused(ctx, member, code, why, message):
    callbacks = ffi.from_handle(ctx)
    callbacks.call(callbacks.each, ffi.string(member).decode(), ffi.string(why).decode(),
                   ffi.string(message).decode())


@ffi.def_extern()
def _loyal_python_stoppable_progress(ctx, done, total):
    callbacks = ffi.from_handle(ctx)
    if callbacks.owner._callback_error is not None:
        return 1
    try:
        return 1 if callbacks.progress(done, total) else 0
    except BaseException as error:  # stops the call; raised once it returns
        callbacks.owner._callback_error = error
        return 1


@ffi.def_extern()
def _loyal_python_whatif_difference(ctx, text):
    callbacks = ffi.from_handle(ctx)
    if callbacks.owner._callback_error is not None:
        return 1
    try:
        row = from_json(MemberDifference, json.loads(ffi.string(text).decode()))
        return 1 if callbacks.each(row) else 0
    except BaseException as error:  # stops the replay; raised once it returns
        callbacks.owner._callback_error = error
        return 1


class Loyal:
    """An open loyal database. Use it as a context manager, or call close().

    `path` is a SQLite file (a str or os.PathLike), or a PostgreSQL database's
    postgresql:// (or postgres://) URI; with postgres=True it is any libpq connection
    string, key=value pairs included ("host=db dbname=loyalty"). `create` makes a missing
    file; `readonly` opens for reading only; `busy_timeout` is how long a call waits for
    another writer; `clock` (a function returning an aware datetime) replaces the system
    clock, for tests and simulations.

    Raises NotFound (a missing file without create), NotADatabase (not a loyal file),
    VersionMismatch (written by a newer loyal), StorageError (unreadable file, unreachable
    server: the message names it, never its password), ReadOnly, InvalidArgument."""

    def __init__(self, path: Path, *, create: bool = True, readonly: bool = False,
                 busy_timeout: Optional[_dt.timedelta] = None,
                 clock: Optional[Callable[[], _dt.datetime]] = None,
                 postgres: bool = False):
        # Re-entrant: a batch holds it from its start to its end, so that calls from other
        # threads wait for the batch instead of running inside its transaction.
        self._lock = threading.RLock()
        # Guards the handle against being closed while interrupt() uses it from another
        # thread (interrupt cannot take _lock: the call it stops holds it).
        self._interrupt_lock = threading.Lock()
        self._callback_error: Optional[BaseException] = None
        self._db = ffi.NULL
        self._clock = clock
        self._self_handle = ffi.new_handle(self)
        location = os.fsdecode(os.fspath(path))
        options = ffi.new("loyal_open_options *")
        lib.loyal_open_options_init(options, lib.LOYAL_OPEN_OPTIONS_VERSION)
        options.flags = (lib.LOYAL_OPEN_READONLY if readonly else 0) | \
            (lib.LOYAL_OPEN_CREATE if create and not readonly else 0)
        options.busy_timeout_ms = _duration_ms("busy_timeout", busy_timeout)
        if postgres:
            options.backend = lib.LOYAL_BACKEND_POSTGRES
        if clock is not None:
            options.clock = lib._loyal_python_clock
            options.clock_ctx = self._self_handle
        out = ffi.new("loyal_db **")
        rc = lib.loyal_open(location.encode(), options, out)
        self._db = out[0]
        if rc != lib.LOYAL_OK:
            message = ffi.string(lib.loyal_errmsg(self._db)).decode() if self._db else ""
            lib.loyal_close(self._db)
            self._db = ffi.NULL
            raise error_for(rc, message)

    # ---- lifetime ----

    def close(self) -> None:
        """Closes the database; later calls raise loyal.Misuse. Closing twice is fine."""
        with self._lock, self._interrupt_lock:
            if self._db:
                db, self._db = self._db, ffi.NULL
                lib.loyal_close(db)

    def interrupt(self) -> None:
        """Stops the call that another thread is running on this database as soon as it can
        (one waiting for another writer's lock, or a long statement): that call raises
        loyal.Interrupted having written nothing (grant() and refresh_segments() keep the parts
        committed before; calling them again completes them). A call that starts later runs
        as usual. The one method that may be called while another thread uses the database;
        for deadlines and cancellation. Raises nothing; does nothing once closed."""
        with self._interrupt_lock:
            if self._db:
                lib.loyal_interrupt(self._db)

    def __enter__(self) -> "Loyal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        # A safety net only: close() is the way.
        if getattr(self, "_db", None):
            lib.loyal_close(self._db)
            self._db = ffi.NULL

    def _raise_last(self, rc: int) -> None:
        raise error_for(rc, ffi.string(lib.loyal_errmsg(self._db)).decode(),
                        bool(lib.loyal_errreplayed(self._db)))

    def _call(self, function, *args) -> None:
        """Calls a C function on the handle; raises the mapped error (or a callback's)."""
        with self._lock:
            if not self._db:
                raise Misuse(lib.LOYAL_EMISUSE, "the database is closed")
            self._callback_error = None
            rc = function(self._db, *args)
            if self._callback_error is not None:
                error, self._callback_error = self._callback_error, None
                raise error
            if rc != lib.LOYAL_OK:
                self._raise_last(rc)

    def _json(self, function, *args) -> Any:
        out = ffi.new("char **")
        self._call(function, *args, out)
        try:
            return json.loads(ffi.string(out[0]).decode())
        finally:
            lib.loyal_free(out[0])

    def _typed(self, cls: type, function, *args) -> Any:
        return from_json(cls, self._json(function, *args))

    def _typed_list(self, cls: type, function, *args) -> list:
        return [from_json(cls, item) for item in self._json(function, *args)]

    def _rows(self, cls: Optional[type], function, *args) -> Iterator[Any]:
        out = ffi.new("loyal_cursor **")
        self._call(function, *args, out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free), cls)

    def _count(self, function, *args) -> int:
        out = ffi.new("int64_t *")
        self._call(function, *args, out)
        return out[0]

    def _changed(self, function, *args) -> bool:
        out = ffi.new("int *")
        self._call(function, *args, out)
        return bool(out[0])

    # ---- the database ----

    def verify(self) -> None:
        """Checks the storage and every invariant of the ledger and the state derived from
        it. Raises Corrupt naming the first violation, StorageError."""
        self._call(lib.loyal_verify)

    def now(self) -> _dt.datetime:
        """The handle's clock (the `clock` given to the constructor, or the system's)."""
        out = ffi.new("int64_t *")
        self._call(lib.loyal_now, out)
        return types.datetime_of(out[0])

    class _Batch:
        def __init__(self, owner: "Loyal"):
            self.owner = owner

        def __enter__(self):
            self.owner._lock.acquire()
            try:
                self.owner._call(lib.loyal_batch_begin)
            except BaseException:
                self.owner._lock.release()
                raise
            return self.owner

        def __exit__(self, kind, value, traceback):
            try:
                if kind is None:
                    self.owner._call(lib.loyal_batch_commit)
                else:
                    # A failing rollback is raised with the block's exception as its context.
                    self.owner._call(lib.loyal_batch_rollback)
            finally:
                self.owner._lock.release()

    def batch(self) -> "Loyal._Batch":
        """`with db.batch():` runs the calls inside in one transaction: committed when the
        block ends, rolled back if it raises. A refused call inside (InsufficientPoints, ...)
        undoes only itself; one that fails in storage (StorageError, NoMemory, Interrupted)
        may roll the whole batch back, and the calls after it then raise InvalidState. The
        batch owns the handle for its whole extent: calls on this
        object from other threads wait until it ends, so they never run inside (or are rolled
        back with) another thread's batch. A commit that fails ends the batch with everything
        in it rolled back, and raises the commit's error (StorageError, Busy). Raises
        InvalidState for a batch inside a batch."""
        return Loyal._Batch(self)

    # ---- the program ----

    def apply_program(self, program: Union[str, Mapping[str, Any]]) -> int:
        """Applies a program document (a dict or JSON text); returns the version now current
        (the same version when the document is unchanged). Raises InvalidJSON (naming the
        key at fault), CriteriaSyntaxError (an expression, with its position), ReadOnly."""
        version_out = ffi.new("int64_t *")
        self._call(lib.loyal_program_apply, _document("program", program), version_out)
        return version_out[0]

    def program(self) -> Program:
        """The current program and its version. Raises NotFound when none was applied."""
        return self._typed(Program, lib.loyal_program_get)

    # ---- members ----

    def member(self, member: str) -> Member:
        """A member with their attributes. Raises NotFound."""
        return self._typed(Member, lib.loyal_member_get, _bytes("member", member))

    def member_as_of(self, member: str, at: _dt.datetime) -> MemberAsOf:
        """The member as they stood at the past instant `at` (an aware datetime), rebuilt
        from the ledger and the tier and badge histories: every transaction dated by then,
        with what had fallen due by then settled as a balance read settles it. Raises
        InvalidArgument (`at` after the clock), NotFound (no such member, or one who had not
        joined by then)."""
        return self._typed(MemberAsOf, lib.loyal_member_as_of, _bytes("member", member),
                           _ms("at", at))

    def set_attributes(self, member: str, attributes: Mapping[str, Any]) -> None:
        """Merges attributes into the member's (creating the member if new); a value of None
        removes the key. Values may be str, int, float, bool, Decimal, datetime, date, or
        lists and dicts of those. Raises InvalidJSON, Blocked, ReadOnly."""
        self._call(lib.loyal_member_set_attrs, _bytes("member", member),
                   _document("attributes", attributes))

    def members(self, *, attribute: Optional[str] = None, value: Any = None,
                tier: Optional[str] = None, segment: Optional[str] = None,
                active_from: Optional[_dt.datetime] = None,
                active_before: Optional[_dt.datetime] = None,
                status: Optional[str] = None,
                after: Optional[str] = None) -> Iterator[MemberSummary]:
        """The members every given condition holds for, in the order they joined, streamed:
        an attribute equal to `value` (a str, number or bool), a tier now, a segment as of the
        last refresh, last active in [active_from, active_before), status "active" or
        "blocked". To go on later, pass the last row's id as `after`. Raises
        InvalidArgument (an attribute without a value, a bad status), NotFound (unknown tier,
        segment or `after` member)."""
        query = ffi.new("loyal_member_query *")
        lib.loyal_member_query_init(query, lib.LOYAL_MEMBER_QUERY_VERSION)
        keep = [_c_text("attribute", attribute),
                ffi.NULL if attribute is None and value is None
                else ffi.new("char[]", json.dumps(value, default=_json_value).encode()),
                _c_text("tier", tier), _c_text("segment", segment),
                _c_text("status", status), _c_text("after", after)]
        (query.attribute, query.value, query.tier, query.segment, query.status,
         query.after) = keep
        query.active_from = _ms("active_from", active_from)
        query.active_before = _ms("active_before", active_before)
        return self._rows(MemberSummary, lib.loyal_member_list, query)

    def block(self, member: str) -> None:
        """Blocks the member: every write for them is refused with Blocked until unblock.
        Raises NotFound."""
        self._call(lib.loyal_member_block, _bytes("member", member))

    def unblock(self, member: str) -> None:
        """Unblocks the member. Raises NotFound."""
        self._call(lib.loyal_member_unblock, _bytes("member", member))

    # ---- the ledger ----

    def _post(self, function, member: str, currency: str, key: str, *, amount: int = 0,
              reason: Optional[str] = None, cause: Optional[str] = None,
              at: Optional[_dt.datetime] = None, pending: Optional[_dt.timedelta] = None,
              expires_at: Optional[_dt.datetime] = None, to_member: Optional[str] = None,
              deadline: Optional[_dt.datetime] = None, txn: int = 0,
              dry_run: bool = False) -> Result:
        posting = ffi.new("loyal_posting *")
        lib.loyal_posting_init(posting, lib.LOYAL_POSTING_VERSION)
        keep = [_c_text("member", member), _c_text("currency", currency),
                _c_text("key", key), _c_text("reason", reason), _c_text("cause", cause),
                _c_text("to_member", to_member)]
        posting.member, posting.currency, posting.idempotency_key = keep[0], keep[1], keep[2]
        posting.reason, posting.cause, posting.to_member = keep[3], keep[4], keep[5]
        posting.amount = _int("amount", amount)
        posting.at = _ms("at", at)
        posting.pending_ms = _duration_ms("pending", pending)
        posting.expires_at = _ms("expires_at", expires_at)
        posting.deadline = _ms("deadline", deadline)
        posting.txn = _int("txn", txn)
        posting.flags = lib.LOYAL_DRY_RUN if _bool("dry_run", dry_run) else 0
        result = ffi.new("loyal_result *")
        result.version = lib.LOYAL_RESULT_VERSION
        self._call(function, posting, result)
        return Result(result.txn, result.amount, bool(result.replayed), bool(dry_run))

    def credit(self, member: str, currency: str, amount: int, key: str, *,
               reason: Optional[str] = None, cause: Optional[str] = None,
               at: Optional[_dt.datetime] = None, pending: Optional[_dt.timedelta] = None,
               expires_at: Optional[_dt.datetime] = None,
               dry_run: bool = False) -> Result:
        """Credits `amount` points (a new lot, expiring by the currency's rule or at
        `expires_at`; pending for `pending` first if given), creating the member if new.
        The same key with the same request returns the first Result (replayed=True). Raises
        InvalidArgument, NotFound (currency), Conflict (key reused), Blocked, Overflow,
        ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_credit, member, currency, key, amount=amount,
                          reason=reason, cause=cause, at=at, pending=pending,
                          expires_at=expires_at, dry_run=dry_run)

    def debit(self, member: str, currency: str, amount: int, key: str, *,
              reason: Optional[str] = None, cause: Optional[str] = None,
              at: Optional[_dt.datetime] = None,
              dry_run: bool = False) -> Result:
        """Spends `amount` available points, soonest-expiring first. Raises
        InsufficientPoints (sticky under the key: a retry raises it again with
        replayed=True), NotFound, Conflict, Blocked, InvalidArgument, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_debit, member, currency, key, amount=amount,
                          reason=reason, cause=cause, at=at, dry_run=dry_run)

    def adjust(self, member: str, currency: str, amount: int, key: str, *, reason: str,
               cause: Optional[str] = None, at: Optional[_dt.datetime] = None,
               dry_run: bool = False) -> Result:
        """An operator's correction, signed, with a required reason. Raises
        InsufficientPoints (a negative one beyond the balance), NotFound, Conflict,
        InvalidArgument, Overflow, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_adjust, member, currency, key, amount=amount,
                          reason=reason, cause=cause, at=at, dry_run=dry_run)

    def transfer(self, member: str, to_member: str, currency: str, amount: int, key: str, *,
                 reason: Optional[str] = None, cause: Optional[str] = None,
                 at: Optional[_dt.datetime] = None,
                 dry_run: bool = False) -> Result:
        """Moves `amount` available points from `member` to `to_member` (created if new),
        keeping their expiry. Raises InsufficientPoints, NotFound, Conflict, Blocked,
        InvalidArgument, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_transfer, member, currency, key, amount=amount,
                          to_member=to_member, reason=reason, cause=cause, at=at,
                          dry_run=dry_run)

    def hold(self, member: str, currency: str, amount: int, key: str, *,
             deadline: _dt.datetime, reason: Optional[str] = None,
             cause: Optional[str] = None, at: Optional[_dt.datetime] = None,
             dry_run: bool = False) -> Result:
        """Sets `amount` available points aside until captured, released, or `deadline`;
        Result.txn names the hold. Raises InsufficientPoints, NotFound, Conflict, Blocked,
        InvalidArgument, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_hold, member, currency, key, amount=amount,
                          deadline=deadline, reason=reason, cause=cause, at=at,
                          dry_run=dry_run)

    def capture(self, member: str, currency: str, hold: int, key: str, *, amount: int = 0,
                reason: Optional[str] = None, cause: Optional[str] = None,
                at: Optional[_dt.datetime] = None,
                dry_run: bool = False) -> Result:
        """Spends `amount` (0: all) of the hold; the rest is released. Raises NotFound (no
        such hold of the member), InvalidState (settled or past its deadline),
        InvalidArgument (more than held), Conflict, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_capture, member, currency, key, amount=amount,
                          txn=hold, reason=reason, cause=cause, at=at, dry_run=dry_run)

    def release(self, member: str, currency: str, hold: int, key: str, *,
                reason: Optional[str] = None, cause: Optional[str] = None,
                at: Optional[_dt.datetime] = None,
                dry_run: bool = False) -> Result:
        """Releases the hold: its points return to their lots. Raises NotFound,
        InvalidState, Conflict, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_release, member, currency, key, txn=hold,
                          reason=reason, cause=cause, at=at, dry_run=dry_run)

    def reverse(self, member: str, currency: str, txn: int, key: str, *, amount: int = 0,
                reason: Optional[str] = None, cause: Optional[str] = None,
                at: Optional[_dt.datetime] = None,
                dry_run: bool = False) -> Result:
        """Reverses `amount` (0: all that is left) of the transaction: a credit is clawed
        back by the currency's policy, a debit refunded with its expiry. Result.amount says
        what moved. Raises NotFound, InvalidState (cannot be reversed, or more than is left),
        Conflict, Overflow, ReadOnly, Busy.
        dry_run=True: the Result it would give (refusals raised alike), nothing written."""
        return self._post(lib.loyal_ledger_reverse, member, currency, key, amount=amount,
                          txn=txn, reason=reason, cause=cause, at=at, dry_run=dry_run)

    def balance(self, member: str, currency: str, *,
                at: Optional[_dt.datetime] = None) -> Balance:
        """The member's balance in `currency` as of `at` (None: now). Raises NotFound
        (member or currency), InvalidArgument."""
        out = ffi.new("loyal_balance *")
        out.version = lib.LOYAL_BALANCE_VERSION
        self._call(lib.loyal_ledger_balance, _bytes("member", member),
                   _bytes("currency", currency), _ms("at", at), out)
        return Balance(out.available, out.pending, out.held, out.earned, out.spent,
                       out.expired, types.datetime_of(out.next_expiry_at)
                       if out.next_expiry_at else None, out.next_expiry_amount)

    def expiring(self, member: str, currency: str, *, limit: int = 10) -> List[Expiring]:
        """The member's available points by expiry date, soonest first, at most `limit`
        (1-1000). Raises NotFound, InvalidArgument."""
        return self._typed_list(Expiring, lib.loyal_ledger_expiring, _bytes("member", member),
                                _bytes("currency", currency), _int("limit", limit))

    def statement(self, member: str, *, currency: Optional[str] = None,
                  before: Optional[int] = None) -> Iterator[StatementLine]:
        """The member's transactions, newest first, streamed; only `currency`'s if given;
        from those before the transaction `before` (to page). Raises NotFound (member,
        currency, or a `before` that is not the member's), InvalidArgument."""
        return self._rows(StatementLine, lib.loyal_ledger_statement, _bytes("member", member),
                          _c_text("currency", currency), _int("before", before or 0))

    def transaction(self, txn: int) -> Transaction:
        """A transaction with its double-entry legs and the lots it moved. Raises NotFound."""
        return self._typed(Transaction, lib.loyal_ledger_transaction, _int("txn", txn))

    def explain(self, member: str, currency: str) -> Explanation:
        """Why the balance is what it is: each open lot with its history. Raises NotFound."""
        return self._typed(Explanation, lib.loyal_ledger_explain, _bytes("member", member),
                           _bytes("currency", currency))

    def expire(self, *, at: Optional[_dt.datetime] = None) -> int:
        """Settles every member as of `at` (None: now): expiries and pending points come
        due. Returns how many balances changed. Raises ReadOnly, Busy, StorageError."""
        return self._count(lib.loyal_expire, _ms("at", at))

    # ---- tiers ----

    def tier(self, member: str) -> TierStatus:
        """The member's tier, review dates, multiplier, perks, assignment, and what the next
        tier needs. Raises NotFound."""
        return self._typed(TierStatus, lib.loyal_tier_get, _bytes("member", member))

    def tier_history(self, member: str) -> Iterator[TierHistoryEntry]:
        """The member's tier changes, newest first, streamed. Raises NotFound."""
        return self._rows(TierHistoryEntry, lib.loyal_tier_history, _bytes("member", member))

    def assign_tier(self, member: str, tier: str, reason: str, *,
                    until: Optional[_dt.datetime] = None) -> None:
        """Assigns the member a tier until `until` (None: until released): no review drops
        them below it while it lasts. Raises NotFound (member, tier), InvalidArgument."""
        self._call(lib.loyal_tier_assign, _bytes("member", member), _bytes("tier", tier),
                   _ms("until", until), _bytes("reason", reason))

    def release_tier(self, member: str, reason: str) -> bool:
        """Releases the member's tier assignment: they hold the tier they qualify for now.
        False when they had none. Raises NotFound, InvalidArgument."""
        return self._changed(lib.loyal_tier_release, _bytes("member", member),
                             _bytes("reason", reason))

    def tier_sweep(self, *, at: Optional[_dt.datetime] = None) -> int:
        """Reviews every member whose review is due at `at` (None: now); returns how many
        moved down. Raises ReadOnly, Busy, StorageError."""
        return self._count(lib.loyal_tier_sweep, _ms("at", at))

    def tier_reviews(self, start: _dt.datetime, end: _dt.datetime, *,
                     after: Optional[str] = None) -> Iterator[TierReview]:
        """The members whose tier review falls in [start, end), streamed; `after` resumes
        after a member. Raises InvalidArgument, NotFound."""
        return self._rows(TierReview, lib.loyal_tier_reviews, _ms("start", start),
                          _ms("end", end), _c_text("after", after))

    # ---- leaderboards ----

    def leaderboard(self, name: str, *, at: Optional[_dt.datetime] = None,
                    limit: int = 10) -> Leaderboard:
        """The top `limit` of a leaderboard's period at `at` (None: now). Raises NotFound
        (no such leaderboard), InvalidArgument (limit not 1-1000)."""
        return self._typed(Leaderboard, lib.loyal_leaderboard_top, _bytes("name", name),
                           _ms("at", at), _int("limit", limit))

    def leaderboard_rank(self, name: str, member: str, *, at: Optional[_dt.datetime] = None,
                         neighbours: int = 2) -> LeaderboardRank:
        """The member's rank and score (None: no score yet) with `neighbours` rows above and
        below. Raises NotFound (leaderboard, member), InvalidArgument."""
        return self._typed(LeaderboardRank, lib.loyal_leaderboard_rank, _bytes("name", name),
                           _bytes("member", member), _ms("at", at),
                           _int("neighbours", neighbours))

    # ---- the outbox and notices ----

    def outbox(self, consumer: str, *, limit: int = 0) -> Iterator[Happening]:
        """The happenings after the consumer's acknowledged position, oldest first (at most
        `limit`; 0: all), streamed. Reading again before outbox_ack gives the same rows.
        Raises InvalidArgument (a bad consumer name), ReadOnly (a first read records the
        consumer)."""
        return self._rows(Happening, lib.loyal_outbox_read, _bytes("consumer", consumer),
                          _int("limit", limit))

    def outbox_ack(self, consumer: str, position: int) -> None:
        """Acknowledges every happening up to `position` for the consumer (an older position
        changes nothing). Raises InvalidArgument (a position past the newest happening)."""
        self._call(lib.loyal_outbox_ack, _bytes("consumer", consumer),
                   _int("position", position))

    def outbox_forget(self, consumer: str) -> bool:
        """Forgets a consumer; returns whether it was recorded. Raises InvalidArgument."""
        return self._changed(lib.loyal_outbox_forget, _bytes("consumer", consumer))

    def outbox_consumers(self) -> OutboxConsumers:
        """The newest position and each consumer's position and lag."""
        return self._typed(OutboxConsumers, lib.loyal_outbox_consumers)

    def notice_sweep(self, *, at: Optional[_dt.datetime] = None) -> int:
        """Announces points about to expire and tiers at risk as of `at` (None: now), each
        once, as happenings; returns how many it wrote. Raises ReadOnly, Busy."""
        return self._count(lib.loyal_notice_sweep, _ms("at", at))

    def points_expiring(self, start: _dt.datetime, end: _dt.datetime, *,
                        currency: Optional[str] = None,
                        after: Optional[str] = None) -> Iterator[PointsExpiring]:
        """Who has active points expiring in [start, end), per member, currency and day, in
        the order members joined, streamed; `after` resumes after a member. Raises
        InvalidArgument, NotFound."""
        return self._rows(PointsExpiring, lib.loyal_points_expiring,
                          _c_text("currency", currency), _ms("start", start), _ms("end", end),
                          _c_text("after", after))

    # ---- badges ----

    def badges(self, member: str) -> List[BadgeAward]:
        """The member's badge awards, oldest first, revoked ones included. Raises NotFound."""
        return self._typed_list(BadgeAward, lib.loyal_badge_list, _bytes("member", member))

    def grant_badge(self, member: str, badge: str, reason: str, *,
                    level: Optional[str] = None) -> bool:
        """Grants a badge (a level of it) with a reason; False when the member holds it
        already. Raises NotFound (unknown member, badge or level), InvalidArgument."""
        return self._changed(lib.loyal_badge_grant, _bytes("member", member),
                             _bytes("badge", badge), _c_text("level", level),
                             _bytes("reason", reason))

    def revoke_badge(self, member: str, badge: str, reason: str, *,
                     level: Optional[str] = None) -> bool:
        """Revokes a badge (a level of it) with a reason, kept in the history; False when the
        member does not hold it. Raises NotFound, InvalidArgument."""
        return self._changed(lib.loyal_badge_revoke, _bytes("member", member),
                             _bytes("badge", badge), _c_text("level", level),
                             _bytes("reason", reason))

    def badge_progress(self, member: str, badge: str) -> BadgeProgress:
        """Progress towards the badge's next level. Raises NotFound."""
        return self._typed(BadgeProgress, lib.loyal_badge_progress, _bytes("member", member),
                           _bytes("badge", badge))

    def badge_sweep(self, *, at: Optional[_dt.datetime] = None) -> int:
        """Evaluates every badge for every member; returns the number of awards. Raises
        ReadOnly, Busy."""
        return self._count(lib.loyal_badge_sweep, _ms("at", at))

    # ---- segments ----

    def segments_of(self, member: str) -> List[str]:
        """The names of the segments the member is in now. Raises NotFound."""
        return self._json(lib.loyal_segment_of, _bytes("member", member))

    def segment_members(self, segment: str) -> Iterator[str]:
        """The ids of a segment's members now, streamed. Raises NotFound."""
        rows = self._rows(None, lib.loyal_segment_members, _bytes("segment", segment))
        return (row["member"] for row in rows)

    def refresh_segments(self, *, at: Optional[_dt.datetime] = None) -> List[SegmentChange]:
        """Re-evaluates every segment now (the work is done before this returns) and
        returns who entered and left. Raises ReadOnly, Busy."""
        refresh = ffi.new("int64_t *")
        return list(self._rows(SegmentChange, lib.loyal_segment_refresh, _ms("at", at),
                               refresh))

    # ---- reports ----

    def report_liability(self) -> List[Liability]:
        """Outstanding points per currency."""
        return self._typed_list(Liability, lib.loyal_report_liability)

    def report_flows(self, start: _dt.datetime, end: _dt.datetime) -> List[Flows]:
        """Issued, redeemed, expired, adjusted, reversed and breakage per currency over
        [start, end). Raises InvalidArgument."""
        return self._typed_list(Flows, lib.loyal_report_flows, _ms("start", start),
                                _ms("end", end))

    def report_rewards(self, start: _dt.datetime, end: _dt.datetime) -> RewardsReport:
        """Redemptions per reward (by state, units, members, points, stock left) and codes
        issued, used and left per coupon, over [start, end). Raises InvalidArgument."""
        return self._typed(RewardsReport, lib.loyal_report_rewards, _ms("start", start),
                           _ms("end", end))

    def report_active(self, period: str, start: _dt.datetime,
                      end: _dt.datetime) -> List[ActivePeriod]:
        """Active members per "day", "week" or "month" (in the program's time zone) over
        [start, end). Raises InvalidArgument."""
        return self._typed_list(ActivePeriod, lib.loyal_report_active,
                                _bytes("period", period), _ms("start", start),
                                _ms("end", end))

    def report_retention(self, period: str, start: _dt.datetime,
                         end: _dt.datetime) -> List[RetentionCohort]:
        """Retention by join cohort ("day", "week" or "month"). Raises InvalidArgument."""
        return self._typed_list(RetentionCohort, lib.loyal_report_retention,
                                _bytes("period", period), _ms("start", start),
                                _ms("end", end))

    def report_sizes(self) -> Sizes:
        """Members per tier, and per segment as of the last refresh."""
        return self._typed(Sizes, lib.loyal_report_sizes)

    # ---- rewards ----

    def rewards(self, member: str, *, at: Optional[_dt.datetime] = None) -> List[RewardOffer]:
        """Every reward of the program as the member sees it at `at` (None: now). Raises
        NotFound (member)."""
        return self._typed_list(RewardOffer, lib.loyal_reward_list, _bytes("member", member),
                                _ms("at", at))

    def redeem(self, member: str, reward: str, key: str, *, quantity: int = 1,
               at: Optional[_dt.datetime] = None) -> Redemption:
        """Redeems `quantity` units of a reward ("fulfilled", or "pending" for a two-phase
        reward). Raises NotEligible, LimitReached, SoldOut, InsufficientPoints, Blocked (each
        sticky under the key: replayed=True on a retry), NotFound, Conflict,
        InvalidArgument."""
        request = ffi.new("loyal_redeem *")
        lib.loyal_redeem_init(request, lib.LOYAL_REDEEM_VERSION)
        keep = [_c_text("member", member), _c_text("reward", reward), _c_text("key", key)]
        request.member, request.reward, request.idempotency_key = keep
        request.quantity = _int("quantity", quantity)
        request.at = _ms("at", at)
        return self._typed(Redemption, lib.loyal_reward_redeem, request)

    def fulfil(self, member: str, redemption: int, key: str) -> Redemption:
        """Fulfils a pending redemption (its held points are spent). Raises InvalidState
        (not pending: fulfilled, cancelled or expired), Blocked, NotFound, Conflict."""
        return self._typed(Redemption, lib.loyal_redemption_fulfil, _bytes("member", member),
                           _int("redemption", redemption), _bytes("key", key))

    def cancel_redemption(self, member: str, redemption: int, key: str) -> Redemption:
        """Cancels a redemption: its points come back with their expiry, its units to the
        stock. Raises InvalidState (cancelled or expired already), NotFound, Conflict."""
        return self._typed(Redemption, lib.loyal_redemption_cancel, _bytes("member", member),
                           _int("redemption", redemption), _bytes("key", key))

    def redemption(self, member: str, redemption: int) -> Redemption:
        """One of the member's redemptions. Raises NotFound."""
        return self._typed(Redemption, lib.loyal_redemption_get, _bytes("member", member),
                           _int("redemption", redemption))

    def redemptions(self, member: str, *, before: Optional[int] = None) -> Iterator[Redemption]:
        """The member's redemptions, newest first (before an id, to page), streamed. Raises
        NotFound, InvalidArgument."""
        return self._rows(Redemption, lib.loyal_redemption_list, _bytes("member", member),
                          _int("before", before or 0))

    def pending_redemptions(self, *, after: Optional[int] = None) -> Iterator[Redemption]:
        """Redemptions awaiting fulfilment, of every member, oldest first (after an id, to
        page), streamed. Raises InvalidArgument."""
        return self._rows(Redemption, lib.loyal_redemption_pending, _int("after", after or 0))

    # ---- coupons ----

    def import_coupon_codes(self, coupon: str, codes: Union[str, Iterable[str]]) -> Tuple[int, int]:
        """Imports codes (an iterable of strings, or text with one per line) into the pool of a
        coupon whose codes come from a pool; returns (added, duplicates). All or nothing:
        raises InvalidArgument naming the line of a malformed code, NotFound."""
        text = codes if isinstance(codes, str) else "\n".join(codes)
        added, duplicates = ffi.new("int64_t *"), ffi.new("int64_t *")
        self._call(lib.loyal_coupon_import, _bytes("coupon", coupon), _bytes("codes", text),
                   added, duplicates)
        return added[0], duplicates[0]

    def issue_coupon(self, member: str, coupon: str, key: str) -> CouponReceipt:
        """Issues a code of the coupon to the member (drawn from its pool, or generated).
        Raises SoldOut (an empty pool), NotEligible, Blocked (sticky under the key),
        NotFound, Conflict."""
        return self._typed(CouponReceipt, lib.loyal_coupon_issue, _bytes("member", member),
                           _bytes("coupon", coupon), _bytes("key", key))

    def check_coupon(self, member: str, code: str, *,
                     at: Optional[_dt.datetime] = None) -> CouponCheck:
        """Whether the member can use the code at `at` (None: now), and if not why. Raises
        NotFound (no such code), InvalidArgument."""
        return CouponCheck.from_engine(self._json(lib.loyal_coupon_check,
                                                  _bytes("member", member),
                                                  _bytes("code", code), _ms("at", at)))

    def reserve_coupon(self, member: str, code: str, key: str) -> CouponReceipt:
        """Sets one use of the code aside for a checkout; the result names the reservation.
        Raises LimitReached (no use left), InvalidState (expired), NotEligible, NotFound."""
        return self._typed(CouponReceipt, lib.loyal_coupon_reserve, _bytes("member", member),
                           _bytes("code", code), _bytes("key", key))

    def release_coupon(self, member: str, reservation: int, key: str) -> CouponReceipt:
        """Gives a reservation's use back. Raises InvalidState (used or released), NotFound."""
        return self._typed(CouponReceipt, lib.loyal_coupon_release, _bytes("member", member),
                           _int("reservation", reservation), _bytes("key", key))

    def use_coupon(self, member: str, code: str, key: str, *,
                   reservation: Optional[int] = None) -> CouponReceipt:
        """Uses the code once (the use a reservation set aside, if given). Raises
        LimitReached, InvalidState, NotEligible (another member's code), NotFound."""
        return self._typed(CouponReceipt, lib.loyal_coupon_use, _bytes("member", member),
                           _bytes("code", code), _int("reservation", reservation or 0),
                           _bytes("key", key))

    def coupons(self, member: str, *, before: Optional[int] = None) -> Iterator[Coupon]:
        """The member's codes, newest first (before an id, to page), streamed. Raises
        NotFound, InvalidArgument."""
        return self._rows(Coupon, lib.loyal_coupon_list, _bytes("member", member),
                          _int("before", before or 0))

    # ---- bulk grants ----

    def grant(self, key: str, *, segment: Optional[str] = None,
              members: Optional[Iterable[str]] = None, currency: Optional[str] = None,
              amount: int = 0, coupon: Optional[str] = None, reason: Optional[str] = None,
              at: Optional[_dt.datetime] = None, expires_at: Optional[_dt.datetime] = None,
              progress: Optional[Callable[[int, int], None]] = None,
              refused: Optional[Callable[[str, str, str], None]] = None) -> GrantReport:
        """Gives `amount` points of `currency`, or a code of `coupon`, to every member of
        `segment` or of `members` (host ids; unknown ones are refused, never created), each
        once under `key`: running the same grant again serves only those not served yet.
        progress(done, total) is called after each committed transaction, refused(member,
        why, message) for each member refused. Raises InvalidArgument (a bad field),
        NotFound (unknown segment, currency or coupon), Conflict (the key was used for
        another grant), InvalidState (inside a batch); an error a callback raised is raised
        once the grant returns."""
        grant = ffi.new("loyal_grant *")
        lib.loyal_grant_init(grant, lib.LOYAL_GRANT_VERSION)
        keep = [_c_text("key", key), _c_text("segment", segment),
                _c_text("currency", currency), _c_text("coupon", coupon),
                _c_text("reason", reason)]
        grant.key, grant.segment, grant.currency, grant.coupon, grant.reason = keep
        if members is not None:
            if isinstance(members, str):
                raise TypeError("members must be an iterable of member ids, not a str")
            ids = [ffi.new("char[]", _bytes("members[]", member)) for member in members]
            array = ffi.new("const char *[]", ids or [ffi.NULL])
            keep += [ids, array]
            grant.members, grant.member_count = array, len(ids)
        grant.amount = _int("amount", amount)
        grant.at, grant.expires_at = _ms("at", at), _ms("expires_at", expires_at)
        callbacks = _Callbacks(self, progress, refused)
        handle = ffi.new_handle(callbacks)
        if progress is not None:
            grant.progress = lib._loyal_python_grant_progress
        if refused is not None:
            grant.refused = lib._loyal_python_grant_refused
        grant.ctx = handle
        return self._typed(GrantReport, lib.loyal_grant_run, grant)

    # ---- forecasts ----

    def simulate(self, program: Union[str, Mapping[str, Any]], *, members: int, days: int,
                 seed: int = 0, profile: str = "community",
                 start: Optional[_dt.datetime] = None,
                 progress: Optional[Callable[[int, int], Any]] = None) -> Simulation:
        """Runs `program` over a synthetic population of `members` for `days` (see the C
        header loyal/simulate.h for the model) on this database, which must be new and empty
        and keeps the simulated members; returns the report by month. The same seed gives
        the same numbers. progress(done, total) is called after each simulated day; a true
        return stops the simulation (Interrupted), as does an exception it raises (raised
        once the call returns). Raises InvalidArgument, InvalidState (a database with a
        program or members), InvalidJSON or CriteriaSyntaxError (the program)."""
        simulation = ffi.new("loyal_simulation *")
        lib.loyal_simulation_init(simulation, lib.LOYAL_SIMULATION_VERSION)
        keep = [ffi.new("char[]", _document("program", program)), _c_text("profile", profile)]
        simulation.program, simulation.profile = keep
        simulation.members, simulation.days = _int("members", members), _int("days", days)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 63:
            raise ValueError("seed must be an int from 0 to 2**63 - 1")
        simulation.seed = seed
        simulation.start = _ms("start", start)
        callbacks = _Callbacks(self, progress, None)
        handle = ffi.new_handle(callbacks)
        if progress is not None:
            simulation.progress = lib._loyal_python_stoppable_progress
            simulation.ctx = handle
        return self._typed(Simulation, lib.loyal_simulate, simulation)

    def whatif(self, program: Union[str, Mapping[str, Any]], *, start: _dt.datetime,
               end: Optional[_dt.datetime] = None, limit: int = 10,
               scratch: Optional[Union[str, os.PathLike]] = None,
               progress: Optional[Callable[[int, int], Any]] = None,
               difference: Optional[Callable[["MemberDifference"], Any]] = None) -> WhatIf:
        """Replays the stored events through `program` (a candidate) and through the live
        program on scratch databases (in `scratch`, default the temporary folder; this one is
        only read), the candidate taking over at `start`, and reports [start, end) (end None:
        now) side by side, with the `limit` members whose earnings or tier differ most (see
        the C header loyal/whatif.h for what is replayed). progress(done, total) is called
        after each page of events and difference(row) for every member who differs; a true
        return stops the replay (Interrupted), as does an exception (raised once the call
        returns). Raises InvalidArgument, InvalidState (no live program), InvalidJSON (the
        candidate), StorageError (the scratch folder)."""
        request = ffi.new("loyal_whatif_request *")
        lib.loyal_whatif_request_init(request, lib.LOYAL_WHATIF_REQUEST_VERSION)
        keep = [ffi.new("char[]", _document("program", program)),
                None if scratch is None else _c_text("scratch", os.fspath(scratch))]
        request.program = keep[0]
        if keep[1] is not None:
            request.scratch = keep[1]
        setattr(request, "from", _ms("start", start))  # a keyword in Python
        request.to = _ms("end", end)
        request.limit = _int("limit", limit)
        callbacks = _Callbacks(self, progress, difference)
        handle = ffi.new_handle(callbacks)
        if progress is not None:
            request.progress = lib._loyal_python_stoppable_progress
        if difference is not None:
            request.difference = lib._loyal_python_whatif_difference
        request.ctx = handle
        return self._typed(WhatIf, lib.loyal_whatif, request)

    # ---- events and criteria ----

    def track(self, member: str, type: str, key: str,
              properties: Optional[Mapping[str, Any]] = None, *,
              at: Optional[_dt.datetime] = None, dry_run: bool = False) -> EventOutcome:
        """Records an event through the earning rules (creating the member if new) and
        returns what it did. Properties may be str, int, float, bool, Decimal, datetime,
        date, or lists and dicts of those. The same key with the same event returns the
        first outcome with replayed=True. dry_run=True returns the outcome the event would
        have (dry_run=True on it: "what would this cart earn") and writes nothing: no member,
        counter or key. Raises InvalidJSON, InvalidArgument (a field, or `at` more than a day
        ahead), Conflict, Blocked, ReadOnly, Busy."""
        event = ffi.new("loyal_event *")
        event.version = lib.LOYAL_EVENT_VERSION
        keep = [_c_text("member", member), _c_text("type", type), _c_text("key", key),
                ffi.NULL if properties is None
                else ffi.new("char[]", _document("properties", properties))]
        event.member, event.type, event.idempotency_key = keep[0], keep[1], keep[2]
        event.properties = keep[3]
        event.at = _ms("at", at)
        event.flags = lib.LOYAL_DRY_RUN if _bool("dry_run", dry_run) else 0
        return self._typed(EventOutcome, lib.loyal_track, event)

    def reverse_event(self, member: str, event_key: str, key: str, *, part: int = 0,
                      whole: int = 0, reason: Optional[str] = None,
                      at: Optional[_dt.datetime] = None) -> ReversalOutcome:
        """Reverses part/whole (default: all) of what the event tracked under `event_key`
        awarded (a partial refund of an order). Raises NotFound (no such event of the
        member), InvalidArgument, Conflict, ReadOnly, Busy."""
        reversal = ffi.new("loyal_event_reversal *")
        reversal.version = lib.LOYAL_EVENT_REVERSAL_VERSION
        keep = [_c_text("member", member), _c_text("event_key", event_key),
                _c_text("key", key), _c_text("reason", reason)]
        reversal.member, reversal.event_key, reversal.idempotency_key = keep[:3]
        reversal.reason = keep[3]
        reversal.part, reversal.whole = _int("part", part), _int("whole", whole)
        reversal.at = _ms("at", at)
        return self._typed(ReversalOutcome, lib.loyal_event_reverse, reversal)

    def check(self, expression: str) -> CriteriaInfo:
        """Compiles a criteria expression: its type and the measures it reads. Raises
        CriteriaSyntaxError (with the position)."""
        return self._typed(CriteriaInfo, lib.loyal_criteria_check,
                           _bytes("expression", expression))

    def evaluate(self, expression: str, member: str,
                 event: Optional[Mapping[str, Any]] = None) -> Any:
        """The value of an expression for a member now, with `event` as the event's
        properties (None when a value is missing). Raises CriteriaSyntaxError, NotFound."""
        result = self._json(lib.loyal_criteria_eval, _bytes("expression", expression),
                            _bytes("member", member),
                            ffi.NULL if event is None else _document("event", event))
        return result["value"]


class _Rows(Iterator[T]):
    """Iterates a cursor, each row as `cls` (or a dict); keeps its database object alive,
    and stops safely if it closes."""

    def __init__(self, owner: Loyal, cursor, cls: Optional[type]):
        self._owner = owner
        self._cursor = cursor
        self._cls = cls

    def __iter__(self) -> "_Rows[T]":
        return self

    def __next__(self) -> T:
        row = ffi.new("const char **")
        with self._owner._lock:
            rc = lib.loyal_cursor_next(self._cursor, row)
            if rc == lib.LOYAL_EMISUSE:
                raise Misuse(rc, "the database is closed")
            if rc != lib.LOYAL_OK:
                self._owner._raise_last(rc)
            if row[0] == ffi.NULL:
                raise StopIteration
            data = json.loads(ffi.string(row[0]).decode())
        return data if self._cls is None else from_json(self._cls, data)
