"""Large graphs: 1,000-operation graphs and traces render in seconds, collapsed views
of long programs render, and the node limit is the documented one.

Timings print with ``-s``; measured on the development machine (Graphviz 2.43):
1,000-op graph SVG about 0.4-1 s, PNG 1.5-3 s; its adjoint-trace diagram SVG about
1 s, PNG 1.5-6 s. The assertions only guard against a return to minutes.
"""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET

import pytest

import graphc as gc
from graphc.ir import Graph, ops
from graphc.viz import DEFAULT_MAX_NODES, graph_to_dot, render_dot

SVG_NS = "{http://www.w3.org/2000/svg}"
LIMIT_S = 60.0


def random_graph(n_ops: int, seed: int = 0) -> Graph:
    """A deterministic random DAG of exactly ``n_ops`` operations over 4 inputs: each
    operation uses the previous one (so all are live) and, for binary operations, one
    of the 30 before it."""
    rng = random.Random(seed)
    xs = [ops.variable(f"x{i}") for i in range(4)]
    nodes = list(xs)
    unary = [ops.sin, ops.cos, ops.tanh]
    binary = [ops.add, ops.mul, ops.sub]
    while len(nodes) - len(xs) < n_ops:
        if rng.random() < 0.4:
            node = rng.choice(unary)(nodes[-1])
        else:
            node = rng.choice(binary)(nodes[-1], rng.choice(nodes[-30:]))
        nodes.append(node)
    g = Graph(xs, [nodes[-1]])
    assert len(g) == n_ops
    return g


def svg_node_titles(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [g.find(f"{SVG_NS}title").text for g in root.iter(f"{SVG_NS}g")
            if g.get("class") == "node"]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def test_thousand_node_graph_renders_in_seconds():
    g = random_graph(1000)
    dot, t_dot = timed(lambda: graph_to_dot(g))
    svg, t_svg = timed(lambda: render_dot(dot, "svg"))
    png, t_png = timed(lambda: render_dot(dot, "png"))
    print(f"\n1000-op graph: DOT text {t_dot:.3f} s, SVG {t_svg:.2f} s, PNG {t_png:.2f} s")
    titles = [t for t in svg_node_titles(svg) if "_r" not in t]   # minus reference nodes
    assert len(titles) == 4 + 1000 + 1
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert t_svg < LIMIT_S and t_png < LIMIT_S


def test_thousand_node_adjoint_trace_renders_in_seconds():
    g = random_graph(1000, seed=1)
    t, t_trace = timed(lambda: gc.trace(g, at={f"x{i}": 0.1 * (i + 1) for i in range(4)}))
    dot, t_dot = timed(lambda: t.to_dot("adjoint"))
    _svg, t_svg = timed(lambda: render_dot(dot, "svg"))
    png, t_png = timed(lambda: render_dot(dot, "png"))
    print(f"\n1000-op adjoint trace: trace {t_trace:.2f} s, DOT {t_dot:.3f} s, "
          f"SVG {t_svg:.2f} s, PNG {t_png:.2f} s")
    assert len(t.rows("adjoint")) > 1000
    assert "xlabel=" in dot                    # edge labels placed after layout
    assert t_svg < LIMIT_S and t_png < LIMIT_S and len(png) > 50_000


def test_long_program_collapsed_by_statement():
    lines = ["s0 = x*y + sin(x)"] + [f"s{i} = s{i-1}*0.5 + cos(s{max(0, i - 3)}) * {i % 7 + 1} - x"
                                     for i in range(1, 800)]
    g = gc.parse("\n".join(lines))
    assert len(g) > 3000
    with pytest.raises(gc.GraphcError, match="collapse"):
        graph_to_dot(g)
    dot = graph_to_dot(g, collapse=True)
    svg, t_svg = timed(lambda: render_dot(dot, "svg"))
    print(f"\n800-statement program ({len(g)} ops) collapsed: SVG {t_svg:.2f} s")
    titles = [t for t in svg_node_titles(svg) if "_r" not in t]
    assert len(titles) == 2 + 800 + 1           # x, y, one node per statement, f
    assert t_svg < LIMIT_S


def test_limit_is_checked_before_graphviz_runs():
    g = random_graph(DEFAULT_MAX_NODES)        # + inputs + output > the limit
    t0 = time.perf_counter()
    with pytest.raises(gc.GraphcError, match=f"max_nodes={DEFAULT_MAX_NODES}"):
        gc.trace(g, at={f"x{i}": 0.1 for i in range(4)}).to_dot()
    assert time.perf_counter() - t0 < 30


@pytest.mark.slow
def test_graph_at_the_node_limit_renders():
    g = random_graph(DEFAULT_MAX_NODES - 5)
    dot = graph_to_dot(g)
    svg, t_svg = timed(lambda: render_dot(dot, "svg"))
    _png, t_png = timed(lambda: render_dot(dot, "png"))
    print(f"\n{len(g)}-op graph: SVG {t_svg:.2f} s, PNG {t_png:.2f} s")
    assert len([t for t in svg_node_titles(svg) if "_r" not in t]) == len(g) + 5
