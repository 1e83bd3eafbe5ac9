"""DOT text: golden files for the textbook examples, determinism, views and options."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import graphc as gc
from graphc.viz import DiagramTooLargeError, graph_to_dot, passes_to_dot

sys.path.insert(0, str(Path(__file__).parent))
from viz_golden import (
    BAYDIN,
    BAYDIN_AT,
    DEISENROTH,
    DEISENROTH_AT,
    REGRESSION,
    REGRESSION_AT,
    check_golden,
)

ROOT = Path(__file__).resolve().parents[2]


def node_names(dot: str) -> list[str]:
    """Names of the nodes a DOT text declares (``name [label=...]`` lines)."""
    return re.findall(r"^\s+(\w+) \[label=", dot, flags=re.MULTILINE)


def edges(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r"^\s+(\w+) -> (\w+)(.*)$", dot, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def baydin():
    return gc.trace(BAYDIN, at=BAYDIN_AT, mode="rev")


@pytest.mark.parametrize("view", ["graph", "primal", "adjoint", "combined"])
def test_golden_dot_baydin_reverse(baydin, view):
    check_golden(f"baydin_{view}.dot", baydin.to_dot(view))


def test_golden_dot_baydin_tangent():
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd", seed={"x1": 1})
    check_golden("baydin_tangent.dot", t.to_dot())


def test_golden_dot_deisenroth_and_regression():
    check_golden("deisenroth_adjoint.dot",
                 gc.trace(DEISENROTH, at=DEISENROTH_AT).to_dot(hide_constants=True))
    check_golden("deisenroth_combined.dot",
                 gc.trace(DEISENROTH, at=DEISENROTH_AT).to_dot("combined"))
    t = gc.trace(REGRESSION, at=REGRESSION_AT)
    check_golden("regression_adjoint.dot", t.to_dot())
    check_golden("regression_collapsed.dot", t.to_dot(collapse=True))


def test_golden_dot_passes_and_derived_graphs():
    f = gc.parse("x*1 + 0 + sin(x)*sin(x) + exp(x)*2")
    _, history = gc.run_passes(f, ["simplify", "cse"], snapshots=True)
    check_golden("passes_simplify_cse.dot", passes_to_dot(history))
    check_golden("baydin_vjp_graph.dot", graph_to_dot(gc.vjp(gc.parse(BAYDIN))))
    check_golden("baydin_jvp_graph.dot", graph_to_dot(gc.jvp(gc.parse(BAYDIN))))


def test_adjoint_view_structure(baydin):
    dot = baydin.to_dot("adjoint")
    # one node per trace variable (inputs v-1, v0 and operations v1..v5) and the output
    assert node_names(dot) == ["vm1", "v0", "v1", "v2", "v3", "v4", "v5", "y0"]
    es = edges(dot)
    # every argument edge is drawn reversed (dir=back), dashed, with its local partial
    arg_edges = [e for e in es if e[1] != "y0"]
    assert len(arg_edges) == 8
    assert all("dir=back" in a and "style=dashed" in a for _, _, a in arg_edges)
    labels = {(s, d): re.search(r'label="([^"]*)"', a).group(1) for s, d, a in arg_edges}
    assert labels[("vm1", "v1")] == "1/v₋₁ = 0.5"
    assert labels[("v0", "v3")] == "cos v₀ = 0.283662"
    assert labels[("v3", "v5")] == "−1"
    assert "v̄₋₁ = 5.5" in dot and "v̄₀ = 1.71634" in dot


def test_combined_view_has_forward_and_reversed_edges(baydin):
    dot = baydin.to_dot("combined")
    es = edges(dot)
    forward = [e for e in es if "dir=back" not in e[2]]
    back = [e for e in es if "dir=back" in e[2]]
    assert len(back) == 8 and len(forward) == 9
    assert "v₁ = 0.693147" in dot and "v̄₁ = 1" in dot


def test_dot_is_deterministic_across_processes(baydin):
    code = (f"import graphc as gc; t = gc.trace({BAYDIN!r}, at={BAYDIN_AT!r}); "
            f"print(t.to_dot('combined'), end='')")
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out == baydin.to_dot("combined")
    assert baydin.to_dot("combined") == gc.trace(BAYDIN, at=BAYDIN_AT).to_dot("combined")


def test_hide_constants_and_labels():
    t = gc.trace(REGRESSION, at=REGRESSION_AT)
    shown = t.to_dot("adjoint")
    hidden = t.to_dot("adjoint", hide_constants=True)
    assert "c0" in node_names(shown) and "c0" not in node_names(hidden)
    assert "v₇ = v₆²" not in hidden and "v₆²" in hidden      # the constant stays inline
    for label in ("u", "h", "F", "l"):
        assert f"  {label}</B>" in hidden                    # statement names in headers


def test_collapsed_view_groups_statements():
    t = gc.trace(REGRESSION, at=REGRESSION_AT)
    dot = t.to_dot("primal", collapse=True)
    names = node_names(dot)
    # six inputs, one node per statement (u, h, F, l), the output
    assert names == ["vm5", "vm4", "vm3", "vm2", "vm1", "v0", "gv2", "gv3", "gv5", "gv7",
                     "y0"]
    assert "w₁ × x + b₁" in dot and "u  (2 ops)" in dot
    assert ("gv5", "gv7", "") in edges(dot)


def test_too_large_graph_raises_quickly_with_advice():
    lines = ["s0 = x*y + sin(x)"] + [f"s{i} = s{i-1}*0.5 + cos(s{i-1}) - x"
                                     for i in range(1, 700)]
    g = gc.parse("\n".join(lines))
    with pytest.raises(DiagramTooLargeError) as info:
        graph_to_dot(g)
    msg = str(info.value)
    assert isinstance(info.value, gc.GraphcError)
    assert "max_nodes=2500" in msg and "collapse=True" in msg and "--collapse" in msg
    assert "703 nodes" in msg     # the collapsed alternative: x, y, 700 statements, f
    names = node_names(graph_to_dot(g, collapse=True))
    assert len([n for n in names if "_r" not in n]) == 703
    unlabeled = gc.parse(" + ".join(f"sin(x*{k})" for k in range(1, 40)))
    with pytest.raises(DiagramTooLargeError, match="hide_constants=True"):
        graph_to_dot(unlabeled, max_nodes=50)


def test_large_diagrams_use_reference_nodes_for_long_edges():
    lines = ["s0 = x*y"] + [f"s{i} = s{i-1}*0.5 - x" for i in range(1, 300)]
    g = gc.parse("\n".join(lines))
    dot = graph_to_dot(g, hide_constants=True)
    assert "nslimit=0.2" in dot
    refs = re.findall(r"^\s+(vm1_r\d+) \[label=\"v₋₁ x\"", dot, flags=re.MULTILINE)
    assert len(refs) > 250             # x is drawn next to (almost) every late use
    small = graph_to_dot(gc.parse(BAYDIN))
    assert "nslimit" not in small and "_r0" not in small


def test_bad_options():
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="primal")
    with pytest.raises(gc.GraphcError, match="views are"):
        t.to_dot("sideways")
    with pytest.raises(gc.GraphcError, match="reverse-mode trace"):
        t.to_dot("adjoint")
    with pytest.raises(gc.GraphcError, match="forward-mode trace"):
        t.to_dot("tangent")
    with pytest.raises(gc.GraphcError, match="rankdir"):
        t.to_dot("primal", rankdir="diagonal")
