"""A machine-format run streams: no results kept, no read-back of the run for the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keyledger.ledger.session import RunLedger
from keyledger.ledger.store import Store
from keyledger.models import CheckResult, Key, Status
from keyledger.runner import RunReport
from keyledger.secret import Secret
from keyledger.simulator.server import Simulator

KEY = Key(Secret("sess-" + "Qw7" * 12), "fp-stream", "s1")
AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("insights", [True, False])
def test_insights_are_read_back_only_when_asked(tmp_path: Path, insights: bool) -> None:
    """Without insights the run is still recorded and closed; with them it is read back."""
    with Store.open(tmp_path / "ledger.db") as store:
        ledger = RunLedger.begin(store, 1, now=lambda: AT, insights=insights)
        ledger.add(CheckResult(KEY, Status.OK, None, AT))
        ledger.finish(RunReport())
        assert (ledger.insights is not None) is insights
        assert ledger.recorded_ok
        assert store.count_results() == 1


def test_json_run_keeps_no_results_and_exits_by_status(
    monkeypatch: pytest.MonkeyPatch, live_sim: Simulator, tmp_path: Path
) -> None:
    """`check --format json` asks the runner not to keep results, and still exits 3 for a
    key that is not ok, and writes every result."""
    from click.testing import CliRunner

    import keyledger.cli.execute as execute
    from keyledger.cli import cli
    from keyledger.simulator.scenarios import make_key

    seen: list[bool] = []
    real = execute.run_checks

    async def spy(*args: Any, **kwargs: Any) -> RunReport:
        seen.append(kwargs["keep_results"])
        return await real(*args, **kwargs)

    monkeypatch.setattr(execute, "run_checks", spy)
    keys = tmp_path / "keys.txt"
    keys.write_text(make_key("grants", 1) + "\n" + make_key("session_deactivated", 2) + "\n")
    keys.chmod(0o600)
    done = CliRunner().invoke(
        cli,
        ["check", str(keys), "--base-url", live_sim.url + "/v1", "-f", "json", "--no-progress"],
        catch_exceptions=False,
    )
    assert seen == [False]
    assert done.exit_code == 3
    document = json.loads(done.stdout)
    assert sorted(r["status"] for r in document["results"]) == ["deactivated", "ok"]
