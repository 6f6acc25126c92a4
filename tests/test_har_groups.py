"""HAR with the study's feature groups is engine's HAR with the groups' regressors, nothing else."""

import numpy as np
import pytest
from _frames import make_frame

from volbook.errors import ParameterError
from volbook.models import HAR, har_with_groups


def test_groups_are_engines_har_with_their_columns_and_windows():
    frame = make_frame(400, seed=0)
    model = har_with_groups(("vix", "str", "rkurt", "jv"), log=True, direct=True)
    assert model.name == "har_log_direct_rv_vix_str_rkurt_jv"
    assert model.inputs == ("rv", "vix", "ret", "rkurt", "jv")
    by_hand = HAR("rv", log=True, direct=True, exog={"vix": (1, 5, 22), "ret": (5, 22), "rkurt": (1,), "jv": (1,)})
    a = model.fit(frame.slice(0, 300)).forecast([1, 5], frame.slice(300, 50))
    b = by_hand.fit(frame.slice(0, 300)).forecast([1, 5], frame.slice(300, 50))
    np.testing.assert_array_equal(a, b)
    fitted = har_with_groups().fit(frame.slice(0, 300))
    assert {"const", "rv_1", "rv_5", "rv_22", "vix_1", "vix_5", "vix_22"} <= set(fitted.params)


def test_unknown_or_repeated_groups_are_refused():
    with pytest.raises(ParameterError, match="feature groups"):
        har_with_groups(("vix", "kurtosis"))
    with pytest.raises(ParameterError, match="feature groups"):
        har_with_groups(("vix", "vix"))
