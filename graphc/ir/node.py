"""Immutable SSA nodes, hash-consed so that equal subexpressions are one node.

A :class:`Node` is one value of the graph IR: a primitive applied to argument nodes
and static parameters, with a dtype and a static shape. Nodes are *interned*: building
the same primitive on the same arguments with the same parameters returns the very same
object, so common subexpressions are shared by construction (hash-consing, as in
tinygrad's UOp cache) and graph identity is cheap to test.

Every node also carries ``key``, a 64-bit structural hash computed from the primitive
name, parameters, dtype, shape and the keys of its arguments. Unlike ``id()`` or
``hash()`` of strings it is the same in every process, so it can order commutative
arguments, name cache files and break ties deterministically.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import math
import struct
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

from .errors import GraphcError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    from .primitive import Primitive

from .extent import Extent

DTYPES = ("float64", "float32")
"""The dtypes a node may have. float64 is the default everywhere."""

_intern: "weakref.WeakValueDictionary[tuple, Node]" = weakref.WeakValueDictionary()
_intern_lock = threading.Lock()


def stable_repr(value: Any) -> str:
    """A process-independent text form of a parameter value, exact for floats."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return struct.pack("<d", value).hex()
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, tuple):
        return "(" + ",".join(stable_repr(v) for v in value) + ")"
    if value is None:
        return "N"
    if isinstance(value, Extent):   # a size known at run time: by its expression
        return f"e{value.epoch}:{value.key_text()}"
    raise TypeError(f"unsupported node parameter {value!r} of type {type(value).__name__}")


