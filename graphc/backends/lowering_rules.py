"""Backend-neutral lowering decisions for constant operands (no code generation here).

The LLVM and CUDA backends lower ``x ** c`` and ``a / c`` with a constant ``c`` to
cheaper instruction sequences than the general ``pow`` and division. *Which* sequence
is a property of the constant, the dtype and the reference semantics (the NumPy
interpreter), not of the target, so it is decided once, here; each backend only
writes the sequence in its own language:

* :func:`pow_rule` -- ``x ** c``: ``1``, ``x``, ``x*x``, a short multiplication chain
  (what ``llvm.powi`` with a constant expands to), ``sqrt`` (with NumPy's or C99's
  edge semantics, :func:`numpy_half_power_is_sqrt`), or the general ``pow``.
* :func:`divide_rule` -- ``a / c``: a multiplication by the exact reciprocal (``c`` a
  power of two), Markstein's FMA sequence with its proven range
  (:data:`DIV_BOUNDS`), or the plain division.

This module imports only the standard library and NumPy (for float32 rounding and
the probe of NumPy's ``x ** 0.5`` path). Both backends use it: the CUDA code writer
(:mod:`graphc.backends.cuda.arrays`) and the LLVM emitter
(:mod:`graphc.backends.llvm.lower`, which writes a chain as ``llvm.powi``: LLVM
expands a constant ``powi`` into the same multiplications).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

MAX_POWI = 4
"""``x ** n`` with a constant integer ``|n| <= MAX_POWI`` lowers to at most two
multiplications (and one division for ``n < 0``). Each multiplication rounds once, so
the result is within about ``|n|`` ulp of the correctly rounded power (NumPy's C
``pow`` is within 1 ulp); beyond 4 the error bound and the saving no longer justify it."""

DIV_BOUNDS = {"float64": (2.0 ** -100, 2.0 ** 100, 2.0 ** -850, 2.0 ** 850),
              "float32": (2.0 ** -20, 2.0 ** 20, 2.0 ** -80, 2.0 ** 80)}
"""Per dtype ``(cmin, cmax, lo, hi)``: the FMA division sequence is used for constants
with ``cmin <= |c| <= cmax``, and its result is taken when the first approximation
``|q0| = |RN(a*RN(1/c))|`` lies in ``[lo, hi]``; there every intermediate value is
normal and far from overflow, so Markstein's theorem applies (see :func:`divide_rule`).
Elsewhere (zeros, subnormal or huge quotients, inf, NaN) the plain division is used."""


@functools.lru_cache(maxsize=None)
def numpy_half_power_is_sqrt(dtype: str) -> bool:
    """Whether this NumPy evaluates ``x ** 0.5`` with a constant (broadcast) exponent by
    ``sqrt`` (NumPy 2.x's fast path: ``(-0) ** 0.5 = -0``, ``(-inf) ** 0.5 = NaN``)
    rather than by C ``pow`` (``+0`` and ``+inf``, C99 F.9.4.4). Probed, not assumed:
    the kernels follow the reference interpreter of the NumPy installed.

    Args:
        dtype: ``"float64"`` or ``"float32"``.
    """
    import numpy as np
    with np.errstate(all="ignore"):
        r = np.power(np.array([-0.0, -np.inf], dtype=dtype), np.array(0.5, dtype=dtype))
    return bool(np.signbit(r[0]) and np.isnan(r[1]))


@dataclass(frozen=True)
class PowRule:
    """How to lower ``x ** c`` for a constant ``c``.

    Attributes:
        kind: ``"one"`` (``c == 0``: 1, also for NaN ``x``, as C ``pow``), ``"chain"``
            (``x ** n`` by the multiplications in ``steps``, then ``1 / result`` when
            ``reciprocal``), ``"sqrt"`` (``sqrt(x)``), ``"sqrt_c99"`` (``sqrt(x) + 0``,
            and ``+inf`` for ``x = -inf``) or ``"pow"`` (the general function).
        steps: for ``"chain"``: pairs ``(i, j)``; step ``k`` computes
            ``v[k+1] = v[i] * v[j]`` with ``v[0] = x``; the result is the last value
            (``()`` for ``|n| = 1``: the result is ``x``).
        reciprocal: the exponent is negative (``1 / x**|n|``).
    """

    kind: str
    steps: tuple = ()
    reciprocal: bool = False


def _chain(n: int) -> tuple:
    """Square-and-multiply for ``x ** n``, ``n >= 1``, in the order LLVM expands
    ``llvm.powi`` with a constant exponent (SelectionDAG ``ExpandPowI``): squares
    ``x, x^2, x^4, ...``; the result multiplies the squares of the set bits of ``n``,
    lowest first."""
    steps: list = []
    square, result, count = 0, None, 0
    while n:
        if n & 1:
            if result is None:
                result = square
            else:
                steps.append((result, square))
                count += 1
                result = count
        n >>= 1
        if n:
            steps.append((square, square))
            count += 1
            square = count
    # keep only the steps the result depends on (a safeguard: the loop above does not
    # square past the highest set bit)
    return _prune(steps, result)


def _prune(steps: list, result: int) -> tuple:
    need = {result}
    for k in range(len(steps), 0, -1):
        if k in need:
            need.update(steps[k - 1])
    keep = [k for k in range(1, len(steps) + 1) if k in need]
    remap = {0: 0}
    out = []
    for new, k in enumerate(keep, 1):
        i, j = steps[k - 1]
        out.append((remap[i], remap[j]))
        remap[k] = new
    return tuple(out)


def pow_rule(exponent: float, dtype: str) -> PowRule:
    """The lowering of ``x ** exponent`` for a constant ``exponent``.

    Integer exponents with ``|n| <= MAX_POWI`` become multiplications (``x*x`` for 2:
    exactly NumPy's ``square`` fast path; other ``n`` within ``|n|`` ulp, with ``pow``'s
    signs and infinities for ``0``, ``-0``, ``inf`` since each step is an IEEE
    multiplication; ``x ** 0 = 1`` for every ``x`` including NaN, as C99 F.9.4.4).
    ``0.5`` becomes ``sqrt`` with the edge semantics of :func:`numpy_half_power_is_sqrt`.
    Everything else keeps the general ``pow``.

    Args:
        exponent: the constant exponent.
        dtype: the node's dtype, ``"float64"`` or ``"float32"``.

    Returns:
        A :class:`PowRule`.
    """
    v = float(exponent)
    if math.isfinite(v) and v.is_integer() and abs(v) <= MAX_POWI:
        n = int(v)
        if n == 0:
            return PowRule("one")
        return PowRule("chain", _chain(abs(n)), n < 0)
    if v == 0.5:
        return PowRule("sqrt" if numpy_half_power_is_sqrt(dtype) else "sqrt_c99")
    return PowRule("pow")


@dataclass(frozen=True)
class DivideRule:
    """How to lower ``a / c`` for a constant ``c``.

    Attributes:
        kind: ``"mul"`` (``a * recip``: ``c`` is a power of two, ``recip = 1/c``
            exactly), ``"fma"`` (Markstein's sequence, see :func:`divide_rule`) or
            ``"div"`` (the plain division).
        c: the divisor rounded to ``dtype``.
        recip: ``RN(1/c)`` in ``dtype`` (for ``"mul"`` and ``"fma"``).
        lo, hi: the range of ``|q0|`` where the ``"fma"`` result is taken.
    """

    kind: str
    c: float
    recip: float = 0.0
    lo: float = 0.0
    hi: float = 0.0


def _is_power_of_two(c: float) -> bool:
    m, _ = math.frexp(abs(c))
    return m == 0.5


def divide_rule(c: float, dtype: str) -> DivideRule:
    """The lowering of ``a / c`` for a constant ``c``, bit-identical to IEEE division.

    * ``c`` a power of two with ``cmin <= |c| <= cmax``: ``a * (1/c)``, both the exact
      ``a * 2^-k`` rounded once (:data:`DIV_BOUNDS`).
    * other ``c`` in that range, with ``y = RN(1/c)``: ``q0 = RN(a*y)``,
      ``q1 = fma(fma(-q0, c, a), y, q0)`` (within one ulp of ``a/c``), then
      ``q = fma(fma(-q1, c, a), y, q1)`` is the correctly rounded quotient by
      Markstein's theorem (P. Markstein, "Computation of elementary functions on the
      IBM RISC System/6000 processor", IBM J. Res. Dev. 34(1), 1990; J.-M. Muller et
      al., *Handbook of Floating-Point Arithmetic*, 2nd ed., §4.9), which needs ``y``
      within half an ulp of ``1/c`` and no underflow or overflow: the backend takes
      ``q`` when ``lo <= |q0| <= hi`` and divides (``a / c``) otherwise.
    * else (``c`` zero, infinite, NaN, tiny or huge): the plain division.

    Args:
        c: the constant divisor (a Python float; rounded to ``dtype`` here).
        dtype: ``"float64"`` or ``"float32"``.

    Returns:
        A :class:`DivideRule` (constants already rounded to ``dtype``).
    """
    import numpy as np
    t = np.float64 if dtype == "float64" else np.float32
    with np.errstate(over="ignore"):   # a float64 constant beyond float32 is inf
        c = float(t(c))
    if not math.isfinite(c) or c == 0.0:
        return DivideRule("div", c)
    cmin, cmax, lo, hi = DIV_BOUNDS[dtype]
    if not cmin <= abs(c) <= cmax:
        return DivideRule("div", c)
    recip = float(t(1.0) / t(c))
    if _is_power_of_two(c):
        return DivideRule("mul", c, recip)
    return DivideRule("fma", c, recip, lo, hi)
