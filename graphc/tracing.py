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
reverse order, argument by argument. The sweeps *are* the AD passes' own
(:func:`graphc.passes.ad.tangents`, and :func:`graphc.passes.ad.adjoints` with a
callback recording each accumulation), so every tangent and adjoint in the table is
exactly what :func:`graphc.jvp` / :func:`graphc.vjp` compute, NaN and infinities
included, and structurally zero derivatives are left out as they are there.

Array graphs (``parse(..., W=("H", "D"))``) are traced at arrays of the declared
shapes. Elementwise operations keep their local partials (arrays); structural
operations (``@``, ``sum``, ``reshape``, ``softmax``...) contribute through their
primitive's JVP and VJP rules (JAX's approach, see :mod:`graphc.ir.array_ops`), and
the trace shows those rules applied to v̇ or v̄ instead of a Jacobian.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .backends.numpy_interp import evaluate_all
from .ir import Graph, GraphcError, Node, array_ops, ops
from .ir.array_ops import fit_shape
from .ir.primitive import apply
from .ir.shapes import format_shape, is_array_graph
from .passes import ad
from .passes.simplify import fold_constants, simplify
from .viz.trace import AdjointStep, Partial, Trace

_MODES = {"rev": "rev", "reverse": "rev", "adjoint": "rev", "vjp": "rev",
          "fwd": "fwd", "forward": "fwd", "tangent": "fwd", "jvp": "fwd",
          "primal": "primal"}


def trace(f, at: Mapping[str, Any], mode: str = "rev",
          seed: Mapping[str, Any] | None = None, digits: int = 6,
          *, title: str | None = None, matrix_max: Any = None) -> Trace:
    """Evaluate ``f`` at one point and record its evaluation trace.

    Args:
        f: a :class:`graphc.Graph`, an expression/program string (parsed with
            :func:`graphc.parse`; in an expression with array operations such as
            ``@`` or ``sum``, inputs given arrays in ``at`` are declared with those
            arrays' shapes), or a traced function (``@graphc.function``).
        at: ``{input name: value}``: one number per input of a graph of scalars; for
            an array graph, arrays of the declared shapes (symbolic dimensions such as
            ``"B"`` are bound by them).
        mode: ``"primal"`` (values only), ``"fwd"`` (primal and tangent traces) or
            ``"rev"`` (primal and adjoint traces).
        seed: forward mode: ``{input name: ẋ}``, the tangent direction (inputs not named
            get 0; optional for a one-input graph, where ẋ = 1). Reverse mode:
            ``{output name: ȳ}`` (optional for a one-output graph, where ȳ = 1). For
            array inputs (outputs) a seed is a number (the same in every entry) or an
            array of the input's (output's) shape.
        digits: significant digits for printing (the values are kept in full).
        title: caption for diagrams (default: the expression and the point).
        matrix_max: arrays of at most this many rows and columns (an int n for n×n,
            or ``(rows, columns)``; default 4×4) print in full, larger ones as their
            shape with min/mean/max and NaN/inf counts.

    Returns:
        A :class:`graphc.viz.Trace`: ``.table("md")``, ``.rows()``, ``.to_dot()``,
        ``.render("f.svg")``, ``.gradient``, ``.problems``. For an array graph its
        values, tangents and adjoints are NumPy arrays.

    Raises:
        GraphcError: unknown mode, missing inputs, non-scalar inputs of a graph of
            scalars, array inputs whose shapes differ from the declared ones, a
            missing seed for a graph with several inputs (fwd) or outputs (rev),
            unknown seed names, seeds of the wrong shape.

    Example (Baydin et al. 2018, Table 3)::

        t = trace("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
        t.gradient          # {'x1': 5.5, 'x2': 1.7163378145367738}

    Example (an array graph; ``t.gradient["W"]`` equals ``graphc.grad``'s)::

        g = parse("h = tanh(W @ x + b); l = sum(h * h)", W=("H", "D"), x=("D", 1),
                  b=("H", 1))
        t = trace(g, at={"W": W, "x": x, "b": b})
    """
    if isinstance(f, str):
        source = f
        graph = parse_at(f, at if isinstance(at, Mapping) else {})
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
    arrays = is_array_graph(graph)
    if not arrays:
        for k, v in at.items():
            if np.asarray(v).shape != ():
                raise GraphcError(f"trace evaluates at one point; input {k!r} has shape "
                                  f"{np.asarray(v).shape} (use graphc.evaluate for "
                                  f"arrays, or declare array inputs with parse(..., "
                                  f"{k}=(shape)))")
    values = evaluate_all(graph, dict(at))
    primal = {n: _plain(v) for n, v in values.items()}
    if title is None:
        point = ", ".join(f"{x.name} = {_short(primal[x])}" for x in graph.inputs)
        what = source if source is not None and "\n" not in source and len(source) < 80 \
            else ", ".join(graph.output_names)
        title = f"{what}  at  {point}" if point else what
    kwargs: dict[str, Any] = {}
    point = dict(at)
    if mode == "fwd":
        seeds = _forward_seed(graph, seed, primal)
        partials, tangent = _forward(graph, point, seeds, primal)
        kwargs.update(partials=partials, seed=seeds, tangent=tangent)
    elif mode == "rev":
        cots = _reverse_seed(graph, seed, primal)
        partials, steps, adj = _reverse(graph, point, cots, primal)
        kwargs.update(partials=partials, cotangent=cots, adjoint_steps=steps, adjoint=adj)
    elif seed:
        raise GraphcError("seed= is only used by mode='fwd' or mode='rev'")
    return Trace(graph, primal, digits=digits, title=title, matrix_max=matrix_max,
                 **kwargs)


