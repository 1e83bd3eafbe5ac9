"""Benchmark one training step of the Burgers PINN: graphc against JAX and PyTorch (issue 13).

Usage (from the repository root)::

    python benchmarks/pinn.py                          # -> benchmarks/PINN.md
    python benchmarks/pinn.py --sizes 4x16 --out -     # a tiny run, table printed only
    python benchmarks/pinn.py --sizes 64x4096 --threads 2 --busy 2 \
        --out benchmarks/PINN-loaded.md     # two threads beside two busy processes

The step is the loss of ``examples/pinn_burgers.py`` and its gradient with respect to
all six weight arrays (float64): an MLP ``u(x, t)`` 2 -> H -> H -> 1 (tanh), Burgers'
residual ``u_t + u u_x - nu u_xx`` (nu = 0.01/pi) at N collocation points, plus the
misfit at N/4 initial/boundary points. Sizes (H, N) = (32, 2048) and (64, 4096).

Peers:

* ``graphc``: the Python function, ``u_x``, ``u_t``, ``u_xx`` by nested ``gc.jvp``
  (tangent of ones) inside the traced loss, ``gc.value_and_grad(loss, argnums=...)``
  compiled once with LLVM (``pinn_burgers.VALUE_AND_GRAD``).
* ``graphc grad-in-grad``: the same with the derivatives by nested ``gc.grad`` of
  ``sum(u)`` (``pinn_burgers.loss_reverse``).
* ``graphc by hand``: the derivatives of the network written out by hand in
  ``graphc.numpy`` (``pinn_burgers.loss_by_hand``), what a user wrote before
  derivatives could sit inside programs (the "parse-string" era formulation; no parse
  string of this PINN was ever committed).
* ``jax``: ``jax.jit(jax.value_and_grad(loss))`` where ``u_x``, ``u_t``, ``u_xx`` are
  ``jax.grad`` of the scalar network ``u(params, x, t)``, ``jax.vmap``-ped over points.
* ``jax batched jvp``: JAX written as graphc's example is (the network on all points at
  once, ``jax.jvp`` with a tangent of ones), to separate formulation from compiler.
* ``pytorch``: eager ``torch.autograd.grad(sum(u), x, create_graph=True)`` for the
  input derivatives, then ``torch.autograd.grad(loss, weights)``.

Every peer's loss and gradient is checked against graphc's NumPy interpreter (relative
difference <= 1e-9, max-abs over the array scaled by its max-abs) before timing. The
worker runs in a fresh process with every thread pool pinned to one thread
(``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``XLA_FLAGS``,
``torch.set_num_threads``), as benchmarks/tensors.py does; times are the best of
repeated samples; the load average is recorded at the start and end of the worker.
"""

from __future__ import annotations

import argparse
import json
import math
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

from tensors import _env, _fmt_time, _rel, best_time  # noqa: E402

TOLERANCE = 1e-9
SIZES = ((32, 2048), (64, 4096))


# ---------------------------------------------------------------------------------
# the peers: build(params, data) -> step() returning (loss, [gradients in PARAMS order])

def graphc_peers() -> dict:
    """graphc's three formulations, each compiled on first call (LLVM)."""
    import numpy as np
    import graphc as gc
    import pinn_burgers as pb

    def make(vg):

        def build(P, data):
            args = [P[k] for k in pb.PARAMS] + list(data)
            kernel = vg.compile()
            names = kernel.graph.input_names
            bound = dict(zip(list(pb.PARAMS) + ["x", "t", "xd", "td", "ud"], args))
            ordered = [bound[n] for n in names]

            def step():
                v, g = kernel(*ordered)
                return v, [np.asarray(a) for a in g]
            return step
        build.graph = lambda: vg.graph
        return build
    return {"graphc": make(pb.VALUE_AND_GRAD),
            "graphc grad-in-grad": make(pb.VALUE_AND_GRAD_REVERSE),
            "graphc by hand": make(pb.VALUE_AND_GRAD_BY_HAND)}


def reference(P: dict, data) -> tuple:
    """graphc's NumPy interpreter on the jvp formulation: ``(loss, [gradients])``."""
    import pinn_burgers as pb
    v, g = pb.value_and_grad(P, data, target="numpy")
    return v, [g[k] for k in pb.PARAMS]


