"""Capped exponential backoff with full jitter (Sans-I/O: it computes delays, it never sleeps)."""

from __future__ import annotations

import random
from typing import Protocol

__all__ = ["Backoff", "RandomSource"]


class RandomSource(Protocol):
    """Anything with ``random() -> float`` in ``[0, 1)``, e.g. :class:`random.Random`."""

    def random(self) -> float:  # pragma: no cover - protocol
        ...


class Backoff:
    """Reconnect delays: attempt ``n`` (from 0) waits ``U(0, min(maximum, initial * factor**n))``.

    "Full jitter" spreads reconnecting clients over the whole window, so many
    clients cut at once do not reconnect in lock step.

    Args:
        initial: cap of the first delay, seconds (> 0). Default 0.5.
        maximum: cap of every delay, seconds (>= initial). Default 30.
        factor: growth of the cap per failed attempt (>= 1). Default 2.
        rng: random source (default a fresh :class:`random.Random`); inject for tests.

    Raises:
        ValueError: a bound is out of range (the message names it).
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        *,
        rng: RandomSource | None = None,
    ) -> None:
        if not initial > 0:
            raise ValueError(f"initial={initial!r}: must be > 0 seconds")
        if not maximum >= initial:
            raise ValueError(f"maximum={maximum!r}: must be >= initial ({initial!r})")
        if not factor >= 1:
            raise ValueError(f"factor={factor!r}: must be >= 1")
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self._rng: RandomSource = rng if rng is not None else random.Random()
        self._attempts = 0
        self._cap = self.initial

    @property
    def attempts(self) -> int:
        """Delays handed out since the last :meth:`reset`."""
        return self._attempts

    def cap(self) -> float:
        """The upper bound of the next delay, seconds."""
        return self._cap

    def next_delay(self) -> float:
        """The next delay in seconds, in ``[0, cap())``; then the cap grows."""
        delay = self._rng.random() * self._cap
        self._attempts += 1
        self._cap = min(self.maximum, self._cap * self.factor)
        return delay

    def reset(self) -> None:
        """Start again from ``initial`` (call after a connection proved healthy)."""
        self._attempts = 0
        self._cap = self.initial
