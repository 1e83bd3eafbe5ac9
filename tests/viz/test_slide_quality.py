"""Slide and paper quality of trace diagrams and tables (issue 17, parts 3 and 4).

* Layout: the two-layer perceptron's adjoint trace fits a 16:9 slide (it was
  1352×3309 px top to bottom, 4653×1302 px left to right); ``rankdir="auto"`` picks
  the direction Graphviz really draws larger on a slide; the size estimate behind it
  is checked against Graphviz's own layout.
* ``dpi`` and ``font_size``: PNG pixels and SVG font sizes checked against what
  Graphviz reports (its SVG's size in points), for every view.
* Titles typeset as mathematics, for a graph of every elementwise primitive of the
  registry in both dtypes; ``--format tex --standalone`` compiled by ``pdflatex`` (when
  installed; CI does not install TeX) for a program using every primitive, and its
  structure always checked; HTML tables are whole documents with a charset.
* Bad values: one-line errors, exit status 2.

Ground truth comes from Graphviz (SVG sizes, PNG headers), pdflatex, Python's HTML and
XML parsers and the numbers given.
"""

from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.cli import main
from graphc.ir import PRIMITIVES, Graph, apply, ops
from graphc.viz import VIEWS, graph_to_dot, render_dot
from graphc.viz import notation as nt
from graphc.viz.dot import estimate_size, slide_scale
from graphc.viz.tables import TEX_PACKAGES, render_table

sys.path.insert(0, str(Path(__file__).parent))
from viz_golden import (
    BAYDIN,
    BAYDIN_AT,
    DEISENROTH,
    DEISENROTH_AT,
    REGRESSION,
    REGRESSION_AT,
)

SVG_NS = "{http://www.w3.org/2000/svg}"
SLIDE = (1920, 1080)
LEGIBLE_PX = 10.0
"""Smallest node text, in pixels of a 1920×1080 slide, we accept: the 11 pt node font
of a 144 dpi PNG scaled to fit the slide."""

# the two-layer perceptron of docs/traces.md
MLP = "z = W1 @ x + b1; h = tanh(z); y = W2 @ h + b2; l = sum((y - t)^2)"
MLP_SHAPES = dict(W1=("H", "D"), x=("D", 1), b1=("H", 1), W2=(1, "H"), b2=(1, 1), t=(1, 1))
MLP_AT = {"W1": np.array([[0.5, -0.3], [0.8, 0.2], [-0.6, 0.4]]),
          "x": np.array([[1.0], [2.0]]), "b1": np.array([[0.3], [-0.2], [0.1]]),
          "W2": np.array([[1.0, -0.5, 0.7]]), "b2": np.array([[0.2]]),
          "t": np.array([[1.0]])}
ELEMENTWISE = [p for p in PRIMITIVES.values() if p.elementwise and p.arity > 0]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_points(svg: bytes) -> tuple[float, float]:
    """Width and height in points of a Graphviz SVG."""
    root = ET.fromstring(svg)
    return tuple(float(root.get(k).removesuffix("pt")) for k in ("width", "height"))


@pytest.fixture(scope="module")
def mlp_trace():
    g = gc.parse(MLP, **MLP_SHAPES)
    return gc.trace(g, at=MLP_AT, digits=4)


def examples():
    return {
        "baydin": gc.trace(BAYDIN, at=BAYDIN_AT),
        "baydin-fwd": gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd", seed={"x1": 1}),
        "deisenroth": gc.trace(DEISENROTH, at=DEISENROTH_AT),
        "regression": gc.trace(REGRESSION, at=REGRESSION_AT),
        "mlp": gc.trace(gc.parse(MLP, **MLP_SHAPES), at=MLP_AT, digits=4),
    }


# -- layout -----------------------------------------------------------------------------

def test_mlp_adjoint_trace_fits_a_16_9_slide(mlp_trace):
    """Default options: aspect ratio within 16:9 either way, and the node text still
    at least LEGIBLE_PX pixels high once the PNG is scaled onto a 1920×1080 slide."""
    w, h = png_size(mlp_trace.pipe("png"))
    assert max(w / h, h / w) <= 16 / 9, (w, h)
    scale = min(SLIDE[0] / w, SLIDE[1] / h)
    node_px = 11 / 72 * 144                        # 11 pt at the default 144 dpi
    assert node_px * scale >= LEGIBLE_PX, (w, h, node_px * scale)
    # the explicit directions still draw as asked
    assert "rankdir=LR" in mlp_trace.to_dot(rankdir="LR")
    assert "rankdir=TB" in mlp_trace.to_dot(rankdir="TB")


