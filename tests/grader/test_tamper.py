"""The static scan (grader.tamper): no finding for honest work, a finding for each known attack.

Fast and in-process: each case rebuilds a submission on its released notebook, as the grader does
(grader.integrity.rebuild), and scans the student's cells with scan_notebook.
"""

from __future__ import annotations

import threading
from pathlib import Path

import nbformat
import pytest

from grader import tamper
from grader.integrity import rebuild
from grader.tamper import TOO_DEEP, defined_names, scan_cells, scan_notebook
from tests.grader.test_attacks import ATTACKS
from tests.grader.test_warnings_feedback import LEAK, VARIANTS, _variant_notebook
from tests.support.factory import EXERCISES, all_mistakes, student_solution, with_mistake
from tests.support.tiny_course import write_tiny_course

NOTEBOOKS = sorted(
    p.relative_to(EXERCISES).with_suffix("").as_posix() for p in EXERCISES.glob("*/*.ipynb")
)
# The first answer cell of each notebook, where appended code runs at the notebook's top level.
FIRST_ANSWER = {
    "ex1_rnn/rnn_numpy": "rnn_cell_forward",
    "ex1_rnn/rnn_torch": "rnn_step",
    "ex2_gru_numpy/gru_numpy": "sigmoid",
    "ex3_gru_torch/gru_torch": "gru_cell",
    "ex4_lstm/lstm_numpy": "lstm_gates",
    "ex4_lstm/lstm_torch": "lstm_cell",
    "ex5_language/language_numpy": "log_softmax",
    "ex5_language/language_torch": "batchify",
    "ex6_seq2seq/attention_numpy": "attention_scores",
    "ex6_seq2seq/seq2seq_torch": "encoder",
    "ex7_signals/logmel_numpy": "frames",
}
RNN_NUMPY, RNN_TORCH = "ex1_rnn/rnn_numpy", "ex1_rnn/rnn_torch"
GRU_NUMPY, GRU_TORCH = "ex2_gru_numpy/gru_numpy", "ex3_gru_torch/gru_torch"
LSTM_NUMPY, LSTM_TORCH = "ex4_lstm/lstm_numpy", "ex4_lstm/lstm_torch"
NUMPY_NOTEBOOKS = [RNN_NUMPY, GRU_NUMPY, LSTM_NUMPY]
TORCH_NOTEBOOKS = [RNN_TORCH, GRU_TORCH, LSTM_TORCH]


def _release(notebook: str) -> nbformat.NotebookNode:
    return nbformat.read(EXERCISES / f"{notebook}.ipynb", as_version=4)


def _scan(submitted: nbformat.NotebookNode, notebook: str) -> list[str]:
    release = _release(notebook)
    return scan_notebook(rebuild(submitted, release).student_cells, release)


def _solution(notebook: str) -> nbformat.NotebookNode:
    return student_solution(*notebook.split("/"))


def _with_code(notebook: str, code: str, cell: str = "", added: bool = False):
    """The solution with ``code`` appended to an answer cell, or as a code cell of its own."""
    nb = _solution(notebook)
    if added:
        nb.cells.append(nbformat.v4.new_code_cell(code))
        return nb
    for each in nb.cells:
        if each.metadata.get("nbgrader", {}).get("grade_id") == (cell or FIRST_ANSWER[notebook]):
            each.source += "\n" + code
    return nb


# ---------------------------------------------------------------- (1) honest notebooks


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_solution_and_blank_notebook_is_clean(notebook: str) -> None:
    assert _scan(_solution(notebook), notebook) == []
    assert _scan(_release(notebook), notebook) == [], "the blank release, as handed out"


@pytest.mark.parametrize("mistake", all_mistakes(), ids=lambda m: m.id)
def test_every_catalogued_mistake_is_clean(mistake) -> None:
    assert _scan(with_mistake(mistake), mistake.notebook) == []


