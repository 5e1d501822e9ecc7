"""The measured comparisons of Chapter 4: tasks, models, training runs and their cache.

``book/04_gru_vs_lstm.md`` declares each experiment as a list of run specifications (plain dicts)
and hands them to :func:`experiments.runner.run_all`, which trains each model in a worker process
and caches the result, so that a rebuild of the chapter costs seconds unless this package changed.
"""
