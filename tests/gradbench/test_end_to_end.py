"""End to end: ``benchmarks/gradbench/run EVAL`` runs GradBench's own eval (its inputs,
its validators) against graphc's tool through the intermediary. The validators of every
eval but ``hello`` compare with GradBench's hand-written C++ tool, built with g++ on
first use (tens of seconds): those runs are ``slow``. Everything skips with a reason
when the GradBench copy (``../shared/gradbench``), its Python package or a C++ compiler
with the nlohmann-json header is missing."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "gradbench" / "run"
SHARED = ROOT.parent / "shared" / "gradbench"
sys.path.insert(0, str(ROOT / "benchmarks" / "gradbench"))
import graphc_tool as tool  # noqa: E402

SMALL = {  # GradBench's eval arguments at small sizes (their defaults are far larger)
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
    "particle": [],  # one input (w = 0), no size arguments
    "saddle": [],    # one input (start = (1, 1)), no size arguments
}


def _skip_reason(module: str):
    if not (SHARED / "python" / "gradbench").is_dir():
        return f"no GradBench copy at {SHARED}"
    for pkg in ("gradbench", "pydantic"):
        if importlib.util.find_spec(pkg) is None:
            return (f"{pkg} is not installed (pip install build/gradbench/python/gradbench "
                    f"pydantic dataclasses-json)")
    if module != "hello":
        if shutil.which("make") is None or shutil.which("c++") is None:
            return "no make or C++ compiler for GradBench's golden tool"
        has_header = (importlib.util.find_spec("nlohmann_json") is not None
                      or Path("/usr/include/nlohmann/json.hpp").is_file())
        if not has_header:
            return "no nlohmann/json.hpp (pip install nlohmann-json) for the golden tool"
    return None


def run_eval(module: str, tmp_path: Path):
    reason = _skip_reason(module)
    if reason:
        pytest.skip(reason)
    log = tmp_path / f"{module}.jsonl"
    proc = subprocess.run([sys.executable, str(RUN), module, "--json", "--log", str(log),
                           "--", *SMALL[module],
                           *(["--min-runs", "2", "--min-seconds", "0"] if module != "hello"
                             else [])],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = json.loads(proc.stdout)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    return records, lines


def test_every_eval_has_a_small_size():
    assert set(tool.available()) <= set(SMALL)


def test_hello_end_to_end(tmp_path):
    """hello's validator is a Python assertion: no C++ build, so this runs by default."""
    records, lines = run_eval("hello", tmp_path)
    assert len(records) == 8 and all(r["valid"] for r in records)
    # the log is the protocol session: message/response pairs with the same ids
    msgs = [x["message"] for x in lines if "message" in x]
    resps = [x["response"] for x in lines if "response" in x]
    assert msgs[0]["kind"] == "start" and resps[0]["tool"] == "graphc"
    assert [m["id"] for m in msgs[:len(resps)]] == [r["id"] for r in resps]
    assert all(x["elapsed"]["nanoseconds"] >= 0 for x in lines)


@pytest.mark.slow
@pytest.mark.parametrize("module", [m for m in tool.available() if m != "hello"])
def test_eval_validates_against_golden_tool(module, tmp_path):
    records, _ = run_eval(module, tmp_path)
    assert records and all(r["success"] and r["valid"] for r in records), records
    assert all(r["runs"] >= 2 for r in records)
