"""``graphc compile``: print the code a graph compiles to (PTX, kernel source, LLVM IR).

Examples::

    graphc compile "ln(x1) + x1*x2 - sin(x2)" --grad --target cuda --emit ptx
    graphc compile "ln(x1) + x1*x2 - sin(x2)" --grad --target cuda --emit source
    graphc compile "ln(x1) + x1*x2 - sin(x2)" --hessian --target llvm --emit llvm

PTX is generated without a GPU (``numba.cuda.compile_ptx``; needs the ``cuda`` extra).
"""

from __future__ import annotations

import re
import sys

from .. import api
from ..ir import BackendUnavailableError, Graph, GraphcError, to_text
from ._common import (DTYPES, EMITS as EMIT_WORDS, add_common_arguments, add_name_list,
                      check_output, write_output)
from ._cuda_emit import add_shape_arguments, emit_cuda, parse_shapes, parse_sizes

EMITS = {"llvm": ("llvm", "ir"), "cuda": ("ptx", "source", "ir")}
"""What ``--emit`` may ask of each ``--target`` (the first is the default)."""


def register(sub) -> None:
    p = sub.add_parser(
        "compile", help="print the PTX, CUDA kernel source or LLVM IR of an expression",
        description="Compile an expression (or its derivatives) and print the generated "
                    "code instead of running it. PTX needs no GPU.")
    add_common_arguments(p, at=False)
    add_shape_arguments(p)   # --shape x=n, --size n=1000 (array graphs)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--grad", action="store_true",
                       help="compile value_and_grad of the expression (value and gradient "
                            "in one kernel)")
    which.add_argument("--hessian", action="store_true",
                       help="compile the Hessian (forward over reverse)")
    add_name_list(p, "--wrt", "with --grad/--hessian: differentiate with respect to these "
                              "inputs")
    p.add_argument("--dtype", choices=DTYPES, default="float64",
                   help="dtype of inputs and constants (default float64)")
    p.add_argument("--target", choices=tuple(EMITS), default="llvm",
                   help="code generator: llvm (CPU, the default, as graphc.compile) or "
                        "cuda (NVIDIA GPUs through Numba)")
    p.add_argument("--emit", choices=EMIT_WORDS,
                   help="what to print: ptx or source (cuda), llvm (llvm), ir (the "
                        "optimized graph IR, any target); default: ptx for cuda, llvm "
                        "for llvm")
    p.add_argument("--cc", default="9.0", metavar="MAJOR.MINOR",
                   help="CUDA compute capability for --emit ptx, e.g. 9.0, 8.6 or sm_80 "
                        "(default 9.0)")
    p.add_argument("--no-optimize", action="store_true",
                   help="skip the clean-up passes (simplify, CSE, DCE) before emitting")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE instead of standard output")
    p.set_defaults(func=_run)


def parse_cc(text: str) -> tuple[int, int]:
    """``"9.0"``, ``"90"``, ``"sm_90"`` or ``"compute_86"`` to ``(major, minor)``.

    Raises:
        GraphcError: anything else.
    """
    m = re.fullmatch(r"\s*(?:sm_|compute_)?(\d+)(?:\.(\d+))?\s*", text)
    if not m:
        raise GraphcError(f"--cc expects a compute capability such as 9.0 or sm_90, "
                          f"got {text!r}")
    if m.group(2) is not None:
        return int(m.group(1)), int(m.group(2))
    digits = m.group(1)
    if len(digits) < 2:
        return int(digits), 0
    return int(digits[:-1]), int(digits[-1])


def build_graph(args) -> Graph:
    """The graph ``graphc compile`` emits: the expression, its ``value_and_grad`` or
    its Hessian, optimized unless ``--no-optimize``."""
    f = api.parse(args.expression, inputs=args.inputs, dtype=args.dtype,
                  **parse_shapes(getattr(args, "shape", None) or []))
    if args.wrt and not (args.grad or args.hessian):
        raise GraphcError("--wrt needs --grad or --hessian")
    if args.grad:
        f = api.value_and_grad(f, args.wrt)
    elif args.hessian:
        f = api.hessian(f, args.wrt)
    return f if args.no_optimize else api.optimize(f)


def emit(graph: Graph, target: str, what: str, cc: tuple[int, int] = (9, 0),
         sizes: dict[str, int] | None = None) -> str:
    """The text ``graphc compile`` prints (``sizes``: symbol sizes for the CUDA
    kernels of array graphs, see :func:`._cuda_emit.emit_cuda`).

    Raises:
        GraphcError: a ``what`` the target does not produce; BackendUnavailableError
            when the target's packages are missing.
    """
    if what not in EMITS[target]:
        raise GraphcError(f"--target {target} emits {', '.join(EMITS[target])}, not "
                          f"{what!r}")
    if what == "ir":
        return to_text(graph)
    if target == "cuda":
        return emit_cuda(graph, what, cc, sizes or {})
    try:
        from ..backends import llvm
    except ImportError as exc:
        raise BackendUnavailableError(f"the LLVM backend cannot be imported ({exc})") from None
    emit_llvm_ir = getattr(llvm, "emit_llvm_ir", None)
    if emit_llvm_ir is None:
        raise GraphcError("this graphc's LLVM backend does not provide emit_llvm_ir()")
    from ..ir.shapes import is_array_graph
    if is_array_graph(graph):  # one program per binding of the symbols (--size)
        free = sorted({d for x in graph.inputs for d in x.shape if isinstance(d, str)}
                      - set(sizes or {}))
        if free:
            raise GraphcError(f"--emit llvm compiles array graphs for concrete shapes: "
                              f"bind {', '.join(free)} with --size "
                              f"{' '.join(f'{d}=N' for d in free)}")
        return emit_llvm_ir(graph, **(sizes or {}))
    if sizes:
        raise GraphcError("--size binds the symbolic dimensions of array graphs; this "
                          "graph has none (declare arrays with --shape)")
    return emit_llvm_ir(graph)


def _run(args) -> int:
    what = args.emit or EMITS[args.target][0]
    if what not in EMITS[args.target]:  # check before doing any work
        raise GraphcError(f"--target {args.target} emits {', '.join(EMITS[args.target])}, "
                          f"not {what!r}")
    check_output(args.output)
    sizes = parse_sizes(getattr(args, "size", None) or [])
    text = emit(build_graph(args), args.target, what, parse_cc(args.cc), sizes)
    if not text.endswith("\n"):
        text += "\n"
    if args.output:
        write_output(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
