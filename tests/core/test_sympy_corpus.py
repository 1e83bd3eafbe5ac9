"""Ground truth we did not write: SymPy's exact gradients and Hessians of every formula
of the Feynman and optimization corpora, at random points inside their boxes."""

import numpy as np
import pytest

import graphc as gc

from helpers import assert_close_relative, read_rows, sympy_of_row

sympy = pytest.importorskip("sympy")

ROWS = [("feynman", r) for r in read_rows("feynman.csv")] + \
       [("optim", r) for r in read_rows("optim_functions.csv")]


def _points(row, n=4, seed=7):
    rng = np.random.default_rng(seed)
    lo = [float(v) for v in row["low"].split(";")]
    hi = [float(v) for v in row["high"].split(";")]
    return [rng.uniform(a, b, n) for a, b in zip(lo, hi)]


@pytest.mark.parametrize("kind, row", ROWS, ids=[f"{k}:{r['id']}" for k, r in ROWS])
def test_gradient_and_hessian_match_sympy(kind, row):
    expr, symbols = sympy_of_row(row)
    names = [str(s) for s in symbols]
    f = gc.parse(row["formula"], inputs=names)
    xs = _points(row)
    grad_exprs = [sympy.diff(expr, s) for s in symbols]
    grad_fn = sympy.lambdify(symbols, grad_exprs, modules="numpy")
    want_grad = np.array([np.broadcast_to(v, xs[0].shape) for v in grad_fn(*xs)], float)
    got_grad = np.array(gc.compile(gc.grad(f))(*xs), float).reshape(want_grad.shape)
    assert_close_relative(got_grad, want_grad, 1e-9, f"{row['id']} gradient")
    n = len(symbols)
    if n > 6:
        return
    hess_exprs = [sympy.diff(g, s) for g in grad_exprs for s in symbols]
    hess_fn = sympy.lambdify(symbols, hess_exprs, modules="numpy")
    want_h = np.array([np.broadcast_to(v, xs[0].shape) for v in hess_fn(*xs)], float)
    got_h = np.array(gc.evaluate(gc.hessian(f), *xs), float).reshape(want_h.shape)
    assert_close_relative(got_h, want_h, 1e-9, f"{row['id']} Hessian")
