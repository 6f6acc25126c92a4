"""Panel ridge models and their windows against independent references.

References: the closed-form ridge in numpy on the rows picked by a plain mask, scikit-learn's
Ridge, statsmodels OLS per asset, and polars-ols (whose ridge penalizes the intercept).
"""

import numpy as np
import polars as pl
import polars_ols  # noqa: F401  (registers the least_squares namespace)
import pytest
import statsmodels.api as sm
from sklearn.linear_model import Ridge

from volbook.data import simulate_panel
from volbook.errors import DataError, ParameterError
from volbook.evaluate import diebold_mariano, vol_metrics
from volbook.panel import (
    PUBLISHED,
    VOL_FEATURES,
    Baseline,
    PanelRidge,
    PanelXGB,
    RefitSchedule,
    build_features,
    design_exprs,
    solve_ridge,
    study_models,
    walk_forward_panel,
    window_sums,
)
from volbook.panel.features import sector_code, target_expr
from volbook.panel.scores import REGIMES, daily_losses, market_regime, score_forecasts, with_published

H, W, K = 10, 150, 17


@pytest.fixture(scope="module")
def data():
    return build_features(simulate_panel(n_assets=12, n_days=520, seed=5).panel, horizon=H)


@pytest.fixture(scope="module")
def schedule(data):
    return RefitSchedule.build(data.n_dates, window=W, refit_every=K, horizon=H)


def _window(data, k):
    """Training rows of refit date k by a plain mask: k - W < t <= k - h, target known."""
    t = data.frame["t"]
    return data.frame.filter((t > k - W) & (t <= k - H) & data.frame["target"].is_not_null())


def _closed_form(x, y, alpha, penalize_intercept=False):
    z = np.column_stack([np.ones(len(y)), x])
    p = np.eye(z.shape[1]) * alpha
    if not penalize_intercept:
        p[0, 0] = 0.0
    return np.linalg.solve(z.T @ z + p, z.T @ y)


def _coefs(wf, model, k_date, group="all"):
    c = wf.coefficients.filter(pl.col("model") == model, pl.col("date") == k_date, pl.col("group") == group)
    return dict(zip(c["term"], c["coef"]))


def test_windows_hold_only_rows_whose_targets_are_known(data, schedule):
    assert schedule.refits[0] == W - 1 and np.all(np.diff(schedule.refits) == K)
    sums = window_sums(data.frame, schedule, design_exprs(["vol_21"], "level"), target_expr("level"))
    for j, k in enumerate(schedule.refits):
        rows = schedule.training_rows(data.frame, j)
        assert rows["t"].max() + H <= k  # every target ends by the refit date
        assert rows["t"].min() > k - W
        assert rows.height == _window(data, k).height == sums.rows()[0, j]


def test_window_sums_equal_direct_sums(data, schedule):
    names = ["vol_5", "vol_126", "log_mcap", "group_risk"]
    sums = window_sums(data.frame, schedule, design_exprs(names, "log"), target_expr("log"),
                       group=sector_code(), n_groups=len(data.sectors))
    for j in (0, 7, len(schedule.refits) - 1):
        rows = _window(data, schedule.refits[j])
        for s, sector in enumerate(data.sectors):
            part = rows.filter(pl.col("sector") == sector)
            z = np.column_stack([np.ones(part.height), part.select(design_exprs(names, "log")).to_numpy()])
            y = part.select(target_expr("log")).to_series().to_numpy()
            np.testing.assert_allclose(sums.zz[s, j], z.T @ z, rtol=1e-12)
            np.testing.assert_allclose(sums.zy[s, j], z.T @ y, rtol=1e-12)


@pytest.fixture(scope="module")
def wf(data):
    models = [m for m in study_models(alpha=2.0) if isinstance(m, PanelRidge)] + [
        PanelRidge("per_asset_ols", features=VOL_FEATURES, pooling="asset", alpha=0.0),
        PanelRidge("global_penalized", alpha=50.0, penalize_intercept=True),
    ]
    return walk_forward_panel(data, models, window=W, refit_every=K)


