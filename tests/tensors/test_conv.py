"""Convolution and pooling (issue 14, part 5; the CNN example of part 6).

Ground truth is PyTorch (``torch.nn.functional`` values and autograd gradients, double
backward for second order) and central finite differences. Cases are generated: a
grid of spatial rank (1-D, 2-D, 3-D) x stride x padding x dilation x groups for
``conv``, rank x kernel x stride x padding x dilation for the pools (inputs rounded so
that windows hold tied maxima), both dtypes, through the NumPy interpreter and a
sample of them through the LLVM backend (im2col + BLAS); every record of
:data:`graphc.ir.conv_ops.CONV_PRIMITIVES` is also covered by the registry-driven
tests of ``tests/tensors/test_array_primitives.py``. ``-m slow`` runs a denser grid.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.ir import Graph, ShapeError, ops, to_expr
from graphc.ir import array_ops as A
from graphc.ir import conv_ops as C

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = ("float64", "float32")
NP = {"float64": np.float64, "float32": np.float32}
TORCH = {"float64": torch.float64, "float32": torch.float32}
RTOL = {"float64": 1e-11, "float32": 2e-4}


def _close(got, want, dtype, what):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, what
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1.0)
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale,
                               err_msg=what)


# ---------------------------------------------------------------------------------
# case generation

def conv_cases(dense: bool = False):
    """``(x shape, w shape, params)`` over rank x stride x padding x dilation x groups;
    sizes derived from the parameters (channels 2·groups in, 3·groups out; kernels 3,
    2, 2 per axis), every combination whose dilated kernel fits the padded input."""
    strides, pads, dils, groups = (1, 2), (0, 1), (1, 2), (1, 2)
    if dense:
        strides, pads, dils, groups = (1, 2, 3), (0, 1, 2), (1, 2, 3), (1, 2, 3)
    cases = []
    for nd, s, p, d, g in itertools.product((1, 2, 3), strides, pads, dils, groups):
        spatial = (7, 6, 5)[:nd]
        kernel = (3, 2, 2)[:nd]
        if any(L + 2 * p < d * (k - 1) + 1 for L, k in zip(spatial, kernel)):
            continue
        # mix scalar and per-axis parameters: per-axis strides on 2-D, 3-D
        stride = s if nd == 1 else (s,) + (1,) * (nd - 1)
        cases.append(((2, 2 * g) + spatial, (3 * g, 2) + kernel,
                      {"stride": stride, "padding": p, "dilation": d, "groups": g}))
    return cases


def pool_cases(dense: bool = False):
    """``(kind, x shape, params)`` over rank x kernel x stride x padding (at most half
    the kernel) x dilation (max pooling only) x count_include_pad (average)."""
    kernels, strides = (2, 3), (None, 1)
    if dense:
        kernels, strides = (1, 2, 3), (None, 1, 2, 3)
    cases = []
    for nd, k, s, p in itertools.product((1, 2, 3), kernels, strides, (0, 1)):
        if 2 * p > k:
            continue
        x_shape = (2, 3) + (7, 6, 5)[:nd]
        for d in ((1, 2) if nd < 3 or dense else (1,)):
            if 2 * p > d * (k - 1) + 1:
                continue
            cases.append(("max", x_shape, {"kernel": k, "stride": s, "padding": p,
                                          "dilation": d}))
        for cip in ((True, False) if p else (True,)):
            cases.append(("avg", x_shape, {"kernel": k, "stride": s, "padding": p,
                                          "count_include_pad": cip}))
    return cases


CONV = conv_cases()
POOL = pool_cases()


def with_dtypes(cases):
    """Every case in float64 and every third one in float32 too (the period 3 is
    prime to the grid's factors of 2, so float32 meets every rank and parameter)."""
    return [(c, "float64") for c in cases] + [(c, "float32") for c in cases[::3]]


def _id(case):
    *_, params = case
    shape = case[0] if not isinstance(case[0], str) else case[1]
    head = case[0] if isinstance(case[0], str) else "conv"
    return f"{head}{len(shape) - 2}d-" + "-".join(f"{k}{v}" for k, v in params.items())


def _torch_conv(xs, ws, params, dtype):
    """Input, weight, output and (input, weight) gradients for a random cotangent."""
    rng = np.random.default_rng(abs(hash((xs, ws))) % 2 ** 32)
    x = rng.normal(size=xs).astype(NP[dtype])
    w = rng.normal(size=ws).astype(NP[dtype])
    fn = (F.conv1d, F.conv2d, F.conv3d)[len(xs) - 3]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    y = fn(xt, wt, **params)
    ybar = rng.normal(size=tuple(y.shape)).astype(NP[dtype])
    y.backward(torch.tensor(ybar))
    return x, w, ybar, y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def _conv_graph(xs, ws, params, dtype):
    x = ops.variable("x", dtype, xs)
    w = ops.variable("w", dtype, ws)
    return Graph([x, w], [C.conv(x, w, **params)])


def _pool_node(kind, x, params):
    return C.max_pool(x, **params) if kind == "max" else C.avg_pool(x, **params)


def _torch_pool(kind, xs, params, dtype):
    rng = np.random.default_rng(len(xs) * 1000 + params["kernel"])
    # integers in [-3, 3]: most windows hold tied maxima (PyTorch: the first one wins)
    x = np.round(rng.uniform(-3, 3, size=xs)).astype(NP[dtype])
    nd = len(xs) - 2
    fn = getattr(F, f"{kind}_pool{nd}d")
    kw = dict(params)
    kw["kernel_size"] = kw.pop("kernel")
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt, **kw)
    ybar = rng.normal(size=tuple(y.shape)).astype(NP[dtype])
    y.backward(torch.tensor(ybar))
    return x, ybar, y.detach().numpy(), xt.grad.numpy()


