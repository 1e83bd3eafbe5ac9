"""No hidden input orders (issue 13, part 2).

Without ``inputs=``, a parsed graph's inputs are in the natural order of their names
(``x1 < x2 < x10 < y``), not in order of first appearance; ``inputs=`` still fixes any
order. The reference order here is an independent brute-force comparison (a character
scanner and a pairwise comparison function), not graphc's key. Gradients of several
inputs of a function come back as named tuples in that order. The Rosenbrock example of
the issue is checked against SciPy's own ``rosen`` and ``rosen_der``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.frontend.parser import natural_key


def _chunks(name: str) -> list[tuple[bool, str]]:
    """Scan ``name`` character by character into (is_digits, text) runs."""
    out: list[tuple[bool, str]] = []
    for ch in name:
        d = "0" <= ch <= "9"
        if out and out[-1][0] == d:
            out[-1] = (d, out[-1][1] + ch)
        else:
            out.append((d, ch))
    return out


def _compare(a: str, b: str) -> int:
    """Natural comparison written out: runs pairwise, digit runs by numeric value, text
    runs by code point; a name that is a prefix (in runs) of the other comes first;
    equal run values fall back to plain text comparison."""
    ca, cb = _chunks(a), _chunks(b)
    for (da, ta), (db, tb) in zip(ca, cb):
        if da != db:  # names here start with a letter, so runs alternate alike
            raise AssertionError(f"unexpected names {a!r}, {b!r}")
        if da:
            va, vb = int(ta), int(tb)
            if va != vb:
                return -1 if va < vb else 1
        elif ta != tb:
            # code-point order of the text runs, comparing only the run itself
            return -1 if ta < tb else 1
    if len(ca) != len(cb):
        return -1 if len(ca) < len(cb) else 1
    return (a > b) - (a < b)


# names the parser takes as inputs: a letter from a set that is neither a constant nor
# a function, then letters and digit runs (leading zeros included)
_NAME = st.builds(lambda head, tail: head + "".join(tail),
                  st.sampled_from(["x", "y", "w", "u", "v", "X", "W", "z"]),
                  st.lists(st.sampled_from(["0", "1", "2", "9", "10", "007", "x", "b"]),
                           max_size=4))


@settings(max_examples=150, deadline=None)
@given(st.lists(_NAME, min_size=1, max_size=8, unique=True), st.randoms())
def test_default_order_is_natural(names, rnd):
    """Whatever order the names appear in, the inputs come out naturally sorted."""
    shuffled = list(names)
    rnd.shuffle(shuffled)
    g = gc.parse(" + ".join(shuffled))
    want = sorted(names, key=functools.cmp_to_key(_compare))
    assert list(g.input_names) == want
    assert sorted(names, key=natural_key) == want
    assert f"({', '.join(want)})" in repr(g)


@settings(max_examples=60, deadline=None)
@given(st.lists(_NAME, min_size=1, max_size=6, unique=True), st.randoms())
def test_inputs_argument_keeps_any_order(names, rnd):
    order = list(names)
    rnd.shuffle(order)
    g = gc.parse(" * ".join(names), inputs=order)
    assert list(g.input_names) == order
    k = gc.compile(g, "numpy")
    assert f"({', '.join(order)})" in repr(k)


def test_natural_examples():
    assert sorted(["x10", "y", "x2", "x1"], key=natural_key) == ["x1", "x2", "x10", "y"]
    assert gc.parse("100*(x2 - x1^2)^2 + (1 - x1)^2").input_names == ("x1", "x2")
    assert "(x1, x2)" in repr(gc.compile(gc.parse("x2 - x1")))


def test_rosenbrock_with_scipy_starts_at_the_textbook_point():
    """The issue's example: minimize from [-1.2, 1.0] starts at f = 24.2 (SciPy's rosen
    at x1 = -1.2, x2 = 1), not 484 (the swapped point)."""
    optimize = pytest.importorskip("scipy.optimize")
    rosen = gc.parse("100*(x2 - x1^2)^2 + (1 - x1)^2")
    fun_and_grad, hess = gc.scipy_objective(rosen)
    x0 = np.array([-1.2, 1.0])
    f0, g0 = fun_and_grad(x0)
    assert f0 == pytest.approx(optimize.rosen(x0), rel=1e-14) == pytest.approx(24.2)
    np.testing.assert_allclose(g0, optimize.rosen_der(x0), rtol=1e-14)
    np.testing.assert_allclose(hess(x0), optimize.rosen_hess(x0), rtol=1e-14)
    res = optimize.minimize(fun_and_grad, x0, jac=True, hess=hess, method="trust-exact")
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)
    # the same through a function transform: a named gradient
    v, g = gc.value_and_grad(lambda x1, x2: 100 * (x2 - x1 ** 2) ** 2 + (1 - x1) ** 2,
                             argnums=(0, 1))(*x0)
    assert v == pytest.approx(24.2)
    assert g._fields == ("x1", "x2")
    np.testing.assert_allclose([g.x1, g.x2], optimize.rosen_der(x0), rtol=1e-14)


@settings(max_examples=40, deadline=None)
@given(st.lists(_NAME, min_size=2, max_size=6, unique=True))
def test_gradient_of_a_graph_made_function_is_named(names):
    """f = sum_k (k+1) * name_k: the gradient's fields are the names in natural order
    and each value is its own coefficient."""
    coef = {n: float(k + 1) for k, n in enumerate(names)}
    src = " + ".join(f"{coef[n]} * {n}" for n in names)
    graph = gc.parse(src)

    class ByGraph:  # a callable carrying its Graph is a function to graphc
        def __init__(self, graph):
            self.graph = graph

        def __call__(self, *a):
            return gc.evaluate(self.graph, *a)

    g = gc.grad(ByGraph(graph), argnums=tuple(range(len(names))), target="numpy")(
        *[1.0] * len(names))
    order = sorted(names, key=functools.cmp_to_key(_compare))
    assert list(g._fields) == order
    assert [float(v) for v in g] == [coef[n] for n in order]
    assert all(f"{n}=" in str(g) for n in names)
    # the Graph-level gradient is in the same order (a plain tuple of the same values)
    assert [float(v) for v in gc.evaluate(gc.grad(graph), *[1.0] * len(names))] == \
        [coef[n] for n in order]


def test_names_that_are_not_fields_give_a_plain_tuple():
    from graphc.transforms import named_tuple
    assert type(named_tuple(["x", "y"], [1, 2])).__name__ == "Gradient"
    for bad in (["_x", "y"], ["class", "y"], ["x", "x"]):
        t = named_tuple(bad, [1, 2])
        assert type(t) is tuple and t == (1, 2)
