"""``vmap``: vectorizing map (JAX's ``jax.vmap``, with its meaning of ``in_axes``,
``out_axes`` and ``axis_size``).

``gc.vmap(f, in_axes=0, out_axes=0)(xs, ys)`` is ``f`` applied to every example of a
batch: example ``i`` of an argument is its slice ``i`` along its entry of ``in_axes``
(None: every example shares the whole argument), and the results of the examples are
stacked along ``out_axes``. It is not a loop: ``f`` is traced **once**, with the shapes
of one example, and the traced graph is rewritten node by node with the batching rule
of each primitive (the ``batch`` field of its record, :mod:`graphc.ir.batching`; JAX's
batching interpreter, ``jax/_src/interpreters/batching.py``) into one graph over the
batched arguments: one kernel, drawable, and differentiable like any other graph.

* Called on numbers and arrays it compiles that graph (``target``, default ``"llvm"``)
  for the arguments' shapes and dtype (float32 when every array argument is float32)
  and keeps the kernel per shapes.
* Called on graph values, or while a function is traced (inside ``gc.grad``,
  ``gc.function``, another ``vmap``...), it returns graph values: the batched graph is
  built on the arguments themselves, and values of the enclosing trace that ``f``
  closes over stay as they are (unbatched). So ``gc.grad(lambda w: gnp.sum(
  gc.vmap(f, in_axes=(None, 0))(w, xs)))``, ``gc.vmap(gc.grad(f), in_axes=(None, 0))``
  (per-example gradients) and ``gc.vmap(gc.vmap(f))`` are one graph each.

Control flow batches as in JAX: a ``gc.scan`` over batched values is one scan of the
batched body; a ``gc.while_loop`` runs while any example's condition holds, each step
keeping the carry of the examples that are done (a select); a ``gc.cond``/``gc.switch``
with a batched operand runs every branch on the batch and selects per example.
``custom_jvp``/``custom_vjp`` functions of array arguments are refused with a
:class:`~graphc.GraphcError` (scalar ones batch like elementwise primitives).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from .api import compile as _compile
from .frontend import tracer as _tracer
from .ir import Graph, GraphcError, Node, ops
from .ir import batching as _b
from .ir.batching import batch_outputs
from .ir.custom import substitute

_IDS = itertools.count(1)


# ---------------------------------------------------------------------------------
# axes

def _axis_entry(v: Any, what: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise GraphcError(f"vmap: {what} must be an int or None, got {v!r}")
    return int(v)


def _in_axes(in_axes: Any, n: int) -> list:
    """One axis (int or None) per positional argument, from JAX's ``in_axes``."""
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != n:
            raise GraphcError(f"vmap: in_axes has {len(in_axes)} entries "
                              f"({tuple(in_axes)!r}) but the function was called with {n} "
                              f"positional argument(s); give one entry per argument")
        return [_axis_entry(a, f"in_axes[{i}]") for i, a in enumerate(in_axes)]
    return [_axis_entry(in_axes, "in_axes")] * n


def _leaf_axes(out_axes: Any, structure: Any, n_out: int) -> list:
    """One desired output axis per output node (index order), from ``out_axes``: an int
    or None for every output, or a tuple with an entry per returned value (nested like
    the returned tuples, an entry applying to everything under it)."""
    axes: list = [None] * n_out

    def walk(spec, s, where):
        if isinstance(spec, (tuple, list)):
            if isinstance(s, int) or len(spec) != len(s):
                shown = "a single value" if isinstance(s, int) else f"{len(s)} values"
                raise GraphcError(f"vmap: out_axes{where} has {len(spec)} entries but the "
                                  f"function returns {shown} there")
            for i, (sp, ss) in enumerate(zip(spec, s)):
                walk(sp, ss, f"{where}[{i}]")
            return
        ax = _axis_entry(spec, f"out_axes{where}")
        for i in ([s] if isinstance(s, int) else _flat(s)):
            axes[i] = ax

    walk(out_axes, structure, "")
    return axes


