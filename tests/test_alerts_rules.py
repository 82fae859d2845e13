"""Config loading, rule validation, conditions and the once-per-crossing state machine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyledger.alerts.rules import Rule, When, load_rules
from keyledger.alerts.snapshot import BalanceFigure, Snapshot
from keyledger.alerts.state import AlertState, evaluate, event_id, step
from keyledger.config import config_path, load_config, parse_config
from keyledger.errors import ConfigError

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)

RULES = """\
# alert rules
[[rules]]
name = "dead"
when = "status_not_ok"
channels = ["ops"]

[[rules]]
name = "low"
when = "available_below"
amount = "5"
currency = "usd"
label = "prod-*"
channels = ["ops", "mail"]
"""


def snap(status: str = "ok", available: str | None = "10", **kw: object) -> Snapshot:
    balances = () if available is None else (BalanceFigure("USD", Decimal(available), None, None),)
    base = Snapshot(
        fingerprint="fp1",
        label="prod-a",
        masked="sk-…abcd",
        provider="openai",
        account="org-x",
        status=status,
        reason=None,
        checked_at=NOW,
        balances=balances,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_rules_load_with_defaults_and_normalised_currency() -> None:
    """Two valid rules load with damping defaults and an upper-cased currency."""
    rules = load_rules(parse_config(RULES, Path("c.toml")), ["ops", "mail"])
    assert [r.name for r in rules] == ["dead", "low"]
    assert rules[1].currency == "USD" and rules[1].amount == Decimal(5)
    assert (rules[0].for_runs, rules[0].clear_runs) == (1, 2)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (RULES.replace('when = "status_not_ok"', 'when = "bogus"'), "c.toml:4:"),
        (RULES.replace('amount = "5"', 'amount = "five"'), "c.toml:10:"),
        (RULES.replace('currency = "usd"\n', ""), "c.toml:7:"),
        (RULES.replace('channels = ["ops"]', 'channels = ["nope"]'), "c.toml:5:"),
        (RULES.replace('label = "prod-*"', "colour = 1"), "c.toml:12:"),
        (RULES.replace('name = "low"', 'name = "dead"'), "c.toml:8:"),
        (
            RULES + '[[rules]]\nname = "x"\nwhen = "unreachable"\nruns = 0\nchannels = ["ops"]\n',
            "c.toml:17:",
        ),
        ("rules = [\n1,\n", "c.toml:2:"),
    ],
)
def test_invalid_rules_name_the_file_and_line(text: str, where: str) -> None:
    """Each mistake is reported as file:line: message at the offending key or table."""
    with pytest.raises(ConfigError) as caught:
        load_rules(parse_config(text, Path("c.toml")), ["ops", "mail"])
    assert str(caught.value).startswith(where)


def test_errors_never_echo_values() -> None:
    """A bad value (maybe a secret) is not repeated in the error."""
    text = RULES.replace('amount = "5"', 'amount = "sk-proj-SECRETVALUE123456789"')
    with pytest.raises(ConfigError) as caught:
        load_rules(parse_config(text, Path("c.toml")))
    assert "SECRETVALUE" not in str(caught.value)


def test_where_finds_tables_keys_and_quoted_names() -> None:
    """where() finds array tables by index, quoted table names, and falls back to the table."""
    cfg = parse_config('[channels."ops.slack"]\nurl = "x"\n[[rules]]\n[[rules]]\nname="b"\n')
    assert cfg.where(("channels", "ops.slack", "url")) == "<config>:2"
    assert cfg.where("rules.1.name") == "<config>:5"
    assert cfg.where("rules.1.missing") == "<config>:4"
    assert cfg.where("nothing") == "<config>"


def test_config_location_and_missing_files(tmp_path: Path) -> None:
    """--config wins over $KEYLEDGER_CONFIG; a missing default is empty, a named one an error."""
    env = {"KEYLEDGER_CONFIG": str(tmp_path / "env.toml"), "XDG_CONFIG_HOME": str(tmp_path)}
    assert config_path(env) == tmp_path / "env.toml"
    assert config_path(env, tmp_path / "x.toml") == tmp_path / "x.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "keyledger/config.toml"
    assert load_config(tmp_path / "none.toml", required=False).data == {}
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "none.toml", required=True)


def rule(when: When, **kw: object) -> Rule:
    return Rule(name="r", when=when, channels=("ops",), **kw)  # type: ignore[arg-type]


def test_conditions_of_each_rule_kind() -> None:
    """Every rule kind answers True, False or None (cannot tell) as documented."""
    low = rule(When.AVAILABLE_BELOW, amount=Decimal(5), currency="USD")
    assert low.condition(snap(available="4.99")) is True
    assert low.condition(snap(available="5")) is False
    assert low.condition(snap(available=None)) is None
    assert rule(When.AVAILABLE_BELOW, amount=Decimal(5), currency="EUR").condition(snap()) is None
    runway = rule(When.RUNWAY_BELOW, days=7)
    assert runway.condition(snap(runway_days={"USD": Decimal("6.9")})) is True
    assert runway.condition(snap(runway_days={"USD": Decimal(7)})) is False
    assert runway.condition(snap()) is False  # a balance that is not being spent
    assert runway.condition(snap(available=None)) is None
    dead = rule(When.STATUS_NOT_OK)
    assert dead.condition(snap("invalid")) is True and dead.condition(snap()) is False
    gone = rule(When.UNREACHABLE, runs=3)
    assert gone.condition(snap("unreachable")) is True and gone.condition(snap("invalid")) is False
    assert gone.fire_after == 3
    grant = rule(When.GRANT_EXPIRING, days=3)
    assert grant.condition(snap(next_expiry=NOW + timedelta(days=2))) is True
    assert grant.condition(snap(next_expiry=NOW + timedelta(days=4))) is False
    spend = rule(When.SPEND_ABOVE, amount=Decimal(2))
    assert spend.condition(snap(spend_per_day={"USD": Decimal(3)})) is True
    assert spend.condition(snap()) is None


def test_scope_by_provider_label_glob_and_account() -> None:
    """A rule applies only to keys matching its provider, label glob and account."""
    assert rule(When.STATUS_NOT_OK, label="prod-*").applies_to(snap())
    assert not rule(When.STATUS_NOT_OK, label="dev-*").applies_to(snap())
    assert not rule(When.STATUS_NOT_OK, provider="anthropic").applies_to(snap())
    assert not rule(When.STATUS_NOT_OK, account="org-y").applies_to(snap())


def run(sequence: list[bool | None], fire: int = 1, clear: int = 2) -> list[str | None]:
    state = AlertState("r", "fp")
    kinds: list[str | None] = []
    for holds in sequence:
        state, kind = step(state, holds, fire_after=fire, clear_after=clear)
        kinds.append(kind)
    return kinds


def test_fires_once_per_crossing_and_recovers_after_clear_runs() -> None:
    """A condition that stays true fires once; recovery needs two clear runs by default."""
    assert run([False, True, True, True, False, False, False]) == [
        None,
        "fired",
        None,
        None,
        None,
        "recovered",
        None,
    ]


def test_a_flapping_key_fires_once_and_is_damped() -> None:
    """ok, bad, ok, bad… fires once and does not recover until ok twice in a row."""
    assert run([True, False, True, False, True, False, False]) == [
        "fired",
        None,
        None,
        None,
        None,
        None,
        "recovered",
    ]


def test_for_runs_delays_firing_and_unknown_changes_nothing() -> None:
    """for_runs=2 fires on the second holding run; an unknown run neither counts nor resets."""
    assert run([True, None, True], fire=2) == [None, None, "fired"]
    assert run([True, False, True], fire=2) == [None, None, None]


@given(
    st.lists(st.one_of(st.booleans(), st.none()), max_size=60),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_fired_and_recovered_always_alternate(
    sequence: list[bool | None], fire: int, clear: int
) -> None:
    """For any condition sequence: events alternate, starting with fired, never two alike."""
    events = [k for k in run(sequence, fire, clear) if k is not None]
    assert all(k == ("fired" if i % 2 == 0 else "recovered") for i, k in enumerate(events))
    # and each event needs a run where the condition pointed its way
    for kind, holds in zip(run(sequence, fire, clear), sequence, strict=True):
        if kind is not None:
            assert holds is (kind == "fired")


def test_evaluate_is_pure_and_ids_are_stable() -> None:
    """The same inputs give the same events; ids differ per crossing and per kind."""
    rules = [rule(When.STATUS_NOT_OK)]
    first = evaluate(rules, [snap("invalid")], {})
    assert first == evaluate(rules, [snap("invalid")], {})
    states, events = first
    ((event, fingerprint),) = events
    assert fingerprint == "fp1" and event.kind == "fired" and event.subject == "prod-a"
    assert event.event_id == event_id("r", "fp1", 1, "fired")
    assert event.figures["available USD"] == "10.00 USD" or "10" in event.figures["available USD"]
    assert "sk-…abcd" in event.summary
    assert len({event_id("r", "fp1", n, k) for n in (1, 2) for k in ("fired", "recovered")}) == 4
    again, none = evaluate(rules, [snap("invalid")], states)
    assert none == [] and again == {}


def test_labels_are_sanitised_in_events() -> None:
    """Terminal escapes in a label never reach an alert."""
    _, events = evaluate([rule(When.STATUS_NOT_OK)], [snap("invalid", label="a\x1b[31mb")], {})
    assert "\x1b" not in events[0][0].subject and "\x1b" not in events[0][0].summary


@pytest.mark.parametrize("currency", ["points", "unstated"])
def test_lower_case_currency_rules_fire(currency: str) -> None:
    """A rule on a lower-case currency (points, unstated) matches balances, runway and spend."""
    config = f"""\
[[rules]]
name = "low"
when = "available_below"
amount = "5"
currency = "{currency}"
channels = ["ops"]

[[rules]]
name = "short"
when = "runway_below"
days = 7
currency = "{currency}"
channels = ["ops"]

[[rules]]
name = "fast"
when = "spend_above"
amount = "2"
currency = "{currency}"
channels = ["ops"]
"""
    low, short, fast = load_rules(parse_config(config, Path("c.toml")), ["ops"])
    figure = BalanceFigure(currency, Decimal(4), None, None)
    assert low.condition(snap(balances=(figure,))) is True
    assert short.condition(snap(balances=(figure,), runway_days={currency: Decimal(3)})) is True
    assert fast.condition(snap(spend_per_day={currency: Decimal(3)})) is True
