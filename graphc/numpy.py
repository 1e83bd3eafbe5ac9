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
size ndim shape argsort`` and ``array``/``asarray`` (an array constant).
:data:`NAMES` maps every exported name to the primitive it builds.

**Composites.** NumPy functions with no primitive of their own are built from several
(:data:`COMPOSITES` maps each to the NumPy function it mirrors): ``var std`` (two-pass),
``cumsum cumprod`` (Hillis-Steele doubling, O(n log n), products only), ``einsum
tensordot inner outer kron`` and N-D ``matmul``/``dot`` (``transpose``/``reshape`` to one
2-D ``matmul``, or a broadcast product and ``sum`` for batch labels), ``diagonal trace
diag tril triu flip roll split array_split`` (slices, ``unslice``, ``where``,
``concatenate``), ``sort`` (``argsort`` and ``gather``), the constants ``arange
linspace zeros ones empty full eye identity`` and ``zeros_like ones_like empty_like
full_like`` (``const``, ``broadcast_to``, ``unslice``), and the shape functions
``expand_dims squeeze atleast_1d atleast_2d`` (one ``reshape``), ``moveaxis swapaxes``
(one ``transpose``), ``hstack vstack column_stack`` (``concatenate``) and ``tile
repeat`` (``reshape``, ``broadcast_to``). So every backend and both AD modes run them
with no backend code. See docs/arrays-in-python.md.
"""

from __future__ import annotations

import builtins
import keyword
from typing import Any, Callable

import numpy as np

from .backends.numpy_interp import evaluate_all
from .ir import Graph, GraphcError, Node, ShapeError, ops
from .ir import array_ops
from .ir.numpy_dispatch import NUMPY_NAMES, array_constant, operand
from .ir.primitive import (PRIMITIVES, Primitive, apply, broadcast_shapes,
                            on_registry_change)
from .ir.shapes import check_dim

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
    of the arguments' shapes, evaluated by the NumPy interpreter (primitive impls); a
    ``build`` returning a list of nodes gives a list of values."""
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
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not outs:
        return []
    graph = Graph(nodes, outs)
    values = evaluate_all(graph, {n.name: a.astype(dtype) for n, a in zip(nodes, arrays)})
    vs = [values[o] for o in outs]
    vs = [v[()] if v.ndim == 0 else v for v in vs]
    return vs if isinstance(out, (list, tuple)) else vs[0]


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


# ---------------------------------------------------------------------------------
# composites: NumPy functions built from several primitives (issue 13 part 7)
#
# Every function below builds its result from existing primitives (transpose,
# reshape, broadcast_to, getitem/unslice, concatenate, mul/add, sum, matmul, where,
# const), so the NumPy interpreter, the LLVM and CUDA backends and both AD modes run
# it with no backend code. Shapes must be static where the result's structure depends
# on a size (scan steps, split points, diagonals): a symbolic dimension there is a
# ShapeError naming the function, the axis and what to do.

_slice = builtins.slice
_py_range, _py_len, _py_int, _py_float = builtins.range, builtins.len, builtins.int, builtins.float

COMPOSITES: dict[str, str] = {}
"""``{exported name: the NumPy function it mirrors}`` for the functions of this module
built from existing primitives rather than being one (see :data:`NAMES` for those):
compositions of several, constants, and views (``expand_dims`` is a ``reshape``)."""


def _composite(numpy_name: str):
    def deco(fn):
        COMPOSITES[fn.__name__] = numpy_name
        return fn
    return deco


def _nd(x: Node) -> int:
    return _py_len(x.shape)


def _concrete(d, what: str, axis: int | None = None) -> int:
    """``d`` as an int, or a ShapeError: the result's structure depends on it."""
    if isinstance(d, (int, np.integer)):
        return _py_int(d)
    where_ = "" if axis is None else f" (axis {axis})"
    raise ShapeError(f"{what}: the symbolic dimension {d}{where_} must be a concrete size "
                     f"here (the result's structure depends on it); declare it with an "
                     f"int in shapes=")


def _axis1(axis, ndim: int, what: str) -> int:
    """One axis in ``[-ndim, ndim)`` as a non-negative int (ShapeError otherwise)."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ShapeError(f"{what}: axis must be an integer, got {axis!r}")
    a = _py_int(axis)
    if not -ndim <= a < ndim:
        raise ShapeError(f"{what}: axis {a} is out of range for an array of {ndim} "
                         f"dimension(s)")
    return a % ndim


def _integer(v, what: str, name: str) -> int:
    """``v`` as an int (Python or NumPy integer, not bool); GraphcError otherwise."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise GraphcError(f"{what}: {name} must be an integer, got {v!r}")
    return _py_int(v)


def _count(v, what: str, name: str, least: int = 0) -> int:
    """:func:`_integer` of at least ``least``."""
    n = _integer(v, what, name)
    if n < least:
        raise GraphcError(f"{what}: {name} must be at least {least}, got {n}")
    return n


def _no_extra(what: str, **given) -> None:
    bad = [k for k, v in given.items() if v is not None]
    if bad:
        raise GraphcError(f"{what}: graphc does not take {', '.join(bad)}= (graph values "
                          f"keep their dtype; results are new values)")


def _take(x: Node, axis: int, start, stop, step=None) -> Node:
    """``x`` sliced along ``axis`` (Python's slice semantics); ``x`` itself for a slice
    that keeps the whole axis."""
    s = _slice(start, stop, step)
    n = x.shape[axis]
    if isinstance(n, int) and (step in (None, 1)) and s.indices(n) == (0, n, 1):
        return x
    if s.start in (None, 0) and s.stop is None and step in (None, 1):
        return x
    return array_ops.getitem(x, (_slice(None),) * axis + (s,))


def _transpose(x: Node, perm) -> Node:
    perm = tuple(perm)
    return x if perm == tuple(_py_range(_nd(x))) else array_ops.transpose(x, perm)


def _reshape(x: Node, shape) -> Node:
    shape = tuple(shape)
    return x if tuple(x.shape) == shape else array_ops.reshape(x, shape)


def _flatten(x: Node, what: str) -> Node:
    if _nd(x) == 1:
        return x
    n = 1
    for i, d in enumerate(x.shape):
        n *= _concrete(d, what, i)
    return _reshape(x, (n,))


def _iota(n: int, dtype: str) -> Node:
    """``[0, 1, ..., n-1]`` as a constant graph value, built by doubling (``log2 n``
    concatenations of exact integer offsets: exact below 2**24 in float32, 2**53 in
    float64)."""
    if n == 0:
        return ops.const(0.0, dtype, (0,))
    v, m = ops.const(0.0, dtype, (1,)), 1
    while m < n:
        k = _py_min(m, n - m)
        part = v if k == m else array_ops.getitem(v, _slice(0, k))
        v = array_ops.concatenate(v, ops.add(part, ops.const(_py_float(m), dtype)), axis=0)
        m += k
    return v


# --- variance and standard deviation ----------------------------------------------

def _var_build(x: Node, axis, ddof, keepdims: bool) -> Node:
    axes = array_ops.normalize_axes(axis, x.shape)
    d = ops.sub(x, array_ops.mean(x, axes, keepdims=True))
    ss = array_ops.sum(ops.mul(d, d), axes, keepdims)
    dims = [x.shape[a] for a in axes]
    if all(isinstance(k, int) for k in dims):
        n = _py_int(np.prod(dims, dtype=np.int64))
        return ops.div(ss, ops.const(_py_max(n - ddof, 0), x.dtype))
    dof = ops.maximum(ops.sub(array_ops.size(x, axes), ops.const(ddof, x.dtype)), 0.0)
    return ops.div(ss, dof)


def _ddof(ddof, what: str) -> float:
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, float, np.integer,
                                                                   np.floating)):
        raise GraphcError(f"{what}: ddof must be a number, got {ddof!r}")
    return _py_float(ddof)


@_composite("numpy.var")
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.var(a, axis, ddof=ddof, keepdims=keepdims)``: the mean squared deviation from
    the mean, ``sum((a - mean(a))**2, axis) / (N - ddof)`` (two passes, as NumPy), with
    ``N`` the number of entries over ``axis``; ``N - ddof <= 0`` divides by 0 (inf or
    NaN, as NumPy, without its warning).

    Args:
        a: graph value, number or array of any shape (float64 or float32).
        axis: int, tuple of ints or None (all axes).
        ddof: delta degrees of freedom (a number; 1 gives the unbiased estimate).
        keepdims: keep the reduced axes with length 1.
        dtype, out: NumPy's; must be None.

    Returns:
        The variance: ``a``'s shape without (or with length 1 on) the ``axis`` axes.

    Raises:
        ShapeError: a bad axis. GraphcError: ``dtype``/``out`` given, ``ddof`` not a
            number.
    """
    _no_extra("gnp.var", dtype=dtype, out=out)
    dd = _ddof(ddof, "gnp.var")
    return _call("gnp.var", lambda x: _var_build(x, axis, dd, keepdims), a)


@_composite("numpy.std")
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.std``: ``sqrt(var(a, axis, ddof=ddof, keepdims=keepdims))``, see :func:`var`
    (arguments and shapes are the same). Its derivative is infinite where the variance
    is 0 (a constant slice), as for ``sqrt`` at 0 (PyTorch gives NaN or inf there too).

    Raises:
        ShapeError: a bad axis. GraphcError: ``dtype``/``out`` given, ``ddof`` not a
            number.
    """
    _no_extra("gnp.std", dtype=dtype, out=out)
    dd = _ddof(ddof, "gnp.std")
    return _call("gnp.std", lambda x: ops.sqrt(_var_build(x, axis, dd, keepdims)), a)


# --- cumulative sums and products -------------------------------------------------

