"""NumPy-style functions over graph values and numbers, and the ``@gc.function`` tracer.

Each function here (``gc.sin``, ``gc.exp``, ``gc.where``, ``gc.maximum``...) is one
registered primitive of :mod:`graphc.ir.ops` with NumPy's name and calling convention:

* on graph values (inside a function traced by :func:`function`, or on nodes from
  :func:`variable`), it builds the primitive's node; Python numbers are lifted to
  constants of the node's dtype;
* on Python numbers and NumPy arrays (outside tracing), it computes at once with the
  primitive's NumPy implementation (the reference semantics every backend matches):
  arrays broadcast like a ufunc, float32 stays float32 and everything else becomes
  float64, and floating-point warnings are silenced (NaN and inf propagate as in
  IEEE 754).

So the same function body runs on numbers, is traced into a graph, and agrees with the
compiled kernels. NumPy's own functions work on graph values too (``np.sin(x)``,
``np.sum(x, axis=0)``, ``np.where(c, a, b)`` build the same nodes; one graphc has no
counterpart for raises a :class:`~graphc.GraphcError` naming what to use: see
:mod:`graphc.ir.numpy_dispatch`). :func:`function` wraps a Python function so that ``f.graph`` is its
graph and ``f(2.0, 5.0)`` evaluates that graph.

``PRIMITIVE_FUNCTIONS`` maps every registered primitive to its function here; a test
fails when a new primitive has none.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .backends.numpy_interp import evaluate as _evaluate
from .frontend import tracer as _tracer
from .ir import Graph, InputError, Node, ops
from .ir.numpy_dispatch import eager, operand
from .ir.primitive import PRIMITIVES
from .passes import grad as _grad
from .passes import hessian as _hessian
from .passes import value_and_grad as _value_and_grad

# ---------------------------------------------------------------------------------
# dispatch: nodes build graphs, numbers compute


def _dispatch(name: str, builder: Callable, *args: Any, **params: Any) -> Any:
    like = next((a for a in args if isinstance(a, Node)), None)
    if like is None:
        return eager(PRIMITIVES[name], args, params, name)
    return builder(*(operand(a, name, like) for a in args), **params)


# ---------------------------------------------------------------------------------
# the functions (explicit, so that help(), IDEs and the API reference see them)

def add(x, y):
    """``x + y`` elementwise (primitive ``add``)."""
    return _dispatch("add", ops.add, x, y)


def subtract(x, y):
    """``x - y`` elementwise (primitive ``sub``)."""
    return _dispatch("sub", ops.sub, x, y)


def multiply(x, y):
    """``x * y`` elementwise (primitive ``mul``)."""
    return _dispatch("mul", ops.mul, x, y)


def divide(x, y):
    """``x / y`` elementwise (primitive ``div``); ``x/0`` is ±inf or NaN as in IEEE 754."""
    return _dispatch("div", ops.div, x, y)


def power(x, y):
    """``x ** y`` elementwise (primitive ``pow``); NaN for ``x < 0`` and non-integer
    ``y``, as NumPy's ``power`` on floats."""
    return _dispatch("pow", ops.pow, x, y)


def negative(x):
    """``-x`` elementwise (primitive ``neg``)."""
    return _dispatch("neg", ops.neg, x)


def exp(x):
    """``e ** x`` (primitive ``exp``)."""
    return _dispatch("exp", ops.exp, x)


def log(x):
    """Natural logarithm (primitive ``log``); ``log(0) = -inf``, NaN for ``x < 0``."""
    return _dispatch("log", ops.log, x)


def sqrt(x):
    """Square root (primitive ``sqrt``); NaN for ``x < 0``; ``sqrt'(0) = +inf``."""
    return _dispatch("sqrt", ops.sqrt, x)


def sin(x):
    """Sine of ``x`` in radians (primitive ``sin``)."""
    return _dispatch("sin", ops.sin, x)


def cos(x):
    """Cosine of ``x`` in radians (primitive ``cos``)."""
    return _dispatch("cos", ops.cos, x)


def tan(x):
    """Tangent of ``x`` in radians (primitive ``tan``)."""
    return _dispatch("tan", ops.tan, x)


