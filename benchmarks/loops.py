"""Benchmark a CNN step and an ODE gradient through a long loop: graphc, JAX, PyTorch (issue 14).

Usage (from the repository root)::

    python benchmarks/loops.py                  # -> benchmarks/LOOPS.md
    python benchmarks/loops.py --quick --out -  # tiny sizes, table printed only

Two workloads, float64 everywhere, every peer on one thread:

* **CNN step** (the network of ``examples/cnn_digits.py``: conv 1 -> 8 (3x3, pad 1),
  relu, 2x2 max-pool, conv 8 -> 16, relu, max-pool, dense 64 -> 10, softmax
  cross-entropy over integer labels): the loss and its gradient with respect to all six
  weight arrays for a batch of B 8x8 images (B = 32 and 256; pixels uniform in [0, 1)
  from a seeded generator, so that no max-pool window holds a tie whose gradient the
  peers could route differently). ``graphc``: ``cnn_digits.graphs()`` under
  ``gc.value_and_grad``, compiled once with LLVM; ``pytorch``: eager
  ``torch.nn.functional`` and ``torch.autograd.grad``; ``jax``:
  ``jax.jit(jax.value_and_grad)`` with ``jax.lax.conv_general_dilated`` and
  ``jax.lax.reduce_window`` pooling.
* **ODE gradient** (:func:`ode_numpy` defines the system once): T classical RK4 steps
  (T = 10³, 10⁴, 10⁵; step ``h = 10 / T``, so every T integrates to t = 10) of the
  10-dimensional ring ``y' = -a*y + b*tanh(C @ y + c)`` (``C`` the fixed antisymmetric
  nearest-neighbour coupling ``y[i+1] - y[i-1]``; parameters ``a``, ``b``, ``c``: 30
  entries), loss ``sum(y(T)**2)``, gradient with respect to ``y0``, ``a``, ``b`` and
  ``c``. ``graphc``: the traced function with ``gc.scan`` under ``gc.value_and_grad``,
  compiled with LLVM, one row per ``checkpoint`` policy (``"auto"``, the default:
  ``"all"`` up to 1,024 steps, else ``"sqrt"``; ``"sqrt"``; ``"all"``); ``jax``:
  ``jax.jit(jax.value_and_grad)`` of ``jax.lax.scan``; ``pytorch``: eager, a Python
  loop of RK4 steps and ``torch.autograd.grad`` (skipped where the previous T's time
  scaled by the step ratio predicts more than :data:`TORCH_LIMIT_S` seconds, or
  ``--torch-limit``). Also graphc's compile time (``gc.compile`` and the first call, on
  empty in-memory and on-disk caches, best of two, less one timed call) for each T with
  the number of ``scan`` nodes the checkpointing made, and the peak of ``tracemalloc``
  during one gradient call (graphc's workspaces and stored carries are NumPy arrays,
  which tracemalloc sees; its buffer pool is emptied first so that they are allocated
  in the measured call).

Checks before timing: every CNN peer's loss and gradients against graphc's NumPy
interpreter (``gc.compile(..., target="numpy")``); every ODE peer against the NumPy
interpreter up to 10⁴ steps and against JAX beyond (the interpreter needs about half a
minute for 10⁵ steps); relative difference <= 1e-9 (max-abs over the array scaled by
its max-abs, ``tensors._rel``). The worker runs in a fresh process with every thread
pool pinned to one thread, as benchmarks/tensors.py and benchmarks/pinn.py do; times are
the best of repeated samples (a single sample for calls longer than the budget).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "examples"))

from tensors import _env, _fmt_time, _rel, best_time

TOLERANCE = 1e-9
BATCHES = (32, 256)
STEPS = (10 ** 3, 10 ** 4, 10 ** 5)
QUICK_BATCHES = (4,)
QUICK_STEPS = (100, 1500)
POLICIES = ("auto", "sqrt", "all")
TORCH_LIMIT_S = 30.0
INTERPRETER_MAX_T = 10 ** 4
N = 10                   # ODE dimension
T_END = 10.0             # integration horizon


def timed(fn, budget: float) -> float:
    """Best time of one call: :func:`tensors.best_time` for calls shorter than the
    budget, else one timed call (after the check's warm-up call)."""
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    if one * 3 > budget:
        return one
    return min(one, best_time(fn, budget))


# ---------------------------------------------------------------------------------
# CNN step: build(P, X, y) -> step() returning (loss, [gradients in PARAMS order])

def cnn_data(B: int, seed: int = 0):
    """``(params, X (B, 1, 8, 8), y (B,) float class indices)``."""
    import cnn_digits as cd
    import numpy as np
    rng = np.random.default_rng(seed + B)
    X = rng.uniform(0.0, 1.0, (B, 1, 8, 8))
    y = rng.integers(0, 10, B).astype(np.float64)
    return cd.init_params(seed), X, y


def cnn_graphc():
    """``(build, reference)``: the LLVM kernel and the NumPy interpreter of the same
    value-and-gradient graph."""
    import cnn_digits as cd
    import numpy as np

    import graphc as gc
    loss, _ = cd.graphs()
    vg = gc.value_and_grad(loss, wrt=list(cd.PARAMS))
    kernel = gc.compile(vg)
    interp = gc.compile(vg, target="numpy")
    names = kernel.graph.input_names

    def args(P, X, y):
        return [dict(P, X=X, y=y)[n] for n in names]

    def build(P, X, y):
        a = args(P, X, y)

        def step():
            v, g = kernel(*a)
            return v, [np.asarray(t) for t in g]
        return step

    def reference(P, X, y):
        v, g = interp(*args(P, X, y))
        return float(v), [np.asarray(t) for t in g]
    return build, reference


def cnn_torch(threads: int):
    import cnn_digits as cd
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)

    def build(P, X, y):
        p = {k: torch.tensor(P[k], dtype=torch.float64, requires_grad=True)
             for k in cd.PARAMS}
        ordered = [p[k] for k in cd.PARAMS]
        tX, ty = torch.tensor(X), torch.tensor(y.astype(np.int64))

        def step():
            h1 = F.relu(F.conv2d(tX, p["W1"], p["b1"], padding=1))
            h2 = F.relu(F.conv2d(F.max_pool2d(h1, 2), p["W2"], p["b2"], padding=1))
            z = F.max_pool2d(h2, 2).reshape(-1, 64) @ p["W3"].T + p["b3"]
            loss = F.cross_entropy(z, ty)
            return loss.detach(), list(torch.autograd.grad(loss, ordered))
        return step
    return build, torch.__version__


