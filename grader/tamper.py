"""Spot code that reaches into the grader instead of answering the exercise (a static scan).

The scan runs in the grader's own process, on the student's cells only (their answers and any code
cells they added), never inside the student's kernel, so nothing a submission does at run time can
change its result. It flags what an honest answer to these exercises never needs: rebinding an
attribute of a library or test-helper module, reflection and code-execution primitives, exception
hooks, frames and code objects, and modules for files, processes or the interpreter itself. Any
finding grades the notebook ``tampered`` (zero) and names the line, for the instructor to review.
"""

from __future__ import annotations

import ast

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode

BLOCKED_MODULES = frozenset(
    [
        "_thread",
        "asyncio",
        "atexit",
        "builtins",
        "code",
        "codeop",
        "course_checks",
        "ctypes",
        "faulthandler",
        "gc",
        "glob",
        "importlib",
        "inspect",
        "io",
        "ipykernel",
        "IPython",
        "jupyter_client",
        "marshal",
        "mmap",
        "multiprocessing",
        "nbformat",
        "nbgrader",
        "os",
        "pathlib",
        "pickle",
        "pkgutil",
        "pty",
        "resource",
        "runpy",
        "shutil",
        "signal",
        "site",
        "socket",
        "sqlite3",
        "subprocess",
        "sys",
        "sysconfig",
        "tempfile",
        "threading",
        "traceback",
        "types",
        "unittest",
        "weakref",
        "zipimport",
    ]
)
BLOCKED_NAMES = frozenset(
    [
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "get_ipython",
        "globals",
        "locals",
        "setattr",
        "vars",
    ]
)
BLOCKED_ATTRIBUTES = frozenset(
    [
        "__builtins__",
        "__bases__",
        "__class__",
        "__closure__",
        "__code__",
        "__defaults__",
        "__dict__",
        "__func__",
        "__getattribute__",
        "__globals__",
        "__kwdefaults__",
        "__loader__",
        "__mro__",
        "__self__",
        "__setattr__",
        "__delattr__",
        "__spec__",
        "__subclasses__",
        "__traceback__",
        "__wrapped__",
        "_getframe",
        "cr_frame",
        "CustomTB",
        "custom_exceptions",
        "excepthook",
        "f_back",
        "f_globals",
        "f_locals",
        "gi_frame",
        "set_custom_exc",
        "showtraceback",
        "tb_frame",
    ]
)
ALLOWED_MAGICS = frozenset(["time", "timeit", "matplotlib"])
# Attribute writes an honest answer makes: its own object's state, and a tensor's data or grad.
WRITABLE_ROOTS = frozenset({"self"})
WRITABLE_ATTRIBUTES = frozenset({"data", "grad", "requires_grad"})


def scan_cells(cells: list[NotebookNode], protected: frozenset[str] = frozenset()) -> list[str]:
    """Findings (one sentence each) for the student's code cells; empty when nothing is flagged.

    ``protected``: the names the instructor's cells import for the tests (:func:`test_helpers`);
    a student's cell that binds one of them replaces a test helper or a reference.
    """
    findings: list[str] = []
    for number, cell in enumerate(cells, start=1):
        findings += [f"cell {number}: {finding}" for finding in scan_source(cell.source, protected)]
    return findings


def scan_source(source: str, protected: frozenset[str] = frozenset()) -> list[str]:
    """Findings for one cell's source (IPython syntax allowed)."""
    tree = _parse(source)
    if tree is None:
        return []  # it cannot run either: the tests report it
    findings = _Scanner().findings_for(tree)
    bound = defined_names(source) | {
        name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names
    }
    findings += [
        f"binds {name}, which the tests import from course_checks"
        for name in sorted(bound & protected)
    ]
    return findings


def test_helpers(notebook: NotebookNode) -> frozenset[str]:
    """The names the instructor's given cells import from ``course_checks``."""
    names: set[str] = set()
    for cell in notebook.cells:
        info = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.cell_type != "code" or info.get("solution") or info.get("grade"):
            continue
        tree = _parse(cell.source)
        for node in ast.walk(tree) if tree is not None else []:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_checks"):
                names.update(alias.asname or alias.name for alias in node.names)
    return frozenset(names - {"*"})


def defined_names(source: str, imports: bool = True) -> set[str]:
    """The names a cell binds at its top level: functions, classes, assignments (and imports)."""
    tree = _parse(source)
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            return  # its body binds local names only
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            return
        if isinstance(node, ast.Import | ast.ImportFrom) and imports:
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    if tree is not None:
        visit(tree)
    return names


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[str] = []

    def findings_for(self, tree: ast.AST) -> list[str]:
        self.visit(tree)
        return self.findings

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._check_module(node, node.module or "")
        for alias in node.names:
            if alias.name in BLOCKED_NAMES | BLOCKED_ATTRIBUTES:
                self.flag(node, f"imports {alias.name}")

    def _check_module(self, node: ast.AST, module: str) -> None:
        if module.split(".")[0] in BLOCKED_MODULES:
            self.flag(node, f"imports {module}, which these exercises never need")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in BLOCKED_NAMES:
            self.flag(node, f"uses {node.id}()")
        elif node.id in BLOCKED_ATTRIBUTES:
            self.flag(node, f"uses {node.id}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in BLOCKED_ATTRIBUTES:
            self.flag(node, f"touches .{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        computed = len(node.args) < 2 or not isinstance(node.args[1], ast.Constant)
        if isinstance(function, ast.Name) and function.id == "getattr" and computed:
            self.flag(node, "uses getattr() with a computed name")
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Call)
            and isinstance(function.value.func, ast.Name)
            and function.value.func.id == "get_ipython"
        ):
            magic = (
                node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else ""
            )
            if function.attr in {"run_line_magic", "run_cell_magic"} and magic in ALLOWED_MAGICS:
                for argument in node.args[1:]:
                    self.visit(argument)
                return  # %time, %timeit and %matplotlib are fine
            self.flag(node, "runs a shell command or IPython magic")
            return
        self.generic_visit(node)

    def _check_target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element)
        elif isinstance(target, ast.Attribute):
            root = target
            while isinstance(root, ast.Attribute):
                root = root.value
            name = root.id if isinstance(root, ast.Name) else ""
            if name not in WRITABLE_ROOTS and target.attr not in WRITABLE_ATTRIBUTES:
                self.flag(target, f"rebinds {ast.unparse(target)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)
