import math

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import stats

from volbook.errors import DataError, ParameterError
from volbook.evaluate import (
    diebold_mariano,
    loss_expr,
    loss_table,
    mae,
    mincer_zarnowitz,
    model_confidence_set,
    mse,
    qlike,
    rmse,
    vol_metrics,
)


def _variances(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sigma2 = 1e-4 * np.exp(0.5 * rng.standard_normal(n))
    return sigma2 * rng.chisquare(1, n) + 1e-8, sigma2


# ---------- losses ----------


def test_losses_against_plain_python():
    y, f = _variances(40, 1)
    pairs = list(zip(y.tolist(), f.tolist()))
    assert mse(y, f) == pytest.approx(sum((a - b) ** 2 for a, b in pairs) / 40, rel=1e-12)
    assert rmse(y, f) == pytest.approx(math.sqrt(sum((a - b) ** 2 for a, b in pairs) / 40), rel=1e-12)
    assert mae(y, f) == pytest.approx(sum(abs(a - b) for a, b in pairs) / 40, rel=1e-12)
    assert qlike(y, f) == pytest.approx(sum(a / b - math.log(a / b) - 1 for a, b in pairs) / 40, rel=1e-12)


def test_qlike_is_zero_at_the_truth_and_ranks_like_the_log_form():
    y, f = _variances(200, 2)
    assert qlike(y, y) == 0.0
    assert qlike(y, f) > 0
    # mean(ln f + y/f) differs from the normalized form by mean(ln y) + 1, a constant in f
    for g in (f, 1.3 * f, 0.7 * f + 2e-5):
        assert qlike(y, g) == pytest.approx(np.mean(np.log(g) + y / g) - np.mean(np.log(y)) - 1, rel=1e-10)


def test_losses_accept_polars_series_and_lists():
    y, f = _variances(10, 3)
    assert mse(pl.Series(y), pl.Series(f)) == mse(list(y), list(f))


@pytest.mark.parametrize(
    ("y", "f", "match"),
    [
        ([1.0, 2.0], [1.0], r"y \(realized\) has 2 values but f \(forecast\) has 1"),
        ([1.0, np.nan], [1.0, 1.0], r"y \(realized\) has 1 non-finite"),
        ([1.0, 1.0], [1.0, 0.0], r"f \(forecast\) has 1 values <= 0"),
        ([1.0, -1.0], [1.0, 1.0], r"y \(realized\) has 1 values < 0"),
        ([], [], "non-empty 1-D"),
    ],
)
def test_loss_input_errors(y, f, match):
    with pytest.raises(DataError, match=match):
        mse(y, f)


def test_qlike_refuses_zero_realized():
    assert mse([0.0, 1.0], [1.0, 1.0]) == 0.5
    with pytest.raises(DataError, match=r"y \(realized\) has 1 values <= 0; .* must be positive for QLIKE"):
        qlike([0.0, 1.0], [1.0, 1.0])


def test_vol_metrics_against_numpy():
    rng = np.random.default_rng(4)
    y = 0.2 * np.exp(0.3 * rng.standard_normal(100))
    f = y * np.exp(0.1 * rng.standard_normal(100))
    got = vol_metrics(y, f)
    assert got["corr"] == pytest.approx(stats.pearsonr(y, f)[0], rel=1e-12)
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((y - f) ** 2)), rel=1e-12)
    assert got["mae"] == pytest.approx(np.mean(np.abs(y - f)), rel=1e-12)
    assert got["mape"] == pytest.approx(np.mean(np.abs(f / y - 1)), rel=1e-12)


# ---------- Mincer-Zarnowitz ----------


def _newey_west_wald(y: np.ndarray, f: np.ndarray, lags: int) -> tuple[np.ndarray, float, float]:
    """Closed-form OLS, Newey-West sandwich (Bartlett 1 - k/(L+1), no correction), Wald test."""
    x = np.column_stack([np.ones_like(f), f])
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    u = y - x @ beta
    s = np.zeros((2, 2))
    for t in range(y.size):
        s += u[t] ** 2 * np.outer(x[t], x[t])
    for k in range(1, lags + 1):
        w = 1 - k / (lags + 1)
        for t in range(k, y.size):
            g = u[t] * u[t - k] * np.outer(x[t], x[t - k])
            s += w * (g + g.T)
    cov = xtx_inv @ s @ xtx_inv
    dev = beta - np.array([0.0, 1.0])
    wald = float(dev @ np.linalg.solve(cov, dev))
    r2 = 1 - (u @ u) / ((y - y.mean()) @ (y - y.mean()))
    return beta, r2, wald


