"""``graphc corpus``: the main job over a CSV of formulas (see :mod:`graphc.corpus`)."""

from __future__ import annotations

import json
import math
import sys

from .. import corpus as corpus_mod
from ..ir import GraphcError
from ._common import add_name_list, ascii_int


def register(sub) -> None:
    p = sub.add_parser(
        "corpus", help="parse, differentiate, compile and check every formula of a corpus",
        description="For every formula: parse, reverse-mode gradient, LLVM compile, "
                    "evaluate on N random points inside the bounds, compare with the "
                    "NumPy interpreter. Without FILE, runs the packaged Feynman corpus.")
    p.add_argument("file", nargs="?", help="corpus CSV (default: packaged feynman.csv); "
                   "'optim' for the packaged optimization test functions")
    p.add_argument("-n", "--points", type=ascii_int, default=100_000,
                   help="points per formula (default 100000)")
    p.add_argument("--seed", type=ascii_int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar, summary only")
    add_name_list(p, "--ids", "only these row ids")
    p.set_defaults(func=_run)


def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _run(args) -> int:
    if args.points < 2:
        raise GraphcError("-n must be at least 2")
    if args.seed < 0:
        raise GraphcError(f"--seed must be a non-negative integer, got {args.seed}")
    path = args.file
    if path is None:
        path = corpus_mod.packaged_corpus()
    elif path == "optim":
        path = corpus_mod.packaged_corpus("optim_functions.csv")
    rows = corpus_mod.read_corpus(path)
    if args.ids:
        unknown = [i for i in dict.fromkeys(args.ids) if i not in {r.id for r in rows}]
        if unknown:
            raise GraphcError(f"--ids: corpus {path} has no row(s) {', '.join(unknown)}")
        rows = [r for r in rows if r.id in set(args.ids)]
    show_rows = not args.json and not args.quiet
    header = f"{'id':<14}{'ops':>5}{'grad ops':>10}{'compile ms':>12}{'Mpts/s':>10}" \
             f"{'max rel diff':>14}  status"
    if show_rows:
        print(f"corpus {path}: {len(rows)} formulas, {args.points} points each, "
              f"seed {args.seed}")
        print(header)
        print("-" * len(header))
    results = []
    progress = not args.json and not args.quiet and sys.stderr.isatty()
    for r in corpus_mod.run_corpus(rows, n=args.points, seed=args.seed, progress=progress):
        results.append(r)
        if show_rows:
            status = "ok" if r.ok else f"FAIL: {r.reason}"
            print(f"{r.id:<14}{r.ops:>5}{r.grad_ops:>10}{_fmt(r.compile_ms, '.1f'):>12}"
                  f"{_fmt(r.mpoints_per_s, '.1f'):>10}{_fmt(r.max_rel_diff, '.2e'):>14}  "
                  f"{status}", flush=True)
    summary = corpus_mod.summarize(results, args.points)
    if args.json:
        print(json.dumps({"rows": [corpus_mod.result_dict(r) for r in results],
                          "summary": summary}, indent=1))
    else:
        print(f"summary: {summary['passed']}/{summary['formulas']} formulas passed, "
              f"{summary['failed']} failed; median compile "
              f"{_fmt(summary['median_compile_ms'], '.1f')} ms (total "
              f"{_fmt(summary['total_compile_ms'], '.0f')} ms); median "
              f"{_fmt(summary['median_mpoints_per_s'], '.1f')} Mpoints/s for value and "
              f"gradient; worst relative difference vs NumPy "
              f"{_fmt(summary['worst_rel_diff'], '.2e')}")
    return 0 if summary["failed"] == 0 else 1
