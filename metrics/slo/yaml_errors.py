"""Reading SLO files: the errors they raise, and the reader that walks PyYAML's node tree
collecting every problem with its 1-based line instead of stopping at the first one.

Pure: it reads the nodes it is given and never opens a file. It never builds Python objects
from YAML tags either (no `yaml.load`), so numbers keep their exact text (`99.9` stays
`Decimal("99.9")`)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metrics.promql.ast import VectorSelector
from metrics.promql.errors import PromQLError
from metrics.promql.parser import parse, type_of
from metrics.promql.signatures import MATRIX, VECTOR

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

WINDOW_PLACEHOLDER = "{{window}}"
# Sloth writes Go's `{{.window}}`; the portal's specs hold `{{window}}`.
ANY_WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.?window\s*\}\}")
SAMPLE_RANGE = "5m"  # what the placeholder becomes while a query is checked


class SLOFileError(ValueError):
    """An SLO file the portal refuses. `problems` holds (line, message) pairs sorted by line;
    the message lists them all, one `line N: <what is wrong>` per line."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem[0])
        super().__init__("\n".join(f"line {line}: {message}" for line, message in self.problems))


class SLOExportError(ValueError):
    """A spec the chosen format cannot express (e.g. a calendar window in Sloth)."""


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class Fields:
    """A mapping's entries by key, with the key nodes kept for their line numbers. `at` is
    where a missing field is reported: the mapping's own key (`spec:`) when it has one."""

    node: MappingNode
    at: Node
    path: str
    values: dict[str, Node]
    keys: dict[str, Node]

    def get(self, key: str) -> Node | None:
        return self.values.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def path_of(self, key: str) -> str:
        return join(self.path, key)


class Reader:
    """Reads typed values out of nodes; each bad value is recorded and comes back as None,
    so the caller carries on and the file's other problems are found too."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []

    def report(self, node: Node, message: str) -> None:
        self.problems.append((line_of(node), message))

    def mapping(
        self, node: Node, path: str, allowed: Collection[str] | None, at: Node | None = None
    ) -> Fields | None:
        """`allowed=None` accepts any key (labels, annotations, data-source specific parts)."""
        if not isinstance(node, MappingNode):
            self.report(node, f'"{path}" must be a mapping' if path else "must be a mapping")
            return None
        fields = Fields(node, at or node, path, {}, {})
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.report(key_node, f'keys in "{path}" must be strings')
                continue
            key = str(key_node.value)
            if key in fields.values:
                self.report(key_node, f'duplicate field "{join(path, key)}"')
            elif allowed is not None and key not in allowed:
                self.report(key_node, f'unknown field "{join(path, key)}"')
            else:
                fields.values[key] = value_node
                fields.keys[key] = key_node
        return fields

    def require(self, fields: Fields, key: str) -> Node | None:
        node = fields.get(key)
        if node is None:
            self.report(fields.at, f'missing required field "{fields.path_of(key)}"')
        return node

    def required_text(self, fields: Fields, key: str) -> str | None:
        node = self.require(fields, key)
        return None if node is None else self.text(node, fields.path_of(key))

    def optional_text(self, fields: Fields, key: str) -> str:
        node = fields.get(key)
        return "" if node is None else self.text(node, fields.path_of(key), allow_empty=True) or ""

    def required_mapping(
        self, fields: Fields, key: str, allowed: Collection[str] | None
    ) -> Fields | None:
        node = self.require(fields, key)
        if node is None:
            return None
        return self.mapping(node, fields.path_of(key), allowed, at=fields.keys[key])

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.report(node, f'"{path}" must be a list')
            return None
        return list(node.value)

    def text(self, node: Node, path: str, *, allow_empty: bool = False) -> str | None:
        if not isinstance(node, ScalarNode):
            self.report(node, f'"{path}" must be a string')
            return None
        value = "" if node.tag == NULL_TAG else str(node.value)
        if not value.strip() and not allow_empty:
            self.report(node, f'"{path}" must not be empty')
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        if not isinstance(node, ScalarNode) or node.tag != BOOL_TAG:
            self.report(node, f'"{path}" must be true or false')
            return None
        return str(node.value).lower() in ("true", "yes", "on", "y")

    def number(self, node: Node, path: str, *, quoted_ok: bool = False) -> Decimal | None:
        """The scalar's own text as a Decimal; a float would turn 99.9 into 99.900000000000006."""
        if not isinstance(node, ScalarNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a mapping"
            self.report(node, f'"{path}" must be a number, not {kind}')
            return None
        try:
            value = Decimal(str(node.value).strip())
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            self.report(node, f'"{path}" must be a number, not "{node.value}"')
            return None
        if node.tag not in NUMBER_TAGS and not quoted_ok:
            self.report(node, f'"{path}" must be a number, not the string "{node.value}"')
            return None
        return value

    def promql(self, node: Node, path: str, label: str) -> str | None:
        """A query with `{{window}}` (or Sloth's `{{.window}}`), checked with a sample range.
        Without the placeholder it must be a plain counter selector, which the evaluation
        wraps in `sum(increase(...[window]))`."""
        text = self.text(node, path)
        if text is None:
            return None
        query = ANY_WINDOW_PLACEHOLDER.sub(WINDOW_PLACEHOLDER, text.strip())
        try:
            expr = parse(query.replace(WINDOW_PLACEHOLDER, SAMPLE_RANGE))
            kind = type_of(expr)
        except PromQLError as exc:
            self.report(node, f"invalid PromQL in {label}: {exc}")
            return None
        if WINDOW_PLACEHOLDER not in query and not isinstance(expr, VectorSelector):
            self.report(
                node,
                f"invalid PromQL in {label}: a query without {WINDOW_PLACEHOLDER} must be a plain "
                'counter selector such as http_requests_total{code=~"5.."}',
            )
            return None
        if kind != VECTOR:
            shown = "range vector" if kind == MATRIX else kind
            self.report(
                node,
                f"invalid PromQL in {label}: expected an instant vector such as "
                f"sum(rate(...[{WINDOW_PLACEHOLDER}])), got a {shown}",
            )
            return None
        return query

    def labels(self, node: Node | None, path: str) -> dict[str, str]:
        """Label names to values, in file order; values must be single strings."""
        if node is None:
            return {}
        fields = self.mapping(node, path, None)
        if fields is None:
            return {}
        labels: dict[str, str] = {}
        for key, value_node in fields.values.items():
            if not isinstance(value_node, ScalarNode):
                self.report(value_node, f'label "{key}" must be a single string')
                continue
            labels[key] = "" if value_node.tag == NULL_TAG else str(value_node.value)
        return labels
