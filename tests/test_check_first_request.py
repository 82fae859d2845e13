"""What `check` (ledger on) has and has not done when its first request goes out."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_check_commits_its_run_before_the_first_request_off_the_main_thread(
    tmp_path: Path,
) -> None:
    """The run's `running` row is committed before the first request (docs/ledger.md, step 1),
    by the ledger-opening thread, so its fsync is not waited for on the main thread."""
    probe = (
        "import sqlite3, threading\n"
        "from keyledger.ledger.store import Store\n"
        "begun = []\n"
        "real_begin = Store.begin_run\n"
        "def begin_run(self, *args, **kwargs):\n"
        "    begun.append(threading.current_thread() is threading.main_thread())\n"
        "    return real_begin(self, *args, **kwargs)\n"
        "Store.begin_run = begin_run\n"
        "def committed():\n"
        "    db = sqlite3.connect(HOME + '/ledger.db')\n"
        "    try:\n"
        "        return db.execute('SELECT status FROM runs').fetchall()\n"
        "    finally:\n"
        "        db.close()\n"
        f"HOME = {str(tmp_path / 'home')!r}\n"
    )
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=probe + _at_first_request("(list(begun), committed())"),
        after="print('AT FIRST REQUEST:' + repr(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "AT FIRST REQUEST:[([False], [('running',)])]"]


def test_check_sends_its_first_request_without_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With $KEYLEDGER_HOME and $XDG_CONFIG_HOME set, no platformdirs module is loaded by the
    first request (it is needed only to find a default directory)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    lines = _run_check(
        tmp_path,
        [str(_session_key_file(tmp_path)), *JSON_RUN],
        before=_at_first_request("'platformdirs' in sys.modules"),
        after="print('AT FIRST REQUEST:' + repr(seen))\n",
    )
    assert lines[-2:] == ["EXIT:4", "AT FIRST REQUEST:[False]"]
