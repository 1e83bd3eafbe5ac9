"""Compile rendered kernel source with Numba's CUDA target, call it, or emit PTX.

Numba is imported here, lazily, on first use: ``import graphc`` and
``graphc.backends.cuda`` work without it, and asking for the CUDA target without it
raises :class:`graphc.BackendUnavailableError` saying ``pip install 'graphc[cuda]'``.

The generated source (see :mod:`.render`) is compiled with Python's ``compile`` and
run in a namespace holding only ``math``, ``np`` and ``cuda``; it contains no user
text, only identifiers and float literals this backend writes (user strings stay
data, as the project's rules ask).
"""

from __future__ import annotations

import builtins
import hashlib
import linecache
import math
import threading
from typing import Any, Sequence

import numpy as np

from ...ir import BackendUnavailableError, Graph, InputError, LoweringError
from ..common import NP_DTYPES, as_input_array, bind_arguments
from .render import FLAT, SCALAR, KernelSource, render

INSTALL_HINT = "pip install 'graphc[cuda]'"

DEFAULT_CC = (9, 0)
"""Compute capability PTX is generated for when none is given (sm_90, Hopper)."""


def numba_cuda():
    """The ``numba.cuda`` module (the simulator's when ``NUMBA_ENABLE_CUDASIM=1``).

    Raises:
        BackendUnavailableError: Numba or numba-cuda is not installed.
    """
    try:
        from numba import cuda
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the CUDA target needs Numba with CUDA support ({exc}); install it with: "
            f"{INSTALL_HINT}") from None
    return cuda


