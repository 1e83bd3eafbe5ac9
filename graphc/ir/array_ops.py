"""Array primitives: matrix products, reshapes, reductions, slices, softmax and losses.

One record each, like the elementwise ops of :mod:`graphc.ir.ops` (which already
broadcast like NumPy): shape rule, NumPy implementation (the reference semantics),
forward rule (``jvp``) and reverse rule (``vjp``, the transpose of the JVP), printing,
the LLVM lowering key and the test examples. Structural ops follow JAX's approach
(``jax/_src/lax/lax.py``): the JVP of a linear op is the op itself on the tangent,
and the VJP applies its transpose (the transpose of a slice pads with zeros, the
transpose of a broadcast sums, the transpose of a reduction broadcasts back).

Derived ops (``mean``, ``softmax``, ``log_softmax``, ``logsumexp``, ``mse``,
``cross_entropy``) have their own rules and a ``decompose`` into simpler primitives,
which the LLVM and CUDA array backends lower (``llvm``/``cuda`` key ``"decompose"``).
The ``cuda`` keys name the CUDA array lowering (graphc/backends/cuda/arrays.py).

Dimensions may be symbols bound at call time (see :mod:`graphc.ir.shapes`); every
rule here works on symbolic shapes. Conventions:

* reductions take ``axis`` (an int, a tuple of ints, or None for all axes) and
  ``keepdims`` as in NumPy; ``max``/``min`` split the derivative evenly among tied
  maxima (as the binary ``maximum`` splits ½-½ and as JAX does);
* ``prod``'s derivative is ``out/x`` (NaN where an entry is 0);
* ``softmax``, ``log_softmax``, ``logsumexp`` subtract the maximum first (stable for
  any finite input; a slice of all ``-inf`` gives ``-inf`` for ``logsumexp``);
* ``cross_entropy(logits, labels, axis=-1)``: labels of the logits' shape are
  probabilities (one-hot or soft); labels with the class axis removed are integer
  class indices. The loss is the mean over samples of ``-Σ labels·log_softmax``,
  as PyTorch's ``CrossEntropyLoss(reduction="mean")``. Class indices (here and in
  ``one_hot``) must be integers in ``[0, C)``: every backend checks them at call time
  (:func:`check_class_indices`, an ``InputError``);
* empty arrays: ``sum``/``prod``/``matmul`` give their identity (0, 1), ``logsumexp``
  gives -inf (the log of an empty sum, as NumPy and SciPy), ``mean``/``mse`` and the
  cross-entropy of an empty batch give NaN (0/0, as NumPy and PyTorch); ``max``/``min``
  over an axis of length 0 and ``cross_entropy`` with 0 classes are a ShapeError, at
  build time for a static length and at call time for a symbolic one;
* slices clip like Python's ``slice.indices``; on a symbolic dimension a slice has the
  size given by :func:`slice_piece` (exact, or valid from a least size on, checked at
  call time).
"""

from __future__ import annotations

import builtins
from functools import lru_cache

import numpy as np

from . import batching as _b
from . import ops
from .errors import InputError, NotDifferentiableError, ShapeError
from .node import Node
from .primitive import Primitive, apply, broadcast_shapes, register
from .extent import Extent
from .shapes import check_dim, dim_add, format_shape, is_concrete

_py_sum = builtins.sum
_py_max = builtins.max
_py_min = builtins.min

LLVM_DECOMPOSE = "decompose"
"""The ``llvm`` key of ops that the LLVM array backend lowers through ``decompose``."""

B = 2.0


# ---------------------------------------------------------------------------------
# parameter helpers

def _int(v, what: str) -> int:
    if isinstance(v, bool):
        raise ShapeError(f"{what} must be an integer, got {v!r}")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise ShapeError(f"{what} must be an integer, got {v!r}")


def normalize_axes(axis, shape: tuple, allow_none: bool = True) -> tuple[int, ...]:
    """``axis`` (int, tuple of ints, or None for all) as a sorted tuple of non-negative
    axes of an array of ``shape``.

    Raises:
        ShapeError: an axis out of range or repeated (names the shape).
    """
    ndim = len(shape)
    if axis is None:
        if not allow_none:
            raise ShapeError("axis must be given")
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        a = _int(a, "axis")
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for shape {format_shape(shape)} "
                             f"({ndim} dimension(s))")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"axis {tuple(items)} repeats an axis")
    return tuple(sorted(out))


def _axis_text(axes: tuple, ndim: int) -> str:
    if axes == tuple(range(ndim)):
        return ""
    return f", axis={axes[0]}" if len(axes) == 1 else f", axis={axes}"


def _bool(v, what: str) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    raise ShapeError(f"{what} must be True or False, got {v!r}")


def _reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _dims(shape, what: str = "shape") -> tuple:
    if isinstance(shape, (int, str, np.integer)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"{what} must be a tuple of sizes, got {shape!r}")
    return tuple(check_dim(d, f"{what} entry") for d in shape)


# ---------------------------------------------------------------------------------
# builders (defined first: the rules below use them)

def matmul(a, b) -> Node:
    """``a @ b`` for 1-D and 2-D arrays (NumPy ``matmul``; ``dot`` is the same op)."""
    a, b = ops._lift2(a, b)
    return apply(matmul_p, a, b)


def transpose(x, axes=None) -> Node:
    """Permute the axes of ``x`` (reverse them by default), as ``np.transpose``."""
    return apply(transpose_p, ops.lift(x), axes=axes)


def reshape(x, shape) -> Node:
    """``x`` with a new shape of the same size (one entry may be -1)."""
    x = ops.lift(x)
    return apply(reshape_p, x, shape=shape)


def broadcast_to(x, shape) -> Node:
    """``x`` broadcast to ``shape`` (NumPy rules)."""
    x = ops.lift(x)
    shape = _dims(shape)
    if x.shape == shape:
        return x
    return apply(broadcast_to_p, x, shape=shape)


