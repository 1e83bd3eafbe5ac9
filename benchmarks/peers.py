"""The peers graphc is measured against, each computing value and gradient of a graph.

Each peer turns a graphc graph into its own program by walking the graph's nodes (an
interpreter over a table of the peer's functions, so no source text is evaluated),
except Numba and torch.compile, which compile Python source that this module generates
from the graph: only fixed templates, float literals and positional names (``a0``,
``v12``) appear in it, never a string from the formula.

* ``numpy``: the value-and-gradient trace (graphc's reverse mode) evaluated op by op
  with NumPy ufuncs;
* ``jax``: ``jit(vmap(value_and_grad(f)))`` in float64;
* ``torch``: PyTorch eager, forward then ``torch.autograd.grad``;
* ``torch.compile``: ``torch.compile`` of the value-and-gradient trace (its fastest
  form here, see :class:`TorchCompilePeer`);
* ``symengine``: SymEngine's symbolic derivatives, ``Lambdify(..., backend="llvm",
  cse=True)``;
* ``casadi``: CasADi SX with ``casadi.gradient``, ``Function.map`` (serial, or thread);
* ``numba``: a hand-written-style ``@njit`` loop over the points computing value and
  gradient (the trace of graphc's reverse mode), ``prange`` for threads;
* ``C`` and ``C-ffast-math``: hand-written C (``benchmarks/cpeers/<workload>.c``,
  derivatives derived by hand) compiled at benchmark time with ``gcc -O3 -march=native``
  without / with ``-ffast-math`` (``-fopenmp`` for threads > 1) into a shared library
  in a temporary directory and called through ctypes; main workloads only. These are
  not frameworks: the report shows graphc's ratio to them beside the fastest framework.

A peer whose package is missing is reported absent.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import math
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import graphc as gc
from graphc.ir import Graph


class Unsupported(Exception):
    """The peer cannot express an op of this graph."""


def _walk(graph: Graph, inputs: Sequence, table: dict, const: Callable):
    """Evaluate ``graph``'s outputs with ``table[op](*args, **params)``."""
    vals = {}
    for x, v in zip(graph.inputs, inputs):
        vals[x] = v
    for n in graph.nodes:
        if n in vals:
            continue
        if n.is_const:
            vals[n] = const(n.value)
            continue
        fn = table.get(n.op)
        if fn is None:
            raise Unsupported(f"no {n.op}")
        vals[n] = fn(*(vals[a] for a in n.args), **dict(n.params))
    return [vals[o] for o in graph.outputs]


def _common(m, sigmoid=None, extra=None):
    t = {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "neg": lambda a: -a, "pow": lambda a, b: a ** b,
        "exp": m.exp, "log": m.log, "sqrt": m.sqrt, "sin": m.sin, "cos": m.cos,
        "tan": m.tan, "tanh": m.tanh, "sinh": m.sinh, "cosh": m.cosh,
    }
    if sigmoid is not None:
        t["sigmoid"] = sigmoid
    t.update(extra or {})
    return t


class Peer:
    """A competitor. ``build(f, vg, n, threads)`` returns ``run(arrays) -> outputs``
    (value then gradient components, in the peer's own array type) and a function
    turning those into NumPy arrays."""

    name = "?"
    module = ""

    def available(self) -> str | None:
        """None when usable, else why not."""
        try:
            importlib.import_module(self.module)
        except Exception as exc:  # noqa: BLE001 - any import failure means absent
            return f"not installed ({type(exc).__name__})"
        return None

    def build(self, f: Graph, vg: Graph, n: int, threads: int):
        raise NotImplementedError

    def prepare(self, xs: list[np.ndarray]):
        """The inputs in the peer's own array type (done once, outside the timing)."""
        return xs

    def version(self) -> str:
        try:
            return importlib.import_module(self.module).__version__
        except Exception:  # noqa: BLE001
            return "?"


class GraphcPeer(Peer):
    name, module = "graphc", "graphc"

    def build(self, f, vg, n, threads):
        k = gc.compile(vg, optimize_graph=False)
        structure = vg.structure

        def flat(out):
            if isinstance(structure, int):
                return [out]
            v, gs = out
            return [v, *(gs if isinstance(gs, tuple) else (gs,))]
        return (lambda xs: k(*xs)), flat


class NumpyPeer(Peer):
    name, module = "numpy", "numpy"

    def build(self, f, vg, n, threads):
        table = {name: p.impl for name, p in gc.ir.PRIMITIVES.items()}

        def run(xs):
            with np.errstate(all="ignore"):
                out = _walk(vg, xs, table, float)
            return [np.broadcast_to(o, xs[0].shape) for o in out]
        return run, lambda out: list(out)