# ---------------------------------------------------------------------------------
# values and gradients vs PyTorch: NumPy interpreter, every case, both dtypes

@pytest.mark.parametrize("case,dtype", with_dtypes(CONV),
                         ids=lambda c: c if isinstance(c, str) else _id(c))
def test_conv_value_and_gradients_match_torch(case, dtype):
    xs, ws, params = case
    x, w, ybar, y_t, gx_t, gw_t = _torch_conv(xs, ws, params, dtype)
    g = _conv_graph(xs, ws, params, dtype)
    _close(gc.evaluate(g, x, w), y_t, dtype, "value")
    y, (gx, gw) = gc.evaluate(gc.vjp(g), x, w, ybar)
    _close(y, y_t, dtype, "value (vjp graph)")
    _close(gx, gx_t, dtype, "input gradient")
    _close(gw, gw_t, dtype, "weight gradient")


@pytest.mark.parametrize("case,dtype", with_dtypes(POOL),
                         ids=lambda c: c if isinstance(c, str) else _id(c))
def test_pool_value_and_gradient_match_torch_with_ties(case, dtype):
    kind, xs, params = case
    x, ybar, y_t, gx_t = _torch_pool(kind, xs, params, dtype)
    xn = ops.variable("x", dtype, xs)
    g = Graph([xn], [_pool_node(kind, xn, params)])
    _close(gc.evaluate(g, x), y_t, dtype, "value")
    _y, (gx,) = gc.evaluate(gc.vjp(g), x, ybar)
    _close(gx, gx_t, dtype, "input gradient")


# ---------------------------------------------------------------------------------
# the LLVM backend (decomposed: im2col + matmul, strided slices): a sample of the grid

def _pick(cases, **want):
    return next(c for c in cases if all(
        (c[-1].get(k) == v) if k != "nd" else len(c[-2 if isinstance(c[0], str) else 0]) - 2 == v
        for k, v in want.items()))


LLVM_CONV = [_pick(CONV, nd=1, stride=2, padding=1, dilation=2, groups=2),
             _pick(CONV, nd=2, padding=1, dilation=2, groups=1),
             _pick(CONV, nd=3, padding=1, dilation=1, groups=1)]
@pytest.mark.parametrize("path", ["direct", "im2col"])
@pytest.mark.parametrize("case", LLVM_CONV + [
    ((3, 4, 9, 8), (6, 4, 3, 3), {"stride": 1, "padding": 1, "dilation": 1, "groups": 1}),
    ((2, 6, 7, 5), (6, 1, 3, 2), {"stride": (2, 1), "padding": 1, "dilation": 1, "groups": 6}),
    ((2, 3, 11), (5, 3, 4), {"stride": 1, "padding": 2, "dilation": 3, "groups": 1})],
    ids=_id)
