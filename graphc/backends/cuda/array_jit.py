"""Run the kernels of array graphs (see :mod:`.arrays`), or emit their PTX.

Numba is imported lazily, as in :mod:`.jit`. :class:`~.jit.CudaKernel` (the one
kernel class) keeps one :class:`ArrayProgram` per binding of an array graph's
symbolic dimensions in the CUDA cache (the first call with ``n = 1000`` renders the
kernels for 1000; later calls with the same sizes reuse them; Numba compiles each
kernel on its first launch). ``CudaArrayKernel`` is kept as another name of
:class:`~.jit.CudaKernel`.

Matrix products go to cuBLAS through a library that already wraps it, when one is
importable at run time and sees a GPU: CuPy (``cupy.matmul``), else PyTorch
(``torch.matmul`` on CUDA tensors). Both read graphc's device arrays in place through
``__cuda_array_interface__``. They, like Numba, launch on the legacy default stream,
so the library call is ordered between graphc's kernels without extra
synchronisation. Without such a library (or on the simulator, or with
``matmul="tiled"``) the tiled shared-memory kernel of :mod:`.arrays` runs instead.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ...ir import BackendUnavailableError, Graph, LoweringError
from ...ir import array_ops as A
from ..common import NP_DTYPES
from ..numpy_interp import label_checker
from .arrays import (ArrayProgramSource, Home, IndexKernelStep, MapStep, MatmulStep, Options, ReduceStep,
                     render_arrays)
from .jit import (DEFAULT_CC, CudaKernel, _sim_enabled, compile, dispatcher,  # noqa: F401,A004
                  numba_cuda, python_function)

MATMUL_CHOICES = ("auto", "tiled", "cupy", "torch")


# ---------------------------------------------------------------------------------
# cuBLAS through existing libraries

class MatmulLibrary:
    """What a matrix-product library must offer (CuPy, PyTorch, or a test stand-in):
    wrap a Numba device array without a copy, apply graphc's view ops, convert a
    dtype, and compute ``out[...] = a @ b`` for 2-D arrays into the given view."""

    name = "library"

    def wrap(self, device_array):
        raise NotImplementedError

    def transpose(self, x, axes):
        raise NotImplementedError

    def reshape(self, x, shape):
        return x.reshape(shape)

    def broadcast_to(self, x, shape):
        raise NotImplementedError

    def getitem(self, x, index: tuple):
        return x[index]

    def astype(self, x, dtype: str):
        raise NotImplementedError

    def matmul(self, a, b, out) -> None:
        raise NotImplementedError


class CuPyLibrary(MatmulLibrary):
    """cuBLAS through CuPy (``cupy.matmul(a, b, out=...)``)."""

    name = "cublas (cupy)"

    def __init__(self):
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy sees no GPU")
        self.cp = cupy

    def wrap(self, device_array):
        return self.cp.asarray(device_array)          # __cuda_array_interface__: no copy

    def transpose(self, x, axes):
        return self.cp.transpose(x, axes)

    def broadcast_to(self, x, shape):
        return self.cp.broadcast_to(x, shape)

    def astype(self, x, dtype):
        return x.astype(dtype, copy=False)

    def matmul(self, a, b, out):
        self.cp.matmul(a, b, out=out)


class TorchLibrary(MatmulLibrary):
    """cuBLAS through PyTorch (``torch.matmul(a, b, out=...)`` on CUDA tensors)."""

    name = "cublas (torch)"

    def __init__(self):
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("PyTorch sees no GPU")
        self.torch = torch

    def wrap(self, device_array):
        return self.torch.as_tensor(device_array, device="cuda")   # no copy

    def transpose(self, x, axes):
        return x.permute(*axes)

    def broadcast_to(self, x, shape):
        return x.broadcast_to(shape)

    def getitem(self, x, index):
        # PyTorch has no negative slice steps: flip that axis, then slice forwards
        fixed = []
        for dim, e in enumerate(index):
            if isinstance(e, slice) and e.step is not None and e.step < 0:
                size = x.shape[dim]
                start, stop, step = e.indices(size)
                n = len(range(start, stop, step))
                x = x.flip(dim)
                s = size - 1 - start
                e = slice(s, s + (n - 1) * -step + 1, -step) if n else slice(0, 0)
            fixed.append(e)
        return x[tuple(fixed)]

    def astype(self, x, dtype):
        return x.to(getattr(self.torch, dtype))

    def matmul(self, a, b, out):
        self.torch.matmul(a, b, out=out)


_auto_lock = threading.Lock()
_auto_library: list = []


def forget_library() -> None:
    """Forget the library :func:`auto_library` chose (it decides again on next use)."""
    with _auto_lock:
        _auto_library.clear()


def auto_library() -> MatmulLibrary | None:
    """CuPy, else PyTorch, when importable and seeing a GPU; None otherwise (and on
    the simulator). Decided once per process."""
    if _sim_enabled():
        return None
    with _auto_lock:
        if not _auto_library:
            found = None
            for cls in (CuPyLibrary, TorchLibrary):
                try:
                    found = cls()
                    break
                except Exception:  # noqa: BLE001 - missing or without a GPU: next one
                    continue
            _auto_library.append(found)
        return _auto_library[0]


def resolve_library(choice) -> MatmulLibrary | None:
    """The library ``choice`` names (see :class:`~.jit.CudaKernel`), or None for the
    tiled kernel.

    Raises:
        BackendUnavailableError: ``"cupy"``/``"torch"`` asked for but not usable.
        LoweringError: an unknown choice.
    """
    if choice is None or choice == "tiled":
        return None
    if choice == "auto":
        return auto_library()
    if choice in ("cupy", "torch"):
        cls = CuPyLibrary if choice == "cupy" else TorchLibrary
        try:
            return cls()
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(
                f"matmul={choice!r}: {choice} with a usable GPU is needed ({exc})") from None
    if hasattr(choice, "matmul") and hasattr(choice, "wrap"):
        return choice
    raise LoweringError(f"matmul must be one of {', '.join(MATMUL_CHOICES)} or a "
                        f"MatmulLibrary, got {choice!r}")


def _apply_views(lib: MatmulLibrary, x, views) -> Any:
    for name, params in views:
        if name == "transpose":
            x = lib.transpose(x, params["axes"])
        elif name == "reshape":
            x = lib.reshape(x, tuple(params["shape"]))
        elif name == "broadcast_to":
            x = lib.broadcast_to(x, tuple(params["shape"]))
        elif name == "getitem":
            x = lib.getitem(x, A.parse_index(params["index"]))
        else:  # pragma: no cover - arrays.VIEW_PRIMS lists exactly these
            raise LoweringError(f"no library form of the view op {name!r}")
    return x


# ---------------------------------------------------------------------------------
# compiled programs

class ArrayProgram:
    """The kernels of one binding, ready to launch.

    Attributes:
        source: the :class:`~.arrays.ArrayProgramSource`.
        out_shapes, out_dtypes: of the graph's outputs.
    """

    def __init__(self, source: ArrayProgramSource, fastmath: bool):
        self.source = source
        self.fastmath = fastmath
        g = source.graph
        self.out_shapes = [tuple(o.shape) for o in g.outputs]
        self.out_dtypes = [np.dtype(NP_DTYPES[o.dtype]) for o in g.outputs]
        self.workspace = dict(source.plan.workspace)
        self.check_labels = label_checker(g)

    def launch(self, kernel, buffers: dict) -> None:
        if any(d == 0 for d in kernel.grid):
            return
        disp = dispatcher(kernel.source, self.fastmath)
        disp[kernel.grid, kernel.block](*(buffers[p] for p in kernel.source.params))

    def run(self, cuda, inputs: list, library: MatmulLibrary | None) -> list:
        """Launch every step; returns the output device arrays (flat)."""
        buffers: dict[str, Any] = {f"in{k}": a for k, a in enumerate(inputs)}
        outs = []
        for j, (s, dt) in enumerate(zip(self.out_shapes, self.out_dtypes)):
            o = cuda.device_array(math.prod(s), dtype=dt)
            buffers[f"out{j}"] = o
            outs.append(o)
        for name, size in self.workspace.items():
            buffers[name] = cuda.device_array(max(size, 1), dtype=np.float64 if name == "ws64"
                                              else np.float32)
        for st in self.source.plan.steps:
            if isinstance(st, MapStep):
                self.launch(st.kernel, buffers)
            elif isinstance(st, ReduceStep):
                if st.outputs:
                    for kern in st.kernels:
                        self.launch(kern, buffers)
            elif isinstance(st, IndexKernelStep):
                self.launch(st.kernel, buffers)
            elif st.m and st.n:
                if library is None or st.k == 0:  # k == 0: the kernel writes zeros
                    self.launch(st.kernel, buffers)
                else:
                    self._library_matmul(st, buffers, library)
        return outs

    @staticmethod
    def _library_matmul(st: MatmulStep, buffers: dict, lib: MatmulLibrary) -> None:
        def operand(chain):
            base, shape, views = chain
            if isinstance(base, Home):
                size = math.prod(shape)
                x = lib.reshape(lib.getitem(lib.wrap(buffers[base.buf]),
                                            (slice(base.offset, base.offset + size),)),
                                tuple(shape))
            else:
                x = lib.wrap(buffers[f"in{base[1]}"])
            return _apply_views(lib, x, views)
        dt = st.node.dtype
        a, b = operand(st.a), operand(st.b)
        if len(st.node.args[0].shape) == 1:
            a = lib.reshape(a, (1, st.k))
        if len(st.node.args[1].shape) == 1:
            b = lib.reshape(b, (st.k, 1))
        if str(getattr(a, "dtype", dt)).split(".")[-1] != dt:
            a = lib.astype(a, dt)
        if str(getattr(b, "dtype", dt)).split(".")[-1] != dt:
            b = lib.astype(b, dt)
        h = st.home
        c = lib.reshape(lib.getitem(lib.wrap(buffers[h.buf]),
                                    (slice(h.offset, h.offset + st.m * st.n),)), (st.m, st.n))
        lib.matmul(a, b, c)


def _signature(src: ArrayProgramSource, kernel):
    from numba import types
    nb = {"float64": types.float64, "float32": types.float32}
    g = src.graph
    args = []
    for p in kernel.source.params:
        if p.startswith("in"):
            x = g.inputs[int(p[2:])]
            args.append(types.Array(nb[x.dtype], max(1, len(x.shape)), "C"))
        elif p.startswith("out"):
            args.append(types.Array(nb[g.outputs[int(p[3:])].dtype], 1, "C"))
        else:
            args.append(types.Array(types.float64 if p == "ws64" else types.float32, 1, "C"))
    return types.void(*args)


def array_ptx(graph: Graph, sizes: dict | None = None, cc: tuple[int, int] = DEFAULT_CC, *,
              fastmath: bool = False, options: Options | None = None) -> dict[str, str]:
    """PTX of every kernel of an array graph for the symbol sizes ``sizes``, generated
    without a GPU (``numba.cuda.compile_ptx``; not in a simulator process). Inputs are
    typed as C-contiguous arrays of the graph's dtypes.

    Returns:
        ``{kernel name: PTX text}`` in launch order (the tiled matrix-product kernels
        included).

    Raises:
        BackendUnavailableError: Numba/numba-cuda missing, or the simulator is on.
        LoweringError / ShapeError: the graph cannot be lowered for these sizes.
    """
    cuda = numba_cuda()
    if _sim_enabled():
        raise BackendUnavailableError("PTX cannot be generated while Numba's CUDA simulator "
                                      "is enabled (unset NUMBA_ENABLE_CUDASIM)")
    src = render_arrays(graph, sizes, options)
    out = {}
    for kern in src.kernels:
        text, _ = cuda.compile_ptx(python_function(kern.source), _signature(src, kern),
                                   cc=tuple(cc), fastmath=fastmath)
        out[kern.source.name] = text
    return out


CudaArrayKernel = CudaKernel
"""Another name of :class:`~.jit.CudaKernel`, which compiles array graphs too."""

__all__ = ["ArrayProgram", "CuPyLibrary", "CudaArrayKernel", "MATMUL_CHOICES",
           "MatmulLibrary", "TorchLibrary", "array_ptx", "auto_library", "compile",
           "resolve_library"]
