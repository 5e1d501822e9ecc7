"""Chapter 5's language data and its non-neural baselines: text from Python itself
(:mod:`experiments.language.corpora`) and smoothed character n-gram models
(:mod:`experiments.language.ngram`)."""
