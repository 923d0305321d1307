"""HTTP endpoints of the intake. Each reads the body, decodes it with its protocol module,
writes through `storage.writer`, and answers as its protocol defines."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from coe_portal.accounts.auth import token_required
from coe_portal.accounts.models import ApiToken
from coe_portal.db import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_ERRORS,
    is_retryable_database_error,
    unavailable_message,
)
from metrics.alarms.alertmanager import AlertmanagerPayloadError, receive_alerts
from metrics.backends import remote
from metrics.backends.errors import BackendRejectedWrite, BackendUnavailable, MetricsReadOnly
from metrics.ingest.body import (
    decode_content_encoding,
    discard_unread_body,
    json_document,
    media_type,
    read_raw_body,
    require_media_type,
    snappy_block_limited,
)
from metrics.ingest.errors import IngestError, malformed
from metrics.ingest.limits import ingest_slot
from metrics.ingest.otlp_json import M, parse_otlp_json, to_otlp_json
from metrics.ingest.otlp_metrics import convert_metrics_request
from metrics.ingest.remote_write import parse_write_request
from metrics.storage.writer import NewSeriesPaced, SeriesSamples, WriteResult, write_samples
from metrics.traces.convert import convert_trace_request
from metrics.traces.store import store_spans
from metrics.traces.zipkin import ZipkinError, convert_zipkin_spans

logger = logging.getLogger(__name__)
# The next part of a request that brings many new series can come at once.
PACED_RETRY_AFTER_SECONDS = 1


def plain_error(error: IngestError) -> HttpResponse:
    response = HttpResponse(error.message + "\n", status=error.status, content_type="text/plain")
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def database_unavailable(exc: Exception) -> IngestError:
    """503 + Retry-After: the store is unreachable, restarting, or out of disk, memory or
    connections (SQLSTATE class 53), so the sender keeps the batch and sends it again."""
    logger.warning("ingest: database unavailable: %s", exc)
    return IngestError(
        503, unavailable_message(exc, "the metric store"), retry_after=RETRY_AFTER_SECONDS
    )


def intake(
    render_error: Callable[[HttpRequest, IngestError], HttpResponse],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Shared rules of every intake: one bulkhead slot, and errors (including an unreachable
    database, which clients should retry) answered in the protocol's own shape."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = _answer(request, *args, **kwargs)
            if response.status_code >= 400:
                discard_unread_body(request)
            return response

        def _answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                with ingest_slot():
                    try:
                        return view(request, *args, **kwargs)
                    except UNAVAILABLE_ERRORS as exc:
                        if not is_retryable_database_error(exc):
                            raise
                        raise database_unavailable(exc) from exc
            except IngestError as error:
                return render_error(request, error)
            except BackendUnavailable as exc:
                # The sender keeps the batch and sends it again: nothing was acknowledged.
                logger.warning("ingest: %s", exc)
                retry = IngestError(503, str(exc), retry_after=settings.INGEST_RETRY_AFTER_SECONDS)
                return render_error(request, retry)
            except BackendRejectedWrite as exc:
                return render_error(request, IngestError(400, str(exc)))
            except MetricsReadOnly as exc:
                return render_error(request, IngestError(404, str(exc)))

        return wrapped

    return decorator


def refuse_if_read_only() -> None:
    """Without a remote-write URL the portal only reads metrics: say so before reading a body."""
    backend = remote()
    if backend is not None and not backend.write_url:
        raise MetricsReadOnly(backend.query_url)


def paced_write(batches: Iterable[SeriesSamples], token: ApiToken) -> WriteResult:
    try:
        return write_samples(
            batches, token=token, max_new_series=settings.METRICS_MAX_NEW_SERIES_PER_REQUEST
        )
    except NewSeriesPaced as paced:
        raise IngestError(503, str(paced), retry_after=PACED_RETRY_AFTER_SECONDS) from paced


@require_POST
@intake(lambda request, error: plain_error(error))
@token_required("ingest")
def remote_write(request: HttpRequest) -> HttpResponse:
    refuse_if_read_only()
    require_media_type(request, ("application/x-protobuf",))
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "snappy").strip().lower()
    if encoding != "snappy":
        raise IngestError(
            415, f"unsupported Content-Encoding {encoding!r}: remote write uses snappy"
        )
    payload = snappy_block_limited(read_raw_body(request))
    batches, problems = parse_write_request(payload)
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    result = paced_write(batches, token)
    if problems or result.error_count:
        message = "; ".join([*problems, *([result.error_summary()] if result.error_count else [])])
        # Like Prometheus: what could be stored is stored, and a 400 tells the sender not to
        # retry the refused part.
        return plain_error(IngestError(400, message))
    return HttpResponse(status=204)


# OTLP/HTTP ---------------------------------------------------------------------------------

OTLP_TYPES = ("application/x-protobuf", "application/json")


def otlp_error(request: HttpRequest, error: IngestError) -> HttpResponse:
    """OTLP/HTTP errors carry a google.rpc.Status in the request's encoding."""
    status = Status(code=_GRPC_CODES.get(error.status, 2), message=error.message)
    if media_type(request) == "application/json":
        response = HttpResponse(
            to_otlp_json(status), status=error.status, content_type="application/json"
        )
    else:
        response = HttpResponse(
            status.SerializeToString(), status=error.status, content_type="application/x-protobuf"
        )
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


