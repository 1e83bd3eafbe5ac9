"""NumPy's functions applied to graph values build graph nodes (or raise a clear error).

:class:`~graphc.ir.node.Node` implements NumPy's two dispatch protocols, ``__array_ufunc__``
(NEP 13: ``np.sin(x)``, ``np.add(2.0, x)``, ``ndarray + x``) and ``__array_function__``
(NEP 18: ``np.sum(x)``, ``np.where(c, a, b)``, ``np.concatenate([x, y])``); both land
here. A NumPy function applied to a graph value either does what NumPy would, as a graph
node, or raises a :class:`~graphc.GraphcError` naming what to use instead; it never
returns its argument unchanged (without these hooks NumPy wraps a node in a 0-d object
array, so ``np.sum(x)`` was ``x``) and never builds an object array of nodes.

**Ufuncs** map to registry primitives, derived from the registry (:func:`ufunc_primitives`):
an elementwise primitive whose NumPy implementation *is* a ufunc (``np.sin``, ``np.add``,
``np.maximum``...), or for which NumPy has a ufunc of the primitive's name, one of its
aliases, or its :data:`NUMPY_NAMES` entry (the comparisons, whose implementations cast
NumPy's boolean result to 0.0/1.0, the graph convention), with the same number of
arguments. A few ufuncs are exact compositions of primitives (:data:`COMPOSITE_UFUNCS`:
``square`` is ``x*x``, ``logical_and`` the product of two ``!= 0`` tests...). Every other
ufunc raises, with a hint where graphc has something close (``np.heaviside`` differs from
``gc.heaviside`` at NaN; ``np.fmax`` ignores NaN where ``gc.maximum`` propagates it).

**Array functions** (:data:`ARRAY_FUNCTIONS`): ``sum mean prod max/amax min/amin dot
where transpose reshape broadcast_to concatenate stack clip`` map to the array primitives
of :mod:`graphc.ir.array_ops`, ``sort argsort`` to :mod:`graphc.ir.index_ops`; ``ndim shape size`` read the static shape. Arguments graphc
does not have (``dtype=``, ``out=``, ``where=``, ``initial=``, ``order=``) raise unless
they have NumPy's default value; so does every other NumPy function.

Operands next to a graph value may be graph values, Python or NumPy real numbers, or
NumPy arrays: constants of the graph value's dtype (:func:`array_constant`; an array of
equal entries is one ``const`` node of its shape, any other is built from ``const``
pieces joined by ``concatenate``, at most :data:`MAX_ARRAY_CONSTANT` entries).
"""

from __future__ import annotations

import inspect
import keyword
from functools import lru_cache
from numbers import Real
from typing import Any, Callable

import numpy as np

from . import array_ops, ops
from .errors import GraphcError, InputError, ShapeError
from .node import Node
from .primitive import PRIMITIVES, Primitive, apply, lookup_function, on_registry_change

NUMPY_NAMES = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
               "eq": "equal", "ne": "not_equal"}
"""NumPy ufunc names of the primitives whose implementation wraps the ufunc (casting its
boolean result to the operands' float dtype) and whose name differs from NumPy's."""


@lru_cache(maxsize=None)
def _ufunc_table(n_primitives: int) -> dict:
    out: dict[np.ufunc, Primitive] = {}
    for prim in list(PRIMITIVES.values()):
        if not prim.elementwise or prim.arity == 0 or prim.param_names:
            continue
        names = [NUMPY_NAMES.get(prim.name), prim.name, *prim.aliases]
        for u in [prim.impl] + [getattr(np, n, None) for n in names if n]:
            if isinstance(u, np.ufunc) and u.nin == prim.arity and u.nout == 1:
                out.setdefault(u, prim)
    return out


def ufunc_primitives() -> dict:
    """``{ufunc: primitive}`` for every elementwise primitive (without static parameters)
    that has a NumPy ufunc of the same meaning (see the module docstring); recomputed
    when primitives are registered."""
    return _ufunc_table(len(PRIMITIVES))


on_registry_change(_ufunc_table.cache_clear)  # unregister + register keeps the count

_MISSING = object()


