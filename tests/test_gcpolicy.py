"""A check run collects garbage less often, and the process's own setting comes back after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyledger.cli.execute import CheckJob, execute
from keyledger.cli.gcpolicy import RUN_THRESHOLD, fewer_collections, no_collections
from keyledger.engine import RunOptions
from keyledger.models import CheckResult, Key
from keyledger.providers import CheckOptions
from keyledger.render.writers import Format
from keyledger.runner import RunReport
from keyledger.secret import Secret
from keyledger.transport import HttpOptions


@pytest.fixture(autouse=True)
def _default_threshold() -> Iterator[None]:
    """Each test starts from CPython's default thresholds and leaves them as they were."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_threshold_is_raised_inside_and_restored_after() -> None:
    """Inside, the youngest generation waits for RUN_THRESHOLD; after, the old values return."""
    with fewer_collections():
        assert gc.get_threshold() == (RUN_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_threshold_is_restored_after_an_error() -> None:
    """An exception leaving the block still puts the old thresholds back."""
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("first", [0, RUN_THRESHOLD * 2])
def test_collection_off_or_already_rarer_is_kept(first: int) -> None:
    """Threshold 0 (automatic collection off) or a higher one set by the caller is left alone."""
    gc.set_threshold(first, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (first, 10, 10)
    assert gc.get_threshold() == (first, 10, 10)


class _Seen:
    """A sink noting the collection threshold while results arrive."""

    def __init__(self) -> None:
        self.thresholds: list[int] = []

    def add(self, result: CheckResult) -> None:
        self.thresholds.append(gc.get_threshold()[0])

    def finish(self, report: RunReport) -> None:
        self.thresholds.append(-gc.get_threshold()[0])


def test_cli_run_checks_with_fewer_collections(tmp_path: Path) -> None:
    """The CLI's run takes its results under the raised threshold and ends with the old one."""
    seen = _Seen()
    key = Key(Secret("sk-proj-EXAMPLEKEY0000000000000000"), "f" * 16, "a", problem="placeholder")
    job = CheckJob(
        keys=[key],
        http=HttpOptions(),
        check=CheckOptions(),
        run=RunOptions(),
        fmt=Format.JSONL,
        output=tmp_path / "out.jsonl",
        progress=False,
        quiet=True,
        sinks=[seen],
    )
    execute(job)
    assert seen.thresholds == [RUN_THRESHOLD, -700]


@pytest.mark.parametrize("enabled", [True, False])
def test_no_collections_turns_collection_off_and_puts_it_back(enabled: bool) -> None:
    """Inside no_collections automatic collection is off; after, it is as it was before."""
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with no_collections():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_what_no_collections_made_leaves_the_young_generation_untraversed() -> None:
    """Containers made inside no_collections are not counted towards the next young
    collection afterwards: moved to the oldest generation (nothing frozen before), or kept
    frozen with the caller's frozen objects (then handed back by its unfreeze)."""
    assert gc.get_freeze_count() == 0
    with no_collections():
        made = [[i] for i in range(5000)]
    assert gc.get_count()[0] < 1000
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with no_collections():
            more = [[i] for i in range(5000)]
        assert gc.get_freeze_count() >= frozen + 5000
        assert gc.get_count()[0] < 1000
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert len(made) == len(more) == 5000
