"""Render DOT text with Graphviz's ``dot`` program (through the ``graphviz`` package).

The ``graphviz`` Python package only runs the ``dot`` executable; install that with the
system package manager (Debian/Ubuntu: ``apt-get install graphviz``; macOS:
``brew install graphviz``; conda: ``conda install graphviz``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..ir import Graph, GraphcError

FORMATS = ("svg", "png", "pdf", "dot")
PNG_DPI = 144
"""Resolution of PNG output (Graphviz's default is 96, blurry on current screens)."""

_EXT = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


def format_from_path(path, format: str | None = None) -> str:
    """The output format named by ``format`` or by ``path``'s extension.

    Raises:
        GraphcError: neither gives one of svg, png, pdf, dot.
    """
    if format is not None:
        fmt = format.lower().lstrip(".")
        fmt = "dot" if fmt == "gv" else fmt
        if fmt not in FORMATS:
            raise GraphcError(f"unknown diagram format {format!r}; formats are "
                              f"{', '.join(FORMATS)}")
        return fmt
    ext = Path(os.fspath(path)).suffix.lower()
    if ext not in _EXT:
        raise GraphcError(f"cannot tell the diagram format from {os.fspath(path)!r}; use "
                          f"a .svg, .png, .pdf or .dot file name (or give a format)")
    return _EXT[ext]


def render_dot(dot_text: str, format: str = "svg", dpi: float | None = None) -> bytes:
    """Run ``dot -T<format>`` on ``dot_text``.

    Args:
        dot_text: a DOT graph (from :func:`graph_to_dot`, :meth:`Trace.to_dot`...).
        format: ``svg``, ``png``, ``pdf`` or ``dot`` (the text itself).
        dpi: pixels per inch of PNG output: this, else the ``dpi`` the DOT text sets
            (the diagram functions' ``dpi=`` option), else :data:`PNG_DPI`. SVG and
            PDF keep their size in points whatever the DOT text's ``dpi`` (Graphviz
            would scale them by dpi/72). A positive number up to 1200.

    Returns:
        The rendered file's bytes.

    Raises:
        GraphcError: the ``graphviz`` package or the ``dot`` program is missing (the
            message says how to install it), ``dot`` failed (its message), or
            ``dpi`` is not a positive number.
    """
    fmt = format_from_path("", format)
    if dpi is not None:
        from .dot import MAX_DPI, _positive
        dpi = _positive("dpi", dpi, MAX_DPI)
    if fmt == "dot":
        if dpi is not None:
            dot_text = _set_dpi(dot_text, dpi)
        return dot_text.encode("utf-8")
    try:
        import graphviz
    except ImportError:  # pragma: no cover - a declared dependency
        raise GraphcError("rendering diagrams needs the graphviz package: "
                          "pip install graphviz") from None
    if fmt == "png":
        if dpi is not None:
            dot_text = _set_dpi(dot_text, dpi)
        elif not _DPI.search(dot_text):
            dot_text = _with_dpi(dot_text, PNG_DPI)
    elif _DPI.search(dot_text):
        dot_text = _set_dpi(dot_text, 72)     # vector output: sizes in points
    try:
        return graphviz.pipe("dot", fmt, dot_text.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphcError("Graphviz's 'dot' program was not found; install it "
                          "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
                          "graphviz) or write DOT text instead (.dot)") from None
    except graphviz.CalledProcessError as exc:
        err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) \
            else str(exc.stderr)
        raise GraphcError(f"Graphviz's dot failed: {err.strip()[:500]}") from None


_DPI = re.compile(r"^\s*graph \[[^\n]*\bdpi=", re.M)


def _set_dpi(dot_text: str, dpi: float) -> str:
    """``dot_text`` with ``dpi`` set last (a later graph attribute wins in DOT)."""
    end = dot_text.rstrip().rfind("}")
    if end < 0:
        return dot_text
    return dot_text[:end] + f"  graph [dpi={format(dpi, 'g')}]\n" + dot_text[end:]


def _with_dpi(dot_text: str, dpi: int) -> str:
    brace = dot_text.find("{")
    if brace < 0:
        return dot_text
    return dot_text[:brace + 1] + f"\n  graph [dpi={dpi}]" + dot_text[brace + 1:]


def write_dot(dot_text: str, path, format: str | None = None,
              dpi: float | None = None) -> str:
    """Render ``dot_text`` into the file ``path`` (format from the extension unless
    given; ``dpi`` as in :func:`render_dot`) and return the path as a string."""
    fmt = format_from_path(path, format)
    data = render_dot(dot_text, fmt, dpi)
    p = Path(os.fspath(path))
    p.write_bytes(data)
    return str(p)


def graph_to_svg(graph: Graph, **options) -> str:
    """The graph drawn as SVG text (used by ``Graph._repr_svg_`` in Jupyter).

    Args:
        graph: any graph.
        **options: as for :func:`graphc.viz.graph_to_dot`.
    """
    from .dot import graph_to_dot
    return render_dot(graph_to_dot(graph, **options), "svg").decode("utf-8")


__all__ = ["FORMATS", "PNG_DPI", "format_from_path", "graph_to_svg", "render_dot",
           "write_dot"]
