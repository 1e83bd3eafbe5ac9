"""GradBench's gradient-descent solver (``cpp/gradbench/gd.hpp``, the one its C++,
Futhark and Haskell tools share for ``particle`` and ``saddle``), written as one
:func:`graphc.while_loop` so that it can sit inside a traced function and be
differentiated (``saddle`` differentiates through its inner ``max``).

Not an eval (not in ``graphc_tool.EVALS``): a helper of ``particle.py`` and ``saddle.py``.

The algorithm, exactly as ``gd.hpp``'s ``multivariate_argmin``: from ``x`` with
``fx = f(x)``, ``gx = g(x)``, ``eta = 1e-5``, ``i = 0``, repeat: stop when ``|gx| <=
1e-5``; after 10 accepted steps double ``eta`` (and restart the count); else try
``x' = x - eta·gx``: stop when ``|x - x'| <= 1e-5``, accept it when ``f(x') < fx``
(``i += 1``), otherwise halve ``eta`` (``i = 0``). Points are tuples of ``n`` scalar
graph values (or numbers). Each step evaluates ``f`` and ``g`` only where ``gd.hpp`` does:
the trial is a :func:`graphc.cond` (only the branch taken runs, in value and in
derivatives), and so is the gradient at an accepted point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import graphc as gc
import graphc.numpy as gnp

TOL = 1e-5
"""Stopping tolerance on ``|g(x)|`` and on the step length (``gd.hpp``)."""
ETA0 = 1e-5
"""Initial step size (``gd.hpp``)."""


def _norm(v: Sequence) -> object:
    return gc.sqrt(sum(a * a for a in v))


def _select(pred, a, b):
    """``a if pred else b`` leaf by leaf for equal tuples of scalars (both computed)."""
    if isinstance(a, tuple):
        return tuple(_select(pred, u, v) for u, v in zip(a, b))
    return gc.where(pred, a, b)


def argmin(f: Callable, g: Callable, x0: Sequence, *, max_steps: int | None = None,
           lazy: bool = True):
    """The point ``gd.hpp``'s gradient descent reaches from ``x0``.

    Args:
        f: ``f(x) -> scalar`` for a tuple ``x`` of ``n`` scalars (traced once).
        g: ``g(x) -> tuple of n scalars``, the gradient of ``f`` (the caller's AD).
        x0: the start, ``n`` scalars (graph values or numbers).
        max_steps: bound on the solver's iterations (each doubling, halving or accepted
            step is one), needed to differentiate the result in reverse mode
            (:func:`graphc.while_loop`); None for an unbounded loop.
        lazy: evaluate ``f`` and ``g`` at the trial point only when ``gd.hpp`` does
            (:func:`graphc.cond`); False computes both every step and selects
            (:func:`graphc.where`), faster when ``f`` and ``g`` are cheap.

    Returns:
        The final point, a tuple of ``n`` scalar graph values; NaNs when the solver
        had not stopped after ``max_steps`` iterations.
    """
    x0 = tuple(x0)
    state = (x0, f(x0), tuple(g(x0)), ETA0, 0.0, 1.0)   # x, fx, gx, eta, i, go

    def trial(x, fx, gx, eta, i, xp):
        fxp = f(xp)
        return gc.cond(fxp < fx,
                       lambda: (xp, fxp, tuple(g(xp)), eta, i + 1.0, 1.0),
                       lambda: (x, fx, gx, eta / 2.0, 0.0, 1.0))

    def other(x, fx, gx, eta, i, small_g, double):
        # no trial: stop (small gradient or step), or double eta after 10 steps
        keep = gc.where(small_g, 0.0, double)
        return (x, fx, gx, gc.where(keep, 2.0 * eta, eta), gc.where(keep, 0.0, i), keep)

    def body(s):
        x, fx, gx, eta, i, _ = s
        small_g = _norm(gx) <= TOL
        double = gnp.equal(i, 10.0)
        xp = tuple(a - eta * d for a, d in zip(x, gx))
        small_step = _norm([a - b for a, b in zip(x, xp)]) <= TOL
        go_on = gc.where(small_g, 0.0, gc.where(double, 0.0,
                                                 gc.where(small_step, 0.0, 1.0)))
        if lazy:
            return gc.cond(go_on, lambda: trial(x, fx, gx, eta, i, xp),
                           lambda: other(x, fx, gx, eta, i, small_g, double))
        fxp, gxp = f(xp), tuple(g(xp))
        accept = fxp < fx
        tried = _select(accept, (xp, fxp, gxp, eta, i + 1.0, 1.0),
                        (x, fx, gx, eta / 2.0, 0.0, 1.0))
        return _select(go_on, tried, other(x, fx, gx, eta, i, small_g, double))

    x, _, _, _, _, go = gc.while_loop(lambda s: s[5] > 0.0, body, state,
                                      max_steps=max_steps)
    if max_steps is None:
        return x
    return tuple(gc.where(go > 0.0, float("nan"), a) for a in x)   # stopped by the bound


def argmax(f: Callable, g: Callable, x0: Sequence, *, max_steps: int | None = None,
           lazy: bool = True):
    """``argmin`` of ``-f`` (gradient ``-g``), as ``gd.hpp``'s ``multivariate_argmax``."""
    return argmin(lambda x: -f(x), lambda x: tuple(-d for d in g(x)), x0,
                  max_steps=max_steps, lazy=lazy)


def max_(f: Callable, g: Callable, x0: Sequence, *, max_steps: int | None = None,
         lazy: bool = True):
    """``f`` at :func:`argmax`, as ``gd.hpp``'s ``multivariate_max``."""
    return f(argmax(f, g, x0, max_steps=max_steps, lazy=lazy))
