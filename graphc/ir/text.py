"""Text forms of graphs: the trace listing, source that parses back, and expressions.

* :func:`to_text` prints one line per operation, like an evaluation trace
  (``v4 = v1 + v2``), with the inputs first and the outputs last.
* :func:`to_source` prints a program the expression parser reads back into the same
  graph (``parse(to_source(g))`` rebuilds identical interned nodes).
* :func:`to_expr` prints one node as a single infix expression (shared subexpressions
  are repeated; for display of small graphs).

All are iterative over the graph, so very deep graphs print without recursion.
"""

from __future__ import annotations

import math

from .node import Node

INFIX_ATOM = 100


def format_const(value: float) -> str:
    """A constant as the parser reads it back exactly: ``2``, ``0.5``, ``1e-05``,
    ``inf``, ``nan``; negatives in parentheses."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "(-inf)"
    if value.is_integer() and abs(value) < 1e15 and not (value == 0 and math.copysign(1, value) < 0):
        text = str(int(value))
    else:
        text = repr(value)
    return f"({text})" if text.startswith("-") else text


def _wrap(text: str, prec: int, needed: int, right: bool = False) -> str:
    if prec < needed or (right and prec == needed and needed < INFIX_ATOM):
        return f"({text})"
    return text


def format_op(node: Node, arg_texts: list[str], arg_precs: list[int]) -> tuple[str, int]:
    """Format ``node`` given its arguments' texts and precedences; returns the text and
    its precedence. Infix templates parenthesise arguments that bind more loosely (and,
    for non-associative operators, equal precedence on the right; for ``^``, on the
    left, since ``^`` associates to the right)."""
    prim = node.prim
    params = dict(node.params)
    fmt = prim.fmt
    prec = prim.precedence
    texts = list(arg_texts)
    if prec < INFIX_ATOM:
        for i, (t, p) in enumerate(zip(arg_texts, arg_precs)):
            if prim.name == "pow":
                texts[i] = _wrap(t, p, prec + (1 if i == 0 else 0))
            elif len(arg_texts) == 1:
                texts[i] = _wrap(t, p, prec + 1) if prim.name != "neg" else _wrap(t, p, 40)
            else:
                texts[i] = _wrap(t, p, prec, right=(i == 1 and prim.name not in ("add", "mul")))
    shown = {k: (format_const(v) if isinstance(v, float) else v) for k, v in params.items()}
    return fmt.format(*texts, **shown), prec


def _leaf_text(node: Node) -> tuple[str, int]:
    if node.is_const:
        return format_const(node.value), INFIX_ATOM
    return node.name, INFIX_ATOM


def to_expr(node: Node, names: dict[Node, str] | None = None) -> str:
    """``node`` as one infix expression. ``names`` maps nodes to print by name."""
    from .graph import postorder
    names = names or {}
    done: dict[int, tuple[str, int]] = {}
    for n in postorder([node]):
        if n in names and n is not node:
            done[id(n)] = (names[n], INFIX_ATOM)
        elif not n.args:
            done[id(n)] = _leaf_text(n)
        else:
            args = [done[id(a)] for a in n.args]
            done[id(n)] = format_op(n, [t for t, _ in args], [p for _, p in args])
    return done[id(node)][0]


def node_names(graph, prefix: str = "v") -> dict[Node, str]:
    """Printable names: trace numbers ``v-1``, ``v0``, ``v1``... for inputs and ops."""
    return {n: f"{prefix}{k}" for n, k in graph.numbers.items()}


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
    lines = [f"graph ({', '.join(graph.input_names)}) -> ({', '.join(graph.output_names)})"]
    for x in graph.inputs:
        dt = "" if x.dtype == "float64" and not x.shape else f"  # {x.dtype}{list(x.shape)}"
        lines.append(f"  {names[x]} = {x.name}{dt}")
    for op in graph.operations:
        args = [(names[a], INFIX_ATOM) if a in names else _leaf_text(a) for a in op.args]
        text, _ = format_op(op, [t for t, _ in args], [p for _, p in args])
        label = graph.labels.get(op)
        lines.append(f"  {names[op]} = {text}" + (f"  # {label}" if label else ""))
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
    lines = []
    out = graph.outputs[0]
    for i, op in enumerate(graph.operations, start=1):
        args = [(names[a], INFIX_ATOM) if a in names else _leaf_text(a) for a in op.args]
        text, _ = format_op(op, [t for t, _ in args], [p for _, p in args])
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
    args = [(names[a], INFIX_ATOM) if a in names else _leaf_text(a) for a in node.args]
    line, _ = format_op(node, [t for t, _ in args], [p for _, p in args])
    expr = to_expr(node)
    if len(expr) > limit:
        expr = expr[:limit - 3] + "..."
    label = graph.labels.get(node)
    return f"{names[node]} = {line}" + (f" ({label})" if label else "") + f", i.e. {expr}"
