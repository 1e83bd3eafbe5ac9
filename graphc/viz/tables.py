"""Trace tables as plain text, Markdown, LaTeX (booktabs) and HTML.

The layout follows Baydin et al. (2018), Tables 2 and 3: one section per trace, one
row per assignment, ``lhs = operation = operation with values = value``. Statement
labels and NaN/inf diagnoses go in a last column (text: a trailing comment).

Array values (array graphs) print as small matrices (text: ``[[1, 2], [3, 4]]``,
a column ``[1, 2, 3]ᵀ``; LaTeX: ``bmatrix``; HTML: a nested table) or, beyond
``matrix_max``, as shape and summary statistics (:func:`graphc.viz.notation.value`).
In tables of array traces the note column also gives each node's shape, static and
bound: ``(H, 1) = (3, 1)``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from ..ir import GraphcError
from . import notation as nt
from .notation import html_escape
from .trace import SECTION_TITLES, Row, Trace

FORMATS = ("text", "md", "tex", "html")
_ALIASES = {"txt": "text", "markdown": "md", "latex": "tex", "htm": "html",
            "html-table": "html"}
TEX_PACKAGES = ("booktabs", "amsmath")
"""LaTeX packages the ``tex`` table uses (``\\toprule``...; ``bmatrix``, ``\\text``)."""


def _width(s: str) -> int:
    """Display width: combining marks take no column."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def _parts(r: Row, digits: int, style: str, limit: Any = None) -> tuple[str, str, str]:
    lhs = getattr(r.lhs, style)
    chain = [getattr(c, style) for c in r.chain]
    val = getattr(nt.value(r.value, digits, limit), style)
    if chain and chain[-1] == val:
        chain = chain[:-1]
    return lhs, " = ".join(chain), val


def _shape_note(r: Row) -> str:
    """``(H, 1) = (3, 1)`` for primal rows of array nodes (inputs and operations)."""
    if r.section != "primal" or r.kind not in ("input", "op") or r.node is None:
        return ""
    if r.node.shape == ():
        return ""
    return nt.shape_text(r.node.shape, nt.value_shape(r.value))


def _note(r: Row, with_labels: bool, with_shapes: bool = False) -> str:
    notes = []
    if with_labels and r.kind == "op" and r.label:
        notes.append(r.label)
    if with_shapes:
        shape = _shape_note(r)
        if shape:
            notes.append(shape)
    if r.flag:
        notes.append(r.flag)
    return "; ".join(notes)


def render_table(trace: Trace, fmt: str, digits: int,
                 sections: Sequence[str] | None = None, matrix_max: Any = None, *,
                 standalone: bool = False, document: bool = True) -> str:
    """Render ``trace`` as a table in ``fmt`` (see :meth:`Trace.table`).

    Args:
        trace, fmt, digits, sections: as in :meth:`Trace.table`.
        matrix_max: largest array printed in full (default: the trace's).
        standalone: ``tex`` only: a whole LaTeX document that compiles on its own
            (``\\documentclass{standalone}`` with :data:`TEX_PACKAGES`) instead of
            the ``tabular`` to ``\\input`` into a paper.
        document: ``html`` only: a whole HTML5 document (``<!DOCTYPE html>``,
            ``<meta charset="utf-8">``: the table's v̄ and ∂ are not ASCII), as
            ``Trace.table("html")`` and ``graphc trace --format html-table`` give;
            False gives the bare ``<table>`` to embed in a page or a notebook.

    Raises:
        GraphcError: unknown format or section; ``standalone`` with a format other
            than ``tex``.
    """
    fmt = _ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise GraphcError(f"unknown table format {fmt!r}; formats are {', '.join(FORMATS)}")
    if standalone and fmt != "tex":
        raise GraphcError(f"standalone applies to the tex table format, not {fmt!r}")
    have = trace.sections
    if sections is None:
        sections = have
    for s in sections:
        if s not in have:
            raise GraphcError(f"this {trace.mode} trace has no {s!r} section; it has "
                              f"{', '.join(have)}")
    limit = nt.matrix_limit(matrix_max) if matrix_max is not None else trace.matrix_max
    rows = trace.row_objects(digits, limit)
    groups = [(s, [r for r in rows if r.section == s]) for s in sections]
    opts = _Opts(bool(trace.graph.labels),
                 any(n.shape != () for n in trace.graph.nodes), limit)
    out = {"text": _text, "md": _markdown, "tex": _latex, "html": _html}[fmt](
        groups, digits, opts)
    if fmt == "tex" and standalone:
        return _tex_document(out, trace)
    if fmt == "html" and document:
        return _html_document(out, trace)
    return out


