"""Array kernels compiled once for every batch size (issue 13, part 5).

An array graph with symbolic dimensions is planned and lowered with run-time sizes
(:mod:`graphc.ir.extent`); every decision taken on a size is a guard of the compiled
program, and a new binding reuses it when the guards hold. Checked here:

* the extent arithmetic itself against Python's integers (floor division and remainder
  of negative numbers, slicing bounds against ``slice.indices``), and that observing a
  size outside code generation raises instead of using the planning value;
* generated from the registry: every array primitive's examples, with their sizes made
  symbolic, compiled once and called at other sizes (tails of every length mod the
  SIMD width), value and VJP, against the NumPy interpreter;
* after the first binding (a program of constant sizes), one program of run-time
  sizes serves every later batch size of the MLP step and Rosenbrock's gradient, and a
  binding that breaks a guard compiles anew.
"""

import itertools

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import arrays as llvm_arrays
from graphc.backends.llvm.jit import clear_memory_cache
from graphc.ir import PRIMITIVES, Graph, apply, ops
from graphc.ir.extent import Extent, GuardError, evaluate, recording, sizes_of, \
    slice_indices
from graphc.ir.shapes import eval_shape
from helpers import sample_arguments

# ---------------------------------------------------------------------------------
# the extent arithmetic


def _values():
    return [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000]


