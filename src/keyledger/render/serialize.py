"""Results as plain JSON-ready dicts: the versioned contract in ``schema/``.

Money is a decimal *string* (``"49.25"``) so no consumer loses exactness to floats; a value
that could not be read is ``null``, never ``0``. Times are ISO 8601 in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import orjson

from keyledger.baseurl import display_url
from keyledger.models import Balance, CheckResult, Evidence, Grant, Spend
from keyledger.money import plain_text

_T = TypeVar("_T")

SCHEMA = "keyledger/results/v2"
RESULT_SCHEMA = "keyledger/result/v2"

# A run's keys share a few base URLs: each one's display form is worked out once.
shown_url = lru_cache(maxsize=256)(display_url)


def money_text(value: Decimal | None) -> str | None:
    """An exact decimal as plain text (never exponent notation); ``None`` stays ``None``."""
    return None if value is None else plain_text(value)


def _time(value: datetime | None) -> str | None:
    """ISO 8601 text, UTC written ``Z`` (orjson's C formatter writes a UTC datetime the same
    way as ``isoformat``, at a third of its cost)."""
    if value is None:
        return None
    if value.tzinfo is UTC and type(value) is datetime:
        return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()
    return value.isoformat().replace("+00:00", "Z")


def _time_for_orjson(value: datetime | None) -> datetime | str | None:
    """:func:`_time` left to orjson where it writes the same text: a plain UTC datetime is
    kept as it is (encoded with ``OPT_UTC_Z``, as :func:`_time` itself does)."""
    if value is None or (value.tzinfo is UTC and type(value) is datetime):
        return value
    return value.isoformat().replace("+00:00", "Z")


_ZERO = Decimal(0)
_ZERO_TEXT = plain_text(_ZERO)  # a grant's remainder when nothing is left

# How a dict gives a time: always as text, or (for orjson with OPT_UTC_Z) possibly as is.
Times = Callable[[datetime | None], datetime | str | None]
ORJSON_OPTIONS = orjson.OPT_UTC_Z  # what a dict made with ``for_orjson=True`` needs


# A grant's part of a balance object, worked out once per grant value: the grants of a run's
# keys are mostly shared values (see ``openai_session._GRANTS``), so the same grant is written
# for many keys. Keyed by the grant's identity and whether times are left to orjson; each entry
# holds its grant, so the identity is not reused while it is kept. Emptied when full.
_GrantParts = tuple[
    Grant, str | None, str, str, str, datetime | str | None, datetime | str | None, bool, bool
]
_GRANT_PARTS: dict[tuple[int, bool], _GrantParts] = {}
GRANT_PARTS_SIZE = 1024


def _grant_parts(g: Grant, time_text: Times) -> _GrantParts:
    """A grant's texts (id, amount, used, remaining, times), its ``expired``, and whether it
    counts for the balance's ``next_expiry`` (something left, not expired, an expiry)."""
    left = g.amount - g.used
    counts = left > _ZERO
    return (
        g,
        g.grant_id,
        plain_text(g.amount),
        plain_text(g.used),
        plain_text(left) if counts else _ZERO_TEXT,
        time_text(g.effective_at),
        time_text(g.expires_at),
        g.expired,
        counts and not g.expired and g.expires_at is not None,
    )


# A shared value's object (a grant, an evidence item) pre-encoded by orjson, per value and
# layout (``-1`` compact, else the indent of the object's opening brace in an indented
# document), for ``result_dict``'s ``fragments``: the grants and evidence of a run's keys are
# mostly shared values, encoded once, not for every result that holds them. Keyed by the
# value's identity and emptied when full, as ``_GRANT_PARTS``; each entry holds its value.
_FRAGMENTS: dict[tuple[int, int], tuple[object, orjson.Fragment]] = {}
COMPACT = -1
"""``fragments`` for compact output (one line); any other value is an indent."""


def _grant_data(g: Grant) -> dict[str, Any]:
    """``g``'s object with its times left to orjson."""
    _, grant_id, amount, used, remaining, effective_at, expires_at, expired, _ = _grant_parts(
        g, _time_for_orjson
    )
    return {
        "id": grant_id,
        "amount": amount,
        "used": used,
        "remaining": remaining,
        "effective_at": effective_at,
        "expires_at": expires_at,
        "expired": expired,
    }


