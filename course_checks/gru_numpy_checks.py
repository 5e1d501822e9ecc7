"""Old name of course_checks.ex2_gru_numpy.gru_numpy, kept for one release.

Notebooks released before the per-assignment packages import it; new ones do not.
"""

from course_checks.ex2_gru_numpy.gru_numpy import *  # noqa: F403
