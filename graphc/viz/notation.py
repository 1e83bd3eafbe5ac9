"""Textbook notation for traces: variable names, numbers and expressions.

Every printed piece of a trace exists in two styles, plain Unicode text (used by the
text, Markdown and HTML tables and by the diagrams) and LaTeX (used by the booktabs
table). :class:`Math` carries both. The conventions follow Griewank & Walther,
*Evaluating Derivatives* (2nd ed., SIAM 2008, §2.2) and Baydin et al., "Automatic
differentiation in machine learning: a survey" (JMLR 18(153), 2018, Tables 2 and 3):
``v₋₁ … v₀`` for inputs, ``v₁ … v_l`` for operations, ``v̇ᵢ`` for tangents and ``v̄ᵢ``
for adjoints; products are written ``×``, logarithms ``ln``, and a function applied to
a single variable needs no parentheses (``sin v₀``). Expressions (:func:`format_expr`)
come from the one expression printer, :mod:`graphc.ir.printer` (styles ``textbook`` and
``textbook_latex``), which reads these spellings from the primitive records.

Array values (:func:`value`) print in full as small matrices, up to
:data:`SMALL_MATRIX` rows and columns, and otherwise as their shape with summary
statistics (minimum, mean and maximum of the finite entries, and counts of NaN and
infinite entries). In expressions, an elementwise product of two arrays is written
``⊙`` (Hadamard) and a matrix transpose ``vᵀ``.

This module imports only :mod:`graphc.ir`, NumPy and the standard library.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir import GraphcError, Node
from ..ir.printer import TEXTBOOK, TEXTBOOK_LATEX, Printer
from ..ir.shapes import format_shape

MINUS = "\u2212"          # − (typographic minus)
TIMES = "\u00d7"          # ×
BAR = "\u0304"            # combining macron: v̄
DOT = "\u0307"            # combining dot above: v̇
PARTIAL = "\u2202"        # ∂
HADAMARD = "\u2299"       # ⊙
TRANSPOSE = "\u1d40"      # ᵀ
SMALL_MATRIX = (4, 4)
"""Arrays of at most two dimensions with at most this many (rows, columns) print in
full (a 1-D array is one row); larger ones print as shape and summary statistics."""
SUMMARY_DIGITS = 4
"""Significant digits of the summary statistics of large arrays (at most)."""
_SUB = str.maketrans("0123456789-+", "₀₁₂₃₄₅₆₇₈₉₋₊")
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_NAME_DIGITS = re.compile(r"^([A-Za-z]+)(\d+)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")



@dataclass(frozen=True)
class Math:
    """One piece of notation in both styles.

    Attributes:
        text: plain Unicode (``v̄₋₁``).
        latex: LaTeX math-mode source without dollars (``\\bar{v}_{-1}``).
    """

    text: str
    latex: str

    def __add__(self, other: Math) -> Math:
        return Math(self.text + other.text, self.latex + other.latex)


def subscript(text: str) -> str:
    """``"-1"`` as Unicode subscript characters (``"₋₁"``)."""
    return text.translate(_SUB)


def _latex_escape(name: str) -> str:
    return name.replace("\\", r"\backslash ").replace("_", r"\_")


def var(number: int, accent: str = "") -> Math:
    """The trace variable ``v_number``; ``accent`` is ``""``, ``"bar"`` (adjoint) or
    ``"dot"`` (tangent)."""
    mark = {"": "", "bar": BAR, "dot": DOT}[accent]
    base_tex = {"": "v", "bar": r"\bar{v}", "dot": r"\dot{v}"}[accent]
    return Math(unicodedata.normalize("NFC", f"v{mark}{subscript(str(number))}"),
                f"{base_tex}_{{{number}}}")


def name(user_name: str, accent: str = "") -> Math:
    """A user's name (input, output or statement label) in textbook form: a trailing
    number becomes a subscript (``x1`` → ``x₁``); ``accent`` as in :func:`var`. Text is
    NFC-normalised (``ẋ`` and ``ȳ`` are single characters where Unicode has them). The AD
    passes' names ``<x>_bar`` and ``<x>_dot`` print as x̄ and ẋ."""
    for suffix, acc in (("_bar", "bar"), ("_dot", "dot")):
        # the AD passes' names for cotangent and tangent inputs: y_bar, x1_dot
        if not accent and user_name.endswith(suffix) and len(user_name) > len(suffix):
            return name(user_name[:-len(suffix)], acc)
    if accent and not _IDENT.match(user_name):
        # not a plain name (an AD output such as "df/dx1"): overline every character,
        # or a dot after the parenthesised name
        if accent == "bar":
            return Math("".join(ch + "\u0305" for ch in user_name),
                        r"\overline{\mathrm{" + _latex_escape(user_name) + "}}")
        return Math(f"({user_name})\u02d9",
                    r"\dot{\left(\mathrm{" + _latex_escape(user_name) + r"}\right)}")
    mark = {"": "", "bar": BAR, "dot": DOT}[accent]
    m = _NAME_DIGITS.match(user_name)
    base, digits = (m.group(1), m.group(2)) if m else (user_name, "")
    text = unicodedata.normalize("NFC", base + mark + subscript(digits))
    if len(base) == 1:
        tex_base = base
    else:
        tex_base = r"\mathrm{" + _latex_escape(base) + "}"
    if accent:
        tex_base = (r"\bar{" if accent == "bar" else r"\dot{") + tex_base + "}"
    tex = tex_base + (f"_{{{digits}}}" if digits else "")
    return Math(text, tex)


