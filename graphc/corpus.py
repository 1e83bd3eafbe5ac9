"""The main job: parse, differentiate, compile and check every formula of a corpus.

For each row of a corpus CSV (the Feynman equations, or the optimization test
functions; columns ``id``, ``formula``, ``variables``, ``low``, ``high``) graphc parses the
formula, builds value and gradient by reverse mode, compiles them with the LLVM backend,
evaluates them on N points drawn uniformly inside the row's box (fixed seed), and checks
the compiled results against the NumPy interpreter. A row that cannot be handled is
reported with its reason; the run goes on.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .api import compile as compile_graph
from .api import optimize, parse, value_and_grad
from .backends.numpy_interp import evaluate
from .frontend.parser import parse_number
from .ir import GraphcError

DEFAULT_CORPUS = "feynman.csv"
TOLERANCE = 1e-9
"""Scale-aware relative difference between LLVM and NumPy results accepted outright.
The two differ by a few ulp per libm/libmvec call or integer power, amplified where a
formula cancels (1 - cos(kd) near kd = 0 in III.15.12; (omega - omega_0) in III.9.52);
a larger difference passes only if it is within what the formula's conditioning makes
of a few ulp (see :func:`conditioned_excess`)."""


@dataclass
class Formula:
    """One corpus row: an id, the formula text, its variables and their box."""

    id: str
    formula: str
    variables: list[str]
    low: list[float]
    high: list[float]
    note: str = ""


@dataclass
class RowResult:
    """What the main job measured for one formula."""

    id: str
    ok: bool
    reason: str = ""
    ops: int = 0
    grad_ops: int = 0
    compile_ms: float = math.nan
    mpoints_per_s: float = math.nan
    max_rel_diff: float = math.nan
    extra: dict = field(default_factory=dict)


def packaged_corpus(name: str = DEFAULT_CORPUS) -> Path:
    """Path of a corpus shipped inside the package (``feynman.csv``,
    ``optim_functions.csv``)."""
    return Path(str(resources.files("graphc") / "data" / name))


CORPUS_COLUMNS = ("id", "formula", "variables", "low", "high")
"""The columns a corpus CSV must have (others, such as ``note``, are optional)."""


def _bounds(cell: str, what: str) -> list[float]:
    """``"1;2.5;-3"`` to ``[1.0, 2.5, -3.0]`` (ASCII numbers, see
    :func:`graphc.frontend.parser.parse_number`); ``""`` to ``[]``."""
    return [parse_number(v, what) for v in cell.split(";")] if cell.strip() else []


def read_corpus(path: str | Path) -> list[Formula]:
    """Read a corpus CSV: UTF-8 (a BOM is allowed), a header row naming at least the
    columns of :data:`CORPUS_COLUMNS`, then one row per formula (``variables``, ``low``
    and ``high`` separated by ``;``). Rows whose cells are all empty are skipped.

    Raises:
        GraphcError: the file is missing or unreadable, not UTF-8 (naming the line and
            the byte), empty, lacks needed columns or has no formulas; a row has fewer
            or more cells than the header, an empty ``id`` or ``formula``, or a bound
            that is not a number (naming the line and the row's id).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GraphcError(f"cannot read corpus {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise GraphcError(f"corpus {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} "
                          f"on line {line} ({exc.reason}); save it as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames
        if not header:
            raise GraphcError(f"corpus {path} is empty; a corpus is a CSV file with a "
                              f"header row naming {', '.join(CORPUS_COLUMNS)} and one row "
                              f"per formula")
        missing = [c for c in CORPUS_COLUMNS if c not in header]
        if missing:
            raise GraphcError(f"{path} lacks column(s) {', '.join(missing)}; a corpus "
                              f"needs {', '.join(CORPUS_COLUMNS)}")
        out = []
        for r in reader:
            where = f"corpus {path}, line {reader.line_num}"
            cells = [v for k, v in r.items() if k is not None]
            if None in r:  # more cells than the header names
                n = len(header) + len(r[None])
                raise GraphcError(f"{where}: {n} cells where the header has {len(header)} "
                                  f"(quote a formula that contains ',')")
            if all(v is None or not v.strip() for v in cells):
                continue
            absent = [k for k, v in r.items() if v is None]
            if absent:
                raise GraphcError(f"{where}: {len(header) - len(absent)} cells where the "
                                  f"header has {len(header)}; missing {', '.join(absent)}")
            ident = r["id"].strip()
            if not ident:
                raise GraphcError(f"{where}: the id cell is empty")
            where += f" (id {ident!r})"
            if not r["formula"].strip():
                raise GraphcError(f"{where}: the formula cell is empty")
            low = _bounds(r["low"], f"{where}: low")
            high = _bounds(r["high"], f"{where}: high")
            out.append(Formula(ident, r["formula"], [v.strip() for v in r["variables"].split(";") if v.strip()],
                               low, high, r.get("note", "") or ""))
    except csv.Error as exc:
        raise GraphcError(f"corpus {path}, line {reader.line_num}: not valid CSV "
                          f"({exc})") from None
    if not out:
        raise GraphcError(f"corpus {path} has a header but no formulas")
    return out


def scale_aware_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, 1e-8 · max|b|): a relative difference that does not blow up
    where the reference passes through zero. NaN where the NaN/inf patterns differ."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    fin = np.isfinite(b)
    if not np.array_equal(fin, np.isfinite(a)):
        return math.nan
    nonfin_equal = np.all((a[~fin] == b[~fin]) | (np.isnan(a[~fin]) & np.isnan(b[~fin])))
    if not nonfin_equal:
        return math.nan
    if not fin.any():
        return 0.0
    a, b = a[fin], b[fin]
    scale = max(float(np.max(np.abs(b))), 1e-300)
    denom = np.maximum(np.abs(b), 1e-8 * scale)
    return float(np.max(np.abs(a - b) / denom))


