"""The Prometheus-shaped query API (`/api/v1/query`, `query_range`, `series`, `labels`,
`label/<name>/values`), readable with a `read` token (Grafana) or a logged-in session."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from coe_portal.accounts.auth import AuthenticationFailed, BearerTokenAuthentication, check_scope
from coe_portal.db import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_ERRORS,
    is_retryable_database_error,
    unavailable_message,
)
from metrics.backends import remote
from metrics.backends.errors import BackendQueryError, BackendUnavailable
from metrics.models import Chunk, Series, SeriesLabel
from metrics.prometheus_rules import firing_alerts, rule_groups
from metrics.promql.ast import VectorSelector
from metrics.promql.engine import check_range, check_range_expression, instant_query, range_query
from metrics.promql.errors import ExecutionError, ParseError, PromQLError
from metrics.promql.format import instant_data, range_data
from metrics.promql.lexer import parse_duration
from metrics.promql.parser import parse
from metrics.promql.printer import format_expr
from metrics.promql.stats import with_stats
from metrics.storage.reader import select_series


class BadRequest(Exception):
    pass


# Far beyond any real timestamp, well inside what 64-bit millisecond arrays can hold.
MAX_TIME_SECONDS = 9_000_000_000_000


def api_error(status: int, error_type: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"status": "error", "errorType": error_type, "error": message}, status=status
    )


def success(data: Any) -> HttpResponse:
    """A success in Prometheus's envelope, encoded by orjson (a week of points at a fine step
    is tens of thousands of values: the standard library's encoder took longer than the query)."""
    return HttpResponse(
        orjson.dumps({"status": "success", "data": data}), content_type="application/json"
    )


def query_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Session users and `read` tokens; errors in Prometheus's shape."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if not request.user.is_authenticated or "HTTP_AUTHORIZATION" in request.META:
                try:
                    token = BearerTokenAuthentication().authenticate(request)
                    check_scope(token, "read")
                    request.api_token = token  # type: ignore[attr-defined]
                except AuthenticationFailed as failure:
                    return failure.response()
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return api_error(400, "bad_data", str(exc))
        except BackendQueryError as exc:  # the backend's own words about the user's query
            return api_error(exc.status, exc.error_type, str(exc))
        except BackendUnavailable as exc:
            response = api_error(503, "unavailable", str(exc))
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        except ParseError as exc:
            return api_error(400, "bad_data", str(exc))
        except ExecutionError as exc:
            return api_error(422, "execution", str(exc))
        except PromQLError as exc:
            return api_error(400, exc.error_type, str(exc))
        except UNAVAILABLE_ERRORS as exc:
            if not is_retryable_database_error(exc):
                raise
            response = api_error(503, "unavailable", unavailable_message(exc, "the metric store"))
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response

    # Bearer requests carry no cookies, and a session user's POST still goes through CSRF
    # checks in practice only from our own pages, which send the token.
    return csrf_exempt(login_not_required(wrapped))


