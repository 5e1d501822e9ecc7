"""Spot code that reaches into the grader instead of answering the exercise (a static scan).

The scan runs in the grader's own process, on the student's cells only (their answers and any code
cells they added), never inside the student's kernel, so nothing a submission does at run time can
change its result. It is an allow-list: answers may import the modules their notebook names
(metadata ``gru_course.student_imports``) and a few harmless standard ones, and use their public
attributes. Everything else is a finding: other modules (also reached as an attribute, ``torch.os``,
or through a name the given cells import, ``torch`` in a NumPy notebook), a module used as a value,
private and dunder attributes (a method's own ``self._x`` excepted), frames, attributes read by a
computed name or through a format string, builtins that run strings or reach namespaces, special
methods, IPython's history, magics other than timing, help and ``%matplotlib inline`` (the code in
the timing magics is scanned too), the names the tests import from ``course_checks``, rebinding a
given function, class or module name, and writing a library's attributes. Any finding grades the
notebook ``tampered`` (zero) and names the cell and line, for the instructor to review. The scan is
iterative and bounded: a cell too deeply nested to parse is a finding, never a crash.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import types
import warnings
from _string import formatter_field_name_split
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from string import Formatter

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Harmless standard modules any notebook's answers may import. Not `string` (its Formatter reads
# attributes by name), `operator` (attrgetter, methodcaller), `contextlib`, `os`, `sys`, `inspect`,
# `importlib` and the like; their attributes that are modules (`typing.sys`) are findings too.
STDLIB_MODULES = _words(
    "abc bisect cmath collections collections.abc copy dataclasses decimal enum fractions "
    "functools heapq itertools math numbers pprint random re statistics textwrap time "
    "typing warnings"
)
# The modules (and submodules: each is listed) that a root in `student_imports` allows.
LIBRARY_MODULES = {
    "numpy": _words(
        "numpy numpy.random numpy.linalg numpy.fft numpy.polynomial "
        "numpy.polynomial.polynomial numpy.ma numpy.emath numpy.char numpy.rec numpy.strings "
        "numpy.testing numpy.typing numpy.exceptions numpy.dtypes numpy.lib.stride_tricks"
    ),
    "matplotlib": _words(
        "matplotlib matplotlib.pyplot matplotlib.colors matplotlib.cm matplotlib.ticker "
        "matplotlib.patches matplotlib.lines matplotlib.gridspec matplotlib.figure "
        "matplotlib.axes matplotlib.style"
    ),
    "torch": _words(
        "torch torch.nn torch.nn.functional torch.nn.init torch.nn.utils torch.nn.utils.rnn "
        "torch.nn.parameter torch.optim torch.optim.lr_scheduler torch.linalg torch.fft "
        "torch.special torch.random torch.autograd torch.autograd.functional torch.func "
        "torch.utils.data torch.distributions torch.testing torch.cuda torch.backends "
        "torch.backends.cudnn torch.backends.cuda torch.backends.mps"
    ),
}
# Where a notebook names no `student_imports` (a course of another shape): all three libraries.
DEFAULT_STUDENT_IMPORTS = ("numpy", "matplotlib", "torch")
# Public attributes of allowed modules that run code the scan never sees, import modules by name,
# or set attributes by name; a re-export of one (the same object) is found too.
DENIED_OBJECTS = {
    "functools.update_wrapper": "sets attributes by name",
    "functools.wraps": "sets attributes by name",
    "typing.get_type_hints": "evaluates strings as code",
    "enum.global_enum": "writes into a module's namespace",
    "numpy.load": "can unpickle code",
    "numpy.testing.measure": "runs a string as code",
    "numpy.testing.rundocs": "runs a file's code",
    "numpy.testing.decorate_methods": "sets attributes by name",
    "matplotlib.use": "imports a backend module by name",
    "matplotlib.rc_file": "loads settings that name backend modules",
    "matplotlib.pyplot.switch_backend": "imports a backend module by name",
    "matplotlib.pyplot.install_repl_displayhook": "hooks into IPython",
    "torch.load": "can unpickle code",
    "torch.compile": "compiles and hooks frames",
    "torch.ops": "reaches compiled operators",
    "torch.classes": "reaches compiled classes",
    "numpy.lib.stride_tricks.as_strided": "reads and writes raw memory",
    "dataclasses.make_dataclass": "defines a class from strings",
}
# Builtins that run strings as code, read or write namespaces, or set attributes by name; `help`
# imports modules by name. (`open`, `exit` and the rest stay: the sandbox bounds them.)
BLOCKED_NAMES = _words(
    "breakpoint compile delattr eval exec get_ipython globals help locals setattr vars"
)
# IPython's history: its inputs hold the test cells' code, its outputs their values.
HISTORY_NAMES = re.compile(r"In|Out|_ih|_oh|_dh|_i|_ii|_iii|_i\d+|_\d+|__|___")
ALLOWED_DUNDER_ATTRIBUTES = frozenset({"__init__", "__name__", "__qualname__", "__doc__"})
ALLOWED_DUNDER_ATTRIBUTES |= {"__version__"}
ALLOWED_DUNDER_NAMES = frozenset({"__name__", "__debug__"})
ALLOWED_CLASS_DUNDERS = frozenset({"__slots__", "__doc__", "__hash__"})  # set in a class body
# Public attributes of frames, generators, coroutines and tracebacks: a frame's f_globals is the
# kernel's namespace (and builtins), as a generator's gi_frame is.
FRAME_ATTRIBUTES = _words(
    "f_back f_builtins f_code f_globals f_locals f_lasti f_lineno f_trace gi_frame gi_code "
    "gi_yieldfrom cr_frame cr_code cr_await cr_origin ag_frame ag_code ag_await tb_frame "
    "tb_next tb_lasti tb_lineno"
)
ALLOWED_DUNDER_METHODS = _words(
    "__init__ __post_init__ __repr__ __str__ __len__ __iter__ __next__ __getitem__ "
    "__contains__ __call__ __enter__ __exit__"
)
ALLOWED_MAGICS = frozenset({"time", "timeit", "matplotlib", "pinfo", "pinfo2", "psearch"})
MATPLOTLIB_MAGIC_ARGUMENTS = frozenset({"", "inline"})  # no backend module named by the student
# Attribute writes an honest answer makes outside its own methods: a tensor's data or grad.
WRITABLE_ATTRIBUTES = frozenset({"data", "grad", "requires_grad"})
NESTING_LIMIT = 8  # magics inside magics
TOO_DEEP = "too deeply nested for the grader to check"
_MISSING = object()


@dataclass(frozen=True)
class Policy:
    """What a notebook allows, from its release."""

    modules: frozenset[str]  # allowed modules, by dotted name
    protected: frozenset[str] = frozenset()  # names the given cells import from course_checks
    given_definitions: frozenset[str] = frozenset()  # functions and classes of the given cells
    aliases: dict[str, str] = field(default_factory=dict)  # given names of allowed modules
    forbidden: dict[str, str] = field(default_factory=dict)  # given names of other modules
    tainted: frozenset[str] = frozenset()  # given names of objects made from those modules
    test_names: frozenset[str] = frozenset()  # names the test cells use (`np`, `torch`)

    @property
    def passthrough(self) -> frozenset[str]:
        """Packages only passed through on the way to an allowed module (``numpy.lib``)."""
        return frozenset(
            m.rsplit(".", i)[0] for m in self.modules for i in range(1, m.count(".") + 1)
        )


def allowed_modules(student_imports: Iterable[str]) -> frozenset[str]:
    """The modules a notebook's answers may use, from its ``student_imports`` roots."""
    return STDLIB_MODULES | frozenset().union(
        *(LIBRARY_MODULES.get(r, {r}) for r in student_imports)
    )