class JaxPeer(Peer):
    name, module = "jax", "jax"

    def build(self, f, vg, n, threads):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        table = _common(jnp, jax.nn.sigmoid, {
            "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan,
            "log1p": jnp.log1p, "expm1": jnp.expm1, "abs": jnp.abs})
        k = len(f.inputs)

        def scalar_f(*xs):
            return _walk(f, xs, table, lambda v: v)[0]
        fn = jax.jit(jax.vmap(jax.value_and_grad(scalar_f, argnums=tuple(range(k)))))

        def run(xs):
            out = fn(*xs)
            jax.block_until_ready(out)
            return out

        def flat(out):
            v, gs = out
            return [np.asarray(v), *(np.asarray(g) for g in gs)]
        return run, flat

    def prepare(self, xs):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        return [jnp.asarray(x) for x in xs]


def _torch_table(torch):
    return _common(torch, torch.sigmoid, {
        "asin": torch.asin, "acos": torch.acos, "atan": torch.atan,
        "log1p": torch.log1p, "expm1": torch.expm1, "abs": torch.abs,
        "pow": lambda a, b: torch.pow(a, b)})


class TorchPeer(Peer):
    name, module = "torch", "torch"
    compiled = False

    def build(self, f, vg, n, threads):
        import torch
        torch.set_num_threads(threads)
        table = _torch_table(torch)

        def fwd(*ts):
            return _walk(f, ts, table, lambda v: v)[0]
        forward = torch.compile(fwd, dynamic=False) if self.compiled else fwd

        def run(ts):
            y = forward(*ts)
            gs = torch.autograd.grad(y, ts, grad_outputs=torch.ones_like(y))
            return [y.detach(), *gs]
        return run, lambda out: [o.numpy() for o in out]

    def prepare(self, xs):
        import torch
        return [torch.from_numpy(x).requires_grad_() for x in xs]


_TORCH_FN = {
    "exp": "torch.exp({0})", "log": "torch.log({0})", "sqrt": "torch.sqrt({0})",
    "sin": "torch.sin({0})", "cos": "torch.cos({0})", "tan": "torch.tan({0})",
    "asin": "torch.asin({0})", "acos": "torch.acos({0})", "atan": "torch.atan({0})",
    "sinh": "torch.sinh({0})", "cosh": "torch.cosh({0})", "tanh": "torch.tanh({0})",
    "log1p": "torch.log1p({0})", "expm1": "torch.expm1({0})", "abs": "torch.abs({0})",
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
    "neg": "(-{0})", "pow": "torch.pow({0}, {1})", "sigmoid": "torch.sigmoid({0})",
}


def trace_source(vg: Graph) -> str:
    """Python source of ``trace(a0, ...)`` returning every output of ``vg`` as a torch
    tensor (same rules as :func:`numba_source`)."""
    names, body = {}, []
    for k, x in enumerate(vg.inputs):
        names[x] = f"a{k}"
    for j, node in enumerate(vg.nodes):
        if node in names:
            continue
        if node.is_const:
            names[node] = repr(float(node.value))
            continue
        tpl = _TORCH_FN.get(node.op)
        if tpl is None:
            raise Unsupported(f"no {node.op}")
        names[node] = f"v{j}"
        body.append(f"    v{j} = " + tpl.format(*(names[a] for a in node.args)))
    outs = [names[o] if not o.is_const else f"torch.full_like(a0, {names[o]})"
            for o in vg.outputs]
    args = ", ".join(f"a{k}" for k in range(len(vg.inputs)))
    return (f"def trace({args}):\n" + "\n".join(body) +
            f"\n    return ({', '.join(outs)},)\n")


class TorchCompilePeer(TorchPeer):
    """``torch.compile`` of the value-and-gradient trace (graphc's reverse mode, as for
    the NumPy and Numba peers), written out as a plain function so that Dynamo guards
    nothing but the tensors: Inductor fuses it into one vectorised loop. Measured here
    2-4x faster than ``torch.compile(vmap(grad_and_value(f)))`` and than compiling the
    forward and running ``torch.autograd.grad``, so it is torch.compile's best."""

    name = "torch.compile"
    compiled = True

    def build(self, f, vg, n, threads):
        import torch
        torch.set_num_threads(threads)
        scope = {"torch": torch}
        code = compile(trace_source(vg), "<graphc benchmark: generated torch trace>", "exec")
        exec(code, scope)  # noqa: S102 - see trace_source
        fn = torch.compile(scope["trace"], dynamic=False)
        return (lambda ts: fn(*ts)), (lambda out: [o.numpy() for o in out])

    def prepare(self, xs):
        import torch
        return [torch.from_numpy(x) for x in xs]


