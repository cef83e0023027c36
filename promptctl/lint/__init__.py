"""``promptctl lint``: checks for prompts, partials, datasets and promptctl.yaml.

- :mod:`.rules`: the rule registry (codes, severities, ``--explain`` text) and selection
- :mod:`.engine`: which files to check, caches, suppression, the report
- :mod:`.base`: what the rule families need from the engine (they import it, never the engine)
- one module per rule family: :mod:`.files`, :mod:`.template`, :mod:`.models`,
  :mod:`.security`, :mod:`.datasets`, :mod:`.samples` (with :mod:`.modeldata`)
- :mod:`.formats`: text, json, sarif and github output

Importing this package loads nothing but the standard library; the engine
imports Jinja, YAML and jsonschema when it runs.
"""

from __future__ import annotations

from .rules import RULES, Finding, Rule

__all__ = ["RULES", "Finding", "Rule"]
