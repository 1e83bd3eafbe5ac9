"""Loops as loops on the GPU: one thread per point runs a graph's scans, while loops and
branches for its point (text only; no Numba imported).

A graph whose inputs and outputs are scalars but which holds control flow
(``scan``, ``while_loop``, ``switch``: :mod:`graphc.ir.control_flow`, built by
``gc.scan``, ``gc.fori_loop``, ``gc.while_loop``, ``gc.cond``, ``gc.switch``) is a
*per-point program*: evaluated at ``n`` points it is the one-loop case of the CUDA
backend (the map kernel of :func:`.render.render`, the same parameters ``in0..``,
``out0..``, ``n``, ``dim0..`` and the same input layouts), whose thread, for its point,
runs the graph serially:

* a ``scan`` is a Python ``for t in range(length)`` (``range(length - 1, -1, -1)``
  when ``reverse``) around the code of its body, rendered once; a ``while_loop`` is a
  ``while True`` loop that breaks when the condition is zero or after ``max_steps``
  steps; a ``switch`` is an ``if`` per branch, and only the chosen branch runs (as in
  the NumPy interpreter, so a NaN of another branch never reaches the value). The
  source therefore has the same size for 1,000 and 100,000 steps, and Numba compiles
  it in the same time.
* scalar values (shape ``()``) live in registers; loop carries of shape ``()`` are
  variables assigned once per step. Every array value (packed loop operands and
  results, per-step inputs ``xs`` and outputs ``ys``, vector carries, the carries that
  reverse mode stores: :mod:`graphc.passes.loops`) lives in a per-thread array
  (``cuda.local.array``, whose entries the hardware interleaves across the threads of
  a warp, so the threads' accesses coalesce), written and read by loops over its
  entries. Views (``reshape``, ``getitem``, ``transpose``, ``broadcast_to``) are
  offsets and strides into those arrays, never copies, except a reshape of a
  non-contiguous view.
* float32 and float64 pieces may share one packed vector: entries are converted to
  each piece's dtype on every read, as the interpreter's ``split_array`` does.

An array graph (inputs or outputs not scalars) whose loops the array plan would
unroll past :data:`graphc.ir.control_flow.MAX_UNROLL` operations, or which holds an
unbounded ``while_loop`` (:func:`needs_serial`), runs as the program of one point on
one thread (:func:`render_serial`): the same loops, inputs and outputs as flat arrays;
a correct fallback, not a parallel one (a loop around the plan's parallel kernels, as
the LLVM backend runs, is future work).

The per-thread memory is fixed when the kernel is rendered; above
:data:`MAX_LOCAL_BYTES` (CUDA's limit of local memory per thread) rendering raises
:class:`~graphc.ir.LoweringError`: give the scan a checkpoint policy that stores less
(``checkpoint="sqrt"``) or use the NumPy or LLVM target.

Safety: as in :mod:`.render`, the source holds only names this module builds, integer
and ``repr`` float literals and the registered ``cuda`` templates of elementwise
primitives; no user text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import Graph, LoweringError, Node
from ...ir import array_ops as A
from ..common import NP_DTYPES
from ..plan import IDENTITY
from ..plan import contiguous_strides as _c_strides
from ..plan import prod as _prod
from ..lowering_rules import pow_rule
from .render import NP_NAMES, _load, format_float

CONTROL = ("scan", "while_loop", "switch")
"""The control-flow primitives a per-point program runs as loops and branches."""

MAX_LOCAL_BYTES = 512 * 1024
"""The most per-thread array memory a per-point kernel may use (CUDA's limit of local
memory per thread, 512 KiB since compute capability 2.0)."""

UNROLL_ENTRIES = 4
"""Array operations over at most this many entries are written entry by entry; larger
ones (and every array whose size grows with a trip count) get a loop."""

REDUCE = {"sum": "sum", "prod": "prod", "reduce_max": "max", "reduce_min": "min"}
VIEWS = ("reshape", "getitem", "transpose", "broadcast_to")


def has_control_flow(graph: Graph) -> bool:
    """True when ``graph`` holds a ``scan``, ``while_loop`` or ``switch`` node."""
    return any(n.prim.name in CONTROL for n in graph.nodes)


def is_per_point(graph: Graph) -> bool:
    """True when ``graph`` is a per-point program (see the module docstring): every input
    and output has shape ``()`` and some node is a loop or branch. Such graphs are
    evaluated at ``n`` broadcast points like elementwise graphs, one thread each."""
    return (all(x.shape == () for x in graph.inputs) and bool(graph.outputs)
            and all(o.shape == () for o in graph.outputs) and has_control_flow(graph))


def needs_serial(graph: Graph) -> bool:
    """True when ``graph`` has array inputs or outputs and loops that the array plan
    would unroll beyond :data:`graphc.ir.control_flow.MAX_UNROLL` operations (or an
    unbounded ``while_loop``): the CUDA backend then runs it as one thread's program
    (:func:`render_serial`) instead of refusing it."""
    from ...ir import control_flow as cf
    return (has_control_flow(graph) and not is_per_point(graph)
            and cf.unrolled_size(graph) > cf.MAX_UNROLL)


def _specialize(graph: Graph, env=None) -> Graph:
    """``graph`` with the ops whose CUDA key is ``decompose`` expanded (loops and
    branches kept: they are lowered here), the sizes of ``env`` substituted (shapes
    concrete)."""
    from ...ir.shapes import specialize
    from .arrays import DECOMPOSE, supports
    for n in graph.nodes:
        if n.args and n.prim.name not in CONTROL and not supports(n.prim):
            raise LoweringError(f"the CUDA backend cannot lower {n.prim.name} "
                                f"(cuda={n.prim.cuda!r})")
    return specialize(graph, dict(env or {}),
                      lambda p, _: p.cuda == DECOMPOSE and p.name not in CONTROL,
                      lambda p: p.cuda == "array.view")


def _lit(value: float, dtype: str) -> str:
    text = format_float(float(value))
    return text if dtype == "float64" else f"{NP_NAMES[dtype]}({text})"


def _affine(off: str, terms) -> str:
    """``off + Σ index·coef`` as text (``terms``: pairs of an index text and an int),
    dropping zero coefficients and folding integer literals."""
    parts, const = [], 0
    for expr, coef in [(str(off), 1)] + [(str(i), int(c)) for i, c in terms]:
        if coef == 0:
            continue
        if expr.lstrip("-").isdigit():
            const += int(expr) * coef
        else:
            if coef != 1 and not expr.isidentifier():
                expr = f"({expr})"
            parts.append(expr if coef == 1 else f"{expr} * {coef}")
    if const or not parts:
        parts.append(str(const))
    return " + ".join(parts)


@dataclass(frozen=True)
class Value:
    """A value in the thread's program. ``scalar``: an expression every entry equals
    (a register, a literal); else the entries live in the local array ``arr`` at
    ``off + Σ index·strides`` (``off`` a text expression, maybe of a loop index).
    ``dtype``: the value's dtype; ``store``: the dtype of ``arr`` (reads convert)."""
    shape: tuple
    dtype: str
    scalar: str | None = None
    arr: str = ""
    off: str = "0"
    strides: tuple = ()
    store: str = ""

    @property
    def contiguous(self) -> bool:
        if self.scalar is not None:
            return False
        expect = 1
        for d, s in zip(reversed(self.shape), reversed(self.strides)):
            if d != 1 and s != expect:
                return False
            expect *= d
        return True