def sum(x, axis=None, keepdims=False) -> Node:  # noqa: A001
    """Sum over ``axis`` (all axes by default)."""
    return apply(sum_p, ops.lift(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False) -> Node:
    """Arithmetic mean over ``axis`` (all axes by default)."""
    return apply(mean_p, ops.lift(x), axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False) -> Node:
    """Product over ``axis`` (all axes by default)."""
    return apply(prod_p, ops.lift(x), axis=axis, keepdims=keepdims)


def amax(x, axis=None, keepdims=False) -> Node:
    """Largest entry over ``axis`` (NaN propagates); parser name ``max(x, axis=...)``."""
    return apply(reduce_max_p, ops.lift(x), axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False) -> Node:
    """Smallest entry over ``axis`` (NaN propagates); parser name ``min(x, axis=...)``."""
    return apply(reduce_min_p, ops.lift(x), axis=axis, keepdims=keepdims)


def getitem(x, index) -> Node:
    """Basic indexing ``x[index]``: integers and slices (``1:``, ``:-1``, ``::2``) per
    leading axis. ``index`` is an int, a slice, a tuple of them, or the text between
    the brackets (``"1:, 0"``)."""
    return apply(getitem_p, ops.lift(x), index=index_text(index))


def unslice(y, shape, index) -> Node:
    """The transpose of ``getitem``: an array of ``shape``, zero except ``out[index] = y``."""
    return apply(unslice_p, ops.lift(y), shape=_dims(shape), index=index_text(index))


def concatenate(*arrays, axis=0) -> Node:
    """Join arrays along an existing ``axis`` (left to right, as ``np.concatenate``)."""
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = tuple(arrays[0])
    if not arrays:
        raise ShapeError("concatenate needs at least one array")
    out = ops.lift(arrays[0])
    for a in arrays[1:]:
        out = apply(concatenate_p, out, ops.lift(a, out), axis=axis)
    return out


def stack(*arrays, axis=0) -> Node:
    """Join arrays of one shape along a new ``axis`` (as ``np.stack``)."""
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = tuple(arrays[0])
    if not arrays:
        raise ShapeError("stack needs at least one array")
    nodes = [ops.lift(a) for a in arrays]
    shape = nodes[0].shape
    for n in nodes[1:]:
        if n.shape != shape:
            raise ShapeError(f"stack needs arrays of one shape, got {format_shape(shape)} "
                             f"and {format_shape(n.shape)}")
    ax = normalize_axes(axis, shape + (1,))[0]
    new = shape[:ax] + (1,) + shape[ax:]
    return concatenate(*[reshape(n, new) for n in nodes], axis=ax)


def softmax(x, axis=-1) -> Node:
    """``exp(x) / sum(exp(x), axis)``, computed stably."""
    return apply(softmax_p, ops.lift(x), axis=axis)


def log_softmax(x, axis=-1) -> Node:
    """``x - logsumexp(x, axis, keepdims=True)``, computed stably."""
    return apply(log_softmax_p, ops.lift(x), axis=axis)


def logsumexp(x, axis=None, keepdims=False) -> Node:
    """``log(sum(exp(x), axis))``, computed stably."""
    return apply(logsumexp_p, ops.lift(x), axis=axis, keepdims=keepdims)


def mse(a, b) -> Node:
    """Mean squared error ``mean((a - b)^2)`` over the broadcast shape."""
    a, b = ops._lift2(a, b)
    return apply(mse_p, a, b)


def cross_entropy(logits, labels, axis=-1) -> Node:
    """Softmax cross-entropy from ``logits``: mean over samples of
    ``-Σ labels·log_softmax(logits, axis)``; ``labels`` are probabilities (the logits'
    shape) or integer class indices (the shape without ``axis``), each in ``[0, C)`` with
    ``C`` the length of ``axis`` (checked when the graph is called: InputError)."""
    logits, labels = ops._lift2(logits, labels)
    return apply(cross_entropy_p, logits, labels, axis=axis)


def one_hot(labels, like, axis=-1) -> Node:
    """1.0 where the index along ``axis`` of an array shaped like ``like`` equals
    ``labels`` (integer class indices, ``like``'s shape without ``axis``), else 0.0.
    Every label must be an integer in ``[0, C)``, ``C`` the length of ``like``'s
    ``axis`` (checked when the graph is called: InputError, as PyTorch's ``one_hot``)."""
    labels, like = ops._lift2(labels, like)
    return apply(one_hot_p, labels, like, axis=axis)


def size(x, axis=None) -> Node:
    """The number of entries of ``x`` over ``axis`` (all by default), as a scalar; it
    depends only on the shape, so its derivative is zero."""
    return apply(size_p, ops.lift(x), axis=axis)


def fit_shape(t: Node, shape: tuple) -> Node:
    """``t`` brought to ``shape``: summed over the axes along which ``shape`` was
    broadcast to ``t``'s shape (the transpose of broadcasting), then broadcast up where
    ``t`` is smaller. Used by reverse mode to return a cotangent of each argument's own
    shape.

    Raises:
        ShapeError: the shapes are not related by broadcasting.
    """
    if t.shape == shape:
        return t
    ts = t.shape
    extra = len(ts) - len(shape)
    axes = list(range(_py_max(extra, 0)))
    for i, d in enumerate(shape):
        j = i + extra
        if j >= 0 and d == 1 and ts[j] != 1:
            axes.append(j)
    if axes:
        t = sum(t, axis=tuple(axes), keepdims=True)
        if extra > 0:
            t = reshape(t, t.shape[extra:])
    if t.shape != shape:
        try:
            target = broadcast_shapes(t.shape, shape)
        except ShapeError:
            target = None
        if target != shape:
            raise ShapeError(f"cannot bring shape {format_shape(ts)} to "
                             f"{format_shape(shape)} by broadcasting")
        t = broadcast_to(t, shape)
    return t


def _zeros(like: Node) -> Node:
    return ops.const(0.0, like.dtype, like.shape)


def _kd(t: Node, shape: tuple, axes: tuple, keepdims: bool) -> Node:
    """A reduction's output (or cotangent) ``t`` with the reduced axes kept as 1."""
    return t if keepdims else reshape(t, _kept_shape(shape, axes))


def _back(t: Node, shape: tuple, axes: tuple, keepdims: bool) -> Node:
    """A reduction's cotangent broadcast back to the input ``shape``."""
    return broadcast_to(_kd(t, shape, axes, keepdims), shape)


# ---------------------------------------------------------------------------------
# batching rules (the ``batch`` field; graphc.vmap): see graphc/ir/batching.py

def _matmul_batch(node, args, axes):
    """matmul is 1-D/2-D only: a batch of left factors folds into the rows, a batch of
    right factors into the columns; when both are batched, a product and a sum over
    the shared axis."""
    (a, b), (aa, ab) = args, axes
    va, vb = len(node.args[0].shape) == 1, len(node.args[1].shape) == 1
    if ab is None:
        a = _b.moveaxis(a, aa, 0)
        if va:
            return matmul(a, b), 0
        n_b, n, k = a.shape
        out = matmul(_b.reshape(a, (n_b * n, k)), b)
        return _b.reshape(out, (n_b, n) + tuple(b.shape[1:])), 0
    b = _b.moveaxis(b, ab, 0)
    n_b = b.shape[0]
    if aa is None:
        if vb:
            out = matmul(a, transpose(b))
            return out, len(out.shape) - 1
        k, m = b.shape[1:]
        out = matmul(a, _b.reshape(_b.moveaxis(b, 0, 1), (k, n_b * m)))
        return _b.reshape(out, tuple(out.shape[:-1]) + (n_b, m)), len(out.shape) - 1
    a = _b.moveaxis(a, aa, 0)
    a4 = _b.reshape(a, tuple(a.shape) + (() if vb else (1,)))
    b4 = _b.reshape(b, (n_b,) + (() if va else (1,)) + tuple(b.shape[1:]))
    return sum(ops.mul(a4, b4), 1 if va else 2), 0


def _transpose_batch(node, args, axes):
    x = _b.moveaxis(args[0], axes[0], 0)
    return transpose(x, (0,) + _b.shift(node.param("axes"))), 0


def _reshape_batch(node, args, axes):
    x = _b.moveaxis(args[0], axes[0], 0)
    return _b.reshape(x, (x.shape[0],) + tuple(node.shape)), 0


def _broadcast_batch(node, args, axes):
    x = _b.pad_after_batch(_b.moveaxis(args[0], axes[0], 0), len(node.shape))
    return _b.broadcast_to(x, (x.shape[0],) + tuple(node.shape)), 0


def _axis_batch(node, args, axes):
    """Reductions and the softmax family: the batch first, the axes shifted past it."""
    x = _b.moveaxis(args[0], axes[0], 0)
    return _b.rebind(node, x, axis=_b.shift(node.param("axis"))), 0


def _size_batch(node, args, axes):
    x = _b.moveaxis(args[0], axes[0], 0)
    return _b.rebind(node, x, axis=_b.shift(node.param("axis"))), None


def _getitem_batch(node, args, axes):
    x = _b.moveaxis(args[0], axes[0], 0)
    return _b.rebind(node, x, index=":, " + node.param("index")), 0


def _unslice_batch(node, args, axes):
    y = _b.moveaxis(args[0], axes[0], 0)
    return _b.rebind(node, y, shape=(y.shape[0],) + tuple(node.param("shape")),
                     index=":, " + node.param("index")), 0


def _concat_batch(node, args, axes):
    n = _b.batch_size(args, axes)
    a, b = (_b.to_front(x, ax, n) for x, ax in zip(args, axes))
    return _b.rebind(node, a, b, axis=node.param("axis") + 1), 0


def _mse_batch(node, args, axes):
    rank = _py_max(len(node.args[0].shape), len(node.args[1].shape))
    a, b = (x if ax is None else _b.pad_after_batch(_b.moveaxis(x, ax, 0), rank)
            for x, ax in zip(args, axes))
    d = ops.sub(a, b)
    return mean(ops.mul(d, d), tuple(range(1, rank + 1))), 0


def _ce_batch(node, args, axes):
    n = _b.batch_size(args, axes)
    z, y = (_b.to_front(x, ax, n) for x, ax in zip(args, axes))
    axis, nd = node.param("axis") + 1, len(z.shape)
    labels = y if tuple(y.shape) == tuple(z.shape) else one_hot(y, z, axis)
    total = sum(ops.mul(labels, log_softmax(z, axis)), tuple(range(1, nd)))
    samples = size(z, tuple(i for i in range(1, nd) if i != axis))
    return ops.neg(ops.div(total, samples)), 0


def _one_hot_batch(node, args, axes):
    n = _b.batch_size(args, axes)
    labels, like = (_b.to_front(x, ax, n) for x, ax in zip(args, axes))
    return _b.rebind(node, labels, like, axis=node.param("axis") + 1), 0


# ---------------------------------------------------------------------------------
# matmul

def _matmul_shape(a, b, **_):
    sa, sb = a.shape, b.shape
    if not (1 <= len(sa) <= 2 and 1 <= len(sb) <= 2):
        raise ShapeError(f"1-D or 2-D arrays only, got shapes {format_shape(sa)} "
                         f"and {format_shape(sb)}")
    ka = sa[-1]
    kb = sb[0]
    if ka != kb:
        raise ShapeError(f"shapes {format_shape(sa)} and {format_shape(sb)}: "
                         f"inner dimensions differ ({ka} vs {kb})")
    return sa[:-1] + sb[1:]


def _matmul_jvp(a, b, *, out, tangents, **_):
    ta, tb = tangents
    terms = []
    if ta is not None:
        terms.append(matmul(fit_shape(ta, a.shape), b))
    if tb is not None:
        terms.append(matmul(a, fit_shape(tb, b.shape)))
    return terms[0] if len(terms) == 1 else ops.add(terms[0], terms[1])


def _matmul_vjp(a, b, *, out, cotangent, **_):
    g = cotangent
    na, nb = len(a.shape), len(b.shape)
    if na == 2 and nb == 2:
        return matmul(g, transpose(b)), matmul(transpose(a), g)
    if na == 1 and nb == 2:       # (k,) @ (k, n) -> (n,)
        return (matmul(b, g),
                matmul(reshape(a, (a.shape[0], 1)), reshape(g, (1, g.shape[0]))))
    if na == 2 and nb == 1:       # (m, k) @ (k,) -> (m,)
        return (matmul(reshape(g, (g.shape[0], 1)), reshape(b, (1, b.shape[0]))),
                matmul(transpose(a), g))
    return ops.mul(g, b), ops.mul(g, a)  # (k,) @ (k,) -> ()


matmul_p = register(Primitive(
    "matmul", 2, np.matmul, "{0} @ {1}", precedence=20, latex=r"{0} {1}",
    associativity="both",
    llvm="array.matmul", cuda="array.matmul", aliases=("dot",),
    shape_rule=_matmul_shape, jvp=_matmul_jvp, vjp=_matmul_vjp, elementwise=False,
    batch=_matmul_batch,
    domain=((-B, B), (-B, B)),
    examples=((((3, 4), (4, 2)), {}), (((4,), (4, 3)), {}), (((3, 4), (4,)), {}),
              (((5,), (5,)), {})),
    doc="matrix product of 1-D/2-D arrays (NumPy matmul; dot is the same for these)"))


# ---------------------------------------------------------------------------------
# transpose, reshape, broadcast_to

def _transpose_canon(x, axes=None, **_):
    nd = len(x.shape)
    if axes is None:
        perm = tuple(range(nd))[::-1]
    else:
        items = axes if isinstance(axes, (tuple, list)) else (axes,)
        perm = tuple(_int(a, "axes entry") for a in items)
        perm = tuple(a % nd if -nd <= a < nd else a for a in perm)
        if sorted(perm) != list(range(nd)):
            raise ShapeError(f"axes {tuple(items)} is not a permutation of the "
                             f"{nd} axes of shape {format_shape(x.shape)}")
    text = "" if perm == tuple(range(nd))[::-1] else f", axes={perm}"
    return {"axes": perm, "_text": text}


def _transpose_shape(x, *, axes, **_):
    if len(axes) != len(x.shape):
        raise ShapeError(f"axes {axes} do not match shape {format_shape(x.shape)}")
    return tuple(x.shape[a] for a in axes)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


transpose_p = register(Primitive(
    "transpose", 1, lambda x, axes, **_: np.transpose(x, axes), "transpose({0}{_text})",
    latex=r"{0}^\top", textbook="{0}\u1d40", llvm="array.view", cuda="array.view", aliases=("permute_dims",),
    param_names=("axes",), param_defaults={"axes": None}, canonical=_transpose_canon,
    shape_rule=_transpose_shape, elementwise=False,
    batch=_transpose_batch,
    jvp=lambda x, *, out, tangents, axes, **_: transpose(tangents[0], axes),
    vjp=lambda x, *, out, cotangent, axes, **_: (transpose(cotangent, _inverse(axes)),),
    domain=((-B, B),), examples=((((3, 4),), {}), (((2, 3, 4),), {"axes": (1, 2, 0)})),
    doc="permute axes (reverse them by default)"))


def _reshape_canon(x, shape, **_):
    shape = shape if isinstance(shape, (tuple, list)) else (shape,)
    dims = []
    unknown = None
    for i, d in enumerate(shape):
        if isinstance(d, (int, float, np.integer)) and not isinstance(d, bool) and d == -1:
            if unknown is not None:
                raise ShapeError("reshape: only one dimension may be -1")
            unknown = i
            dims.append(-1)
        else:
            dims.append(check_dim(d, "reshape dimension"))
    if unknown is not None:
        if not is_concrete(x.shape) or not is_concrete([d for d in dims if d != -1]):
            raise ShapeError(f"reshape of shape {format_shape(x.shape)} to "
                             f"{tuple(shape)}: -1 needs concrete sizes")
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        total = int(np.prod(x.shape, dtype=np.int64))
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape shape {format_shape(x.shape)} "
                             f"({total} entries) to {tuple(shape)}")
        dims[unknown] = total // known
    dims = tuple(dims)
    return {"shape": dims, "_text": ", " + format_shape(dims)}


