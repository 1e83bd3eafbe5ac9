"""NumPy functions built as compositions of primitives (graphc.numpy: issue 13 part 7).

Every function of :data:`graphc.numpy.COMPOSITES` is checked on tables generated over
its parameters (axes, keepdims, ddof, k/offset, shifts, sections, random einsum
subscripts): values against NumPy itself (the NumPy interpreter and LLVM, float64 and
float32, and the eager path on arrays), derivatives in both AD modes (float64) against
central finite differences of the NumPy function and against PyTorch's autograd where
torch has the op. All cases of one function share one graph (one compile per target).
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp
from graphc import passes
from graphc.ir import Graph, GraphcError, ShapeError, ops
from graphc.ir.primitive import PRIMITIVES

try:  # PyTorch (the test extra) is a second reference for the gradients; optional
    import torch
except ImportError:  # pragma: no cover
    torch = None

_py_max, _py_min, _py_sum = builtins.max, builtins.min, builtins.sum
DTYPES = ("float64", "float32")
NP = {"float64": np.float64, "float32": np.float32}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "arrays-in-python.md"


@dataclass
class Case:
    name: str                      # the gnp function (group)
    label: str                     # parameters, for messages
    build: Callable                # (*graph values or arrays) -> value or list
    ref: Callable                  # NumPy: (*arrays) -> array or list
    th: Callable | None            # PyTorch: (*tensors) -> tensor or list, or None
    shapes: list = field(default_factory=list)
    zeros: bool = False            # put exact zeros among the inputs (cumprod)
    smooth: bool = True            # differentiable at the sampled points


CASES: list[Case] = []


def case(name, label, build, ref, th, shapes, **kw):
    CASES.append(Case(name, label, build, ref, th, [tuple(s) for s in shapes], **kw))


def _axes_of(ndim):
    """None, every axis, -1, and the first with the last axis."""
    out = [None] + list(range(ndim)) + ([-1] if ndim else [])
    if ndim >= 2:
        out.append((0, ndim - 1))
    return out


def _tdims(axis, ndim):
    if axis is None:
        return None
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


# --- var / std: shape x axis, ddof and keepdims rotating over their 4 combinations ---
for fname in ("var", "std"):
    i = 0
    for shape in [(5,), (3, 4), (2, 3, 4)]:
        for axis in _axes_of(len(shape)):
            ddof, keepdims = [(0, False), (1, True), (2, False), (0, True)][i % 4]
            i += 1
            case(fname, f"{shape} axis={axis} ddof={ddof} keepdims={keepdims}",
                 lambda x, f=fname, a=axis, d=ddof, k=keepdims:
                     getattr(gnp, f)(x, axis=a, ddof=d, keepdims=k),
                 lambda x, f=fname, a=axis, d=ddof, k=keepdims:
                     getattr(np, f)(x, axis=a, ddof=d, keepdims=k),
                 lambda x, f=fname, a=axis, d=ddof, k=keepdims, n=len(shape):
                     getattr(torch, f)(x, dim=_tdims(a, n), correction=d, keepdim=k),
                 [shape])

# --- cumsum / cumprod: every axis (and None) of shapes whose scanned lengths cover
# 1, 2, 3, a power of 2 and odd lengths; cumprod with exact zeros among the entries ---
for fname in ("cumsum", "cumprod"):
    for shape in [(1,), (5,), (8,), (3, 4), (2, 3, 7)]:
        for axis in [None] + list(range(len(shape))) + [-1]:
            def th(x, f=fname, a=axis):
                if a is None:
                    return getattr(torch, f)(x.reshape(-1), dim=0)
                return getattr(torch, f)(x, dim=a)
            case(fname, f"{shape} axis={axis}",
                 lambda x, f=fname, a=axis: getattr(gnp, f)(x, axis=a),
                 lambda x, f=fname, a=axis: getattr(np, f)(x, axis=a), th, [shape],
                 zeros=fname == "cumprod")


# --- einsum: a fixed table of the common forms, then random subscripts ---------------
def _einsum_case(sub, shapes):
    case("einsum", repr(sub), lambda *xs, s=sub: gnp.einsum(s, *xs),
         lambda *xs, s=sub: np.einsum(s, *xs), lambda *xs, s=sub: torch.einsum(s, *xs),
         shapes)


for sub, shapes in [
        ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]),
        ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij->ji", [(2, 3)]), ("ii->i", [(3, 3)]),
        ("ii", [(3, 3)]), ("iij->ji", [(3, 3, 2)]), ("i,i", [(4,), (4,)]),
        ("i,j->ij", [(3,), (2,)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
        ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 2, 2)]),
        ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
        ("i...->...", [(3, 2, 2)]), ("Ab,bA->", [(2, 3), (3, 2)]), ("ij->", [(2, 3)]),
        (",ij->ij", [(), (2, 2)]), ("ijk,jil->kl", [(2, 3, 2), (3, 2, 2)])]:
    _einsum_case(sub, shapes)


def _random_einsum(rng):
    """Random valid subscripts: 1-3 operands, letters possibly repeated within an operand
    (diagonals) and of length 1 in some operands (broadcast), sometimes with '...'; the
    output implicit or a random selection of the labels. Validity is NumPy's verdict."""
    letters = list("abcdXY")
    sizes = {l: int(rng.integers(2, 4)) for l in letters}
    ell = tuple(int(d) for d in rng.integers(1, 3, size=rng.integers(0, 3)))
    use_ell = bool(rng.random() < 0.3)
    terms, shapes = [], []
    for _ in range(int(rng.integers(1, 4))):
        term = list(rng.choice(letters, size=int(rng.integers(0, 4))))
        shape = [sizes[l] if rng.random() < 0.9 else 1 for l in term]
        shape = [sizes[l] if term.count(l) > 1 else d for l, d in zip(term, shape)]
        text = "".join(term)
        if use_ell:
            k = int(rng.integers(0, len(ell) + 1))
            text = "..." + text
            shape = [d if rng.random() < 0.8 else 1 for d in ell[len(ell) - k:]] + shape
        terms.append(text)
        shapes.append(tuple(shape))
    used = sorted({c for t in terms for c in t if c.isalpha()})
    if rng.random() < 0.4:
        sub = ",".join(terms)
    else:
        out = list(rng.permutation(used))[:int(rng.integers(0, len(used) + 1))]
        sub = ",".join(terms) + "->" + ("..." if use_ell else "") + "".join(out)
    return sub, shapes