class _Program:
    """Writes the statements of one thread's program."""

    def __init__(self):
        self.lines: list[str] = []
        self.decls: list[str] = []
        self.depth = 2
        self.count = 0
        self.local_bytes = 0

    # -- text ------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def fresh(self, prefix: str = "t") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def let(self, expr: str, prefix: str = "t") -> str:
        name = self.fresh(prefix)
        self.emit(f"{name} = {expr}")
        return name

    def array(self, shape: tuple, dtype: str) -> Value:
        """A new per-thread array of ``shape`` (C order), declared before the loop."""
        size = max(1, _prod(shape))
        self.local_bytes += size * np.dtype(NP_DTYPES[dtype]).itemsize
        if self.local_bytes > MAX_LOCAL_BYTES:
            raise LoweringError(
                f"this per-point program needs more than {MAX_LOCAL_BYTES} bytes of "
                f"arrays per thread (CUDA's local-memory limit): store fewer carries "
                f"(scan checkpoint='sqrt' or an int) or compile with target='llvm' or "
                f"'numpy'")
        name = self.fresh("a")
        self.decls.append(f"    {name} = cuda.local.array({size}, {NP_NAMES[dtype]})")
        return Value(tuple(shape), dtype, arr=name, off="0", strides=_c_strides(shape),
                     store=dtype)

    # -- entries ---------------------------------------------------------------------
    def entry(self, v: Value, idx) -> str:
        """``v`` at the multi-index ``idx`` (texts), converted to ``v.dtype``."""
        if v.scalar is not None:
            return v.scalar
        ref = f"{v.arr}[{_affine(v.off, list(zip(idx, v.strides)))}]"
        return ref if v.store == v.dtype else f"{NP_NAMES[v.dtype]}({ref})"

    def scalar(self, v: Value) -> str:
        """A register (or literal) holding the one entry of ``v`` (size 1)."""
        if v.scalar is not None:
            return v.scalar
        return self.let(self.entry(v, ["0"] * len(v.shape)))

    def foreach(self, shape: tuple, fn) -> None:
        """Call ``fn(idx)`` for every multi-index of ``shape``: entry by entry for small
        shapes, else inside a loop over the flat index split in C order."""
        size = _prod(shape)
        if size == 0:
            return
        if size <= UNROLL_ENTRIES:
            for flat in range(size):
                idx, r = [], flat
                for d in reversed(shape):
                    idx.append(str(r % d))
                    r //= d
                fn(idx[::-1])
            return
        e = self.fresh("e")
        self.emit(f"for {e} in range({size}):")
        self.depth += 1
        idx = ["0"] * len(shape)
        live = [k for k, d in enumerate(shape) if d != 1]
        if len(live) == 1:
            idx[live[0]] = e
        elif live:
            r = self.let(e, "rr")
            for k in reversed(live[1:]):
                idx[k] = self.let(f"{r} % {shape[k]}", "jj")
                self.emit(f"{r} = {r} // {shape[k]}")
            idx[live[0]] = r
        fn(idx)
        self.depth -= 1

    def copy(self, src: Value, dest: Value) -> None:
        """Store every entry of ``src`` into ``dest`` (same shape)."""
        self.foreach(src.shape, lambda idx: self.emit(
            f"{dest.arr}[{_affine(dest.off, list(zip(idx, dest.strides)))}] = "
            f"{self.entry(src, idx)}"))

    def materialize(self, v: Value) -> Value:
        """``v`` as a contiguous array (a copy unless it already is one)."""
        if v.contiguous:
            return v
        out = self.array(v.shape, v.dtype)
        self.copy(v, out)
        return out

    def piece(self, v: Value, start: str, shape: tuple, dtype: str) -> Value:
        """The contiguous run of ``v`` (a flat vector) from entry ``start`` on, as an
        array of ``shape`` and ``dtype`` (a register for shape ``()``)."""
        if v.scalar is not None:
            s = v.scalar if v.dtype == dtype else f"{NP_NAMES[dtype]}({v.scalar})"
            return Value(tuple(shape), dtype, scalar=s if shape else self.let(s))
        if not v.contiguous:
            v = self.materialize(v)
        off = _affine(v.off, [(start, 1)])
        w = Value(tuple(shape), dtype, arr=v.arr, off=off, strides=_c_strides(shape),
                  store=v.store)
        if shape == ():
            return Value((), dtype, scalar=self.let(self.entry(w, [])))
        return w

    # -- graphs ----------------------------------------------------------------------
    def graph(self, graph: Graph, args: list) -> list:
        """Emit ``graph`` (specialised here) on the values ``args`` (one per input);
        its outputs as values."""
        graph = _specialize(graph)
        vals: dict[int, Value] = {id(x): a for x, a in zip(graph.inputs, args)}
        for n in graph.nodes:
            if id(n) in vals:
                continue
            if n.is_input:
                raise LoweringError(f"internal: unbound input {n.name!r}")
            vals[id(n)] = self.node(n, [vals[id(a)] for a in n.args])
        return [vals[id(o)] for o in graph.outputs]

    def node(self, n: Node, args: list) -> Value:
        if n.is_const:
            return Value(n.shape, n.dtype, scalar=_lit(n.value, n.dtype))
        p = n.prim
        name = p.name
        if p.elementwise:
            return self.elementwise(n, args)
        if name in VIEWS:
            return self.view(n, args[0])
        if name in REDUCE:
            return self.reduce(n, args[0], REDUCE[name])
        if name == "concatenate":
            out = self.array(n.shape, n.dtype)
            axis, start = dict(n.params)["axis"], 0
            for a in args:
                region = Value(a.shape, n.dtype, arr=out.arr,
                               off=str(start * out.strides[axis]), strides=out.strides,
                               store=n.dtype)
                self.copy(a, region)
                start += a.shape[axis]
            return out
        if name == "unslice":
            out = self.array(n.shape, n.dtype)
            self.copy(Value(n.shape, n.dtype, scalar=_lit(0.0, n.dtype)), out)
            region = self._getitem(out, dict(n.params)["index"], n.args[0].shape)
            self.copy(args[0], region)
            return out
        if name == "matmul":
            return self.matmul(n, *args)
        if name == "scan":
            return self.scan(n, args[0])
        if name == "while_loop":
            return self.while_loop(n, args[0])
        if name == "switch":
            return self.switch(n, args[0])
        raise LoweringError(f"the CUDA per-point loop lowering cannot lower {name} yet "
                            f"(inside a graph with loops); compile with target='llvm' or "
                            f"'numpy'")

    def elementwise(self, n: Node, args: list) -> Value:
        params = {}
        for pname, pval in n.params:
            if not isinstance(pval, float):
                raise LoweringError(f"{n.prim.name}: parameter {pname}={pval!r} is not a "
                                    f"float")
            params[pname] = format_float(pval)

        const_pow = (n.prim.name == "pow" and n.args[1].is_const
                     and all(a.dtype == n.dtype for a in n.args))

        def expr(idx) -> str:
            vals = []
            for a in args:
                off = len(idx) - len(a.shape)
                vals.append(self.entry(a, [("0" if d == 1 else idx[off + k])
                                           for k, d in enumerate(a.shape)]))
            if const_pow:
                lowered = self._pow_const(vals[0], float(n.args[1].value), n.dtype)
                if lowered is not None:
                    return lowered
            try:
                e = n.prim.cuda.format(*vals, **params)
            except (IndexError, KeyError) as exc:
                raise LoweringError(f"the CUDA template of {n.prim.name!r} "
                                    f"({n.prim.cuda!r}) does not fit its arguments: "
                                    f"{exc}") from None
            return e if n.dtype == "float64" else f"{NP_NAMES[n.dtype]}({e})"

        if n.shape == ():
            return Value((), n.dtype, scalar=self.let(expr([])))
        out = self.array(n.shape, n.dtype)
        self.foreach(n.shape, lambda idx: self.emit(
            f"{out.arr}[{_affine(out.off, list(zip(idx, out.strides)))}] = {expr(idx)}"))
        return out

    def _pow_const(self, x: str, exponent: float, dt: str) -> str | None:
        """``x ** exponent`` as :func:`graphc.backends.lowering_rules.pow_rule` says
        (multiplications, ``sqrt``; as the elementwise kernels write it), or None for
        the general ``pow`` template."""
        rule = pow_rule(exponent, dt)
        if rule.kind == "one":
            return _lit(1.0, dt)
        if rule.kind == "chain":
            vals = [self.let(x)]
            for i, j in rule.steps:
                vals.append(self.let(f"{vals[i]} * {vals[j]}"))
            if not rule.reciprocal:
                return vals[-1]
            return self.let(f"{_lit(1.0, dt)} / {vals[-1]}")
        wrap = "{}" if dt == "float64" else NP_NAMES[dt] + "({})"
        if rule.kind == "sqrt":
            return self.let(wrap.format(f"math.sqrt({x})"))
        if rule.kind == "sqrt_c99":
            # C pow: pow(-0, .5) = +0 (adding +0 turns -0 into +0), pow(-inf, .5) = +inf
            return self.let(wrap.format(
                f"({_lit(float('inf'), dt)} if {x} == {_lit(float('-inf'), dt)} else "
                f"math.sqrt({x}) + {_lit(0.0, dt)})"))
        return None

    # -- views -----------------------------------------------------------------------
    def view(self, n: Node, v: Value) -> Value:
        params = dict(n.params)
        name, shape = n.prim.name, tuple(n.shape)
        if v.scalar is not None:   # every entry equal: any view keeps it so
            return Value(shape, n.dtype, scalar=v.scalar if v.dtype == n.dtype
                         else f"{NP_NAMES[n.dtype]}({v.scalar})")
        if name == "reshape":
            v = self.materialize(v)
            w = Value(shape, v.dtype, arr=v.arr, off=v.off, strides=_c_strides(shape),
                      store=v.store)
        elif name == "transpose":
            axes = params["axes"]
            w = Value(shape, v.dtype, arr=v.arr, off=v.off,
                      strides=tuple(v.strides[a] for a in axes), store=v.store)
        elif name == "broadcast_to":
            lead = len(shape) - len(v.shape)
            strides = [0] * lead + [0 if d == 1 and shape[lead + k] != 1 else s
                                    for k, (d, s) in enumerate(zip(v.shape, v.strides))]
            w = Value(shape, v.dtype, arr=v.arr, off=v.off, strides=tuple(strides),
                      store=v.store)
        else:
            w = self._getitem(v, params["index"], shape)
        if n.dtype != w.dtype:
            w = Value(w.shape, n.dtype, arr=w.arr, off=w.off, strides=w.strides,
                      store=w.store)
        if shape == ():
            return Value((), n.dtype, scalar=self.let(self.entry(w, [])))
        return w

    def _getitem(self, v: Value, index: str, shape: tuple) -> Value:
        entries = A.parse_index(index)
        off, strides = 0, []
        for d, (size, s) in enumerate(zip(v.shape, v.strides)):
            e = entries[d] if d < len(entries) else slice(None)
            if isinstance(e, slice):
                start, _stop, step = e.indices(size)
                off += start * s
                strides.append(s * step)
            else:
                off += (e % size) * s
        w = Value(tuple(shape), v.dtype, arr=v.arr, off=_affine(v.off, [(str(off), 1)]),
                  strides=tuple(strides), store=v.store)
        if len(strides) != len(shape):
            raise LoweringError(f"internal: getitem [{index}] of shape {v.shape} gives "
                                f"{shape}")
        return w

    # -- reductions and products -----------------------------------------------------
    def reduce(self, n: Node, x: Value, op: str) -> Value:
        from .arrays import _combine
        params = dict(n.params)
        axes, keep = params["axis"], params["keepdims"]
        dt = n.dtype
        kept = [d for d in range(len(x.shape)) if d not in axes]

        def out_index(idx):
            return [("0" if d in axes else idx[d]) for d in range(len(x.shape))] if keep \
                else [idx[d] for d in kept]

        def conv(e):
            return e if x.dtype == dt else f"{NP_NAMES[dt]}({e})"

        if n.shape == ():
            acc = self.fresh("s")
            self.emit(f"{acc} = {_lit(IDENTITY[op], dt)}")
            self.foreach(x.shape, lambda idx: self.emit(
                f"{acc} = {_combine(op, acc, conv(self.entry(x, idx)), dt)}"))
            return Value((), dt, scalar=acc)
        out = self.array(n.shape, dt)
        self.copy(Value(n.shape, dt, scalar=_lit(IDENTITY[op], dt)), out)

        def add(idx):
            ref = f"{out.arr}[{_affine(out.off, list(zip(out_index(idx), out.strides)))}]"
            self.emit(f"{ref} = {_combine(op, ref, conv(self.entry(x, idx)), dt)}")
        self.foreach(x.shape, add)
        return out

    def matmul(self, n: Node, a: Value, b: Value) -> Value:
        if len(a.shape) > 2 or len(b.shape) > 2:
            raise LoweringError("the CUDA per-point loop lowering multiplies matrices and "
                                "vectors only (no batched matmul inside loops yet)")
        dt = n.dtype
        a2 = a if len(a.shape) == 2 else Value((1,) + a.shape, a.dtype, a.scalar, a.arr,
                                               a.off, (0,) + a.strides, a.store)
        b2 = b if len(b.shape) == 2 else Value(b.shape + (1,), b.dtype, b.scalar, b.arr,
                                               b.off, b.strides + (0,), b.store)
        m, k = a2.shape
        cols = b2.shape[1]
        out = self.array(n.shape, dt)
        flat = Value((m, cols), dt, arr=out.arr, off="0", strides=(cols, 1), store=dt)
        zero = _lit(0.0, dt)

        def cell(idx):
            acc = self.fresh("s")
            self.emit(f"{acc} = {zero}")
            q = self.fresh("q")
            self.emit(f"for {q} in range({k}):")
            self.depth += 1
            e = f"{self.entry(a2, [idx[0], q])} * {self.entry(b2, [q, idx[1]])}"
            self.emit(f"{acc} = {acc} + " + (e if dt == "float64" else
                                              f"{NP_NAMES[dt]}({e})"))
            self.depth -= 1
            self.emit(f"{flat.arr}[{_affine('0', list(zip(idx, flat.strides)))}] = {acc}")
        self.foreach((m, cols), cell)
        if n.shape == ():
            return Value((), dt, scalar=self.let(f"{out.arr}[0]"))
        return out

    # -- loops and branches ----------------------------------------------------------
    def _carries(self, pieces: list) -> list:
        """Loop-carried storage for the values ``pieces``: a variable for a scalar, an
        array otherwise, initialised with the piece."""
        out = []
        for v in pieces:
            if v.shape == ():
                name = self.fresh("c")
                self.emit(f"{name} = {NP_NAMES[v.dtype]}({v.scalar})")
                out.append(Value((), v.dtype, scalar=name))
            else:
                c = self.array(v.shape, v.dtype)
                self.copy(v, c)
                out.append(c)
        return out

    def _update(self, carries: list, new: list) -> None:
        """``carries = new``, every new value read before any carry is written."""
        staged = []
        for c, v in zip(carries, new):
            if c.shape == ():
                staged.append(self.let(f"{NP_NAMES[c.dtype]}({self.scalar(v)})"))
            else:
                tmp = self.array(c.shape, c.dtype)
                self.copy(v, tmp)
                staged.append(tmp)
        for c, s in zip(carries, staged):
            if c.shape == ():
                self.emit(f"{c.scalar} = {s}")
            else:
                self.copy(s, c)

    def _pieces(self, x: Value, shapes, dtypes, start: int = 0) -> list:
        """The consecutive pieces of the packed vector ``x`` from entry ``start``."""
        out, off = [], start
        for s, dt in zip(shapes, dtypes):
            out.append(self.piece(x, str(off), tuple(s), dt))
            off += _prod(s)
        return out

    def scan(self, n: Node, x: Value) -> Value:
        params = dict(n.params)
        g = params["body"].graph
        L, nc, nx = params["length"], params["n_carry"], params["n_xs"]
        reverse = params.get("reverse", False)
        ins, outs = g.inputs, g.outputs
        if not x.contiguous and x.scalar is None:
            x = self.materialize(x)
        res = self.array(n.shape, n.dtype)
        # operand layout: carry..., xs (L rows each)..., consts...
        offs, off = [], 0
        for k, i in enumerate(ins):
            offs.append(off)
            off += _prod(i.shape) * (L if nc <= k < nc + nx else 1)
        init = [self.piece(x, str(offs[k]), ins[k].shape, ins[k].dtype) for k in range(nc)]
        consts = [self.piece(x, str(offs[k]), ins[k].shape, ins[k].dtype)
                  for k in range(nc + nx, len(ins))]
        carries = self._carries(init)
        t = self.fresh("t")
        self.emit(f"for {t} in range({L - 1}, -1, -1):" if reverse else
                  f"for {t} in range({L}):")
        self.depth += 1
        xs = [self.piece(x, _affine(str(offs[k]), [(t, _prod(ins[k].shape))]),
                         ins[k].shape, ins[k].dtype) for k in range(nc, nc + nx)]
        new = self.graph(g, carries + xs + consts)
        # ys: row t of each stacked output, after the final carries in the result
        yoff = sum(_prod(o.shape) for o in outs[:nc])
        for o, v in zip(outs[nc:], new[nc:]):
            size = _prod(o.shape)
            dest = Value(o.shape, n.dtype, arr=res.arr, off=_affine(str(yoff), [(t, size)]),
                         strides=_c_strides(o.shape), store=n.dtype)
            self.copy(v, dest)
            yoff += L * size
        self._update(carries, new[:nc])
        self.depth -= 1
        self._store_packed(res, carries)
        return res

    def _store_packed(self, res: Value, values: list, start: int = 0) -> int:
        off = start
        for v in values:
            dest = Value(v.shape, res.dtype, arr=res.arr, off=str(off),
                         strides=_c_strides(v.shape), store=res.dtype)
            if v.shape == ():
                self.emit(f"{res.arr}[{off}] = {v.scalar}")
            else:
                self.copy(v, dest)
            off += _prod(v.shape)
        return off

    def while_loop(self, n: Node, x: Value) -> Value:
        params = dict(n.params)
        g, c = params["body"].graph, params["cond"].graph
        nc, max_steps = params["n_carry"], params["max_steps"]
        pieces = self._pieces(x, [i.shape for i in g.inputs], [i.dtype for i in g.inputs])
        carries = self._carries(pieces[:nc])
        consts = pieces[nc:]
        steps = self.fresh("w")
        self.emit(f"{steps} = 0")
        self.emit("while True:")
        self.depth += 1
        if max_steps is not None:
            self.emit(f"if {steps} >= {max_steps}:")
            self.emit("    break")
        go = self.scalar(self.graph(c, carries + consts)[0])
        self.emit(f"if {go} == 0:")
        self.emit("    break")
        new = self.graph(g, carries + consts)
        self._update(carries, new)
        self.emit(f"{steps} += 1")
        self.depth -= 1
        res = self.array(n.shape, n.dtype)
        self._store_packed(res, carries)
        return res

    def switch(self, n: Node, x: Value) -> Value:
        branches = dict(n.params)["branches"]
        g = branches[0].graph
        nb = len(branches)
        if x.scalar is None and not x.contiguous:
            x = self.materialize(x)
        index = self.piece(x, "0", (), x.dtype).scalar
        # clip(floor(index), 0, nb-1), 0 for NaN: floor(ix) >= k exactly when ix >= k
        k = self.let(f"0 if not ({index} >= 1.0) else ({nb - 1} if {index} >= {nb - 1}.0 "
                     f"else int({index}))", "b")
        res = self.array(n.shape, n.dtype)
        for b, body in enumerate(branches):
            self.emit(f"if {k} == {b}:")
            self.depth += 1
            ops = self._pieces(x, [i.shape for i in g.inputs], [i.dtype for i in g.inputs],
                               start=1)
            self._store_packed(res, self.graph(body.graph, ops))
            self.depth -= 1
        return res


