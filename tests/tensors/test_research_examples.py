"""The examples written as a researcher would (issue 13, part 8): the 2-layer MLP as a
Python function trained by gradient descent (``examples/mlp_python.py``) and graphc's
Jacobians fed to ``scipy.optimize.least_squares`` (``examples/least_squares_fit.py``),
at small sizes. Ground truth is outside graphc: central differences of a NumPy loss,
SymPy's exact derivatives (of the residuals, and of the corpus's Bard formula), SciPy's
own finite-difference run and the minima Moré, Garbow & Hillstrom published."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import least_squares_fit as lsq  # noqa: E402
import mlp_python  # noqa: E402
from helpers import central_difference, read_rows, sympy_of_row  # noqa: E402

# -- the MLP as a Python function ----------------------------------------------------------


@pytest.mark.parametrize("sizes,batch,seed", [((6, 5, 3), 7, 1), ((4, 9, 5), 1, 2),
                                              ((11, 3, 2), 16, 3)])
def test_mlp_gradient_matches_the_parse_string_and_central_differences(sizes, batch, seed):
    import mlp_digits
    # tracing the Python function builds the very nodes of the parse string
    assert mlp_python.loss.graph.outputs[0] is mlp_digits.loss_graph().outputs[0]
    errs = mlp_python.check_gradient(sizes, batch, seed, probes=4)
    assert errs["parse"] < 1e-12
    assert errs["finite_differences"] < 1e-6
    # every entry of every weight, against central differences of the NumPy loss
    rng = np.random.default_rng(seed)
    d, _, c = sizes
    params = {k: v + rng.normal(0.0, 0.3, v.shape)
              for k, v in mlp_python.init_params(sizes, seed).items()}
    X = rng.normal(size=(d, batch))
    y = rng.integers(0, c, batch).astype(np.float64)
    value, grads = mlp_python.value_and_grad(params, X, y)
    assert value == pytest.approx(mlp_python.numpy_loss(params, X, y), rel=1e-13)
    for k in mlp_python.PARAMS:
        fd = central_difference(
            lambda p: mlp_python.numpy_loss({**params, k: p}, X, y), params[k], 1e-5)
        np.testing.assert_allclose(grads[k], fd, rtol=0, atol=1e-8, err_msg=k)


def test_mlp_trains_on_synthetic_blobs_by_gradient_descent():
    data = mlp_python.make_blobs(seed=0)
    params, losses = mlp_python.train(data, hidden=16, steps=60, lr=1.0, seed=0)
    assert losses[0] > 0.5 and losses[-1] < 0.05 * losses[0]
    assert all(np.isfinite(losses))
    assert mlp_python.accuracy(params, data[2], data[3]) >= 0.95


def test_mlp_trains_on_digits_by_gradient_descent():
    pytest.importorskip("sklearn")
    data = mlp_python.load_digits(seed=0)
    params, losses = mlp_python.train(data, hidden=32, steps=150, lr=1.0, seed=0)
    assert losses[0] > 2.0 and losses[-1] < 0.2
    assert mlp_python.accuracy(params, data[2], data[3]) >= 0.93


def test_mlp_script_reports_its_checks_and_accuracy(tmp_path, capsys):
    rc = mlp_python.main(["--data", "blobs", "--steps", "40", "--min-accuracy", "0.9",
                          "--plot", ""])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "gradient check" in out and "(ok)" in out and "test accuracy" in out


# -- least squares with graphc's Jacobians --------------------------------------------------

MODES = ["fwd", "rev"]


def sympy_jacobian(problem: lsq.Problem, x: np.ndarray) -> np.ndarray:
    """The exact Jacobian (m, n) at ``x``: SymPy differentiates the example's residual
    called on SymPy symbols (it is plain arithmetic), then evaluates at ``x``."""
    import sympy
    syms = sympy.symbols(f"x1:{problem.n_params + 1}", real=True)
    rows = []
    for point in zip(*problem.data):
        r = problem.residual(*syms, *(sympy.Float(float(v), 30) for v in point))
        rows.append([float(sympy.diff(r, s).subs(dict(zip(syms, map(float, x)))))
                     for s in syms])
    return np.array(rows)


def points(problem: lsq.Problem, k: int = 3, seed: int = 0) -> list[np.ndarray]:
    """The start, the published minimizer and ``k`` random points near the start."""
    rng = np.random.default_rng(seed)
    x0 = np.array(problem.x0)
    return [x0, np.array(problem.x_min),
            *(x0 * rng.uniform(0.7, 1.3, x0.shape) for _ in range(k))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(lsq.PROBLEMS))
def test_graphc_jacobian_matches_sympy_and_central_differences(name, mode):
    pytest.importorskip("sympy")
    problem = lsq.PROBLEMS[name]
    fun, jac = lsq.residuals_and_jacobian(problem, mode)
    for x in points(problem):
        J = jac(x)
        assert J.shape == (len(problem.data[0]), problem.n_params) and J.dtype == np.float64
        np.testing.assert_allclose(J, sympy_jacobian(problem, x), rtol=1e-12, atol=1e-14)
        fd = np.column_stack([central_difference(lambda t, i=i: fun(t)[i], x, 1e-6)
                              for i in range(len(problem.data[0]))]).T
        np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)


def test_bard_residuals_agree_with_the_corpus_formula_and_its_sympy_gradient():
    sympy = pytest.importorskip("sympy")
    (row,) = [r for r in read_rows("optim_functions.csv") if r["id"] == "mgh08_bard"]
    expr, syms = sympy_of_row(row)
    grad = [sympy.diff(expr, s) for s in syms]
    fun, jac = lsq.residuals_and_jacobian(lsq.PROBLEMS["bard"])
    for x in points(lsq.PROBLEMS["bard"]):
        at = dict(zip(syms, map(float, x)))
        r = fun(x)
        assert r @ r == pytest.approx(float(expr.subs(at)), rel=1e-13)
        J = jac(x)
        # atol: the rounding of J^T r, which nearly cancels at the minimizer
        np.testing.assert_allclose(2.0 * J.T @ r, [float(g.subs(at)) for g in grad],
                                   rtol=1e-11, atol=1e-13 * np.abs(J).sum() * np.abs(r).max())


@pytest.mark.parametrize("name", sorted(lsq.PROBLEMS))
def test_least_squares_with_graphc_jacobian_reaches_the_published_minimum(name):
    pytest.importorskip("scipy")
    problem = lsq.PROBLEMS[name]
    for mode in MODES:
        ours = lsq.solve(problem, "graphc", mode)
        fd = lsq.solve(problem, "2-point")
        assert ours.success and fd.success
        f = float(ours.fun @ ours.fun)
        assert f == pytest.approx(problem.f_min, rel=1e-5)       # 6 published digits
        np.testing.assert_allclose(ours.x, problem.x_min, rtol=1e-5)
        assert f <= float(fd.fun @ fd.fun) * (1 + 1e-9)
        np.testing.assert_allclose(ours.x, fd.x, rtol=1e-5)
        # at the minimum the gradient J^T r vanishes (relative to |J||r|)
        g = ours.jac.T @ ours.fun
        assert np.max(np.abs(g)) < 1e-8 * np.linalg.norm(ours.jac) * np.linalg.norm(ours.fun)


def test_least_squares_script_and_bad_mode(capsys):
    pytest.importorskip("scipy")
    assert lsq.main(["--problem", "bard", "--mode", "rev"]) == 0
    out = capsys.readouterr().out
    assert "graphc jacrev" in out and "scipy 2-point" in out
    with pytest.raises(ValueError, match="mode"):
        lsq.residuals_and_jacobian(lsq.PROBLEMS["bard"], "central")
