"""The Secret wrapper, masking (S2) and fingerprints (S3)."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import sys
import unicodedata
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyledger import keyshapes
from keyledger import secret as secret_module
from keyledger.models import Key
from keyledger.sanitize import (
    INVISIBLE,
    Redactor,
    clean_message,
    looks_like_key,
    redact,
    redact_user_text,
)
from keyledger.secret import (
    ELLIPSIS,
    FULL_MASK,
    Fingerprinter,
    Secret,
    known_prefixes,
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
        (GEMINI, f"AIza…{GEMINI[-4:]}"),
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


# ----------------------------------------------------------------- key shapes (F1-F4, F10)


@pytest.mark.parametrize("prefix", sorted(set(known_prefixes())))
def test_generic_redaction_covers_every_known_key_prefix(prefix: str) -> None:
    """The pattern redactor cuts out a key of every prefix the code knows (AIza, xai-, gsk_…)."""
    value = prefix + "Q7rZk2LmN8sVx4pEHpJpb9AT"
    assert value not in redact(f"echo: {value}.") and value not in redact_user_text(value)
    assert looks_like_key(f"label {value}")


def test_invisible_set_covers_every_format_character() -> None:
    """Every Unicode format character (zero-width, soft hyphen, BOM, bidi, tags) is invisible."""
    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) == "Cf" and not INVISIBLE.fullmatch(chr(code))
    ]
    assert missing == []


@pytest.mark.parametrize("char", ["\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_redactor_sees_through_invisible_characters(char: str) -> None:
    """A key echoed with invisible characters between every character is still removed."""
    hidden = char.join(PROJ)
    text = Redactor((PROJ,))(f"bad key {hidden}!")
    assert text == "bad key [REDACTED]!"
    assert clean_message(f"x {char.join(PROJ[10:30])} y", (PROJ,)) == "x [REDACTED] y"
    assert Redactor((PROJ,)).finds(char.join(PROJ[12:24]))


@pytest.mark.parametrize(
    "token",
    [
        "4pEHpJpb9ATPqW7xZ2rT5yU8iO1pA3sD6fG9hJ0kL",  # a key body without its prefix
        "3f2b8c1e9a4d4e1f8b2c1d2e3f4a5b6c7d8e9f0a",  # a hex relay token
        "Qm9zR1Zz_k2-LmN8sVx4pEHp",  # base64url
    ],
)
def test_random_tokens_are_key_like_and_redacted_from_user_text(token: str) -> None:
    """A long random token without a prefix is treated as a key in fields and error messages."""
    assert looks_like_key(f"team {token}")
    assert redact_user_text(f"cannot write /tmp/{token}.json") == (
        "cannot write /tmp/[REDACTED].json"
    )


@pytest.mark.parametrize(
    "text",
    [
        "TeamAlphaProduction2024",
        "customer12345account",
        "test_backup_missing_dir0",
        "task-force-alpha",
        "org-AbCdEf1234567890GhIjKl",
        "my work laptop (2024-05-01)",
        "/tmp/pytest-of-root/pytest-12/test_history0/out.json",
    ],
)
def test_words_names_and_paths_are_not_key_like(text: str) -> None:
    """Labels, identifiers and paths made of words are neither refused nor redacted."""
    assert not looks_like_key(text)
    assert redact_user_text(text) == text


_PREFIX_KEYS = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["sess-", "sk-proj-", "sk-", "gsk_", "sk-ant-api03-", "", "xai-"]),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.", max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(_PREFIX_KEYS, st.text(max_size=60))
def test_a_redactor_made_from_a_secret_is_the_redactor_of_its_value(key: str, text: str) -> None:
    """``Redactor.of(secret)`` holds and removes exactly what ``Redactor((value,))`` does."""
    made = Redactor.of(Secret(key))
    general = Redactor((key,))
    assert (made._secrets, made._bodies) == (general._secrets, general._bodies)
    for sample in (text, f"echo {key} {key[-9:]} {text}"):
        assert made(sample) == general(sample)
        assert made.finds(sample) == general.finds(sample)


def test_a_secrets_prefix_is_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The public prefix found for the mask is kept: asking again runs no prefix match."""
    secret = Secret("sess-AAAAbbbbCCCCdddd1234")

    def refuse(value: str) -> str:
        raise AssertionError("the prefix was matched again")

    monkeypatch.setattr(secret_module, "public_prefix", refuse)
    assert secret.prefix == "sess-"


def test_a_secrets_prefix_follows_prefixes_registered_after_it() -> None:
    """A longer prefix registered after the secret was made is its prefix from then on."""
    secret = Secret("zzqy-longer-AAAAbbbbCCCCdddd1234")
    assert secret.prefix == ""
    saved = keyshapes.prefixes()
    keyshapes.register_prefixes(["zzqy-longer-"])
    try:
        assert secret.prefix == "zzqy-longer-" == public_prefix(secret.reveal())
        assert Redactor.of(secret)._bodies == ("AAAAbbbbCCCCdddd1234",)
    finally:
        keyshapes._prefixes = saved
        keyshapes._compiled.clear()
    assert secret.prefix == ""
