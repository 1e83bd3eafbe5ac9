#!/usr/bin/env python3
"""Run every GradBench eval against graphc and GradBench's own tools, and write one
Markdown table (``benchmarks/GRADBENCH.md``).

Usage (from anywhere)::

    python benchmarks/gradbench/table.py                      # every eval, default sizes
    python benchmarks/gradbench/table.py --quick --out /tmp/quick.md
    python benchmarks/gradbench/table.py --evals lse llsq --tools graphc,jax --timeout 600
    python benchmarks/gradbench/table.py --no-run             # re-render from saved logs

Each eval runs with each tool (``graphc``, GradBench's ``jax``, ``pytorch`` and the
hand-written C++ ``manual`` tool), one after the other, through
``benchmarks/gradbench/run EVAL --tool TOOL --one-thread --log FILE`` (every tool on one
thread: see ``run``'s ``ONE_THREAD``), at GradBench's default sizes (the eval's own
argument defaults), or at small sizes with ``--quick`` (:data:`QUICK`). Each run gets
``--timeout`` seconds; its log (JSON lines, one per protocol message and response) and a
status file are kept under ``--logs``, and the table is made from those logs
(:func:`parse_log`), so ``--no-run`` can redo the table without running anything.

Table columns, one row per evaluate message (function and input description): whether
graphc's output validated (GradBench's validator: mostly against the C++ golden tool),
graphc's ``compile`` timing (kernel building and one warm-up call, which graphc's tool
reports apart from the evaluate runs), and each tool's ``evaluate`` time (``--stat``:
mean by default, as GradBench reports; median or min over the runs), and graphc's time
over the fastest of JAX and PyTorch whose output validated. A run that timed out,
failed, or has no implementation of the eval (GradBench's tools do not implement every
eval; graphc has an implementation when ``benchmarks/gradbench/evals/EVAL.py`` exists)
shows as such in its cells, and every run is listed with its status and wall time
under the table.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUN = HERE / "run"
EVALS_DIR = HERE / "evals"
DEFAULT_OUT = ROOT / "benchmarks" / "GRADBENCH.md"
DEFAULT_LOGS = ROOT / "build" / "gradbench-table"
DEFAULT_BUILD = ROOT / "build" / "gradbench-for-table"
"""``run --build`` for the table's runs: a GradBench copy of its own, since GradBench's
C++ tool rebuilds ``tools/manual/bin/EVAL`` (the validators' golden binary) in place."""

EVALS = ("hello", "lse", "llsq", "kmeans", "gmm", "ode", "det", "ba", "ht", "lstm",
         "particle", "saddle")
"""GradBench's evals, in the table's order."""

TOOLS = ("graphc", "jax", "pytorch", "manual")
"""The tools, in the table's column order (``run --tool`` names)."""

TOOL_TITLES = {"graphc": "graphc", "jax": "JAX", "pytorch": "PyTorch", "manual": "manual (C++)"}

PEERS = ("jax", "pytorch")
"""The tools graphc's time is compared with (the fastest that validated)."""

QUICK = {
    "hello": [],
    "lse": ["-n", "10", "1000"],
    "llsq": ["-n", "16", "64", "-m", "4", "16"],
    "kmeans": ["-k", "3", "10", "-n", "100", "-d", "2", "4"],
    "gmm": ["-d", "2", "5", "-k", "3", "5", "-n", "50"],
    "ode": ["-n", "10", "100", "-s", "1", "10"],
    "det": ["-l", "2", "4", "6"],
    "ba": ["--min", "1", "--max", "1"],
    "ht": ["--min", "1", "--max", "1", "--model", "small"],
    "lstm": ["-l", "1", "2", "-c", "4", "8"],
    "particle": [],
    "saddle": [],
}
"""Small eval arguments for ``--quick`` (GradBench's defaults are far larger)."""

QUICK_RUNS = ["--min-runs", "3", "--min-seconds", "0"]
"""Repetitions for ``--quick`` (every eval but ``hello`` takes these arguments)."""


class TableError(Exception):
    """Bad arguments or unreadable logs."""


# --------------------------------------------------------------------------- logs


def parse_log(lines) -> dict:
    """Read one ``run --log`` session (an iterable of JSON-line strings).

    Returns ``{"tool": name or None, "defined": True/False/None, "define_error",
    "records": [...]}``: ``defined`` is the ``define`` response's
    ``success`` (None when the log stops before it); each record is ``{"id",
    "function", "description", "success", "valid", "error", "times"}`` for one
    evaluate message that got a response, ``times`` the ``evaluate`` timings in
    nanoseconds, plus ``compile_ns`` (the ``compile`` timing, graphc's, or None);
    ``valid`` is None until the eval's ``analysis`` message for it arrives.

    Raises:
        TableError: a line that is not a JSON object with ``message`` or ``response``.
    """
    messages: dict = {}
    out = {"tool": None, "defined": None, "define_error": None, "records": []}
    by_id: dict = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TableError(f"log line {n} is not JSON: {exc}") from None
        if not isinstance(entry, dict) or not ("message" in entry or "response" in entry):
            raise TableError(f"log line {n} has neither 'message' nor 'response'")
        if "message" in entry:
            msg = entry["message"]
            messages[msg.get("id")] = msg
            kind = msg.get("kind")
            if kind == "analysis" and msg.get("of") in by_id:
                rec = by_id[msg["of"]]
                rec["valid"] = bool(msg.get("valid"))
                if not rec["valid"] and msg.get("error"):
                    rec["error"] = msg.get("error")
            continue
        resp = entry["response"]
        msg = messages.get(resp.get("id"), {})
        kind = msg.get("kind")
        if kind == "start":
            out["tool"] = resp.get("tool")
        elif kind == "define":
            out["defined"] = bool(resp.get("success"))
            out["define_error"] = resp.get("error")
        elif kind == "evaluate":
            timings = resp.get("timings") or []
            comp = [t["nanoseconds"] for t in timings if t.get("name") == "compile"]
            rec = {"id": msg["id"], "function": msg.get("function", "?"),
                   "description": msg.get("description", ""),
                   "success": bool(resp.get("success")), "valid": None,
                   "error": resp.get("error"),
                   "times": [t["nanoseconds"] for t in timings
                             if t.get("name") == "evaluate"],
                   "compile_ns": comp[0] if comp else None}
            by_id[msg["id"]] = rec
            out["records"].append(rec)
    return out


STATS = {"mean": statistics.fmean, "median": statistics.median, "min": min}
"""``--stat``: how the ``evaluate`` timings of one evaluation become one number."""


def summarise(times: list, stat: str = "mean"):
    """One number (nanoseconds) for a list of ``evaluate`` timings, or None if empty."""
    return STATS[stat](times) if times else None


# --------------------------------------------------------------------------- running


def status_path(logs: Path, module: str, tool: str) -> Path:
    return logs / f"{module}.{tool}.status.json"


def log_path(logs: Path, module: str, tool: str) -> Path:
    return logs / f"{module}.{tool}.jsonl"


def run_one(module: str, tool: str, eval_args: list[str], logs: Path, timeout: float,
            run_args: list[str] = ()) -> dict:
    """Run ``module`` with ``tool`` through ``run`` (one thread), waiting at most
    ``timeout`` seconds (then the run's whole process group is killed); write and
    return its status ``{"eval", "tool", "status", "returncode", "seconds",
    "stderr", "args"}``, ``status`` one of ``ok``, ``failed`` (exit status 1: an
    evaluation failed or did not validate), ``setup error`` (exit status 2),
    ``timeout``, ``crashed`` (another exit status) or ``no graphc implementation``."""
    logs.mkdir(parents=True, exist_ok=True)
    log = log_path(logs, module, tool)
    log.unlink(missing_ok=True)
    status = {"eval": module, "tool": tool, "args": list(eval_args), "returncode": None,
              "seconds": 0.0, "stderr": ""}
    if tool == "graphc" and not (EVALS_DIR / f"{module}.py").is_file():
        status["status"] = "no graphc implementation"
    else:
        cmd = [sys.executable, str(RUN), module, "--tool", tool, "--one-thread",
               "--log", str(log), *run_args, "--", *eval_args]
        err = logs / f"{module}.{tool}.stderr"
        t0 = time.perf_counter()
        with open(err, "w") as errf:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
                status["status"] = {0: "ok", 1: "failed", 2: "setup error"}.get(rc, "crashed")
                status["returncode"] = rc
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                status["status"] = "timeout"
        status["seconds"] = round(time.perf_counter() - t0, 2)
        status["stderr"] = "\n".join(err.read_text(errors="replace").strip()
                                     .splitlines()[-5:])
    status_path(logs, module, tool).write_text(json.dumps(status, indent=1))
    return status


def load_run(logs: Path, module: str, tool: str) -> dict | None:
    """The saved status of one run with its parsed log (``"session"``), or None when
    that run was never made."""
    sp = status_path(logs, module, tool)
    if not sp.is_file():
        return None
    status = json.loads(sp.read_text())
    lp = log_path(logs, module, tool)
    status["session"] = (parse_log(lp.read_text().splitlines()) if lp.is_file()
                         else parse_log([]))
    return status


# --------------------------------------------------------------------------- table


def fmt_ns(ns) -> str:
    """Nanoseconds as 3 significant figures with a unit (``12.3 ms``)."""
    if ns is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def _missing(run: dict | None) -> str:
    """The cell for a tool with no record for a row."""
    if run is None:
        return "not run"
    st = run["status"]
    if st == "no graphc implementation":
        return "no graphc implementation"
    if run["session"]["defined"] is False:
        return "undefined"
    if st == "timeout":
        return "timeout"
    if st in ("setup error", "crashed"):
        return st
    return "failed" if st == "failed" else "—"


def _cell(rec: dict | None, run: dict | None, stat: str) -> tuple[str, float | None]:
    """(text, time in ns usable for the ratio) of one tool's record for a row."""
    if rec is None:
        return _missing(run), None
    if not rec["success"]:
        return "failed", None
    value = summarise(rec["times"], stat)
    text = fmt_ns(value)
    if rec["valid"] is False:
        return text + " (invalid)", None
    if rec["valid"] is None:
        return text + " (not validated)", None
    return text, value


def _validated(rec: dict | None, run: dict | None) -> str:
    if rec is None:
        return _missing(run)
    if not rec["success"]:
        return "no (failed)"
    return {True: "yes", False: "no", None: "not validated"}[rec["valid"]]


def eval_rows(module: str, runs: dict, tools, stat: str) -> list[list[str]]:
    """Table rows of one eval: one per evaluate message seen in any tool's log (the
    n-th message with the same function and description in each log is one row), or
    one row with ``—`` when no log has any."""
    keyed: dict[str, dict] = {t: {} for t in tools}
    order: list[tuple] = []
    for t in tools:
        run = runs.get(t)
        if run is None:
            continue
        seen: dict = {}
        for rec in run["session"]["records"]:
            base = (rec["function"], rec["description"])
            seen[base] = seen.get(base, 0) + 1
            key = (*base, seen[base])
            keyed[t][key] = rec
            if key not in order:
                order.append(key)
    if not order:
        order = [("—", "—", 1)]
    rows = []
    for key in order:
        recs = {t: keyed[t].get(key) for t in tools}
        cells = {t: _cell(recs[t], runs.get(t), stat) for t in tools}
        row = [module, key[0], key[1] or "—"]
        if "graphc" in tools:
            g = recs["graphc"]
            row += [_validated(g, runs.get("graphc")),
                    fmt_ns(g["compile_ns"]) if g and g["success"] else "—"]
        row += [cells[t][0] for t in tools]
        if "graphc" in tools and any(p in tools for p in PEERS):
            peers = [cells[p][1] for p in PEERS if p in tools and cells[p][1] is not None]
            mine = cells["graphc"][1]
            row.append(f"{mine / min(peers):.3g}×" if mine is not None and peers
                       and min(peers) > 0 else "—")
        rows.append(row)
    return rows


def header_columns(tools) -> list[str]:
    cols = ["eval", "function", "input"]
    if "graphc" in tools:
        cols += ["validated (graphc)", "graphc compile"]
    cols += [TOOL_TITLES[t] for t in tools]
    if "graphc" in tools and any(p in tools for p in PEERS):
        cols.append("graphc / fastest peer")
    return cols


def markdown_table(cols: list[str], rows: list[list[str]]) -> str:
    def esc(s):
        return str(s).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(cols) + " |",
           "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def machine() -> str:
    """The CPU model (``/proc/cpuinfo``) and the number of CPUs."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def uptime() -> str:
    """``uptime``'s line (the load averages), or the load averages of ``os.getloadavg``."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def versions() -> str:
    """Versions of the tools' packages, from their installed metadata."""
    parts = [f"Python {platform.python_version()}"]
    for pkg in ("graphc", "jax", "jaxlib", "torch", "numpy", "llvmlite"):
        try:
            parts.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{pkg} not installed")
    return ", ".join(parts)


def define_reason(error: str) -> str:
    """The telling line of a failed ``define``'s error: a compiler's first ``error:``
    line, else the last line (a Python traceback's exception, ``make``'s "No rule to
    make target"), leaving out ``make``'s Entering/Leaving directory lines."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()
             and not ln.strip().startswith(("make: Entering", "make: Leaving"))]
    compiler = [ln for ln in lines if "error:" in ln]
    return (compiler or lines or [""])[0 if compiler else -1][:300]


def render(evals, tools, logs: Path, stat: str, meta: dict) -> str:
    """The Markdown document: header (``meta``: command, date, machine, load before
    and after, versions, note), the table, and the list of runs with their status."""
    cols = header_columns(tools)
    rows, run_lines, problems = [], [], []
    for module in evals:
        runs = {t: load_run(logs, module, t) for t in tools}
        rows += eval_rows(module, runs, tools, stat)
        for t in tools:
            run = runs[t]
            if run is None:
                run_lines.append(f"| {module} | {t} | not run | — | — |")
                continue
            sess = run["session"]
            n_ok = sum(bool(r["success"] and r["valid"]) for r in sess["records"])
            shown = "undefined" if sess["defined"] is False else run["status"]
            run_lines.append(f"| {module} | {t} | {shown} | {run['seconds']:.1f} s"
                             f" | {n_ok}/{len(sess['records'])} |")
            if run["status"] not in ("ok", "no graphc implementation"):
                why = ""
                if sess["defined"] is False:
                    why = ("the tool has no implementation of this eval"
                           + (f" ({define_reason(sess['define_error'])})"
                              if sess["define_error"] else ""))
                else:
                    errs = [r["error"] for r in sess["records"]
                            if r["error"] and not (r["success"] and r["valid"])]
                    why = (str(errs[0]).strip().splitlines() or [""])[-1][:300] if errs \
                        else run["stderr"].strip().splitlines()[-1][:300] \
                        if run["stderr"].strip() else ""
                problems.append(f"- {module} / {t}: {shown}"
                                + (f": {why}" if why else ""))
    lines = ["# GradBench: graphc against JAX, PyTorch and the hand-written C++ tool", ""]
    if meta.get("note"):
        lines += [meta["note"], ""]
    lines += [f"- Command: `{meta['command']}`",
              f"- Date: {meta['date']}",
              f"- Machine: {meta['machine']}",
              f"- Load before: `{meta['load_before']}`",
              f"- Load after: `{meta['load_after']}`"
              + (f" ({meta['duration_s'] / 60:.0f} min of runs)" if "duration_s" in meta
                 else ""),
              f"- Versions: {meta['versions']}",
              f"- Sizes: {meta['sizes']}",
              f"- Times: {stat} of each evaluation's `evaluate` timings (as each tool "
              f"reports them); every tool on one thread (`OMP_NUM_THREADS=1`, "
              f"`XLA_FLAGS=--xla_cpu_multi_thread_eigen=false "
              f"intra_op_parallelism_threads=1`, `GRAPHC_NUM_THREADS=1`; GradBench's JAX "
              f"tool pins itself to CPU 0, its C++ tool is built single-threaded). "
              f"graphc's kernel building and one warm-up call are its *compile* "
              f"column, not in its times; JAX's first run includes its JIT "
              f"compilation, PyTorch's and C++'s have none to do.",
              "- *graphc / fastest peer*: graphc's time over the fastest of JAX and "
              "PyTorch whose output validated (below 1: graphc is faster). "
              "*undefined*: the tool has no implementation of the eval; "
              "*(invalid)*: the output failed GradBench's validation.",
              "", markdown_table(cols, rows), "", "## Runs", "",
              "| eval | tool | status | wall time | validated |", "|---|---|---|---|---|",
              *run_lines, ""]
    if problems:
        lines += ["## Failures and missing implementations", "", *problems, ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evals", nargs="+", default=list(EVALS), metavar="EVAL",
                        help=f"evals to run (default: all: {' '.join(EVALS)})")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated tools (default: {','.join(TOOLS)})")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 3 runs per evaluation instead of "
                             "GradBench's default sizes")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds for one eval with one tool (default 1800)")
    parser.add_argument("--stat", choices=sorted(STATS), default="mean",
                        help="how one evaluation's runs become one time (default mean)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the Markdown file to write (default benchmarks/GRADBENCH.md)")
    parser.add_argument("--logs", type=Path, default=DEFAULT_LOGS,
                        help="where the runs' logs go (default build/gradbench-table)")
    parser.add_argument("--no-run", action="store_true",
                        help="run nothing: make the table from the logs already in --logs "
                             "(with the header those runs saved, less --note)")
    parser.add_argument("--note", default="", help="a paragraph for the top of the file")
    parser.add_argument("--gradbench", type=Path, help="passed to run (GradBench copy)")
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD,
                        help="passed to run: its GradBench copy and build folder "
                             "(default build/gradbench-for-table)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in tools if t not in TOOLS] + [e for e in args.evals if e not in EVALS]
    if bad:
        print(f"gradbench table: unknown tool or eval: {', '.join(bad)} (tools: "
              f"{', '.join(TOOLS)}; evals: {', '.join(EVALS)})", file=sys.stderr)
        return 2
    tools = [t for t in TOOLS if t in tools]  # the table's column order
    run_args = []
    for opt in ("gradbench", "build"):
        if getattr(args, opt) is not None:
            run_args += [f"--{opt}", str(getattr(args, opt))]
    meta = {"command": shlex.join(["python", "benchmarks/gradbench/table.py", *argv]),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "load_before": uptime(), "versions": versions(),
            "note": args.note,
            "sizes": ("quick (small sizes: `table.py`'s QUICK, 3 runs per evaluation)"
                      if args.quick else "GradBench's defaults (each eval's own "
                      "argument defaults; each evaluation repeated for at least 1 s)")}
    t0 = time.perf_counter()
    if not args.no_run:
        for module in args.evals:
            eval_args = (QUICK[module] + (QUICK_RUNS if module != "hello" else [])
                         if args.quick else [])
            for tool in tools:
                st = run_one(module, tool, eval_args, args.logs, args.timeout, run_args)
                print(f"{module:<9} {tool:<8} {st['status']:<24} {st['seconds']:8.1f} s",
                      flush=True)
    meta_file = args.logs / "meta.json"
    if args.no_run and meta_file.is_file():  # the header of the runs that made the logs
        meta = json.loads(meta_file.read_text()) | ({"note": args.note} if args.note else {})
    else:
        meta["load_after"] = uptime()
        if not args.no_run:
            meta["duration_s"] = round(time.perf_counter() - t0)
            args.logs.mkdir(parents=True, exist_ok=True)
            meta_file.write_text(json.dumps(meta, indent=1))
    text = render(args.evals, tools, args.logs, args.stat, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
