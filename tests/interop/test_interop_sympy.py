"""SymPy interop: every primitive has a SymPy form, values survive both directions, and
SymPy's exact derivatives (ground truth we did not write) agree with graphc's AD."""

import importlib.util
import math

import numpy as np
import pytest

import graphc as gc
from graphc.interop.sympy import FROM_SYMPY, TO_SYMPY
from graphc.ir import PRIMITIVES, apply, ops

from helpers import assert_close_relative, read_rows, sympy_of_row

sp = pytest.importorskip("sympy")

OPS = sorted(n for n, p in PRIMITIVES.items() if p.arity > 0 and p.elementwise)


def test_every_primitive_has_a_sympy_form():
    missing = [n for n in OPS if n not in TO_SYMPY]
    assert not missing, f"add these primitives to graphc.interop.sympy.TO_SYMPY: {missing}"


def _prim_graph(name):
    prim = PRIMITIVES[name]
    xs = [ops.variable(f"a{i}") for i in range(prim.arity)]
    return gc.Graph(xs, [apply(prim, *xs)])


def _samples(name, n=9, seed=0):
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(seed)
    args = [rng.uniform(lo, hi, n) for lo, hi in prim.domain]
    if prim.arity == 2:
        args[1][:2] = args[0][:2]  # ties for comparisons and min/max
    if name == "where":
        args[0][:4] = 0.0
    return args


@pytest.mark.parametrize("name", OPS)
def test_primitive_to_sympy_matches_numpy_semantics(name):
    g = _prim_graph(name)
    expr = gc.to_sympy(g)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    args = _samples(name)
    want = gc.evaluate(g, *args)
    by_name = dict(zip(g.input_names, args))
    # SciPy (a test extra) gives lambdify vectorised erf/erfc; NumPy has none
    modules = ["scipy", "numpy"] if importlib.util.find_spec("scipy") else "numpy"
    fn = sp.lambdify(symbols, expr, modules=modules)
    got = np.broadcast_to(np.asarray(fn(*[by_name[s.name] for s in symbols]), float),
                          want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    # and back: from_sympy(to_sympy(g)) computes the same values
    back = gc.from_sympy(expr, inputs=g.input_names)
    np.testing.assert_allclose(gc.evaluate(back, *args), want, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", ["relu", "abs", "leaky_relu", "elu", "sigmoid",
                                  "softplus", "tanh", "log1p", "expm1", "minimum"])
def test_sympy_derivatives_match_ad_away_from_kinks(name):
    g = _prim_graph(name)
    expr = gc.to_sympy(g)
    symbols = [sp.Symbol(n, real=True) for n in g.input_names]
    args = _samples(name, seed=1)
    if name == "minimum":
        args[1] = args[0] + 0.5  # no ties
    grads = gc.evaluate(gc.grad(g), *args)
    for s, got in zip(symbols, grads):
        d = sp.lambdify(symbols, sp.diff(expr, s), modules="numpy")(*args)
        np.testing.assert_allclose(got, np.broadcast_to(np.asarray(d, float), got.shape),
                                   rtol=1e-12)


ROWS = read_rows("feynman.csv") + read_rows("optim_functions.csv")


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_corpus_round_trip_and_independent_sympy(row):
    names = [v for v in row["variables"].split(";") if v]
    g = gc.parse(row["formula"], inputs=names)
    rng = np.random.default_rng(11)
    lo = [float(v) for v in row["low"].split(";")]
    hi = [float(v) for v in row["high"].split(";")]
    xs = [rng.uniform(a, b, 5) for a, b in zip(lo, hi)]
    want = gc.evaluate(g, *xs)
    back = gc.from_sympy(gc.to_sympy(g), inputs=names)
    assert back.input_names == tuple(names)
    assert_close_relative(gc.evaluate(back, *xs), want, 1e-11, "round trip")
    # from_sympy of SymPy's own reading of the formula (built without graphc)
    expr, symbols = sympy_of_row(row)
    g2 = gc.from_sympy(expr, inputs=symbols)
    assert_close_relative(gc.evaluate(g2, *xs), want, 1e-11, "from SymPy's parse")


