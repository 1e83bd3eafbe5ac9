"""Control flow in the IR: ``scan``, ``while_loop`` and ``switch`` nodes holding sub-graphs.

A loop or a branch is one node whose *body* is a :class:`~graphc.ir.Graph`, kept as a
node parameter (:class:`Body`: the graph with a structural key, so that nodes with
structurally equal bodies intern to one node and CSE shares them). IR nodes have one
argument list of fixed arity and one value, so a control-flow node takes and gives
*packed* vectors: its one argument is the concatenation of its operands, each
flattened in C order (:func:`pack`), and its value is the concatenation of its
results; :func:`unpack` slices and reshapes them back (``getitem`` + ``reshape``, whose
derivative rules exist). A packed vector has dtype float64 if any piece does, else
float32. Shapes must be concrete (no symbolic dimensions).

The three primitives (after ``jax.lax``):

* ``scan(x; body, length, n_carry, n_xs, reverse, checkpoint)``: ``x`` packs
  ``(carry₀..., xs..., consts...)``; ``body`` maps ``(carry..., x_t..., consts...)`` to
  ``(carry'..., y_t...)``; the value packs ``(final carry..., ys...)`` where every
  ``xs``/``ys`` piece has a leading axis of ``length``. ``reverse`` runs t = length-1 … 0.
  ``checkpoint`` chooses what reverse mode stores (docs/loops.md).
* ``while_loop(x; cond, body, n_carry, max_steps)``: ``x`` packs ``(carry..., consts...)``;
  while ``cond(carry..., consts...) != 0`` (and fewer than ``max_steps`` steps ran, when
  given) ``carry = body(carry..., consts...)``; the value packs the final carry.
* ``switch(x; branches)``: ``x`` packs ``(index, operands...)``; the value packs
  ``branches[k](operands...)`` for ``k = clip(floor(index), 0, n-1)`` (NaN: 0). Only the
  chosen branch is evaluated, so a NaN in another branch cannot reach the value or its
  derivatives.

The NumPy reference semantics run loops as loops, evaluating the body's compiled step
program once per step. The LLVM backend runs them as loops and branches
(:class:`graphc.backends.plan.LoopStep`); so does the CUDA backend for graphs of scalar
inputs and outputs, one thread per point (:mod:`graphc.backends.cuda.loops`). Their
``decompose`` rules unroll (``scan``, bounded ``while_loop``) or select (``switch``)
where loops are not lowered yet (CUDA array graphs), refusing above
:data:`MAX_UNROLL` operations. Their derivative rules live in
:mod:`graphc.passes.loops` (the layer above), which registers them in :data:`RULES`.

These primitives are registered in :data:`graphc.ir.primitive.HIGHER_ORDER`, not in
``PRIMITIVES``: the registry-generated tests of first-order operations (domains,
SymPy references, NumPy names) do not apply to operations over graphs.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Callable, Sequence

import numpy as np

from . import array_ops as A
from . import batching as _b
from . import ops
from .errors import GraphcError, LoweringError, NotDifferentiableError, ShapeError
from .graph import Graph, graph_from_state, graph_state, postorder
from .node import Node, stable_repr
from .primitive import Primitive, apply, register_higher_order

NP_DTYPES = {"float64": np.float64, "float32": np.float32}

MAX_UNROLL = 20_000
"""The most operations a ``decompose`` rule unrolls a loop into (trip count × body
operations); above it the rule raises :class:`~graphc.ir.LoweringError`."""

CHECKPOINTS = ("auto", "all", "sqrt", "recursive")
"""The named reverse-mode storage policies of ``scan`` (an int ``k`` is one too: keep the
carry every ``k`` steps). See :func:`graphc.passes.loops.scan_vjp`."""

RULES: dict[str, Callable] = {}
"""Derivative rules by name (``"scan.jvp"``, ``"scan.vjp"``...), registered by
:mod:`graphc.passes.loops` when it is imported (``import graphc`` does)."""


# ---------------------------------------------------------------------------------
# bodies: graphs as node parameters

def graph_key(graph: Graph) -> str:
    """A structural key of ``graph`` (32 hex digits, the same in every process): BLAKE2b
    over its nodes in post-order (primitive, argument positions, parameters, dtype,
    shape) and the positions of its inputs and outputs. Structurally equal graphs (the
    same operations on inputs of the same names) get the same key; output names and
    labels do not count."""
    nodes = postorder(tuple(graph.inputs) + tuple(graph.outputs))
    index = {id(n): i for i, n in enumerate(nodes)}
    h = hashlib.blake2b(digest_size=16)
    for n in nodes:
        h.update(f"{n.prim.name}|{','.join(str(index[id(a)]) for a in n.args)}|"
                 f"{stable_repr(n.params)}|{n.dtype}|{stable_repr(tuple(n.shape))};".encode())
    h.update(("in:" + ",".join(str(index[id(x)]) for x in graph.inputs) + "|out:" +
              ",".join(str(index[id(o)]) for o in graph.outputs)).encode())
    return h.hexdigest()


class Body(str):
    """A :class:`Graph` as a node parameter: a ``str`` whose text is ``graph:<key>``
    (:func:`graph_key`), so parameters stay hashable and print and intern by structure,
    with the graph itself in :attr:`graph`. Pickles as the graph's flat state."""

    graph: Graph

    def __new__(cls, graph: "Graph | Body") -> "Body":
        if isinstance(graph, Body):
            return graph
        if not isinstance(graph, Graph):
            raise GraphcError(f"a loop or branch body must be a graphc.Graph, got "
                              f"{type(graph).__name__}")
        self = super().__new__(cls, "graph:" + graph_key(graph))
        self.graph = graph
        return self

    def __reduce__(self):
        return (_body_from_state, (graph_state(self.graph),))


