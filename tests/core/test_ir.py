"""Graph IR invariants: interning, numbering, text form, verification, export."""

import pickle

import networkx as nx
import numpy as np
import pytest

import graphc as gc
from graphc.ir import Graph, GraphcError, ops, to_text

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


def test_nodes_are_interned_and_immutable():
    x, y = ops.variable("x"), ops.variable("y")
    assert ops.mul(x, y) is ops.mul(x, y)
    assert ops.mul(x, y) is not ops.mul(y, x)
    assert ops.const(0.0) is not ops.const(-0.0)
    with pytest.raises(AttributeError):
        ops.mul(x, y).args = ()
    g = gc.parse(BAYDIN)
    with pytest.raises(AttributeError):
        g.outputs = ()


def test_structural_keys_are_process_independent():
    import subprocess
    import sys
    code = ("import graphc as gc; g = gc.parse('ln(x1) + x1*x2 - sin(x2)'); "
            "print(g.outputs[0].key)")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""},
                           check=True).stdout.strip() for seed in (1, 2)}
    assert keys == {str(gc.parse(BAYDIN).outputs[0].key)}


def test_numbering_follows_the_textbook():
    g = gc.parse(BAYDIN)
    names = {n: k for n, k in g.numbers.items()}
    ops_by_number = {k: n.op for n, k in names.items()}
    assert ops_by_number == {-1: "input", 0: "input", 1: "log", 2: "mul", 3: "sin",
                             4: "add", 5: "sub"}


def test_text_form_is_one_line_per_node():
    text = to_text(gc.parse(BAYDIN))
    assert text.splitlines() == [
        "graph (x1, x2) -> (f)",
        "  v-1 = x1", "  v0 = x2",
        "  v1 = log(v-1)", "  v2 = v-1 * v0", "  v3 = sin(v0)",
        "  v4 = v1 + v2", "  v5 = v4 - v3",
        "  f = v5"]


def test_verify_and_errors():
    g = gc.parse(BAYDIN)
    assert g.verify() is g
    x = ops.variable("x")
    with pytest.raises(GraphcError, match="not among the graph's inputs"):
        Graph([], [ops.sin(x)])
    with pytest.raises(GraphcError, match="listed twice"):
        Graph([x, x], [x])
    with pytest.raises(gc.ShapeError, match="cannot be broadcast"):
        ops.add(ops.variable("a", shape=(2,)), ops.variable("b", shape=(3,)))


def test_float32_graphs():
    g = gc.parse("x * 0.1 + sin(x)", dtype="float32")
    assert {n.dtype for n in g.nodes} == {"float32"}
    y = gc.evaluate(g, x=np.float32(2.0))
    assert y.dtype == np.float32
    assert float(y) == pytest.approx(0.2 + np.sin(2.0), rel=1e-6)


def test_networkx_export():
    G = gc.parse(BAYDIN).to_networkx()
    assert isinstance(G, nx.DiGraph) and nx.is_directed_acyclic_graph(G)
    assert G.nodes["v5"]["outputs"] == ["f"]
    assert set(G.predecessors("v2")) == {"v-1", "v0"}
    assert G.nodes["v1"]["op"] == "log"


def test_graphs_and_nodes_pickle():
    g = gc.value_and_grad(gc.parse(BAYDIN))
    g2 = pickle.loads(pickle.dumps(g))
    assert g2.outputs[0] is g.outputs[0]  # interning survives pickling
    assert gc.evaluate(g2, 2.0, 5.0)[1][1] == pytest.approx(1.716338, abs=1e-6)
