"""``python -m grader``: the instructors' command line."""

from grader.cli import main

raise SystemExit(main())
