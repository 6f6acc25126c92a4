"""Scoring forecasts: losses, Mincer-Zarnowitz regressions, Diebold-Mariano tests, the MCS.

Losses are computed on **variance** (the layout of :mod:`volbook.timing`: ``y`` = realized
``target``, ``f`` = ``forecast``, both daily variance summed over the horizon):

* squared error ``(y - f)^2`` (MSE, RMSE) and absolute error ``|y - f|`` (MAE);
* QLIKE in the normalized form of Patton (2011), ``y/f - ln(y/f) - 1``: zero at ``f = y``,
  positive otherwise, and robust to noise in the realized proxy. The form ``ln f + y/f``
  ranks forecasts identically but is not reported.

On volatility scales (the panel chapter) :func:`vol_metrics` reports correlation, RMSE, MAE
and MAPE of sigma instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import statsmodels.api as sm
from arch.bootstrap import MCS
from numpy.typing import ArrayLike
from scipy import stats

from volbook import SEED
from volbook.errors import DataError, ParameterError

__all__ = [
    "DMResult",
    "diebold_mariano",
    "diebold_mariano_table",
    "same_losses",
    "loss_expr",
    "loss_table",
    "mae",
    "mincer_zarnowitz",
    "model_confidence_set",
    "mse",
    "qlike",
    "rmse",
    "vol_metrics",
]

LossName = Literal["squared", "absolute", "qlike"]


def _pointwise(y, f, loss: LossName):
    """Per-observation loss; works on numpy arrays and on polars expressions alike."""
    if loss == "squared":
        return (y - f) ** 2
    if loss == "absolute":
        return abs(y - f)
    if loss == "qlike":
        ratio = y / f
        return ratio - np.log(ratio) - 1.0
    raise ParameterError(f"loss must be 'squared', 'absolute' or 'qlike', got {loss!r}")


def _as_vector(x: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x.to_numpy() if isinstance(x, pl.Series) else x, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise DataError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise DataError(f"{name} has {int((~np.isfinite(a)).sum())} non-finite values (NaN, inf or null)")
    return a


def _check_pair(
    y: ArrayLike,
    f: ArrayLike,
    *,
    y_positive: bool,
    what: str = "variance",
    why: str = "",
    names: tuple[str, str] = ("y (realized)", "f (forecast)"),
) -> tuple[np.ndarray, np.ndarray]:
    """Validated realized ``y`` and forecast ``f``: same length, finite, ``f > 0``, ``y >= 0`` (``> 0``)."""
    y_name, f_name = names
    ya, fa = _as_vector(y, y_name), _as_vector(f, f_name)
    if ya.size != fa.size:
        raise DataError(f"{y_name} has {ya.size} values but {f_name} has {fa.size}")
    if (fa <= 0).any():
        raise DataError(f"{f_name} has {int((fa <= 0).sum())} values <= 0; a {what} forecast must be positive")
    bad = (ya <= 0) if y_positive else (ya < 0)
    if bad.any():
        bound, need = ("<= 0", "positive") if y_positive else ("< 0", "non-negative")
        raise DataError(f"{y_name} has {int(bad.sum())} values {bound}; a realized {what} must be {need}{why}")
    return ya, fa


def mse(y: ArrayLike, f: ArrayLike) -> float:
    """Mean squared error ``mean((y - f)^2)`` of variance forecasts ``f`` for realized ``y``."""
    ya, fa = _check_pair(y, f, y_positive=False)
    return float(_pointwise(ya, fa, "squared").mean())


def rmse(y: ArrayLike, f: ArrayLike) -> float:
    """Root mean squared error ``sqrt(mse(y, f))``."""
    return float(np.sqrt(mse(y, f)))


def mae(y: ArrayLike, f: ArrayLike) -> float:
    """Mean absolute error ``mean(|y - f|)``."""
    ya, fa = _check_pair(y, f, y_positive=False)
    return float(_pointwise(ya, fa, "absolute").mean())


def qlike(y: ArrayLike, f: ArrayLike) -> float:
    """QLIKE loss ``mean(y/f - ln(y/f) - 1)`` (Patton 2011, normalized: 0 at ``f = y``).

    Raises
    ------
    DataError
        If any realized value is ``<= 0`` (``ln(0)`` is undefined; a realized variance of
        exactly zero only occurs in degenerate data such as a stale price).
    """
    ya, fa = _check_pair(y, f, y_positive=True, why=" for QLIKE")
    return float(_pointwise(ya, fa, "qlike").mean())


def loss_expr(loss: LossName, y: str = "target", f: str = "forecast") -> pl.Expr:
    """Per-row loss as a polars expression, e.g. the input of :func:`diebold_mariano` or the MCS.

    Parameters
    ----------
    loss
        ``"squared"`` ``(y - f)^2``, ``"absolute"`` ``|y - f|`` or ``"qlike"`` ``y/f - ln(y/f) - 1``.
    y, f
        Column names of the realized variance and the forecast.
    """
    return _pointwise(pl.col(y), pl.col(f), loss).alias(loss)


def vol_metrics(y_vol: ArrayLike, f_vol: ArrayLike) -> dict[str, float]:
    """Accuracy of volatility (sigma, not variance) forecasts: correlation, RMSE, MAE, MAPE.

    ``mape`` is ``mean(|f - y| / y)`` as a fraction (multiply by 100 for percent), so the
    realized volatilities must be positive.
    """
    ya, fa = _check_pair(y_vol, f_vol, y_positive=True, what="volatility", why=" for MAPE")
    return {
        "corr": float(np.corrcoef(ya, fa)[0, 1]) if ya.size > 1 else float("nan"),
        "rmse": float(np.sqrt(_pointwise(ya, fa, "squared").mean())),
        "mae": float(_pointwise(ya, fa, "absolute").mean()),
        "mape": float((_pointwise(ya, fa, "absolute") / ya).mean()),
    }


def mincer_zarnowitz(y: ArrayLike, f: ArrayLike, *, horizon: int = 1, maxlags: int | None = None) -> dict[str, float]:
    """Mincer-Zarnowitz regression ``y = a + b f + e`` with a HAC test of ``a = 0, b = 1``.

    OLS by statsmodels; the covariance is Newey-West (Bartlett kernel, no small-sample
    correction) with ``maxlags`` lags, by default ``horizon - 1`` because targets of
    consecutive origins overlap by h - 1 days (``maxlags = 0`` is White's HC0). The joint
    test is a Wald test, chi-squared with 2 degrees of freedom.

    Returns
    -------
    dict
        ``intercept``, ``slope``, ``r2``, ``wald`` (statistic), ``pvalue`` (of the joint
        test) and ``n``. An unbiased forecast has intercept 0, slope 1 and a large p-value.
    """
    ya, fa = _check_pair(y, f, y_positive=False)
    if int(horizon) < 1:
        raise ParameterError(f"horizon must be a positive integer, got {horizon}")
    lags = int(horizon) - 1 if maxlags is None else int(maxlags)
    if lags < 0:
        raise ParameterError(f"maxlags must be >= 0, got {maxlags}")
    if ya.size < 3 or np.ptp(fa) == 0:
        raise DataError("mincer_zarnowitz needs at least 3 observations and a forecast that varies")
    res = sm.OLS(ya, sm.add_constant(fa)).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False})
    wald = res.wald_test((np.eye(2), np.array([0.0, 1.0])), scalar=True, use_f=False)
    return {
        "intercept": float(res.params[0]),
        "slope": float(res.params[1]),
        "r2": float(res.rsquared),
        "wald": float(wald.statistic),
        "pvalue": float(wald.pvalue),
        "n": int(ya.size),
    }


@dataclass(frozen=True)
class DMResult:
    """Result of :func:`diebold_mariano`.

    Attributes
    ----------
    stat
        HLN-corrected DM statistic; positive when ``loss_a`` is larger on average (b better).
    pvalue
        Two-sided p-value from Student-t with n - 1 degrees of freedom.
    mean_diff
        Mean of ``loss_a - loss_b``.
    kernel
        ``"rectangular"`` (the DM/HLN long-run variance) or ``"bartlett"`` when the
        rectangular estimate was not positive and Newey-West weights were used instead.
    """

    stat: float
    pvalue: float
    mean_diff: float
    kernel: Literal["rectangular", "bartlett"]


def diebold_mariano(loss_a: ArrayLike, loss_b: ArrayLike, h: int = 1) -> DMResult:
    """Diebold-Mariano test of equal accuracy with the Harvey-Leybourne-Newbold correction.

    With ``d_t = loss_a_t - loss_b_t`` (n values, mean ``dbar``) and autocovariances
    ``g_k = (1/n) sum_{t>k} (d_t - dbar)(d_{t-k} - dbar)``, the long-run variance is the
    rectangular sum ``V = g_0 + 2 sum_{k=1}^{h-1} g_k`` of Diebold & Mariano (1995) and
    Harvey, Leybourne & Newbold (1997). If ``V <= 0`` (possible for h > 1) the Bartlett
    (Newey-West) weights ``1 - k/h`` are used instead and ``kernel`` says so. The statistic
    ``dbar / sqrt(V/n)`` is multiplied by ``sqrt((n + 1 - 2h + h(h-1)/n) / n)`` and compared
    with Student-t, n - 1 degrees of freedom, two-sided.

    Parameters
    ----------
    loss_a, loss_b
        Per-period losses of two forecasts of the same targets, aligned in time.
    h
        Forecast horizon; the h-step errors are MA(h-1), hence lags up to h - 1.

    Raises
    ------
    DataError
        If the loss differential is constant (e.g. identical losses): its variance is zero
        and the test is undefined.
    """
    a, b = _as_vector(loss_a, "loss_a"), _as_vector(loss_b, "loss_b")
    if a.size != b.size:
        raise DataError(f"loss_a has {a.size} values but loss_b has {b.size}")
    n, h = a.size, int(h)
    if h < 1 or h >= n:
        raise ParameterError(f"h must be an integer in [1, n - 1] = [1, {n - 1}], got {h}")
    d = a - b
    dbar = d.mean()
    e = d - dbar
    gammas = np.array([e[k:] @ e[: n - k] / n for k in range(h)])
    var = gammas[0] + 2.0 * gammas[1:].sum()
    kernel: Literal["rectangular", "bartlett"] = "rectangular"
    if var <= 0.0:
        kernel = "bartlett"
        var = gammas[0] + 2.0 * ((1.0 - np.arange(1, h) / h) * gammas[1:]).sum()
    if not var > 1e-14 * max(float(np.mean(d**2)), np.finfo(float).tiny):
        raise DataError("loss_a - loss_b is constant (identical losses?): the DM variance is zero")
    dm = dbar / np.sqrt(var / n)
    stat = dm * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return DMResult(float(stat), float(2.0 * stats.t.sf(abs(stat), df=n - 1)), float(dbar), kernel)


#: Relative tolerance of :func:`same_losses`: float32 rounding (XGBoost's margins) stays below it.
SAME_LOSS_RTOL = 1e-6


def same_losses(a: np.ndarray, b: np.ndarray, rtol: float = SAME_LOSS_RTOL) -> bool:
    """Whether two loss series are the same up to rounding: ``max|a - b| <= rtol * max(|a|, |b|)``.

    Two forecasts that differ only in the last digits (a boosted gate with no rounds is the ES
    gate in single precision) have such losses; no test can tell them apart.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), np.finfo(float).tiny)
    return bool(np.max(np.abs(a - b)) <= rtol * scale)


