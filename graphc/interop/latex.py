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
Arguments get parentheses only where the precedence of the templates needs them.
Graphs whose expressions would be long are printed as a trace instead, one line per
operation (``v_{3} = v_{1} + v_{2}``), the way :func:`graphc.to_text` prints them.
Everything here is iterative, so deep graphs print without recursion.
"""

from __future__ import annotations

import math
import re
import string
from typing import Mapping

from ..ir import Graph, Node
from ..ir.graph import register_display

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}
ATOM = 100
MAX_EXPRESSION = 60
"""Largest expanded expression (operations, shared ones counted each time they appear)
printed as one formula; larger ones are printed as a trace."""
MAX_TRACE = 200
"""Largest graph (operations) printed at all by ``_repr_latex_``."""


def latex_name(name: str) -> str:
    """An input or label name as LaTeX: ``x1`` → ``x_{1}``, ``theta`` → ``\\theta``,
    ``x_dot`` → ``\\dot{x}``, ``w_out`` → ``w_{\\mathrm{out}}``, ``loss`` →
    ``\\mathrm{loss}``."""
    for suffix, accent in (("_dot", r"\dot"), ("_bar", r"\bar"), ("_hat", r"\hat")):
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"{accent}{{{latex_name(name[:-len(suffix)])}}}"
    name = name.rstrip("_") or name
    m = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
    if m:
        return f"{_base(m.group(1))}_{{{m.group(2)}}}"
    if "_" in name:
        head, tail = name.split("_", 1)
        if head:
            return f"{_base(head)}_{{{latex_name(tail) if tail else ''}}}"
    return _base(name)


def _base(word: str) -> str:
    if word in GREEK:
        return "\\" + word
    if len(word) == 1:
        return word
    return r"\mathrm{" + word.replace("_", r"\_") + "}"


def latex_number(value: float) -> str:
    """A constant: ``2``, ``0.5``, ``1.5 \\cdot 10^{-5}``, ``\\pi``, ``\\infty``."""
    if math.isnan(value):
        return r"\mathrm{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    if value == math.pi:
        return r"\pi"
    if value == math.e:
        return "e"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mant, ex = text.split("e")
        return f"{mant} \\cdot 10^{{{int(ex)}}}"
    return text


_GROUPING: dict[str, list[bool]] = {}


def _grouped(template: str, arity: int) -> list[bool]:
    """For each argument placeholder, whether the template encloses it in braces or in
    ``\\left ... \\right`` (then the argument never needs parentheses)."""
    key = f"{arity}|{template}"
    if key in _GROUPING:
        return _GROUPING[key]
    marks = [f"\x00{i}\x00" for i in range(arity)]
    try:
        text = string.Formatter().vformat(template, marks, _ParamsAnything())
    except (IndexError, KeyError, ValueError):
        text = ""
    out = []
    for mk in marks:
        pos = text.find(mk)
        if pos < 0:
            out.append(False)
            continue
        before = text[:pos]
        depth = before.count("{") - before.count("}")
        lr = before.count(r"\left") - before.count(r"\right")
        out.append(depth > 0 or lr > 0 or r"\begin{cases}" in before)
    _GROUPING[key] = out
    return out


class _ParamsAnything(dict):
    def __missing__(self, key):  # any parameter name formats as itself
        return key


def _params_text(node: Node) -> dict[str, str]:
    return {k: latex_number(v) if isinstance(v, float) else str(v) for k, v in node.params}


def _leaf(node: Node, names: Mapping[Node, str]) -> tuple[str, int, str]:
    if node in names:
        return names[node], ATOM, "atom"
    if node.is_const:
        text = latex_number(node.value)
        return text, (30 if text.startswith("-") else ATOM), "atom"
    return latex_name(node.name), ATOM, "atom"


def format_node(node: Node, args: list[tuple[str, int, str]]) -> tuple[str, int, str]:
    """LaTeX of ``node`` from its arguments' (text, precedence, kind); returns the same
    triple. Kinds: ``atom`` (a name or number), ``group`` (fully delimited, such as a
    fraction or ``\\sigma\\left(x\\right)``), ``func`` (a function applied without
    parentheses, such as ``\\sin x``), ``infix``, and ``open`` (infix text that ends in
    such a function, ``x + \\sin y``: it must be parenthesised before a product)."""
    prim = node.prim
    if prim.name in ("add", "sub") and len(args) == 2:
        # x + 0 is the IEEE signed-zero guard of derivative rules (log'(x) = 1/(x + 0)
        # is +inf at x = -0); in mathematics it is x
        for i in ((1, 0) if prim.name == "add" else (1,)):
            a = node.args[i]
            if a.is_const and a.value == 0.0 and node.args[1 - i].shape == node.shape:
                return args[1 - i]
    template = prim.latex or (r"\operatorname{" + prim.name.replace("_", r"\_") + r"}\left("
                              + ", ".join(f"{{{i}}}" for i in range(prim.arity)) + r"\right)")
    grouped = _grouped(template, prim.arity)
    prec = prim.precedence
    name = prim.name
    texts = []
    wrapped = []
    for i, (t, p, kind) in enumerate(args):
        wrap = False
        if name == "pow" and i == 0:
            wrap = kind not in ("atom",) or t.startswith("-")
        elif grouped[i]:
            wrap = False
        elif prec < ATOM:  # infix and prefix operators
            if name == "neg":
                wrap = p <= 20 or t.startswith("-")
            elif p < prec:
                wrap = True
            elif i > 0 and (t.startswith("-") or (p == prec and name in ("sub",))):
                wrap = True
            elif name == "mul" and i == 0 and kind in ("func", "open"):
                wrap = True  # \sin x \cdot y would read as \sin(x y)
        else:  # function written without parentheses: \sin x
            wrap = kind not in ("atom", "group")
        texts.append(rf"\left({t}\right)" if wrap else t)
        wrapped.append(wrap)
    if name == "mul" and len(texts) == 2 and texts[1][:1].isdigit():
        text = f"{texts[0]} \\cdot {texts[1]}"
    else:
        text = template.format(*texts, **_params_text(node))
    if prec < ATOM:
        # "open": the text ends in a function applied without parentheses (x + \sin y)
        last = prim.arity - 1
        ends_with_last = template.rstrip().endswith("{%d}" % last) if prim.arity else False
        kind = ("open" if ends_with_last and not wrapped[last]
                and args[last][2] in ("func", "open") else "infix")
    elif all(grouped) and grouped:
        kind = "group"
    else:
        kind = "func"
    return text, prec, kind


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
    names = dict(names or {})
    done: dict[Node, tuple[str, int, str]] = {}
    for n in graph.nodes:
        if not n.args or (n in names):
            done[n] = _leaf(n, names)
        else:
            done[n] = format_node(n, [done[a] for a in n.args])
    return {n: t for n, (t, _, _) in done.items()}


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
    lines = []
    for op in graph.operations:
        label = graph.labels.get(op)
        vname = f"v_{{{nums[op]}}}"
        args = [_leaf(a, names) if a in names or not a.args else (names[a], ATOM, "atom")
                for a in op.args]
        text, _, _ = format_node(op, args)
        shown = f"{latex_name(label)} = {vname}" if label else vname
        lines.append(f"{shown} &= {text}")
        names[op] = vname
    for nm, o in zip(graph.output_names, graph.outputs):
        rhs = names[o] if o in names else _leaf(o, {})[0]
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


__all__ = ["latex_name", "latex_number", "repr_latex", "to_latex"]


register_display("latex", repr_latex)  # Graph._repr_latex_ in notebooks
