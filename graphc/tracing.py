"""Compute evaluation traces: primal values, tangents and adjoints at one point.

This glue module sits on top of the layers: it evaluates with the NumPy interpreter
(:mod:`graphc.backends.numpy_interp`), takes each operation's local partials from its
primitive's ``partials`` rule (:mod:`graphc.ir.ops`) built as graph nodes and
evaluated with the interpreter, simplifies a copy of each partial over placeholders for
display with :mod:`graphc.passes`, and hands the numbers to :class:`graphc.viz.Trace`,
which prints and draws them.

The sweeps follow the textbook definitions (Griewank & Walther, *Evaluating
Derivatives*, 2nd ed., SIAM 2008, §3.1-3.2; Baydin et al., JMLR 18(153), 2018, §3):
forward ``v̇ᵢ = Σⱼ (∂vᵢ/∂vⱼ) v̇ⱼ`` in evaluation order, reverse ``v̄ⱼ += v̄ᵢ ∂vᵢ/∂vⱼ`` in
reverse order, argument by argument. Each product and sum is built with the AD
passes' own helpers (:func:`graphc.passes.ad.scale` and ``add``, with their analysis of
where ``0·∞`` must be absorbed), so every tangent and adjoint in the table is exactly
what :func:`graphc.jvp` / :func:`graphc.vjp` compute, NaN and infinities included,
and structurally zero derivatives are left out as they are there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .backends.numpy_interp import evaluate_all
from .ir import Graph, GraphcError, Node, NotDifferentiableError, ops
from .passes import ad
from .passes.simplify import fold_constants, simplify
from .viz.trace import AdjointStep, Partial, Trace

_MODES = {"rev": "rev", "reverse": "rev", "adjoint": "rev", "vjp": "rev",
          "fwd": "fwd", "forward": "fwd", "tangent": "fwd", "jvp": "fwd",
          "primal": "primal"}


def trace(f, at: Mapping[str, Any], mode: str = "rev",
          seed: Mapping[str, float] | None = None, digits: int = 6,
          *, title: str | None = None) -> Trace:
    """Evaluate ``f`` at one point and record its evaluation trace.

    Args:
        f: a :class:`graphc.Graph`, an expression/program string (parsed with
            :func:`graphc.parse`), or a traced function (``@graphc.function``).
        at: ``{input name: number}``, one scalar per input.
        mode: ``"primal"`` (values only), ``"fwd"`` (primal and tangent traces) or
            ``"rev"`` (primal and adjoint traces).
        seed: forward mode: ``{input name: ẋ}``, the tangent direction (inputs not named
            get 0; optional for a one-input graph, where ẋ = 1). Reverse mode:
            ``{output name: ȳ}`` (optional for a one-output graph, where ȳ = 1).
        digits: significant digits for printing (the values are kept in full).
        title: caption for diagrams (default: the expression and the point).

    Returns:
        A :class:`graphc.viz.Trace`: ``.table("md")``, ``.rows()``, ``.to_dot()``,
        ``.render("f.svg")``, ``.gradient``, ``.problems``.

    Raises:
        GraphcError: unknown mode, missing or non-scalar inputs, a missing seed for a
            graph with several inputs (fwd) or outputs (rev), unknown seed names.

    Example (Baydin et al. 2018, Table 3)::

        t = trace("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
        t.gradient          # {'x1': 5.5, 'x2': 1.7163378145367738}
    """
    if isinstance(f, str):
        from .frontend import parse
        source = f
        graph = parse(f)
    elif isinstance(f, Graph):
        graph, source = f, None
    elif isinstance(getattr(f, "graph", None), Graph):  # a @graphc.function
        graph, source = f.graph, None
    else:
        raise GraphcError(f"trace() takes a graphc.Graph or an expression string, got "
                          f"{type(f).__name__}")
    if mode not in _MODES:
        raise GraphcError(f"mode must be 'primal', 'fwd' or 'rev', got {mode!r}")
    mode = _MODES[mode]
    if not isinstance(at, Mapping):
        raise GraphcError("at= must be a mapping {input name: number}")
    for k, v in at.items():
        if np.asarray(v).shape != ():
            raise GraphcError(f"trace evaluates at one point; input {k!r} has shape "
                              f"{np.asarray(v).shape} (use graphc.evaluate for arrays)")
    for x in graph.inputs:
        if x.shape != ():
            raise GraphcError(f"trace needs scalar inputs; {x.name!r} has shape {x.shape}")
    values = evaluate_all(graph, dict(at))
    primal = {n: v[()] for n, v in values.items()}
    if title is None:
        point = ", ".join(f"{x.name} = {_short(primal[x])}" for x in graph.inputs)
        what = source if source is not None and "\n" not in source and len(source) < 80 \
            else ", ".join(graph.output_names)
        title = f"{what}  at  {point}" if point else what
    kwargs: dict[str, Any] = {}
    point = dict(at)
    if mode == "fwd":
        seeds = _forward_seed(graph, seed)
        partials, tangent = _forward(graph, point, seeds)
        kwargs.update(partials=partials, seed=seeds, tangent=tangent)
    elif mode == "rev":
        cots = _reverse_seed(graph, seed)
        partials, steps, adj = _reverse(graph, point, cots)
        kwargs.update(partials=partials, cotangent=cots, adjoint_steps=steps, adjoint=adj)
    elif seed:
        raise GraphcError("seed= is only used by mode='fwd' or mode='rev'")
    return Trace(graph, primal, digits=digits, title=title, **kwargs)


def _short(v) -> str:
    return format(float(v), ".6g")


# -- local partials ------------------------------------------------------------------

_TEMPLATES: dict[tuple, tuple] = {}


def _template(op: Node):
    """(placeholders, out placeholder, raw graph or None, display nodes per arg) for
    ``op``'s primitive, parameters, dtypes and argument pattern; cached."""
    pattern = []
    first: dict[int, int] = {}
    for a in op.args:
        if a.is_const:
            pattern.append(("c", a.value, a.dtype))
        else:
            k = first.setdefault(id(a), len(first))
            pattern.append(("p", k, a.dtype))
    key = (op.prim.name, op.params, op.dtype, tuple(pattern))
    hit = _TEMPLATES.get(key)
    if hit is not None:
        return hit
    phs: list[Node] = []
    args: list[Node] = []
    for kind, v, dt in pattern:
        if kind == "c":
            args.append(ops.const(v, dt))
        else:
            if v == len(phs):
                phs.append(ops.variable(f"__a{v}", dt))
            args.append(phs[v])
    out_ph = ops.variable("__out", op.dtype)
    parts = _rule_partials(op.prim, args, out_ph, dict(op.params))
    live = [p for p in parts if p is not None]
    raw = shown = None
    if live:
        raw = Graph(phs + [out_ph], live)
        shown = fold_constants(simplify(fold_constants(raw)))
    display: list[Node | None] = []
    k = 0
    for p in parts:
        if p is None:
            display.append(None)
        else:
            display.append(shown.outputs[k])
            k += 1
    result = (tuple(phs), out_ph, raw, tuple(display), tuple(parts))
    _TEMPLATES[key] = result
    return result


def partial_display(op: Node) -> list[tuple[Node | None, tuple[tuple[Node, Node], ...]]]:
    """For each argument of ``op``: its local partial as a simplified expression over
    placeholders, and the ``(placeholder, graph node)`` bindings (for printing)."""
    phs, out_ph, _raw, display, _parts = _template(op)
    distinct: list[Node] = []
    for a in op.args:
        if not a.is_const and all(a is not d for d in distinct):
            distinct.append(a)
    bindings = tuple(zip(phs, distinct)) + ((out_ph, op),)
    return [(d, bindings) for d in display]


def _rule_partials(prim, args: list[Node], out: Node, params: dict) -> list[Node | None]:
    """The local partials ∂out/∂argᵢ from ``prim``'s record, as nodes over ``args`` and
    ``out`` (None: identically zero). A ``partials`` rule is used as is; an explicit
    linear rule (``vjp``, ``jvp``, as for ``where``) gives its partials as its values at
    cotangent (tangent) 1."""
    if prim.vjp is not None:
        parts = list(prim.vjp(*args, out=out, cotangent=ops.const(1.0, out.dtype),
                              **params))
    elif prim.jvp is not None:
        parts = []
        for i in range(len(args)):
            tans = [ops.const(1.0, a.dtype) if j == i else None
                    for j, a in enumerate(args)]
            parts.append(prim.jvp(*args, out=out, tangents=tans, **params))
    elif not prim.differentiable:
        return [None] * len(args)
    elif prim.partials is not None:
        parts = list(prim.partials(*args, out=out, **params))
    else:
        raise NotDifferentiableError(f"{prim.name} has no derivative rule")
    return [None if p is None else ops.lift(p, out) for p in parts]


def _partial_nodes(op: Node) -> list[Node | None]:
    """The local partials of ``op`` over its real arguments (what the AD passes
    multiply by)."""
    return _rule_partials(op.prim, list(op.args), op, dict(op.params))


def _hazards():
    """The AD passes' structural analysis that decides where ``0·∞`` is absorbed
    (graphc.passes.ad), so the trace's products are the AD graphs' products."""
    return ad.Hazards()


def _scale(t: Node | None, p: Node | None, hz) -> Node | None:
    return ad.scale(t, p, hz)


class _Collector:
    """Nodes to evaluate in one interpreter run."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.seen: set[int] = set()

    def want(self, n: Node | None) -> None:
        if n is not None and id(n) not in self.seen:
            self.seen.add(id(n))
            self.nodes.append(n)

    def evaluate(self, graph: Graph, at) -> dict[Node, Any]:
        if not self.nodes:
            return {}
        g = Graph(graph.inputs, self.nodes)
        return {n: v[()] for n, v in evaluate_all(g, at).items()}


def _make_partials(graph, parts, values) -> dict[tuple[Node, int], Partial]:
    out = {}
    for op in graph.operations:
        pnodes = parts.get(id(op))
        if pnodes is None:
            continue
        shown = partial_display(op)
        for i, (a, p) in enumerate(zip(op.args, pnodes)):
            if a.is_const or p is None or (p.is_const and p.value == 0.0):
                continue  # identically zero, as in graphc.passes.ad
            expr, bindings = shown[i]
            out[(op, i)] = Partial(op, i, expr, bindings, float(values[p]))
    return out


def _forward_seed(graph: Graph, seed) -> dict[str, float]:
    names = list(graph.input_names)
    if seed is None:
        if len(names) != 1:
            raise GraphcError(f"forward mode needs a seed direction for a graph with "
                              f"{len(names)} inputs, e.g. seed={{'{names[0]}': 1}}"
                              if names else "forward mode needs a graph with inputs")
        return {names[0]: 1.0}
    unknown = set(seed) - set(names)
    if unknown:
        raise GraphcError(f"seed names {sorted(unknown)} are not inputs ({', '.join(names)})")
    return {k: float(seed.get(k, 0.0)) for k in names}


def _reverse_seed(graph: Graph, seed) -> dict[str, float]:
    names = list(graph.output_names)
    if seed is None:
        if len(names) != 1:
            raise GraphcError(f"reverse mode needs an output seed for a graph with "
                              f"{len(names)} outputs ({', '.join(names)}), e.g. "
                              f"seed={{'{names[0]}': 1}}")
        return {names[0]: 1.0}
    unknown = set(seed) - set(names)
    if unknown:
        raise GraphcError(f"seed names {sorted(unknown)} are not outputs "
                          f"({', '.join(names)}); in reverse mode the seed is ȳ")
    return {k: float(seed.get(k, 0.0)) for k in names}


def _forward(graph: Graph, at, seeds: Mapping[str, float]):
    """The tangent sweep of graphc.passes.ad.tangents, keeping each node's tangent
    and local partials; returns (partials, {node: v̇})."""
    hz = _hazards()
    col = _Collector()
    tan: dict[int, Node | None] = {}
    for x in graph.inputs:
        v = seeds.get(x.name, 0.0)
        if v != 0.0:
            tan[id(x)] = ops.const(v, x.dtype, x.shape)
    parts: dict[int, list[Node | None]] = {}
    for n in graph.operations:
        pn = _partial_nodes(n)
        parts[id(n)] = pn
        for p in pn:
            col.want(p)
        ts = [tan.get(id(a)) for a in n.args]
        if all(t is None for t in ts):
            continue
        prim, params = n.prim, dict(n.params)
        if prim.jvp is not None:
            tan[id(n)] = prim.jvp(*n.args, out=n, tangents=ts, **params)
        elif not prim.differentiable:
            continue
        else:
            total = None
            for t, p in zip(ts, prim.partials(*n.args, out=n, **params)):
                total = ad.add(total, _scale(t, p, hz))
            tan[id(n)] = total
        col.want(tan[id(n)])
    values = col.evaluate(graph, at)
    tangent = {x: float(seeds.get(x.name, 0.0)) for x in graph.inputs}
    for n in graph.operations:
        t = tan.get(id(n))
        tangent[n] = float(values[t]) if t is not None else 0.0
    return _make_partials(graph, parts, values), tangent


def _reverse(graph: Graph, at, cots: Mapping[str, float]):
    """The adjoint sweep of graphc.passes.ad.adjoints, recording every accumulation
    step; returns (partials, steps, {node: final v̄})."""
    hz = _hazards()
    col = _Collector()
    act = {id(x) for x in graph.inputs}
    for n in graph.operations:
        if any(id(a) in act for a in n.args):
            act.add(id(n))
    adj: dict[int, Node | None] = {}
    for nm, o in zip(graph.output_names, graph.outputs):
        c = cots.get(nm, 0.0)
        if id(o) in act and c != 0.0:
            adj[id(o)] = ad.add(adj.get(id(o)), ops.const(c, o.dtype, o.shape))
    parts: dict[int, list[Node | None]] = {}
    raw_steps: list[tuple[Node, Node, int, Node, Node]] = []
    for n in reversed(graph.operations):
        pn = _partial_nodes(n)
        parts[id(n)] = pn
        for p in pn:
            col.want(p)
        bar = adj.get(id(n))
        if bar is None:
            continue
        prim, params = n.prim, dict(n.params)
        if prim.vjp is not None:
            bars = list(prim.vjp(*n.args, out=n, cotangent=bar, **params))
        elif not prim.differentiable:
            continue
        else:
            bars = [_scale(bar, p, hz) if id(a) in act else None
                    for a, p in zip(n.args, prim.partials(*n.args, out=n, **params))]
        for i, (a, b) in enumerate(zip(n.args, bars)):
            if b is None or id(a) not in act:
                continue
            new = ad.add(adj.get(id(a)), b)
            adj[id(a)] = new
            raw_steps.append((a, n, i, b, new))
            col.want(b)
            col.want(new)
    for n in graph.nodes:
        col.want(adj.get(id(n)))
    values = col.evaluate(graph, at)
    steps = [AdjointStep(a, n, i, float(values[b]), float(values[new]))
             for a, n, i, b, new in raw_steps]
    final = {n: float(values[adj[id(n)]]) for n in graph.nodes
             if adj.get(id(n)) is not None}
    for x in graph.inputs:
        final.setdefault(x, 0.0)
    return _make_partials(graph, parts, values), steps, final


__all__ = ["partial_display", "trace"]