@pytest.mark.parametrize("horizon", [1, 5])
def test_mincer_zarnowitz_against_closed_form_and_statsmodels(horizon):
    y, f = _variances(300, 5)
    got = mincer_zarnowitz(y, f, horizon=horizon)
    beta, r2, wald = _newey_west_wald(y, f, horizon - 1)
    assert (got["intercept"], got["slope"]) == pytest.approx(tuple(beta), rel=1e-9)
    assert got["r2"] == pytest.approx(r2, rel=1e-9)
    assert got["wald"] == pytest.approx(wald, rel=1e-8)
    assert got["pvalue"] == pytest.approx(stats.chi2.sf(wald, 2), rel=1e-8)
    ref = sm.OLS(y, sm.add_constant(f)).fit(cov_type="HAC", cov_kwds={"maxlags": horizon - 1})
    assert got["slope"] == pytest.approx(ref.params[1], rel=1e-10)
    assert got["r2"] == pytest.approx(ref.rsquared, rel=1e-10)


def test_mincer_zarnowitz_unbiased_forecast_and_biased_one():
    rng = np.random.default_rng(6)
    f = 1e-4 * np.exp(0.5 * rng.standard_normal(3000))
    y = f * rng.chisquare(1, f.size)  # E[y | f] = f
    good = mincer_zarnowitz(y, f)
    assert good["slope"] == pytest.approx(1.0, abs=0.15) and good["pvalue"] > 0.01
    bad = mincer_zarnowitz(y, 2.0 * f)
    assert bad["slope"] == pytest.approx(0.5, abs=0.08) and bad["pvalue"] < 1e-6
    with pytest.raises(ParameterError, match="maxlags must be >= 0"):
        mincer_zarnowitz(y, f, maxlags=-1)
    with pytest.raises(DataError, match="forecast that varies"):
        mincer_zarnowitz(y[:5], np.ones(5))


# ---------- Diebold-Mariano ----------


def _slow_dm(a, b, h):
    d = [x - z for x, z in zip(a, b)]
    n = len(d)
    dbar = sum(d) / n
    gamma = [sum((d[t] - dbar) * (d[t - k] - dbar) for t in range(k, n)) / n for k in range(h)]
    v = gamma[0] + 2 * sum(gamma[1:])
    dm = dbar / math.sqrt(v / n)
    hln = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return hln, 2 * stats.t.sf(abs(hln), n - 1), dbar


@pytest.mark.parametrize("h", [1, 2, 5, 10])
def test_dm_against_slow_reimplementation(h):
    rng = np.random.default_rng(7 + h)
    a, b = rng.chisquare(1, 120), rng.chisquare(1, 120) * 0.9
    got = diebold_mariano(a, b, h)
    stat, p, dbar = _slow_dm(a.tolist(), b.tolist(), h)
    assert got.kernel == "rectangular"
    assert got.stat == pytest.approx(stat, rel=1e-10)
    assert got.pvalue == pytest.approx(p, rel=1e-9)
    assert got.mean_diff == pytest.approx(dbar, rel=1e-12)


def test_dm_h1_is_scaled_plain_dm():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal(50) ** 2, rng.standard_normal(50) ** 2
    d = a - b
    plain = d.mean() / np.sqrt(np.mean((d - d.mean()) ** 2) / d.size)
    assert diebold_mariano(a, b, 1).stat == pytest.approx(np.sqrt(49 / 50) * plain, rel=1e-12)
    assert diebold_mariano(b, a, 1).stat == pytest.approx(-np.sqrt(49 / 50) * plain, rel=1e-12)


def test_dm_falls_back_to_bartlett_when_rectangular_variance_is_negative():
    d = np.tile([1.0, -1.0], 30) + 0.01 * np.arange(60) / 60  # strongly negative lag-1 autocovariance
    res = diebold_mariano(d, np.zeros(60), h=2)
    e = d - d.mean()
    g0, g1 = e @ e / 60, e[1:] @ e[:-1] / 60
    assert g0 + 2 * g1 <= 0
    want = d.mean() / np.sqrt((g0 + 2 * 0.5 * g1) / 60) * np.sqrt((60 + 1 - 4 + 2 / 60) / 60)
    assert res.kernel == "bartlett"
    assert res.stat == pytest.approx(want, rel=1e-10)


