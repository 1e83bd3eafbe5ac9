"""Evaluation traces: the forward primal, forward tangent and reverse adjoint traces.

A :class:`Trace` is built from a graph and the numbers of one evaluation at a point
(primal values, local partials, tangents, adjoint accumulation steps). It does not
compute those numbers: :func:`graphc.trace` does, with the NumPy interpreter. The
trace turns them into the rows of the textbook tables (Griewank & Walther 2008, §3.1
and §3.2; Baydin et al. 2018, Tables 2 and 3)::

    v₁ = ln v₋₁ = ln 2 = 0.693147                                 (primal)
    v̇₂ = v̇₋₁ × v₀ + v̇₀ × v₋₁ = 1 × 5 + 0 × 2 = 5                    (tangent)
    v̄₋₁ = v̄₋₁ + v̄₁ ∂v₁/∂v₋₁ = v̄₋₁ + v̄₁/v₋₁ = 5.5                    (adjoint)

and renders them as tables (:meth:`Trace.table`), lists of dicts (:meth:`Trace.rows`)
and Graphviz diagrams (:meth:`Trace.to_dot`, :meth:`Trace.render`). It also finds
where a NaN or infinity first appeared (:attr:`Trace.problems`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..ir import Graph, GraphcError, Node, ops
from . import notation as nt
from .notation import Math

SECTIONS = ("primal", "tangent", "adjoint")
SECTION_TITLES = {
    "primal": "Forward primal trace",
    "tangent": "Forward tangent (derivative) trace",
    "adjoint": "Reverse adjoint (derivative) trace",
}
MODES = ("primal", "fwd", "rev")


@dataclass(frozen=True, eq=False)
class Partial:
    """The local partial derivative ∂v_j/∂(argument ``arg`` of v_j) at the traced point.

    Attributes:
        node: the operation v_j.
        arg: the argument position (0-based).
        expr: the partial as an expression over the placeholder nodes of ``bindings``
            (from the primitive's ``partials`` rule, usually simplified for display),
            or None when it has no symbolic form (printed as ``∂v_j/∂v_i``).
        bindings: ``(placeholder, graph node)`` pairs: which node of the graph each
            placeholder in ``expr`` stands for (the arguments of v_j and v_j itself).
        value: the partial's value (float).
    """

    node: Node
    arg: int
    expr: Node | None
    bindings: tuple[tuple[Node, Node], ...]
    value: float


@dataclass(frozen=True, eq=False)
class AdjointStep:
    """One accumulation ``v̄_target = v̄_target + v̄_source · ∂v_source/∂v_target`` of the
    reverse sweep (the first one for a target has no ``v̄_target +``).

    Attributes:
        target: the argument node whose adjoint is updated.
        source: the operation whose adjoint flows back.
        arg: the position of ``target`` among ``source.args``.
        contribution: ``v̄_source · ∂`` (float).
        value: ``v̄_target`` after the update (float).
    """

    target: Node
    source: Node
    arg: int
    contribution: float
    value: float


@dataclass(frozen=True)
class Problem:
    """Where a NaN or an infinity first appeared.

    Attributes:
        section: ``"primal"``, ``"tangent"`` or ``"adjoint"``.
        row: index of the row (in :meth:`Trace.rows` of that digits setting).
        node: the trace name of the node it was computed at (``"v2"``).
        edge: for a derivative, ``(operation, argument)`` trace names of the local
            partial involved, else None.
        kind: ``"nan"`` or ``"inf"``.
        cause: the operation and its operands, e.g. ``"sqrt'(0) = inf"`` or
            ``"0 × inf = nan"``.
        message: one sentence for people.
    """

    section: str
    row: int
    node: str
    edge: tuple[str, str] | None
    kind: str
    cause: str
    message: str


@dataclass
class Row:
    """One line of a trace table; see :meth:`Trace.rows` for the dict form."""

    section: str
    kind: str                 # input | op | output | seed | step | result
    node: Node | None
    lhs: Math
    chain: list[Math]
    value: float
    label: str | None = None
    partial: Partial | None = None
    flag: str | None = None
    source: Node | None = None


def _finite(x: float) -> bool:
    return math.isfinite(x)


def _classify(value: float, operands: Sequence[float]) -> str | None:
    """'nan'/'inf' when ``value`` is a *new* non-finite value given ``operands``."""
    if math.isnan(value):
        if not any(math.isnan(o) for o in operands):
            return "nan"
        return None
    if math.isinf(value) and all(_finite(o) for o in operands):
        return "inf"
    return None


class Trace:
    """The evaluation trace of a graph at one point, in primal, tangent and adjoint form.

    Built by :func:`graphc.trace` (which computes the numbers); can be built directly
    from numbers computed elsewhere.

    Args:
        graph: the traced graph (scalar nodes).
        primal: ``{node: value}`` for every input and operation (constants optional).
        partials: ``{(operation, argument position): Partial}`` for every local partial
            the derivative sections use.
        seed: forward mode: ``{input name: ẋ}`` (missing inputs have ẋ = 0).
        tangent: forward mode: ``{node: v̇}`` for inputs and operations (missing: 0).
        cotangent: reverse mode: ``{output name: ȳ}``.
        adjoint_steps: reverse mode: the accumulation steps in execution order.
        adjoint: reverse mode: ``{node: final v̄}`` (missing: 0).
        digits: significant digits of printed values (default 6).
        title: an optional caption (diagrams show it on top).

    Raises:
        GraphcError: a primal value is missing, or a value is not a scalar.

    The numbering is the graph's (:attr:`graphc.Graph.numbers`): inputs ``v₁₋ₙ … v₀``,
    operations ``v₁ … v_l``, constants inline. Statement names (:attr:`Graph.labels`)
    appear in the ``label`` column and in diagrams.
    """

    def __init__(self, graph: Graph, primal: Mapping[Node, Any], *,
                 partials: Mapping[tuple[Node, int], Partial] | None = None,
                 seed: Mapping[str, float] | None = None,
                 tangent: Mapping[Node, Any] | None = None,
                 cotangent: Mapping[str, float] | None = None,
                 adjoint_steps: Sequence[AdjointStep] | None = None,
                 adjoint: Mapping[Node, Any] | None = None,
                 digits: int = 6, title: str | None = None):
        if not isinstance(graph, Graph):
            raise GraphcError(f"Trace needs a graphc.Graph, got {type(graph).__name__}")
        self.graph = graph
        self.numbers = graph.numbers
        self.primal: dict[Node, float] = {}
        for n in graph.nodes:
            if n.is_const:
                self.primal[n] = float(n.value)
                continue
            if n not in primal:
                raise GraphcError(f"no primal value for {self.id_of(n)}")
            self.primal[n] = _scalar(primal[n], self.id_of(n))
        self.partials = dict(partials or {})
        self.seed = None if seed is None else {k: float(v) for k, v in seed.items()}
        self.tangent = (None if tangent is None else
                        {n: _scalar(v, "tangent") for n, v in tangent.items()})
        self.cotangent = None if cotangent is None else {k: float(v)
                                                         for k, v in cotangent.items()}
        self.adjoint_steps = None if adjoint_steps is None else list(adjoint_steps)
        self.adjoint = (None if adjoint is None and adjoint_steps is None else
                        {n: _scalar(v, "adjoint") for n, v in (adjoint or {}).items()})
        if not isinstance(digits, int) or digits < 1:
            raise GraphcError(f"digits must be a positive integer, got {digits!r}")
        self.digits = digits
        self.title = title
        self._rows: dict[int, tuple[list[Row], list[Problem]]] = {}

    # -- naming ----------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``"rev"`` when the trace has an adjoint section, ``"fwd"`` when it has a
        tangent section, else ``"primal"``."""
        if self.adjoint_steps is not None:
            return "rev"
        if self.tangent is not None:
            return "fwd"
        return "primal"

    @property
    def sections(self) -> list[str]:
        """The sections this trace has, in table order."""
        out = ["primal"]
        if self.tangent is not None:
            out.append("tangent")
        if self.adjoint_steps is not None:
            out.append("adjoint")
        return out

    def id_of(self, node: Node) -> str:
        """The trace name of a numbered node: ``"v-1"``, ``"v3"``."""
        k = self.numbers.get(node)
        return f"v{k}" if k is not None else repr(node)

    def node(self, trace_name: str) -> Node:
        """The node called ``trace_name`` (``"v-1"``, ``"v3"``, an input name, a label).

        Raises:
            GraphcError: no node has that name.
        """
        for n, k in self.numbers.items():
            if trace_name == f"v{k}":
                return n
        for x in self.graph.inputs:
            if x.name == trace_name:
                return x
        for n, lab in self.graph.labels.items():
            if lab == trace_name:
                return n
        raise GraphcError(f"the trace has no node {trace_name!r}")

    def _var(self, node: Node, accent: str = "") -> Math:
        if node.is_const:
            return nt.number(node.value, self.digits)
        return nt.var(self.numbers[node], accent)

    # -- numbers ---------------------------------------------------------------------
    def value(self, trace_name: str) -> float:
        """The primal value of a node given by trace name, input name or label."""
        return self.primal[self.node(trace_name)]

    @property
    def values(self) -> dict[str, float]:
        """``{"v-1": 2.0, ..., "v5": 11.65}``: every numbered node's primal value."""
        return {self.id_of(n): self.primal[n] for n in self.numbers}

    @property
    def outputs(self) -> dict[str, float]:
        """``{output name: value}``."""
        return {nm: self.primal[o] for nm, o in zip(self.graph.output_names,
                                                    self.graph.outputs)}

    @property
    def gradient(self) -> dict[str, float] | None:
        """Reverse mode: ``{input name: x̄}`` (None for other modes)."""
        if self.adjoint is None:
            return None
        return {x.name: self.adjoint.get(x, 0.0) for x in self.graph.inputs}

    @property
    def directional_derivative(self) -> dict[str, float] | None:
        """Forward mode: ``{output name: ẏ}`` (None for other modes)."""
        if self.tangent is None:
            return None
        return {nm: self.tangent.get(o, 0.0) for nm, o in zip(self.graph.output_names,
                                                              self.graph.outputs)}

    # -- rows ------------------------------------------------------------------------
    def _build(self, digits: int) -> tuple[list[Row], list[Problem]]:
        if digits not in self._rows:
            self._rows[digits] = _RowBuilder(self, digits).build()
        return self._rows[digits]

    def row_objects(self, digits: int | None = None) -> list[Row]:
        """The rows as :class:`Row` objects (for renderers)."""
        return self._build(digits or self.digits)[0]

    def rows(self, section: str | None = None, digits: int | None = None) -> list[dict]:
        """The trace as plain data, one dict per table row, in table order.

        Args:
            section: ``"primal"``, ``"tangent"`` or ``"adjoint"`` to select one section.
            digits: significant digits of the text fields (default: the trace's).

        Returns:
            Dicts with keys ``section``, ``kind`` (``input``, ``op``, ``output``,
            ``seed``, ``step``, ``result``), ``node`` (trace name such as ``"v-1"``),
            ``label`` (input name or statement label), ``lhs``, ``chain`` (the
            expressions between the ``=`` signs), ``value`` (float), ``value_text``,
            ``text`` (the whole line), ``latex`` (the whole line in LaTeX),
            ``source`` (adjoint steps: the node whose adjoint flows back),
            ``partial``/``partial_expr``/``partial_value`` (adjoint steps: ``∂v₁/∂v₋₁``,
            ``1/v₋₁``, 0.5) and ``flag`` (a NaN/inf diagnosis, or None).
        """
        if section is not None and section not in SECTIONS:
            raise GraphcError(f"section must be one of {', '.join(SECTIONS)}, got "
                              f"{section!r}")
        d = digits or self.digits
        out = []
        for r in self.row_objects(d):
            if section is not None and r.section != section:
                continue
            out.append(self._row_dict(r, d))
        return out

    def _row_dict(self, r: Row, digits: int) -> dict:
        val = nt.number(r.value, digits)
        p = r.partial
        pexpr = None
        if p is not None:
            pexpr = self._partial_math(p, digits)
        return {
            "section": r.section,
            "kind": r.kind,
            "node": self.id_of(r.node) if r.node is not None and r.node in self.numbers
            else None,
            "label": r.label,
            "lhs": r.lhs.text,
            "chain": [c.text for c in r.chain],
            "value": r.value,
            "value_text": val.text,
            "text": line_text(r, digits),
            "latex": line_latex(r, digits),
            "source": (self.id_of(r.source) if r.source is not None else None),
            "partial": (_partial_symbol(self, p).text if p is not None else None),
            "partial_expr": pexpr.text if pexpr is not None else None,
            "partial_value": p.value if p is not None else None,
            "flag": r.flag,
        }

    def _partial_math(self, p: Partial, digits: int | None = None) -> Math:
        """The symbolic local partial in trace names (``1/v₋₁``)."""
        if p.expr is None:
            return _partial_symbol(self, p)
        names = {ph: self._var(g) for ph, g in p.bindings}
        return nt.format_expr(p.expr, names, digits or self.digits)

    @property
    def problems(self) -> list[Problem]:
        """Every place where a NaN or an infinity was produced from operands that were
        not (yet) NaN/infinite, in trace order (primal rows first). The first one is
        where to look: see :attr:`first_problem`."""
        return self._build(self.digits)[1]

    @property
    def first_problem(self) -> Problem | None:
        """The first NaN/inf origin of the trace, or None when every value is finite."""
        probs = self.problems
        return probs[0] if probs else None

    # -- tables ----------------------------------------------------------------------
    def table(self, fmt: str = "text", digits: int | None = None,
              sections: Sequence[str] | None = None) -> str:
        """The trace as a table.

        Args:
            fmt: ``"text"`` (aligned plain text), ``"md"`` (Markdown), ``"tex"``
                (LaTeX tabular with booktabs rules; needs ``\\usepackage{booktabs}``) or
                ``"html"``.
            digits: significant digits (default: the trace's).
            sections: the sections to include (default: all the trace has).

        Raises:
            GraphcError: an unknown format.
        """
        from .tables import render_table
        return render_table(self, fmt, digits or self.digits, sections)

    def __str__(self) -> str:
        return self.table("text")

    def __repr__(self) -> str:
        pts = ", ".join(f"{x.name}={nt.number(self.primal[x], self.digits).text}"
                        for x in self.graph.inputs)
        return (f"<graphc.Trace mode={self.mode} at ({pts}), {len(self.graph)} ops, "
                f"{len(self.problems)} NaN/inf origin(s)>")

    # -- diagrams --------------------------------------------------------------------
    def default_view(self) -> str:
        """The diagram a mode shows by default: ``primal``, ``tangent`` or ``adjoint``."""
        return {"primal": "primal", "fwd": "tangent", "rev": "adjoint"}[self.mode]

    def to_dot(self, view: str | None = None, **options) -> str:
        """Graphviz DOT text of the trace.

        Args:
            view: ``"graph"`` (operations only), ``"primal"`` (with values),
                ``"tangent"`` (v̇ in nodes, local partials on the edges), ``"adjoint"``
                (v̄ in nodes, reversed dashed edges labelled with the local partial),
                ``"combined"`` (primal and adjoint together, forward and reversed
                edges); default: by mode (:meth:`default_view`).
            **options: ``hide_constants``, ``collapse``, ``max_nodes``, ``rankdir``,
                ``digits``, ``title`` (see :func:`graphc.viz.graph_to_dot`).

        Raises:
            DiagramTooLargeError: more nodes than ``max_nodes``.
            GraphcError: the view needs values this trace lacks.
        """
        from .dot import trace_to_dot
        return trace_to_dot(self, view or self.default_view(), **options)

    def pipe(self, format: str = "svg", view: str | None = None, **options) -> bytes:
        """The diagram rendered by Graphviz's ``dot`` to ``format`` (svg, png, pdf)."""
        from .render import render_dot
        return render_dot(self.to_dot(view, **options), format)

    def render(self, path, view: str | None = None, format: str | None = None,
               **options) -> str:
        """Write the diagram (format from ``path``'s extension: .svg, .png, .pdf,
        .dot/.gv) and return the path. See :meth:`to_dot` for ``view``/options."""
        from .render import write_dot
        return write_dot(self.to_dot(view, **options), path, format)

    def _repr_svg_(self):  # Jupyter
        try:
            return self.pipe("svg").decode("utf-8")
        except Exception:  # noqa: BLE001 - a display hook must not raise
            return None

    def _repr_html_(self):  # Jupyter: diagram above the table
        table = self.table("html")
        svg = self._repr_svg_()
        if svg:
            start = svg.find("<svg")
            svg = svg[start:] if start >= 0 else svg
            return f'<div class="graphc-trace">{svg}{table}</div>'
        return table


def _scalar(v: Any, what: str) -> float:
    try:
        import numpy as np
        arr = np.asarray(v)
        if arr.shape != ():
            raise GraphcError(f"trace values must be scalars; {what} has shape {arr.shape}")
        return float(arr)
    except (TypeError, ValueError) as exc:
        raise GraphcError(f"trace value of {what} is not a number ({exc})") from None


def _partial_symbol(trace: Trace, p: Partial) -> Math:
    a = trace._var(p.node.args[p.arg])
    v = trace._var(p.node)
    return Math(f"{nt.PARTIAL}{v.text}/{nt.PARTIAL}{a.text}",
                rf"\frac{{\partial {v.latex}}}{{\partial {a.latex}}}")


def _join_chain(r: Row, digits: int, style: str) -> str:
    parts = [getattr(r.lhs, style)] + [getattr(c, style) for c in r.chain]
    val = getattr(nt.number(r.value, digits), style)
    last = getattr(r.chain[-1], style) if r.chain else None
    if last != val:
        parts.append(val)
    return " = ".join(parts)


def line_text(r: Row, digits: int) -> str:
    """A row as one line of text: ``v₁ = ln v₋₁ = ln 2 = 0.693147``."""
    return _join_chain(r, digits, "text")


def line_latex(r: Row, digits: int) -> str:
    """A row as one LaTeX math line."""
    return _join_chain(r, digits, "latex")


# ---------------------------------------------------------------------------------

def _placeholder(tag: str) -> Node:
    """A private input node standing for a trace variable inside display expressions."""
    return ops.variable(f"__trace_{tag}")


class _RowBuilder:
    """Builds the rows of a trace and finds NaN/inf origins."""

    def __init__(self, trace: Trace, digits: int):
        self.t = trace
        self.g = trace.graph
        self.d = digits
        self.rows: list[Row] = []
        self.problems: list[Problem] = []

    def build(self):
        self._primal()
        if self.t.tangent is not None:
            self._tangent()
        if self.t.adjoint_steps is not None:
            self._adjoint()
        return self.rows, self.problems

    # helpers
    def num(self, v: float) -> Math:
        return nt.number(v, self.d)

    def var(self, n: Node, accent: str = "") -> Math:
        if n.is_const:
            return self.num(n.value)
        return nt.var(self.t.numbers[n], accent)

    def label_of(self, n: Node) -> str | None:
        if n.is_input:
            return n.name
        return self.g.labels.get(n)

    def flag(self, row: Row, kind: str, cause: str, edge=None):
        r = len(self.rows) - 1
        node = self.t.id_of(row.node) if row.node is not None else "?"
        what = "NaN" if kind == "nan" else "infinity"
        message = f"{what} produced at {row.lhs.text} in the {row.section} trace: {cause}"
        if not self.problems:
            message = "first non-finite value: " + message
        first = "" if self.problems else "first "
        row.flag = f"⚠ {first}{'NaN' if kind == 'nan' else 'inf'}: {cause}"
        self.problems.append(Problem(row.section, r, node, edge, kind, cause, message))

    def partial_cause(self, p: Partial) -> str:
        """``sqrt'(0) = inf`` (unary) or ``∂₂pow(0, 0.5) = inf``."""
        n = p.node
        vals = ", ".join(self.num(self.t.primal[a]).text for a in n.args)
        name = n.prim.name
        if len(n.args) == 1:
            head = f"{name}'({vals})"
        else:
            head = f"{nt.PARTIAL}{nt.subscript(str(p.arg + 1))}{name}({vals})"
        return f"{head} = {self.num(p.value).text}"

    # primal ------------------------------------------------------------------------
    def _primal(self):
        t, g = self.t, self.g
        for x in g.inputs:
            self.rows.append(Row("primal", "input", x, self.var(x), [nt.name(x.name)],
                                 t.primal[x], label=x.name))
        for op in g.operations:
            sym_names = {a: self.var(a) for a in op.args if not a.is_const}
            val_names = {a: self.num(t.primal[a]) for a in op.args if not a.is_const}
            sym = nt.format_expr(op, sym_names, self.d)
            sub = nt.format_expr(op, val_names, self.d)
            chain = [sym] if sub.text == sym.text else [sym, sub]
            row = Row("primal", "op", op, self.var(op), chain, t.primal[op],
                      label=g.labels.get(op))
            self.rows.append(row)
            kind = _classify(t.primal[op], [t.primal[a] for a in op.args])
            if kind:
                self.flag(row, kind, f"{sub.text} = {self.num(t.primal[op]).text}")
        for nm, o in zip(g.output_names, g.outputs):
            self.rows.append(Row("primal", "output", o, nt.name(nm), [self.var(o)],
                                 t.primal[o], label=nm))

    # tangent -----------------------------------------------------------------------
    def _term(self, deriv_ph: Node, p: Partial | None, tag: str, adjoint: bool):
        """Expression node for deriv·∂ in textbook form, plus placeholder names."""
        names: dict[Node, Math] = {}
        if p is None or p.expr is None:
            sym = _placeholder(f"partial_{tag}")
            names[sym] = (_partial_symbol(self.t, p) if p is not None
                          else Math("∂", r"\partial"))
            return ops.mul(deriv_ph, sym), names, False
        for ph, gnode in p.bindings:
            names[ph] = self.var(gnode)
        e = p.expr
        if not adjoint:
            if e.is_const and e.value == 1.0:
                return deriv_ph, names, False
            if e.is_const and e.value == -1.0:
                return deriv_ph, names, True    # subtract
        if e.prim is ops.div_p and e.args[0].is_const and e.args[0].value == 1.0:
            return ops.div(deriv_ph, e.args[1]), names, False
        return ops.mul(deriv_ph, e), names, False

    def _tangent(self):
        t, g = self.t, self.g
        tan = t.tangent
        seed = t.seed or {}
        for x in g.inputs:
            v = tan.get(x, seed.get(x.name, 0.0))
            self.rows.append(Row("tangent", "input", x, self.var(x, "dot"),
                                 [nt.name(x.name, "dot")], v, label=x.name))
        for op in g.operations:
            value = tan.get(op, 0.0)
            terms = []
            sym_names: dict[Node, Math] = {}
            val_names: dict[Node, Math] = {}
            operands: list[float] = []
            culprit = None
            for i, a in enumerate(op.args):
                if a.is_const:
                    continue
                p = t.partials.get((op, i))
                if p is None and (op.prim.partials is None and op.prim.vjp is None):
                    continue  # no derivative flows through this argument
                if p is None:
                    continue
                dph = _placeholder(f"dot{t.numbers[a]}")
                node, names, negate = self._term(dph, p, f"{i}", adjoint=False)
                terms.append((node, negate))
                sym_names.update(names)
                sym_names[dph] = self.var(a, "dot")
                # value substitution: placeholders → numbers
                for ph, gnode in p.bindings:
                    val_names[ph] = self.num(t.primal[gnode])
                for ph in names:
                    if ph not in val_names:
                        val_names[ph] = self.num(p.value)
                ta = tan.get(a, 0.0)
                val_names[dph] = self.num(ta)
                operands.append(ta)
                if culprit is None and not _finite(p.value):
                    culprit = p
            if not terms:
                chain = [Math("0", "0")]
            else:
                expr = None
                for node, negate in terms:
                    if expr is None:
                        expr = ops.neg(node) if negate else node
                    else:
                        expr = ops.sub(expr, node) if negate else ops.add(expr, node)
                sym = nt.format_expr(expr, sym_names, self.d)
                sub = nt.format_expr(expr, val_names, self.d)
                chain = [sym] if sub.text == sym.text else [sym, sub]
            row = Row("tangent", "op", op, self.var(op, "dot"), chain, value,
                      label=g.labels.get(op))
            self.rows.append(row)
            # a local partial is computed from the primal values of the op's
            # arguments and result: those are its operands
            operands += [t.primal[a] for a in op.args] + [t.primal[op]]
            kind = _classify(value, operands)
            if kind:
                if culprit is not None:
                    ta = tan.get(op.args[culprit.arg], 0.0)
                    cause = (f"{self.partial_cause(culprit)}, and "
                             f"{self.var(op.args[culprit.arg], 'dot').text} × ∂ = "
                             f"{self.num(ta).text} × {self.num(culprit.value).text}")
                    edge = (t.id_of(op), t.id_of(op.args[culprit.arg]))
                else:
                    cause = f"{chain[-1].text} = {self.num(value).text}"
                    edge = None
                self.flag(row, kind, cause, edge)
        for nm, o in zip(g.output_names, g.outputs):
            self.rows.append(Row("tangent", "output", o, nt.name(nm, "dot"),
                                 [self.var(o, "dot")], tan.get(o, 0.0), label=nm))

    # adjoint -----------------------------------------------------------------------
    def _adjoint(self):
        t, g = self.t, self.g
        started: dict[int, float] = {}   # id(node) -> current adjoint
        cot = t.cotangent or {}
        for nm, o in zip(g.output_names, g.outputs):
            if o.is_const or cot.get(nm, 0.0) == 0.0:
                continue  # a zero seed is a structural zero, as in graphc.passes.ad
            ybar = nt.name(nm, "bar")
            if id(o) in started:
                prev = started[id(o)]
                value = prev + cot[nm]
                chain = [self.var(o, "bar") + Math(" + ", " + ") + ybar]
            else:
                value = cot[nm]
                chain = [ybar]
            started[id(o)] = value
            self.rows.append(Row("adjoint", "seed", o, self.var(o, "bar"), chain, value,
                                 label=self.label_of(o)))
        plus = Math(" + ", " + ")
        for st in t.adjoint_steps:
            tgt, src = st.target, st.source
            p = t.partials.get((src, st.arg))
            first = id(tgt) not in started
            prev = started.get(id(tgt), 0.0)
            src_bar = started.get(id(src), t.adjoint.get(src, 0.0) if t.adjoint else 0.0)
            generic = self.var(src, "bar") + Math(" ", " ") + (
                _partial_symbol(t, p) if p is not None else
                Math(f"∂{self.var(src).text}/∂{self.var(tgt).text}",
                     rf"\frac{{\partial {self.var(src).latex}}}{{\partial "
                     rf"{self.var(tgt).latex}}}"))
            bph = _placeholder(f"bar{t.numbers[src]}")
            node, names, _ = self._term(bph, p, f"{st.arg}", adjoint=True)
            names[bph] = self.var(src, "bar")
            if first:
                c1, expr = generic, node
            else:
                tph = _placeholder(f"bar{t.numbers[tgt]}")
                names[tph] = self.var(tgt, "bar")
                c1 = self.var(tgt, "bar") + plus + generic
                expr = ops.add(tph, node)
            c2 = nt.format_expr(expr, names, self.d)
            row = Row("adjoint", "step", tgt, self.var(tgt, "bar"), [c1, c2], st.value,
                      label=self.label_of(tgt), partial=p, source=src)
            self.rows.append(row)
            pval = p.value if p is not None else float("nan")
            operands = ([src_bar] + ([] if first else [prev])
                        + [t.primal[a] for a in src.args] + [t.primal[src]])
            kind = _classify(st.value, operands)
            if kind:
                if p is not None and not _finite(p.value):
                    cause = (f"{self.partial_cause(p)}, and "
                             f"{self.var(src, 'bar').text} × ∂ = "
                             f"{self.num(src_bar).text} × {self.num(p.value).text}")
                elif not _finite(st.contribution):
                    cause = (f"{self.var(src, 'bar').text} × ∂ = {self.num(src_bar).text}"
                             f" × {self.num(pval).text} = "
                             f"{self.num(st.contribution).text}")
                else:
                    cause = (f"{self.num(prev).text} + {self.num(st.contribution).text}"
                             f" = {self.num(st.value).text}")
                self.flag(row, kind, cause, (t.id_of(src), t.id_of(tgt)))
            started[id(tgt)] = st.value
        for x in g.inputs:
            v = t.adjoint.get(x, 0.0) if t.adjoint else started.get(id(x), 0.0)
            self.rows.append(Row("adjoint", "result", x, nt.name(x.name, "bar"),
                                 [self.var(x, "bar")], v, label=x.name))


__all__ = [
    "MODES",
    "SECTIONS",
    "SECTION_TITLES",
    "AdjointStep",
    "Partial",
    "Problem",
    "Row",
    "Trace",
    "line_latex",
    "line_text",
]
