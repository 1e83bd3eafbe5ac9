"""``benchmarks/gradbench/table.py``: the GradBench table. The log parser and the table
are checked on synthetic protocol logs (hand-written sessions, with the numbers the
table must show computed here from the logged timings); real runs of ``hello`` (no C++
build) check that the table holds the numbers its logs hold, and that a timeout kills
the run and shows as such. Runs of evals needing GradBench's golden C++ tool, or the
JAX tool, are ``slow``."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "benchmarks" / "gradbench" / "table.py"
SHARED = ROOT.parent / "shared" / "gradbench"

_spec = importlib.util.spec_from_file_location("gradbench_table", TABLE)
table = importlib.util.module_from_spec(_spec)
sys.modules["gradbench_table"] = table
_spec.loader.exec_module(table)


def _line(kind, obj, ns=0):
    return json.dumps({"elapsed": {"nanoseconds": ns}, kind: obj})


def session_lines(tool, evaluations, defined=True, end=True):
    """A protocol log: start, define, then per evaluation ``(function, description,
    response, valid)`` an evaluate message, its response and (unless ``valid`` is
    None) the analysis message."""
    lines = [_line("message", {"id": 0, "kind": "start", "eval": "lse"}),
             _line("response", {"id": 0, "tool": tool}),
             _line("message", {"id": 1, "kind": "define", "module": "lse"}),
             _line("response", {"id": 1, "success": defined}
                   | ({} if defined else {"error": "no module named lse"}))]
    i = 2
    for function, description, response, valid in evaluations:
        lines.append(_line("message", {"id": i, "kind": "evaluate", "module": "lse",
                                       "function": function, "input": {"x": [1.0]},
                                       "description": description}))
        lines.append(_line("response", {"id": i} | response))
        if valid is not None:
            lines.append(_line("message", {"id": i + 1, "kind": "analysis", "of": i,
                                           "valid": valid}
                               | ({} if valid else {"error": "mismatch at 0"})))
            lines.append(_line("response", {"id": i + 1}))
        i += 2
    if end:
        lines.append(_line("message", {"id": i, "kind": "end"}))
    return lines


def timings(*ns, compile_ns=None):
    out = [{"name": "compile", "nanoseconds": compile_ns}] if compile_ns is not None else []
    return out + [{"name": "evaluate", "nanoseconds": n} for n in ns]


def ok(*ns, compile_ns=None):
    return {"success": True, "output": 1.0, "timings": timings(*ns, compile_ns=compile_ns)}


def test_parse_log_reads_records_validation_and_timings():
    lines = session_lines("graphc", [
        ("primal", "n=10", ok(3000, 1000, 2000, compile_ns=5_000_000), True),
        ("gradient", "n=10", ok(7000), False),
        ("primal", "n=20", {"success": False, "error": "boom"}, None),
    ])
    s = table.parse_log(lines)
    assert s["tool"] == "graphc" and s["defined"] is True
    recs = s["records"]
    assert [(r["function"], r["description"]) for r in recs] == [
        ("primal", "n=10"), ("gradient", "n=10"), ("primal", "n=20")]
    assert recs[0]["times"] == [3000, 1000, 2000] and recs[0]["compile_ns"] == 5_000_000
    assert recs[0]["valid"] is True
    assert recs[1]["valid"] is False and recs[1]["error"] == "mismatch at 0"
    assert recs[1]["compile_ns"] is None
    assert recs[2]["success"] is False and recs[2]["error"] == "boom"
    assert recs[2]["valid"] is None


def test_parse_log_of_a_cut_session_and_an_undefined_eval():
    cut = session_lines("jax", [("primal", "n=10", ok(10), True)], end=False)[:-2]
    s = table.parse_log(cut)
    assert s["records"][0]["valid"] is None
    s = table.parse_log(session_lines("jax", [], defined=False))
    assert s["defined"] is False and s["records"] == [] and "lse" in s["define_error"]
    assert table.parse_log([])["defined"] is None


def test_parse_log_rejects_garbage():
    with pytest.raises(table.TableError, match="line 1"):
        table.parse_log(["not json"])
    with pytest.raises(table.TableError, match="neither"):
        table.parse_log([json.dumps({"elapsed": 1})])


@pytest.mark.parametrize("stat,ref", [("mean", statistics.fmean),
                                      ("median", statistics.median), ("min", min)])
def test_summarise_is_the_statistic_of_the_logged_times(stat, ref):
    times = [5, 1, 9, 4]
    assert table.summarise(times, stat) == ref(times)
    assert table.summarise([], stat) is None


def test_fmt_ns():
    assert table.fmt_ns(None) == "—"
    assert table.fmt_ns(512) == "512 ns"
    assert table.fmt_ns(12_345) == "12.3 µs"
    assert table.fmt_ns(2_500_000) == "2.5 ms"
    assert table.fmt_ns(3.21e9) == "3.21 s"


def _write_run(logs, module, tool, lines, status, seconds=1.0):
    logs.mkdir(parents=True, exist_ok=True)
    if lines is not None:
        table.log_path(logs, module, tool).write_text("\n".join(lines) + "\n")
    table.status_path(logs, module, tool).write_text(json.dumps(
        {"eval": module, "tool": tool, "status": status, "returncode": None,
         "seconds": seconds, "stderr": "", "args": []}))


def _rows(text):
    """The main table's rows (header first) as lists of cells."""
    block = text.split("\n\n| eval | function")[1].split("\n\n")[0]
    lines = ("| eval | function" + block).splitlines()
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines if "---" not in ln]


