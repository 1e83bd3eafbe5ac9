"""The GradBench protocol of graphc's tool (benchmarks/gradbench/graphc_tool.py), fed
scripted JSON lines: response shapes, ids, timings and min_runs/min_seconds, for every
implemented eval and function (generated from the tool's own tables)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from pathlib import Path

import pytest

TOOL_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "gradbench"
sys.path.insert(0, str(TOOL_DIR))
import graphc_tool as tool  # noqa: E402


def converse(messages):
    """Feed ``messages`` (dicts) to ``tool.serve``; return the parsed response lines."""
    out = io.StringIO()
    tool.serve(io.StringIO("".join(json.dumps(m) + "\n" for m in messages)), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_start_define_analysis_end_shapes():
    msgs = [{"id": 0, "kind": "start", "eval": "lse"},
            {"id": 1, "kind": "define", "module": "lse"},
            {"id": 2, "kind": "analysis", "of": 1, "valid": True},
            {"id": 3, "kind": "end"},
            {"id": 4, "kind": "start"}]  # after end: not answered
    r = converse(msgs)
    assert [x["id"] for x in r] == [0, 1, 2, 3]
    assert r[0]["tool"] == "graphc" and "lse" in r[0]["config"]["evals"]
    assert r[1]["success"] is True
    assert [t["name"] for t in r[1]["timings"]] == ["define"]
    assert r[2] == {"id": 2} and r[3] == {"id": 3}


@pytest.mark.parametrize("module", ["nonexistent", "ADBench", "../graphc_tool"])
def test_define_unknown_module_fails_cleanly(module):
    (r,) = converse([{"id": 7, "kind": "define", "module": module}])
    assert r["id"] == 7 and r["success"] is False and module in r["error"]


def test_every_listed_eval_is_importable_and_defines():
    assert tool.available()[:4] == ["hello", "lse", "llsq", "kmeans"]
    r = converse([{"id": i, "kind": "define", "module": m}
                  for i, m in enumerate(tool.available())])
    assert all(x["success"] for x in r), r


def test_unknown_function_and_bad_input_fail_without_stopping():
    r = converse([{"id": 1, "kind": "evaluate", "module": "lse", "function": "hessian",
                   "input": {"x": [1.0]}},
                  {"id": 2, "kind": "evaluate", "module": "lse", "function": "primal",
                   "input": {"y": [1.0]}},
                  {"id": 3, "kind": "evaluate", "module": "hello", "function": "square",
                   "input": 3.0}])
    assert r[0]["success"] is False and "hessian" in r[0]["error"]
    assert r[1]["success"] is False and "x" in r[1]["error"]
    assert r[2]["success"] is True and r[2]["output"] == 9.0


def test_bad_lines_answered_with_null_id():
    out = io.StringIO()
    tool.serve(io.StringIO('not json\n[1, 2]\n\n{"id": 5, "kind": "start"}\n'), out)
    r = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["id"] for x in r] == [None, None, 5]
    assert all(x["success"] is False for x in r[:2])


@pytest.mark.parametrize("min_runs", [1, 3, 7])
def test_min_runs_gives_one_timing_per_run(min_runs):
    (r,) = converse([{"id": 1, "kind": "evaluate", "module": "lse", "function": "gradient",
                      "input": {"x": [0.5, 1.5], "min_runs": min_runs, "min_seconds": 0}}])
    names = [t["name"] for t in r["timings"]]
    assert names == ["compile"] + ["evaluate"] * min_runs
    assert all(isinstance(t["nanoseconds"], int) and t["nanoseconds"] > 0
               for t in r["timings"])


def test_min_seconds_repeats_until_the_runs_add_up():
    (r,) = converse([{"id": 1, "kind": "evaluate", "module": "lse", "function": "primal",
                      "input": {"x": [0.5, 1.5], "min_runs": 1, "min_seconds": 0.02}}])
    runs = [t["nanoseconds"] for t in r["timings"] if t["name"] == "evaluate"]
    assert sum(runs) >= 0.02e9 and len(runs) > 1
    assert sum(runs[:-1]) < 0.02e9  # stops as soon as the total passes min_seconds


def test_tool_as_a_subprocess_speaks_json_lines():
    lines = "".join(json.dumps(m) + "\n" for m in [
        {"id": 0, "kind": "start"},
        {"id": 1, "kind": "define", "module": "hello"},
        {"id": 2, "kind": "evaluate", "module": "hello", "function": "double", "input": 1.5},
        {"id": 3, "kind": "end"}])
    proc = subprocess.run([sys.executable, str(TOOL_DIR / "graphc_tool.py")], input=lines,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [x["id"] for x in r] == [0, 1, 2, 3]
    assert r[2]["success"] and r[2]["output"] == 3.0
