"""The Python-function frontend: record a function into a graph by running it on nodes.

:func:`trace` calls a Python function once with one input node per parameter
(:func:`graphc.ir.ops.variable`). Every operator (``x * y``, ``x ** 2``, ``-x``,
``x > 0``) and every NumPy-style function of :mod:`graphc.numpy_api` (``gc.sin``,
``gc.where``...) applied to a node builds a new interned node instead of a number, so
what the function returns *is* the graph of its outputs (tracing, as in JAX's ``jit``
or PyTorch's ``torch.fx``). Python code that is not data-dependent (loops with a fixed
count, helper functions, list comprehensions, constants) simply runs while tracing and
leaves its effect in the graph, unrolled.

**Variable names as labels.** While the function runs, a trace hook
(:func:`sys.settrace`, restricted to the traced function's own frames) reads the frame's
local variables before each line and when the function returns. The first local
variable that holds an operation node names it: ``h = x * y`` labels the product ``h``
in printouts and diagrams (``Graph.labels``). This reads the real bindings rather than
re-parsing source text, so it works for functions defined in a REPL, a notebook, an
``exec`` or a lambda, with loops (each iteration's node keeps the name it was bound
to) and with reassignment (``x = x * 2`` labels the new node ``x``). Names are taken
only from the traced function's own frames (and from the frames of other traced
functions it calls), not from helpers. Any tracing hook that was active before (a
debugger, coverage) keeps running for other frames and is restored afterwards.

**Data-dependent control flow** (``if x > 0:``, ``while err > tol:``, ``x and y``)
cannot be traced: a node has no number yet. ``Node.__bool__`` raises a
:class:`~graphc.GraphcError` naming the file and line and suggesting ``gc.where``.
Write such code with the graph-level control flow of :mod:`graphc.frontend.control`
instead: ``gc.cond``/``gc.switch`` for an ``if``, ``gc.while_loop`` for a ``while``,
``gc.scan``/``gc.fori_loop`` for a long ``for`` that should not unroll (docs/loops.md).
Comparisons with ``==`` keep Python's identity meaning (nodes are dictionary keys);
use ``gc.equal`` for an elementwise test.

**Chained comparisons.** Python runs ``x < y < z`` as ``(x < y) and (y < z)``, which asks
for the truth value of ``x < y``: tracing raises a :class:`~graphc.GraphcError` that
names the chain and its graph form ``(x < y) * (y < z)`` (1.0 where every link holds),
which is exactly what :func:`graphc.parse` builds for the text ``x < y < z``, so a
chained comparison means the same in both frontends or is refused. (``==`` and ``!=``
between graph values are identity tests, so write ``gc.equal(x, y) * gc.equal(y, z)``.)

**NumPy functions.** ``np.sin(x)``, ``np.maximum(x, 0)``, ``np.sum(x, axis=0)``,
``np.where(c, a, b)``... on graph values build the same nodes as graphc's functions
(NumPy's dispatch protocols, :mod:`graphc.ir.numpy_dispatch`); a NumPy function graphc
has no counterpart for raises a :class:`~graphc.GraphcError` saying what to use.

**Arrays.** ``shapes={"W": ("H", "D"), "x": ("D",)}`` makes inputs arrays (symbolic
dimensions are bound when the kernel is called). Array values support ``W @ x``, NumPy
basic indexing ``x[0]``, ``x[1:, ::2]``, ``x[..., None]``, ``.T``, ``.shape``,
``.ndim``, ``.size``, ``.sum(axis=, keepdims=)``, ``.mean()``, ``.max()``, ``.min()``,
``.reshape()``, ``.transpose()``, and :mod:`graphc.numpy` (``import graphc.numpy as gnp``)
has NumPy's names for every primitive. NumPy arrays in the traced code
(``W @ np.ones(3)``) become array constants.
"""

from __future__ import annotations

import inspect
import keyword
import sys
import threading
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..ir import Graph, GraphcError, Node, ShapeError, ops, postorder

_state = threading.local()
"""Per-thread tracing state: ``codes`` (set of code objects whose frames name nodes)
and ``labels`` (``{node: name}`` being collected), or nothing outside a trace."""


