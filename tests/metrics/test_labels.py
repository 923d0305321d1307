from __future__ import annotations

import pytest

from metrics.storage.labels import (
    InvalidSeries,
    sanitize_label_name,
    sanitize_metric_name,
    series_hash,
    validate_series,
)


def test_the_hash_ignores_label_order_and_empty_values():
    assert series_hash("up", {"a": "1", "b": "2"}) == series_hash("up", {"b": "2", "a": "1"})
    assert series_hash("up", {"a": "1", "b": ""}) == series_hash("up", {"a": "1"})
    assert series_hash("up", {"a": "1"}) != series_hash("up", {"a": "2"})
    assert series_hash("up", {"ab": "c"}) != series_hash("up", {"a": "bc"})


@pytest.mark.parametrize(
    ("name", "labels", "message"),
    [
        ("", {}, "series has no metric name (__name__ label)"),
        ("1up", {}, "invalid metric name '1up'"),
        ("http.requests", {}, "invalid metric name 'http.requests'"),
        ("up", {"bad-name": "x"}, "series up: invalid label name 'bad-name'"),
        ("up", {"__secret": "x"}, "series up: label names starting with __ are reserved"),
        ("up", {"v": "x" * 2049}, "series up: value of label v is longer than 2048 characters"),
    ],
)
def test_invalid_series_are_refused_with_the_rule(name, labels, message):
    with pytest.raises(InvalidSeries) as error:
        validate_series(name, labels)
    assert str(error.value).startswith(message)


def test_valid_series_pass():
    validate_series("http_requests_total", {"service": "cart", "code": "200", "_x": "ü"})


def test_opentelemetry_names_become_prometheus_names():
    assert sanitize_metric_name("http.server.duration") == "http_server_duration"
    assert sanitize_metric_name("2xx.count") == "_2xx_count"
    assert sanitize_label_name("service.name") == "service_name"
    assert sanitize_label_name("1st") == "key_1st"
