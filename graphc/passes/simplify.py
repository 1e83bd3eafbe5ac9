"""Clean-up passes: constant folding, algebraic simplification, CSE, dead-code removal.

Each pass is a pure ``Graph -> Graph`` function, and none changes a result: every
rewrite gives, for every input (zeros of either sign, subnormals, ±max, ±inf, NaN, in
float64 and float32), the value NumPy gives for the graph as written, bit for bit (NaN
counted as NaN whatever its payload), or it is not applied. The algebraic rules are the
table :data:`RULES` (each with the reason it is exact); constant folding evaluates with
the primitive's own NumPy implementation. Deliberately absent, because IEEE arithmetic
disagrees with the algebra somewhere: ``x + 0 → x`` for an ``x`` that may be ``-0``
(``-0 + 0 = +0``), ``0 - x → -x`` (``0 - 0 = +0``, ``-0 = -0``), ``-(a - b) → b - a``
(``-(1 - 1) = -0``), ``x·0 → 0`` (``inf·0 = NaN``, ``-1·0 = -0``), ``x - x → 0``,
reassociation, ``x/c → x·(1/c)`` unless ``1/c`` is an exact power of two of the
constant's dtype (``x/5e-324`` would become ``x·inf``), ``x^0.5 → sqrt x`` and
``x^-1 → 1/x`` (NumPy's ``power`` agrees with them only in some versions, and only for
a broadcast exponent), and argument-order canonicalisation of ``minimum``/``maximum``
(``np.minimum(-0., 0.) = 0.`` but ``np.minimum(0., -0.) = -0.``). The ground-truth test
is ``tests/hardening/test_rewrites_ieee.py``; ``docs/conventions.md`` states the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir import Graph, Node, Primitive, ops
from .rewrite import rebuild, same_node


def _in_bodies(graph: Graph, fn) -> Graph:
    """``graph`` with the pass ``fn`` run inside every loop and branch body first
    (:func:`graphc.passes.loops.map_bodies`; unchanged without control flow)."""
    from .loops import map_bodies
    return map_bodies(graph, fn)


def _np_dtype(dtype: str):
    return np.float64 if dtype == "float64" else np.float32


def _fold_rule(node: Node, args: tuple[Node, ...]) -> Node:
    # constants of any shape are uniform fills: an elementwise op of them is one
    # too; array ops (sums, products...) fold only on scalars
    if args and all(a.is_const for a in args) and (
            node.prim.elementwise or (not node.shape and not any(a.shape for a in args))):
        dt = _np_dtype(node.dtype)
        vals = [np.asarray(a.value, dtype=_np_dtype(a.dtype)) for a in args]
        with np.errstate(all="ignore"):
            v = node.prim.impl(*vals, **dict(node.params))
        return ops.const(float(np.asarray(v, dtype=dt)), node.dtype, node.shape)
    return same_node(node, args)


def fold_constants(graph: Graph) -> Graph:
    """Evaluate every operation whose arguments are all constants (with the op's NumPy
    implementation, so the folded value is exactly what the interpreter computes)."""
    graph = _in_bodies(graph, fold_constants)
    return rebuild(graph, _fold_rule)


# ---------------------------------------------------------------------------------
# the algebraic rules

def _c(n: Node, v: float) -> bool:
    return n.is_const and n.value == v


def _pos_zero(n: Node) -> bool:
    return n.is_const and n.value == 0.0 and math.copysign(1.0, n.value) > 0


def _neg_zero(n: Node) -> bool:
    return n.is_const and n.value == 0.0 and math.copysign(1.0, n.value) < 0


_NEVER_NEG_ZERO = frozenset({"abs", "exp", "cosh", "sigmoid", "logistic_pdf", "heaviside", "relu",
                             "softplus", "lt", "le", "gt", "ge", "eq", "ne"})
"""Ops whose NumPy result is never ``-0`` (``abs(-0) = +0``; ``np.maximum(-0., 0.) = 0.``
for ``relu``; the others are ``>= +0``, 0/1 masks or NaN)."""


def never_neg_zero(n: Node, depth: int = 4) -> bool:
    """True when ``n``'s value can never be ``-0.0`` (a conservative, shallow proof).

    ``a + b`` is ``-0`` in round-to-nearest only when both ``a`` and ``b`` are ``-0``
    (IEEE 754-2019 §6.3), and ``a·a`` is ``+0`` or positive or NaN.

    Args:
        n: any node.
        depth: how many levels of ``add``/``mul``/``where`` to look through.
    """
    if n.is_const:
        return not _neg_zero(n)
    name = n.prim.name
    if name in _NEVER_NEG_ZERO:
        return True
    if depth <= 0:
        return False
    if name == "add":
        return never_neg_zero(n.args[0], depth - 1) or never_neg_zero(n.args[1], depth - 1)
    if name == "mul":
        return n.args[0] is n.args[1]
    if name == "where":
        return never_neg_zero(n.args[1], depth - 1) and never_neg_zero(n.args[2], depth - 1)
    return False


def _exact_reciprocal(c: Node) -> float | None:
    """``1/c`` when ``c`` is a constant power of two whose reciprocal is exactly
    representable in ``c``'s dtype (then ``x/c`` and ``x·(1/c)`` are the same real
    number ``x·2^-k`` rounded once: equal for every ``x``, subnormal results and
    overflow included); else None. ``5e-324`` (``2^-1074``) has no float64 reciprocal,
    nor ``2^-130`` a float32 one."""
    if not c.is_const or c.value == 0 or not math.isfinite(c.value):
        return None
    m, e = math.frexp(abs(c.value))
    if m != 0.5:
        return None
    k = 1 - e  # |1/c| = 2^k
    lo, hi = (-1074, 1023) if c.dtype == "float64" else (-149, 127)
    if not lo <= k <= hi:
        return None
    return 1.0 / c.value  # exact: a representable power of two


@dataclass(frozen=True)
class Rule:
    """One algebraic rewrite.

    Attributes:
        name: unique rule name (the tests key their trigger graphs by it).
        prim: the primitive of the node the rule looks at.
        pattern: the rewrite, as text (``"x + (-0) -> x"``).
        why: why the result is NumPy's bit for bit, for every input.
        fn: ``fn(node, args) -> Node | None``: the replacement, or None where the rule
            does not apply. ``args`` are the node's rebuilt arguments.
    """

    name: str
    prim: Primitive
    pattern: str
    why: str
    fn: Callable[[Node, tuple[Node, ...]], Node | None]


def _r(name, prim, pattern, why):
    def deco(fn):
        return Rule(name, prim, pattern, why, fn)
    return deco


@_r("add_neg_zero_right", ops.add_p, "x + (-0) -> x", "x + (-0) = x for every x, zeros too")
def _add_nz_r(node, args):
    return args[0] if _neg_zero(args[1]) else None


@_r("add_neg_zero_left", ops.add_p, "(-0) + x -> x", "as add_neg_zero_right")
def _add_nz_l(node, args):
    return args[1] if _neg_zero(args[0]) else None


@_r("add_zero_right", ops.add_p, "x + 0 -> x  (x never -0)",
    "x + 0 = x except -0 + 0 = +0; applied only where x provably is never -0")
def _add_z_r(node, args):
    return args[0] if _pos_zero(args[1]) and never_neg_zero(args[0]) else None


@_r("add_zero_left", ops.add_p, "0 + x -> x  (x never -0)", "as add_zero_right")
def _add_z_l(node, args):
    return args[1] if _pos_zero(args[0]) and never_neg_zero(args[1]) else None


@_r("add_neg_right", ops.add_p, "x + (-y) -> x - y", "IEEE defines x - y as x + (-y)")
def _add_neg_r(node, args):
    a, b = args
    return ops.sub(a, b.args[0]) if b.prim is ops.neg_p else None


@_r("add_neg_left", ops.add_p, "(-x) + y -> y - x",
    "addition is commutative in IEEE arithmetic, then add_neg_right")
def _add_neg_l(node, args):
    a, b = args
    return ops.sub(b, a.args[0]) if a.prim is ops.neg_p else None


@_r("sub_zero", ops.sub_p, "x - 0 -> x", "x - (+0) = x + (-0) = x for every x")
def _sub_z(node, args):
    return args[0] if _pos_zero(args[1]) else None


@_r("sub_neg_zero", ops.sub_p, "x - (-0) -> x  (x never -0)",
    "x - (-0) = x + 0: as add_zero_right")
def _sub_nz(node, args):
    return args[0] if _neg_zero(args[1]) and never_neg_zero(args[0]) else None


@_r("neg_zero_sub", ops.sub_p, "(-0) - x -> -x",
    "-0 - x = -0 + (-x) = -x for every x (but +0 - x is not -x at x = +0)")
def _nz_sub(node, args):
    return ops.neg(args[1]) if _neg_zero(args[0]) else None


@_r("sub_neg", ops.sub_p, "x - (-y) -> x + y", "x - (-y) is defined as x + y")
def _sub_neg(node, args):
    a, b = args
    return ops.add(a, b.args[0]) if b.prim is ops.neg_p else None


@_r("mul_one_right", ops.mul_p, "x * 1 -> x", "x·1 = x exactly, zeros, inf and NaN too")
def _mul_one_r(node, args):
    return args[0] if _c(args[1], 1.0) else None


@_r("mul_one_left", ops.mul_p, "1 * x -> x", "as mul_one_right")
def _mul_one_l(node, args):
    return args[1] if _c(args[0], 1.0) else None


@_r("mul_minus_one_right", ops.mul_p, "x * (-1) -> -x", "x·(-1) = -x exactly (0·-1 = -0)")
def _mul_m1_r(node, args):
    return ops.neg(args[0]) if _c(args[1], -1.0) else None


@_r("mul_minus_one_left", ops.mul_p, "(-1) * x -> -x", "as mul_minus_one_right")
def _mul_m1_l(node, args):
    return ops.neg(args[1]) if _c(args[0], -1.0) else None


@_r("mul_neg_neg", ops.mul_p, "(-x) * (-y) -> x * y", "the sign of a product is the XOR")
def _mul_nn(node, args):
    a, b = args
    return ops.mul(a.args[0], b.args[0]) if a.prim is ops.neg_p and b.prim is ops.neg_p \
        else None


@_r("div_one", ops.div_p, "x / 1 -> x", "x/1 = x exactly")
def _div_one(node, args):
    return args[0] if _c(args[1], 1.0) else None


@_r("div_minus_one", ops.div_p, "x / (-1) -> -x", "x/(-1) = -x exactly")
def _div_m1(node, args):
    return ops.neg(args[0]) if _c(args[1], -1.0) else None


@_r("div_pow2", ops.div_p, "x / 2^k -> x * 2^-k  (2^-k representable)",
    "both are the real x·2^-k rounded once; see _exact_reciprocal")
def _div_pow2(node, args):
    a, b = args
    r = _exact_reciprocal(b)
    return None if r is None else ops.mul(a, ops.const(r, b.dtype))


def _pow2_at_least_two(c: Node) -> bool:
    """``c`` is a constant ``2^k`` with ``k >= 1`` (``x·2^k`` is exact unless it
    overflows: no rounding, subnormal ``x`` included)."""
    if not c.is_const or not math.isfinite(c.value) or c.value <= 1.0:
        return False
    m, _e = math.frexp(c.value)
    return m == 0.5


@_r("mul_pow2_const", ops.mul_p, "(x * 2^k) * c -> x * (2^k c)  (k >= 1, |c| >= 1)",
    "x·2^k is exact, or overflows; then |x·2^k·c| overflows too (|c| >= 1), so both "
    "give the same infinity; else both are the real x·2^k·c rounded once (2^k·c is "
    "exact: a finite scaling of c by a power of two that cannot underflow)")
def _mul_pow2_const(node, args):
    for inner, c in (args, args[::-1]):
        if inner.prim is not ops.mul_p or not c.is_const or inner.dtype != node.dtype \
                or c.dtype != node.dtype or not math.isfinite(c.value) or abs(c.value) < 1:
            continue
        for x, p in (inner.args, inner.args[::-1]):
            if _pow2_at_least_two(p) and p.dtype == node.dtype and x.dtype == node.dtype:
                t = np.dtype(node.dtype).type
                with np.errstate(over="ignore"):
                    scaled = t(p.value) * t(c.value)
                if np.isfinite(scaled):
                    return ops.mul(x, ops.const(float(scaled), node.dtype))
    return None


@_r("div_neg_neg", ops.div_p, "(-x) / (-y) -> x / y", "the sign of a quotient is the XOR")
def _div_nn(node, args):
    a, b = args
    return ops.div(a.args[0], b.args[0]) if a.prim is ops.neg_p and b.prim is ops.neg_p \
        else None


@_r("neg_neg", ops.neg_p, "-(-x) -> x", "negation flips the sign bit")
def _neg_neg(node, args):
    (a,) = args
    return a.args[0] if a.prim is ops.neg_p else None


@_r("pow_one", ops.pow_p, "x ^ 1 -> x", "np.power(x, 1) = x for every x")
def _pow_one(node, args):
    return args[0] if _c(args[1], 1.0) else None


@_r("pow_zero", ops.pow_p, "x ^ 0 -> 1", "pow(x, ±0) = 1 for every x, NaN too (C99 F.9.4.4)")
def _pow_zero(node, args):
    return ops.const(1.0, node.dtype, node.shape) if _c(args[1], 0.0) else None


@_r("where_const", ops.where_p, "where(c, a, b) -> a or b  (c constant)",
    "np.where(c != 0, a, b) with a constant c (NaN != 0 selects a)")
def _where_const(node, args):
    c, a, b = args
    if not c.is_const:
        return None
    return a if c.value != 0 else b


@_r("where_same", ops.where_p, "where(c, a, a) -> a", "both branches are the same value")
def _where_same(node, args):
    c, a, b = args
    return a if a is b else None


RULES: tuple[Rule, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Rule))
"""Every algebraic rule :func:`simplify` applies, in the order tried."""

_RULES_BY_PRIM: dict[str, tuple[Rule, ...]] = {}
for _rule in RULES:
    _RULES_BY_PRIM[_rule.prim.name] = _RULES_BY_PRIM.get(_rule.prim.name, ()) + (_rule,)
del _rule


def _simplify_node(node: Node, args: tuple[Node, ...]) -> Node:
    """The first rule of :data:`RULES` that applies at ``node``, or ``node`` rebuilt."""
    for rule in _RULES_BY_PRIM.get(node.prim.name, ()):
        out = rule.fn(node, args)
        if out is not None:
            return out
    return same_node(node, args)


def _simplify_rule(node: Node, args: tuple[Node, ...]) -> Node:
    current = _simplify_node(node, args)
    for _ in range(8):  # each step removes an op, so this converges quickly
        if current.is_const or current.is_input or not current.args:
            break
        nxt = _simplify_node(current, current.args)
        if nxt is current:
            break
        current = nxt
    # x*1 -> x is wrong where 1 broadcasts x, or where a float64 1 widens a float32 x
    if current.shape != node.shape or current.dtype != node.dtype:
        return same_node(node, args)
    return current


def simplify(graph: Graph) -> Graph:
    """Algebraic simplification to a fixed point at every node (bottom-up) with the
    rules of :data:`RULES`: ``x + (-0)``, ``x + 0`` where ``x`` is never ``-0``,
    ``x - 0``, ``(-0) - x``, ``x·1``, ``x·(-1)``, ``x/1``, ``x/(-1)``, ``x/2^k = x·2^-k``
    (exact reciprocals only), ``--x``, ``x+(-y)``, ``x-(-y)``, ``(-x)(-y)``, ``x^1``,
    ``x^0``, ``where`` on a constant condition or equal branches. Each keeps NumPy's
    result bit for bit for every input; see the module docstring for what is never
    rewritten. A rewrite that would change the node's shape or dtype is not applied."""
    graph = _in_bodies(graph, simplify)
    return rebuild(graph, _simplify_rule)