def is_tracing() -> bool:
    """True while :func:`trace` runs a function in this thread."""
    return getattr(_state, "labels", None) is not None


def register_code(code) -> None:
    """While tracing, also take labels from frames running ``code`` (used when a traced
    function calls another traced function, which is then inlined)."""
    codes = getattr(_state, "codes", None)
    if codes is not None:
        codes.add(code)


def _record(frame, labels: dict[Node, str]) -> None:
    for name, value in frame.f_locals.items():
        if isinstance(value, Node):
            if value.args and value not in labels:
                labels[value] = name
        elif isinstance(value, (list, tuple)) and len(value) <= 4096:
            for i, item in enumerate(value):
                if isinstance(item, Node) and item.args and item not in labels:
                    labels[item] = f"{name}[{i}]"


def _run_with_labels(fn: Callable, args: list, kwargs: dict, labels: dict[Node, str]):
    """Call ``fn(*args, **kwargs)`` recording local-variable names into ``labels``."""
    code = getattr(fn, "__code__", None)
    codes: set = {code} if code is not None else set()
    previous = sys.gettrace()
    outer_codes = getattr(_state, "codes", None)
    outer_labels = getattr(_state, "labels", None)

    def local_tracer(old_local):
        def tracer(frame, event, arg):
            nonlocal old_local
            if event in ("line", "return"):
                _record(frame, labels)
            if old_local is not None:
                old_local = old_local(frame, event, arg)
            return tracer
        return tracer

    def global_tracer(frame, event, arg):
        old_local = previous(frame, event, arg) if previous is not None else None
        if frame.f_code in codes:
            return local_tracer(old_local)
        return old_local

    _state.codes, _state.labels = codes, labels
    sys.settrace(global_tracer)
    try:
        return fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
        _state.codes, _state.labels = outer_codes, outer_labels


def _run_hinted(fn: Callable, kwargs: dict, labels: dict[Node, str],
                inputs: Mapping[str, Node], shapes: Mapping[str, Any]):
    """:func:`_run_with_labels`, adding a hint to a ShapeError from indexing an input
    that was traced as a scalar because no shape was declared for it."""
    try:
        return _run_with_labels(fn, [], kwargs, labels)
    except ShapeError as exc:
        node = getattr(exc, "node", None)
        param = next((p for p, n in inputs.items() if n is node and p not in shapes), None)
        if param is not None and len(exc.args) == 1 and isinstance(exc.args[0], str) \
                and not getattr(exc, "hinted", False):
            fname = getattr(fn, "__name__", "f")
            fname = fname if fname.isidentifier() else "f"
            hint = (f"; input {param!r} was traced as a scalar, since no shape was "
                    f"declared for it: declare its shape, e.g. "
                    f"gc.function({fname}, shapes={{{param!r}: ('n',)}})")
            exc.args = (exc.args[0] + hint,)
            exc.hinted = True
        raise


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise GraphcError(f"{what} {name!r} is not a valid input name")
    return name


def _to_node(value: Any, dtype: str, where: str) -> Node:
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise GraphcError(f"{where} is a Python bool ({value}); return a graph value, "
                          f"e.g. gc.where(...) or a comparison such as x > 0 (== and != "
                          f"between graph values test identity: use gc.equal(x, y), and "
                          f"gc.equal(x, y) * gc.equal(y, z) for x == y == z)")
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001
        arr = None
    if arr is not None and arr.dtype.kind in "iuf" and arr.size == 1:
        return ops.const(float(arr.reshape(())), dtype)
    raise GraphcError(
        f"{where} is {type(value).__name__} {value!r:.60}; a traced function must return "
        f"graph values (built from its arguments with operators and gc.* functions), "
        f"numbers, or (nested) tuples/lists of them")


