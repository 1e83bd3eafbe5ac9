"""Automatic differentiation as graph transformations: forward and reverse mode.

Both modes read the derivative rules of each primitive's record
(:mod:`graphc.ir.ops`) and emit *new graphs* built from registered primitives, so a
derivative graph can be simplified, lowered, drawn, and differentiated again to any
order.

* Forward mode (tangent trace, JVP): each node v gets a tangent
  ``v̇ = Σᵢ (∂v/∂uᵢ)·u̇ᵢ`` in evaluation order (Griewank & Walther 2008, §3.1;
  Baydin et al. 2018, §3.1).
* Reverse mode (adjoint trace, VJP): each node's adjoint ``v̄ = ∂y/∂v`` is accumulated
  in reverse evaluation order, ``ūᵢ += v̄·∂v/∂uᵢ`` (Griewank & Walther §3.2; Baydin et
  al. §3.2).

Zeros are symbolic (``None``): a node that does not depend on the differentiated
inputs, or whose cotangent is identically zero, produces no derivative nodes.
Where a tangent or cotangent may be an exact zero produced by masking (``where``,
``relu``, comparisons) and the partial it multiplies may be infinite (``sqrt'(0)``,
``1/0``, an overflowing ``exp``), or the other way round, the product absorbs zeros,
``where(mask == 0, 0, t·∂)``, so that a branch masked away cannot turn a gradient into
NaN (the failure of jax#1052 and pytorch#2421). Smooth graphs get plain products.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..ir import Graph, GraphcError, Node, NotDifferentiableError, ShapeError, ops
from ..ir.array_ops import fit_shape
from ..ir.text import describe_node


# -- symbolic-zero arithmetic ---------------------------------------------------------

def _is(n: Node | None, value: float) -> bool:
    return n is not None and n.is_const and n.value == value


def add(a: Node | None, b: Node | None) -> Node | None:
    """a + b where None is an exact zero; folds constant operands."""
    if a is None or _is(a, 0.0):
        return b
    if b is None or _is(b, 0.0):
        return a
    if a.is_const and b.is_const and a.shape == b.shape:
        return ops.const(a.value + b.value, a.dtype, a.shape)
    if b.prim is ops.neg_p:
        return ops.sub(a, b.args[0])
    if a.prim is ops.neg_p:
        return ops.sub(b, a.args[0])
    return ops.add(a, b)


class Hazards:
    """Structural over-approximations used to place zero-absorbing products.

    ``zero[n]``: n can be an exact zero *by masking*: an op whose record says ``masks``
    (comparisons, ``heaviside``, ``relu``...), a ``where`` with such a branch, a product
    with such a factor, a sum of two such terms.
    ``inf[n]``: n can be infinite for finite inputs: an op whose record says
    ``unbounded`` (a quotient, ``exp``, ``pow``...), or anything computed from one.
    A product ``t·∂`` needs zero absorption only when one factor may be a masked zero
    and the other may be infinite; elsewhere it is a plain multiply, so smooth graphs
    get no extra selects. Both predicates are computed iteratively and memoised.
    """

    def __init__(self):
        self.zero: dict[int, bool] = {}
        self.inf: dict[int, bool] = {}

    def _fill(self, root: Node) -> None:
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if id(n) in self.zero:
                continue
            if not ready:
                stack.append((n, True))
                stack.extend((a, False) for a in n.args if id(a) not in self.zero)
                continue
            z = [self.zero[id(a)] for a in n.args]
            f = [self.inf[id(a)] for a in n.args]
            name = n.prim.name
            if n.is_const:
                zero, inf = n.value == 0.0, n.value != n.value or abs(n.value) == float("inf")
            elif n.is_input:
                zero, inf = False, False
            elif n.prim.masks:
                zero, inf = True, False
            elif not n.prim.elementwise:  # array ops rearrange, sum or multiply entries
                zero, inf = any(z), n.prim.unbounded or any(f)
            elif name in ("mul", "minimum", "maximum"):
                zero, inf = any(z), any(f)
            elif name == "where":
                zero, inf = z[1] or z[2], f[1] or f[2]
            elif name in ("add", "sub"):
                zero, inf = all(z), any(f)
            elif name == "neg":
                zero, inf = z[0], f[0]
            elif name == "div":
                zero = z[0]
                den = n.args[1]
                inf = f[0] or not (den.is_const and den.value != 0.0)
            else:
                zero, inf = False, n.prim.unbounded or any(f)
            self.zero[id(n)] = zero
            self.inf[id(n)] = inf

    def needs_absorption(self, a: Node, b: Node) -> bool:
        self._fill(a)
        self._fill(b)
        return (self.zero[id(a)] and self.inf[id(b)]) or (self.inf[id(a)] and self.zero[id(b)])


def scale(t: Node | None, partial: Node | None, hazards: "Hazards | None" = None) -> Node | None:
    """t · partial where None is an exact zero. When ``hazards`` says one factor may be
    a masked zero and the other infinite, the product is ``where(t·∂ is 0·∞, 0, t·∂)``
    written as a select on the masked factor, so ``0·∞ = 0``."""
    if t is None or partial is None or _is(t, 0.0) or _is(partial, 0.0):
        return None
    if _is(t, 1.0):
        return partial
    if _is(partial, 1.0):
        return t
    if _is(partial, -1.0):
        return ops.neg(t)
    if _is(t, -1.0):
        return ops.neg(partial)
    if t.is_const and partial.is_const and t.shape == partial.shape:
        return ops.const(t.value * partial.value, t.dtype, t.shape)
    if partial.prim is ops.neg_p:
        inner = scale(t, partial.args[0], hazards)
        return None if inner is None else ops.neg(inner)
    product = ops.mul(t, partial)
    if hazards is not None and hazards.needs_absorption(t, partial):
        hazards._fill(t)
        mask = t if hazards.zero[id(t)] else partial
        zero = ops.const(0.0, product.dtype)
        return ops.where(ops.eq(mask, zero), zero, product)
    return product


def _fit(d: Node, like: Node, prim_name: str) -> Node:
    """A tangent or cotangent ``d`` brought to ``like``'s shape: summed over the axes
    along which ``like`` was broadcast (the transpose of broadcasting), or broadcast up
    where a symbolic zero or constant left it smaller."""
    if d.shape == like.shape:
        return d
    try:
        return fit_shape(d, like.shape)
    except ShapeError as exc:  # pragma: no cover - a derivative rule bug
        raise NotDifferentiableError(f"internal error in the derivative of {prim_name}: "
                                     f"{exc}") from None


# -- the two transformations ----------------------------------------------------------

def _resolve_wrt(graph: Graph, wrt) -> list[Node]:
    by_name = {x.name: x for x in graph.inputs}
    if wrt is None:
        return list(graph.inputs)
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    out = []
    for nm in names:
        if nm not in by_name:
            raise GraphcError(f"cannot differentiate with respect to {nm!r}: the graph's "
                              f"inputs are {', '.join(by_name) or 'none'}")
        out.append(by_name[nm])
    if len(set(names)) != len(names):
        raise GraphcError(f"wrt lists an input twice: {names}")
    return out


def _active(graph: Graph, sources: Iterable[Node]) -> set[int]:
    """ids of nodes that depend on any of ``sources``."""
    act = {id(s) for s in sources}
    for n in graph.operations:
        if any(id(a) in act for a in n.args):
            act.add(id(n))
    return act


def tangents(graph: Graph, seeds: Mapping[Node, Node]) -> dict[int, Node | None]:
    """Forward sweep: the tangent of every node given input tangents ``seeds``
    (``{input node: tangent node}``). Returns ``{id(node): tangent or None}``."""
    tan: dict[int, Node | None] = {id(x): t for x, t in seeds.items()}
    hazards = Hazards()
    for n in graph.operations:
        ts = [tan.get(id(a)) for a in n.args]
        if all(t is None for t in ts):
            continue
        prim = n.prim
        params = dict(n.params)
        if prim.jvp is not None:
            t = prim.jvp(*n.args, out=n, tangents=ts, **params)
            tan[id(n)] = None if t is None else _fit(t, n, prim.name)
            continue
        if not prim.differentiable:
            continue
        if prim.partials is None:
            raise NotDifferentiableError(
                f"{describe_node(graph, n)}: {prim.name} has no derivative rule; "
                f"give its record partials= or jvp=/vjp= in graphc/ir/ops.py")
        parts = prim.partials(*n.args, out=n, **params)
        total = None
        for t, p in zip(ts, parts):
            total = add(total, scale(t, p, hazards))
        tan[id(n)] = None if total is None else _fit(total, n, prim.name)
    return tan


def adjoints(graph: Graph, sources: Sequence[Node],
             cotangents: Sequence[Node | None], on_step=None) -> dict[int, Node | None]:
    """Reverse sweep: the adjoint of every node that depends on ``sources``, given the
    output cotangents (one per graph output, None for zero). Returns
    ``{id(node): adjoint or None}``. ``on_step(arg, op, position, contribution,
    new adjoint of arg)`` is called after each accumulation (graphc.trace records
    the adjoint trace with it)."""
    act = _active(graph, sources)
    adj: dict[int, Node | None] = {}
    hazards = Hazards()
    for o, c in zip(graph.outputs, cotangents):
        if id(o) in act:
            adj[id(o)] = add(adj.get(id(o)), c)
    for n in reversed(graph.operations):
        bar = adj.get(id(n))
        if bar is None:
            continue
        prim = n.prim
        params = dict(n.params)
        if prim.vjp is not None:
            bars = prim.vjp(*n.args, out=n, cotangent=bar, **params)
        elif not prim.differentiable:
            continue
        elif prim.partials is None:
            raise NotDifferentiableError(
                f"{describe_node(graph, n)}: {prim.name} has no derivative rule; "
                f"give its record partials= or jvp=/vjp= in graphc/ir/ops.py")
        else:
            parts = prim.partials(*n.args, out=n, **params)
            bars = [scale(bar, p, hazards) if id(a) in act else None
                    for a, p in zip(n.args, parts)]
        for i, (a, b) in enumerate(zip(n.args, bars)):
            if b is not None and id(a) in act:
                b = _fit(b, a, prim.name)
                adj[id(a)] = add(adj.get(id(a)), b)
                if on_step is not None:
                    on_step(a, n, i, b, adj[id(a)])
    return adj


def _zero_like(x: Node) -> Node:
    return ops.const(0.0, x.dtype, x.shape)


def _or_zero(d: Node | None, x: Node) -> Node:
    """``d``, or a zero like ``x`` where ``d`` is a symbolic zero (None). Nodes have
    no truth value (``Node.__bool__`` raises), so ``d or zero`` cannot be used."""
    return d if d is not None else _zero_like(x)


def _fresh_name(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _tree_offset(structure, offset: int):
    if isinstance(structure, int):
        return structure + offset
    return tuple(_tree_offset(s, offset) for s in structure)


def _wrt_is_single(wrt) -> bool:
    return isinstance(wrt, str)


def jvp(graph: Graph, wrt=None, seed: Mapping[str, float] | None = None) -> Graph:
    """Forward mode: the graph of (outputs, tangents of the outputs).

    Args:
        graph: any graph.
        wrt: input names to perturb (default: all inputs).
        seed: ``{name: number}`` fixing the tangent direction ẋ; without it the graph
            gets one tangent input per ``wrt`` name, called ``<name>_dot``.

    Returns:
        A graph with outputs ``(*outputs, *tangents)``, structured as
        ``(primal structure, tangent structure)``, output names ``<y>_dot`` for tangents.
    """
    sources = _resolve_wrt(graph, wrt)
    inputs = list(graph.inputs)
    seeds: dict[Node, Node] = {}
    taken = set(graph.input_names)
    if seed is None:
        for x in sources:
            t = ops.variable(_fresh_name(f"{x.name}_dot", taken), x.dtype, x.shape)
            inputs.append(t)
            seeds[x] = t
    else:
        unknown = set(seed) - {x.name for x in sources}
        if unknown:
            raise GraphcError(f"seed names {sorted(unknown)} are not among wrt inputs "
                              f"{[x.name for x in sources]}")
        for x in sources:
            v = float(seed.get(x.name, 0.0))
            if v != 0.0:
                seeds[x] = ops.const(v, x.dtype, x.shape)
    tan = tangents(graph, seeds)
    dots = [_or_zero(tan.get(id(o)), o) for o in graph.outputs]
    n = len(graph.outputs)
    return Graph(inputs, list(graph.outputs) + dots,
                 list(graph.output_names) + [f"{y}_dot" for y in graph.output_names],
                 (graph.structure, _tree_offset(graph.structure, n)), graph.labels)


def vjp(graph: Graph, wrt=None, seed: Mapping[str, float] | None = None) -> Graph:
    """Reverse mode: the graph of (outputs, adjoints of the ``wrt`` inputs).

    Args:
        graph: any graph.
        wrt: input names whose adjoints are wanted (default: all inputs).
        seed: ``{output name: number}`` fixing the output cotangent ȳ; without it the
            graph gets one cotangent input per output, called ``<y>_bar``.

    Returns:
        A graph with outputs ``(*outputs, *adjoints)`` structured as
        ``(primal structure, (x̄₁, x̄₂, ...))``, adjoint output names ``<x>_bar``.
    """
    sources = _resolve_wrt(graph, wrt)
    inputs = list(graph.inputs)
    taken = set(graph.input_names)
    cots: list[Node | None] = []
    if seed is None:
        for y, o in zip(graph.output_names, graph.outputs):
            c = ops.variable(_fresh_name(f"{y}_bar", taken), o.dtype, o.shape)
            inputs.append(c)
            cots.append(c)
    else:
        unknown = set(seed) - set(graph.output_names)
        if unknown:
            raise GraphcError(f"seed names {sorted(unknown)} are not outputs "
                              f"{list(graph.output_names)}")
        for y, o in zip(graph.output_names, graph.outputs):
            v = float(seed.get(y, 0.0))
            cots.append(ops.const(v, o.dtype, o.shape) if v else None)
    adj = adjoints(graph, sources, cots)
    bars = [_or_zero(adj.get(id(x)), x) for x in sources]
    n = len(graph.outputs)
    structure = (graph.structure, tuple(range(n, n + len(bars))))
    return Graph(inputs, list(graph.outputs) + bars,
                 list(graph.output_names) + [f"{x.name}_bar" for x in sources],
                 structure, graph.labels)


def _single_output(graph: Graph, what: str) -> Node:
    if len(graph.outputs) != 1:
        raise GraphcError(f"{what} needs a graph with one output; this one has "
                          f"{len(graph.outputs)} ({', '.join(graph.output_names)}): "
                          f"use jacobian() instead")
    o = graph.outputs[0]
    if o.shape != ():
        raise GraphcError(f"{what} needs a scalar output; {graph.output_names[0]} has "
                          f"shape {o.shape}")
    return o


def _gradient_nodes(graph: Graph, sources: list[Node]) -> list[Node]:
    o = _single_output(graph, "grad")
    adj = adjoints(graph, sources, [ops.const(1.0, o.dtype)])
    return [_or_zero(adj.get(id(x)), x) for x in sources]


def grad(graph: Graph, wrt=None) -> Graph:
    """Reverse mode: the graph of the gradient of a scalar single-output graph.

    Args:
        graph: a graph with one scalar output f.
        wrt: an input name (the result is then one derivative) or a list of names
            (a tuple of derivatives, in that order); default: all inputs.

    Returns:
        A graph over the same inputs with outputs ``df/dx`` for each ``wrt`` input.

    Raises:
        GraphcError: more than one output, or an unknown ``wrt`` name.
    """
    sources = _resolve_wrt(graph, wrt)
    grads = _gradient_nodes(graph, sources)
    f = graph.output_names[0]
    structure = 0 if _wrt_is_single(wrt) else tuple(range(len(grads)))
    return Graph(graph.inputs, grads, [f"d{f}/d{x.name}" for x in sources], structure,
                 graph.labels)


def value_and_grad(graph: Graph, wrt=None) -> Graph:
    """Reverse mode: the graph of ``(f, gradient)``; see :func:`grad` for arguments.
    A kernel of it returns ``f, (df/dx1, df/dx2, ...)`` (or ``f, df/dx`` for a single
    ``wrt`` name)."""
    sources = _resolve_wrt(graph, wrt)
    grads = _gradient_nodes(graph, sources)
    f = graph.output_names[0]
    k = len(grads)
    structure = (0, 1) if _wrt_is_single(wrt) else (0, tuple(range(1, k + 1)))
    return Graph(graph.inputs, [graph.outputs[0]] + grads,
                 [f] + [f"d{f}/d{x.name}" for x in sources], structure, graph.labels)


def jacobian(graph: Graph, wrt=None, mode: str = "rev") -> Graph:
    """The Jacobian of all outputs with respect to ``wrt``.

    Args:
        graph: any graph of scalar outputs y₁ … y_m.
        wrt: input names x₁ … x_n (default all); a single name gives one column.
        mode: ``"rev"`` (one reverse sweep per output) or ``"fwd"`` (one forward sweep
            per input); the results are equal.

    Returns:
        A graph whose outputs are ``dyᵢ/dxⱼ`` in row-major order, structured as rows:
        ``((dy1/dx1, dy1/dx2), (dy2/dx1, ...))``. For a single-output graph the
        structure is the gradient's (one row, not nested).
    """
    if mode not in ("fwd", "rev"):
        raise GraphcError(f"mode must be 'fwd' or 'rev', got {mode!r}")
    sources = _resolve_wrt(graph, wrt)
    _scalars_only(graph, sources, "jacobian")
    m, n = len(graph.outputs), len(sources)
    J: list[list[Node]] = [[None] * n for _ in range(m)]  # type: ignore[list-item]
    if mode == "rev":
        for i, o in enumerate(graph.outputs):
            cots = [ops.const(1.0, o.dtype) if k == i else None for k in range(m)]
            adj = adjoints(graph, sources, cots)
            for j, x in enumerate(sources):
                J[i][j] = _or_zero(adj.get(id(x)), x)
    else:
        for j, x in enumerate(sources):
            tan = tangents(graph, {x: ops.const(1.0, x.dtype, x.shape)})
            for i, o in enumerate(graph.outputs):
                J[i][j] = _or_zero(tan.get(id(o)), o)
    flat = [J[i][j] for i in range(m) for j in range(n)]
    names = [f"d{y}/d{x.name}" for y in graph.output_names for x in sources]
    single = _wrt_is_single(wrt)
    rows = [(i * n if single else tuple(range(i * n, (i + 1) * n))) for i in range(m)]
    structure = rows[0] if m == 1 else tuple(rows)
    return Graph(graph.inputs, flat, names, structure, graph.labels)


def _scalars_only(graph: Graph, sources: list[Node], what: str) -> None:
    """Jacobians and Hessians here are tables of scalar derivatives."""
    for name, n in list(zip(graph.output_names, graph.outputs)) + [(x.name, x) for x in
                                                                   sources]:
        if n.shape != ():
            raise GraphcError(
                f"{what} works on scalar inputs and outputs; {name} has shape {n.shape}. "
                f"For arrays use jvp (J·v), vjp (vᵀ·J), grad, or jvp of grad for "
                f"Hessian-vector products")


def hessian(graph: Graph, wrt=None) -> Graph:
    """The Hessian of a scalar single-output graph, forward over reverse: the forward
    Jacobian of the reverse-mode gradient (Griewank & Walther 2008, §5.4).

    Returns:
        A graph of the n×n second derivatives ``d2f/dxidxj``, structured as rows.
    """
    _scalars_only(graph, _resolve_wrt(graph, wrt), "hessian")
    g = grad(graph, wrt if wrt is None or isinstance(wrt, str) else list(wrt))
    H = jacobian(g, wrt, mode="fwd")
    f = graph.output_names[0]
    sources = _resolve_wrt(graph, wrt)
    names = [f"d2{f}/d{a.name}d{b.name}" for a in sources for b in sources]
    return Graph(H.inputs, H.outputs, names, H.structure, graph.labels)