def _body_from_state(state) -> Body:
    return Body(graph_from_state(state))


def bodies(node: Node) -> list[Body]:
    """The sub-graphs a node holds (its :class:`Body` parameters, in parameter order)."""
    out = []
    for _, v in node.params:
        if isinstance(v, Body):
            out.append(v)
        elif isinstance(v, tuple):
            out.extend(b for b in v if isinstance(b, Body))
    return out


def is_control(node: Node) -> bool:
    """True for a ``scan``, ``while_loop`` or ``switch`` node."""
    return node.prim.name in ("scan", "while_loop", "switch")


# ---------------------------------------------------------------------------------
# packing

def size_of(shape: tuple, what: str = "a loop operand") -> int:
    """The number of entries of a concrete ``shape``.

    Raises:
        ShapeError: a symbolic dimension (loops need concrete shapes).
    """
    if not all(isinstance(d, int) for d in shape):
        raise ShapeError(f"{what} has the symbolic shape {shape}; loops and branches need "
                         f"concrete shapes (specialise the graph first)")
    return math.prod(shape)


def pack_dtype(dtypes: Sequence[str]) -> str:
    """The dtype of a packed vector of pieces of ``dtypes``: float64 if any is (or if
    there are none), else float32."""
    return "float64" if any(d == "float64" for d in dtypes) or not dtypes else "float32"


def pack(nodes: Sequence[Node]) -> Node:
    """``nodes`` flattened (C order) and concatenated into one vector: the argument or
    value of a control-flow node. Raises ShapeError for symbolic shapes or no nodes."""
    if not nodes:
        raise ShapeError("nothing to pack: a loop needs at least one operand")
    flat = []
    for n in nodes:
        n = ops.lift(n)
        s = size_of(n.shape)
        flat.append(n if n.shape == (s,) else A.reshape(n, (s,)))
    return flat[0] if len(flat) == 1 else A.concatenate(*flat)


def unpack(packed: Node, shapes: Sequence[tuple]) -> list[Node]:
    """The pieces of ``packed`` (a vector made by :func:`pack`) of the given shapes."""
    sizes = [size_of(s) for s in shapes]
    total = sum(sizes)
    if packed.shape != (total,):
        raise ShapeError(f"a packed vector of shape {packed.shape} cannot hold pieces of "
                         f"shapes {list(shapes)} ({total} entries)")
    out, off = [], 0
    for s, k in zip(shapes, sizes):
        piece = packed if k == total else A.getitem(packed, (slice(off, off + k),))
        out.append(piece if tuple(s) == (k,) else A.reshape(piece, tuple(s)))
        off += k
    return out


def split_array(x: np.ndarray, shapes: Sequence[tuple], dtypes: Sequence[str]) -> list:
    """NumPy version of :func:`unpack` (views, cast to each piece's dtype)."""
    out, off = [], 0
    for s, dt in zip(shapes, dtypes):
        k = math.prod(s)
        out.append(np.asarray(x[off:off + k].reshape(s), NP_DTYPES[dt]))
        off += k
    return out


def _concat(arrays, dtype) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype).ravel() for a in arrays])


# ---------------------------------------------------------------------------------
# the step program: a body graph evaluated many times

_PROGRAMS: dict[str, Callable] = {}


