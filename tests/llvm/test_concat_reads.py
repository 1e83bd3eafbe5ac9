"""A ``concatenate`` whose consumers are elementwise loops of its shape (or reductions)
is read inside them, each operand through its region with a select, instead of being
written to memory first (the RK4 step of GradBench's ode: ``f(y) = concatenate(x[:1],
x[1:] * y[:-1])``). Checked against the NumPy interpreter, bit for bit, on every
concatenate example of the registry with consumers of each kind, at IEEE edge values
(signed zeros, which ``a + 0`` would lose, NaN and infinities), in both dtypes, with
constant and run-time sizes; and that the plan did inline the reads (so the test cannot
pass by materialising)."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm.arrays import Plan, specialize, _specialize_body
from graphc.ir import PRIMITIVES, Graph, apply, ops
from graphc.ir import array_ops as A

EXAMPLES = PRIMITIVES["concatenate"].examples
EDGE = np.array([-0.0, 0.0, np.nan, np.inf, -np.inf, 1.5, -2.25, 5e-324])

CONSUMERS = {
    "ew": lambda c, w: [c * w],
    "two consumers": lambda c, w: [c * w, c - w],
    "sum": lambda c, w: [A.sum(c * w)],
    "sum axis 0": lambda c, w: [A.sum(c * w, axis=0)],
}


def _graph(shapes, params, consumer, dtype, symbolic):
    axis = params["axis"] % len(shapes[0])
    names = {}
    if symbolic:   # the first operand's length along the axis a symbol
        names = {shapes[0][axis]: "n"}
    xs = [ops.variable(f"a{k}", dtype, tuple(
        names.get(d, d) if (k == 0 and i == axis) else d for i, d in enumerate(s)))
        for k, s in enumerate(shapes)]
    c = A.concatenate(*xs, axis=axis)
    w = ops.variable("w", dtype, c.shape)
    return Graph([*xs, w], consumer(c, w))


def _values(shape, rng, dtype):
    v = rng.standard_normal(shape)
    flat = v.reshape(-1)
    flat[: min(flat.size, EDGE.size)] = EDGE[: flat.size]
    rng.shuffle(flat)
    return v.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
@pytest.mark.parametrize("example", range(len(EXAMPLES)))
@pytest.mark.parametrize("symbolic", [False, True])
def test_concatenate_read_in_its_consumers_equals_numpy(example, consumer, dtype, symbolic):
    shapes, params = EXAMPLES[example]
    axis = params["axis"] % len(shapes[0])
    if consumer == "sum axis 0" and len(shapes[0]) < 2:
        pytest.skip("one-dimensional: the whole sum is the other case")
    g = _graph(shapes, params, CONSUMERS[consumer], dtype, symbolic)
    concrete = specialize(g, {"n": shapes[0][axis]} if symbolic else {})
    plan = Plan(concrete, _specialize_body)
    assert plan.inline_concat_read, "the concatenate was materialised"
    kernel = gc.compile(g, threads=1)
    rng = np.random.default_rng(example)
    np_dtype = np.float64 if dtype == "float64" else np.float32
    for extra in ((0, 1, 5, 9) if symbolic else (0,)):
        sizes = [list(s) for s in shapes]
        sizes[0][axis] += extra
        args = [_values(tuple(s), rng, np_dtype) for s in sizes]
        total = list(sizes[0])
        total[axis] = sum(s[axis] for s in sizes)
        args.append(_values(tuple(total), rng, np_dtype))
        got = kernel(*args)
        want = gc.evaluate(g, *args)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        for o, w in zip(got, want):
            o, w = np.asarray(o), np.asarray(w)
            if consumer.startswith("sum"):   # summation order may differ: values only
                np.testing.assert_allclose(o, w, rtol=1e-5 if dtype == "float32" else 1e-12,
                                           equal_nan=True)
            else:   # bit for bit (exactly rounded ops): signed zeros, NaN, infinities
                assert _same_bits(o, w.astype(o.dtype)), (example, consumer, dtype, extra)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit patterns, NaNs of any payload equal."""
    nan = np.isnan(a)
    if not np.array_equal(nan, np.isnan(b)):
        return False
    return np.array_equal(np.where(nan, 0, a).view(np.uint8), np.where(nan, 0, b).view(np.uint8))


REGIONS = [(0, 8), (3, 21), (8, 16), (5, 6), (16, 40), (0, 40), (1, 39), (7, 9), (24, 33)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lo,hi", REGIONS)
@pytest.mark.parametrize("rows", [0, 3])
def test_regions_at_every_offset_from_the_simd_blocks(lo, hi, rows, dtype):
    """Blocks wholly inside a region, wholly outside it, and across its edges (the
    plan's segments, one state per region): an inlined unslice and a two-way
    concatenate split at ``lo``, each times an array, against the NumPy interpreter
    bit for bit, edge values included."""
    n = 40
    lead = (rows,) if rows else ()
    index = (":, " if rows else "") + f"{lo}:{hi}"
    x = ops.variable("x", dtype, lead + (hi - lo,))
    a = ops.variable("a", dtype, lead + (lo,)) if lo else None
    b = ops.variable("b", dtype, lead + (n - lo,))
    w = ops.variable("w", dtype, lead + (n,))
    outs = [A.unslice(x, lead + (n,), index) * w]
    ins = [x, w, b]
    if a is not None:
        outs.append(A.concatenate(a, b, axis=-1) * w)
        ins.append(a)
    g = Graph(ins, outs)
    plan = Plan(specialize(g, {}), _specialize_body)
    assert plan.inline_unslice and (a is None or plan.inline_concat_read)
    np_dtype = np.float64 if dtype == "float64" else np.float32
    rng = np.random.default_rng(lo * 100 + hi)
    vals = [_values(tuple(v.shape), rng, np_dtype) for v in ins]
    got = gc.compile(g, threads=1)(*vals)
    want = gc.evaluate(g, *vals)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for o, w_ in zip(got, want):
        assert _same_bits(np.asarray(o), np.asarray(w_).astype(np.asarray(o).dtype)), (lo, hi)