def test_dm_identical_losses_and_bad_h():
    x = np.random.default_rng(9).random(30)
    with pytest.raises(DataError, match="loss_a - loss_b is constant"):
        diebold_mariano(x, x)
    with pytest.raises(DataError, match="loss_a - loss_b is constant"):
        diebold_mariano(x + 0.5, x)
    with pytest.raises(ParameterError, match=r"h must be an integer in \[1, n - 1\]"):
        diebold_mariano(x, x[::-1], h=0)
    with pytest.raises(DataError, match="loss_a has 30 values but loss_b has 29"):
        diebold_mariano(x, x[1:])


@pytest.mark.parametrize(("h", "n"), [(1, 100), (5, 400)])
def test_dm_size_under_equal_accuracy(h, n):
    """Equal-accuracy MA(h-1) loss differentials: rejection at 5% close to 5% over 1000 seeds."""
    reps = 1000
    rejections = 0
    for seed in range(reps):
        e = np.random.default_rng(seed).standard_normal(n + h - 1)
        d = np.convolve(e, np.ones(h), "valid")
        rejections += diebold_mariano(d, np.zeros(n), h).pvalue < 0.05
    # binomial sd at 1000 reps is 0.7 points; allow about 3 sd
    assert 0.03 <= rejections / reps <= 0.075


def test_dm_detects_a_better_forecast():
    y, f = _variances(500, 10)
    worse = f * 2.0
    res = diebold_mariano(y / worse - np.log(y / worse) - 1, y / f - np.log(y / f) - 1)
    assert res.stat > 0 and res.pvalue < 0.01


# ---------- MCS ----------


