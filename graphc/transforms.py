"""Function transforms: ``grad``, ``value_and_grad``, ``jvp``, ``vjp``, ``jacfwd``,
``jacrev``, ``jacobian`` and ``hessian`` on Python functions, ``@gc.function``\\ s,
Graphs and expression strings.

The automatic-differentiation passes (:mod:`graphc.passes.ad`) take a
:class:`~graphc.Graph` and return a Graph. The functions here accept more:

* a **Graph** gives a Graph, exactly as the passes do (``gc.grad(graph)``);
* an **expression string** is parsed first (:func:`graphc.parse`), then as a Graph;
* a **Python callable** (traced by :func:`graphc.frontend.tracer.trace`, float64, one
  input per parameter in parameter order) or a :class:`~graphc.Function` gives a
  :class:`TransformedFunction`: call it with numbers or arrays (it compiles its graph
  for the chosen ``target`` on first call and keeps the kernel), read ``.graph`` for
  passes and drawing, and transform it again (``gc.grad(gc.grad(f))`` is f'').

For functions the arguments follow JAX (``argnums``, ``has_aux``, ``jvp(f, primals,
tangents)``, ``vjp(f, *primals)``); the differences are tabulated in docs/jax-users.md.
Gradients with respect to several inputs come back as a named tuple whose fields are
the input names, in input order (``g.x1``, ``print(g)``), when every name is a valid
Python identifier not starting with ``_``; otherwise as a plain tuple.
"""

from __future__ import annotations

import collections
import functools
import keyword
from typing import Any, Callable, Sequence

from .api import compile as _compile
from .frontend import parse
from .frontend import tracer as _tracer
from .ir import DomainError, Graph, GraphcError, Node
from .passes import grad as _grad
from .passes import hessian as _hessian
from .passes import jacobian as _jacobian
from .passes import jvp as _jvp
from .passes import value_and_grad as _value_and_grad
from .passes import vjp as _vjp

_UNSET: Any = object()


# ---------------------------------------------------------------------------------
# named tuples of gradients

@functools.lru_cache(maxsize=256)
def _tuple_type(names: tuple[str, ...]):
    ok = len(set(names)) == len(names) and all(
        n.isidentifier() and not keyword.iskeyword(n) and not n.startswith("_")
        for n in names)
    return collections.namedtuple("Gradient", names) if ok else tuple


def named_tuple(names: Sequence[str], values: Sequence[Any]) -> tuple:
    """``values`` as a named tuple whose fields are ``names`` (``Gradient(x1=…, x2=…)``),
    or a plain tuple when a name is not a valid Python identifier, is a keyword, starts
    with ``_`` or repeats.

    Args:
        names: one name per value (input names, in input order).
        values: the values (arrays or numbers).
    """
    cls = _tuple_type(tuple(names))
    return cls(*values) if cls is not tuple else tuple(values)


# ---------------------------------------------------------------------------------
# what was given: a graph or a function


