"""A session key's fast paths (grants read without per-field wrappers, frozen values stored
through their slots, times and builder defaults shared) give exactly the general paths' values."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyledger import models, money
from keyledger.classify import DecodeError, looks_like_html, parse_json
from keyledger.models import Balance, CheckResult, Grant, Key, Kind, quick_init
from keyledger.money import MoneyError
from keyledger.providers import openai_session
from keyledger.providers.base import ResultBuilder, plain_success
from keyledger.providers.openai_session import parse_grants, parse_grants_named
from keyledger.providers.spec import CheckOptions
from keyledger.secret import Secret

NOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
_MONEY = st.one_of(
    st.none(),
    st.sampled_from(["18.00", "6.25", "0", "0.00", "-1.5", "1E+2", "1e-20", "abc", "", " 5 "]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-100, max_value=100),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.integers(-(10**16), 10**16),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.from_regex(r"-?[0-9]{1,17}(\.[0-9]{1,14})?", fullmatch=True),
)
_TIME = st.one_of(
    st.none(),
    st.integers(-5, 2 * 10**9),
    st.just(1798694281),
    st.sampled_from(["1798694281", "x", 1.5e9, True]),
)
_GRANT = st.one_of(
    st.fixed_dictionaries(
        {"grant_amount": _MONEY},
        optional={
            "used_amount": _MONEY,
            "effective_at": _TIME,
            "expires_at": _TIME,
            "id": st.one_of(
                st.text(max_size=80), st.integers(), st.just("sess-Fast0000AbCdEfGhIj")
            ),
        },
    ),
    st.integers(),
    st.none(),
)
_BODY = st.fixed_dictionaries(
    {},
    optional={
        "total_granted": _MONEY,
        "total_used": _MONEY,
        "total_available": _MONEY,
        "grants": st.one_of(
            st.fixed_dictionaries({"data": st.lists(_GRANT, max_size=5)}),
            st.lists(_GRANT, max_size=2),
            st.none(),
        ),
    },
)
KEY = Key(Secret("sess-Fast0000AbCdEfGhIjKlMnOp"), "f" * 16, "s0", kind=Kind.SESSION)


def _reading(data: dict[str, Any], parse: Any) -> str:
    """The balance as exact text (a Decimal's repr keeps its exponent), or the error."""
    clean = ResultBuilder(KEY, CheckOptions()).clean
    try:
        return "ok " + repr(parse(data, NOW, clean))
    except MoneyError as exc:
        return "error " + str(exc)


@settings(max_examples=400, deadline=None)
@given(_BODY)
@example(
    {
        "total_granted": "73.00",
        "total_used": "19.75",
        "total_available": "53.25",
        "grants": {
            "data": [
                {"grant_amount": "18.00", "used_amount": "6.25", "expires_at": 1798694281},
                {"grant_amount": "5.00", "used_amount": "5.00", "expires_at": 1798694281},
                {"grant_amount": "1E+2", "used_amount": "1E+1", "expires_at": 1798694281},
                {"grant_amount": "5.00", "used_amount": "1.00", "expires_at": 1794374281},
            ]
        },
    }
)
@example({"total_granted": "1", "grants": {"data": [{"grant_amount": "0.00"}]}})
@example({"total_granted": "1", "grants": {"data": [{"grant_amount": "1", "used_amount": "x"}]}})
def test_grants_fast_path_matches_the_named_path(data: dict[str, Any]) -> None:
    """Any body reads to the same balance (same digits, exponents, times) or the same error."""
    assert _reading(data, parse_grants) == _reading(data, parse_grants_named)


def test_a_money_error_still_names_its_field() -> None:
    """An amount that is not money is reported by name, as the general path words it."""
    data = {"total_granted": "1", "grants": {"data": [{"grant_amount": "1", "used_amount": []}]}}
    with pytest.raises(MoneyError, match=r"^used_amount: not a number"):
        parse_grants(data, NOW)


def test_whole_unix_seconds_are_read_once_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same whole second gives the same datetime object; the cache never passes its size."""
    monkeypatch.setattr(money, "_TIMES", {})
    monkeypatch.setattr(money, "TIMES_CACHE_SIZE", 4)
    first = money.from_unix(1798694281)
    assert first is money.from_unix(1798694281)
    assert first == datetime.fromtimestamp(1798694281, UTC)
    for second in range(1, 20):
        assert money.from_unix(second) == money._from_unix(second)
        assert len(money._TIMES) <= 4
    assert money.from_unix(0) is None and money.from_unix(10**15) is None


_QUICK = [models.Key, Grant, models.BalancePart, Balance, models.Account, models.Evidence]


@pytest.mark.parametrize("cls", [*_QUICK, CheckResult])
def test_quick_init_keeps_the_dataclass_signature(cls: type) -> None:
    """The slot-storing ``__init__`` takes the parameters and defaults the generated one did."""
    twin = dataclasses.make_dataclass(
        cls.__name__,
        [
            (f.name, Any, dataclasses.field(default=f.default))
            if f.default is not dataclasses.MISSING
            else (f.name, Any)
            for f in dataclasses.fields(cls)
        ],
        frozen=True,
        slots=True,
    )

    def shape(init: Any) -> list[tuple[str, object, object]]:
        return [(p.name, p.default, p.kind) for p in inspect.signature(init).parameters.values()]

    assert shape(cls.__init__) == shape(twin.__init__)
    assert (
        cls.__init__.__annotations__
        == dataclasses.dataclass(frozen=True)(
            type(cls.__name__, (), {"__annotations__": cls.__annotations__})
        ).__init__.__annotations__
    )
    cls(*[None] * len([f for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]))
    assert "__setattr__" not in cls.__init__.__code__.co_names  # the quick one is in place
    assert shape(cls.__init__) == shape(twin.__init__)


def _values(cls: type, draw_seed: int) -> list[object]:
    return [f"{f.name}-{draw_seed}" for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls", [*_QUICK, CheckResult])
@given(st.integers(0, 1000), st.integers(0, 20))
def test_quick_init_stores_every_field(cls: type, seed: int, given_count: int) -> None:
    """Positional, keyword and defaulted fields all hold what was given (or the default)."""
    names = [f.name for f in dataclasses.fields(cls)]
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    count = max(len(required), min(given_count, len(names)))
    values = _values(cls, seed)[:count]
    by_position = cls(*values)
    by_name = cls(**dict(zip(names, values, strict=False)))
    for field in dataclasses.fields(cls):
        index = names.index(field.name)
        expected = values[index] if index < count else field.default
        assert getattr(by_position, field.name) == expected
        assert getattr(by_name, field.name) == expected
    assert by_position == by_name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(by_position, names[0], None)


def test_quick_init_leaves_classes_it_cannot_serve() -> None:
    """A class with a default factory or a ``__post_init__`` keeps its generated ``__init__``."""

    @quick_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    assert Listed().items == [] and Listed().items is not Listed().items
    assert "__setattr__" in Listed.__init__.__code__.co_names


def test_a_builder_sets_only_what_each_check_needs() -> None:
    """What a check has not learned is read from the class, never stored per key; the lists
    a check appends to are its own."""
    first = ResultBuilder(KEY, CheckOptions())
    second = ResultBuilder(KEY, CheckOptions())
    assert set(vars(first)) == {
        "key",
        "options",
        "rules",
        "redactor",
        "started",
        "evidence",
        "signals",
    }
    assert first.evidence is not second.evidence and first.signals is not second.signals
    result = first.finish(models.Status.OK, None)
    assert (result.balance, result.balances, result.attempts, result.models) == (None, (), 0, None)


def _plain_success_before(body: bytes) -> bool:
    """:func:`plain_success` as it was: the HTML test asked of every body."""
    stripped = body.strip()
    if not stripped:
        return True
    if looks_like_html(stripped):
        return False
    try:
        data = parse_json(stripped)
    except DecodeError:
        return False
    return not (isinstance(data, dict) and "error" in data)


@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda pad, head, tail: pad + head + tail,
            st.sampled_from([b"", b" ", b"\n\t ", b"\x0b"]),
            st.sampled_from([b"<", b"<html", b"<!DOCTYPE", b"{", b"[", b'{"error": 1}', b"x<"]),
            st.binary(max_size=20),
        ),
    )
)
@example(b" <html>")
@example(b"<x>html</x>")
@example(b"{}")
def test_plain_success_asks_the_html_test_only_of_bodies_starting_with_a_bracket(
    body: bytes,
) -> None:
    """Any body gets the answer it got when every body was asked whether it is HTML."""
    assert plain_success(body) == _plain_success_before(body)


def test_parse_grants_builds_what_the_documented_fields_say() -> None:
    """A two-grant body: unexpired remainders summed exactly, the expired one marked."""
    data = {
        "total_granted": "23.00",
        "total_available": "99",
        "grants": {
            "data": [
                {"grant_amount": "18.00", "used_amount": "6.25", "expires_at": 1798694281},
                {"grant_amount": "5.00", "used_amount": "1.00", "expires_at": 1764000000},
            ]
        },
    }
    balance = parse_grants(data, NOW)
    assert balance is not None
    assert repr(balance.available) == repr(Decimal("11.75"))
    assert [g.expired for g in balance.grants] == [False, True]
    assert balance.reported_available == Decimal(99)


_WIDE_MONEY = st.one_of(
    st.decimals(min_value=-(10**30), max_value=10**30, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("1e-40"), Decimal("-0"), Decimal("0.00"), Decimal(10**29)]),
)


@given(_WIDE_MONEY, _WIDE_MONEY)
@example(Decimal(10**29), money.WIDE.subtract(Decimal(10**29), Decimal("1e-40")))
def test_money_left_on_a_grant_is_an_amount_above_its_use(amount: Decimal, used: Decimal) -> None:
    """``amount > used`` (what the next expiry asks) holds exactly when ``remaining`` is not
    zero, however many digits the amounts have."""
    grant = Grant(amount, used, None, NOW, False)
    assert (amount > used) == bool(grant.remaining)
    balance = Balance("USD", "/grants", NOW, grants=(grant,))
    assert balance.next_expiry == (NOW if grant.remaining else None)


def _body_with(grant_id: str) -> dict[str, Any]:
    grant = {"grant_amount": "18.00", "used_amount": "6.25", "effective_at": 1790918281}
    grant["expires_at"] = 1798694281
    return {"total_granted": "18.00", "grants": {"data": [grant | {"id": grant_id}]}}


def test_a_grant_read_again_is_shared_and_equal_to_a_new_reading() -> None:
    """The same grant in another key's answer is the same frozen value, equal to one read
    field by field; a key echoed in the id is still cut for the key it belongs to."""
    other = Key(Secret("sess-Other000ZyXwVuTsRqPoNmLk"), "e" * 16, "s1", kind=Kind.SESSION)
    first = ResultBuilder(KEY, CheckOptions()).clean
    second = ResultBuilder(other, CheckOptions()).clean
    plain = _body_with("d8e2c0a2-0000-4c3f-9d10-5c6b0f0e0000")
    one, two = parse_grants(plain, NOW, first), parse_grants(plain, NOW, second)
    assert one is not None and two is not None
    assert one.grants[0] is two.grants[0]
    assert repr(one) == repr(parse_grants_named(plain, NOW, second))
    echoed = _body_with("id " + KEY.secret.reveal().removeprefix("sess-"))
    mine, theirs = parse_grants(echoed, NOW, first), parse_grants(echoed, NOW, second)
    assert mine is not None and theirs is not None
    assert "Fast0000" not in repr(mine) and "[REDACTED]" in repr(mine)
    assert mine.grants[0] != theirs.grants[0]
    assert repr(theirs) == repr(parse_grants_named(echoed, NOW, second))


def test_shared_grants_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared grants never exceed their bound, and an expired reading is its own value."""
    monkeypatch.setattr(openai_session, "_GRANTS", {})
    monkeypatch.setattr(openai_session, "GRANTS_SIZE", 3)
    for i in range(10):
        parse_grants(_body_with(f"grant-{i}"), NOW)
        assert len(openai_session._GRANTS) <= 3
    live = parse_grants(_body_with("g"), NOW)
    later = parse_grants(_body_with("g"), datetime(2030, 1, 1, tzinfo=UTC))
    assert live is not None and later is not None
    assert (live.grants[0].expired, later.grants[0].expired) == (False, True)


def test_importing_the_models_builds_no_init() -> None:
    """The slot-storing ``__init__``s are built at a class's first construction, not at import
    (start-up pays nothing for them)."""
    code = (
        "from keyledger import models as m;"
        "print(all(c.__init__.__name__ == 'first_init' for c in (m.Key, m.Grant, m.CheckResult)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
