"""The one graph-rebuilding loop that the passes share.

:func:`rebuild` walks a graph's nodes in evaluation order (iteratively), gives each
node's rebuilt arguments to a rule, and assembles a new :class:`Graph` over the same
inputs, carrying output names, structure and the user's labels along.
"""

from __future__ import annotations

from typing import Callable

from ..ir import Graph, Node, apply


def same_node(node: Node, args: tuple[Node, ...]) -> Node:
    """``node`` rebuilt on ``args`` (the node itself when the arguments did not change)."""
    if all(a is b for a, b in zip(args, node.args)):
        return node
    return apply(node.prim, *args, **dict(node.params))


def rebuild(graph: Graph, rule: Callable[[Node, tuple[Node, ...]], Node]) -> Graph:
    """Apply ``rule(node, new_args) -> new_node`` to every operation, bottom-up.

    Leaves (inputs, constants) are kept. ``rule`` is called once per node with the
    already-rebuilt arguments and returns the replacement (``same_node`` to keep it).
    """
    new: dict[int, Node] = {}
    for n in graph.nodes:
        if not n.args:
            new[id(n)] = n
            continue
        args = tuple(new[id(a)] for a in n.args)
        new[id(n)] = rule(n, args)
    outputs = [new[id(o)] for o in graph.outputs]
    labels = {}
    for node, name in graph.labels.items():
        m = new.get(id(node))
        if m is not None and m.args and m not in labels:
            labels[m] = name
    return Graph(graph.inputs, outputs, graph.output_names, graph.structure, labels)


def _public(params) -> dict:
    """A node's parameters as a rule takes them (derived ``_`` parameters dropped)."""
    return {k: v for k, v in params if not k.startswith("_")}


def decompose(graph: Graph, prims=None) -> Graph:
    """Replace every operation whose primitive has a ``decompose`` rule (``softmax``,
    ``logsumexp``, ``mean``, ``cross_entropy``...) by that rule's expansion into simpler
    primitives, repeatedly, until none is left (what the array backends do for the ops
    they do not lower directly).

    Args:
        graph: any graph (symbolic shapes are fine).
        prims: names of the primitives to expand (default: every one with a rule).

    Raises:
        GraphcError: a name in ``prims`` that is not a registered primitive, or a
            decomposition that does not terminate (a record bug).
    """
    from ..ir import GraphcError
    from ..ir.primitive import PRIMITIVES
    if prims is None:
        chosen = {name for name, p in PRIMITIVES.items() if p.decompose is not None}
    else:
        chosen = {prims} if isinstance(prims, str) else set(prims)
        unknown = sorted(chosen - set(PRIMITIVES))
        if unknown:
            raise GraphcError(f"decompose: unknown primitives {unknown}")

    def rule(node: Node, args: tuple[Node, ...]) -> Node:
        prim = node.prim
        if prim.name not in chosen or prim.decompose is None:
            return same_node(node, args)
        params = _public(node.params)
        out = apply(prim, *args, **params)
        return prim.decompose(*args, out=out, **params)

    for _ in range(64):
        if not any(n.prim.name in chosen and n.prim.decompose is not None
                   for n in graph.operations):
            return graph
        graph = rebuild(graph, rule)
    raise GraphcError("decompose: the decompositions did not terminate after 64 rounds")


def specialize(graph: Graph, sizes=None) -> Graph:
    """``graph`` with concrete sizes for its symbolic dimensions (``H``, ``D``...):
    every shape evaluated, ``size`` folded (:func:`graphc.ir.shapes.specialize`, with
    no decompositions; run ``decompose`` for those).

    Args:
        graph: any graph; one without symbolic dimensions comes back with the same
            operations.
        sizes: ``{symbol: int}`` for every symbolic dimension.

    Raises:
        ShapeError: a symbol without a size, or shapes that disagree under ``sizes``.
    """
    from ..ir.shapes import specialize as shared_specialize
    return shared_specialize(graph, dict(sizes or {}), lambda p, _: False, lambda p: False)