# HTTP status to the gRPC code the OTLP specification pairs with it.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14}


def read_otlp(request: HttpRequest, message: M) -> M:
    kind = require_media_type(request, OTLP_TYPES)
    payload = decode_content_encoding(request, read_raw_body(request))
    if kind == "application/json":
        return parse_otlp_json(payload, message)
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise malformed(f"body is not a valid {message.DESCRIPTOR.full_name}: {exc}") from None
    return message


def otlp_answer(request: HttpRequest, message: Message) -> HttpResponse:
    if media_type(request) == "application/json":
        return HttpResponse(to_otlp_json(message), content_type="application/json")
    return HttpResponse(message.SerializeToString(), content_type="application/x-protobuf")


@require_POST
@intake(otlp_error)
@token_required("ingest")
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    refuse_if_read_only()
    export = read_otlp(request, ExportMetricsServiceRequest())
    conversion = convert_metrics_request(export)
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    result = paced_write(conversion.series, token)
    response = ExportMetricsServiceResponse()
    rejected = conversion.rejected_points + result.samples_rejected
    if rejected:
        problems = [*conversion.problems, *([result.error_summary()] if result.error_count else [])]
        response.partial_success.rejected_data_points = rejected
        response.partial_success.error_message = "; ".join(problems)
    return otlp_answer(request, response)


@require_POST
@intake(otlp_error)
@token_required("ingest")
def otlp_traces(request: HttpRequest) -> HttpResponse:
    export = read_otlp(request, ExportTraceServiceRequest())
    conversion = convert_trace_request(export)
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    store_spans(conversion.rows, team=token.team)
    response = ExportTraceServiceResponse()
    message = conversion.error_message()
    if conversion.rejected or message:
        response.partial_success.rejected_spans = conversion.rejected
        response.partial_success.error_message = message
    return otlp_answer(request, response)


# Zipkin v2 ----------------------------------------------------------------------------------


@require_POST
@intake(lambda request, error: plain_error(error))
@token_required("ingest")
def zipkin_spans(request: HttpRequest) -> HttpResponse:
    """Zipkin's span intake: a JSON array of v2 spans; 202 once stored, 400 (naming the
    problems, nothing stored) when any span cannot be read, as Zipkin's server answers."""
    require_media_type(request, ("application/json",))
    payload = decode_content_encoding(request, read_raw_body(request))
    document = json_document(payload)
    try:
        conversion = convert_zipkin_spans(document)
    except ZipkinError as exc:
        raise malformed(str(exc)) from None
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    store_spans(conversion.rows, team=token.team)
    response = HttpResponse(status=202, content_type="text/plain")
    if conversion.truncated:
        response.content = conversion.error_message() + "\n"
    return response


# Alertmanager webhook ------------------------------------------------------------------------


def json_error(request: HttpRequest, error: IngestError) -> HttpResponse:
    response = JsonResponse({"status": "error", "error": error.message}, status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


@require_POST
@intake(json_error)
@token_required("ingest")
def alertmanager_webhook(request: HttpRequest) -> HttpResponse:
    """Alertmanager's webhook receiver: alerts become external alarms of the token's team."""
    require_media_type(request, ("application/json",))
    payload = decode_content_encoding(request, read_raw_body(request))
    body = json_document(payload)
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    try:
        received = receive_alerts(team=token.team, body=body)
    except AlertmanagerPayloadError as exc:
        raise malformed(str(exc)) from None
    return JsonResponse(
        {
            "status": "success",
            "data": {
                "alerts": received.alerts,
                "state_changes": received.changed,
                "duplicates": received.duplicates,
            },
        }
    )
