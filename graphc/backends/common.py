"""What every backend shares: binding call arguments to a graph's inputs."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..ir import Graph, InputError
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
    """Match positional and keyword arguments to ``graph.inputs`` (in input order).

    Raises:
        InputError: a missing, unknown or doubly given input (the message lists the
            graph's inputs).
    """
    names = graph.input_names
    if len(args) > len(names):
        raise InputError(f"{what} takes {len(names)} input(s) ({', '.join(names)}), "
                         f"got {len(args)} positional")
    values: list[Any] = list(args) + [None] * (len(names) - len(args))
    given = [True] * len(args) + [False] * (len(names) - len(args))
    index = {n: i for i, n in enumerate(names)}
    for k, v in kwargs.items():
        if k not in index:
            raise InputError(f"{what} has no input {k!r}; its inputs are "
                             f"{', '.join(names) or 'none'}")
        i = index[k]
        if given[i]:
            raise InputError(f"input {k!r} given twice (by position and keyword)")
        values[i] = v
        given[i] = True
    missing = [n for n, g in zip(names, given) if not g]
    if missing:
        raise InputError(f"{what} is missing input(s) {', '.join(missing)}; it takes "
                         f"({', '.join(names)})")
    return values


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


__all__ = ["NP_DTYPES", "as_input_array", "bind_arguments", "bind_array_inputs",
           "is_array_graph"]
