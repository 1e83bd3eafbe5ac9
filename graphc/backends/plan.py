"""Backend-neutral planning tables and helpers shared by the LLVM and CUDA array backends.

Nothing here imports a code generator (no llvmlite, no numba): the tables describe the
*plan* of an array graph (which values are recomputed in their consumers' loops, what a
reduction starts from, how a contiguous array is laid out), and both backends read them
instead of keeping their own copies.

The fusion planner lives here too: :class:`Plan` turns a graph of concrete shapes into
ordered steps, :class:`LoopNest` (one loop nest storing or accumulating into strided
:class:`View` objects of the inputs, outputs and one workspace) and :class:`Contraction` (a
matrix product for BLAS or loops), following the rules in the docstring of
:mod:`graphc.backends.llvm.arrays`, whose code generator consumes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..ir import Graph, LoweringError, Node, ops
from ..ir import array_ops as A
from ..ir import conv_ops as C
from ..ir.extent import slice_indices
from ..ir.primitive import Primitive
from ..ir.shapes import array_consumers
from .common import NP_DTYPES

REDUCTIONS = {A.sum_p: "sum", A.prod_p: "prod", A.reduce_max_p: "max",
              A.reduce_min_p: "min"}
"""Reduction primitives and the name of the operation that combines their entries."""

REDUCE_OPS = ("sum", "prod", "max", "min")
"""The reduction operation names (values of :data:`REDUCTIONS`)."""

IDENTITY = {"sum": 0.0, "prod": 1.0, "max": -math.inf, "min": math.inf}
"""The value each reduction operation starts from (its identity element)."""

CHEAP_COST = 4
"""Ops of :attr:`~graphc.ir.primitive.Primitive.cost` up to this (arithmetic, compares,
selects, masks, a division) are recomputed in every loop that uses them rather than
stored to a temporary array."""


def prod(dims: Iterable[int]) -> int:
    """The product of the integers ``dims`` (1 for none): an array's entry count from
    its shape."""
    n = 1
    for d in dims:
        n *= d
    return n


def contiguous_strides(shape: Iterable[int]) -> tuple:
    """Row-major (C-order) strides of ``shape``, counted in elements (not bytes):
    ``contiguous_strides((2, 3, 4)) == (12, 4, 1)``."""
    out, acc = [], 1
    for d in reversed(tuple(shape)):
        out.append(acc)
        acc *= d
    return tuple(reversed(out))


def is_cheap(prim: Primitive) -> bool:
    """True when ``prim`` costs at most :data:`CHEAP_COST` per element (its record's
    ``cost``), so recomputing it in each consumer is cheaper than a store and loads."""
    return prim.cost is not None and prim.cost <= CHEAP_COST


def node_is_cheap(n: Node) -> bool:
    """:func:`is_cheap` for a node, also counting ``x ** c`` with a small integer
    constant ``c`` (|c| <= 4, lowered as multiplications) as cheap."""
    if n.prim.name == "pow":
        e = n.args[1]
        return e.is_const and float(e.value).is_integer() and abs(e.value) <= 4
    return is_cheap(n.prim)


def element_cost(prim: Primitive) -> float:
    """Rough single-thread nanoseconds per element of ``prim`` (0.05 ns per unit of
    ``cost``: a vectorised add at a few GHz), for thread-splitting thresholds."""
    return 0.05 * (prim.cost if prim.cost is not None else 30)

# ---------------------------------------------------------------------------------
# the fusion planner (moved from graphc.backends.llvm.arrays; no code generation)

VIEW_OPS = (A.transpose_p, A.reshape_p, A.broadcast_to_p, A.getitem_p, C.windows_p)
"""Array ops that are views of their argument (offset and strides, no copy): the
sliding ``windows`` of a convolution or pooling are one strided view of the input, so
im2col is a single strided copy into the matrix that BLAS reads."""


@dataclass(frozen=True)
class View:
    """An array in a buffer: ``buf`` is ``("in", k)``, ``("out", j)`` or ``("work",
    byte offset)``; ``offset`` and ``strides`` count elements of ``dtype``."""
    buf: tuple
    offset: int
    shape: tuple
    strides: tuple
    dtype: str
    base: int  # id of the node that owns the buffer

    @property
    def contiguous(self) -> bool:
        expect = 1
        for d, s in zip(reversed(self.shape), reversed(self.strides)):
            if d != 1 and s != expect:
                return False
            expect *= d
        return True


def _view_op(node: Node, v: View) -> View | None:
    """The view ``node`` (a view op) makes of ``v``, or None when it needs a copy."""
    p = node.prim
    params = dict(node.params)
    if p is A.transpose_p:
        axes = params["axes"]
        return View(v.buf, v.offset, tuple(v.shape[a] for a in axes),
                    tuple(v.strides[a] for a in axes), v.dtype, v.base)
    if p is A.broadcast_to_p:
        shape = node.shape
        extra = len(shape) - len(v.shape)
        strides = []
        for i, d in enumerate(shape):
            j = i - extra
            if j < 0 or (v.shape[j] == 1 and d != 1):
                strides.append(0)
            else:
                strides.append(v.strides[j])
        return View(v.buf, v.offset, shape, tuple(strides), v.dtype, v.base)
    if p is C.windows_p:   # (N, C, *spatial) -> (N, C, *kernel, *positions)
        sp = v.strides[2:]
        strides = tuple(v.strides[:2]) + \
            tuple(s * d for s, d in zip(sp, params["dilation"])) + \
            tuple(s * st for s, st in zip(sp, params["stride"]))
        return View(v.buf, v.offset, node.shape, strides, v.dtype, v.base)
    if p is A.reshape_p:
        if not v.contiguous:
            return None
        return View(v.buf, v.offset, node.shape, contiguous_strides(node.shape), v.dtype,
                    v.base)
    if p is A.getitem_p:
        offset = v.offset
        shape, strides = [], []
        entries = A.parse_index(params["index"])
        for axis, (d, s) in enumerate(zip(v.shape, v.strides)):
            if axis < len(entries):
                e = entries[axis]
                if isinstance(e, slice):
                    start, stop, step = slice_indices(e, d)
                    n = len(range(start, stop, step)) if step != 1 else \
                        (stop - start if stop > start else 0)   # (ints or extents)
                    if n:
                        offset += start * s
                    shape.append(n)
                    strides.append(s * step)
                else:
                    offset += (e % d) * s
            else:
                shape.append(d)
                strides.append(s)
        return View(v.buf, offset, tuple(shape), tuple(strides), v.dtype, v.base)
    raise LoweringError(f"not a view op: {p.name}")


@dataclass
class Out:
    """One result of a loop: ``value`` (a node computed or read in the loop) stored
    (``op == "store"``) or accumulated (``"sum"``, ``"prod"``, ``"max"``, ``"min"``)
    into ``dest``, whose strides run over the loop's shape."""
    value: Node
    dest: View
    op: str
    node: Node | None = None   # the node whose (identity-indexed) result this is


