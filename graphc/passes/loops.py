"""Derivatives and passes for the control-flow nodes of :mod:`graphc.ir.control_flow`.

**Forward mode** (JVP): the tangent of a ``scan`` is a ``scan`` of the body's JVP graph
(carry and tangent carry side by side); of a ``while_loop``, a ``while_loop`` of the
body's JVP with the same condition; of a ``switch``, a ``switch`` over the branches'
JVPs (the index has no derivative). The primal is recomputed inside.

**Reverse mode** (VJP) of a ``scan`` stores carries and runs a reverse scan of the
body's *step VJP* ``(c̄, k̄, c, x, ȳ, k) -> (c̄', k̄ + k̄_t, x̄)`` from them (Griewank &
Walther, *Evaluating Derivatives*, 2nd ed., 2008, ch. 12). Where the carries of a run
of steps are all stored (``"all"``, and each segment of the other policies), the
forward scan also stores the step VJP's *residuals*, the primal values its
cotangent part reads (:func:`_residual_steps`, JAX's partial evaluation of ``scan``),
when they take at most :data:`RESIDUAL_RATIO` entries per carry entry: the backward
step then reads them instead of recomputing the body (the lstm Jacobian of GradBench,
whose body is sigmoids and tanhs, runs 4x faster). What is stored is the node's
``checkpoint`` parameter:

* ``"all"``: every carry (memory O(T) carries, T body evaluations of recomputation);
* an int ``k``, or ``"sqrt"`` (``k = ⌈√T⌉``): the carry at the start of every segment
  of ``k`` steps; the reverse sweep recomputes one segment's carries at a time (memory
  O(T/k + k) carries, O(√T) for ``"sqrt"``; one extra forward pass);
* ``"recursive"``: segments split in halves recursively (memory O(log T) carries, a
  forward pass per level, O(T log T)), the bisection schedule of Griewank &
  Walther §12.4 (not the optimal ``revolve`` schedule);
* ``"auto"`` (the default): ``"all"`` up to 1024 steps, ``"sqrt"`` beyond.

Every policy performs the same floating-point operations in the same order (the
adjoint of the loop-invariant operands ``k̄`` is threaded through the segments as a
carry rather than summed per segment), so their gradients are bit-identical.

A reverse ``scan`` (``reverse=True``: what reverse mode itself emits) always stores
all carries. A ``while_loop`` is differentiable in reverse mode only with
``max_steps``: it is then the scan of ``max_steps`` masked steps
(:func:`graphc.ir.control_flow.while_as_scan`), whose reverse sweep runs all
``max_steps`` steps. A ``switch`` transposes into a ``switch`` over the branches'
VJPs, so only the taken branch's derivative is evaluated and a NaN of another branch
cannot reach it.

Passes: :func:`map_bodies` runs a graph pass inside every body (the clean-up passes of
:mod:`graphc.passes.simplify` call it), :func:`hoist_invariants` moves loop-invariant
work of scan and while bodies out of the loop.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

from ..ir import Graph, Node, NotDifferentiableError, apply, ops
from ..ir import array_ops as A
from ..ir import control_flow as cf
from ..ir.control_flow import Body, pack, scan_node, unpack
from . import ad


def _fresh(like: Node, base: str, taken: set, shape: tuple | None = None) -> Node:
    name = base
    while name in taken:
        name += "_"
    taken.add(name)
    return ops.variable(name, like.dtype, like.shape if shape is None else shape)


def _full(t: Node | None, like: Node) -> Node | None:
    """A tangent or cotangent at ``like``'s (packed) shape: a scalar seed such as the
    trace tables' cotangent 1 is broadcast."""
    return t if t is None or t.shape == like.shape else A.broadcast_to(t, like.shape)


def _zero(x: Node) -> Node:
    return ops.const(0.0, x.dtype, x.shape)


def _tidy(graph: Graph) -> Graph:
    from .simplify import optimize
    return optimize(graph)


# ---------------------------------------------------------------------------------
# forward mode

