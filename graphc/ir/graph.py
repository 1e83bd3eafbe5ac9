"""The :class:`Graph`: inputs, outputs and the DAG of interned nodes between them.

A graph is immutable. Its nodes are numbered deterministically, following the trace
convention of Griewank & Walther, *Evaluating Derivatives* (2nd ed., SIAM 2008, §2.2)
and Baydin et al., "Automatic differentiation in machine learning: a survey" (JMLR
18(153), 2018, Table 2): the n inputs are v₁₋ₙ … v₀ in input order; the operations are
v₁ … v_l in a topological order; constants are not numbered (they print inline).
The order is by *level* (longest path from the inputs) with ties broken by depth-first
post-order over the arguments; this reproduces the published tables of Baydin et al.
and Deisenroth et al. All traversals are iterative, so graph depth is not limited by
Python's recursion limit.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import GraphcError, InputError, ShapeError
from .node import Node


def postorder(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each after its arguments (iterative DFS,
    arguments visited left to right)."""
    seen: set[int] = set()
    order: list[Node] = []
    for root in roots:
        if id(root) in seen:
            continue
        stack: list[tuple[Node, int]] = [(root, 0)]
        seen.add(id(root))
        while stack:
            node, i = stack[-1]
            if i < len(node.args):
                stack[-1] = (node, i + 1)
                child = node.args[i]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def _flatten_structure(structure) -> list[int]:
    out, stack = [], [structure]
    while stack:
        s = stack.pop()
        if isinstance(s, int):
            out.append(s)
        else:
            stack.extend(reversed(s))
    return out



DISPLAY_HOOKS: dict[str, Callable[["Graph"], str | None]] = {}
"""Notebook renderers of graphs by kind (``"svg"``, ``"latex"``), registered by the
layers above (:mod:`graphc.viz`, :mod:`graphc.interop.latex`) when they are imported, so
that ``ir`` imports nothing above it (dependency inversion)."""


def register_display(kind: str, render: Callable[["Graph"], str | None]) -> None:
    """Register ``render(graph) -> str | None`` as the notebook display of ``kind``
    (``"svg"`` for ``_repr_svg_``, ``"latex"`` for ``_repr_latex_``)."""
    DISPLAY_HOOKS[kind] = render


def _display(kind: str, graph: "Graph") -> str | None:
    render = DISPLAY_HOOKS.get(kind)
    if render is None:
        return None
    try:
        return render(graph)
    except Exception:  # noqa: BLE001 - a notebook display must never raise
        return None



def bind_by_name(names: Sequence[str], args: Sequence[Any], kwargs: Mapping[str, Any],
                 what: str = "kernel") -> list[Any]:
    """Match positional and keyword arguments to the input ``names`` (in that order):
    the values, one per name. Used by kernels, transformed functions and Jacobians.

    Raises:
        InputError: a missing, unknown or doubly given input (the message lists the
            graph's inputs).
    """
    names = list(names)
    if len(args) > len(names):
        raise InputError(f"{what} takes {len(names)} input(s) ({', '.join(names)}), "
                         f"got {len(args)} positional")
    values: list[Any] = list(args) + [None] * (len(names) - len(args))
    given = [True] * len(args) + [False] * (len(names) - len(args))
    index = {n: i for i, n in enumerate(names)}
    for k, v in kwargs.items():
        if k not in index:
            raise InputError(f"{what} has no input {k!r}; its inputs are "
                             f"{', '.join(names) or 'none'}")
        i = index[k]
        if given[i]:
            raise InputError(f"input {k!r} given twice (by position and keyword)")
        values[i] = v
        given[i] = True
    missing = [n for n, g in zip(names, given) if not g]
    if missing:
        raise InputError(f"{what} is missing input(s) {', '.join(missing)}; it takes "
                         f"({', '.join(names)})")
    return values


