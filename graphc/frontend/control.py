"""Loops and branches in traced Python functions: ``gc.scan``, ``gc.fori_loop``,
``gc.while_loop``, ``gc.cond``, ``gc.switch`` (the signatures of ``jax.lax``).

Python's own ``for`` unrolls while a function is traced (a 1,000-step integrator
becomes 1,000 copies of its step) and Python's ``if``/``while`` cannot test a graph
value at all. These functions instead trace their body functions *once*, on fresh
graph inputs, and build one control-flow node holding the body as a sub-graph
(:mod:`graphc.ir.control_flow`). Values the bodies use from the enclosing function
(closures: parameters, values computed before the loop) become loop-invariant operands
of the node. Carries, per-step inputs and operands are pytrees: a graph value, a
number, a NumPy array, or tuples, lists and dicts of them.

Called with no graph values anywhere (all numbers), each function simply runs its
Python loop or branch on the numbers, as ``jax.lax`` does outside ``jit``.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from ..ir import GraphcError, Node, ShapeError, ops
from ..ir import control_flow as cf
from ..ir.graph import Graph

_counter = itertools.count()
_lock = threading.Lock()


# ---------------------------------------------------------------------------------
# pytrees

def _flatten(tree) -> tuple[list, Any]:
    """``(leaves, treedef)`` of tuples, lists and dicts (sorted keys); None is empty."""
    if tree is None:
        return [], None
    if isinstance(tree, (tuple, list)):
        leaves, defs = [], []
        for t in tree:
            lv, d = _flatten(t)
            leaves += lv
            defs.append((len(lv), d))
        return leaves, (type(tree), defs)
    if isinstance(tree, dict):
        keys = sorted(tree)
        lv, d = _flatten([tree[k] for k in keys])
        return lv, (dict, keys, d)
    return [tree], "*"


def _unflatten(treedef, leaves: Sequence) -> Any:
    if treedef is None:
        return None
    if treedef == "*":
        return leaves[0]
    if treedef[0] is dict:
        _, keys, d = treedef
        return dict(zip(keys, _unflatten(d, leaves)))
    kind, defs = treedef
    out, pos = [], 0
    for n, d in defs:
        out.append(_unflatten(d, leaves[pos:pos + n]))
        pos += n
    return kind(out)


def _is_node_tree(*trees) -> bool:
    """True while a function is traced, or when a leaf of ``trees`` is a graph value:
    then a loop becomes a graph node; otherwise it runs on the numbers."""
    from .tracer import is_tracing
    return is_tracing() or any(isinstance(v, Node) for t in trees for v in _flatten(t)[0])


def _weak_dtype(*leaf_lists) -> str:
    """The dtype a Python number among loop operands takes: float32 when every graph
    value and NumPy float among them is float32, else float64 (Python numbers are
    weakly typed, as in JAX: ``while_loop(c, b, (x32, 0.0))`` carries two float32s)."""
    kinds = {("float32" if v.dtype == np.float32 else "float64") if isinstance(
        v, (np.ndarray, np.floating)) else v.dtype
        for leaves in leaf_lists for v in leaves
        if isinstance(v, (Node, np.ndarray, np.floating))}
    return "float32" if kinds == {"float32"} else "float64"


def _as_node(v, what: str, like: Node | None = None, weak: str = "float64") -> Node:
    """A leaf as a graph value: nodes pass through, numbers and NumPy arrays become
    constants (of ``like``'s dtype when given, else float32 for float32 NumPy values,
    ``weak`` for Python numbers (see :func:`_weak_dtype`), float64 otherwise)."""
    if isinstance(v, Node):
        return v
    if isinstance(v, (bool, np.bool_)):
        v = float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        dtype = like.dtype if like is not None else (
            "float32" if isinstance(v, np.float32) else
            "float64" if isinstance(v, np.floating) else weak)
        return ops.const(float(v), dtype, like.shape if like is not None else ())
    if isinstance(v, np.ndarray):
        from ..ir.numpy_dispatch import array_constant
        dtype = like.dtype if like is not None else (
            "float32" if v.dtype == np.float32 else "float64")
        return array_constant(v, dtype, what)
    raise GraphcError(f"{what}: {v!r} ({type(v).__name__}) is not a graph value, a number "
                      f"or a NumPy array")


# ---------------------------------------------------------------------------------
# closing body graphs over their free values

def _fresh_inputs(like: Sequence[Node], tag: str, shapes=None) -> list[Node]:
    with _lock:
        k = next(_counter)
    return [ops.variable(f"%{tag}{i}@{k}", n.dtype, n.shape if shapes is None else shapes[i])
            for i, n in enumerate(like)]


def _close(output_lists: Sequence[Sequence[Node]], fresh: Sequence[Node],
           canon: Sequence[Node]) -> tuple[list[Graph], list[Node]]:
    """Bodies over ``canon`` (+ loop-invariant inputs ``k0, k1...``) from outputs traced
    on ``fresh`` inputs. Values the outputs use that do not depend on ``fresh`` (outer
    graph values: closures and whatever was computed from them), except constants, are
    cut out and become loop-invariant operands; returns ``(graphs, operands)``."""
    fresh_ids = {id(f): c for f, c in zip(fresh, canon)}
    dep: dict[int, bool] = {}
    free: dict[int, Node] = {}

    def visit(root: Node) -> None:
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if id(n) in dep:
                continue
            if id(n) in fresh_ids:
                dep[id(n)] = True
                continue
            if not ready:
                stack.append((n, True))
                stack.extend((a, False) for a in n.args if id(a) not in dep)
                continue
            dep[id(n)] = any(dep[id(a)] for a in n.args)

    for outs in output_lists:
        for o in outs:
            visit(o)
    for outs in output_lists:
        order: list[Node] = []
        seen: set[int] = set()
        stack = list(outs)
        for o in outs:
            if not dep[id(o)] and not o.is_const:
                free.setdefault(id(o), o)
        while stack:
            n = stack.pop()
            if id(n) in seen or not dep[id(n)]:
                continue
            seen.add(id(n))
            order.append(n)
            for a in n.args:
                if dep[id(a)]:
                    stack.append(a)
                elif not a.is_const:
                    free.setdefault(id(a), a)
    operands = list(free.values())
    kvars = [ops.variable(f"k{i}", n.dtype, n.shape) for i, n in enumerate(operands)]
    subst: dict[int, Node] = dict(fresh_ids)
    subst.update({id(n): v for n, v in zip(operands, kvars)})
    graphs = []
    for outs in output_lists:
        new: dict[int, Node] = {}

        def build(root: Node) -> Node:
            stack = [(root, False)]
            while stack:
                n, ready = stack.pop()
                if id(n) in new:
                    continue
                if id(n) in subst:
                    new[id(n)] = subst[id(n)]
                    continue
                if not n.args:
                    new[id(n)] = n
                    continue
                if not ready:
                    stack.append((n, True))
                    stack.extend((a, False) for a in n.args if id(a) not in new)
                    continue
                new[id(n)] = cf.apply(n.prim, *[new[id(a)] for a in n.args],
                                      **{k: v for k, v in n.params if not k.startswith("_")})
            return new[id(root)]

        graphs.append(Graph(list(canon) + kvars, [build(o) for o in outs]))
    return graphs, operands


def _call_body(fn: Callable, args: tuple, what: str):
    try:
        return fn(*args)
    except TypeError as exc:
        raise GraphcError(f"{what}: calling {getattr(fn, '__name__', fn)!r} failed: "
                          f"{exc}") from None


def _match(leaves: Sequence, like: Sequence[Node], what: str) -> list[Node]:
    """Body results as nodes of the shapes and dtypes of ``like`` (numbers become
    constants of that shape)."""
    out = []
    for i, (v, c) in enumerate(zip(leaves, like)):
        n = _as_node(v, what, c) if not isinstance(v, Node) else v
        if n.shape != c.shape:
            raise ShapeError(f"{what}: carry leaf {i} enters as shape {c.shape} but the body "
                             f"returns shape {n.shape}; a carry keeps its shape")
        if n.dtype != c.dtype:
            raise ShapeError(f"{what}: carry leaf {i} enters as {c.dtype} but the body "
                             f"returns {n.dtype}; a carry keeps its dtype")
        out.append(n)
    return out


# ---------------------------------------------------------------------------------
# the public functions

def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False, *,
         checkpoint="auto"):
    """Loop ``f`` over the leading axis of ``xs`` with a carry, as ``jax.lax.scan``::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:                  # (xs[length-1] first when reverse=True)
                carry, y = f(carry, x)
                ys.append(y)
            return carry, np.stack(ys)

    but as *one* graph node: ``f`` is traced once.

    Args:
        f: ``f(carry, x) -> (carry, y)``; carry, x and y are pytrees (tuples, lists and
            dicts of graph values, numbers or NumPy arrays). ``y`` may be None.
        init: the initial carry; each leaf keeps its shape and dtype.
        xs: per-step inputs, leaves of a common leading axis ``length`` (or None).
        length: the trip count, needed when ``xs`` is None.
        reverse: run from the last step to the first.
        checkpoint: what reverse mode stores: ``"auto"`` (default: every carry up to
            1024 steps, else ``"sqrt"``), ``"all"``, ``"sqrt"`` (every ⌈√T⌉-th carry:
            O(√T) memory), ``"recursive"`` (O(log T) memory), or an int k (every k-th
            carry); all give bit-identical gradients (docs/loops.md).

    Returns:
        ``(final carry, ys)`` with ys' leaves stacked along a new leading axis.

    Raises:
        ShapeError: xs leaves of different leading sizes, no length, a carry whose shape
            or dtype changes, symbolic shapes.
        GraphcError: leaves that are not graph values, numbers or arrays.
    """
    x_leaves, x_def = _flatten(xs)
    if length is None:
        if not x_leaves:
            raise ShapeError("scan: give xs or length=")
    if x_leaves:
        x_nodes = [_as_node(v, "scan xs") for v in x_leaves]
        sizes = {n.shape[0] if n.shape else None for n in x_nodes}
        if None in sizes or len(sizes) != 1:
            raise ShapeError(f"scan: every xs leaf needs the same leading axis, got shapes "
                             f"{[n.shape for n in x_nodes]}")
        n0 = sizes.pop()
        if length is not None and length != n0:
            raise ShapeError(f"scan: length={length} but xs has {n0} rows")
        length = n0
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise ShapeError(f"scan: length must be an int >= 0, got {length!r}")
    if not _is_node_tree(init, xs):
        carry, ys = init, []
        order = range(length - 1, -1, -1) if reverse else range(length)
        for t in order:
            xt = _unflatten(x_def, [np.asarray(v)[t] for v in x_leaves]) if x_leaves else None
            carry, y = f(carry, xt)
            ys.append((t, y))
        ys.sort(key=lambda p: p[0])
        if not ys or _flatten(ys[0][1])[1] is None:
            return carry, None
        y_def = _flatten(ys[0][1])[1]
        cols = list(zip(*[_flatten(y)[0] for _, y in ys]))
        return carry, _unflatten(y_def, [np.stack([np.asarray(v) for v in c]) for c in cols])
    c_leaves, c_def = _flatten(init)
    if not c_leaves:
        raise ShapeError("scan: the carry is empty; give at least one carry value")
    weak = _weak_dtype(c_leaves, x_leaves)
    c_nodes = [_as_node(v, "scan init", weak=weak) for v in c_leaves]
    x_nodes = [_as_node(v, "scan xs", weak=weak) for v in x_leaves]
    if length == 0:
        return init, None
    fc = _fresh_inputs(c_nodes, "c")
    fx = _fresh_inputs(x_nodes, "x", [n.shape[1:] for n in x_nodes])
    res = _call_body(f, (_unflatten(c_def, fc), _unflatten(x_def, fx) if x_leaves else None),
                     "scan")
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        raise GraphcError("scan: the body must return a pair (carry, y)")
    new_c, y = res
    nc_leaves, nc_def = _flatten(new_c)
    if nc_def != c_def:
        raise ShapeError("scan: the body returns a carry of another structure than init")
    nc = _match(nc_leaves, fc, "scan")
    y_leaves, y_def = _flatten(y)
    ys = [_as_node(v, "scan y") for v in y_leaves]
    canon = ([ops.variable(f"c{i}", n.dtype, n.shape) for i, n in enumerate(fc)] +
             [ops.variable(f"x{i}", n.dtype, n.shape) for i, n in enumerate(fx)])
    (body,), consts = _close([nc + ys], fc + fx, canon)
    outs = cf.scan_node(body, c_nodes, x_nodes, consts, length, reverse=reverse,
                        checkpoint=checkpoint)
    carry = _unflatten(c_def, outs[:len(c_nodes)])
    return carry, _unflatten(y_def, outs[len(c_nodes):])


def fori_loop(lower, upper, body_fun: Callable, init_val, *, max_steps: int | None = None):
    """``for i in range(lower, upper): val = body_fun(i, val)``, as ``jax.lax.fori_loop``.

    With int bounds it is a :func:`scan` of ``upper - lower`` steps whose carry includes
    ``i`` (a float64 graph value in the body); with graph-value bounds it is a
    :func:`while_loop` (``max_steps`` then bounds it for reverse mode).

    Raises:
        GraphcError: bounds that are neither ints nor graph values.
    """
    static = all(isinstance(b, (int, np.integer)) and not isinstance(b, bool)
                 for b in (lower, upper))
    if static:
        lower, upper = int(lower), int(upper)
        n = max(0, upper - lower)
        if n == 0:
            return init_val
        if not _is_node_tree(init_val):
            val = init_val
            for i in range(lower, upper):
                val = body_fun(i, val)
            return val

        def step(carry, _):
            i, val = carry
            return (i + 1.0, body_fun(i, val)), None
        (_, val), _ = scan(step, (ops.const(float(lower)), init_val), length=n)
        return val
    if not all(isinstance(b, (int, float, np.integer, np.floating, Node)) for b in (lower, upper)):
        raise GraphcError(f"fori_loop: bounds must be ints or graph values, got "
                          f"{type(lower).__name__} and {type(upper).__name__}")
    lo = _as_node(lower, "fori_loop lower")
    hi = _as_node(upper, "fori_loop upper")
    _, val = while_loop(lambda c: c[0] < hi, lambda c: (c[0] + 1.0, body_fun(c[0], c[1])),
                        (lo, init_val), max_steps=max_steps)
    return val


def while_loop(cond_fun: Callable, body_fun: Callable, init_val, *,
               max_steps: int | None = None):
    """``while cond_fun(val): val = body_fun(val)``, as ``jax.lax.while_loop``.

    Args:
        cond_fun: ``cond_fun(val) -> scalar`` (continue while nonzero).
        body_fun: ``body_fun(val) -> val`` (same structure, shapes and dtypes).
        init_val: a pytree of graph values, numbers or arrays.
        max_steps: None, or stop after this many steps: then reverse mode can
            differentiate the loop (forward mode always can). See docs/loops.md.

    Raises:
        ShapeError: a non-scalar condition, a carry whose shape or dtype changes.
    """
    if not _is_node_tree(init_val):
        val, steps = init_val, 0
        while (max_steps is None or steps < max_steps) and cond_fun(val):
            val = body_fun(val)
            steps += 1
        return val
    c_leaves, c_def = _flatten(init_val)
    weak = _weak_dtype(c_leaves)
    c_nodes = [_as_node(v, "while_loop init", weak=weak) for v in c_leaves]
    fc = _fresh_inputs(c_nodes, "c")
    tree = _unflatten(c_def, fc)
    pred = _as_node(_call_body(cond_fun, (tree,), "while_loop cond"), "while_loop cond")
    if pred.shape != ():
        raise ShapeError(f"while_loop: the condition must be a scalar, got shape {pred.shape}")
    new = _call_body(body_fun, (tree,), "while_loop body")
    nl, nd = _flatten(new)
    if nd != c_def:
        raise ShapeError("while_loop: the body returns another structure than init_val")
    nc = _match(nl, fc, "while_loop")
    canon = [ops.variable(f"c{i}", n.dtype, n.shape) for i, n in enumerate(fc)]
    (g_cond, g_body), consts = _close([[pred], nc], fc, canon)
    outs = cf.while_node(g_cond, g_body, c_nodes, consts, max_steps)
    return _unflatten(c_def, outs)


def switch(index, branches: Sequence[Callable], *operands):
    """``branches[clip(floor(index), 0, len(branches) - 1)](*operands)``, as
    ``jax.lax.switch``: only the chosen branch runs, so a NaN or an infinity in another
    branch reaches neither the value nor its derivatives (unlike ``gc.where``, which
    computes both sides). A NaN index takes branch 0.

    Raises:
        ShapeError: a non-scalar index, branches whose results differ in structure,
            shape or dtype.
    """
    branches = list(branches)
    if not branches:
        raise GraphcError("switch needs at least one branch")
    if not isinstance(index, Node):
        k = cf.branch_index(float(index), len(branches))
        return branches[k](*operands)
    o_leaves, o_def = _flatten(tuple(operands))
    weak = _weak_dtype(o_leaves)
    o_nodes = [_as_node(v, "switch operand", weak=weak) for v in o_leaves]
    fo = _fresh_inputs(o_nodes, "o")
    args = _unflatten(o_def, fo)
    results = [_call_body(b, tuple(args), f"switch branch {k}") for k, b in enumerate(branches)]
    flat = [_flatten(r) for r in results]
    r_def = flat[0][1]
    for k, (_, d) in enumerate(flat[1:], start=1):
        if d != r_def:
            raise ShapeError(f"switch: branch {k} returns another structure than branch 0")
    like = [_as_node(v, "switch result") for v in flat[0][0]]
    outs = []
    for k, (leaves, _) in enumerate(flat):
        nodes = [_as_node(v, "switch result", c if not isinstance(v, Node) else None)
                 for v, c in zip(leaves, like)]
        for i, (n, c) in enumerate(zip(nodes, like)):
            if n.shape != c.shape or n.dtype != c.dtype:
                raise ShapeError(f"switch: result {i} of branch {k} is {n.dtype}{list(n.shape)}"
                                 f", of branch 0 {c.dtype}{list(c.shape)}; every branch must "
                                 f"return the same shapes and dtypes")
        outs.append(nodes)
    canon = [ops.variable(f"o{i}", n.dtype, n.shape) for i, n in enumerate(fo)]
    graphs, consts = _close(outs, fo, canon)
    res = cf.switch_node(index, graphs, o_nodes + consts)
    return _unflatten(r_def, res)


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """``true_fun(*operands) if pred else false_fun(*operands)``, as ``jax.lax.cond``,
    evaluating only the branch taken (a NaN ``pred`` counts as true, like ``bool``).
    See :func:`switch`.

    Raises:
        ShapeError: a non-scalar ``pred``, branches whose results differ.
    """
    if isinstance(pred, Node):
        if pred.shape != ():
            raise ShapeError(f"cond: the predicate must be a scalar, got shape {pred.shape}")
        return switch(ops.ne(pred, 0.0), [false_fun, true_fun], *operands)
    return true_fun(*operands) if pred else false_fun(*operands)


__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]