def _flatten_outputs(result: Any, dtype: str) -> tuple[list[Node], Any]:
    """Flatten a returned value (node, number or nested tuples/lists) into nodes and
    the Graph ``structure`` of output indices (iterative)."""
    nodes: list[Node] = []
    if not isinstance(result, (tuple, list)):
        return [_to_node(result, dtype, "the return value")], 0
    root: list = []
    stack = [(result, root, "the return value")]
    while stack:
        value, target, where = stack.pop()
        for i, item in enumerate(value):
            here = f"{where}[{i}]"
            if isinstance(item, (tuple, list)):
                if not item:
                    raise GraphcError(f"{here} is an empty {type(item).__name__}")
                sub: list = []
                target.append(sub)
                stack.append((item, sub, here))
            else:
                nodes.append(_to_node(item, dtype, here))
                target.append(len(nodes) - 1)
    if not nodes:
        raise GraphcError("the traced function returned an empty tuple")

    def freeze(t):  # iterative conversion of nested lists to nested tuples
        out_stack: list[list] = [[]]
        work: list = [("open", t)]
        while work:
            kind, item = work.pop()
            if kind == "open":
                if isinstance(item, int):
                    out_stack[-1].append(item)
                else:
                    out_stack.append([])
                    work.append(("close", None))
                    work.extend(("open", s) for s in reversed(item))
            else:
                done = tuple(out_stack.pop())
                out_stack[-1].append(done)
        return out_stack[0][0]

    return nodes, freeze(root)


def _output_names(nodes: list[Node], labels: Mapping[Node, str], base: str,
                  input_names: Iterable[str]) -> list[str]:
    """The local variable name of each output where it has one (and it is unique),
    else ``base`` (one output) or ``base0, base1, ...``."""
    taken = set(input_names)
    names: list[str | None] = []
    for n in nodes:
        lab = labels.get(n)
        ok = lab is not None and lab.isidentifier() and lab not in taken and lab not in names
        names.append(lab if ok else None)
    out = []
    for i, nm in enumerate(names):
        if nm is None:
            nm = base if len(nodes) == 1 else f"{base}{i}"
            while nm in taken or nm in names or nm in out:
                nm += "_"
        out.append(nm)
    return out


