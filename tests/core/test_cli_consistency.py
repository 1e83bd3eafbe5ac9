"""One spelling per concept across every ``graphc`` subcommand (issue 17, part 4).

Every case is generated from the argparse parsers themselves (graphc.cli.build_parser):
each option name means one thing wherever it appears, options with a fixed set of words
draw them from one set per concept (graphc.commands._common.CHOICES), no two option
names offer the same choice, no list option swallows a positional argument, every
deprecated spelling still works with a one-line note, and ``--mode fwd|rev`` without a
seed says how to give one on the command line. Ground truth for the numbers: NumPy and
central finite differences.
"""

import argparse
import re
import shlex
from itertools import combinations

import numpy as np
import pytest

from graphc.cli import _subparser, build_parser, main
from graphc.commands import _common
from graphc.commands._common import CHOICES, DEPRECATED, LIST_OPTIONS, assignment
from graphc.ir import GraphcError

PARSER = build_parser()
SUB = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction))
SUBCOMMANDS = dict(SUB.choices)


def _visible(sp):
    return [a for a in sp._actions if a.option_strings and a.help != argparse.SUPPRESS
            and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]


def _hidden(sp):
    return [a for a in sp._actions if a.option_strings and a.help == argparse.SUPPRESS]


OPTIONS: dict[str, list] = {}          # option string -> [(subcommand, action)]
for _name, _sp in SUBCOMMANDS.items():
    for _a in _visible(_sp):
        for _o in _a.option_strings:
            OPTIONS.setdefault(_o, []).append((_name, _a))
CHOICE_OPTIONS = sorted({(n, a.option_strings[-1]) for o, uses in OPTIONS.items()
                         for n, a in uses if a.choices})
MANY_TOKEN = sorted({(n, a.option_strings[-1]) for o, uses in OPTIONS.items()
                     for n, a in uses if a.nargs in ("+", "*")})
LISTS = sorted({(n, o) for o in LIST_OPTIONS for n, a in OPTIONS.get(o, [])})
POSITIONAL = {n: next(a for a in sp._actions if not a.option_strings and a.dest != "help")
              for n, sp in SUBCOMMANDS.items()
              if any(not a.option_strings and a.dest != "help" for a in sp._actions)}


def _signature(a) -> tuple:
    """What an option does, apart from its help text, default and (checked separately)
    its choices."""
    return (a.dest, a.nargs, a.const, getattr(a.type, "__name__", a.type),
            type(a).__name__, tuple(a.option_strings))


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(status, err, *fragments):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0], err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_the_tables_are_not_empty():
    assert {"eval", "grad", "hessian", "trace", "graph", "compile", "corpus"} <= set(SUBCOMMANDS)
    assert len(OPTIONS) > 20 and len(CHOICE_OPTIONS) >= 8 and LISTS and MANY_TOKEN


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_an_option_name_means_one_thing_in_every_subcommand(option):
    sigs = {}
    for name, a in OPTIONS[option]:
        sigs.setdefault(_signature(a), []).append(name)
    assert len(sigs) == 1, f"{option} has {len(sigs)} meanings: {sigs}"
    if any(a.choices for _, a in OPTIONS[option]):
        assert all(a.choices for _, a in OPTIONS[option]), option


@pytest.mark.parametrize("cmd, option", CHOICE_OPTIONS)
def test_choices_come_from_the_one_set_of_their_concept(cmd, option):
    a = next(a for a in _visible(SUBCOMMANDS[cmd]) if option in a.option_strings)
    assert option in CHOICES, f"{cmd} {option}: add its word set to _common.CHOICES"
    assert set(a.choices) <= set(CHOICES[option]), (cmd, option, a.choices)
    # the order is the canonical one, so --help lists the words alike everywhere
    assert list(a.choices) == [c for c in CHOICES[option] if c in a.choices]


@pytest.mark.parametrize("first, second", list(combinations(sorted(
    {o for _, o in CHOICE_OPTIONS}), 2)))
def test_no_two_option_names_offer_the_same_choice(first, second):
    """Two names whose word sets mostly overlap (``--ad grad|rev|fwd`` and ``--mode
    fwd|rev``) are one concept spelt twice."""
    def words(o):
        return set().union(*(set(a.choices) for _, a in OPTIONS[o]))
    a, b = words(first), words(second)
    assert len(a & b) * 2 <= min(len(a), len(b)), (first, a, second, b)


@pytest.mark.parametrize("cmd, option", MANY_TOKEN)
def test_options_taking_several_tokens_cannot_take_the_positional(cmd, option, capsys):
    """An option with nargs='+' must reject a token that is not its kind (NAME=VALUE),
    and the error says where the expression belongs."""
    a = next(a for a in _visible(SUBCOMMANDS[cmd]) if option in a.option_strings)
    assert a.type is assignment, (cmd, option)
    if cmd in POSITIONAL:
        with pytest.raises(SystemExit) as exc:
            main([cmd, option, "x=1", "sin(x) + y"])
        one_line_error(exc.value.code, capsys.readouterr().err, "is not NAME=VALUE",
                       "before the options")


