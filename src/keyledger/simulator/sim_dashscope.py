"""DashScope's simulated compatible-mode endpoints; texts from ``providers-2026.md`` §3.11."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import json_reply, openai_error
from keyledger.simulator.sim_compat import MAX_TOKENS_REJECTED, models_list, routes, scenario, table

ROUTES = routes("/compatible-mode/v1")
MODELS = models_list("qwen-turbo", "qwen-plus", "qwen-max")
ARREARAGE = json_reply(
    {
        "error": {
            "code": "Arrearage",
            "param": None,
            "message": "Access denied, please make sure your account is in good standing. For "
            "details, see: https://help.aliyun.com/zh/model-studio/error-code#overdue-payment",
            "type": "Arrearage",
        },
        "id": "chatcmpl-3f2a",
        "request_id": "3f2a",
    },
    400,
)
INVALID = openai_error(401, "Incorrect API key provided. ", code="invalid_api_key")

SCENARIOS = table(
    scenario(
        "dashscope",
        "dashscope_ok",
        "DashScope key in good standing",
        Status.OK,
        None,
        models=MODELS,
        chat=MAX_TOKENS_REJECTED,
    ),
    scenario(
        "dashscope",
        "dashscope_arrearage",
        "DashScope key of an overdue account (400 Arrearage)",
        Status.NO_QUOTA,
        "arrearage",
        models=MODELS,
        chat=ARREARAGE,
    ),
    scenario(
        "dashscope",
        "dashscope_invalid",
        "DashScope key Alibaba does not know",
        Status.INVALID,
        "invalid_api_key",
        models=INVALID,
        chat=INVALID,
    ),
)
