"""Lowering: a graph to the LLVM IR of a batched elementwise kernel.

The kernel has the C signature::

    void kernel(int64_t start, int64_t end, void **inputs, void **outputs,
                int64_t flags)

and evaluates every output at the flat indices ``start <= i < end``. ``inputs[k]`` points
to input k's data: a contiguous array of the input's dtype, or (for an input marked
*scalar* in the lowering's ``pattern``) a single value that is loaded once, before the
loop (loop-invariant hoisting by construction). ``outputs[j]`` points to contiguous
output arrays. Value and every partial are computed in the same loop iteration, so
memory is traversed once. ``flags`` bit 0 asks a kernel lowered with ``streaming`` for
non-temporal stores (see :func:`lower`); other bits are zero.

Two loop forms:

* ``width == 1`` (scalar): one element per iteration; LLVM's loop vectoriser may widen
  the arithmetic, transcendental functions are scalar C library calls.
* ``width > 1`` (SIMD): every value is an LLVM vector of ``width`` lanes and the
  transcendental functions are calls to glibc's libmvec (see :mod:`.vecmath`). Full
  blocks of ``width`` elements are read and written in place; the last, partial block
  is copied into zero-filled stack buffers, run through *the same* loop body and copied
  back. Each element therefore goes through exactly the same instructions wherever it
  sits in the array, so results do not depend on the array length, on the split of a
  batch between threads, or on alignment.

Each primitive's record names its lowering (``Primitive.llvm``):

* ``fadd`` ``fsub`` ``fmul`` ``fdiv`` ``fneg``: the IEEE instructions;
* ``llvm.<f>``: the intrinsic ``llvm.<f>.f64`` (``.f32``, ``.v8f64``...), or its libmvec
  function for ``exp log sin cos pow`` on vectors;
* a C library symbol (``tan``, ``asinh``...): a call to it (``tanf`` for float32), or to
  its libmvec variant on vectors;
* otherwise a key of :data:`COMPOSITE`, the table of ops lowered as short instruction
  sequences (``sigmoid``, ``relu``, ``select``, comparisons...).

No fast-math flags are set, so arithmetic follows IEEE 754 like NumPy's; the accuracy of
the transcendental functions is that of the C library or of libmvec (documented in
``docs/performance.md``).
"""

from __future__ import annotations

import functools
import math
import struct
from typing import Callable, Sequence

from llvmlite import ir

from ...ir import Graph, LoweringError, Node, Primitive, postorder
from ...ir.extent import Extent
from ..lowering_rules import divide_rule, pow_rule
from .fastir import FastBuilder, TypeNames
from .vecmath import LOWERING_TO_C, VectorLibrary

LIBM = {"tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "log1p", "expm1",
        "asinh", "acosh", "atanh", "cbrt", "erf", "erfc", "atan2", "hypot"}
"""C library functions a primitive may name as its lowering."""

INSTRUCTIONS = {"fadd", "fsub", "fmul", "fdiv", "fneg"}

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType()
FAST_BUILDER = True
"""Build elementwise kernels with :class:`.fastir.FastBuilder` (same module text as
``llvmlite.ir.IRBuilder``, several times faster); False: with ``IRBuilder``."""


def _builder(block: ir.Block):
    return FastBuilder(block) if FAST_BUILDER else ir.IRBuilder(block)


def float_type(dtype: str) -> ir.Type:
    return ir.DoubleType() if dtype == "float64" else ir.FloatType()


def _scalar_of(ty: ir.Type) -> ir.Type:
    return ty.element if isinstance(ty, ir.VectorType) else ty


def _dtype_of(ty: ir.Type) -> str:
    return "float64" if isinstance(_scalar_of(ty), ir.DoubleType) else "float32"


def _suffix(ty: ir.Type) -> str:
    base = "f64" if isinstance(_scalar_of(ty), ir.DoubleType) else "f32"
    return f"v{ty.count}{base}" if isinstance(ty, ir.VectorType) else base