class _Traced:
    """A plain Python callable, traced on first use of ``graph`` (float64 inputs, one
    per parameter, in parameter order: see :func:`graphc.frontend.tracer.trace`)."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self._graph: Graph | None = None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = _tracer.trace(self.fn)
        return self._graph


def _as_function(fun: Any, what: str):
    """``None`` for graph mode (Graph or string), else an object with ``.graph``: a
    :class:`~graphc.Function`, a :class:`TransformedFunction` or any callable with a
    ``graph`` (a class attribute or property, or a Graph in its instance ``__dict__``),
    else a plain callable wrapped to be traced."""
    if isinstance(fun, (Graph, str)):
        return None
    if isinstance(fun, Node):
        raise DomainError(f"{what}() takes a function, a graphc.Graph or an expression "
                          f"string, got a graph node; build a Graph or trace a function")
    if callable(fun) and (hasattr(type(fun), "graph") or isinstance(
            getattr(fun, "__dict__", {}).get("graph"), Graph)):
        return fun  # gc.function's Function, a TransformedFunction, or has a Graph
    if callable(fun):
        return _Traced(fun)
    raise DomainError(f"{what}() takes a Python function, a graphc.function, a "
                      f"graphc.Graph or an expression string, got {type(fun).__name__}")


def _as_graph(fun: Any) -> Graph:
    return parse(fun) if isinstance(fun, str) else fun


def _resolve(graph: Graph, what: str, argnums: Any, wrt: Any, default: Any):
    """The inputs to differentiate: ``(wrt for the passes, names, single)``.

    ``wrt`` (names) and ``argnums`` (positions) exclude each other; without either,
    ``default`` (``0`` for JAX's default, or ``None`` for every input) applies.
    """
    names = graph.input_names
    if wrt is not None and argnums is not _UNSET:
        raise GraphcError(f"{what}: give argnums= (positions) or wrt= (names), not both")
    if wrt is not None:
        if isinstance(wrt, str):
            return wrt, [wrt], True
        if isinstance(wrt, (list, tuple)) and all(isinstance(w, str) for w in wrt):
            return list(wrt), list(wrt), False
        if isinstance(wrt, int) or (isinstance(wrt, (list, tuple)) and wrt and all(
                isinstance(w, int) for w in wrt)):
            raise DomainError(f"{what}: wrt={wrt!r} gives positions; wrt= takes input "
                              f"names ({', '.join(names)}), argnums= takes positions")
        return wrt, None, False  # the pass raises its own error naming the inputs
    if argnums is _UNSET:
        argnums = default
    if argnums is None:
        return None, list(names), False
    single = not isinstance(argnums, (tuple, list))
    nums = [argnums] if single else list(argnums)
    chosen = []
    for a in nums:
        if isinstance(a, bool) or not isinstance(a, int):
            raise DomainError(f"{what}: argnums={argnums!r}: positions must be ints (an "
                              f"int or a tuple of ints); use wrt= for names")
        if not -len(names) <= a < len(names):
            raise GraphcError(f"{what}: argnums={argnums!r} is out of range: the function "
                              f"has {len(names)} input(s) ({', '.join(names) or 'none'})")
        chosen.append(names[a])
    if len(set(chosen)) != len(chosen):
        raise GraphcError(f"{what}: argnums={argnums!r} lists an input twice")
    return (chosen[0] if single else chosen), chosen, single


def _split_aux(graph: Graph, what: str) -> tuple[Graph, list, list, Any]:
    """For ``has_aux``: (graph of the value alone, aux nodes, aux names, aux structure
    with indices from 0)."""
    s = graph.structure
    if not (isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], int)):
        shown = "a single value" if isinstance(s, int) else f"outputs structured {s!r}"
        raise GraphcError(f"{what}(has_aux=True) needs a function returning (value, aux) "
                          f"with a scalar value; this one returns {shown}")
    aux_idx = _flat(s[1])
    value = Graph(graph.inputs, [graph.outputs[s[0]]], [graph.output_names[s[0]]],
                  labels=graph.labels)
    pos = {i: k for k, i in enumerate(aux_idx)}
    return (value, [graph.outputs[i] for i in aux_idx],
            [graph.output_names[i] for i in aux_idx], _remap(s[1], pos))


def _flat(structure) -> list[int]:
    if isinstance(structure, int):
        return [structure]
    return [i for s in structure for i in _flat(s)]


def _remap(structure, f):
    if isinstance(structure, int):
        return f[structure] if isinstance(f, dict) else f(structure)
    return tuple(_remap(s, f) for s in structure)


def _with_aux(g: Graph, aux: list, aux_names: list, aux_s: Any, first_is_g: bool) -> Graph:
    """``g``'s outputs followed by the aux outputs: structure (g, aux)."""
    n = len(g.outputs)
    taken = set(g.output_names)
    names = []
    for nm in aux_names:
        while nm in taken:
            nm += "_"
        taken.add(nm)
        names.append(nm)
    aux_shifted = _remap(aux_s, lambda i: i + n)
    structure = (g.structure, aux_shifted)
    if not first_is_g:  # value_and_grad: ((value, aux), grad)
        v, rest = g.structure
        structure = ((v, aux_shifted), rest)
    return Graph(g.inputs, list(g.outputs) + aux, list(g.output_names) + names,
                 structure, g.labels)


def _scalars(graph: Graph, names: Sequence[str], what: str) -> None:
    """Jacobians and Hessians of arrays are a later issue: say so clearly."""
    shapes = {x.name: x.shape for x in graph.inputs}
    for nm in names:
        if shapes.get(nm, ()) != ():
            raise GraphcError(f"{what}: input {nm!r} has shape {shapes[nm]}; {what} of "
                              f"array inputs is not supported yet (array Jacobians are a "
                              f"later issue): use jvp or vjp, or grad for a scalar output")
    for nm, o in zip(graph.output_names, graph.outputs):
        if o.shape != ():
            raise GraphcError(f"{what}: output {nm!r} has shape {o.shape}; {what} of array "
                              f"outputs is not supported yet (array Jacobians are a later "
                              f"issue): use jvp or vjp")


# ---------------------------------------------------------------------------------
# the transformed function

class TransformedFunction:
    """A function made by a transform (:func:`grad`, :func:`jvp`, ...) of a function.

    Call it with the inputs of :attr:`graph` by position or keyword (numbers or arrays,
    broadcast like a ufunc): it compiles :attr:`graph` for its target on first call
    (``"llvm"`` by default; ``target=`` at construction or, when no input is named
    ``target``, at call) and keeps the kernel. Transform it again for higher
    derivatives. ``repr`` shows the signature: the inputs in the order it takes them.

    Attributes:
        graph: the transformed :class:`~graphc.Graph` (built on first access).
        target: the default compilation target.
    """

    def __init__(self, name: str, build: Callable[[], Graph],
                 post: Callable[[Any], Any] | None = None, target: str = "llvm",
                 label: str = "f"):
        self._name = name
        self._build = build
        self._post = post or (lambda r: r)
        self.target = target
        self._label = label
        self._graph: Graph | None = None
        self._kernels: dict[str, Any] = {}

    @property
    def graph(self) -> Graph:
        """The transformed graph (inputs in the order calls take them)."""
        if self._graph is None:
            self._graph = self._build()
        return self._graph

    def compile(self, target: str | None = None):
        """The kernel of :attr:`graph` for ``target`` (default :attr:`target`), cached."""
        target = target or self.target
        k = self._kernels.get(target)
        if k is None:
            k = self._kernels[target] = _compile(self.graph, target)
        return k

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate at numbers or arrays; returns what the transform returns (see
        its docstring), gradients of several inputs as named tuples.

        Raises:
            GraphcError: called on graph values (use ``.graph`` inside traced code), or
                the kernel's errors (missing or unknown inputs, ...).
        """
        target = None
        if "target" in kwargs and "target" not in self.graph.input_names:
            target = kwargs.pop("target")
        if any(isinstance(a, Node) for a in (*args, *kwargs.values())):
            raise GraphcError(f"{self._name}: a transformed function cannot be called on "
                              f"graph values yet; transform the outer function instead")
        return self._post(self.compile(target)(*args, **kwargs))

    @property
    def signature(self) -> str:
        """``"name(x1, x2) -> (outputs)"``: the inputs in call order."""
        g = self.graph
        return (f"{self._name}({', '.join(g.input_names)}) -> "
                f"({', '.join(g.output_names)})")

    def __repr__(self) -> str:
        return f"<graphc.transform {self.signature}>"

    def __str__(self) -> str:
        return str(self.graph)

    def _repr_svg_(self):
        return self.graph._repr_svg_()


def _base_name(f) -> str:
    if isinstance(f, TransformedFunction):
        return f._name
    return getattr(getattr(f, "fn", f), "__name__", "f") or "f"


def _target(target: str | None, f) -> str:
    if target is not None:
        return target
    return f.target if isinstance(f, TransformedFunction) else "llvm"


# ---------------------------------------------------------------------------------
# the transforms

def grad(fun, wrt=None, *, argnums=_UNSET, has_aux: bool = False,
         target: str | None = None):
    """The gradient of a scalar function (reverse mode).

    Args:
        fun: a :class:`~graphc.Graph`, an expression string, a Python function (traced
            with :func:`graphc.function`, float64 scalars), a :class:`~graphc.Function`,
            or a function made by another transform.
        wrt: input name(s): a name gives one derivative, a list of names a tuple.
        argnums: input position(s) like JAX: an int gives one derivative, a tuple a
            tuple. Without ``wrt`` and ``argnums``: all inputs for a Graph or string (a
            tuple), position 0 for a function (JAX's default).
        has_aux: ``fun`` returns ``(value, aux)``; the result is then ``(grad, aux)``.
        target: for functions, the compilation target of calls (``"llvm"``, ``"numpy"``
            or ``"cuda"``; default ``"llvm"``, or the inner transform's).

    Returns:
        For a Graph or string: the gradient Graph (:func:`graphc.passes.grad`). For a
        function: a :class:`TransformedFunction` returning ``df/dx`` (one input) or a
        named tuple ``Gradient(x1=…, x2=…)`` (several).

    Raises:
        DomainError: ``fun`` is not a function, Graph or string; ``argnums``/``wrt`` of
            the wrong type.
        GraphcError: both ``argnums`` and ``wrt``; unknown or repeated inputs; a
            non-scalar or multi-output ``fun`` (without ``has_aux``).
    """
    f = _as_function(fun, "grad")
    if f is None:
        graph = _as_graph(fun)
        if has_aux:
            raise GraphcError("grad: has_aux=True needs a function returning (value, aux)")
        w, _, _ = _resolve(graph, "grad", argnums, wrt, None)
        return _grad(graph, w)

    meta: dict = {}

    def build() -> Graph:
        g = f.graph
        w, names, single = _resolve(g, "grad", argnums, wrt, 0)
        meta.update(names=names, single=single)
        if not has_aux:
            return _grad(g, w)
        value, aux, aux_names, aux_s = _split_aux(g, "grad")
        return _with_aux(_grad(value, w), aux, aux_names, aux_s, True)

    def post(r):
        names, single = meta["names"], meta["single"]
        if has_aux:
            d, aux = r
            return (d if single else named_tuple(names, d)), aux
        return r if single else named_tuple(names, r)

    return TransformedFunction(f"grad({_base_name(f)})", build, post, _target(target, f))


def value_and_grad(fun, wrt=None, *, argnums=_UNSET, has_aux: bool = False,
                   target: str | None = None):
    """The value and the gradient of a scalar function; arguments as :func:`grad`.

    Returns:
        For a Graph or string: the Graph of ``(f, gradient)``. For a function: a
        :class:`TransformedFunction` returning ``(value, grad)``, or ``((value, aux),
        grad)`` with ``has_aux`` (JAX's order); ``grad`` as in :func:`grad`.
    """
    f = _as_function(fun, "value_and_grad")
    if f is None:
        graph = _as_graph(fun)
        if has_aux:
            raise GraphcError("value_and_grad: has_aux=True needs a function returning "
                              "(value, aux)")
        w, _, _ = _resolve(graph, "value_and_grad", argnums, wrt, None)
        return _value_and_grad(graph, w)

    meta: dict = {}

    def build() -> Graph:
        g = f.graph
        w, names, single = _resolve(g, "value_and_grad", argnums, wrt, 0)
        meta.update(names=names, single=single)
        if not has_aux:
            return _value_and_grad(g, w)
        value, aux, aux_names, aux_s = _split_aux(g, "value_and_grad")
        return _with_aux(_value_and_grad(value, w), aux, aux_names, aux_s, False)

    def post(r):
        v, d = r
        return v, (d if meta["single"] else named_tuple(meta["names"], d))

    return TransformedFunction(f"value_and_grad({_base_name(f)})", build, post,
                               _target(target, f))


def jvp(fun, primals=None, tangents=None, *, wrt=None, seed=None, argnums=_UNSET,
        target: str | None = None):
    """Forward mode: outputs and their tangents (a Jacobian-vector product).

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        primals, tangents: for a function, JAX's call form ``jvp(f, (x1, x2), (t1,
            t2))``: evaluate at once and return ``(outputs, output tangents)``; one
            tangent per differentiated input. For a Graph, the legacy positional form
            ``jvp(graph, wrt, seed)``.
        wrt, argnums: the inputs to perturb (default: all, as JAX).
        seed: Graph mode only: ``{name: number}`` fixing the tangent direction.
        target: compilation target of the function's calls.

    Returns:
        For a Graph or string: the tangent Graph (:func:`graphc.passes.jvp`): inputs
        ``(*inputs, *<x>_dot)``, outputs ``(outputs, tangents)``. For a function without
        primals: a :class:`TransformedFunction` over the same inputs, returning
        ``(outputs, tangents)``; with primals: that pair at the given point.

    Raises:
        DomainError, GraphcError: as :func:`grad`; primals or tangents that are not
            tuples of the right length.
    """
    f = _as_function(fun, "jvp")
    if f is None:
        graph = _as_graph(fun)
        if primals is not None:  # legacy positional jvp(graph, wrt, seed)
            wrt, seed = primals, (seed if tangents is None else tangents)
        w, _, _ = _resolve(graph, "jvp", argnums, wrt, None)
        return _jvp(graph, w, seed)
    if seed is not None:
        raise GraphcError("jvp: seed= is for Graphs; for a function pass tangents "
                          "(jvp(f, primals, tangents)) or call jvp(f) with x_dot inputs")

    def build() -> Graph:
        g = f.graph
        w, _, _ = _resolve(g, "jvp", argnums, wrt, None)
        return _jvp(g, w)

    tf = TransformedFunction(f"jvp({_base_name(f)})", build, None, _target(target, f))
    if primals is None and tangents is None:
        return tf
    return tf(*_pack(primals, tangents, tf.graph, "jvp", "tangents"))


def _pack(primals, tangents, graph: Graph, what: str, kind: str) -> list:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise DomainError(f"{what}: primals and {kind} must be tuples (like JAX: "
                          f"{what}(f, (x1, x2), (t1, t2))), got {type(primals).__name__} "
                          f"and {type(tangents).__name__}")
    args = list(primals) + list(tangents)
    if len(args) != len(graph.inputs):
        raise GraphcError(f"{what}: expected {len(graph.inputs)} values in all for the "
                          f"inputs ({', '.join(graph.input_names)}), got "
                          f"{len(primals)} primal(s) and {len(tangents)} {kind}")
    return args


def vjp(fun, *primals, wrt=None, seed=None, argnums=_UNSET, target: str | None = None):
    """Reverse mode: outputs and the input cotangents (a vector-Jacobian product).

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        *primals: for a function, JAX's call form ``vjp(f, x1, x2)``: returns
            ``(outputs, vjp_fn)`` where ``vjp_fn(*cotangents)`` (one per output) gives
            the cotangents of the differentiated inputs as a named tuple. For a Graph,
            the legacy positional form ``vjp(graph, wrt, seed)``.
        wrt, argnums: inputs whose cotangents are wanted (default: all, as JAX).
        seed: Graph mode only: ``{output name: number}`` fixing the cotangent.
        target: compilation target of the function's calls.

    Returns:
        For a Graph or string: the adjoint Graph (:func:`graphc.passes.vjp`). For a
        function without primals: a :class:`TransformedFunction` over ``(*inputs,
        *<y>_bar)`` returning ``(outputs, Gradient(x1=…, …))``.
    """
    f = _as_function(fun, "vjp")
    if f is None:
        graph = _as_graph(fun)
        if primals:  # legacy positional vjp(graph, wrt, seed)
            if len(primals) > 2:
                raise GraphcError("vjp(graph, wrt, seed) takes at most two more arguments")
            wrt = primals[0]
            seed = primals[1] if len(primals) == 2 else seed
        w, _, _ = _resolve(graph, "vjp", argnums, wrt, None)
        return _vjp(graph, w, seed)
    if seed is not None:
        raise GraphcError("vjp: seed= is for Graphs; for a function call "
                          "vjp(f, *primals) and then vjp_fn(cotangent)")
    meta: dict = {}

    def build() -> Graph:
        g = f.graph
        w, names, _ = _resolve(g, "vjp", argnums, wrt, None)
        meta["names"] = names
        return _vjp(g, w)

    def post(r):
        y, bars = r
        return y, named_tuple(meta["names"], bars)

    tf = TransformedFunction(f"vjp({_base_name(f)})", build, post, _target(target, f))
    if not primals:
        return tf
    n_out = len(tf.graph.inputs) - len(primals)
    if n_out < 1:
        raise GraphcError(f"vjp: got {len(primals)} primals; the function takes "
                          f"{len(f.graph.inputs)} ({', '.join(f.graph.input_names)})")
    n_cot = len(f.graph.outputs)
    zeros = [0.0] * n_cot
    y, _ = tf(*primals, *zeros)

    def vjp_fn(*cotangents):
        """The input cotangents for output cotangents ``cotangents`` (one per output)."""
        if len(cotangents) != n_cot:
            raise GraphcError(f"vjp_fn takes {n_cot} cotangent(s), one per output "
                              f"({', '.join(f.graph.output_names)}), got {len(cotangents)}")
        return tf(*primals, *cotangents)[1]
    return y, vjp_fn


def _jac(fun, wrt, argnums, mode: str, what: str, target):
    f = _as_function(fun, what)
    if f is None:
        graph = _as_graph(fun)
        w, _, _ = _resolve(graph, what, argnums, wrt, None)
        return _jacobian(graph, w, mode=mode)
    meta: dict = {}

    def build() -> Graph:
        g = f.graph
        w, names, single = _resolve(g, what, argnums, wrt, 0)
        _scalars(g, names, what)
        meta.update(names=names, single=single, m=len(g.outputs))
        return _jacobian(g, w, mode=mode)

    def post(r):
        if meta["single"]:
            return r
        rows = [r] if meta["m"] == 1 else list(r)
        out = [named_tuple(meta["names"], row) for row in rows]
        return out[0] if meta["m"] == 1 else tuple(out)

    return TransformedFunction(f"{what}({_base_name(f)})", build, post, _target(target, f))


def jacfwd(fun, wrt=None, *, argnums=_UNSET, target: str | None = None):
    """The Jacobian by forward mode (one tangent sweep per input); as :func:`jacobian`
    with ``mode="fwd"``."""
    return _jac(fun, wrt, argnums, "fwd", "jacfwd", target)


def jacrev(fun, wrt=None, *, argnums=_UNSET, target: str | None = None):
    """The Jacobian by reverse mode (one adjoint sweep per output); as :func:`jacobian`
    with ``mode="rev"``."""
    return _jac(fun, wrt, argnums, "rev", "jacrev", target)


def jacobian(fun, wrt=None, mode: str = "rev", *, argnums=_UNSET,
             target: str | None = None):
    """The Jacobian of scalar outputs with respect to scalar inputs.

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        wrt, argnums: the inputs (default: all for a Graph, position 0 for a function).
        mode: ``"rev"`` or ``"fwd"`` (equal results).
        target: compilation target of the function's calls.

    Returns:
        For a Graph or string: the Jacobian Graph (:func:`graphc.passes.jacobian`). For
        a function: a :class:`TransformedFunction` returning, for one output, the
        derivative (one input) or a named tuple over the inputs; for several outputs, a
        tuple of those rows (JAX's layout for tuple outputs and tuple argnums).

    Raises:
        GraphcError: array inputs or outputs (array Jacobians are a later issue), a bad
            ``mode``; the errors of :func:`grad`.
    """
    if mode not in ("fwd", "rev"):
        raise GraphcError(f"jacobian: mode must be 'fwd' or 'rev', got {mode!r}")
    return _jac(fun, wrt, argnums, mode, "jacobian", target)


def hessian(fun, wrt=None, *, argnums=_UNSET, target: str | None = None):
    """The Hessian of a scalar function, forward over reverse (Griewank & Walther 2008,
    §5.4; :func:`graphc.passes.hessian`).

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        wrt, argnums: the inputs (default: all for a Graph, position 0 for a function).
        target: compilation target of the function's calls.

    Returns:
        For a Graph or string: the Hessian Graph. For a function: a
        :class:`TransformedFunction` returning ``d2f/dx2`` (one input) or a named tuple
        of named tuples (rows), as JAX's nested tuples for tuple ``argnums``.

    Raises:
        GraphcError: array inputs or outputs (a later issue); the errors of :func:`grad`.
    """
    f = _as_function(fun, "hessian")
    if f is None:
        graph = _as_graph(fun)
        w, _, _ = _resolve(graph, "hessian", argnums, wrt, None)
        return _hessian(graph, w)
    meta: dict = {}

    def build() -> Graph:
        g = f.graph
        w, names, single = _resolve(g, "hessian", argnums, wrt, 0)
        _scalars(g, names, "hessian")
        meta.update(names=names, single=single)
        return _hessian(g, w)

    def post(r):
        if meta["single"]:
            return r
        if len(meta["names"]) == 1:  # the pass gives one flat row (h,) for one input
            r = (r,)
        return named_tuple(meta["names"], [named_tuple(meta["names"], row) for row in r])

    return TransformedFunction(f"hessian({_base_name(f)})", build, post,
                               _target(target, f))


__all__ = ["TransformedFunction", "grad", "hessian", "jacfwd", "jacobian", "jacrev", "jvp",
           "named_tuple", "value_and_grad", "vjp"]