@pytest.mark.parametrize("cmd, option", LISTS)
def test_list_options_take_one_comma_list_and_never_the_positional(cmd, option, capsys):
    sp = SUBCOMMANDS[cmd]
    dest = next(a.dest for a in _visible(sp) if option in a.option_strings)
    pos = POSITIONAL[cmd].dest
    expr = "x*y" if pos == "expression" else "corpus.csv"

    def parse(*argv):
        argv = [cmd, *argv]
        args, extras = PARSER.parse_known_args(argv)
        extras = _common.fix_list_options(_subparser(PARSER, cmd), args, extras, argv)
        return args, extras

    for argv in ([option, "x,y", expr], [option, "x", option, "y", expr],
                 [expr, option, "x,y"], [option, "x", expr, option, "y"]):
        args, extras = parse(*argv)
        assert getattr(args, dest) == ["x", "y"] and getattr(args, pos) == expr, argv
        assert extras == [] and capsys.readouterr().err == ""
    # the old space-separated form after the positional: unambiguous, still works
    args, extras = parse(expr, option, "x", "y")
    assert getattr(args, dest) == ["x", "y"] and getattr(args, pos) == expr
    assert extras == []
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "deprecated" in note[0] and f"{option} x,y" in note[0]
    # before the positional: ambiguous (is y a name or the expression?): a clear error
    with pytest.raises(GraphcError) as exc:
        parse(option, "x", "y", expr)
    msg = str(exc.value)
    assert f"{option} x,y,{expr}" in msg and f"graphc {cmd} {shlex.quote(expr)} {option} x,y" in msg


def test_the_issues_example_eval_inputs_x_y_expression(capsys):
    status, out, err = run(capsys, "eval", "--inputs", "x", "y", "x*y", "--at", "x=2", "y=3")
    one_line_error(status, err, "ambiguous", "--inputs x,y")
    assert out == ""
    # the spelling the error suggests works, with the inputs in the order given
    hint = re.search(r"\(graphc (.*)\)$", err.strip()).group(1)
    status, out, _ = run(capsys, *shlex.split(hint), "--at", "x=2", "y=3")
    assert status == 0 and out.strip() == f"f = {np.multiply(2.0, 3.0):g}"
    status, out, _ = run(capsys, "eval", "--inputs", "y,x", "x - y", "--emit", "ir")
    assert out.startswith("graph (y, x) -> (f)")


DEPRECATED_CASES = {
    # old spelling -> (old argv, the argv of the new spelling)
    "trace --seed": (["trace", "x1*x2 + sin(x1)", "--at", "x1=2", "x2=5", "--mode", "fwd",
                      "--seed", "x1=1"],
                     ["trace", "x1*x2 + sin(x1)", "--at", "x1=2", "x2=5", "--mode", "fwd",
                      "--tangent", "x1=1"]),
    "graph --ad": (["graph", "x1*x2 + sin(x1)", "--ad", "grad", "--format", "text"],
                   ["graph", "x1*x2 + sin(x1)", "--grad", "--format", "text"]),
}


def test_every_deprecated_spelling_has_a_case():
    assert set(DEPRECATED_CASES) == set(DEPRECATED)
    hidden = {f"{n} {o}" for n, sp in SUBCOMMANDS.items() for a in _hidden(sp)
              for o in a.option_strings}
    assert hidden == set(DEPRECATED)


@pytest.mark.parametrize("key", sorted(DEPRECATED_CASES))
def test_a_deprecated_spelling_works_and_says_so_in_one_line(key, capsys):
    old, new = DEPRECATED_CASES[key]
    status, out_old, err = run(capsys, *old)
    assert status == 0, err
    assert err.strip().splitlines() == [DEPRECATED[key]]
    assert "deprecated" in err
    status, out_new, err = run(capsys, *new)
    assert status == 0 and err == "" and out_new == out_old
    cmd, flag = key.split()
    assert flag not in SUBCOMMANDS[cmd].format_help()


def test_graph_ad_words_map_to_the_new_spellings(capsys):
    for old, new in (("rev", ["--mode", "rev"]), ("fwd", ["--mode", "fwd"])):
        _, out_old, _ = run(capsys, "graph", "x*y", "--ad", old, "--format", "text")
        _, out_new, _ = run(capsys, "graph", "x*y", *new, "--format", "text")
        assert out_old == out_new and out_new.startswith("graph (x, y")


@pytest.mark.parametrize("n", [2, 3, 4])
def test_fwd_without_a_seed_says_how_to_give_it_on_the_command_line(n, capsys):
    """fwd over several inputs needs a tangent: the error names the CLI option with a
    complete NAME=VALUE, not Python's ``seed={...}``; the suggested command runs and its
    tangent matches a central finite difference (NumPy)."""
    names = [f"x{i}" for i in range(1, n + 1)]
    expr = " + ".join(f"{a}*sin({b})" for a, b in zip(names, names[1:] + names[:1]))
    at = {nm: 0.5 + i for i, nm in enumerate(names)}
    argv = ["trace", expr, "--at", *(f"{k}={v}" for k, v in at.items()), "--mode", "fwd",
            "--format", "text"]
    status, _, err = run(capsys, *argv)
    one_line_error(status, err, "--tangent x1=1", "seed", f"{n} inputs")
    assert "seed=" not in err and "{" not in err
    suggestion = re.search(r"(--tangent \S+=1)", err).group(1).split()
    status, out, err = run(capsys, *argv, *suggestion)
    assert status == 0, err

    def f(x):
        return sum(x[i] * np.sin(x[(i + 1) % n]) for i in range(n))
    x = np.array(list(at.values()))
    e = np.eye(n)[0] * 1e-6
    fd = (f(x + e) - f(x - e)) / 2e-6
    assert float(out.strip().splitlines()[-1].rsplit("=", 1)[1]) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("mode, wrong", [("rev", "--tangent"), ("fwd", "--adjoint"),
                                         ("primal", "--tangent"), ("primal", "--adjoint")])
def test_a_seed_for_the_other_mode_is_an_error(mode, wrong, capsys):
    status, _, err = run(capsys, "trace", "x1*x2", "--at", "x1=2", "x2=5", "--mode", mode,
                         wrong, "x1=1")
    one_line_error(status, err, wrong, f"--mode {mode}")
