"""Benchmark: where the test suite's CPU time goes, by kind of process, and how busy the cores are.

Run: ``.venv/bin/python benchmarks/suite_cpu.py [--every 1.0] [--out FILE] -- COMMAND...``
(``-- .ci/run`` on a fresh clone measures ``make test``).

Runs COMMAND and, every ``--every`` seconds, reads ``/proc``: each process's CPU time (user +
system), its parent and its command line. Each interval's CPU is charged to the kind of work the
process does (:data:`KINDS`), the outermost that its command line or an ancestor's names (a
kernel in the grader's sandbox is the grader's; a chapter's kernel is Jupyter Book's; a training
worker is the training step's), and to the pytest-xdist worker it descends from. Prints, at the end,
core-minutes per kind and per worker, the wall time, and the share of the cores that was busy
(from ``/proc/stat``); CPU of processes that lived less than one interval is counted in the busy
share but not by kind ("not attributed"). ``--out`` also writes the per-minute table as CSV.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
# (kind, a substring of a command line that marks it), first match wins, from the process upward
KINDS = [
    ("book: training step", "-m experiments"),
    ("book: Jupyter Book", "jupyter-book"),
    ("grader batch", "-m grader"),
    ("browser", "chrom"),
    ("database", "postgres"),
    ("nbgrader run by a test", "nbgrader"),
    ("kernel run by a test", "ipykernel"),
    ("pytest worker (tests in process)", "exec(eval(sys.stdin.readline()))"),  # execnet's start
    ("pytest", "pytest"),
]


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid → (parent pid, CPU seconds, command line)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parent, cpu = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK
        found[int(entry.name)] = (parent, cpu, command or stat[stat.index("(") : stat.rindex(")")])
    return found


def _busy() -> float:
    """Busy core-seconds since boot (all but idle and I/O wait), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK


def _charge(pid: int, table: dict[int, tuple[int, float, str]], root: int) -> tuple[str, str]:
    """(kind, xdist worker) of a process. The kind is the outermost that it or an ancestor names
    below pytest (a kernel that Jupyter Book or the grader started is theirs; a process of a
    test's own is the test's), "outside the command" for a process that does not descend from
    ``root``; the worker is named by the pid of the controller's child it descends from."""
    kind, own, worker, current, below = "", "", "", pid, None
    for _ in range(64):
        if current not in table:
            break
        parent, _, command = table[current]
        found = next((name for name, mark in KINDS if mark in command), "")
        if found and not found.startswith("pytest"):
            kind = found  # keeps the outermost
        own = own or found
        if "pytest" in command and " -n" in command and below is not None and not worker:
            worker = f"worker {below}"
        if current == root:
            return kind or own or "other", worker or "-"
        below, current = current, parent
    return (f"outside the command: {own}" if own else "outside the command"), "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    last = {pid: cpu for pid, (_, cpu, _) in _processes().items()}  # what ran before is not ours
    started, busy0 = time.monotonic(), _busy()
    child = subprocess.Popen(command)
    by_kind: dict[tuple[str, str], float] = defaultdict(float)
    minutes: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    while child.poll() is None:
        time.sleep(args.every)
        table = _processes()
        minute = int((time.monotonic() - started) // 60)
        for pid, (_, cpu, _) in table.items():
            delta = cpu - last.get(pid, 0.0)  # a new process: all its CPU is new
            last[pid] = cpu
            if delta > 0 and pid != os.getpid():
                kind, worker = _charge(pid, table, child.pid)
                by_kind[kind, worker] += delta
                minutes[minute][kind] += delta
        last = {pid: cpu for pid, cpu in last.items() if pid in table}
    wall = time.monotonic() - started
    busy, cores = _busy() - busy0, os.cpu_count() or 1
    attributed = sum(by_kind.values())
    print(f"\nexit status {child.returncode}; wall {wall / 60:.1f} min on {cores} cores")
    share = busy / (wall * cores)
    print(f"cores busy {busy / 60:.1f} core-min of {wall * cores / 60:.1f} ({share:.0%})")
    for worker in sorted({w for _, w in by_kind}):
        rows = sorted(((s, k) for (k, w), s in by_kind.items() if w == worker), reverse=True)
        print(f"  {worker}: {sum(s for s, _ in rows) / 60:.1f} core-min")
        for seconds, kind in rows:
            print(f"    {kind:36s} {seconds / 60:6.1f} core-min")
    short = (busy - attributed) / 60
    print(f"  not attributed (processes shorter than {args.every:g} s): {short:.1f} core-min")
    if args.out:
        kinds = sorted({k for row in minutes.values() for k in row})
        with args.out.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["minute", *kinds])
            for minute in sorted(minutes):
                writer.writerow([minute, *(f"{minutes[minute][k]:.1f}" for k in kinds)])
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
