"""Constant-operand lowerings of the CUDA backend (graphc/backends/lowering_rules.py),
the output allocation by the inputs' library, and the gpu tests' round-off bound, run
on Numba's CUDA simulator.

Not collected by a plain ``pytest`` run: ``test_cuda_const_lowering.py`` runs it in
its own process with ``NUMBA_ENABLE_CUDASIM=1``. By hand::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_const_cases.py -q

Ground truth is NumPy: IEEE division (``np.divide``) bit for bit, ``np.power`` within
the ulp budget of a multiplication chain. The simulator has no ``cuda.fma`` of its own
that rounds once, so kernels use ``graphc.backends.cuda.jit.simulated_fma`` (exact
rational arithmetic, one rounding); on a GPU ``fma`` is the ``fma.rn`` instruction,
which rounds the same way, so the bit-identity shown here carries over.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through test_cuda_const_lowering.py (needs NUMBA_ENABLE_CUDASIM=1)",
                allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numba import cuda  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.backends.cuda import jit  # noqa: E402
from graphc.backends.lowering_rules import DIV_BOUNDS, divide_rule  # noqa: E402
from graphc.ir import Graph, ops  # noqa: E402
from _cuda_helpers import (assert_within_roundoff, feynman_graph,  # noqa: E402
                           feynman_points, feynman_rows, flat_tree, to_host)

DTYPES = ["float64", "float32"]
DIVISORS = [0.8, 1.37, 3.0, 0.1, 7.0, -2.5, 1.0 / 3.0, math.pi, -1e-5, 1.11e30, 4.0, 0.5,
            -1e-35, 1e35, 2.0 ** -120]
"""Constants of every kind of :func:`divide_rule` (``fma``, ``mul`` for powers of two,
``div`` outside the proven range) in both dtypes."""


def _dividends(dtype: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` dividends: random signs and mantissas over the whole exponent range, and
    the edge values (zeros, subnormals, the largest finite, infinities, NaN, values
    whose quotients fall next to the FMA path's bounds)."""
    t = np.dtype(dtype).type
    fi = np.finfo(dtype)
    rng = np.random.default_rng(seed)
    lo_e, hi_e = (fi.minexp - fi.nmant, fi.maxexp) if dtype == "float64" else (-149, 128)
    x = (rng.uniform(1.0, 2.0, n) * np.exp2(rng.integers(lo_e, hi_e, n).astype(float))
         * rng.choice([-1.0, 1.0], n))
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    sub = fi.smallest_subnormal
    _, _, lo, hi = DIV_BOUNDS[dtype]
    edges = [0.0, -0.0, sub, -sub, 3 * sub, fi.tiny, -fi.tiny, fi.tiny * 0.5, fi.max,
             -fi.max, np.inf, -np.inf, np.nan, 1.0, -1.0]
    for c in (0.8, 1.37, 3.0):
        for b in (lo, hi):
            v = t(b * c)
            edges += [v, np.nextafter(v, t(0)), np.nextafter(v, t(np.inf)), -v]
    x[:len(edges)] = np.array(edges, dtype=dtype)
    # 1/3 of the values in the range of ordinary data, where the FMA path is taken
    x[len(edges):n // 3] = rng.normal(0.0, 3.0, n // 3 - len(edges)).astype(dtype)
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_division_by_constants_is_bit_identical_to_numpy(dtype):
    kinds = {divide_rule(c, dtype).kind for c in DIVISORS}
    assert kinds == {"fma", "mul", "div"}, kinds
    x = ops.variable("x", dtype)
    g = Graph([x], [ops.div(x, ops.const(c, dtype)) for c in DIVISORS])
    src = gc.compile(g, target="cuda").render().text
    assert "fma(" in src
    a = _dividends(dtype, 100_000 // len(DIVISORS) + 1)
    got = [to_host(o) for o in flat_tree(gc.compile(g, target="cuda")(x=a))]
    t = np.dtype(dtype).type
    itype = np.uint64 if dtype == "float64" else np.uint32
    for c, q in zip(DIVISORS, got):
        with np.errstate(all="ignore"):
            want = a / t(c)
        assert q.dtype == want.dtype
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(q), nan, err_msg=f"/ {c!r}")
        bad = q[~nan].view(itype) != want[~nan].view(itype)
        assert not bad.any(), (f"{dtype} / {c!r}: {int(bad.sum())} quotients differ, e.g. "
                               f"{a[~nan][bad][:3]} -> {q[~nan][bad][:3]} vs "
                               f"{want[~nan][bad][:3]}")


EXPONENTS = [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.5, 1.5, -0.5]


@pytest.mark.parametrize("dtype", DTYPES)
def test_constant_powers_match_numpy(dtype):
    """``x ** c`` for every kind of :func:`pow_rule`: multiplication chains (``|n|``
    roundings, so within ``|n|`` ulp of NumPy's ``pow``; bit-identical for
    ``n = 0, ±1, 2`` and ``sqrt``), infinities and signed zeros as ``pow``."""
    x = ops.variable("x", dtype)
    g = Graph([x], [ops.pow(x, ops.const(c, dtype)) for c in EXPONENTS])
    k = gc.compile(g, target="cuda")
    assert k.render().text.count("math.pow(") == 2          # 1.5 and -0.5 only
    rng = np.random.default_rng(1)
    # positive values (the simulator's math.sqrt/math.pow raise on negative ones)
    pos = np.concatenate([rng.uniform(0.1, 10.0, 40), [1.0, 2.0, 0.25]]).astype(dtype)
    got = [to_host(o) for o in flat_tree(k(x=pos))]
    eps = np.finfo(dtype).eps
    for c, q in zip(EXPONENTS, got):
        want = np.power(pos, np.asarray(c, dtype=dtype))
        assert q.dtype == want.dtype
        if c in (0.0, 1.0, -1.0, 2.0, 0.5):
            np.testing.assert_array_equal(q, want, err_msg=f"^{c}")
        else:
            np.testing.assert_allclose(q, want, rtol=(abs(c) + 1) * eps, atol=0,
                                       err_msg=f"^{c}")
    # signed values, zeros and infinities through the integer chains
    ints = [c for c in EXPONENTS if c.is_integer()]
    gi = Graph([x], [ops.pow(x, ops.const(c, dtype)) for c in ints])
    edge = np.array([-3.0, -0.7, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-3], dtype=dtype)
    got = [to_host(o) for o in flat_tree(gc.compile(gi, target="cuda")(x=edge))]
    for c, q in zip(ints, got):
        with np.errstate(all="ignore"):
            want = np.power(edge, np.asarray(c, dtype=dtype))
        np.testing.assert_allclose(q, want, rtol=(abs(c) + 1) * eps, atol=0,
                                   equal_nan=True, err_msg=f"^{c}")
        np.testing.assert_array_equal(np.signbit(q), np.signbit(want), err_msg=f"^{c}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_derivatives_through_constant_rules_match_numpy(dtype, mode):
    """Value and derivatives of a formula made of the rewritten ops (powers and
    quotients by constants, as in the mixture benchmark), both AD modes."""
    f = gc.parse("((x - 0.38)/0.8)^2 + ((y + 1.19)/1.37)^3 - x^-2 * y^4 + sqrt(x)/3",
                 inputs=["x", "y"], dtype=dtype)
    g = gc.value_and_grad(f) if mode == "reverse" else gc.jvp(f)
    src = gc.compile(g, target="cuda").render().text
    assert "math.pow(" not in src and "fma(" in src
    rng = np.random.default_rng(2)
    vals = {n: rng.uniform(0.3, 2.0, 24).astype(dtype) for n in g.input_names}
    got = gc.compile(g, target="cuda")(**vals)
    want = flat_tree(gc.evaluate(g, **vals))
    tol = 64 * np.finfo(dtype).eps
    for q, w in zip(flat_tree(got), want):
        np.testing.assert_allclose(to_host(q), w, rtol=tol, atol=tol)


# -- the gpu tests' round-off bound: tight enough to catch lowering bugs -----------------

def _mutations():
    """Text mutations of a rendered kernel, each a bug the comparison must catch."""
    def wrong_op(text):
        return text.replace("math.sin(", "math.cos(", 1)

    def wrong_constant(text):  # a factor off by 1e-9 relative (not the reciprocal of
        # the FMA division sequence: its Newton steps correct an inexact one)
        m = re.search(r"\((t\d+) \* (\d+\.\d+)\)", text)
        return (text[:m.start(2)] + repr(float(m.group(2)) * (1 + 1e-9))
                + text[m.end(2):])

    def swapped_arguments(text):
        return re.sub(r"\((t\d+) - (t\d+)\)", r"(\2 - \1)", text, count=1)
    return {"wrong_op": wrong_op, "wrong_constant": wrong_constant,
            "swapped_arguments": swapped_arguments}


@pytest.mark.parametrize("mutation", [None, *_mutations()])
def test_roundoff_bound_passes_correct_kernels_and_fails_mutants(mutation, monkeypatch):
    row = next(r for r in feynman_rows() if r["id"] == "III.9.52")
    g = feynman_graph(row)
    x = feynman_points(row, 48)
    jit.clear_cache()
    if mutation is not None:
        original = jit._define
        mutate = _mutations()[mutation]

        def define(source):
            text = mutate(source.text)
            assert text != source.text, f"mutation {mutation} did not apply"
            return original(dataclasses.replace(source, text=text))
        monkeypatch.setattr(jit, "_define", define)
    try:
        got = gc.compile(g, target="cuda")(**x)
        if mutation is None:
            assert_within_roundoff(got, g, x, "III.9.52")
        else:
            with pytest.raises(AssertionError, match="beyond the round-off bound|NaN|inf"):
                assert_within_roundoff(got, g, x, f"III.9.52 {mutation}")
    finally:
        jit.clear_cache()


# -- outputs allocated by the inputs' array library --------------------------------------

def test_outputs_come_from_the_owner_library():
    f = gc.value_and_grad(gc.parse("exp(-x*y) + sqrt(x) * y"))
    k = gc.compile(f, target="cuda")
    xs, ys = np.linspace(0.1, 2.0, 40), np.linspace(-1.0, 1.0, 40)
    made = []

    def empty(n, dt):
        made.append(cuda.device_array(n, dtype=dt))
        return made[-1]
    staged = [("device", cuda.to_device(xs)), ("device", cuda.to_device(ys))]
    outs, shapes = k._run_map(staged, jit.OutputLibrary("fake", empty))
    assert len(made) == 3 and all(o is m for o, m in zip(outs, made))
    want = flat_tree(gc.evaluate(f, xs, ys))
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.copy_to_host(), w, rtol=1e-13, atol=1e-15)


def test_output_library_recognises_torch_and_cupy_only():
    torch = pytest.importorskip("torch")

    class FakeTensor:                           # what a CUDA tensor looks like to graphc
        __module__ = "torch.fake"
        device = torch.device("cpu")
        __cuda_array_interface__ = {}
    lib = jit.output_library(FakeTensor())
    assert lib is not None and lib.name == "torch"
    for dt, tdt in ((np.float64, torch.float64), (np.float32, torch.float32)):
        out = lib.empty(7, dt)
        assert isinstance(out, torch.Tensor) and out.dtype == tdt and out.shape == (7,)

    class Other:
        __module__ = "somelib"
        __cuda_array_interface__ = {}
    assert jit.output_library(Other()) is None
    assert jit.output_library(cuda.to_device(np.zeros(3))) is None


def test_simulated_fma_rounds_once():
    """The simulator's stand-in for ``fma.rn``: exact products and sums, one rounding;
    ground truth from exact rational arithmetic."""
    from fractions import Fraction
    f = jit.simulated_fma
    assert f(np.float64(0.1), np.float64(10.0), np.float64(-1.0)) == 2.0 ** -54
    assert float(0.1 * 10.0 - 1.0) == 0.0                      # the unfused result
    rng = np.random.default_rng(3)
    for dtype in DTYPES:
        a, b, c = (rng.normal(size=200).astype(dtype) for _ in range(3))
        for x, y, z in zip(a, b, c):
            r = f(x, y, z)
            exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
            assert r.dtype == np.dtype(dtype)
            e = abs(Fraction(float(r)) - exact)
            # no other value of the dtype is closer
            for nb in (np.nextafter(r, r.dtype.type(np.inf)), np.nextafter(r, r.dtype.type(-np.inf))):
                assert e <= abs(Fraction(float(nb)) - exact)
    assert np.isnan(f(np.float64(np.inf), np.float64(0.0), np.float64(1.0)))
    assert f(np.float64(1e300), np.float64(1e300), np.float64(-np.inf)) == -np.inf