@dataclass
class LoopNest:
    """One loop nest over ``shape``: its results ``outs`` (stored or accumulated),
    the accumulators' initial fills ``inits``, and the buffers it reads and writes
    (by owning node id) for merging and ordering."""
    shape: tuple
    outs: list[Out] = field(default_factory=list)
    inits: list[tuple[View, float]] = field(default_factory=list)
    reads: set[int] = field(default_factory=set)     # base nodes read
    writes: set[int] = field(default_factory=set)    # base nodes written
    stores: dict[int, View] = field(default_factory=dict)  # node id -> dest, identity


@dataclass
class Contraction:
    """A matrix product ``c = a @ b`` of 2-D views (``m``×``k`` by ``k``×``n``), for
    a BLAS call or a loop nest."""
    a: View
    b: View
    c: View
    m: int
    n: int
    k: int
    dtype: str
    reads: set[int] = field(default_factory=set)
    writes: set[int] = field(default_factory=set)


@dataclass
class IndexStep:
    """A ``gather``, ``scatter_add`` or ``det`` node (:mod:`graphc.ir.index_ops`) run as
    scalar loop nests with indexed loads and stores: ``kind`` is ``"gather"``,
    ``"scatter"`` or ``"det"``; ``args``: the arguments' views (any strides);
    ``dest``: the result's view; ``shape``: the shape the loop nest runs over (the
    output for a gather, the broadcast update shape for a scatter, whose copy of ``x``
    into ``dest`` is the preceding loop; the stack's leading shape for det);
    ``scratch``: a workspace view of one ``n``×``n`` matrix (det's LU factors).
    The indices were checked to be integers in ``[-n, n)`` before the run. An
    ``"argsort"`` step runs over the leading shape (one row of length ``n`` each) and
    its ``scratch`` holds ``2n`` 64-bit integers (the merge sort's two index buffers;
    the view says float64, the same 8 bytes an entry)."""
    kind: str
    node: Node
    args: list
    dest: View
    shape: tuple
    axis: int = 0
    scratch: View | None = None
    reads: set = field(default_factory=set)
    writes: set = field(default_factory=set)


