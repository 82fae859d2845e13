"""The plugin look-up reads entry_points.txt files itself and defers to importlib.metadata."""

from __future__ import annotations

import importlib.metadata
import sys
import zipfile
from pathlib import Path

import pytest

from keyledger.providers.plugin_files import may_name_group

GROUP = "keyledger.providers"


def _dist(root: Path, name: str, entry_points: str | None) -> None:
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


def test_no_distribution_naming_the_group_answers_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distributions with other groups, none or no entry_points.txt, and a missing folder on
    sys.path: no plugin, as importlib.metadata says too."""
    _dist(tmp_path, "kl_other", "[console_scripts]\nx = y:z\n")
    _dist(tmp_path, "kl_none", None)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path / "missing"))
    assert not may_name_group(GROUP)
    assert not importlib.metadata.entry_points(group=GROUP)


def test_a_distribution_naming_the_group_answers_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .dist-info (any case) or .egg-info folder whose entry_points.txt names the group."""
    for name in ("KL_Plugin-0.1.DIST-INFO", "kl_egg.egg-info"):
        root = tmp_path / name.split("-")[0].split(".")[0]
        (root / name).mkdir(parents=True)
        (root / name / "entry_points.txt").write_text(f"[{GROUP}]\nacme = acme:Provider\n")
        with monkeypatch.context() as patched:
            patched.syspath_prepend(str(root))
            assert may_name_group(GROUP)
    assert not may_name_group(GROUP)


def test_what_it_cannot_read_itself_answers_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip archive or an .egg on sys.path, or another finder of distributions on
    sys.meta_path, is left to importlib.metadata (True)."""
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("kl-0.1.dist-info/METADATA", "Name: kl\n")
    with monkeypatch.context() as patched:
        patched.syspath_prepend(str(archive))
        assert may_name_group(GROUP)
    (tmp_path / "kl.egg").mkdir()
    with monkeypatch.context() as patched:
        patched.syspath_prepend(str(tmp_path / "kl.egg"))
        assert may_name_group(GROUP)

    class Finder:
        @staticmethod
        def find_distributions(*_: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert may_name_group(GROUP)


def test_every_installed_group_is_seen() -> None:
    """Every entry-point group importlib.metadata finds installed here is one the quick
    look says may be named (it never hides a plugin)."""
    groups = importlib.metadata.entry_points().groups
    assert groups
    assert all(may_name_group(group) for group in groups)


def test_a_path_object_on_sys_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program that put a ``Path`` on sys.path gets an answer (True: importlib.metadata
    looks), not an error, and the registry still builds."""
    from keyledger.providers.registry import build_registry

    monkeypatch.setattr(sys, "path", [*sys.path, tmp_path])
    assert may_name_group(GROUP)
    assert "openai" in build_registry().names()
