"""Every rewrite graphc applies keeps NumPy's result bit for bit, or is not applied.

Three generated families, all at the IEEE edge values (±0, ±smallest subnormal,
±largest subnormal, ±smallest normal, ±1, ±max, ±inf, NaN) in float64 and float32:

* every algebraic rule of ``graphc.passes.simplify.RULES`` (walked from the table; a
  rule without a trigger graph here fails the suite), plus the rewrites graphc must
  *not* apply (``x + 0``, ``0 - x``, ``x/5e-324``, ``min``/``max`` argument order...):
  NumPy on the expression as written (ground truth, a NumPy function written here, not
  graphc's) against the NumPy interpreter after ``gc.optimize`` and the LLVM kernel of
  ``gc.compile``;
* constant folding of every elementwise registry primitive against the primitive's
  NumPy implementation on the same values;
* every elementwise registry primitive through the LLVM kernel and the interpreter:
  the same NaNs and the same signs of zero as NumPy (and every bit for the IEEE-exact
  ops: + - * /, sqrt, min/max, sign, selects, comparisons...).

"Bit for bit" counts any NaN equal to any NaN (payloads are not NumPy's contract).
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

import graphc as gc
from graphc.ir import PRIMITIVES, Graph, apply, ops
from graphc.ir.primitive import elementwise_shape

simp = importlib.import_module("graphc.passes.simplify")  # the module, not the function

DTYPES = ("float64", "float32")


def edge_values(dtype: str) -> np.ndarray:
    """The 17 IEEE edge values of ``dtype``: ±0, ±smallest subnormal, ±largest
    subnormal, ±smallest normal, ±1, ±max, ±inf and NaN (from ``np.finfo``)."""
    fi = np.finfo(dtype)
    t = np.dtype(dtype).type
    pos = [t(0.0), fi.smallest_subnormal, t(fi.smallest_normal - fi.smallest_subnormal),
           fi.smallest_normal, t(1.0), fi.max, t(np.inf)]
    return np.array([s * v for v in pos for s in (1, -1)] + [np.nan], dtype=dtype)


def edge_and_random_values(dtype: str, n: int = 48) -> np.ndarray:
    """The edge values and ``n`` floats of uniformly random bit patterns (every exponent
    alike; fixed seed; a NaN pattern becomes the quiet NaN)."""
    bits = np.random.default_rng(20261204).integers(
        0, 2 ** (64 if dtype == "float64" else 32), n, dtype=np.uint64)
    rand = bits.view(np.float64) if dtype == "float64" else \
        bits.astype(np.uint32).view(np.float32)
    rand = rand.astype(dtype)
    # signaling NaNs are left out: NumPy promises nothing for them, and libmvec's powf
    # gives pow(1, sNaN) = NaN where the scalar C library gives 1
    rand[np.isnan(rand)] = np.nan
    return np.concatenate([edge_values(dtype), rand])


def _grid(dtype: str, arity: int, values: np.ndarray | None = None):
    v = edge_values(dtype) if values is None else values
    return [a.ravel() for a in np.meshgrid(*([v] * arity), indexing="ij")]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


def mismatches(got, want, args) -> list[str]:
    """Where ``got`` differs from ``want`` bit for bit (any NaN equals any NaN), with
    the arguments, as text; also a dtype mismatch."""
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype:
        return [f"dtype {got.dtype} vs NumPy's {want.dtype}"]
    got, want = np.broadcast_to(got, want.shape), want
    same = (_bits(got) == _bits(want)) | (np.isnan(got) & np.isnan(want))
    return [f"{tuple(a[i] for a in args)}: {got[i]!r} vs NumPy {want[i]!r}"
            for i in np.flatnonzero(~same)[:4]]


def _c(v: float, dtype: str):
    return ops.const(v, dtype)


# ---------------------------------------------------------------------------------
# the algebraic rules: one trigger graph each, with NumPy's version of it
# (arity, graph builder over input nodes, NumPy function over arrays); ``t`` is the
# NumPy scalar type of the dtype.

P2 = {"float64": 2.0 ** -1022, "float32": 2.0 ** -126}  # a normal power of two with a
#  normal reciprocal; 2^-1 and 2^60 are more ordinary ones

TRIGGERS = {
    "add_neg_zero_right": (1, lambda x, d: x + _c(-0.0, d), lambda x, t: x + t(-0.0)),
    "add_neg_zero_left": (1, lambda x, d: _c(-0.0, d) + x, lambda x, t: t(-0.0) + x),
    "add_zero_right": (1, lambda x, d: ops.abs(x) + _c(0.0, d), lambda x, t: np.abs(x) + t(0)),
    "add_zero_left": (1, lambda x, d: _c(0.0, d) + x * x, lambda x, t: t(0) + x * x),
    "add_neg_right": (2, lambda x, y, d: x + (-y), lambda x, y, t: x + (-y)),
    "add_neg_left": (2, lambda x, y, d: (-x) + y, lambda x, y, t: (-x) + y),
    "sub_zero": (1, lambda x, d: x - _c(0.0, d), lambda x, t: x - t(0.0)),
    "sub_neg_zero": (1, lambda x, d: ops.relu(x) - _c(-0.0, d),
                     lambda x, t: np.maximum(x, t(0)) - t(-0.0)),
    "neg_zero_sub": (1, lambda x, d: _c(-0.0, d) - x, lambda x, t: t(-0.0) - x),
    "sub_neg": (2, lambda x, y, d: x - (-y), lambda x, y, t: x - (-y)),
    "mul_one_right": (1, lambda x, d: x * _c(1.0, d), lambda x, t: x * t(1)),
    "mul_one_left": (1, lambda x, d: _c(1.0, d) * x, lambda x, t: t(1) * x),
    "mul_minus_one_right": (1, lambda x, d: x * _c(-1.0, d), lambda x, t: x * t(-1)),
    "mul_minus_one_left": (1, lambda x, d: _c(-1.0, d) * x, lambda x, t: t(-1) * x),
    "mul_neg_neg": (2, lambda x, y, d: (-x) * (-y), lambda x, y, t: (-x) * (-y)),
    "div_one": (1, lambda x, d: x / _c(1.0, d), lambda x, t: x / t(1)),
    "div_minus_one": (1, lambda x, d: x / _c(-1.0, d), lambda x, t: x / t(-1)),
    "div_pow2": (1, lambda x, d: x / _c(P2[d], d), lambda x, t: x / t(P2[np.dtype(t).name])),
    "mul_pow2_const": (1, lambda x, d: _c(-100.0, d) * (x * _c(2.0, d)),
                       lambda x, t: t(-100) * (x * t(2))),
    "div_neg_neg": (2, lambda x, y, d: (-x) / (-y), lambda x, y, t: (-x) / (-y)),
    "neg_neg": (1, lambda x, d: -(-x), lambda x, t: -(-x)),
    "pow_one": (1, lambda x, d: x ** _c(1.0, d), lambda x, t: np.power(x, t(1))),
    "pow_zero": (1, lambda x, d: x ** _c(0.0, d), lambda x, t: np.power(x, t(0))),
    "where_const": (2, lambda x, y, d: ops.where(_c(np.nan, d), x, y),
                    lambda x, y, t: np.where(t(np.nan) != 0, x, y)),
    "where_same": (2, lambda x, y, d: ops.where(x, y, y), lambda x, y, t: np.where(x != 0, y, y)),
}

# Rewrites that must not happen (or only where exact), and neighbours of the rules.
def _pow2(k, d):
    return _c(2.0 ** k, d)


GUARDS = {
    "x + 0": (1, lambda x, d: x + _c(0.0, d), lambda x, t: x + t(0)),
    "0 + x": (1, lambda x, d: _c(0.0, d) + x, lambda x, t: t(0) + x),
    "x - (-0)": (1, lambda x, d: x - _c(-0.0, d), lambda x, t: x - t(-0.0)),
    "0 - x": (1, lambda x, d: _c(0.0, d) - x, lambda x, t: t(0) - x),
    "-(x - y)": (2, lambda x, y, d: -(x - y), lambda x, y, t: -(x - y)),
    "x * 0": (1, lambda x, d: x * _c(0.0, d), lambda x, t: x * t(0)),
    "0 * x": (1, lambda x, d: _c(0.0, d) * x, lambda x, t: t(0) * x),
    "x - x": (1, lambda x, d: x - x, lambda x, t: x - x),
    "x / 3": (1, lambda x, d: x / _c(3.0, d), lambda x, t: x / t(3)),
    "x / 0.1": (1, lambda x, d: x / _c(0.1, d), lambda x, t: x / t(0.1)),
    "x / 2^-1 (pow2)": (1, lambda x, d: x / _pow2(-1, d), lambda x, t: x / t(0.5)),
    "x / 2^60 (pow2)": (1, lambda x, d: x / _pow2(60, d), lambda x, t: x / t(2.0 ** 60)),
    "x / smallest subnormal": (
        1, lambda x, d: x / _c(float(np.finfo(d).smallest_subnormal), d),
        lambda x, t: x / np.finfo(t).smallest_subnormal),
    "x / largest power-of-two subnormal": (
        1, lambda x, d: x / _c(float(np.finfo(d).smallest_normal) / 2, d),
        lambda x, t: x / t(np.finfo(t).smallest_normal / 2)),
    "x / 2^-130": (1, lambda x, d: x / _c(2.0 ** -130, d), lambda x, t: x / t(2.0 ** -130)),
    "x / 2^-1030": (1, lambda x, d: x / _c(2.0 ** -1030, d),
                    lambda x, t: x / t(2.0 ** -1030)),
    "x / 2^127": (1, lambda x, d: x / _pow2(127, d), lambda x, t: x / t(2.0 ** 127)),
    "x / 2^1023": (1, lambda x, d: x / _c(2.0 ** 1023, d), lambda x, t: x / t(2.0 ** 1023)),
    "x / -2^-149": (1, lambda x, d: x / _c(-(2.0 ** -149), d), lambda x, t: x / t(-(2.0 ** -149))),
    "x / 0": (1, lambda x, d: x / _c(0.0, d), lambda x, t: x / t(0)),
    "(x * 2) * 0.25": (1, lambda x, d: (x * _c(2.0, d)) * _c(0.25, d),
                       lambda x, t: (x * t(2)) * t(0.25)),
    "(x * 0.5) * 4": (1, lambda x, d: (x * _c(0.5, d)) * _c(4.0, d),
                      lambda x, t: (x * t(0.5)) * t(4)),
    "(x * 3) * 2": (1, lambda x, d: (x * _c(3.0, d)) * _c(2.0, d),
                    lambda x, t: (x * t(3)) * t(2)),
    "(2 * x) * 3 * 2^126": (1, lambda x, d: (_c(2.0, d) * x) * _c(3.0 * 2.0 ** 126, d),
                            lambda x, t: (t(2) * x) * t(3.0 * 2.0 ** 126)),
    "(x * 2^100) * 2^1000": (1, lambda x, d: (x * _c(2.0 ** 100, d)) * _c(2.0 ** 1000, d),
                             lambda x, t: (x * t(2.0 ** 100)) * t(2.0 ** 1000)),
    "x / inf": (1, lambda x, d: x / _c(np.inf, d), lambda x, t: x / t(np.inf)),
    "x ^ 0.5": (1, lambda x, d: x ** _c(0.5, d), lambda x, t: np.power(x, t(0.5))),
    "x ^ -1": (1, lambda x, d: x ** _c(-1.0, d), lambda x, t: np.power(x, t(-1))),
    "x ^ 2": (1, lambda x, d: x ** _c(2.0, d), lambda x, t: np.power(x, t(2))),
    "1 ^ x": (1, lambda x, d: _c(1.0, d) ** x, lambda x, t: np.power(t(1), x)),
    "min(x, y)": (2, lambda x, y, d: ops.minimum(x, y), lambda x, y, t: np.minimum(x, y)),
    "max(x, y)": (2, lambda x, y, d: ops.maximum(x, y), lambda x, y, t: np.maximum(x, y)),
    "min(x,y) - min(y,x)": (2, lambda x, y, d: ops.minimum(x, y) - ops.minimum(y, x),
                            lambda x, y, t: np.minimum(x, y) - np.minimum(y, x)),
    "max(x,y) + max(y,x)": (2, lambda x, y, d: ops.maximum(x, y) + ops.maximum(y, x),
                            lambda x, y, t: np.maximum(x, y) + np.maximum(y, x)),
    "sign(x) + x*y": (2, lambda x, y, d: ops.sign(x) + x * y,
                      lambda x, y, t: np.sign(x) + x * y),
    "relu(x) - 0": (1, lambda x, d: ops.relu(x) - _c(0.0, d),
                    lambda x, t: np.maximum(x, t(0)) - t(0)),
    "sqrt(x) + 0": (1, lambda x, d: ops.sqrt(x) + _c(0.0, d), lambda x, t: np.sqrt(x) + t(0)),
    "x*x + 0": (1, lambda x, d: x * x + _c(0.0, d), lambda x, t: x * x + t(0)),
    "x*y + 0": (2, lambda x, y, d: x * y + _c(0.0, d), lambda x, y, t: x * y + t(0)),
    "(x + y) + 0": (2, lambda x, y, d: (x + y) + _c(0.0, d), lambda x, y, t: (x + y) + t(0)),
    "(|x| + y) + 0": (2, lambda x, y, d: (ops.abs(x) + y) + _c(0.0, d),
                      lambda x, y, t: (np.abs(x) + y) + t(0)),
    "where(x, |x|, x*x) + 0": (1, lambda x, d: ops.where(x, ops.abs(x), x * x) + _c(0.0, d),
                               lambda x, t: np.where(x != 0, np.abs(x), x * x) + t(0)),
    "heaviside(x) + 0 + (x > y)": (
        2, lambda x, y, d: ops.heaviside(x) + _c(0.0, d) + ops.gt(x, y),
        lambda x, y, t: np.where(x > 0, t(1), t(0)) + t(0) + (x > y).astype(t)),
    "where(x, x + 0, abs(y))": (2, lambda x, y, d: ops.where(x, x + _c(0.0, d), ops.abs(y)),
                                lambda x, y, t: np.where(x != 0, x + t(0), np.abs(y))),
}
"""Expressions that look like a rule but are not exact (so must stay as written),
divisions by powers of two whose reciprocal does or does not exist, and ``min``/``max``
whose argument order CSE must keep."""

MIXED = {  # float32 input, float64 constant: the result is float64
    "x32 * 1": (lambda x: x * _c(1.0, "float64"), lambda x: x * np.float64(1)),
    "x32 + (-0)": (lambda x: x + _c(-0.0, "float64"), lambda x: x + np.float64(-0.0)),
    "x32 / 2^-1074": (lambda x: x / _c(5e-324, "float64"), lambda x: x / np.float64(5e-324)),
    "x32 / 2^-140 (f64)": (lambda x: x / _c(2.0 ** -140, "float64"),
                           lambda x: x / np.float64(2.0 ** -140)),
    "where(1, x32, 0)": (lambda x: ops.where(_c(1.0, "float64"), x, _c(0.0, "float64")),
                         lambda x: np.where(True, x, np.float64(0)).astype(np.float64)),
}


def _graph(arity, build, dtype):
    xs = [ops.variable(n, dtype) for n in ("x", "y")[:arity]]
    with np.errstate(over="ignore"):  # 2^1023 as a float32 constant is inf
        return Graph(xs, [build(*xs, dtype)]), xs


def test_every_rule_has_a_trigger_that_it_rewrites_first():
    """The table of rules and the trigger graphs above name the same rules, and at each
    trigger's root the rule is the first that applies (so its own output is tested)."""
    names = [r.name for r in simp.RULES]
    assert len(set(names)) == len(names), "duplicate rule names"
    assert set(names) == set(TRIGGERS), (
        f"rules without a trigger graph in this file: {sorted(set(names) - set(TRIGGERS))}; "
        f"triggers of no rule: {sorted(set(TRIGGERS) - set(names))}")
    for rule in simp.RULES:
        arity, build, _ = TRIGGERS[rule.name]
        for dtype in DTYPES:
            g, _ = _graph(arity, build, dtype)
            root = g.outputs[0]
            assert root.prim is rule.prim, rule.name
            first = next(r for r in simp.RULES
                         if r.prim is root.prim and r.fn(root, root.args) is not None)
            assert first is rule, f"{rule.name}: {first.name} applies first ({dtype})"
            assert gc.optimize(g).outputs[0] is not root, f"{rule.name} did not fire"