def _tex_document(table: str, trace: Trace) -> str:
    """``table`` in a LaTeX document of its own: the ``standalone`` class (the page
    cropped to the table, as for a figure in slides or a paper's ``\\includegraphics``)
    with :data:`TEX_PACKAGES`, and above the table the title: the equations and the
    point typeset from the graph for the default title
    (:func:`graphc.viz.notation.equations`), the user's own title escaped."""
    from .dot import _TITLE_WIDTH, is_default_title
    g = trace.graph
    eq = nt.equations(g, trace.digits) if is_default_title(trace) else None
    if eq is not None and len(eq.text) <= 4 * _TITLE_WIDTH:
        # one line per few equations, as in the diagrams' titles
        texts, tex = eq.text.split("; "), eq.latex.split(r";\quad ")
        lines: list[list[str]] = []
        width = 0
        for t_, l_ in zip(texts, tex):
            if lines and width + len(t_) <= _TITLE_WIDTH:
                lines[-1].append(l_)
                width += len(t_) + 2
            else:
                lines.append([l_])
                width = len(t_)
        pt = nt.point(g, trace.primal, trace.digits).latex
        title = " \\\\\n".join("$" + r";\quad ".join(line) + "$" for line in lines)
        if pt:
            title += f" \\quad at \\quad ${pt}$"
    else:
        title = f"\\textbf{{{_tex_text(trace.title or '')}}}"
    lines = ["% graphc evaluation trace: a LaTeX document of its own (pdflatex)",
             "\\documentclass[border=6pt]{standalone}",
             *[f"\\usepackage{{{p}}}" for p in TEX_PACKAGES],
             "\\begin{document}",
             "\\begin{tabular}{@{}l@{}}",
             title + " \\\\[6pt]",
             table.rstrip("\n"),
             "\\end{tabular}",
             "\\end{document}"]
    return "\n".join(lines) + "\n"


def _html_document(table: str, trace: Trace) -> str:
    """``table`` in an HTML5 document: charset, viewport, title and a small style
    sheet (no external resources)."""
    title = html_escape(trace.title or "graphc evaluation trace")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        "<style>",
        "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:1.5em}",
        "table.graphc-trace{border-collapse:collapse}",
        "table.graphc-trace td,table.graphc-trace th{padding:.2em .6em}",
        "table.graphc-trace th{border-bottom:1px solid #888;padding-top:.8em}",
        "</style>",
        "</head>",
        "<body>",
        f"<h1 style=\"font-size:1.1em\">{title}</h1>",
        table.rstrip("\n"),
        "</body>",
        "</html>",
    ]) + "\n"


class _Opts:
    """What a table shows besides the rows: labels, shapes, the matrix limit."""

    def __init__(self, labels: bool, shapes: bool, limit: Any):
        self.labels = labels
        self.shapes = shapes
        self.limit = limit

    def note(self, r: Row) -> str:
        return _note(r, self.labels, self.shapes)


def _text(groups, digits, opts) -> str:
    out = []
    all_rows = [r for _, rs in groups for r in rs]
    parts = {id(r): _parts(r, digits, "text", opts.limit) for r in all_rows}
    w_lhs = max((_width(parts[id(r)][0]) for r in all_rows), default=0)
    w_mid = max((_width(parts[id(r)][1]) for r in all_rows), default=0)
    for section, rows in groups:
        if out:
            out.append("")
        out.append(SECTION_TITLES[section])
        for r in rows:
            lhs, mid, val = parts[id(r)]
            if mid:
                line = f"  {_pad(lhs, w_lhs)} = {_pad(mid, w_mid)} = {val}"
            else:
                line = f"  {_pad(lhs, w_lhs)} = " + (" " * (w_mid + 3) if w_mid else "") + val
            note = opts.note(r)
            if note:
                line += f"    # {note}"
            out.append(line.rstrip())
    return "\n".join(out) + "\n"


def _md_escape(s: str) -> str:
    for ch in ("\\", "|", "*", "_", "`", "[", "]", "<", ">"):
        s = s.replace(ch, "\\" + ch)
    return s


