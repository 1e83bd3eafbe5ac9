"""Gather, scatter-add and the determinant: the array primitives of issue 15, part 4.

Three records, like those of :mod:`graphc.ir.array_ops`:

* ``gather(x, indices, axis)``: NumPy's ``take_along_axis`` with broadcasting:
  ``x`` and ``indices`` have the same number of dimensions; every axis but ``axis``
  broadcasts between them, and ``out[p] = x[p with p[axis] replaced by
  indices[p]]``. ``np.take``, ``np.take_along_axis`` and integer-array indexing
  (``x[idx]``, ``x[:, idx]``) are built from it by reshapes (:func:`take`,
  :func:`take_along_axis`).
* ``scatter_add(x, indices, values, axis)``: its transpose. ``out = x`` plus, for
  every position ``p`` of the broadcast shape of the three arguments, ``values[p]``
  added at ``p`` with ``p[axis]`` replaced by ``indices[p]`` (and at 0 along axes where
  ``x`` has length 1); repeated indices accumulate, as ``np.add.at`` and JAX's
  ``x.at[idx].add(v)``. :func:`take_scatter_add` is the transpose of :func:`take`.
* ``det(a)``: the determinant of each matrix of a stack ``(..., n, n)``, by LU
  factorisation with partial pivoting (Golub & Van Loan, *Matrix Computations*, 4th
  ed., §3.4: ``PA = LU``, ``det A = (-1)^swaps · Π u_kk``), as LAPACK's ``getrf``
  behind ``np.linalg.det``.
* ``argsort(x)``: along the last axis, the indices (floats of ``x``'s dtype, ``x``'s
  shape) of a stable ascending sort with NaNs last, exactly ``np.argsort(x, axis=-1,
  kind="stable")``: ``-0.0`` and ``0.0`` tie (kept in index order), ``-inf`` first.
  :func:`sort` is a composite, ``take_along_axis(x, argsort(x), -1)`` (the axis moved
  to the end and back for other axes). The backends sort each row with a bottom-up
  merge sort (insertion sort on runs of :data:`SORT_RUN` first): O(n log n), stable
  (Knuth, *The Art of Computer Programming* vol. 3, §5.2.4).

Indices are graph values of the float dtype of the array they index (graphc graphs
are float32/float64) that hold integers: a NumPy integer array becomes a constant, and
a graph input holding indices is an ordinary float input that the caller fills with
integers (an ``int`` array argument is converted). Each must be an integer in ``[-n,
n)`` for an axis of length ``n``, negative counting from the end as in NumPy; every
backend checks this before it runs (:func:`index_uses`, :func:`check_indices`) and
raises :class:`~graphc.ir.errors.InputError` otherwise, never reading or writing out
of bounds. (JAX instead clamps a gather and drops a scatter out of range.) Float32
indices are exact below 2**24, so a float32 array may not index an axis longer than
that (ShapeError).

Derivatives: ``gather`` and ``scatter_add`` are linear in the array arguments; the
VJP of ``gather`` is ``scatter_add`` into zeros and the VJP of ``scatter_add`` with
respect to ``values`` is ``gather``; indices get no derivative (piecewise constant).
For ``det``: ``d det(A) = det(A) tr(A⁻¹ dA) = tr(adj(A) dA)`` (Giles, "An extended
collection of matrix derivative results for forward and reverse mode algorithmic
differentiation", 2008, §2.2.2), with the adjugate formed from cofactors,
``adj(A)ᵀ_ij = (-1)^(i+j) det(A without row i and column j)``: no inverse, so the rule
is exact at singular matrices too (where ``det(A) A⁻¹`` is 0·∞). It costs n² determinants
of order n-1 (O(n⁵)), built from ``gather`` and ``det`` themselves, so derivatives of
any order follow. ``argsort`` is piecewise constant (``differentiable=False``: zero
derivative), so the derivative of ``sort`` is that of the gather by the permutation:
its JVP sorts the tangent by the permutation, its VJP scatters the cotangent back. At
ties the permutation is the stable one, as JAX's ``jnp.sort`` (which sorts an iota
along with the keys).
"""

from __future__ import annotations

import numpy as np

from . import batching as _b
from . import ops
from .array_ops import (FUNCTIONS, broadcast_to, fit_shape, normalize_axes, reshape, sum,
                        transpose)
