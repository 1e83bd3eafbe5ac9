"""GradBench ``particle`` (Siskind & Pearlmutter 2008): the control parameter ``w`` that
makes a charged particle, pushed by the field of two fixed charges, cross the x axis at
the origin; found by gradient descent on ``x₀(t_f)²``, whose every evaluation runs a
naive Euler integration in which the force is the gradient of the potential.

Two nested derivatives, in the four mode pairs of the eval (``ff``, ``fr``, ``rf``,
``rr``: the outer derivative, d/dw of the objective through the whole integration, in
forward or reverse mode; the inner one, the force ``-∇ₓp(x; w)``, in forward or reverse
mode). Both come from graphc's AD: the inner ``gc.grad``/``gc.jacfwd`` is called on
traced values inside the integration loop and closes over ``w`` (through the charge
at ``(10, 10 - w)``); the outer one differentiates the ``gc.while_loop`` whose exit
(the particle reaching the axis) depends on the values. The solver is GradBench's
``gd.hpp`` (:mod:`evals.gd`), also a ``gc.while_loop``: each mode is one traced
function of ``w0`` (solver, integration and both derivatives) compiled once to one
LLVM kernel.

Input: ``{"w": float, "min_runs", "min_seconds"}``; output: the final ``w``.

The integration runs at most :data:`EULER_MAX_STEPS` steps (352 at ``w = 0``): reverse
mode through a ``while_loop`` needs a bound on its trip count (docs/loops.md), and for
some ``w`` (e.g. ``w = -0.5``) the particle never reaches the axis. An integration
stopped by the bound gives NaN, never a wrong number; the solver then rejects the trial
point (``NaN < f(w)`` is false) and halves its step, in every mode.
"""

from __future__ import annotations

from functools import cache

import graphc as gc
from evals import gd
from graphc.frontend.tracer import trace

DT = 0.1
"""Euler time step (GradBench's ``delta_t``)."""
EULER_MAX_STEPS = 1000
"""Bound on the Euler steps (every mode)."""


def force(inner: str, w, x, y):
    """``∇ₓp(x; w)`` at the particle's position ``(x, y)`` by graphc's AD: ``inner``
    ``"r"`` is reverse mode (``gc.grad``), ``"f"`` forward mode (``gc.jacfwd``, one
    tangent per coordinate); the potential closes over ``w``."""
    charges = ((10.0, 10.0 - w), (10.0, 0.0))

    def p(px, py):
        return sum(1.0 / gc.sqrt((px - cx) * (px - cx) + (py - cy) * (py - cy))
                   for cx, cy in charges)

    d = (gc.grad if inner == "r" else gc.jacfwd)(p, argnums=(0, 1))(x, y)
    return d[0], d[1]


def naive_euler(w, inner: str, max_steps: int | None = None):
    """``x₀(t_f)²``: Euler steps from ``x = (0, 8)``, ``ẋ = (0.75, 0)`` while the next
    position stays above the x axis, then linear interpolation to the crossing."""
    zero = w * 0.0

    def above(s):
        _, y, _, vy = s
        return y + DT * vy > 0.0

    def step(s):
        x, y, vx, vy = s
        ax, ay = force(inner, w, x, y)
        return x + DT * vx, y + DT * vy, vx + DT * -ax, vy + DT * -ay

    x, y, vx, vy = gc.while_loop(above, step, (zero, zero + 8.0, zero + 0.75, zero),
                                 max_steps=max_steps)
    xf = x + (-y / vy) * vx
    value = xf * xf
    if max_steps is None:
        return value
    return gc.where(y + DT * vy > 0.0, float("nan"), value)   # stopped by the bound


def particle(w0, mode: str):
    """The eval's answer from ``w0`` for ``mode`` (``"ff"``, ``"fr"``, ``"rf"``,
    ``"rr"``: outer then inner mode), as a traced computation."""
    outer, inner = mode

    def objective(w):
        return naive_euler(w, inner, EULER_MAX_STEPS)

    d = gc.grad(objective) if outer == "r" else gc.jacfwd(objective)
    (w,) = gd.argmin(lambda v: objective(v[0]), lambda v: (d(v[0]),), (w0,))
    return w


@cache
def kernel(mode: str):
    """The compiled LLVM kernel ``w0 -> w`` of ``mode``.

    Raises:
        InputError: an unknown mode.
    """
    if mode not in FUNCTIONS:
        raise gc.InputError(f"particle: no mode {mode!r}; modes: {', '.join(FUNCTIONS)}")
    return gc.compile(trace(lambda w0: particle(w0, mode)))


def _function(mode: str):
    def prepare(input):
        k, w0 = kernel(mode), float(input["w"])
        return (lambda: k(w0=w0)), float
    prepare.__name__ = mode
    prepare.__doc__ = (f"The final ``w`` with outer {'forward' if mode[0] == 'f' else 'reverse'}"
                       f" and inner {'forward' if mode[1] == 'f' else 'reverse'} mode.")
    return prepare


FUNCTIONS = {mode: _function(mode) for mode in ("ff", "fr", "rf", "rr")}
