"""Helpers shared by the CLI subcommands: ``--at`` parsing, output files and number
formatting. Every problem with what the user typed is a :class:`graphc.GraphcError`, which
:func:`graphc.cli.main` prints as one line with exit status 2."""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path
from typing import Any

from ..frontend.parser import parse_number
from ..ir import GraphcError
from ..passes.pipeline import PASSES


def add_point(point: dict, name: str, value: Any, what: str = "--at") -> None:
    """Set ``point[name] = value``, refusing a name given twice (``--at x=1 x=2``).

    Raises:
        GraphcError: ``name`` is already in ``point``.
    """
    if name in point:
        raise GraphcError(f"{what} gives {name} twice; give each input once")
    point[name] = value


def parse_assignments(items: list[str] | None, what: str = "--at") -> dict[str, float]:
    """``["x1=2", "x2=5"]`` (or ``["x1=2,x2=5"]``) to ``{"x1": 2.0, "x2": 5.0}``.

    Values are ASCII numbers with an optional sign, exponent, ``inf`` or ``nan``
    (:func:`graphc.frontend.parser.parse_number`; never eval, and never ``float()``,
    which would read ``"١"`` as 1).

    Raises:
        GraphcError: an item without ``=``, a value that is not such a number (naming a
            non-ASCII digit), or a name given twice.
    """
    out: dict[str, float] = {}
    for item in items or []:
        for part in item.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise GraphcError(f"{what} expects name=value pairs such as x1=2, "
                                  f"got {part!r}")
            name = name.strip()
            add_point(out, name, parse_number(value, f"{what} {name}"), what)
    return out


def ascii_int(text: str) -> int:
    """The argparse ``type`` of integer options: ASCII digits with an optional sign
    (``int()`` would read ``"١٠"`` as 10).

    Raises:
        argparse.ArgumentTypeError: anything else (argparse prints it, exit status 2).
    """
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip(" \t")):
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer in ASCII digits")
    return int(text)


def check_output(path: str | os.PathLike | None, option: str = "-o") -> None:
    """Before any work: ``path`` (when given) can be created, i.e. its directory exists
    and ``path`` is not a directory.

    Raises:
        GraphcError: naming the option, the file and what is wrong.
    """
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise GraphcError(f"{option} {os.fspath(path)}: is a directory; give a file name")
    if not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        raise GraphcError(f"{option} {os.fspath(path)}: directory {os.fspath(parent)} "
                          f"{why}; create it first or write elsewhere")


def write_output(path: str | os.PathLike, data: str | bytes, option: str = "-o") -> None:
    """Write ``data`` (text as UTF-8) to ``path``.

    Raises:
        GraphcError: the file cannot be written (missing directory, permissions, a
            directory of that name, a full disk), naming the option and the file.
    """
    check_output(path, option)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        Path(path).write_bytes(payload)
    except OSError as exc:
        raise GraphcError(f"{option} {os.fspath(path)}: cannot write "
                          f"({exc.strerror or exc})") from None


def format_number(v: float) -> str:
    """Six decimals for ordinary magnitudes (trailing zeros dropped), else 7 significant
    digits: 11.652071, 5.5, 1.716338, 1.234568e-09."""
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == 0 or 1e-4 <= abs(v) < 1e7:
        text = f"{v:.6f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return f"{v:.7g}"


# -- one spelling per concept (docs/cli.md, "One name per concept") ---------------------

MODES = ("primal", "fwd", "rev")
"""The words of ``--mode`` in every subcommand: no derivative, forward (tangent) mode,
reverse (adjoint) mode. A subcommand offers those that make sense for it."""

TARGETS = ("llvm", "numpy", "cuda")
"""The words of ``--target``: where a graph is compiled to or run."""

EMITS = ("ir", "llvm", "ptx", "source")
"""The words of ``--emit``: graph IR, LLVM IR, PTX, CUDA kernel source."""

FORMATS = ("text", "md", "tex", "html", "html-table", "svg", "png", "pdf", "dot")
"""The words of ``--format``."""

VIEWS = ("graph", "primal", "tangent", "adjoint", "combined")
"""The words of ``--view``: which diagram of a trace."""

DTYPES = ("float64", "float32")
"""The words of ``--dtype``."""

CHOICES = {"--mode": MODES, "--target": TARGETS, "--emit": EMITS, "--format": FORMATS,
           "--view": VIEWS, "--dtype": DTYPES, "--pass": tuple(PASSES)}
"""Every option with a fixed set of words, and the one set its words come from
(checked over every subcommand by tests/core/test_cli_consistency.py)."""

LIST_OPTIONS = ("--inputs", "--wrt", "--ids")
"""Options that take a list of names as one comma-separated argument (repeatable), so
they never swallow a positional argument: ``--inputs x,y`` or ``--inputs x --inputs y``."""

DEPRECATED: dict[str, str] = {}
"""``"subcommand old-flag"`` -> the note printed (one line on stderr) when it is used.
Deprecated spellings are hidden from ``--help`` and still work; filled by
:func:`add_deprecated`."""


class NameList(argparse.Action):
    """``--inputs x,y`` / ``--inputs x --inputs y``: one argument per use, split at
    commas, appended in order (``nargs=None``, so a following positional argument is
    never taken for a name)."""

    def __call__(self, parser, namespace, values, option_string=None):
        names = [v.strip() for v in str(values).split(",")]
        if not all(names):
            parser.error(f"argument {option_string}: empty name in {values!r}; write "
                         f"{option_string} a,b (comma-separated, no empty items)")
        items = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, items + names)


