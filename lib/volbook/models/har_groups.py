"""HAR with the study's optional feature groups: HAR lags of VIX, short-term reversal, realized
kurtosis, jump variation.

Each group is a set of extra regressors for engine's :class:`~volbook.models.har.HAR` (its
``exog``: trailing means of a frame column over the windows given), so a HAR with groups is
the same OLS, the same timing and the same forecasts as any HAR -- only its regressors differ.
The frame columns come from :func:`volbook.realized.daily_frame`.

=========  ===================  ===========================================================
group      regressors           meaning
=========  ===================  ===========================================================
``vix``    vix_1, vix_5, vix_22  VIX close (index points) and its weekly and monthly means
``str``    ret_5, ret_22         short-term reversal: mean daily log return of the last week
                                 and month (negative after a sell-off; the leverage effect)
``rkurt``  rkurt_1               the day's realized kurtosis (intraday data only)
``jv``     jv_1                  the day's jump variation max(RV - BV, 0) (intraday data only)
=========  ===================  ===========================================================

The regressors enter in levels, also in the log-HAR (so ``log=True`` with ``vix`` is a
semi-log regression of log variance on VIX points). The range-based default data of chapter
3 has no intraday bars: ``rkurt`` and ``jv`` need the ``intraday`` or ``oxford_man`` sources.
"""

from __future__ import annotations

from collections.abc import Sequence

from volbook.errors import ParameterError
from volbook.models.base import register
from volbook.models.har import HAR

__all__ = ["FEATURE_GROUPS", "har_with_groups"]

#: Group name -> {frame column: averaging windows}.
FEATURE_GROUPS: dict[str, dict[str, tuple[int, ...]]] = {
    "vix": {"vix": (1, 5, 22)},
    "str": {"ret": (5, 22)},
    "rkurt": {"rkurt": (1,)},
    "jv": {"jv": (1,)},
}


def har_with_groups(
    groups: Sequence[str] = ("vix",),
    *,
    proxy: str = "rv",
    log: bool = False,
    direct: bool = False,
    name: str | None = None,
) -> HAR:
    """Engine's HAR on ``proxy`` with the regressors of the named :data:`FEATURE_GROUPS`.

    The name defaults to ``har[_log][_direct]_<proxy>_<group>_<group>...`` (``har_rv_vix`` for
    HAR + VIX). ``inputs`` are the proxy and the groups' columns.
    """
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown or len(set(groups)) != len(groups):
        raise ParameterError(f"feature groups must be distinct names from {sorted(FEATURE_GROUPS)}, got {list(groups)}")
    exog = {col: lags for g in groups for col, lags in FEATURE_GROUPS[g].items()}
    default = "_".join(["har", *(["log"] if log else []), *(["direct"] if direct else []), proxy, *groups])
    return HAR(proxy, log=log, direct=direct, exog=exog, name=name or default)


register("har_rv_vix_str")(lambda: har_with_groups(("vix", "str")))
register("har_log_direct_rv_all_groups")(lambda: har_with_groups(("vix", "str", "rkurt", "jv"), log=True, direct=True))