def _flat(structure) -> list[int]:
    if isinstance(structure, int):
        return [structure]
    return [i for s in structure for i in _flat(s)]


# ---------------------------------------------------------------------------------
# rewriting a traced graph with the batching rules

def _place(value: Node, axis: int | None, want: int | None, size: int, i: int,
           name: str) -> Node:
    """An output with its batch moved to axis ``want`` (or broadcast there when it
    depends on no mapped argument)."""
    if want is None:
        if axis is not None:
            raise GraphcError(f"vmap: output {i} ({name}) depends on a mapped argument, "
                              f"but out_axes gives None for it (JAX's rule: only an "
                              f"output that is the same for every example can be unmapped)")
        return value
    rank = len(value.shape) - (axis is not None)
    if not -(rank + 1) <= want <= rank:
        raise GraphcError(f"vmap: out_axes {want} is out of range for output {i} ({name}), "
                          f"which has {rank} axis/axes per example")
    want %= rank + 1
    if axis is None:
        shape = tuple(value.shape)
        lifted = _b.reshape(value, shape[:want] + (1,) + shape[want:])
        return _b.broadcast_to(lifted, shape[:want] + (size,) + shape[want:])
    return _b.moveaxis(value, axis, want)


# ---------------------------------------------------------------------------------
# the vmapped function

def _param_names(fun: Callable, n: int) -> list[str]:
    """Names for the ``n`` positional arguments: ``fun``'s parameter names where it has
    that many named positional parameters, else ``x0, x1, ...``."""
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    pos = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(pos) >= n and all(nm.isidentifier() for nm in pos[:n]):
        return pos[:n]
    return [f"x{i}" for i in range(n)]


def _rebuild(template: Any, tree: Any) -> Any:
    """``tree`` (nested tuples of values, as ``Graph.output_tree`` gives) in the
    containers of ``template`` (what the function returned while traced: tuples,
    lists, named tuples such as ``gc.grad``'s ``Gradient``)."""
    if isinstance(template, (tuple, list)) and isinstance(tree, tuple) and \
            len(template) == len(tree):
        items = [_rebuild(t, s) for t, s in zip(template, tree)]
        if isinstance(template, list):
            return items
        if hasattr(template, "_fields"):
            return type(template)(*items)
        return tuple(items)
    return tree


def _as_value(v: Any, dtype: str, what: str) -> Node:
    """A call argument as a graph value (numbers and NumPy arrays as constants)."""
    if isinstance(v, Node):
        return v
    arr = _as_array(v, what)
    if arr.ndim == 0:
        return ops.const(float(arr), dtype)
    from .ir.numpy_dispatch import array_constant
    return array_constant(arr, dtype, what)


def _as_array(v: Any, what: str) -> np.ndarray:
    arr = None
    if not isinstance(v, (bool, np.bool_)):
        try:
            arr = np.asarray(v)
        except Exception:  # noqa: BLE001
            arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        raise GraphcError(f"vmap: {what} is {type(v).__name__} {v!r:.40}; give real numbers, "
                          f"NumPy arrays or graph values")
    return arr


