"""Checks of Exercise 1 (solutions/ex1_rnn): the vanilla RNN, in NumPy and in PyTorch.

One module per notebook, named like it; ``references.py``: what PyTorch computes;
``wrong_answers.py``: what known mistakes produce, so that a failure names them.
"""
