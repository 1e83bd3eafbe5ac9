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

**Inside traced code** (issue 13, part 4) a transformed function called on graph values
(or on anything while a function is traced) returns graph values
(:meth:`TransformedFunction.call_traced`): the function it transforms is traced again
on fresh input nodes, values of the enclosing trace that it closes over stay free and
are never differentiated (they are other inputs, so nesting in any mix of forward and
reverse mode has no perturbation confusion), the AD passes run, and the derivative
graph is inlined by substituting the arguments for the fresh inputs. So ``grad`` of a
function that calls ``grad``, Hessian-vector products ``jvp(grad(f), ...)`` and PINN
residuals (derivatives of a network closing over its weights) are one traced function
and one kernel.

For functions the arguments follow JAX (``argnums``, ``has_aux``, ``jvp(f, primals,
tangents)``, ``vjp(f, *primals)``); the differences are tabulated in docs/jax-users.md.
Gradients with respect to several inputs come back as a named tuple whose fields are
the input names, in input order (``g.x1``, ``print(g)``), when every name is a valid
Python identifier not starting with ``_``; otherwise as a plain tuple.
"""

from __future__ import annotations

import collections
import functools
import itertools
import keyword
import re
from typing import Any, Callable, Sequence

import numpy as np

from .api import compile as _compile
from .frontend import parse
from .frontend import tracer as _tracer
from .ir import DomainError, Graph, GraphcError, Node, ShapeError, bind_by_name, ops
from .ir.custom import NotElementwiseError, substitute
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


class _View:
    """A graph to transform, with the inputs a call takes (``params``, in call order)
    told apart from ``captured`` ones: values of an enclosing trace that a function
    closes over, declared as inputs so that the passes accept the graph but never
    differentiated (they are other inputs than the function's own, so there is no
    perturbation confusion) and bound to themselves when the result is inlined.

    Inputs traced for a nested call have fresh names ``<name>#<k>#``; ``names`` are
    the names a user knows (the tag removed: ``x``, ``x_dot``)."""

    __slots__ = ("graph", "captured")

    def __init__(self, graph: Graph, captured: frozenset = frozenset()):
        self.graph = graph
        self.captured = captured

    @property
    def params(self) -> list[Node]:
        return [x for x in self.graph.inputs if id(x) not in self.captured]

    @property
    def names(self) -> list[str]:
        return [_public(x.name) for x in self.params]

    def fresh(self, public: str) -> str:
        for x, nm in zip(self.params, self.names):
            if nm == public:
                return x.name
        return public  # unknown: the pass names the inputs in its error


_TAG = re.compile(r"#\d+#")
_FRESH_IDS = itertools.count(1)


def _public(name: str) -> str:
    return _TAG.sub("", name)


def _resolve(graph: Graph, what: str, argnums: Any, wrt: Any, default: Any,
             view: _View | None = None):
    """The inputs to differentiate: ``(wrt for the passes, names, single)``.

    ``wrt`` (names) and ``argnums`` (positions) exclude each other; without either,
    ``default`` (``0`` for JAX's default, or ``None`` for every input) applies. With a
    ``view`` (a nested call), positions and names refer to the inputs a call takes and
    the passes get their fresh names; "every input" leaves out captured values.
    """
    w, chosen, single = _resolve_names(
        view.names if view is not None else list(graph.input_names), what, argnums, wrt,
        default)
    if view is None or (not view.captured and view.names == list(graph.input_names)):
        return w, chosen, single
    if w is None:
        return [x.name for x in view.params], chosen, single
    if isinstance(w, str):
        return view.fresh(w), chosen, single
    if isinstance(w, list) and all(isinstance(n, str) for n in w):
        return [view.fresh(n) for n in w], chosen, single
    return w, chosen, single


def _resolve_names(names: list, what: str, argnums: Any, wrt: Any, default: Any):
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


_ARRAY_ONLY = ("is evaluated by a batched Jacobian-vector kernel (graphc.jacobians) "
               "when called on arrays, and built from jvp/vjp over the basis directions "
               "(one batched graph) when called inside traced code; it cannot be "
               "transformed again or drawn as a graph of its own: transform the "
               "function that calls it, or use jvp/vjp (Hessian-vector products: jvp "
               "of grad)")


class _ArrayJacobianError(GraphcError):
    """The graph form of a Jacobian or Hessian was asked of array inputs or outputs."""


def _scalars(view: _View, names: Sequence[str], what: str) -> None:
    """The graph form of a Jacobian or Hessian is a table of scalar derivatives; an
    array Jacobian is evaluated by calls (:mod:`graphc.jacobians`): say so clearly."""
    graph = view.graph
    shapes = {nm: x.shape for nm, x in zip(view.names, view.params)}
    for nm in names:
        if shapes.get(nm, ()) != ():
            raise _ArrayJacobianError(f"{what}: input {nm!r} has shape {shapes[nm]}; the "
                                      f"{what} of array inputs {_ARRAY_ONLY}")
    for nm, o in zip(graph.output_names, graph.outputs):
        if o.shape != ():
            raise _ArrayJacobianError(f"{what}: output {nm!r} has shape {o.shape}; the "
                                      f"{what} of array outputs {_ARRAY_ONLY}")


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

    def __init__(self, name: str, build: Callable[[_View], Graph],
                 post: Callable[[Any], Any] | None = None, target: str = "llvm",
                 label: str = "f", source: Any = None):
        self._name = name
        self._build = build
        self._source = source
        self._post = post or (lambda r: r)
        self.target = target
        self._label = label
        self._graph: Graph | None = None
        self._kernels: dict[str, Any] = {}
        self._shaped: dict[tuple, Any] = {}  # (target, shapes) -> kernel (_kernel_at)

    @property
    def graph(self) -> Graph:
        """The transformed graph (inputs in the order calls take them)."""
        if self._graph is None:
            self._graph = self._build(_View(self._source.graph))
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

        On graph values, or on anything while a function is traced, it returns graph
        values instead (:meth:`call_traced`): derivatives inside programs.

        Raises:
            GraphcError: the kernel's errors (missing or unknown inputs, ...), or those
                of :meth:`call_traced`.
        """
        if _tracer.is_tracing() or any(isinstance(a, Node)
                                       for a in (*args, *kwargs.values())):
            return self.call_traced(*args, **kwargs)
        shapes = _array_call_shapes(self, args, kwargs)
        if shapes is not None:  # traced again at the arrays' shapes, as JAX traces
            target = kwargs.pop("target", None) if "target" not in shapes else None
            return self._post(self._kernel_at(shapes, target)(*args, **kwargs))
        target = None
        if "target" in kwargs and "target" not in self.graph.input_names:
            target = kwargs.pop("target")
        return self._post(self.compile(target)(*args, **kwargs))

    def _kernel_at(self, shapes: dict, target: str | None):
        """The kernel of the transform of the function traced at ``shapes``
        (``{parameter: shape}``, see :func:`_array_call_shapes`), cached by shapes."""
        target = target or self.target
        key = (target, tuple(sorted(shapes.items())))
        k = self._shaped.get(key)
        if k is None:
            k = self._shaped[key] = _compile(self._build(_view_at(self._source, shapes)),
                                             target)
        return k

    def call_traced(self, *args: Any, **kwargs: Any) -> Any:
        """The transform applied to graph values (numbers and NumPy arrays become
        constants): the function is traced again with fresh input nodes, values of an
        enclosing trace that it closes over stay free (captured, never differentiated:
        they are other inputs than the function's own, so there is no perturbation
        confusion, Siskind & Pearlmutter 2005), the AD passes run on that graph, and
        the result is inlined by substituting the arguments for the fresh inputs
        (:func:`graphc.ir.custom.substitute`).

        The shapes it is traced at (:func:`_shape_attempts`): a ``gc.function`` whose
        declared shapes have symbols that the arguments' shapes bind consistently
        (``("n",)`` given ``(6,)``, or a symbolic ``("m",)``) is traced at the
        arguments' shapes. A plain Python callable is traced with scalar inputs and
        maps over larger arguments elementwise, as kernels do, when that trace is a
        scalar function (:func:`_scalar_map`); when it is not (an argument would reach
        a sum, a slice, an array it closes over...) or tracing on scalars fails, it is
        traced at the arguments' shapes, as JAX traces. Otherwise arguments of a larger
        shape than the declared inputs map elementwise.

        Returns:
            What a call on numbers returns, with graph values in place of arrays.

        Raises:
            GraphcError: a wrong number of arguments or an unknown keyword; an array
                argument whose shape reaches an array operation of a graph traced at
                declared shapes.
            ShapeError: argument shapes that do not broadcast.
        """
        nodes = [a for a in (*args, *kwargs.values()) if isinstance(a, Node)]
        dtype = "float32" if nodes and all(a.dtype == "float32" for a in nodes) else \
            "float64"
        attempts, unbound = _shape_attempts(self, args, kwargs)
        for i, shapes in enumerate(attempts):
            try:
                return self._inline(dtype, shapes, args, kwargs)
            except (NotElementwiseError, ShapeError) as exc:
                if i == len(attempts) - 1:
                    if unbound:
                        raise type(exc)(
                            f"{self._name}: the arguments do not bind the symbolic shapes "
                            f"the function declares ({unbound}); mapped elementwise "
                            f"instead: {exc}") from None
                    raise
            except _RETRACE_ERRORS:
                if i == len(attempts) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _inline(self, dtype: str, shapes: dict | None, args: tuple, kwargs: dict) -> Any:
        """One try of :meth:`call_traced`: the function traced at ``shapes`` (``{its
        parameter: shape}``; None: the shapes it declares), differentiated, inlined."""
        nodes = [a for a in (*args, *kwargs.values()) if isinstance(a, Node)]
        kwargs = dict(kwargs)
        view = _fresh_view(self, dtype, shapes)
        params, names = view.params, view.names
        if "target" in kwargs and "target" not in names:
            kwargs.pop("target")
        bound = dict(zip(names, bind_by_name(names, args, kwargs, self._name)))
        like = nodes[0] if nodes else None
        mapping = {}
        for x, nm in zip(params, names):
            v = _as_graph_value(bound[nm], like, f"{self._name}: input {nm}")
            if v.shape != x.shape:
                try:
                    if np.broadcast_shapes(v.shape, x.shape) == tuple(x.shape):
                        v = _broadcast_to(v, x.shape)
                except (ValueError, TypeError):
                    pass
            mapping[id(x)] = v
        outs = substitute(view.graph.outputs, mapping, batch_check=self._name)
        return self._post(view.graph.output_tree(outs))

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


# ---------------------------------------------------------------------------------
# calls inside traced code: fresh traces, captured values, inlining

def _nested(*groups) -> bool:
    """True when a call must build graph values: a graph value among the arguments (in
    ``groups``, tuples of them), or a function being traced in this thread."""
    return _tracer.is_tracing() or any(
        isinstance(a, Node) for g in groups if isinstance(g, (tuple, list)) for a in g)


def _fresh_view(src: Any, dtype: str = "float64", shapes: dict | None = None) -> _View:
    """The graph of ``src`` (a TransformedFunction, a traced callable, a gc.function or
    anything with a ``graph``) traced again with fresh input nodes, for one nested call;
    values of an enclosing trace it closes over become captured inputs. A plain
    callable is traced with ``dtype`` (the arguments'), a gc.function with its own.
    ``shapes`` (``{parameter: shape}``, from :func:`_shape_attempts`) replaces the
    shapes the function declares (scalars for a plain callable)."""
    if isinstance(src, TransformedFunction):
        inner = _fresh_view(src._source, dtype, shapes)
        return _View(src._build(inner), inner.captured)
    if isinstance(src, _Traced):
        return _trace_fresh(src.fn, dtype=dtype, shapes=shapes)
    if _is_gc_function(src):
        return _trace_fresh(src.fn, src._inputs, src._static,
                            src._shapes if shapes is None else shapes, src._dtype,
                            src._name)
    return _freshen(src.graph)


def _is_gc_function(src: Any) -> bool:
    """A gc.function (graphc.numpy_api.Function, a layer beside this one: duck-typed)."""
    return callable(getattr(src, "fn", None)) and hasattr(src, "_static")


# What a try of a nested call at one set of shapes may raise before the next is tried:
# graphc's errors (a ShapeError indexing a scalar, the elementwise check of
# substitute), and Python's from shape-dependent code (len() of a scalar, x.shape[0]).
_RETRACE_ERRORS = (GraphcError, TypeError, IndexError, ValueError)


def _shape_attempts(tf: TransformedFunction, args: tuple,
                    kwargs: dict) -> tuple[list, str | None]:
    """The shapes to trace the function under ``tf`` at for a call on ``args`` and
    ``kwargs``, in the order to try them (each ``None``, the declared shapes, or
    ``{parameter: shape}``; the last try's error is raised):

    * a ``gc.function`` whose declared shapes have symbols that the arguments' shapes
      bind consistently: the arguments' shapes only (JAX traces at the given shapes;
      a symbolic dimension stands for any size);
    * a plain callable (scalar inputs) given an argument of another shape: first the
      scalars, mapping elementwise (graphc's kernels' meaning, kept when the graph is
      elementwise), then the arguments' shapes;
    * otherwise the declared shapes.

    Returns:
        ``(tries, unbound)``: ``unbound`` says why symbolic declared shapes do not
        bind the arguments' shapes (for the error, when mapping elementwise fails too),
        else None.
    """
    base = _base_function(tf)
    if isinstance(base, _Traced):
        names, _ = _tracer.signature_inputs(base.fn, None, None)
        declared: dict = {}
    elif _is_gc_function(base):
        names, _ = _tracer.signature_inputs(base.fn, base._inputs, base._static)
        declared = {nm: tuple(base._shapes.get(nm, ())) for nm in names}
    else:
        return [None], None
    given = _given_shapes(names, args, kwargs)
    if isinstance(base, _Traced):
        if all(s == () for s in given.values()):
            return [None], None
        try:
            scalar = _scalar_map(_fresh_view(base).graph)
        except _RETRACE_ERRORS:
            scalar = False
        # an array reaching a sum, a slice, a product with an array it closes over
        # (sum(w * v) with w given (3,)) is not the scalar function mapped over it
        return ([None, given] if scalar else [given]), None
    symbolic = any(isinstance(d, str) for s in declared.values() for d in s)
    if not symbolic or len(given) != len(names) or given == declared:
        return [None], None
    unbound = _unbound(declared, given)
    return ([None], unbound) if unbound else ([given], None)


def _view_at(src: Any, shapes: dict) -> _View:
    """The graph of ``src`` (a transformed function or a traced plain callable) with
    the plain function traced at ``shapes`` (``{parameter: shape}``), inputs keeping
    their names (a top-level kernel's keywords)."""
    if isinstance(src, TransformedFunction):
        inner = _view_at(src._source, shapes)
        return _View(src._build(inner), inner.captured)
    return _View(_tracer.trace(src.fn, shapes=shapes))


def _array_call_shapes(tf: TransformedFunction, args: tuple, kwargs: dict) -> dict | None:
    """For a call on arrays (outside traced code) of a transform of a plain Python
    callable: ``{parameter: shape}`` of the arguments when the function must be traced
    at them (JAX's meaning), because some argument is an array and the function
    traced on scalars reaches an array operation (a sum, a slice, a matrix product:
    on a scalar such an op is the identity or an error, so mapping the scalar
    function elementwise would give other numbers) or cannot be traced on scalars at
    all; else None: the scalar trace maps over the arrays elementwise (graphc's
    kernels' meaning) and the call goes to :attr:`TransformedFunction.graph`."""
    base = _base_function(tf)
    if not isinstance(base, _Traced):
        return None
    names, _ = _tracer.signature_inputs(base.fn, None, None)
    given = _given_shapes(names, args, kwargs)
    if all(s == () for s in given.values()):
        return None
    try:
        if _scalar_map(base.graph):
            return None
    except _RETRACE_ERRORS:
        pass
    return {nm: given.get(nm, ()) for nm in names}


def _scalar_map(graph: Graph) -> bool:
    """True when ``graph`` (a plain function traced on scalars) is a scalar function
    that may be mapped elementwise over arrays: every node a 0-d value of an
    elementwise op, an input or a constant. Not so when it reaches an array op (a sum
    or a slice of a scalar is the identity or an error) or an array it closes over."""
    return all(n.shape == () and (n.is_input or n.is_const or n.prim.elementwise)
               for n in graph.nodes)


def _base_function(tf: Any) -> Any:
    """The function under a chain of transforms (``grad(grad(f))`` -> ``f``'s wrapper)."""
    while isinstance(tf, TransformedFunction):
        tf = tf._source
    return tf


def _given_shapes(names: Sequence[str], args: tuple, kwargs: dict) -> dict:
    """``{parameter: shape}`` of the arguments a call passes, by position or keyword."""
    given = {}
    for i, nm in enumerate(names):
        if i < len(args):
            given[nm] = _shape_of(args[i])
        elif nm in kwargs:
            given[nm] = _shape_of(kwargs[nm])
    return given


def _shape_of(v: Any) -> tuple:
    if isinstance(v, Node):
        return tuple(v.shape)
    try:
        return tuple(np.shape(v))
    except Exception:  # noqa: BLE001 - not an array: the call reports it
        return ()


def _unbound(declared: dict, given: dict) -> str | None:
    """None when the ``given`` shapes (ints or symbols) match the ``declared`` ones,
    each symbol standing for one dimension throughout (:func:`graphc.ir.shapes.bind_shapes`,
    as arrays are matched at a kernel call); else what does not match."""
    from .ir import InputError
    from .ir.shapes import bind_shapes
    try:
        bind_shapes([(nm, decl, given[nm]) for nm, decl in declared.items()])
    except InputError as exc:
        return str(exc)
    return None


def _trace_fresh(fn: Callable, inputs=None, static=None, shapes=None,
                 dtype: str = "float64", name: str | None = None) -> _View:
    """``fn`` traced on input nodes with fresh names ``<parameter>#<k>#`` (distinct
    from every other node), its free values of an enclosing trace captured
    (:func:`graphc.frontend.tracer.trace_open`)."""
    k = next(_FRESH_IDS)
    graph, captured = _tracer.trace_open(fn, lambda n: f"{n}#{k}#", inputs, dtype=dtype,
                                         shapes=shapes, static=static, name=name)
    return _View(graph, frozenset(map(id, captured)))


def _freshen(graph: Graph) -> _View:
    """``graph`` with its inputs renamed fresh (it closes over nothing)."""
    k = next(_FRESH_IDS)
    fresh = [ops.variable(f"{x.name}#{k}#", x.dtype, x.shape) for x in graph.inputs]
    outs = substitute(graph.outputs, {id(x): v for x, v in zip(graph.inputs, fresh)})
    return _View(Graph(fresh, outs, graph.output_names, graph.structure))


def _as_graph_value(v: Any, like: Node | None, what: str) -> Node:
    """A call argument as a graph value: nodes as they are, real numbers and NumPy
    arrays as constants (of ``like``'s dtype, float64 without one)."""
    if isinstance(v, Node):
        return v
    dtype = like.dtype if like is not None else "float64"
    arr = None
    if not isinstance(v, (bool, np.bool_)):
        try:
            arr = np.asarray(v)
        except Exception:  # noqa: BLE001
            arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        raise GraphcError(f"{what} is {type(v).__name__} {v!r:.40}; inside a traced "
                          f"function give graph values, real numbers or NumPy arrays")
    if arr.ndim == 0:
        return ops.const(float(arr), dtype)
    from .ir.numpy_dispatch import array_constant
    return array_constant(arr, dtype, what)


def _broadcast_to(v: Node, shape: tuple) -> Node:
    from .ir.array_ops import broadcast_to
    return broadcast_to(v, shape)


def _vjp_traced(tf: TransformedFunction, f: Any, primals: tuple):
    """``vjp(f, *primals)`` on graph values: ``(outputs, vjp_fn)`` with graph values."""
    nodes = [a for a in primals if isinstance(a, Node)]
    dtype = nodes[0].dtype if nodes else "float64"
    attempts, _ = _shape_attempts(tf, primals, {})
    for i, shapes in enumerate(attempts):
        try:
            n_cot = len(_fresh_view(f, dtype, shapes).graph.outputs)
            break
        except _RETRACE_ERRORS:
            if i == len(attempts) - 1:
                raise
    zeros = [0.0] * n_cot
    y, _ = tf.call_traced(*primals, *zeros)

    def vjp_fn(*cotangents):
        """The input cotangents (graph values) for ``cotangents``, one per output."""
        if len(cotangents) != n_cot:
            raise GraphcError(f"vjp_fn takes {n_cot} cotangent(s), one per output, got "
                              f"{len(cotangents)}")
        return tf.call_traced(*primals, *cotangents)[1]
    return y, vjp_fn


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

    def build(view: _View) -> Graph:
        g = view.graph
        w, names, single = _resolve(g, "grad", argnums, wrt, 0, view)
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

    return TransformedFunction(f"grad({_base_name(f)})", build, post, _target(target, f),
                               source=f)


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

    def build(view: _View) -> Graph:
        g = view.graph
        w, names, single = _resolve(g, "value_and_grad", argnums, wrt, 0, view)
        meta.update(names=names, single=single)
        if not has_aux:
            return _value_and_grad(g, w)
        value, aux, aux_names, aux_s = _split_aux(g, "value_and_grad")
        return _with_aux(_value_and_grad(value, w), aux, aux_names, aux_s, False)

    def post(r):
        v, d = r
        return v, (d if meta["single"] else named_tuple(meta["names"], d))

    return TransformedFunction(f"value_and_grad({_base_name(f)})", build, post,
                               _target(target, f), source=f)


def jvp(fun, primals=None, tangents=None, *, wrt=None, seed=None, argnums=_UNSET,
        target: str | None = None):
    """Forward mode: outputs and their tangents (a Jacobian-vector product).

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        primals: for a function, JAX's call form ``jvp(f, (x1, x2), (t1, t2))``:
            evaluate at once and return ``(outputs, output tangents)``. For a Graph,
            the legacy positional form ``jvp(graph, wrt, seed)``.
        tangents: with primals, one tangent per differentiated input, each of its
            input's shape.
        wrt: the inputs to perturb (default: all, as JAX).
        argnums: the same inputs given by position instead of by name.
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

    def build(view: _View) -> Graph:
        g = view.graph
        w, _, _ = _resolve(g, "jvp", argnums, wrt, None, view)
        return _jvp(g, w)

    tf = TransformedFunction(f"jvp({_base_name(f)})", build, None, _target(target, f),
                             source=f)
    if primals is None and tangents is None:
        return tf
    if _nested(primals, tangents):
        _pack(primals, tangents, None, "jvp", "tangents")
        return tf.call_traced(*primals, *tangents)
    return tf(*_pack(primals, tangents, tf.graph, "jvp", "tangents"))


def _pack(primals, tangents, graph: Graph, what: str, kind: str) -> list:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise DomainError(f"{what}: primals and {kind} must be tuples (like JAX: "
                          f"{what}(f, (x1, x2), (t1, t2))), got {type(primals).__name__} "
                          f"and {type(tangents).__name__}")
    args = list(primals) + list(tangents)
    if graph is not None and len(args) != len(graph.inputs):
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
        wrt: inputs whose cotangents are wanted (default: all, as JAX).
        argnums: the same inputs given by position instead of by name.
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

    def build(view: _View) -> Graph:
        g = view.graph
        w, names, _ = _resolve(g, "vjp", argnums, wrt, None, view)
        meta["names"] = names
        return _vjp(g, w)

    def post(r):
        y, bars = r
        return y, named_tuple(meta["names"], bars)

    tf = TransformedFunction(f"vjp({_base_name(f)})", build, post, _target(target, f),
                             source=f)
    if not primals:
        return tf
    if _nested(primals):
        return _vjp_traced(tf, f, primals)
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


class _ArrayJacobian(TransformedFunction):
    """A Jacobian or Hessian transform of a function: scalar inputs and outputs go
    through its one graph (:class:`TransformedFunction`); array ones are evaluated by
    :func:`graphc.jacobians.dense_jacobian` (one batched Jacobian-vector kernel per
    target: every basis direction in one call), giving arrays of shape
    ``out.shape + in.shape`` (JAX's convention)."""

    def __init__(self, *a, kind: str, wrt, argnums, what: str, **k):
        super().__init__(*a, **k)
        self._kind, self._wrt, self._argnums, self._what = kind, wrt, argnums, what
        self._directional: dict = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate; see the transform's docstring (arrays for array functions)."""
        if _tracer.is_tracing() or any(isinstance(a, Node)
                                       for a in (*args, *kwargs.values())):
            return super().__call__(*args, **kwargs)
        from . import jacobians as J
        traced_at = _array_call_shapes(self, args, kwargs)
        g = self._source.graph if traced_at is None else \
            _view_at(self._source, traced_at).graph
        _, names, single = _resolve(g, self._what, self._argnums, self._wrt, 0)
        shapes = {x.name: x.shape for x in g.inputs}
        if all(shapes.get(nm, ()) == () for nm in names) and all(
                o.shape == () for o in g.outputs):
            if traced_at is None:
                return super().__call__(*args, **kwargs)
        target = self.target
        if "target" in kwargs and "target" not in g.input_names:
            target = kwargs.pop("target")
        key = (target, None if traced_at is None else tuple(sorted(traced_at.items())))
        d = self._directional.get(key)
        if d is None:
            if self._kind == "hessian":
                d = J.Directional(J.gradient_graph(g, names, self._what), names, "fwd",
                                  target)
            else:
                d = J.Directional(g, names, self._kind, target)
            self._directional[key] = d
        blocks = J.dense_jacobian(d.graph, names, d.mode, args, kwargs, target,
                                  self._what, directional=d)
        if self._kind == "hessian":
            if single:
                return blocks[0][0]
            return named_tuple(names, [named_tuple(names, row) for row in blocks])
        rows = [row[0] if single else named_tuple(names, row) for row in blocks]
        return g.output_tree(rows)

    def call_traced(self, *args: Any, **kwargs: Any) -> Any:
        """On graph values: the table of scalar derivatives for scalar inputs and
        outputs (:meth:`TransformedFunction.call_traced`); for array ones, JAX's
        construction (``jax.jacfwd``/``jacrev``): one ``jvp`` (forward) or ``vjp``
        (reverse) of the function, its seed batched over the basis directions by the
        primitives' batching rules (:func:`graphc.ir.batching.batch_outputs`, what
        :func:`graphc.vmap` does), so each block is one batched graph whose batch axis
        is moved last: shape ``out.shape + in.shape``. A Hessian block is the forward
        Jacobian of the gradient (forward over reverse)."""
        try:
            return super().call_traced(*args, **kwargs)
        except _ArrayJacobianError:
            return self._array_blocks(args, kwargs)

    def _array_blocks(self, args: tuple, kwargs: dict) -> Any:
        src = self._source
        fn = src.fn if isinstance(src, _Traced) else src
        names = _call_names(src)
        kwargs = {k: v for k, v in kwargs.items() if not (k == "target" and
                                                          k not in names)}
        bound = bind_by_name(names, args, kwargs, self._name)
        nodes = [a for a in bound if isinstance(a, Node)]
        like = nodes[0] if nodes else None
        vals = [_as_graph_value(v, like, f"{self._name}: input {nm}")
                for v, nm in zip(bound, names)]
        _, chosen, single = _resolve_names(names, self._what, self._argnums, self._wrt, 0)
        if chosen is None:
            raise GraphcError(f"{self._what}: unknown input(s) {self._wrt!r}; the inputs "
                              f"are {', '.join(names)}")
        pos = [names.index(nm) for nm in chosen]

        def at(p, fun=fn):   # the function of argument p, the others fixed
            return lambda xp: fun(*[xp if i == p else v for i, v in enumerate(vals)])

        if self._kind == "hessian":
            rows = [[_jacobian_block(at(q, lambda *a, p=p: grad(fn, argnums=p)(*a)),
                                     vals[q], "fwd") for q in pos] for p in pos]
            if single:
                return rows[0][0]
            return named_tuple(chosen, [named_tuple(chosen, r) for r in rows])
        out = fn(*vals)
        flat = list(out) if isinstance(out, (tuple, list)) else [out]
        rows = []
        for j in range(len(flat)):
            def pick(*a, j=j):
                r = fn(*a)
                return (list(r) if isinstance(r, (tuple, list)) else [r])[j]
            row = [_jacobian_block(at(p, pick), vals[p], self._kind) for p in pos]
            rows.append(row[0] if single else named_tuple(chosen, row))
        return tuple(rows) if isinstance(out, (tuple, list)) else rows[0]


def _call_names(src: Any) -> list[str]:
    """The parameter names a call of ``src`` takes, in order."""
    if isinstance(src, _Traced):
        return _tracer.signature_inputs(src.fn, None, None)[0]
    if _is_gc_function(src):
        return _tracer.signature_inputs(src.fn, src._inputs, src._static)[0]
    try:
        return [_public(n) for n in src.graph.input_names]
    except _RETRACE_ERRORS:  # a transform of a function that traces at arrays only
        if isinstance(src, TransformedFunction):
            return _call_names(src._source)
        raise


def _jacobian_block(fun: Callable[[Node], Node], x: Node, mode: str) -> Node:
    """The Jacobian of ``fun`` (graph value to graph value) at ``x`` as one graph value
    of shape ``fun(x).shape + x.shape`` (JAX's layout): a ``jvp`` whose tangent is a
    placeholder, batched over the rows of an identity (``mode="fwd"``), or a ``vjp``
    whose cotangent is batched so (``"rev"``), by :func:`graphc.ir.batching.batch_outputs`;
    the batch axis is then moved last (forward) and the result reshaped."""
    from .ir import batching as B
    k = next(_FRESH_IDS)
    if mode == "fwd":
        seed = ops.variable(f"seed#{k}#", x.dtype, x.shape)
        y, t = jvp(fun, (x,), (seed,))
        size, shape = int(np.prod(x.shape, dtype=np.int64)), x.shape
        res, res_shape = t, tuple(y.shape)
    else:
        y, vjp_fn = vjp(fun, x)
        seed = ops.variable(f"seed#{k}#", y.dtype, y.shape)
        res = vjp_fn(seed)
        res = res[0] if isinstance(res, tuple) else res
        size, shape = int(np.prod(y.shape, dtype=np.int64)), y.shape
        res_shape = tuple(x.shape)
    basis = _as_graph_value(np.eye(size).reshape((size,) + tuple(shape)), x, "seed")
    (batched, axis), = B.batch_outputs([res], {id(seed): (basis, 0)})
    if axis is None:  # the derivative does not depend on the seed: it is zero
        batched = B.broadcast_to(ops.const(0.0, x.dtype) * batched,
                                 (size,) + res_shape)
        axis = 0
    if mode == "fwd":   # (..., n) after moving the direction axis last
        return B.reshape(B.moveaxis(batched, axis, len(res_shape)), res_shape + tuple(x.shape))
    return B.reshape(B.moveaxis(batched, axis, 0), tuple(y.shape) + tuple(x.shape))


def _jac(fun, wrt, argnums, mode: str, what: str, target):
    f = _as_function(fun, what)
    if f is None:
        graph = _as_graph(fun)
        w, _, _ = _resolve(graph, what, argnums, wrt, None)
        return _jacobian(graph, w, mode=mode)
    meta: dict = {}

    def build(view: _View) -> Graph:
        g = view.graph
        w, names, single = _resolve(g, what, argnums, wrt, 0, view)
        _scalars(view, names, what)
        meta.update(names=names, single=single, m=len(g.outputs))
        return _jacobian(g, w, mode=mode)

    def post(r):
        if meta["single"]:
            return r
        rows = [r] if meta["m"] == 1 else list(r)
        out = [named_tuple(meta["names"], row) for row in rows]
        return out[0] if meta["m"] == 1 else tuple(out)

    return _ArrayJacobian(f"{what}({_base_name(f)})", build, post, _target(target, f),
                          source=f, kind=mode, wrt=wrt, argnums=argnums, what=what)


def jacfwd(fun, wrt=None, *, argnums=_UNSET, target: str | None = None):
    """The Jacobian by forward mode (one tangent sweep per input entry); as
    :func:`jacobian` with ``mode="fwd"``."""
    return _jac(fun, wrt, argnums, "fwd", "jacfwd", target)


def jacrev(fun, wrt=None, *, argnums=_UNSET, target: str | None = None):
    """The Jacobian by reverse mode (one adjoint sweep per output entry); as
    :func:`jacobian` with ``mode="rev"``."""
    return _jac(fun, wrt, argnums, "rev", "jacrev", target)


def jacobian(fun, wrt=None, mode: str = "rev", *, argnums=_UNSET,
             target: str | None = None):
    """The Jacobian of a function's outputs with respect to its inputs.

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        wrt: the inputs (default: all for a Graph, position 0 for a function).
        argnums: the same inputs given by position instead of by name.
        mode: ``"rev"`` or ``"fwd"`` (equal results).
        target: compilation target of the function's calls.

    Returns:
        For a Graph or string: the Jacobian Graph (:func:`graphc.passes.jacobian`;
        scalar inputs and outputs only). For a function: a
        :class:`TransformedFunction` returning, for one output, the derivative (one
        input) or a named tuple over the inputs; for several outputs, a tuple of those
        rows (JAX's layout for tuple outputs and tuple argnums). With array inputs or
        outputs (declared shapes, ``gc.function(f, shapes=...)``) each derivative is a
        float64 array of shape ``out.shape + in.shape`` (JAX's convention), computed by
        one batched Jacobian-vector kernel call (:mod:`graphc.jacobians`); a plain
        function whose argument reaches an array op is traced at the arguments'
        shapes. Inside traced code it is one graph value built as JAX builds it
        (:meth:`_ArrayJacobian.call_traced`); it has no graph of its own, so it cannot
        be drawn or transformed again. Sparse Jacobians:
        :func:`graphc.sparse_jacobian`.

    Raises:
        GraphcError: a bad ``mode``; an array Jacobian transformed again or drawn
            (``.graph``); the errors of :func:`grad`.
    """
    if mode not in ("fwd", "rev"):
        raise GraphcError(f"jacobian: mode must be 'fwd' or 'rev', got {mode!r}")
    return _jac(fun, wrt, argnums, mode, "jacobian", target)


def hessian(fun, wrt=None, *, argnums=_UNSET, target: str | None = None):
    """The Hessian of a scalar function, forward over reverse (Griewank & Walther 2008,
    §5.4; :func:`graphc.passes.hessian`).

    Args:
        fun: a Graph, an expression string or a function (see :func:`grad`).
        wrt: the inputs (default: all for a Graph, position 0 for a function).
        argnums: the same inputs given by position instead of by name.
        target: compilation target of the function's calls.

    Returns:
        For a Graph or string: the Hessian Graph (scalar inputs). For a function: a
        :class:`TransformedFunction` returning ``d2f/dx2`` (one input) or a named tuple
        of named tuples (rows), as JAX's nested tuples for tuple ``argnums``. For array
        inputs each block is a float64 array of shape ``xi.shape + xj.shape``, from one
        batched Hessian-vector kernel call (:mod:`graphc.jacobians`). Sparse Hessians:
        :func:`graphc.sparse_hessian`.

    Raises:
        GraphcError: a non-scalar output; an array Hessian transformed again or drawn
            (inside traced code it is built from ``jvp`` of ``grad`` batched over the
            basis); the errors of :func:`grad`.
    """
    f = _as_function(fun, "hessian")
    if f is None:
        graph = _as_graph(fun)
        w, _, _ = _resolve(graph, "hessian", argnums, wrt, None)
        return _hessian(graph, w)
    meta: dict = {}

    def build(view: _View) -> Graph:
        g = view.graph
        w, names, single = _resolve(g, "hessian", argnums, wrt, 0, view)
        _scalars(view, names, "hessian")
        meta.update(names=names, single=single)
        return _hessian(g, w)

    def post(r):
        if meta["single"]:
            return r
        if len(meta["names"]) == 1:  # the pass gives one flat row (h,) for one input
            r = (r,)
        return named_tuple(meta["names"], [named_tuple(meta["names"], row) for row in r])

    return _ArrayJacobian(f"hessian({_base_name(f)})", build, post, _target(target, f),
                          source=f, kind="hessian", wrt=wrt, argnums=argnums,
                          what="hessian")


def _graph_and_wrt(fun, wrt, argnums, what: str) -> tuple[Graph, list[str]]:
    f = _as_function(fun, what)
    graph = _as_graph(fun) if f is None else f.graph
    default = None if f is None else 0
    w, names, _ = _resolve(graph, what, _UNSET if argnums is None else argnums, wrt,
                           default)
    if w is None:
        return graph, list(graph.input_names)
    return graph, [w] if isinstance(w, str) else list(w)


def sparse_jacobian(fun, wrt=None, *, argnums=None, target: str = "llvm"):
    """A sparse Jacobian by sparsity detection, CPR colouring (Curtis, Powell and Reid
    1974; Griewank and Walther, *Evaluating Derivatives*, 2nd ed., ch. 8) and compressed
    forward mode: one Jacobian-vector product per colour (:mod:`graphc.jacobians`).

    Args:
        fun: a :class:`~graphc.Graph`, an expression string, a :class:`~graphc.Function`
            (``gc.function(f, shapes=...)``) or a callable with a ``graph``; a plain
            Python function is traced with scalar inputs.
        wrt: input name(s) to differentiate; ``argnums``: the same by position.
            Default: every input of a Graph or string, position 0 of a function.
        target: compilation target of the Jacobian-vector kernel (``"llvm"``,
            ``"numpy"``, ``"cuda"``).

    Returns:
        A :class:`~graphc.jacobians.SparseDerivative`: call it with the function's
        inputs to get a ``scipy.sparse.csr_matrix`` of shape (total output size, total
        ``wrt`` size); ``.pattern``, ``.colors``, ``.ncolors`` and ``.conservative``
        describe the compression.

    Raises:
        GraphcError: unknown inputs, symbolic shapes, SciPy missing.
    """
    from . import jacobians as J
    graph, names = _graph_and_wrt(fun, wrt, argnums, "sparse_jacobian")
    return J.sparse_jacobian_of(graph, names, target)


def sparse_hessian(fun, wrt=None, *, argnums=None, target: str = "llvm"):
    """A sparse Hessian of a scalar function by sparsity detection on its gradient
    graph, star colouring (Gebremedhin, Manne and Pothen, SIAM Review 47(4), 2005,
    Alg. 4.1) and compressed Hessian-vector products, forward over reverse
    (:mod:`graphc.jacobians`).

    Args:
        fun: as :func:`sparse_jacobian`, with one scalar output.
        wrt: input name(s) to differentiate (default: as :func:`sparse_jacobian`).
        argnums: the same by position.
        target: compilation target of the Hessian-vector kernel.

    Returns:
        A :class:`~graphc.jacobians.SparseDerivative` giving a symmetric
        ``scipy.sparse.csr_matrix`` of shape (n, n), n the total ``wrt`` size.

    Raises:
        GraphcError: a non-scalar or multi-output function; as :func:`sparse_jacobian`.
    """
    from . import jacobians as J
    graph, names = _graph_and_wrt(fun, wrt, argnums, "sparse_hessian")
    return J.sparse_hessian_of(graph, names, target)


__all__ = ["TransformedFunction", "grad", "hessian", "jacfwd", "jacobian", "jacrev", "jvp",
           "sparse_hessian", "sparse_jacobian",
           "named_tuple", "value_and_grad", "vjp"]