def _sim_enabled() -> bool:
    """True when Numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        from numba.cuda.core import config
    except ImportError:  # pragma: no cover - older numba-cuda
        from numba.core import config
    return bool(getattr(config, "ENABLE_CUDASIM", 0))


_lock = threading.Lock()
_functions: dict[str, Any] = {}
_MAX_FUNCTIONS = 1024  # cached kernel functions (by source text); oldest dropped first


def python_function(source: KernelSource):
    """The Python function the rendered ``source`` defines (cached by its text).

    The text is compiled under a file name derived from its hash and registered with
    :mod:`linecache`, so Numba's error messages and tracebacks can show it.
    """
    with _lock:
        fn = _functions.get(source.text)
        if fn is not None:
            return fn
    cuda = numba_cuda()
    digest = hashlib.sha1(source.text.encode()).hexdigest()[:12]
    filename = f"<graphc-cuda-{digest}>"
    lines = source.text.splitlines(keepends=True)
    linecache.cache[filename] = (len(source.text), None, lines, filename)
    namespace = {"math": math, "np": np, "cuda": cuda,
                 "__name__": "graphc.backends.cuda.generated"}
    # the text is our own rendering (no user strings; see the module docstring)
    exec(builtins.compile(source.text, filename, "exec"), namespace)  # noqa: S102
    fn = namespace[source.name]
    with _lock:
        fn = _functions.setdefault(source.text, fn)
        while len(_functions) > _MAX_FUNCTIONS:
            del _functions[next(iter(_functions))]
    return fn


def signature(graph: Graph, source: KernelSource):
    """The Numba signature ``void(...)`` of a rendered kernel: inputs as the graph's
    dtype (scalar, 1-D C-contiguous or N-D strided arrays per the layout), outputs as
    1-D C-contiguous arrays of their dtype, ``n`` and ``dim*`` as int64."""
    from numba import types
    nb = {"float64": types.float64, "float32": types.float32}
    args = []
    for x, entry in zip(graph.inputs, source.layout):
        if entry == SCALAR:
            args.append(nb[x.dtype])
        elif entry == FLAT:
            args.append(types.Array(nb[x.dtype], 1, "C"))
        else:
            args.append(types.Array(nb[x.dtype], max(len(entry), 1), "A"))
    args += [types.Array(nb[o.dtype], 1, "C") for o in graph.outputs]
    args += [types.int64] * (1 + source.ndim)
    return types.void(*args)


def ptx(graph: Graph, cc: tuple[int, int] = DEFAULT_CC, *, layout: Sequence | None = None,
        ndim: int | None = None, fastmath: bool = False) -> str:
    """PTX assembly of ``graph``'s kernel, generated without a GPU.

    Uses ``numba.cuda.compile_ptx`` (NVVM through the ``nvidia-nvvm`` wheel; NVRTC is
    needed too), so it works on machines without a GPU, but not in a process that
    runs the simulator.

    Args:
        graph: a graph of scalar nodes.
        cc: target compute capability, e.g. ``(9, 0)`` for sm_90.
        layout, ndim: the input layout (default: every input a 1-D array), see
            :func:`graphc.backends.cuda.render.normalize_layout`.
        fastmath: let NVVM use fast, less accurate math (off by default).

    Returns:
        The PTX text (``.target sm_XY``, one ``.entry``). For an array graph of
        concrete shapes: the PTX modules of all its kernels, one after another, each
        after a ``// ---- graphc kernel NAME`` line (see
        :func:`~.array_jit.array_ptx` for symbolic sizes and one module each).

    Raises:
        BackendUnavailableError: Numba/numba-cuda missing, or running under the
            simulator (which cannot emit PTX).
        LoweringError: the graph cannot be lowered.
    """
    cuda = numba_cuda()
    if _sim_enabled():
        raise BackendUnavailableError("PTX cannot be generated while Numba's CUDA simulator "
                                      "is enabled (unset NUMBA_ENABLE_CUDASIM)")
    from ...ir.shapes import is_array_graph
    if is_array_graph(graph):
        # an array graph with concrete shapes: every kernel, each a separate PTX module
        # (array_jit.array_ptx gives them one by one, and takes symbol sizes)
        from .array_jit import array_ptx
        texts = array_ptx(graph, None, cc, fastmath=fastmath)
        return "\n".join(f"// ---- graphc kernel {name} (a separate PTX module)\n{text}"
                         for name, text in texts.items())
    src = render(graph, layout, ndim)
    text, _ = cuda.compile_ptx(python_function(src), signature(graph, src),
                               cc=tuple(cc), fastmath=fastmath)
    return text


def _is_device_array(value: Any) -> bool:
    return bool(getattr(value, "__cuda_ndarray__", False)) or \
        hasattr(value, "__cuda_array_interface__")


class CudaKernel:
    """A graph compiled for NVIDIA GPUs through Numba; call it like the other kernels.

    ``k(*inputs, **inputs)`` takes the graph's inputs by position or keyword. Each is a
    real number, a NumPy array (copied to the GPU) or a GPU array: a Numba device
    array, or any object with ``__cuda_array_interface__`` (CuPy arrays, PyTorch CUDA
    tensors; used in place, without a copy, through ``numba.cuda.as_cuda_array``).
    Inputs broadcast against each other like a ufunc's; inputs of size 1 are passed to
    the kernel as scalars, others are read with their own strides, so no broadcast
    copy is made. The result is arranged by ``graph.output_tree`` (e.g. ``f, (df/dx1,
    df/dx2)`` for ``value_and_grad``), each output of the broadcast shape: NumPy arrays
    (0-d for scalar inputs, as the NumPy interpreter gives) when every input was on the
    host, Numba device arrays (which export ``__cuda_array_interface__``) when any input
    was on the GPU.

    One kernel is specialised, rendered and compiled per input layout (scalar / flat /
    strided per input) and cached; Numba compiles each on first launch.

    Args:
        graph: a graph of scalar nodes.
        threads_per_block: CUDA block size (default 256; small grids use fewer).
        max_blocks: cap on the grid size; the grid-stride loop covers the rest.
        fastmath: NVVM fast math (off: results follow IEEE 754 like NumPy's).
        synchronize: wait for the kernel before returning device outputs (default
            True, so arrays handed to other libraries or streams are complete).

    Raises:
        BackendUnavailableError: Numba/numba-cuda is not installed (at construction),
            or no GPU is present (at call; the simulator counts as one).
        LoweringError: the graph cannot be lowered (at construction).
        InputError: missing, unknown, non-numeric or non-broadcastable inputs (call).
    """

    def __init__(self, graph: Graph, *, threads_per_block: int = 256,
                 max_blocks: int = 65535, fastmath: bool = False, synchronize: bool = True):
        if threads_per_block < 1 or threads_per_block > 1024:
            raise LoweringError(f"threads_per_block must be in 1..1024, got "
                                f"{threads_per_block}")
        if max_blocks < 1:
            raise LoweringError(f"max_blocks must be positive, got {max_blocks}")
        self.graph = graph
        self.threads_per_block = int(threads_per_block)
        self.max_blocks = int(max_blocks)
        self.fastmath = bool(fastmath)
        self.synchronize = bool(synchronize)
        self.source = render(graph)        # the all-flat kernel; lowering errors now
        self._cuda = numba_cuda()
        self._kernels: dict[tuple, Any] = {}
        self._available: bool | None = None

    def __repr__(self) -> str:
        return f"<graphc cuda kernel ({', '.join(self.graph.input_names)})>"

    def ptx(self, cc: tuple[int, int] = DEFAULT_CC) -> str:
        """PTX of the all-flat kernel for compute capability ``cc`` (see :func:`ptx`)."""
        return ptx(self.graph, cc, fastmath=self.fastmath)

    def dispatcher(self, layout: Sequence | None = None, ndim: int | None = None):
        """The ``numba.cuda.jit`` dispatcher for one input layout (cached)."""
        src = render(self.graph, layout, ndim)
        key = (src.layout, src.ndim)
        kern = self._kernels.get(key)
        if kern is None:
            kern = self._cuda.jit(fastmath=self.fastmath)(python_function(src))
            self._kernels[key] = kern
        return kern

    def _check_device(self) -> None:
        if self._available is None:
            self._available = bool(self._cuda.is_available())
        if not self._available:
            raise BackendUnavailableError(
                "no usable CUDA GPU (numba.cuda.is_available() is False); PTX can still "
                "be generated with .ptx(), and NUMBA_ENABLE_CUDASIM=1 runs kernels on "
                "Numba's CPU simulator")

    def __call__(self, *args, **kwargs):
        graph, cuda = self.graph, self._cuda
        bound = bind_arguments(graph, args, kwargs, "kernel")
        self._check_device()
        shapes, prepared = [], []
        any_device = False
        for x, v in zip(graph.inputs, bound):
            if _is_device_array(v):
                any_device = True
                d = v if getattr(v, "__cuda_ndarray__", False) else cuda.as_cuda_array(v)
                kind = np.dtype(d.dtype).kind
                if kind not in "biuf":
                    raise InputError(f"input {x.name!r} is a device array of dtype "
                                     f"{d.dtype}, expected real numbers ({x.dtype})")
                prepared.append(("device", d))
                shapes.append(tuple(d.shape))
            else:
                a = as_input_array(v, x.name, x.dtype)
                prepared.append(("host", a))
                shapes.append(a.shape)
        try:
            shape = np.broadcast_shapes(*shapes) if shapes else ()
        except ValueError:
            raise InputError("input shapes " + ", ".join(
                f"{x.name}{s}" for x, s in zip(graph.inputs, shapes))
                + " cannot be broadcast together") from None
        n = math.prod(shape)
        ndim = len(shape)
        layout, kargs = [], []
        for x, (where, a), s in zip(graph.inputs, prepared, shapes):
            size = math.prod(s)
            if where == "host":
                if size == 1:
                    layout.append(SCALAR)
                    kargs.append(NP_DTYPES[x.dtype](a.reshape(-1)[0]))
                elif s == shape:
                    layout.append(FLAT)
                    kargs.append(cuda.to_device(np.ascontiguousarray(a).reshape(-1)))
                else:
                    layout.append(tuple(d != 1 for d in s))
                    kargs.append(cuda.to_device(np.ascontiguousarray(a)))
            else:
                if len(s) == 0:
                    a = a.reshape(1)
                    s = (1,)
                if s == shape and a.is_c_contiguous():
                    layout.append(FLAT)
                    kargs.append(a.reshape(n) if len(s) != 1 else a)
                else:
                    layout.append(tuple(d != 1 for d in s))
                    kargs.append(a)
        outs = [cuda.device_array(n, dtype=NP_DTYPES[o.dtype]) for o in graph.outputs]
        if n > 0:
            kern = self.dispatcher(layout, ndim if any(isinstance(e, tuple)
                                                       for e in layout) else None)
            tpb = min(self.threads_per_block, -(-n // 32) * 32)
            blocks = min(-(-n // tpb), self.max_blocks)
            dims = [np.int64(d) for d in shape] if any(isinstance(e, tuple)
                                                        for e in layout) else []
            kern[blocks, tpb](*kargs, *outs, np.int64(n), *dims)
        if any_device:
            if self.synchronize:
                cuda.synchronize()
            results = [o.reshape(shape) if shape != (n,) else o for o in outs]
        else:
            results = [o.copy_to_host().reshape(shape) for o in outs]
        return graph.output_tree(results)


def compile(graph: Graph, **options: Any):  # noqa: A001
    """Compile ``graph`` to a :class:`CudaKernel` (options: see its docstring); array
    graphs (non-scalar shapes, reductions, matmul...) to a
    :class:`~.array_jit.CudaArrayKernel` (kernels per concrete shape; see its options).

    Raises:
        BackendUnavailableError: Numba or numba-cuda is not installed
            (``pip install 'graphc[cuda]'``).
        LoweringError: a node the CUDA backend cannot lower.
    """
    numba_cuda()
    from ...ir.shapes import is_array_graph
    if is_array_graph(graph):
        from .array_jit import CudaArrayKernel
        return CudaArrayKernel(graph, **options)
    return CudaKernel(graph, **options)