def number(value: float, digits: int = 6) -> Math:
    """``value`` rounded to ``digits`` significant digits (``%g``), with a typographic
    minus; ``inf``, ``-inf`` and ``nan`` print as such (``\\infty`` in LaTeX)."""
    v = float(value)
    if math.isnan(v):
        return Math("nan", r"\mathrm{NaN}")
    if math.isinf(v):
        return Math("inf" if v > 0 else f"{MINUS}inf", r"\infty" if v > 0 else r"-\infty")
    if v == 0:
        v = 0.0  # no "-0"
    text = format(v, f".{max(1, int(digits))}g")
    tex = text
    if "e" in text:
        mant, exp = text.split("e")
        tex = rf"{mant} \times 10^{{{int(exp)}}}"
    return Math(text.replace("-", MINUS), tex)


def is_negative_text(m: Math) -> bool:
    return m.text.startswith(MINUS)


# ---------------------------------------------------------------------------------
# array values

def matrix_limit(limit: Any = None) -> tuple[int, int]:
    """``limit`` as ``(rows, columns)``: None gives :data:`SMALL_MATRIX`, an int ``n``
    gives ``(n, n)``; 0 prints every array as a summary.

    Raises:
        GraphcError: anything else, or negative sizes.
    """
    if limit is None:
        return SMALL_MATRIX
    if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool):
        limit = (int(limit), int(limit))
    if (isinstance(limit, (tuple, list)) and len(limit) == 2
            and all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                    for k in limit) and min(limit) >= 0):
        return int(limit[0]), int(limit[1])
    raise GraphcError(f"matrix_max must be a non-negative integer or a (rows, columns) "
                      f"pair, got {limit!r}")


def is_array(v: Any) -> bool:
    """True for a NumPy array of at least one dimension (a trace value of an array
    node); floats and 0-d arrays are scalars."""
    return isinstance(v, np.ndarray) and v.ndim > 0


def is_small(v: np.ndarray, limit: Any = None) -> bool:
    """True when the array ``v`` prints in full: at most 2 dimensions, not empty, and
    at most ``limit`` (rows, columns) (see :func:`matrix_limit`)."""
    rows, cols = matrix_limit(limit)
    if v.ndim > 2 or v.size == 0:
        return False
    r, c = (1, v.shape[0]) if v.ndim == 1 else v.shape
    return r <= rows and c <= cols


