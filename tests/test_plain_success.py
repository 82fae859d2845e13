"""A 2xx answer taken as a plain success without classifying it is one the classifier passes."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyledger.classify import error_info
from keyledger.providers.base import plain_success

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["error", "type", "message", "data", "x"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)
_BODIES = st.one_of(
    _JSON.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b"",
            b"  \n",
            b"<html>x</html>",
            b"{broken",
            b'{"error": null}',
            b'{"error": ""}',
            b'{"error": {"message": "m"}}',
            b'"text"',
            b"\x0c{}",
            b"NaN",
            b"\xff",
        ]
    ),
    st.binary(max_size=24),
)


@settings(max_examples=500)
@given(_BODIES, st.sampled_from([200, 201, 204, 299]))
@example(b'{"type": "error", "error": {}}', 200)
def test_a_plain_success_is_one_the_classifier_calls_a_success(body: bytes, status: int) -> None:
    """What plain_success accepts, error_info reads as JSON or empty without an error object."""
    if plain_success(body):
        info = error_info(status, body)
        assert info.body_kind in ("json", "empty")
        assert not info.has_error_object


def test_common_answers_are_plain_successes() -> None:
    """A credit-grants object and an empty body are plain; an error member or a page is not."""
    assert plain_success(b'{"object": "credit_summary", "total_granted": "1.00"}')
    assert plain_success(b"")
    assert not plain_success(b'{"error": {"message": "no"}}')
    assert not plain_success(b"<html><body>login</body></html>")
    assert not plain_success(b"{broken")
