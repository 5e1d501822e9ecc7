"""Checks of Exercise 2 (solutions/ex2_gru_numpy): the GRU in NumPy, forward and backward.

One module per notebook, named like it; ``references.py``: what PyTorch computes;
``wrong_answers.py``: what known mistakes produce, so that a failure names them.
"""
