"""The ``graphc`` command line.

Each group of subcommands lives in a module of :mod:`graphc.commands` that defines
``register(subparsers)``; this file only assembles them and turns graphc's errors into
one-line messages and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .ir import GraphcError

COMMAND_MODULES = ("core", "corpus", "trace", "compile", "cache")
"""Modules of graphc.commands that add subcommands (missing ones are skipped)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a check failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except GraphcError as exc:
        print(f"graphc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `graphc corpus | head`
        return 0
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
