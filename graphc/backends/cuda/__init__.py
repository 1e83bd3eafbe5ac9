"""The CUDA backend: graphs as Numba CUDA kernels, and their PTX.

* :mod:`.render` writes a graph as the Python source of a ``numba.cuda.jit`` kernel
  (pure text; no Numba needed): one thread per element, grid-stride loop, the value and
  every derivative output in one kernel.
* :mod:`.jit` compiles that source (``compile``), runs it on a GPU or on Numba's
  simulator, and emits PTX without a GPU (``ptx``).

Importing this package does not import Numba; ``compile`` and ``ptx`` do, and raise
:class:`graphc.BackendUnavailableError` (``pip install 'graphc[cuda]'``) without it.
"""

from .jit import DEFAULT_CC, INSTALL_HINT, CudaKernel, compile, ptx  # noqa: A004
from .render import KernelSource, missing_lowerings, render

__all__ = ["CudaKernel", "DEFAULT_CC", "INSTALL_HINT", "KernelSource", "compile",
           "missing_lowerings", "ptx", "render"]