def notebook_policy(release: NotebookNode) -> Policy:
    """The policy of a released notebook: its ``student_imports`` and its given cells."""
    imports = (release.get("metadata", {}).get("gru_course", {}) or {}).get("student_imports")
    modules = allowed_modules(DEFAULT_STUDENT_IMPORTS if imports is None else imports)
    aliases: dict[str, str] = {}  # given names of allowed modules
    forbidden: dict[str, str] = {}  # given names of modules the answers may not use
    definitions: set[str] = set()
    tainted: set[str] = set()
    for source in _given_sources(release):
        tree = _parse(source)[0]
        statements = list(tree.body) if tree is not None else []
        while statements:  # the top level, through if/with/for/try blocks
            node = statements.pop(0)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                definitions.add(node.name)
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name, module in _import_aliases(node).items():
                    if module in modules:
                        aliases[name] = module
                    elif not module.startswith("course_checks") and _is_module(module):
                        forbidden[name] = module
            elif (
                isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign)
                and node.value
                and _roots(node.value) & (forbidden.keys() | tainted)  # `gru = torch.nn.GRU(…)`
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                tainted |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            for name in ("body", "orelse", "finalbody", "handlers"):
                statements[0:0] = [s for s in getattr(node, name, []) if isinstance(s, ast.AST)]
    return Policy(
        modules=modules,
        protected=test_helpers(release),
        given_definitions=frozenset(definitions),
        aliases=aliases,
        forbidden=forbidden,
        tainted=frozenset(tainted - {"_"}),
        test_names=frozenset(_test_names(release)),
    )


def scan_notebook(student_cells: list[NotebookNode], release: NotebookNode) -> list[str]:
    """Findings (one sentence each, naming cell and line) for the student's code cells of a
    notebook rebuilt on ``release`` (:func:`grader.integrity.rebuild`); empty: nothing flagged."""
    return _scan([c.source for c in student_cells], notebook_policy(release))


def scan_cells(cells: list[NotebookNode], protected: frozenset[str] = frozenset()) -> list[str]:
    """Findings for the student's code cells, without a release: the default modules, the usual
    aliases (``np``, ``plt``, ``torch``, ``nn``, ``F``); ``protected``: :func:`test_helpers`."""
    return _scan([c.source for c in cells], _default_policy(protected))


