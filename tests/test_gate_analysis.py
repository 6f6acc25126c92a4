"""Gate analysis (volbook.gate_analysis), its figures (volbook.gate_plots) and chapter 2's
labels: the logit decomposition adds up, coefficients match the recomputed logit, statistics
match numpy, every feature has a name and every group a colour."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from tests._frames import make_frame
from volbook import gate_plots
from volbook.comparison import fit_split, gate_path
from volbook.errors import DataError
from volbook.features import EAESE, FAMILIES, SEASONAL, gate_features
from volbook.gate_analysis import FAMILY_LABELS, GROUPS, alpha_statistics, contributions_by, gate_coefficients, group_of
from volbook.labels import model_label
from volbook.models import ES, STES, XGBSTES

T0 = 400
ALL = EAESE + ("har", "har_diff") + SEASONAL


@pytest.fixture(scope="module")
def frame():
    return make_frame(600, seed=11).select("date", "ret", "rv")


@pytest.fixture(scope="module")
def splits(frame):
    models = [STES(ALL, l2=0.1, n_starts=1, name="stes_all"),
              XGBSTES(ALL, rounds=20, patience=0, valid_frac=0.0, name="xgbstes_all"), ES(name="es")]
    return {m.name: fit_split(m, frame, T0) for m in models}


def test_groups_cover_every_family_once():
    listed = [f for families in GROUPS.values() for f in families]
    assert sorted(listed) == sorted(["const", *FAMILIES])
    assert set(FAMILY_LABELS) == {"const", *FAMILIES}
    assert group_of("fomc") == "Events" and group_of("const") == "Constant"
    with pytest.raises(DataError, match="not a gate feature family"):
        group_of("vix")


@pytest.mark.parametrize("level", ["family", "group"])
def test_contributions_add_up_to_the_logit(splits, frame, level):
    for name, split in splits.items():
        path = gate_path(split, frame, T0)
        parts = contributions_by(path, level=level)
        keys = list(FAMILY_LABELS) if level == "family" else list(GROUPS)
        pieces = [c for c in parts.columns if c in keys]
        assert parts.select("date", "sample", "alpha", "logit").equals(path.select("date", "sample", "alpha", "logit"))
        total = parts.select(pl.sum_horizontal(pieces)).to_series().to_numpy()
        np.testing.assert_allclose(total, parts["logit"].to_numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(expit(parts["logit"].to_numpy()), parts["alpha"].to_numpy(), rtol=1e-6)
    with pytest.raises(DataError, match="level"):
        contributions_by(path, level="feature")
    with pytest.raises(DataError, match="contrib"):
        contributions_by(path.select("date", "alpha"))


def test_linear_coefficients_rebuild_the_logit(splits, frame):
    """Coefficients on features standardized with training-row statistics give the logit back."""
    for name in ("stes_all", "xgbstes_all"):
        fitted = splits[name].fitted
        coefs = gate_coefficients({name: fitted.params})
        assert coefs["group"].to_list() == [group_of(f) for f in coefs["family"]]
        X, names = gate_features(ALL, ret=frame["ret"].to_numpy(), dates=frame["date"].to_numpy())
        train = X[:T0]
        sd = train.std(axis=0)
        Z = np.where(sd > 0, (X - train.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
        beta = dict(zip(coefs["feature"], coefs["coef"]))
        logit = beta["const"] + Z @ np.array([beta[n] for n in names])
        path = gate_path(splits[name], frame, T0)
        np.testing.assert_allclose(logit, path["logit"].to_numpy(), rtol=1e-5, atol=1e-5)


def test_tree_gates_have_no_coefficients():
    assert gate_coefficients({"trees": {"rounds": 3.0}}).height == 0


def test_alpha_statistics_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.05, 0.3, 500)
    stats = alpha_statistics({"m": pl.DataFrame({"alpha": a})}).row(0, named=True)
    assert stats["n"] == 500 and stats["mean"] == pytest.approx(a.mean())
    assert stats["sd"] == pytest.approx(a.std()) and stats["min"] == a.min() and stats["max"] == a.max()
    assert stats["q05"] == pytest.approx(np.quantile(a, 0.05)) and stats["q95"] == pytest.approx(np.quantile(a, 0.95))
    assert alpha_statistics({"m": pl.DataFrame({"alpha": a})}, ddof=1)["sd"].item() == pytest.approx(a.std(ddof=1))
    with pytest.raises(DataError, match="finite"):
        alpha_statistics({"m": pl.DataFrame({"alpha": [0.1, np.nan]})})


def test_figures_name_every_feature_and_colour_every_group(splits, frame):
    _, names = gate_features(FAMILIES, ret=frame["ret"].to_numpy(), dates=frame["date"].to_numpy())
    assert set(names) <= set(gate_plots.FEATURE_LABELS)
    assert set(gate_plots.GROUP_COLORS) == set(GROUPS)
    coefs = gate_coefficients({m: s.fitted.params for m, s in splits.items()})
    fig = gate_plots.plot_gate_coefficients(coefs, ["stes_all", "xgbstes_all"])
    assert {t.name for t in fig.data} == set(GROUPS) - {"Constant"}
    assert sum(len(t.x) for t in fig.data) == 2 * len(names)
    paths = {m: gate_path(s, frame, T0) for m, s in splits.items()}
    fig = gate_plots.plot_logit_decomposition(contributions_by(paths["stes_all"].filter(pl.col("sample") == "test")))
    assert fig.data[-1].name == "alpha (right axis)"
    # plotly.js 4 syncs an overlaying axis's ticks to the left axis's grid unless told otherwise:
    # alpha's ".2f" labels then come out uneven (0.02, 0.03, 0.05, ...)
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.tickmode == "auto"
    fig = gate_plots.plot_alpha_paths({m: paths[m] for m in ("stes_all", "es")}, frame["date"][T0])
    assert len(fig.data) == 2
    fig = gate_plots.plot_variance_proxies(frame.with_columns(ret2=pl.col("ret") ** 2),
                                           {"ret2": "squared", "rv": "realized"}, frame["date"][T0])
    assert len(fig.data) == 2


def test_chapter_2_model_labels():
    assert model_label("har") == "HAR-RV"
    assert model_label("xgbstes_hardiff_seasonal") == "XGBSTES + HAR-diff + seasonal"
    assert model_label("stes_har") == "STES + HAR(5,20)"
    assert model_label("stes_vix") == "stes_vix"
