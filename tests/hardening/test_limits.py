"""Limits instead of crashes: huge, deep and long inputs either work within the bounds
documented in docs/limits.md or fail with a clear error; never a RecursionError, a
segfault or a hang. Timings here are generous upper bounds for a slow 2-core CI box."""

import math
import sys
import time

import numpy as np
import pytest

import graphc as gc
from graphc.ir import to_source, to_text


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def test_recursion_limit_is_irrelevant():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # every traversal must be iterative
    try:
        src = "u = x\n" + "\n".join("u = sin(u) + x" for _ in range(1500))
        g = gc.parse(src)
        h = gc.hessian(g)
        gc.optimize(h)
        to_text(h)
        to_source(g)
        gc.evaluate(gc.value_and_grad(g), x=0.5)
        g.to_networkx()
    finally:
        sys.setrecursionlimit(old)


def test_hundred_thousand_nested_parentheses():
    depth = 100_000
    g, dt = timed(lambda: gc.parse("(" * depth + "x" + ")" * depth))
    assert float(gc.evaluate(gc.grad(g, "x"), x=1.0)) == 1.0
    assert dt < 10


def test_chain_of_hundred_thousand_operations():
    src = "x" + "".join(f"*1.{i:07d}+x" for i in range(1, 50_001))  # 100,000 ops
    g, dt = timed(lambda: gc.parse(src))
    assert len(g) == 100_000 and dt < 20
    vg, dt = timed(lambda: gc.value_and_grad(g))
    assert dt < 20
    y, (d,) = gc.evaluate(vg, x=1e-3)
    assert math.isfinite(float(y)) and math.isfinite(float(d))


def test_ten_thousand_statements():
    src = "v0 = x\n" + "\n".join(f"v{i} = sin(v{i - 1}) * 0.5 + x" for i in range(1, 10_001))
    g, dt = timed(lambda: gc.parse(src))
    assert dt < 10 and g.output_names == ("v10000",)
    assert len(g.labels) == 10_000


def test_huge_exponents_and_literals():
    for src in ["x^1e308", "x^-1e308", "1e999 * x", "x * 1e-400", "2^1024 - x"]:
        g = gc.parse(src)
        for k in (gc.compile(gc.value_and_grad(g)), gc.compile(gc.value_and_grad(g),
                                                               target="numpy")):
            y, (d,) = k(x=np.array([0.5, 1.0, 2.0]))
            with np.errstate(all="ignore"):
                want = gc.evaluate(gc.value_and_grad(g), x=np.array([0.5, 1.0, 2.0]))
            np.testing.assert_array_equal(y, want[0])
            np.testing.assert_array_equal(d, want[1][0])


@pytest.mark.slow
def test_million_character_expression():
    src = "+".join(["x*y"] * 250_000)  # 1,000,000 characters
    g, dt = timed(lambda: gc.parse(src))
    assert dt < 60
    assert float(gc.evaluate(g, x=2.0, y=3.0)) == 1_500_000.0


def test_source_length_limit_is_a_parse_error(monkeypatch):
    from graphc.frontend import parser
    monkeypatch.setattr(parser, "MAX_SOURCE_LENGTH", 100)
    with pytest.raises(gc.ParseError, match="longer than the limit"):
        gc.parse("x+" * 60 + "x")


def _program(statements: int) -> str:
    return "u = x\n" + "\n".join(f"u = sin(u) * 0.999 + x*{i % 7 + 1}"
                                 for i in range(statements))


@pytest.mark.parametrize("statements", [2100])
def test_giant_kernel_takes_the_fast_code_generation_path(statements):
    """About 15,000 value-and-gradient operations: above the O0 code-generation
    threshold of the LLVM backend, and still equal to the interpreter."""
    from graphc.backends.llvm import jit
    vg = gc.optimize(gc.value_and_grad(gc.parse(_program(statements))))
    assert len(jit.kernel_ir(vg, (False,), jit.host().best_level)) > jit.LARGE_KERNEL_IR_CHARS
    x = np.linspace(-1, 1, 37)
    got = gc.compile(vg, optimize_graph=False)(x=x)
    want = gc.evaluate(vg, x=x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1][0], want[1][0], rtol=1e-10)


@pytest.mark.slow
def test_hundred_thousand_node_gradient_compiles():
    """The figure of docs/limits.md: a 14,300-statement program, 100,111 nodes of value
    and gradient after clean-up, parsed, differentiated, compiled and checked."""
    t0 = time.perf_counter()
    vg = gc.optimize(gc.value_and_grad(gc.parse(_program(14_300))))
    k = gc.compile(vg, optimize_graph=False)
    got = k(x=np.linspace(-1, 1, 11))
    dt = time.perf_counter() - t0
    print(f"{len(vg)} nodes in {dt:.1f} s")
    assert len(vg) > 100_000 and dt < 60
    want = gc.evaluate(vg, x=np.linspace(-1, 1, 11))
    np.testing.assert_allclose(got[1][0], want[1][0], rtol=1e-9)