class SymEnginePeer(Peer):
    name, module = "symengine", "symengine"

    def build(self, f, vg, n, threads):
        import symengine as se
        xs = [se.Symbol(f"a{i}") for i in range(len(f.inputs))]
        table = _common(se, lambda a: 1 / (1 + se.exp(-a)), {
            "asin": se.asin, "acos": se.acos, "atan": se.atan, "abs": se.Abs,
            "log1p": lambda a: se.log(1 + a), "expm1": lambda a: se.exp(a) - 1})
        expr = _walk(f, xs, table, se.Float)[0]
        outs = [expr] + [se.diff(expr, x) for x in xs]
        lam = se.Lambdify(xs, outs, backend="llvm", cse=True)

        def run(arrs):
            return lam(np.column_stack(arrs))
        return run, lambda out: [out[:, j] for j in range(out.shape[1])]


class CasadiPeer(Peer):
    name, module = "casadi", "casadi"

    def build(self, f, vg, n, threads):
        import casadi as ca
        xs = [ca.SX.sym(f"a{i}") for i in range(len(f.inputs))]
        table = _common(ca, lambda a: 1 / (1 + ca.exp(-a)), {
            "asin": ca.asin, "acos": ca.acos, "atan": ca.atan, "abs": ca.fabs,
            "log1p": ca.log1p if hasattr(ca, "log1p") else (lambda a: ca.log(1 + a)),
            "expm1": ca.expm1 if hasattr(ca, "expm1") else (lambda a: ca.exp(a) - 1),
            "pow": lambda a, b: a ** b})
        expr = _walk(f, xs, table, float)[0]
        fun = ca.Function("f", xs, [expr] + [ca.gradient(expr, x) for x in xs])
        maps = {}

        def mapped(size):
            if size not in maps:
                maps[size] = fun.map(size, "thread", threads) if threads > 1 else \
                    fun.map(size, "serial")
            return maps[size]

        def run(arrs):
            return mapped(arrs[0].shape[0])(*[a.reshape(1, -1) for a in arrs])
        return run, lambda out: [np.asarray(o.full()).ravel() for o in
                                 (out if isinstance(out, (tuple, list)) else [out])]


_NUMBA_FN = {
    "exp": "math.exp({0})", "log": "math.log({0})", "sqrt": "math.sqrt({0})",
    "sin": "math.sin({0})", "cos": "math.cos({0})", "tan": "math.tan({0})",
    "asin": "math.asin({0})", "acos": "math.acos({0})", "atan": "math.atan({0})",
    "sinh": "math.sinh({0})", "cosh": "math.cosh({0})", "tanh": "math.tanh({0})",
    "log1p": "math.log1p({0})", "expm1": "math.expm1({0})", "abs": "abs({0})",
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
    "neg": "(-{0})", "pow": "({0} ** {1})", "sigmoid": "(1.0 / (1.0 + math.exp(-{0})))",
}


def numba_source(vg: Graph, parallel: bool) -> str:
    """Python source of ``kernel(a0, ..., o0, ...)``: a loop over the points computing
    every output of ``vg``. Only the templates above, float literals and positional
    names appear in it."""
    names = {}
    body = []
    for k, x in enumerate(vg.inputs):
        names[x] = f"x{k}"
        body.append(f"        x{k} = a{k}[i]")
    for j, node in enumerate(vg.nodes):
        if node in names:
            continue
        if node.is_const:
            names[node] = repr(float(node.value))
            continue
        tpl = _NUMBA_FN.get(node.op)
        if tpl is None:
            raise Unsupported(f"no {node.op}")
        names[node] = f"v{j}"
        body.append(f"        v{j} = " + tpl.format(*(names[a] for a in node.args)))
    for j, o in enumerate(vg.outputs):
        body.append(f"        o{j}[i] = {names[o]}")
    args = [f"a{k}" for k in range(len(vg.inputs))] + \
        [f"o{j}" for j in range(len(vg.outputs))]
    loop = "numba.prange" if parallel else "range"
    return (f"def kernel({', '.join(args)}):\n"
            f"    for i in {loop}(o0.shape[0]):\n" + "\n".join(body) + "\n")


class NumbaPeer(Peer):
    name, module = "numba", "numba"

    def build(self, f, vg, n, threads):
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        src = numba_source(vg, parallel=threads > 1)
        scope = {"math": math, "numba": numba}
        code = compile(src, "<graphc benchmark: generated numba loop>", "exec")
        exec(code, scope)  # noqa: S102 - see numba_source
        kern = numba.njit(parallel=threads > 1, fastmath=False)(scope["kernel"])
        nout = len(vg.outputs)

        def run(xs):
            outs = [np.empty(xs[0].shape[0]) for _ in range(nout)]
            kern(*xs, *outs)
            return outs
        return run, lambda out: out


CPEERS_DIR = Path(__file__).resolve().parent / "cpeers"
"""The hand-written C sources, one per main workload: ``<workload>.c`` defines
``void kernel(long n, const double *restrict x_1, ..., double *restrict f,
double *restrict g_1, ...)`` (inputs in the workload's variable order, then the value,
then the gradient in the same order)."""

