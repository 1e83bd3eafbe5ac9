"""GradBench ``det``: the determinant of an ``ell×ell`` matrix by expansion in minors
(cmpad's ``det_of_minor``), ``primal`` and ``gradient`` (graphc's reverse mode).

Input: ``{"A": [ell*ell floats, row-major], "ell": int, "min_runs", "min_seconds"}``.

The Laplace expansion along the first row of each minor, as GradBench's eval asks
(not an LU factorisation), written as a loop over the rows. A minor is fixed by the set
of columns it keeps (its rows are the last ``m`` rows of ``A``), so the minors of one
size are the entries of a vector ``D`` indexed by column bit masks (``2^ell`` entries;
the entries of other sizes are zero). Going up one row ``r`` expands every minor along
that row::

    D'[mask] = Σ_{c in mask} (-1)^(number of columns of mask below c) · A[r, c]
                              · D[mask without c]

which is, for each column ``c``, the constant sign vector ``sign[c]`` (0 where ``c`` is
not in the mask) times ``A[r, c]`` times ``D`` with bit ``c`` of its index flipped (a
reshape to ``(2^(ell-1-c), 2, 2^c)`` and a reversal of the middle axis). From ``D = 1``
at the empty mask, ``ell`` steps of one :func:`graphc.scan` over the rows of ``A``, last
row first, give ``det A = D[all columns]``: the same products summed in the same column
order as the recursion, each minor computed once (``ell·2^ell`` multiply-adds per step
instead of the ``ell!`` terms of the unshared recursion). The scan body (``ell`` terms)
is compiled once, so compile time grows as ``ell``, not as ``2^ell``. The gradient is
graphc's ``grad`` with respect to ``A`` (the cofactor matrix), flattened row-major.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc
import graphc.numpy as gnp
from graphc.frontend.tracer import trace


@lru_cache(maxsize=None)
def signs(ell: int) -> np.ndarray:
    """The ``(ell, 2^ell)`` constant ``sign[c, mask]``: ``(-1)^k`` where column ``c`` is
    the ``k``-th (from 0) column of ``mask``, 0 where ``mask`` lacks ``c`` (cached, so
    read-only)."""
    masks = np.arange(1 << ell)
    out = np.zeros((ell, 1 << ell))
    for c in range(ell):
        below = np.array([bin(m & ((1 << c) - 1)).count("1") for m in masks])
        out[c] = np.where(masks >> c & 1, (-1.0) ** below, 0.0)
    out.flags.writeable = False
    return out


def det(A, SG, ell: int):
    """``det A`` by expansion in minors for graph values ``A`` (ell, ell) and ``SG`` =
    :func:`signs` (traced: one scan node of ``ell`` steps)."""
    n = 1 << ell

    def flip_bit(D, c):
        blocks = gnp.reshape(D, (n >> (c + 1), 2, 1 << c))
        return gnp.reshape(gnp.flip(blocks, axis=1), (n,))

    def step(D, w):
        total = None
        for c in range(ell):
            term = w[c] * flip_bit(D, c)
            total = term if total is None else total + term
        return total, None

    # per step (row r = ell-1 .. 0) the weights w[c, mask] = A[r, c] * sign[c, mask]:
    # one per-step input, so the loop has no separately packed invariant operands
    W = gnp.reshape(gnp.flip(A, axis=0), (ell, ell, 1)) * gnp.reshape(SG, (1, ell, n))
    D0 = gnp.array(np.eye(1, n)[0])
    D, _ = gc.scan(step, D0, xs=W)
    return D[n - 1]


def graphs(ell: int):
    """``(primal, gradient)`` graphs for ``A`` of shape ``(ell, ell)``; both take ``A``
    and ``SG`` (:func:`signs`); the gradient is ``∂ det A/∂A`` (graphc's reverse mode).

    Raises:
        InputError: ``ell < 1``.
    """
    if ell < 1:
        raise gc.InputError(f"det: ell must be at least 1, got {ell}")
    f = trace(lambda A, SG: det(A, SG, ell),
              shapes={"A": (ell, ell), "SG": (ell, 1 << ell)})
    return f, gc.grad(f, wrt="A")


@lru_cache(maxsize=None)
def kernels(ell: int):
    """``(primal, gradient)`` LLVM kernels of :func:`graphs` (each compiled on its first
    call)."""
    return tuple(gc.compile(g) for g in graphs(ell))


def _inputs(input):
    ell = int(input["ell"])
    A = np.asarray(input["A"], dtype=np.float64)
    if A.size != ell * ell:
        raise gc.InputError(f"det: A has {A.size} entries, expected ell*ell = {ell * ell}")
    return A.reshape(ell, ell), ell


def primal(input):
    """``det A`` (a float)."""
    A, ell = _inputs(input)
    k, SG = kernels(ell)[0], signs(ell)
    return (lambda: k(A=A, SG=SG)), float


def gradient(input):
    """``∂ det A / ∂A`` flattened row-major (``ell*ell`` floats), by reverse mode."""
    A, ell = _inputs(input)
    k, SG = kernels(ell)[1], signs(ell)
    return (lambda: k(A=A, SG=SG)), lambda g: np.asarray(g).reshape(-1).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