_rng = np.random.default_rng(2026)
_made = 0
while _made < 28:
    sub, shapes = _random_einsum(_rng)
    try:
        np.einsum(sub, *[np.ones(s) for s in shapes])
    except ValueError:
        continue
    _einsum_case(sub, shapes)
    _made += 1

# --- tensordot: axes=N for every feasible N, and pair forms (negative axes too) ------
for sa, sb in [((2, 3), (3, 2)), ((2, 3, 2), (3, 2, 2)), ((3,), (3,)), ((2, 2), (2,))]:
    for n in range(0, 3):
        if n <= len(sa) and n <= len(sb) and sa[len(sa) - n:] == sb[:n]:
            case("tensordot", f"{sa} {sb} axes={n}",
                 lambda a, b, n=n: gnp.tensordot(a, b, n),
                 lambda a, b, n=n: np.tensordot(a, b, n),
                 lambda a, b, n=n: torch.tensordot(a, b, n), [sa, sb])
for sa, sb, axes in [((2, 3, 4), (4, 3), ([1, 2], [1, 0])), ((2, 3), (2, 4), (0, 0)),
                     ((3, 2, 2), (2, 3), ([-1, 0], [0, -1]))]:
    case("tensordot", f"{sa} {sb} axes={axes}",
         lambda a, b, x=axes: gnp.tensordot(a, b, x),
         lambda a, b, x=axes: np.tensordot(a, b, x),
         lambda a, b, x=axes: torch.tensordot(a, b, dims=tuple(
             [list(np.atleast_1d(v) % t.ndim) for v, t in zip(x, (a, b))])), [sa, sb])

# --- matmul / dot beyond 2-D: batch dims on either or both sides, broadcasting, 1-D ---
for bx, by in itertools.product([(), (2,), (1,), (3, 2)], repeat=2):
    for vx, vy in [(False, False), (True, False), (False, True)]:
        if (not bx and not by) or (vx and bx) or (vy and by):
            continue
        sx = bx + ((3,) if vx else (2, 3))
        sy = by + ((3,) if vy else (3, 2))
        case("matmul", f"{sx} @ {sy}", gnp.matmul, np.matmul, torch.matmul, [sx, sy])
for sx, sy in [((2, 2, 3), (3, 2)), ((2, 3), (2, 3, 2)), ((2, 1, 3), (3,)), ((3,), (2, 3, 2))]:
    case("dot", f"{sx} . {sy}", gnp.dot, np.dot, None, [sx, sy])

# --- inner, outer, kron -----------------------------------------------------------------
for sx, sy in [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)), ((), (2, 2))]:
    case("inner", f"{sx} {sy}", gnp.inner, np.inner,
         lambda a, b: torch.inner(a, b), [sx, sy])
for sx, sy in [((3,), (2,)), ((2, 2), (3,)), ((), (2,)), ((2, 1), (1, 2))]:
    case("outer", f"{sx} {sy}", gnp.outer, np.outer,
         lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)), [sx, sy])
for sx, sy in [((2,), (3,)), ((2, 2), (2, 3)), ((2,), (2, 2)), ((2, 1, 2), (2, 2)), ((), (2,))]:
    case("kron", f"{sx} {sy}", gnp.kron, np.kron, lambda a, b: torch.kron(a, b), [sx, sy])

# --- diagonal / trace: offsets -3..3 over axis pairs of 2-D and 3-D shapes --------------
for shape, pairs in [((3, 4), [(0, 1), (1, 0)]), ((4, 3), [(0, 1)]),
                     ((2, 3, 4), [(0, 2), (2, 1), (-1, 0)])]:
    for (a1, a2), off in itertools.product(pairs, range(-3, 4)):
        for fname in ("diagonal", "trace"):
            def th(x, f=fname, o=off, a1=a1, a2=a2):
                d = torch.diagonal(x, o, a1, a2)
                return d if f == "diagonal" else d.sum(-1)
            case(fname, f"{shape} offset={off} axes=({a1}, {a2})",
                 lambda x, f=fname, o=off, a1=a1, a2=a2: getattr(gnp, f)(x, o, a1, a2),
                 lambda x, f=fname, o=off, a1=a1, a2=a2: getattr(np, f)(x, o, a1, a2),
                 th, [shape])

