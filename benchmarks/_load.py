"""The machine load next to every benchmark figure (one place for the rule, used by every script).

A figure taken while other work shares the cores measures the neighbours as much as the code, and
slows a baseline more than quantkit, so a ratio taken under load flatters us. Every script prints the
1-minute load average (``os.getloadavg()[0]``) when it starts and when it ends, and a figure taken
at a load above :data:`LOADED_ABOVE` is marked "loaded": it is not used for a "met" verdict.

Usage (scripts run as ``python benchmarks/NAME.py``, so this module imports as ``_load``)::

    from _load import LoadWatch

    if __name__ == "__main__":
        with LoadWatch():          # prints the load at start, and at end (also on errors and sys.exit)
            sys.exit(main())

    with LoadWatch() as watch:     # or around a part, to mark each figure
        ms = run()
        print(f"pipeline {ms:.1f} ms{watch.tag()}")
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

__all__ = ["LOADED_ABOVE", "LoadWatch", "is_loaded", "load_now", "settle", "tag"]

#: A figure taken while the 1-minute load average is above this is "loaded" (proves nothing).
LOADED_ABOVE = 1.0


def load_now() -> float:
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def is_loaded(*loads: float) -> bool:
    """Whether any of ``loads`` (default: the load now) is above :data:`LOADED_ABOVE`."""
    return max(loads or (load_now(),)) > LOADED_ABOVE


def tag(*loads: float) -> str:
    """``" (loaded: load 3.2)"`` when :func:`is_loaded`, else ``" (load 0.3)"``: append it to a figure."""
    worst = max(loads or (load_now(),))
    return f" (loaded: load {worst:.1f})" if worst > LOADED_ABOVE else f" (load {worst:.1f})"


def settle(below: float = 0.5, max_wait: float = 150.0, label: str = "settle") -> float:
    """Wait until the 1-minute load is below ``below`` (at most ``max_wait`` seconds); return the load.

    A benchmark whose previous run kept both cores busy leaves the 1-minute average near 1 for a
    minute (it decays with a 60 s time constant): waiting here lets each run start on a quiet machine
    instead of marking the next figure "loaded" with the benchmark's own load. Prints what it waited.
    """
    import time

    t0 = time.monotonic()
    load = load_now()
    while load >= below and time.monotonic() - t0 < max_wait:
        time.sleep(2.0)
        load = load_now()
    waited = time.monotonic() - t0
    if waited >= 1.0:
        state = "" if load < below else f", still >= {below:g} after the {max_wait:.0f} s limit"
        print(f"  [{label}] waited {waited:.0f} s for the load to settle: {load:.2f}{state}", flush=True)
    return load


class LoadWatch:
    """Print the load when entered and when left; :meth:`tag` marks figures taken in between.

    Args:
        label: printed with the two load lines (default: the script's file name).
    """

    def __init__(self, label: str | None = None) -> None:
        self.label = label if label is not None else os.path.basename(sys.argv[0] or "benchmark")
        self.start = load_now()
        self.end: float | None = None

    def __enter__(self) -> "LoadWatch":
        self.start = load_now()
        state = "loaded: figures below prove nothing" if self.start > LOADED_ABOVE else "quiet"
        print(f"[{self.label}] load at start: {self.start:.2f} ({state}; loaded above {LOADED_ABOVE:g})", flush=True)
        return self

    def tag(self) -> str:
        """The :func:`tag` of the worst load seen since the start (start and now)."""
        return tag(self.start, load_now())

    def loaded(self) -> bool:
        """Whether the load was above :data:`LOADED_ABOVE` at the start or is now."""
        return is_loaded(self.start, load_now())

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.end = load_now()
        verdict = "loaded" if is_loaded(self.start, self.end) else "quiet"
        print(f"[{self.label}] load at end: {self.end:.2f} (start {self.start:.2f}: {verdict} run)", flush=True)