def test_extent_arithmetic_matches_python_integers():
    exprs = [lambda n: n, lambda n: n - 1, lambda n: 3 * n + 5, lambda n: -n,
             lambda n: 7 - n, lambda n: n * n - 4, lambda n: (n + 3) // 8,
             lambda n: (n - 9) // 8, lambda n: (n - 9) % 8, lambda n: -(-n // 8),
             lambda n: (2 * n) // 4, lambda n: (8 * n + 3) % 8, lambda n: ((n // 3) * 5) % 7]
    for build in exprs:
        with recording():
            e = build(sizes_of({"n": 5})["n"])
        for v in _values():
            assert evaluate(e, {"n": v}) == build(v), (build, v)


def test_guards_record_what_was_observed_and_hold_exactly_where_it_would_again():
    with recording() as log:
        n = sizes_of({"n": 10})["n"]
        assert n > 3 and n != 1 and not n < 2
        assert (n + 1 > n) is True   # true for every n: no guard
    assert len(log) == 3
    for v in range(0, 20):
        want = v > 3 and v != 1 and not v < 2
        assert all(g.holds({"n": v}) for g in log) == want


def test_observing_a_size_outside_code_generation_raises():
    with recording():
        n = sizes_of({"n": 10})["n"]
    with pytest.raises(GuardError):
        int(n)
    with pytest.raises(GuardError):
        bool(n - 3)
    with pytest.raises(TypeError):
        f"{n:d}"
    assert str(n * 2 + 1) == "1+2*n"   # text is symbolic, never the planning value


def test_extents_of_two_compilations_are_never_equal():
    a, b = sizes_of({"n": 4})["n"], sizes_of({"n": 4})["n"]
    assert a != b and hash(a) != hash(b)


@pytest.mark.parametrize("start,stop", [(None, None), (1, None), (None, -1), (2, -3),
                                        (-5, None), (0, 4), (3, 100), (-100, 2)])
def test_slice_bounds_match_slice_indices(start, stop):
    s = slice(start, stop)
    for v in range(0, 12):
        with recording() as log:
            n = sizes_of({"n": v})["n"]
            lo, hi, step = slice_indices(s, n)
        want = s.indices(v)
        assert (evaluate(lo, {"n": v}), evaluate(hi, {"n": v}), step) == want
        for w in range(0, 12):   # wherever the guards hold, the bounds are exact
            if all(g.holds({"n": w}) for g in log):
                assert (evaluate(lo, {"n": w}), evaluate(hi, {"n": w})) == s.indices(w)[:2]


# ---------------------------------------------------------------------------------
# every array primitive, sizes made symbolic

ARRAY_OPS = [p for p in PRIMITIVES.values() if not p.elementwise]
CASES = [(p, i) for p in ARRAY_OPS for i in range(len(p.examples))]
PER_BINDING = {("scatter_add", True)}
"""(op, reverse mode) compiled once per binding: the VJP of ``scatter_add`` with
broadcast indices gathers with indices computed inside the graph (a broadcast of the
``(2, 1)`` index), and the range check of computed indices evaluates them on the
graph's shapes (:func:`graphc.backends.numpy_interp.label_checker`)."""


def _symbolic(prim, shapes, params):
    """The example as a graph whose every dimension >= 2 is a symbol (one per distinct
    size); failing that (parameters tied to the sizes: a reshape's shape, a
    convolution's window), with only the leading dimension of the first input symbolic
    (a batch); (None, {}) when neither builds. Ops with integer arguments (labels,
    indices, whose valid range is tied to the sizes) only get the batch form."""
    every = sorted({d for s in shapes for d in s if d >= 2})
    lead = [shapes[0][0]] if shapes and shapes[0] and shapes[0][0] >= 2 else []
    tries = [lead] if prim.integer_args is not None else [every, lead]
    for sizes in tries:
        if not sizes:
            continue
        names = {d: f"n{d}" for d in sizes}
        if sizes is lead:   # only the first input's leading dimension
            xs = [ops.variable(f"a{k}", shape=(names[s[0]], *s[1:]) if k == 0 else tuple(s))
                  for k, s in enumerate(shapes)]
        else:
            xs = [ops.variable(f"a{k}", shape=tuple(names.get(d, d) for d in s))
                  for k, s in enumerate(shapes)]
        try:
            return Graph(xs, [apply(prim, *xs, **params)]), names
        except Exception:  # noqa: BLE001 - parameters fixed to the example's sizes
            continue
    return None, {}


def _bindings(names):
    """The example's sizes, then larger ones (each tail length mod 8 and mod 4 turns up)."""
    for delta in (0, 1, 3, 5, 9, 14):
        yield {sym: d + delta for d, sym in names.items()}


def _case_id(case):
    return f"{case[0].name}-{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_array_primitive_compiled_once_agrees_at_other_sizes(case):
    prim, i = case
    shapes, params = prim.examples[i]
    g, names = _symbolic(prim, shapes, params)
    if g is None:
        pytest.skip("no symbolic form of this example")
    graphs = [g]
    if prim.differentiable:
        try:
            graphs.append(gc.vjp(g))
        except gc.GraphcError:   # reverse mode needs a concrete size (det, concatenate)
            pass
    for graph in graphs:
        kernel = gc.compile(graph)
        checked = 0
        for seed, env in enumerate(_bindings(names)):
            concrete = [eval_shape(x.shape, env) for x in graph.inputs]
            rng = np.random.default_rng(seed)
            try:
                vals = sample_arguments(prim, concrete[:prim.arity], params, rng)
            except Exception:  # noqa: BLE001
                continue
            vals += [rng.standard_normal(s) for s in concrete[prim.arity:]]
            try:
                want = gc.evaluate(graph, *vals)
            except gc.GraphcError:
                continue   # the op's shape rule rejects these sizes
            got = kernel(*vals)
            for w, o in zip(_flat(want), _flat(got)):
                np.testing.assert_allclose(o, w, rtol=1e-12, atol=1e-12,
                                           err_msg=f"{prim.name} at {env}")
            checked += 1
        assert checked >= 1
        # compiled once for every size, except where a site needs constant sizes
        assert not kernel._fixed_sizes or (prim.name, graph is not g) in PER_BINDING, \
            f"{prim.name}: compiled per binding (see logging 'graphc' at DEBUG)"


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for z in x for y in _flat(z)]
    return [np.asarray(x, dtype=float)]


# ---------------------------------------------------------------------------------
# no second compilation for a new batch size


