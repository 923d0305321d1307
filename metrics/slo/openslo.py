"""OpenSLO v1 documents (`apiVersion: openslo/v1`, `kind: SLO`) to SLOSpec and back.

What is read; anything else in these places is refused with a line-numbered problem:

    metadata.name                      -> name
    metadata.labels (string values)    -> labels, in file order
    spec.service, spec.description     -> service, description
    spec.indicator.spec.ratioMetric    -> RatioSLI: `good` or `bad`, and `total`, each
        {metricSource: {type: Prometheus, spec: {query: <PromQL, may hold {{window}}>}}}
    spec.timeWindow (one item)         -> window: rolling 7d, 28d or 30d (isRolling: true), or
        calendar-aligned 1M (month) or 1Q (quarter) with calendar.timeZone -> time_zone.
        calendar.startTime is accepted but not used: calendar windows start at midnight on
        the first day of the month or quarter. No timeWindow means 30d rolling.
    spec.budgetingMethod (required)    -> budgeting: Occurrences or Timeslices
    spec.objectives (one item)         -> objective_percent, from target (0..1) or
        targetPercent (0..100); with Timeslices, timeSliceTarget (0..1] ->
        timeslice_target_percent, and timeSliceWindow, if given, must be 1m (the portal
        judges one-minute slices).

Other kinds in the same stream (Service, SLI, DataSource, AlertPolicy, ...) are skipped.
indicatorRef, thresholdMetric and raw ratios are refused: the portal needs counters.

The portal's extension, in metadata.annotations (OpenSLO's place for implementation data),
because OpenSLO's thresholdMetric cannot describe a histogram:

    coe-portal/latency-histogram: http_server_request_duration_seconds  # no _bucket suffix
    coe-portal/latency-threshold: "0.5"            # seconds, one of the buckets' `le` bounds
    coe-portal/latency-matchers: 'service="cart"'  # optional label matchers
    coe-portal/min-events: "100"                   # optional, SLOSpec.min_events

With the latency annotations the SLI is a LatencySLI built from them and `spec.indicator` is
not read (it may be absent). The writer still writes an indicator, the equivalent ratio of
the histogram's `_bucket{le=...}` and `_count` series, so other OpenSLO tools see a valid SLO.

Pure: reads the node tree it is given, returns specs or plain data for the YAML writer.
"""

from __future__ import annotations

import re
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import MappingNode

from metrics.promql.ast import VectorSelector
from metrics.promql.errors import PromQLError
from metrics.promql.parser import parse
from metrics.slo.queries import format_bound
from metrics.slo.spec import (
    OCCURRENCES,
    ROLLING_WINDOWS,
    TIMESLICES,
    LatencySLI,
    RatioSLI,
    SLOSpec,
)
from metrics.slo.yaml_errors import (
    WINDOW_PLACEHOLDER,
    Fields,
    Reader,
    SLOExportError,
    line_of,
)

API_VERSION = "openslo/v1"
LATENCY_HISTOGRAM = "coe-portal/latency-histogram"
LATENCY_THRESHOLD = "coe-portal/latency-threshold"
LATENCY_MATCHERS = "coe-portal/latency-matchers"
MIN_EVENTS = "coe-portal/min-events"
LATENCY_ANNOTATIONS = (LATENCY_HISTOGRAM, LATENCY_THRESHOLD, LATENCY_MATCHERS)