def render_per_point(graph: Graph, layout: tuple, ndim: int, name: str):
    """The Python source of the per-point kernel of ``graph`` (see the module
    docstring) for the normalised input ``layout`` and broadcast rank ``ndim``; a
    :class:`~.render.KernelSource` with the parameters of :func:`.render.render`.

    Raises:
        LoweringError: an op this lowering does not handle yet (it names it), more
            than :data:`MAX_LOCAL_BYTES` of per-thread arrays.
    """
    from .render import KernelSource
    prog = _Program()
    g = graph
    args = []
    strided = any(isinstance(e, tuple) and any(e) for e in layout)
    for k, (x, entry) in enumerate(zip(g.inputs, layout)):
        args.append(Value((), x.dtype, scalar=prog.let(_load(k, entry, x.dtype, ndim), "x")))
    outs = prog.graph(g, args)
    for m, v in enumerate(outs):
        prog.emit(f"out{m}[i] = {prog.scalar(v)}")
    n_in, n_out = len(g.inputs), len(g.outputs)
    params = ([f"in{k}" for k in range(n_in)] + [f"out{m}" for m in range(n_out)]
              + ["n"] + [f"dim{d}" for d in range(ndim)])
    lines = [f"def {name}({', '.join(params)}):",
             f"    # {n_in} input(s), {n_out} output(s): one thread per point runs the "
             f"graph's loops and branches for its point"]
    lines += prog.decls
    lines += ["    i = cuda.grid(1)", "    stride = cuda.gridsize(1)", "    while i < n:"]
    if strided:
        lines.append("        r = i")
        for d in range(ndim - 1, 0, -1):
            lines.append(f"        j{d} = r % dim{d}")
            lines.append(f"        r = r // dim{d}")
        lines.append("        j0 = r")
    lines += prog.lines
    lines.append("        i += stride")
    return KernelSource("\n".join(lines) + "\n", name, tuple(params), layout, ndim)