@lru_cache(maxsize=None)
def _numpy_spellings() -> dict:
    """``{ufunc: [names]}``: every name the ``numpy`` module binds to each ufunc
    (``np.divide`` is also ``true_divide``, ``np.absolute`` also ``abs``), the ufunc's
    own name first."""
    out: dict = {}
    for name in dir(np):
        u = getattr(np, name, None)
        if isinstance(u, np.ufunc) and name.isidentifier():
            out.setdefault(u, []).append(name)
    return {u: sorted(ns, key=lambda n: (n != u.__name__, n)) for u, ns in out.items()}


def numpy_names(prim: Primitive) -> list[str]:
    """The NumPy-style names of an elementwise primitive, the preferred one first:
    every name NumPy gives to its ufunc (its implementation when that is a ufunc of the
    primitive's arity, else the ufunc of its :data:`NUMPY_NAMES` entry or its own name),
    its :data:`NUMPY_NAMES` entry, its own name, and the aliases that NumPy does not
    bind to something else (``max``, ``min`` are NumPy's reductions, not ``maximum``,
    ``minimum``). ``graphc.numpy_api`` defines one function under all of them.

    Args:
        prim: a registered primitive (``prim.elementwise``, ``prim.arity > 0``).
    """
    u = prim.impl
    if not (isinstance(u, np.ufunc) and u.nin == prim.arity):
        u = getattr(np, NUMPY_NAMES.get(prim.name, prim.name), None)
        if not (isinstance(u, np.ufunc) and u.nin == prim.arity):
            u = None
    names = list(_numpy_spellings().get(u, ())) if u is not None else []
    names += [NUMPY_NAMES.get(prim.name), prim.name]
    names += [a for a in prim.aliases if getattr(np, a, _MISSING) in (_MISSING, u)]
    out: list[str] = []
    for n in names:
        if n and n.isidentifier() and not keyword.iskeyword(n) and n not in out:
            out.append(n)
    return out


def _nonzero(x: Node) -> Node:
    return ops.ne(x, 0.0)


COMPOSITE_UFUNCS: dict[np.ufunc, Callable[..., Node]] = {
    np.square: lambda x: ops.mul(x, x),
    np.reciprocal: lambda x: ops.div(1.0, x),
    np.positive: lambda x: x,
    np.matmul: array_ops.matmul,
    np.logical_and: lambda x, y: ops.mul(_nonzero(x), _nonzero(y)),
    np.logical_or: lambda x, y: _nonzero(ops.add(_nonzero(x), _nonzero(y))),
    np.logical_xor: lambda x, y: ops.ne(_nonzero(x), _nonzero(y)),
    np.logical_not: lambda x: ops.eq(x, 0.0),
}
"""Ufuncs without a primitive of their own that are exact compositions of primitives
(NumPy's booleans become 0.0/1.0, as for the comparisons)."""

_UFUNC_HINTS = {
    "heaviside": "use gc.heaviside(x) (NumPy's heaviside(x, 0) except that it is 0, not "
                 "NaN, at NaN), or gc.where for another value at 0",
    "fmax": "gc.maximum / np.maximum propagate NaN; graphc has no NaN-ignoring fmax",
    "fmin": "gc.minimum / np.minimum propagate NaN; graphc has no NaN-ignoring fmin",
    "float_power": "use gc.power / np.power",
    "isnan": "gc.not_equal(x, x) is 1.0 exactly where x is NaN",
    "trunc": "write gc.where(x < 0, gc.ceil(x), gc.floor(x))",
}

_REDUCE_FOR = {np.add: "np.sum", np.multiply: "np.prod", np.maximum: "np.max",
               np.minimum: "np.min"}


def _supported_ufunc_names() -> str:
    names = {u.__name__ for u in ufunc_primitives()} | {u.__name__ for u in COMPOSITE_UFUNCS}
    return ", ".join(sorted(names))


