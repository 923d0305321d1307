"""SLOs as code: read OpenSLO v1 and Sloth `prometheus/v1` YAML into SLOSpecs, and write
SLOSpecs back as either format.

    load_slos(text)      -> list[SLOSpec]; raises SLOFileError listing every problem as
                            `line N: <what is wrong>`
    dump_openslo(specs)  -> text, one `kind: SLO` document per spec
    dump_sloth(specs)    -> text, one document per service; raises SLOExportError for what
                            Sloth cannot express

A stream may mix both formats, one format per document: `apiVersion:` marks OpenSLO,
`version:` marks Sloth. The mapping of each format is described in `openslo.py` and
`sloth.py`. Round trips hold: load_slos(dump_openslo(specs)) == specs, and the same for
Sloth when its specs are grouped by service, given queries without surrounding whitespace
(the reader strips it) and time_zone "UTC" for rolling windows (only calendar windows carry
a time zone).

Pure: takes and returns text, never touches files or the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.reader import ReaderError

from metrics.slo.openslo import openslo_document, read_openslo
from metrics.slo.sloth import read_sloth, sloth_documents
from metrics.slo.spec import SLOSpec
from metrics.slo.yaml_errors import NULL_TAG, Reader, SLOExportError, SLOFileError

__all__ = ["SLOExportError", "SLOFileError", "dump_openslo", "dump_sloth", "load_slos"]


def load_slos(text: str) -> list[SLOSpec]:
    documents = _compose(text)
    reader = Reader()
    found: list[tuple[SLOSpec, int]] = []
    for document in documents:
        if isinstance(document, ScalarNode) and document.tag == NULL_TAG:
            continue  # an empty document, e.g. after a trailing `---`
        found.extend(_read_document(document, reader))
    first_seen: dict[tuple[str, str], int] = {}
    for spec, line in found:
        key = (spec.service, spec.name)
        if key in first_seen:
            reader.problems.append(
                (
                    line,
                    f'duplicate SLO "{spec.name}" of service "{spec.service}" '
                    f"(first defined on line {first_seen[key]})",
                )
            )
        else:
            first_seen[key] = line
    if reader.problems:
        raise SLOFileError(reader.problems)
    return [spec for spec, _ in found]


def dump_openslo(specs: Iterable[SLOSpec]) -> str:
    return _dump([openslo_document(spec) for spec in specs])


def dump_sloth(specs: Iterable[SLOSpec]) -> str:
    return _dump(sloth_documents(specs))


def _compose(text: str) -> list[Node]:
    """The node tree of every document, which keeps each value's line and exact text."""
    try:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem}"
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        raise SLOFileError([(mark.line + 1 if mark else 1, message)]) from exc
    except ReaderError as exc:  # a control character, before any parsing
        line = text[: exc.position].count("\n") + 1
        message = f"YAML syntax error: unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise SLOFileError([(line, message)]) from exc


def _read_document(node: Node, reader: Reader) -> list[tuple[SLOSpec, int]]:
    keys = set()
    if isinstance(node, MappingNode):
        keys = {key.value for key, _ in node.value if isinstance(key, ScalarNode)}
    if isinstance(node, MappingNode) and "apiVersion" in keys:
        found = read_openslo(node, reader)
        return [] if found is None else [found]
    if isinstance(node, MappingNode) and "version" in keys:
        return read_sloth(node, reader)
    reader.report(
        node,
        'not an SLO document: expected "apiVersion: openslo/v1" (OpenSLO) '
        'or "version: prometheus/v1" (Sloth)',
    )
    return []


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True  # every document reads on its own, without anchors

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # List items indented under their key, as Kubernetes-style files write them.
        super().increase_indent(flow, False)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    # Plain `0.999`, never a float's repr and never exponent notation.
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # multi-line PromQL stays readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_str)


def _dump(documents: list[dict[str, object]]) -> str:
    return yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        explicit_start=True,
        allow_unicode=True,
        width=4096,  # long queries stay on one line
    )
