"""Traces of array graphs: values as matrices or summaries, shapes in nodes, and
adjoints through structural operations (matmul, sum, mean, broadcasting).

Ground truth we did not write:
* NumPy's own forward computation of each network (``np.tanh``, ``@``, ``np.mean``);
* the textbook back-propagation formulas for a dense layer (Goodfellow, Bengio &
  Courville, *Deep Learning*, 2016, §6.5.7, Algorithm 6.4): with z = W x + b and
  h = tanh z, ∂l/∂z = ∂l/∂h ⊙ (1 − h²), ∂l/∂W = (∂l/∂z) xᵀ, ∂l/∂x = Wᵀ (∂l/∂z),
  ∂l/∂b = Σ_batch ∂l/∂z, written out with NumPy below;
* central finite differences;
* graphc's own AD graphs (``gc.grad``, ``gc.jvp``, ``gc.vjp``), which the trace must
  agree with bit for bit (it runs the same sweeps).
"""

from __future__ import annotations

import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numpy_interp import evaluate_all
from graphc.viz import Trace, graph_to_dot, render_dot
from graphc.viz import notation as nt

sys.path.insert(0, str(Path(__file__).parent))
from viz_golden import check_golden

LAYER = "h = tanh(W @ x + b); l = sum(h * h)"
LAYER_SHAPES = {"W": ("H", "D"), "x": ("D", 1), "b": ("H", 1)}
# a small fixed point for the golden files (H = D = 2)
LAYER_AT = {"W": np.array([[0.5, -1.0], [2.0, 0.25]]), "x": np.array([[1.0], [2.0]]),
            "b": np.array([[0.1], [-0.2]])}
MLP = "z = W1 @ X + b1; h = tanh(z); y = W2 @ h + b2; l = mean((y - T)^2)"
MLP_SHAPES = {"W1": ("H", "D"), "X": ("D", "B"), "b1": ("H", 1), "W2": (1, "H"),
              "b2": (1, 1), "T": (1, "B")}
SVG_NS = "{http://www.w3.org/2000/svg}"
# the textbook numbering (v-5 = W1 ... v0 = T) is the order of appearance; since issue 13
# the default input order is the names' natural order, so these tests spell it out
LAYER_INPUTS = ("W", "x", "b")
MLP_INPUTS = ("W1", "X", "b1", "W2", "b2", "T")


def mlp_point(H=4, D=3, B=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(size=(H, D)), "X": rng.normal(size=(D, B)),
            "b1": rng.normal(size=(H, 1)), "W2": rng.normal(size=(1, H)),
            "b2": rng.normal(size=(1, 1)), "T": rng.normal(size=(1, B))}


def numpy_mlp(p):
    """Forward and backward pass of the MLP written with NumPy (Deep Learning §6.5)."""
    z = p["W1"] @ p["X"] + p["b1"]
    h = np.tanh(z)
    y = p["W2"] @ h + p["b2"]
    r = y - p["T"]
    loss = np.mean(r ** 2)
    gy = 2 * r / r.size
    gW2 = gy @ h.T
    gb2 = gy.sum(axis=1, keepdims=True)
    gh = p["W2"].T @ gy
    gz = gh * (1 - h ** 2)
    return {"z": z, "h": h, "y": y, "l": loss, "gh": gh,
            "grad": {"W1": gz @ p["X"].T, "X": p["W1"].T @ gz,
                     "b1": gz.sum(axis=1, keepdims=True), "W2": gW2, "b2": gb2,
                     "T": -gy}}


@pytest.fixture(scope="module")
def mlp():
    g = gc.parse(MLP, MLP_INPUTS, **MLP_SHAPES)
    p = mlp_point()
    return g, p, gc.trace(g, at=p)


def test_mlp_primal_and_adjoint_rows_match_numpy(mlp):
    _g, p, t = mlp
    ref = numpy_mlp(p)
    for name in ("z", "h", "y"):
        np.testing.assert_allclose(t.value(name), ref[name], rtol=1e-13, atol=1e-14)
    assert t.outputs["l"] == pytest.approx(ref["l"], rel=1e-13)
    # the adjoint of h (last accumulation of the node labelled h) is ∂l/∂h
    h = t.node("h")
    steps = [r for r in t.rows("adjoint") if r["kind"] == "step" and r["node"] == t.id_of(h)]
    assert steps, "no adjoint row for h"
    np.testing.assert_allclose(steps[-1]["value"], ref["gh"], rtol=1e-12, atol=1e-15)
    for name, want in ref["grad"].items():
        got = t.gradient[name]
        assert got.shape == p[name].shape
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-14, err_msg=name)


