"""Dask interop: kernels applied chunk by chunk give the in-process results; kernels
travel by graph (pickle) and are rebuilt in each worker process."""

import pickle

import numpy as np
import pytest

import graphc as gc
from graphc.interop.dask import ChunkKernel, dask_map, graph_from_state, graph_state

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

FORMULA = "exp(-x^2/2) * sin(3*x) + sqrt(abs(x)) * y"


def test_dask_map_matches_in_process_kernel():
    k = gc.compile(gc.value_and_grad(gc.parse(FORMULA)))
    x_np = np.linspace(-4, 4, 100_001)
    y_np = np.cos(np.arange(100_001) * 0.01)
    x = da.from_array(x_np, chunks=17_000)
    y = da.from_array(y_np, chunks=23_000)  # different chunks: Dask aligns them
    f, (dx, dy) = dask_map(k, x, y=y)
    assert isinstance(f, da.Array) and f.dtype == np.float64 and f.shape == x_np.shape
    with dask.config.set(scheduler="threads"):
        got = dask.compute(f, dx, dy)
    want = k(x_np, y_np)
    for g, w in zip(got, (want[0], *want[1])):
        np.testing.assert_array_equal(g, w)


def test_broadcasting_scalars_numpy_and_graph_or_function_inputs():
    g = gc.parse("a * x + b")
    x = da.arange(10, chunks=3, dtype=np.float64)
    out = dask_map(g, x=x, a=2.0, b=np.float64(1.0))
    np.testing.assert_array_equal(out.compute(scheduler="sync"), 2 * np.arange(10) + 1)
    f = gc.function(lambda u, v: gc.maximum(u, v))
    m = dask_map(f, da.ones((4, 5), chunks=2), np.arange(5.0))  # (4,5) with (5,)
    np.testing.assert_array_equal(m.compute(scheduler="sync"),
                                  np.maximum(1.0, np.arange(5.0))[None].repeat(4, 0))
    k32 = gc.compile(gc.parse("x * 0.5", dtype="float32"))
    h = dask_map(k32, x=da.ones(6, chunks=4, dtype=np.float32))
    assert h.dtype == np.float32 and h.compute(scheduler="sync").tolist() == [0.5] * 6


def test_chunk_kernels_pickle_by_flat_graph_even_when_deep():
    src = "x"
    for _ in range(5000):  # deeper than pickle's recursion could follow
        src = f"sin({src})"
    g = gc.parse(src)
    ck = ChunkKernel(g, "numpy")
    data = pickle.dumps(ck)
    back = pickle.loads(data)
    assert back.graph.outputs[0] is g.outputs[0]  # interned: the very same nodes
    v = np.array([0.3])
    assert back(v) == pytest.approx(gc.evaluate(g, v))
    vg = gc.value_and_grad(gc.parse("u = x*y; v = sin(u); w = v + u"))
    again = graph_from_state(pickle.loads(pickle.dumps(graph_state(vg))))
    assert again.outputs == vg.outputs and again.structure == vg.structure
    assert again.labels == vg.labels and again.output_names == vg.output_names


def test_errors():
    with pytest.raises(gc.InputError):
        dask_map(gc.parse("x + y"), x=da.ones(3))
    with pytest.raises(gc.GraphcError, match="kernel or a graph"):
        dask_map(lambda x: x, da.ones(3))


@pytest.mark.slow
def test_local_cluster_two_processes_1e8_points():
    distributed = pytest.importorskip("distributed")
    n, chunk = 10 ** 8, 5 * 10 ** 6
    k = gc.compile(gc.value_and_grad(gc.parse("exp(-x^2/2) * sin(3*x)")))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="4GiB") as cluster, \
            distributed.Client(cluster) as client:
        x = da.arange(n, chunks=chunk, dtype=np.float64) * (8.0 / n) - 4.0
        f, (df,) = gc.dask_map(k, x=x)
        sums = client.compute([f.map_blocks(lambda b: np.array([b.sum()]), chunks=(1,)),
                               df.map_blocks(lambda b: np.array([b.sum()]), chunks=(1,))])
        f_sums, df_sums = [s.result() for s in sums]
        first_block = f.blocks[7].compute()
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    want_f, want_df = [], []
    for start in range(0, n, chunk):
        xi = np.arange(start, start + chunk, dtype=np.float64) * (8.0 / n) - 4.0
        fi, (dfi,) = k(xi)
        want_f.append(fi.sum())
        want_df.append(dfi.sum())
        if start == 7 * chunk:
            np.testing.assert_array_equal(first_block, fi)
    np.testing.assert_allclose(f_sums, want_f, rtol=1e-12)
    np.testing.assert_allclose(df_sums, want_df, rtol=1e-12)