# --- diag: 1-D of lengths 0..3 (builds a matrix) and 2-D (extracts), k = -2..2 ---------
for shape, k in itertools.product([(0,), (1,), (3,), (3, 3), (2, 4)], range(-2, 3)):
    case("diag", f"{shape} k={k}", lambda x, k=k: gnp.diag(x, k),
         lambda x, k=k: np.diag(x, k), lambda x, k=k: torch.diag(x, k), [shape])

# --- tril / triu: k = -2..2 on square, wide, tall, batched and 1-D ----------------------
for fname in ("tril", "triu"):
    for shape, k in itertools.product([(3, 3), (2, 4), (4, 2), (2, 2, 3), (3,)], range(-2, 3)):
        def th(x, f=fname, k=k):
            return getattr(torch, f)(x.expand(x.shape[0], x.shape[0]) if x.ndim == 1 else x, k)
        case(fname, f"{shape} k={k}", lambda x, f=fname, k=k: getattr(gnp, f)(x, k),
             lambda x, f=fname, k=k: getattr(np, f)(x, k), th, [shape])

# --- flip: None, every axis, -1, pairs ---------------------------------------------------
for shape in [(5,), (3, 4), (2, 3, 2)]:
    for axis in _axes_of(len(shape)):
        case("flip", f"{shape} axis={axis}", lambda x, a=axis: gnp.flip(x, a),
             lambda x, a=axis: np.flip(x, a),
             lambda x, a=axis: torch.flip(x, list(range(x.ndim)) if a is None else
                                          list(np.atleast_1d(a))), [shape])

# --- roll: shifts -5..7 (beyond the length both ways) over axes, tuples, None ----------
for shape, axis in [((5,), 0), ((5,), None), ((3, 4), 1), ((3, 4), -2), ((3, 4), None),
                    ((2, 3, 4), (0, 2)), ((2, 3, 4), (1, 1))]:
    for shift in ([-5, -1, 0, 2, 7] if not isinstance(axis, tuple) else [(1, -3), (5, 2)]):
        def th(x, s=shift, a=axis):
            if a is None:
                return torch.roll(x, s)
            return torch.roll(x, s, a)
        case("roll", f"{shape} shift={shift} axis={axis}",
             lambda x, s=shift, a=axis: gnp.roll(x, s, a),
             lambda x, s=shift, a=axis: np.roll(x, s, a), th, [shape])

# --- split / array_split: sections dividing or not, index lists (past the end too) ------
for fname in ("split", "array_split"):
    for shape, ios, axis in [((6,), 3, 0), ((6,), 1, 0), ((4, 6), 2, 1), ((4, 6), [1, 3], 0),
                             ((3, 5), [2, 9], 1), ((5, 2), 3, 0), ((7,), 4, -1)]:
        if fname == "split" and isinstance(ios, int) and shape[axis] % ios:
            continue
        th = None if not isinstance(ios, int) or shape[axis] % ios else \
            (lambda x, s=ios, a=axis: list(torch.tensor_split(x, s, a)))
        case(fname, f"{shape} {ios} axis={axis}",
             lambda x, f=fname, s=ios, a=axis: getattr(gnp, f)(x, s, a),
             lambda x, f=fname, s=ios, a=axis: getattr(np, f)(x, s, a), th, [shape])

# --- linspace with graph-valued start/stop (differentiable in them) ----------------------
for num, endpoint, shapes, axis in [(5, True, [(), ()], 0), (4, False, [(), ()], 0),
                                    (1, True, [(), ()], 0), (3, True, [(2,), ()], 0),
                                    (3, False, [(2, 1), (3,)], -1), (2, True, [(2,), (2,)], 1)]:
    case("linspace", f"num={num} endpoint={endpoint} {shapes} axis={axis}",
         lambda a, b, n=num, e=endpoint, ax=axis: gnp.linspace(a, b, n, e, axis=ax),
         lambda a, b, n=num, e=endpoint, ax=axis: np.linspace(a, b, n, e, axis=ax),
         None, shapes)

GROUPS = sorted({c.name for c in CASES})


# ---------------------------------------------------------------------------------
# helpers

