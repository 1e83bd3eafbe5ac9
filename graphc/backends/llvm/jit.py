"""Compiling lowered modules to machine code with llvmlite, caching it, and the kernel.

Recipes from ``../shared/TOOLCHAIN.md`` (llvmlite 0.50, LLVM 22): initialise the native
target and asm printer, optimise with the new pass manager, emit an object file for the
host CPU and load it into an MCJIT execution engine (so code generation runs once, and
the same bytes go to the on-disk cache of :mod:`.cache`); keep each engine alive as long
as its function addresses are in use (as SymPy's ``llvmjitcode`` does).

Calling a kernel from Python costs a few microseconds. Each module carries, besides the
kernel, a small *trampoline* ``kernel_py`` with CPython's ``METH_FASTCALL`` signature,
wrapped as a built-in function object: the interpreter calls it directly with the batch
bounds and the input and output arrays; it reads each array's data pointer (the field
right after the object header of NumPy's ``PyArrayObject``, located once per process by
comparing with ``ndarray.ctypes.data``), releases the GIL for large batches, and calls the
kernel. Where that cannot be set up (another Python implementation), kernels are called
through ``ctypes`` instead (which also releases the GIL).

Caches: compiled modules are kept in memory, keyed by the graph's structure (the
process-independent :attr:`Node.key` of its inputs and outputs, the input names), the
pattern of scalar inputs and the SIMD level, so compiling an equal graph again costs a
dictionary lookup; and on disk (see :mod:`.cache`), so a new process loads the object
code in about a millisecond.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc as _pygc
import operator
import os
import struct
import sys
import threading
import time
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
from llvmlite import binding as llvm

from ...ir import Graph, GraphcError, InputError
from ..common import (NP_DTYPES, bind_arguments, bind_arrays,
                      chunked_handler, input_arrays, output_targets, overlaps)
from ..plan import element_cost
from . import cache as disk_cache
from .buffers import MIN_BYTES as POOL_MIN_BYTES
from .buffers import POOL
from . import threads as _threads
from . import vecmath
from .lower import check_lowerable, lower

KERNEL_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                                ctypes.c_void_p, ctypes.c_int64)
"""``kernel(start, end, inputs, outputs, flags)`` of elementwise graphs."""

ARRAY_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                               ctypes.c_void_p)
"""``kernel(start, end, inputs, outputs)`` of array graphs (and their per-step
functions ``step<k>``, see :mod:`.arrays`)."""

MEMORY_CACHE_SIZE = 512
"""Compiled modules kept in memory (least recently used dropped first)."""

CONST_DIV = os.environ.get("GRAPHC_CONST_DIV", "1") != "0"
"""Divide by constants with the exact FMA sequence (``GRAPHC_CONST_DIV=0``: ``fdiv``)."""

STREAM_MIN_OUTPUTS = 5
STREAM_MIN_BYTES = 16 << 20
"""Kernels with at least STREAM_MIN_OUTPUTS outputs write blocks of at least
STREAM_MIN_BYTES (all outputs together) with non-temporal stores: measured here, with
seven output streams ordinary stores fall to half the memory bandwidth (their
read-for-ownership traffic), while for kernels with few outputs and many function calls
non-temporal stores were no faster or slower."""

GIL_RELEASE_MIN = 4096
"""The trampoline releases the GIL for batches of at least this many elements."""

_init_lock = threading.Lock()
_compile_lock = threading.RLock()
_host: "Host | None" = None


class Host:
    """The host CPU as LLVM sees it, and its target machine (created once)."""

    def __init__(self):
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.cpu = llvm.get_host_cpu_name()
        feats = llvm.get_host_cpu_features()
        self.features_text = feats.flatten()
        self.features = dict(feats)
        self.llvm_version = ".".join(map(str, llvm.llvm_version_info))
        self._target = llvm.Target.from_default_triple()
        self.triple = llvm.get_process_triple()
        self.tm = self.new_target_machine()
        self.data_layout = str(self.tm.target_data)
        self.best_level = vecmath.host_level(self.features)

    def fast_codegen_tm(self) -> "llvm.TargetMachine":
        """A target machine at O0 (fast instruction selection and register allocation)
        for giant kernels; created on first use."""
        tm = getattr(self, "_fast_tm", None)
        if tm is None:
            tm = self._target.create_target_machine(
                cpu=self.cpu, features=self.features_text, opt=0, reloc="default",
                codemodel="jitdefault")
            self._fast_tm = tm
        return tm

    def new_target_machine(self) -> "llvm.TargetMachine":
        """A target machine for the host CPU. An MCJIT engine takes ownership of (and
        frees) the one it is created with, so every engine gets its own."""
        return self._target.create_target_machine(
            cpu=self.cpu, features=self.features_text, opt=3, reloc="default",
            codemodel="jitdefault")


def host() -> Host:
    """The (lazily initialised, thread-safe) host description."""
    global _host
    if _host is None:
        with _init_lock:
            if _host is None:
                _host = Host()
    return _host


def target_machine() -> "llvm.TargetMachine":
    """The host target machine."""
    return host().tm


# ---------------------------------------------------------------------------------
# the METH_FASTCALL trampoline

_PY_FUNCTIONS = ("PyLong_AsSsize_t", "PyLong_FromSsize_t", "PyEval_SaveThread",
                 "PyEval_RestoreThread")
METH_FASTCALL = 0x0080
_py_setup: "tuple[bool, int] | None" = None


class _PyMethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


def _find_data_offset() -> int | None:
    """Byte offset of the data pointer in a NumPy array object, or None."""
    if sys.implementation.name != "cpython":
        return None
    found = None
    for a in (np.arange(3.0), np.empty(7, np.float32), np.zeros(())):
        words = struct.unpack("16Q", ctypes.string_at(id(a), 128))
        hits = [i for i, w in enumerate(words) if w == a.ctypes.data]
        if len(hits) != 1 or (found is not None and hits[0] * 8 != found):
            return None
        found = hits[0] * 8
    return found


def python_trampoline_setup() -> tuple[bool, int]:
    """``(available, data_offset)``: whether kernels get a fast-call trampoline here.
    Registers the CPython functions it calls with the JIT linker."""
    global _py_setup
    if _py_setup is None:
        with _init_lock:
            if _py_setup is None:
                ok, off = False, 0
                if os.environ.get("GRAPHC_NO_TRAMPOLINE", "") in ("", "0"):
                    offset = _find_data_offset()
                    try:
                        for name in _PY_FUNCTIONS:
                            addr = ctypes.cast(getattr(ctypes.pythonapi, name),
                                               ctypes.c_void_p).value
                            llvm.add_symbol(name, addr)
                        ok = offset is not None
                        off = offset or 0
                    except (AttributeError, TypeError):
                        ok = False
                _py_setup = (ok, off)
    return _py_setup


def trampoline_ir(n_in: int, n_out: int, data_offset: int, kernel: str = "kernel",
                  out_sizes: Sequence[int] = (), streaming: bool = False,
                  flags_arg: bool = False) -> str:
    """LLVM IR of ``<kernel>_py(self, args, nargs)``: ``args`` are ``start, end``
    (Python ints), then ``n_in`` input and ``n_out`` output NumPy arrays whose data
    pointers are read at ``data_offset``. Returns a new reference to the int 0, or -1
    when ``nargs`` is wrong (the Python caller guarantees types and sizes). With
    ``streaming``, asks the kernel for non-temporal stores (``flags`` = 1) when the
    outputs' blocks are 64-byte aligned and at least :data:`STREAM_MIN_BYTES` are
    written (``out_sizes``: bytes per element of each output). ``flags_arg``: the kernel
    takes the fifth ``flags`` argument (elementwise kernels do; the array backend's
    ``kernel(start, end, inputs, outputs)`` does not)."""
    lines = [
        "declare i64 @PyLong_AsSsize_t(ptr)",
        "declare ptr @PyLong_FromSsize_t(i64)",
        "declare ptr @PyEval_SaveThread()",
        "declare void @PyEval_RestoreThread(ptr)",
        # optnone: code generation at O3 cost 2.5-4.4 ms for this glue (as much as a
        # small kernel), at O0 about 1.6 ms; per-call time measured the same
        (f'define ptr @"{kernel}_py"(ptr %self, ptr %args, i64 %nargs) '
         'nounwind noinline optnone {'),
        "entry:",
        f"  %ok = icmp eq i64 %nargs, {2 + n_in + n_out}",
        "  br i1 %ok, label %go, label %bad",
        "bad:",
        "  %r0 = call ptr @PyLong_FromSsize_t(i64 -1)",
        "  ret ptr %r0",
        "go:",
        f"  %ins = alloca [{max(1, n_in)} x ptr]",
        f"  %outs = alloca [{max(1, n_out)} x ptr]",
        "  %o0 = load ptr, ptr %args",
        "  %start = call i64 @PyLong_AsSsize_t(ptr %o0)",
        "  %s1 = getelementptr inbounds ptr, ptr %args, i64 1",
        "  %o1 = load ptr, ptr %s1",
        "  %end = call i64 @PyLong_AsSsize_t(ptr %o1)",
    ]
    for k in range(n_in + n_out):
        arr, idx = ("ins", k) if k < n_in else ("outs", k - n_in)
        lines += [
            f"  %a{k} = getelementptr inbounds ptr, ptr %args, i64 {2 + k}",
            f"  %obj{k} = load ptr, ptr %a{k}",
            f"  %f{k} = getelementptr inbounds i8, ptr %obj{k}, i64 {data_offset}",
            f"  %d{k} = load ptr, ptr %f{k}",
            f"  %t{k} = getelementptr inbounds ptr, ptr %{arr}, i64 {idx}",
            f"  store ptr %d{k}, ptr %t{k}",
        ]
    lines.append("  %n = sub i64 %end, %start")
    extra = ", i64 %flags" if flags_arg else ""
    if streaming:
        per = sum(out_sizes)
        lines += [f"  %bytes = mul i64 %n, {per}",
                  f"  %large = icmp sge i64 %bytes, {STREAM_MIN_BYTES}",
                  "  %mis0 = add i64 0, 0"]
        for j, size in enumerate(out_sizes):
            k = n_in + j
            lines += [f"  %pi{j} = ptrtoint ptr %d{k} to i64",
                      f"  %off{j} = mul i64 %start, {size}",
                      f"  %ad{j} = add i64 %pi{j}, %off{j}",
                      f"  %mis{j + 1} = or i64 %mis{j}, %ad{j}"]
        lines += [f"  %low = and i64 %mis{len(out_sizes)}, 63",
                  "  %aligned = icmp eq i64 %low, 0",
                  "  %stream = and i1 %large, %aligned",
                  "  %flags = zext i1 %stream to i64"]
    else:
        lines.append("  %flags = add i64 0, 0")
    lines += [
        f"  %big = icmp sge i64 %n, {GIL_RELEASE_MIN}",
        "  br i1 %big, label %nogil, label %direct",
        "direct:",
        f'  call void @"{kernel}"(i64 %start, i64 %end, ptr %ins, ptr %outs{extra})',
        "  br label %done",
        "nogil:",
        "  %ts = call ptr @PyEval_SaveThread()",
        f'  call void @"{kernel}"(i64 %start, i64 %end, ptr %ins, ptr %outs{extra})',
        "  call void @PyEval_RestoreThread(ptr %ts)",
        "  br label %done",
        "done:",
        "  %r = call ptr @PyLong_FromSsize_t(i64 0)",
        "  ret ptr %r",
        "}",
    ]
    # on a line of its own: a module's text may end without a newline (after metadata)
    return "\n" + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------
# compiling

def kernel_width(graph: Graph, level: str) -> int:
    """Lanes per SIMD iteration: a full register of float64 if any node is float64,
    else of float32 (1 at level ``"none"``)."""
    dtype = "float64" if any(n.dtype == "float64" for n in graph.nodes) else "float32"
    return vecmath.lanes(level, dtype)


@contextlib.contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector while a module is built: the lowering
    creates one object per instruction and none is garbage until the module is printed,
    and the collections that the allocations would trigger took 40% of the lowering of
    a 10^5-node graph (0.8 of 2 s). Collection resumes (where it was enabled) after."""
    was = _pygc.isenabled()
    if was:
        _pygc.disable()
    try:
        yield
    finally:
        if was:
            _pygc.enable()


