"""GARCH(1,1), GJR-GARCH(1,1,1) and Student-t GARCH, estimated with ``arch``.

The conditional variance of a zero-mean return is::

    s2_{t+1} = omega + (alpha + gamma * 1[r_t < 0]) * r_t^2 + beta * s2_t

(gamma = 0 for GARCH). ``arch`` fits it by maximum likelihood (normal or standardized
Student-t innovations) on the training window; returns are scaled by 100 for the optimizer,
so ``omega`` is reported in percent-squared units. After the fit the filter is carried forward
with fixed parameters, one return at a time, which is how a model re-estimated every k days
forecasts in between (arch's ``fix`` does the same; ``tests/test_models.py`` checks the two
agree). The h-step variance sum uses the persistence p = alpha + gamma/2 + beta (innovations are
symmetric): ``v_1 = s2_{t+1}``, ``v_k = omega + p * v_{k-1}``, forecast = v_1 + ... + v_h — the
sum of arch's ``forecast(horizon=h).variance`` row.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from arch.univariate import GARCH as _ArchGARCH
from arch.univariate import Normal, StudentsT, ZeroMean
from scipy.signal import lfilter

from volbook.errors import ParameterError
from volbook.models.base import Fitted, Forecaster, History, HistoryLike, check_history, register

__all__ = ["GARCH"]

_SCALE = 100.0
#: A fit with alpha, gamma or beta below this is on the boundary of the parameter space,
#: where the likelihood is often flat or has a second mode: such fits get a second opinion.
_BOUNDARY = 1e-4


class _SeededGARCH(_ArchGARCH):
    """arch's GARCH volatility process whose starting values can be handed in.

    ``arch`` searches a grid for starting values on every ``fit``, even when
    ``fit(starting_values=...)`` then discards them; that search is a fifth of a warm-started
    fit's time. With ``seed`` set, the grid is skipped and ``seed`` is used instead.
    """

    seed: np.ndarray | None = None

    def starting_values(self, resids: np.ndarray) -> np.ndarray:
        return super().starting_values(resids) if self.seed is None else self.seed.copy()


def _on_boundary(params: dict[str, float]) -> bool:
    return min(params[k] for k in ("alpha", "gamma", "beta") if k in params) < _BOUNDARY


def _interior(params: dict[str, float]) -> np.ndarray:
    """A previous fit as starting values, nudged off the constraint boundary arch rejects."""
    p = dict(params)
    eps = 1e-6
    p["omega"] = max(p["omega"], eps)
    for k in ("alpha", "gamma", "beta"):
        if k in p:
            p[k] = max(p[k], eps)
    excess = p["alpha"] + 0.5 * p.get("gamma", 0.0) + p["beta"] - (1.0 - 1e-4)
    if excess > 0:
        p["beta"] -= excess
    if "nu" in p:
        p["nu"] = min(max(p["nu"], 2.1), 400.0)
    return np.array(list(p.values()))


class _GarchFit(Fitted):
    def __init__(self, params: dict[str, float], s2_next: float, converged: bool) -> None:
        self.params = params
        self.s2_next = s2_next  # in percent^2
        self.converged = converged

    @property
    def persistence(self) -> float:
        p = self.params
        return p["alpha"] + 0.5 * p.get("gamma", 0.0) + p["beta"]

    def one_step(self, new: History) -> np.ndarray:
        p = self.params
        x = _SCALE * new["ret"]
        shock = p["omega"] + (p["alpha"] + p.get("gamma", 0.0) * (x < 0)) * x**2
        later, _ = lfilter([1.0], [1.0, -p["beta"]], shock, zi=[p["beta"] * self.s2_next])
        return np.concatenate([[self.s2_next], later]) / _SCALE**2

    def multi_step(self, s2_next: np.ndarray, horizons: np.ndarray) -> np.ndarray:
        omega = self.params["omega"] / _SCALE**2
        p = self.persistence
        v = s2_next.copy()
        total = np.zeros_like(v)
        sums = np.empty((v.size, horizons.size))
        for k in range(1, int(horizons.max()) + 1):
            total += v
            sums[:, horizons == k] = total[:, None]
            v = omega + p * v
        return sums


class GARCH(Forecaster):
    """GARCH(1,1) family with zero mean, via ``arch``.

    Parameters
    ----------
    o
        1 adds the GJR asymmetry term (gamma), 0 does not.
    dist
        ``"normal"`` or ``"t"`` (standardized Student-t, estimating ``nu``).
    tol
        Optimizer tolerance passed to ``arch``'s ``fit``. The default, 1e-12, makes the
        estimates independent of the starting values (the previous refit's, or arch's) to
        about 1e-6 relative: at 1e-8, another warm-start chain (``walk_forward``'s
        ``chunk_size``) moved GJR-GARCH forecasts by up to 1.7e-5 relative, enough to change
        a rounded number a chapter shows, for about 10% less CPU time.
    """

    def __init__(
        self,
        *,
        o: Literal[0, 1] = 0,
        dist: Literal["normal", "t"] = "normal",
        tol: float = 1e-12,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        if o not in (0, 1):
            raise ParameterError(f"GARCH asymmetry order o must be 0 or 1, got {o}")
        if dist not in ("normal", "t"):
            raise ParameterError(f"GARCH dist must be 'normal' or 't', got {dist!r}")
        self.o, self.dist, self.tol, self.min_obs = o, dist, float(tol), int(min_obs)
        default = {(0, "normal"): "garch", (1, "normal"): "gjr_garch", (0, "t"): "t_garch"}
        self.name = name or default.get((o, dist), "gjr_t_garch")

    def _names(self) -> list[str]:
        return ["omega", "alpha"] + (["gamma"] if self.o else []) + ["beta"] + (["nu"] if self.dist == "t" else [])

    def fit(self, history: HistoryLike, *, start: Fitted | None = None) -> _GarchFit:
        x = _SCALE * check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)["ret"]
        volatility = _SeededGARCH(p=1, o=self.o, q=1)
        model = ZeroMean(x, volatility=volatility, distribution=StudentsT() if self.dist == "t" else Normal(),
                         rescale=False)
        names = self._names()
        options = dict(disp="off", show_warning=False, tol=self.tol, options={"maxiter": 1000})
        if isinstance(start, _GarchFit) and list(start.params) == names:
            warm = _interior(start.params)
            volatility.seed = warm[: len(names) - (self.dist == "t")]
            res = model.fit(starting_values=warm, **options)
            volatility.seed = None
            warm_params = dict(zip(names, res.params.values))
            # A failed fit, or one on (or from) the boundary, where the likelihood can have two
            # modes (alpha = 0 and alpha > 0): fit again from arch's own starting values, the
            # cold start, and keep the better likelihood.
            if res.convergence_flag != 0 or _on_boundary(start.params) or _on_boundary(warm_params):
                cold = model.fit(**options)
                if res.convergence_flag != 0 or (cold.convergence_flag == 0 and cold.loglikelihood > res.loglikelihood):
                    res = cold
        else:
            res = model.fit(**options)
        params = dict(zip(names, (float(v) for v in res.params.values)))
        s2_last = float(np.asarray(res.conditional_volatility)[-1] ** 2)
        r_last = x[-1]
        s2_next = (
            params["omega"]
            + (params["alpha"] + params.get("gamma", 0.0) * (r_last < 0)) * r_last**2
            + params["beta"] * s2_last
        )
        return _GarchFit(params, float(s2_next), res.convergence_flag == 0)


register("garch")(lambda: GARCH())
register("gjr_garch")(lambda: GARCH(o=1))
register("t_garch")(lambda: GARCH(dist="t"))