@pytest.mark.parametrize("name", ["baydin", "baydin-fwd", "deisenroth", "regression", "mlp"])
def test_auto_direction_is_about_as_large_on_a_slide_as_the_better_one(name):
    """``auto`` picks a direction that Graphviz draws at least 0.85 times as large on
    a 16:9 slide as the better of LR and TB, and within 16:9 whenever one of them is."""
    t = examples()[name]
    sizes = {rd: svg_points(t.pipe("svg", rankdir=rd)) for rd in ("LR", "TB", "auto")}
    best = max(slide_scale(sizes["LR"]), slide_scale(sizes["TB"]))
    assert slide_scale(sizes["auto"]) >= 0.85 * best, sizes

    def fits(s):
        return max(s[0] / s[1], s[1] / s[0]) <= 16 / 9
    if fits(sizes["LR"]) or fits(sizes["TB"]):
        assert fits(sizes["auto"]), sizes


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_size_estimate_is_within_a_factor_of_graphviz(rankdir):
    for name, t in examples().items():
        dot = t.to_dot(rankdir=rankdir)
        est = estimate_size(dot)
        real = svg_points(render_dot(dot, "svg"))
        for e, r, what in zip(est, real, ("width", "height")):
            assert 1 / 1.6 <= e / r <= 1.6, f"{name} {rankdir} {what}: {e:.0f} vs {r:.0f} pt"


# -- dpi and font size ------------------------------------------------------------------

@pytest.mark.parametrize("view", VIEWS)
def test_dpi_sets_png_pixels_and_leaves_svg_in_points(view):
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd" if view == "tangent" else "rev",
                 seed={"x1": 1} if view == "tangent" else None)
    pts = svg_points(t.pipe("svg", view))
    for dpi in (72, 200):
        dot = t.to_dot(view, dpi=dpi)
        assert svg_points(render_dot(dot, "svg")) == pts       # vector output in points
        w, h = png_size(render_dot(dot, "png"))
        assert abs(w - pts[0] * dpi / 72) <= 2 and abs(h - pts[1] * dpi / 72) <= 2, \
            (view, dpi, w, h, pts)
    # render_dot's own dpi wins over the DOT text's
    w, _ = png_size(render_dot(t.to_dot(view, dpi=200), "png", dpi=72))
    assert abs(w - pts[0]) <= 2


@pytest.mark.parametrize("view", VIEWS)
def test_font_size_scales_every_text_of_the_diagram(view):
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd" if view == "tangent" else "rev",
                 seed={"x1": 1} if view == "tangent" else None)

    def sizes(**kw):
        root = ET.fromstring(t.pipe("svg", view, rankdir="LR", **kw))
        return sorted({float(e.get("font-size")) for e in root.iter(f"{SVG_NS}text")})

    base = sizes()
    assert base and 11.0 in base
    for size, tol in ((22, 0.01), (16, 0.51), (7, 0.51)):   # whole points
        big = sizes(font_size=size)
        assert len(big) == len(base)
        for b, g in zip(base, big):
            assert g == pytest.approx(b * size / 11, abs=tol), (size, base, big)


BAD_NUMBERS = [0, -1, float("nan"), float("inf"), 1e9, "12", True]


@pytest.mark.parametrize("key", ["dpi", "font_size"])
@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_bad_dpi_and_font_size_raise_graphc_errors(key, bad):
    t = gc.trace(BAYDIN, at=BAYDIN_AT)
    with pytest.raises(gc.GraphcError, match=key):
        t.to_dot(**{key: bad})
    with pytest.raises(gc.GraphcError, match=key):
        graph_to_dot(gc.parse(BAYDIN), **{key: bad})
    if key == "dpi":
        with pytest.raises(gc.GraphcError, match="dpi"):
            render_dot(t.to_dot(), "png", dpi=bad)


@pytest.mark.parametrize("bad", ["RL", "BT", "lr", "diagonal", 3])
def test_bad_rankdir_raises(bad):
    with pytest.raises(gc.GraphcError, match="rankdir"):
        gc.trace(BAYDIN, at=BAYDIN_AT).to_dot(rankdir=bad)


@pytest.mark.parametrize("command", ["trace", "graph"])
@pytest.mark.parametrize("flag,value", [("--dpi", "0"), ("--dpi", "-3"), ("--dpi", "abc"),
                                        ("--dpi", "nan"), ("--dpi", "٣"),
                                        ("--font-size", "0"), ("--font-size", "inf"),
                                        ("--font-size", "1e6"), ("--rankdir", "RL"),
                                        ("--rankdir", "diagonal")])
