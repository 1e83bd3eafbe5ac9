"""Kernels follow NumPy conventions: any array-like, ufunc broadcasting, out=, float32
and float64, pickling by graph, and Dask arrays chunk by chunk."""

import pickle

import numpy as np
import pytest

import graphc as gc

F = "ln(x1) + x1*x2 - sin(x2)"


@pytest.fixture(scope="module")
def kernel():
    return gc.compile(gc.value_and_grad(gc.parse(F)))


def reference(x1, x2):
    return gc.evaluate(gc.value_and_grad(gc.parse(F)), x1=x1, x2=x2)


def test_array_likes_and_broadcasting(kernel):
    y, (d1, d2) = kernel(x1=[[1.0], [2.0]], x2=(0.5, 1.0, 1.5))   # lists and tuples
    assert y.shape == d1.shape == d2.shape == (2, 3)
    want = reference(np.array([[1.0], [2.0]]), np.array([0.5, 1.0, 1.5]))
    np.testing.assert_allclose(y, want[0], rtol=1e-13)  # libmvec: a few ulp
    np.testing.assert_allclose(d2, want[1][1], rtol=1e-13)
    y, _ = kernel(2, 5)                                            # scalars
    assert np.ndim(y) == 0 and float(y) == pytest.approx(11.652071455)


def test_out_arguments_are_written_and_returned(kernel):
    x1, x2 = np.linspace(1, 2, 7), np.linspace(0, 1, 7)
    out = (np.empty(7), (np.empty(7), np.empty(7, dtype=np.float32)))
    got = kernel(x1=x1, x2=x2, out=out)
    assert got[0] is out[0] and got[1][0] is out[1][0] and got[1][1] is out[1][1]
    want = reference(x1, x2)
    np.testing.assert_allclose(out[0], want[0], rtol=1e-13)
    np.testing.assert_allclose(out[1][1], want[1][1].astype(np.float32), rtol=1e-7)
    flat = [np.empty(7) for _ in range(3)]
    kernel(x1, x2, out=flat)
    np.testing.assert_allclose(flat[1], want[1][0], rtol=1e-13)
    for bad, msg in [((np.empty(6),) * 3, "shape"), ((np.empty(7),) * 2, "3 array"),
                     ((np.empty(7, dtype=np.int64),) * 3, "dtype")]:
        with pytest.raises(gc.InputError, match=msg):
            kernel(x1, x2, out=bad)


def test_float32_graphs_return_float32(kernel):
    k32 = gc.compile(gc.value_and_grad(gc.parse(F, dtype="float32")))
    y, (d1, d2) = k32(x1=np.linspace(1, 2, 5), x2=np.float32(0.5))
    assert y.dtype == d1.dtype == np.float32
    np.testing.assert_allclose(y, reference(np.linspace(1, 2, 5), 0.5)[0], rtol=1e-6)


def test_clear_errors_for_wrong_inputs(kernel):
    with pytest.raises(gc.InputError, match="missing input"):
        kernel(x1=1.0)
    with pytest.raises(gc.InputError, match="no input 'x3'"):
        kernel(x1=1.0, x2=1.0, x3=1.0)
    with pytest.raises(gc.InputError, match="expected real numbers"):
        kernel(x1=np.array(["a"]), x2=1.0)
    with pytest.raises(gc.InputError, match="cannot be broadcast"):
        kernel(x1=np.ones(3), x2=np.ones(4))


def test_kernels_pickle_by_graph(kernel):
    again = pickle.loads(pickle.dumps(kernel))
    x = np.linspace(1, 2, 9)
    np.testing.assert_array_equal(again(x, x)[1][0], kernel(x, x)[1][0])


def test_dask_arrays_are_mapped_chunk_by_chunk(kernel):
    da = pytest.importorskip("dask.array")
    x = np.linspace(1, 3, 1000)
    lazy = kernel(x1=da.from_array(x, chunks=300), x2=0.25)
    assert type(lazy[0]).__module__.startswith("dask")
    want = kernel(x1=x, x2=0.25)
    np.testing.assert_array_equal(lazy[1][0].compute(), want[1][0])
