"""NumPy's names for graphc's primitives: ``import graphc.numpy as gnp``.

Like ``jax.numpy``, this module mirrors NumPy's function names, so NumPy-style code can
be traced by switching ``np`` to ``gnp``::

    import graphc as gc
    import graphc.numpy as gnp

    @gc.function(shapes={"W": ("H", "D"), "x": ("D",)})
    def f(W, x):
        return gnp.sum(gnp.tanh(W @ x) ** 2)

Every function works on both kinds of values:

* **graph values** (:class:`~graphc.Node`, e.g. the parameters of a traced function):
  it builds the graph node of the primitive (NumPy arrays and numbers among the
  arguments become constants of the graph value's dtype, see
  :func:`graphc.ir.numpy_dispatch.array_constant`);
* **numbers and NumPy arrays**: it computes the value with the primitive's NumPy
  implementation (the reference semantics of every backend), so ``gnp.sigmoid(0.0)`` is
  ``0.5`` and ``gnp.softmax(np.ones(4))`` an array.

**Generated from the registry.** For every primitive of
:data:`graphc.ir.primitive.PRIMITIVES` (but ``input``/``const``) the module defines the
NumPy ufunc name of its implementation (``subtract``, ``absolute``, ``arcsin``), its
comparison name (``less``... :data:`~graphc.ir.numpy_dispatch.NUMPY_NAMES`), its own name
and its aliases; a primitive registered later is picked up by :func:`refresh`. A
generated function takes the primitive's operands positionally and its static
parameters (``axis=``, ``alpha=``...) by keyword. The NumPy functions whose signature
differs from one primitive are written out: ``sum mean prod max/amax min/amin`` (the
reductions, not the elementwise ``maximum``/``minimum``), ``matmul dot transpose
reshape broadcast_to concatenate stack where clip softmax log_softmax logsumexp
size ndim shape`` and ``array``/``asarray`` (an array constant).
:data:`NAMES` maps every exported name to the primitive it builds.
"""

from __future__ import annotations

import builtins
import keyword
from typing import Any, Callable

import numpy as np

from .backends.numpy_interp import evaluate_all
from .ir import Graph, GraphcError, Node, ops
from .ir import array_ops
from .ir.numpy_dispatch import NUMPY_NAMES, array_constant, operand
from .ir.primitive import PRIMITIVES, Primitive, apply

_py_max, _py_min, _py_sum, _py_abs = builtins.max, builtins.min, builtins.sum, builtins.abs

NAMES: dict[str, str] = {}
"""``{exported name: primitive name}`` for every function of this module that builds one
primitive (generated and written out)."""


def _is_node(a: Any) -> bool:
    return isinstance(a, Node)


def _like(args) -> Node | None:
    return next((a for a in args if isinstance(a, Node)), None)


def _eager(build: Callable[..., Node], args: tuple, what: str) -> Any:
    """Compute ``build(*args)`` on numbers: the graph of ``build`` applied to input nodes
    of the arguments' shapes, evaluated by the NumPy interpreter (primitive impls)."""
    arrays = []
    for a in args:
        arr = np.asarray(float(a) if isinstance(a, (bool, np.bool_)) else a)
        if arr.dtype.kind not in "biuf":
            raise GraphcError(f"{what}: expected real numbers, arrays or graph values, "
                              f"got {type(a).__name__} of dtype {arr.dtype}")
        arrays.append(arr)
    strong = [a.dtype for a, raw in zip(arrays, args) if isinstance(raw, (np.ndarray, np.generic))]
    dtype = "float32" if strong and all(d == np.float32 for d in strong) else "float64"
    nodes = [ops.variable(f"_gnp{i}", dtype, tuple(a.shape)) for i, a in enumerate(arrays)]
    out = build(*nodes)
    graph = Graph(nodes, [out])
    values = evaluate_all(graph, {n.name: a.astype(dtype) for n, a in zip(nodes, arrays)})
    v = values[out]
    return v[()] if v.ndim == 0 else v


def _call(what: str, build: Callable[..., Node], *args: Any) -> Any:
    """``build`` on graph values (arguments lifted next to the first node), or its
    value on numbers (:func:`_eager`)."""
    like = _like(args)
    if like is None:
        return _eager(build, args, what)
    return build(*[operand(a, what, like) for a in args])


