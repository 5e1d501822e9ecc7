"""The imports between the project's modules, read with ``ast`` (nothing is imported).

Every ``import`` and ``from … import`` counts, those inside functions too: an import moved into a
function hides a cycle from Python, not from this graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

ASSIGNMENT_PREFIX = "ex"  # course_checks/ex<N>_<name>/: one package per assignment
OLD_NAME = "Old name of"  # how the docstring of a re-export kept for one release starts


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``), by dotted name."""
    return {module_name(root, p): p for p in sorted((root / package).rglob("*.py"))}


def imports(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (``from pkg import sub``: ``pkg.sub``)."""
    known = modules(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in known else base)
        graph[name] = {t for t in targets if t in known and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def assignment_of(module: str, package: str = "course_checks") -> str | None:
    """``ex3_gru_torch`` for ``course_checks.ex3_gru_torch.gru_torch``; None for the core."""
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == package and parts[1].startswith(ASSIGNMENT_PREFIX):
        return parts[1]
    return None


def crossings(root: Path, package: str = "course_checks") -> list[str]:
    """Imports from one assignment's package into another's, or from the core into one
    (re-exports of old names, kept for one release, excepted)."""
    known = modules(root, package)
    found = []
    for source, targets in sorted(imports(root, package).items()):
        mine = assignment_of(source, package)
        docstring = ast.get_docstring(ast.parse(known[source].read_text(encoding="utf-8"))) or ""
        if mine is None and docstring.startswith(OLD_NAME):
            continue
        for target in sorted(targets):
            theirs = assignment_of(target, package)
            if theirs is not None and theirs != mine:
                found.append(f"{source} imports {target}")
    return found
