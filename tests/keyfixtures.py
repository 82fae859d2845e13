"""Fake keys of every known shape (random-looking, never real) shared by the key-input tests."""

from __future__ import annotations

BODY = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wYz4cBe7gDi0kFm3oHq6sJu9w"
PROJ = "sk-proj-" + BODY + "T3BlbkFJ" + "Gh4jK7mN0pQ3"
SVCACCT = "sk-svcacct-" + BODY
SERVICE = "sk-service-" + BODY
LEGACY = "sk-" + "A1b2C3d4E5f6G7h8I9j0" + "T3BlbkFJ" + "K1l2M3n4O5p6Q7r8S9t0"
ADMIN = "sk-admin-" + BODY
SESSION = "sess-" + "Qw8eRt5yUi2oPa9sDf6gHj3kLz0xCv7b"
ANTHROPIC = "sk-ant-api03-" + BODY + "-Zq9AA"
ANTHROPIC_ADMIN = "sk-ant-admin01-" + BODY + "-Zq9AA"
GEMINI = "AIzaSyB" + "c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R"
OPENROUTER = "sk-or-v1-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
DEEPSEEK = "sk-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
RELAY = "sk-" + "Zr4Tq8Wm2Xn6Yb0Vc3Ud7Se1Rf5Qg9Ph2Oi6Nj"

ALL_KEYS = (PROJ, SVCACCT, SERVICE, LEGACY, ADMIN, SESSION, ANTHROPIC, ANTHROPIC_ADMIN, GEMINI)
