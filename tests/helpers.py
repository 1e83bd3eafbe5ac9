"""Shared test helpers (import as ``from helpers import ...``): finite differences, the
corpora, random graphs from the registry, SymPy ground truth."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

import graphc as gc
from graphc.ir import PRIMITIVES, Graph, apply, ops

ROOT = Path(__file__).resolve().parent.parent
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
PACKAGED_CORPUS = ROOT / "graphc" / "data"


def load_module(path: Path, name: str):
    """The module in the file ``path`` (a benchmark script, an example, a docs hook),
    imported under ``name`` without being on ``sys.path``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def corpus_path(name: str) -> Path:
    """The shared corpus file when present (the source of truth), else the packaged copy."""
    p = SHARED_CORPUS / name
    return p if p.exists() else PACKAGED_CORPUS / name


def read_rows(name: str) -> list[dict]:
    with open(corpus_path(name), newline="", encoding="utf-8-sig") as fh:
        return [r for r in csv.DictReader(fh) if r.get("formula")]


def central_difference(fun, x: np.ndarray, h: float) -> np.ndarray:
    """Central differences of a scalar function of an array (any shape):
    (f(x+h e_i)-f(x-h e_i))/2h for every entry i."""
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


def richardson_gradient(fun, x: np.ndarray, h: float = 1e-3) -> tuple[np.ndarray, float]:
    """Richardson-extrapolated central differences (error O(h^4)) and an error estimate
    (difference between the two extrapolation levels)."""
    d1 = central_difference(fun, x, h)
    d2 = central_difference(fun, x, h / 2)
    d3 = central_difference(fun, x, h / 4)
    r1 = (4 * d2 - d1) / 3
    r2 = (4 * d3 - d2) / 3
    best = (16 * r2 - r1) / 15
    return best, float(np.max(np.abs(r2 - r1)))


SMOOTH_UNARY = [p for p in PRIMITIVES.values() if p.elementwise
                and p.arity == 1 and p.smooth and p.differentiable and not p.param_names]
SMOOTH_BINARY = [p for p in PRIMITIVES.values() if p.elementwise and p.arity == 2 and p.smooth
                 and p.differentiable]
ALL_OPS = [p for p in PRIMITIVES.values() if p.arity > 0 and p.elementwise]
"""Elementwise ops (random scalar graphs draw from these; array ops are walked by
tests/tensors/test_array_primitives.py with the example shapes of their records)."""


@st.composite
def random_graphs(draw, n_inputs: int = 3, max_ops: int = 7, smooth: bool = True):
    """A random graph over inputs x0..x{n-1}: each step applies a registered primitive
    to earlier values (or small constants); returns (graph, number of ops)."""
    names = [f"x{i}" for i in range(n_inputs)]
    values = [ops.variable(n) for n in names]
    unary = SMOOTH_UNARY if smooth else [p for p in ALL_OPS if p.arity == 1]
    binary = SMOOTH_BINARY if smooth else [p for p in ALL_OPS if p.arity == 2]
    n_ops = draw(st.integers(1, max_ops))
    for _ in range(n_ops):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "const"]))
        a = draw(st.sampled_from(values))
        if kind == "unary":
            prim = draw(st.sampled_from(unary))
            params = {}
            values.append(apply(prim, a, **params))
        else:
            prim = draw(st.sampled_from(binary))
            if kind == "const":
                c = ops.const(draw(st.sampled_from([0.5, 2.0, 3.0, -1.5])))
                args = (a, c) if draw(st.booleans()) else (c, a)
            else:
                args = (a, draw(st.sampled_from(values)))
            values.append(apply(prim, *args))
    out = values[-1]
    if not out.args:
        out = ops.mul(out, ops.const(2.0))
    inputs = [ops.variable(n) for n in names]
    return Graph(inputs, [out])


