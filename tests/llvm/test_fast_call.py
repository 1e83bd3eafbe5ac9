"""The LLVM kernel's fast call paths (issue 16, part 1): the normal call's fast path
(contiguous arrays, Python/NumPy scalars, size-1 arrays, ``out=``) and the pre-bound
call (:meth:`LLVMKernel.bind`) must give bit-identical results to the general path,
for every elementwise primitive of the registry (one kernel computing all of them, per
dtype), with NumPy's ufunc semantics for ``out=`` that overlaps the inputs.

Ground truth: the kernel's general path on fresh contiguous copies (the path the other
LLVM tests check against NumPy and long-double references), and NumPy's own
``np.shares_memory`` for the overlap test. No timing is asserted here; speed is
measured side by side by ``benchmarks/call_overhead.py``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc.backends.common import overlaps
from graphc.ir import PRIMITIVES, Graph, InputError, apply, variable
from graphc.ir.primitive import elementwise_shape

DTYPES = ("float64", "float32")
N = 64 + 37  # a full SIMD block or more and a partial last block
OPS = [p for name, p in PRIMITIVES.items()
       if name not in ("input", "const") and p.shape_rule is elementwise_shape]


@functools.lru_cache(maxsize=None)
def _kernel(dtype: str):
    """One kernel computing every elementwise primitive on its own inputs, with inputs
    drawn from each primitive's domain (``Primitive.domain``)."""
    rng = np.random.default_rng(16)
    inputs, outputs, args = [], [], []
    for prim in OPS:
        xs = [variable(f"{prim.name}_{i}", dtype) for i in range(prim.arity)]
        inputs += xs
        outputs.append(apply(prim, *xs))
        args += [rng.uniform(lo, hi, N).astype(dtype) for lo, hi in prim.domain]
    k = gc.compile(Graph(inputs, outputs), optimize_graph=False)
    return k, args


def _general(k, args):
    """The general call path (binding, conversion, broadcasting) on the given args."""
    return k._call_general(tuple(args), {}, None)


