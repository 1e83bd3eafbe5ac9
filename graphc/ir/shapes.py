"""Static shapes with named dimensions, bound to sizes when a graph is called.

A node's shape is a tuple of *dimensions*. A dimension is an ``int`` or a ``str``:

* a *symbol* such as ``"B"`` or ``"n"``: a size fixed only when the graph is called
  (``parse(..., X=("D", "B"))``);
* a *derived* dimension, an integer linear combination of symbols written in canonical
  form (``"n-1"`` for ``x[1:]`` when ``x`` has shape ``("n",)``, ``"m+n"`` for a
  concatenation). Shape rules build these with :func:`dim_add` and :func:`dim_sub`, so
  two derived dimensions are equal exactly when their canonical strings are.

At call time :func:`bind` matches the input arrays' shapes to the declared ones and
returns the *environment* ``{symbol: size}``; :func:`concrete_shapes` then re-runs every
node's shape rule on the concrete sizes (the rule, not just the symbolic shape, so a
slice that NumPy would clip, or an index out of range, is caught) and checks that they
agree with the symbolic shapes. Errors name the node (trace number and text), its
argument shapes and the sizes bound. Backends specialise compiled code per concrete
binding (see :func:`shape_key`).
"""

from __future__ import annotations

import re
import threading
import weakref
from functools import lru_cache
from typing import Any, Mapping, Sequence

from .errors import InputError, ShapeError
from .extent import Extent

_TERM = re.compile(r"([+-]?)(?:(\d+)\*)?([A-Za-z_][A-Za-z0-9_]*)|([+-]?)(\d+)")
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_symbol(d: Any) -> bool:
    """True for a plain symbolic dimension name (``"B"``), not a derived one."""
    return isinstance(d, str) and _SYMBOL.fullmatch(d) is not None


def check_dim(d: Any, what: str = "dimension") -> int | str:
    """``d`` as a valid dimension: a non-negative int or a symbol name.

    Raises:
        ShapeError: anything else (negative sizes, floats that are not whole...).
    """
    if isinstance(d, bool):
        raise ShapeError(f"{what} {d!r} is not a size")
    if isinstance(d, Extent):   # a size known at run time (code generation)
        return d
    if isinstance(d, int) or (hasattr(d, "__index__") and not isinstance(d, str)):
        d = int(d)
        if d < 0:
            raise ShapeError(f"{what} {d} is negative")
        return d
    if isinstance(d, float) and d.is_integer() and d >= 0:
        return int(d)
    if isinstance(d, str):
        _parse(d)
        return d
    raise ShapeError(f"{what} {d!r} must be a non-negative integer or a name such as 'B'")


@lru_cache(maxsize=4096)
def _parse(d: str) -> tuple[tuple[tuple[str, int], ...], int]:
    """A derived dimension string as ``(((symbol, coefficient), ...), constant)``."""
    text = d.replace(" ", "")
    pos = 0
    coeffs: dict[str, int] = {}
    const = 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None or m.end() == pos or (pos > 0 and text[pos] not in "+-"):
            raise ShapeError(f"dimension {d!r} is not a name or a sum of names and integers")
        if m.group(3):
            sign = -1 if m.group(1) == "-" else 1
            coeffs[m.group(3)] = coeffs.get(m.group(3), 0) + sign * int(m.group(2) or 1)
        else:
            sign = -1 if m.group(4) == "-" else 1
            const += sign * int(m.group(5))
        pos = m.end()
    return tuple(sorted((k, v) for k, v in coeffs.items() if v)), const


def _format(coeffs: Mapping[str, int], const: int) -> int | str:
    terms = []
    for name in sorted(coeffs):
        c = coeffs[name]
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else f"{abs(c)}*"
        terms.append(("-" if c < 0 else "+") + mag + name)
    if not terms:
        return const
    if const:
        terms.append(("-" if const < 0 else "+") + str(abs(const)))
    text = "".join(terms)
    return text[1:] if text.startswith("+") else text


def _linear(d: int | str) -> tuple[dict[str, int], int]:
    if isinstance(d, int):
        return {}, d
    coeffs, const = _parse(d)
    return dict(coeffs), const


def dim_add(a: int | str, b: int | str, sign: int = 1) -> int | str:
    """``a + sign*b`` for dimensions (canonical form; an int when no symbol remains)."""
    if isinstance(a, Extent) or isinstance(b, Extent):   # sizes known at run time
        return a + sign * b
    ca, ka = _linear(a)
    cb, kb = _linear(b)
    for name, c in cb.items():
        ca[name] = ca.get(name, 0) + sign * c
    return _format(ca, ka + sign * kb)


def dim_sub(a: int | str, b: int | str) -> int | str:
    """``a - b`` for dimensions."""
    return dim_add(a, b, -1)