class Emitter:
    """Helper handed to composite lowerings: the IR builder, constants of the current
    (scalar or vector) type, intrinsics and math functions.

    Args:
        module: the module being built.
        builder: positioned in the loop body.
        width: lanes per value (1: scalar).
        veclib: the vector library for ``width > 1`` (None: compute lane by lane).
        const_div: divide by constants with the FMA sequence of :func:`divide_by_constant`
            (needs a hardware FMA; only in the SIMD loop, whose body may branch).
    """

    def __init__(self, module: ir.Module, builder: ir.IRBuilder, width: int = 1,
                 veclib: VectorLibrary | None = None, const_div: bool = False):
        self.module = module
        self.b = builder
        self.width = width
        self.veclib = veclib
        self.const_div = const_div
        self.split_every = 0
        """Start a new basic block after every ``split_every`` operations (0: never; see
        :func:`lower`)."""
        self.const_table: dict | None = None
        self._functions: dict[str, ir.Function] = {}
        self.vector_calls: set[str] = set()
        self._types: dict[str, ir.Type] = {}
        self._type_names = TypeNames()
        self._tables: dict[int, tuple[ir.Type, ir.GlobalVariable]] = {}
        self.runtime_int = None
        """``runtime_int(extent) -> i64 value``: how the array code generator computes a
        size known only at run time (constants such as ``mean``'s ``N``); None where
        every size is a constant."""

    def type_for(self, dtype: str) -> ir.Type:
        ty = self._types.get(dtype)
        if ty is None:
            t = float_type(dtype)
            ty = self._types[dtype] = ir.VectorType(t, self.width) if self.width > 1 else t
        return ty

    def function(self, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
        fn = self._functions.get(name)
        if fn is None:
            fn = self.module.globals.get(name)
            if fn is None:
                fn = ir.Function(self.module, ir.FunctionType(ret, list(args)), name=name)
            self._functions[name] = fn
        return fn

    def const(self, ty: ir.Type, value: float) -> ir.Value:
        """``value`` as a value of ``ty`` (splat over the lanes of a vector type).

        In the SIMD loop, vector constants are loaded from a table of splatted vectors
        (see :meth:`finish_constants`) rather than written as immediates: with the JIT's
        large code model an immediate vector constant costs three instructions at each
        use (address, load, broadcast), whereas a load from the table folds into the
        arithmetic instruction as a memory operand.
        """
        if self.runtime_int is not None and isinstance(value, Extent):
            elem = ty.element if isinstance(ty, ir.VectorType) else ty
            v = self.b.sitofp(self.runtime_int(value), elem)
            if not isinstance(ty, ir.VectorType):
                return v
            one = self.b.insert_element(ir.Constant(ty, ir.Undefined), v,
                                        ir.Constant(ir.IntType(32), 0))
            return self.b.shuffle_vector(
                one, ir.Constant(ty, ir.Undefined),
                ir.Constant(ir.VectorType(ir.IntType(32), ty.count), [0] * ty.count))
        if isinstance(ty, ir.VectorType):
            if self.const_table is None:
                return ir.Constant(ty, [ir.Constant(ty.element, value)] * ty.count)
            tname = self._type_names.name(ty)
            key = (tname, struct.pack("<d", value))
            slots = self.const_table.setdefault(tname, (ty, {}))[1]
            slot = slots.get(key)
            if slot is None:
                splat = _splat_constant(_dtype_of(ty), ty.count, key[1])
                slot = slots[key] = (len(slots), splat)
            gv = self._const_global(ty)
            addr = self.b.gep(gv, [_index(slot[0])], inbounds=True, source_etype=ty)
            ld = self.b.load(addr, typ=ty)
            ld.align = ty.count * _size(ty.element)
            return ld
        return ir.Constant(ty, value)

    def _const_global(self, ty: ir.Type) -> ir.GlobalVariable:
        hit = self._tables.get(id(ty))
        if hit is not None:
            return hit[1]
        name = f"graphc_consts_{_suffix(ty)}"
        gv = self.module.globals.get(name)
        if gv is None:
            gv = ir.GlobalVariable(self.module, ir.ArrayType(ty, 1), name=name)
            gv.align = 64
        self._tables[id(ty)] = (ty, gv)
        return gv

    def finish_constants(self) -> None:
        """Give the constant tables their final contents. They stay writable globals
        of external linkage, so no pass folds the loads back into immediates."""
        for tname, (ty, slots) in (self.const_table or {}).items():
            gv = self._const_global(ty)
            ordered = sorted(slots.values(), key=lambda slot: slot[0])
            values = [splat for _, splat in ordered]
            gv.value_type = ir.ArrayType(ty, len(values))
            gv.initializer = ir.Constant(gv.value_type, values)

    def intrinsic(self, base: str, ty: ir.Type, *args: ir.Value) -> ir.Value:
        """Call ``<base>.<f64|f32|vNf64|vNf32>`` on same-typed arguments; transcendental
        intrinsics on vectors become libmvec calls (see :meth:`math`)."""
        if isinstance(ty, ir.VectorType) and base in LOWERING_TO_C:
            return self.math(LOWERING_TO_C[base], ty, *args)
        name = f"{base}.{_suffix(ty)}"
        fn = self.function(name, ty, [ty] * len(args))
        return self.b.call(fn, list(args))

    def math(self, c_name: str, ty: ir.Type, *args: ir.Value) -> ir.Value:
        """The C math function ``c_name`` (``exp``, ``tan``...) of ``args``: a scalar
        libm call, a libmvec call on a vector, or lane-by-lane libm calls on a vector
        when libmvec lacks the variant."""
        if not isinstance(ty, ir.VectorType):
            return self.libm(c_name, ty, *args)
        dtype = _dtype_of(ty)
        sym = self.veclib.symbol(c_name, dtype, ty.count) if self.veclib else None
        if sym is not None:
            self.vector_calls.add(sym)
            fn = self.function(sym, ty, [ty] * len(args))
            return self.b.call(fn, list(args))
        out = ir.Constant(ty, ir.Undefined)
        for lane in range(ty.count):
            idx = ir.Constant(I32, lane)
            parts = [self.b.extract_element(a, idx) for a in args]
            out = self.b.insert_element(out, self.libm(c_name, ty.element, *parts), idx)
        return out

    def libm(self, name: str, ty: ir.Type, *args: ir.Value) -> ir.Value:
        """Call the scalar C library's ``name`` (``namef`` for float32); vectors go
        through :meth:`math`."""
        if isinstance(ty, ir.VectorType):
            return self.math(name, ty, *args)
        sym = name if isinstance(ty, ir.DoubleType) else name + "f"
        fn = self.function(sym, ty, [ty] * len(args))
        return self.b.call(fn, list(args))

    def select_cmp(self, pred: str, a, b, yes, no):
        return self.b.select(self.b.fcmp_ordered(pred, a, b) if pred != "!="
                             else self.b.fcmp_unordered(pred, a, b), yes, no)


@functools.lru_cache(maxsize=4096)
def _index(k: int) -> ir.Constant:
    """The i64 constant ``k`` (shared: constants have no parent)."""
    return ir.Constant(I64, k)


@functools.lru_cache(maxsize=4096)
def _splat_constant(dtype: str, count: int, packed: bytes) -> ir.Constant:
    """The vector constant of ``count`` lanes of ``dtype``, each the double packed in
    ``packed`` (shared between modules: building one costs more than a whole
    instruction)."""
    ty = ir.VectorType(float_type(dtype), count)
    return ir.Constant(ty, [ir.Constant(ty.element, struct.unpack("<d", packed)[0])] * count)


@functools.lru_cache(maxsize=64)
def _int_splat(bits: int, count: int, value: int) -> ir.Constant:
    """The vector constant of ``count`` ``i<bits>`` lanes, each ``value``."""
    return ir.Constant(ir.VectorType(ir.IntType(bits), count), [value] * count)


def _sign(e: Emitter, ty, x):
    one, mone, zero = e.const(ty, 1.0), e.const(ty, -1.0), e.const(ty, 0.0)
    # np.sign: -1, +0 (for either zero: np.sign(-0.) = +0.) or 1; NaN stays NaN.
    nan_or_zero = e.b.select(e.b.fcmp_unordered("uno", x, x), x, zero)
    neg = e.b.select(e.b.fcmp_ordered("<", x, zero), mone, nan_or_zero)
    return e.b.select(e.b.fcmp_ordered(">", x, zero), one, neg)


def _np_minmax(pred: str):
    """NumPy's ``minimum`` (``pred`` ``"<"``) or ``maximum`` (``">"``): ``x`` where
    ``x pred y`` or ``x`` is NaN, else ``y``. Ties, ``-0`` against ``+0`` included, give
    the second argument (``np.minimum(-0., 0.) = 0.``, ``np.maximum(0., -0.) = -0.``),
    unlike ``llvm.minimum``/``llvm.maximum``, which order ``-0 < +0``."""
    def emit(e: Emitter, ty, x, y):
        wins = e.b.or_(e.b.fcmp_ordered(pred, x, y), e.b.fcmp_unordered("uno", x, x))
        return e.b.select(wins, x, y)
    return emit


_minimum = _np_minmax("<")
_maximum = _np_minmax(">")


def _heaviside(e: Emitter, ty, x):
    return e.b.select(e.b.fcmp_ordered(">", x, e.const(ty, 0.0)), e.const(ty, 1.0),
                      e.const(ty, 0.0))


def _sigmoid(e: Emitter, ty, x):
    denom = e.b.fadd(e.const(ty, 1.0), e.math("exp", ty, e.b.fneg(x)))
    return e.b.fdiv(e.const(ty, 1.0), denom)


def _logistic_pdf(e: Emitter, ty, x):
    """σ(x)·σ(-x) as ``e/(1 + e)²``, ``e = exp(-|x|)`` (the NumPy reference's form)."""
    ex = e.math("exp", ty, e.b.fneg(e.intrinsic("llvm.fabs", ty, x)))
    d = e.b.fadd(e.const(ty, 1.0), ex)
    return e.b.fdiv(ex, e.b.fmul(d, d))


def _relu(e: Emitter, ty, x):
    # np.maximum(x, 0.): NaN propagates, relu(-0) = +0
    return _maximum(e, ty, x, e.const(ty, 0.0))


def _leaky_relu(e: Emitter, ty, x, *, alpha):
    return e.b.select(e.b.fcmp_ordered(">", x, e.const(ty, 0.0)), x,
                      e.b.fmul(e.const(ty, alpha), x))


def _elu(e: Emitter, ty, x, *, alpha):
    neg_part = e.b.fmul(e.const(ty, alpha), e.math("expm1", ty, x))
    return e.b.select(e.b.fcmp_ordered(">", x, e.const(ty, 0.0)), x, neg_part)


def _softplus(e: Emitter, ty, x):
    pos = _maximum(e, ty, x, e.const(ty, 0.0))
    tail = e.math("log1p", ty, e.math("exp", ty,
                                      e.b.fneg(e.intrinsic("llvm.fabs", ty, x))))
    return e.b.fadd(pos, tail)


def _select(e: Emitter, ty, c, a, b):
    return e.b.select(e.b.fcmp_unordered("!=", c, e.const(ty, 0.0)), a, b)


def _compare(pred: str, ordered: bool = True):
    def emit(e: Emitter, ty, a, b):
        cmp = e.b.fcmp_ordered(pred, a, b) if ordered else e.b.fcmp_unordered(pred, a, b)
        return e.b.select(cmp, e.const(ty, 1.0), e.const(ty, 0.0))
    return emit


def _mod(e: Emitter, ty, x, y):
    """NumPy's ``remainder`` (``npy_divmod``): ``r = fmod(x, y)`` (LLVM's ``frem``),
    plus ``y`` where ``r`` is nonzero and its sign differs from ``y``'s; a zero result
    takes ``y``'s sign; NaN for ``y = 0`` or infinite ``x``."""
    zero = e.const(ty, 0.0)
    r = e.b.frem(x, y)
    differ = e.b.xor(e.b.fcmp_ordered("<", r, zero), e.b.fcmp_ordered("<", y, zero))
    moved = e.b.select(differ, e.b.fadd(r, y), r)
    signed_zero = e.intrinsic("llvm.copysign", ty, zero, y)
    return e.b.select(e.b.fcmp_ordered("==", r, zero), signed_zero, moved)


def _clip(e: Emitter, ty, x, lo, hi):
    """NumPy's ``clip``: ``minimum(maximum(x, lo), hi)`` with NaN propagating."""
    return _minimum(e, ty, _maximum(e, ty, x, lo), hi)


def _logaddexp(e: Emitter, ty, x, y):
    """NumPy's ``npy_logaddexp``: ``x + ln 2`` where ``x == y`` (infinities included),
    else ``max + log1p(exp(-|x - y|))``; NaN stays NaN."""
    d = e.b.fsub(x, y)
    zero = e.const(ty, 0.0)
    pos = e.b.fadd(x, e.math("log1p", ty, e.math("exp", ty, e.b.fneg(d))))
    neg = e.b.fadd(y, e.math("log1p", ty, e.math("exp", ty, d)))
    res = e.b.select(e.b.fcmp_ordered(">", d, zero), pos,
                     e.b.select(e.b.fcmp_ordered("<=", d, zero), neg, d))
    tie = e.b.fadd(x, e.const(ty, math.log(2.0)))
    return e.b.select(e.b.fcmp_ordered("==", x, y), tie, res)


def _square(e: Emitter, ty, x):
    return e.b.fmul(x, x)


def _reciprocal(e: Emitter, ty, x):
    return e.b.fdiv(e.const(ty, 1.0), x)


COMPOSITE: dict[str, Callable] = {
    "sign": _sign,
    "minimum": _minimum,
    "maximum": _maximum,
    "heaviside": _heaviside,
    "sigmoid": _sigmoid,
    "logistic_pdf": _logistic_pdf,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softplus": _softplus,
    "select": _select,
    "fcmp_olt": _compare("<"),
    "fcmp_ole": _compare("<="),
    "fcmp_ogt": _compare(">"),
    "fcmp_oge": _compare(">="),
    "fcmp_oeq": _compare("=="),
    "fcmp_une": _compare("!=", ordered=False),
    "mod": _mod,
    "clip": _clip,
    "logaddexp": _logaddexp,
    "square": _square,
    "reciprocal": _reciprocal,
}
"""Lowerings of ops that are short instruction sequences, keyed by ``Primitive.llvm``.
Each takes ``(emitter, type, *argument values, **params)``; ``type`` may be a vector
type, so build constants with ``emitter.const`` and call functions through
``emitter.intrinsic`` / ``emitter.math``."""


def supports(prim: Primitive) -> bool:
    """True when this backend can lower ``prim`` (used by the registry-walking test)."""
    name = prim.llvm
    if name is None:
        return False
    return (name in ("input", "const") or name in INSTRUCTIONS or name in COMPOSITE
            or name in LIBM or name.startswith("llvm."))


def _pow(e: Emitter, ty, node: Node, a, b):
    """``a ** b``; a constant exponent as :func:`..lowering_rules.pow_rule` decides:
    ``x*x`` for 2, ``llvm.powi`` for the other small integers (LLVM expands it into
    the same multiplication chain), ``sqrt`` with NumPy's or C99's edge values."""
    exponent = node.args[1]
    if exponent.is_const:
        rule = pow_rule(float(exponent.value), _dtype_of(ty))
        if rule.kind in ("one", "chain"):
            n = int(exponent.value)
            if n == 2:
                return e.b.fmul(a, a)
            fn = e.function(f"llvm.powi.{_suffix(ty)}.i32", ty, [ty, I32])
            return e.b.call(fn, [a, ir.Constant(I32, n)])
        if rule.kind == "sqrt":
            return e.intrinsic("llvm.sqrt", ty, a)
        if rule.kind == "sqrt_c99":
            # pow(x, 0.5) = sqrt(x) except pow(-0, .5) = +0 and pow(-inf, .5) = +inf
            # (C99 F.9.4.4): adding +0 turns -0 into +0, and -inf is selected.
            root = e.b.fadd(e.intrinsic("llvm.sqrt", ty, a), e.const(ty, 0.0))
            return e.b.select(e.b.fcmp_ordered("==", a, e.const(ty, float("-inf"))),
                              e.const(ty, float("inf")), root)
    return e.intrinsic("llvm.pow", ty, a, b)


def divide_by_constant(e: Emitter, ty, a, c: float):
    """``a / c`` for a constant ``c``, bit-identical to the IEEE division ``fdiv``.

    Division has a fraction of the throughput of multiplication (one 8-lane ``vdivpd``
    per 16 cycles on recent Intel cores), and ``(x - mu) / sigma`` is everywhere in
    statistics, so dividing by a constant gets a cheaper, still correctly rounded, path:

    * ``c`` a power of two: ``a * (1/c)`` (both are the exact ``a·2^-k`` rounded once);
    * otherwise, with ``y = RN(1/c)`` (a constant): ``q0 = RN(a·y)``, one Newton
      correction ``q1 = RN(q0 + RN(a - c·q0)·y)`` brings ``q1`` within one ulp of
      ``a/c``; then ``r = a - c·q1`` is exact with an FMA and ``q2 = RN(q1 + r·y)`` is
      the correctly rounded quotient by Markstein's theorem (P. Markstein, "Computation
      of elementary functions on the IBM RISC System/6000 processor", IBM J. Res. Dev.
      34(1), 1990; J.-M. Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd ed.,
      §4.9 and §11.3), which needs ``y`` within half an ulp of ``1/c`` and no underflow
      or overflow.

    When any lane has ``a/c`` outside the range where the theorem's assumptions hold
    (and for zeros, infinities and NaN), the whole vector is divided with ``fdiv``
    instead (a branch, almost never taken on real data).
    Without ``e.const_div`` (scalar loops, CPUs without FMA) this is plain ``fdiv``.
    """
    dtype = _dtype_of(ty)
    rule = divide_rule(c, dtype)
    if rule.kind == "mul":
        return e.b.fmul(a, e.const(ty, rule.recip))
    if rule.kind == "div" or not e.const_div or not isinstance(ty, ir.VectorType):
        return e.b.fdiv(a, e.const(ty, c))
    b = e.b
    lo, hi = rule.lo, rule.hi
    Y, C = e.const(ty, rule.recip), e.const(ty, rule.c)
    fma = e.function(f"llvm.fma.{_suffix(ty)}", ty, [ty, ty, ty])
    q0 = b.fmul(a, Y)
    r0 = b.call(fma, [b.fneg(q0), C, a])
    q1 = b.call(fma, [r0, Y, q0])
    r1 = b.call(fma, [b.fneg(q1), C, a])
    fast = b.call(fma, [r1, Y, q1])
    # lo <= |q0| <= hi, as one unsigned compare on the bits (zero, inf and NaN fail it
    # and take the exact division)
    bits = 64 if dtype == "float64" else 32
    ity = ir.VectorType(ir.IntType(bits), ty.count)
    to_bits = (lambda v: struct.unpack("<Q", struct.pack("<d", v))[0]) if bits == 64 \
        else (lambda v: struct.unpack("<I", struct.pack("<f", v))[0])
    mag = b.and_(b.bitcast(q0, ity), _int_splat(bits, ty.count, (1 << (bits - 1)) - 1))
    span = b.sub(mag, _int_splat(bits, ty.count, to_bits(lo)))
    inside = b.icmp_unsigned("<=", span,
                             _int_splat(bits, ty.count, to_bits(hi) - to_bits(lo)))
    mty = ir.VectorType(I1, ty.count)
    reduce_and = e.function(f"llvm.vector.reduce.and.v{ty.count}i1", I1, [mty])
    all_ok = b.call(reduce_and, [inside])
    fn = b.block.function
    here = b.block
    slow = fn.append_basic_block(name="div_slow")
    join = fn.append_basic_block(name="div_join")
    br = b.cbranch(all_ok, join, slow)
    br.set_weights([1 << 20, 1])  # the slow path is cold: keep it out of line
    b.position_at_end(slow)
    exact = b.fdiv(a, C)
    b.branch(join)
    b.position_at_end(join)
    phi = b.phi(ty)
    phi.add_incoming(fast, here)
    phi.add_incoming(exact, slow)
    return phi


def emit_node(e: Emitter, node: Node, args: list[ir.Value]) -> ir.Value:
    """Emit the instructions computing ``node`` from its arguments' values (converted
    to the node's dtype first when a float32 argument meets a float64 one)."""
    prim = node.prim
    name = prim.llvm
    ty = e.type_for(node.dtype)
    args = [a if a.type is ty or a.type == ty else e.b.fpext(a, ty) for a in args]
    params = dict(node.params)
    if prim.name == "pow":
        return _pow(e, ty, node, *args)
    if name == "fdiv" and node.args[1].is_const and not isinstance(node.args[1].value, Extent):
        return divide_by_constant(e, ty, args[0], float(node.args[1].value))
    if name in INSTRUCTIONS:
        return getattr(e.b, name)(*args)
    if name in COMPOSITE:
        return COMPOSITE[name](e, ty, *args, **params)
    if name is not None and name.startswith("llvm."):
        return e.intrinsic(name, ty, *args)
    if name in LIBM:
        return e.math(name, ty, *args)
    raise LoweringError(f"the LLVM backend cannot lower {prim.name} (llvm={name!r}); "
                        f"add it to graphc/backends/llvm/lower.py's COMPOSITE table")


def check_lowerable(graph: Graph) -> None:
    """Raise LoweringError unless every node is elementwise and has a lowering."""
    for n in graph.nodes:
        if n.shape != ():
            raise LoweringError(f"the LLVM backend lowers elementwise graphs; node "
                                f"{n!r} has shape {n.shape}")
        if not supports(n.prim):
            raise LoweringError(f"the LLVM backend cannot lower {n.prim.name} "
                                f"(llvm={n.prim.llvm!r})")


def _splat(b: ir.IRBuilder, value: ir.Value, width: int) -> ir.Value:
    vty = ir.VectorType(value.type, width)
    one = b.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, width), [0] * width))


