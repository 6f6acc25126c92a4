"""Returns and realized measures computed from a panel (:mod:`volbook.data`).

Units and dating follow :mod:`volbook.timing`: daily log returns in decimals, each dated by
the day on which it ends.
"""

from __future__ import annotations

import polars as pl

__all__ = ["log_returns"]


def log_returns(panel: pl.DataFrame) -> pl.DataFrame:
    """Daily log returns ``r_t = ln(P_t / P_{t-1})`` of every asset of a panel.

    Parameters
    ----------
    panel
        A panel with ``date``, ``asset`` and ``close`` (e.g. from :func:`volbook.data.load`).

    Returns
    -------
    polars.DataFrame
        ``date``, ``asset``, ``ret`` (Float64), sorted by (asset, date); each asset's first
        date, which has no previous close, is dropped.
    """
    return (
        panel.lazy()
        .sort("asset", "date")
        .select(
            "date",
            "asset",
            (pl.col("close") / pl.col("close").shift(1)).log().over("asset").cast(pl.Float64).alias("ret"),
        )
        .drop_nulls("ret")
        .collect()
    )