def test_conv_lowerings_direct_and_im2col_match_torch(case, path, monkeypatch):
    """Both LLVM lowerings of ``conv`` (the direct loop nest and im2col + matmul, chosen
    by ``conv_ops.direct_conv``), each forced, against PyTorch: value and both
    gradients (whose transposed and batch-swapped convolutions take either path too)."""
    xs, ws, params = case
    big = 10 ** 9
    monkeypatch.setattr(C, "DIRECT_TERMS", big if path == "direct" else 0)
    monkeypatch.setattr(C, "DIRECT_TERMS_GROUPED", big if path == "direct" else 0)
    x, w, ybar, y_t, gx_t, gw_t = _torch_conv(xs, ws, params, "float64")
    gc.clear_cache()
    try:
        kernel = gc.compile(gc.vjp(_conv_graph(xs, ws, params, "float64")))
        y, (gx, gw) = kernel(x, w, ybar)
        plan = kernel.program({}).plan
    finally:
        gc.clear_cache()
    products = [n for n in plan.graph.nodes if n.prim is A.matmul_p]
    assert bool(products) == (path == "im2col")
    _close(y, y_t, "float64", "value")
    _close(gx, gx_t, "float64", "input gradient")
    _close(gw, gw_t, "float64", "weight gradient")


def test_direct_conv_rule():
    """The lowering choice: few terms per output (channels per group x taps) direct,
    many im2col; few output channels or groups direct up to the larger bound."""
    assert C.direct_conv(1, 32, (3, 3), 1) and C.direct_conv(4, 64, (3, 3), 1)
    assert not C.direct_conv(8, 16, (3, 3), 1) and not C.direct_conv(64, 64, (3,), 1)
    assert C.direct_conv(16, 4, (3, 3), 1) and not C.direct_conv(16, 16, (3, 3), 1)
    assert not C.direct_conv(64, 4, (16, 16), 1)     # a weight gradient's many terms
    assert C.direct_conv(32, 32, (3, 3), 32) and C.direct_conv(64, 64, (3, 3), 2)
    assert not C.direct_conv(256, 256, (3, 3), 2)


LLVM_POOL = [c for c in POOL if c[0] == "max" and len(c[1]) == 4 and c[2]["padding"] == 1][:1] \
    + [c for c in POOL if c[0] == "avg" and len(c[1]) == 3 and not c[2]["count_include_pad"]][:1] \
    + [c for c in POOL if c[0] == "max" and len(c[1]) == 5][:1]


@pytest.mark.parametrize("case", LLVM_CONV, ids=_id)
def test_conv_llvm_matches_torch(case):
    dtype = "float64" if LLVM_CONV.index(case) % 2 == 0 else "float32"
    xs, ws, params = case
    x, w, ybar, y_t, gx_t, gw_t = _torch_conv(xs, ws, params, dtype)
    g = _conv_graph(xs, ws, params, dtype)
    y, (gx, gw) = gc.compile(gc.vjp(g))(x, w, ybar)
    _close(y, y_t, dtype, "value")
    _close(gx, gx_t, dtype, "input gradient")
    _close(gw, gw_t, dtype, "weight gradient")


@pytest.mark.parametrize("case", LLVM_POOL, ids=_id)
def test_pool_llvm_matches_torch(case):
    dtype = "float64" if LLVM_POOL.index(case) % 2 == 0 else "float32"
    kind, xs, params = case
    x, ybar, y_t, gx_t = _torch_pool(kind, xs, params, dtype)
    xn = ops.variable("x", dtype, xs)
    g = Graph([xn], [_pool_node(kind, xn, params)])
    y, (gx,) = gc.compile(gc.vjp(g))(x, ybar)
    _close(y, y_t, dtype, "value")
    _close(gx, gx_t, dtype, "input gradient")


# ---------------------------------------------------------------------------------
# forward mode vs finite differences; second order vs PyTorch's double backward