@pytest.mark.parametrize("variant", [*VARIANTS, LEAK], ids=lambda v: v.id)
def test_code_that_warns_is_clean(variant) -> None:
    """tests/grader/test_warnings_feedback.py: correct answers written to make PyTorch warn."""
    assert _scan(_variant_notebook(variant), variant.notebook) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_other_tests_honest_code_is_clean(notebook: str) -> None:
    """An endless loop and exit() (tests/grader/test_autograde.py) are the sandbox's to stop."""
    loop = "def helper(*args, **kwargs):\n    while True:\n        pass\n"
    assert _scan(_with_code(notebook, loop), notebook) == []
    assert _scan(_with_code(notebook, "exit()"), notebook) == []


def test_the_tiny_course_crash_is_found(tmp_path: Path) -> None:
    """tests/grader/test_manual_grading.py crashes a kernel with as_strided, which reads and writes
    raw memory (it could as well patch the kernel): a finding, in a course whose notebook names no
    student_imports (the default modules); sliding_window_view, its honest use, stays clean."""
    release = nbformat.read(write_tiny_course(tmp_path), as_version=4)
    submitted = nbformat.from_dict(release)
    answer = next(c for c in submitted.cells if c.metadata["nbgrader"].get("solution"))
    answer.source = (
        "def add(a, b):\n    return a + b\n\nimport numpy as np\n"
        "np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2**40,), strides=(2**20,)).sum()"
    )
    findings = scan_notebook(rebuild(submitted, release).student_cells, release)
    assert findings == [
        "cell 1: line 5: uses numpy.lib.stride_tricks.as_strided, which reads and writes raw memory"
    ]
    answer.source = (
        "import numpy as np\nw = np.lib.stride_tricks.sliding_window_view(np.ones(5), 2)"
    )
    assert scan_notebook(rebuild(submitted, release).student_cells, release) == []