from .errors import GraphcError, InputError, ShapeError
from .node import Node
from .primitive import Primitive, apply, register
from .shapes import format_shape

B = 2.0

FLOAT32_EXACT = 2 ** 24
"""Integers of magnitude up to this are exact in float32; longer float32 axes cannot
be indexed."""


# ---------------------------------------------------------------------------------
# shape helpers

def _bdim(a, b, what: str):
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    raise ShapeError(f"{what}: sizes {a} and {b} do not broadcast")


def _axis_canon(x, *_args, axis=0, **_):
    ax = normalize_axes(axis, x.shape, allow_none=False)
    if len(ax) != 1:
        raise ShapeError("takes one axis")
    return {"axis": ax[0]}


def _same_ndim(what: str, *nodes: Node) -> None:
    nd = len(nodes[0].shape)
    for n in nodes[1:]:
        if len(n.shape) != nd:
            raise ShapeError(f"{what}: arguments of shapes "
                             f"{' and '.join(format_shape(m.shape) for m in nodes)} must "
                             f"have the same number of dimensions")


def _check_length(x: Node, axis: int) -> None:
    n = x.shape[axis]
    if x.dtype == "float32" and isinstance(n, int) and n > FLOAT32_EXACT:
        raise ShapeError(f"axis {axis} has length {n}: float32 indices are exact only up "
                         f"to 2**24; use float64")


def _gather_shape(x, idx, *, axis, **_):
    _same_ndim("gather", x, idx)
    _check_length(x, axis)
    out = []
    for d, (a, b) in enumerate(zip(x.shape, idx.shape)):
        out.append(b if d == axis else _bdim(a, b, f"gather axis {d}"))
    return tuple(out)


def _scatter_iter_shape(x_shape, idx_shape, v_shape, axis) -> tuple:
    """The shape ``P`` a scatter runs over (see the module docstring)."""
    P = []
    for d in range(len(x_shape)):
        if d == axis:
            P.append(_bdim(idx_shape[d], v_shape[d], f"scatter_add axis {d}"))
        else:
            P.append(_bdim(_bdim(x_shape[d], idx_shape[d], f"scatter_add axis {d}"),
                           v_shape[d], f"scatter_add axis {d}"))
    return tuple(P)


def _scatter_shape(x, idx, v, *, axis, **_):
    _same_ndim("scatter_add", x, idx, v)
    _check_length(x, axis)
    _scatter_iter_shape(x.shape, idx.shape, v.shape, axis)
    return tuple(x.shape)


# ---------------------------------------------------------------------------------
# run-time index checks

def check_indices(indices, length: int, name: str) -> None:
    """Check that every entry of ``indices`` (a NumPy float array, any shape) indexes an
    axis of ``length``: an integer in ``[-length, length)``, not NaN.

    Raises:
        InputError: names the indices (``name``), the first bad entry's position and
            value, and the valid range (as NumPy's "index 5 is out of bounds for axis
            0 with size 4").
    """
    arr = np.asarray(indices)
    with np.errstate(invalid="ignore"):
        good = (arr >= -length) & (arr < length) & (arr == np.floor(arr))
    if good.all():
        return
    pos = tuple(int(i) for i in np.argwhere(~good)[0])
    value = float(arr[pos])
    what = ("not a number" if np.isnan(value) else
            "not an integer" if np.isfinite(value) and value != np.floor(value) else
            "out of bounds")
    raise InputError(f"indices {name}: the entry at position {pos} is {value!r} ({what}); "
                     f"indices into an axis of length {length} must be integers in "
                     f"[-{length}, {length})")


def index_uses(graph) -> list[tuple[Node, Node, int]]:
    """Where ``graph`` reads indices: ``(user, indices, length)`` for every ``gather``
    and ``scatter_add`` node, ``length`` the (possibly symbolic) length of the axis they
    index. Backends check the values with :func:`check_indices` before running."""
    uses = []
    for n in graph.nodes:
        if n.prim is gather_p or n.prim is scatter_add_p:
            axis = dict(n.params)["axis"]
            if _sorted_indices(n.args[1], n.args[0].shape[axis]):
                continue
            uses.append((n, n.args[1], n.args[0].shape[axis]))
    return uses


_INDEX_VIEWS = ("reshape", "broadcast_to", "transpose")


