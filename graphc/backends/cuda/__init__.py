"""The CUDA backend: graphs as Numba CUDA kernels, and their PTX.

* :mod:`.render` writes a graph as the Python source of a ``numba.cuda.jit`` kernel
  (pure text; no Numba needed): one thread per element, grid-stride loop, the value and
  every derivative output in one kernel.
* :mod:`.jit` compiles that source (``compile``), runs it on a GPU or on Numba's
  simulator, and emits PTX without a GPU (``ptx``).
* :mod:`.arrays` (pure text) and :mod:`.array_jit` do the same for array graphs:
  fused elementwise kernels, shared-memory block reductions, matrix products through
  cuBLAS (CuPy or PyTorch) or a tiled kernel, specialised per concrete shape.

Importing this package does not import Numba; ``compile`` and ``ptx`` do, and raise
:class:`graphc.BackendUnavailableError` (``pip install 'graphc[cuda]'``) without it.
"""

from .arrays import ArrayProgramSource, render_arrays
from .jit import DEFAULT_CC, INSTALL_HINT, CudaKernel, compile, ptx  # noqa: A004
from .render import KernelSource, missing_lowerings, render


def array_ptx(graph, sizes=None, cc=DEFAULT_CC, **options):
    """PTX of every kernel of an array graph (see :func:`.array_jit.array_ptx`)."""
    from .array_jit import array_ptx as _array_ptx
    return _array_ptx(graph, sizes, cc, **options)


__all__ = ["ArrayProgramSource", "CudaKernel", "DEFAULT_CC", "INSTALL_HINT", "KernelSource",
           "array_ptx", "compile", "missing_lowerings", "ptx", "render", "render_arrays"]
