"""Chained comparisons (``a < b < c``) mean what Python means, in the parser, and the
tracer refuses them with the same graph form.

Ground truth: Python itself (the chained lambdas below are real Python chains, run on
floats), and the language reference's definition for longer chains ("``a op1 b op2 c``
is equivalent to ``a op1 b and b op2 c``, except that each expression is evaluated at
most once", https://docs.python.org/3/reference/expressions.html#comparisons).
The comparison operators are read from the primitive registry, so a new comparison
primitive without a row here fails ``test_the_table_covers_every_comparison_primitive``.
"""

import itertools
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.ir import PRIMITIVES

PY_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
          "==": operator.eq, "!=": operator.ne}
GC_OPS = {"<": gc.less, "<=": gc.less_equal, ">": gc.greater, ">=": gc.greater_equal,
          "==": gc.equal, "!=": gc.not_equal}

# Every pair as a real Python chain (written out: Python's own semantics, not a model).
CHAINS = {
    ("<", "<"): lambda a, b, c: a < b < c,
    ("<", "<="): lambda a, b, c: a < b <= c,
    ("<", ">"): lambda a, b, c: a < b > c,
    ("<", ">="): lambda a, b, c: a < b >= c,
    ("<", "=="): lambda a, b, c: a < b == c,
    ("<", "!="): lambda a, b, c: a < b != c,
    ("<=", "<"): lambda a, b, c: a <= b < c,
    ("<=", "<="): lambda a, b, c: a <= b <= c,
    ("<=", ">"): lambda a, b, c: a <= b > c,
    ("<=", ">="): lambda a, b, c: a <= b >= c,
    ("<=", "=="): lambda a, b, c: a <= b == c,
    ("<=", "!="): lambda a, b, c: a <= b != c,
    (">", "<"): lambda a, b, c: a > b < c,
    (">", "<="): lambda a, b, c: a > b <= c,
    (">", ">"): lambda a, b, c: a > b > c,
    (">", ">="): lambda a, b, c: a > b >= c,
    (">", "=="): lambda a, b, c: a > b == c,
    (">", "!="): lambda a, b, c: a > b != c,
    (">=", "<"): lambda a, b, c: a >= b < c,
    (">=", "<="): lambda a, b, c: a >= b <= c,
    (">=", ">"): lambda a, b, c: a >= b > c,
    (">=", ">="): lambda a, b, c: a >= b >= c,
    (">=", "=="): lambda a, b, c: a >= b == c,
    (">=", "!="): lambda a, b, c: a >= b != c,
    ("==", "<"): lambda a, b, c: a == b < c,
    ("==", "<="): lambda a, b, c: a == b <= c,
    ("==", ">"): lambda a, b, c: a == b > c,
    ("==", ">="): lambda a, b, c: a == b >= c,
    ("==", "=="): lambda a, b, c: a == b == c,
    ("==", "!="): lambda a, b, c: a == b != c,
    ("!=", "<"): lambda a, b, c: a != b < c,
    ("!=", "<="): lambda a, b, c: a != b <= c,
    ("!=", ">"): lambda a, b, c: a != b > c,
    ("!=", ">="): lambda a, b, c: a != b >= c,
    ("!=", "=="): lambda a, b, c: a != b == c,
    ("!=", "!="): lambda a, b, c: a != b != c,
}
PAIRS = sorted(CHAINS)
ORDERINGS = ("<", "<=", ">", ">=")

# every triple over these values: all ties, signed zeros, infinities and NaN
VALUES = (-1.5, -0.0, 0.0, 1.0, 2.5, math.inf, -math.inf, math.nan)
GRID = np.array(list(itertools.product(VALUES, repeat=3))).T   # (3, 512)


def _registry_symbols() -> set[str]:
    """The infix symbols of the registry's comparison primitives (``{0} < {1}``...)."""
    out = set()
    for p in PRIMITIVES.values():
        if p.arity == 2 and p.masks and not p.differentiable and p.fmt.startswith("{0} ") \
                and p.fmt.endswith(" {1}"):
            out.add(p.fmt[4:-4])
    return out