def _sorted_indices(idx: Node, length) -> bool:
    """True when ``idx`` is an ``argsort`` result (seen through reshapes, broadcasts
    and transposes) over an axis no longer than ``length``: valid by construction, so
    :func:`index_uses` leaves it out (``sort`` needs no run-time check)."""
    while idx.prim.name in _INDEX_VIEWS:
        idx = idx.args[0]
    if idx.prim is not argsort_p:
        return False
    m = idx.shape[-1]
    return m == length or (isinstance(m, int) and isinstance(length, int) and m <= length)


def _as_index_array(indices, length: int) -> np.ndarray:
    arr = np.asarray(indices, dtype=np.float64)
    check_indices(arr, length, "(an argument)")
    arr = arr.astype(np.int64)
    return np.where(arr < 0, arr + length, arr)


# ---------------------------------------------------------------------------------
# NumPy implementations (the reference semantics)

def _np_gather(x, idx, axis, **_):
    x = np.asarray(x)
    idx = np.asarray(idx)
    shape = tuple(i if d == axis else _bdim(a, i, "gather")
                  for d, (a, i) in enumerate(zip(x.shape, idx.shape)))
    xs = tuple(x.shape[axis] if d == axis else s for d, s in enumerate(shape))
    ii = _as_index_array(np.broadcast_to(idx, shape), x.shape[axis])
    return np.take_along_axis(np.broadcast_to(x, xs), ii, axis=axis)


def _np_scatter_add(x, idx, v, axis, **_):
    x = np.asarray(x)
    P = _scatter_iter_shape(x.shape, np.shape(idx), np.shape(v), axis)
    out = np.array(x, dtype=np.result_type(x, np.float32), copy=True)
    ii = _as_index_array(np.broadcast_to(idx, P), x.shape[axis])
    where = []
    for d in range(x.ndim):
        if d == axis:
            where.append(ii)
        elif x.shape[d] == 1:
            where.append(np.zeros(P, dtype=np.int64))
        else:
            shape = [1] * x.ndim
            shape[d] = P[d]
            where.append(np.broadcast_to(np.arange(P[d]).reshape(shape), P))
    np.add.at(out, tuple(where), np.broadcast_to(np.asarray(v, dtype=out.dtype), P))
    return out


def _np_det(a, **_):
    a = np.asarray(a)
    if a.shape[-1] == 0:
        return np.ones(a.shape[:-2], dtype=a.dtype)
    return np.linalg.det(a).astype(a.dtype)


def _np_argsort(x, **_):
    x = np.asarray(x)
    return np.argsort(x, axis=-1, kind="stable").astype(np.result_type(x.dtype, np.float32))


def _argsort_shape(x, **_):
    if not x.shape:
        raise ShapeError("argsort needs an array of at least one dimension (it sorts "
                         "along the last axis), got a scalar")
    _check_length(x, len(x.shape) - 1)
    return tuple(x.shape)


# ---------------------------------------------------------------------------------
# derivative rules

def _gather_jvp(x, idx, *, out, tangents, axis, **_):
    t = tangents[0]
    if t is None:
        return None
    return gather(broadcast_to(t, x.shape), idx, axis)


def _gather_vjp(x, idx, *, out, cotangent, axis, **_):
    zeros = ops.const(0.0, x.dtype, x.shape)
    return scatter_add(zeros, idx, cotangent, axis), None


def _scatter_jvp(x, idx, v, *, out, tangents, axis, **_):
    tx, _ti, tv = tangents
    if tv is None:
        return None if tx is None else broadcast_to(tx, x.shape)
    base = ops.const(0.0, x.dtype, x.shape) if tx is None else broadcast_to(tx, x.shape)
    return scatter_add(base, idx, broadcast_to(tv, v.shape), axis)


def _scatter_vjp(x, idx, v, *, out, cotangent, axis, **_):
    P = _scatter_iter_shape(x.shape, idx.shape, v.shape, axis)
    g = gather(cotangent, broadcast_to(idx, P), axis)
    return cotangent, None, fit_shape(g, v.shape)


