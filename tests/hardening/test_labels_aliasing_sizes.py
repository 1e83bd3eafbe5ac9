"""Issue 11, classes 7, 8 and 10: class labels, aliased ``out=``, empty arrays, slices.

Generated from the primitive registry; ground truth from NumPy and Python (the
empty-array cases require every backend to agree with the others):

* labels: every primitive whose example graphs read class indices (found by
  ``class_label_uses``), in its value, forward-mode and reverse-mode graphs, both dtypes,
  every kind of bad label (too large, negative, fractional, NaN, ±inf) at a random
  position: an InputError naming the labels, the entry and the range in every backend
  (NumPy interpreter, LLVM, CUDA on Numba's simulator); good labels give NumPy's loss;
* aliasing: hypothesis over overlapping views (offsets, strides, reversed) of one
  buffer as inputs and ``out=``: the buffer afterwards equals what NumPy's ufuncs give
  (inputs read before any output is written), for the LLVM scalar and array kernels
  and the numpy target;
* empty arrays: every example of every array primitive with each of its sizes set to 0,
  statically and through a symbolic size bound to 0 at call time, value and reverse
  mode: every backend gives the same result or the same error class;
* slices: hypothesis over (start, stop, step, n), static and symbolic, against Python's
  ``range(n)[start:stop:step]`` and NumPy's ``x[start:stop:step]``.

The CUDA cases run in one child process with ``NUMBA_ENABLE_CUDASIM=1`` (this file run
as a script prints their outcomes as JSON).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.ir import PRIMITIVES, Graph, GraphcError, InputError, ShapeError, apply, ops
from graphc.ir import array_ops as A
from graphc.ir.shapes import eval_shape

DTYPES = ("float64", "float32")
NP = {"float64": np.float64, "float32": np.float32}
ARRAY_OPS = [p for p in PRIMITIVES.values() if not p.elementwise]


# ---------------------------------------------------------------------------------
# case generation (shared with the CUDA simulator child)

def _sample(shapes, ints: dict, dtype: str, rng) -> list[np.ndarray]:
    vals = []
    for k, shape in enumerate(shapes):
        if k in ints:
            vals.append(rng.integers(0, max(ints[k], 1), size=shape).astype(NP[dtype]))
        else:
            vals.append(rng.uniform(-2, 2, size=shape).astype(NP[dtype]))
    return vals


def _build(prim, shapes, params, dtype):
    xs = [ops.variable(f"a{k}", dtype, tuple(s)) for k, s in enumerate(shapes)]
    g = Graph(xs, [apply(prim, *xs, **params)])
    ints = {}
    for _u, lab, like, axis in A.class_label_uses(g):
        ints[xs.index(lab)] = like.shape[axis]
    return g, ints


def _modes(g, ints, prim):
    """The value graph and, for differentiable ops, its forward- and reverse-mode
    graphs with respect to every argument that is not a class index."""
    yield "value", g
    if prim.differentiable:
        wrt = [x.name for k, x in enumerate(g.inputs) if k not in ints]
        yield "fwd", gc.jvp(g, wrt=wrt)
        yield "rev", gc.vjp(g, wrt=wrt)


BAD_LABELS = {"too_large": lambda c: float(c), "far_too_large": lambda c: 1e9,
              "negative": lambda c: -1.0, "fractional": lambda c: 0.5,
              "nan": lambda c: math.nan, "inf": lambda c: math.inf,
              "minus_inf": lambda c: -math.inf}


def label_cases():
    """``(id, graph, inputs, bad value, position, classes)`` for every bad-label kind in
    every label-reading example of the registry, every mode, both dtypes."""
    cases = []
    for prim in ARRAY_OPS:
        for i, (shapes, params) in enumerate(prim.examples):
            for dtype in DTYPES:
                g, ints = _build(prim, shapes, params, dtype)
                if not ints:
                    continue
                (lab, classes), = ints.items()
                for mode, h in _modes(g, ints, prim):
                    for j, (kind, bad) in enumerate(BAD_LABELS.items()):
                        rng = np.random.default_rng(7 * i + j)
                        vals = _sample(shapes, ints, dtype, rng)
                        vals += [rng.normal(size=x.shape).astype(NP[dtype])
                                 for x in h.inputs[len(vals):]]
                        flat = vals[lab].reshape(-1)
                        pos = int(rng.integers(0, flat.size))
                        flat[pos] = bad(classes)
                        where = tuple(int(p) for p in np.unravel_index(pos, vals[lab].shape))
                        cases.append((f"{prim.name}-{i}-{dtype}-{mode}-{kind}", h, vals,
                                      float(flat[pos]), where, classes))
    return cases


def _zero(shape, v, sym=None):
    return tuple((sym if sym is not None else 0) if d == v else d for d in shape)


def empty_cases():
    """``(id, graph, inputs)``: every example of every array primitive with one of its
    sizes set to 0 (every argument dimension and ``shape`` parameter entry of that
    size), static (build-time) and symbolic ``n`` bound to 0 (call-time), value and
    reverse mode; the dtype alternates. Graphs that cannot be built (the op, or its
    derivative: ``det``'s needs a concrete order) are ``None``, with the error class as
    the inputs."""
    cases = []
    for prim in ARRAY_OPS:
        for i, (shapes, params) in enumerate(prim.examples):
            for v in sorted({d for s in shapes for d in s}):
                for variant in ("static", "symbolic"):
                    dtype = DTYPES[(i + v) % 2]
                    sym = "n" if variant == "symbolic" else None
                    sh = [_zero(s, v, sym) for s in shapes]
                    pr = dict(params)
                    if "shape" in pr:
                        pr["shape"] = _zero(pr["shape"], v, sym)
                    cid = f"{prim.name}-{i}-size{v}-{variant}"
                    try:
                        g, ints = _build(prim, sh, pr, dtype)
                    except GraphcError as exc:
                        cases.append((cid, None, type(exc).__name__))
                        continue
                    concrete = [_zero(s, v) for s in shapes]
                    ints = {k: (0 if c == sym else c) for k, c in ints.items()}
                    rng = np.random.default_rng(i)
                    vals = _sample(concrete, ints, dtype, rng)
                    modes = _modes(g, ints, prim)
                    while True:
                        try:
                            mode, h = next(modes)
                        except StopIteration:
                            break
                        except ShapeError:  # a derivative needing a concrete size (det)
                            cases.append((f"{cid}-derivative", None, "ShapeError"))
                            break
                        if mode == "fwd":
                            continue
                        # (a derived size such as n-1 is -1 at n = 0: given as 0)
                        ins = vals + [rng.normal(size=[max(0, d) for d in eval_shape(
                            x.shape, {"n": 0})]).astype(NP[dtype])
                            for x in h.inputs[len(vals):]]
                        cases.append((f"{cid}-{mode}", h, ins))
    return cases


def outcome(kernel, args):
    """``("ok", [[shape, entries] per output])`` or ``("error", class name, message)``
    for a GraphcError (anything else propagates)."""
    try:
        res = kernel(*args)
    except GraphcError as exc:
        return ("error", type(exc).__name__, str(exc))
    flat, stack = [], [res]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(reversed(item))
        else:
            a = np.asarray(item.copy_to_host() if hasattr(item, "copy_to_host") else item,
                           dtype=np.float64)
            entries = [None if np.isnan(x) else x for x in a.ravel().tolist()]
            flat.append([list(a.shape), entries])
    return ("ok", flat)


# ---------------------------------------------------------------------------------
# 7. labels

LABELS = label_cases()
EMPTY = empty_cases()


def _check_label_error(exc, bad, where, classes):
    msg = str(exc)
    assert repr(bad) in msg and str(where) in msg and f"[0, {classes})" in msg, msg


@pytest.mark.parametrize("target", ["numpy", "llvm"])
def test_bad_labels_raise_input_error_in_every_backend(target):
    for cid, g, vals, bad, where, classes in LABELS:
        kernel = gc.compile(g, target=target)
        with pytest.raises(InputError) as info:
            kernel(*vals)
        _check_label_error(info.value, bad, where, classes)
        assert "'a" in str(info.value), cid  # names the labels input


def test_bad_labels_raise_on_the_cuda_simulator(cuda_sim):
    for cid, g, vals, bad, where, classes in LABELS:
        kind, *rest = cuda_sim[cid]
        assert kind == "error" and rest[0] == "InputError", (cid, rest)
        _check_label_error(rest[1], bad, where, classes)


@pytest.mark.parametrize("dtype", DTYPES)
def test_good_and_computed_labels_match_numpy(dtype):
    """Valid labels (0 and C-1 included) are not rejected, and give NumPy's loss; labels
    computed in the graph (a slice of an input) are checked too."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 4)).astype(NP[dtype])
    y = np.array([0, 3, 1, 2, 3, 0], dtype=NP[dtype])
    zz = z.astype(np.float64)
    ls = zz - np.log(np.exp(zz).sum(axis=1, keepdims=True))
    want = -ls[np.arange(6), y.astype(int)].mean()
    f = gc.parse("cross_entropy(z, y)", z=("B", 4), y=("B",), dtype=dtype)
    g = gc.parse("cross_entropy(z[1:], y[1:])", z=("B", 4), y=("B",), dtype=dtype)
    tol = 1e-12 if dtype == "float64" else 2e-6
    for target in ("numpy", "llvm"):
        # keywords: inputs are in natural name order (y, z), not order of appearance
        assert float(gc.compile(f, target=target)(z=z, y=y)) == pytest.approx(want, rel=tol)
        bad = y.copy()
        bad[0] = 7.0    # cut off by y[1:]: accepted
        gc.compile(g, target=target)(z=z, y=bad)
        bad[4] = 4.0
        with pytest.raises(InputError, match=r"position \(3,\) is 4\.0"):
            gc.compile(gc.grad(g, "z"), target=target)(z=z, y=bad)


# ---------------------------------------------------------------------------------
# 10. empty arrays

def _same(a, b, cid):
    assert a[0] == b[0], (cid, a, b)
    if a[0] == "error":
        assert a[1] == b[1], (cid, a, b)
        return
    assert len(a[1]) == len(b[1]), cid
    for (sa, va), (sb, vb) in zip(a[1], b[1]):
        assert sa == sb, (cid, sa, sb)
        np.testing.assert_allclose(np.array(va, dtype=float), np.array(vb, dtype=float),
                                   rtol=2e-6, atol=1e-6, err_msg=cid)


def _reference(g, vals):
    return outcome(lambda *a: gc.evaluate(g, *a), vals)


def test_empty_arrays_agree_between_numpy_and_llvm():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cid, g, vals in EMPTY:
            if g is None:
                assert vals in ("ShapeError",), (cid, vals)
                continue
            want = _reference(g, vals)
            if want[0] == "error":
                assert want[1] in ("ShapeError", "InputError"), (cid, want)
            _same(want, outcome(gc.compile(g), vals), cid)


def test_empty_arrays_agree_on_the_cuda_simulator(cuda_sim):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compared = 0
        for cid, g, vals in EMPTY:
            if g is not None and cuda_sim[cid] != ["simulator-python-math"]:
                _same(_reference(g, vals), tuple(cuda_sim[cid]), cid)
                compared += 1
        assert compared >= 0.7 * sum(g is not None for _, g, _ in EMPTY)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_reductions_follow_numpy(dtype):
    """The identities NumPy gives (sum 0, prod 1, logsumexp -inf, mean NaN, without
    NumPy's warning) and NumPy's error for max/min over an axis of length 0: static at
    build time, symbolic at call time, in every backend."""
    import warnings
    x0 = np.zeros((0, 3), dtype=NP[dtype])
    for name, fn in (("sum", np.sum), ("prod", np.prod), ("mean", np.mean),
                     ("logsumexp", lambda a, axis: np.log(np.sum(np.exp(a), axis=axis)))):
        g = gc.parse(f"{name}(x, axis=0)", x=("n", 3), dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = fn(x0, axis=0)
        for target in ("numpy", "llvm"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")        # NaN of an empty mean: silent
                got = gc.compile(g, target=target)(x0)
            np.testing.assert_array_equal(got, want)
    for name, fn in (("max", np.max), ("min", np.min)):
        with pytest.raises(ValueError):
            fn(x0, axis=0)                      # NumPy: no identity
        red = A.amax if name == "max" else A.amin
        with pytest.raises(ShapeError, match="axis 0 of length 0"):
            red(ops.variable("x", dtype, (0, 3)), axis=0)
        with pytest.raises(GraphcError, match="axis 0 of length 0"):
            gc.parse(f"{name}(x, axis=0)", x=(0, 3), dtype=dtype)
        g = gc.parse(f"{name}(x, axis=0)", x=("n", 3), dtype=dtype)
        x2 = np.arange(6.0, dtype=NP[dtype]).reshape(2, 3)
        for target in ("numpy", "llvm"):
            with pytest.raises(ShapeError, match="axis 0 of length 0"):
                gc.compile(g, target=target)(x0)
            np.testing.assert_array_equal(gc.compile(g, target=target)(x2), fn(x2, axis=0))


# ---------------------------------------------------------------------------------
# 8. aliased out=

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ALIAS_GRAPHS = {
    # name: (source, NumPy formula giving every output, array graph?)
    "double": ("x*2", lambda x, y: (x * 2,), False),
    "two_inputs": ("sin(x)*y + x", lambda x, y: (np.sin(x) * y + x,), False),
    "value_and_grad": ("x*x*y", lambda x, y: (x * x * y, 2 * x * y, x * x), False),
    "array_reduction": ("x - sum(x)*y", lambda x, y: (x - np.sum(x) * y,), True),
    "array_value_and_grad": ("sum(x*y) + x*y", lambda x, y: (np.sum(x * y) + x * y,), True),
}
_KERNELS: dict = {}


def _alias_kernel(name, target, dtype):
    key = (name, target, dtype)
    if key not in _KERNELS:
        src, _, arrays = ALIAS_GRAPHS[name]
        shapes = {"x": ("n",), "y": ("n",)} if arrays else {}
        g = gc.parse(src, dtype=dtype, **shapes)
        if name == "value_and_grad":
            g = gc.value_and_grad(g)
        _KERNELS[key] = (g, gc.compile(g, target=target))
    return _KERNELS[key]


N = 48


@st.composite
def _view(draw, length):
    """A slice of a buffer of N entries with ``length`` entries: any offset, stride
    1..3, forwards or reversed."""
    step = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
    span = (length - 1) * abs(step)
    if step > 0:
        a = draw(st.integers(0, N - 1 - span))
        return slice(a, a + span + 1, step)
    a = draw(st.integers(span, N - 1))
    stop = a - span - 1
    return slice(a, None if stop < 0 else stop, step)


@st.composite
def _alias_case(draw):
    length = draw(st.integers(1, 15))
    return length, draw(_view(length)), draw(_view(length)), [
        draw(_view(length)) for _ in range(3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", ["llvm", "numpy"])
@pytest.mark.parametrize("name", sorted(ALIAS_GRAPHS))
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=_alias_case())
def test_overlapping_out_gives_numpys_ufunc_result(name, target, dtype, case):
    """Inputs and outputs are views of one buffer, overlapping in any way: the buffer
    afterwards holds what NumPy gives computing every output from the inputs as they
    were, then writing the outputs in order (NumPy ufuncs copy overlapping inputs
    first: ``np.multiply(x[:-1], 2, out=x[1:])``)."""
    length, sx, sy, souts = case
    g, kernel = _alias_kernel(name, target, dtype)
    fn = ALIAS_GRAPHS[name][1]
    n_out = len(g.outputs)
    base = np.random.default_rng(length).uniform(0.5, 1.5, N).astype(NP[dtype])
    want = base.copy()
    refs = fn(want[sx].copy(), want[sy].copy())   # y is unused by one-input graphs
    for k in range(n_out):
        np.copyto(want[souts[k]], refs[k])
    outs = [base[souts[k]] for k in range(n_out)]
    args = [base[sx], base[sy]][:len(g.inputs)]
    got = kernel(*args, out=outs[0] if n_out == 1 else (outs[0], tuple(outs[1:])))
    tol = 1e-12 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(base, want, rtol=tol, atol=0)
    flat = [got] if n_out == 1 else [got[0], *got[1]]
    assert all(r is o for r, o in zip(flat, outs))   # the out= arrays are returned


def test_numpy_ufunc_reference_and_the_issue_example():
    """The issue's example, against NumPy itself; the threaded LLVM path (a batch
    split over 2 threads) too."""
    for n, threads in ((40, 1), (300_001, 2)):
        ref = np.ones(n)
        np.multiply(ref[:-1], 2, out=ref[1:])
        for target, opts in (("llvm", {"threads": threads}), ("numpy", {})):
            x = np.ones(n)
            k = gc.compile(gc.parse("x*2"), target=target, **opts)
            r = k(x[:-1], out=x[1:])
            assert r is not None and np.shares_memory(r, x)
            np.testing.assert_array_equal(x, ref)


@pytest.mark.parametrize("target", ["llvm", "numpy"])
def test_out_checks_are_the_same_for_every_kernel(target):
    """The numpy target takes out= as the LLVM one does: wrong count, shape, dtype or a
    read-only array are InputErrors, in scalar and array graphs."""
    for g, x, shape in ((gc.parse("x*2"), np.ones(4), (4,)),
                        (gc.parse("x - sum(x)", x=("n",)), np.ones(4), (4,))):
        k = gc.compile(g, target=target)
        ro = np.empty(shape)
        ro.flags.writeable = False
        for bad, msg in (((np.empty(shape), np.empty(shape)), "needs 1 array"),
                         (np.empty((5,)), "has shape"),
                         (np.empty(shape, dtype=np.int64), "has dtype"),
                         (ro, "read-only"), (1.0, "must be a NumPy array")):
            with pytest.raises(InputError, match=msg):
                k(x, out=bad)
        o32 = np.empty(shape, np.float32)
        assert k(x, out=o32) is o32
        np.testing.assert_array_equal(o32, np.asarray(gc.evaluate(g, x), np.float32))


# ---------------------------------------------------------------------------------
# 10. slices

_bound = st.one_of(st.none(), st.integers(-15, 15))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(n=st.integers(0, 12), start=_bound, stop=_bound,
       step=st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -3])))
def test_static_slices_clip_like_python(n, start, stop, step):
    assume(not _whole(start, stop, step))
    s = slice(start, stop, step)
    x = ops.variable("x", "float64", (n,))
    node = A.getitem(x, s)
    assert node.shape == (len(range(n)[s]),)
    v = np.arange(n, dtype=np.float64)
    np.testing.assert_array_equal(gc.evaluate(Graph([x], [node]), v), v[s])


@settings(max_examples=20, deadline=None, derandomize=True)
@given(n=st.integers(0, 12), start=_bound, stop=_bound,
       step=st.one_of(st.none(), st.sampled_from([1, 2, -1, -3])))
def test_static_slices_llvm(n, start, stop, step):
    assume(not _whole(start, stop, step))
    s = slice(start, stop, step)
    x = ops.variable("x", "float32", (n,))
    g = gc.value_and_grad(Graph([x], [A.sum(A.getitem(x, s))]))
    v = np.arange(n, dtype=np.float32)
    val, (grad,) = gc.compile(g)(v)
    ind = np.zeros(n)
    ind[s] = 1.0
    assert val == np.sum(v[s])
    np.testing.assert_array_equal(grad, ind)


def _whole(start, stop, step) -> bool:
    """``x[:]`` / ``x[::1]``: graphc asks for the brackets to be dropped instead."""
    return start is None and stop is None and step in (None, 1)


def _outcome_slice(kernel, v):
    try:
        return kernel(v)
    except ShapeError:
        return None


@settings(max_examples=120, deadline=None, derandomize=True)
@given(start=_bound, stop=_bound, step=st.one_of(st.none(), st.sampled_from([1, 2, -1])))
def test_symbolic_slices_never_give_a_wrong_shape(start, stop, step):
    """On a symbolic size n: a slice with a step other than 1, or counting its start
    from the end and its stop from the front, is a ShapeError at build time; any other
    has a symbolic size that is NumPy's for every n where the call succeeds; a call
    fails (ShapeError) only below a least n, and never when the length is linear in n
    (every n of 0..33 checked, value and gradient, against NumPy)."""
    assume(not _whole(start, stop, step))
    s = slice(start, stop, step)
    x = ops.variable("x", "float64", ("n",))
    unsupported = (step not in (None, 1) or
                   (start is not None and start < 0 and stop is not None and stop > 0))
    if unsupported:
        with pytest.raises(ShapeError):
            A.getitem(x, s)
        return
    y = A.getitem(x, s)
    g = gc.value_and_grad(Graph([x], [A.sum(ops.mul(y, y))]))
    sizes = [len(range(n)[s]) for n in range(34)]
    linear = all(sizes[n] == sizes[0] + n * (sizes[1] - sizes[0]) for n in range(34))
    ok = []
    for n in range(34):
        v = np.arange(n, dtype=np.float64) + 1.0
        got = _outcome_slice(lambda a: gc.evaluate(g, a), v)
        ok.append(got is not None)
        if got is None:
            continue
        grad = np.zeros(n)
        grad[s] = 2 * v[s]
        assert got[0] == np.sum(v[s] ** 2)
        np.testing.assert_array_equal(got[1][0], grad)
    assert ok[-1] and ok == sorted(ok), ok       # fails only below a least size
    assert all(ok) or not linear, (sizes, ok)


@pytest.mark.parametrize("index,n,want", [("-30:30", 8, "no symbolic size"),
                                          ("5:2", 8, 0), ("1:-1", 1, "only where n >= 2"),
                                          ("-3:", 2, "only where n >= 3"), ("2:", 40, 38)])
def test_symbolic_slices_of_the_issue(index, n, want):
    x = ops.variable("x", "float64", ("n",))
    for target in ("numpy", "llvm"):
        with pytest.raises(ShapeError, match=want) if isinstance(want, str) else \
                _nullcontext():
            k = gc.compile(Graph([x], [A.getitem(x, index)]), target=target)
            r = k(np.arange(float(n)))
            assert r.shape == (want,)
            np.testing.assert_array_equal(r, np.arange(float(n))[A.parse_index(index)])


def _nullcontext():
    import contextlib
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------
# the CUDA simulator child

ROOT = Path(__file__).resolve().parents[2]


def _has_numba_cuda() -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec("numba") is not None and \
            importlib.util.find_spec("numba.cuda") is not None
    except (ImportError, ValueError):
        return False


@pytest.fixture(scope="module")
def cuda_sim():
    """Outcomes of every label and empty case on the CUDA simulator, by case id."""
    if not _has_numba_cuda():
        pytest.skip("numba-cuda is not installed: pip install 'graphc[cuda]'")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-W", "ignore", __file__], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cuda_main():  # pragma: no cover - runs in the simulator child
    import warnings
    warnings.simplefilter("ignore")
    results = {}

    def run(g, vals):
        try:
            return list(outcome(gc.compile(g, target="cuda"), vals))
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            # the simulator runs kernels as Python, where 0.0/0.0 and log(0.0) raise
            # instead of giving NaN and -inf as the GPU does (mean of no entries...)
            if isinstance(exc, ValueError) and "math domain error" not in str(exc):
                raise
            return ["simulator-python-math"]

    for cid, g, vals, *_ in label_cases():
        results[cid] = run(g, vals)
    for cid, g, vals in empty_cases():
        if g is not None:
            results[cid] = run(g, vals)
    print(json.dumps(results))


if __name__ == "__main__":
    _cuda_main()
    sys.exit(0)
