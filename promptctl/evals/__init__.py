"""Regression evals against golden datasets: what ``promptctl test`` runs.

- :mod:`.provider`    model calls (the only module that imports litellm, lazily), retries, fallbacks
- :mod:`.recordings`  the JSONL store of recorded responses, and the recording modes
- :mod:`.assertions`  promptfoo-style assertions and how they combine into a case verdict
- :mod:`.runner`      selecting datasets, running cases with bounded concurrency, budget, baseline
- :mod:`.reports`     text, JSON, JUnit and Markdown reports, and the terminal progress display
- :mod:`.goldens`     ``--update-golden``: writing outputs back into datasets, comments kept

Nothing here prints or exits: the CLI (``promptctl/cli/test.py``) presents what these return.
"""
