"""Sloth `version: prometheus/v1` files to SLOSpecs and back: one file per service, one spec
per entry of `slos`.

What is read:

    service                            -> service of every SLO in the file
    labels, then slos[].labels         -> labels (the SLO's own override the file's)
    slos[].name, .objective (percent), .description
    slos[].sli.events.error_query      -> RatioSLI.bad_query
    slos[].sli.events.total_query      -> RatioSLI.total_query
    slos[].alerting                    -> not read: the portal pages on its own burn rates

Sloth's `{{.window}}` becomes the portal's `{{window}}`, and back when written. A Sloth file
carries no window (Sloth takes it from its --default-slo-period, 30d unless changed), so
every spec read from Sloth has the 30d rolling window. `sli.raw` (a precomputed error ratio)
and `sli.plugin` are refused: the portal needs a ratio of counters.

What Sloth cannot express, so dump_sloth refuses it (export those SLOs as OpenSLO): latency
SLIs, good-event queries (Sloth counts errors), windows other than 30d rolling, calendar
windows, Timeslices budgeting and a minimum event count.

Pure: reads the node tree it is given, returns specs or plain data for the YAML writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from yaml.nodes import MappingNode, Node

from metrics.slo.spec import OCCURRENCES, LatencySLI, RatioSLI, SLOSpec
from metrics.slo.yaml_errors import WINDOW_PLACEHOLDER, Fields, Reader, SLOExportError, line_of

VERSION = "prometheus/v1"
SLOTH_WINDOW = "30d"
SLOTH_WINDOW_PLACEHOLDER = "{{.window}}"
FILE_FIELDS = ("version", "service", "labels", "slos")
SLO_FIELDS = ("name", "objective", "description", "labels", "sli", "alerting")


def read_sloth(root: MappingNode, reader: Reader) -> list[tuple[SLOSpec, int]]:
    """Each SLO in the file with the line its name is on; problems go to the reader."""
    top = reader.mapping(root, "", FILE_FIELDS)
    version = None if top is None else reader.required_text(top, "version")
    if top is None or version is None:
        return []
    if version != VERSION:
        reader.report(top.values["version"], f'unknown version "{version}"')
        return []
    service = reader.required_text(top, "service")
    file_labels = reader.labels(top.get("labels"), "labels")
    slos_node = reader.require(top, "slos")
    items = None if slos_node is None else reader.sequence(slos_node, "slos")
    if slos_node is None or items is None:
        return []
    if not items:
        reader.report(slos_node, '"slos" must hold at least one SLO')
    found = []
    for index, node in enumerate(items):
        spec = _read_slo(node, f"slos[{index}]", service, file_labels, reader)
        if spec is not None:
            found.append(spec)
    return found


def _read_slo(
    node: Node, path: str, service: str | None, file_labels: dict[str, str], reader: Reader
) -> tuple[SLOSpec, int] | None:
    before = len(reader.problems)
    slo = reader.mapping(node, path, SLO_FIELDS)
    if slo is None:
        return None
    name = reader.required_text(slo, "name")
    objective_node = reader.require(slo, "objective")
    objective = None
    if objective_node is not None:
        objective = reader.number(objective_node, slo.path_of("objective"))
        if objective is not None and not 0 < objective < 100:
            reader.report(objective_node, f"objective {objective} is not between 0 and 100")
    description = reader.optional_text(slo, "description")
    labels = {**file_labels, **reader.labels(slo.get("labels"), slo.path_of("labels"))}
    sli = _read_sli(slo, reader)
    alerting = slo.get("alerting")
    if alerting is not None:
        reader.mapping(alerting, slo.path_of("alerting"), None)
    if (
        len(reader.problems) > before
        or service is None
        or name is None
        or objective is None
        or sli is None
    ):
        return None
    spec = SLOSpec(
        name=name,
        service=service,
        objective_percent=objective,
        sli=sli,
        window=SLOTH_WINDOW,
        description=description,
        labels=tuple(labels.items()),
    )
    return spec, line_of(slo.values["name"])


def _read_sli(slo: Fields, reader: Reader) -> RatioSLI | None:
    sli = reader.required_mapping(slo, "sli", ("events", "raw", "plugin"))
    if sli is None:
        return None
    if "raw" in sli:
        reader.report(
            sli.keys["raw"],
            "raw error ratios (sli.raw.error_ratio_query) are not supported: the portal needs "
            "a ratio of counters, use sli.events with error_query and total_query",
        )
        return None
    if "plugin" in sli:
        reader.report(
            sli.keys["plugin"],
            "SLI plugins are not supported: use sli.events with error_query and total_query",
        )
        return None
    events = reader.required_mapping(sli, "events", ("error_query", "total_query"))
    if events is None:
        return None
    queries = {}
    for key in ("error_query", "total_query"):
        node = reader.require(events, key)
        queries[key] = None if node is None else reader.promql(node, events.path_of(key), key)
    error_query, total_query = queries["error_query"], queries["total_query"]
    if error_query is None or total_query is None:
        return None
    return RatioSLI(total_query=total_query, bad_query=error_query)


# Writing ----------------------------------------------------------------------------------


def sloth_documents(specs: Iterable[SLOSpec]) -> list[dict[str, object]]:
    """One document per service, in the order services first appear."""
    by_service: dict[str, list[SLOSpec]] = {}
    for spec in specs:
        by_service.setdefault(spec.service, []).append(spec)
    documents: list[dict[str, object]] = []
    for service, group in by_service.items():
        shared = _shared_leading_labels([spec.labels for spec in group])
        document: dict[str, object] = {"version": VERSION, "service": service}
        if shared:
            document["labels"] = dict(shared)
        document["slos"] = [_slo_document(spec, len(shared)) for spec in group]
        documents.append(document)
    return documents


def _error_and_total_queries(spec: SLOSpec) -> tuple[str, str]:
    """Raises SLOExportError for what a Sloth file cannot say."""
    reason = None
    if isinstance(spec.sli, LatencySLI):
        reason = "Sloth has no latency SLI"
    elif spec.sli.bad_query is None:
        reason = "Sloth counts bad events (error_query), and this SLO counts good ones"
    elif spec.window != SLOTH_WINDOW:
        reason = f"a Sloth file carries no window (Sloth uses 30d), and this SLO's is {spec.window}"
    elif spec.budgeting != OCCURRENCES:
        reason = f"Sloth budgets by occurrences only, and this SLO uses {spec.budgeting}"
    elif spec.min_events:
        reason = "Sloth has no minimum event count"
    else:
        return spec.sli.bad_query, spec.sli.total_query
    raise SLOExportError(
        f'SLO "{spec.name}" of service "{spec.service}": {reason}; export it as OpenSLO'
    )


def _shared_leading_labels(
    label_sets: list[tuple[tuple[str, str], ...]],
) -> tuple[tuple[str, str], ...]:
    """The labels every SLO starts with, written once for the file. Only a common prefix is
    hoisted, so reading the file back merges them into the same order."""
    shared = label_sets[0]
    for labels in label_sets[1:]:
        length = 0
        while length < min(len(shared), len(labels)) and shared[length] == labels[length]:
            length += 1
        shared = shared[:length]
    return shared


def _slo_document(spec: SLOSpec, shared_labels: int) -> dict[str, object]:
    error_query, total_query = _error_and_total_queries(spec)
    slo: dict[str, object] = {"name": spec.name, "objective": spec.objective_percent}
    if spec.description:
        slo["description"] = spec.description
    own_labels = spec.labels[shared_labels:]
    if own_labels:
        slo["labels"] = dict(own_labels)
    slo["sli"] = {
        "events": {
            "error_query": _sloth_query(error_query),
            "total_query": _sloth_query(total_query),
        }
    }
    slo["alerting"] = {"name": _alert_name(spec)}
    return slo


def _sloth_query(query: str) -> str:
    return query.replace(WINDOW_PLACEHOLDER, SLOTH_WINDOW_PLACEHOLDER)


def _alert_name(spec: SLOSpec) -> str:
    """Sloth requires one; e.g. CartRequestsAvailability."""
    words = re.split(r"[^a-zA-Z0-9]+", f"{spec.service} {spec.name}")
    return "".join(word[:1].upper() + word[1:] for word in words if word)
