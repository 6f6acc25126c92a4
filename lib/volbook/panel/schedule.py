"""The panel walk-forward's timing: refit dates, training windows, and window sums of X'X.

Positions ``t`` number the panel's calendar (:class:`~volbook.panel.features.PanelFeatures`).
A model is re-estimated at the refit dates ``k = first_origin, first_origin + every, ...``.
The training window of refit date k holds the rows (s, asset) with

    k - window < s <= k - horizon        (and a non-null target)

that is, the dates (k - W, k] of a rolling window of W days, keeping only rows whose target,
which ends at s + h, is complete by k (:func:`volbook.timing.usable_training_end`). Its
coefficients forecast every origin k, k + 1, ..., k + every - 1; nothing dated after k enters.
This is the leak-free version of the study's ``group_by_dynamic`` (whose windows looked
forward) and of its per-asset ``rolling_ols`` (whose windows held targets not yet known).

Window sums for many refits at once (:func:`window_sums`): the calendar is cut into blocks at
every window edge of every refit, the rows' cross-products are summed per (group, block), and
each refit's window is the difference of two cumulative block sums. Those sums at refit k only
involve blocks that end at k - h or earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from volbook.errors import DataError, ParameterError

__all__ = ["RefitSchedule", "WindowSums", "window_sums"]

_CHUNK = 1_000_000  # rows per slice in window_sums


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer (trading days), got {value!r}")
    return int(value)


@dataclass(frozen=True)
class RefitSchedule:
    """When a panel model is refit and which dates its training window holds.

    Build it with :meth:`build`. ``refits[j]`` is the j-th refit date k; origin t >= first
    uses the coefficients of refit ``refit_index(t) = (t - first_origin) // refit_every``.
    """

    n_dates: int
    window: int
    refit_every: int
    horizon: int
    first_origin: int
    refits: np.ndarray

    @classmethod
    def build(
        cls,
        n_dates: int,
        *,
        window: int = 504,
        refit_every: int = 25,
        horizon: int = 21,
        first_origin: int | None = None,
    ) -> RefitSchedule:
        """A schedule over a calendar of ``n_dates`` positions.

        Parameters
        ----------
        n_dates
            Length of the calendar.
        window
            W: the training window covers dates (k - W, k] (only rows with s + h <= k count).
        refit_every
            Days between refits.
        horizon
            h of the target.
        first_origin
            First refit date and first forecast origin; default ``window - 1`` (the first
            date with a full window).
        """
        window = _positive_int(window, "window")
        refit_every = _positive_int(refit_every, "refit_every")
        horizon = _positive_int(horizon, "horizon")
        if window <= horizon:
            raise ParameterError(f"window ({window}) must be longer than the horizon ({horizon}): "
                                 "no row of a shorter window has a known target")
        first = window - 1 if first_origin is None else int(first_origin)
        if first < horizon:
            raise ParameterError(f"first_origin must be >= horizon ({horizon}), got {first}")
        if first >= n_dates:
            raise DataError(f"the panel has {n_dates} dates; the first origin {first} needs more "
                            f"(shorten window={window} or first_origin)")
        refits = np.arange(first, n_dates, refit_every, dtype=np.int64)
        return cls(n_dates, window, refit_every, horizon, first, refits)

    def training_bounds(self, j: int) -> tuple[int, int]:
        """First and last calendar positions (inclusive) of refit j's training rows."""
        k = int(self.refits[j])
        return max(0, k - self.window + 1), k - self.horizon

    def refit_index(self, t: pl.Expr | None = None) -> pl.Expr:
        """Expression: the refit whose coefficients forecast origin ``t`` (>= first_origin)."""
        t = pl.col("t") if t is None else t
        return ((t.cast(pl.Int64) - self.first_origin) // self.refit_every).cast(pl.Int64)

    def training_rows(self, frame: pl.DataFrame, j: int) -> pl.DataFrame:
        """The rows of ``frame`` in refit j's training window (non-null ``target``)."""
        lo, hi = self.training_bounds(j)
        return frame.filter(pl.col("t").is_between(lo, hi), pl.col("target").is_not_null())

    def _edges(self) -> np.ndarray:
        lo = np.maximum(self.refits - self.window + 1, 0)
        hi = self.refits - self.horizon + 1
        return np.unique(np.concatenate([[0], lo, hi, [self.n_dates]]))

    def block_windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block edges, and for each refit its first and one-past-last block.

        Block b covers calendar positions ``edges[b] .. edges[b + 1] - 1``; refit j's window is
        blocks ``first[j] .. last[j] - 1``.
        """
        edges = self._edges()
        lo = np.maximum(self.refits - self.window + 1, 0)
        hi = self.refits - self.horizon + 1
        return edges, np.searchsorted(edges, lo), np.searchsorted(edges, hi)


@dataclass(frozen=True)
class WindowSums:
    """Cross-products of ``Z = [1, x_1, ..., x_q]`` and ``y`` over each refit's window, per group.

    Attributes
    ----------
    names
        ``("intercept", x_1, ..., x_q)``.
    zz
        Shape (groups, refits, q + 1, q + 1): ``sum Z'Z`` (``zz[..., 0, 0]`` is the row count).
    zy
        Shape (groups, refits, q + 1): ``sum Z'y``.

    Group g is the rows whose group code is g (0, 1, ..., groups - 1); a group without rows
    in a window has zero sums there.
    """

    names: tuple[str, ...]
    zz: np.ndarray
    zy: np.ndarray

    def rows(self) -> np.ndarray:
        """Number of training rows, shape (groups, refits)."""
        return self.zz[..., 0, 0]

    def total(self) -> WindowSums:
        """The sums over all groups (one group, code 0): the global pooled window."""
        return WindowSums(self.names, self.zz.sum(axis=0, keepdims=True), self.zy.sum(axis=0, keepdims=True))

    def regroup(self, mapping: np.ndarray, n_groups: int) -> WindowSums:
        """Sum groups into coarser ones: group g goes to ``mapping[g]`` (in 0..n_groups-1)."""
        zz = np.stack([self.zz[mapping == i].sum(axis=0) for i in range(n_groups)])
        zy = np.stack([self.zy[mapping == i].sum(axis=0) for i in range(n_groups)])
        return WindowSums(self.names, zz, zy)

    def select(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(Z'Z, Z'y)`` restricted to the intercept and ``names``, in that order."""
        idx = [0, *[self.names.index(n) for n in names]]
        return self.zz[..., idx, :][..., :, idx], self.zy[..., idx]


def window_sums(
    frame: pl.DataFrame | pl.LazyFrame,
    schedule: RefitSchedule,
    x: Sequence[pl.Expr],
    y: pl.Expr,
    *,
    group: pl.Expr | None = None,
    n_groups: int = 1,
) -> WindowSums:
    """Sums of ``Z'Z`` and ``Z'y`` over every refit's training window, per group.

    Parameters
    ----------
    frame
        Feature frame with ``t``, ``target`` and what ``x``, ``y`` and ``group`` read.
    schedule
        The refit schedule.
    x
        Named expressions of the regressors (the intercept is added first).
    y
        Expression of the regression target (e.g. the clipped target).
    group
        An integer expression with values in 0..n_groups-1 (e.g. :func:`~volbook.panel.features.sector_code`): one set
        of sums per value; None pools every row into one group.
    n_groups
        Number of groups.

    Returns
    -------
    WindowSums
        Sums in row order (``np.bincount``), so identical inputs give identical bits.
    """
    edges, first, last = schedule.block_windows()
    names = ("intercept", *[e.meta.output_name() for e in x])
    q = len(names)
    pairs = [(a, b) for a in range(1, q) for b in range(a, q)]  # products of the regressors
    k_last = int(schedule.refits[-1]) - schedule.horizon
    products = [(0, 0), *[(0, b) for b in range(1, q)], *pairs, (0, q), *[(a, q) for a in range(1, q)]]
    n_blocks = edges.size  # block b of the data goes to slot b + 1; slot 0 stays zero
    n_cells = n_groups * n_blocks
    # per (group, block) sums with np.bincount, which adds in row order: the sums, and so the
    # forecasts, are the same bits on every run (a parallel group-by's order depends on timing).
    # Slices of _CHUNK rows keep the memory small; their boundaries depend on the row count only.
    cum = np.zeros((n_cells, len(products)))
    rows_used = 0
    for start in range(0, frame.height, _CHUNK):
        # no filter: it would copy the input columns; rows outside every window go to a spare cell
        part = (
            frame.lazy()
            .slice(start, _CHUNK)
            .select(
                (pl.lit(0) if group is None else group).cast(pl.Int64).alias("_group"),
                (pl.lit(pl.Series(edges)).search_sorted(pl.col("t"), side="right").cast(pl.Int64) - 1).alias("_block"),
                (pl.col("target").is_not_null() & (pl.col("t") <= k_last)).alias("_keep"),
                *x,
                y.alias("_y"),
            )
            .collect(engine="in-memory")  # whole columns: to_numpy() then copies nothing
        )
        keep = part["_keep"].to_numpy()
        g = part["_group"].to_numpy()
        if g.min() < 0 or g.max() >= n_groups:
            raise ParameterError(f"group codes must lie in 0..{n_groups - 1}, got {g.min()}..{g.max()}")
        cell = np.where(keep, g * n_blocks + part["_block"].to_numpy() + 1, n_cells)
        cols = [None] + [part[n].to_numpy() for n in [*names[1:], "_y"]]  # 0: the ones, q: y
        if not all(np.isfinite(v[keep]).all() for v in cols[1:]):
            raise DataError(f"non-finite values in the training rows of {names[1:]} or the target")
        rows_used += int(keep.sum())
        for i, (a, b) in enumerate(products):
            w = cols[b] if a == 0 else cols[a] * cols[b]  # None (a = b = 0) counts the rows
            cum[:, i] += np.bincount(cell, weights=w, minlength=n_cells + 1)[:n_cells]  # no spare cell
    if rows_used == 0:
        raise DataError("no training rows: every window is empty (is the target all null?)")
    cum = cum.reshape(n_groups, n_blocks, -1)
    np.cumsum(cum, axis=1, out=cum)
    win = cum[:, last, :] - cum[:, first, :]
    del cum
    zz = np.empty((n_groups, schedule.refits.size, q, q))
    zz[..., 0, 0] = win[..., 0]
    for b in range(1, q):
        zz[..., 0, b] = zz[..., b, 0] = win[..., b]
    for col, (a, b) in enumerate(pairs, start=q):
        zz[..., a, b] = zz[..., b, a] = win[..., col]
    zy = win[..., q + len(pairs):].copy()
    return WindowSums(names, zz, zy)