HONEST = {
    "einsum": "y = np.einsum('tbd,dh->tbh', np.ones((2, 3, 4)), np.ones((4, 5)))",
    "matmul_and_dot": "a = np.ones((2, 2))\nb = a @ a\nc = np.dot(a, a)\nd = a.T.dot(a)",
    "class_with_super": (
        "class Base:\n    def __init__(self, n):\n        self.n = n\n\n"
        "class Child(Base):\n    def __init__(self, n):\n        super().__init__(n)\n"
        "        Base.__init__(self, n)\n        self._cache = {}\n        self.__secret = 1\n\n"
        "    def cached(self, key):\n        if key not in self._cache:\n"
        "            self._cache[key] = key * 2\n        return self._cache[key], self.__secret\n\n"
        "    def __repr__(self):\n        return f'{type(self).__name__}({self.n!r})'"
    ),
    "dataclass_and_hints": (
        "from dataclasses import dataclass, field\nfrom typing import Optional\n\n"
        "@dataclass\nclass Config:\n    hidden: int = 16\n"
        "    names: list[str] = field(default_factory=list)\n"
        "    rate: Optional[float] = None\n\n"
        "def scale(x: np.ndarray, by: float = 2.0) -> np.ndarray:\n    return x * by"
    ),
    "math_imports": "from math import sqrt\nimport math\nr = sqrt(2) + math.pi + math.exp(1)",
    "numpy_imports": "import numpy as np\nfrom numpy import tanh\nimport numpy.linalg as la\n"
    "z = tanh(la.norm(np.ones(3)))",
    "lambda_comprehensions": (
        "sq = lambda v: v * v\nsquares = [sq(i) for i in range(3)]\n"
        "table = {i: i**2 for i in range(3)}\nodd = {i for i in range(5) if i % 2}\n"
        "total = sum(i for i in range(4))\nif (n := len(squares)) > 2:\n    pass"
    ),
    "f_strings_and_format": (
        "x, v = 'a', 3.14159\nprint(f'{x!r} {v:.3f} {v:>10.2e} {x=}')\n"
        "print('{:.3f} {}'.format(v, x))\nrow = '{:>6} {:>10.4f}'\nprint(row.format(1, v))\n"
        "print('%.2f' % v)"
    ),
    "line_magics": "%time rnn_cell_forward(np.ones((1, 2)), np.ones((1, 3)), "
    "np.ones((2, 3)), np.ones((3, 3)), np.ones(3))\n"
    "%timeit -n1 -r1 np.tanh(np.ones(3))\n%matplotlib inline",
    "timeit_cell": "%%timeit -n1 -r1\nh = np.tanh(np.ones((8, 16)))\nh.sum()",
    "time_cell": "%%time\nfor _ in range(3):\n    np.tanh(np.ones(3))",
    "help": "np.tanh?\n?np.tanh\nnp.tanh??\nnp?\ncheck_close?",
    "throwaway_underscore": "for _ in range(3):\n    pass\na, _ = divmod(7, 2)\n"
    "q, _ = np.linalg.qr(np.eye(3))",
    "functools_itertools": (
        "import functools\nimport itertools\nfrom functools import partial, reduce\n"
        "f = functools.partial(np.clip, a_min=0, a_max=1)\n"
        "pairs = list(itertools.product(range(2), repeat=2))\n"
        "total = reduce(lambda a, b: a + b, range(4))\ng = partial(pow, 2)"
    ),
    "warnings": (
        "import warnings\nwith warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n    np.log(np.zeros(1))\n"
        "warnings.filterwarnings('ignore', category=RuntimeWarning)"
    ),
    "stable_sigmoid": (
        "def stable_sigmoid(a):\n    e = np.exp(-np.abs(a))\n"
        "    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))"
    ),
    "plots": (
        "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (6, 4)\n"
        "fig, ax = plt.subplots()\nax.plot(np.arange(3))\nax.set_title('loss')\nplt.show()"
    ),
    "random_and_versions": (
        "import random\nrandom.seed(0)\nrng = np.random.default_rng(0)\n"
        "x = rng.normal(size=3)\nnp.random.seed(0)\nprint(np.__version__)"
    ),
    "own_helpers": (
        "def _helper(x):\n    return x + 1\n\nclass _State:\n    pass\n\n"
        "def shadow(call):\n    check = call\n    return check\n\n"
        "if __name__ == '__main__':\n    pass"
    ),
    "np_testing": "np.testing.assert_allclose(np.ones(2), np.ones(2))",
    "star_import": "from numpy import *\nfrom math import *\nz = tanh(zeros(3)) + sqrt(2)",
    "module_alias": "linalg = np.linalg\nq, r = linalg.qr(np.eye(2))",
}
HONEST_TORCH = {
    "imports": "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
    "from torch.utils.data import DataLoader, TensorDataset",
    "functional": "s = torch.nn.functional.sigmoid(torch.zeros(3)) + F.relu(torch.ones(3))\n"
    "s2 = nn.functional.mse_loss(torch.zeros(2), torch.ones(2))",
    "module": (
        "class Tiny(nn.Module):\n    def __init__(self, n, device=None, dtype=torch.float64):\n"
        "        super().__init__()\n        self.device, self.dtype = device, dtype\n"
        "        self.w = nn.Parameter(torch.zeros(n, dtype=dtype))\n"
        "        self.lstm = nn.LSTM(n, n)\n        self.sigmoid = nn.Sigmoid()\n"
        "        nn.init.zeros_(self.w)\n        self._steps = 0\n\n"
        "    def forward(self, x):\n        self._steps += 1\n"
        "        return self.sigmoid(x * self.w)"
    ),
    "autograd": (
        "x = torch.ones(3, requires_grad=True)\n(g,) = torch.autograd.grad((x**2).sum(), x)\n"
        "y = (x * 2).sum()\ny.backward()\nprint(x.grad)\nx.grad = None\n"
        "p = nn.Parameter(torch.zeros(2))\np.data = torch.ones(2)\np.requires_grad = False\n"
        "with torch.no_grad():\n    p.data.mul_(2)"
    ),
    "training": (
        "model = nn.Linear(2, 1)\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
        "loss = model(torch.ones(4, 2)).pow(2).mean()\nopt.zero_grad()\nloss.backward()\n"
        "nn.utils.clip_grad_norm_(model.parameters(), 1.0)\nopt.step()\n"
        "sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)\nprint(loss.item())"
    ),
    "devices_and_tensors": (
        "dev = 'cuda' if torch.cuda.is_available() else 'cpu'\n"
        "mps = torch.backends.mps.is_available()\nt = torch.zeros(2, dtype=torch.float32).to(dev)\n"
        "print(isinstance(t, torch.Tensor), t.device, t.dtype, torch.__version__)\n"
        "a = torch.func.functional_call(nn.Linear(1, 1), {}, (torch.ones(1, 1),))"
    ),
}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("style", sorted(HONEST))
def test_honest_styles_are_clean(notebook: str, style: str) -> None:
    assert _scan(_with_code(notebook, HONEST[style], added=True), notebook) == []