def scan_source(source: str, protected: frozenset[str] = frozenset()) -> list[str]:
    """Findings for one cell's source (IPython syntax allowed), as :func:`scan_cells`."""
    return [f.split(": ", 1)[1] for f in _scan([source], _default_policy(protected))]


def test_helpers(notebook: NotebookNode) -> frozenset[str]:
    """The names the instructor's given cells import from ``course_checks``."""
    names: set[str] = set()
    for source in _given_sources(notebook):
        tree = _parse(source)[0]
        for node in ast.walk(tree) if tree is not None else []:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_checks"):
                names.update(alias.asname or alias.name for alias in node.names)
    return frozenset(names - {"*"})


def defined_names(source: str, imports: bool = True) -> set[str]:
    """The names a cell binds at its top level: functions, classes, assignments (and imports)."""
    tree = _parse(source)[0]
    names: set[str] = set()
    todo: list[ast.AST] = [tree] if tree is not None else []
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue  # its body binds local names only
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            continue
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
        todo.extend(ast.iter_child_nodes(node))
    return names


# ------------------------------------------------------------------------------ parsing


def _parse(source: str) -> tuple[ast.Module | None, bool]:
    """(tree, too_deep): None for a cell that cannot run; too_deep where that is its size."""
    try:
        return ast.parse(TransformerManager().transform_cell(source)), False
    except (RecursionError, MemoryError):
        return None, True
    except SyntaxError as error:  # the tokenizer's and parser's limits are findings
        return None, bool(re.search(r"too many (nested|statically)|too complex", str(error)))
    except Exception:  # the kernel's transformer is the same and fails too: nothing runs
        return None, False


def _test_names(notebook: NotebookNode) -> set[str]:
    names: set[str] = set()
    for cell in notebook.cells:
        info = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.cell_type == "code" and info.get("grade") and not info.get("solution"):
            tree = _parse(cell.source)[0]
            names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} if tree else set()
    return names


def _given_sources(notebook: NotebookNode) -> Iterator[str]:
    for cell in notebook.cells:
        info = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.cell_type == "code" and not info.get("solution") and not info.get("grade"):
            yield cell.source


def _default_policy(protected: frozenset[str]) -> Policy:
    conventional = {"np": "numpy", "plt": "matplotlib.pyplot", "torch": "torch"}
    conventional |= {"nn": "torch.nn", "F": "torch.nn.functional", "math": "math"}
    return Policy(allowed_modules(DEFAULT_STUDENT_IMPORTS), protected, aliases=conventional)


def _import_aliases(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Names an import binds to modules (``from m import f`` binds ``f`` to ``m.f``)."""
    if isinstance(node, ast.Import):  # `import a.b` binds a; `import a.b as c` binds c to a.b
        return {a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                for a in node.names}  # fmt: skip
    base = node.module or ""
    return {(a.asname or a.name): f"{base}.{a.name}" for a in node.names if a.name != "*"}


def _roots(node: ast.AST) -> set[str]:
    """The names an expression's value is made from: ``torch.nn.GRU(3)`` → {torch}."""
    roots: set[str] = set()
    todo = [node]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name):
            roots.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
            todo.append(node.value)
        elif isinstance(node, ast.Call):
            todo.append(node.func)
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            todo.extend(node.elts)
    return roots


