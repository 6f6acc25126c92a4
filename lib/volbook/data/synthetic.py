"""A seeded panel of GJR-GARCH(1,1) assets whose true parameters and variances are known.

Model, for asset i on business day t (zero mean, normal shocks)::

    r_it      = sigma_it * z_it
    sigma2_it = omega_i + (alpha_i + gamma_i * 1[r_i,t-1 < 0]) * r_i,t-1^2 + beta_i * sigma2_i,t-1
    z_it      = sqrt(rho) * f_t + sqrt(1 - rho) * e_it,   f_t, e_it iid N(0, 1)

so each asset is exactly a GJR-GARCH(1,1) with N(0, 1) innovations (``z_it`` is standard
normal) and the shocks share a market factor with correlation ``rho`` across assets.

Cross-section
    * **Sectors.** Asset i belongs to ``list(SECTOR_VOLS)[i % 5]``; each sector has its own
      unconditional annualized volatility (:data:`SECTOR_VOLS`).
    * **Size.** ``log_market_cap_i ~ N(ln 1e10, 1)``; the unconditional volatility is the
      sector's times ``exp(-SIZE_ELASTICITY * (log_market_cap_i - ln 1e10))``: smaller firms
      are more volatile.
    * **Dynamics.** ``alpha_i ~ U(0.02, 0.05)``, ``gamma_i ~ U(0.04, 0.10)`` (leverage effect:
      negative returns raise next day's variance more), persistence
      ``alpha_i + gamma_i / 2 + beta_i ~ U(0.965, 0.985)``; ``omega_i`` sets the unconditional
      variance. These keep the fourth moment finite.

Prices start at 100 on the first date; ``market_cap`` moves with the price (a constant
share count), starting from ``exp(log_market_cap_i)``. The recursion runs 250 burn-in days
from the unconditional variance before the first date, so the panel starts in the
stationary regime. Dates are business days (Monday to Friday, no holidays).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from volbook.errors import ParameterError
from volbook.timing import TRADING_DAYS

__all__ = ["SECTOR_VOLS", "SIZE_ELASTICITY", "SyntheticPanel", "SyntheticTruth", "simulate_panel"]

#: Unconditional annualized volatility of each simulated sector, lowest to highest.
SECTOR_VOLS: dict[str, float] = {
    "Utilities": 0.16,
    "Consumer Staples": 0.20,
    "Financials": 0.26,
    "Information Technology": 0.32,
    "Energy": 0.40,
}

#: Elasticity of the unconditional volatility to market capitalization (vol ~ cap^-0.15).
SIZE_ELASTICITY = 0.15

_LOG_CAP_MEAN = np.log(1e10)
_BURN_IN = 250


@dataclass(frozen=True)
class SyntheticTruth:
    """What generated a :class:`SyntheticPanel`.

    Attributes
    ----------
    params
        One row per asset: ``asset``, ``sector``, ``log_market_cap``, ``omega``, ``alpha``,
        ``gamma``, ``beta``, ``persistence`` (alpha + gamma/2 + beta) and
        ``unconditional_variance`` (daily, ``omega / (1 - persistence)``).
    variance
        ``date``, ``asset``, ``sigma2``: the true conditional variance of the return
        ``r_t = ln(P_t / P_{t-1})`` dated t, known at the close of t-1. One row per
        panel row except each asset's first date (which has no return).
    """

    params: pl.DataFrame
    variance: pl.DataFrame


@dataclass(frozen=True)
class SyntheticPanel:
    """A simulated panel (:mod:`volbook.data.schema` layout) and the truth behind it."""

    panel: pl.DataFrame
    truth: SyntheticTruth


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def simulate_panel(
    n_assets: int = 20,
    n_days: int = 2520,
    seed: int = 0,
    *,
    first_date: str | dt.date = "2000-01-03",
    correlation: float = 0.3,
) -> SyntheticPanel:
    """Simulate a panel of GJR-GARCH(1,1) assets with sector and size effects.

    Parameters
    ----------
    n_assets
        Number of assets, named ``S001``, ``S002``, ... (zero-padded to sort by number).
    n_days
        Price rows per asset (so ``n_days - 1`` returns); at least 2.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same panel.
    first_date
        First date (rolled forward to a business day if it is a weekend).
    correlation
        Correlation ``rho`` of the shocks of any two assets, in [0, 1).

    Returns
    -------
    SyntheticPanel
        ``.panel``: ``date``, ``asset``, ``close``, ``market_cap``, ``sector``;
        ``.truth``: parameters and true conditional variances (:class:`SyntheticTruth`).
    """
    n_assets = _check_int(n_assets, "n_assets", 1)
    n_days = _check_int(n_days, "n_days", 2)
    seed = _check_int(seed, "seed", 0)
    if not 0.0 <= float(correlation) < 1.0:
        raise ParameterError(f"correlation must be in [0, 1), got {correlation!r}")
    try:
        start = np.datetime64(first_date, "D")
    except ValueError as exc:
        raise ParameterError(f"first_date: {first_date!r} is not a date (YYYY-MM-DD)") from exc

    rng = np.random.default_rng(seed)
    names = list(SECTOR_VOLS)
    sector_idx = np.arange(n_assets) % len(names)
    log_cap = _LOG_CAP_MEAN + rng.standard_normal(n_assets)
    annual_vol = np.array([SECTOR_VOLS[s] for s in names])[sector_idx] * np.exp(
        -SIZE_ELASTICITY * (log_cap - _LOG_CAP_MEAN)
    )
    uncond = annual_vol**2 / TRADING_DAYS
    alpha = rng.uniform(0.02, 0.05, n_assets)
    gamma = rng.uniform(0.04, 0.10, n_assets)
    persistence = rng.uniform(0.965, 0.985, n_assets)
    beta = persistence - alpha - gamma / 2
    omega = uncond * (1 - persistence)

    n_steps = _BURN_IN + n_days - 1
    common = rng.standard_normal((n_steps, 1))
    shocks = rng.standard_normal((n_steps, n_assets))  # becomes the returns, in place
    shocks *= np.sqrt(1 - correlation)
    shocks += np.sqrt(correlation) * common
    returns = shocks
    sigma2 = np.empty((n_days - 1, n_assets))
    s2 = uncond.copy()
    for t in range(n_steps):
        if t >= _BURN_IN:
            sigma2[t - _BURN_IN] = s2
        r = returns[t]
        r *= np.sqrt(s2)
        s2 = omega + (alpha + gamma * (r < 0)) * r * r + beta * s2

    # asset-major (n_assets, n_days) arrays, so that each column of the panel is one ravel
    log_price = np.zeros((n_assets, n_days))
    np.cumsum(returns[_BURN_IN:].T, axis=1, out=log_price[:, 1:])
    del returns, shocks
    dates = np.busday_offset(start, np.arange(n_days), roll="forward").astype("datetime64[D]")
    width = max(3, len(str(n_assets)))
    assets = pl.Series("asset", [f"S{i + 1:0{width}d}" for i in range(n_assets)])
    sectors = pl.Series("sector", names).gather(sector_idx)
    rows = pl.Series(np.repeat(np.arange(n_assets, dtype=np.int32), n_days))
    close = np.exp(log_price)
    close *= 100.0
    log_price += log_cap[:, None]
    np.exp(log_price, out=log_price)  # the market cap
    panel = pl.DataFrame(
        {
            "date": np.tile(dates, n_assets),
            "asset": assets.gather(rows),
            "close": close.ravel(),
            "market_cap": log_price.ravel(),
            "sector": sectors.gather(rows),
        }
    )
    del close, log_price, rows
    params = pl.DataFrame(
        {
            "asset": assets,
            "sector": sectors,
            "log_market_cap": log_cap,
            "omega": omega,
            "alpha": alpha,
            "gamma": gamma,
            "beta": beta,
            "persistence": persistence,
            "unconditional_variance": uncond,
        }
    )
    variance = pl.DataFrame(
        {
            "date": np.tile(dates[1:], n_assets),
            "asset": assets.gather(pl.Series(np.repeat(np.arange(n_assets, dtype=np.int32), n_days - 1))),
            "sigma2": sigma2.T.ravel(),
        }
    )
    # built sorted by (asset, date) with the schema's dtypes: validate_panel would only copy it
    return SyntheticPanel(panel=panel, truth=SyntheticTruth(params=params, variance=variance))
