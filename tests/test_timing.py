import numpy as np
import polars as pl
import pytest

from volbook.errors import ParameterError
from volbook.timing import (
    annualized_vol,
    forward_sum,
    forward_variance,
    refit_origins,
    targets_frame,
    usable_training_end,
)


def test_forward_variance_matches_a_plain_loop():
    r = np.random.default_rng(1).standard_normal(50)
    for h in (1, 5, 10):
        got = forward_variance(r, h)
        for t in range(r.size):
            want = sum(r[t + j] ** 2 for j in range(1, h + 1)) if t + h < r.size else np.nan
            np.testing.assert_equal(np.isnan(got[t]), np.isnan(want))
            if not np.isnan(want):
                assert got[t] == pytest.approx(want, rel=1e-12)


def test_forward_target_looks_forward_only():
    r = np.random.default_rng(2).standard_normal(30)
    base = forward_variance(r, 5)
    bumped = r.copy()
    bumped[:11] *= 3.0  # everything up to and including t = 10 changes
    after = forward_variance(bumped, 5)
    assert after[10] == base[10]  # target at origin 10 depends on r_11..r_15 only
    assert after[5] != base[5]


def test_forward_sum_of_a_proxy():
    x = np.arange(1.0, 8.0)
    np.testing.assert_allclose(forward_sum(x, 2)[:5], [2 + 3, 3 + 4, 4 + 5, 5 + 6, 6 + 7])


def test_refit_schedule_and_usable_rows():
    np.testing.assert_array_equal(refit_origins(10, 20, 5), [10, 15, 20])
    np.testing.assert_array_equal(refit_origins(10, 20, None), [10])
    assert usable_training_end(100, 5) == 95
    with pytest.raises(ParameterError, match="refit_every"):
        refit_origins(0, 10, 0)
    with pytest.raises(ParameterError, match="horizons"):
        forward_variance(np.ones(5), 0)


def test_annualized_vol():
    assert annualized_vol(np.array([0.0001 * 5]), 5)[0] == pytest.approx(0.01 * np.sqrt(252))


def test_targets_frame_of_returns_and_of_a_realized_measure():
    r = np.random.default_rng(3).standard_normal(12)
    rv = np.arange(1.0, 13.0)
    of_returns = targets_frame(np.arange(12), r, [1, 3])
    assert of_returns.filter(pl.col("horizon") == 3)["target"].to_list() == pytest.approx(
        [sum(r[t + 1 : t + 4] ** 2) for t in range(9)], rel=1e-12)
    of_rv = targets_frame(np.arange(12), rv, [2], square=False)
    assert of_rv["date"].to_list() == list(range(10))
    assert of_rv["target"].to_list() == [rv[t + 1] + rv[t + 2] for t in range(10)]