def parse_at(source: str, at: Mapping[str, Any], inputs=None) -> Graph:
    """Parse ``source`` for evaluation at the point ``at``.

    An expression with array operations (``@``, ``sum``, ...) is evaluated at arrays,
    whose shapes then declare its inputs (``parse(source, W=(3, 2), ...)``); an
    elementwise expression is parsed as is (one number per input).

    Raises:
        ParseError: the source does not parse (with the shapes of ``at``'s arrays).
    """
    from .frontend import parse
    shapes = {k: tuple(np.shape(v)) for k, v in at.items() if np.ndim(v)}
    try:
        graph = parse(source, inputs)
    except GraphcError:   # e.g. W @ x of undeclared (scalar) inputs
        if not shapes:
            raise
        graph = None
    if shapes and (graph is None or is_array_graph(graph)):
        graph = parse(source, inputs, **shapes)
    return graph


def _plain(v) -> Any:
    """An interpreter value as a trace value: a float for 0-d, else the array."""
    a = np.asarray(v)
    return a[()] if a.ndim == 0 else a


def _short(v) -> str:
    if isinstance(v, np.ndarray) and v.ndim:
        return f"array{format_shape(v.shape)}"
    return format(float(v), ".6g")


def _zero_value(v) -> Any:
    return np.zeros(np.shape(v)) if np.ndim(v) else 0.0


def _structural(prim) -> bool:
    """An array op whose derivative is a linear map given by JVP/VJP rules rather
    than entrywise local partials (matmul, reductions, reshapes, softmax...)."""
    return (not prim.elementwise and prim.differentiable
            and (prim.jvp is not None or prim.vjp is not None))


# -- local partials ------------------------------------------------------------------

_TEMPLATES: dict[tuple, tuple] = {}
_LINEAR: dict[tuple, tuple] = {}


def _pattern(op: Node):
    """(key pattern, placeholders, argument nodes over placeholders) of ``op``'s
    arguments: constants stay constants, each distinct argument gets a placeholder of
    its dtype and static shape."""
    pattern = []
    first: dict[int, int] = {}
    for a in op.args:
        if a.is_const:
            pattern.append(("c", a.value, a.dtype, a.shape))
        else:
            k = first.setdefault(id(a), len(first))
            pattern.append(("p", k, a.dtype, a.shape))
    return tuple(pattern)


def _placeholders(pattern) -> tuple[list[Node], list[Node]]:
    phs: list[Node] = []
    args: list[Node] = []
    for kind, v, dt, shape in pattern:
        if kind == "c":
            args.append(ops.const(v, dt, shape))
        else:
            if v == len(phs):
                phs.append(ops.variable(f"__a{v}", dt, shape))
            args.append(phs[v])
    return phs, args


