"""gc.compile(..., shapes=...) generates the code for those shapes at once (issue 13,
part 5): the first call then compiles nothing; bad shapes are InputErrors."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def _programs(k) -> int:
    """Distinct compiled programs the kernel holds (one-thread and threaded caches)."""
    return len({id(p) for p in (*k._programs.values(), *k._programs_mt.values())})


@pytest.mark.parametrize("threads", [1, 2])
def test_shapes_compile_the_array_program_before_the_first_call(threads):
    g = gc.grad(gc.parse("sum(tanh(W @ x))", W=("H", "D"), x=("D", "N")), wrt="W")
    k = gc.compile(g, shapes={"W": (8, 4), "x": (4, 100)}, threads=threads)
    assert _programs(k) == 1
    W = np.linspace(-1, 1, 32).reshape(8, 4)
    x = np.linspace(-2, 2, 400).reshape(4, 100)
    got = k(W, x)
    assert _programs(k) == 1            # the call found the program compiled above
    want = (1 - np.tanh(W @ x) ** 2) @ x.T
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(k(W, x[:, :7]), (1 - np.tanh(W @ x[:, :7]) ** 2) @ x[:, :7].T,
                               rtol=1e-13, atol=1e-13)
    assert _programs(k) == 2            # another N: the program of run-time sizes
    k(W, x[:, :50])
    assert _programs(k) == 2            # and it serves every later N
    k(W, x[:, :1])                      # N = 1 breaks a guard (a size-1 axis broadcasts)
    assert _programs(k) == 3


def test_shapes_warm_an_elementwise_kernel_for_its_scalar_pattern():
    k = gc.compile(gc.parse("sin(x) * y"), shapes={"x": (1000,)})   # y left out: scalar
    assert len(k._compiled) == 1
    np.testing.assert_allclose(k(np.array([0.5, 1.0]), 2.0), 2 * np.sin([0.5, 1.0]))
    assert len(k._compiled) == 1


@pytest.mark.parametrize("target", ["llvm", "numpy"])
@pytest.mark.parametrize("shapes, match", [
    ({"z": (3,)}, "no input 'z'"),
    ({"W": (8,), "x": (4, 5)}, "2 dimension"),
    ({"W": (8, 4), "x": (5, 5)}, "D"),
    ({"W": "big"}, "tuple of ints"),
])
def test_bad_shapes_are_input_errors(target, shapes, match):
    g = gc.parse("sum(W @ x)", W=("H", "D"), x=("D", "N"))
    with pytest.raises(gc.InputError, match=match):
        gc.compile(g, target, shapes=shapes)
