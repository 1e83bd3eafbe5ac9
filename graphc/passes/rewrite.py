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