@pytest.mark.parametrize("notebook", TORCH_NOTEBOOKS)
@pytest.mark.parametrize("style", sorted(HONEST_TORCH))
def test_honest_torch_styles_are_clean(notebook: str, style: str) -> None:
    assert _scan(_with_code(notebook, HONEST_TORCH[style], added=True), notebook) == []


def test_private_attributes_of_own_methods_are_clean() -> None:
    code = (
        "class Cell(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self._cache = None\n\n    def forward(self, x):\n"
        "        self._cache = x\n        helper = lambda: self._cache\n        return helper()"
    )
    assert _scan(_with_code(GRU_TORCH, code, added=True), GRU_TORCH) == []


# ---------------------------------------------------------------- (3) attacks

ATTACK_CASES = [  # (id, notebook, code, words of the finding)
    ("builtins_via_self", RNN_NUMPY, 'getattr(print, "__self__").__import__("os")', ".__self__"),
    ("torch_os", RNN_TORCH, 'torch.os.system("true")', "module os through torch.os"),
    ("torch_sys_modules", RNN_TORCH, "torch.sys.modules['numpy'].allclose = print", "module sys"),
    (
        "globals_by_getattr",
        RNN_NUMPY,
        'g = getattr(rnn_cell_forward, "__globals__")',
        ".__globals__",
    ),
    ("operator", RNN_NUMPY, "import operator\noperator.attrgetter('allclose')", "imports operator"),
    ("user_ns", RNN_NUMPY, "get_ipython().user_ns['check_close'] = print", "get_ipython"),
    ("time_magic", RNN_NUMPY, "%time np.allclose = lambda *a, **k: True", "rebinds np.allclose"),
    (
        "timeit_magic",
        RNN_NUMPY,
        "%timeit -n1 -r1 numpy.allclose = lambda *a, **k: True",
        "rebinds numpy.allclose",
    ),
    ("ctypeslib", RNN_NUMPY, "np.ctypeslib.ctypes.pythonapi", "module numpy.ctypeslib"),
    ("sympy", RNN_NUMPY, "import sympy\nsympy.sympify('1 + 1')", "imports sympy"),
    ("import_torch", RNN_NUMPY, "import torch", "imports torch"),
    ("from_torch_nn", LSTM_NUMPY, "from torch import nn\nlayer = nn.GRU(3, 4)", "imports torch"),
    (
        "given_torch",
        GRU_NUMPY,
        "def sigmoid(a):\n    return torch.sigmoid(torch.from_numpy(a)).numpy()",
        "uses torch",
    ),
    ("given_torch_gru", GRU_NUMPY, "weights = torch.nn.GRU(3, 4).weight_ih_l0", "uses torch"),
    ("given_torch_object", GRU_NUMPY, "w = gru.weight_ih_l0.new_tensor([1.0])", "uses gru"),
    (
        "autograd",
        LSTM_NUMPY,
        "import torch\nx = torch.ones(3, requires_grad=True)\ng = torch.autograd.grad(x.sum(), x)",
        "imports torch",
    ),
    (
        "reference_import",
        RNN_NUMPY,
        "from course_checks.ex1_rnn.references import torch_rnn_forward",
        "imports course_checks.ex1_rnn.references",
    ),
    ("history_in", RNN_NUMPY, "source = In[-1]", "uses In, IPython's history"),
    ("history_ih", RNN_NUMPY, "source = _ih[3]", "uses _ih"),
    ("history_i", RNN_NUMPY, "source = _i4 + _ii", "uses _i4"),
    ("history_out", RNN_NUMPY, "value = _7", "uses _7"),
    ("history_last", RNN_NUMPY, "value = _", "uses _,"),
    ("format_dunder", RNN_NUMPY, "'{0.__class__}'.format(1)", ".__class__ through a format"),
    (
        "format_map_dunder",
        RNN_NUMPY,
        "'{f.__globals__}'.format_map({'f': rnn_cell_forward})",
        ".__globals__ through a format",
    ),
    ("format_computed", RNN_NUMPY, "('{0.' + '__class__}').format(1)", "format string the grader"),
    ("torch_C", RNN_TORCH, "torch._C._jit_set_profiling_executor", "._C, a private"),
    ("cpp_extension", RNN_TORCH, "torch.utils.cpp_extension.load_inline", "torch.utils.cpp_ext"),
    ("torch_ops", RNN_TORCH, "torch.ops.aten.add", "torch.ops"),
    ("torch_library", RNN_TORCH, "torch.library.Library", "module torch.library"),
    ("torch_overrides", RNN_TORCH, "from torch.overrides import TorchFunctionMode", "overrides"),
    ("torch_jit", RNN_TORCH, "torch.jit.script", "module torch.jit"),
    ("torch_load", RNN_TORCH, "torch.load('x.pt', weights_only=False)", "torch.load"),
    ("numpy_load", RNN_NUMPY, "from numpy import load", "numpy.load"),
    ("alias_module", RNN_NUMPY, "m = np\nm.ctypeslib", "module numpy.ctypeslib"),
    ("module_as_value", RNN_NUMPY, "for m in [np]:\n    m.allclose = print", "numpy as a value"),
    (
        "unbound_method",
        RNN_NUMPY,
        "class A:\n    def f(self):\n        self.allclose = print\nA.f(np)",
        "numpy as a value",
    ),
    ("fake_self", RNN_NUMPY, "self = np\nself.allclose = print", "rebinds self.allclose"),
    ("tensor_class_data", RNN_TORCH, "torch.Tensor.data = property(id)", "rebinds torch.Tensor"),
    (
        "update_wrapper",
        RNN_NUMPY,
        "import functools\nfunctools.update_wrapper(print, print, ['x'], [])",
        "functools.update_wrapper",
    ),
    ("type_hints", RNN_NUMPY, "import typing\ntyping.get_type_hints(print)", "get_type_hints"),
    ("stdlib_module_attr", RNN_NUMPY, "import dataclasses\ndataclasses.sys", "module sys"),
    ("backend", RNN_NUMPY, "import matplotlib\nmatplotlib.use('module://x')", "matplotlib.use"),
    ("matplotlib_magic", RNN_NUMPY, "%matplotlib module://x", "%matplotlib module://x"),
    ("config_magic", RNN_NUMPY, "%config InlineBackend.rc = {}", "%config"),
    ("shell", RNN_NUMPY, "!ls", "shell command"),
    ("help_imports", RNN_NUMPY, "help('antigravity')", "uses help()"),
    (
        "getattr_passed",
        RNN_NUMPY,
        "import functools\nfunctools.reduce(getattr, ['x'], np)",
        "getattr",
    ),
    ("getattr_computed", RNN_NUMPY, "name = '__glob' + 'als__'\ngetattr(print, name)", "getattr"),
    (
        "torch_function",
        GRU_TORCH,
        "class B(torch.Tensor):\n    @classmethod\n"
        "    def __torch_function__(cls, *a):\n        pass",
        "defines __torch_function__",
    ),
    ("measure", RNN_NUMPY, "np.testing.measure('1')", "numpy.testing.measure"),
    ("numpy_lib", RNN_NUMPY, "np.lib.format.read_array", "module numpy.lib.format"),
    ("generator_frame", RNN_NUMPY, "g = (i for i in [1])\ng.gi_frame.f_back.f_globals", "gi_frame"),
    (
        "traceback_frame",
        RNN_NUMPY,
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    t = e.with_traceback(None)\n"
        "    f = t.args and None or e.__traceback__.tb_frame",
        "tb_frame",
    ),
    (
        "class_body_dunder",
        GRU_TORCH,
        "class B(torch.Tensor):\n    __torch_function__ = classmethod(lambda *a, **k: None)",
        "defines __torch_function__",
    ),
    ("type_three_args", GRU_TORCH, "B = type('B', (torch.Tensor,), {})", "type(name, bases"),
    ("dunder_string", RNN_NUMPY, "ns = {'__array_interface__': {}}", "names __array_interface__"),
    (
        "make_dataclass",
        RNN_NUMPY,
        "import dataclasses\nB = dataclasses.make_dataclass('B', [], namespace={})",
        "make_dataclass",
    ),
    ("rebind_np", GRU_TORCH, "class Fake:\n    pass\nnp = Fake()", "binds np, which the given"),
    ("rebind_torch", RNN_TORCH, "for torch in [None]:\n    pass", "binds torch, which the given"),
    ("dunder_name", RNN_NUMPY, "__builtins__.eval", "uses __builtins__"),
    ("eval", RNN_NUMPY, "eval('1')", "uses eval()"),
    ("star_denied", RNN_NUMPY, "from numpy import *\nload('x.npy')", "numpy.load"),
]