def test_cli_bad_layout_flags_are_one_line_errors(tmp_path, capsys, command, flag, value):
    out = tmp_path / "x.png"
    assert main([command, BAYDIN, "--at", "x1=2", "x2=5", flag, value, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"graphc {command}: error:") \
        and flag in err, err
    assert not out.exists()


def test_cli_layout_flags_reach_the_picture(tmp_path):
    base, big = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--rankdir", "LR", "-o",
                 str(base)]) == 0
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--rankdir", "LR", "--dpi", "288",
                 "-o", str(big)]) == 0
    (w0, h0), (w1, h1) = png_size(base.read_bytes()), png_size(big.read_bytes())
    assert abs(w1 - 2 * w0) <= 4 and abs(h1 - 2 * h0) <= 4
    dot = tmp_path / "g.dot"
    assert main(["graph", BAYDIN, "--rankdir", "TB", "--font-size", "14", "-o",
                 str(dot)]) == 0
    text = dot.read_text(encoding="utf-8")
    assert "rankdir=TB" in text and 'node [shape=plain fontname="DejaVu Sans" fontsize=14]' \
        in text


# -- titles as mathematics ----------------------------------------------------------------

def _point(prim) -> dict[str, float]:
    return {f"x{i + 1}": round((0.37 + 0.1 * i) * lo + (0.63 - 0.1 * i) * hi, 3)
            for i, (lo, hi) in enumerate(prim.domain or [(-1, 2)] * prim.arity)}


def _graph_of(prim, dtype: str) -> Graph:
    xs = [ops.variable(f"x{i + 1}", dtype) for i in range(prim.arity)]
    return Graph(xs, [apply(prim, *xs)])


