"""``graphc trace`` (evaluation-trace tables and diagrams) and ``graphc graph``
(computational-graph diagrams, of derived programs too, before and after passes).

Examples::

    graphc trace "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 --mode rev -o baydin.svg
    graphc trace "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 --mode fwd --tangent x1=1 --format md
    graphc trace "ln(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5 --format tex -o trace.tex
    graphc graph "x*1 + 0 + sin(x)*sin(x)" --pass simplify --pass cse -o before_after.svg
    graphc trace "l = sum(tanh(W @ x))" --at W=@w.npy x="[[1], [2]]" -o layer.svg

Array inputs: ``--at NAME=@FILE.npy`` (a NumPy ``.npy`` file, read without pickles) or
``--at NAME=JSON`` (a nested list such as ``"[[1, 2], [3, 4]]"``); in an expression
with array operations their shapes declare the inputs (:func:`graphc.tracing.parse_at`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .. import api
from ..ir import GraphcError, to_text
from ._common import (MODES, VIEWS, add_common_arguments, add_deprecated, add_point, ascii_int,
                      assignment, check_output, check_point, parse_assignments,
                      write_output)

TABLE_FORMATS = ("text", "md", "tex", "html", "html-table")  # html: the interactive page
DIAGRAM_FORMATS = ("svg", "png", "pdf", "dot")
_BINARY = ("png", "pdf")
_EXT = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
        ".md": "md", ".markdown": "md", ".tex": "tex", ".html": "html", ".htm": "html",
        ".txt": "text"}


def register(sub) -> None:
    """Add the ``trace`` and ``graph`` subcommands to ``sub`` (argparse subparsers)."""
    p = sub.add_parser(
        "trace", help="evaluation trace tables and diagrams (primal, tangent, adjoint)",
        description="Evaluate an expression at a point and print or draw its forward "
                    "primal trace and its tangent (--mode fwd) or adjoint (--mode rev) "
                    "trace, numbered as in Griewank & Walther and Baydin et al. (2018). "
                    "The output format comes from --format or the -o file's extension: "
                    "tables text, md, tex, html-table; html: an interactive page "
                    "(diagram, tables, stepping through the sweeps; self-contained); "
                    "diagrams svg, png, pdf, dot.")
    add_common_arguments(p)
    p.add_argument("--mode", choices=MODES, default="rev",
                   help="which derivative trace (default rev: the adjoint trace)")
    p.add_argument("--tangent", nargs="+", metavar="NAME=VALUE", default=None,
                   type=assignment,
                   help="--mode fwd: the input tangents ẋ, e.g. --tangent x1=1 (inputs "
                        "not named are 0; optional for a single input)")
    p.add_argument("--adjoint", nargs="+", metavar="NAME=VALUE", default=None,
                   type=assignment,
                   help="--mode rev: the output adjoints ȳ, e.g. --adjoint f=1 (optional "
                        "for a single output: 1)")
    add_deprecated(p, "trace", "--seed", "write --tangent NAME=VALUE (--mode fwd) or "
                   "--adjoint NAME=VALUE (--mode rev); --seed is corpus's random seed",
                   nargs="+", dest="seed", default=None, type=assignment)
    p.add_argument("--view", choices=VIEWS,
                   help="diagram view (default: primal, tangent or adjoint by mode)")
    _output_arguments(p, TABLE_FORMATS + DIAGRAM_FORMATS)
    p.set_defaults(func=run_trace)

    g = sub.add_parser(
        "graph", help="draw the computational graph, a derived graph, or a graph before "
                      "and after passes",
        description="Draw the computational graph of an expression (Graphviz). With "
                    "--grad, draw the gradient graph; with --mode fwd or rev, the "
                    "tangent (JVP) or adjoint (VJP) graph. With --pass "
                    "(repeatable), draw the graph before and after each named pass side "
                    "by side. --at prints values in the nodes.")
    add_common_arguments(g)
    g.add_argument("--mode", choices=MODES, default="primal",
                   help="primal (default): the expression's graph; fwd: its tangent (JVP) "
                        "graph; rev: its adjoint (VJP) graph")
    g.add_argument("--grad", action="store_true",
                   help="draw the gradient graph (reverse mode, output adjoint 1)")
    add_deprecated(g, "graph", "--ad", "write --grad, --mode rev or --mode fwd",
                   choices=("grad", "rev", "fwd"), dest="ad", default=None)
    from ..passes.pipeline import PASSES
    g.add_argument("--pass", dest="passes", action="append", metavar="NAME", default=[],
                   choices=list(PASSES),
                   help="a pass to run and show (repeatable, in order): "
                        + "; ".join(f"{p.name}: {p.doc}" for p in PASSES.values()))
    _output_arguments(g, ("text",) + DIAGRAM_FORMATS)
    g.set_defaults(func=run_graph)


def _output_arguments(p, formats) -> None:
    p.add_argument("--format", choices=formats,
                   help="output format (default: from -o's extension, else "
                        f"{formats[0]} to stdout)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (.svg .png .pdf .dot" +
                        (" .md .tex .html .txt" if "md" in formats else " .txt") + ")")
    p.add_argument("--digits", type=ascii_int, default=6,
                   help="significant digits of printed values (default 6)")
    p.add_argument("--hide-constants", action="store_true",
                   help="do not draw constants as nodes (they stay in the operation text)")
    p.add_argument("--collapse", action="store_true",
                   help="draw one node per statement of a program instead of one per "
                        "operation (for large graphs)")
    p.add_argument("--max-nodes", type=ascii_int, default=None,
                   help="largest diagram to draw (default "
                        "graphc.viz.DEFAULT_MAX_NODES)")
    p.add_argument("--rankdir", metavar="{LR,TB,auto}", default=None,
                   help="layout direction: left to right, top to bottom (compact nodes), "
                        "or auto (default): the one that fits a 16:9 slide better")
    p.add_argument("--dpi", metavar="N", default=None,
                   help="pixels per inch of PNG output (default 144)")
    p.add_argument("--font-size", metavar="PT", default=None,
                   help="point size of the node text (default 11; titles and edge "
                        "labels scale with it)")
    if "tex" in formats:
        p.add_argument("--standalone", action="store_true",
                       help="--format tex: a whole LaTeX document (standalone class, "
                            "booktabs, amsmath) that compiles on its own")
    p.add_argument("--matrix-max", type=ascii_int, default=None, metavar="N",
                   help="arrays up to N×N print in full, larger ones as shape and "
                        "min/mean/max (default 4)")


def _array(name: str, text: str, what: str) -> np.ndarray:
    """``@FILE.npy`` or a JSON nested list as a float array (data only: no pickles,
    no eval)."""
    try:
        if text.startswith("@"):
            a = np.load(text[1:], allow_pickle=False)
        else:
            a = json.loads(text)
        arr = np.asarray(a, dtype=np.float64)
    except (OSError, ValueError, TypeError) as exc:
        raise GraphcError(f"{what} {name}: cannot read an array from {text!r} ({exc}); "
                          f"give NAME=@file.npy or NAME='[[1, 2], [3, 4]]'") from None
    return arr


def point_arguments(items, what: str = "--at") -> dict:
    """``--at``/``--tangent``/``--adjoint`` items: ``NAME=NUMBER`` (``x1=2``, ``x1=2,x2=5``),
    ``NAME=@FILE.npy`` or ``NAME=[[1, 2], [3, 4]]`` (arrays, one per item).

    Raises:
        GraphcError: malformed items, unreadable arrays.
    """
    plain, out = [], {}
    for item in items or []:
        name, sep, value = item.partition("=")
        v = value.strip()
        if sep and name.strip() and v[:1] in ("@", "["):
            add_point(out, name.strip(), _array(name.strip(), v, what), what)
        else:
            plain.append(item)
    for name, v in parse_assignments(plain, what).items():
        add_point(out, name, v, what)
    return out


def _show(v) -> str:
    return f"array{tuple(np.shape(v))}" if np.ndim(v) else format(float(v), ".6g")


def _resolve_format(args, allowed) -> str:
    check_output(args.output)  # a missing directory fails before any work
    if args.format:
        return args.format
    if args.output:
        ext = Path(args.output).suffix.lower()
        fmt = _EXT.get(ext)
        if fmt is None or fmt not in allowed:
            raise GraphcError(f"cannot tell the output format from {args.output!r}; use "
                              f"one of {', '.join(sorted(e for e, f in _EXT.items() if f in allowed))}"
                              f" or --format")
        return fmt
    return allowed[0]


def _emit(data, fmt: str, args, what: str) -> None:
    if isinstance(data, str):
        data_bytes = data.encode("utf-8")
    else:
        data_bytes = data
    if args.output:
        write_output(args.output, data_bytes)
        print(f"graphc {args.command}: wrote {os.fspath(args.output)} ({what})",
              file=sys.stderr)
        return
    if fmt in _BINARY:
        raise GraphcError(f"{fmt} output is binary: give a file with -o")
    text = data if isinstance(data, str) else data.decode("utf-8")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _diagram_options(args) -> dict:
    from ..viz import DEFAULT_MAX_NODES
    opts = {"hide_constants": args.hide_constants, "collapse": args.collapse,
            "max_nodes": args.max_nodes if args.max_nodes is not None else DEFAULT_MAX_NODES,
            "digits": args.digits}
    if args.matrix_max is not None:
        opts["matrix_max"] = args.matrix_max
    if args.rankdir:
        opts["rankdir"] = args.rankdir
    opts.update(_layout_options(args))
    return opts


def _layout_options(args) -> dict:
    """``--rankdir``, ``--dpi``, ``--font-size`` checked (one-line errors, whatever the
    output format): ``{"dpi": ..., "font_size": ...}`` for those given."""
    from ..viz.dot import MAX_DPI, MAX_FONT_SIZE, RANKDIRS, _positive
    if args.rankdir is not None and args.rankdir not in RANKDIRS:
        raise GraphcError(f"--rankdir must be LR, TB or auto, got {args.rankdir!r}")
    out = {}
    for flag, key, most in (("--dpi", "dpi", MAX_DPI),
                            ("--font-size", "font_size", MAX_FONT_SIZE)):
        text = getattr(args, key)
        if text is None:
            continue
        try:
            value = float(text.strip()) if text.strip().isascii() else None
        except ValueError:
            value = None
        if value is None:
            raise GraphcError(f"{flag} must be a positive number, got {text!r}")
        out[key] = _positive(flag, value, most)
    return out


def _parse(args, point=None):
    if point:
        from ..tracing import parse_at
        return parse_at(args.expression, point, args.inputs)
    return api.parse(args.expression, inputs=args.inputs)


def run_trace(args) -> int:
    """``graphc trace``: print or write the trace table or diagram; exit status 0."""
    from ..tracing import trace
    from ..viz import render_dot
    if args.digits < 1:
        raise GraphcError("--digits must be at least 1")
    fmt = _resolve_format(args, TABLE_FORMATS + DIAGRAM_FORMATS)
    _layout_options(args)
    if args.standalone and fmt != "tex":
        raise GraphcError(f"--standalone applies to --format tex (a LaTeX document), "
                          f"not {fmt}")
    point = point_arguments(args.at)
    graph = _parse(args, point)
    check_point(graph, point)
    seed = _trace_seed(args, graph)
    source = args.expression if "\n" not in args.expression else None
    title = None
    if source is not None and len(source) < 80:
        pt = ", ".join(f"{n} = {_show(point[n])}" for n in graph.input_names)
        title = f"{source}  at  {pt}"
    t = trace(graph, at=point, mode=args.mode, seed=seed, digits=args.digits, title=title,
              matrix_max=args.matrix_max)
    if fmt == "html":    # the interactive, self-contained page (graphc.viz.page)
        _emit(t.to_html(view=args.view, **_diagram_options(args)), fmt, args,
              f"interactive {t.mode} trace page")
    elif fmt == "tex" and args.standalone:
        from ..viz.tables import render_table
        _emit(render_table(t, "tex", t.digits, standalone=True), fmt, args,
              f"{t.mode} trace table, standalone LaTeX document")
    elif fmt in TABLE_FORMATS:
        _emit(t.table("html" if fmt == "html-table" else fmt), fmt, args,
              f"{t.mode} trace table")
    else:
        view = args.view or t.default_view()
        dot = t.to_dot(view, **_diagram_options(args))
        _emit(render_dot(dot, fmt), fmt, args, f"{view} diagram")
    if t.problems and (args.output or fmt not in TABLE_FORMATS):
        print(f"graphc trace: warning: {t.problems[0].message}", file=sys.stderr)
    return 0


def _trace_seed(args, graph) -> dict | None:
    """The seed of :func:`graphc.tracing.trace` from ``--tangent`` / ``--adjoint`` (or the
    deprecated ``--seed``), checked against ``--mode`` before any work.

    Raises:
        GraphcError: the option that does not fit the mode, or a missing seed where the
            mode needs one, saying how to write it on the command line.
    """
    # the items first (malformed values, names given twice), then their fit to --mode
    given = {"fwd": point_arguments(args.tangent, "--tangent") if args.tangent else None,
             "rev": point_arguments(args.adjoint, "--adjoint") if args.adjoint else None}
    if args.seed:  # deprecated: the seed of whichever mode is asked for
        flag = {"fwd": "--tangent", "rev": "--adjoint"}.get(args.mode, "--tangent")
        if given.get(args.mode):
            raise GraphcError(f"give the seed once: {flag}, not also --seed")
        given[args.mode] = point_arguments(args.seed, "--seed")
    for mode, flag, other in (("fwd", "--tangent", "--adjoint"),
                              ("rev", "--adjoint", "--tangent")):
        if given.get(mode) and args.mode != mode:
            hint = "" if args.mode == "primal" else f"; for --mode {args.mode} use {other}"
            raise GraphcError(f"{flag} applies to --mode {mode}, not --mode {args.mode}"
                              f"{hint}")
    if args.mode == "primal":
        return None
    flag = "--tangent" if args.mode == "fwd" else "--adjoint"
    names = list(graph.input_names if args.mode == "fwd" else graph.output_names)
    seed = given[args.mode]
    if not seed:
        if len(names) > 1:
            what = "input tangent direction" if args.mode == "fwd" else "output adjoint"
            raise GraphcError(f"--mode {args.mode} needs a seed, the {what}, for a graph with "
                              f"{len(names)} {'inputs' if args.mode == 'fwd' else 'outputs'}"
                              f" ({', '.join(names)}); give it with {flag}, e.g. {flag} "
                              f"{names[0]}=1")
        return None
    return seed


def run_graph(args) -> int:
    """``graphc graph``: draw (or list) the graph, a derived graph, or snapshots
    before and after passes; exit status 0."""
    from ..backends.numpy_interp import evaluate_all
    from ..viz import graph_to_dot, passes_to_dot, render_dot
    from ..viz.notation import Math, equations
    fmt = _resolve_format(args, ("dot", "svg", "png", "pdf", "text"))
    _layout_options(args)
    point = point_arguments(args.at) if args.at else None
    graph = _parse(args, point)
    # the title: the expression typeset from the graph (italic variables, x₁)
    title = equations(graph, args.digits) \
        if "\n" not in args.expression and len(args.expression) < 80 else None
    derive = _graph_derivative(args)
    what_graph = {"grad": "gradient graph", "rev": "adjoint (VJP) graph",
                  "fwd": "tangent (JVP) graph"}.get(derive)
    if what_graph:
        graph = {"grad": api.grad, "rev": api.vjp, "fwd": api.jvp}[derive](graph)
        title = (Math(what_graph, rf"\text{{{what_graph}}}") if title is None else
                 Math(f"{what_graph} of {title.text}",
                      rf"\text{{{what_graph} of }}{title.latex}"))
    history = None
    if args.passes:
        _, history = api.run_passes(graph, args.passes, snapshots=True)
    if fmt == "text":
        if history is None:
            text = to_text(graph)
        else:
            text = "\n\n".join(f"# {'input' if k == 0 else 'after ' + name}\n{to_text(g)}"
                               for k, (name, g) in enumerate(history))
        _emit(text, fmt, args, "graph listing")
        return 0
    opts = _diagram_options(args)
    opts.pop("digits", None)
    if history is not None:
        opts.pop("matrix_max", None)   # no values in these diagrams
        dot = passes_to_dot(history, digits=args.digits, title=title, **opts)
        what = f"{len(history)} graphs: input and after {', '.join(args.passes)}"
    else:
        values = None
        if point:
            values = {n: v[()] for n, v in evaluate_all(graph, point).items()}
        dot = graph_to_dot(graph, values, digits=args.digits, title=title, **opts)
        what = "graph diagram"
    _emit(render_dot(dot, fmt), fmt, args, what)
    return 0


def _graph_derivative(args) -> str | None:
    """``"grad"``, ``"fwd"``, ``"rev"`` or None (the expression itself) from ``graphc
    graph``'s ``--grad`` / ``--mode`` (or the deprecated ``--ad``).

    Raises:
        GraphcError: ``--grad`` together with ``--mode fwd|rev``, or ``--ad`` with either.
    """
    if args.ad is not None:
        if args.grad or args.mode != "primal":
            raise GraphcError("--ad is the old spelling of --grad / --mode; give only one")
        return args.ad
    if args.grad and args.mode != "primal":
        raise GraphcError(f"--grad draws the gradient graph; it does not combine with "
                          f"--mode {args.mode} (the {args.mode} graph)")
    return "grad" if args.grad else (None if args.mode == "primal" else args.mode)
