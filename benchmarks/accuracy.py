"""Measure the accuracy (in ulp) of every elementwise primitive in graphc's LLVM kernels.

    python benchmarks/accuracy.py            # markdown table on stdout

For each primitive, dtype and SIMD level the host supports, the kernel is evaluated on
200 000 points drawn uniformly from the primitive's test domain (``Primitive.domain``)
and, for one-argument functions, on a wide range as well; the error is measured in
units of the last place of the correctly rounded result, against the C library's
long-double functions (NumPy on ``np.longdouble``) for float64 and against NumPy's
float64 functions for float32.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphc as gc  # noqa: E402
from graphc.backends.llvm import jit, vecmath  # noqa: E402
from graphc.ir import PRIMITIVES, Graph, apply, variable  # noqa: E402
from graphc.ir.primitive import elementwise_shape  # noqa: E402

WIDE = {"exp": (-700, 700), "log": (1e-300, 1e300), "sin": (-1e4, 1e4), "cos": (-1e4, 1e4),
        "tan": (-1e4, 1e4), "sinh": (-700, 700), "cosh": (-700, 700), "tanh": (-20, 20),
        "atan": (-1e6, 1e6), "asin": (-1, 1), "acos": (-1, 1), "log1p": (-0.999, 1e6),
        "expm1": (-700, 700), "sigmoid": (-700, 700), "softplus": (-700, 700),
        "sqrt": (1e-300, 1e300)}
WIDE32 = {"exp": (-87, 88), "log": (1e-37, 1e37), "sinh": (-88, 88), "cosh": (-88, 88),
          "expm1": (-87, 88), "sigmoid": (-87, 87), "softplus": (-87, 87),
          "sqrt": (1e-37, 1e37), "log1p": (-0.999, 1e30)}


def ulp_error(prim, dtype, level, low, high, n=200_000, log_scale=False):
    rng = np.random.default_rng(1)
    xs = [variable(f"x{i}", dtype) for i in range(prim.arity)]
    node = apply(prim, *xs)
    k = gc.compile(Graph(xs, [node]), optimize_graph=False, simd=level, cache=False)
    if log_scale:
        args = [np.exp(rng.uniform(np.log(lo), np.log(hi), n)).astype(dtype)
                for lo, hi in zip(low, high)]
    else:
        args = [rng.uniform(lo, hi, n).astype(dtype) for lo, hi in zip(low, high)]
    got = k(*args)
    wide = np.longdouble if dtype == "float64" else np.float64
    with np.errstate(all="ignore"):
        exact = np.asarray(prim.impl(*[a.astype(wide) for a in args], **dict(node.params)),
                           dtype=wide)
        ref = exact.astype(dtype)
        ok = np.isfinite(ref) & (ref != 0)
        err = np.abs(got[ok].astype(wide) - exact[ok]) / \
            np.spacing(np.abs(ref[ok])).astype(wide)
    return float(err.max()) if err.size else 0.0


def main() -> int:
    best = jit.host().best_level
    levels = list(vecmath.LEVELS)[list(vecmath.LEVELS).index(best):]
    prims = [p for p in PRIMITIVES.values()
             if p.shape_rule is elementwise_shape and p.arity and p.name not in
             ("input", "const")]
    cols = [(d, lv) for d in ("float64", "float32") for lv in levels]
    print("| function | domain | " + " | ".join(f"{d} {lv}" for d, lv in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for p in prims:
        rows = [("test", [lo for lo, _ in p.domain], [hi for _, hi in p.domain], False)]
        if p.name in WIDE:
            lo, hi = WIDE[p.name]
            rows.append(("wide", [lo], [hi], p.name in ("log", "sqrt")))
        for label, lo, hi, logs in rows:
            cells = []
            for d, lv in cols:
                lo_d, hi_d = lo, hi
                if d == "float32" and label == "wide" and p.name in WIDE32:
                    lo_d, hi_d = [WIDE32[p.name][0]], [WIDE32[p.name][1]]
                e = ulp_error(p, d, lv, lo_d, hi_d, log_scale=logs)
                cells.append(f"{e:.2f}")
            box = " × ".join(f"[{a:g}, {b:g}]" for a, b in zip(lo, hi))
            print(f"| {p.name} | {box} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