def _title(dot_text: str) -> ET.Element:
    line = next(l for l in dot_text.splitlines() if l.startswith("  graph ["))
    k = line.index(" label=<") + len(" label=<")
    depth, end = 1, k
    while depth:
        depth += {"<": 1, ">": -1}.get(line[end], 0)
        end += 1
    return ET.fromstring("<L>" + line[k:end - 1] + "</L>")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_default_title_is_typeset_mathematics(prim, dtype):
    """For a graph of each elementwise primitive: the title is an HTML-like label
    with every one-letter variable in italics, subscripted input names (no ASCII x1),
    the function of both inputs on the left, and the point with the numbers given."""
    g = _graph_of(prim, dtype)
    at = _point(prim)
    t = gc.trace(g, at=at, mode="rev")
    root = _title(t.to_dot("adjoint"))
    face = next(e for e in root.iter("FONT") if e.get("FACE"))    # the mathematics
    maths = "".join(face.itertext())
    assert not re.search(r"\bx\d", maths), maths                  # x₁, not x1
    args = ", ".join(f"x{nt.subscript(str(i + 1))}" for i in range(prim.arity))
    assert maths.startswith(f"{g.output_names[0]}({args}) = "), maths
    for el in face.iter("I"):                                      # one letter each
        letters = [c for c in el.text if c.isalpha()]
        assert len(letters) == 1, ET.tostring(root, encoding="unicode")
    # outside <I>: no lone Latin letter (a variable left upright)
    upright = (face.text or "") + "".join((e.tail or "") for e in face.iter() if e is not face)
    assert not re.search(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", upright), upright
    # the point: the numbers given, with typographic minus signs
    pt = maths.split("   at   ")[1]
    got = [float(v.replace(nt.MINUS, "-")) for v in re.findall(r"= ([−\d.e]+)", pt)]
    want = [np.float32(v) if dtype == "float32" else v for v in at.values()]
    assert got == pytest.approx([float(w) for w in want], rel=1e-5), (pt, at)


def test_user_titles_are_printed_as_given():
    t = gc.trace(BAYDIN, at=BAYDIN_AT, title="my x1 * x2 <title>")
    dot = t.to_dot()
    assert 'label="my x1 * x2 <title>\\nadjoint view' in dot
    assert "my x1 * x2" in dot.split("\n")[1]


def test_huge_formulas_fall_back_to_a_plain_title():
    """A graph whose formula written out is astronomically long (shared
    subexpressions) keeps the short plain title instead of typesetting it."""
    x = ops.variable("x")
    v = x
    for _ in range(40):
        v = ops.add(ops.mul(v, v), x)
    g = Graph([x], [v])
    assert nt.equations(g) is None
    dot = gc.trace(g, at={"x": 0.1}, mode="primal").to_dot("primal", rankdir="LR")
    assert "label=\"y  at  x = 0.1" in dot


# -- LaTeX -------------------------------------------------------------------------------

def _every_primitive_program(dtype: str = "float64"):
    """One statement ``s_<name> = prim(x1, x2, x3)`` per elementwise primitive and
    ``f`` their sum: a trace whose tables hold every primitive's LaTeX."""
    xs = [ops.variable(n, dtype) for n in ("x1", "x2", "x3")]
    labels, total = {}, None
    for prim in ELEMENTWISE:
        node = apply(prim, *xs[:prim.arity])
        labels[node] = f"s_{prim.name}"
        total = node if total is None else ops.add(total, node)
    return Graph(xs, [total], labels=labels)


def _check_tex_structure(doc: str) -> None:
    assert doc.count("\\begin{document}") == 1 and doc.rstrip().endswith("\\end{document}")
    assert doc.index("\\documentclass") < doc.index("\\begin{document}")
    for p in TEX_PACKAGES:
        assert f"\\usepackage{{{p}}}" in doc
    body = re.sub(r"(?m)%.*$", "", doc.replace("\\%", ""))
    depth = 0
    for ch in body.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    # outside math mode every _ is escaped
    text_mode = re.sub(r"\$[^$]*\$", "", body.replace("\\$", ""))
    assert not re.search(r"(?<!\\)_", text_mode), text_mode
    assert body.replace("\\$", "").count("$") % 2 == 0
    for env in ("tabular", "document"):
        assert body.count(f"\\begin{{{env}}}") == body.count(f"\\end{{{env}}}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_standalone_tex_structure_for_every_primitive(dtype, mode):
    g = _every_primitive_program(dtype)
    t = gc.trace(g, at={"x1": 0.6, "x2": 0.3, "x3": 1.5}, mode=mode,
                 seed={"x1": 1.0} if mode == "fwd" else None)
    doc = render_table(t, "tex", 6, standalone=True)
    _check_tex_structure(doc)
    for prim in ELEMENTWISE:
        assert f"\\texttt{{s\\_{prim.name.replace('_', chr(92) + '_')}}}" in doc
    with pytest.raises(gc.GraphcError, match="standalone"):
        render_table(t, "md", 6, standalone=True)


def _pdflatex(tmp_path: Path, doc: str) -> None:
    src = tmp_path / "trace.tex"
    src.write_text(doc, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                          src.name], cwd=tmp_path, capture_output=True, timeout=120)
    log = run.stdout.decode("utf-8", "replace")
    assert run.returncode == 0, log[-3000:]
    assert (tmp_path / "trace.pdf").stat().st_size > 1000


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex is not installed (apt-get install texlive-latex-base "
                           "texlive-latex-recommended texlive-latex-extra); the structure "
                           "test above still runs")
def test_standalone_tex_compiles_with_pdflatex(tmp_path):
    """Every primitive's LaTeX in the reverse and forward tables, and an array trace
    (bmatrix), compile in the standalone document (one pdflatex run each)."""
    g = _every_primitive_program()
    at = {"x1": 0.6, "x2": 0.3, "x3": 1.5}
    rev = render_table(gc.trace(g, at=at), "tex", 6, standalone=True)
    fwd = render_table(gc.trace(g, at=at, mode="fwd", seed={"x1": 1.0}), "tex", 6)
    doc = rev.replace("\\end{document}", "\\par\\bigskip\n" + fwd + "\\end{document}")
    mlp = render_table(gc.trace(gc.parse(MLP, **MLP_SHAPES), at=MLP_AT, digits=4), "tex", 4)
    doc = doc.replace("\\end{document}", mlp + "\\end{document}")
    _check_tex_structure(doc)
    _pdflatex(tmp_path, doc)


def test_cli_standalone_tex(tmp_path, capsys):
    out = tmp_path / "t.tex"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", "tex", "--standalone",
                 "-o", str(out)]) == 0
    doc = out.read_text(encoding="utf-8")
    _check_tex_structure(doc)
    assert "\\ln x_{1}" in doc and "x_{1} = 2" in doc          # the title as maths
    capsys.readouterr()
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", "md",
                 "--standalone"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


# -- HTML --------------------------------------------------------------------------------

class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.urls, self.decl = [], [], [], None

    def handle_decl(self, decl):
        self.decl = decl

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.urls += [v for _, v in attrs if v and "://" in v]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()


@pytest.mark.parametrize("name", ["baydin", "baydin-fwd", "deisenroth", "regression", "mlp"])
def test_html_table_is_a_whole_document_with_a_charset(name):
    t = examples()[name]
    html = t.table("html")
    assert html.startswith("<!DOCTYPE html>")
    head = html.encode("utf-8")[:1024]               # HTML: charset in the first 1024 bytes
    assert b'<meta charset="utf-8">' in head
    p = _Checker()
    p.feed(html)
    p.close()
    assert p.decl.lower() == "doctype html" and not p.stack and not p.urls
    assert [tag for tag, _ in p.tags[:3]] == ["html", "head", "meta"]
    # the document and the bare fragment hold the same table
    frag = render_table(t, "html", t.digits, document=False)
    assert frag.startswith("<table") and frag.strip() in html
    assert t.table("html-table") == html
