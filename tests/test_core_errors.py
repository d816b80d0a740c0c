"""core/errors: the error vocabulary, provider bodies and codes, and finish reasons."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from core.errors import (
    ZHIPU_CODES,
    ErrorKind,
    PlaygroundError,
    from_finish_reason,
    from_http,
    kind_for,
    parse_error_body,
)

ZHIPU_BODY = json.dumps({"error": {"code": "1261", "message": "Prompt 超长"}}, ensure_ascii=False)
OPENAI_BODY = json.dumps({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                    "code": "invalid_api_key"}})


# ---- parse_error_body ------------------------------------------------------------------------
def test_parse_zhipu_body() -> None:
    assert parse_error_body(ZHIPU_BODY) == ("1261", "Prompt 超长")


def test_parse_zhipu_body_with_numeric_code() -> None:
    assert parse_error_body('{"error": {"code": 1113, "message": "欠费"}}') == ("1113", "欠费")


def test_parse_openai_body() -> None:
    assert parse_error_body(OPENAI_BODY) == ("invalid_api_key", "Incorrect API key provided")


def test_parse_openai_body_with_null_code() -> None:
    body = '{"error": {"message": "bad", "type": "invalid_request_error", "code": null}}'
    assert parse_error_body(body) == (None, "bad")


def test_parse_flat_body_with_msg() -> None:
    assert parse_error_body('{"code": "1002", "msg": "token invalid"}') == ("1002", "token invalid")


def test_parse_bytes_utf8() -> None:
    assert parse_error_body(ZHIPU_BODY.encode("utf-8")) == ("1261", "Prompt 超长")


def test_parse_plain_text_is_message_without_code() -> None:
    assert parse_error_body("  502 Bad Gateway\n") == (None, "502 Bad Gateway")


def test_parse_garbage_bytes_do_not_raise() -> None:
    code, message = parse_error_body(b"\xff\xfe<html>oops")
    assert code is None and "<html>oops" in message


def test_parse_none_and_empty() -> None:
    assert parse_error_body(None) == (None, "")
    assert parse_error_body("") == (None, "")


def test_parse_json_that_is_not_an_object() -> None:
    assert parse_error_body("[1, 2]") == (None, "[1, 2]")
    assert parse_error_body('{"error": "just a string"}') == (None, "{'error': 'just a string'}")


def test_parse_long_text_is_cut() -> None:
    code, message = parse_error_body("x" * 5000)
    assert code is None and len(message) == 500


# ---- kind_for -------------------------------------------------------------------------------
FACT_CODES = {
    **{str(c): ErrorKind.AUTH for c in range(1000, 1005)},
    "1113": ErrorKind.QUOTA,
    "1210": ErrorKind.INVALID_REQUEST,
    "1211": ErrorKind.MODEL_NOT_FOUND,
    "1214": ErrorKind.INVALID_REQUEST,
    "1261": ErrorKind.PROMPT_TOO_LONG,
    "1301": ErrorKind.CONTENT_FILTERED,
    "1302": ErrorKind.RATE_LIMIT,
    "1303": ErrorKind.RATE_LIMIT,
    "1304": ErrorKind.QUOTA,
    "1305": ErrorKind.RATE_LIMIT,
}


@pytest.mark.parametrize(("code", "kind"), sorted(FACT_CODES.items()))
def test_every_documented_zhipu_code(code: str, kind: ErrorKind) -> None:
    assert ZHIPU_CODES[code] is kind
    # whatever status it comes with, the code decides
    for status in (None, 400, 401, 429, 500):
        assert kind_for(status, code) is kind


def test_code_beats_status() -> None:
    assert kind_for(429, "1113") is ErrorKind.QUOTA  # not RATE_LIMIT
    assert kind_for(400, "1261") is ErrorKind.PROMPT_TOO_LONG  # not INVALID_REQUEST
    assert kind_for(400, "1301") is ErrorKind.CONTENT_FILTERED
    assert kind_for(503, "1305") is ErrorKind.RATE_LIMIT  # not SERVER_ERROR
    assert kind_for(400, "context_length_exceeded") is ErrorKind.PROMPT_TOO_LONG
    assert kind_for(429, "insufficient_quota") is ErrorKind.QUOTA


def test_unknown_code_falls_back_to_status() -> None:
    assert kind_for(401, "whatever") is ErrorKind.AUTH
    assert kind_for(500, "500") is ErrorKind.SERVER_ERROR


@pytest.mark.parametrize(("status", "kind"), [
    (400, ErrorKind.INVALID_REQUEST), (401, ErrorKind.AUTH), (402, ErrorKind.QUOTA),
    (403, ErrorKind.AUTH), (404, ErrorKind.MODEL_NOT_FOUND), (408, ErrorKind.TIMEOUT),
    (413, ErrorKind.PROMPT_TOO_LONG), (418, ErrorKind.INVALID_REQUEST), (422, ErrorKind.INVALID_REQUEST),
    (429, ErrorKind.RATE_LIMIT), (500, ErrorKind.SERVER_ERROR), (502, ErrorKind.SERVER_ERROR),
    (503, ErrorKind.SERVER_ERROR), (302, ErrorKind.UNKNOWN), (None, ErrorKind.UNKNOWN),
])
def test_kind_for_status_only(status: int | None, kind: ErrorKind) -> None:
    assert kind_for(status, None) is kind


# ---- from_http ------------------------------------------------------------------------------
def test_from_http_zhipu() -> None:
    err = from_http(400, ZHIPU_BODY)
    assert (err.kind, err.code, err.status) == (ErrorKind.PROMPT_TOO_LONG, "1261", 400)
    assert err.detail == "Prompt 超长"


def test_from_http_openai_auth() -> None:
    err = from_http(401, OPENAI_BODY.encode())
    assert (err.kind, err.code, err.status) == (ErrorKind.AUTH, "invalid_api_key", 401)
    assert err.detail == "Incorrect API key provided"


def test_from_http_html_gateway_page() -> None:
    err = from_http(502, "<html><body>Bad Gateway</body></html>")
    assert err.kind is ErrorKind.SERVER_ERROR and err.code is None
    assert "Bad Gateway" in err.detail


# ---- from_finish_reason ---------------------------------------------------------------------
def test_finish_sensitive_is_zhipu_1301() -> None:
    err = from_finish_reason("sensitive")
    assert err is not None and err.kind is ErrorKind.CONTENT_FILTERED and err.code == "1301"


def test_finish_content_filter_has_no_code() -> None:
    err = from_finish_reason("content_filter")
    assert err is not None and err.kind is ErrorKind.CONTENT_FILTERED and err.code is None


def test_finish_network_error_is_a_cut_stream() -> None:
    err = from_finish_reason("network_error")
    assert err is not None and err.kind is ErrorKind.STREAM_BROKEN


@pytest.mark.parametrize("reason", [None, "stop", "length", "tool_calls"])
def test_normal_finish_is_no_error(reason: str | None) -> None:
    assert from_finish_reason(reason) is None


# ---- PlaygroundError itself -----------------------------------------------------------------
def test_str_names_kind_code_status_and_detail() -> None:
    err = PlaygroundError(ErrorKind.QUOTA, code="1113", status=429, detail="欠费")
    assert str(err) == "quota | code 1113 | HTTP 429 | 欠费"
    assert str(PlaygroundError(ErrorKind.UNKNOWN)) == "unknown"


def test_message_key_prefers_the_code_fix() -> None:
    assert PlaygroundError(ErrorKind.QUOTA, code="1113").message_key == "error.code.1113"
    assert PlaygroundError(ErrorKind.SERVER_ERROR, code="500").message_key == "error.server_error.fix"
    assert PlaygroundError(ErrorKind.AUTH).message_key == "error.auth.fix"
    assert PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.no_model"}).message_key == (
        "validation.no_model")
    assert PlaygroundError(ErrorKind.AUTH, code="1002").code_key == "error.code.1002"
    assert PlaygroundError(ErrorKind.AUTH).code_key is None


def test_copy_and_pickle_keep_every_field() -> None:
    err = PlaygroundError(ErrorKind.RATE_LIMIT, code="1302", status=429, detail="busy", params={"n": 1})
    for clone in (copy.deepcopy(err), pickle.loads(pickle.dumps(err))):
        assert isinstance(clone, PlaygroundError)
        assert (clone.kind, clone.code, clone.status, clone.detail, clone.params) == (
            ErrorKind.RATE_LIMIT, "1302", 429, "busy", {"n": 1})


def test_errors_are_hashable_and_compare_by_identity() -> None:
    a = PlaygroundError(ErrorKind.AUTH)
    b = PlaygroundError(ErrorKind.AUTH)
    assert a != b and a == a and len({a, b}) == 2


def test_kind_given_as_text_becomes_the_enum() -> None:
    assert PlaygroundError("timeout").kind is ErrorKind.TIMEOUT  # type: ignore[arg-type]


def test_request_id_of_a_failed_call_is_kept_and_shown() -> None:
    import copy

    from core.error_text import explain
    from core.errors import request_id_of

    class Response:
        def __init__(self) -> None:
            self.headers = {"x-request-id": "fake-42"}

    err = from_http(429, '{"error": {"code": "1113", "message": "欠费"}}', request_id_of(Response()))
    assert err.request_id == "fake-42"
    assert copy.deepcopy(err).request_id == "fake-42"
    assert "fake-42" in explain(err, "en").code_line and "1113" in explain(err, "zh").code_line
    assert request_id_of(None) is None and request_id_of(object()) is None