@pytest.mark.parametrize("j", [0, 5, -1])
def test_pooled_ridge_equals_closed_form(data, wf, j):
    k = wf.schedule.refits[j]
    k_date = data.dates[int(k)]
    rows = _window(data, k)
    regs = list(data.stock_features)
    x, y = rows.select(design_exprs(regs, "level")).to_numpy(), rows.select(target_expr("level")).to_series().to_numpy()
    expected = _closed_form(x, y, 2.0)
    got = _coefs(wf, "global", k_date)
    np.testing.assert_allclose([got[t] for t in ["intercept", *regs]], expected, rtol=1e-8)
    sk = Ridge(alpha=2.0).fit(x, y)  # unpenalized intercept, as the book's ridge
    np.testing.assert_allclose([got[t] for t in regs], sk.coef_, rtol=1e-7)
    assert got["intercept"] == pytest.approx(sk.intercept_, rel=1e-7)
    # one regression per sector
    for sector in data.sectors:
        part = rows.filter(pl.col("sector") == sector)
        xs = part.select(design_exprs(regs, "level")).to_numpy()
        ys = part.select(target_expr("level")).to_series().to_numpy()
        got_s = _coefs(wf, "per_sector", k_date, sector)
        np.testing.assert_allclose([got_s[t] for t in ["intercept", *regs]], _closed_form(xs, ys, 2.0), rtol=1e-8)
    # global in log space with one indicator per sector (all of them) and the group risk factor
    regs_log = [*regs, "group_risk"]
    dummies = np.column_stack([(rows["sector"] == s).cast(pl.Float64).to_numpy() for s in data.sectors])
    xl = np.column_stack([rows.select(design_exprs(regs_log, "log")).to_numpy(), dummies])
    yl = rows.select(target_expr("log")).to_series().to_numpy()
    got_l = _coefs(wf, "group_risk_factor", k_date)
    terms = ["intercept", *regs_log, *[f"sector={s}" for s in data.sectors]]
    np.testing.assert_allclose([got_l[t] for t in terms], _closed_form(xl, yl, 2.0), rtol=1e-7)


def test_penalized_intercept_equals_polars_ols(data, wf):
    k = wf.schedule.refits[3]
    rows = _window(data, k)
    regs = list(data.stock_features)
    fit = rows.select(design_exprs(regs, "level")).with_columns(rows.select(target_expr("level"))).select(
        pl.col("y").least_squares.ridge(*regs, alpha=50.0, add_intercept=True, mode="coefficients")
    ).item()
    got = _coefs(wf, "global_penalized", data.dates[int(k)])
    np.testing.assert_allclose([got[t] for t in regs], [fit[t] for t in regs], rtol=1e-6)
    assert got["intercept"] == pytest.approx(fit["const"], rel=1e-6)
    # and it differs from the unpenalized fit with the same alpha
    x = rows.select(design_exprs(regs, "level")).to_numpy()
    unpenalized = _closed_form(x, rows.select(target_expr("level")).to_series().to_numpy(), 50.0)
    assert abs(unpenalized[0] - got["intercept"]) > 1e-4


@pytest.mark.parametrize("j", [0, -1])
def test_per_asset_equals_statsmodels_and_closed_form(data, wf, j):
    k = wf.schedule.refits[j]
    rows = _window(data, k)
    for asset in ["S001", "S007", "S012"]:
        part = rows.filter(pl.col("asset") == asset)
        x = part.select(design_exprs(VOL_FEATURES, "level")).to_numpy()
        y = part.select(target_expr("level")).to_series().to_numpy()
        ols = sm.OLS(y, sm.add_constant(x)).fit().params
        got = _coefs(wf, "per_asset_ols", data.dates[int(k)], asset)
        np.testing.assert_allclose([got[t] for t in ["intercept", *VOL_FEATURES]], ols, rtol=1e-6, atol=1e-9)
        ridge = _coefs(wf, "per_asset", data.dates[int(k)], asset)
        np.testing.assert_allclose([ridge[t] for t in ["intercept", *VOL_FEATURES]], _closed_form(x, y, 2.0), rtol=1e-8)


def test_forecasts_apply_the_latest_refit_from_its_date_on(data, wf):
    f = wf.forecasts
    sched = wf.schedule
    for t in [sched.first_origin, sched.first_origin + K - 1, sched.first_origin + K, data.n_dates - 1]:
        j = (t - sched.first_origin) // K
        row = data.frame.filter(pl.col("t") == t, pl.col("asset") == "S003")
        c = _coefs(wf, "global_log_dummies", data.dates[int(sched.refits[j])])
        x = row.select(design_exprs(data.stock_features, "log")).row(0)
        fitted = c["intercept"] + sum(c[n] * v for n, v in zip(data.stock_features, x)) + c[f"sector={row['sector'][0]}"]
        got = f.filter(pl.col("t") == t, pl.col("asset") == "S003")["global_log_dummies"].item()
        assert got == pytest.approx(np.clip(np.exp(fitted), 0.025, 2.0), rel=1e-12)
    assert f["t"].min() == sched.first_origin and f.height == data.frame.filter(pl.col("t") >= sched.first_origin).height