def kernel_ir(graph: Graph, pattern: Sequence[bool], level: str,
              trampoline: bool = True) -> str:
    """The LLVM IR text of ``graph``'s kernel for the given scalar-input pattern and
    SIMD level (plus the fast-call trampoline when available)."""
    h = host()
    width = kernel_width(graph, level)
    veclib = vecmath.VectorLibrary(level) if width > 1 else None
    const_div = width > 1 and bool(h.features.get("fma")) and CONST_DIV
    streaming = width > 1 and len(graph.outputs) >= STREAM_MIN_OUTPUTS
    with _gc_paused():
        ops = sum(1 for n in graph.nodes if n.args)
        mod = lower(graph, tuple(pattern), "kernel", width=width, veclib=veclib,
                    const_div=const_div, streaming=streaming,
                    split_every=SPLIT_BLOCK_OPS if ops >= SPLIT_MIN_OPS else 0)
        set.add(mod.globals["kernel"].attributes, "noinline")
        mod.triple = h.triple
        mod.data_layout = h.data_layout
        text = str(mod)
        # break the block <-> instruction reference cycles: the instructions are freed
        # here rather than by the collection that resuming starts (0.25 s at 10^5 nodes)
        for fn in mod.functions:
            for blk in fn.blocks:
                blk.instructions = []
                blk.terminator = None
        del mod
    ok, offset = python_trampoline_setup()
    if trampoline and ok:
        text += trampoline_ir(len(graph.inputs), len(graph.outputs), offset,
                              out_sizes=[8 if o.dtype == "float64" else 4
                                         for o in graph.outputs], streaming=streaming,
                              flags_arg=True)
    return text