def _params(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else request.GET


def parse_time(raw: str | None, default_ms: int | None = None) -> int:
    if raw is None or raw == "":
        if default_ms is None:
            raise BadRequest("missing time parameter")
        return default_ms
    try:
        seconds = float(raw)
    except ValueError:
        try:
            return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise BadRequest(f'cannot parse "{raw}" to a valid timestamp') from None
    if math.isnan(seconds) or math.isinf(seconds) or abs(seconds) > MAX_TIME_SECONDS:
        raise BadRequest(f'cannot parse "{raw}" to a valid timestamp')
    return round(seconds * 1000)


def parse_step(raw: str | None) -> int:
    if not raw:
        raise BadRequest("missing step parameter")
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parse_duration(raw) / 1000
        except ParseError:
            raise BadRequest(f'cannot parse "{raw}" to a valid duration') from None
    if seconds <= 0 or math.isnan(seconds) or math.isinf(seconds):
        raise BadRequest(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return round(seconds * 1000)


def _param(params: Any, name: str, parse: Any, *args: Any) -> int:
    """A parameter parsed, its error worded as Prometheus's: `invalid parameter "start": …`."""
    try:
        return int(parse(params.get(name), *args))
    except BadRequest as exc:
        raise BadRequest(f'invalid parameter "{name}": {exc}') from None


def check_timeout(params: Any) -> None:
    """`timeout` must be a duration, as Prometheus checks it (the portal's own limits apply)."""
    raw = params.get("timeout")
    if raw:
        _param(params, "timeout", parse_step)


def _now_ms() -> int:
    return int(time.time() * 1000)


@require_http_methods(["GET", "POST"])
@query_api
def query(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    text = params.get("query")
    if not text:
        raise BadRequest("missing query parameter")
    at = _param(params, "time", parse_time, _now_ms())
    check_timeout(params)
    if (backend := remote()) is not None:
        # The store's own answer, as Grafana would get it from the store: no conversion there
        # and back (a week of points took several times the store's own time to convert).
        return success(backend.instant_answer(text, at, stats=params.get("stats", "")))
    if params.get("stats"):
        return success(with_stats(lambda src: instant_query(text, at, source=src), instant_data))
    return success(instant_data(instant_query(text, at)))


@require_http_methods(["GET", "POST"])
@query_api
def query_range_view(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    text = params.get("query")
    if not text:
        raise BadRequest("missing query parameter")
    start = _param(params, "start", parse_time)
    end = _param(params, "end", parse_time)
    if end < start:
        raise BadRequest('invalid parameter "end": end timestamp must not be before start time')
    step = _param(params, "step", parse_step)
    check_timeout(params)
    if (backend := remote()) is not None:
        check_range(start, end, step)
        check_range_expression(text)
        answer = backend.range_answer(text, start, end, step, stats=params.get("stats", ""))
        return success(answer)
    if params.get("stats"):
        run = lambda src: range_query(text, start, end, step, source=src)  # noqa: E731
        return success(with_stats(run, range_data))
    return success(range_data(range_query(text, start, end, step)))


def _selectors(params: Any) -> list[VectorSelector]:
    raw = params.getlist("match[]")
    selectors = []
    for text in raw:
        expr = parse(text)
        if not isinstance(expr, VectorSelector):
            raise BadRequest(f"match[] must be a series selector, got {text!r}")
        selectors.append(expr)
    return selectors


def _passed_through(params: Any) -> list[tuple[str, str]]:
    """The lookup's parameters as the backend's API takes them (after checking the selectors
    parse, so a typo gets the same 400 from any backend)."""
    _selectors(params)
    return [
        (key, value)
        for key in ("match[]", "start", "end", "limit")
        for value in params.getlist(key)
    ]


def _window(params: Any) -> tuple[int, int] | None:
    """The lookup's `start`/`end`, if either is given (missing ends are open)."""
    if not params.get("start") and not params.get("end"):
        return None
    start = _param(params, "start", parse_time, -MAX_TIME_SECONDS * 1000)
    end = _param(params, "end", parse_time, MAX_TIME_SECONDS * 1000)
    return start, end


def _series_ids(params: Any) -> set[int] | None:
    """The series a lookup covers: those its match[] selectors select, with a sample between
    `start` and `end` when they are given; None for every series."""
    selectors = _selectors(params)
    window = _window(params)
    if not selectors and window is None:
        return None
    ids: set[int] | None = None
    if selectors:
        ids = set()
        for selector in selectors:
            ids.update(ref.id for ref in select_series(selector.matchers))
    if window is not None:
        ids = _with_samples_in(window, ids)
    return ids


def _with_samples_in(window: tuple[int, int], ids: set[int] | None) -> set[int]:
    """Of `ids` (None: every series), those with a sample between the window's ends."""
    chunks = Chunk.objects.filter(max_time__gte=window[0], min_time__lte=window[1])
    if ids is not None:
        chunks = chunks.filter(series_id__in=ids)
    return set(chunks.values_list("series_id", flat=True).distinct())


@require_http_methods(["GET", "POST"])
@query_api
def series(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    selectors = _selectors(params)
    if not selectors:
        raise BadRequest("no match[] parameter provided")
    if (backend := remote()) is not None:
        return success(backend.series(_passed_through(params)))
    found: dict[int, dict[str, str]] = {}
    for selector in selectors:
        for ref in select_series(selector.matchers):
            found[ref.id] = ref.all_labels()
    if (window := _window(params)) is not None:
        kept = _with_samples_in(window, set(found))
        found = {series_id: labels for series_id, labels in found.items() if series_id in kept}
    return success(sorted(found.values(), key=lambda labels: sorted(labels.items())))


@require_http_methods(["GET", "POST"])
@query_api
def labels(request: HttpRequest) -> HttpResponse:
    if (backend := remote()) is not None:
        return success(backend.labels(_passed_through(_params(request))))
    ids = _series_ids(_params(request))
    rows = SeriesLabel.objects.all()
    if ids is not None:
        rows = rows.filter(series_id__in=ids)
    names = set(rows.values_list("name", flat=True).distinct())
    if ids is None or ids:
        names.add("__name__")
    return success(sorted(names))


@require_http_methods(["GET"])
@query_api
def label_values(request: HttpRequest, name: str) -> HttpResponse:
    if (backend := remote()) is not None:
        return success(backend.label_values(name, _passed_through(request.GET)))
    ids = _series_ids(request.GET)
    values: set[str]
    if name == "__name__":
        rows = Series.objects.all()
        if ids is not None:
            rows = rows.filter(id__in=ids)
        values = set(rows.values_list("metric_name", flat=True).distinct())
    else:
        label_rows = SeriesLabel.objects.filter(name=name)
        if ids is not None:
            label_rows = label_rows.filter(series_id__in=ids)
        values = set(label_rows.values_list("value", flat=True).distinct())
    return success(sorted(values))


# Endpoints Grafana's Prometheus data source calls besides queries. The build info says which
# Prometheus the query language follows, so Grafana enables the matching features.
PROMQL_COMPATIBLE_VERSION = "2.42.0"


@require_http_methods(["GET"])
@query_api
def build_info(request: HttpRequest) -> HttpResponse:
    return success(
        {
            "version": PROMQL_COMPATIBLE_VERSION,
            "revision": "coe-portal",
            "branch": "coe-portal",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        }
    )


@require_http_methods(["GET", "POST"])
@query_api
def metadata(request: HttpRequest) -> HttpResponse:
    """Metric metadata (HELP/TYPE) is not kept yet: an empty answer, as for unknown metrics."""
    return success({})


@require_http_methods(["GET", "POST"])
@query_api
def query_exemplars(request: HttpRequest) -> HttpResponse:
    """Exemplars are not stored: always none."""
    return success([])


@require_http_methods(["GET", "POST"])
@query_api
def format_query(request: HttpRequest) -> HttpResponse:
    """The query in Prometheus's canonical form (a parse error is 400, as for a query)."""
    text = _params(request).get("query")
    if not text:
        raise BadRequest("missing query parameter")
    return success(format_expr(parse(text)))


@require_http_methods(["GET"])
@query_api
def rules(request: HttpRequest) -> HttpResponse:
    """The SLOs' burn-rate alerts and the alarms as Prometheus alerting-rule groups (there are
    no recording rules: `type=record` answers none)."""
    wanted = request.GET.get("type", "")
    if wanted not in ("", "alert", "record"):
        raise BadRequest(f'invalid parameter "type": unknown rule type "{wanted}"')
    groups = [] if wanted == "record" else rule_groups()
    return success({"groups": groups})


@require_http_methods(["GET"])
@query_api
def alerts(request: HttpRequest) -> HttpResponse:
    """What fires now: the SLO burn-rate alerts and alarms in ALARM, as Prometheus alerts."""
    return success({"alerts": firing_alerts()})