def dim_symbols(d: int | str) -> tuple[str, ...]:
    """The symbol names a dimension depends on."""
    return () if isinstance(d, int) else tuple(k for k, _ in _parse(d)[0])


def eval_dim(d: int | str, env: Mapping[str, int | str]) -> int | str:
    """The size of dimension ``d`` given ``env`` (``{symbol: size}``): an int when the
    sizes are ints; sizes that are dimensions themselves (``{"n": "m"}``, as when a
    traced function's declared shapes are matched to symbolic argument shapes) give a
    dimension in canonical form.

    Raises:
        ShapeError: a symbol that ``env`` does not bind.
    """
    if isinstance(d, (int, Extent)):
        return d
    coeffs, const = _parse(d)
    if any(isinstance(env.get(name), Extent) for name, _ in coeffs):
        value = const   # sizes known at run time: an extent
        for name, c in coeffs:
            value = value + c * env[name]
        return value
    total: dict[str, int] = {}
    for name, c in coeffs:
        try:
            v = env[name]
        except KeyError:
            raise ShapeError(f"dimension {d!r} uses {name!r}, which no input binds") from None
        vc, vk = _linear(v)
        const += c * vk
        for sym, k in vc.items():
            total[sym] = total.get(sym, 0) + c * k
    return _format(total, const)


def eval_shape(shape: Sequence, env: Mapping[str, int]) -> tuple[int, ...]:
    """Every dimension of ``shape`` evaluated in ``env``."""
    return tuple(eval_dim(d, env) for d in shape)


def is_concrete(shape: Sequence) -> bool:
    """True when every dimension is an int (or an :class:`~.extent.Extent`, a size
    known at run time)."""
    return all(isinstance(d, (int, Extent)) for d in shape)


def format_shape(shape: Sequence) -> str:
    """``(B, 64)``: a shape as text, symbols without quotes (as the parser reads it)."""
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def size_of(shape: Sequence) -> int | str:
    """The number of elements of a concrete shape (int), or ``"?"`` if symbolic."""
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return "?"
        n *= d
    return n


# ---------------------------------------------------------------------------------
# graphs with arrays

_array_graphs: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def is_array_graph(graph) -> bool:
    """True when ``graph`` has a node of non-scalar static shape or an array primitive
    (a reduction, matmul, reshape...). Such graphs are called with arrays of the
    declared shapes; graphs of scalars instead map elementwise over any batch of
    inputs, broadcast like a ufunc."""
    known = _array_graphs.get(graph)
    if known is None:
        known = any(n.shape != () or not n.prim.elementwise for n in graph.nodes)
        _array_graphs[graph] = known
    return known


def bind(graph, arrays: Sequence[Any]) -> dict[str, int]:
    """Match the shapes of ``arrays`` (one per ``graph.inputs``) to the declared shapes
    and return the environment ``{symbol: size}`` (:func:`bind_shapes`).

    Raises:
        InputError: a rank or a fixed size differs, or a symbol gets two sizes (the
            message names the inputs, the declared and the given shapes).
    """
    return bind_shapes([(x.name, x.shape, tuple(a.shape)) for x, a in zip(graph.inputs, arrays)])


def bind_shapes(entries: Sequence[tuple[str, Sequence, Sequence]]) -> dict[str, int | str]:
    """Match given shapes to declared ones: ``entries`` holds ``(input name, declared
    shape, given shape)``; the given sizes are ints (arrays at a kernel call) or
    dimensions (graph values of symbolic shape, when a traced function is called inside
    another trace). Each symbol stands for one size throughout; derived dimensions
    (``"n-1"``) are checked after the plain ones bind. Returns ``{symbol: size}``.

    Raises:
        InputError: a rank or a fixed size differs, or a symbol gets two sizes (the
            message names the inputs, the declared and the given shapes).
    """
    env: dict[str, int | str] = {}
    source: dict[str, tuple[str, tuple]] = {}
    derived = []
    for name, decl, shape in entries:
        shape, decl = tuple(shape), tuple(decl)
        if len(shape) != len(decl):
            raise InputError(f"input {name!r} has shape {shape}, but the graph declares "
                             f"{format_shape(decl)} ({len(decl)} dimension(s))")
        for i, (d, s) in enumerate(zip(decl, shape)):
            if isinstance(d, int):
                if d != s:
                    raise InputError(f"input {name!r} has shape {shape}, but the graph "
                                     f"declares {format_shape(decl)} (dimension {i}: "
                                     f"{s} vs {d})")
            elif is_symbol(d):
                if d in env and env[d] != s:
                    other, oshape = source[d]
                    raise InputError(
                        f"dimension {d} is {env[d]} in input {other!r} but {s} in input "
                        f"{name!r} (shapes {oshape} and {shape})")
                env.setdefault(d, s)
                source.setdefault(d, (name, shape))
            else:
                derived.append((name, decl, i, d, s, shape))
    for name, decl, i, d, s, shape in derived:
        try:
            want = eval_dim(d, env)
        except ShapeError as exc:
            raise InputError(f"input {name!r}: {exc}") from None
        if want != s:
            raise InputError(f"input {name!r} has shape {shape}, but the graph declares "
                             f"{format_shape(decl)} (dimension {i}: {s} vs {d} = {want})")
    return env