LARGE_KERNEL_IR_CHARS = 1_500_000
"""Kernels whose LLVM IR text is longer (about 10,000 operations) are code-generated at
O0: compile time stays roughly linear for graphs of 10^5 nodes, at some run-time cost."""

SPLIT_MIN_OPS = 50_000
SPLIT_BLOCK_OPS = 1_000
"""Kernels of at least SPLIT_MIN_OPS operations (every one emits at least one
instruction line of 30 characters or more, so their IR is over
:data:`LARGE_KERNEL_IR_CHARS` and they are generated at O0) are lowered in basic blocks
of SPLIT_BLOCK_OPS operations: O0's instruction selection and fast register allocator
grow faster than linearly with a block's length (a 10^5-node gradient: 2.5 s in one
block, 1.1 s in blocks of 1,000 operations)."""


def optimize_module(mod: "llvm.ModuleRef", speed_level: int = 3) -> None:
    """Run the new pass manager's ``O<speed_level>`` pipeline (loop and SLP
    vectorisation on) over ``mod`` in place."""
    pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(host().tm, pto)
    pb.getModulePassManager().run(mod, pb)


def compile_ir(ir_text: str, optimize: bool = True,
               speed_level: int = 3, keep_ir: bool = True,
               strength_reduction: bool = True) -> tuple[bytes, str | None]:
    """Optimise (unless ``optimize`` is False; at ``O<speed_level>``) and code-generate
    ``ir_text``; returns ``(object file bytes, optimised IR text)`` (None for the text
    unless ``keep_ir``: printing the module costs about 5% of a cold compile, and
    :meth:`LLVMKernel.llvm_ir` regenerates the text when asked).

    SIMD kernels skip the IR pipeline: the lowering already emits vector code with
    loop invariants hoisted and common subexpressions shared, and measurements here
    showed the O1-O3 pipelines changing their run time by less than 1% while taking 40%
    of the compile time (37 of 90 ms for the 261-op mixture kernel). Scalar kernels need
    O3's loop vectoriser.

    ``strength_reduction=False`` turns off the code generator's loop strength reduction
    (LLVM's ``-disable-lsr``, a process-wide option set and reset under the compile
    lock) for array programs of run-time sizes: on their loops, whose strides are
    run-time values, it took 172 of 293 ms of code generation for the PINN step, and
    the kernels ran as fast without it (``benchmarks/runtime_sizes.py``).

    Raises:
        GraphcError: the IR does not verify (a bug in the lowering).
    """
    h = host()
    with _compile_lock:
        if not strength_reduction:
            llvm.set_option("", "--disable-lsr=true")
            try:
                return _compile_locked(h, ir_text, optimize, speed_level, keep_ir)
            finally:
                llvm.set_option("", "--disable-lsr=false")
        return _compile_locked(h, ir_text, optimize, speed_level, keep_ir)


def _compile_locked(h, ir_text: str, optimize: bool, speed_level: int,
                    keep_ir: bool) -> tuple[bytes, str | None]:
    """:func:`compile_ir`'s work, under its lock."""
    mod = llvm.parse_assembly(ir_text)
    try:
        mod.verify()
    except RuntimeError as exc:  # pragma: no cover - lowering bug
        raise GraphcError(f"internal error: invalid LLVM IR ({exc})") from None
    if len(ir_text) > LARGE_KERNEL_IR_CHARS:
        # Code generation at O3 grows faster than linearly with the size of the
        # one-block loop body (register allocation, scheduling): 28k ops took 6.3 s
        # at O3 and 0.8 s at O0. Giant kernels are generated at O0 instead.
        return h.fast_codegen_tm().emit_object(mod), str(mod) if keep_ir else None
    if optimize:
        optimize_module(mod, speed_level)
    return h.tm.emit_object(mod), str(mod) if keep_ir else None