INDEX_PRIMS = {"gather": "gather", "scatter_add": "scatter", "det": "det",
               "argsort": "argsort"}
"""The primitives planned as :class:`IndexStep` and their step kinds."""


CONTROL = ("scan", "while_loop", "switch")
"""The control-flow primitives (:mod:`graphc.ir.control_flow`) that a plan runs as
loops and branches (:class:`LoopStep`) rather than unrolled."""


def loop_supported(node: Node) -> bool:
    """True when the control-flow ``node`` can be planned as a :class:`LoopStep`:
    every input and output of every body has the dtype of the packed operand and
    value (a float32 piece packed into a float64 vector would need a conversion per
    step; such graphs are unrolled by the ``decompose`` rules, up to their limit),
    and the shapes are concrete."""
    if node.prim.name not in CONTROL:
        return False
    dts = {node.dtype, node.args[0].dtype}
    for _, v in node.params:
        subs = v if isinstance(v, tuple) else (v,)
        for b in subs:
            g = getattr(b, "graph", None)
            if g is None:
                continue
            for x in list(g.inputs) + list(g.outputs):
                if not all(isinstance(d, int) for d in x.shape):
                    return False
                dts.add(x.dtype)
    return len(dts) == 1


@dataclass
class LoopStep:
    """A ``scan``, ``while_loop`` or ``switch`` node run as a loop or branch around
    the code of its bodies, each planned recursively as its own :class:`Plan`.

    ``kind``: ``"scan"``, ``"while"`` or ``"switch"``; ``src``: the packed operand (a
    contiguous view); ``dest``: the packed value (contiguous); ``bodies``: the sub-plans
    (scan: ``[body]``; while: ``[cond, body]``; switch: the branches), each called with
    pointers to its inputs and outputs and its own workspace region at byte offset
    ``work[k]``; ``in_offsets``/``out_offsets``: element offsets of each body input in
    ``src`` and of each body output in ``dest`` (for a scan's per-step ``xs``/``ys``:
    of step 0, the step ``t`` slice is ``t * size`` further); ``carry``: the two
    double-buffered carry areas (scan, while; contiguous, ``n_carry_entries`` each);
    ``flag``: a one-entry workspace slot for the while condition's value.
    ``params``: the node's parameters (length, n_carry, n_xs, reverse, max_steps)."""
    kind: str
    node: Node
    src: View
    dest: View
    bodies: list
    work: list
    in_offsets: list
    in_sizes: list
    out_offsets: list
    out_sizes: list
    carry: tuple = ()
    carry_entries: int = 0
    flag: View | None = None
    params: dict = field(default_factory=dict)
    reads: set = field(default_factory=set)
    writes: set = field(default_factory=set)


