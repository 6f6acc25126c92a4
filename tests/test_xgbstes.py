"""XGBSTES: the objective XGBoost receives against finite differences, gblinear against the STES
least-squares fit it must reach, early stopping, cross-validation and determinism."""

import numpy as np
import pytest
from scipy.special import expit

from _gate_history import history, sp500_returns
from volbook.errors import ParameterError
from volbook.models.recursion import stes_filter
from volbook.models.stes import STES
from volbook.models.xgbstes import (
    PUBLISHED_GRID,
    PUBLISHED_GRID_LAMBDA,
    XGBSTES,
    RecursionObjective,
    canonical_params,
    loss_value,
)


@pytest.fixture(scope="module")
def returns():
    return sp500_returns()[:2501]


@pytest.mark.parametrize("loss", ["mse", "qlike"])
def test_the_objective_xgboost_receives_is_the_exact_gradient_of_the_forecast_loss(loss):
    rng = np.random.default_rng(5)
    n = 80
    p = rng.standard_t(5, n) ** 2 + 1e-3
    y = np.append(p[1:], 0.8)
    margins = rng.normal(-1.0, 0.8, n)

    def total(z):
        f = stes_filter(p, expit(z), 1.0)[1:]
        return np.sum(0.5 * (f - y) ** 2) if loss == "mse" else np.sum(y / f - np.log(y / f) - 1)

    grad, hess = RecursionObjective(p, y, 1.0, loss)(margins.astype(np.float32), None)
    z = margins.astype(np.float32).astype(float)
    h = 1e-6
    fd = np.array([(total(z + h * np.eye(n)[t]) - total(z - h * np.eye(n)[t])) / (2 * h) for t in range(n)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
    assert (hess > 0).all()


def test_gblinear_without_penalty_reaches_the_stes_least_squares_fit(returns):
    """Same objective (squared errors), same linear logit: boosting must land on the NLS optimum."""
    h = history(returns[:2001])
    stes = STES(n_starts=3).fit(h)
    xgbstes = XGBSTES(params={"reg_lambda": 0.0, "learning_rate": 1.0}, rounds=1000, valid_frac=0.0).fit(h)
    for name in ("const", "ret", "abs_ret", "ret2"):
        assert xgbstes.params[f"beta_{name}"] == pytest.approx(stes.params[f"beta_{name}"], abs=2e-3)
    new = history(returns[2001:])
    np.testing.assert_allclose(xgbstes.one_step(new), stes.one_step(new), rtol=1e-3)


def test_early_stopping_can_keep_the_es_gate_and_never_exceeds_the_rounds(returns):
    h = history(returns[:2001])
    fit = XGBSTES(rounds=30, patience=5).fit(h)
    assert 0 <= fit.params["rounds"] <= 30
    # one boosting round with a huge step overshoots: the validation loss is best before it
    flat = XGBSTES(params={"learning_rate": 50.0, "reg_lambda": 0.0}, rounds=3, patience=1).fit(h)
    assert flat.params["rounds"] == 0
    assert flat.params["beta_ret"] == flat.params["beta_abs_ret"] == flat.params["beta_ret2"] == 0.0
    alpha = flat.path()["alpha"].to_numpy()
    np.testing.assert_allclose(alpha, alpha[0], rtol=1e-6)


def test_rounds_that_improve_by_less_than_float_noise_are_not_kept(returns):
    """A learning rate of 1e-6 improves the validation loss by about 1e-8 relative per round: the
    fewest rounds within the tolerance are kept (0, the ES gate), not the last tiny improvement."""
    h = history(returns[:2001])
    assert XGBSTES(params={"learning_rate": 1e-6}, rounds=30, patience=5).fit(h).params["rounds"] == 0
    # 1e-5 improves by about 4e-7 a round: the last of 30 rounds is within the tolerance of the 29th
    assert XGBSTES(params={"learning_rate": 1e-5}, rounds=30, patience=5).fit(h).params["rounds"] == 28


def test_cv_keeps_the_candidate_with_the_lowest_validation_loss(returns):
    model = XGBSTES(cv=True, grid=PUBLISHED_GRID_LAMBDA[:4], rounds=40)
    h = history(returns[:1501])
    r = returns[:1501]
    X = np.column_stack([r, np.abs(r), r**2])
    p = (100 * r) ** 2
    best, scores = model.select(X, ("ret", "abs_ret", "ret2"), p, p[1:], p[:20].mean())
    assert scores.shape == (4, 3)
    assert best == PUBLISHED_GRID_LAMBDA[int(np.argmin(scores.mean(axis=1)))]
    fit = model.fit(h)
    for key, value in best.items():  # the tuned values are the ones the final model used
        assert fit.params[key] == value


def test_fits_are_deterministic_and_the_tree_variant_is_labelled(returns):
    h, new = history(returns[:1501]), history(returns[1501:1800])
    a, b = XGBSTES(rounds=40).fit(h), XGBSTES(rounds=40).fit(h)
    np.testing.assert_array_equal(a.one_step(new), b.one_step(new))
    linear = a.path(new)  # gblinear: contributions are weight x feature, the constant is base_score + bias
    z_ret = (returns[:1800] - a.scaler.mean[0]) / a.scaler.scale[0]
    np.testing.assert_allclose(linear["contrib_ret"], a.params["beta_ret"] * z_ret, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(linear["logit"], linear.select(linear.columns[5:]).sum_horizontal(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(linear["contrib_const"], a.params["beta_const"], rtol=1e-6)
    tree = XGBSTES(booster="gbtree", rounds=20, valid_frac=0.0)
    assert tree.name == "xgbstes_tree"
    fit = tree.fit(h)
    path = fit.path(new)
    np.testing.assert_allclose(path["logit"], path.select(path.columns[5:]).sum_horizontal(), rtol=1e-5, atol=1e-5)
    assert path["alpha"].std() > 0


def test_qlike_scores_rank_like_the_qlike_loss():
    rng = np.random.default_rng(0)
    y = rng.exponential(size=500)
    f1, f2 = np.full(500, 1.0), np.full(500, 1.6)
    full = [np.mean(y / f - np.log(y / f) - 1) for f in (f1, f2)]
    assert (loss_value(f1, y, "qlike") < loss_value(f2, y, "qlike")) == (full[0] < full[1])
    assert loss_value(f2, y, "qlike") - loss_value(f1, y, "qlike") == pytest.approx(full[1] - full[0], rel=1e-12)


def test_aliases_are_canonical_and_duplicates_are_refused():
    assert canonical_params({"eta": 0.1, "lambda": 2.0, "max_depth": 3}) == {"learning_rate": 0.1, "reg_lambda": 2.0, "max_depth": 3}
    with pytest.raises(ParameterError, match="'learning_rate' is given twice"):
        canonical_params({"eta": 0.1, "learning_rate": 0.01})
    with pytest.raises(ParameterError, match="given twice"):
        XGBSTES(params={"lambda": 1.0, "reg_lambda": 5.0})
    with pytest.raises(ParameterError, match="loss must be"):
        XGBSTES(loss="mae")
    with pytest.raises(ParameterError, match="booster"):
        XGBSTES(params={"booster": "gbtree"})


def test_the_published_grid_follows_the_gate():
    assert XGBSTES(cv=True).grid == PUBLISHED_GRID
    assert XGBSTES(("ret", "abs_ret", "ret2", "har_diff"), cv=True).grid == PUBLISHED_GRID_LAMBDA
    assert len(PUBLISHED_GRID_LAMBDA) == 4 * len(PUBLISHED_GRID)
    assert XGBSTES().grid == ()
