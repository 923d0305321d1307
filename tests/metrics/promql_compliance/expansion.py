"""The compliance tester's test cases, expanded as its `testcases/expand.go` does.

A port of github.com/prometheus/compliance (promql/testcases/expand.go, Apache-2.0): each case's
`variant_args` are expanded in the order given, the first one outermost, into every combination
of the values in VARIANT_ARGS. The values and their order are the tester's own; the number of
expanded cases is what the upstream tool reports for the same YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

QUERIES_FILE = Path(__file__).with_name("promql-test-queries.yml")

VARIANT_ARGS: dict[str, list[str]] = {
    "range": ["1s", "15s", "1m", "5m", "15m", "1h"],
    "offset": ["1m", "5m", "10m"],
    "simpleAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar"],
    "simpleTimeAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar", "absent", "last"],
    "topBottomOp": ["topk", "bottomk"],
    "quantile": ["-0.5", "0.1", "0.5", "0.75", "0.95", "0.90", "0.99", "1", "1.5"],
    "arithBinOp": ["+", "-", "*", "/", "%", "^"],
    "compBinOp": ["==", "!=", "<", ">", "<=", ">="],
    "binOp": ["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="],
    "simpleMathFunc": ["abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "round"],
    "extrapolatedRateFunc": ["delta", "rate", "increase"],
    "clampFunc": ["clamp_min", "clamp_max"],
    "instantRateFunc": ["idelta", "irate"],
    "dateFunc": ["day_of_month", "day_of_week", "days_in_month", "hour", "minute", "month", "year"],
    "smoothingFactor": ["0.1", "0.5", "0.8"],
    "trendFactor": ["0.1", "0.5", "0.8"],
}

# The queries use only `{{.name}}` actions of Go's text/template; anything else is refused.
FIELD = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class TestCase:
    query: str
    should_fail: bool = False
    skip_comparison: bool = False

    __test__ = False  # not a pytest test class


def render(template: str, args: dict[str, str]) -> str:
    """Go's text/template on a map: a missing key renders as `<no value>`."""
    rendered = FIELD.sub(lambda match: args.get(match.group(1), "<no value>"), template)
    if "{{" in rendered:
        raise ValueError(f"unsupported template action in {template!r}")
    return rendered


def variants(query: str, remaining: list[str], args: dict[str, str]) -> list[str]:
    """Every combination of the remaining variant args, the first one varying slowest."""
    if not remaining:
        return [render(query, args)]
    arg = remaining[0]
    # As upstream: every occurrence of the arg is consumed at this level.
    rest = [other for other in remaining if other != arg]
    values = VARIANT_ARGS.get(arg)
    if not values:
        raise ValueError(f"unknown variant arg {arg!r}")
    queries: list[str] = []
    for value in values:
        args[arg] = value
        queries.extend(variants(query, rest, args))
    return queries


def expand(cases: list[dict[str, Any]]) -> list[TestCase]:
    expanded = []
    for case in cases:
        for query in variants(str(case["query"]), list(case.get("variant_args") or []), {}):
            expanded.append(
                TestCase(
                    query=query,
                    should_fail=bool(case.get("should_fail", False)),
                    skip_comparison=bool(case.get("skip_comparison", False)),
                )
            )
    return expanded


def load_cases(path: Path = QUERIES_FILE) -> list[TestCase]:
    document = yaml.safe_load(path.read_text())
    return expand(document["test_cases"])
