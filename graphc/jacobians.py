"""Array Jacobians and Hessians, dense and sparse (issue 15, part 3).

**Dense.** :func:`graphc.jacfwd`, :func:`graphc.jacrev`, :func:`graphc.jacobian` and
:func:`graphc.hessian` of a function with array inputs or outputs return arrays of
shape ``out.shape + in.shape`` (JAX's convention). They are evaluated here by
:func:`dense_jacobian` through :class:`Directional`: the Jacobian-vector (forward) or
vector-Jacobian (reverse) graph is built once and wrapped in a ``scan`` over the rows
of a (K, n) seed matrix (:func:`graphc.scan`: the body is traced once and the primal
work hoisted out of the loop), so ONE compiled kernel and ONE call give all K
directions (K = ``in.size`` forward, ``out.size`` reverse). No per-primitive batching
rule is needed: the loop, not a new axis, carries the batch. Where a target cannot
compile the loop, the one-product kernel is called K times instead.

**Sparse.** :func:`sparse_jacobian` and :func:`sparse_hessian` return
``scipy.sparse.csr_matrix`` values, computed by compressed evaluation (Curtis, Powell &
Reid, "On the estimation of sparse Jacobian matrices", IMA J. Appl. Math. 1974;
Gebremedhin, Manne & Pothen, "What color is your Jacobian? Graph coloring for
computing derivatives", SIAM Review 47(4), 2005):

1. the sparsity pattern comes from a structural dependence analysis of the graph
   (:func:`jacobian_sparsity`): for every node, which entries of the inputs each of its
   entries depends on, propagated through elementwise ops (with broadcasting), index
   maps (slices, reshapes, transposes, broadcasts, concatenation, scatter), reductions,
   softmax-like ops and matmul. Ops it cannot analyse (convolutions, pooling,
   cross-entropy, loops, custom nodes) are treated conservatively: every entry of
   their output depends on every entry any argument depends on (the op is listed in
   the result's ``conservative``). A Hessian's pattern is the Jacobian pattern of the
   gradient graph, symmetrised. Patterns are structural: a derivative that is zero by
   cancellation (``x - x``) still counts;
2. columns are coloured: for a Jacobian, a greedy colouring (networkx, largest first)
   of the column intersection graph (columns sharing a row get different colours: a
   distance-2 colouring of the bipartite graph, CPR); for a Hessian, a greedy star
   colouring of the adjacency graph (GMP 2005, Algorithm 4.1: a distance-1 colouring
   in which every path on four vertices uses at least three colours);
3. one Jacobian-vector (Hessian-vector) product per colour, seeded with the sum of
   that colour's unit vectors (all in one batched kernel call), and the entries
   recovered directly (for a Hessian, an
   entry (i, j) is read from row i if j's colour is unique among row i's columns, else
   from row j, which the star colouring guarantees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .api import compile as _compile
from .ir import Graph, GraphcError, Node, bind_by_name
from .ir.graph import postorder
from .ir.primitive import PRIMITIVES
from .passes import grad as _grad
from .passes import jvp as _jvp
from .passes import vjp as _vjp


def _sparse():
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is in the test extras
        raise GraphcError("sparse Jacobians need SciPy: pip install 'graphc[scipy]'") \
            from None
    return sp


def _concrete(shape: tuple, what: str) -> tuple:
    if not all(isinstance(d, int) for d in shape):
        raise GraphcError(f"{what} has symbolic shape {shape}; Jacobians need concrete "
                          f"shapes (declare them with gc.function(shapes=...))")
    return tuple(shape)


def _size(shape: tuple) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


# ---------------------------------------------------------------------------------
# structural sparsity

_INDEX_OPS = frozenset({"transpose", "reshape", "broadcast_to", "getitem", "unslice",
                        "concatenate"})
_REDUCE_OPS = frozenset({"sum", "mean", "prod", "reduce_max", "reduce_min", "logsumexp"})
_SLICE_OPS = frozenset({"softmax", "log_softmax"})
_ALL_OPS = frozenset({"mse"})  # a scalar of every entry of both arguments
_VALUE_OPS = frozenset({"transpose", "reshape", "broadcast_to", "getitem", "unslice",
                        "concatenate", "neg", "mul", "add", "sub"})
_MAX_VALUE = 10 ** 7  # constant sub-graphs up to this size are evaluated for their zeros


def _params(n: Node) -> dict:
    return {k: v for k, v in n.params if not k.startswith("_")}


def _rows(sp, idx: np.ndarray, ncols: int):
    """The 0/1 matrix (len(idx) × ncols) with a one at (r, idx[r]) where idx[r] >= 0."""
    idx = np.asarray(idx, dtype=np.int64).ravel()
    keep = idx >= 0
    r = np.nonzero(keep)[0]
    return sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, idx[keep])),
                         shape=(len(idx), ncols))


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim for a in items)) if ndim else ()


def _group_ids(shape: tuple, axes: tuple) -> np.ndarray:
    """For each entry of an array of ``shape``, the flat index of its group: the
    entries that share every index outside ``axes``."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    ids = np.arange(_size(kept)).reshape(kept)
    return np.broadcast_to(ids, shape).ravel()


