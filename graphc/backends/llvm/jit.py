"""Compiling lowered modules to machine code with llvmlite, and the kernel object.

Recipes from ``../shared/TOOLCHAIN.md`` (llvmlite 0.50, LLVM 22): initialise the native
target and asm printer, optimise with the new pass manager at O3 with loop and SLP
vectorisation, JIT with MCJIT, and keep each execution engine alive as long as its
function address is in use (as SymPy's ``llvmjitcode`` does).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Sequence

import numpy as np
from llvmlite import binding as llvm

from ...ir import Graph, InputError
from ..common import NP_DTYPES, as_input_array, bind_arguments
from .lower import lower

_init_lock = threading.Lock()
_target_machine = None

KERNEL_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                                ctypes.c_void_p)


def new_target_machine() -> "llvm.TargetMachine":
    """A fresh host target machine. An MCJIT execution engine takes ownership of the
    target machine it is given, so every engine needs its own (sharing one crashes
    LLVM with std::bad_alloc on the second engine)."""
    with _init_lock:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
        opt=3, reloc="default", codemodel="jitdefault")


def target_machine() -> "llvm.TargetMachine":
    """The shared host target machine for optimisation passes (never given to an
    engine)."""
    global _target_machine
    if _target_machine is None:
        tm = new_target_machine()
        with _init_lock:
            if _target_machine is None:
                _target_machine = tm
    return _target_machine


def optimize_module(mod: "llvm.ModuleRef") -> None:
    """Run the O3 pipeline (loop and SLP vectorisation on) over ``mod`` in place."""
    tm = target_machine()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(tm, pto)
    pm = pb.getModulePassManager()
    pm.run(mod, pb)


class CompiledModule:
    """An execution engine with one kernel function; frees LLVM memory when collected."""

    def __init__(self, ir_text: str, name: str = "kernel"):
        tm = target_machine()
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        optimize_module(mod)
        self.optimized_ir = str(mod)
        self.engine = llvm.create_mcjit_compiler(mod, new_target_machine())
        self.engine.finalize_object()
        self.address = self.engine.get_function_address(name)
        self.function = KERNEL_CFUNC(self.address)


class LLVMKernel:
    """A graph compiled to a batched CPU kernel.

    Call it with the graph's inputs by position or keyword: NumPy arrays or scalars of
    any real dtype (converted to the graph's dtype), broadcast against each other like
    a ufunc. Contiguous arrays of the right dtype are read in place; other arrays are
    copied once; inputs of size 1 are passed as scalars. Returns the outputs arranged
    like ``graph.structure``: NumPy arrays of the broadcast shape (NumPy scalars when
    every input is a scalar).

    One machine-code specialisation is compiled per pattern of scalar/array inputs, on
    first use, and kept.
    """

    def __init__(self, graph: Graph):
        self.graph = graph
        self._compiled: dict[tuple[bool, ...], CompiledModule] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"<graphc LLVM kernel ({', '.join(self.graph.input_names)}) -> "
                f"({', '.join(self.graph.output_names)})>")

    def llvm_ir(self, scalar_inputs: Sequence[bool] | None = None,
                optimized: bool = False) -> str:
        """The kernel's LLVM IR (all inputs arrays unless ``scalar_inputs`` says)."""
        pattern = tuple(scalar_inputs) if scalar_inputs is not None else \
            (False,) * len(self.graph.inputs)
        if optimized:
            return self.specialization(pattern).optimized_ir
        return str(lower(self.graph, pattern))

    def specialization(self, pattern: tuple[bool, ...]) -> CompiledModule:
        cm = self._compiled.get(pattern)
        if cm is None:
            with self._lock:
                cm = self._compiled.get(pattern)
                if cm is None:
                    cm = CompiledModule(str(lower(self.graph, pattern)))
                    self._compiled[pattern] = cm
        return cm

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        g = self.graph
        bound = bind_arguments(g, args, kwargs)
        arrays = [as_input_array(v, x.name, x.dtype) for x, v in zip(g.inputs, bound)]
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        except ValueError:
            raise InputError("inputs cannot be broadcast together: " + ", ".join(
                f"{x.name} {a.shape}" for x, a in zip(g.inputs, arrays))) from None
        pattern = tuple(a.size == 1 for a in arrays)
        keep = []
        for k, a in enumerate(arrays):
            if pattern[k]:
                a = np.ascontiguousarray(a.reshape(()))
            elif a.shape != shape or not a.flags.c_contiguous:
                a = np.ascontiguousarray(np.broadcast_to(a, shape))
            keep.append(a)
        outs = [np.empty(shape, dtype=NP_DTYPES[o.dtype]) for o in g.outputs]
        n = int(np.prod(shape, dtype=np.int64))
        if n:
            cm = self.specialization(pattern)
            ins = (ctypes.c_void_p * max(1, len(keep)))(*[a.ctypes.data for a in keep])
            outp = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
            cm.function(0, n, ctypes.cast(ins, ctypes.c_void_p),
                        ctypes.cast(outp, ctypes.c_void_p))
        if shape == ():
            outs = [o[()] for o in outs]
        return g.output_tree(outs)


def compile(graph: Graph) -> LLVMKernel:  # noqa: A001 - mirrors graphc.compile
    """Compile ``graph`` for the host CPU (machine code is generated on first call per
    pattern of scalar/array inputs). See :class:`LLVMKernel` for calling."""
    return LLVMKernel(graph)


def emit_llvm_ir(graph: Graph, optimized: bool = False) -> str:
    """The LLVM IR of ``graph``'s kernel with every input an array."""
    return LLVMKernel(graph).llvm_ir(optimized=optimized)
