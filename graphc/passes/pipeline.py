"""Named passes and a pipeline that can verify and snapshot between them.

Every ``Graph -> Graph`` transformation graphc has is a :class:`Pass` in one registry,
:data:`PASSES`: the clean-ups (``fold``, ``simplify``, ``cse``, ``dce``,
``optimize``, ``hoist``), the automatic-differentiation transforms (``jvp``, ``vjp``, ``grad``,
``value_and_grad``) and the lowering steps (``specialize``, ``decompose``).
:func:`run_passes`, ``graphc graph --pass NAME`` and the docs all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ..ir import Graph, GraphcError
from . import ad
from .loops import hoist_invariants
from .rewrite import decompose, specialize
from .simplify import cse, dce, fold_constants, optimize, simplify


@dataclass(frozen=True)
class Pass:
    """A named graph transformation.

    Attributes:
        name: the name :func:`run_passes` and ``graphc graph --pass`` take.
        doc: one line saying what it does.
        fn: ``fn(graph, **params) -> Graph``.
        params: the keyword parameters ``fn`` takes (all optional).
    """

    name: str
    doc: str
    fn: Callable[..., Graph]
    params: tuple[str, ...] = ()

    def __call__(self, graph: Graph, **params) -> Graph:
        """Run the pass. Raises GraphcError for a parameter it does not take."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            takes = ", ".join(self.params) or "no parameters"
            raise GraphcError(f"pass {self.name!r} takes {takes}; got {unknown}")
        return self.fn(graph, **params)


def _registry(*passes: Pass) -> dict[str, Pass]:
    return {p.name: p for p in passes}


PASSES: dict[str, Pass] = _registry(
    Pass("fold", "evaluate operations whose arguments are all constants", fold_constants),
    Pass("simplify", "algebraic simplification (x*1, x+0, ...) to a fixed point", simplify),
    Pass("cse", "common-subexpression elimination (commutative ops canonicalised)", cse),
    Pass("dce", "dead-code elimination: keep what the outputs use", dce),
    Pass("optimize", "fold, simplify, cse and dce in one walk", optimize),
    Pass("hoist", "move loop-invariant work out of loop bodies", hoist_invariants),
    Pass("jvp", "forward mode: outputs and their tangents (inputs <x>_dot)", ad.jvp,
         ("wrt", "seed")),
    Pass("vjp", "reverse mode: outputs and the input adjoints (inputs <y>_bar)", ad.vjp,
         ("wrt", "seed")),
    Pass("grad", "reverse mode: the gradient of a scalar output", ad.grad, ("wrt",)),
    Pass("value_and_grad", "reverse mode: a scalar output and its gradient",
         ad.value_and_grad, ("wrt",)),
    Pass("specialize", "concrete sizes for symbolic dimensions, size() folded",
         specialize, ("sizes",)),
    Pass("decompose", "expand ops with a decompose rule (softmax, mean...) into "
         "simpler ones", decompose, ("prims",)),
)
"""Every ``Graph -> Graph`` pass, by the name the CLI and pipeline use."""


def run_passes(graph: Graph, names: Iterable, *, verify: bool = True,
               snapshots: bool = False):
    """Run the named passes in order.

    Args:
        graph: the input graph.
        names: pass names from :data:`PASSES`, or ``(name, {param: value})`` pairs for
            passes with parameters (``("grad", {"wrt": "x"})``,
            ``("specialize", {"sizes": {"H": 3}})``).
        verify: call :meth:`Graph.verify` after every pass.
        snapshots: also return ``[(name, graph), ...]`` starting with ``("input", graph)``,
            for viewers that show a graph before and after each pass.

    Raises:
        GraphcError: an unknown pass name (the message lists the known ones) or a
            parameter the pass does not take; whatever the pass itself raises.
    """
    history = [("input", graph)]
    for item in names:
        if isinstance(item, str):
            name, params = item, {}
        elif (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
              and isinstance(item[1], Mapping)):
            name, params = item[0], dict(item[1])
        else:
            raise GraphcError(f"run_passes: {item!r} is not a pass name or a "
                              f"(name, {{param: value}}) pair")
        try:
            p = PASSES[name]
        except KeyError:
            raise GraphcError(f"unknown pass {name!r}; passes are "
                              f"{', '.join(PASSES)}") from None
        graph = p(graph, **params)
        if verify:
            graph.verify()
        history.append((name, graph))
    return (graph, history) if snapshots else graph