def program(body: Body) -> Callable[[Sequence[np.ndarray]], list[np.ndarray]]:
    """``run(args) -> outputs``: ``body.graph`` compiled to a flat list of primitive
    ``impl`` calls (the NumPy reference semantics, as the interpreter evaluates them),
    cached by the body's key; for evaluating a body once per loop step."""
    run = _PROGRAMS.get(body)
    if run is not None:
        return run
    graph = body.graph
    nodes = graph.nodes
    idx = {id(n): i for i, n in enumerate(nodes)}
    n_in = len(graph.inputs)
    consts, code = [], []
    for i, n in enumerate(nodes[n_in:], start=n_in):
        if n.is_const:
            v = np.asarray(n.value, NP_DTYPES[n.dtype])
            consts.append((i, np.broadcast_to(v, n.shape) if n.shape else v))
        else:
            params = {k: v for k, v in n.params if k != "_text"}
            f = functools.partial(n.prim.impl, **params) if params else n.prim.impl
            ai = tuple(idx[id(a)] for a in n.args)
            code.append((i, f, ai[0], ai[1] if len(ai) > 1 else -1, ai[2:],
                         np.dtype(NP_DTYPES[n.dtype])))
    outs = [idx[id(o)] for o in graph.outputs]
    in_dtypes = [NP_DTYPES[x.dtype] for x in graph.inputs]
    size = len(nodes)
    ndarray, asarray = np.ndarray, np.asarray

    def run(args):
        regs = [None] * size
        for i, (a, dt) in enumerate(zip(args, in_dtypes)):
            regs[i] = asarray(a, dt)
        for i, v in consts:
            regs[i] = v
        for i, f, a0, a1, rest, dt in code:
            if a1 < 0:
                r = f(regs[a0])
            elif not rest:
                r = f(regs[a0], regs[a1])
            else:
                r = f(regs[a0], regs[a1], *[regs[j] for j in rest])
            regs[i] = r if r.__class__ is ndarray and r.dtype is dt else asarray(r, dt)
        return [regs[j] for j in outs]

    if len(_PROGRAMS) > 512:
        _PROGRAMS.clear()
    _PROGRAMS[body] = run
    return run


def inline(graph: Graph, args: Sequence[Node]) -> list[Node]:
    """``graph``'s outputs built on ``args`` (one node per input) in the enclosing graph:
    the body's operations copied with its inputs replaced."""
    new: dict[int, Node] = {id(x): a for x, a in zip(graph.inputs, args)}
    for n in graph.nodes:
        if id(n) in new:
            continue
        if not n.args:
            new[id(n)] = n
            continue
        new[id(n)] = apply(n.prim, *[new[id(a)] for a in n.args],
                           **{k: v for k, v in n.params if not k.startswith("_")})
    return [new[id(o)] for o in graph.outputs]


def _rule(name: str) -> Callable:
    def call(*args, **kwargs):
        fn = RULES.get(name)
        if fn is None:
            raise NotDifferentiableError(f"the derivative rules of {name.split('.')[0]} are "
                                         f"defined in graphc.passes.loops; import graphc")
        return fn(*args, **kwargs)
    call.__name__ = name.replace(".", "_")
    return call


def unrolled_size(graph: Graph) -> int:
    """The number of operations ``graph`` has once every loop in it (and in its bodies)
    is unrolled; an unbounded while_loop counts as one more than :data:`MAX_UNROLL`."""
    total = 0
    for n in graph.operations:
        p = dict(n.params)
        if n.prim.name == "scan":
            total += p["length"] * unrolled_size(p["body"].graph)
        elif n.prim.name == "while_loop":
            if p["max_steps"] is None:
                return MAX_UNROLL + 1
            total += p["max_steps"] * (unrolled_size(p["body"].graph) +
                                       unrolled_size(p["cond"].graph) + 3)
        elif n.prim.name == "switch":
            total += sum(unrolled_size(b.graph) for b in p["branches"]) + len(p["branches"])
        else:
            total += 1
        if total > MAX_UNROLL:
            return total
    return total


def _unroll_check(what: str, steps: int, body: Graph) -> None:
    n = max(1, unrolled_size(body))
    if steps * n > MAX_UNROLL:
        raise LoweringError(
            f"{what} of {steps} steps over a body of {n} operations would unroll into "
            f"{steps * n} operations, above the limit of {MAX_UNROLL} for backends that "
            f"unroll loops (CUDA for graphs with array inputs or outputs: CUDA runs loops "
            f"as loops, one thread per point, in graphs of scalar inputs and outputs; and "
            f"LLVM for loops mixing float32 and float64 pieces); compile with "
            f"target='llvm' or 'numpy', which run loops as loops")


# ---------------------------------------------------------------------------------
# scan

def scan_layout(body: Graph, length: int, n_carry: int, n_xs: int):
    """``(in_shapes, in_dtypes, out_shapes, out_dtypes)`` of the packed argument and value
    of a scan node over ``body``."""
    ins = body.inputs
    in_shapes = [x.shape for x in ins[:n_carry]] + \
        [(length,) + x.shape for x in ins[n_carry:n_carry + n_xs]] + \
        [x.shape for x in ins[n_carry + n_xs:]]
    outs = body.outputs
    out_shapes = [o.shape for o in outs[:n_carry]] + [(length,) + o.shape
                                                      for o in outs[n_carry:]]
    return (in_shapes, [x.dtype for x in ins], out_shapes, [o.dtype for o in outs])


