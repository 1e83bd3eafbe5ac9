"""JAX references for GradBench's ``particle`` and ``saddle`` evals (GradBench's own
JAX tool has neither; these follow its C++ tools, ``tools/enzyme/{particle,saddle}.cpp``
with ``cpp/gradbench/gd.hpp``, and its Futhark/Haskell tools).

Every derivative is JAX's: the inner one (the particle's force, the inner ``max``'s
gradient) by ``jax.grad`` or ``jax.jacfwd``; the outer one (through the Euler loop, or
through the inner solver) by ``jax.jacfwd`` through a ``lax.while_loop``, or by
``jax.grad`` through a ``lax.scan`` of ``max_steps`` masked steps (JAX's reverse mode
cannot go through a ``lax.while_loop``). The outermost solver is a Python port of
``gd.hpp`` calling ``jax.jit``-compiled objective and gradient.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

TOL, ETA0 = 1e-5, 1e-5


def _loop(cond, body, init, max_steps):
    """``while cond(s): s = body(s)``: a ``lax.while_loop``, or with ``max_steps`` a
    ``lax.scan`` of that many steps, each masked by the condition (reverse-mode
    differentiable)."""
    if max_steps is None:
        return jax.lax.while_loop(cond, body, init)

    def step(s, _):
        new = body(s)
        run = cond(s)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(run, a, b), new, s), None
    return jax.lax.scan(step, init, None, length=max_steps)[0]


def gd_argmin(f, g, x0):
    """``gd.hpp``'s ``multivariate_argmin`` on NumPy vectors; returns ``(x, iterations)``
    (an iteration: a stop, a doubling, a halving or an accepted step)."""
    x = np.asarray(x0, dtype=np.float64)
    fx, gx, eta, i, it = float(f(x)), np.asarray(g(x)), ETA0, 0, 0
    while True:
        it += 1
        if math.sqrt(float(np.sum(gx * gx))) <= TOL:
            return x, it
        if i == 10:
            eta, i = 2 * eta, 0
            continue
        xp = x - eta * gx
        if math.sqrt(float(np.sum((x - xp) ** 2))) <= TOL:
            return x, it
        fxp = float(f(xp))
        if fxp < fx:
            x, fx, gx, i = xp, fxp, np.asarray(g(xp)), i + 1
        else:
            eta, i = eta / 2, 0


def _jax_argmin(f, g, x0, max_steps=None):
    """``gd.hpp``'s argmin as a :func:`_loop` (traceable; reverse-differentiable with
    ``max_steps``); returns ``(x, iterations)``."""
    def norm(v):
        return jnp.sqrt(jnp.sum(v * v))

    def body(s):
        x, fx, gx, eta, i, _, it = s
        xp = x - eta * gx

        def trial(_):
            fxp = f(xp)
            return jax.lax.cond(fxp < fx,
                                lambda _: (xp, fxp, g(xp), eta, i + 1, True),
                                lambda _: (x, fx, gx, eta / 2, 0, True), None)

        def other(_):
            small = norm(gx) <= TOL
            keep = jnp.logical_and(~small, i == 10)
            return (x, fx, gx, jnp.where(keep, 2 * eta, eta), jnp.where(keep, 0, i), keep)

        attempt = (norm(gx) > TOL) & (i != 10) & (norm(x - xp) > TOL)
        return (*jax.lax.cond(attempt, trial, other, None), it + 1)

    x0 = jnp.asarray(x0, dtype=jnp.float64)
    s = (x0, f(x0), g(x0), jnp.float64(ETA0), 0, True, 0)
    out = _loop(lambda s: s[5], body, s, max_steps)
    return out[0], out[6]


# ---------------------------------------------------------------- particle

def particle_objective(w, inner: str, max_steps=None):
    """``x₀(t_f)²`` of the naive Euler integration; the force is ``-∇p`` by
    ``jax.grad`` (``inner="r"``) or ``jax.jacfwd`` (``"f"``). Returns ``(value, steps)``."""
    charges = jnp.stack([jnp.stack([10.0, 10.0 - w]), jnp.array([10.0, 0.0])])

    def p(x):
        return jnp.sum(1.0 / jnp.sqrt(jnp.sum((x - charges) ** 2, axis=1)))

    dp = jax.grad(p) if inner == "r" else jax.jacfwd(p)
    dt = 0.1

    def body(s):
        x, xdot, n = s
        return x + dt * xdot, xdot + dt * -dp(x), n + 1

    x, xdot, n = _loop(lambda s: s[0][1] + dt * s[1][1] > 0, body,
                       (jnp.array([0.0, 8.0]), jnp.array([0.75, 0.0]), 0), max_steps)
    xf = x + (-x[1] / xdot[1]) * xdot
    return xf[0] * xf[0], n


def particle_functions(inner: str, outer: str = "f", max_steps: int = 1000):
    """Jitted ``(f, df/dw)`` of the particle objective (scalar ``w``), ``df`` by
    ``jax.jacfwd`` (``outer="f"``, a ``while_loop``) or ``jax.grad`` (``"r"``, a scan of
    ``max_steps`` masked steps)."""
    bound = max_steps if outer == "r" else None

    def f(w):
        return particle_objective(w, inner, bound)[0]
    return jax.jit(f), jax.jit(jax.grad(f) if outer == "r" else jax.jacfwd(f))


def particle(w0: float, inner: str = "r", outer: str = "f") -> float:
    """The eval's answer from ``w0``."""
    f, df = particle_functions(inner, outer)
    w, _ = gd_argmin(lambda v: f(v[0]), lambda v: np.array([df(v[0])]), [w0])
    return float(w[0])


