"""The one expression printer (graphc/ir/printer.py), tested from the primitive registry.

* every primitive prints in every style, and its source form parses back to the very
  same node (both dtypes), with plain and with compound arguments;
* for every pair of binary primitives, ``op1(op2(a, b), c)`` and ``op1(a, op2(b, c))``
  (and the same with negations) print as source that parses back to the same node and
  evaluates, through the NumPy interpreter, to what the records' NumPy implementations
  give composed directly: this is what catches precedence bugs;
* hypothesis: random expressions over the elementwise registry parse back exactly,
  as one expression and as a program (:func:`graphc.to_source`);
* the latex style's regrouping of products and quotients (``\\frac{1}{x^{2}}``) keeps
  the value: the printed factors, evaluated with NumPy, multiply back to the node's
  value;
* every LaTeX string produced here compiles with ``pdflatex`` (skipped without one).
"""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.interop.latex import to_latex
from graphc.ir import Graph, apply, ops
from graphc.ir.primitive import PRIMITIVES
from graphc.ir.printer import STYLES, Printer, to_text

DTYPES = ("float64", "float32")
NAMES = ("a", "b", "c")
OPS = [p for p in PRIMITIVES.values() if p.arity > 0]
ELEMENTWISE = [p for p in OPS if p.elementwise]
BINARY = [p for p in ELEMENTWISE if p.arity == 2]
LATEX_SEEN: set[str] = set()


def _parseable(node):
    """False for what the expression parser cannot read: ``unslice`` (an AD-internal
    op) with a slice index, ``unslice(a, (6,), [1:])``. The test checks that these
    still fail, so it notices when the parser learns them."""
    return not (node.prim.name == "unslice" and ":" in node.param("index"))


def _var(name, dtype, shape=()):
    return ops.variable(name, dtype, shape)


def _apply(prim, *args):
    """``prim(*args)`` with its float parameters' defaults rounded to the arguments'
    dtype, as the parser reads a float32 program's numbers (``leaky_relu(a, 0.01)`` in
    float32 has alpha = float32(0.01)); ``apply`` alone keeps the float64 default."""
    dtype = args[0].dtype
    params = {k: (float(np.float32(v)) if dtype == "float32" else v)
              for k, v in prim.param_defaults.items() if isinstance(v, float)}
    return apply(prim, *args, **params)


def _instances(prim, dtype):
    """``(node, {input name: shape})`` cases for ``prim``: plain inputs, and for
    elementwise ops also compound arguments (a sum, a negation, a power) that test
    parentheses."""
    if prim.elementwise:
        xs = [_var(n, dtype) for n in NAMES[:prim.arity]]
        yield _apply(prim, *xs), {}
        for wrap in (lambda x, i: ops.add(x, _var("c", dtype)),
                     lambda x, i: ops.neg(x),
                     lambda x, i: ops.pow(x, _var("c", dtype)),
                     lambda x, i: ops.mul(x, _var("c", dtype))):
            yield _apply(prim, *[wrap(x, i) for i, x in enumerate(xs)]), {}
        return
    for shapes, params in prim.examples:
        xs = [_var(NAMES[i], dtype, s) for i, s in enumerate(shapes)]
        node = apply(prim, *xs, **params)
        yield node, {NAMES[i]: s for i, s in enumerate(shapes)}
        if prim.arity == 1 and all(isinstance(d, int) for d in shapes[0]):
            # a compound argument: (a + a)
            yield apply(prim, ops.add(xs[0], xs[0]), **params), {NAMES[0]: shapes[0]}


def _check_round_trip(node, dtype, shapes):
    src = to_text(node, "source")
    again = gc.parse(src, inputs=[n for n in NAMES if n in src], dtype=dtype,
                     **{k: v for k, v in shapes.items() if k in src})
    assert again.outputs[0] is node, (src, gc.to_source(again))
    return src


def _graph(node):
    inputs = sorted({n for n in _postorder(node) if n.is_input}, key=lambda n: n.name)
    return Graph(inputs, [node])


