"""Minimize the corpus's optimization test functions with SciPy, using graphc's compiled
gradients and Hessians, and compare with finite-difference gradients.

For each row of ``optim_functions.csv`` (Moré–Garbow–Hillstrom, ``scipy.optimize.rosen``,
SciPy's global-optimization benchmarks) the formula is parsed, compiled once, and
minimized from its standard starting point (``x0``; the centre of the box where the
source gives none) with

* ``BFGS/graphc``     quasi-Newton, exact reverse-mode gradient (``jac=True``);
* ``BFGS/FD``         quasi-Newton, SciPy's 2-point finite-difference gradient;
* ``trust-exact``     Newton trust region with graphc's exact Hessian;
* ``Newton-CG/hessp`` Newton-CG with graphc's Hessian-vector products.

A run *reaches* the published minimum when ``|f - f_min|`` is at most half a unit in the
last digit the source gives for ``f_min`` (at least 1e-8). Starting points are not
always in the global minimum's basin (Freudenstein–Roth, Goldstein–Price, Levy 13 stop
in local minima from them).

Iterations, function evaluations (for FD these include the evaluations spent on the
differences), time and the distance to the published minimum are printed as a table
(or JSON with ``--json``). Compilation happens once per row before timing and is
reported separately.

Run from the repository root::

    python examples/optimize_corpus.py                 # all rows, all methods
    python examples/optimize_corpus.py --ids mgh01_rosenbrock,mgh14_wood --json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from tqdm import tqdm

import graphc as gc

HERE = Path(__file__).resolve().parent
CANDIDATES = [HERE.parent.parent / "shared" / "corpus" / "optim_functions.csv",
              HERE.parent / "graphc" / "data" / "optim_functions.csv"]
METHODS = ("BFGS/graphc", "BFGS/FD", "trust-exact", "Newton-CG/hessp")


def corpus_rows(path: Path | None = None) -> list[dict]:
    """The rows of optim_functions.csv (the shared corpus, else the packaged copy)."""
    path = path or next((p for p in CANDIDATES if p.exists()), None)
    if path is None:
        raise SystemExit("optim_functions.csv not found; pass --corpus PATH")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [r for r in csv.DictReader(fh) if r.get("formula")]


def start_point(row: dict) -> np.ndarray:
    """``x0`` of the row, or the centre of its box."""
    if row.get("x0"):
        return np.array([float(v) for v in row["x0"].split(";")])
    lo = np.array([float(v) for v in row["low"].split(";")])
    hi = np.array([float(v) for v in row["high"].split(";")])
    return (lo + hi) / 2


def published_tolerance(text: str) -> float:
    """Half a unit in the last published digit of ``f_min`` (``124.362`` → 5e-4), at
    least 1e-8: the published minima are rounded to the digits their sources give."""
    mant = text.strip().lstrip("+-").lower().split("e")
    exp10 = int(mant[1]) if len(mant) > 1 else 0
    digits = mant[0]
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return max(1e-8, 0.5 * 10.0 ** (exp10 - decimals))


def run_row(row: dict, methods=METHODS, gtol: float = 1e-8) -> list[dict]:
    """Minimize one row with each method; returns one result dict per method."""
    names = [v for v in row["variables"].split(";") if v]
    graph = gc.parse(row["formula"], inputs=names)
    obj = gc.scipy_objective(graph)
    x0 = start_point(row)
    t0 = time.perf_counter()
    obj.fun(x0), obj.fun_and_grad(x0), obj.hess(x0), obj.hessp(x0, x0)  # compile all
    compile_s = time.perf_counter() - t0
    f_min = float(row["f_min"])
    out = []
    for method in methods:
        cb = obj.callbacks
        cb.nfev = cb.nhev = cb.nhvp = 0
        t = time.perf_counter()
        try:
            res = _minimize(obj, method, x0, gtol)
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. a NaN Hessian at a kink
            out.append({"id": row["id"], "n": len(names), "method": method,
                        "error": f"{type(exc).__name__}: {exc}", "reached": False,
                        "compile_ms": compile_s * 1e3})
            continue
        elapsed = time.perf_counter() - t
        f = float(res.fun)
        err = abs(f - f_min)
        out.append({
            "id": row["id"], "n": len(names), "method": method, "nit": int(res.nit),
            "nfev": int(cb.nfev), "nhev": int(cb.nhev + cb.nhvp), "time_ms": elapsed * 1e3,
            "compile_ms": compile_s * 1e3, "f": f, "f_min": f_min, "abs_err": err,
            "reached": bool(err <= published_tolerance(row["f_min"])), "scipy_success": bool(
                res.success), "x": [float(v) for v in res.x],
        })
    return out


def _minimize(obj, method: str, x0: np.ndarray, gtol: float):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FD steps and line searches near overflow
        if method == "BFGS/graphc":
            res = minimize(obj.fun_and_grad, x0, jac=True, method="BFGS",
                           options={"gtol": gtol, "maxiter": 5000})
        elif method == "BFGS/FD":
            res = minimize(obj.fun, x0, method="BFGS",
                           options={"gtol": gtol, "maxiter": 5000})
        elif method == "trust-exact":
            res = minimize(obj.fun_and_grad, x0, jac=True, hess=obj.hess,
                           method="trust-exact", options={"gtol": gtol, "maxiter": 5000})
        elif method == "Newton-CG/hessp":
            res = minimize(obj.fun_and_grad, x0, jac=True, hessp=obj.hessp,
                           method="Newton-CG", options={"maxiter": 5000})
        else:
            raise SystemExit(f"unknown method {method!r}; methods: {', '.join(METHODS)}")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ids", help="comma-separated row ids (default: all)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated subset of {', '.join(METHODS)}")
    ap.add_argument("--corpus", type=Path, help="path of optim_functions.csv")
    ap.add_argument("--json", action="store_true", help="print JSON lines, no table")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    rows = corpus_rows(args.corpus)
    if args.ids:
        wanted = args.ids.split(",")
        rows = [r for r in rows if r["id"] in wanted]
    methods = tuple(m for m in args.methods.split(",") if m)
    results = []
    for row in tqdm(rows, desc="minimizing", unit="function",
                    disable=args.quiet or args.json, file=sys.stderr):
        results += run_row(row, methods)
    if args.json:
        for r in results:
            print(json.dumps(r))
        return 0
    head = f"{'id':28} {'method':16} {'nit':>5} {'nfev':>6} {'nhev':>5} {'ms':>8} " \
           f"{'f':>12} {'|f-f_min|':>10}  reached"
    print(head)
    print("-" * len(head))
    for r in results:
        if "error" in r:
            print(f"{r['id']:28} {r['method']:16} failed: {r['error'][:60]}")
            continue
        print(f"{r['id']:28} {r['method']:16} {r['nit']:5d} {r['nfev']:6d} {r['nhev']:5d} "
              f"{r['time_ms']:8.2f} {r['f']:12.5g} {r['abs_err']:10.2e}  "
              f"{'yes' if r['reached'] else 'no'}")
    print()
    print(f"{'method':16} {'reached':>8} {'median nfev':>12} {'median ms':>10}")
    for m in methods:
        rs = [r for r in results if r["method"] == m]
        if not rs:
            continue
        ok = [r for r in rs if "error" not in r]
        print(f"{m:16} {sum(r['reached'] for r in rs):4d}/{len(rs):<3d} "
              f"{np.median([r['nfev'] for r in ok]):12.1f} "
              f"{np.median([r['time_ms'] for r in ok]):10.2f}")
    comp = [r["compile_ms"] for r in results[::max(1, len(methods))]]
    if comp:
        print(f"\ncompile (value, value+gradient, Hessian, Hessian-vector) per function: "
              f"median {np.median(comp):.0f} ms, max {max(comp):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
