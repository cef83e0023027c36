"""promptctl: git-native prompt-as-code.

The public API is the application runtime, re-exported lazily so that
``import promptctl`` stays cheap::

    from promptctl import Registry      # same as: from promptctl.runtime import Registry
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["GuardError", "GuardResult", "Prompt", "Registry", "RegistryStatus", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("GuardError", "GuardResult", "Prompt", "Registry", "RegistryStatus"):
        from . import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'promptctl' has no attribute {name!r}")
