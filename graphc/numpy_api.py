"""NumPy-style functions over graph values and numbers, and the ``@gc.function`` tracer.

**Generated from the registry.** For every elementwise primitive of
:data:`graphc.ir.primitive.PRIMITIVES` (``input``/``const`` excepted) this module defines
one function under each of its NumPy-style names
(:func:`graphc.ir.numpy_dispatch.numpy_names`: every name NumPy gives its ufunc, its
own name and its parser aliases: ``gc.subtract`` and ``gc.sub``, ``gc.arcsin`` and
``gc.asin``, ``gc.sigmoid`` and ``gc.expit``), with NumPy's calling convention:
operands positionally, static parameters (``alpha``) positionally after them or by
keyword, with the record's defaults. A primitive registered later
(:func:`graphc.ir.register`) gets its functions at once (:func:`refresh`, called on
every registry change). Every function does the same thing:

* on graph values (inside a function traced by :func:`function`, or on nodes from
  :func:`variable`), it builds the primitive's node; Python numbers and NumPy arrays
  are lifted to constants of the node's dtype;
* on Python numbers and NumPy arrays (outside tracing), it computes at once with the
  primitive's NumPy implementation (the reference semantics every backend matches):
  arrays broadcast like a ufunc, float32 stays float32 and everything else becomes
  float64, and floating-point warnings are silenced (NaN and inf propagate as in
  IEEE 754).

So the same function body runs on numbers, is traced into a graph, and agrees with the
compiled kernels. NumPy's own functions work on graph values too (``np.sin(x)``,
``np.sum(x, axis=0)``, ``np.where(c, a, b)`` build the same nodes; one graphc has no
counterpart for raises a :class:`~graphc.GraphcError` naming what to use: see
:mod:`graphc.ir.numpy_dispatch`). :func:`function` wraps a Python function so that
``f.graph`` is its graph and ``f(2.0, 5.0)`` evaluates that graph.

Written by hand: only what is not one primitive, :func:`function`, :class:`Function`
and :func:`variable`. ``PRIMITIVE_FUNCTIONS`` maps every elementwise primitive to its
function here.
"""

from __future__ import annotations

import functools
import inspect
from numbers import Real
from typing import Any, Callable, Iterable, Mapping

from .backends.numpy_interp import evaluate as _evaluate
from .frontend import tracer as _tracer
from .ir import Graph, Node, ops
from .ir.numpy_dispatch import eager, numpy_names, operand
from .ir.primitive import PRIMITIVES, Primitive, apply, on_registry_change
from .passes import grad as _grad
from .passes import hessian as _hessian
from .passes import value_and_grad as _value_and_grad

# ---------------------------------------------------------------------------------
# the functions, generated from the registry

_OPERANDS = {1: ("x",), 2: ("x", "y")}


def _signature(prim: Primitive) -> inspect.Signature:
    names = _OPERANDS.get(prim.arity, tuple(f"x{i + 1}" for i in range(prim.arity)))
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind) for n in names]
    params += [inspect.Parameter(p, kind, default=prim.param_defaults.get(
        p, inspect.Parameter.empty)) for p in prim.param_names]
    return inspect.Signature(params)


def _param_value(prim: Primitive, name: str, value: Any) -> Any:
    """A static parameter as the record takes it: a float where its default is one."""
    if (isinstance(prim.param_defaults.get(name), float) and isinstance(value, Real)
            and not isinstance(value, bool)):
        return float(value)
    return value


def _generated(prim: Primitive, name: str, others: list[str]) -> Callable:
    """The NumPy-style function ``name`` of the elementwise primitive ``prim``."""
    sig = _signature(prim)

    def fn(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{name}{sig}: {exc}") from None
        bound.apply_defaults()
        values = list(bound.arguments.values())
        operands = values[:prim.arity]
        params = {p: _param_value(prim, p, v)
                  for p, v in zip(prim.param_names, values[prim.arity:])}
        like = next((a for a in operands if isinstance(a, Node)), None)
        if like is None:
            return eager(prim, tuple(operands), params, name)
        return apply(prim, *(operand(a, name, like) for a in operands), **params)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    fn.__signature__ = sig
    also = f" Also ``{'``, ``'.join(others)}``." if others else ""
    fn.__doc__ = (f"{prim.doc or prim.name} (primitive ``{prim.name}``).{also}\n\n"
                  f"On graph values it builds the node; on numbers and NumPy arrays it "
                  f"returns the primitive's NumPy value (float32 stays float32). "
                  f"Generated from the registry record.")
    return fn


PRIMITIVE_FUNCTIONS: dict[str, Callable] = {}
"""The NumPy-style function of each registered elementwise primitive (leaves excepted),
by primitive name."""

NAMES: dict[str, str] = {}
"""``{function name: primitive name}`` for every generated function of this module."""

_BUILT: dict[str, tuple] = {}  # primitive name -> (record, names, function)


def _elementwise() -> list[Primitive]:
    return [p for p in PRIMITIVES.values()
            if p.elementwise and p.arity > 0 and p.name not in ("input", "const")]


def refresh() -> list[str]:
    """(Re)generate the functions of every registered elementwise primitive and drop
    those of primitives no longer registered; returns the names defined. Runs on import
    and after every :func:`graphc.ir.register` / :func:`graphc.ir.unregister`."""
    module = globals()
    for name in NAMES:
        module.pop(name, None)
    NAMES.clear()
    PRIMITIVE_FUNCTIONS.clear()
    built = dict(_BUILT)
    _BUILT.clear()
    for prim in _elementwise():
        names = [n for n in numpy_names(prim) if n not in NAMES and n not in _HAND]
        if not names:
            continue
        old = built.get(prim.name)
        if old is not None and old[0] is prim and old[1] == names:
            fn = old[2]  # unchanged record: the same function object (gc.sin is gc.sin)
        else:
            fn = _generated(prim, names[0], names[1:])
        _BUILT[prim.name] = (prim, names, fn)
        PRIMITIVE_FUNCTIONS[prim.name] = fn
        for n in names:
            module[n] = fn
            NAMES[n] = prim.name
    return list(NAMES)


def variable(name: str, dtype: str = "float64") -> Node:
    """A named scalar graph input, for building graphs by hand:
    ``x = gc.variable("x"); g = gc.Graph([x], [gc.sin(x) * x])``."""
    return ops.variable(name, dtype)


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


_HAND = frozenset({"Function", "NAMES", "PRIMITIVE_FUNCTIONS", "function", "refresh",
                   "variable"})
"""Names defined by hand here, which no generated function may take."""

__all__: list[str] = []
"""``Function``, ``function``, ``variable`` and every generated name (kept current by
:func:`refresh`)."""


def _refresh_all() -> None:
    refresh()
    __all__[:] = sorted({"Function", "function", "variable"} | set(NAMES))


_refresh_all()
on_registry_change(_refresh_all)
