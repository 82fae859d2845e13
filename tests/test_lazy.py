"""Lazy package exports: imported on first use, kept, unknown names refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keyledger.lazy import lazy_exports


def test_a_name_is_imported_on_first_use_and_kept() -> None:
    """A listed name comes from its module and is stored in the namespace for next time."""
    namespace: dict[str, object] = {}
    get = lazy_exports("pkg", {"dumps": "json"}, namespace)
    import json

    assert get("dumps") is json.dumps
    assert namespace == {"dumps": json.dumps}


def test_an_unlisted_name_raises_attribute_error() -> None:
    """A name not listed is an AttributeError naming the package, as for any module."""
    get = lazy_exports("pkg", {}, {})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        get("nope")


def test_the_packages_load_their_exports_lazily() -> None:
    """`import keyledger.ledger` loads no store module until `Store` is asked for, and
    `keyledger.Status` still resolves."""
    probe = (
        "import sys, keyledger, keyledger.ledger as l\n"
        "before = 'keyledger.ledger.store' in sys.modules\n"
        "l.Store; keyledger.Status\n"
        "print(before, 'keyledger.ledger.store' in sys.modules, 'Store' in vars(l))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True", "True"]
