"""``graphc eval``, ``graphc grad`` and ``graphc hessian``."""

from __future__ import annotations

import numpy as np

from .. import api
from ..ir import Graph, to_text
from ._common import (MODES, TARGETS, add_common_arguments, add_name_list, check_point,
                      format_number, parse_assignments)


def register(sub) -> None:
    for name, helptext in (("eval", "evaluate an expression at a point"),
                           ("grad", "value and gradient at a point"),
                           ("hessian", "Hessian (forward over reverse) at a point")):
        p = sub.add_parser(name, help=helptext, description=helptext)
        add_common_arguments(p)
        if name != "eval":
            add_name_list(p, "--wrt", "differentiate with respect to these inputs "
                                      "(default all)")
        if name == "grad":
            p.add_argument("--mode", choices=MODES[1:], default="rev",
                           help="forward (tangent) or reverse (adjoint) mode; default rev")
        p.add_argument("--target", choices=TARGETS[:2], default="llvm",
                       help="where to evaluate (default: LLVM-compiled kernel)")
        p.add_argument("--emit", choices=("ir", "llvm"),
                       help="print the graph IR or the LLVM IR instead of evaluating")
        p.set_defaults(func=_run, which=name)


def build_graph(args) -> Graph:
    f = api.parse(args.expression, inputs=args.inputs)
    if args.which == "eval":
        return f
    wrt = args.wrt
    if args.which == "hessian":
        return api.hessian(f, wrt)
    if args.mode == "rev":
        return api.value_and_grad(f, wrt)
    J = api.jacobian(f, wrt, mode="fwd")
    k = len(J.outputs)
    return Graph(f.inputs, [f.outputs[0], *J.outputs], [f.output_names[0], *J.output_names],
                 (0, tuple(range(1, k + 1))), f.labels)


def _run(args) -> int:
    graph = build_graph(args)
    if args.emit == "ir":
        print(to_text(api.optimize(graph)))
        return 0
    if args.emit == "llvm":
        from ..backends.llvm import emit_llvm_ir
        print(emit_llvm_ir(api.optimize(graph)))
        return 0
    point = parse_assignments(args.at)
    check_point(graph, point)
    kernel = api.compile(graph, target=args.target)
    flat = _flatten(kernel(**point))
    if args.which == "hessian":
        n = int(round(len(flat) ** 0.5))
        names = graph.input_names if not args.wrt else args.wrt
        width = max(12, *(len(format_number(v)) + 2 for v in flat))
        print(" " * 8 + "".join(f"{nm:>{width}}" for nm in names))
        for i in range(n):
            print(f"{names[i]:>8}" + "".join(f"{format_number(v):>{width}}"
                                             for v in flat[i * n:(i + 1) * n]))
        return 0
    print("  ".join(f"{name} = {format_number(v)}" for name, v in
                    zip(graph.output_names, flat)))
    return 0


def _flatten(tree) -> list[float]:
    out, stack = [], [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, tuple):
            stack.extend(reversed(t))
        else:
            out.append(float(np.asarray(t)))
    return out
