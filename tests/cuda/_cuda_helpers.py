"""Shared by the CUDA backend tests: the corpus, one-op graphs per primitive, sample
points, and where the CUDA toolchain (numba-cuda, NVRTC, ptxas) lives.

Nothing here imports Numba: the simulator tests must import it only after
``NUMBA_ENABLE_CUDASIM=1`` is set, in their own process.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import graphc as gc
from graphc.ir import PRIMITIVES, Graph, apply, ops

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
from helpers import integer_arguments, sample_arguments  # noqa: E402
SHARED = ROOT.parent / "shared" / "corpus" / "feynman.csv"
PACKAGED = ROOT / "graphc" / "data" / "feynman.csv"

LEAVES = ("input", "const")
OPS = [p for name, p in PRIMITIVES.items() if name not in LEAVES and p.elementwise]
"""Every registered elementwise primitive except the leaves, in registration order."""

ARRAY_OPS = [p for p in PRIMITIVES.values() if not p.elementwise]
"""Every registered array primitive (reductions, matmul, views...), lowered by
graphc/backends/cuda/arrays.py."""

ARRAY_CASES = [(p, i) for p in ARRAY_OPS for i in range(len(p.examples))]
"""``(primitive, example number)`` for every example of every array primitive."""


def case_id(case) -> str:
    prim, i = case
    return f"{prim.name}-{i}"


def _class_index_args(prim, shapes, params=None) -> set[int]:
    """Arguments holding integers (class labels, gather indices; not differentiated):
    the record's ``integer_args``."""
    return set(integer_arguments(prim, shapes, params or {}))


def array_case(prim, i: int, seed: int = 0):
    """The graph and input values of example ``i`` of an array primitive: its reverse
    mode (``vjp``: the value and the cotangent of every differentiable argument, with a
    cotangent seed as the last input) when differentiable, else the op alone. Values
    lie in the primitive's domain (class indices as integers; ``prod`` away from 0,
    where its derivative ``out/x`` is undefined), as tests/tensors samples them."""
    shapes, params = prim.examples[i]
    xs = [ops.variable(f"a{k}", shape=tuple(s)) for k, s in enumerate(shapes)]
    g = Graph(xs, [apply(prim, *xs, **params)])
    rng = np.random.default_rng(seed + 17 * i)
    ints = _class_index_args(prim, shapes, params)
    vals = sample_arguments(prim, shapes, params, rng)
    if prim.name == "prod":
        vals[0] = np.sign(vals[0]) * (0.5 + np.abs(vals[0]))
    if prim.differentiable:
        g = gc.vjp(g, wrt=[f"a{k}" for k in range(prim.arity) if k not in ints])
        vals.append(rng.normal(size=g.inputs[-1].shape))
    return g, vals


ROSENBROCK = "sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)"
"""The n-dimensional Rosenbrock function (examples/rosenbrock.py), ``x`` of shape (n,)."""


def rosenbrock_graph() -> Graph:
    return gc.value_and_grad(gc.parse(ROSENBROCK, x=("n",)), "x")


MLP_LOSS = """
h = tanh(W1 @ X + b1)
z = W2 @ h + b2
loss = cross_entropy(z, y, axis=0)
"""
"""A small tanh network's softmax cross-entropy (examples/mlp_digits.py): ``X`` (D, B)
one column per sample, ``y`` (B,) class indices."""

MLP_SHAPES = dict(X=("D", "B"), y=("B",), W1=("H", "D"), b1=("H", 1), W2=("C", "H"),
                  b2=("C", 1))


def mlp_graph() -> Graph:
    f = gc.parse(MLP_LOSS, **MLP_SHAPES)
    return gc.value_and_grad(f, ["W1", "b1", "W2", "b2"])


def mlp_values(D: int, B: int, H: int, C: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"X": rng.uniform(0.0, 1.0, (D, B)), "y": rng.integers(0, C, B).astype(float),
            "W1": rng.normal(0.0, 1.0 / np.sqrt(D), (H, D)), "b1": rng.normal(0, 0.1, (H, 1)),
            "W2": rng.normal(0.0, 1.0 / np.sqrt(H), (C, H)), "b2": rng.normal(0, 0.1, (C, 1))}

