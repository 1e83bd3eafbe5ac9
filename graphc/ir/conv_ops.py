"""Convolution and pooling primitives: ``conv``, ``max_pool``, ``avg_pool``.

Layout: PyTorch's ``N, C, *spatial`` (batch, channels, then 1, 2 or 3 spatial axes);
a convolution's weight is ``O, C/groups, *kernel``. Every record follows
:mod:`graphc.ir.array_ops`: a NumPy implementation (the reference semantics, sliding
windows by ``numpy.lib.stride_tricks.as_strided`` and one ``einsum``), a shape rule,
forward (``jvp``) and reverse (``vjp``) rules built from registered primitives (so
derivatives of any order follow), and a ``decompose`` rule, which the LLVM and CUDA
array backends lower (``llvm``/``cuda`` key ``"decompose"``): the windows of the
padded input (:func:`windows`: strided ``getitem`` slices, ``unslice`` for the zero
padding, ``concatenate``), then for ``conv`` either a direct product summed over the
channel and tap axes (few terms per output: :func:`direct_conv`) or one ``matmul`` per
group (im2col, so the LLVM backend calls BLAS), and a ``max``/``sum`` over the window
axes for the pools.

Semantics (those of ``torch.nn.functional``; formulas from Dumoulin & Visin, "A guide
to convolution arithmetic for deep learning", arXiv:1603.07285, section 2-5):

* ``conv(x, w; stride, padding, dilation, groups)`` is the cross-correlation
  ``y[n, o, j] = Σ_{c, t} x_pad[n, g(o)·C/G + c, s·j + d·t] · w[o, c, t]`` (per spatial
  axis; ``G`` groups, ``g(o)`` the group of output channel ``o``), zero padding ``p``
  on both sides; the output length is ``⌊(L + 2p − d(k−1) − 1)/s⌋ + 1``.
* The JVP is bilinear: ``conv(ẋ, w) + conv(x, ẇ)``. The VJP with respect to the
  input is a transposed convolution: the cotangent dilated by the stride (``unslice``
  with a step), padded by ``d(k−1) − p``, convolved with the spatially flipped
  weight with input and output channels swapped (per group). The VJP with respect to
  the weight is the correlation of the input with the cotangent: a ``conv`` with
  batch and channel axes swapped, stride ``d`` and dilation ``s``, cropped to the
  kernel size.
* ``max_pool(x; kernel, stride, padding, dilation)`` pads with ``-inf``; its
  derivative goes to the *first* maximum of each window in row-major window order
  (as PyTorch's CPU and CUDA kernels do), not split among ties as ``maximum`` and
  ``max`` split it. A window whose maximum is NaN passes no derivative.
* ``avg_pool(x; kernel, stride, padding, count_include_pad)`` pads with zeros and
  divides by the kernel's size (``count_include_pad=True``, PyTorch's default) or by
  the number of entries of the window inside the input.
* Pooling padding is at most half the (dilated) kernel, as PyTorch requires;
  ``ceil_mode`` is not supported (output lengths round down).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import batching as _b
from . import ops
from .array_ops import (LLVM_DECOMPOSE, amax, concatenate, fit_shape, getitem, matmul,
                        reshape, transpose, unslice)
from .array_ops import sum as array_sum
from .errors import ShapeError
from .node import Node
from .primitive import Primitive, apply, register
from .shapes import format_shape

B = 2.0


# ---------------------------------------------------------------------------------
# parameters and window arithmetic

def _tuple(v, nd: int, what: str, least: int) -> tuple[int, ...]:
    """``v`` (an int or a sequence of ``nd`` ints, each at least ``least``) as a tuple."""
    items = tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    if len(items) != nd:
        raise ShapeError(f"{what} {tuple(items)} has {len(items)} entries for {nd} spatial "
                         f"axis/axes")
    out = []
    for it in items:
        if isinstance(it, bool) or not isinstance(it, (int, np.integer)) and not (
                isinstance(it, float) and it.is_integer()):
            raise ShapeError(f"{what} must be integers, got {v!r}")
        it = int(it)
        if it < least:
            raise ShapeError(f"{what} must be at least {least}, got {v!r}")
        out.append(it)
    return tuple(out)


def _spatial(x, what: str) -> int:
    nd = len(x.shape) - 2
    if not 1 <= nd <= 3:
        raise ShapeError(f"{what} takes an input of shape (N, C, *spatial) with 1 to 3 "
                         f"spatial axes, got shape {format_shape(x.shape)}")
    for i, d in enumerate(x.shape[2:], start=2):
        if not isinstance(d, int):
            raise ShapeError(f"{what}: spatial axis {i} of the input (shape "
                             f"{format_shape(x.shape)}) must have a concrete size; only "
                             f"the batch and channel axes may be symbolic")
    return nd


def out_length(length: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """``⌊(L + 2p − d(k−1) − 1)/s⌋ + 1``: the output length of a window of ``kernel``
    taps ``dilation`` apart, moved ``stride`` at a time over ``length`` entries padded
    by ``pad`` on each side (Dumoulin & Visin, relationship 15); may be ≤ 0."""
    return (length + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _out_spatial(what, spatial, kernel, stride, padding, dilation):
    out = tuple(out_length(*a) for a in zip(spatial, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        padded = tuple(s + 2 * p for s, p in zip(spatial, padding))
        raise ShapeError(f"{what}: the (dilated) kernel {kernel} (dilation {dilation}) is "
                         f"larger than the padded input {padded}")
    return out


def _params_text(params: dict, defaults: dict) -> str:
    return "".join(f", {k}={v!r}" for k, v in params.items()
                   if v != defaults.get(k))


def _window_index(offset, stride, dilation, out) -> str:
    """Index text selecting tap ``offset`` of every window (strided slices)."""
    parts = [":", ":"]
    for t, s, d, o in zip(offset, stride, dilation, out):
        start = t * d
        stop = start + s * (o - 1) + 1
        parts.append(f"{start}:{stop}" + (f":{s}" if s != 1 else ""))
    return ", ".join(parts)


def _offsets(kernel):
    return list(itertools.product(*(range(k) for k in kernel)))


def _pad(x: Node, padding) -> Node:
    """``x`` with ``padding`` zeros on both sides of each spatial axis (``unslice``)."""
    if not any(padding):
        return x
    shape = x.shape[:2] + tuple(d + 2 * p for d, p in zip(x.shape[2:], padding))
    index = ", ".join([":", ":"] + [f"{p}:{p + d}" for d, p in zip(x.shape[2:], padding)])
    return unslice(x, shape, index)


def _crop(x: Node, padding, spatial) -> Node:
    """The transpose of :func:`_pad`: the inner ``spatial`` part of ``x``."""
    if not any(padding):
        return x
    return getitem(x, ", ".join([":", ":"] + [f"{p}:{p + d}" for d, p in zip(spatial, padding)]))


def _np_windows(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """A read-only view of shape ``(N, C, *out, *kernel)`` of the windows of ``xp``."""
    st = xp.strides
    strides = st[:2] + tuple(a * s for a, s in zip(st[2:], stride)) + \
        tuple(a * d for a, d in zip(st[2:], dilation))
    return as_strided(xp, shape=xp.shape[:2] + tuple(out) + tuple(kernel), strides=strides,
                      writeable=False)


# ---------------------------------------------------------------------------------
# conv

_CONV_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}


def _conv_canon(x, w, stride=1, padding=0, dilation=1, groups=1, **_):
    nd = _spatial(x, "conv")
    if len(w.shape) != nd + 2:
        raise ShapeError(f"the weight of shape {format_shape(w.shape)} should have "
                         f"{nd + 2} axes (O, C/groups, *kernel) for an input of shape "
                         f"{format_shape(x.shape)}")
    p = {"stride": _tuple(stride, nd, "stride", 1),
         "padding": _tuple(padding, nd, "padding", 0),
         "dilation": _tuple(dilation, nd, "dilation", 1),
         "groups": _tuple(groups, 1, "groups", 1)[0]}
    d = {k: (v,) * nd if k != "groups" else v for k, v in _CONV_DEFAULTS.items()}
    p["_text"] = _params_text(p, d)
    return p


def _conv_shape(x, w, *, stride, padding, dilation, groups, **_):
    C = x.shape[1]
    O = w.shape[0]
    if not all(isinstance(d, int) and d >= 1 for d in w.shape[2:]):
        raise ShapeError(f"the kernel sizes of the weight (shape {format_shape(w.shape)}) "
                         f"must be concrete and at least 1")
    if groups != 1 and not (isinstance(C, int) and isinstance(O, int)):
        raise ShapeError(f"groups={groups} needs concrete channel counts, got input shape "
                         f"{format_shape(x.shape)} and weight shape {format_shape(w.shape)}")
    if groups == 1 and w.shape[1] != C:
        raise ShapeError(f"the weight of shape {format_shape(w.shape)} has {w.shape[1]} "
                         f"input channel(s); the input of shape {format_shape(x.shape)} "
                         f"has {C}")
    if groups == 1:
        pass
    elif C % groups or O % groups:
        raise ShapeError(f"groups={groups} must divide the input channels ({C}) and the "
                         f"output channels ({O})")
    elif w.shape[1] != C // groups:
        raise ShapeError(f"the weight of shape {format_shape(w.shape)} has {w.shape[1]} "
                         f"input channel(s) per group; the input of shape "
                         f"{format_shape(x.shape)} with groups={groups} needs {C // groups}")
    out = _out_spatial("conv", x.shape[2:], w.shape[2:], stride, padding, dilation)
    return (x.shape[0], O) + out


def _np_conv(x, w, stride, padding, dilation, groups, **_):
    x = np.asarray(x)
    w = np.asarray(w)
    dtype = np.result_type(x, w, np.float32)
    nd = x.ndim - 2
    kernel = w.shape[2:]
    out = tuple(out_length(*a) for a in zip(x.shape[2:], kernel, stride, padding, dilation))
    xp = np.pad(x.astype(dtype, copy=False), [(0, 0), (0, 0)] + [(p, p) for p in padding])
    win = _np_windows(xp, kernel, stride, dilation, out)
    N, C = x.shape[:2]
    O = w.shape[0]
    G = groups
    win = win.reshape((N, G, C // G) + out + tuple(kernel))
    wg = w.astype(dtype, copy=False).reshape((G, O // G, C // G) + tuple(kernel))
    so, sk = "pqr"[:nd], "uvw"[:nd]
    y = np.einsum(f"ngc{so}{sk},goc{sk}->ngo{so}", win, wg, optimize=True)
    return np.ascontiguousarray(y.reshape((N, O) + out), dtype=dtype)


def conv(x, w, stride=1, padding=0, dilation=1, groups=1) -> Node:
    """The N-d convolution (cross-correlation) node of ``x`` (N, C, *spatial) and ``w``
    (O, C/groups, *kernel); see the module docstring for the formula.

    Raises:
        ShapeError: mismatched channels, groups that do not divide them, a kernel larger
            than the padded input, parameters that are not (tuples of) integers.
    """
    x, w = ops._lift2(x, w)
    return apply(conv_p, x, w, stride=stride, padding=padding, dilation=dilation,
                 groups=groups)


def _conv_jvp(x, w, *, out, tangents, stride, padding, dilation, groups, **_):
    tx, tw = tangents
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    terms = []
    if tx is not None:
        terms.append(conv(fit_shape(tx, x.shape), w, **kw))
    if tw is not None:
        terms.append(conv(x, fit_shape(tw, w.shape), **kw))
    return terms[0] if len(terms) == 1 else ops.add(terms[0], terms[1])


def conv_input_vjp(g: Node, w: Node, x_shape: tuple, stride, padding, dilation,
                   groups) -> Node:
    """The transposed convolution: the cotangent of ``conv``'s input ``x`` (shape
    ``x_shape``) for the output cotangent ``g`` (N, O, *out) and weight ``w``.

    The cotangent dilated by ``stride`` and padded by ``d(k−1) − p`` before and
    ``L + p − s(out−1) − 1`` after (cropped where negative), correlated with the
    flipped weight whose input and output channels are swapped within each group
    (Dumoulin & Visin, section 4)."""
    nd = len(x_shape) - 2
    if 0 in tuple(x_shape[2:]):   # no input entries (the output read padding only)
        return ops.const(0.0, g.dtype, tuple(x_shape))
    kernel = w.shape[2:]
    O, Cg = w.shape[0], w.shape[1]
    G = groups
    C = Cg * G
    out = g.shape[2:]
    lo = [d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation)]
    hi = [L + p - s * (o - 1) - 1 for L, p, s, o in zip(x_shape[2:], padding, stride, out)]
    sizes, parts = [], []
    for a, b, s, o in zip(lo, hi, stride, out):
        span = s * (o - 1) + 1
        a0, b0 = max(a, 0), max(b, 0)
        sizes.append(a0 + span + b0)
        parts.append(f"{a0}:{a0 + span}" + (f":{s}" if s != 1 else ""))
    gp = unslice(g, g.shape[:2] + tuple(sizes), ", ".join([":", ":"] + parts))
    if any(a < 0 or b < 0 for a, b in zip(lo, hi)):
        crop = [f"{max(-a, 0)}:{n - max(-b, 0)}" for a, b, n in zip(lo, hi, sizes)]
        gp = getitem(gp, ", ".join([":", ":"] + crop))
    wt = w
    if G > 1:
        wt = reshape(w, (G, O // G, Cg) + tuple(kernel))
        wt = transpose(wt, (0, 2, 1) + tuple(range(3, 3 + nd)))
        wt = reshape(wt, (C, O // G) + tuple(kernel))
    else:
        wt = transpose(w, (1, 0) + tuple(range(2, 2 + nd)))
    wt = getitem(wt, ", ".join([":", ":"] + ["::-1"] * nd))
    return conv(gp, wt, stride=1, padding=0, dilation=dilation, groups=G)


def conv_weight_vjp(x: Node, g: Node, w_shape: tuple, stride, padding, dilation,
                    groups) -> Node:
    """The cotangent of ``conv``'s weight (shape ``w_shape``) for input ``x`` and output
    cotangent ``g``: ``w̄[o, c, t] = Σ_{n, j} g[n, o, j] · x_pad[n, ·, s·j + d·t]``, a
    convolution over the batch axis (batch and channels swapped) with stride ``d`` and
    dilation ``s``, cropped to the kernel."""
    nd = len(w_shape) - 2
    G = groups
    C, O = x.shape[1], g.shape[1]
    swap = (1, 0) + tuple(range(2, 2 + nd))
    kernel = w_shape[2:]
    parts = []
    for gi in range(G):   # one group at a time: the batch axis may be symbolic
        xg = x if G == 1 else getitem(x, f":, {gi * (C // G)}:{(gi + 1) * (C // G)}")
        gg = g if G == 1 else getitem(g, f":, {gi * (O // G)}:{(gi + 1) * (O // G)}")
        r = conv(transpose(xg, swap), transpose(gg, swap), stride=dilation, padding=padding,
                 dilation=stride)
        if tuple(r.shape[2:]) != tuple(kernel):
            r = getitem(r, ", ".join([":", ":"] + [f":{k}" for k in kernel]))
        parts.append(transpose(r, swap))
    return parts[0] if G == 1 else concatenate(*parts, axis=0)


def _conv_vjp(x, w, *, out, cotangent, stride, padding, dilation, groups, **_):
    g = cotangent
    return (conv_input_vjp(g, w, x.shape, stride, padding, dilation, groups),
            conv_weight_vjp(x, g, w.shape, stride, padding, dilation, groups))


def _concat_tree(pieces, axis):
    """``concatenate`` of ``pieces`` along ``axis`` as a balanced tree of the binary op
    (each entry is copied ``log2`` times, not up to ``len(pieces)`` times)."""
    if len(pieces) == 1:
        return pieces[0]
    mid = len(pieces) // 2
    return concatenate(_concat_tree(pieces[:mid], axis), _concat_tree(pieces[mid:], axis),
                       axis=axis)


def windows(xp: Node, kernel, stride, dilation, out_sp=None) -> Node:
    """The windows of the (already padded) ``xp`` (N, C, *spatial) as one array of shape
    ``(N, C, *kernel, *out_sp)``: entry ``[n, c, t…, j…] = xp[n, c, s·j + d·t…]`` (the
    ``windows`` primitive, a strided view of ``xp`` for the LLVM backend; ``out_sp``,
    the number of window positions per axis, is implied by the sizes and checked).

    Raises:
        ShapeError: a window larger than ``xp``, parameters that are not integers, or an
            ``out_sp`` that disagrees with the sizes.
    """
    node = apply(windows_p, ops.lift(xp), kernel=kernel, stride=stride, dilation=dilation)
    got = tuple(node.shape[2 + len(node.param("kernel")):])
    if out_sp is not None and got != tuple(out_sp):
        raise ShapeError(f"windows: {tuple(out_sp)} window positions asked for, the sizes "
                         f"give {got}")
    return node


def _windows_by_slices(xp: Node, kernel, stride, dilation, out_sp) -> Node:
    """:func:`windows` from strided ``getitem`` slices and ``concatenate`` (the
    ``decompose`` rule of ``windows``, for backends without strided views of it).

    Built one spatial axis at a time (the windows separate by axis), each axis from
    ``min(k, out)`` strided ``getitem`` slices joined by ``concatenate``: the slices of
    one tap across every window position, or of one window position across the taps,
    whichever are fewer; so a 3x3 kernel takes 6 slices, not 9, and the large-kernel
    convolution of a weight's cotangent takes one slice per kernel tap of the forward
    convolution."""
    nd = len(kernel)
    t = xp
    order = []          # per axis: True when its pair of axes is (tap, position)
    for a in range(nd):
        k, s, d, o = kernel[a], stride[a], dilation[a], out_sp[a]
        pos = 2 + 2 * a
        lead = ":, " * pos
        pieces = []
        by_tap = k <= o
        for i in range(k if by_tap else o):
            if by_tap:
                start, step, count = i * d, s, o
            else:
                start, step, count = i * s, d, k
            stop = start + step * (count - 1) + 1
            sl = getitem(t, lead + f"{start}:{stop}" + (f":{step}" if step != 1 else ""))
            pieces.append(reshape(sl, sl.shape[:pos] + (1,) + sl.shape[pos:]))
        t = _concat_tree(pieces, pos)
        order.append(by_tap)
    perm = [0, 1]
    perm += [2 + 2 * a + (0 if order[a] else 1) for a in range(nd)]
    perm += [2 + 2 * a + (1 if order[a] else 0) for a in range(nd)]
    if perm != list(range(2 + 2 * nd)):
        t = transpose(t, tuple(perm))
    return t


def _pool_batch(node, args, axes):
    """The batch joins the samples axis N."""
    x = _b.moveaxis(args[0], axes[0], 0)
    n_b = x.shape[0]
    out = _b.rebind(node, _b.reshape(x, (n_b * x.shape[1],) + tuple(x.shape[2:])))
    return _b.reshape(out, (n_b,) + tuple(node.shape)), 0


def _windows_canon(x, kernel=None, stride=1, dilation=1, **_):
    nd = _spatial(x, "windows")
    if kernel is None:
        raise ShapeError("windows needs a kernel size")
    return {"kernel": _tuple(kernel, nd, "kernel", 1), "stride": _tuple(stride, nd, "stride", 1),
            "dilation": _tuple(dilation, nd, "dilation", 1)}


def _windows_shape(x, *, kernel, stride, dilation, **_):
    out = _out_spatial("windows", x.shape[2:], kernel, stride, (0,) * len(kernel), dilation)
    return tuple(x.shape[:2]) + tuple(kernel) + out


def _np_windows_op(xp, kernel, stride, dilation, **_):
    xp = np.asarray(xp)
    nd = len(kernel)
    out = tuple(out_length(L, k, s, 0, d) for L, k, s, d in
                zip(xp.shape[2:], kernel, stride, dilation))
    win = _np_windows(xp, kernel, stride, dilation, out)       # (N, C, *out, *kernel)
    perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return np.ascontiguousarray(win.transpose(perm))


def _windows_jvp(x, *, out, tangents, kernel, stride, dilation, **_):
    return windows(fit_shape(tangents[0], x.shape), kernel, stride, dilation)


def _windows_vjp(x, *, out, cotangent, kernel, stride, dilation, **_):
    """Σ over taps of the tap's cotangent slice written at its window positions."""
    nd = len(kernel)
    out_sp = tuple(out.shape[2 + nd:])
    parts = [getitem(cotangent, ", ".join([":", ":"] + [str(t) for t in off]))
             for off in _offsets(kernel)]
    return (_scatter_windows(parts, x.shape, kernel, stride, (0,) * nd, dilation, out_sp),)


