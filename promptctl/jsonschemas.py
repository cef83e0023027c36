"""jsonschema, imported without the 0.8 s that one of its format libraries costs at import.

``jsonschema[format-nongpl]`` checks ``format`` values (date-time, email, uri, …) with optional
libraries it imports along with itself. One of them, ``rfc3987_syntax`` (the ``iri`` and
``iri-reference`` formats), builds its whole grammar when imported: about 0.8 s, against 0.1 s
for jsonschema and every other format library. :func:`load` imports jsonschema with that one held
back, then gives the two formats back their checks, importing ``rfc3987_syntax`` on the first value
one of them checks. Every format is checked as before; a schema that uses neither never pays for it.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType

_SLOW = "rfc3987_syntax"
_IRI_FORMATS = {"iri": "iri", "iri-reference": "iri_reference"}  # format -> rfc3987_syntax rule
_lock = threading.Lock()


def load() -> ModuleType:
    """The ``jsonschema`` module (imported on the first call, as described above)."""
    found = sys.modules.get("jsonschema")
    if found is not None:
        return found
    with _lock:
        if "jsonschema" in sys.modules:
            return sys.modules["jsonschema"]
        held = _SLOW not in sys.modules
        if held:
            sys.modules[_SLOW] = None  # type: ignore[assignment]  # what `import` then refuses (ImportError)
        try:
            import jsonschema
        finally:
            if held and sys.modules.get(_SLOW, 0) is None:
                del sys.modules[_SLOW]
        if held and importlib.util.find_spec(_SLOW) is not None:
            _give_back_iri_formats(jsonschema)
        return jsonschema


def _give_back_iri_formats(jsonschema: ModuleType) -> None:
    """The ``iri`` and ``iri-reference`` checks jsonschema makes with rfc3987_syntax (draft 7 on), the
    library imported on their first use."""

    def check(rule: str) -> Callable[[object], bool]:
        def is_valid(instance: object) -> bool:
            if not isinstance(instance, str):
                return True
            from rfc3987_syntax import is_valid_syntax

            return bool(is_valid_syntax(rule, instance))

        return is_valid

    for validator in (jsonschema.Draft7Validator, jsonschema.Draft201909Validator, jsonschema.Draft202012Validator):
        checker = validator.FORMAT_CHECKER
        for name, rule in _IRI_FORMATS.items():
            if name not in checker.checkers:
                checker.checks(name, raises=ValueError)(check(rule))
    shared = jsonschema.FormatChecker.checkers  # what a FormatChecker() made without formats takes
    for name, rule in _IRI_FORMATS.items():
        shared.setdefault(name, (check(rule), ValueError))