SERIAL_NAME = "graphc_serial"
"""The kernel function name of :func:`render_serial`."""


def render_serial(graph: Graph, env=None, name: str = SERIAL_NAME):
    """The one-thread kernel of an array graph holding long loops (:func:`needs_serial`)
    for the sizes ``env`` (``{symbol: size}``): thread 0 runs the whole graph as the
    per-point program of one point, inputs read from flat C-ordered arrays ``in0..``
    of their dtypes (a scalar input as one entry), outputs written to flat arrays
    ``out0..``. The loops are loops (the source does not grow with the trip count),
    but nothing runs in parallel: this is the fallback for loops the array plan cannot
    unroll, not a fast path.

    Returns:
        ``(source, specialised graph)``: a :class:`~.render.KernelSource` (``params``:
        ``in0..``, ``out0..``; launch it with one block of one thread) and the graph of
        concrete shapes it computes.

    Raises:
        LoweringError: an op this lowering does not handle yet, more than
            :data:`MAX_LOCAL_BYTES` of intermediate arrays.
        ShapeError: sizes that do not fit the graph.
    """
    from .render import KernelSource
    g = _specialize(graph, env)
    prog = _Program()
    args = []
    for k, x in enumerate(g.inputs):
        if x.shape == ():
            args.append(Value((), x.dtype, scalar=prog.let(f"in{k}[0]", "x")))
        else:
            args.append(Value(tuple(x.shape), x.dtype, arr=f"in{k}", off="0",
                              strides=_c_strides(x.shape), store=x.dtype))
    outs = prog.graph(g, args)
    for m, (o, v) in enumerate(zip(g.outputs, outs)):
        if o.shape == ():
            prog.emit(f"out{m}[0] = {prog.scalar(v)}")
        else:
            prog.copy(v, Value(tuple(o.shape), o.dtype, arr=f"out{m}", off="0",
                               strides=_c_strides(o.shape), store=o.dtype))
    params = [f"in{k}" for k in range(len(g.inputs))] + \
        [f"out{m}" for m in range(len(g.outputs))]
    lines = [f"def {name}({', '.join(params)}):",
             "    # one thread runs the whole graph, its loops as loops (launch [1, 1])"]
    lines += prog.decls
    lines += ["    if cuda.grid(1) == 0:", "        pass"]
    lines += prog.lines
    return KernelSource("\n".join(lines) + "\n", name, tuple(params), (), 0), g


__all__ = ["CONTROL", "MAX_LOCAL_BYTES", "SERIAL_NAME", "Value", "has_control_flow",
           "is_per_point", "needs_serial", "render_per_point", "render_serial"]
