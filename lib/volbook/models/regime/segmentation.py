"""Distributional regimes: Mood-test segmentation, Wasserstein distances, spectral clustering.

Applied to the daily returns of a training window (all days known at its origin):

1. :func:`segment_by_scale` cuts the series where its scale changes. Binary segmentation: in a
   segment of N days, every split point m with at least ``min_size`` days on each side is scored
   by Mood's two-sample scale statistic (first m days against the rest); the best split is kept if
   its two-sided normal p-value, multiplied by the number of split points tried (Bonferroni),
   is below ``alpha``; both halves are then searched again. The maximum over many correlated
   splits is not Mood-distributed: Bonferroni makes the rule conservative, not exact. Mood's test
   compares dispersion around a common median, right for daily returns (median ~ 0).
2. :func:`cluster_segments` compares the segments' empirical distributions by the 1-Wasserstein
   distance, turns distances into affinities ``exp(-(D / delta)^2)`` with ``delta`` the median
   off-diagonal distance, and groups them by spectral clustering (scikit-learn, seeded, k-means
   label assignment). Clusters are numbered by the mean of ``level`` over their days (cluster 0
   the calmest), so that numbering does not depend on the clustering's arbitrary order.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from scipy.stats import rankdata, wasserstein_distance

from volbook.errors import ParameterError

__all__ = ["cluster_segments", "mood_split_statistics", "segment_by_scale"]


def mood_split_statistics(x: np.ndarray) -> np.ndarray:
    """Mood's Z statistic for every split of ``x``: element m-1 tests ``x[:m]`` against ``x[m:]``.

    The pooled ranks R do not depend on the split, so ``M(m) = sum_{i<m} (R_i - (N+1)/2)^2`` is a
    cumulative sum; ``E M = m (N^2 - 1) / 12`` and ``Var M = m (N - m) (N + 1) (N^2 - 4) / 180``
    (no tie correction: returns are continuous). Equal to ``scipy.stats.mood(x[:m], x[m:])``'s
    statistic, for all N - 1 splits at once. Positive Z: the first part is more dispersed.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    r = rankdata(x)
    M = np.cumsum((r - (n + 1) / 2.0) ** 2)[:-1]
    m = np.arange(1, n)
    mean = m * (n * n - 1) / 12.0
    var = m * (n - m) * (n + 1) * (n * n - 4) / 180.0
    return (M - mean) / np.sqrt(var)


def segment_by_scale(x: np.ndarray, *, min_size: int = 60, alpha: float = 0.01) -> np.ndarray:
    """Boundaries of scale-homogeneous segments of ``x`` by Mood-test binary segmentation.

    Returns the sorted segment starts with ``len(x)`` appended: segment i is
    ``x[b[i] : b[i + 1]]``. Every segment has at least ``min_size`` days (a series shorter than
    ``2 * min_size`` is one segment). See the module docstring for the rule.
    """
    if int(min_size) < 5:
        raise ParameterError(f"min_size must be at least 5 days, got {min_size}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must lie in (0, 1), got {alpha}")
    x = np.asarray(x, dtype=float)
    cuts = [0, x.size]
    todo = [(0, x.size)]
    while todo:
        a, b = todo.pop()
        if b - a < 2 * min_size:
            continue
        z = mood_split_statistics(x[a:b])[min_size - 1 : b - a - min_size]
        best = int(np.argmax(np.abs(z)))
        p = 2.0 * ndtr(-abs(z[best])) * z.size
        if p < alpha:
            m = a + min_size + best
            cuts.append(m)
            todo += [(a, m), (m, b)]
    return np.array(sorted(cuts))


def cluster_segments(
    x: np.ndarray,
    bounds: np.ndarray,
    level: np.ndarray,
    *,
    n_clusters: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Cluster label (0 = calmest) of every segment, by Wasserstein distance + spectral clustering.

    Parameters
    ----------
    x
        The series whose per-segment distributions are compared (daily returns).
    bounds
        Output of :func:`segment_by_scale`.
    level
        A per-day volatility level (e.g. realized variance) that numbers the clusters.
    n_clusters
        Clusters wanted; with fewer segments than that, each segment is its own cluster.
    seed
        Seed of the spectral embedding and of k-means.
    """
    from sklearn.cluster import SpectralClustering

    segs = [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    k = len(segs)
    if k <= n_clusters:
        labels = np.arange(k)
    else:
        D = np.zeros((k, k))
        for i in range(k):
            for j in range(i + 1, k):
                D[i, j] = D[j, i] = wasserstein_distance(segs[i], segs[j])
        delta = np.median(D[np.triu_indices(k, 1)])
        affinity = np.exp(-((D / delta) ** 2)) if delta > 0 else np.ones((k, k))
        labels = SpectralClustering(n_clusters=n_clusters, affinity="precomputed", random_state=seed,
                                    assign_labels="kmeans", n_init=10).fit_predict(affinity)
    seg_level = np.array([level[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])])
    used = np.unique(labels)
    cluster_level = np.array([np.average(seg_level[labels == c], weights=np.diff(bounds)[labels == c]) for c in used])
    rank = {c: i for i, c in enumerate(used[np.argsort(cluster_level, kind="stable")])}
    return np.array([rank[c] for c in labels])