@pytest.mark.parametrize("case", CONV[::4], ids=_id)
def test_conv_jvp_matches_finite_differences(case):
    xs, ws, params = case
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=xs), rng.normal(size=ws)
    dx, dw = rng.normal(size=xs), rng.normal(size=ws)
    g = _conv_graph(xs, ws, params, "float64")
    _y, t = gc.evaluate(gc.jvp(g), x, w, dx, dw)
    h = 1e-6
    want = (gc.evaluate(g, x + h * dx, w + h * dw)
            - gc.evaluate(g, x - h * dx, w - h * dw)) / (2 * h)
    np.testing.assert_allclose(t, want, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("case", POOL[::5], ids=_id)
def test_pool_jvp_matches_finite_differences(case):
    kind, xs, params = case
    rng = np.random.default_rng(2)
    x, dx = rng.normal(size=xs), rng.normal(size=xs)   # no ties: differentiable
    xn = ops.variable("x", "float64", xs)
    g = Graph([xn], [_pool_node(kind, xn, params)])
    _y, t = gc.evaluate(gc.jvp(g), x, dx)
    h = 1e-7
    want = (gc.evaluate(g, x + h * dx) - gc.evaluate(g, x - h * dx)) / (2 * h)
    np.testing.assert_allclose(t, want, rtol=1e-6, atol=1e-7)


SECOND = [CONV[0], next(c for c in CONV if len(c[0]) == 4 and c[2]["groups"] == 2
                        and c[2]["dilation"] == 2 and c[2]["padding"] == 1)]


@pytest.mark.parametrize("case,target", [(SECOND[0], "numpy"), (SECOND[0], "llvm"),
                                         (SECOND[1], "numpy")],
                         ids=lambda c: c if isinstance(c, str) else _id(c))
def test_second_order_grad_of_grad_sum_matches_torch(case, target):
    """``s = Σ v·∂h/∂x`` for ``h = Σ tanh(conv(x, w))``; the gradient of ``s`` with
    respect to x and w (reverse over reverse) against PyTorch's double backward."""
    xs, ws, params = case
    rng = np.random.default_rng(3)
    x, w, v = rng.normal(size=xs), rng.normal(size=ws) * 0.5, rng.normal(size=xs)
    xn, wn = ops.variable("x", "float64", xs), ops.variable("w", "float64", ws)
    h = A.sum(ops.tanh(C.conv(xn, wn, **params)))
    first = gc.vjp(Graph([xn, wn], [h]), wrt=["x"])
    hbar = first.inputs[-1]
    vn = ops.variable("v", "float64", xs)
    s = A.sum(ops.mul(first.outputs[1], vn))
    second = gc.vjp(Graph([xn, wn, vn, hbar], [s]), wrt=["x", "w"])
    k = gc.compile(second, target=target)
    _s, (sx, sw) = k(x, w, v, 1.0, 1.0)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    fn = (F.conv1d, F.conv2d, F.conv3d)[len(xs) - 3]
    ht = torch.tanh(fn(xt, wt, **params)).sum()
    (gxt,) = torch.autograd.grad(ht, xt, create_graph=True)
    st = (gxt * torch.tensor(v)).sum()
    sxt, swt = torch.autograd.grad(st, (xt, wt))
    _close(sx, sxt.numpy(), "float64", "d/dx")
    _close(sw, swt.numpy(), "float64", "d/dw")


# ---------------------------------------------------------------------------------
# graphc.nn: torch.nn.functional's signatures on arrays and graph values

NN = [("conv1d", (2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
      ("conv2d", (3, 7, 6), (4, 3, 3, 3), dict(padding="same")),        # unbatched
      ("conv2d", (2, 3, 7, 6), (4, 3, 3, 3), dict(padding="valid", dilation=(1, 2))),
      ("conv3d", (1, 2, 5, 4, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1))),
      ("max_pool1d", (2, 3, 9), None, dict(kernel_size=3, stride=2, padding=1)),
      ("max_pool2d", (3, 6, 6), None, dict(kernel_size=2)),             # unbatched
      ("max_pool3d", (1, 2, 4, 5, 4), None, dict(kernel_size=2, stride=1)),
      ("avg_pool1d", (2, 3, 9), None, dict(kernel_size=3, padding=1,
                                          count_include_pad=False)),
      ("avg_pool2d", (2, 3, 7, 6), None, dict(kernel_size=(3, 2), stride=1)),
      ("avg_pool3d", (1, 2, 4, 4, 4), None, dict(kernel_size=2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,xs,ws,kw", NN, ids=[f"{c[0]}-{i}" for i, c in enumerate(NN)])
def test_nn_functions_match_torch_on_arrays_and_graph_values(name, xs, ws, kw, dtype):
    rng = np.random.default_rng(4)
    x = rng.normal(size=xs).astype(NP[dtype])
    args = [x]
    if ws is not None:
        args += [rng.normal(size=ws).astype(NP[dtype]), rng.normal(size=ws[0]).astype(NP[dtype])]
    want = getattr(F, name)(*[torch.tensor(a) for a in args], **kw).numpy()
    got = getattr(gc, name)(*args, **kw)
    assert isinstance(got, np.ndarray) and got.dtype == NP[dtype]
    _close(got, want, dtype, "arrays")
    nodes = [ops.variable(f"a{i}", dtype, a.shape) for i, a in enumerate(args)]
    out = getattr(gc.nn, name)(*nodes, **kw)
    _close(gc.evaluate(Graph(nodes, [out]), *args), want, dtype, "graph values")


BAD = [("conv2d", (2, 3, 5, 5), (4, 2, 3, 3), {}, "input channel"),
       ("conv2d", (2, 4, 5, 5), (6, 2, 3, 3), {"groups": 3}, "groups=3"),
       ("conv2d", (2, 3, 5, 5), (4, 3, 7, 7), {}, "larger than the padded input"),
       ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), {"stride": 0}, "stride must be at least 1"),
       ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), {"padding": (1, 1, 1)}, "3 entries"),
       ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), {"stride": 1.5}, "integers"),
       ("conv2d", (2, 3, 5, 5), (4, 3, 2, 2), {"padding": "same"}, "same"),
       ("conv1d", (2, 3, 5, 5), (4, 3, 3), {}, "axes"),
       ("max_pool2d", (2, 3, 5, 5), None, {"kernel_size": 2, "padding": 2}, "half"),
       ("max_pool2d", (2, 3, 5, 5), None, {"kernel_size": 2, "ceil_mode": True}, "ceil_mode"),
       ("avg_pool2d", (2, 3, 5, 5), None, {"kernel_size": 9}, "larger")]


