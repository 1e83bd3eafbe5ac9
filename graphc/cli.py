"""The ``graphc`` command line.

Each group of subcommands lives in a module of :mod:`graphc.commands` that defines
``register(subparsers)``; this file only assembles them and turns graphc's errors (and
files that cannot be read or written) into one-line messages and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .commands._common import fix_list_options
from .ir import GraphcError

COMMAND_MODULES = ("core", "corpus", "trace", "compile", "cache")
"""Modules of graphc.commands that add subcommands (missing ones are skipped)."""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line, like graphc's other errors:
    ``graphc eval: error: MESSAGE (see graphc eval --help)``, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``graphc`` parser: one subparser per subcommand (see :data:`COMMAND_MODULES`);
    usage errors are one line (:class:`Parser`)."""
    parser = Parser(
        prog="graphc",
        description="Parse, differentiate, compile and draw mathematical expressions.")
    parser.add_argument("--version", action="version",
                        version=f"graphc {__import__('graphc').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"graphc.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"graphc.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a check failed, 2 bad input)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extras = parser.parse_known_args(argv)
    try:
        command = _subparser(parser, args.command)
        extras = fix_list_options(command, args, extras, argv)
        if extras:
            command.error(f"unrecognized arguments: {' '.join(extras)}")
        status = args.func(args)
    except GraphcError as exc:
        print(f"graphc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `graphc corpus | head`
        return 0
    except OSError as exc:  # a file the user named cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"graphc {args.command}: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
