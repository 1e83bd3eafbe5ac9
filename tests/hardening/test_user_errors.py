"""Every error a user can cause on the command line is one line on stderr and exit
status 2 (never a traceback, never a silent success), and in Python a GraphcError.

The cases are generated from the CLI itself (every subcommand with ``-o``, every option
taking ``NAME=VALUE`` points), from Unicode (every decimal digit outside ASCII, which
Python's ``float()`` accepts), and from the corpus format (every needed column missing,
every way a CSV can be broken). Ground truth for digits: ``unicodedata``.
"""

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.cli import build_parser, main
from graphc.commands._common import parse_assignments
from graphc.corpus import CORPUS_COLUMNS, read_corpus
from graphc.frontend.parser import parse_number


def _subcommands() -> dict:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(sub.choices)


SUBCOMMANDS = _subcommands()


def _options(sp) -> set[str]:
    return {o for a in sp._actions for o in a.option_strings}


WITH_OUTPUT = sorted(n for n, sp in SUBCOMMANDS.items() if "-o" in _options(sp))
POINT_OPTIONS = sorted((n, a.option_strings[-1]) for n, sp in SUBCOMMANDS.items()
                       for a in sp._actions if a.metavar == "NAME=VALUE")
NON_ASCII_DIGITS = [chr(c) for c in range(0x80, 0x110000)
                    if chr(c).isdecimal()]
ONE_PER_SCRIPT = [d for d in NON_ASCII_DIGITS if unicodedata.decimal(d) == 1]


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("graphc ") and ": error: " in lines[0]
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def _argv_for(cmd: str, *extra: str) -> list[str]:
    argv = [cmd, "sin(x) * y"]
    if "--at" in _options(SUBCOMMANDS[cmd]):
        argv += ["--at", "x=1", "y=2"]
    return argv + list(extra)


# -- output files ------------------------------------------------------------------------

def test_the_cli_has_output_and_point_options():
    assert {"trace", "graph", "compile"} <= set(WITH_OUTPUT)
    assert ("trace", "--at") in POINT_OPTIONS and ("eval", "--at") in POINT_OPTIONS


@pytest.mark.parametrize("cmd", WITH_OUTPUT)
@pytest.mark.parametrize("name", ["out.dot", "out.svg", "out.txt"])
def test_output_into_a_missing_directory(cmd, name, tmp_path, capsys):
    target = tmp_path / "no" / "such" / name
    status, out, err = run_cli(capsys, *_argv_for(cmd, "-o", str(target)))
    assert_one_line_error(status, err, str(target), "does not exist")
    assert not target.parent.exists()


@pytest.mark.parametrize("cmd", WITH_OUTPUT)
def test_output_onto_a_directory_or_under_a_file(cmd, tmp_path, capsys):
    status, _, err = run_cli(capsys, *_argv_for(cmd, "-o", str(tmp_path)))
    assert_one_line_error(status, err, "is a directory")
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    status, _, err = run_cli(capsys, *_argv_for(cmd, "-o", str(a_file / "out.dot")))
    assert_one_line_error(status, err, "is not a directory")


# -- points: duplicates and digits -------------------------------------------------------

@pytest.mark.parametrize("cmd, option", POINT_OPTIONS)
@pytest.mark.parametrize("given", [["x=1", "x=2"], ["x=1,x=2"], ["x=1", "y=2", " x =3"]])
def test_a_name_given_twice_is_an_error(cmd, option, given, capsys):
    argv = [cmd, "sin(x) * y"]
    if option != "--at":
        argv += ["--at", "x=1", "y=2"]
    status, _, err = run_cli(capsys, *argv, option, *given)
    assert_one_line_error(status, err, option, "x twice")


def test_non_ascii_digits_are_what_float_reads_and_what_graphc_refuses():
    assert len(NON_ASCII_DIGITS) > 600            # every script's digits, from Unicode
    for d in NON_ASCII_DIGITS:
        assert float(d) == unicodedata.decimal(d)  # the trap: float() reads them
        with pytest.raises(gc.ParseError, match=f"U\\+{ord(d):04X}"):
            parse_number(f"1{d}", "--at x")
        with pytest.raises(gc.GraphcError):
            parse_assignments([f"x={d}"])
        with pytest.raises(gc.ParseError, match="ASCII"):
            gc.parse(f"x + {d}")
    assert parse_assignments(["x=-1.5e3", "y=inf,z=.5"]) == {"x": -1500.0, "y": float("inf"),
                                                            "z": 0.5}


INT_OPTIONS = sorted((n, a.option_strings[-1], a.type) for n, sp in SUBCOMMANDS.items()
                     for a in sp._actions
                     if a.option_strings and getattr(a.type, "__name__", "") in ("int",
                                                                               "ascii_int"))


