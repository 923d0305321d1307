"""Formatting and the filter forms of the trace pages."""

from __future__ import annotations

import json
import math
import re
import shlex
import time
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.http import QueryDict

from metrics.traces.durations import parse_span_duration
from metrics.traces.queries import (
    SearchFilters,
)

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
RANGES_NS = {
    "15m": 15 * 60 * NS_PER_S,
    "1h": 3_600 * NS_PER_S,
    "6h": 6 * 3_600 * NS_PER_S,
    "24h": 24 * 3_600 * NS_PER_S,
    "7d": 7 * 86_400 * NS_PER_S,
}
RANGE_CHOICES = [
    ("15m", "Last 15 minutes"),
    ("1h", "Last hour"),
    ("6h", "Last 6 hours"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("custom", "Custom (from / to)"),
]
DEFAULT_RANGE = "1h"
DEFAULT_LIMIT = 20
MAX_LIMIT = 500
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
TRACE_ID_RE = re.compile(r"[0-9a-f]{32}")
# The RED dashboard counts what a service serves, as the service map does.
SERVED_KINDS = "SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"
QUANTILES = (0.5, 0.95, 0.99)
MIN_RATE_WINDOW_S = 300
MAX_SERVICES_LISTED = 500
NO_VALUE = "\N{EN DASH}"


# --- Formatting ---------------------------------------------------------------------------


def format_duration(ns: int | float) -> str:
    """A duration for people: 850 ns, 12.5 µs, 250 ms, 1.5 s, 2 m 5 s."""
    if ns < 1_000:
        return f"{int(ns)} ns"
    if ns < 60 * NS_PER_S:
        for unit, size in (("µs", 1_000), ("ms", NS_PER_MS), ("s", NS_PER_S)):
            value = ns / size
            if value < 1_000 or unit == "s":
                decimals = 0 if value >= 100 else 1 if value >= 10 else 2
                text = f"{value:.{decimals}f}"
                if "." in text:
                    text = text.rstrip("0").rstrip(".")
                return f"{text} {unit}"
    seconds = round(ns / NS_PER_S)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} m {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} m"


def number_text(value: float, decimals: int = 2) -> str:
    """A number with at most `decimals` decimals and no trailing zeros: 3600, 0.15, 1.5."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def rate_text(per_second: float) -> str:
    """A rate with three significant digits below 1 (0.000139), two decimals above."""
    if per_second <= 0 or not math.isfinite(per_second):
        return "0"
    if per_second >= 1:
        return number_text(per_second)
    return number_text(per_second, 2 - math.floor(math.log10(per_second)))


def percent_text(part: int | float, whole: int | float) -> str:
    """'2.5 %' of the requests; a dash when there were none."""
    if not whole:
        return NO_VALUE
    return f"{number_text(100 * part / whole)} %"


def utc_text(ns: int) -> str:
    """'2025-11-24 16:00:00.123' (UTC, milliseconds) from Unix nanoseconds, without floats."""
    moment = datetime.fromtimestamp(ns // NS_PER_S, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{(ns % NS_PER_S) // NS_PER_MS:03d}"


def utc_iso(ns: int) -> str:
    """The same moment as Plotly reads a date: '2025-11-24T16:00:00.123Z'."""
    return utc_text(ns).replace(" ", "T") + "Z"


def parse_duration(text: str) -> int:
    """'250ms' -> 250 000 000 ns; a unit is required (a bare number is ambiguous)."""
    return parse_span_duration(text)


def parse_tags(text: str) -> dict[str, str]:
    """'http.status_code=500 route="/a b"' -> {"http.status_code": "500", "route": "/a b"}."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"The tags could not be read ({exc}).") from None
    tags: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f'"{word}" is not key=value.')
        if key in tags:
            raise ValueError(f'The tag "{key}" is given twice.')
        tags[key] = value
    return tags


def promql_string(value: str) -> str:
    """A PromQL string literal holding `value` exactly: JSON's escapes are Go's escapes."""
    return json.dumps(value, ensure_ascii=False)


