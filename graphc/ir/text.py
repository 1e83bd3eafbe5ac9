"""Text forms of graphs: the trace listing, source that parses back, and expressions.

* :func:`to_text` prints one line per operation, like an evaluation trace
  (``v4 = v1 + v2``), with the inputs first and the outputs last.
* :func:`to_source` prints a program the expression parser reads back into the same
  graph (``parse(to_source(g))`` rebuilds identical interned nodes).
* :func:`to_expr` prints one node as a single infix expression that parses back to
  the same node (shared subexpressions are repeated; for display of small graphs).

All use the ``source`` style of :mod:`graphc.ir.printer` and are iterative over the
graph, so very deep graphs print without recursion.
"""

from __future__ import annotations

from .node import Node
from .printer import ATOM, Piece, Printer, format_const

INFIX_ATOM = ATOM

__all__ = ["describe_node", "format_const", "format_op", "node_names", "to_expr",
           "to_source", "to_text"]


def format_op(node: Node, arg_texts: list[str], arg_precs: list[int]) -> tuple[str, int]:
    """Format ``node`` (source style) given its arguments' texts and precedences;
    returns the text and its precedence (parentheses where the parser needs them)."""
    p = Printer("source")
    piece = p._format(node, [Piece(t, k, "atom" if k >= ATOM else "infix")
                             for t, k in zip(arg_texts, arg_precs)])
    return piece.text, piece.prec


def _leaf_text(node: Node) -> tuple[str, int]:
    if node.is_const:
        return format_const(node.value), INFIX_ATOM
    return node.name, INFIX_ATOM


def to_expr(node: Node, names: dict[Node, str] | None = None) -> str:
    """``node`` as one infix expression. ``names`` maps nodes to print by name."""
    names = {n: t for n, t in (names or {}).items() if n is not node}
    return Printer("source", names).text(node)


def node_names(graph, prefix: str = "v") -> dict[Node, str]:
    """Printable names: trace numbers ``v-1``, ``v0``, ``v1``... for inputs and ops."""
    return {n: f"{prefix}{k}" for n, k in graph.numbers.items()}


def _line(printer: Printer, op: Node, names: dict[Node, str]) -> str:
    return printer.line(op, [names[a] if a in names else _leaf_text(a)[0] for a in op.args])


def to_text(graph) -> str:
    """The trace listing of ``graph``: a header, one line per operation, the outputs.

    Example (Baydin et al. 2018)::

        graph (x1, x2) -> (y)
          v-1 = x1
          v0 = x2
          v1 = log(v-1)
          ...
          y = v5
    """
    names = node_names(graph)
    printer = Printer("source")
    lines = [f"graph ({', '.join(graph.input_names)}) -> ({', '.join(graph.output_names)})"]
    for x in graph.inputs:
        dt = "" if x.dtype == "float64" and not x.shape else f"  # {x.dtype}{list(x.shape)}"
        lines.append(f"  {names[x]} = {x.name}{dt}")
    for op in graph.operations:
        label = graph.labels.get(op)
        lines.append(f"  {names[op]} = {_line(printer, op, names)}"
                     + (f"  # {label}" if label else ""))
    for name, o in zip(graph.output_names, graph.outputs):
        lines.append(f"  {name} = {names[o] if o in names else _leaf_text(o)[0]}")
    return "\n".join(lines)


def to_source(graph) -> str:
    """A program that :func:`graphc.parse` reads back into ``graph``'s nodes.

    Intermediate values get fresh names that do not collide with the inputs; the last
    statement is the (first) output. Only single-output graphs round-trip exactly.
    """
    taken = set(graph.input_names)
    prefix = "t"
    while any(n.startswith(prefix) for n in taken):
        prefix += "_"
    names = {x: x.name for x in graph.inputs}
    printer = Printer("source")
    lines = []
    out = graph.outputs[0]
    for i, op in enumerate(graph.operations, start=1):
        text = _line(printer, op, names)
        names[op] = f"{prefix}{i}"
        lines.append(f"{names[op]} = {text}")
    final = names.get(out) or _leaf_text(out)[0]
    lines.append(f"{graph.output_names[0]} = {final}")
    return "\n".join(lines)


def describe_node(graph, node: Node, limit: int = 80) -> str:
    """How error messages name a node: its trace number, its line of the trace and the
    expression it computes, e.g. ``v3 = sin(v0), i.e. sin(x2)``."""
    names = node_names(graph)
    if node not in names:
        return to_expr(node)[:limit]
    if not node.args:
        return f"{names[node]} (input {node.name})"
    line = _line(Printer("source"), node, names)
    expr = to_expr(node)
    if len(expr) > limit:
        expr = expr[:limit - 3] + "..."
    label = graph.labels.get(node)
    return f"{names[node]} = {line}" + (f" ({label})" if label else "") + f", i.e. {expr}"
