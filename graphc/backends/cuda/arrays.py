"""CUDA lowering of array graphs: fused elementwise kernels, shared-memory block
reductions, tiled or cuBLAS matrix products, views as index arithmetic.

Pure text generation, like :mod:`.render`: this module imports nothing from Numba.
:mod:`.array_jit` compiles the kernels it writes with ``numba.cuda.jit`` and runs
them. The plan mirrors the LLVM array backend (:mod:`graphc.backends.llvm.arrays`):

1. **Specialise** (:func:`specialize`): the graph is rebuilt for one binding of its
   symbolic dimensions (``n = 1000``), so every shape, stride and trip count is a
   literal in the kernel source and kernels are cached per concrete shape. Ops whose
   record says ``cuda="decompose"`` (``mean``, ``softmax``, ``log_softmax``,
   ``logsumexp``, ``mse``, ``cross_entropy``) are expanded through their ``decompose``
   rule into reductions and elementwise ops; ``size`` becomes a constant.
2. **Fuse** (:class:`Plan`): every value is a function of its multi-index. Views
   (``transpose``, ``reshape``, ``broadcast_to``, ``x[1:]``) are index arithmetic on
   their argument and are never stored; elementwise ops, ``unslice`` (a guarded read,
   zero outside the region), ``concatenate`` (a select on the index) and ``one_hot``
   are computed inside the kernel of their consumer when they have one consumer (or
   are cheap: :func:`graphc.backends.plan.is_cheap`, from the record's ``cost``), so
   an elementwise chain is one kernel and a reduction reads its
   producer's expression directly (``sum(exp(x - m))`` never stores ``exp``). Values
   used by several consumers, graph outputs, reductions and matrix products are
   *materialised* in an output array or a workspace array.
3. **Schedule**: one step per materialised value, in topological order:

   * *map* kernels: one thread per element, grid-stride loop (an elementwise graph
     at ``n`` points is the one-loop case, :class:`Batch`, rendered by
     :mod:`.render`); a map over the same shape as an earlier map joins it when
     it reads that map's results only at its own index (the value is then reused from
     registers), so ``value_and_grad`` outputs share kernels;
   * *reductions* with a short reduced length (at most ``serial_reduce``, default
     32) are maps over the output whose thread loops over the reduced entries; longer
     ones are *block reductions*: each block of ``reduce_threads`` (a power of two)
     threads accumulates a strided share of one output's entries per thread, then
     combines the per-thread values in shared memory with the tree reduction
     (``cuda.shared.array`` and ``cuda.syncthreads()`` between halving steps; M.
     Harris, *Optimizing Parallel Reduction in CUDA*, NVIDIA 2007). When there are
     few outputs (fewer than ``reduce_blocks``), each output is split over several
     blocks that write partial results, and a second kernel reduces the partials the
     same way: deterministic, and valid for ``max``/``min``/``prod``, which have no
     floating-point atomics. ``max``/``min`` propagate NaN as NumPy does;
   * *matrix products*: cuBLAS through CuPy or PyTorch when one of them is importable
     and sees a GPU at run time (decided in :mod:`.array_jit`), else the tiled
     shared-memory kernel written here (``tile``×``tile`` blocks stage tiles of both
     operands in shared memory; NVIDIA, *CUDA C++ Programming Guide*, "Shared
     Memory" matrix multiplication example). Operands that are views are read through
     their index arithmetic by the tiled kernel and passed as views to the library.

Arrays: inputs are passed as they are (N-D device arrays, indexed with their own
strides, converted to the node dtype on load); outputs and intermediates are flat
C-ordered arrays (``out0``... and the workspaces ``ws64`` / ``ws32``, one per dtype, at
offsets this plan assigns).

Safety: as in :mod:`.render`, the source holds only names this module builds
(``t12``, ``k3``, ``in0``...), integer and ``repr`` float literals and the registered
``cuda`` templates of elementwise primitives; no user text.
"""

from __future__ import annotations

import keyword
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Mapping

from ...ir import Graph, LoweringError, Node
from ...ir import array_ops as A
from ...ir.shapes import specialize as shared_specialize
from ...ir.shapes import array_consumers
from ...ir.shapes import (dim_symbols, env_key, is_array_graph)
from ..plan import IDENTITY, is_cheap
from ..plan import contiguous_strides as _c_strides
from ..plan import prod as _prod
from .render import NP_NAMES, SCALAR, KernelSource, _load, format_float
from ..lowering_rules import divide_rule, pow_rule

DECOMPOSE = "decompose"
"""The ``cuda`` key of array ops lowered through their record's ``decompose``."""

REDUCE_OPS = {"array.sum": "sum", "array.prod": "prod", "array.reduce_max": "max",
              "array.reduce_min": "min"}
"""``cuda`` keys of the reductions and the combining operation of each."""

POINT_KEYS = ("array.view", "array.unslice", "array.concatenate", "array.one_hot",
              "array.gather")
"""``cuda`` keys of array ops computed per element from their argument's entries."""

INDEX_KEYS = ("array.scatter_add", "array.det", "array.argsort")
"""``cuda`` keys of the ops run as their own kernels (:class:`IndexKernelStep`)."""

LOWERED = frozenset(REDUCE_OPS) | frozenset(POINT_KEYS) | frozenset(INDEX_KEYS) | {
    "array.matmul", "array.size", DECOMPOSE}
"""Every ``cuda`` key of array ops that this module lowers."""

VIEW_PRIMS = ("transpose", "reshape", "broadcast_to", "getitem")
"""Primitives with ``cuda="array.view"``, each with its index map below."""

MERGE_LOOKBACK = 8
"""How many earlier steps a new map kernel may be merged across."""


def supports(prim) -> bool:
    """True when the CUDA backend lowers ``prim`` in array graphs."""
    if prim.elementwise:
        return bool(prim.cuda) and prim.cuda not in ("input", "const")
    if prim.cuda == DECOMPOSE:
        return prim.decompose is not None
    if prim.cuda == "array.view":
        return prim.name in VIEW_PRIMS
    return prim.cuda in LOWERED


@dataclass(frozen=True)
class Options:
    """Launch and lowering parameters fixed when kernels are rendered.

    Attributes:
        threads_per_block: threads of a map kernel's block (1..1024).
        max_blocks: cap on a map kernel's grid (the grid-stride loop covers the rest).
        reduce_threads: threads of a reduction block (a power of two, 1..1024).
        reduce_blocks: target number of blocks for a block reduction: outputs fewer
            than this are split over up to ``reduce_blocks // outputs`` blocks each,
            combined by a second kernel.
        serial_reduce: reduced lengths up to this are reduced by one thread per
            output (no shared memory); 0 sends every reduction to the block kernels.
        tile: the tiled matrix product's tile size (``tile``² threads a block, 1..32).
    """

    threads_per_block: int = 256
    max_blocks: int = 65535
    reduce_threads: int = 256
    reduce_blocks: int = 1024
    serial_reduce: int = 32
    tile: int = 16

    def __post_init__(self):
        def check(name, lo, hi):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise LoweringError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
        check("threads_per_block", 1, 1024)
        check("max_blocks", 1, 2 ** 31 - 1)
        check("reduce_threads", 1, 1024)
        check("reduce_blocks", 1, 2 ** 31 - 1)
        check("serial_reduce", 0, 2 ** 31 - 1)
        check("tile", 1, 32)
        if self.reduce_threads & (self.reduce_threads - 1):
            raise LoweringError(f"reduce_threads must be a power of two, got "
                                f"{self.reduce_threads}")


# ---------------------------------------------------------------------------------
# 1. specialisation (as graphc.backends.llvm.arrays.specialize, with CUDA's keys)

def _is_view(prim) -> bool:
    return prim.cuda == "array.view"


def specialize(graph: Graph, env: Mapping[str, int]) -> Graph:
    """``graph`` with the sizes of ``env`` substituted into every shape, ``decompose``
    ops expanded and ``size`` folded: a graph of concrete shapes whose every op this
    module lowers directly (:func:`graphc.ir.shapes.specialize`).

    Raises:
        ShapeError: a node's shape rule fails on the bound sizes (names the node).
        LoweringError: an op without a CUDA lowering.
    """
    for n in graph.nodes:
        if n.args and not supports(n.prim):
            raise LoweringError(f"the CUDA backend cannot lower {n.prim.name} "
                                f"(cuda={n.prim.cuda!r})")
    return shared_specialize(graph, env, lambda p, _: p.cuda == DECOMPOSE, _is_view)