def _same_size(a: tuple, b: tuple) -> bool:
    """True when shapes ``a`` and ``b`` have the same number of entries (symbolic
    dimensions must match as factors)."""
    if any(isinstance(d, Extent) for d in (*a, *b)):   # sizes known at run time
        na = nb = 1
        for d in a:
            na = na * d
        for d in b:
            nb = nb * d
        return na == nb   # (a guard unless equal as polynomials)
    ia = int(np.prod([d for d in a if isinstance(d, int)], dtype=np.int64))
    ib = int(np.prod([d for d in b if isinstance(d, int)], dtype=np.int64))
    sa = sorted(d for d in a if not isinstance(d, int))
    sb = sorted(d for d in b if not isinstance(d, int))
    if sa == sb:
        return ia == ib
    return ia == 0 and ib == 0


def _reshape_shape(x, *, shape, **_):
    if not _same_size(x.shape, shape):
        raise ShapeError(f"cannot reshape shape {format_shape(x.shape)} to "
                         f"{format_shape(shape)}: the sizes differ")
    return tuple(shape)


reshape_p = register(Primitive(
    "reshape", 1, lambda x, shape, **_: np.reshape(x, shape), "reshape({0}{_text})",
    latex=r"{0}", llvm="array.view", cuda="array.view", param_names=("shape",),
    param_defaults={"shape": ()}, canonical=_reshape_canon, shape_rule=_reshape_shape,
    elementwise=False,
    batch=_reshape_batch,
    jvp=lambda x, *, out, tangents, shape, **_: reshape(tangents[0], shape),
    vjp=lambda x, *, out, cotangent, shape, **_: (reshape(cotangent, x.shape),),
    domain=((-B, B),), examples=((((3, 4),), {"shape": (2, 6)}),
                                 (((2, 3),), {"shape": (-1,)})),
    doc="the same entries in a new shape (row-major order); one size may be -1"))