@pytest.mark.parametrize("case", ATTACK_CASES, ids=lambda c: c[0])
def test_attack_is_found(case) -> None:
    _, notebook, code, words = case
    findings = _scan(_with_code(notebook, code), notebook)
    assert any(words in f for f in findings), findings
    assert all(f.startswith("cell 1: line ") for f in findings), findings


def test_a_timeit_cell_body_is_scanned() -> None:
    code = "%%timeit -n1 -r1\nx = 1\nnp.allclose = lambda *a, **k: True"
    findings = _scan(_with_code(RNN_NUMPY, code, added=True), RNN_NUMPY)
    assert findings == ["cell 7: line 3: rebinds np.allclose"]


@pytest.mark.parametrize(
    ("notebook", "name"),
    [(GRU_NUMPY, "numerical_gradient"), (LSTM_TORCH, "make_model"), (LSTM_NUMPY, "sigmoid")],
)
def test_redefining_a_given_helper_is_found(notebook: str, name: str) -> None:
    code = f"def {name}(*args, **kwargs):\n    return None"
    findings = _scan(_with_code(notebook, code, added=True), notebook)
    assert any(f"binds {name}, which the given cells define" in f for f in findings), findings


def _helpers(notebook: str) -> frozenset[str]:
    return tamper.test_helpers(_release(notebook))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_using_or_binding_a_test_helper_is_found(notebook: str) -> None:
    """Calling what the tests import from course_checks (a reference, a check) from an answer,
    or replacing it, at the top level or through ``global``."""
    assert _helpers(notebook), "the given cells import the tests' helpers"
    for name in sorted(_helpers(notebook)):
        used = f"def answer(*args):\n    return {name}(*args)"
        findings = _scan(_with_code(notebook, used), notebook)
        assert any(f"uses {name}, which the tests import" in f for f in findings), findings
        for bound in (f"{name} = print", f"def quiet():\n    global {name}\n    {name} = print"):
            findings = _scan(_with_code(notebook, bound, added=True), notebook)
            assert any(f"binds {name}, which the tests import" in f for f in findings), findings