def _check_counts(body: Graph, n_carry, what: str) -> None:
    if not isinstance(n_carry, int) or isinstance(n_carry, bool) or n_carry < 1:
        raise ShapeError(f"{what}: n_carry must be a positive int, got {n_carry!r}")
    if n_carry > len(body.inputs) or n_carry > len(body.outputs):
        raise ShapeError(f"{what}: n_carry={n_carry} but the body has "
                         f"{len(body.inputs)} inputs and {len(body.outputs)} outputs")
    for i, (x, o) in enumerate(zip(body.inputs[:n_carry], body.outputs[:n_carry])):
        if x.shape != o.shape or x.dtype != o.dtype:
            raise ShapeError(f"{what}: carry {i} enters the body as {x.dtype}{list(x.shape)} "
                             f"but leaves it as {o.dtype}{list(o.shape)}; a carry must keep "
                             f"its shape and dtype")
    for x in body.inputs:
        size_of(x.shape, f"{what} body input {x.name!r}")
    for o in body.outputs:
        size_of(o.shape, f"{what} body output")


def _scan_canon(x, *, body, length, n_carry, n_xs=0, reverse=False, checkpoint="auto"):
    body = Body(body)
    g = body.graph
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ShapeError(f"length must be a positive int, got {length!r}")
    _check_counts(g, n_carry, "scan")
    if not isinstance(n_xs, int) or n_xs < 0 or n_carry + n_xs > len(g.inputs):
        raise ShapeError(f"n_xs={n_xs!r} does not fit a body of {len(g.inputs)} inputs")
    if not (checkpoint in CHECKPOINTS or (isinstance(checkpoint, int) and
                                          not isinstance(checkpoint, bool) and checkpoint >= 1)):
        raise ShapeError(f"checkpoint={checkpoint!r}: give one of {', '.join(CHECKPOINTS)} "
                         f"or a positive int k (keep the carry every k steps)")
    return {"body": body, "length": length, "n_carry": n_carry, "n_xs": n_xs,
            "reverse": bool(reverse), "checkpoint": checkpoint,
            "_text": f", length={length}" + (", reverse" if reverse else "")}


def _scan_shape(x, *, body, length, n_carry, n_xs, **_):
    in_shapes, _d, out_shapes, _o = scan_layout(body.graph, length, n_carry, n_xs)
    want = sum(size_of(s) for s in in_shapes)
    if tuple(x.shape) != (want,):
        raise ShapeError(f"scan: the packed operand has shape {tuple(x.shape)}, the body "
                         f"needs ({want},)")
    return (sum(size_of(s) for s in out_shapes),)


def _scan_impl(x, *, body, length, n_carry, n_xs, reverse=False, **_):
    g = body.graph
    in_shapes, in_dtypes, out_shapes, out_dtypes = scan_layout(g, length, n_carry, n_xs)
    pieces = split_array(np.asarray(x), in_shapes, in_dtypes)
    carry = pieces[:n_carry]
    xs = pieces[n_carry:n_carry + n_xs]
    ks = pieces[n_carry + n_xs:]
    ys = [np.empty(s, NP_DTYPES[d]) for s, d in zip(out_shapes[n_carry:], out_dtypes[n_carry:])]
    run = program(body)
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = run(carry + [a[t] for a in xs] + ks)
        carry = outs[:n_carry]
        for buf, y in zip(ys, outs[n_carry:]):
            buf[t] = y
    return _concat(carry + ys, NP_DTYPES[pack_dtype(out_dtypes)])


def scan_node(body: Graph, init: Sequence[Node], xs: Sequence[Node], consts: Sequence[Node],
              length: int, *, reverse: bool = False, checkpoint="auto") -> list[Node]:
    """Build a scan node and return its results ``[final carry..., ys...]``.

    Args:
        body: graph over ``(carry..., x_t..., consts...)`` (in that input order) giving
            ``(carry'..., y_t...)``; each carry keeps its shape and dtype.
        init: the initial carry nodes; ``xs``: per-step inputs of leading axis
            ``length``; ``consts``: loop-invariant operands.
        length: the trip count (a positive int).
        reverse: run t = length-1 … 0 (``xs`` and ``ys`` indexed by t as usual).
        checkpoint: what reverse mode stores (see :data:`CHECKPOINTS`).

    Raises:
        ShapeError: operand shapes that do not match the body's inputs, a carry whose
            shape or dtype changes, symbolic shapes.
    """
    n_carry, n_xs = len(init), len(xs)
    operands = list(init) + list(xs) + list(consts)
    in_shapes, _, out_shapes, _ = scan_layout(body, length, n_carry, n_xs)
    if len(operands) != len(body.inputs):
        raise ShapeError(f"scan: {len(operands)} operands for a body of "
                         f"{len(body.inputs)} inputs")
    for i, (op, s) in enumerate(zip(operands, in_shapes)):
        if tuple(op.shape) != tuple(s):
            raise ShapeError(f"scan: operand {i} has shape {op.shape}, the body needs {s}")
    node = apply(scan_p, pack(operands), body=body, length=length, n_carry=n_carry,
                 n_xs=n_xs, reverse=reverse, checkpoint=checkpoint)
    return unpack(node, out_shapes)