def test_table_from_synthetic_logs(tmp_path):
    logs = tmp_path / "logs"
    _write_run(logs, "lse", "graphc", session_lines("graphc", [
        ("primal", "n=10", ok(2000, 4000, compile_ns=7_000_000), True),
        ("gradient", "n=10", ok(9000, compile_ns=1_000_000), False),
        ("primal", "n=20", ok(1000, compile_ns=1), True)]), "failed")
    _write_run(logs, "lse", "jax", session_lines("jax", [
        ("primal", "n=10", ok(8000, 2000), True),
        ("gradient", "n=10", ok(5000), True)], end=False)[:-2], "timeout")
    _write_run(logs, "lse", "pytorch", session_lines("pytorch", [], defined=False),
               "failed")
    _write_run(logs, "lse", "manual", session_lines("manual", [
        ("primal", "n=10", ok(100), True),
        ("gradient", "n=10", {"success": False, "error": "exit 1"}, None),
        ("primal", "n=20", ok(50), True)]), "failed")
    _write_run(logs, "ht", "graphc", None, "no graphc implementation", 0.0)
    _write_run(logs, "ht", "jax", session_lines("jax", [], defined=False), "failed")
    meta = {k: k for k in ("command", "date", "machine", "load_before", "load_after",
                           "versions", "sizes")} | {"note": "A NOTE."}
    text = table.render(["lse", "ht", "gmm"], list(table.TOOLS), logs, "mean", meta)
    assert text.splitlines()[2] == "A NOTE."
    for key in ("- Command: `command`", "- Machine: machine", "- Load before: `load_before`",
                "- Load after: `load_after`", "- Versions: versions"):
        assert key in text
    rows = _rows(text)
    assert rows[0] == ["eval", "function", "input", "validated (graphc)", "graphc compile",
                       "graphc", "JAX", "PyTorch", "manual (C++)", "graphc / fastest peer"]
    assert rows[1] == ["lse", "primal", "n=10", "yes", "7 ms", "3 µs", "5 µs", "undefined",
                       "100 ns", f"{3000 / 5000:.3g}×"]
    # graphc invalid: its time is shown but no ratio; the C++ tool failed
    # (JAX's log stops before its analysis)
    assert rows[2] == ["lse", "gradient", "n=10", "no", "1 ms", "9 µs (invalid)",
                       "5 µs (not validated)", "undefined", "failed", "—"]
    # JAX timed out before this evaluation
    assert rows[3] == ["lse", "primal", "n=20", "yes", "1 ns", "1 µs", "timeout",
                       "undefined", "50 ns", "—"]
    assert rows[4] == ["ht", "—", "—", "no graphc implementation", "—",
                       "no graphc implementation", "undefined", "not run", "not run", "—"]
    assert rows[5] == ["gmm", "—", "—", "not run", "—", "not run", "not run", "not run",
                       "not run", "—"]
    runs = text.split("## Runs")[1]
    assert "| lse | jax | timeout | 1.0 s | 1/2 |" in runs
    assert "| lse | pytorch | undefined | 1.0 s | 0/0 |" in runs
    assert "| gmm | graphc | not run | — | — |" in runs
    problems = text.split("## Failures and missing implementations")[1]
    assert "- lse / graphc: failed: mismatch at 0" in problems
    assert "- ht / jax: undefined" in problems
    assert "- lse / pytorch: undefined: the tool has no implementation of this eval " \
        "(no module named lse)" in problems