_C_TMP: list = []


def c_workloads() -> list[str]:
    """Names of the workloads that have a hand-written C source."""
    return sorted(p.stem for p in CPEERS_DIR.glob("*.c"))


def compile_c(workload: str, fast_math: bool = False, openmp: bool = False,
              cc: str = "gcc") -> Path:
    """Compile ``cpeers/<workload>.c`` with ``cc -O3 -march=native`` (plus
    ``-ffast-math`` / ``-fopenmp``) into a shared library in a fresh temporary
    directory (removed at interpreter exit) and return its path.

    Raises ``FileNotFoundError`` when there is no source or no compiler and
    ``subprocess.CalledProcessError`` (with gcc's messages) when it does not compile."""
    src = CPEERS_DIR / f"{workload}.c"
    if not src.is_file():
        raise FileNotFoundError(f"no hand-written C for workload {workload!r}")
    if shutil.which(cc) is None:
        raise FileNotFoundError(f"no C compiler {cc!r} on PATH")
    if not _C_TMP:
        _C_TMP.append(tempfile.mkdtemp(prefix="graphc-cpeer-"))
        atexit.register(shutil.rmtree, _C_TMP[0], True)
    flags = ["-O3", "-march=native", "-fPIC", "-shared", "-std=c11"]
    flags += ["-ffast-math"] if fast_math else []
    flags += ["-fopenmp"] if openmp else []
    tag = f"{workload}{'-fm' if fast_math else ''}{'-omp' if openmp else ''}"
    lib = Path(_C_TMP[0]) / f"{tag}.so"
    subprocess.run([cc, *flags, "-o", str(lib), str(src), "-lm"], check=True,
                   capture_output=True, text=True)
    return lib


def load_c(lib: Path, n_inputs: int) -> Callable:
    """``kernel`` of the shared library ``lib`` as ``run(xs) -> [value, *gradient]``:
    ``xs`` are ``n_inputs`` contiguous float64 arrays of one length N; the result is
    ``n_inputs + 1`` new float64 arrays of length N."""
    kern = ctypes.CDLL(str(lib)).kernel
    kern.restype = None
    kern.argtypes = [ctypes.c_long] + [ctypes.c_void_p] * (2 * n_inputs + 1)

    def run(xs):
        n = xs[0].shape[0]
        outs = [np.empty(n) for _ in range(n_inputs + 1)]
        kern(n, *(x.ctypes.data for x in xs), *(o.ctypes.data for o in outs))
        return outs
    return run


class CPeer(Peer):
    """Hand-written C of the current workload (``workload`` is set by the benchmark
    before ``build``), compiled at build time: the compile time reported is gcc's.

    gcc calls scalar libm here except where ``-ffast-math`` lets it use libmvec's SIMD
    ``exp``/``log``; gcc 12 fuses ``sin(t)`` and ``cos(t)`` of one argument (baydin,
    deisenroth) into ``sincos``, which has no SIMD variant, so those loops stay scalar
    even with ``-ffast-math`` (checked with ``-fopt-info-vec-missed`` and ``nm -D``)."""

    name, module = "C", "gcc"
    fast_math = False
    workload: str | None = None

    def available(self):
        return None if shutil.which("gcc") else "gcc not on PATH"

    def version(self):
        try:
            out = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True,
                                 text=True, check=True)
            return "gcc " + out.stdout.strip()
        except Exception:  # noqa: BLE001
            return "?"

    def build(self, f, vg, n, threads):
        if self.workload not in c_workloads():
            raise Unsupported(f"no hand-written C for {self.workload}")
        lib = compile_c(self.workload, self.fast_math, openmp=threads > 1)
        return load_c(lib, len(f.inputs)), (lambda out: out)

    def prepare(self, xs):
        return [np.ascontiguousarray(x, dtype=np.float64) for x in xs]


class CFastMathPeer(CPeer):
    name = "C-ffast-math"
    fast_math = True


PEERS = [GraphcPeer(), NumpyPeer(), JaxPeer(), TorchPeer(), TorchCompilePeer(),
         SymEnginePeer(), CasadiPeer(), NumbaPeer(), CPeer(), CFastMathPeer()]

C_PEERS = ("C", "C-ffast-math")
"""Names of the hand-written C peers: a reference, not a framework."""


def timed_build(peer: Peer, f: Graph, vg: Graph, xs: list, n: int, threads: int):
    """Build the peer's function for prepared inputs ``xs`` of ``n`` points and call it
    once: ``(run, flat, seconds to first result, first result)``."""
    t0 = time.perf_counter()
    run, flat = peer.build(f, vg, n, threads)
    first = run(xs)
    return run, flat, time.perf_counter() - t0, first