def _display(raw: Graph) -> Graph:
    """A simplified copy of a derivative template for display (the raw one when a
    rewrite does not apply to its shapes)."""
    try:
        return fold_constants(simplify(fold_constants(raw)))
    except GraphcError:  # pragma: no cover - display only
        return raw


def _tidy(n: Node, memo: dict[int, Node] | None = None) -> Node:
    """A display form of a rule's expression: ``broadcast_to(reshape(s, (1, 1)), S)``
    of a scalar ``s`` (how reductions send a cotangent back) prints as
    ``broadcast_to(s, S)``, which has the same value."""
    memo = {} if memo is None else memo
    hit = memo.get(id(n))
    if hit is not None:
        return hit
    out = n
    if n.args:
        args = [_tidy(a, memo) for a in n.args]
        if n.prim is array_ops.broadcast_to_p and args[0].prim is array_ops.reshape_p \
                and args[0].args[0].shape == () and all(d == 1 for d in args[0].shape):
            out = array_ops.broadcast_to(args[0].args[0], n.shape)
        elif any(a is not b for a, b in zip(args, n.args)):
            out = apply(n.prim, *args, **{k: v for k, v in n.params if k != "_text"})
    memo[id(n)] = out
    return out


def _template(op: Node):
    """(placeholders, out placeholder, raw graph or None, display nodes per arg) for
    ``op``'s primitive, parameters, dtypes, shapes and argument pattern; cached."""
    pattern = _pattern(op)
    key = (op.prim.name, op.params, op.dtype, op.shape, pattern)
    hit = _TEMPLATES.get(key)
    if hit is not None:
        return hit
    phs, args = _placeholders(pattern)
    out_ph = ops.variable("__out", op.dtype, op.shape)
    parts = _rule_partials(op, args, out_ph, dict(op.params))
    live = [p for p in parts if p is not None]
    raw = shown = None
    if live:
        raw = Graph(phs + [out_ph], live)
        shown = _display(raw)
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


def _bindings(op: Node, phs, out_ph) -> tuple[tuple[Node, Node], ...]:
    distinct: list[Node] = []
    for a in op.args:
        if not a.is_const and all(a is not d for d in distinct):
            distinct.append(a)
    return tuple(zip(phs, distinct)) + ((out_ph, op),)


def partial_display(op: Node) -> list[tuple[Node | None, tuple[tuple[Node, Node], ...]]]:
    """For each argument of ``op``: its local partial as a simplified expression over
    placeholders, and the ``(placeholder, graph node)`` bindings (for printing)."""
    phs, out_ph, _raw, display, _parts = _template(op)
    bindings = _bindings(op, phs, out_ph)
    return [(d, bindings) for d in display]


def linear_display(op: Node, kind: str) -> list[tuple[Node | None, Node | None,
                                                       tuple[tuple[Node, Node], ...]]]:
    """For a structural array operation: per argument, its ``kind`` rule (``"vjp"``:
    the argument's cotangent given v̄ of ``op``; ``"jvp"``: the term of v̇ of ``op``
    given v̇ of the argument) as an expression over placeholders, the placeholder of
    the seed (v̄ or v̇) in it, and the bindings. The expressions are the primitive's
    own rules, brought to the argument's (output's) shape as the AD passes do."""
    pattern = _pattern(op)
    key = (kind, op.prim.name, op.params, op.dtype, op.shape, pattern)
    hit = _LINEAR.get(key)
    if hit is None:
        phs, args = _placeholders(pattern)
        out_ph = ops.variable("__out", op.dtype, op.shape)
        params = dict(op.params)
        exprs: list[Node | None] = []
        seeds: list[Node | None] = []
        if kind == "vjp":
            seed = ops.variable("__seed", op.dtype, op.shape)
            res = op.prim.vjp(*args, out=out_ph, cotangent=seed, **params)
            for a, r in zip(args, res):
                exprs.append(None if r is None or a.is_const else fit_shape(r, a.shape))
                seeds.append(seed)
        else:
            for i, a in enumerate(args):
                seed = ops.variable("__seed", a.dtype, a.shape)
                r = None
                if not a.is_const:
                    ts = [seed if j == i else None for j in range(len(args))]
                    r = op.prim.jvp(*args, out=out_ph, tangents=ts, **params)
                exprs.append(None if r is None else fit_shape(r, op.shape))
                seeds.append(seed)
        shown: list[Node | None] = []
        for e, sd in zip(exprs, seeds):
            if e is None:
                shown.append(None)
                continue
            g = _display(Graph(phs + [out_ph, sd], [e]))
            shown.append(_tidy(g.outputs[0]))
        hit = (tuple(phs), out_ph, tuple(shown), tuple(seeds))
        _LINEAR[key] = hit
    phs, out_ph, shown, seeds = hit
    bindings = _bindings(op, phs, out_ph)
    return [(e, sd, bindings) for e, sd in zip(shown, seeds)]