def _generated(prim: Primitive, name: str) -> Callable:
    params = tuple(prim.param_names)

    def fn(*args, **kwargs):
        if len(args) != prim.arity:
            raise GraphcError(f"gnp.{name} takes {prim.arity} positional argument(s), "
                              f"got {len(args)}")
        unknown = set(kwargs) - set(params)
        if unknown:
            raise GraphcError(f"gnp.{name} has no parameter(s) {sorted(unknown)}; its "
                              f"parameters are {', '.join(params) or 'none'}")
        return _call(f"gnp.{name}", lambda *nodes: apply(prim, *nodes, **kwargs), *args)

    fn.__name__ = fn.__qualname__ = name
    kw = "".join(f", {p}=..." for p in params)
    operands = ", ".join(f"x{i + 1}" for i in range(prim.arity)) if prim.arity > 1 else "x"
    fn.__doc__ = (f"``{name}({operands}{kw})``: the graphc primitive ``{prim.name}`` "
                  f"({prim.doc or 'see graphc.ir.primitive'}).\n\n"
                  f"On graph values it builds the node; on numbers and arrays it returns "
                  f"the primitive's NumPy value. Generated from the registry.")
    return fn


# ---------------------------------------------------------------------------------
# written out: NumPy signatures that differ from one primitive

def _reduction(builder: Callable, name: str, prim: str) -> Callable:
    def fn(a, axis=None, keepdims=False):
        return _call(f"gnp.{name}", lambda x: builder(x, axis=axis, keepdims=keepdims), a)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``{name}(a, axis=None, keepdims=False)`` as ``np.{name}``: the "
                  f"primitive ``{prim}`` over ``axis`` (an int, a tuple, or None for all "
                  f"axes); a graph node on graph values, else its value.")
    NAMES[name] = prim
    return fn


sum = _reduction(array_ops.sum, "sum", "sum")  # noqa: A001
mean = _reduction(array_ops.mean, "mean", "mean")
prod = _reduction(array_ops.prod, "prod", "prod")
amax = _reduction(array_ops.amax, "amax", "reduce_max")
max = _reduction(array_ops.amax, "max", "reduce_max")  # noqa: A001
amin = _reduction(array_ops.amin, "amin", "reduce_min")
min = _reduction(array_ops.amin, "min", "reduce_min")  # noqa: A001
logsumexp = _reduction(array_ops.logsumexp, "logsumexp", "logsumexp")


def matmul(a, b):
    """``a @ b`` for 1-D and 2-D arrays, as ``np.matmul`` (primitive ``matmul``)."""
    return _call("gnp.matmul", array_ops.matmul, a, b)


def dot(a, b):
    """``np.dot`` for scalars (a product), 1-D and 2-D arrays (``matmul``).

    Raises:
        ShapeError: arrays of more than 2 dimensions.
    """
    def build(x, y):
        if not x.shape or not y.shape:
            return ops.mul(x, y)
        return array_ops.matmul(x, y)
    return _call("gnp.dot", build, a, b)


def transpose(a, axes=None):
    """``np.transpose(a, axes)``: axes permuted (reversed by default)."""
    return _call("gnp.transpose", lambda x: array_ops.transpose(x, axes), a)


def reshape(a, shape):
    """``np.reshape(a, shape)``: the same entries (C order) in ``shape`` (one -1 allowed)."""
    return _call("gnp.reshape", lambda x: array_ops.reshape(x, shape), a)


def broadcast_to(a, shape):
    """``np.broadcast_to(a, shape)`` (NumPy's broadcasting rules)."""
    return _call("gnp.broadcast_to", lambda x: array_ops.broadcast_to(x, shape), a)


def concatenate(arrays, axis=0):
    """``np.concatenate(arrays, axis)``: join a list/tuple of arrays along ``axis``."""
    if isinstance(arrays, Node) or not isinstance(arrays, (list, tuple)):
        raise GraphcError("gnp.concatenate takes a list or tuple of arrays")
    return _call("gnp.concatenate",
                 lambda *xs: array_ops.concatenate(*xs, axis=axis), *arrays)