def cnn_jax():
    import jax
    import jax.numpy as jnp
    from jax import lax
    jax.config.update("jax_enable_x64", True)
    import cnn_digits as cd
    dn = ("NCHW", "OIHW", "NCHW")

    def conv(x, W, b):
        out = lax.conv_general_dilated(x, W, (1, 1), ((1, 1), (1, 1)),
                                       dimension_numbers=dn)
        return out + b[None, :, None, None]

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(p, X, y):
        W1, b1, W2, b2, W3, b3 = p
        h1 = jax.nn.relu(conv(X, W1, b1))
        h2 = jax.nn.relu(conv(pool(h1), W2, b2))
        z = pool(h2).reshape(X.shape[0], 64) @ W3.T + b3
        ls = jax.nn.log_softmax(z, axis=1)
        return -jnp.mean(jnp.take_along_axis(ls, y[:, None], axis=1))
    vg = jax.jit(jax.value_and_grad(loss))

    def build(P, X, y):
        p = tuple(jnp.asarray(P[k]) for k in cd.PARAMS)
        jX, jy = jnp.asarray(X), jnp.asarray(y.astype("int64"))

        def step():
            v, g = jax.block_until_ready(vg(p, jX, jy))
            return v, list(g)
        return step
    return build, jax.__version__