def operand(x: Any, what: str, like: Node | None) -> Node:
    """``x`` as a graph value next to ``like``: nodes pass, real numbers, NumPy arrays
    and lists/tuples of numbers become constants of ``like``'s dtype
    (:func:`array_constant`)."""
    if isinstance(x, Node):
        return x
    if isinstance(x, (bool, np.bool_)):
        x = float(x)
    if isinstance(x, (np.ndarray, list, tuple)):
        return array_constant(x, like.dtype if like is not None else "float64", what)
    if isinstance(x, (Real, np.floating, np.integer)):
        return ops.lift(float(x), like)
    raise InputError(f"{what}: cannot use {type(x).__name__} {x!r:.40} next to a graph "
                     f"value; expected graph values or real numbers")


def number_array(a: Any, what: str) -> np.ndarray:
    """``a`` (a number, bool, array or nested list) as a NumPy array of real numbers.

    Raises:
        InputError: not convertible, or not real (complex, object, strings).
    """
    if isinstance(a, (bool, np.bool_)):
        return np.asarray(float(a))
    try:
        arr = np.asarray(a)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{what}: cannot use {type(a).__name__} as numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{what}: expected real numbers or graph values, got "
                         f"{type(a).__name__} of dtype {arr.dtype}")
    return arr


def eager(prim: Primitive, args: tuple, params: dict, what: str) -> Any:
    """``prim`` computed on numbers with its NumPy implementation (the reference
    semantics): float32 when every NumPy-typed argument is float32, else float64; a
    0-d result comes back as a NumPy scalar."""
    arrays = [number_array(a, what) for a in args]
    strong = [a.dtype for a, raw in zip(arrays, args)
              if isinstance(raw, (np.ndarray, np.generic))]
    dtype = np.float32 if strong and all(d == np.float32 for d in strong) else np.float64
    arrays = [a.astype(dtype, copy=False) for a in arrays]
    with np.errstate(all="ignore"):
        out = np.asarray(prim.impl(*arrays, **params), dtype=dtype)
    return out[()] if out.ndim == 0 else out


MAX_ARRAY_CONSTANT = 4096
"""The most entries an array constant with more than one distinct value may have."""


def _balanced_concat(pieces: list[Node]) -> Node:
    while len(pieces) > 1:
        pieces = [pieces[i] if i + 1 == len(pieces) else
                  apply(array_ops.concatenate_p, pieces[i], pieces[i + 1], axis=0)
                  for i in range(0, len(pieces), 2)]
    return pieces[0]


