"""GradBench ``ht``: hand tracking (ADBench), the ``objective`` (3-d residuals between
observed points and a skinned hand model) and its dense ``jacobian`` (graphc AD).

Input (GradBench's ``HandInput``): ``theta`` (26 pose parameters), ``us`` (``npts×2``
barycentric coordinates; empty for the "simple" variant), and ``data``: ``points``
(``npts×3``), ``correspondences`` (vertex, or triangle for "complicated", of each
point) and the ``model`` (``bone_count`` B, ``parents``, ``base_relatives`` and
``inverse_base_absolutes`` (B×4×4), ``base_positions`` (V×4), ``weights`` (V×B),
``triangles``).

The formula is GradBench's PyTorch tool's (``ht_objective.py``), traced from Python
(``graphc.numpy``): pose parameters from ``theta`` (a constant linear map, built with
NumPy), one Euler rotation per bone (``(Rz @ Ry) @ Rx``, batched ``matmul`` over the
bones), the bone chain ``absolute_i = absolute_parent(i) @ relative_i`` as one batched
product per level of the tree (the hand: 4 levels; parents gathered by constant
indices), linear-blend skinning (``W @ T``), a global angle-axis rotation, scale and
translation. Each point's vertex, or its triangle's three vertices, is picked by a
``gather`` with the correspondences, passed as an input of floats holding integers
(the triangles too, gathered by them in the kernel), so a kernel depends only on the
sizes (B, V, number of triangles, npts), not on the data: when the points pick fewer
rows than the model has vertices (``3·npts < V``), the rows of ``W`` and
``base_positions`` are gathered and only those are skinned; otherwise all V vertices
are posed and then gathered.

Jacobian: one kernel, one call. The ``theta`` part is :func:`graphc.jacfwd` inside the
traced function (a forward-mode product whose seed is batched over the 26 directions,
``out.shape + in.shape`` = ``(npts, 3, 26)``); for "complicated", the block-diagonal
``us`` part comes from two forward-mode products (:func:`graphc.jvp`) with the ``us``
tangent all ones in column 0, then column 1 (each point's residual depends only on its
own ``u``); the kernel concatenates them into GradBench's layout, rows ``3i + k``,
columns ``[us part (2), theta part (26)]``.

Timings (one thread, ``GRAPHC_NUM_THREADS=OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1``,
GradBench's "big" model (V = 10,000, B = 22), "complicated"; 2-vCPU VM with another
benchmark on the other vCPU, load average 2.0–2.3; ``GRAPHC_DISK_CACHE=0``; per call:
the fastest of 10 calls (before: of 3); compile: preparing the input, tracing and
compiling the kernel, i.e. the first call's time less one call's):

| input | objective before → now | jacobian before → now | compile (obj / jac) before → now |
|---|---|---|---|
| hand1 (100 points) | 3.3 ms → 0.63 ms | 203 ms → 1.6 ms | 1.2 s / 2.9 s → 1.5 s / 2.4 s |
| hand8 (6,400) | 271 ms → 1.2 ms | 14.9 s → 18 ms | 4.2 s / 7.0 s → 1.4 s / 2.6 s |
| hand11 (51,200) | 2.2 s → 3.4 ms | 125 s → 60 ms | ≈25 s → 1.5 s / 2.9 s |

(before: the previous version, which picked vertices by products with dense one-hot
``npts×V`` matrices and called the forward-mode kernel once per direction, 28 calls;
its hand11 figures are from an earlier measurement.) Of the 60 ms at hand11, about 20 ms
is the batched tangents' ``(26, npts, 3)`` → ``(npts, 3, 26)`` transpose into the output
layout, 15 ms the skinning's tangents (``W @ dT`` over 26 directions), 4 ms the ``us``
part and the rest the gathers and sums of the 26 tangents of each point. GradBench's
"simple" data go up to hand12 (100,000 points), for which a one-hot matrix would take
8 GB.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc
import graphc.numpy as gnp

NTHETA = 26


def pose_map(nbones: int) -> tuple[np.ndarray, np.ndarray]:
    """``(M, c)`` with ``pose_params = (M @ theta).reshape(nbones + 3, 3) + c``, the
    layout of ADBench's ``to_pose_params`` (global rotation, scale = 1, translation,
    then per finger bone one or two angles)."""
    rows = nbones + 3
    M = np.zeros((rows * 3, NTHETA))
    c = np.zeros((rows, 3))
    for j in range(3):
        M[0 * 3 + j, j] = 1.0
        M[2 * 3 + j, 3 + j] = 1.0
    c[1, :] = 1.0
    i_theta, i_pose = 6, 5
    for _finger in range(5):
        for i in (1, 2, 3):
            M[i_pose * 3 + 0, i_theta] = 1.0
            i_theta += 1
            if i == 1:
                M[i_pose * 3 + 1, i_theta] = 1.0
                i_theta += 1
            i_pose += 1
        i_pose += 1
    return M, c


def levels(parents: tuple) -> list[list[int]]:
    """The bones grouped by depth in the tree (roots first); every bone's parent is in
    an earlier group."""
    depth: dict[int, int] = {}

    def d(i: int) -> int:
        if i not in depth:
            depth[i] = 0 if parents[i] == -1 else d(parents[i]) + 1
        return depth[i]
    for i in range(len(parents)):
        d(i)
    return [[i for i in range(len(parents)) if depth[i] == k]
            for k in range(max(depth.values()) + 1)]


def _mat3(entries, n: int):
    """A stack of ``n`` 3×3 matrices from 9 graph values of shape ``(n,)`` (row major)."""
    return gnp.reshape(gnp.stack(entries, axis=1), (n, 3, 3))


def skinned(theta, BR, IBA, W, BP, mirror, parents: tuple):
    """The posed vertices ``verts`` (rows of ``W``/``BP``: V×3) for pose ``theta``: pose
    parameters, one Euler rotation per bone, the bone chain (one batched product per
    tree level), linear-blend skinning, then the global rotation, scale and
    translation (GradBench's PyTorch ``get_skinned_vertex_positions``)."""
    B = len(parents)
    M, c = pose_map(B)
    pp = gnp.reshape(M @ theta, (B + 3, 3)) + c
    # Euler angles, xzy order: (Rz @ Ry) @ Rx per bone
    tx, tz, ty = pp[3:, 0], pp[3:, 1], pp[3:, 2]
    cx, sx, cy, sy, cz, sz = (gc.cos(tx), gc.sin(tx), gc.cos(ty), gc.sin(ty),
                              gc.cos(tz), gc.sin(tz))
    zero = 0 * cx
    one = zero + 1
    Rx = _mat3([one, zero, zero, zero, cx, -sx, zero, sx, cx], B)
    Ry = _mat3([cy, zero, -sy, zero, one, zero, sy, zero, cy], B)
    Rz = _mat3([cz, -sz, zero, sz, cz, zero, zero, zero, one], B)
    R = gnp.matmul(gnp.matmul(Rz, Ry), Rx)
    # relative_i = base_relative_i @ [[R, 0], [0, 1]]
    rel = gnp.concatenate([gnp.matmul(BR[:, :, 0:3], R), BR[:, :, 3:4]], axis=2)
    # absolute_i = absolute_parent(i) @ relative_i, one batched product per tree level
    order: list[int] = []
    A = None
    for group in levels(parents):
        r = rel[np.array(group)]
        if A is None:
            A = r
        else:
            at = [order.index(parents[i]) for i in group]
            A = gnp.concatenate([A, gnp.matmul(A[np.array(at)], r)], axis=0)
        order += group
    absolutes = A[np.argsort(order)] if order != list(range(B)) else A
    T = gnp.matmul(absolutes, IBA)                            # (B, 4, 4)
    T12 = gnp.reshape(T[:, 0:3, :], (B, 12))
    Tw = gnp.reshape(W @ T12, (W.shape[0], 3, 4))             # blended transforms
    pos = gnp.sum(Tw * gnp.reshape(BP, (BP.shape[0], 1, 4)), axis=2) * mirror
    # global transform: angle-axis rotation, scale, translation
    aa = pp[0]
    nrm = gc.sqrt(gnp.sum(aa * aa))
    small = nrm < 0.0001
    ua = aa / gc.where(small, 1, nrm)
    x, y, z = ua[0], ua[1], ua[2]
    s, co = gc.sin(nrm), gc.cos(nrm)
    Rfull = gnp.reshape(gnp.stack([
        x * x + (1 - x * x) * co, x * y * (1 - co) - z * s, x * z * (1 - co) + y * s,
        x * y * (1 - co) + z * s, y * y + (1 - y * y) * co, y * z * (1 - co) - x * s,
        x * z * (1 - co) - y * s, z * y * (1 - co) + x * s, z * z + (1 - z * z) * co]),
        (3, 3))
    Rg = gc.where(small, np.eye(3), Rfull) * pp[1]
    return pos @ gnp.transpose(Rg) + pp[2]


def residuals(theta, us, P, BR, IBA, W, BP, mirror, corr, triangles, parents: tuple,
              gather_first: bool):
    """``err`` (npts×3): the points ``P`` minus their model points. ``corr`` (npts,
    floats holding integers) is each point's vertex ("simple": ``us`` and ``triangles``
    are None) or triangle (a row of ``triangles``, F×3, gathered; its vertices weighted
    by the barycentric ``us``, npts×2). The vertices are picked by a gather: of the rows
    of ``W`` and ``BP`` before skinning (``gather_first``, when fewer rows are picked
    than the model has vertices), or of the posed vertices after."""
    idx = corr if triangles is None else gnp.take(triangles, corr, axis=0)
    k = 1 if triangles is None else 3
    flat = gnp.reshape(idx, (-1,))
    if gather_first:
        V = skinned(theta, BR, IBA, gnp.take(W, flat, axis=0), gnp.take(BP, flat, axis=0),
                    mirror, parents)
    else:
        V = gnp.take(skinned(theta, BR, IBA, W, BP, mirror, parents), flat, axis=0)
    if k == 1:
        return P - V
    V = gnp.reshape(V, (-1, 3, 3))
    u0, u1 = us[:, 0:1], us[:, 1:2]
    return P - (u0 * V[:, 0] + u1 * V[:, 1] + (1 - u0 - u1) * V[:, 2])


@lru_cache(maxsize=None)
def kernels(parents: tuple, nverts: int, npts: int, ntris: int):
    """``(objective, jacobian)`` kernels for this model and number of points; ``ntris``
    is 0 for "simple" (no ``us``). Both take the same inputs; the Jacobian's output is
    the ``3·npts × ([2 +] 26)`` matrix in GradBench's layout."""
    B = len(parents)
    complicated = ntris > 0
    gather_first = npts * (3 if complicated else 1) < nverts
    shapes = dict(theta=(NTHETA,), P=(npts, 3), BR=(B, 4, 4), IBA=(B, 4, 4),
                  W=(nverts, B), BP=(nverts, 4), mirror=(1, 3), corr=(npts,))
    if complicated:
        shapes.update(us=(npts, 2), triangles=(ntris, 3))

    def err(theta, P, BR, IBA, W, BP, mirror, corr, us=None, triangles=None):
        return residuals(theta, us, P, BR, IBA, W, BP, mirror, corr, triangles, parents,
                         gather_first)

    def jac(theta, P, BR, IBA, W, BP, mirror, corr, us=None, triangles=None):
        rest = (P, BR, IBA, W, BP, mirror, corr)
        # theta part: one forward-mode product with the seed batched over 26 directions
        J = gc.jacfwd(lambda th: err(th, *rest, us, triangles))(theta)   # (npts, 3, 26)
        if complicated:
            # us part: point i's residual depends only on its own u_i, so the tangent
            # with every u_i = e_j is column j of its 3×2 block
            def f_us(u):
                return err(theta, *rest, u, triangles)
            cols = [gc.jvp(f_us, (us,), (0 * us + e,))[1]
                    for e in (np.array([1.0, 0.0]), np.array([0.0, 1.0]))]
            J = gnp.concatenate([gnp.stack(cols, axis=2), J], axis=2)
        return gnp.reshape(J, (-1, J.shape[2]))

    names = list(shapes)
    return (gc.compile(gc.function(err, shapes=shapes, inputs=names)),
            gc.compile(gc.function(jac, shapes=shapes, inputs=names)))


def _inputs(input):
    model = input["data"]["model"]
    parents = tuple(int(p) for p in model["parents"])
    B = len(parents)
    BP = np.asarray(model["base_positions"], dtype=np.float64).reshape(-1, 4)
    V = BP.shape[0]
    P = np.asarray(input["data"]["points"], dtype=np.float64).reshape(-1, 3)
    us = np.asarray(input.get("us", []), dtype=np.float64)
    args = dict(theta=np.asarray(input["theta"], dtype=np.float64), P=P,
                BR=np.asarray(model["base_relatives"], dtype=np.float64).reshape(B, 4, 4),
                IBA=np.asarray(model["inverse_base_absolutes"],
                               dtype=np.float64).reshape(B, 4, 4),
                W=np.asarray(model["weights"], dtype=np.float64).reshape(V, B), BP=BP,
                mirror=np.array([[-1.0 if model.get("is_mirrored") else 1.0, 1.0, 1.0]]),
                corr=np.asarray(input["data"]["correspondences"],
                                dtype=np.float64).reshape(-1))
    ntris = 0
    if us.size > 0:
        args["us"] = us.reshape(-1, 2)
        args["triangles"] = np.asarray(model["triangles"], dtype=np.float64).reshape(-1, 3)
        ntris = args["triangles"].shape[0]
    return (parents, V, P.shape[0], ntris), args


def objective(input):
    """The residuals, flattened (``3·npts`` floats)."""
    key, args = _inputs(input)
    k = kernels(*key)[0]
    return (lambda: k(**args)), lambda e: np.asarray(e).reshape(-1).tolist()


def jacobian(input):
    """The ``3·npts × ([2 +] 26)`` Jacobian as a list of rows: for "complicated", the
    ``us`` part (2 columns) then the ``theta`` part, as GradBench's tools lay it out."""
    key, args = _inputs(input)
    k = kernels(*key)[1]
    return (lambda: k(**args)), lambda J: np.asarray(J).tolist()


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