def lower(graph: Graph, scalar_inputs: Sequence[bool], name: str = "kernel", *,
          width: int = 1, veclib: VectorLibrary | None = None, const_div: bool = False,
          streaming: bool = False, split_every: int = 0,
          decorate: Callable[[ir.Module, ir.Function], None] | None = None) -> ir.Module:
    """Lower ``graph`` to an LLVM module with one kernel function ``name``.

    Args:
        graph: a graph whose nodes are all elementwise (scalar shapes broadcast).
        scalar_inputs: per input, True if it is passed as one value (hoisted).
        name: the symbol of the kernel function.
        width: lanes per loop iteration (1: the scalar loop; >1: the SIMD loop, see
            the module docstring).
        veclib: the vector math library for the SIMD loop (None: transcendental
            functions lane by lane through the scalar C library).
        const_div: in the SIMD loop, divide by constants without ``fdiv`` (see
            :func:`divide_by_constant`; the target must have FMA instructions).
        streaming: in the SIMD loop, also emit non-temporal stores of full blocks, used
            when bit 0 of the kernel's ``flags`` argument is set (x86 only; the caller
            guarantees 64-byte aligned blocks).
        split_every: end the basic block after every ``split_every`` operations and
            continue in a new one (0: one block). The operations are the same; for
            giant kernels generated at O0 this halves code generation, whose fast
            register allocator and instruction selection grow faster than linearly
            with the length of a block.
        decorate: optional hook to add attributes / metadata.

    Raises:
        LoweringError: an op without an LLVM lowering, or a non-scalar node shape.
    """
    check_lowerable(graph)
    if len(scalar_inputs) != len(graph.inputs):
        raise LoweringError("scalar_inputs needs one flag per input")
    if width > 1:
        module = _lower_simd(graph, scalar_inputs, name, width, veclib, const_div,
                             streaming, split_every)
    else:
        module = _lower_scalar(graph, scalar_inputs, name, split_every)
    if decorate is not None:
        decorate(module, module.globals[name])
    return module