def test_mlp_gradient_equals_gc_grad_bit_for_bit_and_finite_differences(mlp):
    g, p, t = mlp
    grads = gc.evaluate(gc.grad(g), **p)
    for x, want in zip(g.input_names, grads):
        np.testing.assert_array_equal(t.gradient[x], want)
    # central differences on a few entries of W1 and b1
    f = gc.evaluate
    for name, idx in (("W1", (1, 2)), ("W1", (3, 0)), ("b1", (2, 0))):
        eps = 1e-6
        up = {k: v.copy() for k, v in p.items()}
        dn = {k: v.copy() for k, v in p.items()}
        up[name][idx] += eps
        dn[name][idx] -= eps
        fd = (float(f(g, **up)) - float(f(g, **dn))) / (2 * eps)
        assert t.gradient[name][idx] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_mlp_rows_show_structural_vjps_and_shapes(mlp):
    g, _p, t = mlp
    rows = t.rows()
    first = rows[0]
    assert first["static_shape"] == "(H, D)" and first["shape"] == (4, 3)
    adj = {r["node"]: r for r in t.rows("adjoint") if r["kind"] == "step"}
    w1 = adj[t.id_of(g.inputs[0])]
    assert w1["partial_kind"] == "vjp" and w1["partial"] is None
    assert w1["chain"] == ["v̄₁ @ v₋₄ᵀ"]              # ∂l/∂W = (∂l/∂z) Xᵀ
    np.testing.assert_array_equal(w1["partial_value"], w1["value"])
    b1 = adj[t.id_of(g.inputs[2])]   # b1 is broadcast along B: its cotangent is summed
    assert b1["partial_kind"] == "partial"
    assert "sum(" in b1["chain"][-1] and "axis=1" in b1["chain"][-1]
    text = t.table("text")
    assert "# z; (H, B) = (4, 5)" in text
    assert "(H, 1) = (4, 1)" in text


def test_forward_mode_with_array_seed_matches_jvp_and_differences():
    g = gc.parse(MLP, MLP_INPUTS, **MLP_SHAPES)
    p = mlp_point(seed=1)
    V = np.random.default_rng(5).normal(size=p["W1"].shape)
    t = gc.trace(g, at=p, mode="fwd", seed={"W1": V, "b2": 0.5})
    j = gc.jvp(g, wrt=["W1", "b2"])
    _, ld = gc.evaluate(j, **p, W1_dot=V, b2_dot=np.full((1, 1), 0.5))
    assert t.directional_derivative["l"] == float(ld)
    eps = 1e-6
    up = dict(p, W1=p["W1"] + eps * V, b2=p["b2"] + eps * 0.5)
    dn = dict(p, W1=p["W1"] - eps * V, b2=p["b2"] - eps * 0.5)
    fd = (float(gc.evaluate(g, **up)) - float(gc.evaluate(g, **dn))) / (2 * eps)
    assert t.directional_derivative["l"] == pytest.approx(fd, rel=1e-6)
    tan = {r["node"]: r for r in t.rows("tangent")}
    np.testing.assert_array_equal(tan["v-5"]["value"], V)                 # the seed
    assert tan["v-5"]["value_text"].startswith("[[" + nt.number(V[0, 0]).text)
    np.testing.assert_array_equal(tan["v-1"]["value"], np.full((1, 1), 0.5))
    assert tan["v1"]["chain"] == ["v̇₋₅ @ v₋₄"]                      # JVP of matmul


def test_reverse_seed_array_on_array_output_matches_vjp():
    g = gc.parse("h = tanh(W @ x + b)", **LAYER_SHAPES)
    cot = np.array([[1.0], [-2.0]])
    t = gc.trace(g, at=LAYER_AT, mode="rev", seed={"h": cot})
    v = gc.vjp(g)
    _, bars = gc.evaluate(v, **LAYER_AT, h_bar=cot)
    for name, want in zip(g.input_names, bars):
        np.testing.assert_array_equal(t.gradient[name], want)
    seed_row = t.rows("adjoint")[0]
    assert seed_row["kind"] == "seed"
    np.testing.assert_array_equal(seed_row["value"], cot)
    with pytest.raises(gc.GraphcError, match="shape"):
        gc.trace(g, at=LAYER_AT, seed={"h": np.ones(3)})


def test_golden_small_array_example():
    g = gc.parse(LAYER, **LAYER_SHAPES)   # natural input order: W, b, x
    t = gc.trace(g, at=LAYER_AT, digits=4, title="h = tanh(W @ x + b); l = sum(h ⊙ h)")
    check_golden("layer_adjoint.dot", t.to_dot("adjoint"))
    check_golden("layer_rev.txt", t.table("text"))
    check_golden("layer_rev.tex", t.table("tex"))
    # the golden numbers are NumPy's
    h = np.tanh(LAYER_AT["W"] @ LAYER_AT["x"] + LAYER_AT["b"])
    gz = 2 * h * (1 - h ** 2)
    np.testing.assert_allclose(t.gradient["W"], gz @ LAYER_AT["x"].T, rtol=1e-13)
    assert "⎡" in t.to_dot() and "(H, D) = (2, 2)" in t.to_dot()