def matrix_rows(v: np.ndarray) -> list[list[float]]:
    """The entries of a 1-D (one row) or 2-D array as rows of floats."""
    a = np.asarray(v, dtype=np.float64)
    return [a.tolist()] if a.ndim == 1 else a.tolist()


def stats(v: np.ndarray) -> dict[str, Any]:
    """Summary statistics of an array: ``min``, ``mean``, ``max`` over the finite
    entries (None when there are none) and the counts ``nan``, ``inf`` (+∞) and
    ``-inf`` (−∞), with ``size``."""
    a = np.asarray(v, dtype=np.float64)
    fin = np.isfinite(a)
    out: dict[str, Any] = {"size": int(a.size), "nan": int(np.isnan(a).sum()),
                           "inf": int(np.isposinf(a).sum()),
                           "-inf": int(np.isneginf(a).sum())}
    if fin.any():
        f = a[fin]
        out.update(min=float(f.min()), mean=float(f.mean()), max=float(f.max()))
    else:
        out.update(min=None, mean=None, max=None)
    return out


def summary_parts(v: np.ndarray, digits: int = 6) -> tuple[str, list[Math], list[Math]]:
    """``(shape text, statistics, non-finite counts)`` of a large array, e.g.
    ``("(3, 64)", [min −1.2, mean 0.031, max 2.1], [2 nan])``; statistics use at most
    :data:`SUMMARY_DIGITS` significant digits, counts appear only when non-zero."""
    d = min(int(digits), SUMMARY_DIGITS)
    st = stats(v)
    items: list[Math] = []
    if st["min"] is not None:
        for key, tex in (("min", r"\min"), ("mean", r"\mathrm{mean}"), ("max", r"\max")):
            n = number(st[key], d)
            items.append(Math(f"{key} {n.text}", f"{tex}\\, {n.latex}"))
    elif st["size"] == 0:
        items.append(Math("empty", r"\mathrm{empty}"))
    counts: list[Math] = []
    for key, tex in (("nan", r"\mathrm{NaN}"), ("inf", r"\infty"), ("-inf", r"-\infty")):
        if st[key]:
            counts.append(Math(f"{st[key]} {key.replace('-', MINUS)}",
                               f"{st[key]}\\ {tex}"))
    return format_shape(tuple(v.shape)), items, counts


def summary(v: np.ndarray, digits: int = 6) -> Math:
    """A large array as its shape and statistics: ``(3, 64): min −1.2, mean 0.031,
    max 2.1; 2 nan``."""
    shape, items, counts = summary_parts(v, digits)
    text = shape + ": " + ", ".join(m.text for m in items)
    if counts:
        text += ("; " if items else "") + ", ".join(m.text for m in counts)
    tex_shape = r"\times ".join(str(k) for k in v.shape)
    tex = rf"[{tex_shape}]\colon\ " + r",\ ".join(m.latex for m in items + counts)
    return Math(text, tex)


def matrix(v: np.ndarray, digits: int = 6) -> Math:
    """A small array in full: ``[1, 2]`` (1-D), ``[1, 2, 3]ᵀ`` (a column),
    ``[[1, 2], [3, 4]]``; LaTeX ``bmatrix`` (needs amsmath)."""
    rows = [[number(x, digits) for x in r] for r in matrix_rows(v)]
    if v.ndim == 1:
        text = "[" + ", ".join(m.text for m in rows[0]) + "]"
    elif v.shape[1] == 1 and v.shape[0] > 1:
        text = "[" + ", ".join(r[0].text for r in rows) + "]" + TRANSPOSE
    else:
        text = "[" + ", ".join("[" + ", ".join(m.text for m in r) + "]" for r in rows) + "]"
    tex = (r"\begin{bmatrix}" + r" \\ ".join(" & ".join(m.latex for m in r) for r in rows)
           + r"\end{bmatrix}")
    return Math(text, tex)