def _kernel_function(module: ir.Module, name: str):
    fnty = ir.FunctionType(ir.VoidType(), [I64, I64, PTR, PTR, I64])
    fn = ir.Function(module, fnty, name=name)
    for a, nm in zip(fn.args, ("start", "end", "inputs", "outputs", "flags")):
        a.name = nm
    for a in fn.args[2:4]:
        a.add_attribute("noalias")
    set.add(fn.attributes, "nounwind")
    return fn


def _pointers(b: ir.IRBuilder, base: ir.Value, count: int, label: str) -> list[ir.Value]:
    out = []
    for k in range(count):
        slot = b.gep(base, [ir.Constant(I64, k)], inbounds=True, source_etype=PTR)
        out.append(b.load(slot, typ=PTR, name=f"{label}{k}_ptr"))
    return out


def _emit_body(e: Emitter, graph: Graph, values: dict[int, ir.Value],
               order: Sequence[Node] | None = None) -> None:
    """Emit every operation, in depth-first post-order from the outputs (each
    subexpression finished before the next starts, which keeps fewer values alive
    across the vector-library calls than the level order of ``graph.nodes``), with each
    constant materialised at its use (in the SIMD loop a load that folds into the
    instruction using it)."""

    _emit_nodes(e, postorder(graph.outputs) if order is None else order, values)
    for o in graph.outputs:
        if o.is_const:
            values[id(o)] = e.const(e.type_for(o.dtype), o.value)


