"""Benchmark: the panel walk-forward at the published scale (issue 9 section 4), volbook vs pandas + scikit-learn.

Data: ``simulate_panel(1000, 7500)`` (1000 GJR-GARCH assets in 5 sectors with market caps,
7,500 days: 7.5 million rows), written to a parquet file first; each side then runs in a
fresh process that reads it, so that the peak memory printed (the process's VmHWM) is its own.

Problem: the study's full progression (:func:`volbook.panel.models.study_models`: five
baselines, per-asset ridge, per-sector, global, global + sector dummies, log-space + dummies,
+ market-vol factor, + group risk factor), ridge alpha = 1, h = 21, a 504-day window, refit
every 25 days (280 refits on 7,500 days), from the features (built from closes) to the forecasts of every
(date, asset).

volbook
    ``build_features`` + ``walk_forward_panel``: polars expressions, window sums of X'X per
    (sector or asset, block of dates), one small solve per group and refit.
naive
    Straightforward pandas: the same features with ``groupby().rolling()``, ``transform``
    and ``ffill``; then a loop over refit dates that masks the training window, fits
    scikit-learn's ``Ridge`` (intercept unpenalized, like volbook's) for each pooled model,
    once per sector for the per-sector model and once per asset for the per-asset model, and
    predicts the next 25 days. It takes minutes per hundred refits, so it runs the first
    ``--naive-refits`` refits only; its time for all refits is extrapolated linearly (every
    window holds the same 483 dates x 1000 assets, so every refit costs the same).

Checks: the features of both sides agree, and so do the forecasts of every model on the
rows of the refits the naive loop ran (to ``RTOL``); exit status 1 otherwise.

Run from the repository root: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/panel_walkforward.py``
(``--assets 200 --days 2000`` for a quick look).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from _common import print_table

RTOL = 1e-6  # forecasts: relative difference allowed (two ridge solvers on ~480,000 rows)
FEATURE_RTOL = 1e-9


def _peak_gb() -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1e6


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


# ---------------------------------------------------------------------------------------- volbook


def run_volbook(args: argparse.Namespace, work: Path) -> dict:
    from volbook.panel import build_features, study_models, walk_forward_panel

    panel = pl.read_parquet(work / "panel.parquet")
    wall, cpu = time.perf_counter(), _cpu()
    data = build_features(panel, horizon=args.horizon)
    features_s, features_cpu = time.perf_counter() - wall, _cpu() - cpu
    wall2, cpu2 = time.perf_counter(), _cpu()
    wf = walk_forward_panel(data, study_models(alpha=1.0), window=args.window, refit_every=args.every)
    wf_s, wf_cpu, peak = time.perf_counter() - wall2, _cpu() - cpu2, _peak_gb()
    last = wf.schedule.first_origin + args.naive_refits * args.every
    wf.forecasts.filter(pl.col("t") < last).write_parquet(work / "volbook_forecasts.parquet")
    data.frame.write_parquet(work / "volbook_features.parquet")
    return {"features_s": features_s, "features_cpu": features_cpu, "wf_s": wf_s, "wf_cpu": wf_cpu,
            "peak_gb": peak, "rows": wf.forecasts.height, "refits": int(wf.schedule.refits.size),
            "models": list(wf.models)}


# ------------------------------------------------------------------------------------------ naive

VOLS = ["vol_5", "vol_21", "vol_63", "vol_126", "vol_down_21", "vol_up_21"]


def naive_features(panel, horizon: int):
    """The features of volbook.panel.features, written in straightforward pandas."""
    import pandas as pd

    df = panel.sort_values(["asset", "date"]).reset_index(drop=True)
    dates = np.sort(df["date"].unique())
    df["t"] = np.searchsorted(dates, df["date"].to_numpy())
    g = df.groupby("asset", sort=False)
    df["pos"] = g.cumcount()
    df["ret"] = np.log(df["close"] / g["close"].shift(1))
    df["r2"] = df["ret"] ** 2
    df["down"] = np.where(df["ret"] < 0, df["r2"], 0.0)
    df["up"] = np.where(df["ret"] >= 0, df["r2"], 0.0)

    def rolling_vol(col: str, w: int):
        mean = df.groupby("asset", sort=False)[col].rolling(w, min_periods=(3 * w + 3) // 4).mean()
        mean = mean.reset_index(level=0, drop=True).sort_index()
        return np.sqrt(252 * mean.clip(lower=0.0)).where(df["pos"] >= w)

    for w in (5, 21, 63, 126, 252):
        df[f"vol_{w}"] = rolling_vol("r2", w)
    df["vol_down_21"] = rolling_vol("down", 21)
    df["vol_up_21"] = rolling_vol("up", 21)
    df["log_mcap"] = np.log(df["market_cap"])
    h = horizon
    fwd = df.groupby("asset", sort=False)["r2"].rolling(h, min_periods=h).mean().reset_index(level=0, drop=True).sort_index()
    fwd = df.assign(_f=fwd).groupby("asset", sort=False)["_f"].shift(-h)
    complete = df.groupby("asset", sort=False)["t"].shift(-h) == df["t"] + h
    df["target"] = np.sqrt(252 * fwd.clip(lower=0.0)).where(complete)
    stock = [*VOLS, "log_mcap"]
    df["n_imputed"] = df[stock].isna().sum(axis=1)
    df = df[df["n_imputed"] <= 0.75 * len(stock)].reset_index(drop=True)

    n = len(dates)
    m = df.groupby("t")["ret"].mean().reindex(range(n))
    market = np.sqrt(252 * (m**2).rolling(21, min_periods=21).mean())
    sector_mean21 = df.groupby(["t", "sector"])["vol_21"].mean().unstack().reindex(range(n))
    ratio = (sector_mean21 / sector_mean21.rolling(252, min_periods=63).mean()).stack().rename("group_risk")
    for c in [*stock, "vol_252"]:
        df[c] = df[c].fillna(df.groupby(["sector", "t"])[c].transform("mean"))
        df[c] = df.groupby("asset", sort=False)[c].ffill().fillna(0.20)
    df["market_vol"] = market.reindex(df["t"]).fillna(0.20).to_numpy()
    df = df.join(ratio, on=["t", "sector"])
    df["group_risk"] = df["group_risk"].fillna(1.0)
    return df, pd.Series(dates)


def _design(frame, names, space, sectors=None):
    import pandas as pd

    cols = {}
    for c in names:
        x = frame[c]
        if c.startswith("vol_") or c == "market_vol":
            x = x.clip(0.025, 2.0)
            x = np.log(x) if space == "log" else x
        elif c == "group_risk" and space == "log":
            x = np.log(x)
        cols[c] = x
    out = pd.DataFrame(cols)
    if sectors is not None:
        for s in sectors:
            out[f"sector={s}"] = (frame["sector"] == s).astype(float)
    return out.to_numpy()


def naive_loop(df, dates, args: argparse.Namespace, models) -> tuple:
    """Refit every model at each of the first refit dates; forecasts of the rows they serve."""
    import pandas as pd
    from sklearn.linear_model import Ridge

    from volbook.panel.models import Baseline

    n, w, h, every = len(dates), args.window, args.horizon, args.every
    sectors = sorted(df["sector"].unique())
    first = w - 1
    refits = list(range(first, n, every))[: args.naive_refits]
    out = []
    times = {"pooled": 0.0, "per_asset": 0.0}
    for k in refits:
        train = df[(df["t"] > k - w) & (df["t"] <= k - h) & df["target"].notna()]
        apply = df[(df["t"] >= k) & (df["t"] < k + every)]
        pred = apply[["t", "asset"]].copy()
        for m in models:
            if isinstance(m, Baseline):
                pred[m.name] = sum(wt * apply[c] for c, wt in m.weights.items())
                continue
            t0 = time.perf_counter()
            regs = list(m.features or [*VOLS, "log_mcap"]) + list(m.extra)
            y = train["target"].clip(0.025, 2.0)
            y = np.log(y) if m.space == "log" else y
            values = pd.Series(np.nan, index=apply.index)
            if m.pooling == "global":
                dummies = sectors if m.dummies else None
                fit = Ridge(alpha=m.alpha).fit(_design(train, regs, m.space, dummies), y)
                values[:] = fit.predict(_design(apply, regs, m.space, dummies))
            else:
                key = "sector" if m.pooling == "sector" else "asset"
                for name, part in train.groupby(key):
                    rows = apply[key] == name
                    if len(part) >= m.min_rows and rows.any():
                        fit = Ridge(alpha=m.alpha).fit(_design(part, regs, m.space), y.loc[part.index])
                        values[rows] = fit.predict(_design(apply[rows], regs, m.space))
            values = np.exp(values) if m.space == "log" else values
            pred[m.name] = values.clip(0.025, 2.0)
            times["per_asset" if m.pooling == "asset" else "pooled"] += time.perf_counter() - t0
        out.append(pred)
    return pd.concat(out), times, len(refits)


def run_naive(args: argparse.Namespace, work: Path) -> dict:
    from volbook.panel import study_models

    panel = pl.read_parquet(work / "panel.parquet").to_pandas()
    wall, cpu = time.perf_counter(), _cpu()
    df, dates = naive_features(panel, args.horizon)
    features_s, features_cpu = time.perf_counter() - wall, _cpu() - cpu
    wall2, cpu2 = time.perf_counter(), _cpu()
    forecasts, times, ran = naive_loop(df, dates, args, study_models(alpha=1.0))
    loop_s, loop_cpu, peak = time.perf_counter() - wall2, _cpu() - cpu2, _peak_gb()
    pl.from_pandas(forecasts).write_parquet(work / "naive_forecasts.parquet")
    pl.from_pandas(df[["t", "asset", *VOLS, "vol_252", "log_mcap", "market_vol", "group_risk", "target"]]).write_parquet(
        work / "naive_features.parquet")
    return {"features_s": features_s, "features_cpu": features_cpu, "loop_s": loop_s, "loop_cpu": loop_cpu,
            "refits_run": ran, "pooled_s": times["pooled"], "per_asset_s": times["per_asset"], "peak_gb": peak}


# ----------------------------------------------------------------------------------------- parent


def _child(part: str, args: argparse.Namespace, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--part", part, "--work", str(work), "--horizon", str(args.horizon),
           "--window", str(args.window), "--every", str(args.every), "--naive-refits", str(args.naive_refits)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=Path(__file__).parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _largest_difference(ours: pl.DataFrame, theirs: pl.DataFrame, columns: list[str]) -> dict[str, float]:
    ours = ours.with_columns(pl.col("asset").cast(pl.String))
    both = ours.join(theirs, on=["t", "asset"], suffix="_naive")
    if both.height != theirs.height:
        raise SystemExit(f"row mismatch: {both.height} joined rows, {theirs.height} naive rows")
    worst = {}
    for c in columns:
        a, b = both[c].to_numpy(), both[f"{c}_naive"].to_numpy()
        if (np.isnan(a) != np.isnan(b)).any():
            worst[c] = np.inf
        else:
            ok = ~np.isnan(a)
            scale = np.maximum(np.abs(b[ok]), 1e-12)  # some features are exactly 0 on both sides
            worst[c] = float(np.max(np.abs(a[ok] - b[ok]) / scale)) if ok.any() else 0.0
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7500)
    parser.add_argument("--window", type=int, default=504)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--horizon", type=int, default=21)
    parser.add_argument("--naive-refits", type=int, default=6, help="refits the naive loop runs (then extrapolated)")
    parser.add_argument("--part", choices=["volbook", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        run = run_volbook if args.part == "volbook" else run_naive
        print(json.dumps(run(args, args.work)))
        return 0

    from volbook.data import simulate_panel

    with tempfile.TemporaryDirectory(prefix="panel-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        simulate_panel(args.assets, args.days, 0).panel.write_parquet(work / "panel.parquet")
        print(f"synthetic panel: {args.assets} assets x {args.days} days = {args.assets * args.days:,} rows "
              f"(simulated and written in {time.perf_counter() - t0:.1f} s)")
        load = os.getloadavg()[0]
        ours = _child("volbook", args, work)
        naive = _child("naive", args, work)
        feat_diff = _largest_difference(
            pl.read_parquet(work / "volbook_features.parquet"), pl.read_parquet(work / "naive_features.parquet"),
            [*VOLS, "vol_252", "log_mcap", "market_vol", "group_risk", "target"])
        fc_diff = _largest_difference(
            pl.read_parquet(work / "volbook_forecasts.parquet"), pl.read_parquet(work / "naive_forecasts.parquet"),
            ours["models"])

    refits = ours["refits"]
    ran = naive["refits_run"]
    per_refit = naive["loop_s"] / ran
    per_refit_cpu = naive["loop_cpu"] / ran
    naive_total = naive["features_s"] + per_refit * refits
    naive_total_cpu = naive["features_cpu"] + per_refit_cpu * refits
    ours_total = ours["features_s"] + ours["wf_s"]
    ours_total_cpu = ours["features_cpu"] + ours["wf_cpu"]
    print(f"{ours['rows']:,} forecast rows x {len(ours['models'])} models, {refits} refits "
          f"(window {args.window}, every {args.every}, h = {args.horizon}); 1-minute load average "
          f"{load:.1f} on {os.cpu_count()} cores when it started (other processes share the machine)\n")
    rows = [
        ["volbook features", f"{ours['features_s']:.1f}", f"{ours['features_cpu']:.1f}", ""],
        ["volbook walk-forward", f"{ours['wf_s']:.1f}", f"{ours['wf_cpu']:.1f}", ""],
        ["volbook total", f"{ours_total:.1f}", f"{ours_total_cpu:.1f}", f"{ours['peak_gb']:.2f}"],
        ["naive features", f"{naive['features_s']:.1f}", f"{naive['features_cpu']:.1f}", ""],
        [f"naive loop, {ran} refits", f"{naive['loop_s']:.1f}", f"{naive['loop_cpu']:.1f}", ""],
        [f"  of which per-asset fits", f"{naive['per_asset_s']:.1f}", "", ""],
        [f"naive total, {refits} refits (extrapolated)", f"{naive_total:.0f}", f"{naive_total_cpu:.0f}",
         f"{naive['peak_gb']:.2f}"],
    ]
    print_table(["run", "wall s", "cpu s", "peak GB"], rows)
    print(f"\nspeed-up (naive / volbook): {naive_total / ours_total:.0f}x wall, {naive_total_cpu / ours_total_cpu:.0f}x cpu;"
          f" walk-forward alone: {per_refit * refits / ours['wf_s']:.0f}x wall")
    print(f"targets: volbook {ours_total:.1f} s (< 60), {ours['peak_gb']:.2f} GB (< 4)")
    worst_feature = max(feat_diff.values())
    print(f"\nlargest relative difference, features (all rows): {worst_feature:.1e}")
    print("largest relative difference, forecasts (rows of the first "
          f"{ran} refits): " + ", ".join(f"{k} {v:.1e}" for k, v in fc_diff.items()))
    ok = worst_feature < FEATURE_RTOL and max(fc_diff.values()) < RTOL
    print("answers agree" if ok else "ANSWERS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
