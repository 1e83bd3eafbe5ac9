"""One LLVM kernel class, one cache, every option for every graph (issue 12, parts 1-2).

Generated from the primitive registry: an elementwise graph computing every elementwise
primitive on its own inputs, and one array graph per array primitive (its first
registry example). Every option of ``graphc.compile`` (``simd``, ``cache``,
``threads``, ``blas``, ``out=``, both dtypes) is run on both kinds and compared with
the NumPy interpreter (graphc/backends/numpy_interp.py). Threads: 1 and 2 threads give
bit-identical results on elementwise work, within 1e-12 on reductions, and an array
kernel given two threads really splits its loop nests. ``clear_cache`` empties the one
in-memory cache of both kinds. The ctypes prototype of each compiled function has the
parameters its LLVM IR declares (LLVM's own parser is the ground truth).
``graphc compile --emit llvm`` prints IR that LLVM parses and verifies for array
expressions. The planning tables of ``graphc.backends.plan`` are checked against NumPy.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

import graphc as gc
from graphc.backends import plan
from graphc.backends.llvm import arrays, jit
from graphc.backends.llvm import threads as llvm_threads
from graphc.cli import main
from graphc.ir import PRIMITIVES, Graph, apply, variable
from graphc.ir.primitive import elementwise_shape
from helpers import sample_arguments

DTYPES = ("float64", "float32")
RTOL = {"float64": 1e-12, "float32": 2e-5}
ELEMENTWISE = [p for name, p in PRIMITIVES.items()
               if name not in ("input", "const") and p.shape_rule is elementwise_shape]
ARRAY_PRIMS = [p for p in PRIMITIVES.values() if not p.elementwise]
KINDS = ["elementwise"] + [f"array-{p.name}" for p in ARRAY_PRIMS]
OPTIONS = {
    "default": {},
    "simd-none": {"simd": "none"},
    "no-disk-cache": {"cache": False},
    "threads-1": {"threads": 1},
    "threads-2": {"threads": 2},
    "blas-off": {"blas": False},
    "blas-on": {"blas": True},
}


@functools.lru_cache(maxsize=None)
def case(kind: str, dtype: str, n: int = 1037) -> tuple[Graph, tuple]:
    """``(graph, input values)`` of a kind: ``"elementwise"`` (every elementwise
    primitive, ``n`` points each) or ``"array-<primitive>"`` (its first example)."""
    rng = np.random.default_rng(12)
    if kind == "elementwise":
        xs, outs, vals = [], [], []
        for prim in ELEMENTWISE:
            args = [variable(f"{prim.name}_{k}", dtype) for k in range(prim.arity)]
            xs.extend(args)
            outs.append(apply(prim, *args))
            vals.extend(rng.uniform(lo, hi, n).astype(dtype) for lo, hi in prim.domain)
        return Graph(xs, outs), tuple(vals)
    prim = PRIMITIVES[kind[len("array-"):]]
    shapes, params = prim.examples[0]
    xs = [variable(f"a{k}", dtype, tuple(s)) for k, s in enumerate(shapes)]
    vals = sample_arguments(prim, shapes, params, rng, dtype)
    if prim.name == "prod":
        vals[0] = (np.sign(vals[0]) * (0.5 + np.abs(vals[0]))).astype(dtype)
    return Graph(xs, [apply(prim, *xs, **params)]), tuple(vals)


def _flat(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [a for t in tree for a in _flat(t)]
    return [np.asarray(tree)]


def _assert_close(got, want, dtype, what):
    got, want = _flat(got), _flat(want)
    assert len(got) == len(want), what
    for j, (a, b) in enumerate(zip(got, want)):
        scale = max(1.0, float(np.nanmax(np.abs(b), initial=0.0)))
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * scale,
                                   equal_nan=True, err_msg=f"{what}, output {j}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("kind", KINDS)
def test_every_option_on_every_kind_of_graph_matches_the_interpreter(kind, option, dtype):
    g, vals = case(kind, dtype)
    k = gc.compile(g, **OPTIONS[option])
    assert isinstance(k, jit.LLVMKernel)
    assert k.is_array == (kind != "elementwise")
    _assert_close(k(*vals), gc.evaluate(g, *vals), dtype, f"{kind} {option}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_out_arrays_for_every_kind_of_graph(kind, dtype):
    g, vals = case(kind, dtype)
    want = _flat(gc.evaluate(g, *vals))
    k = gc.compile(g)
    outs = [np.empty(np.shape(w), dtype=dtype) for w in want]
    got = k(*vals, out=outs)
    for o, r in zip(outs, _flat(got)):
        assert np.shares_memory(o, r) or o.ndim == 0
    _assert_close(outs, want, dtype, f"{kind} out=")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("split", ["every-step", "no-step"])
@pytest.mark.parametrize("kind", KINDS[1:])
def test_per_step_functions_on_every_array_graph(kind, split, dtype, monkeypatch):
    """The threaded driver (one call per step, splittable steps by outer units) on
    every registry array graph: compiled with step functions (threshold ~0), then run
    with every splittable step split over two threads, or with none split."""
    g, vals = case(kind, dtype)
    monkeypatch.setattr(arrays, "PARALLEL_MIN_NS", 1e-9)
    k = gc.compile(g, threads=2, cache=False)
    assert k.program({}, parallel=True).steps
    if split == "no-step":
        monkeypatch.setattr(arrays, "PARALLEL_MIN_NS", 1e30)
    _assert_close(k(*vals), gc.evaluate(g, *vals), dtype, f"{kind} steps {split}")


def test_the_kernel_class_is_one_and_pickles_with_its_options():
    import pickle
    g, vals = case("array-matmul", "float64")
    k = gc.compile(g, blas=False, threads=1)
    assert type(k).__mro__[1] is jit.LLVMKernel and not hasattr(arrays, "ArrayKernel")
    k2 = pickle.loads(pickle.dumps(k))
    assert k2.is_array and k2.blas is False and k2.threads == 1
    np.testing.assert_array_equal(k2(*vals), k(*vals))


def test_blas_option_chooses_between_blas_and_loops():
    a, b = (variable("A", shape=(80, 80)), variable("B", shape=(80, 80)))
    g = Graph([a, b], [apply(PRIMITIVES["matmul"], a, b)])
    if not arrays.blas_functions():
        pytest.skip("SciPy's BLAS is not available")
    assert "graphc_dgemm" in gc.compile(g, blas=True).llvm_ir()
    assert "graphc_dgemm" not in gc.compile(g, blas=False).llvm_ir()
    c, d = variable("C", shape=(3, 4)), variable("D", shape=(4, 2))
    small = Graph([c, d], [apply(PRIMITIVES["matmul"], c, d)])
    assert 3 * 4 * 2 < arrays.GEMM_BLAS_MIN
    assert "graphc_dgemm" not in gc.compile(small, blas=True).llvm_ir()


def _big(kind: str, dtype: str, along_rows_only: bool = False):
    """A graph large enough for threads: the elementwise graph at 40,000 points, or an
    array graph of (400, 300) elementwise work plus reductions (along rows only, or
    also along columns and of everything)."""
    if kind == "elementwise":
        return case("elementwise", dtype, 40_000)
    rng = np.random.default_rng(3)
    x = variable("x", dtype, (400, 300))
    w = variable("w", dtype, (300,))
    y = apply(PRIMITIVES["exp"], apply(PRIMITIVES["mul"], apply(PRIMITIVES["sin"], x), w))
    outs = [y, apply(PRIMITIVES["sum"], y, axis=1), apply(PRIMITIVES["reduce_max"], y, axis=1)]
    if not along_rows_only:
        outs += [apply(PRIMITIVES["sum"], y, axis=0), apply(PRIMITIVES["sum"], y)]
    vals = (rng.uniform(-1, 1, (400, 300)).astype(dtype),
            rng.uniform(-1, 1, 300).astype(dtype))
    return Graph([x, w], outs), vals


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["elementwise", "array", "array-rows"])
def test_two_threads_agree_with_one(kind, dtype):
    g, vals = _big(kind.split("-")[0], dtype, kind == "array-rows")
    one = _flat(gc.compile(g, threads=1)(*vals))
    two = _flat(gc.compile(g, threads=2)(*vals))
    want = _flat(gc.evaluate(g, *vals))
    for j, (a, b) in enumerate(zip(one, two)):
        if kind == "elementwise" or j == 0:  # entry by entry: bit for bit
            np.testing.assert_array_equal(a, b, err_msg=f"output {j}")
        else:  # reductions: to rounding
            np.testing.assert_allclose(a, b, rtol=1e-12 if dtype == "float64" else 1e-5)
    _assert_close(two, want, dtype, f"{kind} threads=2")


def test_array_kernels_split_loop_nests_over_threads(monkeypatch):
    """A large array program runs as one parallel region of two threads (the compiled
    ``threaded`` driver, both thread ids), a small one on the calling thread only."""
    calls = []
    real = llvm_threads.run_region

    def spy(run, threads):
        tids = []

        def recorded(tid, n):
            tids.append((tid, n))
            return run(tid, n)
        calls.append(threads)
        real(recorded, threads)
        calls.append(sorted(tids))
    monkeypatch.setattr(llvm_threads, "run_region", spy)
    monkeypatch.setattr(llvm_threads, "dynamic_threads", lambda: False)
    g, vals = _big("array", "float64", along_rows_only=True)
    gc.compile(g, threads=1)(*vals)
    assert calls == []
    gc.compile(g, threads=2)(*vals)
    assert calls == [2, [(0, 2), (1, 2)]]
    # below the threshold one thread runs
    calls.clear()
    small, svals = case("array-softmax", "float64")
    gc.compile(small, threads=2)(*svals)
    assert calls == []


def test_clear_cache_empties_the_one_cache_of_both_kinds():
    ge, ve = case("elementwise", "float64")
    ga, va = case("array-sum", "float64")
    gc.compile(ge)(*ve)
    gc.compile(ga)(*va)
    kinds = {"arrays" if k[0] == "arrays" else "elementwise" for k in jit._memory}
    assert kinds == {"arrays", "elementwise"}
    gc.clear_cache()
    assert len(jit._memory) == 0
    misses = jit.memory_stats["misses"]
    gc.compile(ga)(*va)  # a fresh kernel compiles again
    assert jit.memory_stats["misses"] == misses + 1


_DEFINE = re.compile(r'define void @"?(\w+)"?\(([^)]*)\)')


@pytest.mark.parametrize("kind", ["elementwise", "array-matmul", "array-softmax"])
def test_ctypes_prototypes_match_the_ir(kind, monkeypatch):
    from llvmlite import binding as llvm
    g, vals = case(kind, "float64")
    k = gc.compile(g, threads=1)
    text = k.llvm_ir()
    mod = llvm.parse_assembly(text)
    mod.verify()
    params = {f.name: len(list(f.arguments)) for f in mod.functions
              if not f.is_declaration}
    cm = k.specialization((False,) * len(g.inputs)) if not k.is_array \
        else k.program({}).module
    assert len(cm.function.argtypes) == params["kernel"]
    for name, fn in cm.functions.items():
        assert len(fn.argtypes) == params[name]
    # the ctypes path (no fast-call trampoline) computes the same
    monkeypatch.setattr(cm, "pyfunc", None)
    _assert_close(k(*vals), gc.evaluate(g, *vals), "float64", f"{kind} via ctypes")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("argv", [
    ["sum(W @ x)", "--shape", "W=3,4", "x=4"],
    ["sum(W @ x)", "--shape", "W=3,n", "x=n", "--size", "n=5", "--grad"],
    ["softmax(x)", "--shape", "x=2,n", "--size", "n=9"],
])
def test_cli_emits_llvm_ir_for_array_graphs(argv, dtype, capsys):
    from llvmlite import binding as llvm
    status = main(["compile", *argv, "--dtype", dtype, "--emit", "llvm"])
    out, err = capsys.readouterr()
    assert status == 0, err
    mod = llvm.parse_assembly(out)
    mod.verify()
    assert "kernel" in [f.name for f in mod.functions]
    assert ("double" if dtype == "float64" else "float") in out


def test_cli_names_the_unbound_symbol(capsys):
    status = main(["compile", "sum(W @ x)", "--shape", "W=3,n", "x=n", "--emit", "llvm"])
    _, err = capsys.readouterr()
    assert status == 2 and "--size n=" in err and len(err.strip().splitlines()) == 1


# -- the backend-neutral tables of graphc.backends.plan ------------------------------

@pytest.mark.parametrize("prim", list(PRIMITIVES.values()), ids=lambda p: p.name)
def test_cheapness_comes_from_the_cost_field(prim):
    assert isinstance(prim.cost, int) and prim.cost >= 0
    assert plan.is_cheap(prim) == (prim.cost <= plan.CHEAP_COST)
    assert plan.element_cost(prim) == pytest.approx(0.05 * prim.cost)
    if prim.elementwise and (prim.llvm or "").startswith(("fcmp", "fadd", "fmul")):
        assert plan.is_cheap(prim)
    if prim.llvm in ("llvm.exp", "llvm.log", "llvm.sin", "tan", "erf"):
        assert not plan.is_cheap(prim) and prim.cost > PRIMITIVES["div"].cost


@pytest.mark.parametrize("op", plan.REDUCE_OPS)
def test_reduction_identities_are_identities(op):
    ufunc = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}[op]
    x = np.random.default_rng(5).normal(size=17)
    assert ufunc.reduce(np.append(x, plan.IDENTITY[op])) == ufunc.reduce(x)
    assert ufunc.reduce(np.array([]), initial=plan.IDENTITY[op]) == plan.IDENTITY[op]
    assert op in plan.REDUCTIONS.values()


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 0, 3), (2, 3, 4, 5)])
def test_contiguous_strides_and_prod_match_numpy(shape):
    a = np.empty(shape)
    assert plan.prod(shape) == a.size
    assert plan.contiguous_strides(shape) == tuple(s // a.itemsize for s in a.strides) \
        or a.size == 0


def test_threaded_matrix_products_are_split_with_one_blas_thread_each(monkeypatch):
    """With several graphc threads a BLAS product is split by rows or columns of its
    result (the larger) among them (each part a one-thread BLAS call, issue 16 part 4): the parts run, and the
    value and gradient of an MLP layer equal NumPy's (value) and JAX-free closed forms
    (gradient: dW = g xᵀ) within round-off, for float64 and float32."""
    if "threads_local" not in arrays.blas_functions():
        pytest.skip("needs OpenBLAS's thread-local thread count (SciPy's wheels)")
    rng = np.random.default_rng(5)
    for dtype, tol in (("float64", 1e-12), ("float32", 2e-5)):
        W = rng.normal(size=(96, 80)).astype(dtype)
        X = rng.normal(size=(80, 3000)).astype(dtype)
        f = gc.function(lambda W, X: gc.numpy.sum(gc.numpy.tanh(W @ X)), dtype=dtype,
                        shapes={"W": W.shape, "X": X.shape})
        vg = gc.value_and_grad(f, argnums=0)
        calls = []
        real = arrays._driver_control

        def spy(steps, threads):
            ctl, most = real(steps, threads)
            words = ctl[arrays._CONTROL_STEPS:].reshape(-1, arrays._CONTROL_WORDS)
            calls.extend(int(units) for _next, chunks, units, *_ in words if chunks > 1)
            return ctl, most
        monkeypatch.setattr(arrays, "_driver_control", spy)
        monkeypatch.setattr(llvm_threads, "dynamic_threads", lambda: False)
        k = gc.compile(vg.graph, threads=2)
        value, dW = k(W, X)
        monkeypatch.undo()
        assert 3000 in calls    # the forward product W @ X, split over its columns
        # the weight gradient g Xᵀ (96 x 80, inner dimension 3000): partial products
        assert arrays._split_axis(arrays.Contraction(None, None, None, 96, 80, 3000,
                                                     dtype)) == "k"
        assert arrays.K_PARTS in calls
        T = np.tanh(W.astype(np.float64) @ X.astype(np.float64))
        np.testing.assert_allclose(value, T.sum(), rtol=tol * 10)
        want = (1 - T ** 2) @ X.astype(np.float64).T
        np.testing.assert_allclose(dW, want, rtol=tol * 10, atol=tol * 10 * abs(want).max())
        one = gc.compile(vg.graph, threads=1)(W, X)
        np.testing.assert_allclose(one[1], dW, rtol=tol, atol=tol * abs(want).max())