def _matmul_maps(a: Node, b: Node, out: Node) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, a entries, b entries): output entry ``rows[k]`` depends on a entry
    ``ai[k]`` and b entry ``bi[k]`` (NumPy's matmul: 1-D operands promoted, batch
    dimensions broadcast)."""
    A = np.arange(_size(a.shape)).reshape(a.shape)
    B = np.arange(_size(b.shape)).reshape(b.shape)
    if A.ndim == 1:
        A = A[None, :]
    if B.ndim == 1:
        B = B[:, None]
    m, kk = A.shape[-2:]
    p = B.shape[-1]
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    full = batch + (m, p, kk)
    Ai = np.broadcast_to(A[..., :, None, :], full)
    Bi = np.broadcast_to(np.swapaxes(B, -1, -2)[..., None, :, :], full)
    R = np.broadcast_to(np.arange(_size(batch + (m, p))).reshape(batch + (m, p))[..., None],
                        full)
    return R.ravel(), Ai.ravel(), Bi.ravel()


def jacobian_sparsity(graph: Graph, wrt: Sequence[str] | str | None = None,
                      outputs: Sequence[int] | None = None):
    """The structural sparsity pattern of the Jacobian of ``graph``'s outputs with
    respect to the ``wrt`` inputs.

    Rows are the outputs' entries, flattened in C order and concatenated in output
    order; columns the ``wrt`` inputs' entries, likewise. Entry (i, j) is set when
    output entry i structurally depends on input entry j (see the module docstring for
    the rules and what is conservative).

    Args:
        graph: any graph whose shapes are concrete ints.
        wrt: input name(s) (default: every input).
        outputs: indices of the outputs to include (default: all).

    Returns:
        ``(pattern, conservative)``: a ``scipy.sparse.csr_matrix`` of int8 ones of shape
        (total output size, total ``wrt`` size), and the sorted names of the ops that
        were analysed conservatively (empty when the pattern is exact up to
        cancellation).

    Raises:
        GraphcError: an unknown ``wrt`` name; a symbolic shape; SciPy missing.
    """
    sp = _sparse()
    sources = _sources(graph, wrt)
    offsets, N = {}, 0
    for x in sources:
        offsets[id(x)] = N
        N += _size(_concrete(x.shape, f"input {x.name!r}"))
    outs = list(graph.outputs) if outputs is None else [graph.outputs[i] for i in outputs]
    dep: dict[int, Any] = {}
    conservative: set[str] = set()

    def empty(n: Node):
        return sp.csr_matrix((_size(n.shape), N), dtype=np.int8)

    value: dict[int, np.ndarray] = {}  # values of constant sub-graphs (zeros matter)

    def known(a: Node):
        return value.get(id(a))

    for n in postorder(outs):
        size = _size(_concrete(n.shape, f"node {n.prim.name}"))
        name = n.prim.name
        prim = PRIMITIVES.get(name)
        if not n.args:
            if id(n) in offsets:
                o = offsets[id(n)]
                dep[id(n)] = _rows(sp, np.arange(o, o + size), N)
            else:
                dep[id(n)] = empty(n)
                if name == "const" and size <= _MAX_VALUE:
                    value[id(n)] = np.full(n.shape, dict(n.params).get("value", np.nan))
            continue
        ds = [dep[id(a)] for a in n.args]
        if all(d.nnz == 0 for d in ds):
            dep[id(n)] = empty(n)
            if (prim is n.prim and size <= _MAX_VALUE and name in _VALUE_OPS
                    and all(id(a) in value for a in n.args)):
                try:
                    with np.errstate(all="ignore"):
                        value[id(n)] = np.asarray(prim.impl(*(value[id(a)] for a in n.args),
                                                            **_params(n)), dtype=np.float64)
                except Exception:  # noqa: BLE001 - a value is only a refinement
                    pass
            continue
        if prim is not None and prim is n.prim and prim.elementwise:
            if not prim.differentiable:
                dep[id(n)] = empty(n)
                continue
            total = empty(n)
            for k, (a, d) in enumerate(zip(n.args, ds)):
                if d.nnz:
                    idx = np.broadcast_to(np.arange(_size(a.shape)).reshape(a.shape),
                                          n.shape).ravel()
                    other = known(n.args[1 - k]) if name == "mul" else None
                    if other is not None:  # a product with a constant zero entry
                        idx = np.where(np.broadcast_to(other, n.shape).ravel() != 0, idx,
                                       -1)
                        total = total + _rows(sp, idx, d.shape[0]) @ d
                    else:
                        total = total + d[idx]
            dep[id(n)] = total
        elif prim is n.prim and name in _INDEX_OPS:
            enc, off = [], 1
            for a in n.args:
                enc.append(np.arange(off, off + _size(a.shape), dtype=np.float64)
                           .reshape(a.shape))
                off += _size(a.shape)
            code = np.asarray(prim.impl(*enc, **_params(n))).ravel().astype(np.int64) - 1
            stacked = sp.vstack(ds).tocsr() if len(ds) > 1 else ds[0]
            dep[id(n)] = _rows(sp, code, stacked.shape[0]) @ stacked
        elif prim is n.prim and name in _REDUCE_OPS:
            a = n.args[0]
            g = _group_ids(a.shape, _axes(_params(n).get("axis"), len(a.shape)))
            M = sp.csr_matrix((np.ones(len(g), dtype=np.int8),
                               (g, np.arange(len(g)))), shape=(size, len(g)))
            dep[id(n)] = M @ ds[0]
        elif prim is n.prim and name in _SLICE_OPS:
            a = n.args[0]
            g = _group_ids(a.shape, _axes(_params(n).get("axis"), len(a.shape)))
            G = sp.csr_matrix((np.ones(len(g), dtype=np.int8), (g, np.arange(len(g)))),
                              shape=(int(g.max()) + 1, len(g)))
            dep[id(n)] = G.T @ (G @ ds[0])
        elif prim is n.prim and name == "matmul":
            R, ai, bi = _matmul_maps(n.args[0], n.args[1], n)
            va, vb = known(n.args[0]), known(n.args[1])
            if va is not None or vb is not None:  # drop products with a constant zero
                keep = np.ones(len(R), dtype=bool)
                if va is not None:
                    keep &= va.ravel()[ai] != 0
                if vb is not None:
                    keep &= vb.ravel()[bi] != 0
                R, ai, bi = R[keep], ai[keep], bi[keep]
            ma = sp.csr_matrix((np.ones(len(R), dtype=np.int8), (R, ai)),
                               shape=(size, _size(n.args[0].shape)))
            mb = sp.csr_matrix((np.ones(len(R), dtype=np.int8), (R, bi)),
                               shape=(size, _size(n.args[1].shape)))
            dep[id(n)] = ma @ ds[0] + mb @ ds[1]
        else:
            if name not in _ALL_OPS:
                conservative.add(name)
            union = sum((d.sum(axis=0) for d in ds), np.zeros((1, N)))
            cols = np.nonzero(np.asarray(union).ravel())[0]
            dep[id(n)] = sp.csr_matrix(
                (np.ones(size * len(cols), dtype=np.int8),
                 (np.repeat(np.arange(size), len(cols)), np.tile(cols, size))),
                shape=(size, N))
        d = dep[id(n)]
        d.data[:] = 1  # counts from sums of products: keep a 0/1 pattern
        d.eliminate_zeros()
    pattern = sp.vstack([dep[id(o)] for o in outs]).tocsr() if outs else \
        sp.csr_matrix((0, N), dtype=np.int8)
    pattern.data[:] = 1
    pattern.sum_duplicates()
    pattern.data[:] = 1
    return pattern.astype(np.int8), sorted(conservative)


def _sources(graph: Graph, wrt) -> list[Node]:
    if wrt is None:
        return list(graph.inputs)
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    by = {x.name: x for x in graph.inputs}
    unknown = [n for n in names if n not in by]
    if unknown:
        raise GraphcError(f"unknown input(s) {', '.join(map(repr, unknown))}; the graph's "
                          f"inputs are {', '.join(graph.input_names)}")
    return [by[n] for n in names]


# ---------------------------------------------------------------------------------
# colouring

def column_coloring(pattern) -> np.ndarray:
    """A Curtis–Powell–Reid colouring of the columns of a sparsity pattern: columns
    that share a row get different colours (greedy, largest degree first, by
    ``networkx.greedy_color`` on the column intersection graph).

    Args:
        pattern: a scipy.sparse matrix (m × n), nonzeros where the Jacobian may be
            nonzero.

    Returns:
        An int array of n colours ``0 .. p-1``; columns with no nonzero get colour 0.
    """
    import networkx as nx
    P = _sparse().csr_matrix(pattern, dtype=np.int8)
    n = P.shape[1]
    C = (P.T @ P).tocoo()
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from((int(i), int(j)) for i, j in zip(C.row, C.col) if i < j)
    col = nx.greedy_color(G, strategy="largest_first")
    return np.array([col[j] for j in range(n)], dtype=np.int64)


def star_coloring(pattern) -> np.ndarray:
    """A star colouring of the adjacency graph of a symmetric sparsity pattern
    (Gebremedhin, Manne & Pothen, SIAM Review 2005, Algorithm 4.1, greedy in natural
    order): adjacent vertices get different colours and every path on four vertices
    uses at least three colours, so every Hessian entry can be read directly from the
    compressed product (see :func:`sparse_hessian`).

    Args:
        pattern: a square scipy.sparse matrix; it is symmetrised and its diagonal
            ignored.

    Returns:
        An int array of colours ``0 .. p-1``, one per row/column.
    """
    sp = _sparse()
    P = sp.csr_matrix(pattern, dtype=np.int8)
    P = (P + P.T).tocsr()
    n = P.shape[0]
    adj = [[int(j) for j in P.indices[P.indptr[i]:P.indptr[i + 1]] if j != i]
           for i in range(n)]
    color = np.full(n, -1, dtype=np.int64)
    forbidden = np.full(n + 1, -1, dtype=np.int64)
    for v in range(n):
        for w in adj[v]:
            if color[w] >= 0:
                forbidden[color[w]] = v
        for w in adj[v]:
            if color[w] < 0:
                for x in adj[w]:
                    if color[x] >= 0:
                        forbidden[color[x]] = v
            else:
                for x in adj[w]:
                    if x == v or color[x] < 0:
                        continue
                    for y in adj[x]:
                        if y != w and color[y] == color[w]:
                            forbidden[color[x]] = v
                            break
        c = 0
        while forbidden[c] == v:
            c += 1
        color[v] = c
    return color


def _seeds(colors: np.ndarray) -> np.ndarray:
    """The n × p seed matrix: column c is the sum of the unit vectors of colour c."""
    p = int(colors.max()) + 1 if len(colors) else 0
    S = np.zeros((len(colors), p))
    S[np.arange(len(colors)), colors] = 1.0
    return S


# ---------------------------------------------------------------------------------
# directional derivatives: one compiled kernel, all directions in one call


def _bind(graph: Graph, args: Sequence[Any], kwargs: dict, what: str) -> list:
    bound = dict(zip(graph.input_names,
                     bind_by_name(graph.input_names, args, kwargs, what)))
    values = []
    for x in graph.inputs:
        v = np.asarray(bound[x.name], dtype=np.dtype(x.dtype))
        if v.shape != tuple(x.shape):
            try:
                v = np.broadcast_to(v, x.shape)
            except ValueError:
                raise GraphcError(f"{what}: input {x.name!r} has shape {tuple(x.shape)}; "
                                  f"got an array of shape {v.shape}") from None
        values.append(v)
    return values


class Directional:
    """One compiled kernel of directional derivatives of ``graph``: ``mode="fwd"``
    computes ``J @ v`` (a Jacobian-vector product, :func:`graphc.passes.jvp`),
    ``mode="rev"`` computes ``w @ J`` (:func:`graphc.passes.vjp`), with J the Jacobian
    of the outputs (flattened, concatenated) with respect to the ``wrt`` inputs
    (likewise). Built and compiled once; :meth:`__call__` is one product per kernel
    call, :meth:`many` K products in one call of a batched kernel.

    Args:
        graph: a graph with concrete shapes.
        wrt: the input names to differentiate.
        mode: ``"fwd"`` or ``"rev"``.
        target: the compilation target.
    """

    def __init__(self, graph: Graph, wrt: Sequence[str], mode: str, target: str = "llvm"):
        if mode not in ("fwd", "rev"):
            raise GraphcError(f"mode must be 'fwd' or 'rev', got {mode!r}")
        self.graph, self.mode = graph, mode
        self.sources = _sources(graph, list(wrt))
        self.in_shapes = [_concrete(x.shape, f"input {x.name!r}") for x in self.sources]
        self.out_shapes = [_concrete(o.shape, f"output {nm!r}")
                           for nm, o in zip(graph.output_names, graph.outputs)]
        self.n = sum(map(_size, self.in_shapes))
        self.m = sum(map(_size, self.out_shapes))
        k = len(graph.outputs)
        if mode == "fwd":
            g = _jvp(graph, list(wrt))
            keep = list(range(k, 2 * k))
            self._seed_shapes = self.in_shapes
            self._seed_dtypes = [x.dtype for x in self.sources]
        else:
            g = _vjp(graph, list(wrt))
            keep = list(range(k, k + len(self.sources)))
            self._seed_shapes = self.out_shapes
            self._seed_dtypes = [o.dtype for o in graph.outputs]
        flat = Graph(g.inputs, [g.outputs[i] for i in keep],
                     [g.output_names[i] for i in keep], tuple(range(len(keep))), g.labels)
        self.kernel = _compile(flat, target)
        self.target, self._flat, self._batched = target, flat, {}
        self.batched = None  # True/False once many() has tried the one-call kernel

    def _batch_kernel(self, K: int):
        """The kernel of ONE graph computing K products: a ``scan`` over the rows of a
        (K, seed length) input whose body is the product graph with the row split
        into the seed inputs (:func:`graphc.scan`: the body is traced once, the
        primal work it does not need per row is hoisted out of the loop)."""
        k = self._batched.get(K)
        if k is None:
            from .ir import array_ops
            from .frontend.control import scan
            from .ir import ops
            from .ir.custom import substitute
            flat = self._flat
            n_primal = len(self.graph.inputs)
            primals, seeds = flat.inputs[:n_primal], flat.inputs[n_primal:]
            length = sum(map(_size, self._seed_shapes))
            dtype = "float32" if all(d == "float32" for d in self._seed_dtypes) \
                else "float64"
            V = ops.variable("seeds#batch#", dtype, (K, length))

            def body(carry, v):
                mapping, o = {}, 0
                for x, shape in zip(seeds, self._seed_shapes):
                    mapping[id(x)] = array_ops.reshape(v[o:o + _size(shape)], shape)
                    o += _size(shape)
                outs = substitute(flat.outputs, mapping)
                pieces = [array_ops.reshape(array_ops.broadcast_to(y, shape), (-1,)) for y, shape in
                          zip(outs, self.out_shapes if self.mode == "fwd"
                              else self.in_shapes)]
                row = pieces[0]
                for piece in pieces[1:]:
                    row = array_ops.concatenate(row, piece, axis=0)
                return carry, row

            _, ys = scan(body, ops.const(0.0, dtype), V)
            k = self._batched[K] = _compile(Graph(list(primals) + [V], [ys], ["ys"], 0),
                                            self.target)
        return k

    def many(self, values: Sequence[np.ndarray], seeds: np.ndarray) -> np.ndarray:
        """The products for the K rows of ``seeds`` (K × n forward, K × m reverse) as a
        K × m (K × n) float64 array: ONE call of a batched kernel (compiled once per
        K, see :meth:`_batch_kernel`), or K calls of the one-product kernel where the
        target cannot compile the batched graph (:attr:`batched` says which)."""
        seeds = np.asarray(seeds, dtype=np.float64)
        K = seeds.shape[0]
        width = self.m if self.mode == "fwd" else self.n
        if K == 0 or width == 0 or seeds.shape[1] == 0:
            return np.zeros((K, width))
        if self.batched is not False:
            try:
                k = self._batch_kernel(K)
                r = np.asarray(k(*values, seeds), dtype=np.float64).reshape(K, width)
                self.batched = True
                return r
            except (GraphcError, NotImplementedError):
                self.batched = False
        return np.stack([self(values, s) for s in seeds])

    def __call__(self, values: Sequence[np.ndarray], seed: np.ndarray) -> np.ndarray:
        """The product for a flat seed (length n forward, m reverse) at the primal
        ``values`` (one array per graph input): a flat float64 array (m forward, n
        reverse)."""
        parts, o = [], 0
        for s, dt in zip(self._seed_shapes, self._seed_dtypes):
            parts.append(np.array(seed[o:o + _size(s)].reshape(s), dtype=np.dtype(dt)))
            o += _size(s)
        r = self.kernel(*values, *parts)
        shapes = self.out_shapes if self.mode == "fwd" else self.in_shapes
        return np.concatenate([np.broadcast_to(np.asarray(v, dtype=np.float64), s).ravel()
                               for v, s in zip(r, shapes)]) if shapes else np.zeros(0)


def _split(J: np.ndarray, out_shapes, in_shapes) -> list[list[np.ndarray]]:
    """Blocks ``J[rows of output i, cols of input j]`` reshaped to out + in shapes."""
    blocks, r = [], 0
    for so in out_shapes:
        row, c = [], 0
        for si in in_shapes:
            row.append(J[r:r + _size(so), c:c + _size(si)].reshape(tuple(so) + tuple(si)))
            c += _size(si)
        blocks.append(row)
        r += _size(so)
    return blocks


def _values(graph, args, kwargs, what):
    return _bind(graph, args, kwargs, what)


def dense_jacobian(graph: Graph, wrt: Sequence[str], mode: str, args: Sequence[Any],
                   kwargs: dict | None = None, target: str = "llvm",
                   what: str = "jacobian", directional: Directional | None = None):
    """The dense Jacobian of ``graph``'s outputs with respect to ``wrt`` at a point.

    Args:
        graph: a graph with concrete shapes; ``wrt``: input names.
        mode: ``"fwd"`` (n Jacobian-vector products, n the total ``wrt`` size) or
            ``"rev"`` (m vector-Jacobian products, m the total output size), all in
            one call of a batched kernel (``directional``, built when not given).
        args, kwargs: the values of every graph input, by position or keyword.
        target: the compilation target.

    Returns:
        ``blocks[i][j]``: the float64 array of shape ``outputs[i].shape +
        wrt[j].shape``.

    Raises:
        GraphcError: missing/unknown inputs, wrong shapes, symbolic shapes.
    """
    d = directional or Directional(graph, wrt, mode, target)
    values = _bind(graph, args, kwargs or {}, what)
    if d.mode == "fwd":
        J = d.many(values, np.eye(d.n)).T
    else:
        J = d.many(values, np.eye(d.m))
    return _split(J.reshape(d.m, d.n), d.out_shapes, d.in_shapes)


def gradient_graph(graph: Graph, wrt: Sequence[str], what: str = "hessian") -> Graph:
    """The gradient graph of a scalar single-output ``graph`` with respect to ``wrt``
    (one output per ``wrt`` input, its shape), whose Jacobian is the Hessian.

    Raises:
        GraphcError: several outputs or a non-scalar output.
    """
    if len(graph.outputs) != 1 or graph.outputs[0].shape != ():
        shapes = ", ".join(f"{nm}: {o.shape}" for nm, o in
                           zip(graph.output_names, graph.outputs))
        raise GraphcError(f"{what} needs a function with one scalar output; this one "
                          f"returns ({shapes})")
    return _grad(graph, list(wrt))


# ---------------------------------------------------------------------------------
# sparse Jacobians and Hessians


@dataclass
class SparseDerivative:
    """A compiled sparse Jacobian or Hessian: call it with the function's inputs (by
    position or keyword) to get a ``scipy.sparse.csr_matrix``.

    Rows are the entries of the outputs (flattened in C order, concatenated in output
    order; for a Hessian the ``wrt`` entries), columns the entries of the ``wrt``
    inputs (likewise).

    Attributes:
        kind: ``"jacobian"`` or ``"hessian"``.
        graph: the graph differentiated (for a Hessian, its gradient graph).
        wrt: the input names differentiated.
        pattern: the structural sparsity pattern (csr, int8 ones).
        colors: the colour of each column; ``ncolors`` products are computed per call.
        conservative: ops the sparsity analysis treated conservatively.
    """

    kind: str
    graph: Graph
    source: Graph
    wrt: list
    pattern: Any
    colors: np.ndarray
    conservative: list
    directional: Directional = field(repr=False)

    @property
    def ncolors(self) -> int:
        """The number of colours: Jacobian/Hessian-vector products per evaluation."""
        return int(self.colors.max()) + 1 if len(self.colors) else 0

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the result."""
        return tuple(self.pattern.shape)

    def compressed(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """The compressed matrix ``J @ S`` (rows × ncolors), S the seed matrix."""
        values = _bind(self.source, args, kwargs, f"sparse_{self.kind}")
        return self.directional.many(values, _seeds(self.colors).T).T

    def __call__(self, *args: Any, **kwargs: Any):
        """The Jacobian or Hessian at the given inputs, as a ``scipy.sparse.csr_matrix``
        (float64) with the structure of :attr:`pattern`.

        Raises:
            GraphcError: missing, unknown or mis-shaped inputs.
        """
        sp = _sparse()
        B = self.compressed(*args, **kwargs)
        P = self.pattern.tocoo()
        r, c = P.row, P.col
        if self.kind == "jacobian":
            vals = B[r, self.colors[c]]
        else:
            vals = _star_recover(self.pattern, self.colors, B, r, c)
        return sp.csr_matrix((vals, (r, c)), shape=self.shape)


def _star_recover(pattern, colors, B, r, c) -> np.ndarray:
    """Direct recovery of Hessian entries (r, c) from B = H @ S under a star colouring:
    H[i, j] = B[i, colour(j)] if j is the only column of its colour in row i, else
    B[j, colour(i)] (symmetry)."""
    P = pattern.tocsr()
    p = int(colors.max()) + 1 if len(colors) else 0
    counts = _sparse().csr_matrix(
        (np.ones(P.nnz), (np.repeat(np.arange(P.shape[0]), np.diff(P.indptr)),
                          colors[P.indices])), shape=(P.shape[0], max(p, 1))).toarray()
    unique = counts[r, colors[c]] == 1
    vals = np.where(unique, B[r, colors[c]], B[c, colors[r]])
    bad = ~unique & (counts[c, colors[r]] != 1)
    if bad.any():  # pragma: no cover - excluded by the star colouring
        raise GraphcError("sparse_hessian: the colouring is not a star colouring of the "
                          "pattern; entries cannot be recovered")
    return vals


def sparse_jacobian_of(graph: Graph, wrt: Sequence[str], target: str = "llvm"
                       ) -> "SparseDerivative":
    """The sparse Jacobian of ``graph`` with respect to the inputs ``wrt`` (names) by
    sparsity detection, CPR colouring and compressed forward mode (see the module
    docstring); :func:`graphc.sparse_jacobian` resolves a function to these arguments.

    Args:
        graph: any graph with concrete shapes.
        wrt: input names.
        target: compilation target of the Jacobian-vector kernel (``"llvm"``,
            ``"numpy"``, ``"cuda"``).

    Returns:
        A :class:`SparseDerivative` (a ``scipy.sparse.csr_matrix`` of shape (total
        output size, total ``wrt`` size) when called with the graph's inputs).

    Raises:
        GraphcError: unknown inputs, symbolic shapes, SciPy missing.
    """
    pattern, cons = jacobian_sparsity(graph, wrt)
    colors = column_coloring(pattern)
    d = Directional(graph, wrt, "fwd", target)
    return SparseDerivative("jacobian", graph, graph, wrt, pattern, colors, cons, d)


def sparse_hessian_of(graph: Graph, wrt: Sequence[str], target: str = "llvm"
                      ) -> "SparseDerivative":
    """The sparse Hessian of a scalar ``graph`` with respect to the inputs ``wrt`` by
    sparsity detection on its gradient graph, star colouring (Gebremedhin, Manne and
    Pothen 2005, Alg. 4.1) and compressed Hessian-vector products (forward over
    reverse); :func:`graphc.sparse_hessian` resolves a function to these arguments.

    Args:
        graph: a graph with one scalar output; ``wrt``, ``target``: as
            :func:`sparse_jacobian_of`.

    Returns:
        A :class:`SparseDerivative` giving a symmetric ``scipy.sparse.csr_matrix`` of
        shape (n, n), n the total ``wrt`` size.

    Raises:
        GraphcError: a non-scalar or multi-output graph; as :func:`sparse_jacobian_of`.
    """
    g = gradient_graph(graph, wrt, "sparse_hessian")
    pattern, cons = jacobian_sparsity(g, wrt)
    pattern = ((pattern + pattern.T) > 0).astype(np.int8).tocsr()
    colors = star_coloring(pattern)
    d = Directional(g, wrt, "fwd", target)
    return SparseDerivative("hessian", g, graph, wrt, pattern, colors, cons, d)


__all__ = ["Directional", "SparseDerivative", "column_coloring", "dense_jacobian",
           "jacobian_sparsity", "sparse_hessian_of", "sparse_jacobian_of",
           "star_coloring"]
