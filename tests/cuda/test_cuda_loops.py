"""CUDA loops (issue 14 part 3): a graph of scalar inputs and outputs holding loops or
branches compiles to one map kernel whose thread runs the loops *as loops* for its
point (:mod:`graphc.backends.cuda.loops`), not unrolled.

* ``cuda_sim_loop_cases.py`` (run here in a child process on Numba's CUDA simulator):
  RK4 and Euler scans (value and gradient, every checkpoint policy), ``fori_loop``,
  ``while_loop`` with and without ``max_steps``, ``cond``/``switch``, array carries,
  both dtypes, against the NumPy interpreter, the LLVM backend, a NumPy integrator and
  central differences; every ``HIGHER_ORDER`` registry example per point.
* The kernel source (what ``graphc compile --target cuda --emit source`` prints) of a
  100,000-step scan has the size of the 1,000-step one, value and gradient; its PTX
  too, compiled in about the same time.
* Clear errors: per-thread arrays beyond CUDA's local-memory limit; array graphs (non-
  scalar inputs), which the CUDA backend still unrolls, above the unroll limit.
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import graphc as gc  # noqa: E402
from graphc.backends.cuda import is_per_point, render  # noqa: E402
from graphc.backends.cuda.loops import MAX_LOCAL_BYTES  # noqa: E402
from graphc.ir import LoweringError  # noqa: E402
from graphc.ir import control_flow as cf  # noqa: E402
from _cuda_helpers import (ON_SIM, run_simulator_cases, gpu_or_skip, has_module,  # noqa: E402
                           ptx_compiler_or_skip, to_host)
from _loop_graphs import PROGRAMS, REGISTRY_CASES, registry_graph, rk4, rk4_numpy  # noqa: E402


def _run_sim(marker: str) -> None:
    run_simulator_cases("cuda_sim_loop_cases.py", marker)


def test_loops_on_the_simulator():
    _run_sim("not slow")


@pytest.mark.slow
def test_loops_on_the_simulator_registry_and_checkpoint_policies():
    _run_sim("slow")


def _euler(steps: int, checkpoint="auto"):
    def f(x, k):
        def step(c, _):
            return c + 0.01 * (-k * c + gc.sin(c)), None
        return gc.scan(step, x, length=steps, checkpoint=checkpoint)[0]
    return gc.function(f).graph


@pytest.mark.parametrize("what", ["value", "grad"])
def test_source_size_does_not_grow_with_the_trip_count(what):
    """1,000 and 100,000 steps: the same source but for the digits of the trip count
    (and of the checkpoint segment sizes), one ``for`` loop per scan."""
    texts = []
    for steps in (1000, 100_000):
        g = _euler(steps, checkpoint="sqrt")
        if what == "grad":
            g = gc.grad(g)
        assert is_per_point(g)
        text = render(g).text
        ast.parse(text)
        texts.append(text)
    small, large = texts
    assert abs(len(large) - len(small)) <= 40, (len(small), len(large))
    assert len(large) < 8000
    loops = sum(1 for node in g.nodes if node.prim.name == "scan") if what == "value" else 1
    assert large.count(" in range(") >= loops
    # the unrolled alternative would be thousands of lines
    assert large.count("\n") < 300


@pytest.mark.parametrize("grad", [False, True])
def test_graphc_compile_emit_source_of_a_long_loop(capsys, grad):
    """``graphc compile --target cuda --emit source`` of a program with a 100,000-step
    ``for`` loop (the parser's loops are scans) prints the per-point kernel, the size
    of the 2,000-step one (both above 1,024 steps, where reverse mode's default
    checkpoint policy switches from storing every carry to ``"sqrt"``)."""
    from graphc.cli import main
    sizes = []
    for steps in (2000, 100_000):
        program = (f"x = x0; v = v0; h = 0.01\nfor i in range({steps}): "
                   f"x, v = x + h*v, v - h*sin(x)\ne = x*x + v*v")
        argv = ["compile", program, "--target", "cuda", "--emit", "source"]
        assert main(argv + (["--grad"] if grad else [])) == 0
        text = capsys.readouterr().out
        ast.parse(text)
        assert "for t" in text
        sizes.append(len(text))
    assert abs(sizes[1] - sizes[0]) <= 40, sizes


def test_local_memory_limit_is_a_clear_error():
    g = gc.grad(_euler(100_000, checkpoint="all"))    # 100,000 stored carries a point
    with pytest.raises(LoweringError, match="local-memory limit"):
        render(g)
    assert MAX_LOCAL_BYTES == 512 * 1024


def test_ptx_of_a_long_loop_compiles_like_a_short_one():
    """PTX (NVVM, no GPU) of the 100,000-step kernel: the size of the 1,000-step one,
    compiled in about the same time (a loop, not 100,000 copies of the body)."""
    ptx = ptx_compiler_or_skip("ptx", "x + 1")
    out = {}
    for steps in (1000, 100_000):
        t0 = time.perf_counter()
        text = ptx(_euler(steps))
        out[steps] = (text, time.perf_counter() - t0)
    (small, t_small), (large, t_large) = out[1000], out[100_000]
    assert abs(len(large) - len(small)) < 0.01 * len(small)
    assert t_large < 5 * t_small + 2.0, (t_small, t_large)
    assert "bra" in large      # the loop's backward branch


def _ptx_cases(names, dtypes):
    for name in names:
        for dtype in dtypes:
            g = gc.function(PROGRAMS[name](dtype)[0], dtype=dtype).graph
            yield f"{name}-{dtype}", g
            yield f"{name}-{dtype}-grad", gc.grad(g)


def _assert_ptx(ptx, cases) -> None:
    for what, g in cases:
        text = ptx(g)
        assert ".entry" in text and "bra" in text, what


def test_ptx_of_loops_and_branches():
    """Numba types the generated loops for the real CUDA target (the simulator does
    not type kernels): fori_loop in float32 (a float64 counter in the carry) and
    cond/switch, value and gradient."""
    ptx = ptx_compiler_or_skip("ptx", "x + 1")
    _assert_ptx(ptx, [c for c in _ptx_cases(["fori"], ["float32"])] +
                [c for c in _ptx_cases(["branches"], ["float64"])])


@pytest.mark.slow
def test_ptx_of_every_program_and_registry_example():
    ptx = ptx_compiler_or_skip("ptx", "x + 1")
    cases = list(_ptx_cases(sorted(PROGRAMS), ["float64", "float32"]))
    for prim, i in REGISTRY_CASES:
        g, _, _ = registry_graph(prim, i)
        cases += [(f"{prim.name}-{i}", g), (f"{prim.name}-{i}-grad", gc.grad(g))]
    _assert_ptx(ptx, cases)


def test_array_graphs_unroll_short_loops_and_run_long_ones_as_one_thread(capsys):
    """Loops in graphs of array inputs are unrolled by the CUDA array plan (parallel
    kernels) up to the limit, where the plan refuses with a clear error; CudaKernel
    and ``--emit source`` then run the graph as one thread's program, whose source
    does not grow with the trip count (results: ``cuda_sim_loop_cases.py``)."""
    import numpy as np
    from graphc.backends.cuda import arrays as cuda_arrays
    from graphc.backends.cuda import needs_serial
    from graphc.cli import main

    def loop(steps):
        return gc.function(lambda v: gc.scan(lambda c, _: (c * 0.5 + 1.0, None), v,
                                             length=steps)[0].sum(),
                           shapes={"v": (2,)}).graph
    short, long = loop(3), loop(cf.MAX_UNROLL)
    assert not is_per_point(short) and not needs_serial(short)
    cuda_arrays.specialize(short, {})
    assert needs_serial(long)
    with pytest.raises(LoweringError, match="scalar inputs and outputs"):
        cuda_arrays.specialize(long, {})
    assert np.isfinite(gc.compile(long)(v=np.ones(2)))   # LLVM runs it as a loop
    if has_module("numba"):
        kern = gc.compile(long, target="cuda")
        assert kern.is_array and kern.serial
        text = kern.render().text
        ast.parse(text)
        assert f"range({cf.MAX_UNROLL})" in text and text.count("\n") < 40
    assert main(["compile", "x = v0\nfor i in range(100000): x = x * 0.5 + 1.0\ny = x",
                 "--target", "cuda", "--emit", "source", "--shape", "v0=2"]) == 0
    out = capsys.readouterr().out
    assert "range(100000)" in out and out.count("\n") < 40


@pytest.mark.gpu
def test_rk4_per_point_on_the_gpu():
    """On a GPU: 100,000 points of 1,000 RK4 steps each, value against the NumPy
    integrator, gradient against central differences of it
    (``GRAPHC_GPU_TESTS_ON_SIMULATOR=1`` runs it on the simulator with tiny sizes)."""
    import numpy as np
    gpu_or_skip()
    n, steps = (32, 8) if ON_SIM else (100_000, 1000)
    rng = np.random.default_rng(3)
    x, k = rng.uniform(-1.0, 1.0, n), rng.uniform(0.2, 2.0, n)
    fn = gc.function(rk4(steps))
    val = to_host(gc.compile(fn.graph, target="cuda")(x=x, k=k))
    np.testing.assert_allclose(val, rk4_numpy(x, k, steps), rtol=1e-9, atol=1e-12)
    dx, dk = (to_host(a) for a in gc.compile(gc.grad(fn.graph), target="cuda")(x=x, k=k))
    eps = 1e-6
    fd_x = (rk4_numpy(x + eps, k, steps) - rk4_numpy(x - eps, k, steps)) / (2 * eps)
    fd_k = (rk4_numpy(x, k + eps, steps) - rk4_numpy(x, k - eps, steps)) / (2 * eps)
    np.testing.assert_allclose(dx, fd_x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dk, fd_k, rtol=1e-5, atol=1e-7)
