"""``--detect-provider``: find the provider of a key whose shape does not say it.

A key such as ``sk-`` + 32 hex may be DeepSeek's, Moonshot's, SiliconFlow's or a relay
token; by default it is sent nowhere (``ambiguous_provider``). When the run opts in, the key is
offered to the providers its shape allows (:func:`candidates`), **one at a time**, in
this order: the longest matching key prefix first, then by provider name. Each candidate gets
its ordinary free check, at its own base URL (its default, or ``CheckOptions.base_urls``).

A candidate *recognises* the key when its check ends in a status only the key's owner can give:
``ok``, ``no_quota``, ``billing_inactive``, ``deactivated`` or ``restricted``. Detection stops
there and the result is that check's, for that provider. ``invalid`` (the candidate does not
know the key) and the undecided statuses (``unknown``, ``unreachable``, ``rate_limited``)
move on to the next candidate. When no candidate recognises the key, the result is
``unknown``/``provider_not_detected`` (never ``invalid``: a relay token is unknown to every
vendor). Every result lists the candidates tried, in order, as ``detect-provider:<name>``
evidence entries whose ``outcome`` is the status that candidate gave, or ``recognised``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from keyledger.models import CheckResult, Evidence, Key, Status
from keyledger.providers.base import ResultBuilder
from keyledger.providers.registry import Registry
from keyledger.providers.spec import CheckOptions, Provider

RECOGNISED = frozenset(
    {Status.OK, Status.NO_QUOTA, Status.BILLING_INACTIVE, Status.DEACTIVATED, Status.RESTRICTED}
)
EVIDENCE_PREFIX = "detect-provider:"
NOT_DETECTED = "provider_not_detected"

# Runs one provider's check on one key; a provider bug must come back as a result.
CheckWith = Callable[[Provider, Key], Awaitable[CheckResult]]


def _distinctive(provider: Provider, value: str) -> bool:
    """Whether ``value`` has a shape of ``provider`` that says more than a bare prefix."""
    return any(
        shape.matches(value) and (shape.claims or shape.pattern is not None)
        for shape in provider.key_shapes
    )


def candidates(registry: Registry, value: str) -> list[Provider]:
    """The checkable providers ``value`` may belong to, in the order they are tried.

    Only a distinctive shape makes a provider a candidate: one that claims, or a hint with a
    ``pattern`` (DeepSeek's ``sk-`` + 32 hex). A bare prefix hint (OpenAI's ``sk-``: "may be
    a relay token") does not, so detection never sends a relay token to api.openai.com.
    """
    found = (registry.find(name) for name in registry.candidates(value))
    return [p for p in found if p is not None and _distinctive(p, value)]


def _tried(name: str, outcome: str, attempts: int) -> Evidence:
    return Evidence(f"{EVIDENCE_PREFIX}{name}", None, attempts=attempts, outcome=outcome)


async def detect(
    registry: Registry, key: Key, options: CheckOptions, check_with: CheckWith
) -> CheckResult:
    """Offer ``key`` to its candidates in order; the first that recognises it owns it."""
    value = key.secret.reveal()
    tried: list[Evidence] = []
    answers: list[Evidence] = []
    attempts = 0
    for provider in candidates(registry, value):
        trial = replace(key, provider=provider.name, kind=provider.kind_of(value), problem=None)
        result = await check_with(provider, trial)
        attempts += result.attempts
        if result.status in RECOGNISED:
            tried.append(_tried(provider.name, "recognised", result.attempts))
            return replace(result, evidence=(*tried, *result.evidence), attempts=attempts)
        tried.append(_tried(provider.name, str(result.status), result.attempts))
        answers.extend(result.evidence)
    if not tried:
        return ResultBuilder(key, options).finish(Status.UNKNOWN, key.problem)
    out = ResultBuilder(key, options).finish(Status.UNKNOWN, NOT_DETECTED)
    return replace(out, evidence=(*tried, *answers), attempts=attempts)