def test_baselines_are_their_formulas(data):
    wf = walk_forward_panel(data, study_models()[:5], window=W, refit_every=K)
    raw = data.frame.select("t", "asset", *[pl.col(c).alias(f"{c}_x") for c in ("vol_5", "vol_21", "vol_63", "vol_252")])
    f = wf.forecasts.join(raw, on=["t", "asset"])
    assert f.height == wf.forecasts.height
    assert f["vol_5"].equals(f["vol_5_x"], check_names=False) and f["vol_63"].equals(f["vol_63_x"], check_names=False)
    np.testing.assert_allclose(f["composite"], (f["vol_5_x"] + f["vol_21_x"] + f["vol_63_x"]) / 3, rtol=1e-14)
    np.testing.assert_allclose(f["blend"], 0.7 * f["vol_21_x"] + 0.3 * f["vol_252_x"], rtol=1e-14)
    assert wf.coefficients.height == 0


def test_solve_ridge_handles_small_and_singular_windows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2))
    z = np.column_stack([np.ones(40), x, x[:, 0]])  # a duplicated column: singular without a penalty
    y = x @ [1.0, -1.0] + 0.5
    zz, zy = np.stack([z.T @ z, z[:3].T @ z[:3]]), np.stack([z.T @ y, z[:3].T @ y[:3]])
    out = solve_ridge(zz, zy, 0.0, min_rows=10)
    assert np.isnan(out[1]).all()  # 3 rows < min_rows
    np.testing.assert_allclose(z @ out[0], y, atol=1e-10)  # min-norm least squares, exact fit
    assert out[0][1] == pytest.approx(out[0][3])


def test_pooling_beats_per_asset_on_the_synthetic_panel():
    """Assets with the same GJR-GARCH dynamics: pooled coefficients are estimated on ~20x more
    rows than each asset's own, and forecast better, against the realized target and against
    the true conditional expectation of the forward volatility (known from the simulation)."""
    sim = simulate_panel(n_assets=20, n_days=1300, seed=2)
    data = build_features(sim.panel, horizon=21)
    models = [PanelRidge("per_asset", features=VOL_FEATURES, pooling="asset"), PanelRidge("global")]
    wf = walk_forward_panel(data, models, window=504, refit_every=25)
    truth = sim.truth.variance.join(sim.truth.params.select("asset", "persistence", "unconditional_variance"),
                                    on="asset")
    s2, rho, ubar = (truth[c].to_numpy() for c in ("sigma2", "persistence", "unconditional_variance"))
    # E[r^2 of day t+k | close of t] = ubar + rho^(k-1) (sigma2_{t+1} - ubar), k = 1..21
    expected = ubar[:, None] + rho[:, None] ** np.arange(21) * (s2 - ubar)[:, None]
    origin = pl.DataFrame({"date": data.dates[1:], "origin": data.dates[:-1]})  # sigma2 dated t+1 is known at t
    oracle = truth.with_columns(oracle=np.sqrt(252 / 21 * expected.sum(axis=1))).join(origin, on="date").select(
        "asset", pl.col("origin").alias("date"), "oracle"
    )
    f = wf.forecasts.with_columns(pl.col("asset").cast(pl.String)).join(oracle, on=["asset", "date"]).drop_nulls()
    assert f.height > 15_000

    def rmse(col, ref):
        return f.select(((pl.col(col) - pl.col(ref)) ** 2).mean().sqrt()).item()

    assert rmse("global", "target") < rmse("per_asset", "target")
    assert rmse("global", "oracle") < 0.8 * rmse("per_asset", "oracle")
    assert f.select(pl.corr("global", "target")).item() > f.select(pl.corr("per_asset", "target")).item()


def test_bad_requests_are_refused(data):
    with pytest.raises(ParameterError, match="window \\(10\\) must be longer than the horizon"):
        walk_forward_panel(data, [PanelRidge("g")], window=10)
    with pytest.raises(DataError, match="the panel has 520 dates"):
        walk_forward_panel(data, [PanelRidge("g")], window=600)
    with pytest.raises(ParameterError, match="feature 'market_cap' is not in the data"):
        walk_forward_panel(data, [PanelRidge("g", features=("market_cap",))], window=W)
    with pytest.raises(ParameterError, match="names must be unique; repeated: g"):
        walk_forward_panel(data, [PanelRidge("g"), Baseline("g", {"vol_5": 1.0})], window=W)
    with pytest.raises(ParameterError, match="sector dummies only make sense"):
        PanelRidge("g", pooling="sector", dummies=True)
    with pytest.raises(ParameterError, match="x: space must be 'level' or 'log'"):
        PanelXGB("x", space="sqrt")
    with pytest.raises(ParameterError, match="ridge alpha must be >= 0"):
        PanelRidge("g", alpha=-1.0)
    with pytest.raises(ParameterError, match="refit_every must be a positive integer"):
        walk_forward_panel(data, [PanelRidge("g")], window=W, refit_every=0)


