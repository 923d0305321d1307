"""The shape of the code base, read from its source: no two modules import each other (directly
or round a longer loop, at load time or deferred), `metrics` reaches `incidents` through one
narrow door, and the top of `incidents/` holds only the app's wiring and one folder per
concept."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("coe_portal", "metrics", "incidents")
# What `metrics` may import from `incidents`: the one call an alarm or SLO makes when its state
# changes, and read-only selectors.
METRICS_MAY_IMPORT = {"incidents.incident.alerts"}
INCIDENTS_TOP_LEVEL = {
    "__init__.py", "apps.py", "admin.py", "urls.py", "tasks.py", "models.py", "demo.py",
    "migrations", "incident", "coe", "action_items", "reminders", "analytics",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere: an import deferred into a function only hides a
    loop until the function runs, so it counts."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(path, known) - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_cycle_finder_finds_a_loop_of_three():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_round_a_loop():
    assert cycles(import_graph()) == []


def test_metrics_reaches_incidents_only_through_alerts_and_selectors():
    crossings = {
        (source, target)
        for source, targets in import_graph().items()
        if source.startswith("metrics.")
        for target in targets
        if target.startswith("incidents")
        and target not in METRICS_MAY_IMPORT
        and not target.endswith(".selectors")
    }
    assert crossings == set()


def test_incidents_top_level_holds_the_wiring_and_one_folder_per_concept():
    entries = {path.name for path in (ROOT / "incidents").iterdir() if path.name != "__pycache__"}
    assert entries == INCIDENTS_TOP_LEVEL
