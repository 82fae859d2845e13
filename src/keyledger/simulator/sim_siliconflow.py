"""The simulator's SiliconFlow China platform (api.siliconflow.cn, CNY).

Bodies and texts are the published ones (``provider-apis.md`` §4.4, ``providers-2026.md``
§3.4). The 410 of the retired ``/v1/user/info`` has no published body: it is empty here.
:func:`region_scenarios` builds the shared answers for the global platform too.
"""

from __future__ import annotations

from keyledger.models import Kind, Status
from keyledger.simulator.responses import Responder, json_reply, raw_reply
from keyledger.simulator.scenario import Scenario

USER_INFO = "siliconflow_user_info"
MODELS = "models"
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v1/user/info"): USER_INFO,
    ("GET", "/v1/models"): MODELS,
}


def user_info(gift: str, charge: str, total: str) -> Responder:
    """The documented 200 answer: amounts are strings; ``balance`` is the gift part."""
    data = {
        "id": "userid-sim0001",
        "name": "sim",
        "image": "",
        "email": "sim@example.invalid",
        "isAdmin": False,
        "balance": gift,
        "status": "normal",
        "introduction": "",
        "role": "",
        "chargeBalance": charge,
        "totalBalance": total,
    }
    return json_reply({"code": 20000, "message": "OK", "status": True, "data": data})


# A bad key: 401 with a bare JSON string (github.com/chatboxai/chatbox/issues/2573).
INVALID = json_reply("Invalid token", 401)
RETIRED = raw_reply(b"", 410, content_type="text/plain")
MODELS_LIST = json_reply(
    {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": ""}
            for m in ("deepseek-ai/DeepSeek-V3", "Qwen/Qwen2.5-7B-Instruct")
        ],
    }
)
PAID_BALANCE_REQUIRED = json_reply(
    {
        "code": 30011,
        "message": "The selected model requires paid balance. Your paid balance is insufficient. "
        "Please top up and try again.",
        "data": None,
    },
    403,
)


def scenario(
    name: str,
    provider: str,
    description: str,
    expect: Status,
    reason: str | None,
    endpoints: dict[str, Responder],
) -> Scenario:
    """A SiliconFlow scenario (plain ``sk-`` keys)."""
    return Scenario(
        name,
        Kind.SECRET,
        description,
        expect,
        reason,
        endpoints=endpoints,
        provider=provider,
        key_prefix="sk-",
    )


def region_scenarios(prefix: str, provider: str) -> dict[str, Scenario]:
    """The scenarios both regions share: names start with ``prefix``."""
    found = [
        scenario(
            f"{prefix}_ok",
            provider,
            "funded: totalBalance 88.88 of which balance (gift) 0.88",
            Status.OK,
            None,
            {USER_INFO: user_info("0.88", "88.00", "88.88"), MODELS: MODELS_LIST},
        ),
        scenario(
            f"{prefix}_zero",
            provider,
            "totalBalance 0",
            Status.NO_QUOTA,
            "balance_exhausted",
            {USER_INFO: user_info("0.00", "0.00", "0.00"), MODELS: MODELS_LIST},
        ),
        scenario(
            f"{prefix}_invalid",
            provider,
            '401 "Invalid token"',
            Status.INVALID,
            "invalid_api_key",
            {USER_INFO: INVALID, MODELS: INVALID},
        ),
    ]
    return {s.name: s for s in found}


SCENARIOS: dict[str, Scenario] = {
    **region_scenarios("siliconflow", "siliconflow"),
    "siliconflow_retired": scenario(
        "siliconflow_retired",
        "siliconflow",
        "/v1/user/info retired (410): the models list says the key works, balance unknown",
        Status.OK,
        None,
        {USER_INFO: RETIRED, MODELS: MODELS_LIST},
    ),
    "siliconflow_retired_invalid": scenario(
        "siliconflow_retired_invalid",
        "siliconflow",
        "/v1/user/info retired (410): the models list refuses the key",
        Status.INVALID,
        "invalid_api_key",
        {USER_INFO: RETIRED, MODELS: INVALID},
    ),
}
