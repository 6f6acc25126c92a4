"""The smooth-transition variance recursion and its derivatives, compiled with numba.

One recursion serves ES, STES and XGBSTES. Row s of a sample carries the per-day variance
proxy ``p_s`` (r_s^2 or a realized measure, known at the close of s) and a gate value
``alpha_s`` in (0, 1) decided at s. The one-step forecast made at origin s is::

    v_{s+1} = alpha_s * p_s + (1 - alpha_s) * v_s,        v_0 given,

so ``v_{s+1}`` uses rows up to s only and is scored against ``y_s = p_{s+1}``. The arrays
returned here hold ``v`` with ``v[0] = v_0`` and ``v[s + 1]`` the forecast made at row s.

With ``alpha_s = logistic(z_s)`` and ``z_s = x_s' beta`` (STES, Taylor 2004), the derivative
of the forecasts with respect to beta follows the recursion itself::

    D_{s+1} = alpha_s (1 - alpha_s) (p_s - v_s) x_s + (1 - alpha_s) D_s,     D_0 = 0,

(:func:`stes_jacobian`). When the gate logits ``z_s`` are free (XGBSTES), the gradient of a
loss ``L = sum_s l(v_{s+1}, y_s)`` with respect to every ``z_t`` comes from one backward
(adjoint) pass (:func:`stes_adjoint`)::

    g_n = 0; for t = n-1 .. 0:
        g_{t+1} += e_t;  S_{t+1} += w_t          e_t = dl/dv_{t+1}, w_t a curvature weight
        d_t = (p_t - v_t) alpha_t (1 - alpha_t)
        grad_t = g_{t+1} d_t;   hess_t = max(S_{t+1} d_t^2, 1e-12)
        g_t = (1 - alpha_t) g_{t+1};   S_t = (1 - alpha_t)^2 S_{t+1}

The gradient is exact; the Hessian is a diagonal Gauss-Newton approximation (positive by
construction). Each kernel is ``numba.njit``-compiled; its plain-Python original, the same
code run by the interpreter, is ``kernel.py_func`` (the benchmarks time one against the other).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["HESS_FLOOR", "stes_filter", "stes_jacobian", "stes_adjoint"]

#: Smallest diagonal Hessian entry handed to XGBoost (rows with no loss downstream get it).
HESS_FLOOR = 1e-12


@njit(cache=True)
def stes_filter(p: np.ndarray, alpha: np.ndarray, v0: float) -> np.ndarray:  # pragma: no cover - compiled
    """``v`` of length ``n + 1``: ``v[0] = v0`` and ``v[s + 1] = alpha[s] p[s] + (1 - alpha[s]) v[s]``."""
    n = p.shape[0]
    v = np.empty(n + 1)
    v[0] = v0
    for s in range(n):
        a = alpha[s]
        v[s + 1] = a * p[s] + (1.0 - a) * v[s]
    return v


@njit(cache=True)
def stes_jacobian(p: np.ndarray, X: np.ndarray, alpha: np.ndarray, v: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``D`` of shape ``(n, k)``: row s is the derivative of ``v[s + 1]`` with respect to beta.

    ``X`` is the (n, k) gate design (constant included), ``alpha = logistic(X @ beta)`` and
    ``v`` the output of :func:`stes_filter` for the same beta.
    """
    n, k = X.shape
    D = np.empty((n, k))
    d = np.zeros(k)
    for s in range(n):
        a = alpha[s]
        g = a * (1.0 - a) * (p[s] - v[s])
        for j in range(k):
            d[j] = g * X[s, j] + (1.0 - a) * d[j]
            D[s, j] = d[j]
    return D


@njit(cache=True)
def stes_adjoint(
    p: np.ndarray, alpha: np.ndarray, v: np.ndarray, e: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Gradient and Gauss-Newton Hessian of ``sum_s l(v[s+1], y_s)`` with respect to each logit.

    ``e[s]`` is dl/dv_{s+1} and ``w[s]`` its (non-negative) curvature weight; rows that carry
    no loss have ``e = w = 0``. Returns ``(grad, hess)``, each of length n, ``hess >= HESS_FLOOR``.
    """
    n = p.shape[0]
    grad = np.empty(n)
    hess = np.empty(n)
    g = 0.0
    S = 0.0
    for t in range(n - 1, -1, -1):
        g += e[t]
        S += w[t]
        a = alpha[t]
        d = (p[t] - v[t]) * a * (1.0 - a)
        grad[t] = g * d
        h = S * d * d
        hess[t] = h if h > HESS_FLOOR else HESS_FLOOR
        g *= 1.0 - a
        S *= (1.0 - a) * (1.0 - a)
    return grad, hess
