"""Panels for the panel tests: a perturbation of every row after a date."""

from __future__ import annotations

import numpy as np
import polars as pl


def perturb(panel: pl.DataFrame, t_date, seed: int) -> pl.DataFrame:
    """Change every row dated after ``t_date``: returns in sign and size, market caps in size."""
    rng = np.random.default_rng(seed)
    after = pl.col("date") > t_date
    noise = pl.DataFrame({"_size": rng.uniform(0.2, 4.0, panel.height), "_cap": rng.uniform(0.5, 2.0, panel.height)})
    new_ret = pl.when(after).then(-pl.col("close").log().diff() * pl.col("_size")).otherwise(0.0)
    close_t = pl.col("close").filter(~after).last()
    return panel.hstack(noise).with_columns(
        close=pl.when(after).then(close_t.over("asset") * new_ret.cum_sum().over("asset").exp()).otherwise(pl.col("close")),
        market_cap=pl.when(after).then(pl.col("market_cap") * pl.col("_cap")).otherwise(pl.col("market_cap")),
    ).drop("_size", "_cap")
