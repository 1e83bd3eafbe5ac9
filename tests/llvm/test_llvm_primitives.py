"""Every primitive through the LLVM backend's fast paths, at every SIMD level this host
runs, in float64 and float32.

Ground truth we did not write: the C library's long-double functions (NumPy on
``np.longdouble``, 64-bit significand) for float64 results, and NumPy's float64
functions for float32 results. IEEE operations (+ - * /, sqrt, comparisons, selects,
min/max) must be bit-identical to the NumPy interpreter; transcendental functions must
stay within glibc libmvec's documented 4 ulp (6 for the composites sigmoid and
softplus, which round twice more), and agree with the interpreter's NaN/inf pattern on
special values.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import jit, lower, vecmath
from graphc.ir import PRIMITIVES, Graph, apply, variable
from graphc.ir.primitive import elementwise_shape

N = 1000 + 37  # full SIMD blocks and a partial last block
DTYPES = ("float64", "float32")
COMPOSITES = {"sigmoid": 6.0, "softplus": 6.0}
EXACT_LOWERINGS = {"select", "sign", "heaviside", "relu", "leaky_relu", "llvm.fabs",
                   "minimum", "maximum", "llvm.sqrt"}


def _levels():
    best = jit.host().best_level
    levels = list(vecmath.LEVELS)
    return levels[levels.index(best):]


LEVELS = _levels()
OPS = [p for name, p in PRIMITIVES.items()
       if name not in ("input", "const") and p.shape_rule is elementwise_shape]
"""The elementwise primitives (the structural array ops of ``graphc.ir`` -- matmul,
reductions, views -- are lowered by the array backend, not by these loops)."""


def _exact(prim) -> bool:
    name = prim.llvm or ""
    return name in lower.INSTRUCTIONS or name.startswith("fcmp_") or name in EXACT_LOWERINGS


def _inputs(prim, dtype, rng):
    return [rng.uniform(lo, hi, N).astype(dtype) for lo, hi in prim.domain]


@functools.lru_cache(maxsize=None)
def _all_ops_kernel(dtype: str, level: str):
    """One kernel computing every primitive on its own inputs (one compile per dtype
    and level), and the inputs it was given."""
    rng = np.random.default_rng(20261122)
    inputs, outputs, args = [], [], []
    for prim in OPS:
        xs = [variable(f"{prim.name}_{i}", dtype) for i in range(prim.arity)]
        inputs += xs
        outputs.append(apply(prim, *xs))
        args += _inputs(prim, dtype, rng)
    g = Graph(inputs, outputs)
    k = gc.compile(g, optimize_graph=False, simd=level)
    results = k(*args)
    return g, args, dict(zip((p.name for p in OPS), results))


def _args_of(g, args, prim):
    pos = {x.name: i for i, x in enumerate(g.inputs)}
    return [args[pos[f"{prim.name}_{i}"]] for i in range(prim.arity)]


def _ulp_error(got, exact, dtype):
    """|got - exact| in units of the last place of ``exact`` rounded to ``dtype``."""
    ref = exact.astype(dtype)
    spacing = np.spacing(np.abs(ref)).astype(exact.dtype)
    return np.abs(got.astype(exact.dtype) - exact) / spacing


def test_every_elementwise_primitive_has_a_lowering():
    missing = [p.name for p in OPS if not lower.supports(p)]
    assert len(OPS) >= 35
    assert not missing, f"no LLVM lowering for {missing}"


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", OPS, ids=lambda p: p.name)
def test_primitive_matches_ground_truth(prim, dtype, level):
    g, args, results = _all_ops_kernel(dtype, level)
    got = results[prim.name]
    xs = _args_of(g, args, prim)
    assert got.dtype == np.dtype(dtype) and got.shape == (N,)
    probe = apply(prim, *[variable(f"p{i}", dtype) for i in range(prim.arity)])
    params = dict(probe.params)
    with np.errstate(all="ignore"):
        interp = np.asarray(prim.impl(*xs, **params), dtype=dtype)
    if _exact(prim):
        np.testing.assert_array_equal(got, interp, err_msg=f"{prim.name} {dtype} {level}")
        return
    wide = np.longdouble if dtype == "float64" else np.float64
    with np.errstate(all="ignore"):
        exact = np.asarray(prim.impl(*[x.astype(wide) for x in xs], **params), dtype=wide)
    tol = COMPOSITES.get(prim.name, 4.0)
    err = _ulp_error(got, exact, dtype)
    assert np.all(np.isfinite(got)), prim.name
    assert float(err.max()) <= tol, (
        f"{prim.name} {dtype} {level}: {float(err.max()):.2f} ulp at "
        f"{[x[int(err.argmax())] for x in xs]}")
    # and the interpreter (itself within ~1 ulp) agrees to tol + 1 ulp
    assert float(_ulp_error(got, interp.astype(wide), dtype).max()) <= tol + 1


SPECIALS = {
    "float64": [0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e300, 1e-310, -1e-310, 710.0,
                -750.0, 1.0, -1.0, 0.5, 1e-20, 40.0, 800.0, -40.0],
    "float32": [0.0, -0.0, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-40, -1e-40, 89.0,
                -104.0, 1.0, -1.0, 0.5, 1e-20, 40.0, 100.0, -40.0],
}


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values_follow_numpy(dtype, level):
    """NaN, infinities, signed zeros, subnormals, overflow and underflow: the same
    NaN/inf pattern as the interpreter, finite values within 4 ulp (6 for composites)
    or an absolute 1e-300-scale difference for results that underflow."""
    sp = np.array(SPECIALS[dtype], dtype=dtype)
    failures = []
    for prim in OPS:
        if prim.arity == 1:
            cols = [np.tile(sp, 2)]
        elif prim.arity == 2:
            a, b = np.meshgrid(sp, sp)
            cols = [a.ravel(), b.ravel()]
        else:
            a, b, c = np.meshgrid(sp[:6], sp[:6], sp[:6])
            cols = [a.ravel(), b.ravel(), c.ravel()]
        xs = [variable(f"s{i}", dtype) for i in range(prim.arity)]
        node = apply(prim, *xs)
        g = Graph(xs, [node])
        got = gc.compile(g, optimize_graph=False, simd=level)(*cols)
        with np.errstate(all="ignore"):
            ref = np.asarray(prim.impl(*cols, **dict(node.params)), dtype=dtype)
        same_nan = np.isnan(got) == np.isnan(ref)
        fin = np.isfinite(ref) & np.isfinite(got)
        same_inf = np.where(np.isinf(ref) | np.isinf(got), got == ref, True)
        tol = 0.0 if _exact(prim) else COMPOSITES.get(prim.name, 4.0) + 1
        with np.errstate(all="ignore"):
            diff = np.abs(got[fin].astype(float) - ref[fin].astype(float))
            close = diff <= np.maximum(tol * np.spacing(np.abs(ref[fin])).astype(float),
                                       np.finfo(dtype).tiny if tol else 0.0)
        if not (same_nan.all() and same_inf.all() and close.all()):
            bad = ~(same_nan & same_inf)
            bad[np.flatnonzero(fin)[~close]] = True
            i = int(np.flatnonzero(bad)[0])
            failures.append(f"{prim.name}{tuple(c[i] for c in cols)}: {got[i]} vs {ref[i]}")
    assert not failures, failures


def test_simd_kernels_call_libmvec():
    """At a SIMD level the optimised IR calls libmvec's vector functions (and no scalar
    libm function) for exp, sin and tan."""
    if jit.host().best_level == "none":
        pytest.skip("no SIMD level with libmvec on this host")
    f = gc.parse("exp(x) + sin(x)*tan(x)")
    ir_text = gc.compile(f).llvm_ir(optimized=True)
    assert "_ZGV" in ir_text
    for scalar in ("@exp(", "@sin(", "@tan(", "@llvm.exp.f64", "@llvm.sin.f64"):
        assert scalar not in ir_text


def test_float32_kernels_use_twice_the_lanes():
    k64 = gc.compile(gc.parse("exp(x)"))
    k32 = gc.compile(gc.parse("exp(x)", dtype="float32"))
    assert k32.width == 2 * k64.width
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    y = k32(x)
    assert y.dtype == np.float32
    assert float(_ulp_error(y, np.exp(x.astype(np.float64)), "float32").max()) <= 4
