"""The project's nbgrader preprocessors, one job per file, named after its class (as nbgrader keeps
its own in ``nbgrader/preprocessors/``): ``autograde`` puts them in nbgrader's pipeline.

- ``LimitedExecute``: nbgrader's Execute with a cap on everything a notebook outputs;
- ``ReplayVerdicts``: re-runs every test cell in the grader, on the answers the kernel recorded.
"""

from grader.preprocessors.limited_execute import LimitedExecute
from grader.preprocessors.replay_verdicts import ReplayVerdicts

__all__ = ["LimitedExecute", "ReplayVerdicts"]