def _scan(x: Node, axis, combine: Callable, identity: float, what: str) -> Node:
    """Inclusive scan along ``axis``, left to right as NumPy's loop (so with NumPy's
    rounding): one :func:`graphc.scan` whose carry is the running value over the other
    axes (``x`` moved so that ``axis`` comes first, and back), starting from the first
    entry (``identity`` is not combined in: ``cumsum([-0.0])`` stays ``-0.0``). A loop
    of ``n - 1`` steps, each combining whole slices: ``n - 1`` operations per output
    slice, where Hillis & Steele's doubling (used before) made ``ceil(log2 n)`` passes
    over the array (GradBench's llsq gradient at n=4096, m=128: 4.05 -> 2.35 ms)."""
    from .frontend.control import scan
    if axis is None:
        x = _flatten(_reshape(x, (1,)) if _nd(x) == 0 else x, what)
        axis = 0
    else:
        if _nd(x) == 0:
            raise ShapeError(f"{what}: axis {axis} is out of range for a 0-d array")
        axis = _axis1(axis, _nd(x), what)
    n = _concrete(x.shape[axis], what, axis)
    if n <= 1:
        return x
    if not all(isinstance(d, int) for d in x.shape):
        return _doubling_scan(x, axis, n, combine, identity)
    nd = _nd(x)
    perm = (axis,) + tuple(i for i in range(nd) if i != axis)
    front = x if axis == 0 else array_ops.transpose(x, perm)
    first = _take(front, 0, 0, 1)

    def step(carry, xj):
        y = combine(carry, xj)
        return y, y

    _, rest = scan(step, array_ops.reshape(first, first.shape[1:]),
                   xs=_take(front, 0, 1, n))
    out = array_ops.concatenate(first, rest, axis=0)
    if axis == 0:
        return out
    return array_ops.transpose(out, tuple(int(i) for i in np.argsort(perm)))


def _doubling_scan(x: Node, axis: int, n: int, combine: Callable,
                   identity: float) -> Node:
    """Inclusive scan by Hillis & Steele's doubling ("Data parallel algorithms", CACM
    29(12), 1986) for arrays with symbolic sizes on other axes (loops need concrete
    shapes): ``ceil(log2 n)`` steps ``y = combine(y, shift(y, s))``, the shift padded
    with ``identity``; the rounding differs from NumPy's loop by a few ulps."""
    s = 1
    while s < n:
        pad_shape = x.shape[:axis] + (s,) + x.shape[axis + 1:]
        head = ops.const(identity, x.dtype, pad_shape)
        shifted = array_ops.concatenate(head, _take(x, axis, 0, n - s), axis=axis)
        x = combine(x, shifted)
        s *= 2
    return x


@_composite("numpy.cumsum")
def cumsum(a, axis=None, dtype=None, out=None):
    """``np.cumsum(a, axis)``: running sums along ``axis`` (of the flattened array when
    ``axis`` is None), added left to right as NumPy adds them (one ``scan`` along the
    axis, so the same rounding).

    Args:
        a: graph value, number or array; ``axis``: an int or None. ``dtype``/``out``:
            must be None.

    Returns:
        ``a``'s shape (flattened: ``(a.size,)`` for ``axis=None``).

    Raises:
        ShapeError: a bad axis, or a symbolic length along the scanned axis.
    """
    _no_extra("gnp.cumsum", dtype=dtype, out=out)
    return _call("gnp.cumsum", lambda x: _scan(x, axis, ops.add, 0.0, "gnp.cumsum"), a)


@_composite("numpy.cumprod")
def cumprod(a, axis=None, dtype=None, out=None):
    """``np.cumprod(a, axis)``: running products along ``axis``, as :func:`cumsum` with
    products. Built only from multiplications (its derivative is the scan's, exact
    where entries are 0: no ``out/x`` division).

    Raises:
        ShapeError: a bad axis, or a symbolic length along the scanned axis.
    """
    _no_extra("gnp.cumprod", dtype=dtype, out=out)
    return _call("gnp.cumprod", lambda x: _scan(x, axis, ops.mul, 1.0, "gnp.cumprod"), a)


# --- einsum and the products built on it ------------------------------------------

def _sum_labels(x: Node, labels: list, drop) -> tuple[Node, list]:
    axes = tuple(i for i, l in enumerate(labels) if l in drop)
    if not axes:
        return x, labels
    return array_ops.sum(x, axes), [l for l in labels if l not in drop]


def _diagonal_labels(x: Node, labels: list, what: str) -> tuple[Node, list]:
    """Take the diagonal over every label repeated within one operand (``ii->i``)."""
    while True:
        seen: dict = {}
        pair = None
        for i, l in enumerate(labels):
            if l in seen:
                pair = (seen[l], i)
                break
            seen[l] = i
        if pair is None:
            return x, labels
        p, q = pair
        x = _diagonal_build(x, 0, p, q, what)
        label = labels[p]
        labels = [l for i, l in enumerate(labels) if i not in pair] + [label]


def _pair(A: Node, la: list, B: Node, lb: list, keep: set) -> tuple[Node, list]:
    """Contract two operands over their shared labels not in ``keep``. Without shared
    kept labels and with concrete sizes: one ``matmul`` of the operands reshaped to
    ``(free_a, contracted) @ (contracted, free_b)``; else broadcast product and sum."""
    batch = [l for l in la if l in lb and l in keep]
    contr = [l for l in la if l in lb and l not in keep]
    af = [l for l in la if l not in lb]
    bf = [l for l in lb if l not in la]
    size = {**dict(zip(lb, B.shape)), **dict(zip(la, A.shape))}
    concrete = all(isinstance(size[l], int) for l in contr + af + bf)
    if not batch and concrete and contr:
        A2 = _transpose(A, [la.index(l) for l in af + contr])
        B2 = _transpose(B, [lb.index(l) for l in contr + bf])
        m = _py_int(np.prod([size[l] for l in af], dtype=np.int64))
        k = _py_int(np.prod([size[l] for l in contr], dtype=np.int64))
        n = _py_int(np.prod([size[l] for l in bf], dtype=np.int64))
        C = array_ops.matmul(_reshape(A2, (m, k)), _reshape(B2, (k, n)))
        return _reshape(C, tuple(size[l] for l in af + bf)), af + bf
    A2 = _transpose(A, [la.index(l) for l in batch + af + contr])
    B2 = _transpose(B, [lb.index(l) for l in batch + bf + contr])
    dims = [size[l] for l in batch]
    A2 = _reshape(A2, tuple(dims + [size[l] for l in af] + [1] * _py_len(bf)
                            + [size[l] for l in contr]))
    B2 = _reshape(B2, tuple(dims + [1] * _py_len(af) + [size[l] for l in bf]
                            + [size[l] for l in contr]))
    C = ops.mul(A2, B2)
    if contr:
        nd = _nd(C)
        C = array_ops.sum(C, tuple(_py_range(nd - _py_len(contr), nd)))
    return C, batch + af + bf


def _contract(operands: list, labels: list, out: list, what: str) -> Node:
    """The einsum of ``operands`` (nodes) with ``labels`` (a list of hashable labels per
    operand, one per axis) to the output labels ``out``: sizes checked (1 broadcasts),
    diagonals taken, private labels summed, operands contracted left to right."""
    size: dict = {}
    for x, ls in zip(operands, labels):
        for l, d in zip(ls, x.shape):
            prev = size.get(l)
            if prev is None or prev == 1:
                size[l] = d
            elif d != 1 and d != prev:
                raise ShapeError(f"{what}: subscript {_label_text(l)} has sizes "
                                 f"{prev} and {d}")
    ops_, lbs = [], []
    for x, ls in zip(operands, labels):
        ls = list(ls)
        squeeze = [i for i, (l, d) in enumerate(zip(ls, x.shape)) if d == 1 and size[l] != 1]
        if squeeze:  # a length-1 axis broadcast against a longer one
            x = _reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in squeeze))
            ls = [l for i, l in enumerate(ls) if i not in squeeze]
        x, ls = _diagonal_labels(x, ls, what)
        ops_.append(x)
        lbs.append(ls)
    for i in _py_range(_py_len(ops_)):
        elsewhere = set(out).union(*[set(l) for j, l in enumerate(lbs) if j != i])
        ops_[i], lbs[i] = _sum_labels(ops_[i], lbs[i], set(lbs[i]) - elsewhere)
    acc, la = ops_[0], lbs[0]
    for j in _py_range(1, _py_len(ops_)):
        keep = set(out).union(*[set(l) for l in lbs[j + 1:]])
        acc, la = _pair(acc, la, ops_[j], lbs[j], keep)
    acc, la = _sum_labels(acc, la, set(la) - set(out))
    return _transpose(acc, [la.index(l) for l in out])


def _label_text(l) -> str:
    return repr(l) if isinstance(l, str) else f"of the broadcast (...) axis {l}"


def _parse_einsum(subscripts: str, shapes: list) -> tuple[list, list]:
    what = "gnp.einsum"
    s = subscripts.replace(" ", "")
    if s.count("->") > 1:
        raise GraphcError(f"{what}: {subscripts!r} has more than one '->'")
    lhs, rhs = s.split("->") if "->" in s else (s, None)
    terms = lhs.split(",")
    if _py_len(terms) != _py_len(shapes):
        raise GraphcError(f"{what}: {subscripts!r} names {_py_len(terms)} operand(s), "
                          f"{_py_len(shapes)} given")

    def letters(t: str, where_: str) -> list:
        bad = [c for c in t if not (c.isascii() and c.isalpha())]
        if bad:
            raise GraphcError(f"{what}: invalid subscript {bad[0]!r} in {where_} of "
                              f"{subscripts!r} (letters a-z, A-Z and '...' only)")
        return list(t)

    ell = [_py_len(sh) - _py_len(t.replace("...", "")) if "..." in t else 0
           for t, sh in zip(terms, shapes)]
    m = _py_max(ell, default=0)
    labels = []
    for k, (t, sh, e) in enumerate(zip(terms, shapes, ell)):
        where_ = f"operand {k}"
        if t.count("...") > 1:
            raise GraphcError(f"{what}: {where_} of {subscripts!r} has more than one '...'")
        if "..." in t:
            pre, post = t.split("...")
            if e < 0:
                raise ShapeError(f"{what}: {where_} has {_py_len(sh)} dimension(s), fewer "
                                 f"than the subscripts {t!r} name")
            ls = letters(pre, where_) + list(_py_range(m - e, m)) + letters(post, where_)
        else:
            ls = letters(t, where_)
            if _py_len(ls) != _py_len(sh):
                raise ShapeError(f"{what}: {where_} has {_py_len(sh)} dimension(s) but the "
                                 f"subscripts {t!r} name {_py_len(ls)}")
        labels.append(ls)
    used_ell = any(ell)
    if rhs is None:
        counts: dict = {}
        for ls in labels:
            for l in ls:
                if isinstance(l, str):
                    counts[l] = counts.get(l, 0) + 1
        out = list(_py_range(m)) + sorted(l for l, c in counts.items() if c == 1)
    else:
        if rhs.count("...") > 1:
            raise GraphcError(f"{what}: the output of {subscripts!r} has more than one '...'")
        pre, post = rhs.split("...") if "..." in rhs else (rhs, "")
        if "..." not in rhs and used_ell and m:
            raise ShapeError(f"{what}: the operands of {subscripts!r} have broadcast (...) "
                             f"dimensions but the output names no '...'")
        out = letters(pre, "the output") + (list(_py_range(m)) if "..." in rhs else []) \
            + letters(post, "the output")
        present = {l for ls in labels for l in ls}
        for l in out:
            if isinstance(l, str) and l not in present:
                raise GraphcError(f"{what}: output subscript {l!r} of {subscripts!r} "
                                  f"names no operand's axis")
        if _py_len(set(out)) != _py_len(out):
            raise GraphcError(f"{what}: the output of {subscripts!r} repeats a subscript")
    return labels, out


