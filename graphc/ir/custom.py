"""Custom derivative rules: ``custom_jvp`` and ``custom_vjp`` (JAX's API and meaning),
and the node substitution that inlines graphs into graphs.

A function decorated with :func:`custom_jvp` or :func:`custom_vjp` computes its value
with its body, but the AD passes differentiate it with the rules the user gives
(``f.defjvp(rule)``, ``f.defvjp(fwd, bwd)``), as in JAX (``jax.custom_jvp``,
``jax.custom_vjp``; see JAX's "Custom derivative rules for JAX-transformable Python
functions"). Called on graph values, it builds one node of a **custom primitive**: a
:class:`~graphc.ir.primitive.Primitive` record made for that function and those argument
shapes and dtypes, whose

* ``impl`` evaluates the body (the NumPy semantics, so the interpreter and constant
  folding need nothing more),
* ``decompose`` is the body itself, inlined by :func:`inline_custom` (which
  :func:`graphc.compile` runs first, so every backend runs custom functions with no
  backend code),
* ``jvp`` / ``vjp`` come from the user's rules, called on the node's arguments (graph
  nodes) when the AD passes reach the node; a rule given in one mode is transposed to
  the other by :func:`graphc.passes.ad.linear_transpose` (JAX derives the VJP of a
  ``custom_jvp`` function the same way; a ``custom_vjp`` function gets forward mode
  here too, which JAX refuses). Derivatives of higher order differentiate the nodes the
  rules built, as JAX does.

Custom primitives are **not** entered in :data:`graphc.ir.PRIMITIVES` (the registry is
the fixed set of graphc's operations, which the registry-driven tests and the backends'
tables walk); their records live in :data:`CUSTOM` by name. Consequences:
:meth:`Graph.verify` reports them as unregistered, and graphs holding them do not pickle
(compile first: :func:`inline_custom` removes them).

On numbers (no graph value among the arguments) a custom function simply calls its
body, as JAX does outside a trace.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import weakref
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import GraphcError, ShapeError
from .graph import postorder
from .node import Node
from .primitive import Primitive, apply, elementwise_shape

CUSTOM: "weakref.WeakValueDictionary[str, Primitive]" = weakref.WeakValueDictionary()
"""The custom primitive records alive, by name (``custom_jvp:f#1.0``)."""

_OWNER: "weakref.WeakKeyDictionary[Primitive, Any]" = weakref.WeakKeyDictionary()
_FUNCTION_IDS = itertools.count(1)
_VAR_IDS = itertools.count(1)
_RECORD_IDS = itertools.count(1)


def is_custom(prim: Primitive) -> bool:
    """True for the record of a :func:`custom_jvp` / :func:`custom_vjp` function."""
    return prim in _OWNER


# ---------------------------------------------------------------------------------
# substitution

class NotElementwiseError(GraphcError):
    """:func:`substitute` with ``batch_check``: a replacement of another shape reached
    an array operation."""


def substitute(outputs: Sequence[Node], mapping: Mapping[int, Node], *,
               batch_check: str | None = None) -> list[Node]:
    """``outputs`` rebuilt with the nodes of ``mapping`` (``{id(old node): new node}``,
    usually input nodes) replaced: every node that depends on a replaced one is rebuilt
    with :func:`graphc.ir.apply` (dtypes and shapes inferred again; a custom node is
    bound again, re-tracing its body for new argument shapes); the others are kept.
    Iterative, so the depth of the graph is not limited by Python's recursion.

    Args:
        outputs: the nodes to rebuild.
        mapping: the replacements; a replacement may have another dtype, or another
            shape that elementwise operations broadcast.
        batch_check: when given, a replacement of another shape may only flow through
            elementwise operations (a scalar function mapped over an array, as kernels
            map it): reaching an array operation (a sum, a matmul...) with a changed
            shape raises a :class:`GraphcError` starting with this text.

    Returns:
        The rebuilt outputs, in order.

    Raises:
        ShapeError: shapes that do not combine.
        NotElementwiseError: a :class:`GraphcError`, see ``batch_check``.
    """
    new: dict[int, Node] = dict(mapping)
    batched: dict[int, Node] = {}  # nodes that depend on a replacement of another shape
    for n in postorder(outputs):
        if id(n) in new:
            if n.shape != new[id(n)].shape:
                batched[id(n)] = n
            continue
        if not n.args:
            new[id(n)] = n
            continue
        args = tuple(new[id(a)] for a in n.args)
        if all(a is b for a, b in zip(args, n.args)):
            new[id(n)] = n
            continue
        src = next((batched[id(a)] for a in n.args if id(a) in batched), None)
        if src is not None:
            batched[id(n)] = src
            if batch_check is not None and not n.prim.elementwise:
                raise NotElementwiseError(
                    f"{batch_check}: input {src.name or ''} was traced with shape "
                    f"{src.shape} and is given shape {new[id(src)].shape}, and it reaches "
                    f"the array operation {n.prim.name}; a transformed function maps over "
                    f"arrays elementwise only when its graph is elementwise. Call it on "
                    f"values of the traced shape (x[i] for scalars) or declare the input's "
                    f"shape (gc.function(f, shapes=...))")
        owner = _OWNER.get(n.prim)
        if owner is not None:
            new[id(n)] = owner.bind(args)
        else:
            new[id(n)] = apply(n.prim, *args,
                               **{k: v for k, v in n.params if not k.startswith("_")})
    return [new[id(o)] for o in outputs]


def inline_custom(graph):
    """``graph`` with every custom node replaced by its body (recursively: bodies may
    call custom functions), so that only registered primitives remain; ``graph`` itself
    when it has no custom node. :func:`graphc.compile` calls it before lowering.

    Args:
        graph: a :class:`~graphc.ir.Graph`.

    Returns:
        A Graph over the same inputs, outputs, names, structure and labels.
    """
    from .graph import Graph
    nodes = postorder(graph.outputs)
    if not any(n.prim in _OWNER for n in nodes):
        return graph
    outs = _inline_nodes(list(graph.outputs))
    return Graph(graph.inputs, outs, graph.output_names, graph.structure, graph.labels)


def _inline_nodes(outputs: list[Node]) -> list[Node]:
    new: dict[int, Node] = {}
    for n in postorder(outputs):
        if not n.args:
            new[id(n)] = n
            continue
        args = tuple(new[id(a)] for a in n.args)
        rec = _OWNER.get(n.prim)
        if rec is not None:
            body = _inline_nodes([rec.body_out(n.prim)])[0]
            new[id(n)] = substitute([body], {id(v): a for v, a in
                                             zip(rec.body_vars(n.prim), args)})[0]
        elif all(a is b for a, b in zip(args, n.args)):
            new[id(n)] = n
        else:
            new[id(n)] = apply(n.prim, *args,
                               **{k: v for k, v in n.params if not k.startswith("_")})
    return [new[id(o)] for o in outputs]


_NP = {"float64": np.float64, "float32": np.float32}


def _evaluate(out: Node, env: dict[int, Any]) -> np.ndarray:
    """The value of ``out`` with input values ``env`` (``{id(input): array}``), by the
    records' ``impl`` (the NumPy reference semantics)."""
    values = dict(env)
    with np.errstate(all="ignore"):
        for n in postorder([out]):
            if id(n) in values:
                continue
            if n.is_const:
                values[id(n)] = np.asarray(n.value, dtype=_NP[n.dtype])
            elif n.is_input:  # pragma: no cover - bodies have no free inputs
                raise GraphcError(f"custom function body uses unbound input {n.name!r}")
            else:
                r = n.prim.impl(*(values[id(a)] for a in n.args), **dict(n.params))
                values[id(n)] = np.asarray(r, dtype=_NP[n.dtype])
    return values[id(out)]


# ---------------------------------------------------------------------------------
# the decorators

class _Custom:
    """What :func:`custom_jvp` and :func:`custom_vjp` share: the body, one primitive
    record per argument signature, binding on graph values."""

    kind = "custom"

    def __init__(self, fun: Callable):
        if not callable(fun):
            raise GraphcError(f"{self.kind} needs a function, got {type(fun).__name__}")
        self.fun = fun
        self._id = next(_FUNCTION_IDS)
        self._records: dict[tuple, Primitive] = {}
        self._bodies: dict[str, tuple[list[Node], Node]] = {}
        functools.update_wrapper(self, fun)

    @property
    def _fname(self) -> str:
        name = getattr(self.fun, "__name__", "f") or "f"
        return name if name.isidentifier() else "f"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """On graph values: one node of this function's custom primitive (keyword
        arguments are bound to the parameters by name). On numbers: the body's value.

        Raises:
            GraphcError: arguments that do not fit the function's parameters, or no
                rule defined yet, on graph values.
        """
        if not any(isinstance(a, Node) for a in (*args, *kwargs.values())):
            return self.fun(*args, **kwargs)
        if kwargs:
            try:
                ba = inspect.signature(self.fun).bind(*args, **kwargs)
            except (TypeError, ValueError) as exc:
                raise GraphcError(f"{self._fname}: {exc}") from None
            ba.apply_defaults()
            args = tuple(ba.arguments.values())
        return self.bind(args)

    def bind(self, args: Sequence[Any]) -> Node:
        """The custom node of this function applied to ``args`` (graph values or real
        numbers, which become constants)."""
        from .ops import lift
        like = next((a for a in args if isinstance(a, Node)), None)
        nodes = []
        for i, a in enumerate(args):
            if isinstance(a, Node):
                nodes.append(a)
                continue
            try:
                nodes.append(lift(a, like))
            except TypeError:
                raise GraphcError(f"{self._fname}: argument {i} is {type(a).__name__}; a "
                                  f"{self.kind} function takes graph values and numbers "
                                  f"(close over other Python values instead)") from None
        sig = tuple((a.dtype, a.shape) for a in nodes)
        prim = self._records.get(sig)
        if prim is None:
            prim = self._records[sig] = self._make_record(sig)
        return apply(prim, *nodes)

    def _make_record(self, sig: tuple) -> Primitive:
        k = next(_VAR_IDS)
        vars_ = [_fresh_var(f"%c{k}.{i}", dt, sh) for i, (dt, sh) in enumerate(sig)]
        out = self.fun(*vars_)
        if isinstance(out, (tuple, list)):
            raise GraphcError(f"{self._fname}: a {self.kind} function returns one graph "
                              f"value here (tuples of outputs are not supported yet)")
        from .ops import lift
        try:
            out = lift(out, vars_[0] if vars_ else None)
        except TypeError:
            raise GraphcError(f"{self._fname}: a {self.kind} function must return a graph "
                              f"value or a number, got {type(out).__name__}") from None
        mine = {id(v) for v in vars_}
        free = sorted({n.name for n in postorder([out]) if n.is_input and id(n) not in mine})
        if free:
            raise GraphcError(
                f"{self._fname}: the body of a {self.kind} function uses the graph "
                f"value(s) {', '.join(free)} of an enclosing trace without taking them "
                f"as arguments; pass them as arguments (JAX's custom rules cannot close "
                f"over traced values either)")
        n = len(sig)
        name = f"{self.kind}:{self._fname}#{self._id}.{next(_RECORD_IDS)}"  # unique
        self._bodies[name] = (vars_, out)
        ops_ = [m for m in postorder([out]) if m.args]
        out_shape, body_vars = out.shape, vars_

        def impl(*arrays, **_params):
            return _evaluate(out, {id(v): np.asarray(a) for v, a in zip(body_vars, arrays)})

        # scalar in, scalar out, elementwise body: an elementwise op (maps over arrays
        # like the other elementwise primitives, in the interpreter and in nested calls)
        elementwise = (out.shape == () and all(sh == () for _, sh in sig)
                       and all(m.prim.elementwise for m in ops_))

        def shape_rule(*args, **_params):
            if elementwise:
                return elementwise_shape(*args)
            for i, (a, (_, sh)) in enumerate(zip(args, sig)):
                if a.shape != sh:
                    raise ShapeError(f"{name}: argument {i} has shape {a.shape}; this "
                                     f"record was traced for {sh}")
            return out_shape

        def decompose(*args, out=None, **_params):
            return substitute([body_out_], {id(v): a for v, a in zip(body_vars, args)})[0]
        body_out_ = out

        prim = Primitive(
            name, n, impl,
            self._fname + "(" + ", ".join(f"{{{i}}}" for i in range(n)) + ")",
            latex=r"\operatorname{" + self._fname.replace("_", r"\_") + "}(" +
            ", ".join(f"{{{i}}}" for i in range(n)) + ")",
            llvm="decompose", cuda="decompose",
            jvp=self._jvp_rule(), vjp=self._vjp_rule(),
            masks=any(m.prim.masks or m.prim.name == "where" or
                      (m.prim in _OWNER and m.prim.masks) for m in ops_),
            unbounded=True, elementwise=elementwise, shape_rule=shape_rule,
            decompose=decompose, doc=f"{self.kind} function {self._fname}")
        CUSTOM[name] = prim
        _OWNER[prim] = self
        return prim

    def body_vars(self, prim: Primitive) -> list[Node]:
        return self._bodies[prim.name][0]

    def body_out(self, prim: Primitive) -> Node:
        return self._bodies[prim.name][1]

    def _jvp_rule(self):  # pragma: no cover - overridden
        return None

    def _vjp_rule(self):  # pragma: no cover - overridden
        return None


def _fresh_var(name: str, dtype: str, shape: tuple) -> Node:
    from .ops import variable
    return variable(name, dtype, shape)


def _zeros_like(x: Node) -> Node:
    from .ops import const
    return const(0.0, x.dtype, x.shape)


def _as_node(value: Any, like: Node, what: str) -> Node | None:
    from .ops import lift
    if value is None:
        return None
    try:
        node = lift(value, like)
    except TypeError:
        raise GraphcError(f"{what} is {type(value).__name__} {value!r:.40}; it must be a "
                          f"graph value, a number or None (zero)") from None
    return node


class custom_jvp(_Custom):  # noqa: N801 - JAX's name
    """A function with a custom forward-mode rule, as ``jax.custom_jvp``::

        @gc.custom_jvp
        def log1pexp(x):
            return gc.log(1.0 + gc.exp(x))

        @log1pexp.defjvp
        def log1pexp_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return log1pexp(x), t * (1.0 - 1.0 / (1.0 + gc.exp(x)))

    The rule takes ``(primals, tangents)``, tuples with one graph value per argument
    (a zero constant for an argument that is not perturbed), and returns ``(primal
    output, tangent output)``, the tangent linear in ``tangents``. Reverse mode uses its
    transpose; higher orders differentiate the rule's nodes. Arguments are graph values
    or numbers (other Python values: close over them); the function returns one value.

    Args:
        fun: the function (its body gives the value).

    Raises:
        GraphcError: calling it on graph values before ``defjvp``; the body closes over
            graph values of an enclosing trace; a tuple output.
    """

    kind = "custom_jvp"

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        if nondiff_argnums:
            raise GraphcError("custom_jvp: nondiff_argnums is not supported; close over "
                              "non-differentiable Python values instead")
        super().__init__(fun)
        self.jvp = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``; returns
        ``jvp`` (so it can be used as a decorator)."""
        if not callable(jvp):
            raise GraphcError(f"defjvp needs a function, got {type(jvp).__name__}")
        self.jvp = jvp
        self._records.clear()
        return jvp

    def bind(self, args):
        if self.jvp is None:
            raise GraphcError(f"{self._fname}: call defjvp(rule) on this custom_jvp "
                              f"function before differentiating or tracing it")
        return super().bind(args)

    def _jvp_rule(self):
        rule, fname = self.jvp, self._fname

        def jvp(*args, out, tangents, **_params):
            ts = tuple(_zeros_like(a) if t is None else t for a, t in zip(args, tangents))
            res = rule(tuple(args), ts)
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise GraphcError(f"the jvp rule of {fname} must return (primal_out, "
                                  f"tangent_out), got {type(res).__name__}")
            return _as_node(res[1], out, f"the tangent returned by the jvp rule of {fname}")
        return jvp


class custom_vjp(_Custom):  # noqa: N801 - JAX's name
    """A function with a custom reverse-mode rule, as ``jax.custom_vjp``::

        @gc.custom_vjp
        def f(x, y):
            return gc.sin(x) * y

        def f_fwd(x, y):
            return f(x, y), (gc.cos(x), gc.sin(x), y)   # (output, residuals)

        def f_bwd(res, g):
            cos_x, sin_x, y = res
            return (cos_x * g * y, sin_x * g)            # one cotangent per argument

        f.defvjp(f_fwd, f_bwd)

    ``fwd`` takes the arguments and returns ``(output, residuals)``; ``bwd`` takes
    ``(residuals, cotangent)`` and returns one cotangent per argument (``None`` for
    zero), linear in the cotangent. Forward mode uses its transpose (JAX refuses forward
    mode for ``custom_vjp``); higher orders differentiate the nodes ``bwd`` built.

    Args:
        fun: the function (its body gives the value).

    Raises:
        GraphcError: calling it on graph values before ``defvjp``; see
            :class:`custom_jvp`.
    """

    kind = "custom_vjp"

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        if nondiff_argnums:
            raise GraphcError("custom_vjp: nondiff_argnums is not supported; close over "
                              "non-differentiable Python values instead")
        super().__init__(fun)
        self.fwd = self.bwd = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the rules ``fwd(*args) -> (output, residuals)`` and ``bwd(residuals,
        cotangent) -> (cotangent of each argument, ...)``."""
        if not callable(fwd) or not callable(bwd):
            raise GraphcError("defvjp needs two functions, fwd and bwd")
        self.fwd, self.bwd = fwd, bwd
        self._records.clear()

    def bind(self, args):
        if self.fwd is None:
            raise GraphcError(f"{self._fname}: call defvjp(fwd, bwd) on this custom_vjp "
                              f"function before differentiating or tracing it")
        return super().bind(args)

    def _vjp_rule(self):
        fwd, bwd, fname = self.fwd, self.bwd, self._fname

        def vjp(*args, out, cotangent, **_params):
            res = fwd(*args)
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise GraphcError(f"the fwd rule of {fname} must return (output, "
                                  f"residuals), got {type(res).__name__}")
            bars = bwd(res[1], cotangent)
            if not isinstance(bars, (tuple, list)) or len(bars) != len(args):
                raise GraphcError(f"the bwd rule of {fname} must return a tuple of "
                                  f"{len(args)} cotangent(s), one per argument")
            return [_as_node(b, a, f"cotangent {i} returned by the bwd rule of {fname}")
                    for i, (b, a) in enumerate(zip(bars, args))]
        return vjp


__all__ = ["CUSTOM", "NotElementwiseError", "custom_jvp", "custom_vjp", "inline_custom",
           "is_custom", "substitute"]
