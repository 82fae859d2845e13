"""Imports on a fresh thread stack: the modules are loaded, a failure reaches the caller."""

from __future__ import annotations

import sys

import pytest

from keyledger.cli.freshstack import import_on_fresh_stack


def test_imports_the_named_modules() -> None:
    """Each named module is in sys.modules afterwards (imported on the worker thread)."""
    import_on_fresh_stack("colorsys", "keyledger.cli.gcpolicy")
    assert "colorsys" in sys.modules
    assert "keyledger.cli.gcpolicy" in sys.modules


def test_an_import_error_is_raised_in_the_caller() -> None:
    """A module that cannot be imported raises its ModuleNotFoundError in the calling thread."""
    with pytest.raises(ModuleNotFoundError, match="keyledger_no_such_module"):
        import_on_fresh_stack("keyledger_no_such_module")
