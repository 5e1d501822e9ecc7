"""Checks of Exercise 7 (solutions/ex7_signals): sequences from signals.

``logmel_numpy.py`` (the NumPy notebook: the log-mel spectrogram of Chapter 7, one step per
function: frames, the periodic Hann window, the power spectrum, the HTK mel scale and its inverse,
the triangular filterbank and the floored natural log) with ``references.py`` (what PyTorch
computes: ``torch.stft`` with ``center=False`` and the filterbank's formula in torch),
``wrong_answers.py`` (what known mistakes produce, so that a failure names them) and
``signals.py`` (the synthetic test signals: tones, chirps, noise and digital silence).
"""