# ---------------------------------------------------------------------------------
# ODE gradient through T RK4 steps: build(T, args) -> call() returning
# (loss, [d/dy0, d/da, d/db, d/dc])

ODE_ARGS = ("y0", "a", "b", "c")


def ode_coupling():
    """The fixed ring coupling ``C`` (10 x 10): ``(C @ y)[i] = y[i+1] - y[i-1]``."""
    import numpy as np
    C = np.zeros((N, N))
    for i in range(N):
        C[i, (i + 1) % N] = 1.0
        C[i, (i - 1) % N] = -1.0
    return C


def ode_args(seed: int = 0) -> dict:
    """Initial state and parameters: ``y0`` in [-1, 1], damping ``a`` in [0.2, 0.6],
    gains ``b`` in [0.5, 1.5], offsets ``c`` in [-0.5, 0.5] (10 entries each)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return {"y0": rng.uniform(-1, 1, N), "a": rng.uniform(0.2, 0.6, N),
            "b": rng.uniform(0.5, 1.5, N), "c": rng.uniform(-0.5, 0.5, N)}


def ode_numpy(y0, a, b, c, T: int) -> float:
    """The loss ``sum(y(T)**2)`` by a plain NumPy RK4 loop: the system's definition."""
    import numpy as np
    C, h = ode_coupling(), T_END / T
    y = np.array(y0, dtype=float)

    def rhs(y):
        return -a * y + b * np.tanh(C @ y + c)
    for _ in range(T):
        k1 = rhs(y)
        k2 = rhs(y + h / 2 * k1)
        k3 = rhs(y + h / 2 * k2)
        k4 = rhs(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return float(np.sum(y * y))


def ode_graph(T: int, checkpoint="auto"):
    """graphc's ``value_and_grad`` graph of the loss, the loop a ``gc.scan``."""
    import graphc as gc
    from graphc.frontend.tracer import trace
    C, h = ode_coupling(), T_END / T

    def loss(y0, a, b, c):
        def rhs(y):
            return -a * y + b * gc.tanh(gc.matmul(C, y) + c)

        def step(y, _):
            k1 = rhs(y)
            k2 = rhs(y + h / 2 * k1)
            k3 = rhs(y + h / 2 * k2)
            k4 = rhs(y + h * k3)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
        y, _ = gc.scan(step, y0, length=T, checkpoint=checkpoint)
        return (y * y).sum()
    g = trace(loss, shapes={k: (N,) for k in ODE_ARGS})
    return gc.value_and_grad(g, wrt=list(ODE_ARGS))


def _graphc_call(kernel, args):
    import numpy as np
    names = kernel.graph.input_names
    ordered = [args[n] for n in names]

    def call():
        v, g = kernel(*ordered)
        return float(v), [np.asarray(t) for t in g]
    return call


def ode_graphc_compile(T: int, checkpoint, args: dict, repeats: int = 1):
    """``(call, compile seconds, scan nodes)``: the best of ``repeats`` times of
    ``gc.compile`` plus the first call, each on empty in-memory and on-disk kernel
    caches; the number of ``scan`` nodes at the top level of the gradient graph."""
    import graphc as gc
    from graphc.backends import llvm
    vg = ode_graph(T, checkpoint)
    best = float("inf")
    for _ in range(repeats):
        llvm.clear_cache()
        t0 = time.perf_counter()
        call = _graphc_call(gc.compile(vg), args)
        call()
        best = min(best, time.perf_counter() - t0)
    return call, best, sum(1 for n in vg.nodes if n.op == "scan")


def ode_reference(T: int, args: dict):
    """graphc's NumPy interpreter: ``(loss, [gradients])``."""
    import graphc as gc
    return _graphc_call(gc.compile(ode_graph(T), target="numpy"), args)()


def peak_bytes(call) -> int:
    """Peak ``tracemalloc`` bytes of one call, graphc's buffer pool emptied first."""
    import tracemalloc

    from graphc.backends.llvm.buffers import POOL
    POOL.clear()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def ode_jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    C = jnp.asarray(ode_coupling())
    cache = {}

    def make(T):
        h = T_END / T

        def loss(y0, a, b, c):
            def rhs(y):
                return -a * y + b * jnp.tanh(C @ y + c)

            def step(y, _):
                k1 = rhs(y)
                k2 = rhs(y + h / 2 * k1)
                k3 = rhs(y + h / 2 * k2)
                k4 = rhs(y + h * k3)
                return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
            y, _ = jax.lax.scan(step, y0, None, length=T)
            return jnp.sum(y * y)
        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))

    def build(T, args):
        vg = cache.setdefault(T, make(T))
        a = [jnp.asarray(args[k]) for k in ODE_ARGS]

        def call():
            v, g = jax.block_until_ready(vg(*a))
            return v, list(g)
        return call
    return build, jax.__version__


