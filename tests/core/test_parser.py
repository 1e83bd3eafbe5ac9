"""The expression parser: grammar, programs, input order, and errors users can act on."""

import math

import numpy as np
import pytest

import graphc as gc
from graphc.ir import to_source


def value(src, **at):
    return float(gc.evaluate(gc.parse(src), **at))


@pytest.mark.parametrize("src, at, want", [
    ("1 + 2 * 3", {}, 7.0),
    ("2 ^ 3 ^ 2", {}, 512.0),            # right-associative
    ("2 ** 3 ** 2", {}, 512.0),
    ("-x^2", {"x": 3.0}, -9.0),          # unary minus binds looser than ^
    ("x^-2", {"x": 2.0}, 0.25),
    ("(x - 1) / (x + 1)", {"x": 3.0}, 0.5),
    ("1e-3 * x + .5 + 2.", {"x": 1000.0}, 3.5),
    ("2 * pi", {}, 2 * math.pi),
    ("e", {}, math.e),
    ("ln(e) + log(1)", {}, 1.0),
    ("arcsin(1) - asin(1) + arccos(0) - acos(0) + arctan(1) - atan(1)", {}, 0.0),
    ("pow(x, 3) - x*x*x", {"x": 1.5}, 0.0),
    ("min(x, 1, -2) + max(x, 3)", {"x": 2.0}, 1.0),
    ("sigmoid(0) + relu(-1) + leaky_relu(-1) + elu(0) + softplus(0)", {},
     0.5 + 0 - 0.01 + 0 + math.log(2)),
    ("leaky_relu(-2, 0.1) + leaky_relu(-2, alpha=0.2)", {}, -0.6),
    ("abs(-3) + sqrt(16) + tanh(0) + sinh(0) + cosh(0)", {}, 8.0),
    ("x > 1", {"x": 2.0}, 1.0),
    ("where(x >= 0, sqrt(x), 0)", {"x": -4.0}, 0.0),
])
def test_expressions_evaluate(src, at, want):
    assert value(src, **at) == pytest.approx(want, rel=1e-15, abs=1e-15)


def test_program_with_statements_and_labels():
    src = "u = w1*x + b1; v = sigmoid(u)\nz = w2*v + b2; l = (z - y)^2"
    g = gc.parse(src)
    assert g.input_names == ("b1", "b2", "w1", "w2", "x", "y")  # natural order
    assert g.output_names == ("l",)
    assert sorted(g.labels.values()) == ["l", "u", "v", "z"]
    at = dict(w1=0.5, x=2.0, b1=0.1, w2=-1.0, b2=0.3, y=1.0)
    u = 0.5 * 2 + 0.1
    z = -1 / (1 + math.exp(-u)) + 0.3
    assert float(gc.evaluate(g, **at)) == pytest.approx((z - 1) ** 2, rel=1e-15)


def test_corpus_variable_names_are_not_special():
    g = gc.parse("gamma*beta + I*lambd + lambda", inputs=["gamma", "beta", "I", "lambd",
                                                          "lambda"])
    assert float(gc.evaluate(g, 2, 3, 4, 5, 1)) == 27.0


def test_input_order_and_unused_inputs():
    g = gc.parse("x2 * x1", inputs=["x1", "x2", "x3"])
    assert g.input_names == ("x1", "x2", "x3")
    g2 = gc.parse("b * a + c")
    assert g2.input_names == ("a", "b", "c")  # natural order, not first appearance
    with pytest.raises(gc.ParseError, match="unknown variable 'x4'"):
        gc.parse("x4 + x1", inputs=["x1"])
    # a declared input shadows a constant name
    assert float(gc.evaluate(gc.parse("e * 2", inputs=["e"]), 5.0)) == 10.0


def test_common_subexpressions_are_shared():
    g = gc.parse("sin(x*y) + cos(x*y) + sin(x*y)")
    ops_ = [n.op for n in g.operations]
    assert ops_.count("mul") == 1 and ops_.count("sin") == 1


@pytest.mark.parametrize("src, column, fragment", [
    ("x +", 4, "expected a number, a name"),
    ("2x", 2, "write 2*x"),
    ("sin(x", 4, "never closed"),
    ("x)", 2, "unmatched ')'"),
    ("a.b", 2, "attribute access"),
    ("x = = 2", 5, "unexpected '='"),
    ("sinn(x)", 1, "did you mean sin"),
    ("exp(x, 2)", 1, "takes 1 argument"),
    ("leaky_relu(x, alpha=y)", 15, "must be a number"),
    ("f(x) = 3", 1, "unknown function 'f'"),
    ("x ; ; y", 1, "only the last statement"),
    ("", 1, "empty source"),
    ("__class__", 1, "not allowed"),
    ("x $ y", 3, "unexpected character '$'"),
    ("x\u00b2", 2, "ASCII only"),
])
def test_errors_have_position_and_expectation(src, column, fragment):
    with pytest.raises(gc.ParseError) as info:
        gc.parse(src)
    err = info.value
    assert fragment in str(err)
    assert err.column == column
    assert isinstance(err, gc.GraphcError)
    if src:
        assert "^" in str(err).splitlines()[-1]  # the caret line


def test_unknown_function_lists_close_matches():
    with pytest.raises(gc.ParseError) as info:
        gc.parse("tanhh(x)")
    assert "did you mean tanh" in str(info.value)


def test_deep_nesting_does_not_recurse():
    depth = 20000
    g = gc.parse("(" * depth + "x" + ")" * depth + " + 1")
    assert float(gc.evaluate(g, x=1.0)) == 2.0
    chain = " + ".join(["x"] * 20000)
    assert float(gc.evaluate(gc.parse(chain), x=1.0)) == 20000.0


def test_to_source_round_trips():
    for src in ["ln(x1) + x1*x2 - sin(x2)", "-x^2 + x^-2 * (y - -3) / (1 - y)",
                "where(x > 0, sqrt(x), leaky_relu(x, 0.2)) + max(x, y) ^ 2 ^ 0.5",
                "u = x*y; v = exp(-u); v*u - 1e-300 + 2.5e10"]:
        g = gc.parse(src)
        again = gc.parse(to_source(g), inputs=g.input_names)
        assert again.outputs[0] is g.outputs[0]
        xs = {n: np.linspace(0.3, 2.0, 5) for n in g.input_names}
        np.testing.assert_array_equal(gc.evaluate(g, **xs), gc.evaluate(again, **xs))


def test_never_evaluates_text(tmp_path):
    sentinel = tmp_path / "pwned"
    hostile = [f"__import__('os').system('touch {sentinel}')",
               f"open('{sentinel}', 'w')", "exec('1')", "eval('1')",
               "(lambda: 1)()", "[x for x in y]", "x.__class__", "globals()"]
    for src in hostile:
        with pytest.raises(gc.ParseError):
            gc.parse(src)
    assert not sentinel.exists()