def _emit_nodes(e: Emitter, nodes: Sequence[Node], values: dict[int, ir.Value]) -> None:
    """Emit the operations among ``nodes`` (in order) not yet in ``values``."""

    def value(a: Node) -> ir.Value:
        if a.is_const:
            return e.const(e.type_for(a.dtype), a.value)
        return values[id(a)]

    every, count = e.split_every, 0
    for n in nodes:
        if id(n) in values or n.is_const or n.is_input:
            continue
        values[id(n)] = emit_node(e, n, [value(a) for a in n.args])
        if every:
            count += 1
            if count % every == 0:
                nxt = e.b.block.function.append_basic_block("split")
                e.b.branch(nxt)
                e.b.position_at_end(nxt)


def _emit_invariants(e: Emitter, graph: Graph, values: dict[int, ir.Value],
                     scalar_inputs: Sequence[bool],
                     order: Sequence[Node] | None = None) -> None:
    """Emit, before the loop, every operation that depends only on scalar inputs and
    constants (loop-invariant code motion done by the lowering, which also covers the
    vector-library calls that LLVM's LICM may not move)."""
    invariant = {id(x) for x, s in zip(graph.inputs, scalar_inputs) if s}
    todo = []
    for n in postorder(graph.outputs) if order is None else order:
        if n.is_const:
            invariant.add(id(n))
        elif n.args and all(id(a) in invariant for a in n.args):
            invariant.add(id(n))
            todo.append(n)
    _emit_nodes(e, todo, values)