# ---------------------------------------------------------------------------------
# 2-3. fusion and scheduling

@dataclass(frozen=True)
class Batch:
    """An elementwise graph of scalar nodes evaluated at ``n`` points: the one-loop
    case of the plan, a single map kernel whose length ``n`` (and broadcast shape
    ``dim0..``) are run-time parameters, so one compiled kernel serves every ``n``.

    Attributes:
        layout: per input ``"scalar"``, ``"flat"`` or a tuple of booleans (see
            :func:`.render.normalize_layout`).
        ndim: rank of the broadcast shape (0 when no input is strided).
    """
    layout: tuple
    ndim: int


@dataclass(frozen=True)
class Home:
    """Where a materialised value lives: a C-ordered block of ``buf`` (``"out0"``,
    ``"ws64"``, ``"ws32"``) starting at element ``offset``."""
    buf: str
    offset: int


@dataclass
class Store:
    """One value a map kernel writes: ``node`` at its index into ``home``.
    ``compute``: the kernel produces the node (computed, not read, at the kernel's own
    index); otherwise its value is read or indexed (graph outputs that are inputs,
    constants, views, or copies of another output). ``write``: False when every
    reader takes the value from registers in this same kernel (the store is dropped)."""
    node: Node
    home: Home
    compute: bool
    write: bool = True


@dataclass
class MapStep:
    """A map kernel over ``shape`` writing each :class:`Store` of ``stores``."""
    shape: tuple
    stores: list
    reads: set = field(default_factory=set)
    kernel: Any = None

    @property
    def writes(self) -> set:
        return {id(s.node) for s in self.stores}


@dataclass
class ReduceStep:
    """A block reduction of ``node`` (one or two kernels)."""
    node: Node
    home: Home
    op: str
    outputs: int       # M: number of results
    length: int        # K: entries reduced into each
    threads: int
    parts: int         # blocks per output (1: no second pass)
    partial: Home | None
    reads: set = field(default_factory=set)
    kernels: tuple = ()

    @property
    def writes(self) -> set:
        return {id(self.node)}


@dataclass
class MatmulStep:
    """``node = a @ b`` into ``home`` (``m``×``k`` times ``k``×``n``, 1-D operands
    counted as one row or column): the tiled kernel, and the operands as ``(base,
    shape, views)`` for a library call (``base``: ``("in", k)`` or the :class:`Home` of
    a stored value of ``shape``; ``views``: ``(prim name, params)`` applied in
    order)."""
    node: Node
    home: Home
    m: int
    n: int
    k: int
    a: tuple
    b: tuple
    reads: set = field(default_factory=set)
    kernel: Any = None

    @property
    def writes(self) -> set:
        return {id(self.node)}


@dataclass
class IndexKernelStep:
    """A ``scatter_add`` (after a map copying ``x`` into ``home``: one thread per
    update, ``cuda.atomic.add`` at the indexed entry, so repeated indices accumulate in
    an unspecified order), a ``det`` (one thread per matrix: LU with partial
    pivoting in a workspace copy, Golub & Van Loan §3.4) or an ``argsort`` (one thread
    per row: a stable merge sort in the workspace, ``3n`` entries a row)."""
    node: Node
    home: Home
    scratch: Home | None = None
    reads: set = field(default_factory=set)
    kernel: Any = None

    @property
    def writes(self) -> set:
        return {id(self.node)}


@dataclass(frozen=True)
class Kernel:
    """One rendered kernel and its launch configuration.

    Attributes:
        source: the :class:`~.render.KernelSource` (``params`` are buffer names:
            ``in0``..., ``out0``..., ``ws64``, ``ws32``).
        grid, block: launch dimensions (tuples).
        kind: ``"map"``, ``"reduce"``, ``"reduce2"`` (second pass) or ``"matmul"``.
        note: a one-line description (which nodes it computes).
    """
    source: KernelSource
    grid: tuple
    block: tuple
    kind: str
    note: str


class _Conflict(Exception):
    """A map kernel would read, at another index, a value it computes itself."""


def _is_int(s: str) -> bool:
    return s.lstrip("-").isdigit()


def _affine(terms, const: int = 0) -> str:
    """``Σ expr·coef + const`` as text, folding integer literals and zero terms."""
    parts = []
    for expr, coef in terms:
        if coef == 0:
            continue
        if _is_int(expr):
            const += int(expr) * coef
            continue
        parts.append(expr if coef == 1 else f"{expr} * {coef}")
    if const or not parts:
        parts.append(str(const))
    text = " + ".join(parts)
    return text.replace("+ -", "- ")