def _scan_decompose(x, *, out, body, length, n_carry, n_xs, reverse=False, **_):
    g = body.graph
    _unroll_check("scan", length, g)
    in_shapes, _, out_shapes, _ = scan_layout(g, length, n_carry, n_xs)
    pieces = unpack(x, in_shapes)
    carry = pieces[:n_carry]
    xs = pieces[n_carry:n_carry + n_xs]
    ks = pieces[n_carry + n_xs:]
    ys: list[list[Node]] = [[None] * length for _ in out_shapes[n_carry:]]
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        xt = [A.reshape(A.getitem(a, (slice(t, t + 1),)), a.shape[1:]) for a in xs]
        outs = inline(g, carry + xt + ks)
        carry = outs[:n_carry]
        for buf, y in zip(ys, outs[n_carry:]):
            buf[t] = y
    stacked = [A.stack(*buf) for buf in ys]
    res = pack(carry + stacked)
    return res


# ---------------------------------------------------------------------------------
# while_loop

def _while_canon(x, *, cond, body, n_carry, max_steps=None):
    cond, body = Body(cond), Body(body)
    g, c = body.graph, cond.graph
    _check_counts(g, n_carry, "while_loop")
    if len(g.outputs) != n_carry:
        raise ShapeError(f"while_loop: the body gives {len(g.outputs)} values for "
                         f"{n_carry} carries")
    if [(i.name, i.shape, i.dtype) for i in c.inputs] != \
            [(i.name, i.shape, i.dtype) for i in g.inputs]:
        raise ShapeError("while_loop: the condition and the body must take the same inputs")
    if len(c.outputs) != 1 or c.outputs[0].shape != ():
        raise ShapeError("while_loop: the condition must give one scalar")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool)
                                  or max_steps < 0):
        raise ShapeError(f"max_steps must be None or an int >= 0, got {max_steps!r}")
    return {"cond": cond, "body": body, "n_carry": n_carry, "max_steps": max_steps,
            "_text": "" if max_steps is None else f", max_steps={max_steps}"}


def _while_shape(x, *, body, n_carry, **_):
    g = body.graph
    want = sum(size_of(i.shape) for i in g.inputs)
    if tuple(x.shape) != (want,):
        raise ShapeError(f"while_loop: the packed operand has shape {tuple(x.shape)}, the "
                         f"body needs ({want},)")
    return (sum(size_of(o.shape) for o in g.outputs),)


def _while_impl(x, *, cond, body, n_carry, max_steps=None, **_):
    g = body.graph
    pieces = split_array(np.asarray(x), [i.shape for i in g.inputs],
                         [i.dtype for i in g.inputs])
    carry, ks = pieces[:n_carry], pieces[n_carry:]
    run_c, run_b = program(cond), program(body)
    steps = 0
    while (max_steps is None or steps < max_steps) and run_c(carry + ks)[0] != 0:
        carry = run_b(carry + ks)
        steps += 1
    return _concat(carry, NP_DTYPES[pack_dtype([o.dtype for o in g.outputs])])


def while_node(cond: Graph, body: Graph, init: Sequence[Node], consts: Sequence[Node],
               max_steps: int | None = None) -> list[Node]:
    """Build a while_loop node and return the final carry nodes.

    Args:
        cond: graph over ``(carry..., consts...)`` giving one scalar (continue while != 0).
        body: graph over the same inputs giving the next ``carry...``.
        init, consts: the initial carry and the loop-invariant operands.
        max_steps: None (unbounded; not differentiable in reverse mode) or the most
            steps to run (the loop stops there; reverse mode then differentiates it).
    """
    operands = list(init) + list(consts)
    for i, (op, x) in enumerate(zip(operands, body.inputs)):
        if tuple(op.shape) != tuple(x.shape):
            raise ShapeError(f"while_loop: operand {i} has shape {op.shape}, the body "
                             f"needs {x.shape}")
    node = apply(while_p, pack(operands), cond=cond, body=body, n_carry=len(init),
                 max_steps=max_steps)
    return unpack(node, [o.shape for o in body.outputs])


def while_as_scan(x: Node, cond: Body, body: Body, n_carry: int, max_steps: int) -> Node:
    """The packed value of a bounded while_loop built as a scan of ``max_steps`` masked
    steps (a step once the condition failed keeps the carry: ``where(running, body(c),
    c)``; the mask makes the derivative of a skipped step the identity, and the select's
    derivative rule keeps a NaN of a skipped step out of it)."""
    g, c = body.graph, cond.graph
    ins = g.inputs
    carry_in = list(ins[:n_carry])
    ks = list(ins[n_carry:])
    run = ops.variable("%running", g.outputs[0].dtype)
    go = ops.mul(run, ops.ne(inline(c, carry_in + ks)[0], 0.0))
    nxt = inline(g, carry_in + ks)
    new = [ops.where(go, a, b) for a, b in zip(nxt, carry_in)]
    step = Graph(carry_in + [run] + ks, new + [go])
    pieces = unpack(x, [i.shape for i in ins])
    one = ops.const(1.0, g.outputs[0].dtype)
    outs = scan_node(step, pieces[:n_carry] + [one], [], pieces[n_carry:], max_steps)
    return pack(outs[:n_carry])