def _lower_scalar(graph: Graph, scalar_inputs: Sequence[bool], name: str,
                  split_every: int = 0) -> ir.Module:
    module = ir.Module(name=f"graphc_{name}")
    fn = _kernel_function(module, name)
    start, end, in_ptrs, out_ptrs, _flags = fn.args
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    exit_ = fn.append_basic_block("exit")
    b = _builder(entry)
    e = Emitter(module, b)
    e.split_every = split_every

    data_ptrs = _pointers(b, in_ptrs, len(graph.inputs), "in")
    scalars = {}
    for k, x in enumerate(graph.inputs):
        if scalar_inputs[k]:
            scalars[x] = b.load(data_ptrs[k], typ=float_type(x.dtype), name=x.name)
    outs = _pointers(b, out_ptrs, len(graph.outputs), "out")
    b.cbranch(b.icmp_signed("<", start, end), loop, exit_)

    b.position_at_end(loop)
    i = b.phi(I64, name="i")
    i.add_incoming(start, entry)
    values: dict[int, ir.Value] = {}
    for k, x in enumerate(graph.inputs):
        if x in scalars:
            values[id(x)] = scalars[x]
        else:
            ty = float_type(x.dtype)
            addr = b.gep(data_ptrs[k], [i], inbounds=True, source_etype=ty)
            values[id(x)] = b.load(addr, typ=ty, name=x.name)
    _emit_body(e, graph, values)
    for j, o in enumerate(graph.outputs):
        ty = float_type(o.dtype)
        addr = b.gep(outs[j], [i], inbounds=True, source_etype=ty)
        b.store(_convert(b, values[id(o)], ty), addr)
    nxt = b.add(i, ir.Constant(I64, 1), name="i_next", flags=("nsw",))
    i.add_incoming(nxt, b.block)
    b.cbranch(b.icmp_signed("<", nxt, end), loop, exit_)
    b.position_at_end(exit_)
    b.ret_void()
    return module


