"""``python -m experiments``: train every run the book reads, before the book is built.

Resumable: each run's result is cached as soon as it finishes, so an interrupted step loses at most
the runs in progress, and running it again trains only what is missing (or what a change to the
experiments' code made stale). With everything cached it only checks the cache and exits.
"""

from __future__ import annotations

import argparse
import sys
import time

from experiments.runner import TRAIN_COMMAND, TrainingFailed, cache_dir, train_protocol


def main(argv: list[str] | None = None) -> int:
    """Train the protocol and say what was done; exit 1 on a failed run, 130 if interrupted."""
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    parser.add_argument("--workers", type=int, help="training processes (default: one per CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        results = train_protocol(workers=args.workers, progress=not args.quiet)
    except TrainingFailed as error:
        print(f"experiments: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\nexperiments: interrupted; finished runs are kept in {cache_dir()}. "
            f"Run {TRAIN_COMMAND} again to resume.",
            file=sys.stderr,
        )
        return 130
    print(
        f"experiments: {len(results)} results ready in {cache_dir()} "
        f"({time.monotonic() - started:.0f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