class Plan:
    """The steps (:class:`LoopNest`, :class:`Contraction`, :class:`LoopStep`)
    computing a graph of concrete shapes, in order, and the buffers they use: ``home``
    (node id to :class:`View`), ``work_bytes`` of workspace. Built by fusion: see the
    module docstring of :mod:`graphc.backends.llvm.arrays` for the rules.

    ``specialize_body(graph) -> graph``: how a body graph of a control-flow node (see
    :func:`loop_supported`) is prepared for its own sub-plan (the backend's
    specialisation); None: control-flow nodes are refused (LoweringError), a backend
    then decomposes them before planning."""

    def __init__(self, graph: Graph, specialize_body=None):
        self.graph = graph
        self.specialize_body = specialize_body
        self.steps: list[Any] = []
        self.home: dict[int, View] = {}
        self.inline: set[int] = set()
        self.inline_unslice: set[int] = set()
        self.inline_concat_read: set[int] = set()   # concatenates read in their consumer
        self._regions: dict[int, list] = {}
        self.inline_concat: set[int] = set()
        self.work_bytes = 0
        self.nodes = {id(n): n for n in graph.nodes}
        self._plan()

    # -- buffers -----------------------------------------------------------------------
    def _alloc(self, node: Node, shape=None, temp: bool = False) -> View:
        """A new contiguous array in the workspace (64-byte aligned offsets); a
        ``temp`` copy gets its own base, others are owned by ``node``."""
        shape = node.shape if shape is None else shape
        size = prod(shape) * np.dtype(NP_DTYPES[node.dtype]).itemsize
        off = self.work_bytes
        self.work_bytes += (size + 63) // 64 * 64
        return View(("work", off), 0, tuple(shape), contiguous_strides(shape), node.dtype,
                    ("tmp", off) if temp else id(node))

    def _kind(self, n: Node) -> str:
        if n.is_input:
            return "input"
        if n.is_const:
            return "const"
        p = n.prim
        if p.elementwise or p is A.one_hot_p:
            return "ew"
        if p in VIEW_OPS:
            return "view"
        if p in REDUCTIONS:
            return "reduce"
        if p is A.matmul_p:
            return "matmul"
        if p is A.concatenate_p:
            return "concat"
        if p is A.unslice_p:
            return "unslice"
        if p.name in CONTROL and self.specialize_body is not None:
            return "control"
        if p.name in INDEX_PRIMS:
            return "index"
        raise LoweringError(f"the array planner cannot lower {p.name} "
                            f"(llvm={p.llvm!r}, cuda={p.cuda!r})")

    # -- planning ------------------------------------------------------------------------
    def _plan(self) -> None:
        g = self.graph
        consumers = array_consumers(g)
        out_ids = {id(o) for o in g.outputs}
        for n in g.nodes:
            kind = self._kind(n)
            cons = consumers.get(id(n), [])
            if id(n) in out_ids or not cons:
                continue
            if kind == "unslice":
                # computed inside its one consumer's loop: a masked, shifted read of
                # its operand (zero outside the region), never a zero-filled array
                c = cons[0]
                steps = [e.step for e in A.parse_index(dict(n.params)["index"])
                         if isinstance(e, slice)]
                if len(cons) == 1 and all(st in (None, 1) for st in steps) and (
                        self._kind(c) == "reduce" or
                        (self._kind(c) == "ew" and c.shape == n.shape)):
                    self.inline_unslice.add(id(n))
                continue
            if kind == "concat" and \
                    not any(a.prim is A.concatenate_p for a in n.args) and all(
                        self._kind(c) == "reduce" or
                        (self._kind(c) == "ew" and c.shape == n.shape) for c in cons) and (
                        len(cons) == 1 or all(id(a) not in self.inline or node_is_cheap(a)
                                              for a in n.args)):
                # computed inside its consumers' loops: each operand a masked, shifted
                # read of its region, chosen by position (as an inlined unslice, with a
                # select instead of a zero), never materialised; shared only when its
                # operands are cheap to compute again (the rule of elementwise nodes)
                self.inline_concat_read.add(id(n))
                continue
            if kind == "concat" and len(cons) == 1 and cons[0].prim is A.concatenate_p and \
                    dict(cons[0].params)["axis"] == dict(n.params)["axis"]:
                # a link of a chain of two-way concatenates: its operands are written
                # straight into their regions of the chain's result (_concat_pieces)
                self.inline_concat.add(id(n))
                continue
            if kind != "ew":
                continue
            fusable = all(self._kind(c) in ("reduce", "concat", "unslice") or
                          (self._kind(c) == "ew" and c.shape == n.shape) for c in cons)
            if fusable and (len(cons) == 1 or node_is_cheap(n)):
                self.inline.add(id(n))  # recomputed in each consumer's loop if shared
        out_home: dict[int, View] = {}
        for j, o in enumerate(g.outputs):
            if self._kind(o) in ("ew", "reduce", "matmul", "concat", "unslice",
                                 "control", "index") and \
                    id(o) not in out_home:
                out_home[id(o)] = View(("out", j), 0, o.shape, contiguous_strides(o.shape),
                                       o.dtype, id(o))
        for k, x in enumerate(g.inputs):
            self.home[id(x)] = View(("in", k), 0, x.shape, contiguous_strides(x.shape),
                                    x.dtype, id(x))
        for n in g.nodes:
            kind = self._kind(n)
            if kind in ("input", "const") or id(n) in self.inline or \
                    id(n) in self.inline_unslice or id(n) in self.inline_concat or \
                    id(n) in self.inline_concat_read:
                continue
            if kind == "view":
                src = self._materialized(n.args[0])
                v = _view_op(n, src)
                if v is None:  # a reshape of a non-contiguous view: copy first
                    tmp = self._alloc(n.args[0], temp=True)
                    self._add_loop(n.args[0].shape, [Out(n.args[0], tmp, "store")])
                    v = _view_op(n, tmp)
                self.home[id(n)] = v
                continue
            home = out_home.get(id(n)) or self._alloc(n)
            self.home[id(n)] = home
            if kind == "ew":
                self._add_loop(n.shape, [Out(n, home, "store", n)])
            elif kind == "reduce":
                x = n.args[0]
                axes = dict(n.params)["axis"]
                kept = [i for i in range(len(x.shape)) if i not in axes]
                hs = [s for d, s in zip(home.shape, home.strides)]
                if len(home.shape) == len(x.shape):  # keepdims
                    strides = tuple(0 if i in axes else hs[i] for i in range(len(x.shape)))
                else:
                    pos = {ax: hs[i] for i, ax in enumerate(kept)}
                    strides = tuple(pos.get(i, 0) for i in range(len(x.shape)))
                dest = View(home.buf, home.offset, x.shape, strides, home.dtype, home.base)
                op = REDUCTIONS[n.prim]
                self._add_loop(x.shape, [Out(x, dest, op)],
                               inits=[(home, IDENTITY[op])])
            elif kind == "matmul":
                self._add_gemm(n, home)
            elif kind == "control":
                self._add_control(n, home)
            elif kind == "index":
                self._add_index(n, home)
            elif kind == "concat":
                axis = dict(n.params)["axis"]
                start = 0
                for a in self._concat_pieces(n):
                    width = a.shape[axis]   # home[..., start:start + width] (axis)
                    shape = list(home.shape)
                    shape[axis] = width
                    region = View(home.buf, home.offset + start * home.strides[axis],
                                  tuple(shape), home.strides, home.dtype, home.base)
                    self._add_loop(a.shape, [Out(a, region, "store")])
                    start += width
            elif kind == "unslice":
                self._add_loop(n.shape, [Out(ops.const(0.0, n.dtype), home, "store")])
                region = _view_op(_FakeIndex(dict(n.params)["index"]), home)
                self._add_loop(n.args[0].shape, [Out(n.args[0], region, "store")])
        for j, o in enumerate(g.outputs):
            dest = View(("out", j), 0, o.shape, contiguous_strides(o.shape), o.dtype, -1 - j)
            h = self.home.get(id(o))
            if h is not None and h.buf == ("out", j):
                continue
            self._add_loop(o.shape, [Out(o, dest, "store")], merge=False)

    def _concat_pieces(self, n: Node) -> list[Node]:
        """The operands of the concatenate ``n``, those of its inlined links (see
        ``inline_concat``) expanded in order: what one n-way copy writes."""
        out = []
        for a in n.args:
            out.extend(self._concat_pieces(a) if id(a) in self.inline_concat else [a])
        return out

    def _materialized(self, node: Node) -> View:
        """``node``'s array, storing constants (and any value without one) first."""
        v = self.home.get(id(node))
        if v is None:
            v = self._alloc(node)
            self._add_loop(node.shape, [Out(node, v, "store", node if node.args else None)])
            self.home[id(node)] = v
        return v

    def reserve_work(self, nbytes: int) -> int:
        """A private workspace region of ``nbytes`` (64-byte aligned); its byte offset.
        Code generators reserve their own scratch here too (the partial products of a
        threaded matrix product) before the program reads :attr:`work_bytes`."""
        off = self.work_bytes
        self.work_bytes += (max(nbytes, 1) + 63) // 64 * 64
        return off

    def _add_control(self, n: Node, home: View) -> None:
        """Plan ``n`` (scan, while_loop, switch) as a :class:`LoopStep`: its operand
        materialised contiguously, its bodies planned as sub-plans."""
        from ..ir import control_flow as cf
        src = self._materialized(n.args[0])
        if not src.contiguous:
            tmp = self._alloc(n.args[0], temp=True)
            self._add_loop(src.shape, [Out(_ViewRead(n.args[0], src), tmp, "store")])
            src = tmp
        params = {k: v for k, v in n.params if not k.startswith("_")}
        item = np.dtype(NP_DTYPES[n.dtype]).itemsize
        name = n.prim.name

        def sub(body) -> tuple:
            plan = Plan(self.specialize_body(body.graph), self.specialize_body)
            return plan, self.reserve_work(plan.work_bytes)

        def offsets(sizes, start=0):
            out, off = [], start
            for k in sizes:
                out.append(off)
                off += k
            return out

        if name == "scan":
            g = params["body"].graph
            L, nc, nx = params["length"], params["n_carry"], params["n_xs"]
            in_shapes, _, out_shapes, _ = cf.scan_layout(g, L, nc, nx)
            big_in = [prod(s) for s in in_shapes]
            big_out = [prod(s) for s in out_shapes]
            in_sizes = [prod(x.shape) for x in g.inputs]
            out_sizes = [prod(o.shape) for o in g.outputs]
            plans = [sub(params["body"])]
            in_off, out_off = offsets(big_in), offsets(big_out)
            C = sum(in_sizes[:nc])
        elif name == "while_loop":
            g = params["body"].graph
            nc = params["n_carry"]
            in_sizes = [prod(x.shape) for x in g.inputs]
            out_sizes = [prod(o.shape) for o in g.outputs]
            plans = [sub(params["cond"]), sub(params["body"])]
            in_off, out_off = offsets(in_sizes), offsets(out_sizes)
            C = sum(in_sizes[:nc])
        else:
            g = params["branches"][0].graph
            in_sizes = [prod(x.shape) for x in g.inputs]
            out_sizes = [prod(o.shape) for o in g.outputs]
            plans = [sub(b) for b in params["branches"]]
            in_off, out_off = offsets(in_sizes, 1), offsets(out_sizes)
            C = 0
        carry = ()
        if C:
            carry = tuple(View(("work", self.reserve_work(C * item)), 0, (C,), (1,), n.dtype,
                               ("tmp", -k - 1)) for k in range(2))
        flag = None
        if name == "while_loop":
            flag = View(("work", self.reserve_work(item)), 0, (), (), n.dtype, ("tmp", -3))
        step = LoopStep({"scan": "scan", "while_loop": "while"}.get(name, "switch"), n, src,
                        home, [p for p, _ in plans], [w for _, w in plans], in_off, in_sizes,
                        out_off, out_sizes, carry, C, flag, params, reads={src.base},
                        writes={home.base})
        self.steps.append(step)

    def _add_index(self, n: Node, home: View) -> None:
        """Plan a gather, scatter_add, det or argsort node as an :class:`IndexStep` (a
        scatter first copies ``x`` into its result with a loop)."""
        from ..ir import index_ops as I
        kind = INDEX_PRIMS[n.prim.name]
        views = [self._materialized(a) for a in n.args]
        axis = dict(n.params).get("axis", 0)
        scratch = None
        if kind == "gather":
            shape = n.shape
        elif kind == "scatter":
            x = n.args[0]
            self._add_loop(n.shape, [Out(_ViewRead(x, views[0]), home, "store")],
                           merge=False)
            shape = I._scatter_iter_shape(x.shape, n.args[1].shape, n.args[2].shape, axis)
        elif kind == "argsort":
            k = n.shape[-1]
            scratch = View(("work", self.reserve_work(2 * k * 8)), 0, (2 * k,), (1,), "float64",
                           ("tmp", -5))
            shape = n.shape[:-1]
        else:
            k = n.args[0].shape[-1]
            item = np.dtype(NP_DTYPES[n.dtype]).itemsize
            scratch = View(("work", self.reserve_work(k * k * item)), 0, (k, k),
                           contiguous_strides((k, k)), n.dtype, ("tmp", -4))
            shape = n.shape
        self.steps.append(IndexStep(kind, n, views, home, tuple(shape), axis, scratch,
                                    reads={v.base for v in views}, writes={home.base}))

    def _add_gemm(self, n: Node, home: View) -> None:
        a, b = n.args
        va, vb = self._materialized(a), self._materialized(b)
        if len(va.shape) == 1:
            va = View(va.buf, va.offset, (1, va.shape[0]), (0, va.strides[0]), va.dtype,
                      va.base)
        if len(vb.shape) == 1:
            vb = View(vb.buf, vb.offset, (vb.shape[0], 1), (vb.strides[0], 0), vb.dtype,
                      vb.base)
        m, k = va.shape
        n_ = vb.shape[1]
        vc = View(home.buf, home.offset, (m, n_), (n_, 1), home.dtype, home.base)
        fixed = []
        for v, node in ((va, a), (vb, b)):
            if _gemm_layout(v) is None:  # strided beyond what BLAS reads: copy
                tmp = self._alloc(node, v.shape, temp=True)
                self._add_loop(v.shape, [Out(_ViewRead(node, v), tmp, "store")])
                v = tmp
            fixed.append(v)
        va, vb = fixed
        step = Contraction(va, vb, vc, m, n_, k, n.dtype, reads={va.base, vb.base},
                    writes={home.base})
        self.steps.append(step)

    def concat_regions(self, n: Node) -> list:
        """The operands of the concatenate ``n`` as the unslices they equal
        (:class:`_Region`, one per operand, in order; the same objects every time, so
        their contexts have stable keys)."""
        found = self._regions.get(id(n))
        if found is None:
            axis = dict(n.params)["axis"]
            found, start = [], 0
            for a in n.args:
                found.append(_Region(n, a, axis, start))
                start = start + a.shape[axis]
            self._regions[id(n)] = found
        return found

    def walk(self, out: Out) -> tuple[list[tuple], list[tuple]]:
        """What a loop computes for ``out``: the ``(node, context)`` pairs computed in the
        loop body (topological order) and the leaves it reads, as ``(key, view,
        mapping, node, context)``. ``key`` is ``id(node)`` for a direct read in the root
        context, else a tuple; ``mapping`` is the class axis inserted for one_hot
        labels. Inside an inlined ``unslice`` the context shifts the index and masks
        the region (see :class:`Ctx`)."""
        v = out.value
        if isinstance(v, _ViewRead):
            return [], [(("view", id(v)), v.view, None, v.node, ROOT)]
        computed: list[tuple] = []
        leaves: list[tuple] = []
        seen: set = set()
        stack = [(v, ROOT, False)]
        while stack:
            n, ctx, ready = stack.pop()
            if ready:
                computed.append((n, ctx))
                continue
            if n.is_const or (ctx.key, id(n)) in seen:
                continue
            seen.add((ctx.key, id(n)))
            if id(n) in self.inline_unslice:
                stack.append((n, ctx, True))
                stack.append((n.args[0], ctx.enter(n), False))
                continue
            if id(n) in self.inline_concat_read:
                stack.append((n, ctx, True))
                for region in reversed(self.concat_regions(n)):
                    stack.append((region.args[0], ctx.enter(region), False))
                continue
            if not (id(n) in self.inline or (n is v and out.node is n)):
                leaves.append((ctx.leaf_key(n), self.home[id(n)], None, n, ctx))
                continue
            stack.append((n, ctx, True))
            for pos, a in reversed(list(enumerate(n.args))):
                if n.prim is A.one_hot_p:
                    if pos == 0 and not a.is_const:
                        ax = dict(n.params)["axis"]
                        leaves.append((("lab", ctx.key, id(a), ax), self.home[id(a)], ax, a,
                                       ctx))
                    continue
                stack.append((a, ctx, False))
        return computed, leaves

    def _add_loop(self, shape, outs: list[Out], inits=(), merge: bool = True) -> None:
        loop = LoopNest(tuple(shape), list(outs), list(inits))
        leaves = []
        for o in outs:
            loop.writes.add(o.dest.base)
            leaves.extend(lf[:4] for lf in self.walk(o)[1])
            if o.op == "store" and o.node is not None and o.dest.shape == loop.shape and \
                    o.dest.contiguous:
                loop.stores[id(o.node)] = o.dest
        loop.reads = {view.base for _, view, _, _ in leaves}
        if merge and self._merge(loop, leaves):
            return
        self.steps.append(loop)

    def _merge(self, loop: LoopNest, leaves: list[tuple]) -> bool:
        """Put ``loop`` into an earlier loop of the same shape when nothing it reads is
        produced in between and what it reads from that loop it reads at the same
        index (the value is then taken from registers)."""
        for st in reversed(self.steps):
            if isinstance(st, LoopNest) and st.shape == loop.shape and \
                    not (loop.writes & (st.reads | st.writes)):
                shared = loop.reads & st.writes
                if all(key == id(node) and key in st.stores and node.shape == loop.shape
                       for key, view, _, node in leaves if view.base in shared):
                    st.outs.extend(loop.outs)
                    st.inits.extend(loop.inits)
                    st.reads |= loop.reads
                    st.writes |= loop.writes
                    st.stores.update(loop.stores)
                    return True
            if loop.reads & st.writes or loop.writes & (st.reads | st.writes):
                return False
        return False


