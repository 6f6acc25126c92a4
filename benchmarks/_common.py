"""What the benchmark scripts share: wall-clock timing, forecast matrices, differences, tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from volbook.walkforward import WalkForward

__all__ = ["time_call", "forecast_matrix", "max_differences", "print_table"]

T = TypeVar("T")


def time_call(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Call ``fn`` ``repeat`` times; return its last result and the fastest wall time in seconds."""
    best = np.inf
    for _ in range(max(1, int(repeat))):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def forecast_matrix(wf: WalkForward, horizons: Sequence[int]) -> np.ndarray:
    """A walk-forward's forecasts as an (origins x horizons) array, origins in date order."""
    wide = wf.forecasts.pivot(on="horizon", index="date", values="forecast").sort("date")
    return wide.select([str(h) for h in horizons]).to_numpy()


def max_differences(ours: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest absolute and relative (to ``reference``) difference, per column."""
    diff = np.abs(ours - reference)
    return diff.max(axis=0), (diff / np.abs(reference)).max(axis=0)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows as an aligned plain-text table: first column left, the others right."""
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
