"""Simulator and demo keys: each one masks to its own tail."""

from __future__ import annotations

import shlex

from keyledger.simulator.demo import demo_lines
from keyledger.simulator.scenarios import make_key


def test_make_key_tail_is_deterministic_and_differs_by_scenario_and_n() -> None:
    """The same scenario and n give the same key; another scenario or n another tail."""
    assert make_key("ok", 3) == make_key("ok", 3)
    tails = {make_key(s, n)[-4:] for s in ("ok", "invalid", "no_quota") for n in range(20)}
    assert len(tails) == 60


def test_demo_keys_mask_to_distinct_tails() -> None:
    """Every demo key reads differently once masked (no two end in the same four)."""
    lines = demo_lines("http://127.0.0.1:1", "http://127.0.0.1:2")[1:]
    keys = [shlex.split(line)[1] for line in lines]  # "label" KEY [pins…]
    tails = [key[-4:] for key in keys]
    assert len(set(tails)) == len(tails)
