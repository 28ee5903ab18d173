"""loyal's exceptions. Each is a loyal.Error and also the built-in exception it means, so that
code which knows nothing of loyal still catches them well: InvalidArgument is a ValueError,
NotFound a LookupError, Busy a TimeoutError, StorageError an OSError, and so on."""

from __future__ import annotations

import re

from ._loyal import ffi, lib

__all__ = [
    "Error", "InvalidArgument", "NoMemory", "StorageError", "NotADatabase", "VersionMismatch",
    "ReadOnly", "Busy", "NotFound", "Conflict", "InsufficientPoints", "Overflow", "Blocked",
    "InvalidJSON", "CriteriaSyntaxError", "Corrupt", "InvalidState", "Misuse", "InternalError",
    "SoldOut", "LimitReached", "NotEligible", "Refused", "Interrupted",
]

# The C layer's words in its messages, and what a Python caller writes instead: flags, and
# the fields of the C structs (posting.idempotency_key is the argument `key`).
_WORDING = [("LOYAL_OPEN_CREATE", "create=True"), ("LOYAL_OPEN_READONLY", "readonly=True")]
_FIELD = re.compile(r"\b(?:posting|event|grant|redeem|reversal|query|options)\.([a-z_]+)")
_ARGUMENT = {"idempotency_key": "key", "pending_ms": "pending",
             "busy_timeout_ms": "busy_timeout", "member_count": "members"}


def _python_words(code: int, message: str) -> str:
    for c_words, python_words in _WORDING:
        message = message.replace(c_words, python_words)
    if code == lib.LOYAL_EINVAL:  # elsewhere "event.x" is a criteria expression's
        message = _FIELD.sub(lambda match: _ARGUMENT.get(match[1], match[1]), message)
    return message


class Error(Exception):
    """A loyal error.

    `message` names the problem in the caller's terms (the member, the field, the reward);
    `str(error)` is that message. `code` is the engine's negative error code and `name` its
    symbolic name ("LOYAL_ENOTFOUND"), for logs. `replayed` is True when the call was refused
    by an earlier call under the same idempotency key and this is that recorded refusal given
    again, False when it was refused now."""

    def __init__(self, code: int, message: str, replayed: bool = False):
        message = _python_words(code, message)
        self.code = code
        self.name = ffi.string(lib.loyal_errstr(code)).decode()
        self.message = message
        self.replayed = replayed
        super().__init__(message)

    def __repr__(self) -> str:
        replayed = ", replayed=True" if self.replayed else ""
        return f"{type(self).__name__}({self.message!r}{replayed})"


class Refused(Error):
    """A business refusal: the request was well formed and the program said no (not enough
    points, blocked, sold out, over a limit, not eligible). Recorded under the call's key."""


class InvalidArgument(Error, ValueError):
    """An argument or field is wrong; the message names it."""


class InvalidJSON(Error, ValueError):
    """A document (program, properties, attributes) is malformed or breaks its schema."""


class CriteriaSyntaxError(Error, ValueError):
    """A criteria expression does not compile; the message gives the position."""


class Conflict(Error, ValueError):
    """The idempotency key was used for another request."""


class Overflow(Error, OverflowError):
    """An amount or a balance would leave the range of 64-bit integers."""


class NotFound(Error, LookupError):
    """An unknown member, currency, reward, coupon, tier, badge, segment, transaction, or a
    missing file opened without create=True."""


class NoMemory(Error, MemoryError):
    """The engine ran out of memory; nothing was changed."""


class StorageError(Error, OSError):
    """The file or the database server failed (I/O, lost connection); the call changed
    nothing, or committed whole."""


class NotADatabase(Error, OSError):
    """The file is not a loyal database (another SQLite file, or not SQLite at all)."""


class ReadOnly(Error, PermissionError):
    """A write on a handle opened readonly=True (or a file it may not write)."""


class Busy(Error, TimeoutError):
    """Another writer held the database past the busy timeout."""


class VersionMismatch(Error, RuntimeError):
    """The database was written by a newer version of loyal."""


class Corrupt(Error, RuntimeError):
    """The database is damaged or breaks an invariant; the message names the first one."""


class InvalidState(Error, RuntimeError):
    """The object is not in a state that allows the call (a redemption already cancelled, a
    coupon expired, a batch already open)."""


class Misuse(Error, RuntimeError):
    """The handle was used wrongly: closed, or its open failed."""


class InternalError(Error, RuntimeError):
    """A bug in loyal; the message says where."""


class InsufficientPoints(Refused):
    """Not enough available points."""


class Blocked(Refused):
    """The member is blocked."""


class SoldOut(Refused):
    """No stock (or no pool code) left."""


class LimitReached(Refused):
    """A limit of the reward or coupon is reached."""


class NotEligible(Refused):
    """The member may not have this (outside the active window, eligibility false, another
    member's code)."""


class Interrupted(Error, InterruptedError):
    """Loyal.interrupt() stopped the call, which wrote nothing."""


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
    lib.LOYAL_EINTERRUPTED: Interrupted,
}


def error_for(code: int, message: str, replayed: bool = False) -> Error:
    """The exception for an engine error code."""
    return _ERRORS.get(code, Error)(code, message, replayed)