def _evidence_data(e: Evidence) -> dict[str, Any]:
    """One item of a result's ``evidence``."""
    return {
        "endpoint": e.endpoint,
        "http_status": e.http_status,
        "error_type": e.error_type,
        "error_code": e.error_code,
        "message": e.message,
        "attempts": e.attempts,
        "outcome": e.outcome,
    }


def _fragment(value: _T, indent: int, data: Callable[[_T], dict[str, Any]]) -> orjson.Fragment:
    """``data(value)`` as orjson writes it (with :data:`ORJSON_OPTIONS`), laid out to open at
    ``indent`` in a document indented by two, or compact (:data:`COMPACT`); made once per
    value and layout while the value is kept.

    Raises:
        orjson.JSONEncodeError: orjson refuses a text of the value (the caller falls back).
    """
    found = _FRAGMENTS.get((id(value), indent))
    if found is not None and found[0] is value:
        return found[1]
    if indent == COMPACT:
        encoded = orjson.dumps(data(value), option=ORJSON_OPTIONS)
    else:
        pretty = orjson.dumps(data(value), option=ORJSON_OPTIONS | orjson.OPT_INDENT_2)
        encoded = pretty.replace(b"\n", b"\n" + b" " * indent)
    fragment = orjson.Fragment(encoded)
    if len(_FRAGMENTS) >= GRANT_PARTS_SIZE:
        _FRAGMENTS.clear()
    _FRAGMENTS[(id(value), indent)] = (value, fragment)
    return fragment


def balance_dict(
    balance: Balance | None, time_text: Times = _time, fragments: int | None = None
) -> dict[str, Any] | None:
    """One balance object (``balance`` and each item of ``balances``).

    ``fragments`` (with :func:`_time_for_orjson` only): each grant is an ``orjson.Fragment``
    laid out to open at that indent (or :data:`COMPACT`), not a dict.
    """
    if balance is None:
        return None
    # money_text inlined (a balance holds a dozen amounts; it is built for every result), and
    # each grant's remainder worked out once: it gives the grant's ``remaining`` and the
    # balance's ``next_expiry`` (what ``Grant.remaining`` and ``Balance.next_expiry`` answer).
    plain = plain_text
    grants: list[dict[str, Any] | orjson.Fragment] = []
    soonest: datetime | None = None
    shared = time_text is _time or time_text is _time_for_orjson  # a known, pure time_text
    for g in balance.grants:
        if shared:
            entry = _GRANT_PARTS.get((id(g), time_text is _time))
            if entry is None or entry[0] is not g:
                entry = _grant_parts(g, time_text)
                if len(_GRANT_PARTS) >= GRANT_PARTS_SIZE:
                    _GRANT_PARTS.clear()
                _GRANT_PARTS[(id(g), time_text is _time)] = entry
        else:
            entry = _grant_parts(g, time_text)
        (
            _,
            grant_id,
            amount_text,
            used_text,
            remaining,
            effective_at,
            expires_at,
            expired,
            counts,
        ) = entry
        if (
            counts
            and (expires := g.expires_at) is not None
            and (soonest is None or expires < soonest)
        ):
            soonest = expires
        if fragments is not None:
            grants.append(_fragment(g, fragments, _grant_data))
            continue
        grants.append(
            {
                "id": grant_id,
                "amount": amount_text,
                "used": used_text,
                "remaining": remaining,
                "effective_at": effective_at,
                "expires_at": expires_at,
                "expired": expired,
            }
        )
    lapses = balance.expires_at
    if lapses is not None and (soonest is None or lapses < soonest):
        soonest = lapses
    return {
        "currency": balance.currency,
        "granted": None if (granted := balance.granted) is None else plain(granted),
        "used": None if (used := balance.used) is None else plain(used),
        "available": None if (available := balance.available) is None else plain(available),
        "reported_available": None
        if (reported := balance.reported_available) is None
        else plain(reported),
        "token_uncapped": balance.token_uncapped,
        "reading": balance.reading,
        "parts": [{"name": p.name, "amount": plain(p.amount)} for p in balance.parts]
        if balance.parts
        else [],
        "source": balance.source,
        "read_at": time_text(balance.read_at),
        "expires_at": time_text(lapses),
        "next_expiry": time_text(soonest),
        "grants": grants,
    }


def balances_of(result: CheckResult) -> tuple[Balance, ...]:
    """Every balance of ``result``, one per currency, ordered by currency (providers such as
    DeepSeek answer in no stable order); the primary one is included even if a hand-built
    result forgot it in ``balances``."""
    given = result.balances
    if len(given) == 1 and (result.balance is None or given[0] is result.balance):
        return given  # the common case: one balance, the primary one
    found = list(given)
    if result.balance is not None and result.balance not in found:
        found.append(result.balance)
    return tuple(sorted(found, key=lambda b: b.currency))


