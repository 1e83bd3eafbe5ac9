"""graphc: a computational-graph compiler and visualizer.

Parse an expression, differentiate it in forward or reverse mode, compile value and
gradient to an LLVM kernel, and render the primal and adjoint traces::

    import graphc as gc
    f = gc.parse("ln(x1) + x1*x2 - sin(x2)")
    k = gc.compile(gc.value_and_grad(f))
    y, (d1, d2) = k(x1=2.0, x2=5.0)         # 11.652071, (5.5, 1.716338)
"""

from .api import TARGETS, clear_cache, compile, evaluate, optimize, parse, run_passes
from .transforms import (TransformedFunction, grad, hessian, jacfwd, jacobian, jacrev, jvp,
                         value_and_grad, vjp)
from .ir.custom import custom_jvp, custom_vjp
from .jacobians import jacobian_sparsity
from .transforms import sparse_hessian, sparse_jacobian
from .ir import (BackendUnavailableError, CacheWarning, DomainError, Graph, GraphcError,
                 InputError, LoweringError, Node, NotDifferentiableError, ParseError,
                 ShapeError, to_source, to_text)
from .backends.llvm import get_num_threads, set_dynamic_threads, set_num_threads
from .interop import dask_map, from_sympy, scipy_objective, to_latex, to_sympy
from . import numpy_api as _numpy_api
from .numpy_api import *  # noqa: F401,F403 - Function, function, variable and the
# NumPy-style function of every elementwise primitive, generated from the registry
from .tracing import trace
from .viz import Trace
from . import numpy  # noqa: E402 - gc.numpy: NumPy's names (import graphc.numpy as gnp)
from .numpy import logsumexp, matmul, mean, softmax, sum  # noqa: A004,E402 - as jnp.sum
from . import nn  # noqa: E402 - gc.nn: convolution and pooling, torch.nn.functional's names
from .nn import (avg_pool1d, avg_pool2d, avg_pool3d, conv1d, conv2d, conv3d,  # noqa: E402
                 max_pool1d, max_pool2d, max_pool3d)
from .frontend.control import cond, fori_loop, scan, switch, while_loop  # noqa: E402
from .vmap import vmap  # noqa: E402 - vectorizing map (graphc.vmap)
from .passes import loops as _loops  # noqa: E402,F401 - registers the loop derivative rules

from ._version import __version__

__all__ = [
    "BackendUnavailableError", "CacheWarning", "DomainError", "Graph", "GraphcError",
    "InputError", "LoweringError", "Node", "NotDifferentiableError", "ParseError", "ShapeError",
    "TARGETS",
    "__version__", "compile", "evaluate", "grad", "hessian", "jacobian", "jvp", "optimize",
    "parse", "run_passes", "to_source", "to_text", "value_and_grad", "vjp",
]
__all__ += ["clear_cache", "get_num_threads", "set_dynamic_threads", "set_num_threads"]  # kernels
__all__ += ["dask_map", "from_sympy", "scipy_objective", "to_latex", "to_sympy"]
__all__ += _numpy_api.__all__  # NumPy-style functions, @gc.function (graphc.numpy_api)
__all__ += ["Trace", "trace"]  # evaluation traces: tables and diagrams (graphc.viz)
__all__ += ["logsumexp", "matmul", "mean", "softmax"]  # arrays (graphc.numpy; gc.sum too)
__all__ += ["TransformedFunction", "jacfwd", "jacrev"]  # transforms (graphc.transforms)
__all__ += ["custom_jvp", "custom_vjp"]  # custom derivative rules (graphc.ir.custom)
__all__ += ["jacobian_sparsity", "sparse_hessian", "sparse_jacobian"]  # graphc.jacobians
__all__ += ["avg_pool1d", "avg_pool2d", "avg_pool3d", "conv1d", "conv2d", "conv3d",
            "max_pool1d", "max_pool2d", "max_pool3d"]  # convolution and pooling (graphc.nn)
__all__ += ["cond", "fori_loop", "scan", "switch", "while_loop"]  # control flow (docs/loops.md)
__all__ += ["vmap"]  # vectorizing map, as jax.vmap (graphc.vmap)


def __getattr__(name: str):
    """``gc.<name>`` of a primitive registered after import (:func:`graphc.ir.register`):
    its NumPy-style function from :mod:`graphc.numpy_api`."""
    if name in _numpy_api.NAMES:
        return getattr(_numpy_api, name)
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")