def scan_jvp(x, *, out, tangents, body, length, n_carry, n_xs=0, reverse=False,
             checkpoint="auto", **_):
    """JVP rule of ``scan``: a scan of the body's JVP graph over (primal, tangent)."""
    t = _full(tangents[0], x)
    if t is None:
        return None
    g = body.graph
    jg = ad.jvp(g)
    nI, m = len(g.inputs), len(g.outputs)
    ins, dots = list(g.inputs), list(jg.inputs[nI:])
    nC, nX = n_carry, n_xs
    cut = lambda s: (s[:nC], s[nC:nC + nX], s[nC + nX:])  # noqa: E731
    (ci, xi, ki), (cd, xd, kd) = cut(ins), cut(dots)
    po, do = list(jg.outputs[:m]), list(jg.outputs[m:])
    body2 = _tidy(Graph(ci + cd + xi + xd + ki + kd, po[:nC] + do[:nC] + po[nC:] + do[nC:]))
    in_shapes = cf.scan_layout(g, length, nC, nX)[0]
    (cx, xx, kx), (ct, xt, kt) = cut(unpack(x, in_shapes)), cut(unpack(t, in_shapes))
    res = scan_node(body2, cx + ct, xx + xt, kx + kt, length, reverse=reverse,
                    checkpoint=checkpoint)
    nY = m - nC
    return pack(res[nC:2 * nC] + res[2 * nC + nY:])


def while_jvp(x, *, out, tangents, cond, body, n_carry, max_steps=None, **_):
    """JVP rule of ``while_loop``: the loop of the body's JVP under the same condition."""
    t = _full(tangents[0], x)
    if t is None:
        return None
    g = body.graph
    jg = ad.jvp(g)
    nI, nC = len(g.inputs), n_carry
    ins, dots = list(g.inputs), list(jg.inputs[nI:])
    new_in = ins[:nC] + dots[:nC] + ins[nC:] + dots[nC:]
    body2 = _tidy(Graph(new_in, list(jg.outputs[:nC]) + list(jg.outputs[nC:])))
    cond2 = Graph(new_in, list(cond.graph.outputs))
    shapes = [i.shape for i in g.inputs]
    px, pt = unpack(x, shapes), unpack(t, shapes)
    node = apply(cf.while_p, pack(px[:nC] + pt[:nC] + px[nC:] + pt[nC:]), cond=cond2,
                 body=body2, n_carry=2 * nC, max_steps=max_steps)
    res = unpack(node, [o.shape for o in body2.outputs])
    return pack(res[nC:])


def switch_jvp(x, *, out, tangents, branches, **_):
    """JVP rule of ``switch``: a switch over the branches' tangent graphs."""
    t = _full(tangents[0], x)
    if t is None:
        return None
    g0 = branches[0].graph
    shapes = [()] + [i.shape for i in g0.inputs]
    px, pt = unpack(x, shapes), unpack(t, shapes)
    new = []
    for b in branches:
        jg = ad.jvp(b.graph)
        new.append(_tidy(Graph(jg.inputs, list(jg.outputs[len(b.graph.outputs):]))))
    node = apply(cf.switch_p, pack(px + pt[1:]), branches=tuple(new))
    return node


# ---------------------------------------------------------------------------------
# reverse mode

@lru_cache(maxsize=256)
@lru_cache(maxsize=256)
def _step_backward(body: Body, n_carry: int, n_xs: int) -> Graph:
    """The step VJP of a scan body: inputs ``(c̄..., k̄..., c..., x..., ȳ..., k...)``,
    outputs ``(c̄_prev..., k̄ + k̄_t..., x̄...)``."""
    g = body.graph
    nC, nX = n_carry, n_xs
    ins = list(g.inputs)
    C, X, K = ins[:nC], ins[nC:nC + nX], ins[nC + nX:]
    taken = set(g.input_names)
    cbar = [_fresh(c, f"%cbar{i}", taken) for i, c in enumerate(C)]
    kbar = [_fresh(k, f"%kbar{i}", taken) for i, k in enumerate(K)]
    ybar = [_fresh(y, f"%ybar{i}", taken) for i, y in enumerate(g.outputs[nC:])]
    adj = ad.adjoints(g, ins, cbar + ybar)
    c_prev = [ad._or_zero(adj.get(id(c)), c) for c in C]
    k_new = [ad.add(kb, adj.get(id(k))) for kb, k in zip(kbar, K)]
    x_bar = [ad._or_zero(adj.get(id(x)), x) for x in X]
    return _tidy(Graph(cbar + kbar + C + X + ybar + K, c_prev + k_new + x_bar))


RESIDUAL_RATIO = 16
"""A stored-carry reverse sweep keeps the body's intermediate values that its step VJP
needs (residuals, see :func:`_residual_steps`) when they take at most this many entries
per step for each carry entry (plus 64); beyond, the backward step recomputes them."""


