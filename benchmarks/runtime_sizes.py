"""Array kernels compiled once for every batch size against once per binding (issue 13).

For each workload, two kernels of the same graph in one process, the disk cache off:

* ``per binding``: ``graphc.backends.llvm.arrays.RUNTIME_SIZES = False`` (the code of
  each batch size specialised, every size a constant);
* ``run-time``: the default (the first size gets its own program of constant sizes;
  the second compiles one program whose sizes are read at run time, reused for every
  later size while its guards hold).

Reported per batch size: the first call (compilation included, the in-memory cache
cleared before it: per binding, every size compiles; run-time, the first two), then the best of repeated calls (steady
state) and its ratio run-time / per binding. Workloads: the MLP step of
``examples/mlp_digits.py`` (value and gradient of a 64-32-10 tanh network with softmax
cross-entropy), Rosenbrock's value and gradient (``x[1:]``, ``x[:-1]``).

Usage::

    python benchmarks/runtime_sizes.py [--out benchmarks/RUNTIME_SIZES.md] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def best_time(fn, budget: float = 0.4) -> float:
    """Best single-call time (s) over repeats filling ``budget`` seconds (at least 5)."""
    fn()
    best, spent, n = float("inf"), 0.0, 0
    while spent < budget or n < 5:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent, n = min(best, dt), spent + dt, n + 1
    return best


def workloads():
    import graphc as gc
    sys.path.insert(0, str(ROOT / "examples"))
    import mlp_digits as mlp

    rng = np.random.default_rng(0)
    P = mlp.init_params()
    vg = gc.value_and_grad(mlp.loss_graph("cross_entropy"), wrt=list(mlp.PARAMS))

    def mlp_args(B):
        X = rng.standard_normal((64, B))
        y = rng.integers(0, 10, B).astype(float)
        return dict(P, X=X, y=y)
    yield "MLP step (64-32-10, B)", vg, mlp_args, [256, 257, 1000, 4096, 4099]

    f = gc.parse("sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)", x=("n",))
    rg = gc.value_and_grad(f, "x")
    yield "Rosenbrock value and gradient (n)", rg, \
        lambda n: {"x": rng.standard_normal(n)}, [10_000, 10_001, 100_003, 1_000_000]


def run(threads: int) -> str:
    import graphc as gc
    from graphc.backends.llvm import arrays
    from graphc.backends.llvm.jit import clear_memory_cache
    lines = []
    for title, graph, make, sizes in workloads():
        kernels = {}
        for mode in ("per binding", "run-time"):
            arrays.RUNTIME_SIZES = mode == "run-time"
            kernels[mode] = gc.compile(graph, cache=False, threads=threads)
        arrays.RUNTIME_SIZES = True
        lines += [f"### {title}", "",
                  "| size | first call, per binding (ms) | first call, run-time (ms) | "
                  "steady, per binding (µs) | steady, run-time (µs) | run-time / per binding |",
                  "|---|---|---|---|---|---|"]
        for n in sizes:
            args = make(n)
            first, steady = {}, {}
            for mode, k in kernels.items():
                arrays.RUNTIME_SIZES = mode == "run-time"
                clear_memory_cache()   # (the kernels keep their own programs)
                t = time.perf_counter()
                k(**args)
                first[mode] = time.perf_counter() - t
                steady[mode] = best_time(lambda: k(**args))
            arrays.RUNTIME_SIZES = True
            a, b = steady["per binding"], steady["run-time"]
            lines.append(f"| {n} | {first['per binding'] * 1e3:.1f} | "
                         f"{first['run-time'] * 1e3:.1f} | {a * 1e6:.1f} | {b * 1e6:.1f} | "
                         f"{b / a:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the Markdown report here")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    head = ["# Array kernels: run-time sizes against one program per binding", "",
            f"`python benchmarks/runtime_sizes.py --threads {args.threads}` on "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load average {load:.2f} at the start, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    text = "\n".join(head) + "\n" + run(args.threads)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