def test_define_reason():
    tb = ("Traceback (most recent call last):\n  File \"x\", line 1\n"
          "ModuleNotFoundError: No module named 'ba'\n")
    assert table.define_reason(tb) == "ModuleNotFoundError: No module named 'ba'"
    make = ("Command 'make' terminated with return code 2 and stderr:\n"
            "make: Entering directory '/x'\nmake: *** No rule to make target 'bin/p'.  Stop.\n"
            "make: Leaving directory '/x'\n")
    assert table.define_reason(make) == "make: *** No rule to make target 'bin/p'.  Stop."
    cc = ("make: Entering directory '/x'\ng++ -o bin/hello hello.cpp\n"
          "main.hpp:5:10: fatal error: json.hpp: No such file or directory\n"
          "compilation terminated.\nmake: Leaving directory '/x'\n")
    assert table.define_reason(cc) == \
        "main.hpp:5:10: fatal error: json.hpp: No such file or directory"


def test_ratio_uses_the_fastest_valid_peer(tmp_path):
    logs = tmp_path / "logs"
    _write_run(logs, "lse", "graphc", session_lines("graphc", [
        ("primal", "a", ok(6000, compile_ns=1), True)]), "ok")
    _write_run(logs, "lse", "jax", session_lines("jax", [
        ("primal", "a", ok(1000), False)]), "failed")  # faster but invalid: ignored
    _write_run(logs, "lse", "pytorch", session_lines("pytorch", [
        ("primal", "a", ok(4000), True)]), "ok")
    meta = dict.fromkeys(("command", "date", "machine", "load_before", "load_after",
                          "versions", "sizes", "note"), "")
    rows = _rows(table.render(["lse"], ["graphc", "jax", "pytorch"], logs, "mean", meta))
    assert rows[0][-1] == "graphc / fastest peer" and "manual (C++)" not in rows[0]
    assert rows[1][-3:] == ["1 µs (invalid)", "4 µs", "1.5×"]


def test_unknown_tool_or_eval_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, str(TABLE), "--tools", "graphc,tapenade",
                           "--out", str(tmp_path / "t.md")], capture_output=True, text=True)
    assert proc.returncode == 2 and "tapenade" in proc.stderr
    assert not (tmp_path / "t.md").exists()


def _needs_gradbench(jax=False):
    if not (SHARED / "python" / "gradbench").is_dir():
        pytest.skip(f"no GradBench copy at {SHARED}")
    for pkg in ("gradbench", "pydantic") + (("jax",) if jax else ()):
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{pkg} is not installed")


