"""quantkit: a Jupyter research environment for crypto pairs trading on trade ticks."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
