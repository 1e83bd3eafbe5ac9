"""LaTeX display of graphs (Jupyter's _repr_latex_). The formulas were also checked to
render with KaTeX 0.16 for every corpus formula and its gradient (see the report of
issue 8); here: exact text for textbook examples, balanced delimiters everywhere."""

import pytest

import graphc as gc
from graphc.interop.latex import MAX_TRACE, latex_name, latex_number, to_latex

from helpers import read_rows


def test_baydin_expression_and_gradient():
    g = gc.parse("ln(x1) + x1*x2 - sin(x2)")
    lines = to_latex(g).split("\n")
    assert lines[0] == "\\begin{aligned}" and lines[-1] == "\\end{aligned}"
    assert lines[1] == ("f\\left(x_{1}, x_{2}\\right) &= "
                        "\\ln x_{1} + x_{1} x_{2} - \\sin x_{2} \\\\")
    # the simplifier chooses the order of a sum's terms
    assert lines[2] in ("\\frac{\\partial f}{\\partial x_{1}} &= \\frac{1}{x_{1}} + x_{2} \\\\",
                        "\\frac{\\partial f}{\\partial x_{1}} &= x_{2} + \\frac{1}{x_{1}} \\\\")
    assert lines[3] == "\\frac{\\partial f}{\\partial x_{2}} &= x_{1} - \\cos x_{2}"
    assert g._repr_latex_().startswith("$$\\begin{aligned}")


@pytest.mark.parametrize("src, want", [
    ("(x + y) * z", r"\left(x + y\right) z"),
    ("x - (y - z)", r"x - \left(y - z\right)"),
    ("-(x + y)", r"-\left(x + y\right)"),
    ("(x + 1)^2", r"\left(x + 1\right)^{2}"),
    ("sin(x)^2", r"\left(\sin x\right)^{2}"),
    ("sin(x + y)", r"\sin \left(x + y\right)"),
    ("sin(x) * y", r"\left(\sin x\right) y"),
    ("x * sin(y)", r"x \sin y"),
    ("x * 2", r"2 x"),                       # the coefficient first
    ("x / (y + 1)", r"\frac{x}{y + 1}"),
    ("x * 1e-05", r"1 \cdot 10^{-5} x"),
    ("2 * x * 3", r"6 x"),                    # exact coefficients fold
    ("x^2 * 2 * x", r"2 x^{2} x"),
    ("sigmoid(x + 1)", r"\sigma\left(x + 1\right)"),
])
def test_parentheses_follow_precedence(src, want):
    text = to_latex(gc.parse(src), derivatives=False)
    assert text.split("&= ")[1].split("\n")[0] == want


def test_names_and_numbers():
    assert latex_name("x1") == "x_{1}" and latex_name("x_12") == "x_{12}"
    assert latex_name("theta") == r"\theta" and latex_name("Omega2") == r"\Omega_{2}"
    assert latex_name("x_dot") == r"\dot{x}" and latex_name("f_bar") == r"\bar{f}"
    assert latex_name("loss") == r"\mathrm{loss}"
    assert latex_name("w_out") == r"w_{\mathrm{out}}"
    assert latex_number(3.0) == "3" and latex_number(0.25) == "0.25"
    assert latex_number(float("inf")) == r"\infty"
    assert latex_number(3.141592653589793) == r"\pi"


def _balanced(text):
    depth = 0
    for ch in text.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and text.count(r"\left") == text.count(r"\right")


ROWS = read_rows("feynman.csv") + read_rows("optim_functions.csv")


def test_corpus_latex_is_balanced_and_labels_print_in_traces():
    for r in ROWS:
        g = gc.parse(r["formula"], inputs=r["variables"].split(";"))
        text = to_latex(g)
        assert _balanced(text), r["id"]
    prog = gc.parse("u = w1*x + b1; h = relu(u); y = w2*h + b2")
    trace = to_latex(prog, max_expression=1, derivatives=False)
    assert r"u = v_{2} &= v_{1} + b_{1}" in trace and r"h = v_{3}" in trace
    assert "y\\left(" in trace


def test_hessian_names_and_large_graphs():
    h = gc.hessian(gc.parse("x*y^2"))
    text = to_latex(h, derivatives=False)
    assert r"\frac{\partial^{2} f}{\partial x \partial y}" in text
    assert r"\frac{\partial^{2} f}{\partial y^{2}}" in text
    deep = gc.parse("x")
    src = "x"
    for _ in range(3000):
        src = f"sin({src})"
    deep = gc.parse(src)
    assert deep._repr_latex_() is None  # more than MAX_TRACE operations: not shown
    assert len(deep) > MAX_TRACE
    assert to_latex(deep, derivatives=False).count(r"\\") == 3000  # trace, no recursion


def test_traced_function_displays():
    f = gc.function(lambda x: gc.exp(x) * x)
    assert f._repr_latex_() == f.graph._repr_latex_()
    assert r"e^{x} x" in f._repr_latex_()
