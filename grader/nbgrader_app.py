"""Runs nbgrader's own command-line app inside a process forked from a warm parent.

Importing nbgrader takes about three seconds (it pulls in Jupyter Server); a batch grades hundreds
of notebooks. The grader therefore starts one multiprocessing *forkserver* that imports nbgrader
(and the re-check's NumPy and PyTorch) once, as this module is its preload, and forks a fresh
child for every nbgrader command. Each child is a new process with its own working folder,
environment and output, that runs exactly what ``python -m nbgrader ARGS`` runs, then exits.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile

from nbgrader.apps.nbgraderapp import NbGraderApp

import grader.preprocessors.replay_verdicts  # noqa: F401 (preloaded, as are the libraries the re-check runs)
from grader.course import check_modules


def _preload_recheck_libraries() -> None:
    """Import what the re-check of test cells runs, once here rather than in every child.

    Each child would otherwise spend about 2 s importing PyTorch and matplotlib (measured with
    benchmarks/autograde_class.py). Importing starts no thread pools, so forking stays safe.
    """
    import matplotlib

    matplotlib.use("Agg")  # the given cells' figures are drawn nowhere
    import matplotlib.pyplot
    import torch  # noqa: F401

    for module in check_modules():  # the course's checks, from the registry (grader.course)
        importlib.import_module(module)


_preload_recheck_libraries()


def run_in_child(argv: list[str], cwd: str, env: dict[str, str], log_path: str) -> None:
    """Process target: ``nbgrader ARGV`` in ``cwd`` with ``env``; output to ``log_path``.

    Never returns: the child leaves with nbgrader's exit status, skipping the parent's clean-up.
    """
    os.setsid()  # a session of its own, so a time-out can kill the child and all it started
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # honour the child's TMPDIR (kernel connection files go there)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    status = 0
    try:
        NbGraderApp.launch_instance(argv)
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as error:  # report, never hang the batch
        print(f"nbgrader crashed: {type(error).__name__}: {error}", file=sys.stderr)
        status = 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)