@dataclass(frozen=True)
class Ctx:
    """How a loop's index reaches values computed inside inlined ``unslice`` ops.

    A loop runs over shape S. In the root context every computed node has shape S and
    is indexed by the loop index. Inside ``unslice(a, shape, index)`` the operand ``a``
    is indexed by ``j`` with ``i[dims[k]] = j[k] + shift[k]`` and is read only where
    every ``(dim, lo, hi)`` of ``conds`` holds (``lo <= i[dim] < hi``); elsewhere the
    unslice is 0 and no memory is touched. Contexts compose for nested unslices.
    """
    key: Any
    shape: tuple                 # the shape of the nodes computed in this context
    dims: tuple | None           # node dim k -> loop dim (None: identity)
    shift: tuple | None
    conds: tuple = ()

    def leaf_key(self, n: Node):
        return id(n) if self.key is None else (self.key, id(n))

    def loop_dim(self, k: int) -> int:
        return k if self.dims is None else self.dims[k]

    def loop_shift(self, k: int) -> int:
        return 0 if self.shift is None else self.shift[k]

    def enter(self, u: Node) -> "Ctx":
        """The context of ``u``'s operand (``u`` an inlined unslice in this context)."""
        entries = u.entries if isinstance(u, _Region) else \
            A.parse_index(dict(u.params)["index"])
        dims, shift, conds = [], [], list(self.conds)
        for d, size in enumerate(u.shape):
            e = entries[d] if d < len(entries) else slice(None)
            ld, ls = self.loop_dim(d), self.loop_shift(d)
            if isinstance(e, slice):
                lo, hi, _ = slice_indices(e, size)
                hi = max(hi, lo)
                dims.append(ld)
                shift.append(ls + lo)
                if lo > 0 or hi < size:
                    conds.append((ld, ls + lo, ls + hi))
            else:
                e %= size
                conds.append((ld, ls + e, ls + e + 1))
        return Ctx((self.key, id(u)), u.args[0].shape, tuple(dims), tuple(shift), tuple(conds))