@_composite("numpy.einsum")
def einsum(subscripts, *operands, optimize=False):
    """``np.einsum(subscripts, *operands)``: Einstein summation in NumPy's string form.

    Supported: explicit (``"bij,bjk->bik"``) and implicit (``"ij,jk"``: the letters
    used once, in ASCII order) outputs, batch labels, ``...`` broadcast dimensions
    (aligned right, length 1 broadcasting as NumPy), repeated labels within an operand
    (diagonals, ``"ii->i"``, ``"ii"`` is the trace), sums over labels missing from the
    output, any number of operands (contracted left to right). Lowered to primitives:
    each pair of operands without shared output labels becomes one ``matmul`` of
    transposed, reshaped operands; shared output labels (batch) use a broadcast
    product and ``sum``.

    Args:
        subscripts: the subscript string (letters ``a-zA-Z``, ``,``, ``->``, ``...``).
        *operands: graph values, numbers or arrays, one per term.
        optimize: accepted for NumPy compatibility (the order is left to right).

    Returns:
        The contraction, shaped by the output subscripts.

    Raises:
        GraphcError: a malformed subscript string (bad letter, wrong number of terms,
            an output label no operand has, a repeated output label), NumPy's
            interleaved (sublist) form.
        ShapeError: subscripts that do not match an operand's dimensions, labels of
            unequal sizes, a diagonal over a symbolic dimension.
    """
    if not isinstance(subscripts, str):
        raise GraphcError("gnp.einsum takes the subscripts as a string first "
                          "(NumPy's interleaved operand/sublist form is not supported)")
    if not operands:
        raise GraphcError("gnp.einsum needs at least one operand")

    def build(*xs):
        labels, out = _parse_einsum(subscripts, [x.shape for x in xs])
        return _contract(list(xs), labels, out, "gnp.einsum")
    return _call("gnp.einsum", build, *operands)


def _tensordot_axes(axes, na: int, nb: int, what: str) -> tuple[list, list]:
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        n = _py_int(axes)
        if n < 0 or n > na or n > nb:
            raise ShapeError(f"{what}: axes={n} needs 0 <= axes <= the dimensions of both "
                             f"operands ({na} and {nb})")
        return list(_py_range(na - n, na)), list(_py_range(n))
    try:
        xa, xb = axes
    except (TypeError, ValueError):
        raise GraphcError(f"{what}: axes must be an int or a pair of axis lists, got "
                          f"{axes!r}") from None
    xa = list(xa) if isinstance(xa, (list, tuple)) else [xa]
    xb = list(xb) if isinstance(xb, (list, tuple)) else [xb]
    if _py_len(xa) != _py_len(xb):
        raise ShapeError(f"{what}: axes {axes!r} pair {_py_len(xa)} axes with "
                         f"{_py_len(xb)}")
    xa = [_axis1(a, na, what) for a in xa]
    xb = [_axis1(b, nb, what) for b in xb]
    if _py_len(set(xa)) != _py_len(xa) or _py_len(set(xb)) != _py_len(xb):
        raise ShapeError(f"{what}: axes {axes!r} repeat an axis")
    return xa, xb


@_composite("numpy.tensordot")
def tensordot(a, b, axes=2):
    """``np.tensordot(a, b, axes)``: the sum of products over ``axes`` of ``a`` and
    ``b`` (``axes=N``: the last N of ``a`` with the first N of ``b``; or a pair of axis
    lists); the result has ``a``'s free axes, then ``b``'s. One ``matmul`` of the
    operands reshaped to 2-D (concrete sizes), else a broadcast product and ``sum``.

    Raises:
        ShapeError: paired axes of different lengths, axes out of range or repeated.
        GraphcError: ``axes`` neither an int nor a pair.
    """
    def build(x, y):
        xa, xb = _tensordot_axes(axes, _nd(x), _nd(y), "gnp.tensordot")
        for i, j in zip(xa, xb):
            if x.shape[i] != y.shape[j]:
                raise ShapeError(f"gnp.tensordot: axis {i} of the first operand (length "
                                 f"{x.shape[i]}) and axis {j} of the second (length "
                                 f"{y.shape[j]}) differ")
        la = [("a", i) for i in _py_range(_nd(x))]
        lb = [la[xa[xb.index(j)]] if j in xb else ("b", j) for j in _py_range(_nd(y))]
        out = [l for i, l in enumerate(la) if i not in xa] + \
              [l for j, l in enumerate(lb) if j not in xb]
        return _contract([x, y], [la, lb], out, "gnp.tensordot")
    return _call("gnp.tensordot", build, a, b)


def _matmul_build(x: Node, y: Node) -> Node:
    if _nd(x) == 0 or _nd(y) == 0:
        raise ShapeError("gnp.matmul: operands must have at least 1 dimension (use "
                         "multiply for scalars)")
    if _nd(x) <= 2 and _nd(y) <= 2:
        return array_ops.matmul(x, y)
    if x.shape[-1] != y.shape[-2 if _nd(y) > 1 else 0]:
        raise ShapeError(f"gnp.matmul: shapes {tuple(x.shape)} and {tuple(y.shape)}: "
                         f"inner dimensions differ")
    bx, by = _py_max(_nd(x) - 2, 0), _py_max(_nd(y) - 2, 0)
    nb = _py_max(bx, by)
    lx = list(_py_range(nb - bx, nb)) + (["m", "k"] if _nd(x) > 1 else ["k"])
    ly = list(_py_range(nb - by, nb)) + (["k", "n"] if _nd(y) > 1 else ["k"])
    out = list(_py_range(nb)) + (["m"] if _nd(x) > 1 else []) + (["n"] if _nd(y) > 1 else [])
    for i in _py_range(1, _py_min(bx, by) + 1):
        dx, dy = x.shape[-2 - i], y.shape[-2 - i]
        if dx != dy and 1 not in (dx, dy):
            raise ShapeError(f"gnp.matmul: batch dimensions of shapes {tuple(x.shape)} and "
                             f"{tuple(y.shape)} do not broadcast")
    return _contract([x, y], [lx, ly], out, "gnp.matmul")


def matmul(a, b):
    """``np.matmul(a, b)`` (``a @ b``): the primitive ``matmul`` for 1-D and 2-D arrays;
    for more dimensions, stacks of matrices with NumPy's broadcasting of the leading
    (batch) dimensions and its 1-D promotion. A batch on one side only becomes one 2-D
    ``matmul`` (the batch folded into the rows or columns); batches on both sides a
    broadcast product summed over the inner axis.

    Raises:
        ShapeError: 0-d operands, inner dimensions that differ, batch dimensions that
            do not broadcast.
    """
    return _call("gnp.matmul", _matmul_build, a, b)


def dot(a, b):
    """``np.dot(a, b)``: a product for scalars, the primitive ``matmul`` for 1-D and
    2-D arrays, and for N-D arrays the sum over the last axis of ``a`` and the
    second-to-last of ``b`` (the last for 1-D ``b``; :func:`tensordot`).

    Raises:
        ShapeError: the summed axes differ in length.
    """
    def build(x, y):
        if not x.shape or not y.shape:
            return ops.mul(x, y)
        if _nd(x) <= 2 and _nd(y) <= 2:
            return array_ops.matmul(x, y)
        jb = _nd(y) - 2 if _nd(y) > 1 else 0
        if x.shape[-1] != y.shape[jb]:
            raise ShapeError(f"gnp.dot: shapes {tuple(x.shape)} and {tuple(y.shape)} are "
                             f"not aligned (last axis of a vs axis {jb} of b)")
        la = [("a", i) for i in _py_range(_nd(x))]
        lb = [la[-1] if j == jb else ("b", j) for j in _py_range(_nd(y))]
        out = la[:-1] + [l for j, l in enumerate(lb) if j != jb]
        return _contract([x, y], [la, lb], out, "gnp.dot")
    return _call("gnp.dot", build, a, b)


@_composite("numpy.inner")
def inner(a, b):
    """``np.inner(a, b)``: the sum of products over the last axes (a product for
    scalars); :func:`tensordot` with ``axes=([-1], [-1])``.

    Raises:
        ShapeError: the last axes differ in length."""
    def build(x, y):
        if not x.shape or not y.shape:
            return ops.mul(x, y)
        if x.shape[-1] != y.shape[-1]:
            raise ShapeError(f"gnp.inner: last dimensions of {tuple(x.shape)} and "
                             f"{tuple(y.shape)} differ")
        la = [("a", i) for i in _py_range(_nd(x))]
        lb = [("b", j) for j in _py_range(_nd(y) - 1)] + [la[-1]]
        return _contract([x, y], [la, lb], la[:-1] + lb[:-1], "gnp.inner")
    return _call("gnp.inner", build, a, b)


@_composite("numpy.outer")
def outer(a, b):
    """``np.outer(a, b)``: ``a.ravel()[:, None] * b.ravel()[None, :]``, shape
    ``(a.size, b.size)``.

    Raises:
        ShapeError: flattening an array of symbolic shape (more than 1 dimension)."""
    def build(x, y):
        x = _flatten(_reshape(x, (1,)) if _nd(x) == 0 else x, "gnp.outer")
        y = _flatten(_reshape(y, (1,)) if _nd(y) == 0 else y, "gnp.outer")
        return ops.mul(_reshape(x, (x.shape[0], 1)), _reshape(y, (1, y.shape[0])))
    return _call("gnp.outer", build, a, b)