def diebold_mariano_table(
    frame: pl.DataFrame,
    baselines: Sequence[str],
    losses: Sequence[str],
    *,
    h: int = 1,
    model: str = "model",
    date: str = "date",
) -> pl.DataFrame:
    """Diebold-Mariano tests of every model against each baseline, for each loss column.

    Parameters
    ----------
    frame
        Long frame: ``date``, ``model`` and one column of per-period losses per name in
        ``losses`` (e.g. from :func:`loss_expr`); every model on the same dates.
    baselines
        Models every other model is compared with.
    losses
        Loss columns to test.
    h
        Forecast horizon of the losses (HAC lags h - 1).

    Returns
    -------
    polars.DataFrame
        ``baseline``, ``model``, ``loss``, ``mean_diff`` (model's mean loss minus the
        baseline's), ``rel_diff`` (that difference over the baseline's mean loss), ``stat``
        (negative: the model's loss is lower) and ``pvalue`` (two-sided), one row per
        (baseline, model other than it, loss), models in their order of first appearance. A
        model whose losses equal the baseline's (:func:`same_losses`) gets a difference and a
        statistic of 0 and a p-value of 1.
    """
    names = frame[model].unique(maintain_order=True).to_list()
    missing = [b for b in baselines if b not in names]
    if missing:
        raise DataError(f"baselines {missing} are not models of the frame ({', '.join(names)})")
    wide = {loss: frame.pivot(on=model, index=date, values=loss).sort(date) for loss in losses}
    if any(w.null_count().sum_horizontal().item() for w in wide.values()):
        raise DataError("the models' losses are not on the same dates; align them first")
    rows = []
    for base in baselines:
        for m in names:
            if m == base:
                continue
            for loss, w in wide.items():
                if same_losses(w[m].to_numpy(), w[base].to_numpy()):  # the same forecast: nothing to test
                    rows.append({"baseline": base, "model": m, "loss": loss, "mean_diff": 0.0, "rel_diff": 0.0,
                                 "stat": 0.0, "pvalue": 1.0})
                    continue
                res = diebold_mariano(w[m], w[base], h=h)
                rows.append({"baseline": base, "model": m, "loss": loss, "mean_diff": res.mean_diff,
                             "rel_diff": res.mean_diff / float(w[base].mean()), "stat": res.stat,
                             "pvalue": res.pvalue})
    return pl.DataFrame(rows)


