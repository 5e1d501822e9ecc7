"""Checks of Exercise 6 (solutions/ex6_seq2seq): the encoder–decoder with attention.

``attention_numpy.py`` (the NumPy notebook: Bahdanau's additive scores, the masked softmax over
the source positions, the context, a forward pass with a cache and its backward pass, checked
against autograd and finite differences) with ``references.py`` (what PyTorch computes) and
``wrong_answers.py`` (what known mistakes produce, so that a failure names them).
``seq2seq_torch.py`` (the PyTorch notebook's import surface) re-exports the checks of
``torch_models.py`` (the bidirectional encoder, the attention, the decoder step, and the three
joined, independent of the padding), ``torch_training.py`` (the teacher-forced loss, and the model
trained on dates against a threshold of exact matches on held-out formats) and
``torch_decoding.py`` (greedy decoding and beam search with length normalisation), built on
``torch_references.py``, ``torch_wrong_answers.py`` and ``torch_calls.py``. The date task itself
is the core's ``course_checks/dates.py``, shared with Chapter 6.
"""