def arcsin(x):
    """Inverse sine (primitive ``asin``); NaN outside ``[-1, 1]``."""
    return _dispatch("asin", ops.asin, x)


def arccos(x):
    """Inverse cosine (primitive ``acos``); NaN outside ``[-1, 1]``."""
    return _dispatch("acos", ops.acos, x)


def arctan(x):
    """Inverse tangent (primitive ``atan``)."""
    return _dispatch("atan", ops.atan, x)


def sinh(x):
    """Hyperbolic sine (primitive ``sinh``)."""
    return _dispatch("sinh", ops.sinh, x)


def cosh(x):
    """Hyperbolic cosine (primitive ``cosh``)."""
    return _dispatch("cosh", ops.cosh, x)


def tanh(x):
    """Hyperbolic tangent (primitive ``tanh``)."""
    return _dispatch("tanh", ops.tanh, x)


def log1p(x):
    """``log(1 + x)``, accurate for small ``x`` (primitive ``log1p``)."""
    return _dispatch("log1p", ops.log1p, x)


def expm1(x):
    """``exp(x) - 1``, accurate for small ``x`` (primitive ``expm1``)."""
    return _dispatch("expm1", ops.expm1, x)


def abs(x):  # noqa: A001 - NumPy's name
    """Absolute value (primitive ``abs``); ``abs'(0) = 0``."""
    return _dispatch("abs", ops.abs, x)


def sign(x):
    """-1, 0 or 1 (NaN for NaN) (primitive ``sign``); derivative 0."""
    return _dispatch("sign", ops.sign, x)


def heaviside(x):
    """1 where ``x > 0`` else 0 (primitive ``heaviside``; NumPy's ``heaviside(x, 0)``);
    derivative 0."""
    return _dispatch("heaviside", ops.heaviside, x)


def sigmoid(x):
    """Logistic function ``1 / (1 + e^-x)`` (primitive ``sigmoid``; SciPy's ``expit``)."""
    return _dispatch("sigmoid", ops.sigmoid, x)


def relu(x):
    """``max(x, 0)`` (primitive ``relu``); ``relu'(0) = 0``."""
    return _dispatch("relu", ops.relu, x)


def leaky_relu(x, alpha: float = 0.01):
    """``x`` where ``x > 0`` else ``alpha * x`` (primitive ``leaky_relu``)."""
    return _dispatch("leaky_relu", ops.leaky_relu, x, alpha=float(alpha))


def elu(x, alpha: float = 1.0):
    """``x`` where ``x > 0`` else ``alpha * (e^x - 1)`` (primitive ``elu``)."""
    return _dispatch("elu", ops.elu, x, alpha=float(alpha))


def softplus(x):
    """``log(1 + e^x)`` computed without overflow (primitive ``softplus``)."""
    return _dispatch("softplus", ops.softplus, x)


def minimum(x, y):
    """The smaller of ``x`` and ``y`` elementwise, NaN propagating (primitive
    ``minimum``); at ties the derivative is split ½-½."""
    return _dispatch("minimum", ops.minimum, x, y)


def maximum(x, y):
    """The larger of ``x`` and ``y`` elementwise, NaN propagating (primitive
    ``maximum``); at ties the derivative is split ½-½."""
    return _dispatch("maximum", ops.maximum, x, y)


def less(x, y):
    """1.0 where ``x < y`` else 0.0 (primitive ``lt``); also ``x < y`` on graph values."""
    return _dispatch("lt", ops.lt, x, y)


def less_equal(x, y):
    """1.0 where ``x <= y`` else 0.0 (primitive ``le``)."""
    return _dispatch("le", ops.le, x, y)


def greater(x, y):
    """1.0 where ``x > y`` else 0.0 (primitive ``gt``); also ``x > y`` on graph values."""
    return _dispatch("gt", ops.gt, x, y)


def greater_equal(x, y):
    """1.0 where ``x >= y`` else 0.0 (primitive ``ge``)."""
    return _dispatch("ge", ops.ge, x, y)


def equal(x, y):
    """1.0 where ``x == y`` else 0.0 (primitive ``eq``). On graph values ``x == y`` is
    Python identity (nodes are dictionary keys): use this function to compare values."""
    return _dispatch("eq", ops.eq, x, y)