def _text(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _special_string(value: object) -> bool:
    """A string that is a dunder name (a key for type(), a class namespace, getattr)."""
    allowed = ALLOWED_DUNDER_ATTRIBUTES | ALLOWED_DUNDER_METHODS | {"__main__"}
    return isinstance(value, str) and _dunder(value) and value not in allowed


# ------------------------------------------------------------------------------ modules


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:  # its parent is no package, or not installed
        return False


def _module(name: str) -> types.ModuleType | None:
    """An allowed module, imported in the grader (they are the libraries it already uses)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # not installed here: nothing to resolve
        return None


def _member(module: types.ModuleType, name: str) -> object:
    """``module.name`` without running the module's ``__getattr__``: a lazy submodule is found by
    its spec (not imported), anything else missing is _MISSING."""
    value = vars(module).get(name, _MISSING)
    if value is _MISSING:
        try:
            if importlib.util.find_spec(f"{module.__name__}.{name}") is not None:
                return f"{module.__name__}.{name}"  # a submodule not imported yet, by name
        except Exception:  # no such submodule
            pass
    return value


@cache
def _denied_ids() -> dict[int, str]:
    """id → dotted name of each denied object that can be imported here."""
    found = {}
    for path in DENIED_OBJECTS:
        module, _, name = path.rpartition(".")
        owner = _module(module)
        value = vars(owner).get(name, _MISSING) if owner else _MISSING
        if value is not _MISSING:
            found[id(value)] = path
    return found


@cache
def _library_privates() -> frozenset[str]:
    """Private names of the libraries' modules and core objects: ``self._C`` reaches torch's
    internals if a student's method is called with the torch module, or a tensor, as self."""
    names: set[str] = set()
    for name in sorted(set().union(*LIBRARY_MODULES.values())):
        module = _module(name)
        names |= set(dir(module)) if module else set()
    try:
        import numpy
        import torch

        parameter = torch.nn.Parameter(torch.zeros(1))
        for obj in (torch.Tensor, parameter, torch.nn.GRU(1, 1), torch.optim.Adam([parameter])):
            names |= set(dir(obj))
        names |= set(dir(numpy.ndarray)) | set(dir(numpy.random.default_rng()))
    except Exception:  # a library missing here has no privates to hide
        pass
    return frozenset(n for n in names if n.startswith("_") and not _dunder(n))


# ------------------------------------------------------------------------------ scanning


@dataclass
class _Context:
    """Where a node is: the local names of each enclosing function (innermost last), the name of
    the enclosing method's own instance, and whether the innermost scope is a class body."""

    scopes: tuple[frozenset[str], ...] = ()
    declared_global: frozenset[str] = frozenset()
    method_self: str | None = None
    in_class: bool = False
    class_locals: frozenset[str] = frozenset()
    comprehensions: int = 0  # how many of the innermost scopes are comprehensions


@dataclass
class _Job:
    source: str
    line: int  # the cell line the source's line 1 is on
    depth: int
    offset_lines: bool  # a cell magic's body: its lines follow the magic's line


def _scan(sources: list[str], policy: Policy) -> list[str]:
    trees = [_parse(source) for source in sources]
    aliases, star = dict(policy.aliases), {}
    for tree, _ in trees:  # the students' own imports and aliases, from every cell
        if tree is not None:
            aliases.update(_student_aliases(tree, aliases, policy, star))
    findings: list[str] = []
    for number, (source, (tree, too_deep)) in enumerate(zip(sources, trees, strict=True), start=1):
        scanner = _Scanner(policy, aliases, star)
        findings += [f"cell {number}: {f}" for f in scanner.scan_cell(source, tree, too_deep)]
    return findings


def _student_aliases(
    tree: ast.Module, known: dict[str, str], policy: Policy, star: dict[str, str]
) -> dict[str, str]:
    """Names the student's code binds to allowed modules: imports, ``F = torch.nn.functional``;
    ``star`` gets the findings for names a ``from m import *`` binds to what is not allowed."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
            for name, module in _import_aliases(node).items():
                if module in policy.modules or module in policy.passthrough:
                    found[name] = module
            if isinstance(node, ast.ImportFrom) and node.names[0].name == "*":
                found |= _star_names(node.module or "", policy, star)
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            path = _dotted(node.value)
            if path and path[0] in (known | found):
                found[node.targets[0].id] = ".".join([(known | found)[path[0]], *path[1:]])
    return found


def _star_names(module: str, policy: Policy, star: dict[str, str]) -> dict[str, str]:
    """The allowed modules ``from module import *`` binds; the others, and denied objects, go
    to ``star`` (name → finding), so that using one is a finding, not the import itself."""
    owner = _module(module) if module in policy.modules else None
    public = getattr(owner, "__all__", None) or [n for n in dir(owner) if not n.startswith("_")]
    modules: dict[str, str] = {}
    for name in public if owner is not None else []:
        if isinstance(name, str) and not name.startswith("_"):
            finding = _resolve(policy, module, [name], value_used=False)
            value = _member(owner, name)
            if finding:
                star[name] = finding
            elif isinstance(value, str | types.ModuleType):
                modules[name] = f"{module}.{name}"
    return modules


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def _resolve(policy: Policy, module: str, attrs: list[str], value_used: bool) -> str | None:
    """Follow ``module.a.b…`` through the real modules: the finding for a module or object outside
    the allow-list (``torch.os``, ``numpy.ctypeslib``, ``numpy.load``), or for a module used as a
    value; None if there is none."""
    path = module
    known = module in policy.modules or module in policy.passthrough
    current: object = _module(module) if known else None
    for attr in attrs:
        if current is None or attr.startswith("_"):
            return None  # not resolvable here; private and dunder names are flagged as such
        value = _member(current, attr)  # type: ignore[arg-type]
        access = f"{path}.{attr}"
        if value is _MISSING:
            return None  # no such attribute here: an AttributeError when it runs
        if not isinstance(value, str | types.ModuleType):
            denied = _denied_ids().get(id(value)) or (access if access in DENIED_OBJECTS else None)
            if denied:
                return f"uses {access}, which {DENIED_OBJECTS[denied]}"
            if path not in policy.modules:
                return f"uses {access}, outside the modules this notebook allows"
            return None
        real = value if isinstance(value, str) else getattr(value, "__name__", access)
        if access in DENIED_OBJECTS:
            return f"uses {access}, which {DENIED_OBJECTS[access]}"
        allowed = {access, real} & policy.modules
        if not allowed and not {access, real} & policy.passthrough:
            through = "" if real == access else f" through {access}"
            return f"reaches the module {real}{through}, which this notebook does not allow"
        path = next(iter(allowed), access)
        current = value if isinstance(value, types.ModuleType) else _module(real)
    if value_used and attrs:
        return f"uses the module {path} as a value, not its attributes"
    return None


class _Scanner:
    """One cell's findings. Iterative throughout: an answer may nest as deep as Python parses."""

    def __init__(self, policy: Policy, aliases: dict[str, str], star: dict[str, str]) -> None:
        self.policy = policy
        self.aliases = aliases
        self.star = star  # names a `from m import *` bound to what is not allowed
        self.findings: list[str] = []
        self.line = 1
        self.inner: set[int] = set()  # ids of nodes their parent already checked as a whole
        self.alias_values: set[int] = set()  # `F = torch.nn.functional`: a module, named
        self.local_aliases: set[str] = set()  # names a function binds to a module
        self.trees: list[ast.Module] = []

    def scan_cell(self, source: str, tree: ast.Module | None, too_deep: bool) -> list[str]:
        jobs = [(_Job(source, 1, 0, False), (tree, too_deep))]
        while jobs:
            job, (tree, too_deep) = jobs.pop()
            self.line, self.job = job.line, job
            if too_deep or job.depth > NESTING_LIMIT:
                self.findings.append(TOO_DEEP if job.line == 1 else f"line {job.line}: {TOO_DEEP}")
                continue
            if tree is None:
                continue  # it cannot run either: the tests report it
            self.pending: list[_Job] = []
            self.trees.append(tree)  # alive, so that no node id in `inner` is reused
            try:
                self._walk(tree)
            except (RecursionError, MemoryError):
                self.findings.append(TOO_DEEP)
            jobs += [(j, _parse(j.source)) for j in reversed(self.pending)]
        return list(dict.fromkeys(self.findings))  # each finding once, in order

    # -- reporting

    def flag(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 1)
        if self.job.depth:  # inside a magic: its line, or its body's line
            line = self.line + (line if self.job.offset_lines else 0)
        self.findings.append(f"line {line}: {what}")

    # -- the walk

    def _walk(self, tree: ast.Module) -> None:
        self.bound_underscore = any(
            isinstance(n, ast.Name) and n.id == "_" and not isinstance(n.ctx, ast.Load)
            for n in ast.walk(tree)
        )
        self.format_strings = _format_string_names(tree)
        stack: list[tuple[ast.AST, _Context]] = [(tree, _Context())]
        while stack:
            node, context = stack.pop()
            _rewrite_getattr(node)
            children = self.visit(node, context)
            stack.extend(reversed(children))

    def visit(self, node: ast.AST, ctx: _Context) -> list[tuple[ast.AST, _Context]]:
        """Check one node; return its children, each with its context."""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return self.visit_function(node, ctx)
        if isinstance(node, ast.ClassDef):
            self.bind(node, node.name, ctx)
            inner = _Context(ctx.scopes, ctx.declared_global, ctx.method_self, True,
                             frozenset(_local_names(node.body)))  # fmt: skip
            outer = [*node.bases, *node.keywords, *node.decorator_list]
            return [(c, ctx) for c in outer] + [(c, inner) for c in node.body]
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            targets = frozenset(
                n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)
            )
            inner = _Context((*ctx.scopes, targets), ctx.declared_global, ctx.method_self)
            inner.comprehensions = ctx.comprehensions + 1
            return [(c, inner) for c in ast.iter_child_nodes(node)]
        if isinstance(node, ast.Import | ast.ImportFrom):
            self.visit_import(node, ctx)
        elif isinstance(node, ast.Global):
            for name in node.names:
                self.bind(node, name, ctx, declared=True)
        elif isinstance(node, ast.Name):
            self.visit_name(node, ctx)
        elif isinstance(node, ast.Attribute):
            self.visit_attribute(node, ctx)
        elif isinstance(node, ast.Call):
            self.visit_call(node, ctx)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
            for target in targets:
                self.check_target(target, ctx)
            single = isinstance(node, ast.Assign) and len(node.targets) == 1
            if single and isinstance(node.targets[0], ast.Name) and _dotted(node.value):
                self.alias_values.add(id(node.value))  # `F = torch.nn.functional`
                if ctx.scopes and node.targets[0].id in self.aliases:
                    self.local_aliases.add(node.targets[0].id)
        elif isinstance(node, ast.NamedExpr):
            # binds in the enclosing function (or module), even from inside a comprehension
            depth = len(ctx.scopes) - ctx.comprehensions
            outer = _Context(ctx.scopes[:depth], ctx.declared_global) if ctx.comprehensions else ctx
            self.bind(node, node.target.id, outer)
            self.inner.add(id(node.target))
        elif (isinstance(node, ast.ExceptHandler) and node.name) or (
            isinstance(node, ast.MatchAs | ast.MatchStar) and node.name
        ):
            self.bind(node, node.name, ctx)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bind(node, node.rest, ctx)
        elif isinstance(node, ast.Constant) and _special_string(node.value):
            self.flag(node, f"names {node.value} in a string (a special attribute)")
        return [(c, ctx) for c in ast.iter_child_nodes(node)]

    def visit_function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, ctx: _Context
    ) -> list[tuple[ast.AST, _Context]]:
        arguments = node.args
        params = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
        params += [a.arg for a in (arguments.vararg, arguments.kwarg) if a]
        body = node.body if isinstance(node.body, list) else [node.body]
        stored = _local_names(body)
        declared = frozenset(
            n for s in _statements(body) if isinstance(s, ast.Global) for n in s.names
        )
        method_self = ctx.method_self if ctx.method_self not in {*params, *stored} else None
        outer: list[ast.AST] = [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]
        if not isinstance(node, ast.Lambda):
            self.bind(node, node.name, ctx)
            if _dunder(node.name) and node.name not in ALLOWED_DUNDER_METHODS:
                self.flag(node, f"defines {node.name}, a special method these exercises never need")
            annotations = [a.annotation for a in _all_args(arguments) if a and a.annotation]
            outer += [*node.decorator_list, *annotations]
            outer += [node.returns] if node.returns else []
            decorators = {_text(d) for d in node.decorator_list}
            method = ctx.in_class and params and "staticmethod" not in decorators
            if method and params[0] not in stored:  # its own instance (or class), never rebound
                method_self = params[0]
        inner = _Context(
            (*ctx.scopes, frozenset(params) | stored - declared), declared, method_self
        )
        return [(c, ctx) for c in outer] + [(c, inner) for c in body]

    # -- names

    def is_global(self, name: str, ctx: _Context) -> bool:
        """Whether ``name`` here means the notebook's global (or builtin) name."""
        if ctx.in_class and name in ctx.class_locals:
            return False
        return not any(name in scope for scope in ctx.scopes) or name in ctx.declared_global

    def bind(
        self, node: ast.AST, name: str, ctx: _Context, declared: bool = False, module: str = ""
    ) -> None:
        """A binding of ``name`` (by an import of ``module``): one at the notebook's top level may
        replace what the tests use: a helper, a given function or class, a given module name."""
        top = declared or (not ctx.scopes and not ctx.in_class) or name in ctx.declared_global
        given_module = name in self.policy.test_names and (
            self.policy.aliases.get(name) or self.policy.forbidden.get(name)
        )
        if not top:
            return
        if name in self.policy.protected:
            self.flag(node, f"binds {name}, which the tests import from course_checks")
        elif name in self.policy.given_definitions:
            self.flag(node, f"binds {name}, which the given cells define")
        elif given_module and module != given_module:  # `import numpy as np` again is fine
            self.flag(node, f"binds {name}, which the given cells import ({given_module})")
        elif _dunder(name):
            self.flag(node, f"binds {name}")

    def visit_name(self, node: ast.Name, ctx: _Context) -> None:
        name = node.id
        if not isinstance(node.ctx, ast.Load):
            if ctx.in_class and _dunder(name) and name not in ALLOWED_CLASS_DUNDERS:
                self.flag(node, f"defines {name}, a special method these exercises never need")
            elif id(node) not in self.inner:
                self.bind(node, name, ctx)
            return
        if name in self.local_aliases and id(node) not in self.inner:
            if id(node) not in self.alias_values:  # `F = torch` in a function, then `f(F)`
                self.flag(
                    node, f"uses the module {self.aliases[name]} as a value, not its attributes"
                )
            return
        if not self.is_global(name, ctx) or (name == "get_ipython" and id(node) in self.inner):
            return  # a local name, or the magic call checked whole
        if name in self.policy.protected:
            self.flag(node, f"uses {name}, which the tests import from course_checks")
        elif name in BLOCKED_NAMES:
            self.flag(node, f"uses {name}()")
        elif name == "getattr":  # a written-out name was rewritten to an attribute
            self.flag(node, "uses getattr() with a computed name")
        elif HISTORY_NAMES.fullmatch(name) or (name == "_" and not self.bound_underscore):
            self.flag(node, f"uses {name}, IPython's history (it holds the test cells' code)")
        elif _dunder(name) and name not in ALLOWED_DUNDER_NAMES:
            self.flag(node, f"uses {name}")
        elif name in self.policy.forbidden:
            module = self.policy.forbidden[name]
            named = name if name == module else f"{name} ({module})"
            self.flag(node, f"uses {named}, which this notebook's answers may not use")
        elif name in self.star:
            self.flag(node, f"{self.star[name]} (imported with *)")
        elif name in self.policy.tainted:
            self.flag(node, f"uses {name}, made by the given cells from a module this notebook's "
                            "answers may not use")  # fmt: skip
        elif (
            name in self.aliases
            and id(node) not in self.inner
            and id(node) not in self.alias_values
        ):
            self.flag(node, f"uses the module {self.aliases[name]} as a value, not its attributes")

    # -- attributes

    def visit_attribute(self, node: ast.Attribute, ctx: _Context) -> None:
        chain, root = [node], node.value
        while isinstance(root, ast.Attribute):
            chain.append(root)
            root = root.value
        attr = node.attr
        if attr in FRAME_ATTRIBUTES:
            self.flag(node, f"touches .{attr}, the interpreter's frames")
        if _dunder(attr):
            if attr not in ALLOWED_DUNDER_ATTRIBUTES:
                via = " through getattr()" if getattr(node, "via_getattr", False) else ""
                self.flag(node, f"touches .{attr}{via}")
        elif attr.startswith("_"):
            own = isinstance(root, ast.Name) and root.id == ctx.method_self
            if not own or attr in _library_privates():
                self.flag(node, f"touches .{attr}, a private attribute")
        if id(node) in self.inner:
            return
        for inner in chain[1:]:
            self.inner.add(id(inner))
        aliased = isinstance(root, ast.Name) and root.id in self.aliases
        if aliased and (self.is_global(root.id, ctx) or root.id in self.local_aliases):
            self.inner.add(id(root))
            value_used = isinstance(node.ctx, ast.Load) and id(node) not in self.alias_values
            attrs = [a.attr for a in reversed(chain)]
            finding = _resolve(self.policy, self.aliases[root.id], attrs, value_used)
            if finding:
                self.flag(node, finding)

    def check_target(self, target: ast.AST | None, ctx: _Context) -> None:
        """An attribute an honest answer writes: its own object's, or a tensor's data or grad."""
        todo = [target]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Tuple | ast.List):
                todo.extend(node.elts)
            elif isinstance(node, ast.Starred):
                todo.append(node.value)
            elif isinstance(node, ast.Attribute):
                roots = _roots(node.value)
                root = next(iter(roots)) if len(roots) == 1 else None
                own = isinstance(_base(node), ast.Name) and root == ctx.method_self
                tensor = (
                    node.attr in WRITABLE_ATTRIBUTES
                    and root is not None
                    and root not in self.aliases
                    and root not in {"type", "object", "super"}
                    and not isinstance(_base(node), ast.Call)
                )
                if not own and not tensor:
                    self.flag(node, f"rebinds {_text(node)}")

    # -- calls

    def visit_call(self, node: ast.Call, ctx: _Context) -> None:
        func = node.func
        three = isinstance(func, ast.Name) and func.id == "type" and len(node.args) == 3
        if three and self.is_global("type", ctx):  # a class from a dict: special methods by name
            self.flag(node, "creates a class with type(name, bases, namespace)")
        if isinstance(func, ast.Attribute) and func.attr in {"format", "format_map"}:
            self.check_format(node, func)
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
            and self.is_global("get_ipython", ctx)
        ):
            return
        self.inner.add(id(func.value.func))
        arguments = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        name = arguments[0] if arguments else None
        if func.attr in {"system", "getoutput"}:
            self.flag(node, "runs a shell command")
        elif func.attr not in {"run_line_magic", "run_cell_magic"}:
            self.flag(node, f"uses get_ipython().{func.attr}")
        elif node.keywords or len(arguments) < 2 or not all(isinstance(a, str) for a in arguments):
            self.flag(node, "runs an IPython magic with arguments the grader cannot read")
        elif name not in ALLOWED_MAGICS:
            self.flag(node, f"runs the IPython magic %{name}")
        elif name == "matplotlib" and arguments[1].strip() not in MATPLOTLIB_MAGIC_ARGUMENTS:
            self.flag(node, f"runs %matplotlib {arguments[1].strip()} (only inline is allowed)")
        elif name in {"time", "timeit"}:  # help (pinfo, psearch) only looks names up
            for code in _magic_code(name, arguments[1]):
                self.pending.append(_Job(code, self.line_of(node), self.job.depth + 1, False))
            if func.attr == "run_cell_magic" and len(arguments) > 2:
                self.pending.append(
                    _Job(arguments[2], self.line_of(node), self.job.depth + 1, True)
                )

    def line_of(self, node: ast.AST) -> int:
        line = getattr(node, "lineno", 1)
        return self.line + (line if self.job.offset_lines else 0) if self.job.depth else line

    def check_format(self, node: ast.Call, func: ast.Attribute) -> None:
        """``"{0.__class__}".format(x)`` reads attributes by the names in the string."""
        receiver = func.value
        if isinstance(receiver, ast.Constant) and isinstance(receiver.value, str):
            texts = [receiver.value]
        elif isinstance(receiver, ast.Name) and receiver.id in self.format_strings:
            texts = self.format_strings[receiver.id]
        elif isinstance(receiver, ast.Name) and receiver.id == "str" and node.args:
            first = node.args[0]
            texts = [first.value] if isinstance(first, ast.Constant) else [None]
        else:
            texts = [None]
        for text in texts:
            if not isinstance(text, str):
                self.flag(node, f"uses .{func.attr}() with a format string the grader cannot read")
                return
            for attr in _format_attributes(text):
                hidden = attr.startswith("_") and attr not in ALLOWED_DUNDER_ATTRIBUTES
                if hidden or attr in FRAME_ATTRIBUTES:
                    self.flag(node, f"touches .{attr} through a format string")

    def visit_import(self, node: ast.Import | ast.ImportFrom, ctx: _Context) -> None:
        allowed, passthrough = self.policy.modules, self.policy.passthrough
        if isinstance(node, ast.ImportFrom) and node.level:
            self.flag(node, "uses a relative import")
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in allowed:
                    self.flag(node, f"imports {alias.name}, which this notebook does not allow")
                bound, module = next(iter(_import_aliases(ast.Import([alias])).items()))
                self.bind(node, bound, ctx, module=module)
                if ctx.scopes and bound in self.aliases:
                    self.local_aliases.add(bound)
            return
        module = node.module or ""
        if module not in allowed and module not in passthrough:
            self.flag(node, f"imports {module}, which this notebook does not allow")
            return
        for alias in node.names:
            if alias.name == "*":
                self.check_star(node, module, ctx)
                continue
            bound = alias.asname or alias.name
            self.bind(node, bound, ctx, module=f"{module}.{alias.name}")
            if ctx.scopes and bound in self.aliases:
                self.local_aliases.add(bound)
            if _dunder(alias.name) or alias.name.startswith("_"):
                self.flag(node, f"imports {alias.name} from {module}")
            elif module in allowed or f"{module}.{alias.name}" in allowed:
                finding = _resolve(self.policy, module, [alias.name], value_used=False)
                if finding:
                    self.flag(node, finding)
            else:
                self.flag(
                    node, f"imports {module}.{alias.name}, which this notebook does not allow"
                )

    def check_star(self, node: ast.ImportFrom, module: str, ctx: _Context) -> None:
        owner = _module(module)
        public = getattr(owner, "__all__", None) or [n for n in dir(owner) if not n.startswith("_")]
        for name in public if owner is not None else []:
            if isinstance(name, str) and not name.startswith("_"):
                self.bind(node, name, ctx)