def model_confidence_set(
    losses: pl.DataFrame,
    size: float = 0.10,
    reps: int = 1000,
    block_size: int | None = None,
    method: Literal["R", "max"] = "R",
    seed: int = SEED,
) -> pl.DataFrame:
    """Model Confidence Set of Hansen, Lunde & Nason (2011) via :class:`arch.bootstrap.MCS`.

    Parameters
    ----------
    losses
        One column of per-period losses per model, rows aligned in time (no nulls).
    size
        Test size: the set contains the best model with probability ``1 - size``.
    reps, block_size, method
        Passed to arch: bootstrap replications, stationary-bootstrap block length (arch's
        default is sqrt(T)), and the elimination statistic (``"R"`` range or ``"max"``).
    seed
        Seed of the bootstrap; the same seed gives the same p-values.

    Returns
    -------
    polars.DataFrame
        ``model``, ``pvalue`` (MCS p-value) and ``included`` (``pvalue > size``), one row
        per column of ``losses``, in its order. Columns with the same losses
        (:func:`same_losses`) are tested once and share the result.
    """
    if losses.width < 2:
        raise DataError(f"losses needs at least 2 model columns, got {losses.columns}")
    non_numeric = [c for c, t in losses.schema.items() if not t.is_numeric()]
    if non_numeric:
        raise DataError(f"losses must hold only numeric loss columns, found {non_numeric}")
    if losses.height < 10:
        raise DataError(f"losses has {losses.height} rows; the MCS bootstrap needs at least 10")
    x = losses.cast(pl.Float64).to_numpy()
    if not np.isfinite(x).all():
        raise DataError("losses has null or non-finite values; align the models on common dates first")
    if not 0.0 < size < 1.0:
        raise ParameterError(f"size must be in (0, 1), got {size}")
    # Models with the same losses (to SAME_LOSS_RTOL) cannot be told apart and would make the
    # bootstrap statistics 0/0: test one of each group; the others share its result.
    names = losses.columns
    distinct: list[str] = []
    twin: dict[str, str] = {}  # each model -> the tested model whose losses it has
    for j, name in enumerate(names):
        twin[name] = next((d for d in distinct if same_losses(x[:, names.index(d)], x[:, j])), name)
        if twin[name] == name:
            distinct.append(name)
    if len(distinct) == 1:
        pvals, included = {distinct[0]: 1.0}, {distinct[0]}
    else:
        mcs = MCS(losses.select(distinct).to_pandas(), size=size, reps=int(reps), block_size=block_size,
                  method=method, seed=int(seed))
        mcs.compute()
        pvals, included = mcs.pvalues["Pvalue"], set(mcs.included)
    return pl.DataFrame(
        {
            "model": names,
            "pvalue": [float(pvals[twin[m]]) for m in names],
            "included": [twin[m] in included for m in names],
        }
    )


