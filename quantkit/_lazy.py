"""Private: lazy re-exports for a package ``__init__`` (heavy modules are imported on first use).

Usage in a package's ``__init__.py``::

    _WHERE = {"LiveDashboard": "quantkit.dashboard.live"}
    __getattr__ = lazy_getattr(__name__, _WHERE, globals())

The first ``quantkit.dashboard.LiveDashboard`` imports the module named in ``_WHERE`` and
caches the attribute in the package's namespace, so later lookups cost nothing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, MutableMapping

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, where: Mapping[str, str], namespace: MutableMapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``where``'s names (name -> module; ``.mod`` is relative to ``package``).

    Raises (from the returned function):
        AttributeError: the name is not one of ``where``'s (the message names the package).
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__
