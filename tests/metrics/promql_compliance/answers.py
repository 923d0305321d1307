"""Range-query answers read as client_golang's API client reads them.

The same reading for both targets: an HTTP status other than 2xx, 400, 422 or 503 is a server
error; a body that is not Prometheus's envelope, or a matrix whose values are not quoted
numbers, is a bad response; `"status": "error"` is the target's own error. Any of these is an
error for the comparer, so an answer of the wrong shape counts as a failure, as upstream.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tests.metrics.promql_compliance.comparer import Answer, Series

# client_golang decodes the body of these error statuses as an API error.
API_ERROR_STATUSES = {400, 422, 503}


class BadResponse(ValueError):
    pass


def _milliseconds(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise BadResponse(f"bad timestamp {raw!r}")
    return round(raw * 1000)


def _value(raw: Any) -> float:
    if not isinstance(raw, str):
        raise BadResponse(f"sample value must be a quoted string, not {raw!r}")
    try:
        return float(raw)
    except ValueError:
        raise BadResponse(f"bad sample value {raw!r}") from None


def _matrix(result: Any) -> list[Series]:
    if not isinstance(result, list):
        raise BadResponse(f"a matrix must be a list, not {type(result).__name__}")
    matrix = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            raise BadResponse(f"bad series {item!r:.200}")
        metric = item["metric"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metric.items()):
            raise BadResponse(f"bad labels {metric!r:.200}")
        values = item.get("values", [])
        if not isinstance(values, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in values
        ):
            raise BadResponse(f"bad values {values!r:.200}")
        matrix.append(Series(dict(metric), [(_milliseconds(t), _value(v)) for t, v in values]))
    return matrix


def read_answer(status: int, body: bytes) -> Answer:
    if status // 100 != 2 and status not in API_ERROR_STATUSES:
        return Answer(error=f"server_error: server error: {status}")
    try:
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise BadResponse("the body is not a JSON object")
        if envelope.get("status") == "error":
            return Answer(error=f"{envelope.get('errorType')}: {envelope.get('error')}")
        if status // 100 != 2:
            raise BadResponse(f"inconsistent body for response code {status}")
        data = envelope.get("data")
        if envelope.get("status") != "success" or not isinstance(data, dict):
            raise BadResponse("no data in a successful answer")
        result_type = data.get("resultType")
        if result_type != "matrix":
            return Answer(result_type=str(result_type))
        return Answer(matrix=_matrix(data.get("result")))
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError and BadResponse included
        return Answer(error=f"bad_response: {exc}")
