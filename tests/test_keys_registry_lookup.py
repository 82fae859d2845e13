"""Routing a key imports nothing per call: the registry's module is looked up once."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from keyledger.keys import claimed_elsewhere, is_provider_name, route


def test_routing_keys_runs_no_import_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first key, route/claimed_elsewhere/is_provider_name call no __import__."""
    value = "sk-proj-ROUTEONCE0123456789abcdefghij"
    first = route(value, None, None)
    claimed_elsewhere(value, None)
    is_provider_name("openai")
    imports: list[str] = []
    real = builtins.__import__

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        imports.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", counting)
    for _ in range(3):
        assert route(value, None, None) == first
        assert claimed_elsewhere(value, None) is False
        assert is_provider_name("openai") is True
    monkeypatch.undo()
    assert imports == []
