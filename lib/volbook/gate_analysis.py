"""What a smooth-transition gate does: coefficients, logit contributions and alpha paths.

STES and XGBSTES (:mod:`volbook.models.stes`, :mod:`volbook.models.xgbstes`) forecast with
``v_{s+1} = alpha_s p_s + (1 - alpha_s) v_s``, ``alpha_s = logistic(z_s)``. The gate logit is
a sum of one piece per standardized gate feature and a constant,
``z_s = c + sum_j contrib_j(s)`` (for a linear gate ``contrib_j = beta_j x_{s,j}``; for
XGBoost trees its exact per-feature contributions), which
:meth:`GatedFit.path <volbook.models.gate.GatedFit.path>` reports as ``contrib_<feature>``
columns. This module adds those pieces up by feature **family** (:mod:`volbook.features`:
``ret``, ``abs_ret``, ``ret2``, ``har``, ``har_diff``, ``dow``, ``month``, ``fomc``,
``opex``, ``imm``) and by coarser **group** (:data:`GROUPS`), and summarizes coefficients
and alpha paths. Nothing here fits anything: it reads fitted models.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from volbook.errors import DataError
from volbook.features import family_of

__all__ = [
    "FAMILY_LABELS",
    "GROUPS",
    "alpha_statistics",
    "contributions_by",
    "gate_coefficients",
    "group_of",
]

#: Reader's names of the gate feature families (and of the constant).
FAMILY_LABELS: dict[str, str] = {
    "const": "Constant",
    "ret": "Return",
    "abs_ret": "Absolute return",
    "ret2": "Squared return",
    "har": "HAR(5,20) variances",
    "har_diff": "HAR difference",
    "dow": "Day of week",
    "month": "Month",
    "fomc": "FOMC meetings",
    "opex": "Options expiry",
    "imm": "IMM dates",
}

#: Feature families by group: what the logit decomposition adds up.
GROUPS: dict[str, tuple[str, ...]] = {
    "Constant": ("const",),
    "Returns": ("ret", "abs_ret", "ret2"),
    "HAR": ("har", "har_diff"),
    "Calendar": ("dow", "month"),
    "Events": ("fomc", "opex", "imm"),
}


def group_of(family: str) -> str:
    """The group (:data:`GROUPS`) of a feature family or ``"const"``."""
    for group, families in GROUPS.items():
        if family in families:
            return group
    raise DataError(f"{family!r} is not a gate feature family")


def _family(feature: str) -> str:
    return "const" if feature == "const" else family_of(feature)


def gate_coefficients(params: Mapping[str, Mapping[str, float]]) -> pl.DataFrame:
    """Gate coefficients of fitted linear gates (STES, gblinear XGBSTES), one row per feature.

    Parameters
    ----------
    params
        Model name -> its fitted ``params`` (coefficients ``beta_<feature>`` on standardized
        features, ``beta_const`` for the constant). Models without ``beta_`` entries (tree
        gates) are skipped.

    Returns
    -------
    polars.DataFrame
        ``model``, ``feature``, ``family``, ``group``, ``coef``, in the models' and features' order.
    """
    rows = [
        {"model": model, "feature": key.removeprefix("beta_"), "coef": float(value)}
        for model, p in params.items()
        for key, value in p.items()
        if key.startswith("beta_")
    ]
    if not rows:
        return pl.DataFrame(schema={"model": pl.String, "feature": pl.String, "family": pl.String,
                                    "group": pl.String, "coef": pl.Float64})
    frame = pl.DataFrame(rows)
    families = [_family(f) for f in frame["feature"]]
    return frame.with_columns(
        family=pl.Series(families), group=pl.Series([group_of(f) for f in families])
    ).select("model", "feature", "family", "group", "coef")


def contributions_by(path: pl.DataFrame, level: str = "group") -> pl.DataFrame:
    """The gate logit of each row split into pieces by feature ``level`` (``"family"`` or ``"group"``).

    Parameters
    ----------
    path
        A gate path (:meth:`GatedFit.path`): ``date``, ``alpha``, ``logit`` and
        ``contrib_<feature>`` columns (``contrib_const`` for the constant); other columns
        (``sample`` ...) are carried along.
    level
        ``"family"`` (:data:`FAMILY_LABELS` keys) or ``"group"`` (:data:`GROUPS` keys).

    Returns
    -------
    polars.DataFrame
        The path's columns other than the contributions, then one column per family or
        group present, in :data:`FAMILY_LABELS` / :data:`GROUPS` order. The new columns add
        up to ``logit`` on every row.
    """
    if level not in ("family", "group"):
        raise DataError(f"level must be 'family' or 'group', got {level!r}")
    contrib = [c for c in path.columns if c.startswith("contrib_")]
    if not contrib or "logit" not in path.columns:
        raise DataError("the path has no contrib_* or logit columns (use GatedFit.path())")
    key = {c: _family(c.removeprefix("contrib_")) for c in contrib}
    if level == "group":
        key = {c: group_of(f) for c, f in key.items()}
    order = list(FAMILY_LABELS) if level == "family" else list(GROUPS)
    present = [k for k in order if k in key.values()]
    pieces = [pl.sum_horizontal([pl.col(c) for c, k in key.items() if k == name]).alias(name) for name in present]
    return path.select(*[c for c in path.columns if c not in contrib], *pieces)


def alpha_statistics(paths: Mapping[str, pl.DataFrame], column: str = "alpha", ddof: int = 0) -> pl.DataFrame:
    """Mean, standard deviation, minimum, 5% and 95% quantiles and maximum of alpha.

    ``paths`` maps model names to frames with an ``alpha`` column (already restricted to the
    rows to summarize, e.g. the test period). The standard deviation divides by ``n - ddof``
    (numpy's default ``ddof = 0``, as the study computed it). One row per model, in order.
    """
    rows = []
    for model, path in paths.items():
        a = path[column].cast(pl.Float64).to_numpy()
        if a.size < 2 or not np.isfinite(a).all():
            raise DataError(f"{model}: alpha needs at least 2 finite values, got {a.size}")
        rows.append(
            {"model": model, "n": int(a.size), "mean": float(a.mean()), "sd": float(a.std(ddof=ddof)),
             "min": float(a.min()), "q05": float(np.quantile(a, 0.05)), "q95": float(np.quantile(a, 0.95)),
             "max": float(a.max())}
        )
    return pl.DataFrame(rows)
