"""The checks that ``solutions/ex5_language/language_torch.ipynb`` imports, from the modules that
hold them: the streams (``torch_streams.py``), the language model and the classifier
(``torch_models.py``), the training step, the evaluation and the trained model
(``torch_training.py``), sampling (``torch_sampling.py``), and the notebook's text
(``text.py``)."""

from __future__ import annotations

from course_checks.ex5_language.text import load_text
from course_checks.ex5_language.torch_models import check_charlm, check_classifier
from course_checks.ex5_language.torch_sampling import check_sample
from course_checks.ex5_language.torch_streams import check_batchify, check_get_chunk
from course_checks.ex5_language.torch_training import (
    BASELINE,
    TRAINING,
    check_evaluate_bpc,
    check_lm_trained,
    check_lm_training,
    check_train_step,
)

__all__ = [
    "BASELINE",
    "TRAINING",
    "check_batchify",
    "check_charlm",
    "check_classifier",
    "check_evaluate_bpc",
    "check_get_chunk",
    "check_lm_trained",
    "check_lm_training",
    "check_sample",
    "check_train_step",
    "load_text",
]