def _markdown(groups, digits, opts) -> str:
    has_note = any(opts.note(r) for _, rs in groups for r in rs)
    out = []
    for section, rows in groups:
        if out:
            out.append("")
        out.append(f"**{SECTION_TITLES[section]}**")
        out.append("")
        head = "| Variable | Operation | Value |" + (" Note |" if has_note else "")
        out.append(head)
        out.append("|---|---|---:|" + ("---|" if has_note else ""))
        for r in rows:
            lhs, mid, val = _parts(r, digits, "text", opts.limit)
            cells = [_md_escape(lhs), _md_escape(mid), _md_escape(val)]
            if has_note:
                cells.append(_md_escape(opts.note(r)))
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _tex_text(s: str) -> str:
    """Plain text for LaTeX text mode (ASCII only; other characters dropped safely)."""
    rep = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
           "^": r"\textasciicircum{}"}
    return "".join(rep.get(ch, ch) for ch in s if ord(ch) < 128)


def _latex(groups, digits, opts) -> str:
    has_note = any(opts.note(r) for _, rs in groups for r in rs)
    ncol = 4 if has_note else 3
    out = ["% graphc evaluation trace; needs \\usepackage{booktabs} and "
           "\\usepackage{amsmath}",
           "\\begin{tabular}{" + "l" * ncol + "}", "\\toprule"]
    for k, (section, rows) in enumerate(groups):
        if k:
            out.append("\\midrule")
        out.append(f"\\multicolumn{{{ncol}}}{{l}}{{\\textbf{{{SECTION_TITLES[section]}}}}}"
                   " \\\\")
        out.append("\\midrule")
        for r in rows:
            lhs, mid, val = _parts(r, digits, "latex", opts.limit)
            cells = [f"${lhs}$", f"${{}}= {mid}$" if mid else "", f"${{}}= {val}$"]
            if has_note:
                note = []
                if opts.labels and r.kind == "op" and r.label:
                    note.append(f"\\texttt{{{_tex_text(r.label)}}}")
                shape = _shape_note(r) if opts.shapes else ""
                if shape:
                    note.append("$" + _tex_shape(r) + "$")
                if r.flag:
                    kind = "NaN" if "NaN" in r.flag else "inf"
                    note.append(f"\\textbf{{first {kind} here}}")
                cells.append("; ".join(note))
            out.append(" & ".join(cells) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(out) + "\n"


def _tex_shape(r: Row) -> str:
    def one(shape) -> str:
        return r"\times ".join(str(d) for d in shape) if shape else "1"
    static = tuple(r.node.shape)
    concrete = nt.value_shape(r.value)
    text = one(static)
    if concrete != static:
        text += " = " + one(concrete)
    return text.replace("_", r"\_")


def _html_value(r: Row, digits: int, limit: Any) -> str:
    """The value cell's content: a small array as a nested table, else text."""
    v = r.value
    if nt.is_array(v) and nt.is_small(v, limit):
        rows = nt.matrix_rows(v)
        body = "".join("<tr>" + "".join(f'<td style="text-align:right">'
                                        f"{html_escape(nt.number(x, digits).text)}</td>"
                                        for x in row) + "</tr>" for row in rows)
        return f'= <table class="graphc-matrix" style="display:inline-table">{body}</table>'
    return "= " + html_escape(nt.value(v, digits, limit).text)


def _html(groups, digits, opts) -> str:
    has_note = any(opts.note(r) for _, rs in groups for r in rs)
    ncol = 4 if has_note else 3
    out = ['<table class="graphc-trace">']
    for section, rows in groups:
        out.append(f'<tr><th colspan="{ncol}" style="text-align:left">'
                   f"{html_escape(SECTION_TITLES[section])}</th></tr>")
        for r in rows:
            lhs, mid, _val = _parts(r, digits, "text", opts.limit)
            style = ' style="background:#fdd"' if r.flag else ""
            value = _html_value(r, digits, opts.limit)
            cells = [f"<td>{html_escape(lhs)}</td>",
                     f"<td>= {html_escape(mid)}</td>" if mid else "<td></td>",
                     f'<td style="text-align:right">{value}</td>']
            if has_note:
                cells.append(f"<td>{html_escape(opts.note(r))}</td>")
            out.append(f"<tr{style}>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out) + "\n"
