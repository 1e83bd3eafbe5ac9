"""The NumPy interpreter: the reference semantics of every graph.

Each operation is evaluated with its primitive's ``impl`` on NumPy arrays, inputs
broadcast against each other like a ufunc's. Floating-point warnings are silenced:
NaN and inf propagate as IEEE 754 (and NumPy) say. Every backend is tested against
this one.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..ir import Graph, Node
from .common import NP_DTYPES, as_input_array, bind_arguments


def evaluate_all(graph: Graph, inputs: Mapping[str, Any]) -> dict[Node, np.ndarray]:
    """Evaluate every node of ``graph``.

    Args:
        graph: the graph.
        inputs: ``{input name: array-like}``; arrays broadcast against each other.

    Returns:
        ``{node: value}`` for every node (inputs, constants and operations), each a
        NumPy array (0-d for scalars) of the node's dtype: the primal trace.
    """
    values: dict[Node, np.ndarray] = {}
    bound = bind_arguments(graph, (), inputs, "graph")
    for x, v in zip(graph.inputs, bound):
        values[x] = as_input_array(v, x.name, x.dtype)
    with np.errstate(all="ignore"):
        for n in graph.nodes:
            if n in values:
                continue
            if n.is_const:
                values[n] = np.asarray(n.value, dtype=NP_DTYPES[n.dtype])
                continue
            r = n.prim.impl(*(values[a] for a in n.args), **dict(n.params))
            values[n] = np.asarray(r, dtype=NP_DTYPES[n.dtype])
    return values


def evaluate(graph: Graph, *args, **kwargs) -> Any:
    """Evaluate ``graph``'s outputs; inputs by position or keyword.

    Returns:
        The outputs arranged by ``graph.structure`` (one array, or nested tuples),
        each broadcast to the common shape of the inputs.

    Raises:
        InputError: missing, unknown or non-numeric inputs.
    """
    bound = bind_arguments(graph, args, kwargs, "graph")
    arrays = [as_input_array(v, x.name, x.dtype) for x, v in zip(graph.inputs, bound)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    values = evaluate_all(graph, dict(zip(graph.input_names, arrays)))
    outs = [np.broadcast_to(values[o], np.broadcast_shapes(shape, values[o].shape)).copy()
            for o in graph.outputs]
    return graph.output_tree(outs)


class NumpyKernel:
    """A graph bound to the interpreter, with the call signature of compiled kernels."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def __call__(self, *args, **kwargs):
        return evaluate(self.graph, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<graphc numpy kernel ({', '.join(self.graph.input_names)})>"
