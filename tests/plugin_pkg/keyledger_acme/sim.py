"""The simulator's Acme endpoints: `keyledger simulate` serves them once it is installed."""

from __future__ import annotations

from keyledger.models import Kind, Status
from keyledger.simulator.responses import json_reply
from keyledger.simulator.scenario import Scenario

ROUTES: dict[tuple[str, str], str] = {("GET", "/v1/me"): "acme_me"}

SCENARIOS: dict[str, Scenario] = {
    "acme_ok": Scenario(
        "acme_ok",
        Kind.SECRET,
        "Acme key with $12.50 left",
        Status.OK,
        endpoints={"acme_me": json_reply({"credit": "12.50"})},
        provider="acme",
        key_prefix="acme-",
    ),
    "acme_no_credit": Scenario(
        "acme_no_credit",
        Kind.SECRET,
        "Acme account out of credit",
        Status.NO_QUOTA,
        "insufficient_balance",
        endpoints={"acme_me": json_reply({"error": {"message": "Out of credit"}}, 402)},
        provider="acme",
        key_prefix="acme-",
    ),
}