def _postorder(node):
    from graphc.ir import postorder
    return postorder([node])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", OPS, ids=lambda p: p.name)
def test_every_primitive_prints_in_every_style(prim, dtype):
    for node, shapes in _instances(prim, dtype):
        g = _graph(node)
        if not _parseable(node):
            with pytest.raises(gc.ParseError):
                _check_round_trip(node, dtype, shapes)
        else:
            _check_round_trip(node, dtype, shapes)
            # to_source (a program) parses back too
            again = gc.parse(gc.to_source(g), inputs=g.input_names, dtype=dtype, **shapes)
            assert again.outputs[0] is node
        for style in STYLES:
            text = to_text(node, style)
            assert text, style
            if not STYLES[style].latex:
                assert "{0}" not in text and "{1}" not in text, (style, text)
            if STYLES[style].latex:
                assert _balanced(text), text
                assert r"\left(\left(" not in text, text
                LATEX_SEEN.add(text)
        assert gc.to_text(g)  # the trace listing


def _pair_nodes(op1, op2, dtype):
    a, b, c = (_var(n, dtype) for n in NAMES)
    yield (apply(op1, apply(op2, a, b), c),
           lambda x, y, z: op1.impl(op2.impl(x, y), z))
    yield (apply(op1, a, apply(op2, b, c)),
           lambda x, y, z: op1.impl(x, op2.impl(y, z)))


def _neg_nodes(op, dtype):
    a, b, c = (_var(n, dtype) for n in NAMES)
    neg = PRIMITIVES["neg"]
    yield apply(neg, apply(op, a, b)), lambda x, y, z: -op.impl(x, y)
    yield apply(op, apply(neg, a), b), lambda x, y, z: op.impl(-x, y)
    yield apply(op, a, apply(neg, b)), lambda x, y, z: op.impl(x, -y)
    yield apply(neg, apply(neg, apply(op, a, b))), lambda x, y, z: op.impl(x, y)


def _points(dtype, n=7):
    rng = np.random.default_rng(7)
    vals = [rng.uniform(-2, 2, n) for _ in NAMES]
    vals[0][:2] = (0.0, 1.0)       # exact ties and zeros for comparisons
    vals[1][:2] = (0.0, 1.0)
    return [v.astype(dtype) for v in vals]


def _check_value(node, reference, dtype):
    src = _check_round_trip(node, dtype, {})
    again = gc.parse(src, inputs=list(NAMES), dtype=dtype)
    xs = _points(dtype)
    with np.errstate(all="ignore"):
        got = np.asarray(gc.evaluate(again, *xs))
        want = np.asarray(reference(*xs))
    np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=src)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op1", BINARY, ids=lambda p: p.name)
def test_binary_pairs_parse_back_to_the_same_value(op1, dtype):
    """op1(op2(a, b), c) and op1(a, op2(b, c)) for every op2, negations too."""
    for op2 in BINARY:
        for node, ref in _pair_nodes(op1, op2, dtype):
            _check_value(node, ref, dtype)
    for node, ref in _neg_nodes(op1, dtype):
        _check_value(node, ref, dtype)


def test_precedence_bugs_of_the_old_printers_are_gone():
    a, b, c = (_var(n, "float64") for n in NAMES)
    # comparisons do not chain: (a < b) < c is not a < b < c
    assert to_text(ops.lt(ops.lt(a, b), c)) == "(a < b) < c"
    # the source style prints the exact tree
    assert to_text(ops.add(a, ops.add(b, c))) == "a + (b + c)"
    assert to_text(ops.mul(a, ops.div(b, c))) == "a * (b / c)"
    # math styles do not need those parentheses
    assert to_text(ops.add(a, ops.add(b, c)), "textbook") == "a + b + c"
    assert to_text(ops.pow(ops.sin(a), _var("c", "float64")), "textbook") == "(sin a)^c"


# ---------------------------------------------------------------------------------
# hypothesis: random expressions over the elementwise registry

LEAF_CONSTS = (0.5, 2.0, -3.0, 1.0, 0.0, -0.0, 1e-5, math.pi)


