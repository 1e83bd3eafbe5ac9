"""Diagrams and tables of graphs and their evaluation traces.

The viz layer imports only :mod:`graphc.ir`, NumPy and the ``graphviz`` package. It
is *given* values (by :func:`graphc.trace`), it never evaluates a graph itself.

* :class:`Trace`: the forward primal, forward tangent and reverse adjoint traces of a
  graph at a point, as tables (text, Markdown, LaTeX, HTML, dicts) and diagrams.
* :func:`graph_to_dot`, :func:`graph_to_svg`: the computational graph as Graphviz DOT
  text or SVG; :func:`passes_to_dot`: a graph before and after named passes.
* :func:`render_dot`, :func:`write_dot`: run Graphviz's ``dot`` program.

Array graphs: nodes show their shapes (declared and bound), values print as small
matrices or as shape and summary statistics (:func:`graphc.viz.notation.value`).
"""

from .dot import (DEFAULT_MAX_NODES, VIEWS, DiagramTooLargeError, graph_to_dot,
                  passes_to_dot, trace_to_dot)
from .render import graph_to_svg, render_dot, write_dot
from .trace import AdjointStep, Partial, Problem, Row, Trace
from .page import trace_fragment, trace_page
from ..ir.graph import register_display

register_display("svg", graph_to_svg)  # Graph._repr_svg_ in notebooks

__all__ = ["DEFAULT_MAX_NODES", "VIEWS", "AdjointStep", "DiagramTooLargeError", "Partial",
           "Problem", "Row", "Trace", "graph_to_dot", "graph_to_svg", "passes_to_dot",
           "render_dot", "trace_fragment", "trace_page", "trace_to_dot", "write_dot"]