class CompiledModule:
    """Machine code of one kernel in its own execution engine.

    Attributes:
        function: the kernel as a ctypes function: ``(start, end, inputs, outputs,
            flags)`` for elementwise graphs, ``(start, end, inputs, outputs)`` for array
            graphs (``array=True``).
        functions: the further functions named in ``functions`` (ctypes, array
            signature), by name.
        pyfunc: the fast-call trampoline ``(start, end, *inputs, *outputs)`` or None.
        object_code: the object file it was loaded from.
        source: ``"compiled"``, ``"disk"`` (object cache) or ``"memory"``.
        seconds: time spent compiling or loading it.
    """

    def __init__(self, object_code: bytes, trampoline: bool, source: str = "compiled",
                 optimized_ir: str | None = None, array: bool = False,
                 functions: Sequence[str] = ()):
        h = host()
        vecmath.load_into_llvm()
        python_trampoline_setup()
        with _compile_lock:
            engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""),
                                                h.new_target_machine())
            engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
            engine.finalize_object()
            self.address = engine.get_function_address("kernel")
            py_addr = engine.get_function_address("kernel_py") if trampoline else 0
            extra = {name: engine.get_function_address(name) for name in functions}
        if not self.address:
            raise GraphcError("internal error: the kernel symbol is missing from the "
                              "object code")
        self.engine = engine
        self.object_code = object_code
        self.optimized_ir = optimized_ir
        self.source = source
        self.seconds = 0.0
        self.array = array
        self.function = (ARRAY_CFUNC if array else KERNEL_CFUNC)(self.address)
        if not all(extra.values()):
            raise GraphcError("internal error: a step function is missing from the "
                              "object code")
        self.functions = {name: ARRAY_CFUNC(addr) for name, addr in extra.items()}
        self.pyfunc = None
        if py_addr:
            self._methoddef = _PyMethodDef(b"kernel_py", py_addr, METH_FASTCALL, None)
            new = ctypes.pythonapi.PyCFunction_NewEx
            new.restype = ctypes.py_object
            new.argtypes = [ctypes.POINTER(_PyMethodDef), ctypes.c_void_p,
                            ctypes.c_void_p]
            self.pyfunc = new(ctypes.byref(self._methoddef), None, None)

    def run(self, start: int, end: int, inputs: Sequence[np.ndarray],
            outputs: Sequence[np.ndarray]) -> None:
        """Evaluate elements ``start <= i < end`` of contiguous arrays (scalar inputs
        as 0-d arrays), GIL released for large batches."""
        if self.pyfunc is not None:
            self.pyfunc(start, end, *inputs, *outputs)
            return
        ins = (ctypes.c_void_p * max(1, len(inputs)))(*[a.ctypes.data for a in inputs])
        outs = (ctypes.c_void_p * max(1, len(outputs)))(*[o.ctypes.data for o in outputs])
        if self.array:
            self.function(start, end, ctypes.cast(ins, ctypes.c_void_p),
                          ctypes.cast(outs, ctypes.c_void_p))
        else:
            self.function(start, end, ctypes.cast(ins, ctypes.c_void_p),
                          ctypes.cast(outs, ctypes.c_void_p), 0)


_memory: "OrderedDict[tuple, CompiledModule]" = OrderedDict()
_memory_lock = threading.Lock()
memory_stats = {"hits": 0, "misses": 0}


def graph_key(graph: Graph) -> tuple:
    """The structural identity of a graph for caching: input names and keys, output
    keys (process-independent)."""
    return (tuple((x.name, x.key) for x in graph.inputs),
            tuple(o.key for o in graph.outputs))


def clear_memory_cache() -> None:
    """Forget every compiled module kept in memory, of elementwise and array graphs
    alike (one cache; kernels keep their own)."""
    with _memory_lock:
        _memory.clear()


def get_module(graph: Graph, pattern: tuple[bool, ...], level: str,
               use_disk: bool = True) -> CompiledModule:
    """The compiled module for ``graph`` with the scalar-input ``pattern`` at SIMD
    ``level``: from memory, else from the disk cache, else compiled (and stored in both).
    """
    key = (graph_key(graph), pattern, level)
    with _memory_lock:
        cm = _memory.get(key)
        if cm is not None:
            _memory.move_to_end(key)
            memory_stats["hits"] += 1
            return cm
        memory_stats["misses"] += 1
    t0 = time.perf_counter()
    h = host()
    trampoline = python_trampoline_setup()[0]
    gk = graph_key(graph)
    parts = ["graph", repr(gk), "pattern", "".join("s" if p else "a" for p in pattern),
             "level", level, "trampoline", repr(python_trampoline_setup()),
             "const_div", str(CONST_DIV),
             "streaming", f"{STREAM_MIN_OUTPUTS}:{STREAM_MIN_BYTES}"]
    dkey = disk_cache.entry_key(parts, h.cpu, h.features_text, h.llvm_version)
    cm = None
    if use_disk:
        obj = disk_cache.load(dkey)
        if obj is not None:
            try:
                cm = CompiledModule(obj, trampoline, source="disk")
            except Exception:  # noqa: BLE001 - a bad entry is rebuilt, never trusted
                cm = None
    if cm is None:
        obj, opt_ir = compile_ir(kernel_ir(graph, pattern, level, trampoline),
                                 optimize=kernel_width(graph, level) == 1, keep_ir=False)
        cm = CompiledModule(obj, trampoline, source="compiled", optimized_ir=opt_ir)
        if use_disk:
            disk_cache.store(dkey, obj)
    cm.seconds = time.perf_counter() - t0
    with _memory_lock:
        _memory[key] = cm
        while len(_memory) > MEMORY_CACHE_SIZE:
            _memory.popitem(last=False)
    return cm