ROOT = Ctx(None, (), None, None)


class _Region:
    """Operand ``a`` of a concatenate ``node`` along ``axis`` as the unslice it equals
    (its values at ``start : start + width`` of the axis, nothing elsewhere): what
    :meth:`Ctx.enter` needs of an inlined unslice."""

    prim = A.unslice_p

    def __init__(self, node: Node, a: Node, axis: int, start):
        self.shape = node.shape
        self.args = (a,)
        self.entries = (slice(None),) * axis + (slice(start, start + a.shape[axis]),)


class _FakeIndex:
    """A stand-in getitem node (prim + params) for region views of a buffer."""

    prim = A.getitem_p

    def __init__(self, index: str):
        self.params = (("index", A.index_text(index)),)


class _ViewRead:
    """A loop value that is a plain read of an explicit view (copies for BLAS)."""

    is_const = False
    args = ()

    def __init__(self, node: Node, view: View):
        self.node = node
        self.view = view
        self.dtype = node.dtype
        self.shape = view.shape


def _gemm_layout(v: View) -> tuple[bool, int] | None:
    """How BLAS reads the 2-D view ``v``: ``(row_major, leading dimension)``, or None."""
    r, c = v.shape
    sr, sc = v.strides
    if c == 1:
        sc = 1
    if r == 1:
        sr = max(c, 1)
    if sc == 1 and sr >= max(c, 1):
        return True, sr
    if sr == 1 and sc >= max(r, 1):
        return False, sc
    if r == 1 and c == 1:
        return True, 1
    return None


__all__ = ["CHEAP_COST", "CONTROL", "Contraction", "IDENTITY", "INDEX_PRIMS", "IndexStep",
           "LoopNest", "LoopStep",
           "loop_supported", "Out", "Plan", "REDUCE_OPS",
           "REDUCTIONS", "VIEW_OPS", "View", "contiguous_strides", "element_cost",
           "is_cheap", "node_is_cheap", "prod"]