def jax_peer(threads: int):
    """``jax.jit(jax.value_and_grad)`` with per-point ``jax.grad`` derivatives, vmapped."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    import pinn_burgers as pb

    def u(p, x, t):                                   # one point: scalars x, t
        W1, b1, W2, b2, W3, b3 = p
        h = jnp.tanh(W1[:, 0] * x + W1[:, 1] * t + b1[:, 0])
        h = jnp.tanh(W2 @ h + b2[:, 0])
        return W3 @ h + b3

    def residual(p, x, t):
        u_x = jax.grad(u, argnums=1)
        u_t = jax.grad(u, argnums=2)(p, x, t)
        u_xx = jax.grad(u_x, argnums=1)(p, x, t)
        return u_t + u(p, x, t) * u_x(p, x, t) - pb.NU * u_xx

    def loss(p, x, t, xd, td, ud):
        r = jax.vmap(residual, (None, 0, 0))(p, x, t)
        m = jax.vmap(u, (None, 0, 0))(p, xd, td) - ud
        return jnp.mean(r * r) + jnp.mean(m * m)
    return _jax_build(jax.jit(jax.value_and_grad(loss))), jax.__version__


def _jax_build(vg):
    import jax
    import jax.numpy as jnp
    import pinn_burgers as pb

    def build(P, data):
        p = tuple(jnp.asarray(P[k]) for k in pb.PARAMS)
        d = [jnp.asarray(a) for a in data]

        def step():
            v, g = jax.block_until_ready(vg(p, *d))
            return v, list(g)
        return step
    return build


def jax_batched_peer(threads: int):
    """JAX written like graphc's example: the network on all N points at once, u_x,
    u_t, u_xx by ``jax.jvp`` with a tangent of ones (forward over forward for u_xx)."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    import pinn_burgers as pb

    def net(p, x, t):                                 # x, t: (N,)
        W1, b1, W2, b2, W3, b3 = p
        h = jnp.tanh(W1[:, 0:1] * x + W1[:, 1:2] * t + b1)
        return W3 @ jnp.tanh(W2 @ h + b2) + b3

    def loss(p, x, t, xd, td, ud):
        ones = jnp.ones_like(x)

        def u_ux(x):
            return jax.jvp(lambda x: net(p, x, t), (x,), (ones,))
        uu, u_x = u_ux(x)
        u_xx = jax.jvp(lambda x: u_ux(x)[1], (x,), (ones,))[1]
        u_t = jax.jvp(lambda t: net(p, x, t), (t,), (ones,))[1]
        r = u_t + uu * u_x - pb.NU * u_xx
        m = net(p, xd, td) - ud
        return jnp.mean(r * r) + jnp.mean(m * m)
    return _jax_build(jax.jit(jax.value_and_grad(loss))), jax.__version__


def torch_peer(threads: int):
    """Eager PyTorch: ``autograd.grad(..., create_graph=True)`` for u_x, u_t, u_xx."""
    import torch
    torch.set_num_threads(threads)
    import pinn_burgers as pb

    def net(p, x, t):                                 # x, t: (N,)
        W1, b1, W2, b2, W3, b3 = p
        h = torch.tanh(W1[:, 0:1] * x + W1[:, 1:2] * t + b1)
        h = torch.tanh(W2 @ h + b2)
        return W3 @ h + b3

    def build(P, data):
        p = [torch.tensor(np_asarray(P[k]), requires_grad=True) for k in pb.PARAMS]
        x, t, xd, td, ud = (torch.tensor(a) for a in data)

        def step():
            xs = x.detach().requires_grad_(True)
            ts = t.detach().requires_grad_(True)
            uu = net(p, xs, ts)
            u_x, u_t = torch.autograd.grad(uu.sum(), (xs, ts), create_graph=True)
            u_xx, = torch.autograd.grad(u_x.sum(), xs, create_graph=True)
            r = u_t + uu * u_x - pb.NU * u_xx
            m = net(p, xd, td) - ud
            loss = (r * r).mean() + (m * m).mean()
            return loss.detach(), [g.detach() for g in torch.autograd.grad(loss, p)]
        return step
    return build, torch.__version__


def matmul_madds(graph, H: int, N: int, M: int) -> int:
    """Multiply-adds of the matrix products in ``graph`` at sizes H, N, M (each product
    ``(.., k) @ (k, ..)`` costs its output's size times k)."""
    dims = {"H": H, "N": N, "M": M}

    def size(shape):
        return math.prod(dims[d] if isinstance(d, str) else int(d) for d in shape)
    return sum(size(n.shape) * size(n.args[0].shape[-1:]) for n in graph.nodes
               if n.op == "matmul")


def np_asarray(a):
    import numpy as np
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------------------------
# the worker (one process, one thread)

