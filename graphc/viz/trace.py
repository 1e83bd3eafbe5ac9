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

Array graphs: values are NumPy arrays. They print as small matrices up to
``matrix_max`` rows and columns (default :data:`graphc.viz.notation.SMALL_MATRIX`,
4×4) and otherwise as their shape with the minimum, mean and maximum of the finite
entries and the counts of NaN and infinite entries. Elementwise operations keep their
local partials (arrays, multiplied entry by entry); structural operations (``@``,
``sum``, ``reshape``...) have no local partial worth printing (their Jacobian is a
large tensor), so their rows show the primitive's JVP (tangent) or VJP (adjoint) rule
applied to the incoming derivative, ``v̄₋₂ = v̄₁ @ v₋₁ᵀ``, with
:attr:`Partial.kind` ``"jvp"``/``"vjp"``. The NaN/inf diagnosis works entry by entry:
a row is flagged where an entry becomes non-finite from finite operands (for
elementwise operations, the operands of that entry), and the cause names the entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir import Graph, GraphcError, Node, ops
from ..ir.array_ops import fit_shape
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
    """The local partial derivative ∂v_j/∂(argument ``arg`` of v_j) at the traced point,
    or, for a structural array operation, the linear map that stands for it.

    Attributes:
        node: the operation v_j.
        arg: the argument position (0-based).
        expr: the partial as an expression over the placeholder nodes of ``bindings``
            (from the primitive's ``partials`` rule, usually simplified for display),
            or None when it has no symbolic form (printed as ``∂v_j/∂v_i``). For
            ``kind`` ``"vjp"``/``"jvp"``: the primitive's VJP (JVP) rule applied to the
            placeholder ``seed``, e.g. ``seed @ transpose(a1)``.
        bindings: ``(placeholder, graph node)`` pairs: which node of the graph each
            placeholder in ``expr`` stands for (the arguments of v_j and v_j itself).
        value: the partial's value: a float, or for an elementwise operation on arrays
            an array (entry by entry; it broadcasts against v_j). For ``"vjp"``: the
            contribution ``VJP(v̄_j)`` to the argument's adjoint; for ``"jvp"``: the term
            ``JVP(v̇_arg)`` of v̇_j.
        kind: ``"partial"`` (a local partial), ``"vjp"`` or ``"jvp"``.
        seed: for ``"vjp"``/``"jvp"``: the placeholder in ``expr`` that stands for v̄_j
            (v̇ of the argument); else None.
    """

    node: Node
    arg: int
    expr: Node | None
    bindings: tuple[tuple[Node, Node], ...]
    value: Any
    kind: str = "partial"
    seed: Node | None = None