def array_constant(value: Any, dtype: str = "float64", what: str = "an array constant") -> Node:
    """A NumPy array (or nested lists of real numbers) as a constant graph value.

    graphc has one constant primitive, ``const``, a single float of some shape (every
    entry equal). An array whose entries are all equal (``np.ones(3)``, ``np.full(...)``)
    is one such node; any other array is built exactly from them, without a new
    primitive: its entries in C order, each run of equal entries one ``const`` of shape
    ``(run,)``, joined by ``concatenate`` (a balanced tree, depth ``log2`` of the number
    of runs) and reshaped to the array's shape. Every backend and both AD modes support
    these primitives, and a constant's derivative is zero.

    Args:
        value: a NumPy array, a NumPy/Python real number or nested lists of them (any
            shape, integer, bool or float dtype). Entries are converted to ``dtype``
            (float32 rounds, as the arithmetic operators round scalar constants).
        dtype: ``"float64"`` or ``"float32"``.
        what: what the value is, for error messages.

    Returns:
        A node of ``dtype`` and the array's shape.

    Raises:
        InputError: a non-real array (complex, object, strings), or an array of more
            than :data:`MAX_ARRAY_CONSTANT` entries with more than one distinct value
            (pass it as an input of the traced function instead: constants are stored
            in the graph, entry by entry).
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{what}: cannot use {type(value).__name__} as an array constant "
                         f"({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{what}: an array constant must hold real numbers, got "
                         f"{arr.dtype} of shape {arr.shape}")
    arr = arr.astype(np.float32 if dtype == "float32" else np.float64)
    shape = tuple(int(d) for d in arr.shape)
    flat = arr.reshape(-1)
    if flat.size == 0:
        return ops.const(0.0, dtype, shape)
    def same(a, b):  # equal entries: NaN equals NaN, -0.0 differs from 0.0
        return ((a == b) & (np.signbit(a) == np.signbit(b))) | (np.isnan(a) & np.isnan(b))

    if np.all(same(flat, flat[0])):
        return ops.const(float(flat[0]), dtype, shape)
    if flat.size > MAX_ARRAY_CONSTANT:
        raise InputError(
            f"{what}: an array constant of shape {shape} ({flat.size} entries, more than "
            f"{MAX_ARRAY_CONSTANT}) is too large to store in the graph; pass the array as "
            f"an input of the traced function (declare its shape with shapes=)")
    starts = np.flatnonzero(np.concatenate([[True], ~same(flat[1:], flat[:-1])]))
    ends = np.append(starts[1:], flat.size)
    pieces = [ops.const(float(flat[a]), dtype, (int(b - a),)) for a, b in zip(starts, ends)]
    out = _balanced_concat(pieces)
    return out if len(shape) == 1 else array_ops.reshape(out, shape)


def _operands(values, what: str) -> list[Node]:
    like = next((v for v in values if isinstance(v, Node)), None)
    return [operand(v, what, like) for v in values]


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Node:
    """``Node.__array_ufunc__``: ``ufunc(*inputs)`` as a graph node (NEP 13).

    Args:
        ufunc: the NumPy (or other) ufunc called.
        method: ``"__call__"`` (others raise: ``np.add.reduce`` is ``np.sum``...).
        inputs: its operands; at least one is a :class:`Node`.
        kwargs: its keyword arguments (``out=``, ``where=``, ``dtype=``... raise).

    Raises:
        GraphcError: a ufunc graphc has no counterpart for (with a hint), a method
            other than a call, or a keyword argument.
        InputError: an operand that is not a graph value, a real number or a 0-d array.
        ShapeError: operands whose shapes do not broadcast.
    """
    name = f"np.{ufunc.__name__}"
    if method != "__call__":
        alt = _REDUCE_FOR.get(ufunc) if method == "reduce" else None
        hint = f"; use {alt}(x, axis=...), which builds graphc's reduction" if alt else \
            "; graphc has no graph form of it"
        raise GraphcError(f"{name}.{method}(...) on a graph value{hint}")
    given = {k: v for k, v in kwargs.items()
             if not (k == "out" and all(o is None for o in v))}
    if given:
        raise GraphcError(f"{name}(..., {', '.join(f'{k}=' for k in given)}) on a graph "
                          f"value: graphc's elementwise functions take no keyword "
                          f"arguments (a graph value cannot be written into)")
    prim = ufunc_primitives().get(ufunc)
    build = COMPOSITE_UFUNCS.get(ufunc) if prim is None else \
        (lambda *args: apply(prim, *args))
    if build is not None:
        try:
            return build(*_operands(inputs, name))
        except ShapeError as exc:
            raise ShapeError(f"{name}: {exc}") from None
    hint = _UFUNC_HINTS.get(ufunc.__name__)
    if hint is None:
        same = lookup_function(ufunc.__name__)
        if same is not None and same.arity == ufunc.nin:
            hint = f"graphc's {same.name!r} has this name: use gc.{same.name}"
        else:
            hint = "graphc has no primitive with its meaning"
    raise GraphcError(f"{name} has no graphc counterpart for graph values: {hint}. The "
                      f"NumPy ufuncs that build graphc nodes are: {_supported_ufunc_names()}")


# ---------------------------------------------------------------------------------
# array functions

def _reduction(builder):
    def build(a, axis=None, keepdims=np._NoValue):
        kd = False if keepdims is np._NoValue else keepdims
        return builder(operand(a, "reduction", None), axis=axis, keepdims=kd)
    return build


def _dot(a, b):
    a, b = _operands((a, b), "np.dot")
    if not a.shape or not b.shape:
        return ops.mul(a, b)
    if len(a.shape) > 2 or len(b.shape) > 2:
        raise ShapeError(f"np.dot of arrays of {len(a.shape)} and {len(b.shape)} "
                         f"dimensions: graphc's matmul takes 1-D and 2-D arrays")
    return array_ops.matmul(a, b)


def _where(condition, x=None, y=None):
    if x is None and y is None:
        raise GraphcError("np.where(condition) with one argument (the indices of nonzero "
                          "entries) has no graph form; np.where(condition, a, b) builds "
                          "graphc's where")
    if x is None or y is None:
        raise GraphcError("np.where needs either one argument or three")
    return ops.where(*_operands((condition, x, y), "np.where"))


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, min=np._NoValue,  # noqa: A002
          max=np._NoValue):  # noqa: A002
    lo = a_min if min is np._NoValue else min
    hi = a_max if max is np._NoValue else max
    out = operand(a, "np.clip", None)
    if lo is not np._NoValue and lo is not None:
        out = ops.maximum(out, operand(lo, "np.clip", out))
    if hi is not np._NoValue and hi is not None:
        out = ops.minimum(out, operand(hi, "np.clip", out))
    return out


def _sequence(arrays, what: str) -> list[Node]:
    if isinstance(arrays, Node) or not isinstance(arrays, (list, tuple)):
        raise GraphcError(f"{what} takes a list or tuple of arrays")
    return _operands(list(arrays), what)


def _size(a, axis=None):
    dims = a.shape if axis is None else \
        tuple(a.shape[i] for i in np.atleast_1d(axis).tolist())
    if not all(isinstance(d, int) for d in dims):
        raise ShapeError(f"a graph value of symbolic shape {a.shape}: its size "
                         f"is known only when the kernel is called")
    return int(np.prod(dims, dtype=np.int64))


def _spec(supported: tuple, build: Callable) -> tuple:
    return supported, build


def _sorting(which: str):
    """``np.sort`` / ``np.argsort`` on a graph value (:mod:`.index_ops`: stable, NaNs
    last, whatever ``kind`` names)."""
    def build(a, axis=-1, kind=None, order=None, stable=None):
        from . import index_ops
        what = f"np.{which}"
        index_ops.check_sort_kind(kind, what)
        if order is not None:
            raise GraphcError(f"{what}: order= sorts structured arrays by field; graph "
                              f"values have no fields")
        return getattr(index_ops, which)(operand(a, what, None), axis)
    return build


ARRAY_FUNCTIONS: dict[Callable, tuple[tuple[str, ...], Callable]] = {
    np.sum: _spec(("a", "axis", "keepdims"), _reduction(array_ops.sum)),
    np.mean: _spec(("a", "axis", "keepdims"), _reduction(array_ops.mean)),
    np.prod: _spec(("a", "axis", "keepdims"), _reduction(array_ops.prod)),
    np.max: _spec(("a", "axis", "keepdims"), _reduction(array_ops.amax)),
    np.amax: _spec(("a", "axis", "keepdims"), _reduction(array_ops.amax)),
    np.min: _spec(("a", "axis", "keepdims"), _reduction(array_ops.amin)),
    np.amin: _spec(("a", "axis", "keepdims"), _reduction(array_ops.amin)),
    np.dot: _spec(("a", "b"), _dot),
    np.where: _spec(("condition", "x", "y"), _where),
    np.transpose: _spec(("a", "axes"),
                        lambda a, axes=None: array_ops.transpose(
                            operand(a, "np.transpose", None), axes)),
    np.reshape: _spec(("a", "shape"),
                      lambda a, shape: array_ops.reshape(operand(a, "np.reshape", None),
                                                         shape)),
    np.broadcast_to: _spec(("array", "shape"),
                           lambda array, shape: array_ops.broadcast_to(
                               operand(array, "np.broadcast_to", None), shape)),
    np.concatenate: _spec(("arrays", "axis"),
                          lambda arrays, axis=0: array_ops.concatenate(
                              *_sequence(arrays, "np.concatenate"), axis=axis)),
    np.stack: _spec(("arrays", "axis"),
                    lambda arrays, axis=0: array_ops.stack(*_sequence(arrays, "np.stack"),
                                                           axis=axis)),
    np.clip: _spec(("a", "a_min", "a_max", "min", "max"), _clip),
    np.ndim: _spec(("a",), lambda a: len(a.shape)),
    np.shape: _spec(("a",), lambda a: tuple(a.shape)),
    np.size: _spec(("a", "axis"), _size),
    np.sort: _spec(("a", "axis", "kind", "order", "stable"), _sorting("sort")),
    np.argsort: _spec(("a", "axis", "kind", "order", "stable"), _sorting("argsort")),
}
"""The NumPy functions that build graphc nodes from graph values: ``{function:
(the parameters graphc supports, builder)}``. Any other parameter must keep NumPy's
default."""

_FUNCTION_HINTS = {
    "average": "np.mean", "vstack": "gnp.vstack (import graphc.numpy as gnp)",
    "hstack": "gnp.hstack (import graphc.numpy as gnp)",
    "squeeze": "gnp.squeeze (import graphc.numpy as gnp) or np.reshape",
    "expand_dims": "gnp.expand_dims (import graphc.numpy as gnp) or np.reshape",
    **{name: f"gnp.{name} (import graphc.numpy as gnp)" for name in (
        "column_stack", "moveaxis", "swapaxes", "tile", "repeat", "atleast_1d",
        "atleast_2d", "zeros_like", "ones_like", "empty_like", "full_like")},
    **{name: f"gnp.{name} (import graphc.numpy as gnp)" for name in (
        "tensordot", "einsum", "inner", "outer", "kron", "cumsum", "cumprod")},
    "nansum": "np.sum", "nanmean": "np.mean",
}


def _qualname(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    module = "np" if module == "numpy" else module.replace("numpy.", "np.")
    return f"{module}.{getattr(func, '__name__', repr(func))}"


def array_function(func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
    """``Node.__array_function__``: a NumPy function applied to graph values (NEP 18).

    Args:
        func: the NumPy function (``np.sum``...); one of :data:`ARRAY_FUNCTIONS` builds
            nodes, every other one raises.
        types, args, kwargs: as NumPy passes them.

    Returns:
        A graph node (``np.ndim``/``np.shape``/``np.size``: an int or a tuple).

    Raises:
        GraphcError: an unsupported function (naming what to use where graphc has it)
            or a parameter graphc does not take (``dtype=``, ``out=``...).
        InputError: an operand that is not a graph value, a number or a 0-d array.
        ShapeError: shapes or axes the array primitive rejects.
    """
    name = _qualname(func)
    spec = ARRAY_FUNCTIONS.get(func)
    if spec is None:
        alt = _FUNCTION_HINTS.get(getattr(func, "__name__", ""))
        hint = f"use {alt}" if alt else "graphc has no graph form of it"
        listed = ", ".join(sorted({_qualname(f) for f in ARRAY_FUNCTIONS}))
        raise GraphcError(f"{name} applied to a graph value: {hint}. The NumPy functions "
                          f"that build graphc nodes are {listed}, and the ufuncs "
                          f"{_supported_ufunc_names()}")
    supported, build = spec
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        raise GraphcError(f"{name}: {exc}") from None
    except ValueError:  # no signature: trust the builder's own
        return build(*args, **kwargs)
    params = inspect.signature(func).parameters
    chosen = {}
    for pname, value in bound.arguments.items():
        if pname in supported:
            chosen[pname] = value
            continue
        if params[pname].kind is inspect.Parameter.VAR_KEYWORD and not value:
            continue
        default = params[pname].default
        same = value is default or (isinstance(value, (str, bool)) and value == default)
        if not same and not (value is None and default in (None, np._NoValue)):
            raise GraphcError(f"{name}(..., {pname}=...) on a graph value: graphc's form "
                              f"takes only {', '.join(supported)}")
    try:
        return build(**chosen)
    except TypeError as exc:
        raise GraphcError(f"{name}: {exc}") from None
    except ShapeError as exc:
        raise ShapeError(f"{name}: {exc}") from None


__all__ = ["ARRAY_FUNCTIONS", "COMPOSITE_UFUNCS", "MAX_ARRAY_CONSTANT", "NUMPY_NAMES",
           "array_constant", "array_function",
           "array_ufunc", "numpy_names", "ufunc_primitives"]
