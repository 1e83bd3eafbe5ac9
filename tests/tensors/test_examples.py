"""The examples on real data, checked against ground truth graphc did not compute:
SciPy's hand-written Rosenbrock derivatives, NumPy's normal-equation solution, and the
test accuracy of the digits network."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import polyfit  # noqa: E402
import rosenbrock  # noqa: E402


@pytest.mark.parametrize("n", [2, 3, 1000, 10 ** 6])
def test_rosenbrock_gradient_and_hessian_vector_product_match_scipy(n):
    so = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(n)
    x = rng.uniform(-2.0, 2.0, n)
    v = rng.normal(size=n)
    vg, hvp = rosenbrock.kernels()
    f, g = vg(x)
    g2, hv = hvp(x, v)
    assert f == pytest.approx(so.rosen(x), rel=1e-13)
    assert rosenbrock.relative_error(g, so.rosen_der(x)) < 1e-14
    np.testing.assert_array_equal(g, g2)
    assert rosenbrock.relative_error(hv, so.rosen_hess_prod(x, v)) < 1e-14


def test_polynomial_fit_by_gradient_descent_reaches_the_normal_equations():
    x, y = polyfit.samples(n=100, seed=1)
    c, steps, _ = polyfit.fit(x, y, tol=1e-9)
    exact = polyfit.normal_equations(x, y)
    np.testing.assert_allclose(c, exact, atol=1e-7)
    np.testing.assert_allclose(c, polyfit.TRUE, atol=0.1)  # the noise is small
    assert steps > 10


def test_digits_network_reaches_95_percent_with_sgd_and_adam():
    pytest.importorskip("sklearn")
    import mlp_digits as mlp
    data = mlp.load_data(0)
    _, _, Xte, yte = data
    predict = mlp.make_predict()
    for opt in (mlp.SGD(0.5), mlp.Adam(0.01)):
        params, losses = mlp.train(opt, epochs=30, batch=32, data=data)
        assert losses[-1] < 0.2 < losses[0]
        assert mlp.accuracy(params, Xte, yte, predict) >= 0.95