def not_equal(x, y):
    """1.0 where ``x != y`` else 0.0 (primitive ``ne``)."""
    return _dispatch("ne", ops.ne, x, y)


def where(condition, x, y):
    """``x`` where ``condition`` is nonzero, else ``y``, elementwise (primitive
    ``where``). The replacement for data-dependent ``if``: both branches are computed
    and the unselected one gets a zero derivative, even where its own derivative is
    infinite (``gc.where(x > 0, gc.sqrt(x), 0)`` has derivative 0 at ``x = 0``)."""
    return _dispatch("where", ops.where, condition, x, y)



def floor(x):
    """Largest integer ``<= x`` (primitive ``floor``); derivative 0."""
    return _dispatch("floor", ops.floor, x)


def ceil(x):
    """Smallest integer ``>= x`` (primitive ``ceil``); derivative 0."""
    return _dispatch("ceil", ops.ceil, x)


def round(x):  # noqa: A001 - NumPy's name
    """Nearest integer, ties to even like ``np.round(x)``/``np.rint`` (primitive
    ``round``); derivative 0. (No ``decimals`` argument.)"""
    return _dispatch("round", ops.round_, x)


def remainder(x, y):
    """``x mod y`` with the sign of ``y`` (NumPy's ``remainder``, Python's ``%``;
    primitive ``mod``); NaN for ``y = 0``. Derivatives 1 and ``-floor(x/y)``."""
    return _dispatch("mod", ops.mod, x, y)


def exp2(x):
    """``2 ** x`` (primitive ``exp2``)."""
    return _dispatch("exp2", ops.exp2, x)


def log2(x):
    """Base-2 logarithm (primitive ``log2``); NaN for ``x < 0``."""
    return _dispatch("log2", ops.log2, x)


def log10(x):
    """Base-10 logarithm (primitive ``log10``); NaN for ``x < 0``."""
    return _dispatch("log10", ops.log10, x)


def arcsinh(x):
    """Inverse hyperbolic sine (primitive ``asinh``)."""
    return _dispatch("asinh", ops.asinh, x)


def arccosh(x):
    """Inverse hyperbolic cosine (primitive ``acosh``); NaN for ``x < 1``."""
    return _dispatch("acosh", ops.acosh, x)


def arctanh(x):
    """Inverse hyperbolic tangent (primitive ``atanh``); NaN for ``|x| > 1``."""
    return _dispatch("atanh", ops.atanh, x)


def arctan2(y, x):
    """Angle of the point ``(x, y)`` in ``[-pi, pi]`` (primitive ``atan2``)."""
    return _dispatch("atan2", ops.atan2, y, x)


def hypot(x, y):
    """``sqrt(x² + y²)`` without overflow (primitive ``hypot``)."""
    return _dispatch("hypot", ops.hypot, x, y)


def erf(x):
    """Error function (primitive ``erf``; SciPy's ``special.erf``)."""
    return _dispatch("erf", ops.erf, x)


def erfc(x):
    """Complementary error function ``1 - erf(x)`` (primitive ``erfc``)."""
    return _dispatch("erfc", ops.erfc, x)


def cbrt(x):
    """Real cube root (primitive ``cbrt``); ``cbrt'(0) = +inf``."""
    return _dispatch("cbrt", ops.cbrt, x)


def clip(x, lo, hi):
    """``min(max(x, lo), hi)`` (NumPy's ``clip`` with both bounds given; primitive
    ``clip``); the derivative goes to ``x`` on ``lo <= x <= hi``."""
    return _dispatch("clip", ops.clip, x, lo, hi)


def logaddexp(x, y):
    """``log(e^x + e^y)`` without overflow (primitive ``logaddexp``)."""
    return _dispatch("logaddexp", ops.logaddexp, x, y)


def square(x):
    """``x * x`` (primitive ``square``)."""
    return _dispatch("square", ops.square, x)


def reciprocal(x):
    """``1 / x`` (primitive ``reciprocal``); NumPy's ``reciprocal`` on floats."""
    return _dispatch("reciprocal", ops.reciprocal, x)