def _loss_frame(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.chisquare(2, 400)
    return pl.DataFrame(
        {
            "a": common + rng.normal(0, 0.3, 400),
            "b": common + rng.normal(0, 0.3, 400),
            "worse": common + 1.0 + rng.normal(0, 0.3, 400),
        }
    )


def test_mcs_excludes_the_worse_model_and_keeps_equals():
    out = model_confidence_set(_loss_frame(11), size=0.10, reps=500, seed=3)
    assert out["model"].to_list() == ["a", "b", "worse"]
    got = dict(zip(out["model"], out["included"]))
    assert got == {"a": True, "b": True, "worse": False}
    assert out.filter(pl.col("model") == "worse")["pvalue"].item() <= 0.10
    assert out["pvalue"].max() == 1.0


def test_mcs_is_deterministic_given_the_seed():
    frame = _loss_frame(12)
    one = model_confidence_set(frame, reps=300, seed=5)
    assert one.equals(model_confidence_set(frame, reps=300, seed=5))


def test_mcs_input_errors():
    with pytest.raises(DataError, match="at least 2 model columns"):
        model_confidence_set(pl.DataFrame({"a": np.ones(20)}))
    with pytest.raises(DataError, match="null or non-finite"):
        model_confidence_set(pl.DataFrame({"a": [1.0, None] * 10, "b": np.ones(20)}))
    with pytest.raises(DataError, match="only numeric"):
        model_confidence_set(pl.DataFrame({"a": ["x"] * 20, "b": np.ones(20)}))
    with pytest.raises(ParameterError, match=r"size must be in \(0, 1\)"):
        model_confidence_set(_loss_frame(1), size=1.5)


# ---------- loss_table ----------


def _forecast_frame() -> pl.DataFrame:
    rng = np.random.default_rng(13)
    rows = []
    for h in (1, 5):
        sigma2 = 1e-4 * h * np.exp(0.4 * rng.standard_normal(50))
        y = sigma2 * rng.chisquare(h, 50) / h
        for model, scale in (("good", 1.0), ("high", 1.8), ("low", 0.5)):
            rows.append(pl.DataFrame({"date": np.arange(50), "model": model, "horizon": h,
                                      "target": y, "forecast": sigma2 * scale}))
    return pl.concat(rows).sample(fraction=1.0, shuffle=True, seed=1)


def test_loss_table_matches_the_scalar_losses_and_ranks_within_horizon():
    frame = _forecast_frame()
    table = loss_table(frame)
    assert table.columns == ["model", "horizon", "n", "mse", "rmse", "mae", "qlike", "rank"]
    assert table["horizon"].to_list() == [1, 1, 1, 5, 5, 5]
    for row in table.iter_rows(named=True):
        part = frame.filter((pl.col("model") == row["model"]) & (pl.col("horizon") == row["horizon"]))
        y, f = part["target"], part["forecast"]
        assert row["n"] == 50
        assert row["mse"] == pytest.approx(mse(y, f), rel=1e-12)
        assert row["rmse"] == pytest.approx(rmse(y, f), rel=1e-12)
        assert row["mae"] == pytest.approx(mae(y, f), rel=1e-12)
        assert row["qlike"] == pytest.approx(qlike(y, f), rel=1e-12)
    for h in (1, 5):
        part = table.filter(pl.col("horizon") == h)
        assert part["rank"].to_list() == [1, 2, 3]
        assert part["qlike"].is_sorted()
        assert part["model"][0] == "good"


def test_loss_table_is_deterministic_and_by_is_flexible():
    frame = _forecast_frame()
    assert loss_table(frame).equals(loss_table(frame.reverse()))
    per_model = loss_table(frame, by=("model",))
    assert per_model.height == 3 and sorted(per_model["rank"].to_list()) == [1, 2, 3]


def test_loss_expr_matches_loss_table_qlike():
    frame = _forecast_frame().with_columns(loss_expr("qlike"))
    means = frame.group_by("model", "horizon").agg(pl.col("qlike").mean())
    joined = loss_table(frame.drop("qlike")).join(means, on=["model", "horizon"], suffix="_expr")
    np.testing.assert_allclose(joined["qlike"], joined["qlike_expr"], rtol=1e-12)
    with pytest.raises(ParameterError, match="loss must be"):
        loss_expr("hinge")


def test_loss_table_errors():
    frame = _forecast_frame()
    with pytest.raises(DataError, match=r"frame lacks columns \['forecast'\]"):
        loss_table(frame.drop("forecast"))
    with pytest.raises(DataError, match="column 'target' has 6 non-finite"):
        loss_table(frame.with_columns(target=pl.when(pl.col("date") == 3).then(None).otherwise("target")))


def test_diebold_mariano_table_is_the_pairwise_test_for_every_model_and_loss():
    from volbook.evaluate import diebold_mariano_table

    rng = np.random.default_rng(5)
    dates = np.arange(200)
    losses = {m: rng.gamma(2.0, 1.0 + 0.1 * k, 200) for k, m in enumerate(["a", "b", "c"])}
    frame = pl.DataFrame({
        "date": np.tile(dates, 3), "model": np.repeat(list(losses), 200),
        "squared": np.concatenate(list(losses.values())), "qlike": np.concatenate([v[::-1] for v in losses.values()]),
    })
    table = diebold_mariano_table(frame, ["a"], ["squared", "qlike"])
    assert table.select("baseline", "model", "loss").rows() == [
        ("a", "b", "squared"), ("a", "b", "qlike"), ("a", "c", "squared"), ("a", "c", "qlike")]
    row = table.row(2, named=True)
    ref = diebold_mariano(losses["c"], losses["a"])
    assert (row["stat"], row["pvalue"], row["mean_diff"]) == (ref.stat, ref.pvalue, ref.mean_diff)
    assert row["rel_diff"] == pytest.approx(ref.mean_diff / losses["a"].mean())
    with pytest.raises(DataError, match="baselines"):
        diebold_mariano_table(frame, ["z"], ["squared"])
    with pytest.raises(DataError, match="same dates"):
        diebold_mariano_table(frame.filter(~((pl.col("model") == "b") & (pl.col("date") == 3))), ["a"], ["squared"])


def test_models_with_the_same_losses_are_tested_once():
    from volbook.evaluate import diebold_mariano_table, same_losses

    rng = np.random.default_rng(8)
    a, b = rng.gamma(2.0, 1.0, 300), rng.gamma(2.0, 1.3, 300)
    twin = a * (1 + 1e-8 * rng.standard_normal(300))  # the same forecast, rounded differently
    assert same_losses(a, twin) and not same_losses(a, b)
    alone = model_confidence_set(pl.DataFrame({"a": a, "b": b}), seed=3)
    both = model_confidence_set(pl.DataFrame({"a": a, "b": b, "a2": twin, "b2": b}), seed=3)
    assert both["model"].to_list() == ["a", "b", "a2", "b2"]
    assert both.head(2).equals(alone)
    assert both.row(2)[1:] == alone.row(0)[1:] and both.row(3)[1:] == alone.row(1)[1:]
    one = model_confidence_set(pl.DataFrame({"a": a, "a2": twin}))
    assert one["pvalue"].to_list() == [1.0, 1.0] and one["included"].all()
    frame = pl.DataFrame({"date": np.tile(np.arange(300), 2), "model": np.repeat(["a", "a2"], 300),
                          "squared": np.concatenate([a, twin])})
    row = diebold_mariano_table(frame, ["a"], ["squared"]).row(0, named=True)
    assert (row["stat"], row["pvalue"], row["rel_diff"]) == (0.0, 1.0, 0.0)
