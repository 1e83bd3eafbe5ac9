"""GradBench ``ht``: hand tracking (ADBench), the ``objective`` (3-d residuals between
observed points and a skinned hand model) and its dense ``jacobian`` (graphc AD).

Input (GradBench's ``HandInput``): ``theta`` (26 pose parameters), ``us`` (``npts×2``
barycentric coordinates; empty for the "simple" variant), and ``data``: ``points``
(``npts×3``), ``correspondences`` (vertex, or triangle for "complicated", of each
point) and the ``model`` (``bone_count`` B, ``parents``, ``base_relatives`` and
``inverse_base_absolutes`` (B×4×4), ``base_positions`` (V×4), ``weights`` (V×B),
``triangles``).

The formula is GradBench's PyTorch tool's (``ht_objective.py``): pose parameters from
``theta`` (a constant linear map, built with NumPy), one Euler rotation per bone, the
bone chain ``absolute_i = absolute_parent(i) @ relative_i`` (unrolled: B 4×4 products),
linear-blend skinning, a global angle-axis rotation, scale and translation. graphc has
no batched ``matmul`` and no gather by index arrays, so batched products are broadcast
products summed over the shared axis, and picking the corresponding vertex of each
point is a product with a constant one-hot ``npts×V`` matrix (dense: memory grows as
``npts·V``, fine for GradBench's small ht files, not for hand12).

Jacobian: forward mode (:func:`graphc.jvp` with tangent inputs), one kernel call per
``theta`` direction (26); for "complicated", two more calls with the ``us`` tangent all
ones in column 0, then column 1, which give the block-diagonal ``us`` part (each point's
residual depends only on its own ``u``), laid out as GradBench's ``[us part (2 columns),
theta part]``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc

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


def _bmm(a: str, b: str, n: int, i: int, k: int, j: int) -> str:
    """Program text of the batched product ``a @ b`` of ``(n, i, k)`` and ``(n, k, j)``."""
    return f"sum(reshape({a}, ({n}, {i}, {k}, 1)) * reshape({b}, ({n}, 1, {k}, {j})), axis=2)"


def program(parents: tuple, nverts: int, complicated: bool) -> str:
    """The residuals ``err`` (npts×3) as a graphc program."""
    B, V = len(parents), nverts
    L = [f"pp = reshape(Mpose @ theta, ({B + 3}, 3)) + cpose",
         "ex = pp[3:, 0:1]", "ez = pp[3:, 1:2]", "ey = pp[3:, 2:3]",
         "cx = cos(ex)", "sx = sin(ex)", "cy = cos(ey)", "sy = sin(ey)",
         "cz = cos(ez)", "sz = sin(ez)", "zero = 0 * cx", "one = zero + 1",
         f"Rx = reshape(concatenate(one, zero, zero, zero, cx, -sx, zero, sx, cx, axis=1), ({B}, 3, 3))",
         f"Ry = reshape(concatenate(cy, zero, -sy, zero, one, zero, sy, zero, cy, axis=1), ({B}, 3, 3))",
         f"Rz = reshape(concatenate(cz, -sz, zero, sz, cz, zero, zero, zero, one, axis=1), ({B}, 3, 3))",
         f"Rzy = {_bmm('Rz', 'Ry', B, 3, 3, 3)}",
         f"R = {_bmm('Rzy', 'Rx', B, 3, 3, 3)}",
         f"rel = concatenate({_bmm('BR[:, :, 0:3]', 'R', B, 4, 3, 3)}, BR[:, :, 3:4], axis=2)"]
    for i, p in enumerate(parents):
        L.append(f"rel{i} = reshape(rel[{i}:{i + 1}], (4, 4))")
        L.append(f"abs{i} = rel{i}" if p == -1 else f"abs{i} = abs{p} @ rel{i}")
    L.append("absolutes = concatenate(" + ", ".join(f"reshape(abs{i}, (1, 4, 4))"
                                                    for i in range(B)) + ", axis=0)")
    L += [f"T = {_bmm('absolutes', 'IBA', B, 4, 4, 4)}",
          f"Tw = reshape(W @ reshape(T, ({B}, 16)), ({V}, 4, 4))",
          f"skinned = sum(Tw * reshape(BP, ({V}, 1, 4)), axis=2)",
          "pos = skinned[:, 0:3] * mirror",
          "aa = pp[0:1, :]",
          "nrm = sqrt(sum(aa ^ 2))",
          "small = nrm < 0.0001",
          "ua = aa / where(small, 1, nrm)",
          "x = ua[:, 0:1]", "y = ua[:, 1:2]", "z = ua[:, 2:3]",
          "s = sin(nrm)", "c = cos(nrm)",
          "Rfull = reshape(concatenate(x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, "
          "x * z * (1 - c) + y * s, x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, "
          "y * z * (1 - c) - x * s, x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, "
          "z * z + (1 - z * z) * c, axis=1), (3, 3))",
          "Rg = where(small, I3, Rfull) * pp[1:2, :]",
          "verts = pos @ transpose(Rg) + pp[2:3, :]"]
    if complicated:
        L += ["u0 = us[:, 0:1]", "u1 = us[:, 1:2]",
              "err = P - (u0 * (G0 @ verts) + u1 * (G1 @ verts) + (1 - u0 - u1) * (G2 @ verts))"]
    else:
        L.append("err = P - G0 @ verts")
    return "\n".join(L)


@lru_cache(maxsize=None)
def kernels(parents: tuple, nverts: int, npts: int, complicated: bool):
    """``(objective, jvp)`` kernels for this model and number of points."""
    B, V = len(parents), nverts
    shapes = dict(theta=(NTHETA,), Mpose=((B + 3) * 3, NTHETA), cpose=(B + 3, 3),
                  BR=(B, 4, 4), IBA=(B, 4, 4), W=(V, B), BP=(V, 4), mirror=(1, 3),
                  I3=(3, 3), P=(npts, 3), G0=(npts, V))
    wrt = ["theta"]
    if complicated:
        shapes.update(us=(npts, 2), G1=(npts, V), G2=(npts, V))
        wrt = ["us", "theta"]
    f = gc.parse(program(parents, nverts, complicated), **shapes)
    return gc.compile(f), gc.compile(gc.jvp(f, wrt=wrt))


def _inputs(input):
    model = input["data"]["model"]
    parents = tuple(int(p) for p in model["parents"])
    B = len(parents)
    BP = np.asarray(model["base_positions"], dtype=np.float64)
    V = BP.shape[0]
    P = np.asarray(input["data"]["points"], dtype=np.float64).reshape(-1, 3)
    corr = np.asarray(input["data"]["correspondences"], dtype=np.int64)
    us = np.asarray(input.get("us", []), dtype=np.float64)
    complicated = us.size > 0
    M, c = pose_map(B)
    args = dict(theta=np.asarray(input["theta"], dtype=np.float64), Mpose=M, cpose=c,
                BR=np.asarray(model["base_relatives"], dtype=np.float64).reshape(B, 4, 4),
                IBA=np.asarray(model["inverse_base_absolutes"],
                               dtype=np.float64).reshape(B, 4, 4),
                W=np.asarray(model["weights"], dtype=np.float64).reshape(V, B), BP=BP,
                mirror=np.array([[-1.0 if model.get("is_mirrored") else 1.0, 1.0, 1.0]]),
                I3=np.eye(3), P=P)

    def one_hot(index):
        G = np.zeros((len(index), V))
        G[np.arange(len(index)), index] = 1.0
        return G
    if complicated:
        tri = np.asarray(model["triangles"], dtype=np.int64)[corr]
        args.update(us=us.reshape(-1, 2), G0=one_hot(tri[:, 0]), G1=one_hot(tri[:, 1]),
                    G2=one_hot(tri[:, 2]))
    else:
        args["G0"] = one_hot(corr)
    return (parents, V, P.shape[0], complicated), args


def objective(input):
    """The residuals, flattened (``3·npts`` floats)."""
    key, args = _inputs(input)
    k = kernels(*key)[0]
    return (lambda: k(**args)), lambda e: np.asarray(e).reshape(-1).tolist()


def jacobian(input):
    """The ``3·npts × (26 [+ 2])`` Jacobian as a list of rows, by forward mode."""
    key, args = _inputs(input)
    complicated = key[3]
    k = kernels(*key)[1]
    npts = key[2]

    def run():
        cols = []
        zeros_us = np.zeros((npts, 2))
        if complicated:
            for j in range(2):
                du = np.zeros((npts, 2))
                du[:, j] = 1.0
                _, t = k(**args, us_dot=du, theta_dot=np.zeros(NTHETA))
                cols.append(np.asarray(t).reshape(-1))
        for j in range(NTHETA):
            dt = np.zeros(NTHETA)
            dt[j] = 1.0
            extra = dict(us_dot=zeros_us) if complicated else {}
            _, t = k(**args, theta_dot=dt, **extra)
            cols.append(np.asarray(t).reshape(-1))
        return np.stack(cols, axis=1)
    return run, lambda J: np.asarray(J).tolist()


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
