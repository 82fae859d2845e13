"""A server that echoes the key into every field it answers never gets it into our output (S1)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from keyledger.cli.demo import simulator_thread
from keyledger.ledger import Store
from keyledger.models import Kind, Status
from keyledger.simulator import Scenario, SimState, make_key
from keyledger.simulator.responses import Ctx, Responder, dynamic, json_reply


def _echo(build: Any) -> Responder:
    """A responder whose body and headers are built from the key the request carried."""

    def choose(request: web.Request, ctx: Ctx) -> Responder:
        body, status, headers = build(ctx.key)
        return json_reply(body, status, headers)

    return dynamic(choose)


def _headers(key: str) -> dict[str, str]:
    return {
        "openai-organization": f"org-{key}",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-reset-requests": key[-20:],
        "x-ratelimit-reset-tokens": key,
    }


def _error(key: str) -> dict[str, Any]:
    return {
        "error": {"message": f"bad {key}", "type": key, "code": key[8:30], "param": "max_tokens"}
    }


SECRET = Scenario(
    "echo_secret",
    Kind.SECRET,
    "echoes the key everywhere",
    Status.OK,
    None,
    {
        "models": _echo(
            lambda k: ({"data": [{"id": k}, {"id": f"gpt-{k[10:40]}"}]}, 200, _headers(k))
        ),
        "chat": _echo(lambda k: (_error(k), 400, _headers(k))),
        "subscription": _echo(
            lambda k: (
                {"hard_limit_usd": 10, "plan": {"title": k}, "access_until": 0},
                200,
                _headers(k),
            )
        ),
        "usage": _echo(lambda k: ({"total_usage": 100}, 200, _headers(k))),
        "me": _echo(
            lambda k: (
                {"name": k, "orgs": {"data": [{"id": f"org-{k}", "is_default": True}]}},
                200,
                {},
            )
        ),
    },
)
SESSION = Scenario(
    "echo_session",
    Kind.SESSION,
    "echoes the key into grant ids",
    Status.OK,
    None,
    {
        "credit_grants": _echo(
            lambda k: (
                {
                    "total_granted": 5,
                    "total_used": 1,
                    "total_available": 4,
                    "grants": {
                        "data": [
                            {"id": k, "grant_amount": 5, "used_amount": 1, "expires_at": 4102444800}
                        ]
                    },
                },
                200,
                _headers(k),
            )
        )
    },
)
ADMIN = Scenario(
    "echo_admin",
    Kind.ADMIN,
    "echoes the key into project ids",
    Status.OK,
    None,
    {
        "costs": _echo(
            lambda k: (
                {
                    "data": [
                        {"results": [{"amount": {"value": 1, "currency": "usd"}, "project_id": k}]}
                    ],
                    "has_more": False,
                },
                200,
                _headers(k),
            )
        )
    },
)


INVISIBLE_CHARS = re.compile("[\u00ad\u034f\u180e\u200b-\u200d\u2060\ufe0f\ufeff\U000e0041]")
INVISIBLES = "\u200b\u00ad\u200c\u200d\u2060\ufeff\u180e\u034f\ufe0f\U000e0041"


def _hidden(key: str) -> str:
    """``key`` with an invisible character after every 3 of its characters."""
    return "".join(
        key[i : i + 3] + INVISIBLES[(i // 3) % len(INVISIBLES)] for i in range(0, len(key), 3)
    )


INVISIBLE = Scenario(
    "echo_invisible",
    Kind.SECRET,
    "echoes the key with invisible characters between its characters",
    Status.INVALID,
    None,
    {
        "models": _echo(
            lambda k: ({"error": {"message": f"Incorrect API key provided: {_hidden(k)}"}}, 401, {})
        ),
        "chat": _echo(lambda k: ({"error": {"message": f"bad {_hidden(k)}"}}, 401, {})),
    },
)


@pytest.fixture
def echo_sim() -> Iterator[str]:
    """A simulator whose scenarios echo the key back."""
    state = SimState(extra_scenarios={s.name: s for s in (SECRET, SESSION, ADMIN, INVISIBLE)})
    with simulator_thread(state) as sim:
        yield sim.url


def test_echoed_key_reaches_no_output_file_or_ledger(
    run_cli: Any, echo_sim: str, tmp_path: Path, isolated_env: Path
) -> None:
    """Org, models, plan, grant and project ids, reset headers and errors are all redacted."""
    keys = {
        "relay": make_key("echo_secret", 1, kind=Kind.SECRET),
        "sess": make_key("echo_session", 2, kind=Kind.SESSION),
        "admin": make_key("echo_admin", 3, kind=Kind.ADMIN),
    }
    key_file = tmp_path / "keys.txt"
    key_file.write_text("".join(f"{n} {k} base_url={echo_sim}/v1\n" for n, k in keys.items()))
    key_file.chmod(0o600)
    report = tmp_path / "report.json"

    runs = [
        run_cli("check", str(key_file), "-f", "json", "-o", str(report), "--whoami"),
        run_cli("check", str(key_file), "-f", "csv", "--whoami"),
        run_cli("check", str(key_file), "--whoami"),
        run_cli("history", "-f", "json"),
        run_cli("export", "-f", "json"),
    ]

    texts = [p.stdout + p.stderr for p in runs] + [report.read_text()]
    blobs = [p.read_bytes() for p in isolated_env.rglob("*") if p.is_file()]
    assert "org-[REDACTED]" in report.read_text()  # the field is kept, the key cut out
    # The ledger keeps each check's evidence, so the scan below covers echoed messages too.
    with Store.open(isolated_env / "ledger.db") as store:
        stored = [r[0] for r in store.conn.execute("SELECT message FROM evidence")]
    assert any("bad [REDACTED]" in (m or "") for m in stored)
    latest = [r for r in json.loads(runs[3].stdout)["rows"] if r["evidence"] is not None]
    assert len(latest) == len(keys) and all(r["evidence"] for r in latest)
    for key in keys.values():
        body = key.rsplit("__", 1)[-1]
        windows = {body[i : i + 8] for i in range(len(body) - 7)}
        for text in texts:
            assert key not in text
            assert not [w for w in windows if w in text]
        for blob in blobs:
            assert key.encode() not in blob
            assert not [w for w in windows if w.encode() in blob]


def test_key_echoed_with_invisible_characters_is_still_redacted(
    run_cli: Any, echo_sim: str, tmp_path: Path, isolated_env: Path
) -> None:
    """A key echoed with zero-width, soft-hyphen or other invisible characters between its
    characters is cut out of evidence messages in every output and the ledger (F10)."""
    key = make_key("echo_invisible", 1, kind=Kind.SECRET)
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"hidden {key} base_url={echo_sim}/v1\n")
    key_file.chmod(0o600)
    runs = [
        run_cli("check", str(key_file), "-f", "json"),
        run_cli("check", str(key_file), "-f", "csv"),
        run_cli("history", "-f", "json"),
    ]
    (result,) = json.loads(runs[0].stdout)["results"]
    messages = " ".join(e["message"] or "" for e in result["evidence"])
    assert "Incorrect API key provided: [REDACTED]" in messages
    *_, latest = json.loads(runs[2].stdout)["rows"]  # as the ledger recorded it
    assert "Incorrect API key provided: [REDACTED]" in latest["evidence"][0]["message"]
    body = key.rsplit("__", 1)[-1]
    windows = {body[i : i + 8] for i in range(len(body) - 7)}
    blobs = [p.stdout + p.stderr for p in runs]
    blobs += [p.read_bytes().decode("latin-1") for p in isolated_env.rglob("*") if p.is_file()]
    for blob in blobs:
        visible = INVISIBLE_CHARS.sub("", blob)
        assert key not in visible
        assert not [w for w in windows if w in visible]