def env_key(env: Mapping[str, int]) -> tuple:
    """A hashable, ordered form of an environment."""
    return tuple(sorted(env.items()))


def subst_params(params: Mapping[str, Any], env: Mapping[str, int]) -> dict:
    """A node's parameters with symbolic dimensions of shape-valued parameters
    (named ``shape``) replaced by their sizes in ``env``."""
    out = dict(params)
    shp = out.get("shape")
    if isinstance(shp, tuple) and not is_concrete(shp):
        out["shape"] = eval_shape(shp, env)
    out.pop("_text", None)
    return out


class _Stub:
    """Stands in for a node when a shape rule is re-run on concrete sizes."""

    __slots__ = ("shape", "dtype", "is_const", "value")

    def __init__(self, shape, dtype, is_const=False, value=None):
        self.shape = shape
        self.dtype = dtype
        self.is_const = is_const
        self.value = value


_shape_cache: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()
_shape_lock = threading.Lock()


def describe_node(graph, node) -> str:
    """``v3 = sum(v2, axis=0)``: a node as its trace line, for error messages."""
    from .text import format_op, INFIX_ATOM, _leaf_text
    nums = graph.numbers
    names = {n: f"v{k}" for n, k in nums.items()}
    if not node.args:
        return node.name or repr(node)
    args = [(names[a], INFIX_ATOM) if a in names else _leaf_text(a) for a in node.args]
    text, _ = format_op(node, [t for t, _ in args], [p for _, p in args])
    return f"{names.get(node, '?')} = {text}"


def concrete_shapes(graph, env: Mapping[str, int]) -> dict[int, tuple[int, ...]]:
    """The concrete shape of every node of ``graph`` under ``env``, keyed by ``id(node)``
    (cached per graph and environment).

    Each operation's shape rule is re-run on its arguments' concrete shapes; the result
    must equal the node's symbolic shape evaluated in ``env``.

    Raises:
        ShapeError: a rule fails on the concrete sizes, or disagrees with the symbolic
            shape (names the node, its argument shapes and the bound sizes).
    """
    key = env_key(env)
    with _shape_lock:
        per_graph = _shape_cache.get(graph)
        if per_graph is None:
            per_graph = _shape_cache.setdefault(graph, {})
        found = per_graph.get(key)
    if found is not None:
        return found
    shapes: dict[int, tuple[int, ...]] = {}
    stubs: dict[int, _Stub] = {}
    bound = ", ".join(f"{k}={v}" for k, v in key) or "no symbols"
    for n in graph.nodes:
        if not n.args:
            try:
                s = eval_shape(n.shape, env)
            except ShapeError as exc:
                raise ShapeError(f"{n!r}: {exc}") from None
            shapes[id(n)] = s
            stubs[id(n)] = _Stub(s, n.dtype, n.is_const, n.value)
            continue
        args = [stubs[id(a)] for a in n.args]
        params = subst_params(dict(n.params), env)
        try:
            s = tuple(n.prim.shape_rule(*args, **params))
            want = eval_shape(n.shape, env)
        except ShapeError as exc:
            raise ShapeError(
                f"{describe_node(graph, n)}: {exc} (argument shapes "
                f"{', '.join(str(a.shape) for a in args)}; {bound})") from None
        if s != want:
            note = _slice_note(n, args, params)
            raise ShapeError(
                f"{describe_node(graph, n)}: the arguments have shapes "
                f"{', '.join(str(a.shape) for a in args)} ({bound}), which give shape {s}, "
                f"but the graph was built for {format_shape(n.shape)} = {want}"
                + (f" ({note})" if note else ""))
        shapes[id(n)] = s
        stubs[id(n)] = _Stub(s, n.dtype)
    if not any(isinstance(v, Extent) for v in env.values()):   # (one compilation's)
        with _shape_lock:
            per_graph[key] = shapes
    return shapes


def _slice_note(node, stubs, params) -> str:
    """For a slice (``getitem``/``unslice``) whose symbolic size fails on the bound
    sizes: which axis, and from which size on the symbolic size holds."""
    from . import array_ops as A
    if node.prim is A.getitem_p:
        sym, conc = node.args[0].shape, stubs[0].shape
    elif node.prim is A.unslice_p:
        sym, conc = dict(node.params)["shape"], params["shape"]
    else:
        return ""
    return A.slice_note(tuple(sym), tuple(conc), params["index"])