def _broadcast_canon(x, shape, **_):
    dims = _dims(shape)
    return {"shape": dims, "_text": ", " + format_shape(dims)}


def _broadcast_shape(x, *, shape, **_):
    try:
        out = broadcast_shapes(x.shape, shape)
    except ShapeError:
        out = None
    if out != tuple(shape):
        raise ShapeError(f"cannot broadcast shape {format_shape(x.shape)} to "
                         f"{format_shape(shape)}")
    return tuple(shape)


broadcast_to_p = register(Primitive(
    "broadcast_to", 1, lambda x, shape, **_: np.broadcast_to(x, shape),
    "broadcast_to({0}{_text})", latex=r"{0}", llvm="array.view", cuda="array.view",
    param_names=("shape",), param_defaults={"shape": ()}, canonical=_broadcast_canon,
    shape_rule=_broadcast_shape, elementwise=False,
    batch=_broadcast_batch,
    jvp=lambda x, *, out, tangents, shape, **_: broadcast_to(tangents[0], shape),
    vjp=lambda x, *, out, cotangent, shape, **_: (fit_shape(cotangent, x.shape),),
    domain=((-B, B),), examples=((((3, 1),), {"shape": (2, 3, 4)}),
                                 (((4,),), {"shape": (3, 4)})),
    doc="repeat along broadcast axes (NumPy broadcasting); its transpose sums"))


# ---------------------------------------------------------------------------------
# reductions

def _reduce_canon(x, axis=None, keepdims=False, **_):
    axes = normalize_axes(axis, x.shape)
    kd = _bool(keepdims, "keepdims")
    text = _axis_text(axes, len(x.shape)) + (", keepdims=True" if kd else "")
    return {"axis": axes, "keepdims": kd, "_text": text}


def _reduce_shape(x, *, axis, keepdims, **_):
    for a in axis:
        if a >= len(x.shape):
            raise ShapeError(f"axis {a} is out of range for shape {format_shape(x.shape)}")
    return _reduced_shape(x.shape, axis, keepdims)


def _extreme_shape(x, *, axis, keepdims, **_):
    """``max``/``min`` have no identity: reducing an axis of length 0 is an error (as
    NumPy's "zero-size array to reduction operation maximum which has no identity" and
    PyTorch's ``amax``), raised here for a static length and, through
    :func:`graphc.ir.shapes.concrete_shapes`, at call time for a symbolic one."""
    out = _reduce_shape(x, axis=axis, keepdims=keepdims)
    empty = [a for a in axis if x.shape[a] == 0]
    if empty:
        raise ShapeError(f"reduces axis {empty[0]} of length 0 (shape "
                         f"{format_shape(x.shape)}); the maximum and minimum of no "
                         f"entries are undefined")
    return out


def _np_reduce(fn):
    def impl(x, axis, keepdims, **_):
        return fn(x, axis=axis, keepdims=keepdims)
    return impl


def _sum_vjp(x, *, out, cotangent, axis, keepdims, **_):
    return (_back(cotangent, x.shape, axis, keepdims),)


def _mean_vjp(x, *, out, cotangent, axis, keepdims, **_):
    return (ops.div(_back(cotangent, x.shape, axis, keepdims), size(x, axis)),)


def _prod_jvp(x, *, out, tangents, axis, keepdims, **_):
    o = broadcast_to(_kd(out, x.shape, axis, keepdims), x.shape)
    return sum(ops.mul(tangents[0], ops.div(o, x)), axis, keepdims)


def _prod_vjp(x, *, out, cotangent, axis, keepdims, **_):
    g = _back(ops.mul(cotangent, out), x.shape, axis, keepdims)
    return (ops.div(g, x),)


def _extreme_mask(x, out, axis, keepdims):
    """1/count where ``x`` attains the reduction's value (ties share equally), else 0."""
    o = broadcast_to(_kd(out, x.shape, axis, keepdims), x.shape)
    hit = ops.eq(x, o)
    count = sum(hit, axis, keepdims=True)
    return ops.div(hit, broadcast_to(count, x.shape))


def _extreme_jvp(x, *, out, tangents, axis, keepdims, **_):
    return sum(ops.mul(tangents[0], _extreme_mask(x, out, axis, keepdims)), axis, keepdims)


def _extreme_vjp(x, *, out, cotangent, axis, keepdims, **_):
    return (ops.mul(_back(cotangent, x.shape, axis, keepdims),
                    _extreme_mask(x, out, axis, keepdims)),)