def _while_decompose(x, *, out, cond, body, n_carry, max_steps=None, **_):
    if max_steps is None:
        raise LoweringError("a while_loop without max_steps cannot be unrolled for this "
                            "backend; give max_steps= or compile with target='numpy'")
    if max_steps == 0:
        return pack(unpack(x, [i.shape for i in body.graph.inputs])[:n_carry])
    return _scan_decompose_node(while_as_scan(x, cond, body, n_carry, max_steps))


def _scan_decompose_node(packed: Node) -> Node:
    """Unroll the scan nodes under ``packed`` (the result of :func:`while_as_scan`)."""
    done: dict[int, Node] = {}
    for n in postorder([packed]):
        if not n.args:
            done[id(n)] = n
            continue
        args = [done[id(a)] for a in n.args]
        params = {k: v for k, v in n.params if not k.startswith("_")}
        if n.prim is scan_p:
            done[id(n)] = _scan_decompose(*args, out=n, **params)
        else:
            done[id(n)] = apply(n.prim, *args, **params)
    return done[id(packed)]


# ---------------------------------------------------------------------------------
# switch

def _switch_canon(x, *, branches):
    if not isinstance(branches, (tuple, list)) or not branches:
        raise ShapeError("switch needs a non-empty tuple of branch graphs")
    branches = tuple(Body(b) for b in branches)
    first = branches[0].graph
    sig_in = [(i.shape, i.dtype) for i in first.inputs]
    sig_out = [(o.shape, o.dtype) for o in first.outputs]
    for k, b in enumerate(branches[1:], start=1):
        g = b.graph
        if [(i.shape, i.dtype) for i in g.inputs] != sig_in:
            raise ShapeError(f"switch: branch {k} takes inputs "
                             f"{[(i.shape, i.dtype) for i in g.inputs]}, branch 0 {sig_in}")
        if [(o.shape, o.dtype) for o in g.outputs] != sig_out:
            raise ShapeError(f"switch: branch {k} gives "
                             f"{[(o.shape, o.dtype) for o in g.outputs]}, branch 0 gives "
                             f"{sig_out}; every branch must give the same shapes and dtypes")
    return {"branches": branches, "_text": f", {len(branches)} branches"}


def _switch_shape(x, *, branches, **_):
    g = branches[0].graph
    want = 1 + sum(size_of(i.shape) for i in g.inputs)
    if tuple(x.shape) != (want,):
        raise ShapeError(f"switch: the packed operand has shape {tuple(x.shape)}, the "
                         f"branches need ({want},)")
    return (sum(size_of(o.shape) for o in g.outputs),)


def branch_index(index: float, n: int) -> int:
    """The branch ``switch`` takes: ``clip(floor(index), 0, n-1)``, 0 for NaN."""
    if index != index:
        return 0
    return int(min(max(math.floor(index), 0), n - 1))


def _switch_impl(x, *, branches, **_):
    g = branches[0].graph
    x = np.asarray(x)
    k = branch_index(float(x[0]), len(branches))
    pieces = split_array(x[1:], [i.shape for i in g.inputs], [i.dtype for i in g.inputs])
    outs = program(branches[k])(pieces)
    return _concat(outs, NP_DTYPES[pack_dtype([o.dtype for o in g.outputs])])


def switch_node(index: Node, branches: Sequence[Graph], operands: Sequence[Node]) -> list[Node]:
    """Build a switch node: the outputs of ``branches[clip(floor(index), 0, n-1)]`` on
    ``operands`` (each branch a graph over inputs of the operands' shapes)."""
    index = ops.lift(index)
    if index.shape != ():
        raise ShapeError(f"a branch index must be a scalar, got shape {index.shape}")
    node = apply(switch_p, pack([index] + list(operands)), branches=tuple(branches))
    return unpack(node, [o.shape for o in branches[0].outputs])


CHEAP_BRANCHES = 512
"""A ``switch`` whose branches together cost at most this (the sum over their nodes of
:attr:`~graphc.ir.primitive.Primitive.cost` times entries) and hold only elementwise
operations is lowered by its ``decompose`` rule (every branch evaluated, the result
selected) rather than as a branch: a few arithmetic operations on scalars cost less than
the call, copies and jump of a real branch (GradBench's ``saddle`` inner solver:
see :func:`cheap_branches`)."""


