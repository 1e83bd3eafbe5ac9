"""The @gc.function tracer and the NumPy-style functions (graphc.numpy_api).

Ground truth: the published numbers of Baydin et al. 2018 and Deisenroth et al.,
hand-derived values of the modular backprop example, NumPy's and SciPy's own
functions, and central finite differences.
"""

import math
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.ir import PRIMITIVES
from graphc.numpy_api import PRIMITIVE_FUNCTIONS

from helpers import central_difference


@gc.function
def baydin(x1, x2):
    a = gc.log(x1)
    b = x1 * x2
    c = gc.sin(x2)
    return a + b - c


def test_baydin_values_gradient_and_labels():
    g = baydin.graph
    assert g.input_names == ("x1", "x2")
    assert baydin(2.0, 5.0) == pytest.approx(11.652071, abs=1e-6)
    labels = {lab: n.op for n, lab in g.labels.items()}
    assert labels == {"a": "log", "b": "mul", "c": "sin"}
    assert "# a" in str(g) and "# b" in str(g)
    k = gc.compile(gc.value_and_grad(g))
    y, (d1, d2) = k(2.0, 5.0)
    assert y == pytest.approx(11.652071, abs=1e-6)
    assert d1 == pytest.approx(5.5, abs=1e-12)
    assert d2 == pytest.approx(1.716338, abs=1e-6)


def test_traced_graph_is_the_parsed_graph():
    # Tracing and parsing build the same interned nodes.
    parsed = gc.parse("ln(x1) + x1*x2 - sin(x2)")
    assert baydin.graph.outputs[0] is parsed.outputs[0]


def test_deisenroth_with_helper_function():
    def inner(x):
        return x ** 2 + gc.exp(x ** 2)

    @gc.function
    def f(x):
        c = inner(x)
        d = gc.sqrt(c)
        e = gc.cos(c)
        return d + e

    assert f(2.0) == pytest.approx(7.194, abs=1e-3)
    (dfdx,) = gc.compile(gc.grad(f.graph))(2.0)
    assert dfdx == pytest.approx(-182.87, abs=0.01)
    fd = central_difference(lambda v: f(v[0]), np.array([2.0]), 1e-6)[0]
    assert dfdx == pytest.approx(fd, rel=1e-6)
    assert {"c", "d", "e"} <= set(f.graph.labels.values())


def test_modular_backprop_regression_example():
    @gc.function
    def loss(w1, w2, b1, b2, x, y):
        h = gc.relu(w1 * x + b1)
        F = w2 * h + b2
        return (F - y) ** 2

    args = dict(w1=5.0, w2=-1.0, b1=0.0, b2=1.0, x=3.0, y=-12.0)
    assert loss(**args) == pytest.approx(4.0)
    F = gc.evaluate(gc.Graph(loss.graph.inputs, [next(n for n, lab in
                             loss.graph.labels.items() if lab == "F")]), **args)
    assert F == pytest.approx(-14.0)
    grads = gc.compile(gc.grad(loss.graph, ["w1", "w2", "b1", "b2"]))(**args)
    # dl/dF = 2(F - y) = -4; dl/dw2 = -4 h = -60; dl/dw1 = -4 w2 x = 12; dl/db1 = 4
    assert np.allclose(grads, [12.0, -60.0, 4.0, -4.0])


def test_data_dependent_if_raises_with_line_and_hint():
    @gc.function
    def f(x):
        if x > 0:  # the offending line
            return x
        return -x

    with pytest.raises(gc.GraphcError) as err:
        f.graph
    msg = str(err.value)
    assert "gc.where" in msg
    assert __file__ in msg
    line = next(i for i, text in enumerate(open(__file__), start=1)
                if "# the offending line" in text and "if x > 0" in text)
    assert f"line {line}" in msg
    assert "if x > 0:" in msg


@pytest.mark.parametrize("body", ["while", "and", "not", "float", "math"])
def test_other_concrete_uses_raise(body):
    def f(x):
        if body == "while":
            while x < 1.0:
                x = x + 1
        elif body == "and":
            return x and 1.0
        elif body == "not":
            return 1.0 if not x else 0.0
        elif body == "float":
            return float(x)
        else:
            return math.sin(x)
        return x

    with pytest.raises(gc.GraphcError, match="gc.where"):
        gc.function(f).graph


def test_where_replaces_if():
    @gc.function
    def f(x):
        return gc.where(x > 0, gc.sqrt(x), 0.0)

    xs = np.array([-2.0, 0.0, 0.25, 4.0])
    assert np.allclose(f(xs), [0.0, 0.0, 0.5, 2.0])
    (d,) = gc.compile(gc.grad(f.graph))(xs)
    # zero for x <= 0 (the masked branch's infinite sqrt'(0) does not leak), 1/(2 sqrt x)
    assert np.array_equal(d[:2], [0.0, 0.0])
    assert np.allclose(d[2:], [1.0, 0.25])


def test_labels_follow_reassignment_and_loops():
    @gc.function
    def f(x):
        h = x * 2.0
        for _ in range(3):
            h = gc.sin(h)
        parts = [gc.exp(h), gc.cos(h)]
        return parts[0] + parts[1]

    g = f.graph
    labels = sorted(g.labels.values())
    assert labels.count("h") == 4
    assert "parts[0]" in labels and "parts[1]" in labels
    x = 0.3
    h = math.sin(math.sin(math.sin(2 * x)))
    assert f(x) == pytest.approx(math.exp(h) + math.cos(h))


