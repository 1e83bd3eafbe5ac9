"""Signs and NaN of derivatives, generated from the primitive registry.

* A NaN argument gives a NaN partial derivative wherever the partial depends on that
  argument (``relu'(NaN)``, ``max`` and ``min`` at a NaN, ``leaky_relu'(NaN)`` were
  finite); a partial that does not depend on it keeps its value (``∂(x·y)/∂x = y`` at
  x = NaN). Whether a partial depends on an argument, and its value when it does not,
  come from central differences of NumPy's function over the argument's domain.
  Where the op's value is not NaN (``where(NaN, a, b) = a``) the expected derivative is
  the central difference at the point itself.
* ``sqrt'(±0) = log'(±0) = +inf`` (``-0.0`` gave ``-inf``).

Both AD modes, float64 and float32, NumPy interpreter and LLVM kernels. Ops with
``differentiable=False`` (comparisons, ``sign``, ``heaviside``) have the symbolic zero
derivative everywhere and are not part of this table.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ir import PRIMITIVES, Graph, apply, ops
from graphc.passes import ad

DIFFERENTIABLE = [p for p in PRIMITIVES.values()
                  if p.elementwise and p.arity > 0 and p.differentiable]


def _point(prim) -> list[float]:
    return [lo + 0.37 * (hi - lo) for lo, hi in prim.domain]


def _np(prim, args) -> float:
    with np.errstate(all="ignore"):
        return float(prim.impl(*[np.float64(a) for a in args], **prim.param_defaults))


def _fd(prim, args, j, h=1e-6) -> float:
    up, dn = list(args), list(args)
    up[j] += h
    dn[j] -= h
    return (_np(prim, up) - _np(prim, dn)) / (2 * h)


def _expected(prim, i: int, j: int) -> float:
    """∂out/∂x_j where argument i is NaN (the others at the domain point)."""
    base = _point(prim)
    at = list(base)
    at[i] = float("nan")
    if not np.isnan(_np(prim, at)):
        return _fd(prim, at, j)
    lo, hi = prim.domain[i]
    slopes = []
    for v in np.linspace(lo, hi, 9)[1:-1] + 1e-3:
        p = list(base)
        p[i] = float(v)
        slopes.append(_fd(prim, p, j))
    if max(slopes) - min(slopes) > 1e-6 * (1 + max(abs(s) for s in slopes)):
        return float("nan")   # the partial depends on argument i: NaN there
    return slopes[0]


CASES = [(p, i, j) for p in DIFFERENTIABLE for i in range(p.arity) for j in range(p.arity)]


def _partial(prim, at, j, dtype, mode, backend) -> float:
    xs = [ops.variable(f"x{k}", dtype) for k in range(prim.arity)]
    g = Graph(xs, [apply(prim, *xs, **prim.param_defaults)])
    name = f"x{j}"
    if mode == "rev":
        d = ad.grad(g, name)
    else:
        t = ad.jvp(g, wrt=[name], seed={name: 1.0})
        d = Graph(t.inputs, [t.outputs[1]])
    inputs = {f"x{k}": np.asarray(v, dtype) for k, v in enumerate(at)}
    out = gc.evaluate(d, **inputs) if backend == "numpy" else gc.compile(d)(**inputs)
    return float(np.asarray(out))


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_partial_at_a_nan_argument(dtype, mode, backend):
    bad = []
    for prim, i, j in CASES:
        at = _point(prim)
        at[i] = float("nan")
        want = _expected(prim, i, j)
        got = _partial(prim, at, j, dtype, mode, backend)
        ok = np.isnan(got) if np.isnan(want) else np.isclose(got, want, rtol=1e-4, atol=1e-6)
        if not ok:
            bad.append(f"∂{prim.name}/∂x{j} with x{i} = NaN at {at}: got {got}, want {want}")
    assert not bad, "\n".join(bad)
    assert len(CASES) > 40


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("zero", [0.0, -0.0], ids=["+0", "-0"])
@pytest.mark.parametrize("name", ["sqrt", "log"])
def test_pole_at_signed_zero_is_plus_inf(name, zero, dtype, mode, backend):
    """The one-sided derivative from the right, whatever the sign of the zero (NumPy
    gives f(-0) == f(+0)): NumPy's difference quotients (f(2h) - f(h))/h grow without
    bound as h -> 0+."""
    prim = PRIMITIVES[name]
    with np.errstate(all="ignore"):
        assert prim.impl(np.float64(zero)) == prim.impl(np.float64(0.0))
        slopes = [(prim.impl(np.float64(2 * h)) - prim.impl(np.float64(h))) / h
                  for h in (1e-4, 1e-8, 1e-12)]
    assert 0 < slopes[0] < slopes[1] < slopes[2]   # ground truth: +inf
    assert _partial(prim, [zero], 0, dtype, mode, backend) == np.inf
