"""Each graphc GradBench eval at small sizes against references outside graphc: NumPy
formulas written from the evals' definitions, and central finite differences of those
NumPy formulas for every derivative. Cases are generated over seeds and sizes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tool_client import call, tool  # noqa: E402,F401

from helpers import central_difference  # noqa: E402


def central_diff(f, x, h=1e-6):
    """Central finite differences of scalar ``f`` at array ``x`` (same shape)."""
    return central_difference(f, x, h)


CASES = [(seed, n) for seed in (0, 1, 2) for n in (1, 2, 7, 33)]


@pytest.mark.parametrize("x", [-2.5, 0.0, 1.0, 3.25])
def test_hello(x):
    assert tool.evaluate("hello", "square", x)["output"] == pytest.approx(x * x)
    assert tool.evaluate("hello", "double", x)["output"] == pytest.approx(2 * x)


def _lse(x):
    m = np.max(x)
    return float(np.log(np.sum(np.exp(x - m))) + m)


@pytest.mark.parametrize("seed,n", CASES)
def test_lse(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-100, 100, n) if seed == 2 else rng.random(n)
    inp = {"x": x.tolist()}
    assert call("lse", "primal", inp) == pytest.approx(_lse(x), rel=1e-12)
    g = np.asarray(call("lse", "gradient", inp))
    np.testing.assert_allclose(g, np.exp(x - _lse(x)), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(g, central_diff(_lse, x), rtol=1e-5, atol=1e-7)


def _llsq(x, n):
    t = -1 + np.arange(n) * 2.0 / (n - 1)
    total = 0.0
    for ti in t:
        r = np.sign(ti) - sum(x[j] * ti ** j for j in range(len(x)))
        total += r * r
    return total / 2


@pytest.mark.parametrize("seed,m,n", [(s, m, n) for s in (0, 1) for m in (1, 3, 8)
                                      for n in (2, 5, 16)])
def test_llsq(seed, m, n):
    x = np.random.default_rng(seed).random(m)
    inp = {"x": x.tolist(), "n": n}
    assert call("llsq", "primal", inp) == pytest.approx(_llsq(x, n), rel=1e-12)
    np.testing.assert_allclose(call("llsq", "gradient", inp),
                               central_diff(lambda v: _llsq(v, n), x), rtol=1e-6, atol=1e-6)


def _kmeans_cost(P, C):
    d = ((P[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    return float(d.min(axis=1).sum())


@pytest.mark.parametrize("seed,k,n,d", [(s, k, n, d) for s in (0, 1)
                                        for k, n, d in ((1, 4, 1), (3, 20, 2), (5, 40, 3))])
def test_kmeans(seed, k, n, d):
    rng = np.random.default_rng(seed)
    P = rng.random((n, d))
    C = P[-k:].copy()  # as the eval: every cluster non-empty
    inp = {"points": P.tolist(), "centroids": C.tolist()}
    assert call("kmeans", "cost", inp) == pytest.approx(_kmeans_cost(P, C), rel=1e-10)
    # dir = J/H with J the gradient and H the Hessian-vector product with ones: for the
    # k-means cost, C - (mean of each cluster's points); J also by finite differences
    J = central_diff(lambda c: _kmeans_cost(P, c), C)
    nearest = ((P[:, None, :] - C[None, :, :]) ** 2).sum(-1).argmin(axis=1)
    count = np.bincount(nearest, minlength=k)[:, None]
    means = np.stack([P[nearest == j].mean(axis=0) for j in range(k)])
    out = np.asarray(call("kmeans", "dir", inp))
    np.testing.assert_allclose(out, C - means, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out * 2 * count, J, rtol=1e-5, atol=1e-6)


def _gmm_input(seed, d, k, n, m=0, gamma=1.0):
    rng = np.random.default_rng(seed)
    return {"d": d, "k": k, "n": n, "x": rng.normal(size=(n, d)).tolist(), "m": m,
            "gamma": gamma, "alpha": rng.normal(size=k).tolist(),
            "mu": rng.uniform(size=(k, d)).tolist(), "q": rng.normal(size=(k, d)).tolist(),
            "l": rng.normal(size=(k, d * (d - 1) // 2)).tolist()}


def _gmm_log_posterior(inp, alpha, mu, q, l):
    """The GMM log-posterior from its probabilistic definition with SciPy's densities:
    mixture weights softmax(alpha), precision matrices Q_kᵀQ_k (Q_k lower triangular with
    diagonal exp q_k, below-diagonal l_k filled column by column), Wishart prior on each
    precision with d+m+1 degrees of freedom and scale I/gamma²."""
    from scipy import stats
    d, k, m, gamma = inp["d"], inp["k"], inp["m"], inp["gamma"]
    x = np.asarray(inp["x"])
    phi = np.exp(alpha - alpha.max())
    phi /= phi.sum()
    total = 0.0
    dens = np.zeros((len(x), k))
    for j in range(k):
        Q = np.diag(np.exp(q[j]))
        rows, cols = [], []
        for c in range(d - 1):
            for r in range(c + 1, d):
                rows.append(r)
                cols.append(c)
        Q[rows, cols] = l[j]
        P = Q.T @ Q
        dens[:, j] = stats.multivariate_normal(mu[j], np.linalg.inv(P)).logpdf(x)
        total += stats.wishart(df=d + m + 1, scale=np.eye(d) / gamma ** 2).logpdf(P)
    from scipy.special import logsumexp
    return total + float(logsumexp(dens + np.log(phi), axis=1).sum())


@pytest.mark.parametrize("seed,d,k,n", [(0, 1, 1, 3), (1, 2, 2, 5), (2, 3, 2, 4),
                                        (3, 3, 3, 6)])
def test_gmm(seed, d, k, n):
    inp = _gmm_input(seed, d, k, n)
    names = ("alpha", "mu", "q", "l")
    params = [np.asarray(inp[v], dtype=np.float64).reshape(s) for v, s in
              zip(names, ((k,), (k, d), (k, d), (k, d * (d - 1) // 2)))]
    assert call("gmm", "objective", inp) == pytest.approx(
        _gmm_log_posterior(inp, *params), rel=1e-9)
    jac = call("gmm", "jacobian", inp)
    for i, name in enumerate(names):
        def f(v, i=i):
            p = list(params)
            p[i] = v
            return _gmm_log_posterior(inp, *p)
        np.testing.assert_allclose(np.asarray(jac[name]).reshape(params[i].shape),
                                   central_diff(f, params[i]), rtol=1e-5, atol=1e-5)


def _rk4(x, s, tf=2.0):
    """s classical Runge-Kutta steps of y' = f(y), f(y)_0 = x_0, f(y)_i = x_i y_{i-1}."""
    def f(y):
        z = np.empty_like(y)
        z[0] = x[0]
        z[1:] = x[1:] * y[:-1]
        return z
    h, y = tf / s, np.zeros_like(x)
    for _ in range(s):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