@lru_cache(maxsize=256)
def _residual_steps(body: Body, n_carry: int, n_xs: int) -> tuple | None:
    """The step VJP split into a forward step that also outputs the *residuals* and a
    backward step that reads them, as JAX's scan partial evaluation does, instead of a
    backward step that recomputes the forward body: ``(forward, backward, n_res)``.

    The residuals are the nodes of the step VJP (:func:`_step_backward`) that depend on
    the step's carry or per-step inputs but on no cotangent, and that a
    cotangent-dependent node (or an output) uses: the frontier of the primal
    recomputation. ``forward``: ``(c, x, k) -> (c', c, r...)`` (the body's new carry,
    the carry it started from, the residuals); ``backward``: the step VJP's inputs
    with the residuals after the ``ȳ`` (``(c̄, k̄, c, x, ȳ, r..., k) -> (c̄', k̄', x̄)``).
    None when there is nothing to keep or the residuals exceed :data:`RESIDUAL_RATIO`
    entries per carry entry. Each residual is the same node the recomputing step
    evaluates, so the gradient is the same."""
    from ..ir.custom import substitute
    step = _step_backward(body, n_carry, n_xs)
    g = body.graph
    nC, nX = n_carry, n_xs
    nK = len(g.inputs) - nC - nX
    nY = len(g.outputs) - nC
    ins = list(step.inputs)
    grads = ins[:nC + nK] + ins[2 * nC + nK + nX:2 * nC + nK + nX + nY]
    C = ins[nC + nK:2 * nC + nK]
    X = ins[2 * nC + nK:2 * nC + nK + nX]
    K = ins[2 * nC + nK + nX + nY:]
    kind: dict[int, str] = {}       # "grad", "step" (depends on c or x), "inv"
    for x in grads:
        kind[id(x)] = "grad"
    for x in C + X:
        kind[id(x)] = "step"
    for n in step.nodes:
        if id(n) in kind:
            continue
        ks = {kind.get(id(a), "inv") for a in n.args}
        kind[id(n)] = "grad" if "grad" in ks else "step" if "step" in ks else "inv"
    inputs = {id(x) for x in ins}
    frontier: dict[int, Node] = {}
    pending = [a for n in step.nodes if kind.get(id(n)) == "grad" for a in n.args]
    pending += list(step.outputs)
    while pending:
        a = pending.pop()
        if kind.get(id(a)) != "step" or id(a) in inputs or a.is_const or id(a) in frontier:
            continue
        if a.prim.cost == 0:    # a view of step values: rebuilt from what it views
            pending.extend(a.args)
            continue
        frontier[id(a)] = a
    res = list(frontier.values())
    if not res or not all(isinstance(d, int) for r in res for d in r.shape):
        return None
    carry = sum(math.prod(c.shape) for c in C)
    if sum(math.prod(r.shape) for r in res) > RESIDUAL_RATIO * carry + 64:
        return None
    new_c = cf.inline(g, C + X + K)[:nC]
    forward = Graph(C + X + K, list(new_c) + list(C) + res)
    taken = set(step.input_names)
    r_in = [_fresh(r, f"%res{i}", taken) for i, r in enumerate(res)]
    outs = substitute(list(step.outputs), {id(r): v for r, v in zip(res, r_in)})
    ybar = ins[2 * nC + nK + nX:2 * nC + nK + nX + nY]
    backward = Graph(ins[:2 * nC + nK + nX] + ybar + r_in + K, outs)
    return forward, _tidy(backward), len(res)