class Plan:
    """The steps computing a concrete (specialised) graph and its buffers.

    With ``batch`` (a :class:`Batch`), ``graph`` is an elementwise graph of scalar
    nodes evaluated at ``n`` points, the one-loop case: the plan is one map kernel
    named ``name`` whose parameters are every input, every output, ``n`` and the
    broadcast shape ``dim0..`` (see :func:`.render.render`).

    Raises:
        LoweringError: an op without a CUDA lowering; with ``batch``, a graph that
            does not plan as one map kernel.

    Attributes:
        graph: the specialised graph.
        steps: :class:`MapStep`, :class:`ReduceStep` and :class:`MatmulStep` in order.
        home: node id -> :class:`Home` of every materialised value.
        inline: ids of nodes computed inside their consumers' kernels.
        workspace: ``{"ws64": elements, "ws32": elements}`` (non-zero entries only).
    """

    def __init__(self, graph: Graph, options: Options | None = None, name: str = "graphc",
                 batch: Batch | None = None):
        self.graph = graph
        self.options = options or Options()
        self.name = name
        self.batch = batch
        self.steps: list = []
        self.home: dict[int, Home] = {}
        self.inline: set[int] = set()
        self.kind: dict[int, str] = {}
        self.inputs = {id(x): k for k, x in enumerate(graph.inputs)}
        self.workspace: dict[str, int] = {}
        self._count = 0
        self.invariant: set[int] = set()
        if batch is not None:
            # loop-invariant values: scalar inputs, fully broadcast N-D inputs, and every
            # operation whose arguments are all invariant (constants count as invariant);
            # the batch kernel computes them once, before its loop
            for x, entry in zip(graph.inputs, batch.layout):
                if entry == SCALAR or (isinstance(entry, tuple) and not any(entry)):
                    self.invariant.add(id(x))
            for n in graph.nodes:
                if n.args and all(a.is_const or id(a) in self.invariant for a in n.args):
                    self.invariant.add(id(n))
        self._plan()
        if batch is not None and (len(self.steps) != 1 or not isinstance(self.steps[0], MapStep)):
            raise LoweringError(f"internal: a batched elementwise graph planned as "
                                f"{len(self.steps)} steps instead of one map kernel")
        # values that no step reads from memory and that are not outputs: the kernel
        # computing them keeps them in registers only
        read = set().union(*(st.reads for st in self.steps)) if self.steps else set()
        for st in self.steps:
            if isinstance(st, MapStep):
                for s in st.stores:
                    if s.compute and id(s.node) not in read and \
                            not s.home.buf.startswith("out"):
                        s.write = False
        # final rendering, kernels named in launch order
        self.kernels: list[Kernel] = []
        for st in self.steps:
            if isinstance(st, MapStep):
                st.kernel, _ = self._render_map(
                    st, self.name if batch is not None else self._next_name())
                self.kernels.append(st.kernel)
            elif isinstance(st, ReduceStep):
                st.kernels, _ = self._render_reduce(st, self._next_name)
                self.kernels.extend(st.kernels)
            elif isinstance(st, IndexKernelStep):
                st.kernel, _ = self._render_index(st, self._next_name())
                self.kernels.append(st.kernel)
            else:
                st.kernel, _ = self._render_matmul(st, self._next_name())
                self.kernels.append(st.kernel)

    # -- classification ----------------------------------------------------------------
    def _classify(self, n: Node) -> str:
        if n.is_input:
            return "input"
        if n.is_const:
            return "const"
        p = n.prim
        if p.elementwise:
            if not p.cuda or p.cuda in ("input", "const"):
                raise LoweringError(f"primitive {p.name!r} has no CUDA lowering (its "
                                    f"record's cuda template is empty)")
            return "ew"
        key = p.cuda
        if key == "array.view":
            if p.name not in VIEW_PRIMS:
                raise LoweringError(f"no CUDA index map for the view op {p.name!r}")
            return "view"
        if key in POINT_KEYS:
            return "point"
        if key in REDUCE_OPS:
            return "reduce"
        if key == "array.matmul":
            return "matmul"
        if key in INDEX_KEYS:
            return "index"
        raise LoweringError(f"the CUDA backend cannot lower {p.name} (cuda={key!r})")

    def _alloc(self, node: Node, size: int | None = None) -> Home:
        buf = "ws64" if node.dtype == "float64" else "ws32"
        off = self.workspace.get(buf, 0)
        n = _prod(node.shape) if size is None else size
        # keep 128-byte alignment between blocks (16 float64 / 32 float32)
        step = 16 if buf == "ws64" else 32
        self.workspace[buf] = off + (n + step - 1) // step * step
        return Home(buf, off)

    # -- planning ------------------------------------------------------------------------
    def _plan(self) -> None:
        g = self.graph
        for n in g.nodes:
            self.kind[id(n)] = self._classify(n)
        consumers = array_consumers(g)
        out_ids = {id(o) for o in g.outputs}

        def effective(n: Node) -> list[Node]:
            """Consumers of ``n`` seen through views (a view that is an output counts
            as a consumer: a map kernel stores it)."""
            found: list[Node] = []
            stack = list(consumers.get(id(n), []))
            while stack:
                c = stack.pop()
                if self.kind[id(c)] == "view":
                    if id(c) in out_ids:
                        found.append(c)
                    stack.extend(consumers.get(id(c), []))
                elif not any(c is f for f in found):
                    found.append(c)
            return found

        needs_memory: set[int] = set()   # bases of matmul operands
        for n in g.nodes:
            if self.kind[id(n)] == "matmul":
                for a in n.args:
                    base, _ = self._chain(a)
                    needs_memory.add(id(base))
        for n in g.nodes:
            kind = self.kind[id(n)]
            if kind not in ("ew", "point") or id(n) in out_ids or id(n) in needs_memory:
                continue
            eff = effective(n)
            if not eff:
                continue
            fusable = all(self.kind[id(c)] in ("ew", "point", "reduce", "view") for c in eff)
            if fusable and (len(eff) == 1 or is_cheap(n.prim)):
                self.inline.add(id(n))

        out_home: dict[int, Home] = {}
        for j, o in enumerate(g.outputs):
            if self.kind[id(o)] in ("ew", "point", "reduce", "matmul", "index") and \
                    id(o) not in out_home:
                out_home[id(o)] = Home(f"out{j}", 0)
        # an output that only reshapes a stored value used nowhere else (a bias
        # gradient ``reshape(sum(g, axis=0, keepdims=True), (5,))``): the value is
        # stored straight into the output (same entries in the same C order)
        aliased: set[int] = set()
        for j, o in enumerate(g.outputs):
            if self.kind[id(o)] != "view" or j in aliased:
                continue
            base, views = self._chain(o)
            eff = effective(base)
            if all(v[0] == "reshape" for v in views) and id(base) not in self.inline and \
                    self.kind[id(base)] in ("ew", "point", "reduce", "matmul") and \
                    id(base) not in out_home and len(eff) == 1 and eff[0] is o and \
                    sum(x is o for x in g.outputs) == 1:
                out_home[id(base)] = Home(f"out{j}", 0)
                aliased.add(j)
        for n in g.nodes:
            kind = self.kind[id(n)]
            if kind in ("input", "view") or id(n) in self.inline:
                continue
            if kind == "const":
                if id(n) in needs_memory:
                    self.home[id(n)] = self._alloc(n)
                    self._add_map(n.shape, [Store(n, self.home[id(n)], False)])
                continue
            if not consumers.get(id(n)) and id(n) not in out_ids:
                continue  # dead
            home = out_home.get(id(n)) or self._alloc(n)
            self.home[id(n)] = home
            if kind in ("ew", "point"):
                self._add_map(n.shape, [Store(n, home, True)])
            elif kind == "reduce":
                self._add_reduce(n, home)
            elif kind == "index":
                self._add_index(n, home)
            else:
                self._add_matmul(n, home)
        for j, o in enumerate(g.outputs):
            h = self.home.get(id(o))
            if j in aliased or (h is not None and h.buf == f"out{j}"):
                continue
            self._add_map(o.shape, [Store(o, Home(f"out{j}", 0), False)])

    def _chain(self, node: Node) -> tuple[Node, list]:
        """``node`` as its first non-view ancestor and the views applied to it."""
        views = []
        while self.kind[id(node)] == "view":
            views.append((node.prim.name, {k: v for k, v in node.params
                                           if not k.startswith("_")}))
            node = node.args[0]
        return node, views[::-1]

    def _base_ref(self, node: Node):
        if node.is_input:
            return ("in", self.inputs[id(node)])
        return self.home[id(node)]

    def _next_name(self) -> str:
        name = f"{self.name}_k{self._count}"
        self._count += 1
        return name

    # -- map kernels ---------------------------------------------------------------------
    def _add_map(self, shape: tuple, stores: list) -> None:
        step = MapStep(tuple(shape), list(stores))
        _, reads = self._render_map(step, "probe")
        step.reads = reads
        passed = 0
        for k in range(len(self.steps) - 1, -1, -1):
            st = self.steps[k]
            if passed >= MERGE_LOOKBACK:
                break
            if isinstance(st, MapStep) and st.shape == step.shape:
                merged = MapStep(st.shape, st.stores + step.stores)
                try:
                    _, mreads = self._render_map(merged, "probe")
                except _Conflict:
                    pass
                else:
                    merged.reads = mreads
                    self.steps[k] = merged
                    return
            if step.reads & st.writes:
                break
            passed += 1
        self.steps.append(step)

    def _render_map(self, step: MapStep, name: str):
        if self.batch is not None:
            return self._render_batch(step, name)
        shape = step.shape
        size = _prod(shape)
        ident = tuple("0" if d == 1 else f"j{i}" for i, d in enumerate(shape))
        w = _Writer(self, {id(s.node): s.node for s in step.stores if s.compute}, ident)
        w.depth = 2
        live = [i for i, d in enumerate(shape) if d != 1]
        if len(live) == 1:
            w.emit(f"j{live[0]} = i")
        elif live:
            w.emit("r = i")
            for i in reversed(live[1:]):
                w.emit(f"j{i} = r % {shape[i]}")
                w.emit(f"r = r // {shape[i]}")
            w.emit(f"j{live[0]} = r")
        stored = []
        for st in step.stores:
            v = w.val(st.node, ident)
            if st.write:
                w.use(st.home.buf)
                w.emit(f"{st.home.buf}[{_affine([('i', 1)], st.home.offset)}] = {v}")
                stored.append(st.node)
        body = w.lines
        params = w.param_list()
        lines = [f"def {name}({', '.join(params)}):",
                 f"    # map over shape {shape}: one thread per element, grid-stride loop",
                 "    i = cuda.grid(1)",
                 "    stride = cuda.gridsize(1)",
                 f"    while i < {size}:"]
        lines += body
        lines.append("        i += stride")
        text = "\n".join(lines) + "\n"
        o = self.options
        tpb = max(1, min(o.threads_per_block, -(-max(size, 1) // 32) * 32))
        blocks = max(1, min(-(-size // tpb), o.max_blocks))
        note = "map: " + ", ".join(self._label(n) for n in stored)
        kern = Kernel(KernelSource(text, name, tuple(params), (), 0), (blocks,), (tpb,),
                      "map", note)
        return kern, w.reads

    def _render_batch(self, step: MapStep, name: str):
        """The map kernel of a batched elementwise graph (see :class:`Batch`): ``n``
        elements, a run-time parameter, inputs read as the batch layout says, values
        that do not depend on the element computed once before the loop."""
        layout, ndim = self.batch.layout, self.batch.ndim
        w = _Writer(self, {id(s.node): s.node for s in step.stores if s.compute}, ())
        w.depth = 2
        w.hoist = self.invariant
        for st in step.stores:
            if st.write:
                v = w.val(st.node, ())
                w.emit(f"{st.home.buf}[{_affine([('i', 1)], st.home.offset)}] = {v}")
        g = self.graph
        n_in, n_out = len(g.inputs), len(g.outputs)
        params = ([f"in{k}" for k in range(n_in)] + [f"out{m}" for m in range(n_out)]
                  + ["n"] + [f"dim{d}" for d in range(ndim)])
        lines = [f"def {name}({', '.join(params)}):",
                 f"    # {n_in} input(s), {n_out} output(s), {len(g.operations)} "
                 f"operation(s): one thread per element, grid-stride loop"]
        lines += w.pre
        lines += ["    i = cuda.grid(1)", "    stride = cuda.gridsize(1)", "    while i < n:"]
        if w.strided:
            # C-order multi-index of element i in the broadcast shape
            lines.append("        r = i")
            for d in range(ndim - 1, 0, -1):
                lines.append(f"        j{d} = r % dim{d}")
                lines.append(f"        r = r // dim{d}")
            lines.append("        j0 = r")
        lines += w.lines
        lines.append("        i += stride")
        text = "\n".join(lines) + "\n"
        kern = Kernel(KernelSource(text, name, tuple(params), layout, ndim), (0,),
                      (self.options.threads_per_block,), "map",
                      f"map over n elements: {n_out} output(s)")
        return kern, w.reads

    def _label(self, n: Node) -> str:
        return f"{n.prim.name}{list(n.shape)}"

    # -- reductions ----------------------------------------------------------------------
    def _add_reduce(self, n: Node, home: Home) -> None:
        x = n.args[0]
        axes = dict(n.params)["axis"]
        length = _prod(x.shape[a] for a in axes)
        outputs = _prod(n.shape)
        o = self.options
        if length <= o.serial_reduce:
            self._add_map(n.shape, [Store(n, home, True)])
            return
        threads = min(o.reduce_threads, max(32, 1 << max(0, length - 1).bit_length()))
        parts = 1
        if outputs < o.reduce_blocks:
            parts = max(1, min(-(-length // threads), o.reduce_blocks // max(outputs, 1)))
        partial = None
        if parts > 1:
            partial = self._alloc(n, outputs * parts)
        step = ReduceStep(n, home, REDUCE_OPS[n.prim.cuda], outputs, length, threads, parts,
                          partial)
        _, step.reads = self._render_reduce(step, lambda: "probe")
        self.steps.append(step)

    def _render_reduce(self, st: ReduceStep, namer):
        n = st.node
        x = n.args[0]
        axes = dict(n.params)["axis"]
        dt = n.dtype
        npn = NP_NAMES[dt]
        T, P, K, M = st.threads, st.parts, st.length, st.outputs
        w = _Writer(self, {}, None)
        w.depth = 1
        # the output index (kept dims) and the block's share
        if P == 1:
            w.emit("ro = cuda.blockIdx.x")
            w.emit("rr = tid")
        else:
            w.emit(f"ro = cuda.blockIdx.x // {P}")
            w.emit(f"rr = (cuda.blockIdx.x - ro * {P}) * {T} + tid")
        kept = [d for d in range(len(x.shape)) if d not in axes]
        red = [d for d in range(len(x.shape)) if d in axes]
        idx = ["0"] * len(x.shape)
        _decompose(w, "ro", [(d, x.shape[d]) for d in kept], idx, "ko")
        ident = _float_lit(IDENTITY[st.op], dt)
        w.emit(f"racc = {ident}")
        with w.block(f"while rr < {K}:"):
            _decompose(w, "rr", [(d, x.shape[d]) for d in red], idx, "kr")
            v = w.val(x, tuple(idx))
            w.emit(f"racc = {_combine(st.op, 'racc', _cast(v, x.dtype, dt), dt)}")
            w.emit(f"rr += {P * T}")
        tree = _tree(st.op, T, dt)
        if P == 1:
            dest = f"{st.home.buf}[{_affine([('ro', 1)], st.home.offset)}]"
        else:
            dest = f"{st.partial.buf}[{_affine([('cuda.blockIdx.x', 1)], st.partial.offset)}]"
        w.use(st.home.buf if P == 1 else st.partial.buf)
        params = w.param_list()
        name = namer()
        lines = [f"def {name}({', '.join(params)}):",
                 (f"    # {st.op} of {K} entries into each of {M} result(s): {T} threads "
                  f"per block, {P} block(s) per result, tree reduction in shared memory"),
                 f"    sm = cuda.shared.array({T}, {npn})",
                 "    tid = cuda.threadIdx.x"]
        lines += w.lines
        lines += ["    sm[tid] = racc", "    cuda.syncthreads()"] + tree
        lines += ["    if tid == 0:", f"        {dest} = sm[0]"]
        kernels = [Kernel(KernelSource("\n".join(lines) + "\n", name, tuple(params), (), 0),
                          (M * P,), (T,), "reduce",
                          f"reduce {st.op}: {self._label(n)} of {self._label(x)}")]
        if P > 1:
            name2 = namer()
            T2 = min(T, max(1, 1 << max(0, P - 1).bit_length()))
            params2 = _buffer_order({st.partial.buf, st.home.buf})
            part = _affine([("ro", P), ("rq", 1)], st.partial.offset)
            src = _combine(st.op, "racc", f"{st.partial.buf}[{part}]", dt)
            lines2 = [f"def {name2}({', '.join(params2)}):",
                      (f"    # second pass: {st.op} of the {P} partial results of each "
                       f"of {M} result(s)"),
                      f"    sm = cuda.shared.array({T2}, {npn})",
                      "    tid = cuda.threadIdx.x",
                      "    ro = cuda.blockIdx.x",
                      f"    racc = {ident}",
                      "    rq = tid",
                      f"    while rq < {P}:",
                      f"        racc = {src}",
                      f"        rq += {T2}",
                      "    sm[tid] = racc",
                      "    cuda.syncthreads()"] + _tree(st.op, T2, dt) + [
                      "    if tid == 0:",
                      f"        {st.home.buf}[{_affine([('ro', 1)], st.home.offset)}] = sm[0]"]
            kernels.append(Kernel(KernelSource("\n".join(lines2) + "\n", name2, tuple(params2),
                                               (), 0), (M,), (T2,), "reduce2",
                                  f"reduce {st.op}, second pass: {self._label(n)}"))
        return tuple(kernels), w.reads

    # -- scatter_add, det and argsort -------------------------------------------------------
    def _add_index(self, n: Node, home: Home) -> None:
        scratch = None
        if n.prim.name == "scatter_add":
            self._add_map(n.shape, [Store(n.args[0], home, False)])
        elif n.prim.name == "argsort":
            # per row: its values, then the merge sort's two index buffers
            scratch = self._alloc(n, max(1, 3 * _prod(n.shape)))
        else:
            k = n.args[0].shape[-1]
            scratch = self._alloc(n, max(1, _prod(n.shape) * k * k))
        st = IndexKernelStep(n, home, scratch)
        _, st.reads = self._render_index(st, "probe")
        self.steps.append(st)

    def _render_index(self, st: IndexKernelStep, name: str):
        from ...ir.index_ops import _scatter_iter_shape
        n = st.node
        dt = n.dtype
        w = _Writer(self, {}, None)
        w.depth = 2
        if n.prim.name == "scatter_add":
            x, ind, v = n.args
            axis = dict(n.params)["axis"]
            P = _scatter_iter_shape(x.shape, ind.shape, v.shape, axis)
            idx = ["0"] * len(P)
            _decompose(w, "i", list(enumerate(P)), idx, "q")
            iv = w.val(ind, tuple("0" if d == 1 else idx[k] for k, d in enumerate(ind.shape)))
            w.emit(f"kq = int({iv})")
            w.emit(f"if kq < 0: kq += {x.shape[axis]}")
            vv = w.val(v, tuple("0" if d == 1 else idx[k] for k, d in enumerate(v.shape)))
            tgt = ["kq" if k == axis else ("0" if d == 1 else idx[k])
                   for k, d in enumerate(x.shape)]
            addr = _affine(list(zip(tgt, _c_strides(x.shape))), st.home.offset)
            w.use(st.home.buf)
            w.emit(f"cuda.atomic.add({st.home.buf}, {addr}, {_cast(vv, v.dtype, dt)})")
            size = _prod(P)
            note = f"scatter_add {self._label(n)} (atomic adds)"
        elif n.prim.name == "argsort":
            size, note = self._write_argsort(w, st), \
                f"argsort {self._label(n)} (one thread per row, stable merge sort)"
        else:
            (a,) = n.args
            k = a.shape[-1]
            lead = n.shape
            size = _prod(lead)
            idx = ["0"] * len(lead)
            _decompose(w, "i", list(enumerate(lead)), idx, "q")
            S = st.scratch
            w.use(S.buf)
            base = f"{S.offset} + i * {k * k}"
            one, zero = _float_lit(1.0, dt), _float_lit(0.0, dt)
            w.emit(f"dacc = {one}")
            with w.block(f"for di in range({k}):"):
                with w.block(f"for dj in range({k}):"):
                    av = w.val(a, tuple(idx) + ("di", "dj"))
                    w.emit(f"{S.buf}[{base} + di * {k} + dj] = {_cast(av, a.dtype, dt)}")
            M = lambda i, j: f"{S.buf}[{base} + ({i}) * {k} + ({j})]"  # noqa: E731
            with w.block(f"for dk in range({k}):"):
                w.emit("dp = dk")
                w.emit(f"dm = abs({M('dk', 'dk')})")
                with w.block(f"for di in range(dk + 1, {k}):"):
                    with w.block(f"if abs({M('di', 'dk')}) > dm:"):
                        w.emit(f"dm = abs({M('di', 'dk')})")
                        w.emit("dp = di")
                with w.block("if dp != dk:"):
                    with w.block(f"for dj in range({k}):"):
                        w.emit(f"dt = {M('dk', 'dj')}")
                        w.emit(f"{M('dk', 'dj')} = {M('dp', 'dj')}")
                        w.emit(f"{M('dp', 'dj')} = dt")
                    w.emit("dacc = -dacc")
                w.emit(f"du = {M('dk', 'dk')}")
                w.emit("dacc = dacc * du")
                with w.block(f"if du != {zero}:"):
                    with w.block(f"for di in range(dk + 1, {k}):"):
                        w.emit(f"df = {M('di', 'dk')} / du")
                        with w.block(f"for dj in range(dk + 1, {k}):"):
                            w.emit(f"{M('di', 'dj')} = {M('di', 'dj')} - df * {M('dk', 'dj')}")
            w.use(st.home.buf)
            w.emit(f"{st.home.buf}[{_affine([('i', 1)], st.home.offset)}] = dacc")
            note = f"det {self._label(n)} (one thread per matrix, LU with partial pivoting)"
        params = w.param_list()
        lines = [f"def {name}({', '.join(params)}):",
                 f"    # {note}",
                 "    i = cuda.grid(1)",
                 "    stride = cuda.gridsize(1)",
                 f"    while i < {size}:"]
        lines += w.lines
        lines.append("        i += stride")
        o = self.options
        tpb = max(1, min(o.threads_per_block, -(-max(size, 1) // 32) * 32))
        blocks = max(1, min(-(-size // tpb), o.max_blocks)) if size else 0
        kern = Kernel(KernelSource("\n".join(lines) + "\n", name, tuple(params), (), 0),
                      (blocks,), (tpb,), "map", note)
        return kern, w.reads

    def _write_argsort(self, w: "_Writer", st: IndexKernelStep) -> int:
        """The body of an argsort kernel, one thread per row (the last axis) of ``x``;
        returns the number of rows. The thread copies its row's values into the
        workspace, sorts the row's indices there by insertion on runs of
        :data:`~graphc.ir.index_ops.SORT_RUN` and bottom-up merges (Knuth, TAOCP vol.
        3, §5.2.4; stable, O(n log n)), an entry going first when it is smaller or the
        other is NaN and it is not (NaNs last, ties in index order, as
        ``np.argsort(kind="stable")``), and writes the indices as floats."""
        from ...ir.index_ops import SORT_RUN
        n = st.node
        (x,) = n.args
        dt = n.dtype
        k = x.shape[-1]
        lead = tuple(n.shape[:-1])
        idx = ["0"] * len(lead)
        _decompose(w, "i", list(enumerate(lead)), idx, "q")
        S, R = st.scratch, st.scratch.buf
        w.use(R)
        w.use(st.home.buf)

        def before(u, v):
            return f"{u} < {v} or ({v} != {v} and {u} == {u})"
        w.emit(f"sv = {S.offset} + i * {3 * k}")
        w.emit(f"sa = sv + {k}")
        w.emit(f"sb = sa + {k}")
        with w.block(f"for sj in range({k}):"):
            xv = w.val(x, tuple(idx) + ("sj",))
            w.emit(f"{R}[sv + sj] = {_cast(xv, x.dtype, dt)}")
            w.emit(f"{R}[sa + sj] = sj")
        with w.block(f"for sr in range(0, {k}, {SORT_RUN}):"):
            w.emit(f"se = min(sr + {SORT_RUN}, {k})")
            with w.block("for sj in range(sr + 1, se):"):
                w.emit(f"sk = {R}[sa + sj]")
                w.emit(f"skv = {R}[sv + int(sk)]")
                w.emit("sp = sj")
                with w.block("while sp > sr:"):
                    w.emit(f"spi = {R}[sa + sp - 1]")
                    w.emit(f"spv = {R}[sv + int(spi)]")
                    with w.block(f"if {before('skv', 'spv')}:"):
                        w.emit(f"{R}[sa + sp] = spi")
                        w.emit("sp -= 1")
                    with w.block("else:"):
                        w.emit("break")
                w.emit(f"{R}[sa + sp] = sk")
        w.emit(f"sw = {SORT_RUN}")
        w.emit("ss = sa")
        w.emit("sd = sb")
        with w.block(f"while sw < {k}:"):
            with w.block(f"for slo in range(0, {k}, 2 * sw):"):
                w.emit(f"smid = min(slo + sw, {k})")
                w.emit(f"shi = min(slo + 2 * sw, {k})")
                w.emit("sl = slo")
                w.emit("sm = smid")
                with w.block("for sj in range(slo, shi):"):
                    w.emit("sright = False")
                    with w.block("if sm < shi:"):
                        with w.block("if sl >= smid:"):
                            w.emit("sright = True")
                        with w.block("else:"):
                            w.emit(f"su = {R}[sv + int({R}[ss + sm])]")
                            w.emit(f"sx = {R}[sv + int({R}[ss + sl])]")
                            w.emit(f"sright = {before('su', 'sx')}")
                    with w.block("if sright:"):
                        w.emit(f"{R}[sd + sj] = {R}[ss + sm]")
                        w.emit("sm += 1")
                    with w.block("else:"):
                        w.emit(f"{R}[sd + sj] = {R}[ss + sl]")
                        w.emit("sl += 1")
            w.emit("ss, sd = sd, ss")
            w.emit("sw *= 2")
        H = st.home
        with w.block(f"for sj in range({k}):"):
            w.emit(f"{H.buf}[{_affine([('i', k)], H.offset)} + sj] = {R}[ss + sj]")
        return _prod(lead)

    # -- matrix products -----------------------------------------------------------------
    def _add_matmul(self, n: Node, home: Home) -> None:
        a, b = n.args
        sa, sb = a.shape, b.shape
        m = sa[0] if len(sa) == 2 else 1
        k = sa[-1]
        nn = sb[1] if len(sb) == 2 else 1
        chains = []
        for arg in (a, b):
            base, views = self._chain(arg)
            chains.append((self._base_ref(base), base.shape, tuple(views)))
        st = MatmulStep(n, home, m, nn, k, chains[0], chains[1])
        _, st.reads = self._render_matmul(st, "probe")
        self.steps.append(st)

    def _render_matmul(self, st: MatmulStep, name: str):
        n = st.node
        a, b = n.args
        dt = n.dtype
        npn = NP_NAMES[dt]
        T = self.options.tile
        M, N, K = st.m, st.n, st.k
        w = _Writer(self, {}, None)
        w.depth = 2
        zero = _float_lit(0.0, dt)
        w.emit(f"mka = mt * {T} + tx")
        with w.block(f"if mrow < {M} and mka < {K}:"):
            aidx = ("mrow", "mka") if len(a.shape) == 2 else ("mka",)
            w.emit(f"sa[ty, tx] = {_cast(w.val(a, aidx), a.dtype, dt)}")
        with w.block("else:"):
            w.emit(f"sa[ty, tx] = {zero}")
        w.emit(f"mkb = mt * {T} + ty")
        with w.block(f"if mkb < {K} and mcol < {N}:"):
            bidx = ("mkb", "mcol") if len(b.shape) == 2 else ("mkb",)
            w.emit(f"sb[ty, tx] = {_cast(w.val(b, bidx), b.dtype, dt)}")
        with w.block("else:"):
            w.emit(f"sb[ty, tx] = {zero}")
        w.use(st.home.buf)
        params = w.param_list()
        if len(n.shape) == 2:
            addr = _affine([("mrow", N), ("mcol", 1)], st.home.offset)
        elif len(a.shape) == 2:
            addr = _affine([("mrow", 1)], st.home.offset)
        else:
            addr = _affine([("mcol", 1)], st.home.offset)
        nt = -(-K // T)
        nbm, nbn = -(-M // T), -(-N // T)   # tiles down and across C (a 1-D grid of them)
        lines = [f"def {name}({', '.join(params)}):",
                 f"    # ({M} x {K}) @ ({K} x {N}): {T} x {T} tiles staged in shared memory",
                 f"    sa = cuda.shared.array(({T}, {T}), {npn})",
                 f"    sb = cuda.shared.array(({T}, {T}), {npn})",
                 "    tx = cuda.threadIdx.x",
                 "    ty = cuda.threadIdx.y",
                 f"    mrow = (cuda.blockIdx.x // {nbn}) * {T} + ty",
                 f"    mcol = (cuda.blockIdx.x % {nbn}) * {T} + tx",
                 f"    macc = {zero}",
                 f"    for mt in range({nt}):"]
        lines += w.lines
        lines += ["        cuda.syncthreads()",
                  f"        for mq in range({T}):",
                  "            macc += sa[ty, mq] * sb[mq, tx]",
                  "        cuda.syncthreads()",
                  f"    if mrow < {M} and mcol < {N}:",
                  f"        {st.home.buf}[{addr}] = macc"]
        grid = (nbm * nbn,)
        kern = Kernel(KernelSource("\n".join(lines) + "\n", name, tuple(params), (), 0),
                      grid, (T, T), "matmul",
                      f"matmul {self._label(a)} @ {self._label(b)} (tiled)")
        return kern, w.reads


def _buffer_order(bufs):
    """Buffer parameter names in kernel order: inputs, outputs, workspaces."""
    def key(b):
        if b.startswith("in"):
            return (0, int(b[2:]))
        if b.startswith("out"):
            return (1, int(b[3:]))
        return (2, b)
    return sorted(set(bufs), key=key)


def _float_lit(value: float, dtype: str) -> str:
    text = format_float(float(value))
    return text if dtype == "float64" else f"{NP_NAMES[dtype]}({text})"


def _cast(expr: str, src: str, dst: str) -> str:
    return expr if src == dst else f"{NP_NAMES[dst]}({expr})"


def _combine(op: str, a: str, b: str, dtype: str) -> str:
    """``op`` of two values; max/min propagate NaN (as ``np.max``/``np.min``)."""
    if op == "sum":
        e = f"{a} + {b}"
    elif op == "prod":
        e = f"{a} * {b}"
    elif op == "max":
        return f"({a} if {a} != {a} or {a} >= {b} else {b})"
    else:
        return f"({a} if {a} != {a} or {a} <= {b} else {b})"
    return e if dtype == "float64" else f"{NP_NAMES[dtype]}({e})"


def _tree(op: str, threads: int, dtype: str) -> list[str]:
    """The shared-memory tree reduction of ``sm[0:threads]`` into ``sm[0]``
    (``threads`` is a power of two): the lower half of the active threads combines
    its entry with the upper half's, then all synchronise, halving until one is left.
    A loop rather than unrolled stages: one copy of the body for Numba to type."""
    return [f"    rs = {threads // 2}",
            "    while rs > 0:",
            "        if tid < rs:",
            "            ra = sm[tid]",
            "            rb = sm[tid + rs]",
            f"            sm[tid] = {_combine(op, 'ra', 'rb', dtype)}",
            "        cuda.syncthreads()",
            "        rs //= 2"]


def _decompose(w: "_Writer", var: str, dims: list, idx: list, prefix: str) -> None:
    """Split the linear index ``var`` into C-ordered indices of ``dims`` (pairs of
    (position in ``idx``, size)), writing their names into ``idx``."""
    live = [(d, s) for d, s in dims if s != 1]
    if not live:
        return
    if len(live) == 1:
        idx[live[0][0]] = var
        return
    w.emit(f"{prefix}r = {var}")
    for d, s in reversed(live[1:]):
        name = f"{prefix}{d}"
        w.emit(f"{name} = {prefix}r % {s}")
        w.emit(f"{prefix}r = {prefix}r // {s}")
        idx[d] = name
    name = f"{prefix}{live[0][0]}"
    w.emit(f"{name} = {prefix}r")
    idx[live[0][0]] = name


class _Writer:
    """Writes the statements computing node values at index expressions.

    ``val(node, idx)`` returns a variable or literal holding ``node`` at the
    multi-index ``idx`` (a tuple of integer expressions, one per dimension), emitting
    what it needs: reads of inputs (with their own strides) and of materialised
    values (flat, C-ordered), index arithmetic through views, the templates of
    elementwise ops, guarded reads for ``unslice``/``concatenate``. Results are
    memoised per (node, index) within the current block.

    ``computing`` maps ids of the nodes that the kernel being written stores to the
    nodes; they are computed (not read) at the kernel's own index ``identity``; a read
    at another index raises :class:`_Conflict` (another thread writes it).
    """

    def __init__(self, plan: Plan, computing: dict, identity: tuple | None):
        self.p = plan
        self.computing = computing
        self.identity = identity
        self.lines: list[str] = []
        self.depth = 1
        self.scopes: list[dict] = [{}]
        self.count = 0
        self.reads: set[int] = set()
        self.bufs: set[str] = set()
        self.offsets: dict[str, tuple[str, int]] = {}  # k7 -> ("j0", 1): k7 = j0 + 1
        self.hoist: set[int] = set()     # ids of values computed before the loop
        self.pre: list[str] = []         # their statements
        self.strided = False             # a batch input is read at a multi-index
        self._hoisting = False

    # -- output ------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def block(self, header: str):
        self.emit(header)
        self.depth += 1
        self.scopes.append(dict(self.scopes[-1]))
        try:
            yield
        finally:
            self.scopes.pop()
            self.depth -= 1

    def use(self, buf: str) -> None:
        self.bufs.add(buf)

    def param_list(self) -> list[str]:
        return _buffer_order(self.bufs)

    def fresh(self, prefix: str = "t") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def ivar(self, expr: str) -> str:
        """``expr`` (integer arithmetic) as a name or literal, assigning it once."""
        if _is_int(expr) or expr.isidentifier():
            return expr
        key = ("i", expr)
        memo = self.scopes[-1]
        if key not in memo:
            name = self.fresh("k")
            self.emit(f"{name} = {expr}")
            memo[key] = name
        return memo[key]

    def shift(self, p: str, c: int) -> str:
        """The index ``p + c`` (folding chains: ``(j0 + 1) - 1`` is ``j0``)."""
        if _is_int(p):
            return str(int(p) + c)
        base, c0 = self.offsets.get(p, (p, 0))
        if c + c0 == 0:
            return base
        name = self.ivar(_affine([(base, 1)], c + c0))
        self.offsets.setdefault(name, (base, c + c0))
        return name

    # -- values ------------------------------------------------------------------------
    def val(self, n: Node, idx: tuple) -> str:
        idx = tuple(idx)
        key = (id(n), idx)
        found = self.scopes[-1].get(key)
        if found is not None:
            return found
        if id(n) in self.hoist and not self._hoisting:
            saved = self.lines, self.depth
            self.lines, self.depth, self._hoisting = self.pre, 1, True
            try:
                r = self._val(n, idx)
            finally:
                (self.lines, self.depth), self._hoisting = saved, False
        else:
            r = self._val(n, idx)
        self.scopes[-1][key] = r
        return r

    def _val(self, n: Node, idx: tuple) -> str:
        if n.is_const:
            return _float_lit(float(n.value), n.dtype)
        nid = id(n)
        if n.is_input and self.p.batch is not None:
            k = self.p.inputs[nid]
            entry = self.p.batch.layout[k]
            self.strided |= isinstance(entry, tuple) and any(entry)
            name = self.fresh()
            self.emit(f"{name} = {_load(k, entry, n.dtype, self.p.batch.ndim)}")
            return name
        if n.is_input:
            k = self.p.inputs[nid]
            buf = f"in{k}"
            self.use(buf)
            ref = f"{buf}[0]" if not idx else f"{buf}[{', '.join(idx)}]"
            name = self.fresh()
            self.emit(f"{name} = {NP_NAMES[n.dtype]}({ref})")
            return name
        if nid in self.computing:
            if idx != self.identity:
                raise _Conflict(nid)
            return self.compute(n, idx)
        kind = self.p.kind[nid]
        if kind == "view":
            return self.val(n.args[0], self.view_index(n, idx))
        if nid in self.p.inline:
            return self.compute(n, idx)
        home = self.p.home.get(nid)
        if home is None:
            raise LoweringError(f"internal: {n.prim.name} is neither computed nor stored")
        self.reads.add(nid)
        self.use(home.buf)
        addr = _affine(list(zip(idx, _c_strides(n.shape))), home.offset)
        name = self.fresh()
        self.emit(f"{name} = {home.buf}[{addr}]")
        return name

    def compute(self, n: Node, idx: tuple) -> str:
        kind = self.p.kind[id(n)]
        if kind == "ew":
            return self._elementwise(n, idx)
        if kind == "reduce":
            return self._serial_reduce(n, idx)
        name = n.prim.name
        if name == "unslice":
            return self._unslice(n, idx)
        if name == "concatenate":
            return self._concatenate(n, idx)
        if name == "one_hot":
            return self._one_hot(n, idx)
        if name == "gather":
            return self._gather(n, idx)
        raise LoweringError(f"internal: cannot compute {name} per element")

    def _gather(self, n: Node, idx: tuple) -> str:
        """``x`` at ``idx`` with the gathered axis replaced by the index read there
        (checked to be an integer in ``[-n, n)`` before the run)."""
        x, ind = n.args
        axis = dict(n.params)["axis"]
        iv = self.val(ind, tuple("0" if d == 1 else idx[k] for k, d in enumerate(ind.shape)))
        k = self.fresh("g")
        self.emit(f"{k} = int({iv})")
        self.emit(f"if {k} < 0: {k} += {x.shape[axis]}")
        src = tuple(k if d == axis else ("0" if s == 1 else idx[d])
                    for d, s in enumerate(x.shape))
        v = self.val(x, src)
        return _cast(v, x.dtype, n.dtype)

    @staticmethod
    def aligned(arg: Node, idx: tuple) -> tuple:
        """``idx`` (an index of the broadcast shape) for ``arg`` (NumPy broadcasting:
        trailing alignment, index 0 along size-1 dimensions)."""
        off = len(idx) - len(arg.shape)
        return tuple("0" if d == 1 else idx[off + i] for i, d in enumerate(arg.shape))

    def _elementwise(self, n: Node, idx: tuple) -> str:
        args = [self.val(a, self.aligned(a, idx)) for a in n.args]
        if (n.prim.name in ("pow", "div") and n.args[1].is_const
                and all(a.dtype == n.dtype for a in n.args)):
            lowered = (self._pow_const if n.prim.name == "pow" else self._div_const)(
                n, args[0], float(n.args[1].value))
            if lowered is not None:
                return lowered
        params = {}
        for pname, pval in n.params:
            if not isinstance(pval, float):
                raise LoweringError(f"{n.prim.name}: parameter {pname}={pval!r} is not a "
                                    f"float")
            params[pname] = format_float(pval)
        try:
            expr = n.prim.cuda.format(*args, **params)
        except (IndexError, KeyError) as exc:
            raise LoweringError(f"the CUDA template of {n.prim.name!r} ({n.prim.cuda!r}) "
                                f"does not fit its arguments: {exc}") from None
        if n.dtype != "float64":
            expr = f"{NP_NAMES[n.dtype]}({expr})"
        name = self.fresh()
        self.emit(f"{name} = {expr}")
        return name

    def _let(self, expr: str) -> str:
        name = self.fresh()
        self.emit(f"{name} = {expr}")
        return name

    def _pow_const(self, n: Node, x: str, exponent: float) -> str | None:
        """``x ** exponent`` by :func:`graphc.backends.lowering_rules.pow_rule`
        (multiplications, ``sqrt``), or None for the general ``math.pow``."""
        rule = pow_rule(exponent, n.dtype)
        dt = n.dtype
        if rule.kind == "one":
            return _float_lit(1.0, dt)
        if rule.kind == "chain":
            vals = [x]
            for i, j in rule.steps:
                vals.append(self._let(f"{vals[i]} * {vals[j]}"))
            if not rule.reciprocal:
                return vals[-1]
            return self._let(f"{_float_lit(1.0, dt)} / {vals[-1]}")
        if rule.kind == "sqrt":
            return self._let(_cast(f"math.sqrt({x})", "float64", dt))
        if rule.kind == "sqrt_c99":
            # C pow: pow(-0, .5) = +0 (adding +0 turns -0 into +0), pow(-inf, .5) = +inf
            inf = _float_lit(math.inf, dt)
            return self._let(_cast(f"({inf} if {x} == {_float_lit(-math.inf, dt)} else "
                                   f"math.sqrt({x}) + {_float_lit(0.0, dt)})", "float64", dt))
        return None

    def _div_const(self, n: Node, a: str, c: float) -> str | None:
        """``a / c`` by :func:`graphc.backends.lowering_rules.divide_rule`: a product
        with the exact reciprocal, or Markstein's FMA sequence (``fma`` is
        ``numba.cuda.fma`` in the kernel's namespace) with the plain division on the
        branch for quotients outside its proven range; None for the template."""
        rule = divide_rule(c, n.dtype)
        dt = n.dtype
        if rule.kind == "mul":
            return self._let(f"{a} * {_float_lit(rule.recip, dt)}")
        if rule.kind != "fma":
            return None
        y, cc = _float_lit(rule.recip, dt), _float_lit(rule.c, dt)
        q0 = self._let(f"{a} * {y}")
        q1 = self._let(f"fma(fma(-{q0}, {cc}, {a}), {y}, {q0})")
        q2 = self._let(f"fma(fma(-{q1}, {cc}, {a}), {y}, {q1})")
        lo, hi = _float_lit(rule.lo, dt), _float_lit(rule.hi, dt)
        return self._let(f"({q2} if {lo} <= abs({q0}) <= {hi} else {a} / {cc})")

    def _serial_reduce(self, n: Node, idx: tuple) -> str:
        """A reduction computed by one thread: a loop over the reduced entries."""
        x = n.args[0]
        params = dict(n.params)
        axes, keep = params["axis"], params["keepdims"]
        op = REDUCE_OPS[n.prim.cuda]
        dt = n.dtype
        xidx = ["0"] * len(x.shape)
        pos = 0
        for d in range(len(x.shape)):
            if d in axes:
                if keep:
                    pos += 1
                continue
            xidx[d] = idx[pos]
            pos += 1
        acc = self.fresh()
        self.emit(f"{acc} = {_float_lit(IDENTITY[op], dt)}")
        length = _prod(x.shape[a] for a in axes)
        if length == 0:
            return acc
        loop = self.fresh("k")
        with self.block(f"for {loop} in range({length}):"):
            _decompose(self, loop, [(d, x.shape[d]) for d in axes], xidx, loop + "_")
            v = self.val(x, tuple(xidx))
            self.emit(f"{acc} = {_combine(op, acc, _cast(v, x.dtype, dt), dt)}")
        return acc

    def _unslice(self, n: Node, idx: tuple) -> str:
        """``unslice(y, shape, index)`` at ``idx``: ``y`` at the matching index inside
        the region ``[index]``, else 0 (the operand is never read outside it)."""
        y = n.args[0]
        entries = A.parse_index(dict(n.params)["index"])
        conds, yidx = [], []
        dead = False
        for d, size in enumerate(n.shape):
            e = entries[d] if d < len(entries) else slice(None)
            p = idx[d]
            if isinstance(e, slice):
                start, stop, step = e.indices(size)
                length = len(range(start, stop, step))
                if step == 1:
                    if _is_int(p):
                        q = int(p) - start
                        dead |= not 0 <= q < length
                        yidx.append(str(q))
                        continue
                    if start > 0:
                        conds.append(f"{p} >= {start}")
                    if start + length < size:
                        conds.append(f"{p} < {start + length}")
                    yidx.append(self.shift(p, -start))
                else:
                    if _is_int(p):
                        q, r = divmod(int(p) - start, step)
                        dead |= r != 0 or not 0 <= q < length
                        yidx.append(str(q))
                        continue
                    q = self.ivar(f"({_affine([(p, 1)], -start)}) // {step}")
                    conds += [f"{q} * {step} == {_affine([(p, 1)], -start)}", f"{q} >= 0",
                              f"{q} < {length}"]
                    yidx.append(q)
            else:
                e %= size
                if _is_int(p):
                    dead |= int(p) != e
                else:
                    conds.append(f"{p} == {e}")
        zero = _float_lit(0.0, n.dtype)
        if dead:
            return zero
        if not conds:
            return _cast(self.val(y, tuple(yidx)), y.dtype, n.dtype)
        name = self.fresh()
        self.emit(f"{name} = {zero}")
        with self.block(f"if {' and '.join(conds)}:"):
            v = self.val(y, tuple(yidx))
            self.emit(f"{name} = {NP_NAMES[n.dtype]}({v})")
        return name

    def _concatenate(self, n: Node, idx: tuple) -> str:
        a, b = n.args
        axis = dict(n.params)["axis"]
        na = a.shape[axis]
        p = idx[axis]
        bidx = idx[:axis] + (self.shift(p, -na),) + idx[axis + 1:]
        if _is_int(p):
            return _cast(self.val(a, idx) if int(p) < na else self.val(b, bidx),
                         (a if int(p) < na else b).dtype, n.dtype)
        name = self.fresh()
        with self.block(f"if {p} < {na}:"):
            self.emit(f"{name} = {NP_NAMES[n.dtype]}({self.val(a, idx)})")
        with self.block("else:"):
            self.emit(f"{name} = {NP_NAMES[n.dtype]}({self.val(b, bidx)})")
        return name

    def _one_hot(self, n: Node, idx: tuple) -> str:
        labels = n.args[0]
        axis = dict(n.params)["axis"]
        lab = self.val(labels, idx[:axis] + idx[axis + 1:])
        one, zero = _float_lit(1.0, n.dtype), _float_lit(0.0, n.dtype)
        name = self.fresh()
        self.emit(f"{name} = {one} if {lab} == {idx[axis]} else {zero}")
        return name

    # -- views -------------------------------------------------------------------------
    def view_index(self, n: Node, idx: tuple) -> tuple:
        """The index of ``n``'s argument that ``n`` (a view op) reads at ``idx``."""
        x = n.args[0]
        params = dict(n.params)
        name = n.prim.name
        if name == "transpose":
            out = [""] * len(idx)
            for i, ax in enumerate(params["axes"]):
                out[ax] = idx[i]
            return tuple(out)
        if name == "broadcast_to":
            return self.aligned(x, idx)
        if name == "getitem":
            entries = A.parse_index(params["index"])
            out, j = [], 0
            for d, size in enumerate(x.shape):
                e = entries[d] if d < len(entries) else slice(None)
                if isinstance(e, slice):
                    start, _stop, step = e.indices(size)
                    out.append(self.shift(idx[j], start) if step == 1 else
                               self.ivar(_affine([(idx[j], step)], start)))
                    j += 1
                else:
                    out.append(str(e % size))
            return tuple(out)
        if name == "reshape":
            return self._reshape_index(x.shape, n.shape, idx)
        raise LoweringError(f"no CUDA index map for the view op {name!r}")

    def _reshape_index(self, src: tuple, dst: tuple, idx: tuple) -> tuple:
        live_src = [d for d in src if d != 1]
        live_dst = [d for d in dst if d != 1]
        if live_src == live_dst:  # only size-1 dimensions inserted or removed
            it = iter(p for p, d in zip(idx, dst) if d != 1)
            return tuple("0" if d == 1 else next(it) for d in src)
        lin = self.ivar(_affine(list(zip(idx, _c_strides(dst)))))
        out = []
        strides = _c_strides(src)
        for d, (size, s) in enumerate(zip(src, strides)):
            if size == 1:
                out.append("0")
                continue
            e = lin if s == 1 else f"{lin} // {s}"
            if d > 0 and any(z != 1 for z in src[:d]):
                e = f"({e}) % {size}" if s != 1 else f"{lin} % {size}"
            out.append(self.ivar(e))
        return tuple(out)


# ---------------------------------------------------------------------------------
# the program for one binding

@dataclass(frozen=True)
class ArrayProgramSource:
    """Every kernel of an array graph for one binding of its dimensions.

    Attributes:
        graph: the specialised graph (concrete shapes).
        sizes: the binding, as sorted ``(symbol, size)`` pairs.
        plan: the :class:`Plan` (steps, buffers).
        kernels: the rendered :class:`Kernel` objects, in launch order (the tiled
            matrix-product kernels included, even when a library runs instead).
        text: every kernel's source, one after another, with a header comment each.
    """
    graph: Graph
    sizes: tuple
    plan: Plan
    kernels: tuple
    text: str


def render_arrays(graph: Graph, sizes: Mapping[str, int] | None = None,
                  options: Options | None = None, *, name: str = "graphc") -> ArrayProgramSource:
    """Render the kernels of an array graph for the symbol sizes ``sizes``.

    Args:
        graph: an array graph (see :func:`graphc.ir.shapes.is_array_graph`).
        sizes: ``{symbol: size}`` for every symbolic dimension (none needed when every
            shape is concrete).
        options: :class:`Options` (block sizes, tile, reduction thresholds).
        name: prefix of the kernel function names (``graphc_k0``...).

    Raises:
        ShapeError: the sizes do not fit the graph's shape rules.
        LoweringError: an op without a CUDA lowering, a missing size, bad options.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise LoweringError(f"kernel name prefix {name!r} is not an identifier")
    sizes = {str(k): int(v) for k, v in (sizes or {}).items()}
    symbols = {s for n in graph.nodes for d in n.shape for s in dim_symbols(d)}
    if symbols - set(sizes):
        raise LoweringError(f"array graph kernels are specialised per shape: give sizes "
                            f"for {', '.join(sorted(symbols - set(sizes)))}")
    sizes = {k: v for k, v in sizes.items() if k in symbols}
    cg = specialize(graph, sizes)
    plan = Plan(cg, options, name)
    parts = []
    for k in plan.kernels:
        parts.append(f"# {k.source.name}: {k.note}; grid {k.grid}, block {k.block}\n"
                     + k.source.text)
    return ArrayProgramSource(cg, env_key(sizes), plan, tuple(plan.kernels), "\n".join(parts))


__all__ = ["ArrayProgramSource", "Batch", "DECOMPOSE", "Kernel", "LOWERED", "Options", "Plan",
           "is_array_graph", "render_arrays", "specialize", "supports"]
