"""``graphc compile --target cuda``: array shapes on the command line and the text
``--emit source`` / ``--emit ptx`` print, for every graph.

``--shape NAME=DIMS`` declares an input an array (``--shape x=n``, ``--shape
W=3,n``: each dimension an integer or a symbol); ``--size SYMBOL=N`` binds a symbol
for the array kernels (CUDA's and LLVM's), which are specialised per concrete shape. Elementwise graphs
need neither: their kernel takes the number of points at run time.
"""

from __future__ import annotations

import re

from ..ir import GraphcError
from ._common import assignment

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


def add_shape_arguments(p) -> None:
    """Add ``--shape NAME=DIMS`` and ``--size SYMBOL=N`` to the parser ``p``."""
    p.add_argument("--shape", nargs="+", metavar="NAME=DIMS", default=[], action="extend",
                   type=assignment,
                   help="declare an input an array: dimensions comma-separated, integers "
                        "or symbols, e.g. --shape x=n W=3,n")
    p.add_argument("--size", nargs="+", metavar="SYMBOL=N", default=[], action="extend",
                   type=assignment,
                   help="bind a symbolic dimension of the --shape arrays (array "
                        "kernels are specialised per shape), e.g. --size n=1000")


def _split(item: str, option: str, example: str) -> tuple[str, str]:
    name, eq, value = item.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not _NAME.match(name) or not value:
        raise GraphcError(f"{option} expects NAME=VALUE items such as {example}, got "
                          f"{item!r}")
    return name, value


def parse_shapes(items: list[str]) -> dict[str, tuple]:
    """``["x=n", "W=3,n"]`` to ``{"x": ("n",), "W": (3, "n")}`` (``x=()`` or ``x=``
    nothing is not accepted: a scalar needs no ``--shape``).

    Raises:
        GraphcError: an item that is not ``NAME=DIM[,DIM...]`` with each dimension a
            non-negative integer or an identifier, or a name given twice.
    """
    out: dict[str, tuple] = {}
    for item in items:
        name, value = _split(item, "--shape", "x=n or W=3,n")
        dims = []
        for d in value.split(","):
            d = d.strip()
            if d.isdigit():
                dims.append(int(d))
            elif _NAME.match(d):
                dims.append(d)
            else:
                raise GraphcError(f"--shape {item!r}: dimension {d!r} is neither a "
                                  f"non-negative integer nor a symbol name")
        if name in out:
            raise GraphcError(f"--shape gives {name!r} twice")
        out[name] = tuple(dims)
    return out


def parse_sizes(items: list[str]) -> dict[str, int]:
    """``["n=1000"]`` to ``{"n": 1000}``.

    Raises:
        GraphcError: an item that is not ``SYMBOL=N`` with ``N`` a non-negative
            integer, or a symbol given twice.
    """
    out: dict[str, int] = {}
    for item in items:
        name, value = _split(item, "--size", "n=1000")
        if not value.isdigit():
            raise GraphcError(f"--size {item!r}: the size must be a non-negative integer")
        if name in out:
            raise GraphcError(f"--size gives {name!r} twice")
        out[name] = int(value)
    return out


def emit_cuda(graph, what: str, cc: tuple[int, int], sizes: dict[str, int]) -> str:
    """The CUDA text of ``graph``: ``what="source"`` the kernels' Python source,
    ``"ptx"`` their PTX (generated without a GPU; an array graph's kernels one after
    another, each after a ``// ---- graphc kernel NAME`` line). An array graph with
    symbolic dimensions needs ``sizes`` for each of them.

    Raises:
        GraphcError: a symbol without a size (names the ``--size`` to add), a size for
            a symbol the graph does not have.
        BackendUnavailableError: ``ptx`` without numba-cuda and its NVVM.
        LoweringError / ShapeError: the graph cannot be lowered for these sizes.
    """
    from ..backends import cuda
    from ..ir.shapes import dim_symbols, is_array_graph
    symbols = {s for n in graph.nodes for d in n.shape for s in dim_symbols(d)}
    unknown = sorted(set(sizes) - symbols)
    if unknown:
        raise GraphcError(f"--size names {', '.join(unknown)}, which no shape uses"
                          + (f" (symbols: {', '.join(sorted(symbols))})" if symbols else ""))
    missing = sorted(symbols - set(sizes))
    if missing:
        raise GraphcError(f"CUDA kernels are specialised per shape: add "
                          f"--size {' '.join(s + '=N' for s in missing)}")
    if not is_array_graph(graph) or cuda.is_per_point(graph):
        return cuda.render(graph).text if what == "source" else cuda.ptx(graph, cc)
    if cuda.needs_serial(graph):    # loops too long to unroll: one thread's program
        if what == "source":
            return cuda.render_serial(graph, sizes)[0].text
        return "\n".join(cuda.compile(graph).ptx(cc, **sizes).values())
    if what == "source":
        return cuda.render_arrays(graph, sizes).text
    texts = cuda.array_ptx(graph, sizes, cc)
    return "\n".join(f"// ---- graphc kernel {name} (a separate PTX module)\n{text}"
                     for name, text in texts.items())
