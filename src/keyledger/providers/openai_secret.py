"""Secret and project keys, on api.openai.com or any OpenAI-compatible relay: free probes only.

1. ``GET /v1/models``: validity and the model list.
2. The zero-cost chat-completions probe (``max_tokens: -1``, rejected at validation): a
   healthy key gets 400 ``max_tokens``, while a key out of quota, without billing,
   deactivated or banned gets 401/429 first. RPM/TPM come from its ``x-ratelimit-*`` headers.
3. The balance: on OpenAI the legacy billing pair (``needs_session_key`` for these keys); on a
   relay (a key with its own base URL) the site's reading of its token (``openai_relay``).
4. Optionally ``GET /v1/me`` for the organization.

The verdict is decided by what the endpoints answer, never by the host name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from keyledger.classify import Verdict
from keyledger.models import Account, CheckResult, Key, RateLimits, Status
from keyledger.providers.base import ResultBuilder, json_object, worst
from keyledger.providers.openai_billing import read_billing
from keyledger.providers.openai_common import (
    base_url,
    builder,
    get,
    option,
    organization,
    rate_limits,
    request,
)
from keyledger.providers.openai_relay import is_relay, read_relay
from keyledger.providers.spec import CheckOptions
from keyledger.transport import Reply, Request

if TYPE_CHECKING:  # the HTTP client (aiohttp) is loaded only when a check runs
    from keyledger.client import Client

MODELS = "/v1/models"
CHAT = "/v1/chat/completions"
ME = "/v1/me"
PROBE_MODELS = ("gpt-4o-mini", "gpt-4.1-nano", "gpt-3.5-turbo", "gpt-4o", "babbage-002")
MAX_MODELS_KEPT = 500
# provider-apis.md §2.3: a key whose x-ratelimit-limit-requests is at most 250 is a trial
# (free) key (trial text models allowed 200 requests a day). Higher limits do not reveal which
# paid tier a key is on (limits vary per model), so no tier is claimed for them.
TRIAL_MAX_RPM = 250


def tier_hint(limits: RateLimits | None) -> str | None:
    """``"trial"`` when the request limit says so; ``None`` (unknown) otherwise."""
    if limits is None or limits.requests_limit is None:
        return None
    return "trial" if limits.requests_limit <= TRIAL_MAX_RPM else None


# Verdicts that settle the key's fate, whichever call gave them.
FINAL = frozenset({Status.INVALID, Status.DEACTIVATED, Status.BILLING_INACTIVE, Status.NO_QUOTA})


def probe_request(key: Key, root: str, model: str) -> Request:
    """The zero-cost probe: a chat completion that validation must reject."""
    body = {"model": model, "max_tokens": -1, "messages": [{"role": "user", "content": ""}]}
    return request("POST", root + CHAT, key, json_body=body)


def choose_probe_models(models: tuple[str, ...] | None) -> list[str]:
    """Probe models in preference order, restricted to those the key lists (if known)."""
    if not models:
        return [PROBE_MODELS[0]]
    listed = set(models)
    preferred = [m for m in PROBE_MODELS if m in listed]
    others = sorted(m for m in models if m.startswith("gpt-") and m not in preferred)
    return (preferred + others)[:2] or [models[0]]


def parse_models(
    data: dict[str, object] | None, clean_many: Callable[[list[str]], list[str]]
) -> tuple[str, ...] | None:
    """Model ids from a ``/v1/models`` list body (cleaned in one pass: a list can be long)."""
    if data is None or not isinstance(data.get("data"), list):
        return None
    items = data["data"]
    assert isinstance(items, list)
    raw = [
        m["id"][:96]
        for m in items[:MAX_MODELS_KEPT]
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    ]
    return tuple(sorted({i for i in clean_many(raw) if i}))


async def _whoami(client: Client, key: Key, root: str, out: ResultBuilder) -> None:
    exchange = await client.call(get(key, root + ME))
    if out.record(exchange, "me") is not None or not isinstance(exchange.outcome, Reply):
        return
    data = json_object(exchange.outcome) or {}
    name = data.get("name") if isinstance(data.get("name"), str) else None
    orgs = data.get("orgs")
    org_id = None
    if isinstance(orgs, dict) and isinstance(orgs.get("data"), list):
        for org in orgs["data"]:
            if isinstance(org, dict) and (org.get("is_default") or org_id is None):
                org_id = org.get("id") if isinstance(org.get("id"), str) else org_id
    current = out.account or Account()
    out.account = Account(
        organization=current.organization or (out.clean(org_id, 96) if org_id else None),
        name=out.clean(name, 96) if isinstance(name, str) else current.name,
        plan=current.plan,
    )


async def check_secret(client: Client, key: Key, options: CheckOptions) -> CheckResult:
    """Check a secret, project or relay key with free requests only."""
    out = builder(key, options)
    root = base_url(key, options)
    models_ok = False

    exchange = await client.call(get(key, root + MODELS))
    verdict = out.record(exchange, "models")
    if verdict is None and isinstance(exchange.outcome, Reply):
        out.account = organization(exchange.outcome.headers, out.account, out.clean)
        out.models = parse_models(json_object(exchange.outcome), out.clean_many)
        if out.models is None:
            out.unexpected(exchange, "models")
        else:
            models_ok = True
    elif verdict is not None and (verdict.status in FINAL or verdict.status is Status.UNREACHABLE):
        return out.finish(verdict.status, verdict.reason)

    probe: Verdict | None = None
    for model in choose_probe_models(out.models):
        exchange = await client.call(probe_request(key, root, model))
        probe = out.record(exchange, "probe")
        if isinstance(exchange.outcome, Reply):
            out.rate_limits = rate_limits(exchange.outcome.headers, out.clean) or out.rate_limits
            out.tier = tier_hint(out.rate_limits) or out.tier
            out.account = organization(exchange.outcome.headers, out.account, out.clean)
        if probe is None:  # a 2xx: served only if it really is a completion
            served = isinstance(exchange.outcome, Reply) and "choices" in (
                json_object(exchange.outcome) or {}
            )
            probe = (
                Verdict(Status.OK, "probe_served") if served else out.unexpected(exchange, "probe")
            )
        if probe.reason != "model_unavailable":
            break
    assert probe is not None
    if probe.status in FINAL:
        return out.finish(probe.status, probe.reason)

    billing_positive = False
    if option(options, "billing", True) and probe.status is not Status.UNREACHABLE:
        read = read_relay if is_relay(key) else read_billing
        billing = await read(client, key, root, out, options.now())
        out.balance = billing.balance
        out.balance_reason = billing.reason
        if billing.verdict is not None and billing.verdict.status in FINAL:
            return out.finish(billing.verdict.status, billing.verdict.reason)
        balance = billing.balance
        if balance is not None and balance.available is not None:
            if balance.available <= 0:
                return out.finish(Status.NO_QUOTA, "balance_exhausted")
            billing_positive = True

    if option(options, "whoami", False) and probe.status is not Status.UNREACHABLE:
        await _whoami(client, key, root, out)

    if probe.status is Status.OK:
        return out.finish(Status.OK, None if probe.reason.startswith("probe_") else probe.reason)
    if probe.status is Status.RESTRICTED:
        return out.finish(probe.status, probe.reason)
    if probe.status is Status.RATE_LIMITED:
        return out.finish(probe.status, probe.reason)
    if models_ok and billing_positive:
        return out.finish(Status.OK, None)
    signals = [s.verdict for s in out.signals if s.verdict.status is not Status.OK]
    final = worst(signals) if signals else probe
    if final.status is Status.UNKNOWN:  # the probe's reason says most about the key
        final = probe
    return out.finish(final.status, final.reason)
