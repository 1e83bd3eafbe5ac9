"""The LLVM backend: graphs to batched CPU kernels through llvmlite.

``lower`` turns a graph into LLVM IR; ``jit`` optimises and compiles it and wraps the
machine code as a callable kernel.
"""

from .jit import LLVMKernel, compile, emit_llvm_ir
from .lower import COMPOSITE, lower, supports

__all__ = ["COMPOSITE", "LLVMKernel", "compile", "emit_llvm_ir", "lower", "supports"]
