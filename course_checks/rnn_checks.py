"""Old name of course_checks.ex1_rnn.rnn_numpy and .rnn_torch, kept for one release.

Notebooks released before the per-assignment packages import it; new ones do not.
"""

from course_checks.ex1_rnn.rnn_numpy import *  # noqa: F403
from course_checks.ex1_rnn.rnn_torch import *  # noqa: F403
