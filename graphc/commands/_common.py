"""Helpers shared by the CLI subcommands: ``--at`` parsing and number formatting."""

from __future__ import annotations

import math

from ..ir import GraphcError


def parse_assignments(items: list[str] | None, what: str = "--at") -> dict[str, float]:
    """``["x1=2", "x2=5"]`` to ``{"x1": 2.0, "x2": 5.0}`` (numbers only; never eval).

    Raises:
        GraphcError: an item without ``=`` or with a value that is not a number.
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
            try:
                out[name.strip()] = float(value)
            except ValueError:
                raise GraphcError(f"{what} {name.strip()}: {value!r} is not a number") from None
    return out


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


def add_common_arguments(p, at: bool = True) -> None:
    p.add_argument("expression", help="expression or program, e.g. 'ln(x1) + x1*x2 - sin(x2)'")
    p.add_argument("--inputs", nargs="+", metavar="NAME",
                   help="input names in order (default: order of first appearance)")
    if at:
        p.add_argument("--at", nargs="+", metavar="NAME=VALUE", default=[],
                       help="the point, e.g. --at x1=2 x2=5")


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