def test_scores_equal_vol_metrics_on_common_rows(wf):
    scores = score_forecasts(wf)
    assert scores["model"].to_list() == list(wf.models)
    common = wf.forecasts.drop_nulls(["target", *wf.models])
    for row in scores.iter_rows(named=True):
        expected = vol_metrics(common["target"], common[row["model"]])
        assert row["n"] == common.height
        for key in ("corr", "rmse", "mae", "mape"):
            assert row[key] == pytest.approx(expected[key], rel=1e-10)
    by = score_forecasts(wf, ["global"], by=[market_regime(), "sector"])
    assert set(by["regime"].cast(pl.String)) <= set(REGIMES)
    assert by["n"].sum() == common.height
    table = with_published(scores)
    assert table.filter(pl.col("model") == "global")["corr_published"].item() == 0.715
    assert table.filter(pl.col("model") == "per_asset_ols")["corr_published"].item() is None
    with pytest.raises(DataError, match="no column 'nope'"):
        score_forecasts(wf, ["nope"])


def test_daily_losses_feed_diebold_mariano(wf):
    losses = daily_losses(wf, ["global", "per_asset"])
    assert losses.columns == ["date", "global", "per_asset"] and losses["date"].is_sorted()
    common = wf.forecasts.drop_nulls(["target", "global", "per_asset"])
    day = common.filter(pl.col("date") == losses["date"][3])
    assert losses["global"][3] == pytest.approx(((day["global"] - day["target"]) ** 2).mean(), rel=1e-12)
    result = diebold_mariano(losses["per_asset"], losses["global"], h=H)
    assert np.isfinite(result.stat)
    with pytest.raises(ParameterError, match="loss must be 'squared' or 'absolute'"):
        daily_losses(wf, ["global"], loss="qlike")


def test_zero_targets_are_left_out_of_the_scores(wf):
    f = wf.forecasts.with_columns(target=pl.when(pl.col("t") == pl.col("t").max() - H).then(0.0).otherwise(pl.col("target")))
    scores = score_forecasts(f, ["global"])
    assert scores["n"].item() == f.drop_nulls(["target", "global"]).height - f.filter(pl.col("target") == 0).height
    assert np.isfinite(scores["mape"].item())
    assert score_forecasts(f, ["global"], min_target=0.2)["n"].item() == f.filter(pl.col("target") > 0.2).drop_nulls("global").height


def test_assets_entering_late_and_leaving_early():
    sim = simulate_panel(n_assets=10, n_days=700, seed=8).panel
    dates = sim["date"].unique().sort()
    panel = sim.filter(
        ~((pl.col("asset") == "S003") & (pl.col("date") < dates[400])),
        ~((pl.col("asset") == "S005") & (pl.col("date") > dates[500])),
    )
    data = build_features(panel, horizon=H)
    models = [PanelRidge("global"), PanelRidge("per_asset", features=VOL_FEATURES, pooling="asset", min_rows=60)]
    wf = walk_forward_panel(data, models, window=W, refit_every=K)
    late = wf.forecasts.filter(pl.col("asset") == "S003")
    assert late["t"].min() == 405 and late["global"].null_count() == 0  # from its first kept row
    # its own regression needs 60 rows with known targets: k - h - 405 + 1 >= 60 at a refit date k
    first_fit = next(int(k) for k in wf.schedule.refits if k - H - 405 + 1 >= 60)
    assert late.filter(pl.col("per_asset").is_not_null())["t"].min() == first_fit
    gone = wf.forecasts.filter(pl.col("asset") == "S005")
    assert gone["t"].max() == 500 and gone.filter(pl.col("t") > 500 - H)["target"].null_count() == H


def test_study_models_by_name():
    assert [m.name for m in study_models(["global", "vol_21", "xgboost"])] == ["global", "vol_21", "xgboost"]
    assert [m.name for m in study_models()] == list(PUBLISHED)
    assert all(m.alpha == 3.0 for m in study_models(alpha=3.0) if isinstance(m, PanelRidge))
    with pytest.raises(ParameterError, match="unknown panel model 'lasso'"):
        study_models(["global", "lasso"])