def _base(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node


def _all_args(arguments: ast.arguments) -> list[ast.arg | None]:
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return [*every, arguments.vararg, arguments.kwarg]


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """A function body's nodes, not those of functions, classes or lambdas nested in it."""
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))


def _local_names(body: list[ast.stmt]) -> set[str]:
    """The names a function body (or class body) binds in its own scope."""
    names: set[str] = set()
    for node in _statements(body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
    return names


def _rewrite_getattr(node: ast.AST) -> None:
    """Turn each ``getattr(x, "name")`` below ``node`` into ``x.name``, which the scan follows
    like any attribute (``getattr(x, "name", default)`` into ``(x.name, default)``)."""
    for name, value in ast.iter_fields(node):
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if (
                isinstance(item, ast.Call)
                and isinstance(item.func, ast.Name)
                and item.func.id == "getattr"
                and len(item.args) in (2, 3)
                and not item.keywords
                and isinstance(item.args[1], ast.Constant)
                and isinstance(item.args[1].value, str)
            ):
                new: ast.expr = ast.Attribute(item.args[0], item.args[1].value, ast.Load())
                new.via_getattr = True  # type: ignore[attr-defined]
                if len(item.args) == 3:
                    new = ast.Tuple([ast.copy_location(new, item), item.args[2]], ast.Load())
                ast.copy_location(new, item)
                if isinstance(value, list):
                    value[index] = new
                else:
                    setattr(node, name, new)


def _format_string_names(tree: ast.Module) -> dict[str, list[object]]:
    """Each name the cell assigns, with the values it assigns: ``fmt = "{:.3f}"`` → a string the
    scan can read when ``fmt.format(x)`` runs (anything but a string constant: None)."""
    values: dict[str, list[object]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            constant = node.value.value if isinstance(node.value, ast.Constant) else None
            for target in targets:
                for name in (n for n in ast.walk(target) if isinstance(n, ast.Name)):
                    simple = isinstance(target, ast.Name) and not isinstance(node, ast.AugAssign)
                    values.setdefault(name.id, []).append(constant if simple else None)
    return values


def _format_attributes(text: str) -> list[str]:
    """The attribute names a format string's fields read (``{0.a[1].b:{c.d}}`` → a, b, d)."""
    found: list[str] = []
    todo, seen = [text], 0
    while todo and seen < 100:
        seen += 1
        try:
            fields = list(Formatter().parse(todo.pop()))
        except ValueError:
            continue  # str.format raises too
        for _, name, spec, _ in fields:
            if name:
                try:
                    _, rest = formatter_field_name_split(name)
                    found += [key for is_attr, key in rest if is_attr]
                except ValueError:
                    pass
            if spec:
                todo.append(spec)
    return found


def _magic_code(name: str, line: str) -> list[str]:
    """The code a timing or help magic's line runs: the line without its options (and, to be
    safe, the line as it is, which usually does not parse)."""
    tokens = line.split()
    index = 0
    while index < len(tokens) and tokens[index].startswith("-"):
        token = tokens[index]
        index += 1
        if token == "--":
            break
        if name == "timeit" and not token.startswith("--"):  # getopt "n:r:tcp:qov:"
            letters = token[1:]
            for position, letter in enumerate(letters):
                if letter in "nrpv":
                    index += position == len(letters) - 1  # its value is the next token
                    break
    return [" ".join(tokens[index:]), line]
