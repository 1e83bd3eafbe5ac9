"""The elementwise lowering's fast IR builder and split basic blocks (compile time).

:class:`graphc.backends.llvm.fastir.FastBuilder` stands in for ``llvmlite.ir.IRBuilder``
and must give the same module text, byte for byte, so that the machine code is the
one ``IRBuilder`` gave; giant kernels are lowered in several basic blocks
(``split_every``), which must not change any result.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import jit, vecmath
from graphc.backends.llvm import lower as lowering

SOURCES = [
    "ln(x1) + x1*x2 - sin(x2)",
    "sqrt(x1^2 + exp(x1^2)) + cos(x1^2 + exp(x1^2))",
    "(x2*sigmoid(x1*0.7 + 0.1) - 0.3)^2 / 1.37 + x1/4 + x2/3",
    "log(exp(-4.9 - 0.5*((x1 - 0.38)/0.8)^2) + exp(-5.6 - 0.5*((x2 + 0.1)/0.95)^2))",
    ("sign(x1) + minimum(x1, x2) + maximum(x1, x2) + heaviside(x1) + relu(x1) "
     "+ softplus(x2) + clip(x1, -1, 1) + logaddexp(x1, x2) + mod(x1, x2)"),
    ("x1^0.5 + x1^3 + x1^-2 + x2^2.5 + tan(x1) + asinh(x2) + erf(x1) + atan2(x1, x2) "
     "+ hypot(x1, x2) + cbrt(x1) + where(x1 < x2, x1, x2) + lt(x1, x2) + ne(x1, x2)"),
    "elu(x1) + leaky_relu(x2) + expm1(x1) + log1p(x2) + tanh(x1) + x1/0.0 + x2/1e300",
]


def _graphs():
    for src in SOURCES:
        f = gc.parse(src, ["x1", "x2"])
        yield f
        yield gc.optimize(gc.value_and_grad(f))
    yield gc.value_and_grad(gc.parse("sin(x1)*x2 + exp(x1)/3", ["x1", "x2"],
                                     dtype="float32"))


@pytest.mark.parametrize("level", list(vecmath.LEVELS))
def test_fast_builder_prints_the_same_module_as_llvmlite(monkeypatch, level):
    compared = 0
    for g in _graphs():
        n = len(g.inputs)
        for pattern in {(False,) * n, (True,) * n, (True,) + (False,) * (n - 1)}:
            monkeypatch.setattr(lowering, "FAST_BUILDER", True)
            fast = jit.kernel_ir(g, pattern, level)
            monkeypatch.setattr(lowering, "FAST_BUILDER", False)
            slow = jit.kernel_ir(g, pattern, level)
            assert fast == slow, (level, pattern, g.output_names)
            compared += 1
    assert compared >= 30


def _run(graph, level, args):
    jit.clear_memory_cache()
    try:
        return jit.LLVMKernel(graph, simd=level, cache=False)(*args)
    finally:
        jit.clear_memory_cache()


@pytest.mark.parametrize("simd", ["best", "none"])
def test_split_basic_blocks_give_identical_results(monkeypatch, simd):
    level = jit.host().best_level if simd == "best" else "none"
    src = ("log(exp(-4.9 - 0.5*((x1 - 0.38)/0.8)^2) + exp(-5.6 - 0.5*((x2 + 0.1)/0.95)^2))"
           " + x1/3 + sigmoid(x2)")
    vg = gc.optimize(gc.value_and_grad(gc.parse(src, ["x1", "x2"])))
    rng = np.random.default_rng(3)
    x1, x2 = rng.uniform(-2, 2, 37), rng.uniform(-2, 2, 37)
    cases = [(x1, x2), (x1[:1], x2)]          # all arrays; x1 a hoisted scalar
    want = [_run(vg, level, args) for args in cases]
    assert "split" not in jit.kernel_ir(vg, (False, False), level)
    monkeypatch.setattr(jit, "SPLIT_MIN_OPS", 1)
    monkeypatch.setattr(jit, "SPLIT_BLOCK_OPS", 3)
    assert jit.kernel_ir(vg, (False, False), level).count("split") > 5
    for args, (value, grad) in zip(cases, want):
        got_value, got_grad = _run(vg, level, args)
        np.testing.assert_array_equal(got_value, value)
        for a, b in zip(got_grad, grad):
            np.testing.assert_array_equal(a, b)

