"""The built-in demo key set: one account per situation a user meets, every status covered."""

from __future__ import annotations

from keyledger.simulator.scenarios import make_key

# (label, scenario, routed to a relay base URL?); acme-prod and acme-staging share an org.
DEMO_ACCOUNTS: tuple[tuple[str, str, bool], ...] = (
    ("personal (browser session)", "grants", False),
    ("research trial (session)", "grant_lapses_day_24", False),
    ("new signup (session)", "zero_balance", False),
    ("banned account (session)", "session_deactivated", False),
    ("acme-prod", "ok", False),
    ("acme-staging", "rate_limited_then_ok", False),
    ("side-project", "no_quota", False),
    ("old-startup", "billing_off", False),
    ("leaked-2023", "deactivated", False),
    ("policy-strike", "terminated", False),
    ("typo-in-env", "invalid", False),
    ("ci-readonly", "restricted", False),
    ("batch-jobs", "rate_limited", False),
    ("travel-laptop", "region", False),
    ("flaky-gateway", "html_502", False),
    ("cafe-wifi", "captive_portal", False),
    ("relay-team", "relay", True),
    ("relay-uncapped", "relay_unlimited", True),
    ("relay-spent", "relay_spent", True),
    ("relay-drained", "relay_exhausted", True),
    ("relay-revoked", "relay_invalid", True),
    ("org-admin", "admin", False),
    ("admin-misused", "admin_no_scope", False),
    # Accounts that move with the simulated clock, so the demo ledger's history has a story.
    ("team-credits (session)", "grants_spending", False),
    ("relay-metered", "relay_spending", True),
    ("org-admin-billing", "admin_spending", False),
    ("intern-laptop", "dies_midrun", False),
)


def demo_lines(sim_url: str, unreachable_url: str) -> list[str]:
    """The demo key file's lines (labels, keys, relay base URLs)."""
    lines = ["# keyledger demo: every key below is answered by the built-in simulator"]
    for n, (label, scenario, relay) in enumerate(DEMO_ACCOUNTS):
        account = "acme" if label.startswith("acme-") else None
        line = f'"{label}" {make_key(scenario, n, account=account)}'
        if relay:
            line += f" base_url={sim_url}/v1"
        lines.append(line)
    lines.append(f'"self-hosted (down)" {make_key("ok", 999)} base_url={unreachable_url}')
    return lines
