"""Named passes and a pipeline that can verify and snapshot between them."""

from __future__ import annotations

from typing import Callable, Iterable

from ..ir import Graph, GraphcError
from .simplify import cse, dce, fold_constants, optimize, simplify

PASSES: dict[str, Callable[[Graph], Graph]] = {
    "fold": fold_constants,
    "simplify": simplify,
    "cse": cse,
    "dce": dce,
    "optimize": optimize,
}
"""Every ``Graph -> Graph`` clean-up pass, by the name the CLI and pipeline use."""


def run_passes(graph: Graph, names: Iterable[str], *, verify: bool = True,
               snapshots: bool = False):
    """Run the named passes in order.

    Args:
        graph: the input graph.
        names: pass names from :data:`PASSES`.
        verify: call :meth:`Graph.verify` after every pass.
        snapshots: also return ``[(name, graph), ...]`` starting with ``("input", graph)``,
            for viewers that show a graph before and after each pass.

    Raises:
        GraphcError: an unknown pass name (the message lists the known ones).
    """
    history = [("input", graph)]
    for name in names:
        try:
            fn = PASSES[name]
        except KeyError:
            raise GraphcError(f"unknown pass {name!r}; passes are "
                              f"{', '.join(PASSES)}") from None
        graph = fn(graph)
        if verify:
            graph.verify()
        history.append((name, graph))
    return (graph, history) if snapshots else graph