ULP4 = 4 * float(np.finfo(np.float64).eps)
"""How far the inputs move in :func:`perturbed` evaluations (4 ulp)."""


def perturbed(graph, sign: float):
    """``graph`` with the result of every op that is not correctly rounded scaled by
    (1 ± its :attr:`~graphc.ir.primitive.Primitive.ulp` ulp), the sign alternating from
    call to call: a reference a compiled kernel may legitimately match (libm and
    libmvec functions are within 4 ulp by glibc's documentation, the composites
    ``sigmoid`` and ``softplus`` within 6). Which ops move, and by how much, comes from
    their records, so a newly registered op is covered."""
    from .ir import ops
    from .passes.rewrite import rebuild, same_node
    eps = float(np.finfo(np.float64).eps)

    def rule(node, args):
        new = same_node(node, args)
        ulp = node.prim.ulp or 0.0
        if not ulp or not node.prim.elementwise:
            return new
        # independent errors: the direction alternates between calls (by structural
        # key), so that terms which cancel are not all moved alike
        step = sign * ulp * eps
        return ops.mul(new, ops.const(1.0 + step if node.key & 1 else 1.0 - step))
    return rebuild(graph, rule)


def conditioned_excess(a: np.ndarray, b: np.ndarray, spread: np.ndarray) -> float:
    """max |a - b| / (TOLERANCE·max(|b|, 1e-8·max|b|) + 16·spread) over finite entries:
    at most 1 when the compiled result is within the tolerance or within what the
    formula's conditioning makes of a few ulp (``spread``: how far the reference moves
    when every op moves by its record's ``ulp`` and every input by 4 ulp, see
    :func:`perturbed`)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    fin = np.isfinite(b) & np.isfinite(a)
    if not fin.any():
        return 0.0
    a, b, sp = a[fin], b[fin], np.nan_to_num(np.asarray(spread)[fin], nan=0.0)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    allowed = TOLERANCE * np.maximum(np.abs(b), 1e-8 * scale) + 16 * sp
    return float(np.max(np.abs(a - b) / np.maximum(allowed, 1e-300)))


def check_formula(row: Formula, n: int = 100_000, seed: int = 0) -> RowResult:
    """Run the main job on one formula (see module docstring)."""
    res = RowResult(row.id, ok=False)
    if len(row.low) != len(row.variables) or len(row.high) != len(row.variables):
        res.reason = "bounds do not match the variables"
        return res
    try:
        f = parse(row.formula, inputs=row.variables)
        vg = value_and_grad(f)
        res.ops = len(optimize(f))
        vg_opt = optimize(vg)
        res.grad_ops = len(vg_opt)
        rng = np.random.default_rng(seed)
        points = {v: rng.uniform(lo, hi, n) for v, lo, hi in
                  zip(row.variables, row.low, row.high)}
        t0 = time.perf_counter()
        kernel = compile_graph(vg_opt, optimize_graph=False)
        kernel(**{v: p[:2] for v, p in points.items()})  # machine code is made on first call
        res.compile_ms = (time.perf_counter() - t0) * 1e3
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            got = kernel(**points)
            best = min(best, time.perf_counter() - t0)
        res.mpoints_per_s = n / best / 1e6
        want = evaluate(vg, **points)
        flat_got = [got[0], *got[1]]
        flat_want = [want[0], *want[1]]
        diffs = [scale_aware_rel_diff(g, w) for g, w in zip(flat_got, flat_want)]
        res.max_rel_diff = math.nan if any(math.isnan(d) for d in diffs) else max(diffs)
        # the formula's own conditioning: how far the reference moves when every libm
        # call (and every input) is off by its ulp bound, which is what libmvec may be
        moved = [evaluate(perturbed(vg, sign), **{v: p * (1 + sign * ULP4)
                                                 for v, p in points.items()})
                 for sign in (1.0, -1.0)]
        spreads = [np.fmax(np.abs(m1 - w), np.abs(m2 - w)) for m1, m2, w in zip(
            [moved[0][0], *moved[0][1]], [moved[1][0], *moved[1][1]], flat_want)]
        excess = max(conditioned_excess(g, w, sp)
                     for g, w, sp in zip(flat_got, flat_want, spreads))
        res.extra["conditioned_excess"] = excess
        if math.isnan(res.max_rel_diff):
            res.reason = "NaN/inf pattern differs from the NumPy interpreter"
        elif res.max_rel_diff > TOLERANCE and excess > 1.0:
            res.reason = (f"max relative difference {res.max_rel_diff:.3g} > {TOLERANCE:g} "
                          f"and {excess:.3g}x beyond the formula's conditioning")
        else:
            res.ok = True
    except GraphcError as exc:
        res.reason = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    except Exception as exc:  # noqa: BLE001 - a row's failure must not stop the run
        res.reason = f"internal error {type(exc).__name__}: {exc}"
    return res


def run_corpus(rows: Iterable[Formula], n: int = 100_000, seed: int = 0,
               progress: bool = True) -> Iterator[RowResult]:
    """Check every row, yielding results as they come (with a tqdm progress bar on
    stderr when ``progress``)."""
    rows = list(rows)
    if progress:
        from tqdm import tqdm
        rows_iter = tqdm(rows, desc="corpus", unit="formula", leave=False)
    else:
        rows_iter = rows
    for row in rows_iter:
        yield check_formula(row, n=n, seed=seed)


def summarize(results: list[RowResult], n: int) -> dict:
    ok = [r for r in results if r.ok]
    compile_ms = [r.compile_ms for r in results if not math.isnan(r.compile_ms)]
    speed = [r.mpoints_per_s for r in results if not math.isnan(r.mpoints_per_s)]
    diffs = [r.max_rel_diff for r in ok]
    return {
        "formulas": len(results),
        "passed": len(ok),
        "failed": len(results) - len(ok),
        "points": n,
        "median_compile_ms": float(np.median(compile_ms)) if compile_ms else None,
        "total_compile_ms": float(np.sum(compile_ms)) if compile_ms else None,
        "median_mpoints_per_s": float(np.median(speed)) if speed else None,
        "worst_rel_diff": float(max(diffs)) if diffs else None,
    }


def result_dict(r: RowResult) -> dict:
    d = asdict(r)
    d.pop("extra")
    for k, v in list(d.items()):
        if isinstance(v, float) and math.isnan(v):
            d[k] = None
    return d