class Graph:
    """A computational graph: named inputs, output nodes, and how outputs are grouped.

    Args:
        inputs: input nodes (from :func:`graphc.ir.ops.variable`), in the order a kernel
            takes them positionally. May include inputs the outputs do not use.
        outputs: output nodes.
        output_names: one name per output (defaults ``y`` or ``y0, y1, ...``).
        structure: how a caller receives the outputs: an output index, or a nested
            tuple of them (``(0, (1, 2))`` for value-and-gradient). Defaults to the
            single output, or a flat tuple of all outputs.
        labels: optional ``{node: name}`` for nodes the user named (statements of a
            program); used by printers and diagrams. Labels of nodes the outputs do not
            use are dropped.

    Raises:
        GraphcError: duplicate or non-input entries in ``inputs``, or an output that
            uses an input not listed.
    """

    __slots__ = ("inputs", "outputs", "output_names", "structure", "labels",
                 "_nodes", "_numbers", "_post", "__weakref__")

    def __init__(self, inputs: Sequence[Node], outputs: Sequence[Node],
                 output_names: Sequence[str] | None = None, structure: Any = None,
                 labels: Mapping[Node, str] | None = None):
        inputs = tuple(inputs)
        outputs = tuple(outputs)
        if not outputs:
            raise GraphcError("a graph needs at least one output")
        for o in outputs:
            if not isinstance(o, Node):
                raise TypeError(f"graph output {o!r} is not a node")
        names_seen = set()
        for x in inputs:
            if not isinstance(x, Node) or not x.is_input:
                raise GraphcError(f"graph input {x!r} is not an input node")
            if x.name in names_seen:
                raise GraphcError(f"input {x.name!r} is listed twice")
            names_seen.add(x.name)
        if output_names is None:
            output_names = ("y",) if len(outputs) == 1 else tuple(
                f"y{i}" for i in range(len(outputs)))
        output_names = tuple(output_names)
        if len(output_names) != len(outputs):
            raise GraphcError("output_names must name every output")
        if structure is None:
            structure = 0 if len(outputs) == 1 else tuple(range(len(outputs)))
        flat = _flatten_structure(structure)
        if sorted(flat) != list(range(len(outputs))):
            raise GraphcError(f"structure {structure!r} must use each output index once")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "output_names", output_names)
        object.__setattr__(self, "structure", structure)
        object.__setattr__(self, "_nodes", None)
        object.__setattr__(self, "_numbers", None)
        post = postorder(outputs)
        object.__setattr__(self, "_post", post)  # reused by .nodes, then dropped
        live = set(map(id, post))
        object.__setattr__(self, "labels", {n: lab for n, lab in (labels or {}).items()
                                            if id(n) in live})
        declared = set(map(id, inputs))
        missing = {n.name for n in post if n.is_input and id(n) not in declared}
        if missing:
            raise GraphcError(f"the outputs use input(s) {', '.join(sorted(missing))} "
                              f"that are not among the graph's inputs "
                              f"({', '.join(x.name for x in inputs) or 'none'})")

    def __setattr__(self, name, value):
        raise AttributeError("graphs are immutable; passes return new graphs")

    def __reduce__(self):
        # flat encoding: pickling nested nodes would recurse once per level of depth
        return (graph_from_state, (graph_state(self),))

    # -- derived views -----------------------------------------------------------
    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(x.name for x in self.inputs)

    @property
    def nodes(self) -> list[Node]:
        """All nodes in evaluation order: the inputs (in input order), then every
        reachable constant and operation, operations in trace-numbering order."""
        if self._nodes is None:
            post = self._post if self._post is not None else postorder(self.outputs)
            object.__setattr__(self, "_post", None)
            rank = {id(n): i for i, n in enumerate(post)}
            level: dict[int, int] = {}
            for n in post:
                level[id(n)] = 0 if not n.args else 1 + max(level[id(a)] for a in n.args)
            consts = [n for n in post if n.is_const]
            ops = [n for n in post if n.args]
            ops.sort(key=lambda n: (level[id(n)], rank[id(n)]))
            object.__setattr__(self, "_nodes", list(self.inputs) + consts + ops)
        return self._nodes

    @property
    def operations(self) -> list[Node]:
        """The operation nodes (neither input nor constant), in numbering order."""
        return [n for n in self.nodes if n.args]

    @property
    def numbers(self) -> dict[Node, int]:
        """Trace numbers: inputs 1-n … 0, operations 1 … l (constants have none)."""
        if self._numbers is None:
            n_in = len(self.inputs)
            nums = {x: i - n_in + 1 for i, x in enumerate(self.inputs)}
            for i, op in enumerate(self.operations, start=1):
                nums[op] = i
            object.__setattr__(self, "_numbers", nums)
        return self._numbers

    def __len__(self) -> int:
        return len(self.operations)

    def __repr__(self) -> str:
        return (f"<graphc.Graph ({', '.join(self.input_names)}) -> "
                f"({', '.join(self.output_names)}), {len(self)} ops>")

    def __str__(self) -> str:
        from .text import to_text
        return to_text(self)

    def _repr_svg_(self):  # Jupyter: the diagram, when a renderer is registered
        return _display("svg", self)

    def _repr_latex_(self):  # Jupyter: the formulas (and gradient) as LaTeX
        return _display("latex", self)

    # -- transformations that only regroup -----------------------------------------
    def with_outputs(self, outputs: Sequence[Node], output_names=None,
                     structure=None) -> "Graph":
        """A graph over the same inputs and labels with other outputs."""
        return Graph(self.inputs, outputs, output_names, structure, self.labels)

    def output_tree(self, values: Sequence[Any]) -> Any:
        """Arrange flat per-output ``values`` by :attr:`structure`."""
        return unflatten(self.structure, values)

    def verify(self) -> "Graph":
        """Check the invariants: argument counts, shapes and dtypes agree with each
        primitive's rules, inputs are declared. Returns ``self``.

        Raises:
            GraphcError: names the first offending node and its trace number.
        """
        from .primitive import HIGHER_ORDER, PRIMITIVES, result_dtype
        from .text import describe_node
        for n in self.nodes:
            where = describe_node(self, n)
            if (PRIMITIVES.get(n.prim.name) or HIGHER_ORDER.get(n.prim.name)) is not n.prim:
                raise GraphcError(f"{where}: primitive {n.prim.name!r} is not registered")
            for _, body in n.params:  # sub-graphs of loops and branches (control_flow.py)
                for sub in (body if isinstance(body, tuple) else (body,)):
                    if isinstance(getattr(sub, "graph", None), Graph):
                        try:
                            sub.graph.verify()
                        except GraphcError as exc:
                            raise GraphcError(f"{where}: in its body: {exc}") from None
            if n.args:
                if len(n.args) != n.prim.arity:
                    raise GraphcError(f"{where}: {n.prim.name} has {len(n.args)} arguments, "
                                      f"expected {n.prim.arity}")
                try:
                    shape = n.prim.shape_rule(*n.args, **dict(n.params))
                except ShapeError as exc:
                    raise GraphcError(f"{where}: {exc}") from None
                if shape != n.shape:
                    raise GraphcError(f"{where}: shape {n.shape} but the rule gives {shape}")
                if result_dtype(n.args) != n.dtype:
                    raise GraphcError(f"{where}: dtype {n.dtype} disagrees with arguments")
            elif n.is_input and n not in set(self.inputs):
                raise GraphcError(f"{where}: input {n.name!r} is not declared")
        return self

    def to_networkx(self):
        """The graph as a ``networkx.DiGraph``: one node per trace number (constants as
        ``c<k>``), attributes ``op``, ``label``, ``shape``, ``dtype``, ``value`` (constants)
        and edges argument -> user with attribute ``arg`` (the argument position)."""
        import networkx as nx
        g = nx.DiGraph()
        nums = self.numbers
        ids: dict[Node, str] = {}
        k = 0
        for n in self.nodes:
            if n in nums:
                ids[n] = f"v{nums[n]}"
            else:
                ids[n] = f"c{k}"
                k += 1
            g.add_node(ids[n], op=n.prim.name, label=self.labels.get(n, n.name or ""),
                       shape=n.shape, dtype=n.dtype,
                       **({"value": n.value} if n.is_const else {}))
            for pos, a in enumerate(n.args):
                g.add_edge(ids[a], ids[n], arg=pos)
        for name, o in zip(self.output_names, self.outputs):
            g.nodes[ids[o]].setdefault("outputs", []).append(name)
        return g


