"""The JSON writers' encoder (orjson, with the standard library as fallback)."""

from __future__ import annotations

import json

from keyledger.render.writers import _dumps


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