@_composite("numpy.kron")
def kron(a, b):
    """``np.kron(a, b)``: the Kronecker product; shapes padded with leading 1s to the
    same length ``d``, the result has shape ``(a0*b0, ..., a_d*b_d)``: a broadcast
    product of ``a`` reshaped to ``(a0, 1, a1, 1, ...)`` and ``b`` to ``(1, b0, 1, b1,
    ...)``, then one reshape.

    Raises:
        ShapeError: symbolic dimensions (the result's sizes are products)."""
    def build(x, y):
        d = _py_max(_nd(x), _nd(y))
        sx = (1,) * (d - _nd(x)) + tuple(x.shape)
        sy = (1,) * (d - _nd(y)) + tuple(y.shape)
        for i, (p, q) in enumerate(zip(sx, sy)):
            _concrete(p, "gnp.kron", i)
            _concrete(q, "gnp.kron", i)
        xs = _reshape(x, tuple(v for p in sx for v in (p, 1)))
        ys = _reshape(y, tuple(v for q in sy for v in (1, q)))
        return _reshape(ops.mul(xs, ys), tuple(p * q for p, q in zip(sx, sy)))
    return _call("gnp.kron", build, a, b)


# --- diagonals and triangles -------------------------------------------------------

def _diag_slice(n1: int, n2: int, k: int) -> tuple[int, builtins.slice | None]:
    """The length of diagonal ``k`` of an ``(n1, n2)`` matrix and the slice of its
    entries in the row-major flattening (None when it is empty)."""
    if k >= 0:
        length, start = _py_max(0, _py_min(n1, n2 - k)), k
    else:
        length, start = _py_max(0, _py_min(n1 + k, n2)), -k * n2
    if length == 0:
        return 0, None
    return length, _slice(start, start + (length - 1) * (n2 + 1) + 1, n2 + 1)


def _diagonal_build(x: Node, offset: int, axis1: int, axis2: int, what: str) -> Node:
    nd = _nd(x)
    if nd < 2:
        raise ShapeError(f"{what}: needs at least 2 dimensions, got shape {tuple(x.shape)}")
    p, q = _axis1(axis1, nd, what), _axis1(axis2, nd, what)
    if p == q:
        raise ShapeError(f"{what}: axis1 and axis2 are the same axis ({p})")
    rest = [i for i in _py_range(nd) if i not in (p, q)]
    n1, n2 = _concrete(x.shape[p], what, p), _concrete(x.shape[q], what, q)
    lead = tuple(x.shape[i] for i in rest)
    length, s = _diag_slice(n1, n2, offset)
    if s is None:
        return ops.const(0.0, x.dtype, lead + (0,))
    flat = _reshape(_transpose(x, rest + [p, q]), lead + (n1 * n2,))
    return _take(flat, _py_len(lead), s.start, s.stop, s.step)


@_composite("numpy.diagonal")
def diagonal(a, offset=0, axis1=0, axis2=1):
    """``np.diagonal(a, offset, axis1, axis2)``: the entries ``a[..., i, i + offset]``
    over ``axis1``, ``axis2`` (removed; the diagonal becomes the last axis). A strided
    slice of the two axes flattened, so its transpose (reverse mode) is ``unslice``.

    Raises:
        ShapeError: fewer than 2 dimensions, equal axes, a symbolic length of either
            axis. GraphcError: a non-integer offset."""
    k = _integer(offset, "gnp.diagonal", "offset")
    return _call("gnp.diagonal",
                 lambda x: _diagonal_build(x, k, axis1, axis2, "gnp.diagonal"), a)