# NumPy's and graphc's other names for the same functions
absolute = abs
asin, acos, atan = arcsin, arccos, arctan
pow = power  # noqa: A001 - NumPy 2 has np.pow
true_divide = divide
expit = sigmoid
rint = round
mod = remainder
asinh, acosh, atanh, atan2 = arcsinh, arccosh, arctanh, arctan2


def variable(name: str, dtype: str = "float64") -> Node:
    """A named scalar graph input, for building graphs by hand:
    ``x = gc.variable("x"); g = gc.Graph([x], [gc.sin(x) * x])``."""
    return ops.variable(name, dtype)


PRIMITIVE_FUNCTIONS: dict[str, Callable] = {
    "add": add, "sub": subtract, "mul": multiply, "div": divide, "pow": power,
    "neg": negative, "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos,
    "tan": tan, "asin": arcsin, "acos": arccos, "atan": arctan, "sinh": sinh,
    "cosh": cosh, "tanh": tanh, "log1p": log1p, "expm1": expm1, "abs": abs,
    "sign": sign, "heaviside": heaviside, "sigmoid": sigmoid, "relu": relu,
    "leaky_relu": leaky_relu, "elu": elu, "softplus": softplus, "minimum": minimum,
    "maximum": maximum, "lt": less, "le": less_equal, "gt": greater, "ge": greater_equal,
    "eq": equal, "ne": not_equal, "where": where,
    "floor": floor, "ceil": ceil, "round": round, "mod": remainder, "exp2": exp2,
    "log2": log2, "log10": log10, "asinh": arcsinh, "acosh": arccosh, "atanh": arctanh,
    "atan2": arctan2, "hypot": hypot, "erf": erf, "erfc": erfc, "cbrt": cbrt,
    "clip": clip, "logaddexp": logaddexp, "square": square, "reciprocal": reciprocal,
}
"""The NumPy-style function of each registered primitive (leaves excepted)."""


# ---------------------------------------------------------------------------------
# @gc.function