def specialize(graph, env: Mapping[str, int], decomposes, is_view):
    """``graph`` with the sizes of ``env`` substituted into every shape, the ops a
    backend wants expanded replaced by their ``decompose`` rules, ``size`` folded, and
    views of constants folded: a graph of concrete shapes for an array backend.

    Args:
        graph: an array graph.
        env: ``{symbol: size}`` for every symbolic dimension.
        decomposes: ``decomposes(prim, params) -> bool``, the ops this backend expands
            (``params``: the node's parameters, e.g. a ``switch``'s branches).
        is_view: ``is_view(prim) -> bool``, the ops this backend treats as views.

    Raises:
        ShapeError: a node's shape rule fails on the bound sizes (names the node).
    """
    from . import array_ops as A
    from . import ops
    from .graph import Graph
    from .primitive import apply, result_dtype

    def expand(prim, args, params, done):
        if prim is A.size_p:
            size = 1
            for a in params["axis"]:
                size = size * args[0].shape[a]
            # a size known at run time stays an extent: a constant of run-time value
            return ops.const(size if isinstance(size, Extent) else float(size),
                             result_dtype(args))
        if args and args[0].is_const and (is_view(prim) or (prim is A.unslice_p and
                                                            args[0].value == 0.0)):
            node = apply(prim, *args, **params)
            return ops.const(args[0].value, node.dtype, node.shape)
        if decomposes(prim, params) and prim.decompose is not None:
            out = apply(prim, *args, **params)
            return rewrite(prim.decompose(*args, out=out, **params), done)
        if is_view(prim):
            shortcut = _unpacked(prim, args[0], params)
            if shortcut is not None:
                return shortcut
        return apply(prim, *args, **params)

    def rewrite(root, done):
        """Expand every node of ``root``'s graph not yet in ``done`` (iteratively)."""
        new: dict = {}
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if id(n) in new:
                continue
            if id(n) in done or not n.args:
                new[id(n)] = n
                continue
            if not ready:
                stack.append((n, True))
                stack.extend((a, False) for a in n.args if id(a) not in new)
                continue
            args = [new[id(a)] for a in n.args]
            params = {k: v for k, v in n.params if not k.startswith("_")}
            m = expand(n.prim, args, params, done)
            done.add(id(m))
            new[id(n)] = m
        return new[id(root)]

    env = dict(env)
    concrete_shapes(graph, env)
    new: dict = {}
    done: set = set()
    for n in graph.nodes:
        if n.is_input:
            m = ops.variable(n.name, n.dtype, eval_shape(n.shape, env))
        elif n.is_const:
            m = ops.const(n.value, n.dtype, eval_shape(n.shape, env))
        else:
            args = [new[id(a)] for a in n.args]
            m = expand(n.prim, args, subst_params(dict(n.params), env), done)
        done.add(id(m))
        new[id(n)] = m
    return Graph([new[id(x)] for x in graph.inputs], [new[id(o)] for o in graph.outputs],
                 graph.output_names, graph.structure)


def _unpacked(prim, x, params):
    """The node a view op of ``x`` equals without a copy, or None: a ``reshape`` of a
    ``reshape`` is one reshape of the first operand (none when the shapes agree); a
    slice ``v[a:b]`` of a vector ``concatenate`` that is exactly one of its operands is
    that operand. These pack/unpack pairs come from loop and branch operands
    (:mod:`graphc.ir.control_flow`) once their ``decompose`` rules or bodies are inlined,
    and would otherwise be copies in every loop step."""
    from . import array_ops as A
    if prim is A.reshape_p:
        shape = tuple(params["shape"])
        src = x.args[0] if x.prim is A.reshape_p else x
        if tuple(src.shape) == shape:
            return src
        if src is not x and -1 not in shape:
            return A.reshape(src, shape)
        return None
    if prim is A.getitem_p and x.prim is A.concatenate_p and len(x.shape) == 1 and \
            dict(x.params).get("axis", 0) == 0:
        entries = A.parse_index(params["index"])
        if len(entries) != 1 or not isinstance(entries[0], slice):
            return None
        start, stop, step = entries[0].indices(int(x.shape[0]))
        if step != 1:
            return None
        off = 0
        for a in x.args:
            k = int(a.shape[0])
            if off == start and off + k == stop:
                return a
            off += k
    return None


def array_consumers(graph) -> dict[int, list]:
    """``{id(node): [the distinct nodes that read it]}`` for an array backend's fusion
    planning; ``one_hot``'s second argument is not a read (only its shape is used)."""
    from . import array_ops as A
    consumers: dict[int, list] = {}
    for n in graph.nodes:
        for pos, a in enumerate(n.args):
            if n.prim is A.one_hot_p and pos == 1:
                continue
            lst = consumers.setdefault(id(a), [])
            if not any(c is n for c in lst):
                lst.append(n)
    return consumers
