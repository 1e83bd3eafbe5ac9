"""The CUDA backend: graphs as Numba CUDA kernels, and their PTX.

* :mod:`.arrays` (pure text; no Numba needed) plans a graph as map kernels
  (grid-stride loops), shared-memory block reductions and matrix products (cuBLAS
  through CuPy or PyTorch, or a tiled kernel), and writes their Python source for
  ``numba.cuda.jit``. Array graphs are specialised per concrete shape.
* :mod:`.render` writes an elementwise graph at ``n`` points as the one-loop case of
  that plan: one map kernel, one thread per element, the value and every derivative
  output in one pass, ``n`` and the input layout (scalar / flat / strided) as
  run-time parameters.
* :mod:`.loops` writes a graph of scalar inputs and outputs holding loops or
  branches (``gc.scan``, ``gc.while_loop``, ``gc.cond``) as that map kernel too: each
  thread runs the loops for its point, as loops (:func:`is_per_point`); an array
  graph whose loops the plan would unroll past its limit runs as one thread's program
  (:func:`needs_serial`, :func:`render_serial`).
* :mod:`.jit` holds the one kernel class, :class:`CudaKernel` (``compile`` returns
  it for every graph), the one cache (:func:`clear_cache`), and ``ptx``, which emits
  PTX without a GPU; :mod:`.array_jit` runs array programs and emits their PTX.

Importing this package does not import Numba; ``compile`` and ``ptx`` do, and raise
:class:`graphc.BackendUnavailableError` (``pip install 'graphc[cuda]'``) without it.
"""

from .arrays import ArrayProgramSource, render_arrays
from .jit import (DEFAULT_CC, INSTALL_HINT, CudaKernel, cache_info, clear_cache,  # noqa: A004
                  compile, ptx)
from .loops import is_per_point, needs_serial, render_serial
from .render import KernelSource, missing_lowerings, render


def array_ptx(graph, sizes=None, cc=DEFAULT_CC, **options):
    """PTX of every kernel of an array graph (see :func:`.array_jit.array_ptx`)."""
    from .array_jit import array_ptx as _array_ptx
    return _array_ptx(graph, sizes, cc, **options)


def __getattr__(name):
    if name == "CudaArrayKernel":  # the old name of the array-graph kernel class
        return CudaKernel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ArrayProgramSource", "CudaKernel", "DEFAULT_CC", "INSTALL_HINT", "KernelSource",
           "array_ptx", "cache_info", "clear_cache", "compile", "is_per_point",
           "missing_lowerings", "needs_serial", "ptx", "render_serial",
           "render", "render_arrays"]
