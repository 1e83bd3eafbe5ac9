"""What every backend shares: binding call arguments to a graph's inputs."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..ir import Graph, InputError, bind_by_name
from ..ir.shapes import bind as bind_shapes
from ..ir.shapes import is_array_graph

NP_DTYPES = {"float64": np.float64, "float32": np.float32}

CHUNKED_HANDLERS: list[tuple[Callable[[Any], bool], Callable[..., Any]]] = []
"""``(is_chunked(value), apply(kernel, *args, **kwargs))`` pairs for chunked array
libraries (Dask), registered by :mod:`graphc.interop` when it is imported, so that
backends never import the layer above them."""


def register_chunked(is_chunked: Callable[[Any], bool], apply: Callable[..., Any]) -> None:
    """Let kernels accept a chunked array type: a call with any argument for which
    ``is_chunked(value)`` is true is handed to ``apply(kernel, *args, **kwargs)``."""
    CHUNKED_HANDLERS.append((is_chunked, apply))


def chunked_handler(values) -> Callable[..., Any] | None:
    """The registered ``apply`` for the first chunked array among ``values``, or None."""
    if not CHUNKED_HANDLERS:
        return None
    for v in values:
        for is_chunked, apply in CHUNKED_HANDLERS:
            if is_chunked(v):
                return apply
    return None


def bind_arguments(graph: Graph, args: Sequence[Any], kwargs: Mapping[str, Any],
                   what: str = "kernel") -> list[Any]:
    """Match positional and keyword arguments to ``graph.inputs`` (in input order);
    :func:`graphc.ir.bind_by_name` on the graph's input names.

    Raises:
        InputError: a missing, unknown or doubly given input (the message lists the
            graph's inputs).
    """
    return bind_by_name(graph.input_names, args, kwargs, what)


def as_input_array(value: Any, name: str, dtype: str) -> np.ndarray:
    """``value`` as a NumPy array of the input's dtype (float conversion of any
    real array-like).

    Raises:
        InputError: the value is not numeric (complex, object, strings...).
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"input {name!r}: cannot convert {type(value).__name__} to an "
                         f"array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"input {name!r} has dtype {arr.dtype}, expected real numbers "
                         f"({dtype})")
    return arr.astype(NP_DTYPES[dtype], copy=False)


def bind_array_inputs(graph: Graph, args: Sequence[Any], kwargs: Mapping[str, Any],
                      what: str = "kernel") -> tuple[list[np.ndarray], dict[str, int]]:
    """Inputs of an array graph (see :func:`graphc.ir.shapes.is_array_graph`) as arrays
    of the graph's dtypes, and the sizes of the symbolic dimensions they bind.

    Raises:
        InputError: missing or unknown inputs, non-numeric values, or shapes that do
            not match the declared ones (names the input and both shapes).
    """
    bound = bind_arguments(graph, args, kwargs, what)
    arrays = [as_input_array(v, x.name, x.dtype) for x, v in zip(graph.inputs, bound)]
    return arrays, bind_shapes(graph, arrays)


def output_targets(out: Any, shapes: Sequence[tuple], dtypes: Sequence) -> list | None:
    """Flatten and check an ``out=`` argument of a kernel call: arrays arranged like
    the result (or a flat sequence), one per output, each of that output's shape
    (``shapes[k]``), writeable, of a dtype the output (``dtypes[k]``) casts to with
    ``casting="same_kind"`` (NumPy's ufunc rule). None when ``out`` is None.

    Raises:
        InputError: the wrong number of arrays, or one of the wrong type, shape or
            dtype, or read-only (names its position).
    """
    if out is None:
        return None
    if type(out) is tuple and len(out) == len(dtypes) and \
            all(type(t) is np.ndarray for t in out):
        flat = list(out)
    else:
        flat, stack = [], [out]
        while stack:
            item = stack.pop()
            if isinstance(item, (tuple, list)):
                stack.extend(reversed(item))
            else:
                flat.append(item)
    if len(flat) != len(dtypes):
        raise InputError(f"out= needs {len(dtypes)} array(s), one per output; got "
                         f"{len(flat)}")
    for k, (t, shape, dt) in enumerate(zip(flat, shapes, dtypes)):
        if not isinstance(t, np.ndarray):
            raise InputError(f"out[{k}] must be a NumPy array, got {type(t).__name__}")
        if t.shape != tuple(shape):
            raise InputError(f"out[{k}] has shape {t.shape}; the result has shape "
                             f"{tuple(shape)}")
        if t.dtype is not dt and not np.can_cast(dt, t.dtype, casting="same_kind"):
            raise InputError(f"out[{k}] has dtype {t.dtype}; the output is {np.dtype(dt)}")
        if not t.flags.writeable:
            raise InputError(f"out[{k}] is read-only")
    return flat


def memory_owner(a: np.ndarray) -> np.ndarray | None:
    """The array that owns the memory ``a`` views (``a`` itself when it owns its data),
    following ``.base`` through NumPy arrays; None when the memory belongs to something
    else (a ``bytes``/``mmap``/foreign buffer, ``as_strided``'s helper object) or to an
    array that does not own its data (made from a raw pointer)."""
    while True:
        b = a.base
        if b is None:
            return a if a.flags.owndata else None
        if not isinstance(b, np.ndarray):
            return None
        a = b


def overlaps(a: np.ndarray, others: Sequence[np.ndarray]) -> bool:
    """True when ``a`` may share memory with any of ``others``
    (``np.may_share_memory``: bounds only, so never a false "no"; NumPy's ufuncs test
    the same before writing to ``out=`` and work on a copy when it says yes).

    Arrays whose memory belongs to different NumPy arrays that own their data (see
    :func:`memory_owner`) are separate allocations and cannot overlap; only the other
    pairs are passed to ``np.may_share_memory`` (which costs about 0.4 µs a pair)."""
    mine = memory_owner(a)
    for b in others:
        if b is a:
            return True
        if mine is not None:
            theirs = memory_owner(b)
            if theirs is not None and theirs is not mine:
                continue
        if np.may_share_memory(a, b):
            return True
    return False


__all__ = ["NP_DTYPES", "as_input_array", "bind_arguments", "bind_array_inputs",
           "is_array_graph", "memory_owner", "output_targets", "overlaps"]


def input_arrays(graph: Graph, values: Sequence[Any]) -> tuple[list[np.ndarray], tuple]:
    """Bound input values (:func:`bind_arguments`) as arrays of each input's dtype
    (:func:`as_input_array`) and the shape they broadcast to.

    Raises:
        InputError: a value that is not an array of real numbers, or shapes that do not
            broadcast (the message names each input's shape).
    """
    arrays = [as_input_array(v, x.name, x.dtype) for x, v in zip(graph.inputs, values)]
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    except ValueError:
        raise InputError("inputs cannot be broadcast together: " + ", ".join(
            f"{x.name} {a.shape}" for x, a in zip(graph.inputs, arrays))) from None
    return arrays, shape


def bind_arrays(graph: Graph, args: Sequence[Any], kwargs: Mapping[str, Any],
                what: str = "kernel") -> tuple[list[np.ndarray], tuple]:
    """:func:`bind_arguments` then :func:`input_arrays`: the call's inputs as arrays and
    their broadcast shape (errors of both)."""
    return input_arrays(graph, bind_arguments(graph, args, kwargs, what))
