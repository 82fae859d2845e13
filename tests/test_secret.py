"""The Secret wrapper, masking (S2) and fingerprints (S3)."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger.models import Key
from keyledger.secret import (
    ELLIPSIS,
    FULL_MASK,
    known_prefixes,
    Fingerprinter,
    Secret,
    mask,
    public_prefix,
)

from .keyfixtures import ADMIN, ANTHROPIC, ANTHROPIC_ADMIN, GEMINI, LEGACY, PROJ, SESSION, SVCACCT

KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def no_echo(text: str, secret: str) -> None:
    """``text`` holds no 8-character window of the secret body (what follows the public prefix)."""
    body = secret[len(public_prefix(secret)) :]
    for start in range(len(body) - 7):
        assert body[start : start + 8] not in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (PROJ, "sk-proj-…0pQ3"),
        (SVCACCT, f"sk-svcacct-…{SVCACCT[-4:]}"),
        (LEGACY, f"sk-…{LEGACY[-4:]}"),
        (ADMIN, f"sk-admin-…{ADMIN[-4:]}"),
        (SESSION, f"sess-…{SESSION[-4:]}"),
        (ANTHROPIC, f"sk-ant-api03-…{ANTHROPIC[-4:]}"),
        (ANTHROPIC_ADMIN, f"sk-ant-admin01-…{ANTHROPIC_ADMIN[-4:]}"),
        (GEMINI, f"…{GEMINI[-4:]}"),
        ("sk-short", FULL_MASK),
        ("a" * 19, FULL_MASK),
        ("sk-ant-admin01-abcdefghi", FULL_MASK),  # 24 characters but a 9-character body
        ("SK-PROJ-" + PROJ[8:], f"…{PROJ[-4:]}"),
    ],
)
def test_mask_shows_known_prefix_and_last_four(value: str, shown: str) -> None:
    """S2: ``public_prefix…last4``; short keys and short bodies are fully masked."""
    assert mask(value) == shown


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(st.sampled_from(known_prefixes()), st.just(""), st.text(max_size=12)),
    st.text(alphabet=KEY_ALPHABET, max_size=200),
)
def test_property_mask_reveals_at_most_four_body_characters(prefix: str, body: str) -> None:
    """S2: deterministic; prefix only from the table (longest match); at most 4 body characters."""
    value = prefix + body
    shown = mask(value)
    assert shown == mask(value)
    if shown == FULL_MASK:
        return
    head, sep, tail = shown.partition(ELLIPSIS)
    assert sep == ELLIPSIS
    assert head == "" or head in known_prefixes()
    assert value.startswith(head)
    assert all(not value.startswith(p) or len(p) <= len(head) for p in known_prefixes())
    assert len(tail) <= 4 and value.endswith(tail)
    assert len(value) - len(head) >= 12 and len(value) >= 20


def test_secret_never_reveals_itself_in_text_forms() -> None:
    """repr, str, format, f-strings, %-formatting and str.format all show the masked form."""
    secret = Secret(PROJ)
    forms = [
        repr(secret),
        str(secret),
        format(secret),
        format(secret, ">80"),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret:^100}",
        "%s" % secret,  # noqa: UP031 (the old forms are what is tested)
        "%r" % (secret,),  # noqa: UP031
        "{} {!r}".format(secret, secret),  # noqa: UP032
        repr([secret, {"k": secret}]),
        repr(Key(secret=secret, fingerprint="f" * 16, label="l")),
        str(asdict(Key(secret=secret, fingerprint="f" * 16, label="l"))),
        repr(copy.copy(secret)),
        repr(copy.deepcopy(secret)),
    ]
    for form in forms:
        assert PROJ not in form
        no_echo(form, PROJ)
    assert secret.reveal() == PROJ and secret.masked in str(secret)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_secret_cannot_be_pickled(protocol: int) -> None:
    """Pickling a Secret, or a Key holding one, fails without the key in the error."""
    for obj in (Secret(PROJ), Key(secret=Secret(PROJ), fingerprint="f" * 16, label="l")):
        with pytest.raises(TypeError) as info:
            pickle.dumps(obj, protocol=protocol)
        no_echo(str(info.value), PROJ)


def test_secret_is_not_json_serialisable_and_logging_shows_the_mask(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """json.dumps refuses a Secret without echo; logging it prints only the mask."""
    secret = Secret(PROJ)
    with pytest.raises(TypeError) as info:
        json.dumps({"k": secret})
    no_echo(str(info.value), PROJ)
    with caplog.at_level(logging.INFO):
        logging.getLogger("keyledger.test").info("key %s / %r", secret, secret)
    no_echo(caplog.text, PROJ)
    assert not hasattr(secret, "__dict__")


def test_secret_equality_hash_and_type() -> None:
    """Secrets compare by value in constant time and only wrap strings."""
    assert Secret(PROJ) == Secret(PROJ) and Secret(PROJ) != Secret(LEGACY)
    assert len({Secret(PROJ), Secret(PROJ)}) == 1
    assert Secret(PROJ).startswith("sk-proj-") and len(Secret(PROJ)) == len(PROJ)
    with pytest.raises(TypeError):
        Secret(PROJ.encode())  # type: ignore[arg-type]


def test_fingerprint_is_a_stable_hmac_that_differs_between_installs() -> None:
    """S3: 16 hex characters, stable for one install secret, different for another."""
    one, two = Fingerprinter(b"a" * 32), Fingerprinter(b"b" * 32)
    assert one(PROJ) == one(Secret(PROJ)) == Fingerprinter(b"a" * 32)(PROJ)
    assert one(PROJ) != two(PROJ)
    assert len(one(PROJ)) == 16 and int(one(PROJ), 16) >= 0
    assert "a" * 16 not in repr(one)
    with pytest.raises(ValueError):
        Fingerprinter(b"short")