def test_outputs_structure_names_static_and_lambda():
    @gc.function(static={"n": 3})
    def poly(x, y, n):
        s = x ** n
        return s, (s + y, y * 2.0)

    g = poly.graph
    assert g.input_names == ("x", "y")
    assert g.output_names[0] == "s"
    s, (t, u) = poly(2.0, 1.0)
    assert (s, t, u) == (8.0, 9.0, 2.0)
    lam = gc.function(lambda a, b: a / b)
    assert lam.graph.output_names == ("y",)
    assert lam(1.0, 4.0) == 0.25
    sel = gc.function(lambda a, b=2.0: a * b, inputs=["a"])
    assert sel.graph.input_names == ("a",) and sel(3.0) == 6.0
    const = gc.function(lambda a: 3)
    assert const(np.ones(2)).tolist() == [3.0, 3.0]


def test_nested_functions_inline_with_labels():
    @gc.function
    def inner(u):
        z = gc.tanh(u)
        return z * z

    @gc.function
    def outer(x):
        w = inner(x + 1.0)
        return w + x

    assert outer(0.5) == pytest.approx(math.tanh(1.5) ** 2 + 0.5)
    assert {"z", "w"} <= set(outer.graph.labels.values())


def test_bad_functions_raise_clear_errors():
    with pytest.raises(gc.GraphcError, match=r"\*args"):
        gc.function(lambda *xs: xs[0]).graph
    with pytest.raises(gc.GraphcError, match="bool"):
        gc.function(lambda x: True).graph
    with pytest.raises(gc.GraphcError, match="must return"):
        gc.function(lambda x: "text").graph
    with pytest.raises(gc.GraphcError, match="no parameter"):
        gc.function(lambda x: x, inputs=["q"]).graph


def test_previous_trace_function_is_restored():
    seen = []

    def tracer(frame, event, arg):
        seen.append(event)
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        gc.function(lambda x: gc.sin(x) * x).graph
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(old)
    assert "call" in seen  # the outer tracer kept seeing calls during tracing


def test_comparisons_build_nodes_and_equality_stays_identity():
    x = gc.variable("x")
    assert (x > 0).op == "gt" and (x <= 1).op == "le" and (0 < x).op == "gt"
    assert (x == x) is True and (x == gc.variable("y")) is False
    assert {x: 1}[x] == 1
    assert abs(x).op == "abs"


# -- the NumPy-style functions on numbers ---------------------------------------------

def test_every_primitive_has_a_numpy_style_function():
    missing = [n for n, p in PRIMITIVES.items() if p.arity > 0 and p.elementwise
               and n not in PRIMITIVE_FUNCTIONS]
    assert not missing, f"add these primitives to graphc.numpy_api: {missing}"
    for name, fn in PRIMITIVE_FUNCTIONS.items():
        assert getattr(gc, fn.__name__) is fn


def _reference(name):
    scipy_special = pytest.importorskip("scipy.special")
    return {
        "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
        "pow": np.power, "neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
        "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
        "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
        "log1p": np.log1p, "expm1": np.expm1, "abs": np.abs, "sign": np.sign,
        "heaviside": lambda x: np.heaviside(x, 0.0), "sigmoid": scipy_special.expit,
        "relu": lambda x: np.maximum(x, 0.0),
        "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
        "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
        "softplus": lambda x: np.logaddexp(0.0, x),
        "minimum": np.minimum, "maximum": np.maximum,
        "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
        "eq": np.equal, "ne": np.not_equal, "where": lambda c, a, b: np.where(c != 0, a, b),
    }.get(name)


@pytest.mark.parametrize("name", sorted(PRIMITIVE_FUNCTIONS))
def test_numeric_calls_match_numpy_and_the_traced_graph(name):
    prim = PRIMITIVES[name]
    fn = PRIMITIVE_FUNCTIONS[name]
    rng = np.random.default_rng(3)
    args = [rng.uniform(lo, hi, 7) for lo, hi in prim.domain]
    if name in ("eq", "ne", "minimum", "maximum", "le", "ge"):
        args[1][:3] = args[0][:3]  # ties
    got = fn(*args)
    ref = _reference(name)
    if ref is not None:
        np.testing.assert_allclose(got, np.asarray(ref(*args), float), rtol=1e-14, atol=0)
    names = [f"a{i}" for i in range(prim.arity)]
    g = gc.Graph([gc.variable(n) for n in names], [fn(*[gc.variable(n) for n in names])])
    np.testing.assert_allclose(gc.evaluate(g, *args), got, rtol=1e-15, atol=0)


def test_numeric_dtypes_and_errors():
    assert isinstance(gc.sin(1.0), np.float64)
    assert gc.exp(np.float32(1.0)).dtype == np.float32
    assert gc.add(np.ones(3, np.float32), 2.0).dtype == np.float32
    assert gc.add(np.ones(3, np.float32), np.ones(3)).dtype == np.float64
    assert gc.sqrt(np.arange(4)).dtype == np.float64
    assert gc.log(0.0) == -np.inf  # no warning, IEEE semantics
    assert gc.where(np.array([1.0, 0.0]), 1.0, 2.0).tolist() == [1.0, 2.0]
    with pytest.raises(gc.InputError):
        gc.sin(1j)
    with pytest.raises(gc.InputError):
        gc.sin("x")
    x = gc.variable("x")
    with pytest.raises(gc.InputError, match="real numbers"):
        gc.add(x, np.array(["a"]))


def test_float32_tracing_and_compile():
    f = gc.function(lambda x: gc.sigmoid(x) * 3.0, dtype="float32")
    assert f.graph.outputs[0].dtype == "float32"
    y = f.compile()(np.linspace(-1, 1, 5, dtype=np.float32))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, 3 / (1 + np.exp(-np.linspace(-1, 1, 5))), rtol=1e-6)
