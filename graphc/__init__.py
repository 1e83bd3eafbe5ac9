"""graphc: a computational-graph compiler and visualizer.

Parse an expression, differentiate it in forward or reverse mode, compile value and
gradient to an LLVM kernel, and render the primal and adjoint traces::

    import graphc as gc
    f = gc.parse("ln(x1) + x1*x2 - sin(x2)")
    k = gc.compile(gc.value_and_grad(f))
    y, (d1, d2) = k(x1=2.0, x2=5.0)         # 11.652071, (5.5, 1.716338)
"""

from .api import TARGETS, compile, evaluate, optimize, parse, run_passes
from .transforms import (TransformedFunction, grad, hessian, jacfwd, jacobian, jacrev, jvp,
                         value_and_grad, vjp)
from .ir import (BackendUnavailableError, CacheWarning, DomainError, Graph, GraphcError,
                 InputError, LoweringError, Node, NotDifferentiableError, ParseError,
                 ShapeError, to_source, to_text)
from .backends.llvm import clear_cache, get_num_threads, set_num_threads
from .interop import dask_map, from_sympy, scipy_objective, to_latex, to_sympy
from .numpy_api import (Function, abs, absolute, acos, add, arccos, arcsin, arctan, asin, atan,
                        cos, cosh, divide, elu, equal, exp, expit, expm1, function, greater,
                        greater_equal, heaviside, leaky_relu, less, less_equal, log, log1p,
                        maximum, minimum, multiply, negative, not_equal, pow, power, relu,
                        sigmoid, sign, sin, sinh, softplus, sqrt, subtract, tan, tanh,
                        true_divide, variable, where)
from .numpy_api import (acosh, arccosh, arcsinh, arctan2, arctanh, asinh, atan2,
                        atanh, cbrt, ceil, clip, erf, erfc, exp2, floor, hypot, log2,
                        log10, logaddexp, mod, reciprocal, remainder, rint, round, square)
from .tracing import trace
from .viz import Trace
from . import numpy  # noqa: E402 - gc.numpy: NumPy's names (import graphc.numpy as gnp)
from .numpy import logsumexp, matmul, mean, softmax, sum  # noqa: A004,E402 - as jnp.sum

from ._version import __version__

__all__ = [
    "BackendUnavailableError", "CacheWarning", "DomainError", "Graph", "GraphcError",
    "InputError", "LoweringError", "Node", "NotDifferentiableError", "ParseError", "ShapeError",
    "TARGETS",
    "__version__", "compile", "evaluate", "grad", "hessian", "jacobian", "jvp", "optimize",
    "parse", "run_passes", "to_source", "to_text", "value_and_grad", "vjp",
]
__all__ += ["clear_cache", "get_num_threads", "set_num_threads"]  # LLVM kernels
__all__ += ["dask_map", "from_sympy", "scipy_objective", "to_latex", "to_sympy"]
__all__ += [  # NumPy-style functions and the @gc.function tracer (graphc.numpy_api)
    "Function", "abs", "absolute", "acos", "add", "arccos", "arcsin", "arctan", "asin", "atan",
    "cos", "cosh", "divide", "elu", "equal", "exp", "expit", "expm1", "function", "greater",
    "greater_equal", "heaviside", "leaky_relu", "less", "less_equal", "log", "log1p",
    "maximum", "minimum", "multiply", "negative", "not_equal", "pow", "power", "relu",
    "sigmoid", "sign", "sin", "sinh", "softplus", "sqrt", "subtract", "tan", "tanh",
    "true_divide", "variable", "where",
    "acosh", "arccosh", "arcsinh", "arctan2", "arctanh", "asinh", "atan2", "atanh", "cbrt",
    "ceil", "clip", "erf", "erfc", "exp2", "floor", "hypot", "log10", "log2", "logaddexp",
    "mod", "reciprocal", "remainder", "rint", "round", "square",
]
__all__ += ["Trace", "trace"]  # evaluation traces: tables and diagrams (graphc.viz)
__all__ += ["logsumexp", "matmul", "mean", "softmax"]  # arrays (graphc.numpy; gc.sum too)
__all__ += ["TransformedFunction", "jacfwd", "jacrev"]  # transforms (graphc.transforms)
