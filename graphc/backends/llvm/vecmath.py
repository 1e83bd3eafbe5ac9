"""SIMD transcendental functions for the LLVM backend: glibc's libmvec.

glibc ships vector variants of the C math functions in ``libmvec.so.1`` under the x86-64
vector function ABI names (``_ZGV<isa>N<lanes><v...>_<name>``, see "Vector Function
Application Binary Interface Specification for OpenMP SIMD", Intel 2015, and glibc's
``sysdeps/x86_64/fpu/``): ``_ZGVeN8v_exp`` takes and returns an ``<8 x double>`` in
``zmm0`` (AVX-512), ``_ZGVdN4v_exp`` a ``<4 x double>`` (AVX2), ``_ZGVbN2v_exp`` a
``<2 x double>`` (SSE), and the ``f`` functions twice as many ``float`` lanes. glibc
documents at most 4 ulp of error for them (``manual/math.texi``, "Errors in Math
Functions"); the figures measured here are in ``docs/performance.md``.

The lowering (:mod:`.lower`) writes the kernel loop over explicit LLVM vectors of the
width chosen here and calls these functions directly; an op whose function has no
variant is computed lane by lane with the scalar C library.

The instruction set is chosen from the host CPU's features at run time: AVX-512
(``avx512f``), else AVX2, else SSE2. Calling a variant the CPU lacks would be an illegal
instruction, so a variant is only ever used when the feature is reported. The
environment variable ``GRAPHC_SIMD`` (``avx512``, ``avx2``, ``sse``, ``none``) or the
``simd=`` option of :func:`graphc.compile` lowers the level (never above the host's);
``none`` gives scalar kernels (LLVM's loop vectoriser still vectorises arithmetic) that
call the scalar C library, which is also what a CPU without libmvec gets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from dataclasses import dataclass
from typing import Mapping

from ...ir import GraphcError

LIBMVEC_FUNCTIONS: dict[str, int] = {
    "exp": 1, "log": 1, "sin": 1, "cos": 1, "tan": 1, "pow": 2,
    "asin": 1, "acos": 1, "atan": 1, "sinh": 1, "cosh": 1, "tanh": 1,
    "log1p": 1, "expm1": 1, "asinh": 1, "acosh": 1, "atanh": 1, "cbrt": 1,
    "erf": 1, "erfc": 1, "atan2": 2, "hypot": 2, "exp2": 1, "log2": 1, "log10": 1,
}
"""C math functions that glibc's libmvec may provide, with their arity (checked per
symbol at run time: older glibc versions have only exp, log, sin, cos and pow)."""

LOWERING_TO_C: dict[str, str] = {
    "llvm.exp": "exp", "llvm.log": "log", "llvm.sin": "sin", "llvm.cos": "cos",
    "llvm.pow": "pow", "llvm.exp2": "exp2", "llvm.log2": "log2", "llvm.log10": "log10",
}
"""LLVM intrinsics (``Primitive.llvm`` names) whose vector form is a libmvec call."""


@dataclass(frozen=True)
class ISA:
    """One level of the x86-64 vector function ABI."""

    name: str        # the user-facing level: "avx512", "avx2", "sse"
    letter: str      # the ABI's ISA letter in the mangled name
    feature: str     # the LLVM host feature that must be present
    bits: int        # vector register width


ISAS = (ISA("avx512", "e", "avx512f", 512), ISA("avx2", "d", "avx2", 256),
        ISA("sse", "b", "sse2", 128))
"""Levels, best first. (The AVX-without-AVX2 letter ``c`` is not used.)"""

LEVELS = tuple(i.name for i in ISAS) + ("none",)
ENV_SIMD = "GRAPHC_SIMD"

_lock = threading.Lock()
_libmvec: ctypes.CDLL | None | bool = None
_loaded_into_llvm = False


def _open_libmvec() -> ctypes.CDLL | None:
    global _libmvec
    with _lock:
        if _libmvec is None:
            lib = None
            try:
                lib = ctypes.CDLL("libmvec.so.1")
            except OSError:
                name = ctypes.util.find_library("mvec")  # runs ldconfig: only if needed
                if name:
                    try:
                        lib = ctypes.CDLL(name)
                    except OSError:
                        lib = None
            _libmvec = lib if lib is not None else False
        return _libmvec or None


def load_into_llvm() -> bool:
    """Make libmvec's symbols visible to the JIT linker (once per process).

    Returns False when this system has no libmvec.
    """
    global _loaded_into_llvm
    lib = _open_libmvec()
    if lib is None:
        return False
    with _lock:
        if not _loaded_into_llvm:
            from llvmlite import binding as llvm
            llvm.load_library_permanently(lib._name)
            _loaded_into_llvm = True
    return True


def host_level(features: Mapping[str, bool]) -> str:
    """The best level (``"avx512"``, ``"avx2"``, ``"sse"`` or ``"none"``) that the CPU
    with LLVM host ``features`` (``{"avx512f": True, ...}``) and this system's C
    library support."""
    if _open_libmvec() is None:
        return "none"
    for isa in ISAS:
        if features.get(isa.feature, False):
            return isa.name
    return "none"


def resolve_level(requested: str | None, features: Mapping[str, bool]) -> str:
    """The level to compile for: ``requested`` (or ``$GRAPHC_SIMD``, else the host's
    best), capped at what the host supports.

    Raises:
        GraphcError: an unknown level name.
    """
    req = requested if requested is not None else os.environ.get(ENV_SIMD) or None
    best = host_level(features)
    if req is None or req == "auto":
        return best
    if req not in LEVELS:
        raise GraphcError(f"unknown SIMD level {req!r}; levels are "
                          f"{', '.join(LEVELS)} or auto")
    order = list(LEVELS)
    return order[max(order.index(req), order.index(best))]


def lanes(level: str, dtype: str) -> int:
    """Vector lanes of ``dtype`` at ``level`` (1 for ``"none"``)."""
    for isa in ISAS:
        if isa.name == level:
            return isa.bits // (64 if dtype == "float64" else 32)
    return 1


class VectorLibrary:
    """The libmvec variants available at one SIMD level on this host.

    Args:
        level: an entry of :data:`LEVELS` that the host supports (see
            :func:`resolve_level`).
    """

    def __init__(self, level: str):
        self.level = level
        self._allowed = [i for i in ISAS if LEVELS.index(i.name) >= LEVELS.index(level)] \
            if level != "none" else []
        self._cache: dict[tuple[str, str, int], str | None] = {}

    def symbol(self, c_name: str, dtype: str, width: int) -> str | None:
        """The libmvec symbol computing C function ``c_name`` on ``width`` lanes of
        ``dtype``, or None (no such variant on this host: compute lane by lane)."""
        key = (c_name, dtype, width)
        if key in self._cache:
            return self._cache[key]
        sym = None
        arity = LIBMVEC_FUNCTIONS.get(c_name)
        lib = _open_libmvec() if self._allowed else None
        if arity is not None and lib is not None:
            bits = width * (64 if dtype == "float64" else 32)
            for isa in self._allowed:
                if isa.bits == bits:
                    name = (f"_ZGV{isa.letter}N{width}{'v' * arity}_{c_name}"
                            f"{'' if dtype == 'float64' else 'f'}")
                    if hasattr(lib, name):
                        sym = name
                    break
        self._cache[key] = sym
        return sym