def sympy_of_row(row: dict):
    """The row's formula as a SymPy expression (SymPy is ground truth we did not write).
    Every listed variable maps to a Symbol; arcsin/arccos/ln map to SymPy's names."""
    import sympy
    names = [v for v in row["variables"].split(";") if v]
    symbols = {n: sympy.Symbol(n, real=True) for n in names}
    local = dict(symbols)
    local.update({"arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
                  "ln": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt, "pi": sympy.pi})
    expr = sympy.sympify(row["formula"], locals=local)
    return expr, [symbols[n] for n in names]


def assert_close_relative(got, want, rtol: float, what: str = ""):
    """|got - want| <= rtol * max(|want|, 1e-6 * max|want|) elementwise, finite entries."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    fin = np.isfinite(want)
    scale = np.max(np.abs(want[fin])) if fin.any() else 1.0
    denom = np.maximum(np.abs(want), 1e-6 * scale + 1e-300)
    err = np.abs(got - want) / denom
    bad = fin & ~(err <= rtol)
    assert not bad.any(), f"{what}: max relative error {np.max(err[fin]):.3g} > {rtol:g}; " \
                          f"got {got[bad][:4]}, want {want[bad][:4]}"


def flat(tree) -> list:
    """The arrays of a kernel's nested-tuple result, in output order (as float64)."""
    out, stack = [], [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, tuple):
            stack.extend(reversed(t))
        else:
            out.append(np.asarray(t, dtype=float))
    return out


GOLDEN_REGEN = os.environ.get("GRAPHC_REGEN_GOLDEN", "") not in ("", "0")
"""Rewrite golden files instead of comparing (``GRAPHC_REGEN_GOLDEN=1``)."""


def check_golden(path: Path, text: str) -> None:
    """Compare ``text`` with the golden file ``path``, or rewrite it when
    ``GRAPHC_REGEN_GOLDEN=1``. A missing golden file is a failure (never created
    silently), so a test cannot pass by writing its own expectation; a difference
    fails with a unified diff."""
    import difflib
    path = Path(path)
    if GOLDEN_REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    name = f"{path.parent.name}/{path.name}"
    assert path.exists(), (f"golden file {path} is missing; create it with "
                           f"GRAPHC_REGEN_GOLDEN=1 and review it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            name, "actual"))
        raise AssertionError(f"output differs from {name} (regenerate with "
                             f"GRAPHC_REGEN_GOLDEN=1 if intended):\n{diff[:4000]}")


def integer_arguments(prim, shapes, params) -> dict:
    """``{position: (low, high)}`` of the arguments of ``prim`` that hold integers
    (class labels, gather indices), from the record's ``integer_args`` with the
    parameter defaults filled in; ``{}`` for ops without such arguments."""
    if prim.integer_args is None:
        return {}
    return prim.integer_args([tuple(s) for s in shapes],
                             {**prim.param_defaults, **params})


def sample_arguments(prim, shapes, params, rng, dtype=np.float64) -> list:
    """Arguments of ``prim`` for the given shapes: integer arguments drawn uniformly
    from their valid range (:func:`integer_arguments`), the others uniformly from the
    record's ``domain``, all as arrays of ``dtype``."""
    ints = integer_arguments(prim, shapes, params)
    vals = []
    for k, (shape, (lo, hi)) in enumerate(zip(shapes, prim.domain)):
        if k in ints:
            vals.append(rng.integers(*ints[k], size=shape).astype(dtype))
        else:
            vals.append(rng.uniform(lo, hi, size=shape).astype(dtype))
    return vals


def sort_test_values(shape, dtype, seed):
    """Inputs for sorting tests: small integers (many ties) with NaN, ±inf, -0.0 and 0.0
    sprinkled in, of ``shape`` and ``dtype`` (seeded)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, size=shape).astype(dtype)
    flat = X.reshape(-1)
    if flat.size >= 4:
        pos = rng.permutation(flat.size)
        k = max(1, flat.size // 8)
        for j, v in enumerate((np.nan, -0.0, np.inf, -np.inf, 0.0)):
            flat[pos[j * k:(j + 1) * k]] = v
    return X