# The catalogue's statuses of attacks that must run (and fail in the sandbox): no finding.
RUNS = {"failed", "timeout", "kernel_crashed", "output_limit"}


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_the_attack_catalogue(attack) -> None:
    """tests/grader/test_attacks.py: a "tampered" attack is found; one that must run is not."""
    code = attack.code.replace("{out}", "/tmp/out").replace("{submitted}", "/tmp/submitted")
    notebook = f"{attack.assignment}/{attack.notebook}"  # the notebook it is handed in as
    nb = _release(notebook)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == attack.cell]
    assert cells, f"{notebook} has no answer cell {attack.cell!r}"
    for cell in cells:
        cell.source += "\n" + code
    findings = _scan(nb, notebook)
    stale = "check_close" in attack.code and "check_close" not in _helpers(notebook)
    if attack.status == "tampered" and not findings and stale:
        pytest.skip("stale: it replaces check_close, which rnn_numpy's tests no longer import")
    if attack.status == "tampered":
        assert findings
    elif attack.status in RUNS:
        assert findings == []


# Hostile code of other tests, copied (their modules import the sandbox and kernels):
# tests/course_checks/test_replay.py, tests/course_checks/test_replay_torch.py (FOOLS_THE_KERNEL),
# tests/grader/test_warm_kernels.py.
OTHER_TESTS_HOSTILE = [
    (RNN_NUMPY, "def _quiet():\n    global {helper}\n    {helper} = lambda *a, **k: None"),
    (RNN_NUMPY, "import course_checks.replay\ncourse_checks.replay._mode = 'normal'"),
    (
        GRU_TORCH,
        "from torch.overrides import TorchFunctionMode\n\nclass _Blind(TorchFunctionMode):\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
        "        return func(*args, **(kwargs or {}))\n\n_Blind().__enter__()",
    ),
    (RNN_NUMPY, "import os, subprocess, sys\nopen(os.path.join('/tmp', 'planted'), 'w')"),
]