def signature_inputs(fn: Callable, inputs: Iterable[str] | None,
                     static: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
    """Which parameters of ``fn`` become graph inputs and which are bound statically.

    Returns:
        (input names in parameter order, ``{parameter: static value}``).

    Raises:
        GraphcError: ``*args``/``**kwargs`` parameters, an unknown name, or a parameter
            that is neither an input nor has a value.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise GraphcError(f"cannot read the parameters of {fn!r} ({exc})") from None
    static = dict(static or {})
    params = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind == p.VAR_POSITIONAL else "**"
            raise GraphcError(
                f"{getattr(fn, '__name__', fn)!r} takes {star}{p.name}: a traced function "
                f"needs named parameters, one per graph input (no *args or **kwargs)")
        params.append(p)
    names = [p.name for p in params]
    unknown = [n for n in list(static) + list(inputs or []) if n not in names]
    if unknown:
        raise GraphcError(f"{getattr(fn, '__name__', 'the function')} has no parameter(s) "
                          f"{', '.join(map(repr, unknown))}; its parameters are "
                          f"{', '.join(names) or 'none'}")
    if inputs is None:
        chosen = [n for n in names if n not in static]
    else:
        chosen = list(inputs)
        if len(set(chosen)) != len(chosen):
            raise GraphcError(f"inputs lists a parameter twice: {chosen}")
        overlap = set(chosen) & set(static)
        if overlap:
            raise GraphcError(f"parameter(s) {sorted(overlap)} are both inputs and static")
        for p in params:
            if p.name not in chosen and p.name not in static:
                if p.default is p.empty:
                    raise GraphcError(
                        f"parameter {p.name!r} is not an input and has no default: list it "
                        f"in inputs=, or give its value in static=")
                static[p.name] = p.default
    order = [n for n in names if n in chosen]
    for n in order:
        _check_name(n, "parameter")
    return order, static


def trace(fn: Callable, inputs: Iterable[str] | None = None, *, dtype: str = "float64",
          shapes: Mapping[str, tuple] | None = None, static: Mapping[str, Any] | None = None,
          name: str | None = None) -> Graph:
    """Record ``fn`` into a :class:`~graphc.Graph` by calling it once on input nodes.

    Args:
        fn: a Python function of named parameters, written with operators and the
            NumPy-style functions of :mod:`graphc.numpy_api` (``gc.sin``, ``gc.where``...).
            It returns a graph value, a number, or nested tuples/lists of them.
        inputs: the parameters that become graph inputs, in the order kernels take them
            (default: every parameter not in ``static``); other parameters keep their
            defaults (or ``static`` values) as Python values.
        dtype: ``"float64"`` (default) or ``"float32"`` for the inputs.
        shapes: ``{parameter: shape}`` of array inputs: tuples of ints and/or symbol
            names (``{"W": ("H", "D"), "x": ("D",)}``), as :func:`graphc.parse` takes
            them; unlisted inputs are scalars ``()``. Array values support ``@``, basic
            indexing, ``.T``, ``.sum()``... (:class:`~graphc.ir.Node`) and the functions
            of :mod:`graphc.numpy`.
        static: ``{parameter: value}`` passed as plain Python values.
        name: base name of the outputs that are not bound to a local variable (default:
            the function's name, or ``y`` for a lambda).

    Returns:
        A graph whose inputs are the parameters, whose outputs are the returned values
        (arranged by ``structure`` like the returned tuples), and whose ``labels`` name
        operation nodes after the local variables that held them.

    Raises:
        GraphcError: data-dependent control flow (from ``Node.__bool__``, with file and
            line), an unsupported signature or return value.
    """
    names, static_values = signature_inputs(fn, inputs, static)
    shapes = dict(shapes or {})
    unknown = set(shapes) - set(names)
    if unknown:
        raise GraphcError(f"shapes given for non-inputs {sorted(unknown)}")
    nodes = {n: ops.variable(n, dtype, tuple(shapes.get(n, ()))) for n in names}
    labels: dict[Node, str] = {}
    kwargs = {**static_values, **nodes}
    result = _run_hinted(fn, kwargs, labels, nodes, shapes)
    outs, structure = _flatten_outputs(result, dtype)
    base = name or getattr(fn, "__name__", "y")
    if not base.isidentifier():
        base = "y"
    out_names = _output_names(outs, labels, base, names)
    reachable = postorder(outs)
    labels = {n: labels[n] for n in reachable if n in labels}
    return Graph([nodes[n] for n in names], outs, out_names, structure, labels)


def trace_open(fn: Callable, rename: Callable[[str], str],
               inputs: Iterable[str] | None = None, *, dtype: str = "float64",
               shapes: Mapping[str, tuple] | None = None,
               static: Mapping[str, Any] | None = None,
               name: str | None = None) -> tuple[Graph, list[Node]]:
    """Trace ``fn`` as :func:`trace` does, for a call inside another trace (a transformed
    function called on graph values, :mod:`graphc.transforms`): each input node is named
    ``rename(parameter)`` (fresh names, so that no node of the enclosing trace is taken
    for one), and graph values of the enclosing trace that ``fn`` closes over are
    allowed: the inputs they depend on are declared after the parameters.

    Returns:
        ``(graph, captured)``: the graph (inputs: the parameters, then ``captured``),
        and the captured input nodes (those of the enclosing trace).

    Raises:
        GraphcError: as :func:`trace`.
    """
    names, static_values = signature_inputs(fn, inputs, static)
    shapes = dict(shapes or {})
    nodes = [ops.variable(rename(n), dtype, tuple(shapes.get(n, ()))) for n in names]
    labels: dict[Node, str] = {}
    result = _run_hinted(fn, {**static_values, **dict(zip(names, nodes))}, labels,
                         dict(zip(names, nodes)), shapes)
    outs, structure = _flatten_outputs(result, dtype)
    base = name or getattr(fn, "__name__", "y") or "y"
    out_names = _output_names(outs, labels, base if base.isidentifier() else "y", names)
    mine = set(map(id, nodes))
    captured = [n for n in postorder(outs) if n.is_input and id(n) not in mine]
    return Graph(nodes + captured, outs, out_names, structure, labels), captured


__all__ = ["is_tracing", "register_code", "signature_inputs", "trace", "trace_open"]
