"""Checks of Exercise 3 (solutions/ex3_gru_torch): the GRU as a PyTorch module, trained.

One module per notebook, named like it; ``references.py``: what PyTorch computes;
``wrong_answers.py``: what known mistakes produce, so that a failure names them.
"""
