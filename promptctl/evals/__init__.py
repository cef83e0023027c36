"""Regression evals against golden datasets: what ``promptctl test`` runs. One job per module:

- :mod:`.runner`      selecting datasets and cases (``--filter``, ``--shard``), running them in one loop
- :mod:`.caller`      getting answers: recordings first, then live within budget, concurrency and retries
- :mod:`.providers`   which client makes a call: :mod:`.native` (OpenAI-compatible endpoints, over :mod:`.http11`)
                      or litellm (every other provider, imported only when needed); adding a provider
                      is adding a module with ``complete``/``embed`` and routing to it here
- :mod:`.native`      the native async client: chat completions and embeddings over one pooled client
- :mod:`.provider`    requests, completions, endpoints, error classes, the retry policy, the litellm client
- :mod:`.preflight`   what is checked before a run: model names, API keys
- :mod:`.prices`      costs from litellm's price table, read as data
- :mod:`.recordings`  the JSONL store of recorded responses (stable order, prune), the recording modes
- :mod:`.assertions`  promptfoo-style assertions and how they combine into a case verdict
- :mod:`.results`     what a run produced (case, dataset, run), from which every report is made
- :mod:`.reports`     text, JSON, JUnit and Markdown reports, and the terminal progress display
- :mod:`.shards`      ``--shard I/N`` and ``promptctl report merge``
- :mod:`.goldens`     writing goldens back into datasets, comments kept (``--update-golden``, review)
- :mod:`.pending`     the cases pending review after a run, and accepting or rejecting them (``promptctl review``)

Nothing here prints or exits: the CLI (``promptctl/cli/test.py``) presents what these return.
"""