# ---------------------------------------------------------------------------------
# the kernel object

_EXACT_INT = 1 << 24
"""Python ints of at most this magnitude take the fast path (exact in float32 and
float64, so converting them directly or through int64 gives the same value)."""

_MISSING = object()


def _tree_builder(structure):
    """A fast function arranging a flat list of outputs as ``structure``."""
    if isinstance(structure, int):
        return operator.itemgetter(structure)
    if all(isinstance(s, int) for s in structure):
        if len(structure) == 1:
            i = structure[0]
            return lambda outs: (outs[i],)
        return operator.itemgetter(*structure)
    if len(structure) == 2 and isinstance(structure[0], int):  # value_and_grad
        first, rest = structure[0], _tree_builder(structure[1])
        return lambda outs: (outs[first], rest(outs))
    subs = [_tree_builder(s) for s in structure]
    return lambda outs: tuple([f(outs) for f in subs])


class LLVMKernel:
    """A graph compiled to a batched CPU kernel.

    Call it with the graph's inputs by position or keyword: NumPy arrays or scalars of
    any real dtype and byte order (converted to the graph's dtype), broadcast against
    each other like a ufunc. Contiguous arrays of the graph's dtype and the broadcast
    shape are read in place; other arrays (strided, broadcast, other dtypes) are copied
    once; inputs of size 1 are passed as scalars and hoisted out of the loop. Returns the
    outputs arranged like ``graph.structure``: NumPy arrays of the broadcast shape
    (NumPy scalars when every input is a scalar). Batches large enough to pay for it are
    split across :func:`graphc.get_num_threads` threads.

    One machine-code specialisation is compiled per pattern of scalar/array inputs, on
    first use, and cached (in memory and on disk). For many calls on the same buffers,
    :meth:`bind` them once (see ``docs/performance.md``).

    The same class compiles array graphs (:func:`graphc.ir.shapes.is_array_graph`:
    matmul, reductions, declared shapes): constructing an ``LLVMKernel`` of one gives an
    instance of a private subclass (:mod:`.arrays`) that compiles fused loop nests per
    binding of the symbolic dimensions, with the same options and the same cache.

    Args:
        graph: any graph whose ops this backend lowers.
        simd: SIMD level (``"avx512"``, ``"avx2"``, ``"sse"``, ``"none"``; default:
            ``$GRAPHC_SIMD`` or the best the host supports).
        cache: use the on-disk object cache.
        threads: thread count for this kernel (default: :func:`graphc.get_num_threads`).
        blas: array graphs: call SciPy's BLAS for large ``matmul`` (default: when SciPy
            is installed); False lowers every matrix product to loops. Elementwise
            graphs have no matrix products and accept it for uniformity.

    Raises:
        LoweringError: the graph has an op or shape this backend cannot lower.
        GraphcError: an unknown SIMD level, or ``threads`` not a whole number >= 1.
    """

    def __new__(cls, graph: Graph = None, *args: Any, **kwargs: Any):
        if cls is LLVMKernel and isinstance(graph, Graph):
            from ...ir.shapes import is_array_graph
            if is_array_graph(graph):
                from .arrays import ArrayLLVMKernel
                return object.__new__(ArrayLLVMKernel)
        return object.__new__(cls)

    def __init__(self, graph: Graph, simd: str | None = None, cache: bool = True,
                 threads: int | None = None, blas: bool | None = None):
        check_lowerable(graph)
        self.graph = graph
        self.simd = vecmath.resolve_level(simd, host().features)
        self.use_disk_cache = cache
        if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
            raise GraphcError(f"threads must be a whole number >= 1, got {threads!r}")
        self.threads = None if threads is None else int(threads)
        self.blas = blas
        self._compiled: dict[tuple[bool, ...], CompiledModule] = {}
        self._lock = threading.Lock()
        self._n_in = len(graph.inputs)
        self._in_dtypes = tuple(np.dtype(NP_DTYPES[x.dtype]) for x in graph.inputs)
        self._out_dtypes = tuple(np.dtype(NP_DTYPES[o.dtype]) for o in graph.outputs)
        self._tree = _tree_builder(graph.structure)
        self._all_arrays = (False,) * self._n_in
        self._index = {x.name: k for k, x in enumerate(graph.inputs)}
        self._all_scalars = (True,) * self._n_in
        self._scratch: list = []
        self._min_parallel = _parallel_threshold(graph)

    def __reduce__(self):
        # kernels travel by graph (to Dask workers, through pickle) and are compiled
        # again, or taken from the caches, where they land
        return (LLVMKernel, (self.graph, self.simd, self.use_disk_cache, self.threads,
                             self.blas))

    def __repr__(self) -> str:
        return (f"<graphc LLVM kernel ({', '.join(self.graph.input_names)}) -> "
                f"({', '.join(self.graph.output_names)}), simd={self.simd}>")

    is_array = False
    """True for kernels of array graphs (the :mod:`.arrays` subclass)."""

    @property
    def width(self) -> int:
        """Elements per loop iteration (SIMD lanes; 1 for scalar kernels)."""
        return kernel_width(self.graph, self.simd)

    def llvm_ir(self, scalar_inputs: Sequence[bool] | None = None,
                optimized: bool = False) -> str:
        """The kernel's LLVM IR (all inputs arrays unless ``scalar_inputs`` says)."""
        pattern = tuple(scalar_inputs) if scalar_inputs is not None else self._all_arrays
        if optimized:
            cm = self.specialization(pattern)
            if cm.optimized_ir is None:  # not kept (or loaded from a cache): regenerate
                cm.optimized_ir = compile_ir(kernel_ir(self.graph, pattern, self.simd),
                                             optimize=self.width == 1)[1]
            return cm.optimized_ir
        return kernel_ir(self.graph, pattern, self.simd, trampoline=False)

    def specialization(self, pattern: tuple[bool, ...]) -> CompiledModule:
        """The compiled module for a scalar-input pattern (compiled on first use)."""
        cm = self._compiled.get(pattern)
        if cm is None:
            with self._lock:
                cm = self._compiled.get(pattern)
                if cm is None:
                    cm = get_module(self.graph, pattern, self.simd, self.use_disk_cache)
                    self._compiled[pattern] = cm
        return cm

    def warm_up(self, scalar_inputs: Sequence[bool] | None = None) -> "LLVMKernel":
        """Compile (or load) a specialisation now rather than on the first call."""
        self.specialization(tuple(scalar_inputs) if scalar_inputs is not None
                            else self._all_arrays)
        return self

    def _run(self, cm: CompiledModule, n: int, ins, outs) -> None:
        nthreads = self.threads or _threads.get_num_threads()
        if nthreads > 1 and n >= self._min_parallel:
            parts = min(nthreads, max(1, n // (self._min_parallel // 2)))
            if parts > 1:
                work = n * 100_000 / self._min_parallel   # estimated ns (see below)
                _threads.run_chunks(lambda s, e: cm.run(s, e, ins, outs), n, parts,
                                    oversplit=_threads.oversplit_for(work, parts))
                return
        cm.run(0, n, ins, outs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate on inputs by position or keyword (see the class docstring).

        Args:
            out: optional arrays to write the outputs into, arranged like the result
                (or a flat sequence, one per output); each must have the broadcast shape
                and a dtype the output casts to safely. They are returned. An ``out``
                that may share memory with an input or another ``out``
                (``np.may_share_memory``) is written after the whole batch is computed,
                so overlapping views give what NumPy's ufuncs give.

        Raises:
            InputError: missing, unknown or non-numeric inputs, shapes that do not
                broadcast, or ``out`` arrays of the wrong number, shape or dtype.
        """
        out = None
        if kwargs:
            out = kwargs.pop("out", None)
            if kwargs:
                ordered = self._by_keyword(args, kwargs)
                if ordered is None:
                    return self._call_general(args, kwargs, out)
                args, kwargs = ordered, {}
        if len(args) != self._n_in:
            return self._call_general(args, kwargs, out)
        if out is None:
            for a in args:  # every input a Python or NumPy scalar: the scalar path
                ta = type(a)
                if not (ta is float or ta is np.float64 or ta is np.float32 or
                        (ta is int and -_EXACT_INT <= a <= _EXACT_INT)):
                    break
            else:
                if args:
                    return self._call_scalars(args)
        # fast path: each input a float (or small int), or an ndarray of the graph's
        # dtype that is C-contiguous of one common shape, or of size 1 (a scalar)
        ins = args
        pattern = None
        shape = shape1 = None
        k = 0
        for a, dt in zip(args, self._in_dtypes):
            ta = type(a)
            if ta is np.ndarray:
                if a.dtype is not dt:
                    break
                if shape is not None and a.shape == shape:  # size > 1, seen before
                    if not a.flags.c_contiguous:
                        break
                elif a.size == 1:
                    if pattern is None:
                        pattern, ins = [False] * self._n_in, list(args)
                    pattern[k] = True
                    if a.ndim:
                        if shape1 is None:
                            shape1 = a.shape
                        elif a.shape != shape1:
                            break
                elif shape is None and a.flags.c_contiguous:
                    shape = a.shape
                else:
                    break
            elif ta is float or ta is np.float64 or ta is np.float32 or \
                    (ta is int and -_EXACT_INT <= a <= _EXACT_INT):
                if pattern is None:
                    pattern, ins = [False] * self._n_in, list(args)
                ins[k] = np.array(a, dt)
                pattern[k] = True
            else:
                break
            k += 1
        else:
            if shape is None:
                shape = shape1 or ()
            elif shape1 is not None and len(shape1) > len(shape):
                return self._call_general(args, kwargs, out)
            n = 1
            for d in shape:
                n *= d
            pattern = self._all_arrays if pattern is None else tuple(pattern)
            cm = self._compiled.get(pattern) or self.specialization(pattern)
            if out is not None:
                return self._call_out(cm, n, shape, args, ins, out)
            if n * 8 < POOL_MIN_BYTES:   # small: plain arrays
                outs = [np.empty(shape, dt) for dt in self._out_dtypes]
            else:
                outs = [POOL.empty(shape, dt) for dt in self._out_dtypes]
            if n < self._min_parallel and cm.pyfunc is not None:
                if n:
                    cm.pyfunc(0, n, *ins, *outs)
            elif n:
                self._run(cm, n, ins, outs)
            if not shape:
                return self._tree([o[()] for o in outs])
            return self._tree(outs)
        return self._call_general(args, kwargs, out)

    def bind(self, *args: Any, out: Any = None, **kwargs: Any) -> "BoundCall":
        """Pre-bind inputs (and optionally ``out``) for calling the kernel many times
        on the same buffers (optimiser loops, benchmarks' repeated runs).

        Inputs are given as for :meth:`__call__`. The returned :class:`BoundCall`
        takes no arguments: each call reads the bound arrays' *current* contents (the
        caller may update them in place between calls), writes the same output arrays
        and returns them arranged like the result. Everything a normal call decides
        (broadcast shape, scalar pattern, specialisation, which arrays are read or
        written in place, which need a copy) is decided here once.

        Contract: the bound arrays stay the same objects with the same shape, strides
        and dtype; mutating their values in place is allowed. Values that are not NumPy
        arrays (Python floats, lists) are converted once and bound as constants. The
        outputs (the ``out`` arrays, else arrays allocated here) are overwritten by every
        call. A bound call is not thread-safe (its temporaries are shared).

        Raises:
            InputError: as :meth:`__call__` (missing, unknown or non-numeric inputs,
                shapes that do not broadcast, bad ``out`` arrays); the bound call raises
                it when a bound array's shape, strides or dtype changed since binding.
        """
        return BoundCall(self, args, kwargs, out)

    def _call_scalars(self, args: tuple) -> Any:
        """Every input a scalar: the values go into 0-d scratch arrays and the results
        come back as NumPy scalars (copies), so the scratch arrays are reused; a free
        list (``list.pop``/``append``, atomic) gives each concurrent call its own."""
        try:
            ins, outs = self._scratch.pop()
        except IndexError:
            ins = [np.empty((), dt) for dt in self._in_dtypes]
            outs = [np.empty((), dt) for dt in self._out_dtypes]
        for b, a in zip(ins, args):
            b[()] = a
        cm = self._compiled.get(self._all_scalars) or \
            self.specialization(self._all_scalars)
        if cm.pyfunc is not None:
            cm.pyfunc(0, 1, *ins, *outs)
        else:
            cm.run(0, 1, ins, outs)
        result = [o[()] for o in outs]
        self._scratch.append((ins, outs))
        return self._tree(result)

    def _by_keyword(self, args: tuple, kwargs: dict) -> tuple | None:
        """Inputs given (partly) by keyword, in input order; None (for the general
        path to report) when one is missing, unknown or given twice."""
        index = self._index
        if len(args) + len(kwargs) != self._n_in:
            return None
        values = list(args) + [_MISSING] * len(kwargs)
        for name, v in kwargs.items():
            i = index.get(name, -1)
            if i < len(args) or values[i] is not _MISSING:
                return None
            values[i] = v
        return tuple(values)

    def _call_out(self, cm: "CompiledModule", n: int, shape: tuple, args, ins,
                  out) -> Any:
        """The fast path's ``out=``: outputs written in place where that is safe (a
        C-contiguous writeable target of the output's dtype that shares no memory with
        an input or another target), else computed into a temporary and copied."""
        targets = output_targets(out, [shape] * len(self._out_dtypes), self._out_dtypes)
        arrays = [a for a in args if type(a) is np.ndarray]
        outs = []
        for k, dt in enumerate(self._out_dtypes):
            t = targets[k]
            if t.dtype is dt and t.flags.c_contiguous and not overlaps(t, arrays) and \
                    not overlaps(t, targets[:k] + targets[k + 1:]):
                outs.append(t)
            else:
                outs.append(POOL.empty(shape, dt))
        if n:
            if n < self._min_parallel and cm.pyfunc is not None:
                cm.pyfunc(0, n, *ins, *outs)
            else:
                self._run(cm, n, ins, outs)
        for t, o in zip(targets, outs):
            if t is not o:
                np.copyto(t, o, casting="same_kind")
        return self._tree(targets)

    def _call_general(self, args, kwargs, out=None) -> Any:
        g = self.graph
        chunked = chunked_handler((*args, *kwargs.values()))
        if chunked is not None:  # Dask arrays: chunk by chunk, lazily (graphc.interop)
            if out is not None:
                raise InputError("out= cannot be used with Dask arrays")
            return chunked(self, *args, **kwargs)
        arrays, shape = bind_arrays(g, args, kwargs)
        pattern = tuple(a.size == 1 for a in arrays)
        keep = []
        for k, a in enumerate(arrays):
            if pattern[k]:
                a = np.ascontiguousarray(a.reshape(()))
            elif a.shape != shape or not a.flags.c_contiguous:
                a = np.ascontiguousarray(np.broadcast_to(a, shape))
            keep.append(a)
        targets = _out_arrays(out, len(self._out_dtypes), shape, self._out_dtypes)
        outs = []
        for k, dt in enumerate(self._out_dtypes):
            t = targets[k] if targets is not None else None
            if t is not None and t.dtype == dt and t.flags.c_contiguous and \
                    t.flags.writeable and not overlaps(t, keep) and \
                    not overlaps(t, targets[:k] + targets[k + 1:]):
                outs.append(t)  # written in place
            else:
                # a separate buffer, copied into ``t`` after the kernel: as NumPy's
                # ufuncs do when ``out`` may share memory with an input (or another
                # ``out``), so every input is read before any output is written
                outs.append(POOL.empty(shape, dt))
        n = 1
        for d in shape:
            n *= d
        if n:
            self._run(self.specialization(pattern), n, keep, outs)
        if targets is not None:
            for t, o in zip(targets, outs):
                if t is not o:
                    np.copyto(t, o, casting="same_kind")
            return self._tree(targets)
        if shape == ():
            outs = [o[()] for o in outs]
        return self._tree(outs)


class BoundCall:
    """A kernel call with its arguments bound (see :meth:`LLVMKernel.bind`): calling it
    re-runs the kernel on the bound buffers and returns the outputs.

    Attributes:
        kernel: the :class:`LLVMKernel`.
        shape: the broadcast shape of the outputs.
        outputs: the output arrays, flat (the ``out`` arrays when given).
    """

    __slots__ = ("kernel", "shape", "outputs", "_checks", "_stage", "_after", "_args",
                 "_go", "_result", "_scalar", "_n")

    def __init__(self, kernel: "LLVMKernel", args: tuple, kwargs: dict, out: Any):
        g = kernel.graph
        if chunked_handler((*args, *kwargs.values())) is not None:
            raise InputError("bind() takes NumPy arrays or scalars, not Dask arrays")
        values = bind_arguments(g, args, kwargs, "kernel")
        arrays, shape = input_arrays(g, values)
        n = 1
        for d in shape:
            n *= d
        pattern = tuple(a.size == 1 for a in arrays)
        cm = kernel.specialization(pattern)
        checks, stage, ins, given = [], [], [], []
        for x, v, a, dt, scalar in zip(g.inputs, values, arrays, kernel._in_dtypes,
                                       pattern):
            if isinstance(v, np.ndarray):
                given.append(v)
                checks.append((v, v.shape, v.strides, v.dtype, f"input {x.name!r}"))
                if type(v) is np.ndarray and v.dtype is dt and \
                        (scalar or (v.shape == shape and v.flags.c_contiguous)):
                    ins.append(v)  # read in place at every call
                    continue
                src = v.reshape(()) if scalar else np.broadcast_to(v, shape)
                dst = np.empty((), dt) if scalar else np.empty(shape, dt)
                stage.append((dst, np.asarray(src)))
                ins.append(dst)
            else:  # a constant: converted once, into memory of its own
                ins.append(np.array(a.reshape(()) if scalar else np.broadcast_to(a, shape),
                                    dt, copy=True, order="C"))
        targets = output_targets(out, [shape] * len(kernel._out_dtypes),
                                 kernel._out_dtypes)
        outs, after = [], []
        for k, dt in enumerate(kernel._out_dtypes):
            if targets is None:
                outs.append(np.empty(shape, dt))
                continue
            t = targets[k]
            checks.append((t, t.shape, t.strides, t.dtype, f"out[{k}]"))
            others = targets[:k] + targets[k + 1:]
            if type(t) is np.ndarray and t.dtype is dt and t.flags.c_contiguous and \
                    not overlaps(t, given) and not overlaps(t, others):
                outs.append(t)
            else:  # computed into a temporary, then copied (as NumPy's ufuncs do)
                tmp = np.empty(shape, dt)
                outs.append(tmp)
                after.append((t, tmp))
        self.kernel = kernel
        self.shape = shape
        self.outputs = targets if targets is not None else outs
        self._checks = tuple(checks)
        self._stage = tuple(stage)
        self._after = tuple(after)
        self._n = n
        self._scalar = targets is None and shape == ()
        self._result = kernel._tree(self.outputs)
        if n == 0:
            self._go, self._args = _nothing, ()
        elif n < kernel._min_parallel and cm.pyfunc is not None:
            self._go, self._args = cm.pyfunc, (0, n, *ins, *outs)
        else:
            self._go, self._args = kernel._run, (cm, n, tuple(ins), tuple(outs))

    def __call__(self) -> Any:
        """Run the kernel on the bound arrays' current values; returns the outputs
        (the bound output arrays, arranged like the result; NumPy scalars when every
        input is a scalar and no ``out`` was bound).

        Raises:
            InputError: a bound array's shape, strides or dtype changed since binding.
        """
        for a, shape, strides, dt, _ in self._checks:
            if a.shape != shape or a.dtype is not dt or a.strides != strides:
                self._changed()
        for dst, src in self._stage:
            np.copyto(dst, src, casting="unsafe")
        self._go(*self._args)
        for t, o in self._after:
            np.copyto(t, o, casting="same_kind")
        if self._scalar:
            return self.kernel._tree([o[()] for o in self.outputs])
        return self._result

    def _changed(self):
        for a, shape, strides, dt, what in self._checks:
            if a.shape != shape or a.dtype is not dt or a.strides != strides:
                raise InputError(
                    f"bound {what} changed since bind(): it was {shape} {dt} (strides "
                    f"{strides}), it is now {a.shape} {a.dtype} (strides {a.strides}); "
                    "bound arrays may be updated in place but keep their shape and "
                    "dtype (call bind() again)")

    def __repr__(self) -> str:
        return f"<graphc bound call of {self.kernel!r}, shape {self.shape}>"


def _nothing(*_args) -> None:
    return None


def _out_arrays(out, n_out: int, shape: tuple, dtypes) -> list | None:
    """Flatten and check an ``out=`` argument (nested like the result, or flat), every
    output of the broadcast ``shape`` (see :func:`..numpy_interp.output_targets`)."""
    return output_targets(out, [shape] * n_out, dtypes)


def _parallel_threshold(graph: Graph) -> int:
    """Smallest batch worth splitting across threads: about 100 µs of single-thread
    work, from the per-element cost of the graph's ops (their records' ``cost``, see
    :func:`graphc.backends.plan.element_cost`; transcendental calls dominate)."""
    cost_ns = sum(element_cost(n.prim) for n in graph.nodes if n.args)
    cost_ns += 0.4 * (len(graph.inputs) + len(graph.outputs))  # memory traffic
    return max(8192, int(100_000 / max(cost_ns, 0.1)))


def compile(graph: Graph, *, simd: str | None = None, cache: bool = True,  # noqa: A001
            threads: int | None = None, blas: bool | None = None) -> LLVMKernel:
    """Compile ``graph`` for the host CPU (machine code is generated, or loaded from the
    caches, on first call per pattern of scalar/array inputs, or per binding of the
    symbolic dimensions of an array graph). See :class:`LLVMKernel` for the options and
    for calling; every option applies to every graph."""
    return LLVMKernel(graph, simd=simd, cache=cache, threads=threads, blas=blas)


def emit_llvm_ir(graph: Graph, optimized: bool = False, simd: str | None = None,
                 **sizes: int) -> str:
    """The LLVM IR of ``graph``'s kernel: for an elementwise graph with every input an
    array; for an array graph, its program for the symbolic dimensions bound by
    ``sizes`` (``n=32``; none needed when every shape is concrete).

    Raises:
        LoweringError: an op the backend cannot lower; ShapeError: an unbound or
            inconsistent dimension of an array graph.
    """
    k = LLVMKernel(graph, simd=simd, cache=False)
    if k.is_array:
        return k.llvm_ir(optimized=optimized, **sizes)
    return k.llvm_ir(optimized=optimized)


def clear_cache() -> int:
    """Empty the in-memory cache of compiled kernels and delete the on-disk cache
    (``$GRAPHC_CACHE_DIR``); returns the number of files removed."""
    clear_memory_cache()
    return disk_cache.clear()