def add_name_list(p, flag: str, help: str) -> None:
    """Add one of :data:`LIST_OPTIONS` to parser ``p`` (see :class:`NameList`)."""
    assert flag in LIST_OPTIONS, flag
    p.add_argument(flag, action=NameList, metavar="NAME[,NAME...]", default=None,
                   help=help + " (comma-separated, or repeat the option)")


def assignment(text: str) -> str:
    """The argparse ``type`` of ``NAME=VALUE`` list options (``--at``, ``--tangent``,
    ``--adjoint``): an item must contain ``=``, so an expression that follows such an
    option by mistake gets an error saying where it belongs.

    Raises:
        argparse.ArgumentTypeError: ``text`` has no ``=``.
    """
    if "=" not in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE; if it is the expression, put it before the "
            f"options (graphc eval 'x*y' --at x=2 y=3)")
    return text


def add_deprecated(p, command: str, flag: str, note: str, **kwargs) -> None:
    """Add ``flag`` to parser ``p`` as a hidden, deprecated spelling that still works:
    when used it prints ``graphc COMMAND: note: FLAG is deprecated; NOTE`` on stderr and
    then acts as ``kwargs`` say (passed to ``add_argument``)."""
    message = f"graphc {command}: note: {flag} is deprecated; {note}"
    DEPRECATED[f"{command} {flag}"] = message
    action = kwargs.pop("action", "store")
    base = p._registry_get("action", action, action)

    class _Deprecated(base):
        def __call__(self, parser, namespace, values, option_string=None):
            import sys
            print(message, file=sys.stderr)
            super().__call__(parser, namespace, values, option_string)

    p.add_argument(flag, action=_Deprecated, help=argparse.SUPPRESS, **kwargs)


def add_common_arguments(p, at: bool = True) -> None:
    """The positional expression, ``--inputs`` and (``at=True``) ``--at`` of the
    subcommands that take one expression."""
    p.add_argument("expression", help="expression or program, e.g. 'ln(x1) + x1*x2 - sin(x2)'")
    add_name_list(p, "--inputs", "input names in order (default: natural order of "
                                 "the names, x1 < x2 < x10 < y), e.g. --inputs x1,x2")
    if at:
        p.add_argument("--at", nargs="+", metavar="NAME=VALUE", default=[], type=assignment,
                       help="the point, e.g. --at x1=2 x2=5")


def fix_list_options(parser, args, extras: list[str], argv: list[str]) -> list[str]:
    """After ``parse_known_args``: resolve the old space-separated form of
    :data:`LIST_OPTIONS` (``--inputs x y``). When the names after the option are all
    left over and none of them is the subcommand's positional argument, the old form was
    unambiguous: they are appended (with a deprecation note on stderr). Returns the
    tokens still left over.

    Raises:
        GraphcError: the names run into a positional argument (``--inputs x y "x*y"``:
            is ``y`` the expression?), saying how to write it.
    """
    import shlex
    import sys
    # the values of the positional arguments; an optional one (corpus's FILE) that
    # follows the names may have been meant as a name
    positional, optional = [], []
    for a in parser._actions:
        v = getattr(args, a.dest, None)
        if not a.option_strings and isinstance(v, str):
            positional.append(v)
            if a.nargs == "?":
                optional.append(v)
    extras = list(extras)
    for i, token in enumerate(argv):
        if token not in LIST_OPTIONS:
            continue
        run = []
        for t in argv[i + 1:]:
            if t.startswith("-"):
                break
            run.append(t)
        if len(run) < 2:
            continue
        rest = run[1:]
        dest = token.lstrip("-")
        new_form = "," in run[0] or argv.count(token) > 1  # --ids a,b / --ids a --ids b
        if not any(t in extras for t in rest) and (new_form or
                                                   not any(v in rest for v in optional)):
            continue  # the new form: --inputs x,y EXPRESSION, nothing left over
        if any(v in rest for v in positional) or not all(t in extras for t in rest):
            pos = next((a.dest.upper() if a.nargs == "?" else a.dest for a in parser._actions
                        if not a.option_strings and a.dest != "help"), "argument")
            raise GraphcError(
                f"{token} {' '.join(run)} is ambiguous: {token} takes one comma-separated "
                f"list; write {token} {','.join(run)} if these are all names, or give the "
                f"{pos} first (graphc {args.command} {shlex.quote(run[-1])} {token} "
                f"{','.join(run[:-1])})")
        for t in rest:
            extras.remove(t)
        names = [n.strip() for t in rest for n in t.split(",") if n.strip()]
        setattr(args, dest, list(getattr(args, dest) or []) + names)
        print(f"graphc {args.command}: note: '{token} {' '.join(run)}' is deprecated; "
              f"write {token} {','.join(run)}", file=sys.stderr)
    return extras


def check_point(graph, point: dict) -> None:
    """Every input of ``graph`` has a value in ``point`` and ``point`` names no other.

    Raises:
        GraphcError: names the missing or unknown inputs and shows a complete ``--at``.
    """
    missing = [n for n in graph.input_names if n not in point]
    if missing:
        raise GraphcError(f"no value for input(s) {', '.join(missing)}; give them with "
                          f"--at, e.g. --at {' '.join(n + '=1' for n in graph.input_names)}")
    unknown = [n for n in point if n not in graph.input_names]
    if unknown:
        raise GraphcError(f"--at names {', '.join(unknown)} that the expression does not "
                          f"use; its inputs are {', '.join(graph.input_names)}")