def _run_table(tmp_path, *args, timeout=600):
    out, logs = tmp_path / "t.md", tmp_path / "logs"
    proc = subprocess.run([sys.executable, str(TABLE), "--quick", "--out", str(out),
                           "--logs", str(logs), *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out.read_text(), logs


def _logged(logs, module, tool, stat="mean"):
    """(function, mean evaluate, compile) per evaluate response in a real log, read
    here straight from the JSON lines."""
    msgs, out = {}, []
    for line in table.log_path(logs, module, tool).read_text().splitlines():
        entry = json.loads(line)
        if "message" in entry:
            msgs[entry["message"]["id"]] = entry["message"]
        elif msgs[entry["response"]["id"]]["kind"] == "evaluate":
            t = entry["response"]["timings"]
            ev = [x["nanoseconds"] for x in t if x["name"] == "evaluate"]
            comp = [x["nanoseconds"] for x in t if x["name"] == "compile"]
            out.append((msgs[entry["response"]["id"]]["function"],
                        table.summarise(ev, stat), comp[0] if comp else None))
    return out


def test_real_hello_run_shows_the_logged_numbers(tmp_path):
    _needs_gradbench()
    text, logs = _run_table(tmp_path, "--evals", "hello", "--tools", "graphc",
                            "--stat", "median")
    assert "- Sizes: quick" in text and "median" in text
    rows = _rows(text)
    assert rows[0] == ["eval", "function", "input", "validated (graphc)", "graphc compile",
                       "graphc"]
    logged = _logged(logs, "hello", "graphc", "median")
    assert len(logged) == len(rows) - 1 == 8
    for row, (function, value, comp) in zip(rows[1:], logged):
        assert row == ["hello", function, "—", "yes", table.fmt_ns(comp),
                       table.fmt_ns(value)]
    assert "| hello | graphc | ok |" in text and "## Failures" not in text


HANGING_RUN = """\
import json, subprocess, sys, time
from pathlib import Path
log = Path(sys.argv[sys.argv.index("--log") + 1])
log.write_text(LINES)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
(log.parent / "child.pid").write_text(str(child.pid))
time.sleep(120)
"""


def test_timeout_kills_the_run_and_shows(tmp_path, monkeypatch):
    """A stand-in for ``run`` that logs one validated evaluation, starts a child and
    hangs: the timeout kills both and the table keeps the logged evaluation."""
    lines = session_lines("graphc", [("square", "", ok(1500, compile_ns=2000), True)],
                          end=False)
    fake = tmp_path / "run"
    fake.write_text(HANGING_RUN.replace("LINES", repr("\n".join(lines) + "\n")))
    monkeypatch.setattr(table, "RUN", fake)
    logs = tmp_path / "logs"
    st = table.run_one("hello", "graphc", [], logs, timeout=2)
    assert st["status"] == "timeout" and 2 <= st["seconds"] < 30
    child = int((logs / "child.pid").read_text())
    import os
    import time
    for _ in range(50):  # the killed child is reaped by init
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the run's child {child} survived the timeout")
    meta = dict.fromkeys(("command", "date", "machine", "load_before", "load_after",
                          "versions", "sizes", "note"), "")
    text = table.render(["hello"], ["graphc", "jax"], logs, "mean", meta)
    rows = _rows(text)
    assert rows[1] == ["hello", "square", "—", "yes", "2 µs", "1.5 µs", "not run", "—"]
    assert "| hello | graphc | timeout |" in text and "- hello / graphc: timeout" in text


@pytest.mark.slow
def test_real_run_with_jax_and_golden_validation(tmp_path):
    """lse validates against the C++ golden tool (built on first use) and JAX runs
    through GradBench's own tool."""
    _needs_gradbench(jax=True)
    text, logs = _run_table(tmp_path, "--evals", "hello", "lse", "--tools", "graphc,jax")
    rows = _rows(text)
    assert rows[0][-2:] == ["JAX", "graphc / fastest peer"]
    lse = [r for r in rows if r[0] == "lse"]
    assert [r[1:3] for r in lse] == [["primal", "n=10"], ["gradient", "n=10"],
                                     ["primal", "n=1000"], ["gradient", "n=1000"]]
    g, j = _logged(logs, "lse", "graphc"), _logged(logs, "lse", "jax")
    for row, (_, gv, gc), (_, jv, _) in zip(lse, g, j):
        assert row[3] == "yes"
        assert row[4:7] == [table.fmt_ns(gc), table.fmt_ns(gv), table.fmt_ns(jv)]
        assert row[7] == f"{gv / jv:.3g}×"


def test_no_run_keeps_the_header_of_the_runs(tmp_path):
    """``--no-run`` re-renders saved logs with the header saved by the run that made
    them (its command, date and load), taking only a new ``--note``."""
    logs = tmp_path / "logs"
    _write_run(logs, "lse", "graphc", session_lines("graphc", [
        ("primal", "n=10", ok(2000, compile_ns=3000), True)]), "ok")
    meta = {"command": "python benchmarks/gradbench/table.py --quick", "date": "D",
            "machine": "M", "load_before": "L1", "load_after": "L2", "versions": "V",
            "sizes": "S", "note": "old"}
    (logs / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "t.md"
    proc = subprocess.run([sys.executable, str(TABLE), "--no-run", "--evals", "lse",
                           "--tools", "graphc", "--logs", str(logs), "--out", str(out),
                           "--note", "new note"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "new note" in text and "old" not in text
    assert "- Command: `python benchmarks/gradbench/table.py --quick`" in text
    assert "- Load before: `L1`" in text and "- Load after: `L2`" in text
    assert _rows(text)[1] == ["lse", "primal", "n=10", "yes", "3 µs", "2 µs"]


@pytest.mark.slow
def test_hello_with_every_tool(tmp_path):
    """``run --tool`` starts GradBench's own tools: each log's start response names the
    tool, and each tool's 8 outputs validate (the C++ tool is compiled by its define)."""
    _needs_gradbench(jax=True)
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    text, logs = _run_table(tmp_path, "--evals", "hello")
    for tool in table.TOOLS:
        session = table.parse_log(table.log_path(logs, "hello", tool).read_text()
                                  .splitlines())
        assert session["tool"] == tool
        assert len(session["records"]) == 8
        assert all(r["success"] and r["valid"] for r in session["records"])
        assert f"| hello | {tool} | ok |" in text
    rows = _rows(text)
    assert len(rows) == 9 and all(r[-1].endswith("×") for r in rows[1:])
