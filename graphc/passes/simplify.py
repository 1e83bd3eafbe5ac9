"""Clean-up passes: constant folding, algebraic simplification, CSE, dead-code removal.

Each pass is a pure ``Graph -> Graph`` function. None changes a finite result: the
algebraic rules are identities in IEEE arithmetic for every finite operand (they may
differ only in the sign of a zero, or where the original result was NaN or infinite,
e.g. ``x^0 = 1``). Rules that change rounding (reassociation, ``x/c = x·(1/c)`` for
inexact ``1/c``) or NaN-ness of finite inputs (``x·0 = 0`` for infinite ``x``, ``x - x``)
are deliberately absent.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Graph, Node, ops
from .rewrite import rebuild, same_node


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
    return rebuild(graph, _fold_rule)


def _c(n: Node, v: float) -> bool:
    return n.is_const and n.value == v


def _simplify_node(node: Node, args: tuple[Node, ...]) -> Node:
    """One round of the algebraic rules at ``node``; returns the replacement."""
    p = node.prim
    if p is ops.add_p:
        a, b = args
        if _c(b, 0.0):
            return a
        if _c(a, 0.0):
            return b
        if b.prim is ops.neg_p:
            return ops.sub(a, b.args[0])
        if a.prim is ops.neg_p:
            return ops.sub(b, a.args[0])
    elif p is ops.sub_p:
        a, b = args
        if _c(b, 0.0):
            return a
        if _c(a, 0.0):
            return ops.neg(b)
        if b.prim is ops.neg_p:
            return ops.add(a, b.args[0])
    elif p is ops.mul_p:
        a, b = args
        if _c(b, 1.0):
            return a
        if _c(a, 1.0):
            return b
        if _c(b, -1.0):
            return ops.neg(a)
        if _c(a, -1.0):
            return ops.neg(b)
        if a.prim is ops.neg_p and b.prim is ops.neg_p:
            return ops.mul(a.args[0], b.args[0])
    elif p is ops.div_p:
        a, b = args
        if _c(b, 1.0):
            return a
        if b.is_const and b.value != 0 and math.isfinite(b.value) and \
                math.frexp(abs(b.value))[0] == 0.5:
            # x / 2^k = x * 2^-k exactly (both are correctly rounded, same value)
            return ops.mul(a, ops.const(1.0 / b.value, b.dtype))
        if _c(b, -1.0):
            return ops.neg(a)
        if a.prim is ops.neg_p and b.prim is ops.neg_p:
            return ops.div(a.args[0], b.args[0])
    elif p is ops.neg_p:
        (a,) = args
        if a.prim is ops.neg_p:
            return a.args[0]
        if a.prim is ops.sub_p:
            return ops.sub(a.args[1], a.args[0])
    elif p is ops.pow_p:
        a, b = args
        if _c(b, 1.0):
            return a
        if _c(b, 0.0):
            return ops.const(1.0, node.dtype, node.shape)
        if _c(b, 0.5):
            return ops.sqrt(a)
        if _c(b, -1.0):
            return ops.div(ops.const(1.0, node.dtype), a)
    elif p is ops.where_p:
        c, a, b = args
        if c.is_const:
            return a if c.value != 0 else b
        if a is b:
            return a
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
    if current.shape != node.shape:  # x*1 -> x is wrong where 1 broadcasts x
        return same_node(node, args)
    return current



def simplify(graph: Graph) -> Graph:
    """Algebraic simplification to a fixed point at every node (bottom-up): ``x+0``,
    ``x·1``, ``x·(-1)``, ``x/1``, ``--x``, ``x+(-y)``, ``x^1``, ``x^0``, ``x^0.5 = sqrt x``,
    ``x^-1 = 1/x``, ``x/2^k = x·2^-k``, ``where`` on a constant condition. See the module docstring for
    what is never rewritten."""

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
    subexpressions are already one node; this pass also merges applications of a
    commutative op (``add``, ``mul``, ``min``, ``max``) that differ only in argument
    order, keeping the first one in evaluation order (so ``x1*x2`` stays as written)."""
    return rebuild(graph, _cse_rule())


def dce(graph: Graph) -> Graph:
    """Dead-code elimination: keep only what the outputs use (inputs are kept, as
    they are the kernel's signature), and drop labels of removed nodes."""
    return rebuild(graph, same_node)


def optimize(graph: Graph) -> Graph:
    """The default clean-up pipeline: constant folding, algebraic simplification and
    CSE at every node (repeated at a node until nothing changes), with dead code
    dropped; one bottom-up walk, equivalent to ``dce(cse(fold(simplify(fold(g)))))``."""
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