# ---------------------------------------------------------------- saddle

def saddle_f(p1, p2):
    return (p1[0] * p1[0] + p1[1] * p1[1]) - (p2[0] * p2[0] + p2[1] * p2[1])


def saddle_r1cost(p1, start, inner: str, max_steps=None):
    """``max over p2 of f(p1, p2)`` by the solver from ``start``, the gradient in p2 by
    ``jax.grad``/``jax.jacfwd``; returns ``(value, iterations)``."""
    D = jax.grad if inner == "r" else jax.jacfwd

    def neg(p2):
        return -saddle_f(p1, p2)
    x, it = _jax_argmin(neg, D(neg), start, max_steps)
    return saddle_f(p1, x), it


def saddle_functions(start, inner: str, outer: str = "f", max_steps: int = 1000):
    """Jitted ``(r1cost, its gradient in p1, inner iterations)``; the gradient by
    ``jax.jacfwd`` (``outer="f"``) or ``jax.grad`` (``"r"``, the inner solver a scan of
    ``max_steps`` masked steps)."""
    start = jnp.asarray(start, dtype=jnp.float64)
    bound = max_steps if outer == "r" else None

    def f(p1):
        return saddle_r1cost(p1, start, inner, bound)[0]
    return (jax.jit(f), jax.jit(jax.grad(f) if outer == "r" else jax.jacfwd(f)),
            jax.jit(lambda p1: saddle_r1cost(p1, start, inner)[1]))


def saddle(start, inner: str = "r", outer: str = "f"):
    """The eval's answer ``r1 + r2`` (4 floats) from ``start``, and the largest number
    of inner-solver iterations seen."""
    f, df, iters = saddle_functions(start, inner, outer)
    seen = []

    def g(p1):
        seen.append(int(iters(p1)))
        return np.asarray(df(p1))
    r1, _ = gd_argmin(f, g, start)
    r2 = saddle_step2(r1, start, inner)
    return [*map(float, r1), *map(float, r2)], max(seen)


def _neg_f(p1, p2):
    return -saddle_f(p1, p2)


_STEP2 = {m: (jax.jit(_neg_f), jax.jit((jax.grad if m == "r" else jax.jacfwd)(_neg_f, 1)))
          for m in "fr"}


def saddle_step2(r1, start, inner: str):
    """``argmax over p2 of f(r1, p2)`` from ``start``, the gradient in mode ``inner``."""
    neg, dneg = _STEP2[inner]
    r1 = jnp.asarray(r1)
    return gd_argmin(lambda p2: neg(r1, p2), lambda p2: np.asarray(dneg(r1, p2)), start)[0]