def spend_dict(spend: Spend | None, time_text: Times = _time) -> dict[str, Any] | None:
    """The ``spend`` object of a result."""
    if spend is None:
        return None
    return {
        "amount": money_text(spend.amount),
        "currency": spend.currency,
        "period_start": time_text(spend.period_start),
        "period_end": time_text(spend.period_end),
        "source": spend.source,
        "read_at": time_text(spend.read_at),
        "truncated": spend.truncated,
        "by_project": [
            {"project_id": p.project_id, "amount": money_text(p.amount)} for p in spend.by_project
        ],
    }


def result_dict(
    result: CheckResult, *, for_orjson: bool = False, fragments: int | None = None
) -> dict[str, Any]:
    """One result as a JSON-ready dict (never the key itself).

    ``for_orjson``: UTC times are left as datetimes for ``orjson.dumps`` with
    :data:`ORJSON_OPTIONS` to write (the same text, without a string per time first), the
    status and kind as their enum members and aliases and models as tuples (orjson writes
    them as the values and lists they stand for); such a dict is only for orjson.

    ``fragments`` (with ``for_orjson``): grants are pre-encoded ``orjson.Fragment`` values,
    laid out for a result object that opens at that indent in a document orjson indents by
    two (``OPT_INDENT_2``), or for compact output (:data:`COMPACT`); orjson writes such a
    dict exactly as the one with dicts, with those options. Raises
    ``orjson.JSONEncodeError`` where orjson would refuse the dict with dicts.
    """
    time_text: Times = _time_for_orjson if for_orjson else _time
    key = result.key
    limits = result.rate_limits
    account = result.account
    found = balances_of(result)
    # An item of ``evidence`` opens 4 columns right of the result; a grant of ``balances`` 8,
    # of ``balance`` 6.
    evidence_at = COMPACT if fragments is None or fragments == COMPACT else fragments + 4
    inner = None if fragments is None else fragments if fragments == COMPACT else fragments + 8
    balances = [balance_dict(b, time_text, inner) for b in found]
    # The primary balance is one of ``balances``: its object is built once and used twice.
    if len(found) == 1 and found[0] is result.balance:
        primary = balances[0]  # the common case, without a search
    else:
        primary = next(
            (d for b, d in zip(found, balances, strict=True) if b is result.balance), None
        )
        if primary is None:
            primary = balance_dict(result.balance, time_text, inner)
    if primary is not None and inner is not None and inner != COMPACT and primary["grants"]:
        # indented two columns less than in ``balances``: the same object, its own grants
        assert fragments is not None
        grants = result.balance.grants if result.balance is not None else ()
        outer = fragments + 6
        primary = {
            **primary,
            "grants": [_fragment(g, outer, _grant_data) for g in grants],
        }
    return {
        "label": key.label,
        "aliases": key.aliases if for_orjson else list(key.aliases),
        "provider": key.provider,
        "kind": key.kind if for_orjson else key.kind.value,
        "key": key.masked,
        "fingerprint": key.fingerprint,
        "base_url": shown_url(key.base_url) if key.base_url else None,
        "source": key.source or None,
        "status": result.status if for_orjson else result.status.value,
        "reason": result.reason,
        "balance": primary,
        "balances": balances,
        "balance_reason": result.balance_reason,
        "spend": spend_dict(result.spend, time_text),
        "rate_limits": None
        if limits is None
        else {
            "requests_limit": limits.requests_limit,
            "tokens_limit": limits.tokens_limit,
            "requests_remaining": limits.requests_remaining,
            "tokens_remaining": limits.tokens_remaining,
            "requests_reset": limits.requests_reset,
            "tokens_reset": limits.tokens_reset,
        },
        "models": result.models if for_orjson or result.models is None else list(result.models),
        "tier": result.tier,
        "account": None
        if account is None
        else {"organization": account.organization, "name": account.name, "plan": account.plan},
        "evidence": [_evidence_data(e) for e in result.evidence]
        if fragments is None
        else [_fragment(e, evidence_at, _evidence_data) for e in result.evidence],
        "checked_at": time_text(result.checked_at),
        "attempts": result.attempts,
        "duration_ms": result.duration_ms,
        "retry_at": time_text(result.retry_at),
    }