class Function:
    """A Python function recorded as a graph (see :func:`function`).

    Attributes:
        fn: the wrapped Python function.
        graph: its :class:`~graphc.Graph` (traced on first access, then kept).
    """

    def __init__(self, fn: Callable, inputs: Iterable[str] | None = None, *,
                 dtype: str = "float64", static: Mapping[str, Any] | None = None,
                 shapes: Mapping[str, tuple] | None = None, name: str | None = None):
        if not callable(fn):
            raise TypeError(f"gc.function needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self._inputs = None if inputs is None else list(inputs)
        self._dtype = dtype
        self._static = dict(static or {})
        self._shapes = dict(shapes or {})
        self._name = name
        self._graph: Graph | None = None
        self._kernels: dict[str, Any] = {}
        functools.update_wrapper(self, fn)

    @property
    def graph(self) -> Graph:
        """The traced graph (inputs: the parameters; outputs: the returned values)."""
        if self._graph is None:
            self._graph = _tracer.trace(self.fn, self._inputs, dtype=self._dtype,
                                        shapes=self._shapes, static=self._static,
                                        name=self._name)
        return self._graph

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """On graph values: inline the function into the graph being built. On numbers
        or arrays: evaluate the traced graph with the NumPy interpreter (the reference
        semantics; use :meth:`compile` for speed)."""
        if any(isinstance(a, Node) for a in (*args, *kwargs.values())):
            code = getattr(self.fn, "__code__", None)
            if code is not None:
                _tracer.register_code(code)
            return self.fn(*args, **{**self._static, **kwargs})
        return _evaluate(self.graph, *args, **kwargs)

    def compile(self, target: str = "llvm", **options: Any):
        """The compiled kernel of :attr:`graph` (see :func:`graphc.compile`); cached per
        target when no options are given."""
        from .api import compile as _compile
        if options:
            return _compile(self.graph, target, **options)
        k = self._kernels.get(target)
        if k is None:
            k = self._kernels[target] = _compile(self.graph, target)
        return k

    def grad(self, wrt=None) -> Graph:
        """The gradient graph (see :func:`graphc.grad`)."""
        return _grad(self.graph, wrt)

    def value_and_grad(self, wrt=None) -> Graph:
        """The value-and-gradient graph (see :func:`graphc.value_and_grad`)."""
        return _value_and_grad(self.graph, wrt)

    def hessian(self, wrt=None) -> Graph:
        """The Hessian graph (see :func:`graphc.hessian`)."""
        return _hessian(self.graph, wrt)

    def __repr__(self) -> str:
        """``<graphc.function name(x1, x2)>``: the inputs in the order calls take them."""
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        try:
            names = self._graph.input_names if self._graph is not None else \
                _tracer.signature_inputs(self.fn, self._inputs, self._static)[0]
        except Exception:  # noqa: BLE001 - a repr never raises; tracing reports it
            return f"<graphc.function {name}>"
        return f"<graphc.function {name}({', '.join(names)})>"

    def __str__(self) -> str:
        return str(self.graph)

    def _repr_latex_(self):
        return self.graph._repr_latex_() if hasattr(self.graph, "_repr_latex_") else None

    def _repr_svg_(self):
        return self.graph._repr_svg_()


def function(fn: Callable | None = None, *, inputs: Iterable[str] | None = None,
             dtype: str = "float64", static: Mapping[str, Any] | None = None,
             shapes: Mapping[str, tuple] | None = None, name: str | None = None):
    """Record a Python function into a graph: ``@gc.function`` or ``gc.function(f)``.

    Write the body with operators (``+ - * / ** -x``, ``< <= > >=``) and the NumPy-style
    functions of graphc (``gc.sin``, ``gc.exp``, ``gc.where``...)::

        @gc.function
        def f(x1, x2):
            a = gc.log(x1)
            b = x1 * x2
            return a + b - gc.sin(x2)

        f.graph                      # the Graph; nodes labelled a, b
        f(2.0, 5.0)                  # 11.652071 (evaluates the graph)
        gc.compile(gc.grad(f.graph)) # a kernel of the gradient

    Tracing happens on first use of ``f.graph`` (or of a call). Data-dependent Python
    control flow (``if x > 0:``) raises a :class:`~graphc.GraphcError` that names the
    line and suggests ``gc.where``; so does a chained comparison ``x < y < z`` (which
    Python runs as ``(x < y) and (y < z)``), suggesting ``(x < y) * (y < z)``; see :mod:`graphc.frontend.tracer` for how local
    variable names become node labels.

    Args:
        fn: the function (omit it to get a decorator taking the options below).
        inputs: parameters that become graph inputs (default: all but ``static``).
        dtype: ``"float64"`` (default) or ``"float32"``.
        static: ``{parameter: value}`` passed as plain Python values while tracing.
        shapes: ``{parameter: shape}`` of array inputs, e.g. ``{"W": ("H", "D")}``: a
            tuple of ints and/or symbol names bound when the kernel is called (as
            :func:`graphc.parse`'s shapes); other inputs are scalars. See
            docs/arrays-in-python.md.
        name: base name of unnamed outputs (default: the function's name).

    Returns:
        The :class:`Function` wrapping ``fn`` (without ``fn``: a decorator that makes
        one).
    """
    def wrap(f: Callable) -> Function:
        return Function(f, inputs, dtype=dtype, static=static, shapes=shapes, name=name)
    return wrap if fn is None else wrap(fn)


__all__ = [
    "Function", "PRIMITIVE_FUNCTIONS", "abs", "absolute", "acos", "add", "arccos", "arcsin",
    "arctan", "asin", "atan", "cos", "cosh", "divide", "elu", "equal", "exp", "expit",
    "expm1", "function", "greater", "greater_equal", "heaviside", "leaky_relu", "less",
    "less_equal", "log", "log1p", "maximum", "minimum", "multiply", "negative", "not_equal",
    "pow", "power", "relu", "sigmoid", "sign", "sin", "sinh", "softplus", "sqrt", "subtract",
    "tan", "tanh", "true_divide", "variable", "where",
    "acosh", "arccosh", "arcsinh", "arctan2", "arctanh", "asinh", "atan2", "atanh", "cbrt",
    "ceil", "clip", "erf", "erfc", "exp2", "floor", "hypot", "log10", "log2", "logaddexp",
    "mod", "reciprocal", "remainder", "rint", "round", "square",
]