def unflatten(structure, values: Sequence[Any]) -> Any:
    """Arrange flat ``values`` as the nested tuples of ``structure`` (iterative)."""
    if isinstance(structure, int):
        return values[structure]
    # iterative build of nested tuples
    result_stack: list[list] = [[]]
    work: list[Any] = [("open", structure)]
    while work:
        kind, item = work.pop()
        if kind == "open":
            if isinstance(item, int):
                result_stack[-1].append(values[item])
            else:
                result_stack.append([])
                work.append(("close", None))
                for sub in reversed(item):
                    work.append(("open", sub))
        else:
            done = tuple(result_stack.pop())
            result_stack[-1].append(done)
    return result_stack[0][0]


def _node_table(nodes: Sequence[Node]) -> tuple[tuple, dict[int, int]]:
    index = {id(n): i for i, n in enumerate(nodes)}
    table = tuple((n.prim.name, tuple(index[id(a)] for a in n.args), n.params, n.dtype,
                   n.shape) for n in nodes)
    return table, index


def _nodes_from_table(table: tuple) -> list[Node]:
    from .node import make_node
    from .primitive import get_primitive
    nodes: list[Node] = []
    for prim_name, args, params, dtype, shape in table:
        nodes.append(make_node(get_primitive(prim_name), tuple(nodes[i] for i in args),
                               params, dtype, shape))
    return nodes


def graph_state(graph: Graph) -> tuple:
    """``graph`` as flat tuples of plain values, one entry per node in evaluation order
    (``(prim name, argument indices, params, dtype, shape)``), decoded by
    :func:`graph_from_state` without recursion, whatever the graph's depth. Used for
    pickling (to worker processes, caches)."""
    nodes = postorder(graph.inputs + graph.outputs)
    table, index = _node_table(nodes)
    return (table, tuple(index[id(x)] for x in graph.inputs),
            tuple(index[id(o)] for o in graph.outputs), graph.output_names,
            graph.structure,
            tuple((index[id(n)], lab) for n, lab in graph.labels.items() if id(n) in index))


def graph_from_state(state: tuple) -> Graph:
    """Rebuild the graph of :func:`graph_state` (interned: the very same nodes when the
    original still lives in this process)."""
    table, inputs, outputs, names, structure, labels = state
    nodes = _nodes_from_table(table)
    return Graph([nodes[i] for i in inputs], [nodes[i] for i in outputs], names,
                 structure, {nodes[i]: lab for i, lab in labels})


def node_state(node: Node) -> tuple:
    """One node (with everything it depends on) as a flat table; see graph_state."""
    return _node_table(postorder([node]))[0]


def node_from_state(table: tuple) -> Node:
    return _nodes_from_table(table)[-1]
