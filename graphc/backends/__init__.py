"""Backends: the NumPy interpreter (reference semantics) and compiled kernels.

The LLVM backend (``graphc.backends.llvm``) imports llvmlite when first used; the CUDA
backend imports Numba only when asked for.
"""

from .numpy_interp import evaluate, evaluate_all

__all__ = ["evaluate", "evaluate_all"]
