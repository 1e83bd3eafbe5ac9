"""LLVM lowering of array graphs: fused loop nests, BLAS matrix products, strided views.

An *array graph* (:func:`graphc.ir.shapes.is_array_graph`) is compiled for the first
binding of its symbolic dimensions with every shape, stride and trip count a constant
(:func:`build_program`), and from the second binding on once for every binding that
behaves the same (:func:`build_generic_program`, :data:`RUNTIME_SIZES`): sizes are
:class:`~graphc.ir.extent.Extent` values while planning and generating code, so trip
counts, strides, workspace offsets and SIMD tails that depend on ``B`` are computed at
run time from a sizes buffer (the kernel's input after the workspace), and every
decision taken on a size is a guard under which the program is reused. One call runs
one compiled function, ``kernel``, that executes a *plan* built in four steps:

1. **Specialise** (:func:`specialize`): rebuild the graph with concrete shapes, expand
   the ops that have no direct lowering through their records' ``decompose``
   (``softmax`` into ``max``, ``exp``, ``sum``, ``div``; ``mean`` into ``sum`` and a
   constant; ``cross_entropy`` into ``one_hot``, ``log_softmax``...), fold ``size`` to a
   constant.
2. **Fuse**: an elementwise node with a single consumer of its own shape is computed
   inside the consumer's loop (no temporary array); other values are *materialised*
   (graph outputs, matmul operands, values used twice, values smaller than their
   consumer). Views (``transpose``, ``reshape``, ``broadcast_to``, ``x[1:]``) cost
   nothing: they change the offset and strides with which later loops read an array.
3. **Plan**: one loop nest per materialised value; a reduction's loop runs over its
   argument's shape and accumulates into the result (so ``sum(exp(x - m))`` never stores
   ``exp(x - m)``); a loop over the same shape as an earlier one that only reads that
   loop's results at the same index is merged into it (so ``e = exp(z)`` and
   ``sum(e)`` share one pass over memory); ``concatenate`` and the transpose of slicing
   (``unslice``) write their operands into regions of their result, or, when their
   consumers are elementwise loops of their shape or reductions, are read inside those
   loops (each operand masked to its region: a zero outside it for ``unslice``, a
   select between the operands for ``concatenate``). ``matmul`` calls
   ``dgemm``/``sgemm`` of the BLAS that SciPy exports (``scipy.linalg.cython_blas``), with
   transposed views passed as transposed operands (no copies); without SciPy, a
   loop nest of the same plan.
4. **Code generation**: each loop nest is collapsed to the fewest dimensions the
   strides allow; the innermost dimension runs in SIMD blocks through the elementwise
   lowering of :mod:`.lower` (``emit_node``, libmvec for transcendental functions) with a
   masked last block, the outer ones are plain counted loops. Reductions along the
   innermost dimension keep a vector accumulator in registers; reductions over other
   dimensions of a short innermost one (a direct convolution's channels and taps) are
   moved inside it, so a tile of output blocks is summed in registers
   (:func:`_reductions_inside`).

Steps 2-3 (the fusion planner: :class:`~graphc.backends.plan.Plan` of
:class:`~graphc.backends.plan.LoopNest` and :class:`~graphc.backends.plan.Contraction`
steps over :class:`~graphc.backends.plan.View` objects) live in :mod:`graphc.backends.plan`,
which imports no code generator; this module generates LLVM IR from a plan. With
several threads, large programs also get one function per step whose outer loop range
is an argument (see :class:`StepInfo`, :data:`PARALLEL_MIN_NS`).

Intermediate arrays live in one workspace allocated per call (so concurrent calls are
safe); outputs are fresh arrays. The compiled code is cached in the one in-memory cache
of :mod:`.jit` per graph and binding, and on disk by the hash of its LLVM IR (see
:mod:`.cache`). The kernel class is :class:`~.jit.LLVMKernel` (its subclass
:class:`ArrayLLVMKernel` for array graphs).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir

from ...ir import Graph, GraphcError, LoweringError
from ...ir import array_ops as A
from ...ir.extent import Extent, estimate, evaluate
from ...ir.shapes import concrete_shapes, env_key, is_array_graph
from ...ir.shapes import specialize as shared_specialize
from ..common import NP_DTYPES, bind_array_inputs
from ..plan import IDENTITY, REDUCTIONS, VIEW_OPS, contiguous_strides, element_cost, prod
from ..plan import ROOT, Contraction, Ctx, LoopNest, LoopStep, Out, Plan, View  # noqa: F401
from ..plan import CONTROL, loop_supported
from ..plan import IndexStep
from ..plan import _FakeIndex, _gemm_layout, _view_op, _ViewRead  # noqa: F401

from ..numpy_interp import label_checker, output_targets
from . import cache as disk_cache
from . import threads as _threads
from . import vecmath
from .jit import LLVMKernel
from .jit import _memory  # noqa: F401 - the one in-memory cache (older callers clear it here)
from .buffers import POOL
from .lower import I1, I32, I64, PTR, Emitter, _keep_used, emit_node, float_type
from .lower import supports as _elementwise_supported

LOWERED = {"array.matmul", "array.view", "array.sum", "array.prod", "array.reduce_max",
           "array.reduce_min", "array.size", "array.unslice", "array.concatenate",
           "array.one_hot", "array.gather", "array.scatter_add", "array.det",
           "array.argsort", A.LLVM_DECOMPOSE}
"""The ``Primitive.llvm`` keys of array ops that this module lowers."""


def supports(prim) -> bool:
    """True when the LLVM backend lowers ``prim`` in array graphs (elementwise ops
    through :mod:`.lower`, array ops here or through their ``decompose``)."""
    if prim.elementwise:
        return _elementwise_supported(prim)
    if prim.llvm == A.LLVM_DECOMPOSE:
        return prim.decompose is not None
    return prim.llvm in LOWERED


# ---------------------------------------------------------------------------------
# 1. specialisation

def specialize(graph: Graph, env: dict[str, int]) -> Graph:
    """``graph`` with the sizes of ``env`` substituted into every shape, decomposable
    ops expanded and ``size`` folded: a graph of concrete shapes whose every op this
    module lowers directly (:func:`graphc.ir.shapes.specialize`).

    Raises:
        ShapeError: a node's shape rule fails on the bound sizes (names the node).
    """
    from ...ir.control_flow import cheap_branches

    def decomposes(p, params) -> bool:
        # a switch of a few scalar operations per branch: select (see cheap_branches)
        return p.llvm == A.LLVM_DECOMPOSE and (
            p.name not in CONTROL or not LOOPS or
            (p.name == "switch" and cheap_branches(params["branches"])))
    g = shared_specialize(graph, env, decomposes, lambda p: p in VIEW_OPS)
    if any(n.prim.name in CONTROL and not loop_supported(n) for n in g.nodes):
        # a loop mixing float32 and float64 pieces: unrolled (up to MAX_UNROLL)
        g = shared_specialize(graph, env, lambda p, _: p.llvm == A.LLVM_DECOMPOSE,
                              lambda p: p in VIEW_OPS)
    return g


RUNTIME_SIZES = True
"""Whether a kernel of an array graph with symbolic dimensions, called with a second
binding of its sizes, compiles one program for that and every later binding that
satisfies its guards (:func:`build_generic_program`: sizes read at run time) rather
than one program per binding. The first binding always gets a program of constant
sizes (compiled in about half the time for large graphs: the PINN step of
``benchmarks/pinn.py`` at H = 32, N = 2048 took 0.29 against 0.53 s with one thread,
0.47 against 0.96 s with two, cold disk cache), as ``torch.compile`` specialises first
and marks a dimension dynamic once it changes (its automatic dynamic shapes)."""


LOOPS = True
"""Whether array programs run ``scan``/``while_loop``/``switch`` nodes as loops and
branches (:class:`~graphc.backends.plan.LoopStep`; the default) rather than unrolling
them through their ``decompose`` rules (at most
:data:`graphc.ir.control_flow.MAX_UNROLL` operations)."""


def _specialize_body(graph: Graph) -> Graph:
    """A loop or branch body prepared for its sub-plan: :func:`specialize` with no
    symbolic sizes (bodies have concrete shapes)."""
    return specialize(graph, {})


# ---------------------------------------------------------------------------------
# 2-3. fusion and scheduling

# ---------------------------------------------------------------------------------
# BLAS

_blas_lock = threading.Lock()
_blas: dict[str, int] | None = None


GEMM_BLAS_MIN = 1 << 12
"""Matrix products of fewer multiply-adds (m·n·k) than this stay in loops even with
``blas``: a BLAS call costs about a microsecond before it starts computing."""

GEMM_NS_PER_MAC = 0.1
"""Estimated single-thread time of one float64 multiply-add in BLAS (about 10 GFLOP/s
per core; half for float32), by which a matrix product with several graphc threads is
split by rows of its result, each part calling a one-thread BLAS: graphc's pool
threads wait without spinning and take parts as they free up, so a busy neighbour
process slows a product down by its share of the cores, not by OpenBLAS's spinning
threads' 10x (issue 16, part 4)."""

BLAS_THREADS_MIN = 1 << 24
"""Matrix products of fewer multiply-adds (m·n·k, about 1 ms of one core) run on one
BLAS thread (when the BLAS is OpenBLAS with ``openblas_set_num_threads_local``, a
thread-local setting): a second thread saves little at these sizes, and on a machine
whose other cores are busy OpenBLAS's spin-waiting threads made them 10-100x slower
(measured here: a 32x64 @ 64x4096 product took 0.8 ms on one thread, 8-16 ms on two
while another job held the second core). Larger products use the BLAS's own setting."""


def _openblas_threads_local() -> int:
    """Address of ``openblas_set_num_threads_local`` in the OpenBLAS that SciPy ships
    (a thread-local thread count; returns the previous one), or 0."""
    import glob
    import os
    try:
        import scipy
        libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)),
                                      "scipy.libs", "*openblas*"))
        if not libs:
            return 0
        lib = ctypes.CDLL(libs[0])
        return ctypes.cast(lib.openblas_set_num_threads_local, ctypes.c_void_p).value or 0
    except (OSError, AttributeError, ImportError):
        return 0


def blas_functions() -> dict[str, int]:
    """``{"dgemm": address, "sgemm": address}`` from SciPy's ``cython_blas`` (the BLAS
    SciPy links, OpenBLAS in the wheels), registered with LLVM as ``graphc_dgemm`` /
    ``graphc_sgemm`` (and OpenBLAS's thread-local thread count as
    ``graphc_blas_threads``, when found); empty without SciPy."""
    global _blas
    if _blas is None:
        with _blas_lock:
            if _blas is None:
                found = {}
                try:
                    from scipy.linalg import cython_blas
                    get_name = ctypes.pythonapi.PyCapsule_GetName
                    get_name.restype = ctypes.c_char_p
                    get_name.argtypes = [ctypes.py_object]
                    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
                    get_ptr.restype = ctypes.c_void_p
                    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
                    for name in ("dgemm", "sgemm"):
                        cap = cython_blas.__pyx_capi__[name]
                        addr = get_ptr(cap, get_name(cap))
                        if addr:
                            llvm.add_symbol(f"graphc_{name}", addr)
                            found[name] = addr
                    local = _openblas_threads_local()
                    if local and found:
                        llvm.add_symbol("graphc_blas_threads", local)
                        found["threads_local"] = local
                except Exception:  # noqa: BLE001 - SciPy is optional: loops instead
                    found = {}
                _blas = found
    return _blas


# ---------------------------------------------------------------------------------
# 4. code generation

@dataclass(frozen=True)
class StepInfo:
    """How the driver may run step ``k`` of a program on several threads: ``units``
    outer iterations (rows of the collapsed loop nest's outermost dimension, or SIMD
    blocks of a one-dimensional one) that ``step<k>(start, end, ...)`` runs for
    ``start <= unit < end``; ``ns_per_unit``: estimated single-thread time of one.
    ``units == 0``: the step runs whole (reductions into an accumulator that several
    outer units share, small matrix products, loops and index steps). ``fill_first``:
    the step's accumulators are filled with their identity by ``step<k>(-1, -1, ...)``,
    which the driver calls first. ``finish``: the units
    write partial results that ``step<k>(-2, -2, ...)`` combines, which the driver
    calls after them (products split over their inner dimension)."""
    units: int
    ns_per_unit: float
    fill_first: bool = False
    finish: bool = False