@pytest.mark.parametrize("row", read_rows("optim_functions.csv")[:12],
                         ids=[r["id"] for r in read_rows("optim_functions.csv")[:12]])
def test_to_sympy_gradient_matches_sympy_diff(row):
    names = [v for v in row["variables"].split(";") if v]
    g = gc.parse(row["formula"], inputs=names)
    f, grads = gc.to_sympy(gc.value_and_grad(g, names))
    symbols = sorted(f.free_symbols, key=lambda s: names.index(s.name))
    x0 = [float(v) for v in (row["x0"] or row["low"]).split(";")]
    point = dict(zip(symbols, x0))
    for s, dg in zip(symbols, grads):
        exact = float(sp.diff(f, s).evalf(30, subs=point))
        got = float(dg.evalf(30, subs=point))
        assert got == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_from_sympy_covers_functions_piecewise_and_logic():
    x, y = sp.symbols("x y", real=True)
    cases = [
        (sp.cot(x) + sp.sec(x) + sp.csc(x), 0.7),
        (sp.asinh(x) + sp.acosh(x + 2) + sp.atanh(x / 2), 0.7),
        (sp.Heaviside(x) + 2 * sp.Heaviside(x - 0.7, 1), 0.7),
        (sp.Max(x, y, 1) - sp.Min(x, -y, 0), 0.7),
        (sp.Piecewise((x, (x > 0) & (y < 1)), (-x, (x < -1) | (y > 2)), (0, True)), 0.7),
        (sp.atan2(y, x), -0.7),
        (sp.sqrt(2) * x / (3 * y ** 2) - 1 / sp.sqrt(x + 2) + sp.exp(x) ** 2, 0.7),
        (sp.pi * x ** sp.Rational(1, 3) + sp.E ** y, 0.7),
    ]
    for expr, xv in cases:
        g = gc.from_sympy(expr, inputs=[x, y])
        for yv in (0.4, -1.3, 2.5):
            want = float(expr.subs({x: xv, y: yv}).evalf(30))
            assert gc.evaluate(g, xv, yv) == pytest.approx(want, rel=1e-13), expr
    pw = gc.from_sympy(sp.Piecewise((x, x > 0)), inputs=[x])
    assert math.isnan(gc.evaluate(pw, -1.0))  # SymPy: undefined where no branch holds


def test_from_sympy_outputs_names_and_errors():
    x, y = sp.symbols("x y")
    g = gc.from_sympy([x * y, x + y], names=["p", "s"])
    assert g.input_names == ("x", "y") and g.output_names == ("p", "s")
    assert gc.evaluate(g, 2.0, 3.0) == (6.0, 5.0)
    m = gc.from_sympy(sp.Matrix([x ** 2, sp.sin(y)]))
    assert len(m.outputs) == 2
    with pytest.raises(gc.GraphcError, match="not among the inputs"):
        gc.from_sympy(x + y, inputs=[x])
    with pytest.raises(gc.GraphcError, match="no graphc form"):
        gc.from_sympy(sp.gamma(x))
    with pytest.raises(gc.GraphcError, match="not a real number"):
        gc.from_sympy(x + sp.I)


def test_shared_subexpressions_and_deep_chains():
    DEPTH = 120  # SymPy itself recurses (assumptions) on much deeper expressions
    x = sp.Symbol("x")
    e = x
    for _ in range(DEPTH):
        e = sp.sin(e)
    g = gc.from_sympy(e)
    assert len(g) == DEPTH
    v = 0.5
    for _ in range(DEPTH):
        v = math.sin(v)
    assert gc.evaluate(g, 0.5) == pytest.approx(v, rel=1e-14)
    back = gc.to_sympy(g)
    assert back.func == sp.sin
    # a DAG with 2^40 paths converts in linear time
    s = x
    for _ in range(40):
        s = (s + 1) * (s + 1)
    assert len(gc.from_sympy(s)) < 200


def test_from_sympy_table_has_known_functions():
    assert {"sin", "Heaviside", "Max", "atan2", "StrictLessThan"} <= set(FROM_SYMPY)