@st.composite
def expressions(draw, prims=tuple(ELEMENTWISE)):
    dtype = draw(st.sampled_from(DTYPES))
    pool = [_var(n, dtype) for n in NAMES]
    for _ in range(draw(st.integers(1, 7))):
        prim = draw(st.sampled_from(prims))
        args = []
        for _ in range(prim.arity):
            if draw(st.integers(0, 5)) == 0:
                args.append(ops.const(draw(st.sampled_from(LEAF_CONSTS)), dtype))
            else:
                args.append(draw(st.sampled_from(pool)))
        pool.append(_apply(prim, *args))
    return pool[-1], dtype


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_random_expressions_parse_back_exactly(case):
    node, dtype = case
    if not node.args:
        return
    _check_round_trip(node, dtype, {})
    g = _graph(node)
    again = gc.parse(gc.to_source(g), inputs=g.input_names, dtype=dtype)
    assert again.outputs[0] is node
    for style in ("textbook", "latex", "textbook_latex"):
        text = to_text(node, style)
        if STYLES[style].latex:
            assert _balanced(text), text
            LATEX_SEEN.add(text)


ARITH = tuple(PRIMITIVES[n] for n in ("mul", "div", "neg", "add", "sub", "sin", "exp", "pow"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(ARITH))
def test_latex_regrouping_keeps_the_value(case):
    """The latex style prints products and quotients as sign · constants · factors^k
    over the same; evaluating the factors with NumPy gives back the node's value."""
    node, dtype = case
    p = Printer("latex")
    text = p.text(node)
    sign, cnum, cden, factors = p._factor_parts(node)
    xs = dict(zip(NAMES, _points("float64")))
    with np.errstate(all="ignore"):
        want = _eval(node, xs)
        got = np.full_like(want, float(sign))
        for c in cnum:
            got = got * float(c)
        for c in cden:
            got = got / float(c)
        for f, k in factors:
            got = got * _eval(f, xs) ** float(k)
    ok = np.isfinite(want) & np.isfinite(got) & (np.abs(want) < 1e6) & (np.abs(want) > 1e-6)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9 if dtype == "float64" else 1e-4,
                               err_msg=text)


def _eval(node, xs):
    """``node`` at ``xs`` with the records' NumPy implementations, in float64."""
    vals = {}
    for n in _postorder(node):
        if n.is_input:
            vals[n] = xs[n.name]
        elif n.is_const:
            vals[n] = np.float64(n.value)
        else:
            vals[n] = n.prim.impl(*(vals[a] for a in n.args), **dict(
                (k, v) for k, v in n.params if not k.startswith("_")))
    return np.asarray(vals[node], dtype=np.float64) * np.ones(len(xs["a"]))


# ---------------------------------------------------------------------------------
# the examples

