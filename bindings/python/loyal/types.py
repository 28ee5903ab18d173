"""The typed results of loyal's calls: frozen dataclasses, with every time an aware
`datetime` in UTC and every duration a `timedelta`.

Each class is read from the engine's JSON by `from_json`, which takes the keys the class
names (a field's JSON key is its name, or the `key` in its metadata where the name would be a
Python keyword, such as `from`) and converts each value to the field's type. Keys a newer
engine adds are ignored; a key the class needs and the JSON lacks is an error."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import sys
import typing
from typing import Any, Dict, List, Optional, Union

__all__ = [
    "Result", "Balance", "Program", "Member", "MemberSummary", "EventPosting", "SkippedRule",
    "TierChange", "BadgeChange", "EventCoupon", "EventOutcome", "EventReversal", "ReversalOutcome",
    "StatementLine", "Entry", "LotMove", "Transaction", "LotHistory", "Lot", "Explanation",
    "PastLot", "PastBalance", "PastTier", "MemberAsOf", "SimulatedCurrency", "SimulatedMonth",
    "Simulation", "RuleAwards", "WhatIfSide", "CurrencyDifference", "TierDifference",
    "MemberDifference", "WhatIfMembers", "WhatIf",
    "Expiring", "TierAssignment", "NextTier", "TierStatus", "TierHistoryEntry",
    "LeaderboardRow", "Leaderboard", "LeaderboardRank", "Happening", "OutboxConsumer",
    "OutboxConsumers", "PointsExpiring", "TierReview", "Revocation", "BadgeAward",
    "BadgeProgress", "SegmentChange", "Liability", "Flows", "ActivePeriod", "RetentionCohort",
    "Sizes", "RewardOffer", "RedemptionPosting", "Redemption", "RewardReport",
    "CouponReport", "RewardsReport", "Coupon", "CouponReceipt", "CouponCheck", "GrantReport",
    "Measure", "CriteriaInfo",
]

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
Number = Union[int, float]

# Tests set this to fail on a key no field takes, so that no value of the engine is dropped.
_strict = False


def datetime_of(ms: int) -> _dt.datetime:
    """Unix milliseconds as an aware UTC datetime, exactly (no float rounding)."""
    return EPOCH + _dt.timedelta(milliseconds=ms)


def _key(field: dataclasses.Field) -> str:
    return field.metadata.get("key", field.name)


def _renamed(key: str, **kwargs) -> Any:
    return dataclasses.field(metadata={"key": key}, **kwargs)


def is_time_key(key: str) -> bool:
    """Whether a key of a free-form body (a happening's) holds a time: "at", "*_at",
    "*_until"."""
    return key == "at" or key.endswith("_at") or key.endswith("_until")


def _convert(kind: Any, value: Any, where: str) -> Any:
    if value is None or kind is Any:
        return value
    origin = typing.get_origin(kind)
    if origin is Union:
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, where)
        return value  # Number: int or float as the engine wrote it
    if kind is _dt.datetime:
        return datetime_of(value)
    if kind is _dt.timedelta:
        return _dt.timedelta(milliseconds=value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where}: the engine's {value!r} is not a number")
        return float(value)
    if kind in (int, str, bool):
        if type(value) is not kind:
            raise TypeError(f"{where}: the engine's {value!r} is not a {kind.__name__}")
        return value
    if origin in (list, List):
        (item,) = typing.get_args(kind)
        return [_convert(item, element, f"{where}[{i}]") for i, element in enumerate(value)]
    if origin in (dict, Dict):
        _, item = typing.get_args(kind)
        return {name: _convert(item, element, f"{where}.{name}")
                for name, element in value.items()}
    if dataclasses.is_dataclass(kind):
        return from_json(kind, value, where)
    return value


@functools.lru_cache(maxsize=None)
def _shape(cls: type):
    return typing.get_type_hints(cls, vars(sys.modules[__name__])), dataclasses.fields(cls)


def from_json(cls: type, data: Dict[str, Any], where: str = "") -> Any:
    """An instance of the dataclass `cls` from the engine's JSON object `data`."""
    hints, fields = _shape(cls)
    values = {}
    for field in fields:
        key = _key(field)
        if key in data:
            values[field.name] = _convert(hints[field.name], data[key], f"{where}.{key}")
        elif field.default is dataclasses.MISSING and \
                field.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise TypeError(f"{cls.__name__}: the engine's answer lacks '{key}'"
                            f" ({where or 'the top level'})")
    if _strict:
        extra = set(data) - {_key(field) for field in fields}
        if extra:
            raise TypeError(f"{cls.__name__} takes no {sorted(extra)} ({where or 'top'})")
    return cls(**values)


def _frozen(cls):
    return dataclasses.dataclass(frozen=True)(cls)


# ---- the ledger ----

@_frozen
class Result:
    """What a ledger call did: the transaction made (0 when none), the points moved, and
    whether this is the recorded outcome of an earlier call under the same key. A dry run's
    (`dry_run`) is what the call would do; nothing was written."""
    txn: int
    amount: int
    replayed: bool
    dry_run: bool = False


@_frozen
class Balance:
    """A member's points in one currency. `next_expiry_at` is None when nothing expires."""
    available: int
    pending: int
    held: int
    earned: int
    spent: int
    expired: int
    next_expiry_at: Optional[_dt.datetime]
    next_expiry_amount: int


@_frozen
class StatementLine:
    """One transaction of a member's statement. `counterpart` is the other leg of a transfer
    (a transaction); `reverses` the transaction a reversal undoes."""
    txn: int
    at: _dt.datetime
    kind: str
    currency: str
    amount: int
    reason: Optional[str]
    cause: Optional[str]
    counterpart: Optional[int]
    reverses: Optional[int]


@_frozen
class Entry:
    """One double-entry leg: `amount` from one account to another ("system:issued",
    "alice:available", ...)."""
    amount: int
    from_account: str = _renamed("from")
    to_account: str = _renamed("to")


@_frozen
class LotMove:
    """What a transaction did to a lot: "create", "consume", "restore", ..."""
    amount: int
    kind: str
    lot: int


@_frozen
class Transaction:
    """A transaction with its entries and the lots it moved. `requested` is the amount asked
    for when policy moved less."""
    txn: int
    at: _dt.datetime
    kind: str
    member: str
    currency: str
    amount: int
    reason: Optional[str]
    cause: Optional[str]
    counterpart: Optional[int]
    requested: Optional[int]
    reverses: Optional[int]
    entries: List[Entry]
    moves: List[LotMove]


@_frozen
class LotHistory:
    at: _dt.datetime
    kind: str
    amount: int
    txn: int


@_frozen
class PastLot:
    """A lot of points, earned together and expiring together, as it stood at a past instant
    (`Loyal.member_as_of`): what it had left then."""
    lot: int
    txn: int
    amount: int
    remaining: int
    earned_at: _dt.datetime
    expires_at: Optional[_dt.datetime]
    pending_until: Optional[_dt.datetime]


@_frozen
class Lot(PastLot):
    """A lot of points with its history: every move of its points."""
    history: List[LotHistory]


@_frozen
class Explanation:
    """Why a balance is what it is: its totals and every open lot with its history."""
    member: str
    currency: str
    available: int
    pending: int
    held: int
    debt: int
    lots: List[Lot]


@_frozen
class Expiring:
    expires_at: _dt.datetime
    amount: int


# ---- the program and members ----

@_frozen
class Program:
    """The current program: its version and its document (as applied, a dict)."""
    version: int
    document: Dict[str, Any] = _renamed("program")


@_frozen
class Member:
    """A member with their attributes. `last_active_at` is None before any activity."""
    id: str
    status: str
    joined_at: _dt.datetime
    last_active_at: Optional[_dt.datetime]
    attributes: Dict[str, Any]


@_frozen
class PastBalance:
    """A member's points in one currency at a past instant, with the lots that had points
    left then, soonest-expiring first."""
    currency: str
    available: int
    pending: int
    held: int
    earned: int
    spent: int
    expired: int
    lots: List[PastLot]


@_frozen
class PastTier:
    tier: str
    since: _dt.datetime


@_frozen
class MemberAsOf:
    """A member as they stood at a past instant, rebuilt from history (see
    `Loyal.member_as_of`): balances, tier (None: none yet), badges held then."""
    member: str
    at: _dt.datetime
    balances: List[PastBalance]
    tier: Optional[PastTier]
    badges: List["BadgeAward"]


@_frozen
class MemberSummary:
    """A member as a search lists them, with their tier (None: none)."""
    id: str
    status: str
    joined_at: _dt.datetime
    last_active_at: Optional[_dt.datetime]
    tier: Optional[str]


# ---- events ----

@_frozen
class EventPosting:
    """Points a rule awarded for an event. `pending_until` is set while they are pending."""
    rule: str
    rule_version: int
    member: str
    currency: str
    amount: int
    txn: int
    pending_until: Optional[_dt.datetime]


@_frozen
class SkippedRule:
    """A rule that matched the event's type and awarded nothing, and why ("condition",
    "cap", "error", ...; `message` says more for an error)."""
    rule: str
    reason: str
    message: Optional[str] = None


@_frozen
class TierChange:
    """A move between tiers (`from_tier` None: the member's first tier)."""
    from_tier: Optional[str] = _renamed("from")
    to_tier: Optional[str] = _renamed("to")
    reason: str


@_frozen
class BadgeChange:
    badge: str
    level: Optional[str]


@_frozen
class EventCoupon:
    """A coupon code a rule issued for the event."""
    rule: str
    member: str
    coupon: str
    code: str


@_frozen
class EventOutcome:
    """What tracking an event did: its id, the points each rule awarded, the rules skipped,
    tier moves and badges earned, coupon codes issued and automatic rewards redeemed;
    `replayed` when the key had been tracked before; `dry_run` when it is what the event
    would do (nothing was written)."""
    event: int
    member: str
    type: str
    at: _dt.datetime
    postings: List[EventPosting]
    skipped: List[SkippedRule]
    tier_changes: List[TierChange]
    badges: List[BadgeChange]
    replayed: bool
    coupons: List[EventCoupon] = dataclasses.field(default_factory=list)
    redemptions: List["Redemption"] = dataclasses.field(default_factory=list)
    dry_run: bool = False


@_frozen
class EventReversal:
    """Points taken back from one of the event's postings (`requested`: what was asked)."""
    member: str
    currency: str
    txn: int
    reversal: int
    amount: int
    requested: int


@_frozen
class ReversalOutcome:
    event: int
    reversals: List[EventReversal]
    replayed: bool


# ---- tiers ----

@_frozen
class TierAssignment:
    """An operator's assignment: the tier, until when (None: until released), and why."""
    tier: str
    until: Optional[_dt.datetime]
    reason: str


@_frozen
class NextTier:
    """The next tier up and, when its entry criterion is a measure, how far the member is."""
    tier: str
    current: Optional[int] = None
    target: Optional[int] = None
    missing: Optional[int] = None
    by: Optional[_dt.datetime] = None


@_frozen
class TierStatus:
    """A member's tier (None: none), since when, the next review, the grace they are in, the
    multiplier and perks, an assignment if one holds, and what the next tier needs."""
    member: str
    tier: Optional[str]
    since: Optional[_dt.datetime]
    next_review: Optional[_dt.datetime]
    grace_until: Optional[_dt.datetime]
    multiplier: float
    perks: Dict[str, Any]
    assigned: Optional[TierAssignment]
    next: Optional[NextTier]


@_frozen
class TierHistoryEntry(TierChange):
    """A tier change and when it happened."""
    at: _dt.datetime


@_frozen
class TierReview:
    member: str
    tier: str
    review_at: _dt.datetime
    grace_until: Optional[_dt.datetime]


# ---- badges and segments ----

@_frozen
class Revocation:
    at: _dt.datetime
    reason: str


@_frozen
class BadgeAward:
    """A badge (level) a member holds or held: "earned" or "granted", with the operator's
    reason for a grant, and its revocation if revoked."""
    badge: str
    level: Optional[str]
    at: _dt.datetime
    how: str
    reason: Optional[str]
    revoked: Optional[Revocation]


@_frozen
class BadgeProgress:
    badge: str
    level: Optional[str]
    current: Number
    target: Number
    percent: Number
    complete: bool


@_frozen
class SegmentChange:
    """A member who "entered" or "left" a segment."""
    segment: str
    member: str
    change: str


# ---- leaderboards ----

@_frozen
class LeaderboardRow:
    rank: int
    member: str
    score: Number


@_frozen
class Leaderboard:
    """The top of a leaderboard's period (`period_start` None: all time)."""
    leaderboard: str
    period_start: Optional[_dt.datetime]
    rows: List[LeaderboardRow]


@_frozen
class LeaderboardRank:
    """A member's rank and score (both None: no score yet) with their neighbours."""
    leaderboard: str
    member: str
    period_start: Optional[_dt.datetime]
    rank: Optional[int]
    score: Optional[Number]
    rows: List[LeaderboardRow]


# ---- the outbox ----

@_frozen
class Happening:
    """One row of the outbox: its position, kind ("badge_earned", "tier_changed", ...), the
    member, when, and the kind's body (a dict; its times, "at" and the keys ending in "_at"
    or "_until", are datetimes)."""
    position: int
    kind: str
    member: str
    at: _dt.datetime
    body: Dict[str, Any]

    def __post_init__(self):
        body = {key: datetime_of(value) if is_time_key(key) and isinstance(value, int)
                else value for key, value in self.body.items()}
        object.__setattr__(self, "body", body)


@_frozen
class OutboxConsumer:
    consumer: str
    position: int
    behind: int
    acked_at: Optional[_dt.datetime]


@_frozen
class OutboxConsumers:
    newest: int
    consumers: List[OutboxConsumer]


@_frozen
class PointsExpiring:
    member: str
    currency: str
    amount: int
    expires_at: _dt.datetime


# ---- reports ----

@_frozen
class Liability:
    currency: str
    available: int
    pending: int
    held: int
    debt: int
    outstanding: int
    members: int


@_frozen
class Flows:
    """Points issued, redeemed, expired, adjusted and reversed over a period, and breakage
    (the share of issued points that expired)."""
    currency: str
    issued: int
    redeemed: int
    expired: int
    adjusted: int
    reversed: int
    breakage: float


@_frozen
class ActivePeriod:
    """Members active in the period starting at `period`."""
    period: _dt.datetime
    active: int


@_frozen
class RetentionCohort:
    """Members who joined in the period starting at `cohort`, and how many of them (and
    which share) were active in each period since."""
    cohort: _dt.datetime
    members: int
    active: List[int]
    share: List[float]


@_frozen
class Sizes:
    tiers: Dict[str, int]
    segments: Dict[str, int]


# ---- rewards and coupons ----

@_frozen
class RewardOffer:
    """A reward as a member sees it: their price, whether one unit can be redeemed now and,
    if not, why ("blocked", "not_active", "not_eligible", "out_of_stock", "limit_reached",
    "not_enough_points", with the points `missing`)."""
    reward: str
    title: str
    kind: str
    price: Dict[str, int]
    stock_left: Optional[int]
    two_phase: bool
    data: Dict[str, Any]
    available: bool
    why: Optional[str]
    missing: Dict[str, int]


@_frozen
class RedemptionPosting:
    """The points of one currency a redemption took: the transaction (a hold for a
    two-phase reward), its capture and its refund when there were."""
    currency: str
    amount: int
    txn: int
    capture: Optional[int] = None
    refund: Optional[int] = None


@_frozen
class Redemption:
    """A redemption: "pending" (two-phase, until `deadline`), "fulfilled", "cancelled" or
    "expired"; `replayed` when the key had been used before."""
    id: int
    member: str
    reward: str
    quantity: int
    state: str
    at: _dt.datetime
    deadline: Optional[_dt.datetime]
    settled_at: Optional[_dt.datetime]
    postings: List[RedemptionPosting]
    replayed: bool


@_frozen
class RewardReport:
    reward: str
    units: int
    members: int
    points: Dict[str, int]
    redemptions: Dict[str, int]
    stock_left: Optional[int]


@_frozen
class CouponReport:
    coupon: str
    issued: int
    used: int
    pool_left: Optional[int]
    use_rate: Optional[float]


@_frozen
class RewardsReport:
    rewards: List[RewardReport]
    coupons: List[CouponReport]
    redemption_rate: Dict[str, float]


@_frozen
class Coupon:
    """A coupon code issued to a member: "valid", "used" or "expired", its uses left (None:
    unlimited) and validity (`valid_until` None: no end)."""
    id: int
    code: str
    coupon: str
    member: str
    title: str
    value: Any
    state: str
    uses_left: Optional[int]
    issued_at: _dt.datetime
    valid_from: _dt.datetime
    valid_until: Optional[_dt.datetime]


@_frozen
class CouponReceipt(Coupon):
    """A coupon after a writing call, with the reservation it made or released, and
    `replayed` when the key had been used before."""
    replayed: bool = False
    reservation: Optional[int] = None


@_frozen
class CouponCheck:
    """Whether the member can use the code now, and if not why ("not_this_members",
    "used_up", "expired", "not_yet_valid", ...); `issued` is the code as issued to this
    member (None for another member's code, which a check does not describe)."""
    code: str
    valid: bool
    why: Optional[str]
    issued: Optional[Coupon]

    @classmethod
    def from_engine(cls, data: Dict[str, Any]) -> "CouponCheck":
        rest = {key: value for key, value in data.items() if key not in ("valid", "why")}
        return cls(data["code"], data["valid"], data["why"],
                   from_json(Coupon, rest) if "id" in rest else None)


@_frozen
class GrantReport:
    """What a grant did: members granted now, granted by an earlier run, refused (and how
    many for each reason), and examined."""
    grant: str
    examined: int
    granted: int
    already_granted: int
    refused: int
    why: Dict[str, int]


# ---- forecasts ----

@_frozen
class SimulatedCurrency:
    """A currency's month in a simulation: points issued, redeemed and expired in it,
    breakage (expired / issued; None when nothing was issued) and liability at its end."""
    currency: str
    issued: Number
    redeemed: Number
    expired: Number
    breakage: Optional[float]
    liability: Number


@_frozen
class SimulatedMonth:
    """A month of a simulation (`days` of it simulated): members joined by its end, members
    active in it, events, each currency's flows and the tier sizes at its end."""
    month: _dt.datetime
    days: int
    members: int
    active: int
    events: int
    currencies: List[SimulatedCurrency]
    tiers: Dict[str, int]


@_frozen
class Simulation:
    """What `Loyal.simulate` reports: the run's settings, its totals, and each month."""
    profile: str
    members: int
    days: int
    seed: int
    start: _dt.datetime
    end: _dt.datetime
    events: int
    spends: int
    months: List[SimulatedMonth]


# ---- what-if ----

@_frozen
class RuleAwards:
    """What an earning rule awarded in a currency over a what-if's period."""
    rule: str
    currency: str
    points: int
    awards: int


@_frozen
class WhatIfSide:
    """What one program (the live one, or the candidate) made of the replayed events in the
    period: awards per rule, each currency's flows (as a simulated month's) and liability at
    the end, tier sizes at the end and the moves events and reviews made, badges awarded,
    segment sizes, and events its program refused."""
    rules: List[RuleAwards]
    currencies: List[SimulatedCurrency]
    tiers: Dict[str, int]
    tier_moves: int
    badges: Dict[str, int]
    segments: Dict[str, int]
    refused: int


@_frozen
class CurrencyDifference:
    """A member's lifetime points earned in a currency on each side, and candidate - live."""
    currency: str
    live: int
    candidate: int
    difference: int


@_frozen
class TierDifference:
    """A member's tier at the end on each side (None: no tier)."""
    live: Optional[str]
    candidate: Optional[str]


@_frozen
class MemberDifference:
    """A member whose earnings or tier differ between the sides."""
    member: str
    currencies: List[CurrencyDifference]
    tier: TierDifference


@_frozen
class WhatIfMembers:
    """Members compared, how many differ, and the biggest differences first."""
    compared: int
    differing: int
    biggest: List[MemberDifference]


@_frozen
class WhatIf:
    """What `Loyal.whatif` reports: the period, the events replayed (and those in the
    period), each side, and the members who differ."""
    start: _dt.datetime = _renamed("from")
    end: _dt.datetime = _renamed("to")
    events: int
    period_events: int
    live: WhatIfSide
    candidate: WhatIfSide
    members: WhatIfMembers


# ---- criteria ----

@_frozen
class Measure:
    """A measure an expression reads: count(purchase, 30d) is function "count", name
    "purchase", window 30 days (None: all time)."""
    function: str
    name: str
    window: Optional[_dt.timedelta] = _renamed("window_ms", default=None)

    def __post_init__(self):
        if self.window == _dt.timedelta(0):
            object.__setattr__(self, "window", None)


@_frozen
class CriteriaInfo:
    type: str
    measures: List[Measure]