@_composite("numpy.trace")
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``np.trace(a, offset, axis1, axis2)``: the sum of :func:`diagonal` (0 for an
    empty diagonal).

    Raises: as :func:`diagonal`; GraphcError for ``dtype``/``out``."""
    _no_extra("gnp.trace", dtype=dtype, out=out)
    k = _integer(offset, "gnp.trace", "offset")
    return _call("gnp.trace", lambda x: array_ops.sum(
        _diagonal_build(x, k, axis1, axis2, "gnp.trace"), -1), a)


@_composite("numpy.diag")
def diag(v, k=0):
    """``np.diag(v, k)``: for 1-D ``v`` of length ``m``, the ``(m+|k|, m+|k|)`` matrix
    with ``v`` on diagonal ``k`` and zeros elsewhere (an ``unslice`` of ``v`` into the
    flattened matrix); for 2-D ``v``, its diagonal ``k`` (:func:`diagonal`).

    Raises:
        ShapeError: ``v`` not 1-D or 2-D, a symbolic length."""
    k = _integer(k, "gnp.diag", "k")

    def build(x):
        if _nd(x) == 2:
            return _diagonal_build(x, k, 0, 1, "gnp.diag")
        if _nd(x) != 1:
            raise ShapeError(f"gnp.diag: input must be 1-D or 2-D, got shape "
                             f"{tuple(x.shape)}")
        m = _concrete(x.shape[0], "gnp.diag", 0)
        n = m + _py_abs(k)
        length, s = _diag_slice(n, n, k)
        if s is None:
            return ops.const(0.0, x.dtype, (n, n))
        return _reshape(array_ops.unslice(x, (n * n,), s), (n, n))
    return _call("gnp.diag", build, v)


def _triangle(x: Node, k: int, lower: bool, what: str) -> Node:
    if _nd(x) == 0:
        raise ShapeError(f"{what}: needs at least 1 dimension")
    n1 = _concrete(x.shape[-2], what, _nd(x) - 2) if _nd(x) > 1 else \
        _concrete(x.shape[-1], what, 0)
    n2 = _concrete(x.shape[-1], what, _nd(x) - 1)
    i = _reshape(_iota(n1, x.dtype), (n1, 1))
    j = _reshape(_iota(n2, x.dtype), (1, n2))
    d = ops.sub(j, i)                                   # column - row, shape (n1, n2)
    keep = ops.le(d, _py_float(k)) if lower else ops.ge(d, _py_float(k))
    zero = ops.const(0.0, x.dtype)
    if _nd(x) == 1:
        x = array_ops.broadcast_to(x, (n1, n2))
    return ops.where(keep, x, zero)


@_composite("numpy.tril")
def tril(m, k=0):
    """``np.tril(m, k)``: ``m`` with the entries above diagonal ``k`` of its last two
    axes set to 0 (``where`` of a constant mask, so the derivative there is exactly 0
    and an inf above the diagonal gives 0, as NumPy); 1-D ``m`` is broadcast to a
    square matrix first, as NumPy.

    Raises:
        ShapeError: a 0-d ``m``, symbolic lengths of the last two axes.
        GraphcError: a non-integer ``k``."""
    kk = _integer(k, "gnp.tril", "k")
    return _call("gnp.tril", lambda x: _triangle(x, kk, True, "gnp.tril"), m)


@_composite("numpy.triu")
def triu(m, k=0):
    """``np.triu(m, k)``: ``m`` with the entries below diagonal ``k`` of its last two
    axes set to 0; as :func:`tril` (same shapes).

    Raises:
        ShapeError: a 0-d ``m``, symbolic lengths of the last two axes.
        GraphcError: a non-integer ``k``."""
    kk = _integer(k, "gnp.triu", "k")
    return _call("gnp.triu", lambda x: _triangle(x, kk, False, "gnp.triu"), m)


# --- flips, rolls, splits ----------------------------------------------------------

@_composite("numpy.flip")
def flip(m, axis=None):
    """``np.flip(m, axis)``: the entries reversed along ``axis`` (an int, a tuple, or
    None for all axes): a ``getitem`` with step -1.

    Raises:
        ShapeError: a bad axis, or a symbolic length along a flipped axis."""
    def build(x):
        axes = array_ops.normalize_axes(axis, x.shape)
        if not axes:
            return x
        for a in axes:
            _concrete(x.shape[a], "gnp.flip", a)
        index = tuple(_slice(None, None, -1) if i in axes else _slice(None)
                      for i in _py_range(_py_max(axes) + 1))
        return array_ops.getitem(x, index)
    return _call("gnp.flip", build, m)


@_composite("numpy.roll")
def roll(a, shift, axis=None):
    """``np.roll(a, shift, axis)``: entries shifted cyclically by ``shift`` along
    ``axis`` (of the flattened array for None; ``shift`` and ``axis`` may be tuples,
    broadcast against each other as NumPy): two slices and a ``concatenate``.

    Raises:
        ShapeError: a bad axis, a symbolic length along a rolled axis.
        GraphcError: a non-integer shift."""
    def roll1(x, s, ax):
        n = _concrete(x.shape[ax], "gnp.roll", ax)
        s = s % n if n else 0
        if s == 0:
            return x
        return array_ops.concatenate(_take(x, ax, n - s, None), _take(x, ax, 0, n - s),
                                     axis=ax)

    def build(x):
        if axis is None:
            flat = _flatten(_reshape(x, (1,)) if _nd(x) == 0 else x, "gnp.roll")
            total = _py_sum(_integer(s, "gnp.roll", "shift")
                            for s in np.atleast_1d(shift).tolist())
            return _reshape(roll1(flat, total, 0), tuple(x.shape))
        pairs = np.broadcast(np.asarray(shift), np.asarray(axis))
        by_axis: dict = {}
        for s, ax in pairs:
            s = _integer(s.item() if hasattr(s, "item") else s, "gnp.roll", "shift")
            ax = _axis1(ax.item() if hasattr(ax, "item") else ax, _nd(x), "gnp.roll")
            by_axis[ax] = by_axis.get(ax, 0) + s
        for ax, s in by_axis.items():
            x = roll1(x, s, ax)
        return x
    return _call("gnp.roll", build, a)


def _split_bounds(n: int, indices_or_sections, what: str, equal: bool) -> list:
    if isinstance(indices_or_sections, (int, np.integer)) and \
            not isinstance(indices_or_sections, bool):
        k = _count(indices_or_sections, what, "the number of sections", least=1)
        q, r = divmod(n, k)
        if equal and r:
            raise ShapeError(f"{what}: an axis of length {n} does not split into {k} "
                             f"equal sections (use array_split)")
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = [0]
        for s in sizes:
            bounds.append(bounds[-1] + s)
        return list(zip(bounds[:-1], bounds[1:]))
    try:
        idx = [_integer(i, what, "a split index")
               for i in indices_or_sections]
    except TypeError:
        raise GraphcError(f"{what}: indices_or_sections must be an int or a list of "
                          f"ints, got {indices_or_sections!r}") from None
    starts = [0] + idx
    stops = idx + [None]
    return list(zip(starts, stops))


def _split_build(x: Node, indices_or_sections, axis, what: str, equal: bool) -> list:
    if _nd(x) == 0:
        raise ShapeError(f"{what}: cannot split a 0-d array")
    ax = _axis1(axis, _nd(x), what)
    n = _concrete(x.shape[ax], what, ax)
    return [_take(x, ax, a, b) for a, b in _split_bounds(n, indices_or_sections, what, equal)]


def _split_call(what: str, build: Callable, ary):
    if isinstance(ary, Node):
        return build(ary)
    return _eager(build, (ary,), what)


@_composite("numpy.split")
def split(ary, indices_or_sections, axis=0):
    """``np.split(ary, indices_or_sections, axis)``: a list of sub-arrays (slices):
    ``N`` equal sections for an int ``N``, or the pieces between sorted split indices
    (Python slice semantics, so indices past the end give empty pieces).

    Raises:
        ShapeError: an int ``N`` that does not divide the axis length, a bad axis, a
            symbolic axis length. GraphcError: ``N < 1``, non-integer indices."""
    return _split_call("gnp.split", lambda x: _split_build(
        x, indices_or_sections, axis, "gnp.split", True), ary)


@_composite("numpy.array_split")
def array_split(ary, indices_or_sections, axis=0):
    """``np.array_split``: as :func:`split`, but ``N`` sections need not be equal: the
    first ``len % N`` have one entry more.

    Raises: as :func:`split` (but no divisibility error)."""
    return _split_call("gnp.array_split", lambda x: _split_build(
        x, indices_or_sections, axis, "gnp.array_split", False), ary)


# --- constants: arange, linspace -----------------------------------------------------

def _dtype(dtype, what: str) -> str:
    if dtype is None:
        return "float64"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    if name not in ("float64", "float32"):
        raise GraphcError(f"{what}: dtype must be float64 or float32, got {dtype!r}")
    return name


def _real(v, what: str, name: str) -> float:
    if isinstance(v, Node):
        raise GraphcError(f"{what}: {name} is a graph value, but the length of the result "
                          f"would depend on it (a data-dependent shape); pass a number")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                             np.floating)):
        raise GraphcError(f"{what}: {name} must be a real number, got {v!r}")
    return _py_float(v)


@_composite("numpy.arange")
def arange(start, stop=None, step=None, dtype=None):
    """``np.arange([start,] stop[, step])`` as a constant graph value (like
    :func:`array`): ``start + i*delta`` for ``i`` in ``0..n-1``, ``n = ceil((stop -
    start)/step)`` (at least 0) and ``delta = (start + step) - start`` (NumPy's fill
    rule). Built from ``log2 n`` doublings, so any length is cheap (no 4096-entry
    limit).

    Args:
        start, stop, step: real numbers (not graph values: the length would be
            data-dependent). dtype: "float64" (default) or "float32".

    Returns:
        A node of shape ``(n,)``.

    Raises:
        GraphcError: a graph value or non-number argument, ``step == 0``, a dtype other
            than float64/float32, a non-finite length.
    """
    what = "gnp.arange"
    if stop is None:
        start, stop = 0, start
    lo, hi = _real(start, what, "start"), _real(stop, what, "stop")
    st = 1.0 if step is None else _real(step, what, "step")
    if st == 0:
        raise GraphcError(f"{what}: step must not be 0")
    dt = _dtype(dtype, what)
    span = (hi - lo) / st
    if not np.isfinite(span):
        raise GraphcError(f"{what}: the length of arange({lo}, {hi}, {st}) is not finite")
    n = _py_max(0, _py_int(np.ceil(span)))
    delta = (lo + st) - lo
    out = _iota(n, dt)
    if delta != 1.0:
        out = ops.mul(out, ops.const(delta, dt))
    if lo != 0.0:
        out = ops.add(out, ops.const(lo, dt))
    return out


@_composite("numpy.linspace")
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``np.linspace(start, stop, num, endpoint, retstep, axis=axis)``: ``num`` evenly
    spaced samples, ``start + i*step`` with ``step = (stop - start)/(num - 1)`` (``/num``
    without the endpoint) and the last sample exactly ``stop`` (NumPy's rule).

    ``start``/``stop`` may be numbers (the result is then a constant graph value, like
    :func:`array`) or graph values of any broadcastable shapes (the result is
    differentiable in them); the samples run along ``axis`` of the result, whose other
    axes are ``broadcast(start, stop)``'s shape.

    Args:
        start, stop: numbers, arrays or graph values. num: int >= 0. endpoint: include
            ``stop``. retstep: also return the step. dtype: "float64" or "float32"
            (for number arguments; graph values keep theirs). axis: where the samples
            go (0 or -1...).

    Returns:
        The samples, shape ``(num, *broadcast_shape)`` with the sample axis moved to
        ``axis``; with ``retstep``, ``(samples, step)`` (``step`` NaN when there is no
        spacing, ``num <= 1`` with the endpoint).

    Raises:
        GraphcError: ``num`` not an integer >= 0, a dtype other than float64/float32.
        ShapeError: ``start``/``stop`` that do not broadcast, a bad axis.
    """
    what = "gnp.linspace"
    n = _count(num, what, "num")
    dt = _dtype(dtype, what)
    div = (n - 1) if endpoint else n
    like = _like((start, stop))
    if like is None:
        lo, hi = array_constant(start, dt, what), array_constant(stop, dt, what)
    else:
        lo, hi = operand(start, what, like), operand(stop, what, like)
        dt = like.dtype
    bshape = broadcast_shapes(lo.shape, hi.shape)
    lo, hi = array_ops.broadcast_to(lo, bshape), array_ops.broadcast_to(hi, bshape)
    ones = (1,) * _py_len(bshape)
    t = _reshape(_iota(n, dt), (n,) + ones)
    delta = ops.sub(hi, lo)
    if div > 0:
        stp = ops.div(delta, ops.const(_py_float(div), dt))
        y = ops.add(ops.mul(t, _reshape(stp, (1,) + tuple(bshape))),
                    _reshape(lo, (1,) + tuple(bshape)))
    else:
        stp = ops.mul(delta, ops.const(np.nan, dt))
        y = ops.add(ops.mul(t, _reshape(delta, (1,) + tuple(bshape))),
                    _reshape(lo, (1,) + tuple(bshape)))
    if endpoint and n > 1:
        y = array_ops.concatenate(_take(y, 0, 0, n - 1), _reshape(hi, (1,) + tuple(bshape)),
                                  axis=0)
    ax = _axis1(axis, _py_len(bshape) + 1, what)
    if ax:
        perm = list(_py_range(1, ax + 1)) + [0] + list(_py_range(ax + 1, _py_len(bshape) + 1))
        y = _transpose(y, perm)
    return (y, stp) if retstep else y


# ---------------------------------------------------------------------------------
# array creation: zeros, ones, full, empty, eye, identity and the *_like functions
#
# Built from ``const`` (one node of any shape, symbolic sizes included), ``broadcast_to``
# (an array or graph-valued fill) and ``unslice`` (the diagonal of ``eye``). zeros,
# ones, empty, full, eye and identity return constant graph values, like :func:`array`
# and :func:`arange` (also outside a traced function): ``gnp.zeros(3) + x`` adds a
# constant node, and a float64 constant promotes a float32 graph value to float64, as
# NumPy's float64 arrays promote float32 ones (pass ``dtype="float32"``, or use
# ``zeros_like(x)``, to stay in float32). The *_like functions follow ``a``: a graph
# value gives a node, numbers and arrays a value.

def _named(what: str, build: Callable, *args) -> Any:
    """``build(*args)``, a ShapeError from a primitive re-raised naming ``what``."""
    try:
        return build(*args)
    except ShapeError as exc:
        if str(exc).startswith(what):
            raise
        raise ShapeError(f"{what}: {exc}") from None


def _shape_arg(shape, what: str) -> tuple:
    """A shape argument (an int, a symbol name such as ``"n"``, or a sequence of them)
    as a tuple of dimensions (ShapeError for anything else)."""
    if isinstance(shape, Node):
        raise GraphcError(f"{what}: the shape is a graph value; a result's shape must be "
                          f"static (ints or symbol names)")
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    items = shape if isinstance(shape, (tuple, list)) else (shape,)
    dims = []
    for d in items:
        if isinstance(d, (bool, np.bool_, float, np.floating)):
            raise ShapeError(f"{what}: shape entries must be integers or symbol names, "
                             f"got {d!r} in {shape!r}")
        try:
            dims.append(check_dim(d, "shape entry"))
        except ShapeError as exc:
            raise ShapeError(f"{what}: {exc} (in shape {shape!r})") from None
    return tuple(dims)


def _fill(value, dtype: str, shape: tuple, what: str) -> Node:
    """``value`` (a number, an array or a graph value) broadcast to ``shape`` as NumPy
    copies it into an array (``np.copyto``: broadcasting, and leading length-1 axes
    beyond ``shape``'s dropped)."""
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return ops.const(_py_float(value), dtype, shape)
    if isinstance(value, Node):
        if value.dtype != dtype:
            raise GraphcError(f"{what}: fill_value is a {value.dtype} graph value but the "
                              f"result is {dtype}; graph values keep their dtype (leave "
                              f"dtype=None)")
        c = value
    else:
        c = array_constant(value, dtype, what)
    extra = _nd(c) - _py_len(shape)
    if extra > 0 and all(d == 1 for d in c.shape[:extra]):
        c = _reshape(c, tuple(c.shape[extra:]))
    out = _named(what, array_ops.broadcast_to, c, shape)
    if c.is_const and not isinstance(value, Node):  # equal entries: one const node
        return ops.const(c.value, dtype, shape)
    return out


