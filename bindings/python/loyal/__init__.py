"""loyal: an embeddable loyalty engine (points ledger, earning rules, criteria), from Python.

    import loyal
    with loyal.Loyal("shop.db") as db:
        db.apply_program({"currencies": [{"name": "points"}]})
        db.credit("alice", "points", 100, key="welcome-alice")
        print(db.balance("alice", "points").available)

A Loyal object wraps one C handle: use it from one thread at a time (or one per thread).
Errors raise loyal.Error subclasses carrying the C code, its name and the library's message.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import threading
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Tuple, Union

from ._loyal import ffi, lib

__all__ = [
    "Loyal", "Result", "Balance", "Error", "InvalidArgument", "NoMemory", "StorageError",
    "NotADatabase", "VersionMismatch", "ReadOnly", "Busy", "NotFound", "Conflict",
    "InsufficientPoints", "Overflow", "Blocked", "InvalidJSON", "CriteriaSyntaxError",
    "Corrupt", "InvalidState", "Misuse", "InternalError", "SoldOut", "LimitReached",
    "NotEligible", "version",
]


class Error(Exception):
    """A loyal error: `code` (negative int), `name` ("LOYAL_ENOTFOUND"), `message`."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.name = ffi.string(lib.loyal_errstr(code)).decode()
        self.message = message
        super().__init__(f"{self.name}: {message}")


class InvalidArgument(Error): pass
class NoMemory(Error): pass
class StorageError(Error): pass
class NotADatabase(Error): pass
class VersionMismatch(Error): pass
class ReadOnly(Error): pass
class Busy(Error): pass
class NotFound(Error): pass
class Conflict(Error): pass
class InsufficientPoints(Error): pass
class Overflow(Error): pass
class Blocked(Error): pass
class InvalidJSON(Error): pass
class CriteriaSyntaxError(Error): pass
class Corrupt(Error): pass
class InvalidState(Error): pass
class Misuse(Error): pass
class InternalError(Error): pass
class SoldOut(Error): pass
class LimitReached(Error): pass
class NotEligible(Error): pass


_ERRORS = {
    lib.LOYAL_EINVAL: InvalidArgument, lib.LOYAL_ENOMEM: NoMemory, lib.LOYAL_EIO: StorageError,
    lib.LOYAL_ENOTADB: NotADatabase, lib.LOYAL_EVERSION: VersionMismatch,
    lib.LOYAL_EREADONLY: ReadOnly, lib.LOYAL_EBUSY: Busy, lib.LOYAL_ENOTFOUND: NotFound,
    lib.LOYAL_ECONFLICT: Conflict, lib.LOYAL_EINSUFFICIENT: InsufficientPoints,
    lib.LOYAL_EOVERFLOW: Overflow, lib.LOYAL_EBLOCKED: Blocked, lib.LOYAL_EJSON: InvalidJSON,
    lib.LOYAL_ESYNTAX: CriteriaSyntaxError, lib.LOYAL_ECORRUPT: Corrupt,
    lib.LOYAL_ESTATE: InvalidState, lib.LOYAL_EMISUSE: Misuse,
    lib.LOYAL_EINTERNAL: InternalError, lib.LOYAL_ESOLDOUT: SoldOut,
    lib.LOYAL_ELIMIT: LimitReached, lib.LOYAL_ENOTELIGIBLE: NotEligible,
}


def _error(code: int, message: str) -> Error:
    return _ERRORS.get(code, Error)(code, message)


def version() -> str:
    """The linked library's version, such as "0.1.0"."""
    return ffi.string(lib.loyal_version()).decode()


Time = Union[_dt.datetime, int, None]


def _ms(value: Time) -> int:
    """A datetime (naive means UTC) or Unix milliseconds, to Unix milliseconds; None is 0."""
    if value is None:
        return 0
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() * 1000)
    return int(value)


def _duration_ms(value: Optional[_dt.timedelta]) -> int:
    return 0 if value is None else int(value.total_seconds() * 1000)


def _datetime(ms: int) -> Optional[_dt.datetime]:
    if not ms:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Result:
    """What a ledger call did: the transaction, the points moved, whether it was a replay."""
    txn: int
    amount: int
    replayed: bool


