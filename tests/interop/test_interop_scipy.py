"""SciPy interop: graphc's compiled gradients and Hessians drive scipy.optimize.minimize
to the published minima, and agree with SciPy's own Rosenbrock derivatives (ground
truth we did not write: scipy.optimize.rosen_der / rosen_hess / rosen_hess_prod)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import graphc as gc

from helpers import read_rows

scipy_optimize = pytest.importorskip("scipy.optimize")

ROWS = {r["id"]: r for r in read_rows("optim_functions.csv")}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "optimize_corpus.py"


def _example():
    spec = importlib.util.spec_from_file_location("optimize_corpus", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _graph(row):
    return gc.parse(row["formula"], inputs=[v for v in row["variables"].split(";") if v])


def test_rosenbrock_derivatives_match_scipy():
    obj = gc.scipy_objective(_graph(ROWS["scipy_rosen_n4"]))
    rng = np.random.default_rng(5)
    for _ in range(5):
        x = rng.uniform(-2, 2, 4)
        f, g = obj.fun_and_grad(x)
        assert f == pytest.approx(scipy_optimize.rosen(x), rel=1e-14)
        np.testing.assert_allclose(g, scipy_optimize.rosen_der(x), rtol=1e-12)
        np.testing.assert_allclose(obj.hess(x), scipy_optimize.rosen_hess(x), rtol=1e-12)
        p = rng.normal(size=4)
        np.testing.assert_allclose(obj.hessp(x, p), scipy_optimize.rosen_hess_prod(x, p),
                                   rtol=1e-12, atol=1e-12)
    fg, hess = obj  # unpacks as (fun_and_grad, hess)
    assert fg == obj.fun_and_grad and hess == obj.hess


@pytest.mark.parametrize("rid", ["mgh01_rosenbrock", "mgh05_beale", "mgh13_powell_singular",
                                 "mgh14_wood", "mgh08_bard", "go_himmelblau", "opy_booth"])
def test_bfgs_with_graphc_gradient_reaches_f_min(rid):
    ex = _example()
    row = ROWS[rid]
    obj = gc.scipy_objective(_graph(row))
    x0 = ex.start_point(row)
    res = scipy_optimize.minimize(obj.fun_and_grad, x0, jac=True, method="BFGS",
                                  options={"gtol": 1e-8, "maxiter": 5000})
    f_min = float(row["f_min"])
    assert abs(res.fun - f_min) <= ex.published_tolerance(row["f_min"]), res
    if rid == "mgh01_rosenbrock":
        np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)
    # the same minimum from Newton's method with graphc's exact Hessian
    res2 = scipy_optimize.minimize(obj.fun_and_grad, x0, jac=True, hess=obj.hess,
                                   method="trust-exact", options={"gtol": 1e-8})
    assert abs(res2.fun - f_min) <= ex.published_tolerance(row["f_min"])


def test_exact_gradients_save_evaluations_over_finite_differences():
    row = ROWS["mgh14_wood"]
    ex = _example()
    results = {r["method"]: r for r in ex.run_row(row, ("BFGS/graphc", "BFGS/FD"))}
    assert results["BFGS/graphc"]["reached"] and results["BFGS/FD"]["reached"]
    assert results["BFGS/graphc"]["nfev"] * 3 < results["BFGS/FD"]["nfev"]


def test_fixed_inputs_and_errors():
    g = gc.parse("(x - a)^2 + (y - 2*a)^2")
    obj = gc.scipy_objective(g, wrt=["x", "y"], fixed={"a": 1.5})
    res = scipy_optimize.minimize(obj.fun_and_grad, [0.0, 0.0], jac=True, method="BFGS")
    np.testing.assert_allclose(res.x, [1.5, 3.0], atol=1e-6)
    with pytest.raises(gc.GraphcError, match="neither"):
        gc.scipy_objective(g, wrt=["x", "y"])
    with pytest.raises(gc.GraphcError, match="one scalar output"):
        gc.scipy_objective(gc.value_and_grad(g))
    with pytest.raises(gc.GraphcError, match="vector of 3"):
        gc.scipy_objective(g).fun_and_grad([1.0, 2.0])


def test_example_script_runs_as_json(capsys):
    ex = _example()
    assert ex.main(["--ids", "opy_booth", "--json", "--methods", "BFGS/graphc,trust-exact"]) == 0
    import json
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert [r["method"] for r in lines] == ["BFGS/graphc", "trust-exact"]
    assert all(r["reached"] for r in lines)