def test_the_table_covers_every_comparison_primitive():
    symbols = _registry_symbols()
    assert symbols == set(PY_OPS)
    assert set(CHAINS) == set(itertools.product(symbols, repeat=2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "".join(p))
def test_parser_chain_is_pythons_chain(pair, dtype):
    op1, op2 = pair
    g = gc.parse(f"a {op1} b {op2} c", dtype=dtype)
    a, b, c = GRID.astype(dtype)
    got = gc.evaluate(g, a=a, b=b, c=c)
    want = [float(CHAINS[pair](float(x), float(y), float(z))) for x, y, z in zip(a, b, c)]
    np.testing.assert_array_equal(got, np.array(want, dtype=dtype))
    assert got.dtype == np.dtype(dtype)
    # the LLVM kernel agrees (the CLI's default target)
    k = gc.compile(g)
    np.testing.assert_array_equal(k(a=a, b=b, c=c), got)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "".join(p))
def test_parentheses_break_the_chain(pair):
    op1, op2 = pair
    g = gc.parse(f"(a {op1} b) {op2} c")
    a, b, c = GRID
    want = [float(PY_OPS[op2](float(PY_OPS[op1](x, y)), z)) for x, y, z in zip(a, b, c)]
    np.testing.assert_array_equal(gc.evaluate(g, a=a, b=b, c=c), want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", [p for p in PAIRS if p[0] in ORDERINGS],
                         ids=lambda p: "".join(p))
def test_tracer_refuses_the_chain_with_the_parsers_graph_form(pair, dtype):
    op1, op2 = pair
    f = gc.function(CHAINS[pair], dtype=dtype)
    with pytest.raises(gc.GraphcError) as info:
        f.graph
    msg = str(info.value)
    assert f"chained comparison `a {op1} b {op2} c`" in msg
    assert "test_chained_comparisons.py" in msg          # where: the file and the line
    form = msg.split("Write the graph form `")[1].split("`")[0]
    assert form == f"(a {op1} b) * (b {op2} c)"
    # the suggested form is, node for node, what the parser builds for the chain
    assert gc.parse(form, dtype=dtype).outputs[0] is \
        gc.parse(f"a {op1} b {op2} c", dtype=dtype).outputs[0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: "".join(p))
def test_traced_graph_form_parser_and_python_agree(pair, dtype):
    op1, op2 = pair

    @gc.function(dtype=dtype)
    def f(a, b, c):
        return GC_OPS[op1](a, b) * GC_OPS[op2](b, c)

    a, b, c = GRID.astype(dtype)
    traced = gc.evaluate(f.graph, a=a, b=b, c=c)
    parsed = gc.evaluate(gc.parse(f"a {op1} b {op2} c", dtype=dtype), a=a, b=b, c=c)
    want = [float(CHAINS[pair](float(x), float(y), float(z))) for x, y, z in zip(a, b, c)]
    np.testing.assert_array_equal(traced, want)
    np.testing.assert_array_equal(parsed, want)


@pytest.mark.parametrize("pair", [p for p in PAIRS if p[0] == "=="], ids=lambda p: "".join(p))
def test_tracer_equality_chain_is_an_error_not_a_value(pair):
    # == between graph values is identity (nodes are dict keys): `a == b == c` is the
    # Python bool False, which a traced function may not return
    with pytest.raises(gc.GraphcError, match="gc.equal"):
        gc.function(CHAINS[pair]).graph


def test_chain_derivative_is_zero_and_operands_are_shared():
    g = gc.parse("x < y + 1 <= z")
    assert gc.to_source(g).count("+ 1") == 1          # the middle operand once
    grad = gc.evaluate(gc.grad(g), x=0.0, y=1.0, z=3.0)
    assert [float(v) for v in grad] == [0.0, 0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.sampled_from(sorted(PY_OPS)), min_size=1, max_size=5),
       data=st.data())
def test_longer_chains_follow_the_language_reference(ops, data):
    values = data.draw(st.lists(st.sampled_from(VALUES), min_size=len(ops) + 1,
                                max_size=len(ops) + 1))
    names = [f"v{i}" for i in range(len(values))]
    src = names[0] + "".join(f" {op} {n}" for op, n in zip(ops, names[1:]))
    got = float(gc.evaluate(gc.parse(src), **dict(zip(names, values))))
    want = all(PY_OPS[op](values[i], values[i + 1]) for i, op in enumerate(ops))
    assert got == float(want), src