@dataclasses.dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    held: int
    earned: int
    spent: int
    expired: int
    next_expiry_at: Optional[_dt.datetime]
    next_expiry_amount: int


@ffi.def_extern()
def _loyal_python_clock(ctx):
    owner = ffi.from_handle(ctx)
    try:
        return _ms(owner._clock())
    except BaseException as error:  # kept, and raised after the C call returns
        owner._callback_error = error
        return 0


class _GrantCallbacks:
    """What a grant's C callbacks call back into: the caller's functions, and the first error
    they raised (kept, and raised once the grant returns)."""

    def __init__(self, owner: "Loyal", progress, refused):
        self.owner, self.progress, self.refused = owner, progress, refused

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
    callbacks.call(callbacks.refused, ffi.string(member).decode(), ffi.string(why).decode(),
                   ffi.string(message).decode())


class Loyal:
    """An open loyal database. Use it as a context manager, or call close().

    path is a SQLite file's path, or a PostgreSQL database's postgresql:// (or postgres://)
    URI; with postgres=True it is any libpq connection string, key=value pairs included
    ("host=db dbname=loyalty"). Raises StorageError for a server that cannot be reached,
    NotADatabase, VersionMismatch, ReadOnly, NotFound (a missing file without create)."""

    def __init__(self, path: str, *, create: bool = True, readonly: bool = False,
                 busy_timeout: Optional[_dt.timedelta] = None,
                 clock: Optional[Callable[[], Union[_dt.datetime, int]]] = None,
                 postgres: bool = False):
        # Re-entrant: a batch holds it from its start to its end, so that calls from other
        # threads wait for the batch instead of running inside its transaction.
        self._lock = threading.RLock()
        self._callback_error: Optional[BaseException] = None
        self._clock = clock
        self._self_handle = ffi.new_handle(self)
        options = ffi.new("loyal_open_options *")
        lib.loyal_open_options_init(options, lib.LOYAL_OPEN_OPTIONS_VERSION)
        options.flags = (lib.LOYAL_OPEN_READONLY if readonly else 0) | \
            (lib.LOYAL_OPEN_CREATE if create and not readonly else 0)
        options.busy_timeout_ms = _duration_ms(busy_timeout)
        if postgres:
            options.backend = lib.LOYAL_BACKEND_POSTGRES
        if clock is not None:
            options.clock = lib._loyal_python_clock
            options.clock_ctx = self._self_handle
        out = ffi.new("loyal_db **")
        rc = lib.loyal_open(path.encode(), options, out)
        self._db = out[0]
        if rc != lib.LOYAL_OK:
            message = ffi.string(lib.loyal_errmsg(self._db)).decode() if self._db else ""
            lib.loyal_close(self._db)
            self._db = ffi.NULL
            raise _error(rc, message)

    # ---- lifetime ----

    def close(self) -> None:
        """Closes the database; later calls raise loyal.Misuse. Closing twice is fine."""
        with self._lock:
            if self._db:
                db, self._db = self._db, ffi.NULL
                lib.loyal_close(db)

    def __enter__(self) -> "Loyal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        # A safety net only: close() is the way.
        if getattr(self, "_db", None):
            lib.loyal_close(self._db)
            self._db = ffi.NULL

    def _call(self, function, *args):
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
                raise _error(rc, ffi.string(lib.loyal_errmsg(self._db)).decode())

    def _json_call(self, function, *args) -> Any:
        out = ffi.new("char **")
        self._call(function, *args, out)
        try:
            return json.loads(ffi.string(out[0]).decode())
        finally:
            lib.loyal_free(out[0])

    @staticmethod
    def _text(value: Optional[str]):
        """A C string for a struct field (kept alive by the caller), or NULL."""
        return ffi.NULL if value is None else ffi.new("char[]", value.encode())

    @staticmethod
    def _document(value: Union[str, Mapping[str, Any]]) -> bytes:
        return (value if isinstance(value, str) else json.dumps(value)).encode()

    # ---- the database ----

    def verify(self) -> None:
        """Checks the file and every invariant; raises loyal.Corrupt naming a violation."""
        self._call(lib.loyal_verify)

    def now(self) -> _dt.datetime:
        out = ffi.new("int64_t *")
        self._call(lib.loyal_now, out)
        return _datetime(out[0])

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
        block ends, rolled back if it raises. The batch owns the handle for its whole extent:
        calls on this object from other threads wait until it ends, so they never run inside
        (or are rolled back with) another thread's batch. A commit that fails ends the batch
        with everything in it rolled back, and raises the commit's error."""
        return Loyal._Batch(self)

    # ---- the program ----

    def apply_program(self, program: Union[str, Mapping[str, Any]]) -> int:
        """Applies a program document (a dict or JSON text); returns the version now current."""
        version_out = ffi.new("int64_t *")
        self._call(lib.loyal_program_apply, self._document(program), version_out)
        return version_out[0]

    def program(self) -> dict:
        """{"version": n, "program": {...}}"""
        return self._json_call(lib.loyal_program_get)

    # ---- members ----

    def member(self, member: str) -> dict:
        return self._json_call(lib.loyal_member_get, member.encode())

    def set_attributes(self, member: str, attributes: Mapping[str, Any]) -> None:
        """Merges attributes (a value of None removes the key)."""
        self._call(lib.loyal_member_set_attrs, member.encode(), self._document(attributes))

    def members(self, *, attribute: Optional[str] = None, value: Any = None,
                tier: Optional[str] = None, segment: Optional[str] = None,
                active_from: Time = None, active_before: Time = None,
                status: Optional[str] = None, after: Optional[str] = None) -> Iterator[dict]:
        """The members every given condition holds for, in the order they joined, streamed:
        an attribute equal to `value` (a str, number or bool), a tier now, a segment as of the
        last refresh, last active in [active_from, active_before), "active" or "blocked". To
        go on later, pass the last row's "id" as `after`. Raises InvalidArgument, NotFound
        (unknown tier, segment or after member)."""
        query = ffi.new("loyal_member_query *")
        lib.loyal_member_query_init(query, lib.LOYAL_MEMBER_QUERY_VERSION)
        keep = [self._text(attribute),
                self._text(None if attribute is None and value is None else json.dumps(value)),
                self._text(tier), self._text(segment), self._text(status), self._text(after)]
        (query.attribute, query.value, query.tier, query.segment, query.status,
         query.after) = keep
        query.active_from, query.active_before = _ms(active_from), _ms(active_before)
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_member_list, query, out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free))

    def block(self, member: str) -> None:
        self._call(lib.loyal_member_block, member.encode())

    def unblock(self, member: str) -> None:
        self._call(lib.loyal_member_unblock, member.encode())

    # ---- the ledger ----

    def _post(self, function, member: str, currency: str, key: str, *, amount: int = 0,
              reason: Optional[str] = None, cause: Optional[str] = None, at: Time = None,
              pending: Optional[_dt.timedelta] = None, expires_at: Time = None,
              to_member: Optional[str] = None, deadline: Time = None, txn: int = 0) -> Result:
        posting = ffi.new("loyal_posting *")
        lib.loyal_posting_init(posting, lib.LOYAL_POSTING_VERSION)
        keep = [self._text(member), self._text(currency), self._text(key), self._text(reason),
                self._text(cause), self._text(to_member)]
        posting.member, posting.currency, posting.idempotency_key = keep[0], keep[1], keep[2]
        posting.reason, posting.cause, posting.to_member = keep[3], keep[4], keep[5]
        posting.amount = amount
        posting.at = _ms(at)
        posting.pending_ms = _duration_ms(pending)
        posting.expires_at = _ms(expires_at)
        posting.deadline = _ms(deadline)
        posting.txn = txn
        result = ffi.new("loyal_result *")
        result.version = lib.LOYAL_RESULT_VERSION
        self._call(function, posting, result)
        return Result(result.txn, result.amount, bool(result.replayed))

    def credit(self, member: str, currency: str, amount: int, key: str, **kw) -> Result:
        """Credits points (kw: reason, cause, at, pending=timedelta, expires_at)."""
        return self._post(lib.loyal_ledger_credit, member, currency, key, amount=amount, **kw)

    def debit(self, member: str, currency: str, amount: int, key: str, **kw) -> Result:
        return self._post(lib.loyal_ledger_debit, member, currency, key, amount=amount, **kw)

    def adjust(self, member: str, currency: str, amount: int, key: str, *, reason: str,
               **kw) -> Result:
        return self._post(lib.loyal_ledger_adjust, member, currency, key, amount=amount,
                          reason=reason, **kw)

    def transfer(self, member: str, to_member: str, currency: str, amount: int, key: str,
                 **kw) -> Result:
        return self._post(lib.loyal_ledger_transfer, member, currency, key, amount=amount,
                          to_member=to_member, **kw)

    def hold(self, member: str, currency: str, amount: int, key: str, *, deadline: Time,
             **kw) -> Result:
        return self._post(lib.loyal_ledger_hold, member, currency, key, amount=amount,
                          deadline=deadline, **kw)

    def capture(self, member: str, currency: str, hold: int, key: str, amount: int = 0,
                **kw) -> Result:
        return self._post(lib.loyal_ledger_capture, member, currency, key, amount=amount,
                          txn=hold, **kw)

    def release(self, member: str, currency: str, hold: int, key: str, **kw) -> Result:
        return self._post(lib.loyal_ledger_release, member, currency, key, txn=hold, **kw)

    def reverse(self, member: str, currency: str, txn: int, key: str, amount: int = 0,
                **kw) -> Result:
        return self._post(lib.loyal_ledger_reverse, member, currency, key, amount=amount,
                          txn=txn, **kw)

    def balance(self, member: str, currency: str, at: Time = None) -> Balance:
        out = ffi.new("loyal_balance *")
        out.version = lib.LOYAL_BALANCE_VERSION
        self._call(lib.loyal_ledger_balance, member.encode(), currency.encode(), _ms(at), out)
        return Balance(out.available, out.pending, out.held, out.earned, out.spent, out.expired,
                       _datetime(out.next_expiry_at), out.next_expiry_amount)

    def expiring(self, member: str, currency: str, limit: int = 10) -> list:
        """[(datetime, amount), ...], soonest first."""
        items = self._json_call(lib.loyal_ledger_expiring, member.encode(), currency.encode(),
                                limit)
        return [(_datetime(item["expires_at"]), item["amount"]) for item in items]

    def statement(self, member: str, currency: Optional[str] = None,
                  before: int = 0) -> Iterator[dict]:
        """The member's transactions, newest first, streamed."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_ledger_statement, member.encode(),
                   ffi.NULL if currency is None else currency.encode(), before, out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free))

    def transaction(self, txn: int) -> dict:
        return self._json_call(lib.loyal_ledger_transaction, txn)

    def explain(self, member: str, currency: str) -> dict:
        return self._json_call(lib.loyal_ledger_explain, member.encode(), currency.encode())

    def expire(self, at: Time = None) -> int:
        """Settles every member as of `at`; returns how many balances changed."""
        out = ffi.new("int64_t *")
        self._call(lib.loyal_expire, _ms(at), out)
        return out[0]

    # ---- tiers ----

    def tier(self, member: str) -> dict:
        """The member's tier, review dates, multiplier, perks and what the next tier needs."""
        return self._json_call(lib.loyal_tier_get, member.encode())

    def tier_history(self, member: str) -> Iterator[dict]:
        """The member's tier changes, newest first, streamed."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_tier_history, member.encode(), out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free))

    def assign_tier(self, member: str, tier: str, reason: str, *, until: Time = None) -> None:
        """Assigns the member a tier until `until` (None: until released): no review drops
        them below it while it lasts. Raises NotFound (member, tier), InvalidArgument."""
        self._call(lib.loyal_tier_assign, member.encode(), tier.encode(), _ms(until),
                   reason.encode())

    def release_tier(self, member: str, reason: str) -> bool:
        """Releases the member's tier assignment: they hold the tier they qualify for now.
        False when they had none. Raises NotFound, InvalidArgument."""
        changed = ffi.new("int *")
        self._call(lib.loyal_tier_release, member.encode(), reason.encode(), changed)
        return bool(changed[0])

    def leaderboard(self, name: str, *, at: Time = None, limit: int = 10) -> dict:
        """The top `limit` of a leaderboard's period at `at` (None: now):
        {"leaderboard", "period_start", "rows": [{"rank", "member", "score"}]}. Raises
        NotFound (no such leaderboard), InvalidArgument (limit not 1-1000)."""
        return self._json_call(lib.loyal_leaderboard_top, name.encode(), _ms(at), limit)

    def leaderboard_rank(self, name: str, member: str, *, at: Time = None,
                         neighbours: int = 2) -> dict:
        """The member's rank and score (None: no score yet) with `neighbours` rows above and
        below. Raises NotFound (leaderboard, member), InvalidArgument."""
        return self._json_call(lib.loyal_leaderboard_rank, name.encode(), member.encode(),
                               _ms(at), neighbours)

    # ---- the outbox ----

    def outbox(self, consumer: str, *, limit: int = 0) -> Iterator[dict]:
        """The happenings after the consumer's acknowledged position, oldest first (at most
        `limit`; 0: all), streamed: {"position", "kind", "member", "at", "body"}. Reading
        again before outbox_ack gives the same rows. Raises InvalidArgument."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_outbox_read, consumer.encode(), limit, out)
        return iter(_Rows(self, ffi.gc(out[0], lib.loyal_cursor_free)))

    def outbox_ack(self, consumer: str, position: int) -> None:
        """Acknowledges every happening up to `position` for the consumer (an older position
        changes nothing). Raises InvalidArgument (a position past the newest happening)."""
        self._call(lib.loyal_outbox_ack, consumer.encode(), position)

    def outbox_forget(self, consumer: str) -> bool:
        """Forgets a consumer; returns whether it was recorded."""
        out = ffi.new("int *")
        self._call(lib.loyal_outbox_forget, consumer.encode(), out)
        return bool(out[0])

    def notice_sweep(self, at: Time = None) -> int:
        """Announces points about to expire and tiers at risk as of `at` (None: now), each
        once; returns how many notices it wrote."""
        out = ffi.new("int64_t *")
        self._call(lib.loyal_notice_sweep, _ms(at), out)
        return out[0]

    def points_expiring(self, start: Time, end: Time, *, currency: Optional[str] = None,
                        after: Optional[str] = None) -> Iterator[dict]:
        """Who has active points expiring in [start, end): {"member", "currency", "amount",
        "expires_at"} per member, currency and day, in the order members joined, streamed;
        `after` resumes after a member. Raises InvalidArgument, NotFound."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_points_expiring, currency.encode() if currency else ffi.NULL,
                   _ms(start), _ms(end), after.encode() if after else ffi.NULL, out)
        return iter(_Rows(self, ffi.gc(out[0], lib.loyal_cursor_free)))

    def tier_reviews(self, start: Time, end: Time, *,
                     after: Optional[str] = None) -> Iterator[dict]:
        """The members whose tier review falls in [start, end): {"member", "tier",
        "review_at", "grace_until"}, streamed. Raises InvalidArgument, NotFound."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_tier_reviews, _ms(start), _ms(end),
                   after.encode() if after else ffi.NULL, out)
        return iter(_Rows(self, ffi.gc(out[0], lib.loyal_cursor_free)))

    def outbox_consumers(self) -> dict:
        """{"newest": position, "consumers": [{"consumer", "position", "behind",
        "acked_at"}]}."""
        return self._json_call(lib.loyal_outbox_consumers)

    def tier_sweep(self, at: Time = None) -> int:
        """Reviews every member due at `at`; returns how many were downgraded."""
        out = ffi.new("int64_t *")
        self._call(lib.loyal_tier_sweep, _ms(at), out)
        return out[0]

    # ---- badges ----

    def badges(self, member: str) -> list:
        """The member's badge awards, oldest first: [{"badge", "level", "at", "how" ("earned"
        or "granted"), "reason", "revoked" (None or {"at", "reason"})}]."""
        return self._json_call(lib.loyal_badge_list, member.encode())

    def grant_badge(self, member: str, badge: str, reason: str,
                    level: Optional[str] = None) -> bool:
        """Grants a badge (a level of it) with a reason; False when the member holds it
        already. Raises NotFound (unknown member, badge or level), InvalidArgument."""
        changed = ffi.new("int *")
        self._call(lib.loyal_badge_grant, member.encode(), badge.encode(),
                   ffi.NULL if level is None else level.encode(), reason.encode(), changed)
        return bool(changed[0])

    def revoke_badge(self, member: str, badge: str, reason: str,
                     level: Optional[str] = None) -> bool:
        """Revokes a badge (a level of it) with a reason, kept in the history; False when the
        member does not hold it. Raises NotFound, InvalidArgument."""
        changed = ffi.new("int *")
        self._call(lib.loyal_badge_revoke, member.encode(), badge.encode(),
                   ffi.NULL if level is None else level.encode(), reason.encode(), changed)
        return bool(changed[0])

    def badge_progress(self, member: str, badge: str) -> dict:
        """Progress towards the badge's next level: current, target, percent, complete."""
        return self._json_call(lib.loyal_badge_progress, member.encode(), badge.encode())

    def badge_sweep(self, at: Time = None) -> int:
        """Evaluates every badge for every member; returns the number of awards."""
        out = ffi.new("int64_t *")
        self._call(lib.loyal_badge_sweep, _ms(at), out)
        return out[0]

    # ---- segments ----

    def segments_of(self, member: str) -> list:
        """The names of the segments the member is in now."""
        return self._json_call(lib.loyal_segment_of, member.encode())

    def segment_members(self, segment: str) -> Iterator[str]:
        """The members of a segment now, streamed."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_segment_members, segment.encode(), out)
        return (row["member"] for row in _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free)))

    def refresh_segments(self, at: Time = None) -> list:
        """Re-evaluates every segment; returns the changes: [{"segment", "member", "change"}]."""
        refresh = ffi.new("int64_t *")
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_segment_refresh, _ms(at), refresh, out)
        return list(_Rows(self, ffi.gc(out[0], lib.loyal_cursor_free)))

    # ---- analytics ----

    def report_liability(self) -> list:
        """Outstanding points per currency."""
        return self._json_call(lib.loyal_report_liability)

    def report_flows(self, start: Time, end: Time) -> list:
        """Issued, redeemed, expired, adjusted, reversed and breakage per currency."""
        return self._json_call(lib.loyal_report_flows, _ms(start), _ms(end))

    def report_rewards(self, start: Time, end: Time) -> dict:
        """Redemptions per reward (by state, units, members, points, stock left) and codes
        issued, used and left per coupon, over [start, end)."""
        return self._json_call(lib.loyal_report_rewards, _ms(start), _ms(end))

    def report_active(self, period: str, start: Time, end: Time) -> list:
        """Active members per "day", "week" or "month"."""
        return self._json_call(lib.loyal_report_active, period.encode(), _ms(start), _ms(end))

    def report_retention(self, period: str, start: Time, end: Time) -> list:
        """Retention by join cohort."""
        return self._json_call(lib.loyal_report_retention, period.encode(), _ms(start),
                               _ms(end))

    def report_sizes(self) -> dict:
        """Members per tier and per segment (as of the last refresh)."""
        return self._json_call(lib.loyal_report_sizes)

    # ---- rewards ----

    def rewards(self, member: str, at: Time = None) -> list:
        """Every reward of the program as the member sees it at `at` (now): their price,
        whether they can redeem it and, if not, why ("not_active", "not_eligible",
        "out_of_stock", "limit_reached", "not_enough_points" with the points missing).
        Raises NotFound for an unknown member."""
        return self._json_call(lib.loyal_reward_list, member.encode(), _ms(at))

    def redeem(self, member: str, reward: str, key: str, *, quantity: int = 1,
               at: Time = None) -> dict:
        """Redeems `quantity` units of a reward; returns the redemption ("fulfilled", or
        "pending" for a two-phase reward). Raises NotEligible, LimitReached, SoldOut,
        InsufficientPoints, Blocked (each sticky under the key), NotFound, Conflict."""
        request = ffi.new("loyal_redeem *")
        lib.loyal_redeem_init(request, lib.LOYAL_REDEEM_VERSION)
        keep = [self._text(member), self._text(reward), self._text(key)]
        request.member, request.reward, request.idempotency_key = keep
        request.quantity = quantity
        request.at = _ms(at)
        return self._json_call(lib.loyal_reward_redeem, request)

    def fulfil(self, member: str, redemption: int, key: str) -> dict:
        """Fulfils a pending redemption (its held points are spent). Raises InvalidState
        (not pending: fulfilled, cancelled or expired), NotFound."""
        return self._json_call(lib.loyal_redemption_fulfil, member.encode(), redemption,
                               key.encode())

    def cancel_redemption(self, member: str, redemption: int, key: str) -> dict:
        """Cancels a redemption: its points come back with their expiry, its units to the
        stock. Raises InvalidState (cancelled or expired already), NotFound."""
        return self._json_call(lib.loyal_redemption_cancel, member.encode(), redemption,
                               key.encode())

    def redemption(self, member: str, redemption: int) -> dict:
        """One of the member's redemptions. Raises NotFound."""
        return self._json_call(lib.loyal_redemption_get, member.encode(), redemption)

    def redemptions(self, member: str, before: int = 0) -> Iterator[dict]:
        """The member's redemptions, newest first (before an id, to page), streamed."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_redemption_list, member.encode(), before, out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free))

    def pending_redemptions(self, after: int = 0) -> Iterator[dict]:
        """Redemptions awaiting fulfilment, of every member, oldest first, streamed."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_redemption_pending, after, out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free))

    # ---- coupons ----

    def import_coupon_codes(self, coupon: str, codes) -> Tuple[int, int]:
        """Imports codes (an iterable of strings, or text with one per line) into the pool of a
        coupon whose codes come from a pool; returns (added, duplicates). All or nothing:
        raises InvalidArgument naming the line of a malformed code, NotFound."""
        text = codes if isinstance(codes, str) else "\n".join(codes)
        added, duplicates = ffi.new("int64_t *"), ffi.new("int64_t *")
        self._call(lib.loyal_coupon_import, coupon.encode(), text.encode(), added, duplicates)
        return added[0], duplicates[0]

    def issue_coupon(self, member: str, coupon: str, key: str) -> dict:
        """Issues a code of the coupon to the member (drawn from its pool, or generated).
        Raises SoldOut (an empty pool), NotEligible, Blocked, NotFound."""
        return self._json_call(lib.loyal_coupon_issue, member.encode(), coupon.encode(),
                               key.encode())

    def check_coupon(self, member: str, code: str, at: Time = None) -> dict:
        """Whether the member can use the code now: {"valid": ..., "why": ...}."""
        return self._json_call(lib.loyal_coupon_check, member.encode(), code.encode(), _ms(at))

    def reserve_coupon(self, member: str, code: str, key: str) -> dict:
        """Sets one use of the code aside for a checkout; the result names the reservation.
        Raises LimitReached (no use left), InvalidState (expired), NotEligible, NotFound."""
        return self._json_call(lib.loyal_coupon_reserve, member.encode(), code.encode(),
                               key.encode())

    def release_coupon(self, member: str, reservation: int, key: str) -> dict:
        """Gives a reservation's use back. Raises InvalidState (used or released), NotFound."""
        return self._json_call(lib.loyal_coupon_release, member.encode(), reservation,
                               key.encode())

    def use_coupon(self, member: str, code: str, key: str, reservation: int = 0) -> dict:
        """Uses the code once (the use a reservation set aside, if given). Raises
        LimitReached, InvalidState, NotEligible (another member's code), NotFound."""
        return self._json_call(lib.loyal_coupon_use, member.encode(), code.encode(),
                               reservation, key.encode())

    def coupons(self, member: str, before: int = 0) -> Iterator[dict]:
        """The member's codes, newest first, streamed."""
        out = ffi.new("loyal_cursor **")
        self._call(lib.loyal_coupon_list, member.encode(), before, out)
        return _Rows(self, ffi.gc(out[0], lib.loyal_cursor_free))

    # ---- bulk grants ----

    def grant(self, key: str, *, segment: Optional[str] = None,
              members: Optional[Iterable[str]] = None, currency: Optional[str] = None,
              amount: int = 0, coupon: Optional[str] = None, reason: Optional[str] = None,
              at: Time = None, expires_at: Time = None,
              progress: Optional[Callable[[int, int], None]] = None,
              refused: Optional[Callable[[str, str, str], None]] = None) -> dict:
        """Gives `amount` points of `currency`, or a code of `coupon`, to every member of
        `segment` or of `members` (host ids; unknown ones are refused, never created), each
        once under `key`: running the same grant again serves only those not served yet.
        progress(done, total) is called after each committed transaction, refused(member,
        why, message) for each member refused. Returns the report: {"granted",
        "already_granted", "refused", "why": {reason: count}, "examined", "grant"}. Raises
        InvalidArgument (a bad field), NotFound (unknown segment, currency or coupon),
        Conflict (the key was used for another grant), InvalidState (inside a batch); an
        error a callback raised is raised once the grant returns."""
        grant = ffi.new("loyal_grant *")
        lib.loyal_grant_init(grant, lib.LOYAL_GRANT_VERSION)
        keep = [self._text(key), self._text(segment), self._text(currency),
                self._text(coupon), self._text(reason)]
        grant.key, grant.segment, grant.currency, grant.coupon, grant.reason = keep
        if members is not None:
            ids = [ffi.new("char[]", member.encode()) for member in members]
            array = ffi.new("const char *[]", ids or [ffi.NULL])
            keep += [ids, array]
            grant.members, grant.member_count = array, len(ids)
        grant.amount = amount
        grant.at, grant.expires_at = _ms(at), _ms(expires_at)
        callbacks = _GrantCallbacks(self, progress, refused)
        handle = ffi.new_handle(callbacks)
        if progress is not None:
            grant.progress = lib._loyal_python_grant_progress
        if refused is not None:
            grant.refused = lib._loyal_python_grant_refused
        grant.ctx = handle
        return self._json_call(lib.loyal_grant_run, grant)

    # ---- events and criteria ----

    def track(self, member: str, type: str, key: str,
              properties: Optional[Mapping[str, Any]] = None, at: Time = None) -> dict:
        """Records an event through the earning rules; returns the outcome."""
        event = ffi.new("loyal_event *")
        event.version = lib.LOYAL_EVENT_VERSION
        keep = [self._text(member), self._text(type), self._text(key),
                ffi.NULL if properties is None
                else ffi.new("char[]", self._document(properties))]
        event.member, event.type, event.idempotency_key = keep[0], keep[1], keep[2]
        event.properties = keep[3]
        event.at = _ms(at)
        return self._json_call(lib.loyal_track, event)

    def reverse_event(self, member: str, event_key: str, key: str, part: int = 0,
                      whole: int = 0, reason: Optional[str] = None, at: Time = None) -> dict:
        """Reverses part/whole (default: all) of what an event awarded."""
        reversal = ffi.new("loyal_event_reversal *")
        reversal.version = lib.LOYAL_EVENT_REVERSAL_VERSION
        keep = [self._text(member), self._text(event_key), self._text(key), self._text(reason)]
        reversal.member, reversal.event_key, reversal.idempotency_key = keep[:3]
        reversal.reason = keep[3]
        reversal.part, reversal.whole, reversal.at = part, whole, _ms(at)
        return self._json_call(lib.loyal_event_reverse, reversal)

    def check(self, expression: str) -> dict:
        """Compiles a criteria expression: {"type": ..., "measures": [...]}."""
        return self._json_call(lib.loyal_criteria_check, expression.encode())

    def evaluate(self, expression: str, member: str,
                 event: Optional[Mapping[str, Any]] = None) -> Any:
        """The value of an expression for a member now (None when missing)."""
        result = self._json_call(lib.loyal_criteria_eval, expression.encode(), member.encode(),
                                 ffi.NULL if event is None else self._document(event))
        return result["value"]


class _Rows:
    """Iterates a cursor; keeps its database object alive, and stops safely if it closes."""

    def __init__(self, owner: Loyal, cursor):
        self._owner = owner
        self._cursor = cursor

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        row = ffi.new("const char **")
        with self._owner._lock:
            rc = lib.loyal_cursor_next(self._cursor, row)
            if rc == lib.LOYAL_EMISUSE:
                raise Misuse(rc, "the database is closed")
            if rc != lib.LOYAL_OK:
                raise _error(rc, ffi.string(lib.loyal_errmsg(self._owner._db)).decode())
            if row[0] == ffi.NULL:
                raise StopIteration
            return json.loads(ffi.string(row[0]).decode())
