"""SymPy interop: graphs to SymPy expressions (:func:`to_sympy`) and back
(:func:`from_sympy`).

Uses: check a graph's derivatives symbolically (``sympy.diff(gc.to_sympy(g), x)``
against ``gc.grad(g)``), simplify or pretty-print a formula, and start from an
expression a user already has in SymPy. SymPy is imported only when these functions
run (``pip install 'graphc[sympy]'``).

**One table per direction.** :data:`TO_SYMPY` holds, for every registered primitive,
the SymPy expression of its NumPy semantics (``sigmoid`` → ``1/(1 + exp(-x))``,
``relu`` → ``Max(x, 0)``, ``heaviside`` → ``Heaviside(x, 0)``, comparisons → 0/1
``Piecewise``, ``where`` → ``Piecewise``); a test fails when a primitive lacks an entry.
:data:`FROM_SYMPY` maps SymPy's function classes to graph builders, including functions
that are not primitives but compose from them (``cot``, ``sec``, ``asinh``...).

Both directions walk expressions iteratively (no recursion limit) and share common
subexpressions: a SymPy expression is a DAG of hash-consed nodes, like a graph.
Round trips preserve values (up to rounding: SymPy may reorder sums); derivative
conventions at kinks may differ, since SymPy's ``Heaviside(0)`` is ½ and
``diff(Abs(x))`` is ``sign(x)`` only for real ``x``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..ir import BackendUnavailableError, Graph, GraphcError, Node, ops


def _sympy():
    try:
        import sympy
    except ImportError:  # pragma: no cover - sympy is a test dependency
        raise BackendUnavailableError(
            "SymPy interop needs SymPy: pip install 'graphc[sympy]' (or pip install "
            "sympy)") from None
    return sympy


# ---------------------------------------------------------------------------------
# graph -> SymPy: one entry per primitive. Each rule is rule(sp, *args, **params)
# with SymPy argument expressions and the node's static parameters.


def _indicator(sp, rel):
    return sp.Piecewise((sp.Integer(1), rel), (sp.Integer(0), True))


def _condition(sp, c):
    """The SymPy condition ``c != 0``, unwrapping a 0/1 indicator ``Piecewise``."""
    if (isinstance(c, sp.Piecewise) and len(c.args) == 2 and c.args[0].expr == 1
            and c.args[1].expr == 0 and c.args[1].cond == sp.true):
        return c.args[0].cond
    return sp.Ne(c, 0)


TO_SYMPY: dict[str, Callable[..., Any]] = {
    "add": lambda sp, a, b: a + b,
    "sub": lambda sp, a, b: a - b,
    "mul": lambda sp, a, b: a * b,
    "div": lambda sp, a, b: a / b,
    "neg": lambda sp, a: -a,
    "pow": lambda sp, a, b: a ** b,
    "exp": lambda sp, a: sp.exp(a),
    "log": lambda sp, a: sp.log(a),
    "sqrt": lambda sp, a: sp.sqrt(a),
    "sin": lambda sp, a: sp.sin(a),
    "cos": lambda sp, a: sp.cos(a),
    "tan": lambda sp, a: sp.tan(a),
    "asin": lambda sp, a: sp.asin(a),
    "acos": lambda sp, a: sp.acos(a),
    "atan": lambda sp, a: sp.atan(a),
    "sinh": lambda sp, a: sp.sinh(a),
    "cosh": lambda sp, a: sp.cosh(a),
    "tanh": lambda sp, a: sp.tanh(a),
    "log1p": lambda sp, a: sp.log(1 + a),
    "expm1": lambda sp, a: sp.exp(a) - 1,
    "abs": lambda sp, a: sp.Abs(a),
    "sign": lambda sp, a: sp.sign(a),
    "heaviside": lambda sp, a: sp.Heaviside(a, 0),
    "sigmoid": lambda sp, a: 1 / (1 + sp.exp(-a)),
    "logistic_pdf": lambda sp, a: sp.exp(-a) / (1 + sp.exp(-a)) ** 2,
    "relu": lambda sp, a: sp.Max(a, 0),
    "leaky_relu": lambda sp, a, alpha: sp.Piecewise((a, a > 0), (_num(sp, alpha) * a, True)),
    "elu": lambda sp, a, alpha: sp.Piecewise((a, a > 0),
                                             (_num(sp, alpha) * (sp.exp(a) - 1), True)),
    "softplus": lambda sp, a: sp.log(1 + sp.exp(a)),
    "minimum": lambda sp, a, b: sp.Min(a, b),
    "maximum": lambda sp, a, b: sp.Max(a, b),
    "lt": lambda sp, a, b: _indicator(sp, sp.Lt(a, b)),
    "le": lambda sp, a, b: _indicator(sp, sp.Le(a, b)),
    "gt": lambda sp, a, b: _indicator(sp, sp.Gt(a, b)),
    "ge": lambda sp, a, b: _indicator(sp, sp.Ge(a, b)),
    "eq": lambda sp, a, b: _indicator(sp, sp.Eq(a, b)),
    "ne": lambda sp, a, b: _indicator(sp, sp.Ne(a, b)),
    "where": lambda sp, c, a, b: sp.Piecewise((a, _condition(sp, c)), (b, True)),
    "floor": lambda sp, a: sp.floor(a),
    "ceil": lambda sp, a: sp.ceiling(a),
    "round": lambda sp, a: _round_half_even(sp, a),
    "mod": lambda sp, a, b: sp.Mod(a, b),  # SymPy's Mod has the divisor's sign, like %
    "exp2": lambda sp, a: 2 ** a,
    "log2": lambda sp, a: sp.log(a) / sp.log(2),
    "log10": lambda sp, a: sp.log(a) / sp.log(10),
    "asinh": lambda sp, a: sp.asinh(a),
    "acosh": lambda sp, a: sp.acosh(a),
    "atanh": lambda sp, a: sp.atanh(a),
    "atan2": lambda sp, a, b: sp.atan2(a, b),
    "hypot": lambda sp, a, b: sp.sqrt(a ** 2 + b ** 2),
    "erf": lambda sp, a: sp.erf(a),
    "erfc": lambda sp, a: sp.erfc(a),
    "cbrt": lambda sp, a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3),
    "clip": lambda sp, a, lo, hi: sp.Min(sp.Max(a, lo), hi),
    "logaddexp": lambda sp, a, b: sp.log(sp.exp(a) + sp.exp(b)),
    "square": lambda sp, a: a ** 2,
    "reciprocal": lambda sp, a: 1 / a,
}
"""SymPy form of each registered primitive (``input`` and ``const`` are leaves)."""


def _round_half_even(sp, a):
    """Round to the nearest integer, ties to even (NumPy's ``rint``), in SymPy:
    ``floor(a + 1/2)``, less 1 at a tie (``a + 1/2`` an integer) that lands on an odd
    number."""
    up = sp.floor(a + sp.Rational(1, 2))
    odd_tie = sp.And(sp.Eq(up, a + sp.Rational(1, 2)), sp.Eq(sp.Mod(up, 2), 1))
    return up - sp.Piecewise((1, odd_tie), (0, True))


def _num(sp, value: float):
    """A float as a SymPy number: integers exactly, others as 53-bit Floats."""
    if math.isnan(value):
        return sp.nan
    if math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    if value.is_integer() and abs(value) < 2 ** 53:
        return sp.Integer(int(value))
    return sp.Float(value)


def to_sympy(graph: Graph, symbols: Mapping[str, Any] | None = None, *,
             real: bool = True) -> Any:
    """The SymPy expression of each output of ``graph``.

    Args:
        graph: any graph of scalar nodes.
        symbols: ``{input name: sympy.Symbol}`` to use; other inputs become
            ``sympy.Symbol(name, real=real)``.
        real: declare new symbols real (so that ``diff(Abs(x))`` is ``sign(x)``).

    Returns:
        One expression per output, arranged like ``graph.structure`` (a single
        expression for a single-output graph; ``f, (df/dx1, df/dx2)`` for
        ``value_and_grad``).

    Raises:
        GraphcError: a primitive without a SymPy form.
        BackendUnavailableError: SymPy is not installed.
    """
    sp = _sympy()
    symbols = dict(symbols or {})
    from ..ir.graph import postorder
    done: dict[Node, Any] = {}
    for n in postorder(graph.outputs):
        if n.is_input:
            done[n] = (symbols[n.name] if n.name in symbols
                       else sp.Symbol(n.name, real=real))
        elif n.is_const:
            done[n] = _num(sp, n.value)
        else:
            rule = TO_SYMPY.get(n.prim.name)
            if rule is None:
                raise GraphcError(f"primitive {n.prim.name!r} has no SymPy form; add it to "
                                  f"graphc.interop.sympy.TO_SYMPY")
            done[n] = rule(sp, *(done[a] for a in n.args), **dict(n.params))
    return graph.output_tree([done[o] for o in graph.outputs])


# ---------------------------------------------------------------------------------
# SymPy -> graph


def _fold(builder, nodes: Sequence[Node]) -> Node:
    acc = nodes[0]
    for n in nodes[1:]:
        acc = builder(acc, n)
    return acc


def _heaviside(x: Node, *h0: Node) -> Node:
    # SymPy: Heaviside(x, H0) is 0 for x < 0, 1 for x > 0, H0 at 0 (H0 = 1/2 if omitted).
    if h0 and h0[0].is_const and h0[0].value == 0.0:
        return ops.heaviside(x)
    at0 = h0[0] if h0 else ops.const(0.5, x.dtype)
    return ops.where(ops.gt(x, 0.0), 1.0, ops.where(ops.lt(x, 0.0), 0.0, at0))


FROM_SYMPY: dict[str, Callable[..., Node]] = {
    "sin": ops.sin, "cos": ops.cos, "tan": ops.tan, "asin": ops.asin, "acos": ops.acos,
    "atan": ops.atan, "sinh": ops.sinh, "cosh": ops.cosh, "tanh": ops.tanh,
    "exp": ops.exp, "log": ops.log, "Abs": ops.abs, "sign": ops.sign,
    "Heaviside": _heaviside, "atan2": ops.atan2,
    "Max": lambda *a: _fold(ops.maximum, a), "Min": lambda *a: _fold(ops.minimum, a),
    "cot": lambda x: ops.div(ops.cos(x), ops.sin(x)),
    "sec": lambda x: ops.div(1.0, ops.cos(x)),
    "csc": lambda x: ops.div(1.0, ops.sin(x)),
    "asinh": ops.asinh, "acosh": ops.acosh, "atanh": ops.atanh,
    "floor": ops.floor, "ceiling": ops.ceil, "Mod": ops.mod, "erf": ops.erf,
    "erfc": ops.erfc,
    "StrictLessThan": ops.lt, "LessThan": ops.le, "StrictGreaterThan": ops.gt,
    "GreaterThan": ops.ge, "Equality": ops.eq, "Unequality": ops.ne,
    "And": lambda *a: _fold(ops.mul, [ops.ne(x, 0.0) for x in a]),
    "Or": lambda *a: _fold(ops.maximum, [ops.ne(x, 0.0) for x in a]),
    "Not": lambda a: ops.eq(a, 0.0),
}
"""Graph builder for each SymPy function class accepted by :func:`from_sympy` (by class
name), beside ``Add``, ``Mul``, ``Pow``, ``Piecewise``, symbols and numbers."""


class _Plan:
    """How one SymPy expression becomes a node: child expressions, then ``combine``."""

    __slots__ = ("children", "combine")

    def __init__(self, children: list, combine: Callable[[list[Node]], Node]):
        self.children = children
        self.combine = combine


def _plan(sp, expr, dtype: str) -> _Plan:
    if isinstance(expr, sp.Add):
        terms = list(expr.args)
        negs = [t.could_extract_minus_sign() for t in terms]
        if all(negs):  # -(a + b + ...)
            kids = [-t for t in terms]
            return _Plan(kids, lambda ns: ops.neg(_fold(ops.add, ns)))
        order = sorted(range(len(terms)), key=lambda i: negs[i])  # positive terms first
        kids = [(-terms[i] if negs[i] else terms[i]) for i in order]
        signs = [negs[i] for i in order]

        def combine_add(ns):
            acc = ns[0]
            for s, n in zip(signs[1:], ns[1:]):
                acc = ops.sub(acc, n) if s else ops.add(acc, n)
            return acc
        return _Plan(kids, combine_add)
    if isinstance(expr, sp.Mul):
        coeff, factors = expr.as_coeff_mul()
        num, den = [], []
        for f in factors:
            if isinstance(f, sp.Pow) and f.exp.is_number and f.exp.is_negative:
                den.append(f.base if f.exp == -1 else sp.Pow(f.base, -f.exp))
            else:
                num.append(f)
        negative = coeff.is_negative
        c = float(-coeff if negative else coeff)

        def combine_mul(ns):
            top = ns[:len(num)]
            bottom = ns[len(num):]
            if c != 1.0 or not top:
                top = [ops.const(c, dtype)] + top
            acc = _fold(ops.mul, top)
            if bottom:
                acc = ops.div(acc, _fold(ops.mul, bottom))
            return ops.neg(acc) if negative else acc
        return _Plan(num + den, combine_mul)
    if isinstance(expr, sp.Pow):
        b, e = expr.args
        if b == sp.E:
            return _Plan([e], lambda ns: ops.exp(ns[0]))
        if e == sp.Rational(1, 2):
            return _Plan([b], lambda ns: ops.sqrt(ns[0]))
        if e.is_number and e.is_negative:
            pos = -e
            if pos == 1:
                return _Plan([b], lambda ns: ops.div(1.0, ns[0]))
            if pos == sp.Rational(1, 2):
                return _Plan([b], lambda ns: ops.div(1.0, ops.sqrt(ns[0])))
            return _Plan([b, pos], lambda ns: ops.div(1.0, ops.pow(ns[0], ns[1])))
        return _Plan([b, e], lambda ns: ops.pow(ns[0], ns[1]))
    if isinstance(expr, sp.Piecewise):
        pairs = list(expr.args)
        kids = []
        for p in pairs:
            kids += [p.expr, p.cond]

        def combine_pw(ns):
            acc = ops.const(math.nan, dtype)  # SymPy: no condition true -> undefined
            for k in range(len(pairs) - 1, -1, -1):
                e_node, c_node = ns[2 * k], ns[2 * k + 1]
                if pairs[k].cond == sp.true:
                    acc = e_node
                else:
                    acc = ops.where(c_node, e_node, acc)
            return acc
        return _Plan(kids, combine_pw)
    name = type(expr).__name__
    rule = FROM_SYMPY.get(name)
    if rule is None and isinstance(expr, sp.Function):
        rule = FROM_SYMPY.get(getattr(expr.func, "__name__", ""))
    if rule is None:
        known = sorted(set(FROM_SYMPY) | {"Add", "Mul", "Pow", "Piecewise", "Symbol",
                                          "numbers"})
        raise GraphcError(f"from_sympy: {name} ({str(expr)[:60]}) has no graphc form; "
                          f"supported: {', '.join(known)}")
    args = list(expr.args)
    return _Plan(args, lambda ns: rule(*ns))


def from_sympy(expr: Any, inputs: Iterable[Any] | None = None, *,
               names: Sequence[str] | None = None, dtype: str = "float64") -> Graph:
    """A graph computing the SymPy expression(s) ``expr``.

    Args:
        expr: a SymPy expression, or a list/tuple/Matrix of them (one output each).
        inputs: the input symbols in the order kernels take them (``sympy.Symbol``
            objects or their names); default: the free symbols sorted by name. Listed
            symbols need not appear.
        names: output names (default ``f``, or ``f0, f1, ...``).
        dtype: ``"float64"`` (default) or ``"float32"``.

    Returns:
        A graph whose inputs are named after the symbols. Subexpressions free of
        symbols are evaluated by SymPy to the nearest float (``sqrt(2)``, ``pi/4``).

    Raises:
        GraphcError: a free symbol that is not an input, or a SymPy function without a
            graphc form (the message lists the supported ones).
    """
    sp = _sympy()
    exprs = list(expr) if isinstance(expr, (list, tuple, sp.MatrixBase)) else [expr]
    exprs = [sp.sympify(e) if isinstance(e, (int, float)) else e for e in exprs]
    for e in exprs:
        if not isinstance(e, sp.Basic):
            raise GraphcError(f"from_sympy needs SymPy expressions, got {type(e).__name__}")
    free = set().union(*(e.free_symbols for e in exprs))
    if inputs is None:
        input_names = sorted({s.name for s in free})
    else:
        input_names = [s if isinstance(s, str) else getattr(s, "name", None) for s in inputs]
        if any(n is None for n in input_names):
            raise GraphcError("inputs must be SymPy symbols or their names")
        missing = sorted({s.name for s in free} - set(input_names))
        if missing:
            raise GraphcError(f"from_sympy: symbol(s) {', '.join(missing)} are not among "
                              f"the inputs ({', '.join(input_names) or 'none'})")
    var = {n: ops.variable(n, dtype) for n in input_names}
    memo: dict[Any, Node] = {}
    plans: dict[Any, _Plan] = {}

    def leaf(e) -> Node | None:
        if isinstance(e, sp.Symbol):
            return var[e.name]
        if e in (sp.true, sp.false):
            return ops.const(1.0 if e == sp.true else 0.0, dtype)
        if not e.free_symbols and (e.is_number or e.is_Number or e.is_NumberSymbol):
            try:
                return ops.const(float(e), dtype)
            except (TypeError, OverflowError):
                if e.is_Number or e.is_extended_real is False:
                    raise GraphcError(f"from_sympy: {e} is not a real number") from None
                return None  # build it structurally (e.g. a huge exp that overflows)
        return None

    for root in exprs:
        stack = [root]
        while stack:
            e = stack[-1]
            if e in memo:
                stack.pop()
                continue
            node = leaf(e)
            if node is not None:
                memo[e] = node
                stack.pop()
                continue
            plan = plans.get(e)
            if plan is None:
                plan = plans[e] = _plan(sp, e, dtype)
                pending = [c for c in plan.children if c not in memo]
                if pending:
                    stack.extend(reversed(pending))
                    continue
            pending = [c for c in plan.children if c not in memo]
            if pending:
                stack.extend(reversed(pending))
                continue
            memo[e] = plan.combine([memo[c] for c in plan.children])
            stack.pop()
    outs = [memo[e] for e in exprs]
    if names is None:
        names = ["f"] if len(outs) == 1 else [f"f{i}" for i in range(len(outs))]
    return Graph([var[n] for n in input_names], outs, list(names))


__all__ = ["FROM_SYMPY", "TO_SYMPY", "from_sympy", "to_sympy"]