def loss_table(
    frame: pl.DataFrame,
    *,
    y: str = "target",
    f: str = "forecast",
    by: Sequence[str] = ("model", "horizon"),
) -> pl.DataFrame:
    """Leaderboard: n, MSE, RMSE, MAE and QLIKE per group, and a QLIKE rank.

    Parameters
    ----------
    frame
        Forecasts joined with their targets (e.g. on ``date``, ``horizon``), no nulls. The
        result does not depend on the order of its rows.
    y, f
        Realized-variance and forecast columns.
    by
        Grouping columns. ``rank`` (1 = lowest QLIKE, ties share the lower rank) orders the
        groups of the first column within each combination of the others: with the default,
        models within each horizon.

    Returns
    -------
    polars.DataFrame
        ``*by, n, mse, rmse, mae, qlike, rank`` sorted by ``by[1:]``, then ``rank``, then ``by[0]``.
    """
    keys = list(by)
    missing = [c for c in [*keys, y, f] if c not in frame.columns]
    if not keys or missing:
        raise DataError(f"loss_table: frame lacks columns {missing or 'in by'} (has {frame.columns})")
    _check_pair(frame[y], frame[f], y_positive=True, why=" for QLIKE",
                names=(f"column {y!r}", f"column {f!r}"))
    yc, fc = pl.col(y), pl.col(f)
    within = keys[1:]
    rank = pl.col("qlike").rank("min")
    # canonical row order first, so that floating-point sums do not depend on the input order
    table = frame.sort([*keys, y, f]).group_by(keys).agg(
        n=pl.len().cast(pl.Int64),
        mse=_pointwise(yc, fc, "squared").mean(),
        mae=_pointwise(yc, fc, "absolute").mean(),
        qlike=_pointwise(yc, fc, "qlike").mean(),
    )
    return (
        table.with_columns(
            rmse=pl.col("mse").sqrt(),
            rank=(rank.over(within) if within else rank).cast(pl.Int64),
        )
        .select(*keys, "n", "mse", "rmse", "mae", "qlike", "rank")
        .sort([*within, "rank", keys[0]])
    )
