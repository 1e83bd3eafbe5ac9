"""One CUDA kernel class, one cache, ``--emit cuda|ptx`` for every graph (issue 12).

* ``cuda_sim_one_kernel_cases.py`` (run here in a child process on Numba's CUDA
  simulator): every elementwise and every array primitive, both dtypes, through
  :class:`~graphc.backends.cuda.CudaKernel` against the NumPy interpreter; the one
  cache and ``clear_cache``; the old entry points.
* ``graphc.clear_cache()`` empties the CUDA cache without importing Numba.
* The kernel source ``graphc compile --target cuda --emit source`` prints for every
  example of every array primitive is the plan's (``render_arrays``) and valid
  Python; ``--emit ptx`` of an array graph with symbolic sizes gives one PTX entry per
  kernel of the plan; missing or unknown sizes and bad shapes are one-line errors
  (exit 2).
* The elementwise kernel is the one-loop case of the plan: its PTX has about as many
  instructions as the plan's map kernel for the same graph lifted to shape ``(n,)``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import graphc as gc  # noqa: E402
from graphc.commands.compile import emit  # noqa: E402
from graphc.ir import Graph, GraphcError, apply, ops  # noqa: E402
from _cuda_helpers import (ARRAY_CASES, ROOT, ROSENBROCK,  # noqa: E402
                           array_case, case_id, ptx_compiler_or_skip,
                           run_simulator_cases)


def _run_sim(marker: str) -> None:
    run_simulator_cases("cuda_sim_one_kernel_cases.py", marker)


def test_one_kernel_class_on_the_simulator():
    _run_sim("not slow")


@pytest.mark.slow
def test_one_kernel_class_on_the_simulator_large_examples():
    _run_sim("slow")


def test_clear_cache_empties_the_cuda_cache_without_importing_numba(tmp_path):
    code = r"""
import sys
import graphc as gc
gc.clear_cache()                                  # CUDA backend not imported: nothing to do
assert "graphc.backends.cuda.jit" not in sys.modules
from graphc.backends.cuda import jit
jit.cached(("function", "probe"), lambda: object())
assert jit.cache_info()["total"] == 1
gc.clear_cache()
assert jit.cache_info()["total"] == 0
assert not any(m == "numba" or m.startswith("numba.") for m in sys.modules)
print("ok")
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHC_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


# -- emit for every graph --------------------------------------------------------------

@pytest.mark.parametrize("case", ARRAY_CASES, ids=[case_id(c) for c in ARRAY_CASES])
def test_emit_source_of_every_array_primitive(case):
    from graphc.backends.cuda import render_arrays
    g, _ = array_case(*case)
    text = emit(g, "cuda", "source")
    assert text == render_arrays(g).text
    tree = ast.parse(text)
    names = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert names == [k.source.name for k in render_arrays(g).kernels]


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphc", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_emit_source_with_symbolic_sizes_from_the_cli():
    from graphc.backends.cuda import render_arrays
    r = _cli("compile", ROSENBROCK, "--grad", "--shape", "x=n", "--size", "n=50",
             "--target", "cuda", "--emit", "source")
    assert r.returncode == 0, r.stderr
    g = gc.optimize(gc.value_and_grad(gc.parse(ROSENBROCK, x=("n",))))
    assert r.stdout == render_arrays(g, {"n": 50}).text
    assert "49" in r.stdout          # the 49 terms of the sum, a literal in the kernel


@pytest.mark.parametrize("argv, message", [
    (["sum(x)", "--shape", "x=n"], "add --size n=N"),
    (["sum(x)", "--shape", "x=n", "--size", "n=4", "m=2"], "--size names m"),
    (["sum(x)", "--shape", "x=n,1.5"], "dimension '1.5'"),
    (["sum(x)", "--shape", "x=n", "x=m"], "gives 'x' twice"),
    (["sum(x)", "--shape", "x=n", "--size", "n=-3"], "non-negative integer"),
])
def test_emit_errors_are_one_line(argv, message):
    r = _cli("compile", *argv, "--target", "cuda", "--emit", "source")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def _count(text: str) -> int:
    """PTX instructions: lines that are not directives, labels, braces or comments."""
    return sum(1 for ln in map(str.strip, text.splitlines())
               if ln and not ln.startswith(("//", ".", "{", "}", ")", "$"))
               and not ln.endswith(":"))


def test_emit_ptx_of_an_array_graph_has_one_entry_per_kernel():
    ptx_compiler_or_skip("array_ptx", "sum(x)", x=(3,))
    from graphc.backends.cuda import render_arrays
    g = gc.optimize(gc.value_and_grad(gc.parse(ROSENBROCK, x=("n",))))
    text = emit(g, "cuda", "ptx", sizes={"n": 1000})      # what --emit ptx prints
    kernels = render_arrays(g, {"n": 1000}).kernels
    assert len(re.findall(r"^\.visible \.entry ", text, re.M)) == len(kernels) > 1
    assert re.findall(r"^// ---- graphc kernel (\w+)", text, re.M) == \
        [k.source.name for k in kernels]


def _lift(g: Graph) -> Graph:
    """``g`` (scalar nodes) with every input of shape ``("n",)``: the same
    computation as an array graph."""
    new = {}
    for n in g.nodes:
        if n.is_input:
            new[id(n)] = ops.variable(n.name, n.dtype, shape=("n",))
        elif n.is_const:
            new[id(n)] = n
        else:
            new[id(n)] = apply(n.prim, *(new[id(a)] for a in n.args), **dict(n.params))
    return Graph([new[id(x)] for x in g.inputs], [new[id(o)] for o in g.outputs])


@pytest.mark.parametrize("expr", ["ln(x1) + x1*x2 - sin(x2)",                 # Baydin
                                  "sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))"])  # Deisenroth
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elementwise_kernel_is_the_plans_map_kernel(expr, dtype):
    ptx = ptx_compiler_or_skip("ptx", "x + 1")
    from graphc.backends.cuda import array_ptx
    g = gc.optimize(gc.value_and_grad(gc.parse(expr, dtype=dtype)))
    scalar = _count(ptx(g))
    (lifted,) = array_ptx(_lift(g), {"n": 1000}).values()
    assert abs(scalar - _count(lifted)) <= 0.03 * scalar, (scalar, _count(lifted))


def test_bad_options_are_refused_by_the_one_class():
    from graphc.backends.cuda import CudaKernel
    from graphc.ir import LoweringError
    x = ops.variable("x")
    with pytest.raises(LoweringError, match="threads_per_block"):
        CudaKernel(Graph([x], [ops.sin(x)]), threads_per_block=0)
    with pytest.raises(LoweringError, match="matmul"):
        CudaKernel(Graph([x], [ops.sin(x)]), matmul="magic")
    with pytest.raises(GraphcError):
        gc.compile(gc.parse("sum(x)", x=("n",)), target="cuda", tile=64)
