"""Trace tables against the published textbook tables.

Ground truth we did not write:
* Baydin, Pearlmutter, Radul & Siskind, "Automatic differentiation in machine
  learning: a survey", JMLR 18(153), 2018: Table 2 (forward primal and tangent
  traces of f = ln(x1) + x1·x2 − sin(x2) at (2, 5), ẋ1 = 1) and Table 3 (reverse
  adjoint trace). The symbolic column of each line below is copied from those tables
  (with graphc's output name f for their y); the values are the published ones to
  the precision printed there, and the six-digit values of ../shared/STYLE.md.
* Deisenroth, Faisal & Ong, "Mathematics for Machine Learning", 2020, Example 5.14
  and §5.6: f(x) = √(x² + exp(x²)) + cos(x² + exp(x²)) at x = 2 with ∂f/∂c = −0.822,
  ∂f/∂a = −45.717, ∂f/∂x = −182.87.
* The modular back-propagation example (STYLE.md): F = w2·relu(w1·x + b1) + b2,
  loss (F − y)², w1 = 5, w2 = −1, b1 = 0, b2 = 1, x = 3, y = −12: F = −14, ∂ℓ/∂F = −4.
* Griewank & Walther, Evaluating Derivatives (2008), the running example
  f = [sin(x1/x2) + x1/x2 − e^{x2}]·[x1/x2 − e^{x2}] at (1.5, 0.5):
  y = 2.016647, x̄ = (3.011843, −13.723962).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.viz import Trace

sys.path.insert(0, str(Path(__file__).parent))
from viz_golden import (
    BAYDIN,
    BAYDIN_AT,
    DEISENROTH,
    DEISENROTH_AT,
    REGRESSION,
    REGRESSION_AT,
    check_golden,
)


def lines(t: Trace, section: str) -> list[str]:
    return [r["text"] for r in t.rows(section)]


def values(t: Trace, section: str) -> list[float]:
    return [r["value"] for r in t.rows(section)]


@pytest.fixture(scope="module")
def baydin_rev():
    return gc.trace(BAYDIN, at=BAYDIN_AT, mode="rev")


@pytest.fixture(scope="module")
def baydin_fwd():
    return gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd", seed={"x1": 1})


# -- Baydin et al. 2018 ----------------------------------------------------------------

def test_baydin_forward_primal_trace(baydin_rev):
    # Table 2/3, "Forward Primal Trace"
    assert lines(baydin_rev, "primal") == [
        "v₋₁ = x₁ = 2",
        "v₀ = x₂ = 5",
        "v₁ = ln v₋₁ = ln 2 = 0.693147",
        "v₂ = v₋₁ × v₀ = 2 × 5 = 10",
        "v₃ = sin v₀ = sin 5 = −0.958924",
        "v₄ = v₁ + v₂ = 0.693147 + 10 = 10.6931",
        "v₅ = v₄ − v₃ = 10.6931 − (−0.958924) = 11.6521",
        "f = v₅ = 11.6521",
    ]
    published = [2, 5, 0.693, 10, -0.959, 10.693, 11.652, 11.652]
    np.testing.assert_allclose(values(baydin_rev, "primal"), published, atol=5e-4)
    style = [2, 5, 0.693147, 10, -0.958924, 10.693147, 11.652071, 11.652071]
    np.testing.assert_allclose(values(baydin_rev, "primal"), style, atol=5e-7)


def test_baydin_forward_tangent_trace(baydin_fwd):
    # Table 2, "Forward Tangent (Derivative) Trace", ẋ1 = 1, ẋ2 = 0
    assert lines(baydin_fwd, "tangent") == [
        "v̇₋₁ = ẋ₁ = 1",
        "v̇₀ = ẋ₂ = 0",
        "v̇₁ = v̇₋₁/v₋₁ = 1/2 = 0.5",
        "v̇₂ = v̇₋₁ × v₀ + v̇₀ × v₋₁ = 1 × 5 + 0 × 2 = 5",
        "v̇₃ = v̇₀ × cos v₀ = 0 × cos 5 = 0",
        "v̇₄ = v̇₁ + v̇₂ = 0.5 + 5 = 5.5",
        "v̇₅ = v̇₄ − v̇₃ = 5.5 − 0 = 5.5",
        "ḟ = v̇₅ = 5.5",
    ]
    assert values(baydin_fwd, "tangent") == [1, 0, 0.5, 5, 0, 5.5, 5.5, 5.5]
    assert baydin_fwd.directional_derivative == {"f": 5.5}
    assert baydin_fwd.sections == ["primal", "tangent"]


def test_baydin_reverse_adjoint_trace(baydin_rev):
    # Table 3, "Reverse Adjoint (Derivative) Trace", read in execution order (the
    # paper prints it bottom-up, from v̄5 = ȳ = 1 to x̄1 = v̄−1 = 5.5)
    assert lines(baydin_rev, "adjoint") == [
        "v̄₅ = f̄ = 1",
        "v̄₄ = v̄₅ ∂v₅/∂v₄ = v̄₅ × 1 = 1",
        "v̄₃ = v̄₅ ∂v₅/∂v₃ = v̄₅ × (−1) = −1",
        "v̄₁ = v̄₄ ∂v₄/∂v₁ = v̄₄ × 1 = 1",
        "v̄₂ = v̄₄ ∂v₄/∂v₂ = v̄₄ × 1 = 1",
        "v̄₀ = v̄₃ ∂v₃/∂v₀ = v̄₃ × cos v₀ = −0.283662",
        "v̄₋₁ = v̄₂ ∂v₂/∂v₋₁ = v̄₂ × v₀ = 5",
        "v̄₀ = v̄₀ + v̄₂ ∂v₂/∂v₀ = v̄₀ + v̄₂ × v₋₁ = 1.71634",
        "v̄₋₁ = v̄₋₁ + v̄₁ ∂v₁/∂v₋₁ = v̄₋₁ + v̄₁/v₋₁ = 5.5",
        "x̄₁ = v̄₋₁ = 5.5",
        "x̄₂ = v̄₀ = 1.71634",
    ]
    published = [1, 1, -1, 1, 1, -0.284, 5, 1.716, 5.5, 5.5, 1.716]
    np.testing.assert_allclose(values(baydin_rev, "adjoint"), published, atol=5e-4)
    assert baydin_rev.gradient["x1"] == 5.5
    assert baydin_rev.gradient["x2"] == pytest.approx(1.716338, abs=5e-7)


def test_baydin_adjoint_rows_carry_local_partials(baydin_rev):
    rows = baydin_rev.rows("adjoint")
    last = [r for r in rows if r["kind"] == "step"][-1]
    assert last["node"] == "v-1" and last["source"] == "v1"
    assert last["partial"] == "∂v₁/∂v₋₁"
    assert last["partial_expr"] == "1/v₋₁"
    assert last["partial_value"] == 0.5
    sin_step = rows[5]
    assert sin_step["partial_expr"] == "cos v₀"
    assert sin_step["partial_value"] == pytest.approx(math.cos(5))
    assert [r["kind"] for r in rows] == ["seed"] + ["step"] * 8 + ["result"] * 2
    assert rows[0]["latex"] == r"\bar{v}_{5} = \bar{f} = 1"
    assert rows[8]["latex"] == (r"\bar{v}_{-1} = \bar{v}_{-1} + \bar{v}_{1} "
                                r"\frac{\partial v_{1}}{\partial v_{-1}} = \bar{v}_{-1} + "
                                r"\bar{v}_{1}/v_{-1} = 5.5")


def test_digits_control_printed_values_only(baydin_rev):
    three = baydin_rev.rows("primal", digits=3)
    assert [r["value_text"] for r in three] == ["2", "5", "0.693", "10", "−0.959", "10.7",
                                                "11.7", "11.7"]
    assert three[4]["text"] == "v₃ = sin v₀ = sin 5 = −0.959"
    assert three[-1]["value"] == baydin_rev.rows("primal")[-1]["value"]  # full precision
    t9 = gc.trace(BAYDIN, at=BAYDIN_AT, digits=9)
    assert t9.rows("adjoint")[-1]["value_text"] == "1.71633781"


# -- Deisenroth et al. ------------------------------------------------------------------

def test_deisenroth_forward_and_adjoints():
    t = gc.trace(DEISENROTH, at=DEISENROTH_AT, mode="rev")
    # a = x², b = exp(a), c = a + b, d = √c, e = cos(c), f = d + e: v1 … v6
    a, b, c, d, e, f = (t.value(f"v{k}") for k in range(1, 7))
    assert a == 4
    assert b == pytest.approx(54.598, abs=5e-4)
    assert c == pytest.approx(58.598, abs=5e-4)
    assert d == pytest.approx(7.6549, abs=5e-5)
    assert e == pytest.approx(-0.46, abs=5e-3)
    assert f == pytest.approx(7.194, abs=5e-4)
    adj = {t.id_of(n): v for n, v in t.adjoint.items()}
    assert adj["v3"] == pytest.approx(-0.822, abs=5e-4)      # ∂f/∂c
    assert adj["v2"] == pytest.approx(-0.822, abs=5e-4)      # ∂f/∂b
    assert adj["v1"] == pytest.approx(-45.717, abs=5e-4)     # ∂f/∂a
    assert adj["v0"] == pytest.approx(-182.87, abs=5e-3)     # ∂f/∂x
    assert t.gradient["x"] == adj["v0"]
    assert lines(t, "adjoint")[4] == "v̄₃ = v̄₃ + v̄₄ ∂v₄/∂v₃ = v̄₃ + v̄₄ × 0.5/v₄ = −0.822284"
    assert lines(t, "primal")[1] == "v₁ = v₀² = 2² = 4"


# -- modular back-propagation with ReLU ------------------------------------------------

def test_regression_example_forward_loss_and_dl_dF():
    t = gc.trace(REGRESSION, at=REGRESSION_AT, mode="rev")
    F = t.node("F")
    assert t.primal[F] == -14
    assert t.outputs == {"l": 4.0}
    assert t.adjoint[F] == -4                     # ∂ℓ/∂F = 2(F − y)
    rows = t.rows("primal")
    assert [r["label"] for r in rows if r["kind"] == "op"] == [None, "u", "h", None, "F",
                                                               None, "l"]
    assert "v₃ = relu(v₂) = relu(15) = 15" in lines(t, "primal")
    # gradient against central differences of the loss (ground truth we did not write)
    f = gc.parse(REGRESSION)
    h = 1e-6
    for name in REGRESSION_AT:
        hi = dict(REGRESSION_AT, **{name: REGRESSION_AT[name] + h})
        lo = dict(REGRESSION_AT, **{name: REGRESSION_AT[name] - h})
        fd = (float(gc.evaluate(f, **hi)) - float(gc.evaluate(f, **lo))) / (2 * h)
        assert t.gradient[name] == pytest.approx(fd, abs=1e-5), name


def test_griewank_walther_running_example():
    src = "(sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2))"
    t = gc.trace(src, at={"x1": 1.5, "x2": 0.5})
    assert t.outputs["f"] == pytest.approx(2.016647, abs=5e-7)
    assert t.gradient["x1"] == pytest.approx(3.011843, abs=5e-7)
    assert t.gradient["x2"] == pytest.approx(-13.723962, abs=5e-7)


# -- agreement with graphc's AD passes and with SymPy ----------------------------------

CASES = [
    (BAYDIN, BAYDIN_AT),
    (DEISENROTH, DEISENROTH_AT),
    (REGRESSION, REGRESSION_AT),
    ("x*x*x + tanh(x*y) / (1 + y^2)", {"x": 0.7, "y": -1.3}),
    ("where(x > 0, sqrt(x), 0) + max(x, y) * sigmoid(y)", {"x": 0.0, "y": 0.25}),
    ("x*log(x)", {"x": 0.0}),
    ("sqrt(x) + exp(y)", {"x": 0.0, "y": 800.0}),
]


@pytest.mark.parametrize("src,at", CASES)
def test_reverse_trace_equals_vjp_bitwise(src, at):
    f = gc.parse(src)
    t = gc.trace(f, at=at, mode="rev")
    g = gc.grad(f, list(f.input_names))
    expected = [float(v) for v in gc.evaluate(g, **at)]
    got = [t.gradient[n] for n in f.input_names]
    np.testing.assert_array_equal(got, expected)   # NaN == NaN here


@pytest.mark.parametrize("src,at", CASES)
def test_forward_trace_equals_jvp_bitwise(src, at):
    f = gc.parse(src)
    for k, name in enumerate(f.input_names):
        seed = {n: (1.0 if n == name else 0.0) for n in f.input_names}
        seed[f.input_names[0]] += 0.5 * k         # a non-axis direction too
        t = gc.trace(f, at=at, mode="fwd", seed=seed)
        j = gc.jvp(f, seed=seed)
        _, ydot = gc.evaluate(j, **at)
        np.testing.assert_array_equal(t.directional_derivative[f.output_names[0]], float(ydot))


def test_trace_against_sympy_derivatives():
    sympy = pytest.importorskip("sympy")
    x1, x2 = sympy.symbols("x1 x2")
    exprs = {
        "ln(x1) + x1*x2 - sin(x2)": sympy.log(x1) + x1 * x2 - sympy.sin(x2),
        "exp(x1/x2) * cos(x1 - x2^3)": sympy.exp(x1 / x2) * sympy.cos(x1 - x2 ** 3),
        "atan(x1*x2) + sqrt(x1^2 + x2^2)": sympy.atan(x1 * x2) + sympy.sqrt(x1**2 + x2**2),
    }
    point = {"x1": 0.8, "x2": 1.7}
    subs = {x1: point["x1"], x2: point["x2"]}
    for src, e in exprs.items():
        t = gc.trace(src, at=point)
        for name, sym in (("x1", x1), ("x2", x2)):
            exact = float(sympy.diff(e, sym).evalf(subs=subs))
            assert t.gradient[name] == pytest.approx(exact, rel=1e-12, abs=1e-12), (src, name)
        tf = gc.trace(src, at=point, mode="fwd", seed={"x1": 1, "x2": -2})
        exact = float((sympy.diff(e, x1) - 2 * sympy.diff(e, x2)).evalf(subs=subs))
        assert tf.directional_derivative["f"] == pytest.approx(exact, rel=1e-12)


# -- golden tables -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "md", "tex", "html"])
def test_golden_tables(fmt, baydin_rev, baydin_fwd):
    ext = {"text": "txt", "md": "md", "tex": "tex", "html": "html"}[fmt]
    check_golden(f"baydin_rev.{ext}", baydin_rev.table(fmt))
    check_golden(f"baydin_fwd.{ext}", baydin_fwd.table(fmt))
    check_golden(f"deisenroth_rev.{ext}",
                 gc.trace(DEISENROTH, at=DEISENROTH_AT).table(fmt))
    check_golden(f"regression_rev.{ext}",
                 gc.trace(REGRESSION, at=REGRESSION_AT).table(fmt))


def test_table_formats_are_well_formed(baydin_rev):
    md = baydin_rev.table("md").splitlines()
    tables = [l for l in md if l.startswith("|")]
    assert all(l.count("|") == tables[0].count("|") for l in tables)
    tex = baydin_rev.table("tex")
    assert tex.count(r"\toprule") == 1 and tex.count(r"\bottomrule") == 1
    body = [l for l in tex.splitlines() if l.endswith(r"\\") and "multicolumn" not in l]
    assert len(body) == len(baydin_rev.rows())
    assert all(l.count("&") == 2 for l in body)
    assert tex.count("$") % 2 == 0
    import xml.etree.ElementTree as ET
    html = baydin_rev.table("html")     # a whole document; the table parses as XML
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    root = ET.fromstring(html[html.index("<table"):html.index("</table>") + len("</table>")])
    assert len(root.findall("tr")) == len(baydin_rev.rows()) + 2   # + 2 section headers
    with pytest.raises(gc.GraphcError, match="formats are"):
        baydin_rev.table("rst")
    with pytest.raises(gc.GraphcError, match="no 'tangent' section"):
        baydin_rev.table("md", sections=["tangent"])


def test_rows_are_plain_data(baydin_rev):
    import json
    rows = baydin_rev.rows()
    json.dumps(rows)                    # no Node objects or numpy scalars leak out
    assert {r["section"] for r in rows} == {"primal", "adjoint"}
    assert all(isinstance(r["value"], float) for r in rows)