class VmappedFunction:
    """A function made by :func:`vmap`. Call it with the batched arguments by
    position (numbers, arrays, or graph values inside traced code).

    Attributes:
        fun: the function mapped.
        in_axes, out_axes, axis_size: as given to :func:`vmap`.
        target: the compilation target of calls on arrays.
    """

    def __init__(self, fun: Callable, in_axes: Any, out_axes: Any, axis_size: int | None,
                 target: str):
        self.fun = fun
        self.in_axes = in_axes
        self.out_axes = out_axes
        self.axis_size = axis_size
        self.target = target
        self._kernels: dict = {}
        self._graphs: dict = {}
        name = getattr(fun, "__name__", None) or getattr(fun, "_name", None) or "f"
        self._name = f"vmap({name})"

    def __repr__(self) -> str:
        return f"<graphc.vmap {self._name} in_axes={self.in_axes!r} out_axes={self.out_axes!r}>"

    # -- the plan of one call -------------------------------------------------------

    def _plan(self, shapes: list[tuple]) -> tuple[list, int, list[tuple]]:
        """(axis per argument, batch size, shape of one example per argument)."""
        axes = _in_axes(self.in_axes, len(shapes))
        sizes = []
        for i, (shape, ax) in enumerate(zip(shapes, axes)):
            if ax is None:
                continue
            nd = len(shape)
            if not -nd <= ax < nd:
                raise GraphcError(f"vmap: in_axes gives axis {ax} for argument {i}, of shape "
                                  f"{tuple(shape)}, which has {nd} axis/axes")
            axes[i] = ax % nd
            sizes.append((i, shape[axes[i]]))
        if not sizes:
            if self.axis_size is None:
                raise GraphcError("vmap: every entry of in_axes is None, so no argument is "
                                  "mapped and the batch size is unknown; map an argument "
                                  "or give axis_size= (as jax.vmap requires)")
            size = self.axis_size
        else:
            size = sizes[0][1]
            if any(s != size for _, s in sizes) or (
                    self.axis_size is not None and self.axis_size != size):
                said = "; ".join(f"argument {i} (in_axes {axes[i]}, shape "
                                 f"{tuple(shapes[i])}) has {s}" for i, s in sizes)
                extra = (f"; axis_size={self.axis_size}" if self.axis_size is not None
                         else "")
                raise GraphcError(f"vmap got inconsistent sizes for the mapped axes: "
                                  f"{said}{extra}")
        if not isinstance(size, (int, np.integer)):
            raise GraphcError(f"vmap: the mapped axis has the symbolic size {size!r}; vmap "
                              f"needs a concrete batch size (declare concrete shapes)")
        examples = [tuple(s) if ax is None else tuple(s[:ax]) + tuple(s[ax + 1:])
                    for s, ax in zip(shapes, axes)]
        return axes, int(size), examples

    def _trace_example(self, examples: list[tuple], dtype: str):
        """``fun`` traced once on inputs of one example's shapes (fresh names; values of
        an enclosing trace it closes over captured). Returns (graph, its inputs for the
        arguments, their names, what ``fun`` returned)."""
        names = _param_names(self.fun, len(examples))
        fun, returned = self.fun, []

        def call(**kw):
            code = getattr(fun, "__code__", None)
            if code is not None:  # the user's local variables name the nodes
                _tracer.register_code(code)
            returned.append(fun(*[kw[nm] for nm in names]))
            return returned[-1]
        call.__signature__ = inspect.Signature(
            [inspect.Parameter(nm, inspect.Parameter.POSITIONAL_OR_KEYWORD) for nm in names])
        call.__name__ = getattr(fun, "__name__", "y") or "y"
        k = next(_IDS)
        graph, _ = _tracer.trace_open(call, lambda nm: f"{nm}#vmap{k}#", dtype=dtype,
                                             shapes=dict(zip(names, examples)))
        inputs = list(graph.inputs[:len(examples)])
        return graph, inputs, names, returned[-1]

    def _build(self, values: list[Node], axes: list, size: int, examples: list[tuple],
               dtype: str):
        """The batched outputs (graph values) for batched argument values, the example
        graph, what ``fun`` returned (the template of the result's containers) and the
        labels of the batched nodes."""
        graph, inputs, _, returned = self._trace_example(examples, dtype)
        fixed = {id(x): v for x, v, ax in zip(inputs, values, axes) if ax is None}
        outs = list(graph.outputs)
        if fixed:
            outs = substitute(outs, fixed)
        batched = {id(x): (v, ax) for x, v, ax in zip(inputs, values, axes)
                   if ax is not None}
        labels = dict(graph.labels or {})
        pairs = batch_outputs(outs, batched, labels)
        want = _leaf_axes(self.out_axes, graph.structure, len(outs))
        final = [_place(v, ax, w, size, i, nm) for i, ((v, ax), w, nm) in
                 enumerate(zip(pairs, want, graph.output_names))]
        return final, graph, returned, labels

    # -- calls ------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Apply to a batch: on arrays, evaluate the compiled batched graph; on graph
        values (or while tracing), build graph values (:meth:`call_traced`).

        Raises:
            GraphcError: keyword arguments; ``in_axes`` not matching the arguments;
                inconsistent batch sizes; every ``in_axes`` None without
                ``axis_size``; an output mapped but given ``out_axes`` None; a
                primitive that cannot be batched (see :mod:`graphc.vmap`).
        """
        if kwargs:
            raise GraphcError(f"{self._name}: pass the arguments by position (in_axes "
                              f"refers to positions); got keyword(s) {', '.join(kwargs)}")
        if _tracer.is_tracing() or any(isinstance(a, Node) for a in args):
            return self.call_traced(*args)
        arrays = [_as_array(a, f"argument {i}") for i, a in enumerate(args)]
        dtype = "float32" if arrays and all(a.dtype == np.float32 for a in arrays) \
            else "float64"
        key = (tuple(a.shape for a in arrays), dtype, self.target)
        entry = self._kernels.get(key)
        if entry is None:
            graph, returned = self._graph_for_shapes([a.shape for a in arrays], dtype)
            entry = self._kernels[key] = (_compile(graph, self.target), graph, returned)
        kernel, graph, returned = entry
        return _rebuild(returned, kernel(*arrays))

    def call_traced(self, *args: Any) -> Any:
        """The batched function on graph values (numbers and arrays become constants):
        ``fun`` traced once for one example, rewritten by the batching rules onto the
        arguments themselves. Returns graph values arranged as ``fun`` returns them."""
        nodes = [a for a in args if isinstance(a, Node)]
        dtype = "float32" if nodes and all(a.dtype == "float32" for a in nodes) else \
            "float64"
        values = [_as_value(a, dtype, f"argument {i}") for i, a in enumerate(args)]
        axes, size, examples = self._plan([tuple(v.shape) for v in values])
        final, graph, returned, _ = self._build(values, axes, size, examples, dtype)
        return _rebuild(returned, graph.output_tree(final))

    def _graph_for_shapes(self, shapes: list[tuple], dtype: str):
        axes, size, examples = self._plan([tuple(s) for s in shapes])
        names = _param_names(self.fun, len(shapes))
        inputs = [ops.variable(nm, dtype, tuple(s)) for nm, s in zip(names, shapes)]
        final, graph, returned, labels = self._build(inputs, axes, size, examples, dtype)
        labels = {n: nm for n, nm in labels.items() if n.args}
        batched = Graph(inputs, final, graph.output_names, graph.structure, labels)
        return batched, returned

    def graph_for(self, *args: Any) -> Graph:
        """The batched :class:`~graphc.Graph` for arguments of the shapes (and dtype) of
        ``args`` (arrays, or shape tuples): one graph over the batched inputs, named
        after ``fun``'s parameters, for drawing, passes and :func:`graphc.compile`.

        Raises:
            GraphcError: as a call.
        """
        shapes, dtypes = [], []
        for i, a in enumerate(args):
            if isinstance(a, tuple) and all(isinstance(d, (int, np.integer)) for d in a):
                shapes.append(tuple(int(d) for d in a))
                dtypes.append(np.float64)
            else:
                arr = _as_array(a, f"argument {i}")
                shapes.append(arr.shape)
                dtypes.append(arr.dtype)
        dtype = "float32" if dtypes and all(d == np.float32 for d in dtypes) else "float64"
        return self._graph_for_shapes(shapes, dtype)[0]

    @property
    def graph(self) -> Graph:
        """The batched graph, when shapes are known without a call: ``fun`` has a graph
        whose inputs have concrete shapes (``gc.function(f, shapes=...)``, a transform
        of one) and either an argument is mapped with ``axis_size=`` given, giving the
        batch size. Otherwise use :meth:`graph_for`.

        Raises:
            GraphcError: the shapes are not known.
        """
        g = getattr(self.fun, "graph", None)
        if not isinstance(g, Graph) or self.axis_size is None or not all(
                isinstance(d, int) for x in g.inputs for d in x.shape):
            raise GraphcError(f"{self._name}.graph needs the shapes of the batched "
                              f"arguments: give axis_size= and a function with declared "
                              f"shapes (gc.function(f, shapes=...)), or call "
                              f".graph_for(*example_arguments)")
        axes = _in_axes(self.in_axes, len(g.inputs))
        shapes = []
        for x, ax in zip(g.inputs, axes):
            s = tuple(x.shape)
            if ax is not None:
                if not -(len(s) + 1) <= ax <= len(s):
                    raise GraphcError(f"vmap: in_axes {ax} is out of range for input "
                                      f"{x.name} of shape {s}")
                ax %= len(s) + 1
                s = s[:ax] + (self.axis_size,) + s[ax:]
            shapes.append(s)
        key = ("graph", tuple(shapes), g.inputs[0].dtype if g.inputs else "float64")
        if key not in self._graphs:
            self._graphs[key] = self._graph_for_shapes(shapes, key[2])[0]
        return self._graphs[key]


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, *, axis_size: int | None = None,
         target: str | None = None) -> VmappedFunction:
    """Vectorizing map, as ``jax.vmap``: ``fun`` applied to every example of a batch,
    traced once and rewritten by the primitives' batching rules into one graph.

    Args:
        fun: a Python function of positional arguments (written with graphc's or
            NumPy's functions on its arguments), a ``gc.function``, a transformed
            function (``gc.grad(f)``...) or another ``vmap``. Each argument of one
            example is traced with the shape it has without its mapped axis.
        in_axes: the axis of each positional argument that holds the batch: an int (or
            None) for every argument, or a tuple/list with one int or None per
            argument; None: the argument is the same for every example. Negative axes
            count from the end. Keyword arguments are refused.
        out_axes: where the batch goes in the outputs: an int for every output, or a
            tuple nested like the returned tuples (an entry applying to everything
            under it); None for an output that depends on no mapped argument.
        axis_size: the batch size; needed when every ``in_axes`` entry is None (the
            outputs are then broadcast along it), else checked against the arguments.
        target: compilation target of calls on arrays (``"llvm"``, ``"numpy"``,
            ``"cuda"``); default: ``fun``'s (a transform's) or ``"llvm"``.

    Returns:
        A :class:`VmappedFunction`: call it with the batched arguments; it returns what
        ``fun`` returns (tuples, lists, ``gc.grad``'s named tuples), each value with a
        batch axis, as float64 arrays (float32 when every argument is float32) or,
        inside traced code, graph values.

    Raises:
        GraphcError: ``fun`` not callable; ``in_axes``/``out_axes`` entries that are
            not ints or None (at construction); the call errors of
            :meth:`VmappedFunction.__call__`.
    """
    if not callable(fun):
        raise GraphcError(f"vmap takes a function, got {type(fun).__name__}")
    for a in (in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,)):
        _axis_entry(a, "in_axes entries")
    if axis_size is not None and (isinstance(axis_size, bool) or not isinstance(
            axis_size, (int, np.integer)) or axis_size < 0):
        raise GraphcError(f"vmap: axis_size must be a non-negative int, got {axis_size!r}")
    if target is None:
        target = getattr(fun, "target", None) if isinstance(getattr(fun, "target", None),
                                                            str) else None
    return VmappedFunction(fun, in_axes, out_axes, None if axis_size is None else
                           int(axis_size), target or "llvm")


__all__ = ["VmappedFunction", "batch_outputs", "vmap"]
