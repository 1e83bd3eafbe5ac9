"""The LLVM backend: graphs to batched CPU kernels through llvmlite.

``lower`` turns a graph into LLVM IR (SIMD loops calling glibc's libmvec, see
``vecmath``); ``jit`` optimises and compiles it, caches the machine code in memory and
on disk (``cache``) and wraps it as a callable kernel; ``threads`` splits large batches
across cores.

The thread and cache controls import no LLVM code, so ``graphc`` can re-export them
without loading llvmlite; everything else is imported on first use.
"""

from .threads import get_num_threads, set_dynamic_threads, set_num_threads

_LAZY = {
    "LLVMKernel": "jit", "compile": "jit", "emit_llvm_ir": "jit",
    "COMPOSITE": "lower", "lower": "lower", "supports": "lower",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def clear_cache() -> int:
    """Empty the in-memory cache of compiled kernels and delete the on-disk object cache
    (``$GRAPHC_CACHE_DIR``, default ``~/.cache/graphc``); returns the number of files
    removed. Kernels already compiled keep working."""
    import sys
    jit = sys.modules.get(f"{__name__}.jit")
    if jit is not None:
        jit.clear_memory_cache()
    from . import cache
    return cache.clear()


__all__ = ["COMPOSITE", "LLVMKernel", "clear_cache", "compile", "emit_llvm_ir",
           "get_num_threads", "lower", "set_dynamic_threads", "set_num_threads", "supports"]
