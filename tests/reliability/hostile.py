"""Hypothesis strategies for hostile inputs, shared by the webhook and GraphQL tests.

Values that a BSON document cannot hold (a NUL in a key, a lone surrogate, an integer
beyond 64 bits, NaN, deep nesting) are left out of the general strategies and checked case
by case in ``test_webhook_hostile.py``: the webhook inbox accepts such deliveries and keeps
their raw bytes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

INT64 = (-(2**63), 2**63 - 1)

# Everything printable and unprintable except NUL and surrogates: emoji, RTL marks,
# combining characters, zero-width joiners, control characters...
storable_text = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40
)
weird_text = st.one_of(
    storable_text,
    st.sampled_from(
        [
            "",
            " ",
            "\u202e\u202dRTL",
            "e\u0301\u0301\u0301",
            "\U0001f4a9" * 20,
            "\ufeffbom",
            "\u200d\u200b",
            "$where",
            "a.b",
            "{{7*7}}",
            "'; DROP TABLE leads; --",
            "<script>alert(1)</script>",
            "../../etc/passwd",
            "%00%ff",
            "\\u0000",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(*INT64),
    st.floats(allow_nan=False, allow_infinity=False),
    weird_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(storable_text, children, max_size=5)
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(storable_text, json_values, max_size=8)
non_objects = json_values.filter(lambda v: not isinstance(v, dict))


@st.composite
def broken_json(draw: st.DrawFn) -> bytes:
    """Bytes that are almost, or not at all, JSON: random bytes, a valid document cut or
    spliced at a random point, invalid UTF-8 inside a string."""
    kind = draw(st.sampled_from(["bytes", "cut", "splice", "utf8"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    text = json.dumps(draw(json_objects)).encode()
    at = draw(st.integers(0, len(text)))
    if kind == "cut":
        return text[:at]
    if kind == "splice":
        return text[:at] + draw(st.sampled_from([b"{", b"}", b",", b'"', b"\\", b"]", b":"]))
    return b'{"_model": "crm.lead", "_id": 1, "x": "' + draw(st.binary(min_size=1)) + b'"}'


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