def cheap_branches(branches: Sequence) -> bool:
    """True when the branch bodies ``branches`` (a ``switch`` node's ``branches``
    parameter) hold only elementwise operations (no loops, reductions or index ops) of
    total cost at most :data:`CHEAP_BRANCHES`: a backend then evaluates them all and
    selects (:func:`_switch_decompose`), which is exact for the value, since the branch
    not taken only produces values that the select discards (derivatives were already
    taken through the ``switch`` rules, so a NaN or infinity there cannot reach them)."""
    total = 0
    for b in branches:
        g = getattr(b, "graph", b)
        for n in g.nodes:
            if not n.args:
                continue
            p = n.prim
            if not p.elementwise or p.cost is None:
                return False
            total += p.cost * math.prod(d if isinstance(d, int) else 1 << 20
                                        for d in n.shape)
            if total > CHEAP_BRANCHES:
                return False
    return True


def _switch_decompose(x, *, out, branches, **_):
    g = branches[0].graph
    pieces = unpack(x, [()] + [i.shape for i in g.inputs])
    index, operands = pieces[0], pieces[1:]
    results = [inline(b.graph, operands) for b in branches]
    picked = []
    for j, res in enumerate(results[0]):   # select piece by piece, then pack
        for k in range(1, len(branches)):
            res = ops.where(ops.ge(index, float(k)), results[k][j], res)
        picked.append(res)
    return pack(picked)


# ---------------------------------------------------------------------------------
# batching rules (the ``batch`` field; graphc.vmap): see graphc/ir/batching.py.
# Every operand of a batched control-flow node is batched (its packed argument is one
# vector per example), so the bodies are rewritten with every input batched on axis 0.

def _batched_body(g: Graph, n_b: int) -> Graph:
    """``g`` over a batch of ``n_b``: inputs ``(n_b, *shape)`` named ``<name>#b`` (the
    same for a condition and a body of the same inputs), outputs batched on axis 0."""
    ins = [ops.variable(f"{x.name}#b", x.dtype, (n_b,) + tuple(x.shape)) for x in g.inputs]
    pairs = _b.batch_outputs(list(g.outputs), {id(x): (v, 0) for x, v in zip(g.inputs, ins)})
    outs = [_b.to_front(o, None, n_b) if ax is None else _b.moveaxis(o, ax, 0)
            for o, ax in pairs]
    return Graph(ins, outs, g.output_names)


def _unpack_rows(x: Node, shapes) -> list[Node]:
    """:func:`unpack` of each row of ``x`` (``(n_b, total)``): pieces ``(n_b, *shape)``."""
    n_b, total = x.shape
    out, off = [], 0
    for s in shapes:
        k = size_of(s)
        piece = x if k == total else A.getitem(x, (slice(None), slice(off, off + k)))
        out.append(_b.reshape(piece, (n_b,) + tuple(s)))
        off += k
    return out


def _pack_rows(nodes: Sequence[Node], n_b: int) -> Node:
    """:func:`pack` of each example: ``(n_b, total)``."""
    flat = [_b.reshape(n, (n_b, size_of(n.shape[1:]))) for n in nodes]
    return flat[0] if len(flat) == 1 else A.concatenate(*flat, axis=1)


def _scan_batch(node, args, axes):
    """One scan over batched carries, per-step inputs (batch on axis 1 while scanned)
    and constants, of the body batched."""
    p = _b.params_of(node)
    g, length, nc, nx = p["body"].graph, p["length"], p["n_carry"], p["n_xs"]
    x = _b.moveaxis(args[0], axes[0], 0)
    n_b = x.shape[0]
    pieces = _unpack_rows(x, scan_layout(g, length, nc, nx)[0])
    xs = [_b.moveaxis(a, 0, 1) for a in pieces[nc:nc + nx]]
    outs = scan_node(_batched_body(g, n_b), pieces[:nc], xs, pieces[nc + nx:], length,
                     reverse=p["reverse"], checkpoint=p["checkpoint"])
    outs = outs[:nc] + [_b.moveaxis(y, 1, 0) for y in outs[nc:]]
    return _pack_rows(outs, n_b), 0


def _while_batch(node, args, axes):
    """JAX's rule for a batched predicate: loop while any example's condition holds; a
    step keeps the carry of the examples whose condition failed (a select)."""
    p = _b.params_of(node)
    g, nc = p["body"].graph, p["n_carry"]
    x = _b.moveaxis(args[0], axes[0], 0)
    n_b = x.shape[0]
    pieces = _unpack_rows(x, [i.shape for i in g.inputs])
    body, cond = _batched_body(g, n_b), _batched_body(p["cond"].graph, n_b)
    go = ops.ne(cond.outputs[0], 0.0)
    step = [ops.where(_b.reshape(go, (n_b,) + (1,) * (len(c.shape) - 1)), new, c)
            for new, c in zip(body.outputs, body.inputs[:nc])]
    outs = while_node(Graph(body.inputs, [A.amax(go)]), Graph(body.inputs, step),
                      pieces[:nc], pieces[nc:], p["max_steps"])
    return _pack_rows(outs, n_b), 0