def ode_torch(threads: int):
    import torch
    torch.set_num_threads(threads)
    C = torch.tensor(ode_coupling())

    def build(T, args):
        h = T_END / T
        leaves = [torch.tensor(args[k], requires_grad=True) for k in ODE_ARGS]

        def call():
            y0, a, b, c = leaves

            def rhs(y):
                return -a * y + b * torch.tanh(C @ y + c)
            y = y0
            for _ in range(T):
                k1 = rhs(y)
                k2 = rhs(y + h / 2 * k1)
                k3 = rhs(y + h / 2 * k2)
                k4 = rhs(y + h * k3)
                y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            loss = torch.sum(y * y)
            return loss.detach(), list(torch.autograd.grad(loss, leaves))
        return call
    return build, torch.__version__


# ---------------------------------------------------------------------------------
# the worker (one process, one thread)

def _diff(got, ref) -> float:
    import numpy as np
    loss, grads = got
    return max([_rel(float(loss), ref[0])] + [
        _rel(np.asarray(a, dtype=float).reshape(np.shape(b)), b)
        for a, b in zip(grads, ref[1])])


def worker(threads: int, batches, steps, out_path: str, budget: float,
           torch_limit: float = TORCH_LIMIT_S, compile_repeats: int = 1) -> None:
    import numpy as np

    def emit(**rec):
        rec["threads"] = threads
        with open(out_path, "a") as out:
            out.write(json.dumps(rec) + "\n")

    emit(kind="load", when="start", load=os.getloadavg())
    emit(kind="version", peer="numpy", version=np.__version__)
    import llvmlite
    emit(kind="version", peer="llvmlite", version=llvmlite.__version__)

    # --- CNN
    t0 = time.perf_counter()
    build_g, reference = cnn_graphc()
    emit(kind="cnn_compile", seconds=time.perf_counter() - t0)
    cnn = {"graphc": build_g}
    for name, make in (("pytorch", lambda: cnn_torch(threads)), ("jax", cnn_jax)):
        try:
            build, version = make()
        except ImportError:
            emit(kind="absent", peer=name)
            continue
        cnn[name] = build
        emit(kind="version", peer=name, version=version)
    for B in batches:
        P, X, y = cnn_data(B)
        ref = reference(P, X, y)
        for name, build in cnn.items():
            t0 = time.perf_counter()
            step = build(P, X, y)
            got = step()
            first = time.perf_counter() - t0
            diff = _diff(got, ref)
            emit(kind="cnn", B=B, peer=name, first_s=first, diff=diff,
                 ok=diff <= TOLERANCE, run_s=timed(step, budget))

    # --- ODE
    args = ode_args()
    ode = {}
    for name, make in (("jax", ode_jax), ("pytorch", lambda: ode_torch(threads))):
        try:
            ode[name], _ = make()
        except ImportError:
            emit(kind="absent", peer=name)
    torch_prev = None
    for T in steps:
        calls, ref_kind = {}, "interpreter"
        if T <= INTERPRETER_MAX_T:
            ref = ode_reference(T, args)
        for pol in POLICIES:
            call, comp, scans = ode_graphc_compile(T, pol, args, compile_repeats)
            calls[f"graphc {pol}"] = (call, {"compile_s": comp, "scans": scans,
                                             "peak_bytes": peak_bytes(call)})
        if "jax" in ode:
            t0 = time.perf_counter()
            call = ode["jax"](T, args)
            call()
            calls["jax"] = (call, {"first_s": time.perf_counter() - t0})
        if "pytorch" in ode:
            predicted = None if torch_prev is None else torch_prev[1] * T / torch_prev[0]
            if predicted is not None and predicted > torch_limit:
                emit(kind="ode", T=T, peer="pytorch", skipped=True, predicted_s=predicted,
                     limit_s=torch_limit)
            else:
                calls["pytorch"] = (ode["pytorch"](T, args), {})
        if T > INTERPRETER_MAX_T:
            ref_kind = "jax" if "jax" in calls else "graphc all"
            ref = calls[ref_kind][0]()
        for name, (call, extra) in calls.items():
            diff = _diff(call(), ref)
            run = timed(call, budget)
            if name == "pytorch":
                torch_prev = (T, run)
            emit(kind="ode", T=T, peer=name, diff=diff, ok=diff <= TOLERANCE, run_s=run,
                 ref=ref_kind, loss=float(ref[0]), **extra)
    emit(kind="load", when="end", load=os.getloadavg())


