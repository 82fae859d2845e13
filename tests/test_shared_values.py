"""Values every key of a run shares (a success's evidence, an organization-only account) are
equal to the ones built per key, and built once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.client import Exchange
from keyledger.models import Account, Evidence, Key, Kind
from keyledger.providers import base, openai_common
from keyledger.providers.base import ResultBuilder, ok_evidence
from keyledger.providers.openai_common import organization
from keyledger.providers.spec import CheckOptions
from keyledger.secret import Secret
from keyledger.transport import Reply

BODY = b'{"object": "credit_summary", "total_granted": "1.00"}'


def _key(i: int) -> Key:
    return Key(
        Secret(f"sess-Shared{i:04d}AbCdEfGhIjKlMnOp"), f"{i:016x}", f"s{i}", kind=Kind.SESSION
    )


def test_two_keys_share_the_evidence_of_the_same_success() -> None:
    """Keys answered alike by one endpoint keep one evidence value, equal to a new one."""
    reply = Reply(200, {"content-type": "application/json"}, BODY)
    exchange = Exchange(reply, 1, "/v1/dashboard/billing/credit_grants")
    kept = []
    for i in range(2):
        out = ResultBuilder(_key(i), CheckOptions())
        assert out.record(exchange, "credit_grants") is None
        kept.append(out.evidence[-1])
    assert kept[0] is kept[1]
    assert kept[0] == Evidence("/v1/dashboard/billing/credit_grants", 200, attempts=1, outcome="ok")


def test_an_organization_only_account_is_shared_and_a_richer_one_is_not() -> None:
    """The organization header gives one shared account; merged into a known one, a new one."""
    headers = {"openai-organization": " org-170c404bd4 "}
    first = organization(headers, None, ResultBuilder(_key(0), CheckOptions()).clean)
    second = organization(headers, None, ResultBuilder(_key(1), CheckOptions()).clean)
    assert first is second
    assert first == Account(organization="org-170c404bd4")
    named = organization(headers, Account(name="Acme"), lambda text, limit: text)
    assert named == Account(organization="org-170c404bd4", name="Acme")
    assert organization({}, None, lambda text, limit: text) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["/a", "/b", "/v1/x"]), st.integers(200, 299), st.integers(1, 3)),
        max_size=12,
    )
)
def test_shared_values_equal_new_ones_through_a_full_cache(
    asked: list[tuple[str, int, int]],
) -> None:
    """However often the small caches fill and empty, each shared value equals a new one."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(base, "OK_EVIDENCE_SIZE", 2)
        patched.setattr(openai_common, "ACCOUNTS_SIZE", 2)
        patched.setattr(base, "_OK_EVIDENCE", {})
        patched.setattr(openai_common, "_ACCOUNTS", {})
        for endpoint, status, attempts in asked:
            made = ok_evidence(endpoint, status, attempts)
            assert made == Evidence(endpoint, status, attempts=attempts, outcome="ok")
            org = f"org-{endpoint}{status}"
            assert organization({"openai-organization": org}, None, lambda t, n: t) == Account(
                organization=org
            )
        assert len(base._OK_EVIDENCE) <= 2
        assert len(openai_common._ACCOUNTS) <= 2