def test_baydin_hessian_prints_cleanly():
    h = gc.hessian(gc.parse("ln(x1) + x1*x2 - sin(x2)"))
    lines = to_latex(h, derivatives=False).split("\n")
    assert lines[1].endswith(r"&= -\frac{1}{x_{1}^{2}} \\")
    assert lines[4] == r"\frac{\partial^{2} f}{\partial x_{2}^{2}} &= \sin x_{2}"
    LATEX_SEEN.update(lines[1:-1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_products_are_array_correct(dtype):
    x, y = _var("x", dtype, (3,)), _var("y", dtype, (3,))
    W = _var("W", dtype, (2, 3))
    s = _var("s", dtype)
    assert to_text(ops.mul(x, y), "latex") == r"x \odot y"
    assert to_text(ops.mul(s, x), "latex") == "s x"
    assert to_text(ops.mul(x, ops.const(2.0, dtype)), "latex") == "2 x"
    mm = PRIMITIVES["matmul"]
    tr = PRIMITIVES["transpose"]
    assert to_text(apply(mm, W, x), "latex") == "W x"
    assert to_text(apply(tr, W), "latex") == r"W^\top"
    assert to_text(apply(mm, apply(tr, W), _var("v", dtype, (2,))), "latex") == r"W^\top v"
    assert to_text(ops.mul(x, y), "textbook") == "x \u2299 y"
    # a scalar product next to an elementwise one is bracketed
    assert to_text(ops.mul(s, ops.mul(x, y)), "latex") == r"s \left(x \odot y\right)"
    g = gc.grad(gc.parse("sum(x*y)", x=(3,), y=(3,)), "x")
    assert to_latex(g, derivatives=False).split("&= ")[1].startswith("y")  # not ((1)) y


def test_no_nested_fractions_or_double_parentheses_in_gradients():
    """Gradient and Hessian of every scalar elementwise primitive (its tests' domain):
    no ``\\frac{\\frac``, no ``\\left(\\left(``, no ``-\\left(-``."""
    for prim in ELEMENTWISE:
        if not prim.differentiable:
            continue
        xs = [_var(n, "float64") for n in NAMES[:prim.arity]]
        g = Graph(xs, [apply(prim, *xs)], ["f"])
        for h in (gc.grad(g), gc.hessian(g) if prim.arity == 1 else gc.grad(g)):
            text = to_latex(h, derivatives=False)
            assert not _nested_fraction(text), (prim.name, text)
            for bad in (r"\left(\left(", r"-\left(-", r"\left(1\right)"):
                assert bad not in text, (prim.name, text)
            LATEX_SEEN.update(text.split("\n")[1:-1])


def _group(text, i):
    """The end of the brace group opening at ``text[i] == "{"``."""
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return len(text)


def _nested_fraction(text):
    """True when a fraction's numerator or denominator is itself one fraction
    (``\\frac{\\frac{1}{x}}{x}``); a sum of fractions over something is fine."""
    k = text.find(r"\frac{")
    while k >= 0:
        num_end = _group(text, k + 5)
        den_end = _group(text, num_end + 1)
        for a, b in ((k + 6, num_end), (num_end + 2, den_end)):
            part = text[a:b]
            if part.startswith(r"\frac{") and _group(part, 5) < len(part) and \
                    _group(part, _group(part, 5) + 1) == len(part) - 1:
                return True
        k = text.find(r"\frac{", k + 1)
    return False


def test_nested_fraction_detector():
    assert _nested_fraction(r"-\frac{\frac{1}{x}}{x}")
    assert _nested_fraction(r"\frac{a}{\frac{b}{c}}")
    assert not _nested_fraction(r"\frac{\frac{1}{x} + y}{x}")
    assert not _nested_fraction(r"\frac{1}{x^{2}}")


def _balanced(text):
    depth = 0
    for ch in text.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and text.count(r"\left") == text.count(r"\right")


# ---------------------------------------------------------------------------------
# LaTeX compiles

def _all_latex():
    out = set(LATEX_SEEN)
    for prim in OPS:
        for dtype in DTYPES[:1]:
            for node, _ in _instances(prim, dtype):
                out.add(to_text(node, "latex"))
                out.add(to_text(node, "textbook_latex"))
        if prim.elementwise:
            xs = [_var(n, "float64") for n in NAMES[:prim.arity]]
            out.update(to_latex(Graph(xs, [apply(prim, *xs)], ["f"])).split("\n")[1:-1])
    for op1 in BINARY:
        for op2 in BINARY:
            for node, _ in _pair_nodes(op1, op2, "float64"):
                out.add(to_text(node, "latex"))
    return sorted(out)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_all_latex_compiles(tmp_path):
    formulas = _all_latex()
    assert len(formulas) > 300
    body = []
    for f in formulas:
        f = f.rstrip("\\").rstrip()
        if "&=" in f:
            body.append("\\begin{align*}\n" + f + "\n\\end{align*}")
        else:
            body.append("\\[" + f + "\\]")
    doc = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{amssymb}\n"
           "\\begin{document}\n" + "\n".join(body) + "\n\\end{document}\n")
    (tmp_path / "all.tex").write_text(doc, encoding="utf-8")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "all.tex"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = r.stdout
    if r.returncode != 0:
        err = log[log.find("\n!"):][:1500]
        raise AssertionError(f"pdflatex failed:\n{err}")
