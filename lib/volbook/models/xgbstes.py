"""XGBSTES: the STES gate logit learned by XGBoost, end to end through the variance recursion.

The forecast is the STES recursion (:mod:`volbook.models.recursion`)::

    v_{s+1} = alpha_s p_s + (1 - alpha_s) v_s,     alpha_s = logistic(z_s),

but the logit ``z_s`` is the margin of an XGBoost model of the standardized gate features of
row s (:class:`~volbook.models.gate.GateScaler`, training rows only). Boosting minimizes the
loss of the *forecasts* ``sum_s l(v_{s+1}, y_s)``, ``y_s = p_{s+1}``: at each round a custom
objective runs the recursion forward and one adjoint pass backward
(:func:`~volbook.models.recursion.stes_adjoint`) to get the exact gradient of that loss with
respect to every margin, and a diagonal Gauss-Newton Hessian.

Losses (``e = dl/df``, ``w`` the curvature weight handed to the Gauss-Newton Hessian):

* ``"mse"``: l = (f - y)^2 / 2, e = f - y, w = 1;
* ``"qlike"``: l = y/f - ln(y/f) - 1 (Patton 2011), e = (f - y) / f^2, w = 1 / f^2 (the
  expected second derivative, positive, where the observed one (2y - f)/f^3 need not be).
  Early stopping and cross-validation score QLIKE as ``mean(ln f + y/f)``, which ranks
  forecasts the same way and stays finite on days with a zero return.

Choices, all stated:

* returns are scaled by 100 inside (variances in percent^2, O(1)), so gradients, Hessians,
  ``min_child_weight`` and the penalties act on O(1) numbers; forecasts come back in decimal
  units;
* boosting starts from the best constant gate: ``base_score`` = logit of the ES ``alpha``
  fitted on the same rows;
* ``booster="gblinear"`` (a boosted *linear* logit, coordinate descent) is the published
  model; ``booster="gbtree"`` (depth-limited trees, ``tree_method="hist"``) is a variant and is
  named ``xgbstes_tree``. gblinear ignores the tree parameters of the published grid
  (``max_depth``, ``min_child_weight``), so for it the grid varies only the learning rate
  and ``reg_lambda``; XGBoost multiplies gblinear's ``reg_lambda`` by the number of training
  rows (``DenormalizePenalties`` in its ``src/linear/param.h``);
* early stopping: the last ``valid_frac`` of the training rows form a validation block; the
  booster trains on the rows before it while the recursion runs on through the block with
  the current model. The round kept is the fewest rounds whose validation loss lies within
  :data:`~volbook.models.gate.SCORE_RTOL` (1e-6, relative) of the lowest so far
  (:func:`~volbook.models.gate.choose_best`; late rounds of a flat loss curve differ by
  less than a float's noise), and boosting stops ``patience`` rounds after it. With ``refit_full=True`` the model is then re-trained on all training rows for
  the best number of rounds (the study kept the model trained without the block);
* ``cv=True``: every candidate of ``grid`` (dicts of XGBoost parameters overriding
  ``params``) is scored by ``cv_folds``-fold expanding time-series cross-validation
  (:func:`~volbook.models.gate.time_series_folds`): fitted on the fold's training rows (own
  standardization, own ES start, early stopping inside), scored by the loss on the next
  block with the recursion running on from the first row. The lowest mean loss wins; losses
  within 1e-6 relative of it count as tied and the first of those candidates wins; the final model uses exactly that candidate (the study overwrote
  tuned values in one version);
* XGBoost parameter aliases (``eta``, ``lambda``, ``alpha``, ...) are renamed to one
  canonical name each, and a parameter given under two names is an error (the study's dict
  had both ``eta`` and ``learning_rate``);
* deterministic: ``nthread=1`` and ``seed``.

The published settings are :data:`PUBLISHED_PARAMS`, :data:`PUBLISHED_ROUNDS`,
:data:`PUBLISHED_GRID` (baseline gates) and :data:`PUBLISHED_GRID_LAMBDA` (gates with
extra features, adding ``reg_lambda``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xgboost as xgb
from scipy.special import expit, logit

from volbook.errors import ParameterError
from volbook.features import EAESE, SEASONAL, GateFamily
from volbook.models.base import Fitted, Forecaster, register
from volbook.models.gate import GatedFit, GateScaler, GateSpec, choose_best, initial_variance, time_series_folds
from volbook.models.recursion import stes_adjoint, stes_filter
from volbook.models.stes import _training_sample, fit_es_alpha

__all__ = [
    "PUBLISHED_GRID",
    "PUBLISHED_GRID_LAMBDA",
    "PUBLISHED_PARAMS",
    "PUBLISHED_ROUNDS",
    "XGBSTES",
    "XGBGateFit",
    "boost_gate",
    "canonical_params",
    "loss_derivatives",
    "loss_value",
    "RecursionObjective",
]

Loss = Literal["mse", "qlike"]
_LOSSES = ("mse", "qlike")
#: Returns are multiplied by this inside, variances by its square.
SCALE = 100.0

#: The study's XGBoost parameters (one name per parameter).
PUBLISHED_PARAMS: dict[str, Any] = {
    "booster": "gblinear",
    "updater": "coord_descent",
    "max_depth": 5,
    "learning_rate": 0.01,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
    "reg_alpha": 0.0,
}
#: The study's number of boosting rounds (an upper bound here: early stopping may end sooner).
PUBLISHED_ROUNDS = 200
#: The study's cross-validation grid for the baseline (EAESE) gate.
PUBLISHED_GRID: tuple[dict[str, float], ...] = (
    {"min_child_weight": 5.0, "learning_rate": 0.05, "max_depth": 3},
    {"min_child_weight": 20.0, "learning_rate": 0.1, "max_depth": 3},
    {"min_child_weight": 50.0, "learning_rate": 0.05, "max_depth": 2},
)
#: The study's grid for gates with HAR, calendar or event features: the above x reg_lambda.
PUBLISHED_GRID_LAMBDA: tuple[dict[str, float], ...] = tuple(
    {**g, "reg_lambda": lam} for g in PUBLISHED_GRID for lam in (0.1, 1.0, 5.0, 10.0)
)
_TREE_DEFAULTS = {"booster": "gbtree", "tree_method": "hist", "max_depth": 2, "learning_rate": 0.05,
                  "min_child_weight": 5.0, "reg_lambda": 1.0, "subsample": 1.0, "colsample_bytree": 1.0}
#: Tuning parameters reported in ``Fitted.params``.
_REPORTED = ("learning_rate", "reg_lambda", "reg_alpha", "max_depth", "min_child_weight")
_ALIASES = {"eta": "learning_rate", "lambda": "reg_lambda", "alpha": "reg_alpha", "gamma": "min_split_loss",
            "random_state": "seed", "n_jobs": "nthread"}


def canonical_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """XGBoost parameters with each alias renamed to its canonical name; duplicates are an error."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = _ALIASES.get(key, key)
        if name in out:
            raise ParameterError(f"XGBoost parameter {name!r} is given twice (as {key!r} and an alias): keep one")
        out[name] = value
    return out


