"""The command line, run as a user would (in-process through graphc.cli.main, and once
as a real subprocess)."""

import json
import subprocess
import sys

import pytest

from graphc.cli import main

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_grad_prints_value_and_partials(capsys):
    status, out, _ = run(capsys, "grad", BAYDIN, "--at", "x1=2", "x2=5")
    assert status == 0
    assert out.strip() == "f = 11.652071  df/dx1 = 5.5  df/dx2 = 1.716338"
    status, out2, _ = run(capsys, "grad", BAYDIN, "--at", "x1=2", "x2=5", "--mode", "fwd")
    assert out2 == out
    status, out3, _ = run(capsys, "grad", BAYDIN, "--at", "x1=2", "x2=5", "--target", "numpy")
    assert out3 == out


def test_eval_and_hessian(capsys):
    assert run(capsys, "eval", "x^2 + 1", "--at", "x=3")[1].strip() == "f = 10"
    status, out, _ = run(capsys, "hessian", BAYDIN, "--at", "x1=2", "x2=5")
    lines = out.splitlines()
    assert lines[1].split() == ["x1", "-0.25", "1"]
    assert lines[2].split() == ["x2", "1", "-0.958924"]


def test_emit_ir_and_llvm(capsys):
    status, out, _ = run(capsys, "grad", BAYDIN, "--emit", "ir")
    assert out.startswith("graph (x1, x2) -> (f, df/dx1, df/dx2)")
    status, out, _ = run(capsys, "grad", BAYDIN, "--emit", "llvm")
    assert "define void @" in out and "sin" in out and "fmul " in out


@pytest.mark.parametrize("argv, fragment", [
    (["grad", "x +", "--at", "x=1"], "column 4"),
    (["grad", "x*y", "--at", "x=1"], "no value for input(s) y"),
    (["grad", "x*y", "--at", "x=1", "y=oops"], "is not a number"),
    (["eval", "x", "--at", "x=1", "z=2"], "does not use"),
    (["corpus", "/nonexistent.csv"], "cannot read corpus"),
])
def test_errors_exit_2_with_a_message(capsys, argv, fragment):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert fragment in err


def test_corpus_json_on_a_subset(capsys):
    status, out, _ = run(capsys, "corpus", "--json", "-n", "1000",
                         "--ids", "I.6.2a,II.35.21", "--ids", "I.26.2")
    assert status == 0
    data = json.loads(out)
    assert [r["id"] for r in data["rows"]] == ["I.6.2a", "I.26.2", "II.35.21"]
    assert all(r["ok"] and r["reason"] == "" for r in data["rows"])
    assert data["summary"]["passed"] == 3 and data["summary"]["failed"] == 0
    assert data["rows"][0]["grad_ops"] > data["rows"][0]["ops"] > 0


def test_corpus_reports_bad_rows_and_goes_on(tmp_path, capsys):
    csv = tmp_path / "c.csv"
    csv.write_text("id,formula,variables,low,high\n"
                   "good,x*y,x;y,1;1,2;2\n"
                   "bad,x*+*y,x;y,1;1,2;2\n"
                   "unknown,foo(x),x,1,2\n"
                   "alsogood,exp(x),x,0,1\n")
    status, out, _ = run(capsys, "corpus", str(csv), "--json", "-n", "100")
    rows = {r["id"]: r for r in json.loads(out)["rows"]}
    assert status == 1
    assert rows["good"]["ok"] and rows["alsogood"]["ok"]
    assert not rows["bad"]["ok"] and "ParseError" in rows["bad"]["reason"]
    assert "unknown function 'foo'" in rows["unknown"]["reason"]


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "graphc", "grad", BAYDIN, "--at", "x1=2",
                          "x2=5"], capture_output=True, text=True, check=True).stdout
    assert "df/dx2 = 1.716338" in out