# --- Forms --------------------------------------------------------------------------------


class TimeRangeForm(forms.Form):
    """A preset range ending now, or a custom from/to in UTC."""

    range = forms.ChoiceField(choices=RANGE_CHOICES, required=False, label="Time range")
    start = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(
            format="%Y-%m-%dT%H:%M:%S", attrs={"type": "datetime-local", "step": "1"}
        ),
    )
    end = forms.DateTimeField(
        required=False,
        label="To (UTC)",
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(
            format="%Y-%m-%dT%H:%M:%S", attrs={"type": "datetime-local", "step": "1"}
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("range") or DEFAULT_RANGE) != "custom":
            return data
        start, end = data.get("start"), data.get("end")
        if "start" in data and start is None:
            self.add_error("start", "Give the start of a custom range.")
        if "end" in data and end is None:
            self.add_error("end", "Give the end of a custom range.")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "The end of the range must be after its start.")
        return data

    def window_ns(self, now_ns: int) -> tuple[int, int]:
        """(start, end) in Unix ns; call after is_valid()."""
        data = self.cleaned_data
        choice = data.get("range") or DEFAULT_RANGE
        if choice == "custom":
            return _datetime_ns(data["start"]), _datetime_ns(data["end"])
        return now_ns - RANGES_NS[choice], now_ns

    def url_params(self) -> dict[str, str]:
        """The range as query parameters, to carry it to another page."""
        data = self.cleaned_data
        choice = data.get("range") or DEFAULT_RANGE
        if choice != "custom":
            return {"range": choice}
        return {
            "range": "custom",
            "start": data["start"].strftime("%Y-%m-%dT%H:%M:%S"),
            "end": data["end"].strftime("%Y-%m-%dT%H:%M:%S"),
        }


class TraceSearchForm(TimeRangeForm):
    service = forms.CharField(
        required=False, max_length=200, widget=forms.Select(choices=[("", "All services")])
    )
    operation = forms.CharField(required=False, max_length=300, label="Operation (span name)")
    tags = forms.CharField(
        required=False,
        max_length=2_000,
        help_text="Span attributes, key=value separated by spaces; quote a value with spaces: "
        'http.route="/cart items"',
    )
    min_duration = forms.CharField(required=False, max_length=30, help_text="e.g. 250ms or 1.5s")
    max_duration = forms.CharField(required=False, max_length=30)
    errors_only = forms.BooleanField(required=False, label="Errors only")
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)

    field_order = [
        "service", "operation", "tags", "min_duration", "max_duration", "errors_only", "range",
        "start", "end", "limit",
    ]  # fmt: skip

    def clean_tags(self) -> dict[str, str]:
        try:
            return parse_tags(self.cleaned_data.get("tags") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_min_duration(self) -> int | None:
        return self._duration("min_duration")

    def clean_max_duration(self) -> int | None:
        return self._duration("max_duration")

    def _duration(self, name: str) -> int | None:
        text = (self.cleaned_data.get(name) or "").strip()
        if not text:
            return None
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("min_duration"), data.get("max_duration")
        if low is not None and high is not None and high < low:
            self.add_error("max_duration", "The maximum duration is below the minimum.")
        return data

    def filters(self, now_ns: int) -> SearchFilters:
        data = self.cleaned_data
        start, end = self.window_ns(now_ns)
        return SearchFilters(
            start_ns=start,
            end_ns=end,
            service=data.get("service") or "",
            operation=(data.get("operation") or "").strip(),
            tags=data.get("tags") or {},
            min_duration_ns=data.get("min_duration"),
            max_duration_ns=data.get("max_duration"),
            errors_only=bool(data.get("errors_only")),
            limit=data.get("limit") or DEFAULT_LIMIT,
        )


def _datetime_ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1_000


def with_defaults(params: QueryDict) -> QueryDict:
    data = params.copy()
    if not data.get("range"):
        data["range"] = DEFAULT_RANGE
    return data


def now_ns() -> int:
    return time.time_ns()
