"""LaTeX for graphs: what Jupyter shows for a graph (``Graph._repr_latex_``).

:func:`to_latex` prints each output of a graph as one formula, from the ``latex``
template of each primitive's record (:mod:`graphc.ir.ops`), and for a scalar function
of a few inputs also its gradient (reverse mode, simplified)::

    f(x_{1}, x_{2}) = \\ln x_{1} + x_{1} x_{2} - \\sin x_{2}
    \\frac{\\partial f}{\\partial x_{1}} = \\frac{1}{x_{1}} + x_{2}
    ...

Names follow mathematical habit: ``x1`` and ``x_1`` print as :math:`x_{1}`, Greek
letter names as letters (``theta`` → :math:`\\theta`), ``x_dot``/``y_bar`` as
:math:`\\dot{x}`/:math:`\\bar{y}`, other multi-letter names upright.
The formulas come from the ``latex`` style of :mod:`graphc.ir.printer` (the one
expression printer): simplified for display (``\\frac{1}{x_{1}^{2}}``, ``x`` for the
signed-zero guard ``x + 0``) and array-correct (``x \\odot y`` for elementwise products
of arrays, ``W x`` for matrix products, ``W^\\top``).
Graphs whose expressions would be long are printed as a trace instead, one line per
operation (``v_{3} = v_{1} + v_{2}``), the way :func:`graphc.to_text` prints them.
Everything here is iterative, so deep graphs print without recursion.
"""

from __future__ import annotations

import re
from typing import Mapping

from ..ir import Graph, Node
from ..ir.graph import register_display
from ..ir.printer import GREEK, Printer, latex_name, latex_number

MAX_EXPRESSION = 60
"""Largest expanded expression (operations, shared ones counted each time they appear)
printed as one formula; larger ones are printed as a trace."""
MAX_TRACE = 200
"""Largest graph (operations) printed at all by ``_repr_latex_``."""


def expression_size(nodes: list[Node], cap: int) -> dict[Node, int]:
    """Expanded size (operations counted with repetition) of each node, capped at
    ``cap + 1``; ``nodes`` in evaluation order."""
    size: dict[Node, int] = {}
    for n in nodes:
        size[n] = min(cap + 1, (1 if n.args else 0) + sum(size[a] for a in n.args))
    return size


def latex_expressions(graph: Graph, names: Mapping[Node, str] | None = None
                      ) -> dict[Node, str]:
    """The LaTeX of every node of ``graph`` as one expression (``names`` print as
    given, e.g. intermediate variables)."""
    printer = Printer("latex", names)
    return {n: printer.text(n) for n in graph.nodes}


def _derivative_name(name: str, inputs: list[str]) -> str | None:
    """``df/dx1`` → ``\\frac{\\partial f}{\\partial x_{1}}`` (and second derivatives)."""
    m = re.fullmatch(r"d([A-Za-z_]\w*)/d([A-Za-z_]\w*)", name)
    if m and m.group(2) in inputs:
        return (rf"\frac{{\partial {latex_name(m.group(1))}}}"
                rf"{{\partial {latex_name(m.group(2))}}}")
    m = re.fullmatch(r"d2([A-Za-z_]\w*)/d(\w+)", name)
    if m:
        rest = m.group(2)
        for a in inputs:
            if rest.startswith(a + "d") and rest[len(a) + 1:] in inputs:
                b = rest[len(a) + 1:]
                den = (rf"\partial {latex_name(a)}^{{2}}" if a == b else
                       rf"\partial {latex_name(a)} \partial {latex_name(b)}")
                return rf"\frac{{\partial^{{2}} {latex_name(m.group(1))}}}{{{den}}}"
    return None


def _lhs(graph: Graph, name: str) -> str:
    d = _derivative_name(name, list(graph.input_names))
    if d is not None:
        return d
    args = ", ".join(latex_name(x) for x in graph.input_names)
    return f"{latex_name(name)}\\left({args}\\right)" if args else latex_name(name)


def _trace_lines(graph: Graph) -> list[str]:
    nums = graph.numbers
    names: dict[Node, str] = {x: latex_name(x.name) for x in graph.inputs}
    printer = Printer("latex")
    lines = []
    for op in graph.operations:
        label = graph.labels.get(op)
        vname = f"v_{{{nums[op]}}}"
        text = printer.line(op, [names[a] if a in names else printer.text(a)
                                 for a in op.args])
        shown = f"{latex_name(label)} = {vname}" if label else vname
        lines.append(f"{shown} &= {text}")
        names[op] = vname
    for nm, o in zip(graph.output_names, graph.outputs):
        rhs = names[o] if o in names else printer.text(o)
        lines.append(f"{_lhs(graph, nm)} &= {rhs}")
    return lines


def to_latex(graph: Graph, *, derivatives: bool | None = None,
             max_expression: int = MAX_EXPRESSION) -> str:
    """LaTeX math (an ``aligned`` block, without ``$`` delimiters) for ``graph``.

    Args:
        graph: any graph.
        derivatives: also print the gradient (default: when the graph has one scalar
            output, at most 6 inputs and at most 150 operations).
        max_expression: outputs whose expanded expression has more operations are
            printed as a trace (one line per operation).

    Returns:
        ``\\begin{aligned} ... \\end{aligned}``.
    """
    nodes = graph.nodes
    size = expression_size(nodes, max_expression)
    if any(size[o] > max_expression for o in graph.outputs):
        lines = _trace_lines(graph)
    else:
        texts = latex_expressions(graph)
        lines = [f"{_lhs(graph, nm)} &= {texts[o]}"
                 for nm, o in zip(graph.output_names, graph.outputs)]
    if derivatives is None:
        derivatives = (len(graph.outputs) == 1 and graph.outputs[0].shape == ()
                       and 0 < len(graph.inputs) <= 6 and len(graph) <= 150)
    if derivatives:
        from ..passes import grad, optimize
        try:
            g = optimize(grad(graph, list(graph.input_names)))
        except Exception:  # noqa: BLE001 - a display must not fail
            g = None
        if g is not None:
            gsize = expression_size(g.nodes, max_expression)
            gtexts = latex_expressions(g)
            for nm, o in zip(g.output_names, g.outputs):
                if gsize[o] <= max_expression:
                    lines.append(f"{_lhs(g, nm)} &= {gtexts[o]}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def repr_latex(graph: Graph) -> str | None:
    """Jupyter's ``text/latex`` form of a graph (``$$...$$``), or None for graphs of
    more than :data:`MAX_TRACE` operations (Jupyter then shows another form)."""
    if len(graph) > MAX_TRACE:
        return None
    try:
        return "$$" + to_latex(graph) + "$$"
    except Exception:  # noqa: BLE001 - a display hook must not raise
        return None


__all__ = ["GREEK", "latex_name", "latex_number", "repr_latex", "to_latex"]


register_display("latex", repr_latex)  # Graph._repr_latex_ in notebooks
