"""One markdown table printer for the benchmark scripts (``python benchmarks/NAME.py`` imports it as ``_table``)."""

from __future__ import annotations

from typing import Sequence

__all__ = ["print_rows"]


def print_rows(rows: Sequence[tuple[str, str, str]], result: str = "result", suffix: str = "") -> None:
    """Print ``(benchmark, result, notes)`` rows as a markdown table, the result column right-aligned.

    Args:
        rows: one tuple per figure.
        result: heading of the result column.
        suffix: appended to every result (e.g. ``" (loaded)"``).
    """
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) + len(suffix) for r in rows)
    print(f"| {'benchmark':<{w0}} | {result:>{w1}} | notes |")
    print(f"|{'-' * (w0 + 2)}|{'-' * (w1 + 2)}|-------|")
    for a, b, c in rows:
        print(f"| {a:<{w0}} | {b + suffix:>{w1}} | {c} |")