@pytest.mark.parametrize("cmd, option, kind", INT_OPTIONS, ids=lambda v: getattr(v, "__name__", v))
def test_integer_options_refuse_non_ascii_digits(cmd, option, kind, capsys):
    assert kind is not int          # int("١٠") == 10: every integer option reads ASCII
    argv = [cmd] + (["x"] if cmd != "corpus" else []) + [option, "\u0661\u0660"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "ASCII" in capsys.readouterr().err


@pytest.mark.parametrize("digit", ONE_PER_SCRIPT, ids=lambda d: f"U+{ord(d):04X}")
def test_cli_refuses_non_ascii_digits(digit, capsys):
    status, out, err = run_cli(capsys, "eval", "x + 1", "--target", "numpy", "--at",
                               f"x={digit}")
    assert_one_line_error(status, err, "--at x", f"U+{ord(digit):04X}")
    assert out == ""


# -- corpus files --------------------------------------------------------------------------

HEADER = ",".join(CORPUS_COLUMNS)
GOOD_ROW = "r1,x*y,x;y,1;1,2;2"


def _corpus(tmp_path: Path, data: bytes | str) -> Path:
    p = tmp_path / "corpus.csv"
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


@pytest.mark.parametrize("keep", range(1, len(CORPUS_COLUMNS)))
def test_corpus_row_with_missing_cells(keep, tmp_path, capsys):
    row = ",".join(GOOD_ROW.split(",")[:keep])
    path = _corpus(tmp_path, f"{HEADER}\n{GOOD_ROW}\n{row}\n")
    with pytest.raises(gc.GraphcError, match="line 3"):
        read_corpus(path)
    status, _, err = run_cli(capsys, "corpus", str(path), "-n", "10", "--quiet")
    missing = ", ".join(CORPUS_COLUMNS[keep:])
    assert_one_line_error(status, err, str(path), "line 3", f"missing {missing}")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_corpus_not_utf8(encoding, tmp_path, capsys):
    text = f"{HEADER},note\n{GOOD_ROW},Schrödinger\n"
    path = _corpus(tmp_path, text.encode(encoding))
    with pytest.raises(gc.GraphcError, match="not UTF-8"):
        read_corpus(path)
    status, _, err = run_cli(capsys, "corpus", str(path), "-n", "10", "--quiet")
    assert_one_line_error(status, err, str(path), "not UTF-8")


@pytest.mark.parametrize("data, fragment", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    (HEADER + "\n", "no formulas"),
    (HEADER + "\n,,,,\n", "no formulas"),
    ("id,formula\nr1,x\n", "lacks column(s) variables, low, high"),
    (f"{HEADER}\nr1,max(x, 1),x,1,2\n", "6 cells where the header has 5"),
    (f"{HEADER}\nr1,,x,1,2\n", "formula cell is empty"),
    (f"{HEADER}\n,x,x,1,2\n", "id cell is empty"),
    (f"{HEADER}\nr1,x,x,1,two\n", "high: 'two' is not a number"),
    (f"{HEADER}\nr1,x,x,\u0661,2\n", "U+0661"),
], ids=["empty", "blank-lines", "header-only", "empty-row", "columns", "extra-cell",
        "no-formula", "no-id", "bad-bound", "arabic-digit"])
def test_corpus_format_errors(data, fragment, tmp_path, capsys):
    path = _corpus(tmp_path, data)
    with pytest.raises(gc.GraphcError):
        read_corpus(path)
    status, out, err = run_cli(capsys, "corpus", str(path), "-n", "10", "--quiet")
    assert_one_line_error(status, err, fragment)
    assert "passed" not in out


@pytest.mark.parametrize("argv, fragment", [(["-n", "1"], "-n must be at least 2"),
                                             (["--seed", "-1"], "--seed must be")])
def test_corpus_numeric_options_out_of_range(argv, fragment, capsys):
    status, _, err = run_cli(capsys, "corpus", "--ids", "I.6.2a", "--quiet", *argv)
    assert_one_line_error(status, err, fragment)


def test_corpus_unknown_ids(capsys):
    status, _, err = run_cli(capsys, "corpus", "--ids", "I.6.2a", "no.such.id", "-n", "10",
                             "--quiet")
    assert_one_line_error(status, err, "--ids", "no.such.id")


# -- Python ----------------------------------------------------------------------------------

def test_np_sin_on_a_traced_value_is_gc_sin():
    @gc.function
    def f(x):
        return np.sin(x) + np.sum(x)

    @gc.function
    def g(x):
        return gc.sin(x) + x

    # np.sum of a scalar is the scalar: the same graph as graphc's sum over no axes
    assert f.graph.outputs[0].args[0] is g.graph.outputs[0].args[0]
    assert f(0.5) == pytest.approx(np.sin(0.5) + 0.5, rel=1e-15)


def test_unsupported_numpy_function_in_a_traced_function_names_the_graphc_one():
    @gc.function
    def f(x):
        return np.trunc(x)  # no graphc primitive: the message says how to write it

    with pytest.raises(gc.GraphcError, match=r"np\.trunc.*gc\.floor"):
        f.graph

    @gc.function
    def g(x):
        return np.log2(x)  # has a graphc primitive: dispatches

    assert g.graph.outputs[0].prim.name == "log2"


def test_errors_exit_2_in_a_real_process(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for argv in (["eval", "x", "--at", "x=1", "x=2"],
                 ["graph", "x", "-o", str(tmp_path / "missing" / "g.dot")],
                 ["corpus", str(_corpus(tmp_path, ""))]):
        proc = subprocess.run([sys.executable, "-m", "graphc", *argv], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