@pytest.mark.parametrize(("notebook", "code"), OTHER_TESTS_HOSTILE)
def test_other_tests_hostile_code_is_found(notebook: str, code: str) -> None:
    code = code.replace("{helper}", sorted(_helpers(notebook))[0])
    assert _scan(_with_code(notebook, code), notebook)


# ---------------------------------------------------------------- bounded


def _sum(terms: int) -> str:
    return "def total(a):\n    return " + " + ".join(["a"] * terms)


def test_a_long_honest_sum_passes() -> None:
    assert _scan(_with_code(RNN_NUMPY, _sum(600)), RNN_NUMPY) == []


@pytest.mark.parametrize(
    "code",
    [_sum(5000), "x = " + "(" * 300 + "1" + ")" * 300, "x = " + "[" * 300 + "]" * 300],
    ids=["sum5000", "parentheses300", "brackets300"],
)
def test_nesting_too_deep_is_a_finding_not_a_crash(code: str) -> None:
    results: list[list[str]] = []
    worker = threading.Thread(
        target=lambda: results.append(_scan(_with_code(RNN_NUMPY, code), RNN_NUMPY))
    )
    worker.start()  # the grader scans in worker threads, whose stack is smaller
    worker.join()
    assert results == [[f"cell 1: {TOO_DEEP}"]], results


def test_a_plain_syntax_error_is_no_finding() -> None:
    assert _scan(_with_code(RNN_NUMPY, "def broken(:\n    pass"), RNN_NUMPY) == []


# ---------------------------------------------------------------- the older entry points


def test_scan_cells_and_test_helpers_still_work() -> None:
    release = _release(RNN_NUMPY)
    cells = rebuild(_solution(RNN_NUMPY), release).student_cells
    assert scan_cells(cells, tamper.test_helpers(release)) == []
    helper = sorted(tamper.test_helpers(release))[0]
    cells = rebuild(_with_code(RNN_NUMPY, f"{helper} = print"), release).student_cells
    findings = scan_cells(cells, tamper.test_helpers(release))
    assert len(findings) == 1, findings
    assert findings[0].endswith(f"binds {helper}, which the tests import from course_checks")


def test_defined_names_keeps_its_behaviour() -> None:
    source = (
        "import numpy as np\nfrom math import sqrt as root\nx, (y, *z) = 1, (2, 3)\n"
        "def f(a):\n    inner = 1\nclass C:\n    attr = 2\nsquares = [i for i in range(3)]\n"
        "try:\n    pass\nexcept ValueError as error:\n    pass\ndel x\n%time w = 1"
    )
    expected = {"x", "y", "z", "f", "C", "squares", "error"}
    assert defined_names(source, imports=False) == expected
    assert defined_names(source) == expected | {"np", "root"}
    assert defined_names(_sum(5000)) == set()
