"""The JSON writers' encoder (orjson, with the standard library as fallback)."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TextIO

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyledger.models import (
    Balance,
    BalancePart,
    CheckResult,
    Evidence,
    Grant,
    Key,
    Kind,
    RateLimits,
    Status,
)
from keyledger.money import plain_text
from keyledger.render.serialize import ORJSON_OPTIONS, _time, balance_dict, result_dict
from keyledger.render.writers import _NEST_HEAD, _NEST_TAIL, Format, _dumps, byte_buffer
from keyledger.secret import Fingerprinter, Secret


def test_pretty_json_is_laid_out_as_the_standard_library_would() -> None:
    """Indented output is byte-for-byte what json.dumps(indent=2, ensure_ascii=False) gives."""
    data = {"a": "49.25", "b": [], "c": {}, "d": [{"x": None, "y": True}], "é": "中文", "n": 7}
    assert _dumps(data, pretty=True) == json.dumps(data, ensure_ascii=False, indent=2)


def test_compact_json_is_one_line_without_spaces() -> None:
    """JSON Lines are compact and read back to the same data."""
    data = {"status": "ok", "money": "0.000001", "list": [1, 2]}
    text = _dumps(data)
    assert text == '{"status":"ok","money":"0.000001","list":[1,2]}'
    assert json.loads(text) == data


def test_what_orjson_refuses_falls_back_to_the_same_layout() -> None:
    """An integer wider than 64 bits (orjson refuses it) is still written, the same way."""
    data = {"big": 2**70, "s": "x"}
    assert _dumps(data) == '{"big":1180591620717411303424,"s":"x"}'
    assert _dumps(data, pretty=True) == json.dumps(data, indent=2)


def _results() -> list[CheckResult]:
    """Three results: plain, non-ASCII with grants, and one orjson refuses (a wide integer)."""
    fp = Fingerprinter(b"w" * 32)
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def key(label: str) -> Key:
        value = f"sess-WRITERBYTES{label.encode().hex()}Zq8Wm3Xr7Tb2"
        return Key(Secret(value), fp(value), label, provider="openai", kind=Kind.SESSION)

    grant = Grant(Decimal("5.50"), Decimal("1.25"), at, at, False, "credit_grant_中文")
    balance = Balance("USD", "/grants", at, available=Decimal("4.25"), grants=(grant,))
    return [
        CheckResult(key("plain"), Status.OK, None, at),
        CheckResult(key("é中文"), Status.OK, None, at, balance=balance, balances=(balance,)),
        CheckResult(key("wide"), Status.OK, None, at, rate_limits=RateLimits(2**70)),
    ]


def _undated(document: bytes) -> bytes:
    """``document`` without its ``generated_at`` time."""
    return re.sub(rb'"generated_at": "[^"]*"', b"", document)


def _written(fmt: Format, stream: TextIO) -> None:
    writer = fmt.writer(stream)
    assert writer is not None
    for result in _results():
        writer.write(result)
    writer.close(True, {"total": 3, "note": "中文"})
    stream.flush()


@pytest.mark.parametrize("fmt", [Format.JSON, Format.JSONL])
def test_bytes_to_a_byte_buffer_are_the_bytes_text_would_give(fmt: Format) -> None:
    """A UTF-8 stream with a byte buffer gets the same bytes as a text-only stream."""
    text = io.StringIO()
    _written(fmt, text)
    raw = io.BytesIO()
    wrapped = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    wrapped.write("before\n")  # text written earlier stays first
    _written(fmt, wrapped)
    assert _undated(raw.getvalue()) == _undated(b"before\n" + text.getvalue().encode())


def test_the_document_is_laid_out_as_the_standard_library_would() -> None:
    """Each result is json.dumps(indent=2) indented by four; wide integers included."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    _written(Format.JSON, stream)
    text = raw.getvalue().decode()
    for result in _results():
        body = json.dumps(result_dict(result), ensure_ascii=False, indent=2)
        assert "\n    " + body.replace("\n", "\n    ") in text
    assert json.loads(text)["results"][2]["rate_limits"]["requests_limit"] == 2**70


def test_a_stream_in_another_encoding_is_written_as_text() -> None:
    """A Latin-1 stream gets text (encoded by the stream), never UTF-8 bytes behind its back."""
    assert byte_buffer(io.TextIOWrapper(io.BytesIO(), encoding="latin-1")) is None
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1", errors="replace", newline="")
    _written(Format.JSONL, stream)
    assert "é?" in raw.getvalue().decode("latin-1")


