"""Old name of course_checks.ex3_gru_torch.gru_torch, kept for one release.

Notebooks released before the per-assignment packages import it; new ones do not.
"""

from course_checks.ex3_gru_torch.gru_torch import *  # noqa: F403
