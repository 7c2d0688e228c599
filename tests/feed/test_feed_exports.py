"""quantkit.feed exports exactly the union of its public submodules' __all__."""

from __future__ import annotations

import importlib

import quantkit.feed

SUBMODULES = ("backfill", "backoff", "client", "discovery", "endpoints", "gaps", "messages", "rest")


def test_package_all_is_union_of_submodules() -> None:
    """The package's __all__ equals the union of its submodules' __all__, and each name is the same object."""
    union: set[str] = set()
    for name in SUBMODULES:
        module = importlib.import_module(f"quantkit.feed.{name}")
        union |= set(module.__all__)
        for export in module.__all__:
            assert getattr(quantkit.feed, export) is getattr(module, export)
    assert set(quantkit.feed.__all__) == union
    assert len(quantkit.feed.__all__) == len(union)
