"""Payloads that used to reach the database or the interpreter's stack and come back as 500
(which every sender retries forever): each now gets the 4xx its protocol defines, naming the
problem, and whatever else the request carried is stored as usual."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from coe_portal.accounts.services import api_token_create
from coe_portal.safe_json import JSONInputError, load_json
from metrics.alarms.models import Alarm
from metrics.traces.models import Span
from tests.metrics.helpers import snappy, write_request
from tests.metrics.test_alertmanager import webhook
from tests.metrics.test_otlp_traces import request_with, span

DEEP = b"[" * 10_000 + b"]" * 10_000
# A lone surrogate is valid JSON but not a Unicode character: UTF-8 cannot encode it.
SURROGATE = '"\\ud800"'


@pytest.fixture
def token(org):
    return api_token_create(team=org.checkout, name="hostile", scopes=["ingest", "read", "write"])


def post(client, token, url, body, content_type="application/json"):
    return client.post(
        url, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    )


# The JSON reader --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"a": [1, {"b": "x\\u0000y"}]}', "a[1].b: the value contains a NUL character"),
        (b'{"k\\u0000": 1}', '"k\\u0000": the key contains a NUL character'),
        (b'{"a": ' + SURROGATE.encode() + b"}", "a: the value contains a lone surrogate"),
        (DEEP, "body is not valid JSON: nested deeper than 64"),
        (b"[" * 65 + b"]" * 65, "body is not valid JSON: nested deeper than 64"),
        (b"1" * 5000, "body is not valid JSON: Exceeds the limit"),
        (b'{"a": ', "body is not valid JSON: Expecting value"),
    ],
)
def test_the_json_reader_names_what_cannot_be_stored(payload, message):
    with pytest.raises(JSONInputError) as caught:
        load_json(payload)
    assert str(caught.value).startswith(message)


def test_the_json_reader_takes_unicode_and_64_levels():
    assert load_json('{"name": "café ☕", "n": [[1]]}'.encode()) == {
        "name": "café ☕",
        "n": [[1]],
    }
    assert load_json(b"[" * 64 + b"]" * 64) is not None


# OTLP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/v1/metrics", "/v1/traces"])
def test_otlp_json_nested_10_000_deep_is_a_400(client, token, url):
    response = post(client, token, url, DEEP)
    assert response.status_code == 400
    assert "nested deeper than 64" in response.json()["message"]


def test_otlp_json_with_a_surrogate_is_a_400(client, token):
    body = '{"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", '
    body += f'"value": {{"stringValue": {SURROGATE}}}}}]}}}}]}}'
    response = post(client, token, "/v1/traces", body.encode())
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["message"]


def spans_answer(response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    return ExportTraceServiceResponse.FromString(response.content)


def test_spans_the_database_cannot_hold_are_refused_one_by_one(client, token):
    with_nul = span("00f067aa0ba902b7", name="GET /cart\x00")
    bad_event = span("00f067aa0ba902b8")
    bad_event.events.add(name="retry\x00", time_unix_nano=bad_event.start_time_unix_nano)
    late_event = span("00f067aa0ba902b9")
    late_event.events.add(name="retry", time_unix_nano=2**64 - 1)
    endless = span("00f067aa0ba902ba")
    endless.end_time_unix_nano = 2**64 - 1
    bad_attribute = span("00f067aa0ba902bb")
    attribute = bad_attribute.attributes.add()
    attribute.key, attribute.value.string_value = "user", "a\x00b"
    body = request_with(
        span("53995c3f42cd8ad8"), with_nul, bad_event, late_event, endless, bad_attribute
    )
    result = spans_answer(post(client, token, "/v1/traces", body, "application/x-protobuf"))
    assert result.partial_success.rejected_spans == 5
    message = result.partial_success.error_message
    assert "the span name contains a NUL character" in message
    assert "an event name contains a NUL character" in message
    assert "an event's time_unix_nano is after 2262-04-11" in message
    assert "end_time_unix_nano is after 2262-04-11" in message
    assert "attribute 'user' contains a NUL character" in message
    assert list(Span.objects.values_list("span_id", flat=True)) == ["53995c3f42cd8ad8"]


def test_a_resource_the_database_cannot_hold_refuses_its_spans(client, token):
    body = request_with(span("53995c3f42cd8ad8"), span("00f067aa0ba902b7"), service="ca\x00rt")
    result = spans_answer(post(client, token, "/v1/traces", body, "application/x-protobuf"))
    assert result.partial_success.rejected_spans == 2
    assert "resource: attribute 'service.name' contains a NUL character" in (
        result.partial_success.error_message
    )
    assert not Span.objects.exists()


# Zipkin ----------------------------------------------------------------------------------


def zipkin(**fields) -> dict:
    return {
        "traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "name": "get /stock",
        "timestamp": 1_764_000_000_000_000, "duration": 2_500, "kind": "SERVER",
        "localEndpoint": {"serviceName": "inventory"}, **fields,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json.dumps([zipkin()]).replace('"get /stock"', SURROGATE), "lone surrogate"),
        (json.dumps([zipkin(name="get\x00")]), "contains a NUL character"),
        (json.dumps([zipkin(timestamp=2**64 - 1)]), "timestamp is after 2262-04-11"),
        (json.dumps([zipkin(duration=10**30)]), "duration is after 2262-04-11"),
        (DEEP.decode(), "nested deeper than 64"),
    ],
)
def test_zipkin_refuses_what_cannot_be_stored_with_a_400(client, token, body, message):
    response = post(client, token, "/api/v2/spans", body.encode())
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Span.objects.exists()


# Alertmanager -----------------------------------------------------------------------------


def alert_with(**fields) -> dict:
    body = webhook("firing")
    body["alerts"][0].update(fields)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (alert_with(labels=["alertname"]), "alerts[0].labels must be an object of strings"),
        (alert_with(labels={"alertname": "A", "n": 1}), "alerts[0].labels must be an object"),
        (alert_with(annotations="summary"), "alerts[0].annotations must be an object of strings"),
        (alert_with(startsAt=1764000000), "alerts[0].startsAt must be a string"),
        (alert_with(fingerprint={"a": 1}), "alerts[0].fingerprint must be a string"),
        (alert_with(startsAt="9999-12-31T23:59:59-23:00"), "startsAt '9999-12-31T23:59:59-23"),
        (alert_with(labels={"alertname": "A\x00"}), "contains a NUL character"),
    ],
)
def test_alertmanager_fields_of_the_wrong_type_are_a_400(client, token, body, message):
    response = post(client, token, "/api/v1/alertmanager", json.dumps(body).encode())
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]
    assert not Alarm.objects.exists()


def test_alertmanager_fingerprints_sharing_8_characters_get_two_alarms(client, token):
    first = alert_with(fingerprint="c4f3d2a1b0e9f8a7")
    second = alert_with(fingerprint="c4f3d2a1ffffffff")
    for body in (first, second):
        response = post(client, token, "/api/v1/alertmanager", json.dumps(body).encode())
        assert response.status_code == 200, response.content
    names = dict(Alarm.objects.values_list("external_fingerprint", "name"))
    assert names["c4f3d2a1b0e9f8a7"] == "highlatency-c4f3d2a1"
    longer = names["c4f3d2a1ffffffff"]
    assert longer.startswith("highlatency-")
    assert len(longer) == len("highlatency-") + 16


# Remote write -------------------------------------------------------------------------------


def test_a_label_value_with_a_nul_is_refused_and_the_rest_stored(client, token):
    payload = write_request(
        [
            ({"__name__": "up", "job": "api\x00"}, [(1_700_000_000_000, 1.0)]),
            ({"__name__": "up", "job": "web"}, [(1_700_000_000_000, 1.0)]),
        ]
    )
    response = post(client, token, "/api/v1/write", snappy(payload), "application/x-protobuf")
    assert response.status_code == 400
    assert response.content.decode() == ("series up: value of label job contains a NUL character\n")
    query = client.get(
        "/api/v1/query",
        {"query": "up", "time": "1700000000"},
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )
    assert [r["metric"]["job"] for r in query.json()["data"]["result"]] == ["web"]


# PromQL and the REST API ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["(" * 100_000 + "1" + ")" * 100_000, "-" * 10_000 + "1", " + ".join(["1"] * 300)]
)
def test_a_query_nested_too_deep_is_a_400(client, token, query):
    response = client.post(
        "/api/v1/query", {"query": query}, HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    )
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "errorType": "bad_data",
        "error": "query is nested deeper than 200 levels",
    }


def test_a_query_200_levels_deep_is_answered(client, token):
    response = client.post(
        "/api/v1/query",
        {"query": "(" * 199 + "1" + ")" * 199, "time": "1700000000"},
        HTTP_AUTHORIZATION=f"Bearer {token.secret}",
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"resultType": "scalar", "result": [1700000000, "1"]}


@pytest.mark.parametrize(
    "body",
    [
        f'{{"title": {SURROGATE}}}',
        '{"title": "checkout\\u0000down"}',
        "[" * 10_000 + "]" * 10_000,
    ],
)
def test_opening_an_incident_with_unstorable_json_is_a_400(client, token, body):
    response = post(client, token, "/api/v1/incidents", body.encode())
    assert response.status_code == 400
    assert response.json()["status"] == "error"


# Found by the fuzz suite (tests/fuzz) -----------------------------------------------------


@pytest.fixture
def incident(client, token, org):
    response = post(client, token, "/api/v1/incidents", b'{"title": "Cart 500s"}')
    assert response.status_code == 201
    return response.json()["data"]["id"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"title": "t" * 201}, {"title": ["at most 200 characters (got 201)"]}),
        ({"title": ["Cart"]}, {"title": ["must be a string"]}),
        ({"title": "Cart", "services": [0]}, {"services": ["a list of service names"]}),
        ({"title": "Cart", "services": [["cart"]]}, {"services": ["a list of service names"]}),
        ({"title": "Cart", "severity": ["SEV1"]}, {"severity": ["one of SEV1, SEV2, SEV3, SEV4"]}),
        ({"title": "Cart", "summary": {"a": 1}}, {"summary": ["must be a string"]}),
        ({"title": "Cart", "restricted": "no"}, {"restricted": ["must be true or false"]}),
        (
            {"title": "Cart", "started_at": "2026-13-45T10:00:00Z"},
            {"started_at": ["give an ISO 8601 time with a zone, e.g. 2026-11-23T10:00Z"]},
        ),
        (
            {"title": "Cart", "started_at": "9999-12-31T23:59:59-23:00"},
            {"started_at": ["give a time between the years 1 and 9999 in UTC"]},
        ),
        (
            {"title": "Cart", "detected_at": "0001-01-01T00:00:00+14:00"},
            {"detected_at": ["give a time between the years 1 and 9999 in UTC"]},
        ),
    ],
)
def test_incident_fields_of_the_wrong_type_or_size_are_a_400_naming_them(
    client, token, body, errors
):
    from incidents.incident.models import Incident

    response = post(client, token, "/api/v1/incidents", json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json() == {"status": "error", "error": "invalid fields", "errors": errors}
    assert not Incident.objects.exists()


def test_a_title_of_200_characters_is_stored_whole(client, token):
    response = post(client, token, "/api/v1/incidents", json.dumps({"title": "t" * 200}).encode())
    assert response.status_code == 201
    assert response.json()["data"]["title"] == "t" * 200


@pytest.mark.parametrize(
    ("suffix", "body", "errors"),
    [
        ("timeline", {"text": 5}, {"text": ["must be a string"]}),
        ("timeline", {"text": "x", "kind": ["note"]}, {"kind": ["one of note, deploy, action"]}),
        ("timeline", {"text": "x", "at": "2026-02-30T10:00:00Z"}, {
            "at": ["give an ISO 8601 time with a zone, e.g. 2026-11-23T10:00Z"]
        }),
        ("status", {"status": {"to": "resolved"}}, {"status": ["must be a string"]}),
    ],
)  # fmt: skip
def test_timeline_and_status_fields_of_the_wrong_type_are_a_400(
    client, token, incident, suffix, body, errors
):
    url = f"/api/v1/incidents/{incident}/{suffix}"
    response = post(client, token, url, json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json() == {"status": "error", "error": "invalid fields", "errors": errors}


def test_zipkin_kind_of_the_wrong_type_is_a_400(client, token):
    response = post(client, token, "/api/v2/spans", json.dumps([zipkin(kind=["SERVER"])]).encode())
    assert response.status_code == 400
    assert response.content.decode() == (
        "1 span(s) could not be read, none stored: span 0: unknown kind ['SERVER']\n"
    )
    assert not Span.objects.exists()


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ({"labels": None}, "alerts[0].labels must be an object of strings"),
        ("no labels", "alerts[0]: labels must include alertname"),
        (
            {"startsAt": "0001-01-01T00:00:00Z" + "x" * 100},
            "alerts[0].startsAt is longer than 64 characters",
        ),
    ],
)
def test_alertmanager_alerts_without_labels_or_with_long_times_are_a_400(
    client, token, alert, message
):
    body = webhook("firing")
    if alert == "no labels":
        del body["alerts"][0]["labels"]
    else:
        body["alerts"][0].update(alert)
    response = post(client, token, "/api/v1/alertmanager", json.dumps(body).encode())
    assert response.status_code == 400, response.content
    assert response.json() == {"status": "error", "error": message}
    assert not Alarm.objects.exists()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('up{job="a\\x00"}', "string at position 7 contains a NUL character"),
        ('up{job="a\\u0000"}', "string at position 7 contains a NUL character"),
        ("up{job='\\ud800'}", "string at position 7 contains a lone surrogate (\\ud800-\\udfff)"),
        ("up\x00", "unexpected NUL character at position 2"),
        ('up{job="\\u00"}', 'bad escape \\u00"} in string'),
        ("0x" + "f" * 300, 'number "0xffffffffffffffffffffffffffffffffffffff" is out of range'),
        # str.isdigit() holds for superscripts, which no number pattern matches.
        ("\u00b9", "unexpected character '\u00b9' at position 0"),
        ("rate(up[\u0663m])", "unexpected character '\u0663' at position 8"),
        (
            "rate(up[99999999999999y])",
            'bad duration "99999999999999y": out of range (at most 292 years)',
        ),
        ("up offset 293y", 'bad duration "293y": out of range (at most 292 years)'),
    ],
)
def test_a_query_the_store_cannot_answer_is_a_400(client, token, query, message):
    response = client.post(
        "/api/v1/query", {"query": query}, HTTP_AUTHORIZATION=f"Bearer {token.secret}"
    )
    assert response.status_code == 400
    assert response.json() == {"status": "error", "errorType": "bad_data", "error": message}