def _fill_dtype(dtype, value, what: str) -> str:
    if dtype is None and isinstance(value, Node):
        return value.dtype
    return _dtype(dtype, what)


@_composite("numpy.zeros")
def zeros(shape, dtype=None):
    """``np.zeros(shape, dtype)``: a constant graph value of zeros (one ``const`` node).

    Args:
        shape: an int, a symbol name (``"n"``) or a tuple of them; symbolic sizes are
            bound when the graph runs (``gnp.zeros(("n", 3))`` next to an input of
            shape ``("n", 3)``).
        dtype: None or "float64" (the default, as NumPy's), or "float32".

    Returns:
        A node of ``shape`` and ``dtype`` (a constant: its derivative is zero).

    Raises:
        ShapeError: a negative or non-integer size. GraphcError: a dtype other than
            float64/float32, a graph value as the shape.
    """
    return ops.const(0.0, _dtype(dtype, "gnp.zeros"), _shape_arg(shape, "gnp.zeros"))


@_composite("numpy.ones")
def ones(shape, dtype=None):
    """``np.ones(shape, dtype)``: a constant graph value of ones; arguments, result and
    errors as :func:`zeros`.

    Raises:
        ShapeError: a bad shape. GraphcError: a dtype other than float64/float32.
    """
    return ops.const(1.0, _dtype(dtype, "gnp.ones"), _shape_arg(shape, "gnp.ones"))


@_composite("numpy.empty")
def empty(shape, dtype=None):
    """``np.empty(shape, dtype)``: the same as :func:`zeros` (graph values have no
    uninitialized memory, so the entries are zeros; NumPy leaves them arbitrary).

    Raises:
        ShapeError: a bad shape. GraphcError: a dtype other than float64/float32.
    """
    return ops.const(0.0, _dtype(dtype, "gnp.empty"), _shape_arg(shape, "gnp.empty"))


@_composite("numpy.full")
def full(shape, fill_value, dtype=None):
    """``np.full(shape, fill_value, dtype)``: ``fill_value`` broadcast to ``shape``.

    Args:
        shape: as :func:`zeros`.
        fill_value: a number (one ``const`` node), an array broadcastable to ``shape``
            (an array constant, broadcast) or a graph value broadcastable to ``shape``
            (``broadcast_to``: the result is differentiable in it, as ``jnp.full``).
        dtype: None, "float64" or "float32"; None is float64, or the graph value's
            dtype for a graph-valued ``fill_value``.

    Returns:
        A node of ``shape``.

    Raises:
        ShapeError: a bad shape, a ``fill_value`` that does not broadcast to it.
        GraphcError: a dtype other than float64/float32, or another dtype than a graph
            ``fill_value``'s.
    """
    what = "gnp.full"
    shp = _shape_arg(shape, what)
    return _fill(fill_value, _fill_dtype(dtype, fill_value, what), shp, what)


def _eye(n: int, m: int, k: int, dtype: str) -> Node:
    """The ``(n, m)`` matrix with ones on diagonal ``k``: one ``const`` of the diagonal's
    length unsliced (strided) into the flattened matrix."""
    length, s = _diag_slice(n, m, k)
    if s is None:
        return ops.const(0.0, dtype, (n, m))
    ones_ = ops.const(1.0, dtype, (length,))
    return _reshape(array_ops.unslice(ones_, (n * m,), s), (n, m))


def _size_arg(v, what: str, name: str) -> int:
    if isinstance(v, str):
        raise ShapeError(f"{what}: {name}={v!r} must be a concrete size (the positions "
                         f"of the ones depend on it); pass an int")
    return _count(v, what, name)


@_composite("numpy.eye")
def eye(N, M=None, k=0, dtype=None):
    """``np.eye(N, M, k, dtype)``: the ``(N, M)`` matrix (``M = N`` by default) with
    ones on diagonal ``k`` (0: the main diagonal, > 0 above it, < 0 below) and zeros
    elsewhere, a constant graph value (a ``const`` of ones ``unslice``-d into the
    flattened matrix: no 4096-entry limit).

    Args:
        N, M: int sizes (concrete). k: an int. dtype: None/"float64" or "float32".

    Returns:
        A node of shape ``(N, M)``.

    Raises:
        ShapeError: a symbolic size. GraphcError: a negative or non-integer size or
            ``k``, a dtype other than float64/float32.
    """
    what = "gnp.eye"
    n = _size_arg(N, what, "N")
    m = n if M is None else _size_arg(M, what, "M")
    return _eye(n, m, _integer(k, what, "k"), _dtype(dtype, what))


@_composite("numpy.identity")
def identity(n, dtype=None):
    """``np.identity(n, dtype)``: the ``(n, n)`` identity matrix, ``eye(n, dtype=dtype)``.

    Raises:
        ShapeError: a symbolic size. GraphcError: a negative or non-integer ``n``, a
            dtype other than float64/float32.
    """
    what = "gnp.identity"
    k = _size_arg(n, what, "n")
    return _eye(k, k, 0, _dtype(dtype, what))


def _like_shape(shape, like_shape: tuple, what: str) -> tuple:
    return tuple(like_shape) if shape is None else _shape_arg(shape, what)


def _like_call(what: str, a, value, dtype, shape) -> Any:
    """A constant ``value`` of ``a``'s shape (or ``shape``) and dtype (or ``dtype``):
    a graph value for a graph value ``a``, else its value (as :func:`_call`)."""
    dt = None if dtype is None else _dtype(dtype, what)
    return _call(what, lambda x: _fill(value, dt or x.dtype,
                                       _like_shape(shape, x.shape, what), what), a)


@_composite("numpy.zeros_like")
def zeros_like(a, dtype=None, order="K", subok=True, shape=None):
    """``np.zeros_like(a, dtype, shape=shape)``: zeros of ``a``'s shape and dtype.

    On a graph value, a constant node of its shape (symbolic sizes included: a
    broadcast constant, bound when the graph runs) and dtype; on numbers and arrays,
    the value (float32 for float32 arrays, else float64, as every gnp function).

    Args:
        a: a graph value, number or array. dtype: None (``a``'s) or "float64"/"float32".
        order, subok: NumPy's memory-layout options, accepted and ignored (values have
            no layout). shape: a shape overriding ``a``'s (as :func:`zeros`).

    Returns:
        ``a``'s shape (or ``shape``); its derivative with respect to ``a`` is zero.

    Raises:
        ShapeError: a bad ``shape``. GraphcError: a dtype other than float64/float32.
    """
    return _like_call("gnp.zeros_like", a, 0.0, dtype, shape)


@_composite("numpy.ones_like")
def ones_like(a, dtype=None, order="K", subok=True, shape=None):
    """``np.ones_like(a, dtype, shape=shape)``: ones of ``a``'s shape and dtype; as
    :func:`zeros_like`.

    Raises:
        ShapeError: a bad ``shape``. GraphcError: a dtype other than float64/float32.
    """
    return _like_call("gnp.ones_like", a, 1.0, dtype, shape)


@_composite("numpy.empty_like")
def empty_like(prototype, dtype=None, order="K", subok=True, shape=None):
    """``np.empty_like(prototype, dtype, shape=shape)``: as :func:`zeros_like` (zeros:
    graph values have no uninitialized memory).

    Raises:
        ShapeError: a bad ``shape``. GraphcError: a dtype other than float64/float32.
    """
    return _like_call("gnp.empty_like", prototype, 0.0, dtype, shape)


@_composite("numpy.full_like")
def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    """``np.full_like(a, fill_value, dtype, shape=shape)``: ``fill_value`` broadcast to
    ``a``'s shape (or ``shape``), of ``a``'s dtype (or ``dtype``).

    ``fill_value`` may be a number, an array or a graph value broadcastable to that
    shape (the result is then differentiable in it). On a graph value ``a`` (or a
    graph-valued ``fill_value``) the result is a graph value; on numbers and arrays
    it is the value. ``order``/``subok`` are accepted and ignored.

    Raises:
        ShapeError: a ``fill_value`` that does not broadcast, a bad ``shape``.
        GraphcError: a dtype other than float64/float32, or a graph ``fill_value`` of
            another dtype than the result's.
    """
    what = "gnp.full_like"
    if isinstance(fill_value, Node) and not isinstance(a, Node):
        dt = fill_value.dtype if dtype is None else _dtype(dtype, what)
        return _fill(fill_value, dt, _like_shape(shape, np.shape(a), what), what)
    return _like_call(what, a, fill_value, dtype, shape)


# ---------------------------------------------------------------------------------
# shape manipulation: expand_dims, squeeze, moveaxis, swapaxes, atleast_1d/2d,
# hstack, vstack, column_stack, tile, repeat
#
# Views of graph values: one ``reshape`` or ``transpose`` (``concatenate`` to join),
# so no entry is copied through NumPy and both AD modes go straight through (the
# derivative of a reshape is a reshape). ``tile`` and ``repeat`` broadcast a reshaped
# view and reshape it back.

def _axes_arg(axis) -> tuple:
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


def _unique_axes(axes, ndim: int, what: str, name: str = "axis") -> list:
    out = [_axis1(a, ndim, what) for a in axes]
    if _py_len(set(out)) != _py_len(out):
        raise ShapeError(f"{what}: {name} {tuple(axes)!r} repeats an axis")
    return out


@_composite("numpy.expand_dims")
def expand_dims(a, axis):
    """``np.expand_dims(a, axis)``: ``a`` with new axes of length 1 at the positions
    ``axis`` (an int or a tuple) of the result, negative ones counting from the end of
    the result (``axis=-1`` appends). One ``reshape`` (a view).

    Args:
        a: a graph value, number or array (any shape, symbolic sizes included).
        axis: an int or a tuple of ints in ``[-r, r)``, ``r = a.ndim + len(axis)``.

    Returns:
        ``a.ndim + len(axis)`` dimensions.

    Raises:
        ShapeError: an axis out of range or repeated, a non-integer axis.
    """
    what = "gnp.expand_dims"

    def build(x):
        axes = _axes_arg(axis)
        nd = _nd(x) + _py_len(axes)
        new = set(_unique_axes(axes, nd, what))
        rest = iter(x.shape)
        return _reshape(x, tuple(1 if i in new else next(rest) for i in _py_range(nd)))
    return _call(what, build, a)