def _cse_rule():
    first: dict[tuple, Node] = {}

    def rule(node: Node, args: tuple[Node, ...]) -> Node:
        new = same_node(node, args)
        if new.prim.commutative and len(new.args) == 2:
            a, b = new.args
            key = (new.prim.name, new.params, frozenset((id(a), id(b))))
            return first.setdefault(key, new)
        return new
    return rule


def cse(graph: Graph) -> Graph:
    """Common-subexpression elimination. Nodes are hash-consed, so structurally equal
    subexpressions are already one node; this pass also merges applications of an op
    marked ``commutative`` (``add``, ``mul``: equal bit for bit either way) that differ
    only in argument order, keeping the first one in evaluation order (so ``x1*x2``
    stays as written). ``minimum``/``maximum`` are not commutative in NumPy (they return
    the second argument on ties, so ``min(-0, 0) = 0`` but ``min(0, -0) = -0``)."""
    graph = _in_bodies(graph, cse)
    return rebuild(graph, _cse_rule())


def dce(graph: Graph) -> Graph:
    """Dead-code elimination: keep only what the outputs use (inputs are kept, as
    they are the kernel's signature), and drop labels of removed nodes."""
    graph = _in_bodies(graph, dce)
    return rebuild(graph, same_node)


def optimize(graph: Graph) -> Graph:
    """The default clean-up pipeline: constant folding, algebraic simplification and
    CSE at every node (repeated at a node until nothing changes), with dead code
    dropped; one bottom-up walk, equivalent to ``dce(cse(fold(simplify(fold(g)))))``."""
    graph = _in_bodies(graph, optimize)
    cse_rule = _cse_rule()

    def rule(node: Node, args: tuple[Node, ...]) -> Node:
        current = _fold_rule(node, args)
        for _ in range(8):
            if not current.args:
                break
            nxt = _fold_rule(current, current.args)
            if nxt is current:
                nxt = _simplify_rule(current, current.args)
            if nxt is current:
                break
            current = nxt
        return cse_rule(current, current.args) if current.args else current

    return rebuild(graph, rule)
