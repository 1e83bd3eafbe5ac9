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


# -- training curves (issue 17, part 5) --------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRAINING = sorted(p.stem for p in EXAMPLES.glob("*.py")
                  if 'add_argument("--plot"' in p.read_text(encoding="utf-8"))
"""The examples that train and draw their loss curve (they take ``--plot PATH``)."""

SMALL = {"polyfit": ["-n", "40"],
         "mlp_digits": ["--epochs", "1", "--batch", "256"],
         "mlp_torch_compare": ["--steps", "4"],
         "mlp_python": ["--steps", "20"],
         "pinn_burgers": ["--steps", "5", "--H", "8", "--N", "64"]}
"""A small run of each, and what it needs beyond graphc."""
NEEDS = {"mlp_digits": ["sklearn"], "mlp_torch_compare": ["sklearn", "torch"],
         "mlp_python": ["sklearn"]}


def png_image(data: bytes) -> tuple[int, int]:
    """(width, height) of a well-formed PNG (RFC 2083): the signature, every chunk's
    CRC (zlib.crc32), IHDR first, IEND last, and IDAT data that inflates to exactly
    height rows of width pixels. Raises AssertionError otherwise."""
    import struct
    import zlib
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append(kind)
        if kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    assert len(zlib.decompress(idat)) == h * (1 + w * channels * depth // 8)
    return w, h


def test_the_training_examples_are_found():
    assert {"mlp_digits", "polyfit", "mlp_torch_compare"} <= set(TRAINING)
    assert set(SMALL) == set(TRAINING), "give each training example a small run in SMALL"


@pytest.mark.parametrize("name", TRAINING)
def test_a_training_example_saves_its_loss_curve_as_a_png(name, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    for module in NEEDS.get(name, []):
        pytest.importorskip(module)
    import importlib
    example = importlib.import_module(name)
    out = tmp_path / f"{name}.png"
    example.main([*SMALL[name], "--plot", str(out)])
    assert f"loss curve: {out}" in capsys.readouterr().out
    assert png_image(out.read_bytes()) == (768, 480)


def test_the_loss_figure_is_reproducible_and_refuses_an_empty_curve(tmp_path):
    pytest.importorskip("matplotlib")
    import training_curves
    losses = list(np.geomspace(2.0, 1e-3, 50))
    a = training_curves.plot_losses({"sgd": losses}, tmp_path / "a.png", "t")
    b = training_curves.plot_losses({"sgd": losses}, tmp_path / "b.png", "t")
    assert a.read_bytes() == b.read_bytes() and png_image(a.read_bytes()) == (768, 480)
    with pytest.raises(ValueError, match="no steps"):
        training_curves.plot_losses({"sgd": []}, tmp_path / "c.png", "t")