@_composite("numpy.squeeze")
def squeeze(a, axis=None):
    """``np.squeeze(a, axis)``: ``a`` without length-1 axes: all of them for
    ``axis=None`` (a symbolic size is kept: it is not known to be 1), else the axes
    ``axis`` (an int or a tuple, negative ones from the end), each of which must have
    length 1. One ``reshape`` (a view).

    Returns:
        ``a``'s shape without the squeezed axes.

    Raises:
        ShapeError: an axis out of range or repeated, or an axis whose length is not 1
            (a symbolic length included).
    """
    what = "gnp.squeeze"

    def build(x):
        if axis is None:
            drop = {i for i, d in enumerate(x.shape) if d == 1}
        else:
            drop = set(_unique_axes(_axes_arg(axis), _nd(x), what))
            for i in sorted(drop):
                if x.shape[i] != 1:
                    size = f"symbolic length {x.shape[i]!r}" if isinstance(x.shape[i], str) \
                        else f"length {x.shape[i]}"
                    raise ShapeError(f"{what}: cannot squeeze axis {i} of shape "
                                     f"{tuple(x.shape)}: it has {size}, not 1")
        return _reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in drop))
    return _call(what, build, a)


@_composite("numpy.moveaxis")
def moveaxis(a, source, destination):
    """``np.moveaxis(a, source, destination)``: the axes ``source`` (an int or a
    sequence) moved to the positions ``destination`` (as many), the other axes kept in
    their order. One ``transpose`` (a view).

    Raises:
        ShapeError: an axis out of range or repeated, ``source`` and ``destination``
            of different lengths.
    """
    what = "gnp.moveaxis"

    def build(x):
        nd = _nd(x)
        src = _unique_axes(_axes_arg(source), nd, what, "source")
        dst = _unique_axes(_axes_arg(destination), nd, what, "destination")
        if _py_len(src) != _py_len(dst):
            raise ShapeError(f"{what}: source {source!r} and destination {destination!r} "
                             f"must name as many axes")
        order = [i for i in _py_range(nd) if i not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return _transpose(x, order)
    return _call(what, build, a)


@_composite("numpy.swapaxes")
def swapaxes(a, axis1, axis2):
    """``np.swapaxes(a, axis1, axis2)``: ``a`` with two axes exchanged (negative ones
    from the end). One ``transpose`` (a view).

    Raises:
        ShapeError: an axis out of range or not an integer.
    """
    what = "gnp.swapaxes"

    def build(x):
        p, q = _axis1(axis1, _nd(x), what), _axis1(axis2, _nd(x), what)
        perm = list(_py_range(_nd(x)))
        perm[p], perm[q] = perm[q], perm[p]
        return _transpose(x, perm)
    return _call(what, build, a)


def _at_least(x: Node, n: int) -> Node:
    if _nd(x) >= n:
        return x
    if n == 1 or _nd(x) == 0:
        return _reshape(x, (1,) * (n - _nd(x)) + tuple(x.shape))
    return _reshape(x, (1,) + tuple(x.shape))


def _atleast(what: str, n: int, arys: tuple):
    outs = [_call(what, lambda x: _at_least(x, n), a) for a in arys]
    return outs[0] if _py_len(outs) == 1 else tuple(outs)


@_composite("numpy.atleast_1d")
def atleast_1d(*arys):
    """``np.atleast_1d(*arys)``: each argument with at least 1 dimension (a 0-d value
    becomes shape ``(1,)``; others pass unchanged); one argument gives one result,
    several a tuple (as NumPy 2).

    Raises:
        GraphcError: an argument that is not a graph value, number or array.
    """
    return _atleast("gnp.atleast_1d", 1, arys)


@_composite("numpy.atleast_2d")
def atleast_2d(*arys):
    """``np.atleast_2d(*arys)``: each argument with at least 2 dimensions (0-d to
    ``(1, 1)``, 1-D ``(n,)`` to the row ``(1, n)``: a ``reshape``); one argument gives
    one result, several a tuple.

    Raises:
        GraphcError: an argument that is not a graph value, number or array.
    """
    return _atleast("gnp.atleast_2d", 2, arys)


def _sequence_arg(tup, what: str) -> tuple:
    if isinstance(tup, (Node, np.ndarray)) or not isinstance(tup, (list, tuple)):
        raise GraphcError(f"{what} takes a list or tuple of arrays, got "
                          f"{type(tup).__name__}")
    if not tup:
        raise ShapeError(f"{what}: needs at least one array to concatenate")
    return tuple(tup)


def _stack_call(what: str, tup, build: Callable):
    arrays = _sequence_arg(tup, what)
    return _call(what, lambda *xs: _named(what, build, *xs), *arrays)


@_composite("numpy.hstack")
def hstack(tup, dtype=None, casting="same_kind"):
    """``np.hstack(tup)``: the arrays joined along their second axis (the first for
    1-D arrays; 0-d ones are taken as shape ``(1,)``): one ``concatenate``.

    Args:
        tup: a list or tuple of graph values, numbers or arrays. dtype: must be None
            (graph values keep their dtype). casting: accepted and ignored.

    Returns:
        The joined array.

    Raises:
        ShapeError: no arrays, shapes that differ off the joined axis, mixed numbers
            of dimensions. GraphcError: ``tup`` not a list or tuple, ``dtype`` given.
    """
    what = "gnp.hstack"
    _no_extra(what, dtype=dtype)

    def build(*xs):
        xs = [_at_least(x, 1) for x in xs]
        return array_ops.concatenate(*xs, axis=0 if _nd(xs[0]) == 1 else 1)
    return _stack_call(what, tup, build)


@_composite("numpy.vstack")
def vstack(tup, dtype=None, casting="same_kind"):
    """``np.vstack(tup)``: the arrays joined along their first axis after
    :func:`atleast_2d` (1-D arrays become rows): one ``concatenate``.

    Raises:
        ShapeError: no arrays, shapes that differ off the first axis.
        GraphcError: ``tup`` not a list or tuple, ``dtype`` given.
    """
    what = "gnp.vstack"
    _no_extra(what, dtype=dtype)
    return _stack_call(what, tup, lambda *xs: array_ops.concatenate(
        *[_at_least(x, 2) for x in xs], axis=0))


@_composite("numpy.column_stack")
def column_stack(tup):
    """``np.column_stack(tup)``: 1-D arrays as the columns ``(n, 1)`` of a matrix (0-d
    ones as ``(1, 1)``), joined with the 2-D (or higher) ones along the second axis:
    one ``concatenate``.

    Raises:
        ShapeError: no arrays, lengths that differ. GraphcError: ``tup`` not a list or
            tuple.
    """
    what = "gnp.column_stack"

    def column(x):
        if _nd(x) >= 2:
            return x
        return _reshape(x, (x.shape[0] if _nd(x) else 1, 1))
    return _stack_call(what, tup, lambda *xs: array_ops.concatenate(
        *[column(x) for x in xs], axis=1))


@_composite("numpy.tile")
def tile(A, reps):
    """``np.tile(A, reps)``: ``A`` repeated ``reps[i]`` times along axis ``i``; ``A``
    and ``reps`` are padded with leading 1s to the same length, so the result has
    ``max(A.ndim, len(reps))`` dimensions of sizes ``A.shape[i] * reps[i]``. Built as
    one ``reshape`` to ``(1, a0, 1, a1, ...)``, a ``broadcast_to`` ``(r0, a0, r1, a1,
    ...)`` and a ``reshape`` (its reverse mode sums the copies); an axis of symbolic
    length repeated ``r > 1`` times is a ``concatenate`` of ``r`` copies (forward mode
    goes through it; reverse mode through a concatenate of symbolic lengths raises
    NotDifferentiableError: declare that size with an int).

    Args:
        A: a graph value, number or array. reps: a non-negative int or a sequence of
            them.

    Raises:
        GraphcError: a negative or non-integer repetition count.
    """
    what = "gnp.tile"
    items = tuple(reps.tolist() if isinstance(reps, np.ndarray) else reps) \
        if isinstance(reps, (tuple, list, np.ndarray)) else (reps,)
    rs = [_count(r, what, "reps entry") for r in items]

    def build(x):
        d = _py_max(_py_len(rs), _nd(x))
        x = _reshape(x, (1,) * (d - _nd(x)) + tuple(x.shape))
        r = [1] * (d - _py_len(rs)) + rs
        for i in _py_range(d):  # symbolic lengths: r copies joined
            if r[i] > 1 and not isinstance(x.shape[i], int):
                x = array_ops.concatenate(*([x] * r[i]), axis=i)
                r[i] = 1
        if 0 in r:
            return ops.const(0.0, x.dtype, tuple(0 if k == 0 else s if k == 1 else s * k
                                                 for s, k in zip(x.shape, r)))
        if all(k == 1 for k in r):
            return x
        spread = tuple(v for s, k in zip(x.shape, r) for v in ((s,) if k == 1 else (1, s)))
        wide = tuple(v for s, k in zip(x.shape, r) for v in ((s,) if k == 1 else (k, s)))
        out = tuple(s if k == 1 else s * k for s, k in zip(x.shape, r))
        return _reshape(array_ops.broadcast_to(_reshape(x, spread), wide), out)
    return _call(what, lambda x: _named(what, build, x), A)


def _repeat_run(x: Node, ax: int, start: int, stop, count: int, what: str) -> Node:
    """Entries ``start:stop`` of axis ``ax`` each repeated ``count`` times: a slice
    with a new axis after ``ax``, broadcast to ``count`` and merged into ``ax``."""
    part = _take(x, ax, start, stop)
    if count == 1:
        return part
    n = _concrete(part.shape[ax], what, ax)
    head, tail = tuple(part.shape[:ax]), tuple(part.shape[ax + 1:])
    wide = array_ops.broadcast_to(_reshape(part, head + (n, 1) + tail),
                                  head + (n, count) + tail)
    return _reshape(wide, head + (n * count,) + tail)


@_composite("numpy.repeat")
def repeat(a, repeats, axis=None):
    """``np.repeat(a, repeats, axis)``: each entry along ``axis`` (of the flattened
    ``a`` for None) repeated ``repeats`` times (an int), or ``repeats[i]`` times for
    entry ``i`` (a sequence of ``a.shape[axis]`` ints, or of one). Each run of equal
    counts is one slice, broadcast along a new axis and reshaped (a view); runs are
    joined by ``concatenate``. Its reverse mode sums the copies.

    Args:
        a: a graph value, number or array. repeats: a non-negative int or a sequence
            of them (not a graph value: the result's length would depend on it).
        axis: an int or None.

    Raises:
        ShapeError: a bad axis, ``repeats`` of the wrong length, a symbolic length
            along the repeated axis (unless every count is 1), flattening a symbolic
            shape. GraphcError: negative, non-integer or graph-valued ``repeats``.
    """
    what = "gnp.repeat"
    if isinstance(repeats, Node):
        raise GraphcError(f"{what}: repeats is a graph value, but the length of the "
                          f"result would depend on it (a data-dependent shape); pass ints")
    per_entry = isinstance(repeats, (list, tuple, np.ndarray)) and np.ndim(repeats) > 0
    if per_entry:
        if np.ndim(repeats) > 1:
            raise ShapeError(f"{what}: repeats must be an int or a 1-D sequence of ints, "
                             f"got shape {np.shape(repeats)}")
        counts = [_count(v, what, "repeats") for v in np.asarray(repeats).tolist()]
    else:
        r = repeats.item() if isinstance(repeats, np.ndarray) else repeats
        counts = [_count(r, what, "repeats")]

    def build(x):
        if axis is None:
            x = _flatten(_reshape(x, (1,)) if _nd(x) == 0 else x, what)
            ax = 0
        else:
            ax = _axis1(axis, _py_max(_nd(x), 1), what)  # 0-d: as shape (1,), as NumPy
            x = _reshape(x, (1,)) if _nd(x) == 0 else x
        if _py_len(counts) != 1:
            n = _concrete(x.shape[ax], what, ax)
            if _py_len(counts) != n:
                raise ShapeError(f"{what}: {_py_len(counts)} repeat counts for axis {ax} "
                                 f"of length {n} (give one count, or one per entry)")
        if _py_len(set(counts)) == 1:
            runs = [(0, None, counts[0])]
        else:
            runs, start = [], 0
            for i in _py_range(1, _py_len(counts) + 1):
                if i == _py_len(counts) or counts[i] != counts[start]:
                    runs.append((start, i, counts[start]))
                    start = i
        pieces = [_repeat_run(x, ax, s, e, c, what) for s, e, c in runs if c > 0]
        if not pieces:
            return ops.const(0.0, x.dtype,
                             tuple(x.shape[:ax]) + (0,) + tuple(x.shape[ax + 1:]))
        return array_ops.concatenate(*pieces, axis=ax)
    return _call(what, lambda x: _named(what, build, x), a)


# ---------------------------------------------------------------------------------
# gather, scatter-add, det (graphc.ir.index_ops)

@_composite("numpy.take")
def take(a, indices, axis=None):
    """``np.take(a, indices, axis)``: entries of ``a`` at integer ``indices`` along
    ``axis`` (``a`` flattened for None), shape ``a.shape[:axis] + indices.shape +
    a.shape[axis+1:]``; negative indices count from the end. Indices: an integer
    array/list/number (a constant) or a graph value holding integers (checked when
    the graph runs: InputError outside ``[-n, n)``). One ``gather`` node.

    Raises:
        ShapeError: non-integer constant indices, a constant index out of bounds.
    """
    return _index_call("gnp.take", lambda x, i: _index_ops().take(x, i, axis), a, indices)


@_composite("numpy.take_along_axis")
def take_along_axis(arr, indices, axis):
    """``np.take_along_axis(arr, indices, axis)``: ``indices`` has ``arr``'s number of
    dimensions and broadcasts against it off ``axis`` (None: ``arr`` flattened). One
    ``gather`` node; indices as :func:`take`.

    Raises:
        ShapeError: a different number of dimensions, shapes that do not broadcast.
    """
    return _index_call("gnp.take_along_axis",
                       lambda x, i: _index_ops().take_along_axis(x, i, axis), arr, indices)


def add_at(a, indices, values, axis=0):
    """Functional ``np.add.at(a, indices, values)`` (JAX: ``a.at[indices].add(values)``):
    a new array, ``a`` with ``values`` added at ``indices`` along ``axis``; repeated
    indices accumulate. ``values`` broadcast to ``take(a, indices, axis)``'s shape.
    One ``scatter_add`` node (the transpose of :func:`take`); ``a`` is not modified.

    Raises:
        ShapeError: as :func:`take`, or values that do not broadcast.
    """
    return _index_call("gnp.add_at",
                       lambda x, i, v: _index_ops().take_scatter_add(x, i, v, axis),
                       a, indices, values)


def _index_ops():
    from .ir import index_ops
    return index_ops


def _index_call(what: str, build: Callable[..., Node], a, indices, *rest) -> Any:
    """:func:`_call` with the indices passed on as given (an integer array stays one,
    so the builder can check it is integral and in range when the graph is built)."""
    like = _like((a, indices) + rest)
    if like is None:
        return _eager(build, (a, indices) + rest, what)
    return build(operand(a, what, like), indices, *[operand(r, what, like) for r in rest])


class _Linalg:
    """``gnp.linalg``: NumPy's ``linalg`` names that graphc has (``det``)."""

    @staticmethod
    def det(a):
        """``np.linalg.det(a)``: the determinant of each matrix of ``a`` (shape
        ``(..., n, n)``), by LU with partial pivoting (the primitive ``det``).

        Raises:
            ShapeError: ``a`` is not a stack of square matrices.
        """
        return _call("gnp.linalg.det", lambda x: _index_ops().det(x), a)


linalg = _Linalg()
"""``gnp.linalg.det``."""


def _sort_args(what: str, kind, order, stable) -> None:
    _index_ops().check_sort_kind(kind, what)
    if order is not None:
        raise GraphcError(f"{what}: order= sorts structured arrays by field; graph values "
                          f"have no fields")
    if stable is not None and not isinstance(stable, (bool, np.bool_)):
        raise GraphcError(f"{what}: stable must be True, False or None, got {stable!r}")


@_composite("numpy.sort")
def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``np.sort(a, axis, kind="stable")``: ``a`` sorted ascending along ``axis`` (the
    flattened ``a`` for None), NaNs last, ``-0.0`` and ``0.0`` equal (kept in order).
    Built as ``take_along_axis(a, argsort(a), axis)``: one ``argsort`` node and one
    ``gather`` (transposes for an axis that is not the last), so the derivative is the
    permutation of the tangent (JVP: the tangent gathered by the sorting permutation;
    VJP: the cotangent scattered back), at ties the stable permutation's, as JAX's.

    Args:
        a: a graph value, number or array (at least 1-D unless ``axis`` is None).
        axis: an int or None. ``kind``: None or one of NumPy's names (``"stable"``,
            ``"quicksort"``, ``"mergesort"``, ``"heapsort"``); graphc's sort is always
            stable, a valid result of every kind. ``order``: must be None. ``stable``:
            None, True or False (always stable).

    Returns:
        ``a``'s shape (``(a.size,)`` for ``axis=None``), its dtype.

    Raises:
        ShapeError: a bad axis, a 0-d ``a`` with an axis, a float32 axis longer than
            2**24. GraphcError: an unknown ``kind``, ``order=``.
    """
    _sort_args("gnp.sort", kind, order, stable)
    return _call("gnp.sort", lambda x: _index_ops().sort(x, axis), a)


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``np.argsort(a, axis, kind="stable")``: the indices that sort ``a`` ascending
    along ``axis`` (flattened for None), NaNs last, ties in index order: the primitive
    ``argsort`` (of the last axis; transposes around it for another axis). Indices are
    floats of ``a``'s dtype holding integers, like every graphc index; their derivative
    is zero (piecewise constant). Arguments as :func:`sort`.

    Returns:
        ``a``'s shape (``(a.size,)`` for ``axis=None``), ``a``'s float dtype.

    Raises:
        ShapeError: a bad axis, a 0-d ``a`` with an axis, a float32 axis longer than
            2**24. GraphcError: an unknown ``kind``, ``order=``.
    """
    _sort_args("gnp.argsort", kind, order, stable)
    return _call("gnp.argsort", lambda x: _index_ops().argsort(x, axis), a)


