"""Checks of Exercise 5 (solutions/ex5_language): GRUs at work on text.

``language_numpy.py`` (the NumPy notebook: log-softmax, cross-entropy and its gradient,
perplexity, add-k n-grams) with ``references.py`` (what PyTorch computes, and the definitions of
perplexity, bits per character and add-k smoothing) and ``wrong_answers.py`` (what known mistakes
produce, so that a failure names them). ``language_torch.py`` (the PyTorch notebook's import
surface) re-exports the checks of ``torch_streams.py`` (streams and chunks for truncated BPTT),
``torch_models.py`` (the language model and the padded-batch classifier), ``torch_training.py``
(the training step, the evaluation in bits per character, the end-to-end training against an
add-k trigram), ``torch_sampling.py`` (temperature sampling against a seeded reference), built on
``torch_references.py``, ``torch_wrong_answers.py`` and ``torch_calls.py``; ``text.py`` is the
notebook's text (the reference manual's prose, from Python itself, split by topic).
"""