class _Codegen:
    def __init__(self, plan: Plan, n_in: int, n_out: int, level: str, use_blas: bool,
                 parallel: bool = False, symbols: Sequence[str] = ()):
        self.s = plan
        self.symbols = tuple(symbols)   # sizes known at run time, in the sizes buffer
        self.module = ir.Module(name="graphc_arrays")
        dtype = "float64" if any(n.dtype == "float64" for n in plan.graph.nodes) else "float32"
        self.dtype = dtype
        self.width = max(2, vecmath.lanes(level, dtype))
        self.veclib = vecmath.VectorLibrary(level) if level != "none" else None
        self.use_blas = use_blas
        self.blas_threads = use_blas and "threads_local" in blas_functions()
        self.n_in, self.n_out = n_in, n_out
        self.parallel = parallel
        self.steps: list[StepInfo] = []
        self._split: tuple | None = None  # (start, end) IR values of a step function
        self._k_partials: dict[int, View] = {}   # product id -> its partial products
        self._split_axes: dict[int, str] = {}    # product id -> how threads split it
        self.b = ir.IRBuilder()
        self.e = Emitter(self.module, self.b, self.width, self.veclib, const_div=False)
        self.e.runtime_int = self._runtime
        self._subs: dict[int, ir.Function] = {}  # sub-plan id -> its body function
        self._begin("kernel")

    def _begin(self, name: str) -> None:
        """Start the function ``name(start, end, inputs, outputs)``: the builder at its
        entry, the buffer pointers loaded."""
        fnty = ir.FunctionType(ir.VoidType(), [I64, I64, PTR, PTR])
        fn = ir.Function(self.module, fnty, name=name)
        for a, nm in zip(fn.args, ("start", "end", "inputs", "outputs")):
            a.name = nm
        set.add(fn.attributes, "nounwind")
        if name.startswith("step"):   # called by the threaded driver: not inlined there
            set.add(fn.attributes, "noinline")
        bits = self.width * (64 if self.dtype == "float64" else 32)
        for attr in (f'"prefer-vector-width"="{bits}"', f'"min-legal-vector-width"="{bits}"'):
            set.add(fn.attributes, attr)
        self.fn = fn
        b = self.b
        b.position_at_end(fn.append_basic_block("entry"))
        _, _, ins, outs = fn.args
        self.bufs: dict[tuple, ir.Value] = {}
        for k in range(self.n_in + 1):
            slot = b.gep(ins, [self.i64(k)], inbounds=True, source_etype=PTR)
            self.bufs[("in", k)] = b.load(slot, typ=PTR, name=f"in{k}")
        for j in range(self.n_out):
            slot = b.gep(outs, [self.i64(j)], inbounds=True, source_etype=PTR)
            self.bufs[("out", j)] = b.load(slot, typ=PTR, name=f"out{j}")
        self.work = self.bufs[("in", self.n_in)]
        self.allocas: dict[str, ir.Value] = {}
        self._sizes: dict[str, ir.Value] | None = None
        if self.symbols and not name.startswith("body"):
            # inputs[n_in + 1]: the run-time sizes (int64, in the order of ``symbols``)
            slot = b.gep(ins, [ir.Constant(I64, self.n_in + 1)], inbounds=True,
                         source_etype=PTR)
            sizes = b.load(slot, typ=PTR, name="sizes")
            self._sizes = {}
            for k, sym in enumerate(self.symbols):
                p = b.gep(sizes, [ir.Constant(I64, k)], inbounds=True, source_etype=I64)
                self._sizes[sym] = b.load(p, typ=I64, name=f"size_{sym}")
        self._rt: dict = {}   # run-time sizes and tail masks of this function

    def i64(self, x) -> ir.Value:
        """An int (a constant) or an :class:`~graphc.ir.extent.Extent` (computed at
        run time from the sizes buffer) as an ``i64`` value."""
        if isinstance(x, Extent):
            return self._runtime(x)
        if isinstance(x, ir.Value):
            return x
        return ir.Constant(I64, x)

    @contextlib.contextmanager
    def _at_entry(self):
        """Position the builder at the end of the entry block (before its terminator),
        then back where it was, even when that is the entry block itself."""
        b = self.b
        old = b.block
        entry = self.fn.entry_basic_block
        term = entry.terminator
        if term is not None:
            b.position_before(term)
        else:
            b.position_at_end(entry)
        try:
            yield
        finally:
            if old is entry and entry.terminator is not None:
                b.position_before(entry.terminator)
            else:
                b.position_at_end(old)

    def _runtime(self, x: Extent) -> ir.Value:
        """The ``i64`` value of an extent, computed once per function in its entry block
        from the run-time sizes (each monomial and each floor-division term once)."""
        key = x.key_text()
        v = self._rt.get(key)
        if v is not None:
            return v
        if self._sizes is None:
            raise LoweringError(f"a size known only at run time ({x}) in a function "
                                "without the sizes buffer")
        b = self.b
        monos = {mono: self._monomial(mono) for mono in x.poly}
        with self._at_entry():
            total = None
            for mono, coef in sorted(x.poly.items(), key=lambda mc: repr(mc[0])):
                term = monos[mono]
                if term is None:
                    term = ir.Constant(I64, coef)
                elif coef != 1:
                    term = b.mul(term, ir.Constant(I64, coef))
                total = term if total is None else b.add(total, term)
            v = total if total is not None else ir.Constant(I64, 0)
        self._rt[key] = v
        return v

    def _monomial(self, mono: tuple) -> ir.Value | None:
        """The product of a monomial's symbols and floor-division terms (None for the
        constant monomial), cached per function."""
        if not mono:
            return None
        key = ("mono", repr(mono))
        v = self._rt.get(key)
        if v is not None:
            return v
        b = self.b
        atoms = []
        for atom in mono:
            if isinstance(atom, str):
                atoms.append(self._sizes[atom])
                continue
            akey = ("atom", repr(atom))
            a = self._rt.get(akey)
            if a is None:
                num = self._runtime(atom.num)   # (before: it positions the builder)
                with self._at_entry():   # Python's floor division (sdiv truncates)
                    d = ir.Constant(I64, atom.den)
                    q, r = b.sdiv(num, d), b.srem(num, d)
                    neg = b.icmp_signed("<", r, ir.Constant(I64, 0))
                    a = b.select(neg, b.sub(q, ir.Constant(I64, 1)), q) \
                        if atom.op == "//" else b.select(neg, b.add(r, d), r)
                self._rt[akey] = a
            atoms.append(a)
        with self._at_entry():
            v = atoms[0]
            for a in atoms[1:]:
                v = b.mul(v, a)
        self._rt[key] = v
        return v

    # -- helpers -------------------------------------------------------------------------
    def base_ptr(self, v: View) -> ir.Value:
        buf = v.buf
        if buf[0] == "work":
            key = buf
            p = self.bufs.get(key)
            if p is None:
                off = self.i64(buf[1])   # (a run-time offset is computed in the entry)
                with self.b.goto_entry_block():
                    p = self.b.gep(self.work, [off], inbounds=True,
                                   source_etype=ir.IntType(8))
                self.bufs[key] = p
            return p
        return self.bufs[buf]

    def addr(self, v: View, index: ir.Value, inbounds: bool = True) -> ir.Value:
        ety = float_type(v.dtype)
        return self.b.gep(self.base_ptr(v), [index], inbounds=inbounds, source_etype=ety)

    def vty(self, dtype: str) -> ir.Type:
        return ir.VectorType(float_type(dtype), self.width)

    def splat(self, value: ir.Value) -> ir.Value:
        b = self.b
        vty = ir.VectorType(value.type, self.width)
        one = b.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(I32, 0))
        return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                ir.Constant(ir.VectorType(I32, self.width), [0] * self.width))

    def counted_loop(self, n: int, name: str, body, carried=(), unroll: bool = True) -> list:
        """Emit ``for i in range(n)`` (n >= 1) calling ``body(i, values) -> values`` with
        loop-carried ``carried`` values; returns their final values. ``unroll=False``,
        and every loop inside the body function of a loop or branch (``body<k>``), tags
        the loop ``llvm.loop.unroll.disable`` (see :meth:`no_unroll`)."""
        b = self.b
        runtime = isinstance(n, (Extent, ir.Value))   # a run-time trip count, maybe 0
        pre = b.block
        loop = self.fn.append_basic_block(name)
        after = self.fn.append_basic_block(name + "_end")
        if runtime:
            b.cbranch(b.icmp_signed(">", self.i64(n), self.i64(0)), loop, after)
        else:
            b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(I64, name=name + "_i")
        i.add_incoming(self.i64(0), pre)
        phis = []
        for c in carried:
            p = b.phi(c.type)
            p.add_incoming(c, pre)
            phis.append(p)
        new = body(i, list(phis))
        nxt = b.add(i, self.i64(1), flags=("nsw",))
        end_block = b.block
        i.add_incoming(nxt, end_block)
        for p, v in zip(phis, new):
            p.add_incoming(v, end_block)
        br = b.cbranch(b.icmp_signed("<", nxt, self.i64(n)), loop, after)
        if not unroll or runtime or (self.fn.name.startswith("body") and
                                     n > BODY_UNROLL_MAX):
            br.set_metadata("llvm.loop", self.no_unroll())
        b.position_at_end(after)
        if runtime and carried:   # the values after zero or more trips
            out = []
            for c, v in zip(carried, new):
                p = b.phi(c.type)
                p.add_incoming(c, pre)
                p.add_incoming(v, end_block)
                out.append(p)
            return out
        return list(new)

    def no_unroll(self) -> ir.MDValue:
        """A fresh loop ID ``!N = !{!N, !{"llvm.loop.unroll.disable"}}`` for a loop's
        latch branch. The loops of ``scan`` and ``while_loop`` and the long loops
        inside their bodies (:data:`BODY_UNROLL_MAX`) carry it: LLVM's unroller, whose
        choices follow the constant trip counts (the segment lengths of checkpointed
        loops grow with the trip count), made compile time grow with it (the value and
        gradient of a 10^5-step RK4 scan with ``checkpoint="sqrt"`` compiled in 0.64 s
        against 0.25 s for 10^3 steps; with the tags 0.25 s for both, and the 10-state
        ODE of ``benchmarks/loops.py`` runs as fast or faster: 10^4 steps 17.6 ->
        16.1 ms)."""
        m = self.module
        disable = getattr(self, "_unroll_disable", None)
        if disable is None:   # one property node per module, a distinct ID per loop
            disable = self._unroll_disable = m.add_metadata(
                [ir.MetaDataString(m, "llvm.loop.unroll.disable")])
        loop_id = m.add_metadata([disable, disable])
        loop_id.operands = (loop_id, disable)   # loop IDs refer to themselves
        return loop_id

    def range_loop(self, lo: ir.Value, hi: ir.Value, name: str, body) -> None:
        """Emit ``for i in range(lo, hi)`` over run-time bounds (no iteration when
        ``lo >= hi``), calling ``body(i)``."""
        b = self.b
        pre = b.block
        loop = self.fn.append_basic_block(name)
        after = self.fn.append_basic_block(name + "_end")
        b.cbranch(b.icmp_signed("<", lo, hi), loop, after)
        b.position_at_end(loop)
        i = b.phi(I64, name=name + "_i")
        i.add_incoming(lo, pre)
        body(i)
        nxt = b.add(i, self.i64(1), flags=("nsw",))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_signed("<", nxt, hi), loop, after)
        b.position_at_end(after)

    def fill(self, v: View, value: float) -> None:
        """Store ``value`` into every element of the contiguous view ``v``."""
        n = prod(v.shape)
        ety = float_type(v.dtype)
        W = self.width
        c = ir.Constant(ir.VectorType(ety, W), [ir.Constant(ety, value)] * W)
        b = self.b
        if isinstance(n, Extent):   # a run-time size: blocks, then single elements
            def block(i):
                idx = b.add(b.mul(i, self.i64(W)), self.i64(v.offset))
                b.store(c, self.addr(v, idx)).align = 8 if v.dtype == "float64" else 4
            self.range_loop(self.i64(0), self.i64(n // W), "fill", block)
            self.range_loop(self.i64(n // W * W), self.i64(n), "fill_tail",
                            lambda i: b.store(ir.Constant(ety, value), self.addr(
                                v, b.add(i, self.i64(v.offset)))))
            return
        if n == 0:
            return
        full, tail = divmod(n, W)
        if full:
            def body(i, _):
                idx = b.add(b.mul(i, self.i64(W)), self.i64(v.offset))
                st = b.store(c, self.addr(v, idx))
                st.align = 8 if v.dtype == "float64" else 4
                return []
            self.counted_loop(full, "fill", body)
        for t in range(tail):
            b.store(ir.Constant(ety, value), self.addr(v, self.i64(v.offset + full * W + t)))

    # -- loops --------------------------------------------------------------------------
    def emit(self) -> ir.Module:
        """The module: ``kernel`` runs every step on the calling thread; with
        ``parallel``, also ``step<k>(start, end, ...)`` per step, which runs the outer
        units ``start..end`` of a splittable step (see :class:`StepInfo`), a whole step
        otherwise."""
        for st in self.s.steps:
            if isinstance(st, LoopNest):
                self.loop(st)
            elif isinstance(st, LoopStep):
                self.steps.append(StepInfo(0, 0.0))
                self.control(st)
            elif isinstance(st, IndexStep):
                self.steps.append(StepInfo(0, 0.0))
                self.index_step(st)
            else:
                self.steps.append(self._gemm_info(st))
                self.gemm(st)
        self.b.ret_void()
        if self.parallel:
            serial = list(self.steps)
            for k, st in enumerate(self.s.steps):
                self._begin(f"step{k}")
                if isinstance(st, LoopNest):
                    start, end = self.fn.args[0], self.fn.args[1]
                    self._split = (start, end) if serial[k].units else None
                    self.loop(st)
                    self._split = None
                elif isinstance(st, LoopStep):
                    self.control(st)
                elif isinstance(st, IndexStep):
                    self.index_step(st)
                else:
                    self._split = (self.fn.args[0], self.fn.args[1]) if serial[k].units \
                        else None
                    self.gemm(st)
                    self._split = None
                self.b.ret_void()
            self.steps = serial
            self._emit_driver(serial)
        if self.e.vector_calls:
            _keep_used(self.module, [self.module.globals[s] for s in sorted(self.e.vector_calls)])
        return self.module

    def _emit_driver(self, infos: list[StepInfo]) -> None:
        """``threaded(tid, nthreads, inputs, outputs)``: every step of the program in
        one parallel region, called by each of ``nthreads`` threads (the caller is
        ``tid`` 0). The control buffer (``inputs[-1]``, int64, see
        :func:`_driver_control`) says per step into how many chunks its outer units are
        cut (1: ``tid`` 0 runs it whole) and whether it has fills and partial results
        to combine (:class:`StepInfo`); the threads take the chunks of a split step
        from a shared counter (self-scheduling, OpenMP's ``schedule(dynamic)``) and meet
        at a barrier after it, and before it when ``tid`` 0 ran something since the last
        barrier. One fork and join per call instead of one per split step: each costs
        tens of microseconds of Python thread hand-offs (the MLP step of
        ``benchmarks/tensors.py`` split six steps and ran slower on two threads than on
        one). The driver is one loop over the steps, which it calls through
        ``run_step(k, ...)`` (a switch), so its size does not grow with the program (an
        unrolled driver made the PINN step's module 45% larger)."""
        b = self.b
        dispatch = self._emit_dispatch(len(infos))
        fnty = ir.FunctionType(ir.VoidType(), [I64, I64, PTR, PTR])
        fn = ir.Function(self.module, fnty, name="threaded")
        for a, nm in zip(fn.args, ("tid", "nthreads", "inputs", "outputs")):
            a.name = nm
        set.add(fn.attributes, "nounwind")
        tid, nthreads, ins, outs = fn.args
        self.fn = fn
        b.position_at_end(fn.append_basic_block("entry"))
        slot = b.gep(ins, [self.i64(self.n_in + 1 + (1 if self.symbols else 0))],
                     inbounds=True, source_etype=PTR)
        ctl = b.load(slot, typ=PTR, name="control")
        barrier = self._emit_barrier()
        dirty = b.alloca(I1, name="dirty")
        b.store(ir.Constant(I1, 0), dirty)
        is_first = b.icmp_signed("==", tid, self.i64(0))
        minus = {v: self.i64(v) for v in (-1, -2)}

        def word(base, i):
            return b.gep(ctl, [b.add(base, self.i64(i))], inbounds=True, source_etype=I64)

        def step(k, _):
            def run(lo, hi):
                b.call(dispatch, [k, lo, hi, ins, outs])
            base = b.add(self.i64(_CONTROL_STEPS), b.mul(k, self.i64(_CONTROL_WORDS)))
            chunks = b.load(word(base, 1), typ=I64, name="chunks")
            units = b.load(word(base, 2), typ=I64, name="units")
            flags = b.load(word(base, 3), typ=I64, name="flags")
            fill = b.icmp_signed("!=", b.and_(flags, self.i64(_FILL)), self.i64(0))
            finish = b.icmp_signed("!=", b.and_(flags, self.i64(_FINISH)), self.i64(0))
            with b.if_else(b.icmp_signed(">", chunks, self.i64(1))) as (split, whole):
                with split:
                    with b.if_then(b.and_(fill, is_first)):
                        run(minus[-1], minus[-1])
                    with b.if_then(b.or_(fill, b.load(dirty, typ=I1))):
                        b.call(barrier, [ctl, nthreads])
                    take = fn.append_basic_block("take")
                    done = fn.append_basic_block("taken")
                    b.branch(take)
                    b.position_at_end(take)
                    c = b.atomic_rmw("add", word(base, 0), self.i64(1), "monotonic")
                    chunk = fn.append_basic_block("chunk")
                    b.cbranch(b.icmp_signed("<", c, chunks), chunk, done)
                    b.position_at_end(chunk)
                    run(b.sdiv(b.mul(c, units), chunks),
                        b.sdiv(b.mul(b.add(c, self.i64(1)), units), chunks))
                    b.branch(take)
                    b.position_at_end(done)
                    b.call(barrier, [ctl, nthreads])
                    with b.if_then(b.and_(finish, is_first)):
                        run(minus[-2], minus[-2])
                    b.store(finish, dirty)
                with whole:
                    with b.if_then(is_first):
                        with b.if_then(fill):
                            run(minus[-1], minus[-1])
                        run(self.i64(0), b.select(b.icmp_signed(">", units, self.i64(1)),
                                                  units, self.i64(1)))
                        with b.if_then(finish):
                            run(minus[-2], minus[-2])
                    b.store(ir.Constant(I1, 1), dirty)
            return []
        self.counted_loop(len(infos), "step", step, unroll=False)
        b.ret_void()

    def _emit_dispatch(self, count: int) -> ir.Function:
        """``run_step(k, start, end, inputs, outputs)``: calls ``step<k>`` (a switch over
        the ``count`` steps)."""
        b = self.b
        with self._helper("run_step", [I64, I64, I64, PTR, PTR]) as fn:
            k, start, end, ins, outs = fn.args
            out = fn.append_basic_block("out")
            sw = b.switch(k, out)
            for i in range(count):
                case = fn.append_basic_block(f"case{i}")
                sw.add_case(ir.Constant(I64, i), case)
                b.position_at_end(case)
                b.call(self.module.globals[f"step{i}"], [start, end, ins, outs])
                b.branch(out)
            b.position_at_end(out)
            b.ret_void()
        return fn

    @contextlib.contextmanager
    def _helper(self, name: str, args: list):
        """An internal ``void name(args)`` that is never inlined (the driver's switch
        and barrier, the sum of partial products): yields it with the builder at its
        entry, then puts the builder back where it was."""
        b = self.b
        saved_block, saved_fn = b.block, self.fn
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), args), name=name)
        fn.linkage = "internal"
        for attr in ("nounwind", "noinline"):
            set.add(fn.attributes, attr)
        self.fn = fn
        b.position_at_end(fn.append_basic_block("entry"))
        try:
            yield fn
        finally:
            self.fn = saved_fn
            if saved_block is not None:
                b.position_at_end(saved_block)

    def _emit_barrier(self) -> ir.Function:
        """``barrier(control, nthreads)``: a counting barrier with a generation word
        (see :data:`_CONTROL_STEPS` for the layout): the last thread to arrive resets
        the count and advances the generation; the others poll it
        :data:`BARRIER_SPIN_CYCLES`, then sleep on it with a futex (Linux; elsewhere
        they yield the CPU between polls), as libgomp's spin-then-sleep barriers do.
        Threads that only spun or yielded burned the CPU that a busy neighbour, or
        the thread they waited for, needed. Sleepers are counted so that the releasing
        thread makes the wake-up system call only when someone sleeps (both sides
        sequentially consistent: either the sleeper sees the new generation or the
        releaser sees the sleeper)."""
        with self._helper("barrier", [PTR, I64]) as fn:
            self._barrier_body(fn)
        return fn

    def _barrier_body(self, fn: ir.Function) -> None:
        b = self.b
        ctl, n = fn.args
        triple = llvm.get_process_triple()
        futex = _FUTEX.get(triple.split("-")[0]) if "linux" in triple else None
        syscall = None
        if futex is not None:
            syscall = self.e.function("syscall", I64, [I64])
            syscall.ftype.var_arg = True
        clock = self.e.function("llvm.readcyclecounter", I64, [])
        I32T = ir.IntType(32)
        count = ctl
        gen = b.gep(ctl, [self.i64(_CTL_GEN)], inbounds=True, source_etype=I64)
        sleepers = b.gep(ctl, [self.i64(_CTL_SLEEPERS)], inbounds=True, source_etype=I64)
        g0 = b.load_atomic(gen, "acquire", 4, typ=I32T)
        arrived = b.atomic_rmw("add", count, self.i64(1), "acq_rel")
        last = b.icmp_signed("==", arrived, b.sub(n, self.i64(1)))
        release = fn.append_basic_block("release")
        wait = fn.append_basic_block("wait")
        out = fn.append_basic_block("out")
        t0 = b.call(clock, [])
        budget = b.load(b.gep(ctl, [self.i64(_CTL_SPIN)], inbounds=True, source_etype=I64),
                        typ=I64, name="spin_cycles")
        b.cbranch(last, release, wait)
        b.position_at_end(release)
        b.atomic_rmw("xchg", count, self.i64(0), "monotonic")
        b.atomic_rmw("add", gen, ir.Constant(I32T, 1), "seq_cst")
        if futex is not None:
            asleep = b.load_atomic(sleepers, "seq_cst", 8, typ=I64)
            with b.if_then(b.icmp_signed(">", asleep, self.i64(0))):
                b.call(syscall, [self.i64(futex), gen, self.i64(_FUTEX_WAKE_PRIVATE),
                                 self.i64(2 ** 31 - 1), ir.Constant(PTR, None),
                                 ir.Constant(PTR, None), self.i64(0)])
        b.ret_void()
        b.position_at_end(wait)
        now = b.load_atomic(gen, "acquire", 4, typ=I32T)
        moved = b.icmp_signed("!=", now, g0)
        again = fn.append_basic_block("again")
        b.cbranch(moved, out, again)
        b.position_at_end(again)
        if "x86" in triple:
            b.call(self.e.function("llvm.x86.sse2.pause", ir.VoidType(), []), [])
        waited = b.sub(b.call(clock, []), t0)
        with b.if_then(b.icmp_unsigned(">", waited, budget)):
            if futex is None:
                b.call(self.e.function("sched_yield", ir.IntType(32), []), [])
            else:
                b.atomic_rmw("add", sleepers, self.i64(1), "seq_cst")
                still = b.icmp_signed("==", b.load_atomic(gen, "seq_cst", 4, typ=I32T), g0)
                with b.if_then(still):
                    b.call(syscall, [self.i64(futex), gen, self.i64(_FUTEX_WAIT_PRIVATE),
                                     b.zext(g0, I64), ir.Constant(PTR, None),
                                     ir.Constant(PTR, None), self.i64(0)])
                b.atomic_rmw("sub", sleepers, self.i64(1), "seq_cst")
        b.branch(wait)
        b.position_at_end(out)
        b.ret_void()

    def loop(self, st: LoopNest) -> None:
        if self._split is None:
            for view, value in st.inits:
                self.fill(view, value)
        elif st.inits:  # step<k>(-1, -1): the fills only (see StepInfo)
            with self.b.if_then(self.b.icmp_signed("<", self._split[0],
                                                   self.i64(0))):
                for view, value in st.inits:
                    self.fill(view, value)
        S = st.shape if st.shape else (1,)
        if prod(S) == 0:
            if self._split is None:
                self.steps.append(StepInfo(0, 0.0))
            return
        pad = len(S) - len(st.shape)
        nd = len(st.shape)
        # the accesses (strides over S and a starting offset): leaves, destinations,
        # one_hot class indices, and the loop indices that region masks compare
        body, leaves, onehots, contexts = self._body(st)
        accesses: list[tuple] = []
        offsets0: list[int] = []
        leaf_acc = {}
        for key, view, mapping, c in leaves:
            leaf_acc[key] = len(accesses)
            strides, off = self._leaf_access(view, mapping, c, st.shape)
            accesses.append((0,) * pad + strides)
            offsets0.append(off)
        dest_acc = []
        for o in st.outs:
            dest_acc.append(len(accesses))
            accesses.append((0,) * pad + tuple(o.dest.strides))
            offsets0.append(o.dest.offset)
        oh_acc = {}
        for n, c in onehots:
            ax = dict(n.params)["axis"]
            d = c.loop_dim(ax)
            oh_acc[(c.key, id(n))] = len(accesses)
            accesses.append((0,) * pad + tuple(1 if i == d else 0 for i in range(nd)))
            offsets0.append(-c.loop_shift(ax))
        dim_acc = {}
        for c in contexts:
            for d, _lo, _hi in c.conds:
                if d not in dim_acc:
                    dim_acc[d] = len(accesses)
                    accesses.append((0,) * pad + tuple(1 if i == d else 0 for i in range(nd)))
                    offsets0.append(0)
        shape, strides = _collapse(S, accesses)
        shape, strides, nred = _reductions_inside(st, shape, strides, dest_acc, contexts)
        ctx = _LoopCtx(st, shape, strides, leaves, leaf_acc, dest_acc, oh_acc, body, dim_acc,
                       contexts, nred)
        if self._split is None:
            self.steps.append(self._step_info(st, shape, strides, dest_acc, body, leaves,
                                              contexts))
        base = [self.i64(off) for off in offsets0]
        self._outer(ctx, 0, base)

    def _step_info(self, st: LoopNest, shape: tuple, strides: list, dest_acc: list, body,
                   leaves, contexts) -> StepInfo:
        """Whether a loop nest may be split over threads by its outer units: each
        accumulated output moves with the outer index (no two units add into one
        entry) and, for one dimension, nothing is accumulated. (A thread's blocks of a
        one-dimensional loop with inlined regions keep their region states, see
        :meth:`_inner`.)"""
        accumulates = any(o.op != "store" for o in st.outs)
        if len(shape) == 1:
            if accumulates or st.inits:
                return StepInfo(0, 0.0)
            units = -(-shape[0] // self.width)
        else:
            if any(o.op != "store" and strides[a][0] == 0
                   for o, a in zip(st.outs, dest_acc)):
                return StepInfo(0, 0.0)
            units = shape[0]
        per_elem = 0.4 * (len(leaves) + len(st.outs)) + \
            sum(element_cost(n.prim) for n, _c in body if n.args)
        # (a cost estimate: planning sizes, no guard)
        return StepInfo(units, per_elem * estimate(prod(shape)) / max(estimate(units), 1),
                        bool(st.inits))

    @staticmethod
    def _leaf_access(view: View, mapping, c: "Ctx", shape: tuple) -> tuple[tuple, int]:
        """Strides over the loop ``shape`` and starting offset of a leaf read in context
        ``c``: broadcast from the right to the context's shape (for one_hot labels,
        with the class axis ``mapping`` inserted), then shifted into loop indices."""
        vshape, vstrides = view.shape, view.strides
        if mapping is not None:
            vshape = vshape[:mapping] + (1,) + vshape[mapping:]
            vstrides = vstrides[:mapping] + (0,) + vstrides[mapping:]
        if c.dims is None:
            return _bcast(vshape, vstrides, shape), view.offset
        sq = _bcast(vshape, vstrides, c.shape)
        out = [0] * len(shape)
        off = view.offset
        for k, d in enumerate(c.dims):
            out[d] += sq[k]
            off -= c.shift[k] * sq[k]
        return tuple(out), off

    def _body(self, st: LoopNest):
        """The ``(node, context)`` pairs computed in the loop body (topological order),
        the leaves it reads ``(key, view, mapping, context)``, the one_hot nodes
        computed, and the contexts with region conditions."""
        computed: list[tuple] = []
        done: set = set()
        leaves: list = []
        keys: set = set()
        contexts: dict = {}
        for o in st.outs:
            comp, lv = self.s.walk(o)
            for key, view, mapping, node, c in lv:
                if key in keys or (mapping is None and (c.key, id(node)) in done):
                    continue
                keys.add(key)
                leaves.append((key, view, mapping, c))
                if c.conds:
                    contexts[c.key] = c
            for n, c in comp:
                k = (c.key, id(n))
                if k in done:
                    continue
                done.add(k)
                computed.append((n, c))
                if n.prim is A.unslice_p:
                    child = c.enter(n)
                    if child.conds:
                        contexts[child.key] = child
                elif n.prim is A.concatenate_p and id(n) in self.s.inline_concat_read:
                    for piece in self.s.concat_regions(n):
                        child = c.enter(piece)
                        if child.conds:
                            contexts[child.key] = child
        onehots = [(n, c) for n, c in computed if n.prim is A.one_hot_p]
        return computed, leaves, onehots, list(contexts.values())

    def _outer(self, ctx: "_LoopCtx", level: int, base: list) -> None:
        b = self.b
        shape, strides = ctx.shape, ctx.strides
        if level == len(shape) - 1:
            self._inner(ctx, base)
            return
        if ctx.nred:
            first_red = len(shape) - 1 - ctx.nred
            if level == first_red:
                self._inner_blocked(ctx, [base])
                return
            blocks = -(-shape[-1] // self.width)
            rows = min(shape[level], REGISTER_TILE // blocks) if blocks < REGISTER_TILE else 1
            if level == first_red - 1 and rows > 1 and not (level == 0 and self._split):
                # a tile of `rows` rows of this level share each pass of the reductions
                def tile_rows(i0, count):
                    return [self._advance(base, b.add(i0, self.i64(r)), strides, level)
                            for r in range(count)]
                groups, rest = divmod(shape[level], rows)

                def body(i, _=None):
                    self._inner_blocked(ctx, tile_rows(b.mul(i, self.i64(rows)), rows))
                    return []
                self.counted_loop(groups, f"d{level}", body)
                if rest:
                    self._inner_blocked(ctx, tile_rows(self.i64(groups * rows), rest))
                return

        def body(i, _=None):
            self._outer(ctx, level + 1, self._advance(base, i, strides, level))
            return []
        if level == 0 and self._split is not None:  # this thread's rows
            self.range_loop(self._split[0], self._split[1], "d0", body)
            return
        self.counted_loop(shape[level], f"d{level}", body)

    def _inner(self, ctx: "_LoopCtx", base: list) -> None:
        b = self.b
        W = self.width
        n = ctx.shape[-1]
        full, tail = divmod(n, W)
        st = ctx.loop
        acc_outs = [j for j, o in enumerate(st.outs)
                    if o.op != "store" and ctx.strides[ctx.dest_acc[j]][-1] == 0]
        inits = [self._const_vec(st.outs[j].dest.dtype, IDENTITY[st.outs[j].op])
                 for j in acc_outs]
        accs = inits
        # blocks inside every region of an inlined unslice along this dimension run
        # without masks; the few blocks at the region edges keep them
        inner_conds = [lh for c in ctx.contexts for lh in self._inner_conds(ctx, c)]
        if inner_conds and any(isinstance(v, Extent) for v in (full, *sum(inner_conds, ()))):
            # run-time sizes: the interior's block range computed at run time (clamped
            # to 0 <= lo_blk <= hi_blk <= full)
            def pick(cmp, u, v):
                return b.select(b.icmp_signed(cmp, u, v), u, v)
            lo_v, hi_v, full_v = self.i64(0), self.i64(full), self.i64(full)
            for lo, hi in inner_conds:
                lo_v = pick(">", self.i64(-(-lo // W)), lo_v)
                hi_v = pick("<", self.i64(hi // W), hi_v)
            lo_v = pick("<", lo_v, full_v)
            hi_v = pick(">", hi_v, lo_v)
            inside = {c.key: True for c in ctx.contexts if self._inner_conds(ctx, c)}
            segments = [(0, lo_v, None), (lo_v, hi_v, inside), (hi_v, full, None)]
        elif inner_conds:
            segments = self._region_segments(ctx, full)
        else:
            segments = [(0, full, None)]
        if self._split is not None and len(ctx.shape) == 1:  # this thread's blocks
            start, end = self._split

            def clamp(cmp, u, v):
                u, v = self.i64(u), self.i64(v)
                return b.select(b.icmp_signed(cmp, u, v), u, v)
            for first, last, seg_states in segments:   # each region state's blocks
                lo, hi = clamp(">", first, start), clamp("<", last, end)
                self.range_loop(lo, hi, "v", lambda i, seg_states=seg_states: self._block(
                    ctx, base, b.mul(i, self.i64(W)), None, {}, seg_states))
            if isinstance(tail, Extent) or tail:
                with b.if_then(b.icmp_signed(">", end, self.i64(full))):
                    self._block(ctx, base, self.i64(full * W), tail, {})
            return
        for first, last, seg_states in segments:
            if isinstance(first, ir.Value) or isinstance(last, ir.Value):
                trips = b.sub(self.i64(last), self.i64(first))
            else:
                trips = last - first
                if not isinstance(trips, Extent) and trips <= 0:
                    continue   # (a run-time trip count may be zero: counted_loop checks)

            def body(i, carried, first=first, seg_states=seg_states):
                idx = b.mul(b.add(i, self.i64(first)), self.i64(W))
                return self._block(ctx, base, idx, None, dict(zip(acc_outs, carried)),
                                   seg_states)
            accs = self.counted_loop(trips, "v", body, accs)
        if isinstance(tail, Extent) or tail:   # a run-time tail may be 0: no lane
            accs = self._block(ctx, base, self.i64(full * W), tail,
                               dict(zip(acc_outs, accs)))
        for j, acc in zip(acc_outs, accs):
            o = st.outs[j]
            r = self._hreduce(o.op, acc)
            p = self.addr(o.dest, base[ctx.dest_acc[j]])
            old = b.load(p, typ=float_type(o.dest.dtype))
            b.store(self._combine(o.op, old, r), p)

    @staticmethod
    def _inner_conds(ctx: "_LoopCtx", c: Ctx) -> list:
        """The ``(lo, hi)`` bounds of context ``c``'s region along the innermost loop
        dimension (several for nested regions; empty when it has none there)."""
        return [(lo, hi) for d, lo, hi in c.conds
                if d in ctx.dim_acc and ctx.strides[ctx.dim_acc[d]][-1] == 1]

    def _region_segments(self, ctx: "_LoopCtx", full: int) -> list:
        """The full SIMD blocks ``0 .. full`` split where any context's region along
        the innermost dimension starts or ends: ``(first, last, states)`` with
        ``states[context key]`` True for a context whose region holds every lane of
        the segment's blocks, False for one that holds none (its values are not
        computed: an inlined unslice is 0 there, a concatenate takes another operand),
        absent where lanes differ (masked, one block at each edge)."""
        W = self.width
        spans = {}
        for c in ctx.contexts:
            bounds = self._inner_conds(ctx, c)
            if bounds:
                spans[c.key] = bounds
        cuts = {0, full}
        for bounds in spans.values():
            for lo, hi in bounds:
                for v in (lo // W, -(-lo // W), hi // W, -(-hi // W)):
                    cuts.add(min(max(v, 0), full))
        cuts = sorted(cuts)
        segments = []
        for first, last in zip(cuts, cuts[1:]):
            states = {}
            for key, bounds in spans.items():
                inside = all(first >= -(-lo // W) and last <= hi // W for lo, hi in bounds)
                outside = any(last <= lo // W or first >= -(-hi // W) for lo, hi in bounds)
                if inside or outside:
                    states[key] = inside
            segments.append((first, last, states))
        return segments

    def _advance(self, offsets: list, i: ir.Value, strides: list, level: int) -> list:
        """Each access's offset moved to index ``i`` of loop ``level`` (``offsets[a] +
        i * strides[a][level]``; an offset of None stands for 0, and accesses that do
        not move along the level keep theirs)."""
        b = self.b
        out = []
        for a, off in enumerate(offsets):
            s = strides[a][level]
            if not s:
                out.append(off)
                continue
            step = b.mul(i, self.i64(s))
            out.append(step if off is None else b.add(off, step))
        return out

    def _inner_blocked(self, ctx: "_LoopCtx", rows: list) -> None:
        """The last ``ctx.nred + 1`` levels of a loop nest whose reduction levels were
        moved inside (:func:`_reductions_inside`), for the outer offsets ``rows`` (one
        list of access offsets per row of a tile of the level outside them): the SIMD
        blocks of the innermost dimension are taken up to :data:`REGISTER_TILE` (blocks
        × rows) at a time, each with its own vector accumulator per output (independent
        chains of additions, so the adds pipeline), the reduction loops run once per
        tile, and each block of each output is read, combined and written once."""
        b = self.b
        W = self.width
        shape, strides = ctx.shape, ctx.strides
        n = shape[-1]
        full, tail = divmod(n, W)
        st = ctx.loop
        first_red = len(shape) - 1 - ctx.nred
        outs = list(range(len(st.outs)))

        def tile(blocks):   # blocks: [(idx, tail)], the same for every row
            cells = [(r, k) for r in range(len(rows)) for k in range(len(blocks))]
            accs = [self._const_vec(st.outs[j].dest.dtype, IDENTITY[st.outs[j].op])
                    for _cell in cells for j in outs]

            def level(lv, red, carried):
                if lv == len(shape) - 1:
                    new = []
                    for c, (r, k) in enumerate(cells):
                        offs = [b.add(o, d) if d is not None else o
                                for o, d in zip(rows[r], red)]
                        idx, t = blocks[k]
                        mine = carried[c * len(outs):(c + 1) * len(outs)]
                        new += self._block(ctx, offs, idx, t, dict(zip(outs, mine)))
                    return new

                def body(i, car):
                    return level(lv + 1, self._advance(red, i, strides, lv), car)
                return self.counted_loop(shape[lv], f"r{lv}", body, carried)
            accs = level(first_red, [None] * len(strides), accs)
            for c, (r, k) in enumerate(cells):
                idx, t = blocks[k]
                for j in outs:
                    o = st.outs[j]
                    a = ctx.dest_acc[j]
                    old = self._load(o.dest, rows[r][a], strides[a][-1], idx, t)
                    self._store(o.dest, rows[r][a], strides[a][-1], idx, t,
                                self._combine(o.op, old, accs[c * len(outs) + j]))

        per = max(1, REGISTER_TILE // len(rows))
        groups, rest = divmod(full, per)
        if isinstance(full, Extent):   # run-time sizes: tiles, single blocks, the tail
            def body(i, _):
                i0 = b.mul(i, self.i64(per * W))
                tile([(b.add(i0, self.i64(k * W)), None) for k in range(per)])
                return []
            self.counted_loop(groups, "vb", body)

            # the remaining blocks one at a time, the last one masked to the run-time
            # length (one copy of the tile's code for the rest and the tail)
            done = groups * per * W

            def single(i, _):
                idx = b.add(b.mul(i, self.i64(W)), self.i64(done))
                tile([(idx, b.sub(self.i64(n), idx))])
                return []
            self.counted_loop(-(-(n - done) // W), "vs", single)
            return
        if groups and (rest or tail or groups > 1):
            def body(i, _):
                i0 = b.mul(i, self.i64(per * W))
                tile([(b.add(i0, self.i64(k * W)), None) for k in range(per)])
                return []
            self.counted_loop(groups, "vb", body)
        elif groups:
            tile([(self.i64(k * W), None) for k in range(per)])
        last = [(self.i64((groups * per + k) * W), None) for k in range(rest)]
        if tail:
            last.append((self.i64(full * W), tail))
        if last:
            tile(last)

    def _const_vec(self, dtype: str, value: float) -> ir.Value:
        ety = float_type(dtype)
        return ir.Constant(ir.VectorType(ety, self.width), [ir.Constant(ety, value)] * self.width)

    def _mask(self, tail) -> ir.Value:
        """Lanes ``0 .. tail-1`` of a block (``tail`` an int, a run-time extent, or an
        ``i64`` value computed in the loop: the lanes left, possibly more than a block)."""
        if isinstance(tail, ir.Value):
            lanes = ir.Constant(ir.VectorType(I64, self.width), list(range(self.width)))
            return self.b.icmp_signed("<", lanes, self.splat(tail))
        if isinstance(tail, Extent):   # computed once per function, in its entry
            key = ("mask", tail.key_text())
            m = self._rt.get(key)
            if m is None:
                t = self._runtime(tail)
                with self._at_entry():
                    lanes = ir.Constant(ir.VectorType(I64, self.width), list(range(self.width)))
                    m = self._rt[key] = self.b.icmp_signed("<", lanes, self.splat(t))
            return m
        return ir.Constant(ir.VectorType(I1, self.width),
                           [ir.Constant(I1, 1 if l < tail else 0) for l in range(self.width)])

    def _combine(self, op: str, a: ir.Value, x: ir.Value) -> ir.Value:
        b = self.b
        if op == "sum":
            return b.fadd(a, x)
        if op == "prod":
            return b.fmul(a, x)
        return self.e.intrinsic("llvm.maximum" if op == "max" else "llvm.minimum", a.type, a, x)

    def _hreduce(self, op: str, vec: ir.Value) -> ir.Value:
        b = self.b
        r = b.extract_element(vec, ir.Constant(I32, 0))
        for lane in range(1, self.width):
            r = self._combine(op, r, b.extract_element(vec, ir.Constant(I32, lane)))
        return r

    def _load(self, view: View, off: ir.Value, stride: int, idx: ir.Value, tail,
              mask: ir.Value | None = None, ok: ir.Value | None = None) -> ir.Value:
        """A vector of ``view`` at lanes ``idx + l`` (inner stride ``stride``). ``tail``:
        valid lanes of a partial block; ``mask``: the lanes that may be read (overrides
        ``tail``); ``ok``: whether the outer indices are inside a region at all.
        Lanes that may not be read are never addressed (masked loads; addresses of
        scalar and gathered loads fall back to the buffer's first element)."""
        b = self.b
        W = self.width
        ety = float_type(view.dtype)
        vty = ir.VectorType(ety, W)
        zero = self.i64(0)
        if stride == 0:
            index = off if ok is None else b.select(ok, off, zero)
            return self.splat(b.load(self.addr(view, index), typ=ety))
        start = b.add(off, b.mul(idx, self.i64(stride))) if stride != 1 else b.add(off, idx)
        if stride == 1:
            m = mask if mask is not None else (self._mask(tail) if tail is not None else None)
            # a masked block may start before the array: no inbounds promise there
            p = self.addr(view, start) if mask is None else \
                self.addr(view, b.select(ok, start, zero) if ok is not None else start,
                          inbounds=False)
            if m is None:
                ld = b.load(p, typ=vty)
                ld.align = 8 if view.dtype == "float64" else 4
                return ld
            fn = self.e.function(f"llvm.masked.load.v{W}{'f64' if view.dtype == 'float64' else 'f32'}.p0",
                                 vty, [PTR, I32, ir.VectorType(I1, W), vty])
            return b.call(fn, [p, ir.Constant(I32, 8 if view.dtype == "float64" else 4),
                               m, self._const_vec(view.dtype, 1.0)])
        if stride == -1 and tail is None and mask is None and ok is None:
            # a reversed run (np.flip, x[::-1]): one vector load and a lane reversal
            p = self.addr(view, b.sub(start, self.i64(W - 1)), inbounds=False)
            ld = b.load(p, typ=vty)
            ld.align = 8 if view.dtype == "float64" else 4
            return b.shuffle_vector(ld, ir.Constant(vty, ir.Undefined), ir.Constant(
                ir.VectorType(I32, W), list(range(W - 1, -1, -1))))
        out = self._const_vec(view.dtype, 1.0)
        if isinstance(tail, (Extent, ir.Value)):   # a run-time tail: every lane, masked
            t = self._mask(tail)
            mask, tail = (t if mask is None else b.and_(mask, t)), None
        for lane in range(W if tail is None else tail):
            index = b.add(start, self.i64(lane * stride))
            if mask is not None:
                index = b.select(b.extract_element(mask, ir.Constant(I32, lane)), index, zero)
            p = self.addr(view, index)
            out = b.insert_element(out, b.load(p, typ=ety), ir.Constant(I32, lane))
        return out

    def _store(self, view: View, off: ir.Value, stride: int, idx: ir.Value, tail,
               value: ir.Value) -> None:
        b = self.b
        W = self.width
        ety = float_type(view.dtype)
        vty = ir.VectorType(ety, W)
        if value.type != vty:
            value = b.fptrunc(value, vty) if view.dtype == "float32" else b.fpext(value, vty)
        start = b.add(off, b.mul(idx, self.i64(stride))) if stride != 1 else b.add(off, idx)
        if stride == 1:
            p = self.addr(view, start)
            if tail is None:
                s = b.store(value, p)
                s.align = 8 if view.dtype == "float64" else 4
                return
            fn = self.e.function(f"llvm.masked.store.v{W}{'f64' if view.dtype == 'float64' else 'f32'}.p0",
                                 ir.VoidType(), [vty, PTR, I32, ir.VectorType(I1, W)])
            b.call(fn, [value, p, ir.Constant(I32, 8 if view.dtype == "float64" else 4),
                        self._mask(tail)])
            return
        if isinstance(tail, (Extent, ir.Value)):   # a run-time tail: lanes below it
            t = self.i64(tail)
            for lane in range(W):
                with b.if_then(b.icmp_signed("<", self.i64(lane), t)):
                    p = self.addr(view, b.add(start, self.i64(lane * stride)))
                    b.store(b.extract_element(value, ir.Constant(I32, lane)), p)
            return
        for lane in range(W if tail is None else tail):
            p = self.addr(view, b.add(start, self.i64(lane * stride)))
            b.store(b.extract_element(value, ir.Constant(I32, lane)), p)

    def _block(self, ctx: "_LoopCtx", base: list, idx: ir.Value, tail, accs: dict,
               states: dict | None = None) -> list:
        """One SIMD block of the loop body at inner index ``idx`` (``tail``: number of
        valid lanes of a partial last block; ``states``: by context key, True where the
        block lies inside the context's region along the innermost dimension, False
        where it lies outside, see :meth:`_region_segments`). Returns the updated
        accumulators."""
        states = states or {}

        def dead(c: Ctx) -> bool:   # in a region this block lies outside of
            key = c.key
            while key is not None:
                if states.get(key) is False:
                    return True
                key = key[0]
            return False
        b = self.b
        e = self.e
        W = self.width
        st = ctx.loop
        lane_ids = ir.Constant(ir.VectorType(I64, W), list(range(W)))
        masks: dict = {}

        def region(c: Ctx):
            """(outer indices inside c's region: i1 or None, lanes inside: <W x i1> or
            None)."""
            if c.key in masks:
                return masks[c.key]
            ok = lanes = None
            for d, lo, hi in c.conds:
                a = ctx.dim_acc[d]
                if ctx.strides[a][-1] == 1:  # the innermost loop dimension
                    if states.get(c.key) is True:
                        continue
                    pos = b.add(self.splat(idx), lane_ids)
                    m = b.and_(b.icmp_signed(">=", pos, self.splat(self.i64(lo))),
                               b.icmp_signed("<", pos, self.splat(self.i64(hi))))
                    lanes = m if lanes is None else b.and_(lanes, m)
                else:
                    i = base[a]
                    m = b.and_(b.icmp_signed(">=", i, self.i64(lo)),
                               b.icmp_signed("<", i, self.i64(hi)))
                    ok = m if ok is None else b.and_(ok, m)
            masks[c.key] = (ok, lanes)
            return ok, lanes

        def lane_mask(c: Ctx, with_tail: bool):
            ok, lanes = region(c)
            m = lanes
            if with_tail and tail is not None:
                t = self._mask(tail)
                m = t if m is None else b.and_(m, t)
            if ok is not None:
                s_ = self.splat(ok)
                m = s_ if m is None else b.and_(m, s_)
            return m, ok

        values: dict = {}
        for key, view, mapping, c in ctx.leaves:
            if dead(c):
                continue
            a = ctx.leaf_acc[key]
            mask, ok = lane_mask(c, True) if c.conds else (None, None)
            if mask is None and ok is None and c.conds:
                mask = None  # inside every region: a plain load
            values[key] = self._load(view, base[a], ctx.strides[a][-1], idx, tail, mask, ok)

        def value_of(n, c: Ctx) -> ir.Value:
            if isinstance(n, _ViewRead):
                return values[("view", id(n))]
            if n.is_const:
                return e.const(e.type_for(n.dtype), n.value)
            v = values.get((c.key, id(n)))
            return v if v is not None else values[c.leaf_key(n)]

        for n, c in ctx.body:
            if dead(c):
                continue
            key = (c.key, id(n))
            ty = e.type_for(n.dtype)
            if n.prim is A.one_hot_p:
                a = ctx.oh_acc[key]
                lab_node = n.args[0]
                ax = dict(n.params)["axis"]
                lab = (e.const(e.type_for(lab_node.dtype), lab_node.value) if lab_node.is_const
                       else values[("lab", c.key, id(lab_node), ax)])
                s = ctx.strides[a][-1]
                pos = self.splat(base[a])
                if s:
                    pos = b.add(pos, b.mul(b.add(self.splat(idx), lane_ids),
                                           self.splat(self.i64(s))))
                posf = b.sitofp(pos, lab.type)
                values[key] = b.select(b.fcmp_ordered("==", lab, posf), e.const(ty, 1.0),
                                       e.const(ty, 0.0))
            elif n.prim is A.concatenate_p:   # inlined: each operand in its region
                v = None
                for piece in reversed(self.s.concat_regions(n)):
                    child = c.enter(piece)
                    if dead(child):
                        continue
                    vk = value_of(piece.args[0], child)
                    if vk.type != ty:
                        vk = b.fpext(vk, ty)
                    m, _ = lane_mask(child, False) if child.conds else (None, None)
                    v = vk if v is None or m is None else b.select(m, vk, v)
                values[key] = v
            elif n.prim is A.unslice_p and dead(c.enter(n)):   # outside its region
                values[key] = e.const(ty, 0.0)
            elif n.prim is A.unslice_p:
                child = c.enter(n)
                v = value_of(n.args[0], child)
                if v.type != ty:
                    v = b.fpext(v, ty)
                if child.conds:
                    m, _ = lane_mask(child, False)
                    if m is not None:
                        v = b.select(m, v, e.const(ty, 0.0))
                values[key] = v
            else:
                values[key] = emit_node(e, n, [value_of(a, c) for a in n.args])
        new_accs = dict(accs)
        for j, o in enumerate(st.outs):
            v = value_of(o.value, ROOT)
            a = ctx.dest_acc[j]
            stride = ctx.strides[a][-1]
            if o.op == "store":
                self._store(o.dest, base[a], stride, idx, tail, v)
                continue
            ident = self._const_vec(o.dest.dtype, IDENTITY[o.op])
            vty = ident.type
            if v.type != vty:
                v = b.fpext(v, vty)
            if tail is not None:
                v = b.select(self._mask(tail), v, ident)
            if j in accs:
                new_accs[j] = self._combine(o.op, accs[j], v)
            else:
                old = self._load(o.dest, base[a], stride, idx, tail)
                self._store(o.dest, base[a], stride, idx, tail, self._combine(o.op, old, v))
        return [new_accs[j] for j in accs]

    # -- loops and branches (LoopStep) -------------------------------------------------
    def _sub_function(self, plan: Plan) -> ir.Function:
        """The internal function ``body<k>(start, end, inputs, outputs)`` running every
        step of the sub-plan ``plan`` (emitted once, with the same code generator: the
        builder's place and the buffers of the current function are restored)."""
        fn = self._subs.get(id(plan))
        if fn is not None:
            return fn
        saved = (self.s, self.n_in, self.n_out, self.fn, self.bufs, self.work, self.allocas,
                 self.b.block, self.steps, self._split)
        self.s, self.n_in, self.n_out = plan, len(plan.graph.inputs), len(plan.graph.outputs)
        self.steps, self._split = [], None
        self._nbody = getattr(self, "_nbody", 0) + 1
        self._begin(f"body{self._nbody - 1}")
        fn = self.fn
        fn.linkage = "internal"
        for st in plan.steps:
            if isinstance(st, LoopNest):
                self.loop(st)
            elif isinstance(st, LoopStep):
                self.control(st)
            elif isinstance(st, IndexStep):
                self.index_step(st)
            else:
                self.gemm(st)
        self.b.ret_void()
        (self.s, self.n_in, self.n_out, self.fn, self.bufs, self.work, self.allocas,
         block, self.steps, self._split) = saved
        self.b.position_at_end(block)
        self._subs[id(plan)] = fn
        return fn

    def _ptr(self, view: View, elem: ir.Value) -> ir.Value:
        """Pointer to element ``view.offset + elem`` of ``view``'s buffer."""
        return self.addr(view, self.b.add(self.i64(view.offset), elem))

    def _call_sub(self, fn: ir.Function, plan: Plan, name: str, ins: list, outs: list,
                  work_off: int) -> None:
        """Call a body function with the input pointers ``ins``, the output pointers
        ``outs`` and its workspace region at byte ``work_off`` of this workspace."""
        b = self.b
        pin, pout = self.allocas.get(name + "_in"), self.allocas.get(name + "_out")
        if pin is None:
            with b.goto_entry_block():
                pin = b.alloca(PTR, size=ir.Constant(I32, len(ins) + 1), name=name + "_in")
                pout = b.alloca(PTR, size=ir.Constant(I32, max(1, len(outs))),
                                name=name + "_out")
            self.allocas[name + "_in"], self.allocas[name + "_out"] = pin, pout
        work = b.gep(self.work, [self.i64(work_off)], inbounds=True,
                     source_etype=ir.IntType(8))
        for k, p in enumerate(list(ins) + [work]):
            b.store(p, b.gep(pin, [self.i64(k)], inbounds=True, source_etype=PTR))
        for k, p in enumerate(outs):
            b.store(p, b.gep(pout, [self.i64(k)], inbounds=True, source_etype=PTR))
        zero = self.i64(0)
        b.call(fn, [zero, zero, pin, pout])

    def _copy(self, dst: ir.Value, src: ir.Value, entries: int, dtype: str) -> None:
        if entries <= 0:
            return
        nbytes = entries * (8 if dtype == "float64" else 4)
        fn = self.e.function("llvm.memcpy.p0.p0.i64", ir.VoidType(), [PTR, PTR, I64, I1])
        self.b.call(fn, [dst, src, self.i64(nbytes), ir.Constant(I1, 0)])

    def control(self, st: LoopStep) -> None:
        """Emit a :class:`~graphc.backends.plan.LoopStep`: a counted loop (scan), a
        condition-checked loop with an optional step bound (while_loop) or a branch on
        the index (switch) around calls of the bodies' functions. Carries alternate
        between two workspace areas (the body reads one and writes the other); a scan's
        per-step ``xs``/``ys`` slices are addressed at ``t * size`` from step 0's."""
        b = self.b
        fns = [self._sub_function(p) for p in st.bodies]
        self._ncf = getattr(self, "_ncf", 0) + 1
        tag = f"cf{self._ncf}"
        C, dt = st.carry_entries, st.dest.dtype
        c64 = self.i64
        if st.kind == "switch":
            idx = b.load(self._ptr(st.src, c64(0)), typ=float_type(st.src.dtype))
            n = len(fns)
            f = self.e.intrinsic("llvm.floor", idx.type, idx)
            f = b.select(b.fcmp_unordered("uno", f, f), ir.Constant(idx.type, 0.0), f)
            f = b.select(b.fcmp_ordered("<", f, ir.Constant(idx.type, 0.0)),
                         ir.Constant(idx.type, 0.0), f)
            f = b.select(b.fcmp_ordered(">", f, ir.Constant(idx.type, n - 1.0)),
                         ir.Constant(idx.type, n - 1.0), f)
            k = b.fptosi(f, I64)
            after = self.fn.append_basic_block(tag + "_end")
            blocks = [self.fn.append_basic_block(f"{tag}_b{j}") for j in range(n)]
            ins = [self._ptr(st.src, c64(o)) for o in st.in_offsets]
            outs = [self._ptr(st.dest, c64(o)) for o in st.out_offsets]
            self.base_ptr(View(("work", 0), 0, (), (), dt, 0))  # entry-block pointers
            sw = b.switch(k, blocks[0])
            for j, blk in enumerate(blocks):
                sw.add_case(c64(j), blk)
            for j, blk in enumerate(blocks):
                b.position_at_end(blk)
                self._call_sub(fns[j], st.bodies[j], f"{tag}_{j}", ins, outs, st.work[j])
                b.branch(after)
            b.position_at_end(after)
            return
        A_, B_ = (self._ptr(v, c64(0)) for v in st.carry)
        self._copy(A_, self._ptr(st.src, c64(0)), C, dt)
        p = st.params
        nc = p["n_carry"]

        def carry_ptrs(base):
            return [b.gep(base, [c64(o)], inbounds=True, source_etype=float_type(dt))
                    for o in st.in_offsets[:nc]]
        if st.kind == "scan":
            L, nx, rev = p["length"], p["n_xs"], p.get("reverse", False)
            consts = [self._ptr(st.src, c64(o)) for o in st.in_offsets[nc + nx:]]

            def body(i, carried):
                cur, nxt = carried
                t = b.sub(c64(L - 1), i) if rev else i
                xs = [self._ptr(st.src, b.add(c64(o), b.mul(t, c64(k))))
                      for o, k in zip(st.in_offsets[nc:nc + nx], st.in_sizes[nc:nc + nx])]
                ys = [self._ptr(st.dest, b.add(c64(o), b.mul(t, c64(k))))
                      for o, k in zip(st.out_offsets[nc:], st.out_sizes[nc:])]
                self._call_sub(fns[0], st.bodies[0], tag, carry_ptrs(cur) + xs + consts,
                               carry_ptrs(nxt) + ys, st.work[0])
                return [nxt, cur]
            final = self.counted_loop(L, tag, body, [A_, B_], unroll=False)[0]
        else:
            consts = [self._ptr(st.src, c64(o)) for o in st.in_offsets[nc:]]
            flag = self._ptr(st.flag, c64(0))
            pre = b.block
            head = self.fn.append_basic_block(tag + "_head")
            test = self.fn.append_basic_block(tag + "_test")
            loop = self.fn.append_basic_block(tag + "_body")
            after = self.fn.append_basic_block(tag + "_end")
            b.branch(head)
            b.position_at_end(head)
            cur = b.phi(PTR)
            nxt = b.phi(PTR)
            steps = b.phi(I64)
            cur.add_incoming(A_, pre)
            nxt.add_incoming(B_, pre)
            steps.add_incoming(c64(0), pre)
            if p.get("max_steps") is None:
                b.branch(test)
            else:
                b.cbranch(b.icmp_signed("<", steps, c64(p["max_steps"])), test, after)
            b.position_at_end(test)
            self._call_sub(fns[0], st.bodies[0], tag + "_c", carry_ptrs(cur) + consts, [flag],
                           st.work[0])
            v = b.load(flag, typ=float_type(st.flag.dtype))
            b.cbranch(b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0)), loop, after)
            b.position_at_end(loop)
            self._call_sub(fns[1], st.bodies[1], tag + "_b", carry_ptrs(cur) + consts,
                           carry_ptrs(nxt), st.work[1])
            end = b.block
            cur.add_incoming(nxt, end)
            nxt.add_incoming(cur, end)
            steps.add_incoming(b.add(steps, c64(1)), end)
            b.branch(head).set_metadata("llvm.loop", self.no_unroll())
            b.position_at_end(after)
            final = cur
        self._copy(self._ptr(st.dest, c64(0)), final, C, dt)

    # -- gather, scatter_add, det (IndexStep) -----------------------------------------
    def _nest(self, shape: tuple, strides: list, offsets: list, body, name: str) -> None:
        """Scalar loops over ``shape`` (C order); ``body(offs)`` gets, per access ``k``,
        the element offset ``offsets[k] + Σ i_d · strides[k][d]`` (IR values)."""
        b = self.b

        def level(d, offs):
            if d == len(shape):
                body(offs)
                return
            if shape[d] == 1:
                level(d + 1, offs)
                return

            def step(i, _):
                level(d + 1, [b.add(o, b.mul(i, self.i64(st[d])))
                              for o, st in zip(offs, strides)])
                return []
            self.counted_loop(shape[d], f"{name}{d}", step)
        level(0, [self.i64(o) for o in offsets])

    def _load_as(self, view: View, off: ir.Value, dtype: str) -> ir.Value:
        v = self.b.load(self.addr(view, off), typ=float_type(view.dtype))
        if view.dtype == dtype:
            return v
        ty = float_type(dtype)
        return self.b.fpext(v, ty) if dtype == "float64" else self.b.fptrunc(v, ty)

    def _wrapped(self, view: View, off: ir.Value, n: int) -> ir.Value:
        """The index stored at ``off`` of ``view`` as an i64 in ``[0, n)`` (checked to
        be an integer in ``[-n, n)`` before the run; negative ones count from the end)."""
        b = self.b
        k = b.fptosi(b.load(self.addr(view, off), typ=float_type(view.dtype)), I64)
        neg = b.icmp_signed("<", k, self.i64(0))
        return b.select(neg, b.add(k, self.i64(n)), k)

    def index_step(self, st: IndexStep) -> None:
        """Emit an :class:`~graphc.backends.plan.IndexStep`: a gather (one indexed load
        per output entry), a scatter-add (a load, add and store at the indexed entry of
        the result, per update, in C order) or the determinants of a stack (LU with
        partial pivoting per matrix, Golub & Van Loan §3.4)."""
        if any(d == 0 for d in st.shape):
            return
        if st.kind == "det":
            self._det(st)
            return
        if st.kind == "argsort":
            self._argsort(st)
            return
        b = self.b
        P, ax = st.shape, st.axis
        dt = st.node.dtype

        def bstrides(view: View, skip_axis: bool) -> tuple:
            return tuple(0 if (skip_axis and d == ax) or (view.shape[d] == 1 and P[d] != 1)
                         else view.strides[d] for d in range(len(P)))
        if st.kind == "gather":
            x, idx = st.args
            n = x.shape[ax]
            strides = [bstrides(x, True), bstrides(idx, False), st.dest.strides]
            offsets = [x.offset, idx.offset, st.dest.offset]

            def body(offs):
                k = self._wrapped(idx, offs[1], n)
                xo = b.add(offs[0], b.mul(k, self.i64(x.strides[ax])))
                b.store(self._load_as(x, xo, dt), self.addr(st.dest, offs[2]))
            self._nest(P, strides, offsets, body, "gather")
            return
        _x, idx, v = st.args
        d_ = st.dest
        n = d_.shape[ax]
        strides = [bstrides(d_, True), bstrides(idx, False), bstrides(v, False)]
        offsets = [d_.offset, idx.offset, v.offset]

        def body(offs):
            k = self._wrapped(idx, offs[1], n)
            p = self.addr(d_, b.add(offs[0], b.mul(k, self.i64(d_.strides[ax]))))
            old = b.load(p, typ=float_type(dt))
            b.store(b.fadd(old, self._load_as(v, offs[2], dt)), p)
        self._nest(P, strides, offsets, body, "scatter")

    def _det(self, st: IndexStep) -> None:
        b = self.b
        (a,) = st.args
        dt = st.node.dtype
        ety = float_type(dt)
        n = a.shape[-1]
        lead = st.shape
        c64 = self.i64
        one, zero = ir.Constant(ety, 1.0), ir.Constant(ety, 0.0)
        sr, sc = a.strides[-2], a.strides[-1]
        W = st.scratch
        self._ndet = getattr(self, "_ndet", 0) + 1
        tag = f"det{self._ndet}"
        acc = self._alloca(f"{tag}_acc", ety)
        pmax = self._alloca(f"{tag}_pmax", ety)
        piv = self._alloca(f"{tag}_piv", I64)

        def w(i, j):  # pointer to scratch[i, j]
            return self.addr(W, b.add(b.mul(i, c64(n)), j))

        def matrix(offs):
            if n == 0:
                b.store(one, self.addr(st.dest, offs[1]))
                return

            def copy_row(i, _):
                def copy_col(j, _):
                    src = b.add(offs[0], b.add(b.mul(i, c64(sr)), b.mul(j, c64(sc))))
                    b.store(self._load_as(a, src, dt), w(i, j))
                    return []
                self.counted_loop(n, f"{tag}_cc", copy_col)
                return []
            self.counted_loop(n, f"{tag}_cr", copy_row)
            b.store(one, acc)

            def column(k, _):
                # partial pivoting: the first row of largest |a_ik|, i >= k
                b.store(self.e.intrinsic("llvm.fabs", ety, b.load(w(k, k), typ=ety)), pmax)
                b.store(k, piv)

                def search(i):
                    v = self.e.intrinsic("llvm.fabs", ety, b.load(w(i, k), typ=ety))
                    better = b.fcmp_ordered(">", v, b.load(pmax, typ=ety))
                    b.store(b.select(better, v, b.load(pmax, typ=ety)), pmax)
                    b.store(b.select(better, i, b.load(piv, typ=I64)), piv)
                kp1 = b.add(k, c64(1))
                self.range_loop(kp1, c64(n), f"{tag}_s", search)
                p = b.load(piv, typ=I64)
                with b.if_then(b.icmp_signed("!=", p, k)):
                    def swap(j, _):
                        u, v = b.load(w(k, j), typ=ety), b.load(w(p, j), typ=ety)
                        b.store(v, w(k, j))
                        b.store(u, w(p, j))
                        return []
                    self.counted_loop(n, f"{tag}_sw", swap)
                    b.store(b.fneg(b.load(acc, typ=ety)), acc)
                ukk = b.load(w(k, k), typ=ety)
                b.store(b.fmul(b.load(acc, typ=ety), ukk), acc)
                with b.if_then(b.fcmp_unordered("!=", ukk, zero)):
                    def elim(i):
                        f = b.fdiv(b.load(w(i, k), typ=ety), ukk)

                        def upd(j):
                            aij = b.load(w(i, j), typ=ety)
                            b.store(b.fsub(aij, b.fmul(f, b.load(w(k, j), typ=ety))), w(i, j))
                        self.range_loop(kp1, c64(n), f"{tag}_u", upd)
                    self.range_loop(kp1, c64(n), f"{tag}_e", elim)
                return []
            self.counted_loop(n, f"{tag}_k", column)
            b.store(b.load(acc, typ=ety), self.addr(st.dest, offs[1]))
        strides = [tuple(a.strides[:-2]), tuple(st.dest.strides)]
        self._nest(lead, strides, [a.offset, st.dest.offset], matrix, tag)

    def _argsort(self, st: IndexStep) -> None:
        """The stable ascending argsort of each row (the last axis) of ``st.args[0]``
        into ``st.dest`` as floats: a bottom-up merge sort of the row's indices in the
        two i64 buffers of ``st.scratch``, after insertion sort of runs of
        :data:`~graphc.ir.index_ops.SORT_RUN` (Knuth, TAOCP vol. 3, §5.2.4; O(n log n)
        comparisons). An entry goes before another when it is smaller, or when the other
        is NaN and it is not; equal entries (``-0.0`` and ``0.0`` too) and NaNs keep
        their index order, as ``np.argsort(kind="stable")``. The merge is branch-free:
        indices past a run's end are clamped into it and never chosen."""
        from ...ir.index_ops import SORT_RUN
        b = self.b
        (x,) = st.args
        dt = st.node.dtype
        ety = float_type(dt)
        n = x.shape[-1]
        if n == 0:
            return
        c64 = self.i64
        xs, ds = x.strides[-1], st.dest.strides[-1]
        self._nsort = getattr(self, "_nsort", 0) + 1
        tag = f"sort{self._nsort}"
        bufs = (self.base_ptr(st.scratch), None)
        with b.goto_entry_block():
            bufs = (bufs[0], b.gep(bufs[0], [c64(n)], inbounds=True, source_etype=I64))
        ia, ja = self._alloca(f"{tag}_i", I64), self._alloca(f"{tag}_j", I64)

        def at(buf, k):
            return b.gep(buf, [k], inbounds=True, source_etype=I64)

        def smin(u, v):
            return b.select(b.icmp_signed("<", u, v), u, v)

        def while_(name, cond, body):
            head = self.fn.append_basic_block(name + "_h")
            loop = self.fn.append_basic_block(name)
            after = self.fn.append_basic_block(name + "_end")
            b.branch(head)
            b.position_at_end(head)
            b.cbranch(cond(), loop, after)
            b.position_at_end(loop)
            body()
            b.branch(head)
            b.position_at_end(after)

        def row(offs):
            xo, do = offs
            if n == 1:
                b.store(ir.Constant(ety, 0.0), self.addr(st.dest, do))
                return

            def val(k):  # x[row, k]
                return self._load_as(x, b.add(xo, b.mul(k, c64(xs))), dt)

            def before(u, v):  # u sorts strictly before v (NaN largest)
                less = b.fcmp_ordered("<", u, v)
                return b.or_(less, b.and_(b.fcmp_unordered("uno", v, v),
                                          b.fcmp_ordered("ord", u, u)))
            src = bufs[0]

            def init(k, _):
                b.store(k, at(src, k))
                return []
            self.counted_loop(n, f"{tag}_init", init)

            def run(r, _):  # insertion sort of src[lo:hi]
                lo = b.mul(r, c64(SORT_RUN))
                hi = smin(b.add(lo, c64(SORT_RUN)), c64(n))

                def insert(i):
                    key = b.load(at(src, i), typ=I64)
                    kv = val(key)
                    b.store(i, ja)

                    def cond():
                        j = b.load(ja, typ=I64)
                        jm = b.sub(j, c64(1))
                        prev = b.load(at(src, b.select(b.icmp_signed(">", j, lo), jm, lo)),
                                      typ=I64)
                        return b.and_(b.icmp_signed(">", j, lo), before(kv, val(prev)))

                    def shift():
                        j = b.load(ja, typ=I64)
                        jm = b.sub(j, c64(1))
                        b.store(b.load(at(src, jm), typ=I64), at(src, j))
                        b.store(jm, ja)
                    while_(f"{tag}_ins", cond, shift)
                    b.store(key, at(src, b.load(ja, typ=I64)))
                self.range_loop(b.add(lo, c64(1)), hi, f"{tag}_run", insert)
                return []
            self.counted_loop(-(-n // SORT_RUN), f"{tag}_runs", run)
            width, which = SORT_RUN, 0
            while width < n:   # one merge pass per width, unrolled: src -> dst
                src, dst = bufs[which], bufs[1 - which]

                def block(q, _, src=src, dst=dst, width=width):
                    lo = b.mul(q, c64(2 * width))
                    mid = smin(b.add(lo, c64(width)), c64(n))
                    hi = smin(b.add(lo, c64(2 * width)), c64(n))
                    b.store(lo, ia)
                    b.store(mid, ja)
                    mid1, hi1 = b.sub(mid, c64(1)), b.sub(hi, c64(1))

                    def merge(k):
                        i, j = b.load(ia, typ=I64), b.load(ja, typ=I64)
                        left_ok = b.icmp_signed("<", i, mid)
                        right_ok = b.icmp_signed("<", j, hi)
                        li = b.load(at(src, b.select(left_ok, i, mid1)), typ=I64)
                        ri = b.load(at(src, b.select(right_ok, j, hi1)), typ=I64)
                        take_r = b.and_(right_ok, b.or_(b.not_(left_ok),
                                                        before(val(ri), val(li))))
                        b.store(b.select(take_r, ri, li), at(dst, k))
                        b.store(b.add(j, b.zext(take_r, I64)), ja)
                        b.store(b.add(i, b.zext(b.not_(take_r), I64)), ia)
                    self.range_loop(lo, hi, f"{tag}_m{width}", merge)
                    return []
                self.counted_loop(-(-n // (2 * width)), f"{tag}_p{width}", block)
                width, which = 2 * width, 1 - which
            out = bufs[which]

            def store(k, _):
                v = b.sitofp(b.load(at(out, k), typ=I64), ety)
                b.store(v, self.addr(st.dest, b.add(do, b.mul(k, c64(ds)))))
                return []
            self.counted_loop(n, f"{tag}_out", store)
        strides = [tuple(x.strides[:-1]), tuple(st.dest.strides[:-1])]
        self._nest(st.shape, strides, [x.offset, st.dest.offset], row, tag)

    # -- matrix products ----------------------------------------------------------------
    def _gemm_info(self, g: Contraction) -> StepInfo:
        """A BLAS product is split among graphc's threads, each calling a one-thread
        BLAS (see :data:`GEMM_NS_PER_MAC`), when OpenBLAS's thread-local thread count
        can be set (otherwise it runs whole): by rows of C, or by its columns when it
        has more columns than rows, or by parts of the inner dimension when that is much
        the longest (:func:`_split_axis`)."""
        # (a one-thread program keeps no step infos: no decision, so no size guard)
        if (self.parallel and self.blas_threads and g.m * g.n * g.k >= GEMM_BLAS_MIN
                and (g.m > 1 or g.n > 1) and _gemm_layout(g.c) == (True, max(1, g.n))):
            per_mac = GEMM_NS_PER_MAC * (0.5 if g.dtype == "float32" else 1.0)
            axis = self._split_axes[id(g)] = _split_axis(g)
            if axis == "k":   # partial products in the workspace, summed by step(-2, -2)
                itemsize = 8 if g.dtype == "float64" else 4
                off = self.s.reserve_work(K_PARTS * g.m * g.n * itemsize)
                self._k_partials[id(g)] = View(
                    ("work", off), 0, (K_PARTS, g.m, g.n), (g.m * g.n, g.n, 1), g.dtype, -1)
                return StepInfo(K_PARTS, estimate(g.m * g.n * g.k) * per_mac / K_PARTS,
                                finish=True)
            if axis == "n":
                return StepInfo(g.n, estimate(g.m * g.k) * per_mac)
            return StepInfo(g.m, estimate(g.n * g.k) * per_mac)
        return StepInfo(0, 0.0)

    def gemm(self, g: Contraction) -> None:
        if g.m == 0 or g.n == 0:
            return
        if g.k == 0:
            self.fill(g.c, 0.0)
            return
        name = "dgemm" if g.dtype == "float64" else "sgemm"
        if self._split is not None and id(g) in self._k_partials:
            self._k_parts(g, name)
        elif self.use_blas and g.m * g.n * g.k >= GEMM_BLAS_MIN:
            self._call_blas(g, name)
        else:
            self._loops_gemm(g)

    def _k_parts(self, g: Contraction, name: str) -> None:
        """A product split over its inner dimension (:func:`_split_axis`):
        ``step(start, end)`` computes the partial products of parts ``start..end``
        (``A[:, k0:k1] @ B[k0:k1, :]`` for the part's ``k0:k1``, one-thread BLAS) into
        their buffers; ``step(-2, -2)`` sums the :data:`K_PARTS` partials into C in
        order. The parts do not depend on the thread count, so neither do the bits."""
        b = self.b
        start, end = self._split
        part = self._k_partials[id(g)]
        mn = g.m * g.n
        with b.if_else(b.icmp_signed("<", start, self.i64(0))) as (finish, parts):
            with finish:
                b.call(self._sum_parts_function(g.dtype),
                       [self.addr(part, self.i64(0)),
                        self.addr(g.c, self.i64(g.c.offset)), self.i64(mn)])
            with parts:
                def one(p):
                    k0 = b.sdiv(b.mul(p, self.i64(g.k)), self.i64(K_PARTS))
                    k1 = b.sdiv(b.mul(b.add(p, self.i64(1)), self.i64(g.k)),
                                self.i64(K_PARTS))
                    self._call_blas(g, name, k_range=(k0, k1),
                                    c_at=(part, b.mul(p, self.i64(mn))))
                self.range_loop(start, end, "k_part", one)

    def _sum_parts_function(self, dtype: str) -> ir.Function:
        """``sum_parts_<dtype>(parts, c, mn)``: ``c[e] = parts[0, e] + ... +
        parts[K_PARTS - 1, e]`` for ``e < mn``, summed in that order; one function per
        module (each product split over its inner dimension calls it: a copy per step,
        vectorised by LLVM each time, added a quarter to the PINN step's compile time)."""
        name = f"sum_parts_{dtype}"
        fn = self.module.globals.get(name)
        if fn is not None:
            return fn
        b = self.b
        ety = float_type(dtype)

        def add_up(e, _):
            acc = b.load(b.gep(parts, [e], inbounds=True, source_etype=ety), typ=ety)
            for p in range(1, K_PARTS):
                at = b.add(e, b.mul(mn, self.i64(p)))
                acc = b.fadd(acc, b.load(b.gep(parts, [at], inbounds=True, source_etype=ety),
                                         typ=ety))
            b.store(acc, b.gep(c, [e], inbounds=True, source_etype=ety))
            return []
        with self._helper(name, [PTR, PTR, I64]) as fn:
            parts, c, mn = fn.args
            self.counted_loop(mn, "k_sum", add_up)
            b.ret_void()
        return fn

    def _alloca(self, name: str, ty: ir.Type) -> ir.Value:
        p = self.allocas.get(name)
        if p is None:
            with self.b.goto_entry_block():
                p = self.b.alloca(ty, name=name)
            self.allocas[name] = p
        return p

    def _call_blas(self, g: Contraction, name: str, k_range: tuple | None = None,
                   c_at: tuple | None = None) -> None:
        """Row-major C = A @ B as column-major Cᵀ = Bᵀ Aᵀ (the Fortran interface);
        ``k_range``: only the inner indices ``k0:k1`` (IR values), written to ``c_at``
        (a view and an element offset into it) instead of C."""
        b = self.b
        ety = float_type(g.dtype)
        row_a, lda = _gemm_layout(g.a)
        row_b, ldb = _gemm_layout(g.b)
        ta = ord("N") if row_b else ord("T")   # first Fortran operand is B
        tb = ord("N") if row_a else ord("T")
        vals = {"ta": (ir.IntType(8), ta), "tb": (ir.IntType(8), tb),
                "m": (I32, g.n), "n": (I32, g.m), "k": (I32, g.k),
                "lda": (I32, max(1, ldb)), "ldb": (I32, max(1, lda)), "ldc": (I32, max(1, g.n)),
                "alpha": (ety, 1.0), "beta": (ety, 0.0)}
        ptrs = {}
        for key, (ty, v) in vals.items():
            p = self._alloca(f"{key}_{name}", ty)
            b.store(b.trunc(self.i64(v), I32) if isinstance(v, Extent) else
                    ir.Constant(ty, v), p)
            ptrs[key] = p
        a_off = self.i64(g.a.offset)
        c_off = self.i64(g.c.offset)
        b_off = self.i64(g.b.offset)
        if k_range is not None:   # A's columns and B's rows k0..k1
            k0, k1 = k_range
            b.store(b.trunc(b.sub(k1, k0), I32), ptrs["k"])
            a_off = b.add(a_off, b.mul(k0, self.i64(1 if row_a else lda)))
            b_off = b.add(b_off, b.mul(k0, self.i64(ldb if row_b else 1)))
        elif self._split is not None and self._split_axes[id(g)] == "n":  # C's columns
            start, end = self._split
            b.store(b.trunc(b.sub(end, start), I32), ptrs["m"])
            b_off = b.add(b_off, b.mul(start, self.i64(1 if row_b else ldb)))
            c_off = b.add(c_off, start)
        elif self._split is not None:  # rows start..end of C: A's rows, C's rows
            start, end = self._split
            b.store(b.trunc(b.sub(end, start), I32), ptrs["n"])
            a_off = b.add(a_off, b.mul(start, self.i64(lda if row_a else 1)))
            c_off = b.add(c_off, b.mul(start, self.i64(max(1, g.n))))
        pa = self.addr(g.b, b_off)
        pb = self.addr(g.a, a_off)
        pc = self.addr(g.c, c_off) if c_at is None else self.addr(*c_at)
        fn = self.e.function(f"graphc_{name}", ir.VoidType(), [PTR] * 13)
        one_thread = self.blas_threads and (self._split is not None
                                            or g.m * g.n * g.k < BLAS_THREADS_MIN)
        if one_thread:
            local = self.e.function("graphc_blas_threads", I32, [I32])
            prev = b.call(local, [ir.Constant(I32, 1)])
        b.call(fn, [ptrs["ta"], ptrs["tb"], ptrs["m"], ptrs["n"], ptrs["k"], ptrs["alpha"],
                    pa, ptrs["lda"], pb, ptrs["ldb"], ptrs["beta"], pc, ptrs["ldc"]])
        if one_thread:
            b.call(local, [prev])

    def _loops_gemm(self, g: Contraction) -> None:
        """C = A @ B by loops (no BLAS): for i, p: C[i, :] += A[i, p] * B[p, :]."""
        b = self.b
        ety = float_type(g.dtype)
        self.fill(g.c, 0.0)
        (sar, sac), (sbr, sbc), (scr, scc) = g.a.strides, g.b.strides, g.c.strides

        def row(i, _):
            def inner(p, _):
                a = b.load(self.addr(g.a, b.add(self.i64(g.a.offset),
                                                b.add(b.mul(i, self.i64(sar)),
                                                      b.mul(p, self.i64(sac))))),
                           typ=ety)

                def col(j, _):
                    pb = self.addr(g.b, b.add(self.i64(g.b.offset),
                                              b.add(b.mul(p, self.i64(sbr)),
                                                    b.mul(j, self.i64(sbc)))))
                    pc = self.addr(g.c, b.add(self.i64(g.c.offset),
                                              b.add(b.mul(i, self.i64(scr)),
                                                    b.mul(j, self.i64(scc)))))
                    old = b.load(pc, typ=ety)
                    b.store(b.fadd(old, b.fmul(a, b.load(pb, typ=ety))), pc)
                    return []
                self.counted_loop(g.n, "mm_j", col)
                return []
            self.counted_loop(g.k, "mm_p", inner)
            return []
        self.counted_loop(g.m, "mm_i", row)


def _split_axis(g: Contraction) -> str:
    """How threads split the product ``g`` (C = A B, m×k by k×n): ``"k"``, into
    :data:`K_PARTS` partial products over ranges of the inner dimension, summed
    afterwards, when it is at least :data:`K_SPLIT_RATIO` times the longer side of C
    (each thread reads its share of A and of B: ``(m k + k n) / p`` for ``p``
    threads); else ``"n"`` (columns of C: all of A, a share of B, ``m k + k n / p``)
    when C has more columns than rows, else ``"m"`` (rows: ``m k / p + k n``). The
    MLP step of benchmarks/tensors.py (batch 4096) split ``W1 @ X`` (m = 32,
    n = 4096, k = 64) by rows: 250-290 µs per half, 393 µs whole; the weight
    gradient ``dZ Xᵀ`` (m = 32, n = 64, k = 4096): 496-546 µs per half, 545 µs
    whole."""
    if g.k >= K_SPLIT_RATIO * max(g.m, g.n) and g.k >= K_PARTS * K_PART_MIN:
        return "k"
    return "n" if g.n > g.m else "m"


K_PARTS = 8
"""Partial products of a product split over its inner dimension: a fixed count (not the
thread count), so that the sum, and its rounding, is the same on any number of
threads."""

K_SPLIT_RATIO = 4
K_PART_MIN = 64
"""A product is split over its inner dimension when it is at least ``K_SPLIT_RATIO``
times the longer side of C and each part keeps ``K_PART_MIN`` of it."""


def _bcast(vshape: tuple, vstrides: tuple, shape: tuple) -> tuple:
    """Strides of an array of ``vshape`` broadcast (from the right) to ``shape``."""
    extra = len(shape) - len(vshape)
    out = []
    for i in range(len(shape)):
        j = i - extra
        if j < 0 or vshape[j] == 1:
            out.append(0)
        else:
            out.append(vstrides[j])
    return tuple(out)


def _collapse(shape: tuple, accesses: list[tuple]) -> tuple[tuple, list[tuple]]:
    """Drop size-1 dimensions and merge neighbours that every access walks
    contiguously (stride[i] == stride[i+1] * size[i+1]), innermost first."""
    dims = [i for i, d in enumerate(shape) if d != 1]
    if not dims:
        return (1,), [(0,) for _ in accesses]
    sizes = [shape[i] for i in dims]
    strides = [[a[i] for i in dims] for a in accesses]
    i = len(sizes) - 2
    while i >= 0:
        if all(s[i] == s[i + 1] * sizes[i + 1] for s in strides):
            sizes[i + 1] *= sizes[i]
            del sizes[i]
            for s in strides:
                del s[i]
        i -= 1
    return tuple(sizes), [tuple(s) for s in strides]


BODY_UNROLL_MAX = 16
"""Loops inside the body function of a loop or branch with more iterations than this are
tagged ``llvm.loop.unroll.disable`` (:meth:`_Codegen.no_unroll`); shorter ones (the
entries of a small state vector) are left to LLVM's unroller, which runs them faster."""

REGISTER_TILE = 8
"""Vector accumulators per output that a loop nest with its reductions inside
(:func:`_reductions_inside`) keeps at once (SIMD blocks of the innermost level times rows
of the level outside the reductions): eight independent chains of additions cover the
latency of a vector add at two adds per cycle."""

REGISTER_REDUCTION_MAX = 512
"""Largest number of terms per output (the product of the reduction levels' sizes) for
which :func:`_reductions_inside` moves a loop nest's reduction levels inside its
innermost level: the cache lines one tile of SIMD blocks reads then stay in L1."""

REGISTER_INNER_MAX = 256
"""Largest innermost extent (entries) for which :func:`_reductions_inside` applies:
beyond it the original order, which streams each row of the reduced axes contiguously,
was faster (a ``(512, 10^5)`` sum over axis 0: 17.7 ms against 32 ms with the
reductions inside; ``(100, 3, 1000)`` over axes 0, 1: 32.5 against 39.7 us), while
below it the reductions inside won (direct convolutions: ``benchmarks/CONV.md``;
``(8, 200, 8, 8)`` over axis 1: 15.0 -> 12.5 us)."""


def _reductions_inside(st: LoopNest, shape: tuple, strides: list, dest_acc: list,
                       contexts: list) -> tuple[tuple, list, int]:
    """Loop interchange for accumulating loop nests: when every output accumulates
    (``sum``/``prod``/``max``/``min``) and moves along the innermost level, the levels
    along which no output moves (the reduced ones, e.g. the channels and taps of a
    direct convolution ``y[n, o, p] += w[o, c, t] * x[n, c, p + t]``) are moved just
    outside the innermost level, so that each SIMD block of outputs is summed in
    registers over all its terms and written once, instead of read and written once per
    term. Returns ``(shape, strides, nred)``: the reordered levels and how many
    reduction levels now sit just outside the innermost one (0: unchanged).

    Declined (returns the input): stores, a reduction along the innermost level, region
    masks, fewer than two terms or more than :data:`REGISTER_REDUCTION_MAX` per output,
    an innermost level longer than :data:`REGISTER_INNER_MAX`.
    """
    # (the sizes here choose a loop order, not what is computed: planning values)
    if len(shape) < 2 or estimate(shape[-1]) > REGISTER_INNER_MAX or contexts or \
            not st.outs or \
            any(o.op == "store" for o in st.outs):
        return shape, strides, 0
    if any(strides[a][-1] == 0 for a in dest_acc):
        return shape, strides, 0
    red = [lv for lv in range(len(shape) - 1) if all(strides[a][lv] == 0 for a in dest_acc)]
    terms = estimate(prod(shape[lv] for lv in red))
    if not red or terms < 2 or terms > REGISTER_REDUCTION_MAX:
        return shape, strides, 0
    keep = [lv for lv in range(len(shape) - 1) if lv not in red]
    order = keep + red + [len(shape) - 1]
    return (tuple(shape[lv] for lv in order),
            [tuple(s[lv] for lv in order) for s in strides], len(red))


@dataclass
class _LoopCtx:
    loop: LoopNest
    shape: tuple
    strides: list
    leaves: list
    leaf_acc: dict
    dest_acc: list
    oh_acc: dict
    body: list
    dim_acc: dict
    contexts: list
    nred: int = 0


# ---------------------------------------------------------------------------------
# compiled programs and the kernel object

class Program:
    """A graph compiled for one binding of its symbolic dimensions, or for every binding
    that satisfies its ``guards`` (a *generic* program, whose sizes are read at run time).

    Attributes:
        graph: the specialised graph (concrete shapes; for a generic program, shapes of
            :class:`~graphc.ir.extent.Extent` sizes).
        plan: its :class:`Plan`.
        module: the :class:`~.jit.CompiledModule` holding the machine code.
        llvm_ir: the LLVM IR text before optimisation.
        steps: per step, how it may be split over threads (:class:`StepInfo`); empty
            when the program was compiled for one thread only.
        symbols: the sizes a generic program reads at run time (its sizes buffer, in
            this order); empty for a program of one binding.
        guards: the :class:`~graphc.ir.extent.Guard` s a binding must satisfy for a
            generic program to be valid for it.
    """

    def __init__(self, graph: Graph, plan: Plan, module, llvm_ir: str,
                 steps: Sequence[StepInfo] = (), symbols: Sequence[str] = (),
                 guards: Sequence = ()):
        self.graph = graph
        self.plan = plan
        self.module = module
        self.llvm_ir = llvm_ir
        self.symbols = tuple(symbols)
        self.guards = tuple(guards)
        self.out_shapes = [o.shape for o in graph.outputs]
        self.out_dtypes = [np.dtype(NP_DTYPES[o.dtype]) for o in graph.outputs]
        self.work_bytes = plan.work_bytes if self.symbols else max(64, plan.work_bytes)
        self.cost = estimate(sum(prod(x.shape) for x in graph.nodes))
        self.run = module.run
        self.check_labels = label_checker(graph)
        if self.symbols and self.check_labels is not None and self.check_labels.computed:
            # labels computed from inputs (y[1:]) are evaluated on the graph's shapes
            raise LoweringError("labels computed inside a graph of run-time sizes")
        self.steps = list(steps)
        self._threaded = module.functions["threaded"] if self.steps else None
        self._bound: dict[tuple, tuple] = {}

    def serves(self, env: dict[str, int], parallel: bool) -> bool:
        """True when this program (of run-time sizes) computes the graph for the sizes
        ``env`` (every guard holds) and was built for the same ``parallel`` request with
        the per-step thread functions those sizes call for (the threading threshold,
        :data:`PARALLEL_MIN_NS`, decided by the planning sizes)."""
        return self.requested_parallel == parallel and \
            all(g.holds(env) for g in self.guards) and \
            (not parallel or self.threaded ==
             (evaluate(self.work, env) >= 10 * PARALLEL_MIN_NS))

    def _bind(self, env: dict[str, int] | None) -> tuple:
        """(output shapes, workspace bytes, extra inputs, steps) for the sizes ``env``."""
        if not self.symbols:
            return self.out_shapes, self.work_bytes, (), self.steps
        key = env_key(env)
        hit = self._bound.get(key)
        if hit is None:
            shapes = [tuple(evaluate(d, env) for d in s) for s in self.out_shapes]
            sizes = np.array([env[k] for k in self.symbols], dtype=np.int64)
            steps = [replace(st, units=evaluate(st.units, env))
                     for st in self.steps]
            hit = (shapes, max(64, evaluate(self.work_bytes, env)), (sizes,), steps)
            if len(self._bound) > 64:
                self._bound.clear()
            self._bound[key] = hit
        return hit

    def __call__(self, arrays: Sequence[np.ndarray], threads: int = 1,
                 env: dict[str, int] | None = None) -> list[np.ndarray]:
        if self.check_labels is not None:  # class indices in [0, C), before the run
            self.check_labels(arrays)
        out_shapes, work_bytes, extra, steps = self._bind(env)
        # large outputs and workspaces come from the buffer pool (no page faults)
        outs = [POOL.empty(s, dt) for s, dt in zip(out_shapes, self.out_dtypes)]
        work = POOL.empty((work_bytes,), np.uint8)
        if threads > 1 and steps:
            self._run_threaded([*arrays, work, *extra], outs, threads, steps)
        else:
            self.run(0, self.cost, [*arrays, work, *extra], outs)
        return outs

    def _run_threaded(self, ins: list, outs: list, threads: int, steps=None) -> None:
        """Run the program on up to ``threads`` threads (fewer when the machine's other
        CPUs are busy, :func:`~.threads.usable_threads`): each splittable step of at
        least :data:`PARALLEL_MIN_NS` estimated work has its outer units cut into chunks
        that the threads take in turn (each thread's share at least half that work), in
        one parallel region per call (the module's ``threaded`` driver). Chunks cut
        whole outer units, each computed by the same instructions, so results do not
        depend on the thread count."""
        threads = _threads.usable_threads(threads)
        ctl, most = _driver_control(self.steps if steps is None else steps, threads)
        ctl[_CTL_SPIN] = BARRIER_SPIN_CYCLES_CROWDED if _threads.crowded(most) \
            else BARRIER_SPIN_CYCLES
        if most <= 1:
            self.run(0, self.cost, ins, outs)
            return
        pin = (ctypes.c_void_p * (len(ins) + 1))(*[a.ctypes.data for a in ins],
                                                   ctl.ctypes.data)
        pout = (ctypes.c_void_p * max(1, len(outs)))(*[o.ctypes.data for o in outs])
        pin_p, pout_p = ctypes.cast(pin, ctypes.c_void_p), ctypes.cast(pout, ctypes.c_void_p)
        fn = self._threaded
        _threads.run_region(lambda tid, n: fn(tid, n, pin_p, pout_p), most)


PARALLEL_MIN_NS = 100_000
"""A loop nest is split across threads only when its estimated single-thread time is
at least this (100 µs, the threshold of elementwise kernels); each thread then gets at
least half of it. Estimates come from the ops' ``cost`` (:func:`..plan.element_cost`)
plus 0.4 ns per array read or written per element."""


def build_program(graph: Graph, env: dict[str, int], level: str, use_disk: bool = True,
                  blas: bool | None = None, parallel: bool = False) -> Program:
    """Specialise, plan, lower and compile ``graph`` for the sizes ``env`` (or take
    the program from the one in-memory cache of :mod:`.jit`, keyed by graph, sizes,
    SIMD level, BLAS use and ``parallel``, which adds per-step functions for threads
    when the program is large enough to use them)."""
    from .jit import _memory, _memory_lock, graph_key, memory_stats, MEMORY_CACHE_SIZE
    use_blas = bool(blas_functions()) if blas is None else (blas and bool(blas_functions()))
    cg = None
    if parallel:
        cg = specialize(graph, env)
        parallel = _work_tenths(cg) >= 10 * PARALLEL_MIN_NS
    key = ("arrays", graph_key(graph), env_key(env), level,
           GEMM_BLAS_MIN if use_blas else None, parallel)
    with _memory_lock:
        prog = _memory.get(key)
        if prog is not None:
            _memory.move_to_end(key)
            memory_stats["hits"] += 1
            return prog
        memory_stats["misses"] += 1
    if cg is None:
        cg = specialize(graph, env)
    prog = _compile_plan(cg, Plan(cg, _specialize_body), level, use_blas, parallel, use_disk)
    with _memory_lock:
        _memory[key] = prog
        while len(_memory) > MEMORY_CACHE_SIZE:
            _memory.popitem(last=False)
    return prog


def _work_tenths(cg: Graph):
    """Estimated single-thread time of a specialised graph in tenths of a nanosecond:
    an int, or an extent for shapes of run-time sizes (:func:`evaluate` it per binding,
    :func:`estimate` it for the planning sizes)."""
    total = 0
    for n in cg.nodes:
        total = total + prod(n.shape) * round(10 * (element_cost(n.prim) if n.args else 0.4))
    return total


def build_generic_program(graph: Graph, env: dict[str, int], level: str,
                          use_disk: bool = True, blas: bool | None = None,
                          parallel: bool = False) -> Program:
    """Compile ``graph`` once for every binding of its symbolic dimensions that behaves
    like ``env``: planned and lowered with :class:`~graphc.ir.extent.Extent` sizes, so
    trip counts, strides, workspace offsets and size-derived constants (``mean``'s
    ``N``) are computed at run time from a sizes buffer; every decision the planner or
    the code generator took on a size is a guard of the program (:attr:`Program.guards`).
    Programs are cached in memory per graph (a list, searched by guards).

    Raises:
        Any error of planning or code generation on extents (a site that cannot take a
        run-time size); the caller then compiles for ``env`` only (:func:`build_program`).
    """
    from ...ir.extent import recording, sizes_of
    from .jit import _memory, _memory_lock, graph_key, memory_stats
    use_blas = bool(blas_functions()) if blas is None else (blas and bool(blas_functions()))
    key = ("arrays-generic", graph_key(graph), tuple(sorted(env)), level,
           GEMM_BLAS_MIN if use_blas else None, parallel)
    with _memory_lock:
        for prog in _memory.get(key, ()):
            if prog.serves(env, parallel):
                memory_stats["hits"] += 1
                return prog
        memory_stats["misses"] += 1
    symbols = tuple(sorted(env))
    sizes = sizes_of(env)
    with recording() as log:
        cg = specialize(graph, sizes)
        work = _work_tenths(cg)
        threaded = parallel and estimate(work) >= 10 * PARALLEL_MIN_NS
        plan = Plan(cg, _specialize_body)
        prog = _compile_plan(cg, plan, level, use_blas, threaded, use_disk, symbols)
    # every guard, including those of the Program's own set-up (label checks)
    prog.guards = tuple({repr(g): g for g in log}.values())
    prog.requested_parallel, prog.threaded, prog.work = parallel, threaded, work
    with _memory_lock:
        progs = _memory.setdefault(key, [])
        progs.append(prog)
        del progs[:-8]
    return prog


_CTL_GEN, _CTL_SLEEPERS, _CTL_SPIN = 8, 16, 20
_CONTROL_STEPS = 24
_CONTROL_WORDS = 8
_FILL, _FINISH = 1, 2
"""Layout of the control buffer of ``threaded`` (int64 words): the barrier's count
(word 0), its generation (word 8, an int32 for the futex), the number of threads
asleep at it (word 16) and how long to spin before sleeping (word 20, cycles), then per
step ``k`` eight words from ``_CONTROL_STEPS + 8 k``: the next chunk to take, the
number of chunks, the units, flags (1: fill first, 2: finish, see :class:`StepInfo`). Each word that threads write
sits on its own 64-byte cache line."""

BARRIER_SPIN_CYCLES = 3_000_000
BARRIER_SPIN_CYCLES_CROWDED = 30_000
"""Cycles of the CPU's time-stamp counter (``llvm.readcyclecounter``: about 1 ms and
10 µs at 3 GHz) that a thread waiting at a barrier polls it (with ``pause`` on x86)
before it sleeps, when the region's threads have idle CPUs, and when they do not
(other runnable tasks plus the region's threads exceed the CPUs; libgomp also cuts its
spin count when threads outnumber CPUs). On idle CPUs, the steps that the first thread
runs alone between split steps take tens to hundreds of microseconds, and waking a
sleeping thread cost more than spinning through them: the MLP step at batch 4096 on two
threads took 1.33-1.40 ms (medians of three runs) with the 1 ms spin, 1.45-1.81 ms
with a 100 µs spin. On a crowded machine a spinning thread takes the CPU that the
thread it waits for needs."""

_FUTEX = {"x86_64": 202, "aarch64": 98}
"""Linux's ``futex`` system call number by architecture (elsewhere waiting threads
yield the CPU between polls instead of sleeping)."""
_FUTEX_WAIT_PRIVATE, _FUTEX_WAKE_PRIVATE = 128, 129


def _driver_control(steps: Sequence[StepInfo], threads: int) -> tuple[np.ndarray, int]:
    """The control buffer of ``threaded`` for ``threads`` threads (the chunks of each
    step as :meth:`Program._run_threaded` decided them per step before) and the number
    of threads worth starting (1: no step is split)."""
    ctl = np.zeros(_CONTROL_STEPS + _CONTROL_WORDS * len(steps), np.int64)
    most = 1
    for k, info in enumerate(steps):
        total = info.units * info.ns_per_unit
        parts = min(threads, info.units, int(total // (PARALLEL_MIN_NS / 2)))
        chunks = 1
        if total >= PARALLEL_MIN_NS and parts > 1:
            chunks = min(info.units, parts * _threads.oversplit_for(total, parts))
            most = max(most, parts)
        w = _CONTROL_STEPS + _CONTROL_WORDS * k
        ctl[w + 1], ctl[w + 2] = chunks, info.units
        ctl[w + 3] = (_FILL if info.fill_first else 0) | (_FINISH if info.finish else 0)
    return ctl, most


def _compile_plan(cg: Graph, plan: Plan, level: str, use_blas: bool, parallel: bool,
                  use_disk: bool, symbols: Sequence[str] = ()) -> Program:
    """Generate, compile (or load from disk) and wrap the code of a plan; ``symbols``:
    the run-time sizes of a generic program (its guards are set by the caller)."""
    from .jit import CompiledModule, compile_ir, host, python_trampoline_setup, trampoline_ir
    gen = _Codegen(plan, len(cg.inputs), len(cg.outputs), level, use_blas, parallel,
                   symbols)
    module = gen.emit()
    steps = gen.steps if parallel else []
    h = host()
    module.triple = h.triple
    module.data_layout = h.data_layout
    text = str(module)
    ok, offset = python_trampoline_setup()
    if ok:
        text += trampoline_ir(len(cg.inputs) + 1 + (1 if symbols else 0), len(cg.outputs),
                              offset)
    # two-lane vectors (SSE float64, simd="none"): O3 unrolls strided gathers into
    # code that took the code generator 15 s (pooling windows); O2 takes 0.1 s
    speed = 2 if gen.width <= 2 else 3
    dkey = disk_cache.entry_key(["arrays", hashlib.sha256(text.encode()).hexdigest(),
                                 f"O{speed}", "no-lsr" if symbols else "lsr"],
                                h.cpu, h.features_text, h.llvm_version)
    names = [f"step{k}" for k in range(len(steps))] + (["threaded"] if steps else [])
    obj = disk_cache.load(dkey) if use_disk else None
    cm = None
    if obj is not None:
        try:
            cm = CompiledModule(obj, ok, source="disk", array=True, functions=names)
        except Exception:  # noqa: BLE001 - a bad entry is rebuilt
            cm = None
    if cm is None:
        # (run-time strides: LLVM's loop strength reduction costs more than it gives)
        obj, opt_ir = compile_ir(text, speed_level=speed, strength_reduction=not symbols)
        cm = CompiledModule(obj, ok, source="compiled", optimized_ir=opt_ir, array=True,
                            functions=names)
        if use_disk:
            disk_cache.store(dkey, obj)
    return Program(cg, plan, cm, text, steps, symbols)


def _tree(structure):
    if isinstance(structure, int):
        return lambda outs: outs[structure]
    subs = [_tree(s) for s in structure]
    return lambda outs: tuple([f(outs) for f in subs])


class ArrayLLVMKernel(LLVMKernel):
    """:class:`~.jit.LLVMKernel` of an array graph (what ``LLVMKernel(graph)`` and
    :func:`graphc.compile` return for one; not constructed directly): compiled for the
    first sizes it is called with (constant sizes), then once for sizes read at run
    time, again only for sizes that break one of that program's guards
    (:data:`RUNTIME_SIZES`, :func:`build_generic_program`; per binding when the graph
    needs constant sizes), cached in the one in-memory cache of :mod:`.jit` and on
    disk.

    Call it with the graph's inputs by position or keyword, as arrays of the declared
    shapes (any real dtype; converted to the graph's). Returns the outputs arranged like
    ``graph.structure``: arrays of each output's shape (NumPy scalars for 0-d ones).

    Options (see :class:`~.jit.LLVMKernel`): ``simd``, ``cache``; ``threads``: loop
    nests whose estimated single-thread time reaches :data:`PARALLEL_MIN_NS` have their
    outermost loop (after collapsing contiguous dimensions; SIMD blocks for one
    dimension) split over up to that many threads (default
    :func:`graphc.get_num_threads`), smaller ones and reductions into one accumulator
    run on the calling thread; matrix products of at least :data:`BLAS_THREADS_MIN`
    multiply-adds use the BLAS's own threads. ``blas``: call SciPy's BLAS for matrix
    products of at least :data:`GEMM_BLAS_MIN` multiply-adds (default: when SciPy is
    installed); False lowers every matrix product to loops.

    Raises:
        LoweringError: an op this backend does not lower.
        InputError / ShapeError (on call): inputs of the wrong shape.
    """

    is_array = True

    def __init__(self, graph: Graph, simd: str | None = None, cache: bool = True,
                 threads: int | None = None, blas: bool | None = None):
        from .jit import host
        for n in graph.nodes:
            if not supports(n.prim):
                raise LoweringError(f"the LLVM backend cannot lower {n.prim.name} "
                                    f"(llvm={n.prim.llvm!r})")
        if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
            raise GraphcError(f"threads must be a whole number >= 1, got {threads!r}")
        self.graph = graph
        self.simd = vecmath.resolve_level(simd, host().features)
        self.use_disk_cache = cache
        self.blas = blas
        self.threads = None if threads is None else int(threads)
        self._programs: dict[tuple, Program] = {}      # by sizes: one-thread programs
        self._programs_mt: dict[tuple, Program] = {}   # by sizes: for several threads
        self._lock = threading.Lock()
        self._tree = _tree(graph.structure)
        self._n_in = len(graph.inputs)
        self._index = {x.name: i for i, x in enumerate(graph.inputs)}
        self._dtypes = tuple(np.dtype(NP_DTYPES[x.dtype]) for x in graph.inputs)
        self._last: tuple | None = None
        self._fixed_sizes = False
        self._sizes_seen: set[tuple] = set()   # bindings this kernel was called with
        self._generic: list[Program] = []   # its programs of run-time sizes

    def __repr__(self) -> str:
        return (f"<graphc LLVM kernel ({', '.join(self.graph.input_names)}) -> "
                f"({', '.join(self.graph.output_names)}), arrays, simd={self.simd}>")

    @property
    def width(self) -> int:
        """SIMD lanes of the innermost loop blocks."""
        dtype = "float64" if any(n.dtype == "float64" for n in self.graph.nodes) \
            else "float32"
        return max(2, vecmath.lanes(self.simd, dtype))

    def _nthreads(self) -> int:
        return self.threads or _threads.get_num_threads()

    def program(self, env: dict[str, int], parallel: bool | None = None) -> Program:
        """The compiled program for the sizes ``env`` (compiled on first use); with
        ``parallel`` (default: more than one thread allowed) it carries the per-step
        functions the threads run."""
        if parallel is None:
            parallel = self._nthreads() > 1
        key = env_key(env)
        programs = self._programs_mt if parallel else self._programs
        prog = programs.get(key)
        if prog is None:
            with self._lock:
                prog = programs.get(key)
                if prog is None:
                    # the symbolic shapes checked for these sizes (the errors of a
                    # compilation per binding); the first sizes get a program of their
                    # own (constant sizes: the fastest code, compiled fastest), later
                    # ones the program compiled for every size (one compilation for
                    # all of them whose guards hold)
                    concrete_shapes(self.graph, env)
                    first = not self._sizes_seen or self._sizes_seen == {key}
                    self._sizes_seen.add(key)
                    if not first:
                        prog = self._generic_program(env, parallel)
                if prog is None:
                    prog = build_program(self.graph, env, self.simd, self.use_disk_cache,
                                         self.blas, parallel)
                programs[key] = prog
                if not prog.steps:  # too small for threads: the one-thread program
                    self._programs[key] = prog
        return prog

    def _generic_program(self, env: dict[str, int], parallel: bool) -> Program | None:
        """The program compiled once for every batch size (:func:`build_generic_program`)
        valid for ``env``, or None: no symbolic sizes, :data:`RUNTIME_SIZES` off, or a
        site of the planner or code generator that needs a constant size (then this
        kernel compiles per binding from now on)."""
        if not env or not RUNTIME_SIZES or self._fixed_sizes:
            return None
        for prog in self._generic:   # this kernel's own (kept over clear_cache)
            if prog.serves(env, parallel):
                return prog
        try:
            prog = build_generic_program(self.graph, env, self.simd, self.use_disk_cache,
                                         self.blas, parallel)
            if prog not in self._generic:
                self._generic.append(prog)
            return prog
        except Exception:  # noqa: BLE001 - compiled per binding instead
            logging.getLogger("graphc").debug(
                "array kernel compiled per binding of its sizes", exc_info=True)
            self._fixed_sizes = True
            return None

    def llvm_ir(self, scalar_inputs: Sequence[bool] | None = None,
                optimized: bool = False, **sizes: int) -> str:
        """The LLVM IR of the (one-thread) program for the symbol sizes given
        (``B=32``); ``optimized``: after LLVM's optimisation passes. ``scalar_inputs``
        is accepted for uniformity with elementwise kernels and ignored."""
        prog = self.program(dict(sizes), parallel=False)
        if optimized:
            if prog.module.optimized_ir is not None:
                return prog.module.optimized_ir
            from .jit import compile_ir
            return compile_ir(prog.llvm_ir, speed_level=2 if self.width <= 2 else 3)[1]
        return prog.llvm_ir

    def warm_up(self, scalar_inputs: Sequence[bool] | None = None,
                **sizes: int) -> "ArrayLLVMKernel":
        """Compile (or load) the program for the sizes given now."""
        self.program(dict(sizes))
        return self

    def specialization(self, pattern=None, **sizes: int):
        """The compiled module of the program for the sizes given."""
        return self.program(dict(sizes)).module

    def bind(self, *args: Any, out: Any = None, **kwargs: Any):
        """A callable evaluating on these inputs (and ``out``) each time it is called
        (the arrays are read again on every call)."""
        return lambda: self(*args, out=out, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate on inputs by position or keyword (see the class docstring).

        Args:
            out: optional arrays to write the outputs into, arranged like the result
                (or flat, one per output), each of its output's shape and a dtype the
                output casts to (``same_kind``); they are returned. The outputs are
                computed into separate buffers first, so ``out`` may overlap the
                inputs (NumPy's ufunc semantics).

        Raises:
            InputError: wrong inputs, class labels that are not integers in
                ``[0, C)``, or bad ``out`` arrays.
            ShapeError: shapes that fail a node's shape rule on the bound sizes.
        """
        out = None
        if kwargs:
            out = kwargs.pop("out", None)
            if kwargs:  # by keyword (GradBench's tools, k(P=P, C=C)): in input order
                ordered = self._by_keyword(args, kwargs)
                if ordered is not None:
                    args, kwargs = ordered, {}
        nthreads = self._nthreads()
        last = self._last
        if last is not None and not kwargs and out is None and len(args) == self._n_in \
                and last[2] == nthreads:
            shapes, prog, _, env = last
            for a, dt, s in zip(args, self._dtypes, shapes):
                if type(a) is not np.ndarray or a.dtype is not dt or a.shape != s or \
                        not a.flags.c_contiguous:
                    break
            else:
                return self._finish(prog(args, nthreads, env))
        arrays, env = bind_array_inputs(self.graph, args, kwargs)
        arrays = [np.ascontiguousarray(a) for a in arrays]
        prog = self.program(env, nthreads > 1)
        if not kwargs and len(args) == self._n_in:
            self._last = (tuple(a.shape for a in arrays), prog, nthreads, env)
        if out is None:
            return self._finish(prog(arrays, nthreads, env))
        targets = output_targets(out, prog._bind(env)[0], prog.out_dtypes)
        for t, o in zip(targets, prog(arrays, nthreads, env)):
            np.copyto(t, o, casting="same_kind")
        return self._tree(targets)

    def _finish(self, outs: list[np.ndarray]) -> Any:
        return self._tree([o[()] if o.ndim == 0 else o for o in outs])


def compile(graph: Graph, **options) -> LLVMKernel:  # noqa: A001
    """Compile an array graph: :func:`.jit.compile` (one kernel class for every graph)."""
    return LLVMKernel(graph, **options)


__all__ = ["ArrayLLVMKernel", "LOWERED", "PARALLEL_MIN_NS", "Plan", "Program",
           "StepInfo", "blas_functions", "build_program", "compile", "is_array_graph",
           "specialize", "supports"]