def median_time(fn, budget: float = 1.0) -> float:
    """Median time of one call over about ``budget`` seconds of calls (at least 9):
    on a loaded machine the typical call, which a best-of hides."""
    fn()
    times, t_end = [], time.perf_counter() + budget
    while len(times) < 9 or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def busy_neighbours(k: int) -> list:
    """``k`` processes that each keep one core busy (a pure-Python spin), as other
    jobs on a shared machine do; kill them when done."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]


def worker(threads: int, sizes, out_path: str, budget: float, busy: int = 0) -> None:
    import numpy as np
    import pinn_burgers as pb
    out = open(out_path, "a")

    def emit(**rec):
        rec["threads"] = threads
        out.write(json.dumps(rec) + "\n")
        out.flush()

    emit(kind="load", when="start", load=os.getloadavg())
    emit(kind="setting", busy=busy)
    peers = {}
    t0 = time.perf_counter()
    peers.update(graphc_peers())
    for name, make in (("jax", jax_peer), ("jax batched jvp", jax_batched_peer),
                       ("pytorch", torch_peer)):
        try:
            build, version = make(threads)
        except ImportError:
            emit(kind="absent", peer=name)
            continue
        peers[name] = build
        if name != "jax batched jvp":
            emit(kind="version", peer=name, version=version)
    for H, N in sizes:
        P = pb.init_params(H, seed=0)
        rng = np.random.default_rng(1)          # weights off the Glorot init's zeros
        P = {k: v + 0.1 * rng.normal(size=np.shape(v)) for k, v in P.items()}
        data = pb.make_data(N, seed=0)
        ref_loss, ref_grads = reference(P, data)
        for name, build in peers.items():
            t0 = time.perf_counter()
            step = build(P, data)
            loss, grads = step()
            first = time.perf_counter() - t0
            diff = max([_rel(float(loss), ref_loss)] + [
                _rel(np.asarray(a, dtype=float).reshape(np.shape(b)), b)
                for a, b in zip(grads, ref_grads)])
            rec = dict(kind="result", H=H, N=N, peer=name, first_s=first, diff=diff,
                       ok=diff <= TOLERANCE,
                       run_s=(median_time if busy else best_time)(step, budget))
            if name.startswith("graphc"):
                rec["nodes"] = len(build.graph().nodes)
                rec["matmul_madds"] = matmul_madds(build.graph(), H, N, len(data[2]))
            emit(**rec)
    emit(kind="load", when="end", load=os.getloadavg())
    out.close()


# ---------------------------------------------------------------------------------
# the report

def report(records: list[dict], command: str) -> str:
    threads = next((r["threads"] for r in records if "threads" in r), 1)
    busy = next((r["busy"] for r in records if r["kind"] == "setting"), 0)
    setting = ("one thread" if threads == 1 else f"{threads} threads per peer (graphc's "
               "pool, OpenBLAS, XLA's Eigen pool, PyTorch's intra-op pool)")
    if busy:
        setting += (f", beside {busy} busy neighbour process(es) each spinning on a core "
                    "(a loaded machine, issue 16 part 4)")
    versions = {r["peer"]: r["version"] for r in records if r["kind"] == "version"}
    absent = sorted({r["peer"] for r in records if r["kind"] == "absent"})
    results = [r for r in records if r["kind"] == "result"]
    peers = []
    for r in results:
        if r["peer"] not in peers:
            peers.append(r["peer"])
    others = [p for p in peers if p != "graphc"]
    loads = {r["when"]: r["load"] for r in records if r["kind"] == "load"}
    lines = [
        "# Burgers PINN training step: graphc vs JAX and PyTorch",
        "",
        f"Generated by `{command}` on {platform.machine()} ({os.cpu_count()} CPUs "
        f"visible), Python {platform.python_version()}"
        + "".join(f", {p} {v}" for p, v in sorted(versions.items()))
        + (f"; absent: {', '.join(absent)}" if absent else "") + ".",
        "",
        "One step: the loss of `examples/pinn_burgers.py` (MLP 2 -> H -> H -> 1, tanh; "
        "Burgers' residual u_t + u u_x - nu u_xx at N collocation points plus the "
        "misfit at N/4 initial/boundary points) and its gradient with respect to all "
        f"weights, float64, {setting}. `graphc`: the Python function with u_x, u_t, "
        "u_xx by nested `gc.jvp`; `graphc grad-in-grad`: by nested `gc.grad` of "
        "sum(u); `graphc by hand`: the network's derivatives written out in "
        "`graphc.numpy`; `jax`: `jit(value_and_grad)` of per-point `jax.grad`, "
        "vmapped; `jax batched jvp`: the same jit with graphc's formulation (batched "
        "network, `jax.jvp` with a tangent of ones); `pytorch`: eager "
        "`autograd.grad(create_graph=True)`.",
        "",
        f"Each cell: {'median' if busy else 'best'} time of one step, and in parentheses peer time / graphc time "
        "(> 1: graphc faster). Every result agreed with graphc's NumPy interpreter to "
        "1e-9 relative unless marked ✗.",
        "",
        "| H | N | graphc | " + " | ".join(others) + " |",
        "|" + "---|" * (3 + len(others)),
    ]
    keys = []
    for r in results:
        if (r["H"], r["N"]) not in keys:
            keys.append((r["H"], r["N"]))
    for H, N in keys:
        row = {r["peer"]: r for r in results if (r["H"], r["N"]) == (H, N)}
        g = row.get("graphc")
        if g is None:
            continue
        cells = [str(H), str(N), _fmt_time(g["run_s"]) + ("" if g["ok"] else " ✗")]
        for p in others:
            r = row.get(p)
            if r is None:
                cells.append("—")
                continue
            cells.append(f"{_fmt_time(r['run_s'])} ({r['run_s'] / g['run_s']:.2f})"
                         + ("" if r["ok"] else " ✗"))
        lines.append("| " + " | ".join(cells) + " |")
    if loads:
        lines += ["", "Load average (1, 5, 15 min) at the worker's start: "
                  + ", ".join(f"{v:.2f}" for v in loads.get("start", ()))
                  + "; at its end: " + ", ".join(f"{v:.2f}" for v in loads.get("end", ()))
                  + ". The machine is a shared 2-core VM with other jobs running: the "
                  "figures are noisy (a busy core can double a time), "
                  + ("medians show the typical step under that load, "
                     if busy else "best-of-samples hides part of that, ")
                  + "ratios measured in one run are the figure to read."]
    lines += ["", "First call (graphc: trace, AD, LLVM compile with a cold on-disk cache, "
              "and run; jax: trace, XLA compile and run; pytorch: one eager step), and "
              "graphc's value_and_grad graph: nodes (multiply-adds in its matrix "
              "products, millions; a dense H x H x N product is H²N):", "",
              "| H | N | " + " | ".join(peers) + " | graphc nodes (jvp / grad-in-grad / "
              "by hand) |", "|" + "---|" * (3 + len(peers))]
    for H, N in keys:
        row = {r["peer"]: r for r in results if (r["H"], r["N"]) == (H, N)}
        nodes = " / ".join(
            f"{row[p]['nodes']} ({row[p]['matmul_madds'] / 1e6:.1f} M)" if p in row else "—"
            for p in ("graphc", "graphc grad-in-grad", "graphc by hand"))
        lines.append(f"| {H} | {N} | " + " | ".join(
            _fmt_time(row[p]["first_s"]) if p in row else "—" for p in peers)
            + f" | {nodes} |")
    return "\n".join(lines) + "\n"


def _size(text: str) -> tuple[int, int]:
    try:
        h, n = text.lower().split("x")
        return int(h), int(n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: write HxN, e.g. 32x2048") \
            from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Burgers PINN step: graphc vs JAX, PyTorch")
    ap.add_argument("--sizes", type=_size, nargs="+", default=list(SIZES),
                    help="HxN pairs (default 32x2048 64x4096)")
    ap.add_argument("--budget", type=float, default=2.0,
                    help="seconds of timing samples per peer and size")
    ap.add_argument("--out", default=str(HERE / "PINN.md"),
                    help="Markdown file to write ('-' prints the table only)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of every peer's pools (default 1)")
    ap.add_argument("--busy", type=int, default=0,
                    help="busy neighbour processes during the run (times: medians)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.threads, args.sizes, args.json, args.budget, args.busy)
        return 0
    sizes = " ".join(f"{h}x{n}" for h, n in args.sizes)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "results.jsonl")
        neighbours = busy_neighbours(args.busy)
        try:
            subprocess.run([sys.executable, __file__, "--worker", "--json", path,
                            "--budget", str(args.budget), "--sizes", *sizes.split(),
                            "--threads", str(args.threads), "--busy", str(args.busy)],
                           env=_env(args.threads, os.path.join(tmp, "cache")), check=True)
        finally:
            for p in neighbours:
                p.kill()
        with open(path) as fh:
            records = [json.loads(line) for line in fh]
    command = "python benchmarks/pinn.py" + (
        "" if [tuple(s) for s in args.sizes] == list(SIZES) else f" --sizes {sizes}") + (
        f" --threads {args.threads}" if args.threads != 1 else "") + (
        f" --busy {args.busy}" if args.busy else "")
    text = report(records, command)
    if args.out != "-":
        Path(args.out).write_text(text)
    print(text)
    bad = [r for r in records if r["kind"] == "result" and not r["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