def stack(arrays, axis=0):
    """``np.stack(arrays, axis)``: join arrays of one shape along a new ``axis``."""
    if isinstance(arrays, Node) or not isinstance(arrays, (list, tuple)):
        raise GraphcError("gnp.stack takes a list or tuple of arrays")
    return _call("gnp.stack", lambda *xs: array_ops.stack(*xs, axis=axis), *arrays)


def where(condition, x, y):
    """``np.where(condition, x, y)`` (condition nonzero selects ``x``); the one-argument
    form has no graph form."""
    return _call("gnp.where", ops.where, condition, x, y)


def clip(a, a_min, a_max):
    """``np.clip(a, a_min, a_max)``: the ``clip`` primitive where it is registered and
    both bounds are given, else ``minimum(maximum(a, a_min), a_max)`` (a bound may be
    None)."""
    def build(x, *bounds):
        prim = PRIMITIVES.get("clip")
        if prim is not None and len(bounds) == 2:
            return apply(prim, x, *bounds)
        it = iter(bounds)
        if a_min is not None:
            x = ops.maximum(x, next(it))
        if a_max is not None:
            x = ops.minimum(x, next(it))
        return x
    return _call("gnp.clip", build, a, *[b for b in (a_min, a_max) if b is not None])


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)`` computed stably (``scipy.special.softmax``)."""
    return _call("gnp.softmax", lambda n: array_ops.softmax(n, axis=axis), x)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis, keepdims=True)`` (``scipy.special.log_softmax``)."""
    return _call("gnp.log_softmax", lambda n: array_ops.log_softmax(n, axis=axis), x)


def ndim(a) -> int:
    """The number of dimensions (``np.ndim``)."""
    return len(a.shape) if isinstance(a, Node) else np.ndim(a)


def shape(a) -> tuple:
    """The shape (``np.shape``; symbols for symbolic dimensions of graph values)."""
    return tuple(a.shape) if isinstance(a, Node) else np.shape(a)


def size(a, axis=None):
    """The number of entries over ``axis``: an int for numbers and concrete shapes, a
    scalar graph value (primitive ``size``) for a symbolic shape."""
    if not isinstance(a, Node):
        return np.size(a, axis)
    dims = a.shape if axis is None else tuple(a.shape[i] for i in np.atleast_1d(axis))
    if _py_sum(1 for d in dims if not isinstance(d, int)) == 0:
        return int(np.prod(dims, dtype=np.int64))
    return array_ops.size(a, axis)


def array(value, dtype: str = "float64"):
    """A NumPy array (or nested lists of numbers) as a graph constant of ``dtype`` (see
    :func:`graphc.ir.numpy_dispatch.array_constant`)."""
    return array_constant(value, dtype, "gnp.array")


asarray = array

_WRITTEN = {"matmul": "matmul", "dot": "matmul", "transpose": "transpose",
            "reshape": "reshape", "broadcast_to": "broadcast_to",
            "concatenate": "concatenate", "stack": "concatenate", "where": "where",
            "softmax": "softmax", "log_softmax": "log_softmax", "size": "size"}
NAMES.update(_WRITTEN)
_FIXED = set(NAMES) | {"clip", "ndim", "shape", "array", "asarray"}
_SKIP = {"input", "const"}


def _numpy_names(prim: Primitive) -> list[str]:
    impl = prim.impl
    names = [impl.__name__] if isinstance(impl, np.ufunc) else []
    names += [NUMPY_NAMES.get(prim.name), prim.name, *prim.aliases]
    return [n for n in names if n and n.isidentifier() and not keyword.iskeyword(n)]


def refresh() -> list[str]:
    """(Re)generate a function for every NumPy name of every registered primitive not
    written out here; returns the names defined. Called on import."""
    defined = []
    for prim in list(PRIMITIVES.values()):
        if prim.name in _SKIP:
            continue
        for name in _numpy_names(prim):
            if name in _FIXED or name in defined:
                continue
            if NAMES.get(name, prim.name) != prim.name:
                continue
            globals()[name] = _generated(prim, name)
            NAMES[name] = prim.name
            defined.append(name)
    return defined


refresh()

__all__ = sorted(set(NAMES) | {"NAMES", "array", "asarray", "clip", "ndim", "refresh",
                               "shape"})
