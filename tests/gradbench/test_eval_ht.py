"""graphc's GradBench ``ht`` eval (hand tracking) at small sizes against a NumPy port of
ADBench's hand objective (GradBench's PyTorch tool's formula) and central finite
differences of it, on random 22-bone hand models, both variants ("simple": vertex
correspondences; "complicated": barycentric points on triangles, with ``us``)."""

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


HAND_PARENTS = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19, 0]


def _hand_input(seed, npts, nverts, complicated):
    """A random hand model with GradBench's 22-bone skeleton (small: nverts vertices)."""
    rng = np.random.default_rng(seed)
    B = len(HAND_PARENTS)

    def affine():
        A = np.eye(4)
        A[:3, :3] += 0.3 * rng.normal(size=(3, 3))
        A[:3, 3] = rng.normal(size=3)
        return A
    W = rng.random((nverts, B))
    W /= W.sum(axis=1, keepdims=True)
    BP = np.concatenate([rng.normal(size=(nverts, 3)), np.ones((nverts, 1))], axis=1)
    tris = rng.integers(0, nverts, size=(2 * nverts, 3))
    corr = rng.integers(0, len(tris) if complicated else nverts, size=npts)
    model = {"bone_count": B, "parents": HAND_PARENTS,
             "base_relatives": [affine().tolist() for _ in range(B)],
             "inverse_base_absolutes": [affine().tolist() for _ in range(B)],
             "base_positions": BP.tolist(), "weights": W.tolist(),
             "triangles": tris.tolist(), "is_mirrored": False}
    return {"theta": (0.5 * rng.normal(size=26)).tolist(),
            "us": rng.random((npts, 2)).tolist() if complicated else [],
            "data": {"model": model, "correspondences": corr.tolist(),
                     "points": rng.normal(size=(npts, 3)).tolist()}}


def _euler(xzy):
    tx, ty, tz = xzy[0], xzy[2], xzy[1]
    Rx = np.array([[1, 0, 0], [0, np.cos(tx), -np.sin(tx)], [0, np.sin(tx), np.cos(tx)]])
    Ry = np.array([[np.cos(ty), 0, -np.sin(ty)], [0, 1, 0], [np.sin(ty), 0, np.cos(ty)]])
    Rz = np.array([[np.cos(tz), -np.sin(tz), 0], [np.sin(tz), np.cos(tz), 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def _hand_residuals(inp, theta, us):
    """ADBench's hand objective (GradBench's PyTorch tool), ported to NumPy loops."""
    model = inp["data"]["model"]
    B = model["bone_count"]
    pose = np.zeros((B + 3, 3))
    pose[0], pose[1], pose[2] = theta[0:3], 1.0, theta[3:6]
    i_theta, i_pose = 6, 5
    for _ in range(5):
        for i in (1, 2, 3):
            pose[i_pose, 0] = theta[i_theta]
            i_theta += 1
            if i == 1:
                pose[i_pose, 1] = theta[i_theta]
                i_theta += 1
            i_pose += 1
        i_pose += 1
    BR = np.asarray(model["base_relatives"])
    IBA = np.asarray(model["inverse_base_absolutes"])
    absolutes = []
    for i, p in enumerate(model["parents"]):
        tr = np.eye(4)
        tr[:3, :3] = _euler(pose[3 + i])
        rel = BR[i] @ tr
        absolutes.append(rel if p == -1 else absolutes[p] @ rel)
    BP, W = np.asarray(model["base_positions"]), np.asarray(model["weights"])
    pos = sum(W[:, i:i + 1] * (absolutes[i] @ IBA[i] @ BP.T).T for i in range(B))[:, :3]
    aa = pose[0]
    n = np.linalg.norm(aa)
    if n < 1e-4:
        R = np.eye(3)
    else:
        x, y, z = aa / n
        s, c = np.sin(n), np.cos(n)
        R = np.array([[x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
                      [x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s],
                      [x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c]])
    verts = (R * pose[1]) @ pos.T
    verts = verts.T + pose[2]
    P = np.asarray(inp["data"]["points"])
    corr = inp["data"]["correspondences"]
    if us is None:
        return np.concatenate([P[i] - verts[c] for i, c in enumerate(corr)])
    tris = np.asarray(model["triangles"])
    out = []
    for i, c in enumerate(corr):
        t = tris[c]
        u = us[i]
        out.append(P[i] - (u[0] * verts[t[0]] + u[1] * verts[t[1]]
                           + (1 - u[0] - u[1]) * verts[t[2]]))
    return np.concatenate(out)


@pytest.mark.parametrize("seed,npts,nverts,complicated",
                         [(0, 3, 5, False), (1, 4, 7, True)])
def test_ht(seed, npts, nverts, complicated):
    inp = _hand_input(seed, npts, nverts, complicated)
    theta = np.asarray(inp["theta"])
    us = np.asarray(inp["us"]) if complicated else None
    np.testing.assert_allclose(call("ht", "objective", inp), _hand_residuals(inp, theta, us),
                               rtol=1e-10, atol=1e-12)
    J = np.asarray(call("ht", "jacobian", inp))
    Jtheta = np.stack([central_diff(lambda t: _hand_residuals(inp, t, us)[r], theta)
                       for r in range(3 * npts)])
    np.testing.assert_allclose(J[:, -26:], Jtheta, rtol=1e-5, atol=1e-6)
    if complicated:  # the us part: row 3i+k holds d err_{i,k} / d (u_i0, u_i1)
        assert J.shape == (3 * npts, 28)
        for col in range(2):
            e = np.zeros_like(us)
            e[:, col] = 1e-6
            Jus = (_hand_residuals(inp, theta, us + e) - _hand_residuals(inp, theta, us - e)) / 2e-6
            np.testing.assert_allclose(J[:, col], Jus, rtol=1e-5, atol=1e-6)
    else:
        assert J.shape == (3 * npts, 26)