def _windows_decompose(x, *, out, kernel, stride, dilation, **_):
    return _windows_by_slices(x, kernel, stride, dilation, tuple(out.shape[2 + len(kernel):]))


windows_p = register(Primitive(
    "windows", 1, _np_windows_op, "windows({0}, kernel={kernel}, stride={stride}, "
    "dilation={dilation})", latex=r"\operatorname{{windows}}\left({0}\right)",
    llvm="array.view", cuda="decompose",
    param_names=("kernel", "stride", "dilation"),
    param_defaults={"kernel": None, "stride": 1, "dilation": 1},
    canonical=_windows_canon, shape_rule=_windows_shape, elementwise=False,
    batch=_pool_batch, jvp=_windows_jvp, vjp=_windows_vjp, decompose=_windows_decompose,
    domain=((-B, B),),
    examples=((((2, 3, 6, 6),), {"kernel": (3, 3)}),
              (((1, 2, 9),), {"kernel": (3,), "stride": (2,), "dilation": (2,)}),
              (((1, 1, 4, 5, 4),), {"kernel": (2, 3, 2), "stride": (1, 2, 1)})),
    doc="the sliding windows of x (N, C, *spatial) as an array (N, C, *kernel, *positions): "
        "entry [n, c, t, j] = x[n, c, stride*j + dilation*t] (the im2col gather; a "
        "strided view for the LLVM backend)"))


