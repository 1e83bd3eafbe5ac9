"""Benchmark graphc's LLVM kernels against its peers, side by side (issue 4).

Usage (from the repository root)::

    python benchmarks/run.py                          # main workloads, N = 1e3 and 1e6,
                                                      # 1 and 2 threads -> RESULTS.md
    python benchmarks/run.py --workloads feynman      # every Feynman formula
                                                      # -> RESULTS-feynman.md
    python benchmarks/run.py --peers graphc numpy jax --n 1000 --threads 1 --out -
    python benchmarks/run.py --peers graphc C C-ffast-math --n 1000000 --threads 1

The hand-written C peers (``C``, ``C-ffast-math``: benchmarks/cpeers, gcc at benchmark
time) are a reference, not a framework: the main table shows graphc's ratio to them
beside its ratio to the fastest framework.

Every measurement is value and gradient (with respect to all inputs) over N points of
float64 inputs. For each thread count the measurements run in a fresh worker process
whose environment pins every library's thread pool (``GRAPHC_NUM_THREADS``,
``OMP_NUM_THREADS``, ``NUMBA_NUM_THREADS``, ``XLA_FLAGS``...), with graphc's on-disk
cache pointed at an empty directory so its compile times are cold. Times are the best
of k runs (the machine is a noisy 2-core VM): ``compile`` is the time from the graph
(or expression) to the first result, ``run`` the best call. Each peer's first result is
checked against graphc's NumPy interpreter (scale-aware relative difference <= 1e-9);
a peer that disagrees is marked and left out of the "fastest peer". Peers that are not
installed (``pip install .[bench]``) are reported absent.
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
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

TOLERANCE = 1e-9


def _env_for(threads: int, cache_dir: str) -> dict:
    env = dict(os.environ)
    t = str(threads)
    env.update({
        "GRAPHC_NUM_THREADS": t, "OMP_NUM_THREADS": t, "MKL_NUM_THREADS": t,
        "OPENBLAS_NUM_THREADS": t, "NUMBA_NUM_THREADS": t, "GRAPHC_CACHE_DIR": cache_dir,
        "XLA_FLAGS": (f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
                      f"intra_op_parallelism_threads={t}"),
        "PYTHONPATH": str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", ""),
        "TORCHINDUCTOR_CACHE_DIR": str(Path(cache_dir) / "inductor"),
        "JAX_PLATFORMS": "cpu", "OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0",
    })
    return env


def _time_best(fn, n: int, budget: float) -> float:
    """Best time of one call, from repeated samples within ``budget`` seconds."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    inner = max(1, int(0.01 / max(one, 1e-7))) if n < 100_000 else 1
    samples = max(3, min(30, int(budget / max(one * inner, 1e-7))))
    best = math.inf
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def worker(args) -> None:
    """Measure every (workload, N, peer) for one thread count; write JSON lines."""
    import numpy as np
    import graphc as gc
    from graphc.corpus import scale_aware_rel_diff
    from peers import PEERS, Unsupported, timed_build  # noqa: F401
    from workloads import MAIN, feynman

    # imports and one-time initialisation are not compile time, for any peer
    from graphc.backends.llvm import jit
    jit.host()
    jit.python_trampoline_setup()
    wanted = [p for p in PEERS if p.name in args.peers]
    absent = {}
    for p in wanted:
        why = p.available()
        if why:
            absent[p.name] = why
    workloads = (MAIN if args.workloads in ("main", "all") else []) + \
        (feynman() if args.workloads in ("feynman", "all") else [])
    if args.only:
        workloads = [w for w in workloads if w.name in args.only or
                     w.name.split()[-1] in args.only]
    out = open(args.json, "a")

    def emit(**rec):
        rec["threads"] = args.threads
        out.write(json.dumps(rec) + "\n")
        out.flush()

    for name, why in absent.items():
        emit(kind="absent", peer=name, reason=why)
    for p in wanted:
        if p.name not in absent:
            emit(kind="version", peer=p.name, version=p.version())
    for w in workloads:
        try:
            f = gc.parse(w.source, list(w.variables))
            vg = gc.optimize(gc.value_and_grad(f))
        except gc.GraphcError as exc:
            emit(kind="skip", workload=w.name, reason=str(exc))
            continue
        data = {n: w.inputs(n) for n in args.n}
        refs = {}
        for n, xs in data.items():
            r = gc.evaluate(vg, *xs)
            refs[n] = [r[0], *r[1]]
        # build every peer once (compile time: graph to first result at the first N)
        built, recs = {}, {}
        for p in wanted:
            if p.name in absent:
                continue
            for n in args.n:
                recs[p.name, n] = dict(kind="result", workload=w.name, group=w.group, n=n,
                                       peer=p.name, ops=len(f), vg_ops=len(vg))
            if hasattr(p, "workload"):  # the hand-written C peers pick their source
                p.workload = w.name
            try:
                prepared = {n: p.prepare(xs) for n, xs in data.items()}
                run, flat, compile_s, first = timed_build(p, f, vg, prepared[args.n[0]],
                                                          args.n[0], args.threads)
                built[p.name] = (run, prepared)
                for n in args.n:
                    got = flat(first if n == args.n[0] else run(prepared[n]))
                    diff = max(scale_aware_rel_diff(np.asarray(g, dtype=float), rr)
                               for g, rr in zip(got, refs[n]))
                    recs[p.name, n].update(
                        compile_s=compile_s, diff=diff,
                        ok=bool(diff <= TOLERANCE) if not math.isnan(diff) else False)
            except Unsupported as exc:
                for n in args.n:
                    recs[p.name, n].update(status="unsupported", reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - a failing peer is reported
                for n in args.n:
                    recs[p.name, n].update(status="error",
                                           reason=f"{type(exc).__name__}: {exc}"[:200])
        # time them in interleaved rounds, so that noise from the other tenants of the
        # machine (and thread pools of other peers winding down) spreads over all peers
        for n in args.n:
            for _ in range(args.rounds):
                for name, (run, prepared) in built.items():
                    try:
                        t = _time_best(lambda: run(prepared[n]), n,
                                       args.budget / args.rounds)
                    except Exception as exc:  # noqa: BLE001
                        recs[name, n].update(status="error", reason=str(exc)[:200])
                        continue
                    rec = recs[name, n]
                    rec["run_s"] = min(rec.get("run_s", math.inf), t)
            for name in [p.name for p in wanted if p.name not in absent]:
                emit(**recs[name, n])
    out.close()


def cache_probe(args) -> None:
    """Compile the main workloads' value-and-gradient kernels (N = 1000 first call) and
    report where each came from and how long it took, plus a second, in-memory compile."""
    import graphc as gc
    from graphc.backends.llvm import jit
    from workloads import MAIN
    t0 = time.perf_counter()
    jit.host()
    jit.python_trampoline_setup()
    init = time.perf_counter() - t0
    recs = []
    for w in MAIN:
        f = gc.parse(w.source, list(w.variables))
        vg = gc.optimize(gc.value_and_grad(f))
        xs = w.inputs(1000)
        t0 = time.perf_counter()
        k = gc.compile(vg, optimize_graph=False)
        k(*xs)
        first = time.perf_counter() - t0
        src = k.specialization((False,) * len(vg.inputs)).source
        t0 = time.perf_counter()
        k2 = gc.compile(vg, optimize_graph=False)
        k2(*xs)
        again = time.perf_counter() - t0
        t0 = time.perf_counter()
        gc.optimize(gc.value_and_grad(gc.parse(w.source, list(w.variables))))
        graph_s = time.perf_counter() - t0
        recs.append(dict(workload=w.name, source=src, first_s=first, memory_s=again,
                         graph_s=graph_s, vg_ops=len(vg)))
    with open(args.json, "a") as fh:
        fh.write(json.dumps(dict(kind="cache", init_s=init, records=recs,
                                 label=args.label)) + "\n")


FRESH = """
import json, sys, time
t0 = time.perf_counter()
import graphc as gc
t1 = time.perf_counter()
from graphc.backends.llvm import jit
jit.host()
t2 = time.perf_counter()
k = gc.compile(gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)")))
k(2.0, 5.0)
t3 = time.perf_counter()
print(json.dumps(dict(kind="fresh", label=sys.argv[1], import_s=t1 - t0,
                      backend_s=t2 - t1, to_result_s=t3 - t2,
                      source=k.specialization((True, True)).source)))
"""
"""A new interpreter: ``import graphc``, the LLVM backend's first use (llvmlite and the
backend's modules, LLVM initialisation), then compile + first call of Baydin's value
and gradient."""


# ---------------------------------------------------------------------------------
# report

def _fmt_time(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def _fmt_n(n: int) -> str:
    e = int(round(math.log10(n)))
    return f"10^{e}" if 10 ** e == n else str(n)


def _load() -> str:
    """The 1/5/15-minute load averages (``os.getloadavg``), or "?" where unknown."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def report(records: list[dict], args, command: str, seconds: float,
           load: tuple[str, str] = ("?", "?")) -> str:
    import numpy as np
    from peers import C_PEERS
    res = [r for r in records if r.get("kind") == "result"]
    absent = sorted({(r["peer"], r["reason"]) for r in records if r.get("kind") == "absent"})
    versions = sorted({(r["peer"], r["version"]) for r in records
                       if r.get("kind") == "version"})
    lines = ["# graphc benchmark results", "",
             f"Produced by `{command}` in {seconds / 60:.1f} min on {platform.node() or 'this'} "
             f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
             f"Python {platform.python_version()}; load average 1/5/15 min "
             f"{load[0]} at the start, {load[1]} at the end).", "",
             "Value and gradient (all inputs) of each expression over N float64 points; "
             "times are best-of-k, `compile` is graph to first result (cold caches), "
             "`ratio` is graphc's time over the fastest *correct* framework's (below 1: "
             "graphc is faster); `ratio to C` is graphc's time over hand-written C's "
             "(benchmarks/cpeers, gcc -O3 -march=native, compiled at benchmark time; "
             "`-ffast-math` the same with that flag; OpenMP for 2 threads). Peers: " + ", ".join(f"{p} {v}" for p, v in versions) + ".", ""]
    if absent:
        lines += ["Absent peers: " + "; ".join(f"{p} ({why})" for p, why in absent) + ".", ""]
    key = lambda r: (r["workload"], r["n"], r["threads"])  # noqa: E731
    groups: dict = {}
    for r in res:
        groups.setdefault(key(r), []).append(r)

    def fastest_peer(rows):
        ok = [r for r in rows if r["peer"] != "graphc" and r["peer"] not in C_PEERS
              and r.get("ok") and r.get("run_s")]
        return min(ok, key=lambda r: r["run_s"]) if ok else None

    main = [k for k in groups if groups[k][0]["group"] == "main"]
    if main:
        lines += ["## Main workloads", "",
                  "| workload | N | threads | graphc | ns/point | fastest framework | ratio | "
                  "C | ratio to C | C -ffast-math | ratio to C -ffast-math | graphc compile |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for k in sorted(main, key=lambda k: (_order(k[0]), k[1], k[2])):
            rows = groups[k]
            g = next((r for r in rows if r["peer"] == "graphc"), None)
            fp = fastest_peer(rows)
            gt = g.get("run_s") if g else None
            ratio = f"{gt / fp['run_s']:.2f}" if g and gt and fp else "—"
            c_cells = []
            for cname in C_PEERS:
                c = next((r for r in rows if r["peer"] == cname and r.get("run_s")), None)
                ct = c["run_s"] if c else None
                mark = "" if c is None or c.get("ok") else " ✗"
                c_cells += [_fmt_time(ct) + mark,
                            f"**{gt / ct:.2f}**" if gt and ct else "—"]
            lines.append(
                f"| {k[0]} | {_fmt_n(k[1])} | {k[2]} | {_fmt_time(gt)} | "
                f"{(gt / k[1] * 1e9 if gt else math.nan):.2f} | "
                f"{fp['peer'] + ' ' + _fmt_time(fp['run_s']) if fp else '—'} | **{ratio}** | "
                + " | ".join(c_cells) + " | "
                f"{_fmt_time(g.get('compile_s') if g else None)} |")
        lines += ["", "### Every peer (run time / compile time; ✗ = wrong result)", ""]
        peers_seen = [p for p in args.peers if any(r["peer"] == p for r in res)]
        lines += ["| workload | N | thr | " + " | ".join(peers_seen) + " |",
                  "|---|---|---|" + "---|" * len(peers_seen)]
        for k in sorted(main, key=lambda k: (_order(k[0]), k[1], k[2])):
            cells = []
            for p in peers_seen:
                r = next((r for r in groups[k] if r["peer"] == p), None)
                if r is None:
                    cells.append("—")
                elif "run_s" not in r:
                    cells.append(r.get("status", "error"))
                else:
                    mark = "" if r.get("ok") else " ✗"
                    cells.append(f"{_fmt_time(r['run_s'])} / {_fmt_time(r['compile_s'])}{mark}")
            lines.append(f"| {k[0]} | {_fmt_n(k[1])} | {k[2]} | " + " | ".join(cells) + " |")
        # thread scaling
        ths = sorted({k[2] for k in main})
        if len(ths) > 1:
            lines += ["", "### Thread scaling (graphc, N = 10^6)", "",
                      "| workload | " + " | ".join(f"{t} threads" for t in ths) +
                      " | speedup |", "|---|" + "---|" * (len(ths) + 1)]
            for w in sorted({k[0] for k in main}, key=_order):
                ts = []
                for t in ths:
                    g = next((r for r in groups.get((w, 10 ** 6, t), [])
                              if r["peer"] == "graphc"), None)
                    ts.append(g.get("run_s") if g else None)
                sp = f"{ts[0] / ts[-1]:.2f}×" if all(ts) else "—"
                lines.append(f"| {w} | " + " | ".join(_fmt_time(t) for t in ts) +
                             f" | {sp} |")
    feyn = [k for k in groups if groups[k][0]["group"] == "feynman"]
    if feyn:
        lines += ["", "## Feynman corpus", ""]
        combos = sorted({(k[1], k[2]) for k in feyn})
        lines += ["| N | threads | formulas | graphc fastest | geo-mean ratio | worst ratio "
                  "(formula) | peers wrong |", "|---|---|---|---|---|---|---|"]
        for n, t in combos:
            ratios = []
            wrong = {}
            for k in feyn:
                if k[1:] != (n, t):
                    continue
                rows = groups[k]
                for r in rows:
                    if r["peer"] != "graphc" and "run_s" in r and not r.get("ok"):
                        wrong[r["peer"]] = wrong.get(r["peer"], 0) + 1
                g = next((r for r in rows if r["peer"] == "graphc" and r.get("run_s")), None)
                fp = fastest_peer(rows)
                if g and fp:
                    ratios.append((g["run_s"] / fp["run_s"], k[0]))
            if not ratios:
                continue
            rs = np.array([r for r, _ in ratios])
            worst = max(ratios)
            lines.append(f"| {_fmt_n(n)} | {t} | {len(rs)} | {int((rs < 1).sum())} | "
                         f"{float(np.exp(np.log(rs).mean())):.2f} | {worst[0]:.2f} "
                         f"({worst[1].replace('feynman ', '')}) | "
                         f"{', '.join(f'{p}: {c}' for p, c in sorted(wrong.items())) or '0'} |")
        lines += ["", "<details><summary>Per formula: graphc time and ratio to the fastest "
                  "peer</summary>", "",
                  "| formula | " + " | ".join(f"N={_fmt_n(n)}, {t} thr" for n, t in combos)
                  + " |", "|---|" + "---|" * len(combos)]
        for w in sorted({k[0] for k in feyn}, key=_feyn_order):
            cells = []
            for n, t in combos:
                rows = groups.get((w, n, t), [])
                g = next((r for r in rows if r["peer"] == "graphc" and r.get("run_s")), None)
                fp = fastest_peer(rows)
                cells.append(f"{_fmt_time(g['run_s'])} ({g['run_s'] / fp['run_s']:.2f}, "
                             f"{fp['peer']})" if g and fp else "—")
            lines.append(f"| {w.replace('feynman ', '')} | " + " | ".join(cells) + " |")
        lines += ["", "</details>"]
    caches = [r for r in records if r.get("kind") == "cache"]
    fresh = [r for r in records if r.get("kind") == "fresh"]
    if caches:
        lines += ["", "## Compile latency (graphc)", "",
                  "Value-and-gradient kernel of each workload, compiled and called once on "
                  "10^3 points: `cold` in a process with an empty disk cache, `disk` in a new "
                  "process that finds it in the disk cache, `memory` compiling the same graph "
                  "again in the same process. `graph` is parse + reverse mode + clean-up "
                  "passes (before `compile`). LLVM initialisation "
                  f"(once per process): {_fmt_time(caches[0]['init_s'])}.", "",
                  "| workload | ops (value+grad) | graph | cold | disk | memory |",
                  "|---|---|---|---|---|---|"]
        by = {c["label"]: {r["workload"]: r for r in c["records"]} for c in caches}
        for w in by.get("cold", {}):
            c, d = by["cold"][w], by.get("disk", {}).get(w, {})
            lines.append(f"| {w} | {c['vg_ops']} | {_fmt_time(c['graph_s'])} | "
                         f"{_fmt_time(c['first_s'])} ({c['source']}) | "
                         f"{_fmt_time(d.get('first_s'))} ({d.get('source', '?')}) | "
                         f"{_fmt_time(c['memory_s'])} |")
    if fresh:
        lines += ["", "A new Python process: `import graphc`; the LLVM backend's first use "
                  "(importing llvmlite and the backend, initialising LLVM); then parse + "
                  "value_and_grad + compile + first call of Baydin's function:", ""]
        for r in fresh:
            lines.append(f"- {r['label']} disk cache: import graphc "
                         f"{_fmt_time(r['import_s'])}, backend first use "
                         f"{_fmt_time(r['backend_s'])}, then {_fmt_time(r['to_result_s'])} "
                         f"to the first result (kernel {r['source']})")
    return "\n".join(lines) + "\n"


def _order(name: str) -> int:
    names = ["baydin", "deisenroth", "regression", "mixture"]
    return names.index(name) if name in names else 99


def _feyn_order(name: str):
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def main(argv=None) -> int:
    from peers import PEERS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", choices=("main", "feynman", "all"), default="main")
    ap.add_argument("--only", nargs="+", help="only these workloads (names or Feynman ids)")
    ap.add_argument("--n", nargs="+", type=int, default=[1000, 1_000_000])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--peers", nargs="+", default=[p.name for p in PEERS],
                    choices=[p.name for p in PEERS])
    ap.add_argument("--budget", type=float, default=1.0,
                    help="seconds of timing per measurement (default 1)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved timing rounds over the peers (default 3)")
    ap.add_argument("--out", default=None,
                    help="markdown report path ('-' prints it; default "
                         "benchmarks/RESULTS.md, or RESULTS-feynman.md for the corpus)")
    ap.add_argument("--no-cache-probe", action="store_true",
                    help="skip the compile-latency measurements")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--probe", choices=("cache",), help=argparse.SUPPRESS)
    ap.add_argument("--label", default="", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = str(HERE / ("RESULTS-feynman.md" if args.workloads == "feynman"
                               else "RESULTS.md"))
    if args.worker:
        args.threads = args.threads[0]
        worker(args)
        return 0
    if args.probe == "cache":
        cache_probe(args)
        return 0

    command = "python benchmarks/run.py" + ("" if argv is None and len(sys.argv) == 1
                                            else " " + " ".join(sys.argv[1:] if argv is None
                                                                else argv))
    t_start = time.perf_counter()
    load_start = _load()
    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="graphc-bench-") as tmp:
        js = str(Path(tmp) / "results.jsonl")
        passthrough = ["--workloads", args.workloads, "--n", *map(str, args.n),
                       "--peers", *args.peers, "--budget", str(args.budget),
                       "--rounds", str(args.rounds)]
        if args.only:
            passthrough += ["--only", *args.only]
        for t in args.threads:
            cache_dir = tempfile.mkdtemp(dir=tmp, prefix=f"cache{t}-")
            print(f"[run.py] {t} thread(s)...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, __file__, "--worker", "--threads", str(t),
                            "--json", js, *passthrough], env=_env_for(t, cache_dir),
                           check=True)
        if not args.no_cache_probe:
            print("[run.py] compile latency...", file=sys.stderr, flush=True)
            cache_dir = tempfile.mkdtemp(dir=tmp, prefix="probe-")
            for label in ("cold", "disk"):
                subprocess.run([sys.executable, __file__, "--probe", "cache", "--label", label,
                                "--json", js], env=_env_for(1, cache_dir), check=True)
            empty = tempfile.mkdtemp(dir=tmp, prefix="fresh-")
            with open(js, "a") as fh:
                for label in ("empty", "warm"):
                    out = subprocess.run([sys.executable, "-c", FRESH, label],
                                         env=_env_for(1, empty), check=True,
                                         capture_output=True, text=True)
                    fh.write(out.stdout.strip().splitlines()[-1] + "\n")
        with open(js) as fh:
            records = [json.loads(line) for line in fh if line.strip()]
    text = report(records, args, command, time.perf_counter() - t_start,
                  (load_start, _load()))
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"[run.py] wrote {args.out}", file=sys.stderr)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
