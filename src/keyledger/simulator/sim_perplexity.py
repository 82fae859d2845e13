"""Perplexity's simulated chat endpoint; texts from public captures (``docs/providers.md``)."""

from __future__ import annotations

from keyledger.models import Status
from keyledger.simulator.responses import json_reply, raw_reply
from keyledger.simulator.sim_compat import MAX_TOKENS_REJECTED, routes, scenario, table

ROUTES = routes("", models=False)
UNAUTHORIZED = json_reply(
    {
        "error": {
            "message": "Invalid API key provided. You can find your API key at "
            "https://www.perplexity.ai/settings/api.",
            "type": "invalid_api_key",
            "code": 401,
        }
    },
    401,
)
AUTH_PAGE = raw_reply(
    "<html>\n<head><title>401 Authorization Required</title></head>\n<body>\n<center><h1>401 "
    "Authorization Required</h1></center>\n<hr><center>openresty/1.27.4</center>\n</body>\n</html>",
    401,
)

SCENARIOS = table(
    scenario(
        "perplexity",
        "perplexity_ok",
        "Perplexity key",
        Status.OK,
        None,
        "pplx-",
        chat=MAX_TOKENS_REJECTED,
    ),
    scenario(
        "perplexity",
        "perplexity_unauthorized",
        "Perplexity key refused with 401: invalid, or out of credit",
        Status.INVALID,
        "invalid_or_no_credit",
        "pplx-",
        chat=UNAUTHORIZED,
    ),
    scenario(
        "perplexity",
        "perplexity_auth_page",
        "Perplexity's HTML 401 page: cannot be told from a proxy's",
        Status.UNKNOWN,
        "proxy",
        "pplx-",
        chat=AUTH_PAGE,
    ),
)