DIRECT_TERMS = 36
"""Convolutions with at most this many terms per output (``C/G`` input channels times
the kernel's taps) lower as a direct loop nest instead of
im2col + ``matmul`` (:func:`_conv_decompose`). Chosen from ``python benchmarks/conv.py`` (LLVM, one thread:
benchmarks/CONV.md): the direct nest is faster up to about 36 terms, BLAS's blocked
matrix product beyond, except when the product has few columns (:data:`DIRECT_FEW_OUT`)."""

DIRECT_FEW_OUT = 8
"""Up to this many output channels per group, a convolution of up to
:data:`DIRECT_TERMS_GROUPED` terms per output lowers directly too: the im2col product
would be a matrix with that few columns, where BLAS runs far below its peak (the input
gradient of a 4 -> 16 channel layer, 16 -> 4 channels: 1.65 ms direct, 3.42 ms im2col)."""

DIRECT_TERMS_GROUPED = 512
"""The terms bound for grouped convolutions (``G > 1``, e.g. depthwise, whose im2col
needs one matrix product per group and a concatenation) and for few output channels."""


def direct_conv(C: int, O: int, kernel, groups: int) -> bool:
    """Whether a convolution of ``C`` input and ``O`` output channels, ``groups``
    groups and kernel shape ``kernel`` lowers as a direct loop nest (True) or as im2col
    + ``matmul`` (False): see :data:`DIRECT_TERMS`, :data:`DIRECT_FEW_OUT` and
    :data:`DIRECT_TERMS_GROUPED`."""
    terms = (C // groups) * math.prod(kernel)
    if terms <= DIRECT_TERMS:
        return True
    return terms <= DIRECT_TERMS_GROUPED and (groups > 1 or O // groups <= DIRECT_FEW_OUT)


def _conv_decompose(x, w, *, out, stride, padding, dilation, groups, **_):
    """Both lowerings start from the windows of the zero-padded input (:func:`windows`,
    ``(N, C, *k, *out)``). For few terms per output (:func:`direct_conv`) a **direct
    loop nest**: the windows ``(N, G, 1, C/G, *k, *out)`` times the weight
    ``(1, G, O/G, C/G, *k, 1…)``, summed over the channel and tap axes, ``y[n, o, j] =
    Σ_{c, t} w[o, c, t] · x_pad[n, c, s·j + d·t]`` with no im2col matrix (the product
    is fused into the sum; the LLVM backend keeps each block of outputs in registers
    over all its terms). Else **im2col**: the windows as a matrix ``(N·out, C/G·k)``
    times the weight as a ``(C/G·k, O/G)`` matrix, one ``matmul`` per group."""
    N, C = x.shape[:2]
    O = w.shape[0]
    kernel = tuple(w.shape[2:])
    nd = len(kernel)
    G = groups
    Cg, Og = C // G, O // G
    sp_out = tuple(out.shape[2:])
    win = windows(_pad(x, padding), kernel, stride, dilation, sp_out)   # (N, C, *k, *out)
    if direct_conv(C, O, kernel, G):
        win = reshape(win, (N, G, 1, Cg) + kernel + sp_out)
        wb = reshape(w, (1, G, Og, Cg) + kernel + (1,) * nd)
        y = array_sum(win * wb, axis=tuple(range(3, 4 + nd)))           # (N, G, O/G, *out)
        return reshape(y, (N, O) + sp_out)
    L = math.prod(sp_out)
    K = math.prod(kernel)
    perm = (0,) + tuple(range(2 + nd, 2 + 2 * nd)) + (1,) + tuple(range(2, 2 + nd))
    cols = transpose(win, perm)                                        # (N, *out, C, *k)
    results = []
    for gi in range(G):
        cg = cols if G == 1 else getitem(cols, ":, " * (1 + nd) + f"{gi * Cg}:{(gi + 1) * Cg}")
        cm = reshape(cg, (N * L, Cg * K))
        wg = w if G == 1 else getitem(w, f"{gi * Og}:{(gi + 1) * Og}")
        y = matmul(cm, transpose(reshape(wg, (Og, Cg * K))))             # (N·out, O/G)
        results.append(y)
    y = results[0] if G == 1 else _concat_tree(results, 1)              # (N·out, O)
    y = reshape(y, (N,) + sp_out + (O,))
    return transpose(y, (0, 1 + nd) + tuple(range(1, 1 + nd)))


# ---------------------------------------------------------------------------------
# batching rules (the ``batch`` field; graphc.vmap): see graphc/ir/batching.py

def _conv_batch(node, args, axes):
    """A batch of inputs joins the samples axis N; a batch of weights becomes groups
    (inputs ``(N, B·C, ...)``, weights ``(B·O, C/G, ...)``, ``B·G`` groups), the batch
    then on axis 1 of the output (JAX's trick in ``_conv_general_dilated_batch_rule``)."""
    (x, w), (ax, aw) = args, axes
    if aw is None:
        x = _b.moveaxis(x, ax, 0)
        n_b = x.shape[0]
        out = _b.rebind(node, _b.reshape(x, (n_b * x.shape[1],) + tuple(x.shape[2:])), w)
        return _b.reshape(out, (n_b,) + tuple(node.shape)), 0
    w = _b.moveaxis(w, aw, 0)
    n_b = w.shape[0]
    if ax is None:
        x = _b.broadcast_to(_b.reshape(x, (x.shape[0], 1) + tuple(x.shape[1:])),
                            (x.shape[0], n_b) + tuple(x.shape[1:]))
    else:
        x = _b.moveaxis(x, ax, 1)
    x = _b.reshape(x, (x.shape[0], n_b * x.shape[2]) + tuple(x.shape[3:]))
    w = _b.reshape(w, (n_b * w.shape[1],) + tuple(w.shape[2:]))
    out = _b.rebind(node, x, w, groups=n_b * node.param("groups"))
    return _b.reshape(out, (node.shape[0], n_b) + tuple(node.shape[1:])), 1


conv_p = register(Primitive(
    "conv", 2, _np_conv, "conv({0}, {1}{_text})",
    latex=r"{0} \star {1}", llvm=LLVM_DECOMPOSE, cuda="decompose",
    aliases=("convolution",),
    param_names=("stride", "padding", "dilation", "groups"),
    param_defaults=dict(_CONV_DEFAULTS), canonical=_conv_canon, shape_rule=_conv_shape,
    elementwise=False, jvp=_conv_jvp, vjp=_conv_vjp, decompose=_conv_decompose,
    batch=_conv_batch,
    domain=((-B, B), (-B, B)),
    examples=((((2, 3, 7), (4, 3, 3)), {}),
              (((1, 4, 6, 5), (2, 2, 3, 2)), {"stride": (2, 1), "padding": (1, 0),
                                                "dilation": (1, 2), "groups": 2}),
              (((1, 2, 4, 3, 3), (2, 2, 2, 2, 2)), {"padding": 1, "stride": 2})),
    doc="N-d convolution (cross-correlation, PyTorch layout N, C, *spatial; weight O, "
        "C/groups, *kernel) with stride, zero padding, dilation and groups"))


# ---------------------------------------------------------------------------------
# pooling

def _pool_canon(what, x, kernel, stride, padding, dilation):
    nd = _spatial(x, what)
    k = _tuple(kernel, nd, "kernel", 1)
    s = k if stride is None or stride == () else _tuple(stride, nd, "stride", 1)
    p = _tuple(padding, nd, "padding", 0)
    d = _tuple(dilation, nd, "dilation", 1)
    for kk, pp, dd in zip(k, p, d):
        if 2 * pp > dd * (kk - 1) + 1:
            raise ShapeError(f"{what}: padding {p} must be at most half the (dilated) "
                             f"kernel {k} (as PyTorch requires)")
    return nd, k, s, p, d


def _pool_out(what, x, kernel, stride, padding, dilation):
    return x.shape[:2] + _out_spatial(what, x.shape[2:], kernel, stride, padding, dilation)


def _max_pool_canon(x, kernel=2, stride=None, padding=0, dilation=1, **_):
    nd, k, s, p, d = _pool_canon("max_pool", x, kernel, stride, padding, dilation)
    params = {"kernel": k, "stride": s, "padding": p, "dilation": d}
    text = f", kernel={k!r}" + _params_text(
        {"stride": s, "padding": p, "dilation": d},
        {"stride": k, "padding": (0,) * nd, "dilation": (1,) * nd})
    params["_text"] = text
    return params


def _np_max_pool(x, kernel, stride, padding, dilation, **_):
    x = np.asarray(x)
    out = tuple(out_length(*a) for a in zip(x.shape[2:], kernel, stride, padding, dilation))
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=-np.inf)
    win = _np_windows(xp, kernel, stride, dilation, out)
    nd = len(kernel)
    return np.ascontiguousarray(np.max(win, axis=tuple(range(-nd, 0))))


def _neg_inf_pad(x: Node, padding) -> Node:
    """``x`` padded with ``-inf`` (a zero-padded ``where`` mask selects the inside)."""
    if not any(padding):
        return x
    inside = _pad(ops.const(1.0, x.dtype, (1, 1) + tuple(x.shape[2:])), padding)
    return ops.where(inside, _pad(x, padding), ops.const(-np.inf, x.dtype))


def _first_max_masks(x, out, kernel, stride, padding, dilation):
    """Per window tap, 1.0 where that tap holds the first maximum of its window."""
    xp = _neg_inf_pad(x, padding)
    out_sp = out.shape[2:]
    masks, taken = [], None
    for t in _offsets(kernel):
        hit = ops.eq(getitem(xp, _window_index(t, stride, dilation, out_sp)), out)
        if taken is None:
            masks.append(hit)
            taken = hit
        else:
            masks.append(ops.mul(hit, ops.sub(ops.const(1.0, x.dtype), taken)))
            taken = ops.maximum(taken, hit)
    return masks


def _max_pool_jvp(x, *, out, tangents, kernel, stride, padding, dilation, **_):
    t = _pad(fit_shape(tangents[0], x.shape), padding)
    out_sp = out.shape[2:]
    masks = _first_max_masks(x, out, kernel, stride, padding, dilation)
    total = None
    for off, m in zip(_offsets(kernel), masks):
        term = ops.mul(getitem(t, _window_index(off, stride, dilation, out_sp)), m)
        total = term if total is None else ops.add(total, term)
    return total


def _scatter_windows(parts, x_shape, kernel, stride, padding, dilation, out_sp):
    """Σ over taps of each part written at its tap's window positions, cropped: the
    transpose of taking the window slices of the zero-padded input."""
    padded = x_shape[:2] + tuple(d + 2 * p for d, p in zip(x_shape[2:], padding))
    total = None
    for off, part in zip(_offsets(kernel), parts):
        term = unslice(part, padded, _window_index(off, stride, dilation, out_sp))
        total = term if total is None else ops.add(total, term)
    return _crop(total, padding, x_shape[2:])


def _max_pool_vjp(x, *, out, cotangent, kernel, stride, padding, dilation, **_):
    masks = _first_max_masks(x, out, kernel, stride, padding, dilation)
    parts = [ops.mul(cotangent, m) for m in masks]
    return (_scatter_windows(parts, x.shape, kernel, stride, padding, dilation,
                             out.shape[2:]),)


def _tap_axes(nd):
    return tuple(range(2, 2 + nd))


def _max_pool_decompose(x, *, out, kernel, stride, padding, dilation, **_):
    """``max`` over the tap axes of the windows (:func:`windows`) of the -inf padded
    input."""
    win = windows(_neg_inf_pad(x, padding), kernel, stride, dilation, out.shape[2:])
    return amax(win, axis=_tap_axes(len(kernel)))


def max_pool(x, kernel=2, stride=None, padding=0, dilation=1) -> Node:
    """Max pooling node of ``x`` (N, C, *spatial); ``stride`` defaults to ``kernel``.

    Raises:
        ShapeError: a kernel larger than the padded input, padding over half the kernel.
    """
    return apply(max_pool_p, ops.lift(x), kernel=kernel, stride=stride, padding=padding,
                 dilation=dilation)


max_pool_p = register(Primitive(
    "max_pool", 1, _np_max_pool, "max_pool({0}{_text})",
    latex=r"\operatorname{{maxpool}}\left({0}\right)", llvm=LLVM_DECOMPOSE, cuda="decompose",
    param_names=("kernel", "stride", "padding", "dilation"),
    param_defaults={"kernel": 2, "stride": None, "padding": 0, "dilation": 1},
    canonical=_max_pool_canon,
    shape_rule=lambda x, *, kernel, stride, padding, dilation, **_: _pool_out(
        "max_pool", x, kernel, stride, padding, dilation),
    elementwise=False, jvp=_max_pool_jvp, vjp=_max_pool_vjp, smooth=False,
    batch=_pool_batch,
    decompose=_max_pool_decompose, domain=((-B, B),),
    examples=((((2, 3, 6, 6),), {"kernel": 2}),
              (((1, 2, 7),), {"kernel": 3, "stride": 2, "padding": 1}),
              (((1, 1, 5, 4, 4),), {"kernel": 2, "stride": 1, "dilation": (2, 1, 1)})),
    doc="max pooling over windows (PyTorch layout N, C, *spatial; -inf padding); the "
        "derivative goes to the first maximum of each window, as PyTorch's"))


def _avg_pool_canon(x, kernel=2, stride=None, padding=0, count_include_pad=True, **_):
    nd, k, s, p, _d = _pool_canon("avg_pool", x, kernel, stride, padding, 1)
    cip = bool(count_include_pad) if isinstance(count_include_pad, (bool, np.bool_, int)) \
        and count_include_pad in (0, 1) else None
    if cip is None:
        raise ShapeError(f"count_include_pad must be True or False, got {count_include_pad!r}")
    text = f", kernel={k!r}" + _params_text(
        {"stride": s, "padding": p, "count_include_pad": cip},
        {"stride": k, "padding": (0,) * nd, "count_include_pad": True})
    return {"kernel": k, "stride": s, "padding": p, "count_include_pad": cip, "_text": text}


def _np_avg_pool(x, kernel, stride, padding, count_include_pad, **_):
    x = np.asarray(x)
    nd = len(kernel)
    ones = (1,) * nd
    out = tuple(out_length(*a) for a in zip(x.shape[2:], kernel, stride, padding, ones))
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    axes = tuple(range(-nd, 0))
    total = np.sum(_np_windows(xp, kernel, stride, ones, out), axis=axes)
    if count_include_pad:
        count = x.dtype.type(math.prod(kernel)) if x.dtype.kind == "f" else math.prod(kernel)
    else:
        inside = np.pad(np.ones((1, 1) + x.shape[2:], dtype=x.dtype),
                        [(0, 0), (0, 0)] + [(p, p) for p in padding])
        count = np.sum(_np_windows(inside, kernel, stride, ones, out), axis=axes)
    return np.ascontiguousarray(total / count)


def _avg_divisor(x, out_sp, kernel, stride, padding, count_include_pad):
    """The divisor node: the kernel size, or per window its number of inside entries."""
    if count_include_pad or not any(padding):
        return ops.const(float(math.prod(kernel)), x.dtype)
    inside = _pad(ops.const(1.0, x.dtype, (1, 1) + tuple(x.shape[2:])), padding)
    return _avg_pool_sum(inside, out_sp, kernel, stride, (0,) * len(kernel))


def _avg_pool_sum(x, out_sp, kernel, stride, padding):
    win = windows(_pad(x, padding), kernel, stride, (1,) * len(kernel), out_sp)
    return array_sum(win, axis=_tap_axes(len(kernel)))


def _avg_pool_decompose(x, *, out, kernel, stride, padding, count_include_pad, **_):
    out_sp = out.shape[2:]
    return ops.div(_avg_pool_sum(x, out_sp, kernel, stride, padding),
                   _avg_divisor(x, out_sp, kernel, stride, padding, count_include_pad))


def _avg_pool_vjp(x, *, out, cotangent, kernel, stride, padding, count_include_pad, **_):
    out_sp = out.shape[2:]
    g = ops.div(cotangent, _avg_divisor(x, out_sp, kernel, stride, padding,
                                        count_include_pad))
    return (_scatter_windows([g] * math.prod(kernel), x.shape, kernel, stride, padding,
                             (1,) * len(kernel), out_sp),)


def avg_pool(x, kernel=2, stride=None, padding=0, count_include_pad=True) -> Node:
    """Average pooling node of ``x`` (N, C, *spatial); ``stride`` defaults to ``kernel``.

    Raises:
        ShapeError: a kernel larger than the padded input, padding over half the kernel.
    """
    return apply(avg_pool_p, ops.lift(x), kernel=kernel, stride=stride, padding=padding,
                 count_include_pad=count_include_pad)


avg_pool_p = register(Primitive(
    "avg_pool", 1, _np_avg_pool, "avg_pool({0}{_text})",
    latex=r"\operatorname{{avgpool}}\left({0}\right)", llvm=LLVM_DECOMPOSE, cuda="decompose",
    param_names=("kernel", "stride", "padding", "count_include_pad"),
    param_defaults={"kernel": 2, "stride": None, "padding": 0, "count_include_pad": True},
    canonical=_avg_pool_canon,
    shape_rule=lambda x, *, kernel, stride, padding, **_: _pool_out(
        "avg_pool", x, kernel, stride, padding, (1,) * len(kernel)),
    elementwise=False,
    batch=_pool_batch,
    jvp=lambda x, *, out, tangents, kernel, stride, padding, count_include_pad, **_: avg_pool(
        fit_shape(tangents[0], x.shape), kernel, stride, padding, count_include_pad),
    vjp=_avg_pool_vjp, decompose=_avg_pool_decompose, domain=((-B, B),),
    examples=((((2, 3, 6, 6),), {"kernel": 2}),
              (((1, 2, 7),), {"kernel": 3, "stride": 2, "padding": 1,
                              "count_include_pad": False}),
              (((1, 1, 4, 4, 4),), {"kernel": (2, 3, 2), "stride": 1})),
    doc="average pooling over windows (PyTorch layout N, C, *spatial; zero padding, "
        "counted in the divisor unless count_include_pad=False)"))


CONV_PRIMITIVES = (conv_p, max_pool_p, avg_pool_p, windows_p)
"""The records defined here, in registration order."""

__all__ = ["CONV_PRIMITIVES", "avg_pool", "conv", "conv_input_vjp", "conv_weight_vjp",
           "max_pool", "out_length", "windows"]