def _convert(b: ir.IRBuilder, v: ir.Value, ty: ir.Type) -> ir.Value:
    return v if v.type == ty else b.fpext(v, ty)


def _lower_simd(graph: Graph, scalar_inputs: Sequence[bool], name: str, width: int,
                veclib: VectorLibrary | None, const_div: bool = False,
                streaming: bool = False, split_every: int = 0) -> ir.Module:
    module = ir.Module(name=f"graphc_{name}")
    fn = _kernel_function(module, name)
    bits = width * max(64 if n.dtype == "float64" else 32 for n in graph.nodes)
    # Keep the vectors whole (AVX-512 CPUs prefer 256-bit vectors by default, which
    # would split <8 x double> and change how libmvec's arguments are passed).
    for attr in (f'"prefer-vector-width"="{bits}"', f'"min-legal-vector-width"="{bits}"'):
        set.add(fn.attributes, attr)
    start, end, in_ptrs, out_ptrs, flags = fn.args
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    full_in = fn.append_basic_block("full_in")
    tail_in = fn.append_basic_block("tail_in")
    body = fn.append_basic_block("body")
    tail_out = fn.append_basic_block("tail_out")
    nxt_blk = fn.append_basic_block("next")
    exit_ = fn.append_basic_block("exit")
    b = _builder(entry)
    e = Emitter(module, b, width, veclib, const_div)
    e.split_every = split_every
    mask_ty = ir.VectorType(I1, width)

    # entry: data pointers; scalar inputs loaded and splatted once
    data_ptrs = _pointers(b, in_ptrs, len(graph.inputs), "in")
    outs = _pointers(b, out_ptrs, len(graph.outputs), "out")
    values: dict[int, ir.Value] = {}
    arrays = [k for k, x in enumerate(graph.inputs) if not scalar_inputs[k]]
    for k, x in enumerate(graph.inputs):
        if scalar_inputs[k]:
            values[id(x)] = _splat(b, b.load(data_ptrs[k], typ=float_type(x.dtype),
                                             name=x.name), width)
    lane_ids = ir.Constant(ir.VectorType(I64, width), list(range(width)))
    order = postorder(graph.outputs)
    _emit_invariants(e, graph, values, scalar_inputs, order)
    preheader = b.block
    b.cbranch(b.icmp_signed("<", start, end), loop, exit_)

    # loop head: a full block is loaded whole; the partial last block with masked
    # loads (absent lanes read as 1.0) and masked stores. Both feed the same body.
    b.position_at_end(loop)
    i = b.phi(I64, name="i")
    i.add_incoming(start, preheader)
    rem = b.sub(end, i, name="rem")
    full = b.icmp_signed(">=", rem, ir.Constant(I64, width), name="full")
    b.cbranch(full, full_in, tail_in)

    b.position_at_end(full_in)
    full_loads = {}
    for k in arrays:
        x = graph.inputs[k]
        ety = float_type(x.dtype)
        ld = b.load(b.gep(data_ptrs[k], [i], inbounds=True, source_etype=ety),
                    typ=ir.VectorType(ety, width), name=x.name)
        ld.align = _size(ety)
        full_loads[k] = ld
    b.branch(body)

    b.position_at_end(tail_in)
    mask = b.icmp_signed("<", lane_ids, _splat(b, rem, width), name="mask")
    tail_loads = {}
    for k in arrays:
        x = graph.inputs[k]
        ety = float_type(x.dtype)
        vty = ir.VectorType(ety, width)
        mload = e.function(f"llvm.masked.load.{_suffix(vty)}.p0", vty,
                           [PTR, I32, mask_ty, vty])
        tail_loads[k] = b.call(mload, [
            b.gep(data_ptrs[k], [i], inbounds=True, source_etype=ety),
            ir.Constant(I32, _size(ety)), mask, e.const(vty, 1.0)])
    b.branch(body)

    b.position_at_end(body)
    for k in arrays:
        x = graph.inputs[k]
        p = b.phi(full_loads[k].type, name=f"{x.name}_v")
        p.add_incoming(full_loads[k], full_in)
        p.add_incoming(tail_loads[k], tail_in)
        values[id(x)] = p
    e.const_table = {}
    _emit_body(e, graph, values, order)
    e.const_table, table = None, e.const_table
    results = [_convert(b, values[id(o)], ir.VectorType(float_type(o.dtype), width))
               for o in graph.outputs]
    b.cbranch(full, nxt_blk, tail_out)

    b.position_at_end(nxt_blk)
    if streaming:
        # bit 0 of flags: the caller checked that every output block is 64-byte aligned
        # and the batch large: write with non-temporal stores (no read-for-ownership)
        reg_blk = fn.append_basic_block("store")
        nt_blk = fn.append_basic_block("store_streaming")
        adv_blk = fn.append_basic_block("advance")
        stream = b.icmp_unsigned("!=", b.and_(flags, ir.Constant(I64, 1)),
                                 ir.Constant(I64, 0), name="stream")
        b.cbranch(stream, nt_blk, reg_blk)
        for blk, nt in ((reg_blk, False), (nt_blk, True)):
            b.position_at_end(blk)
            for j, o in enumerate(graph.outputs):
                ety = float_type(o.dtype)
                st = b.store(results[j], b.gep(outs[j], [i], inbounds=True,
                                                 source_etype=ety))
                if nt:
                    st.align = width * _size(ety)
                    st.set_metadata("nontemporal",
                                    module.add_metadata([ir.Constant(I32, 1)]))
                else:
                    st.align = _size(ety)
            b.branch(adv_blk)
        b.position_at_end(adv_blk)
    else:
        for j, o in enumerate(graph.outputs):
            ety = float_type(o.dtype)
            st = b.store(results[j], b.gep(outs[j], [i], inbounds=True, source_etype=ety))
            st.align = _size(ety)
    nxt = b.add(i, ir.Constant(I64, width), name="i_next", flags=("nsw",))
    i.add_incoming(nxt, b.block)
    b.cbranch(b.icmp_signed("<", nxt, end), loop, exit_)

    b.position_at_end(tail_out)
    mask = b.icmp_signed("<", lane_ids, _splat(b, rem, width), name="mask")
    for j, o in enumerate(graph.outputs):
        ety = float_type(o.dtype)
        vty = ir.VectorType(ety, width)
        mstore = e.function(f"llvm.masked.store.{_suffix(vty)}.p0", ir.VoidType(),
                            [vty, PTR, I32, mask_ty])
        b.call(mstore, [results[j], b.gep(outs[j], [i], inbounds=True, source_etype=ety),
                        ir.Constant(I32, _size(ety)), mask])
    b.branch(exit_)

    b.position_at_end(exit_)
    if streaming:  # order the non-temporal stores before the caller reads the results
        sfence = e.function("llvm.x86.sse.sfence", ir.VoidType(), [])
        b.call(sfence, [])
    b.ret_void()
    e.const_table = table
    e.finish_constants()
    e.const_table = None
    if e.vector_calls:
        _keep_used(module, [module.globals[s] for s in sorted(e.vector_calls)])
    return module


def _gep_in(block: ir.Block, base: ir.Value, index: ir.Value, ety: ir.Type) -> ir.Value:
    """A GEP placed at the end of ``block`` (before its terminator)."""
    b = ir.IRBuilder(block)
    b.position_before(block.terminator)
    return b.gep(base, [index], inbounds=True, source_etype=ety)


def _keep_used(module: ir.Module, functions: list[ir.Function]) -> None:
    """List the vector functions in ``@llvm.compiler.used`` so that no pass drops a
    declaration the code generator still needs."""
    arr_ty = ir.ArrayType(PTR, len(functions))
    gv = ir.GlobalVariable(module, arr_ty, name="llvm.compiler.used")
    gv.linkage = "appending"
    gv.section = "llvm.metadata"
    gv.initializer = ir.Constant(arr_ty, functions)


def _size(ty: ir.Type) -> int:
    """Bytes of a float (4) or double (8)."""
    return 8 if isinstance(ty, ir.DoubleType) else 4
