"""Where the time of a graphc kernel goes: an ablation profile and the loop's
instruction mix.

    python benchmarks/profile_kernel.py mixture     # or baydin, deisenroth, regression

The value-and-gradient kernel of the workload is compiled as graphc compiles it, and in
variants that remove one cost at a time (their results are wrong; only their time
matters): vector-library calls replaced by an addition, every division turned into a
multiplication. The differences say what each costs per point. The instruction mix of
the machine code (stack spills and reloads, calls, divides, FMAs) comes from LLVM's
assembly for the same module.
"""

from __future__ import annotations

import collections
import re
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphc as gc  # noqa: E402
from graphc.backends.llvm import jit  # noqa: E402
from workloads import MAIN  # noqa: E402

N = 20_000  # fits in L2: the arithmetic, not memory bandwidth


def _no_calls(text: str) -> str:
    """Replace each ``call <W x T> @"_ZGV..."(args)`` by an addition of its first
    argument to itself."""
    pat = re.compile(r'call (<\d+ x (?:double|float)>) @"?_ZGV\w+"?\((<\d+ x (?:double|float)>)'
                     r' (%"?[\w.]+"?)(?:, [^)]*)?\)')
    return pat.sub(lambda m: f"fadd {m.group(1)} {m.group(3)}, {m.group(3)}", text)


def _time(cm, xs, outs) -> float:
    best = float("inf")
    for _ in range(15):
        best = min(best, min(timeit.repeat(lambda: cm.run(0, N, xs, outs), number=10,
                                           repeat=3)) / 10)
    return best / N * 1e9


def main(argv=None) -> int:
    name = (argv or sys.argv[1:] or ["mixture"])[0]
    w = next(x for x in MAIN if x.name == name)
    vg = gc.optimize(gc.value_and_grad(gc.parse(w.source, list(w.variables))))
    level = jit.host().best_level
    xs = w.inputs(N)
    outs = [np.empty(N) for _ in vg.outputs]
    pattern = (False,) * len(vg.inputs)

    def build(text):
        obj, _ = jit.compile_ir(text, optimize=False)
        return jit.CompiledModule(obj, True)

    text = jit.kernel_ir(vg, pattern, level)
    saved = jit.CONST_DIV
    jit.CONST_DIV = False
    text_fdiv = jit.kernel_ir(vg, pattern, level)
    jit.CONST_DIV = saved
    variants = {
        "as compiled": text,
        "divisions by constants with vdivpd": text_fdiv,
        "no vector-library calls": _no_calls(text),
        "no divisions at all": text_fdiv.replace(" fdiv ", " fmul "),
        "neither calls nor divisions": _no_calls(text_fdiv.replace(" fdiv ", " fmul ")),
    }
    print(f"{name}: value and gradient, {len(vg)} operations, SIMD level {level}, "
          f"N = {N} (L2-resident), one thread\n")
    print("| variant | ns/point |\n|---|---|")
    for label, t in variants.items():
        print(f"| {label} | {_time(build(t), xs, outs):.2f} |")
    from llvmlite import binding as llvm
    asm = jit.host().tm.emit_assembly(llvm.parse_assembly(text))
    instrs = [ln.split()[0] for ln in asm.splitlines()
              if ln.startswith("\t") and not ln.strip().startswith(".")]
    spills = sum(1 for ln in asm.splitlines() if "(%rsp)" in ln and "mov" in ln)
    mix = collections.Counter(instrs)
    print(f"\nmachine code: {len(instrs)} instructions in the kernel; "
          f"{spills} stack moves (spills and reloads); {mix['callq']} calls; "
          f"{mix['vdivpd'] + mix['vdivps']} vector divides; "
          f"{sum(v for k, v in mix.items() if 'fmadd' in k or 'fnmadd' in k)} FMAs")
    print("most frequent:", ", ".join(f"{k} {v}" for k, v in mix.most_common(10)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
