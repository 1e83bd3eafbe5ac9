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
from ..ir.shapes import concrete_shapes, subst_params
from .common import (NP_DTYPES, as_input_array, bind_arguments, bind_array_inputs,
                     is_array_graph)


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
    if is_array_graph(graph):
        return _evaluate_arrays(graph, *bind_array_inputs(graph, (), inputs, "graph"))
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


def _evaluate_arrays(graph: Graph, arrays, env) -> dict[Node, np.ndarray]:
    """Every node of an array graph: inputs checked against the declared shapes (and
    symbolic sizes bound by ``env``), every node's shape re-checked on the concrete
    sizes, constants of non-scalar shape filled out."""
    shapes = concrete_shapes(graph, env)
    values: dict[Node, np.ndarray] = dict(zip(graph.inputs, arrays))
    with np.errstate(all="ignore"):
        for n in graph.nodes:
            if n in values:
                continue
            dt = NP_DTYPES[n.dtype]
            if n.is_const:
                v = np.asarray(n.value, dtype=dt)
                values[n] = np.broadcast_to(v, shapes[id(n)]) if n.shape else v
                continue
            r = n.prim.impl(*(values[a] for a in n.args), **subst_params(dict(n.params), env))
            values[n] = np.asarray(r, dtype=dt)
    return values


def evaluate(graph: Graph, *args, **kwargs) -> Any:
    """Evaluate ``graph``'s outputs; inputs by position or keyword.

    Returns:
        The outputs arranged by ``graph.structure`` (one array, or nested tuples). In a
        graph of scalars each is broadcast to the common shape of the inputs (the
        graph maps over the batch); in an array graph each has its node's shape with
        the symbolic dimensions bound by the inputs.

    Raises:
        InputError: missing, unknown or non-numeric inputs; in an array graph, inputs
            whose shapes do not match the declared ones.
        ShapeError: an array graph's node fails its shape rule on the bound sizes.
    """
    if is_array_graph(graph):
        arrays, env = bind_array_inputs(graph, args, kwargs, "graph")
        values = _evaluate_arrays(graph, arrays, env)
        ins = set(map(id, arrays))
        outs = []
        for o in graph.outputs:
            v = values[o]
            outs.append(v.copy() if id(v) in ins or not v.flags.owndata or
                        not v.flags.writeable else v)
        return graph.output_tree(outs)
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
