"""The built-in demo key set: one account per situation a user meets, every status covered."""

from __future__ import annotations

from keyledger.simulator.scenarios import make_key, relay_base_url

# (label, scenario, pin): pin is None (the key's shape routes it), RELAY (a one-api/new-api
# relay site on the simulator) or a provider name (``provider=NAME``, as a user pins a plain sk-
# key). acme-prod and acme-staging share an org. Labels never repeat 8 characters of their
# key (simulator keys spell their scenario's name), so vendor names are capitalised.
RELAY = "relay"
DEMO_ACCOUNTS: tuple[tuple[str, str, str | None], ...] = (
    ("personal (browser session)", "grants", None),
    ("research trial (session)", "grant_lapses_day_24", None),
    ("new signup (session)", "zero_balance", None),
    ("banned account (session)", "session_deactivated", None),
    ("acme-prod", "ok", None),
    ("acme-staging", "rate_limited_then_ok", None),
    ("side-project", "no_quota", None),
    ("old-startup", "billing_off", None),
    ("leaked-2023", "deactivated", None),
    ("policy-strike", "terminated", None),
    ("typo-in-env", "invalid", None),
    ("ci-readonly", "restricted", None),
    ("batch-jobs", "rate_limited", None),
    ("travel-laptop", "region", None),
    ("flaky-gateway", "html_502", None),
    ("cafe-wifi", "captive_portal", None),
    ("relay-team", "relay", RELAY),
    ("relay-uncapped", "relay_unlimited", RELAY),
    ("relay-spent", "relay_spent", RELAY),
    ("relay-drained", "relay_exhausted", RELAY),
    ("relay-revoked", "relay_invalid", RELAY),
    ("relay CNY site", "relay_newapi_cny", RELAY),
    ("relay empty wallet", "relay_unlimited_empty_wallet", RELAY),
    ("relay one-api wallet", "relay_oneapi_wallet", RELAY),
    ("org-admin", "admin", None),
    ("admin-misused", "admin_no_scope", None),
    # Accounts that move with the simulated clock, so the demo ledger's history has a story.
    ("team-credits (session)", "grants_spending", None),
    ("relay-metered", "relay_spending", RELAY),
    ("org-admin-billing", "admin_spending", None),
    ("intern-laptop", "dies_midrun", None),
    # Every other provider: balances in CNY, USD, points and DIEM, and their own signals.
    ("DeepSeek wallet", "deepseek_multi_currency", "deepseek"),
    ("DeepSeek unpaid", "deepseek_unavailable", "deepseek"),
    ("OpenRouter app", "openrouter_ok", None),
    ("OpenRouter admin", "openrouter_management", None),
    ("OpenRouter free", "openrouter_zero_credits", None),
    ("Moonshot cn", "moonshot_ok", "moonshot"),
    ("Moonshot in debt", "moonshot_debt", "moonshot"),
    ("Kimi global", "moonshot_global_ok", "moonshot-global"),
    ("SiliconFlow cn", "siliconflow_retired", "siliconflow"),
    ("SiliconFlow intl", "siliconflow_global_ok", "siliconflow-global"),
    ("Groq org", "groq_restricted", None),
    ("Mistral team", "mistral_ok", "mistral"),
    ("Zhipu GLM", "zhipu_no_balance", "zhipu"),
    ("Z.ai", "zai_ok", "zai"),
    ("DashScope", "dashscope_arrearage", "dashscope"),
    ("Ark (Volcengine)", "ark_ok", "ark"),
    ("MiniMax", "minimax_no_balance", "minimax"),
    ("Together", "together_credit_limit_then_ok", "together"),
    ("FW inference", "fireworks_ok", "fireworks"),
    ("PPLX search", "perplexity_ok", None),
    ("Cohere", "cohere_ok", "cohere"),
    ("StepFun", "stepfun_ok", "stepfun"),
    ("302.ai", "302ai_ok", "302ai"),
    ("API2D", "api2d_ok", "api2d"),
    ("Venice", "venice_cannot_consume", "venice"),
    ("DeepInfra", "deepinfra_ok", "deepinfra"),
    ("Claude team", "anthropic_ok", None),
    ("Claude no credit", "anthropic_no_credit", None),
    ("Claude admin", "anthropic_admin", None),
    ("Grok", "xai_ok", None),
    ("Gemini free", "gemini_free", None),
    ("Gemini paid", "gemini_paid", None),
)


def demo_lines(sim_url: str, unreachable_url: str) -> list[str]:
    """The demo key file's lines (labels, keys, pins)."""
    lines = ["# keyledger demo: every key below is answered by the built-in simulator"]
    for n, (label, scenario, pin) in enumerate(DEMO_ACCOUNTS):
        account = "acme" if label.startswith("acme-") else None
        line = f'"{label}" {make_key(scenario, n, account=account)}'
        if pin == RELAY:
            line += f" base_url={relay_base_url(sim_url, scenario)}"
        elif pin is not None:
            line += f" provider={pin}"
        lines.append(line)
    lines.append(f'"self-hosted (down)" {make_key("ok", 999)} base_url={unreachable_url}')
    return lines