def _generic_programs():
    return [p for k, v in llvm_arrays._memory.items() if k[0] == "arrays-generic"
            for p in v]


def test_rosenbrock_gradient_compiles_once_for_every_length():
    clear_memory_cache()
    f = gc.parse("sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)", x=("n",))
    g = gc.value_and_grad(f, "x")
    kernel = gc.compile(g, threads=1)
    rng = np.random.default_rng(0)
    for n in itertools.chain([1000], range(3, 40), [1001, 4097]):
        x = rng.standard_normal(n)
        v, dx = kernel(x)
        rv, rdx = gc.evaluate(g, x=x)
        np.testing.assert_allclose(v, rv, rtol=1e-13)
        np.testing.assert_allclose(dx, rdx, rtol=1e-13, atol=1e-13)
    assert len(_generic_programs()) == 1
    assert not kernel._fixed_sizes


def test_mlp_step_compiles_once_for_new_batch_sizes_and_again_when_a_guard_breaks():
    clear_memory_cache()
    H, D, C = 32, 64, 10   # (every product above GEMM_BLAS_MIN for B >= 13)
    src = "cross_entropy(W2 @ tanh(W1 @ X + b1) + b2, y, axis=0)"
    shapes = dict(X=("D", "B"), y=("B",), W1=("H", "D"), b1=("H", 1), W2=("C", "H"),
                  b2=("C", 1))
    loss = gc.parse(src, **shapes)
    vg = gc.value_and_grad(loss, wrt=["W1", "b1", "W2", "b2"])
    kernel = gc.compile(vg, threads=1)
    rng = np.random.default_rng(1)
    P = dict(W1=rng.standard_normal((H, D)), b1=rng.standard_normal((H, 1)),
             W2=rng.standard_normal((C, H)), b2=rng.standard_normal((C, 1)))
    for B in (64, 65, 100, 127, 33, 1):
        X = rng.standard_normal((D, B))
        y = rng.integers(0, C, B).astype(float)
        args = dict(P, X=X, y=y)
        got = kernel(**args)
        want = gc.evaluate(vg, **args)
        for w, o in zip(_flat(want), _flat(got)):
            np.testing.assert_allclose(o, w, rtol=1e-12, atol=1e-14)
        if B == 33:   # 65 .. 33: one program of run-time sizes (64: its own)
            assert len(_generic_programs()) == 1
    # B = 1 broadcasts differently (a size-1 dimension): a guard broke, compiled anew
    assert len(_generic_programs()) == 2
    # the program reads its sizes at run time: symbols in its sizes buffer, output
    # shapes (the gradients of W1 (H, D)... ) extents of them
    prog = _generic_programs()[0]
    assert prog.symbols == ("B", "C", "D", "H")
    assert any(isinstance(d, Extent) for s in prog.out_shapes for d in s)


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_programs_of_run_time_sizes_split_their_steps_correctly(threads):
    """Large sizes run per-step functions split over threads (their units, a run-time
    number, are evaluated per call); sizes on either side of the threading threshold
    get a program each."""
    clear_memory_cache()
    f = gc.parse("sum(exp(-x^2) * x) + sum(tanh(A @ x))", x=("n",), A=(7, "n"))
    g = gc.value_and_grad(f, ["x", "A"])
    kernel = gc.compile(g, threads=threads)
    rng = np.random.default_rng(threads)
    for n in (300_001, 299_999, 150_007, 17, 1000, 400_003):
        x, A = rng.standard_normal(n), rng.standard_normal((7, n))
        got, want = kernel(x=x, A=A), gc.evaluate(g, x=x, A=A)
        for w, o in zip(_flat(want), _flat(got)):
            np.testing.assert_allclose(o, w, rtol=1e-12, atol=1e-12, err_msg=f"n={n}")
    progs = _generic_programs()
    assert 2 <= len(progs) <= 3 and any(p.steps for p in progs)