def _same(got, want, what):
    assert len(got) == len(want) == len(OPS)
    for prim, g, w in zip(OPS, got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (what, prim.name)
        np.testing.assert_array_equal(g, w, err_msg=f"{what}: {prim.name}")


def _scalars(args):
    """Every input's first element in the mix of scalar kinds the fast path takes."""
    kinds = (float, lambda v: np.float64(v), lambda v: np.array(v, v.dtype),
             lambda v: np.array([v], v.dtype), lambda v: int(round(float(v))))
    return [kinds[i % len(kinds)](a[0]) for i, a in enumerate(args)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_path_arrays_bit_identical(dtype):
    k, args = _kernel(dtype)
    want = _general(k, [a.copy() for a in args])
    _same(k(*args), want, "fast")
    _same(k.bind(*args)(), want, "bound")
    # by keyword
    kw = {x.name: a for x, a in zip(k.graph.inputs, args)}
    _same(k(**kw), want, "keywords")


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_inputs_bit_identical(dtype):
    k, args = _kernel(dtype)
    floats = [float(a[0]) for a in args]
    want = _general(k, [np.array(v, dtype) for v in floats])
    got = k(*floats)
    _same(got, want, "scalars")
    assert all(type(v) is np.dtype(dtype).type for v in got)  # NumPy scalars
    _same(k.bind(*floats)(), want, "bound scalars")
    # small Python ints (converted exactly)
    ints = [int(round(v)) for v in floats]
    _same(k(*ints), _general(k, [np.array(v, dtype) for v in ints]), "ints")
    # a mix of Python floats, NumPy scalars, 0-d and shape-(1,) arrays
    mixed = _scalars(args)
    want = _general(k, mixed)
    _same(k(*mixed), want, "mixed scalars")
    _same(k.bind(*mixed)(), want, "bound mixed scalars")


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalars_with_arrays_bit_identical(dtype):
    k, args = _kernel(dtype)
    half = [a if i % 2 else float(a[0]) for i, a in enumerate(args)]
    want = _general(k, [np.broadcast_to(np.asarray(v, dtype), (N,)).copy()
                        if i % 2 == 0 else v for i, v in enumerate(half)])
    # scalar inputs are hoisted by a separate specialisation: compare it with the
    # general path's handling of the same pattern, and that with full arrays
    _same(k(*half), _general(k, half), "fast mixed")
    _same(k.bind(*half)(), _general(k, half), "bound mixed")
    _same(_general(k, half), want, "scalar pattern vs arrays")


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_broadcast_and_converted_inputs(dtype):
    k, args = _kernel(dtype)
    other = "float32" if dtype == "float64" else "float64"
    wide = [np.repeat(a, 2)[::2] for a in args]            # strided views
    col = [a[:3].reshape(3, 1) for a in args]               # (3, 1) against (1, 5)
    row = [a[:5].reshape(1, 5) for a in args]
    mix = [c if i % 2 else r for i, (c, r) in enumerate(zip(col, row))]
    cases = {
        "strided": (wide, [a.copy() for a in args]),
        "broadcast": (mix, [np.broadcast_to(m, (3, 5)).copy() for m in mix]),
        "other dtype": ([a.astype(other) for a in args],
                        [a.astype(other).astype(dtype) for a in args]),
        "lists": ([a[:7].tolist() for a in args], [a[:7].copy() for a in args]),
    }
    for what, (given, contiguous) in cases.items():
        want = _general(k, contiguous)
        _same(k(*given), want, what)
        _same(k.bind(*given)(), want, f"bound {what}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_fresh_and_overlapping(dtype):
    k, args = _kernel(dtype)
    want = _general(k, [a.copy() for a in args])
    n_out = len(OPS)
    # fresh out arrays: written in place and returned
    out = [np.empty(N, dtype) for _ in range(n_out)]
    got = k(*args, out=out)
    assert all(g is o for g, o in zip(got, out))
    _same(got, want, "out=")
    # every output written into the buffer of one of its own inputs (the ufunc rule:
    # all inputs are read before any output is written)
    ins = [a.copy() for a in args]
    alias = [ins[i % len(ins)] for i in range(n_out)]
    if len(set(map(id, alias))) == n_out:
        _same(k(*ins, out=alias), want, "out= aliasing inputs")
    # overlapping shifted views of one buffer: outputs overlap the inputs and each
    # other; NumPy's rule gives every input read first, then outputs written in order
    base = np.concatenate(args)
    ins = [base[i * N:(i + 1) * N] for i in range(len(args))]
    out = [base[i * N + 1:(i + 1) * N + 1] for i in range(n_out)]
    expect = _general(k, [a.copy() for a in ins])
    sim = base.copy()
    for i, e in enumerate(expect):
        sim[i * N + 1:(i + 1) * N + 1] = e
    k(*ins, out=out)
    np.testing.assert_array_equal(base, sim)
    # out of another dtype (same_kind cast) and non-contiguous out
    other = np.float32 if dtype == "float64" else np.float64
    out = [np.empty(N, other) for _ in range(n_out)]
    _same(k(*args, out=out), [w.astype(other) for w in want], "out= cast")
    out = [np.empty(2 * N, dtype)[::2] for _ in range(n_out)]
    _same(k(*args, out=out), want, "strided out=")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bound_out_and_in_place_updates(dtype):
    k, args = _kernel(dtype)
    ins = [a.copy() for a in args]
    out = [np.empty(N, dtype) for _ in OPS]
    alias = list(out)
    alias[0] = ins[0]  # overlapping out=: computed into a temporary, then copied
    bound = k.bind(*ins, out=alias)
    rng = np.random.default_rng(3)
    for _ in range(3):
        src = [rng.permutation(a) for a in args]
        for a, s in zip(ins, src):
            a[...] = s
        want = _general(k, [s.copy() for s in src])
        got = bound()
        assert got[0] is ins[0]
        _same(got, want, "bound out= after in-place update")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bound_rejects_changed_arrays(dtype):
    k, args = _kernel(dtype)
    ins = [a.copy() for a in args]
    out = [np.empty(N, dtype) for _ in OPS]
    for change in ("input shape", "input dtype", "out shape"):
        x = [a.copy() for a in ins]
        o = [b.copy() for b in out]
        bound = k.bind(*x, out=o)
        bound()
        with warnings.catch_warnings():  # setting .shape/.dtype may be deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            if change == "input shape":
                x[1].shape = (1, N)
            elif change == "input dtype":
                x[1].dtype = np.int64 if dtype == "float64" else np.int32
            else:
                o[2].shape = (N, 1)
        with pytest.raises(InputError, match="changed since bind"):
            bound()


@pytest.mark.parametrize("dtype", DTYPES)
def test_errors_keep_their_messages(dtype):
    k, args = _kernel(dtype)
    with pytest.raises(InputError, match="missing"):
        k(*args[:-1])
    with pytest.raises(InputError, match="broadcast"):
        k(*[a if i else a[:3] for i, a in enumerate(args)])
    with pytest.raises(InputError, match="out="):
        k(*args, out=[np.empty(N, dtype)])
    with pytest.raises(InputError, match="missing"):
        k.bind(*args[:-1])
    with pytest.raises(InputError, match="shape"):
        k.bind(*args, out=[np.empty(N + 1, dtype) for _ in OPS])


def _views():
    """Arrays and views of many kinds: slices of one buffer, reshapes, transposes,
    separate arrays, ``frombuffer`` and ``as_strided`` views."""
    a = np.arange(60.0)
    b = np.arange(60.0)
    raw = bytearray(480)
    f = np.frombuffer(raw, np.float64)
    views = [a, a[10:30], a[25:40], a[::2], a[1::2], a.reshape(6, 10)[:, 3],
             a.reshape(6, 10).T, b, b[5:], f, f[3:9], np.frombuffer(raw, np.float64)[8:],
             np.lib.stride_tricks.as_strided(a, (5,), (8,)), np.array(3.0), a[7:8]]
    return views


def test_overlaps_never_misses_shared_memory():
    views = _views()
    for i, x in enumerate(views):
        for j, y in enumerate(views):
            if np.shares_memory(x, y):
                assert overlaps(x, [y]), (i, j)
            if not np.may_share_memory(x, y):
                assert not overlaps(x, [y]), (i, j)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_calls_from_many_threads(dtype):
    """The scalar path reuses 0-d scratch arrays: concurrent calls must not mix."""
    from concurrent.futures import ThreadPoolExecutor
    k, args = _kernel(dtype)
    points = [[float(a[i]) for a in args] for i in range(16)]
    want = [_general(k, [np.array(v, dtype) for v in p]) for p in points]

    def work(i):
        for _ in range(20):
            _same(k(*points[i]), want[i], f"thread {i}")
        return True
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(16)))
