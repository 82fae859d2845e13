"""The run summary folds results in as they arrive: same totals in any order, no result kept."""

from __future__ import annotations

import gc
import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyledger.models import Account, Balance, CheckResult, Key, Kind, Spend, Status
from keyledger.render.summary import Summary, summarise
from keyledger.secret import Fingerprinter, Secret

FP = Fingerprinter(b"s" * 32)
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
D = Decimal


def _key(label: str) -> Key:
    value = f"sk-admin-SUMMARY{label.encode().hex()}Zq8Wm3Xr7Tb2"
    return Key(Secret(value), FP(value), label, provider="openai", kind=Kind.ADMIN)


def _result(label: str, *, usd: str | None = None, spend: str | None = None) -> CheckResult:
    """A result of organization ``org-1`` with a USD balance and/or a USD spend."""
    balance = Balance("USD", "/b", T0, available=D(usd)) if usd is not None else None
    cost = Spend(D(spend), "USD", T0, T0, "/costs", T0) if spend is not None else None
    return CheckResult(
        _key(label),
        Status.OK,
        None,
        T0,
        balance=balance,
        balances=(balance,) if balance else (),
        spend=cost,
        account=Account(organization="org-1"),
    )


def _totals(results: list[CheckResult]) -> dict[str, object]:
    summary = summarise(results)
    return {"accounts": summary.accounts, **summary.as_dict()}


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(["spend", "balance", "both", "nothing"])),
)
def test_an_accounts_totals_do_not_depend_on_which_key_answered_first(order: tuple[str]) -> None:
    """Spend first or balance first, an account counts once per currency, first values win."""
    made = {
        "spend": _result("a", spend="4"),
        "balance": _result("b", usd="10"),
        "both": _result("c", usd="99", spend="7"),
        "nothing": _result("d"),
    }
    totals = _totals([made[name] for name in order])
    usd = totals["totals"][0]  # type: ignore[index]
    assert totals["accounts"] == 1
    assert usd["accounts"] == 1
    first_balance = next(n for n in order if n in ("balance", "both"))
    first_spend = next(n for n in order if n in ("spend", "both"))
    assert usd["available"] == {"balance": "10", "both": "99"}[first_balance]
    assert usd["spend"] == {"spend": "4", "both": "7"}[first_spend]


def test_shared_accounts_list_every_key_label() -> None:
    """Keys of one organization are named together; a key alone is not a shared account."""
    summary = summarise([_result("first", usd="1"), _result("second"), _result("third")])
    assert summary.shared_accounts == {"openai/org-1": ["first", "second", "third"]}
    alone = summarise([_result("only", usd="1")])
    assert alone.shared_accounts == {}


def test_the_summary_keeps_no_result() -> None:
    """A long run's summary does not hold its results (memory stays flat)."""
    summary = Summary()
    result = _result("kept?", usd="5", spend="1")
    summary.add(result)
    gc.collect()
    holders = [r for r in gc.get_referrers(result) if isinstance(r, (list, dict, tuple))]
    assert holders == []
    assert summary.as_dict()["totals"][0]["available"] == "5"
