"""Neutralise untrusted text (API messages, org names, labels) before it is shown or stored.

- C0 controls except tab and newline, DEL, C1 controls (0x80-0x9f, including CSI 0x9b),
  and bidi overrides (U+202A-202E, U+2066-2069) become caret or ``\\u`` notation, as the
  GitHub CLI's asciisanitizer does.
- Anything shaped like an API key is replaced by ``[REDACTED]``, and so is any registered key.
  Invisible characters (zero-width, soft hyphen, BOM, bidi and other format characters) are
  removed first, so a key echoed with them between its characters is still found.
- :func:`holds_key` is the one check for "this text carries a key" (used on every field read
  from a key file and on command-line values); :func:`redact_user_text` is the one redaction
  applied to error messages that quote what the user typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import pairwise

from keyledger import keyshapes
from keyledger.secret import Secret, public_prefix

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_LINE_SEPARATORS = frozenset((0x2028, 0x2029, 0x0085))

REDACTED = "[REDACTED]"

# Characters that show nothing: format characters (Unicode category Cf: soft hyphen, zero-width
# space/joiners, word joiner, BOM, bidi controls, tags…), variation selectors, the combining
# grapheme joiner and the Hangul fillers. They are removed before looking for keys.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f"
    "\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)

# A long run of key characters that reads like a random token, not a word: see _random().
RANDOM_RUN = 20
_TOKEN_RUN = re.compile(rf"[A-Za-z0-9_\-]{{{RANDOM_RUN},}}")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_PUBLIC_IDS = ("org-", "user-", "proj_", "req_", "file-", "chatcmpl-")


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"\\u{code:04x}"


# Everything neutralise() rewrites; text without any of it is returned as it is (fast path).
_NEEDS_WORK = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def neutralise(text: str, *, keep_newlines: bool = False) -> str:
    """Replace control, C1 and bidi characters with visible notation."""
    if _NEEDS_WORK.search(text) is None:
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\t" or (ch == "\n" and keep_newlines):
            out.append(ch)
        elif (
            code < 0x20
            or code == 0x7F
            or 0x80 <= code <= 0x9F
            or code in _BIDI
            or code in _LINE_SEPARATORS
        ):
            out.append(_escape_char(ch))
        elif 0xD800 <= code <= 0xDFFF:  # lone surrogate: not valid UTF-8
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


FEW_WINDOWS = 64  # a text with at most this many windows is checked against a key without sets
WINDOW = 8  # no run of this many characters of a key's secret body may appear anywhere
_KEY_CHAR_RUN = re.compile(r"[A-Za-z0-9_.\-]{8,}")  # the characters a key may hold (keys.py)


class Redactor:
    """Removes registered secrets from text: the whole key, and any 8-character run of its body.

    The body is the key without its public prefix (``sk-proj-``, ``sess-``…), so a masked form
    such as ``sk-proj-…Ab12`` stays readable while any echo of the secret part is cut out.
    """

    __slots__ = ("_bodies", "_secrets", "_windows")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(filter(None, secrets))  # empty strings dropped
        self._bodies = tuple([secret[len(public_prefix(secret)) :] for secret in self._secrets])
        # Every 8-character window of the bodies, built when first needed: most texts a check
        # cleans are short and already known (see :func:`misses`), and need no set.
        self._windows: AbstractSet[str] | None = None

    @classmethod
    def of(cls, secret: Secret) -> Redactor:
        """``Redactor((secret.reveal(),))``, made from the prefix the secret already knows."""
        redactor = cls.__new__(cls)
        value = secret.reveal()
        redactor._secrets = (value,) if value else ()
        redactor._bodies = (value[len(secret.prefix) :],) if value else ()
        redactor._windows = None
        return redactor

    @property
    def windows(self) -> AbstractSet[str]:
        """Every 8-character window of every registered secret's body."""
        if self._windows is None:
            self._windows = {
                body[i : i + WINDOW] for body in self._bodies for i in range(len(body) - WINDOW + 1)
            }
        return self._windows

    def misses(self, visible: str, windows: frozenset[str], blocks: Blocks | None = None) -> bool:
        """Whether text, given as its visible form (:data:`INVISIBLE` removed) and its
        :func:`text_windows`, holds no registered secret and no window of one.

        ``blocks``, the text's :func:`text_blocks` when given, lets most texts be answered
        with a quarter of the lookups: a text none of whose blocks is in a body holds no
        window of it, and one that has such blocks can hold only the windows covering them.
        """
        if self._windows is None and len(windows) <= FEW_WINDOWS:
            # A few windows of the text looked up in the bodies: cheaper than the key's set
            # (``map`` runs the lookups without a Python-level loop).
            for body in self._bodies:
                if blocks is None:
                    if any(map(body.__contains__, windows)):
                        return False
                    continue
                for block in filter(body.__contains__, blocks):
                    if any(map(body.__contains__, blocks[block])):
                        return False
        elif not self.windows.isdisjoint(windows):
            return False
        for secret in self._secrets:  # noqa: SIM110 (a loop: no generator per call)
            if secret in visible:
                return False
        return True

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def finds(self, text: str) -> bool:
        """Whether ``text`` holds a registered secret or an 8-character run of one's body."""
        text = INVISIBLE.sub("", text)
        if any(secret in text for secret in self._secrets):
            return True
        windows = self.windows
        return bool(windows) and any(
            run.group()[i : i + WINDOW] in windows
            for run in _KEY_CHAR_RUN.finditer(text)
            for i in range(len(run.group()) - WINDOW + 1)
        )

    def __call__(self, text: str) -> str:
        """``text`` with every registered secret, any window of one, and key shapes removed.

        Invisible characters are dropped first, so they cannot split a key into pieces that
        each look harmless.
        """
        text = INVISIBLE.sub("", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if self._bodies and len(text) >= WINDOW and (windows := self.windows):
            # Keys hold only [A-Za-z0-9_.-]: a window can only lie inside such a run.
            hits = [
                i
                for run in _KEY_CHAR_RUN.finditer(text)
                for i in range(run.start(), run.end() - WINDOW + 1)
                if text[i : i + WINDOW] in windows
            ]
            if hits:
                text = _cut(text, hits)
        return keyshapes.key_pattern().sub(REDACTED, text)


@dataclass(frozen=True, slots=True)
class Pieces:
    """A text as :meth:`Redactor.finds` sees it: invisible characters removed, and every
    8-character window of its runs of key characters. Made once for a text asked about often
    (the same base URL on every line of a key file)."""

    text: str
    windows: tuple[str, ...]


def pieces(text: str) -> Pieces:
    """The :class:`Pieces` of ``text``."""
    text = INVISIBLE.sub("", text)
    windows = {
        word[i : i + WINDOW]
        for run in _KEY_CHAR_RUN.finditer(text)
        for word in (run.group(),)
        for i in range(len(word) - WINDOW + 1)
    }
    return Pieces(text, tuple(windows))


def finds_secret(text: str | Pieces, secret: str, body: str | None = None) -> bool:
    """``Redactor((secret,)).finds(text)`` for one secret, without building its windows.

    A window of ``text`` is one of the secret body's windows exactly when it is a substring
    of the body, so each is looked up in the body itself. ``body``, when given, is the
    secret without its public prefix (a caller asking several times passes it once made).
    """
    if not secret:
        return False
    if not isinstance(text, Pieces) and len(text) < WINDOW and len(text) < len(secret):
        # Removing invisible characters only shortens a text: one this short holds no
        # window and cannot hold the (longer) secret (a short label, on every line).
        return False
    found = text if isinstance(text, Pieces) else pieces(text)
    if secret in found.text:
        return True
    if body is None:
        body = secret[len(public_prefix(secret)) :]
    return len(body) >= WINDOW and any(window in body for window in found.windows)


def _cut(text: str, starts: list[int]) -> str:
    """Replace each run covered by windows starting at ``starts`` with one marker."""
    out: list[str] = []
    position = 0
    end = -1
    for start in starts:
        if start > end:
            if end >= 0:
                out.append(REDACTED)
            out.append(text[position:start])
        end = max(end, start + WINDOW)
        position = end
    out.append(REDACTED)
    out.append(text[position:])
    return "".join(out)


def _random(run: str) -> bool:
    """Whether a run of key characters reads like a random token (a key without a prefix).

    At least 20 letters and digits, both present, switching between upper case, lower case and
    digits at least once every three characters (random base62/base64 do, on average more than
    once every two), or hex with at least 4 letters and 4 digits; words, ``camelCase`` names and
    ``name_2024`` labels do not. Public identifiers (``org-…``, ``req_…``) are not secrets.
    """
    if run.startswith(_PUBLIC_IDS):
        return False
    chars = [ch for ch in run if ch.isalnum()]
    if len(chars) < RANDOM_RUN:
        return False
    classes = [0 if ch.isdigit() else 1 if ch.islower() else 2 for ch in chars]
    if 0 not in classes or classes.count(0) == len(classes):
        return False
    digits = classes.count(0)
    if _HEX.fullmatch("".join(chars)) and 4 <= digits <= len(chars) - 4:
        return True
    changes = sum(1 for a, b in pairwise(classes) if a != b)
    return changes * 3 >= len(chars)


# No text shorter than this is key-shaped: a key-shaped word needs a (non-empty) prefix and
# keyshapes.WORD_BODY more characters, a bearer token more, a random token RANDOM_RUN.
SHORTEST_KEY_SHAPE = min(1 + keyshapes.WORD_BODY, RANDOM_RUN)


def looks_like_key(text: str, *, tokens: bool = True) -> bool:
    """Whether ``text`` holds something key-shaped (invisible characters ignored).

    That is a known key prefix then a long token, or a bearer token; with ``tokens``, also a
    long random-looking token without a prefix (relay and hex keys).
    """
    if len(text) < SHORTEST_KEY_SHAPE:
        return False  # too short for any of the shapes below (removing invisibles shortens)
    text = INVISIBLE.sub("", text)
    if keyshapes.looks_like_key(text):
        return True
    return tokens and any(_random(run.group()) for run in _TOKEN_RUN.finditer(text))


def holds_key(text: str, redactor: Redactor | None = None, *, tokens: bool = True) -> bool:
    """The one check for a field that must not carry a key.

    True when ``text`` is key-shaped (:func:`looks_like_key`), or when it holds a key
    registered in ``redactor`` or any 8-character run of that key's secret body.
    """
    return looks_like_key(text, tokens=tokens) or (redactor is not None and redactor.finds(text))


def redact_user_text(text: str) -> str:
    """``text`` (an error quoting what the user typed) with key shapes and random tokens cut."""
    text = keyshapes.token_pattern().sub(REDACTED, INVISIBLE.sub("", text))
    return _TOKEN_RUN.sub(lambda run: REDACTED if _random(run.group()) else run.group(), text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every registered secret (and any 8-character run of one) and key shapes."""
    return Redactor(secrets)(text)


def text_windows(visible: str) -> frozenset[str]:
    """Every ``WINDOW``-character run of key characters in ``visible`` (the only places a
    window of a key can lie)."""
    return frozenset(
        [
            visible[i : i + WINDOW]
            for run in _KEY_CHAR_RUN.finditer(visible)
            for i in range(run.start(), run.end() - WINDOW + 1)
        ]
    )


BLOCK = WINDOW // 2
FEW_BLOCKS_AFTER = 16  # texts with more windows than this are first looked up by blocks


# A text's blocks, each with the text's windows that cover it whole (see text_blocks()).
Blocks = Mapping[str, tuple[str, ...]]


def text_blocks(visible: str) -> dict[str, tuple[str, ...]]:
    """The ``BLOCK``-character pieces of ``visible``'s runs of key characters that start at a
    multiple of ``BLOCK`` from their run's start (a run of 8 or more; the last piece whole),
    each with the windows of its run that cover it whole.

    Every window of a key lying in ``visible`` lies in one run and covers one such piece
    whole, so a text none of whose blocks is in a key's body holds no window of it, and a
    text that holds one holds only windows covering a block found in the body.
    """
    covering: dict[str, list[str]] = {}
    for run in _KEY_CHAR_RUN.finditer(visible):
        start, end = run.start(), run.end()
        for i in range(start, end - BLOCK + 1, BLOCK):
            covering.setdefault(visible[i : i + BLOCK], []).extend(
                visible[j : j + WINDOW]
                for j in range(max(start, i - BLOCK), min(i, end - WINDOW) + 1)
            )
    return {block: tuple(dict.fromkeys(found)) for block, found in covering.items()}


# Cleaned short texts seen before (an endpoint, an organization, a grant id: often the same for
# every key), with what tells whether a key's redactor would change them. Only texts that held
# nothing of the redactor that cleaned them are kept; the cache is emptied when full, and when
# a provider registers more key prefixes (the key-shape pattern changes). An id of key
# characters enters only when seen a second time (see _SEEN_ONCE): one seen once, such as a
# new organization per key, is checked directly each time.
_CLEAN_CACHE: dict[tuple[str, int], tuple[str, frozenset[str], Blocks | None, str]] = {}
_CLEAN_CACHE_PATTERN: list[re.Pattern[str] | None] = [None]
CLEAN_CACHE_SIZE = 4096
CLEAN_CACHE_TEXT = 256  # longer texts are cleaned every time


def _cleaned(text: str, redactor: Redactor, limit: int) -> str | None:
    """``clean_message(text, redactor, limit)`` when ``redactor`` finds nothing in ``text``
    (from the cache, or computed and cached); ``None`` when it does (the general path)."""
    shapes = keyshapes.key_pattern()
    if shapes is not _CLEAN_CACHE_PATTERN[0]:
        _CLEAN_CACHE.clear()
        _CLEAN_CACHE_PATTERN[0] = shapes
    entry = _CLEAN_CACHE.get((text, limit))
    if entry is not None:
        return entry[3] if redactor.misses(entry[0], entry[1], entry[2]) else None
    token = _KEY_CHAR_RUN.fullmatch(text) is not None
    if token:  # one run of key characters (an organization id): nothing invisible, one run
        visible = text
        windows = frozenset([text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)])
    else:
        visible = INVISIBLE.sub("", text)
        windows = text_windows(visible)
    # Worth it for a text of many windows only (a grant's UUID; not an organization id).
    blocks = text_blocks(visible) if len(windows) > FEW_BLOCKS_AFTER else None
    if not redactor.misses(visible, windows, blocks):
        return None
    # Nothing of the key is in the text: the key's redactor does what an empty one does.
    result = shapes.sub(REDACTED, visible)
    if token:  # key characters and the marker: no control, no space; only the bound is left
        result = result if len(result) <= limit else result[: limit - 1] + "…"
    else:
        result = _finish(result, limit)
    if len(_CLEAN_CACHE) >= CLEAN_CACHE_SIZE:
        _CLEAN_CACHE.clear()
    _CLEAN_CACHE[(text, limit)] = (visible, windows, blocks, result)
    return result


# A text of these characters only: no control, space or invisible character, one run of key
# characters (no ``.``: a key may hold one, but a text without any is one of the common ids).
_KEY_SAFE = re.compile(r"[A-Za-z0-9_\-]+").fullmatch


def _unchanged(text: str, redactor: Redactor) -> bool:
    """Whether ``text``, made only of :data:`_KEY_SAFE` characters, holds no registered secret,
    no window of one's body and nothing key-shaped: then it is its own clean form.

    The text is one run of key characters, so its windows are its ``WINDOW``-character slices.
    Each window covers whole one of its ``BLOCK``-character pieces starting at a multiple of
    ``BLOCK``: only the windows covering a piece found in a body are looked up (a few, not
    every window of a grant's UUID when one of its blocks, such as ``0000``, is in the key).
    """
    for secret in redactor._secrets:  # a loop: no generator per call
        if secret in text:
            return False
    last = len(text) - WINDOW  # where the last window starts
    if last >= 0:
        for body in redactor._bodies:
            for block in range(0, last + BLOCK + 1, BLOCK):
                if text[block : block + BLOCK] in body:
                    for start in range(max(0, block - BLOCK), min(block, last) + 1):
                        if text[start : start + WINDOW] in body:
                            return False
    shapes = keyshapes.COMPILED.get("any") or keyshapes.key_pattern()
    return shapes.search(text) is None


# Ids that took the uncached path of :func:`clean_message` once: seen again, they are cached.
_SEEN_ONCE: set[str] = set()
SEEN_ONCE_SIZE = 4096  # emptied when full


def _first_sight(text: str) -> bool:
    """Whether ``text`` is not in :data:`_SEEN_ONCE`; it is from now on."""
    if text in _SEEN_ONCE:
        return False
    if len(_SEEN_ONCE) >= SEEN_ONCE_SIZE:
        _SEEN_ONCE.clear()
    _SEEN_ONCE.add(text)
    return True


def clean_message(text: str, secrets: Iterable[str] | Redactor = (), limit: int = 200) -> str:
    """A remote message made safe to keep: redacted, neutralised, single-line, bounded."""
    text = text[: limit * 4]  # only ``limit`` characters are kept: do not work on the rest
    if isinstance(secrets, Redactor) and len(text) <= CLEAN_CACHE_TEXT:
        entry = _CLEAN_CACHE.get((text, limit))
        if entry is not None and keyshapes.COMPILED.get("any") is _CLEAN_CACHE_PATTERN[0]:
            # A text cleaned before, under the key-shape pattern in use now (what _cleaned()
            # looks up first), answered here without its calls: most texts a check cleans.
            # A redactor of one key, without its window set, is asked here as misses() would
            # ask it (the case of every check: one key, a few short texts), without its call.
            bodies = secrets._bodies
            if len(bodies) == 1 and secrets._windows is None and len(entry[1]) <= FEW_WINDOWS:
                body = bodies[0]
                blocks = entry[2]
                if blocks is None:
                    found = any(map(body.__contains__, entry[1]))
                else:  # only the windows covering a block found in the body (rarely any)
                    for block in filter(body.__contains__, blocks):
                        if found := any(map(body.__contains__, blocks[block])):
                            break
                    else:
                        found = False
                if not found and secrets._secrets[0] not in entry[0]:
                    return entry[3]
            elif secrets.misses(entry[0], entry[1], entry[2]):
                return entry[3]
        elif (
            len(text) <= limit
            and _KEY_SAFE(text) is not None
            and _first_sight(text)
            and _unchanged(text, secrets)
        ):
            # An id seen for the first time (a new organization per key): nothing to redact,
            # neutralise or cut, and not cached (it would only push out what recurs).
            return text
        else:
            cached = _cleaned(text, secrets, limit)
            if cached is not None:
                return cached
    text = secrets(text) if isinstance(secrets, Redactor) else redact(text, secrets)
    return _finish(text, limit)


def _finish(text: str, limit: int) -> str:
    """The redacted ``text`` neutralised, on one line, bounded to ``limit`` characters."""
    text = neutralise(text.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_label(text: str, limit: int = 128) -> str:
    """A user or remote label made safe to show: neutralised and bounded."""
    text = neutralise(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