CASES = [("rule " + k, v) for k, v in TRIGGERS.items()] + [("guard " + k, v)
                                                           for k, v in GUARDS.items()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rewrites_keep_numpy_bits(case, dtype):
    """NumPy on the expression as written == interpreter after ``gc.optimize`` ==
    ``gc.compile``'s LLVM kernel, bit for bit, on every pair of edge values."""
    _, (arity, build, np_fn) = case
    g, xs = _graph(arity, build, dtype)
    args = _grid(dtype, arity, edge_and_random_values(dtype, 48 if arity == 1 else 16))
    t = np.dtype(dtype).type
    with np.errstate(all="ignore"):
        want = np.asarray(np_fn(*args, t))
    bad = {}
    with np.errstate(all="ignore"):
        bad["interpreter, as written"] = mismatches(
            gc.compile(g, target="numpy", optimize_graph=False)(*args), want, args)
        bad["interpreter after optimize"] = mismatches(
            gc.compile(g, target="numpy")(*args), want, args)
    bad["llvm (gc.compile)"] = mismatches(gc.compile(g)(*args), want, args)
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, (case[0], dtype, bad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_division_by_every_power_of_two(dtype):
    """``x / ±2^k`` for every ``k`` of the dtype (normal and subnormal ``2^k``): the
    interpreter after ``gc.optimize`` is NumPy's quotient bit for bit, and so is the
    LLVM kernel for the ``k`` next to the edges of the exponent range."""
    fi = np.finfo(dtype)
    kmin, kmax = int(np.log2(fi.smallest_subnormal)), int(fi.maxexp) - 1
    args = [edge_and_random_values(dtype, 64)]
    x = ops.variable("x", dtype)
    edges = {kmin, kmin + 1, int(fi.minexp) - 1, int(fi.minexp), int(fi.minexp) + 1,
             -kmax - 1, -kmax, -kmax + 1, kmax - 1, kmax}
    bad = []
    for k in range(kmin, kmax + 1):
        for sign in (1.0, -1.0):
            c = sign * 2.0 ** k
            g = Graph([x], [x / ops.const(c, dtype)])
            with np.errstate(all="ignore"):
                want = args[0] / np.dtype(dtype).type(c)
                bad += mismatches(gc.compile(g, target="numpy")(*args), want, args)
            if k in edges:
                bad += mismatches(gc.compile(g)(*args), want, args)
            if bad:
                raise AssertionError(f"x / {c!r} ({dtype}): {bad}")


@pytest.mark.parametrize("case", list(MIXED), ids=list(MIXED))
def test_mixed_dtype_rewrites_keep_numpy_bits(case):
    build, np_fn = MIXED[case]
    x = ops.variable("x", "float32")
    g = Graph([x], [build(x)])
    args = _grid("float32", 1)
    with np.errstate(all="ignore"):
        want = np.asarray(np_fn(*args))
        bad = mismatches(gc.compile(g, target="numpy")(*args), want, args)
    bad += mismatches(gc.compile(g)(*args), want, args)
    assert not bad, bad
    assert gc.optimize(g).outputs[0].dtype == g.outputs[0].dtype


def test_cse_keeps_min_max_argument_order():
    x, y = ops.variable("x"), ops.variable("y")
    for f in (ops.minimum, ops.maximum):
        g = gc.optimize(Graph([x, y], [f(x, y), f(y, x)]))
        assert g.outputs[0] is not g.outputs[1]
    got = gc.compile(Graph([x, y], [ops.minimum(x, y), ops.minimum(y, x)]))(-0.0, 0.0)
    assert [math.copysign(1, float(v)) for v in got] == [1.0, -1.0]  # NumPy's


def test_cli_divide_by_smallest_subnormal(capsys):
    from graphc.cli import main
    for at, want in (("x=0", 0.0), ("x=5e-324", 1.0), ("x=-5e-324", -1.0)):
        assert main(["eval", "x / 5e-324", "--at", at]) in (0, None)
        out = capsys.readouterr().out
        got = float(out.split("=")[-1])
        with np.errstate(all="ignore"):
            assert got == np.float64(float(at.split("=")[1])) / np.float64(5e-324), out
        assert want == got


# ---------------------------------------------------------------------------------
# constant folding and the backends, for every elementwise registry primitive

ELEMENTWISE = [p for name, p in PRIMITIVES.items()
               if p.arity and p.elementwise and p.shape_rule is elementwise_shape]

IEEE_EXACT = {p.name for p in ELEMENTWISE if p.ulp == 0}
"""Primitives whose NumPy result is a correctly rounded IEEE operation (or a select of
one, or exact), read from the records' ``ulp`` field, so every backend must give it bit
for bit; the others (C library functions) must give the same NaNs and signs of zero."""


def _prim_args(prim, dtype):
    if prim.arity == 3:  # 8^3 points: both zeros, a subnormal, ±1, ±inf, NaN
        v = edge_values(dtype)[[0, 1, 2, 8, 9, 12, 13, 14]]
        return _grid(dtype, 3, v)
    return _grid(dtype, prim.arity)


def _want(prim, args):
    with np.errstate(all="ignore"):
        return np.asarray(prim.impl(*args, **prim.param_defaults), dtype=args[0].dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_constant_folding_keeps_numpy_bits(prim, dtype):
    """``gc.optimize`` of ``prim(constants)`` is a constant equal, bit for bit, to the
    primitive's NumPy implementation on those values."""
    args = _prim_args(prim, dtype)
    want = _want(prim, args)
    got = np.empty_like(want)
    for i, vals in enumerate(zip(*args)):
        g = Graph([], [apply(prim, *(ops.const(float(v), dtype) for v in vals))])
        out = gc.optimize(g).outputs[0]
        assert out.is_const and out.dtype == dtype, (prim.name, vals)
        got[i] = out.value
    bad = mismatches(got, want, args)
    assert not bad, (prim.name, dtype, bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_backends_keep_numpy_zero_signs_and_nans(prim, dtype):
    """The LLVM kernel (as written and after ``gc.optimize``) and the interpreter give
    NumPy's NaNs and signs of zero at every edge value, and every bit for the IEEE-exact
    primitives."""
    xs = [ops.variable(f"a{i}", dtype) for i in range(prim.arity)]
    g = Graph(xs, [apply(prim, *xs)])
    args = _prim_args(prim, dtype)
    want = _want(prim, args)
    kernels = {"llvm": gc.compile(g, optimize_graph=False),
               "numpy": gc.compile(g, target="numpy", optimize_graph=False)}
    failures = {}
    for name, k in kernels.items():
        with np.errstate(all="ignore"):
            got = np.asarray(k(*args))
        if prim.name in IEEE_EXACT:
            bad = mismatches(got, want, args)
        else:
            assert got.dtype == want.dtype
            zero = (want == 0) | (got == 0)
            wrong = (np.isnan(got) != np.isnan(want)) | (
                zero & ((got != want) | (np.signbit(got) != np.signbit(want))))
            bad = [f"{tuple(a[i] for a in args)}: {got[i]!r} vs NumPy {want[i]!r}"
                   for i in np.flatnonzero(wrong)[:4]]
        if bad:
            failures[name] = bad
    assert not failures, (prim.name, dtype, failures)
