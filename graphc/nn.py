"""Convolution and pooling with ``torch.nn.functional``'s signatures: ``import graphc.nn``.

Layout is PyTorch's: inputs ``(N, C, *spatial)`` (or unbatched ``(C, *spatial)``),
convolution weights ``(O, C/groups, *kernel)``, biases ``(O,)``. Each function works
on graph values (:class:`~graphc.Node`, e.g. the parameters of a traced function:
it builds the ``conv``/``max_pool``/``avg_pool`` node of :mod:`graphc.ir.conv_ops`,
NumPy arrays among the arguments becoming constants) and on NumPy arrays (it returns
the value, computed by the primitives' NumPy implementations, the reference semantics
of every backend). Example::

    import graphc as gc

    @gc.function(shapes={"x": (64, 1, 8, 8), "w": (8, 1, 3, 3), "b": (8,)})
    def f(x, w, b):
        return gc.sum(gc.max_pool2d(gc.relu(gc.conv2d(x, w, b, padding=1)), 2))

Not supported (a :class:`~graphc.ShapeError` says so): ``ceil_mode=True``,
``return_indices=True``, ``divisor_override``, ``padding_mode`` other than zeros,
``padding="same"`` with a stride above 1 or an odd total padding.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .backends.numpy_interp import evaluate_all
from .ir import Graph, Node, ShapeError, ops
from .ir import array_ops, conv_ops
from .ir.numpy_dispatch import number_array, operand

__all__ = ["avg_pool1d", "avg_pool2d", "avg_pool3d", "conv1d", "conv2d", "conv3d",
           "max_pool1d", "max_pool2d", "max_pool3d"]


def _call(what: str, build: Callable[..., Node], *args: Any) -> Any:
    """``build`` on graph values (arrays lifted next to the first node), or on numbers
    and arrays its value: the graph over inputs of their shapes, evaluated by the NumPy
    interpreter (float32 when every array argument is float32, else float64)."""
    like = next((a for a in args if isinstance(a, Node)), None)
    if like is not None:
        return build(*[operand(a, what, like) for a in args])
    arrays = [number_array(a, what) for a in args]
    strong = [a.dtype for a, raw in zip(arrays, args) if isinstance(raw, np.ndarray)]
    dtype = "float32" if strong and all(d == np.float32 for d in strong) else "float64"
    nodes = [ops.variable(f"_nn{i}", dtype, tuple(a.shape)) for i, a in enumerate(arrays)]
    out = build(*nodes)
    values = evaluate_all(Graph(nodes, [out]),
                          {n.name: a.astype(dtype) for n, a in zip(nodes, arrays)})
    return values[out]


def _batched(x: Node, nd: int, what: str):
    """``x`` with a batch axis (added for an unbatched ``(C, *spatial)`` input) and a
    function undoing that on the result."""
    if len(x.shape) == nd + 2:
        return x, lambda y: y
    if len(x.shape) == nd + 1:
        return (array_ops.reshape(x, (1,) + tuple(x.shape)),
                lambda y: array_ops.reshape(y, tuple(y.shape[1:])))
    raise ShapeError(f"{what}: expected an input of {nd + 1} (unbatched) or {nd + 2} "
                     f"(batched) axes, got shape {tuple(x.shape)}")


def _same_padding(w_shape, stride, dilation, nd, what):
    st = conv_ops._tuple(stride, nd, "stride", 1)
    dl = conv_ops._tuple(dilation, nd, "dilation", 1)
    if any(s != 1 for s in st):
        raise ShapeError(f"{what}: padding='same' needs stride 1, got {st}")
    pads = []
    for k, d in zip(w_shape[2:], dl):
        total = d * (k - 1)
        if total % 2:
            raise ShapeError(f"{what}: padding='same' with kernel {tuple(w_shape[2:])} "
                             f"and dilation {dl} needs uneven padding, which graphc's "
                             f"symmetric padding cannot express")
        pads.append(total // 2)
    return tuple(pads)


def _conv(nd: int, input, weight, bias, stride, padding, dilation, groups):
    what = f"conv{nd}d"

    def build(x, w, *b):
        x, undo = _batched(x, nd, what)
        pad = padding
        if isinstance(pad, str):
            if pad == "valid":
                pad = 0
            elif pad == "same":
                pad = _same_padding(w.shape, stride, dilation, nd, what)
            else:
                raise ShapeError(f"{what}: padding must be an int, a tuple, 'valid' or "
                                 f"'same', got {pad!r}")
        if len(w.shape) != nd + 2:
            raise ShapeError(f"{what}: the weight must have {nd + 2} axes (O, C/groups, "
                             f"*kernel), got shape {tuple(w.shape)}")
        y = conv_ops.conv(x, w, stride=stride, padding=pad, dilation=dilation, groups=groups)
        if b:
            (b,) = b
            if tuple(b.shape) != (w.shape[0],):
                raise ShapeError(f"{what}: the bias must have shape ({w.shape[0]},), got "
                                 f"{tuple(b.shape)}")
            y = ops.add(y, array_ops.reshape(b, (w.shape[0],) + (1,) * nd))
        return undo(y)

    args = (input, weight) if bias is None else (input, weight, bias)
    return _call(f"graphc.nn.{what}", build, *args)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution as ``torch.nn.functional.conv1d``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)`` (a graph value or an array, float64 or
            float32).
        weight: ``(O, C/groups, k)``.
        bias: ``(O,)`` or None.
        stride: an int or a 1-tuple.
        padding: an int, a 1-tuple, ``"valid"`` or ``"same"`` (stride 1, even total
            padding).
        dilation: an int or a 1-tuple.
        groups: divides C and O.

    Returns:
        ``(N, O, L_out)`` with ``L_out = ⌊(L + 2p − d(k−1) − 1)/s⌋ + 1``: a graph node, or
        an array for array arguments.

    Raises:
        ShapeError: shapes or parameters that do not fit (names them).
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution as ``torch.nn.functional.conv2d``: input ``(N, C, H, W)`` or
    ``(C, H, W)``, weight ``(O, C/groups, kH, kW)``; the parameters are ints or
    2-tuples (see :func:`conv1d` for the rest)."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution as ``torch.nn.functional.conv3d``: input ``(N, C, D, H, W)`` or
    ``(C, D, H, W)``, weight ``(O, C/groups, kD, kH, kW)``; the parameters are ints or
    3-tuples (see :func:`conv1d` for the rest)."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def _unsupported(what, ceil_mode=False, return_indices=False, divisor_override=None):
    if ceil_mode:
        raise ShapeError(f"{what}: ceil_mode=True is not supported (output lengths round "
                         f"down)")
    if return_indices:
        raise ShapeError(f"{what}: return_indices=True is not supported")
    if divisor_override is not None:
        raise ShapeError(f"{what}: divisor_override is not supported")


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    what = f"max_pool{nd}d"
    _unsupported(what, ceil_mode, return_indices)

    def build(x):
        x, undo = _batched(x, nd, what)
        st = None if stride is None or stride == [] or stride == () else stride
        return undo(conv_ops.max_pool(x, kernel_size, st, padding, dilation))
    return _call(f"graphc.nn.{what}", build, input)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling as ``torch.nn.functional.max_pool1d``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``. kernel_size, stride (default: the kernel),
            padding (``-inf``, at most half the dilated kernel), dilation: ints or
            1-tuples.

    Returns:
        ``(N, C, L_out)``; its derivative goes to the first maximum of each window (as
        PyTorch's).

    Raises:
        ShapeError: shapes or parameters that do not fit; ``ceil_mode`` or
            ``return_indices``.
    """
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling as ``torch.nn.functional.max_pool2d`` (input ``(N, C, H, W)`` or
    ``(C, H, W)``; see :func:`max_pool1d`)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling as ``torch.nn.functional.max_pool3d`` (input ``(N, C, D, H, W)``
    or ``(C, D, H, W)``; see :func:`max_pool1d`)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override=None):
    what = f"avg_pool{nd}d"
    _unsupported(what, ceil_mode, divisor_override=divisor_override)

    def build(x):
        x, undo = _batched(x, nd, what)
        st = None if stride is None or stride == [] or stride == () else stride
        return undo(conv_ops.avg_pool(x, kernel_size, st, padding, count_include_pad))
    return _call(f"graphc.nn.{what}", build, input)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling as ``torch.nn.functional.avg_pool1d``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``. kernel_size, stride (default: the kernel),
            padding (zeros, at most half the kernel): ints or 1-tuples.
        count_include_pad: divide by the kernel size (True) or by the number of
            entries of the window inside the input (False).

    Returns:
        ``(N, C, L_out)``.

    Raises:
        ShapeError: shapes or parameters that do not fit; ``ceil_mode``.
    """
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling as ``torch.nn.functional.avg_pool2d`` (input
    ``(N, C, H, W)`` or ``(C, H, W)``; see :func:`avg_pool1d`)."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling as ``torch.nn.functional.avg_pool3d`` (input
    ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :func:`avg_pool1d`)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)
