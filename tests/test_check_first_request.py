"""What `check` (ledger on) has and has not done when its first request goes out."""

from __future__ import annotations

from pathlib import Path

from keyledger.ledger.store import Store

from .test_cli_startup import JSON_RUN, _at_first_request, _run_check, _session_key_file

COUNT_STARTS = (
    "from keyledger.ledger.child import WriterProcess\n"
    "starts = []\n"
    "real_start = WriterProcess.start.__func__\n"
    "def start(cls, path):\n"
    "    starts.append(path)\n"
    "    return real_start(cls, path)\n"
    "WriterProcess.start = classmethod(start)\n"
)


def test_check_sends_its_first_request_before_starting_the_writer_process(
    tmp_path: Path,
) -> None:
    """No ledger writer process is started before the first request; a one-key run, whose
    only result comes at its end, starts none at all and is recorded in-process."""
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=COUNT_STARTS + _at_first_request("len(starts)"),
        after="print('STARTS:' + repr((seen, len(starts))))\n",
    )
    assert lines[-2:] == ["EXIT:4", "STARTS:([0], 0)"]
    with Store.open(tmp_path / "home" / "ledger.db", create=False) as store:
        assert store.count_results() == 1 and store.runs()[0].status == "complete"