@dataclass(frozen=True, eq=False)
class AdjointStep:
    """One accumulation ``v̄_target = v̄_target + v̄_source · ∂v_source/∂v_target`` of the
    reverse sweep (the first one for a target has no ``v̄_target +``).

    Attributes:
        target: the argument node whose adjoint is updated.
        source: the operation whose adjoint flows back.
        arg: the position of ``target`` among ``source.args``.
        contribution: ``v̄_source · ∂`` (float; for arrays, an array of the target's
            shape: the product summed over broadcast axes, or the VJP).
        value: ``v̄_target`` after the update (float or array).
    """

    target: Node
    source: Node
    arg: int
    contribution: Any
    value: Any


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
            ``"0 × inf = nan"``; for arrays with the entry, ``"sqrt(−1) = nan at
            [2, 0]"``.
        message: one sentence for people.
        index: for an array value, the index of the first new non-finite entry
            (a tuple), else None.
    """

    section: str
    row: int
    node: str
    edge: tuple[str, str] | None
    kind: str
    cause: str
    message: str
    index: tuple[int, ...] | None = None


@dataclass
class Row:
    """One line of a trace table; see :meth:`Trace.rows` for the dict form."""

    section: str
    kind: str                 # input | op | output | seed | step | result
    node: Node | None
    lhs: Math
    chain: list[Math]
    value: Any                # float, or a NumPy array for array nodes
    label: str | None = None
    partial: Partial | None = None
    flag: str | None = None
    source: Node | None = None


def _finite(x: Any) -> bool:
    """True when every entry of ``x`` is finite."""
    if nt.is_array(x):
        return bool(np.isfinite(x).all())
    return math.isfinite(x)


def _classify(value: Any, operands: Sequence[Any], entrywise: bool = True
              ) -> tuple[str, tuple[int, ...] | None] | None:
    """``(kind, index)`` when ``value`` holds a *new* non-finite value given
    ``operands``: kind ``'nan'``/``'inf'``, index the first such entry (None for a
    scalar value). ``entrywise``: the operation is elementwise, so an entry is new
    unless the operands' entries at the same (broadcast) index are non-finite;
    otherwise an array value counts as new only if no operand has a NaN (for NaN) or
    every operand is finite (for inf)."""
    if not nt.is_array(value) and not any(nt.is_array(o) for o in operands):
        if math.isnan(value):
            return None if any(math.isnan(o) for o in operands) else ("nan", None)
        if math.isinf(value) and all(_finite(o) for o in operands):
            return "inf", None
        return None
    v = np.asarray(value, dtype=np.float64)
    shape = v.shape
    nan_in = np.zeros(shape, dtype=bool)
    bad_in = np.zeros(shape, dtype=bool)
    for o in operands:
        a = np.asarray(o, dtype=np.float64)
        b = None
        if entrywise:
            try:
                b = np.broadcast_to(a, shape)
            except ValueError:
                b = None
        if b is None:
            nan_in |= bool(np.isnan(a).any())
            bad_in |= not bool(np.isfinite(a).all())
        else:
            nan_in |= np.isnan(b)
            bad_in |= ~np.isfinite(b)
    new = (np.isnan(v) & ~nan_in) | (np.isinf(v) & ~bad_in)
    if not new.any():
        return None
    flat = int(np.flatnonzero(new.ravel())[0])
    idx = tuple(int(k) for k in np.unravel_index(flat, shape)) if shape else None
    kind = "nan" if np.isnan(v.ravel()[flat]) else "inf"
    return kind, (idx if nt.is_array(value) else None)


def _at(v: Any, idx: tuple[int, ...] | None, shape: tuple[int, ...]) -> float | None:
    """The entry of ``v`` (broadcast to ``shape``) at ``idx``; ``v`` itself for a
    scalar; None when ``v`` does not broadcast to ``shape``."""
    if not nt.is_array(v):
        return float(v)
    if idx is None:
        return None
    try:
        return float(np.broadcast_to(v, shape)[idx])
    except (ValueError, IndexError):
        return None


def _first_bad(v: Any) -> tuple[int, ...] | None:
    """The index of the first non-finite entry of an array (None if none or scalar)."""
    if not nt.is_array(v):
        return None
    bad = ~np.isfinite(np.asarray(v, dtype=np.float64))
    if not bad.any():
        return None
    return tuple(int(k) for k in np.unravel_index(int(np.flatnonzero(bad.ravel())[0]),
                                                  v.shape))


def _idx_text(idx: tuple[int, ...] | None) -> str:
    return "" if idx is None else " at [" + ", ".join(str(k) for k in idx) + "]"


class Trace:
    """The evaluation trace of a graph at one point, in primal, tangent and adjoint form.

    Built by :func:`graphc.trace` (which computes the numbers); can be built directly
    from numbers computed elsewhere.

    Args:
        graph: the traced graph (scalar or array nodes).
        primal: ``{node: value}`` for every input and operation (constants optional):
            a number for a scalar node, an array of the node's rank (and of its fixed
            sizes) for an array node.
        partials: ``{(operation, argument position): Partial}`` for every local partial
            the derivative sections use.
        seed: forward mode: ``{input name: ẋ}`` (missing inputs have ẋ = 0).
        tangent: forward mode: ``{node: v̇}`` for inputs and operations (missing: 0).
        cotangent: reverse mode: ``{output name: ȳ}``.
        adjoint_steps: reverse mode: the accumulation steps in execution order.
        adjoint: reverse mode: ``{node: final v̄}`` (missing: 0).
        digits: significant digits of printed values (default 6).
        title: an optional caption (diagrams show it on top).
        matrix_max: arrays of at most 2 dimensions and at most this many rows and
            columns print in full, larger ones as shape and statistics: an int ``n``
            (n×n) or ``(rows, columns)``; default 4×4.

    Raises:
        GraphcError: a primal value is missing, a scalar node has an array value, an
            array value's rank or fixed sizes differ from its node's shape, or a value
            is not a number.

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
                 digits: int = 6, title: str | None = None, matrix_max: Any = None):
        if not isinstance(graph, Graph):
            raise GraphcError(f"Trace needs a graphc.Graph, got {type(graph).__name__}")
        self.graph = graph
        self.numbers = graph.numbers
        self.primal: dict[Node, Any] = {}
        for n in graph.nodes:
            if n.is_const:
                self.primal[n] = float(n.value)
                continue
            if n not in primal:
                raise GraphcError(f"no primal value for {self.id_of(n)}")
            self.primal[n] = _value(primal[n], n, self.id_of(n), strict=True)
        self.partials = dict(partials or {})
        by_name = {x.name: x for x in graph.inputs}
        outs = dict(zip(graph.output_names, graph.outputs))
        self.seed = None if seed is None else {
            k: _value(v, by_name.get(k), f"the seed of {k}") for k, v in seed.items()}
        self.tangent = (None if tangent is None else
                        {n: _value(v, n, f"the tangent of {self.id_of(n)}")
                         for n, v in tangent.items()})
        self.cotangent = None if cotangent is None else {
            k: _value(v, outs.get(k), f"the seed of {k}") for k, v in cotangent.items()}
        self.adjoint_steps = None if adjoint_steps is None else list(adjoint_steps)
        self.adjoint = (None if adjoint is None and adjoint_steps is None else
                        {n: _value(v, n, f"the adjoint of {self.id_of(n)}")
                         for n, v in (adjoint or {}).items()})
        if not isinstance(digits, int) or digits < 1:
            raise GraphcError(f"digits must be a positive integer, got {digits!r}")
        self.digits = digits
        self.matrix_max = nt.matrix_limit(matrix_max)
        self.title = title
        self._rows: dict[tuple, tuple[list[Row], list[Problem]]] = {}

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
    def value(self, trace_name: str) -> Any:
        """The primal value (float or array) of a node given by trace name, input name
        or label."""
        return self.primal[self.node(trace_name)]

    @property
    def values(self) -> dict[str, Any]:
        """``{"v-1": 2.0, ..., "v5": 11.65}``: every numbered node's primal value
        (arrays for array nodes)."""
        return {self.id_of(n): self.primal[n] for n in self.numbers}

    @property
    def outputs(self) -> dict[str, Any]:
        """``{output name: value}``."""
        return {nm: self.primal[o] for nm, o in zip(self.graph.output_names,
                                                    self.graph.outputs)}

    def shape_of(self, node: Node) -> tuple[int, ...]:
        """The concrete shape of a node's primal value (``()`` for scalars)."""
        return nt.value_shape(self.primal[node])

    def _zero(self, node: Node) -> Any:
        shape = self.shape_of(node)
        return np.zeros(shape) if shape else 0.0

    @property
    def gradient(self) -> dict[str, Any] | None:
        """Reverse mode: ``{input name: x̄}`` (None for other modes); arrays of the
        inputs' shapes for array inputs."""
        if self.adjoint is None:
            return None
        return {x.name: self.adjoint.get(x, self._zero(x)) for x in self.graph.inputs}

    @property
    def directional_derivative(self) -> dict[str, Any] | None:
        """Forward mode: ``{output name: ẏ}`` (None for other modes)."""
        if self.tangent is None:
            return None
        return {nm: self.tangent.get(o, self._zero(o))
                for nm, o in zip(self.graph.output_names, self.graph.outputs)}

    # -- rows ------------------------------------------------------------------------
    def _build(self, digits: int, limit: Any = None) -> tuple[list[Row], list[Problem]]:
        key = (digits, nt.matrix_limit(limit) if limit is not None else self.matrix_max)
        if key not in self._rows:
            self._rows[key] = _RowBuilder(self, *key).build()
        return self._rows[key]

    def row_objects(self, digits: int | None = None, matrix_max: Any = None) -> list[Row]:
        """The rows as :class:`Row` objects (for renderers)."""
        return self._build(digits or self.digits, matrix_max)[0]

    def rows(self, section: str | None = None, digits: int | None = None,
             matrix_max: Any = None) -> list[dict]:
        """The trace as plain data, one dict per table row, in table order.

        Args:
            section: ``"primal"``, ``"tangent"`` or ``"adjoint"`` to select one section.
            digits: significant digits of the text fields (default: the trace's).
            matrix_max: largest array printed in full in the text fields (default:
                the trace's; see :class:`Trace`).

        Returns:
            Dicts with keys ``section``, ``kind`` (``input``, ``op``, ``output``,
            ``seed``, ``step``, ``result``), ``node`` (trace name such as ``"v-1"``),
            ``label`` (input name or statement label), ``lhs``, ``chain`` (the
            expressions between the ``=`` signs), ``value`` (float, or a NumPy array
            for an array node: ``.tolist()`` it for JSON), ``value_text``, ``shape``
            (the value's shape, ``()`` for scalars), ``static_shape`` (the node's
            declared shape as text, ``"(H, 1)"``, or None for scalars), ``text`` (the
            whole line), ``latex`` (the whole line in LaTeX), ``source`` (adjoint
            steps: the node whose adjoint flows back),
            ``partial``/``partial_expr``/``partial_value`` (adjoint steps: ``∂v₁/∂v₋₁``,
            ``1/v₋₁``, 0.5; for a structural array operation ``None``, its VJP
            ``v̄₁ @ v₋₁ᵀ`` and the contribution's value), ``partial_kind``
            (``"partial"``, ``"vjp"``, or None) and ``flag`` (a NaN/inf diagnosis, or
            None).
        """
        if section is not None and section not in SECTIONS:
            raise GraphcError(f"section must be one of {', '.join(SECTIONS)}, got "
                              f"{section!r}")
        d = digits or self.digits
        limit = nt.matrix_limit(matrix_max) if matrix_max is not None else self.matrix_max
        out = []
        for r in self.row_objects(d, limit):
            if section is not None and r.section != section:
                continue
            out.append(self._row_dict(r, d, limit))
        return out

    def _row_dict(self, r: Row, digits: int, limit: Any) -> dict:
        val = nt.value(r.value, digits, limit)
        p = r.partial
        pexpr = None
        if p is not None:
            pexpr = self._partial_math(p, digits)
        static = None
        if r.node is not None and r.node.shape != ():
            static = nt.format_shape(r.node.shape)
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
            "shape": nt.value_shape(r.value),
            "static_shape": static,
            "text": line_text(r, digits, limit),
            "latex": line_latex(r, digits, limit),
            "source": (self.id_of(r.source) if r.source is not None else None),
            "partial": (_partial_symbol(self, p).text
                        if p is not None and p.kind == "partial" else None),
            "partial_expr": pexpr.text if pexpr is not None else None,
            "partial_value": p.value if p is not None else None,
            "partial_kind": p.kind if p is not None else None,
            "flag": r.flag,
        }

    def _partial_math(self, p: Partial, digits: int | None = None) -> Math:
        """The symbolic local partial in trace names (``1/v₋₁``); for a structural
        operation its VJP or JVP rule applied to v̄ (v̇): ``v̄₁ @ v₋₁ᵀ``."""
        if p.expr is None:
            return _partial_symbol(self, p)
        names = {ph: self._var(g) for ph, g in p.bindings}
        if p.seed is not None:
            names[p.seed] = (self._var(p.node, "bar") if p.kind == "vjp"
                             else self._var(p.node.args[p.arg], "dot"))
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
              sections: Sequence[str] | None = None, matrix_max: Any = None) -> str:
        """The trace as a table.

        Args:
            fmt: ``"text"`` (aligned plain text), ``"md"`` (Markdown), ``"tex"``
                (LaTeX tabular with booktabs rules; needs ``\\usepackage{booktabs}``,
                and ``amsmath`` for the matrices of array traces) or ``"html"``.
            digits: significant digits (default: the trace's).
            sections: the sections to include (default: all the trace has).
            matrix_max: largest array printed in full (default: the trace's).

        Raises:
            GraphcError: an unknown format.
        """
        from .tables import render_table
        limit = nt.matrix_limit(matrix_max) if matrix_max is not None else self.matrix_max
        return render_table(self, fmt, digits or self.digits, sections, limit)

    def __str__(self) -> str:
        return self.table("text")

    def __repr__(self) -> str:
        pts = ", ".join(f"{x.name}={_short_value(self.primal[x], self.digits)}"
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
                ``digits``, ``title``, ``matrix_max`` (see
                :func:`graphc.viz.graph_to_dot`).

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

    def to_html(self, path=None, *, fragment: bool = False, view: str | None = None,
                digits: int | None = None, **options) -> str:
        """The interactive trace page (:mod:`graphc.viz.page`): one self-contained HTML
        document (inline SVG, CSS, JavaScript and the trace as JSON; no network access)
        with the diagram beside the tables and controls (and ←/→/Home/End keys) that
        step through the primal sweep and the tangent or adjoint sweep.

        Args:
            path: also write the page to this file (UTF-8).
            fragment: return a ``<div>`` for embedding (notebooks) instead of a
                whole document.
            view: the diagram view (default: by mode).
            digits: significant digits (default: the trace's).
            **options: diagram options of :meth:`to_dot` (``hide_constants``,
                ``rankdir``, ``max_nodes``, ``matrix_max``...).

        Returns:
            The HTML text. Without Graphviz's ``dot`` program, or over ``max_nodes``,
            the page shows a note in place of the diagram.

        Raises:
            GraphcError: an unknown view or option; ``path`` cannot be written.
        """
        from .page import trace_fragment, trace_page
        make = trace_fragment if fragment else trace_page
        text = make(self, view=view, digits=digits, **options)
        if path is not None:
            try:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as exc:
                raise GraphcError(f"cannot write the trace page to {path!r}: "
                                  f"{exc.strerror or exc}") from None
        return text

    def _repr_html_(self):  # Jupyter: the interactive page (diagram beside the tables)
        try:
            return self.to_html(fragment=True)
        except Exception:  # noqa: BLE001 - a display hook must not raise
            pass
        table = self.table("html")
        svg = self._repr_svg_()
        if svg:
            start = svg.find("<svg")
            svg = svg[start:] if start >= 0 else svg
            return f'<div class="graphc-trace">{svg}{table}</div>'
        return table


def _value(v: Any, node: Node | None, what: str, strict: bool = False) -> Any:
    """A trace value checked against its node: a float for a 0-d value, else a
    read-only float array of the node's rank. ``strict`` (primal values): an array
    node needs an array; otherwise a scalar may stand for a constant array."""
    try:
        arr = np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"dtype {arr.dtype}")
        if arr.ndim == 0:
            if strict and node is not None and node.shape != ():
                raise GraphcError(f"{what} is declared with shape "
                                  f"{nt.format_shape(node.shape)}, got a scalar")
            return float(arr)
    except (TypeError, ValueError) as exc:
        raise GraphcError(f"trace value of {what} is not a number ({exc})") from None
    if node is not None:
        if node.shape == ():
            raise GraphcError(f"trace values of scalar nodes must be scalars; {what} has "
                              f"shape {arr.shape}")
        if len(node.shape) != arr.ndim or any(
                isinstance(d, int) and d != k for d, k in zip(node.shape, arr.shape)):
            raise GraphcError(f"{what} has shape {arr.shape}, but its node is declared "
                              f"with shape {nt.format_shape(node.shape)}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


def _short_value(v: Any, digits: int = 6) -> str:
    """A value for one-line captions: a number, or an array's shape."""
    if nt.is_array(v):
        return "array" + nt.format_shape(v.shape)
    return nt.number(v, digits).text


def _partial_symbol(trace: Trace, p: Partial) -> Math:
    a = trace._var(p.node.args[p.arg])
    v = trace._var(p.node)
    return Math(f"{nt.PARTIAL}{v.text}/{nt.PARTIAL}{a.text}",
                rf"\frac{{\partial {v.latex}}}{{\partial {a.latex}}}")


def _join_chain(r: Row, digits: int, style: str, limit: Any = None) -> str:
    parts = [getattr(r.lhs, style)] + [getattr(c, style) for c in r.chain]
    val = getattr(nt.value(r.value, digits, limit), style)
    last = getattr(r.chain[-1], style) if r.chain else None
    if last != val:
        parts.append(val)
    return " = ".join(parts)


def line_text(r: Row, digits: int, matrix_max: Any = None) -> str:
    """A row as one line of text: ``v₁ = ln v₋₁ = ln 2 = 0.693147``; arrays as
    ``[[1, 2], [3, 4]]`` or ``(3, 64): min …, mean …, max …``."""
    return _join_chain(r, digits, "text", matrix_max)


def line_latex(r: Row, digits: int, matrix_max: Any = None) -> str:
    """A row as one LaTeX math line (arrays as ``bmatrix``: needs amsmath)."""
    return _join_chain(r, digits, "latex", matrix_max)


# ---------------------------------------------------------------------------------

def _placeholder(tag: str, shape: tuple = (), dtype: str = "float64") -> Node:
    """A private input node standing for a trace variable inside display expressions
    (of the variable's static shape, so array rules and ``⊙`` print right)."""
    return ops.variable(f"__trace_{tag}", dtype, tuple(shape))


class _RowBuilder:
    """Builds the rows of a trace and finds NaN/inf origins."""

    def __init__(self, trace: Trace, digits: int, limit: tuple[int, int] | None = None):
        self.t = trace
        self.g = trace.graph
        self.d = digits
        self.limit = limit or trace.matrix_max
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
    def num(self, v: Any) -> Math:
        """A value: a number, a small matrix, or an array's shape and statistics."""
        return nt.value(v, self.d, self.limit)

    def entry(self, v: Any, idx, shape) -> str:
        """The entry of ``v`` at ``idx`` (broadcast to ``shape``) as text."""
        if not nt.is_array(v):
            return nt.number(v, self.d).text
        e = _at(v, idx, shape)
        return "…" if e is None else nt.number(e, self.d).text

    def var(self, n: Node, accent: str = "") -> Math:
        if n.is_const:
            return nt.number(n.value, self.d)
        return nt.var(self.t.numbers[n], accent)

    def label_of(self, n: Node) -> str | None:
        if n.is_input:
            return n.name
        return self.g.labels.get(n)

    def has_arrays(self, op: Node) -> bool:
        t = self.t
        return nt.is_array(t.primal[op]) or any(nt.is_array(t.primal[a]) for a in op.args)

    def flag(self, row: Row, kind: str, cause: str, edge=None, index=None):
        r = len(self.rows) - 1
        node = self.t.id_of(row.node) if row.node is not None else "?"
        what = "NaN" if kind == "nan" else "infinity"
        message = f"{what} produced at {row.lhs.text} in the {row.section} trace: {cause}"
        if not self.problems:
            message = "first non-finite value: " + message
        first = "" if self.problems else "first "
        row.flag = f"⚠ {first}{'NaN' if kind == 'nan' else 'inf'}: {cause}"
        self.problems.append(Problem(row.section, r, node, edge, kind, cause, message,
                                     index))

    def partial_cause(self, p: Partial) -> tuple[str, Any, tuple]:
        """``sqrt'(0) = inf`` (unary) or ``∂₂pow(0, 0.5) = inf``, at the first
        non-finite entry of an array partial (``… at [2, 0]``); returns the text, the
        entry's index and the operation's shape it indexes."""
        n = p.node
        shape = self.t.shape_of(n)
        idx = None
        if nt.is_array(p.value):
            try:
                idx = _first_bad(np.broadcast_to(p.value, shape))
            except ValueError:
                shape = p.value.shape
                idx = _first_bad(p.value)
        vals = ", ".join(self.entry(self.t.primal[a], idx, shape) for a in n.args)
        name = n.prim.name
        if len(n.args) == 1:
            head = f"{name}'({vals})"
        else:
            head = f"{nt.PARTIAL}{nt.subscript(str(p.arg + 1))}{name}({vals})"
        return f"{head} = {self.entry(p.value, idx, shape)}{_idx_text(idx)}", idx, shape

    # primal ------------------------------------------------------------------------
    def _primal(self):
        t, g = self.t, self.g
        for x in g.inputs:
            self.rows.append(Row("primal", "input", x, self.var(x), [nt.name(x.name)],
                                 t.primal[x], label=x.name))
        for op in g.operations:
            sym_names = {a: self.var(a) for a in op.args if not a.is_const}
            sym = nt.format_expr(op, sym_names, self.d)
            sub = None
            if self.has_arrays(op):
                chain = [sym]        # values substituted into an array expression: too long
            else:
                val_names = {a: self.num(t.primal[a]) for a in op.args if not a.is_const}
                sub = nt.format_expr(op, val_names, self.d)
                chain = [sym] if sub.text == sym.text else [sym, sub]
            row = Row("primal", "op", op, self.var(op), chain, t.primal[op],
                      label=g.labels.get(op))
            self.rows.append(row)
            found = _classify(t.primal[op], [t.primal[a] for a in op.args],
                              op.prim.elementwise)
            if not found:
                continue
            kind, idx = found
            if sub is not None:
                cause = f"{sub.text} = {self.num(t.primal[op]).text}"
            elif idx is None:
                cause = f"{sym.text} = {nt.number(t.primal[op], self.d).text}"
            elif op.prim.elementwise:
                shape = t.shape_of(op)
                ent = {a: Math(self.entry(t.primal[a], idx, shape), "")
                       for a in op.args if not a.is_const}
                e = nt.format_expr(op, ent, self.d)
                cause = (f"{e.text} = {self.entry(t.primal[op], idx, shape)}"
                         f"{_idx_text(idx)}")
            else:
                cause = (f"{sym.text} = {self.entry(t.primal[op], idx, t.shape_of(op))}"
                         f"{_idx_text(idx)}")
            self.flag(row, kind, cause, index=idx)
        for nm, o in zip(g.output_names, g.outputs):
            self.rows.append(Row("primal", "output", o, nt.name(nm), [self.var(o)],
                                 t.primal[o], label=nm))

    # tangent -----------------------------------------------------------------------
    def _term(self, deriv_ph: Node, deriv_name: Math, p: Partial | None, tag: str,
              adjoint: bool, target: Node | None = None):
        """Expression node for deriv·∂ in textbook form (for a structural operation:
        its JVP/VJP rule applied to deriv), plus placeholder names. In the adjoint
        sweep the product is summed to ``target``'s shape where the operation
        broadcast it (as :func:`graphc.passes.ad.adjoints` does)."""
        names: dict[Node, Math] = {deriv_ph: deriv_name}
        if p is not None and p.kind != "partial":
            for ph, gnode in p.bindings:
                names[ph] = self.var(gnode)
            names[p.seed] = deriv_name
            return p.expr, names, False
        negate = False
        if p is None or p.expr is None:
            sym = _placeholder(f"partial_{tag}")
            names[sym] = (_partial_symbol(self.t, p) if p is not None
                          else Math("∂", r"\partial"))
            node = ops.mul(deriv_ph, sym)
        else:
            for ph, gnode in p.bindings:
                names[ph] = self.var(gnode)
            e = p.expr
            if not adjoint and e.is_const and e.value == 1.0:
                node = deriv_ph
            elif not adjoint and e.is_const and e.value == -1.0:
                node, negate = deriv_ph, True    # subtract
            elif e.prim is ops.div_p and e.args[0].is_const and e.args[0].value == 1.0:
                node = ops.div(deriv_ph, e.args[1])
            else:
                node = ops.mul(deriv_ph, e)
        if adjoint and target is not None and node.shape != target.shape:
            node = fit_shape(node, target.shape)
        return node, names, negate

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
            arrays = self.has_arrays(op)
            terms = []
            sym_names: dict[Node, Math] = {}
            val_names: dict[Node, Math] = {}
            operands: list[Any] = []
            used: list[Partial] = []
            for i, a in enumerate(op.args):
                if a.is_const:
                    continue
                p = t.partials.get((op, i))
                if p is None:
                    continue  # no derivative flows through this argument
                dph = _placeholder(f"dot{t.numbers[a]}", a.shape, a.dtype)
                node, names, negate = self._term(dph, self.var(a, "dot"), p, f"{i}",
                                                 adjoint=False)
                terms.append((node, negate))
                sym_names.update(names)
                ta = tan.get(a, 0.0)
                if not arrays:
                    # value substitution: placeholders → numbers
                    for ph, gnode in p.bindings:
                        val_names[ph] = self.num(t.primal[gnode])
                    for ph in names:
                        if ph not in val_names:
                            val_names[ph] = self.num(p.value)
                    val_names[dph] = self.num(ta)
                operands.append(ta)
                used.append(p)
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
                if arrays:
                    chain = [sym]
                else:
                    sub = nt.format_expr(expr, val_names, self.d)
                    chain = [sym] if sub.text == sym.text else [sym, sub]
            row = Row("tangent", "op", op, self.var(op, "dot"), chain, value,
                      label=g.labels.get(op))
            self.rows.append(row)
            # a local partial is computed from the primal values of the op's
            # arguments and result: those are its operands
            operands += [t.primal[a] for a in op.args] + [t.primal[op]]
            found = _classify(value, operands, op.prim.elementwise)
            if not found:
                continue
            kind, idx = found
            culprit = next((p for p in used if p.kind == "partial"
                            and not _finite(p.value)), None)
            if culprit is not None:
                ta = tan.get(op.args[culprit.arg], 0.0)
                pc, pidx, pshape = self.partial_cause(culprit)
                cause = (f"{pc}, and "
                         f"{self.var(op.args[culprit.arg], 'dot').text} × ∂ = "
                         f"{self.entry(ta, pidx, pshape)} × "
                         f"{self.entry(culprit.value, pidx, pshape)}")
                edge = (t.id_of(op), t.id_of(op.args[culprit.arg]))
            else:
                shape = t.shape_of(op)
                cause = (f"{chain[-1].text} = {self.entry(value, idx, shape)}"
                         f"{_idx_text(idx)}")
                edge = None
            self.flag(row, kind, cause, edge, idx)
        for nm, o in zip(g.output_names, g.outputs):
            self.rows.append(Row("tangent", "output", o, nt.name(nm, "dot"),
                                 [self.var(o, "dot")], tan.get(o, 0.0), label=nm))

    # adjoint -----------------------------------------------------------------------
    def _adjoint(self):
        t, g = self.t, self.g
        started: dict[int, Any] = {}   # id(node) -> current adjoint
        cot = t.cotangent or {}
        for nm, o in zip(g.output_names, g.outputs):
            c = cot.get(nm, 0.0)
            if o.is_const or (not nt.is_array(c) and c == 0.0):
                continue  # a zero seed is a structural zero, as in graphc.passes.ad
            ybar = nt.name(nm, "bar")
            if id(o) in started:
                prev = started[id(o)]
                value = prev + c
                chain = [self.var(o, "bar") + Math(" + ", " + ") + ybar]
            else:
                value = c
                chain = [ybar]
            started[id(o)] = value
            self.rows.append(Row("adjoint", "seed", o, self.var(o, "bar"), chain, value,
                                 label=self.label_of(o)))
        plus = Math(" + ", " + ")
        for st in t.adjoint_steps:
            tgt, src = st.target, st.source
            p = t.partials.get((src, st.arg))
            structural = p is not None and p.kind == "vjp"
            first = id(tgt) not in started
            prev = started.get(id(tgt), 0.0)
            src_bar = started.get(id(src), t.adjoint.get(src, 0.0) if t.adjoint else 0.0)
            bph = _placeholder(f"bar{t.numbers[src]}", src.shape, src.dtype)
            node, names, _ = self._term(bph, self.var(src, "bar"), p, f"{st.arg}",
                                        adjoint=True, target=tgt)
            generic = self.var(src, "bar") + Math(" ", " ") + (
                _partial_symbol(t, p) if p is not None else
                Math(f"∂{self.var(src).text}/∂{self.var(tgt).text}",
                     rf"\frac{{\partial {self.var(src).latex}}}{{\partial "
                     rf"{self.var(tgt).latex}}}"))
            if first:
                c1, expr = generic, node
            else:
                tph = _placeholder(f"bar{t.numbers[tgt]}", tgt.shape, tgt.dtype)
                names[tph] = self.var(tgt, "bar")
                c1 = self.var(tgt, "bar") + plus + generic
                expr = ops.add(tph, node)
            c2 = nt.format_expr(expr, names, self.d)
            row = Row("adjoint", "step", tgt, self.var(tgt, "bar"),
                      [c2] if structural else [c1, c2], st.value,
                      label=self.label_of(tgt), partial=p, source=src)
            self.rows.append(row)
            operands = ([src_bar] + ([] if first else [prev])
                        + [t.primal[a] for a in src.args] + [t.primal[src]])
            found = _classify(st.value, operands, src.prim.elementwise)
            if found:
                kind, idx = found
                shape = t.shape_of(tgt)
                if p is not None and p.kind == "partial" and not _finite(p.value):
                    pc, pidx, pshape = self.partial_cause(p)
                    cause = (f"{pc}, and {self.var(src, 'bar').text} × ∂ = "
                             f"{self.entry(src_bar, pidx, pshape)} × "
                             f"{self.entry(p.value, pidx, pshape)}")
                elif not _finite(st.contribution):
                    cidx = _first_bad(st.contribution)
                    if structural:
                        cause = (f"{nt.format_expr(node, names, self.d).text} = "
                                 f"{self.entry(st.contribution, cidx, shape)}"
                                 f"{_idx_text(cidx)}")
                    else:
                        pval = p.value if p is not None else float("nan")
                        cause = (f"{self.var(src, 'bar').text} × ∂ = "
                                 f"{self.entry(src_bar, cidx, shape)} × "
                                 f"{self.entry(pval, cidx, shape)} = "
                                 f"{self.entry(st.contribution, cidx, shape)}"
                                 f"{_idx_text(cidx)}")
                else:
                    cause = (f"{self.entry(prev, idx, shape)} + "
                             f"{self.entry(st.contribution, idx, shape)} = "
                             f"{self.entry(st.value, idx, shape)}{_idx_text(idx)}")
                self.flag(row, kind, cause, (t.id_of(src), t.id_of(tgt)), idx)
            started[id(tgt)] = st.value
        for x in g.inputs:
            v = (t.adjoint.get(x, t._zero(x)) if t.adjoint
                 else started.get(id(x), t._zero(x)))
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