def _sqrt_segment(length: int) -> int:
    """Segment length of ``"sqrt"`` checkpoints: ⌈√T⌉, or a divisor of T within a
    factor 2 of √T when there is one, so that no shorter last segment needs a loop of
    its own (equal segments: one forward and one backward loop; a remainder adds two,
    about 0.6 s of compile time)."""
    k = math.isqrt(length - 1) + 1
    if length % k == 0:
        return k
    for d in range(1, k):                       # nearest to √T first, below and above
        for c in (k - d, k + d):
            if max(2, k // 2) <= c <= 2 * k and length % c == 0:
                return c
    return k


def _segment(length: int, policy, reverse: bool) -> tuple[int | None, object]:
    """``(k, policy inside a segment)``: segments of ``k`` steps, or ``(None, _)`` to
    store every carry."""
    if reverse or policy == "all":
        return None, "all"
    if policy == "auto":
        policy = "all" if length <= 1024 else "sqrt"
        if policy == "all":
            return None, "all"
    if policy == "sqrt":
        k, inner = _sqrt_segment(length), "all"
    elif policy == "recursive":
        k, inner = (length + 1) // 2, "recursive"
    else:
        k, inner = int(policy), "all"
    return (None, "all") if k >= length or length <= 2 else (k, inner)


def _rows(x: Node, lo: int, hi: int) -> Node:
    return x if (lo, hi) == (0, x.shape[0]) else A.getitem(x, (slice(lo, hi),))


def _backward(body: Body, nC: int, nX: int, length: int, reverse: bool, policy,
              cbar, kbar, c0, xs, ybar, ks):
    """The reverse sweep of a scan of ``length`` steps from carry ``c0`` with cotangents
    ``cbar`` (final carry) and ``ybar`` (stacked outputs), continuing the loop-invariant
    adjoints ``kbar``. Returns ``(c̄₀, k̄, x̄s)`` as lists of nodes."""
    g = body.graph
    nK = len(ks)
    k, inner = _segment(length, policy, reverse)
    if k is None:
        split = _residual_steps(body, nC, nX)
        if split is not None:   # keep the step VJP's primal values, not recompute them
            forward, step, n_res = split
            res = scan_node(forward, c0, xs, ks, length, reverse=reverse, checkpoint="all")
            cs, rs = res[nC:2 * nC], res[2 * nC:2 * nC + n_res]
        else:
            store = Graph(g.inputs, list(g.outputs[:nC]) + list(g.inputs[:nC]))
            res = scan_node(store, c0, xs, ks, length, reverse=reverse, checkpoint="all")
            cs, rs = res[nC:2 * nC], []
            step = _step_backward(body, nC, nX)
        out = scan_node(step, list(cbar) + list(kbar), cs + list(xs) + list(ybar) + rs, ks,
                        length, reverse=not reverse, checkpoint="all")
        return out[:nC], out[nC:nC + nK], out[nC + nK:]
    q, r = divmod(length, k)
    head = lambda a: A.reshape(_rows(a, 0, q * k), (q, k) + a.shape[1:])  # noqa: E731
    tail = lambda a: _rows(a, q * k, length)  # noqa: E731
    # forward: the carry at the start of every segment
    taken = set(g.input_names)
    ins = list(g.inputs)
    seg_c = [_fresh(c, f"%c{i}", taken) for i, c in enumerate(ins[:nC])]
    seg_x = [_fresh(x, f"%x{i}", taken, (k,) + x.shape)
             for i, x in enumerate(ins[nC:nC + nX])]
    seg_k = [_fresh(a, f"%k{i}", taken) for i, a in enumerate(ins[nC + nX:])]
    carry_only = Graph(g.inputs, list(g.outputs[:nC]))
    end = scan_node(carry_only, seg_c, seg_x, seg_k, k, checkpoint="all")
    seg_fwd = Graph(seg_c + seg_x + seg_k, end + seg_c)
    res = scan_node(seg_fwd, c0, [head(a) for a in xs], ks, q, checkpoint="all")
    cq, starts = res[:nC], res[nC:]
    cb, kb = list(cbar), list(kbar)
    x_tail = []
    if r:
        cb, kb, x_tail = _backward(body, nC, nX, r, False, "all", cb, kb, cq,
                                   [tail(a) for a in xs], [tail(a) for a in ybar], ks)
    seg_bwd = _segment_backward(body, nC, nX, k, inner)
    out = scan_node(seg_bwd, cb + kb, starts + [head(a) for a in xs] +
                    [head(a) for a in ybar], ks, q, reverse=True, checkpoint="all")
    xbar = []
    for i, h in enumerate(out[nC + nK:]):
        flat = A.reshape(h, (q * k,) + h.shape[2:])
        xbar.append(A.concatenate(flat, x_tail[i]) if r else flat)
    return out[:nC], out[nC:nC + nK], xbar


@lru_cache(maxsize=256)
def _segment_backward(body: Body, nC: int, nX: int, length: int, policy) -> Graph:
    """:func:`_backward` of one segment as a graph (the body of the reverse scan over
    segments): inputs ``(c̄..., k̄..., c_start..., xs..., ȳs..., k...)``."""
    g = body.graph
    ins = list(g.inputs)
    taken = set()
    C, X, K = ins[:nC], ins[nC:nC + nX], ins[nC + nX:]
    Y = list(g.outputs[nC:])
    cbar = [_fresh(c, f"%cbar{i}", taken) for i, c in enumerate(C)]
    kbar = [_fresh(a, f"%kbar{i}", taken) for i, a in enumerate(K)]
    c0 = [_fresh(c, f"%c{i}", taken) for i, c in enumerate(C)]
    xs = [_fresh(x, f"%x{i}", taken, (length,) + x.shape) for i, x in enumerate(X)]
    ybar = [_fresh(y, f"%ybar{i}", taken, (length,) + y.shape) for i, y in enumerate(Y)]
    ks = [_fresh(a, f"%k{i}", taken) for i, a in enumerate(K)]
    a, b, c = _backward(body, nC, nX, length, False, policy, cbar, kbar, c0, xs, ybar, ks)
    return Graph(cbar + kbar + c0 + xs + ybar + ks, list(a) + list(b) + list(c))


def scan_vjp(x, *, out, cotangent, body, length, n_carry, n_xs=0, reverse=False,
             checkpoint="auto", **_):
    """VJP rule of ``scan`` (see the module docstring for the storage policies)."""
    cotangent = _full(cotangent, out)
    g = body.graph
    nC, nX = n_carry, n_xs
    in_shapes, _, out_shapes, _ = cf.scan_layout(g, length, nC, nX)
    px = unpack(x, in_shapes)
    c0, xs, ks = px[:nC], px[nC:nC + nX], px[nC + nX:]
    pb = unpack(cotangent, out_shapes)
    cbar, ybar = pb[:nC], pb[nC:]
    kbar = [_zero(a) for a in g.inputs[nC + nX:]]
    c_bar0, k_bar, x_bar = _backward(body, nC, nX, length, reverse, checkpoint, cbar, kbar,
                                     c0, xs, ybar, ks)
    return (pack(list(c_bar0) + list(x_bar) + list(k_bar)),)


def while_vjp(x, *, out, cotangent, cond, body, n_carry, max_steps=None, **_):
    """VJP rule of ``while_loop``: needs ``max_steps`` (the loop is then a scan of
    ``max_steps`` masked steps)."""
    cotangent = _full(cotangent, out)
    if max_steps is None:
        raise NotDifferentiableError(
            "reverse mode through a while_loop needs a bound on its trip count: give "
            "gc.while_loop(..., max_steps=N) (the loop then stops after N steps and its "
            "reverse sweep runs N masked steps), or use forward mode (gc.jvp, "
            "jacobian(mode='fwd')), which differentiates any while_loop")
    shapes = [i.shape for i in body.graph.inputs]
    if max_steps == 0:
        parts = unpack(x, shapes)
        bars = unpack(cotangent, [o.shape for o in body.graph.outputs])
        return (pack(bars + [_zero(p) for p in parts[n_carry:]]),)
    xv = ops.variable("%x", x.dtype, x.shape)
    cv = ops.variable("%bar", cotangent.dtype, cotangent.shape)
    e = cf.while_as_scan(xv, cond, body, n_carry, max_steps)
    adj = ad.adjoints(Graph([xv], [e]), [xv], [cv])
    grad_graph = Graph([xv, cv], [ad._or_zero(adj.get(id(xv)), xv)])
    return (cf.inline(grad_graph, [x, cotangent])[0],)


def switch_vjp(x, *, out, cotangent, branches, **_):
    """VJP rule of ``switch``: a switch over the branches' VJP graphs."""
    cotangent = _full(cotangent, out)
    g0 = branches[0].graph
    shapes = [()] + [i.shape for i in g0.inputs]
    px = unpack(x, shapes)
    bars = unpack(cotangent, [o.shape for o in g0.outputs])
    new = []
    for b in branches:
        g = b.graph
        taken = set(g.input_names)
        cots = [_fresh(o, f"%bar{i}", taken) for i, o in enumerate(g.outputs)]
        adj = ad.adjoints(g, list(g.inputs), cots)
        new.append(_tidy(Graph(list(g.inputs) + cots,
                               [ad._or_zero(adj.get(id(i)), i) for i in g.inputs])))
    # every branch must declare the same inputs: the cotangent names may differ
    names = [tuple(i.name for i in h.inputs) for h in new]
    if len(set(names)) > 1:  # pragma: no cover - names come from the same frontend
        raise NotDifferentiableError("switch: branches with differently named inputs")
    node = apply(cf.switch_p, pack(px + bars), branches=tuple(new))
    index_bar = ops.const(0.0, node.dtype, (1,))
    return (A.concatenate(index_bar, node),)


cf.RULES.update({
    "scan.jvp": scan_jvp, "scan.vjp": scan_vjp,
    "while_loop.jvp": while_jvp, "while_loop.vjp": while_vjp,
    "switch.jvp": switch_jvp, "switch.vjp": switch_vjp,
})


# ---------------------------------------------------------------------------------
# passes

def map_bodies(graph: Graph, fn: Callable[[Graph], Graph]) -> Graph:
    """``graph`` with ``fn`` applied to the body of every control-flow node (and, since
    ``fn`` is usually a pass that calls this, to nested bodies). Graphs without loops or
    branches come back unchanged."""
    if not any(cf.is_control(n) for n in graph.operations):
        return graph
    from .rewrite import rebuild, same_node

    def rule(node: Node, args: tuple[Node, ...]) -> Node:
        if not cf.is_control(node):
            return same_node(node, args)
        params = {}
        for k, v in node.params:
            if k.startswith("_"):
                continue
            if isinstance(v, Body):
                v = Body(fn(v.graph))
            elif isinstance(v, tuple) and v and all(isinstance(b, Body) for b in v):
                v = tuple(Body(fn(b.graph)) for b in v)
            params[k] = v
        return apply(node.prim, *args, **params)

    return rebuild(graph, rule)


def hoist_invariants(graph: Graph) -> Graph:
    """Loop-invariant code motion: in every ``scan`` and ``while_loop``, operations of
    the body that depend only on its loop-invariant operands (not on the carry or the
    per-step inputs) are computed once, before the loop, and enter the body as new
    loop-invariant operands. Values are unchanged bit for bit (the same operations on
    the same numbers)."""
    graph = map_bodies(graph, hoist_invariants)
    if not any(n.prim in (cf.scan_p, cf.while_p) for n in graph.operations):
        return graph
    from .rewrite import rebuild, same_node

    def rule(node: Node, args: tuple[Node, ...]) -> Node:
        if node.prim not in (cf.scan_p, cf.while_p):
            return same_node(node, args)
        p = {k: v for k, v in node.params if not k.startswith("_")}
        (x,) = args
        if node.prim is cf.scan_p:
            g = p["body"].graph
            n_var = p["n_carry"] + p["n_xs"]
            in_shapes = cf.scan_layout(g, p["length"], p["n_carry"], p["n_xs"])[0]
            others = []
        else:
            g = p["body"].graph
            n_var = p["n_carry"]
            in_shapes = [i.shape for i in g.inputs]
            others = [p["cond"].graph]
        variant = {id(i) for i in g.inputs[:n_var]}
        for sub in [g] + others:
            for n in sub.operations:
                if any(id(a) in variant for a in n.args):
                    variant.add(id(n))
        frontier: dict[int, Node] = {}
        for sub in [g] + others:
            for n in sub.operations:
                if id(n) in variant:
                    for a in n.args:
                        if a.args and id(a) not in variant:
                            frontier.setdefault(id(a), a)
            for o in sub.outputs:
                if o.args and id(o) not in variant:
                    frontier.setdefault(id(o), o)
        if not frontier:
            return same_node(node, args)
        hoisted = list(frontier.values())
        taken = set(g.input_names)
        new_in = [_fresh(h, f"%h{i}", taken) for i, h in enumerate(hoisted)]
        sub_map = {id(h): v for h, v in zip(hoisted, new_in)}

        def replaced(sub: Graph) -> Graph:
            new: dict[int, Node] = {}
            for n in sub.nodes:
                if id(n) in sub_map:
                    new[id(n)] = sub_map[id(n)]
                elif not n.args:
                    new[id(n)] = n
                else:
                    new[id(n)] = same_node(n, tuple(new[id(a)] for a in n.args))
            return Graph(list(sub.inputs) + new_in, [new[id(o)] for o in sub.outputs])

        pieces = unpack(x, in_shapes)
        outer = cf.inline(Graph(g.inputs, hoisted), pieces)
        if node.prim is cf.scan_p:
            p["body"] = replaced(g)
        else:
            p["body"], p["cond"] = replaced(g), replaced(p["cond"].graph)
        new = apply(node.prim, pack(pieces + outer), **p)
        return new

    return rebuild(graph, rule)
