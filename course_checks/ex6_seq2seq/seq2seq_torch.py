"""The checks that ``solutions/ex6_seq2seq/seq2seq_torch.ipynb`` imports, from the modules that
hold them: the encoder, the attention, the decoder and their independence of the padding
(``torch_models.py``), the teacher-forced loss and the trained model (``torch_training.py``),
greedy decoding and beam search (``torch_decoding.py``)."""

from __future__ import annotations

from course_checks.ex6_seq2seq.torch_decoding import check_beam_search, check_greedy
from course_checks.ex6_seq2seq.torch_models import (
    check_attention,
    check_decoder,
    check_encoder,
    check_padding,
)
from course_checks.ex6_seq2seq.torch_training import (
    COUNTS,
    EVALUATION,
    THRESHOLD,
    TRAINING,
    check_sequence_loss,
    check_trained,
)

__all__ = [
    "COUNTS",
    "EVALUATION",
    "THRESHOLD",
    "TRAINING",
    "check_attention",
    "check_beam_search",
    "check_decoder",
    "check_encoder",
    "check_greedy",
    "check_padding",
    "check_sequence_loss",
    "check_trained",
]
