"""graphc as a GradBench tool: the JSON-lines protocol on stdin/stdout.

GradBench (github.com/gradbench/gradbench, ``CONTRIBUTING.md``, section "Protocol")
drives a tool with one JSON message per line on its stdin; the tool answers each with
one JSON line on stdout carrying the same ``id``:

* ``{"kind": "start"}`` -> ``{"id", "tool": "graphc", "config": {...}}``;
* ``{"kind": "define", "module": M}`` -> ``{"id", "success"}`` (``success: false`` and an
  ``error`` when graphc has no implementation of ``M``), with a ``"define"`` timing;
* ``{"kind": "evaluate", "module", "function", "input"}`` -> ``{"id", "success",
  "output", "timings"}``. When ``input`` has ``min_runs``/``min_seconds``, the function
  runs at least ``min_runs`` times and until the runs add up to ``min_seconds``; each
  run is one ``{"name": "evaluate", "nanoseconds"}`` timing (as GradBench's
  ``wrap.multiple_runs``). Building and compiling the graphc kernels for the input's
  shapes, and one warm-up call, are reported separately as a ``"compile"`` timing;
* any other kind (``analysis``, ``end``...) -> ``{"id"}``; ``end`` also stops the tool.

An error while evaluating answers ``success: false`` with the error's text (the tool
keeps running). Each eval is one module ``benchmarks/gradbench/evals/<module>.py``
whose ``FUNCTIONS`` maps a function name to ``prepare(input) -> (run, post)``:
``prepare`` converts the JSON input and builds/compiles kernels (untimed as
"evaluate"), ``run()`` is the timed call, ``post(result)`` makes the JSON output.

Usage: ``python benchmarks/gradbench/graphc_tool.py`` (reads stdin until EOF or ``end``).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, TextIO

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

EVALS = ("hello", "lse", "llsq", "kmeans", "gmm", "ode", "det", "ba", "ht", "lstm",
         "particle", "saddle")
"""The GradBench evals, in the order of the issue; :func:`available` says which exist."""


def available() -> list[str]:
    """The eval modules that have a graphc implementation under ``evals/``."""
    return [m for m in EVALS if (HERE / "evals" / f"{m}.py").is_file()]


def load(module: str):
    """Import the graphc implementation of eval ``module``.

    Raises:
        LookupError: no implementation (an unknown or not yet written eval).
    """
    if module not in available():
        raise LookupError(f"graphc has no implementation of the GradBench eval {module!r}; "
                       f"implemented: {', '.join(available())}")
    return importlib.import_module(f"evals.{module}")


def repeat(run: Callable[[], Any], min_runs: int, min_seconds: float):
    """Call ``run`` at least ``min_runs`` times (at least once) and until the calls add
    up to ``min_seconds``; return ``(last result, [timing, ...])``, one ``evaluate``
    timing (nanoseconds of ``time.perf_counter_ns``) per call."""
    timings, elapsed, result = [], 0, None
    while len(timings) < max(1, int(min_runs)) or elapsed < float(min_seconds) * 1e9:
        start = time.perf_counter_ns()
        result = run()
        ns = time.perf_counter_ns() - start
        timings.append({"name": "evaluate", "nanoseconds": ns})
        elapsed += ns
    return result, timings


def evaluate(module: str, function: str, input: Any) -> dict:
    """Answer one ``evaluate`` message: ``{"success", "output", "timings"}``, or
    ``{"success": False, "error"}`` for an unknown module/function or a failed run."""
    try:
        functions = load(module).FUNCTIONS
        if function not in functions:
            raise LookupError(f"eval {module!r} has no function {function!r}; "
                           f"it has {', '.join(functions)}")
        start = time.perf_counter_ns()
        run, post = functions[function](input)
        run()  # warm-up: graphc compiles kernels for the input's shapes on first call
        compile_ns = time.perf_counter_ns() - start
        if isinstance(input, dict) and "min_runs" in input:
            result, timings = repeat(run, input["min_runs"], input.get("min_seconds", 0))
        else:
            result, timings = repeat(run, 1, 0)
        output = post(result)
    except Exception as exc:  # noqa: BLE001 - reported to the eval, the tool goes on
        return {"success": False,
                "error": "".join(traceback.format_exception_only(type(exc), exc)).strip()}
    return {"success": True, "output": output,
            "timings": [{"name": "compile", "nanoseconds": compile_ns}] + timings}


def respond(message: dict) -> dict:
    """The response to one protocol message (a parsed JSON object with ``id`` and
    ``kind``)."""
    response: dict = {"id": message["id"]}
    kind = message.get("kind")
    if kind == "start":
        import graphc
        response["tool"] = "graphc"
        response["config"] = {"graphc": graphc.__version__, "evals": available()}
    elif kind == "define":
        start = time.perf_counter_ns()
        try:
            load(message["module"])
            response["success"] = True
        except Exception as exc:  # noqa: BLE001
            response["success"] = False
            response["error"] = str(exc)
        response["timings"] = [{"name": "define",
                                "nanoseconds": time.perf_counter_ns() - start}]
    elif kind == "evaluate":
        response |= evaluate(message["module"], message["function"], message.get("input"))
    return response


def serve(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Answer protocol lines from ``stdin`` on ``stdout`` until EOF or an ``end``
    message. A line that is not a JSON object with an ``id`` is answered with
    ``{"id": null, "success": false, "error": ...}``."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
            if not isinstance(message, dict) or "id" not in message:
                raise ValueError("a message must be a JSON object with an \"id\"")
        except ValueError as exc:
            print(json.dumps({"id": None, "success": False,
                              "error": f"bad protocol line: {exc}"}), file=stdout, flush=True)
            continue
        print(json.dumps(respond(message)), file=stdout, flush=True)
        if message.get("kind") == "end":
            break


if __name__ == "__main__":
    try:
        serve()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