# ---------------------------------------------------------------------------------
# the report

def _cell(r, base) -> str:
    if r is None:
        return "—"
    if r.get("skipped"):
        return (f"skipped (~{_fmt_time(r['predicted_s'])} predicted from the previous T, "
                f"> {r['limit_s']:g} s)")
    text = _fmt_time(r["run_s"])
    if base is not None and r is not base:
        text += f" ({r['run_s'] / base['run_s']:.2f})"
    return text + ("" if r["ok"] else f" ✗ ({r['diff']:.1e})")


def _pow10(T: int) -> str:
    e = len(str(T)) - 1
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"10{str(e).translate(sup)}" if T == 10 ** e else str(T)


def report(records: list[dict], command: str) -> str:
    versions = {r["peer"]: r["version"] for r in records if r["kind"] == "version"}
    absent = sorted({r["peer"] for r in records if r["kind"] == "absent"})
    loads = {r["when"]: r["load"] for r in records if r["kind"] == "load"}
    cnn = [r for r in records if r["kind"] == "cnn"]
    ode = [r for r in records if r["kind"] == "ode"]
    cnn_compile = next((r["seconds"] for r in records if r["kind"] == "cnn_compile"), None)
    lines = [
        "# Loops and convolutions: graphc vs JAX and PyTorch",
        "",
        f"Generated by `{command}` on {platform.machine()} ({os.cpu_count()} CPUs "
        f"visible), Python {platform.python_version()}"
        + "".join(f", {p} {v}" for p, v in sorted(versions.items()))
        + (f"; absent: {', '.join(absent)}" if absent else "")
        + ". Every peer on one thread (graphc, OpenBLAS, XLA's Eigen pool, PyTorch's "
        "intra-op pool), float64. Each cell: the best time of one call and, in "
        "parentheses, peer time / graphc time (> 1: graphc faster). Every result agreed "
        "with its reference to 1e-9 relative unless marked ✗ (the difference follows).",
        "",
        "## CNN training step (examples/cnn_digits.py)",
        "",
        "Loss and gradient with respect to all six weight arrays of conv(1→8, 3×3, pad 1) "
        "→ relu → maxpool 2 → conv(8→16) → relu → maxpool 2 → dense 64→10 → softmax "
        "cross-entropy, for B random 8×8 images. `graphc`: `cnn_digits.graphs()` under "
        "`gc.value_and_grad`, compiled once with LLVM (each convolution a direct loop nest or "
        "im2col + BLAS by its shape: docs/convolution.md; "
        "the first call compiles)"
        + (f", graph built and differentiated in {_fmt_time(cnn_compile)}"
           if cnn_compile is not None else "")
        + "; `pytorch`: eager `torch.nn.functional` + `torch.autograd.grad`; `jax`: "
        "`jit(value_and_grad)` with `lax.conv_general_dilated` and `lax.reduce_window`. "
        "Reference: graphc's NumPy interpreter.",
        "",
    ]
    peers = []
    for r in cnn:
        if r["peer"] not in peers:
            peers.append(r["peer"])
    lines += ["| B | " + " | ".join(peers) + " | first call (" + " / ".join(peers) + ") |",
              "|" + "---|" * (2 + len(peers))]
    for B in sorted({r["B"] for r in cnn}):
        row = {r["peer"]: r for r in cnn if r["B"] == B}
        base = row.get("graphc")
        lines.append(f"| {B} | " + " | ".join(_cell(row.get(p), base) for p in peers)
                     + " | " + " / ".join(_fmt_time(row[p]["first_s"]) if p in row
                                          else "—" for p in peers) + " |")
    Ts = sorted({r["T"] for r in ode})
    order = [f"graphc {p}" for p in POLICIES] + ["jax", "pytorch"]
    names = [p for p in order if any(r["peer"] == p for r in ode)]
    refs = {r["T"]: r.get("ref") for r in ode if "ref" in r}
    lines += [
        "",
        "## ODE gradient through a long loop",
        "",
        f"T classical RK4 steps (h = {T_END:g}/T) of the 10-dimensional ring "
        "y' = -a·y + b·tanh(C y + c) (C y: y[i+1] - y[i-1]; parameters a, b, c: 30 "
        "entries), loss sum(y(T)²), gradient with respect to y0, a, b and c. "
        "`graphc <policy>`: `gc.scan` under `gc.value_and_grad`, compiled with LLVM, "
        "with `checkpoint=<policy>` (`auto`, the default, is `all` up to 1,024 steps "
        "and `sqrt` beyond, see docs/loops.md); `jax`: `jit(value_and_grad)` of "
        "`lax.scan`; `pytorch`: eager, a Python loop and `autograd.grad`. Ratios are "
        "against `graphc auto`. Reference: graphc's NumPy interpreter up to "
        f"{_pow10(INTERPRETER_MAX_T)} steps"
        + "".join(f", `{refs[T]}` at T = {_pow10(T)}" for T in Ts
                  if refs.get(T) not in (None, "interpreter"))
        + (" (where the interpreter would take about half a minute)."
           if any(refs.get(T) not in (None, "interpreter") for T in Ts) else "."),
        "",
        "| peer | " + " | ".join(f"T = {_pow10(T)}" for T in Ts) + " |",
        "|" + "---|" * (1 + len(Ts)),
    ]
    for p in names:
        cells = []
        for T in Ts:
            row = {r["peer"]: r for r in ode if r["T"] == T}
            cells.append(_cell(row.get(p), row.get("graphc auto")))
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", ("Compile time: graphc's `gc.compile` and first call (trace, AD, LLVM, "
                   "in-memory and on-disk caches emptied) less one timed call, which "
                   "should not grow with T (the loop body is compiled once), and JAX's "
                   "(trace, XLA compile and first call, less one timed call); in "
                   "parentheses the number of `scan` nodes in graphc's gradient graph "
                   "(checkpointing splits the loop into segments of ⌈√T⌉ steps; a T "
                   "that they do not divide adds remainder loops, each compiled too, so "
                   "the compile time follows that count, not T); peak "
                   "`tracemalloc` memory of one graphc gradient call (stored carries and "
                   "workspaces):"), "",
              "| T | " + " | ".join(f"compile {p}" for p in names if p.startswith("graphc"))
              + (" | compile jax" if "jax" in names else "") + " | "
              + " | ".join(f"peak {p}" for p in names if p.startswith("graphc")) + " |",
              "|" + "---|" * (1 + 2 * len([p for p in names if p.startswith("graphc")])
                              + ("jax" in names))]
    for T in Ts:
        row = {r["peer"]: r for r in ode if r["T"] == T}
        g = [p for p in names if p.startswith("graphc")]
        cells = [_fmt_time(max(row[p]["compile_s"] - row[p]["run_s"], 0.0))
                 + f" ({row[p]['scans']})" if p in row else "—" for p in g]
        if "jax" in names:
            cells.append(_fmt_time(max(row["jax"]["first_s"] - row["jax"]["run_s"], 0.0))
                         if "jax" in row else "—")
        cells += [f"{row[p]['peak_bytes'] / 1024:,.0f} KiB" if p in row else "—" for p in g]
        lines.append(f"| {_pow10(T)} | " + " | ".join(cells) + " |")
    diffs = {kind: max((r["diff"] for r in rs if "diff" in r), default=None)
             for kind, rs in (("CNN", cnn), ("ODE", ode))}
    lines += ["", "Largest relative difference from the reference: "
              + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items() if v is not None) + "."]
    loss = {r["T"]: r["loss"] for r in ode if "loss" in r}
    if loss:
        lines += ["", "Loss values: " + ", ".join(f"{loss[T]:.12g} at T = {_pow10(T)}"
                                                 for T in Ts if T in loss) + "."]
    if loads:
        lines += ["", "Load average (1, 5, 15 min) at the worker's start: "
                  + ", ".join(f"{v:.2f}" for v in loads.get("start", ()))
                  + "; at its end: " + ", ".join(f"{v:.2f}" for v in loads.get("end", ()))
                  + ". On a shared machine with other jobs the figures are noisy; "
                  "ratios measured in one run are the figure to read."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="CNN step and ODE-through-a-loop gradient: "
                                 "graphc vs JAX, PyTorch")
    ap.add_argument("--quick", action="store_true",
                    help=f"small sizes (batch {QUICK_BATCHES}, steps {QUICK_STEPS}) "
                    "for a test")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of timing samples per peer and size (default 1.0, "
                    "--quick 0.05)")
    ap.add_argument("--out", default=str(HERE / "LOOPS.md"),
                    help="Markdown file to write ('-' prints the report only)")
    ap.add_argument("--torch-limit", type=float, default=TORCH_LIMIT_S,
                    help="skip PyTorch's ODE gradient at a T where the previous T's time "
                    f"times the step ratio exceeds this many seconds (default {TORCH_LIMIT_S:g})")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    batches, steps = (QUICK_BATCHES, QUICK_STEPS) if args.quick else (BATCHES, STEPS)
    budget = args.budget if args.budget is not None else (0.05 if args.quick else 1.0)
    if args.worker:
        worker(1, batches, steps, args.json, budget, args.torch_limit,
               1 if args.quick else 2)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "results.jsonl")
        subprocess.run([sys.executable, __file__, "--worker", "--json", path,
                        "--budget", str(budget), "--torch-limit", str(args.torch_limit)]
                       + (["--quick"] if args.quick else []),
                       env=_env(1, os.path.join(tmp, "cache")), check=True)
        with open(path) as fh:
            records = [json.loads(line) for line in fh]
    command = "python benchmarks/loops.py" + (" --quick" if args.quick else "") + (
        f" --budget {args.budget:g}" if args.budget is not None else "") + (
        f" --torch-limit {args.torch_limit:g}" if args.torch_limit != TORCH_LIMIT_S else "")
    text = report(records, command)
    if args.out != "-":
        Path(args.out).write_text(text)
    print(text)
    bad = [r for r in records if r["kind"] in ("cnn", "ode") and not r.get("ok", True)]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
