"""The simulator's xAI endpoints and scenarios (providers-2026.md §3.6, provider-apis.md §4.6):
the key record, and the Management API's team prepaid balance (any path a management key
calls; the team id is in the path)."""

from __future__ import annotations

from aiohttp import web

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Ctx, Responder, dynamic, json_reply
from keyledger.simulator.scenario import Scenario

ROUTES: dict[tuple[str, str], str] = {("GET", "/v1/api-key"): "xai_api_key"}
PREFIX = "xai-"
INVALID = json_reply(
    {
        "code": "Client specified an invalid argument",
        "error": "Incorrect API key provided: na***ys. You can obtain an API key from "
        "https://console.x.ai.",
    },
    400,
)
# Team id -> the prepaid balance answer (total.val: negative cents).
BALANCES: dict[str, object] = {
    "team-funded": {"changes": [], "total": {"val": "-1000"}},
    "team-empty": {"changes": [], "total": {"val": "0"}},
    "team-nototal": {"changes": []},
}


def key_record(team: str, **flags: bool) -> Responder:
    """``/v1/api-key`` for a key of ``team`` with the given blocked/disabled flags."""
    return json_reply(
        {
            "redacted_api_key": "xai-…Ab12",
            "user_id": "user-1",
            "name": "ci key",
            "create_time": "2026-01-01T00:00:00Z",
            "modify_time": "2026-01-01T00:00:00Z",
            "modified_by": "user-1",
            "team_id": team,
            "acls": ["api-key:model:*", "api-key:endpoint:*"],
            "api_key_id": "key-1",
            "team_blocked": flags.get("team_blocked", False),
            "api_key_blocked": flags.get("api_key_blocked", False),
            "api_key_disabled": flags.get("api_key_disabled", False),
        }
    )


def _prepaid(request: web.Request, ctx: Ctx) -> Responder:
    parts = request.path.strip("/").split("/")
    shaped = len(parts) == 6 and parts[:3] == ["v1", "billing", "teams"]
    if shaped and parts[4:] == ["prepaid", "balance"] and parts[3] in BALANCES:
        return json_reply(BALANCES[parts[3]])
    return json_reply({"code": "Some requested entity was not found", "error": "not found"}, 404)


def _scenario(
    name: str, description: str, expect: Status, reason: str | None, answer: Responder
) -> Scenario:
    return Scenario(
        name,
        Kind.SECRET,
        description,
        expect,
        reason,
        endpoints={"xai_api_key": answer},
        provider="xai",
        key_prefix=PREFIX,
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "xai_ok", "live key; team holds $10 prepaid", Status.OK, None, key_record("team-funded")
        ),
        _scenario(
            "xai_empty_team",
            "live key; team's prepaid balance is $0",
            Status.OK,
            None,
            key_record("team-empty"),
        ),
        _scenario(
            "xai_no_total",
            "balance answer without total",
            Status.OK,
            None,
            key_record("team-nototal"),
        ),
        _scenario(
            "xai_wrong_team",
            "management key of another team (404)",
            Status.OK,
            None,
            key_record("team-other"),
        ),
        _scenario(
            "xai_key_blocked",
            "api_key_blocked",
            Status.DEACTIVATED,
            "api_key_blocked",
            key_record("team-funded", api_key_blocked=True),
        ),
        _scenario(
            "xai_key_disabled",
            "api_key_disabled",
            Status.DEACTIVATED,
            "api_key_disabled",
            key_record("team-funded", api_key_disabled=True),
        ),
        _scenario(
            "xai_team_blocked",
            "team_blocked",
            Status.DEACTIVATED,
            "team_blocked",
            key_record("team-funded", team_blocked=True),
        ),
        _scenario(
            "xai_invalid",
            "400 Incorrect API key provided",
            Status.INVALID,
            "invalid_api_key",
            INVALID,
        ),
        Scenario(
            "xai_management",
            Kind.SECRET,
            "a management key: the API refuses it; the Management API answers team balances",
            Status.INVALID,
            "invalid_api_key",
            endpoints={"xai_api_key": INVALID, "*": dynamic(_prepaid)},
            provider="xai",
            key_prefix=PREFIX,
        ),
    )
}
