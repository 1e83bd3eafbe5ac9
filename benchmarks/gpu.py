"""Benchmark graphc's CUDA kernels against PyTorch and JAX on the same GPU, side by side.

Usage (from the repository root, on a machine with an NVIDIA GPU)::

    python benchmarks/gpu.py                       # -> benchmarks/GPU.md
    python benchmarks/gpu.py --out - --sizes 1e6   # print the table only
    python benchmarks/gpu.py --no-torch-compile    # skip Inductor's compile time

Workloads (float64, inputs and outputs resident on the GPU, so no transfers are timed):

* value and full gradient of the batched formulas of ``benchmarks/workloads.py``
  (baydin, deisenroth, regression, mixture) over N points. graphc: the compiled
  ``value_and_grad`` graph, ``gc.compile(vg, target="cuda")``, called on PyTorch CUDA
  tensors (zero-copy through ``__cuda_array_interface__``); PyTorch eager:
  ``torch.autograd.grad`` of the forward expression; ``torch.compile``: the same
  value-and-gradient trace as one function compiled by Inductor (fused Triton kernels);
  JAX: ``jax.jit(jax.vmap(jax.value_and_grad(f)))``.
* one training step of the digits MLP (64-32-10, tanh, softmax cross-entropy): loss and
  the four gradients at batch 4096 and 65536 (graphc's CUDA array kernel; PyTorch eager
  autograd; JAX ``jit(value_and_grad)``).

Every peer's result is first checked against graphc's NumPy interpreter (relative
difference <= 1e-9). Times are the best of repeated samples, each ended by a device
synchronisation; ratios are peer time / graphc time (> 1: graphc is faster).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

TOLERANCE = 1e-9


def _rel(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    return float(np.max(np.abs(a - b))) / scale if a.size else 0.0


def best_time(fn, sync, budget: float = 1.0, min_runs: int = 5) -> float:
    """Best wall time of ``fn(); sync()`` over at least ``min_runs`` runs and about
    ``budget`` seconds."""
    fn()
    sync()
    best, spent, runs = float("inf"), 0.0, 0
    while runs < min_runs or spent < budget:
        t0 = time.perf_counter()
        fn()
        sync()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        runs += 1
        if runs > 10000:
            break
    return best


def _to_numpy(a):
    """A graphc CUDA result (a torch tensor for torch inputs, else a Numba device
    array) as a NumPy array."""
    return a.copy_to_host() if hasattr(a, "copy_to_host") else a.cpu().numpy()


def formula_rows(sizes, use_compile: bool) -> list[dict]:
    import torch
    import graphc as gc
    from peers import _torch_table, _walk, trace_source
    from workloads import MAIN

    rows = []
    sync = torch.cuda.synchronize
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        have_jax = any(d.platform == "gpu" for d in jax.devices())
    except Exception:  # noqa: BLE001 - JAX absent or without a GPU
        have_jax = False
    for w in MAIN:
        f = gc.parse(w.source, inputs=list(w.variables))
        vg = gc.value_and_grad(f)
        t0 = time.perf_counter()
        kernel = gc.compile(vg, target="cuda")
        for n in sizes:
            xs = w.inputs(n)
            ref = gc.evaluate(vg, *[x[:4096] for x in xs])
            ref = [ref[0], *ref[1]]
            ts = [torch.from_numpy(x).cuda() for x in xs]

            def check(outs):
                return max(_rel(np.asarray(o)[:4096], r) for o, r in zip(outs, ref))

            def g_run():
                return kernel(*ts)
            v, gs = g_run()
            sync()
            first = time.perf_counter() - t0
            # torch tensors in, torch tensors out (allocated by torch's caching allocator)
            outs = [_to_numpy(v), *(_to_numpy(g) for g in gs)]
            rec = {"workload": w.name, "n": n, "peer": "graphc (CUDA)", "diff": check(outs),
                   "first_s": first, "run_s": best_time(g_run, sync)}
            rows.append(rec)

            table = _torch_table(torch)
            tr = [t.clone().requires_grad_() for t in ts]

            def t_run():
                y = _walk(f, tr, table, lambda c: c)[0]
                g = torch.autograd.grad(y, tr, grad_outputs=torch.ones_like(y))
                return [y.detach(), *g]
            outs = [o.cpu().numpy() for o in t_run()]
            rows.append({"workload": w.name, "n": n, "peer": "PyTorch eager",
                         "diff": check(outs), "run_s": best_time(t_run, sync)})
            if use_compile:
                scope = {"torch": torch}
                exec(compile(trace_source(vg), "<generated torch trace>", "exec"),  # noqa: S102
                     scope)
                fn = torch.compile(scope["trace"], dynamic=False)
                t1 = time.perf_counter()
                outs = [o.cpu().numpy() for o in fn(*ts)]
                rows.append({"workload": w.name, "n": n, "peer": "torch.compile",
                             "diff": check(outs), "first_s": time.perf_counter() - t1,
                             "run_s": best_time(lambda: fn(*ts), sync)})
            if have_jax:
                from peers import _common
                jt = _common(jnp, jax.nn.sigmoid)

                def scalar_f(*a):
                    return _walk(f, a, jt, lambda c: c)[0]
                jf = jax.jit(jax.vmap(jax.value_and_grad(
                    scalar_f, argnums=tuple(range(len(xs))))))
                jx = [jax.device_put(jnp.asarray(x)) for x in xs]
                t1 = time.perf_counter()
                jv, jg = jax.block_until_ready(jf(*jx))
                outs = [np.asarray(jv), *(np.asarray(g) for g in jg)]
                rows.append({"workload": w.name, "n": n, "peer": "JAX",
                             "diff": check(outs), "first_s": time.perf_counter() - t1,
                             "run_s": best_time(lambda: jax.block_until_ready(jf(*jx)),
                                                lambda: None)})
    return rows


def mlp_rows(batches) -> list[dict]:
    import torch
    import torch.nn.functional as F
    import graphc as gc
    sys.path.insert(0, str(ROOT / "examples"))
    import mlp_digits as mlp

    sync = torch.cuda.synchronize
    rows = []
    g = mlp.loss_graph("cross_entropy")
    vg = gc.value_and_grad(g, wrt=list(mlp.PARAMS))
    kernel = gc.compile(vg, target="cuda")
    names = kernel.graph.input_names
    P = mlp.init_params(0)
    Xall, yall, _, _ = mlp.load_data(0)
    rng = np.random.default_rng(0)
    for B in batches:
        idx = rng.integers(0, Xall.shape[1], B)
        X, y = np.ascontiguousarray(Xall[:, idx]), yall[idx]
        env = dict(P, X=X, y=y.astype(np.float64))
        ref_loss, ref_grads = gc.evaluate(vg, **env)
        ref = [ref_loss, *ref_grads]
        dev = {k: torch.from_numpy(np.ascontiguousarray(v)).cuda() for k, v in env.items()}
        args = [dev[n] for n in names]

        def g_run():
            return kernel(*args)
        loss, grads = g_run()
        outs = [np.asarray(loss.copy_to_host() if hasattr(loss, "copy_to_host") else loss),
                *(np.asarray(x.copy_to_host() if hasattr(x, "copy_to_host") else x)
                  for x in grads)]
        rows.append({"workload": "MLP step", "n": B, "peer": "graphc (CUDA)",
                     "diff": max(_rel(a, b) for a, b in zip(outs, ref)),
                     "run_s": best_time(g_run, sync)})
        tp = [dev[k].clone().requires_grad_() for k in mlp.PARAMS]
        tX, ty = dev["X"], dev["y"].long()

        def t_run():
            W1, b1, W2, b2 = tp
            z = W2 @ torch.tanh(W1 @ tX + b1) + b2
            loss = F.cross_entropy(z.T, ty)
            return [loss.detach(), *torch.autograd.grad(loss, tp)]
        outs = [o.cpu().numpy() for o in t_run()]
        rows.append({"workload": "MLP step", "n": B, "peer": "PyTorch eager",
                     "diff": max(_rel(a, b) for a, b in zip(outs, ref)),
                     "run_s": best_time(t_run, sync)})
        try:
            import jax
            import jax.numpy as jnp
            jax.config.update("jax_enable_x64", True)

            def jloss(W1, b1, W2, b2, X, y):
                z = W2 @ jnp.tanh(W1 @ X + b1) + b2
                ls = jax.nn.log_softmax(z, axis=0)
                return -jnp.mean(jnp.take_along_axis(ls, y[None, :], axis=0))
            jvg = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1, 2, 3)))
            ja = [jnp.asarray(P[k]) for k in mlp.PARAMS] + [jnp.asarray(X),
                                                            jnp.asarray(y.astype(np.int64))]
            jl, jg = jax.block_until_ready(jvg(*ja))
            outs = [np.asarray(jl), *(np.asarray(x) for x in jg)]
            rows.append({"workload": "MLP step", "n": B, "peer": "JAX",
                         "diff": max(_rel(a, b) for a, b in zip(outs, ref)),
                         "run_s": best_time(lambda: jax.block_until_ready(jvg(*ja)),
                                            lambda: None)})
        except Exception as exc:  # noqa: BLE001 - report, do not stop the run
            rows.append({"workload": "MLP step", "n": B, "peer": "JAX",
                         "error": f"{type(exc).__name__}: {exc}"[:120]})
    return rows


def _fmt_time(s) -> str:
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _fmt_n(n: int) -> str:
    e = round(np.log10(n))
    return f"10^{e}" if 10 ** e == n else str(n)


def report(rows: list[dict], command: str, seconds: float) -> str:
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001
        gpu = "?"
    import torch
    versions = [f"torch {torch.__version__}"]
    try:
        import jax
        versions.append(f"jax {jax.__version__}")
    except ImportError:
        pass
    import numba
    versions.append(f"numba {numba.__version__}")
    lines = [
        "# graphc on the GPU, side by side with PyTorch and JAX",
        "",
        f"Generated by `{command}` on {datetime.date.today()} in {seconds:.0f} s.",
        f"GPU: {gpu}; host: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {', '.join(versions)}.",
        "float64, inputs resident on the GPU; best of repeated runs, each ended by a "
        "device synchronisation; ratio = peer time / graphc time (> 1: graphc faster). "
        "Every result was checked against graphc's NumPy interpreter (max relative "
        f"difference in the column 'diff', limit {TOLERANCE:g}).",
        "",
        "| workload | N | peer | time | ratio | diff | first call |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {(r["workload"], r["n"]): r["run_s"] for r in rows
            if r.get("peer") == "graphc (CUDA)" and "run_s" in r}
    for r in rows:
        key = (r["workload"], r["n"])
        if "error" in r:
            lines.append(f"| {r['workload']} | {_fmt_n(r['n'])} | {r['peer']} | "
                         f"error: {r['error']} | | | |")
            continue
        ratio = r["run_s"] / base[key] if key in base else float("nan")
        ok = "" if r["diff"] <= TOLERANCE else " **(wrong)**"
        lines.append(f"| {r['workload']} | {_fmt_n(r['n'])} | {r['peer']} | "
                     f"{_fmt_time(r['run_s'])} | {ratio:.2f} | {r['diff']:.1e}{ok} | "
                     f"{_fmt_time(r.get('first_s'))} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7",
                    help="comma-separated N for the formulas (default 1e6,1e7)")
    ap.add_argument("--batches", default="4096,65536",
                    help="comma-separated MLP batch sizes (default 4096,65536)")
    ap.add_argument("--no-torch-compile", action="store_true",
                    help="skip torch.compile (its Inductor compile takes ~10 s a workload)")
    ap.add_argument("--out", default=str(HERE / "GPU.md"),
                    help="where to write the table ('-' prints it)")
    args = ap.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    batches = [int(float(s)) for s in args.batches.split(",") if s]
    import torch
    if not torch.cuda.is_available():
        print("benchmarks/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = formula_rows(sizes, not args.no_torch_compile) + mlp_rows(batches)
    text = report(rows, "python benchmarks/gpu.py " + " ".join(argv or sys.argv[1:]),
                  time.perf_counter() - t0)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