def _switch_batch(node, args, axes):
    """A batched index selects per example: every branch runs on the batch and a select
    picks each example's (as ``decompose`` does; JAX turns a batched ``cond``/``switch``
    into a select the same way)."""
    branches = _b.params_of(node)["branches"]
    x = _b.moveaxis(args[0], axes[0], 0)
    n_b = x.shape[0]
    pieces = _unpack_rows(x, [()] + [i.shape for i in branches[0].graph.inputs])
    index = _b.reshape(pieces[0], (n_b, 1))
    res = None
    for k, br in enumerate(branches):
        r = _pack_rows(inline(_batched_body(br.graph, n_b), pieces[1:]), n_b)
        res = r if res is None else ops.where(ops.ge(index, float(k)), r, res)
    return res, 0


# ---------------------------------------------------------------------------------
# examples (for the registry-driven tests: one per dtype)

def _examples(kind: str) -> tuple:
    out = []
    for dt in ("float64", "float32"):
        v = lambda name, shape=(): ops.variable(name, dt, shape)  # noqa: E731
        if kind == "scan":
            c, x, k = v("c0", (2,)), v("x0"), v("k0")
            body = Graph([c, x, k], [c * k + ops.sin(x), A.sum(c) * x])
            out.append((((2 + 3 + 1,),), {"body": body, "length": 3, "n_carry": 1,
                                          "n_xs": 1, "checkpoint": "all"}))
        elif kind == "while_loop":
            c, i, k = v("c0"), v("c1"), v("k0")
            cond = Graph([c, i, k], [ops.lt(i, ops.const(2.5, dt))])
            body = Graph([c, i, k], [c * k + ops.sin(c), i + ops.const(1.0, dt)])
            out.append((((3,),), {"cond": cond, "body": body, "n_carry": 2, "max_steps": 5}))
        else:
            a, b = v("o0"), v("o1", (2,))
            branches = (Graph([a, b], [a * b]), Graph([a, b], [ops.sin(a) + b]),
                        Graph([a, b], [a - b * b]))
            out.append((((1 + 1 + 2,),), {"branches": branches}))
    return tuple(out)


# ---------------------------------------------------------------------------------
# the records

scan_p = register_higher_order(Primitive(
    "scan", 1, _scan_impl, "scan({0}{_text})", latex=r"\operatorname{{scan}}\left({0}\right)",
    llvm=A.LLVM_DECOMPOSE, cuda="decompose", elementwise=False,
    param_names=("body", "length", "n_carry", "n_xs", "reverse", "checkpoint"),
    param_defaults={"n_xs": 0, "reverse": False, "checkpoint": "auto"},
    canonical=_scan_canon, shape_rule=_scan_shape, jvp=_rule("scan.jvp"),
    vjp=_rule("scan.vjp"), decompose=_scan_decompose, examples=_examples("scan"),
    batch=_scan_batch,
    domain=((0.1, 0.4),), smooth=False, unbounded=True, masks=True,
    doc="a loop over a body graph with a carry and per-step inputs and outputs "
        "(jax.lax.scan); packed operand and value"))

while_p = register_higher_order(Primitive(
    "while_loop", 1, _while_impl, "while_loop({0}{_text})",
    latex=r"\operatorname{{while}}\left({0}\right)", llvm=A.LLVM_DECOMPOSE,
    cuda="decompose", elementwise=False, param_names=("cond", "body", "n_carry", "max_steps"),
    param_defaults={"max_steps": None}, canonical=_while_canon, shape_rule=_while_shape,
    jvp=_rule("while_loop.jvp"), vjp=_rule("while_loop.vjp"), decompose=_while_decompose,
    examples=_examples("while_loop"), domain=((0.1, 0.4),), smooth=False, unbounded=True,
    batch=_while_batch,
    masks=True,
    doc="repeat a body graph while a condition graph is nonzero (jax.lax.while_loop), "
        "optionally at most max_steps times"))

switch_p = register_higher_order(Primitive(
    "switch", 1, _switch_impl, "switch({0}{_text})",
    latex=r"\operatorname{{switch}}\left({0}\right)", llvm=A.LLVM_DECOMPOSE,
    cuda="decompose", elementwise=False, param_names=("branches",),
    canonical=_switch_canon, shape_rule=_switch_shape, jvp=_rule("switch.jvp"),
    vjp=_rule("switch.vjp"), decompose=_switch_decompose, batch=_switch_batch,
    examples=_examples("switch"), domain=((0.1, 0.4),), smooth=False, unbounded=True,
    masks=True,
    doc="evaluate one of several branch graphs, chosen by a scalar index "
        "(jax.lax.switch; cond is the two-branch case)"))
