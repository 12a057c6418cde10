"""Every error gets a code; only ApiError messages and input errors reach clients."""

from __future__ import annotations

from graphql import GraphQLError, parse

from schema.error_codes import classify, ensure_codes, is_unexpected, with_code
from schema.errors import Forbidden, Unauthenticated


def field_error(cause: Exception) -> GraphQLError:
    node = parse("{ a }").definitions[0]
    return GraphQLError(str(cause), nodes=[node], path=["a"], original_error=cause)


def test_api_errors_keep_their_code_and_message() -> None:
    assert classify(field_error(Forbidden("Only admins"))) == ("FORBIDDEN", "Only admins")
    wrapped = GraphQLError("x", original_error=GraphQLError("y", original_error=Unauthenticated()))
    assert classify(wrapped)[0] == "UNAUTHENTICATED"


def test_unexpected_errors_are_internal_and_generic() -> None:
    error = with_code(field_error(RuntimeError("secret at /srv/app.py")))
    assert error.message == "Internal server error"
    assert error.extensions == {"code": "INTERNAL"}
    assert error.original_error is None
    # An exception from running code outside a field (a subscription's source) too:
    assert classify(GraphQLError("boom", original_error=ValueError("secret")))[0] == "INTERNAL"


def test_validation_and_coercion_errors_are_bad_user_input() -> None:
    node = parse("query($x: Int) { a }").definitions[0]
    assert classify(GraphQLError("Cannot query field 'b'.", nodes=[node]))[0] == "BAD_USER_INPUT"
    coercion = GraphQLError("Expected type 'Date'.", nodes=[node], original_error=ValueError("d"))
    assert classify(coercion)[0] == "BAD_USER_INPUT"


def test_the_transport_masks_anything_without_a_code() -> None:
    coded = {"message": "no", "extensions": {"code": "FORBIDDEN"}}
    raw = {"message": "KeyError: 'secret'", "path": ["a"], "locations": []}
    assert ensure_codes([coded, raw, "junk"]) == [
        coded,
        {"message": "Internal server error", "extensions": {"code": "INTERNAL"}, "path": ["a"]},
        {"message": "Internal server error", "extensions": {"code": "INTERNAL"}},
    ]


class DatabaseDown(ConnectionError):
    pass


OUTAGES = {DatabaseDown: "the database"}


def test_an_outage_says_what_is_down_and_is_not_a_bug() -> None:
    error = field_error(DatabaseDown("connection refused to mongo://10.0.0.5:27017"))
    assert classify(error, OUTAGES) == (
        "INTERNAL",
        "Temporarily unavailable: the database cannot be reached; retry shortly",
    )
    coded = with_code(error, OUTAGES)
    assert coded.extensions == {"code": "INTERNAL"}
    assert "10.0.0.5" not in coded.message  # what is down, never where or why
    assert not is_unexpected(error, OUTAGES)
    # Without being told, the same exception is a bug: generic message, logged in full.
    assert classify(error) == ("INTERNAL", "Internal server error")
    assert is_unexpected(error)
    # Another exception type stays generic even when outages are known.
    assert classify(field_error(KeyError("x")), OUTAGES) == ("INTERNAL", "Internal server error")