@pytest.mark.parametrize("seed,n,s", [(0, 1, 1), (1, 2, 3), (2, 5, 1), (3, 6, 4)])
def test_ode(seed, n, s):
    x = np.random.default_rng(seed).random(n)
    inp = {"x": x.tolist(), "s": s}
    np.testing.assert_allclose(call("ode", "primal", inp), _rk4(x, s), rtol=1e-12)
    np.testing.assert_allclose(call("ode", "gradient", inp),
                               central_diff(lambda v: _rk4(v, s)[-1], x),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("seed,ell", [(s, ell) for s in (0, 1) for ell in (1, 2, 3, 4, 5)])
def test_det(seed, ell):
    A = np.random.default_rng(seed).normal(size=(ell, ell))
    inp = {"A": A.reshape(-1).tolist(), "ell": ell}
    det = np.linalg.det(A)
    assert call("det", "primal", inp) == pytest.approx(det, rel=1e-10, abs=1e-12)
    # Jacobi's formula: d det(A)/dA = det(A) A^{-T}
    np.testing.assert_allclose(call("det", "gradient", inp),
                               (det * np.linalg.inv(A).T).reshape(-1), rtol=1e-9, atol=1e-12)


def _rodrigues(rot, X):
    """Rotate ``X`` by the axis-angle vector ``rot`` (Rodrigues' formula, ADBench)."""
    theta = np.linalg.norm(rot)
    if theta == 0:
        return X + np.cross(rot, X)
    k = rot / theta
    return (X * np.cos(theta) + np.cross(k, X) * np.sin(theta)
            + k * np.dot(k, X) * (1 - np.cos(theta)))


def _reproj(cam, X, w, feat):
    """ADBench's reprojection error of one observation (NumPy)."""
    Xcam = _rodrigues(cam[0:3], X - cam[3:6])
    proj = Xcam[:2] / Xcam[2]
    rsq = proj @ proj
    proj = proj * (1 + cam[9] * rsq + cam[10] * rsq * rsq)
    return w * (proj * cam[6] + cam[7:9] - feat)


BA_CAM = [-0.758453, -1.109613, -0.845551, 34.556073, 39.676747, 53.881673, 419.194514,
          5.864426, -8.518870, 0.087812, 0.002739]  # the first camera of GradBench's ba1


@pytest.mark.parametrize("seed,n,m,p", [(0, 1, 1, 1), (1, 2, 3, 4), (2, 3, 5, 12),
                                        (3, 4, 2, 30)])
def test_ba(seed, n, m, p):
    rng = np.random.default_rng(seed)
    cam = np.asarray(BA_CAM) * (1 + 0.1 * rng.normal(size=11))
    if seed == 0:
        cam[0:3] = 0.0  # the rotation-free branch of Rodrigues' formula
    X = np.array([7.2, 0.001, 3.0]) + rng.normal(size=3)
    w, feat = float(rng.uniform(0.2, 1)), np.array([271.76, 834.2]) + rng.normal(size=2)
    inp = {"n": n, "m": m, "p": p, "cam": cam.tolist(), "x": X.tolist(), "w": w,
           "feat": feat.tolist()}
    obj = call("ba", "objective", inp)
    np.testing.assert_allclose(obj["reproj_error"]["elements"], _reproj(cam, X, w, feat),
                               rtol=1e-10)
    assert obj["reproj_error"]["repeated"] == p and obj["w_err"]["repeated"] == p
    assert obj["w_err"]["element"] == pytest.approx(1 - w * w)
    jac = call("ba", "jacobian", inp)
    # the compressed-row layout, rebuilt independently: rows of 15 entries per
    # reprojection error (camera, point, weight), then one entry per weight error
    rows = [15 * i for i in range(2 * p + 1)] + [30 * p + j for j in range(1, p + 1)]
    assert jac["rows"] == rows[:30] + [rows[-1]]
    cols = []
    for i in range(p):
        block = ([11 * (i % n) + c for c in range(11)]
                 + [11 * n + 3 * (i % m) + c for c in range(3)] + [11 * n + 3 * m + i])
        cols += block + block
    cols += [11 * n + 3 * m + i for i in range(p)]
    assert jac["cols"] == cols[:30] + [cols[-1]]
    # values: central differences of the NumPy reprojection error (relative step)
    z = np.concatenate([cam, X, [w]])
    J = np.zeros((2, 15))
    for j in range(15):
        h = 1e-6 * max(1.0, abs(z[j]))
        e = np.zeros(15)
        e[j] = h
        f = lambda v: _reproj(v[:11], v[11:14], v[14], feat)  # noqa: E731
        J[:, j] = (f(z + e) - f(z - e)) / (2 * h)
    vals = np.concatenate([J[0], J[1]] * p + [[-2 * w] * p])
    np.testing.assert_allclose(jac["vals"][:30], vals[:30], rtol=1e-5, atol=1e-6)
    assert jac["vals"][-1] == pytest.approx(-2 * w)



def _lstm_loss(MP, EP, S, SEQ):
    """ADBench's LSTM loss (GradBench's PyTorch tool's formula), ported to NumPy loops."""
    def sig(v):
        return 1 / (1 + np.exp(-v))
    nl, b = MP.shape[0] // 2, EP.shape[1]
    h = [S[2 * i].copy() for i in range(nl)]
    c = [S[2 * i + 1].copy() for i in range(nl)]
    total, count = 0.0, 0
    for t in range(len(SEQ) - 1):
        x = SEQ[t] * EP[0]
        for i in range(nl):
            gates = np.concatenate([x, h[i], x, h[i]]) * MP[2 * i] + MP[2 * i + 1]
            c[i] = c[i] * sig(gates[:b]) + sig(gates[b:2 * b]) * np.tanh(gates[3 * b:])
            h[i] = sig(gates[2 * b:3 * b]) * np.tanh(c[i])
            x = h[i]
        y = x * EP[1] + EP[2]
        total += np.sum(SEQ[t + 1] * (y - np.log(2 + np.sum(np.exp(y)))))
        count += b
    return -total / count


@pytest.mark.parametrize("seed,nl,b,c", [(0, 1, 3, 2), (1, 1, 2, 4), (2, 2, 3, 3)])
def test_lstm(seed, nl, b, c):
    rng = np.random.default_rng(seed)
    MP, EP, S = rng.random((2 * nl, 4 * b)), rng.random((3, b)), rng.random((2 * nl, b))
    SEQ = rng.integers(0, 2, (c, b)).astype(float)
    inp = {"main_params": MP.tolist(), "extra_params": EP.tolist(), "state": S.tolist(),
           "sequence": SEQ.tolist()}
    assert call("lstm", "objective", inp) == pytest.approx(_lstm_loss(MP, EP, S, SEQ),
                                                            rel=1e-12)
    g = np.concatenate([central_diff(lambda m: _lstm_loss(m, EP, S, SEQ), MP).reshape(-1),
                        central_diff(lambda e: _lstm_loss(MP, e, S, SEQ), EP).reshape(-1)])
    np.testing.assert_allclose(call("lstm", "jacobian", inp), g, rtol=1e-6, atol=1e-9)
