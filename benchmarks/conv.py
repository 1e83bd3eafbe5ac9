"""Convolution lowerings by shape: graphc's direct loop nest vs im2col + BLAS, with PyTorch
and JAX beside them (issue 14, part 5: "lowered as loop nests or im2col + BLAS,
whichever is faster for the shape").

Usage (from the repository root)::

    python benchmarks/conv.py                   # -> benchmarks/CONV.md
    python benchmarks/conv.py --quick --out -   # fewer shapes, table printed only

For each shape (PyTorch's layout: input ``N, C, *spatial``, weight ``O, C/G, *kernel``;
``same`` padding for odd kernels), float64, every peer on one thread:

* **forward**: ``y = conv(x, w)``;
* **gradient**: the value and both gradients, ``(y, x̄, w̄) = vjp(conv)(x, w, ȳ)``
  (graphc's reverse mode: a transposed convolution for ``x̄``, a batch-swapped one for
  ``w̄``; each of those picks its own lowering by its own shape).

graphc columns: ``direct`` (every convolution forced to the direct loop nest),
``im2col`` (every one forced to im2col + matmul) and ``auto`` (graphc's rule,
:func:`graphc.ir.conv_ops.direct_conv`, which the table checks: its time should be
the better of the two where the rule's choice is the same for all the convolutions
involved). ``pytorch``: ``torch.nn.functional.conv*d`` and ``torch.autograd.grad``
(eager); ``jax``: ``jit`` of ``lax.conv_general_dilated`` and of its ``vjp``.
Every result is checked against PyTorch's to 1e-9 relative before timing. Ratios are
peer / auto (> 1: graphc's choice faster). Prints the load average before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("GRAPHC_NUM_THREADS", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from tensors import best_time  # noqa: E402

TOLERANCE = 1e-9

# (x shape, w shape, groups): first layers (few input channels), middle layers,
# depthwise, 1-D and 3-D
SHAPES = [
    ((32, 1, 8, 8), (8, 1, 3, 3), 1),
    ((256, 1, 8, 8), (8, 1, 3, 3), 1),
    ((256, 8, 4, 4), (16, 8, 3, 3), 1),
    ((64, 3, 32, 32), (16, 3, 3, 3), 1),
    ((64, 4, 16, 16), (16, 4, 3, 3), 1),
    ((32, 8, 16, 16), (16, 8, 3, 3), 1),
    ((16, 32, 16, 16), (32, 32, 3, 3), 1),
    ((8, 3, 32, 32), (16, 3, 5, 5), 1),
    ((64, 16, 16, 16), (16, 1, 3, 3), 16),
    ((64, 4, 256), (16, 4, 3), 1),
    ((64, 16, 256), (32, 16, 3), 1),
    ((8, 2, 8, 8, 8), (8, 2, 3, 3, 3), 1),
]
QUICK = [SHAPES[0], SHAPES[4], SHAPES[6], SHAPES[8]]


def _conv_graph(xs, ws, groups, grad: bool):
    import graphc as gc
    from graphc.ir import conv_ops as C
    from graphc.ir import ops
    X = ops.variable("x", shape=xs)
    W = ops.variable("w", shape=ws)
    pad = tuple(k // 2 for k in ws[2:])
    g = gc.Graph([X, W], [C.conv(X, W, padding=pad, groups=groups)])
    return gc.vjp(g) if grad else g


def graphc_call(xs, ws, groups, grad: bool, mode: str, args):
    """A no-argument call of graphc's kernel with every convolution lowered by
    ``mode`` (``direct``, ``im2col`` or ``auto``), compiled now; also its result."""
    import graphc as gc
    from graphc.ir import conv_ops as C
    saved = C.DIRECT_TERMS, C.DIRECT_TERMS_GROUPED
    if mode != "auto":
        big = 10 ** 9 if mode == "direct" else 0
        C.DIRECT_TERMS, C.DIRECT_TERMS_GROUPED = big, big
    try:
        gc.clear_cache()
        kernel = gc.compile(_conv_graph(xs, ws, groups, grad))
        result = kernel(*args)
    finally:
        C.DIRECT_TERMS, C.DIRECT_TERMS_GROUPED = saved
    if grad:
        y, (gx, gw) = result
        result = (y, gx, gw)
    else:
        result = (result,)
    return (lambda: kernel(*args)), [np.asarray(r) for r in result]


def torch_call(xs, ws, groups, grad: bool, x, w, ybar):
    import torch
    torch.set_num_threads(1)
    fn = {3: torch.nn.functional.conv1d, 4: torch.nn.functional.conv2d,
          5: torch.nn.functional.conv3d}[len(xs)]
    pad = tuple(k // 2 for k in ws[2:])
    xt, wt, bt = torch.tensor(x), torch.tensor(w), torch.tensor(ybar)
    if not grad:
        def call():
            with torch.no_grad():
                return fn(xt, wt, padding=pad, groups=groups)
        return call, [call().numpy()]
    xt.requires_grad_(True)
    wt.requires_grad_(True)

    def call():
        y = fn(xt, wt, padding=pad, groups=groups)
        gx, gw = torch.autograd.grad(y, (xt, wt), bt)
        return y, gx, gw
    return call, [t.detach().numpy() for t in call()]


def jax_call(xs, ws, groups, grad: bool, x, w, ybar):
    import jax
    jax.config.update("jax_enable_x64", True)
    from jax import lax
    nd = len(xs) - 2
    pad = [(k // 2, k // 2) for k in ws[2:]]
    spatial = "DHW"[-nd:]
    dn = ("NC" + spatial, "OI" + spatial, "NC" + spatial)

    def conv(a, b):
        return lax.conv_general_dilated(a, b, (1,) * nd, pad, dimension_numbers=dn,
                                        feature_group_count=groups)
    if not grad:
        f = jax.jit(conv)

        def call():
            return f(x, w).block_until_ready()
        return call, [np.asarray(call())]

    @jax.jit
    def vg(a, b, g):
        y, back = jax.vjp(conv, a, b)
        return (y,) + back(g)

    def call():
        out = vg(x, w, ybar)
        out[0].block_until_ready()
        return out
    return call, [np.asarray(t) for t in call()]


def _agree(got, want) -> float:
    worst = 0.0
    for g, r in zip(got, want):
        scale = max(float(np.max(np.abs(r), initial=0.0)), 1.0)
        worst = max(worst, float(np.max(np.abs(np.asarray(g) - r), initial=0.0)) / scale)
    return worst


def measure(shapes, budget: float) -> list[dict]:
    from graphc.ir.conv_ops import direct_conv
    rows = []
    rng = np.random.default_rng(0)
    for xs, ws, groups in shapes:
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        ybar = rng.standard_normal((xs[0], ws[0]) + tuple(xs[2:]))
        for grad in (False, True):
            args = (x, w, ybar) if grad else (x, w)
            row = {"x": xs, "w": ws, "groups": groups, "grad": grad,
                   "rule": "direct" if direct_conv(xs[1], ws[0], ws[2:], groups) else "im2col",
                   "times": {}, "bad": {}}
            calls = {}
            call, ref = torch_call(xs, ws, groups, grad, x, w, ybar)
            calls["pytorch"] = call
            for mode in ("direct", "im2col", "auto"):
                calls[mode], got = graphc_call(xs, ws, groups, grad, mode, args)
                row["bad"][mode] = _agree(got, ref)
            try:
                calls["jax"], got = jax_call(xs, ws, groups, grad, x, w, ybar)
                row["bad"]["jax"] = _agree(got, ref)
            except ImportError:
                pass
            for name, call in calls.items():
                row["times"][name] = best_time(call, budget)
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _fmt(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} µs"


def _line(row) -> str:
    t = row["times"]
    auto = t["auto"]
    cells = []
    for name in ("direct", "im2col", "auto", "pytorch", "jax"):
        if name not in t:
            cells.append("—")
            continue
        mark = " ✗" if row["bad"].get(name, 0.0) > TOLERANCE else ""
        ratio = "" if name == "auto" else f" ({t[name] / auto:.2f})"
        cells.append(_fmt(t[name]) + ratio + mark)
    what = "value + gradients" if row["grad"] else "forward"
    terms = row["w"][1] * math.prod(row["w"][2:])
    return (f"| {row['x']} | {row['w']} | {row['groups']} | {terms} | {what} | "
            f"{row['rule']} | " + " | ".join(cells) + " |")


def report(rows, command: str, loads) -> str:
    import graphc
    versions = [f"graphc {graphc.__version__}", f"NumPy {np.__version__}"]
    for mod in ("torch", "jax"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    lines = [
        "# Convolutions: direct loop nest vs im2col + BLAS, with PyTorch and JAX",
        "",
        f"Generated by `{command}` on {platform.machine()} ({os.cpu_count()} CPUs "
        f"visible), Python {platform.python_version()}, {', '.join(versions)}; load "
        f"average {loads[0]} before, {loads[1]} after. float64, every peer on one thread, "
        "same padding. Each cell: the best time of one call and, in parentheses, its "
        "time / graphc `auto` (> 1: graphc's choice faster). `direct` and `im2col`: "
        "graphc with every convolution forced to that lowering; `auto`: graphc's rule "
        "(`graphc.ir.conv_ops.direct_conv`: direct up to "
        "`DIRECT_TERMS` terms per output, up to `DIRECT_TERMS_GROUPED` when grouped or "
        "with at most `DIRECT_FEW_OUT` output channels per group); `rule`: "
        "its choice for the forward convolution (the gradient's transposed and "
        "batch-swapped convolutions choose by their own shapes). `terms`: input "
        "channels per group × kernel taps. Every result agreed with PyTorch's to 1e-9 "
        "relative unless marked ✗.",
        "",
        "| x | w | groups | terms | computes | rule | direct | im2col | auto | pytorch | jax |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_line(r) for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="four shapes, short timings")
    ap.add_argument("--out", default=str(HERE / "CONV.md"),
                    help="where to write the table ('-': print only)")
    args = ap.parse_args(argv)
    command = "python benchmarks/conv.py" + (" --quick" if args.quick else "")
    before = os.getloadavg()[0]
    rows = measure(QUICK if args.quick else SHAPES, 0.2 if args.quick else 1.0)
    after = os.getloadavg()[0]
    text = report(rows, command, (f"{before:.2f}", f"{after:.2f}"))
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