def value(v: Any, digits: int = 6, limit: Any = None) -> Math:
    """A trace value: a scalar as :func:`number`, a small array as :func:`matrix`,
    a large one as :func:`summary` (``limit``: see :func:`matrix_limit`)."""
    if not is_array(v):
        return number(v, digits)
    if is_small(v, limit):
        return matrix(v, digits)
    return summary(v, digits)


def value_shape(v: Any) -> tuple[int, ...]:
    """The shape of a trace value (``()`` for scalars)."""
    return tuple(v.shape) if is_array(v) else ()


def shape_text(static: tuple, concrete: tuple | None = None) -> str:
    """A node's shape for display: its static shape (symbols as declared), followed by
    the concrete shape when it has symbols and values are known: ``(H, D) = (3, 2)``."""
    text = format_shape(static)
    if concrete is not None and tuple(concrete) != tuple(static):
        text += " = " + format_shape(tuple(concrete))
    return text


# ---------------------------------------------------------------------------------
# expressions

def format_expr(root: Node, names: dict[Node, Math], digits: int = 6) -> Math:
    """``root`` as one infix expression in both styles: the ``textbook`` and
    ``textbook_latex`` styles of the one expression printer (:mod:`graphc.ir.printer`),
    which read every operation's spelling from its primitive record.

    Args:
        root: a node (any expression over registered primitives).
        names: nodes to print by name (trace variables, placeholders); walking stops
            at them.
        digits: significant digits for constants.

    Returns:
        The expression; constants print with ``digits`` significant digits, negative
        ones in parentheses when they are an operand.
    """
    def leaf(style):
        def fmt(n: Node) -> str:
            m = number(n.value, digits) if n.is_const else name(n.name)
            return getattr(m, style)
        return fmt

    text = Printer(TEXTBOOK, {n: m.text for n, m in names.items()}, leaf("text"),
                   lambda v: number(v).text).text(root)
    tex = Printer(TEXTBOOK_LATEX, {n: m.latex for n, m in names.items()}, leaf("latex"),
                  lambda v: number(v).latex).text(root)
    return Math(text, tex)


_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉₋₊ᵢⱼₖₗₘₙ"
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᵀ"
_MATH_TOKEN = re.compile(
    r"(?P<num>\d+(?:\.\d*)?(?:e[\u2212+-]?\d+)?)"             # 2, 0.5, 1e−05
    r"|(?P<word>(?:[A-Za-z\u0391-\u03c9][\u0300-\u036f]*)+)"   # x, v̄, sin, W
    r"|(?P<other>.)", re.S)


def html_math(text: str) -> str:
    """Plain math text (the ``text`` style of :class:`Math`, e.g. ``ln x₁ + x₁ × x₂``)
    as a Graphviz HTML-like label fragment typeset like mathematics: variables of one
    letter (with their accents) in italics, as in TeX's math mode; function and
    multi-letter names (``ln``, ``sin``, ``relu``, ``mean``), numbers, operators and
    Unicode subscripts and superscripts upright (ISO 80000-2 conventions, which
    amsmath's ``\\ln``/``\\operatorname`` follow too). ``& < > "`` are escaped.

    Args:
        text: any string; characters other than letters pass through escaped.

    Returns:
        Markup for a ``<...>`` label (``<I>x</I>₁ + ...``): only ``<I>`` tags and
        entities, so it nests in ``<FONT>``, table cells and ``<BR/>``-separated
        lines.
    """
    out = []
    for m in _MATH_TOKEN.finditer(text):
        word = m.group("word")
        if word is not None:
            letters = [ch for ch in word if not unicodedata.combining(ch)]
            if len(letters) == 1:
                out.append(f"<I>{html_escape(word)}</I>")
            else:
                out.append(html_escape(word))
        else:
            out.append(html_escape(m.group(0)))
    return "".join(out)


