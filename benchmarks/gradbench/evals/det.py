"""GradBench ``det``: the determinant of an ``ell×ell`` matrix by expansion in minors
(cmpad's ``det_of_minor``), ``primal`` and ``gradient`` (graphc's reverse mode).

Input: ``{"A": [ell*ell floats, row-major], "ell": int, "min_runs", "min_seconds"}``.
The Laplace expansion along the first row of each minor, as GradBench's eval asks
(not an LU factorisation). A minor is fixed by the set of columns it keeps (its rows
are the last ``m`` rows), so the program written out below has one statement per
column subset, ``2^ell`` in all (``m·2^(m-1)`` products), rather than the ``ell!``
terms of the unshared expansion; compile time still grows as ``2^ell``. The gradient
is graphc's ``grad`` with respect to ``A`` (the cofactor matrix), flattened row-major.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc


def program(ell: int) -> str:
    """The expansion in minors of ``A`` (``ell×ell``) as a graphc program ending in
    ``det``."""
    if ell < 1:
        raise gc.InputError(f"det: ell must be at least 1, got {ell}")
    lines: list[str] = []
    done: set[int] = set()

    def minor(mask: int) -> str:
        cols = [c for c in range(ell) if mask >> c & 1]
        row = ell - len(cols)
        if len(cols) == 1:
            return f"A[{row}, {cols[0]}]"
        name = f"d{mask}"
        if mask not in done:
            terms = []
            for j, c in enumerate(cols):
                sub = minor(mask & ~(1 << c))
                terms.append(("+ " if j % 2 == 0 else "- ") + f"A[{row}, {c}] * {sub}")
            lines.append(f"{name} = " + " ".join(terms).lstrip("+ "))
            done.add(mask)
        return name

    top = minor((1 << ell) - 1)
    lines.append(f"det = {top}")
    return "\n".join(lines)


@lru_cache(maxsize=None)
def kernels(ell: int):
    """``(primal, gradient)`` kernels for ``A`` of shape ``(ell, ell)``."""
    f = gc.parse(program(ell), A=(ell, ell))
    return gc.compile(f), gc.compile(gc.grad(f, wrt="A"))


def _inputs(input):
    ell = int(input["ell"])
    A = np.asarray(input["A"], dtype=np.float64)
    if A.size != ell * ell:
        raise gc.InputError(f"det: A has {A.size} entries, expected ell*ell = {ell * ell}")
    return A.reshape(ell, ell), ell


def primal(input):
    """``det A`` (a float)."""
    A, ell = _inputs(input)
    k = kernels(ell)[0]
    return (lambda: k(A=A)), float


def gradient(input):
    """``∂ det A / ∂A`` flattened row-major (``ell*ell`` floats), by reverse mode."""
    A, ell = _inputs(input)
    k = kernels(ell)[1]
    return (lambda: k(A=A)), lambda g: np.asarray(g).reshape(-1).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
