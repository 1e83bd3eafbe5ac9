"""Shared ground truth for the registry-generated derivative tests of transformed
functions (test_nested_derivatives.py, test_custom_rules.py): the smooth elementwise
primitives, a point inside each one's domain, and SymPy's formula of each primitive
(``gc.to_sympy`` of the undifferentiated primitive), from which the tests take exact
derivatives with ``sympy.diff``."""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy

import graphc as gc
from graphc.ir import PRIMITIVES
from graphc.numpy_api import PRIMITIVE_FUNCTIONS

SMOOTH = sorted(p.name for p in PRIMITIVES.values()
                if p.elementwise and p.arity in (1, 2) and p.smooth and p.differentiable
                and not p.param_names)
UNARY = [n for n in SMOOTH if PRIMITIVES[n].arity == 1]
BINARY = [n for n in SMOOTH if PRIMITIVES[n].arity == 2]
DTYPES = ["float64", "float32"]
TOL = {"float64": 1e-8, "float32": 3e-3}


def close(got, want, dtype="float64"):
    """Assert a scalar result equals the exact value within the dtype's tolerance."""
    got = float(np.asarray(got))
    assert math.isclose(got, want, rel_tol=TOL[dtype], abs_tol=TOL[dtype]), (got, want)


def point(name):
    """A point 37% of the way across the primitive's domain (one value per argument)."""
    return tuple(lo + 0.37 * (hi - lo) for lo, hi in PRIMITIVES[name].domain)


@functools.lru_cache(maxsize=None)
def formula(name):
    """(SymPy formula of the primitive, its symbols in argument order)."""
    F = PRIMITIVE_FUNCTIONS[name]
    g = gc.function((lambda x: F(x)) if PRIMITIVES[name].arity == 1 else
                    (lambda x, y: F(x, y))).graph
    expr = gc.to_sympy(g)
    syms = {s.name: s for s in expr.free_symbols}
    return expr, tuple(syms.get(nm, sympy.Symbol(nm, real=True)) for nm in g.input_names)
