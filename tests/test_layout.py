"""The package layout: stage subpackages whose imports point one way, no import cycles between
modules, no module over 300 lines, few modules loose at the top.

Imports are read with ast from the source, including the lazy ones inside functions, so a cycle
that only shows when a function runs is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "swiftkit"
# Each stage may import its own modules and the stages before it, never one after it.
# watch (reading run directories) comes before memory and plan: they learn from finished runs.
# after (infer, export, identity check) works on the run directories that run makes.
STAGES = ("errors", "recipe", "data", "watch", "memory", "plan", "run", "after", "tiny", "cli")
TOP_LEVEL_ALLOWED = {"__init__", "__main__", "errors"}
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The swiftkit modules `path` imports (a `from pkg import mod` counts as pkg.mod)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("swiftkit")}
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("swiftkit")
        ):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known} - {module_name(path)}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(path, set(mods)) for name, path in mods.items()}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(edges.get(node, ())):
            # A package __init__ re-exports its own modules: not a cycle of the pipeline.
            if nxt.startswith(node + "."):
                continue
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_no_import_cycle_between_modules():
    assert find_cycle(graph()) is None


def test_find_cycle_reports_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_stages_import_only_earlier_stages():
    order = {name: i for i, name in enumerate(STAGES)}
    wrong = [
        f"{src} -> {dst}"
        for src, dsts in graph().items()
        for dst in dsts
        if stage(src) in order and order.get(stage(dst), -1) > order[stage(src)]
    ]
    assert wrong == []


def test_every_stage_is_a_folder_and_few_modules_are_loose():
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose <= TOP_LEVEL_ALLOWED
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(STAGES) - {"errors"}


def test_no_module_over_300_lines():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
