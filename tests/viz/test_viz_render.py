"""Rendering through Graphviz's dot: SVG, PNG and PDF really produced (no skips).

CI installs the Debian ``graphviz`` package (.ci/run); without ``dot`` these tests
fail on purpose, with the install command in the message.
"""

from __future__ import annotations

import shutil
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import graphc as gc
from graphc.viz import graph_to_svg, render_dot, write_dot

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
EXAMPLES = {
    "baydin": (BAYDIN, BAYDIN_AT),
    "deisenroth": (DEISENROTH, DEISENROTH_AT),
    "regression": (REGRESSION, REGRESSION_AT),
}


def test_dot_program_is_installed():
    assert shutil.which("dot"), ("Graphviz's dot program is required for the rendering "
                                 "tests: apt-get install graphviz")


def svg_nodes(svg: bytes | str) -> list[str]:
    """The titles of the node groups of a Graphviz SVG (parsed as XML)."""
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") == "node":
            out.append(g.find(f"{SVG_NS}title").text)
    return out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("example", sorted(EXAMPLES))
@pytest.mark.parametrize("view", ["adjoint", "combined"])
def test_svg_has_one_node_per_primal_trace_row(example, view):
    src, at = EXAMPLES[example]
    t = gc.trace(src, at=at, mode="rev")
    svg = t.pipe("svg", view, hide_constants=True)
    titles = svg_nodes(svg)
    rows = t.rows("primal")          # inputs, operations, outputs
    assert len(titles) == len(rows)
    expected = [("y0" if r["kind"] == "output" else r["node"].replace("v-", "vm"))
                for r in rows]
    assert sorted(titles) == sorted(expected)
    text = svg.decode("utf-8")
    for r in t.rows("adjoint"):
        if r["kind"] == "result":
            assert r["value_text"] in text     # every input's adjoint is drawn


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_png_and_pdf_are_real_images(example, tmp_path):
    src, at = EXAMPLES[example]
    t = gc.trace(src, at=at, mode="rev")
    png = t.render(tmp_path / f"{example}.png")
    data = Path(png).read_bytes()
    w, h = png_size(data)
    assert w > 400 and h > 150 and len(data) > 10_000
    pdf = Path(t.render(tmp_path / f"{example}.pdf")).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    dot = Path(t.render(tmp_path / f"{example}.dot")).read_text(encoding="utf-8")
    assert dot == t.to_dot()


def test_tangent_view_renders(tmp_path):
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd", seed={"x1": 1})
    svg = Path(t.render(tmp_path / "fwd.svg")).read_text(encoding="utf-8")
    assert len(svg_nodes(svg)) == 8 and "v̇₅ = 5.5" in svg


def test_graph_repr_svg_and_trace_repr_html():
    f = gc.parse(BAYDIN)
    svg = f._repr_svg_()
    assert svg is not None
    assert sorted(svg_nodes(svg)) == sorted(["vm1", "v0", "v1", "v2", "v3", "v4", "v5", "y0"])
    assert svg_nodes(graph_to_svg(f)) == svg_nodes(svg)
    t = gc.trace(f, at=BAYDIN_AT)
    assert svg_nodes(t._repr_svg_()) == svg_nodes(svg)
    html = t._repr_html_()
    assert "<svg" in html and '<table class="graphc-trace">' in html


def test_passes_and_derived_graphs_render():
    f = gc.parse("x*1 + 0 + sin(x)*sin(x) + exp(x)*2")
    _, history = gc.run_passes(f, ["simplify", "cse"], snapshots=True)
    from graphc.viz import passes_to_dot
    svg = render_dot(passes_to_dot(history), "svg")
    root = ET.fromstring(svg)
    clusters = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "cluster"]
    assert len(clusters) == 3
    vjp_svg = graph_to_svg(gc.vjp(gc.parse(BAYDIN)))
    assert len(svg_nodes(vjp_svg)) > 10


def test_render_errors(tmp_path):
    t = gc.trace(BAYDIN, at=BAYDIN_AT)
    with pytest.raises(gc.GraphcError, match="format"):
        t.render(tmp_path / "x.jpg")
    with pytest.raises(gc.GraphcError, match="formats are"):
        render_dot(t.to_dot(), "bmp")
    with pytest.raises(gc.GraphcError, match="dot failed"):
        render_dot("digraph { a -> }", "svg")
    out = write_dot(t.to_dot(), tmp_path / "y.svg")
    assert Path(out).read_bytes().lstrip().startswith(b"<?xml")
