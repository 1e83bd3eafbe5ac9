"""The NumPy interpreter: the reference semantics of every graph.

Each operation is evaluated with its primitive's ``impl`` on NumPy arrays, inputs
broadcast against each other like a ufunc's. Floating-point warnings are silenced:
NaN and inf propagate as IEEE 754 (and NumPy) say. Every backend is tested against
this one.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..ir import Graph, InputError, Node
from ..ir.array_ops import check_class_indices, class_label_uses
from ..ir.index_ops import check_indices, index_uses
from ..ir.shapes import concrete_shapes, subst_params
from .common import (NP_DTYPES, as_input_array, bind_arguments, bind_array_inputs, bind_arrays,
                     is_array_graph, output_targets, overlaps)  # noqa: F401 (re-exported)


def labels_name(labels: Node) -> str:
    """How error messages name a node holding class labels: the input's name, or the
    op that computes them."""
    if labels.is_input:
        return repr(labels.name)
    if labels.is_const:
        return "(a constant)"
    return f"(computed by {labels.prim.name})"


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
    label_uses = {id(u): (lab, like, axis) for u, lab, like, axis in class_label_uses(graph)}
    idx_uses = {id(u): idx for u, idx, _n in index_uses(graph)}
    with np.errstate(all="ignore"):
        for n in graph.nodes:
            if n in values:
                continue
            dt = NP_DTYPES[n.dtype]
            if n.is_const:
                v = np.asarray(n.value, dtype=dt)
                values[n] = np.broadcast_to(v, shapes[id(n)]) if n.shape else v
                continue
            use = label_uses.get(id(n))
            if use is not None:
                lab, like, axis = use
                check_class_indices(values[lab], shapes[id(like)][axis], labels_name(lab))
            idx = idx_uses.get(id(n))
            if idx is not None:  # gather / scatter_add indices in [-n, n)
                axis = dict(n.params)["axis"]
                check_indices(values[idx], shapes[id(n.args[0])][axis], labels_name(idx))
            r = n.prim.impl(*(values[a] for a in n.args), **subst_params(dict(n.params), env))
            values[n] = np.asarray(r, dtype=dt)
    return values


def _evaluate_flat(graph: Graph, args, kwargs) -> list[np.ndarray]:
    """The outputs of ``graph`` as a flat list of fresh arrays (see :func:`evaluate`)."""
    if is_array_graph(graph):
        arrays, env = bind_array_inputs(graph, args, kwargs, "graph")
        values = _evaluate_arrays(graph, arrays, env)
        ins = set(map(id, arrays))
        outs = []
        for o in graph.outputs:
            v = values[o]
            outs.append(v.copy() if id(v) in ins or not v.flags.owndata or
                        not v.flags.writeable else v)
        return outs
    arrays, shape = bind_arrays(graph, args, kwargs, "graph")
    values = evaluate_all(graph, dict(zip(graph.input_names, arrays)))
    return [np.broadcast_to(values[o], np.broadcast_shapes(shape, values[o].shape)).copy()
            for o in graph.outputs]


def evaluate(graph: Graph, *args, **kwargs) -> Any:
    """Evaluate ``graph``'s outputs; inputs by position or keyword.

    Returns:
        The outputs arranged by ``graph.structure`` (one array, or nested tuples). In a
        graph of scalars each is broadcast to the common shape of the inputs (the
        graph maps over the batch); in an array graph each has its node's shape with
        the symbolic dimensions bound by the inputs.

    Raises:
        InputError: missing, unknown or non-numeric inputs; in an array graph, inputs
            whose shapes do not match the declared ones, or class labels (of
            ``cross_entropy``, ``one_hot``) that are not integers in ``[0, C)``.
        ShapeError: an array graph's node fails its shape rule on the bound sizes.
    """
    return graph.output_tree(_evaluate_flat(graph, args, kwargs))


class NumpyKernel:
    """A graph bound to the interpreter, with the call signature of compiled kernels
    (``out=`` included, see :meth:`__call__`)."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def __call__(self, *args, **kwargs):
        """Evaluate on inputs by position or keyword (as :func:`evaluate`).

        Args:
            out: optional arrays to write the outputs into, arranged like the result
                (or flat, one per output), each of its output's shape and a dtype the
                output casts to (``same_kind``); they are returned. Every output is
                computed before any is written, so ``out`` may overlap the inputs (or
                each other: the last output written wins) with the result NumPy's
                ufuncs give.

        Raises:
            InputError: as :func:`evaluate`, or ``out`` arrays of the wrong number,
                shape or dtype, or read-only.
        """
        out = kwargs.pop("out", None)
        outs = _evaluate_flat(self.graph, args, kwargs)
        targets = output_targets(out, [o.shape for o in outs], [o.dtype for o in outs])
        if targets is None:
            return self.graph.output_tree(outs)
        for t, o in zip(targets, outs):
            np.copyto(t, o, casting="same_kind")
        return self.graph.output_tree(targets)

    def __repr__(self) -> str:
        return f"<graphc numpy kernel ({', '.join(self.graph.input_names)})>"


def label_checker(graph: Graph):
    """For a compiled backend: a function ``check(arrays)`` that checks every class
    label ``graph`` reads (see :func:`graphc.ir.array_ops.class_label_uses`) given the
    input arrays, or None when the graph reads none. ``graph`` must have concrete
    shapes (a backend's specialised graph). Labels that are inputs are checked in
    place; labels computed inside the graph (``y[1:]``...) are computed here with the
    interpreter first. ``check.needs`` is the set of input positions it reads (a GPU
    backend copies only those to the host).

    Raises (from ``check``):
        InputError: a label that is not an integer in ``[0, C)`` (names the labels,
            the entry and the valid range).
    """
    uses = [(lab, int(like.shape[axis]), check_class_indices)
            for _user, lab, like, axis in class_label_uses(graph)]
    # gather / scatter_add indices: integers in [-n, n)
    uses += [(idx, int(n), check_indices) for _user, idx, n in index_uses(graph)]
    if not uses:
        return None
    index = {x: k for k, x in enumerate(graph.inputs)}
    plan = []
    needs: set[int] = set()
    for lab, classes, checker in uses:
        name = labels_name(lab)
        if lab in index:
            plan.append((index[lab], None, classes, name, checker))
            needs.add(index[lab])
        else:
            sub = Graph(graph.inputs, [lab])
            plan.append((None, sub, classes, name, checker))
            needs.update(index[n] for n in sub.nodes if n in index)

    def check(arrays: Sequence[np.ndarray | None]) -> None:
        for k, sub, classes, name, checker in plan:
            if sub is None:
                values = arrays[k]
            else:
                values = _evaluate_arrays(sub, list(arrays), {})[sub.outputs[0]]
            checker(values, classes, name)
    check.needs = frozenset(needs)  # the input positions read (others may be None)
    check.computed = any(sub is not None for _k, sub, *_ in plan)  # labels computed here
    return check