def loss_derivatives(f: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """``(dl/df, w)`` per row: the loss gradient and its Gauss-Newton curvature weight."""
    if loss == "mse":
        return f - y, np.ones_like(f)
    inv = 1.0 / (f * f)
    return (f - y) * inv, inv


def loss_value(f: np.ndarray, y: np.ndarray, loss: Loss) -> float:
    """Mean loss used for early stopping and cross-validation (QLIKE as ``ln f + y/f``)."""
    if loss == "mse":
        return float(np.mean((f - y) ** 2))
    return float(np.mean(np.log(f) + y / f))


class RecursionObjective:
    """XGBoost custom objective: margins -> recursion -> loss -> adjoint gradient and Hessian.

    Called as ``objective(margins, dtrain)`` with one margin per training row; ``p`` and ``y``
    hold the proxies and targets (``y_s = p_{s+1}``) of those rows, ``v0`` the starting
    variance. With ``valid`` (a DMatrix of the rows that follow) and ``booster`` set, each call
    also runs the recursion on through those rows with the booster's current gate and appends
    their loss (:func:`loss_value`) to ``scores``: ``scores[k]`` is the validation loss after
    ``k`` rounds. ``p`` and ``y`` then cover the validation rows too.
    """

    def __init__(self, p: np.ndarray, y: np.ndarray, v0: float, loss: Loss, valid: xgb.DMatrix | None = None) -> None:
        self.p, self.y, self.v0, self.loss, self.valid = p, y, v0, loss, valid
        self.booster: xgb.Booster | None = None
        self.scores: list[float] = []

    def __call__(self, margins: np.ndarray, dtrain: Any = None) -> tuple[np.ndarray, np.ndarray]:
        n = margins.size
        z = np.asarray(margins, dtype=float)
        if self.valid is not None:
            z = np.concatenate([z, self.booster.predict(self.valid, output_margin=True).astype(float)])
        alpha = expit(z)
        v = stes_filter(self.p[: z.size], alpha, self.v0)
        if self.valid is not None:
            self.scores.append(loss_value(v[n + 1 :], self.y[n : z.size], self.loss))
        e, w = loss_derivatives(v[1 : n + 1], self.y[:n], self.loss)
        return stes_adjoint(self.p[:n], alpha[:n], v[: n + 1], e, w)


def _null_objective(margins: np.ndarray, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros_like(margins), np.ones_like(margins)


def _dmatrix(Z: np.ndarray) -> xgb.DMatrix:
    return xgb.DMatrix(Z, nthread=1)


def _train(objective: RecursionObjective, Z: np.ndarray, params: dict, rounds: int, patience: int = 0) -> xgb.Booster:
    """Boost up to ``rounds`` rounds on the rows of Z; stop ``patience`` rounds after the best score."""
    dtrain = _dmatrix(Z)
    booster = xgb.Booster(params, [dtrain])
    objective.booster = booster
    # A null round (zero gradient) sets the booster up without moving any margin off base_score,
    # so a model with 0 rounds (the ES gate) exists and can be scored.
    booster.update(dtrain, 0, fobj=_null_objective)
    for i in range(rounds):
        booster.update(dtrain, i + 1, fobj=objective)
        if patience and i - choose_best(objective.scores) >= patience:
            break
    return booster


def boost_gate(
    Z: np.ndarray,
    p: np.ndarray,
    y: np.ndarray,
    v0: float,
    *,
    params: dict,
    loss: Loss,
    rounds: int,
    valid_frac: float,
    patience: int,
    refit_full: bool,
) -> tuple[xgb.Booster, int]:
    """Boost the gate on rows 0..m-1 (``Z`` standardized features, scaled ``p``, ``y``).

    Early stopping on the trailing ``valid_frac`` block (see the module docstring); returns
    the final booster and its number of rounds.
    """
    m = Z.shape[0]
    n_valid = int(np.floor(valid_frac * m))
    if n_valid < 1 or patience < 1:
        return _train(RecursionObjective(p[:m], y[:m], v0, loss), Z, params, rounds), rounds
    cut = m - n_valid
    watch = RecursionObjective(p[:m], y[:m], v0, loss, valid=_dmatrix(Z[cut:]))
    booster = _train(watch, Z[:cut], params, rounds, patience)
    if len(watch.scores) == rounds:  # ran to the end: score the last round too
        watch(booster.predict(_dmatrix(Z[:cut]), output_margin=True))
    best = choose_best(watch.scores)
    rows = m if refit_full else cut
    return _train(RecursionObjective(p[:rows], y[:rows], v0, loss), Z[:rows], params, best), best


class XGBGateFit(GatedFit):
    """A fitted XGBSTES: the gate logit is the booster's margin."""

    def __init__(self, spec: GateSpec, scaler: GateScaler, booster: xgb.Booster, v0: float, ret, proxy, dates,
                 params: dict[str, float]) -> None:
        self.booster = booster
        super().__init__(spec, scaler, v0, ret, proxy, dates, params)

    def logits(self, Z: np.ndarray) -> np.ndarray:
        return self.booster.predict(_dmatrix(Z), output_margin=True).astype(float)

    def contributions(self, Z: np.ndarray) -> np.ndarray:
        return self.booster.predict(_dmatrix(Z), pred_contribs=True).astype(float)


class XGBSTES(Forecaster):
    """STES with an XGBoost gate trained end to end through the recursion (module docstring).

    Parameters
    ----------
    gate
        Gate feature families (:mod:`volbook.features`); Taylor's ``EAESE`` by default.
    proxy
        ``"ret2"`` (squared returns) or a realized-measure column to smooth and forecast.
    loss
        ``"mse"`` (as published) or ``"qlike"``.
    booster
        ``"gblinear"`` (as published) or ``"gbtree"`` (a labelled variant).
    params
        XGBoost parameters; defaults to :data:`PUBLISHED_PARAMS` for gblinear and to
        depth-2 hist trees for gbtree. ``nthread`` and ``seed`` are always set.
    rounds
        Most boosting rounds (:data:`PUBLISHED_ROUNDS`).
    cv, grid, cv_folds
        Cross-validate the candidates of ``grid``; by default the published grids,
        :data:`PUBLISHED_GRID` for the EAESE gate and :data:`PUBLISHED_GRID_LAMBDA` for others.
    valid_frac, patience, refit_full
        Early stopping on the trailing block (see the module docstring).
    seed, init_obs, min_obs
        XGBoost seed; rows averaged for ``v_0``; fewest rows ``fit`` accepts.
    """

    def __init__(
        self,
        gate: Sequence[GateFamily] = EAESE,
        *,
        proxy: str = "ret2",
        loss: Loss = "mse",
        booster: Literal["gblinear", "gbtree"] = "gblinear",
        params: Mapping[str, Any] | None = None,
        rounds: int = PUBLISHED_ROUNDS,
        cv: bool = False,
        grid: Sequence[Mapping[str, Any]] | None = None,
        cv_folds: int = 3,
        valid_frac: float = 0.1,
        patience: int = 10,
        refit_full: bool = True,
        seed: int = 0,
        init_obs: int = 20,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        self.spec = GateSpec(tuple(gate), proxy)
        if not self.spec.families:
            raise ParameterError("XGBSTES needs at least one gate feature family")
        if loss not in _LOSSES:
            raise ParameterError(f"loss must be one of {', '.join(_LOSSES)}, got {loss!r}")
        if booster not in ("gblinear", "gbtree"):
            raise ParameterError(f"booster must be 'gblinear' or 'gbtree', got {booster!r}")
        if not 0.0 <= float(valid_frac) < 0.5:
            raise ParameterError(f"valid_frac must lie in [0, 0.5), got {valid_frac}")
        if int(rounds) < 1:
            raise ParameterError(f"rounds must be at least 1, got {rounds}")
        base = canonical_params(PUBLISHED_PARAMS if booster == "gblinear" else _TREE_DEFAULTS)
        base.update(canonical_params(params or {}))
        if base.get("booster", booster) != booster:
            raise ParameterError(f"params say booster={base['booster']!r} but booster={booster!r}")
        base.update({"booster": booster, "nthread": 1, "seed": int(seed), "verbosity": 0})
        self.xgb_params = base
        if grid is None:  # as published: the small grid for the EAESE gate, x reg_lambda for richer gates
            grid = PUBLISHED_GRID if self.spec.families == EAESE else PUBLISHED_GRID_LAMBDA
        self.grid = tuple(canonical_params(g) for g in grid) if cv else ()
        if cv and not self.grid:
            raise ParameterError("cv=True needs a non-empty grid")
        self.inputs = self.spec.inputs
        self.loss, self.booster, self.rounds, self.cv, self.cv_folds = loss, booster, int(rounds), bool(cv), int(cv_folds)
        self.valid_frac, self.patience, self.refit_full = float(valid_frac), int(patience), bool(refit_full)
        self.init_obs, self.min_obs = int(init_obs), int(min_obs)
        variant = ("_tree" if booster == "gbtree" else "") + ("_qlike" if loss == "qlike" else "")
        self.name = name or self.spec.model_name(f"xgbstes{variant}")

    def _prepare(self, X: np.ndarray, names, p: np.ndarray, y: np.ndarray, v0: float, m: int):
        """Training rows < m: the scaler fitted on them, standardized features of every row, ES logit."""
        scaler = GateScaler.fit(X[:m], names)
        return scaler, scaler.transform(X), float(logit(fit_es_alpha(p, np.arange(m), y[:m], v0)))

    def _boost(self, Z: np.ndarray, p: np.ndarray, y: np.ndarray, v0: float, m: int, params: dict, start: float):
        """Boost on rows < m from the gate logit ``start``: ``(booster, rounds)``."""
        return boost_gate(Z[:m], p, y[:m], v0, params=params | {"base_score": start}, loss=self.loss,
                          rounds=self.rounds, valid_frac=self.valid_frac, patience=self.patience,
                          refit_full=self.refit_full)

    def select(self, X: np.ndarray, names, p: np.ndarray, y: np.ndarray, v0: float) -> tuple[dict, np.ndarray]:
        """Cross-validate the grid on training rows 0..len(y)-1: the winner and the (grid x fold) losses."""
        scores = np.zeros((len(self.grid), self.cv_folds))
        for f, (train_end, valid_end) in enumerate(time_series_folds(y.size, self.cv_folds)):
            _, Z, start = self._prepare(X, names, p, y, v0, train_end)
            for g, candidate in enumerate(self.grid):
                booster, _ = self._boost(Z, p, y, v0, train_end, self.xgb_params | candidate, start)
                margins = booster.predict(_dmatrix(Z[:valid_end]), output_margin=True).astype(float)
                v = stes_filter(p[:valid_end], expit(margins), v0)
                scores[g, f] = loss_value(v[train_end + 1 :], y[train_end:valid_end], self.loss)
        return dict(self.grid[choose_best(scores.mean(axis=1))]), scores

    def fit(self, history, *, start: Fitted | None = None) -> XGBGateFit:
        ret, proxy, dates, rows, y = _training_sample(self, self.spec, history)
        if not np.array_equal(rows, np.arange(rows.size)):
            raise ParameterError(f"{self.name}: training rows must be the first rows of the window")
        p, y_s = proxy * SCALE**2, y * SCALE**2
        v0 = initial_variance(p, self.init_obs)
        X, names = self.spec.features(ret, proxy, dates)
        params = dict(self.xgb_params)
        if self.cv:
            params |= self.select(X, names, p, y_s, v0)[0]
        scaler, Z, start_logit = self._prepare(X, names, p, y_s, v0, y_s.size)
        booster, rounds = self._boost(Z, p, y_s, v0, y_s.size, params, start_logit)
        summary = {k: float(v) for k, v in params.items() if k in _REPORTED}
        summary["rounds"] = float(rounds)
        if self.booster == "gblinear":
            # margins of the unit vectors and of zero: each weight, and the intercept (base_score + bias)
            k = len(names)
            margins = booster.predict(_dmatrix(np.eye(k + 1, k)), output_margin=True).astype(float)
            summary |= {"beta_const": float(margins[-1])}
            summary |= {f"beta_{n}": float(margins[j] - margins[-1]) for j, n in enumerate(names)}
        return XGBGateFit(self.spec, scaler, booster, v0 / SCALE**2, ret, proxy, dates, summary)


register("xgbstes")(lambda: XGBSTES(rounds=20))
register("xgbstes_tree_qlike_rv")(
    lambda: XGBSTES(EAESE + ("har",) + SEASONAL, proxy="rv", booster="gbtree", loss="qlike", rounds=10)
)
