"""Grants and evidence pre-encoded once (orjson fragments) give the slow path's JSON bytes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.models import Balance, CheckResult, Evidence, Grant, Key, Kind, Status
from keyledger.render import serialize
from keyledger.render.serialize import RESULT_SCHEMA, result_dict
from keyledger.render.writers import Format
from keyledger.secret import Fingerprinter, Secret

_NOW = datetime(2026, 12, 1, 7, 30, 10, 123456, tzinfo=UTC)
_TIMES = st.none() | st.sampled_from(
    [
        _NOW,
        _NOW + timedelta(days=30),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30))),
    ]
)
_AMOUNTS = st.sampled_from(["0", "5", "12.50", "0.001", "1E+2", "-3", "49.25"]).map(Decimal)
_IDS = st.none() | st.sampled_from(["g-1", "中文", "a\nb", "\ud800", 'q"'])
_GRANTS = st.builds(Grant, _AMOUNTS, _AMOUNTS, _TIMES, _TIMES, st.booleans(), _IDS)
# A few shared grant values, as a run's session keys share them (the memo is keyed by identity).
_SHARED = [Grant(Decimal(a), Decimal("1"), _NOW, _NOW, False, f"s{a}") for a in ("5", "9")]
_GRANT = _GRANTS | st.sampled_from(_SHARED)
_TEXTS = st.none() | st.sampled_from(["ok", "中文", "a\tb", "\ud800", "</x>"])
_EVIDENCE = st.sampled_from(
    [Evidence("/dashboard/billing/credit_grants", 200, None, None, None, 1, "ok")]
) | st.builds(
    Evidence,
    st.sampled_from(["/x", "/é"]),
    st.none() | st.sampled_from([200, 429, 2**70]),
    _TEXTS,
    _TEXTS,
    _TEXTS,
    st.sampled_from([0, 1, 2**64]),
    st.sampled_from(["ok", "http_error"]),
)


@st.composite
def _results(draw: st.DrawFn) -> CheckResult:
    """A result with zero to two balances (their grants shared or not), its primary balance
    one of them, none, or one not listed."""
    fp = Fingerprinter(b"f" * 32)
    value = "sess-FRAGMENTS0123456789abcdefXYZ"
    key = Key(Secret(value), fp(value), draw(st.sampled_from(["s1", "é"])), kind=Kind.SESSION)
    balances = tuple(
        Balance(
            currency,
            "/dashboard/billing/credit_grants",
            draw(_TIMES) or _NOW,
            available=draw(st.none() | _AMOUNTS),
            grants=tuple(draw(st.lists(_GRANT, max_size=3))),
        )
        for currency in draw(st.lists(st.sampled_from(["USD", "CNY"]), max_size=2, unique=True))
    )
    choice = draw(st.integers(0, 2))
    primary = None if not balances or choice == 0 else balances[0]
    if choice == 2:
        primary = Balance("EUR", "/x", _NOW, grants=tuple(draw(st.lists(_GRANT, max_size=2))))
    evidence = tuple(draw(st.lists(_EVIDENCE, max_size=2)))
    return CheckResult(
        key, Status.OK, None, _NOW, balance=primary, balances=balances, evidence=evidence
    )


def _slow_document(results: list[CheckResult]) -> str:
    """The results array as the standard library lays it out (the writers' fallback)."""
    items = [
        "\n    " + json.dumps(result_dict(r), ensure_ascii=False, indent=2).replace("\n", "\n    ")
        for r in results
    ]
    return "[" + ",".join(items) + ("\n  ]" if items else "]")


@settings(max_examples=150)
@given(st.lists(_results(), max_size=4), st.booleans())
def test_json_and_jsonl_bytes_are_the_slow_paths(results: list[CheckResult], cold: bool) -> None:
    """The JSON document's results and each JSON line are what json.dumps writes for the
    all-text dicts, whether the grant memo is cold or warm (a lone surrogate falls back)."""
    if cold:
        serialize._FRAGMENTS.clear()
    stream = io.StringIO()
    writer = Format.JSON.writer(stream)
    assert writer is not None
    for result in results:
        writer.write(result)
    writer.close(True, {})
    text = stream.getvalue()
    start = text.index('"results": ') + len('"results": ')
    assert text[start : text.index(',\n  "complete"')] == _slow_document(results)

    lines = io.StringIO()
    jsonl = Format.JSONL.writer(lines)
    assert jsonl is not None
    for result in results:
        jsonl.write(result)
    jsonl.close(True, {})
    expected = "".join(
        json.dumps(
            {"schema": RESULT_SCHEMA, **result_dict(r)}, ensure_ascii=False, separators=(",", ":")
        )
        + "\n"
        for r in results
    )
    assert lines.getvalue() == expected


def test_a_kept_fragment_of_another_grant_is_not_used() -> None:
    """A memo entry filed under a grant's identity but made for another grant is ignored."""
    grant = Grant(Decimal("12.50"), Decimal("1"), None, _NOW, False, "g-1")
    other = Grant(Decimal("99"), Decimal("0"), None, None, True, "g-2")
    serialize._FRAGMENTS[(id(grant), serialize.COMPACT)] = (
        other,
        serialize._fragment(other, serialize.COMPACT, serialize._grant_data),
    )
    balance = Balance("USD", "s", _NOW, grants=(grant,))
    fp = Fingerprinter(b"f" * 32)
    key = Key(Secret("sess-KEPTFRAGMENT0123456789abcdefXYZ"), fp("x"), "k", kind=Kind.SESSION)
    result = CheckResult(key, Status.OK, None, _NOW, balance=balance, balances=(balance,))
    stream = io.StringIO()
    writer = Format.JSONL.writer(stream)
    assert writer is not None
    writer.write(result)
    assert json.loads(stream.getvalue())["balance"]["grants"][0]["id"] == "g-1"