def test_render_svg_and_png(tmp_path):
    g = gc.parse(MLP, MLP_INPUTS, **MLP_SHAPES)
    t = gc.trace(g, at=mlp_point(H=3, D=2, B=2))
    svg = t.pipe("svg")
    root = ET.fromstring(svg)
    titles = [e.find(f"{SVG_NS}title").text for e in root.iter(f"{SVG_NS}g")
              if e.get("class") == "node"]
    assert {"vm5", "v1", "v8", "y0"} <= set(titles)
    text = "".join(root.itertext())
    assert "(H, D) = (3, 2)" in text and "⎡" in text
    for view in ("tangent", "combined"):
        tt = gc.trace(g, at=mlp_point(H=3, D=2, B=2), mode="fwd" if view == "tangent"
                      else "rev", seed={"X": 1.0} if view == "tangent" else None)
        ET.fromstring(tt.pipe("svg", view=view, collapse=view == "combined"))
    out = t.render(tmp_path / "mlp.png")
    data = Path(out).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert w > 1000 and h > 200


def test_large_arrays_print_as_shape_and_statistics():
    g = gc.parse(MLP, MLP_INPUTS, **MLP_SHAPES)
    p = mlp_point(H=8, D=3, B=64, seed=2)
    t = gc.trace(g, at=p)
    ref = numpy_mlp(p)
    z = next(r for r in t.rows("primal") if r["label"] == "z")
    st = nt.stats(ref["z"])
    want = (f"(8, 64): min {nt.number(st['min'], 4).text}, mean "
            f"{nt.number(st['mean'], 4).text}, max {nt.number(st['max'], 4).text}")
    assert z["value_text"] == want
    # a large matrix limit prints it in full; 1 summarises even b2 (1 × 1)
    assert t.rows(matrix_max=(8, 64))[8]["value_text"].startswith("[[")
    assert t.rows(matrix_max=1)[4]["value_text"] == "[[" + nt.number(p["b2"][0, 0]).text \
        + "]]"
    assert t.rows(matrix_max=0)[4]["value_text"].startswith("(1, 1): min ")
    dot = t.to_dot()
    assert "(H, B) = (8, 64)" in dot and "min " in dot
    with pytest.raises(gc.GraphcError, match="matrix_max"):
        t.table(matrix_max=(1, 2, 3))


def test_nan_diagnosis_is_elementwise():
    g = gc.parse("u = W @ x; h = sqrt(u); l = sum(h)", W=(3, 2), x=(2, 1))
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    x = np.array([[4.0], [-1.0]])
    t = gc.trace(g, at={"W": W, "x": x})
    p = t.first_problem
    assert (p.section, p.node, p.kind, p.index) == ("primal", "v2", "nan", (1, 0))
    assert p.cause == "√(−1) = nan at [1, 0]"
    assert [q.section for q in t.problems] == ["primal"]     # the rest only propagates
    grads = gc.evaluate(gc.grad(g), W=W, x=x)
    np.testing.assert_array_equal(t.gradient["W"], grads[0])   # NaN where IEEE says so
    assert np.isnan(t.gradient["W"][1]).all() and np.isfinite(t.gradient["W"][0]).all()
    # an infinite derivative in one entry: sqrt'(0) = inf at index 1
    g2 = gc.parse("l = sum(sqrt(x))", x=("n",))
    xs = np.array([1.0, 0.0, 4.0])
    t2 = gc.trace(g2, at={"x": xs})
    (q,) = t2.problems
    assert (q.section, q.node, q.kind, q.index, q.edge) == ("adjoint", "v0", "inf", (1,),
                                                            ("v1", "v0"))
    assert q.cause == "sqrt'(0) = inf at [1], and v̄₁ × ∂ = 1 × inf"
    np.testing.assert_array_equal(t2.gradient["x"], [0.5, np.inf, 0.25])
    assert "⚠ first inf: sqrt'(0) = inf at [1]" in t2.table("text")
    assert 'COLOR="#d35400"' in t2.to_dot()
    t3 = gc.trace(g2, at={"x": xs}, mode="fwd")
    assert t3.first_problem.cause == "sqrt'(0) = inf at [1], and v̇₀ × ∂ = 1 × inf"


