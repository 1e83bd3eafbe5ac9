"""GradBench ``saddle`` (Siskind & Pearlmutter 2008): the saddle point of
``f(p1, p2) = (p1₀² + p1₁²) - (p2₀² + p2₁²)`` by nested gradient descent:

1. ``r1 = argmin over p1 of max over p2 of f(p1, p2)``, every descent started at
   ``start``. The outer descent needs the gradient, with respect to ``p1``, of the inner
   ``max``: a derivative *through* the inner solver loop (a ``gc.while_loop`` whose exit
   depends on the values), whose own gradient (with respect to ``p2``) closes over the
   outer ``p1``;
2. ``r2 = argmax over p2 of f(r1, p2)``, not nested.

The four functions (``ff``, ``fr``, ``rf``, ``rr``) choose the mode of the outer
derivative (d/dp1 through the inner solver: ``gc.jacfwd`` or ``gc.grad``) and of the
inner one (d/dp2: ``gc.jacfwd`` or ``gc.grad``); step 2 uses the inner mode, as in
GradBench's C++ tools. Every derivative is graphc's AD; the solver is GradBench's
``gd.hpp`` (:mod:`evals.gd`). Each mode is one traced function of ``start`` compiled to
one LLVM kernel.

Input: ``{"start": [2 floats], "min_runs", "min_seconds"}``; output: ``r1 + r2``
(4 floats).

The inner solver runs at most :data:`INNER_MAX_STEPS` iterations (170 at most from
GradBench's start): reverse mode through its ``while_loop`` needs a bound on the trip
count (docs/loops.md). An inner solver stopped by the bound makes the objective NaN,
never a wrong number (the outer solver then rejects the point and halves its step); the
bound applies in every mode, so all four compute the same function.
"""

from __future__ import annotations

from functools import cache

import numpy as np

import graphc as gc
from evals import gd
from graphc.frontend.tracer import trace

INNER_MAX_STEPS = 1000
"""Bound on the inner solver's iterations (every mode)."""


def f(p1, p2):
    """GradBench's saddle function of two points (tuples of two scalars)."""
    return (p1[0] * p1[0] + p1[1] * p1[1]) - (p2[0] * p2[0] + p2[1] * p2[1])


def _grad2(mode: str):
    """``(p1, p2) -> ∇_{p2} f(p1, p2)`` by graphc's AD in ``mode`` (``"f"``/``"r"``)."""
    D = gc.grad if mode == "r" else gc.jacfwd

    def g(p1, p2):
        d = D(lambda a, b: f(p1, (a, b)), argnums=(0, 1))(p2[0], p2[1])
        return d[0], d[1]
    return g


def inner_max(p1, start, inner: str):
    """``max over p2 of f(p1, p2)`` by the solver from ``start``, its gradient in ``p2``
    by graphc's AD in mode ``inner`` (closing over ``p1``). ``f`` and that gradient are
    cheap, so each solver step computes both at the trial point and selects
    (``lazy=False``: a ``gc.where`` costs less than a ``gc.cond``'s branch call)."""
    g2 = _grad2(inner)
    return gd.max_(lambda p2: f(p1, p2), lambda p2: g2(p1, p2), start,
                   max_steps=INNER_MAX_STEPS, lazy=False)


def saddle(s0, s1, mode: str):
    """``(*r1, *r2)`` from the start ``(s0, s1)`` for ``mode`` (outer then inner), as a
    traced computation."""
    outer, inner = mode
    start = (s0, s1)

    def r1cost(a, b):
        return inner_max((a, b), start, inner)

    D = gc.grad if outer == "r" else gc.jacfwd
    d1 = D(r1cost, argnums=(0, 1))
    # the outer objective runs a whole inner solve: evaluate it only where gd.hpp does
    r1 = gd.argmin(lambda p1: r1cost(*p1), lambda p1: tuple(d1(*p1)), start)
    g2 = _grad2(inner)
    r2 = gd.argmax(lambda p2: f(r1, p2), lambda p2: g2(r1, p2), start, lazy=False)
    return (*r1, *r2)


@cache
def kernel(mode: str):
    """The compiled LLVM kernel ``(s0, s1) -> (r1₀, r1₁, r2₀, r2₁)`` of ``mode``.

    Raises:
        InputError: an unknown mode.
    """
    if mode not in FUNCTIONS:
        raise gc.InputError(f"saddle: no mode {mode!r}; modes: {', '.join(FUNCTIONS)}")
    return gc.compile(trace(lambda s0, s1: saddle(s0, s1, mode)))


def _function(mode: str):
    def prepare(input):
        start = np.asarray(input["start"], dtype=np.float64).reshape(-1)
        if start.size != 2:
            raise gc.InputError(f"saddle: start must have 2 entries, got {start.size}")
        k, s0, s1 = kernel(mode), float(start[0]), float(start[1])
        return (lambda: k(s0=s0, s1=s1)), lambda r: [float(v) for v in r]
    prepare.__name__ = mode
    prepare.__doc__ = (f"``r1 + r2`` with outer {'forward' if mode[0] == 'f' else 'reverse'}"
                       f" and inner {'forward' if mode[1] == 'f' else 'reverse'} mode.")
    return prepare


FUNCTIONS = {mode: _function(mode) for mode in ("ff", "fr", "rf", "rr")}