def _rule_partials(op: Node, args: list[Node], out: Node, params: dict) -> list[Node | None]:
    """The local partials ∂out/∂argᵢ of ``op``'s primitive, as nodes over ``args`` and
    ``out`` (None: identically zero). Which rule applies is decided by
    :func:`graphc.passes.ad.derivative_rule`, the function the AD passes use; the
    tables print the record's textbook ``partials`` (without its ``edges``
    correction), and an explicit linear rule (``where``) gives its partials as its
    values at cotangent (tangent) 1."""
    rule = ad.derivative_rule(op)
    parts = rule.partials(args, out, params, textbook=True)
    return [None if p is None else ops.lift(p, out) for p in parts]


def _partial_nodes(op: Node) -> list[Node | None]:
    """The local partials of an elementwise ``op`` over its real arguments (what the
    AD passes multiply by); None for every argument of a structural array op."""
    if _structural(op.prim):
        return [None] * len(op.args)
    return _rule_partials(op, list(op.args), op, dict(op.params))


class _Collector:
    """Nodes to evaluate in one interpreter run."""

    def __init__(self, inputs: list[Node]):
        self.inputs = inputs
        self.nodes: list[Node] = []
        self.seen: set[int] = set()

    def want(self, n: Node | None) -> None:
        if n is not None and id(n) not in self.seen:
            self.seen.add(id(n))
            self.nodes.append(n)

    def evaluate(self, at) -> dict[Node, Any]:
        if not self.nodes:
            return {}
        g = Graph(self.inputs, self.nodes)
        return {n: _plain(v) for n, v in evaluate_all(g, at).items()}


def _make_partials(graph, parts, values) -> dict[tuple[Node, int], Partial]:
    out = {}
    for op in graph.operations:
        pnodes = parts.get(id(op))
        if pnodes is None or all(p is None for p in pnodes):
            continue
        shown = partial_display(op)
        for i, (a, p) in enumerate(zip(op.args, pnodes)):
            if a.is_const or p is None or (p.is_const and p.value == 0.0):
                continue  # identically zero, as in graphc.passes.ad
            expr, bindings = shown[i]
            out[(op, i)] = Partial(op, i, expr, bindings, values[p])
    return out


def _linear_partial(op: Node, i: int, kind: str, value) -> Partial:
    expr, seed, bindings = linear_display(op, kind)[i]
    return Partial(op, i, expr, bindings, value, kind=kind, seed=seed)


def _seed_value(name: str, v, like, what: str):
    """A seed as a float, or an array of ``like``'s shape."""
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise GraphcError(f"the seed of {name!r} is not a number") from None
    if a.ndim == 0:
        return float(a)
    if a.shape != np.shape(like):
        raise GraphcError(f"the seed of {name!r} has shape {a.shape}, but the {what} has "
                          f"shape {np.shape(like)} (or give one number)")
    return a


def _forward_seed(graph: Graph, seed, primal) -> dict[str, Any]:
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
    return {x.name: _seed_value(x.name, seed.get(x.name, 0.0), primal[x], "input")
            for x in graph.inputs}


def _reverse_seed(graph: Graph, seed, primal) -> dict[str, Any]:
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
    return {nm: _seed_value(nm, seed.get(nm, 0.0), primal[o], "output")
            for nm, o in zip(names, graph.outputs)}