class Node:
    """One immutable SSA value: ``prim(*args; params)`` of a dtype and a static shape.

    Do not construct directly: use :func:`graphc.ir.apply` (or the builder functions
    of :mod:`graphc.ir.ops`), which infers dtype and shape and interns the node.

    Attributes:
        prim: the :class:`~graphc.ir.primitive.Primitive` applied.
        args: tuple of argument nodes.
        params: tuple of ``(name, value)`` pairs of static parameters (sorted by name).
        dtype: ``"float64"`` or ``"float32"``.
        shape: tuple of dimensions (``()`` for a scalar).
        key: 64-bit structural hash, identical across processes.
    """

    __slots__ = ("prim", "args", "params", "dtype", "shape", "key", "__weakref__")

    def __init__(self, prim, args, params, dtype, shape, key):
        object.__setattr__(self, "prim", prim)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "key", key)

    def __setattr__(self, name, value):
        raise AttributeError("graphc nodes are immutable")

    def __reduce__(self):
        from .graph import node_from_state, node_state
        return (node_from_state, (node_state(self),))

    @property
    def op(self) -> str:
        """The primitive's name (``"add"``, ``"sin"``, ``"input"``, ``"const"``...)."""
        return self.prim.name

    def param(self, name: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == name:
                return v
        return default

    @property
    def is_input(self) -> bool:
        return self.prim.name == "input"

    @property
    def is_const(self) -> bool:
        return self.prim.name == "const"

    @property
    def name(self) -> str | None:
        """The input's name for an input node, else None."""
        return self.param("name") if self.is_input else None

    @property
    def value(self) -> float | None:
        """The constant's value for a const node, else None."""
        return self.param("value") if self.is_const else None

    def __repr__(self) -> str:
        if self.is_input:
            return f"Node(input {self.name!r})"
        if self.is_const:
            return f"Node(const {self.value!r})"
        return f"Node({self.prim.name}, {len(self.args)} args, key={self.key:016x})"

    # Arithmetic sugar for building graphs in Python (derivative rules, the tracer).
    # Equality stays identity so nodes can be dict keys; use ops.eq for comparison.
    # A NumPy array operand becomes an array constant (numpy_dispatch.array_constant).
    def __add__(self, other): return _ops().add(self, _arr(other, self))
    def __radd__(self, other): return _ops().add(_arr(other, self), self)
    def __sub__(self, other): return _ops().sub(self, _arr(other, self))
    def __rsub__(self, other): return _ops().sub(_arr(other, self), self)
    def __mul__(self, other): return _ops().mul(self, _arr(other, self))
    def __rmul__(self, other): return _ops().mul(_arr(other, self), self)
    def __truediv__(self, other): return _ops().div(self, _arr(other, self))
    def __rtruediv__(self, other): return _ops().div(_arr(other, self), self)
    def __mod__(self, other): return _ops().mod(self, _arr(other, self))
    def __rmod__(self, other): return _ops().mod(_arr(other, self), self)
    def __pow__(self, other): return _ops().pow(self, _arr(other, self))
    def __rpow__(self, other): return _ops().pow(_arr(other, self), self)
    def __matmul__(self, other): return _array_ops().matmul(self, _arr(other, self))
    def __rmatmul__(self, other): return _array_ops().matmul(_arr(other, self), self)
    def __neg__(self): return _ops().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops().abs(self)
    # Ordering builds comparison nodes (1.0 or 0.0), like NumPy arrays; == stays identity.
    def __lt__(self, other): return _ops().lt(self, _arr(other, self))
    def __le__(self, other): return _ops().le(self, _arr(other, self))
    def __gt__(self, other): return _ops().gt(self, _arr(other, self))
    def __ge__(self, other): return _ops().ge(self, _arr(other, self))

    # NumPy-style array methods and properties (see docs/arrays-in-python.md).
    def __getitem__(self, index):
        """NumPy basic indexing ``x[index]``: ints (negative from the end), slices (any
        step), ``...`` and ``None`` (a new axis of length 1), alone or in a tuple.

        Built from ``getitem`` (:func:`graphc.ir.array_ops.getitem`) and, for ``None``,
        ``reshape``; the result's shape is NumPy's for the same index.

        Integer-array indexing (``x[idx]``, ``x[:, idx]``: one NumPy integer array,
        list of integers, or graph value holding integers, among slices and ``...``) is
        ``np.take`` along that axis (:func:`graphc.ir.index_ops.take`; indices checked
        at call time, negative ones count from the end).

        Raises:
            ShapeError: an index out of bounds for a concrete axis, too many indices,
                more than one ``...``, boolean masks, several index arrays, or an index
                array mixed with integers or ``None``.
        """
        from . import index_ops
        items = index if isinstance(index, tuple) else (index,)
        if any(index_ops.is_array_index(it) for it in items):
            axis, idx, basic = index_ops.split_array_index(self, index)
            base = _basic_index(self, basic) if basic else self
            return index_ops.take(base, idx, axis)
        return _basic_index(self, index)

    @property
    def at(self):
        """JAX's functional index update: ``x.at[idx].add(v)`` is ``x`` with ``v`` added
        at ``idx`` (repeated indices accumulate; the transpose of ``x[idx]``), and
        ``x.at[idx].get()`` is ``x[idx]`` (:class:`graphc.ir.index_ops.AtHelper`)."""
        from . import index_ops
        return index_ops.AtHelper(self)

    def __len__(self):
        """The length of the first axis (NumPy's ``len``); a TypeError for a scalar."""
        if not self.shape:
            raise TypeError("len() of a 0-d graph value")
        if not isinstance(self.shape[0], int):
            raise ShapeError(f"len() of a graph value whose first dimension is the symbol "
                             f"{self.shape[0]}: it is known only when the kernel is called")
        return self.shape[0]

    def __iter__(self):
        """``x[0], x[1], ...`` along the first axis (a concrete length)."""
        n = len(self)
        return (self[i] for i in range(n))

    @property
    def ndim(self) -> int:
        """The number of dimensions, ``len(shape)``."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """The number of entries (a ShapeError for a symbolic shape: use
        ``graphc.numpy.size(x)``, a graph value, instead)."""
        if not all(isinstance(d, int) for d in self.shape):
            raise ShapeError(f"the size of a graph value of symbolic shape {self.shape} is "
                             f"known only when the kernel is called; graphc.numpy.size(x) "
                             f"is it as a graph value")
        return math.prod(self.shape)

    @property
    def T(self) -> "Node":  # noqa: N802 - NumPy's name
        """The transpose (axes reversed; a 0-d or 1-d value is returned unchanged)."""
        return self if len(self.shape) < 2 else _array_ops().transpose(self)

    def transpose(self, *axes) -> "Node":
        """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))`` as NumPy."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _array_ops().transpose(self, tuple(axes) if axes else None)

    def reshape(self, *shape) -> "Node":
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))`` (one entry may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _array_ops().reshape(self, tuple(shape))

    def sum(self, axis=None, keepdims=False) -> "Node":  # noqa: A003
        """Sum over ``axis`` (an int, a tuple, or None for all axes), as ``np.sum``."""
        return _array_ops().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False) -> "Node":
        """Mean over ``axis``, as ``np.mean``."""
        return _array_ops().mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False) -> "Node":
        """Product over ``axis``, as ``np.prod``."""
        return _array_ops().prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False) -> "Node":  # noqa: A003
        """Largest entry over ``axis`` (NaN propagates), as ``np.max``."""
        return _array_ops().amax(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False) -> "Node":  # noqa: A003
        """Smallest entry over ``axis`` (NaN propagates), as ``np.min``."""
        return _array_ops().amin(self, axis=axis, keepdims=keepdims)
    __hash__ = object.__hash__

    def __bool__(self):
        # A graph value has no number while a graph is built: Python control flow on
        # it (if/while/and/or/not) would silently pick one branch for all inputs.
        raise _control_flow_error(sys._getframe(1), "a truth value (if, while, and, or, not)")

    def __float__(self):
        raise _control_flow_error(sys._getframe(1), "a Python float (float(), math.*)")

    # NumPy functions on graph values build nodes (NEP 13 and NEP 18) or raise a
    # GraphcError; see graphc/ir/numpy_dispatch.py. Never a 0-d object array.
    __array_priority__ = 1000

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .numpy_dispatch import array_ufunc
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_dispatch import array_function
        return array_function(func, types, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        raise GraphcError(
            "a graph value cannot become a NumPy array (np.asarray, np.array, or a NumPy "
            "function given a list of graph values): it has no numbers while a graph is "
            "built. Apply NumPy's ufuncs and np.sum, np.where, np.concatenate... to graph "
            "values themselves (they build graph nodes); combine a list of graph values "
            "with Python's sum(...) or np.stack([...]); or declare an array input with "
            "its shape")


def _chained_comparison(frame) -> tuple[str, str] | None:
    """If ``frame`` is testing the first link of a chained comparison (``a < b < c``, which
    Python runs as ``(a < b) and (b < c)``), its source text and the graph form
    ``(a < b) * (b < c)``; else None. Reads the instruction's source span
    (``co_positions``, Python 3.11+) and parses it with :mod:`ast` (never evaluated)."""
    try:
        code = frame.f_code
        lineno, end_lineno, col, end_col = list(code.co_positions())[frame.f_lasti // 2]
        if None in (lineno, end_lineno, col, end_col):
            return None
        lines = [linecache.getline(code.co_filename, n).encode()
                 for n in range(lineno, end_lineno + 1)]
        if not all(lines):
            return None
        if len(lines) == 1:
            text = lines[0][col:end_col]
        else:
            text = lines[0][col:] + b"".join(lines[1:-1]) + lines[-1][:end_col]
        text = text.decode("utf-8", errors="replace")
        tree = ast.parse("(" + text + ")", mode="eval").body
    except (AttributeError, IndexError, ValueError, SyntaxError):
        return None
    if not isinstance(tree, ast.Compare) or len(tree.ops) < 2:
        return None
    operands = [tree.left, *tree.comparators]
    links = [ast.unparse(ast.Compare(operands[i], [op], [operands[i + 1]]))
             for i, op in enumerate(tree.ops)]
    return " ".join(text.split()), " * ".join(f"({t})" for t in links)


def _control_flow_error(frame, what: str) -> GraphcError:
    """The error for Python code that asks a graph node for a concrete value, naming the
    file and line of ``frame`` (the caller) and the graph-level alternatives."""
    where = ""
    if frame is not None:
        code = frame.f_code
        line = linecache.getline(code.co_filename, frame.f_lineno).strip()
        where = (f" at {code.co_filename}, line {frame.f_lineno}, in {code.co_name}"
                 + (f": `{line}`" if line else ""))
        chain = _chained_comparison(frame) if what.startswith("a truth") else None
        if chain is not None:
            return GraphcError(
                f"chained comparison `{chain[0]}`{where}: Python evaluates it as an `and` "
                f"of its links, which needs the truth value of a graph value, and a traced "
                f"function has no numbers yet. Write the graph form `{chain[1]}` (1.0 where "
                f"every link holds, else 0.0), which is what graphc.parse builds for the "
                f"same chained text.")
    return GraphcError(
        f"a graph value was used as {what}{where}. While a function is traced its values "
        f"are graph nodes without numbers, so Python control flow cannot depend on them. "
        f"Select elementwise instead: gc.where(cond, a, b) (or gc.maximum, gc.minimum, "
        f"gc.relu, gc.abs); branch with gc.cond(pred, true_fn, false_fn, *operands) or "
        f"gc.switch; loop with gc.fori_loop, gc.scan or gc.while_loop (docs/loops.md); "
        f"use gc.sin, gc.exp... rather than math.*; graphc code that tests for a missing "
        f"node should write `node is None`.")


def _ops():
    from . import ops
    return ops


def _array_ops():
    from . import array_ops
    return array_ops


def _arr(other, like: Node):
    """A NumPy array (or a list/tuple of numbers, as NumPy reads it) operand as an array
    constant of ``like``'s dtype; anything else unchanged."""
    if isinstance(other, (list, tuple)) or (type(other).__module__ == "numpy" and
                                            hasattr(other, "ndim")):
        from .numpy_dispatch import array_constant
        return array_constant(other, like.dtype, "an operand")
    return other


def _basic_index(x: Node, index) -> Node:
    """``x[index]`` for NumPy basic indexing (see ``Node.__getitem__``)."""
    items = index if isinstance(index, tuple) else (index,)
    for it in items:
        ok = it is None or it is Ellipsis or isinstance(it, slice) or (
            isinstance(it, int) or (type(it).__module__ == "numpy" and
                                    getattr(it, "dtype", None) is not None and
                                    it.dtype.kind in "iu" and getattr(it, "ndim", 1) == 0))
        if isinstance(it, (bool,)) or (type(it).__module__ == "numpy" and
                                       getattr(it, "dtype", None) is not None and
                                       it.dtype.kind == "b"):
            ok = False
        if not ok:
            raise ShapeError(
                f"index {it!r:.40} ({type(it).__name__}) of a graph value: graphc supports "
                f"NumPy basic indexing only (integers, slices, ..., None); select with "
                f"gc.where or one_hot products instead of advanced indexing")
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    used = sum(1 for it in items if it is not None and it is not Ellipsis)
    if used > len(x.shape):
        exc = ShapeError(f"too many indices for a graph value of shape {x.shape}: {used} "
                         f"were indexed")
        exc.node = x  # the tracer names an input traced as a scalar (a hint)
        raise exc
    expanded: list = []
    for it in items:
        if it is Ellipsis:
            expanded.extend([slice(None)] * (len(x.shape) - used))
        else:
            expanded.append(it)
    basic = [it if isinstance(it, slice) else int(it) for it in expanded if it is not None]
    basic += [slice(None)] * (len(x.shape) - len(basic))
    out = x
    if any(not (isinstance(it, slice) and it.start is None and it.stop is None and
                it.step in (None, 1)) for it in basic):
        out = _array_ops().getitem(x, tuple(basic))
    if any(it is None for it in expanded):
        shape, kept = [], iter(out.shape)
        for it in expanded:
            if it is None:
                shape.append(1)
            elif isinstance(it, slice):
                shape.append(next(kept))
        shape.extend(kept)
        out = _array_ops().reshape(out, tuple(shape))
    return out


_prefix_keys: dict[tuple, int] = {}


def _structural_key(prim_name: str, params_text: str, dtype: str, shape: tuple,
                    args: tuple) -> int:
    """64-bit structural hash. The (op, params, dtype, shape) part is hashed once with
    BLAKE2b; combining it with the argument keys uses CPython's tuple hash of ints, which
    (unlike hashes of str) does not depend on PYTHONHASHSEED."""
    pk = (prim_name, params_text, dtype, shape)
    prefix = _prefix_keys.get(pk)
    if prefix is None:
        h = hashlib.blake2b(digest_size=8)
        h.update(f"{prim_name}|{params_text}|{dtype}|{stable_repr(tuple(shape))}".encode())
        prefix = int.from_bytes(h.digest(), "little")
        _prefix_keys[pk] = prefix
    if not args:
        return prefix
    return hash((prefix, *[a.key for a in args])) & 0xFFFF_FFFF_FFFF_FFFF


def make_node(prim: "Primitive", args: tuple, params: tuple, dtype: str,
              shape: tuple) -> Node:
    """Return the interned node for ``prim(*args; params)`` (no inference, no checks
    beyond dtype validity). Most code should call :func:`graphc.ir.apply`."""
    if dtype not in DTYPES:
        raise ShapeError(f"unsupported dtype {dtype!r}; graphc supports {', '.join(DTYPES)}")
    params_text = stable_repr(params) if params else ""
    ikey = (prim.name, params_text, dtype, shape, tuple(map(id, args)))
    node = _intern.get(ikey)
    if node is not None:
        return node
    key = _structural_key(prim.name, params_text, dtype, shape, args)
    fresh = Node(prim, args, params, dtype, shape, key)
    with _intern_lock:
        node = _intern.setdefault(ikey, fresh)
    return node