REQUIRE_TOOLS = os.environ.get("GRAPHC_CUDA_TOOLCHAIN", "") == "required"
"""In CI, ``GRAPHC_CUDA_TOOLCHAIN=required`` turns "toolchain missing" skips into
failures, so a broken install cannot pass as skipped tests."""


def feynman_rows() -> list[dict]:
    """Rows of the Feynman corpus (csv module; the packaged copy is what CI has; the
    shared one is the source of truth when present)."""
    path = SHARED if SHARED.exists() else PACKAGED
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [r for r in csv.DictReader(fh) if r.get("formula")]


def row_variables(row: dict) -> tuple[list[str], list[float], list[float]]:
    names = [v for v in row["variables"].split(";") if v]
    low = [float(v) for v in row["low"].split(";")]
    high = [float(v) for v in row["high"].split(";")]
    return names, low, high


def feynman_graph(row: dict) -> Graph:
    """value_and_grad of the row's formula, optimized (as graphc.compile would)."""
    names, _, _ = row_variables(row)
    return gc.optimize(gc.value_and_grad(gc.parse(row["formula"], inputs=names)))


def feynman_points(row: dict, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    names, low, high = row_variables(row)
    rng = np.random.default_rng(seed)
    return {v: rng.uniform(lo, hi, n) for v, lo, hi in zip(names, low, high)}


def primitive_graph(prim, dtype: str = "float64") -> Graph:
    """``prim`` applied to fresh inputs a0, a1, ... (default parameters)."""
    xs = [ops.variable(f"a{k}", dtype) for k in range(prim.arity)]
    return Graph(xs, [apply(prim, *xs)])


def primitive_points(prim, n: int, dtype: str = "float64", seed: int = 0):
    """``n`` points inside the primitive's test domain, with its kinks and ties: 0 for
    unary ops whose domain contains it, equal arguments for binary ops (comparisons,
    min/max)."""
    rng = np.random.default_rng(seed)
    cols = [rng.uniform(lo, hi, n) for lo, hi in prim.domain]
    if prim.arity == 1 and prim.domain[0][0] < 0 < prim.domain[0][1]:
        cols[0][0] = 0.0
    if prim.arity >= 2:
        (lo0, hi0), (lo1, hi1) = prim.domain[0], prim.domain[1]
        lo, hi = max(lo0, lo1), min(hi0, hi1)
        if lo < hi:
            cols[1][:2] = cols[0][:2] = np.clip(cols[0][:2], lo, hi)
    if prim.name == "where":
        cols[0][: n // 2] = 0.0  # half the selectors false
    return {f"a{k}": c.astype(np.float32 if dtype == "float32" else np.float64)
            for k, c in enumerate(cols)}


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def ptxas_path() -> str | None:
    """``ptxas`` from PATH, else from the nvidia-cuda-nvcc wheel
    (``site-packages/nvidia/cu13/bin``)."""
    found = shutil.which("ptxas")
    if found:
        return found
    for base in sys.path:
        for sub in ("nvidia/cu13/bin/ptxas", "nvidia/cuda_nvcc/bin/ptxas"):
            p = Path(base) / sub
            if p.is_file() and os.access(p, os.X_OK):
                return str(p)
    return None


def assemble(ptxas: str, text: str, arch: str = "sm_90"):
    """Run ``ptxas -arch=ARCH`` on ``text``; returns the CompletedProcess."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "k.ptx"
        src.write_text(text)
        return subprocess.run([ptxas, f"-arch={arch}", str(src), "-o",
                               str(Path(d) / "k.cubin")],
                              capture_output=True, text=True, timeout=120)


# -- shared by the real-GPU test files (test_cuda_gpu.py, test_cuda_arrays_gpu.py) ----

ON_SIM = (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
          and os.environ.get("GRAPHC_GPU_TESTS_ON_SIMULATOR") == "1")
"""Run the ``gpu`` tests' own logic on the simulator (tiny sizes), for checking them."""


def gpu_or_skip():
    """``numba.cuda`` when a GPU is usable (or ON_SIM), else ``pytest.skip``."""
    import pytest
    if not has_module("numba.cuda"):
        pytest.skip("numba-cuda is not installed")
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and not ON_SIM:
        pytest.skip("the simulator is on; these tests need a GPU")
    from numba import cuda as nb_cuda
    if not nb_cuda.is_available():
        pytest.skip("no CUDA GPU available")
    return nb_cuda


def flat_tree(tree) -> list:
    """A kernel's nested-tuple result as a flat list, in output order."""
    if isinstance(tree, tuple):
        return [x for t in tree for x in flat_tree(t)]
    return [tree]


def to_host(a) -> np.ndarray:
    """A Numba, CuPy or torch device array (or anything array-like) as a NumPy array."""
    if hasattr(a, "copy_to_host"):
        return a.copy_to_host()
    if hasattr(a, "get"):          # CuPy
        return a.get()
    if hasattr(a, "cpu"):          # torch
        return a.cpu().numpy()
    return np.asarray(a)


def toolchain_unavailable(reason: str):
    """Skip, or fail under ``GRAPHC_CUDA_TOOLCHAIN=required`` (CI)."""
    import pytest
    if REQUIRE_TOOLS:
        pytest.fail(f"{reason} (GRAPHC_CUDA_TOOLCHAIN=required)")
    pytest.skip(reason)


def ptx_compiler_or_skip(name: str, probe: str, **shapes):
    """``graphc.backends.cuda.<name>`` (``ptx`` or ``array_ptx``) once it has compiled
    ``probe`` to PTX, i.e. once numba-cuda, NVRTC and NVVM are known to work."""
    import pytest
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("compile_ptx does not work in a process running the CUDA simulator")
    if not has_module("numba") or not has_module("numba.cuda"):
        toolchain_unavailable("numba-cuda is not installed: pip install 'graphc[cuda]'")
    import graphc as gc
    from graphc.backends import cuda
    fn = getattr(cuda, name)
    try:
        fn(gc.parse(probe, **shapes))
    except Exception as exc:  # noqa: BLE001 - NVRTC/NVVM missing shows up here
        toolchain_unavailable(f"numba.cuda.compile_ptx does not work here ({exc}); "
                              f"install nvidia-cuda-nvrtc and nvidia-nvvm")
    return fn


# -- a justified tolerance for comparing GPU (libdevice) results with NumPy (glibc) ----

ULP_PER_OP = 4
"""Per-operation relative error budget, in units of the dtype's eps: libdevice's
float64 functions are within 2 ulp (NVIDIA, *libdevice User's Guide*), glibc's within
1 ulp, so two correct implementations differ by at most ~3 ulp per operation."""

SAFETY = 16
"""Factor over the largest deviation seen in the perturbed evaluations (a few random
draws underestimate the worst case of a sum of per-operation errors)."""


def perturbed_values(graph: Graph, inputs: dict, draws: int = 4, seed: int = 0):
    """The graph's outputs evaluated ``draws`` times by the NumPy interpreter's rules
    with every operation's result multiplied by ``1 + d``, ``d`` uniform in
    ``±ULP_PER_OP·eps`` independently per element: realisations of "every operation
    correct to within the budget", which is what a correct GPU kernel is. Returns
    ``(exact outputs, [outputs of each draw])`` (flat lists, output order)."""
    from graphc.backends.common import NP_DTYPES
    from graphc.backends.numpy_interp import evaluate_all
    exact = evaluate_all(graph, inputs)
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(draws):
        values = {}
        with np.errstate(all="ignore"):
            for n in graph.nodes:
                if n.is_input or n.is_const:
                    values[n] = exact[n]
                    continue
                r = np.asarray(n.prim.impl(*(values[a] for a in n.args), **dict(n.params)),
                               dtype=NP_DTYPES[n.dtype])
                eps = np.finfo(r.dtype).eps
                d = rng.uniform(-ULP_PER_OP * eps, ULP_PER_OP * eps, r.shape)
                values[n] = (r * (1 + d)).astype(r.dtype)
        runs.append([values[o] for o in graph.outputs])
    return [exact[o] for o in graph.outputs], runs


def roundoff_bound(graph: Graph, inputs: dict, draws: int = 4) -> list[np.ndarray]:
    """Per element of every output, the absolute error two correct implementations may
    show: ``SAFETY`` times the largest deviation of :func:`perturbed_values` from the
    exact NumPy evaluation, plus ``ULP_PER_OP`` ulp of the value itself. It follows the
    cancellation of each element (an output that is a small difference of large terms
    gets the terms' scale, where a relative tolerance fails: 1.4e-7 relative at
    III.9.52 on the H200), yet stays within a few hundred ulp of the terms, so a wrong
    operation, constant or argument order (errors of order 1e-3 and more) fails."""
    exact, runs = perturbed_values(graph, inputs, draws)
    out = []
    for k, e in enumerate(exact):
        eps = np.finfo(e.dtype).eps
        dev = np.zeros(e.shape, dtype=np.float64)
        for r in runs:
            with np.errstate(invalid="ignore"):
                d = np.abs(r[k].astype(np.float64) - e)
            dev = np.fmax(dev, np.where(np.isfinite(d), d, 0.0))
        out.append(SAFETY * dev + ULP_PER_OP * eps * np.abs(e) + np.finfo(e.dtype).tiny)
    return out


def assert_within_roundoff(got, graph: Graph, inputs: dict, what: str = "") -> None:
    """Every output of ``got`` (a kernel's result tree) within :func:`roundoff_bound` of
    the NumPy interpreter's; NaN where it has NaN, the same infinities."""
    want = [np.asarray(w) for w in flat_tree(gc.evaluate(graph, **inputs))]
    bounds = roundoff_bound(graph, inputs)
    for k, (g, w, b) in enumerate(zip(flat_tree(got), want, bounds)):
        g = to_host(g)
        assert g.shape == w.shape and g.dtype == w.dtype, what
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{what} NaN")
        fin = np.isfinite(w)
        np.testing.assert_array_equal(g[~fin & ~np.isnan(w)], w[~fin & ~np.isnan(w)],
                                      err_msg=f"{what} inf")
        err = np.abs(g[fin].astype(np.float64) - w[fin])
        bad = ~(err <= np.broadcast_to(b, w.shape)[fin])
        assert not bad.any(), (
            f"{what} output {k}: {int(bad.sum())} of {err.size} elements beyond the "
            f"round-off bound; worst error {err[bad].max():.3g} vs bound "
            f"{np.broadcast_to(b, w.shape)[fin][bad][np.argmax(err[bad])]:.3g}")


def run_simulator_cases(case_file: str, marker: str | None = None,
                        ignore: tuple[str, ...] = ()) -> None:
    """Run ``tests/cuda/<case_file>`` under the Numba CUDA simulator in a subprocess
    (``NUMBA_ENABLE_CUDASIM=1`` must be set before Numba is imported) and assert that
    every selected case passed and none skipped. ``marker``: a ``-m`` expression (None:
    every case); ``ignore``: more warning classes to ignore. Skips without numba-cuda,
    fails instead with GRAPHC_CUDA_TOOLCHAIN=required."""
    import pytest
    if not has_module("numba") or not has_module("numba.cuda"):
        if REQUIRE_TOOLS:
            pytest.fail("numba-cuda is not installed (GRAPHC_CUDA_TOOLCHAIN=required)")
        pytest.skip("numba-cuda is not installed: pip install 'graphc[cuda]'")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    args = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "cuda" / case_file), "-q",
            "-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning"]
    args += [a for w in ignore for a in ("-W", f"ignore::{w}")]
    if marker is not None:
        args += ["-m", marker]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"simulator cases {case_file} failed:\n{tail}"
    last = proc.stdout.strip().splitlines()[-1]
    assert " passed" in last and "skipped" not in last and "failed" not in last, tail
