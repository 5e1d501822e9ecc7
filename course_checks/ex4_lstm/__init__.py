"""Checks of Exercise 4 (solutions/ex4_lstm): the LSTM, in NumPy and in PyTorch, against the GRU.

One module per notebook, named like it; ``references.py``: what PyTorch computes;
``wrong_answers.py``: what known mistakes produce, so that a failure names them.
"""