SKIPPED_KINDS = frozenset(
    {"Service", "SLI", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)
TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS = ("name", "displayName", "labels", "annotations")
SPEC_FIELDS = (
    "description",
    "service",
    "indicator",
    "indicatorRef",
    "timeWindow",
    "budgetingMethod",
    "objectives",
    "alertPolicies",
)
OBJECTIVE_FIELDS = (
    "displayName",
    "op",
    "value",
    "target",
    "targetPercent",
    "timeSliceTarget",
    "timeSliceWindow",
)
RATIO_FIELDS = ("counter", "good", "bad", "total", "raw", "rawType")
CALENDAR_DURATIONS = {"1M": "month", "1Q": "quarter"}
CALENDAR_DURATION_OF = {period: duration for duration, period in CALENDAR_DURATIONS.items()}
CALENDAR_START = "2020-01-01 00:00:00"  # a quarter boundary; not read back
UNSUPPORTED_WINDOW = 'unsupported window "{}" (use 7d, 28d, 30d, month or quarter)'
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
WHOLE_NUMBER = re.compile(r"[0-9]+")


def read_openslo(root: MappingNode, reader: Reader) -> tuple[SLOSpec, int] | None:
    """The SLO in one document with the line of its name; None when the document is another
    kind or has problems (recorded by the reader)."""
    before = len(reader.problems)
    top = reader.mapping(root, "", TOP_FIELDS)
    if top is None or not _is_slo(top, reader):
        return None
    metadata = reader.required_mapping(top, "metadata", METADATA_FIELDS)
    spec = reader.required_mapping(top, "spec", SPEC_FIELDS)
    name: str | None = None
    labels: dict[str, str] = {}
    annotations: Fields | None = None
    if metadata is not None:
        name = reader.required_text(metadata, "name")
        labels = reader.labels(metadata.get("labels"), metadata.path_of("labels"))
        annotations_node = metadata.get("annotations")
        if annotations_node is not None:
            annotations = reader.mapping(
                annotations_node,
                metadata.path_of("annotations"),
                None,
                at=metadata.keys["annotations"],
            )
    if spec is None:
        return None
    service = reader.required_text(spec, "service")
    description = reader.optional_text(spec, "description")
    if annotations is not None and any(key in annotations for key in LATENCY_ANNOTATIONS):
        sli: RatioSLI | LatencySLI | None = _latency_sli(annotations, reader)
    else:
        sli = _ratio_sli(spec, reader)
    window = _time_window(spec, reader)
    budgeting = _budgeting(spec, reader)
    objective = _objective(spec, budgeting, reader)
    min_events = _min_events(annotations, reader)
    if (
        len(reader.problems) > before
        or metadata is None
        or name is None
        or service is None
        or sli is None
        or window is None
        or budgeting is None
        or objective is None
        or min_events is None
    ):
        return None
    slo = SLOSpec(
        name=name,
        service=service,
        objective_percent=objective[0],
        sli=sli,
        window=window[0],
        description=description,
        time_zone=window[1],
        budgeting=budgeting,
        timeslice_target_percent=objective[1],
        min_events=min_events,
        labels=tuple(labels.items()),
    )
    return slo, line_of(metadata.values["name"])


def _is_slo(top: Fields, reader: Reader) -> bool:
    api_version = reader.required_text(top, "apiVersion")
    if api_version is None:
        return False
    if api_version != API_VERSION:
        reader.report(top.values["apiVersion"], f'unknown apiVersion "{api_version}"')
        return False
    kind = reader.required_text(top, "kind")
    if kind is None or kind in SKIPPED_KINDS:
        return False
    if kind != "SLO":
        reader.report(top.values["kind"], f'unknown kind "{kind}"')
        return False
    return True


# The indicator ----------------------------------------------------------------------------


def _ratio_sli(spec: Fields, reader: Reader) -> RatioSLI | None:
    if "indicatorRef" in spec:
        reader.report(
            spec.keys["indicatorRef"], "indicatorRef is not supported: inline the SLI as indicator"
        )
        return None
    indicator = reader.required_mapping(spec, "indicator", ("metadata", "spec"))
    sli = None if indicator is None else reader.required_mapping(indicator, "spec", None)
    if sli is None:
        return None
    for key in sli.values:
        if key == "thresholdMetric":
            reader.report(
                sli.keys[key],
                "thresholdMetric is not supported: use ratioMetric, or the "
                f"{LATENCY_HISTOGRAM} and {LATENCY_THRESHOLD} annotations for a latency SLI",
            )
            return None
        if key not in ("description", "ratioMetric"):
            reader.report(sli.keys[key], f'unknown field "{sli.path_of(key)}"')
    ratio = reader.required_mapping(sli, "ratioMetric", RATIO_FIELDS)
    if ratio is None:
        return None
    raw_key = next((key for key in ratio.values if key in ("raw", "rawType")), None)
    if raw_key is not None:
        reader.report(
            ratio.keys[raw_key],
            "raw ratios are not supported: the portal needs a ratio of counters, "
            "use good or bad with total",
        )
        return None
    if "counter" in ratio:
        reader.boolean(ratio.values["counter"], ratio.path_of("counter"))
    if "good" in ratio and "bad" in ratio:
        reader.report(ratio.keys["bad"], "set either good or bad, not both")
    elif "good" not in ratio and "bad" not in ratio:
        reader.report(ratio.at, f'missing required field "{ratio.path_of("good")}" (or "bad")')
    good = _query(ratio, "good", reader) if "good" in ratio else None
    bad = _query(ratio, "bad", reader) if "bad" in ratio else None
    total = _query(ratio, "total", reader) if reader.require(ratio, "total") else None
    if total is None or (good is None) == (bad is None):
        return None
    return RatioSLI(total_query=total, good_query=good, bad_query=bad)


def _query(ratio: Fields, key: str, reader: Reader) -> str | None:
    path = ratio.path_of(key)
    part = reader.mapping(ratio.values[key], path, ("metricSource",), at=ratio.keys[key])
    source = None if part is None else reader.required_mapping(part, "metricSource", None)
    if source is None:
        return None
    for source_key in source.values:
        if source_key not in ("metricSourceRef", "type", "spec"):
            reader.report(source.keys[source_key], f'unknown field "{source.path_of(source_key)}"')
    type_node = source.get("type")
    if type_node is not None:
        source_type = reader.text(type_node, source.path_of("type"))
        if source_type is not None and source_type.lower() != "prometheus":
            reader.report(
                type_node, f'unsupported metricSource type "{source_type}" (only Prometheus)'
            )
            return None
    query_spec = reader.required_mapping(source, "spec", None)
    query_node = None if query_spec is None else reader.require(query_spec, "query")
    if query_spec is None or query_node is None:
        return None
    label = path.removeprefix("spec.indicator.spec.")
    return reader.promql(query_node, query_spec.path_of("query"), label)


def _latency_sli(annotations: Fields, reader: Reader) -> LatencySLI | None:
    histogram = reader.required_text(annotations, LATENCY_HISTOGRAM)
    if histogram is not None:
        node = annotations.values[LATENCY_HISTOGRAM]
        if not METRIC_NAME.fullmatch(histogram):
            reader.report(node, f'{LATENCY_HISTOGRAM} "{histogram}" is not a metric name')
            histogram = None
        elif histogram.endswith("_bucket"):
            reader.report(
                node,
                f"{LATENCY_HISTOGRAM} names the histogram without the _bucket suffix: "
                f'"{histogram.removesuffix("_bucket")}"',
            )
            histogram = None
    threshold_node = reader.require(annotations, LATENCY_THRESHOLD)
    threshold = None
    if threshold_node is not None:
        path = annotations.path_of(LATENCY_THRESHOLD)
        threshold = reader.number(threshold_node, path, quoted_ok=True)
        if threshold is not None and threshold <= 0:
            reader.report(threshold_node, f"{LATENCY_THRESHOLD} {threshold} is not above 0 seconds")
            threshold = None
    matchers = _latency_matchers(annotations, reader)
    if histogram is None or threshold is None or matchers is None:
        return None
    return LatencySLI(histogram=histogram, threshold_seconds=threshold, matchers=matchers)


def _latency_matchers(annotations: Fields, reader: Reader) -> str | None:
    node = annotations.get(LATENCY_MATCHERS)
    if node is None:
        return ""
    text = reader.text(node, annotations.path_of(LATENCY_MATCHERS), allow_empty=True)
    if text is None or not text.strip():
        return None if text is None else ""
    matchers = text.strip()
    # Parsed inside a selector, and required to stay one: the text is pasted into queries.
    try:
        selector = parse(f"metric{{{matchers}}}")
    except PromQLError as exc:
        reader.report(node, f"invalid label matchers in {LATENCY_MATCHERS}: {exc}")
        return None
    if not isinstance(selector, VectorSelector):
        reader.report(
            node, f'{LATENCY_MATCHERS} must hold label matchers only, e.g. service="cart"'
        )
        return None
    return matchers


def _min_events(annotations: Fields | None, reader: Reader) -> int | None:
    node = None if annotations is None else annotations.get(MIN_EVENTS)
    if annotations is None or node is None:
        return 0
    text = reader.text(node, annotations.path_of(MIN_EVENTS))
    if text is None:
        return None
    if not WHOLE_NUMBER.fullmatch(text.strip()):
        reader.report(node, f'{MIN_EVENTS} must be a whole number of events, not "{text}"')
        return None
    return int(text)


# Window, budgeting, objective -------------------------------------------------------------


def _time_window(spec: Fields, reader: Reader) -> tuple[str, str] | None:
    """(window, time zone)."""
    node = spec.get("timeWindow")
    if node is None:
        return "30d", "UTC"
    items = reader.sequence(node, spec.path_of("timeWindow"))
    if items is None:
        return None
    if len(items) != 1:
        reader.report(node, f'"spec.timeWindow" must hold exactly one window, found {len(items)}')
        return None
    window = reader.mapping(items[0], "spec.timeWindow[0]", ("duration", "isRolling", "calendar"))
    if window is None:
        return None
    duration = reader.required_text(window, "duration")
    rolling_node = window.get("isRolling")
    is_rolling = None
    if rolling_node is not None:
        is_rolling = reader.boolean(rolling_node, window.path_of("isRolling"))
    calendar_node = window.get("calendar")
    if duration is None:
        return None
    duration_node = window.values["duration"]
    if calendar_node is None:
        if is_rolling is False:
            reader.report(
                window.at,
                f'missing required field "{window.path_of("calendar")}" (isRolling is false)',
            )
        elif duration in CALENDAR_DURATIONS:
            reader.report(
                duration_node,
                f'window "{duration}" must be calendar-aligned: '
                "set isRolling: false and add calendar with timeZone",
            )
        elif duration not in ROLLING_WINDOWS:
            reader.report(duration_node, UNSUPPORTED_WINDOW.format(duration))
        else:
            return duration, "UTC"
        return None
    if is_rolling and rolling_node is not None:
        reader.report(
            rolling_node, "a calendar-aligned window is not rolling: set isRolling: false"
        )
    calendar = reader.mapping(calendar_node, window.path_of("calendar"), ("startTime", "timeZone"))
    time_zone = None if calendar is None else _time_zone(calendar, reader)
    period = CALENDAR_DURATIONS.get(duration)
    if period is None:
        reader.report(
            duration_node,
            f'unsupported calendar window "{duration}" (use 1M for a month or 1Q for a quarter)',
        )
        return None
    if time_zone is None or is_rolling:
        return None
    return period, time_zone


def _time_zone(calendar: Fields, reader: Reader) -> str | None:
    name = reader.required_text(calendar, "timeZone")
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        reader.report(calendar.values["timeZone"], f'unknown time zone "{name}"')
        return None
    return name


def _budgeting(spec: Fields, reader: Reader) -> str | None:
    method = reader.required_text(spec, "budgetingMethod")
    if method is None or method in (OCCURRENCES, TIMESLICES):
        return method
    reader.report(
        spec.values["budgetingMethod"],
        f'unsupported budgetingMethod "{method}" (use {OCCURRENCES} or {TIMESLICES})',
    )
    return None


def _objective(
    spec: Fields, budgeting: str | None, reader: Reader
) -> tuple[Decimal, Decimal | None] | None:
    """(objective percent, time-slice target percent or None)."""
    node = reader.require(spec, "objectives")
    items = None if node is None else reader.sequence(node, spec.path_of("objectives"))
    if node is None or items is None:
        return None
    if len(items) != 1:
        reader.report(node, f"exactly one objective per SLO is supported, found {len(items)}")
        return None
    objective = reader.mapping(items[0], "spec.objectives[0]", OBJECTIVE_FIELDS)
    if objective is None:
        return None
    percent = _target_percent(objective, reader)
    timeslice = _timeslice_target_percent(objective, budgeting, reader)
    return None if percent is None else (percent, timeslice)


def _target_percent(objective: Fields, reader: Reader) -> Decimal | None:
    target, target_percent = objective.get("target"), objective.get("targetPercent")
    if target is not None and target_percent is not None:
        reader.report(
            objective.keys["targetPercent"], "set either target or targetPercent, not both"
        )
        return None
    if target is not None:
        value = reader.number(target, objective.path_of("target"))
        if value is not None and not 0 < value < 1:
            reader.report(target, f"target {value} is not between 0 and 1")
            return None
        return None if value is None else value.scaleb(2)
    if target_percent is not None:
        value = reader.number(target_percent, objective.path_of("targetPercent"))
        if value is not None and not 0 < value < 100:
            reader.report(target_percent, f"targetPercent {value} is not between 0 and 100")
            return None
        return value
    reader.report(
        objective.at,
        f'missing required field "{objective.path_of("target")}" (or "targetPercent")',
    )
    return None


def _timeslice_target_percent(
    objective: Fields, budgeting: str | None, reader: Reader
) -> Decimal | None:
    if budgeting != TIMESLICES:
        for key in ("timeSliceTarget", "timeSliceWindow"):
            if key in objective and budgeting == OCCURRENCES:
                reader.report(objective.keys[key], f"{key} needs budgetingMethod: {TIMESLICES}")
        return None
    slice_window = objective.get("timeSliceWindow")
    if slice_window is not None:
        text = reader.text(slice_window, objective.path_of("timeSliceWindow"))
        if text is not None and text.strip() not in ("1m", "1"):
            reader.report(
                slice_window,
                f'unsupported timeSliceWindow "{text}" '
                "(the portal judges one-minute slices: use 1m)",
            )
    node = reader.require(objective, "timeSliceTarget")
    value = None if node is None else reader.number(node, objective.path_of("timeSliceTarget"))
    if node is None or value is None:
        return None
    if not 0 < value <= 1:
        reader.report(node, f"timeSliceTarget {value} is not between 0 and 1")
        return None
    return value.scaleb(2)


# Writing ----------------------------------------------------------------------------------


def openslo_document(spec: SLOSpec) -> dict[str, object]:
    metadata: dict[str, object] = {"name": spec.name}
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    annotations: dict[str, str] = {}
    if isinstance(spec.sli, LatencySLI):
        annotations[LATENCY_HISTOGRAM] = spec.sli.histogram
        annotations[LATENCY_THRESHOLD] = format(spec.sli.threshold_seconds, "f")
        if spec.sli.matchers:
            annotations[LATENCY_MATCHERS] = spec.sli.matchers
    if spec.min_events:
        annotations[MIN_EVENTS] = str(spec.min_events)
    if annotations:
        metadata["annotations"] = annotations
    body: dict[str, object] = {}
    if spec.description:
        body["description"] = spec.description
    body["service"] = spec.service
    body["indicator"] = {
        "metadata": {"name": spec.name},
        "spec": {"ratioMetric": _ratio_metric(spec.sli)},
    }
    body["timeWindow"] = [_time_window_document(spec)]
    if spec.budgeting not in (OCCURRENCES, TIMESLICES):
        raise SLOExportError(f'SLO "{spec.name}": unknown budgeting method "{spec.budgeting}"')
    body["budgetingMethod"] = spec.budgeting
    body["objectives"] = [_objective_document(spec)]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": body}


def latency_queries(sli: LatencySLI) -> tuple[str, str]:
    """(good, total): requests at or under the threshold, and all requests."""
    bound = f'le="{format_bound(float(sli.threshold_seconds))}"'
    bucket_matchers = f"{sli.matchers},{bound}" if sli.matchers else bound
    count_selector = f"{{{sli.matchers}}}" if sli.matchers else ""
    good = f"sum(rate({sli.histogram}_bucket{{{bucket_matchers}}}[{WINDOW_PLACEHOLDER}]))"
    total = f"sum(rate({sli.histogram}_count{count_selector}[{WINDOW_PLACEHOLDER}]))"
    return good, total


def _ratio_metric(sli: RatioSLI | LatencySLI) -> dict[str, object]:
    if isinstance(sli, LatencySLI):
        good, total = latency_queries(sli)
        return {"counter": True, "good": _source(good), "total": _source(total)}
    if sli.good_query is not None:
        return {"counter": True, "good": _source(sli.good_query), "total": _source(sli.total_query)}
    if sli.bad_query is not None:
        return {"counter": True, "bad": _source(sli.bad_query), "total": _source(sli.total_query)}
    raise SLOExportError("a ratio SLI needs good_query or bad_query")


def _source(query: str) -> dict[str, object]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _time_window_document(spec: SLOSpec) -> dict[str, object]:
    if spec.window in ROLLING_WINDOWS:
        return {"duration": spec.window, "isRolling": True}
    if spec.window in CALENDAR_DURATION_OF:
        return {
            "duration": CALENDAR_DURATION_OF[spec.window],
            "isRolling": False,
            "calendar": {"startTime": CALENDAR_START, "timeZone": spec.time_zone},
        }
    raise SLOExportError(f'SLO "{spec.name}": {UNSUPPORTED_WINDOW.format(spec.window)}')


def _objective_document(spec: SLOSpec) -> dict[str, object]:
    objective: dict[str, object] = {"target": spec.objective_percent.scaleb(-2)}
    if spec.budgeting == TIMESLICES:
        if spec.timeslice_target_percent is None:
            raise SLOExportError(f'SLO "{spec.name}": Timeslices needs timeslice_target_percent')
        objective["timeSliceTarget"] = spec.timeslice_target_percent.scaleb(-2)
        objective["timeSliceWindow"] = "1m"
    return objective