def test_tables_in_every_format_show_matrices():
    g = gc.parse(LAYER, LAYER_INPUTS, **LAYER_SHAPES)
    t = gc.trace(g, at=LAYER_AT)
    md = t.table("md")
    assert "\\[0.5, −1\\], \\[2, 0.25\\]" in md and "(H, D) = (2, 2)" in md
    tex = t.table("tex")
    assert r"\begin{bmatrix}0.5 & -1 \\ 2 & 0.25\end{bmatrix}" in tex and "amsmath" in tex
    html = t.table("html")
    assert '<table class="graphc-matrix"' in html
    assert t.rows()[1]["value_text"] == "[1, 2]ᵀ"          # a column vector


def test_graph_to_dot_with_array_values_and_symbolic_shapes():
    g = gc.parse("y = X[1:] - X[:-1]; s = sum(y * y)", X=("n",))
    assert "(n-1,)" in graph_to_dot(g)
    values = evaluate_all(g, {"X": np.array([1.0, 4.0, 9.0])})
    dot = graph_to_dot(g, values)
    assert "(n-1,) = (2,)" in dot and "(n,) = (3,)" in dot
    ET.fromstring(render_dot(dot, "svg"))
    t = gc.trace(g, at={"X": np.array([1.0, 4.0, 9.0])})
    (want,) = gc.evaluate(gc.grad(g), X=[1.0, 4.0, 9.0])
    np.testing.assert_array_equal(t.gradient["X"], want)
    # s = Σ (X[i+1] − X[i])²: ∂s/∂X = (−2·3, 2·3 − 2·5, 2·5)
    np.testing.assert_array_equal(want, [-6.0, -4.0, 10.0])


def test_trace_of_a_string_declares_shapes_from_the_point():
    t = gc.trace("sum(W @ x)", at={"W": np.ones((2, 3)), "x": np.arange(3.0)})
    np.testing.assert_array_equal(t.gradient["W"], [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(t.gradient["x"], [2, 2, 2])
    assert t.value("v1").shape == (2,)


def test_trace_checks_array_values():
    g = gc.parse(LAYER, LAYER_INPUTS, **LAYER_SHAPES)
    x = g.inputs[0]
    values = {n: v for n, v in evaluate_all(g, LAYER_AT).items()}
    Trace(g, values)                                     # fine
    with pytest.raises(gc.GraphcError, match="declared with shape"):
        Trace(g, {**values, x: np.ones(4)})
    with pytest.raises(gc.GraphcError, match="scalar"):
        Trace(g, {**values, x: 1.0})
    with pytest.raises(gc.GraphcError):
        gc.trace(g, at={**LAYER_AT, "x": np.ones((3, 1))})   # D is 2 in W


def test_value_notation():
    assert nt.value(np.array([[1.0, 2.0], [3.0, 4.0]])).text == "[[1, 2], [3, 4]]"
    assert nt.value(np.array([1.0, -2.0])).text == "[1, −2]"
    assert nt.value(np.array([[1.0], [2.0]])).latex == r"\begin{bmatrix}1 \\ 2\end{bmatrix}"
    big = np.array([1.0, np.nan, np.inf, -np.inf, 3.0])
    assert nt.value(big, limit=(1, 4)).text == "(5,): min 1, mean 2, max 3; 1 nan, 1 inf, 1 −inf"
    assert nt.value(np.full((2, 9), np.nan)).text == "(2, 9): 18 nan"
    assert nt.value(np.zeros((0, 3))).text == "(0, 3): empty"
    assert nt.matrix_limit(3) == (3, 3) and nt.matrix_limit(None) == nt.SMALL_MATRIX


def test_cli_trace_with_array_inputs(tmp_path, capsys):
    from graphc.cli import main
    np.save(tmp_path / "w.npy", LAYER_AT["W"])
    args = ["trace", LAYER, "--at", f"W=@{tmp_path / 'w.npy'}", "x=[[1], [2]]",
            "b=[[0.1], [-0.2]]", "--digits", "4"]
    assert main(args + ["--format", "text"]) == 0
    text = capsys.readouterr().out
    h = np.tanh(LAYER_AT["W"] @ LAYER_AT["x"] + LAYER_AT["b"])
    gW = (2 * h * (1 - h ** 2)) @ LAYER_AT["x"].T       # ∂l/∂W, NumPy
    want = "[[" + "], [".join(", ".join(nt.number(v, 4).text for v in r) for r in gW) + "]]"
    assert "W̄   = v̄₋₂" in text and want in text
    out = tmp_path / "layer.svg"
    assert main(args + ["--matrix-max", "1", "-o", str(out)]) == 0
    svg = out.read_text(encoding="utf-8")
    assert "(2, 2)" in svg and "min " in svg and "⎡" not in svg
    assert main(["trace", "sum(W @ x)", "--at", "W=@missing.npy", "x=1"]) != 0
    assert "cannot read an array" in capsys.readouterr().err
