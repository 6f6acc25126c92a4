"""Coefficient regimes: rolling HAR coefficients -> PCA -> Bayesian Gaussian mixture -> weights.

On the training rows of one window (rows s with regressors ``X[s]`` and response ``y[s]``, all
known at the origin):

1. :func:`rolling_coefficients` estimates the regression by OLS on windows of ``length`` rows
   whose last rows are the last training row, then every ``step`` rows earlier;
2. :func:`coefficient_regime_weights` standardises those coefficient vectors (mean 0, standard
   deviation 1 per coefficient over the windows), projects them on their first ``n_pca``
   principal components, and fits scikit-learn's ``BayesianGaussianMixture`` (Dirichlet-process
   prior, full covariances, at most ``n_regimes`` components, seeded). Each window gets the
   mixture's responsibilities; each row the mean responsibilities of the windows that contain
   it (rows before the first window take the first window's). Components whose mean weight over
   the rows is below ``min_weight`` are dropped and the rest renormalised; components are
   numbered by the weighted mean of ``level`` (0 = calmest).

The row weights then weight one least-squares regression per regime (as for the soft EM).
"""

from __future__ import annotations

import numpy as np

from volbook.errors import DataError, ParameterError

__all__ = ["coefficient_regime_weights", "rolling_coefficients"]


def rolling_coefficients(X: np.ndarray, y: np.ndarray, *, length: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients on windows of ``length`` rows ending at the last row and every ``step`` earlier.

    Returns ``(ends, coefs)``: the index of each window's last row (ascending) and its
    coefficients, shape (n_windows, p).
    """
    n = y.size
    if length < 2 * X.shape[1] or step < 1:
        raise ParameterError(f"window length {length} must be at least {2 * X.shape[1]} rows and step >= 1")
    if n < length:
        raise DataError(f"coefficient clustering: {n} training rows, fewer than one window of {length}")
    ends = np.arange(n - 1, length - 2, -step)[::-1]
    # windows as cumulative cross-products: G_e - G_{e-length}
    XX = np.einsum("ni,nj->nij", X, X)
    cG = np.concatenate([np.zeros((1,) + XX.shape[1:]), np.cumsum(XX, axis=0)])
    cb = np.concatenate([np.zeros((1, X.shape[1])), np.cumsum(X * y[:, None], axis=0)])
    G = cG[ends + 1] - cG[ends + 1 - length]
    b = cb[ends + 1] - cb[ends + 1 - length]
    return ends, np.linalg.solve(G, b[:, :, None])[:, :, 0]


def coefficient_regime_weights(
    ends: np.ndarray,
    coefs: np.ndarray,
    n_rows: int,
    length: int,
    level: np.ndarray,
    *,
    n_regimes: int = 3,
    n_pca: int = 2,
    min_weight: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Soft regime weights (n_rows, K) of the training rows, and the window responsibilities.

    See the module docstring. ``level`` (per row) only numbers the regimes.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import BayesianGaussianMixture

    sd = coefs.std(axis=0)
    Z = (coefs - coefs.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    scores = PCA(n_components=min(n_pca, Z.shape[1], Z.shape[0]), random_state=seed).fit_transform(Z)
    k = min(n_regimes, ends.size)
    bgm = BayesianGaussianMixture(n_components=k, covariance_type="full", weight_concentration_prior_type="dirichlet_process",
                                  max_iter=500, random_state=seed, reg_covar=1e-4)
    resp = bgm.fit(scores).predict_proba(scores)
    # rows: mean responsibilities of the windows that contain them
    diff = np.zeros((n_rows + 1, k))
    count = np.zeros(n_rows + 1)
    np.add.at(diff, ends - length + 1, resp)
    np.add.at(diff, ends + 1, -resp)
    np.add.at(count, ends - length + 1, 1.0)
    np.add.at(count, ends + 1, -1.0)
    S, C = np.cumsum(diff, axis=0)[:n_rows], np.cumsum(count)[:n_rows]
    first = ends[0] - length + 1
    S[:first], C[:first] = resp[0], 1.0
    W = np.maximum(S, 0.0) / C[:, None]  # cumulative sums leave -1e-17 where a weight is 0
    keep = W.mean(axis=0) >= min_weight
    if not keep.any():
        keep[np.argmax(W.mean(axis=0))] = True
    W, resp = W[:, keep], resp[:, keep]
    W /= W.sum(axis=1, keepdims=True)
    resp = resp / np.maximum(resp.sum(axis=1, keepdims=True), 1e-300)
    order = np.argsort((W * level[:, None]).sum(axis=0) / W.sum(axis=0), kind="stable")
    return W[:, order], resp[:, order]
