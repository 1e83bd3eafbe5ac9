"""MkDocs hook: fill pages with the output of graphc itself at build time, so the
documentation cannot drift from the program.

Markers (HTML comments, invisible where the hook does not run):

* ``<!-- graphc-cli-reference -->``: the ``--help`` text of ``graphc`` and of every
  subcommand, from the CLI's own argparse parser.
* ``<!-- graphc-run ARGS -->``: a text block with the output of ``graphc ARGS``.
* ``<!-- graphc-diagram ARGS -->``: the SVG that ``graphc ARGS --format svg`` draws,
  embedded as an image (a text block of the same command where Graphviz is missing).
* ``<!-- graphc-primitive-table -->``: one row per registered primitive: its names, its
  meaning and its local partial derivatives as graphc's reverse mode computes them.
* ``<!-- graphc-page FILE ARGS -->``: the interactive trace page that
  ``graphc ARGS --format html`` writes, added to the site as ``FILE`` (next to the
  page that holds the marker) and linked from there.

ARGS are split like a shell would (:func:`shlex.split`) and handed to
``graphc.cli.main``; nothing is evaluated.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import io
import logging
import os
import re
import shlex
import sys

log = logging.getLogger("mkdocs.plugins.graphc")

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def on_config(config):
    """Document the graphc of this checkout, installed or not (MkDocs restores
    ``sys.path`` after loading a hook, so this runs at configuration time)."""
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)
    return config

_MARKER = re.compile(r"<!--\s*graphc-(cli-reference|run|diagram|primitive-table|page)"
                     r"(.*?)-->", re.S)


def _run(args: list[str]) -> tuple[int, str]:
    from graphc.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exc:  # argparse errors
            status = int(exc.code or 0)
    return status, out.getvalue() + err.getvalue()


def _cli_reference() -> str:
    from graphc.cli import build_parser
    os.environ.setdefault("COLUMNS", "88")
    parser = build_parser()
    parts = ["## graphc", "", "```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:  # argparse keeps subcommands in this action
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += [f"## graphc {name}", "", "```text", sub.format_help().rstrip(),
                          "```", ""]
    return "\n".join(parts)


def _text_block(args: list[str]) -> str:
    status, text = _run(args)
    if status != 0:
        raise RuntimeError(f"graphc {' '.join(args)} exited with {status}:\n{text}")
    return "```text\n$ graphc " + " ".join(shlex.quote(a) for a in args) + "\n" + \
        text.rstrip() + "\n```"


def _diagram(args: list[str]) -> str:
    status, svg = _run(args + ["--format", "svg"])
    start = svg.find("<svg")
    if status != 0 or start < 0:
        log.info("graphc docs: no SVG for %s (Graphviz missing?); showing text", args)
        return _text_block(args)
    data = base64.b64encode(svg[start:].encode()).decode()
    alt = html.escape("graphc " + " ".join(args))
    return f'<p><img alt="{alt}" src="data:image/svg+xml;base64,{data}"/></p>'


def _primitive_table() -> str:
    import graphc as gc
    from graphc.ir import PRIMITIVES, apply, ops, to_expr

    def cell(text: str) -> str:
        return "`" + text.replace("|", "\\|") + "`" if text else ""

    rows = ["| primitive | written | meaning | partial derivatives |", "|---|---|---|---|"]
    for name, prim in PRIMITIVES.items():
        if prim.arity == 0:
            continue
        names = ["x", "y"] if prim.arity == 2 else (["c", "x", "y"] if prim.arity == 3
                                                    else ["x"])
        if not prim.elementwise:  # array ops: shown on their first example shapes
            shapes, params = prim.examples[0]
            args = [ops.variable(n, shape=tuple(s)) for n, s in zip(names, shapes)]
            doc = prim.doc.replace("|", "\\|")
            rows.append(f"| `{name}` | {cell(to_expr(apply(prim, *args, **params)))} | {doc} "
                        f"| JVP and VJP rules (array op) |")
            continue
        args = [ops.variable(n) for n in names]
        node = apply(prim, *args)
        g = gc.Graph(args, [node])
        shown = to_expr(node)
        if prim.differentiable or prim.jvp or prim.vjp:
            grads = gc.optimize(gc.grad(g))
            parts = [f"∂/∂{n} = {to_expr(o)}" for n, o in zip(names, grads.outputs)]
        else:
            parts = ["0 (piecewise constant)"]
        doc = prim.doc.replace("|", "\\|")
        rows.append(f"| `{name}` | {cell(shown)} | {doc} | "
                    + "<br>".join(cell(p) for p in parts) + " |")
    return "\n".join(rows)


def _page_uri(src_uri: str, name: str) -> str:
    folder = src_uri.rsplit("/", 1)[0] + "/" if "/" in src_uri else ""
    return folder + name


def on_files(files, config):
    """Add the interactive trace pages (``graphc-page`` markers) to the site: each
    is generated by ``graphc ARGS --format html`` as a file of the site, so that the
    links to it resolve under ``mkdocs build --strict``."""
    from mkdocs.structure.files import File
    for f in list(files.documentation_pages()):
        with open(f.abs_src_path, encoding="utf-8") as fh:
            text = fh.read()
        for m in _MARKER.finditer(text):
            if m.group(1) != "page":
                continue
            name, *args = shlex.split(m.group(2))
            status, out = _run(args + ["--format", "html"])
            start = out.find("<!DOCTYPE html>")
            if status != 0 or start < 0:
                raise RuntimeError(f"graphc {' '.join(args)} --format html exited with "
                                   f"{status}:\n{out}")
            end = out.find("</html>", start)
            files.append(File.generated(config, _page_uri(f.src_uri, name),
                                        content=out[start:end + len("</html>")] + "\n"))
    return files


def _page_link(rest: list[str]) -> str:
    name, *args = rest
    cmd = "graphc " + " ".join(shlex.quote(a) for a in args) + " --format html"
    # a Markdown link, so that MkDocs checks it and rewrites it for the site's URLs
    return (f"[Open the interactive page]({name}){{ .md-button }}\n\n"
            f"```sh\n{cmd}\n```")


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the markers of this page (see the module docstring)."""
    def replace(m: re.Match) -> str:
        kind, rest = m.group(1), shlex.split(m.group(2))
        if kind == "cli-reference":
            return _cli_reference()
        if kind == "primitive-table":
            return _primitive_table()
        if kind == "run":
            return _text_block(rest)
        if kind == "page":
            return _page_link(rest)
        return _diagram(rest)
    return _MARKER.sub(replace, markdown)
