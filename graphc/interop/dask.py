"""Dask interop: apply a compiled kernel to Dask arrays chunk by chunk.

A graphc kernel is elementwise (ufunc-like), so a batch too large for one machine's
memory or cores is split into chunks and the kernel runs on each chunk where the chunk
lives::

    import dask.array as da
    k = gc.compile(gc.value_and_grad(gc.parse("exp(-x^2/2) * sin(3*x)")))
    x = da.linspace(-5, 5, 10**8, chunks=10**7)
    f, dfdx = gc.dask_map(k, x=x)          # Dask arrays, nothing computed yet
    f.sum().compute()                      # runs on the threads or the cluster

:func:`dask_map` builds a :func:`dask.array.apply_gufunc` call with the signature
``(),()...->(),()...`` (one core-less operand per input, one result per output), so
Dask broadcasts the inputs like NumPy and aligns their chunks. Only the *graph* travels
to the workers, in a flat, recursion-free encoding (:class:`ChunkKernel`); each worker
process compiles it once for its own CPU and keeps it in a per-process cache, so later
tasks (and later ``dask_map`` calls with the same graph) reuse the machine code.

Progress: ``from tqdm.dask import TqdmCallback; with TqdmCallback(): y.compute()`` on
the local schedulers, ``distributed.progress(...)`` on a cluster.

Dask is imported only when these functions run (``pip install 'dask[array]'``;
``distributed`` for clusters).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..ir import BackendUnavailableError, Graph, GraphcError
from ..backends.common import register_chunked
from ..ir.graph import graph_from_state, graph_state  # noqa: F401  (re-exported)

# ---------------------------------------------------------------------------------
# kernels that travel by graph

_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()


def _fingerprint(graph: Graph, target: str) -> tuple:
    return (target, graph.input_names, tuple(o.key for o in graph.outputs),
            graph.structure, tuple(o.dtype for o in graph.outputs))


def cached_kernel(graph: Graph, target: str = "llvm"):
    """This process's compiled kernel of ``graph`` (compiled on first request; LLVM
    kernels single-threaded, since Dask already runs one task per worker thread)."""
    key = _fingerprint(graph, target)
    k = _CACHE.get(key)
    if k is None:
        from ..api import compile as compile_graph
        with _CACHE_LOCK:
            k = _CACHE.get(key)
            if k is None:
                # Dask already runs one task per core: one thread per kernel call
                options = {"threads": 1} if target == "llvm" else {}
                k = _CACHE[key] = compile_graph(graph, target, optimize_graph=False,
                                                **options)
    return k


class ChunkKernel:
    """A picklable kernel: pickles as its graph (flat) and target; on first call in a
    process it takes the compiled kernel from that process's cache or compiles it.

    Calling it with one array per input returns a tuple with one array per output (in
    ``graph.outputs`` order), the form :func:`dask.array.apply_gufunc` expects.
    """

    __name__ = "graphc_kernel"  # Dask names its tasks after this (no '-' allowed)

    def __init__(self, graph: Graph, target: str = "llvm"):
        self.graph = graph
        self.target = target

    def __reduce__(self):
        return (_rebuild_chunk_kernel, (graph_state(self.graph), self.target))

    def __call__(self, *chunks: np.ndarray):
        k = cached_kernel(self.graph, self.target)
        shape = np.broadcast_shapes(*(np.shape(c) for c in chunks)) if chunks else ()
        outs = _flat(k.graph if hasattr(k, "graph") else self.graph, k(*chunks))
        outs = [np.broadcast_to(np.asarray(o), shape) if np.shape(o) != shape else
                np.asarray(o) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def __repr__(self) -> str:
        return (f"<graphc chunk kernel ({', '.join(self.graph.input_names)}) -> "
                f"({', '.join(self.graph.output_names)}), {self.target}>")


def _rebuild_chunk_kernel(state: tuple, target: str) -> ChunkKernel:
    return ChunkKernel(graph_from_state(state), target)


def _flat(graph: Graph, tree: Any) -> list:
    """The per-output values of a kernel result arranged by ``graph.structure``."""
    out: list = [None] * len(graph.outputs)
    stack = [(graph.structure, tree)]
    while stack:
        s, v = stack.pop()
        if isinstance(s, int):
            out[s] = v
        else:
            stack.extend(zip(s, v))
    return out


def is_dask_collection(value: Any) -> bool:
    """True for a Dask array (checked without importing Dask)."""
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "chunks")


def _dask_array():
    try:
        import dask.array as da
    except ImportError:
        raise BackendUnavailableError("graphc's Dask interop needs Dask: "
                                      "pip install 'dask[array]'") from None
    return da


def dask_map(kernel: Any, *args: Any, target: str | None = None, **kwargs: Any) -> Any:
    """Apply a kernel (or graph) to Dask arrays chunk by chunk; returns Dask arrays.

    Args:
        kernel: a compiled kernel (anything with a ``graph`` attribute, such as the
            result of :func:`graphc.compile` or a :func:`graphc.function`), or a
            :class:`~graphc.Graph` (optimised once here).
        *args: the graph's inputs by position: Dask arrays, NumPy arrays or numbers,
            broadcast against each other (NumPy rules; Dask aligns chunks).
        **kwargs: the graph's inputs by name, as for ``*args``.
        target: backend compiled on the workers (default: the kernel's, else
            ``"llvm"``).

    Returns:
        Lazy Dask arrays, one per output, arranged like ``graph.structure`` (e.g.
        ``f, (df/dx,)`` for ``value_and_grad``), of the outputs' dtypes.

    Raises:
        InputError: missing or unknown inputs.
        BackendUnavailableError: Dask is not installed.
    """
    da = _dask_array()
    from ..backends.common import NP_DTYPES, bind_arguments
    from ..numpy_api import Function
    from ..passes import optimize
    if isinstance(kernel, Graph):
        graph = optimize(kernel)
    elif isinstance(kernel, Function):
        graph = optimize(kernel.graph)
    elif isinstance(getattr(kernel, "graph", None), Graph):
        graph = kernel.graph
    else:
        raise GraphcError(f"dask_map needs a compiled kernel or a graph, got "
                          f"{type(kernel).__name__}")
    if target is None:
        target = _target_of(kernel)
    bound = bind_arguments(graph, args, kwargs, "kernel")
    operands = _aligned([v if is_dask_collection(v) else np.asarray(v) for v in bound], da)
    ins = ",".join("()" for _ in operands)
    outs = ",".join("()" for _ in graph.outputs)
    dtypes = [np.dtype(NP_DTYPES[o.dtype]) for o in graph.outputs]
    single = len(graph.outputs) == 1
    result = da.apply_gufunc(
        ChunkKernel(graph, target), f"{ins}->{outs}", *operands,
        output_dtypes=dtypes[0] if single else dtypes, vectorize=False,
        allow_rechunk=False)
    results = [result] if single else list(result)
    return graph.output_tree(results)


def _aligned(operands: list, da) -> list:
    """Broadcast the non-scalar operands to their common shape (lazily) and give them
    the same chunks, so that block i of every operand covers the same elements."""
    arrays = [a for a in operands if np.ndim(a) > 0]
    if not arrays:
        return operands
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    index = tuple(range(len(shape)))
    full = [da.broadcast_to(da.asarray(a), shape) if np.ndim(a) > 0 else a
            for a in operands]
    pairs = []
    for a in full:
        if np.ndim(a) > 0:
            pairs += [a, index]
    _, unified = da.core.unify_chunks(*pairs)
    it = iter(unified)
    return [next(it) if np.ndim(a) > 0 else a for a in full]


def _target_of(kernel: Any) -> str:
    name = type(kernel).__name__
    if name == "NumpyKernel":
        return "numpy"
    if name.startswith("CUDA") or "cuda" in type(kernel).__module__:
        return "cuda"
    return "llvm"


__all__ = ["ChunkKernel", "cached_kernel", "dask_map", "graph_from_state", "graph_state",
           "is_dask_collection"]


register_chunked(is_dask_collection, dask_map)  # LLVM kernels hand Dask arrays here