def _inputs(c: Case, dtype: str, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(-1.5, 1.5, s) for s in c.shapes]
    if c.zeros:
        for x in xs:
            if x.size:
                x.reshape(-1)[rng.choice(x.size, _py_max(1, x.size // 4), replace=False)] = 0.0
    return [x.astype(NP[dtype]) for x in xs]


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _group_graph(name: str, dtype: str, pick=lambda i: True):
    """One graph holding every case of ``name`` (those whose index passes ``pick``):
    inputs ``c{i}_{j}``, outputs each case's outputs in order; returns (graph, cases,
    [(first output, count)])."""
    cases = [c for i, c in enumerate(c for c in CASES if c.name == name) if pick(i)]
    inputs, outputs, spans = [], [], []
    for i, c in enumerate(cases):
        xs = [ops.variable(f"c{i}_{j}", dtype, s) for j, s in enumerate(c.shapes)]
        outs = _as_list(c.build(*xs))
        spans.append((len(outputs), len(outs)))
        inputs += xs
        outputs += outs
    names = [f"y{k}" for k in range(len(outputs))]
    return Graph(inputs, outputs, names, tuple(range(len(outputs)))), cases, spans


def _group_inputs(cases, dtype):
    return [x for i, c in enumerate(cases) for x in _inputs(c, dtype, 1000 + i)]


def _tol(want, dtype):
    scale = _py_max([float(np.max(np.abs(w))) for w in want if np.size(w)] + [1.0])
    return (1e-12, 1e-12 * scale) if dtype == "float64" else (3e-5, 3e-5 * scale)


def _check(got, want, dtype, what):
    got, want = _as_list(got), _as_list(want)
    assert len(got) == len(want), what
    rtol, atol = _tol(want, dtype)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert np.shape(g) == w.shape, f"{what}: shape {np.shape(g)} != NumPy's {w.shape}"
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), w.astype(np.float64),
                                   rtol=rtol, atol=atol, err_msg=what)


def _fd_jacobian(ref, xs):
    """Central differences of the NumPy function in float64: one matrix (outputs
    flattened and joined) x (entries of input j) per input."""
    def flat(args):
        return np.concatenate([np.ravel(np.asarray(o, dtype=np.float64))
                               for o in _as_list(ref(*args))] + [np.zeros(0)])
    jac = []
    for j, x in enumerate(xs):
        cols = []
        for k in range(x.size):
            h = 1e-6 * _py_max(1.0, abs(float(x.flat[k])))
            up, dn = [a.copy() for a in xs], [a.copy() for a in xs]
            up[j].flat[k] += h
            dn[j].flat[k] -= h
            cols.append((flat(up) - flat(dn)) / (2 * h))
        jac.append(np.stack(cols, axis=1) if cols else np.zeros((flat(xs).size, 0)))
    return jac


# ---------------------------------------------------------------------------------
# values

VALUE_PICK = {"numpy": lambda dtype: lambda i: True,
              # LLVM: float64 compiles the even cases, float32 the odd ones (every case
              # once); all of them in both dtypes with -m slow
              "llvm": lambda dtype: lambda i: i % 2 == (dtype == "float32"),
              "llvm-all": lambda dtype: lambda i: True,
              "cuda-all": lambda dtype: lambda i: True}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", ["numpy", "llvm",
                                    pytest.param("llvm-all", marks=pytest.mark.slow),
                                    pytest.param("cuda-all", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("name", GROUPS)
def test_values_match_numpy(name, target, dtype):
    """Every case of ``name`` in one graph, compiled for ``target`` in ``dtype``: each
    output equals the NumPy function on the same inputs (float32 inputs rounded first,
    NumPy computing in float64 on them)."""
    g, cases, spans = _group_graph(name, dtype, VALUE_PICK[target](dtype))
    target = target.split("-")[0]
    xs = _group_inputs(cases, dtype)
    got = _as_list(gc.compile(g, target)(*xs))
    pos = 0
    for c, (o, n) in zip(cases, spans):
        args = [x.astype(np.float64) for x in xs[pos:pos + len(c.shapes)]]
        pos += len(c.shapes)
        _check(got[o:o + n], _as_list(c.ref(*args)), dtype, f"gnp.{name} {c.label} [{target}]")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [g for g in GROUPS if g != "linspace"])
def test_eager_values_on_arrays_match_numpy(name, dtype):
    """On NumPy arrays each function computes its value (the interpreter on a graph of
    the arguments' shapes), in the arrays' dtype. (linspace on numbers is a constant
    graph value, like arange and array: see test_arange_and_linspace_constants...)"""
    for i, c in enumerate(c for c in CASES if c.name == name):
        xs = _inputs(c, dtype, 7 + i)
        got = _as_list(c.build(*xs))
        for v in got:
            assert np.asarray(v).dtype == NP[dtype], f"gnp.{name} {c.label}"
        _check(got, _as_list(c.ref(*[x.astype(np.float64) for x in xs])), dtype,
               f"gnp.{name} {c.label} (eager)")


# ---------------------------------------------------------------------------------
# derivatives

PICK = {"numpy": lambda mode: lambda i: True,
        # LLVM compiles of the AD graphs dominate the run time: by default each mode
        # compiles a sixth of the cases (fwd 0, 6, 12...; rev 3, 9, 15...), all with
        # -m slow (and on the GPU with -m gpu)
        "llvm": lambda mode: lambda i: i % 6 == (0 if mode == "fwd" else 3),
        "llvm-all": lambda mode: lambda i: True,
        "cuda-all": lambda mode: lambda i: True}


@pytest.mark.parametrize("target", ["numpy", "llvm",
                                    pytest.param("llvm-all", marks=pytest.mark.slow),
                                    pytest.param("cuda-all", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("name", GROUPS)
def test_derivatives_match_finite_differences_and_torch(name, mode, target):
    """float64: forward mode (JVP, random tangents) equals J·ẋ and reverse mode (VJP,
    random cotangents) equals ȳᵀ·J, with J the central-difference Jacobian of the NumPy
    function; reverse mode also equals PyTorch's autograd where torch has the op."""
    g, cases, spans = _group_graph(name, "float64", PICK[target](mode))
    target = target.split("-")[0]
    xs = _group_inputs(cases, "float64")
    rng = np.random.default_rng(5)
    if mode == "fwd":
        seeds = [rng.standard_normal(np.shape(x)) for x in xs]
        _, dots = gc.compile(passes.jvp(g), target)(*xs, *seeds)
        dots = _as_list(dots)
    else:
        seeds = [rng.standard_normal(o.shape) for o in g.outputs]
        _, bars = gc.compile(passes.vjp(g), target)(*xs, *seeds)
        bars = _as_list(bars)
    pos = 0
    for c, (o, n) in zip(cases, spans):
        k = len(c.shapes)
        args, what = xs[pos:pos + k], f"gnp.{name} {c.label} [{mode}, {target}]"
        jac = _fd_jacobian(c.ref, args)
        if mode == "fwd":
            want = _py_sum((J @ np.ravel(s) for J, s in zip(jac, seeds[pos:pos + k])),
                           np.zeros(jac[0].shape[0]))
            got = np.concatenate([np.ravel(d) for d in dots[o:o + n]] + [np.zeros(0)])
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=what)
        else:
            ybar = np.concatenate([np.ravel(s) for s in seeds[o:o + n]] + [np.zeros(0)])
            for j in range(k):
                np.testing.assert_allclose(np.ravel(bars[pos + j]), ybar @ jac[j],
                                           rtol=1e-6, atol=1e-7, err_msg=f"{what} input {j}")
            if c.th is not None and torch is not None:
                ts = [torch.tensor(a, requires_grad=True) for a in args]
                outs = _as_list(c.th(*ts))
                cots = [torch.tensor(s) for s in seeds[o:o + n]]
                pairs = [(t, s) for t, s in zip(outs, cots) if t.requires_grad]
                want = torch.autograd.grad([t for t, _ in pairs], ts,
                                           [s for _, s in pairs], allow_unused=True) \
                    if pairs else [None] * k
                for j, w in enumerate(want):
                    w = np.zeros(args[j].shape) if w is None else w.numpy()
                    np.testing.assert_allclose(bars[pos + j], w, rtol=1e-10, atol=1e-12,
                                               err_msg=f"{what} input {j} vs torch")
        pos += k


def test_cumprod_derivative_has_no_division_and_is_exact_at_zeros():
    """cumprod is built from products only: no ``div`` in its graph or in either AD
    graph, and with zeros among the entries its gradient equals PyTorch's (which
    handles zeros exactly) for every position of a single and of a double zero."""
    pytest.importorskip("torch")
    n = 6
    x = ops.variable("x", "float64", (n,))
    g = Graph([x], [gnp.sum(gnp.cumprod(x) * np.arange(1.0, n + 1))])
    for gg in (g, passes.grad(g), passes.jvp(g)):
        assert not any(v.prim is PRIMITIVES["div"] for v in gg.nodes)
    k = gc.compile(passes.grad(g, "x"))
    w = torch.arange(1.0, n + 1, dtype=torch.float64)
    for zeros in itertools.chain(itertools.combinations(range(n), 1),
                                 itertools.combinations(range(n), 2)):
        v = np.random.default_rng(len(zeros)).uniform(0.5, 1.5, n)
        v[list(zeros)] = 0.0
        t = torch.tensor(v, requires_grad=True)
        (torch.cumprod(t, 0) * w).sum().backward()
        np.testing.assert_allclose(k(v), t.grad.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"zeros at {zeros}")


@pytest.mark.parametrize("fname", ["cumsum", "cumprod"])
def test_scans_are_n_log_n(fname):
    """Hillis-Steele doubling: the graph of a scan of length n has O(log n) nodes (not an
    n x n matrix), its gradient too, and the LLVM kernel agrees with NumPy at n = 1000."""
    sizes = {}
    for n in (16, 1000):
        x = ops.variable("x", "float64", (n,))
        g = Graph([x], [getattr(gnp, fname)(x)])
        sizes[n] = (len(g.nodes), len(passes.vjp(g).nodes))
        assert sizes[n][0] <= 6 * int(np.ceil(np.log2(n))) + 4, sizes
        assert sizes[n][1] <= 16 * int(np.ceil(np.log2(n))) + 8, sizes
    v = np.random.default_rng(0).uniform(0.99, 1.01, 1000)
    np.testing.assert_allclose(gc.compile(g)(v), getattr(np, fname)(v), rtol=1e-12)


# ---------------------------------------------------------------------------------
# constants, symbolic shapes, errors, registry checks

@pytest.mark.parametrize("dtype", DTYPES)
def test_arange_and_linspace_constants_match_numpy(dtype):
    """arange/linspace on numbers: constant graph values equal to NumPy's, over a table
    of (start, stop, step) and (start, stop, num, endpoint) including empty, negative
    and fractional steps and lengths past the 4096-entry array-constant limit."""
    for args in itertools.product([0, -2.5, 3], [7, -1, 0.25], [None, 1, -0.5, 0.3]):
        start, stop, step = args
        a = gnp.arange(start, stop, step, dtype=dtype)
        want = np.arange(start, stop, 1 if step is None else step, dtype=NP[dtype])
        _check(gc.evaluate(Graph([], [a])), want, dtype, f"arange{args}")
    _check(gc.evaluate(Graph([], [gnp.arange(10000, dtype=dtype)])),
           np.arange(10000, dtype=NP[dtype]), dtype, "arange(10000)")
    for start, stop, num, endpoint in itertools.product([0, -1.5], [1, 2.5], [0, 1, 2, 7, 5000],
                                                        [True, False]):
        y, step = gnp.linspace(start, stop, num, endpoint, retstep=True, dtype=dtype)
        wy, ws = np.linspace(start, stop, num, endpoint, retstep=True, dtype=NP[dtype])
        got = gc.evaluate(Graph([], [y, step]))
        _check(got[0], wy, dtype, f"linspace({start}, {stop}, {num}, {endpoint})")
        np.testing.assert_allclose(got[1], ws, rtol=1e-6)


SYMBOLIC = {  # name: (graphc function, NumPy function) on one array of shape (n, 2)
    "var": (lambda x: gnp.var(x, ddof=1), lambda x: np.var(x, ddof=1)),
    "std": (lambda x: gnp.std(x, axis=0), lambda x: np.std(x, axis=0)),
    "cumsum": (lambda x: gnp.cumsum(x, 1), lambda x: np.cumsum(x, 1)),
    "cumprod": (gnp.cumprod, np.cumprod),
    "einsum": (lambda x: gnp.einsum("ij,ij->j", x, x), lambda x: np.einsum("ij,ij->j", x, x)),
    "tensordot": (lambda x: gnp.tensordot(x, x, ([0], [0])),
                  lambda x: np.tensordot(x, x, ([0], [0]))),
    "inner": (lambda x: gnp.inner(x, x), lambda x: np.inner(x, x)),
    "outer": (lambda x: gnp.outer(x, x), lambda x: np.outer(x, x)),
    "kron": (lambda x: gnp.kron(x, x), lambda x: np.kron(x, x)),
    "diagonal": (gnp.diagonal, np.diagonal), "trace": (gnp.trace, np.trace),
    "diag": (gnp.diag, np.diag), "tril": (gnp.tril, np.tril), "triu": (gnp.triu, np.triu),
    "flip": (lambda x: gnp.flip(x, 1), lambda x: np.flip(x, 1)),
    "roll": (lambda x: gnp.roll(x, 1, 0), lambda x: np.roll(x, 1, 0)),
    "split": (lambda x: gnp.split(x, 2, 1), lambda x: np.split(x, 2, 1)),
    "array_split": (lambda x: gnp.array_split(x, 2), lambda x: np.array_split(x, 2)),
    "linspace": (lambda x: gnp.linspace(x, 1.0, 3), lambda x: np.linspace(x, 1.0, 3)),
    "arange": (gnp.arange, np.arange),
    "take": (lambda x: gnp.take(x, [1, -1, 1], axis=0),
             lambda x: np.take(x, [1, -1, 1], axis=0)),
    "take_along_axis": (lambda x: gnp.take_along_axis(x, np.array([[1, 0]]), 1),
                        lambda x: np.take_along_axis(x, np.array([[1, 0]] * 4), 1)),
    "sort": (lambda x: gnp.sort(x, axis=0), lambda x: np.sort(x, axis=0)),
    # creation and shape functions (tests/frontend/test_gnp_creation_and_shape_functions.py)
    "zeros": (lambda x: x + gnp.zeros(("n", 2)), lambda x: x + np.zeros(x.shape)),
    "ones": (lambda x: x * gnp.ones(("n", 1)), lambda x: x * np.ones((len(x), 1))),
    "empty": (lambda x: x + gnp.empty(2), lambda x: x + np.zeros(2)),
    "full": (lambda x: x * gnp.full(("n", 2), 3.0), lambda x: x * np.full(x.shape, 3.0)),
    "eye": (lambda x: x @ gnp.eye(2, 3, 1), lambda x: x @ np.eye(2, 3, 1)),
    "identity": (lambda x: x @ gnp.identity(2), lambda x: x @ np.identity(2)),
    "zeros_like": (gnp.zeros_like, np.zeros_like), "ones_like": (gnp.ones_like, np.ones_like),
    "empty_like": (lambda x: gnp.empty_like(x) + x, lambda x: np.zeros_like(x) + x),
    "full_like": (lambda x: gnp.full_like(x, [1.0, 2.0]), lambda x: np.full_like(x, [1.0, 2.0])),
    "expand_dims": (lambda x: gnp.expand_dims(x, (0, -1)), lambda x: np.expand_dims(x, (0, -1))),
    "squeeze": (lambda x: gnp.squeeze(x[:, :1], 1), lambda x: np.squeeze(x[:, :1], 1)),
    "moveaxis": (lambda x: gnp.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1)),
    "swapaxes": (lambda x: gnp.swapaxes(x, -1, 0), lambda x: np.swapaxes(x, -1, 0)),
    "atleast_1d": (gnp.atleast_1d, np.atleast_1d), "atleast_2d": (gnp.atleast_2d, np.atleast_2d),
    "hstack": (lambda x: gnp.hstack([x, x]), lambda x: np.hstack([x, x])),
    "vstack": (lambda x: gnp.vstack([x, x]), lambda x: np.vstack([x, x])),
    "column_stack": (lambda x: gnp.column_stack([x, x[:, 0]]),
                     lambda x: np.column_stack([x, x[:, 0]])),
    "tile": (lambda x: gnp.tile(x, (2, 3)), lambda x: np.tile(x, (2, 3))),
    "repeat": (lambda x: gnp.repeat(x, [2, 1], axis=1), lambda x: np.repeat(x, [2, 1], axis=1)),
}


@pytest.mark.parametrize("name", sorted(gnp.COMPOSITES))
def test_symbolic_dimensions_work_or_raise_a_named_shape_error(name):
    """Every composite on an array with a symbolic first dimension ``n``: either the
    graph is built and, with ``n = 4`` bound, its value equals NumPy's, or it raises a
    GraphcError naming gnp.<name>."""
    assert name in SYMBOLIC, f"add gnp.{name} to SYMBOLIC"
    fn, ref = SYMBOLIC[name]
    x = ops.variable("x", "float64", ("n", 2))
    try:
        out = fn(x)
    except GraphcError as exc:
        assert f"gnp.{name}" in str(exc)
        return
    v = np.random.default_rng(1).uniform(0.5, 1.5, (4, 2))
    got = _as_list(gc.evaluate(Graph([x], _as_list(out)), x=v))
    _check(got, _as_list(ref(v)), "float64", f"gnp.{name} symbolic")


ERRORS = [
    (lambda: gnp.var(np.ones(3), axis=2), ShapeError, "axis"),
    (lambda: gnp.var(np.ones(3), dtype="float32"), GraphcError, "dtype"),
    (lambda: gnp.cumsum(np.ones((2, 3)), axis=2), ShapeError, "gnp.cumsum"),
    (lambda: gnp.einsum("ij,jk", np.ones((2, 3)), np.ones((2, 2))), ShapeError, "sizes"),
    (lambda: gnp.einsum("ij", np.ones(3)), ShapeError, "dimension"),
    (lambda: gnp.einsum("i->j", np.ones(3)), GraphcError, "'j'"),
    (lambda: gnp.einsum("i->ii", np.ones(3)), GraphcError, "repeats"),
    (lambda: gnp.einsum("i,i", np.ones(3)), GraphcError, "operand"),
    (lambda: gnp.einsum("i1", np.ones((3, 3))), GraphcError, "'1'"),
    (lambda: gnp.einsum("...i->i", np.ones((2, 3))), ShapeError, "..."),
    (lambda: gnp.einsum(np.ones(3), [0]), GraphcError, "string"),
    (lambda: gnp.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1), ShapeError, "differ"),
    (lambda: gnp.tensordot(np.ones(3), np.ones(3), "x"), GraphcError, "axes"),
    (lambda: gnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 2))), ShapeError, "broadcast"),
    (lambda: gnp.matmul(np.ones((2, 2, 3)), np.ones((2, 2))), ShapeError, "inner"),
    (lambda: gnp.matmul(np.ones(3), 2.0), ShapeError, "1 dimension"),
    (lambda: gnp.diagonal(np.ones(3)), ShapeError, "2 dimensions"),
    (lambda: gnp.diagonal(np.ones((2, 2)), 0, 1, 1), ShapeError, "same axis"),
    (lambda: gnp.diag(np.ones((2, 2, 2))), ShapeError, "1-D or 2-D"),
    (lambda: gnp.diag(np.ones(2), 0.5), GraphcError, "integer"),
    (lambda: gnp.tril(np.float64(1.0)), ShapeError, "1 dimension"),
    (lambda: gnp.roll(np.ones(3), 1.5), GraphcError, "integer"),
    (lambda: gnp.split(np.ones(5), 2), ShapeError, "array_split"),
    (lambda: gnp.split(np.ones(5), 0), GraphcError, "at least 1"),
    (lambda: gnp.arange(ops.variable("n")), GraphcError, "data-dependent"),
    (lambda: gnp.arange(0, 3, 0), GraphcError, "step"),
    (lambda: gnp.arange(0, np.inf), GraphcError, "finite"),
    (lambda: gnp.linspace(0, 1, -1), GraphcError, "num"),
    (lambda: gnp.linspace(0, 1, 3, dtype="int32"), GraphcError, "dtype"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_unsupported_arguments_raise_clear_errors(i):
    """Bad arguments raise GraphcError subclasses whose message names the problem (and
    NumPy raises for the same arguments where it rejects them too)."""
    fn, err, text = ERRORS[i]
    with pytest.raises(err) as info:
        fn()
    assert text in str(info.value)


@pytest.mark.parametrize("name", sorted(gnp.COMPOSITES))
def test_composites_are_documented_and_lower_everywhere(name):
    """Every composite: a docstring naming its NumPy function and its errors, a row in
    docs/arrays-in-python.md, NumPy's parameter names (as far as graphc takes them), and
    graphs (of every case) made only of primitives with LLVM and CUDA lowerings and
    both AD rules."""
    fn = getattr(gnp, name)
    doc = inspect.getdoc(fn) or ""
    assert f"np.{name}" in doc and "Raises" in doc, name
    assert re.search(rf"`{name}`", DOCS.read_text()), f"{name} missing from {DOCS.name}"
    try:
        theirs = list(inspect.signature(getattr(np, name)).parameters)
    except ValueError:  # a C function without a signature (np.arange, np.inner)
        theirs = None
    mine = list(inspect.signature(fn).parameters)
    # (np.einsum takes *operands only; NumPy 2 calls arange's first one start_or_stop)
    if theirs is not None and name not in ("einsum", "arange"):
        assert mine == theirs[:len(mine)], (mine, theirs)
    for c in [c for c in CASES if c.name == name]:
        xs = [ops.variable(f"x{j}", "float64", s) for j, s in enumerate(c.shapes)]
        outs = _as_list(c.build(*xs))
        g = Graph(xs, outs, [f"y{k}" for k in range(len(outs))], tuple(range(len(outs))))
        for v in passes.vjp(g).nodes:
            p = v.prim
            if p.name in ("input", "const"):
                continue
            assert p.llvm and p.cuda and (p.jvp or p.partials or not p.differentiable), \
                (name, c.label, p.name)


@pytest.mark.parametrize("target", ["numpy", "llvm"])
def test_traced_attention_block_gradient_matches_torch(target):
    """The composites inside ``@gc.function`` under ``gc.value_and_grad``: a causal-ish
    attention block with einsum, tril, batched matmul, var (layer norm), cumsum, trace,
    flip and roll; value and the gradients of all four array inputs equal PyTorch's."""
    pytest.importorskip("torch")
    @gc.function(shapes={"q": (2, 3, 4), "k": (2, 5, 4), "v": (2, 5, 4), "w": (4,)})
    def f(q, k, v, w):
        s = gnp.einsum("bqd,bkd->bqk", q, k) / 2.0
        o = gnp.matmul(gnp.softmax(gnp.tril(s, 1), axis=-1), v)
        h = (o - gnp.mean(o, axis=-1, keepdims=True)) / gnp.sqrt(
            gnp.var(o, axis=-1, keepdims=True) + 1e-5)
        c = gnp.cumsum(h * w, axis=1)
        return (gnp.sum(gnp.trace(c, axis1=1, axis2=2) ** 2)
                + gnp.sum(gnp.roll(gnp.flip(c, 2), 1, 1) * c))

    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 4), (4,)]]
    val, grads = gc.value_and_grad(f, argnums=(0, 1, 2, 3), target=target)(*args)
    q, k, v, w = ts = [torch.tensor(a, requires_grad=True) for a in args]
    o = torch.softmax(torch.tril(torch.einsum("bqd,bkd->bqk", q, k) / 2.0, 1), -1) @ v
    h = (o - o.mean(-1, keepdim=True)) / torch.sqrt(o.var(-1, keepdim=True, correction=0)
                                                    + 1e-5)
    c = torch.cumsum(h * w, 1)
    loss = ((torch.diagonal(c, 0, 1, 2).sum(-1) ** 2).sum()
            + (torch.roll(torch.flip(c, [2]), 1, 1) * c).sum())
    loss.backward()
    np.testing.assert_allclose(val, loss.item(), rtol=1e-12)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative_ops_are_bit_identical_to_numpy(name):
    """cumsum/cumprod run one scan left to right, as NumPy's loop does: the same
    numbers bit for bit, on every axis (and None) of several shapes, -0.0 kept; the
    gradient of a scalar made from them matches central differences."""
    rng = np.random.default_rng(3)
    for shape in [(1,), (7,), (3, 5), (2, 3, 4), (4, 1)]:
        x = rng.normal(size=shape)
        for axis in [None] + list(range(-len(shape), len(shape))):
            f = gc.function(lambda a, axis=axis: getattr(gnp, name)(a, axis=axis),
                            shapes={"a": shape}, static={"axis": axis})
            got = gc.compile(f.graph)(x)
            want = getattr(np, name)(x, axis=axis)
            assert got.shape == want.shape
            assert np.array_equal(got, want), (shape, axis)
    neg = gc.function(lambda a: getattr(gnp, name)(a), shapes={"a": (1,)})
    assert np.signbit(gc.compile(neg.graph)(np.array([-0.0]))[0])
    x = rng.uniform(0.5, 1.5, size=(3, 4))
    loss = gc.function(lambda a: gnp.sum(getattr(gnp, name)(a, axis=1) ** 2),
                       shapes={"a": (3, 4)})
    g = gc.grad(loss)(x)
    eps = 1e-6
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        fd[idx] = (np.sum(getattr(np, name)(x + e, axis=1) ** 2) -
                   np.sum(getattr(np, name)(x - e, axis=1) ** 2)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-8)