_REDUCE_EXAMPLES = ((((3, 4),), {}), (((3, 4),), {"axis": 0}),
                    (((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
                    (((5,),), {"axis": -1}))


def _reduction(name, impl, fmt, latex, jvp, vjp, doc, aliases=(), smooth=True, llvm=None,
               decompose=None, cuda=None, shape_rule=_reduce_shape):
    return register(Primitive(
        name, 1, _np_reduce(impl), fmt, latex=latex, llvm=llvm or f"array.{name}",
        cuda=cuda or f"array.{name}", aliases=aliases, param_names=("axis", "keepdims"),
        param_defaults={"axis": None, "keepdims": False}, canonical=_reduce_canon,
        shape_rule=shape_rule, elementwise=False, jvp=jvp, vjp=vjp, smooth=smooth,
        batch=_axis_batch,
        decompose=decompose, domain=((-B, B),), examples=_REDUCE_EXAMPLES, doc=doc))


def _mean_decompose(x, *, out, axis, keepdims, **_):
    return ops.div(sum(x, axis, keepdims), size(x, axis))


sum_p = _reduction(
    "sum", np.sum, "sum({0}{_text})", r"\sum {0}",
    jvp=lambda x, *, out, tangents, axis, keepdims, **_: sum(tangents[0], axis, keepdims),
    vjp=_sum_vjp, doc="sum over axes (all by default); keepdims as NumPy")

def _np_mean(x, axis, keepdims):
    """``np.mean`` (the same sum, then one division) without its "Mean of empty slice"
    warning: the mean of no entries is 0/0 = NaN silently, as in the compiled
    backends."""
    x = np.asarray(x)
    count = 1
    for a in (range(x.ndim) if axis is None else axis):
        count *= x.shape[a]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.true_divide(np.sum(x, axis=axis, keepdims=keepdims), x.dtype.type(count))


mean_p = _reduction(
    "mean", _np_mean, "mean({0}{_text})", r"\operatorname{{mean}}\left({0}\right)",
    jvp=lambda x, *, out, tangents, axis, keepdims, **_: mean(tangents[0], axis, keepdims),
    vjp=_mean_vjp, llvm=LLVM_DECOMPOSE, cuda="decompose", decompose=_mean_decompose,
    doc="arithmetic mean over axes (all by default)")

prod_p = _reduction(
    "prod", np.prod, "prod({0}{_text})", r"\prod {0}", jvp=_prod_jvp, vjp=_prod_vjp,
    doc="product over axes (all by default); derivative out/x (NaN at a zero entry)")

reduce_max_p = _reduction(
    "reduce_max", np.max, "max({0}{_text})", r"\max {0}", jvp=_extreme_jvp,
    vjp=_extreme_vjp, aliases=("amax",), smooth=False, shape_rule=_extreme_shape,
    doc="largest entry over axes (parser: max(x) or max(x, axis=...)); ties share the "
        "derivative equally")

reduce_min_p = _reduction(
    "reduce_min", np.min, "min({0}{_text})", r"\min {0}", jvp=_extreme_jvp,
    vjp=_extreme_vjp, aliases=("amin",), smooth=False, shape_rule=_extreme_shape,
    doc="smallest entry over axes (parser: min(x) or min(x, axis=...)); ties share the "
        "derivative equally")


def _size_canon(x, axis=None, **_):
    axes = normalize_axes(axis, x.shape)
    return {"axis": axes, "_text": _axis_text(axes, len(x.shape))}


def _size_impl(x, axis, **_):
    return np.asarray(float(np.prod([np.shape(x)[a] for a in axis], dtype=np.float64)),
                      dtype=np.result_type(x, np.float32))


size_p = register(Primitive(
    "size", 1, _size_impl, "size({0}{_text})", latex=r"\left|{0}\right|",
    llvm="array.size", cuda="array.size", param_names=("axis",), param_defaults={"axis": None},
    canonical=_size_canon, shape_rule=lambda x, **_: (), elementwise=False,
    batch=_size_batch,
    differentiable=False, domain=((-B, B),),
    examples=((((3, 4),), {}), (((3, 4),), {"axis": 1})),
    doc="number of entries over axes, as a scalar (derivative 0: it depends on the "
        "shape only)"))


# ---------------------------------------------------------------------------------
# indexing

@lru_cache(maxsize=1024)
def parse_index(text: str) -> tuple:
    """The entries of a canonical index text (``"1:, 0"``) as ints and slices."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if ":" in part:
            bits = part.split(":")
            vals = [int(b) if b.strip() else None for b in bits]
            while len(vals) < 3:
                vals.append(None)
            out.append(slice(*vals))
        else:
            out.append(int(part))
    return tuple(out)


def index_text(index) -> str:
    """Canonical text of a basic index: ``1:``, ``:-1``, ``::2``, ``0, 1:`` (trailing
    full slices dropped).

    Raises:
        ShapeError: anything but ints and slices of ints (or an already canonical
            text).
    """
    if isinstance(index, str):
        try:
            index = parse_index(index)
        except ValueError:
            raise ShapeError(f"invalid index {index!r}") from None
    items = index if isinstance(index, tuple) else (index,)
    parts = []
    for it in items:
        if isinstance(it, slice):
            vals = []
            for v in (it.start, it.stop, it.step):
                vals.append(None if v is None else _int(v, "slice bound"))
            start, stop, step = vals
            if step == 0:
                raise ShapeError("slice step cannot be zero")
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            if step not in (None, 1):
                text += f":{step}"
            parts.append(text)
        else:
            parts.append(str(_int(it, "index")))
    while parts and parts[-1] == ":":
        parts.pop()
    if not parts:
        raise ShapeError("an empty index selects everything; drop the brackets")
    return ", ".join(parts)


def _slice_text(s: slice) -> str:
    text = f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"
    return text if s.step in (None, 1) else f"{text}:{s.step}"


def slice_piece(d, s: slice, axis: int = 0) -> tuple:
    """The size of ``range(d)[s]`` for a symbolic dimension ``d`` and a step-1 slice, as
    ``(size, least)``: ``size`` (an int or a derived dimension) equals Python's clamped
    length (``slice.indices``) for every value of ``d`` of at least ``least``. A bound
    counts from the front (``2``) or from the end (``-2``, or none for the stop); when
    both count from the same end, or the start from the front and the stop from the
    end, the clamped length is linear in ``d`` once ``d`` reaches the bounds, and
    exactly 0 for every ``d`` when the stop cannot pass the start (``5:2``, ``-1:-3``,
    ``-3:0``): ``least`` is then 0.

    Raises:
        ShapeError: a step other than 1, or a start counted from the end with a stop
            counted from the front (``-30:30``): its length, ``min(d, 30) - max(d - 30,
            0)``, rises and falls with ``d`` and has no symbolic form.
    """
    step = 1 if s.step is None else s.step
    if step != 1:
        raise ShapeError(f"a slice with step {step} of the symbolic dimension {d} (axis "
                         f"{axis}) has no symbolic size; declare a concrete size")
    start_end, start = (False, 0) if s.start is None else (s.start < 0, s.start)
    stop_end, stop = (True, 0) if s.stop is None else (s.stop < 0, s.stop)
    if start_end == stop_end:
        if stop <= start:
            return 0, 0
        return stop - start, (-start if start_end else stop)
    if not start_end:      # start from the front, stop from the end: d + stop - start
        return dim_add(d, stop - start), start - stop
    if stop == 0:
        return 0, 0
    raise ShapeError(
        f"the slice {_slice_text(s)} of the symbolic dimension {d} (axis {axis}) has no "
        f"symbolic size: with a start counted from the end and a stop from the front its "
        f"length min({d}, {stop}) - max({d} - {-start}, 0) is not linear in {d}; declare "
        f"a concrete size or count both bounds from one end")


def _slice_dim(d, s: slice, axis: int):
    """The length of axis ``axis`` (size ``d``) under ``s``: Python's clamped length
    for a concrete ``d``; for a symbolic one see :func:`slice_piece`."""
    if isinstance(d, int):
        return len(range(d)[s])
    if isinstance(d, Extent):   # a size known at run time: exact where d >= least
        try:
            size, least = slice_piece(d, s, axis)
        except ShapeError:
            size, least = None, None
        if size is not None and d >= least:   # (a guard)
            return size
        return len(range(int(d))[s])
    return slice_piece(d, s, axis)[0]


def slice_note(shape: tuple, sizes: tuple, index: str) -> str:
    """Why a slice's symbolic size fails for the concrete ``sizes`` of ``shape``
    (empty when it does not): names the axis, the slice, the symbolic size and the
    least size of the dimension for which it holds."""
    notes = []
    for axis, (e, d, n) in enumerate(zip(parse_index(index), shape, sizes)):
        if isinstance(e, slice) and not isinstance(d, int):
            try:
                size, least = slice_piece(d, e, axis)
            except ShapeError:
                continue
            if n < least:
                notes.append(f"the slice {_slice_text(e)} of axis {axis} has the symbolic "
                             f"size {size} only where {d} >= {least}; here {d} = {n}, "
                             f"which NumPy clips to {len(range(n)[e])}")
    return "; ".join(notes)


def _getitem_shape(x, *, index, **_):
    entries = parse_index(index)
    shape = x.shape
    if len(entries) > len(shape):
        raise ShapeError(f"index [{index}] has {len(entries)} entries for shape "
                         f"{format_shape(shape)}")
    out = []
    for axis, (e, d) in enumerate(zip(entries, shape)):
        if isinstance(e, slice):
            out.append(_slice_dim(d, e, axis))
        elif isinstance(d, (int, Extent)) and not -d <= e < d:
            raise ShapeError(f"index {e} is out of bounds for axis {axis} of size {d} "
                             f"(shape {format_shape(shape)})")
    return tuple(out) + tuple(shape[len(entries):])


def _getitem_canon(x, index, **_):
    return {"index": index_text(index)}


getitem_p = register(Primitive(
    "getitem", 1, lambda x, index, **_: x[parse_index(index)], "{0}[{index}]",
    precedence=50, latex=r"{0}_{{[{index}]}}", llvm="array.view", cuda="array.view",
    aliases=("slice",), param_names=("index",), param_defaults={"index": ":"},
    canonical=_getitem_canon, shape_rule=_getitem_shape, elementwise=False,
    batch=_getitem_batch,
    jvp=lambda x, *, out, tangents, index, **_: getitem(tangents[0], index),
    vjp=lambda x, *, out, cotangent, index, **_: (unslice(cotangent, x.shape, index),),
    domain=((-B, B),),
    examples=((((6,),), {"index": "1:"}), (((6,),), {"index": ":-1"}),
              (((3, 4),), {"index": "1"}), (((4, 5),), {"index": "1:3, ::2"})),
    doc="basic indexing x[1:], x[:-1], x[i], x[1:, 0] (integers and slices)"))


def _unslice_canon(y, shape, index, **_):
    dims = _dims(shape)
    return {"shape": dims, "index": index_text(index), "_text": f", {format_shape(dims)}"}


class _ShapeOnly:
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


def _unslice_shape(y, *, shape, index, **_):
    want = _getitem_shape(_ShapeOnly(tuple(shape)), index=index)
    if want != y.shape:
        raise ShapeError(f"unslice: [{index}] of shape {format_shape(shape)} has shape "
                         f"{format_shape(want)}, not {format_shape(y.shape)}")
    return tuple(shape)


def _np_unslice(y, shape, index, **_):
    out = np.zeros(shape, dtype=np.result_type(y, np.float32))
    out[parse_index(index)] = y
    return out


unslice_p = register(Primitive(
    "unslice", 1, _np_unslice, "unslice({0}{_text}, [{index}])",
    latex=r"\operatorname{{pad}}\left({0}\right)", llvm="array.unslice", cuda="array.unslice",
    param_names=("shape", "index"), param_defaults={"shape": (), "index": ":"},
    canonical=_unslice_canon, shape_rule=_unslice_shape, elementwise=False,
    batch=_unslice_batch,
    masks=True,  # the padding is an exact zero: AD absorbs 0·NaN behind it
    jvp=lambda y, *, out, tangents, shape, index, **_: unslice(tangents[0], shape, index),
    vjp=lambda y, *, out, cotangent, shape, index, **_: (getitem(cotangent, index),),
    domain=((-B, B),),
    examples=((((5,),), {"shape": (6,), "index": "1:"}),
              (((4,),), {"shape": (3, 4), "index": "1"})),
    doc="the transpose of x[index]: zeros of a shape with y written at index (pads)"))


# ---------------------------------------------------------------------------------
# concatenate

def _concat_canon(a, b, axis=0, **_):
    ax = normalize_axes(axis, a.shape, allow_none=False)
    if len(ax) != 1:
        raise ShapeError("concatenate takes one axis")
    return {"axis": ax[0]}


def _concat_shape(a, b, *, axis, **_):
    sa, sb = a.shape, b.shape
    if len(sa) != len(sb) or any(x != y for i, (x, y) in enumerate(zip(sa, sb)) if i != axis):
        raise ShapeError(f"cannot concatenate shapes {format_shape(sa)} and "
                         f"{format_shape(sb)} along axis {axis}")
    return sa[:axis] + (dim_add(sa[axis], sb[axis]),) + sa[axis + 1:]


def _concat_jvp(a, b, *, out, tangents, axis, **_):
    ta, tb = tangents
    ta = _zeros(a) if ta is None else broadcast_to(ta, a.shape)
    tb = _zeros(b) if tb is None else broadcast_to(tb, b.shape)
    return apply(concatenate_p, ta, tb, axis=axis)


def _concat_vjp(a, b, *, out, cotangent, axis, **_):
    na, nb = a.shape[axis], b.shape[axis]
    lead = ":, " * axis
    if isinstance(na, int):
        return (getitem(cotangent, f"{lead}:{na}"), getitem(cotangent, f"{lead}{na}:"))
    if isinstance(nb, int):
        if nb == 0:
            return cotangent, None
        return getitem(cotangent, f"{lead}:-{nb}"), getitem(cotangent, f"{lead}-{nb}:")
    raise NotDifferentiableError(
        f"reverse mode through concatenate of two symbolic lengths ({na} and {nb}) along "
        f"axis {axis}: declare one of them with a concrete size")


concatenate_p = register(Primitive(
    "concatenate", 2, lambda a, b, axis, **_: np.concatenate([a, b], axis=axis),
    "concatenate({0}, {1}, axis={axis})", latex=r"\left[{0}, {1}\right]",
    llvm="array.concatenate", cuda="array.concatenate", aliases=("concat",), param_names=("axis",),
    param_defaults={"axis": 0}, canonical=_concat_canon, shape_rule=_concat_shape,
    elementwise=False, jvp=_concat_jvp, vjp=_concat_vjp, domain=((-B, B), (-B, B)),
    batch=_concat_batch,
    examples=((((2, 3), (4, 3)), {"axis": 0}), (((2, 3), (2, 1)), {"axis": -1})),
    doc="join two arrays along an axis (the parser folds more arrays left to right)"))


# ---------------------------------------------------------------------------------
# softmax family

def _axis_canon(x, axis=-1, **_):
    axes = normalize_axes(axis, x.shape)
    return {"axis": axes, "_text": _axis_text(axes, len(x.shape))}


def _safe_max(x, axis, keepdims=True):
    """``max(x, axis)`` with -inf replaced by 0, so that ``x - m`` stays -inf, not NaN,
    for a slice of all -inf (``m`` still bounds every finite ``x``)."""
    m = np.max(x, axis=axis, keepdims=keepdims) if np.size(x) else \
        np.zeros(_reduced_shape(np.shape(x), axis, keepdims))
    return np.where(np.isneginf(m), 0.0, m)


def _np_logsumexp(x, axis, keepdims=False, **_):
    m = _safe_max(x, axis)
    with np.errstate(divide="ignore"):
        r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.reshape(r, _reduced_shape(np.shape(x), axis, False))


def _np_softmax(x, axis, **_):
    e = np.exp(x - _safe_max(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x, axis, **_):
    return x - _np_logsumexp(x, axis, keepdims=True)


def _softmax_jvp(x, *, out, tangents, axis, **_):
    t = tangents[0]
    return ops.mul(out, ops.sub(t, sum(ops.mul(out, t), axis, keepdims=True)))


def _softmax_vjp(x, *, out, cotangent, axis, **_):
    g = cotangent
    return (ops.mul(out, ops.sub(g, sum(ops.mul(g, out), axis, keepdims=True))),)


def _log_softmax_jvp(x, *, out, tangents, axis, **_):
    t = tangents[0]
    return ops.sub(t, sum(ops.mul(ops.exp(out), t), axis, keepdims=True))


def _log_softmax_vjp(x, *, out, cotangent, axis, **_):
    g = cotangent
    return (ops.sub(g, ops.mul(ops.exp(out), sum(g, axis, keepdims=True))),)


def _lse_weights(x, out, axis, keepdims):
    """softmax(x) over ``axis`` from logsumexp's output: exp(x - lse)."""
    return ops.exp(ops.sub(x, broadcast_to(_kd(out, x.shape, axis, keepdims), x.shape)))


def _logsumexp_jvp(x, *, out, tangents, axis, keepdims, **_):
    return sum(ops.mul(_lse_weights(x, out, axis, keepdims), tangents[0]), axis, keepdims)


def _logsumexp_vjp(x, *, out, cotangent, axis, keepdims, **_):
    return (ops.mul(_back(cotangent, x.shape, axis, keepdims),
                    _lse_weights(x, out, axis, keepdims)),)


def _stable_shift(x, axis):
    """``x - m`` with ``m`` the maximum over ``axis`` (0 where that maximum is -inf, and
    0 over an axis of length 0, whose maximum is undefined: the sum of no exponentials
    is then 0, so ``logsumexp`` gives -inf, its identity, as NumPy's and SciPy's do)."""
    if any(x.shape[a] == 0 for a in axis):
        return x, ops.const(0.0, x.dtype, _kept_shape(x.shape, axis))
    m = amax(x, axis, keepdims=True)
    m = ops.where(ops.eq(m, ops.const(-np.inf, x.dtype)), ops.const(0.0, x.dtype), m)
    return ops.sub(x, m), m


def _softmax_decompose(x, *, out, axis, **_):
    z, _m = _stable_shift(x, axis)
    e = ops.exp(z)
    return ops.div(e, sum(e, axis, keepdims=True))


def _log_softmax_decompose(x, *, out, axis, **_):
    z, _m = _stable_shift(x, axis)
    return ops.sub(z, ops.log(sum(ops.exp(z), axis, keepdims=True)))


def _logsumexp_decompose(x, *, out, axis, keepdims, **_):
    z, m = _stable_shift(x, axis)
    r = ops.add(ops.log(sum(ops.exp(z), axis, keepdims=True)), m)
    return r if keepdims else reshape(r, out.shape)


_SOFTMAX_EXAMPLES = ((((3, 4),), {}), (((3, 4),), {"axis": 0}), (((5,),), {}))

softmax_p = register(Primitive(
    "softmax", 1, _np_softmax, "softmax({0}{_text})",
    latex=r"\operatorname{{softmax}}\left({0}\right)", llvm=LLVM_DECOMPOSE, cuda="decompose",
    param_names=("axis",), param_defaults={"axis": -1}, canonical=_axis_canon,
    shape_rule=lambda x, **_: x.shape, elementwise=False, jvp=_softmax_jvp,
    batch=_axis_batch,
    vjp=_softmax_vjp, decompose=_softmax_decompose, domain=((-B, B),),
    examples=_SOFTMAX_EXAMPLES,
    doc="exp(x)/sum(exp(x), axis) with the maximum subtracted first (axis -1 default)"))

log_softmax_p = register(Primitive(
    "log_softmax", 1, _np_log_softmax, "log_softmax({0}{_text})",
    latex=r"\log\operatorname{{softmax}}\left({0}\right)", llvm=LLVM_DECOMPOSE,
    cuda="decompose", param_names=("axis",), param_defaults={"axis": -1}, canonical=_axis_canon,
    shape_rule=lambda x, **_: x.shape, elementwise=False, jvp=_log_softmax_jvp,
    batch=_axis_batch,
    vjp=_log_softmax_vjp, decompose=_log_softmax_decompose, unbounded=True,
    domain=((-B, B),), examples=_SOFTMAX_EXAMPLES,
    doc="x - logsumexp(x, axis, keepdims=True), stable (axis -1 default)"))

logsumexp_p = register(Primitive(
    "logsumexp", 1, _np_logsumexp, "logsumexp({0}{_text})",
    latex=r"\log\sum e^{{{0}}}", llvm=LLVM_DECOMPOSE, cuda="decompose",
    param_names=("axis", "keepdims"), param_defaults={"axis": None, "keepdims": False},
    canonical=_reduce_canon, shape_rule=_reduce_shape, elementwise=False,
    batch=_axis_batch,
    jvp=_logsumexp_jvp, vjp=_logsumexp_vjp, decompose=_logsumexp_decompose,
    unbounded=True, domain=((-B, B),), examples=_REDUCE_EXAMPLES,
    doc="log(sum(exp(x), axis)) with the maximum subtracted first"))


# ---------------------------------------------------------------------------------
# losses

def _mse_shape(a, b, **_):
    broadcast_shapes(a.shape, b.shape)
    return ()


def _np_mse(a, b, **_):
    d = np.subtract(a, b)
    return np.mean(d * d)


def _mse_diff(a, b):
    d = ops.sub(a, b)
    return d, size(d)


def _mse_jvp(a, b, *, out, tangents, **_):
    ta, tb = tangents
    d, n = _mse_diff(a, b)
    if ta is None:
        t = ops.neg(tb)
    elif tb is None:
        t = ta
    else:
        t = ops.sub(ta, tb)
    return ops.div(sum(ops.mul(ops.mul(2.0, d), t)), n)


def _mse_vjp(a, b, *, out, cotangent, **_):
    d, n = _mse_diff(a, b)
    g = ops.mul(ops.div(ops.mul(2.0, cotangent), n), d)
    return g, ops.neg(g)


mse_p = register(Primitive(
    "mse", 2, _np_mse, "mse({0}, {1})", latex=r"\operatorname{{MSE}}\left({0}, {1}\right)",
    llvm=LLVM_DECOMPOSE, cuda="decompose", shape_rule=_mse_shape, elementwise=False,
    batch=_mse_batch,
    jvp=_mse_jvp, vjp=_mse_vjp,
    decompose=lambda a, b, *, out, **_: mean(ops.pow(ops.sub(a, b), 2.0)),
    domain=((-B, B), (-B, B)), examples=((((3, 4), (3, 4)), {}), (((3, 4), (4,)), {})),
    doc="mean squared error mean((a - b)^2) over the broadcast shape"))


def _ce_canon(z, y, axis=-1, **_):
    ax = normalize_axes(axis, z.shape, allow_none=False)
    if len(ax) != 1:
        raise ShapeError("cross_entropy takes one class axis")
    return {"axis": ax[0], "_text": "" if ax[0] == len(z.shape) - 1 else f", axis={ax[0]}"}


def _ce_kind(z_shape, y_shape, axis) -> str:
    if tuple(y_shape) == tuple(z_shape):
        return "probabilities"
    if tuple(y_shape) == tuple(z_shape[:axis]) + tuple(z_shape[axis + 1:]):
        return "indices"
    raise ShapeError(f"cross_entropy: labels of shape {format_shape(y_shape)} match neither "
                     f"the logits' shape {format_shape(z_shape)} (probabilities) nor it "
                     f"without axis {axis} (class indices)")


def _ce_shape(z, y, *, axis, **_):
    if not z.shape:
        raise ShapeError("cross_entropy needs logits with a class axis")
    _ce_kind(z.shape, y.shape, axis)
    if z.shape[axis] == 0:
        raise ShapeError(f"the class axis {axis} of the logits (shape "
                         f"{format_shape(z.shape)}) has length 0: no class for a label "
                         f"to name")
    return ()


def _np_one_hot(labels, like, axis, **_):
    n = np.shape(like)[axis]
    lab = np.asarray(labels)
    hot = (np.expand_dims(lab, -1) == np.arange(n)).astype(np.result_type(lab, like,
                                                                        np.float32))
    return np.moveaxis(hot, -1, axis)


def _np_cross_entropy(z, y, axis, **_):
    ls = _np_log_softmax(z, (axis,))
    if _ce_kind(np.shape(z), np.shape(y), axis) == "indices":
        y = _np_one_hot(y, z, axis)
    with np.errstate(invalid="ignore"):
        total = -np.sum(y * ls)
    samples = np.size(z) // np.shape(z)[axis] if np.shape(z)[axis] else 0
    return total / samples


def _ce_labels(z, y, axis):
    if _ce_kind(z.shape, y.shape, axis) == "indices":
        return one_hot(y, z, axis), True
    return y, False


def _ce_samples(z, axis):
    return size(z, tuple(i for i in range(len(z.shape)) if i != axis))


def _ce_jvp(z, y, *, out, tangents, axis, **_):
    tz, ty = tangents
    Y, indices = _ce_labels(z, y, axis)
    ls = log_softmax(z, axis)
    terms = None
    if tz is not None:
        p = ops.exp(ls)
        tz = broadcast_to(tz, z.shape)
        dls = ops.sub(tz, sum(ops.mul(p, tz), axis, keepdims=True))
        terms = sum(ops.mul(Y, dls))
    if ty is not None and not indices:
        t2 = sum(ops.mul(broadcast_to(ty, y.shape), ls))
        terms = t2 if terms is None else ops.add(terms, t2)
    if terms is None:
        return None
    return ops.neg(ops.div(terms, _ce_samples(z, axis)))


def _ce_vjp(z, y, *, out, cotangent, axis, **_):
    Y, indices = _ce_labels(z, y, axis)
    ls = log_softmax(z, axis)
    scale = ops.div(cotangent, _ce_samples(z, axis))
    p = ops.exp(ls)
    zbar = ops.mul(scale, ops.sub(ops.mul(p, sum(Y, axis, keepdims=True)), Y))
    ybar = None if indices else ops.neg(ops.mul(scale, ls))
    return zbar, ybar


def _ce_decompose(z, y, *, out, axis, **_):
    Y, _ = _ce_labels(z, y, axis)
    return ops.neg(ops.div(sum(ops.mul(Y, log_softmax(z, axis))), _ce_samples(z, axis)))


cross_entropy_p = register(Primitive(
    "cross_entropy", 2, _np_cross_entropy, "cross_entropy({0}, {1}{_text})",
    latex=r"\operatorname{{CE}}\left({0}, {1}\right)", llvm=LLVM_DECOMPOSE, cuda="decompose",
    param_names=("axis",), param_defaults={"axis": -1}, canonical=_ce_canon,
    shape_rule=_ce_shape, elementwise=False, jvp=_ce_jvp, vjp=_ce_vjp,
    batch=_ce_batch,
    integer_args=lambda shapes, params: (
        {} if tuple(shapes[1]) == tuple(shapes[0])
        else {1: (0, shapes[0][params["axis"]])}),
    decompose=_ce_decompose, domain=((-B, B), (0.0, 1.0)),
    examples=((((4, 3), (4, 3)), {}), (((3, 5), (3, 5)), {"axis": 0}),
              (((4, 3), (4,)), {})),
    doc="softmax cross-entropy from logits, mean over samples; labels are probabilities "
        "(logits' shape) or class indices (without the class axis)"))


def _one_hot_canon(labels, like, axis=-1, **_):
    ax = normalize_axes(axis, like.shape, allow_none=False)
    if len(ax) != 1:
        raise ShapeError("one_hot takes one axis")
    return {"axis": ax[0]}


def _one_hot_shape(labels, like, *, axis, **_):
    want = like.shape[:axis] + like.shape[axis + 1:]
    if tuple(labels.shape) != want:
        raise ShapeError(f"one_hot: labels of shape {format_shape(labels.shape)} should "
                         f"have shape {format_shape(want)} (the shape "
                         f"{format_shape(like.shape)} without axis {axis})")
    return like.shape


one_hot_p = register(Primitive(
    "one_hot", 2, _np_one_hot, "one_hot({0}, {1}, axis={axis})",
    latex=r"\operatorname{{onehot}}\left({0}\right)", llvm="array.one_hot", cuda="array.one_hot",
    param_names=("axis",), param_defaults={"axis": -1}, canonical=_one_hot_canon,
    shape_rule=_one_hot_shape, elementwise=False, differentiable=False, masks=True,
    batch=_one_hot_batch,
    integer_args=lambda shapes, params: {0: (0, shapes[1][params["axis"]])},
    domain=((0.0, 3.0), (-B, B)), examples=((((4,), (4, 3)), {}),),
    doc="1.0 where the index along axis equals the label (class indices), else 0.0; "
        "the second argument gives the shape"))


def class_label_uses(graph) -> list[tuple[Node, Node, Node, int]]:
    """Where ``graph`` reads class indices: ``(user, labels, like, axis)`` for every
    ``one_hot`` node and every ``cross_entropy`` node whose labels are class indices
    (not probabilities); ``like`` is the node whose axis ``axis`` counts the classes.
    Backends check the labels' values at call time with :func:`check_class_indices`
    (reverse mode replaces ``cross_entropy`` by ``one_hot``, so both are needed)."""
    uses = []
    for n in graph.nodes:
        if n.prim is one_hot_p:
            uses.append((n, n.args[0], n.args[1], dict(n.params)["axis"]))
        elif n.prim is cross_entropy_p:
            z, y = n.args
            axis = dict(n.params)["axis"]
            if tuple(y.shape) != tuple(z.shape):
                uses.append((n, y, z, axis))
    return uses


def check_class_indices(labels, classes: int, name: str) -> None:
    """Check that every entry of ``labels`` (a NumPy array of floats, any shape) is a
    class index: an integer in ``[0, classes)``, not NaN. PyTorch's
    ``CrossEntropyLoss`` raises "Target out of bounds" for the same labels; without
    the check an index out of range selects no class and adds 0 to the loss.

    Raises:
        InputError: names the labels (``name``), the first bad entry's position and
            value, and the valid range.
    """
    lab = np.asarray(labels)
    with np.errstate(invalid="ignore"):
        good = (lab >= 0) & (lab < classes) & (lab == np.floor(lab))
    if good.all():
        return
    pos = tuple(int(i) for i in np.argwhere(~good)[0])
    value = float(lab[pos])
    what = ("not a number" if np.isnan(value) else
            "not an integer" if np.isfinite(value) and value != np.floor(value) else
            "out of range")
    raise InputError(f"labels {name}: the entry at position {pos} is {value!r} ({what}); "
                     f"class indices must be integers in [0, {classes}), one of the "
                     f"{classes} classes")


FUNCTIONS = {"stack": stack}
"""Parser-visible functions built from several primitives (not one record)."""

ARRAY_PRIMITIVES = tuple(p for p in (
    matmul_p, transpose_p, reshape_p, broadcast_to_p, sum_p, mean_p, prod_p, reduce_max_p,
    reduce_min_p, size_p, getitem_p, unslice_p, concatenate_p, softmax_p, log_softmax_p,
    logsumexp_p, mse_p, cross_entropy_p, one_hot_p))
"""The records defined here, in registration order."""

__all__ = [
    "ARRAY_PRIMITIVES", "FUNCTIONS", "amax", "amin", "broadcast_to", "check_class_indices",
    "class_label_uses", "concatenate", "cross_entropy", "fit_shape", "getitem", "index_text",
    "log_softmax", "logsumexp",
    "matmul", "mean", "mse", "normalize_axes", "one_hot", "parse_index", "prod", "reshape",
    "size", "slice_note", "slice_piece", "softmax", "stack", "sum", "transpose", "unslice",
]