def _seed_node(name: str, v, like: Node, extra: list[Node], at: dict) -> Node | None:
    """The node of a seed: None for an exact zero, a constant for a number, an extra
    input (fed with the array) for an array seed."""
    if not isinstance(v, np.ndarray):
        return None if v == 0.0 else ops.const(v, like.dtype, like.shape)
    if not v.any():
        return None
    var = ops.variable(f"__seed_{len(extra)}_{name}", like.dtype, like.shape)
    extra.append(var)
    at[var.name] = v
    return var


def _forward(graph: Graph, at, seeds: Mapping[str, Any], primal):
    """The tangent sweep of graphc.passes.ad.tangents, keeping each node's tangent,
    the local partials of elementwise operations and the JVP terms of structural
    ones; returns (partials, {node: v̇})."""
    at = dict(at)
    extra: list[Node] = []
    seed_nodes = {}
    for x in graph.inputs:
        n = _seed_node(x.name, seeds.get(x.name, 0.0), x, extra, at)
        if n is not None:
            seed_nodes[x] = n
    tan = ad.tangents(graph, seed_nodes)
    col = _Collector(list(graph.inputs) + extra)
    parts: dict[int, list[Node | None]] = {}
    terms: dict[tuple[Node, int], Node] = {}
    for n in graph.operations:
        pn = _partial_nodes(n)
        parts[id(n)] = pn
        for p in pn:
            col.want(p)
        if _structural(n.prim) and n.prim.jvp is not None:
            params = dict(n.params)
            for i, a in enumerate(n.args):
                ta = tan.get(id(a))
                if ta is None or a.is_const:
                    continue
                ts = [ta if j == i else None for j in range(len(n.args))]
                term = n.prim.jvp(*n.args, out=n, tangents=ts, **params)
                if term is not None:
                    terms[(n, i)] = fit_shape(term, n.shape)
                    col.want(terms[(n, i)])
        col.want(tan.get(id(n)))
    values = col.evaluate(at)
    tangent: dict[Node, Any] = {}
    for x in graph.inputs:
        v = seeds.get(x.name, 0.0)
        # a number seeds every entry of an array input
        tangent[x] = np.full(np.shape(primal[x]), v) if np.ndim(primal[x]) else v
    for n in graph.operations:
        t = tan.get(id(n))
        tangent[n] = values[t] if t is not None else _zero_value(primal[n])
    partials = _make_partials(graph, parts, values)
    for (n, i), term in terms.items():
        partials[(n, i)] = _linear_partial(n, i, "jvp", values[term])
    return partials, tangent


def _reverse(graph: Graph, at, cots: Mapping[str, Any], primal):
    """The adjoint sweep of graphc.passes.ad.adjoints, recording every accumulation
    step; returns (partials, steps, {node: final v̄})."""
    at = dict(at)
    extra: list[Node] = []
    cot_nodes = [_seed_node(nm, cots.get(nm, 0.0), o, extra, at)
                 for nm, o in zip(graph.output_names, graph.outputs)]
    col = _Collector(list(graph.inputs) + extra)
    raw_steps: list[tuple[Node, Node, int, Node, Node]] = []

    def record(a, n, i, b, new):
        raw_steps.append((a, n, i, b, new))
        col.want(b)
        col.want(new)

    adj = ad.adjoints(graph, list(graph.inputs), cot_nodes, on_step=record)
    parts: dict[int, list[Node | None]] = {}
    for n in reversed(graph.operations):
        pn = _partial_nodes(n)
        parts[id(n)] = pn
        for p in pn:
            col.want(p)
    for n in graph.nodes:
        col.want(adj.get(id(n)))
    values = col.evaluate(at)
    steps = [AdjointStep(a, n, i, values[b], values[new]) for a, n, i, b, new in raw_steps]
    final = {n: values[adj[id(n)]] for n in graph.nodes if adj.get(id(n)) is not None}
    for x in graph.inputs:
        final.setdefault(x, _zero_value(primal[x]))
    partials = _make_partials(graph, parts, values)
    for a, n, i, b, _new in raw_steps:
        if _structural(n.prim):
            partials[(n, i)] = _linear_partial(n, i, "vjp", values[b])
    return partials, steps, final


__all__ = ["linear_display", "parse_at", "partial_display", "trace"]