_WRITTEN = {"matmul": "matmul", "dot": "matmul", "transpose": "transpose",
            "reshape": "reshape", "broadcast_to": "broadcast_to",
            "concatenate": "concatenate", "stack": "concatenate", "where": "where",
            "softmax": "softmax", "log_softmax": "log_softmax", "size": "size",
            "argsort": "argsort"}
NAMES.update(_WRITTEN)
_FIXED = set(NAMES) | set(COMPOSITES) | {"clip", "ndim", "shape", "array", "asarray"}
_SKIP = {"input", "const"}


def _numpy_names(prim: Primitive) -> list[str]:
    impl = prim.impl
    names = [impl.__name__] if isinstance(impl, np.ufunc) else []
    names += [NUMPY_NAMES.get(prim.name), prim.name, *prim.aliases]
    return [n for n in names if n and n.isidentifier() and not keyword.iskeyword(n)]


def refresh() -> list[str]:
    """(Re)generate a function for every NumPy name of every registered primitive not
    written out here, and drop those of primitives no longer registered; returns the
    names defined. Called on import and after every registry change."""
    for name, prim_name in list(NAMES.items()):
        if prim_name not in PRIMITIVES and name not in _FIXED:
            del NAMES[name]
            globals().pop(name, None)
    defined = []
    for prim in list(PRIMITIVES.values()):
        if prim.name in _SKIP:
            continue
        for name in _numpy_names(prim):
            if name in _FIXED or name in defined:
                continue
            if NAMES.get(name, prim.name) != prim.name:
                continue
            if NAMES.get(name) != prim.name or name not in globals():
                globals()[name] = _generated(prim, name)  # else kept: gnp.sin is gnp.sin
            NAMES[name] = prim.name
            defined.append(name)
    return defined


refresh()
on_registry_change(refresh)

__all__ = sorted(set(NAMES) | set(COMPOSITES) | {"COMPOSITES", "NAMES", "array", "asarray",
                                                 "add_at", "linalg",
                                                 "clip", "ndim", "refresh", "shape"})