@pytest.mark.parametrize("name,xs,ws,kw,match", BAD, ids=[f"{b[0]}-{b[4]}" for b in BAD])
def test_bad_shapes_and_parameters_raise_shape_errors(name, xs, ws, kw, match):
    args = [np.zeros(xs)] + ([np.zeros(ws)] if ws is not None else [])
    with pytest.raises(ShapeError, match=match):
        getattr(gc, name)(*args, **kw)
    nodes = [ops.variable(f"a{i}", "float64", a.shape) for i, a in enumerate(args)]
    with pytest.raises(ShapeError, match=match):
        getattr(gc, name)(*nodes, **kw)


def test_conv_text_round_trips_through_the_parser():
    x = ops.variable("x", "float64", (2, 4, 7, 6))
    w = ops.variable("w", "float64", (6, 2, 3, 3))
    for node in (C.conv(x, w, stride=(2, 1), padding=1, groups=2),
                 C.max_pool(x, 3, 2, 1), C.avg_pool(x, (2, 3), count_include_pad=False)):
        text = to_expr(node)
        again = gc.parse(text, inputs=["x", "w"], x=(2, 4, 7, 6), w=(6, 2, 3, 3))
        assert again.outputs[0] is node, text


# ---------------------------------------------------------------------------------
# the CNN example at CI size

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_cnn_digits_follows_pytorch(optimizer):
    """CI size: 12 steps through the NumPy interpreter (the LLVM lowering of every op
    is checked above; the 100-step LLVM comparison is ``-m slow``)."""
    pytest.importorskip("sklearn")
    import cnn_digits as cnn
    data = cnn.load_data(0)
    steps = 12
    _p, g, _dt = cnn.train(optimizer, steps, data=data, target="numpy")
    t, _dtt = cnn.torch_losses(optimizer, steps, data=data)
    assert len(g) == len(t) == steps
    assert cnn.max_relative_difference(g, t) <= 1e-9
    assert min(g[-3:]) < g[0]   # it trains


