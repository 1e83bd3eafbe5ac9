"""GradBench ``ba``: bundle adjustment (ADBench), the ``objective`` (reprojection and
weight errors) and its sparse ``jacobian`` (graphc AD).

Input: ``{"n", "m", "p", "cam": 11 floats, "x": 3 floats, "w": float, "feat": 2 floats,
"min_runs", "min_seconds"}``: ``n`` cameras, ``m`` points and ``p`` observations, all
copies of the one camera/point/weight/feature given; observation ``i`` sees camera
``i mod n`` and point ``i mod m`` (as GradBench's tools build it). A camera is
``[rotation (3, Rodrigues), centre (3), focal length, principal point (2), radial
distortion (2)]``.

The reprojection error is written once over all observations (arrays of ``p`` rows,
the camera and point of each observation gathered with NumPy indexing beforehand:
graphc has no gather primitive) and differentiated with graphc's reverse mode with a
cotangent input (:func:`graphc.vjp`): two calls, with cotangents ``(1, 0)`` and
``(0, 1)`` on every row, give all ``p`` 2×15 blocks at once, since each row depends
only on its own observation's camera, point and weight. The weight error ``1 - w²`` is
elementwise, so its derivative is ``gc.grad`` of its sum. The blocks are assembled into
ADBench's compressed-row matrix (``rows``, ``cols``, ``vals``; reprojection rows then
weight rows) and, as GradBench's tools return it, only its first 30 entries and the
last are sent.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc

NCAM = 11

SOURCE = """
rot = cam[:, 0:3]
Xo = X - cam[:, 3:6]
sqtheta = sum(rot ^ 2, axis=1, keepdims=True)
big = sqtheta > 0
theta = sqrt(where(big, sqtheta, 1))
u = rot / theta
c = cos(theta)
s = sin(theta)
ux = u[:, 0:1]
uy = u[:, 1:2]
uz = u[:, 2:3]
px = Xo[:, 0:1]
py = Xo[:, 1:2]
pz = Xo[:, 2:3]
ucross = concatenate(uy * pz - uz * py, uz * px - ux * pz, ux * py - uy * px, axis=1)
rx = rot[:, 0:1]
ry = rot[:, 1:2]
rz = rot[:, 2:3]
rcross = concatenate(ry * pz - rz * py, rz * px - rx * pz, rx * py - ry * px, axis=1)
rotated = Xo * c + ucross * s + u * (sum(u * Xo, axis=1, keepdims=True) * (1 - c))
Xcam = where(big, rotated, Xo + rcross)
proj = Xcam[:, 0:2] / Xcam[:, 2:3]
rsq = sum(proj ^ 2, axis=1, keepdims=True)
L = 1 + cam[:, 9:10] * rsq + cam[:, 10:11] * rsq * rsq
err = w * (proj * L * cam[:, 6:7] + cam[:, 7:9] - feat)
"""
"""The reprojection error of every observation: ``cam`` (p, 11), ``X`` (p, 3), ``w``
(p, 1), ``feat`` (p, 2) -> ``err`` (p, 2); ADBench's ``computeReprojError``."""


@lru_cache(maxsize=None)
def kernels():
    """``(reprojection error, its VJP, weight error, its derivative)`` kernels over a
    symbolic number of observations ``p``."""
    shapes = dict(cam=("p", NCAM), X=("p", 3), w=("p", 1), feat=("p", 2))
    err = gc.parse(SOURCE, **shapes)
    werr = gc.parse("werr = 1 - w ^ 2", w=("p",))
    total = gc.parse("total = sum(1 - w ^ 2)", w=("p",))
    return (gc.compile(err), gc.compile(gc.vjp(err, wrt=["cam", "X", "w"])),
            gc.compile(werr), gc.compile(gc.grad(total, wrt="w")))


def _inputs(input):
    n, m, p = int(input["n"]), int(input["m"]), int(input["p"])
    i = np.arange(p)
    cam_idx, pt_idx = i % n, i % m
    cams = np.tile(np.asarray(input["cam"], dtype=np.float64), (n, 1))
    X = np.tile(np.asarray(input["x"], dtype=np.float64), (m, 1))
    w = np.full(p, float(input["w"]))
    feats = np.tile(np.asarray(input["feat"], dtype=np.float64), (p, 1))
    return dict(n=n, m=m, p=p, cam_idx=cam_idx, pt_idx=pt_idx, cams=cams, X=X, w=w,
                feats=feats)


def objective(input):
    """``{"reproj_error": {"elements": first 2, "repeated": p}, "w_err": {"element",
    "repeated": p}}`` (GradBench's compressed form of the ``2p`` and ``p`` errors)."""
    d = _inputs(input)
    k_err, _, k_werr, _ = kernels()

    def run():
        err = k_err(cam=d["cams"][d["cam_idx"]], X=d["X"][d["pt_idx"]],
                    w=d["w"][:, None], feat=d["feats"])
        return np.asarray(err).reshape(-1), np.asarray(k_werr(w=d["w"]))

    def post(r):
        err, werr = r
        return {"reproj_error": {"elements": err[:2].tolist(), "repeated": err.size // 2},
                "w_err": {"element": float(werr[0]), "repeated": int(werr.size)}}
    return run, post


def jacobian(input):
    """The first 30 and the last entries of the Jacobian's ``rows``, ``cols``, ``vals``
    (ADBench's compressed-row layout of the ``3p × (11n + 3m + p)`` matrix)."""
    d = _inputs(input)
    _, k_vjp, _, k_dw = kernels()
    n, m, p = d["n"], d["m"], d["p"]

    def run():
        args = dict(cam=d["cams"][d["cam_idx"]], X=d["X"][d["pt_idx"]],
                    w=d["w"][:, None], feat=d["feats"])
        blocks = []
        for r in range(2):
            bar = np.zeros((p, 2))
            bar[:, r] = 1.0
            _, (cam_bar, X_bar, w_bar) = k_vjp(err_bar=bar, **args)
            blocks.append(np.concatenate([cam_bar, X_bar, w_bar], axis=1))  # (p, 15)
        vals_r = np.stack(blocks, axis=1).reshape(2 * p, 15)
        cols_obs = np.concatenate([
            NCAM * d["cam_idx"][:, None] + np.arange(NCAM),
            NCAM * n + 3 * d["pt_idx"][:, None] + np.arange(3),
            (NCAM * n + 3 * m + np.arange(p))[:, None]], axis=1)
        cols_r = np.repeat(cols_obs, 2, axis=0)
        dw = np.asarray(k_dw(w=d["w"]))
        rows = np.concatenate([np.arange(2 * p + 1) * 15,
                               30 * p + np.arange(1, p + 1)])
        cols = np.concatenate([cols_r.reshape(-1), NCAM * n + 3 * m + np.arange(p)])
        vals = np.concatenate([vals_r.reshape(-1), dw])
        return rows, cols, vals

    def post(r):
        rows, cols, vals = r
        return {"rows": [int(v) for v in np.r_[rows[:30], rows[-1]]],
                "cols": [int(v) for v in np.r_[cols[:30], cols[-1]]],
                "vals": [float(v) for v in np.r_[vals[:30], vals[-1]]]}
    return run, post


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