_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 31),
    timezones=st.sampled_from(
        [timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(seconds=30)), UTC]
    ),
)


@given(checked=_TIMES, read=_TIMES, grant=st.none() | _TIMES)
def test_times_left_to_orjson_are_written_as_the_text_dict_has_them(
    checked: datetime, read: datetime, grant: datetime | None
) -> None:
    """A dict for orjson encodes to the same bytes as the all-text dict, whatever the times."""
    base = _results()[1]
    balance = replace(
        base.balances[0],
        read_at=read,
        grants=(replace(base.balances[0].grants[0], expires_at=grant, effective_at=read),),
    )
    result = replace(base, checked_at=checked, balance=balance, balances=(balance,))
    fast = orjson.dumps(result_dict(result, for_orjson=True), option=ORJSON_OPTIONS)
    assert fast == orjson.dumps(result_dict(result))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_a_result_nested_in_two_lists_is_the_result_indented_by_four(data: dict[str, Any]) -> None:
    """The document's item cut from ``[[item]]`` is the item's own layout indented by four."""
    try:
        alone = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:  # a lone surrogate: the writer falls back to json
        return
    nested = orjson.dumps([[data]], option=orjson.OPT_INDENT_2)
    assert nested[_NEST_HEAD:_NEST_TAIL] == b"\n    " + alone.replace(b"\n", b"\n    ")


_MONEY = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)
_GRANT_TIMES = st.none() | _TIMES


@st.composite
def _balances(draw: st.DrawFn) -> Balance:
    """A balance with odd grants: used up, overdrawn, expired, without expiry, tied expiries."""
    grants = draw(
        st.lists(
            st.builds(
                Grant,
                _MONEY,
                _MONEY,
                _GRANT_TIMES,
                _GRANT_TIMES,
                st.booleans(),
                st.none() | st.text(max_size=8),
            ),
            max_size=4,
        )
    )
    return Balance(
        draw(st.text(min_size=1, max_size=4)),
        "/grants",
        draw(_TIMES),
        granted=draw(st.none() | _MONEY),
        available=draw(st.none() | _MONEY),
        grants=tuple(grants),
        expires_at=draw(_GRANT_TIMES),
        parts=tuple(
            draw(st.lists(st.builds(BalancePart, st.text(max_size=4), _MONEY), max_size=2))
        ),
    )


@given(_balances())
def test_grant_remainders_and_next_expiry_are_what_the_model_answers(balance: Balance) -> None:
    """Each grant's ``remaining`` and the ``next_expiry`` worked out in one pass are the
    model's own ``Grant.remaining`` and ``Balance.next_expiry``."""
    data = balance_dict(balance)
    assert data is not None
    assert [g["remaining"] for g in data["grants"]] == [
        plain_text(g.remaining) for g in balance.grants
    ]
    assert data["next_expiry"] == _time(balance.next_expiry)


_LABELS = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@given(
    balance=st.none() | _balances(),
    label=_LABELS,
    aliases=st.lists(_LABELS, max_size=2),
    models=st.none() | st.lists(_LABELS, max_size=3),
    status=st.sampled_from(list(Status)),
    kind=st.sampled_from(list(Kind)),
    reason=st.none() | _LABELS,
)
def test_a_dict_for_orjson_writes_what_the_standard_library_writes(
    balance: Balance | None,
    label: str,
    aliases: list[str],
    models: list[str] | None,
    status: Status,
    kind: Kind,
    reason: str | None,
) -> None:
    """Enum members, tuples and times left to orjson give the bytes json.dumps gives for the
    all-text dict: odd labels, control characters, no balance, errors and all."""
    fp = Fingerprinter(b"w" * 32)
    value = "sess-ORJSONDICT0123456789abcdefXYZ"
    key = Key(Secret(value), fp(value), label, kind=kind, aliases=tuple(aliases), source=label)
    at = datetime(2026, 6, 1, 12, 0, 1, 5, tzinfo=UTC)
    result = CheckResult(
        key,
        status,
        reason,
        at,
        balance=balance,
        balances=() if balance is None else (balance,),
        models=None if models is None else tuple(models),
        evidence=(Evidence("/x", None, "t", label, reason, 2, status.value),),
    )
    fast = orjson.dumps(result_dict(result, for_orjson=True), option=ORJSON_OPTIONS)
    slow = json.dumps(result_dict(result), ensure_ascii=False, separators=(",", ":"))
    assert fast.decode() == slow