# ---------------------------------------------------------------------------------
# denser sweep (``-m slow``)

@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in conv_cases(dense=True) if c not in CONV], ids=_id)
def test_dense_conv_grid_matches_torch(case):
    test_conv_value_and_gradients_match_torch(case, "float64")


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in pool_cases(dense=True) if c not in POOL], ids=_id)
def test_dense_pool_grid_matches_torch(case):
    test_pool_value_and_gradient_match_torch_with_ties(case, "float64")


@pytest.mark.slow
def test_cnn_digits_100_steps_match_pytorch_with_llvm():
    pytest.importorskip("sklearn")
    import cnn_digits as cnn
    data = cnn.load_data(0)
    _p, g, _dt = cnn.train("adam", 100, data=data)
    t, _dtt = cnn.torch_losses("adam", 100, data=data)
    assert cnn.max_relative_difference(g, t) <= 1e-9


def test_convolution_page_examples_run():
    """docs/convolution.md's examples print what the page says."""
    import doctest
    page = Path(__file__).resolve().parents[2] / "docs" / "convolution.md"
    result = doctest.testfile(str(page), module_relative=False, report=True,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_windows_are_a_strided_view_for_llvm_and_slices_for_cuda():
    """The windows of a convolution or pool are the ``windows`` primitive: the LLVM
    plan reads them as a view of the padded input (a max-pool is one reduction loop, no
    concatenate anywhere), the CUDA specialisation expands them into slices; all three
    agree with NumPy's as_strided windows and PyTorch's pooling."""
    from graphc.backends.cuda import arrays as cuda_arrays
    from graphc.backends.llvm import arrays as llvm_arrays
    from graphc.backends.plan import LoopNest, Plan
    x = ops.variable("x", "float64", (2, 3, 9, 8))
    w = ops.variable("w", "float64", (4, 3, 3, 2))
    pool = C.max_pool(x, kernel=(3, 2), stride=(2, 2), dilation=(1, 2))
    conv = C.conv(x, w, stride=(2, 1), padding=1, dilation=(1, 2))
    g = Graph([x, w], [pool, conv])
    spec = llvm_arrays.specialize(g, {})
    names = {n.prim.name for n in spec.nodes}
    assert "windows" in names and "concatenate" not in names
    pool_plan = Plan(llvm_arrays.specialize(Graph([x], [pool]), {}))
    assert [type(s) for s in pool_plan.steps] == [LoopNest] and pool_plan.work_bytes == 0
    assert "windows" not in {n.prim.name for n in cuda_arrays.specialize(g, {}).nodes}
    rng = np.random.default_rng(3)
    xv, wv = rng.uniform(-1, 1, (2, 3, 9, 8)), rng.uniform(-1, 1, (4, 3, 3, 2))
    got = gc.compile(g)(xv, wv)
    tx, tw = torch.tensor(xv), torch.tensor(wv)
    _close(got[0], F.max_pool2d(tx, (3, 2), (2, 2), dilation=(1, 2)).numpy(), "float64",
           "max_pool")
    _close(got[1], F.conv2d(tx, tw, stride=(2, 1), padding=1, dilation=(1, 2)).numpy(),
           "float64", "conv")
    win = C.windows(x, (3, 2), (2, 1), (1, 2))
    # extent of a dilated window: d·(k-1)+1 = (3, 3); positions every (2, 1), taps every (1, 2)
    want = np.lib.stride_tricks.sliding_window_view(xv, (3, 3), axis=(2, 3))
    want = want[:, :, ::2, ::1, ::1, ::2].transpose(0, 1, 4, 5, 2, 3)  # (N, C, k, k, out)
    np.testing.assert_array_equal(gc.compile(Graph([x], [win]))(xv), want)
    with pytest.raises(ShapeError, match="window positions"):
        C.windows(x, (3, 2), (2, 1), (1, 2), out_sp=(4, 4))