def cofactors(a) -> Node:
    """The cofactor matrices of a stack ``a`` of shape ``(..., n, n)``:
    ``C[..., i, j] = (-1)^(i+j) det(a[..., i, j removed])``, the transposed adjugate
    (``C = det(A) A⁻ᵀ`` where ``A`` is invertible), exact at singular matrices. Built
    from two ``gather`` nodes (every minor, shape ``(..., n, n, n-1, n-1)``) and one
    batched ``det``: O(n⁵) work, O(n⁴) memory."""
    from .numpy_dispatch import array_constant
    a = ops.lift(a)
    n = a.shape[-1]
    if not isinstance(n, int):
        raise ShapeError(f"the cofactors (and so the derivative of det) of a matrix of "
                         f"symbolic order {n} need a concrete order: declare it with an "
                         f"int in shapes=")
    lead = a.shape[:-2]
    if n == 0:
        return a
    if n == 1:
        return ops.const(1.0, a.dtype, a.shape)
    # rows[i, r] = r + (r >= i): the rows (or columns) left when i is removed
    r = array_constant(np.arange(n - 1, dtype=float).reshape(1, n - 1), a.dtype, "iota")
    i = array_constant(np.arange(n, dtype=float).reshape(n, 1), a.dtype, "iota")
    rows = ops.add(r, ops.ge(r, i))                                 # (n, n-1)
    m1 = take(a, rows, axis=len(lead))                             # (..., i, r, n)
    m2 = take(m1, rows, axis=len(lead) + 2)                        # (..., i, r, j, c)
    k = len(lead)
    perm = tuple(range(k)) + (k, k + 2, k + 1, k + 3)
    minors = transpose(m2, perm)                                   # (..., i, j, r, c)
    s = array_constant(np.array([1.0, -1.0] * ((n + 1) // 2))[:n], a.dtype, "signs")
    sign = ops.mul(reshape(s, (n, 1)), reshape(s, (1, n)))
    return ops.mul(det(minors), sign)


def _det_jvp(a, *, out, tangents, **_):
    t = tangents[0]
    if t is None:
        return None
    return sum(ops.mul(cofactors(a), broadcast_to(t, a.shape)), axis=(-2, -1))


def _det_vjp(a, *, out, cotangent, **_):
    g = reshape(cotangent, tuple(cotangent.shape) + (1, 1))
    return (ops.mul(broadcast_to(g, a.shape), cofactors(a)),)


def _det_shape(a, **_):
    s = a.shape
    if len(s) < 2 or s[-1] != s[-2]:
        raise ShapeError(f"det needs square matrices (..., n, n), got shape "
                         f"{format_shape(s)}")
    return tuple(s[:-2])


# ---------------------------------------------------------------------------------
# records

# ---------------------------------------------------------------------------------
# batching rules (the ``batch`` field; graphc.vmap): see graphc/ir/batching.py

def _gather_batch(node, args, axes):
    """The batch first (a leading 1 where an argument has none: it broadcasts)."""
    x, idx = (_b.add_leading_one(a, ax) for a, ax in zip(args, axes))
    return _b.rebind(node, x, idx, axis=node.param("axis") + 1), 0


def _scatter_batch(node, args, axes):
    """The batch first; the array scattered into gets the whole batch axis (a length-1
    axis of ``x`` would mean "scatter at 0")."""
    x = _b.to_front(args[0], axes[0], _b.batch_size(args, axes))
    idx, v = (_b.add_leading_one(a, ax) for a, ax in zip(args[1:], axes[1:]))
    return _b.rebind(node, x, idx, v, axis=node.param("axis") + 1), 0


def _det_batch(node, args, axes):
    return _b.rebind(node, _b.moveaxis(args[0], axes[0], 0)), 0


def _argsort_batch(node, args, axes):
    """The batch first: the sorted axis stays last."""
    return _b.rebind(node, _b.moveaxis(args[0], axes[0], 0)), 0


gather_p = register(Primitive(
    "gather", 2, _np_gather, "gather({0}, {1}, axis={axis})",
    latex=r"{0}\left[{1}\right]", llvm="array.gather", cuda="array.gather",
    param_names=("axis",), param_defaults={"axis": 0}, canonical=_axis_canon,
    shape_rule=_gather_shape, elementwise=False, jvp=_gather_jvp, vjp=_gather_vjp,
    batch=_gather_batch,
    integer_args=lambda shapes, params: {1: (-shapes[0][params["axis"]],
                                             shapes[0][params["axis"]])},
    domain=((-B, B), (-3.0, 3.0)),
    examples=((((5,), (7,)), {"axis": 0}), (((4, 3), (4, 6)), {"axis": 1}),
              (((4, 3), (1, 3)), {"axis": 0}), (((1, 5), (3, 2)), {"axis": 1})),
    doc="take_along_axis with broadcasting: out[p] = x[p with p[axis] = indices[p]] "
        "(integer indices in [-n, n), checked at call time)"))

scatter_add_p = register(Primitive(
    "scatter_add", 3, _np_scatter_add, "scatter_add({0}, {1}, {2}, axis={axis})",
    latex=r"{0} \overset{{{1}}}{{+}} {2}", llvm="array.scatter_add", cuda="array.scatter_add",
    param_names=("axis",), param_defaults={"axis": 0}, canonical=_axis_canon,
    shape_rule=_scatter_shape, elementwise=False, jvp=_scatter_jvp, vjp=_scatter_vjp,
    batch=_scatter_batch,
    integer_args=lambda shapes, params: {1: (-shapes[0][params["axis"]],
                                             shapes[0][params["axis"]])},
    domain=((-B, B), (-3.0, 3.0), (-B, B)),
    examples=((((5,), (7,), (7,)), {"axis": 0}), (((4, 3), (4, 6), (4, 6)), {"axis": 1}),
              (((4, 3), (2, 1), (2, 3)), {"axis": 0}),
              (((1, 5), (3, 2), (3, 2)), {"axis": 1})),
    doc="x plus values added at indices along axis (repeated indices accumulate; the "
        "transpose of gather)"))

det_p = register(Primitive(
    "det", 1, _np_det, "det({0})", latex=r"\det {0}", textbook="det {0}",
    llvm="array.det", cuda="array.det", shape_rule=_det_shape, elementwise=False,
    batch=_det_batch,
    jvp=_det_jvp, vjp=_det_vjp, domain=((-B, B),),
    examples=((((3, 3),), {}), (((2, 4, 4),), {}), (((1, 1),), {}), (((2, 2),), {})),
    doc="determinant of each matrix of a stack (..., n, n): LU with partial pivoting"))

SORT_RUN = 16
"""The backends' merge sort first sorts runs of this many entries by insertion."""

argsort_p = register(Primitive(
    "argsort", 1, _np_argsort, "argsort({0})",
    latex=r"\operatorname{{argsort}}\left({0}\right)", textbook="argsort {0}",
    llvm="array.argsort", cuda="array.argsort", shape_rule=_argsort_shape,
    elementwise=False, differentiable=False, smooth=False, batch=_argsort_batch,
    domain=((-B, B),),
    examples=((((7,),), {}), (((3, 5),), {}), (((2, 1, 6),), {}), (((4, 1),), {}),
              (((2, 40),), {})),
    doc="indices of a stable ascending sort along the last axis, NaNs last (np.argsort "
        "kind='stable'); derivative 0 (piecewise constant)"))


# ---------------------------------------------------------------------------------
# builders

def _index_node(indices, like: Node, what: str) -> Node:
    """``indices`` as a graph value of ``like``'s dtype: a node (of that dtype, or
    float32 next to float64) or an integer array/list/number, made a constant."""
    from .numpy_dispatch import array_constant
    if isinstance(indices, Node):
        if indices.dtype == "float64" and like.dtype == "float32":
            raise ShapeError(f"{what}: float64 indices for a float32 array; declare the "
                             f"indices input float32 (integers below 2**24 are exact)")
        return indices
    arr = np.asarray(indices)
    if arr.dtype.kind == "b":
        raise ShapeError(f"{what}: boolean masks are not supported; use gnp.where")
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and
                                       not np.all(arr == np.floor(arr))):
        raise ShapeError(f"{what}: indices must be integers, got {arr.dtype} {arr!r:.60}")
    if arr.size and np.abs(arr).max() > FLOAT32_EXACT and like.dtype == "float32":
        raise ShapeError(f"{what}: index {int(np.abs(arr).max())} is not exact in float32")
    if arr.ndim == 0:
        return ops.const(float(arr), like.dtype)
    return array_constant(arr.astype(np.float64), like.dtype, what)


def _check_static(idx: Node, n, what: str) -> None:
    """A constant index out of range is an error when the graph is built."""
    if isinstance(n, int) and idx.is_const:
        v = float(idx.value)
        if not (-n <= v < n):
            raise ShapeError(f"{what}: index {int(v)} is out of bounds for an axis of "
                             f"length {n}")


def gather(x, indices, axis=0) -> Node:
    """The primitive: ``take_along_axis(x, indices, axis)`` with broadcasting (see the
    module docstring). ``indices``: a node of ``x``'s dtype holding integers or an
    integer array; same number of dimensions as ``x``."""
    x = ops.lift(x)
    idx = _index_node(indices, x, "gather")
    return apply(gather_p, x, idx, axis=axis)


def scatter_add(x, indices, values, axis=0) -> Node:
    """The primitive: ``x`` with ``values`` added at ``indices`` along ``axis`` (see the
    module docstring; all three have the same number of dimensions)."""
    x = ops.lift(x)
    idx = _index_node(indices, x, "scatter_add")
    if isinstance(values, Node) or np.isscalar(values):
        v = ops.lift(values, x)
    else:
        from .numpy_dispatch import array_constant
        v = array_constant(values, x.dtype, "scatter_add values")
    return apply(scatter_add_p, x, idx, v, axis=axis)


def det(a) -> Node:
    """``np.linalg.det(a)`` for ``a`` of shape ``(..., n, n)``: shape ``(...)``.

    Raises:
        ShapeError: ``a`` is not a stack of square matrices.
    """
    return apply(det_p, ops.lift(a))


SORT_KINDS = (None, "stable", "quicksort", "mergesort", "heapsort")
"""The ``kind=`` values :func:`check_sort_kind` accepts (NumPy's names); graphc's sort
is always the stable one, whatever the name."""


def check_sort_kind(kind, what: str) -> None:
    """Accept NumPy's sort ``kind`` names (or None); graphc always sorts stably, which
    is one valid result of every kind.

    Raises:
        GraphcError: any other value (names ``what`` and the accepted names).
    """
    if kind is None or (isinstance(kind, str) and kind in SORT_KINDS):
        return
    raise GraphcError(f"{what}: kind={kind!r} is not one of NumPy's sort kinds "
                      f"{', '.join(repr(k) for k in SORT_KINDS[1:])} (graphc always sorts "
                      f"stably)")


def _to_last(x: Node, axis) -> tuple[Node, int]:
    """``x`` (flattened for ``axis=None``) with ``axis`` moved last, and that axis."""
    if axis is None:
        x = reshape(x, (-1,)) if len(x.shape) != 1 else x
        axis = 0
    if not x.shape:
        raise ShapeError("sort/argsort of a scalar: give axis=None (NumPy sorts the "
                         "flattened value) or an array")
    ax = normalize_axes(axis, x.shape, allow_none=False)[0]
    last = len(x.shape) - 1
    if ax != last:
        x = transpose(x, tuple(d for d in range(last + 1) if d != ax) + (ax,))
    return x, ax


def _from_last(y: Node, ax: int) -> Node:
    """The inverse of :func:`_to_last`'s transpose."""
    last = len(y.shape) - 1
    if ax == last:
        return y
    perm = tuple(d for d in range(last + 1) if d != ax) + (ax,)
    return transpose(y, tuple(int(i) for i in np.argsort(perm)))


def argsort(x, axis=-1) -> Node:
    """``np.argsort(x, axis, kind="stable")``: the indices (floats of ``x``'s dtype,
    ``x``'s shape; flattened ``(x.size,)`` for ``axis=None``) that sort ``x`` ascending
    along ``axis``, NaNs last, ties in index order. One ``argsort`` node (with
    transposes for an axis that is not the last). Derivative zero.

    Raises:
        ShapeError: a bad axis, a scalar with an axis, a float32 axis longer than 2**24.
    """
    xt, ax = _to_last(ops.lift(x), axis)
    return _from_last(apply(argsort_p, xt), ax)


def sort(x, axis=-1) -> Node:
    """``np.sort(x, axis)`` (stable; NaNs last; flattened for ``axis=None``): the
    composite ``take_along_axis(x, argsort(x), axis)`` of one ``argsort`` and one
    ``gather`` node, so its JVP gathers the tangent by the sorting permutation and its
    VJP scatters the cotangent back (JAX's derivative of ``jnp.sort``).

    Raises:
        ShapeError: a bad axis, a scalar with an axis, a float32 axis longer than 2**24.
    """
    xt, ax = _to_last(ops.lift(x), axis)
    last = len(xt.shape) - 1
    return _from_last(gather(xt, apply(argsort_p, xt), last), ax)


def _take_layout(x: Node, idx: Node, axis: int):
    """Reshapes that turn ``take(x, idx, axis)`` into one ``gather``: ``x`` gets
    ``k - 1`` new axes of length 1 before ``axis`` (``k = idx.ndim``), ``idx`` gets
    length-1 axes around it; returns ``(x', idx', axis')``."""
    k = len(idx.shape)
    lead, rest = tuple(x.shape[:axis]), tuple(x.shape[axis + 1:])
    n = x.shape[axis]
    if k == 0:
        return x, reshape(idx, (1,) * (axis + 1 + len(rest))), axis
    xr = x if k == 1 else reshape(x, lead + (1,) * (k - 1) + (n,) + rest)
    want = (1,) * len(lead) + tuple(idx.shape) + (1,) * len(rest)
    ir = idx if tuple(idx.shape) == want else reshape(idx, want)
    return xr, ir, axis + k - 1


def take(a, indices, axis=None) -> Node:
    """``np.take(a, indices, axis)``: the entries of ``a`` at ``indices`` along ``axis``
    (``a`` flattened for ``axis=None``); shape ``a.shape[:axis] + indices.shape +
    a.shape[axis+1:]``. Negative indices count from the end.

    Args:
        a: a graph value (any shape).
        indices: integers: a NumPy integer array, list or number (a constant), or a
            graph value of ``a``'s dtype holding integers (checked at call time).
        axis: an int, or None.

    Raises:
        ShapeError: non-integer or boolean constant indices, a constant index out of
            bounds, a bad axis.
        InputError (at call time): indices that are not integers in ``[-n, n)``.
    """
    a = ops.lift(a)
    if axis is None:
        a = reshape(a, (-1,)) if len(a.shape) != 1 else a
        axis = 0
    ax = normalize_axes(axis, a.shape, allow_none=False)[0]
    idx = _index_node(indices, a, "take")
    _check_static(idx, a.shape[ax], "take")
    xr, ir, axr = _take_layout(a, idx, ax)
    out = gather(xr, ir, axr)
    if not idx.shape:
        out = reshape(out, tuple(a.shape[:ax]) + tuple(a.shape[ax + 1:]))
    return out


def take_scatter_add(a, indices, values, axis=0) -> Node:
    """The transpose of :func:`take`: ``a`` with ``values`` added at ``indices`` along
    ``axis`` (repeated indices accumulate), ``values`` broadcast to the shape of
    ``take(a, indices, axis)``; JAX's ``a.at[indices].add(values)`` for ``axis=0``.

    Raises:
        ShapeError: as :func:`take`, or values that do not broadcast.
    """
    a = ops.lift(a)
    ax = normalize_axes(axis, a.shape, allow_none=False)[0]
    idx = _index_node(indices, a, "add")
    _check_static(idx, a.shape[ax], "add")
    lead, rest = tuple(a.shape[:ax]), tuple(a.shape[ax + 1:])
    target = lead + tuple(idx.shape) + rest
    if isinstance(values, Node):
        v = values
    elif np.isscalar(values):
        v = ops.lift(values, a)
    else:
        from .numpy_dispatch import array_constant
        v = array_constant(values, a.dtype, "the values to add")
    v = broadcast_to(v, target)
    xr, ir, axr = _take_layout(a, idx, ax)
    if not idx.shape:
        v = reshape(v, lead + (1,) + rest)
    out = scatter_add(xr, ir, v, axr)
    return reshape(out, a.shape) if out.shape != a.shape else out


def take_along_axis(arr, indices, axis) -> Node:
    """``np.take_along_axis(arr, indices, axis)``: ``indices`` has ``arr``'s number of
    dimensions and broadcasts against it on the other axes; ``axis=None`` flattens
    ``arr`` (``indices`` 1-D). Indices as in :func:`take`.

    Raises:
        ShapeError: a different number of dimensions, shapes that do not broadcast.
    """
    arr = ops.lift(arr)
    if axis is None:
        arr = reshape(arr, (-1,)) if len(arr.shape) != 1 else arr
        axis = 0
    ax = normalize_axes(axis, arr.shape, allow_none=False)[0]
    idx = _index_node(indices, arr, "take_along_axis")
    if len(idx.shape) != len(arr.shape):
        raise ShapeError(f"take_along_axis: indices of shape {format_shape(idx.shape)} need "
                         f"the {len(arr.shape)} dimensions of the array "
                         f"({format_shape(arr.shape)})")
    return gather(arr, idx, ax)


def is_array_index(it) -> bool:
    """True for an index entry that asks for integer-array indexing: a graph value, an
    integer NumPy array of one or more dimensions, or a list of integers."""
    if isinstance(it, Node):
        return True
    if isinstance(it, list):
        return True
    return type(it).__module__ == "numpy" and getattr(it, "ndim", 0) >= 1


def split_array_index(x: Node, index) -> tuple:
    """For ``x[index]`` with one integer-array entry among full slices and ``...``:
    ``(axis, indices, basic)``, ``basic`` the index with the array replaced by ``:``
    (to apply first). Raises ShapeError for more than one array, booleans, or an array
    mixed with integers or ``None`` (NumPy's moving of advanced axes)."""
    items = list(index) if isinstance(index, tuple) else [index]
    arrays = [k for k, it in enumerate(items) if is_array_index(it)]
    if len(arrays) != 1:
        raise ShapeError("graphc supports one integer-array index at a time (x[idx], "
                         "x[:, idx]); use gnp.take / gnp.take_along_axis")
    k = arrays[0]
    it = items[k]
    if not isinstance(it, Node):
        arr = np.asarray(it)
        if arr.dtype.kind == "b":
            raise ShapeError("boolean-mask indexing of a graph value is not supported (its "
                             "shape depends on the values); use gnp.where")
    for j, other in enumerate(items):
        if j != k and not (other is Ellipsis or isinstance(other, slice)):
            raise ShapeError("an integer-array index mixed with integers or None moves "
                             "axes in NumPy; graphc supports an array index among slices "
                             "and ... only; use gnp.take")
    ellipsis = [j for j, i in enumerate(items) if i is Ellipsis]
    if len(ellipsis) > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    # after a '...', the array's axis counts from the end
    axis = len(x.shape) - (len(items) - k) if ellipsis and ellipsis[0] < k else k
    if not 0 <= axis < len(x.shape) or len(items) - len(ellipsis) > len(x.shape):
        raise ShapeError(f"too many indices for a graph value of shape {x.shape}")
    basic = tuple(slice(None) if j == k else i for j, i in enumerate(items))
    return axis, it, basic


class _AtIndex:
    def __init__(self, x: Node, index):
        self.x, self.index = x, index

    def add(self, values) -> Node:
        """``x`` with ``values`` added at the index (repeated indices accumulate)."""
        axis, idx, _basic = _resolve_at(self.x, self.index)
        return take_scatter_add(self.x, idx, values, axis)

    def get(self) -> Node:
        """``x[index]``."""
        return self.x[self.index]


def _resolve_at(x: Node, index):
    if isinstance(index, tuple) or is_array_index(index):
        axis, idx, basic = split_array_index(x, index)
        if any(not (isinstance(b, slice) and b == slice(None)) and b is not Ellipsis
               for b in basic):
            raise ShapeError("x.at[...].add: only full slices ':' and '...' may go with "
                             "the index array")
        return axis, idx, basic
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        return 0, int(index), ()
    raise ShapeError(f"x.at[{index!r:.40}]: use an integer, an integer array or a graph "
                     f"value holding integers (with ':' for the leading axes)")


class AtHelper:
    """``x.at``: JAX's functional index update, ``x.at[idx].add(v)`` (scatter-add:
    repeated indices accumulate) and ``x.at[idx].get()``."""

    def __init__(self, x: Node):
        self.x = x

    def __getitem__(self, index) -> _AtIndex:
        return _AtIndex(self.x, index)


FUNCTIONS["sort"] = sort
"""``sort(x, axis=...)`` in parsed source: a parser-visible composite
(:data:`graphc.ir.array_ops.FUNCTIONS`), registered here beside its primitive."""

INDEX_PRIMITIVES = (gather_p, scatter_add_p, det_p, argsort_p)
"""The records defined here."""

__all__ = [
    "INDEX_PRIMITIVES",
    "SORT_KINDS",
    "SORT_RUN",
    "AtHelper",
    "argsort",
    "check_indices",
    "check_sort_kind",
    "cofactors",
    "det",
    "gather",
    "index_uses",
    "is_array_index",
    "scatter_add",
    "sort",
    "split_array_index",
    "take",
    "take_along_axis",
    "take_scatter_add",
]
