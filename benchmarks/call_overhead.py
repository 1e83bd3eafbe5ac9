"""The Python-side cost of calling a compiled kernel (issue 16, part 1).

For Baydin's value and gradient, ``f = ln(x1) + x1*x2 - sin(x2)``,
``df/dx1 = 1/x1 + x2``, ``df/dx2 = x1 - cos(x2)``, at N = 1, 10, 10³ points and for
Python-float inputs, times side by side (min over repeats of the mean of a loop of
calls, ``time.perf_counter_ns``):

(a) ``k(x1, x2)``, the kernel's normal call (fresh output arrays every call);
(b) ``b()`` with ``b = k.bind(x1, x2)``, the pre-bound call;
(c) a bare ``ctypes`` call of the same machine code (the kernel's function pointer,
    ``argtypes`` set, pointer arrays built beforehand);
(d) hand-written C (the same formulas, ``gcc -O3 -march=native``, compiled now into a
    shared library and called through ``ctypes`` with prebuilt arguments);
(e) PyTorch eager (``torch.autograd.grad`` of the same function), if installed.

The issue's budget: (a) at most 1.5 µs + 0.1 µs per argument (inputs and outputs) over
(c). Prints the load average: other jobs on the machine inflate every figure.

    python benchmarks/call_overhead.py [--quick]
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import graphc as gc
from graphc.backends.llvm.jit import KERNEL_CFUNC

SOURCE = "ln(x1) + x1*x2 - sin(x2)"

HAND_C = r"""
#include <math.h>
#include <stdint.h>
void baydin(int64_t n, const double *x1, const double *x2, double *f, double *d1,
            double *d2) {
    for (int64_t i = 0; i < n; i++) {
        double a = x1[i], b = x2[i];
        f[i] = log(a) + a * b - sin(b);
        d1[i] = 1.0 / a + b;
        d2[i] = a - cos(b);
    }
}
"""


def best_ns(fn, calls: int, repeats: int) -> float:
    """Smallest mean time of one call (ns) over ``repeats`` loops of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / calls)
    return best


def hand_c_library(tmp: str):
    """The hand-written C compiled with gcc, or None when gcc is missing or fails."""
    src, lib = os.path.join(tmp, "baydin.c"), os.path.join(tmp, "libbaydin.so")
    with open(src, "w") as fh:
        fh.write(HAND_C)
    try:
        subprocess.run(["gcc", "-O3", "-march=native", "-shared", "-fPIC", src, "-o",
                        lib, "-lm"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    fn = ctypes.CDLL(lib).baydin
    fn.restype = None
    fn.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * 5
    return fn


def bare_ctypes(kernel, pattern, n, ins, outs):
    """A zero-argument callable: the kernel's machine code through ctypes."""
    cm = kernel.specialization(pattern)
    fn = KERNEL_CFUNC(cm.address)
    fn.argtypes = [ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_int64]
    pin = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
    pout = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
    a_in, a_out = ctypes.addressof(pin), ctypes.addressof(pout)

    def call(keep=(pin, pout, ins, outs)):  # keep the pointer arrays alive
        fn(0, n, a_in, a_out, 0)
    return call


def torch_call(x1, x2):
    """PyTorch eager value and gradient, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    t1 = torch.tensor(x1, requires_grad=True)
    t2 = torch.tensor(x2, requires_grad=True)

    def run():
        f = torch.log(t1) + t1 * t2 - torch.sin(t2)
        g = torch.autograd.grad(f, (t1, t2), grad_outputs=torch.ones_like(f))
        return f, g
    return run


def main(argv=None) -> int:
    """Run the comparison and print the table."""
    quick = "--quick" in (argv or sys.argv[1:])
    repeats = 5 if quick else 25
    gc.set_num_threads(1)
    k = gc.compile(gc.value_and_grad(gc.parse(SOURCE)))
    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        hand = hand_c_library(tmp)
        for label, n in (("scalar", None), ("N=1", 1), ("N=10", 10), ("N=10^3", 1000)):
            rng = np.random.default_rng(0)
            m = 1 if n is None else n
            x1 = rng.uniform(0.5, 3.0, m)
            x2 = rng.uniform(-3.0, 3.0, m)
            calls = 2000 if m < 1000 else 500
            if quick:
                calls //= 4
            if n is None:
                a1, a2 = float(x1[0]), float(x2[0])
                normal = lambda: k(a1, a2)  # noqa: E731
                bound = k.bind(a1, a2)
                ins = [np.array(a1), np.array(a2)]
                pattern = (True, True)
            else:
                normal = lambda: k(x1, x2)  # noqa: E731
                bound = k.bind(x1, x2)
                ins = [x1, x2]
                pattern = (m == 1, m == 1)
            # same results through every path
            ref = normal()
            got = bound()
            assert np.array_equal(ref[0], got[0]) and all(
                np.array_equal(r, g) for r, g in zip(ref[1], got[1]))
            outs = [np.empty(m) for _ in range(3)]
            bare = bare_ctypes(k, pattern, m, ins, outs)
            bare()
            assert np.array_equal(outs[0], np.ravel(ref[0]))
            t = {"normal": best_ns(normal, calls, repeats),
                 "bound": best_ns(bound, calls, repeats),
                 "bare": best_ns(bare, calls, repeats)}
            if hand is not None:
                hin = [np.ascontiguousarray(np.ravel(a)) for a in ins]
                hout = [np.empty(m) for _ in range(3)]
                ptrs = [a.ctypes.data for a in hin + hout]
                t["hand C"] = best_ns(lambda: hand(m, *ptrs), calls, repeats)
            tc = torch_call(x1, x2)
            if tc is not None:
                t["torch"] = best_ns(tc, max(50, calls // 4), repeats)
            rows.append((label, t))
    load1 = os.getloadavg()
    budget = 1.5 + 0.1 * 5  # µs: 2 inputs + 3 outputs
    cols = ["normal", "bound", "bare", "hand C", "torch"]
    print(f"Baydin value_and_grad, one thread; load average {load0[0]:.2f} before, "
          f"{load1[0]:.2f} after ({os.cpu_count()} CPUs)")
    print("times in µs (min over repeats); overhead = normal - bare "
          f"(budget {budget:.1f} µs)")
    print(f"{'case':8s}" + "".join(f"{c:>9s}" for c in cols) +
          f"{'overhead':>10s}{'bound-bare':>11s}{'normal/handC':>13s}"
          f"{'torch/normal':>13s}")
    for label, t in rows:
        us = {c: t[c] / 1000 for c in t}
        line = f"{label:8s}" + "".join(
            f"{us[c]:9.2f}" if c in us else f"{'-':>9s}" for c in cols)
        line += f"{us['normal'] - us['bare']:10.2f}{us['bound'] - us['bare']:11.2f}"
        line += f"{us['normal'] / us['hand C']:13.2f}" if "hand C" in us else f"{'-':>13s}"
        line += f"{us['torch'] / us['normal']:13.2f}" if "torch" in us else f"{'-':>13s}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
