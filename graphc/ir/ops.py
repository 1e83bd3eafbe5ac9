"""The primitives of graphc, one record each, and the builder functions over them.

Each ``register(Primitive(...))`` below is the single place where an operation is
defined: NumPy semantics, local partials, printing, parser names, test domain and the
names of its LLVM and CUDA lowerings. Adding an op means adding one record here (or
registering one at run time, ``graphc.ir.register``); an elementwise op with a
``decompose`` rule and no lowering names needs no backend code, one whose LLVM lowering
is not an instruction, intrinsic or C library call needs an entry in that backend's
table of composite lowerings (docs/adding_a_primitive.md, tests/core/test_register_op.py).

Derivative conventions at kinks (documented in ``docs/conventions.md``):
``abs'(0) = sign(0) = 0``, ``relu'(0) = heaviside(0) = 0``, ``max``/``min`` ties split
the derivative ½ to each argument (as JAX does), ``sqrt'(±0) = +inf``, ``log'(±0) = +inf``;
the partials of ``relu``, ``leaky_relu``, ``max``, ``min`` are NaN where the value is NaN.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .errors import ShapeError
from .extent import Extent
from .node import Node
from .primitive import Primitive, apply, leaf, register

# ---------------------------------------------------------------------------------
# leaves

def _no_impl(*_a, **_k):  # leaves are bound by the evaluator, never "computed"
    raise RuntimeError("leaf nodes have no implementation")


input_p = register(Primitive(
    "input", 0, _no_impl, "{name}", latex="{name}", llvm="input", cuda="input",
    param_names=("name",), differentiable=False, doc="a named graph input"))

const_p = register(Primitive(
    "const", 0, _no_impl, "{value}", latex="{value}", llvm="const", cuda="const",
    param_names=("value",), differentiable=False, doc="a literal constant"))


def variable(name: str, dtype: str = "float64", shape: tuple = ()) -> Node:
    """The input node named ``name`` (interned: one node per name, dtype and shape)."""
    if not isinstance(name, str) or not name:
        raise ShapeError(f"input names must be non-empty strings, got {name!r}")
    return leaf(input_p, {"name": name}, dtype, shape)


def const(value: float, dtype: str = "float64", shape: tuple = ()) -> Node:
    """A constant node of the given float value (stored as a Python float), or of the
    value of a size known only at run time (an :class:`~.extent.Extent`, when a backend
    compiles code for every batch size: ``mean``'s ``1/N``)."""
    if isinstance(value, Extent):
        return leaf(const_p, {"value": value}, dtype, shape)
    v = float(value)
    if dtype == "float32":
        v = float(np.float32(v))
    return leaf(const_p, {"value": v}, dtype, shape)


def lift(x, like: Node | None = None) -> Node:
    """``x`` as a node: nodes pass through, real numbers become constants of the
    dtype of ``like`` (float64 without one)."""
    if isinstance(x, Node):
        return x
    if isinstance(x, (Real, np.floating, np.integer)) and not isinstance(x, bool):
        return const(float(x), like.dtype if like is not None else "float64")
    raise TypeError(f"cannot use {x!r} ({type(x).__name__}) as a graph value")


def _lift2(a, b):
    if isinstance(a, Node):
        return a, lift(b, a)
    b = lift(b)
    return lift(a, b), b


def is_const(n: Node, value: float | None = None) -> bool:
    """True if ``n`` is a constant (equal to ``value`` when given)."""
    return n.is_const and (value is None or n.value == value)


# ---------------------------------------------------------------------------------
# builders used by the derivative rules (defined before the records that use them)

def add(a, b): a, b = _lift2(a, b); return apply(add_p, a, b)
def sub(a, b): a, b = _lift2(a, b); return apply(sub_p, a, b)
def mul(a, b): a, b = _lift2(a, b); return apply(mul_p, a, b)
def div(a, b): a, b = _lift2(a, b); return apply(div_p, a, b)
def pow(a, b): a, b = _lift2(a, b); return apply(pow_p, a, b)  # noqa: A001
def neg(a): return apply(neg_p, lift(a))
def exp(a): return apply(exp_p, lift(a))
def log(a): return apply(log_p, lift(a))
def sqrt(a): return apply(sqrt_p, lift(a))
def sin(a): return apply(sin_p, lift(a))
def cos(a): return apply(cos_p, lift(a))
def tan(a): return apply(tan_p, lift(a))
def asin(a): return apply(asin_p, lift(a))
def acos(a): return apply(acos_p, lift(a))
def atan(a): return apply(atan_p, lift(a))
def sinh(a): return apply(sinh_p, lift(a))
def cosh(a): return apply(cosh_p, lift(a))
def tanh(a): return apply(tanh_p, lift(a))
def abs(a): return apply(abs_p, lift(a))  # noqa: A001
def sign(a): return apply(sign_p, lift(a))
def heaviside(a): return apply(heaviside_p, lift(a))
def sigmoid(a): return apply(sigmoid_p, lift(a))
def logistic_pdf(a): return apply(logistic_pdf_p, lift(a))
def relu(a): return apply(relu_p, lift(a))
def leaky_relu(a, alpha=0.01): return apply(leaky_relu_p, lift(a), alpha=float(alpha))
def elu(a, alpha=1.0): return apply(elu_p, lift(a), alpha=float(alpha))
def softplus(a): return apply(softplus_p, lift(a))
def log1p(a): return apply(log1p_p, lift(a))
def expm1(a): return apply(expm1_p, lift(a))
def minimum(a, b): a, b = _lift2(a, b); return apply(minimum_p, a, b)
def maximum(a, b): a, b = _lift2(a, b); return apply(maximum_p, a, b)
def lt(a, b): a, b = _lift2(a, b); return apply(lt_p, a, b)
def le(a, b): a, b = _lift2(a, b); return apply(le_p, a, b)
def gt(a, b): a, b = _lift2(a, b); return apply(gt_p, a, b)
def ge(a, b): a, b = _lift2(a, b); return apply(ge_p, a, b)
def eq(a, b): a, b = _lift2(a, b); return apply(eq_p, a, b)
def ne(a, b): a, b = _lift2(a, b); return apply(ne_p, a, b)


def where(c, a, b):
    """``a`` where ``c`` is nonzero, else ``b`` (elementwise select)."""
    c = lift(c)
    a, b = _lift2(a, b)
    return apply(where_p, c, a, b)


# ---------------------------------------------------------------------------------
# arithmetic

def _sech2(x):
    """tanh'(x) = sech²(x), written 4·σ(2x)·σ(-2x) (σ the logistic function, since
    σ(u)·σ(-u) = 1/(4·cosh²(u/2))). σ and its derivative σ(u)·σ(-u) are bounded and
    never overflow, so no derivative of any order forms inf/inf or 0·inf (1/cosh² did:
    tanh'' was NaN beyond |x| ≈ 355 in float64, 45 in float32), and each factor keeps
    its relative accuracy in both tails, where 1 - tanh² cancels to 0."""
    return mul(4.0, logistic_pdf(mul(2.0, x)))


def _atan_partial(x):
    """atan'(x) = 1/(1 + x²) for |x| <= 1 and r²/(1 + r²), r = 1/x, beyond: x² and
    (1 + x²)² overflow long before the true derivatives -2x/(1+x²)², ... underflow
    (float32 atan''(1e12) = -2e-36 came out 0), while r's powers stay representable.
    The select discards each branch's infinities (r = 1/0, x² = inf) at every order;
    x² is ``pow(x, 2)``, an op AD knows may overflow, so reverse mode's masked
    cotangents absorb them (``mul(x, x)`` is assumed finite)."""
    r = div(1.0, x)
    rr = mul(r, r)
    return where(gt(abs(x), 1.0), div(rr, add(1.0, rr)), div(1.0, add(1.0, pow(x, 2.0))))


def _nan_where_nan(d: Node, out: Node) -> Node:
    """The partial ``d``, but NaN where the op's value ``out`` is NaN: the rule "a
    derivative is NaN where the value is NaN" for piecewise ops whose partial is built
    from comparisons (``heaviside(NaN) = 0`` would otherwise give a finite one)."""
    return where(eq(out, out), d, out)


def _nan_edges(parts, *args, out, **params):
    """``edges`` rule of piecewise ops (relu, leaky_relu, max, min): every partial NaN
    where the value is NaN."""
    return tuple(None if p is None else _nan_where_nan(p, out) for p in parts)


def _np_sigmoid(x):
    # 1/(1+exp(-x)) never produces NaN: exp overflows to inf and 1/inf = 0.
    return 1.0 / (1.0 + np.exp(-x))


def _np_softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _np_heaviside(x):
    return np.where(x > 0, 1.0, 0.0).astype(np.result_type(x, np.float32))


def _np_where(c, a, b):
    return np.where(c != 0, a, b)


def _cmp(fn):
    def impl(a, b):
        return fn(a, b).astype(np.result_type(a, b))
    return impl


def _np_sign(x):
    return np.sign(x)


B = 2.0  # half-width of the default symmetric test domain

add_p = register(Primitive(
    "add", 2, np.add, "{0} + {1}", precedence=10, latex="{0} + {1}", associativity="both",
    llvm="fadd", cuda="({0} + {1})", commutative=True,
    partials=lambda x, y, *, out: (const(1.0, out.dtype), const(1.0, out.dtype)),
    domain=((-B, B), (-B, B)), doc="x + y"))

sub_p = register(Primitive(
    "sub", 2, np.subtract, "{0} - {1}", precedence=10, latex="{0} - {1}", textbook="{0} \u2212 {1}",
    llvm="fsub", cuda="({0} - {1})",
    partials=lambda x, y, *, out: (const(1.0, out.dtype), const(-1.0, out.dtype)),
    domain=((-B, B), (-B, B)), doc="x - y"))

mul_p = register(Primitive(
    "mul", 2, np.multiply, "{0} * {1}", precedence=20, latex="{0} {1}", textbook="{0} \u00d7 {1}",
    associativity="both",
    llvm="fmul", cuda="({0} * {1})", commutative=True,
    partials=lambda x, y, *, out: (y, x),
    domain=((-B, B), (-B, B)), doc="x * y"))

div_p = register(Primitive(
    "div", 2, np.divide, "{0} / {1}", precedence=20, latex=r"\frac{{{0}}}{{{1}}}", textbook="{0}/{1}",
    llvm="fdiv", cuda="({0} / {1})",
    partials=lambda x, y, *, out: (div(1.0, y), neg(div(out, y))),
    domain=((-B, B), (0.5, B)), doc="x / y", unbounded=True))

neg_p = register(Primitive(
    "neg", 1, np.negative, "-{0}", precedence=30, latex="-{0}", textbook="\u2212{0}",
    llvm="fneg", cuda="(-{0})",
    partials=lambda x, *, out: (const(-1.0, out.dtype),),
    domain=((-B, B),), doc="-x"))

def _pow_partials(x, y, *, out):
    """∂x^y/∂x = y·x^(y-1) and ∂x^y/∂y = ln(x)·x^y (the textbook forms; see
    :func:`_pow_edges` for the points where they would build 0·∞).

    A constant exponent is folded: ``y·x^(y-1)`` with ``y-1`` a constant, and no
    partial at all for ``y = 0`` (x^0 = 1 has derivative 0 everywhere, 0^0 included),
    so ``x^1 → 1·x^0 → 0`` and ``x^3 → 3x^2 → 6x → 6 → 0`` stay exact at x = 0, at
    every order (autograd#116). A constant base or exponent has no partial (it never
    carries a tangent).
    """
    if x.is_const:
        dx = None
    elif y.is_const:
        dx = None if y.value == 0.0 else mul(y, pow(x, const(y.value - 1.0, y.dtype,
                                                               y.shape)))
    else:
        dx = mul(y, pow(x, sub(y, 1.0)))
    dy = None if y.is_const else mul(log(x), out)
    return dx, dy


def absorbing_zero(a: Node) -> Node:
    """``where(a == 0, a, a)``: the value and derivatives of ``a``, marked for AD as a
    factor whose zeros absorb (``0·∞ = 0``) like masked zeros: AD multiplies it with
    zero absorption wherever the other factor may be non-finite, at every order
    (graphc/passes/ad.py, ``Hazards``). The clean-up passes fold it back to ``a``."""
    a = lift(a)
    return where(eq(a, const(0.0, a.dtype)), a, a)


def _pow_edges(parts, x, y, *, out):
    """The pow partials without 0·∞ for an integer or zero exponent, at any order:

    * ``y·x^(y-1)`` of a variable exponent is ``y·q`` with ``q = x^(y-1)`` replaced by 0
      only where it is non-finite (x = ±0, or a tiny |x| where it overflows) and
      ``y = 0``: so ``0·∞`` gives 0, while ``∂²/∂x∂y = 1/x`` at y = 0 stays right
      wherever 1/x is finite; the factor ``y`` is an :func:`absorbing_zero`, so the
      x-derivatives of ``y·q`` (``y·(y-1)·x^(y-2)``...) are 0 at y = 0 even where
      ``x^(y-2)`` overflows; differentiating again applies this rule to ``x^(y-1)``,
      whose selects catch ``y = 1``, and so on;
    * ``∂/∂y = where(x^y == 0, 0, ln(x)·x^y)``: where x^y is 0 (x = ±0 and y > 0, or
      an underflow) the derivative is 0, the limit of ln(x)·x^y as x → 0+ (and
      0^y ≡ 0 for y > 0); at x = 0 and y ≤ 0 it stays that limit, -inf; NaN for x < 0.
    """
    dx, dy = parts
    zero = const(0.0, out.dtype)
    if dx is not None and not y.is_const:
        q = pow(x, sub(y, 1.0))
        finite = eq(sub(q, q), zero)
        dx = mul(absorbing_zero(y), where(finite, q, where(eq(y, zero), zero, q)))
    if dy is not None:
        dy = where(eq(out, zero), zero, dy)
    return dx, dy


pow_p = register(Primitive(
    "pow", 2, np.power, "{0} ^ {1}", precedence=40, latex="{0}^{{{1}}}", textbook="{0}^{1}",
    associativity="right",
    llvm="llvm.pow", cuda="math.pow({0}, {1})", aliases=("power",),
    partials=_pow_partials, edges=_pow_edges,
    domain=((0.5, B), (-B, B)), doc="x ** y (NumPy semantics: NaN for x < 0 and "
                                      "non-integer y)", unbounded=True))

# ---------------------------------------------------------------------------------
# elementary functions

exp_p = register(Primitive(
    "exp", 1, np.exp, "exp({0})", latex=r"e^{{{0}}}", textbook="exp {0}", llvm="llvm.exp", cuda="math.exp({0})",
    partials=lambda x, *, out: (out,), domain=((-B, B),), doc="e ** x", unbounded=True))

log_p = register(Primitive(
    "log", 1, np.log, "log({0})", latex=r"\ln {0}", textbook="ln {0}", llvm="llvm.log", cuda="math.log({0})",
    aliases=("ln",),
    partials=lambda x, *, out: (div(1.0, x),), domain=((0.1, 2 * B),),
    # 1/(x + 0): log'(-0.0) = +inf like log'(+0.0) (-0 + 0 = +0)
    edges=lambda parts, x, *, out: (div(1.0, add(x, 0.0)),),
    doc="natural logarithm", unbounded=True))

sqrt_p = register(Primitive(
    "sqrt", 1, np.sqrt, "sqrt({0})", latex=r"\sqrt{{{0}}}", textbook="\u221a{0}", llvm="llvm.sqrt",
    cuda="math.sqrt({0})",
    partials=lambda x, *, out: (div(0.5, out),), domain=((0.1, 2 * B),),
    # 0.5/(√x + 0): sqrt'(-0.0) = +inf (√-0 = -0, -0 + 0 = +0) like sqrt'(+0.0)
    edges=lambda parts, x, *, out: (div(0.5, add(out, 0.0)),),
    doc="square root", unbounded=True))

sin_p = register(Primitive(
    "sin", 1, np.sin, "sin({0})", latex=r"\sin {0}", textbook="sin {0}", llvm="llvm.sin", cuda="math.sin({0})",
    partials=lambda x, *, out: (cos(x),), domain=((-3.0, 3.0),), doc="sine (radians)"))

cos_p = register(Primitive(
    "cos", 1, np.cos, "cos({0})", latex=r"\cos {0}", textbook="cos {0}", llvm="llvm.cos", cuda="math.cos({0})",
    partials=lambda x, *, out: (neg(sin(x)),), domain=((-3.0, 3.0),),
    doc="cosine (radians)"))

tan_p = register(Primitive(
    "tan", 1, np.tan, "tan({0})", latex=r"\tan {0}", textbook="tan {0}", llvm="tan", cuda="math.tan({0})",
    partials=lambda x, *, out: (add(1.0, mul(out, out)),), domain=((-1.2, 1.2),),
    doc="tangent (radians)", unbounded=True))

asin_p = register(Primitive(
    "asin", 1, np.arcsin, "asin({0})", latex=r"\arcsin {0}", textbook="arcsin {0}", llvm="asin",
    cuda="math.asin({0})", aliases=("arcsin",),
    partials=lambda x, *, out: (div(1.0, sqrt(sub(1.0, mul(x, x)))),),
    domain=((-0.9, 0.9),), doc="inverse sine", unbounded=True))

acos_p = register(Primitive(
    "acos", 1, np.arccos, "acos({0})", latex=r"\arccos {0}", textbook="arccos {0}", llvm="acos",
    cuda="math.acos({0})", aliases=("arccos",),
    partials=lambda x, *, out: (neg(div(1.0, sqrt(sub(1.0, mul(x, x))))),),
    domain=((-0.9, 0.9),), doc="inverse cosine", unbounded=True))

atan_p = register(Primitive(
    "atan", 1, np.arctan, "atan({0})", latex=r"\arctan {0}", textbook="arctan {0}", llvm="atan",
    cuda="math.atan({0})", aliases=("arctan",),
    partials=lambda x, *, out: (_atan_partial(x),),
    domain=((-B, B),), doc="inverse tangent"))

sinh_p = register(Primitive(
    "sinh", 1, np.sinh, "sinh({0})", latex=r"\sinh {0}", textbook="sinh {0}", llvm="sinh", cuda="math.sinh({0})",
    partials=lambda x, *, out: (cosh(x),), domain=((-B, B),), doc="hyperbolic sine", unbounded=True))

cosh_p = register(Primitive(
    "cosh", 1, np.cosh, "cosh({0})", latex=r"\cosh {0}", textbook="cosh {0}", llvm="cosh", cuda="math.cosh({0})",
    partials=lambda x, *, out: (sinh(x),), domain=((-B, B),), doc="hyperbolic cosine", unbounded=True))

tanh_p = register(Primitive(
    "tanh", 1, np.tanh, "tanh({0})", latex=r"\tanh {0}", textbook="tanh {0}", llvm="tanh", cuda="math.tanh({0})",
    # the textbook partial 1 - tanh² (what trace tables print) cancels to 0 in the tails
    # and its derivatives form inf/inf; AD multiplies by the stable 4σ(2x)σ(-2x)
    partials=lambda x, *, out: (sub(1.0, mul(out, out)),),
    edges=lambda parts, x, *, out: (_sech2(x),), domain=((-B, B),),
    doc="hyperbolic tangent; tanh' = 1 - tanh² = 4σ(2x)σ(-2x) (AD uses the second form: "
        "no cancellation where |tanh| → 1)"))

log1p_p = register(Primitive(
    "log1p", 1, np.log1p, "log1p({0})", latex=r"\ln\left(1 + {0}\right)", llvm="log1p",
    cuda="math.log1p({0})",
    partials=lambda x, *, out: (div(1.0, add(1.0, x)),), domain=((-0.5, B),),
    doc="log(1 + x), accurate for small x", unbounded=True))

expm1_p = register(Primitive(
    "expm1", 1, np.expm1, "expm1({0})", latex=r"\left(e^{{{0}}} - 1\right)", llvm="expm1",
    cuda="math.expm1({0})",
    partials=lambda x, *, out: (exp(x),), domain=((-B, B),),  # not out + 1: cancels
    doc="exp(x) - 1, accurate for small x", unbounded=True))

# ---------------------------------------------------------------------------------
# piecewise and neural-network functions

abs_p = register(Primitive(
    "abs", 1, np.abs, "abs({0})", latex=r"\left|{0}\right|", llvm="llvm.fabs",
    cuda="math.fabs({0})", smooth=False, aliases=("fabs",),
    partials=lambda x, *, out: (sign(x),), domain=((-B, B),),
    doc="absolute value; abs'(0) = 0"))

sign_p = register(Primitive(
    "sign", 1, _np_sign, "sign({0})", latex=r"\operatorname{{sign}} {0}", llvm="sign",
    cuda="(1.0 if {0} > 0 else (-1.0 if {0} < 0 else ({0} if {0} != {0} else 0.0)))",
    differentiable=False, smooth=False,  # np.sign(-0.) = +0.
    domain=((-B, B),), doc="-1, 0 or 1 (NaN for NaN); derivative 0", masks=True))

heaviside_p = register(Primitive(
    "heaviside", 1, _np_heaviside, "heaviside({0})", latex=r"H\left({0}\right)",
    llvm="heaviside", cuda="(1.0 if {0} > 0 else 0.0)", differentiable=False, smooth=False,
    aliases=("step",), domain=((-B, B),), doc="1 where x > 0 else 0; derivative 0", masks=True))

sigmoid_p = register(Primitive(
    "sigmoid", 1, _np_sigmoid, "sigmoid({0})", latex=r"\sigma\left({0}\right)",
    llvm="sigmoid", cuda="(1.0 / (1.0 + math.exp(-{0})))", aliases=("logistic", "expit"),
    ulp=6,  # exp, then an addition and a division: two more roundings
    partials=lambda x, *, out: (logistic_pdf(x),), domain=((-4.0, 4.0),),
    doc="logistic function 1/(1 + e^-x); σ'(x) = σ(x)·σ(-x) (the logistic_pdf "
        "primitive), accurate in both tails"))


def _np_logistic_pdf(x):
    """σ(x)·σ(-x) = e/(1 + e)² with e = exp(-|x|) (even in x; e <= 1, so nothing
    overflows and the tails keep their relative accuracy)."""
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(-np.abs(x))
        return e / ((1 + e) * (1 + e))


def _half(x):
    """``x/2``; for ``x = 2·z`` (how ``tanh'`` calls ``logistic_pdf``) the node ``z``
    itself, so ``tanh(x/2)`` in the derivative is the primal's ``tanh(z)`` (shared by
    CSE, not computed again). Exact: ``0.5·(2·z)`` differs from ``z`` only where ``2·z``
    overflows, and there ``tanh`` gives ±1 for both."""
    if x.prim.name == "mul" and x.args[0].is_const and x.args[0].value == 2.0:
        return x.args[1]
    return mul(0.5, x)


logistic_pdf_p = register(Primitive(
    "logistic_pdf", 1, _np_logistic_pdf, "logistic_pdf({0})",
    latex=r"\sigma'\left({0}\right)", llvm="logistic_pdf",
    cuda="(math.exp(-abs({0})) / ((1.0 + math.exp(-abs({0}))) * (1.0 + math.exp(-abs({0})))))",
    ulp=6,  # exp, an addition, a multiplication and a division
    partials=lambda x, *, out: (mul(neg(tanh(_half(x))), out),), domain=((-4.0, 4.0),),
    doc="the logistic density σ(x)·σ(-x) = e^-|x|/(1 + e^-|x|)² = sech²(x/2)/4, the "
        "derivative of sigmoid (and tanh'(x) = 4·logistic_pdf(2x)): one exp where the "
        "product of two sigmoids takes two; its derivative -tanh(x/2)·logistic_pdf(x) "
        "keeps every order bounded"))

relu_p = register(Primitive(
    "relu", 1, lambda x: np.maximum(x, 0.0).astype(x.dtype if hasattr(x, "dtype")
                                                  else np.float64),
    "relu({0})", latex=r"\operatorname{{ReLU}}\left({0}\right)", llvm="relu",
    cuda="(0.0 if {0} <= 0 else {0})", smooth=False,
    partials=lambda x, *, out: (heaviside(x),), edges=_nan_edges, domain=((-B, B),),
    doc="max(x, 0); relu'(0) = 0", masks=True))

leaky_relu_p = register(Primitive(
    "leaky_relu", 1, lambda x, alpha: np.where(x > 0, x, alpha * x),
    "leaky_relu({0}, {alpha})", latex=r"\operatorname{{LeakyReLU}}\left({0}\right)",
    llvm="leaky_relu", cuda="({0} if {0} > 0 else {alpha} * {0})", smooth=False,
    param_names=("alpha",), param_defaults={"alpha": 0.01},
    partials=lambda x, *, out, alpha: (
        add(mul(heaviside(x), 1.0 - alpha), alpha),), edges=_nan_edges, domain=((-B, B),),
    doc="x where x > 0 else alpha*x (alpha defaults to 0.01)"))


def _np_elu(x, alpha):
    # expm1 of the discarded positive entries may overflow to inf: harmless
    with np.errstate(over="ignore"):
        return np.where(x > 0, x, alpha * np.expm1(x))


elu_p = register(Primitive(
    "elu", 1, _np_elu, "elu({0}, {alpha})", latex=r"\operatorname{{ELU}}\left({0}\right)",
    llvm="elu", cuda="({0} if {0} > 0 else {alpha} * math.expm1({0}))", smooth=False,
    param_names=("alpha",), param_defaults={"alpha": 1.0},
    partials=lambda x, *, out, alpha: (where(gt(x, 0.0), 1.0, mul(alpha, exp(x))),),
    domain=((-B, B),), doc="x where x > 0 else alpha*(e^x - 1) (alpha defaults to 1)"))

softplus_p = register(Primitive(
    "softplus", 1, _np_softplus, "softplus({0})",
    latex=r"\operatorname{{softplus}}\left({0}\right)", llvm="softplus",
    ulp=6,  # max + log1p(exp(-|x|)): two library calls and an addition
    cuda="((0.0 if {0} <= 0 else {0}) + math.log1p(math.exp(-math.fabs({0}))))",
    partials=lambda x, *, out: (sigmoid(x),), domain=((-4.0, 4.0),),
    doc="log(1 + e^x), computed without overflow"))


def _minmax_partials(x_wins):
    # 1 where x wins, 0 where y wins, 1/2 each at a tie. Built from where/comparisons so
    # AD sees the exact zeros as masks (sqrt(max(x, 0)) has gradient 0 at x < 0).
    def rule(x, y, *, out):
        tie = where(eq(x, y), 0.5, 0.0)
        return (where(x_wins(x, y), 1.0, tie), where(x_wins(y, x), 1.0, tie))
    return rule


minimum_p = register(Primitive(
    "minimum", 2, np.minimum, "min({0}, {1})", latex=r"\min\left({0}, {1}\right)",
    llvm="minimum", cuda="({0} if {0} < {1} or {0} != {0} else {1})",
    smooth=False, commutative=False,  # np.minimum(-0., 0.) = 0., np.minimum(0., -0.) = -0.
    aliases=("min",), partials=_minmax_partials(lt), edges=_nan_edges,
    domain=((-B, B), (-B, B)), doc="smaller of x and y (NaN propagates); ties split ½-½"))

maximum_p = register(Primitive(
    "maximum", 2, np.maximum, "max({0}, {1})", latex=r"\max\left({0}, {1}\right)",
    llvm="maximum", cuda="({0} if {0} > {1} or {0} != {0} else {1})",
    smooth=False, commutative=False,  # np.maximum(0., -0.) = -0.: the second on ties
    aliases=("max",), partials=_minmax_partials(gt), edges=_nan_edges,
    domain=((-B, B), (-B, B)), doc="larger of x and y (NaN propagates); ties split ½-½"))

# ---------------------------------------------------------------------------------
# comparisons (1.0 or 0.0, derivative 0) and select


def _comparison(name, fn, symbol, latex, pred):
    return register(Primitive(
        name, 2, _cmp(fn), "{0} " + symbol + " {1}", precedence=5, associativity="none",
        latex="{0} " + latex + " {1}", llvm="fcmp_" + pred,
        cuda="(1.0 if {0} " + symbol + " {1} else 0.0)", differentiable=False, smooth=False, masks=True,
        domain=((-B, B), (-B, B)), doc=f"1.0 where x {symbol} y else 0.0"))


lt_p = _comparison("lt", np.less, "<", "<", "olt")
le_p = _comparison("le", np.less_equal, "<=", r"\le", "ole")
gt_p = _comparison("gt", np.greater, ">", ">", "ogt")
ge_p = _comparison("ge", np.greater_equal, ">=", r"\ge", "oge")
eq_p = _comparison("eq", np.equal, "==", "=", "oeq")
ne_p = _comparison("ne", np.not_equal, "!=", r"\ne", "une")


def _where_jvp(c, a, b, *, out, tangents):
    _, ta, tb = tangents
    if ta is None and tb is None:
        return None
    zero = const(0.0, out.dtype)
    return where(c, ta if ta is not None else zero, tb if tb is not None else zero)


def _where_vjp(c, a, b, *, out, cotangent):
    zero = const(0.0, out.dtype)
    return (None, where(c, cotangent, zero), where(c, zero, cotangent))


where_p = register(Primitive(
    "where", 3, _np_where, "where({0}, {1}, {2})",
    latex=r"\begin{{cases}}{1} & {0}\\ {2} & \text{{otherwise}}\end{{cases}}",
    llvm="select", cuda="({1} if {0} != 0 else {2})", smooth=False,
    jvp=_where_jvp, vjp=_where_vjp, domain=((-B, B), (-B, B), (-B, B)),
    doc="y where c != 0 else z; the unselected branch gets a zero cotangent"))


# ---------------------------------------------------------------------------------
# constants the parser knows

NAMED_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


# ---------------------------------------------------------------------------------
# rounding, remainder and more elementary functions (issue 13, elementwise part)
#
# Derivative conventions (docs/conventions.md, "Rounding, remainder, clip"):
# floor, ceil and round are piecewise constant (differentiable=False: derivative 0,
# also at their jumps); mod(x, y) = x - y·floor(x/y) has ∂x = 1 and ∂y = -floor(x/y)
# away from its jumps; clip(x, lo, hi) passes the derivative to x on the closed
# interval lo <= x <= hi (PyTorch's clamp convention), to lo where x < lo and to hi
# where max(x, lo) > hi; its partials are NaN where its value is NaN.

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def floor(a): return apply(floor_p, lift(a))
def ceil(a): return apply(ceil_p, lift(a))
def round_(a): return apply(round_p, lift(a))
def mod(a, b): a, b = _lift2(a, b); return apply(mod_p, a, b)
def exp2(a): return apply(exp2_p, lift(a))
def log2(a): return apply(log2_p, lift(a))
def log10(a): return apply(log10_p, lift(a))
def asinh(a): return apply(asinh_p, lift(a))
def acosh(a): return apply(acosh_p, lift(a))
def atanh(a): return apply(atanh_p, lift(a))
def atan2(a, b): a, b = _lift2(a, b); return apply(atan2_p, a, b)
def hypot(a, b): a, b = _lift2(a, b); return apply(hypot_p, a, b)
def erf(a): return apply(erf_p, lift(a))
def erfc(a): return apply(erfc_p, lift(a))
def cbrt(a): return apply(cbrt_p, lift(a))
def logaddexp(a, b): a, b = _lift2(a, b); return apply(logaddexp_p, a, b)
def square(a): return apply(square_p, lift(a))
def reciprocal(a): return apply(reciprocal_p, lift(a))


def clip(x, lo, hi):
    """``min(max(x, lo), hi)`` elementwise (NumPy's ``np.clip``); see ``clip_p``."""
    x = lift(x)
    like = x
    return apply(clip_p, x, lift(lo, like), lift(hi, like))


def _float_result(fn):
    """A NumPy implementation from a scalar float function (``math.erf``): computed
    in float64, returned in the argument's dtype (float32 stays float32)."""
    ufunc = np.frompyfunc(fn, 1, 1)

    def impl(x):
        arr = np.asarray(x)
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
        out = np.asarray(ufunc(arr.astype(np.float64)), dtype=np.float64).astype(dtype)
        return out[()] if out.ndim == 0 else out
    impl.__name__ = fn.__name__
    return impl


_np_erf = _float_result(math.erf)
_np_erfc = _float_result(math.erfc)


def _rounding(name, impl, llvm, cuda_fn, latex, doc, aliases=()):
    # |x| >= 2^52 is already an integer (also in float32), and NaN/inf pass through;
    # copysign keeps the sign of a zero result (np.floor(-0.) = -0., np.ceil(-.5) = -0.)
    cuda = ("(math.copysign(float(" + cuda_fn + "({0})), {0}) "
            "if math.fabs({0}) < 4503599627370496.0 else {0})")
    return register(Primitive(
        name, 1, impl, name + "({0})", latex=latex, llvm=llvm, cuda=cuda, aliases=aliases,
        ulp=0,  # the nearest integer in a direction: exact
        differentiable=False, smooth=False, masks=True, domain=((-B, B),), doc=doc))


floor_p = _rounding("floor", np.floor, "llvm.floor", "math.floor",
                    r"\left\lfloor {0} \right\rfloor",
                    "largest integer <= x; derivative 0")
ceil_p = _rounding("ceil", np.ceil, "llvm.ceil", "math.ceil",
                   r"\left\lceil {0} \right\rceil", "smallest integer >= x; derivative 0")
round_p = _rounding("round", np.rint, "llvm.roundeven", "round",
                    r"\operatorname{{round}}\left({0}\right)",
                    "nearest integer, ties to even (NumPy's round/rint); derivative 0",
                    aliases=("rint",))


def _mod_dy(x, y, out):
    """∂mod(x, y)/∂y = -floor(x/y), the integer k with mod = x + k·y, taken from the
    computed remainder as ``round((out - x)/y)``: the remainder (fmod) is exact, so k is
    the floor of the exact quotient of x and y, where ``floor(x/y)`` of the rounded
    quotient is off by one next to its jumps (x = -4, y = 1 - 2^-53: x/y rounds to -4,
    the remainder is 1 - 5·2^-53 and k = 5). For |k| >= 2^51 the rounding is moot."""
    return round_(div(sub(out, x), y))


mod_p = register(Primitive(
    "mod", 2, np.remainder, "mod({0}, {1})",
    latex=r"\operatorname{{mod}}\left({0}, {1}\right)", llvm="mod",
    # np.remainder (Python's %): fmod, moved to the divisor's sign; a zero result has
    # the divisor's sign; NaN for y = 0 or infinite x
    cuda="(math.copysign(0.0, {1}) if math.fmod({0}, {1}) == 0 else "
         "(math.fmod({0}, {1}) + {1} if (math.fmod({0}, {1}) < 0) != ({1} < 0) "
         "else math.fmod({0}, {1})))",
    aliases=("remainder",), smooth=False, unbounded=True,
    ulp=0,  # fmod is exact; moving it to the divisor's sign is one rounded addition
    partials=lambda x, y, *, out: (const(1.0, out.dtype), _mod_dy(x, y, out)),
    domain=((-2 * B, 2 * B), (0.25, 2 * B)),  # several branches of floor(x/y)
    doc="x mod y with the sign of y (NumPy's remainder, Python's %); d/dx = 1, "
        "d/dy = -floor(x/y) away from the jumps (computed exactly, see _mod_dy)"))

exp2_p = register(Primitive(
    "exp2", 1, np.exp2, "exp2({0})", latex=r"2^{{{0}}}", llvm="llvm.exp2",
    cuda="math.pow(2.0, {0})",
    partials=lambda x, *, out: (mul(out, _LN2),), domain=((-B, B),),
    # ln 2 · 2^x as 2^(x-1) · 2 ln 2 (2 ln 2 > 1; x - 1 is exact for x >= 1 and within
    # half an ulp otherwise, which moves 2^(x-1) by under half an ulp): finite wherever
    # the derivative is, also where 2^x itself overflows (float32, 128 < x < 128.53),
    # and the same at every order (2^(x-k) · (2 ln 2)^k), where out · ln 2 · ln 2 gave inf
    edges=lambda parts, x, *, out: (mul(exp2(sub(x, 1.0)), 2.0 * _LN2),),
    doc="2 ** x; exp2' = ln 2 · 2^x", unbounded=True))

log2_p = register(Primitive(
    "log2", 1, np.log2, "log2({0})", latex=r"\log_2 {0}", llvm="llvm.log2",
    cuda="math.log2({0})",
    partials=lambda x, *, out: (div(1.0 / _LN2, x),), domain=((0.1, 2 * B),),
    edges=lambda parts, x, *, out: (div(1.0 / _LN2, add(x, 0.0)),),
    doc="base-2 logarithm; log2' = 1/(x ln 2)", unbounded=True))

log10_p = register(Primitive(
    "log10", 1, np.log10, "log10({0})", latex=r"\log_{{10}} {0}", llvm="llvm.log10",
    cuda="math.log10({0})",
    partials=lambda x, *, out: (div(1.0 / _LN10, x),), domain=((0.1, 2 * B),),
    edges=lambda parts, x, *, out: (div(1.0 / _LN10, add(x, 0.0)),),
    doc="base-10 logarithm; log10' = 1/(x ln 10)", unbounded=True))


def _hypot_partials(x, y, *, out):
    """The textbook partials x/hypot(x, y), y/hypot(x, y) (what trace tables print;
    :func:`_hypot_edges` gives the form AD multiplies by)."""
    return div(x, out), div(y, out)


def _hypot_unit(a, b):
    """``a / hypot(a, b)`` written so that its derivatives of every order have no
    cancellation: ``sign(a) / hypot(1, b/a)`` where |a| >= |b| and
    ``sign(b)·(a/b) / hypot(1, a/b)`` elsewhere (the ratio stays in [-1, 1]). Plain
    ``a/h`` has ∂/∂a = 1/h - (a/h)²/h, which cancels to 0 where |a| >> |b| (true
    value b²/h³); NaN at a = b = 0, the kink."""
    r_ab, r_ba = div(b, a), div(a, b)
    wide = div(sign(a), hypot(1.0, r_ab))
    tall = mul(sign(b), div(r_ba, hypot(1.0, r_ba)))
    return where(ge(abs(a), abs(b)), wide, tall)


def _hypot_edges(parts, x, y, *, out):
    return _hypot_unit(x, y), _hypot_unit(y, x)


hypot_p = register(Primitive(
    "hypot", 2, np.hypot, "hypot({0}, {1})",
    latex=r"\sqrt{{{0}^2 + {1}^2}}", llvm="hypot", cuda="math.hypot({0}, {1})",
    commutative=True, partials=_hypot_partials, edges=_hypot_edges,
    domain=((-B, B), (0.5, B)),
    # the partials x/h, y/h are NaN at (0, 0), the kink
    unbounded=True,
    doc="sqrt(x² + y²) without overflow; partials x/hypot, y/hypot (NaN at 0, 0)"))

asinh_p = register(Primitive(
    "asinh", 1, np.arcsinh, "asinh({0})", latex=r"\operatorname{{arsinh}} {0}",
    llvm="asinh", cuda="math.asinh({0})", aliases=("arcsinh",),
    # 1/hypot(x, 1): no overflow of x² (the true derivative ~ 1/|x| stays accurate)
    partials=lambda x, *, out: (div(1.0, hypot(x, 1.0)),), domain=((-B, B),),
    doc="inverse hyperbolic sine; asinh' = 1/sqrt(x² + 1)"))

acosh_p = register(Primitive(
    "acosh", 1, np.arccosh, "acosh({0})", latex=r"\operatorname{{arcosh}} {0}",
    llvm="acosh", cuda="math.acosh({0})", aliases=("arccosh",),
    # 1/(sqrt(x-1)·sqrt(x+1)): no cancellation of x² - 1 near 1, no overflow of x²
    partials=lambda x, *, out: (div(1.0, mul(sqrt(sub(x, 1.0)), sqrt(add(x, 1.0)))),),
    domain=((1.1, 2 * B),), unbounded=True,
    doc="inverse hyperbolic cosine (NaN for x < 1); acosh' = 1/sqrt(x² - 1)"))

atanh_p = register(Primitive(
    "atanh", 1, np.arctanh, "atanh({0})", latex=r"\operatorname{{artanh}} {0}",
    llvm="atanh", cuda="math.atanh({0})", aliases=("arctanh",),
    partials=lambda x, *, out: (div(1.0, mul(sub(1.0, x), add(1.0, x))),),
    domain=((-0.9, 0.9),), unbounded=True,
    doc="inverse hyperbolic tangent (NaN for |x| > 1); atanh' = 1/(1 - x²)"))


def _atan2_partials(y, x, *, out):
    """∂atan2(y, x)/∂y = x/(x² + y²), ∂/∂x = -y/(x² + y²) (the textbook forms, which
    trace tables print; :func:`_atan2_edges` gives the form AD multiplies by)."""
    r2 = add(mul(x, x), mul(y, y))
    return div(x, r2), neg(div(y, r2))


def _atan2_edges(parts, y, x, *, out):
    """The atan2 partials as (x/r)/r and -(y/r)/r with r = hypot(y, x) and x/r, y/r
    from :func:`_hypot_unit`: no overflow or underflow of the squares, and no
    cancellation in their derivatives."""
    r = hypot(y, x)
    return div(_hypot_unit(x, y), r), neg(div(_hypot_unit(y, x), r))


atan2_p = register(Primitive(
    "atan2", 2, np.arctan2, "atan2({0}, {1})",
    latex=r"\operatorname{{atan2}}\left({0}, {1}\right)", llvm="atan2",
    cuda="math.atan2({0}, {1})", aliases=("arctan2",),
    partials=_atan2_partials, edges=_atan2_edges, domain=((-B, B), (0.5, B)),
    unbounded=True,  # the partials are NaN at (0, 0)
    doc="angle of the point (x, y) = (arg 1, arg 0), in [-pi, pi]; "
        "partials (x, -y)/(x² + y²)"))


def _erf_partial(x):
    """erf'(x) = 2/sqrt(pi) · exp(-x²) (Abramowitz & Stegun 7.1.19), selected to 0 for
    |x| >= 64, where exp(-x²) is 0 in both dtypes: the derivatives of higher order
    would otherwise form (-2x)·exp(-x²) = ∞·0 = NaN once x² overflows. x² is
    ``pow(x, 2)``, which AD knows may overflow (see :func:`_atan_partial`)."""
    d = mul(_TWO_OVER_SQRT_PI, exp(neg(pow(x, 2.0))))
    return where(ge(abs(x), 64.0), const(0.0, x.dtype), d)  # NaN stays NaN


erf_p = register(Primitive(
    "erf", 1, _np_erf, "erf({0})", latex=r"\operatorname{{erf}} {0}", llvm="erf",
    cuda="math.erf({0})", partials=lambda x, *, out: (_erf_partial(x),),
    domain=((-B, B),), doc="error function; erf' = 2/sqrt(pi) exp(-x²)"))

erfc_p = register(Primitive(
    "erfc", 1, _np_erfc, "erfc({0})", latex=r"\operatorname{{erfc}} {0}", llvm="erfc",
    cuda="math.erfc({0})", partials=lambda x, *, out: (neg(_erf_partial(x)),),
    domain=((-B, B),), doc="complementary error function 1 - erf(x), accurate where "
                           "erf(x) is near 1; erfc' = -2/sqrt(pi) exp(-x²)"))

_CUDA_CBRT = "math.copysign(math.pow(math.fabs({0}), 1.0 / 3.0), {0})"

cbrt_p = register(Primitive(
    "cbrt", 1, np.cbrt, "cbrt({0})", latex=r"\sqrt[3]{{{0}}}", llvm="cbrt",
    # numba-cuda has no cbrt: pow(|x|, 1/3) (1/3 rounded: up to 60 ulp off at 1e300)
    # and one Newton step c - (c - x/c²)/3, within about an ulp of np.cbrt; 0, ±inf
    # and NaN pass through
    cuda="({0} if {0} == 0.0 or {0} - {0} != 0.0 else (" + _CUDA_CBRT + " - ("
         + _CUDA_CBRT + " - {0} / (" + _CUDA_CBRT + " * " + _CUDA_CBRT + ")) / 3.0))",
    # cbrt' = (sqrt(3) cbrt(x))^-2: its derivatives (-2/9 cbrt^-5, 10/27 cbrt^-8) come out
    # as sums of terms of one sign, so where they overflow they give inf, not inf - inf
    partials=lambda x, *, out: (pow(mul(math.sqrt(3.0), out), -2.0),),
    unbounded=True,  # cbrt'(0) = +inf
    domain=((0.1, 8.0),), doc="real cube root; cbrt' = 1/(3 cbrt(x)²), +inf at 0"))


def _clip_partials(x, lo, hi, *, out):
    """1/0 masks: ∂x = [lo <= x <= hi], ∂lo = [x < lo]·[lo <= hi],
    ∂hi = [max(x, lo) > hi]; they sum to 1 (the value is one of the three)."""
    inside = mul(ge(x, lo), le(x, hi))
    below = mul(lt(x, lo), le(lo, hi))
    above = gt(maximum(x, lo), hi)
    return inside, below, above


def _clip_edges(parts, x, lo, hi, *, out):
    """The clip partials where the value is NaN, as the chain rule through
    ``minimum(maximum(x, lo), hi)`` gives them: NaN, except a partial that the
    comparison of x with lo alone already masks to 0 (∂x where x < lo, ∂lo where
    x >= lo), which stays 0 when only ``hi`` is NaN."""
    dx, dlo, dhi = parts
    zero = const(0.0, out.dtype)
    return (where(lt(x, lo), zero, _nan_where_nan(dx, out)),
            where(ge(x, lo), zero, _nan_where_nan(dlo, out)),
            _nan_where_nan(dhi, out))


def _np_clip(x, lo, hi):
    # np.clip's documented meaning; np.clip itself gives other signs of zero on 0-d
    # arrays than on 1-d ones (np.clip(0., 0., -0.) = 0., on arrays -0.)
    return np.minimum(np.maximum(x, lo), hi)


_CUDA_MAX = "({0} if {0} > {1} or {0} != {0} else {1})"

clip_p = register(Primitive(
    "clip", 3, _np_clip, "clip({0}, {1}, {2})",
    latex=r"\operatorname{{clip}}\left({0}, {1}, {2}\right)", llvm="clip",
    cuda="(" + _CUDA_MAX.format("{0}", "{1}") + " if " + _CUDA_MAX.format("{0}", "{1}")
         + " < {2} or " + _CUDA_MAX.format("{0}", "{1}") + " != "
         + _CUDA_MAX.format("{0}", "{1}") + " else {2})",
    smooth=False, masks=True, partials=_clip_partials, edges=_clip_edges,
    ulp=0,  # selects between its arguments
    # overlapping boxes: the bounds cross each other and x's test point (lo > hi too)
    domain=((-B, B), (-1.5, 1.0), (-1.0, 1.5)),
    doc="min(max(x, lo), hi) (NumPy's clip; NaN propagates); the derivative goes to x "
        "on the closed interval lo <= x <= hi, to lo below it, to hi above it"))


logaddexp_p = register(Primitive(
    "logaddexp", 2, np.logaddexp, "logaddexp({0}, {1})",
    latex=r"\ln\left(e^{{{0}}} + e^{{{1}}}\right)", llvm="logaddexp",
    # NumPy's npy_logaddexp: x + ln 2 at ties, else max + log1p(exp(-|x - y|))
    cuda="({0} + 0.6931471805599453 if {0} == {1} else "
         "({0} + math.log1p(math.exp({1} - {0})) if {0} > {1} else "
         "({1} + math.log1p(math.exp({0} - {1})) if {0} < {1} else {0} - {1})))",
    commutative=True,
    partials=lambda x, y, *, out: (sigmoid(sub(x, y)), sigmoid(sub(y, x))),
    # y > 0.5 keeps the value away from 0: there max + log1p(...) cancels, its error is
    # an ulp of max in every implementation (NumPy's included), not an ulp of the value
    domain=((-B, B), (0.5, B)),
    doc="log(e^x + e^y) without overflow; partials σ(x - y), σ(y - x)"))

square_p = register(Primitive(
    "square", 1, np.square, "square({0})", latex=r"{0}^{{2}}", llvm="square",
    cuda="({0} * {0})", partials=lambda x, *, out: (mul(2.0, x),), domain=((-B, B),),
    doc="x * x; square' = 2x"))

reciprocal_p = register(Primitive(
    "reciprocal", 1, np.reciprocal, "reciprocal({0})", latex=r"\frac{{1}}{{{0}}}",
    llvm="reciprocal", cuda="(1.0 / {0})",
    partials=lambda x, *, out: (neg(mul(out, out)),), domain=((0.5, B),),
    unbounded=True, doc="1 / x; reciprocal' = -1/x²"))
