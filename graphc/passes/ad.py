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
``relu``, comparisons) and the partial it multiplies may be non-finite for finite
inputs (``sqrt'(0) = inf``, ``1/0``, an overflowing ``exp``, ``sqrt`` or ``log`` of a
negative number, ``asin(2)``: anything whose record says ``unbounded``, or computed
from one), or the other way round, the product absorbs zeros,
``t·where(∂ finite, ∂, where(t == 0, 0, ∂))``, so that a branch masked away cannot
turn a gradient into NaN in either mode, at any order (the failure of jax#1052 and
pytorch#2421). Smooth graphs get plain products.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from numbers import Real
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..ir import (DomainError, Graph, GraphcError, Node, NotDifferentiableError, ShapeError,
                  ops, postorder)
from ..ir.array_ops import fit_shape
from ..ir.primitive import Primitive, local_partials
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
    (comparisons, ``heaviside``, ``relu``, ``one_hot``...), a ``where`` with such a
    branch, an :func:`graphc.ir.ops.absorbing_zero` (``where(a == 0, a, a)``: pow's
    exponent factor, whose zero must absorb like a mask), a product or quotient with
    such a factor (or numerator), a sum of two such terms, an array op (sum,
    broadcast, slice...) of such an argument.
    ``bad[n]``: n can be non-finite (±inf or NaN) for finite inputs: an op whose record
    says ``unbounded`` (a pole, an overflow or a restricted real domain: ``div``,
    ``exp``, ``sqrt``, ``log``, ``asin``, ``pow``...), a quotient by anything but a
    nonzero constant, a non-finite constant, or anything computed from one of these.
    A product ``t·∂`` needs zero absorption only when one factor may be a masked zero
    and the other may be non-finite; elsewhere it is a plain multiply, so smooth graphs
    get no extra selects. Inputs are assumed finite. Both predicates are computed
    iteratively and memoised.
    """

    def __init__(self):
        self.zero: dict[int, bool] = {}
        self.bad: dict[int, bool] = {}

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
            f = [self.bad[id(a)] for a in n.args]
            name = n.prim.name
            if n.is_const:
                zero, bad = n.value == 0.0, n.value != n.value or abs(n.value) == float("inf")
            elif n.is_input:
                zero, bad = False, False
            elif not n.prim.elementwise:  # array ops rearrange, sum or multiply entries
                zero, bad = n.prim.masks or any(z), n.prim.unbounded or any(f)
            elif name == "where":
                c, a, b = n.args
                absorbing = (a is b and c.prim is ops.eq_p and c.args[0] is a
                             and _is(c.args[1], 0.0))   # ops.absorbing_zero(a)
                zero, bad = z[1] or z[2] or absorbing, f[1] or f[2]
            elif name == "div":
                den = n.args[1]
                zero = z[0]
                bad = f[0] or f[1] or not (den.is_const and den.value != 0.0)
            elif name in ("mul", "minimum", "maximum"):
                zero, bad = n.prim.masks or any(z), n.prim.unbounded or any(f)
            elif name in ("add", "sub"):
                zero, bad = n.prim.masks or all(z), n.prim.unbounded or any(f)
            elif name == "neg":
                zero, bad = z[0], f[0]
            else:
                zero, bad = n.prim.masks, n.prim.unbounded or any(f)
            self.zero[id(n)] = zero
            self.bad[id(n)] = bad

    def needs_absorption(self, a: Node, b: Node) -> bool:
        """True when ``a·b`` can be ``0·∞`` or ``0·NaN`` with the zero from masking."""
        self._fill(a)
        self._fill(b)
        return (self.zero[id(a)] and self.bad[id(b)]) or (self.bad[id(a)] and self.zero[id(b)])


def scale(t: Node | None, partial: Node | None, hazards: "Hazards | None" = None) -> Node | None:
    """``t · partial`` where None is an exact zero (the result is None then).

    When ``hazards`` says one factor may be a masked zero and the other non-finite
    (±inf or NaN for finite inputs), the possibly non-finite factor is replaced by 0
    where it is non-finite and the other factor is 0 (:func:`_absorbed`), so that
    ``0·∞ = 0·NaN = 0``. A non-finite factor times a nonzero one stays as IEEE makes
    it (a NaN partial of an unmasked branch gives a NaN derivative)."""
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
    if hazards is not None and hazards.needs_absorption(t, partial):
        a, b = t, partial
        if hazards.zero[id(t)] and hazards.bad[id(partial)]:
            b = _absorbed(partial, t)
        if hazards.zero[id(partial)] and hazards.bad[id(t)]:
            a = _absorbed(t, partial)
        return ops.mul(a, b)
    return ops.mul(t, partial)


def _absorbed(factor: Node, other: Node) -> Node:
    """``factor``, replaced by 0 where it is non-finite and ``other`` is 0:
    ``where(factor - factor == 0, factor, where(other == 0, 0, factor))``.

    ``other · _absorbed(factor, other)`` is ``other · factor`` except that ``0·∞`` and
    ``0·NaN`` give 0. The select changes the factor only where it is non-finite, so
    where it is finite the product keeps its derivatives at every order, also at a
    zero of ``other`` that is a genuine value rather than a mask (``y·x^(y-1)`` at
    y = 0 still has ∂/∂y = x^-1).
    """
    zero = ops.const(0.0, factor.dtype)
    finite = ops.eq(ops.sub(factor, factor), zero)
    return ops.where(finite, factor, ops.where(ops.eq(other, zero), zero, factor))


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


# -- which derivative rule applies to a node -----------------------------------------

LINEAR = "linear"
"""Rule kind: the primitive's explicit ``jvp``/``vjp`` rules (linear maps of v̇, v̄)."""
PARTIALS = "partials"
"""Rule kind: local partials ``∂out/∂argᵢ`` (:func:`graphc.ir.primitive.local_partials`)."""
NONE = "none"
"""Rule kind: not differentiable (piecewise constant: comparisons, ``sign``...): zero."""


@dataclass(frozen=True)
class DerivativeRule:
    """How one node is differentiated, as decided by :func:`derivative_rule`.

    Attributes:
        kind: :data:`LINEAR`, :data:`PARTIALS` or :data:`NONE`.
        prim: the node's primitive (whose record holds the rule).
    """

    kind: str
    prim: Primitive

    def partials(self, args: Sequence[Node], out: Node, params: Mapping,
                 *, textbook: bool = False) -> list[Node | None]:
        """The local partials ``∂out/∂argᵢ`` as nodes over ``args`` and ``out`` (None:
        identically zero), one per argument.

        ``PARTIALS``: the record's ``partials`` corrected by its ``edges`` rule (what the
        AD passes multiply by), or with ``textbook=True`` the record's ``partials`` as
        written (``1/x``, ``heaviside(x)``: what trace tables print). ``LINEAR`` (an
        elementwise op such as ``where``): the ``vjp`` rule at cotangent 1, or the
        ``jvp`` rule at tangent 1 of each argument in turn. ``NONE``: all None.
        """
        prim = self.prim
        if self.kind == NONE:
            return [None] * len(args)
        if self.kind == PARTIALS:
            if textbook:
                return list(prim.partials(*args, out=out, **params))
            return list(local_partials(prim, *args, out=out, **params))
        if prim.vjp is not None:
            return list(prim.vjp(*args, out=out, cotangent=ops.const(1.0, out.dtype),
                                 **params))
        parts = []
        for i in range(len(args)):
            tans = [ops.const(1.0, a.dtype) if j == i else None for j, a in enumerate(args)]
            parts.append(prim.jvp(*args, out=out, tangents=tans, **params))
        return parts


def derivative_rule(node: Node, graph: Graph | None = None) -> DerivativeRule:
    """The one place that decides how ``node`` is differentiated; the forward and
    reverse sweeps (:func:`tangents`, :func:`adjoints`) and the evaluation traces
    (:mod:`graphc.tracing`) all ask it.

    Order: an explicit ``jvp``/``vjp`` rule of the record (:data:`LINEAR`; a record with
    only one of them, such as a custom rule of :mod:`graphc.ir.custom`, gets the other
    mode from its transpose, :func:`linear_transpose`), else no
    derivative for a record marked ``differentiable=False`` (:data:`NONE`), else the
    record's local ``partials`` (:data:`PARTIALS`, with its ``edges`` correction).

    Args:
        node: an operation node (not an input or constant).
        graph: the graph it belongs to, for naming the node in errors.

    Raises:
        NotDifferentiableError: a differentiable primitive without any rule (names the
            node, as ``describe_node`` does, and what to add to its record).
    """
    prim = node.prim
    if prim.jvp is not None or prim.vjp is not None:
        return DerivativeRule(LINEAR, prim)
    if not prim.differentiable:
        return DerivativeRule(NONE, prim)
    if prim.partials is not None:
        return DerivativeRule(PARTIALS, prim)
    where = describe_node(graph, node) if graph is not None else f"{prim.name} node"
    raise NotDifferentiableError(f"{where}: {prim.name} has no derivative rule; give its "
                                 f"record partials= or jvp=/vjp= in graphc/ir/ops.py")


# -- a rule given in one mode only: transpose it ---------------------------------------

_LINEAR_IDS = itertools.count(1)


def linear_transpose(fn, like: Sequence[Node], cotangents: Sequence[Node | None],
                     what: str = "a derivative rule") -> list[Node | None]:
    """The transpose of a linear map given as a node-building function, applied to
    ``cotangents``: with ``fn(vs) -> [o₁, …, o_m]`` linear in the nodes ``vs`` (one per
    entry of ``like``, of its dtype and shape), returns ``[Σⱼ ∂(cⱼ·oⱼ)/∂vᵢ]`` for
    ``i = 1 … n`` (None where identically zero), computed by reverse mode (:func:`adjoints`)
    on fresh input nodes (JAX's ``linear_transpose``; Griewank & Walther 2008, §3.2:
    the adjoint of a linear map is its transpose).

    Used where a primitive has only one of ``jvp``/``vjp`` (custom derivative rules,
    :mod:`graphc.ir.custom`): reverse mode transposes the jvp rule (linear in the
    tangents) and forward mode the vjp rule (linear in the cotangent).

    Raises:
        NotDifferentiableError: the map is not linear in ``vs`` (its transpose still
            depends on them), naming ``what``.
    """
    k = next(_LINEAR_IDS)
    vs = [ops.variable(f"%lin{k}.{i}", x.dtype, x.shape) for i, x in enumerate(like)]
    outs = [None if o is None else ops.lift(o, like[0]) for o in fn(vs)]
    pairs = [(o, c) for o, c in zip(outs, cotangents) if o is not None and c is not None]
    if not pairs:
        return [None] * len(vs)
    nodes = [o for o, _ in pairs]
    inputs = [n for n in postorder(nodes) if n.is_input]
    adj = adjoints(Graph(inputs, nodes), vs, [c for _, c in pairs])
    result = [adj.get(id(v)) for v in vs]
    fresh = {id(v) for v in vs}
    for r in result:
        if r is not None and any(id(m) in fresh for m in postorder([r])):
            raise NotDifferentiableError(f"{what} is not linear in its tangents or "
                                         f"cotangents, so it cannot be transposed to the "
                                         f"other AD mode")
    return result


def _jvp_by_transpose(graph: Graph, n: Node, ts: Sequence[Node | None],
                      params: Mapping) -> Node | None:
    """The tangent of ``n`` from its primitive's vjp rule alone: ``J·ṫ`` is the transpose
    of ``v̄ ↦ Jᵀ·v̄`` applied to the argument tangents ``ts``."""
    rule = f"{describe_node(graph, n)}: the vjp rule of {n.prim.name}"
    (t,) = linear_transpose(
        lambda vs: list(n.prim.vjp(*n.args, out=n, cotangent=vs[0], **params)),
        [n], ts, rule)
    return t


def _vjp_by_transpose(graph: Graph, n: Node, bar: Node, params: Mapping) -> list:
    """The argument cotangents of ``n`` from its primitive's jvp rule alone: ``Jᵀ·v̄`` is
    the transpose of ``ṫ ↦ J·ṫ`` applied to the cotangent ``bar``."""
    rule = f"{describe_node(graph, n)}: the jvp rule of {n.prim.name}"
    return linear_transpose(
        lambda vs: [n.prim.jvp(*n.args, out=n, tangents=list(vs), **params)],
        list(n.args), [bar], rule)


# -- the two transformations ----------------------------------------------------------

def _resolve_wrt(graph: Graph, wrt) -> list[Node]:
    by_name = {x.name: x for x in graph.inputs}
    if wrt is None:
        return list(graph.inputs)
    accepted = (f"an input name (str) or a list of input names; the graph's inputs are "
                f"{', '.join(by_name) or 'none'}")
    if isinstance(wrt, str):
        names = [wrt]
    elif isinstance(wrt, (list, tuple)):
        names = list(wrt)
    else:
        raise DomainError(f"wrt={wrt!r} ({type(wrt).__name__}) is not a valid wrt "
                          f"argument: give {accepted}")
    out = []
    for i, nm in enumerate(names):
        if not isinstance(nm, str):
            raise DomainError(f"wrt[{i}]={nm!r} ({type(nm).__name__}) is not an input "
                              f"name: give {accepted}")
        if nm not in by_name:
            raise GraphcError(f"cannot differentiate with respect to {nm!r}: the graph's "
                              f"inputs are {', '.join(by_name) or 'none'}")
        out.append(by_name[nm])
    if len(set(names)) != len(names):
        raise GraphcError(f"wrt lists an input twice: {names}")
    return out


def _seed_values(seed, what: str, names: Sequence[str], kind: str) -> dict[str, float]:
    """``seed`` of ``what`` (``"jvp"``/``"vjp"``) checked and converted: a mapping from
    names among ``names`` (the ``kind`` of name: "wrt inputs", "outputs") to real
    numbers (Python or NumPy scalars, or 0-d arrays), returned as Python floats.

    Raises:
        DomainError: ``seed`` is not a mapping, a name is unknown, or a value is not a
            real number (a string, a bool, an array with entries...); the message names
            the entry and what would be accepted.
    """
    accepted = "a real number (int, float, or a NumPy scalar)"
    if not isinstance(seed, Mapping):
        raise DomainError(f"{what}: seed={seed!r} ({type(seed).__name__}) is not a "
                          f"mapping: give a dict {{name: number}} with names among the "
                          f"{kind} {list(names)}")
    known = set(names)
    unknown = [k for k in seed if k not in known]
    if unknown:
        raise DomainError(f"{what}: seed names {sorted(map(str, unknown))} are not among "
                          f"the {kind} {list(names)}")
    out = {}
    for name, v in seed.items():
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v[()]
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (Real, np.floating,
                                                                 np.integer)):
            shown = f"an array of shape {v.shape}" if isinstance(v, np.ndarray) else \
                f"{v!r} ({type(v).__name__})"
            raise DomainError(f"{what}: seed[{name!r}] is {shown}; a seed value must be "
                              f"{accepted} (the seed fixes one direction for the whole "
                              f"input, whatever its shape)")
        out[name] = float(v)
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
        rule = derivative_rule(n, graph)
        if rule.kind == NONE:
            continue
        if rule.kind == LINEAR:
            if prim.jvp is None:  # the transpose of the (linear) vjp rule: J·ṫ
                t = _jvp_by_transpose(graph, n, ts, params)
            else:
                t = prim.jvp(*n.args, out=n, tangents=ts, **params)
            tan[id(n)] = None if t is None else _fit(t, n, prim.name)
            continue
        parts = rule.partials(n.args, n, params)
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
        rule = derivative_rule(n, graph)
        if rule.kind == NONE:
            continue
        if rule.kind == LINEAR:
            if prim.vjp is None:  # the transpose of the (linear) jvp rule: Jᵀ·v̄
                bars = _vjp_by_transpose(graph, n, bar, params)
            else:
                bars = prim.vjp(*n.args, out=n, cotangent=bar, **params)
        else:
            parts = rule.partials(n.args, n, params)
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
        ``(primal structure, tangent structure)``, output names ``<y>_dot`` for tangents
        (``_`` appended while a name is taken: a jvp of a jvp names them ``u_dot_``).

    Raises:
        DomainError: ``wrt`` is not a name or a list of names, or ``seed`` is not a
            ``{wrt name: real number}`` mapping.
        GraphcError: an unknown ``wrt`` name.
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
        values = _seed_values(seed, "jvp", [x.name for x in sources], "wrt inputs")
        for x in sources:
            v = values.get(x.name, 0.0)
            if v != 0.0:
                seeds[x] = ops.const(v, x.dtype, x.shape)
    tan = tangents(graph, seeds)
    dots = [_or_zero(tan.get(id(o)), o) for o in graph.outputs]
    n = len(graph.outputs)
    out_taken = set(graph.output_names)  # unique at every depth: jvp of jvp gives u_dot_
    return Graph(inputs, list(graph.outputs) + dots,
                 list(graph.output_names) + [_fresh_name(f"{y}_dot", out_taken)
                                             for y in graph.output_names],
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
        ``(primal structure, (x̄₁, x̄₂, ...))``, adjoint output names ``<x>_bar``
        (``_`` appended while a name is taken).

    Raises:
        DomainError: ``wrt`` is not a name or a list of names, or ``seed`` is not an
            ``{output name: real number}`` mapping.
        GraphcError: an unknown ``wrt`` name.
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
        values = _seed_values(seed, "vjp", list(graph.output_names), "outputs")
        for y, o in zip(graph.output_names, graph.outputs):
            v = values.get(y, 0.0)
            cots.append(ops.const(v, o.dtype, o.shape) if v else None)
    adj = adjoints(graph, sources, cots)
    bars = [_or_zero(adj.get(id(x)), x) for x in sources]
    n = len(graph.outputs)
    structure = (graph.structure, tuple(range(n, n + len(bars))))
    out_taken = set(graph.output_names)  # unique output names at every depth
    return Graph(inputs, list(graph.outputs) + bars,
                 list(graph.output_names) + [_fresh_name(f"{x.name}_bar", out_taken)
                                             for x in sources],
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
        DomainError: ``wrt`` is neither a name nor a list of names (``wrt=0``).
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