def _tree_size(root: Node, stop: dict, limit: int) -> int:
    """Operations in ``root`` written out as a tree (shared subexpressions counted at
    each use), walking down to the nodes in ``stop`` other than ``root``; counting
    ends past ``limit``."""
    size: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in size:
            continue
        if (node is not root and node in stop) or not node.args:
            size[id(node)] = 1
        elif expanded:
            size[id(node)] = min(limit + 1, 1 + sum(size[id(a)] for a in node.args))
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if id(a) not in size)
    return size[id(root)]


def equations(graph, digits: int = 6, max_terms: int | None = 200) -> Math | None:
    """The graph as the equations it computes, in both styles: one ``name = expression``
    per statement of a program (:attr:`Graph.labels`, later statements using the
    earlier ones' names) and per unlabelled output (as a function of the inputs),
    joined by ``"; "``: ``f(x₁, x₂) = ln x₁ + x₁ × x₂ − sin x₂``,
    ``u = w₁ × x + b₁; h = relu(u); ...``.

    Args:
        graph: a :class:`graphc.Graph` (inputs print by name, :func:`name`).
        digits: significant digits of constants.
        max_terms: None when an equation written out would hold more than this many
            terms (shared subexpressions repeat in the written form, so a graph of a
            few hundred nodes can stand for an astronomically long formula); None: no
            limit.

    Returns:
        The equations, or None (too long).
    """
    names: dict[Node, Math] = {x: name(x.name) for x in graph.inputs}
    parts: list[Math] = []
    labelled = [op for op in graph.operations if op in graph.labels]
    if max_terms is not None:
        stop = dict.fromkeys(list(graph.inputs) + labelled)
        roots = labelled + [o for o in graph.outputs if o not in graph.labels]
        if len(roots) > max_terms or any(
                _tree_size(r, stop, max_terms) > max_terms for r in roots):
            return None
    for op in labelled:
        parts.append(name(graph.labels[op]) + Math(" = ", " = ")
                     + format_expr(op, names, digits))
        names[op] = name(graph.labels[op])
    for out_name, out in zip(graph.output_names, graph.outputs):
        if out in graph.labels and graph.labels[out] == out_name:
            continue
        args = [name(x.name) for x in graph.inputs]
        lhs = name(out_name) + Math("(" + ", ".join(a.text for a in args) + ")",
                                    r"\left(" + ", ".join(a.latex for a in args)
                                    + r"\right)")
        parts.append(lhs + Math(" = ", " = ") + format_expr(out, names, digits))
    return Math("; ".join(m.text for m in parts), r";\quad ".join(m.latex for m in parts))


def point(graph, values, digits: int = 6) -> Math:
    """The point of a trace, ``x₁ = 2, x₂ = 5``, from ``{input node: value}``; an
    array input prints as the space it lies in, ``W₁ ∈ ℝ³ˣ²`` (LaTeX
    ``W_{1} \\in \\mathbb{R}^{3\\times 2}``).

    Args:
        graph: the traced graph; values: ``{node: value}`` with every input.
        digits: significant digits.
    """
    parts: list[Math] = []
    for x in graph.inputs:
        v = values[x]
        if is_array(v):
            tex_shape = r"\times ".join(str(k) for k in v.shape)
            sup = "\u02e3".join(str(k).translate(_SUP) for k in v.shape)
            parts.append(name(x.name) + Math(f" \u2208 \u211d{sup}",
                                             rf" \in \mathbb{{R}}^{{{tex_shape}}}"))
        else:
            parts.append(name(x.name) + Math(" = ", " = ") + number(v, digits))
    return Math(", ".join(m.text for m in parts), ",\\ ".join(m.latex for m in parts))


def html_escape(text: str) -> str:
    """Escape ``& < > "`` for HTML (and Graphviz HTML-like labels)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


__all__ = ["SMALL_MATRIX", "Math", "equations", "format_expr", "html_escape", "html_math",
           "is_array", "is_small", "matrix", "matrix_limit", "name", "number", "point",
           "shape_text", "stats", "subscript", "summary", "value", "value_shape", "var"]
